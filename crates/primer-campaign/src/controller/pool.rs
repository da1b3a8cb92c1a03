//! The controller's local worker processes: starting them, noticing the ones that exited
//! (their candidates go back to pending, and the exit decides whether the attempt is charged:
//! [`ended_by`]), and stopping them all when the controller is told to stop.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::process::{Child, Command};

use primer_store::Store;

use crate::devices::Slot;
use crate::paths;
use crate::signals::{stop_reason, stop_signal};

/// A local worker process.
pub struct Worker {
    pub id: String,
    pub child: Child,
    /// Its place among the local workers: its device and cores ([`crate::devices::Slot`]).
    pub slot: usize,
}

/// Starts worker `id` in `slot` (index `at`): `--device` names the slot's device and, pinned,
/// `--cpus` its cores.
pub fn spawn_worker(db: &str, campaign: i64, id: &str, log: &Path, at: usize, slot: &Slot) -> Result<Worker> {
    let exe = paths::engine_exe();
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("{}", log.display()))?;
    let mut command = Command::new(&exe);
    command.args(["worker", "--db", db, "--campaign", &campaign.to_string(), "--id", id, "--follow-parent"]);
    command.args(["--device", &slot.device.to_string()]);
    if let Some(cpus) = &slot.cpus {
        command.args(["--cpus", &crate::devices::format_cpus(cpus)]);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .kill_on_drop(false)
        .spawn()
        .with_context(|| format!("could not start {}", exe.display()))?;
    Ok(Worker { id: id.into(), child, slot: at })
}

/// Where worker logs go: next to a SQLite file, else the temp folder.
pub fn log_dir(db: &str) -> PathBuf {
    primer_store::sqlite_file(db)
        .and_then(|f| f.parent().filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf))
        .unwrap_or_else(std::env::temp_dir)
}

/// What reaping found: workers that exited, and how many of them died (exited unsuccessfully).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    pub exited: usize,
    pub died: usize,
}

/// Workers that exited leave the pool: each one's candidates go back to pending (or fail after
/// `max_attempts`), charged or not as [`ended_by`] decides from how it ended.
pub async fn reap(
    store: &Store,
    campaign: i64,
    pool: &mut Vec<Worker>,
    lease: f64,
    max_attempts: i64,
) -> Result<Reaped> {
    let mut reaped = Reaped::default();
    let mut i = 0;
    while i < pool.len() {
        let Some(status) = pool[i].child.try_wait()? else {
            i += 1;
            continue;
        };
        let w = pool.remove(i);
        let why = ended_by(&w.id, status);
        let (rq, failed) = store.requeue(campaign, Some(&w.id), Some(&why), lease, max_attempts).await?;
        if rq + failed > 0 || !status.success() {
            eprintln!(
                "worker {} exited ({status}); {rq} candidate(s) back to pending, {failed} failed ({}charged)",
                w.id,
                if why.charged { "" } else { "not " }
            );
        }
        reaped.exited += 1;
        reaped.died += usize::from(!status.success());
    }
    Ok(reaped)
}

/// Whether the controller may start another worker after `died` deaths with no result recorded
/// in between: workers that die again and again while nothing finishes mean something is wrong
/// with the set-up, not with a candidate (workers killed from outside while results keep coming
/// in are replaced for as long as it takes).
pub fn may_replace(died_since_progress: usize, workers: usize) -> bool {
    died_since_progress <= 2 * workers + 4
}

/// The end of a campaign: workers see it finished and exit; they get a moment, then are stopped.
pub async fn finish(pool: &mut [Worker]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    for w in pool {
        while w.child.try_wait()?.is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = w.child.start_kill();
    }
    Ok(())
}

/// The controller was told to stop (SIGTERM, Ctrl-C): its workers are told too, give their
/// candidates back (no attempt charged) and exit; then it gives up the campaign's controller
/// lease and exits 128 + the signal. Running the same command again resumes.
pub async fn stop(
    store: &Store,
    campaign: i64,
    me: &str,
    pool: &mut [Worker],
    lease: f64,
    max_attempts: i64,
) -> Result<ExitCode> {
    let reason = stop_reason();
    eprintln!("{reason}: stopping {} worker(s), which give back what they train", pool.len());
    for w in pool.iter() {
        if let Some(pid) = w.child.id() {
            // SAFETY: a signal to our own child process.
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for w in pool.iter_mut() {
        let status = loop {
            if let Some(s) = w.child.try_wait()? {
                break Some(s);
            }
            if Instant::now() >= deadline {
                let _ = w.child.start_kill();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let why = match status {
            Some(s) => ended_by(&w.id, s),
            None => primer_store::Ended::free(format!("worker {} did not stop within 60 s of {reason}", w.id)),
        };
        store.requeue(campaign, Some(&w.id), Some(&why), lease, max_attempts).await?;
    }
    store.release_controller(campaign, me).await?;
    eprintln!("stopped; run the same command to resume");
    let signal = stop_signal();
    Ok(ExitCode::from(if signal > 0 { (128 + signal).min(255) as u8 } else { 1 }))
}

/// How the exit of a local worker that still held a candidate counts (see
/// [`primer_store::Ended`]): stopped by a signal that asks it to stop, or exited cleanly: not
/// charged; killed by SIGKILL (the kernel's out-of-memory killer), another signal, or a crash:
/// charged.
pub fn ended_by(id: &str, status: std::process::ExitStatus) -> primer_store::Ended {
    use primer_store::Ended;
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => Ended::free(format!("worker {id} exited cleanly while holding it")),
        (_, Some(s)) if [libc::SIGTERM, libc::SIGINT, libc::SIGHUP].contains(&s) => {
            Ended::free(format!("worker {id} was stopped by signal {s}"))
        }
        (_, Some(libc::SIGKILL)) => {
            Ended::charged(format!("worker {id} was killed by SIGKILL (as the kernel's out-of-memory killer does)"))
        }
        (_, Some(s)) => Ended::charged(format!("worker {id} died of signal {s}")),
        (Some(c), _) => Ended::charged(format!("worker {id} crashed (exit status {c})")),
        (None, None) => Ended::charged(format!("worker {id} ended ({status})")),
    }
}

/// Whether a process of this host exists (signal 0: nothing is sent).
pub fn process_alive(pid: i64) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
