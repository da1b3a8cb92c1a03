//! `primer-engine`: the half of `primer` that links libtorch. People run `primer`, which
//! hands the commands that train or evaluate models to this executable.

use std::process::ExitCode;

use anyhow::Result;
use primer_args::{EngineBench, EngineCli, EngineCommand, EngineDrill, EngineTop};

mod compare;
mod drill;
mod export;
mod rerun;
mod study;
mod train;
mod worker;

fn main() -> ExitCode {
    primer_campaign::exit_with(run())
}

fn run() -> Result<ExitCode> {
    let cli = EngineCli::parse_checked();
    let command = match cli.command {
        EngineTop::Engine(command) => command,
        EngineTop::Bench { what: EngineBench::Train { steps, rounds, sizes, programs, seed, device, out } } => {
            return train::bench(&train::TrainBench { steps, rounds, sizes, programs, seed, device, out });
        }
        EngineTop::Bench { what: EngineBench::Matmul { threads, sizes, seconds, device, out } } => {
            return train::bench_matmul(&threads, &sizes, seconds, device, out.as_deref());
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
