//! `primer launch slurm` on a real one-node Slurm cluster (Debian's slurm-wlm: munge,
//! slurmctld and slurmd on localhost, configured and started here, stopped when the test
//! process exits), against a real PostgreSQL store: a tiny campaign runs to the end with its
//! workers as array tasks, and a task preempted mid-training (`scancel --signal=TERM`) gives its
//! candidate back, uncharged, and loses nothing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use primer_store::testing::{free_port, is_root, postgres_database};
use primer_store::{HistoryRow, Status, Store};

mod common;
use common::{primer, root, rt};

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A one-node cluster: its own munged (private socket), slurmctld and slurmd on free ports,
/// state and logs in a folder of its own.
struct Slurm {
    dir: PathBuf,
    conf: PathBuf,
    daemons: Vec<Child>,
}

impl Slurm {
    #[allow(clippy::zombie_processes)] // the watchdog must outlive this process
    fn start() -> Slurm {
        assert!(
            Path::new("/usr/sbin/slurmctld").exists() && Path::new("/usr/sbin/munged").exists(),
            "Slurm is not installed (slurmctld, slurmd, slurm-client, munge): run `cargo xtask test`, which installs them"
        );
        assert!(is_root(), "the Slurm test starts daemons and must run as root");
        let dir = PathBuf::from(format!("/tmp/primer-slurm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["state", "spool", "log", "munge"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let munge = dir.join("munge");
        ok(Command::new("chown").args(["munge:munge"]).arg(&munge));
        let socket = munge.join("munge.socket");
        ok(Command::new("runuser").args(["-u", "munge", "--", "/usr/sbin/munged", "--force"]).args([
            format!("--socket={}", socket.display()),
            format!("--pid-file={}", munge.join("munged.pid").display()),
            format!("--seed-file={}", munge.join("munged.seed").display()),
            format!("--log-file={}", munge.join("munged.log").display()),
        ]));
        let deadline = Instant::now() + Duration::from_secs(20);
        let s = socket.display().to_string();
        while !Command::new("sh")
            .args(["-c", &format!("munge -S {s} -n | unmunge -S {s}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
        {
            assert!(Instant::now() < deadline, "munged did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        let host = ok(Command::new("hostname").arg("-s"));
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let d = dir.display();
        let conf = dir.join("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "ClusterName=primer-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld}
SlurmdPort={slurmd}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={s}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} Sockets=1 CoresPerSocket={cpus} ThreadsPerCore=1 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
",
                ctld = free_port(),
                slurmd = free_port(),
            ),
        )
        .unwrap();
        let daemon = |exe: &str, args: &[&str]| {
            Command::new(exe)
                .args(args)
                .arg("-f")
                .arg(&conf)
                .env("SLURM_CONF", &conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let daemons = vec![daemon("/usr/sbin/slurmctld", &["-D", "-i"]), daemon("/usr/sbin/slurmd", &["-D"])];
        // Whatever happens to this process, stop the daemons and remove the folder after it.
        let pids: Vec<String> = daemons.iter().map(|c| c.id().to_string()).collect();
        let watchdog = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; SLURM_CONF={conf} scontrol shutdown >/dev/null 2>&1; sleep 2; kill {pids} 2>/dev/null; kill $(cat {munge}/munged.pid) 2>/dev/null; sleep 1; kill -9 {pids} 2>/dev/null; rm -rf {d}",
            me = std::process::id(),
            conf = conf.display(),
            pids = pids.join(" "),
            munge = munge.display(),
        );
        Command::new("setsid")
            .args(["sh", "-c", &watchdog])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let slurm = Slurm { dir, conf, daemons };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = slurm.cmd("sinfo").args(["-h", "-N", "-o", "%T"]).output().unwrap();
            if String::from_utf8_lossy(&out.stdout).trim() == "idle" {
                break;
            }
            assert!(Instant::now() < deadline, "the node never became idle: {}", slurm.logs());
            std::thread::sleep(Duration::from_millis(200));
        }
        slurm
    }

    /// A Slurm client command for this cluster.
    fn cmd(&self, exe: &str) -> Command {
        let mut c = Command::new(exe);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    fn logs(&self) -> String {
        let log = |f: &str| std::fs::read_to_string(self.dir.join("log").join(f)).unwrap_or_default();
        format!("slurmctld.log:\n{}\nslurmd.log:\n{}", log("slurmctld.log"), log("slurmd.log"))
    }

    /// Array tasks still known to the scheduler.
    fn queued(&self, job: &str) -> usize {
        let out = self.cmd("squeue").args(["-h", "-j", job, "-o", "%i %T"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        let _ = self.cmd("scontrol").arg("shutdown").output();
        for d in &mut self.daemons {
            let deadline = Instant::now() + Duration::from_secs(10);
            while d.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

fn requeues(db: &str, name: &str) -> Vec<primer_store::Requeue> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let s = Store::open_read(db).await.unwrap();
        let c = s.campaign(name).await.unwrap().unwrap();
        s.requeues(c.id).await.unwrap()
    })
}

fn history(db: &str, name: &str) -> Vec<HistoryRow> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let s = Store::open(db).await.unwrap();
        match s.campaign(name).await.unwrap() {
            Some(c) => s.history(c.id).await.unwrap(),
            None => Vec::new(),
        }
    })
}

fn campaign_file(dir: &Path, name: &str, candidates: u32, budget: &str) -> PathBuf {
    let r = root();
    let text = format!(
        r#"name = "{name}"
seed = 5
search_space = "{space}"
seeds = ["{seed}"]
candidates = {candidates}
workers = 0

[model]
d_model = 16
seq_len = 16
n_layers = 1

[training]
budget = "{budget}"
batch = 4
lr = 0.002
warmup = 5
eval_interval = 10
val_batches = 2

[evolution]
population = 6
tournament = 3

[hurdles]
count = 2
min_predecessors = 2

[execution]
lease_seconds = 4
max_attempts = 3
"#,
        space = r.join("search-spaces/primer-cpu.toml").display(),
        seed = r.join("search-spaces/programs/transformer.prim").display(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// `primer search CONFIG --workers 0`: the controller alone, where the user runs it.
fn controller_alone(config: &Path, db: &str) -> Child {
    primer()
        .arg("search")
        .arg(config)
        .args(["--db", db, "--workers", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_campaign_runs_on_slurm_array_tasks_and_a_preempted_task_gives_its_candidate_back() {
    let slurm = Slurm::start();
    let work = slurm.dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let db = postgres_database("slurm");
    let config = campaign_file(&work, "onslurm", 10, "3000steps");

    // --dry-run prints the script and touches nothing.
    let dry = slurm
        .cmd(env!("CARGO_BIN_EXE_primer"))
        .args(["launch", "slurm"])
        .arg(&config)
        .args(["--workers", "2", "--threads", "1", "--time", "00:20:00", "--dry-run", "--db", &db])
        .current_dir(&work)
        .output()
        .unwrap();
    let script = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success() && script.contains("#SBATCH --array=0-1") && script.contains("\nexec "), "{script}");
    assert!(history(&db, "onslurm").is_empty(), "a dry run creates no campaign");

    let out = slurm
        .cmd(env!("CARGO_BIN_EXE_primer"))
        .args(["launch", "slurm"])
        .arg(&config)
        .args(["--workers", "2", "--threads", "1", "--time", "00:20:00", "--db", &db])
        .current_dir(&work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let job = stdout
        .split_whitespace()
        .skip_while(|w| *w != "array")
        .nth(1)
        .unwrap_or_else(|| panic!("no job id in: {stdout}"))
        .to_string();
    assert!(job.parse::<u64>().is_ok(), "{stdout}");

    // The controller, alone, where the user runs it.
    let mut controller = controller_alone(&config, &db);

    // Wait for task 1 to be training a candidate, then scancel that task.
    let victim_worker = format!("slurm-{job}_1");
    let deadline = Instant::now() + Duration::from_secs(180);
    let victim = loop {
        let h = history(&db, "onslurm");
        if let Some(r) = h.iter().find(|r| r.status == Status::Running && r.worker.as_deref() == Some(&victim_worker)) {
            break r.clone();
        }
        assert!(Instant::now() < deadline, "task 1 never trained a candidate: {h:?}\n{}", slurm.logs());
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(500));
    // Preempted as Slurm does it: SIGTERM to the task (whose batch script `exec`ed the worker).
    ok(slurm.cmd("scancel").args(["--signal=TERM", "--full"]).arg(format!("{job}_1")));

    let deadline = Instant::now() + Duration::from_secs(300);
    while controller.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the campaign did not finish: {:?}", history(&db, "onslurm"));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(controller.wait().unwrap().success());
    let h = history(&db, "onslurm");
    assert_eq!(h.len(), 10);
    assert!(h.iter().all(|r| r.status == Status::Done || r.status == Status::Failed), "{h:?}");
    assert!(h.iter().all(|r| r.outcome.is_some()), "{h:?}");
    let again = h.iter().find(|r| r.candidate == victim.candidate).unwrap();
    assert_eq!(again.status, Status::Done, "the cancelled task's candidate was trained again: {again:?}");
    assert!(again.attempts >= 2 && again.worker.as_deref() != Some(&victim_worker), "{again:?}");
    // The preempted worker gave it back itself, and no attempt was charged for that.
    let given_back = requeues(&db, "onslurm");
    let r = given_back.iter().find(|r| r.candidate == victim.candidate).expect("the preemption is recorded");
    assert_eq!((r.charged, r.reason.as_str()), (0, "stopped by signal SIGTERM"), "{given_back:?}");
    // The surviving task exits once the campaign is finished; the array leaves the queue.
    let deadline = Instant::now() + Duration::from_secs(60);
    while slurm.queued(&job) > 0 {
        assert!(Instant::now() < deadline, "array tasks still queued after the campaign finished");
        std::thread::sleep(Duration::from_millis(200));
    }
    let logs: Vec<_> = std::fs::read_dir(work.join("slurm-logs")).unwrap().flatten().collect();
    assert_eq!(logs.len(), 2, "one log per array task");

    // Two workers per device: one array task whose `srun` step starts both, sharing it.
    let config = campaign_file(&work, "shared", 4, "40steps");
    let out = slurm
        .cmd(env!("CARGO_BIN_EXE_primer"))
        .args(["launch", "slurm"])
        .arg(&config)
        .args(["--workers", "1", "--workers-per-device", "2", "--threads", "1", "--time", "00:20:00", "--db", &db])
        .current_dir(&work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 task(s) of 2 worker(s)"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = stdout.split_whitespace().skip_while(|w| *w != "array").nth(1).unwrap().to_string();
    let mut controller = controller_alone(&config, &db);
    let deadline = Instant::now() + Duration::from_secs(300);
    while controller.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the shared campaign did not finish: {}", slurm.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(controller.wait().unwrap().success());
    assert_eq!(history(&db, "shared").iter().filter(|r| r.outcome.is_some()).count(), 4);
    let names: Vec<String> = rt().block_on(async {
        let s = primer_store::Store::open(&db).await.unwrap();
        let c = s.campaign("shared").await.unwrap().unwrap();
        let mut w: Vec<String> = s.workers(c.id).await.unwrap().into_iter().map(|w| w.id).collect();
        w.sort();
        w
    });
    assert_eq!(names, vec![format!("slurm-{job}_0.0"), format!("slurm-{job}_0.1")], "{}", slurm.logs());
}
