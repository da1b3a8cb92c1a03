//! Benchmarks that know when they are disturbed: what else the machine did while a benchmark
//! ran (the CPU time of every process that is not the benchmark's own, read from `/proc`, and
//! the load average), and the spread of a benchmark's rounds.
//!
//! A figure measured while another process took a core is not the machine's figure: on a
//! 2-core machine one busy neighbour moved `bench train`'s compiled/reference ratio from 0.72
//! to 1.90. Every `primer bench` starts a [`Watch`] and ends with its [`Watch::verdict`],
//! which says how busy the machine was and warns when that makes the figures unreliable.

use std::collections::HashMap;
use std::time::Instant;

/// CPU time (seconds) of each process, by pid, with its parent and name, from `/proc`.
fn processes() -> HashMap<i32, Proc> {
    let tick = clock_ticks();
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        if let Some(p) = parse_stat(&stat, tick) {
            out.insert(pid, p);
        }
    }
    out
}

/// One process as `/proc/PID/stat` says.
#[derive(Debug, Clone, PartialEq)]
struct Proc {
    name: String,
    parent: i32,
    /// User + system CPU seconds, its own (not its children's).
    cpu: f64,
}

/// `PID (COMM) STATE PPID ... UTIME STIME ...` (fields 14 and 15, in clock ticks).
fn parse_stat(stat: &str, tick: f64) -> Option<Proc> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat[open + 1..close].to_string();
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // rest[0] is field 3 (state), so field N is rest[N - 3].
    let parent = rest.get(1)?.parse().ok()?;
    let utime: f64 = rest.get(11)?.parse().ok()?;
    let stime: f64 = rest.get(12)?.parse().ok()?;
    Some(Proc { name, parent, cpu: (utime + stime) / tick })
}

/// Clock ticks per second (`getconf CLK_TCK`): 100 on Linux everywhere primer runs.
fn clock_ticks() -> f64 {
    100.0
}

/// The 1-minute load average.
fn load1() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Whether `pid` is this process or one it started (its parent chain reaches this process).
fn ours(pid: i32, procs: &HashMap<i32, Proc>, me: i32) -> bool {
    let mut p = pid;
    for _ in 0..64 {
        if p == me {
            return true;
        }
        match procs.get(&p) {
            Some(x) if x.parent > 0 && x.parent != p => p = x.parent,
            _ => return false,
        }
    }
    false
}

/// What the rest of the machine did while a benchmark ran: started before it, read after it.
#[derive(Debug)]
pub struct Watch {
    started: Instant,
    before: HashMap<i32, Proc>,
    load_before: Option<f64>,
    /// Names of processes that are the benchmark's though not its descendants (a PostgreSQL
    /// server it started: `pg_ctl` detaches it).
    also_ours: Vec<String>,
}

/// How busy the machine was during a benchmark.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verdict {
    pub seconds: f64,
    pub cores: usize,
    /// Cores' worth of CPU that processes other than the benchmark's took, on average.
    pub others_cores: f64,
    /// The busiest of them: name, pid, cores.
    pub busiest: Vec<(String, i32, f64)>,
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
    /// Why the figures may not be the machine's, when they may not.
    pub warning: Option<String>,
}

/// Other processes may take this share of one core before a benchmark's figures are called
/// unreliable: a shell, a terminal and the kernel's threads take well under it.
const QUIET: f64 = 0.10;

impl Watch {
    pub fn start() -> Watch {
        Watch { started: Instant::now(), before: processes(), load_before: load1(), also_ours: Vec::new() }
    }

    /// Counts processes named `name` as the benchmark's own.
    pub fn also_ours(mut self, name: &str) -> Watch {
        self.also_ours.push(name.to_string());
        self
    }

    /// The verdict over the time since [`Watch::start`].
    pub fn verdict(&self) -> Verdict {
        let after = processes();
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        let me = std::process::id() as i32;
        let mut busiest: Vec<(String, i32, f64)> = after
            .iter()
            .filter(|(pid, p)| !ours(**pid, &after, me) && !self.also_ours.contains(&p.name))
            .filter_map(|(pid, p)| {
                // A process that started during the run counts in full; one whose pid was
                // reused (less CPU than before) from zero.
                let was = self.before.get(pid).filter(|b| b.name == p.name && b.cpu <= p.cpu).map_or(0.0, |b| b.cpu);
                let used = (p.cpu - was) / seconds;
                (used > 0.0).then(|| (p.name.clone(), *pid, used))
            })
            .collect();
        busiest.sort_by(|a, b| b.2.total_cmp(&a.2));
        let others_cores: f64 = busiest.iter().map(|b| b.2).sum();
        busiest.truncate(3);
        let cores = cores();
        let warning = (others_cores > QUIET || self.load_before.is_some_and(|l| l > cores as f64 * 0.5 + QUIET))
            .then(|| {
                let names: Vec<String> =
                    busiest.iter().filter(|b| b.2 >= 0.01).map(|b| format!("{} (pid {}) {:.2}", b.0, b.1, b.2)).collect();
                format!(
                    "the machine was busy: other processes took {others_cores:.2} of {cores} cores on average while this ran{}{}; the figures may not be this machine's (run it again on a quiet machine)",
                    if names.is_empty() { String::new() } else { format!(" ({})", names.join(", ")) },
                    self.load_before.map_or(String::new(), |l| format!(", load average {l:.2} before it started")),
                )
            });
        Verdict { seconds, cores, others_cores, busiest, load_before: self.load_before, load_after: load1(), warning }
    }
}

impl Verdict {
    /// Prints the verdict: a quiet machine in one line, a busy one as a warning on stderr too.
    pub fn print(&self) {
        match &self.warning {
            None => println!(
                "machine: quiet (other processes took {:.2} of {} cores while this ran, {:.0} s)",
                self.others_cores, self.cores, self.seconds
            ),
            Some(w) => {
                println!("machine: BUSY: {w}");
                eprintln!("warning: {w}");
            }
        }
    }
}

/// The spread of a benchmark's rounds: min, median and max.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
    pub rounds: usize,
}

impl Spread {
    pub fn of(v: &[f64]) -> Spread {
        let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        if n == 0 {
            return Spread { min: f64::NAN, median: f64::NAN, max: f64::NAN, rounds: 0 };
        }
        let median = if n % 2 == 1 { s[n / 2] } else { 0.5 * (s[n / 2 - 1] + s[n / 2]) };
        Spread { min: s[0], median, max: s[n - 1], rounds: n }
    }

    /// (max - min) / median: 0 for rounds that agree.
    pub fn relative(&self) -> f64 {
        (self.max - self.min) / self.median
    }

    /// `median [min-max]` with `digits` decimals.
    pub fn show(&self, digits: usize) -> String {
        format!("{:.d$} [{:.d$}-{:.d$}]", self.median, self.min, self.max, d = digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_name_parent_and_cpu() {
        let line = "4242 (my (odd) name) R 17 4242 17 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_stat(line, 100.0), Some(Proc { name: "my (odd) name".into(), parent: 17, cpu: 3.0 }));
    }

    #[test]
    fn spread_is_min_median_max() {
        let s = Spread::of(&[3.0, 1.0, 2.0, f64::NAN]);
        assert_eq!((s.min, s.median, s.max, s.rounds), (1.0, 2.0, 3.0, 3));
        assert_eq!(Spread::of(&[1.0, 2.0]).median, 1.5);
        assert_eq!(s.show(1), "2.0 [1.0-3.0]");
        assert!((s.relative() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_busy_neighbour_is_seen_and_named() {
        // A spinner that is not this process's descendant: `sh -c '... &'` exits at once and
        // leaves it to init.
        let spinner = std::process::Command::new("sh")
            .args(["-c", "timeout 3 sh -c 'while :; do :; done' >/dev/null 2>&1 & echo $!"])
            .output()
            .unwrap();
        let pid: i32 = String::from_utf8_lossy(&spinner.stdout).trim().parse().unwrap();
        let watch = Watch::start();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let v = watch.verdict();
        let _ = std::process::Command::new("pkill").args(["-P", &pid.to_string()]).status();
        // It has a core's worth to take; other tests running beside it may share the cores.
        assert!(v.others_cores > 0.2, "{v:?}");
        assert!(v.warning.as_deref().is_some_and(|w| w.contains("the machine was busy")), "{v:?}");
        assert!(v.busiest.iter().any(|b| b.0 == "sh"), "{v:?}");
    }

    #[test]
    fn our_own_children_are_not_neighbours() {
        let mut child =
            std::process::Command::new("sh").args(["-c", "timeout 2 sh -c 'while :; do :; done'"]).spawn().unwrap();
        let watch = Watch::start();
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let procs = processes();
        let v = watch.verdict();
        let _ = child.kill();
        let _ = child.wait();
        // The child and its descendants (timeout, the spinning shell) are this process's.
        let mine: Vec<i32> = procs.keys().copied().filter(|p| ours(*p, &procs, child.id() as i32)).collect();
        assert!(mine.len() >= 2, "{mine:?}");
        assert!(mine.iter().all(|p| ours(*p, &procs, std::process::id() as i32)));
        assert!(v.busiest.iter().all(|b| !mine.contains(&b.1)), "our spinning child counted as a neighbour: {v:?}");
    }
}
