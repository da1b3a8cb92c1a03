//! `primer rerun CAMPAIGN --top K --budget B --seeds N`: retrains a campaign's best candidates
//! at another budget, over seeds, with the campaign's model and training settings, and stores
//! each result beside the originals (what is already stored is skipped, so it resumes).

use std::collections::HashSet;
use std::process::ExitCode;

use anyhow::{Context, Result};

use primer_args::Format;
use primer_campaign::reruns::top_rerun;
use primer_campaign::resolve::find_campaign;
use primer_campaign::spec::CampaignSpec;
use primer_dsl::budget::Budget;
use primer_dsl::text;
use primer_store::{Rerun, Store};
use primer_torch::data::Corpus;
use primer_torch::tch::{self, Device};
use primer_torch::train::{Decision, TrainJob, train_program};

use crate::records::stored;

#[allow(clippy::too_many_arguments)]
pub fn rerun(
    db: &str,
    campaign: &str,
    top: i64,
    budget: Budget,
    seeds: i64,
    threads: Option<usize>,
    format: Format,
) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let store = rt.block_on(Store::open(db))?;
    let c = rt.block_on(find_campaign(&store, campaign))?;
    let spec: CampaignSpec = serde_json::from_str(&c.config).context("the campaign's stored config")?;
    // Retrainings are stored under the budget's canonical text.
    let budget_text = budget.to_string();
    anyhow::ensure!(seeds > 0, "--seeds must be at least 1");
    tch::set_num_threads(threads.unwrap_or(spec.training.threads) as i32);
    let corpus = Corpus::load(
        spec.training.corpus.as_deref().context("the spec names its corpus")?,
        spec.model.seq_len,
        &spec.tokenizer,
    )?;
    let best = rt.block_on(store.top(c.id, top))?;
    let done: HashSet<(i64, i64)> =
        rt.block_on(store.reruns(c.id, &budget_text))?.iter().map(|r| (r.candidate, r.seed)).collect();
    for row in &best {
        let json = rt.block_on(store.program_json(&row.program))?.context("a stored program")?;
        let program = text::from_json(&json, "<store>")?;
        for seed in 0..seeds {
            if done.contains(&(row.candidate, seed)) {
                continue;
            }
            let settings = spec.training.config(spec.seed.wrapping_add(seed as u64));
            let job = TrainJob {
                corpus: &corpus,
                config: spec.model,
                settings: &settings,
                budget,
                checkpoints: &[],
                device: Device::Cpu,
                stop: None,
            };
            let r = train_program(&program, &job, &mut |_, _| Decision::Continue, &mut |_| {});
            let (outcome, reason) = stored(&r.outcome);
            if format == Format::Table {
                eprintln!(
                    "candidate {} seed {seed}: {outcome} {:?} ({} steps, {:.1} s)",
                    row.candidate, r.fitness, r.steps, r.seconds
                );
            }
            rt.block_on(store.add_rerun(&Rerun {
                candidate: row.candidate,
                budget: budget_text.clone(),
                seed,
                fitness: r.fitness,
                steps: r.steps as i64,
                flops: r.flops,
                seconds: r.seconds,
                outcome,
                reason,
            }))?;
        }
    }
    rt.block_on(top_rerun(&store, &c.name, budget, top, format))?;
    Ok(ExitCode::SUCCESS)
}
