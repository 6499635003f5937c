//! Native port of the librosa 0.8.1 feature stack behind the GTZAN table.
//!
//! Pure DSP on `&[f32]` samples at [`crate::config::SAMPLE_RATE`]: this layer never reads files
//! and never uses tch. [`compute`] returns the 57 feature values in the order of
//! [`FEATURE_COLUMNS`], the order of `features_30_sec.csv`.

pub mod chroma;
pub mod engine;
pub mod hpss;
pub mod lanes;
pub mod mel;
pub mod mfcc;
pub mod rfft;
pub mod spectral;
pub mod stft;
pub mod summary;
pub mod tempo;

pub use summary::{compute, FeatureVector, FEATURE_COLUMNS, N_FEATURES};

/// Errors of the feature layer.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// The signal has no samples at all.
    #[error("signal is empty (0 samples)")]
    Empty,
    /// The signal holds NaN or infinite samples.
    #[error("signal holds non-finite samples")]
    NonFinite,
}
