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
}

#[derive(Debug, Args)]
pub struct ChartArgs {
    /// A results folder written by `bedsim run`.
    pub results: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (TOML). Default: the shipped Hainan scenario.
    pub scenario: Option<PathBuf>,
    /// Number of Monte Carlo draws (overrides the scenario's `draws`).
    #[arg(long)]
    pub draws: Option<u64>,
    /// Master random seed (overrides the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Results folder (default: results/<scenario name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override a scenario value by its dotted path, e.g. --set target.beds-2025.threshold=30
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Also write every draw (draws.parquet).
    #[arg(long)]
    pub keep_draws: bool,
    /// Probability with which the "needed" columns meet each target.
    #[arg(long, default_value_t = 0.9)]
    pub confidence: f64,
    /// Print nothing but errors (no progress, no table).
    #[arg(long, short)]
    pub quiet: bool,
    /// Replace the output folder even if it is not a bedsim results folder.
    #[arg(long)]
    pub force: bool,
    /// Do not draw the PNG charts (they are drawn under <results>/charts/ by default).
    #[arg(long)]
    pub no_charts: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Override a scenario value by its dotted path before checking.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
}
