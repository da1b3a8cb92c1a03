//! `primer hurdles`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::process::ExitCode;

use anyhow::Result;
use primer_args::{Format, flags};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Campaigns (names or ids).
    #[arg(required = true)]
    pub campaigns: Vec<String>,
    /// Also these fractions of the budget, comma-separated (e.g. 0.1,0.25,0.5).
    #[arg(long, value_delimiter = ',', value_parser = flags::fraction)]
    pub at: Vec<f64>,
    #[arg(long, value_parser = flags::store_url)]
    pub db: Option<String>,
    #[arg(long, default_value_t, value_parser = flags::format())]
    pub format: Format,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let Args { campaigns, at, db, format } = a;
    super::inspect_with(db, |s| async move {
        primer_campaign::placement::hurdles(&s, &campaigns, &at, format == Format::Json).await.map(|_| ())
    })
}
