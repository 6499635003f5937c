//! `tuneprint embed` (not implemented yet).

use super::CliError;
use std::process::ExitCode;

/// Arguments of `tuneprint embed`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tuneprint embed`.
pub fn run(_args: &Args) -> Result<ExitCode, CliError> {
    Err(CliError::Failed("`embed` is not implemented yet".into()))
}
