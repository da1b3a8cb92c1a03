//! What the integration tests of `primer-engine` share.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `primer-engine` executable under test; it takes the words `primer` hands it (`primer
/// study FILE` runs `primer-engine study FILE`).
pub fn engine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_primer-engine"))
}
