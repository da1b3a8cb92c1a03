//! `primer savings`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::process::ExitCode;

use anyhow::Result;
use primer_args::{Format, flags};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Campaigns (names or ids).
    #[arg(required = true)]
    pub campaigns: Vec<String>,
    /// Also the pass counts per hurdle in this many equal blocks of births (does the pass
    /// rate fall toward one half as the campaign goes on?).
    #[arg(long, default_value_t = 1, value_parser = flags::positive)]
    pub blocks: usize,
    #[arg(long, value_parser = flags::store_url)]
    pub db: Option<String>,
    #[arg(long, default_value_t, value_parser = flags::format())]
    pub format: Format,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let Args { campaigns, blocks, db, format } = a;
    super::inspect_with(db, |s| async move {
        crate::savings::savings(&s, &campaigns, blocks, format == Format::Json).await.map(|_| ())
    })
}
