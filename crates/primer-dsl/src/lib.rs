//! primer-dsl: programs of TensorFlow-like primitives that define one decoder layer of an
//! auto-regressive language model, as in the Primer paper (So et al. 2021).
//!
//! - [`program`]: the model: a [`ValueBank`] of constants and relative dims, and
//!   [`Subprogram`]s of [`Instruction`]s, each an [`Op`] with one full argument set.
//! - [`op`]: every primitive defined once (name, arguments read, shape rule, cost, TF name).
//! - [`text`]: the `.prim` format (parse, print) and JSON.
//! - [`validate`]: structure and shape inference for a [`ModelConfig`], before any tensor.
//! - [`analysis`]: the dataflow DAG, dead code, the canonical form and hash, params and FLOPs.
//! - [`diff`]: what changed between two programs, in instructions.
//! - [`motifs`]: Primer's changes (squared ReLU, dconv after Q/K/V, shared Q/K, norms), found
//!   structurally.
//! - [`space`]: search-space configs (`search-spaces/*.toml`).
//! - [`budget`]: training budgets (steps, tokens, FLOPs, seconds) and their text form.
//! - [`sample`]: random instructions and programs, as mutations and tests need them.
//!
//! ```
//! use primer_dsl::{ModelConfig, analysis, text, validate};
//! let p = text::parse("def main(x) {\n  y = DCONV3(x)\n  z = ADD(x, y)\n}\n", "<doc>").unwrap();
//! let v = validate::validate(&p, &ModelConfig { d_model: 64, seq_len: 32, n_layers: 1, vocab: 256 }).unwrap();
//! assert_eq!(v.layer_params(), 3 * 64); // one depthwise conv: 3 weights per channel
//! assert_eq!(text::print(&p), "def main(x) {\n  y = DCONV3(x)\n  z = ADD(x, y)\n}\n");
//! println!("{}", analysis::canonical_hash(&p).short());
//! ```
//!
//! Pure Rust, no I/O beyond reading a named file. `primer-evolve` mutates these programs,
//! `primer-torch` compiles them into libtorch models, `primer-store` keeps them by hash.

pub mod analysis;
pub mod budget;
pub mod dataflow;
pub mod diff;
pub mod error;
pub mod motifs;
pub mod op;
pub mod program;
pub mod sample;
pub mod shape;
pub mod space;
pub mod text;
pub mod training;
pub mod validate;

pub use analysis::{Cost, ProgramHash, canonical_hash};
pub use error::{Invalid, Location, ParseError, ValidationError};
pub use op::Op;
pub use program::{BankEntry, Field, Instruction, ModelConfig, Program, Subprogram, ValueBank};
pub use shape::Shape;

pub use space::SearchSpace;
