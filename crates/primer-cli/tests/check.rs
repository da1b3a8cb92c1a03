//! `primer check`, `primer diff`, `primer train`, `primer bench dsl` and `primer bench evolve`
//! on the reference programs and on bad input.

use std::process::Output;

mod common;

fn primer(args: &[&str]) -> Output {
    common::primer().args(args).output().unwrap()
}

fn program(name: &str) -> String {
    common::program(name)
}

fn temp_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("primer-check-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn check_accepts_the_three_reference_programs() {
    for name in ["transformer.prim", "primer_ez.prim", "primer.prim"] {
        let out = primer(&["check", &program(name)]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("valid (d_model 128, seq_len 128, 2 layers)"), "{stdout}");
        assert!(stdout.contains("attention_head (8 copies)"), "{stdout}");
    }
    // 12·D² + 13·D per layer at D = 128.
    let out = primer(&["check", &program("transformer.prim")]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("layer: 198,272 parameters"));
}

#[test]
fn check_json_has_the_trace_and_costs() {
    let out = primer(&["check", &program("primer_ez.prim"), "--d-model", "64", "--seq-len", "32", "--format", "json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["cost"]["layer_params"], 12 * 64 * 64 + 13 * 64 + 9 * 64);
    let trace = v["trace"].as_array().unwrap();
    let dconv: Vec<&serde_json::Value> =
        trace.iter().filter(|r| r["instruction"].as_str().unwrap().starts_with("DCONV3")).collect();
    assert_eq!(dconv.len(), 3);
    assert!(dconv.iter().all(|r| r["shape"] == "[T,8]" && r["params"] == 24 && r["copies"] == 8));
}

#[test]
fn check_rejects_an_invalid_program_with_file_line_and_reason() {
    let file = temp_file(
        "invalid.prim",
        "bank {\n dim d = 8\n}\ndef main(x) {\n  s = T_MAT_MUL(x, x)\n  y = DENSE(s, d)\n}\n",
    );
    let out = primer(&["check", &file]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "{file}:6:3: invalid: `main` instruction 1 (`y`): DENSE needs a sequence, got a square [T,T]"
        )),
        "{stdout}"
    );
}

#[test]
fn check_reports_parse_errors_with_line_and_column() {
    let file = temp_file("malformed.prim", "def main(x) {\n  y = FOO(x)\n}\n");
    let out = primer(&["check", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), format!("error: {file}:2:7: unknown op `FOO`"));
}

#[test]
fn diff_of_primer_ez_against_the_transformer_shows_the_four_changes() {
    let out = primer(&["diff", &program("transformer.prim"), &program("primer_ez.prim")]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let changes: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("---") && !l.starts_with("+++")).collect();
    assert_eq!(
        changes,
        vec![
            "+ main[8]: sq = SQUARE(relu)",
            "+ attention_head[1]: q = DCONV3(q_proj)",
            "+ attention_head[3]: k = DCONV3(k_proj)",
            "+ attention_head[5]: v = DCONV3(v_proj)",
        ],
        "{stdout}"
    );
    let out = primer(&["diff", &program("transformer.prim"), &program("primer_ez.prim"), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["changes"].as_array().unwrap().len(), 4);
}

/// Runs a benchmark briefly; returns its stdout and the figure on its `=> N ...` line.
fn bench(args: &[&str]) -> (String, f64) {
    let out = primer(args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}");
    let figure: f64 =
        stdout.lines().find_map(|l| l.strip_prefix("=> ")?.split_whitespace().next()?.parse().ok()).expect("a figure");
    (stdout, figure)
}

#[test]
fn bench_dsl_prints_a_throughput() {
    let (_, figure) = bench(&["bench", "dsl", "--seconds", "0.05"]);
    assert!(figure > 0.0);
}

#[test]
fn bench_evolve_prints_children_per_second() {
    let (stdout, figure) = bench(&["bench", "evolve", "--seconds", "0.1"]);
    assert!(figure > 0.0);
    assert!(stdout.contains("children per second per core"), "{stdout}");
}

#[test]
fn train_reports_loss_bits_per_byte_throughput_and_memory() {
    let file = program("primer_ez.prim");
    let args = [
        "train",
        &file,
        "--budget",
        "6steps",
        "--d-model",
        "32",
        "--seq-len",
        "32",
        "--batch",
        "4",
        "--eval-interval",
        "3",
    ];
    let out = primer(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for want in
        ["outcome            finished", "validation loss", "bits per byte", "tokens/s", "peak memory", "step      3"]
    {
        assert!(stdout.contains(want), "no `{want}` in:\n{stdout}");
    }
    let mut json = args.to_vec();
    json.extend(["--format", "json"]);
    let out = primer(&json);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"]["outcome"], "finished");
    assert_eq!(v["steps"], 6);
    let loss = v["fitness"].as_f64().unwrap();
    assert!((v["bits_per_byte"].as_f64().unwrap() - loss / std::f64::consts::LN_2).abs() < 1e-12);
    assert!(v["peak_memory_mib"].as_f64().unwrap() > 0.0);
}

#[test]
fn train_rejects_a_bad_budget_and_reports_invalid_programs() {
    let out = primer(&["train", &program("transformer.prim"), "--budget", "12parsecs"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Rejected while parsing the command line, naming the flag.
    assert!(stderr.contains("'12parsecs' for '--budget <BUDGET>'"), "{stderr}");
    assert!(stderr.contains("unknown unit `parsecs`"), "{stderr}");
    // An invalid program is an outcome with its reason, and a non-zero exit.
    let bad = temp_file("bad-width.prim", "bank {\n  dim ffn = 32\n}\ndef main(x) {\n  y = DENSE(x, ffn)\n}\n");
    let out = primer(&["train", &bad, "--budget", "2steps", "--d-model", "32", "--seq-len", "32"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("outcome            invalid: `main` instruction 0 (`y`)"), "{stdout}");
}

#[test]
fn compare_prints_losses_speedups_and_writes_a_plot() {
    let svg = std::env::temp_dir().join(format!("primer-compare-{}.svg", std::process::id()));
    // Primer-EZ under a name longer than the table's usual program column.
    let ez = std::fs::read_to_string(program("primer_ez.prim")).unwrap();
    let long = temp_file("primer-ez-under-a-long-name.prim", &ez);
    let args = [
        "compare",
        &program("transformer.prim"),
        &long,
        "--budgets",
        "4e8flops,1.2e9flops",
        "--seeds",
        "2",
        "--d-model",
        "16",
        "--seq-len",
        "16",
        "--n-layers",
        "1",
        "--batch",
        "4",
        "--eval-interval",
        "5",
        "--warmup",
        "5",
        "--svg",
        svg.to_str().unwrap(),
    ];
    let out = primer(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("transformer.prim") && stdout.contains("1.00x") && stdout.contains("±"), "{stdout}");
    // Every row's numbers end where the header's do, whatever the names' lengths.
    let lines: Vec<&str> = stdout.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("program ")).unwrap();
    // Where each field of a line ends (in characters: `±` is two bytes).
    let ends = |l: &str| {
        let c: Vec<char> = l.chars().collect();
        (1..c.len()).filter(|&i| c[i] == ' ' && c[i - 1] != ' ').collect::<Vec<_>>()
    };
    let table = &lines[header..header + 3];
    assert!(table[2].contains("primer-ez-under-a-long-name.prim"), "{stdout}");
    for row in &table[1..] {
        let params_end = |l: &str| ends(l)[1];
        assert_eq!(params_end(row), params_end(table[0]), "{stdout}");
    }
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(plot.matches("<polyline").count(), 2);
    let mut json = args.to_vec();
    json.extend(["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&primer(&json).stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    // The baseline's speedup against itself is 1; every loss is a finite mean over 2 seeds.
    assert!((rows[0]["speedup"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    for r in rows {
        for l in r["losses"].as_array().unwrap() {
            assert!(l[0].as_f64().unwrap().is_finite() && l[1].as_f64().unwrap() >= 0.0);
        }
    }
    // Budgets of another kind, or of mixed kinds, are refused at the door (exit 2).
    let out =
        primer(&["compare", &program("transformer.prim"), &program("primer_ez.prim"), "--budgets", "1e9flops,10steps"]);
    assert!(out.status.code() == Some(2) && String::from_utf8_lossy(&out.stderr).contains("FLOPs or seconds budgets"));
    let out =
        primer(&["compare", &program("transformer.prim"), &program("primer_ez.prim"), "--budgets", "1e9flops,10s"]);
    assert!(
        out.status.code() == Some(2)
            && String::from_utf8_lossy(&out.stderr).contains("all budgets must be of one kind")
    );
}
