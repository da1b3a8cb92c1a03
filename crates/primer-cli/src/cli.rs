//! The command line of `primer`: its own commands' clap definitions; the commands that train
//! or evaluate models are declared once, in `primer-args`, and reach `primer` through
//! [`Command::Engine`], [`Bench::Engine`] and [`Drill::Engine`].

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use primer_dsl::budget::Budget;

pub use primer_args::{
    BenchProgram, BenchSize, DeviceArg, EngineBench, EngineCommand, EngineDrill, ExportFormat, Format, ModelArgs,
    TrainArgs, flags,
};

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
    Doctor {
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
    /// Run the main job: check the installation, then a real search campaign
    /// (experiments/demo.toml, about 10 minutes on 2 cores) on the default corpus.
    Demo {
        /// The store (default: sqlite://demo.db in the workspace). A finished demo campaign is
        /// only reported again; pass --name for a new one.
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        /// Campaign name (default: demo).
        #[arg(long)]
        name: Option<String>,
        /// Local workers (default: 2).
        #[arg(long, value_parser = flags::positive)]
        workers: Option<usize>,
        /// Candidates (default: the demo file's 64).
        #[arg(long, value_parser = flags::positive_u64)]
        candidates: Option<u64>,
        /// Per-candidate budget (default: the demo file's 5e11flops), e.g. 2e10flops for a quick look.
        #[arg(long)]
        budget: Option<Budget>,
    },
    /// Check a program: validity, a shape trace per instruction, parameters and FLOPs.
    ///
    /// Exits non-zero, with the reason and where, when the file cannot be parsed or the
    /// program is invalid for the model size.
    Check {
        /// A program in the `.prim` text format (or `.json`).
        file: PathBuf,
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
    /// How often the sampler proposes each of Primer's changes: N children of each seed program
    /// of a campaign, drawn as the campaign draws them (one mutation each, from its search
    /// space and model), and the share that adds squared ReLU or a depthwise convolution after
    /// Q, K or V, with its 95% interval and what it makes likely in the campaign's candidates
    /// (expected proposals, the chance of at least one) if every parent were like the seed: an
    /// upper bound, to read a campaign that did not find them. Reads the campaign file only.
    Proposals {
        /// The campaign file (TOML), e.g. experiments/rediscover-bpe.toml.
        config: PathBuf,
        /// Children drawn per seed program.
        #[arg(long, default_value_t = 100_000, value_parser = flags::positive_u64)]
        children: u64,
        /// Seed of the draws (default: the campaign's).
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
    /// Show what changed from one program to another (inserted, deleted, changed instructions).
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
    /// Benchmarks that print throughput figures.
    Bench {
        #[command(subcommand)]
        what: Bench,
    },
    /// Run a search campaign: create it (or resume it: run the same command again), train
    /// candidates on local worker processes, show progress, end with the top programs and the
    /// best one's diff against its seed.
    Search {
        /// The campaign file (TOML), e.g. experiments/demo.toml.
        config: PathBuf,
        /// The store (default: $PRIMER_DB, else sqlite://primer.db).
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        /// Local worker processes (overrides `workers`); 0 runs the controller alone, for
        /// workers started elsewhere (`primer worker`, `primer launch slurm`).
        #[arg(long)]
        workers: Option<usize>,
        /// Per-candidate budget (overrides `training.budget`): 500steps, 2e12flops, 60s.
        #[arg(long)]
        budget: Option<Budget>,
        /// Campaign name (overrides `name`; a new name starts a new campaign).
        #[arg(long)]
        name: Option<String>,
        /// Candidates in all (overrides `candidates`; a finished campaign can be extended).
        #[arg(long, value_parser = flags::positive_u64)]
        candidates: Option<u64>,
        /// Seed of every random choice (overrides `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// First put the candidates that failed only because their workers died (never
        /// measured) back to pending, keeping their attempt history; programs that failed on
        /// their own (invalid, diverged, out of memory) stay as they are.
        #[arg(long)]
        retry_failed: bool,
    },
    /// Start workers with a cluster engine: `primer launch slurm CAMPAIGN.toml --workers N`
    /// creates the campaign in the store and submits a Slurm job array of `primer worker`s
    /// against it.
    Launch {
        #[command(subcommand)]
        what: Launch,
    },
    /// Work on stores themselves: `primer store copy FROM TO` moves campaigns between stores
    /// (a local SQLite file into a team's PostgreSQL, and back).
    Store {
        #[command(subcommand)]
        what: StoreCommand,
    },
    /// Campaigns in the store: progress and the best so far, and the workers that did not
    /// exit (live, stale: no heartbeat within the lease, dead: on this host, process gone).
    Status {
        /// The store (default: $PRIMER_DB, else sqlite://primer.db).
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
        /// Also list a finished campaign's dead and stale workers (otherwise counted).
        #[arg(long)]
        all: bool,
    },
    /// The best candidates of a campaign (by name or id); with --budget, ranked by their
    /// retraining at that budget (`primer rerun`).
    Top {
        campaign: String,
        /// How many.
        #[arg(short, default_value_t = 10, value_parser = flags::positive_i64)]
        k: i64,
        /// Rank by the retrainings at this budget instead.
        #[arg(long)]
        budget: Option<Budget>,
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
    /// One candidate: program, metrics, hurdles, learning curve, and its diff against its parent
    /// and its seed (CSV: the learning curve).
    Show {
        candidate: i64,
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
    /// Did the search find Primer's changes? For each (squared ReLU, a depthwise convolution
    /// after Q, K or V, shared Q/K, extra norms; detected on the programs' structure): when it
    /// was first proposed, how often, how many such candidates passed each hurdle, its share of
    /// the population over time and the rank of the best candidate with it. Beside them, what
    /// evolution used: per mutation kind and per inserted or deleted op, how often it was
    /// proposed, survived the hurdles and improved on its parent; and the changes against the
    /// seed that the top K share. Reads the store only.
    Analyze {
        campaign: String,
        /// How many of the best count as the top.
        #[arg(long, default_value_t = 5, value_parser = flags::positive)]
        top: usize,
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
    /// What halving hurdles and functional dedup saved in campaigns, measured, beside the
    /// theory: candidates that reached and passed each hurdle, the FLOPs spent against training
    /// every trained candidate to the full budget, (2^(H+1)-1)/(H+1) (the saving when half pass)
    /// and the same closed form at the pass rates measured; candidates that reused an equal
    /// program's fitness and the compute that spared.
    Savings {
        /// Campaigns (names or ids).
        #[arg(required = true)]
        campaigns: Vec<String>,
        /// Also the pass counts per hurdle in this many equal blocks of births (does the pass
        /// rate fall toward one half as the campaign goes on?).
        #[arg(long, default_value_t = 1, value_parser = flags::positive)]
        blocks: usize,
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
    /// Are the hurdles where rankings hold? For the candidates that trained to the full budget,
    /// Kendall's tau between their validation losses at each hurdle (and where the same
    /// hurdles would sit with bands from 0, at the end of the warm-up, and at --at) and their
    /// losses at the end, from the stored curves.
    Hurdles {
        /// Campaigns (names or ids).
        #[arg(required = true)]
        campaigns: Vec<String>,
        /// Also these fractions of the budget, comma-separated (e.g. 0.1,0.25,0.5).
        #[arg(long, value_delimiter = ',', value_parser = flags::fraction)]
        at: Vec<f64>,
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
    /// Search progress of campaigns side by side (e.g. evolution against random search): each
    /// one's best loss so far against its cumulative training compute; per strategy the median
    /// and quartiles over its campaigns at ten equal steps of the compute every campaign
    /// reached; and at that compute, per strategy, how many campaigns had their best program in
    /// the local basin (no attention, a convolution) and a Primer motif (squared ReLU, a
    /// depthwise conv after Q, K or V) in their top 5, with two strategies tested against each
    /// other (Mann-Whitney U on the best losses, Fisher's exact test on the hit counts).
    Progress {
        /// Campaigns (names or ids); none: every campaign in the store (e.g. a folder of
        /// archives, `--db archive://experiments/evolution-vs-random`).
        campaigns: Vec<String>,
        /// Also write an SVG plot: per strategy, the median best loss so far with its quartiles.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Compare at this training compute in FLOPs (every campaign must have reached it;
        /// default: the compute every campaign reached), e.g. 4e12.
        #[arg(long, value_parser = flags::positive_real)]
        at: Option<f64>,
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
    /// A campaign as one self-contained HTML page (no server, no network: open it from disk):
    /// progress, best so far and every candidate's loss against birth and compute, loss against
    /// parameters and FLOPs per token with the Pareto front, hurdles, what each mutation did,
    /// the top 20 with curves and diffs, the lineage of the best, Primer's motifs. Hover a point
    /// for the candidate, click it for its details. Reads the store only.
    Report {
        campaign: String,
        /// Where the page goes.
        #[arg(long, default_value = "report.html")]
        out: PathBuf,
        /// Rewrite the page every this many seconds until the campaign is finished (the open
        /// page reloads itself).
        #[arg(long, value_name = "SECONDS", value_parser = flags::positive_real)]
        watch: Option<f64>,
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
    },
    /// Write a campaign's archive: a compact, versioned, self-contained copy (gzip JSON: the
    /// resolved config, programs as text, candidates with lineage and mutations, fitness,
    /// hurdles, curves at their eval points, retrainings; no weights) that every command that
    /// only reads opens as a store with `--db archive://FILE` (status, top, show, lineage,
    /// analyze, progress, savings, hurdles, report, compare, export of a candidate), and
    /// `--db archive://FOLDER` opens every archive in a folder as one store. It reads the store
    /// only; a campaign still running is archived as it stands.
    Archive {
        /// The campaign (name or id).
        campaign: String,
        /// The archive to write (by convention `NAME.archive.json.gz`); replaced if it exists.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
    },
    /// A candidate's ancestors back to its seed, with the mutation at each step.
    Lineage {
        candidate: i64,
        /// Write Graphviz (dot) instead.
        #[arg(long)]
        dot: bool,
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
    /// Reliability drills against a real campaign.
    Drill {
        #[command(subcommand)]
        what: Drill,
    },
    /// The commands that train or evaluate models (run by `primer-engine`).
    #[command(flatten)]
    Engine(EngineCommand),
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
        /// GPUs per worker (`--gres=gpu:G`; the worker trains on cuda).
        #[arg(long, default_value_t = 0)]
        gpus_per_worker: u32,
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
    },
    /// Benchmarks that need libtorch (run by `primer-engine`).
    #[command(flatten)]
    Engine(EngineBench),
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
