//! `primer doctor`: exit 0 on a set-up machine, non-zero with the fixing command otherwise.

use std::path::PathBuf;
use std::process::{Command, Output};

mod common;
use common::primer;
use common::temp_dir;

/// The engine, built next to `primer` by `cargo build`/`cargo test` of the workspace (it is
/// another package: crates/primer-engine).
fn engine() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_primer")).with_file_name("primer-engine");
    assert!(exe.exists(), "{} is missing: build the workspace (`cargo test --workspace` does)", exe.display());
    exe
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn doctor_passes_after_setup() {
    let out = primer().arg("doctor").env("PRIMER_ENGINE", engine()).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "doctor failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("libtorch          2.13.0"), "{stdout}");
    assert!(stdout.contains("a74b54d1ef1dc44be145d3c93068267ab7beba0c7045a7b6a844b83ed5d7054f"), "{stdout}");
    assert!(stdout.contains("cuda build"), "{stdout}");
}

#[test]
fn doctor_json_reports_every_check() {
    let out = primer().args(["doctor", "--format", "json"]).env("PRIMER_ENGINE", engine()).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    let items: Vec<&str> = v["checks"].as_array().unwrap().iter().map(|c| c["item"].as_str().unwrap()).collect();
    for item in
        ["primer", "libtorch folder", "libtorch", "libtorch threads", "cuda", "cpu threads", "corpus", "default store"]
    {
        assert!(items.contains(&item), "missing {item} in {items:?}");
    }
}

#[test]
fn doctor_fails_with_the_fix_when_the_corpus_is_missing() {
    let out = primer()
        .arg("doctor")
        .env("PRIMER_ENGINE", engine())
        .env("PRIMER_CORPUS", "/nonexistent/corpus.txt")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("FAIL corpus") && stdout.contains("/nonexistent/corpus.txt"), "{stdout}");
    assert!(stderr.contains("fix: cd ") && stderr.contains("cargo xtask setup"), "{stderr}");
}

#[test]
fn doctor_fails_with_the_fix_when_the_libtorch_folder_is_missing() {
    let empty = temp_dir("libtorch");
    let out = primer().arg("doctor").env("PRIMER_ENGINE", engine()).env("PRIMER_LIBTORCH", &empty).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("FAIL libtorch folder"), "{stdout}");
    assert!(stderr.contains("cargo xtask setup"), "{stderr}");
}

/// A real loader failure: a copy of the engine whose RUNPATH names a folder that does not
/// exist (same length, patched in place), so libtorch_cpu.so cannot be found at start.
#[test]
fn doctor_fails_with_the_fix_when_the_engine_cannot_load_libtorch() {
    // The engine's RUNPATH is the folder its libtorch_cpu.so is loaded from.
    let info = Command::new(engine()).arg("engine-info").output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let loaded = PathBuf::from(info["loaded_from"].as_str().expect("the engine loads libtorch"));
    let runpath = loaded.parent().unwrap().display().to_string();
    let mut bytes = std::fs::read(engine()).unwrap();
    let needle = runpath.as_bytes();
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("RUNPATH string in the engine");
    let replacement: Vec<u8> = std::iter::once(b'/').chain(std::iter::repeat_n(b'x', needle.len() - 1)).collect();
    bytes[at..at + needle.len()].copy_from_slice(&replacement);
    let dir = temp_dir("engine");
    let engine = dir.join("primer-engine");
    std::fs::write(&engine, &bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&engine, std::fs::Permissions::from_mode(0o755)).unwrap();

    let out = primer().arg("doctor").env("PRIMER_ENGINE", &engine).env_remove("LD_LIBRARY_PATH").output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("FAIL libtorch") && stdout.contains("could not load libtorch"), "{stdout}");
    assert!(stdout.contains("libtorch_cpu.so") || stdout.contains("libc10.so"), "{stdout}");
    assert!(stderr.contains("cargo xtask setup"), "{stderr}");
}
