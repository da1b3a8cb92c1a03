//! primer-store: the only crate that speaks SQL (sqlx). One URL is a whole experiment:
//! `sqlite://PATH` (the default, a file, created on first use: one machine) or
//! `postgres://USER@HOST:PORT/DATABASE` (a PostgreSQL 15+ server: workers on many machines).
//! Callers never know which: one `Store` API over sqlx's `Any` driver, one set of queries
//! (integers, reals, text; `$N` placeholders), and a schema per backend with a comment on every
//! table, `migrations/sqlite/` and `migrations/postgres/` (0001 campaigns, 0002 reruns,
//! 0003 weights, 0004 workers, 0005 checkpoints in loss order, 0006 controller leases), embedded
//! and run when a command that writes opens the store ([`Access`]; commands that read open it
//! read-only and refuse one that is not primer's, or not at this version).
//!
//! - SQLite runs in WAL mode with a busy timeout, and every write is one short statement or
//!   transaction, so readers never block a campaign and many worker processes share one file.
//! - PostgreSQL claims with `FOR UPDATE SKIP LOCKED`; the server must be 15 or newer.
//! - Leases are on the store server's clock, never a worker's.
//! - Transient faults (a dropped connection, a restarting server, a serialization failure) are
//!   retried with backoff for up to two minutes, and every operation is safe to run twice: a
//!   result whose reply was lost is acknowledged, never recorded twice. Store faults (a full
//!   disk, a SQLite file locked past its busy timeout, `?busy_timeout=MS`) are waited out for
//!   as long as they last, said on stderr.
//! - Opening looks before it writes ([`Access`]): commands that read open the store read-only;
//!   a database that is not primer's, or a newer primer's, is refused by every command.
//!
//! ```no_run
//! # async fn f() -> Result<(), primer_store::StoreError> {
//! let store = primer_store::Store::open("sqlite://primer.db").await?;
//! for c in store.campaigns().await? {
//!     println!("{} {}", c.id, c.name);
//! }
//! # Ok(()) }
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub mod archive;
pub mod copy;
mod reach;
pub mod testing;
mod workers;

pub use archive::{ARCHIVE_FORMAT, ARCHIVE_VERSION, Archive, archive_file};
pub use copy::{CampaignDump, Copied, CopyError};
pub use reach::READ_PATIENCE;
pub use workers::{ControllerRow, NewController, NewWorker, WorkerRow};

use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

/// A store that cannot be opened or queried: which URL, and why. Each message is whole: the
/// sqlx error it wraps is part of the text, not a separate source, so that printing the chain
/// (`{:#}`) says it once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {url}: {error}")]
    Open { url: String, error: sqlx::Error },
    /// A store that cannot be reached, and why: a refused connection, an unknown host, failed
    /// authentication, a missing database, a missing folder, a file that cannot be read.
    #[error("store {url}: {why}")]
    Unreachable { url: String, why: String },
    #[error("store {url}: migrating the schema: {error}")]
    Migrate { url: String, error: sqlx::migrate::MigrateError },
    #[error("store: {0}")]
    Query(sqlx::Error),
    #[error(
        "store URL `{0}`: not a store primer can open; supported: sqlite://PATH, postgres://USER@HOST:PORT/DATABASE (or postgresql://), archive://FILE (a campaign archive, read-only; or a folder of them)"
    )]
    Unsupported(String),
    #[error("store {url}: PostgreSQL {} is too old; primer needs 15 or newer (server_version_num {version})", version / 10000)]
    OldServer { url: String, version: i64 },
    /// A read-only open of a SQLite file that does not exist.
    #[error("no store at {url}: {path} does not exist (run `primer search` first, or pass --db)")]
    Missing { url: String, path: String },
    /// A read-only open of a database with no tables at all.
    #[error("no store at {url}: the database is empty (run `primer search` first, or pass --db)")]
    Empty { url: String },
    /// A database of something else: tables, but not primer's migrations.
    #[error("store {url}: not a primer store, refusing to touch it: it holds {what}")]
    Foreign { url: String, what: String },
    /// A store migrated by a newer primer.
    #[error(
        "store {url}: its schema is version {found}, newer than this primer's {supported}: use a newer primer (nothing was changed)"
    )]
    Newer { url: String, found: i64, supported: i64 },
    /// An older store opened by a command that only reads.
    #[error(
        "store {url}: its schema is version {found}, older than this primer's {supported}; commands that only read never migrate: run one that writes (search, worker, rerun, export), which migrates it"
    )]
    Older { url: String, found: i64, supported: i64 },
    /// A campaign archive that cannot be read, or a write asked of one.
    #[error("archive {path}: {why}")]
    Archive { path: String, why: String },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        StoreError::Query(e)
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// Where a candidate is in its life (the `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for a worker.
    Pending,
    /// Leased by a worker.
    Running,
    /// Evaluated, with a fitness.
    Done,
    /// Evaluated without a fitness (invalid, diverged, out of memory, or its workers died).
    Failed,
}

impl Status {
    /// The stored (and printed) name: `pending`, `running`, `done`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a candidate's evaluation (or a retraining) ended (the `outcome` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Trained to the end of the budget.
    Finished,
    /// Stopped below the median at a hurdle.
    Stopped,
    /// Not a valid program at the campaign's model size.
    Invalid,
    /// The training loss diverged.
    Diverged,
    /// The model does not fit in memory.
    OutOfMemory,
    /// A functionally equal program's fitness, reused (dedup).
    Reused,
    /// Its workers died or stopped answering too often.
    Failed,
}

impl Outcome {
    /// The stored (and printed) name: `finished`, `out_of_memory`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::Stopped => "stopped",
            Outcome::Invalid => "invalid",
            Outcome::Diverged => "diverged",
            Outcome::OutOfMemory => "out_of_memory",
            Outcome::Reused => "reused",
            Outcome::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stores an enum as its name (a text column) on every backend, through sqlx's `Any` driver.
macro_rules! text_enum {
    ($t:ty, $what:literal, [$($v:expr),+]) => {
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                [$($v),+].into_iter().find(|v| v.as_str() == s).ok_or_else(|| format!("unknown {} `{s}` in the store", $what))
            }
        }
        impl sqlx::Type<sqlx::Any> for $t {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <str as sqlx::Type<sqlx::Any>>::type_info()
            }
        }
        impl<'q> sqlx::Encode<'q, sqlx::Any> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Any>>::encode(self.as_str(), buf)
            }
        }
        impl<'r> sqlx::Decode<'r, sqlx::Any> for $t {
            fn decode(v: sqlx::any::AnyValueRef<'r>) -> std::result::Result<Self, sqlx::error::BoxDynError> {
                Ok(<String as sqlx::Decode<'r, sqlx::Any>>::decode(v)?.parse::<$t>()?)
            }
        }
    };
}

text_enum!(Status, "status", [Status::Pending, Status::Running, Status::Done, Status::Failed]);
text_enum!(
    Outcome,
    "outcome",
    [
        Outcome::Finished,
        Outcome::Stopped,
        Outcome::Invalid,
        Outcome::Diverged,
        Outcome::OutOfMemory,
        Outcome::Reused,
        Outcome::Failed
    ]
);

/// An `Option<f64>` to bind. sqlx 0.8.6's `Any` driver sends a NULL double to PostgreSQL as
/// float4 (its table maps a null Double to f32, a null Real to f64), and a statement prepared
/// with that NULL then rejects a real double in the same place ("incorrect binary data
/// format"): this sends NULL as float8.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OptF64(pub Option<f64>);

impl sqlx::Type<sqlx::Any> for OptF64 {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <f64 as sqlx::Type<sqlx::Any>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Any> for OptF64 {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        match self.0 {
            Some(v) => <f64 as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&v, buf),
            // Encoded as Real, which that table sends as a float8 NULL.
            None => <Option<f32> as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&None, buf),
        }
    }
}

/// The file of a `sqlite://PATH` (or `sqlite:PATH`) store URL, query string removed; `None` for
/// other URLs. The one place that knows how a store URL names its file.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty()).then(|| std::path::PathBuf::from(path))
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A campaign row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    /// The resolved configuration, JSON, stored verbatim.
    pub config: String,
    pub seed: i64,
    pub created_at: f64,
    pub finished_at: Option<f64>,
}

/// A program to store (by canonical hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewProgram {
    pub hash: String,
    pub text: String,
    pub json: String,
    pub parameters: i64,
    pub flops_per_token: i64,
}

/// A candidate to enqueue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCandidate {
    pub campaign: i64,
    pub birth: i64,
    pub program: String,
    pub parent: Option<i64>,
    pub seed_index: Option<i64>,
    /// The mutation as JSON (primer-evolve's `Mutation`).
    pub mutation: Option<String>,
    /// The mutation in words.
    pub description: Option<String>,
}

/// A candidate a worker now holds.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Claim {
    pub candidate: i64,
    pub birth: i64,
    pub attempts: i64,
    pub program_json: String,
}

/// What a worker reports for a candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub budget: String,
    pub fitness: Option<f64>,
    pub steps: i64,
    pub tokens: i64,
    pub flops: f64,
    pub seconds: f64,
    pub hurdles: i64,
    /// finished | stopped | invalid | diverged | out_of_memory | reused | failed
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub reused_from: Option<i64>,
}

/// One point of a learning curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct CurvePoint {
    pub step: i64,
    pub tokens: i64,
    pub flops: f64,
    pub seconds: f64,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
}

/// A candidate with a result, as evolution needs it.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct Finished {
    pub candidate: i64,
    pub birth: i64,
    pub fitness: Option<f64>,
}

/// How many candidates are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pending: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
}

impl Counts {
    pub fn total(&self) -> i64 {
        self.pending + self.running + self.done + self.failed
    }
    pub fn finished(&self) -> i64 {
        self.done + self.failed
    }
}

/// A candidate being trained.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Running {
    pub candidate: i64,
    pub birth: i64,
    pub worker: Option<String>,
    pub description: Option<String>,
}

/// An attempt that ended without a result, and why.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Requeue {
    pub candidate: i64,
    pub attempt: i64,
    pub worker: Option<String>,
    pub reason: String,
    /// Whether it counts against the candidate (1) or not (0).
    pub charged: i64,
}

/// How an attempt ended without a result: why, and whether that counts against the candidate.
///
/// The rule: an attempt is charged when the program could have caused its end (the worker
/// crashed, was killed by SIGKILL, which is how the kernel's out-of-memory killer ends a
/// process, died alone while the other workers of its machine kept going, or got stuck on
/// it); it is not charged when the worker was told to stop (SIGTERM, SIGINT, SIGHUP: it gives
/// the candidate back itself), lost the controller that started it, or went away with the
/// rest of its machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub reason: String,
    pub charged: bool,
}

impl Ended {
    pub fn charged(reason: String) -> Ended {
        Ended { reason, charged: true }
    }
    pub fn free(reason: String) -> Ended {
        Ended { reason, charged: false }
    }
}

/// One row of a campaign's history (every candidate, its lineage and result), in birth order.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct HistoryRow {
    pub candidate: i64,
    pub birth: i64,
    pub program: String,
    pub parent: Option<i64>,
    pub seed_index: Option<i64>,
    pub mutation: Option<String>,
    pub description: Option<String>,
    pub status: Status,
    pub attempts: i64,
    pub worker: Option<String>,
    pub fitness: Option<f64>,
    pub outcome: Option<Outcome>,
    pub reason: Option<String>,
    pub steps: Option<i64>,
    pub flops: Option<f64>,
    pub seconds: Option<f64>,
    pub hurdles: Option<i64>,
    pub reused_from: Option<i64>,
}

/// One retraining of a candidate at another budget and seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Rerun {
    pub candidate: i64,
    pub budget: String,
    pub seed: i64,
    pub fitness: Option<f64>,
    pub steps: i64,
    pub flops: f64,
    pub seconds: f64,
    pub outcome: Outcome,
    pub reason: Option<String>,
}

/// A candidate's trained weights: safetensors bytes under the compiler's parameter names.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Weights {
    pub candidate: i64,
    pub budget: String,
    pub seed: i64,
    pub fitness: Option<f64>,
    pub steps: i64,
    pub data: Vec<u8>,
}

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
    fn now(self) -> &'static str {
        match self {
            Backend::Sqlite => "((julianday('now') - 2440587.5) * 86400.0)",
            Backend::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp())::float8)",
        }
    }

    /// Row locking for a queue's `SELECT` (SQLite locks the whole file for a write instead).
    fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// The oldest PostgreSQL primer runs on (`server_version_num`).
pub const MIN_POSTGRES: i64 = 150_000;

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

/// The store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    pub url: String,
    pub backend: Backend,
    /// What it was opened for: a command that reads gives up on a store gone out of reach
    /// after [`READ_PATIENCE`], one that writes after [`retry_for`].
    access: Access,
}

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

fn sqlite_migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations/sqlite")
}

fn postgres_migrator() -> sqlx::migrate::Migrator {
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
                // `?busy_timeout=MS` (primer's, default 30000): how long SQLite waits for a lock
                // before the store says it waits (see `fault`). The rest goes to sqlx.
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
                let query = params.join("&");
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
                options = options.after_release(|conn, _| {
                    // A connection must come back with no transaction open: a COMMIT that fails
                    // (SQLITE_FULL leaves the transaction active) followed by a rollback that
                    // does not happen would keep the file's write lock for ever, and every other
                    // connection would wait on it. A transaction still open is ended by closing
                    // the connection (SQLite rolls it back). BEGIN takes no lock until a write.
                    Box::pin(async move {
                        use sqlx::Executor;
                        if conn.execute("BEGIN").await.is_err() {
                            eprintln!(
                                "store: a connection came back with a transaction open; closed it (its work is retried)"
                            );
                            return Ok(false);
                        }
                        Ok(conn.execute("ROLLBACK").await.is_ok())
                    })
                });
                options = options.after_connect(move |conn, _| {
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
                });
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

    /// Runs `f` again while it fails for a transient reason (see [`retry_for`]). Every
    /// operation is written so that running it twice is the same as once (a reply lost after
    /// a commit must not record a result twice).
    async fn retry<T, F, Fut>(&self, f: F) -> Result<T>
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
    fn sql(&self, q: &str) -> String {
        q.replace("{now}", self.backend.now()).replace("{skip_locked}", self.backend.skip_locked())
    }

    /// The server's clock, Unix seconds.
    pub async fn server_now(&self) -> Result<f64> {
        let q = self.sql("SELECT {now}");
        self.retry(|| sqlx::query_scalar::<_, f64>(&q).fetch_one(&self.pool)).await
    }

    pub async fn campaigns(&self) -> Result<Vec<Campaign>> {
        self.retry(|| {
            sqlx::query_as("SELECT id, name, config, seed, created_at, finished_at FROM campaigns ORDER BY id")
                .fetch_all(&self.pool)
        })
        .await
    }

    pub async fn campaign(&self, name: &str) -> Result<Option<Campaign>> {
        self.retry(|| {
            sqlx::query_as("SELECT id, name, config, seed, created_at, finished_at FROM campaigns WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
        })
        .await
    }

    pub async fn campaign_by_id(&self, id: i64) -> Result<Option<Campaign>> {
        self.retry(|| {
            sqlx::query_as("SELECT id, name, config, seed, created_at, finished_at FROM campaigns WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
        })
        .await
    }

    /// Creates a campaign; `None` if the name is taken.
    pub async fn create_campaign(&self, name: &str, config: &str, seed: i64) -> Result<Option<Campaign>> {
        let done = self.retry(|| sqlx::query("INSERT INTO campaigns (name, config, seed, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(config)
            .bind(seed)
            .bind(now())
            .execute(&self.pool)).await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.campaign(name).await
    }

    pub async fn mark_finished(&self, campaign: i64) -> Result<()> {
        self.retry(|| {
            sqlx::query("UPDATE campaigns SET finished_at = $1 WHERE id = $2 AND finished_at IS NULL")
                .bind(now())
                .bind(campaign)
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    /// Marks a campaign as running again (a resumed or extended campaign).
    pub async fn reopen(&self, campaign: i64) -> Result<()> {
        self.retry(|| {
            sqlx::query("UPDATE campaigns SET finished_at = NULL WHERE id = $1").bind(campaign).execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    /// Stores a program (a no-op if that hash is already there).
    pub async fn put_program(&self, p: &NewProgram) -> Result<()> {
        self.retry(|| sqlx::query(
            "INSERT INTO programs (hash, text, json, parameters, flops_per_token) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&p.hash)
        .bind(&p.text)
        .bind(&p.json)
        .bind(p.parameters)
        .bind(p.flops_per_token)
        .execute(&self.pool)).await?;
        Ok(())
    }

    /// A stored program's JSON.
    pub async fn program_json(&self, hash: &str) -> Result<Option<String>> {
        self.retry(|| {
            sqlx::query_scalar("SELECT json FROM programs WHERE hash = $1").bind(hash).fetch_optional(&self.pool)
        })
        .await
    }

    /// A stored program's (parameters, training FLOPs per token) at its campaign's model size.
    pub async fn program_cost(&self, hash: &str) -> Result<Option<(i64, i64)>> {
        self.retry(|| {
            sqlx::query_as("SELECT parameters, flops_per_token FROM programs WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
        })
        .await
    }

    /// Enqueues a candidate as pending; `None` if its birth number or program is already in
    /// the campaign (the same birth with the same program is the same candidate: its id).
    pub async fn add_candidate(&self, c: &NewCandidate) -> Result<Option<i64>> {
        let id: Option<i64> = self
            .retry(|| {
                sqlx::query_scalar(
            "INSERT INTO candidates (campaign, birth, program, parent, seed_index, mutation, description, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(c.campaign)
        .bind(c.birth)
        .bind(&c.program)
        .bind(c.parent)
        .bind(c.seed_index)
        .bind(&c.mutation)
        .bind(&c.description)
        .bind(now())
        .fetch_optional(&self.pool)
            })
            .await?;
        if id.is_some() {
            return Ok(id);
        }
        // Already there with this birth and program: an earlier try whose reply was lost.
        self.retry(|| {
            sqlx::query_scalar("SELECT id FROM candidates WHERE campaign = $1 AND birth = $2 AND program = $3")
                .bind(c.campaign)
                .bind(c.birth)
                .bind(&c.program)
                .fetch_optional(&self.pool)
        })
        .await
    }

    /// The next birth number of a campaign.
    pub async fn next_birth(&self, campaign: i64) -> Result<i64> {
        let max: Option<i64> = self
            .retry(|| {
                sqlx::query_scalar("SELECT MAX(birth) FROM candidates WHERE campaign = $1")
                    .bind(campaign)
                    .fetch_one(&self.pool)
            })
            .await?;
        Ok(max.map_or(0, |m| m + 1))
    }

    /// Every program hash in the campaign (for structural dedup).
    pub async fn program_hashes(&self, campaign: i64) -> Result<Vec<String>> {
        self.retry(|| {
            sqlx::query_scalar("SELECT program FROM candidates WHERE campaign = $1")
                .bind(campaign)
                .fetch_all(&self.pool)
        })
        .await
    }

    /// The program hash of a candidate.
    pub async fn candidate_program(&self, candidate: i64) -> Result<Option<String>> {
        self.retry(|| {
            sqlx::query_scalar("SELECT program FROM candidates WHERE id = $1")
                .bind(candidate)
                .fetch_optional(&self.pool)
        })
        .await
    }

    /// Candidates born at `from_birth` or later that have a result (done or failed), by birth:
    /// what the controller reads to keep its history current without reading it all again.
    pub async fn finished_since(&self, campaign: i64, from_birth: i64) -> Result<Vec<Finished>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT c.id AS candidate, c.birth AS birth, e.fitness AS fitness
                 FROM candidates c JOIN evaluations e ON e.candidate = c.id WHERE c.campaign = $1 AND c.birth >= $2
                 ORDER BY c.birth",
            )
            .bind(campaign)
            .bind(from_birth)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// The best finished candidate (lowest fitness; ties to the earlier), without reading the
    /// whole history.
    pub async fn best(&self, campaign: i64) -> Result<Option<Finished>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT c.id AS candidate, c.birth AS birth, e.fitness AS fitness
                 FROM candidates c JOIN evaluations e ON e.candidate = c.id
                 WHERE c.campaign = $1 AND e.fitness IS NOT NULL ORDER BY e.fitness, c.birth LIMIT 1",
            )
            .bind(campaign)
            .fetch_optional(&self.pool)
        })
        .await
    }

    pub async fn finished(&self, campaign: i64) -> Result<Vec<Finished>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT c.id AS candidate, c.birth AS birth, e.fitness AS fitness
             FROM candidates c JOIN evaluations e ON e.candidate = c.id WHERE c.campaign = $1",
            )
            .bind(campaign)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// (pending, running): the candidates in flight, read through the status index without
    /// touching the finished ones (the controller asks many times a second).
    pub async fn in_flight(&self, campaign: i64) -> Result<(i64, i64)> {
        let rows: Vec<(Status, i64)> = self
            .retry(|| {
                sqlx::query_as(
                    "SELECT status, COUNT(*) FROM candidates WHERE campaign = $1 AND status IN ('pending', 'running') GROUP BY status",
                )
                .bind(campaign)
                .fetch_all(&self.pool)
            })
            .await?;
        let n = |s| rows.iter().find(|(x, _)| *x == s).map_or(0, |(_, n)| *n);
        Ok((n(Status::Pending), n(Status::Running)))
    }

    pub async fn counts(&self, campaign: i64) -> Result<Counts> {
        let rows: Vec<(Status, i64)> = self
            .retry(|| {
                sqlx::query_as("SELECT status, COUNT(*) FROM candidates WHERE campaign = $1 GROUP BY status")
                    .bind(campaign)
                    .fetch_all(&self.pool)
            })
            .await?;
        let mut c = Counts::default();
        for (status, n) in rows {
            match status {
                Status::Pending => c.pending = n,
                Status::Running => c.running = n,
                Status::Done => c.done = n,
                Status::Failed => c.failed += n,
            }
        }
        Ok(c)
    }

    pub async fn running(&self, campaign: i64) -> Result<Vec<Running>> {
        self.retry(|| sqlx::query_as(
            "SELECT id AS candidate, birth, worker, description FROM candidates WHERE campaign = $1 AND status = 'running' ORDER BY birth",
        )
        .bind(campaign)
        .fetch_all(&self.pool)).await
    }

    /// Claims the oldest pending candidate for `worker` with a lease of `lease` seconds (on the
    /// server's clock). A worker holds one candidate at a time, so a candidate this worker
    /// already holds is returned again: that is a claim whose reply was lost to a dropped
    /// connection after the commit, retried.
    pub async fn claim(&self, campaign: i64, worker: &str, lease: f64) -> Result<Option<Claim>> {
        let held = &self.sql(
            "SELECT id, birth, attempts, program FROM candidates
             WHERE campaign = $1 AND status = 'running' AND worker = $2 ORDER BY birth LIMIT 1",
        );
        let renew = &self.sql("UPDATE candidates SET lease_until = {now} + $1 WHERE id = $2");
        let take = &self.sql(
            "UPDATE candidates SET status = 'running', worker = $1, lease_until = {now} + $2, attempts = attempts + 1
             WHERE id = (SELECT id FROM candidates WHERE campaign = $3 AND status = 'pending' ORDER BY birth LIMIT 1{skip_locked})
             RETURNING id, birth, attempts, program",
        );
        self.retry(move || async move {
            let mut tx = self.pool.begin().await?;
            let mut claimed: Option<(i64, i64, i64, String)> =
                sqlx::query_as(held).bind(campaign).bind(worker).fetch_optional(&mut *tx).await?;
            if let Some((id, ..)) = &claimed {
                sqlx::query(renew).bind(lease).bind(*id).execute(&mut *tx).await?;
            } else {
                claimed = sqlx::query_as(take).bind(worker).bind(lease).bind(campaign).fetch_optional(&mut *tx).await?;
            }
            let Some((candidate, birth, attempts, hash)) = claimed else {
                tx.commit().await?;
                return Ok(None);
            };
            // A new attempt starts from nothing: drop what an earlier, dead attempt left.
            sqlx::query("DELETE FROM curve_points WHERE candidate = $1").bind(candidate).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM checkpoints WHERE candidate = $1").bind(candidate).execute(&mut *tx).await?;
            let program_json: String =
                sqlx::query_scalar("SELECT json FROM programs WHERE hash = $1").bind(&hash).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(Some(Claim { candidate, birth, attempts, program_json }))
        })
        .await
    }

    /// Extends a lease (on the server's clock); `false` if the worker no longer holds the candidate.
    pub async fn heartbeat(&self, candidate: i64, worker: &str, lease: f64) -> Result<bool> {
        let q = &self
            .sql("UPDATE candidates SET lease_until = {now} + $1 WHERE id = $2 AND worker = $3 AND status = 'running'");
        let r = self.retry(|| sqlx::query(q).bind(lease).bind(candidate).bind(worker).execute(&self.pool)).await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn set_fingerprint(&self, candidate: i64, fingerprint: &str) -> Result<()> {
        self.retry(|| {
            sqlx::query("UPDATE candidates SET fingerprint = $1 WHERE id = $2")
                .bind(fingerprint)
                .bind(candidate)
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    /// A candidate's functional fingerprint (None before its worker computed it, or when the
    /// program could not be compiled).
    pub async fn fingerprint(&self, candidate: i64) -> Result<Option<String>> {
        Ok(self
            .retry(|| {
                sqlx::query_scalar("SELECT fingerprint FROM candidates WHERE id = $1")
                    .bind(candidate)
                    .fetch_optional(&self.pool)
            })
            .await?
            .flatten())
    }

    /// The evaluations of earlier candidates (lower birth) of the campaign with this
    /// fingerprint, in birth order: (candidate, fitness, reused_from).
    pub async fn same_fingerprint(
        &self,
        campaign: i64,
        fingerprint: &str,
        before_birth: i64,
    ) -> Result<Vec<(i64, Option<f64>, Option<i64>)>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT c.id, e.fitness, e.reused_from FROM candidates c JOIN evaluations e ON e.candidate = c.id
             WHERE c.campaign = $1 AND c.fingerprint = $2 AND c.birth < $3 ORDER BY c.birth",
            )
            .bind(campaign)
            .bind(fingerprint)
            .bind(before_birth)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// Records a curve point (a second point for the same step is ignored).
    pub async fn add_curve_point(&self, candidate: i64, p: &CurvePoint) -> Result<()> {
        self.retry(|| sqlx::query(
            "INSERT INTO curve_points (candidate, step, tokens, flops, seconds, train_loss, val_loss) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (candidate, step) DO NOTHING",
        )
        .bind(candidate)
        .bind(p.step)
        .bind(p.tokens)
        .bind(p.flops)
        .bind(p.seconds)
        .bind(p.train_loss)
        .bind(OptF64(p.val_loss))
        .execute(&self.pool)).await?;
        Ok(())
    }

    /// Records a candidate's loss at hurdle checkpoint `k` (a second one is ignored). A loss
    /// that is not a number is stored as +inf (SQLite cannot store NaN): it never passes and
    /// sets no bar.
    pub async fn add_checkpoint(&self, candidate: i64, k: i64, loss: f64) -> Result<()> {
        let loss = if loss.is_nan() { f64::INFINITY } else { loss };
        self.retry(|| {
            sqlx::query(
                "INSERT INTO checkpoints (candidate, k, loss, campaign, birth)
             SELECT $1, $2, $3, c.campaign, c.birth FROM candidates c WHERE c.id = $1
             ON CONFLICT (candidate, k) DO NOTHING",
            )
            .bind(candidate)
            .bind(k)
            .bind(loss)
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    /// How many of the campaign's candidates born before `before_birth` reached checkpoint `k`
    /// with a finite loss (at most `window` of them, the latest by birth, when `window` > 0),
    /// and the median of those losses (the hurdle's threshold), computed by the store server:
    /// a worker reads two numbers, not the whole history. The same number as
    /// `HalvingHurdles::threshold` over [`Store::checkpoint_losses`] (tested).
    pub async fn checkpoint_median(
        &self,
        campaign: i64,
        k: i64,
        before_birth: i64,
        window: usize,
    ) -> Result<(i64, Option<f64>)> {
        // NaN is NULL in SQLite and above every number in PostgreSQL: both fail the range test.
        // The checkpoint rows carry their campaign and birth, indexed (migration 0005). With a
        // window, the latest `window` finite losses by birth.
        let limit = if window > 0 { format!("ORDER BY p.birth DESC LIMIT {window}") } else { String::new() };
        let finite = format!(
            "FROM (SELECT p.loss FROM checkpoints p
             WHERE p.campaign = $1 AND p.k = $2 AND p.birth < $3 AND p.loss > -1e308 AND p.loss < 1e308 {limit}) AS w"
        );
        let count_sql = format!("SELECT COUNT(*) {finite}");
        let n: i64 = self
            .retry(|| sqlx::query_scalar(&count_sql).bind(campaign).bind(k).bind(before_birth).fetch_one(&self.pool))
            .await?;
        if n == 0 {
            return Ok((0, None));
        }
        let (take, skip) = if n % 2 == 1 { (1, n / 2) } else { (2, n / 2 - 1) };
        let middle_sql = format!("SELECT w.loss {finite} ORDER BY w.loss LIMIT {take} OFFSET {skip}");
        let middle: Vec<f64> = self
            .retry(|| sqlx::query_scalar(&middle_sql).bind(campaign).bind(k).bind(before_birth).fetch_all(&self.pool))
            .await?;
        Ok((n, (!middle.is_empty()).then(|| middle.iter().sum::<f64>() / middle.len() as f64)))
    }

    /// Losses at checkpoint `k` of the campaign's candidates born before `before_birth`.
    pub async fn checkpoint_losses(&self, campaign: i64, k: i64, before_birth: i64) -> Result<Vec<f64>> {
        self.retry(|| {
            sqlx::query_scalar(
                "SELECT p.loss FROM checkpoints p JOIN candidates c ON c.id = p.candidate
             WHERE c.campaign = $1 AND p.k = $2 AND c.birth < $3 ORDER BY c.birth",
            )
            .bind(campaign)
            .bind(k)
            .bind(before_birth)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// Records a candidate's result, if `worker` still holds it: its status becomes done (a
    /// fitness) or failed (none). Returns whether it was recorded (also when this worker's
    /// result was recorded by an earlier try whose reply was lost: never twice).
    pub async fn finish(&self, candidate: i64, worker: &str, e: &Evaluation) -> Result<bool> {
        let status = if e.fitness.is_some() { Status::Done } else { Status::Failed };
        self.retry(move || async move {
            let mut tx = self.pool.begin().await?;
            let owned = sqlx::query(
                "UPDATE candidates SET status = $1, lease_until = NULL WHERE id = $2 AND worker = $3 AND status = 'running'",
            )
            .bind(status)
            .bind(candidate)
            .bind(worker)
            .execute(&mut *tx)
            .await?;
            if owned.rows_affected() != 1 {
                // This very result, recorded by a try whose reply was lost?
                let stored: Option<(Option<String>, Option<f64>, i64, Outcome)> =
                    sqlx::query_as("SELECT worker, fitness, steps, outcome FROM evaluations WHERE candidate = $1")
                        .bind(candidate)
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.rollback().await?;
                return Ok(stored.is_some_and(|(by, fitness, steps, outcome)| {
                    by.as_deref() == Some(worker) && fitness == e.fitness && steps == e.steps && outcome == e.outcome
                }));
            }
            insert_evaluation(&mut tx, candidate, Some(worker), e).await?;
            sqlx::query("UPDATE workers SET done = done + 1 WHERE id = $1").bind(worker).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Puts running candidates whose lease has expired on the server's clock (or, with
    /// `worker`, that this worker held) back to pending, recording why each attempt ended and
    /// whether it is charged to the candidate (`requeues`); a candidate with `max_attempts`
    /// charged attempts (since a `--retry-failed`) is recorded as failed instead. Returns
    /// (requeued, failed).
    ///
    /// Who is to blame (see [`Ended`]): with `worker`, the caller says (`ended`: a local worker
    /// whose exit it saw). For an expired lease the store decides from the workers table: a
    /// worker that still answers but stopped renewing the lease is stuck on the candidate
    /// (charged); one that stopped answering while other workers on its host kept answering
    /// died alone, maybe of the program (charged: a crash, the kernel's out-of-memory killer);
    /// one that stopped answering together with the other workers of its host lost its machine
    /// (not charged); a worker nobody knows (charged). `lease` is the campaign's lease in
    /// seconds, the time after which a silent worker counts as gone.
    pub async fn requeue(
        &self,
        campaign: i64,
        worker: Option<&str>,
        ended: Option<&Ended>,
        lease: f64,
        max_attempts: i64,
    ) -> Result<(u64, u64)> {
        let expired = &self.sql(
            "SELECT c.id, c.attempts, c.worker, c.retry_from, w.host, w.exited_at, ({now} - w.heartbeat_at) AS silent
             FROM candidates c LEFT JOIN workers w ON w.id = c.worker
             WHERE c.campaign = $1 AND c.status = 'running' AND c.lease_until < {now}",
        );
        let held = &self.sql(
            "SELECT c.id, c.attempts, c.worker, c.retry_from, w.host, w.exited_at, ({now} - w.heartbeat_at) AS silent
             FROM candidates c LEFT JOIN workers w ON w.id = c.worker
             WHERE c.campaign = $1 AND c.status = 'running' AND c.worker = $2",
        );
        let host_alive = &self.sql(
            "SELECT COUNT(*) FROM workers WHERE host = $1 AND id <> $2 AND exited_at IS NULL AND {now} - heartbeat_at <= $3",
        );
        let host_silent_with = &self.sql(
            "SELECT COUNT(*) FROM workers WHERE host = $1 AND id <> $2 AND exited_at IS NULL
             AND {now} - heartbeat_at > $3 AND ABS(({now} - heartbeat_at) - $4) <= $3",
        );
        type Lost = (i64, i64, Option<String>, i64, Option<String>, Option<f64>, Option<f64>);
        self.retry(move || async move {
            let mut tx = self.pool.begin().await?;
            let lost: Vec<Lost> = match worker {
                Some(w) => sqlx::query_as(held).bind(campaign).bind(w).fetch_all(&mut *tx).await?,
                None => sqlx::query_as(expired).bind(campaign).fetch_all(&mut *tx).await?,
            };
            let (mut requeued, mut failed) = (0, 0);
            for (id, attempts, w, retry_from, host, exited_at, silent) in lost {
                let who = w.as_deref().unwrap_or("?");
                let verdict = match (ended, host, silent) {
                    (Some(e), ..) => e.clone(),
                    (None, None, _) | (None, _, None) => {
                        Ended::charged(format!("the lease of worker {who} ran out (a worker the store does not know)"))
                    }
                    (None, Some(_), Some(_)) if exited_at.is_some() => {
                        Ended::charged(format!("worker {who} stopped with an error while training it"))
                    }
                    (None, Some(_), Some(silent)) if silent <= lease => Ended::charged(format!(
                        "worker {who} kept answering but stopped renewing its lease on it (stuck on it)"
                    )),
                    (None, Some(host), Some(silent)) => {
                        let alive: i64 = sqlx::query_scalar(host_alive)
                            .bind(&host)
                            .bind(who)
                            .bind(lease)
                            .fetch_one(&mut *tx)
                            .await?;
                        let with: i64 = sqlx::query_scalar(host_silent_with)
                            .bind(&host)
                            .bind(who)
                            .bind(lease)
                            .bind(silent)
                            .fetch_one(&mut *tx)
                            .await?;
                        if alive == 0 && with > 0 {
                            Ended::free(format!(
                                "machine {host} went away: worker {who} and {with} other worker(s) there stopped answering at once"
                            ))
                        } else if alive > 0 {
                            Ended::charged(format!(
                                "worker {who} died while training it ({alive} other worker(s) on {host} kept answering)"
                            ))
                        } else {
                            Ended::charged(format!("worker {who} died while training it"))
                        }
                    }
                };
                sqlx::query(
                    "INSERT INTO requeues (candidate, attempt, worker, reason, charged, at) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (candidate, attempt) DO NOTHING",
                )
                .bind(id)
                .bind(attempts)
                .bind(w.as_deref())
                .bind(&verdict.reason)
                .bind(i64::from(verdict.charged))
                .bind(now())
                .execute(&mut *tx)
                .await?;
                let charged: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM requeues WHERE candidate = $1 AND charged = 1 AND attempt > $2",
                )
                .bind(id)
                .bind(retry_from)
                .fetch_one(&mut *tx)
                .await?;
                if charged >= max_attempts {
                    sqlx::query("UPDATE candidates SET status = 'failed', lease_until = NULL WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    let e = Evaluation {
                        budget: String::new(),
                        fitness: None,
                        steps: 0,
                        tokens: 0,
                        flops: 0.0,
                        seconds: 0.0,
                        hurdles: 0,
                        outcome: Outcome::Failed,
                        reason: Some(format!(
                            "{charged} charged attempts ended without a result (last: {})",
                            verdict.reason
                        )),
                        reused_from: None,
                    };
                    insert_evaluation(&mut tx, id, None, &e).await?;
                    failed += 1;
                } else {
                    sqlx::query("UPDATE candidates SET status = 'pending', worker = NULL, lease_until = NULL WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    requeued += 1;
                }
            }
            tx.commit().await?;
            Ok((requeued, failed))
        })
        .await
    }

    /// Gives a candidate back without charging it an attempt: its worker was told to stop (a
    /// signal), or lost the controller that started it. Records `reason`. False when `worker`
    /// no longer holds it.
    pub async fn release(&self, candidate: i64, worker: &str, reason: &str) -> Result<bool> {
        self.retry(move || async move {
            let mut tx = self.pool.begin().await?;
            let attempts: Option<i64> = sqlx::query_scalar(
                "SELECT attempts FROM candidates WHERE id = $1 AND status = 'running' AND worker = $2",
            )
            .bind(candidate)
            .bind(worker)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(attempts) = attempts else {
                tx.commit().await?;
                return Ok(false);
            };
            sqlx::query(
                "INSERT INTO requeues (candidate, attempt, worker, reason, charged, at) VALUES ($1, $2, $3, $4, 0, $5)
                 ON CONFLICT (candidate, attempt) DO NOTHING",
            )
            .bind(candidate)
            .bind(attempts)
            .bind(worker)
            .bind(reason)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE candidates SET status = 'pending', worker = NULL, lease_until = NULL WHERE id = $1")
                .bind(candidate)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Puts the campaign's candidates that failed only because their workers died (never a
    /// program that failed on its own: those are done, with their outcome) back to pending,
    /// keeping their attempt history; the charged attempts so far no longer count. Returns how
    /// many.
    pub async fn retry_failed(&self, campaign: i64) -> Result<u64> {
        self.retry(move || async move {
            let mut tx = self.pool.begin().await?;
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT c.id FROM candidates c JOIN evaluations e ON e.candidate = c.id
                 WHERE c.campaign = $1 AND c.status = 'failed' AND e.outcome = 'failed'",
            )
            .bind(campaign)
            .fetch_all(&mut *tx)
            .await?;
            for id in &ids {
                sqlx::query("DELETE FROM evaluations WHERE candidate = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query(
                    "UPDATE candidates SET status = 'pending', worker = NULL, lease_until = NULL, retry_from = attempts WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(ids.len() as u64)
        })
        .await
    }

    /// How many of the campaign's candidates ended with each outcome.
    pub async fn outcome_counts(&self, campaign: i64) -> Result<Vec<(Outcome, i64)>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT e.outcome, COUNT(*) FROM evaluations e JOIN candidates c ON c.id = e.candidate
                 WHERE c.campaign = $1 GROUP BY e.outcome ORDER BY e.outcome",
            )
            .bind(campaign)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// Why attempts of the campaign's candidates ended without a result, by candidate and attempt.
    pub async fn requeues(&self, campaign: i64) -> Result<Vec<Requeue>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT r.candidate, r.attempt, r.worker, r.reason, r.charged FROM requeues r
                 JOIN candidates c ON c.id = r.candidate WHERE c.campaign = $1 ORDER BY r.candidate, r.attempt",
            )
            .bind(campaign)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// One candidate with its result, and its campaign's id.
    pub async fn candidate(&self, id: i64) -> Result<Option<(i64, HistoryRow)>> {
        let campaign: Option<i64> = self
            .retry(|| {
                sqlx::query_scalar("SELECT campaign FROM candidates WHERE id = $1").bind(id).fetch_optional(&self.pool)
            })
            .await?;
        let Some(campaign) = campaign else { return Ok(None) };
        let row = self.retry(|| sqlx::query_as(
            "SELECT c.id AS candidate, c.birth, c.program, c.parent, c.seed_index, c.mutation, c.description, c.status,
                    c.attempts, c.worker, e.fitness, e.outcome, e.reason, e.steps, e.flops, e.seconds, e.hurdles, e.reused_from
             FROM candidates c LEFT JOIN evaluations e ON e.candidate = c.id WHERE c.id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)).await?;
        Ok(Some((campaign, row)))
    }

    /// A candidate's losses at the hurdle checkpoints it reached: (k, loss).
    pub async fn checkpoints_of(&self, candidate: i64) -> Result<Vec<(i64, f64)>> {
        self.retry(|| {
            sqlx::query_as("SELECT k, loss FROM checkpoints WHERE candidate = $1 ORDER BY k")
                .bind(candidate)
                .fetch_all(&self.pool)
        })
        .await
    }

    /// Records a retraining; `false` if that (candidate, budget, seed) is already stored.
    pub async fn add_rerun(&self, r: &Rerun) -> Result<bool> {
        let done = self
            .retry(|| {
                sqlx::query(
            "INSERT INTO reruns (candidate, budget, seed, fitness, steps, flops, seconds, outcome, reason, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(r.candidate)
        .bind(&r.budget)
        .bind(r.seed)
        .bind(OptF64(r.fitness))
        .bind(r.steps)
        .bind(r.flops)
        .bind(r.seconds)
        .bind(r.outcome)
        .bind(&r.reason)
        .bind(now())
        .execute(&self.pool)
            })
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a candidate's trained weights (safetensors bytes); `false` if weights for that
    /// (candidate, budget, seed) are already stored (they are kept).
    pub async fn put_weights(&self, w: &Weights) -> Result<bool> {
        let done = self
            .retry(|| {
                sqlx::query(
                    "INSERT INTO weights (candidate, budget, seed, fitness, steps, data, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                )
                .bind(w.candidate)
                .bind(&w.budget)
                .bind(w.seed)
                .bind(OptF64(w.fitness))
                .bind(w.steps)
                .bind(&w.data)
                .bind(now())
                .execute(&self.pool)
            })
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A candidate's stored weights for (budget, seed), if any.
    pub async fn weights(&self, candidate: i64, budget: &str, seed: i64) -> Result<Option<Weights>> {
        self.retry(|| sqlx::query_as(
            "SELECT candidate, budget, seed, fitness, steps, data FROM weights WHERE candidate = $1 AND budget = $2 AND seed = $3",
        )
        .bind(candidate)
        .bind(budget)
        .bind(seed)
        .fetch_optional(&self.pool)).await
    }

    /// The campaign's retrainings at `budget`, by candidate then seed.
    pub async fn reruns(&self, campaign: i64, budget: &str) -> Result<Vec<Rerun>> {
        self.retry(|| sqlx::query_as(
            "SELECT r.candidate, r.budget, r.seed, r.fitness, r.steps, r.flops, r.seconds, r.outcome, r.reason
             FROM reruns r JOIN candidates c ON c.id = r.candidate WHERE c.campaign = $1 AND r.budget = $2 ORDER BY r.candidate, r.seed",
        )
        .bind(campaign)
        .bind(budget)
        .fetch_all(&self.pool)).await
    }

    /// Every candidate of the campaign with its result, in birth order.
    pub async fn history(&self, campaign: i64) -> Result<Vec<HistoryRow>> {
        self.retry(|| sqlx::query_as(
            "SELECT c.id AS candidate, c.birth, c.program, c.parent, c.seed_index, c.mutation, c.description, c.status,
                    c.attempts, c.worker, e.fitness, e.outcome, e.reason, e.steps, e.flops, e.seconds, e.hurdles, e.reused_from
             FROM candidates c LEFT JOIN evaluations e ON e.candidate = c.id WHERE c.campaign = $1 ORDER BY c.birth",
        )
        .bind(campaign)
        .fetch_all(&self.pool)).await
    }

    /// The `k` best finished candidates (lowest fitness; ties to the earlier).
    pub async fn top(&self, campaign: i64, k: i64) -> Result<Vec<HistoryRow>> {
        let mut rows: Vec<HistoryRow> =
            self.history(campaign).await?.into_iter().filter(|r| r.fitness.is_some()).collect();
        rows.sort_by(|a, b| a.fitness.unwrap().total_cmp(&b.fitness.unwrap()).then(a.birth.cmp(&b.birth)));
        rows.truncate(k.max(0) as usize);
        Ok(rows)
    }

    /// The campaign's programs: (hash, JSON, parameters, training FLOPs per token), one query.
    pub async fn programs_of(&self, campaign: i64) -> Result<Vec<(String, String, i64, i64)>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT p.hash, p.json, p.parameters, p.flops_per_token FROM programs p
                 WHERE p.hash IN (SELECT c.program FROM candidates c WHERE c.campaign = $1)",
            )
            .bind(campaign)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// How many of the campaign's candidates reached each hurdle checkpoint: (k, count).
    pub async fn checkpoint_counts(&self, campaign: i64) -> Result<Vec<(i64, i64)>> {
        self.retry(|| {
            sqlx::query_as("SELECT k, COUNT(*) FROM checkpoints WHERE campaign = $1 GROUP BY k ORDER BY k")
                .bind(campaign)
                .fetch_all(&self.pool)
        })
        .await
    }

    /// Curve points of a candidate, by step.
    pub async fn curve(&self, candidate: i64) -> Result<Vec<CurvePoint>> {
        self.retry(|| sqlx::query_as(
            "SELECT step, tokens, flops, seconds, train_loss, val_loss FROM curve_points WHERE candidate = $1 ORDER BY step",
        )
        .bind(candidate)
        .fetch_all(&self.pool)).await
    }
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
async fn migrate(pool: &AnyPool, migrator: &sqlx::migrate::Migrator, url: &str) -> Result<()> {
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

/// Whether an error may go away by itself: a dropped or refused connection, a server that is
/// restarting, a serialization failure or deadlock (PostgreSQL), a busy or locked file (SQLite).
fn transient(e: &sqlx::Error) -> bool {
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

async fn insert_evaluation(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    candidate: i64,
    worker: Option<&str>,
    e: &Evaluation,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO evaluations (candidate, budget, fitness, steps, tokens, flops, seconds, hurdles, outcome, reason, reused_from, worker, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(candidate)
    .bind(&e.budget)
    .bind(OptF64(e.fitness))
    .bind(e.steps)
    .bind(e.tokens)
    .bind(e.flops)
    .bind(e.seconds)
    .bind(e.hurdles)
    .bind(e.outcome)
    .bind(&e.reason)
    .bind(e.reused_from)
    .bind(worker)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
