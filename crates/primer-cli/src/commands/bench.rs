//! `primer bench`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use primer_args::EngineBench;
use primer_args::flags;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: Bench,
}

#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Parse + validate + canonical hash of a program (default: transformer.prim), on one
    /// thread: programs per second per core, for each stage and all together.
    Dsl {
        /// The program to measure.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Seconds to measure each stage.
        #[arg(long, default_value_t = 2.0, value_parser = flags::positive_real)]
        seconds: f64,
    },
    /// Children per second per core: mutation (re-mutation included) + validation + canonical
    /// hash of a program (default: transformer.prim) in a search space (default: primer-cpu).
    Evolve {
        /// The parent program.
        #[arg(long)]
        file: Option<PathBuf>,
        /// The search space.
        #[arg(long)]
        space: Option<PathBuf>,
        /// Seconds to measure.
        #[arg(long, default_value_t = 3.0, value_parser = flags::positive_real)]
        seconds: f64,
    },
    /// The load test of the coordination path: a campaign holding H finished candidates is
    /// extended by --births with the controller alone and W simulated workers (`primer worker
    /// --simulate`: no training), offered --rate candidates per second, on SQLite and on a real
    /// PostgreSQL server started for the run. Prints candidates per second sustained, worker
    /// busy share, claim latency p50/p99, controller CPU per birth, and checks that no
    /// candidate was lost or evaluated twice.
    Coordination {
        /// The campaign (its model, budget (FLOPs), population and hurdles).
        #[arg(long, default_value = "experiments/coordination/campaign.toml")]
        config: PathBuf,
        /// Backends, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
        backends: Vec<String>,
        /// Numbers of simulated workers, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "64,256", value_parser = flags::positive)]
        workers: Vec<usize>,
        /// Candidates of history before the measured births, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1000,25000")]
        history: Vec<usize>,
        /// New births measured in each run.
        #[arg(long, default_value_t = 600, value_parser = flags::at_least_ten)]
        births: usize,
        /// Offered load: candidates per second (each candidate takes workers / rate seconds).
        #[arg(long, default_value_t = 33.0, value_parser = flags::positive_real)]
        rate: f64,
        /// Also write the figures as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// `primer report` at scale: a synthetic store of N candidates (real, distinct programs
    /// with lineage, results, curves and hurdle checkpoints) is built, then its report is
    /// written: seconds and size.
    Report {
        /// Candidates in the synthetic campaign.
        #[arg(long, default_value_t = 25_000, value_parser = flags::positive)]
        candidates: usize,
        /// The folder for the store and the page (default: a new one in the temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Candidates per core-hour: a short real campaign (default: the demo's config) run once
    /// per split of the cores (workers x threads each, default 2x1 and 1x2), with the
    /// controller alone and the workers started here; prints candidates per core-hour,
    /// training GFLOP/s per core, where the workers' wall time went (start-up, waiting,
    /// claims, fingerprints, store writes, compiling, batches, training steps, validation,
    /// recording) and the controller's CPU time per birth.
    Campaign {
        /// The campaign file.
        #[arg(default_value = "experiments/demo.toml")]
        config: PathBuf,
        /// Splits of the cores, WORKERSxTHREADS, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "2x1,1x2", value_parser = flags::split)]
        splits: Vec<(usize, usize)>,
        /// Candidates in each run.
        #[arg(long, default_value_t = 32, value_parser = flags::positive_u64)]
        candidates: u64,
        /// Keep the stores, logs and worker timings here (default: a temporary folder, removed).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Also write the figures as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run each split twice, unpinned and with each worker's threads pinned to cores of
        /// their own (`primer search --pin`), and print the ratio.
        #[arg(long)]
        pin: bool,
        /// Where the workers train: cpu or cuda:N (a split WxT then puts W workers on it).
        #[arg(long, default_value = "cpu")]
        device: primer_args::DeviceArg,
    },
    /// Benchmarks that need libtorch (run by `primer-engine`).
    #[command(flatten)]
    Engine(EngineBench),
}

pub fn run(a: Args) -> Result<ExitCode> {
    match a.what {
        Bench::Dsl { file, seconds } => crate::bench::bench_dsl(file.as_deref(), seconds)?,
        Bench::Evolve { file, space, seconds } => {
            crate::bench::bench_evolve(file.as_deref(), space.as_deref(), seconds)?
        }
        Bench::Coordination { config, backends, workers, history, births, rate, out } => {
            crate::loadtest::coordination(&crate::loadtest::LoadTest {
                config,
                backends,
                workers,
                history,
                births,
                rate,
                out,
            })?
        }
        Bench::Campaign { config, splits, candidates, dir, out, pin, device } => {
            let device = device.to_string();
            let b = crate::throughput::CampaignBench { config, splits, candidates, dir, out, pin, device };
            crate::throughput::campaign(&b)?;
        }
        Bench::Report { candidates, dir } => {
            let dir =
                dir.unwrap_or_else(|| std::env::temp_dir().join(format!("primer-bench-report-{}", std::process::id())));
            let watch = primer_campaign::disturbance::Watch::start();
            tokio::runtime::Runtime::new()?.block_on(crate::report::bench(candidates, &dir))?;
            watch.verdict().print();
        }
        Bench::Engine(_) => return super::exec_engine(),
    }
    Ok(ExitCode::SUCCESS)
}
