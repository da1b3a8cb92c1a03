//! The main job end to end at a tiny budget: `primer demo` runs its campaign, then says what
//! happened: the analysis, and the winner retrained beside the Transformer and Primer-EZ.

mod common;

#[test]
fn the_demo_ends_with_the_analysis_and_a_comparison_in_words() {
    let dir = std::env::temp_dir().join(format!("primer-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("demo.db").display());
    let out = common::primer()
        .args(["demo", "--db", &db, "--name", "demo-check", "--candidates", "6", "--budget", "2e10flops"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for expected in [
        "campaign `demo-check` finished",
        "== primer analyze demo-check --top 5",
        "squared_relu",
        "== primer compare transformer.prim primer_ez.prim candidate:",
        "the Transformer (the seed)",
        "Primer-EZ (the paper's changes)",
        "the search's best (candidate",
        "bytes of text per parameter",
        "Squared ReLU: ",
        "experiments/README.md",
        "validation loss in bits per byte",
    ] {
        assert!(stdout.contains(expected), "missing `{expected}` in:\n{stdout}");
    }
    // The campaign file the closing words point to exists.
    let named = stdout.split('`').find(|w| w.starts_with("primer search experiments/")).expect("a campaign named");
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(named.trim_start_matches("primer search "));
    assert!(file.exists(), "the demo points to {}, which does not exist", file.display());
    // The Transformer's own speedup against itself is 1.0x, and every line has a loss ± sd.
    let line = stdout.lines().find(|l| l.trim_start().starts_with("the Transformer (the seed)")).unwrap();
    assert!(line.contains(" ± ") && line.contains("1.0x"), "{line}");
    let _ = std::fs::remove_dir_all(&dir);
}
