//! Mel filter bank, mel spectrogram and decibel scaling of librosa 0.8.1.
//!
//! The filter bank is built here rather than taken from `mel_spec::mel::mel`: that function
//! computes the Slaney bank entirely in f64 (and `ndarray`'s `linspace` does not pin the last
//! mel edge to `fmax` as numpy does), while librosa stores each triangle in a float32 matrix
//! *before* multiplying by the Slaney normalisation in f64 and rounding again. Cast to f32, the
//! `mel_spec` bank (0.5.0, 22050 Hz, n_fft 2048, 128 mels) differs from librosa's in the last
//! bit of 489 of the 131,200 weights (largest relative difference 1.2e-7); this one reproduces
//! librosa's float32 bank bit for bit (checked by a checksum in `tests/golden_spectral.rs`).

use ndarray::{Array2, ArrayView2};

/// `librosa.hz_to_mel(f, htk=False)` (Slaney's scale: linear below 1 kHz, log above).
pub fn hz_to_mel(f: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= min_log_hz {
        min_log_mel + (f / min_log_hz).ln() / logstep
    } else {
        f / f_sp
    }
}

/// `librosa.mel_to_hz(m, htk=False)`.
pub fn mel_to_hz(m: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

/// `np.linspace(start, stop, n)` with numpy's arithmetic (`i·step + start`, last = `stop`).
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    if n == 1 {
        return vec![start];
    }
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + start).collect();
    v[n - 1] = stop;
    v
}

/// `librosa.mel_frequencies(n, fmin, fmax, htk=False)`: `n` frequencies evenly spaced in mel.
pub fn mel_frequencies(n: usize, fmin: f64, fmax: f64) -> Vec<f64> {
    linspace(hz_to_mel(fmin), hz_to_mel(fmax), n)
        .into_iter()
        .map(mel_to_hz)
        .collect()
}

/// `librosa.filters.mel(sr, n_fft, n_mels)` with `fmin=0`, `fmax=sr/2`, `htk=False`,
/// `norm='slaney'`, float32: shape `(n_mels, n_fft/2 + 1)`.
pub fn mel_filters(sr: f64, n_fft: usize, n_mels: usize) -> Array2<f32> {
    let n_bins = n_fft / 2 + 1;
    let fftfreqs = super::spectral::fft_frequencies(sr, n_fft);
    let mel_f = mel_frequencies(n_mels + 2, 0.0, sr / 2.0);
    let mut w = Array2::<f32>::zeros((n_mels, n_bins));
    for i in 0..n_mels {
        let fdiff_lo = mel_f[i + 1] - mel_f[i];
        let fdiff_hi = mel_f[i + 2] - mel_f[i + 1];
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (k, &f) in fftfreqs.iter().enumerate() {
            let lower = -(mel_f[i] - f) / fdiff_lo;
            let upper = (mel_f[i + 2] - f) / fdiff_hi;
            // np.maximum(0, np.minimum(lower, upper)) as numpy evaluates it (a tie with zero
            // keeps the second operand, so the DC weight of the first filter is -0.0), stored
            // as float32, then scaled in f64.
            // (Masking the bits keeps that -0.0: written as a float `select`, the optimiser may
            // turn it into a max that drops the sign of zero.)
            let m = if lower <= upper { lower } else { upper };
            let keep = if m < 0.0 { 0 } else { u32::MAX };
            let tri = f32::from_bits((m as f32).to_bits() & keep);
            w[[i, k]] = (f64::from(tri) * enorm) as f32;
        }
    }
    w
}

/// `np.dot(basis, S)` of two float32 matrices, accumulated in f64 and rounded to f32 (numpy's
/// sgemm accumulates in f32 in an unspecified order; the f64 sum is the exact product up to
/// one rounding). Only the non-zero span of each filter row is visited.
pub fn apply_filters(basis: ArrayView2<f32>, s: ArrayView2<f32>) -> Array2<f32> {
    let (n_out, n_bins) = basis.dim();
    assert_eq!(
        n_bins,
        s.nrows(),
        "filter bank and spectrogram disagree on the bin count"
    );
    let n_frames = s.ncols();
    let spans = filter_spans(basis);
    let mut out = Array2::<f32>::zeros((n_out, n_frames));
    let mut col = vec![0.0f64; n_bins];
    for (t, s_col) in s.columns().into_iter().enumerate() {
        for (c, &x) in col.iter_mut().zip(s_col.iter()) {
            *c = f64::from(x);
        }
        for (m, &(a, b)) in spans.iter().enumerate() {
            let row = basis.row(m);
            let mut acc = 0.0f64;
            for k in a..b {
                acc += f64::from(row[k]) * col[k];
            }
            out[[m, t]] = acc as f32;
        }
    }
    out
}

/// The non-zero span `first..last` of each row of a filter bank (`(0, 0)` for an all-zero row):
/// the bins [`apply_filters`] visits.
pub fn filter_spans(basis: ArrayView2<f32>) -> Vec<(usize, usize)> {
    basis
        .rows()
        .into_iter()
        .map(|r| {
            let first = r.iter().position(|&x| x != 0.0).unwrap_or(0);
            let last = r.iter().rposition(|&x| x != 0.0).map_or(0, |l| l + 1);
            (first, last.max(first))
        })
        .collect()
}

/// `librosa.feature.melspectrogram(S=power)`: the mel filter bank applied to a power spectrogram
/// (`|S|²`, shape `(n_fft/2 + 1, n_frames)`).
pub fn melspectrogram(power: ArrayView2<f32>, sr: f64, n_mels: usize) -> Array2<f32> {
    let n_fft = 2 * (power.nrows() - 1);
    apply_filters(mel_filters(sr, n_fft, n_mels).view(), power)
}

/// `librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=80.0)` in f32, in place:
/// `10·log10(max(S, 1e-10))`, then floored at the maximum minus 80 dB.
pub fn power_to_db_inplace(s: &mut Array2<f32>) {
    let amin = 1e-10f32;
    s.mapv_inplace(|x| 10.0 * x.max(amin).log10());
    let max = s.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    if max.is_finite() {
        let floor = (f64::from(max) - 80.0) as f32;
        s.mapv_inplace(|x| x.max(floor));
    }
}

/// The mel spectrogram in dB of samples at [`crate::config::SAMPLE_RATE`] (mel bands × frames):
/// STFT (`N_FFT`, `HOP_LENGTH`) → power → `N_MELS` Slaney mel bands → [`power_to_db_inplace`],
/// as `librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr))` in librosa 0.8.1.
pub fn melspectrogram_db(y: &[f32]) -> Array2<f32> {
    use crate::config::{HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE};
    let spec = super::stft::stft(y, N_FFT, HOP_LENGTH);
    let power = super::stft::power(&spec);
    let mut db = melspectrogram(power.view(), SAMPLE_RATE as f64, N_MELS);
    power_to_db_inplace(&mut db);
    db
}

/// `librosa.power_to_db(S)` with librosa's defaults (see [`power_to_db_inplace`]).
pub fn power_to_db(s: &Array2<f32>) -> Array2<f32> {
    let mut out = s.clone();
    power_to_db_inplace(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips() {
        assert_eq!(hz_to_mel(0.0), 0.0);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        for f in [0.0, 440.0, 999.0, 1000.0, 4000.0, 11025.0] {
            assert!((mel_to_hz(hz_to_mel(f)) - f).abs() < 1e-9 * (1.0 + f));
        }
    }

    #[test]
    fn filters_are_slaney_normalised_triangles() {
        let w = mel_filters(22050.0, 2048, 128);
        assert_eq!(w.dim(), (128, 1025));
        assert!(w.iter().all(|&x| x >= 0.0));
        // Every filter is non-empty, and the DC bin belongs to no filter (fmin = 0).
        assert!(w.rows().into_iter().all(|r| r.iter().any(|&x| x > 0.0)));
        assert!(w.column(0).iter().all(|&x| x == 0.0));
    }

    #[test]
    fn power_to_db_floors_at_top_db() {
        let s = Array2::from_shape_vec((1, 4), vec![1.0f32, 0.01, 0.0, 1e-12]).unwrap();
        let db = power_to_db(&s);
        assert_eq!(db.as_slice().unwrap(), &[0.0, -20.0, -80.0, -80.0]);
    }
}
