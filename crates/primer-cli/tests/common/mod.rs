//! What the integration tests of `primer` share (each test binary includes this module; not
//! every one uses every helper).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `primer` executable under test.
pub fn primer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_primer"))
}

/// A fresh, empty folder for one test: `primer-test-NAME-PID` in the temp folder.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("primer-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A reference program of search-spaces/programs, as a path string.
pub fn program(name: &str) -> String {
    root().join("search-spaces/programs").join(name).display().to_string()
}

/// A runtime for the store's async reads.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A campaign's candidates with their results, in birth order.
pub fn history(db: &str, name: &str) -> Vec<primer_store::HistoryRow> {
    rt().block_on(async {
        let s = primer_store::Store::open(db).await.unwrap();
        let c = s.campaign(name).await.unwrap().unwrap();
        s.history(c.id).await.unwrap()
    })
}
