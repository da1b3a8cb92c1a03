//! `primer export CANDIDATE --out DIR [--format prim,json,pytorch,safetensors,torchscript|all]`:
//! a candidate (or a program file) into people's own code. Everything is made in memory (the
//! TorchScript trace in a temporary file) before the first file is written, and existing files
//! are kept unless `--force`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use primer_args::{ExportFormat, ModelArgs, TrainArgs};
use primer_campaign::resolve::{candidate_id, candidate_program};
use primer_campaign::{paths, resolve::load_program};
use primer_dsl::analysis::{Cost, canonical_hash};
use primer_dsl::budget::Budget;
use primer_dsl::{ModelConfig, Program, text};
use primer_store::{Store, Weights};
use primer_tokens::{Choice, TokenizerSpec};
use primer_torch::compile::Model;
use primer_torch::data::Corpus;
use primer_torch::export::{
    Provenance, check_bytes, load_model_weights, model_weights, python_weights, pytorch_source, trace,
};
use primer_torch::tch::{self, Device};
use primer_torch::train::{Decision, Outcome, TrainConfig, TrainJob, train};

/// The command line of `export`.
pub struct Args<'a> {
    pub candidate: &'a str,
    pub out: &'a Path,
    pub formats: &'a [ExportFormat],
    pub force: bool,
    pub budget: Option<Budget>,
    pub corpus: Option<&'a Path>,
    pub training: &'a TrainArgs,
    pub model: &'a ModelArgs,
    pub db: &'a str,
}

/// What was exported, written as export.json.
#[derive(Debug, Serialize)]
struct Manifest {
    program: String,
    program_hash: String,
    candidate: Option<i64>,
    campaign: Option<String>,
    model: ModelConfig,
    /// `bytes`, or the tokenizer (its file beside model.py: tokenizer.json) and its SHA-256.
    tokenizer: String,
    tokenizer_sha256: Option<String>,
    parameters: u64,
    /// The budget and training seed of the weights (none when no weights were exported).
    budget: Option<String>,
    seed: Option<u64>,
    /// The validation loss (nats per token) the weights' training ended with.
    weights_val_loss: Option<f64>,
    /// Where the weights came from: "store" or "trained".
    weights_from: Option<String>,
    /// The candidate's fitness in its campaign.
    search_val_loss: Option<f64>,
    files: Vec<String>,
}

/// Where the weights come from and how they are trained when not stored.
struct Plan {
    program: Program,
    name: String,
    config: ModelConfig,
    settings: TrainConfig,
    device: Device,
    budget: Option<Budget>,
    corpus: PathBuf,
    tokenizer: TokenizerSpec,
    provenance: Provenance,
    candidate: Option<(i64, String, Option<f64>)>,
}

fn plan(a: &Args, candidate: Option<i64>, store: Option<&(tokio::runtime::Runtime, Store)>) -> Result<Plan> {
    if let Some(id) = candidate {
        if a.budget.is_some() {
            bail!(
                "--budget is for program files: candidate {id} is trained at its campaign's budget (`primer rerun` retrains at others)"
            );
        }
        let (rt, store) = store.context("a candidate needs the store")?;
        let c = rt.block_on(candidate_program(store, id))?;
        let r = &c.row;
        let mut details =
            vec![format!("Campaign budget {} per candidate; training seed {}.", c.spec.training.budget, c.spec.seed)];
        if let Some(d) = &r.description {
            details.push(format!(
                "Mutation from its parent (candidate {}): {d}.",
                r.parent.map_or("-".into(), |p| p.to_string())
            ));
        }
        if let Some(f) = r.fitness {
            details.push(format!(
                "Validation loss in the search: {f:.4} nats per token ({}).",
                r.outcome.map_or("-", |o| o.as_str())
            ));
        }
        let threads = a.training.threads.unwrap_or(c.spec.training.threads);
        tch::set_num_threads(threads as i32);
        Ok(Plan {
            name: format!("candidate {id}"),
            provenance: Provenance {
                origin: format!("candidate {id} of campaign `{}` (birth {})", c.campaign.name, r.birth),
                details,
            },
            config: c.spec.model,
            settings: c.spec.training.config(c.spec.seed),
            device: Device::Cpu,
            budget: Some(c.spec.training.budget),
            corpus: c.spec.training.corpus.clone().context("the campaign names its corpus")?,
            tokenizer: c.spec.tokenizer.clone(),
            candidate: Some((id, c.campaign.name.clone(), r.fitness)),
            program: c.program,
        })
    } else {
        let path = Path::new(a.candidate);
        if !path.exists() {
            bail!("`{}` is neither a candidate id nor a program file", a.candidate);
        }
        let (program, _) = load_program(path)?;
        let (settings, device) = crate::setup::settings(a.training)?;
        let name = path.file_name().map_or_else(|| a.candidate.to_string(), |n| n.to_string_lossy().into_owned());
        let corpus = a.corpus.map(Path::to_path_buf).unwrap_or_else(paths::default_corpus);
        let choice =
            Choice::parse(&a.training.tokenizer, Path::new(".")).map_err(|e| anyhow::anyhow!("--tokenizer: {e}"))?;
        let tokenizer = match choice {
            Choice::Bytes => TokenizerSpec::bytes(),
            choice => {
                let text = primer_tokens::corpus::read(&corpus).with_context(|| {
                    format!("the corpus the tokenizer is trained on (fix: {})", paths::setup_hint())
                })?;
                let part = primer_tokens::corpus::training_part(&text, a.model.config().seq_len);
                TokenizerSpec::make(&choice, part).map_err(|e| anyhow::anyhow!("--tokenizer: {e}"))?
            }
        };
        Ok(Plan {
            provenance: Provenance { origin: name.clone(), details: vec![] },
            name,
            config: ModelConfig { vocab: tokenizer.vocab, ..a.model.config() },
            settings,
            device,
            budget: a.budget,
            corpus,
            tokenizer,
            candidate: None,
            program,
        })
    }
}

/// The formats `--format` asks for (`all`: every one).
fn formats(asked: &[ExportFormat]) -> HashSet<ExportFormat> {
    if asked.contains(&ExportFormat::All) {
        [
            ExportFormat::Prim,
            ExportFormat::Json,
            ExportFormat::Pytorch,
            ExportFormat::Safetensors,
            ExportFormat::Torchscript,
        ]
        .into()
    } else {
        asked.iter().copied().collect()
    }
}

/// The files an export of `plan` in `formats` writes, in the order they are listed.
fn files(formats: &HashSet<ExportFormat>, plan: &Plan) -> Vec<&'static str> {
    let has = |f: ExportFormat| formats.contains(&f);
    let mut files: Vec<&str> = Vec::new();
    if has(ExportFormat::Prim) {
        files.push("program.prim");
    }
    if has(ExportFormat::Json) {
        files.push("program.json");
    }
    if has(ExportFormat::Pytorch) {
        files.push("model.py");
    }
    if has(ExportFormat::Safetensors) {
        files.extend(["weights.safetensors", "check.safetensors"]);
    }
    if has(ExportFormat::Torchscript) {
        files.push("model.pt");
    }
    if !plan.tokenizer.is_bytes() {
        files.push("tokenizer.json");
    }
    files.push("export.json");
    files
}

/// The comment lines `program.prim` starts with: where the program comes from, and its size.
fn header(plan: &Plan, cost: &Cost) -> String {
    let mut h = format!("# {}\n", plan.provenance.origin);
    for d in &plan.provenance.details {
        h.push_str(&format!("# {d}\n"));
    }
    h.push_str(&format!(
        "# Model: d_model {}, seq_len {}, {} layers; {} parameters.\n\n",
        plan.config.d_model, plan.config.seq_len, plan.config.n_layers, cost.model_params
    ));
    h
}

/// Puts weights into `model`: the store's, trained before at this budget and seed, or trained
/// now (and then stored, unless the store is an archive). Returns their validation loss and
/// where they came from (`store` or `trained`).
fn weights(
    plan: &Plan,
    model: &Model,
    corpus: &Corpus,
    cost: &Cost,
    budget: Budget,
    store: Option<&(tokio::runtime::Runtime, Store)>,
    hash: &str,
) -> Result<(Option<f64>, &'static str)> {
    let budget_text = budget.to_string();
    let seed = plan.settings.seed;
    let stored = match (&store, &plan.candidate) {
        (Some((rt, store)), Some((id, _, _))) => rt.block_on(store.weights(*id, &budget_text, seed as i64))?,
        _ => None,
    };
    match stored {
        Some(w) => {
            load_model_weights(model, &w.data).context("the stored weights")?;
            eprintln!("{}: weights from the store (trained at {budget_text}, seed {seed})", plan.name);
            Ok((w.fitness, "store"))
        }
        None => {
            eprintln!("{}: no stored weights: training at {budget_text} (seed {seed}) ...", plan.name);
            let job = TrainJob {
                corpus,
                config: plan.config,
                settings: &plan.settings,
                budget,
                checkpoints: &[],
                device: plan.device,
                stop: None,
            };
            let r = train(model, cost.training_flops_per_token, &job, &mut |_, _| Decision::Continue, &mut |_| {});
            if r.outcome != Outcome::Finished {
                bail!("{}: training for the weights ended: {} (nothing was written)", plan.name, r.outcome);
            }
            eprintln!(
                "{}: trained {} steps in {:.1} s, validation loss {:.4}{}",
                plan.name,
                r.steps,
                r.seconds,
                r.fitness.unwrap_or(f64::NAN),
                plan.candidate
                    .as_ref()
                    .and_then(|c| c.2)
                    .map_or(String::new(), |f| format!(" (the search measured {f:.4})"))
            );
            // An archive is read-only: the weights trained from it are exported, not kept.
            if let (Some((rt, store)), Some((id, _, _))) = (&store, &plan.candidate)
                && primer_store::archive_file(&store.url).is_none()
            {
                let meta = BTreeMap::from([
                    ("candidate".to_string(), id.to_string()),
                    ("program".to_string(), hash.to_string()),
                ]);
                let data = model_weights(model, &meta)?;
                let store = rt.block_on(Store::open(&store.url))?;
                rt.block_on(store.put_weights(&Weights {
                    candidate: *id,
                    budget: budget_text.clone(),
                    seed: seed as i64,
                    fitness: r.fitness,
                    steps: r.steps as i64,
                    data,
                }))?;
            }
            Ok((r.fitness, "trained"))
        }
    }
}

/// Refuses to overwrite: an error naming the files of `files` that exist in `out`.
fn refuse_existing(out: &Path, files: &[&str]) -> Result<()> {
    let existing: Vec<&str> = files.iter().copied().filter(|f| out.join(f).exists()).collect();
    if !existing.is_empty() {
        bail!(
            "{}: {} already exist(s); pass --force to overwrite (nothing was written)",
            out.display(),
            existing.join(", ")
        );
    }
    Ok(())
}

/// What the export wrote, and how to check it.
fn print_summary(a: &Args, plan: &Plan, files: &[&str], manifest: &Manifest, formats: &HashSet<ExportFormat>) {
    let has = |f: ExportFormat| formats.contains(&f);
    println!("exported {} to {}:", plan.name, a.out.display());
    for f in files {
        let size = std::fs::metadata(a.out.join(f)).map(|m| m.len()).unwrap_or(0);
        println!("  {f:<20} {size:>10} bytes");
    }
    if let Some(l) = manifest.weights_val_loss {
        let from = if manifest.weights_from.as_deref() == Some("store") {
            "read from the store"
        } else {
            "trained now, and stored for later exports"
        };
        println!(
            "weights: trained at {} (seed {}), validation loss {l:.4}; {from}",
            manifest.budget.as_deref().unwrap_or("-"),
            manifest.seed.unwrap_or(0)
        );
    }
    if has(ExportFormat::Pytorch) && has(ExportFormat::Safetensors) {
        println!("check it: python {}", a.out.join("model.py").display());
    }
}

pub fn export(a: &Args) -> Result<ExitCode> {
    let formats = formats(a.formats);
    let candidate = candidate_id(a.candidate);
    let store = if candidate.is_some() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        // Reading a candidate needs no write: the store opens read-only (an older store is
        // migrated, as every command that may write does); storing newly trained weights opens
        // it for writing then.
        let store = match rt.block_on(Store::open_read(a.db)) {
            Err(primer_store::StoreError::Older { .. }) => rt.block_on(Store::open(a.db))?,
            other => other?,
        };
        Some((rt, store))
    } else {
        None
    };
    let plan = plan(a, candidate, store.as_ref())?;
    let has = |f: ExportFormat| formats.contains(&f);
    let weighted = has(ExportFormat::Safetensors) || has(ExportFormat::Torchscript);

    let files = files(&formats, &plan);
    if !a.force {
        refuse_existing(a.out, &files)?;
    }

    let cost = Cost::of(
        &primer_dsl::validate::validate(&plan.program, &plan.config)
            .with_context(|| format!("{} at this model size", plan.name))?,
    );
    let hash = canonical_hash(&plan.program).to_string();
    let mut contents: Vec<(&str, Vec<u8>)> = Vec::new();
    let header = header(&plan, &cost);
    if has(ExportFormat::Prim) {
        contents.push(("program.prim", format!("{header}{}", text::print(&plan.program)).into_bytes()));
    }
    if has(ExportFormat::Json) {
        contents.push(("program.json", format!("{}\n", text::to_json(&plan.program)).into_bytes()));
    }
    let py = pytorch_source(&plan.program, plan.config, &plan.provenance)?;
    if has(ExportFormat::Pytorch) {
        contents.push(("model.py", py.source.clone().into_bytes()));
    }
    if let Some(json) = &plan.tokenizer.json {
        contents.push(("tokenizer.json", json.clone().into_bytes()));
    }

    let mut manifest = Manifest {
        program: plan.name.clone(),
        program_hash: hash.clone(),
        candidate: plan.candidate.as_ref().map(|c| c.0),
        campaign: plan.candidate.as_ref().map(|c| c.1.clone()),
        model: plan.config,
        tokenizer: plan.tokenizer.name.clone(),
        tokenizer_sha256: plan.tokenizer.json.as_ref().map(|_| plan.tokenizer.sha256.clone()),
        parameters: cost.model_params,
        budget: None,
        seed: None,
        weights_val_loss: None,
        weights_from: None,
        search_val_loss: plan.candidate.as_ref().and_then(|c| c.2),
        files: files.iter().map(|f| f.to_string()).collect(),
    };
    let mut traced: Option<tempfile_path::TempPath> = None;
    if weighted {
        let budget = plan.budget.with_context(|| {
            format!("{}: the weights need training; pass --budget (e.g. 300steps or 1e12flops), or --format prim,json,pytorch", plan.name)
        })?;
        let budget_text = budget.to_string();
        let corpus = Corpus::load(&plan.corpus, plan.config.seq_len, &plan.tokenizer)
            .with_context(|| format!("the corpus (fix: {})", paths::setup_hint()))?;
        let model = Model::new(&plan.program, plan.config, plan.device, plan.settings.seed)?;
        let seed = plan.settings.seed;
        let (val_loss, from) = weights(&plan, &model, &corpus, &cost, budget, store.as_ref(), &hash)?;
        manifest.budget = Some(budget_text.clone());
        manifest.seed = Some(seed);
        manifest.weights_val_loss = val_loss;
        manifest.weights_from = Some(from.into());
        let t = plan.config.seq_len as i64;
        let window = corpus
            .validation_batches(1, 2, plan.config.seq_len, Device::Cpu)
            .into_iter()
            .next()
            .context("validation windows")?;
        let tokens = window.narrow(1, 0, t).to_device(plan.device);
        if has(ExportFormat::Safetensors) {
            let mut meta = BTreeMap::from([
                ("program".to_string(), hash.clone()),
                ("budget".to_string(), budget_text.clone()),
                ("seed".to_string(), seed.to_string()),
                ("model".to_string(), serde_json::to_string(&plan.config)?),
            ]);
            if let Some((id, campaign, _)) = &plan.candidate {
                meta.insert("candidate".into(), id.to_string());
                meta.insert("campaign".into(), campaign.clone());
            }
            contents.push(("weights.safetensors", python_weights(&model, &py.names, &meta)?));
            contents.push(("check.safetensors", check_bytes(&model, &tokens)?));
        }
        if has(ExportFormat::Torchscript) {
            std::fs::create_dir_all(a.out).with_context(|| format!("creating {}", a.out.display()))?;
            let tmp = tempfile_path::TempPath::new(a.out.join(".model.pt.partial"));
            trace(&model, &tokens.narrow(0, 0, 1), &tmp.0)?;
            traced = Some(tmp);
        }
    }
    contents.push(("export.json", format!("{}\n", serde_json::to_string_pretty(&manifest)?).into_bytes()));

    std::fs::create_dir_all(a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for (name, bytes) in &contents {
        let path = a.out.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(tmp) = traced {
        tmp.persist(&a.out.join("model.pt"))?;
    }
    print_summary(a, &plan, &files, &manifest, &formats);
    Ok(ExitCode::SUCCESS)
}

/// A file removed on drop unless persisted (the TorchScript trace before every other file is
/// made).
mod tempfile_path {
    use std::path::{Path, PathBuf};

    pub struct TempPath(pub PathBuf);

    impl TempPath {
        pub fn new(path: PathBuf) -> TempPath {
            TempPath(path)
        }

        pub fn persist(self, to: &Path) -> std::io::Result<()> {
            std::fs::rename(&self.0, to)?;
            std::mem::forget(self);
            Ok(())
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}
