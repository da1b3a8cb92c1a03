//! Process signals and the stop flag: SIGTERM, SIGINT and SIGHUP raise a flag instead of
//! ending the process (a worker gives its candidate back and exits 0, a controller stops its
//! workers first); training checks the flag before every step. Also this machine's name and
//! the worker's tokio runtime.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;

/// Raised when this process is told to stop (SIGTERM, SIGINT, SIGHUP) or, for a worker that
/// follows its parent, when the controller that started it is gone. Training checks it before
/// every step.
static STOP: AtomicBool = AtomicBool::new(false);
/// The signal that raised [`STOP`], or -1: the parent is gone.
static STOP_WHY: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// The stop flag training checks (see [`TrainJob::stop`](../../primer_torch/train/struct.TrainJob.html)).
pub fn stop_flag() -> &'static AtomicBool {
    &STOP
}

/// Whether this process was told to stop.
pub fn stopping() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Raises the stop flag for `why` (a signal number, or -1: the parent is gone).
pub fn request_stop(why: i32) {
    STOP_WHY.store(why, Ordering::Relaxed);
    STOP.store(true, Ordering::Relaxed);
}

/// The signal that stopped this process (0 if none; -1: its parent is gone).
pub fn stop_signal() -> i32 {
    STOP_WHY.load(Ordering::Relaxed)
}

/// Why this process is stopping, in words.
pub fn stop_reason() -> String {
    match STOP_WHY.load(Ordering::Relaxed) {
        -1 => "the controller that started it is gone".into(),
        libc::SIGTERM => "stopped by signal SIGTERM".into(),
        libc::SIGINT => "stopped by signal SIGINT".into(),
        libc::SIGHUP => "stopped by signal SIGHUP".into(),
        s => format!("stopped by signal {s}"),
    }
}

extern "C" fn on_stop_signal(signal: libc::c_int) {
    // Async-signal-safe: two atomic stores.
    STOP_WHY.store(signal, Ordering::Relaxed);
    STOP.store(true, Ordering::Relaxed);
}

/// SIGTERM (what Slurm, Kubernetes and `docker stop` send first), SIGINT (Ctrl-C) and SIGHUP
/// raise the stop flag ([`stopping`]) instead of ending the process: a worker gives its candidate back and exits
/// 0, a controller stops its workers first.
pub fn install_stop_signals() {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: the handler only stores to atomics, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_stop_signal as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART;
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// A current-thread runtime (a worker does one thing at a time).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// This machine's name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}
