//! The engine's commands: one file each, doing their work through the library modules
//! ([`crate::setup`], [`crate::records`]) and the workspace's crates; no command imports another.
//! Their flags are declared in `primer-args` (both executables parse them).

use std::process::ExitCode;

use anyhow::Result;
use primer_args::{EngineBench, EngineCommand, EngineDrill, EngineTop};

pub mod bench;
pub mod compare;
pub mod drill;
pub mod export;
pub mod rerun;
pub mod study;
pub mod train;
pub mod worker;

/// Runs a parsed command.
pub fn run(top: EngineTop) -> Result<ExitCode> {
    let command = match top {
        EngineTop::Engine(command) => command,
        EngineTop::Bench {
            what: EngineBench::Train { steps, rounds, sizes, programs, seed, device, precision, out },
        } => {
            return bench::bench(&bench::TrainBench { steps, rounds, sizes, programs, seed, device, precision, out });
        }
        EngineTop::Bench { what: EngineBench::Matmul { threads, sizes, seconds, device, out } } => {
            return bench::bench_matmul(&threads, &sizes, seconds, device, out.as_deref());
        }
        EngineTop::Drill { what: EngineDrill::Programs { count, seed, space, keep, out, format } } => {
            return drill::programs(count, seed, space.as_deref(), keep.as_deref(), out.as_deref(), format);
        }
    };
    match command {
        EngineCommand::EngineInfo => {
            let info = primer_torch::runtime::LibtorchInfo::probe();
            println!("{}", serde_json::to_string(&info)?);
            Ok(ExitCode::SUCCESS)
        }
        EngineCommand::Train { file, budget, corpus, training, model, format } => {
            train::train(&file, budget, corpus.as_deref(), &training, &model, format)
        }
        EngineCommand::Compare { programs, budgets, seeds, svg, db, corpus, training, model, format } => {
            let db = db.unwrap_or_else(primer_campaign::paths::default_store_url);
            compare::compare(&programs, &budgets, seeds, &svg, &db, corpus.as_deref(), &training, &model, format)
        }
        EngineCommand::Export { candidate, out, format, force, budget, corpus, training, model, db } => {
            let db = db.unwrap_or_else(primer_campaign::paths::default_store_url);
            export::export(&export::Args {
                candidate: &candidate,
                out: &out,
                formats: &format,
                force,
                budget,
                corpus: corpus.as_deref(),
                training: &training,
                model: &model,
                db: &db,
            })
        }
        EngineCommand::Study { file, render, jobs, results, format } => {
            study::study(&file, render, jobs, results.as_deref(), format)
        }
        EngineCommand::Rerun { campaign, top, budget, seeds, threads, db, format } => {
            let db = db.unwrap_or_else(primer_campaign::paths::default_store_url);
            rerun::rerun(&db, &campaign, top, budget, seeds, threads, format)
        }
        worker @ EngineCommand::Worker { device, threads, .. } => {
            let args = worker.worker_args().expect("a worker command");
            worker::worker(&args, device, threads)
        }
    }
}
