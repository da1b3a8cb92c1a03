//! What the engine's commands share to set up training: the device a flag names, the trainer's
//! settings from the flags, the corpus under a tokenizer, and this process's memory.

use std::path::Path;

use anyhow::{Context, Result, bail};
use primer_args::{DeviceArg, TrainArgs};
use primer_campaign::paths;
use primer_tokens::{Choice, TokenizerSpec};
use primer_torch::data::Corpus;
use primer_torch::tch::{self, Device};
use primer_torch::train::{Precision, TrainConfig};

pub fn device(d: DeviceArg) -> Result<Device> {
    match d {
        DeviceArg::Cpu => Ok(Device::Cpu),
        DeviceArg::Cuda(_) if !tch::Cuda::is_available() => {
            bail!("--device {d}: CUDA is not available here (see `primer doctor`)")
        }
        DeviceArg::Cuda(n) => Ok(Device::Cuda(n)),
    }
}

pub fn settings(t: &TrainArgs) -> Result<(TrainConfig, Device)> {
    if let Some(n) = t.threads {
        tch::set_num_threads(n as i32);
    }
    let device = device(t.device)?;
    if t.precision == Precision::Bf16 && device == Device::Cpu {
        bail!("--precision bf16 with --device cpu: {}", primer_dsl::training::CPU_BF16);
    }
    Ok((t.config(), device))
}

/// Reads a corpus and encodes it with the tokenizer `choice` names (`--tokenizer`: relative
/// tokenizer.json paths against the working folder).
pub fn load_corpus(path: &Path, window: usize, choice: &str) -> Result<(Corpus, TokenizerSpec)> {
    let choice = Choice::parse(choice, Path::new(".")).map_err(|e| anyhow::anyhow!("--tokenizer: {e}"))?;
    Corpus::load_choice(path, window, &choice)
        .with_context(|| format!("the corpus (fix: {} or pass --corpus PATH)", paths::setup_hint()))
}

/// Peak and current resident memory of this process, in MiB (from /proc/self/status).
pub fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets the peak-memory mark (Linux: writing 5 to clear_refs).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
