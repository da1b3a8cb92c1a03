//! primer-torch: the only crate of the workspace that links libtorch (through `tch`).
//!
//! It turns `primer-dsl` programs into libtorch models and trains them under a compute
//! budget (see `../shared/DESIGN.md`, "Training a candidate"):
//!
//! - [`compile`]: program + model config -> [`Model`] (stem + the evolved layer, branching as a
//!   batched axis, fallible tensor calls only).
//! - [`data`]: a corpus (file or folder of bytes), its held-out tail, seeded batches.
//! - [`train`]: AdamW, warm-up then inverse-square-root decay, clipping, budgets in steps,
//!   tokens, FLOPs or seconds, curve points, hurdle checkpoints, [`train::Outcome`]s.
//! - [`export`]: a readable PyTorch `model.py` generated from a program, safetensors weights
//!   under its names, a check file, and a traced TorchScript module.
//! - [`patterns`]: the attention and layer-norm patterns that run fused.
//! - [`fingerprint`]: the functional fingerprint of an untrained model.
//! - [`lower`]: the lowering table, each op's libtorch call and PyTorch expression on one line.
//! - [`reference`]: hand-written Transformer and Primer-EZ for parity tests and benchmarks.
//! - [`runtime`]: which libtorch the process loaded, for `primer doctor`.
//!
//! ```no_run
//! use primer_dsl::{ModelConfig, text};
//! use primer_torch::{data::Corpus, train::{Budget, Decision, TrainConfig, TrainJob, train_program}};
//! let p = text::parse_file("search-spaces/programs/primer_ez.prim".as_ref()).unwrap();
//! let config = ModelConfig { d_model: 64, seq_len: 64, n_layers: 2, vocab: 256 };
//! let corpus = Corpus::load_bytes(".cache/corpus/shakespeare.txt".as_ref(), config.seq_len).unwrap();
//! let settings = TrainConfig::default();
//! let job = TrainJob { corpus: &corpus, config, settings: &settings, budget: Budget::Steps(100),
//!     checkpoints: &[], device: tch::Device::Cpu, stop: None };
//! let r = train_program(&p, &job, &mut |_, _| Decision::Continue, &mut |_| {});
//! println!("{:?}: validation loss {:?}", r.outcome, r.fitness);
//! ```
//!
//! Sibling crates: `primer-dsl` (programs), `primer-evolve` (search), `primer-store` (SQL),
//! `primer-cli` (the `primer` binaries).

pub mod compile;
pub mod data;
pub mod export;
pub mod fingerprint;
pub mod lower;
pub mod patterns;
pub mod reference;
pub mod runtime;
pub mod train;

pub use compile::Model;
/// The tch version this crate is built with, for callers (the engine) that need its types.
pub use tch;
