//! The commands that train or evaluate models (`primer-args`' `EngineCommand`): handed to
//! `primer-engine` with the same words, except `primer worker --simulate`, which needs no
//! libtorch and runs here.

use std::process::ExitCode;

use anyhow::Result;
use primer_args::EngineCommand;

pub fn run(command: EngineCommand) -> Result<ExitCode> {
    match command {
        worker @ EngineCommand::Worker { simulate: Some(speed), .. } => {
            let args = worker.worker_args().expect("a worker command");
            let joined = primer_campaign::worker::join(&args)?;
            primer_campaign::worker::run(joined, &args, &mut primer_campaign::worker::Simulated { speed })
        }
        _ => super::exec_engine(),
    }
}
