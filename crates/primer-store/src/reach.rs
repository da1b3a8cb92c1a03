//! Reaching a store before anything else: a store that cannot be reached answers at once, with
//! the cause and where (connection refused, unknown host, authentication failed, database
//! missing, a folder that does not exist, a file that cannot be read), instead of a pool that
//! retries a refused connection until it times out.
//!
//! A PostgreSQL server is connected to once, with no pool, before the pool is made; its answer
//! is sorted into a final cause (said at once, the command fails) or a passing one (a server
//! starting up or out of connection slots), which a command that writes retries, saying on
//! stderr at once what, why and until when, and a command that reads for at most
//! [`READ_PATIENCE`]. A refused connection at start-up is final: nothing says a server will
//! ever listen there. Once a store has been reached, a dropped or refused connection is a
//! transient fault that [`crate::Store`] retries (a server restarting under a campaign).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{Access, StoreError};

/// How long a command that only reads waits for a store that does not answer, or that answers
/// with a passing fault, before it fails saying why.
pub const READ_PATIENCE: Duration = Duration::from_secs(10);

/// Why a store could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cause {
    /// It will not change by waiting: said at once.
    Final(String),
    /// It may pass (a server starting up, out of connection slots, a connection reset).
    Passing(String),
}

/// Host, port, user and database of a PostgreSQL URL, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Where {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
}

impl Where {
    pub fn of(url: &str) -> Where {
        use std::str::FromStr;
        match sqlx::postgres::PgConnectOptions::from_str(url) {
            Ok(o) => Where {
                host: o.get_host().to_string(),
                port: o.get_port(),
                user: o.get_username().to_string(),
                database: o.get_database().unwrap_or(o.get_username()).to_string(),
            },
            Err(_) => Where { host: "?".into(), port: 0, user: "?".into(), database: "?".into() },
        }
    }

    fn at(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Sorts a PostgreSQL connection error into a final or a passing cause, in words that name
/// host, port, user or database as the cause concerns them.
pub(crate) fn postgres_cause(w: &Where, e: &sqlx::Error) -> Cause {
    match e {
        sqlx::Error::Io(io) => {
            let text = io.to_string();
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => Cause::Final(format!(
                    "connection refused at {}: no server listens there (is PostgreSQL running, is the port right?)",
                    w.at()
                )),
                _ if text.contains("lookup") || text.contains("not known") || text.contains("resolve") => {
                    Cause::Final(format!("unknown host `{}` (port {}): {text}", w.host, w.port))
                }
                std::io::ErrorKind::TimedOut => Cause::Final(format!("no answer from {}: {text}", w.at())),
                _ => Cause::Passing(format!("connecting to {}: {text}", w.at())),
            }
        }
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default().to_string();
            let said = d.message();
            match code.as_str() {
                "28P01" => Cause::Final(format!(
                    "authentication failed for user `{}` at {} (wrong password?): {said}",
                    w.user,
                    w.at()
                )),
                "28000" => Cause::Final(format!("the server at {} refuses user `{}`: {said}", w.at(), w.user)),
                "3D000" => Cause::Final(format!(
                    "database `{}` does not exist at {} (create it with `createdb`): {said}",
                    w.database,
                    w.at()
                )),
                "57P03" | "53300" | "57P01" | "57P02" => {
                    Cause::Passing(format!("the server at {} cannot take connections now: {said} ({code})", w.at()))
                }
                _ => Cause::Final(format!("the server at {} said: {said} ({code})", w.at())),
            }
        }
        sqlx::Error::Tls(t) => Cause::Final(format!("TLS with {}: {t}", w.at())),
        other => Cause::Final(format!("connecting to {}: {other}", w.at())),
    }
}

/// Whether a connection error means the server is (for now) out of reach, as opposed to a
/// query's own failure: what [`crate::Store`] says on stderr when it starts retrying one.
pub(crate) fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            code.starts_with("08") || ["57P01", "57P02", "57P03", "53300"].contains(&code.as_ref())
        }
        _ => false,
    }
}

/// Connects once to the PostgreSQL server of `url`, with no pool, so that a store that cannot
/// be reached answers at once (see the module's docs). Returns when a connection was made.
pub(crate) async fn probe_postgres(url: &str, access: Access) -> Result<(), StoreError> {
    use sqlx::Connection;
    let w = Where::of(url);
    let patience = match access {
        Access::Read => READ_PATIENCE,
        Access::Write => crate::retry_for(),
    };
    let started = Instant::now();
    let mut said = false;
    let mut wait = Duration::from_millis(100);
    let unreachable = |why: String| StoreError::Unreachable { url: url.into(), why };
    loop {
        // One attempt waits at most READ_PATIENCE for an answer: a host that drops packets.
        let attempt = tokio::time::timeout(READ_PATIENCE, sqlx::AnyConnection::connect(url)).await;
        let e = match attempt {
            Ok(Ok(c)) => {
                let _ = c.close().await;
                if said {
                    eprintln!("store {url}: reached {} after {:.0} s", w.at(), started.elapsed().as_secs_f64());
                }
                return Ok(());
            }
            Ok(Err(e)) => e,
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer from {} within {} s (a host that drops the connection, or a wrong address?)",
                    w.at(),
                    READ_PATIENCE.as_secs()
                )));
            }
        };
        match postgres_cause(&w, &e) {
            Cause::Final(why) => return Err(unreachable(why)),
            Cause::Passing(why) => {
                if started.elapsed() + wait >= patience {
                    return Err(unreachable(format!(
                        "{why}; still so after {:.0} s, giving up",
                        started.elapsed().as_secs_f64()
                    )));
                }
                if !said {
                    eprintln!(
                        "store {url}: {why}; retrying until {} ({:.0} s from now)",
                        clock_after(patience.saturating_sub(started.elapsed())),
                        patience.saturating_sub(started.elapsed()).as_secs_f64()
                    );
                    said = true;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Checks a SQLite store's file before it is opened: its folder exists, and the file (where it
/// exists) can be read, and for a command that writes, written.
pub(crate) fn check_sqlite_file(url: &str, file: &std::path::Path, access: Access) -> Result<(), StoreError> {
    let unreachable = |why: String| StoreError::Unreachable { url: url.into(), why };
    let folder = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    match std::fs::metadata(&folder) {
        Ok(m) if !m.is_dir() => return Err(unreachable(format!("{} is not a folder", folder.display()))),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // For a command that reads, there is no store there, and it says so as for a
            // missing file.
            return Err(match access {
                Access::Read => {
                    StoreError::Missing { url: url.into(), path: format!("the folder {}", folder.display()) }
                }
                Access::Write => unreachable(format!("the folder {} does not exist", folder.display())),
            });
        }
        Err(e) => return Err(unreachable(format!("the folder {}: {e}", folder.display()))),
    }
    if !file.exists() {
        return Ok(());
    }
    if let Err(e) = permitted(file, libc::R_OK) {
        return Err(unreachable(format!("cannot read {}: {e}", file.display())));
    }
    if access == Access::Write
        && let Err(e) = permitted(file, libc::W_OK)
    {
        return Err(unreachable(format!(
            "cannot write {}: {e} (commands that only read can still open it)",
            file.display()
        )));
    }
    Ok(())
}

/// Whether this process may read (`R_OK`) or write (`W_OK`) `path`, asked of the kernel
/// (`faccessat` with the effective ids) without opening it: closing any descriptor of a SQLite
/// file drops every POSIX lock this process holds on it, which would break the locking of a
/// store this process already has open (a worker's heartbeat opens a second one).
fn permitted(path: &std::path::Path, mode: libc::c_int) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a NUL byte in the path"))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call; faccessat only reads it.
    let r = unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), mode, libc::AT_EACCESS) };
    if r == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// The wall-clock time `d` from now, `HH:MM:SS UTC`.
pub(crate) fn clock_after(d: Duration) -> String {
    let t = (SystemTime::now() + d).duration_since(UNIX_EPOCH).map_or(0, |t| t.as_secs());
    format!("{:02}:{:02}:{:02} UTC", t / 3600 % 24, t / 60 % 60, t % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_names_host_port_user_and_database() {
        let w = Where::of("postgres://alice:secret@db.example:6543/runs");
        assert_eq!(w, Where { host: "db.example".into(), port: 6543, user: "alice".into(), database: "runs".into() });
        assert_eq!(Where::of("postgres://bob@127.0.0.1/x").port, 5432);
    }

    #[test]
    fn a_refused_connection_is_final_and_a_reset_passing() {
        let w = Where::of("postgres://nobody@127.0.0.1:1/x");
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        match postgres_cause(&w, &refused) {
            Cause::Final(why) => assert!(why.contains("connection refused at 127.0.0.1:1"), "{why}"),
            c => panic!("{c:?}"),
        }
        let reset = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(matches!(postgres_cause(&w, &reset), Cause::Passing(_)));
        assert!(connection_lost(&refused) && !connection_lost(&sqlx::Error::RowNotFound));
    }

    #[test]
    fn the_clock_reads_hours_minutes_seconds() {
        let c = clock_after(Duration::from_secs(30));
        assert!(c.len() == 12 && c.ends_with(" UTC") && c.as_bytes()[2] == b':', "{c}");
    }
}
