//! What libtorch this process loaded: version, location, threads, CUDA.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The libtorch this process runs on, as seen from inside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LibtorchInfo {
    /// The libtorch version in the headers this crate was compiled against.
    pub header_version: String,
    /// The real path of the `libtorch_cpu.so` mapped into this process.
    pub loaded_from: Option<PathBuf>,
    /// The `torch/version.py` of the wheel that library came from (says e.g. `2.13.0+cu130`).
    pub version_file: Option<PathBuf>,
    /// Whether `libtorch_cuda.so` is mapped into this process (a CUDA-enabled build).
    pub cuda_linked: bool,
    /// `torch::cuda::is_available()`.
    pub cuda_available: bool,
    /// `torch::cuda::device_count()`.
    pub cuda_devices: i64,
    /// Why CUDA is not available, when it is not.
    pub cuda_reason: Option<String>,
    /// libtorch's intra-op thread count.
    pub threads: i32,
}

impl LibtorchInfo {
    /// Asks libtorch and the dynamic loader (through `/proc/self/maps`).
    pub fn probe() -> Self {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        let mapped = |name: &str| -> Option<PathBuf> {
            maps.lines()
                .filter_map(|l| l.split_whitespace().nth(5))
                .find(|p| Path::new(p).file_name().is_some_and(|f| f == name))
                .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| PathBuf::from(p)))
        };
        let loaded_from = mapped("libtorch_cpu.so");
        let version_file = loaded_from
            .as_deref()
            .and_then(|lib| lib.parent()?.parent().map(|torch| torch.join("version.py")))
            .filter(|py| py.exists());
        let cuda_linked = mapped("libtorch_cuda.so").is_some();
        let cuda_available = tch::Cuda::is_available();
        let cuda_devices = tch::Cuda::device_count();
        let cuda_reason = if cuda_available {
            None
        } else if !cuda_linked {
            Some("CPU-only build: libtorch_cuda is not linked (run `cargo xtask setup --cuda` for a CUDA build)".into())
        } else if !Path::new("/proc/driver/nvidia/version").exists() {
            Some("CUDA build, but no NVIDIA driver is loaded on this machine (/proc/driver/nvidia absent)".into())
        } else {
            Some("CUDA build and NVIDIA driver present, but libtorch sees no usable device".into())
        };
        LibtorchInfo {
            header_version: env!("PRIMER_LIBTORCH_HEADER_VERSION").into(),
            loaded_from,
            version_file,
            cuda_linked,
            cuda_available,
            cuda_devices,
            cuda_reason,
            threads: tch::get_num_threads(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_sees_the_loaded_libtorch() {
        let info = LibtorchInfo::probe();
        assert_eq!(info.header_version, "2.13.0");
        let lib = info.loaded_from.expect("libtorch_cpu.so is mapped into the test process");
        assert!(lib.ends_with("torch/lib/libtorch_cpu.so"), "{}", lib.display());
        let version = std::fs::read_to_string(info.version_file.unwrap()).unwrap();
        assert!(version.contains("__version__ = '2.13.0"), "{version}");
        assert!(info.threads >= 1);
        assert_eq!(info.cuda_available, info.cuda_devices > 0);
    }
}
