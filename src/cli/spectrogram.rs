//! `tuneprint spectrogram` (not implemented yet).

use super::CliError;
use std::process::ExitCode;

/// Arguments of `tuneprint spectrogram`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tuneprint spectrogram`.
pub fn run(_args: &Args) -> Result<ExitCode, CliError> {
    Err(CliError::Failed("`spectrogram` is not implemented yet".into()))
}
