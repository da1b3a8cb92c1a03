//! A test binary that hangs: `cargo test` has no time limit, so one deadlocked test holds the
//! whole run until CI's own limit kills it, with no word of where it stood. [`run_watched`]
//! runs a `cargo test` and watches the test binaries it starts (its children whose program
//! lies in the build's `deps` folder); one that has run longer than the limit is taken as
//! hung: the stacks of all its threads are written to a report (gdb's `thread apply all bt`
//! where gdb is installed, and each thread's name, state and kernel wait channel from /proc in
//! any case), printed, and the binary and everything it started are killed, so that cargo goes
//! on with the next binary. Cargo's stderr passes through unchanged and is read on the way for
//! the targets that failed (`to rerun pass ...`), so the caller knows which failure was a hang.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A test target that failed, as cargo names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// The file name of its binary (`opening-0982e1af0c266415`), where cargo said which it ran.
    pub binary: Option<String>,
    /// What to pass to `cargo test` to run it alone (`-p primer-store --test opening`).
    pub rerun: String,
}

/// A test binary killed as hung.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hung {
    pub binary: String,
    pub pid: u32,
    pub report: PathBuf,
}

/// What a watched `cargo test` did.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub failed: Vec<Failed>,
    pub hung: Vec<Hung>,
}

/// How the watch is kept: binaries under `deps` are killed after `limit`, looked at every
/// `every`, and reports go to `reports`.
pub struct Watch<'a> {
    pub deps: &'a Path,
    pub limit: Duration,
    pub every: Duration,
    pub reports: &'a Path,
}

/// Reads cargo's stderr lines: the binary each `Running ... (PATH)` names, and each failed
/// target's `to rerun pass `ARGS`` (cargo prints it after the binary that failed).
#[derive(Default)]
pub struct CargoLines {
    running: Option<String>,
    pub failed: Vec<Failed>,
}

impl CargoLines {
    pub fn read(&mut self, line: &str) {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("Running ")
            && let (Some(open), true) = (rest.rfind('('), rest.ends_with(')'))
        {
            let path = &rest[open + 1..rest.len() - 1];
            self.running = Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned());
        } else if t.starts_with("Doc-tests ") {
            self.running = None;
        }
        if let Some(i) = t.find("to rerun pass `") {
            let rest = &t[i + "to rerun pass `".len()..];
            if let Some(end) = rest.find('`') {
                self.failed.push(Failed { binary: self.running.clone(), rerun: rest[..end].to_string() });
            }
        }
    }
}

/// Runs `cmd` (a `cargo test`), passing its stdout and stderr through, and kills any test binary
/// it starts that runs longer than `watch.limit` (see the module's documentation).
pub fn run_watched(cmd: &mut Command, watch: &Watch) -> Result<Outcome, String> {
    let shown = format!("{cmd:?}");
    let mut child = cmd.stderr(Stdio::piped()).spawn().map_err(|e| format!("could not start {shown}: {e}"))?;
    let pid = child.id();
    let stderr = child.stderr.take().expect("stderr is piped");
    let lines = std::thread::spawn(move || {
        let mut cargo = CargoLines::default();
        let mut reader = BufReader::new(stderr);
        let mut buf = Vec::new();
        while matches!(reader.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
            let _ = std::io::stderr().write_all(&buf);
            cargo.read(&String::from_utf8_lossy(&buf));
            buf.clear();
        }
        cargo.failed
    });
    let done = Arc::new(AtomicBool::new(false));
    let hung = Arc::new(Mutex::new(Vec::new()));
    let watcher = {
        let (done, hung) = (done.clone(), hung.clone());
        let deps = watch.deps.canonicalize().unwrap_or_else(|_| watch.deps.to_path_buf());
        let (limit, every, reports) = (watch.limit, watch.every, watch.reports.to_path_buf());
        std::thread::spawn(move || {
            let mut seen: HashMap<u32, Instant> = HashMap::new();
            while !done.load(Ordering::SeqCst) {
                for (p, binary) in test_binaries(pid, &deps) {
                    let since = *seen.entry(p).or_insert_with(Instant::now);
                    if since.elapsed() > limit && !hung.lock().unwrap().iter().any(|h: &Hung| h.pid == p) {
                        let report = reports.join(format!("{binary}-{p}.txt"));
                        dump_and_kill(p, &binary, since.elapsed(), &report);
                        hung.lock().unwrap().push(Hung { binary, pid: p, report });
                    }
                }
                sleep_unless(&done, every);
            }
        })
    };
    let status = child.wait().map_err(|e| format!("{shown}: {e}"));
    done.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    let failed = lines.join().unwrap_or_default();
    let hung = hung.lock().unwrap().clone();
    Ok(Outcome { status: status?, failed, hung })
}

fn sleep_unless(done: &AtomicBool, d: Duration) {
    let until = Instant::now() + d;
    while !done.load(Ordering::SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100).min(d));
    }
}

/// The state and parent pid a `stat` file of /proc holds (a process's or a thread's): the two
/// fields after the command name, which is in parentheses and may hold spaces.
fn stat_at(path: &str) -> Option<(String, u32)> {
    let s = std::fs::read_to_string(path).ok()?;
    let mut f = s[s.rfind(')')? + 1..].split_whitespace();
    let state = f.next()?.to_string();
    Some((state, f.next()?.parse().ok()?))
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_at(&format!("/proc/{pid}/stat")).map(|(_, parent)| parent)
}

fn processes() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// The children of `parent` whose program lies in `deps`, with the program's file name.
fn test_binaries(parent: u32, deps: &Path) -> Vec<(u32, String)> {
    processes()
        .into_iter()
        .filter(|&p| parent_of(p) == Some(parent))
        .filter_map(|p| {
            let exe = std::fs::read_link(format!("/proc/{p}/exe")).ok()?;
            let name = exe.file_name()?.to_string_lossy().into_owned();
            (exe.parent() == Some(deps)).then_some((p, name))
        })
        .collect()
}

/// Every process below `pid` (children, theirs, ...).
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = processes().into_iter().filter_map(|p| Some((p, parent_of(p)?))).collect();
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(c, pp) in &parents {
            if pp == p && !out.contains(&c) {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

/// Each thread of `pid`: its id, name, state and what the kernel has it waiting in.
fn threads_from_proc(pid: u32) -> String {
    let mut out = String::new();
    let mut tids: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    tids.sort();
    for t in tids {
        let read = |f: &str| std::fs::read_to_string(format!("/proc/{pid}/task/{t}/{f}")).unwrap_or_default();
        let state = stat_at(&format!("/proc/{pid}/task/{t}/stat")).map(|(state, _)| state);
        out.push_str(&format!(
            "  thread {t} `{}` state {} wchan {}\n",
            read("comm").trim(),
            state.unwrap_or_default(),
            read("wchan").trim()
        ));
    }
    out
}

/// gdb's backtrace of every thread of `pid`, or why there is none; gdb gets two minutes. Its
/// output goes to a file beside `report` (a pipe would fill and stall it on a large dump).
fn gdb_stacks(pid: u32, report: &Path) -> String {
    let out_file = report.with_extension("gdb");
    let file = match std::fs::File::create(&out_file) {
        Ok(f) => f,
        Err(e) => return format!("(no gdb backtrace: {}: {e})\n", out_file.display()),
    };
    let child = Command::new("gdb")
        .args(["-p", &pid.to_string(), "-batch", "-nx", "-ex", "set pagination off", "-ex", "thread apply all bt"])
        .stdin(Stdio::null())
        .stdout(file.try_clone().map(Stdio::from).unwrap_or_else(|_| Stdio::null()))
        .stderr(Stdio::from(file))
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return format!("(no gdb backtrace: {e}; `apt-get install gdb` gives one)\n"),
    };
    let until = Instant::now() + Duration::from_secs(120);
    while Instant::now() < until && !matches!(child.try_wait(), Ok(Some(_))) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&out_file).unwrap_or_else(|e| format!("(gdb's output: {e})\n"));
    let _ = std::fs::remove_file(&out_file);
    text
}

/// Writes the hung binary's stacks to `report` and stderr, then kills it and what it started.
fn dump_and_kill(pid: u32, binary: &str, ran: Duration, report: &Path) {
    let below = descendants(pid);
    let mut text = format!(
        "xtask: test binary {binary} (pid {pid}) has run {:.0} s, past the limit: taken as hung.\n\
         Its threads (from /proc):\n{}",
        ran.as_secs_f64(),
        threads_from_proc(pid)
    );
    for c in &below {
        text.push_str(&format!("process {c} below it:\n{}", threads_from_proc(*c)));
    }
    if let Some(dir) = report.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    text.push_str("Its stacks (gdb):\n");
    text.push_str(&gdb_stacks(pid, report));
    let _ = std::fs::write(report, &text);
    eprintln!(
        "{text}xtask: the above is saved in {}; killing pid {pid} and {} below it",
        report.display(),
        below.len()
    );
    for p in std::iter::once(pid).chain(below) {
        let _ = Command::new("kill").args(["-KILL", &p.to_string()]).status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_lines_name_the_binary_of_each_failed_target() {
        let mut c = CargoLines::default();
        for l in [
            "     Running unittests src/lib.rs (target/release/deps/primer_store-5de29b522531ceb3)\n",
            "     Running tests/opening.rs (target/release/deps/opening-41ad0ecfb9cab9df)\n",
            "error: test failed, to rerun pass `-p primer-store --test opening`\n",
            "   Doc-tests primer_store\n",
            "error: doctest failed, to rerun pass `-p primer-store --doc`\n",
        ] {
            c.read(l);
        }
        assert_eq!(
            c.failed,
            [
                Failed {
                    binary: Some("opening-41ad0ecfb9cab9df".into()),
                    rerun: "-p primer-store --test opening".into()
                },
                Failed { binary: None, rerun: "-p primer-store --doc".into() },
            ]
        );
    }

    /// A fake `deps` folder holding a copy of `sleep`: a shell (standing for cargo) starts a
    /// long one and a short one; the long one is killed past the limit, with a report naming
    /// its threads, and the short one is left to finish.
    #[test]
    fn a_binary_past_the_limit_is_reported_and_killed_and_one_within_it_is_not() {
        let dir = std::env::temp_dir().join(format!("xtask-watchdog-{}", std::process::id()));
        let deps = dir.join("deps");
        std::fs::create_dir_all(&deps).unwrap();
        let sleep = deps.join("sleep-0123");
        std::fs::copy(which_sleep(), &sleep).unwrap();
        let script = format!("{s} 60; {s} 1; echo '     Running x ({s})' >&2", s = sleep.display());
        let started = Instant::now();
        let watch = Watch {
            deps: &deps,
            limit: Duration::from_secs(2),
            every: Duration::from_millis(200),
            reports: &dir.join("r"),
        };
        let out = run_watched(Command::new("sh").args(["-c", &script]), &watch).unwrap();
        assert!(started.elapsed() < Duration::from_secs(30), "the hung sleep was not killed");
        assert!(out.status.success(), "the shell went on after the kill: {:?}", out.status);
        assert_eq!(out.hung.len(), 1, "{:?}", out.hung);
        assert_eq!(out.hung[0].binary, "sleep-0123");
        let report = std::fs::read_to_string(&out.hung[0].report).unwrap();
        assert!(report.contains("taken as hung") && report.contains("thread "), "{report}");
        if Command::new("gdb").arg("--version").output().is_ok_and(|o| o.status.success()) {
            assert!(report.contains("#0 "), "gdb was there but gave no frame:\n{report}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn which_sleep() -> PathBuf {
        ["/bin/sleep", "/usr/bin/sleep"].iter().map(PathBuf::from).find(|p| p.exists()).expect("sleep")
    }
}
