//! `primer top`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::process::ExitCode;

use anyhow::Result;
use primer_args::{Format, flags};
use primer_dsl::budget::Budget;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub campaign: String,
    /// How many.
    #[arg(short, default_value_t = 10, value_parser = flags::positive_i64)]
    pub k: i64,
    /// Rank by the retrainings at this budget instead.
    #[arg(long, conflicts_with = "pareto")]
    pub budget: Option<Budget>,
    /// The Pareto front instead: the candidates trained to the full budget that no other beats
    /// in both loss and cost (the campaign's second objective, else training FLOPs per byte),
    /// cheapest first.
    #[arg(long)]
    pub pareto: bool,
    #[arg(long, value_parser = flags::store_url)]
    pub db: Option<String>,
    #[arg(long, default_value_t, value_parser = flags::format())]
    pub format: Format,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let Args { campaign, k, budget, pareto, db, format } = a;
    super::inspect_with(db, |s| async move {
        match budget {
            _ if pareto => crate::pareto::print(&s, &campaign, format).await,
            Some(b) => primer_campaign::reruns::top_rerun(&s, &campaign, b, k, format).await,
            None => crate::inspect::top(&s, &campaign, k, format).await,
        }
    })
}
