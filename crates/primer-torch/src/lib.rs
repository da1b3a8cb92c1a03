//! primer-torch: the only crate of the workspace that links libtorch (through `tch`).
//!
//! It turns `primer-dsl` programs into libtorch models and trains them under a compute
//! budget (see `../shared/DESIGN.md`, "Training a candidate"). This first part reports what
//! libtorch the process actually loaded, for `primer doctor`.
//!
//! ```no_run
//! let info = primer_torch::runtime::LibtorchInfo::probe();
//! println!("libtorch {} from {:?}, CUDA available: {}", info.header_version, info.loaded_from, info.cuda_available);
//! ```
//!
//! Sibling crates: `primer-dsl` (programs), `primer-evolve` (search), `primer-store` (SQL),
//! `primer-cli` (the `primer` binaries).

pub mod runtime;
