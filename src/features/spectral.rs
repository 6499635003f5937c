//! Frame-wise spectral features of librosa 0.8.1: RMS, spectral centroid, bandwidth, rolloff and
//! zero-crossing rate.
//!
//! The spectral ones take the magnitude spectrogram `|S|` (f32, shape `(n_fft/2+1, n_frames)`)
//! from [`super::stft`]; RMS and ZCR frame the signal themselves, each with its own padding, as
//! librosa does. The arithmetic follows numpy's dtypes step by step (f32 where librosa's arrays
//! are float32, f64 where numpy promotes), so the results agree with librosa to the last bits
//! in most elements.

use super::numpy::pairwise_sum;
use super::stft::{n_frames, pad_reflect};
use ndarray::ArrayView2;

/// `librosa.fft_frequencies(sr, n_fft)`: the centre frequency of each FFT bin,
/// `np.linspace(0, sr/2, n_fft/2 + 1)`.
pub fn fft_frequencies(sr: f64, n_fft: usize) -> Vec<f64> {
    let n = n_fft / 2 + 1;
    let half = sr / 2.0;
    if n == 1 {
        return vec![0.0];
    }
    let step = half / (n - 1) as f64;
    let mut f: Vec<f64> = (0..n).map(|i| i as f64 * step).collect();
    f[n - 1] = half;
    f
}

/// `librosa.feature.rms(y=y, frame_length, hop_length)`: the signal is reflect-padded by
/// `frame_length / 2` on each side, framed, and each frame's mean square (f32, summed pairwise as
/// numpy) is square-rooted.
pub fn rms(y: &[f32], frame_length: usize, hop_length: usize) -> Vec<f32> {
    let padded = pad_reflect(y, frame_length / 2);
    let frames = n_frames(padded.len(), frame_length, hop_length);
    let mut sq = vec![0.0f32; frame_length];
    (0..frames)
        .map(|t| {
            let frame = &padded[t * hop_length..t * hop_length + frame_length];
            for (s, &x) in sq.iter_mut().zip(frame) {
                *s = x * x;
            }
            (pairwise_sum(&sq) / frame_length as f32).sqrt()
        })
        .collect()
}

/// `librosa.feature.zero_crossing_rate(y, frame_length, hop_length)`: edge padding by
/// `frame_length / 2`, samples with `|x| <= 1e-10` count as +0, a crossing is a change of sign
/// bit between neighbours inside the frame (the first sample of a frame never counts), and the
/// rate is the crossing count over `frame_length`.
///
/// The counts are kept up to date from frame to frame (the pairs that leave and enter the frame),
/// so the cost is one pass over the signal whatever the overlap; integer counts, so exact.
pub fn zero_crossing_rate(y: &[f32], frame_length: usize, hop_length: usize) -> Vec<f64> {
    let pad = frame_length / 2;
    let frames = n_frames(y.len() + 2 * pad, frame_length, hop_length);
    zero_crossing_rate_frames(y, 0, y.len(), frame_length, hop_length, 0..frames)
}

/// [`zero_crossing_rate`] of the frames `frames` of a signal of `n` samples, of which `y` holds
/// those from `offset` on (at least the samples those frames cover).
pub fn zero_crossing_rate_frames(
    y: &[f32],
    offset: usize,
    n: usize,
    frame_length: usize,
    hop_length: usize,
    frames: std::ops::Range<usize>,
) -> Vec<f64> {
    const THRESHOLD: f32 = 1e-10;
    let pad = frame_length / 2;
    if frame_length < 2 {
        // No neighbouring pairs inside a frame.
        return vec![0.0 / frame_length as f64; frames.len()];
    }
    let neg = |x: f32| x.abs() > THRESHOLD && x.is_sign_negative();
    // Sign bit of sample `i` of the edge-padded signal (an empty signal pads to zeros).
    let at = |i: usize| -> bool {
        if n == 0 {
            false
        } else if i < pad {
            neg(y[0 - offset])
        } else if i < pad + n {
            neg(y[i - pad - offset])
        } else {
            neg(y[n - 1 - offset])
        }
    };
    // Crossings between padded samples i and i + 1 for i in [a, b).
    let count = |a: usize, b: usize| -> usize {
        if a >= b {
            return 0;
        }
        if a >= pad && b < pad + n {
            sign_changes(&y[a - pad - offset..=b - pad - offset], THRESHOLD)
        } else {
            (a..b).filter(|&i| at(i) != at(i + 1)).count()
        }
    };
    let pairs = frame_length - 1;
    let mut out = Vec::with_capacity(frames.len());
    let mut c = 0usize;
    let first = frames.start;
    for t in frames {
        let start = t * hop_length;
        if t == first {
            c = count(start, start + pairs);
        } else {
            let prev = start - hop_length;
            // Pairs [prev, prev + pairs) become [start, start + pairs).
            if hop_length >= pairs {
                c = count(start, start + pairs);
            } else {
                c = c + count(prev + pairs, start + pairs) - count(prev, start);
            }
        }
        out.push(c as f64 / frame_length as f64);
    }
    out
}

super::lanes::simd_fn! {
    /// Neighbouring pairs of `x` whose signs differ, a value counting as negative when it is
    /// below `-threshold` (`|x| > threshold` and sign bit set; NaN and zeros are positive).
    fn sign_changes(x: &[f32], threshold: f32) -> usize {
        let mut count = 0u32;
        if let Some(next) = x.get(1..) {
            for (&a, &b) in x.iter().zip(next) {
                count += u32::from((a < -threshold) != (b < -threshold));
            }
        }
        count as usize
    }
}

/// `util.normalize(S, norm=1, axis=0)` of one float32 column: the column divided by its f64 sum
/// (left alone below float32's `tiny`), stored back as f32.
fn l1_normalized(col: impl Iterator<Item = f32>, buf64: &mut Vec<f64>, out: &mut Vec<f32>) {
    buf64.clear();
    buf64.extend(col.map(f64::from));
    let mut length = pairwise_sum(buf64.as_slice());
    if length < f64::from(f32::MIN_POSITIVE) {
        length = 1.0;
    }
    out.clear();
    out.extend(buf64.iter().map(|&x| (x / length) as f32));
}

/// `librosa.feature.spectral_centroid(S=|S|, freq=freqs)`: per frame, the frequencies weighted by
/// the L1-normalised magnitudes. A silent frame gives 0.
pub fn spectral_centroid(mag: ArrayView2<f32>, freqs: &[f64]) -> Vec<f64> {
    let mut buf64 = Vec::with_capacity(mag.nrows());
    let mut norm = Vec::with_capacity(mag.nrows());
    let mut prod = Vec::with_capacity(mag.nrows());
    mag.columns()
        .into_iter()
        .map(|col| {
            l1_normalized(col.iter().copied(), &mut buf64, &mut norm);
            prod.clear();
            prod.extend(freqs.iter().zip(&norm).map(|(&f, &s)| f * f64::from(s)));
            pairwise_sum(prod.as_slice())
        })
        .collect()
}

/// `librosa.feature.spectral_bandwidth(S=|S|, centroid=centroid)` with `p=2, norm=True`:
/// `sqrt(Σ s_k (f_k − centroid)²)` with `s` the L1-normalised magnitudes of the frame.
pub fn spectral_bandwidth(mag: ArrayView2<f32>, freqs: &[f64], centroid: &[f64]) -> Vec<f64> {
    let mut buf64 = Vec::with_capacity(mag.nrows());
    let mut norm = Vec::with_capacity(mag.nrows());
    let mut prod = Vec::with_capacity(mag.nrows());
    mag.columns()
        .into_iter()
        .zip(centroid)
        .map(|(col, &c)| {
            l1_normalized(col.iter().copied(), &mut buf64, &mut norm);
            prod.clear();
            prod.extend(freqs.iter().zip(&norm).map(|(&f, &s)| {
                let d = (f - c).abs();
                f64::from(s) * (d * d)
            }));
            pairwise_sum(prod.as_slice()).sqrt()
        })
        .collect()
}

/// Reusable buffers of [`centroid_bandwidth`].
#[derive(Debug, Default)]
pub struct FrameScratch {
    buf64: Vec<f64>,
    prod: Vec<f64>,
}

/// The spectral centroid and bandwidth of one frame of `|S|` (`freqs.len()` bins), exactly as
/// [`spectral_centroid`] and [`spectral_bandwidth`] compute them, with the L1 normalisation
/// done once.
pub fn centroid_bandwidth(col: &[f32], freqs: &[f64], s: &mut FrameScratch) -> (f64, f64) {
    let n = col.len().min(freqs.len());
    s.buf64.resize(n, 0.0);
    s.prod.resize(n, 0.0);
    centroid_bandwidth_kernel(&col[..n], &freqs[..n], &mut s.buf64, &mut s.prod)
}

super::lanes::simd_fn! {
    /// [`centroid_bandwidth`] on buffers of the frame's length: `norm` receives the normalised
    /// frame (as f64 of its f32 values), `prod` the terms of each sum.
    fn centroid_bandwidth_kernel(
        col: &[f32],
        freqs: &[f64],
        norm: &mut [f64],
        prod: &mut [f64],
    ) -> (f64, f64) {
        // util.normalize(norm=1): the f64 column over its pairwise sum, stored as f32.
        for (b, &x) in norm.iter_mut().zip(col) {
            *b = f64::from(x);
        }
        let mut length = super::numpy::pairwise_sum_f64(norm);
        if length < f64::from(f32::MIN_POSITIVE) {
            length = 1.0;
        }
        for ((b, p), &f) in norm.iter_mut().zip(prod.iter_mut()).zip(freqs) {
            *b = f64::from((*b / length) as f32);
            *p = f * *b;
        }
        let centroid = super::numpy::pairwise_sum_f64(prod);
        for ((p, &f), &x) in prod.iter_mut().zip(freqs).zip(norm.iter()) {
            let d = (f - centroid).abs();
            *p = x * (d * d);
        }
        (centroid, super::numpy::pairwise_sum_f64(prod).sqrt())
    }
}

/// `librosa.feature.spectral_rolloff(S=|S|, roll_percent)`: per frame, the lowest bin frequency
/// where the running f32 sum of magnitudes reaches `roll_percent` (rounded to f32) of the
/// frame total. A silent frame gives 0 Hz.
pub fn spectral_rolloff(mag: ArrayView2<f32>, freqs: &[f64], roll_percent: f64) -> Vec<f64> {
    let pct = roll_percent as f32;
    let mut cum = Vec::with_capacity(mag.nrows());
    mag.columns()
        .into_iter()
        .map(|col| {
            cum.clear();
            let mut acc = 0.0f32;
            for &x in col {
                acc += x;
                cum.push(acc);
            }
            let threshold = pct * acc;
            let k = cum.iter().position(|&c| c >= threshold).unwrap_or(0);
            freqs[k]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn fft_frequencies_are_the_bin_centres() {
        let f = fft_frequencies(22050.0, 2048);
        assert_eq!(f.len(), 1025);
        assert_eq!(f[1], 10.7666015625);
        assert_eq!(f[1024], 11025.0);
    }

    #[test]
    fn zcr_counts_sign_changes_with_threshold() {
        // Frame 8, hop 4, edge padding 4: [1,1,1,1, 1,-1,1e-11,-1, -1,-1,-1,-1]
        let y = [1.0, -1.0, 1e-11, -1.0];
        let z = zero_crossing_rate(&y, 8, 4);
        // frame 0 = [1,1,1,1,1,-1,+0,-1]: 3 changes; frame 1 = [1,-1,+0,-1,-1,-1,-1,-1]: 3.
        assert_eq!(z, vec![3.0 / 8.0, 3.0 / 8.0]);
    }

    #[test]
    fn rolloff_and_centroid_of_a_single_peak() {
        let mut m = Array2::<f32>::zeros((5, 2));
        m[[3, 0]] = 2.0;
        let f = [0.0, 10.0, 20.0, 30.0, 40.0];
        assert_eq!(spectral_rolloff(m.view(), &f, 0.85), vec![30.0, 0.0]);
        assert_eq!(spectral_centroid(m.view(), &f), vec![30.0, 0.0]);
        assert_eq!(
            spectral_bandwidth(m.view(), &f, &[30.0, 0.0]),
            vec![0.0, 0.0]
        );
    }

    #[test]
    fn rms_of_a_constant_is_the_constant() {
        let r = rms(&[0.5f32; 4000], 2048, 512);
        assert_eq!(r.len(), 1 + 4000 / 512);
        assert!(r.iter().all(|&x| x == 0.5));
    }
}
