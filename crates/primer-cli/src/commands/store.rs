//! `primer store`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use primer_args::{Format, flags};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: StoreCommand,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy campaigns (config, programs, candidates, evaluations, curves, checkpoints, reruns,
    /// weights) from one store to another, and check the copy: the same row counts and content
    /// hash (printed). Candidate ids are kept when the target has none of them. Refuses a
    /// campaign whose name the target already has, and one with candidates in training.
    Copy {
        /// The store to read (it must exist), e.g. sqlite://demo.db.
        #[arg(value_parser = flags::store_url)]
        from: String,
        /// The store to write (created if missing), e.g. postgres://primer@db.example:5432/primer.
        #[arg(value_parser = flags::store_url)]
        to: String,
        /// Only this campaign (name or id); default: all of them.
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
}

pub fn run(a: Args) -> Result<ExitCode> {
    let StoreCommand::Copy { from, to, campaign, format } = a.what;
    tokio::runtime::Runtime::new()?.block_on(async {
        let src = primer_store::Store::open_read(&from).await?;
        let dst = primer_store::Store::open(&to).await?;
        crate::inspect::copy(&src, &dst, campaign.as_deref(), format).await
    })?;
    Ok(ExitCode::SUCCESS)
}
