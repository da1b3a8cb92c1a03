//! `primer launch`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use primer_args::flags;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: Launch,
}

#[derive(Debug, Subcommand)]
pub enum Launch {
    /// Submit (`sbatch`) a job array of N `primer worker` tasks against the store and print the
    /// job ids; the campaign is created first (or checked, as `primer search` does). Run the
    /// controller with `primer search CAMPAIGN.toml --workers 0` (or pass --with-controller). A
    /// task stopped by `scancel` or preemption loses no candidate: its lease runs out and
    /// another worker takes it. Use a postgres:// store for workers on many nodes.
    Slurm {
        /// The campaign file (TOML).
        config: PathBuf,
        /// Worker tasks in the array.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        workers: u32,
        /// The Slurm partition (default: the cluster's default).
        #[arg(long)]
        partition: Option<String>,
        /// GPUs per array task (`--gres=gpu:G`; its workers train on cuda).
        #[arg(long, default_value_t = 0)]
        gpus_per_worker: u32,
        /// K workers in each array task, sharing its GPU(s) (or CPUs): one `srun` step of K
        /// tasks of --threads CPUs each. N tasks x K workers in all.
        #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        workers_per_device: u32,
        /// Slurm binds each worker to cores of its own (`srun --cpu-bind=cores`; the cluster
        /// needs TaskPlugin=task/affinity or task/cgroup).
        #[arg(long)]
        pin: bool,
        /// Time limit per task: 30:00, 04:00:00, 1-12:00:00 (default: the partition's).
        #[arg(long, value_parser = flags::parse_time)]
        time: Option<String>,
        /// CPUs and libtorch threads per worker (default: the campaign's `training.threads`).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        threads: Option<u32>,
        /// Also submit the controller as a one-CPU job.
        #[arg(long)]
        with_controller: bool,
        /// Print the job script(s) and submit nothing (the store is not touched).
        #[arg(long)]
        dry_run: bool,
        /// The store (default: $PRIMER_DB, else sqlite://primer.db).
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
    },
}

pub fn run(a: Args) -> Result<ExitCode> {
    let Launch::Slurm {
        config,
        workers,
        partition,
        gpus_per_worker,
        workers_per_device,
        pin,
        time,
        threads,
        with_controller,
        dry_run,
        db,
    } = a.what;
    let l = crate::launch::SlurmLaunch {
        config,
        db: db.unwrap_or_else(primer_campaign::paths::default_store_url),
        workers,
        partition,
        gpus_per_worker,
        workers_per_device,
        pin,
        time,
        threads,
        with_controller,
        dry_run,
    };
    tokio::runtime::Runtime::new()?.block_on(crate::launch::slurm(&l))?;
    Ok(ExitCode::SUCCESS)
}
