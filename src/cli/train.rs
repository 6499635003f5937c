//! `tuneprint train` (not implemented yet).

use super::CliError;
use std::process::ExitCode;

/// Arguments of `tuneprint train`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tuneprint train`.
pub fn run(_args: &Args) -> Result<ExitCode, CliError> {
    Err(CliError::Failed("`train` is not implemented yet".into()))
}
