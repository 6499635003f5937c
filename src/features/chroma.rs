//! Chromagram as `librosa.feature.chroma_stft(y, sr)` (librosa 0.8.1), with the tuning estimate
//! it makes first.
//!
//! `chroma_stft` works on the power spectrogram `|S|²` and estimates the tuning from that same
//! power spectrogram (`estimate_tuning(S=|S|², ...)`): [`chroma_stft`] does likewise. Note that
//! the recipe's separate `tuning` output, `estimate_tuning(y=y)`, runs on the magnitude `|S|`
//! and can differ; [`estimate_tuning`] takes either.
//!
//! The pitch tracking works in f32 as numpy does on float32 spectrograms (the tuning is a
//! histogram argmax, where one flipped comparison could move it by 0.01 of a semitone).

use super::spectral::fft_frequencies;
use ndarray::{Array2, ArrayView2};

/// Lowest frequency `piptrack` looks at (Hz).
const PIP_FMIN: f64 = 150.0;
/// Frequency `piptrack` looks below (Hz).
const PIP_FMAX: f64 = 4000.0;
/// `piptrack`'s threshold relative to each frame's maximum.
const PIP_THRESHOLD: f32 = 0.1;
/// Histogram resolution of `pitch_tuning` (fractions of a bin).
const TUNING_RESOLUTION: f64 = 0.01;

/// One peak found by [`piptrack`]: its interpolated frequency and magnitude, both float32 as
/// librosa's `pitches` and `magnitudes` arrays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    /// Parabolically interpolated frequency (Hz).
    pub pitch: f32,
    /// Interpolated height of the peak.
    pub mag: f32,
}

/// The non-zero entries of `librosa.piptrack(S=s, sr, n_fft)` (fmin 150 Hz, fmax 4 kHz,
/// threshold 0.1, reference = each frame's maximum), frame by frame, bins ascending.
///
/// A bin is a peak when it lies in `[fmin, fmax)`, is a local maximum along frequency (strictly
/// above the bin below, at least the bin above, with edge padding) of the spectrum where values
/// not above 0.1 × the frame maximum are zeroed. Its pitch is `(k + shift)·sr/n_fft` with the
/// parabolic shift `½(s[k+1] − s[k−1]) / (2s[k] − s[k+1] − s[k−1])` and its magnitude
/// `s[k] + ½·avg·shift`.
pub fn piptrack(s: ArrayView2<f32>, sr: f64, n_fft: usize) -> Vec<Peak> {
    let mut tracker = PitchTracker::new(s.nrows(), sr, n_fft);
    let mut peaks = Vec::new();
    let mut col = vec![0.0f32; s.nrows()];
    for frame in s.columns() {
        for (c, &x) in col.iter_mut().zip(frame.iter()) {
            *c = x;
        }
        tracker.frame(&col, &mut peaks);
    }
    peaks
}

/// [`piptrack`] one frame at a time (the streaming extractor feeds it frame by frame).
#[derive(Debug, Clone)]
pub struct PitchTracker {
    sr: f64,
    n_fft: usize,
    /// Bins `1..n_bins-1` whose frequency lies in `[fmin, fmax)`: the only peak candidates.
    candidates: std::ops::Range<usize>,
    /// Whether the last bin lies in `[fmin, fmax)` (it can be a peak through the edge padding).
    last_in_range: bool,
    /// `|s|` and the thresholded copy of the current frame.
    col: Vec<f32>,
    masked: Vec<f32>,
    /// Which candidates are local maxima of the current frame.
    is_peak: Vec<u8>,
}

impl PitchTracker {
    /// A tracker for frames of `n_bins` bins of an `n_fft`-point spectrum at `sr` Hz.
    pub fn new(n_bins: usize, sr: f64, n_fft: usize) -> Self {
        let freqs = fft_frequencies(sr, n_fft);
        let fmin = PIP_FMIN.max(0.0);
        let fmax = PIP_FMAX.min(sr / 2.0);
        let in_range = |k: usize| freqs.get(k).is_some_and(|&f| fmin <= f && f < fmax);
        // The frequencies ascend, so the candidates form one range.
        let inner = 1..n_bins.saturating_sub(1);
        let lo = inner.clone().find(|&k| in_range(k)).unwrap_or(inner.end);
        let hi = (lo..inner.end).find(|&k| !in_range(k)).unwrap_or(inner.end);
        PitchTracker {
            sr,
            n_fft,
            candidates: lo..hi,
            last_in_range: n_bins >= 2 && in_range(n_bins - 1),
            col: vec![0.0; n_bins],
            masked: vec![0.0; n_bins],
            is_peak: Vec::new(),
        }
    }

    /// Appends the peaks of one frame (`n_bins` values) to `peaks`, bins ascending.
    pub fn frame(&mut self, frame: &[f32], peaks: &mut Vec<Peak>) {
        let n_bins = self.col.len();
        assert_eq!(frame.len(), n_bins, "frame length");
        let (col, masked) = (&mut self.col, &mut self.masked);
        threshold_frame(frame, col, masked);
        let tiny = f32::MIN_POSITIVE;
        let (sr, n_fft) = (self.sr, self.n_fft as f64);
        let cand = self.candidates.clone();
        if !cand.is_empty() {
            self.is_peak.resize(cand.len(), 0);
            local_maxima(&masked[cand.start - 1..cand.end + 1], &mut self.is_peak);
        }
        for (i, _) in self.is_peak.iter().enumerate().filter(|(_, &p)| p != 0) {
            let k = cand.start + i;
            let avg = 0.5f32 * (col[k + 1] - col[k - 1]);
            let den = 2.0f32 * col[k] - col[k + 1] - col[k - 1];
            let den = den + if den.abs() < tiny { 1.0 } else { 0.0 };
            let shift = avg / den;
            let dskew = 0.5f32 * avg * shift;
            let pitch = ((k as f64 + f64::from(shift)) * sr / n_fft) as f32;
            peaks.push(Peak {
                pitch,
                mag: col[k] + dskew,
            });
        }
        // The edge-padded ends: bin 0 is never a local maximum; the last bin is one when it
        // exceeds the bin below, and its shift is 0 (librosa zero-pads the shift there).
        let last = n_bins.wrapping_sub(1);
        if self.last_in_range && masked[last] > masked[last - 1] {
            peaks.push(Peak {
                pitch: (last as f64 * sr / n_fft) as f32,
                mag: col[last],
            });
        }
    }
}

super::lanes::simd_fn! {
    /// `col = |frame|`, and `masked` = `col` with the values not above 0.1 × the frame maximum
    /// zeroed.
    fn threshold_frame(frame: &[f32], col: &mut [f32], masked: &mut [f32]) {
        // Eight running maxima (the maximum of non-NaN values does not depend on the order).
        let mut m8 = [f32::NEG_INFINITY; 8];
        let mut chunks = col.chunks_exact_mut(8);
        let mut src = frame.chunks_exact(8);
        for (c, x) in (&mut chunks).zip(&mut src) {
            for ((c, &x), m) in c.iter_mut().zip(x).zip(m8.iter_mut()) {
                *c = x.abs();
                *m = if *c > *m { *c } else { *m };
            }
        }
        for (c, &x) in chunks.into_remainder().iter_mut().zip(src.remainder()) {
            *c = x.abs();
            m8[0] = if *c > m8[0] { *c } else { m8[0] };
        }
        let max = m8.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let ref_value = PIP_THRESHOLD * max;
        for (m, &x) in masked.iter_mut().zip(col.iter()) {
            *m = if x > ref_value { x } else { 0.0 };
        }
    }
}

super::lanes::simd_fn! {
    /// For the interior values of `s` (all but the first and the last), 1 where the value is
    /// above the one below and at least the one above.
    fn local_maxima(s: &[f32], out: &mut [u8]) {
        for ((o, w), (&x, &above)) in out
            .iter_mut()
            .zip(s.iter())
            .zip(s[1..].iter().zip(&s[2..]))
        {
            *o = u8::from(x > *w) & u8::from(x >= above);
        }
    }
}

/// numpy's float `np.mod(a, b)` (the result takes the sign of `b`).
fn np_mod_f32(a: f32, b: f32) -> f32 {
    let m = a % b;
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m + b
        } else {
            m
        }
    } else {
        0.0f32.copysign(b)
    }
}

/// `librosa.pitch_tuning(frequencies, resolution=0.01, bins_per_octave)`: the most common
/// deviation from the equal-tempered grid, as the left edge of the fullest of 100 histogram bins
/// over `[-0.5, 0.5]` (first one on ties). No positive frequency gives 0.0.
pub fn pitch_tuning(frequencies: &[f32], bins_per_octave: usize) -> f64 {
    let n_edges = (1.0 / TUNING_RESOLUTION).ceil() as usize + 1;
    // np.linspace(-0.5, 0.5, n_edges)
    let step = 1.0 / (n_edges - 1) as f64;
    let mut edges: Vec<f64> = (0..n_edges).map(|i| i as f64 * step + (-0.5)).collect();
    edges[n_edges - 1] = 0.5;

    let a440_16 = 440.0f32 / 16.0; // 27.5, exact in f32
    let bpo = bins_per_octave as f32;
    let mut residuals: Vec<f64> = frequencies
        .iter()
        .filter(|&&f| f > 0.0)
        .map(|&f| {
            let octs = (f / a440_16).log2();
            let mut r = np_mod_f32(bpo * octs, 1.0);
            if r >= 0.5 {
                r -= 1.0;
            }
            f64::from(r)
        })
        .collect();
    if residuals.is_empty() {
        return 0.0;
    }
    residuals.sort_by(f64::total_cmp);
    // np.histogram with explicit edges: counts from searchsorted ('left' for all edges but the
    // last, 'right' for the last).
    let below = |e: f64| residuals.partition_point(|&r| r < e);
    let mut cum: Vec<usize> = edges[..n_edges - 1].iter().map(|&e| below(e)).collect();
    cum.push(residuals.partition_point(|&r| r <= edges[n_edges - 1]));
    let mut best = 0;
    let mut best_count = 0;
    for k in 0..n_edges - 1 {
        let c = cum[k + 1] - cum[k];
        if c > best_count {
            best_count = c;
            best = k;
        }
    }
    edges[best]
}

/// Median of float32 values as `np.median` (the mean of the two middle values, in f32, for an
/// even count). `None` when empty.
fn median_f32(mut v: Vec<f32>) -> Option<f32> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    let (_, &mut upper, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = v[..mid].iter().copied().fold(f32::NEG_INFINITY, f32::max);
    Some((0.0 + lower + upper) / 2.0)
}

/// `librosa.estimate_tuning(S=s, sr, n_fft, resolution=0.01, bins_per_octave)`: pitch-track the
/// spectrogram, keep the peaks whose magnitude reaches the median peak magnitude, and take
/// [`pitch_tuning`] of their frequencies. Returns the tuning in fractions of a bin, in
/// `[-0.5, 0.5)`; 0.0 when no peak is found (silence, as librosa, which warns).
pub fn estimate_tuning(s: ArrayView2<f32>, sr: f64, n_fft: usize, bins_per_octave: usize) -> f64 {
    tuning_from_peaks(&piptrack(s, sr, n_fft), bins_per_octave)
}

/// The second half of [`estimate_tuning`]: the tuning of the peaks [`piptrack`] found (all
/// frames, in frame order).
pub fn tuning_from_peaks(peaks: &[Peak], bins_per_octave: usize) -> f64 {
    let threshold = median_f32(
        peaks
            .iter()
            .filter(|p| p.pitch > 0.0)
            .map(|p| p.mag)
            .collect(),
    )
    .unwrap_or(0.0);
    let freqs: Vec<f32> = peaks
        .iter()
        .filter(|p| p.pitch > 0.0 && p.mag >= threshold)
        .map(|p| p.pitch)
        .collect();
    pitch_tuning(&freqs, bins_per_octave)
}

/// `librosa.filters.chroma(sr, n_fft, n_chroma, tuning)` with `ctroct=5`, `octwidth=2`,
/// `norm=2`, `base_c=True`, float32: shape `(n_chroma, n_fft/2 + 1)`.
pub fn chroma_filters(sr: f64, n_fft: usize, n_chroma: usize, tuning: f64) -> Array2<f32> {
    let nc = n_chroma as f64;
    let ctroct = 5.0;
    let octwidth = 2.0;
    // Frequencies of bins 1..n_fft (np.linspace(0, sr, n_fft, endpoint=False)[1:]).
    let step = sr / n_fft as f64;
    let a440 = 440.0 * 2.0f64.powf(tuning / nc);
    let mut frqbins: Vec<f64> = Vec::with_capacity(n_fft);
    frqbins.push(0.0);
    frqbins.extend((1..n_fft).map(|i| {
        let f = i as f64 * step;
        nc * (f / (a440 / 16.0)).log2()
    }));
    frqbins[0] = frqbins[1] - 1.5 * nc;
    let mut binwidth: Vec<f64> = frqbins.windows(2).map(|w| (w[1] - w[0]).max(1.0)).collect();
    binwidth.push(1.0);

    let n_chroma2 = (nc / 2.0).round();
    let mut wts = Array2::<f64>::zeros((n_chroma, n_fft));
    for c in 0..n_chroma {
        for (i, (&fb, &bw)) in frqbins.iter().zip(&binwidth).enumerate() {
            let d = fb - c as f64;
            let x = d + n_chroma2 + 10.0 * nc;
            // np.remainder (sign of the divisor)
            let mut r = x % nc;
            if r != 0.0 && (r < 0.0) != (nc < 0.0) {
                r += nc;
            }
            let d = r - n_chroma2;
            let z = 2.0 * d / bw;
            wts[[c, i]] = (-0.5 * (z * z)).exp();
        }
    }
    // L2-normalise each column (sum over chroma bins in order), leaving near-zero columns.
    for i in 0..n_fft {
        let mut ss = 0.0f64;
        for c in 0..n_chroma {
            let v = wts[[c, i]].abs();
            ss += v * v;
        }
        let mut length = ss.sqrt();
        if length < f64::MIN_POSITIVE {
            length = 1.0;
        }
        let oct = (frqbins[i] / nc - ctroct) / octwidth;
        let gauss = (-0.5 * (oct * oct)).exp();
        for c in 0..n_chroma {
            wts[[c, i]] = wts[[c, i]] / length * gauss;
        }
    }
    // base_c: roll so that row 0 is C (-3 bins for 12 chroma), keep the first n_fft/2+1 bins.
    let shift = 3 * (n_chroma / 12);
    let n_bins = n_fft / 2 + 1;
    Array2::from_shape_fn((n_chroma, n_bins), |(c, i)| {
        wts[[(c + shift) % n_chroma, i]] as f32
    })
}

/// `util.normalize(x, norm=inf, axis=0)` for a float32 matrix in place: each column divided by
/// its largest magnitude; columns whose maximum is below float32's `tiny` (silent frames) are
/// left as they are (all zero).
pub fn normalize_max_columns(x: &mut Array2<f32>) {
    for mut col in x.columns_mut() {
        let length = col.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
        if length < f32::MIN_POSITIVE {
            continue;
        }
        col.mapv_inplace(|v| v / length);
    }
}

/// `librosa.feature.chroma_stft(S=power, sr)` for a power spectrogram `|S|²` of shape
/// `(n_fft/2 + 1, n_frames)`: tuning estimated from `power` itself, the chroma filter bank
/// applied, each frame scaled to a maximum of 1. Returns `(chroma (n_chroma, n_frames), tuning)`.
pub fn chroma_stft(power: ArrayView2<f32>, sr: f64, n_chroma: usize) -> (Array2<f32>, f64) {
    let n_fft = 2 * (power.nrows() - 1);
    let tuning = estimate_tuning(power, sr, n_fft, n_chroma);
    let fb = chroma_filters(sr, n_fft, n_chroma, tuning);
    let mut chroma = super::mel::apply_filters(fb.view(), power);
    normalize_max_columns(&mut chroma);
    (chroma, tuning)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_mod_takes_the_divisor_sign() {
        assert_eq!(np_mod_f32(2.25, 1.0), 0.25);
        assert_eq!(np_mod_f32(-0.25, 1.0), 0.75);
        assert_eq!(np_mod_f32(3.0, 1.0), 0.0);
    }

    #[test]
    fn tuning_of_a_detuned_pitch_set() {
        // A4 raised by 0.2 of a semitone, and a few exact A's: the fullest bin is [0.2, 0.21).
        let f = 440.0f32 * 2f32.powf(0.205 / 12.0);
        let t = pitch_tuning(&[f, f, f, 880.0, 0.0], 12);
        assert!((t - 0.2).abs() < 1e-12, "{t}");
        assert_eq!(pitch_tuning(&[], 12), 0.0);
        assert_eq!(pitch_tuning(&[0.0, -3.0], 12), 0.0);
    }

    #[test]
    fn median_like_numpy() {
        assert_eq!(median_f32(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_f32(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median_f32(vec![]), None);
    }

    #[test]
    fn chroma_filters_peak_on_their_pitch_class() {
        let fb = chroma_filters(22050.0, 2048, 12, 0.0);
        assert_eq!(fb.dim(), (12, 1025));
        // Bin 41 ≈ 441 Hz (A4): the A row (index 9 with C at 0) carries the largest weight.
        let col = fb.column(41);
        let best = (0..12).max_by(|&a, &b| col[a].total_cmp(&col[b])).unwrap();
        assert_eq!(best, 9);
    }

    #[test]
    fn silent_frames_stay_zero() {
        let power = Array2::<f32>::zeros((1025, 3));
        let (c, tuning) = chroma_stft(power.view(), 22050.0, 12);
        assert_eq!(tuning, 0.0);
        assert!(c.iter().all(|&x| x == 0.0));
    }
}
