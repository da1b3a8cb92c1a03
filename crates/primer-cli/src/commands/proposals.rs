//! `primer proposals`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use primer_args::{Format, flags};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign file (TOML), e.g. experiments/rediscover-bpe.toml.
    pub config: PathBuf,
    /// Children drawn per seed program.
    #[arg(long, default_value_t = 100_000, value_parser = flags::positive_u64)]
    pub children: u64,
    /// Seed of the draws (default: the campaign's).
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, default_value_t, value_parser = flags::format())]
    pub format: Format,
}

pub fn run(a: Args) -> Result<ExitCode> {
    crate::proposals::proposals(&a.config, a.children, a.seed, a.format)?;
    Ok(ExitCode::SUCCESS)
}
