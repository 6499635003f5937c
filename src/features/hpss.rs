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
    // Complex bins frame-major (borrowed when `s` is stored that way, as `stft` makes it) and
    // their magnitudes (np.abs of complex64: hypotf).
    let st = s.t();
    let spec: std::borrow::Cow<[Complex<f32>]> = match st.as_slice() {
        Some(sl) => std::borrow::Cow::Borrowed(sl),
        None => std::borrow::Cow::Owned(st.iter().copied().collect()),
    };
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
pub(crate) fn soft_masks(h: f32, p: f32) -> (f32, f32) {
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
/// scipy's `reflect` boundary. Rows are filtered in parallel, two at a time; width 31 uses an
/// AVX2 kernel where the CPU has it (same results as the portable path, tested).
pub fn median_filter_rows(data: &[f32], row_len: usize, k: usize) -> Vec<f32> {
    median_filter_rows_with(data, row_len, k, simd31_available())
}

/// [`median_filter_rows`] with the AVX2 kernel allowed or not (for tests and benchmarks).
pub fn median_filter_rows_with(data: &[f32], row_len: usize, k: usize, simd: bool) -> Vec<f32> {
    let mut out = vec![0.0f32; data.len()];
    if row_len == 0 || k == 0 {
        return out;
    }
    let simd = simd && k == 31 && simd31_available();
    out.par_chunks_mut(2 * row_len)
        .zip(data.par_chunks(2 * row_len))
        .with_min_len(4)
        .for_each_init(MedianScratch::default, |scratch, (o, lines)| {
            if simd {
                median_rows_31(lines, row_len, o, scratch);
            } else {
                for (o, line) in o.chunks_mut(row_len).zip(lines.chunks(row_len)) {
                    median_line(line, k, o, scratch);
                }
            }
        });
    out
}

/// Whether the AVX2 width-31 kernel can run on this CPU.
fn simd31_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Width-31 medians of one or two rows of `row_len` values with the AVX2 kernel.
#[cfg(target_arch = "x86_64")]
fn median_rows_31(lines: &[f32], row_len: usize, out: &mut [f32], scratch: &mut MedianScratch) {
    let MedianScratch {
        ext,
        ext2,
        keys,
        keys2,
        ..
    } = scratch;
    extend_keys(&lines[..row_len], 31, ext);
    keys.resize(row_len, 0);
    if lines.len() == 2 * row_len {
        extend_keys(&lines[row_len..], 31, ext2);
        keys2.resize(row_len, 0);
        // SAFETY: only called when `simd31_available()` reported AVX2.
        unsafe { avx2::slide31_pair(ext, ext2, keys, keys2) };
        for (o, &k) in out.iter_mut().zip(keys.iter().chain(keys2.iter())) {
            *o = unkey(k);
        }
    } else {
        // SAFETY: as above.
        unsafe { avx2::slide31(ext, keys) };
        for (o, &k) in out.iter_mut().zip(keys.iter()) {
            *o = unkey(k);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn median_rows_31(_: &[f32], _: usize, _: &mut [f32], _: &mut MedianScratch) {
    unreachable!("the AVX2 kernel is only selected on x86_64")
}

/// Keys of `line` extended by `k/2` reflected values on each side, into `ext`.
fn extend_keys(line: &[f32], k: usize, ext: &mut Vec<u32>) {
    let n = line.len();
    let half = (k / 2) as isize;
    ext.clear();
    ext.extend((-half..n as isize + half).map(|i| key(line[reflect(i, n)])));
}

/// The width-31 sliding median with AVX2: the sorted window (31 keys and a `MAX` sentinel) lives
/// in four 8-lane registers; each step counts the keys below the outgoing and the incoming value
/// (their ranks) and rebuilds the window with lane shifts and blends, without branches.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Lane indices, lane rotations and the sentinel.
    struct Consts {
        q: [__m256i; 4],
        rot_l: __m256i,
        rot_r: __m256i,
        max: __m256i,
    }

    #[inline(always)]
    unsafe fn consts() -> Consts {
        Consts {
            q: [
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15),
                _mm256_setr_epi32(16, 17, 18, 19, 20, 21, 22, 23),
                _mm256_setr_epi32(24, 25, 26, 27, 28, 29, 30, 31),
            ],
            rot_l: _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0),
            rot_r: _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6),
            max: _mm256_set1_epi32(i32::MAX),
        }
    }

    /// u32 order key to a signed key with the same order (signed compares only in AVX2).
    #[inline(always)]
    fn signed(k: u32) -> i32 {
        (k ^ 0x8000_0000) as i32
    }

    /// The sorted first window of `ext` (31 keys), padded with the sentinel.
    #[inline(always)]
    unsafe fn init(ext: &[u32]) -> [__m256i; 4] {
        let mut w = [i32::MAX; 32];
        for (d, &k) in w.iter_mut().zip(&ext[..31]) {
            *d = signed(k);
        }
        w[..31].sort_unstable();
        let p = w.as_ptr() as *const __m256i;
        [
            _mm256_loadu_si256(p),
            _mm256_loadu_si256(p.add(1)),
            _mm256_loadu_si256(p.add(2)),
            _mm256_loadu_si256(p.add(3)),
        ]
    }

    /// The median (rank 15) of the window, as a u32 key.
    #[inline(always)]
    unsafe fn median(v: &[__m256i; 4]) -> u32 {
        (_mm256_extract_epi32::<7>(v[1]) as u32) ^ 0x8000_0000
    }

    /// Replaces one occurrence of `old` by `new` in the sorted window, returns the new median.
    #[inline(always)]
    unsafe fn step(c: &Consts, v: &mut [__m256i; 4], old: u32, new: u32) -> u32 {
        let ob = _mm256_set1_epi32(signed(old));
        let nb = _mm256_set1_epi32(signed(new));
        // i: index of the first `old`; j: insertion point of `new` (keys below each).
        let mut i = 0i32;
        let mut j = 0i32;
        for r in v.iter() {
            let lo = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(ob, *r)));
            let ln = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(nb, *r)));
            i += (lo as u32).count_ones() as i32;
            j += (ln as u32).count_ones() as i32;
        }
        // new lands at j (j <= i: (j, i] shift right) or at j - 1 ([i, j - 1) shift left).
        let pos = _mm256_set1_epi32(j - i32::from(j > i));
        let ib = _mm256_set1_epi32(i);
        let im1 = _mm256_set1_epi32(i - 1);
        let jb = _mm256_set1_epi32(j);
        let jm1 = _mm256_set1_epi32(j - 1);
        let rl = [
            _mm256_permutevar8x32_epi32(v[0], c.rot_l),
            _mm256_permutevar8x32_epi32(v[1], c.rot_l),
            _mm256_permutevar8x32_epi32(v[2], c.rot_l),
            _mm256_permutevar8x32_epi32(v[3], c.rot_l),
        ];
        let rr = [
            _mm256_permutevar8x32_epi32(v[0], c.rot_r),
            _mm256_permutevar8x32_epi32(v[1], c.rot_r),
            _mm256_permutevar8x32_epi32(v[2], c.rot_r),
            _mm256_permutevar8x32_epi32(v[3], c.rot_r),
        ];
        let mut nv = *v;
        for r in 0..4 {
            // w[q + 1] and w[q - 1] across register boundaries.
            let next = if r < 3 {
                _mm256_blend_epi32::<0x80>(rl[r], rl[r + 1])
            } else {
                _mm256_blend_epi32::<0x80>(rl[r], c.max)
            };
            let prev = if r > 0 {
                _mm256_blend_epi32::<0x01>(rr[r], rr[r - 1])
            } else {
                rr[r]
            };
            let q = c.q[r];
            let right = _mm256_andnot_si256(_mm256_cmpgt_epi32(q, ib), _mm256_cmpgt_epi32(q, jb));
            let left = _mm256_and_si256(_mm256_cmpgt_epi32(q, im1), _mm256_cmpgt_epi32(jm1, q));
            let mut x = _mm256_blendv_epi8(v[r], prev, right);
            x = _mm256_blendv_epi8(x, next, left);
            nv[r] = _mm256_blendv_epi8(x, nb, _mm256_cmpeq_epi32(q, pos));
        }
        *v = nv;
        median(v)
    }

    /// Medians of one extended line (`ext.len() == out.len() + 30`) as u32 keys.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn slide31(ext: &[u32], out: &mut [u32]) {
        assert!(!out.is_empty() && ext.len() == out.len() + 30);
        let c = consts();
        let mut v = init(ext);
        out[0] = median(&v);
        for t in 1..out.len() {
            out[t] = step(&c, &mut v, ext[t - 1], ext[t + 30]);
        }
    }

    /// [`slide31`] of two lines of the same length at once (two independent dependency chains
    /// keep the vector units busy).
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn slide31_pair(ea: &[u32], eb: &[u32], oa: &mut [u32], ob: &mut [u32]) {
        let n = oa.len();
        assert!(n > 0 && ob.len() == n && ea.len() == n + 30 && eb.len() == n + 30);
        let c = consts();
        let mut va = init(ea);
        let mut vb = init(eb);
        oa[0] = median(&va);
        ob[0] = median(&vb);
        for t in 1..n {
            oa[t] = step(&c, &mut va, ea[t - 1], ea[t + 30]);
            ob[t] = step(&c, &mut vb, eb[t - 1], eb[t + 30]);
        }
    }
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
pub(crate) fn reflect(i: isize, n: usize) -> usize {
    let period = 2 * n as isize;
    let m = i.rem_euclid(period) as usize;
    if m < n {
        m
    } else {
        2 * n - 1 - m
    }
}

/// Reusable buffers of the median filters.
#[derive(Default)]
struct MedianScratch {
    /// Keys of the line extended by `k/2` reflected values on each side.
    ext: Vec<u32>,
    /// The second line's extension (AVX2 pair kernel).
    ext2: Vec<u32>,
    /// Median keys of the AVX2 kernel, one buffer per line.
    keys: Vec<u32>,
    keys2: Vec<u32>,
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
    let ext = &mut scratch.ext;
    extend_keys(line, k, ext);
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
    fn avx2_kernel_equals_portable_path() {
        if !simd31_available() {
            crate::config::skip_test("avx2_kernel_equals_portable_path: this CPU has no AVX2");
            return;
        }
        let mut state = 987_654_321u32;
        for (rows, len) in [
            (1usize, 1usize),
            (3, 2),
            (5, 15),
            (2, 31),
            (7, 40),
            (4, 300),
        ] {
            let data: Vec<f32> = (0..rows * len)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    // Many ties, negative values and zeros of both signs.
                    match (state >> 20) % 11 {
                        0 => -0.0,
                        v => (v as f32 - 4.0) * 0.5,
                    }
                })
                .collect();
            let simd = median_filter_rows_with(&data, len, 31, true);
            let portable = median_filter_rows_with(&data, len, 31, false);
            let naive_rows: Vec<f32> = data.chunks(len).flat_map(|l| naive(l, 31)).collect();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&simd), bits(&portable), "rows={rows} len={len}");
            assert_eq!(simd, naive_rows, "rows={rows} len={len}");
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
