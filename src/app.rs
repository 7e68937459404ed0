//! What each command does. Human text goes to stderr, the result table to stdout.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use bedsim::montecarlo::{self, RunOptions};
use bedsim::report::{self, Staging, manifest::Manifest, manifest::Stages};
use bedsim::scenario::{self, LoadError, Override, Scenario};

use crate::cli::{ChartArgs, CheckArgs, Cli, Command, Format, RunArgs};

/// Exit code of a run that failed (I/O, interrupted).
pub const EXIT_FAILED: i32 = 1;
/// Exit code of bad usage or invalid input.
pub const EXIT_INVALID: i32 = 2;

/// Set by Ctrl-C (SIGINT), SIGTERM or SIGHUP; the run stops at the next block of draws, writes
/// nothing and leaves earlier results as they were. A second signal exits at once.
pub static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Installs the signal handler (once).
pub fn catch_interrupts() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(EXIT_FAILED);
        }
    });
}

/// The worker pool for `--threads` (all cores by default), with its size.
///
/// # Errors
/// When the threads cannot be started.
pub fn thread_pool(threads: Option<usize>) -> Result<(usize, rayon::ThreadPool), String> {
    let n = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .max(1);
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map(|p| (n, p))
        .map_err(|e| format!("cannot start {n} threads: {e}"))
}

/// What an interrupted run says about the results folder.
fn interrupted_message(out: &Path) -> String {
    if report::is_results_dir(out) {
        format!("interrupted: {} keeps its previous results", out.display())
    } else {
        "interrupted: no results were written".to_string()
    }
}

/// Whether a stop was asked for.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// The scenario used when `run` is given none.
pub const DEFAULT_SCENARIO: &str = "hainan.toml";

pub fn dispatch(cli: Cli) -> i32 {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Check(args) => check(args),
        Command::Scenarios => list_scenarios(),
        Command::Chart(args) => chart(args),
        Command::Sweep(args) => crate::sweep::sweep(args),
        Command::Plan(args) => crate::sweep::plan(args),
        Command::Merge(args) => crate::sweep::merge(args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "bedsim", &mut std::io::stdout());
            0
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            // A closed pipe (bedsim man | head) is not a failure.
            let _ = clap_mangen::Man::new(cmd).render(&mut std::io::stdout());
            0
        }
    }
}

fn chart(args: ChartArgs) -> i32 {
    if !report::is_results_dir(&args.results) {
        eprintln!(
            "error: {} is not a bedsim results folder (no bedsim manifest.json)",
            args.results.display()
        );
        return EXIT_INVALID;
    }
    let clock = Instant::now();
    match report::redraw_charts(&args.results) {
        Ok(n) => {
            eprintln!(
                "{n} charts drawn in {}/charts/ in {:.2} s",
                args.results.display(),
                clock.elapsed().as_secs_f64()
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILED
        }
    }
}

/// The folder of shipped scenarios: `$BEDSIM_SCENARIOS`, else `./scenarios`, else the one in the
/// source tree the program was built from.
fn scenarios_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BEDSIM_SCENARIOS") {
        return PathBuf::from(d);
    }
    let local = PathBuf::from("scenarios");
    if local.join(DEFAULT_SCENARIO).is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Reports an invalid input on stderr and, with `--format json`, as a JSON document on stdout.
/// The command line's changes to a scenario, typed, in the order they apply: each `--set`, then
/// `--draws`, then `--seed` (so the flags win over a `--set` of the same field).
///
/// # Errors
/// A `--set` without `PATH=`.
pub fn overrides(set: &[String], draws: Option<u64>, seed: Option<u64>) -> Result<Vec<Override>, LoadError> {
    let mut out = Override::sets(set).map_err(LoadError)?;
    out.extend(draws.map(|d| Override::integer("--draws", "draws", d)));
    out.extend(seed.map(|s| Override::integer("--seed", "seed", s)));
    Ok(out)
}

/// Checks before any simulation that results can go to `out`: not a file, not a folder of
/// something else unless `force`, and writable (its parents are created and a staging folder
/// is made and removed). Reports the problem; the error is the exit code.
pub fn destination(out: &Path, force: bool, format: Format) -> Result<(), i32> {
    if let Err(e) = report::check_destination(out, force) {
        report_failure(&e.to_string(), format);
        return Err(EXIT_INVALID);
    }
    if let Err(e) = report::probe_destination(out) {
        report_failure(&format!("cannot write results to {}: {e}", out.display()), format);
        return Err(EXIT_FAILED);
    }
    Ok(())
}

/// The texts manifests record for overrides (`PATH=VALUE`).
pub fn override_texts(overrides: &[Override]) -> Vec<String> {
    overrides.iter().map(|o| o.text().to_string()).collect()
}

pub fn report_invalid(e: &LoadError, format: Format) {
    print_load_error(e);
    if format == Format::Json {
        report::json::print(&report::json::failure("invalid input", &e.0));
    }
}

/// Reports a failure that is not an input problem.
pub fn report_failure(message: &str, format: Format) {
    eprintln!("error: {}", scenario::tree::escape_invisible(message));
    if format == Format::Json {
        report::json::print(&report::json::failure(message, &[]));
    }
}

pub fn print_load_error(e: &LoadError) {
    let mut err = std::io::stderr().lock();
    for d in &e.0 {
        let _ = writeln!(err, "{d}");
    }
    let _ = writeln!(err, "error: {} problem(s) found; nothing was run", e.0.len());
}

fn check(args: CheckArgs) -> i32 {
    match overrides(&args.set, None, None).and_then(|o| scenario::load(&args.scenario, &o)) {
        Ok(s) => {
            let f = &s.mortality.fitted;
            eprintln!(
                "{}: ok — {} regions, {} groups, {} plan items, {} targets, {} draws, years {}..={}",
                args.scenario.display(),
                s.regions.len(),
                s.groups.len(),
                s.plan.len(),
                s.targets.len(),
                s.draws,
                s.base_year,
                s.horizon
            );
            eprintln!(
                "mortality: Lee-Carter fitted on {}-{}: drift per year male {:.3} (se {:.3}), female {:.3} (se {:.3}); base-period e0 male {:.1}, female {:.1}",
                f.periods.0, f.periods.1, f.drift[0], f.drift_se[0], f.drift[1], f.drift_se[1], f.base_e0[0], f.base_e0[1]
            );
            eprintln!(
                "mortality uncertainty used: random-walk sigma male {:.4}, female {:.4} (fitted {:.4}, {:.4}){}",
                s.mortality.sigma[0],
                s.mortality.sigma[1],
                f.sigma[0],
                f.sigma[1],
                match f.calibrated {
                    Some(c) => format!(
                        "; calibrated to the e0 intervals: sigma {:.4} / {:.4}, drift_se {:.4} / {:.4}",
                        c[0].0, c[1].0, c[0].1, c[1].1
                    ),
                    None => String::new(),
                }
            );
            let mut warnings = Vec::new();
            for name in s.regions.iter().map(|r| &r.name).chain(s.groups.iter().map(|g| &g.name)) {
                let missing = report::charts::missing_glyphs(name);
                if !missing.is_empty() {
                    let w = format!("the chart font has no glyph for {missing:?} in the name '{name}'; charts will show boxes there");
                    eprintln!("warning: {w}");
                    warnings.push(w);
                }
            }
            if args.format == Format::Json {
                report::json::print(&serde_json::json!({
                    "ok": true,
                    "scenario": args.scenario.display().to_string(),
                    "name": s.name,
                    "regions": s.regions.len(),
                    "groups": s.groups.len(),
                    "plan_items": s.plan.len(),
                    "targets": s.targets.len(),
                    "draws": s.draws,
                    "base_year": s.base_year,
                    "horizon": s.horizon,
                    "warnings": warnings,
                }));
            }
            0
        }
        Err(e) => {
            report_invalid(&e, args.format);
            EXIT_INVALID
        }
    }
}

fn list_scenarios() -> i32 {
    let dir = scenarios_dir();
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            eprintln!("error: cannot list {}: {e}", dir.display());
            return EXIT_FAILED;
        }
    };
    entries.sort();
    let mut out = std::io::stdout().lock();
    for p in entries {
        let desc = std::fs::read_to_string(&p)
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .and_then(|t| t.get("description").and_then(|d| d.as_str()).map(str::to_string))
            .unwrap_or_default();
        let default = if p.file_name().is_some_and(|n| n == DEFAULT_SCENARIO) {
            " (default)"
        } else {
            ""
        };
        if writeln!(out, "{}{default}\t{desc}", p.display()).is_err() {
            return 0; // closed pipe
        }
    }
    0
}

fn run(args: RunArgs) -> i32 {
    let started = SystemTime::now();
    let clock = Instant::now();
    if !(args.confidence > 0.0 && args.confidence < 1.0) {
        report_failure(
            &format!("--confidence must be strictly between 0 and 1, got {}", args.confidence),
            args.format,
        );
        return EXIT_INVALID;
    }
    if args.threads == Some(0) {
        report_failure("--threads must be at least 1", args.format);
        return EXIT_INVALID;
    }
    let path = args.scenario.clone().unwrap_or_else(|| scenarios_dir().join(DEFAULT_SCENARIO));
    let overrides = match overrides(&args.set, args.draws, args.seed) {
        Ok(o) => o,
        Err(e) => {
            report_invalid(&e, args.format);
            return EXIT_INVALID;
        }
    };
    let texts = override_texts(&overrides);
    let mut stages = Stages::default();
    let s = match scenario::load(&path, &overrides) {
        Ok(s) => s,
        Err(e) => {
            report_invalid(&e, args.format);
            return EXIT_INVALID;
        }
    };
    // The slice of --only is checked now and taken after conditioning on the observations,
    // which uses the whole scenario (a region's results are those it has in the whole run).
    if !args.only.is_empty() {
        if args.shard.is_some() {
            report_failure("--only and --shard cannot be combined", args.format);
            return EXIT_INVALID;
        }
        if let Err(problems) = s.restrict(&args.only) {
            for p in &problems {
                eprintln!("{}: {p}", path.display());
            }
            report_failure(&format!("--only: {} unknown id(s); nothing was run", problems.len()), args.format);
            return EXIT_INVALID;
        }
    }
    if args.memory == Some(0) {
        report_failure("--memory must be at least 1 MiB", args.format);
        return EXIT_INVALID;
    }
    stages.check = clock.elapsed().as_secs_f64();
    let condition_options = RunOptions {
        confidence: args.confidence,
        cancelled: Some(&interrupted),
        ..RunOptions::default()
    };
    if let Some(shard) = &args.shard {
        let (kn, out) = match crate::sweep::shard_destination(&s.name, &args, shard) {
            Ok(x) => x,
            Err(code) => return code,
        };
        let s = match condition_on_observations(s, &condition_options, args.quiet, args.format) {
            Ok(s) => s,
            Err(code) => return code,
        };
        return crate::sweep::run_shard(&s, &args, kn, &out, &path, &texts);
    }
    let default_name = if args.only.is_empty() {
        s.name.clone()
    } else {
        format!("{}-only", s.name)
    };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(default_name));
    if let Err(code) = destination(&out, args.force, args.format) {
        return code;
    }
    if args.keep_draws {
        let bytes = (s.regions.len() + s.groups.len()) as f64 * (montecarlo::N_METRICS * s.n_years() * s.draws * 8) as f64;
        if bytes > 4.0 * (1u64 << 30) as f64 && !args.quiet {
            eprintln!(
                "warning: --keep-draws holds every draw of every unit in memory until it is written: about {:.1} GiB here; --only keeps a slice",
                bytes / (1u64 << 30) as f64
            );
        }
    }
    let (threads, pool) = match thread_pool(args.threads) {
        Ok(p) => p,
        Err(e) => {
            report_failure(&e, args.format);
            return EXIT_FAILED;
        }
    };
    let sim_clock = Instant::now();
    let s = match pool.install(|| condition_on_observations(s, &condition_options, args.quiet, args.format)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let s = if args.only.is_empty() {
        s
    } else {
        s.restrict(&args.only).expect("checked above")
    };
    let result = pool.install(|| simulate(&s, &args));
    stages.simulate = sim_clock.elapsed().as_secs_f64();
    let result = match result {
        Ok(r) => r,
        Err(_) => {
            report_failure(&interrupted_message(&out), args.format);
            return EXIT_FAILED;
        }
    };
    stages.engine = result.timing;
    let write_options = WriteOptions {
        confidence: args.confidence,
        no_charts: args.no_charts,
        only: args.only.clone(),
    };
    let written = pool.install(|| write_results(&s, &result, &write_options, &path, &texts, threads, started, &clock, &out, stages));
    let stages = match written {
        Ok(st) => st,
        Err(report::ReportError::Interrupted) => {
            report_failure(&interrupted_message(&out), args.format);
            return EXIT_FAILED;
        }
        Err(e) => {
            report_failure(
                &format!("could not write results: {e}; nothing was changed in {}", out.display()),
                args.format,
            );
            return EXIT_FAILED;
        }
    };

    if args.format == Format::Json {
        report::json::print(&serde_json::json!({
            "ok": true,
            "scenario": s.name,
            "scenario_path": path.display().to_string(),
            "out": out.display().to_string(),
            "draws": s.draws,
            "seed": s.seed,
            "threads": threads,
            "confidence": args.confidence,
            "targets": report::json::targets(&s, &result),
            "backtest": report::json::backtest(&s, &result),
            "effective_draws": s.conditioned.as_ref().map(|c| c.effective_draws),
        }));
    } else if !args.quiet {
        let table = report::target_table_text(&s, &result, args.confidence);
        if std::io::stdout().lock().write_all(table.as_bytes()).is_err() {
            return 0; // closed pipe
        }
        eprintln!(
            "results written to {}/ in {:.2} s ({threads} threads): check {:.2} s, simulate {:.2} s, tables {:.2} s, charts {:.2} s",
            out.display(),
            clock.elapsed().as_secs_f64(),
            stages.check,
            stages.simulate,
            stages.tables,
            stages.charts
        );
        let region_draw_years = (s.regions.len() * s.draws * s.n_years()) as f64;
        let peak = report::manifest::peak_memory_bytes()
            .map(|b| format!("; peak memory {:.0} MiB", b as f64 / (1u64 << 20) as f64))
            .unwrap_or_default();
        eprintln!(
            "{:.3e} region-draw-years simulated at {:.2} million per second{peak}",
            region_draw_years,
            region_draw_years / stages.simulate / 1e6
        );
    }
    0
}

/// Conditions the scenario on its observations, if it has any, and says how many effective
/// draws are left (a warning names the least consistent observation when they are few).
///
/// # Errors
/// The exit code, after reporting why.
pub fn condition_on_observations(s: Scenario, options: &RunOptions<'_>, quiet: bool, format: Format) -> Result<Scenario, i32> {
    if s.observations.is_empty() {
        return Ok(s);
    }
    let s = match montecarlo::observe::conditioned(s, options) {
        Ok(s) => s,
        Err(montecarlo::observe::ConditionError::Cancelled(_)) => {
            report_failure("interrupted while conditioning on the observations; nothing was written", format);
            return Err(EXIT_FAILED);
        }
        Err(e) => {
            report_failure(&e.to_string(), format);
            return Err(EXIT_INVALID);
        }
    };
    if let Some(c) = &s.conditioned {
        if !quiet {
            eprintln!(
                "conditioned on {} observation(s): an effective sample of {:.0} of {} draws ({} distinct)",
                c.fits.len(),
                c.effective_draws,
                s.draws,
                c.distinct_draws
            );
        }
        if c.is_doubtful()
            && let Some(w) = c.least_consistent()
        {
            eprintln!(
                "warning: the observations leave {:.0} effective draws and '{}' ({}) is the least consistent with the scenario: its 90% range is {:.6} .. {:.6}, the closest draw {:.1} measurement errors away, and alone it leaves {:.0} effective draws; check the figure and its error, or the scenario",
                c.effective_draws, w.observation, w.value, w.prior[0], w.prior[2], w.closest_in_errors, w.effective_draws_alone
            );
        }
    }
    Ok(s)
}

fn simulate(s: &Scenario, args: &RunArgs) -> Result<montecarlo::RunResult, montecarlo::Cancelled> {
    let total = (s.draws * s.regions.len()) as u64;
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::hidden());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {percent:>3}% region-draws, {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let start = Instant::now();
    let visible = std::sync::atomic::AtomicBool::new(false);
    let progress = |n: u64, total: u64| {
        bar.set_length(total);
        // Only runs longer than a second show a bar.
        if show && start.elapsed().as_secs_f64() > 1.0 && !visible.swap(true, std::sync::atomic::Ordering::Relaxed) {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        bar.set_position(n);
    };
    let options = RunOptions {
        keep_draws: args.keep_draws,
        confidence: args.confidence,
        memory_bytes: args.memory.map_or(montecarlo::DEFAULT_MEMORY_BYTES, |m| m.saturating_mul(1 << 20)),
        progress: Some(&progress),
        cancelled: Some(&interrupted),
        ..RunOptions::default()
    };
    let r = montecarlo::run(s, &options);
    bar.finish_and_clear();
    r
}

/// What `write_results` needs of the command line.
pub struct WriteOptions {
    pub confidence: f64,
    pub no_charts: bool,
    /// The ids of `--only`, recorded in the manifest.
    pub only: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
pub fn write_results(
    s: &Scenario,
    r: &montecarlo::RunResult,
    args: &WriteOptions,
    path: &Path,
    overrides: &[String],
    threads: usize,
    started: SystemTime,
    clock: &Instant,
    out: &Path,
    mut stages: Stages,
) -> Result<Stages, report::ReportError> {
    let staging = Staging::new(out)?;
    let t = Instant::now();
    report::write_tables(s, r, args.confidence, &staging.dir, &interrupted)?;
    stages.tables = t.elapsed().as_secs_f64();
    // The manifest is written before the charts, which are drawn from the saved tables and the
    // manifest exactly as `bedsim chart` redraws them; it is rewritten with the chart time.
    let manifest = |stages: Stages| {
        let mut m = Manifest::new(
            s,
            &path.display().to_string(),
            overrides,
            threads,
            args.confidence,
            started,
            clock.elapsed().as_secs_f64(),
            stages,
        );
        m.only = args.only.clone();
        m
    };
    report::write_text(&staging.dir.join("manifest.json"), &manifest(stages).to_json())?;
    if !args.no_charts {
        let t = Instant::now();
        let data = report::chartdata::load(&staging.dir)?;
        report::charts::draw_all(&data, &staging.dir.join("charts"))?;
        stages.charts = t.elapsed().as_secs_f64();
        report::write_text(&staging.dir.join("manifest.json"), &manifest(stages).to_json())?;
    }
    if interrupted() {
        // Dropping the staging folder removes it: the previous results stay as they were.
        return Err(report::ReportError::Interrupted);
    }
    staging.commit()?;
    Ok(stages)
}
