//! `bedsim run`: one scenario, whole or one shard of its regions.

use super::*;

pub(super) fn run(args: RunArgs) -> Outcome {
    let started = SystemTime::now();
    let clock = Instant::now();
    let path = args.scenario.clone().unwrap_or_else(|| scenarios_dir().join(DEFAULT_SCENARIO));
    let overrides = run_overrides(&args.flags, args.seed)?;
    let texts = override_texts(&overrides);
    let mut stages = Stages::default();
    let s = scenario::load(&path, &overrides)?;
    // The slice of --only is checked now and taken after conditioning on the observations,
    // which uses the whole scenario (a region's results are those it has in the whole run).
    if !args.only.is_empty() {
        if args.shard.is_some() {
            return Err(CmdError::usage("--only and --shard cannot be combined"));
        }
        if let Err(problems) = s.restrict(&args.only) {
            for p in &problems {
                eprintln!("{}: {p}", path.display());
            }
            return Err(CmdError::usage(format!(
                "--only: {} unknown id(s); nothing was run",
                problems.len()
            )));
        }
    }
    stages.check = clock.elapsed().as_secs_f64();
    let condition_options = RunOptions {
        confidence: args.flags.confidence,
        cancelled: Some(&interrupted),
        ..RunOptions::default()
    };
    if let Some(shard) = resolve_shard(args.shard)? {
        let out = shard_destination(s.name(), &args, shard)?;
        let s = condition_on_observations(s, &condition_options, args.flags.quiet)?;
        return run_shard(&s, &args, shard, &out, &path, &texts);
    }
    let default_name = if args.only.is_empty() {
        s.name().to_string()
    } else {
        format!("{}-only", s.name())
    };
    let out = results_folder(args.flags.out.as_deref(), args.flags.force, &default_name)?;
    if args.keep_draws {
        let bytes = (s.regions().len() + s.groups().len()) as f64 * (montecarlo::N_METRICS * s.n_years() * s.draws() * 8) as f64;
        if bytes > 4.0 * (1u64 << 30) as f64 && !args.flags.quiet {
            eprintln!(
                "warning: --keep-draws holds every draw of every unit in memory until it is written: about {:.1} GiB here; --only keeps a slice",
                bytes / (1u64 << 30) as f64
            );
        }
    }
    let (threads, pool) = thread_pool(args.threads)?;
    let sim_clock = Instant::now();
    let s = pool.install(|| condition_on_observations(s, &condition_options, args.flags.quiet))?;
    let s = if args.only.is_empty() {
        s
    } else {
        s.restrict(&args.only).expect("checked above")
    };
    let result = pool.install(|| simulate(&s, &args));
    stages.simulate = sim_clock.elapsed().as_secs_f64();
    let result = result.map_err(|_| CmdError::failed(interrupted_message(&out)))?;
    stages.engine = result.timing;
    let write_options = WriteOptions {
        confidence: args.flags.confidence,
        no_charts: args.no_charts,
        only: args.only.clone(),
    };
    let written = pool.install(|| write_results(&s, &result, &write_options, &path, &texts, threads, started, &clock, &out, stages));
    let stages = match written {
        Ok(st) => st,
        Err(report::ReportError::Interrupted) => return Err(CmdError::failed(interrupted_message(&out))),
        Err(e) => {
            return Err(CmdError::failed(format!(
                "could not write results: {e}; nothing was changed in {}",
                out.display()
            )));
        }
    };

    if args.flags.format == Format::Json {
        report::json::print(&serde_json::json!({
            "ok": true,
            "scenario": s.name(),
            "scenario_path": path.display().to_string(),
            "out": out.display().to_string(),
            "draws": s.draws(),
            "seed": s.seed(),
            "threads": threads,
            "confidence": args.flags.confidence,
            "targets": report::json::targets(&s, &result),
            "backtest": report::json::backtest(&s, &result),
            "effective_draws": s.conditioned().as_ref().map(|c| c.effective_draws),
        }));
    } else if !args.flags.quiet {
        let table = report::target_table_text(&s, &result, args.flags.confidence);
        if std::io::stdout().lock().write_all(table.as_bytes()).is_err() {
            return Ok(()); // closed pipe
        }
        eprintln!(
            "results written to {}/ in {:.2} s ({threads} threads, {} vectors): check {:.2} s, simulate {:.2} s, tables {:.2} s, read back {:.2} s, charts {:.2} s, workbook {:.2} s, html {:.2} s; open {}/report.html or report.xlsx",
            out.display(),
            clock.elapsed().as_secs_f64(),
            montecarlo::vector_build(),
            stages.check,
            stages.simulate,
            stages.tables,
            stages.read_back,
            stages.charts,
            stages.workbook,
            stages.html,
            out.display()
        );
        let region_draw_years = (s.regions().len() * s.draws() * s.n_years()) as f64;
        let peak = report::manifest::peak_memory_bytes()
            .map(|b| format!("; peak memory {:.0} MiB", b as f64 / (1u64 << 20) as f64))
            .unwrap_or_default();
        eprintln!(
            "{:.3e} region-draw-years simulated at {:.2} million per second{peak}",
            region_draw_years,
            region_draw_years / stages.simulate / 1e6
        );
    }
    Ok(())
}

pub(super) fn simulate(s: &Scenario, args: &RunArgs) -> Result<montecarlo::RunResult, montecarlo::Cancelled> {
    let total = (s.draws() * s.regions().len()) as u64;
    let show = !args.flags.quiet && std::io::stderr().is_terminal();
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
        confidence: args.flags.confidence,
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
    // The manifest is written before the charts, which are drawn from the saved tables and the
    // manifest exactly as `bedsim chart` redraws them; it is rewritten with every stage's time
    // at the end.
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
    // The tables the documents read first, then the others beside the documents: the charts
    // and the workbook (at the same time), then the HTML report, from the tables just saved, as
    // `bedsim chart` and `bedsim report` make them again.
    let t = Instant::now();
    let (tables, (read_back, charts, times)) = report::write_tables_then(s, r, args.confidence, &staging.dir, &interrupted, || {
        let mut so_far = stages;
        so_far.tables = t.elapsed().as_secs_f64();
        report::write_text(&staging.dir.join("manifest.json"), &manifest(so_far).to_json())?;
        let t = Instant::now();
        let data = report::chartdata::load(&staging.dir)?;
        let read_back = t.elapsed().as_secs_f64();
        let (charts, times) = report::write_charts_and_documents(&staging.dir, &data, !args.no_charts)?;
        Ok((read_back, charts, times))
    })?;
    stages.tables = tables;
    stages.read_back = read_back;
    stages.charts = charts;
    stages.workbook = times.workbook;
    stages.html = times.html;
    report::write_text(&staging.dir.join("manifest.json"), &manifest(stages).to_json())?;
    if interrupted() {
        // Dropping the staging folder removes it: the previous results stay as they were.
        return Err(report::ReportError::Interrupted);
    }
    staging.commit()?;
    Ok(stages)
}

/// `bedsim run --shard K/N`: where the shard goes, checked (not a file, writable) before any
/// simulation.
fn shard_destination(name: &str, args: &RunArgs, Shard { k, n }: Shard) -> Result<PathBuf, CmdError> {
    results_folder(args.flags.out.as_deref(), args.flags.force, &format!("{name}-shard-{k}-of-{n}"))
}

/// `bedsim run --shard K/N`: runs every N-th region and writes their part of the run.
///
/// The caller has checked `out` (see [`shard_destination`]) before any simulation, conditioning
/// included.
fn run_shard(s: &Scenario, args: &RunArgs, Shard { k, n }: Shard, out: &Path, path: &Path, overrides: &[String]) -> Outcome {
    // Contiguous blocks of the group tree: a shard holds most of its groups whole.
    let regions = montecarlo::shard_regions(s, k, n);
    let (_, pool) = super::thread_pool(args.threads)?;
    let options = RunOptions {
        confidence: args.flags.confidence,
        memory_bytes: args.memory.map_or(montecarlo::DEFAULT_MEMORY_BYTES, |m| m.saturating_mul(1 << 20)),
        cancelled: Some(&interrupted),
        ..RunOptions::default()
    };
    let written = (|| -> Result<(), report::ReportError> {
        let staging = Staging::new(out)?;
        // The sums of the groups it holds in part go to groups.bin as each is finished.
        let per_group = montecarlo::full_rows(s.n_years()) * s.draws();
        let slots = montecarlo::partial_groups(s, &regions).len();
        let mut sink = report::shard::GroupsFile::create(&staging.dir, slots, per_group, s.draws())?;
        let part = match pool.install(|| montecarlo::run_regions_streaming(s, &options, &regions, &mut sink)) {
            Ok(p) => p,
            Err(montecarlo::PartError::Cancelled) => return Err(report::ReportError::Interrupted),
            Err(montecarlo::PartError::Sink(source)) => {
                return Err(report::ReportError::Io {
                    path: staging.dir.join("groups.bin").display().to_string(),
                    source,
                });
            }
        };
        report::shard::write_run_part(&staging.dir, &part)?;
        let manifest = ShardManifest::Run(RunShard {
            program: "bedsim".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            spec: run_spec(s, overrides, args.flags.confidence),
            shard: k,
            shards: n,
            scenario_path: path.display().to_string(),
            overrides: overrides.to_vec(),
            confidence: args.flags.confidence,
            regions: regions.iter().map(|&r| s.regions()[r].id.clone()).collect(),
        });
        report::write_json(&staging.dir.join("manifest.json"), &manifest)?;
        staging.commit()
    })();
    match written {
        Ok(()) => {
            if !args.flags.quiet {
                eprintln!("shard {k} of {n}: {} regions written to {}/", regions.len(), out.display());
            }
            Ok(())
        }
        Err(e) => Err(CmdError::failed(format!("could not write the shard: {e}"))),
    }
}

/// Identifies a run exactly: the scenario and its data (hashes), the overrides, the confidence.
pub(super) fn run_spec(s: &Scenario, overrides: &[String], confidence: f64) -> String {
    let inputs: Vec<String> = s.inputs().iter().map(|i| i.sha256.clone()).collect();
    format!("bedsim run\ninputs {inputs:?}\nset {overrides:?}\nconfidence {confidence}\n")
}
