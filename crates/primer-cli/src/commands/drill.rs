//! `primer drill`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use primer_args::EngineDrill;
use primer_args::flags;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: Drill,
}

#[derive(Debug, Subcommand)]
pub enum Drill {
    /// Run one real campaign (a controller and W `primer worker`s; default
    /// experiments/drill/campaign.toml: tiny model, step budget, 3 s leases) while sending a
    /// random worker SIGKILL (or SIGTERM: --worker-signal term) K times and SIGKILLing the
    /// controller C times at random moments (seeded), restarting each at once; then check the
    /// store: births 0..n-1 each with exactly one evaluation, no
    /// curve point or checkpoint twice, a reason for every attempt beyond the first, every
    /// stored program parseable, nothing left running. Exits 1 when anything is wrong.
    Chaos {
        /// The store (a new campaign name each run: see --name).
        #[arg(long, value_parser = flags::store_url)]
        db: String,
        /// The campaign file (default: experiments/drill/campaign.toml of the workspace).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Campaign name (default: chaos-SEED).
        #[arg(long)]
        name: Option<String>,
        /// Worker processes.
        #[arg(long, default_value_t = 2, value_parser = flags::positive)]
        workers: usize,
        /// Worker kills.
        #[arg(long, default_value_t = 20)]
        worker_kills: usize,
        /// Controller kills.
        #[arg(long, default_value_t = 5)]
        controller_kills: usize,
        /// Seeds the kill times and victims.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Candidates (overrides the file's).
        #[arg(long, value_parser = flags::positive_u64)]
        candidates: Option<u64>,
        /// Least seconds between kills.
        #[arg(long, default_value_t = 1.0, value_parser = flags::positive_real)]
        min_gap: f64,
        /// Most seconds between kills.
        #[arg(long, default_value_t = 4.0, value_parser = flags::positive_real)]
        max_gap: f64,
        /// Seconds the drill may take in all.
        #[arg(long, default_value_t = 1800.0, value_parser = flags::positive_real)]
        timeout: f64,
        /// The signal workers get: kill (SIGKILL: a crash, the kernel's out-of-memory killer)
        /// or term (SIGTERM: preemption, `scancel`, `docker stop`).
        #[arg(long, value_enum, default_value = "kill")]
        worker_signal: WorkerSignal,
        /// Workers started by the controller (`primer search --workers W`, which stop when it
        /// is killed) instead of by the drill.
        #[arg(long)]
        spawned: bool,
        /// Where the logs go (default: a folder in the temp dir).
        #[arg(long)]
        logs: Option<PathBuf>,
        /// Also write the report as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Drills that need libtorch (run by `primer-engine`).
    #[command(flatten)]
    Engine(EngineDrill),
}

/// What the chaos drill sends workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkerSignal {
    /// SIGKILL.
    Kill,
    /// SIGTERM.
    Term,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let Drill::Chaos {
        db,
        config,
        name,
        workers,
        worker_kills,
        controller_kills,
        seed,
        candidates,
        min_gap,
        max_gap,
        timeout,
        worker_signal,
        spawned,
        logs,
        out,
    } = a.what
    else {
        return super::exec_engine();
    };
    let d = crate::drill::ChaosDrill {
        config: config
            .unwrap_or_else(|| primer_campaign::paths::workspace_root().join("experiments/drill/campaign.toml")),
        db,
        name: name.unwrap_or_else(|| format!("chaos-{seed}")),
        workers,
        worker_kills,
        controller_kills,
        seed,
        candidates,
        min_gap,
        max_gap,
        timeout,
        logs: logs.unwrap_or_else(|| std::env::temp_dir().join(format!("primer-drill-{}", std::process::id()))),
        worker_signal: match worker_signal {
            WorkerSignal::Kill => libc::SIGKILL,
            WorkerSignal::Term => libc::SIGTERM,
        },
        spawned,
    };
    let report = crate::drill::chaos(&d)?;
    crate::drill::print(&report);
    if let Some(out) = out {
        std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(if report.check.violations.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
