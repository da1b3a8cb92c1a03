//! `primer drill programs`: N random programs (chains of 1-8 mutations from each reference
//! program, applied without the mutator's checks, and programs from the sampler), each
//! validated, compiled and trained 2 steps at a tiny size. No program may panic; every outcome
//! is classified (finished, invalid, diverged, out of memory); and validation and compilation
//! must agree: a program that validation accepts compiles and trains (an error from libtorch
//! on it is a disagreement).

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use serde::Serialize;

use primer_args::Format;
use primer_campaign::paths;
use primer_dsl::analysis::Cost;
use primer_dsl::sample::random_program;
use primer_dsl::validate::{check_structure, validate};
use primer_dsl::{ModelConfig, Program, SearchSpace, text};
use primer_evolve::mutation::{LiveSites, Mutator};
use primer_torch::compile::{CompileError, Model};
use primer_torch::data::Corpus;
use primer_torch::tch::Device;
use primer_torch::train::{Budget, Decision, Outcome, TrainConfig, TrainJob, train};

/// What the drill found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub seed: u64,
    pub programs: usize,
    pub seconds: f64,
    /// Outcome counts by source (`transformer.prim+mutations`, ..., `sampler`).
    pub outcomes: BTreeMap<String, BTreeMap<String, usize>>,
    /// Outcome counts over all sources.
    pub totals: BTreeMap<String, usize>,
    pub panics: usize,
    /// Programs validation accepted that compilation or training rejected as invalid.
    pub disagreements: usize,
    /// The first few panics and disagreements, in words.
    pub examples: Vec<String>,
}

/// How one program ended.
fn classify(
    p: &Program,
    model: ModelConfig,
    corpus: &Corpus,
    settings: &TrainConfig,
) -> (&'static str, Option<String>) {
    if check_structure(p).is_err() || validate(p, &model).is_err() {
        return ("invalid (validation)", None);
    }
    let m = match Model::new(p, model, Device::Cpu, settings.seed) {
        Ok(m) => m,
        Err(CompileError::OutOfMemory { .. }) => return ("out of memory", None),
        Err(e) => return ("invalid (compilation)", Some(format!("validation accepted it, compilation did not: {e}"))),
    };
    let job = TrainJob {
        corpus,
        config: model,
        settings,
        budget: Budget::Steps(2),
        checkpoints: &[],
        device: Device::Cpu,
        stop: None,
    };
    let r =
        train(&m, Cost::of(&m.validated).training_flops_per_token, &job, &mut |_, _| Decision::Continue, &mut |_| {});
    match r.outcome {
        Outcome::Finished | Outcome::Stopped { .. } => ("finished", None),
        Outcome::Diverged { .. } => ("diverged", None),
        Outcome::OutOfMemory { .. } => ("out of memory", None),
        Outcome::Interrupted { .. } => ("interrupted", None),
        Outcome::Invalid { reason } => {
            ("invalid (training)", Some(format!("validation accepted it, training did not: {reason}")))
        }
    }
}

/// A chain of 1-8 raw mutations of `seed` (stopping early at a structurally broken program:
/// nothing can be drawn on it).
fn mutated<R: Rng>(rng: &mut R, mutator: &Mutator, seed: &Program) -> Program {
    let mut p = seed.clone();
    for _ in 0..rng.random_range(1..=8) {
        let live = LiveSites::of(&p);
        let Some(m) = mutator.draw(rng, &p, &live) else { continue };
        p = m.apply(&p);
        if check_structure(&p).is_err() {
            break;
        }
    }
    p
}

/// Runs the drill.
pub fn programs(
    count: usize,
    seed: u64,
    space: Option<&Path>,
    keep: Option<&Path>,
    out: Option<&Path>,
    format: Format,
) -> Result<ExitCode> {
    primer_torch::tch::set_num_threads(1);
    let root = paths::workspace_root();
    let space_path = space.map(Path::to_path_buf).unwrap_or_else(|| root.join("search-spaces/primer.toml"));
    let space = SearchSpace::load(&space_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let model = ModelConfig { d_model: 16, seq_len: 8, n_layers: 1, vocab: 256 };
    let settings =
        TrainConfig { batch: 2, warmup: 1, eval_interval: 1000, val_batches: 1, seed, ..TrainConfig::default() };
    let corpus_path = paths::default_corpus();
    let corpus = Corpus::load_bytes(&corpus_path, model.seq_len)
        .with_context(|| format!("the corpus (fix: {})", paths::setup_hint()))?;
    let references: Vec<(String, Program)> = ["transformer.prim", "primer_ez.prim", "primer.prim"]
        .iter()
        .map(|n| {
            let p =
                text::parse_file(&root.join("search-spaces/programs").join(n)).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok((format!("{n}+mutations"), p))
        })
        .collect::<Result<_>>()?;
    let mutator = Mutator::new(space.clone(), model, 1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    if let Some(k) = keep {
        std::fs::create_dir_all(k).with_context(|| format!("cannot create {}", k.display()))?;
    }
    // Panics are counted and the last one's message kept, not printed by the default hook.
    static LAST_PANIC: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = info.to_string().replace('\n', " ");
    }));
    let last_panic = || LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let started = Instant::now();
    let mut report = Report { seed, programs: count, ..Report::default() };
    for i in 0..count {
        // Three of every four from a reference program's mutations, one from the sampler.
        let (source, program) = if i % 4 == 3 {
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| random_program(&mut rng, &space, 3, 8)));
            ("sampler".to_string(), r)
        } else {
            let (name, seed_program) = &references[(i - i / 4) % references.len()];
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| mutated(&mut rng, &mutator, seed_program)));
            (name.clone(), r)
        };
        let (outcome, note) = match program {
            Err(_) => (
                "panic (generating it)",
                Some(format!("program {i} ({source}): generating it panicked: {}", last_panic())),
            ),
            Ok(p) => match std::panic::catch_unwind(AssertUnwindSafe(|| classify(&p, model, &corpus, &settings))) {
                Ok((o, note)) => {
                    if let (Some(k), Some(_)) = (keep, &note) {
                        let _ = std::fs::write(k.join(format!("program-{i}.prim")), text::print(&p));
                    }
                    (o, note.map(|n| format!("program {i} ({source}): {n}")))
                }
                Err(_) => {
                    if let Some(k) = keep {
                        let _ = std::fs::write(k.join(format!("panic-{i}.json")), text::to_json(&p));
                    }
                    ("panic", Some(format!("program {i} ({source}): panicked: {}", last_panic())))
                }
            },
        };
        if outcome.starts_with("panic") {
            report.panics += 1;
        } else if note.is_some() {
            report.disagreements += 1;
        }
        if let Some(n) = note
            && report.examples.len() < 20
        {
            report.examples.push(n);
        }
        *report.outcomes.entry(source).or_default().entry(outcome.into()).or_default() += 1;
        *report.totals.entry(outcome.into()).or_default() += 1;
        if format == Format::Table && (i + 1) % 1000 == 0 {
            eprintln!("{} programs, {:.0} s", i + 1, started.elapsed().as_secs_f64());
        }
    }
    std::panic::set_hook(hook);
    report.seconds = started.elapsed().as_secs_f64();
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        _ => print(&report, &space_path),
    }
    if let Some(out) = out {
        std::fs::write(out, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(if report.panics == 0 && report.disagreements == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print(r: &Report, space: &Path) {
    println!(
        "{} random programs (seed {}, space {}, d_model 16, seq_len 8, 1 layer, 2 steps) in {:.0} s",
        r.programs,
        r.seed,
        space.display(),
        r.seconds
    );
    let kinds: Vec<&String> = r.totals.keys().collect();
    print!("{:<28}", "source");
    for k in &kinds {
        print!(" {k:>22}");
    }
    println!();
    let mut rows: Vec<(&String, &BTreeMap<String, usize>)> = r.outcomes.iter().collect();
    let all = ("all".to_string(), r.totals.clone());
    rows.push((&all.0, &all.1));
    for (source, counts) in rows {
        print!("{source:<28}");
        for k in &kinds {
            print!(" {:>22}", counts.get(*k).copied().unwrap_or(0));
        }
        println!();
    }
    println!("panics: {}; validation and compilation disagree on: {}", r.panics, r.disagreements);
    for e in &r.examples {
        println!("  - {e}");
    }
}
