//! Real PostgreSQL servers for tests (no mocks): a throwaway cluster per test process, one
//! database per test. `cargo xtask setup` installs Debian's `postgresql-15` where it is missing.
//!
//! The cluster lives in a fresh folder under `/tmp` (every parent must be traversable by the
//! `postgres` user), listens on a free port on 127.0.0.1 only, trusts local connections and
//! skips fsync: for tests, never for campaigns. As root, `initdb` and `pg_ctl` run as the
//! `postgres` system user (they refuse root). A watchdog process stops the server and removes
//! the folder when the test process exits, whether its tests passed, failed or panicked.
//!
//! ```no_run
//! let url = primer_store::testing::postgres_database("my_test");
//! // postgres://primer@127.0.0.1:PORT/t_my_test_...
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A running throwaway server.
#[derive(Debug)]
pub struct PgServer {
    pub dir: PathBuf,
    pub port: u16,
    pub bin: PathBuf,
}

/// The folder of the newest installed PostgreSQL's server programs (Debian's layout), if any.
pub fn postgres_bin() -> Option<PathBuf> {
    let mut bins: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    bins.sort();
    bins.pop().map(|(_, b)| b)
}

/// Whether this process runs as root (its effective uid, from /proc).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)).map(|u| u == "0")
        })
        .unwrap_or(false)
}

/// `program args...`, as the `postgres` user when this process is root.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) {
    let out = c.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: could not start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A TCP port on 127.0.0.1 that is free now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// This process's server, started on first use.
pub fn server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(start)
}

/// Starts a new server of its own (for a test that restarts or stops it); stopped when this
/// process exits.
#[allow(clippy::zombie_processes)] // the watchdog must outlive this process
pub fn start() -> PgServer {
    let bin = postgres_bin().unwrap_or_else(|| {
        panic!("no PostgreSQL server is installed (/usr/lib/postgresql/*/bin/initdb): run `cargo xtask setup`")
    });
    let dir = PathBuf::from(format!("/tmp/primer-pg-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).expect("a folder for the test server");
    if is_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres:postgres").arg(&dir);
                c
            },
            "chown of the test server's folder",
        );
    }
    let data = dir.join("data");
    let mut initdb = as_server_user(&bin.join("initdb"));
    initdb.arg("-D").arg(&data).args(["-U", "primer", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
    run(initdb, "initdb");
    let server = PgServer { dir: dir.clone(), port: free_port(), bin: bin.clone() };
    server.pg_ctl("start");
    // The watchdog: once this process is gone (passed, failed, panicked or killed), stop the
    // server and remove its folder.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {runas}{pg_ctl} -D {data} -m immediate -w stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        runas = if is_root() { "runuser -u postgres -- " } else { "" },
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("setsid")
        .args(["sh", "-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the test server's watchdog");
    server
}

impl PgServer {
    /// `pg_ctl start|stop|restart` of this server (stop and restart: fast shutdown, which
    /// ends every open connection, as a crashed or restarted server would).
    pub fn pg_ctl(&self, action: &str) {
        let mut c = as_server_user(&self.bin.join("pg_ctl"));
        c.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "30", "-m", "fast", "-o"]);
        c.arg(format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=1000",
            self.port,
            self.dir.display()
        ));
        c.arg(action);
        run(c, &format!("pg_ctl {action}"));
    }

    /// The URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://primer@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self, db: &str) -> String {
        let mut c = Command::new(self.bin.join("createdb"));
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "primer", db]);
        run(c, &format!("createdb {db}"));
        self.url(db)
    }

    /// Runs SQL as the superuser (`psql -c`), for tests that break things on purpose.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "primer", "-d", db, "-XAtc", sql])
            .output()
            .expect("psql");
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// A new, empty database on this process's server: `postgres://primer@127.0.0.1:PORT/t_<hint>_<n>`.
pub fn postgres_database(hint: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let clean: String =
        hint.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(40).collect();
    server().create_database(&format!("t_{clean}_{}", N.fetch_add(1, Ordering::SeqCst)))
}

/// The backends a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

impl TestBackend {
    /// A fresh, empty store URL for a test: a SQLite file in `dir`, or a new PostgreSQL database.
    pub fn url(self, dir: &Path, hint: &str) -> String {
        match self {
            TestBackend::Sqlite => format!("sqlite://{}", dir.join("store.db").display()),
            TestBackend::Postgres => postgres_database(hint),
        }
    }
}

/// Runs SQL statements on the database at `url` as they are, through no `Store` (tests that
/// make foreign, older or newer databases on purpose); a SQLite file is created if missing.
pub async fn raw_sql(url: &str, statements: &[&str]) {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let url = match crate::sqlite_file(url) {
        Some(file) => format!("sqlite://{}?mode=rwc", file.display()),
        None => url.to_string(),
    };
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.expect("connect");
    for s in statements {
        pool.execute(*s).await.unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    pool.close().await;
}

/// The tables at `url` (sqlx's `_sqlx_migrations` included), sorted, read without a `Store`.
pub async fn raw_tables(url: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let (url, q) = match crate::sqlite_file(url) {
        Some(file) => (
            format!("sqlite://{}?mode=ro", file.display()),
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        ),
        None => (
            url.to_string(),
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1",
        ),
    };
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.expect("connect");
    let tables = sqlx::query_scalar(q).fetch_all(&pool).await.expect("tables");
    pool.close().await;
    tables
}

/// Makes the store an older primer would have written: primer's migrations up to `version` only.
pub async fn migrate_to(url: &str, version: i64) {
    sqlx::any::install_default_drivers();
    let mut m = match crate::Backend::of(url).expect("a store URL") {
        crate::Backend::Sqlite => crate::sqlite_migrator(),
        crate::Backend::Postgres => crate::postgres_migrator(),
    };
    m.migrations = m.migrations.iter().filter(|x| x.version <= version).cloned().collect::<Vec<_>>().into();
    let url = match crate::sqlite_file(url) {
        Some(file) => format!("sqlite://{}?mode=rwc", file.display()),
        None => url.to_string(),
    };
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.expect("connect");
    m.run(&pool).await.expect("migrations");
    pool.close().await;
}

/// Each named test, `fn NAME(backend: TestBackend)`, runs as `NAME::sqlite` and
/// `NAME::postgres` (a test file says `use primer_store::on_both_backends;`).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::testing::TestBackend::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name($crate::testing::TestBackend::Postgres)
            }
        }
    )*};
}
