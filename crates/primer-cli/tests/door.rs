//! Mistakes in flags are the user's, not the program's: each is refused at the door with exit
//! status 2 and a message naming the flag, before anything is loaded, trained or opened. And
//! commands that only read never write: `primer status` on another application's SQLite file
//! refuses it, naming its tables, and leaves every byte as it was.

use std::path::PathBuf;
use std::process::{Command, Output};

mod common;

fn primer(args: &[&str]) -> Output {
    common::primer().args(args).env("PRIMER_DB", "sqlite:///nonexistent/primer.db").output().unwrap()
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    // A program file that does not exist: if any of these got past the flags, the error would
    // be about the file (exit 1), not the flag.
    let missing = "/nonexistent/x.prim";
    let cases: &[(&[&str], &str, &str)] = &[
        (&["train", missing, "--batch", "0"], "--batch", "at least 1"),
        (&["train", missing, "--seq-len", "0"], "--seq-len", "at least 1"),
        (&["train", missing, "--d-model", "0"], "--d-model", "at least 1"),
        (&["train", missing, "--d-model", "7"], "--d-model", "not a multiple of 8"),
        (&["train", missing, "--n-layers", "0"], "--n-layers", "at least 1"),
        (&["train", missing, "--lr", "0"], "--lr", "positive"),
        (&["train", missing, "--lr=-1e-3"], "--lr", "positive"),
        (&["train", missing, "--lr", "inf"], "--lr", "positive"),
        (&["train", missing, "--eval-interval", "0"], "--eval-interval", "at least 1"),
        (&["train", missing, "--threads", "0"], "--threads", "at least 1"),
        (&["train", missing, "--budget", "0steps"], "--budget", "positive"),
        (&["train", missing, "--budget", "0.5steps"], "--budget", "whole number"),
        (&["check", missing, "--d-model", "12"], "--d-model", "not a multiple of 8"),
        (&["compare", missing, missing, "--budgets", "100steps"], "--budgets", "FLOPs or seconds"),
        (&["compare", missing, missing, "--budgets", "1e9flops,60s"], "--budgets", "of one kind"),
        (&["compare", missing, missing, "--budgets", "1e9flops", "--seeds", "0"], "--seeds", "at least 1"),
        (&["rerun", "c", "--budget", "1e9flops", "--seeds", "0"], "--seeds", "at least 1"),
        (&["rerun", "c", "--budget", "1e9flops", "--top", "0"], "--top", "at least 1"),
        (&["top", "c", "-k", "0"], "-k", "at least 1"),
        (&["analyze", "c", "--top", "0"], "--top", "at least 1"),
        (&["search", missing, "--candidates", "0"], "--candidates", "at least 1"),
        (&["worker", "--campaign", "c", "--wait=-1"], "--wait", "0 or more"),
        (&["worker", "--campaign", "c", "--simulate", "0"], "--simulate", "positive"),
        (&["status", "--db", "mysql://h/db"], "--db", "supported: sqlite://PATH, postgres://"),
        (&["status", "--db", "sqlite://"], "--db", "no file named"),
        (&["store", "copy", "sqlite://a.db", "redis://h"], "<TO>", "supported"),
        (&["bench", "coordination", "--births", "5"], "--births", "at least 10"),
        (&["bench", "campaign", "--splits", "2y1"], "--splits", "expected WORKERSxTHREADS"),
        (&["bench", "campaign", "--splits", "0x2"], "--splits", "at least 1"),
        (&["bench", "train", "--sizes", "huge"], "--sizes", "huge"),
    ];
    let mut wrong = Vec::new();
    for (args, flag, says) in cases {
        let out = primer(args);
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(2) || !err.contains(flag) || !err.contains(says) {
            wrong.push(format!("primer {}: exit {:?}: {err}", args.join(" "), out.status.code()));
        }
    }
    assert!(wrong.is_empty(), "not refused at the door:\n{}", wrong.join("\n"));
}

#[test]
fn reading_another_applications_database_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("primer-door-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("notes.db");
    // A SQLite database of another application, written with the sqlite3 file format by hand
    // through primer_store's test helper (a plain sqlx connection, no primer schema).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("sqlite://{}", db.display());
    rt.block_on(primer_store::testing::raw_sql(
        &url,
        &[
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
            "INSERT INTO notes (body) VALUES ('keep me')",
            "CREATE TABLE campaigns (x)",
        ],
    ));
    let before = std::fs::read(&db).unwrap();
    for args in [
        vec!["status", "--db", &url],
        vec!["top", "c", "--db", &url],
        vec!["show", "1", "--db", &url],
        vec!["lineage", "1", "--db", &url],
        vec!["analyze", "c", "--db", &url],
    ] {
        let out = primer(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("not a primer store") && err.contains("tables campaigns, notes"), "{args:?}: {err}");
        assert_eq!(err.matches("not a primer store").count(), 1, "said more than once: {err}");
    }
    assert_eq!(std::fs::read(&db).unwrap(), before, "a read command wrote into the file");
    let mut files: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["notes.db"], "files appeared beside it");
    // A missing store is not created by a read either.
    let missing = format!("sqlite://{}", dir.join("none.db").display());
    let out = primer(&["status", "--db", &missing]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no store at"));
    assert!(!dir.join("none.db").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A store that cannot be reached answers at once: each read command below fails within
/// [`primer_store::READ_PATIENCE`] (10 s), non-zero, saying the cause and where, on the real
/// PostgreSQL server the tests start (a port nothing listens on, a wrong password, a missing
/// database, a host that does not exist) and for SQLite (a folder that does not exist, a file
/// that cannot be read); a command that writes (`search`) fails as fast on a refused port.
#[test]
fn unreachable_stores_answer_at_once_with_the_cause() {
    use primer_store::testing::{free_port, is_root, server};
    let pg = server();
    let port = pg.port;
    // A role that must give a password (scram), on this process's server: the trust rules the
    // test servers use would take any password.
    pg.psql(
        "postgres",
        "DO $$BEGIN CREATE ROLE locked LOGIN PASSWORD 'right'; EXCEPTION WHEN duplicate_object THEN NULL; END$$",
    );
    let hba = pg.dir.join("data/pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).unwrap();
    if !rules.contains("locked") {
        std::fs::write(&hba, format!("host all locked 127.0.0.1/32 scram-sha-256\n{rules}")).unwrap();
        pg.psql("postgres", "SELECT pg_reload_conf()");
    }
    let dir = std::env::temp_dir().join(format!("primer-door-reach-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let closed = free_port();
    let unreadable = dir.join("unreadable.db");
    std::fs::write(&unreadable, b"").unwrap();
    std::fs::set_permissions(&unreadable, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let at = format!("127.0.0.1:{port}");
    let cases: Vec<(String, Vec<String>)> = [
        (
            format!("postgres://nobody@127.0.0.1:{closed}/x"),
            vec!["connection refused at".into(), format!("127.0.0.1:{closed}")],
        ),
        (
            format!("postgres://locked:wrong@{at}/postgres"),
            vec!["authentication failed for user `locked`".into(), at.clone()],
        ),
        (format!("postgres://primer@{at}/no_such_db"), vec!["database `no_such_db` does not exist".into(), at.clone()]),
        (
            "postgres://primer@no-such-host.invalid:5432/x".into(),
            vec!["unknown host `no-such-host.invalid`".into(), "5432".into()],
        ),
        (format!("sqlite://{}/none/store.db", dir.display()), vec!["the folder".into(), "/none does not exist".into()]),
        (
            format!("sqlite://{}", unreadable.display()),
            vec!["cannot read".into(), "unreadable.db".into(), "ermission denied".into()],
        ),
    ]
    .into();
    let mut wrong = Vec::new();
    for (url, says) in &cases {
        for args in [vec!["status", "--db", url.as_str()], vec!["top", "c", "--db", url.as_str()]] {
            let mut cmd = if is_root() && url.contains("unreadable") {
                // root reads any file: ask as nobody.
                let mut c = Command::new("setpriv");
                c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_primer")]);
                c
            } else {
                common::primer()
            };
            let started = std::time::Instant::now();
            let out = cmd.args(&args).output().unwrap();
            let took = started.elapsed();
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.success() || took > primer_store::READ_PATIENCE || !says.iter().all(|s| err.contains(s)) {
                wrong.push(format!("primer {}: exit {:?} after {took:?}: {err}", args.join(" "), out.status.code()));
            }
        }
    }
    // A command that writes: a refused port at start-up is not waited for.
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../experiments/demo.toml");
    let started = std::time::Instant::now();
    let out = common::primer()
        .arg("search")
        .arg(&config)
        .args(["--db", &format!("postgres://nobody@127.0.0.1:{closed}/x")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || started.elapsed() > primer_store::READ_PATIENCE || !err.contains("connection refused at")
    {
        wrong.push(format!("primer search: exit {:?} after {:?}: {err}", out.status.code(), started.elapsed()));
    }
    // And a SQLite store in a folder that does not exist, which a writer would create files in.
    let missing = format!("sqlite://{}/none/store.db", dir.display());
    let out = common::primer().arg("search").arg(&config).args(["--db", &missing]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !err.contains("/none does not exist") || dir.join("none").exists() {
        wrong.push(format!("primer search into a missing folder: exit {:?}: {err}", out.status.code()));
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A command that writes, whose store goes away while it runs (a server stopped): it says on
/// stderr at once that the connection was lost, that it retries, and until when; then it gives
/// up once its retry window (`PRIMER_STORE_RETRY_SECONDS`) is over, non-zero.
#[test]
fn a_writer_says_what_it_retries_and_until_when() {
    let server = primer_store::testing::start();
    let url = server.create_database("lost");
    // A worker waiting for a campaign that does not exist yet polls the store.
    let mut worker = common::primer()
        .args(["worker", "--db", &url, "--campaign", "later", "--wait", "8", "--simulate", "1e9"])
        .env("PRIMER_STORE_RETRY_SECONDS", "3")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(worker.try_wait().unwrap().is_none(), "the worker waits for its campaign");
    server.pg_ctl("stop");
    let started = std::time::Instant::now();
    let out = worker.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "took {:?}: {err}", started.elapsed());
    let said = err.lines().find(|l| l.contains("connection lost")).unwrap_or_else(|| panic!("{err}"));
    assert!(said.contains(&url) && said.contains("retrying until") && said.contains(" UTC (3 s from now)"), "{said}");
}
