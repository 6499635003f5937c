//! `tuneprint recommend` (not implemented yet).

use super::CliError;
use std::process::ExitCode;

/// Arguments of `tuneprint recommend`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tuneprint recommend`.
pub fn run(_args: &Args) -> Result<ExitCode, CliError> {
    Err(CliError::Failed("`recommend` is not implemented yet".into()))
}
