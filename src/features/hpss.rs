//! Harmonic/percussive source separation, as `librosa.effects.hpss(y)` computes it
//! (librosa 0.8.1: `decompose.hpss` with kernel 31, power 2, margin 1, then `istft`).
//!
//! The magnitude spectrogram is median-filtered across time (harmonic estimate) and across
//! frequency (percussive estimate) with `scipy.ndimage.median_filter`'s `reflect` boundary
//! (`d c b a | a b c d | d c b a`, repeated for lines shorter than the filter). Each bin of the
//! complex STFT is scaled by its soft mask `X² / (H² + P²)` (0.5 where both estimates are zero,
//! librosa's `split_zeros`), and both parts are inverted with [`istft`] and fixed to the signal
//! length.
//!
//! The medians are exact order statistics (a sorted sliding window, no arithmetic) and the masks
//! are computed in f32 like librosa's. One deviation at the rounding level: librosa multiplies the
//! masked magnitude by `exp(i·angle(D))`, this port multiplies `D` by the mask directly (the same
//! value within about one f32 ulp, without three transcendental calls per bin).

use ndarray::Array2;
use rayon::prelude::*;
use rustfft::num_complex::Complex;

use super::stft::istft;
use crate::config::{HOP_LENGTH, HPSS_KERNEL};

/// `librosa.effects.hpss(y)` from the STFT `s` of `y` (`stft(y, N_FFT, HOP_LENGTH)`, shape
/// `(n_fft/2 + 1, frames)`) and `length = y.len()`: the harmonic and the percussive signals,
/// each `length` samples long (the inverse STFT zero-padded or cut, as `util.fix_length`).
///
/// A spectrogram without bins or frames gives two signals of zeros.
pub fn hpss(s: &Array2<Complex<f32>>, length: usize) -> (Vec<f32>, Vec<f32>) {
    let (n_bins, n_frames) = s.dim();
    if n_bins < 2 || n_frames == 0 {
        return (vec![0.0; length], vec![0.0; length]);
    }
    let (harm_spec, perc_spec) = separate(s, HPSS_KERNEL);
    let (mut h, mut p) = rayon::join(
        || istft(&harm_spec, HOP_LENGTH, None),
        || istft(&perc_spec, HOP_LENGTH, None),
    );
    h.resize(length, 0.0);
    p.resize(length, 0.0);
    (h, p)
}

/// `decompose.hpss(s, kernel_size=kernel)` (power 2, margin 1): the harmonic and percussive
/// complex spectrograms, same shape as `s`, stored frame by frame (bins contiguous).
pub fn separate(
    s: &Array2<Complex<f32>>,
    kernel: usize,
) -> (Array2<Complex<f32>>, Array2<Complex<f32>>) {
    let (n_bins, n_frames) = s.dim();
    // Complex bins and magnitudes (np.abs of complex64: hypotf), frame-major.
    let mut spec: Vec<Complex<f32>> = Vec::with_capacity(n_bins * n_frames);
    for col in s.columns() {
        spec.extend(col.iter().copied());
    }
    let mag: Vec<f32> = spec.iter().map(|&c| magnitude(c)).collect();

    // Percussive estimate: median across frequency, i.e. along each frame.
    let perc = median_filter_rows(&mag, n_bins, kernel);
    // Harmonic estimate: median across time, along each bin of the transposed matrix.
    let mag_t = transpose(&mag, n_frames, n_bins);
    let harm = transpose(
        &median_filter_rows(&mag_t, n_frames, kernel),
        n_bins,
        n_frames,
    );

    let mut harm_spec = Vec::with_capacity(spec.len());
    let mut perc_spec = Vec::with_capacity(spec.len());
    for ((&d, &h), &p) in spec.iter().zip(&harm).zip(&perc) {
        let (mh, mp) = soft_masks(h, p);
        harm_spec.push(Complex::new(d.re * mh, d.im * mh));
        perc_spec.push(Complex::new(d.re * mp, d.im * mp));
    }
    let shape = (n_frames, n_bins);
    (
        Array2::from_shape_vec(shape, harm_spec)
            .expect("frames * bins elements")
            .reversed_axes(),
        Array2::from_shape_vec(shape, perc_spec)
            .expect("frames * bins elements")
            .reversed_axes(),
    )
}

/// `|c|` of a complex64 value as `hypotf` gives it: the f64 root of the exact f64 sum of squares,
/// rounded to f32 (a libm call per bin costs more than the whole median filter).
#[inline]
fn magnitude(c: Complex<f32>) -> f32 {
    let (re, im) = (f64::from(c.re), f64::from(c.im));
    (re * re + im * im).sqrt() as f32
}

/// `util.softmask` with power 2 and `split_zeros` for both parts, in f32: the harmonic and the
/// percussive mask of one bin whose median estimates are `h` and `p`.
#[inline]
fn soft_masks(h: f32, p: f32) -> (f32, f32) {
    let z = h.max(p);
    if z < f32::MIN_POSITIVE {
        return (0.5, 0.5);
    }
    let a = h / z;
    let a = a * a;
    let b = p / z;
    let b = b * b;
    (a / (a + b), b / (b + a))
}

/// Median filter of odd width `k` along each row (`row_len` contiguous values) of `data`, with
/// scipy's `reflect` boundary. Rows are filtered in parallel.
pub fn median_filter_rows(data: &[f32], row_len: usize, k: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; data.len()];
    if row_len == 0 || k == 0 {
        return out;
    }
    out.par_chunks_mut(row_len)
        .zip(data.par_chunks(row_len))
        .with_min_len(8)
        .for_each_init(MedianScratch::default, |scratch, (o, line)| {
            median_line(line, k, o, scratch)
        });
    out
}

/// Order-preserving u32 key of an f32 (the order of `f32::total_cmp`; NaN would be the largest).
#[inline]
fn key(x: f32) -> u32 {
    let b = x.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Inverse of [`key`].
#[inline]
fn unkey(k: u32) -> f32 {
    f32::from_bits(if k & 0x8000_0000 != 0 {
        k & 0x7fff_ffff
    } else {
        !k
    })
}

/// Index into a line of `n > 0` values of position `i` under scipy's `reflect` extension
/// (half-sample symmetric, periodic with period `2n`).
#[inline]
fn reflect(i: isize, n: usize) -> usize {
    let period = 2 * n as isize;
    let m = i.rem_euclid(period) as usize;
    if m < n {
        m
    } else {
        2 * n - 1 - m
    }
}

/// Reusable buffers of [`median_line`].
#[derive(Default)]
struct MedianScratch {
    /// Keys of the line extended by `k/2` reflected values on each side.
    ext: Vec<u32>,
    /// The sorted window of wide filters, padded with `u32::MAX` to a power of two.
    window: Vec<u32>,
}

/// First index of the sorted `w` (power-of-two length, last element `u32::MAX`) whose value is
/// not below `v`: a branch-free binary search.
#[inline(always)]
fn lower_bound(w: &[u32], v: u32) -> usize {
    let mut base = 0;
    let mut step = w.len() / 2;
    while step > 0 {
        base += usize::from(w[base + step - 1] < v) * step;
        step /= 2;
    }
    base
}

/// Sliding median of odd width `k` over `line` into `out` (same length): a sorted window of
/// order keys, updated by one removal and one insertion per step. The median is an element of
/// the window, so the result is exact.
fn median_line(line: &[f32], k: usize, out: &mut [f32], scratch: &mut MedianScratch) {
    let n = line.len();
    if n == 0 {
        return;
    }
    let half = (k / 2) as isize;
    let ext = &mut scratch.ext;
    ext.clear();
    ext.extend((-half..n as isize + half).map(|i| key(line[reflect(i, n)])));
    if k < 32 {
        // The usual case (kernel 31): a fixed-size window the compiler fully unrolls.
        let mut w = [u32::MAX; 32];
        w[..k].copy_from_slice(&ext[..k]);
        w[..k].sort_unstable();
        slide(ext, k, &mut w, out);
    } else {
        let w = &mut scratch.window;
        w.clear();
        w.extend_from_slice(&ext[..k]);
        w.sort_unstable();
        w.resize((k + 1).next_power_of_two(), u32::MAX);
        slide(ext, k, w, out);
    }
}

/// The sliding part of [`median_line`]: `w` holds the sorted first window (padded with
/// `u32::MAX` to a power of two), `ext` the extended line.
#[inline(always)]
fn slide(ext: &[u32], k: usize, w: &mut [u32], out: &mut [f32]) {
    let mid = k / 2;
    out[0] = unkey(w[mid]);
    for (t, o) in out.iter_mut().enumerate().skip(1) {
        let old = ext[t - 1];
        let new = ext[t - 1 + k];
        if old != new {
            let i = lower_bound(w, old);
            let j = lower_bound(w, new);
            if j <= i {
                w.copy_within(j..i, j + 1);
                w[j] = new;
            } else {
                w.copy_within(i + 1..j, i);
                w[j - 1] = new;
            }
        }
        *o = unkey(w[mid]);
    }
}

/// Transpose of a row-major `rows × cols` matrix (returns `cols × rows`), in cache blocks.
fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const B: usize = 32;
    let mut out = vec![0.0f32; data.len()];
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                for c in c0..(c0 + B).min(cols) {
                    out[c * rows + r] = data[r * cols + c];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Median of each window by sorting, with the reflect extension built explicitly.
    fn naive(line: &[f32], k: usize) -> Vec<f32> {
        let n = line.len();
        let h = (k / 2) as isize;
        (0..n as isize)
            .map(|t| {
                let mut w: Vec<f32> = (t - h..=t + h).map(|i| line[reflect(i, n)]).collect();
                w.sort_by(f32::total_cmp);
                w[k / 2]
            })
            .collect()
    }

    #[test]
    fn reflect_extension_is_scipy_reflect() {
        // scipy reflect of [a b c]: ... c b a | a b c | c b a a b c ...
        let idx: Vec<usize> = (-7..10).map(|i| reflect(i, 3)).collect();
        assert_eq!(idx, vec![0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2]);
        assert_eq!(reflect(-3, 1), 0);
        assert_eq!(reflect(5, 1), 0);
    }

    #[test]
    fn key_order_round_trips() {
        let v = [-3.5f32, -0.0, 0.0, 1e-40, 2.0, f32::MAX];
        for w in v.windows(2) {
            assert!(key(w[0]) < key(w[1]));
        }
        for x in v {
            assert_eq!(unkey(key(x)).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn sliding_median_equals_sorting() {
        // Pseudo-random values with many ties, lines shorter and longer than the window.
        let mut state = 12345u32;
        for n in [1usize, 2, 3, 7, 15, 16, 30, 31, 32, 100, 257] {
            let line: Vec<f32> = (0..n)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (((state >> 24) % 9) as f32 - 3.0) * 0.25
                })
                .collect();
            for k in [1usize, 3, 31, 33] {
                let mut out = vec![0.0; n];
                median_line(&line, k, &mut out, &mut MedianScratch::default());
                assert_eq!(out, naive(&line, k), "n={n} k={k}");
            }
        }
    }

    #[test]
    fn masks_split_zeros_and_sum_to_one() {
        assert_eq!(soft_masks(0.0, 0.0), (0.5, 0.5));
        assert_eq!(soft_masks(3.0, 0.0), (1.0, 0.0));
        let (h, p) = soft_masks(1.0, 2.0);
        assert!((h - 0.2).abs() < 1e-7 && (p - 0.8).abs() < 1e-7);
    }

    #[test]
    fn transpose_round_trip() {
        let d: Vec<f32> = (0..35 * 70).map(|i| i as f32).collect();
        let t = transpose(&d, 35, 70);
        assert_eq!(t[3 * 35 + 2], d[2 * 70 + 3]);
        assert_eq!(transpose(&t, 70, 35), d);
    }
}
