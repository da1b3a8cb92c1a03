//! The command line: clap definitions shared by `primer` and `primer-engine`.

use clap::{Parser, Subcommand, ValueEnum};

/// Evolutionary search over programs of primitives that define a Transformer decoder layer.
#[derive(Debug, Parser)]
#[command(name = "primer", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of commands that list or report things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the installation: versions, libtorch, threads, CUDA, corpus, store.
    ///
    /// Exits non-zero, with the command that fixes it, when something is missing.
    Doctor {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Run the main job: a check of the installation and of the reference programs.
    Demo,
    /// (engine) Print what libtorch the engine loaded, as JSON.
    #[command(hide = true)]
    EngineInfo,
}

impl Command {
    /// Commands that need libtorch run in `primer-engine`.
    pub fn needs_engine(&self) -> bool {
        matches!(self, Command::EngineInfo)
    }
}
