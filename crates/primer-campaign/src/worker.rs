//! The loop every `primer worker` runs, whatever evaluates its candidates: join a campaign
//! (by name or id, from any machine that reaches the store), register in the store (host, pid,
//! device), keep a heartbeat on the worker and a lease on the candidate it holds, claim, let
//! the evaluator measure the candidate, record the result, and exit 0 once the campaign is
//! finished. The evaluator is libtorch training (`primer-engine worker`) or, for load tests of
//! the coordination path, [`Simulated`] (`primer worker --simulate`, no libtorch).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use primer_dsl::budget::Budget;
use primer_store::{Campaign, Claim, CurvePoint, Evaluation, NewWorker, Outcome, Store};

use crate::signals::{hostname, install_stop_signals, request_stop, runtime, stop_reason, stopping};
use crate::spec::CampaignSpec;

/// What a worker was told on its command line.
#[derive(Debug, Clone)]
pub struct WorkerArgs {
    pub db: String,
    /// A campaign name or id.
    pub campaign: String,
    /// Its name in the store (default `host:pid`).
    pub id: Option<String>,
    /// `cpu`, `cuda:N` or `simulated`, as registered.
    pub device: String,
    /// Stop when the process that started it is gone (workers spawned by `primer search`).
    pub follow_parent: bool,
    /// How long to wait for the campaign to appear in the store (a controller that is still
    /// starting, e.g. an earlier Slurm job).
    pub wait_for_campaign: Duration,
    /// Where to write the seconds each successful claim took, one per line, at exit (the load
    /// test reads them).
    pub latency_log: Option<std::path::PathBuf>,
    /// Where to write the worker's [`Timings`] at exit (`primer bench campaign` reads them).
    pub timings: Option<std::path::PathBuf>,
    /// The cores its threads may use (`--cpus`, set by `primer search --pin`): set before any
    /// thread starts, so every one of them inherits it.
    pub cpus: Option<Vec<usize>>,
}

/// A worker that joined its campaign.
pub struct Joined {
    pub rt: tokio::runtime::Runtime,
    pub store: Store,
    pub campaign: Campaign,
    pub spec: CampaignSpec,
    pub id: String,
}

/// Measures claimed candidates.
pub trait Evaluate {
    /// The candidate's evaluation, or `None` when the worker was told to stop before it was
    /// done ([`stopping`]): nothing is recorded and the candidate is given back.
    fn evaluate(&mut self, w: &Joined, claim: &Claim) -> Result<Option<Evaluation>>;

    /// Seconds spent so far in each part of evaluating (compile, fingerprint, training steps,
    /// ...), for [`Timings`]; the rest of `evaluate` is counted as `other`.
    fn phases(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
}

/// Opens the store, finds the campaign (waiting for it as told), reads its spec, and registers.
pub fn join(args: &WorkerArgs) -> Result<Joined> {
    if let Some(cpus) = &args.cpus {
        crate::devices::set_affinity(cpus).with_context(|| format!("--cpus {}", crate::devices::format_cpus(cpus)))?;
    }
    let rt = runtime()?;
    let store = rt.block_on(Store::open_with(&args.db, 1))?;
    let deadline = Instant::now() + args.wait_for_campaign;
    let campaign = loop {
        match rt.block_on(crate::resolve::find_campaign(&store, &args.campaign)) {
            Ok(c) => break c,
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    let spec: CampaignSpec = serde_json::from_str(&campaign.config).context("the campaign's stored config")?;
    if spec.training.precision == primer_dsl::training::Precision::Bf16 && args.device == "cpu" {
        anyhow::bail!(
            "campaign `{}` trains in bf16 (training.precision): {} Start this worker with --device cuda",
            spec.name,
            primer_dsl::training::CPU_BF16
        );
    }
    let host = hostname();
    let id = args.id.clone().unwrap_or_else(|| format!("{host}:{}", std::process::id()));
    rt.block_on(store.register_worker(&NewWorker {
        id: id.clone(),
        campaign: campaign.id,
        host,
        pid: std::process::id() as i64,
        // Pinned: the cores the kernel confirms, so `primer status` shows where it really runs.
        device: match &args.cpus {
            Some(_) => {
                format!("{} [cores {}]", args.device, crate::devices::format_cpus(&crate::devices::allowed_cpus()))
            }
            None => args.device.clone(),
        },
    }))?;
    Ok(Joined { rt, store, campaign, spec, id })
}

/// Renews the worker's heartbeat and the lease of the candidate it holds (every third of the
/// lease), on a thread of its own so that a long training step never lets a lease lapse.
struct Heartbeat {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    /// `parent`: the process to follow (stop when it is gone), if any.
    fn start(db: String, worker: String, holding: Arc<AtomicI64>, lease: f64, parent: Option<u32>) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let Ok(rt) = runtime() else { return };
            // A store that cannot be reached now may be reachable in a moment (a restarting
            // server): keep trying rather than let the leases lapse silently.
            let store = loop {
                match rt.block_on(Store::open_with(&db, 1)) {
                    Ok(s) => break s,
                    Err(_) if !flag.load(Ordering::Relaxed) => std::thread::sleep(Duration::from_secs(1)),
                    Err(_) => return,
                }
            };
            let period = Duration::from_secs_f64((lease / 3.0).max(0.05));
            let tick = Duration::from_millis(20);
            let mut waited = period;
            while !flag.load(Ordering::Relaxed) {
                if parent.is_some_and(|p| std::os::unix::process::parent_id() != p) && !stopping() {
                    request_stop(-1);
                }
                if waited >= period {
                    waited = Duration::ZERO;
                    let _ = rt.block_on(store.worker_heartbeat(&worker));
                    let candidate = holding.load(Ordering::Relaxed);
                    if candidate >= 0 {
                        let _ = rt.block_on(store.heartbeat(candidate, &worker, lease));
                    }
                }
                std::thread::sleep(tick);
                waited += tick;
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

/// Claims, evaluates and records candidates until the campaign is finished (exit 0).
pub fn run(w: Joined, args: &WorkerArgs, evaluator: &mut dyn Evaluate) -> Result<ExitCode> {
    let result = work(&w, args, evaluator);
    // Leaving, for whatever reason: say so in the store (best effort).
    let _ = w.rt.block_on(w.store.worker_exited(&w.id));
    result
}

/// Where a worker's time went, from the start of its claim loop to its exit, in seconds. The
/// parts add up to `loop_seconds` (`other` is what none of them measured); what came before
/// the loop (the process starting, libtorch loading, joining, the corpus loading) is the
/// process's wall time minus `loop_seconds`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Timings {
    pub loop_seconds: f64,
    /// Candidates evaluated (results recorded or dropped), not counting ones given back.
    pub candidates: u64,
    /// Claims that found nothing to do and the pauses between them.
    pub waiting: f64,
    /// Claims that got a candidate.
    pub claims: f64,
    /// Recording results (`finish`) and giving candidates back.
    pub recording: f64,
    /// Parts of evaluating, from [`Evaluate::phases`], plus `other`.
    pub evaluate: std::collections::BTreeMap<String, f64>,
    /// Evaluating in all (the parts' sum; not written).
    #[serde(skip)]
    pub evaluating: f64,
}

fn work(w: &Joined, args: &WorkerArgs, evaluator: &mut dyn Evaluate) -> Result<ExitCode> {
    let mut latencies = Vec::new();
    let mut timings = Timings::default();
    let started = Instant::now();
    let result = claim_loop(w, args, evaluator, &mut latencies, &mut timings);
    timings.loop_seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &args.latency_log {
        let text: String = latencies.iter().map(|s| format!("{s:.6}\n")).collect();
        std::fs::write(path, text).with_context(|| format!("{}", path.display()))?;
    }
    if let Some(path) = &args.timings {
        timings.evaluate = evaluator.phases().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let measured: f64 = timings.evaluate.values().sum();
        timings.evaluate.insert("other".into(), (timings.evaluating - measured).max(0.0));
        std::fs::write(path, serde_json::to_string_pretty(&timings)?).with_context(|| format!("{}", path.display()))?;
    }
    result
}

fn claim_loop(
    w: &Joined,
    args: &WorkerArgs,
    evaluator: &mut dyn Evaluate,
    latencies: &mut Vec<f64>,
    timings: &mut Timings,
) -> Result<ExitCode> {
    let lease = w.spec.execution.lease_seconds;
    let holding = Arc::new(AtomicI64::new(-1));
    install_stop_signals();
    let parent = args.follow_parent.then(std::os::unix::process::parent_id);
    let _heartbeat = Heartbeat::start(args.db.clone(), w.id.clone(), holding.clone(), lease, parent);
    let (id, campaign) = (&w.id, w.campaign.id);
    eprintln!(
        "worker {id}: campaign `{}` (id {campaign}) in {}, budget {}, device {}",
        w.spec.name, w.store.url, w.spec.training.budget, args.device
    );
    let mut reuse = crate::reuse::Reuse::new(&w.spec);
    // Idle polling backs off (50 ms to 1 s) so that many idle workers cost the store little.
    let mut idle = Duration::from_millis(50);
    loop {
        if stopping() || parent.is_some_and(|p| std::os::unix::process::parent_id() != p) {
            if !stopping() {
                request_stop(-1);
            }
            eprintln!("worker {id}: {}; leaving", stop_reason());
            return Ok(ExitCode::SUCCESS);
        }
        let asked = Instant::now();
        let claimed = w.rt.block_on(w.store.claim(campaign, id, lease))?;
        let Some(claim) = claimed else {
            let finished = w.rt.block_on(w.store.campaign_by_id(campaign))?.is_some_and(|c| c.finished_at.is_some());
            if finished {
                timings.waiting += asked.elapsed().as_secs_f64();
                eprintln!("worker {id}: campaign finished");
                return Ok(ExitCode::SUCCESS);
            }
            sleep_unless_stopped(idle);
            idle = (idle * 2).min(Duration::from_secs(1));
            timings.waiting += asked.elapsed().as_secs_f64();
            continue;
        };
        latencies.push(asked.elapsed().as_secs_f64());
        timings.claims += asked.elapsed().as_secs_f64();
        idle = Duration::from_millis(50);
        holding.store(claim.candidate, Ordering::Relaxed);
        eprintln!("worker {id}: candidate {} (birth {}, attempt {})", claim.candidate, claim.birth, claim.attempts);
        let evaluating = Instant::now();
        // Measured in another campaign under the same settings: that loss, nothing trained.
        let e = match w.rt.block_on(reuse.lookup(&w.store, campaign, &w.spec, claim.candidate))? {
            Some(r) => {
                for (k, loss) in r.checkpoints {
                    w.rt.block_on(w.store.add_checkpoint(claim.candidate, k, loss))?;
                }
                Ok(Some(r.evaluation))
            }
            None => evaluator.evaluate(w, &claim),
        };
        timings.evaluating += evaluating.elapsed().as_secs_f64();
        holding.store(-1, Ordering::Relaxed);
        let recording = Instant::now();
        let Some(e) = e? else {
            // Told to stop before it was done: give it back at once, not charged.
            let reason = stop_reason();
            let given = w.rt.block_on(w.store.release(claim.candidate, id, &reason))?;
            eprintln!(
                "worker {id}: {reason}: candidate {} {} (no attempt charged)",
                claim.candidate,
                if given { "given back" } else { "was no longer mine" }
            );
            timings.recording += recording.elapsed().as_secs_f64();
            continue;
        };
        if !w.rt.block_on(w.store.finish(claim.candidate, id, &e))? {
            eprintln!("worker {id}: candidate {} was no longer mine (lease expired); result dropped", claim.candidate);
        } else {
            eprintln!("worker {id}: candidate {}: {} {:?}", claim.candidate, e.outcome, e.fitness);
        }
        timings.recording += recording.elapsed().as_secs_f64();
        timings.candidates += 1;
    }
}

/// Sleeps for `d`, waking early when the process is told to stop.
fn sleep_unless_stopped(d: Duration) {
    let until = Instant::now() + d;
    while !stopping() {
        let now = Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(20)));
    }
}

/// A stand-in for training, for load tests of the coordination path (`primer worker
/// --simulate`): it sleeps for the candidate's training FLOPs at `speed` FLOP/s (a seconds
/// budget: that many seconds), writes a curve point and a checkpoint at each hurdle (where the
/// hurdles may stop it, as in training), and reports a synthetic loss that is a function of the
/// program alone (its canonical hash): the same program always gets the same loss.
pub struct Simulated {
    pub speed: f64,
}

impl Simulated {
    /// The synthetic final loss of a program: 2 + a number in [0, 1) from its hash.
    pub fn loss(hash: &str) -> f64 {
        let x = u64::from_str_radix(&hash[..hash.len().min(15)], 16).unwrap_or(0);
        2.0 + (x % 1_000_000) as f64 / 1e6
    }
}

impl Evaluate for Simulated {
    fn evaluate(&mut self, w: &Joined, claim: &Claim) -> Result<Option<Evaluation>> {
        let spec = &w.spec;
        let program = primer_dsl::text::from_json(&claim.program_json, "<store>")?;
        let hash = primer_dsl::analysis::canonical_hash(&program).hex();
        let budget_text = spec.training.budget.to_string();
        let Some(cost) = spec.cost(&program) else {
            return Ok(Some(Evaluation {
                budget: budget_text,
                fitness: None,
                steps: 0,
                tokens: 0,
                flops: 0.0,
                seconds: 0.0,
                hurdles: 0,
                outcome: Outcome::Invalid,
                reason: Some("not a valid program at the campaign's model size".into()),
                reused_from: None,
            }));
        };
        let per_token = cost.training_flops_per_token.max(1) as f64;
        let tokens_per_step = (spec.training.batch * spec.model.seq_len) as f64;
        let flops = match spec.training.budget {
            Budget::Flops(f) => f,
            Budget::Steps(s) => s as f64 * tokens_per_step * per_token,
            Budget::Tokens(t) => t as f64 * per_token,
            Budget::Seconds(s) => s * self.speed,
        };
        let total_steps = (flops / (tokens_per_step * per_token)).round().max(1.0) as i64;
        let final_loss = Self::loss(&hash);
        let (store, rt) = (&w.store, &w.rt);
        let started = Instant::now();
        let mut at = 0.0;
        let mut passed = 0;
        let point = |fraction: f64, loss: f64| CurvePoint {
            step: (total_steps as f64 * fraction).round() as i64,
            tokens: (total_steps as f64 * fraction * tokens_per_step) as i64,
            flops: flops * fraction,
            seconds: started.elapsed().as_secs_f64(),
            train_loss: loss,
            val_loss: Some(loss),
        };
        for (k, fraction) in spec.hurdles.fractions().into_iter().enumerate() {
            sleep_unless_stopped(Duration::from_secs_f64(flops * (fraction - at) / self.speed));
            if stopping() {
                return Ok(None);
            }
            at = fraction;
            // Loss falls towards the final one as training goes on.
            let loss = final_loss + 0.5 * (1.0 - fraction);
            let p = point(fraction, loss);
            rt.block_on(store.add_curve_point(claim.candidate, &p))?;
            rt.block_on(store.add_checkpoint(claim.candidate, k as i64, loss))?;
            let (n, median) =
                rt.block_on(store.checkpoint_median(w.campaign.id, k as i64, claim.birth, w.spec.hurdles.window))?;
            if !spec.hurdles.passes_median(loss, n as usize, median) {
                return Ok(Some(Evaluation {
                    budget: budget_text,
                    fitness: Some(loss),
                    steps: p.step,
                    tokens: p.tokens,
                    flops: p.flops,
                    seconds: p.seconds,
                    hurdles: passed,
                    outcome: Outcome::Stopped,
                    reason: Some(format!("below the median at hurdle {}", k + 1)),
                    reused_from: None,
                }));
            }
            passed += 1;
        }
        sleep_unless_stopped(Duration::from_secs_f64(flops * (1.0 - at) / self.speed));
        if stopping() {
            return Ok(None);
        }
        let p = point(1.0, final_loss);
        rt.block_on(store.add_curve_point(claim.candidate, &p))?;
        Ok(Some(Evaluation {
            budget: budget_text,
            fitness: Some(final_loss),
            steps: total_steps,
            tokens: p.tokens,
            flops,
            seconds: p.seconds,
            hurdles: passed,
            outcome: Outcome::Finished,
            reason: None,
            reused_from: None,
        }))
    }
}
