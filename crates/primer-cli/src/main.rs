//! `primer`: the command people run. It does not link libtorch; commands that train or
//! evaluate models are handed to `primer-engine` (see the crate docs).

use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use primer_cli::cli::{Cli, Command};
use primer_cli::{doctor, paths};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    if cli.command.needs_engine() {
        return exec_engine();
    }
    match cli.command {
        Command::Doctor { format } => {
            let ok = doctor::report(&doctor::run_checks(), format);
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Demo => {
            println!("== primer doctor");
            let ok = doctor::report(&doctor::run_checks(), Default::default());
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::EngineInfo => unreachable!("engine commands are handed over above"),
    }
}

/// Replaces this process with `primer-engine`, passing the same arguments.
fn exec_engine() -> Result<ExitCode> {
    let exe = paths::engine_exe();
    anyhow::ensure!(
        exe.exists(),
        "{} is missing: build it with `cd {} && cargo build --release -p primer-cli`",
        exe.display(),
        paths::workspace_root().display()
    );
    let err = std::process::Command::new(&exe).args(std::env::args_os().skip(1)).exec();
    Err(err).with_context(|| format!("could not start {}", exe.display()))
}
