//! The throughput benchmarks and savings, run briefly: `primer bench matmul`, `primer bench
//! train` (both programs, their figures and ratios), `primer bench campaign` (a real campaign
//! whose workers' time parts add up to their wall time) and `primer savings` on its store.
//! Figures are printed, not asserted against targets: these check that they are measured.

use std::path::PathBuf;
use std::process::Output;

mod common;
use common::root;

fn primer(args: &[&str]) -> Output {
    common::primer().args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("primer-throughput-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The benchmark said how busy the machine was, in its output and its figures, and warned
/// exactly when the figures say others took more than a tenth of a core.
fn machine_said(stdout: &str, figures: &serde_json::Value) {
    let m = &figures["machine"];
    let others = m["others_cores"].as_f64().unwrap();
    assert!(others >= 0.0 && m["cores"].as_u64().unwrap() >= 1, "{m}");
    if others > 0.10 {
        assert!(m["warning"].as_str().unwrap().contains("the machine was busy"), "{m}");
        assert!(stdout.contains("machine: BUSY"), "{stdout}");
    } else {
        assert!(stdout.contains("machine: quiet") || m["warning"].is_string(), "{stdout}");
    }
}

#[test]
fn bench_matmul_measures_both_types_and_thread_counts() {
    let dir = temp_dir("matmul");
    let out = dir.join("matmul.json");
    let args = ["bench", "matmul", "--sizes", "campaign", "--threads", "1,2", "--seconds", "0.02", "--out"];
    let stdout = ok(&primer(&[&args[..], &[out.to_str().unwrap()]].concat()));
    assert!(stdout.contains("feed-forward up") && stdout.contains("best"), "{stdout}");
    let figures: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    machine_said(&stdout, &figures);
    let rows = figures["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6 * 2, "six shapes at two thread counts");
    for r in rows {
        for k in ["f32", "bf16"] {
            let g = r[format!("{k}_gflops")].as_f64().unwrap();
            assert!(g.is_finite() && g > 0.0, "{r}");
            // The figure is the median of its rounds, which lie around it.
            let s = &r[format!("{k}_rounds")];
            assert_eq!(s["median"].as_f64().unwrap(), g, "{r}");
            assert!(s["min"].as_f64().unwrap() <= g && g <= s["max"].as_f64().unwrap(), "{r}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bench_train_compares_both_programs_with_their_references() {
    let dir = temp_dir("train");
    let out = dir.join("train.json");
    let args = ["bench", "train", "--sizes", "campaign", "--steps", "2", "--rounds", "3", "--out"];
    let stdout = ok(&primer(&[&args[..], &[out.to_str().unwrap()]].concat()));
    assert!(stdout.contains("Transformer") && stdout.contains("PrimerEz"), "{stdout}");
    let figures: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    machine_said(&stdout, &figures);
    let rows = figures["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        let (c, rf) = (r["compiled_tokens_per_s"].as_f64().unwrap(), r["reference_tokens_per_s"].as_f64().unwrap());
        assert!(c > 0.0 && rf > 0.0, "{r}");
        let ratio = r["ratio"].as_f64().unwrap();
        assert!((ratio - c / rf).abs() < 1e-9, "{r}");
        // Rounds: the median with min and max; the ratio's interval from the rounds' own ratios.
        let rounds = |k: &str| r[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect::<Vec<f64>>();
        let (cr, rr) = (rounds("compiled_rounds"), rounds("reference_rounds"));
        assert_eq!(r["compiled_spread"]["rounds"], 3, "{r}");
        assert_eq!(r["compiled_spread"]["min"].as_f64().unwrap(), cr.iter().copied().fold(f64::INFINITY, f64::min));
        let per_round: Vec<f64> = cr.iter().zip(&rr).map(|(c, r)| c / r).collect();
        assert_eq!(r["ratio_low"].as_f64().unwrap(), per_round.iter().copied().fold(f64::INFINITY, f64::min), "{r}");
        assert_eq!(r["ratio_high"].as_f64().unwrap(), per_round.iter().copied().fold(0.0, f64::max), "{r}");
        // MFU: analytic training FLOPs per second over the measured matmul peak.
        let flops = r["training_flops_per_token"].as_f64().unwrap();
        let peak = r["matmul_peak_gflops"].as_f64().unwrap();
        assert!(flops > 0.0 && peak > 0.0);
        assert!((r["compiled_mfu"].as_f64().unwrap() - flops * c / (peak * 1e9)).abs() < 1e-9, "{r}");
        assert_eq!(
            (r["d_model"].as_u64(), r["seq_len"].as_u64(), r["threads"].as_u64()),
            (Some(64), Some(64), Some(1))
        );
    }
    // The Primer-EZ program has 3·3·D more parameters per layer than the Transformer.
    let params: Vec<i64> = rows.iter().map(|r| r["parameters"].as_i64().unwrap()).collect();
    assert_eq!(params[1] - params[0], 2 * 9 * 64);
    let _ = std::fs::remove_dir_all(dir);
}

/// A 6-candidate campaign per split; the workers' timings add up to their processes' wall
/// time, training steps are most of it, and `primer savings` reads the store it leaves.
#[test]
fn bench_campaign_accounts_for_the_workers_time() {
    let dir = temp_dir("campaign");
    let r = root();
    let config = dir.join("campaign.toml");
    std::fs::write(
        &config,
        format!(
            r#"name = "bench"
seed = 2
search_space = "{space}"
seeds = ["{seed}"]
candidates = 6
workers = 2

[model]
d_model = 16
seq_len = 16
n_layers = 1

[training]
budget = "60steps"
batch = 4
lr = 0.002
warmup = 5
eval_interval = 20
val_batches = 2
threads = 1

[evolution]
population = 4
tournament = 2

[hurdles]
count = 2
min_predecessors = 2
window = 3
"#,
            space = r.join("search-spaces/primer-cpu.toml").display(),
            seed = r.join("search-spaces/programs/transformer.prim").display(),
        ),
    )
    .unwrap();
    let out = dir.join("campaign.json");
    let args = ["bench", "campaign", config.to_str().unwrap(), "--splits", "2x1,1x1", "--candidates", "6"];
    let stdout = ok(&primer(&[&args[..], &["--dir", dir.to_str().unwrap(), "--out", out.to_str().unwrap()]].concat()));
    assert!(stdout.contains("training steps") && stdout.contains("most candidates per core-hour"), "{stdout}");
    let figures: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    machine_said(&stdout, &figures);
    let runs = figures["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for run in runs {
        assert_eq!(run["candidates"], 6, "{run}");
        let wall = run["worker_seconds"].as_f64().unwrap();
        let parts: f64 = run["parts"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
        assert!((parts - wall).abs() < 0.02 * wall + 0.05, "parts {parts} vs wall {wall}: {run}");
        let steps = run["parts"]["steps"].as_f64().unwrap();
        assert!(steps > 0.0 && (run["steps_share"].as_f64().unwrap() - steps / wall).abs() < 1e-9, "{run}");
        let cores = run["cores"].as_f64().unwrap();
        let per_hour = 6.0 / (cores * run["wall_seconds"].as_f64().unwrap() / 3600.0);
        assert!((run["candidates_per_core_hour"].as_f64().unwrap() - per_hour).abs() < 1e-6 * per_hour, "{run}");
    }
    // The stores stay in --dir: what the hurdles saved there, as `primer savings` counts it.
    let db = format!("sqlite://{}", dir.join("campaign-2x1.db").display());
    let v: serde_json::Value =
        serde_json::from_str(&ok(&primer(&["savings", "bench-2x1", "--blocks", "2", "--db", &db, "--format", "json"])))
            .unwrap();
    let s = &v[0];
    // Two blocks of births (0-2, 3-5) whose counts add up to the campaign's.
    let blocks = s["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2, "{s}");
    assert_eq!((blocks[0][0].as_i64(), blocks[0][1].as_i64(), blocks[1][1].as_i64()), (Some(0), Some(2), Some(5)));
    for (field, at) in [("reached", 2), ("passed", 3)] {
        for k in 0..2 {
            let sum: u64 = blocks.iter().map(|b| b[at][k].as_u64().unwrap()).sum();
            assert_eq!(Some(sum), s[field][k].as_u64(), "{field} {k}: {s}");
        }
    }
    assert_eq!((s["hurdles"].as_u64(), s["window"].as_u64()), (Some(2), Some(3)));
    // Bands after the warm-up: every trained candidate pays start + a, half of them 2a more,
    // a quarter 4a more (a = (1 - start) / 7); 7/3 with bands from 0.
    let start = s["start"].as_f64().unwrap();
    assert!(start > 0.0 && start < 1.0, "{s}");
    let a = (1.0 - start) / 7.0;
    assert!((s["theory_at_half"].as_f64().unwrap() - 1.0 / (start + 3.0 * a)).abs() < 1e-12, "{s}");
    for k in 0..2 {
        assert!(s["passed"][k].as_u64() <= s["reached"][k].as_u64(), "{s}");
    }
    assert!(s["hurdle_saving"].as_f64().unwrap() >= 1.0, "{s}");
    let _ = std::fs::remove_dir_all(dir);
}
