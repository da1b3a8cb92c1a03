//! `primer`: the command people run. It does not link libtorch; commands that train or
//! evaluate models are handed to `primer-engine` (see the crate docs).

use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use primer_cli::cli::{Bench, Cli, Command, Format};
use primer_cli::{check, doctor, paths, search};

fn main() -> ExitCode {
    primer_cli::exit_with(run())
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
        Command::Demo { db, name, workers } => demo(db, name, workers),
        Command::Check { file, model, format } => {
            let ok = check::check(&file, model.config(), format)?;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Diff { old, new, format } => {
            check::diff_files(&old, &new, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { what: Bench::Dsl { file, seconds } } => {
            check::bench_dsl(file.as_deref(), seconds)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { what: Bench::Evolve { file, space, seconds } } => {
            check::bench_evolve(file.as_deref(), space.as_deref(), seconds)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Search { config, db, workers, budget, name, candidates, seed } => {
            let db = db.unwrap_or_else(paths::default_store_url);
            let o = search::Overrides { name, workers, budget, candidates, seed };
            tokio::runtime::Runtime::new()?.block_on(search::search(&config, &db, &o))
        }
        Command::EngineInfo | Command::Train { .. } | Command::Worker { .. } | Command::Bench { what: Bench::Train { .. } } => {
            unreachable!("engine commands are handed over above")
        }
    }
}

/// The main job: the installation, then the demo campaign.
fn demo(db: Option<String>, name: Option<String>, workers: Option<usize>) -> Result<ExitCode> {
    println!("== primer doctor");
    if !doctor::report(&doctor::run_checks(), Format::Table) {
        return Ok(ExitCode::FAILURE);
    }
    let config = paths::workspace_root().join("experiments/demo.toml");
    let db = db.unwrap_or_else(|| format!("sqlite://{}", paths::workspace_root().join("demo.db").display()));
    println!("\n== primer search {} --db {db}", config.display());
    let o = search::Overrides { name, workers, ..Default::default() };
    tokio::runtime::Runtime::new()?.block_on(search::search(&config, &db, &o))
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
