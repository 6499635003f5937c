//! Real FFTs of even length in `f64`: a complex FFT of half the length (rustfft) with the split
//! step before (inverse) or after (forward) it, computing the same bits as `realfft` 3.5 (each
//! bin pair gets the same operations in the same order; checked by the tests below), with the
//! split step two bin pairs at a time in AVX2 where the CPU has it.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// `exp(-2πi·k/n)`, as `realfft` computes its twiddles.
fn twiddle(k: usize, n: usize) -> Complex<f64> {
    let angle = -2.0 * std::f64::consts::PI / n as f64 * k as f64;
    Complex::new(angle.cos(), angle.sin())
}

/// Bin pairs `(k, n/2 − k)` for `k` in `1..pairs + 1` (the middle bin, when there is one, is
/// handled apart).
fn pair_count(n: usize) -> usize {
    n.div_ceil(4) - 1
}

/// The forward transform of `n` real samples into `n/2 + 1` bins (numpy's `rfft`, unscaled).
pub struct Rfft {
    n: usize,
    fft: Arc<dyn Fft<f64>>,
    /// `twiddle(k, n) / 2` for each pair.
    twiddles: Vec<Complex<f64>>,
}

/// The inverse transform of `n/2 + 1` bins into `n` real samples (numpy's `irfft` times `n`).
pub struct Irfft {
    n: usize,
    fft: Arc<dyn Fft<f64>>,
    /// `conj(twiddle(k, n))` for each pair.
    twiddles: Vec<Complex<f64>>,
}

impl Rfft {
    /// Plans the transform of length `n` (even, at least 2).
    pub fn new(n: usize) -> Self {
        assert!(
            n >= 2 && n.is_multiple_of(2),
            "real FFT length must be even"
        );
        Rfft {
            n,
            fft: FftPlanner::new().plan_fft_forward(n / 2),
            twiddles: (1..=pair_count(n)).map(|k| twiddle(k, n) * 0.5).collect(),
        }
    }

    /// The scratch length [`Rfft::process`] needs.
    pub fn scratch_len(&self) -> usize {
        self.fft.get_outofplace_scratch_len()
    }

    /// Transforms `input` (`n` samples; overwritten) into `output` (`n/2 + 1` bins).
    pub fn process(
        &self,
        input: &mut [f64],
        output: &mut [Complex<f64>],
        scratch: &mut [Complex<f64>],
    ) {
        let half = self.n / 2;
        assert!(input.len() == self.n && output.len() == half + 1);
        let packed = as_complex(input);
        self.fft
            .process_outofplace_with_scratch(packed, &mut output[..half], scratch);
        let first = output[0];
        output[0] = Complex::new(first.re + first.im, 0.0);
        output[half] = Complex::new(first.re - first.im, 0.0);
        split(&mut output[..half + 1], &self.twiddles, Split::Forward);
        if half.is_multiple_of(2) {
            output[half / 2].im = -output[half / 2].im;
        }
    }
}

impl Irfft {
    /// Plans the transform of length `n` (even, at least 2).
    pub fn new(n: usize) -> Self {
        assert!(
            n >= 2 && n.is_multiple_of(2),
            "real FFT length must be even"
        );
        Irfft {
            n,
            fft: FftPlanner::new().plan_fft_inverse(n / 2),
            twiddles: (1..=pair_count(n)).map(|k| twiddle(k, n).conj()).collect(),
        }
    }

    /// The scratch length [`Irfft::process`] needs.
    pub fn scratch_len(&self) -> usize {
        self.fft.get_outofplace_scratch_len()
    }

    /// Transforms `input` (`n/2 + 1` bins, overwritten; the imaginary parts of the first and
    /// last bins are taken as zero) into `output` (`n` samples, unscaled).
    pub fn process(
        &self,
        input: &mut [Complex<f64>],
        output: &mut [f64],
        scratch: &mut [Complex<f64>],
    ) {
        let half = self.n / 2;
        assert!(input.len() == half + 1 && output.len() == self.n);
        input[0].im = 0.0;
        input[half].im = 0.0;
        let (first, last) = (input[0], input[half]);
        let (sum, diff) = (first + last, first - last);
        input[0] = Complex::new(sum.re - sum.im, diff.re - diff.im);
        split(&mut input[..half + 1], &self.twiddles, Split::Inverse);
        if half.is_multiple_of(2) {
            let c = input[half / 2];
            input[half / 2] = (c + c).conj();
        }
        self.fft
            .process_outofplace_with_scratch(&mut input[..half], as_complex(output), scratch);
    }
}

/// `n` reals seen as `n/2` complex values (re, im interleaved).
fn as_complex(x: &mut [f64]) -> &mut [Complex<f64>] {
    // SAFETY: Complex<f64> is repr(C) of two f64 (size 16, alignment 8); the length is halved.
    unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast(), x.len() / 2) }
}

/// The forward split of pair `(a, b)` = bins `(k, half − k)` with twiddle `w`.
#[inline(always)]
fn forward_pair(a: &mut Complex<f64>, b: &mut Complex<f64>, w: Complex<f64>) {
    let (sum, diff) = (*a + *b, *a - *b);
    let (half_sum_re, half_diff_im) = (0.5 * sum.re, 0.5 * diff.im);
    let re = sum.im * w.re + diff.re * w.im;
    let im = sum.im * w.im - diff.re * w.re;
    *a = Complex::new(half_sum_re + re, half_diff_im + im);
    *b = Complex::new(half_sum_re - re, im - half_diff_im);
}

/// The inverse split of pair `(a, b)` = bins `(k, half − k)` with twiddle `w`.
#[inline(always)]
fn inverse_pair(a: &mut Complex<f64>, b: &mut Complex<f64>, w: Complex<f64>) {
    let (sum, diff) = (*a + *b, *a - *b);
    let re = sum.im * w.re + diff.re * w.im;
    let im = sum.im * w.im - diff.re * w.re;
    *a = Complex::new(sum.re - re, diff.im - im);
    *b = Complex::new(sum.re + re, -im - diff.im);
}

/// Applies `pair` to bins `(k, len − 1 − k)` of `bins` for `k` in `1..=twiddles.len()`.
#[inline(always)]
fn pairs_portable(
    bins: &mut [Complex<f64>],
    twiddles: &[Complex<f64>],
    from: usize,
    pair: fn(&mut Complex<f64>, &mut Complex<f64>, Complex<f64>),
) {
    let last = bins.len() - 1;
    for k in from..=twiddles.len() {
        let (left, right) = bins.split_at_mut(last - k);
        pair(&mut left[k], &mut right[0], twiddles[k - 1]);
    }
}

/// Which split step: the forward one (after the FFT) or the inverse one (before it).
#[derive(Clone, Copy, PartialEq)]
enum Split {
    Forward,
    Inverse,
}

/// The split step of every bin pair of `bins` (two pairs at a time in AVX2, the rest portably).
fn split(bins: &mut [Complex<f64>], twiddles: &[Complex<f64>], which: Split) {
    let pair = match which {
        Split::Forward => forward_pair,
        Split::Inverse => inverse_pair,
    };
    #[cfg(target_arch = "x86_64")]
    if super::lanes::has_avx2() {
        // SAFETY: the CPU reported AVX2; `avx2::pairs` reads and writes only pairs of `bins`.
        let done = unsafe { avx2::pairs(bins, twiddles, which == Split::Forward) };
        return pairs_portable(bins, twiddles, done + 1, pair);
    }
    pairs_portable(bins, twiddles, 1, pair)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use rustfft::num_complex::Complex;
    use std::arch::x86_64::*;

    /// The split step of pairs `1..=2m` (two pairs per step, each lane pair one bin as
    /// `re, im`); returns `2m`, the pairs done. Every lane gets the portable code's operations
    /// in its order (no fused multiply-add), so the bits are the same.
    #[target_feature(enable = "avx2")]
    pub unsafe fn pairs(
        bins: &mut [Complex<f64>],
        twiddles: &[Complex<f64>],
        forward: bool,
    ) -> usize {
        let last = bins.len() - 1;
        let steps = twiddles.len() / 2;
        let p = bins.as_mut_ptr().cast::<f64>();
        let tw = twiddles.as_ptr().cast::<f64>();
        let half = _mm256_set1_pd(0.5);
        let sign = _mm256_set1_pd(-0.0);
        for s in 0..steps {
            let k = 1 + 2 * s;
            // Bins k, k + 1 and (reversed) last − k, last − k − 1.
            let pa = p.add(2 * k);
            let pb = p.add(2 * (last - k - 1));
            let a = _mm256_loadu_pd(pa);
            let b = _mm256_permute2f128_pd(_mm256_loadu_pd(pb), _mm256_loadu_pd(pb), 0x01);
            let w = _mm256_loadu_pd(tw.add(2 * (k - 1)));
            let sum = _mm256_add_pd(a, b);
            let diff = _mm256_sub_pd(a, b);
            // (sum.im·w.re, sum.im·w.im) and (diff.re·w.im, diff.re·w.re).
            let x = _mm256_mul_pd(_mm256_permute_pd(sum, 0b1111), w);
            let y = _mm256_mul_pd(
                _mm256_permute_pd(diff, 0b0000),
                _mm256_permute_pd(w, 0b0101),
            );
            // (re, im) = (x.0 + y.0, x.1 − y.1).
            let t = _mm256_blend_pd(_mm256_add_pd(x, y), _mm256_sub_pd(x, y), 0b1010);
            let (na, nb) = if forward {
                // (½sum.re, ½diff.im): a = h + t, b = (h.0 − t.0, t.1 − h.1).
                let h =
                    _mm256_blend_pd(_mm256_mul_pd(half, sum), _mm256_mul_pd(half, diff), 0b1010);
                let nb = _mm256_blend_pd(_mm256_sub_pd(h, t), _mm256_sub_pd(t, h), 0b1010);
                (_mm256_add_pd(h, t), nb)
            } else {
                // (sum.re, diff.im): a = h − t, b = (h.0 + t.0, (−t.1) − h.1).
                let h = _mm256_blend_pd(sum, diff, 0b1010);
                let neg_t = _mm256_xor_pd(t, sign);
                let nb = _mm256_blend_pd(_mm256_add_pd(h, t), _mm256_sub_pd(neg_t, h), 0b1010);
                (_mm256_sub_pd(h, t), nb)
            };
            _mm256_storeu_pd(pa, na);
            _mm256_storeu_pd(pb, _mm256_permute2f128_pd(nb, nb, 0x01));
        }
        2 * steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;

    fn signal(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0
            })
            .collect()
    }

    fn bits(v: &[Complex<f64>]) -> Vec<(u64, u64)> {
        v.iter().map(|c| (c.re.to_bits(), c.im.to_bits())).collect()
    }

    fn check(n: usize) {
        let mut planner = RealFftPlanner::<f64>::new();
        let (fwd, inv) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
        let (ours, ours_inv) = (Rfft::new(n), Irfft::new(n));
        for seed in 0..3 {
            let x = signal(n, seed);
            let mut want = fwd.make_output_vec();
            fwd.process(&mut x.clone(), &mut want).unwrap();
            let mut got = vec![Complex::new(0.0, 0.0); n / 2 + 1];
            let mut scratch = vec![Complex::new(0.0, 0.0); ours.scratch_len()];
            ours.process(&mut x.clone(), &mut got, &mut scratch);
            assert_eq!(bits(&got), bits(&want), "forward, n = {n}");

            // Inverse of a spectrum (the one above, or zeros, where the signs of zeros in the
            // split step reach the output) with signed zeros and imaginary parts at both ends.
            let mut spec = if seed == 0 {
                vec![Complex::new(0.0, 0.0); n / 2 + 1]
            } else {
                want.clone()
            };
            spec[0].im = 0.0;
            spec[n / 2].im = 0.0;
            // Zero pairs with every combination of signs (k and n/2 − k), where `-x - y` and
            // `-(x + y)` differ.
            let zero = |bit: usize| if bit == 0 { 0.0 } else { -0.0 };
            for signs in 0..16usize.min((n / 4).saturating_sub(1)) {
                let k = 1 + signs;
                let z = |i: usize| zero(signs >> i & 1);
                spec[k] = Complex::new(z(0), z(1));
                spec[n / 2 - k] = Complex::new(z(2), z(3));
            }
            let mut want_t = inv.make_output_vec();
            inv.process(&mut spec.clone(), &mut want_t).unwrap();
            spec[0].im = 1.5;
            spec[n / 2].im = -2.5;
            let mut got_t = vec![0.0; n];
            let mut scratch = vec![Complex::new(0.0, 0.0); ours_inv.scratch_len()];
            ours_inv.process(&mut spec, &mut got_t, &mut scratch);
            let b = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(b(&got_t), b(&want_t), "inverse, n = {n}");
        }
    }

    #[test]
    fn same_bits_as_realfft() {
        for n in [2, 4, 6, 8, 10, 12, 14, 16, 18, 30, 64, 126, 256, 1024, 2048] {
            check(n);
        }
    }

    #[test]
    fn same_bits_on_every_instruction_set() {
        use crate::features::lanes;
        for isa in lanes::available_isas() {
            lanes::with_isa(isa, || {
                assert_eq!(lanes::has_avx2(), isa != lanes::Isa::Portable);
                for n in [6, 16, 18, 2048] {
                    check(n);
                }
            });
        }
    }
}
