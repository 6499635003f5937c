//! `tuneprint spectrogram`: the mel spectrogram of one song in dB, as a PNG.

use super::CliError;
use crate::config::{HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE};
use crate::features::{mel, stft};
use crate::report::page::MelInput;
use crate::report::spectrogram::draw_mel_spectrogram;
use ndarray::Array2;
use std::path::{Path, PathBuf};
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

/// The mel spectrogram in dB of samples at `SAMPLE_RATE` (mel bands × frames): STFT (`N_FFT`,
/// `HOP_LENGTH`) → power → `N_MELS` Slaney mel bands → `power_to_db` (ref 1, 80 dB floor), as
/// `librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr))` in librosa 0.8.1.
pub fn mel_db_of_samples(y: &[f32]) -> Array2<f32> {
    let spec = stft::stft(y, N_FFT, HOP_LENGTH);
    let power = stft::power(&spec);
    let mut db = mel::melspectrogram(power.view(), SAMPLE_RATE as f64, N_MELS);
    mel::power_to_db_inplace(&mut db);
    db
}

/// Decodes `path` and computes its mel spectrogram in dB ([`mel_db_of_samples`]).
pub fn mel_db_of_file(path: &Path) -> Result<MelInput, CliError> {
    let decoded = crate::audio::load(path)?;
    if decoded.samples.is_empty() {
        return Err(CliError::Failed(format!(
            "{}: no audio samples to draw",
            path.display()
        )));
    }
    let db = mel_db_of_samples(&decoded.samples);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok(MelInput {
        stem: crate::table::stem(&file_name).to_string(),
        file_name,
        db,
        sample_rate: SAMPLE_RATE,
        hop: HOP_LENGTH,
    })
}

/// Runs `tuneprint spectrogram`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let mel = mel_db_of_file(&args.file)?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}_mel.png", mel.stem)));
    draw_mel_spectrogram(
        &out,
        mel.db.view(),
        mel.sample_rate,
        mel.hop,
        &format!("Mel spectrogram of {}", mel.file_name),
    )?;
    println!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}
