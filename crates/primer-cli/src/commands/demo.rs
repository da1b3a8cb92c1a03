//! `primer demo`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::process::ExitCode;

use crate::doctor;
use anyhow::Result;
use primer_args::{Format, flags};
use primer_campaign::paths;
use primer_campaign::spec::Overrides;
use primer_dsl::budget::Budget;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store (default: sqlite://demo.db in the workspace). A finished demo campaign is
    /// only reported again; pass --name for a new one.
    #[arg(long, value_parser = flags::store_url)]
    pub db: Option<String>,
    /// Campaign name (default: demo).
    #[arg(long)]
    pub name: Option<String>,
    /// Local workers (default: 2).
    #[arg(long, value_parser = flags::positive)]
    pub workers: Option<usize>,
    /// Candidates (default: the demo file's 64).
    #[arg(long, value_parser = flags::positive_u64)]
    pub candidates: Option<u64>,
    /// Per-candidate budget (default: the demo file's 5e11flops), e.g. 2e10flops for a quick look.
    #[arg(long)]
    pub budget: Option<Budget>,
}

pub fn run(a: Args) -> Result<ExitCode> {
    println!("== primer doctor");
    if !doctor::report(&doctor::run_checks(), Format::Table) {
        return Ok(ExitCode::FAILURE);
    }
    let config = paths::workspace_root().join("experiments/demo.toml");
    let db = a.db.unwrap_or_else(|| format!("sqlite://{}", paths::workspace_root().join("demo.db").display()));
    println!("\n== primer search {} --db {db}", config.display());
    let o = Overrides {
        name: a.name.clone(),
        workers: a.workers,
        candidates: a.candidates,
        budget: a.budget,
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new()?;
    let code = rt.block_on(crate::summary::search(&config, &db, &o))?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    // What happened, in words: the analysis, and the winner against the paper's programs.
    rt.block_on(async {
        let store = primer_store::Store::open(&db).await?;
        crate::demo::close(&store, &db, a.name.as_deref().unwrap_or("demo")).await
    })?;
    Ok(ExitCode::SUCCESS)
}
