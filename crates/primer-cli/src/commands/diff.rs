//! `primer diff`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use primer_args::{Format, flags};

#[derive(Debug, clap::Args)]
pub struct Args {
    pub old: PathBuf,
    pub new: PathBuf,
    #[arg(long, default_value_t, value_parser = flags::format())]
    pub format: Format,
}

pub fn run(a: Args) -> Result<ExitCode> {
    crate::check::diff_files(&a.old, &a.new, a.format)?;
    Ok(ExitCode::SUCCESS)
}
