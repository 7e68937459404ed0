//! The `bedsim` program: parse the command line, run the command, map the outcome to an exit
//! code (0 success, 1 a run that failed, 2 bad usage or invalid input).

mod cli;
mod cmd;

use clap::Parser;

fn main() {
    // A file that grows past the process's file-size limit (`ulimit -f`) raises SIGXFSZ, which
    // kills the process by default. Ignored, the write fails with an error instead, which is
    // reported like a full disk: a clear message, exit code 1, and no partial results.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to "ignore" before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = cli::Cli::parse();
    cmd::catch_interrupts();
    let code = cmd::dispatch(cli);
    std::process::exit(code);
}
