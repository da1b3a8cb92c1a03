//! The command line: clap definitions shared by `primer` and `primer-engine`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use primer_dsl::ModelConfig;
use primer_dsl::budget::Budget;
use primer_dsl::training::TrainConfig;

/// Evolutionary search over programs of primitives that define a Transformer decoder layer.
#[derive(Debug, Parser)]
#[command(name = "primer", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

pub use crate::output::Format;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the installation: versions, libtorch, threads, CUDA, corpus, store.
    ///
    /// Exits non-zero, with the command that fixes it, when something is missing.
    Doctor {
        #[arg(long, value_enum, default_value_t)]
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
        #[arg(long, value_enum, default_value_t)]
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
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show what changed from one program to another (inserted, deleted, changed instructions).
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[arg(long, value_enum, default_value_t)]
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
        #[arg(long, value_enum, default_value_t)]
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
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// One candidate: program, metrics, hurdles, learning curve, and its diff against its parent
    /// and its seed (CSV: the learning curve).
    Show {
        candidate: i64,
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        #[arg(long, value_enum, default_value_t)]
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
        #[arg(long, value_enum, default_value_t)]
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
        #[arg(long, value_enum, default_value_t)]
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
        #[arg(long, value_enum, default_value_t)]
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
        #[arg(long, value_enum, default_value_t)]
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
        #[arg(long, value_enum, default_value_t)]
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

/// The drills that train (run by `primer-engine`).
#[derive(Debug, Subcommand)]
pub enum EngineDrill {
    /// N random programs (3 of 4 are chains of 1-8 raw mutations of transformer.prim,
    /// primer_ez.prim or primer.prim, without the mutator's checks; 1 of 4 come from the
    /// sampler) validated, compiled and trained 2 steps at d_model 16, seq_len 8, 1 layer:
    /// counts of each outcome (finished, invalid, diverged, out of memory) by source, panics,
    /// and programs validation accepted but compilation or training rejected. Exits 1 on any
    /// panic or disagreement.
    Programs {
        /// How many programs.
        #[arg(long, default_value_t = 10_000, value_parser = flags::positive)]
        count: usize,
        /// Seeds the programs and their training.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The search space mutations draw from (default: search-spaces/primer.toml).
        #[arg(long)]
        space: Option<PathBuf>,
        /// Save programs that panicked or that validation and compilation disagree on here.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Also write the report as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// The commands that need libtorch: `primer` hands them to `primer-engine`, which runs them.
/// Declared once, here; `primer` sees them through [`Command::Engine`] and
/// [`Bench::Engine`].
#[derive(Debug, Subcommand)]
pub enum EngineCommand {
    /// Retrain a campaign's top K candidates at a new budget over N seeds (as the paper
    /// retrained its top 100 at the full budget); stored beside the originals, shown by
    /// `top --budget B`. Resumable: what is stored is not trained again.
    Rerun {
        campaign: String,
        /// How many of the best.
        #[arg(long, default_value_t = 10, value_parser = flags::positive_i64)]
        top: i64,
        /// The new budget: 500steps, 2e12flops, 60s.
        #[arg(long)]
        budget: Budget,
        /// Seeds per candidate.
        #[arg(long, default_value_t = 1, value_parser = flags::positive_i64)]
        seeds: i64,
        /// libtorch threads (default: the campaign's).
        #[arg(long, value_parser = flags::positive)]
        threads: Option<usize>,
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Export a candidate (or a program file) into your own code: the program (`.prim`,
    /// `.json`), a readable PyTorch `model.py` whose parameter names are the safetensors keys,
    /// trained weights (`weights.safetensors`, plus `check.safetensors`: tokens and primer's
    /// logits, which `python model.py` checks itself against), and a traced TorchScript module
    /// (`model.pt`, for `torch.jit.load`; any batch size, the sequence length it was trained at).
    ///
    /// A candidate's weights come from the store; when none are stored, the candidate is trained
    /// at its campaign's budget, model and settings (as its worker trained it, to the end: no
    /// hurdles), and the weights are stored for later exports. Nothing is written unless
    /// everything could be made, and existing files are kept unless --force.
    Export {
        /// A candidate id (see `primer top`), or a program file (`.prim` or `.json`).
        candidate: String,
        /// The folder to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// What to write, comma-separated: prim, json, pytorch, safetensors, torchscript, or all.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
        format: Vec<ExportFormat>,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
        /// For a program file: how much to train it for the weights (e.g. 300steps, 1e12flops).
        #[arg(long)]
        budget: Option<Budget>,
        /// For a program file: a text file or a folder of them (default: the corpus set-up fetched).
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// For a program file: training settings.
        #[command(flatten)]
        training: TrainArgs,
        /// For a program file: the model size.
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
    },
    /// Work for a campaign from any machine that reaches its store: claim pending candidates,
    /// train them, record the results; exit 0 once the campaign is finished. `primer search`
    /// starts its own (--workers); start more by hand, with `primer launch slurm`, or in
    /// containers (docker/, deploy/k8s/). Each registers in the store: `primer status` lists it.
    Worker {
        /// The store (default: $PRIMER_DB, else sqlite://primer.db).
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        /// The campaign, by name or id.
        #[arg(long)]
        campaign: String,
        /// Where to train: cpu, cuda or cuda:N.
        #[arg(long, default_value = "cpu")]
        device: DeviceArg,
        /// libtorch threads (default: the campaign's `training.threads`).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        threads: Option<u32>,
        /// This worker's name in the store (default: host:pid).
        #[arg(long)]
        id: Option<String>,
        /// Seconds to wait for the campaign to appear in the store (its controller may still be
        /// starting, e.g. in another Slurm job).
        #[arg(long, default_value_t = 0.0, value_name = "SECONDS", value_parser = flags::non_negative_real)]
        wait: f64,
        /// No training, no libtorch: sleep for each candidate's training FLOPs at this many FLOP/s
        /// (default 1e10) and report a synthetic loss that depends on the program alone. For load
        /// tests of the coordination path (`primer bench coordination`).
        #[arg(long, value_name = "FLOPS_PER_SECOND", num_args = 0..=1, default_missing_value = "1e10", value_parser = flags::positive_real)]
        simulate: Option<f64>,
        /// Stop when the process that started this one is gone (how `primer search` starts its
        /// own workers).
        #[arg(long, hide = true)]
        follow_parent: bool,
        /// Write the seconds each claim took to this file at exit (for `bench coordination`).
        #[arg(long, hide = true)]
        latency_log: Option<PathBuf>,
        /// Write where this worker's time went (JSON: waiting for work, claims, compile,
        /// fingerprint, training steps, evaluations, store writes, ...) to this file at exit (for
        /// `primer bench campaign`).
        #[arg(long)]
        timings: Option<PathBuf>,
    },
    /// Compare programs the way the paper does: train each at each budget (FLOPs or seconds)
    /// over several seeds, print the loss table (mean and spread) and each program's speedup
    /// against the first (the compute the first needs for its final loss, over the compute this
    /// one needs for the same loss), and write an SVG plot of validation loss against compute.
    Compare {
        /// Programs (`.prim` or `.json` files, or candidate ids of the store); the first is the
        /// baseline.
        #[arg(required = true, num_args = 2..)]
        programs: Vec<String>,
        /// Comma-separated budgets of one kind, FLOPs or seconds: 1e11flops,3e11flops.
        #[arg(long, value_delimiter = ',', required = true, value_parser = flags::flops_or_seconds)]
        budgets: Vec<Budget>,
        /// Seeds per program and budget (0..N).
        #[arg(long, default_value_t = 2, value_parser = flags::positive_u64)]
        seeds: u64,
        /// Where the plot goes.
        #[arg(long, default_value = "compare.svg")]
        svg: PathBuf,
        /// The store candidate ids are read from (default: $PRIMER_DB, else sqlite://primer.db).
        #[arg(long, value_parser = flags::store_url)]
        db: Option<String>,
        /// A text file or a folder of them (default: the corpus set-up fetched).
        #[arg(long)]
        corpus: Option<PathBuf>,
        #[command(flatten)]
        training: TrainArgs,
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Run a landscape study (a TOML file: programs with roles, model sizes with FLOPs budgets,
    /// training settings, seeds): train each program at each size over the seeds, each run once
    /// to the size's largest budget with the loss read at the smaller ones, and write the loss
    /// table (mean ± sd), speedups against the baseline, the regime checks and one plot per size
    /// beside the results file (study.md, study.csv, SIZE.svg). Resumable: runs already in the
    /// results file (same program and settings) are not trained again.
    Study {
        /// The study file, e.g. experiments/landscape/study.toml.
        file: PathBuf,
        /// Only rebuild the tables and plots from the results file; train nothing.
        #[arg(long)]
        render: bool,
        /// Training runs at once (overrides the file's `jobs`).
        #[arg(long, value_parser = flags::positive)]
        jobs: Option<usize>,
        /// The results file (overrides the file's `results`): a long study can append outside
        /// the checkout while it runs; tables and plots go beside it.
        #[arg(long)]
        results: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Train one program on the corpus under a budget: progress, final validation loss and
    /// bits per byte, tokens per second, peak memory.
    Train {
        /// A program in the `.prim` text format (or `.json`).
        file: PathBuf,
        /// How much training: `500steps`, `2e6tokens`, `2e12flops` (analytic training FLOPs) or
        /// `60s` (seconds of training steps).
        #[arg(long, default_value = "200steps")]
        budget: Budget,
        /// A text file or a folder of them (default: the corpus set-up fetched).
        #[arg(long)]
        corpus: Option<PathBuf>,
        #[command(flatten)]
        training: TrainArgs,
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// (engine) Print what libtorch the engine loaded, as JSON.
    #[command(hide = true)]
    EngineInfo,
}

/// What `primer export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum ExportFormat {
    /// program.prim: the program as text.
    Prim,
    /// program.json: the program as JSON.
    Json,
    /// model.py: a self-contained PyTorch module generated from the program.
    Pytorch,
    /// weights.safetensors (under model.py's parameter names) and check.safetensors.
    Safetensors,
    /// model.pt: a TorchScript module traced from the model, weights included.
    Torchscript,
    /// All of the above.
    All,
}

/// Training settings of `train` and `bench train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Seeds the weights' init and the batch order.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
    /// Sequences per step.
    #[arg(long, default_value_t = TrainConfig::default().batch, value_parser = flags::positive)]
    pub batch: usize,
    /// Peak learning rate (AdamW; linear warm-up, then inverse square root decay).
    #[arg(long, default_value_t = TrainConfig::default().lr, value_parser = flags::positive_real)]
    pub lr: f64,
    /// Warm-up steps.
    #[arg(long, default_value_t = TrainConfig::default().warmup)]
    pub warmup: u64,
    /// A validation point every this many steps.
    #[arg(long, default_value_t = TrainConfig::default().eval_interval, value_parser = flags::positive_u64)]
    pub eval_interval: u64,
    /// libtorch intra-op threads (default: libtorch's choice, one per core).
    #[arg(long, value_parser = flags::positive)]
    pub threads: Option<usize>,
    /// `cpu` or `cuda` (`cuda:N` for GPU N).
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
    /// `bytes`, `bpe:N` (byte-level BPE with N tokens, trained on the corpus's training split),
    /// or the path of a byte-level tokenizer.json.
    #[arg(long, default_value = "bytes")]
    pub tokenizer: String,
    /// The validation set: windows spread over the held-out tail covering at least this many
    /// bytes, measured at the end (and every --eval-interval steps on a subset).
    #[arg(long, default_value_t = crate::campaign::VALIDATION_BYTES, value_parser = flags::positive_u64)]
    pub validation_bytes: u64,
}

/// Where training runs: parsed from `cpu`, `cuda` or `cuda:N` by clap (the engine checks that
/// CUDA is there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceArg {
    Cpu,
    Cuda(usize),
}

impl std::str::FromStr for DeviceArg {
    type Err = String;
    fn from_str(s: &str) -> Result<DeviceArg, String> {
        match s {
            "cpu" => Ok(DeviceArg::Cpu),
            "cuda" => Ok(DeviceArg::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceArg::Cuda)
                .ok_or_else(|| format!("`{s}`: expected cpu, cuda or cuda:N")),
        }
    }
}

impl std::fmt::Display for DeviceArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceArg::Cpu => write!(f, "cpu"),
            DeviceArg::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl TrainArgs {
    /// The trainer's settings these flags give (the rest: [`TrainConfig`]'s defaults).
    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            batch: self.batch,
            lr: self.lr,
            warmup: self.warmup,
            eval_interval: self.eval_interval,
            validation_bytes: self.validation_bytes,
            seed: self.seed,
            ..TrainConfig::default()
        }
    }
}

/// The model a program is checked or trained in (defaults: [`ModelConfig`]'s).
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Width of the residual stream (a multiple of 8).
    #[arg(long, default_value_t = ModelConfig::default().d_model, value_parser = flags::d_model)]
    pub d_model: usize,
    /// Sequence length.
    #[arg(long, default_value_t = ModelConfig::default().seq_len, value_parser = flags::positive)]
    pub seq_len: usize,
    /// Number of stacked layers.
    #[arg(long, default_value_t = ModelConfig::default().n_layers, value_parser = flags::positive)]
    pub n_layers: usize,
}

impl ModelArgs {
    pub fn config(&self) -> ModelConfig {
        ModelConfig { d_model: self.d_model, seq_len: self.seq_len, n_layers: self.n_layers, ..ModelConfig::default() }
    }
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
        #[arg(long, value_enum, default_value_t)]
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

/// The benchmarks that train (run by `primer-engine`).
#[derive(Debug, Subcommand)]
pub enum EngineBench {
    /// Training throughput of compiled programs against their hand-written references
    /// (transformer.prim and primer_ez.prim; same weights, same batches, rounds alternated),
    /// at the campaigns' size and a larger one: tokens per second, their ratio, model FLOPs
    /// utilisation (analytic training FLOPs per second over the best f32 matmul GFLOP/s at the
    /// model's shapes, measured in the same run) and peak memory.
    Train {
        /// Timed steps per round and model (after 3 untimed warm-up steps).
        #[arg(long, default_value_t = 30, value_parser = flags::positive_u64)]
        steps: u64,
        /// Rounds (reference, compiled, reference, ...); each model's median round is reported.
        #[arg(long, default_value_t = 3, value_parser = flags::positive)]
        rounds: usize,
        /// Sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "campaign,large")]
        sizes: Vec<BenchSize>,
        /// Programs, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "transformer,primer-ez")]
        programs: Vec<BenchProgram>,
        /// Seeds the weights and the batches.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// `cpu` or `cuda` (`cuda:N`); on a GPU the sizes' thread counts do not apply.
        #[arg(long, default_value = "cpu")]
        device: DeviceArg,
        /// Also write the figures as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// libtorch's matmul GFLOP/s on this machine at the models' shapes (the projections, the
    /// feed-forward, the output head, a weight gradient, attention scores), for 1 and 2
    /// threads, f32 and bf16: the peak that `bench train`'s MFU is measured against.
    Matmul {
        /// Thread counts, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,2", value_parser = flags::positive)]
        threads: Vec<usize>,
        /// Sizes whose shapes are measured, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "campaign,large")]
        sizes: Vec<BenchSize>,
        /// Seconds per shape, thread count and type.
        #[arg(long, default_value_t = 0.3, value_parser = flags::positive_real)]
        seconds: f64,
        /// `cpu` or `cuda` (`cuda:N`).
        #[arg(long, default_value = "cpu")]
        device: DeviceArg,
        /// Also write the figures as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// The model sizes the benchmarks measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BenchSize {
    /// The campaigns': d_model 64, seq_len 64, 2 layers, batch 16, 1 thread.
    Campaign,
    /// d_model 128, seq_len 128, 2 layers, batch 16, 2 threads.
    Large,
}

impl BenchSize {
    pub fn model(self) -> ModelConfig {
        let (d_model, seq_len) = match self {
            BenchSize::Campaign => (64, 64),
            BenchSize::Large => (128, 128),
        };
        ModelConfig { d_model, seq_len, n_layers: 2, ..ModelConfig::default() }
    }
    pub fn batch(self) -> usize {
        16
    }
    pub fn threads(self) -> usize {
        match self {
            BenchSize::Campaign => 1,
            BenchSize::Large => 2,
        }
    }
}

/// The programs `primer bench train` compares with their hand-written references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BenchProgram {
    /// search-spaces/programs/transformer.prim
    Transformer,
    /// search-spaces/programs/primer_ez.prim
    PrimerEz,
}

/// Value parsers that check flags at the door: a bad value exits with status 2 and a message
/// naming the flag, before anything is loaded, trained or opened.
pub mod flags {
    /// A Slurm time limit: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM` or `D-HH:MM:SS`, not zero.
    pub fn parse_time(s: &str) -> std::result::Result<String, String> {
        let bad = || format!("`{s}`: expected a Slurm time limit such as 30, 30:00, 04:00:00 or 1-12:00:00");
        let number = |p: &str| {
            (!p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u32>().ok())
                .flatten()
        };
        let (days, rest) = match s.split_once('-') {
            Some((d, r)) => (Some(d.parse::<u32>().map_err(|_| bad())?), r),
            None => (None, s),
        };
        let f: Vec<u32> = rest.split(':').map(number).collect::<Option<_>>().ok_or_else(bad)?;
        // Fields from the last: seconds, minutes (< 60); with a day count the first is hours (< 24).
        let seconds = match (days, f.as_slice()) {
            (None, [m]) => m * 60,
            (None, [m, sec]) if *sec < 60 => m * 60 + sec,
            (None, [h, m, sec]) if *m < 60 && *sec < 60 => h * 3600 + m * 60 + sec,
            (Some(d), [h]) if *h < 24 => d * 86400 + h * 3600,
            (Some(d), [h, m]) if *h < 24 && *m < 60 => d * 86400 + h * 3600 + m * 60,
            (Some(d), [h, m, sec]) if *h < 24 && *m < 60 && *sec < 60 => d * 86400 + h * 3600 + m * 60 + sec,
            _ => return Err(bad()),
        };
        if seconds == 0 { Err(bad()) } else { Ok(s.to_string()) }
    }

    /// Parses `2x1` (2 workers of 1 thread each).
    pub fn split(s: &str) -> Result<(usize, usize), String> {
        let (w, t) = s.split_once('x').ok_or_else(|| format!("`{s}`: expected WORKERSxTHREADS, e.g. 2x1"))?;
        let n = |v: &str| v.trim().parse::<usize>().ok().filter(|&n| n >= 1);
        match (n(w), n(t)) {
            (Some(w), Some(t)) => Ok((w, t)),
            _ => Err(format!("`{s}`: workers and threads must be whole numbers of at least 1")),
        }
    }

    use primer_dsl::budget::Budget;

    fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
        s.trim().parse().map_err(|_| format!("`{s}` is not a number"))
    }

    /// A count of at least 1 (batch, sequence length, layers, seeds, ...).
    pub fn positive(s: &str) -> Result<usize, String> {
        match number::<usize>(s)? {
            0 => Err("must be at least 1".into()),
            n => Ok(n),
        }
    }

    /// [`positive`], as u64.
    pub fn positive_u64(s: &str) -> Result<u64, String> {
        positive(s).map(|n| n as u64)
    }

    /// [`positive`], as i64.
    pub fn positive_i64(s: &str) -> Result<i64, String> {
        positive(s).and_then(|n| i64::try_from(n).map_err(|_| "too large".into()))
    }

    /// A count of at least 10 (births measured by a load test).
    pub fn at_least_ten(s: &str) -> Result<usize, String> {
        match number::<usize>(s)? {
            n if n < 10 => Err(format!("must be at least 10, is {n}")),
            n => Ok(n),
        }
    }

    /// A finite real above 0 (learning rate, rates, seconds).
    pub fn fraction(s: &str) -> Result<f64, String> {
        match s.trim().parse::<f64>() {
            Ok(x) if x > 0.0 && x <= 1.0 => Ok(x),
            _ => Err(format!("`{s}` is not a fraction of the budget in (0, 1]")),
        }
    }

    pub fn positive_real(s: &str) -> Result<f64, String> {
        let x: f64 = number(s)?;
        if x.is_finite() && x > 0.0 { Ok(x) } else { Err(format!("must be a positive number, is {x}")) }
    }

    /// A finite real of at least 0.
    pub fn non_negative_real(s: &str) -> Result<f64, String> {
        let x: f64 = number(s)?;
        if x.is_finite() && x >= 0.0 { Ok(x) } else { Err(format!("must be 0 or more, is {x}")) }
    }

    /// The residual width: a positive multiple of 8 (dims are in units of d_model / 8).
    pub fn d_model(s: &str) -> Result<usize, String> {
        let n = positive(s)?;
        if n.is_multiple_of(8) { Ok(n) } else { Err(format!("{n} is not a multiple of 8")) }
    }

    /// A budget in FLOPs or seconds (what `compare` measures speedups in).
    pub fn flops_or_seconds(s: &str) -> Result<Budget, String> {
        match s.parse::<Budget>()? {
            b @ (Budget::Flops(_) | Budget::Seconds(_)) => Ok(b),
            b => Err(format!("`{b}`: compare needs FLOPs or seconds budgets, e.g. 1e11flops,3e11flops")),
        }
    }

    /// A store URL of a scheme primer can open (`sqlite://PATH`, `postgres://...`).
    pub fn store_url(s: &str) -> Result<String, String> {
        primer_store::Backend::of(s).map_err(|e| e.to_string())?;
        if s.starts_with("archive:") && primer_store::archive_file(s).is_none() {
            return Err(format!("`{s}`: no file named; use archive://PATH"));
        }
        if s.starts_with("sqlite:") && primer_store::sqlite_file(s).is_none() {
            return Err(format!("`{s}`: no file named; use sqlite://PATH"));
        }
        Ok(s.to_string())
    }
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
        if let Command::Engine(EngineCommand::Compare { budgets, .. }) = &self.command {
            let seconds = |b: &Budget| matches!(b, Budget::Seconds(_));
            if budgets.iter().any(seconds) && !budgets.iter().all(seconds) {
                return Err("invalid value for '--budgets <BUDGETS>': all budgets must be of one kind (all FLOPs or all seconds)".into());
            }
        }
        Ok(())
    }
}

impl EngineCommand {
    /// The worker command's flags as the loop takes them (`None` for another command).
    pub fn worker_args(&self) -> Option<crate::work::WorkerArgs> {
        let EngineCommand::Worker {
            db, campaign, device, id, wait, simulate, follow_parent, latency_log, timings, ..
        } = self
        else {
            return None;
        };
        Some(crate::work::WorkerArgs {
            db: db.clone().unwrap_or_else(crate::paths::default_store_url),
            campaign: campaign.clone(),
            id: id.clone(),
            device: if simulate.is_some() { "simulated".into() } else { device.to_string() },
            follow_parent: *follow_parent,
            wait_for_campaign: std::time::Duration::from_secs_f64(wait.max(0.0)),
            latency_log: latency_log.clone(),
            timings: timings.clone(),
        })
    }
}
