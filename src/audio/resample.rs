//! Band-limited resampling to the analysis rate, bit for bit as librosa 0.8.1 does it: resampy
//! 0.4.3 with its `kaiser_best` filter, then `fix_length` to `ceil(n · sr_out / sr_in)`.
//!
//! # The filter
//! resampy ships its filters as tables of the right half of a Kaiser-windowed sinc, sampled
//! `precision` times per zero crossing. Both tables are reproduced here from their parameters,
//! exactly: the sinc as numpy's `sinc` evaluates it, the window as numpy's `kaiser` (Cephes'
//! Chebyshev expansion of `I0`), with the window shape `β` that the shipped table was made with
//! (recovered from the table's last entry; every one of the 409 601 `kaiser_best` entries then
//! agrees to the bit, which `tests/resample.rs` checks against values taken from resampy's file).
//! Each table is built once per process.
//!
//! # The arithmetic
//! Output sample `t` sits at input time `t · (sr_in / sr_out)` (a product in `f64`). Its integer
//! part `n` and fraction pick a position in the table; each tap's weight is the table value plus
//! the fraction of the way to the next entry times their difference (in `f64`). When the rate goes
//! down, the table is scaled by the rate ratio and read with a stride shortened in proportion, so
//! the filter's cut-off follows the new Nyquist frequency. The output sample starts at `0.0f32`;
//! each tap's `f64` product is added to it and the sum is rounded back to `f32` at once, first the
//! taps at and before `n` (going back in time), then those after it (going forward). This order
//! and these roundings are what make the result equal resampy's, so they are kept everywhere.
//!
//! # Speed
//! [`resample_reference`] is that loop written plainly, one output at a time. [`resample_with`]
//! computes the very same sums faster, without changing one operation of any output:
//! * The weights of an output depend only on the fraction of its input time, and few fractions
//!   occur (one for 44.1 kHz → 22.05 kHz, about 1 700 for 48 kHz over a whole song). Each distinct
//!   fraction gets one row of weights, computed once; outputs are grouped by row.
//! * 32 outputs of a row run together in AVX2 lanes (eight groups of four, enough independent
//!   sums to hide the latency of add-then-round): four taps of four outputs are loaded as four
//!   rows of inputs and transposed, and each lane adds its products in resampy's order, rounding
//!   to `f32` after every tap.
//! * When the rate falls by an integer factor `d` (44.1 and 88.2 kHz), output `t` sits exactly
//!   on input `d·t`: the inputs are split into `d` phases so that one tap of 32 consecutive
//!   outputs is 32 consecutive values, loaded without any shuffle.
//! * Outputs whose filter reaches past either end of the signal, rows beyond a bounded number
//!   (rates whose outputs hardly share weights), signals holding a NaN or an infinity, and CPUs
//!   without AVX2 take the plain arithmetic (per output, with the row's weights where there is
//!   one). Every path is compared bit for bit with the reference in the tests.

use super::AudioError;
use rayon::prelude::*;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// Lowest source rate accepted (Hz).
pub const MIN_RATE: u32 = 1_000;
/// Highest source rate accepted (Hz).
pub const MAX_RATE: u32 = 768_000;

/// resampy's precomputed filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    /// `kaiser_best`: 50 zero crossings each side, 8192 table entries per crossing (librosa's
    /// default).
    #[default]
    KaiserBest,
    /// `kaiser_fast`: 24 zero crossings each side, 512 entries per crossing.
    KaiserFast,
}

/// Parameters a filter table is generated from.
#[derive(Debug, Clone, Copy)]
struct Design {
    zeros: usize,
    precision: usize,
    rolloff: f64,
    beta: f64,
}

impl Filter {
    fn design(self) -> Design {
        match self {
            // Roll-offs as stored in resampy's .npz files; β recovered from the tables.
            Filter::KaiserBest => Design {
                zeros: 50,
                precision: 8192,
                rolloff: 0.917_347_371_260_876_1,
                beta: 12.984_585_247_040_012,
            },
            Filter::KaiserFast => Design {
                zeros: 24,
                precision: 512,
                rolloff: 0.868_212_038_837_778_4,
                beta: 9.903_224_416_455_277,
            },
        }
    }

    /// Table entries per zero crossing.
    pub fn precision(self) -> usize {
        self.design().precision
    }

    /// The right half of the filter, `zeros · precision + 1` entries, as resampy stores it.
    pub fn half_window(self) -> &'static [f64] {
        static BEST: OnceLock<Vec<f64>> = OnceLock::new();
        static FAST: OnceLock<Vec<f64>> = OnceLock::new();
        let cell = match self {
            Filter::KaiserBest => &BEST,
            Filter::KaiserFast => &FAST,
        };
        cell.get_or_init(|| build_half_window(self.design()))
    }
}

/// Cephes' Chebyshev coefficients for `exp(-x)·I0(x)` on `[0, 8]` (as numpy's `i0` uses them).
const I0_A: [f64; 30] = [
    -4.415_341_646_479_339_5e-18,
    3.330_794_518_822_238_4e-17,
    -2.431_279_846_547_955e-16,
    1.715_391_285_555_133e-15,
    -1.168_533_287_799_345_1e-14,
    7.676_185_498_604_936e-14,
    -4.856_446_783_111_929e-13,
    2.955_052_663_129_64e-12,
    -1.726_826_291_441_556e-11,
    9.675_809_035_373_237e-11,
    -5.189_795_601_635_263e-10,
    2.659_823_724_682_386_6e-9,
    -1.300_025_009_986_248e-8,
    6.046_995_022_541_919e-8,
    -2.670_793_853_940_612e-7,
    1.117_387_539_120_103_7e-6,
    -4.416_738_358_458_750_5e-6,
    1.644_844_807_072_889_6e-5,
    -5.754_195_010_082_104e-5,
    1.885_028_850_958_416_5e-4,
    -5.763_755_745_385_824e-4,
    1.639_475_616_941_335_7e-3,
    -4.324_309_995_050_576e-3,
    1.054_646_039_459_499_8e-2,
    -2.373_741_480_589_947e-2,
    4.930_528_423_967_071e-2,
    -9.490_109_704_804_764e-2,
    1.716_209_015_222_087_7e-1,
    -3.046_826_723_431_984e-1,
    6.767_952_744_094_761e-1,
];

/// Cephes' Chebyshev coefficients for `exp(-x)·sqrt(x)·I0(x)` on `(8, ∞)`.
const I0_B: [f64; 25] = [
    -7.233_180_487_874_754e-18,
    -4.830_504_485_944_182e-18,
    4.465_621_420_296_76e-17,
    3.461_222_867_697_461e-17,
    -2.827_623_980_516_583_6e-16,
    -3.425_485_619_677_219e-16,
    1.772_560_133_056_526_3e-15,
    3.811_680_669_352_622_4e-15,
    -9.554_846_698_828_307e-15,
    -4.150_569_347_287_222e-14,
    1.540_086_217_521_41e-14,
    3.852_778_382_742_142_6e-13,
    7.180_124_451_383_666e-13,
    -1.794_178_531_506_806_2e-12,
    -1.321_581_184_044_771_3e-11,
    -3.149_916_527_963_241_6e-11,
    1.188_914_710_784_643_9e-11,
    4.940_602_388_224_97e-10,
    3.396_232_025_708_386_5e-9,
    2.266_668_990_498_178e-8,
    2.048_918_589_469_063_8e-7,
    2.891_370_520_834_756_7e-6,
    6.889_758_346_916_825e-5,
    3.369_116_478_255_694_3e-3,
    8.044_904_110_141_088e-1,
];

/// Clenshaw's recurrence for a Chebyshev series, in numpy's operation order.
#[inline(always)]
fn chbevl(x: f64, c: &[f64]) -> f64 {
    let (mut b0, mut b1, mut b2) = (c[0], 0.0f64, 0.0f64);
    for &v in &c[1..] {
        b2 = b1;
        b1 = b0;
        b0 = x * b1 - b2 + v;
    }
    0.5 * (b0 - b2)
}

/// Modified Bessel function of order 0 as numpy 1.23's `i0` computes it.
fn bessel_i0(x: f64) -> f64 {
    let x = x.abs();
    if x <= 8.0 {
        x.exp() * chbevl(x / 2.0 - 2.0, &I0_A)
    } else {
        x.exp() * chbevl(32.0 / x - 2.0, &I0_B) / x.sqrt()
    }
}

/// Values evaluated together when building a table (independent recurrences in vector lanes).
const BLOCK: usize = 8;

/// [`bessel_i0`] of `BLOCK` non-negative arguments on the same side of 8, the recurrences
/// interleaved (the same operations per value, so the same bits).
#[inline(always)]
fn bessel_i0_block(x: &[f64; BLOCK]) -> [f64; BLOCK] {
    let small = x[0] <= 8.0;
    let (c, t): (&[f64], [f64; BLOCK]) = if small {
        (&I0_A, std::array::from_fn(|l| x[l] / 2.0 - 2.0))
    } else {
        (&I0_B, std::array::from_fn(|l| 32.0 / x[l] - 2.0))
    };
    let mut b0 = [c[0]; BLOCK];
    let mut b1 = [0.0f64; BLOCK];
    let mut b2 = [0.0f64; BLOCK];
    for &v in &c[1..] {
        for l in 0..BLOCK {
            b2[l] = b1[l];
            b1[l] = b0[l];
            b0[l] = t[l] * b1[l] - b2[l] + v;
        }
    }
    std::array::from_fn(|l| {
        let e = x[l].exp() * (0.5 * (b0[l] - b2[l]));
        if small {
            e
        } else {
            e / x[l].sqrt()
        }
    })
}

/// The filter's right half: `rolloff · sinc(rolloff · u)` for `u` from 0 to `zeros` in steps of
/// `1/precision` (numpy's `linspace`), times the right half of a Kaiser window of `2·len − 1`
/// points (numpy's `kaiser`).
#[inline(always)]
fn build_half_window_impl(d: Design) -> Vec<f64> {
    let n = d.zeros * d.precision;
    let step = d.zeros as f64 / n as f64;
    let alpha = n as f64; // centre of the full window
    let i0_beta = bessel_i0(d.beta);
    // The Bessel function's arguments, falling from β to 0 along the table.
    let arg: Vec<f64> = (0..=n)
        .map(|i| {
            let r = i as f64 / alpha;
            d.beta * (1.0 - r * r).sqrt()
        })
        .collect();
    let mut taper = vec![0.0f64; n + 1];
    let mut i = 0;
    while i < arg.len() {
        let block: Option<&[f64; BLOCK]> = arg.get(i..i + BLOCK).map(|b| b.try_into().unwrap());
        match block {
            Some(b) if (b[0] <= 8.0) == (b[BLOCK - 1] <= 8.0) => {
                taper[i..i + BLOCK].copy_from_slice(&bessel_i0_block(b));
                i += BLOCK;
            }
            _ => {
                taper[i] = bessel_i0(arg[i]);
                i += 1;
            }
        }
    }
    (0..=n)
        .map(|i| {
            let u = if i == n {
                d.zeros as f64
            } else {
                i as f64 * step
            };
            let a = d.rolloff * u;
            let y = std::f64::consts::PI * if a == 0.0 { 1.0e-20 } else { a };
            let sinc = d.rolloff * (y.sin() / y);
            (taper[i] / i0_beta) * sinc
        })
        .collect()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn build_half_window_avx2(d: Design) -> Vec<f64> {
    build_half_window_impl(d)
}

/// Builds a filter table (AVX2 when the CPU has it: wider vectors, the same bits).
fn build_half_window(d: Design) -> Vec<f64> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { build_half_window_avx2(d) };
    }
    build_half_window_impl(d)
}

/// Number of samples `librosa.resample` returns for `n` input samples: `ceil(n · to / from)`,
/// computed in `f64` as Python does.
pub fn output_len(n: usize, from: u32, to: u32) -> usize {
    let ratio = f64::from(to) / f64::from(from);
    (n as f64 * ratio).ceil() as usize
}

/// Number of samples resampy itself computes: `floor(n · to / from)` (in `f64`, left to right).
pub fn resampy_len(n: usize, from: u32, to: u32) -> usize {
    (n as f64 * f64::from(to) / f64::from(from)) as usize
}

/// The input signal as the resampler reads it: `len` samples in all, of which `data` holds
/// those from index `offset` on (the whole signal, or the window of it that a stream keeps).
/// Reading outside the window is a bug of the caller (it panics).
#[derive(Clone, Copy)]
struct Input<'a> {
    data: &'a [f32],
    offset: usize,
    len: usize,
}

impl<'a> Input<'a> {
    fn whole(x: &'a [f32]) -> Self {
        Input {
            data: x,
            offset: 0,
            len: x.len(),
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn at(&self, i: usize) -> f32 {
        self.data[i - self.offset]
    }

    #[inline]
    fn slice(&self, r: std::ops::Range<usize>) -> &'a [f32] {
        &self.data[r.start - self.offset..r.end - self.offset]
    }
}

/// Everything the inner loops need for one rate pair.
struct Setup {
    /// The table, scaled by the rate ratio when downsampling.
    win: Vec<f64>,
    /// Forward differences of `win` (last one 0).
    delta: Vec<f64>,
    /// Table entries per input sample at the output's scale.
    step: usize,
    /// Table entries per zero crossing (`f64`).
    num_table: f64,
    /// `min(1, to/from)`.
    scale: f64,
    /// Input samples per output sample.
    time_increment: f64,
}

impl Setup {
    /// The setup for a rate pair, shared: the last few built are kept (a batch of songs at
    /// 44.1 kHz builds it once).
    fn shared(from: u32, to: u32, filter: Filter) -> Arc<Setup> {
        type Cache = Mutex<Vec<((u32, u32, Filter), Arc<Setup>)>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        const KEEP: usize = 4;
        let cache = CACHE.get_or_init(Cache::default);
        let key = (from, to, filter);
        if let Some((_, s)) = cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(k, _)| *k == key)
        {
            return Arc::clone(s);
        }
        let s = Arc::new(Setup::new(from, to, filter));
        let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
        if !c.iter().any(|(k, _)| *k == key) {
            if c.len() == KEEP {
                c.remove(0);
            }
            c.push((key, Arc::clone(&s)));
        }
        s
    }

    fn new(from: u32, to: u32, filter: Filter) -> Self {
        let ratio = f64::from(to) / f64::from(from);
        let table = filter.half_window();
        let win: Vec<f64> = if ratio < 1.0 {
            table.iter().map(|&w| ratio * w).collect()
        } else {
            table.to_vec()
        };
        let mut delta: Vec<f64> = win.windows(2).map(|p| p[1] - p[0]).collect();
        delta.push(0.0);
        let scale = ratio.min(1.0);
        let num_table = filter.precision() as f64;
        Setup {
            win,
            delta,
            step: (scale * num_table) as usize,
            num_table,
            scale,
            time_increment: 1.0 / ratio,
        }
    }

    /// Where output `t` reads: input index `n`, and (table offset, interpolation factor) of the
    /// left and right wings.
    #[inline]
    fn position(&self, t: usize) -> (usize, (usize, f64), (usize, f64)) {
        let time = t as f64 * self.time_increment;
        let n = time as usize;
        let frac = self.scale * (time - n as f64);
        let split = |frac: f64| {
            let index = frac * self.num_table;
            let offset = index as usize;
            (offset, index - offset as f64)
        };
        (n, split(frac), split(self.scale - frac))
    }

    /// Taps the table holds from `offset` on.
    #[inline]
    fn taps(&self, offset: usize) -> usize {
        (self.win.len() - offset) / self.step
    }

    /// Output `t`, one tap after the other (resampy's loop).
    #[inline]
    fn output(&self, x: Input, t: usize) -> f32 {
        let (n, (off_l, eta_l), (off_r, eta_r)) = self.position(t);
        let mut y = 0.0f32;
        let left = (n + 1).min(self.taps(off_l));
        for i in 0..left {
            let j = off_l + i * self.step;
            let w = self.win[j] + eta_l * self.delta[j];
            y = (f64::from(y) + w * f64::from(x.at(n - i))) as f32;
        }
        let right = (x.len() - n - 1).min(self.taps(off_r));
        for k in 0..right {
            let j = off_r + k * self.step;
            let w = self.win[j] + eta_r * self.delta[j];
            y = (f64::from(y) + w * f64::from(x.at(n + k + 1))) as f32;
        }
        y
    }
}

/// An error for a rate outside what resampy takes, or for `n` samples too few to resample (the
/// length is checked when given).
fn check_rates(path: &Path, n: Option<usize>, from: u32, to: u32) -> Result<(), AudioError> {
    let err = |reason: String| AudioError::Resample {
        path: path.to_path_buf(),
        reason,
    };
    for rate in [from, to] {
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            return Err(err(format!(
                "sample rate {rate} Hz is outside {MIN_RATE}..={MAX_RATE} Hz"
            )));
        }
    }
    if let Some(n) = n.filter(|&n| resampy_len(n, from, to) < 1) {
        return Err(err(format!(
            "{n} sample(s) at {from} Hz are too short to resample to {to} Hz"
        )));
    }
    Ok(())
}

/// What both resamplers do first: the signal itself when the rates are equal, an error for
/// rates or a length they cannot take, else `None` (go on).
fn unchanged(path: &Path, x: &[f32], from: u32, to: u32) -> Result<Option<Vec<f32>>, AudioError> {
    if from == to {
        return Ok(Some(x.to_vec()));
    }
    check_rates(path, Some(x.len()), from, to)?;
    Ok(None)
}

/// resampy's output for `x` (`floor(n · to / from)` samples, not yet fixed to librosa's length),
/// one output at a time: the in-tree reference of [`resample_with`].
pub fn resample_reference(
    path: &Path,
    x: &[f32],
    from: u32,
    to: u32,
    filter: Filter,
) -> Result<Vec<f32>, AudioError> {
    if let Some(same) = unchanged(path, x, from, to)? {
        return Ok(same);
    }
    let s = Setup::new(from, to, filter);
    Ok((0..resampy_len(x.len(), from, to))
        .map(|t| s.output(Input::whole(x), t))
        .collect())
}

/// Resamples mono `x` from `from` Hz to `to` Hz as `librosa.resample(x, from, to)` does with
/// resampy's `kaiser_best`; the result has [`output_len`] samples. `path` only names the file in
/// errors.
pub fn resample(path: &Path, x: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    resample_with(path, x, from, to, Filter::KaiserBest)
}

/// [`resample`] with a chosen filter (`librosa.resample(..., res_type=filter)`).
pub fn resample_with(
    path: &Path,
    x: &[f32],
    from: u32,
    to: u32,
    filter: Filter,
) -> Result<Vec<f32>, AudioError> {
    if let Some(same) = unchanged(path, x, from, to)? {
        return Ok(same);
    }
    let s = Setup::shared(from, to, filter);
    let m = resampy_len(x.len(), from, to);
    let mut y = vec![0.0f32; output_len(x.len(), from, to).max(m)];
    if x.iter().all(|v| v.is_finite()) {
        // Parts of whole chunks are independent: a long song uses the threads that no other
        // song needs (same bits as one pass).
        y[..m]
            .par_chunks_mut(lanes::PART)
            .enumerate()
            .for_each(|(i, part)| lanes::run(&s, Input::whole(x), part, i * lanes::PART));
    } else {
        for (t, v) in y[..m].iter_mut().enumerate() {
            *v = s.output(Input::whole(x), t);
        }
    }
    // librosa's fix_length: zeros appended up to ceil(n · to / from).
    y.truncate(output_len(x.len(), from, to));
    Ok(y)
}

/// Inputs a [`Stream`] gathers before it computes the outputs they complete.
const STREAM_BATCH: usize = 1 << 20;

/// [`resample`] of a signal that arrives piece by piece: [`Stream::push`] hands on the outputs
/// each piece completes, [`Stream::finish`] the rest, the same samples bit for bit as
/// [`resample`] of the whole signal, while only a window of the input (a batch and one filter
/// length) is kept.
pub struct Stream {
    path: std::path::PathBuf,
    from: u32,
    to: u32,
    /// `None` when the rates are equal (the input is the output).
    setup: Option<Arc<Setup>>,
    /// Inputs from index `offset` on.
    buf: Vec<f32>,
    offset: usize,
    /// Inputs pushed so far.
    received: usize,
    /// `received` when the last batch was computed.
    computed_at: usize,
    /// The next output to compute.
    next: usize,
}

impl Stream {
    /// A stream from `from` Hz to `to` Hz (`path` names the file in errors); the rates are
    /// checked here, the length at [`Stream::finish`].
    pub fn new(path: &Path, from: u32, to: u32) -> Result<Self, AudioError> {
        let setup = if from == to {
            None
        } else {
            check_rates(path, None, from, to)?;
            Some(Setup::shared(from, to, Filter::KaiserBest))
        };
        Ok(Stream {
            path: path.to_path_buf(),
            from,
            to,
            setup,
            buf: Vec::new(),
            offset: 0,
            received: 0,
            computed_at: 0,
            next: 0,
        })
    }

    /// Takes the next inputs; `out` receives the outputs they complete, in order.
    pub fn push<E>(
        &mut self,
        x: &[f32],
        out: &mut dyn FnMut(&[f32]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.received += x.len();
        if self.setup.is_none() {
            return if x.is_empty() { Ok(()) } else { out(x) };
        }
        self.buf.extend_from_slice(x);
        if self.received - self.computed_at < STREAM_BATCH {
            return Ok(());
        }
        self.computed_at = self.received;
        let s = Arc::clone(self.setup.as_ref().expect("resampling"));
        let len = s.taps(0);
        // Outputs whose right wing ends before the inputs received so far: they read no input
        // that is still to come and no end of the signal.
        let complete = |t: usize| ((t as f64 * s.time_increment) as usize) + len < self.received;
        let mut end = ((self.received.saturating_sub(len + 1)) as f64 / s.time_increment) as usize;
        while end > self.next && !complete(end - 1) {
            end -= 1;
        }
        while complete(end) {
            end += 1;
        }
        if end > self.next {
            self.compute(&s, end, self.received, out)?;
        }
        Ok(())
    }

    /// Outputs `self.next..end` of a signal of `len` samples (the inputs they read are in
    /// `buf`), handed to `out`; the inputs no later output reads are dropped.
    fn compute<E>(
        &mut self,
        s: &Setup,
        end: usize,
        len: usize,
        out: &mut dyn FnMut(&[f32]) -> Result<(), E>,
    ) -> Result<(), E> {
        let x = Input {
            data: &self.buf,
            offset: self.offset,
            len,
        };
        let mut y = vec![0.0f32; end - self.next];
        let start = self.next;
        if self.buf.iter().all(|v| v.is_finite()) {
            y.par_chunks_mut(lanes::PART)
                .enumerate()
                .for_each(|(i, part)| lanes::run(s, x, part, start + i * lanes::PART));
        } else {
            for (i, v) in y.iter_mut().enumerate() {
                *v = s.output(x, start + i);
            }
        }
        self.next = end;
        // The next output reads from input n − (taps − 1) on.
        let n = (end as f64 * s.time_increment) as usize;
        let keep_from = n.saturating_sub(s.taps(0) + 1).max(self.offset);
        self.buf.drain(..keep_from - self.offset);
        self.offset = keep_from;
        out(&y)
    }

    /// The end of the input: `out` receives the last outputs (and librosa's zeros up to
    /// [`output_len`]); returns the number of outputs in all.
    pub fn finish<E: From<AudioError>>(
        mut self,
        out: &mut dyn FnMut(&[f32]) -> Result<(), E>,
    ) -> Result<usize, E> {
        let n = self.received;
        let Some(s) = self.setup.clone() else {
            return Ok(n);
        };
        check_rates(&self.path, Some(n), self.from, self.to)?;
        // As resample_with: resampy's outputs, cut or padded with zeros to librosa's length.
        let total = output_len(n, self.from, self.to);
        let m = resampy_len(n, self.from, self.to).min(total);
        if m > self.next {
            self.compute(&s, m, n, out)?;
        }
        if total > m {
            out(&vec![0.0f32; total - m])?;
        }
        Ok(total)
    }
}

/// The fast evaluation of [`Setup::output`]: outputs sharing their weights, computed together.
mod lanes {
    use super::{Input, Setup};
    use std::collections::HashMap;
    use std::hash::{BuildHasherDefault, Hasher};

    /// Outputs handled per chunk (their positions and groups are kept at once).
    const CHUNK: usize = 1 << 18;
    /// Weight rows kept at most (about 14 MB for `kaiser_best`); outputs meeting a full table
    /// take the plain loop, and the table is emptied for the next chunk.
    const MAX_ROWS: usize = 1 << 13;
    /// Outputs per call of the main kernel: eight groups of four lanes (enough independent
    /// sums to hide the latency of the add-and-round chain).
    pub const LANES: usize = 32;
    /// Outputs per call of the kernel for the rest of a group.
    pub const FEW: usize = 4;
    /// Outputs per call of the AVX-512 decimation kernel.
    const WIDE: usize = 64;

    /// A multiplicative hash for the `f64` bits of an output's fractional position.
    #[derive(Default)]
    struct BitsHasher(u64);

    impl Hasher for BitsHasher {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            }
        }
        fn write_u64(&mut self, v: u64) {
            self.0 = (v ^ (v >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    /// The weights of both wings for every distinct fractional position met so far.
    struct Rows {
        /// Taps of the longest wing.
        len: usize,
        index: HashMap<u64, u32, BuildHasherDefault<BitsHasher>>,
        /// Row `r`: left weights in `left[r·len ..][.. left_taps[r]]`, right likewise.
        left: Vec<f64>,
        right: Vec<f64>,
        left_taps: Vec<usize>,
        right_taps: Vec<usize>,
    }

    impl Rows {
        fn new(s: &Setup) -> Rows {
            Rows {
                len: s.taps(0),
                index: HashMap::default(),
                left: Vec::new(),
                right: Vec::new(),
                left_taps: Vec::new(),
                right_taps: Vec::new(),
            }
        }

        fn clear(&mut self) {
            self.index.clear();
            self.left.clear();
            self.right.clear();
            self.left_taps.clear();
            self.right_taps.clear();
        }

        /// The row of output `t` (whose position has fraction bits `key`), made if there is
        /// room for it ([`MAX_ROWS`]).
        fn find(&mut self, s: &Setup, key: u64, t: usize) -> Option<u32> {
            if let Some(&r) = self.index.get(&key) {
                return Some(r);
            }
            (self.left_taps.len() < MAX_ROWS).then(|| self.row(s, key, t))
        }

        /// The row of output `t` (whose position has fraction bits `key`).
        fn row(&mut self, s: &Setup, key: u64, t: usize) -> u32 {
            if let Some(&r) = self.index.get(&key) {
                return r;
            }
            let r = self.left_taps.len() as u32;
            let (_, (off_l, eta_l), (off_r, eta_r)) = s.position(t);
            for (dst, taps, off, eta) in [
                (&mut self.left, &mut self.left_taps, off_l, eta_l),
                (&mut self.right, &mut self.right_taps, off_r, eta_r),
            ] {
                let n = s.taps(off);
                taps.push(n);
                dst.extend((0..self.len).map(|i| {
                    if i < n {
                        let j = off + i * s.step;
                        s.win[j] + eta * s.delta[j]
                    } else {
                        0.0
                    }
                }));
            }
            self.index.insert(key, r);
            r
        }

        fn left(&self, r: u32) -> &[f64] {
            &self.left[r as usize * self.len..][..self.left_taps[r as usize]]
        }

        fn right(&self, r: u32) -> &[f64] {
            &self.right[r as usize * self.len..][..self.right_taps[r as usize]]
        }
    }

    /// One output from its weight rows: taps in resampy's order, `xf[n]` being input sample `n`
    /// of the output (as `f64`).
    #[inline]
    fn one(wl: &[f64], wr: &[f64], xf: &[f64], n: usize) -> f32 {
        let mut y = 0.0f32;
        for (i, &w) in wl.iter().enumerate() {
            y = (f64::from(y) + w * xf[n - i]) as f32;
        }
        for (k, &w) in wr.iter().enumerate() {
            y = (f64::from(y) + w * xf[n + 1 + k]) as f32;
        }
        y
    }

    /// Kernels computing `L` outputs that share their weight rows.
    type Kernel<const L: usize> = fn(&[f64], &[f64], &[f64], &[usize; L]) -> [f32; L];

    fn kernel_portable<const L: usize>(
        wl: &[f64],
        wr: &[f64],
        xf: &[f64],
        n: &[usize; L],
    ) -> [f32; L] {
        std::array::from_fn(|j| one(wl, wr, xf, n[j]))
    }

    #[cfg(target_arch = "x86_64")]
    mod avx2 {
        use std::arch::x86_64::*;

        /// Transposes four rows of four `f64`: result `k` holds element `k` of every row.
        #[inline(always)]
        unsafe fn transpose(v: [__m256d; 4]) -> [__m256d; 4] {
            let a = _mm256_unpacklo_pd(v[0], v[1]);
            let b = _mm256_unpackhi_pd(v[0], v[1]);
            let c = _mm256_unpacklo_pd(v[2], v[3]);
            let d = _mm256_unpackhi_pd(v[2], v[3]);
            [
                _mm256_permute2f128_pd(a, c, 0x20),
                _mm256_permute2f128_pd(b, d, 0x20),
                _mm256_permute2f128_pd(a, c, 0x31),
                _mm256_permute2f128_pd(b, d, 0x31),
            ]
        }

        /// `acc ← f32(f64(acc) + w·x)` in four lanes.
        #[inline(always)]
        unsafe fn tap(acc: __m128, w: __m256d, x: __m256d) -> __m128 {
            _mm256_cvtpd_ps(_mm256_add_pd(_mm256_cvtps_pd(acc), _mm256_mul_pd(w, x)))
        }

        /// Four left-wing taps `i..i+4` of the four lanes centred on `p[n[0..4]]`.
        #[inline(always)]
        unsafe fn left4(
            a: __m128,
            p: *const f64,
            n: &[usize],
            i: usize,
            w: &[__m256d; 4],
        ) -> __m128 {
            let t = transpose([
                _mm256_loadu_pd(p.add(n[0] - i - 3)),
                _mm256_loadu_pd(p.add(n[1] - i - 3)),
                _mm256_loadu_pd(p.add(n[2] - i - 3)),
                _mm256_loadu_pd(p.add(n[3] - i - 3)),
            ]);
            let a = tap(a, w[0], t[3]);
            let a = tap(a, w[1], t[2]);
            let a = tap(a, w[2], t[1]);
            tap(a, w[3], t[0])
        }

        /// Four right-wing taps `k..k+4` of the four lanes centred on `p[n[0..4]]`.
        #[inline(always)]
        unsafe fn right4(
            a: __m128,
            p: *const f64,
            n: &[usize],
            k: usize,
            w: &[__m256d; 4],
        ) -> __m128 {
            let t = transpose([
                _mm256_loadu_pd(p.add(n[0] + 1 + k)),
                _mm256_loadu_pd(p.add(n[1] + 1 + k)),
                _mm256_loadu_pd(p.add(n[2] + 1 + k)),
                _mm256_loadu_pd(p.add(n[3] + 1 + k)),
            ]);
            let a = tap(a, w[0], t[0]);
            let a = tap(a, w[1], t[1]);
            let a = tap(a, w[2], t[2]);
            tap(a, w[3], t[3])
        }

        /// One left-wing tap `i` of four lanes.
        #[inline(always)]
        unsafe fn left1(a: __m128, p: *const f64, n: &[usize], i: usize, w: __m256d) -> __m128 {
            let x = _mm256_set_pd(
                *p.add(n[3] - i),
                *p.add(n[2] - i),
                *p.add(n[1] - i),
                *p.add(n[0] - i),
            );
            tap(a, w, x)
        }

        /// One right-wing tap `k` of four lanes.
        #[inline(always)]
        unsafe fn right1(a: __m128, p: *const f64, n: &[usize], k: usize, w: __m256d) -> __m128 {
            let x = _mm256_set_pd(
                *p.add(n[3] + 1 + k),
                *p.add(n[2] + 1 + k),
                *p.add(n[1] + 1 + k),
                *p.add(n[0] + 1 + k),
            );
            tap(a, w, x)
        }

        /// Thirty-two consecutive outputs when the rate falls by an integer factor (every output
        /// has the weights `wl` then `wr`): at tap `j`, output `t0 + l` reads `ph[t0 + offs[j] +
        /// l]` (the phase layout of `run_decimate`). The caller checks every index read.
        #[target_feature(enable = "avx2")]
        pub unsafe fn decimate32(
            wl: &[f64],
            wr: &[f64],
            offs: &[isize],
            ph: &[f64],
            t0: usize,
        ) -> [f32; 32] {
            let mut acc = [_mm_setzero_ps(); 8];
            let base = ph.as_ptr().add(t0);
            for (&w, &o) in wl.iter().chain(wr).zip(offs) {
                let q = base.offset(o);
                let w = _mm256_set1_pd(w);
                for (g, a) in acc.iter_mut().enumerate() {
                    *a = tap(*a, w, _mm256_loadu_pd(q.add(4 * g)));
                }
            }
            let mut out = [0.0f32; 32];
            for (g, a) in acc.iter().enumerate() {
                _mm_storeu_ps(out.as_mut_ptr().add(4 * g), *a);
            }
            out
        }

        /// Defines a kernel for `4·G` lanes, the groups of four written out one by one so that
        /// every accumulator stays in a register.
        macro_rules! kernel {
            ($name:ident, $lanes:literal, [$($g:literal)*]) => {
                /// Outputs sharing the weights `wl`/`wr`; output `j` is centred on `xf[n[j]]`.
                /// The caller checks every index read: `n[j] + 1 ≥ wl.len()` and
                /// `n[j] + wr.len() < xf.len()`.
                #[target_feature(enable = "avx2")]
                pub unsafe fn $name(
                    wl: &[f64],
                    wr: &[f64],
                    xf: &[f64],
                    n: &[usize; $lanes],
                ) -> [f32; $lanes] {
                    let p = xf.as_ptr();
                    let mut acc = [_mm_setzero_ps(); $lanes / 4];
                    let mut i = 0;
                    while i + 4 <= wl.len() {
                        let w: [__m256d; 4] =
                            std::array::from_fn(|k| _mm256_set1_pd(*wl.get_unchecked(i + k)));
                        $( acc[$g] = left4(acc[$g], p, &n[4 * $g..], i, &w); )*
                        i += 4;
                    }
                    while i < wl.len() {
                        let w = _mm256_set1_pd(*wl.get_unchecked(i));
                        $( acc[$g] = left1(acc[$g], p, &n[4 * $g..], i, w); )*
                        i += 1;
                    }
                    let mut k = 0;
                    while k + 4 <= wr.len() {
                        let w: [__m256d; 4] =
                            std::array::from_fn(|m| _mm256_set1_pd(*wr.get_unchecked(k + m)));
                        $( acc[$g] = right4(acc[$g], p, &n[4 * $g..], k, &w); )*
                        k += 4;
                    }
                    while k < wr.len() {
                        let w = _mm256_set1_pd(*wr.get_unchecked(k));
                        $( acc[$g] = right1(acc[$g], p, &n[4 * $g..], k, w); )*
                        k += 1;
                    }
                    let mut out = [0.0f32; $lanes];
                    $( _mm_storeu_ps(out.as_mut_ptr().add(4 * $g), acc[$g]); )*
                    out
                }
            };
        }
        kernel!(kernel32, 32, [0 1 2 3 4 5 6 7]);
        kernel!(kernel4, 4, [0]);
    }

    /// The decimation kernel in AVX-512: 64 outputs in eight groups of eight lanes, more sums in
    /// flight than sixteen AVX2 registers can hold.
    #[cfg(target_arch = "x86_64")]
    mod avx512 {
        use std::arch::x86_64::*;

        /// Sixty-four consecutive outputs when the rate falls by an integer factor (every output
        /// has the weights `wl` then `wr`): at tap `j`, output `t0 + l` reads `ph[t0 + offs[j] +
        /// l]`. With `SPLIT` the sums stay in `f64` and each is rounded to `f32` precision in
        /// place by Veltkamp's split with 2^29 + 1 (round to nearest on 24 bits, ties to even:
        /// the conversion's rounding for sums in the normal `f32` range, which the caller
        /// ensures with [`super::split_is_exact`]); without it, converted down and up as the AVX2
        /// kernel does. The caller checks every index read.
        #[target_feature(enable = "avx512f")]
        pub unsafe fn decimate64<const SPLIT: bool>(
            wl: &[f64],
            wr: &[f64],
            offs: &[isize],
            ph: &[f64],
            t0: usize,
        ) -> [f32; 64] {
            let c = _mm512_set1_pd(536_870_913.0); // 2^29 + 1
            let mut acc = [_mm512_setzero_pd(); 8];
            let base = ph.as_ptr().add(t0);
            for (&w, &o) in wl.iter().chain(wr).zip(offs) {
                let q = base.offset(o);
                let w = _mm512_set1_pd(w);
                for (g, a) in acc.iter_mut().enumerate() {
                    let s = _mm512_add_pd(*a, _mm512_mul_pd(w, _mm512_loadu_pd(q.add(8 * g))));
                    *a = if SPLIT {
                        let h = _mm512_mul_pd(s, c);
                        _mm512_sub_pd(h, _mm512_sub_pd(h, s))
                    } else {
                        _mm512_cvtps_pd(_mm512_cvtpd_ps(s))
                    };
                }
            }
            let mut out = [0.0f32; 64];
            for (g, a) in acc.iter().enumerate() {
                // Exact: every lane holds an f32 value.
                _mm256_storeu_ps(out.as_mut_ptr().add(8 * g), _mm512_cvtpd_ps(*a));
            }
            out
        }
    }

    /// Checks the indices an AVX2 kernel reads.
    #[cfg(target_arch = "x86_64")]
    fn check_bounds(wl: &[f64], wr: &[f64], xf: &[f64], n: &[usize]) {
        for &nj in n {
            assert!(nj + 1 >= wl.len() && nj + wr.len() < xf.len());
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn kernel_avx2_many(wl: &[f64], wr: &[f64], xf: &[f64], n: &[usize; LANES]) -> [f32; LANES] {
        check_bounds(wl, wr, xf, n);
        // SAFETY: the CPU has AVX2 (checked by `best_kernels`); every index read is in bounds.
        unsafe { avx2::kernel32(wl, wr, xf, n) }
    }

    #[cfg(target_arch = "x86_64")]
    fn kernel_avx2_few(wl: &[f64], wr: &[f64], xf: &[f64], n: &[usize; FEW]) -> [f32; FEW] {
        check_bounds(wl, wr, xf, n);
        // SAFETY: as in `kernel_avx2_many`.
        unsafe { avx2::kernel4(wl, wr, xf, n) }
    }

    /// The widest kernels the CPU runs. rustc never fuses a multiply and an add, and the vector
    /// conversions round to nearest as `as f32` does, so every kernel computes the same bits.
    fn best_kernels() -> (Kernel<LANES>, Kernel<FEW>) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return (kernel_avx2_many, kernel_avx2_few);
        }
        (kernel_portable, kernel_portable)
    }

    /// Outputs per part of [`super::resample_with`]'s parallel loop.
    pub const PART: usize = CHUNK;

    /// Fills `y` with outputs `start..start + y.len()` (within resampy's length).
    pub fn run(s: &Setup, x: Input, y: &mut [f32], start: usize) {
        let (many, few) = best_kernels();
        #[cfg(target_arch = "x86_64")]
        let decimate = std::arch::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let decimate = false;
        run_with(s, x, y, start, many, few, decimate)
    }

    /// [`run`] with the portable kernels (tests compare the two).
    #[cfg(test)]
    pub fn run_portable(s: &Setup, x: &[f32], y: &mut [f32]) {
        run_with(
            s,
            Input::whole(x),
            y,
            0,
            kernel_portable,
            kernel_portable,
            false,
        )
    }

    fn run_with(
        s: &Setup,
        x: Input,
        y: &mut [f32],
        start: usize,
        many: Kernel<LANES>,
        few: Kernel<FEW>,
        decimate: bool,
    ) {
        let mut rows = Rows::new(s);
        let len = rows.len;
        if decimate && s.time_increment.fract() == 0.0 && s.time_increment <= 16.0 {
            run_decimate(s, x, y, start, &mut rows);
            return;
        }
        let mut xf: Vec<f64> = Vec::new();
        let mut tagged: Vec<(u32, u32)> = Vec::new(); // (row, output − chunk start)
        let mut jobs: Vec<(u32, u32)> = Vec::new(); // the same, grouped by row
        let mut counts: Vec<usize> = Vec::new();
        let mut centre: Vec<usize> = Vec::new(); // input index of each output of the chunk
        let stop = start + y.len();
        for c0 in (start..stop).step_by(CHUNK) {
            let c1 = (c0 + CHUNK).min(stop);
            if rows.left_taps.len() >= MAX_ROWS {
                rows.clear();
            }
            tagged.clear();
            centre.clear();
            let mut last = (u64::MAX, 0u32);
            for t in c0..c1 {
                let out = &mut y[t - start];
                let time = t as f64 * s.time_increment;
                let n = time as usize;
                centre.push(n);
                // Outputs whose filter reaches past an end of the signal take the plain loop.
                if n + 1 < len || n + len >= x.len() {
                    *out = s.output(x, t);
                    continue;
                }
                let key = (s.scale * (time - n as f64)).to_bits();
                if key != last.0 {
                    match rows.find(s, key, t) {
                        Some(r) => last = (key, r),
                        None => {
                            // Rates whose outputs hardly ever share weights: no more rows.
                            *out = s.output(x, t);
                            continue;
                        }
                    }
                }
                tagged.push((last.1, (t - c0) as u32));
            }
            if tagged.is_empty() {
                continue;
            }
            // The inputs this chunk reads, as f64, starting at input index `base`.
            let lo = centre[tagged[0].1 as usize];
            let hi = centre[tagged[tagged.len() - 1].1 as usize];
            let base = lo + 1 - len;
            xf.clear();
            xf.extend(x.slice(base..hi + len + 1).iter().map(|&v| f64::from(v)));
            // Group by row (a counting sort; outputs stay in order within a row).
            counts.clear();
            counts.resize(rows.left_taps.len() + 1, 0);
            for &(r, _) in &tagged {
                counts[r as usize + 1] += 1;
            }
            for r in 1..counts.len() {
                counts[r] += counts[r - 1];
            }
            jobs.clear();
            jobs.resize(tagged.len(), (0, 0));
            for &(r, t) in &tagged {
                jobs[counts[r as usize]] = (r, t);
                counts[r as usize] += 1;
            }
            for group in jobs.chunk_by(|a, b| a.0 == b.0) {
                let r = group[0].0;
                let (wl, wr) = (rows.left(r), rows.right(r));
                let mut blocks = group.chunks_exact(LANES);
                for block in &mut blocks {
                    let n: [usize; LANES] =
                        std::array::from_fn(|j| centre[block[j].1 as usize] - base);
                    let out = many(wl, wr, &xf, &n);
                    for (j, &(_, t)) in block.iter().enumerate() {
                        y[c0 - start + t as usize] = out[j];
                    }
                }
                let mut rest = blocks.remainder().chunks_exact(FEW);
                for block in &mut rest {
                    let n: [usize; FEW] =
                        std::array::from_fn(|j| centre[block[j].1 as usize] - base);
                    let out = few(wl, wr, &xf, &n);
                    for (j, &(_, t)) in block.iter().enumerate() {
                        y[c0 - start + t as usize] = out[j];
                    }
                }
                for &(_, t) in rest.remainder() {
                    y[c0 - start + t as usize] = one(wl, wr, &xf, centre[t as usize] - base);
                }
            }
        }
    }
    /// Rates falling by an integer factor `d` (44 100 or 88 200 Hz to 22 050 Hz): output `t` sits
    /// exactly on input `d·t`, so every output has the same weights, and the inputs of 32
    /// consecutive outputs at one tap are 32 consecutive samples of one of `d` phase arrays.
    #[cfg(target_arch = "x86_64")]
    fn run_decimate(s: &Setup, x: Input, y: &mut [f32], start: usize, rows: &mut Rows) {
        let d = s.time_increment as usize;
        let len = rows.len;
        let r = rows.row(s, 0.0f64.to_bits(), 0);
        let (wl, wr) = (rows.left(r).to_vec(), rows.right(r).to_vec());
        let w_min = wl
            .iter()
            .chain(&wr)
            .map(|w| w.abs())
            .filter(|&w| w > 0.0)
            .fold(f64::INFINITY, f64::min);
        // Outputs whose taps stay inside the signal: d·t ≥ len − 1 and d·t + len < x.len().
        let first = (len - 1).div_ceil(d);
        let end = if x.len() > len {
            ((x.len() - len - 1) / d + 1).min(start + y.len())
        } else {
            0
        };
        let wide = std::arch::is_x86_feature_detected!("avx512f");
        let mut ph: Vec<f64> = Vec::new();
        let mut offs: Vec<isize> = Vec::new();
        let mut t = start;
        while t < start + y.len() {
            if t < first || t + LANES > end {
                y[t - start] = s.output(x, t);
                t += 1;
                continue;
            }
            // A chunk of whole blocks, its inputs split into d phases from input `base`.
            let blocks = ((end - t) / LANES).min(CHUNK / LANES);
            let (a, b) = (t, t + blocks * LANES);
            let base = d * (a - first);
            let plen = (d * (b - 1) + len - base) / d + 1 + WIDE;
            let inputs = x.slice(base..(base + d * plen).min(x.len()));
            // Phase r holds inputs r, r + d, r + 2d, … widened, then zeros up to plen.
            ph.clear();
            for r in 0..d {
                let end = ph.len() + plen;
                ph.extend(inputs.iter().skip(r).step_by(d).map(|&v| f64::from(v)));
                ph.resize(end, 0.0);
            }
            // The tap offsets of this chunk's phase layout: at left tap i (input d·rel − i) and
            // right tap k (input d·rel + 1 + k), output rel reads ph[rel + offset].
            offs.clear();
            offs.extend((0..wl.len()).map(|i| {
                let (q, r) = ((i / d) as isize, i % d);
                if r == 0 {
                    -q
                } else {
                    ((d - r) * plen) as isize - q - 1
                }
            }));
            offs.extend((1..=wr.len()).map(|j| ((j % d) * plen + j / d) as isize));
            let split = split_is_exact(w_min, inputs);
            let mut t0 = a;
            while wide && t0 + WIDE <= b {
                // Relative to `base`, output t0 sits on input d·(t0 − a + first).
                let rel = t0 - a + first;
                assert!(d * rel + 1 >= wl.len() && (d * rel + wr.len()) / d + WIDE <= plen);
                // SAFETY: the CPU has AVX-512F (checked above); the indices read lie within
                // `ph` (asserted above: from d·rel − (len − 1) ≥ 0 to d·rel + len).
                let out = unsafe {
                    if split {
                        avx512::decimate64::<true>(&wl, &wr, &offs, &ph, rel)
                    } else {
                        avx512::decimate64::<false>(&wl, &wr, &offs, &ph, rel)
                    }
                };
                y[t0 - start..t0 - start + WIDE].copy_from_slice(&out);
                t0 += WIDE;
            }
            for t0 in (t0..b).step_by(LANES) {
                let rel = t0 - a + first;
                let hi = d * rel + wr.len();
                assert!(d * rel + 1 >= wl.len() && hi / d + LANES <= plen);
                // SAFETY: the CPU has AVX2 (checked by `run`); the indices read lie within
                // `ph` (asserted above: from d·rel − (len − 1) ≥ 0 to d·rel + len).
                let out = unsafe { avx2::decimate32(&wl, &wr, &offs, &ph, rel) };
                y[t0 - start..t0 - start + LANES].copy_from_slice(&out);
            }
            t = b;
        }
    }

    /// Whether sums kept in `f64` and rounded by Veltkamp's split give the conversion's bits for
    /// inputs `x` and weights whose smallest nonzero magnitude is `w_min`. A nonzero sum
    /// `acc + w·x` (`acc` an `f32` value) is at least 2^-53 times the nonzero product it adds
    /// (a multiple of the finer of the two spacings when they nearly cancel), so products of at
    /// least 2^-72 keep every sum in the normal `f32` range; inputs up to 2^100 keep the sums
    /// (a few thousand taps of weight below 1) far below `f32::MAX`. Zero products add nothing.
    pub(super) fn split_is_exact(w_min: f64, x: &[f32]) -> bool {
        // The magnitudes' bit patterns, which order them as their values do (a NaN sorts above
        // +∞ and so refuses the split); u32::MAX stands for "no nonzero input".
        let (mut lo, mut hi) = (u32::MAX, 0u32);
        for &v in x {
            let a = v.to_bits() & 0x7fff_ffff;
            hi = hi.max(a);
            lo = lo.min(if a == 0 { u32::MAX } else { a });
        }
        f64::from(f32::from_bits(hi)) <= 2f64.powi(100)
            && (lo == u32::MAX || w_min * f64::from(f32::from_bits(lo)) >= 2f64.powi(-71))
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn run_decimate(_: &Setup, _: Input, _: &mut [f32], _: usize, _: &mut Rows) {
        unreachable!("only called where AVX2 runs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_librosa_and_resampy() {
        assert_eq!(output_len(44_100, 44_100, 22_050), 22_050);
        assert_eq!(output_len(44_101, 44_100, 22_050), 22_051);
        assert_eq!(resampy_len(44_101, 44_100, 22_050), 22_050);
        assert_eq!(output_len(48_000, 48_000, 22_050), 22_050);
        assert_eq!(output_len(1, 48_000, 22_050), 1);
        assert_eq!(resampy_len(1, 48_000, 22_050), 0);
        assert_eq!(output_len(1000, 8_000, 22_050), 2757);
        assert_eq!(resampy_len(1000, 8_000, 22_050), 2756);
    }

    #[test]
    fn bessel_and_table_edges() {
        // I0(0) = 1 and I0(1) = 1.2660658777520082 (numpy prints these values).
        assert_eq!(bessel_i0(0.0), 1.0);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_2).abs() < 1e-15);
        let w = Filter::KaiserBest.half_window();
        assert_eq!(w.len(), 50 * 8192 + 1);
        assert_eq!(w[0], 0.917_347_371_260_876_1);
        assert_eq!(Filter::KaiserFast.half_window().len(), 24 * 512 + 1);
    }

    fn lcg_signal(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// The lane path (dispatched and portable) equals the one-output-at-a-time loop bit for bit.
    #[test]
    fn lanes_equal_the_reference_loop() {
        let p = Path::new("t.wav");
        for (from, n) in [
            (44_100, 30_011),
            (48_000, 20_000),
            (8_000, 7_001),
            (96_000, 40_000),
            (11_025, 5_000),
            (88_200, 30_001),
            (66_150, 30_001),  // factor 3
            (176_400, 60_001), // factor 8
            (44_056, 6_000),   // hardly any two outputs share their weights
        ] {
            for filter in [Filter::KaiserBest, Filter::KaiserFast] {
                let x = lcg_signal(n, u64::from(from));
                let want = resample_reference(p, &x, from, 22_050, filter).unwrap();
                let got = resample_with(p, &x, from, 22_050, filter).unwrap();
                assert_eq!(got.len(), output_len(n, from, 22_050));
                let m = want.len();
                assert!(
                    got[..m]
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{from} Hz {filter:?}"
                );
                assert!(got[m..].iter().all(|&v| v == 0.0));
                let s = Setup::new(from, 22_050, filter);
                // In uneven parts (as threads take them), the same bits.
                let mut parts = vec![0.0f32; m];
                let (a, b) = (m / 3 + 1, m / 3 + 1 + m / 2);
                let (p0, rest) = parts.split_at_mut(a);
                let (p1, p2) = rest.split_at_mut(b - a);
                lanes::run(&s, Input::whole(&x), p1, a);
                lanes::run(&s, Input::whole(&x), p2, b);
                lanes::run(&s, Input::whole(&x), p0, 0);
                assert!(
                    parts
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{from} Hz {filter:?} in parts"
                );
                let mut port = vec![0.0f32; m];
                lanes::run_portable(&s, &x, &mut port);
                assert!(
                    port.iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{from} Hz {filter:?} portable"
                );
            }
        }
    }

    /// Sums kept in f64 (AVX-512) are used only where they give the conversions' bits: signals
    /// so quiet that some sum falls below the normal f32 range, or so loud that one could pass
    /// f32::MAX, take the converting kernel, and every path still equals the reference loop.
    #[test]
    fn tiny_and_huge_inputs_keep_the_reference_bits() {
        let p = Path::new("t.wav");
        assert!(lanes::split_is_exact(1e-8, &[0.0, 0.5, -3.0e-5]));
        assert!(!lanes::split_is_exact(1e-8, &[0.5, 1.0e-20]));
        assert!(!lanes::split_is_exact(1e-8, &[0.5, 1.0e31]));
        assert!(lanes::split_is_exact(1e-8, &[0.0, -0.0]));
        assert!(!lanes::split_is_exact(1e-8, &[0.5, f32::NAN]));
        assert!(!lanes::split_is_exact(1e-8, &[0.5, f32::NEG_INFINITY]));
        assert!(lanes::split_is_exact(1e-8, &[-1.0e30, 2.0e-9]));
        for (from, scale) in [(44_100, 1.0e-37f32), (88_200, 1.0e-37), (44_100, 1.0e33)] {
            let mut x = lcg_signal(40_000, 7);
            // Half the signal scaled: the chunk holding both halves decides for all its outputs.
            for v in &mut x[20_000..] {
                *v *= scale;
            }
            let want = resample_reference(p, &x, from, 22_050, Filter::KaiserBest).unwrap();
            let got = resample(p, &x, from, 22_050).unwrap();
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{from} Hz, scale {scale:e}"
            );
            if scale < 1.0 {
                // Subnormal outputs really occur, so the guard matters.
                assert!(want.iter().any(|v| v.is_subnormal()), "{scale:e}");
            }
        }
    }

    #[test]
    fn non_finite_input_takes_the_plain_loop() {
        let p = Path::new("t.wav");
        let mut x = lcg_signal(10_000, 3);
        x[5_000] = f32::INFINITY;
        let want = resample_reference(p, &x, 44_100, 22_050, Filter::KaiserBest).unwrap();
        let got = resample(p, &x, 44_100, 22_050).unwrap();
        assert!(got
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        assert!(got[2_500].is_nan() || got[2_500].is_infinite());
    }

    #[test]
    fn bad_rates_and_short_input_are_errors() {
        for (x, from) in [
            (vec![0.0; 10], 10),
            (vec![0.0; 10], 0),
            (vec![0.0; 10], 5_000_000),
        ] {
            let e = resample(Path::new("r.wav"), &x, from, 22_050).unwrap_err();
            assert!(matches!(e, AudioError::Resample { .. }), "{e}");
            assert!(e.to_string().starts_with("r.wav: "), "{e}");
            assert!(e.to_string().contains(&format!("{from} Hz")), "{e}");
        }
        let e = resample(Path::new("s.wav"), &[0.5], 48_000, 22_050).unwrap_err();
        assert!(e.to_string().contains("too short"), "{e}");
        assert!(!e.to_string().contains('\n'));
        // Same rate: taken as it is, however short.
        assert_eq!(
            resample(Path::new("s.wav"), &[0.5], 22_050, 22_050).unwrap(),
            vec![0.5]
        );
    }

    /// `x` through a [`Stream`] in pieces of the sizes `pieces` (cycled).
    fn streamed(x: &[f32], from: u32, to: u32, pieces: &[usize]) -> Result<Vec<f32>, AudioError> {
        let mut s = Stream::new(Path::new("s.wav"), from, to)?;
        let mut y = Vec::new();
        let mut put = |p: &[f32]| -> Result<(), AudioError> {
            y.extend_from_slice(p);
            Ok(())
        };
        let (mut i, mut k) = (0, 0);
        while i < x.len() {
            let n = pieces[k % pieces.len()].min(x.len() - i);
            s.push(&x[i..i + n], &mut put)?;
            i += n;
            k += 1;
        }
        s.finish(&mut put)?;
        Ok(y)
    }

    #[test]
    fn a_stream_gives_the_bits_of_resample() {
        // 3.3 M inputs: three batches of the stream and a rest, many parts of the resampler.
        let x: Vec<f32> = (0..3_300_001usize)
            .map(|i| (i as f32 * 0.0123).sin() * 0.4 + ((i * 7919) % 1013) as f32 / 5065.0 - 0.1)
            .collect();
        for (from, to) in [
            (44_100, 22_050),
            (48_000, 22_050),
            (22_050, 22_050),
            (16_000, 22_050),
        ] {
            let want = resample(Path::new("s.wav"), &x, from, to).unwrap();
            for pieces in [&[1 << 20][..], &[4096, 777_777, 13, 1_500_000]] {
                let got = streamed(&x, from, to, pieces).unwrap();
                assert_eq!(got.len(), want.len(), "{from} -> {to}, {pieces:?}");
                let same = got
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{from} -> {to}, pieces {pieces:?}: other samples");
            }
        }
    }

    #[test]
    fn a_stream_fails_as_resample_fails() {
        let short = streamed(&[0.5], 48_000, 22_050, &[1]).unwrap_err();
        let whole = resample(Path::new("s.wav"), &[0.5], 48_000, 22_050).unwrap_err();
        assert_eq!(short.to_string(), whole.to_string());
        let rate = Stream::new(Path::new("s.wav"), 10, 22_050).err().unwrap();
        let whole = resample(Path::new("s.wav"), &[0.0; 10], 10, 22_050).unwrap_err();
        assert_eq!(rate.to_string(), whole.to_string());
        // Non-finite inputs take the plain loop, as in resample.
        let mut x: Vec<f32> = (0..1_200_000).map(|i| (i as f32 * 0.01).sin()).collect();
        x[1_100_000] = f32::INFINITY;
        let want = resample(Path::new("s.wav"), &x, 44_100, 22_050).unwrap();
        let got = streamed(&x, 44_100, 22_050, &[100_000]).unwrap();
        assert!(got
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
