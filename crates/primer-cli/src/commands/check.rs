//! `primer check`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use primer_args::{Format, ModelArgs, flags};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A program in the `.prim` text format (or `.json`).
    pub file: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long, default_value_t, value_parser = flags::format())]
    pub format: Format,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let ok = crate::check::check(&a.file, a.model.config(), a.format)?;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
