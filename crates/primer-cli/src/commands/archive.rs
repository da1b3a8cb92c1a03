//! `primer archive`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use primer_args::flags;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign (name or id).
    pub campaign: String,
    /// The archive to write (by convention `NAME.archive.json.gz`); replaced if it exists.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_parser = flags::store_url)]
    pub db: Option<String>,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let Args { campaign, out, db } = a;
    super::inspect_with(db, |s| async move { crate::inspect::archive(&s, &campaign, &out).await })
}
