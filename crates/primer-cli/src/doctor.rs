//! `primer doctor`: checks the installation, item by item, and names the fix.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use serde::Serialize;
use sha2::{Digest, Sha256};

use primer_args::Format;
use primer_campaign::output::csv;
use primer_campaign::{paths, pins};

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub item: String,
    pub value: String,
    pub ok: bool,
    /// The command that fixes a failed check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(item: &str, value: impl Into<String>) -> Self {
        Check { item: item.into(), value: value.into(), ok: true, fix: None }
    }
    fn fail(item: &str, value: impl Into<String>, fix: String) -> Self {
        Check { item: item.into(), value: value.into(), ok: false, fix: Some(fix) }
    }
}

/// Runs every check. Never panics: a problem is a failed check.
pub fn run_checks() -> Vec<Check> {
    let mut checks = vec![Check::ok("primer", env!("CARGO_PKG_VERSION"))];
    checks.extend(libtorch_folder());
    let (engine, cuda) = engine();
    checks.extend(engine);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    checks.push(Check::ok("cpu threads", cores.to_string()));
    checks.extend(devices(cuda));
    checks.push(corpus());
    checks.push(Check::ok("default store", paths::default_store_url()));
    checks
}

fn libtorch_folder() -> Vec<Check> {
    let dir = paths::libtorch_dir();
    let lib = dir.join("lib/libtorch_cpu.so");
    if !lib.exists() {
        return vec![Check::fail("libtorch folder", format!("{} is missing", lib.display()), paths::setup_hint())];
    }
    let variant = std::fs::read_to_string(dir.join(pins::VARIANT_FILE)).unwrap_or_else(|_| "unknown".into());
    let version = std::fs::read_to_string(dir.join("version.py"))
        .ok()
        .and_then(|t| parse_version_py(&t))
        .unwrap_or_else(|| "unknown".into());
    let value = format!("{} ({} build, torch {version})", dir.display(), variant.trim());
    if version.split('+').next() == Some(pins::TORCH_VERSION) {
        vec![Check::ok("libtorch folder", value)]
    } else {
        vec![Check::fail(
            "libtorch folder",
            format!("{value}: libtorch {} is required", pins::TORCH_VERSION),
            paths::setup_hint(),
        )]
    }
}

/// Reads `__version__ = '2.13.0+cu130'` from a torch `version.py`.
pub fn parse_version_py(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let v = l.strip_prefix("__version__")?.trim().strip_prefix('=')?.trim();
        Some(v.trim_matches(|c| c == '\'' || c == '"').to_string())
    })
}

/// Runs `primer-engine engine-info` (the only way to know that libtorch really loads): its
/// JSON, or the failed check that says why there is none.
fn engine_info() -> Result<serde_json::Value, Check> {
    let exe = paths::engine_exe();
    if !exe.exists() {
        return Err(Check::fail(
            "engine",
            format!("{} is missing", exe.display()),
            format!("cd {} && cargo build --release -p primer-cli", paths::workspace_root().display()),
        ));
    }
    let out = Command::new(&exe)
        .arg("engine-info")
        .output()
        .map_err(|e| Check::fail("engine", format!("{}: {e}", exe.display()), paths::setup_hint()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_string();
        return Err(Check::fail(
            "libtorch",
            format!("the engine could not load libtorch ({}): {why}", out.status),
            paths::setup_hint(),
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| Check::fail("engine", format!("unreadable engine-info: {e}"), paths::setup_hint()))
}

/// The CUDA devices libtorch sees in engine-info (0 when CUDA is not available).
fn cuda_in(info: &serde_json::Value) -> usize {
    if info["cuda_available"].as_bool() == Some(true) { info["cuda_devices"].as_u64().unwrap_or(0) as usize } else { 0 }
}

/// The CUDA devices libtorch sees here (0 on a CPU-only build or machine), asked of the engine.
pub fn cuda_devices() -> anyhow::Result<usize> {
    let info = engine_info().map_err(|c| anyhow::anyhow!("{}: {} (`primer doctor` says more)", c.item, c.value))?;
    Ok(cuda_in(&info))
}

/// The engine's checks, and the CUDA devices it sees.
fn engine() -> (Vec<Check>, usize) {
    let info = match engine_info() {
        Ok(info) => info,
        Err(check) => return (vec![check], 0),
    };
    let s = |k: &str| info[k].as_str().unwrap_or("?").to_string();
    let loaded = std::fs::read_to_string(s("version_file"))
        .ok()
        .and_then(|t| parse_version_py(&t))
        .unwrap_or_else(|| "unknown version".into());
    let mut checks = vec![Check::ok("tch", pins::TCH_VERSION)];
    let value = format!("{loaded} (headers {}) from {}", s("header_version"), s("loaded_from"));
    if loaded.split('+').next() == Some(pins::TORCH_VERSION) && s("header_version") == pins::TORCH_VERSION {
        checks.push(Check::ok("libtorch", value));
    } else {
        checks.push(Check::fail(
            "libtorch",
            format!("{value}: libtorch {} is required", pins::TORCH_VERSION),
            paths::setup_hint(),
        ));
    }
    checks.push(Check::ok("libtorch threads", info["threads"].to_string()));
    let cuda = if info["cuda_available"].as_bool() == Some(true) {
        format!("available, {} device(s)", info["cuda_devices"])
    } else {
        format!("not available: {}", s("cuda_reason"))
    };
    checks.push(Check::ok("cuda build", if info["cuda_linked"].as_bool() == Some(true) { "yes" } else { "no" }));
    checks.push(Check::ok("cuda", cuda));
    (checks, cuda_in(&info))
}

/// The devices workers can train on (`primer search --devices`): the CPU (model, the cores
/// this process may use, the instruction sets libtorch's kernels and bf16 care about) and each
/// CUDA device (name and memory from nvidia-smi when it is installed).
fn devices(cuda: usize) -> Vec<Check> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == name).map(|(_, v)| v.trim().to_string()))
    };
    let flags = field("flags").unwrap_or_default();
    let isa: Vec<&str> = ["avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"]
        .into_iter()
        .filter(|f| flags.split_whitespace().any(|x| x == *f))
        .collect();
    let allowed = primer_campaign::devices::allowed_cpus();
    let cpu = format!(
        "{}, {} core(s) usable ({}), {}",
        field("model name").unwrap_or_else(|| "unknown CPU".into()),
        allowed.len(),
        primer_campaign::devices::format_cpus(&allowed),
        if isa.is_empty() { "no AVX2".to_string() } else { isa.join(" ") }
    );
    let mut checks = vec![Check::ok("device cpu", cpu)];
    let smi = Command::new("nvidia-smi")
        .args(["--query-gpu=index,name,memory.total", "--format=csv,noheader"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for n in 0..cuda {
        let line = smi.lines().find(|l| l.split(',').next().map(str::trim) == Some(&n.to_string()));
        let about = line.map_or("(nvidia-smi not found: name and memory unknown)".to_string(), |l| {
            l.split(',').skip(1).map(str::trim).collect::<Vec<_>>().join(", ")
        });
        checks.push(Check::ok(&format!("device cuda:{n}"), about));
    }
    checks
}

fn corpus() -> Check {
    let path = paths::default_corpus();
    let pinned = paths::corpus_is_pinned_default();
    let digest = match sha256_file(&path) {
        Ok(d) => d,
        Err(e) => {
            return Check::fail("corpus", format!("{}: {e}", path.display()), paths::setup_hint());
        }
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let value = format!("{} ({size} bytes, sha256 {digest})", path.display());
    if pinned && digest != pins::CORPUS_SHA256 {
        Check::fail("corpus", format!("{value}: expected sha256 {}", pins::CORPUS_SHA256), paths::setup_hint())
    } else {
        Check::ok("corpus", value)
    }
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Prints the report; returns whether every check passed.
pub fn report(checks: &[Check], format: Format) -> bool {
    let all_ok = checks.iter().all(|c| c.ok);
    match format {
        Format::Json => {
            let v = serde_json::json!({ "ok": all_ok, "checks": checks });
            println!("{}", serde_json::to_string_pretty(&v).expect("plain data"));
        }
        Format::Csv => {
            println!("item,ok,value,fix");
            for c in checks {
                println!("{},{},{},{}", csv(&c.item), c.ok, csv(&c.value), csv(c.fix.as_deref().unwrap_or("")));
            }
        }
        Format::Table => {
            let width = checks.iter().map(|c| c.item.len()).max().unwrap_or(0);
            for c in checks {
                let mark = if c.ok { "ok  " } else { "FAIL" };
                println!("{mark} {:width$}  {}", c.item, c.value);
            }
        }
    }
    if !all_ok {
        let mut fixes: Vec<&str> = checks.iter().filter_map(|c| c.fix.as_deref()).collect();
        fixes.sort_unstable();
        fixes.dedup();
        for fix in fixes {
            eprintln!("fix: {fix}");
        }
    }
    all_ok
}
