//! Onset strength envelope and global tempo, as `librosa.beat.beat_track` computes them
//! (librosa 0.8.1).
//!
//! [`onset_strength`] turns the dB mel spectrogram into the onset envelope (lag-1 positive
//! difference, median over bands, centring shift). [`tempo`] estimates one tempo for the whole
//! signal: windowed autocorrelation tempogram, mean over frames, log-normal prior around
//! [`START_BPM`], argmax over lags. The tempo is always `60·sr / (hop·lag)` for an integer lag,
//! so the float precision of each step follows librosa's (f32 envelope, f64 tempogram) to pick
//! the same lag.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use ndarray::Array2;
use rustfft::num_complex::Complex;

use super::rfft::{Irfft, Rfft};

use crate::config::{HOP_LENGTH, N_FFT, SAMPLE_RATE};

/// Centre of the log-normal tempo prior (BPM).
pub const START_BPM: f64 = 120.0;
/// Standard deviation of the tempo prior, in octaves.
pub const STD_BPM: f64 = 1.0;
/// Length of the autocorrelation window (seconds).
pub const AC_SIZE: f64 = 8.0;
/// Tempi at or above this are never chosen (BPM).
pub const MAX_TEMPO: f64 = 320.0;

/// Onset strength envelope of a dB-scaled mel spectrogram `(n_mels, frames)`.
///
/// Per frame `t ≥ 1`: the median over bands of `max(0, S[b, t] − S[b, t−1])` (f32, the mean of the
/// two middle values for an even band count), delayed by `1 + N_FFT / (2·HOP_LENGTH)` frames
/// (zeros in front) and cut to `frames` values. A spectrogram without bands gives zeros.
pub fn onset_strength(mel_db: &Array2<f32>) -> Vec<f32> {
    let (n_bands, n_frames) = mel_db.dim();
    // Frame-major copy (the logical order of the transposed view).
    let frames: Vec<f32> = mel_db.t().iter().copied().collect();
    onset_strength_frames(&frames, n_bands, n_frames)
}

/// [`onset_strength`] of a dB mel spectrogram stored frame by frame (`n_frames` rows of
/// `n_bands` values).
pub fn onset_strength_frames(mel_db: &[f32], n_bands: usize, n_frames: usize) -> Vec<f32> {
    assert_eq!(mel_db.len(), n_bands * n_frames, "frames x bands values");
    let mut env = vec![0.0f32; n_frames];
    onset_strength_into(mel_db, None, 0, n_bands, &mut env);
    env
}

/// [`onset_strength_frames`] of the frames `t0..` given in `chunk` (`prev`: frame `t0 - 1`, when
/// `t0 > 0`): the envelope values they determine, written into `env` (the whole envelope).
pub fn onset_strength_into(
    chunk: &[f32],
    prev: Option<&[f32]>,
    t0: usize,
    n_bands: usize,
    env: &mut [f32],
) {
    if n_bands == 0 {
        return;
    }
    let shift = 1 + N_FFT / (2 * HOP_LENGTH);
    let mut column = vec![0.0f32; n_bands];
    for (i, cur) in chunk.chunks_exact(n_bands).enumerate() {
        let t = t0 + i;
        let prev = match (i, prev) {
            (0, Some(p)) => p,
            (0, None) => continue,
            _ => &chunk[(i - 1) * n_bands..i * n_bands],
        };
        let out = t - 1 + shift;
        if out >= env.len() {
            break;
        }
        for ((c, &a), &b) in column.iter_mut().zip(cur).zip(prev) {
            let d = a - b;
            // np.maximum propagates NaN; keep it so that bad input stays visible.
            *c = if d.is_nan() { d } else { d.max(0.0) };
        }
        env[out] = median_f32(&mut column);
    }
}

/// numpy's median of a non-empty f32 slice (reorders the slice): the middle element, or the f32
/// mean `(a + b) / 2` of the two middle elements.
fn median_f32(v: &mut [f32]) -> f32 {
    let n = v.len();
    let k = n / 2;
    let (lower, hi, _) = v.select_nth_unstable_by(k, f32::total_cmp);
    let hi = *hi;
    if n % 2 == 1 {
        return hi;
    }
    let lo = lower.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (lo + hi) / 2.0
}

/// Autocorrelation window length in frames: `time_to_frames(AC_SIZE)` (344 at the defaults).
pub fn ac_window_frames() -> usize {
    let samples = (AC_SIZE * f64::from(SAMPLE_RATE)) as usize;
    samples / HOP_LENGTH
}

/// The tempo (BPM) of lag `lag` frames: `60·sr / (hop·lag)`, infinite for lag 0.
pub fn lag_to_bpm(lag: usize) -> f64 {
    60.0 * f64::from(SAMPLE_RATE) / (HOP_LENGTH as f64 * lag as f64)
}

/// Global tempo (BPM) of an onset envelope, as `librosa.beat.tempo` with `beat_track`'s
/// arguments. An envelope without any non-zero value (silence, constant signals) gives `0.0`,
/// as `beat_track` does.
pub fn tempo(onset_env: &[f32]) -> f64 {
    if !onset_env.iter().any(|&x| x != 0.0) {
        return 0.0;
    }
    let scores = tempo_scores(onset_env);
    match argmax(&scores) {
        Some(lag) => lag_to_bpm(lag),
        None => 0.0,
    }
}

/// Index of the first maximum (`np.argmax`; a NaN counts as the maximum), `None` when empty.
fn argmax(v: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &x) in v.iter().enumerate() {
        if x.is_nan() {
            return Some(i);
        }
        match best {
            Some(b) if x <= v[b] => {}
            _ => best = Some(i),
        }
    }
    best
}

/// Score of each lag `0..win`: `log1p(1e6 · mean_t tempogram[lag, t]) + log prior(lag)`, with
/// `−∞` for lag 0 and every lag faster than [`MAX_TEMPO`]. Exposed for tests and diagnostics.
pub fn tempo_scores(onset_env: &[f32]) -> Vec<f64> {
    let win = ac_window_frames();
    let mean = tempogram_mean(onset_env, win);
    let mut max_idx = 0;
    for lag in 0..win {
        if lag_to_bpm(lag) < MAX_TEMPO {
            max_idx = lag;
            break;
        }
    }
    let log2_start = START_BPM.log2();
    mean.iter()
        .enumerate()
        .map(|(lag, &m)| {
            let prior = if lag < max_idx {
                f64::NEG_INFINITY
            } else {
                let z = (lag_to_bpm(lag).log2() - log2_start) / STD_BPM;
                -0.5 * z * z
            };
            (1e6 * m).ln_1p() + prior
        })
        .collect()
}

/// Periodic Hann window of length `m` exactly as scipy builds it (cosine of a linspace
/// from −π), in f64.
pub(crate) fn hann_periodic_f64(m: usize) -> Vec<f64> {
    if m <= 1 {
        return vec![1.0; m];
    }
    let step = 2.0 * std::f64::consts::PI / m as f64;
    (0..m)
        .map(|i| 0.5 + 0.5 * (i as f64 * step + (-std::f64::consts::PI)).cos())
        .collect()
}

/// Mean over frames of the autocorrelation tempogram (`feature.tempogram`, window `win`,
/// centred with linear ramps to zero, each frame normalised by its largest magnitude), summed
/// frame after frame as numpy reduces the Fortran-ordered tempogram.
///
/// librosa autocorrelates through a complex FFT of `2·win + 1` points; any length of at least
/// `2·win − 1` gives the same lags, so a power-of-two real FFT is used (the values differ only by
/// rounding, far below the margins that decide the winning lag).
fn tempogram_mean(onset_env: &[f32], win: usize) -> Vec<f64> {
    let n = onset_env.len();
    let mut sum = vec![0.0f64; win];
    if n == 0 || win == 0 {
        return sum;
    }
    let padded = pad_linear_ramp(onset_env, win / 2);
    let window = hann_periodic_f64(win);
    let nfft = (2 * win - 1).next_power_of_two().max(2);
    let (fwd, inv) = fft_plans(nfft);
    let mut frame = vec![0.0f64; nfft];
    let mut spec = vec![Complex::new(0.0f64, 0.0); nfft / 2 + 1];
    let mut scratch = vec![Complex::new(0.0f64, 0.0); fwd.scratch_len().max(inv.scratch_len())];
    for t in 0..n {
        windowed(&padded[t..t + win], &window, &mut frame);
        fwd.process(&mut frame, &mut spec, &mut scratch);
        power_spectrum(&mut spec);
        inv.process(&mut spec, &mut frame, &mut scratch);
        // The 1/nfft scale cancels in the normalisation below.
        let peak = peak_abs(&frame[..win]);
        // util.normalize(norm=inf): a column whose peak is below the smallest normal f64 stays
        // as is (here: only the 1/nfft scale applied).
        let norm = if peak / (nfft as f64) < f64::MIN_POSITIVE {
            nfft as f64
        } else {
            peak
        };
        add_divided(&mut sum, &frame[..win], norm);
    }
    let n = n as f64;
    sum.iter().map(|s| s / n).collect()
}

/// Forward and inverse real FFT plans of length `n` (planned once per length).
fn fft_plans(n: usize) -> (Arc<Rfft>, Arc<Irfft>) {
    type Plans = (Arc<Rfft>, Arc<Irfft>);
    static PLANS: OnceLock<Mutex<HashMap<usize, Plans>>> = OnceLock::new();
    let mut plans = PLANS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    plans
        .entry(n)
        .or_insert_with(|| (Arc::new(Rfft::new(n)), Arc::new(Irfft::new(n))))
        .clone()
}

super::lanes::simd_fn! {
    /// `frame[..win] = f64(onset) · window`, the rest of `frame` zero.
    fn windowed(onset: &[f32], window: &[f64], frame: &mut [f64]) {
        let (head, tail) = frame.split_at_mut(window.len());
        for ((x, &o), &w) in head.iter_mut().zip(onset).zip(window) {
            *x = f64::from(o) * w;
        }
        tail.fill(0.0);
    }
}

super::lanes::simd_fn! {
    /// `|X|²` of each bin (as a real value).
    fn power_spectrum(spec: &mut [Complex<f64>]) {
        for c in spec.iter_mut() {
            *c = Complex::new(c.re * c.re + c.im * c.im, 0.0);
        }
    }
}

super::lanes::simd_fn! {
    /// The largest `|x|` (0 for none; the maximum of non-NaN values does not depend on the
    /// order, so four running maxima give it).
    fn peak_abs(x: &[f64]) -> f64 {
        let mut m = [0.0f64; 4];
        let chunks = x.chunks_exact(4);
        let rest = chunks.remainder();
        for c in chunks {
            for (m, &v) in m.iter_mut().zip(c) {
                let a = v.abs();
                *m = if a > *m { a } else { *m };
            }
        }
        for &v in rest {
            m[0] = m[0].max(v.abs());
        }
        m.iter().fold(0.0f64, |p, &v| p.max(v))
    }
}

super::lanes::simd_fn! {
    /// `sum += x / norm`, element by element.
    fn add_divided(sum: &mut [f64], x: &[f64], norm: f64) {
        for (s, &a) in sum.iter_mut().zip(x) {
            *s += a / norm;
        }
    }
}

/// `np.pad(x, width, mode="linear_ramp", end_values=0)` for f32 data: ramps computed in f64 from
/// zero towards each edge value, rounded to f32.
fn pad_linear_ramp(x: &[f32], width: usize) -> Vec<f32> {
    let n = x.len();
    let mut out = Vec::with_capacity(n + 2 * width);
    let ramp = |edge: f32, i: usize| -> f32 {
        let step = f64::from(edge) / width as f64;
        (i as f64 * step) as f32
    };
    out.extend((0..width).map(|i| ramp(x[0], i)));
    out.extend_from_slice(x);
    out.extend((0..width).rev().map(|i| ramp(x[n - 1], i)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onset_strength_in_chunks_is_the_whole_envelope() {
        let (bands, frames) = (7, 500);
        // Rising by 1 dB a frame with up to 2 dB of noise: most differences are positive.
        let mel: Vec<f32> = (0..bands * frames)
            .map(|i| (i / bands) as f32 + ((i * 7919) % 997) as f32 * 0.002 - 60.0)
            .collect();
        let whole = onset_strength_frames(&mel, bands, frames);
        assert!(whole.iter().filter(|&&v| v > 0.0).count() > frames / 2);
        for chunk in [1, 2, 64, 499] {
            let mut env = vec![0.0f32; frames];
            for t0 in (0..frames).step_by(chunk) {
                let t1 = (t0 + chunk).min(frames);
                let prev = (t0 > 0).then(|| &mel[(t0 - 1) * bands..t0 * bands]);
                onset_strength_into(&mel[t0 * bands..t1 * bands], prev, t0, bands, &mut env);
            }
            assert_eq!(env, whole, "chunks of {chunk} frames");
        }
    }

    #[test]
    fn median_matches_numpy_rules() {
        assert_eq!(median_f32(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_f32(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median_f32(&mut [0.0, 0.0, 1.0, 0.0]), 0.0);
    }

    #[test]
    fn window_length_and_bpm_grid() {
        assert_eq!(ac_window_frames(), 344);
        assert_eq!(lag_to_bpm(21), 123.046875);
        assert!(lag_to_bpm(0).is_infinite());
    }

    #[test]
    fn linear_ramp_padding() {
        let p = pad_linear_ramp(&[4.0, 1.0, 2.0], 4);
        assert_eq!(
            p,
            vec![0.0, 1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 1.5, 1.0, 0.5, 0.0]
        );
    }

    #[test]
    fn silent_envelope_has_zero_tempo() {
        assert_eq!(tempo(&[0.0; 500]), 0.0);
        assert_eq!(tempo(&[]), 0.0);
    }

    #[test]
    fn onset_strength_shift_and_rectify() {
        // Two bands rising by 1 and 3 dB at frame 1, then falling: median = 2 at frame 1 + 3.
        let s =
            Array2::from_shape_vec((2, 6), vec![0., 1., 0., 0., 0., 0., 0., 3., 0., 0., 0., 0.])
                .unwrap();
        assert_eq!(onset_strength(&s), vec![0.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
    }
}
