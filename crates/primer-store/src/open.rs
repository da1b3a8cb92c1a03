//! Opening a store: the backend a URL names, looking at a database before touching it
//! ([`Access`]: read-only opens never create, migrate or write), connecting and migrating.

use std::time::Duration;

use serde::Serialize;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use crate::*;

/// Which database server a store lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// A SQLite file (`sqlite://PATH`): one machine.
    Sqlite,
    /// A PostgreSQL server (`postgres://...`): workers on many machines.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The backend a store URL names, or why none does.
    pub fn of(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") || archive_file(url).is_some() {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Unsupported(url.into()))
        }
    }

    /// The server's clock in Unix seconds, as SQL: leases are measured on it, never on a
    /// worker's clock (machines disagree).
    pub(crate) fn now(self) -> &'static str {
        match self {
            Backend::Sqlite => "((julianday('now') - 2440587.5) * 86400.0)",
            Backend::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp())::float8)",
        }
    }

    /// Row locking for a queue's `SELECT` (SQLite locks the whole file for a write instead).
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// The oldest PostgreSQL primer runs on (`server_version_num`).
pub const MIN_POSTGRES: i64 = 150_000;

/// What a command may do to a store it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Commands that only read (status, top, show, lineage, analyze, compare, copy's source):
    /// the store must exist and be primer's, at this primer's schema version; it is opened
    /// read-only (SQLite `mode=ro` and `query_only`, a PostgreSQL session whose transactions
    /// are read-only), so nothing can be written, created or migrated.
    Read,
    /// Commands that write (search, worker, rerun, export, copy's target): a missing store is
    /// created, an older one migrated (said on stderr).
    Write,
}

/// The schema version this primer writes: the last embedded migration.
pub fn schema_version() -> i64 {
    sqlite_migrator().migrations.iter().map(|m| m.version).max().unwrap_or(0)
}

pub(crate) fn sqlite_migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations/sqlite")
}

pub(crate) fn postgres_migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations/postgres")
}

/// What a database holds before primer touches it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    /// Tables other than sqlx's `_sqlx_migrations`.
    tables: Vec<String>,
    /// Applied migrations (version, description), when there is a `_sqlx_migrations` table.
    migrations: Option<Vec<(i64, String)>>,
}

/// What to do with a database, from what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// No tables: a new store (Write) or none (Read).
    Empty,
    /// At this primer's version.
    Current,
    /// Primer's, at an older version.
    Older(i64),
}

impl Found {
    fn verdict(&self, url: &str, migrator: &sqlx::migrate::Migrator) -> Result<Verdict> {
        let supported = schema_version();
        let Some(applied) = &self.migrations else {
            if self.tables.is_empty() {
                return Ok(Verdict::Empty);
            }
            return Err(StoreError::Foreign { url: url.into(), what: tables_named(&self.tables) });
        };
        // Applied migrations must be primer's own, by version and description.
        let ours: std::collections::HashMap<i64, &str> =
            migrator.migrations.iter().map(|m| (m.version, m.description.as_ref())).collect();
        let ours_too = |(v, d): &&(i64, String)| ours.get(v) == Some(&d.as_str());
        let mismatch = applied.iter().find(|m| m.0 <= supported && !ours_too(m));
        let none_ours = !applied.is_empty() && !applied.iter().any(|m| ours_too(&m));
        if let Some((v, d)) = mismatch.or(none_ours.then(|| &applied[0])) {
            return Err(StoreError::Foreign {
                url: url.into(),
                what: format!("{}, and sqlx migration {v} `{d}`, which is not primer's", tables_named(&self.tables)),
            });
        }
        if let Some(&(found, _)) = applied.iter().max()
            && found > supported
        {
            return Err(StoreError::Newer { url: url.into(), found, supported });
        }
        match applied.iter().map(|(v, _)| *v).max() {
            None if self.tables.is_empty() => Ok(Verdict::Empty),
            None => Err(StoreError::Foreign { url: url.into(), what: tables_named(&self.tables) }),
            Some(v) if v < supported => Ok(Verdict::Older(v)),
            Some(_) => Ok(Verdict::Current),
        }
    }
}

/// "tables a, b and 3 more" for an error message.
fn tables_named(tables: &[String]) -> String {
    if tables.is_empty() {
        return "no tables".into();
    }
    let shown: Vec<&str> = tables.iter().take(8).map(String::as_str).collect();
    let more = tables.len().saturating_sub(shown.len());
    let s = if tables.len() == 1 { "" } else { "s" };
    let list = shown.join(", ");
    if more > 0 { format!("table{s} {list} and {more} more") } else { format!("table{s} {list}") }
}

/// The tables and applied migrations of a database.
async fn found(pool: &AnyPool, backend: Backend) -> std::result::Result<Found, sqlx::Error> {
    let q = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = current_schema() ORDER BY 1"
        }
    };
    let mut tables: Vec<String> = sqlx::query_scalar(q).fetch_all(pool).await?;
    let migrations = match tables.iter().position(|t| t == "_sqlx_migrations") {
        Some(i) => {
            tables.remove(i);
            let q = "SELECT version, description FROM _sqlx_migrations WHERE success = TRUE ORDER BY version";
            Some(sqlx::query_as::<_, (i64, String)>(q).fetch_all(pool).await?)
        }
        None => None,
    };
    Ok(Found { tables, migrations })
}

impl Store {
    /// Opens the store at `url` (`sqlite://PATH` or `postgres://USER@HOST:PORT/DB`) for a
    /// command that writes: creates it if missing, migrates it if older (see [`Access`]).
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, 4).await
    }

    /// Opens the store at `url` for a command that only reads (see [`Access::Read`]).
    pub async fn open_read(url: &str) -> Result<Store> {
        Store::open_as(url, 4, Access::Read).await
    }

    /// [`Store::open`] with at most `connections` connections: a worker, which does one thing at
    /// a time, holds one (and its heartbeat one more), so that a PostgreSQL server with
    /// `max_connections` M serves about M / 2 workers.
    pub async fn open_with(url: &str, connections: u32) -> Result<Store> {
        Store::open_as(url, connections, Access::Write).await
    }

    /// Opens the store at `url` with at most `connections` connections for `access`. Every
    /// opening first looks at what the database holds, without writing: a database with tables
    /// but not primer's migrations is refused (naming what it holds), as is one migrated by a
    /// newer primer; an older one is migrated only for [`Access::Write`].
    pub async fn open_as(url: &str, connections: u32, access: Access) -> Result<Store> {
        static DRIVERS: std::sync::Once = std::sync::Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        if url.starts_with("archive:") {
            return Store::open_archive(url, access).await;
        }
        let backend = Backend::of(url)?;
        let open = |error| StoreError::Open { url: url.into(), error };
        let migrator = match backend {
            Backend::Sqlite => sqlite_migrator(),
            Backend::Postgres => postgres_migrator(),
        };
        let read_only = access == Access::Read;
        // How long one connection may take to come (a pool retries a refused connection until
        // then): READ_PATIENCE, or a writer's retry window if shorter, so that a writer whose
        // store went away hears it within seconds and its retry loop says what it waits for.
        let patience = if read_only { READ_PATIENCE } else { READ_PATIENCE.min(retry_for()) };
        let mut options = AnyPoolOptions::new().max_connections(connections.max(1)).acquire_timeout(patience);
        // SQLite: what a file holds is read on a read-only connection first (a read-write one
        // would switch someone else's database to WAL before primer could refuse it).
        let mut checked = None;
        let connect_url = match backend {
            Backend::Sqlite => {
                let file = sqlite_file(url).ok_or_else(|| StoreError::Unsupported(url.into()))?;
                reach::check_sqlite_file(url, &file, access)?;
                let (busy_ms, query) = sqlite_params(url);
                let query = query.as_str();
                let with_mode = |mode: &str| {
                    let mode = if query.contains("mode=") { String::new() } else { format!("mode={mode}") };
                    let query = [query, &mode].into_iter().filter(|q| !q.is_empty()).collect::<Vec<_>>().join("&");
                    format!("sqlite://{}?{query}", file.display())
                };
                if file.exists() {
                    let pool = connect(
                        AnyPoolOptions::new().max_connections(1).acquire_timeout(patience).after_connect(|conn, _| {
                            Box::pin(async move {
                                use sqlx::Executor;
                                conn.execute("PRAGMA busy_timeout = 30000; PRAGMA query_only = ON;").await?;
                                Ok(())
                            })
                        }),
                        &with_mode("ro"),
                        access,
                    )
                    .await
                    .map_err(open)?;
                    let f = found(&pool, backend).await.map_err(open)?;
                    pool.close().await;
                    checked = Some(f.verdict(url, &migrator)?);
                } else if read_only {
                    return Err(StoreError::Missing { url: url.into(), path: file.display().to_string() });
                }
                options = sqlite_options(options, read_only, busy_ms);
                with_mode(if read_only { "ro" } else { "rwc" })
            }
            Backend::Postgres => {
                reach::probe_postgres(url, access).await?;
                if read_only {
                    options = options.after_connect(|conn, _| {
                        Box::pin(async move {
                            use sqlx::Executor;
                            conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY").await?;
                            Ok(())
                        })
                    });
                }
                url.to_string()
            }
        };
        let pool = connect(options, &connect_url, access).await.map_err(open)?;
        if backend == Backend::Postgres {
            let version: String = sqlx::query_scalar("SELECT current_setting('server_version_num')")
                .fetch_one(&pool)
                .await
                .map_err(open)?;
            let version: i64 = version.trim().parse().unwrap_or(0);
            if version < MIN_POSTGRES {
                return Err(StoreError::OldServer { url: url.into(), version });
            }
        }
        let verdict = match checked {
            Some(v) => v,
            None => found(&pool, backend).await.map_err(open)?.verdict(url, &migrator)?,
        };
        match (verdict, access) {
            (Verdict::Current, _) => {}
            (Verdict::Empty, Access::Read) => return Err(StoreError::Empty { url: url.into() }),
            (Verdict::Older(found), Access::Read) => {
                return Err(StoreError::Older { url: url.into(), found, supported: schema_version() });
            }
            (Verdict::Empty | Verdict::Older(_), Access::Write) => {
                if let Verdict::Older(found) = verdict {
                    eprintln!("store {url}: migrating the schema from version {found} to {}", schema_version());
                }
                migrate(&pool, &migrator, url).await?;
            }
        }
        Ok(Store { pool, url: url.into(), backend, access })
    }
}

/// A SQLite URL's `?busy_timeout=MS` (primer's, default 30000: how long SQLite waits for a lock
/// before the store says it waits, see `fault`) and the rest of its query, which goes to sqlx.
fn sqlite_params(url: &str) -> (u64, String) {
    let mut busy_ms = 30_000u64;
    let params: Vec<&str> = url
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter(|p| match p.strip_prefix("busy_timeout=") {
            Some(ms) => {
                busy_ms = ms.parse().unwrap_or(busy_ms);
                false
            }
            None => !p.is_empty(),
        })
        .collect();
    (busy_ms, params.join("&"))
}

/// A SQLite pool's connection hooks: what every connection sets when it opens (busy timeout,
/// foreign keys, WAL for a writer, query-only for a reader) and the check when it comes back.
fn sqlite_options(options: AnyPoolOptions, read_only: bool, busy_ms: u64) -> AnyPoolOptions {
    let options = options.after_release(|conn, _| {
        // A connection must come back with no transaction open: a COMMIT that fails
        // (SQLITE_FULL leaves the transaction active) followed by a rollback that
        // does not happen would keep the file's write lock for ever, and every other
        // connection would wait on it. A transaction still open is ended by closing
        // the connection (SQLite rolls it back). BEGIN takes no lock until a write.
        Box::pin(async move {
            use sqlx::Executor;
            if conn.execute("BEGIN").await.is_err() {
                eprintln!("store: a connection came back with a transaction open; closed it (its work is retried)");
                return Ok(false);
            }
            Ok(conn.execute("ROLLBACK").await.is_ok())
        })
    });
    options.after_connect(move |conn, _| {
        Box::pin(async move {
            use sqlx::Executor;
            let pragmas = if read_only {
                "PRAGMA foreign_keys = ON; PRAGMA query_only = ON;"
            } else {
                "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
            };
            conn.execute(format!("PRAGMA busy_timeout = {busy_ms}; {pragmas}").as_str()).await?;
            Ok(())
        })
    })
}

/// Connects, retrying what is transient: switching a new SQLite file to WAL needs a lock that a
/// concurrent opener may hold for a moment; a PostgreSQL server may be starting.
async fn connect(options: AnyPoolOptions, url: &str, access: Access) -> std::result::Result<AnyPool, sqlx::Error> {
    let mut tries = 0;
    let deadline = std::time::Instant::now() + if access == Access::Read { READ_PATIENCE } else { retry_for() };
    loop {
        match options.clone().connect(url).await {
            Ok(pool) => return Ok(pool),
            Err(e) if tries < 20 && transient(&e) && std::time::Instant::now() < deadline => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50 * tries)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs the migrations. Several processes may open a new store at once (a controller and
/// many workers). SQLite migrations take no lock across processes: the loser of a race fails
/// on a table the winner just created, and on a retry sees the migration applied.
/// PostgreSQL's take an advisory lock.
pub(crate) async fn migrate(pool: &AnyPool, migrator: &sqlx::migrate::Migrator, url: &str) -> Result<()> {
    let mut tries = 0;
    loop {
        match migrator.run(pool).await {
            Ok(()) => return Ok(()),
            Err(_) if tries < 20 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50 * tries)).await;
            }
            Err(error) => return Err(StoreError::Migrate { url: url.into(), error }),
        }
    }
}
