//! Batch extraction: files and folders → decoded audio → features → table rows, in parallel.

use std::path::PathBuf;

/// Errors of batch extraction; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    #[error("{path}: {source}")]
    Feature {
        path: PathBuf,
        source: crate::features::FeatureError,
    },
    #[error("{path}: cannot list folder: {reason}")]
    Walk { path: PathBuf, reason: String },
}
