//! `primer bench coordination`: the load test of the coordination path. A campaign that already
//! holds H finished candidates (real, distinct programs: mutation chains from the seed, with
//! synthetic losses and hurdle checkpoints, written in one transaction) is extended by M births
//! with the controller alone (`primer search --workers 0`) and W `primer worker --simulate`
//! processes, each candidate taking W / rate seconds, so that the offered load is `rate`
//! candidates per second; on SQLite and on a real PostgreSQL server started for the run.
//!
//! Reported per run: the candidates per second the campaign sustained (over the middle 80% of
//! the new births), the workers' busy share (that rate times the mean seconds a candidate took,
//! over the number of workers), claim latency p50/p99 (measured in the workers),
//! the controller's CPU time per birth, and the checks: every candidate has exactly one result,
//! the workers' result counts add up to it, and none needed a second attempt.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use primer_store::CampaignDump;
use primer_store::{Outcome, Store};
use serde::Serialize;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadTest {
    pub config: PathBuf,
    pub backends: Vec<String>,
    pub workers: Vec<usize>,
    pub history: Vec<usize>,
    pub births: usize,
    /// Offered candidates per second.
    pub rate: f64,
    pub out: Option<PathBuf>,
}

/// One run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub backend: String,
    pub workers: usize,
    pub history: usize,
    pub births: usize,
    pub offered_per_s: f64,
    pub candidates_per_s: f64,
    pub worker_busy: f64,
    pub claim_p50_ms: f64,
    pub claim_p99_ms: f64,
    pub claims: usize,
    pub controller_cpu_ms_per_birth: f64,
    pub evaluations: usize,
    pub second_attempts: usize,
    pub lost_or_twice: usize,
    /// What went wrong, in words (empty: nothing).
    pub problems: Vec<String>,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// CPU seconds (user + system) a process has used, from /proc.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// `workers` simulated workers (`primer worker --simulate`), each logging its claim latencies.
fn spawn_workers(primer: &Path, url: &str, name: &str, speed: f64, workers: usize, logs: &Path) -> Result<Vec<Child>> {
    let pool = (0..workers)
        .map(|i| {
            Command::new(primer)
                .args(["worker", "--db", url, "--campaign", name, "--simulate", &speed.to_string()])
                .args(["--id", &format!("sim-{i}"), "--wait", "60"])
                .arg("--latency-log")
                .arg(logs.join(format!("claims-{i}.txt")))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        })
        .collect::<std::io::Result<_>>()?;
    Ok(pool)
}

/// The workers' claim latencies (seconds), sorted.
fn read_claims(logs: &Path, workers: usize) -> Vec<f64> {
    let mut claims: Vec<f64> = Vec::new();
    for i in 0..workers {
        let text = std::fs::read_to_string(logs.join(format!("claims-{i}.txt"))).unwrap_or_default();
        claims.extend(text.lines().filter_map(|l| l.trim().parse::<f64>().ok()));
    }
    claims.sort_by(f64::total_cmp);
    claims
}

fn run_one(t: &LoadTest, dump: &CampaignDump, backend: &str, workers: usize, dir: &Path) -> Result<Run> {
    let history = dump.candidates.len();
    let url = match backend {
        "sqlite" => format!("sqlite://{}", dir.join(format!("w{workers}-h{history}.db")).display()),
        "postgres" => primer_store::testing::postgres_database(&format!("load_w{workers}_h{history}")),
        other => bail!("--backends: `{other}` is not sqlite or postgres"),
    };
    let rt = primer_campaign::signals::runtime()?;
    let store = rt.block_on(Store::open(&url))?;
    let (campaign, _) = rt.block_on(store.load_campaign(dump))?.context("a fresh store")?;
    let name = &dump.campaign.name;
    let total = history + t.births;
    let primer = std::env::current_exe()?;
    let spec: primer_campaign::spec::CampaignSpec = serde_json::from_str(&dump.campaign.config)?;
    let primer_dsl::budget::Budget::Flops(flops) = spec.training.budget else {
        bail!("the load test's campaign needs a FLOPs budget (every candidate then takes the same time)");
    };
    let seconds_per_candidate = workers as f64 / t.rate;
    let speed = flops / seconds_per_candidate;
    let mut controller = Command::new(&primer)
        .arg("search")
        .arg(&t.config)
        .args(["--db", &url, "--workers", "0", "--name", name, "--candidates", &total.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let logs = dir.join(format!("{backend}-w{workers}-h{history}"));
    std::fs::create_dir_all(&logs)?;
    let mut pool = spawn_workers(&primer, &url, name, speed, workers, &logs)?;
    // Finished count over time, and the controller's CPU.
    let mut series: Vec<(f64, i64)> = Vec::new();
    let start = Instant::now();
    let mut cpu = 0.0;
    let deadline = start + Duration::from_secs_f64(60.0 + 10.0 * t.births as f64 / t.rate);
    while controller.try_wait()?.is_none() {
        if let Some(c) = cpu_seconds(controller.id()) {
            cpu = c;
        }
        let counts = rt.block_on(store.counts(campaign))?;
        series.push((start.elapsed().as_secs_f64(), counts.finished()));
        if Instant::now() > deadline {
            let _ = controller.kill();
            for w in &mut pool {
                let _ = w.kill();
            }
            bail!(
                "{backend}, {workers} workers, {history} history: no end after {:.0} s",
                start.elapsed().as_secs_f64()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    anyhow::ensure!(controller.wait()?.success(), "the controller failed ({backend}, {workers} workers)");
    for w in &mut pool {
        w.wait()?;
    }
    // The middle 80% of the new births.
    let (lo, hi) = ((history + t.births / 10) as i64, (history + t.births * 9 / 10) as i64);
    let at = |n: i64| series.iter().find(|(_, f)| *f >= n).map(|(t, _)| *t);
    let rate = match (at(lo), at(hi)) {
        (Some(a), Some(b)) if b > a => (hi - lo) as f64 / (b - a),
        _ => f64::NAN,
    };
    let h = rt.block_on(store.history(campaign))?;
    let new: Vec<_> = h.iter().filter(|r| r.birth >= history as i64).collect();
    let evaluations = h.iter().filter(|r| r.outcome.is_some()).count();
    // Little's law over the window: candidates/s x mean seconds per candidate = busy workers.
    let mean_seconds = new.iter().filter_map(|r| r.seconds).sum::<f64>() / new.len().max(1) as f64;
    let done: i64 =
        rt.block_on(store.workers(campaign))?.iter().filter(|w| w.id.starts_with("sim-")).map(|w| w.done).sum();
    let claims = read_claims(&logs, workers);
    // Every candidate has one result, recorded by a worker whose count says so (a candidate
    // failed by the controller after its workers died counts as lost here: it was never measured).
    let mut problems = Vec::new();
    if h.len() != total {
        problems.push(format!("{} candidates, not {total}", h.len()));
    }
    let unfinished = h.iter().filter(|r| r.outcome.is_none()).count();
    if unfinished > 0 {
        problems.push(format!("{unfinished} without a result"));
    }
    let failed = new.iter().filter(|r| r.outcome == Some(Outcome::Failed)).count();
    if failed > 0 {
        problems.push(format!("{failed} failed after their workers died or stopped answering"));
    }
    if done as usize != new.len() - failed {
        problems.push(format!("workers recorded {done} results for {} candidates", new.len() - failed));
    }
    let lost_or_twice =
        unfinished + failed + (done as usize).abs_diff(new.len() - failed) + usize::from(h.len() != total);
    let run = Run {
        backend: backend.into(),
        workers,
        history,
        births: t.births,
        offered_per_s: t.rate,
        candidates_per_s: rate,
        worker_busy: rate * mean_seconds / workers as f64,
        claim_p50_ms: percentile(&claims, 0.5) * 1e3,
        claim_p99_ms: percentile(&claims, 0.99) * 1e3,
        claims: claims.len(),
        controller_cpu_ms_per_birth: cpu * 1e3 / t.births as f64,
        evaluations,
        second_attempts: new.iter().filter(|r| r.attempts > 1).count(),
        lost_or_twice,
        problems,
    };
    if let Some(f) = primer_store::sqlite_file(&url) {
        let _ = std::fs::remove_file(&f);
    }
    Ok(run)
}

/// `primer bench coordination`.
pub fn coordination(t: &LoadTest) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("primer-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // The PostgreSQL server started for the run is part of what is measured.
    let watch = primer_campaign::disturbance::Watch::start().also_ours("postgres");
    println!(
        "bench coordination: {} births per run offered at {} candidates/s (simulated workers, no training), {} cores",
        t.births,
        t.rate,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<9} {:>7} {:>7} {:>9} {:>9} {:>6} {:>9} {:>9} {:>13} {:>7}",
        "backend",
        "workers",
        "history",
        "offered/s",
        "cands/s",
        "busy",
        "claim p50",
        "claim p99",
        "ctl ms/birth",
        "checks"
    );
    let mut runs = Vec::new();
    for &h in &t.history {
        let name = format!("coordination-h{h}");
        let started = Instant::now();
        let dump = crate::synthetic::campaign(&t.config, &name, h, h + t.births, crate::synthetic::Shape::Finished, 0)?;
        eprintln!("(history of {h} candidates made in {:.1} s)", started.elapsed().as_secs_f64());
        for backend in &t.backends {
            for &w in &t.workers {
                let r = run_one(t, &dump, backend, w, &dir)?;
                println!(
                    "{:<9} {:>7} {:>7} {:>9.1} {:>9.1} {:>5.0}% {:>7.1}ms {:>7.1}ms {:>13.2} {:>7}",
                    r.backend,
                    r.workers,
                    r.history,
                    r.offered_per_s,
                    r.candidates_per_s,
                    100.0 * r.worker_busy,
                    r.claim_p50_ms,
                    r.claim_p99_ms,
                    r.controller_cpu_ms_per_birth,
                    if r.lost_or_twice == 0 { "ok".to_string() } else { r.problems.join("; ") }
                );
                runs.push(r);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let verdict = watch.verdict();
    verdict.print();
    if let Some(out) = &t.out {
        std::fs::write(out, serde_json::to_string_pretty(&serde_json::json!({"runs": runs, "machine": verdict}))?)?;
        println!("figures: {}", out.display());
    }
    let bad: Vec<&Run> = runs.iter().filter(|r| r.lost_or_twice > 0).collect();
    anyhow::ensure!(bad.is_empty(), "candidates lost or evaluated twice in {} run(s)", bad.len());
    Ok(())
}
