//! The 57 GTZAN features of one signal: every stage computed once, then mean and variance.

use super::FeatureError;

/// Number of feature columns (everything of the CSV but filename, length and label).
pub const N_FEATURES: usize = 57;

/// Feature column names in the order of `features_30_sec.csv`.
pub const FEATURE_COLUMNS: [&str; N_FEATURES] = [
    "chroma_stft_mean",
    "chroma_stft_var",
    "rms_mean",
    "rms_var",
    "spectral_centroid_mean",
    "spectral_centroid_var",
    "spectral_bandwidth_mean",
    "spectral_bandwidth_var",
    "rolloff_mean",
    "rolloff_var",
    "zero_crossing_rate_mean",
    "zero_crossing_rate_var",
    "harmony_mean",
    "harmony_var",
    "perceptr_mean",
    "perceptr_var",
    "tempo",
    "mfcc1_mean",
    "mfcc1_var",
    "mfcc2_mean",
    "mfcc2_var",
    "mfcc3_mean",
    "mfcc3_var",
    "mfcc4_mean",
    "mfcc4_var",
    "mfcc5_mean",
    "mfcc5_var",
    "mfcc6_mean",
    "mfcc6_var",
    "mfcc7_mean",
    "mfcc7_var",
    "mfcc8_mean",
    "mfcc8_var",
    "mfcc9_mean",
    "mfcc9_var",
    "mfcc10_mean",
    "mfcc10_var",
    "mfcc11_mean",
    "mfcc11_var",
    "mfcc12_mean",
    "mfcc12_var",
    "mfcc13_mean",
    "mfcc13_var",
    "mfcc14_mean",
    "mfcc14_var",
    "mfcc15_mean",
    "mfcc15_var",
    "mfcc16_mean",
    "mfcc16_var",
    "mfcc17_mean",
    "mfcc17_var",
    "mfcc18_mean",
    "mfcc18_var",
    "mfcc19_mean",
    "mfcc19_var",
    "mfcc20_mean",
    "mfcc20_var",
];

/// The 57 feature values of one signal, in [`FEATURE_COLUMNS`] order.
pub type FeatureVector = [f64; N_FEATURES];

/// Mean and population variance (ddof = 0) of a sequence, accumulated in f64.
pub fn mean_var<I: IntoIterator<Item = f64>>(values: I) -> (f64, f64) {
    let v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var)
}

/// Computes the 57 features of a mono signal at [`crate::config::SAMPLE_RATE`].
pub fn compute(y: &[f32]) -> Result<FeatureVector, FeatureError> {
    if y.is_empty() {
        return Err(FeatureError::Empty);
    }
    if y.iter().any(|x| !x.is_finite()) {
        return Err(FeatureError::NonFinite);
    }
    todo!("wire the stages together")
}
