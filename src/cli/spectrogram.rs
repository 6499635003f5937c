//! `tuneprint spectrogram`: the mel spectrogram of one song in dB, as a PNG.

use super::CliError;
use crate::report::page::MelInput;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `tuneprint spectrogram`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The song (any supported audio format).
    pub file: PathBuf,
    /// Output PNG [default: `<stem>_mel.png` in the current folder].
    #[arg(short, long, value_name = "PNG")]
    pub output: Option<PathBuf>,
}

/// Runs `tuneprint spectrogram`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let mel = MelInput::of_file(&args.file)?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}_mel.png", mel.stem)));
    mel.draw(&out)?;
    println!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}
