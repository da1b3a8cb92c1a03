//! Campaign configs (`experiments/*.toml`): the file as written ([`CampaignFile`]), command-line
//! overrides, and the resolved [`CampaignSpec`] that is stored verbatim (as JSON) with the
//! campaign and read back by every worker. Built before any database or device is touched.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use primer_dsl::analysis::{Cost, canonical_hash};
use primer_dsl::budget::Budget;
use primer_dsl::space::{find_key, line_col};
use primer_dsl::training::{Precision, TrainConfig};
use primer_dsl::validate::validate;
use primer_dsl::{ModelConfig, Program, SearchSpace};
use primer_evolve::{HalvingHurdles, Objective, RegularizedEvolution, Strategy};
use primer_tokens::corpus::{Tokens, ValidationRule, ValidationSummary};
use primer_tokens::{Choice, Codec, TokenizerSpec};

/// A campaign file. Every field is required unless a default is given; unknown fields are
/// errors that name the field, line and column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignFile {
    /// The campaign's name in the store (one campaign per name).
    pub name: String,
    /// Seeds every random choice of the search and of training.
    pub seed: u64,
    /// The search space, relative to this file.
    pub search_space: PathBuf,
    /// Seed programs: `.prim` files (relative to this file), `"campaign:NAME"` (the best
    /// candidate of campaign NAME in the same store), or tables `{ campaign = "NAME", top = K }`,
    /// `{ campaign = "NAME", candidates = [ID, ...] }`, each with an optional `store = "URL"`.
    pub seeds: Vec<SeedEntry>,
    /// Candidates in all, seeds included.
    pub candidates: u64,
    /// Local worker processes.
    pub workers: usize,
    /// The model size (`vocab`: leave it out, the tokenizer sets it).
    pub model: ModelConfig,
    pub training: TrainingSection,
    pub evolution: EvolutionSection,
    pub hurdles: HurdlesSection,
    #[serde(default)]
    pub execution: ExecutionSection,
    #[serde(default)]
    pub dedup: DedupSection,
}

/// One entry of `seeds`: a program file or candidates of an earlier campaign.
#[derive(Debug, Clone, PartialEq)]
pub enum SeedEntry {
    File(PathBuf),
    Campaign(FromCampaign),
}

/// Seeds taken from an earlier campaign's results (`seeds` entries, `--seed-from`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FromCampaign {
    /// The campaign's name (or id).
    pub campaign: String,
    /// Its K best candidates with a loss (default 1, unless `candidates` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<usize>,
    /// These candidates (ids), instead of the best.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<i64>>,
    /// The store that holds it (default: the campaign's own store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

impl FromCampaign {
    /// `campaign:NAME`: the campaign's best candidate.
    pub fn parse(text: &str) -> Option<FromCampaign> {
        let name = text.strip_prefix("campaign:")?.trim();
        (!name.is_empty()).then(|| FromCampaign { campaign: name.into(), top: None, candidates: None, store: None })
    }

    /// How the entry reads, the same for the same choice: `campaign:NAME top=K` or
    /// `campaign:NAME candidates=1,2`, with ` store=URL` when another store is named. Stored
    /// with each seed it gave, so that a resumed campaign keeps the seeds it began with.
    pub fn selector(&self) -> String {
        let which = match &self.candidates {
            Some(ids) => format!("candidates={}", ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")),
            None => format!("top={}", self.top.unwrap_or(1)),
        };
        let store = self.store.as_ref().map_or(String::new(), |s| format!(" store={s}"));
        format!("campaign:{} {which}{store}", self.campaign)
    }
}

impl<'de> Deserialize<'de> for SeedEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<SeedEntry, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Table(toml::Table),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) if t.starts_with("campaign:") => FromCampaign::parse(&t)
                .map(SeedEntry::Campaign)
                .ok_or_else(|| serde::de::Error::custom(format!("`{t}`: expected campaign:NAME"))),
            Raw::Text(t) => Ok(SeedEntry::File(PathBuf::from(t))),
            Raw::Table(t) => {
                let from: FromCampaign = t.try_into().map_err(|e: toml::de::Error| {
                    serde::de::Error::custom(format!("a seed from a campaign: {}", e.message()))
                })?;
                if from.top.is_some() && from.candidates.is_some() {
                    return Err(serde::de::Error::custom(
                        "a seed from a campaign takes `top` or `candidates`, not both",
                    ));
                }
                if from.top == Some(0) {
                    return Err(serde::de::Error::custom("`top` must be at least 1"));
                }
                Ok(SeedEntry::Campaign(from))
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainingSection {
    /// Per candidate: `500steps`, `2e6tokens`, `2e12flops` or `60s` (stored as that text).
    #[serde(with = "primer_dsl::budget::as_text")]
    pub budget: Budget,
    pub batch: usize,
    pub lr: f64,
    pub warmup: u64,
    /// A validation point every this many steps.
    pub eval_interval: u64,
    /// Validation batches (fixed windows of the held-out tail).
    pub val_batches: usize,
    /// libtorch threads per worker.
    #[serde(default = "one")]
    pub threads: usize,
    /// A text file or folder (default: the corpus set-up fetched).
    #[serde(default)]
    pub corpus: Option<PathBuf>,
    /// `bytes` (the default), `bpe:N` (byte-level BPE with N tokens trained on the corpus's
    /// training split), or the path of a byte-level tokenizer.json (relative to this file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
    /// The validation set: windows spread over the whole held-out tail whose predicted tokens
    /// cover at least this many bytes (default 65,536), all measured at every hurdle and at
    /// the end; `val_batches` x `batch` of them (every k-th) at the curve points between.
    /// Campaigns made before it measured `val_batches` x `batch` consecutive windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_bytes: Option<u64>,
    /// `f32` (the default) or `bf16`: matrix products, convolutions and attention in bf16 with
    /// f32 weights and everything else in f32 (see `Model::with_precision`). Part of the
    /// campaign's identity; CUDA only (on CPU it measured slower: `primer bench train
    /// --precision bf16`).
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
}

/// The validation set of new campaigns and studies: at least this many bytes.
pub const VALIDATION_BYTES: u64 = 65_536;

fn one() -> usize {
    1
}

impl TrainingSection {
    /// The trainer's settings for one run with this training `seed` (what the file does not
    /// set keeps [`TrainConfig`]'s defaults).
    pub fn config(&self, seed: u64) -> TrainConfig {
        TrainConfig {
            batch: self.batch,
            lr: self.lr,
            warmup: self.warmup,
            eval_interval: self.eval_interval,
            val_batches: self.val_batches,
            validation_bytes: self.validation_bytes.unwrap_or(0),
            seed,
            precision: self.precision,
            ..TrainConfig::default()
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvolutionSection {
    /// P: the last P finished candidates are alive.
    pub population: usize,
    /// S: tournament size (with replacement).
    pub tournament: usize,
    /// Mutations drawn per child before a new tournament is held.
    #[serde(default = "hundred")]
    pub max_tries: u32,
    /// `evolution` (regularized evolution, the default) or `random` (random search with the same
    /// mutations: each candidate is a seed after 1 to `max_mutations` random mutations; the
    /// population and tournament are then unused).
    #[serde(default)]
    pub strategy: StrategyName,
    /// Under `random`: the most mutations a candidate is from its seed.
    #[serde(default = "eight")]
    pub max_mutations: u32,
    /// How the first population is made: `mutants` (the default: no tournament until P
    /// members are measured; until then every child is a one-mutation mutant of a seed, the
    /// seeds in turn, as the paper's regularized evolution starts from P evaluated members) or
    /// `grow` (tournaments from the first measured member on: campaigns made before this
    /// existed, where the first helpful mutation could sweep a population of a few).
    #[serde(default)]
    pub first_population: Option<FirstPopulation>,
    /// `loss` (the default: tournaments by loss) or `pareto` (tournaments by non-dominated
    /// rank of (loss, `second_objective`), then by loss; hurdles still compare the loss).
    #[serde(default)]
    pub objective: Option<ObjectiveName>,
    /// The cost a Pareto search trades the loss against: `flops_per_byte` (training FLOPs per
    /// byte of text: per token over the tokenizer's bytes per token) or `parameters`.
    #[serde(default)]
    pub second_objective: Option<SecondObjective>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveName {
    Loss,
    Pareto,
}

/// The second objective of a Pareto search.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SecondObjective {
    FlopsPerByte,
    Parameters,
}

impl SecondObjective {
    /// Its name in files and output.
    pub fn name(self) -> &'static str {
        match self {
            SecondObjective::FlopsPerByte => "flops_per_byte",
            SecondObjective::Parameters => "parameters",
        }
    }
}

/// How a campaign's second objective is computed from a program's size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostOf {
    pub second: SecondObjective,
    /// Bytes of text per token (1 for bytes).
    pub bytes_per_token: f64,
}

impl CostOf {
    /// The cost of a program with these parameters and training FLOPs per token.
    pub fn of(&self, parameters: i64, flops_per_token: i64) -> f64 {
        match self.second {
            SecondObjective::FlopsPerByte => flops_per_token as f64 / self.bytes_per_token,
            SecondObjective::Parameters => parameters as f64,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FirstPopulation {
    #[default]
    Mutants,
    Grow,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StrategyName {
    #[default]
    Evolution,
    Random,
}

fn eight() -> u32 {
    8
}

fn hundred() -> u32 {
    100
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HurdlesSection {
    /// H, the number of halving hurdles (0: none).
    pub count: usize,
    /// Earlier candidates needed at a checkpoint before its median applies.
    pub min_predecessors: usize,
    /// The median is over the latest `window` earlier candidates that reached the checkpoint
    /// (0: all of them; the default: the population's size, or `min_predecessors` if that is
    /// more). At least `min_predecessors`.
    #[serde(default)]
    pub window: Option<usize>,
    /// Where the hurdles' bands begin: `"warmup"` (the default: at the end of the learning-rate
    /// warm-up, where rankings start to hold) or a fraction of the budget (0 puts the first
    /// hurdle where campaigns made before this put it).
    #[serde(default)]
    pub start: Option<HurdleStart>,
}

/// `[hurdles] start`: the end of the warm-up, or a fraction of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub enum HurdleStart {
    #[default]
    Warmup,
    Fraction(f64),
}

impl<'de> Deserialize<'de> for HurdleStart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<HurdleStart, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) if t == "warmup" => Ok(HurdleStart::Warmup),
            Raw::Number(x) if (0.0..1.0).contains(&x) => Ok(HurdleStart::Fraction(x)),
            Raw::Number(x) => Err(serde::de::Error::custom(format!("{x} is not a fraction of the budget in [0, 1)"))),
            Raw::Text(t) => Err(serde::de::Error::custom(format!(
                "`{t}`: expected \"warmup\" or a fraction of the budget in [0, 1)"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExecutionSection {
    /// A worker's lease on a candidate; renewed every third of it while training.
    pub lease_seconds: f64,
    /// Attempts (worker deaths) before a candidate is recorded as failed.
    pub max_attempts: i64,
}

impl Default for ExecutionSection {
    fn default() -> Self {
        ExecutionSection { lease_seconds: 30.0, max_attempts: 3 }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DedupSection {
    /// Reuses of a functionally equal program's fitness before it is re-measured (0: no reuse).
    #[serde(default = "ten")]
    pub fec_remeasure_after: u32,
    /// Fitness reused across campaigns: a candidate whose program was trained to the full
    /// budget in another campaign of the store under the same settings (model, training,
    /// tokenizer, corpus by hash, validation set, budget) takes that loss instead of training.
    /// Default true for new campaigns (`--no-reuse`: false). Stored only when true: absent in
    /// specs stored before it, which keep their meaning (no reuse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse: Option<bool>,
}

fn ten() -> u32 {
    10
}

impl Default for DedupSection {
    fn default() -> Self {
        DedupSection { fec_remeasure_after: 10, reuse: None }
    }
}

/// Command-line overrides of a campaign file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub name: Option<String>,
    pub workers: Option<usize>,
    pub budget: Option<Budget>,
    pub candidates: Option<u64>,
    pub seed: Option<u64>,
    /// Not an override of the file: put candidates that failed only because their workers died
    /// back to pending before the search goes on (`primer search --retry-failed`).
    pub retry_failed: bool,
    /// Seeds from earlier campaigns, after the file's (`--seed-from`).
    pub seed_from: Vec<FromCampaign>,
    /// No fitness reused across campaigns (`--no-reuse`).
    pub no_reuse: bool,
    /// Not an override of the file: where local workers run (`--devices`, `--pin`).
    pub placement: crate::devices::Placement,
}

/// A seed program as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeedSpec {
    /// The file, or `campaign:NAME candidate ID` for a seed from a campaign.
    pub file: String,
    /// Canonical hash (hex): the program is in the store's programs table.
    pub hash: String,
    /// Where a seed from a campaign came from (absent for a file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<SeedOrigin>,
}

/// The candidate a seed from a campaign is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedOrigin {
    /// The entry that chose it ([`FromCampaign::selector`]).
    pub selector: String,
    /// The store it is in (absent: this campaign's store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    pub campaign: String,
    pub candidate: i64,
    pub birth: i64,
    /// Its loss there.
    pub fitness: Option<f64>,
}

/// Seeds read from earlier campaigns before a campaign file is resolved, by
/// [`FromCampaign::selector`].
pub type Fetched = std::collections::HashMap<String, Vec<(SeedSpec, Program)>>;

/// The resolved campaign: everything the controller and every worker need, paths made
/// absolute, the search space and seed programs read. Stored verbatim as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    pub name: String,
    pub seed: u64,
    pub candidates: u64,
    pub workers: usize,
    pub space_file: String,
    pub space: SearchSpace,
    pub seeds: Vec<SeedSpec>,
    pub model: ModelConfig,
    pub training: TrainingSection,
    pub evolution: RegularizedEvolution,
    /// Absent in stores written before random search existed: evolution.
    #[serde(default, skip_serializing_if = "Strategy::is_evolution")]
    pub strategy: Strategy,
    pub max_tries: u32,
    pub hurdles: HalvingHurdles,
    pub execution: ExecutionSection,
    pub dedup: DedupSection,
    /// The tokenizer (its file included): absent in stores written before tokenizers, bytes.
    #[serde(default, skip_serializing_if = "TokenizerSpec::is_bytes")]
    pub tokenizer: TokenizerSpec,
    /// The spread validation set's size (absent for the leading set of older campaigns, whose
    /// tokens are bytes): bits per byte = nats per token / ln 2 / its bytes per token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationSummary>,
    /// SHA-256 of the corpus's text (absent in specs stored before it): part of the settings
    /// under which a fitness may be reused across campaigns ([`CampaignSpec::reuse_key`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus_sha256: Option<String>,
    /// The second objective of a Pareto search (`evolution.objective` is then `pareto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_objective: Option<SecondObjective>,
}

/// A resolved spec with the seed programs themselves.
pub struct Resolved {
    pub spec: CampaignSpec,
    pub seed_programs: Vec<Program>,
    /// The settings the file left to their defaults.
    pub defaulted: Defaulted,
}

/// Settings whose defaults changed for new campaigns (`[hurdles] start` and `window`,
/// `[evolution] first_population`), left unset by a campaign file. A campaign made before the
/// change resumes from the same file as it was made: the stored values are kept
/// ([`CampaignSpec::adopt_defaults`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Defaulted {
    pub hurdle_start: bool,
    pub hurdle_window: bool,
    pub first_population: bool,
    pub validation_bytes: bool,
    pub reuse: bool,
}

/// Where the last part of a dotted field name (`training.budget` -> `budget`) is first written.
fn locate(text: &str, field: &str) -> (usize, usize) {
    find_key(text, field.rsplit('.').next().unwrap_or(field))
}

/// Parses a TOML file into `T`; errors say `file:line:column: message` (campaign and study files),
/// with the dotted key the error is in (`training.budget`) when toml knows it.
pub fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, file: &str) -> Result<T> {
    let text = primer_dsl::text::without_bom(text);
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        match key_path(&e) {
            Some(key) => anyhow::anyhow!("{file}:{line}:{column}: `{key}`: {}", e.message()),
            None => anyhow::anyhow!("{file}:{line}:{column}: {}", e.message()),
        }
    })
}

/// The dotted key path toml records for an error. toml prints it (`in \`a.b\``) only for an
/// error without its input, so it is read from that rendering.
fn key_path(e: &toml::de::Error) -> Option<String> {
    let mut bare = e.clone();
    bare.set_input(None);
    bare.to_string().lines().find_map(|l| Some(l.strip_prefix("in `")?.strip_suffix('`')?.to_string()))
}

impl CampaignFile {
    /// Parses a campaign file; errors say `file:line:column: message`.
    pub fn parse(text: &str, file: &str) -> Result<CampaignFile> {
        parse_toml(text, file)
    }
}

/// The fraction of the budget the learning-rate warm-up takes, for `[hurdles] start =
/// "warmup"`. Under a FLOPs budget, a program's steps depend on its cost per token: the warm-up
/// is placed for the costliest seed (`flops_per_token`, training FLOPs), so a child that costs
/// more per token than every seed ends its warm-up a little after the start.
pub fn warmup_fraction(t: &TrainingSection, model: &ModelConfig, flops_per_token: u64) -> Result<f64, String> {
    let tokens_per_step = (t.batch * model.seq_len) as f64;
    let fraction = match t.budget {
        Budget::Steps(n) => t.warmup as f64 / n as f64,
        Budget::Tokens(n) => t.warmup as f64 * tokens_per_step / n as f64,
        Budget::Flops(x) => t.warmup as f64 * tokens_per_step * flops_per_token as f64 / x,
        Budget::Seconds(_) if t.warmup == 0 => 0.0,
        Budget::Seconds(_) => {
            return Err(format!(
                "\"warmup\" cannot place the warm-up in a budget of seconds ({}): give the fraction of the budget the {} warm-up steps take, e.g. start = 0.2",
                t.budget, t.warmup
            ));
        }
    };
    if fraction >= 1.0 {
        return Err(format!(
            "the warm-up ({} steps) takes {:.0}% of the budget {}: no room for hurdles after it (shorten the warm-up, raise the budget, or give start as a fraction)",
            t.warmup,
            100.0 * fraction,
            t.budget
        ));
    }
    Ok(fraction)
}

/// Bytes per predicted validation token of a stored campaign (its `config` JSON): 1 for bytes
/// and for campaigns made before tokenizers. Bits per byte = nats per token / ln 2 / this.
pub fn bytes_per_token(config: &str) -> f64 {
    serde_json::from_str::<serde_json::Value>(config)
        .ok()
        .and_then(|v| serde_json::from_value::<ValidationSummary>(v.get("validation")?.clone()).ok())
        .map_or(1.0, |v| v.bytes_per_token())
}

/// The campaign's name and the seeds a campaign file (with its overrides) takes from earlier
/// campaigns: what to fetch from the store before [`resolve`].
pub fn campaign_seeds(path: &Path, o: &Overrides) -> Result<(String, Vec<FromCampaign>)> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("{file}: cannot read"))?;
    let mut f = CampaignFile::parse(primer_dsl::text::without_bom(&text), &file)?;
    o.apply(&mut f);
    let from = f
        .seeds
        .into_iter()
        .filter_map(|s| match s {
            SeedEntry::Campaign(c) => Some(c),
            SeedEntry::File(_) => None,
        })
        .collect();
    Ok((f.name, from))
}

/// Reads, overrides, checks and resolves a campaign file; seeds from earlier campaigns come
/// from `fetched`.
pub fn resolve(path: &Path, o: &Overrides, default_corpus: &Path, fetched: &Fetched) -> Result<Resolved> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("{file}: cannot read"))?;
    let text = primer_dsl::text::without_bom(&text).to_string();
    let mut f = CampaignFile::parse(&text, &file)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let err = |field: &str, message: String| {
        let (line, column) = locate(&text, field);
        anyhow::anyhow!("{file}:{line}:{column}: `{field}`: {message}")
    };
    o.apply(&mut f);
    let window = check(&f, &err)?;
    let space_path = dir.join(&f.search_space);
    let space = SearchSpace::load(&space_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let corpus = f.training.corpus.as_ref().map_or_else(|| default_corpus.to_path_buf(), |c| dir.join(c));
    if !corpus.exists() {
        bail!("{file}: corpus {} does not exist (run `cargo xtask setup`, or set `training.corpus`)", corpus.display());
    }
    let choice = match &f.training.tokenizer {
        Some(t) => Choice::parse(t, dir).map_err(|e| err("training.tokenizer", e.to_string()))?,
        None => Choice::Bytes,
    };
    let validation_bytes = f.training.validation_bytes.unwrap_or(VALIDATION_BYTES);
    if validation_bytes == 0 {
        return Err(err("training.validation_bytes", "must be positive, is 0".into()));
    }
    let text = primer_tokens::corpus::read(&corpus)?;
    let tokenizer = TokenizerSpec::make(&choice, primer_tokens::corpus::training_part(&text, f.model.seq_len))
        .map_err(|e| err("training.tokenizer", e.to_string()))?;
    let codec = Codec::new(&tokenizer)?;
    let tokens = Tokens::new(&corpus, &text, &codec, f.model.seq_len)?;
    let validation =
        tokens.validation_set(ValidationRule::Spread { bytes: validation_bytes }, f.model.seq_len).summary();
    if validation.bytes < validation_bytes {
        eprintln!(
            "{file}: note: the held-out tail of {} holds {} validation bytes, fewer than the {validation_bytes} asked for: all of them are used",
            corpus.display(),
            validation.bytes
        );
    }
    if f.model.vocab != 256 && f.model.vocab != tokenizer.vocab {
        return Err(err(
            "model.vocab",
            format!(
                "{} differs from the tokenizer's {} tokens (leave it out: the tokenizer sets it)",
                f.model.vocab, tokenizer.vocab
            ),
        ));
    }
    let model = ModelConfig { vocab: tokenizer.vocab, ..f.model };
    let bytes_per_token = validation.bytes_per_token();
    let (seeds, seed_programs) = load_seeds(&f.seeds, dir, &model, &space, &space_path, fetched)?;
    for (seed, program) in seeds.iter().zip(&seed_programs) {
        let cost = validate(program, &model).map(|v| Cost::of(&v)).map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(over) = space.limits.over(cost.model_params, cost.training_flops_per_token, bytes_per_token) {
            bail!("seed {}: {over} (the limits of {})", seed.file, space_path.display());
        }
    }
    if (seed_programs.len() as u64) > f.candidates {
        let n = seed_programs.len();
        return Err(err("candidates", format!("{} is fewer than the {n} seed programs", f.candidates)));
    }
    let mut training = f.training.clone();
    training.corpus = Some(absolute(&corpus));
    training.validation_bytes = Some(validation_bytes);
    let start = hurdle_start(&f, &model, &seed_programs, &file, &err)?;
    let spec = CampaignSpec {
        name: f.name.clone(),
        seed: f.seed,
        candidates: f.candidates,
        workers: f.workers,
        space_file: absolute(&space_path).display().to_string(),
        space,
        seeds,
        model,
        training,
        evolution: RegularizedEvolution {
            population_size: f.evolution.population,
            tournament_size: f.evolution.tournament,
            full_first: f.evolution.first_population.unwrap_or_default() == FirstPopulation::Mutants,
            objective: match f.evolution.objective {
                Some(ObjectiveName::Pareto) => Objective::Pareto,
                _ => Objective::Loss,
            },
        },
        strategy: match f.evolution.strategy {
            StrategyName::Evolution => Strategy::Evolution,
            StrategyName::Random => Strategy::Random { max_mutations: f.evolution.max_mutations },
        },
        max_tries: f.evolution.max_tries,
        hurdles: HalvingHurdles {
            hurdles: f.hurdles.count,
            min_predecessors: f.hurdles.min_predecessors,
            window,
            start,
        },
        execution: f.execution,
        // Stored only when on: a campaign that reuses nothing has the spec campaigns made
        // before reuse existed have.
        dedup: DedupSection { reuse: (f.dedup.reuse.unwrap_or(true) && !o.no_reuse).then_some(true), ..f.dedup },
        tokenizer,
        validation: Some(validation),
        corpus_sha256: Some(sha256_hex(&text)),
        second_objective: f.evolution.second_objective,
    };
    let defaulted = Defaulted {
        hurdle_start: f.hurdles.start.is_none(),
        hurdle_window: f.hurdles.window.is_none(),
        first_population: f.evolution.first_population.is_none(),
        validation_bytes: f.training.validation_bytes.is_none(),
        reuse: f.dedup.reuse.is_none() && !o.no_reuse,
    };
    Ok(Resolved { spec, seed_programs, defaulted })
}

impl Overrides {
    /// Puts the command line's overrides into a campaign file.
    fn apply(&self, f: &mut CampaignFile) {
        let o = self;
        if let Some(n) = &o.name {
            f.name = n.clone();
        }
        if let Some(w) = o.workers {
            f.workers = w;
        }
        if let Some(b) = o.budget {
            f.training.budget = b;
        }
        if let Some(c) = o.candidates {
            f.candidates = c;
        }
        if let Some(s) = o.seed {
            f.seed = s;
        }
        f.seeds.extend(o.seed_from.iter().cloned().map(SeedEntry::Campaign));
    }
}

/// What is wrong in a campaign file's numbers and lists, named by field (`err`); the hurdles'
/// window.
fn check(f: &CampaignFile, err: &dyn Fn(&str, String) -> anyhow::Error) -> Result<usize> {
    if f.name.trim().is_empty() {
        return Err(err("name", "must not be empty".into()));
    }
    let positive = [
        ("candidates", f.candidates as f64),
        ("model.d_model", f.model.d_model as f64),
        ("model.seq_len", f.model.seq_len as f64),
        ("model.n_layers", f.model.n_layers as f64),
        ("training.batch", f.training.batch as f64),
        ("training.lr", f.training.lr),
        ("training.eval_interval", f.training.eval_interval as f64),
        ("training.val_batches", f.training.val_batches as f64),
        ("training.threads", f.training.threads as f64),
        ("evolution.population", f.evolution.population as f64),
        ("evolution.tournament", f.evolution.tournament as f64),
        ("evolution.max_tries", f.evolution.max_tries as f64),
        ("evolution.max_mutations", f.evolution.max_mutations as f64),
        ("execution.lease_seconds", f.execution.lease_seconds),
        ("execution.max_attempts", f.execution.max_attempts as f64),
    ];
    for (field, v) in positive {
        if !(v.is_finite() && v > 0.0) {
            return Err(err(field, format!("must be positive, is {v}")));
        }
    }
    if !f.model.d_model.is_multiple_of(8) {
        return Err(err("model.d_model", format!("{} is not a multiple of 8", f.model.d_model)));
    }
    match (f.evolution.objective, f.evolution.second_objective) {
        (Some(ObjectiveName::Pareto), None) => {
            return Err(err(
                "evolution.objective",
                "\"pareto\" needs `second_objective` (\"flops_per_byte\" or \"parameters\")".into(),
            ));
        }
        (Some(ObjectiveName::Pareto), _) if f.evolution.strategy == StrategyName::Random => {
            return Err(err(
                "evolution.objective",
                "random search holds no tournament: \"pareto\" needs strategy = \"evolution\"".into(),
            ));
        }
        (None | Some(ObjectiveName::Loss), Some(_)) => {
            return Err(err(
                "evolution.second_objective",
                "only a Pareto search has one (objective = \"pareto\")".into(),
            ));
        }
        _ => {}
    }
    if f.seeds.is_empty() {
        return Err(err("seeds", "at least one seed program is needed".into()));
    }
    let window = f.hurdles.window.unwrap_or(f.evolution.population.max(f.hurdles.min_predecessors));
    if window > 0 && window < f.hurdles.min_predecessors {
        return Err(err(
            "hurdles.window",
            format!(
                "{window} is fewer than min_predecessors ({}): the median would never apply",
                f.hurdles.min_predecessors
            ),
        ));
    }
    if (f.seeds.len() as u64) > f.candidates {
        return Err(err("candidates", format!("{} is fewer than the {} seed programs", f.candidates, f.seeds.len())));
    }
    Ok(window)
}

/// The seed programs: parsed (or taken from `fetched`), valid at the model size and inside the
/// search space. A program that is already a seed is not taken twice (said).
fn load_seeds(
    entries: &[SeedEntry],
    dir: &Path,
    model: &ModelConfig,
    space: &SearchSpace,
    space_path: &Path,
    fetched: &Fetched,
) -> Result<(Vec<SeedSpec>, Vec<Program>)> {
    let mut seeds: Vec<SeedSpec> = Vec::new();
    let mut seed_programs = Vec::new();
    for entry in entries {
        let programs = match entry {
            SeedEntry::File(s) => {
                let p = dir.join(s);
                let program = primer_dsl::text::parse_file(&p).map_err(|e| anyhow::anyhow!("{e}"))?;
                let hash = canonical_hash(&program).hex();
                vec![(SeedSpec { file: absolute(&p).display().to_string(), hash, origin: None }, program)]
            }
            SeedEntry::Campaign(c) => fetched.get(&c.selector()).cloned().with_context(|| {
                format!("`seeds`: `{}` is read from the store when the search starts (`primer search`)", c.selector())
            })?,
        };
        for (seed, program) in programs {
            let name = &seed.file;
            validate(&program, model).map_err(|e| anyhow::anyhow!("{name}: invalid at this model size: {e}"))?;
            space
                .admits(&program)
                .map_err(|e| anyhow::anyhow!("{name}: outside the search space {}: {e}", space_path.display()))?;
            if let Some(same) = seeds.iter().find(|s| s.hash == seed.hash) {
                eprintln!("note: seed {name} is the same program as seed {}: taken once", same.file);
                continue;
            }
            seeds.push(seed);
            seed_programs.push(program);
        }
    }
    Ok((seeds, seed_programs))
}

/// SHA-256 of some bytes, in hex.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the hurdles' bands start, as a fraction of the budget: asked, or after the warm-up of
/// the costliest seed (bands from 0, said, where that cannot be placed and nothing was asked).
fn hurdle_start(
    f: &CampaignFile,
    model: &ModelConfig,
    seed_programs: &[Program],
    file: &str,
    err: &dyn Fn(&str, String) -> anyhow::Error,
) -> Result<f64> {
    Ok(match f.hurdles.start {
        _ if f.hurdles.count == 0 => 0.0,
        Some(HurdleStart::Fraction(x)) => x,
        asked => {
            let most = seed_programs
                .iter()
                .filter_map(|p| validate(p, model).ok())
                .map(|v| primer_dsl::analysis::Cost::of(&v).training_flops_per_token)
                .max()
                .unwrap_or(0);
            match warmup_fraction(&f.training, model, most) {
                Ok(x) => x,
                Err(m) if asked.is_some() => return Err(err("hurdles.start", m)),
                // The default gives way where the warm-up cannot be placed (a budget in seconds)
                // or leaves no room (a tiny budget): bands from 0, said.
                Err(m) => {
                    eprintln!("{file}: note: hurdles placed over the whole budget (`hurdles.start` = 0): {m}");
                    0.0
                }
            }
        }
    })
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

impl CampaignSpec {
    /// What a stored campaign and this spec disagree on, ignoring what may change between runs
    /// of one campaign (`workers`, `candidates`: a campaign can be extended).
    /// Takes the stored campaign's values of the settings the file left to their defaults (see
    /// [`Defaulted`]), so that resuming a campaign made under older defaults changes nothing.
    pub fn adopt_defaults(&mut self, stored: &CampaignSpec, defaulted: Defaulted) {
        if defaulted.hurdle_start {
            self.hurdles.start = stored.hurdles.start;
        }
        if defaulted.hurdle_window {
            self.hurdles.window = stored.hurdles.window;
        }
        if defaulted.first_population {
            self.evolution.full_first = stored.evolution.full_first;
        }
        if defaulted.validation_bytes && stored.training.validation_bytes.is_none() {
            self.training.validation_bytes = None;
            self.validation = stored.validation;
        }
        if defaulted.reuse {
            self.dedup.reuse = stored.dedup.reuse;
        }
        // Derived, not a setting: a campaign stored before it had none.
        if stored.corpus_sha256.is_none() {
            self.corpus_sha256 = None;
        }
    }

    /// The campaign's mutator: its space (and cost limits, per byte at its tokenizer's bytes per
    /// token), model size and tries per child.
    pub fn mutator(&self) -> primer_evolve::Mutator {
        let mut m = primer_evolve::Mutator::new(self.space.clone(), self.model, self.max_tries);
        m.bytes_per_token = self.validation.as_ref().map_or(1.0, |v| v.bytes_per_token());
        m
    }

    /// The second objective of a Pareto search, as the controller computes it.
    pub fn cost_of(&self) -> Option<CostOf> {
        let bytes_per_token = self.validation.as_ref().map_or(1.0, |v| v.bytes_per_token());
        self.second_objective.map(|second| CostOf { second, bytes_per_token })
    }

    /// Whether fitness is reused across campaigns (absent in older specs: no).
    pub fn reuses(&self) -> bool {
        self.dedup.reuse == Some(true)
    }

    /// The settings a program's full-budget loss depends on: two campaigns with the same key
    /// measure a program alike (up to the training seed), so one may reuse the other's loss.
    /// `None` for campaigns stored before the corpus was hashed (they never match).
    pub fn reuse_key(&self) -> Option<String> {
        let corpus = self.corpus_sha256.as_ref()?;
        let t = &self.training;
        let key = serde_json::json!({
            "model": self.model,
            "budget": t.budget.to_string(),
            "batch": t.batch,
            "lr": t.lr,
            "warmup": t.warmup,
            "eval_interval": t.eval_interval,
            "val_batches": t.val_batches,
            "validation_bytes": t.validation_bytes,
            "validation": self.validation,
            "tokenizer": self.tokenizer.sha256,
            "corpus": corpus,
        });
        let mut key = key;
        if !t.precision.is_f32() {
            key["precision"] = t.precision.name().into();
        }
        Some(key.to_string())
    }

    /// Bits per byte of a validation loss in nats per token (older campaigns: bytes).
    pub fn bits_per_byte(&self, nats_per_token: f64) -> f64 {
        match &self.validation {
            Some(v) => v.bits_per_byte(nats_per_token),
            None => primer_tokens::bits_per_byte(nats_per_token, 1.0),
        }
    }

    /// The settings that differ from `stored`'s, by top-level field (`workers` and `candidates`
    /// may change). Files are compared by what they hold, not where they are, so that a campaign
    /// resumes from a checkout at another path (one restored from its archive elsewhere): see
    /// [`CampaignSpec::identity`].
    pub fn differences(&self, stored: &CampaignSpec) -> Vec<String> {
        let a = self.identity();
        let b = stored.identity();
        let mut out = Vec::new();
        for (k, v) in a.as_object().expect("an object") {
            if k == "workers" || k == "candidates" {
                continue;
            }
            if b.get(k) != Some(v) {
                out.push(k.clone());
            }
        }
        out
    }

    /// The spec as its identity compares it: the files it read stand in by their contents, not
    /// their paths. The search space by its settings (`space`; `space_file` left out), a seed
    /// program from a file by its canonical hash (its `file` left out), the corpus by its
    /// SHA-256 where the spec has one. A spec stored before the corpus was hashed keeps the
    /// corpus's file name where its tokenizer was trained on that corpus (BPE: the tokenizer's
    /// hash, compared as part of `tokenizer`, fingerprints the text) and the whole path where
    /// its tokens are bytes (nothing else there says which text it was).
    pub fn identity(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("specs serialize");
        let o = v.as_object_mut().expect("an object");
        o.remove("space_file");
        if let Some(serde_json::Value::Array(seeds)) = o.get_mut("seeds") {
            for seed in seeds.iter_mut().filter_map(|s| s.as_object_mut()) {
                if !seed.contains_key("origin") {
                    seed.remove("file");
                }
            }
        }
        let trained = self.tokenizer.name.starts_with("bpe:");
        if let Some(training) = o.get_mut("training").and_then(|t| t.as_object_mut()) {
            match (&self.corpus_sha256, &self.training.corpus) {
                (Some(_), _) => {
                    training.remove("corpus");
                }
                (None, Some(path)) if trained => {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                    training.insert("corpus".into(), name.into());
                }
                _ => {}
            }
        }
        v
    }

    /// Parameters and training FLOPs per token of a program at the campaign's model size.
    pub fn cost(&self, p: &Program) -> Option<Cost> {
        validate(p, &self.model).ok().map(|v| Cost::of(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Campaign specs exactly as stores written before this code stored them (the
    /// evolution-vs-random campaigns of experiments/): they read into today's types, and write
    /// back to the same JSON, so `differences` finds nothing and those campaigns resume.
    #[test]
    fn stored_specs_of_older_stores_read_and_round_trip() {
        for (text, strategy) in [
            (include_str!("../tests/fixtures/spec-evolution.json"), Strategy::Evolution),
            (include_str!("../tests/fixtures/spec-random.json"), Strategy::Random { max_mutations: 8 }),
        ] {
            let spec: CampaignSpec = serde_json::from_str(text).unwrap();
            assert_eq!(spec.training.budget, Budget::Flops(1.25e11));
            assert_eq!(spec.model, ModelConfig { d_model: 32, seq_len: 64, n_layers: 2, vocab: 256 });
            assert_eq!(spec.strategy, strategy);
            assert_eq!(spec.training.config(7).seed, 7);
            let stored: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_value(&spec).unwrap(), stored);
            assert!(spec.differences(&spec.clone()).is_empty());
        }
    }

    /// The same campaign seen from a checkout at another path (restored there from its
    /// archive) is the same campaign; a different file's contents, or a different corpus where
    /// only its path can tell, is not.
    #[test]
    fn identity_compares_files_by_contents_not_paths() {
        let old: CampaignSpec = serde_json::from_str(include_str!("../tests/fixtures/spec-evolution.json")).unwrap();
        let moved = |s: &CampaignSpec| {
            let mut m = s.clone();
            m.space_file = m.space_file.replace("/work/main/", "/elsewhere/checkout/");
            for seed in &mut m.seeds {
                seed.file = seed.file.replace("/work/main/", "/elsewhere/checkout/");
            }
            m.training.corpus = Some(PathBuf::from("/elsewhere/checkout/.cache/corpus/shakespeare.txt"));
            m
        };
        let with_corpus = |s: &CampaignSpec, p: &str| CampaignSpec {
            training: TrainingSection { corpus: Some(PathBuf::from(p)), ..s.training.clone() },
            ..s.clone()
        };
        let here = with_corpus(&old, "/work/main/.cache/corpus/shakespeare.txt");
        assert_ne!(moved(&here).space_file, here.space_file);
        // Bytes and no corpus hash (the evolution-vs-random campaigns): only the path says which
        // text it was, so the space and seeds may move but the corpus may not.
        assert_eq!(moved(&here).differences(&here), ["training"]);
        let seeds_moved = CampaignSpec { training: here.training.clone(), ..moved(&here) };
        assert!(seeds_moved.differences(&here).is_empty());
        // A corpus hash: the corpus may move too, but a different hash, seed or space is refused.
        let hashed = CampaignSpec { corpus_sha256: Some("a".into()), ..here.clone() };
        assert!(moved(&hashed).differences(&hashed).is_empty());
        let other_text = CampaignSpec { corpus_sha256: Some("b".into()), ..moved(&hashed) };
        assert_eq!(other_text.differences(&hashed), ["corpus_sha256"]);
        let mut other_seed = moved(&hashed);
        other_seed.seeds[0].hash = "0".repeat(64);
        assert_eq!(other_seed.differences(&hashed), ["seeds"]);
        let mut other_space = moved(&hashed);
        other_space.space.dims.pop();
        assert_eq!(other_space.differences(&hashed), ["space"]);
        // No corpus hash but a BPE trained on the corpus (the rediscovery campaigns): the
        // corpus's file name and the tokenizer's hash stand for the text.
        let bpe = CampaignSpec {
            tokenizer: TokenizerSpec {
                name: "bpe:4096".into(),
                vocab: 4096,
                sha256: "t".into(),
                json: Some("{}".into()),
            },
            ..here.clone()
        };
        assert!(moved(&bpe).differences(&bpe).is_empty());
        assert_eq!(with_corpus(&moved(&bpe), "/elsewhere/moby-dick.txt").differences(&bpe), ["training"]);
        let retrained =
            CampaignSpec { tokenizer: TokenizerSpec { sha256: "u".into(), ..bpe.tokenizer.clone() }, ..moved(&bpe) };
        assert_eq!(retrained.differences(&bpe), ["tokenizer"]);
    }

    #[test]
    fn the_reuse_key_holds_every_setting_a_loss_depends_on_and_older_specs_have_none() {
        let old: CampaignSpec = serde_json::from_str(include_str!("../tests/fixtures/spec-evolution.json")).unwrap();
        assert_eq!(old.reuse_key(), None, "stored before the corpus was hashed: never a source");
        assert!(!old.reuses());
        let base = CampaignSpec { corpus_sha256: Some("c".into()), ..old.clone() };
        let key = base.reuse_key().unwrap();
        // Not part of it: the campaign's seed, name, size, workers, search and hurdles.
        let same = CampaignSpec {
            seed: 99,
            name: "other".into(),
            candidates: 7,
            workers: 5,
            hurdles: HalvingHurdles { hurdles: 4, ..base.hurdles },
            evolution: RegularizedEvolution { population_size: 3, ..base.evolution },
            ..base.clone()
        };
        assert_eq!(same.reuse_key().unwrap(), key);
        let t = &base.training;
        let changed: Vec<CampaignSpec> = vec![
            CampaignSpec { corpus_sha256: Some("d".into()), ..base.clone() },
            CampaignSpec { model: ModelConfig { d_model: 40, ..base.model }, ..base.clone() },
            CampaignSpec { training: TrainingSection { budget: Budget::Steps(3), ..t.clone() }, ..base.clone() },
            CampaignSpec { training: TrainingSection { lr: 0.5, ..t.clone() }, ..base.clone() },
            CampaignSpec { training: TrainingSection { batch: 3, ..t.clone() }, ..base.clone() },
            CampaignSpec { training: TrainingSection { warmup: 1, ..t.clone() }, ..base.clone() },
            CampaignSpec { training: TrainingSection { validation_bytes: Some(1), ..t.clone() }, ..base.clone() },
            CampaignSpec { training: TrainingSection { precision: Precision::Bf16, ..t.clone() }, ..base.clone() },
            CampaignSpec { tokenizer: TokenizerSpec { sha256: "x".into(), ..base.tokenizer.clone() }, ..base.clone() },
        ];
        for (i, c) in changed.iter().enumerate() {
            assert_ne!(c.reuse_key().unwrap(), key, "change {i}");
        }
        // Precision is part of the campaign's identity (a resume in the other one is refused),
        // and f32, the default, is not written: older specs serialize as they did.
        let half =
            CampaignSpec { training: TrainingSection { precision: Precision::Bf16, ..t.clone() }, ..base.clone() };
        assert_eq!(half.differences(&base), vec!["training".to_string()]);
        assert!(!serde_json::to_string(&base).unwrap().contains("precision"));
        assert!(serde_json::to_string(&half).unwrap().contains("\"precision\":\"bf16\""));
    }

    #[test]
    fn a_bad_budget_in_a_campaign_file_names_its_line_and_column() {
        let text = include_str!("../../../experiments/demo.toml").replace("\"5e11flops\"", "\"5e11parsecs\"");
        let e = CampaignFile::parse(&text, "demo.toml").unwrap_err().to_string();
        let line = text.lines().position(|l| l.contains("parsecs")).unwrap() + 1;
        assert!(e.starts_with(&format!("demo.toml:{line}:")), "{e}");
        assert!(e.contains("`training.budget`: `5e11parsecs`: unknown unit `parsecs`"), "{e}");
        assert!(e.contains("unknown unit `parsecs`"), "{e}");
    }
}
