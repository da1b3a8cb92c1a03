//! Devices and precision from the command line, with real workers and real training (tiny
//! models): pinned workers run on the cores they were given (the kernel's own mask, as each
//! worker registered it), K workers per device, device lists checked against the machine
//! before anything is stored, and bf16 refused on a CPU with the measured reason.

use std::path::{Path, PathBuf};

mod common;
use common::{primer, program, root, rt, temp_dir};

fn campaign(dir: &Path, name: &str, workers: usize, extra: &str) -> PathBuf {
    let text = std::fs::read(root().join(".cache/corpus/shakespeare.txt")).expect("the default corpus");
    let corpus = dir.join("corpus.txt");
    std::fs::write(&corpus, &text[..300_000]).unwrap();
    let toml = format!(
        r#"name = "{name}"
seed = 1
search_space = "{space}"
seeds = ["{seed}"]
candidates = 6
workers = {workers}

[model]
d_model = 16
seq_len = 16
n_layers = 1

[training]
budget = "20steps"
batch = 4
lr = 0.002
warmup = 5
eval_interval = 10
val_batches = 2
corpus = "{corpus}"
validation_bytes = 2048
{extra}
[evolution]
population = 3
tournament = 2

[hurdles]
count = 0
min_predecessors = 2
"#,
        space = root().join("search-spaces/primer-cpu.toml").display(),
        seed = program("transformer.prim"),
        corpus = corpus.display(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    path
}

/// The devices the campaign's workers registered with, sorted.
fn registered(db: &str, name: &str) -> Vec<String> {
    rt().block_on(async {
        let s = primer_store::Store::open(db).await.unwrap();
        let c = s.campaign(name).await.unwrap().unwrap();
        let mut d: Vec<String> = s.workers(c.id).await.unwrap().into_iter().map(|w| w.device).collect();
        d.sort();
        d
    })
}

fn run(args: &[&str]) -> std::process::Output {
    primer().args(args).env("PRIMER_DB", "sqlite:///nonexistent/never-used.db").output().unwrap()
}

#[test]
fn pinned_workers_run_on_cores_of_their_own() {
    let allowed = primer_campaign::devices::allowed_cpus();
    let dir = temp_dir("pinned");
    let db = format!("sqlite://{}", dir.join("s.db").display());
    let config = campaign(&dir, "pinned", 2, "");
    let out = run(&["search", config.to_str().unwrap(), "--db", &db, "--pin"]);
    if allowed.len() < 2 {
        // One core: two pinned workers do not fit, and nothing is stored.
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && e.contains("--pin: 2 worker(s) x 1 libtorch thread(s) need 2 cores"), "{e}");
        return;
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    let want = [format!("cpu [cores {}]", allowed[0]), format!("cpu [cores {}]", allowed[1])];
    assert!(said.contains(&format!("workers on: cpu (cores {}), cpu (cores {})", allowed[0], allowed[1])), "{said}");
    let got = registered(&db, "pinned");
    assert!(!got.is_empty() && got.iter().all(|d| want.contains(d)), "{got:?} (want each in {want:?})");
    // Two slots: the two workers (and any replacement) sit on different cores.
    assert!(got.contains(&want[0]) && got.contains(&want[1]), "{got:?}");

    // More pinned threads than cores: refused before anything is stored.
    let many = allowed.len() + 1;
    let config = campaign(&dir, "too-many", many, "");
    let out = run(&["search", config.to_str().unwrap(), "--db", &db, "--pin"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains(&format!("need {many} cores")), "{e}");
    let names: Vec<String> = rt().block_on(async {
        let s = primer_store::Store::open(&db).await.unwrap();
        s.campaigns().await.unwrap().into_iter().map(|c| c.name).collect()
    });
    assert_eq!(names, vec!["pinned".to_string()]);
}

#[test]
fn workers_per_device_and_device_lists() {
    let dir = temp_dir("per-device");
    let db = format!("sqlite://{}", dir.join("s.db").display());
    // K workers on the CPU, whatever the file says.
    let config = campaign(&dir, "three", 1, "");
    let out = run(&["search", config.to_str().unwrap(), "--db", &db, "--devices", "cpu", "--workers-per-device", "3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("3 workers") && said.contains("workers on: cpu, cpu, cpu"), "{said}");
    let got = registered(&db, "three");
    assert!(got.len() >= 2 && got.iter().all(|d| d == "cpu"), "{got:?}");

    // Contradictions and devices this machine lacks are refused with the flag named, and no
    // campaign is stored.
    let cuda = primer_torch_free_cuda_count();
    for (args, want) in [
        (
            vec!["--devices", "cpu", "--workers-per-device", "2", "--workers", "3"],
            "--workers 3 and --workers-per-device 2 disagree".to_string(),
        ),
        (
            vec!["--devices", &format!("cuda:{cuda}")],
            format!("--devices: cuda:{cuda}: this machine has {cuda} CUDA device(s)"),
        ),
        (vec!["--devices", "cpu,cpu"], "--devices: cpu is named twice".to_string()),
        (vec!["--devices", "tpu:0"], "`tpu:0`: expected cpu, cuda, cuda:N or cuda:all".to_string()),
    ] {
        let bad = campaign(&dir, "bad", 1, "");
        let out = run(&[&["search", bad.to_str().unwrap(), "--db", &db][..], &args[..]].concat());
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && e.contains(&want), "{args:?}: {e}");
    }
    let names: Vec<String> = rt().block_on(async {
        let s = primer_store::Store::open(&db).await.unwrap();
        s.campaigns().await.unwrap().into_iter().map(|c| c.name).collect()
    });
    assert_eq!(names, vec!["three".to_string()]);
}

/// The CUDA devices `primer doctor` reports (0 on a CPU-only build or machine).
fn primer_torch_free_cuda_count() -> usize {
    let out = primer().args(["doctor", "--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["checks"].as_array().unwrap().iter().filter(|c| c["item"].as_str().unwrap().starts_with("device cuda:")).count()
}

#[test]
fn bf16_is_refused_on_a_cpu_with_the_measured_reason() {
    let dir = temp_dir("bf16");
    let db = format!("sqlite://{}", dir.join("s.db").display());
    let config = campaign(&dir, "half", 1, "precision = \"bf16\"\n");
    let out = run(&["search", config.to_str().unwrap(), "--db", &db]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{e}");
    assert!(e.contains("training.precision = \"bf16\" with local workers on the CPU") && e.contains("0.50x"), "{e}");

    // The controller alone takes it (its workers may be GPUs elsewhere); a worker started by
    // hand on the CPU refuses before it registers.
    let mut controller = primer()
        .args(["search", config.to_str().unwrap(), "--db", &db, "--workers", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = run(&["worker", "--db", &db, "--campaign", "half", "--wait", "60"]);
    let _ = std::process::Command::new("kill").args(["-TERM", &controller.id().to_string()]).status();
    controller.wait().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{e}");
    assert!(e.contains("campaign `half` trains in bf16") && e.contains("Start this worker with --device cuda"), "{e}");
    assert!(registered(&db, "half").is_empty());
    let out = run(&["train", &program("transformer.prim"), "--precision", "bf16", "--budget", "2steps"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("--precision bf16 with --device cpu: bf16 is refused on a CPU"), "{e}");

    // A bad value names the field.
    let bad = campaign(&dir, "bad", 1, "precision = \"fp8\"\n");
    let out = run(&["search", bad.to_str().unwrap(), "--db", &db]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("precision") && e.contains("fp8"), "{e}");
}
