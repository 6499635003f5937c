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

/// Inner-loop length of numpy's buffered reductions: a sum over more elements is done in chunks
/// of this many, each summed pairwise, the chunk sums added in order.
const NUMPY_BUFSIZE: usize = 8192;

/// numpy's pairwise summation (`pairwise_sum` of its add-reduce loop) in the element type:
/// below 8 elements a plain loop, up to 128 eight interleaved partial sums, above that the
/// halves (split at a multiple of 8) recursively.
pub fn pairwise_sum<T>(a: &[T]) -> T
where
    T: Copy + Default + std::ops::Add<Output = T>,
{
    if a.len() <= 128 {
        pairwise_leaf(a)
    } else {
        let (lo, hi) = a.split_at(pairwise_split(a.len()));
        pairwise_sum(lo) + pairwise_sum(hi)
    }
}

/// Where [`pairwise_sum`] splits `n > 128` elements.
#[inline(always)]
fn pairwise_split(n: usize) -> usize {
    let n2 = n / 2;
    n2 - n2 % 8
}

/// [`pairwise_sum`] of at most 128 elements.
#[inline(always)]
fn pairwise_leaf<T>(a: &[T]) -> T
where
    T: Copy + Default + std::ops::Add<Output = T>,
{
    let n = a.len();
    if n < 8 {
        let mut res = T::default();
        for &x in a {
            res = res + x;
        }
        res
    } else {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let full = n - n % 8;
        for chunk in a[8..full].chunks_exact(8) {
            for (rj, &x) in r.iter_mut().zip(chunk) {
                *rj = *rj + x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[full..] {
            res = res + x;
        }
        res
    }
}

super::lanes::simd_fn! {
    /// [`pairwise_sum`] of f64 values (the same sums, vectorised for the CPU).
    pub fn pairwise_sum_f64(a: &[f64]) -> f64 {
        if a.len() <= 128 {
            pairwise_leaf(a)
        } else {
            let (lo, hi) = a.split_at(pairwise_split(a.len()));
            pairwise_sum_f64(lo) + pairwise_sum_f64(hi)
        }
    }
}

super::lanes::simd_fn! {
    /// [`pairwise_sum`] of f32 values (the same sums, vectorised for the CPU).
    pub fn pairwise_sum_f32(a: &[f32]) -> f32 {
        if a.len() <= 128 {
            pairwise_leaf(a)
        } else {
            let (lo, hi) = a.split_at(pairwise_split(a.len()));
            pairwise_sum_f32(lo) + pairwise_sum_f32(hi)
        }
    }
}

/// `np.sum(a)` of a whole array in its own dtype (numpy 1.23): pairwise sums of chunks of 8192
/// elements, accumulated in order.
pub fn numpy_sum<T>(a: &[T]) -> T
where
    T: Copy + Default + std::ops::Add<Output = T>,
{
    let mut acc = T::default();
    for chunk in a.chunks(NUMPY_BUFSIZE) {
        acc = acc + pairwise_sum(chunk);
    }
    acc
}

/// `(np.mean(a), np.var(a))` of a float32 array, computed as numpy 1.23 does it: in f32
/// throughout (the sums as [`numpy_sum`], the deviations `a - mean` squared in f32). `a` is
/// the array's elements in memory (C) order. An empty slice gives (0, 0).
pub fn mean_var_f32(a: &[f32]) -> (f64, f64) {
    if a.is_empty() {
        return (0.0, 0.0);
    }
    let n = a.len() as f32;
    let mut sum = 0.0f32;
    for chunk in a.chunks(NUMPY_BUFSIZE) {
        sum += pairwise_sum_f32(chunk);
    }
    let mean = sum / n;
    // The squared deviations chunk by chunk (numpy sums the whole array in these chunks).
    let mut sq = vec![0.0f32; NUMPY_BUFSIZE.min(a.len())];
    let mut ss = 0.0f32;
    for chunk in a.chunks(NUMPY_BUFSIZE) {
        let sq = &mut sq[..chunk.len()];
        squared_deviations_f32(chunk, mean, sq);
        ss += pairwise_sum_f32(sq);
    }
    (f64::from(mean), f64::from(ss / n))
}

super::lanes::simd_fn! {
    /// `(x - mean)²` of each element, in f32.
    fn squared_deviations_f32(a: &[f32], mean: f32, out: &mut [f32]) {
        for (o, &x) in out.iter_mut().zip(a) {
            let d = x - mean;
            *o = d * d;
        }
    }
}

/// Mean and population variance (ddof = 0) of a sequence of f64, as `np.mean` / `np.var` of a
/// float64 array (same summation order, see [`numpy_sum`]). An empty sequence gives (0, 0).
pub fn mean_var<I: IntoIterator<Item = f64>>(values: I) -> (f64, f64) {
    let v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let n = v.len() as f64;
    let mut sum = 0.0f64;
    for chunk in v.chunks(NUMPY_BUFSIZE) {
        sum += pairwise_sum_f64(chunk);
    }
    let mean = sum / n;
    let sq: Vec<f64> = v.iter().map(|x| (x - mean) * (x - mean)).collect();
    let mut ss = 0.0f64;
    for chunk in sq.chunks(NUMPY_BUFSIZE) {
        ss += pairwise_sum_f64(chunk);
    }
    (mean, ss / n)
}

/// Computes the 57 features of a mono signal at [`crate::config::SAMPLE_RATE`], as the reference
/// recipe (`librosa_features.py`) does with librosa 0.8.1.
///
/// The STFT is computed once, streamed block by block through every stage by
/// [`super::engine::analyse`] (results identical to the stage functions of the sibling modules):
/// its magnitude feeds the centroid, bandwidth and rolloff, its power the chroma (with its own
/// tuning estimate) and the mel spectrogram in dB, which is shared by the MFCCs and the onset
/// envelope behind the tempo; the complex STFT feeds the harmonic/percussive separation. RMS and
/// zero-crossing rate frame the signal themselves. Means and variances are numpy's: float32
/// arrays (chroma over all bins and frames, RMS, harmonic, percussive, each MFCC over its frames)
/// in f32 via [`mean_var_f32`], float64 ones (centroid, bandwidth, rolloff, ZCR) via
/// [`mean_var`].
///
/// Short signals (even one sample) work as in librosa: a single frame or more, from the
/// reflect-padded signal. Silence gives zeros everywhere except the MFCCs of the -100 dB floor
/// (`mfcc1_mean` = -100·√128), as librosa. Errors: an empty signal, or one with NaN/∞ samples.
pub fn compute(y: &[f32]) -> Result<FeatureVector, FeatureError> {
    check_signal(y)?;
    Ok(super::engine::analyse_then(y, None, summarise))
}

/// [`compute`], also returning the time spent in each stage (the summary statistics counted in
/// [`super::engine::StageTimes::summary`]).
pub fn compute_timed(
    y: &[f32],
) -> Result<(FeatureVector, super::engine::StageTimes), FeatureError> {
    check_signal(y)?;
    let mut times = super::engine::StageTimes::default();
    let f = super::engine::analyse_then(y, Some(&mut times), |a| {
        let start = std::time::Instant::now();
        let f = summarise(a);
        (f, start.elapsed())
    });
    times.summary = f.1;
    Ok((f.0, times))
}

fn check_signal(y: &[f32]) -> Result<(), FeatureError> {
    if y.is_empty() {
        return Err(FeatureError::Empty);
    }
    if y.iter().any(|x| !x.is_finite()) {
        return Err(FeatureError::NonFinite);
    }
    Ok(())
}

/// The 57 means, variances and the tempo of an analysis.
pub fn summarise(a: &super::engine::Analysis) -> FeatureVector {
    let mut out = [0.0f64; N_FEATURES];
    let mut put = |name: &str, (mean, var): (f64, f64)| {
        let i = FEATURE_COLUMNS
            .iter()
            .position(|c| *c == format!("{name}_mean"))
            .expect("known column");
        out[i] = mean;
        out[i + 1] = var;
    };
    put("chroma_stft", mean_var_f32(&a.chroma));
    put("rms", mean_var_f32(&a.rms));
    put("spectral_centroid", mean_var(a.centroid.iter().copied()));
    put("spectral_bandwidth", mean_var(a.bandwidth.iter().copied()));
    put("rolloff", mean_var(a.rolloff.iter().copied()));
    put("zero_crossing_rate", mean_var(a.zcr.iter().copied()));
    put("harmony", mean_var_f32(&a.harmonic));
    put("perceptr", mean_var_f32(&a.percussive));
    for (k, row) in a.mfcc.chunks_exact(a.n_frames).enumerate() {
        put(&format!("mfcc{}", k + 1), mean_var_f32(row));
    }
    let tempo_idx = FEATURE_COLUMNS
        .iter()
        .position(|c| *c == "tempo")
        .expect("known column");
    out[tempo_idx] = a.tempo;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_var_is_population_statistics() {
        let (m, v) = mean_var([1.0, 2.0, 3.0, 4.0]);
        assert_eq!((m, v), (2.5, 1.25));
        assert_eq!(mean_var(std::iter::empty()), (0.0, 0.0));
        let (m, v) = mean_var_f32(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!((m, v), (2.5, 1.25));
        assert_eq!(mean_var_f32(&[7.5]), (7.5, 0.0));
    }

    #[test]
    fn numpy_sum_order() {
        // f32 spacing at 2^24 is 2, so the order of adding ones to 2^24 shows. numpy's pairwise
        // sum of [2^24, 1 × 8] adds the first eight as ((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7)) =
        // (2^24 + 2) + 4 (the lone +1 rounds away), then the ninth: 2^24 + 7 rounds to even, 2^24 + 8.
        let mut a = vec![1.0f32; 9];
        a[0] = 16_777_216.0;
        assert_eq!(pairwise_sum(&a), 16_777_224.0);
        let naive: f32 = a.iter().sum();
        assert_eq!(naive, 16_777_216.0);
        // Above 8192 elements numpy sums chunk by chunk.
        let b = vec![0.1f32; 20_000];
        let chunked =
            pairwise_sum(&b[..8192]) + pairwise_sum(&b[8192..16384]) + pairwise_sum(&b[16384..]);
        assert_eq!(numpy_sum(&b), chunked);
    }

    #[test]
    fn compute_rejects_bad_input() {
        assert!(matches!(compute(&[]), Err(FeatureError::Empty)));
        assert!(matches!(
            compute(&[0.0, f32::NAN]),
            Err(FeatureError::NonFinite)
        ));
        assert!(matches!(
            compute(&[f32::INFINITY]),
            Err(FeatureError::NonFinite)
        ));
    }
}
