//! primer-cli: the `primer` command.
//!
//! Two executables make up the command:
//! - `primer` (this package), the command people run. Its manifest has no libtorch, so the
//!   controller, the inspection commands and `primer doctor` work (and say what is wrong) even
//!   where libtorch is missing or broken.
//! - `primer-engine` (crates/primer-engine), which links libtorch (through `primer-torch`) and
//!   runs everything that trains or evaluates models (`primer_args::EngineCommand`). `primer` hands
//!   such commands to it, found next to its own executable (or at `$PRIMER_ENGINE`).
//!
//! [`commands`] holds the command line: one file per command with its flags, dispatching to
//! the library modules that do the work: [`analyze`] (Primer's changes and mutation use in a
//! campaign), [`progress`] (campaigns side by side, with their statistics), [`proposals`] (how
//! often the sampler proposes each motif), [`check`] (check, diff), [`bench`](mod@bench) (DSL and evolution
//! benchmarks), [`inspect`] (status, top, show, lineage, archive, store copy), [`launch`] (Slurm
//! job arrays), [`loadtest`] (`bench coordination`), [`throughput`] (`bench campaign`:
//! candidates per core-hour and where workers' time goes), [`savings`] (what hurdles and dedup
//! saved), [`drill`] (the chaos drill and its store check), [`report`] (the campaign as one
//! HTML page, and its benchmark on a synthetic store), [`summary`] (the end of a search),
//! [`synthetic`] (synthetic campaigns for benchmarks and tests), [`doctor`], [`demo`] (the
//! demo's closing words). The campaign runtime (campaign files, the controller, the worker
//! loop) and what both executables share is `primer-campaign`; the flags of the commands that
//! train are `primer-args`.
//!
//! ```text
//! cargo xtask setup                  # libtorch + corpus
//! cargo build --release -p primer-cli -p primer-engine
//! target/release/primer doctor       # versions, threads, CUDA, corpus, store
//! ```

pub use primer_campaign::exit_with;

pub mod analyze;
pub mod bench;
pub mod check;
pub mod commands;
pub mod demo;
pub mod doctor;
pub mod drill;
pub mod inspect;
pub mod launch;
pub mod loadtest;
pub mod pareto;
pub mod progress;
pub mod proposals;
pub mod report;
pub mod savings;
pub mod summary;
pub mod synthetic;
pub mod throughput;

pub use primer_campaign::pins;
