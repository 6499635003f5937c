//! `tuneprint decode` (not implemented yet).

use super::CliError;
use std::process::ExitCode;

/// Arguments of `tuneprint decode`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tuneprint decode`.
pub fn run(_args: &Args) -> Result<ExitCode, CliError> {
    Err(CliError::Failed("`decode` is not implemented yet".into()))
}
