//! `primer study STUDY.toml`: trains what the results file lacks (`jobs` runs at once, each on
//! its own libtorch threads), appending one JSON line per finished run, then writes the tables
//! and plots. `--render` only rebuilds them from the results.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use rayon::prelude::*;

use primer_args::Format;
use primer_campaign::paths;
use primer_campaign::study::{Job, RunRecord, Study, read_results, tables, write_outputs};
use primer_dsl::ModelConfig;
use primer_dsl::budget::Budget;
use primer_tokens::Choice;
use primer_torch::data::Corpus;
use primer_torch::tch::{self, Device};
use primer_torch::train::{Decision, TrainJob, train_program};

pub fn study(
    file: &Path,
    render_only: bool,
    jobs: Option<usize>,
    results: Option<&Path>,
    format: Format,
) -> Result<ExitCode> {
    let mut study = Study::load(file)?;
    if let Some(r) = results {
        study.results = r.to_path_buf();
    }
    let existing = read_results(&study.results)?;
    let current = study.current(&existing);
    let todo: Vec<Job> = study.jobs().into_iter().filter(|j| !current.contains_key(&j.key())).collect();
    let human = format == Format::Table;
    if !render_only && !todo.is_empty() {
        let jobs = jobs.unwrap_or(study.file.jobs).max(1);
        if human {
            eprintln!(
                "study `{}`: {} runs stored, {} to train ({} at a time, {} thread(s) each); results in {}",
                study.file.name,
                current.len(),
                todo.len(),
                jobs,
                study.file.training.threads,
                study.results.display()
            );
        }
        run(&study, &todo, jobs, human)?;
    }
    let records = study.current(&read_results(&study.results)?);
    let t = tables(&study, &records);
    let written = write_outputs(&study, &t)?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&t)?),
        Format::Csv => print!("{}", primer_campaign::study::csv(&t)),
        Format::Table => {
            print!("{}", primer_campaign::study::markdown(&study, &t));
            println!();
            for w in written {
                println!("wrote {}", w.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run(study: &Study, todo: &[Job], jobs: usize, human: bool) -> Result<()> {
    tch::set_num_threads(study.file.training.threads as i32);
    let corpus_path = study.corpus.clone().unwrap_or_else(paths::default_corpus);
    // One corpus per sequence length and tokenizer, for the sizes with runs to train.
    let dir = study.path.parent().unwrap_or(Path::new("."));
    let mut corpora = std::collections::BTreeMap::new();
    for j in todo {
        let s = &study.file.sizes[j.size];
        if let std::collections::btree_map::Entry::Vacant(e) = corpora.entry((s.seq_len, s.tokenizer().to_string())) {
            let choice = Choice::parse(s.tokenizer(), dir).map_err(|e| anyhow::anyhow!("size `{}`: {e}", s.name))?;
            let (corpus, spec) = Corpus::load_choice(&corpus_path, s.seq_len, &choice)
                .with_context(|| format!("the corpus (fix: {})", paths::setup_hint()))?;
            if human && !spec.is_bytes() {
                eprintln!("size `{}`: tokenizer {}, {} tokens", s.name, spec.describe(), spec.vocab);
            }
            e.insert(corpus);
        }
    }
    let out = Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&study.results)
            .with_context(|| format!("{}", study.results.display()))?,
    );
    // `jobs` runs at once on a rayon pool of that size; each run uses `training.threads`
    // libtorch threads. The first failure to write a record stops the study (what was written
    // stays: a rerun resumes).
    let total = todo.len();
    let done = AtomicUsize::new(0);
    // `jobs` threads take the runs in order (the first sizes' tables complete first).
    let next = AtomicUsize::new(0);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs.clamp(1, total.max(1))).build()?;
    pool.install(|| {
        (0..jobs.clamp(1, total.max(1))).into_par_iter().try_for_each(|_| -> Result<()> {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = todo.get(i) else { return Ok(()) };
                let size = &study.file.sizes[job.size];
                let record = train_one(study, job, &corpora[&(size.seq_len, size.tokenizer().to_string())]);
                let line = serde_json::to_string(&record).expect("records serialize") + "\n";
                {
                    let mut f = out.lock().expect("not poisoned");
                    f.write_all(line.as_bytes())
                        .and_then(|_| f.flush())
                        .with_context(|| format!("{}", study.results.display()))?;
                }
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                if human {
                    let r = &record;
                    let last = r.losses.last().copied().flatten();
                    eprintln!(
                        "[{n}/{total}] {} {} seed {}: {}, loss {}, {} steps, {:.0} s",
                        r.size,
                        r.program,
                        r.seed,
                        r.outcome,
                        last.map_or("–".into(), |l| format!("{l:.4}")),
                        r.steps,
                        r.seconds.last().copied().unwrap_or(0.0)
                    );
                }
            }
        })
    })
}

fn train_one(study: &Study, job: &Job, corpus: &Corpus) -> RunRecord {
    let size = &study.file.sizes[job.size];
    let (sp, program) = &study.programs[job.program];
    let budgets = &study.budgets[job.size];
    let largest = *budgets.last().expect("checked: a size has budgets");
    let fractions: Vec<f64> = budgets[..budgets.len() - 1].iter().map(|b| b / largest).collect();
    let settings = study.train_config(job.size, job.seed);
    let train_job = TrainJob {
        corpus,
        config: ModelConfig { vocab: corpus.vocab(), ..size.config() },
        settings: &settings,
        budget: Budget::Flops(largest),
        checkpoints: &fractions,
        device: Device::Cpu,
        stop: None,
    };
    let mut losses = Vec::new();
    let mut seconds = Vec::new();
    let last_seconds = std::cell::Cell::new(0.0);
    let r = train_program(
        program,
        &train_job,
        &mut |_, loss| {
            losses.push(Some(loss));
            seconds.push(last_seconds.get());
            Decision::Continue
        },
        &mut |p| last_seconds.set(p.seconds),
    );
    while losses.len() < budgets.len() - 1 {
        losses.push(None);
        seconds.push(f64::NAN);
    }
    losses.push(r.fitness);
    seconds.push(r.seconds);
    let outcome = r.outcome.to_string();
    RunRecord {
        size: size.name.clone(),
        program: sp.name.clone(),
        seed: job.seed,
        hash: job.hash.clone(),
        settings: job.settings.clone(),
        budgets: budgets.clone(),
        losses,
        outcome,
        steps: r.steps,
        seconds,
        parameters: r.parameters,
        flops_per_token: r.training_flops_per_token,
        curve: r.curve.iter().filter_map(|c| Some((c.flops, c.val_loss?))).collect(),
        bytes_per_token: r.bytes_per_token,
        validation_error: r.validation_error(),
    }
}
