//! `primer progress`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use primer_args::{Format, flags};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Campaigns (names or ids); none: every campaign in the store (e.g. a folder of
    /// archives, `--db archive://experiments/evolution-vs-random`).
    pub campaigns: Vec<String>,
    /// Also write an SVG plot: per strategy, the median best loss so far with its quartiles.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Compare at this training compute in FLOPs (every campaign must have reached it;
    /// default: the compute every campaign reached), e.g. 4e12.
    #[arg(long, value_parser = flags::positive_real)]
    pub at: Option<f64>,
    #[arg(long, value_parser = flags::store_url)]
    pub db: Option<String>,
    #[arg(long, default_value_t, value_parser = flags::format())]
    pub format: Format,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let Args { campaigns, svg, at, db, format } = a;
    super::inspect_with(
        db,
        |s| async move { crate::progress::progress(&s, &campaigns, svg.as_deref(), at, format).await },
    )
}
