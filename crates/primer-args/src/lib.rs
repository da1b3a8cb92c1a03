//! The command-line definitions both executables parse: every command that trains or
//! evaluates models, declared once here. `primer` parses them as part of its own command line
//! (so `primer train --help` works where libtorch is missing) and hands them to `primer-engine`
//! with the same words; `primer-engine` parses them with [`EngineCli`]. Also the output format
//! ([`Format`]) and the flag parsers both use ([`flags`]).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use primer_dsl::ModelConfig;
use primer_dsl::budget::Budget;
use primer_dsl::training::{Precision, TrainConfig};

pub use primer_campaign::output::Format;

/// What `primer-engine` parses: the words `primer` was given, for the commands it hands over.
#[derive(Debug, Parser)]
#[command(name = "primer", version, propagate_version = true)]
pub struct EngineCli {
    #[command(subcommand)]
    pub command: EngineTop,
}

/// The engine's commands, where `primer` has them.
#[derive(Debug, Subcommand)]
pub enum EngineTop {
    #[command(flatten)]
    Engine(EngineCommand),
    /// Benchmarks that train.
    Bench {
        #[command(subcommand)]
        what: EngineBench,
    },
    /// Drills that train.
    Drill {
        #[command(subcommand)]
        what: EngineDrill,
    },
}

impl EngineCli {
    /// Parses the command line and checks what one flag's parser cannot, as `primer` does.
    pub fn parse_checked() -> EngineCli {
        use clap::CommandFactory;
        let cli = EngineCli::parse();
        if let EngineTop::Engine(c) = &cli.command
            && let Err(message) = c.check()
        {
            EngineCli::command().error(clap::error::ErrorKind::ValueValidation, message).exit();
        }
        cli
    }
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
        #[arg(long, default_value_t, value_parser = flags::format())]
        format: Format,
    },
}

/// The commands that need libtorch: `primer` hands them to `primer-engine`, which runs them.
/// Declared once, here; `primer` sees them through its `Command::Engine`, `Bench::Engine` and
/// `Drill::Engine` (crates/primer-cli/src/commands), and `primer-engine` through [`EngineCli`].
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
        #[arg(long, default_value_t, value_parser = flags::format())]
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
        /// Run on these cores only, e.g. 0-3 or 2,5 (what `primer search --pin` gives each of
        /// its workers; every thread of the worker inherits it).
        #[arg(long, value_name = "CORES")]
        cpus: Option<Cores>,
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
        #[arg(long, default_value_t, value_parser = flags::format())]
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
        #[arg(long, default_value_t, value_parser = flags::format())]
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
        #[arg(long, default_value_t, value_parser = flags::format())]
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
    #[arg(long, default_value_t = primer_campaign::spec::VALIDATION_BYTES, value_parser = flags::positive_u64)]
    pub validation_bytes: u64,
    /// `f32`, or `bf16`: matrix products, convolutions and attention in bf16, weights and the
    /// rest in f32 (on CUDA; a CPU refuses it, see `primer bench train --precision bf16`).
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
}

/// A list of cores, `0-3,6` (parsed by [`primer_campaign::devices::parse_cpus`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cores(pub Vec<usize>);

impl std::str::FromStr for Cores {
    type Err = String;
    fn from_str(s: &str) -> Result<Cores, String> {
        primer_campaign::devices::parse_cpus(s).map(Cores)
    }
}

/// Where training runs: parsed from `cpu`, `cuda` or `cuda:N` by clap (the engine checks that
/// CUDA is there); the device type `primer search --devices` places workers on.
pub use primer_campaign::devices::Device as DeviceArg;

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
            precision: self.precision,
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
        /// `bf16`: each compiled program in bf16 mixed precision against itself in f32 (same
        /// weights and batches, rounds alternated) instead of against its reference: the
        /// measurement behind bf16's use on a device.
        #[arg(long, default_value = "f32")]
        precision: Precision,
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
    use clap::builder::{PossibleValuesParser, TypedValueParser};

    /// `--format`: table, json or csv (listed in `--help`).
    pub fn format() -> impl TypedValueParser<Value = super::Format> {
        PossibleValuesParser::new(super::Format::NAMES.map(|(n, _)| n))
            .map(|s| s.parse::<super::Format>().expect("one of the possible values"))
    }

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

impl EngineCommand {
    /// What one flag's parser cannot check (`--budgets` of one kind); the message names the flag.
    pub fn check(&self) -> Result<(), String> {
        if let EngineCommand::Compare { budgets, .. } = self {
            let seconds = |b: &Budget| matches!(b, Budget::Seconds(_));
            if budgets.iter().any(seconds) && !budgets.iter().all(seconds) {
                return Err("invalid value for '--budgets <BUDGETS>': all budgets must be of one kind (all FLOPs or all seconds)".into());
            }
        }
        Ok(())
    }

    /// The worker command's flags as the loop takes them (`None` for another command).
    pub fn worker_args(&self) -> Option<primer_campaign::worker::WorkerArgs> {
        let EngineCommand::Worker {
            db,
            campaign,
            device,
            id,
            wait,
            simulate,
            follow_parent,
            latency_log,
            timings,
            cpus,
            ..
        } = self
        else {
            return None;
        };
        Some(primer_campaign::worker::WorkerArgs {
            db: db.clone().unwrap_or_else(primer_campaign::paths::default_store_url),
            campaign: campaign.clone(),
            id: id.clone(),
            device: if simulate.is_some() { "simulated".into() } else { device.to_string() },
            follow_parent: *follow_parent,
            wait_for_campaign: std::time::Duration::from_secs_f64(wait.max(0.0)),
            latency_log: latency_log.clone(),
            timings: timings.clone(),
            cpus: cpus.as_ref().map(|c| c.0.clone()),
        })
    }
}
