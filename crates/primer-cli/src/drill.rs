//! Reliability drills. `primer drill chaos` runs one real campaign (a controller with
//! `--workers 0` and W `primer worker` processes, step budget, tiny model) while a driver
//! SIGKILLs a random worker K times and the controller C times at random moments (seeded),
//! restarting each at once, then checks the store: births 0..n-1 each with exactly one
//! evaluation, no curve point or checkpoint twice, a reason for every attempt beyond the first,
//! every stored program parseable (text and JSON, the same program, under its hash), nothing
//! left pending or running, and the controller lease given back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::{Rng, SeedableRng};
use serde::Serialize;

use primer_dsl::analysis::canonical_hash;
use primer_store::{Outcome, Status, Store};

/// What the chaos drill is told.
#[derive(Debug, Clone)]
pub struct ChaosDrill {
    pub config: PathBuf,
    pub db: String,
    pub name: String,
    pub workers: usize,
    pub worker_kills: usize,
    pub controller_kills: usize,
    pub seed: u64,
    pub candidates: Option<u64>,
    /// Seconds between kills: uniform in [min_gap, max_gap].
    pub min_gap: f64,
    pub max_gap: f64,
    /// Seconds the whole drill may take before it is a failure.
    pub timeout: f64,
    /// Where the controller's and workers' logs go.
    pub logs: PathBuf,
    /// The signal workers get: SIGKILL (a crash, the OOM killer) or SIGTERM (preemption,
    /// `scancel`, `docker stop`: they give their candidate back and exit).
    pub worker_signal: i32,
    /// Workers started by the controller (`--workers W`, following it: a killed controller's
    /// workers stop too) instead of by the drill.
    pub spawned: bool,
}

/// What a drill did and found.
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub backend: String,
    pub seed: u64,
    pub workers: usize,
    /// `SIGKILL` or `SIGTERM`.
    pub worker_signal: String,
    /// Whether the controller started the workers.
    pub spawned: bool,
    pub worker_kills: usize,
    pub controller_kills: usize,
    pub seconds: f64,
    pub check: Check,
}

/// The store after a campaign, checked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Check {
    pub candidates: usize,
    pub evaluations: usize,
    pub outcomes: BTreeMap<String, usize>,
    /// Candidates trained more than once (an attempt was lost to a kill).
    pub retried: usize,
    /// Attempts that ended without a result, each with its reason.
    pub requeues: usize,
    /// Of them, charged to the candidate (its worker died in a way the program could cause).
    pub charged: usize,
    /// Of them, by the kind of reason (stopped by a signal, controller gone, killed, ...).
    pub reasons: BTreeMap<String, usize>,
    pub curve_points: usize,
    pub checkpoints: usize,
    pub programs: usize,
    /// What is wrong; empty when nothing was lost, duplicated or left unexplained.
    pub violations: Vec<String>,
}

struct Proc {
    child: Child,
    label: String,
}

fn spawn(exe: &Path, args: &[String], log: &Path, label: String) -> Result<Proc> {
    let file = File::create(log).with_context(|| format!("cannot write {}", log.display()))?;
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("could not start {}", exe.display()))?;
    Ok(Proc { child, label })
}

/// The last lines of a log, for an error.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The controller's command line (`primer search ...`).
fn controller_args(d: &ChaosDrill) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "search".into(),
        d.config.display().to_string(),
        "--db".into(),
        d.db.clone(),
        "--workers".into(),
        if d.spawned { d.workers.to_string() } else { "0".into() },
        "--name".into(),
        d.name.clone(),
    ];
    if let Some(c) = d.candidates {
        args.extend(["--candidates".into(), c.to_string()]);
    }
    args
}

/// Sends the drill's signal to a random live worker of the campaign on this host, as the store
/// lists them; its id, or `None` when none is live.
async fn signal_listed_worker(d: &ChaosDrill, host: &str, rng: &mut impl Rng) -> Option<String> {
    let live = live_pids(&d.db, &d.name, host).await;
    if live.is_empty() {
        return None;
    }
    let (id, pid) = &live[rng.random_range(0..live.len())];
    // SAFETY: a signal to a worker process this drill's controller started.
    unsafe {
        libc::kill(*pid, d.worker_signal);
    }
    Some(id.clone())
}

/// Sends `signal` to a worker process of this drill and waits for it to end.
fn stop(w: &mut Proc, signal: i32) -> Result<()> {
    // SAFETY: a signal to a child process of this drill.
    unsafe {
        libc::kill(w.child.id() as i32, signal);
    }
    w.child.wait()?;
    Ok(())
}

/// Workers see the campaign finished and leave (those that do not within 30 s are killed).
fn leave(workers: &mut [Proc]) -> Result<()> {
    let leave_by = Instant::now() + Duration::from_secs(30);
    for w in workers {
        while w.child.try_wait()?.is_none() && Instant::now() < leave_by {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = w.child.kill();
        let _ = w.child.wait();
    }
    Ok(())
}

/// Waits for the controller to finish the campaign, restarting workers that exit, within the
/// deadline.
fn run_to_end(
    controller: &mut Proc,
    controller_log: &Path,
    workers: &mut [Proc],
    start_worker: &mut dyn FnMut(usize) -> Result<Proc>,
    deadline: Instant,
    timeout: f64,
) -> Result<()> {
    loop {
        if let Some(status) = controller.child.try_wait()? {
            anyhow::ensure!(status.success(), "{} exited ({status}):\n{}", controller.label, tail(controller_log));
            return Ok(());
        } else {
            for (slot, w) in workers.iter_mut().enumerate() {
                if w.child.try_wait()?.is_some() {
                    *w = start_worker(slot)?;
                }
            }
            if Instant::now() >= deadline {
                let _ = controller.child.kill();
                bail!("the drill ran past --timeout {} s:\n{}", timeout, tail(controller_log));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs the chaos drill and checks the store.
pub fn chaos(d: &ChaosDrill) -> Result<DrillReport> {
    anyhow::ensure!(d.min_gap > 0.0 && d.max_gap >= d.min_gap, "--min-gap and --max-gap: 0 < min <= max");
    std::fs::create_dir_all(&d.logs).with_context(|| format!("cannot create {}", d.logs.display()))?;
    let exe = std::env::current_exe()?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(d.seed);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(d.timeout);

    let controller_args = controller_args(d);
    let mut generation = 0usize;
    let start_controller = |generation: usize| {
        let log = d.logs.join(format!("controller-{generation}.log"));
        spawn(&exe, &controller_args, &log, format!("controller {generation}")).map(|p| (p, log))
    };
    let (mut controller, mut controller_log) = start_controller(generation)?;
    let worker_args = |id: &str| -> Vec<String> {
        ["worker", "--db", &d.db, "--campaign", &d.name, "--id", id, "--wait", "120", "--threads", "1"]
            .map(String::from)
            .to_vec()
    };
    let mut spawned = 0usize;
    let mut start_worker = |slot: usize| {
        spawned += 1;
        let id = format!("drill-{slot}-{spawned}");
        let log = d.logs.join(format!("worker-{id}.log"));
        spawn(&exe, &worker_args(&id), &log, format!("worker {id}"))
    };
    let mut workers: Vec<Proc> =
        if d.spawned { Vec::new() } else { (0..d.workers).map(&mut start_worker).collect::<Result<_>>()? };
    let rt = primer_campaign::signals::runtime()?;
    let host = primer_campaign::signals::hostname();

    let (mut worker_kills, mut controller_kills) = (0usize, 0usize);
    let mut finished = false;
    'drive: while worker_kills < d.worker_kills || controller_kills < d.controller_kills {
        let gap = Duration::from_secs_f64(rng.random_range(d.min_gap..=d.max_gap));
        let until = Instant::now() + gap;
        while Instant::now() < until {
            if let Some(status) = controller.child.try_wait()? {
                if status.success() {
                    finished = true;
                    break 'drive;
                }
                bail!("{} exited ({status}) by itself:\n{}", controller.label, tail(&controller_log));
            }
            // A worker that exits by itself before the campaign is done is restarted (and is
            // a fault the drill reports through the store's check, not here).
            for (slot, w) in workers.iter_mut().enumerate() {
                if w.child.try_wait()?.is_some() {
                    *w = start_worker(slot)?;
                }
            }
            anyhow::ensure!(Instant::now() < deadline, "the drill ran past --timeout {} s", d.timeout);
            std::thread::sleep(Duration::from_millis(20));
        }
        let left_w = d.worker_kills - worker_kills;
        let left_c = d.controller_kills - controller_kills;
        if rng.random_range(0..left_w + left_c) < left_c {
            controller.child.kill()?;
            controller.child.wait()?;
            controller_kills += 1;
            generation += 1;
            eprintln!(
                "[{:6.1} s] killed the controller ({controller_kills}/{})",
                started.elapsed().as_secs_f64(),
                d.controller_kills
            );
            (controller, controller_log) = start_controller(generation)?;
        } else if d.spawned {
            // One of the controller's workers, as the store lists them.
            let Some(id) = rt.block_on(signal_listed_worker(d, &host, &mut rng)) else { continue };
            worker_kills += 1;
            eprintln!(
                "[{:6.1} s] sent signal {} to worker {id} ({worker_kills}/{})",
                started.elapsed().as_secs_f64(),
                d.worker_signal,
                d.worker_kills
            );
        } else {
            let slot = rng.random_range(0..workers.len());
            stop(&mut workers[slot], d.worker_signal)?;
            worker_kills += 1;
            eprintln!(
                "[{:6.1} s] sent signal {} to {} ({worker_kills}/{})",
                started.elapsed().as_secs_f64(),
                d.worker_signal,
                workers[slot].label,
                d.worker_kills
            );
            workers[slot] = start_worker(slot)?;
        }
    }
    // The campaign runs to its end.
    if !finished {
        run_to_end(&mut controller, &controller_log, &mut workers, &mut start_worker, deadline, d.timeout)?;
    }
    leave(&mut workers)?;
    let seconds = started.elapsed().as_secs_f64();
    let check = rt.block_on(async {
        let store = Store::open_read(&d.db).await?;
        let c = primer_campaign::resolve::find_campaign(&store, &d.name).await?;
        let target = serde_json::from_str::<primer_campaign::spec::CampaignSpec>(&c.config)?.candidates;
        check(&store, c.id, target as usize).await
    })?;
    Ok(DrillReport {
        backend: primer_store::Backend::of(&d.db)?.as_str().into(),
        seed: d.seed,
        workers: d.workers,
        worker_signal: if d.worker_signal == libc::SIGTERM { "SIGTERM".into() } else { "SIGKILL".into() },
        spawned: d.spawned,
        worker_kills,
        controller_kills,
        seconds,
        check,
    })
}

/// The live workers of the campaign on this host: (id, pid).
async fn live_pids(db: &str, campaign: &str, host: &str) -> Vec<(String, i32)> {
    let Ok(store) = Store::open_read(db).await else { return Vec::new() };
    let Ok(Some(c)) = store.campaign(campaign).await else { return Vec::new() };
    let lease = serde_json::from_str::<primer_campaign::spec::CampaignSpec>(&c.config)
        .map_or(30.0, |s| s.execution.lease_seconds);
    store
        .workers(c.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|w| w.host == host && w.state(lease) == "live")
        .filter_map(|w| Some((w.id, i32::try_from(w.pid).ok()?)))
        .collect()
}

/// The kind of a reason an attempt ended, for counting.
fn reason_kind(reason: &str) -> &'static str {
    if reason.contains("stopped by signal") {
        "stopped by a signal"
    } else if reason.contains("controller that started it is gone") {
        "its controller was gone"
    } else if reason.contains("SIGKILL") {
        "killed (SIGKILL)"
    } else if reason.contains("went away") {
        "its machine went away"
    } else if reason.contains("died while training it") {
        "its worker died"
    } else if reason.contains("stuck on it") {
        "its worker was stuck on it"
    } else {
        "other"
    }
}

/// Checks a campaign the drill ran (or any finished campaign): see the module docs.
pub async fn check(store: &Store, campaign: i64, target: usize) -> Result<Check> {
    let dump = store.dump_campaign(campaign).await?;
    let requeues = store.requeues(campaign).await?;
    let mut v = Vec::new();
    let mut births: Vec<i64> = dump.candidates.iter().map(|c| c.birth).collect();
    births.sort_unstable();
    if births.iter().enumerate().any(|(i, &b)| b != i as i64) {
        v.push(format!("births are not 0..{}: {:?}", births.len(), &births[..births.len().min(20)]));
    }
    if births.len() < target {
        v.push(format!("{} candidates of the {target} asked for", births.len()));
    }
    let mut evaluations: HashMap<i64, usize> = HashMap::new();
    for e in &dump.evaluations {
        *evaluations.entry(e.candidate).or_default() += 1;
    }
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let outcome: HashMap<i64, Outcome> = dump.evaluations.iter().map(|e| (e.candidate, e.outcome)).collect();
    for c in &dump.candidates {
        let n = evaluations.get(&c.id).copied().unwrap_or(0);
        if n != 1 {
            v.push(format!("birth {} (candidate {}) has {n} evaluations", c.birth, c.id));
        }
        if !matches!(c.status, Status::Done | Status::Failed) {
            v.push(format!("birth {} (candidate {}) is left {}", c.birth, c.id, c.status.as_str()));
        }
        if let Some(o) = outcome.get(&c.id) {
            *outcomes.entry(o.as_str().into()).or_default() += 1;
        }
    }
    let ids: HashSet<i64> = dump.candidates.iter().map(|c| c.id).collect();
    let mut seen = HashSet::new();
    for p in &dump.curve_points {
        if !seen.insert((p.candidate, p.point.step)) {
            v.push(format!("candidate {}: curve point at step {} twice", p.candidate, p.point.step));
        }
        if !ids.contains(&p.candidate) {
            v.push(format!("a curve point of candidate {}, not the campaign's", p.candidate));
        }
    }
    let mut seen = HashSet::new();
    for k in &dump.checkpoints {
        if !seen.insert((k.candidate, k.k)) {
            v.push(format!("candidate {}: checkpoint {} twice", k.candidate, k.k));
        }
    }
    // Every attempt beyond the first has the reason its predecessor ended.
    let reasons: HashSet<(i64, i64)> = requeues.iter().map(|r| (r.candidate, r.attempt)).collect();
    let mut retried = 0;
    for c in &dump.candidates {
        if c.attempts > 1 {
            retried += 1;
        }
        for a in 1..c.attempts {
            if !reasons.contains(&(c.id, a)) {
                v.push(format!("candidate {}: attempt {a} of {} ended with no reason recorded", c.id, c.attempts));
            }
        }
    }
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for r in &requeues {
        if r.reason.trim().is_empty() {
            v.push(format!("candidate {}: attempt {} has an empty reason", r.candidate, r.attempt));
        }
        let kind = reason_kind(&r.reason);
        *reasons.entry(kind.into()).or_default() += 1;
        // Told to stop, or lost its controller: never the candidate's fault.
        if r.charged != 0 && matches!(kind, "stopped by a signal" | "its controller was gone") {
            v.push(format!("candidate {}: attempt {} was charged for `{}`", r.candidate, r.attempt, r.reason));
        }
    }
    for p in &dump.programs {
        let from_text = primer_dsl::text::parse(&p.text, "<store>");
        let from_json = primer_dsl::text::from_json(&p.json, "<store>");
        match (from_text, from_json) {
            (Ok(a), Ok(b)) => {
                if a != b {
                    v.push(format!("program {}: its text and JSON differ", short(&p.hash)));
                }
                if canonical_hash(&b).hex() != p.hash {
                    v.push(format!("program {}: stored under another hash", short(&p.hash)));
                }
            }
            (a, b) => v.push(format!(
                "program {}: unparseable ({})",
                short(&p.hash),
                [a.err().map(|e| format!("text: {e}")), b.err().map(|e| format!("json: {e}"))]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        }
    }
    if let Some(c) = store.controller(campaign).await? {
        v.push(format!("the controller lease is still held by pid {} on {}", c.pid, c.host));
    }
    Ok(Check {
        candidates: dump.candidates.len(),
        evaluations: dump.evaluations.len(),
        outcomes,
        retried,
        requeues: requeues.len(),
        charged: requeues.iter().filter(|r| r.charged != 0).count(),
        reasons,
        curve_points: dump.curve_points.len(),
        checkpoints: dump.checkpoints.len(),
        programs: dump.programs.len(),
        violations: v,
    })
}

/// Prints a report in words.
pub fn print(r: &DrillReport) {
    let c = &r.check;
    println!(
        "chaos drill on {} (seed {}, {} workers {}): {} {} to workers, {} controller kills, {:.0} s",
        r.backend,
        r.seed,
        r.workers,
        if r.spawned { "started by the controller" } else { "started by the drill" },
        r.worker_kills,
        r.worker_signal,
        r.controller_kills,
        r.seconds
    );
    println!(
        "  {} candidates, {} evaluations ({}), {} trained again after a kill, {} attempts ended with their reason",
        c.candidates,
        c.evaluations,
        c.outcomes.iter().map(|(o, n)| format!("{n} {o}")).collect::<Vec<_>>().join(", "),
        c.retried,
        c.requeues
    );
    println!(
        "  attempts ended: {} charged to the candidate, {} not ({})",
        c.charged,
        c.requeues - c.charged,
        c.reasons.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
    );
    println!("  {} curve points, {} checkpoints, {} programs (all parsed)", c.curve_points, c.checkpoints, c.programs);
    if c.violations.is_empty() {
        println!("  nothing lost, nothing recorded twice, every retry explained");
    } else {
        println!("  {} violation(s):", c.violations.len());
        for v in &c.violations {
            println!("  - {v}");
        }
    }
}

/// The first 12 characters of a hash (all of a shorter one).
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
