//! primer-cli: the `primer` command.
//!
//! Two executables make up the command:
//! - `primer` (this package), the command people run. Its manifest has no libtorch, so the
//!   controller, the inspection commands and `primer doctor` work (and say what is wrong) even
//!   where libtorch is missing or broken.
//! - `primer-engine` (crates/primer-engine), which links libtorch (through `primer-torch`) and
//!   runs everything that trains or evaluates models ([`cli::EngineCommand`]). `primer` hands
//!   such commands to it, found next to its own executable (or at `$PRIMER_ENGINE`).
//!
//! Modules: [`analyze`] (Primer's changes and mutation use in a campaign), [`cli`] (clap definitions of both), [`campaign`] (campaign files and their resolved
//! spec), [`search`] (the controller), [`check`] (check, diff), [`bench`] (DSL and evolution benchmarks),
//! [`inspect`] (status, top, show, lineage, archive, store copy), [`work`] (the worker loop every
//! `primer worker` runs, and the simulated evaluator), [`launch`] (Slurm job arrays),
//! [`loadtest`] (`bench coordination`), [`throughput`] (`bench campaign`: candidates per core-hour
//! and where workers' time goes), [`savings`] (what hurdles and dedup saved), [`drill`] (the chaos drill and its store check), [`report`] (the campaign as one HTML
//! page, and its benchmark on a synthetic store), [`compare`]
//! (the speedup arithmetic and the plot), [`study`] (landscape studies: files, results, tables),
//! [`stats`] (Mann-Whitney U and Fisher's exact test, for comparing campaigns),
//! [`doctor`], [`demo`] (the demo's closing words), [`paths`]; beneath the commands,
//! [`resolve`] (program files, campaigns and candidates named on the command line) and [`output`]
//! (CSV, digit grouping), which commands use instead of each other. The worker and the commands
//! that train or export models (train, compare, study, rerun, export, bench train) live in
//! crates/primer-engine, which uses this library for everything that is not libtorch.
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
pub mod cli;
pub mod demo;
pub mod doctor;
pub mod drill;
pub mod inspect;
pub mod launch;
pub mod loadtest;
pub mod progress;
pub mod proposals;
pub mod report;
pub mod savings;
pub mod summary;
pub mod synthetic;
pub mod throughput;

pub use primer_campaign::pins;
