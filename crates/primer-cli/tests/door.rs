//! Mistakes in flags are the user's, not the program's: each is refused at the door with exit
//! status 2 and a message naming the flag, before anything is loaded, trained or opened. And
//! commands that only read never write: `primer status` on another application's SQLite file
//! refuses it, naming its tables, and leaves every byte as it was.

use std::process::{Command, Output};

fn primer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_primer"))
        .args(args)
        .env("PRIMER_DB", "sqlite:///nonexistent/primer.db")
        .output()
        .unwrap()
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
