//! `primer`: the command people run. It does not link libtorch; commands that train or
//! evaluate models are handed to `primer-engine` (see the crate docs). Parsing and dispatch
//! only: each command is a file under `src/commands/`.

use std::process::ExitCode;

use primer_cli::commands::{self, Cli};

fn main() -> ExitCode {
    primer_cli::exit_with(run())
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse_checked();
    if commands::reads_only(&cli.command) {
        // `primer top ... | head`: stop quietly when the reader goes away (Rust ignores SIGPIPE,
        // and a failed print would panic). Not for the controller, which must outlive its
        // terminal's pipe.
        // SAFETY: restoring a signal's default disposition before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    commands::run(cli.command)
}
