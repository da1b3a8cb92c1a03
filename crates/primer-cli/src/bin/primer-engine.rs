//! `primer-engine`: the half of `primer` that links libtorch. People run `primer`, which
//! hands the commands that train or evaluate models to this executable.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use primer_cli::cli::{Cli, Command};

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
    match cli.command {
        Command::EngineInfo => {
            let info = primer_torch::runtime::LibtorchInfo::probe();
            println!("{}", serde_json::to_string(&info)?);
            Ok(ExitCode::SUCCESS)
        }
        other => anyhow::bail!("`{other:?}` is a command of `primer`, not of `primer-engine`"),
    }
}
