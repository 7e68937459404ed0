//! The program's commands, one file each, and what they share: exit codes, the reporting of
//! failures, interrupts, the worker pool, the command line's overrides and the check of a
//! results folder. Human text goes to stderr, the result table or JSON document to stdout.

mod check;
mod merge;
mod plan;
mod run;
mod sweep;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use bedsim::montecarlo::{self, RunOptions, RunResult};
use bedsim::report::manifest::{Manifest, Stages};
use bedsim::report::{self, Staging, charts, tables};
use bedsim::scenario::tree::{Value, get_path};
use bedsim::scenario::{self, LoadError, Override, Scenario, Source, Unit};
use bedsim::sensitivity::{self, Param, SweepRow, decode_point, encode_point, oat_bars};

use crate::cli::{ChartArgs, CheckArgs, Cli, Command, Format, MergeArgs, Method, PlanArgs, RunArgs, SweepArgs};
use merge::{RunShard, ShardManifest, SweepArguments, SweepShard};
use run::run_spec;
use sweep::{finish, point_file, prepare};

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
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::check(args),
        Command::Scenarios => check::list_scenarios(),
        Command::Chart(args) => check::chart(args),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Plan(args) => plan::plan(args),
        Command::Merge(args) => merge::merge(args),
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

/// Parses `K/N` (1-based shard K of N).
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--shard '{text}': expected K/N with 1 <= K <= N, for example --shard 3/8");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}
