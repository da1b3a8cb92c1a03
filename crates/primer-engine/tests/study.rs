//! `primer study` end to end on a tiny study: runs stored as JSON lines, tables and plots
//! written, a second run trains nothing, a changed setting trains again, bad files are refused
//! with where.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::root;

fn study(file: &Path, extra: &[&str]) -> Output {
    common::engine().arg("study").arg(file).args(extra).output().unwrap()
}

fn write_study(dir: &Path, budgets: &str) -> PathBuf {
    let r = root();
    let text = format!(
        r#"name = "tiny"
seeds = 2
jobs = 2
campaign_candidates = 100
campaign_workers = 2
campaign_hurdles = 2
campaign_hurdle_start = 0.3

[training]
lr = 0.002
warmup = 5
eval_interval = 5
val_batches = 2

[[programs]]
name = "conv"
file = "{conv}"
role = "ablation"

[[programs]]
name = "transformer"
file = "{t}"
role = "baseline"

[[programs]]
name = "sqrelu"
file = "{sq}"
role = "paper"

[[sizes]]
name = "d16"
d_model = 16
seq_len = 16
n_layers = 1
batch = 4
budgets = [{budgets}]
"#,
        conv = r.join("experiments/landscape/programs/conv_no_attention.prim").display(),
        t = r.join("search-spaces/programs/transformer.prim").display(),
        sq = r.join("experiments/landscape/programs/squared_relu.prim").display(),
    );
    let f = dir.join("study.toml");
    std::fs::write(&f, text).unwrap();
    f
}

#[test]
fn a_tiny_study_trains_once_renders_and_resumes() {
    let dir = std::env::temp_dir().join(format!("primer-study-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let f = write_study(&dir, r#""2e8flops", "1e8flops""#);
    let out = study(&f, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // 3 programs x 2 seeds, one JSON line each, with a loss at each of the 2 budgets.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    for l in &lines {
        assert_eq!(l["budgets"].as_array().unwrap().len(), 2);
        let losses: Vec<f64> = l["losses"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(losses.iter().all(|x| x.is_finite() && *x > 0.0), "{l}");
        assert!(!l["curve"].as_array().unwrap().is_empty());
    }
    // The baseline leads the table whatever the file's order; its speedup is 1.00x.
    let md = std::fs::read_to_string(dir.join("study.md")).unwrap();
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| program") && !l.starts_with("| budget"))
        .collect();
    assert!(rows[0].starts_with("| transformer | baseline |") && rows[0].ends_with("| 1.00x |"), "{md}");
    assert!(
        md.contains("(6 of 6 runs)") && md.contains("1e8 FLOPs") && md.contains("2e8 FLOPs") && md.contains(" ± "),
        "{md}"
    );
    // The ranking table: each point with the runs' tau and the 3 programs' means' tau; the
    // hurdles after 0.3 of the budget sit at 0.4 and 0.6 of it (equal-compute bands).
    assert!(md.contains("| point | FLOPs | fraction | runs | tau | programs | tau of means |"), "{md}");
    for (what, fraction) in [("hurdle 1 (start 0.3)", "0.400"), ("hurdle 2 (start 0.3)", "0.600")] {
        let row = md.lines().find(|l| l.starts_with(&format!("| {what} |"))).unwrap_or_else(|| panic!("{md}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!((cells[3], cells[4], cells[6]), (fraction, "6", "3"), "{row}");
        let tau: f64 = cells[7].parse().unwrap();
        assert!((-1.0..=1.0).contains(&tau), "{row}");
    }
    assert!(dir.join("d16.svg").exists() && dir.join("study.csv").exists());
    assert_eq!(std::fs::read_to_string(dir.join("study.csv")).unwrap().lines().count(), 1 + 3 * 2);
    // Same settings: nothing trained again, the same table.
    let again = study(&f, &[]);
    assert!(String::from_utf8_lossy(&again.stderr).is_empty(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(std::fs::read_to_string(dir.join("results.jsonl")).unwrap().lines().count(), 6);
    assert_eq!(std::fs::read_to_string(dir.join("study.md")).unwrap(), md);
    // --render trains nothing even when runs are missing.
    let f2 = write_study(&dir, r#""1e8flops", "3e8flops""#);
    let rendered = study(&f2, &["--render"]);
    assert!(rendered.status.success());
    assert!(std::fs::read_to_string(dir.join("study.md")).unwrap().contains("(0 of 6 runs)"));
    assert_eq!(std::fs::read_to_string(dir.join("results.jsonl")).unwrap().lines().count(), 6);
    // Changed budgets: every run is trained again (old lines stay, the new ones win).
    let out = study(&f2, &[]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(dir.join("results.jsonl")).unwrap().lines().count(), 12);
    assert!(std::fs::read_to_string(dir.join("study.md")).unwrap().contains("(6 of 6 runs)"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_study_files_say_where() {
    let dir = std::env::temp_dir().join(format!("primer-study-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let f = write_study(&dir, r#""2e8flops""#);
    let text = std::fs::read_to_string(&f).unwrap();
    for (from, to, expected) in [
        ("seeds = 2", "seeds = 2\ncolour = 1", "study.toml:3:1: unknown field `colour`"),
        ("role = \"baseline\"", "role = \"paper\"", "exactly one program needs role = \"baseline\", found 0"),
        ("budgets = [\"2e8flops\"]", "budgets = [\"200steps\"]", "a study's budgets are FLOPs"),
        ("d_model = 16", "d_model = 12", "d_model must be a positive multiple of 8"),
        ("seeds = 2", "seeds = 0", "`seeds` must be at least 1"),
        ("campaign_hurdle_start = 0.3", "campaign_hurdle_start = 1.0", "`campaign_hurdle_start` must be a fraction"),
        ("batch = 4", "batch = 4\ntokenizer = \"bpe:7\"", "size `d16`: tokenizer `bpe:7`"),
        ("batch = 4", "batch = 4\nlrs = [0.001, -1.0]", "`lrs` must list positive rates"),
        ("batch = 4", "batch = 4\nprograms = [\"conv\"]", "`programs` must include the baseline"),
        ("batch = 4", "batch = 4\nprograms = [\"transformer\", \"nope\"]", "names `nope`, which is not a program"),
    ] {
        std::fs::write(&f, text.replacen(from, to, 1)).unwrap();
        let out = study(&f, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expected), "{from} -> {to}: {err}");
        assert!(err.contains("study.toml:"), "{err}");
    }
    assert!(!dir.join("results.jsonl").exists(), "nothing trained");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A learning-rate sweep, a BPE size and the spread validation set: each program is compared
/// at its best rate; a run two sizes ask for is trained once; losses are bits per byte, with
/// the validation set's sampling error beside the seed spread.
#[test]
fn sweeps_tokenizers_and_the_validation_set_in_a_study() {
    let dir = std::env::temp_dir().join(format!("primer-study-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let f = write_study(&dir, r#""2e8flops""#);
    let text =
        std::fs::read_to_string(&f).unwrap().replace("val_batches = 2", "val_batches = 2\nvalidation_bytes = 4096")
            + r#"
[[sizes]]
name = "d16-lr"
d_model = 16
seq_len = 16
n_layers = 1
batch = 4
budgets = ["2e8flops"]
lrs = [0.002, 0.02]
programs = ["transformer", "conv"]

[[sizes]]
name = "d16-bpe"
tokenizer = "bpe:300"
d_model = 16
seq_len = 16
n_layers = 1
batch = 4
budgets = ["2e8flops"]
programs = ["transformer"]
"#;
    std::fs::write(&f, text).unwrap();
    let out = study(&f, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // d16: 3 programs x 2 seeds; the sweep's rate 0.002 is d16's runs, so only 0.02 trains
    // (2 programs x 2 seeds); the BPE size: the baseline, 2 seeds.
    assert_eq!(records.len(), 6 + 4 + 2, "{records:?}");
    for r in &records {
        assert!(r["validation_error"].as_f64().unwrap() > 0.0, "{r}");
    }
    let bpe: Vec<&serde_json::Value> = records.iter().filter(|r| r["size"] == "d16-bpe").collect();
    assert!(bpe.iter().all(|r| r["bytes_per_token"].as_f64().unwrap() > 1.3), "{bpe:?}");
    let md = std::fs::read_to_string(dir.join("study.md")).unwrap();
    assert!(md.contains("bits per byte") && md.contains("val. se"), "{md}");
    // The BPE row: bits per byte = mean over seeds of loss / ln 2 / bytes per token.
    let bits: Vec<f64> = bpe
        .iter()
        .map(|r| r["losses"][0].as_f64().unwrap() / std::f64::consts::LN_2 / r["bytes_per_token"].as_f64().unwrap())
        .collect();
    let mean = (bits[0] + bits[1]) / 2.0;
    let section = &md[md.find("### d16-bpe").unwrap()..];
    assert!(section.contains("bpe:300") && section.contains(&format!("| {mean:.3} ± ")), "{mean:.3}: {section}");
    // The sweep's table: each program at the rate with its lower mean loss.
    let rate_loss = |program: &str, size: &str| -> f64 {
        let v: Vec<f64> = records
            .iter()
            .filter(|r| r["program"] == program && r["size"] == size)
            .map(|r| r["losses"][0].as_f64().unwrap())
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let sweep = &md[md.find("### d16-lr:").unwrap()..];
    let sweep = &sweep[..sweep.find("![").unwrap()];
    for program in ["transformer", "conv"] {
        let (slow, fast) = (rate_loss(program, "d16"), rate_loss(program, "d16-lr@lr=0.02"));
        let best = if slow <= fast { "0.002" } else { "0.02" };
        let row = sweep.lines().find(|l| l.starts_with(&format!("| {program} |"))).unwrap();
        assert!(row.contains(&format!("| {best} |")), "{program}: {slow} at 0.002, {fast} at 0.02: {row}");
    }
    assert!(!sweep.contains("| sqrelu |"), "only the programs the size names: {sweep}");
    let _ = std::fs::remove_dir_all(&dir);
}
