//! `primer study`: a landscape study, libtorch-free half. A study file (TOML) names programs with
//! their roles, model sizes each with its budgets, training settings and a number of seeds; the
//! engine trains every (size, program, seed) once to the size's largest budget, reading the
//! loss at the smaller ones on the way (the schedule has no horizon), and appends one JSON line
//! per run to the results file. This module reads study files and results and renders them:
//! the loss table (mean ± sd), speedups against the baseline, and the regime checks the
//! rediscovery issue asks for (the baseline beats every cheap ablation; the paper's changes beat
//! the baseline by more than 3 seed-sd; a campaign fits in hours).
//!
//! Results are the only state: running the study again trains only what is missing, and
//! `--render` rebuilds every table and plot from the results file alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use primer_dsl::training::TrainConfig;
use serde::{Deserialize, Serialize};

use primer_dsl::budget::Budget;
use primer_dsl::validate::validate;
use primer_dsl::{ModelConfig, Program};

use crate::compare::{mean_curve, mean_sd, speedup, svg};

/// What a program is in a study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The reference every other program is measured against (exactly one).
    Baseline,
    /// One of the paper's changes, expected to beat the baseline.
    Paper,
    /// A cheap ablation, expected to lose to the baseline in a good regime.
    Ablation,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StudyProgram {
    pub name: String,
    /// Relative to the study file.
    pub file: PathBuf,
    pub role: Role,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StudySize {
    pub name: String,
    pub d_model: usize,
    pub seq_len: usize,
    pub n_layers: usize,
    pub batch: usize,
    /// FLOPs budgets (`1e11flops`), increasing or not; the largest is trained to.
    pub budgets: Vec<String>,
    /// Overrides `training.lr` at this size.
    #[serde(default)]
    pub lr: Option<f64>,
    /// Overrides `training.warmup` at this size (a size may be listed twice under two names to
    /// measure a schedule).
    #[serde(default)]
    pub warmup: Option<u64>,
    /// A learning-rate sweep: every program is trained at each rate (a size `NAME@lr=RATE`
    /// each) and compared at its best rate (lowest mean loss at the largest budget) in the
    /// size's own table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lrs: Option<Vec<f64>>,
    /// `bytes` (the default), `bpe:N` (trained on the corpus's training split) or a
    /// tokenizer.json (relative to the study file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
    /// Only these programs at this size (the baseline among them; default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub programs: Option<Vec<String>>,
    /// Set on the sizes a sweep makes: the size swept.
    #[serde(skip)]
    pub sweep_of: Option<usize>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StudyTraining {
    pub lr: f64,
    pub warmup: u64,
    pub eval_interval: u64,
    pub val_batches: usize,
    /// libtorch threads per training run.
    #[serde(default = "one")]
    pub threads: usize,
    /// The spread validation set (at least this many bytes over the whole held-out tail, all
    /// measured at each budget; its sampling error is reported). Absent: the `val_batches` x
    /// `batch` consecutive windows of studies made before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_bytes: Option<u64>,
}

fn one() -> usize {
    1
}

/// A study file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StudyFile {
    pub name: String,
    /// Seeds 0..N per program and size.
    pub seeds: u64,
    /// Training runs at once (each with `training.threads` threads).
    #[serde(default = "one")]
    pub jobs: usize,
    /// Where results go, relative to the study file (default: `results.jsonl` beside it).
    #[serde(default)]
    pub results: Option<PathBuf>,
    /// A text file or folder of them, relative to the study file (default: the corpus set-up
    /// fetched).
    #[serde(default)]
    pub corpus: Option<PathBuf>,
    /// Hurdles assumed when a Transformer candidate's cost is turned into a campaign's hours
    /// (equal-compute bands promise (H+1)/(2^(H+1)-1) of the full compute per candidate).
    pub campaign_hurdles: usize,
    /// Also place those hurdles in bands after this fraction of the budget (`[hurdles] start`)
    /// in the ranking table, beside the ones after the baseline's warm-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_hurdle_start: Option<f64>,
    /// Candidates of the campaign whose hours are estimated.
    pub campaign_candidates: u64,
    /// Workers of that campaign (one thread each).
    pub campaign_workers: usize,
    pub training: StudyTraining,
    pub programs: Vec<StudyProgram>,
    pub sizes: Vec<StudySize>,
}

/// A study, resolved: programs read and checked at every size, budgets parsed and sorted.
pub struct Study {
    pub file: StudyFile,
    pub path: PathBuf,
    pub results: PathBuf,
    pub corpus: Option<PathBuf>,
    pub programs: Vec<(StudyProgram, Program)>,
    /// Per size: its budgets in FLOPs, ascending.
    pub budgets: Vec<Vec<f64>>,
}

/// One training run of a study: a line of the results file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub size: String,
    pub program: String,
    pub seed: u64,
    /// Canonical hash of the program (a changed file is trained again).
    pub hash: String,
    /// The settings this run was trained with, as JSON (a changed setting is trained again).
    pub settings: String,
    pub budgets: Vec<f64>,
    /// Validation loss at each budget (None: the run failed before it).
    pub losses: Vec<Option<f64>>,
    pub outcome: String,
    pub steps: u64,
    /// Seconds of training steps to each budget.
    pub seconds: Vec<f64>,
    pub parameters: i64,
    pub flops_per_token: u64,
    /// (training FLOPs, validation loss) points.
    pub curve: Vec<(f64, f64)>,
    /// Bytes per predicted validation token (1 for bytes): bits per byte = loss / ln 2 / this.
    #[serde(default = "one_f64")]
    pub bytes_per_token: f64,
    /// The final loss's sampling error over the spread validation set's disjoint parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_error: Option<f64>,
}

fn one_f64() -> f64 {
    1.0
}

impl RunRecord {
    pub fn key(&self) -> RunKey {
        (self.settings.clone(), self.hash.clone(), self.seed)
    }
}

/// What identifies a run: its settings (JSON), the program's canonical hash, the seed.
pub type RunKey = (String, String, u64);

/// One training run to do.
#[derive(Debug, Clone)]
pub struct Job {
    pub size: usize,
    pub program: usize,
    pub seed: u64,
    pub settings: String,
    pub hash: String,
}

impl Job {
    pub fn key(&self) -> RunKey {
        (self.settings.clone(), self.hash.clone(), self.seed)
    }
}

impl StudySize {
    /// The model at this size (the vocabulary: the tokenizer's, set by the engine).
    pub fn config(&self) -> ModelConfig {
        ModelConfig { d_model: self.d_model, seq_len: self.seq_len, n_layers: self.n_layers, vocab: 256 }
    }

    pub fn tokenizer(&self) -> &str {
        self.tokenizer.as_deref().unwrap_or("bytes")
    }

    /// Whether `program` is trained at this size.
    pub fn has(&self, program: &str) -> bool {
        self.programs.as_ref().is_none_or(|only| only.iter().any(|n| n == program))
    }
}

/// The sizes a file's sizes stand for: each size, then one size per rate of its sweep.
fn expand(sizes: &[StudySize]) -> Vec<StudySize> {
    let mut out = Vec::new();
    for s in sizes {
        let at = out.len();
        out.push(s.clone());
        for lr in s.lrs.iter().flatten() {
            out.push(StudySize {
                name: format!("{}@lr={lr}", s.name),
                lr: Some(*lr),
                lrs: None,
                sweep_of: Some(at),
                ..s.clone()
            });
        }
    }
    out
}

impl Study {
    /// Reads and checks a study file; errors say `file:line:col` and the field.
    pub fn load(path: &Path) -> Result<Study> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("{name}: cannot read"))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let file: StudyFile = crate::spec::parse_toml(text, &name)?;
        let at = |key: &str| {
            let (l, c) = primer_dsl::space::find_key(text, key);
            format!("{name}:{l}:{c}")
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        if file.seeds == 0 {
            bail!("{}: `seeds` must be at least 1", at("seeds"));
        }
        if file.jobs == 0 || file.training.threads == 0 {
            bail!("{}: `jobs` and `training.threads` must be at least 1", at("jobs"));
        }
        if !file.training.lr.is_finite()
            || file.training.lr <= 0.0
            || file.training.eval_interval == 0
            || file.training.val_batches == 0
        {
            bail!("{}: `training.lr`, `eval_interval` and `val_batches` must be positive", at("training"));
        }
        let baselines = file.programs.iter().filter(|p| p.role == Role::Baseline).count();
        if baselines != 1 {
            bail!("{}: exactly one program needs role = \"baseline\", found {baselines}", at("programs"));
        }
        let mut names = std::collections::HashSet::new();
        for p in &file.programs {
            if !names.insert(&p.name) {
                bail!("{}: program `{}` is named twice", at(&p.name), p.name);
            }
        }
        if file.sizes.is_empty() {
            bail!("{}: at least one [[sizes]] entry is needed", at("name"));
        }
        if let Some(x) = file.campaign_hurdle_start
            && !(0.0..1.0).contains(&x)
        {
            bail!(
                "{}: `campaign_hurdle_start` must be a fraction of the budget in [0, 1), not {x}",
                at("campaign_hurdle_start")
            );
        }
        if file.training.validation_bytes == Some(0) {
            bail!("{}: `training.validation_bytes` must be positive", at("validation_bytes"));
        }
        for s in &file.sizes {
            if let Some(lrs) = &s.lrs
                && (lrs.is_empty() || lrs.iter().any(|x| !x.is_finite() || *x <= 0.0))
            {
                bail!("{}: size `{}`: `lrs` must list positive rates", at("lrs"), s.name);
            }
            primer_tokens::Choice::parse(s.tokenizer(), dir)
                .map_err(|e| anyhow::anyhow!("{}: size `{}`: {e}", at("tokenizer"), s.name))?;
            if let Some(only) = &s.programs {
                if let Some(unknown) = only.iter().find(|n| !file.programs.iter().any(|p| &p.name == *n)) {
                    bail!(
                        "{}: size `{}`: `programs` names `{unknown}`, which is not a program of the study",
                        at("programs"),
                        s.name
                    );
                }
                let baseline = file.programs.iter().find(|p| p.role == Role::Baseline).map(|p| &p.name);
                if !only.iter().any(|n| Some(n) == baseline) {
                    bail!("{}: size `{}`: `programs` must include the baseline", at("programs"), s.name);
                }
            }
        }
        let mut file = file;
        file.sizes = expand(&file.sizes);
        let mut budgets = Vec::new();
        for s in &file.sizes {
            if s.d_model == 0 || !s.d_model.is_multiple_of(8) || s.seq_len == 0 || s.n_layers == 0 || s.batch == 0 {
                bail!(
                    "{}: size `{}`: d_model must be a positive multiple of 8, seq_len, n_layers and batch positive",
                    at(&s.name),
                    s.name
                );
            }
            let mut b = Vec::new();
            for text in &s.budgets {
                match text.parse::<Budget>() {
                    Ok(Budget::Flops(f)) if f > 0.0 => b.push(f),
                    Ok(_) => bail!(
                        "{}: size `{}`: budget `{text}`: a study's budgets are FLOPs, e.g. 1e12flops",
                        at("budgets"),
                        s.name
                    ),
                    Err(e) => bail!("{}: size `{}`: {e}", at("budgets"), s.name),
                }
            }
            if b.is_empty() {
                bail!("{}: size `{}` has no budgets", at("budgets"), s.name);
            }
            b.sort_by(f64::total_cmp);
            b.dedup();
            budgets.push(b);
        }
        let mut programs = Vec::new();
        for p in &file.programs {
            let f = dir.join(&p.file);
            let (program, _) = crate::resolve::load_program(&f)?;
            for s in &file.sizes {
                validate(&program, &s.config()).map_err(|e| {
                    anyhow::anyhow!("{}: invalid at size `{}` (d_model {}): {e}", f.display(), s.name, s.d_model)
                })?;
            }
            programs.push((p.clone(), program));
        }
        // The baseline first: speedups are against it.
        programs.sort_by_key(|(p, _)| p.role != Role::Baseline);
        let results = dir.join(file.results.clone().unwrap_or_else(|| PathBuf::from("results.jsonl")));
        let corpus = file.corpus.as_ref().map(|c| dir.join(c));
        Ok(Study { file, path: path.to_path_buf(), results, corpus, programs, budgets })
    }

    /// The settings a run at size `si` is trained with, as JSON: part of each record, so a
    /// changed setting is trained again rather than mixed with old runs.
    pub fn settings(&self, si: usize) -> String {
        let s = &self.file.sizes[si];
        let mut v = serde_json::json!({
            "d_model": s.d_model, "seq_len": s.seq_len, "n_layers": s.n_layers, "batch": s.batch,
            "lr": self.lr(si), "warmup": self.warmup(si), "eval_interval": self.file.training.eval_interval,
            "val_batches": self.file.training.val_batches, "budgets": self.budgets[si],
            "corpus": self.corpus.as_ref().map(|c| c.display().to_string()),
        });
        // Added only where set, so that studies made before them keep their runs.
        if let Some(b) = self.file.training.validation_bytes {
            v["validation_bytes"] = b.into();
        }
        if s.tokenizer() != "bytes" {
            v["tokenizer"] = s.tokenizer().into();
        }
        v.to_string()
    }

    /// The sizes a swept size's sweep made (empty if it has none).
    pub fn sweep(&self, si: usize) -> Vec<usize> {
        (0..self.file.sizes.len()).filter(|&k| self.file.sizes[k].sweep_of == Some(si)).collect()
    }

    pub fn lr(&self, si: usize) -> f64 {
        self.file.sizes[si].lr.unwrap_or(self.file.training.lr)
    }

    pub fn warmup(&self, si: usize) -> u64 {
        self.file.sizes[si].warmup.unwrap_or(self.file.training.warmup)
    }

    /// The trainer's settings of a run at size `si` with training `seed` (the size's batch, lr
    /// and warm-up; the rest: [`TrainConfig`]'s defaults).
    pub fn train_config(&self, si: usize, seed: u64) -> TrainConfig {
        let t = &self.file.training;
        TrainConfig {
            batch: self.file.sizes[si].batch,
            lr: self.lr(si),
            warmup: self.warmup(si),
            eval_interval: t.eval_interval,
            val_batches: t.val_batches,
            validation_bytes: t.validation_bytes.unwrap_or(0),
            seed,
            ..TrainConfig::default()
        }
    }

    /// Every run of the study, sizes outermost (so the smallest size's table is complete
    /// first), then seeds, then programs.
    pub fn jobs(&self) -> Vec<Job> {
        let mut out: Vec<Job> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for si in 0..self.file.sizes.len() {
            // A swept size is trained at each of its rates (its sweep's sizes), not itself.
            if self.file.sizes[si].lrs.is_some() {
                continue;
            }
            let settings = self.settings(si);
            for seed in 0..self.file.seeds {
                for (pi, (sp, p)) in self.programs.iter().enumerate() {
                    if !self.file.sizes[si].has(&sp.name) {
                        continue;
                    }
                    let job = Job {
                        size: si,
                        program: pi,
                        seed,
                        settings: settings.clone(),
                        hash: primer_dsl::analysis::canonical_hash(p).hex(),
                    };
                    if seen.insert(job.key()) {
                        out.push(job);
                    }
                }
            }
        }
        out
    }

    /// Records of this study's current runs, by what they are: (settings, program hash, seed).
    /// A run is trained once whichever sizes ask for it (a sweep's rate that another size
    /// also trains reads that size's runs); later lines win.
    pub fn current(&self, records: &[RunRecord]) -> BTreeMap<RunKey, RunRecord> {
        let wanted: std::collections::HashSet<RunKey> = self.jobs().into_iter().map(|j| j.key()).collect();
        let mut out = BTreeMap::new();
        for r in records {
            let key = (r.settings.clone(), r.hash.clone(), r.seed);
            if wanted.contains(&key) {
                out.insert(key, r.clone());
            }
        }
        out
    }

    /// The key of a program's run at size `si` with `seed`.
    pub fn key(&self, si: usize, program: usize, seed: u64) -> RunKey {
        (self.settings(si), primer_dsl::analysis::canonical_hash(&self.programs[program].1).hex(), seed)
    }
}

/// Reads a results file (missing: none); a line that cannot be read names its line number.
pub fn read_results(path: &Path) -> Result<Vec<RunRecord>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
    };
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(r) => out.push(r),
            // A last line cut short by a kill is ignored (that run is trained again).
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(e) => bail!("{}:{}: not a study result: {e}", path.display(), i + 1),
        }
    }
    Ok(out)
}

/// One program's row at one size.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub program: String,
    pub role: Role,
    pub parameters: i64,
    pub flops_per_token: u64,
    pub seeds: usize,
    /// Per budget: mean and sd over seeds of the validation loss in **bits per byte** (None: no
    /// finished seed).
    pub losses: Vec<Option<(f64, f64)>>,
    /// Against the baseline, on mean curves to the largest budget.
    pub speedup: Option<f64>,
    /// Seconds of training to each budget, of the fastest seed (the least disturbed run).
    pub seconds: Vec<f64>,
    /// The validation set's sampling error of the final loss (bits per byte; mean over seeds),
    /// beside the seed sd: None for the leading set.
    pub validation_error: Option<f64>,
    /// In a swept size's table: the rate this row was trained at (the program's best).
    pub lr: Option<f64>,
}

/// A size's verdicts at one budget.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub budget: f64,
    /// Ablations the baseline does not beat by more than the noise: its mean loss is not below
    /// theirs by more than 2 standard errors of the difference (sqrt(sd_b^2/n_b + sd_a^2/n_a)).
    pub ablations_not_beaten: Vec<String>,
    /// Paper programs that do not beat the baseline by more than 3 sd (the larger of the two
    /// seed-sds).
    pub paper_not_ahead_by_3sd: Vec<String>,
    /// Seconds a baseline candidate trains to this budget (fastest seed).
    pub baseline_seconds: f64,
    /// Hours of the campaign the study file describes at this budget, with ideal hurdles.
    pub campaign_hours: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SizeTable {
    pub size: StudySize,
    pub budgets: Vec<f64>,
    pub rows: Vec<Row>,
    pub verdicts: Vec<Verdict>,
    /// (name, mean curve) per program, for the plot (bits per byte).
    #[serde(skip)]
    pub curves: Vec<(String, Vec<(f64, f64)>)>,
    /// Runs done of those planned.
    pub done: usize,
    pub planned: usize,
    /// Whether rankings early in training hold: at each point, Kendall's tau-b between every
    /// run's loss there and its loss at the largest budget (all programs and seeds of the size,
    /// the curve read between its points): the budgets, then the hurdles a campaign with
    /// `campaign_hurdles` would place after the baseline's warm-up.
    pub ranking: Vec<RankingPoint>,
}

/// A point of the budget and how well the runs' ranking there predicts their final one.
#[derive(Debug, Clone, Serialize)]
pub struct RankingPoint {
    /// Training FLOPs.
    pub flops: f64,
    /// `budget`, `end of warm-up`, `hurdle N` or `hurdle N (start F)`.
    pub what: String,
    pub runs: usize,
    pub tau: f64,
    /// Programs with a mean there, and Kendall's tau of the programs' mean losses (over their
    /// seeds) there with their means at the largest budget: the ranking a search acts on, with
    /// the seed noise averaged out.
    pub programs: usize,
    pub tau_programs: f64,
}

/// A run as the ranking reads it: its program, its (FLOPs, loss) curve and its final loss.
type RankedRun<'a> = (&'a str, &'a [(f64, f64)], f64);

/// Kendall's tau at `flops` of runs given as (program, curve, final loss): over the runs, and
/// over the programs' means (runs without a loss there, or no final one, left out).
fn tau_at(runs: &[RankedRun], flops: f64) -> (usize, f64, usize, f64) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut by_program: BTreeMap<&str, (f64, f64, usize)> = BTreeMap::new();
    for &(program, curve, end) in runs {
        if let Some(l) = crate::placement::loss_at(curve, flops)
            && end.is_finite()
        {
            a.push(l);
            b.push(end);
            let m = by_program.entry(program).or_insert((0.0, 0.0, 0));
            *m = (m.0 + l, m.1 + end, m.2 + 1);
        }
    }
    let tau = |a: &[f64], b: &[f64]| if a.len() >= 2 { crate::placement::kendall_tau(a, b) } else { f64::NAN };
    let (pa, pb): (Vec<f64>, Vec<f64>) = by_program.values().map(|&(l, e, n)| (l / n as f64, e / n as f64)).unzip();
    (a.len(), tau(&a, &b), pa.len(), tau(&pa, &pb))
}

/// Kendall's tau of the runs' losses at each point with their final losses.
fn ranking(study: &Study, si: usize, records: &BTreeMap<RunKey, RunRecord>, rows: &[Row]) -> Vec<RankingPoint> {
    let size = &study.file.sizes[si];
    let largest = *study.budgets[si].last().expect("a size has budgets");
    let runs: Vec<&RunRecord> = study
        .programs
        .iter()
        .enumerate()
        .filter(|(_, (sp, _))| size.has(&sp.name))
        .flat_map(|(pi, _)| (0..study.file.seeds).filter_map(move |seed| records.get(&study.key(si, pi, seed))))
        .filter(|r| r.outcome == "finished")
        .collect();
    let mut points: Vec<(f64, String)> = study.budgets[si].iter().map(|&b| (b, "budget".to_string())).collect();
    // A campaign's hurdles in equal-compute bands after `start` (a fraction of the budget).
    let hurdles = |start: f64| {
        let h = primer_evolve::HalvingHurdles {
            hurdles: study.file.campaign_hurdles,
            min_predecessors: 0,
            window: 0,
            start,
        };
        h.fractions().into_iter().map(move |f| f * largest).enumerate()
    };
    // The baseline's warm-up, and the hurdles after it.
    let base_flops = rows.first().map_or(0, |r| r.flops_per_token) as f64;
    if base_flops > 0.0 {
        let warm = study.warmup(si) as f64 * (size.batch * size.seq_len) as f64 * base_flops;
        if warm < largest {
            points.push((warm, "end of warm-up".into()));
            points.extend(hurdles(warm / largest).map(|(k, f)| (f, format!("hurdle {}", k + 1))));
        }
    }
    if let Some(start) = study.file.campaign_hurdle_start {
        points.extend(hurdles(start).map(|(k, f)| (f, format!("hurdle {} (start {start})", k + 1))));
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let runs: Vec<RankedRun> = runs
        .iter()
        .map(|r| (r.program.as_str(), r.curve.as_slice(), r.losses.last().copied().flatten().unwrap_or(f64::NAN)))
        .collect();
    points
        .into_iter()
        .map(|(flops, what)| {
            let (n, tau, programs, tau_programs) = tau_at(&runs, flops);
            RankingPoint { flops, what, runs: n, tau, programs, tau_programs }
        })
        .collect()
}

/// The fraction of full compute a candidate costs with H equal-compute halving hurdles at a 50%
/// stop rate: (H+1)/(2^(H+1)-1).
pub fn hurdle_fraction(h: usize) -> f64 {
    (h as f64 + 1.0) / (2f64.powi(h as i32 + 1) - 1.0)
}

fn bits(loss: f64, bytes_per_token: f64) -> f64 {
    primer_tokens::bits_per_byte(loss, bytes_per_token)
}

/// A program's name and its mean (training FLOPs, bits per byte) curve.
type NamedCurve = (String, Vec<(f64, f64)>);

/// Rows and mean curves of the programs at a trained size, and the runs found.
fn size_rows(study: &Study, si: usize, records: &BTreeMap<RunKey, RunRecord>) -> (Vec<Row>, Vec<NamedCurve>, usize) {
    let size = &study.file.sizes[si];
    let budgets = &study.budgets[si];
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    let mut done = 0;
    let settings = study.settings(si);
    for (sp, program) in study.programs.iter().filter(|(sp, _)| size.has(&sp.name)) {
        let hash = primer_dsl::analysis::canonical_hash(program).hex();
        let runs: Vec<&RunRecord> =
            (0..study.file.seeds).filter_map(|seed| records.get(&(settings.clone(), hash.clone(), seed))).collect();
        done += runs.len();
        let losses = (0..budgets.len())
            .map(|k| {
                let v: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| r.losses.get(k).copied().flatten().map(|l| bits(l, r.bytes_per_token)))
                    .collect();
                (!v.is_empty()).then(|| mean_sd(&v))
            })
            .collect();
        // The fastest seed: the runs share the machine with whatever else ran, and the
        // least disturbed one is the best estimate of the cost itself.
        let seconds = (0..budgets.len())
            .map(|k| {
                runs.iter().filter_map(|r| r.seconds.get(k).copied()).filter(|x| x.is_finite()).fold(f64::NAN, f64::min)
            })
            .collect();
        let errors: Vec<f64> =
            runs.iter().filter_map(|r| r.validation_error.map(|e| bits(e, r.bytes_per_token))).collect();
        let finished: Vec<Vec<(f64, f64)>> = runs
            .iter()
            .filter(|r| r.outcome == "finished")
            .map(|r| r.curve.iter().map(|&(f, l)| (f, bits(l, r.bytes_per_token))).collect())
            .collect();
        curves.push((sp.name.clone(), mean_curve(&finished)));
        rows.push(Row {
            program: sp.name.clone(),
            role: sp.role,
            parameters: runs.first().map_or(0, |r| r.parameters),
            flops_per_token: runs.first().map_or(0, |r| r.flops_per_token),
            seeds: runs.len(),
            losses,
            speedup: None,
            seconds,
            validation_error: (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64),
            lr: None,
        });
    }
    (rows, curves, done)
}

/// Whether `b` (the baseline) is below `a` by more than 2 standard errors of the difference.
fn beats(b: (f64, f64), nb: usize, a: (f64, f64), na: usize) -> bool {
    if nb < 2 || na < 2 {
        return false;
    }
    let se = (b.1 * b.1 / nb as f64 + a.1 * a.1 / na as f64).sqrt();
    a.0 - b.0 > 2.0 * se
}

/// The tables of every size from the current records: a swept size's table holds each program
/// at its best rate.
pub fn tables(study: &Study, records: &BTreeMap<RunKey, RunRecord>) -> Vec<SizeTable> {
    let mut out = Vec::new();
    for (si, size) in study.file.sizes.iter().enumerate() {
        let budgets = study.budgets[si].clone();
        let sweep = study.sweep(si);
        let (mut rows, mut curves, done) = if sweep.is_empty() {
            size_rows(study, si, records)
        } else {
            let swept: Vec<_> = sweep.iter().map(|&k| (k, size_rows(study, k, records))).collect();
            let mut rows = Vec::new();
            let mut curves = Vec::new();
            for p in 0..swept[0].1.0.len() {
                let last = |r: &Row| r.losses.last().copied().flatten().map_or(f64::INFINITY, |(m, _)| m);
                let best =
                    swept.iter().min_by(|a, b| last(&a.1.0[p]).total_cmp(&last(&b.1.0[p]))).expect("a sweep has rates");
                let mut row = best.1.0[p].clone();
                row.lr = Some(study.lr(best.0));
                rows.push(row);
                curves.push(best.1.1[p].clone());
            }
            let done = swept.iter().map(|(_, t)| t.2).sum();
            (rows, curves, done)
        };
        let base = curves[0].1.clone();
        for (row, (_, c)) in rows.iter_mut().zip(&curves) {
            if !base.is_empty() && !c.is_empty() {
                row.speedup = speedup(&base, c);
            }
        }
        for (row, (name, _)) in rows.iter().zip(curves.iter_mut()) {
            if let Some(lr) = row.lr {
                *name = format!("{name} (lr {lr})");
            }
        }
        let verdicts = (0..budgets.len())
            .map(|k| {
                let (b, nb) = (rows[0].losses[k], rows[0].seeds);
                let mut ablations_not_beaten = Vec::new();
                let mut paper_not_ahead_by_3sd = Vec::new();
                for r in &rows[1..] {
                    match (r.role, b, r.losses[k]) {
                        (Role::Ablation, Some(b), Some(a)) if beats(b, nb, a, r.seeds) => {}
                        (Role::Ablation, Some(_), None) if r.seeds > 0 => {} // it failed: beaten
                        (Role::Ablation, ..) => ablations_not_beaten.push(r.program.clone()),
                        // One seed has no spread: nothing is "ahead by 3 sd" yet.
                        (Role::Paper, Some((bm, bs)), Some((m, s)))
                            if r.seeds > 1 && nb > 1 && bm - m > 3.0 * bs.max(s) => {}
                        (Role::Paper, ..) => paper_not_ahead_by_3sd.push(r.program.clone()),
                        (Role::Baseline, ..) => {}
                    }
                }
                let baseline_seconds = rows[0].seconds[k];
                let campaign_hours = study.file.campaign_candidates as f64
                    * baseline_seconds
                    * hurdle_fraction(study.file.campaign_hurdles)
                    / study.file.campaign_workers.max(1) as f64
                    / 3600.0;
                Verdict {
                    budget: budgets[k],
                    ablations_not_beaten,
                    paper_not_ahead_by_3sd,
                    baseline_seconds,
                    campaign_hours,
                }
            })
            .collect();
        let trained = study.programs.iter().filter(|(sp, _)| size.has(&sp.name)).count();
        let planned = study.file.seeds as usize * trained * sweep.len().max(1);
        let ranking = if sweep.is_empty() { ranking(study, si, records, &rows) } else { Vec::new() };
        out.push(SizeTable { size: size.clone(), budgets, rows, verdicts, curves, done, planned, ranking });
    }
    out
}

fn flops(f: f64) -> String {
    let e = f.log10().floor() as i32;
    let m = f / 10f64.powi(e);
    let digits = format!("{m:.3}");
    format!("{}e{e}", digits.trim_end_matches('0').trim_end_matches('.'))
}

/// A size's verdicts per budget, as a Markdown table.
fn verdicts_markdown(s: &mut String, f: &StudyFile, t: &SizeTable) {
    let _ = writeln!(
        s,
        "\n| budget | baseline beats every ablation | paper changes ahead by > 3 sd | s per baseline candidate (fastest seed) | hours for {} candidates ({} workers, {} ideal hurdles) |",
        f.campaign_candidates, f.campaign_workers, f.campaign_hurdles
    );
    let _ = writeln!(s, "|---|---|---|---:|---:|");
    for v in &t.verdicts {
        let yes_no = |missing: &[String]| {
            if missing.is_empty() { "yes".to_string() } else { format!("no ({})", missing.join(", ")) }
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {:.1} |",
            flops(v.budget),
            yes_no(&v.ablations_not_beaten),
            yes_no(&v.paper_not_ahead_by_3sd),
            v.baseline_seconds,
            v.campaign_hours
        );
    }
}

/// Whether a size's rankings hold (Kendall's tau at each point), as a Markdown table.
fn ranking_markdown(s: &mut String, f: &StudyFile, t: &SizeTable) {
    if !t.ranking.is_empty() {
        let largest = *t.budgets.last().expect("budgets");
        let _ = writeln!(
            s,
            "\nDo rankings hold? Kendall's tau of all finished runs' losses at each point with their losses at {} FLOPs, \
             and of the programs' mean losses over their seeds (hurdles: {} in equal-compute bands after the baseline's warm-up{}):\n",
            flops(largest),
            f.campaign_hurdles,
            f.campaign_hurdle_start.map_or(String::new(), |x| format!(", and after {x} of the budget"))
        );
        let _ = writeln!(s, "| point | FLOPs | fraction | runs | tau | programs | tau of means |");
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
        for p in &t.ranking {
            let _ = writeln!(
                s,
                "| {} | {} | {:.3} | {} | {:.3} | {} | {:.3} |",
                p.what,
                flops(p.flops),
                p.flops / largest,
                p.runs,
                p.tau,
                p.programs,
                p.tau_programs
            );
        }
    }
}

/// The study as Markdown: per size the loss table, speedups and verdicts.
pub fn markdown(study: &Study, tables: &[SizeTable]) -> String {
    let mut s = String::new();
    let f = &study.file;
    let _ = writeln!(
        s,
        "Study `{}`: validation loss in bits per byte (nats per token / ln 2 / bytes per token), mean ± sd over {} seeds (0..{}); \
         lr {}, warm-up {} steps; validation set: {}; \
         speedup = training FLOPs the baseline needs for its final loss over the FLOPs the program needs for it (mean curves); \
         an ablation is beaten when the baseline's mean is lower by more than 2 standard errors of the difference.",
        f.name,
        f.seeds,
        f.seeds - 1,
        f.training.lr,
        f.training.warmup,
        f.training.validation_bytes.map_or_else(
            || format!("{} x batch consecutive windows", f.training.val_batches),
            |b| format!("windows spread over the held-out tail covering at least {b} bytes (\"val. se\": its sampling error, the sd over 4 disjoint parts / 2)")
        )
    );
    for t in tables {
        let z = &t.size;
        let _ = writeln!(
            s,
            "\n### {}: d_model {}, seq_len {}, {} layers, batch {}, {}{} ({} of {} runs)\n",
            z.name,
            z.d_model,
            z.seq_len,
            z.n_layers,
            z.batch,
            z.tokenizer(),
            z.lrs.as_ref().map_or(String::new(), |l| format!(
                ", each program at its best rate of {}",
                l.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
            )) + &z.lr.map_or(String::new(), |lr| format!(", lr {lr}"))
                + &z.warmup.map_or(String::new(), |w| format!(", warm-up {w}")),
            t.done,
            t.planned
        );
        let heads: Vec<String> = t.budgets.iter().map(|b| format!("{} FLOPs", flops(*b))).collect();
        let swept = z.lrs.is_some();
        let spread = t.rows.iter().any(|r| r.validation_error.is_some());
        let _ = writeln!(
            s,
            "| program | role |{} params | train FLOPs/token | {} |{} speedup |",
            if swept { " lr |" } else { "" },
            heads.join(" | "),
            if spread { " val. se |" } else { "" }
        );
        let _ = writeln!(
            s,
            "|---|---|{}---:|---:|{}{}---:|",
            if swept { "---:|" } else { "" },
            "---:|".repeat(t.budgets.len()),
            if spread { "---:|" } else { "" }
        );
        for r in &t.rows {
            let cells: Vec<String> =
                r.losses.iter().map(|l| l.map_or("–".into(), |(m, sd)| format!("{m:.3} ± {sd:.3}"))).collect();
            let sp = match (r.speedup, r.seeds) {
                (_, 0) => "–".into(),
                (Some(x), _) => format!("{x:.2}x"),
                (None, _) => "never".into(),
            };
            let role = match r.role {
                Role::Baseline => "baseline",
                Role::Paper => "paper",
                Role::Ablation => "ablation",
            };
            let lr = if swept { format!(" {} |", r.lr.map_or("–".into(), |x| x.to_string())) } else { String::new() };
            let se = if spread {
                format!(" {} |", r.validation_error.map_or("–".into(), |e| format!("{e:.4}")))
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "| {} | {role} |{lr} {} | {} | {} |{se} {sp} |",
                r.program,
                r.parameters,
                r.flops_per_token,
                cells.join(" | ")
            );
        }
        verdicts_markdown(&mut s, f, t);
        ranking_markdown(&mut s, f, t);
        let _ = writeln!(s, "\n![{}]({})", t.size.name, svg_name(&t.size.name));
    }
    s
}

pub fn svg_name(size: &str) -> String {
    format!("{size}.svg")
}

/// The study as CSV: one line per size, program and budget.
pub fn csv(tables: &[SizeTable]) -> String {
    let mut s = String::from(
        "size,d_model,seq_len,n_layers,batch,tokenizer,lr,program,role,parameters,flops_per_token,budget_flops,seeds,bits_per_byte_mean,bits_per_byte_sd,validation_se,seconds,speedup\n",
    );
    for t in tables {
        for r in &t.rows {
            for (k, b) in t.budgets.iter().enumerate() {
                let (m, sd) =
                    r.losses[k].map_or((String::new(), String::new()), |(m, sd)| (m.to_string(), sd.to_string()));
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{},{},{},{:?},{},{},{b},{},{m},{sd},{},{},{}",
                    t.size.name,
                    t.size.d_model,
                    t.size.seq_len,
                    t.size.n_layers,
                    t.size.batch,
                    t.size.tokenizer(),
                    r.lr.or(t.size.lr).map_or(String::new(), |x| x.to_string()),
                    r.program,
                    r.role,
                    r.parameters,
                    r.flops_per_token,
                    r.seeds,
                    r.validation_error.filter(|_| k + 1 == t.budgets.len()).map_or(String::new(), |e| e.to_string()),
                    r.seconds[k],
                    r.speedup.map_or(String::new(), |x| x.to_string())
                );
            }
        }
    }
    s
}

/// Writes `study.md`, `study.csv` and one SVG per size beside the results file; returns the
/// paths written.
pub fn write_outputs(study: &Study, tables: &[SizeTable]) -> Result<Vec<PathBuf>> {
    let dir = study.results.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut written = Vec::new();
    let md = dir.join("study.md");
    std::fs::write(&md, markdown(study, tables)).with_context(|| format!("{}", md.display()))?;
    written.push(md);
    let c = dir.join("study.csv");
    std::fs::write(&c, csv(tables)).with_context(|| format!("{}", c.display()))?;
    written.push(c);
    for t in tables {
        let p = dir.join(svg_name(&t.size.name));
        let title = format!(
            "{}: d_model {}, seq_len {}, {} layers, {} (bits per byte)",
            t.size.name,
            t.size.d_model,
            t.size.seq_len,
            t.size.n_layers,
            t.size.tokenizer()
        );
        let curves: Vec<(String, Vec<(f64, f64)>)> = t.curves.iter().filter(|(_, c)| !c.is_empty()).cloned().collect();
        std::fs::write(&p, svg(&title, "training FLOPs (log scale)", &curves))
            .with_context(|| format!("{}", p.display()))?;
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hurdles_promise_what_the_bands_say() {
        assert_eq!(hurdle_fraction(0), 1.0);
        assert!((1.0 / hurdle_fraction(2) - 7.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn tau_ranks_runs_and_the_means_of_programs() {
        // Two programs, two seeds each. At 1 the runs' order is mixed (a's second seed is worse
        // than b's first), the programs' means are in their final order; at 2 the curves end.
        let (a0, a1) = (vec![(1.0, 3.0), (2.0, 1.0)], vec![(1.0, 4.5), (2.0, 1.2)]);
        let (b0, b1) = (vec![(1.0, 4.0), (2.0, 2.0)], vec![(1.0, 5.0), (2.0, 2.2)]);
        let runs: Vec<RankedRun> = vec![("a", &a0, 1.0), ("a", &a1, 1.2), ("b", &b0, 2.0), ("b", &b1, 2.2)];
        let (n, tau, programs, tau_programs) = tau_at(&runs, 1.0);
        assert_eq!((n, programs), (4, 2));
        // Pairs: (a0,a1) +, (a0,b0) +, (a0,b1) +, (a1,b0) -, (a1,b1) +, (b0,b1) +: (5 - 1) / 6.
        assert!((tau - 4.0 / 6.0).abs() < 1e-12, "{tau}");
        assert_eq!(tau_programs, 1.0);
        // Halfway between points the curves are read linearly; past a curve's end nothing is.
        let (n, tau, _, _) = tau_at(&runs, 2.0);
        assert_eq!((n, tau), (4, 1.0));
        assert_eq!(tau_at(&runs, 3.0).0, 0);
        assert!(tau_at(&runs, 3.0).1.is_nan());
        // A run with no final loss is left out of both.
        let runs = vec![("a", &a0[..], 1.0), ("b", &b0[..], f64::NAN), ("b", &b1[..], 2.2)];
        assert_eq!(tau_at(&runs, 1.0).0, 2);
        assert_eq!(tau_at(&runs, 1.0).2, 2);
    }

    #[test]
    fn flops_print_short() {
        assert_eq!(flops(1e12), "1e12");
        assert_eq!(flops(2.5e11), "2.5e11");
        assert_eq!(flops(6.25e10), "6.25e10");
    }
}
