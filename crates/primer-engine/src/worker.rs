//! `primer worker`: claims pending candidates of a campaign under a lease (renewed by a
//! heartbeat thread while training), computes the functional fingerprint (a functionally equal,
//! earlier program's fitness is reused until it is due to be re-measured), trains under the
//! campaign's budget with its halving hurdles, and records the curve, the checkpoints and the
//! result. It exits when the campaign is finished or the process that started it is gone.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

use primer_cli::campaign::CampaignSpec;
use primer_dsl::text;
use primer_evolve::FecDecision;
use primer_evolve::dedup::replay;
use primer_store::{Evaluation, Store};
use primer_torch::data::Corpus;
use primer_torch::fingerprint::fingerprint;
use primer_torch::tch::{self, Device};
use primer_torch::train::{Decision, Outcome, TrainJob, TrainResult, train_program};

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// Renews the lease every third of it until dropped.
struct Heartbeat {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    fn start(db: String, candidate: i64, worker: String, lease: f64) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let Ok(rt) = runtime() else { return };
            let Ok(store) = rt.block_on(Store::open(&db)) else { return };
            let period = Duration::from_secs_f64((lease / 3.0).max(0.05));
            let tick = Duration::from_millis(20);
            let mut waited = Duration::ZERO;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                waited += tick;
                if waited >= period {
                    waited = Duration::ZERO;
                    let _ = rt.block_on(store.heartbeat(candidate, &worker, lease));
                }
            }
        });
        Heartbeat { stop, thread: Some(thread) }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A training outcome as the store keeps it: its kind and the reason in words.
pub fn stored(o: &Outcome) -> (primer_store::Outcome, Option<String>) {
    use primer_store::Outcome as Stored;
    match o {
        Outcome::Finished => (Stored::Finished, None),
        Outcome::Stopped { checkpoint } => {
            (Stored::Stopped, Some(format!("below the median at hurdle {}", checkpoint + 1)))
        }
        Outcome::Invalid { reason } => (Stored::Invalid, Some(reason.clone())),
        Outcome::Diverged { step } => (Stored::Diverged, Some(format!("diverged at step {step}"))),
        Outcome::OutOfMemory { message } => (Stored::OutOfMemory, Some(message.clone())),
    }
}

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

/// `primer worker --db URL --campaign ID [--id NAME]`.
pub fn worker(db: &str, campaign_id: i64, id: Option<String>) -> Result<ExitCode> {
    let rt = runtime()?;
    let store = rt.block_on(Store::open(db))?;
    let campaign = rt
        .block_on(store.campaign_by_id(campaign_id))?
        .with_context(|| format!("no campaign {campaign_id} in {db}"))?;
    let spec: CampaignSpec = serde_json::from_str(&campaign.config).context("the campaign's stored config")?;
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "host".into());
    let id = id.unwrap_or_else(|| format!("{host}:{}", std::process::id()));
    tch::set_num_threads(spec.training.threads as i32);
    let corpus_path = spec.training.corpus.clone().context("the spec names its corpus")?;
    let corpus = Corpus::load(&corpus_path, spec.model.seq_len)?;
    let budget = spec.training.budget;
    // Results are stored under the budget's canonical text.
    let budget_text = budget.to_string();
    let settings = spec.training.config(spec.seed);
    let checkpoints = spec.hurdles.fractions();
    let lease = spec.execution.lease_seconds;
    let parent = std::os::unix::process::parent_id();
    eprintln!(
        "worker {id}: campaign `{}` (id {campaign_id}), budget {budget}, {} threads",
        spec.name, spec.training.threads
    );
    loop {
        if std::os::unix::process::parent_id() != parent {
            eprintln!("worker {id}: the process that started me is gone; stopping");
            return Ok(ExitCode::SUCCESS);
        }
        let Some(claim) = rt.block_on(store.claim(campaign_id, &id, lease))? else {
            let finished = rt.block_on(store.campaign_by_id(campaign_id))?.is_some_and(|c| c.finished_at.is_some());
            if finished {
                eprintln!("worker {id}: campaign finished");
                return Ok(ExitCode::SUCCESS);
            }
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let _heartbeat = Heartbeat::start(db.to_string(), claim.candidate, id.clone(), lease);
        let program = text::from_json(&claim.program_json, "<store>")?;
        eprintln!("worker {id}: candidate {} (birth {}, attempt {})", claim.candidate, claim.birth, claim.attempts);

        // Functional dedup: replay the campaign's earlier results with this fingerprint.
        let mut reuse = None;
        if let Ok(fp) = fingerprint(&program, spec.model) {
            rt.block_on(store.set_fingerprint(claim.candidate, &fp))?;
            if spec.dedup.fec_remeasure_after > 0 {
                let earlier = rt.block_on(store.same_fingerprint(campaign_id, &fp, claim.birth))?;
                let earlier = earlier.into_iter().map(|(c, fitness, from)| (c as u64, fitness, from.is_some()));
                if let FecDecision::Reuse { fitness, measured_by } = replay(spec.dedup.fec_remeasure_after, earlier) {
                    reuse = Some((fitness, measured_by as i64));
                }
            }
        }
        let e = match reuse {
            Some((fitness, from)) => Evaluation {
                budget: budget_text.clone(),
                fitness: fitness.is_finite().then_some(fitness),
                steps: 0,
                tokens: 0,
                flops: 0.0,
                seconds: 0.0,
                hurdles: 0,
                outcome: primer_store::Outcome::Reused,
                reason: Some(format!("functionally equal to candidate {from}")),
                reused_from: Some(from),
            },
            None => {
                let job = TrainJob {
                    corpus: &corpus,
                    config: spec.model,
                    settings: &settings,
                    budget,
                    checkpoints: &checkpoints,
                    device: Device::Cpu,
                };
                let mut on_checkpoint = |k: usize, loss: f64| {
                    let earlier = rt.block_on(async {
                        store.add_checkpoint(claim.candidate, k as i64, loss).await?;
                        store.checkpoint_losses(campaign_id, k as i64, claim.birth).await
                    });
                    match earlier {
                        Ok(earlier) if !spec.hurdles.passes(loss, &earlier) => Decision::Stop,
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
                evaluation(&budget_text, &r)
            }
        };
        drop(_heartbeat);
        if !rt.block_on(store.finish(claim.candidate, &id, &e))? {
            eprintln!("worker {id}: candidate {} was no longer mine (lease expired); result dropped", claim.candidate);
        } else {
            eprintln!("worker {id}: candidate {}: {} {:?}", claim.candidate, e.outcome, e.fitness);
        }
    }
}
