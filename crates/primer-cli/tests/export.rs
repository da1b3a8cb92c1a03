//! `primer export` and `primer compare` by candidate id, on a real stored campaign seeded with
//! the Transformer and Primer-EZ: the exported model.py + weights.safetensors, loaded by
//! Python's torch, give the Rust model's logits (within a bound derived from
//! model.py's own rounding error, see check_export.py) for both seeds and evolved candidates,
//! and the TorchScript module loads and agrees; weights are trained once and then read from the
//! store; nothing is overwritten without --force; bad input is refused, saying what.
//!
//! Needs a Python with torch and safetensors (`cargo xtask setup --python`, which `cargo xtask
//! test` runs; or `$PRIMER_PYTHON`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use primer_store::{HistoryRow, Outcome, Store};

mod common;
use common::root;

fn python() -> PathBuf {
    std::env::var_os("PRIMER_PYTHON").map(PathBuf::from).unwrap_or_else(|| root().join(".venv/bin/python"))
}

fn primer(args: &[&str]) -> Output {
    common::primer().args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = primer(args);
    assert!(
        out.status.success(),
        "primer {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn fails(args: &[&str]) -> String {
    let out = primer(args);
    assert!(!out.status.success(), "primer {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A 14-candidate campaign seeded with transformer.prim and primer_ez.prim.
fn stored_campaign(dir: &Path) -> (String, Vec<HistoryRow>) {
    let r = root();
    let text = format!(
        r#"name = "exports"
seed = 5
search_space = "{space}"
seeds = ["{t}", "{ez}"]
candidates = 14
workers = 2

[model]
d_model = 32
seq_len = 16
n_layers = 2

[training]
budget = "25steps"
batch = 4
lr = 0.002
warmup = 5
eval_interval = 10
val_batches = 2
threads = 1

[evolution]
population = 6
tournament = 3

[hurdles]
count = 0
min_predecessors = 0
"#,
        space = r.join("search-spaces/primer-cpu.toml").display(),
        t = r.join("search-spaces/programs/transformer.prim").display(),
        ez = r.join("search-spaces/programs/primer_ez.prim").display(),
    );
    let config = dir.join("campaign.toml");
    std::fs::write(&config, text).unwrap();
    let db = format!("sqlite://{}", dir.join("store.db").display());
    ok(&["search", config.to_str().unwrap(), "--db", &db]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let history = rt.block_on(async {
        let s = Store::open(&db).await.unwrap();
        let c = s.campaign("exports").await.unwrap().unwrap();
        s.history(c.id).await.unwrap()
    });
    (db, history)
}

#[test]
fn exports_agree_with_python_torch_and_compare_takes_candidate_ids() {
    let dir = std::env::temp_dir().join(format!("primer-export-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (db, history) = stored_campaign(&dir);

    // The two seeds, and the evolved candidates that trained to the end (up to 3).
    let transformer = history.iter().find(|r| r.seed_index == Some(0) && r.parent.is_none()).unwrap();
    let primer_ez = history.iter().find(|r| r.seed_index == Some(1) && r.parent.is_none()).unwrap();
    let evolved: Vec<&HistoryRow> =
        history.iter().filter(|r| r.parent.is_some() && r.outcome == Some(Outcome::Finished)).take(3).collect();
    assert!(!evolved.is_empty(), "some evolved candidate finished: {history:?}");
    let mut chosen = vec![transformer, primer_ez];
    chosen.extend(evolved);

    let mut dirs = Vec::new();
    for r in &chosen {
        let out = dir.join(format!("c{}", r.candidate));
        let said = ok(&["export", &r.candidate.to_string(), "--db", &db, "--out", out.to_str().unwrap()]);
        assert!(said.contains("trained now, and stored for later exports"), "{said}");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("export.json")).unwrap()).unwrap();
        // The same settings and seed as its worker (one thread): the same validation loss.
        let (again, searched) = (manifest["weights_val_loss"].as_f64().unwrap(), r.fitness.unwrap());
        assert!(
            (again - searched).abs() < 1e-6,
            "candidate {}: export trained to {again}, the search measured {searched}",
            r.candidate
        );
        // program.prim is the stored program.
        let text = std::fs::read_to_string(out.join("program.prim")).unwrap();
        let p = primer_dsl::text::parse(&text, "program.prim").unwrap();
        assert_eq!(primer_dsl::canonical_hash(&p).to_string(), manifest["program_hash"].as_str().unwrap());
        assert_eq!(r.program, manifest["program_hash"].as_str().unwrap());
        let json = std::fs::read_to_string(out.join("program.json")).unwrap();
        assert_eq!(primer_dsl::text::from_json(&json, "program.json").unwrap(), p);
        dirs.push(out);
    }

    // Python's torch: model.py + weights give the Rust logits; the TorchScript module too.
    let probe = Command::new(python()).args(["-c", "import torch, safetensors"]).output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "{} lacks torch: run `cargo xtask setup --python`",
        python().display()
    );
    let script = root().join("crates/primer-torch/tests/check_export.py");
    let out = Command::new(python()).arg(script).args(&dirs).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), dirs.len());
    // Every logit of primer's model and of the traced module (also on a batch of 3) within
    // check_export.py's bound, derived from this program on this machine: no farther from
    // model.py run in float64 than four times model.py's own float32 rounding error (plus one
    // rounding of the output each), since kernels sum in orders that differ by CPU.
    for (r, l) in chosen.iter().zip(&lines) {
        assert!(l.get("error").is_none(), "candidate {}: {l}", r.candidate);
        assert_eq!(l["keys_match"], true, "{l}");
        assert_eq!(l["reader_matches"], true, "{l}");
        assert_eq!(l["not_close"], 0, "candidate {}: {l}", r.candidate);
        assert_eq!(l["ts_not_close"], 0, "candidate {}: {l}", r.candidate);
        assert_eq!(l["ts_batch3"], 0, "candidate {}: {l}", r.candidate);
        assert_eq!(l["shape"], serde_json::json!([2, 16, 256]));
        // The bound is a rounding error's size, not a loose one: at logits of a few units in
        // float32 it stays far below what a wrong weight or op would move.
        assert!(l["bound"].as_f64().unwrap() < 1e-2, "candidate {}: {l}", r.candidate);
    }
    // model.py checks itself against check.safetensors.
    let selfcheck = Command::new(python()).arg(dirs[1].join("model.py")).output().unwrap();
    let said = String::from_utf8_lossy(&selfcheck.stdout);
    assert!(
        selfcheck.status.success() && said.contains("(ok, bound"),
        "{said}{}",
        String::from_utf8_lossy(&selfcheck.stderr)
    );
    // Primer-EZ's model.py reads like the paper: depthwise convolutions and a squared ReLU.
    let ez = std::fs::read_to_string(dirs[1].join("model.py")).unwrap();
    assert!(
        ez.contains("self.q = DepthwiseConv(8, 4, 3)  # q = DCONV3(q_proj)") && ez.contains("sq = relu.square()"),
        "{ez}"
    );

    // Existing files are kept without --force, and nothing is written.
    let first = &dirs[0];
    let before = std::fs::read(first.join("weights.safetensors")).unwrap();
    let err = fails(&["export", &transformer.candidate.to_string(), "--db", &db, "--out", first.to_str().unwrap()]);
    assert!(err.contains("already exist") && err.contains("--force"), "{err}");
    // With --force the stored weights are used: the same bytes, no training.
    let said =
        ok(&["export", &transformer.candidate.to_string(), "--db", &db, "--out", first.to_str().unwrap(), "--force"]);
    assert!(said.contains("read from the store") && !said.contains("training at"), "{said}");
    assert_eq!(std::fs::read(first.join("weights.safetensors")).unwrap(), before);

    // Bad input says what.
    let err = fails(&["export", "9999", "--db", &db, "--out", dir.join("none").to_str().unwrap()]);
    assert!(err.contains("no candidate 9999"), "{err}");
    let t = root().join("search-spaces/programs/transformer.prim");
    let err = fails(&["export", t.to_str().unwrap(), "--out", dir.join("file").to_str().unwrap()]);
    assert!(err.contains("--budget"), "{err}");
    assert!(!dir.join("file").join("model.py").exists(), "nothing written");
    let err = fails(&["export", "1", "--db", &db, "--out", dir.join("x").to_str().unwrap(), "--budget", "10steps"]);
    assert!(err.contains("--budget is for program files"), "{err}");
    let err = fails(&["export", "nothing.prim", "--out", dir.join("x").to_str().unwrap()]);
    assert!(err.contains("neither a candidate id nor a program file"), "{err}");
    let err = fails(&["export", "1", "--db", &db, "--out", dir.join("x").to_str().unwrap(), "--format", "onnx"]);
    assert!(err.contains("onnx"), "{err}");
    // A program file without weights needs no budget.
    let file_out = dir.join("file");
    ok(&[
        "export",
        t.to_str().unwrap(),
        "--out",
        file_out.to_str().unwrap(),
        "--format",
        "prim,json,pytorch",
        "--d-model",
        "32",
    ]);
    assert!(file_out.join("model.py").exists() && !file_out.join("weights.safetensors").exists());

    // compare names programs by candidate id.
    let (a, b) = (transformer.candidate.to_string(), primer_ez.candidate.to_string());
    let svg = dir.join("c.svg");
    let out = ok(&[
        "compare",
        &a,
        &b,
        "--db",
        &db,
        "--budgets",
        "2e8flops,4e8flops",
        "--seeds",
        "1",
        "--d-model",
        "32",
        "--seq-len",
        "16",
        "--n-layers",
        "1",
        "--batch",
        "4",
        "--warmup",
        "5",
        "--eval-interval",
        "5",
        "--svg",
        svg.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let start = out.find('{').unwrap();
    let v: serde_json::Value = serde_json::from_str(&out[start..out.rfind('}').unwrap() + 1]).unwrap();
    assert_eq!(v["rows"][0]["program"], format!("candidate {a}"));
    assert_eq!(v["rows"][1]["program"], format!("candidate {b}"));
    assert!(svg.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A campaign on byte-level BPE tokens: the tokenizer is trained at set-up and stored with the
/// campaign (resuming from the same file finds the same one), every loss is also given in bits
/// per byte of the campaign's validation set, and an export carries tokenizer.json, which
/// Python's `tokenizers` reads to encode text, run model.py on the ids and decode.
#[test]
fn a_bpe_campaign_reports_bits_per_byte_and_exports_its_tokenizer() {
    let dir = std::env::temp_dir().join(format!("primer-bpe-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let r = root();
    let text = format!(
        r#"name = "bpe"
seed = 3
search_space = "{space}"
seeds = ["{t}"]
candidates = 6
workers = 2

[model]
d_model = 32
seq_len = 16
n_layers = 1

[training]
budget = "20steps"
batch = 4
lr = 0.002
warmup = 5
eval_interval = 10
val_batches = 2
threads = 1
tokenizer = "bpe:512"
validation_bytes = 4096

[evolution]
population = 3
tournament = 2

[hurdles]
count = 0
min_predecessors = 0
"#,
        space = r.join("search-spaces/primer-cpu.toml").display(),
        t = r.join("search-spaces/programs/transformer.prim").display(),
    );
    let config = dir.join("campaign.toml");
    std::fs::write(&config, &text).unwrap();
    let db = format!("sqlite://{}", dir.join("store.db").display());
    ok(&["search", config.to_str().unwrap(), "--db", &db]);
    // The same file again: the tokenizer trains to the same file, so the campaign resumes.
    let again = ok(&["search", config.to_str().unwrap(), "--db", &db]);
    assert!(!again.contains("differs"), "{again}");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (spec, history) = rt.block_on(async {
        let s = Store::open(&db).await.unwrap();
        let c = s.campaign("bpe").await.unwrap().unwrap();
        let spec: serde_json::Value = serde_json::from_str(&c.config).unwrap();
        (spec, s.history(c.id).await.unwrap())
    });
    assert_eq!(spec["model"]["vocab"], 512);
    assert_eq!(spec["tokenizer"]["name"], "bpe:512");
    let v = &spec["validation"];
    assert!(v["bytes"].as_u64().unwrap() >= 4096, "{v}");
    let per_token = v["bytes"].as_f64().unwrap() / v["tokens"].as_f64().unwrap();
    assert!(per_token > 1.5, "BPE tokens stand for more than a byte: {per_token}");

    // top's bits per byte: nats per token / ln 2 / the validation set's bytes per token.
    let csv = ok(&["top", "bpe", "--db", &db, "-k", "3", "--format", "csv"]);
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert!(!rows.is_empty(), "{csv}");
    for row in &rows {
        let (f, bpb): (f64, f64) = (row[3].parse().unwrap(), row[4].parse().unwrap());
        assert!((bpb - f / std::f64::consts::LN_2 / per_token).abs() < 1e-9, "{row:?}");
    }
    let best = history
        .iter()
        .filter(|r| r.fitness.is_some())
        .min_by(|a, b| a.fitness.partial_cmp(&b.fitness).unwrap())
        .unwrap();
    let shown = ok(&["show", &best.candidate.to_string(), "--db", &db]);
    let want = format!("({:.4} bits per byte)", best.fitness.unwrap() / std::f64::consts::LN_2 / per_token);
    assert!(shown.contains("nats per token") && shown.contains(&want), "{shown}");

    // The export carries the tokenizer; Python encodes, runs the model and decodes.
    let out = dir.join("export");
    ok(&["export", &best.candidate.to_string(), "--db", &db, "--out", out.to_str().unwrap()]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("export.json")).unwrap()).unwrap();
    assert_eq!(manifest["tokenizer"], "bpe:512");
    let file = std::fs::read(out.join("tokenizer.json")).unwrap();
    assert_eq!(spec["tokenizer"]["json"].as_str().unwrap().as_bytes(), file.as_slice());
    assert_eq!(manifest["tokenizer_sha256"], spec["tokenizer"]["sha256"]);
    let sample = "KING HENRY. Once more unto the breach, dear friends, once more;";
    let py = Command::new(python())
        .arg(root().join("crates/primer-cli/tests/bpe_export.py"))
        .arg(&out)
        .arg(sample)
        .output()
        .unwrap();
    assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    let got: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&py.stdout).trim()).unwrap();
    assert_eq!(got["vocab"], 512);
    assert_eq!(got["round_trip"], true, "{got}");
    assert!(got["tokens"].as_u64().unwrap() < sample.len() as u64, "{got}");
    assert_eq!(got["shape"][2], 512, "{got}");
    assert_eq!(got["finite"], true);
    // 20 steps learn little, but the model is a model of these tokens: below a uniform guess.
    assert!(got["nats_per_token"].as_f64().unwrap() < (512f64).ln(), "{got}");

    // A tokenizer that cannot be is refused where it is written.
    std::fs::write(&config, text.replace("\"bpe:512\"", "\"bpe:12\"")).unwrap();
    let err = fails(&["search", config.to_str().unwrap(), "--db", &db]);
    assert!(
        err.contains("campaign.toml:") && err.contains("`training.tokenizer`") && err.contains("`bpe:12`"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
