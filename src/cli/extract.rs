//! `tuneprint extract` (not implemented yet).

use super::CliError;
use std::process::ExitCode;

/// Arguments of `tuneprint extract`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tuneprint extract`.
pub fn run(_args: &Args) -> Result<ExitCode, CliError> {
    Err(CliError::Failed("`extract` is not implemented yet".into()))
}
