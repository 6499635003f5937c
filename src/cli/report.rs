//! `tuneprint report` (not implemented yet).

use super::CliError;
use std::process::ExitCode;

/// Arguments of `tuneprint report`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tuneprint report`.
pub fn run(_args: &Args) -> Result<ExitCode, CliError> {
    Err(CliError::Failed("`report` is not implemented yet".into()))
}
