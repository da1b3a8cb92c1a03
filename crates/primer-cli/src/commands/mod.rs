//! The `primer` command line, cargo style: one file per command under `commands/`, its flags
//! (`Args`, a clap struct) beside what it does with them, the work done through library
//! modules; no command imports another (`cargo xtask imports` checks it). This module holds
//! the command list ([`Command`]: each variant's doc comment is its `--help`), the dispatch,
//! and what the commands share: opening a store read-only ([`inspect_with`]), handing a command
//! to `primer-engine` ([`exec_engine`]). The commands that train are declared in `primer-args`
//! and reach `primer` through [`Command::Engine`] and the `Engine` variants of `bench` and
//! `drill`.

use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use primer_args::EngineCommand;
use primer_campaign::paths;

pub mod analyze;
pub mod archive;
pub mod bench;
pub mod check;
pub mod demo;
pub mod diff;
pub mod doctor;
pub mod drill;
pub mod engine;
pub mod hurdles;
pub mod launch;
pub mod lineage;
pub mod progress;
pub mod proposals;
pub mod report;
pub mod savings;
pub mod search;
pub mod show;
pub mod status;
pub mod store;
pub mod top;

/// Evolutionary search over programs of primitives that define a Transformer decoder layer.
#[derive(Debug, Parser)]
#[command(name = "primer", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the installation: versions, libtorch, threads, CUDA, corpus, store.
    ///
    /// Exits non-zero, with the command that fixes it, when something is missing.
    Doctor(doctor::Args),
    /// Run the main job: check the installation, then a real search campaign
    /// (experiments/demo.toml, about 10 minutes on 2 cores) on the default corpus.
    Demo(demo::Args),
    /// Check a program: validity, a shape trace per instruction, parameters and FLOPs.
    ///
    /// Exits non-zero, with the reason and where, when the file cannot be parsed or the
    /// program is invalid for the model size.
    Check(check::Args),
    /// How often the sampler proposes each of Primer's changes: N children of each seed program
    /// of a campaign, drawn as the campaign draws them (one mutation each, from its search
    /// space and model), and the share that adds squared ReLU or a depthwise convolution after
    /// Q, K or V, with its 95% interval and what it makes likely in the campaign's candidates
    /// (expected proposals, the chance of at least one) if every parent were like the seed: an
    /// upper bound, to read a campaign that did not find them. Reads the campaign file only.
    Proposals(proposals::Args),
    /// Show what changed from one program to another (inserted, deleted, changed instructions).
    Diff(diff::Args),
    /// Benchmarks that print throughput figures.
    Bench(bench::Args),
    /// Run a search campaign: create it (or resume it: run the same command again), train
    /// candidates on local worker processes, show progress, end with the top programs and the
    /// best one's diff against its seed.
    Search(search::Args),
    /// Start workers with a cluster engine: `primer launch slurm CAMPAIGN.toml --workers N`
    /// creates the campaign in the store and submits a Slurm job array of `primer worker`s
    /// against it.
    Launch(launch::Args),
    /// Work on stores themselves: `primer store copy FROM TO` moves campaigns between stores
    /// (a local SQLite file into a team's PostgreSQL, and back).
    Store(store::Args),
    /// Campaigns in the store: progress and the best so far, and the workers that did not
    /// exit (live, stale: no heartbeat within the lease, dead: on this host, process gone).
    Status(status::Args),
    /// The best candidates of a campaign (by name or id); with --budget, ranked by their
    /// retraining at that budget (`primer rerun`).
    Top(top::Args),
    /// One candidate: program, metrics, hurdles, learning curve, and its diff against its parent
    /// and its seed (CSV: the learning curve).
    Show(show::Args),
    /// Did the search find Primer's changes? For each (squared ReLU, a depthwise convolution
    /// after Q, K or V, shared Q/K, extra norms; detected on the programs' structure): when it
    /// was first proposed, how often, how many such candidates passed each hurdle, its share of
    /// the population over time and the rank of the best candidate with it. Beside them, what
    /// evolution used: per mutation kind and per inserted or deleted op, how often it was
    /// proposed, survived the hurdles and improved on its parent; and the changes against the
    /// seed that the top K share. Reads the store only.
    Analyze(analyze::Args),
    /// What halving hurdles and functional dedup saved in campaigns, measured, beside the
    /// theory: candidates that reached and passed each hurdle, the FLOPs spent against training
    /// every trained candidate to the full budget, (2^(H+1)-1)/(H+1) (the saving when half pass)
    /// and the same closed form at the pass rates measured; candidates that reused an equal
    /// program's fitness and the compute that spared.
    Savings(savings::Args),
    /// Are the hurdles where rankings hold? For the candidates that trained to the full budget,
    /// Kendall's tau between their validation losses at each hurdle (and where the same
    /// hurdles would sit with bands from 0, at the end of the warm-up, and at --at) and their
    /// losses at the end, from the stored curves.
    Hurdles(hurdles::Args),
    /// Search progress of campaigns side by side (e.g. evolution against random search): each
    /// one's best loss so far against its cumulative training compute; per strategy the median
    /// and quartiles over its campaigns at ten equal steps of the compute every campaign
    /// reached; and at that compute, per strategy, how many campaigns had their best program in
    /// the local basin (no attention, a convolution) and a Primer motif (squared ReLU, a
    /// depthwise conv after Q, K or V) in their top 5, with two strategies tested against each
    /// other (Mann-Whitney U on the best losses, Fisher's exact test on the hit counts).
    Progress(progress::Args),
    /// A campaign as one self-contained HTML page (no server, no network: open it from disk):
    /// progress, best so far and every candidate's loss against birth and compute, loss against
    /// parameters and FLOPs per token with the Pareto front, hurdles, what each mutation did,
    /// the top 20 with curves and diffs, the lineage of the best, Primer's motifs. Hover a point
    /// for the candidate, click it for its details. Reads the store only.
    Report(report::Args),
    /// Write a campaign's archive: a compact, versioned, self-contained copy (gzip JSON: the
    /// resolved config, programs as text, candidates with lineage and mutations, fitness,
    /// hurdles, curves at their eval points, retrainings; no weights) that every command that
    /// only reads opens as a store with `--db archive://FILE` (status, top, show, lineage,
    /// analyze, progress, savings, hurdles, report, compare, export of a candidate), and
    /// `--db archive://FOLDER` opens every archive in a folder as one store. It reads the store
    /// only; a campaign still running is archived as it stands.
    Archive(archive::Args),
    /// A candidate's ancestors back to its seed, with the mutation at each step.
    Lineage(lineage::Args),
    /// Reliability drills against a real campaign.
    Drill(drill::Args),
    /// The commands that train or evaluate models (run by `primer-engine`).
    #[command(flatten)]
    Engine(EngineCommand),
}

impl Cli {
    /// Parses the command line, then checks what one flag's parser cannot (`--budgets` of one
    /// kind): a mistake exits with status 2 naming the flag, as clap's own do.
    pub fn parse_checked() -> Cli {
        use clap::{CommandFactory, Parser};
        let cli = Cli::parse();
        if let Err(message) = cli.check() {
            Cli::command().error(clap::error::ErrorKind::ValueValidation, message).exit();
        }
        cli
    }

    fn check(&self) -> Result<(), String> {
        match &self.command {
            Command::Engine(c) => c.check(),
            _ => Ok(()),
        }
    }
}

/// Runs a parsed command.
pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Analyze(a) => analyze::run(a),
        Command::Archive(a) => archive::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Check(a) => check::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Drill(a) => drill::run(a),
        Command::Engine(a) => engine::run(a),
        Command::Hurdles(a) => hurdles::run(a),
        Command::Launch(a) => launch::run(a),
        Command::Lineage(a) => lineage::run(a),
        Command::Progress(a) => progress::run(a),
        Command::Proposals(a) => proposals::run(a),
        Command::Report(a) => report::run(a),
        Command::Savings(a) => savings::run(a),
        Command::Search(a) => search::run(a),
        Command::Show(a) => show::run(a),
        Command::Status(a) => status::run(a),
        Command::Store(a) => store::run(a),
        Command::Top(a) => top::run(a),
    }
}

/// Runs an inspection command against the store, opened read-only: it must exist and be a
/// primer store at this version (inspection never creates, migrates or writes one).
pub fn inspect_with<F, Fut>(db: Option<String>, f: F) -> Result<ExitCode>
where
    F: FnOnce(primer_store::Store) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let db = db.unwrap_or_else(paths::default_store_url);
    tokio::runtime::Runtime::new()?.block_on(async {
        let store = primer_store::Store::open_read(&db).await?;
        f(store).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Commands that only read and print (their output is often piped into `head`).
pub fn reads_only(c: &Command) -> bool {
    matches!(
        c,
        Command::Check(_)
            | Command::Proposals(_)
            | Command::Diff(_)
            | Command::Status(_)
            | Command::Top(_)
            | Command::Show(_)
            | Command::Analyze(_)
            | Command::Progress(_)
            | Command::Savings(_)
            | Command::Hurdles(_)
            | Command::Lineage(_)
            | Command::Archive(_)
            | Command::Report(_)
    )
}

/// Replaces this process with `primer-engine`, passing the same arguments.
pub fn exec_engine() -> Result<ExitCode> {
    let exe = paths::engine_exe();
    anyhow::ensure!(
        exe.exists(),
        "{} is missing: build it with `cd {} && cargo build --release -p primer-cli -p primer-engine`",
        exe.display(),
        paths::workspace_root().display()
    );
    let err = std::process::Command::new(&exe).args(std::env::args_os().skip(1)).exec();
    Err(err).with_context(|| format!("could not start {}", exe.display()))
}
