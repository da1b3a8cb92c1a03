//! `primer bench campaign`: a short real campaign (the controller alone, `primer search
//! --workers 0`, and W `primer worker --threads T` processes started here), run once per split
//! of the machine's cores, and reported as candidates per core-hour and where the workers' wall
//! time went: start-up (process start, libtorch, joining, the corpus), waiting for work, claims,
//! fingerprints, store writes, compiling, drawing batches, training steps, validation, recording
//! results; and the controller's CPU time per birth.
//!
//! Each worker writes its [`Timings`] at exit (`primer worker --timings FILE`); the start-up
//! share is its process's wall time minus its claim loop's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use primer_store::{Outcome, Store};
use serde::Serialize;

use primer_campaign::worker::Timings;

/// What to run.
#[derive(Debug, Clone)]
pub struct CampaignBench {
    pub config: PathBuf,
    /// (workers, threads per worker) pairs.
    pub splits: Vec<(usize, usize)>,
    pub candidates: u64,
    pub dir: Option<PathBuf>,
    pub out: Option<PathBuf>,
    /// Run each split unpinned, then with each worker's threads pinned to cores of their own.
    pub pin: bool,
    /// Where the workers train (`cpu`, `cuda:N`).
    pub device: String,
}

/// One split's figures.
#[derive(Debug, Clone, Serialize)]
pub struct SplitRun {
    pub workers: usize,
    pub threads: usize,
    /// Each worker's threads on cores of their own (`primer worker --cpus`).
    pub pinned: bool,
    pub device: String,
    pub cores: usize,
    pub candidates: usize,
    /// Candidates that trained at least one step.
    pub trained: usize,
    pub stopped_at_hurdles: usize,
    pub reused: usize,
    pub wall_seconds: f64,
    pub candidates_per_core_hour: f64,
    /// Analytic training FLOPs of all candidates per second per core.
    pub training_gflops_per_core: f64,
    pub controller_cpu_seconds: f64,
    pub controller_cpu_ms_per_birth: f64,
    /// Seconds summed over the workers, by part; `worker_seconds` is their processes' wall
    /// time in all.
    pub worker_seconds: f64,
    pub parts: BTreeMap<String, f64>,
    /// Training steps over the workers' wall time.
    pub steps_share: f64,
}

/// The parts in the order they are printed, with their labels.
const PARTS: &[(&str, &str)] = &[
    ("start-up", "start-up (process, libtorch, join, corpus)"),
    ("waiting", "waiting for work"),
    ("claims", "claims"),
    ("fingerprint", "fingerprints"),
    ("store", "store writes (fingerprint, curve, hurdles)"),
    ("compile", "compiling programs"),
    ("batches", "drawing batches"),
    ("steps", "training steps"),
    ("evaluation", "validation (curve points, hurdles, end)"),
    ("recording", "recording results"),
    ("other", "other"),
];

fn run_split(b: &CampaignBench, workers: usize, threads: usize, pinned: bool, dir: &Path) -> Result<SplitRun> {
    let tag = format!("{workers}x{threads}{}", if pinned { "-pinned" } else { "" });
    let placement = primer_campaign::devices::Placement { devices: Vec::new(), pin: pinned };
    let allowed = primer_campaign::devices::allowed_cpus();
    placement.check(workers, threads, &allowed).map_err(anyhow::Error::msg)?;
    let db_file = dir.join(format!("campaign-{tag}.db"));
    let _ = std::fs::remove_file(&db_file);
    let url = format!("sqlite://{}", db_file.display());
    let name = format!("bench-{tag}");
    let primer = std::env::current_exe()?;
    let log =
        |what: &str| -> Result<Stdio> { Ok(std::fs::File::create(dir.join(format!("{tag}-{what}.log")))?.into()) };
    let started = Instant::now();
    let mut controller = Command::new(&primer)
        .arg("search")
        .arg(&b.config)
        .args(["--db", &url, "--workers", "0", "--name", &name, "--candidates", &b.candidates.to_string()])
        .stdin(Stdio::null())
        .stdout(log("controller")?)
        .stderr(log("controller-err")?)
        .spawn()
        .context("starting the controller")?;
    let timing_files: Vec<PathBuf> = (0..workers).map(|i| dir.join(format!("{tag}-worker-{i}.json"))).collect();
    let mut pool: Vec<(Child, Instant)> = Vec::new();
    for (i, file) in timing_files.iter().enumerate() {
        let _ = std::fs::remove_file(file);
        let child = Command::new(&primer)
            .args(["worker", "--db", &url, "--campaign", &name, "--threads", &threads.to_string()])
            .args(["--id", &format!("bench-{i}"), "--wait", "120", "--device", &b.device])
            .args(match placement.slot(i, threads, &allowed).cpus {
                Some(c) => vec!["--cpus".to_string(), primer_campaign::devices::format_cpus(&c)],
                None => vec![],
            })
            .arg("--timings")
            .arg(file)
            .stdin(Stdio::null())
            .stdout(log(&format!("worker-{i}"))?)
            .stderr(log(&format!("worker-{i}-err"))?)
            .spawn()
            .context("starting a worker")?;
        pool.push((child, Instant::now()));
    }
    let mut controller_cpu = 0.0;
    let mut walls = vec![None; workers];
    loop {
        if let Some(c) = crate::loadtest::cpu_seconds(controller.id()) {
            controller_cpu = c;
        }
        for (i, (child, at)) in pool.iter_mut().enumerate() {
            if walls[i].is_none() && child.try_wait()?.is_some() {
                walls[i] = Some(at.elapsed().as_secs_f64());
            }
        }
        if let Some(status) = controller.try_wait()? {
            ensure!(status.success(), "the controller failed ({status}); see {}", dir.display());
            break;
        }
        if walls.iter().all(Option::is_some) {
            let _ = controller.kill();
            bail!("every worker exited before the campaign finished; see the logs in {}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let wall = started.elapsed().as_secs_f64();
    for (i, (child, at)) in pool.iter_mut().enumerate() {
        let status = child.wait()?;
        ensure!(status.success(), "worker {i} failed ({status}); see {}", dir.display());
        walls[i].get_or_insert(at.elapsed().as_secs_f64());
    }

    let mut parts: BTreeMap<String, f64> = BTreeMap::new();
    let mut worker_seconds = 0.0;
    for (file, w) in timing_files.iter().zip(&walls) {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("{} (the worker's timings)", file.display()))?;
        let t: Timings = serde_json::from_str(&text)?;
        let w = w.expect("waited for");
        worker_seconds += w;
        let mut add = |k: &str, v: f64| *parts.entry(k.to_string()).or_default() += v;
        add("start-up", (w - t.loop_seconds).max(0.0));
        add("waiting", t.waiting);
        add("claims", t.claims);
        add("recording", t.recording);
        for (k, v) in &t.evaluate {
            add(k, *v);
        }
        // What the loop did between the measured parts (stop checks, printing).
        let measured = t.waiting + t.claims + t.recording + t.evaluate.values().sum::<f64>();
        add("other", (t.loop_seconds - measured).max(0.0));
    }

    let rt = primer_campaign::signals::runtime()?;
    let store = rt.block_on(Store::open_read(&url))?;
    let campaign = rt.block_on(store.campaign(&name))?.context("the campaign is in the store")?;
    let history = rt.block_on(store.history(campaign.id))?;
    let done = history.iter().filter(|r| r.outcome.is_some()).count();
    let trained = history.iter().filter(|r| r.steps.unwrap_or(0) > 0).count();
    let flops: f64 = history.iter().filter_map(|r| r.flops).sum();
    let cores = workers * threads;
    let steps = parts.get("steps").copied().unwrap_or(0.0);
    Ok(SplitRun {
        workers,
        threads,
        pinned,
        device: b.device.clone(),
        cores,
        candidates: done,
        trained,
        stopped_at_hurdles: history.iter().filter(|r| r.outcome == Some(Outcome::Stopped)).count(),
        reused: history.iter().filter(|r| r.outcome == Some(Outcome::Reused)).count(),
        wall_seconds: wall,
        candidates_per_core_hour: done as f64 / (cores as f64 * wall / 3600.0),
        training_gflops_per_core: flops / (cores as f64 * wall) / 1e9,
        controller_cpu_seconds: controller_cpu,
        controller_cpu_ms_per_birth: controller_cpu * 1e3 / history.len().max(1) as f64,
        worker_seconds,
        steps_share: steps / worker_seconds.max(1e-9),
        parts,
    })
}

/// `primer bench campaign`.
pub fn campaign(b: &CampaignBench) -> Result<Vec<SplitRun>> {
    let dir = b
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("primer-bench-campaign-{}", std::process::id())));
    std::fs::create_dir_all(&dir).with_context(|| format!("--dir {}", dir.display()))?;
    let watch = primer_campaign::disturbance::Watch::start();
    let spec = primer_campaign::spec::resolve(
        &b.config,
        &primer_campaign::spec::Overrides::default(),
        &primer_campaign::paths::default_corpus(),
        &Default::default(),
    )?
    .spec;
    println!(
        "bench campaign: {}, {} candidates per split, budget {} per candidate, {} hurdles, d_model {}, seq_len {}, {} layers, batch {}; {} cores here",
        b.config.display(),
        b.candidates,
        spec.training.budget,
        spec.hurdles.hurdles,
        spec.model.d_model,
        spec.model.seq_len,
        spec.model.n_layers,
        spec.training.batch,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut runs = Vec::new();
    for &(w, t) in &b.splits {
        for pinned in if b.pin { vec![false, true] } else { vec![false] } {
            let how = if pinned { ", pinned" } else { "" };
            eprintln!(
                "(running {w} worker(s) x {t} thread(s){how} on {}; logs and stores in {})",
                b.device,
                dir.display()
            );
            let r = run_split(b, w, t, pinned, &dir)?;
            print_split(&r);
            runs.push(r);
        }
    }
    if b.pin {
        println!("\npinned against unpinned, candidates per core-hour (training steps' share of the workers' time):");
        for pair in runs.chunks(2) {
            let (u, p) = (&pair[0], &pair[1]);
            println!(
                "  {}x{}: {:.0} unpinned, {:.0} pinned: {:.3}x ({:.1}% against {:.1}%)",
                u.workers,
                u.threads,
                u.candidates_per_core_hour,
                p.candidates_per_core_hour,
                p.candidates_per_core_hour / u.candidates_per_core_hour.max(1e-9),
                100.0 * u.steps_share,
                100.0 * p.steps_share
            );
        }
    }
    if runs.len() > 1 {
        let best =
            runs.iter().max_by(|a, b| a.candidates_per_core_hour.total_cmp(&b.candidates_per_core_hour)).expect("runs");
        println!(
            "\n=> most candidates per core-hour: {} worker(s) x {} thread(s) ({:.0}; {})",
            best.workers,
            best.threads,
            best.candidates_per_core_hour,
            runs.iter()
                .map(|r| format!(
                    "{}x{}{}: {:.0}",
                    r.workers,
                    r.threads,
                    if r.pinned { " pinned" } else { "" },
                    r.candidates_per_core_hour
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let verdict = watch.verdict();
    verdict.print();
    if let Some(out) = &b.out {
        std::fs::write(out, serde_json::to_string_pretty(&serde_json::json!({"runs": runs, "machine": verdict}))?)
            .with_context(|| format!("--out {}", out.display()))?;
        println!("figures: {}", out.display());
    }
    if b.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(runs)
}

fn print_split(r: &SplitRun) {
    println!(
        "\n{} worker(s) x {} thread(s){} on {}: {} candidates ({} trained, {} stopped at hurdles, {} reused) in {:.1} s",
        r.workers,
        r.threads,
        if r.pinned { ", pinned" } else { "" },
        r.device,
        r.candidates,
        r.trained,
        r.stopped_at_hurdles,
        r.reused,
        r.wall_seconds
    );
    println!(
        "  {:.0} candidates per core-hour, {:.1} training GFLOP/s per core, controller {:.1} ms CPU per birth ({:.2} s in all)",
        r.candidates_per_core_hour, r.training_gflops_per_core, r.controller_cpu_ms_per_birth, r.controller_cpu_seconds
    );
    println!("  where the workers' {:.1} s of wall time went:", r.worker_seconds);
    for (key, label) in PARTS {
        let v = r.parts.get(*key).copied().unwrap_or(0.0);
        println!("    {label:<44} {v:>8.2} s {:>6.2}%", 100.0 * v / r.worker_seconds.max(1e-9));
    }
    println!("  => training steps {:.1}% of the workers' wall time (goal >= 97%)", 100.0 * r.steps_share);
}
