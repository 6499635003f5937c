//! Forward short-time Fourier transform, as `librosa.stft` 0.8.1 computes it with its defaults.
//!
//! librosa centres the frames (`center=True`): the signal is padded by `n_fft / 2` samples on each
//! side with numpy's `reflect` mode, cut into frames of `n_fft` samples every `hop` samples, each
//! frame is multiplied by a periodic Hann window and transformed with a real FFT. numpy does that
//! arithmetic in float64 (float64 window times float32 samples, float64 FFT) and stores the result
//! as complex64; this module does the same, with [`super::rfft`] in f64.

use ndarray::Array2;
use rustfft::num_complex::Complex;

use super::rfft::{Irfft, Rfft};

/// Periodic Hann window of length `n` (`scipy.signal.get_window('hann', n, fftbins=True)`).
///
/// Evaluated the way scipy does (`0.5 + 0.5 cos(θ)` with `θ = k·2π/n − π`, as `np.linspace`
/// makes it), so the window is bit-identical to scipy's.
pub fn hann_window(n: usize) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    if n == 1 {
        return vec![1.0];
    }
    let step = 2.0 * std::f64::consts::PI / n as f64;
    (0..n)
        .map(|k| {
            let theta = k as f64 * step + (-std::f64::consts::PI);
            0.5 + 0.5 * theta.cos()
        })
        .collect()
}

/// Source index of position `j` (may be negative or past the end) under numpy's `reflect`
/// padding of a signal of `n > 0` samples: reflection about the end samples, repeated as often
/// as needed (numpy pads iteratively when the pad is longer than the signal; the result is the
/// periodic reflection with period `2(n−1)`). A one-sample signal repeats that sample.
#[inline]
pub fn reflect_index(j: isize, n: usize) -> usize {
    debug_assert!(n > 0);
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let m = j.rem_euclid(period);
    if m >= n as isize {
        (period - m) as usize
    } else {
        m as usize
    }
}

/// `np.pad(y, pad, mode='reflect')`. An empty signal pads to zeros.
pub fn pad_reflect(y: &[f32], pad: usize) -> Vec<f32> {
    let n = y.len();
    if n == 0 {
        return vec![0.0; 2 * pad];
    }
    let mut out = Vec::with_capacity(n + 2 * pad);
    out.extend((0..pad).map(|i| y[reflect_index(i as isize - pad as isize, n)]));
    out.extend_from_slice(y);
    out.extend((0..pad).map(|i| y[reflect_index((n + i) as isize, n)]));
    out
}

/// `np.pad(y, pad, mode='edge')` (repeats the end samples). An empty signal pads to zeros.
pub fn pad_edge(y: &[f32], pad: usize) -> Vec<f32> {
    let (first, last) = match (y.first(), y.last()) {
        (Some(&f), Some(&l)) => (f, l),
        _ => return vec![0.0; 2 * pad],
    };
    let mut out = Vec::with_capacity(y.len() + 2 * pad);
    out.resize(pad, first);
    out.extend_from_slice(y);
    out.resize(y.len() + 2 * pad, last);
    out
}

/// Number of frames `librosa.util.frame` cuts from `len` samples (0 when `len < frame`).
pub fn n_frames(len: usize, frame: usize, hop: usize) -> usize {
    if len < frame || hop == 0 {
        0
    } else {
        1 + (len - frame) / hop
    }
}

/// `librosa.stft(y, n_fft=n_fft, hop_length=hop)` with librosa 0.8.1's other defaults
/// (periodic Hann window, `center=True`, `pad_mode='reflect'`).
///
/// Returns the complex spectrogram, shape `(n_fft/2 + 1, n_frames)` with
/// `n_frames = 1 + len(y) / hop` (integer division), stored column-major (each frame's bins are
/// contiguous, as librosa's Fortran-ordered matrix).
///
/// Signals shorter than `n_fft` work as in librosa (which only warns): the reflect padding
/// repeats the reflection as numpy does when the pad exceeds the signal. An empty signal,
/// which librosa rejects, gives one frame of zeros. `n_fft` must be even and ≥ 2, `hop` ≥ 1.
pub fn stft(y: &[f32], n_fft: usize, hop: usize) -> Array2<Complex<f32>> {
    assert!(
        n_fft >= 2 && n_fft.is_multiple_of(2),
        "n_fft must be even and >= 2"
    );
    assert!(hop >= 1, "hop must be >= 1");
    let n_bins = n_fft / 2 + 1;
    let padded = pad_reflect(y, n_fft / 2);
    let frames = n_frames(padded.len(), n_fft, hop);
    let window = hann_window(n_fft);

    let fft = Rfft::new(n_fft);
    let mut input = vec![0.0f64; n_fft];
    let mut spectrum = vec![Complex::new(0.0f64, 0.0); n_bins];
    let mut scratch = vec![Complex::new(0.0f64, 0.0); fft.scratch_len()];

    let mut data: Vec<Complex<f32>> = Vec::with_capacity(frames * n_bins);
    for t in 0..frames {
        let frame = &padded[t * hop..t * hop + n_fft];
        for ((x, &w), &s) in input.iter_mut().zip(&window).zip(frame) {
            *x = w * f64::from(s);
        }
        fft.process(&mut input, &mut spectrum, &mut scratch);
        data.extend(
            spectrum
                .iter()
                .map(|c| Complex::new(c.re as f32, c.im as f32)),
        );
    }
    Array2::from_shape_vec((frames, n_bins), data)
        .expect("frames * n_bins elements")
        .reversed_axes()
}

/// `np.abs(S)` of a complex64 spectrogram: `hypotf(re, im)` in f32, as numpy computes it.
/// Keeps the memory order of `s`.
pub fn magnitude(s: &Array2<Complex<f32>>) -> Array2<f32> {
    s.mapv(|c| c.re.hypot(c.im))
}

/// `np.abs(S) ** 2` of a complex64 spectrogram: the f32 magnitude squared in f32 (not
/// `re² + im²`), which is what librosa's `_spectrogram(power=2)` gives.
pub fn power(s: &Array2<Complex<f32>>) -> Array2<f32> {
    s.mapv(|c| {
        let m = c.re.hypot(c.im);
        m * m
    })
}

/// Squares a magnitude spectrogram element-wise in f32 (`|S| ** 2` from `|S|`).
pub fn power_from_magnitude(mag: &Array2<f32>) -> Array2<f32> {
    mag.mapv(|m| m * m)
}

/// `librosa.istft(s, hop_length=hop, length=length, dtype=np.float32)` of librosa 0.8.1, for a
/// spectrogram `(n_fft/2 + 1, frames)` made with periodic Hann windows and `center=True`.
///
/// As librosa: each frame is inverted with a real inverse FFT in f64 (the imaginary parts of the
/// DC and Nyquist bins are ignored), windowed, and overlap-added into an f32 buffer (each addition
/// done in f64, then rounded to f32). Every sample whose f32 window sum-square exceeds the smallest
/// normal f32 is divided by it. Then `n_fft/2` samples are cut from the start; without `length`
/// as many are cut from the end, with `length` only the frames needed are inverted and the result
/// is cut or zero-padded to `length` samples. Fewer than two bins, or no frames, give zeros
/// (`length` of them, or none).
pub fn istft(s: &Array2<Complex<f32>>, hop: usize, length: Option<usize>) -> Vec<f32> {
    let (n_bins, total_frames) = s.dim();
    if n_bins < 2 || hop == 0 {
        return vec![0.0; length.unwrap_or(0)];
    }
    let n_fft = 2 * (n_bins - 1);
    let frames = match length {
        Some(len) => total_frames.min((len + n_fft).div_ceil(hop)),
        None => total_frames,
    };
    if frames == 0 {
        return vec![0.0; length.unwrap_or(0)];
    }
    let window = hann_window(n_fft);
    let expected = n_fft + hop * (frames - 1);
    let mut y = vec![0.0f32; expected];

    let ifft = Irfft::new(n_fft);
    let mut spectrum = vec![Complex::new(0.0f64, 0.0); n_bins];
    let mut frame = vec![0.0f64; n_fft];
    let mut scratch = vec![Complex::new(0.0f64, 0.0); ifft.scratch_len()];
    // numpy's irfft scales by 1/n (a power of two here, so exact).
    let scale = 1.0 / n_fft as f64;
    for t in 0..frames {
        for (c, v) in spectrum.iter_mut().zip(s.column(t)) {
            *c = Complex::new(f64::from(v.re), f64::from(v.im));
        }
        // numpy's irfft ignores the imaginary parts of the first and last bins, as Irfft does.
        ifft.process(&mut spectrum, &mut frame, &mut scratch);
        let out = &mut y[t * hop..t * hop + n_fft];
        for ((o, &x), &w) in out.iter_mut().zip(&frame).zip(&window) {
            *o = (f64::from(*o) + w * (x * scale)) as f32;
        }
    }

    // Window sum-square envelope, accumulated in f32 as librosa's window_sumsquare(dtype=f32).
    let mut wss = vec![0.0f32; expected];
    for t in 0..frames {
        for (acc, &w) in wss[t * hop..t * hop + n_fft].iter_mut().zip(&window) {
            *acc = (f64::from(*acc) + w * w) as f32;
        }
    }
    for (v, &d) in y.iter_mut().zip(&wss) {
        if d > f32::MIN_POSITIVE {
            *v /= d;
        }
    }

    let start = n_fft / 2;
    match length {
        None => y[start..expected - start].to_vec(),
        Some(len) => {
            let mut out = y.split_off(start);
            out.resize(len, 0.0);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_padding_matches_numpy() {
        // np.pad([1, 2, 3], 5, mode='reflect')
        let p = pad_reflect(&[1.0, 2.0, 3.0], 5);
        assert_eq!(p, vec![2., 1., 2., 3., 2., 1., 2., 3., 2., 1., 2., 3., 2.]);
        // np.pad([1, 2, 3, 4], 2, mode='reflect')
        assert_eq!(
            pad_reflect(&[1., 2., 3., 4.], 2),
            vec![3., 2., 1., 2., 3., 4., 3., 2.]
        );
        // A single sample is repeated (numpy's legacy behaviour).
        assert_eq!(pad_reflect(&[7.0], 2), vec![7.0; 5]);
    }

    #[test]
    fn edge_padding_repeats_ends() {
        assert_eq!(pad_edge(&[1., 2., 3.], 2), vec![1., 1., 1., 2., 3., 3., 3.]);
    }

    #[test]
    fn hann_window_is_periodic() {
        let w = hann_window(8);
        let expect = [
            0.0,
            0.146_446_609_4,
            0.5,
            0.853_553_390_6,
            1.0,
            0.853_553_390_6,
            0.5,
            0.146_446_609_4,
        ];
        for (a, b) in w.iter().zip(expect) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }

    #[test]
    fn frame_count_and_shape() {
        let y = vec![0.5f32; 5000];
        let s = stft(&y, 2048, 512);
        assert_eq!(s.dim(), (1025, 1 + 5000 / 512));
        // A constant signal has all its energy in bin 0: sum(window) * 0.5 = 1024 * 0.5.
        let c = s[[0, 5]];
        assert!((c.re - 512.0).abs() < 1e-3 && c.im.abs() < 1e-3, "{c}");
        assert!(s[[10, 5]].norm() < 1e-3);
    }
}
