//! Malformed `.prim` files (tests/malformed/*.prim): each gives exactly the error that
//! tests/malformed/expected.txt names for it (line, column, message), and none panics.

use std::collections::BTreeMap;
use std::path::PathBuf;

use primer_dsl::text::parse;

#[test]
fn every_malformed_file_gives_its_exact_error() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let expected: BTreeMap<String, String> = std::fs::read_to_string(dir.join("expected.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, err) = l.split_once(": ").expect("NAME: LINE:COL: message");
            (name.to_string(), err.to_string())
        })
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "prim"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "only {} malformed files", files.len());
    let mut mismatches = Vec::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let got = match std::panic::catch_unwind(|| parse(&text, &format!("{name}.prim"))) {
            Err(_) => "PANIC".to_string(),
            Ok(Ok(_)) => "parsed without error".to_string(),
            Ok(Err(e)) => {
                assert_eq!(e.file, format!("{name}.prim"));
                format!("{}:{}: {}", e.line, e.column, e.message)
            }
        };
        if expected.get(&name) != Some(&got) {
            mismatches.push(format!("{name}: {got}"));
        }
    }
    assert!(mismatches.is_empty(), "got, for files whose expectation differs:\n{}", mismatches.join("\n"));
    assert_eq!(expected.len(), files.len(), "expected.txt names a file that does not exist");
}

/// A file saved with a UTF-8 byte-order mark (some editors write one) parses as without it,
/// and its errors are at the same line and column (it was refused at 1:1 before).
#[test]
fn a_byte_order_mark_is_skipped() {
    let programs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces/programs");
    let text = std::fs::read_to_string(programs.join("transformer.prim")).unwrap();
    let with_bom = format!("\u{feff}{text}");
    assert_eq!(parse(&with_bom, "t.prim").unwrap(), parse(&text, "t.prim").unwrap());
    let json = primer_dsl::text::to_json(&parse(&text, "t.prim").unwrap());
    assert_eq!(
        primer_dsl::text::from_json(&format!("\u{feff}{json}"), "t.json").unwrap(),
        parse(&text, "t.prim").unwrap()
    );
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let bad = std::fs::read_to_string(dir.join("01-unknown-op.prim")).unwrap();
    let (a, b) = (parse(&bad, "x").unwrap_err(), parse(&format!("\u{feff}{bad}"), "x").unwrap_err());
    assert_eq!((a.line, a.column, a.message), (b.line, b.column, b.message));
    let space = std::fs::read_to_string(programs.join("../primer-cpu.toml")).unwrap();
    assert_eq!(
        primer_dsl::SearchSpace::from_toml(&format!("\u{feff}{space}"), "s.toml").unwrap(),
        primer_dsl::SearchSpace::from_toml(&space, "s.toml").unwrap()
    );
}
