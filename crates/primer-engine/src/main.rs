//! `primer-engine`: the half of `primer` that links libtorch. People run `primer`, which
//! hands the commands that train or evaluate models to this executable. Parsing and dispatch
//! only: each command is a file under `src/commands/`.

use std::process::ExitCode;

use primer_args::EngineCli;

mod commands;
mod records;
mod setup;

fn main() -> ExitCode {
    primer_campaign::exit_with(commands::run(EngineCli::parse_checked().command))
}
