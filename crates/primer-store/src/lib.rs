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
//! The modules, one concern each: [`types`] (stored enums, helpers), [`rows`] (every row
//! struct, declared once), `open` (backends, opening, migrating), `retry` (transient faults and
//! store faults), `campaigns` (campaigns, programs, new candidates), `queue` (claims, leases,
//! requeues), `results` (what workers record), `reads` (history and the rest), `workers`
//! (worker registrations and heartbeats), `controllers` (the controller lease), [`copy`] (a
//! campaign between stores), [`archive`] (a campaign as a file), `reach` (a store out of
//! reach, said at once).
//!
//! ```no_run
//! # async fn f() -> Result<(), primer_store::StoreError> {
//! let store = primer_store::Store::open("sqlite://primer.db").await?;
//! for c in store.campaigns().await? {
//!     println!("{} {}", c.id, c.name);
//! }
//! # Ok(()) }
//! ```

pub mod archive;
mod campaigns;
mod controllers;
pub mod copy;
mod open;
mod queue;
mod reach;
mod reads;
mod results;
mod retry;
pub mod rows;
pub mod testing;
pub mod types;
mod workers;

pub use archive::{ARCHIVE_FORMAT, ARCHIVE_VERSION, Archive, archive_file};
pub use controllers::{ControllerRow, NewController};
pub use copy::{CampaignDump, Copied, CopyError};
pub use open::{Access, Backend, MIN_POSTGRES, schema_version};
pub(crate) use open::{migrate, postgres_migrator, sqlite_migrator};
pub use reach::READ_PATIENCE;
pub(crate) use results::insert_evaluation;
pub(crate) use retry::{retry_for, transient};
pub use rows::*;
pub(crate) use types::OptF64;
pub use types::{Outcome, Status, now, sqlite_file};
pub use workers::{NewWorker, WorkerRow};

use sqlx::AnyPool;

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
