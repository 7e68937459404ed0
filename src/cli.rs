//! Command-line definitions (clap). Behaviour lives in `app.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Will an elderly-care build plan meet its targets, with what probability, and what would it
/// take? Monte Carlo projection of elderly population, care demand and bed supply per county.
#[derive(Debug, Parser)]
#[command(name = "bedsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: project, simulate and write the results tables.
    Run(RunArgs),
    /// Check a scenario and its data files; report every problem as file:line:column.
    Check(CheckArgs),
    /// List the shipped scenarios with a one-line description.
    Scenarios,
    /// Redraw the charts of a results folder from its saved tables (no simulation).
    Chart(ChartArgs),
    /// Write report.xlsx and report.html of a results folder again, from its tables and charts.
    Report(ReportArgs),
    /// Compare two runs: P(met) and needed beds per target and unit, side by side.
    Compare(CompareArgs),
    /// Run a scenario at many values of its inputs (one at a time, grid, Latin hypercube, Sobol').
    Sweep(SweepArgs),
    /// What must be added to meet each target with a chosen probability, and by when.
    Plan(PlanArgs),
    /// Combine the shards of a sweep (run with --shard K/N) into the single-machine result.
    Merge(MergeArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, e.g. bedsim man > bedsim.1
    Man,
}

impl Command {
    /// What the command prints on stdout, for its failures too.
    pub fn format(&self) -> Format {
        match self {
            Command::Run(a) => a.flags.format,
            Command::Check(a) => a.format,
            Command::Sweep(a) => a.flags.format,
            Command::Plan(a) => a.flags.format,
            _ => Format::Text,
        }
    }
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard folders written by `bedsim sweep --shard K/N`, in any order.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Results folder (default: results/<scenario>-sweep-<method>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Replace the output folder even if it is not a bedsim results folder.
    #[arg(long)]
    pub force: bool,
}

/// Output on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// A short readable table.
    #[default]
    Text,
    /// One JSON document (schema in docs/json.md); human text goes to stderr.
    Json,
}

/// Sweep design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// One at a time: each input over its range with the others at their middle (tornado chart).
    Oat,
    /// Full grid of --steps values per input.
    Grid,
    /// Latin hypercube of --samples points.
    Lhs,
    /// Saltelli sampling with --samples base points; first-order and total Sobol' indices.
    Sobol,
    /// Morris screening: --samples trajectories of (inputs + 1) points on a 4-level grid;
    /// elementary effects mu, mu* and sigma per input.
    Morris,
}

/// The flags of every command that runs a scenario (`run`, `sweep`, `plan`), declared once.
#[derive(Debug, Clone, Args)]
pub struct RunFlags {
    /// Monte Carlo draws (overrides the scenario's `draws`; per point in a sweep).
    #[arg(long)]
    pub draws: Option<u64>,
    /// Override a scenario value by its dotted path (repeatable), e.g. --set target.beds-2025.threshold=30
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Probability with which the "needed" columns meet each target.
    #[arg(long, default_value_t = 0.9, value_parser = parse_confidence)]
    pub confidence: f64,
    /// Results folder (default: under results/, named after the scenario: <name>, <name>-only,
    /// <name>-sweep-<method>, <name>-plan, <name>-shard-K-of-N).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print nothing but errors (no progress, no table).
    #[arg(long, short)]
    pub quiet: bool,
    /// Replace the output folder even if it is not a bedsim results folder (never a file).
    #[arg(long)]
    pub force: bool,
    /// What to print on stdout: a readable table, or one JSON document (docs/json.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Language of the charts, the stdout table, report.xlsx and report.html: zh or en
    /// (overrides the scenario's `lang`, whose default is zh).
    #[arg(long, value_parser = parse_lang)]
    pub lang: Option<bedsim::lang::Lang>,
}

#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    #[command(flatten)]
    pub flags: RunFlags,
    /// An input to vary, by dotted path, over LOW..HIGH (repeatable), e.g. --vary care.trend.mean=-0.03..0
    #[arg(long, value_name = "PATH=LOW..HIGH")]
    pub vary: Vec<String>,
    /// A sweep file (TOML) listing inputs to vary, for long sweeps: `vary = ["PATH=LOW..HIGH", ...]`
    /// or `[[vary]]` tables with `path`, `low` and `high`; added to any --vary.
    #[arg(long, value_name = "FILE")]
    pub vary_file: Option<PathBuf>,
    /// Sweep design.
    #[arg(long, value_enum, default_value_t = Method::Oat)]
    pub method: Method,
    /// Values per input for oat and grid.
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    /// Points for lhs; base samples for sobol (points = samples x (inputs + 2)); trajectories
    /// for morris (points = samples x (inputs + 1)).
    #[arg(long, default_value_t = 64)]
    pub samples: usize,
    /// Master seed, for the draws and the design (overrides the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads per point.
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Budget for the per-draw values held at once, in MiB (default 1024), including the
    /// population shared by the points. Results do not depend on it.
    #[arg(long, value_name = "MiB", value_parser = parse_memory)]
    pub memory: Option<usize>,
    /// Run every point in full, projecting its population again, instead of projecting it once
    /// for all points that change only the supply side, uptake or targets. The results are the
    /// same; this is the slow way, for checking.
    #[arg(long)]
    pub unstaged: bool,
    /// Run only shard K of N (every N-th point) and write a partial result for `bedsim merge`;
    /// `auto` or `auto/N`: K (and N) from the Slurm, Kubernetes or AWS Batch array task.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<ShardArg>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    #[command(flatten)]
    pub flags: RunFlags,
}

#[derive(Debug, Args)]
pub struct ChartArgs {
    /// A results folder written by `bedsim run`.
    pub results: PathBuf,
    /// Language of the charts (default: the run's).
    #[arg(long, value_parser = parse_lang)]
    pub lang: Option<bedsim::lang::Lang>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results folder written by `bedsim run` or `bedsim merge`.
    pub results: PathBuf,
    /// Language of the documents (default: the run's).
    #[arg(long, value_parser = parse_lang)]
    pub lang: Option<bedsim::lang::Lang>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The first results folder (A): usually the plan as written.
    pub a: PathBuf,
    /// The second results folder (B): the plan with a change.
    pub b: PathBuf,
    /// Folder for the comparison (default: results/compare-<A>-<B>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Which rows to compare when the runs do not have the same targets and units: `common`
    /// compares the (target, unit) pairs both have, by id. Without it such runs are refused.
    #[arg(long, value_parser = ["common"])]
    pub r#match: Option<String>,
    /// Language of the table captions, the chart and the workbook (default: A's).
    #[arg(long, value_parser = parse_lang)]
    pub lang: Option<bedsim::lang::Lang>,
    /// Replace the output folder even if it is not a bedsim results folder (never a file).
    #[arg(long)]
    pub force: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (TOML). Default: the shipped Hainan scenario.
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub flags: RunFlags,
    /// Master random seed (overrides the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Also write every draw (draws.parquet).
    #[arg(long)]
    pub keep_draws: bool,
    /// Do not draw the PNG charts (they are drawn under <results>/charts/ by default).
    #[arg(long)]
    pub no_charts: bool,
    /// Run only these regions and the members of these groups (ids, comma-separated), e.g.
    /// --only 460000 for Hainan out of the national scenario. Each region's results are exactly
    /// those of the whole scenario; groups cover the kept members. Default results folder:
    /// results/<name>-only.
    #[arg(long, value_name = "ID,...", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Budget for the per-draw values held at once, in MiB (default 1024). Results do not
    /// depend on it; a small budget makes the run slower.
    #[arg(long, value_name = "MiB", value_parser = parse_memory)]
    pub memory: Option<usize>,
    /// Run only shard K of N (a block of regions) and write a partial result for `bedsim merge`;
    /// `auto` or `auto/N`: K (and N) from the Slurm, Kubernetes or AWS Batch array task.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<ShardArg>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Override a scenario value by its dotted path before checking.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// What to print on stdout: a readable table, or one JSON document (docs/json.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Shard K of N (1-based), from `--shard K/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

/// What `--shard` says: a shard given as K/N, or `auto` (`auto/N`): the shard from the
/// scheduler's array index, with the count from the scheduler or given as N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    Given(Shard),
    Auto { n: Option<usize> },
}

/// `--shard K/N` with 1 <= K <= N, `--shard auto` or `--shard auto/N` with N >= 1.
pub fn parse_shard(text: &str) -> Result<ShardArg, String> {
    let bad = || format!("'{text}' is not K/N with 1 <= K <= N (for example --shard 3/8), auto or auto/N");
    let t = text.trim();
    if t == "auto" {
        return Ok(ShardArg::Auto { n: None });
    }
    let (k, n) = t.split_once('/').ok_or_else(bad)?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if k.trim() == "auto" {
        return if n >= 1 { Ok(ShardArg::Auto { n: Some(n) }) } else { Err(bad()) };
    }
    let k: usize = k.trim().parse().map_err(|_| bad())?;
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok(ShardArg::Given(Shard { k, n }))
}

/// The shard of this task from the array index a scheduler sets in its environment (`var`
/// reads a variable): Slurm job arrays (`SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_MIN` and
/// `SLURM_ARRAY_TASK_COUNT` or `SLURM_ARRAY_TASK_MAX`), Kubernetes Indexed Jobs
/// (`JOB_COMPLETION_INDEX`, 0-based) and AWS Batch array jobs (`AWS_BATCH_JOB_ARRAY_INDEX`,
/// 0-based). Kubernetes and AWS Batch do not tell the count: it is `n`, from `--shard auto/N`.
///
/// # Errors
/// When no scheduler's index is set, a variable is not a number, the count is missing, or the
/// schedulers' variables and `n` disagree.
pub fn shard_from_env(var: &dyn Fn(&str) -> Option<String>, n: Option<usize>) -> Result<Shard, String> {
    let number = |name: &str| -> Result<Option<usize>, String> {
        match var(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map(Some)
                .map_err(|_| format!("--shard auto: {name}={v:?} is not a whole number")),
        }
    };
    let mut found: Vec<(&str, Shard)> = Vec::new();
    if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        if let Some(step) = number("SLURM_ARRAY_TASK_STEP")?
            && step != 1
        {
            return Err(format!(
                "--shard auto: the Slurm array has a step of {step}; submit it as --array=0-N-1 (or 1-N) without a step"
            ));
        }
        let min = number("SLURM_ARRAY_TASK_MIN")?.ok_or("--shard auto: SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_MIN")?;
        let by_range = number("SLURM_ARRAY_TASK_MAX")?.map(|max| max.saturating_sub(min) + 1);
        let count = match (number("SLURM_ARRAY_TASK_COUNT")?, by_range) {
            (Some(c), Some(r)) if c != r => {
                return Err(format!(
                    "--shard auto: SLURM_ARRAY_TASK_COUNT={c} but MIN..MAX holds {r} tasks: submit the array as one range without gaps (--array=0-{})",
                    c.saturating_sub(1)
                ));
            }
            (Some(c), _) => c,
            (None, Some(r)) => r,
            (None, None) => {
                return Err("--shard auto: SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX".into());
            }
        };
        if id < min || id - min >= count {
            return Err(format!(
                "--shard auto: SLURM_ARRAY_TASK_ID={id} is outside the array's {count} tasks from {min}"
            ));
        }
        found.push(("Slurm", Shard { k: id - min + 1, n: count }));
    }
    for (who, name) in [("Kubernetes", "JOB_COMPLETION_INDEX"), ("AWS Batch", "AWS_BATCH_JOB_ARRAY_INDEX")] {
        if let Some(index) = number(name)? {
            let Some(n) = n else {
                return Err(format!(
                    "--shard auto: {name} is set ({who}) but not the number of shards: use --shard auto/N, N the number of tasks"
                ));
            };
            if index >= n {
                return Err(format!(
                    "--shard auto: {name}={index} is not below the {n} shards of --shard auto/{n}"
                ));
            }
            found.push((who, Shard { k: index + 1, n }));
        }
    }
    let Some(&(first_who, first)) = found.first() else {
        return Err("--shard auto: no scheduler's array index is set (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX); give the shard as --shard K/N".into());
    };
    for &(who, sh) in &found[1..] {
        if sh != first {
            return Err(format!(
                "--shard auto: {first_who} says shard {}/{} but {who} says {}/{}",
                first.k, first.n, sh.k, sh.n
            ));
        }
    }
    if let Some(n) = n
        && n != first.n
    {
        return Err(format!("--shard auto/{n}: {first_who} runs {} tasks, not {n}", first.n));
    }
    Ok(first)
}

fn parse_lang(text: &str) -> Result<bedsim::lang::Lang, String> {
    bedsim::lang::Lang::parse(text.trim())
}

/// `--confidence`: a probability strictly between 0 and 1.
fn parse_confidence(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(c) if c > 0.0 && c < 1.0 => Ok(c),
        _ => Err(format!("'{text}' is not a probability strictly between 0 and 1, such as 0.9")),
    }
}

/// `--threads`: at least one.
fn parse_threads(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{text}' is not a number of threads of at least 1")),
    }
}

/// `--memory`: at least 1 MiB.
fn parse_memory(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{text}' is not a budget in MiB of at least 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_shard_comes_from_the_schedulers_array_index() {
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
        ];
        assert_eq!(shard_from_env(&env(&slurm), None), Ok(Shard { k: 6, n: 8 }));
        assert_eq!(shard_from_env(&env(&slurm), Some(8)), Ok(Shard { k: 6, n: 8 }));
        assert!(shard_from_env(&env(&slurm), Some(4)).unwrap_err().contains("runs 8 tasks, not 4"));
        // An array 1-4 (no COUNT, as older Slurm) and one with a gap.
        let one_based = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
        ];
        assert_eq!(shard_from_env(&env(&one_based), None), Ok(Shard { k: 1, n: 4 }));
        let gap = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "9"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ];
        assert!(shard_from_env(&env(&gap), None).unwrap_err().contains("without gaps"));
        let step = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "8"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ];
        assert!(shard_from_env(&env(&step), None).unwrap_err().contains("step of 2"));
        // Kubernetes and AWS Batch: 0-based, the count given once.
        assert_eq!(
            shard_from_env(&env(&[("JOB_COMPLETION_INDEX", "0")]), Some(16)),
            Ok(Shard { k: 1, n: 16 })
        );
        assert_eq!(
            shard_from_env(&env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "15")]), Some(16)),
            Ok(Shard { k: 16, n: 16 })
        );
        assert!(
            shard_from_env(&env(&[("JOB_COMPLETION_INDEX", "3")]), None)
                .unwrap_err()
                .contains("--shard auto/N")
        );
        assert!(shard_from_env(&env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "16")]), Some(16)).is_err());
        // Disagreeing schedulers, none at all, and a value that is not a number.
        let both = [
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("JOB_COMPLETION_INDEX", "2"),
        ];
        assert!(
            shard_from_env(&env(&both), Some(4))
                .unwrap_err()
                .contains("Slurm says shard 1/4 but Kubernetes says 3/4")
        );
        assert!(
            shard_from_env(&env(&[]), None)
                .unwrap_err()
                .contains("no scheduler's array index is set")
        );
        assert!(
            shard_from_env(&env(&[("JOB_COMPLETION_INDEX", "two")]), Some(4))
                .unwrap_err()
                .contains("not a whole number")
        );
    }

    #[test]
    fn flag_values_are_checked_when_parsed() {
        assert_eq!(parse_shard(" 3/8"), Ok(ShardArg::Given(Shard { k: 3, n: 8 })));
        assert_eq!(parse_shard("auto"), Ok(ShardArg::Auto { n: None }));
        assert_eq!(parse_shard("auto/16"), Ok(ShardArg::Auto { n: Some(16) }));
        for bad in ["0/2", "3/2", "1/0", "1", "a/b", "1/2/3", "auto/0", "auto/x", "automatic"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_confidence("0.95"), Ok(0.95));
        for bad in ["0", "1", "1.5", "-0.1", "nan", "x"] {
            assert!(parse_confidence(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_threads("2"), Ok(2));
        assert!(parse_threads("0").is_err() && parse_memory("0").is_err() && parse_memory("-1").is_err());
    }
}
