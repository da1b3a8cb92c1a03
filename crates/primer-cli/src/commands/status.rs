//! `primer status`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::process::ExitCode;

use anyhow::Result;
use primer_args::{Format, flags};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store (default: $PRIMER_DB, else sqlite://primer.db).
    #[arg(long, value_parser = flags::store_url)]
    pub db: Option<String>,
    #[arg(long, default_value_t, value_parser = flags::format())]
    pub format: Format,
    /// Also list a finished campaign's dead and stale workers (otherwise counted).
    #[arg(long)]
    pub all: bool,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let (format, all) = (a.format, a.all);
    super::inspect_with(a.db, |s| async move { crate::inspect::status(&s, format, all).await })
}
