//! `primer report`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use primer_args::flags;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub campaign: String,
    /// Where the page goes.
    #[arg(long, default_value = "report.html")]
    pub out: PathBuf,
    /// Rewrite the page every this many seconds until the campaign is finished (the open
    /// page reloads itself).
    #[arg(long, value_name = "SECONDS", value_parser = flags::positive_real)]
    pub watch: Option<f64>,
    #[arg(long, value_parser = flags::store_url)]
    pub db: Option<String>,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let Args { campaign, out, watch, db } = a;
    super::inspect_with(db, |s| async move { crate::report::report(&s, &campaign, &out, watch).await })
}
