//! The `bedsim` program: parse the command line, run the command, map the outcome to an exit
//! code (0 success, 1 a run that failed, 2 bad usage or invalid input).

mod app;
mod cli;
mod sweep;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    app::catch_interrupts();
    let code = app::dispatch(cli);
    std::process::exit(code);
}
