//! Transient faults retried with backoff, store faults waited out, each said on stderr.

use std::time::Duration;

use crate::*;

/// How long a transient fault (a dropped connection, a restarting server, a serialization
/// failure) is retried, with exponential backoff, before it is an error: 120 s, or
/// `$PRIMER_STORE_RETRY_SECONDS` (read once). Store faults (a full disk, a file locked past the
/// busy timeout) are waited out however long they last.
pub(crate) fn retry_for() -> Duration {
    static FOR: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *FOR.get_or_init(|| {
        std::env::var("PRIMER_STORE_RETRY_SECONDS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(Duration::from_secs(120), Duration::from_secs_f64)
    })
}

impl Store {
    /// Runs `f` again while it fails for a transient reason (see [`retry_for`]). Every
    /// operation is written so that running it twice is the same as once (a reply lost after
    /// a commit must not record a result twice).
    pub(crate) async fn retry<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, sqlx::Error>>,
    {
        let patience = match self.access {
            Access::Read => READ_PATIENCE.min(retry_for()),
            Access::Write => retry_for(),
        };
        // The retry window starts when the fault is first seen (an attempt may itself have
        // waited for a connection before it failed).
        let mut deadline: Option<std::time::Instant> = None;
        let mut wait = Duration::from_millis(50);
        // A connection lost (a server restarting, a network cut) is said on stderr at once,
        // with what is retried and until when, and again when the store answers.
        let mut lost: Option<std::time::Instant> = None;
        // A store fault (a full disk, a file locked past the busy timeout) is waited out for as
        // long as it lasts: what the caller is writing stays in its memory meanwhile. Said on
        // stderr when it starts, every 30 s, and when it ends.
        let mut faulted: Option<(std::time::Instant, std::time::Instant)> = None;
        loop {
            match f().await {
                Ok(v) => {
                    if let Some(since) = lost {
                        eprintln!(
                            "store {}: reached again after {:.0} s; nothing was lost",
                            self.url,
                            since.elapsed().as_secs_f64()
                        );
                    }
                    if let Some((since, _)) = faulted {
                        eprintln!(
                            "store {}: writing again after {:.0} s; nothing was lost",
                            self.url,
                            since.elapsed().as_secs_f64()
                        );
                    }
                    return Ok(v);
                }
                Err(e) if fault(self.backend, &e).is_some() => {
                    let now = std::time::Instant::now();
                    let said = faulted.get_or_insert((now, now - Duration::from_secs(60)));
                    if now.duration_since(said.1) >= Duration::from_secs(30) {
                        eprintln!(
                            "store {}: {} ({e}); waiting {:.0} s so far, retrying every 5 s; nothing is lost",
                            self.url,
                            fault(self.backend, &e).unwrap_or_default(),
                            now.duration_since(said.0).as_secs_f64()
                        );
                        said.1 = now;
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(e)
                    if transient(&e)
                        && std::time::Instant::now() + wait
                            < *deadline.get_or_insert_with(|| std::time::Instant::now() + patience) =>
                {
                    if lost.is_none() && reach::connection_lost(&e) {
                        let now = std::time::Instant::now();
                        let left = deadline.map_or(patience, |d| d.saturating_duration_since(now));
                        lost = Some(now);
                        eprintln!(
                            "store {}: connection lost ({e}); retrying until {} ({:.0} s from now)",
                            self.url,
                            reach::clock_after(left),
                            left.as_secs_f64()
                        );
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A query with the backend's SQL for the server's clock (`{now}`) and queue locking
    /// (`{skip_locked}`) filled in.
    pub(crate) fn sql(&self, q: &str) -> String {
        q.replace("{now}", self.backend.now()).replace("{skip_locked}", self.backend.skip_locked())
    }
}

/// Whether an error may go away by itself: a dropped or refused connection, a server that is
/// restarting, a serialization failure or deadlock (PostgreSQL), a busy or locked file (SQLite).
pub(crate) fn transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            let code = code.as_ref();
            code.starts_with("08")
                || ["40001", "40P01", "57P01", "57P02", "57P03", "53300"].contains(&code)
                || ["5", "6", "261", "262", "517"].contains(&code)
                || d.message().contains("database is locked")
        }
        _ => false,
    }
}

/// A store fault that lasts until someone ends it, and what it is: the disk holding the store
/// is full (SQLite `SQLITE_FULL`, an I/O error on write; PostgreSQL `53100 disk_full`), or a
/// SQLite file stays locked by another process past the busy timeout. [`Store`] waits these out.
fn fault(backend: Backend, e: &sqlx::Error) -> Option<&'static str> {
    let sqlx::Error::Database(d) = e else { return None };
    let code = d.code().unwrap_or_default();
    match backend {
        Backend::Postgres => (code.as_ref() == "53100").then_some("the disk holding it is full"),
        Backend::Sqlite => {
            let n: i64 = code.parse().unwrap_or(-1);
            if n == 13 || d.message().contains("disk is full") {
                Some("the disk holding it is full")
            } else if n & 0xff == 10 {
                Some("the disk refused a write (I/O error)")
            } else if n & 0xff == 5 || n & 0xff == 6 || d.message().contains("database is locked") {
                Some("another process keeps it locked past the busy timeout")
            } else {
                None
            }
        }
    }
}
