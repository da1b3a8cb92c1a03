//! `primer analyze`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::process::ExitCode;

use anyhow::Result;
use primer_args::{Format, flags};

#[derive(Debug, clap::Args)]
pub struct Args {
    pub campaign: String,
    /// How many of the best count as the top.
    #[arg(long, default_value_t = 5, value_parser = flags::positive)]
    pub top: usize,
    #[arg(long, value_parser = flags::store_url)]
    pub db: Option<String>,
    #[arg(long, default_value_t, value_parser = flags::format())]
    pub format: Format,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let Args { campaign, top, db, format } = a;
    super::inspect_with(db, |s| async move { crate::analyze::analyze(&s, &campaign, top, format).await })
}
