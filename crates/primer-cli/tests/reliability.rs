//! Reliability, on both backends (a SQLite file and a database on a real, throwaway
//! PostgreSQL server): the chaos drill (workers and the controller SIGKILLed at random moments
//! and restarted) loses and duplicates nothing; its check finds what is wrong in a store that
//! is broken on purpose; two controllers started at once on one campaign: one runs it, the
//! other refuses, naming the first.
//!
//! CI runs a short drill (3 worker kills, 1 controller kill). The full one (20 and 5) runs
//! with `PRIMER_DRILL_FULL=DIR`, which writes `DIR/chaos-BACKEND.json` (see
//! experiments/drill/README.md).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use primer_store::testing::TestBackend;
use primer_store::{NewCandidate, ProgramRow, Store};

use primer_store::on_both_backends;

mod common;
use common::{primer, root, temp_dir};

on_both_backends!(
    the_chaos_drill_loses_and_duplicates_nothing,
    the_drill_check_finds_what_is_broken,
    two_controllers_started_at_once_one_runs_the_other_refuses,
);

/// `primer search CONFIG ARGS...` in the background, its output in `dir/controller-N.log`.
fn controller(dir: &std::path::Path, n: usize, config: &std::path::Path, args: &[&str]) -> std::process::Child {
    let log = std::fs::File::create(dir.join(format!("controller-{n}.log"))).unwrap();
    primer()
        .arg("search")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn the_chaos_drill_loses_and_duplicates_nothing(backend: TestBackend) {
    let dir = temp_dir(&format!("drill-{backend:?}"));
    let url = backend.url(&dir, "drill");
    let full = std::env::var_os("PRIMER_DRILL_FULL").map(PathBuf::from);
    let out = match &full {
        Some(d) => d.join(format!("chaos-{}.json", if backend == TestBackend::Sqlite { "sqlite" } else { "postgres" })),
        None => dir.join("report.json"),
    };
    let mut c = primer();
    c.args(["drill", "chaos", "--db", &url, "--seed", "3", "--logs"]).arg(dir.join("logs")).arg("--out").arg(&out);
    if full.is_none() {
        c.args([
            "--worker-kills",
            "3",
            "--controller-kills",
            "1",
            // Enough candidates that every kill lands before the campaign ends, on a fast
            // machine too.
            "--candidates",
            "60",
            "--min-gap",
            "0.3",
            "--max-gap",
            "1.2",
        ]);
    }
    let o = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let (wk, ck) = if full.is_some() { (20, 5) } else { (3, 1) };
    assert_eq!((r["worker_kills"].as_u64(), r["controller_kills"].as_u64()), (Some(wk), Some(ck)), "{stdout}");
    let check = &r["check"];
    assert_eq!(check["violations"].as_array().unwrap().len(), 0, "{stdout}");
    assert_eq!(check["candidates"], check["evaluations"], "{stdout}");
    assert!(check["candidates"].as_u64().unwrap() >= 40, "{stdout}");
    assert!(stdout.contains("nothing lost, nothing recorded twice, every retry explained"), "{stdout}");
    // The drill's campaign copies, reasons for retries included, with the same content.
    let copy = format!("sqlite://{}", dir.join("copy.db").display());
    let o = primer().args(["store", "copy", &url, &copy, "--format", "json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let copied: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = &copied[0]["rows"];
    let count = |table: &str| rows.as_array().unwrap().iter().find(|r| r[0] == table).map(|r| r[1].clone());
    assert_eq!(count("requeues"), Some(check["requeues"].clone()), "{copied}");
    assert_eq!(count("evaluations"), Some(check["evaluations"].clone()), "{copied}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn program(hash: &str) -> ProgramRow {
    let text = std::fs::read_to_string(root().join("search-spaces/programs/transformer.prim")).unwrap();
    ProgramRow { hash: hash.into(), text, json: "{}".into(), parameters: 1, flops_per_token: 1 }
}

fn the_drill_check_finds_what_is_broken(backend: TestBackend) {
    let dir = temp_dir(&format!("check-{backend:?}"));
    let url = backend.url(&dir, "check");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let check = rt.block_on(async {
        let store = Store::open(&url).await.unwrap();
        let c = store.create_campaign("broken", "{}", 1).await.unwrap().unwrap();
        for (birth, hash) in [(0, "a"), (2, "b")] {
            store.put_program(&program(hash)).await.unwrap();
            store
                .add_candidate(&NewCandidate {
                    campaign: c.id,
                    birth,
                    program: hash.into(),
                    parent: None,
                    seed_index: Some(0),
                    mutation: None,
                    description: None,
                })
                .await
                .unwrap();
        }
        // Candidate a: claimed twice with no reason recorded for the first attempt, and never
        // finished; b: never claimed. Its program JSON is not a program.
        store.claim(c.id, "w", 30.0).await.unwrap().unwrap();
        primer_store::testing::raw_sql(
            &url,
            &["UPDATE candidates SET status = 'pending', worker = NULL WHERE birth = 0"],
        )
        .await;
        store.claim(c.id, "w2", 30.0).await.unwrap().unwrap();
        store
            .acquire_controller(
                &primer_store::NewController { campaign: c.id, holder: "x".into(), host: "h".into(), pid: 1 },
                30.0,
                None,
            )
            .await
            .unwrap();
        primer_cli::drill::check(&store, c.id, 3).await.unwrap()
    });
    let v = check.violations.join("\n");
    let _ = std::fs::remove_dir_all(&dir);
    for expected in [
        "births are not 0..2",
        "2 candidates of the 3 asked for",
        "has 0 evaluations",
        "is left running",
        "is left pending",
        "attempt 1 of 2 ended with no reason recorded",
        "unparseable (json:",
        "the controller lease is still held by pid 1 on h",
    ] {
        assert!(v.contains(expected), "missing `{expected}` in:\n{v}");
    }
}

fn wait_for(child: &mut std::process::Child, secs: u64) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn two_controllers_started_at_once_one_runs_the_other_refuses(backend: TestBackend) {
    let dir = temp_dir(&format!("two-{backend:?}"));
    let url = backend.url(&dir, "two");
    let config = root().join("experiments/drill/campaign.toml");
    let start = |n: usize| controller(&dir, n, &config, &["--db", &url, "--workers", "0", "--candidates", "6"]);
    let mut a = start(0);
    let mut b = start(1);
    // One of them refuses at once; the other waits for workers.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut runner, refused, refused_log) = loop {
        if let Some(s) = a.try_wait().unwrap() {
            break (b, s, dir.join("controller-0.log"));
        }
        if let Some(s) = b.try_wait().unwrap() {
            break (a, s, dir.join("controller-1.log"));
        }
        assert!(Instant::now() < deadline, "neither controller refused");
        std::thread::sleep(Duration::from_millis(50));
    };
    let said = std::fs::read_to_string(&refused_log).unwrap();
    assert_eq!(refused.code(), Some(1), "{said}");
    assert!(
        said.contains("the campaign already has a controller: pid") && said.contains(&runner.id().to_string()),
        "{said}"
    );
    // The one that runs it finishes it with a worker, and no birth was made twice.
    let mut w = primer()
        .args(["worker", "--db", &url, "--campaign", "drill", "--wait", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let done = wait_for(&mut runner, 240);
    let _ = wait_for(&mut w, 30);
    let _ = w.kill();
    assert!(done.is_some_and(|s| s.success()), "the controller did not finish");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let check = rt.block_on(async {
        let store = Store::open_read(&url).await.unwrap();
        let c = store.campaign("drill").await.unwrap().unwrap();
        primer_cli::drill::check(&store, c.id, 6).await.unwrap()
    });
    assert!(check.violations.is_empty(), "{:?}", check.violations);
    assert_eq!(check.candidates, 6);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The disk holding a SQLite store fills up mid-campaign (a 6 MB tmpfs, filled with a file):
/// the controller and the worker wait, saying why, with their results in memory; once space is
/// back the campaign goes on and ends with nothing lost or recorded twice. Needs root (mount).
#[test]
fn a_full_disk_pauses_the_campaign_and_loses_nothing() {
    if !primer_store::testing::is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let dir = temp_dir("full");
    let disk = dir.join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=6m", "tmpfs"]).arg(&disk).status();
    if !mounted.is_ok_and(|s| s.success()) {
        // Root in a container without CAP_SYS_ADMIN: no file system can be made to fill up.
        eprintln!("skipped: mount -t tmpfs failed here");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(disk.clone());
    let url = format!("sqlite://{}", disk.join("store.db").display());
    let config = root().join("experiments/drill/campaign.toml");
    // Logs outside the full disk.
    let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
    let mut controller = primer()
        .arg("search")
        .arg(&config)
        .args(["--db", &url, "--workers", "0", "--candidates", "24", "--name", "full"])
        .stdin(Stdio::null())
        .stdout(log("controller.log"))
        .stderr(log("controller.err"))
        .spawn()
        .unwrap();
    let mut worker = primer()
        .args(["worker", "--db", &url, "--campaign", "full", "--wait", "60"])
        .stdin(Stdio::null())
        .stdout(log("worker.log"))
        .stderr(log("worker.err"))
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let finished = || {
        rt.block_on(async {
            let Ok(store) = Store::open_read(&url).await else { return 0 };
            let Ok(Some(c)) = store.campaign("full").await else { return 0 };
            store.counts(c.id).await.map_or(0, |n| n.finished())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while finished() < 4 {
        assert!(Instant::now() < deadline, "the campaign did not start");
        assert!(controller.try_wait().unwrap().is_none(), "the controller exited early");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Fill the disk.
    let filler = disk.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![7u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let at_full = finished();
    std::thread::sleep(Duration::from_secs(8));
    assert!(controller.try_wait().unwrap().is_none(), "the controller died on a full disk");
    assert!(worker.try_wait().unwrap().is_none(), "the worker died on a full disk");
    let said = std::fs::read_to_string(dir.join("controller.err")).unwrap()
        + &std::fs::read_to_string(dir.join("worker.err")).unwrap();
    assert!(said.contains("the disk holding it is full"), "nobody said why they wait:\n{said}");
    assert!(finished() <= at_full + 1, "results were stored on a full disk?");
    // Space is back.
    std::fs::remove_file(&filler).unwrap();
    let done = wait_for(&mut controller, 240);
    let _ = wait_for(&mut worker, 30);
    let _ = worker.kill();
    let err = std::fs::read_to_string(dir.join("controller.err")).unwrap();
    assert!(done.is_some_and(|s| s.success()), "the campaign did not end:\n{err}");
    assert!(err.contains("writing again after"), "{err}");
    let check = rt.block_on(async {
        let store = Store::open_read(&url).await.unwrap();
        let c = store.campaign("full").await.unwrap().unwrap();
        primer_cli::drill::check(&store, c.id, 24).await.unwrap()
    });
    assert!(check.violations.is_empty(), "{:?}", check.violations);
    assert_eq!(check.candidates, 24);
    drop(_unmount);
    let _ = std::fs::remove_dir_all(&dir);
}

/// 1,000 random programs (mutation chains of the reference programs and the sampler's)
/// validated, compiled and trained 2 steps: no panic, every outcome classified, and no program
/// that validation accepts is rejected by compilation or training. (The 10,000-program run
/// is in experiments/drill/README.md.)
#[test]
fn a_thousand_random_programs_never_panic_and_validation_agrees_with_compilation() {
    let dir = temp_dir("programs");
    let out = dir.join("programs.json");
    let o = primer()
        .args(["drill", "programs", "--count", "1000", "--seed", "7", "--keep"])
        .arg(dir.join("kept"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!((r["panics"].as_u64(), r["disagreements"].as_u64()), (Some(0), Some(0)), "{stdout}");
    let totals = r["totals"].as_object().unwrap();
    assert_eq!(totals.values().map(|v| v.as_u64().unwrap()).sum::<u64>(), 1000, "{stdout}");
    for kind in ["finished", "invalid (validation)"] {
        assert!(totals.get(kind).and_then(|v| v.as_u64()).unwrap_or(0) >= 100, "too few `{kind}`: {stdout}");
    }
    let known = ["finished", "invalid (validation)", "diverged", "out of memory"];
    assert!(totals.keys().all(|k| known.contains(&k.as_str())), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// How a worker's exit counts, from real processes ended by real signals: asked to stop
/// (SIGTERM, SIGINT, SIGHUP) or a clean exit is not charged; SIGKILL (the out-of-memory
/// killer's signal), another signal or a crash is.
#[test]
fn a_workers_exit_is_charged_only_when_the_program_could_have_caused_it() {
    // (The signals sent back to their defaults in the child: a shell that started this test in
    // the background (`cmd &`) left SIGINT ignored, `nohup` SIGHUP, and an ignored signal stays
    // ignored in `sh`.)
    let status = |script: &str| {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        // SAFETY: only async-signal-safe calls (signal) between fork and exec.
        unsafe {
            command.pre_exec(|| {
                for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGSEGV] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        command.status().unwrap()
    };
    for (script, charged, says) in [
        ("exit 0", false, "exited cleanly"),
        ("kill -TERM $$", false, "stopped by signal 15"),
        ("kill -INT $$", false, "stopped by signal 2"),
        ("kill -HUP $$", false, "stopped by signal 1"),
        ("kill -KILL $$", true, "killed by SIGKILL"),
        ("kill -SEGV $$", true, "died of signal 11"),
        ("exit 101", true, "crashed (exit status 101)"),
    ] {
        let e = primer_campaign::controller::ended_by("w", status(script));
        assert_eq!(e.charged, charged, "{script}: {e:?}");
        assert!(e.reason.contains(says), "{script}: {e:?}");
    }
}

fn running(url: &str, name: &str) -> Vec<primer_store::Running> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let Ok(store) = Store::open_read(url).await else { return Vec::new() };
        let Ok(Some(c)) = store.campaign(name).await else { return Vec::new() };
        store.running(c.id).await.unwrap_or_default()
    })
}

fn requeues(url: &str, name: &str) -> Vec<primer_store::Requeue> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = Store::open_read(url).await.unwrap();
        let c = store.campaign(name).await.unwrap().unwrap();
        store.requeues(c.id).await.unwrap()
    })
}

fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

fn wait_until_training(url: &str, name: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while running(url, name).len() < n {
        assert!(Instant::now() < deadline, "nothing trains");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
}

/// A controller and the workers it started, stopped and killed: SIGTERM to the controller
/// stops its workers, which give their candidates back uncharged, and it exits 143 having let
/// go of the campaign; SIGKILL to the controller leaves its workers without a parent, and they
/// give their candidates back uncharged too; SIGKILL to a worker is charged. Each time the
/// same command resumes, and the campaign ends with everything measured once.
fn stopping_and_killing_a_controller_and_its_workers(backend: TestBackend) {
    let dir = temp_dir(&format!("stop-{backend:?}"));
    let url = backend.url(&dir, "stop");
    let config = root().join("experiments/drill/campaign.toml");
    let start = |n: usize| {
        controller(&dir, n, &config, &["--db", &url, "--workers", "2", "--candidates", "24", "--name", "stop"])
    };
    // 1. SIGTERM to the controller.
    let mut c = start(0);
    wait_until_training(&url, "stop", 2);
    signal(c.id(), "-TERM");
    let status = wait_for(&mut c, 60).expect("the controller stops within a minute of SIGTERM");
    let log = std::fs::read_to_string(dir.join("controller-0.log")).unwrap();
    assert_eq!(status.code(), Some(143), "{log}");
    assert!(log.contains("run the same command to resume"), "{log}");
    assert!(running(&url, "stop").is_empty(), "candidates left running after a graceful stop");
    let r = requeues(&url, "stop");
    assert!(!r.is_empty() && r.iter().all(|r| r.charged == 0 && r.reason == "stopped by signal SIGTERM"), "{r:?}");
    // 2. SIGKILL to the controller: its workers notice and give back what they hold.
    let mut c = start(1);
    wait_until_training(&url, "stop", 2);
    signal(c.id(), "-KILL");
    let _ = c.wait();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !running(&url, "stop").is_empty() {
        assert!(Instant::now() < deadline, "the dead controller's workers kept their candidates");
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = requeues(&url, "stop");
    let orphaned: Vec<_> = r.iter().filter(|r| r.reason == "the controller that started it is gone").collect();
    assert!(!orphaned.is_empty() && orphaned.iter().all(|r| r.charged == 0), "{r:?}");
    // 3. SIGKILL to one of its workers: charged, and the controller replaces the worker.
    let mut c = start(2);
    wait_until_training(&url, "stop", 2);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (victim, pid) = rt.block_on(async {
        let store = Store::open_read(&url).await.unwrap();
        let camp = store.campaign("stop").await.unwrap().unwrap();
        let held = store.running(camp.id).await.unwrap()[0].worker.clone().unwrap();
        let w = store.workers(camp.id).await.unwrap().into_iter().find(|w| w.id == held).unwrap();
        (w.id, w.pid)
    });
    signal(pid as u32, "-KILL");
    let done = wait_for(&mut c, 240);
    let log = std::fs::read_to_string(dir.join("controller-2.log")).unwrap();
    assert!(done.is_some_and(|s| s.success()), "{log}");
    let r = requeues(&url, "stop");
    assert!(
        r.iter()
            .any(|r| r.worker.as_deref() == Some(victim.as_str()) && r.charged == 1 && r.reason.contains("SIGKILL")),
        "{r:?}"
    );
    let check = rt.block_on(async {
        let store = Store::open_read(&url).await.unwrap();
        let camp = store.campaign("stop").await.unwrap().unwrap();
        primer_cli::drill::check(&store, camp.id, 24).await.unwrap()
    });
    assert!(check.violations.is_empty(), "{:?}", check.violations);
    assert_eq!(check.outcomes.get("failed"), None, "{:?}", check.outcomes);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The preemption drill: workers started by the controller get SIGTERM at random moments (and
/// the controller SIGKILL once): every candidate is measured, and no attempt is charged.
fn a_preemption_drill_measures_every_candidate_and_charges_nothing(backend: TestBackend) {
    let dir = temp_dir(&format!("preempt-{backend:?}"));
    let url = backend.url(&dir, "preempt");
    let out = dir.join("report.json");
    let o = primer()
        .args(["drill", "chaos", "--db", &url, "--seed", "5", "--spawned", "--worker-signal", "term"])
        .args([
            "--worker-kills",
            "4",
            "--controller-kills",
            "1",
            // Enough candidates that every kill lands before the campaign ends, on a fast
            // machine too.
            "--candidates",
            "60",
            "--min-gap",
            "0.3",
            "--max-gap",
            "1.2",
        ])
        .arg("--logs")
        .arg(dir.join("logs"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let check = &r["check"];
    assert_eq!(check["violations"].as_array().unwrap().len(), 0, "{stdout}");
    assert_eq!(check["charged"], 0, "{stdout}");
    assert!(check["outcomes"].get("failed").is_none(), "{stdout}");
    assert_eq!(check["candidates"], check["evaluations"], "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

on_both_backends!(
    stopping_and_killing_a_controller_and_its_workers,
    a_preemption_drill_measures_every_candidate_and_charges_nothing,
);
