//! Decoding songs to librosa's signal: mono `f32` at [`crate::config::SAMPLE_RATE`].
//!
//! No DSP beyond what `librosa.load` itself does (channel mean, resampling when the rate differs).

pub mod au;
pub mod decode;
pub mod resample;
pub mod tags;

use std::path::{Path, PathBuf};

/// A decoded song.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Mono samples at [`crate::config::SAMPLE_RATE`], scaled as librosa/soundfile scale them.
    pub samples: Vec<f32>,
    /// Container/codec name, e.g. `"wav"`, `"au"`, `"mp3"`, `"flac"`.
    pub format: String,
    /// Sample rate of the file (Hz).
    pub source_rate: u32,
    /// Channels of the file.
    pub channels: usize,
}

/// Errors of the audio layer; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The path does not exist or cannot be opened.
    #[error("{path}: cannot open: {reason}")]
    Open { path: PathBuf, reason: String },
    /// The path is a directory, not a file.
    #[error("{path}: is a directory, not an audio file")]
    IsDirectory { path: PathBuf },
    /// The file is empty or holds no audio samples.
    #[error("{path}: no audio: {reason}")]
    NoAudio { path: PathBuf, reason: String },
    /// The format is not recognised or not supported.
    #[error("{path}: unsupported or unrecognised format: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    /// The file is damaged (bad or truncated header, corrupt stream).
    #[error("{path}: corrupt audio: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// Resampling failed.
    #[error("{path}: resampling failed: {reason}")]
    Resample { path: PathBuf, reason: String },
}

/// Decodes a file to mono `f32` at [`crate::config::SAMPLE_RATE`], like `librosa.load(path)`.
pub fn load(path: &Path) -> Result<Decoded, AudioError> {
    decode::load(path)
}
