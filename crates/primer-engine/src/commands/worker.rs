//! `primer worker`: the loop of [`primer_campaign::worker`] (join, register, heartbeat, claim under a
//! lease, record, exit when the campaign is finished) with libtorch training as the evaluator.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};

use primer_args::DeviceArg;
use primer_campaign::worker::{self as work, Evaluate, Joined, WorkerArgs};
use primer_dsl::text;
use primer_evolve::FecDecision;
use primer_evolve::dedup::replay;
use primer_store::{Claim, Evaluation};
use primer_torch::data::Corpus;
use primer_torch::fingerprint::fingerprint;
use primer_torch::tch::{self, Device};
use primer_torch::train::{Decision, Outcome, TrainJob, TrainResult, train_program};

use crate::records::stored;

fn evaluation(budget: &str, r: &TrainResult) -> Evaluation {
    let (outcome, reason) = stored(&r.outcome);
    Evaluation {
        budget: budget.into(),
        fitness: r.fitness,
        steps: r.steps as i64,
        tokens: r.tokens as i64,
        flops: r.flops,
        seconds: r.seconds,
        hurdles: r.checkpoints_reached as i64,
        outcome,
        reason,
        reused_from: None,
    }
}

/// Trains claimed candidates with libtorch: the functional fingerprint first (an earlier,
/// functionally equal program's fitness is reused until it is due to be re-measured), then the
/// campaign's budget with its halving hurdles, recording the curve and the checkpoints.
struct Trainer {
    corpus: Corpus,
    device: Device,
    /// Seconds so far, by part (see [`Evaluate::phases`]).
    spent: Spent,
}

#[derive(Default)]
struct Spent {
    fingerprint: f64,
    store: f64,
    compile: f64,
    batches: f64,
    steps: f64,
    evaluation: f64,
}

impl Evaluate for Trainer {
    fn evaluate(&mut self, w: &Joined, claim: &Claim) -> Result<Option<Evaluation>> {
        let (spec, store, rt, campaign_id) = (&w.spec, &w.store, &w.rt, w.campaign.id);
        let budget = spec.training.budget;
        // Results are stored under the budget's canonical text.
        let budget_text = budget.to_string();
        let program = text::from_json(&claim.program_json, "<store>")?;

        // Functional dedup: replay the campaign's earlier results with this fingerprint.
        let fingerprinting = Instant::now();
        let fp = fingerprint(&program, spec.model);
        self.spent.fingerprint += fingerprinting.elapsed().as_secs_f64();
        if let Ok(fp) = fp {
            let writing = Instant::now();
            rt.block_on(store.set_fingerprint(claim.candidate, &fp))?;
            let earlier = if spec.dedup.fec_remeasure_after > 0 {
                Some(rt.block_on(store.same_fingerprint(campaign_id, &fp, claim.birth))?)
            } else {
                None
            };
            self.spent.store += writing.elapsed().as_secs_f64();
            if let Some(earlier) = earlier {
                let earlier = earlier.into_iter().map(|(c, fitness, from)| (c as u64, fitness, from.is_some()));
                if let FecDecision::Reuse { fitness, measured_by } = replay(spec.dedup.fec_remeasure_after, earlier) {
                    let from = measured_by as i64;
                    return Ok(Some(Evaluation {
                        budget: budget_text,
                        fitness: fitness.is_finite().then_some(fitness),
                        steps: 0,
                        tokens: 0,
                        flops: 0.0,
                        seconds: 0.0,
                        hurdles: 0,
                        outcome: primer_store::Outcome::Reused,
                        reason: Some(format!("functionally equal to candidate {from}")),
                        reused_from: Some(from),
                    }));
                }
            }
        }
        let settings = spec.training.config(spec.seed);
        let checkpoints = spec.hurdles.fractions();
        let job = TrainJob {
            corpus: &self.corpus,
            config: spec.model,
            settings: &settings,
            budget,
            checkpoints: &checkpoints,
            device: self.device,
            stop: Some(primer_campaign::signals::stop_flag()),
        };
        let mut on_checkpoint = |k: usize, loss: f64| {
            let earlier = rt.block_on(async {
                store.add_checkpoint(claim.candidate, k as i64, loss).await?;
                store.checkpoint_median(campaign_id, k as i64, claim.birth, spec.hurdles.window).await
            });
            match earlier {
                Ok((n, median)) if !spec.hurdles.passes_median(loss, n as usize, median) => Decision::Stop,
                _ => Decision::Continue,
            }
        };
        let mut on_point = |pt: &primer_torch::train::CurvePoint| {
            let point = primer_store::CurvePoint {
                step: pt.step as i64,
                tokens: pt.tokens as i64,
                flops: pt.flops,
                seconds: pt.seconds,
                train_loss: pt.train_loss,
                val_loss: pt.val_loss,
            };
            let _ = rt.block_on(store.add_curve_point(claim.candidate, &point));
        };
        let r = train_program(&program, &job, &mut on_checkpoint, &mut on_point);
        self.spent.compile += r.phases.compile;
        self.spent.batches += r.phases.batches;
        self.spent.steps += r.seconds;
        self.spent.evaluation += r.phases.evaluation;
        self.spent.store += r.phases.callbacks;
        if matches!(r.outcome, Outcome::Interrupted { .. }) {
            return Ok(None);
        }
        Ok(Some(evaluation(&budget_text, &r)))
    }

    fn phases(&self) -> Vec<(&'static str, f64)> {
        let s = &self.spent;
        vec![
            ("fingerprint", s.fingerprint),
            ("store", s.store),
            ("compile", s.compile),
            ("batches", s.batches),
            ("steps", s.steps),
            ("evaluation", s.evaluation),
        ]
    }
}

/// `primer worker --db URL --campaign NAME|ID [--device D] [--threads N] [--id NAME]`.
pub fn worker(args: &WorkerArgs, device: DeviceArg, threads: Option<u32>) -> Result<ExitCode> {
    let device = crate::setup::device(device)?;
    let joined = work::join(args)?;
    let spec = &joined.spec;
    tch::set_num_threads(threads.map_or(spec.training.threads as i32, |t| t as i32));
    let corpus_path = spec.training.corpus.clone().context("the spec names its corpus")?;
    let corpus = Corpus::load(&corpus_path, spec.model.seq_len, &spec.tokenizer)?;
    work::run(joined, args, &mut Trainer { corpus, device, spent: Spent::default() })
}
