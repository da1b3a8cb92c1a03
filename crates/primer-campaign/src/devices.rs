//! Where local workers run: the devices `primer search --devices` names (`cpu`, `cuda:N`,
//! `cuda:all`), how many workers share each one (`--workers-per-device`), and which cores each
//! worker's threads may use (`--pin`). Workers go round-robin over the devices: worker i trains
//! on device i mod n; pinned, worker i gets `threads` cores of its own, in order, from the cores
//! this process may run on. A worker that dies is replaced in its own slot (same device, same
//! cores).

use std::fmt;

/// One device a worker trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    Cuda(usize),
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = String;
    /// `cpu`, `cuda` (device 0) or `cuda:N`.
    fn from_str(s: &str) -> Result<Device, String> {
        match s.trim() {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            t => t
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| format!("`{t}`: expected cpu, cuda or cuda:N")),
        }
    }
}

/// One item of a `--devices` list, before `cuda:all` is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceItem {
    One(Device),
    /// Every CUDA device this machine has.
    CudaAll,
}

impl DeviceItem {
    pub fn is_cuda(&self) -> bool {
        !matches!(self, DeviceItem::One(Device::Cpu))
    }
}

/// Parses one item: `cpu`, `cuda` (device 0), `cuda:N` or `cuda:all`.
pub fn parse_item(s: &str) -> Result<DeviceItem, String> {
    match s.trim() {
        "cuda:all" => Ok(DeviceItem::CudaAll),
        t => t.parse().map(DeviceItem::One).map_err(|_| format!("`{t}`: expected cpu, cuda, cuda:N or cuda:all")),
    }
}

/// The devices a list names on a machine with `cuda_devices` CUDA devices, in order: `cuda:all`
/// becomes cuda:0 .. cuda:(n-1). A device this machine lacks, or one named twice, is an error.
pub fn expand(items: &[DeviceItem], cuda_devices: usize) -> Result<Vec<Device>, String> {
    let mut out: Vec<Device> = Vec::new();
    for item in items {
        let these = match item {
            DeviceItem::One(d) => vec![*d],
            DeviceItem::CudaAll if cuda_devices == 0 => {
                return Err("cuda:all: this machine has no CUDA device (`primer doctor` says why)".into());
            }
            DeviceItem::CudaAll => (0..cuda_devices).map(Device::Cuda).collect(),
        };
        for d in these {
            if let Device::Cuda(n) = d
                && n >= cuda_devices
            {
                return Err(format!(
                    "{d}: this machine has {cuda_devices} CUDA device(s){} (`primer doctor` lists them)",
                    if cuda_devices > 0 { format!(", cuda:0 to cuda:{}", cuda_devices - 1) } else { String::new() }
                ));
            }
            if out.contains(&d) {
                return Err(format!("{d} is named twice (--workers-per-device K runs K workers on each device)"));
            }
            out.push(d);
        }
    }
    if out.is_empty() {
        return Err("no device named".into());
    }
    Ok(out)
}

/// How many local workers `--devices` (n of them), `--workers-per-device` and `--workers` ask
/// for: K per device when K is given (and then --workers, if given too, must be n·K), else
/// --workers spread round-robin, else one per device. `None` when neither devices nor K were
/// given (the campaign's own count stands).
pub fn worker_count(
    devices: Option<usize>,
    per_device: Option<usize>,
    workers: Option<usize>,
) -> Result<Option<usize>, String> {
    let n = match (devices, per_device) {
        (None, None) => return Ok(None),
        (Some(n), _) => n,
        (None, Some(_)) => 1,
    };
    match (per_device, workers) {
        (Some(k), Some(w)) if w != n * k => Err(format!(
            "--workers {w} and --workers-per-device {k} disagree: {n} device(s) x {k} = {} workers (give one of the two)",
            n * k
        )),
        (Some(k), _) => Ok(Some(n * k)),
        (None, Some(w)) => Ok(Some(w)),
        (None, None) => Ok(Some(n)),
    }
}

/// Where local workers run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Placement {
    /// Round-robin over these; empty: every worker on the CPU.
    pub devices: Vec<Device>,
    /// Each worker's threads on cores of their own.
    pub pin: bool,
}

/// Where worker i runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub device: Device,
    /// The cores its threads may use (pinned), or `None` (wherever the kernel puts them).
    pub cpus: Option<Vec<usize>>,
}

impl Placement {
    /// Whether any worker trains on the CPU.
    pub fn any_cpu(&self, workers: usize) -> bool {
        (0..workers).any(|i| self.device(i) == Device::Cpu)
    }

    fn device(&self, i: usize) -> Device {
        if self.devices.is_empty() { Device::Cpu } else { self.devices[i % self.devices.len()] }
    }

    /// Pinned `workers` of `threads` threads each fit on the `allowed` cores (one core per
    /// thread); unpinned always do.
    pub fn check(&self, workers: usize, threads: usize, allowed: &[usize]) -> Result<(), String> {
        if self.pin && workers * threads > allowed.len() {
            return Err(format!(
                "--pin: {workers} worker(s) x {threads} libtorch thread(s) need {} cores of their own; this process may run on {} ({})",
                workers * threads,
                allowed.len(),
                format_cpus(allowed)
            ));
        }
        Ok(())
    }

    /// Worker i's device and cores ([`Placement::check`] first).
    pub fn slot(&self, i: usize, threads: usize, allowed: &[usize]) -> Slot {
        let cpus = self.pin.then(|| (i * threads..(i + 1) * threads).map(|c| allowed[c % allowed.len()]).collect());
        Slot { device: self.device(i), cpus }
    }
}

/// The cores this process may run on (its affinity mask), in order.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            return (0..n).collect();
        }
        (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set)).collect()
    }
}

/// Confines the calling thread, and every thread it starts afterwards, to `cpus`. Called by a
/// worker first thing (`primer worker --cpus`), before libtorch or the runtime start threads.
pub fn set_affinity(cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: the set is built with libc's own macros and passed with its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `0-3,6`: a core list as Linux writes it (`Cpus_allowed_list`, taskset).
pub fn format_cpus(cpus: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if j > i { format!("{}-{}", cpus[i], cpus[j]) } else { cpus[i].to_string() });
        i = j + 1;
    }
    parts.join(",")
}

/// Parses `0-3,6` (sorted, each core once).
pub fn parse_cpus(s: &str) -> Result<Vec<usize>, String> {
    let bad = |part: &str| format!("`{part}` in `{s}`: expected cores like 0-3,6");
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>(), b.trim().parse::<usize>()),
            None => (part.parse::<usize>(), part.parse::<usize>()),
        };
        let (Ok(a), Ok(b)) = (a, b) else { return Err(bad(part)) };
        if a > b || b >= libc::CPU_SETSIZE as usize {
            return Err(bad(part));
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(s: &str) -> Vec<DeviceItem> {
        s.split(',').map(|i| parse_item(i).unwrap()).collect()
    }

    #[test]
    fn device_lists_expand_on_the_machine_they_run_on() {
        use Device::*;
        assert_eq!(expand(&items("cuda:all"), 4).unwrap(), vec![Cuda(0), Cuda(1), Cuda(2), Cuda(3)]);
        assert_eq!(expand(&items("cuda:1,cuda:0"), 2).unwrap(), vec![Cuda(1), Cuda(0)]);
        assert_eq!(expand(&items("cuda"), 1).unwrap(), vec![Cuda(0)]);
        assert_eq!(expand(&items("cpu,cuda:0"), 1).unwrap(), vec![Cpu, Cuda(0)]);
        let e = expand(&items("cuda:2"), 2).unwrap_err();
        assert!(e.contains("cuda:2") && e.contains("2 CUDA device(s), cuda:0 to cuda:1"), "{e}");
        assert!(expand(&items("cuda:all"), 0).unwrap_err().contains("no CUDA device"));
        assert!(expand(&items("cuda:0"), 0).unwrap_err().contains("0 CUDA device(s) (`primer doctor`"));
        assert!(expand(&items("cuda:all,cuda:1"), 2).unwrap_err().contains("cuda:1 is named twice"));
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", ""] {
            assert!(parse_item(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn worker_counts_follow_the_flags_and_refuse_contradictions() {
        assert_eq!(worker_count(None, None, Some(3)), Ok(None));
        assert_eq!(worker_count(Some(4), None, None), Ok(Some(4)));
        assert_eq!(worker_count(Some(4), Some(8), None), Ok(Some(32)));
        assert_eq!(worker_count(Some(2), None, Some(5)), Ok(Some(5)));
        assert_eq!(worker_count(Some(2), Some(3), Some(6)), Ok(Some(6)));
        assert_eq!(worker_count(None, Some(3), None), Ok(Some(3)));
        let e = worker_count(Some(2), Some(3), Some(4)).unwrap_err();
        assert!(e.contains("--workers 4") && e.contains("2 device(s) x 3 = 6"), "{e}");
    }

    #[test]
    fn workers_go_round_robin_and_pinned_ones_get_cores_of_their_own() {
        use Device::*;
        let p = Placement { devices: vec![Cuda(0), Cuda(1)], pin: false };
        let devices: Vec<Device> = (0..5).map(|i| p.slot(i, 1, &[0, 1]).device).collect();
        assert_eq!(devices, vec![Cuda(0), Cuda(1), Cuda(0), Cuda(1), Cuda(0)]);
        assert_eq!(p.slot(3, 2, &[0, 1]).cpus, None);
        assert!(!p.any_cpu(4));
        assert!(Placement::default().any_cpu(1));
        assert!(!Placement::default().any_cpu(0));

        // Four workers of two threads on cores 4-11 (a process confined to them).
        let allowed: Vec<usize> = (4..12).collect();
        let pinned = Placement { devices: vec![], pin: true };
        pinned.check(4, 2, &allowed).unwrap();
        let cores: Vec<Vec<usize>> = (0..4).map(|i| pinned.slot(i, 2, &allowed).cpus.unwrap()).collect();
        assert_eq!(cores, vec![vec![4, 5], vec![6, 7], vec![8, 9], vec![10, 11]]);
        assert_eq!(pinned.slot(2, 2, &allowed).device, Cpu);
        let e = pinned.check(3, 2, &[0, 1, 2, 3]).unwrap_err();
        assert!(e.contains("need 6 cores") && e.contains("may run on 4 (0-3)"), "{e}");
        Placement { pin: false, ..pinned }.check(3, 2, &[0, 1]).unwrap();
    }

    #[test]
    fn core_lists_round_trip() {
        assert_eq!(parse_cpus("0-3,6").unwrap(), vec![0, 1, 2, 3, 6]);
        assert_eq!(parse_cpus(" 5 , 1-2,2").unwrap(), vec![1, 2, 5]);
        assert_eq!(format_cpus(&[0, 1, 2, 3, 6, 8, 9]), "0-3,6,8-9");
        assert_eq!(format_cpus(&[7]), "7");
        for s in ["0-3,6", "1", "0-1,4-5,9"] {
            assert_eq!(format_cpus(&parse_cpus(s).unwrap()), s);
        }
        for bad in ["", "a", "3-1", "1-", "-2", "0,,1", "99999"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_thread_confined_to_one_core_reads_it_back() {
        let allowed = allowed_cpus();
        assert!(!allowed.is_empty());
        let last = *allowed.last().unwrap();
        // A thread of its own: the test harness's threads keep their mask.
        let seen = std::thread::spawn(move || {
            set_affinity(&[last]).unwrap();
            let inner = std::thread::spawn(allowed_cpus).join().unwrap();
            (allowed_cpus(), inner)
        })
        .join()
        .unwrap();
        assert_eq!(seen, (vec![last], vec![last]), "the thread and the one it started");
    }
}
