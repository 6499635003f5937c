//! `tuneprint check` (not implemented yet).

use super::CliError;
use std::process::ExitCode;

/// Arguments of `tuneprint check`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tuneprint check`.
pub fn run(_args: &Args) -> Result<ExitCode, CliError> {
    Err(CliError::Failed("`check` is not implemented yet".into()))
}
