//! `primer doctor`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::process::ExitCode;

use crate::doctor;
use anyhow::Result;
use primer_args::{Format, flags};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t, value_parser = flags::format())]
    pub format: Format,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let ok = doctor::report(&doctor::run_checks(), a.format);
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
