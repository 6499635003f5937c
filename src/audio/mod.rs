//! Decoding songs to librosa's signal: mono `f32` at [`crate::config::SAMPLE_RATE`].
//!
//! No DSP beyond what `librosa.load` itself does (channel mean, resampling when the rate differs).

pub mod au;
pub mod decode;
pub mod mix;
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

/// What [`stream`] decoded (its samples went to the sink).
#[derive(Debug, Clone, PartialEq)]
pub struct Streamed {
    /// Container/codec name, e.g. `"wav"`, `"mp3"`.
    pub format: String,
    /// Sample rate of the file (Hz).
    pub source_rate: u32,
    /// Channels of the file.
    pub channels: usize,
    /// Mono samples at [`crate::config::SAMPLE_RATE`] handed to the sink.
    pub samples: usize,
}

/// What to load and how, as the arguments of `librosa.load` (0.8.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadOptions {
    /// The rate to resample to (`kaiser_best`); `None` keeps the file's rate.
    pub sr: Option<u32>,
    /// Average the channels (`numpy.mean` over them in `f32`), else keep each.
    pub mono: bool,
    /// Seconds skipped at the start (`int(offset * rate)` frames of the file).
    pub offset: f64,
    /// Seconds kept (`int(duration * rate)` frames of the file); `None` for the rest.
    pub duration: Option<f64>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            sr: Some(crate::config::SAMPLE_RATE),
            mono: true,
            offset: 0.0,
            duration: None,
        }
    }
}

/// Samples as [`load_with`] returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// One signal per channel (one in all when mixed to mono), all of one length.
    pub channels: Vec<Vec<f32>>,
    /// Their rate (Hz).
    pub rate: u32,
    /// Container/codec name, e.g. `"wav"`, `"mp3"`.
    pub format: String,
    /// Sample rate of the file (Hz).
    pub source_rate: u32,
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
    /// The caller could not keep the decoded samples (e.g. its scratch file).
    #[error("{path}: cannot keep the decoded signal: {reason}")]
    Keep { path: PathBuf, reason: String },
    /// Resampling failed.
    #[error("{path}: resampling failed: {reason}")]
    Resample { path: PathBuf, reason: String },
}

/// Decodes a file as `librosa.load(path, sr, mono, offset, duration)` does (see [`LoadOptions`]).
pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<Loaded, AudioError> {
    decode::load_with(path, decode::read_file(path)?, opts)
}

/// [`load`] in bounded memory: the same samples handed to `sink` piece by piece, in order.
pub fn stream(
    path: &Path,
    sink: &mut dyn FnMut(&[f32]) -> Result<(), String>,
) -> Result<Streamed, AudioError> {
    decode::stream(path, sink)
}

/// The length of a file's audio in seconds as its headers tell, without decoding it (`None`
/// when they do not tell).
pub fn duration_hint(path: &Path) -> Option<f64> {
    decode::duration_hint(path)
}

/// Decodes a file to mono `f32` at [`crate::config::SAMPLE_RATE`], like `librosa.load(path)`.
pub fn load(path: &Path) -> Result<Decoded, AudioError> {
    decode::load(path)
}
