//! `tuneprint classify` (not implemented yet).

use super::CliError;
use std::process::ExitCode;

/// Arguments of `tuneprint classify`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tuneprint classify`.
pub fn run(_args: &Args) -> Result<ExitCode, CliError> {
    Err(CliError::Failed("`classify` is not implemented yet".into()))
}
