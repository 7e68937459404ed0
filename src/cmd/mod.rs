//! The program's commands, one file each, and what they share: exit codes, the reporting of
//! failures, interrupts, the worker pool, the command line's overrides and the check of a
//! results folder. Human text goes to stderr, the result table or JSON document to stdout.

mod check;
mod compare;
mod merge;
mod plan;
mod run;
mod sweep;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use bedsim::montecarlo::{self, RunOptions, TargetResult};
use bedsim::report::manifest::{Manifest, Stages};
use bedsim::report::{self, Staging, charts, tables};
use bedsim::scenario::tree::{Value, get_path};
use bedsim::scenario::{self, LoadError, Override, Scenario, Source, Unit};
use bedsim::sensitivity::{self, Param, SweepRow, decode_point, encode_point, oat_bars};

use crate::cli::{
    ChartArgs, CheckArgs, Cli, Command, CompareArgs, Format, MergeArgs, Method, PlanArgs, ReportArgs, RunArgs, RunFlags, Shard, ShardArg,
    SweepArgs,
};
use merge::{RunShard, ShardManifest, SweepArguments, SweepShard};
use run::run_spec;
use sweep::{finish, point_file, prepare};

/// Why a command did not succeed. [`dispatch`] maps it, in one place, to the exit code and to
/// what is printed: the message on stderr, and with `--format json` a JSON document on stdout.
#[derive(Debug)]
pub enum CmdError {
    /// The scenario, its data or its overrides are invalid: every problem with its place
    /// (exit 2).
    Invalid(LoadError),
    /// Bad usage, or an input that is not a scenario value: a flag's value, a folder in the way,
    /// a shard of another sweep (exit 2).
    Usage(String),
    /// A command that failed while it worked: threads, writing, an interrupt (exit 1).
    Failed(String),
}

impl CmdError {
    pub fn usage(message: impl ToString) -> CmdError {
        CmdError::Usage(message.to_string())
    }

    pub fn failed(message: impl ToString) -> CmdError {
        CmdError::Failed(message.to_string())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            CmdError::Invalid(_) | CmdError::Usage(_) => EXIT_INVALID,
            CmdError::Failed(_) => EXIT_FAILED,
        }
    }

    fn report(&self, format: Format) {
        match self {
            CmdError::Invalid(e) => report_invalid(e, format),
            CmdError::Usage(m) | CmdError::Failed(m) => report_failure(m, format),
        }
    }
}

impl From<LoadError> for CmdError {
    fn from(e: LoadError) -> CmdError {
        CmdError::Invalid(e)
    }
}

/// What a command returns: its output is printed as it goes; a failure is reported by
/// [`dispatch`].
pub type Outcome = Result<(), CmdError>;

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
pub fn thread_pool(threads: Option<usize>) -> Result<(usize, rayon::ThreadPool), CmdError> {
    let n = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .max(1);
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map(|p| (n, p))
        .map_err(|e| CmdError::failed(format!("cannot start {n} threads: {e}")))
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

/// Runs the command and maps its failure, here only, to what is printed and the exit code.
pub fn dispatch(cli: Cli) -> i32 {
    let format = cli.command.format();
    let outcome = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::check(args),
        Command::Scenarios => check::list_scenarios(),
        Command::Chart(args) => check::chart(args),
        Command::Report(args) => check::report(args),
        Command::Compare(args) => compare::compare(args),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Plan(args) => plan::plan(args),
        Command::Merge(args) => merge::merge(args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "bedsim", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            // A closed pipe (bedsim man | head) is not a failure.
            let _ = clap_mangen::Man::new(cmd).render(&mut std::io::stdout());
            Ok(())
        }
    };
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            e.report(format);
            e.exit_code()
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

/// The shard of `--shard`: as given, or from the scheduler's array index with `auto`.
///
/// # Errors
/// A usage error (exit 2) naming what is missing or disagrees.
pub fn resolve_shard(arg: Option<ShardArg>) -> Result<Option<Shard>, CmdError> {
    match arg {
        None => Ok(None),
        Some(ShardArg::Given(s)) => Ok(Some(s)),
        Some(ShardArg::Auto { n }) => crate::cli::shard_from_env(&|name| std::env::var(name).ok(), n)
            .map(Some)
            .map_err(CmdError::usage),
    }
}

/// The overrides of a command that runs a scenario: [`overrides`], then `--lang` as the
/// scenario's `lang` (so that manifests, shard specs and merges record it like any override).
pub fn run_overrides(flags: &RunFlags, seed: Option<u64>) -> Result<Vec<Override>, LoadError> {
    let mut out = overrides(&flags.set, flags.draws, seed)?;
    if let Some(lang) = flags.lang {
        out.push(Override::point("lang", Value::Str(lang.code().into()), &format!("--lang {lang}")));
    }
    Ok(out)
}

/// Checks before any simulation that results can go to `out`: not a file, not a folder of
/// something else unless `force`, and writable (its parents are created and a staging folder
/// is made and removed).
pub fn destination(out: &Path, force: bool) -> Outcome {
    report::check_destination(out, force).map_err(CmdError::usage)?;
    report::probe_destination(out).map_err(|e| CmdError::failed(format!("cannot write results to {}: {e}", out.display())))
}

/// The results folder of a command: `--out`, else `results/<default>`, checked by
/// [`destination`] before any simulation.
pub fn results_folder(out: Option<&Path>, force: bool, default: &str) -> Result<PathBuf, CmdError> {
    let out = out.map_or_else(|| PathBuf::from("results").join(default), Path::to_path_buf);
    destination(&out, force)?;
    Ok(out)
}

/// The texts manifests record for overrides (`PATH=VALUE`).
pub fn override_texts(overrides: &[Override]) -> Vec<String> {
    overrides.iter().map(|o| o.text().to_string()).collect()
}

/// Reports an invalid input on stderr and, with `--format json`, as a JSON document on stdout.
fn report_invalid(e: &LoadError, format: Format) {
    print_load_error(e);
    if format == Format::Json {
        report::json::print(&report::json::failure("invalid input", &e.0));
    }
}

/// Reports a failure that is not an input problem.
fn report_failure(message: &str, format: Format) {
    eprintln!("error: {}", scenario::tree::escape_invisible(message));
    if format == Format::Json {
        report::json::print(&report::json::failure(message, &[]));
    }
}

fn print_load_error(e: &LoadError) {
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
/// An interrupt, or observations that no draw is consistent with.
pub fn condition_on_observations(s: Scenario, options: &RunOptions<'_>, quiet: bool) -> Result<Scenario, CmdError> {
    if s.observations().is_empty() {
        return Ok(s);
    }
    let s = match montecarlo::observe::conditioned(s, options) {
        Ok(s) => s,
        Err(montecarlo::observe::ConditionError::Cancelled(_)) => {
            return Err(CmdError::failed(
                "interrupted while conditioning on the observations; nothing was written",
            ));
        }
        Err(e) => return Err(CmdError::usage(e)),
    };
    if let Some(c) = &s.conditioned() {
        if !quiet {
            eprintln!(
                "conditioned on {} observation(s): an effective sample of {:.0} of {} draws ({} distinct)",
                c.fits.len(),
                c.effective_draws,
                s.draws(),
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
