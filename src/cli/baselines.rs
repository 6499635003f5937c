//! `tuneprint baselines` (not implemented yet).

use super::CliError;
use std::process::ExitCode;

/// Arguments of `tuneprint baselines`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tuneprint baselines`.
pub fn run(_args: &Args) -> Result<ExitCode, CliError> {
    Err(CliError::Failed("`baselines` is not implemented yet".into()))
}
