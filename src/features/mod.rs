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
pub mod numpy;
pub mod rfft;
pub mod spectral;
pub mod stft;
pub mod stream;
pub mod summary;
pub mod tempo;

pub use engine::{compute, FeatureError};
pub use stream::{compute_stream, Tape, STREAM_PART_FRAMES};
pub use summary::{FeatureVector, FEATURE_COLUMNS, N_FEATURES};
