//! primer-campaign: the campaign runtime both executables share, with no clap and no libtorch.
//!
//! The runtime:
//! - [`spec`]: campaign files (TOML) and the spec they resolve to;
//! - [`controller`]: `primer search`, the controller that breeds children, queues them, keeps
//!   local workers running, requeues and blames what died, and stops cleanly; its loop is a
//!   sequence of named steps ([`controller::Memory::sync`], [`controller::queue_depth`],
//!   [`controller::horizon`], [`controller::pool`]'s reaping and blame), each unit-tested where
//!   it decides something;
//! - [`worker`]: the loop every worker runs (join, register, heartbeat, claim, evaluate,
//!   record), the evaluator a trait ([`worker::Evaluate`]) that `primer-engine` implements
//!   with libtorch and [`worker::Simulated`] without;
//! - [`devices`]: where local workers run (devices round-robin, workers per device, pinned
//!   cores);
//! - [`signals`]: the stop flag and the signals that raise it; [`records`]: domain values as
//!   store rows.
//!
//! Beneath the commands of both executables: [`paths`] (set-up folders, the engine, the
//! default store), [`resolve`] (program files, campaigns and candidates named on the command
//! line), [`output`] (CSV, digit grouping), [`compare`] (speedup arithmetic and SVG plots),
//! [`stats`] (Mann-Whitney U, Fisher's exact test, Kendall's tau), [`placement`] (where hurdles
//! rank like the end), [`study`] (landscape studies: files, results, tables) and
//! [`disturbance`] (whether another process disturbed a measurement), [`reruns`] (candidates
//! ranked by their retrainings).

pub mod compare;
pub mod controller;
pub mod devices;
pub mod disturbance;
pub mod output;
pub mod paths;
pub mod placement;
pub mod records;
pub mod reruns;
pub mod resolve;
pub mod reuse;
pub mod seeds;
pub mod signals;
pub mod spec;
pub mod stats;
pub mod study;
pub mod worker;

/// Pinned versions and checksums, shared with `cargo xtask setup` (one source of truth).
pub mod pins {
    include!("../../xtask/src/pins.rs");
}

/// The exit of both executables: the code, or the error printed once with its chain.
pub fn exit_with(result: anyhow::Result<std::process::ExitCode>) -> std::process::ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
