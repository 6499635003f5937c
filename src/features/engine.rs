//! The streaming extractor behind [`super::compute`]: every stage of the recipe in one pass over
//! the STFT frames, block by block, with the same arithmetic as the stage functions of the
//! sibling modules (results identical bit for bit; checked by the tests below).
//!
//! Frames are computed [`BLOCK`] at a time into a ring of the last `RING` frames (complex
//! spectrum, magnitude, percussive median). Each block feeds, while it is in cache:
//! RMS (same frames as the STFT), centroid and bandwidth (per frame), the pitch tracker of the
//! tuning estimate, and through one transposed tile (bins × frames) the rolloff and the mel
//! spectrogram (the block's frames side by side in SIMD lanes, each with its own sequential
//! sums) and the percussive median (sixteen frames per lane group). The harmonic median runs
//! along time, sixteen bins per lane group, 15 frames behind the newest frame; the masked spectra
//! of those frames are inverted and overlap-added straight into the harmonic and percussive
//! signals. Nothing the size of the whole spectrogram is ever allocated: HPSS's medians, masks
//! and inverse STFT are local in time, so blocks give exactly the whole-matrix result.
//!
//! Constants (FFT plans, windows, filter banks) are built once per process; the large buffers
//! are pooled per thread (up to `POOL_MAX_BYTES`) so that a batch does not pay fresh page
//! faults for every signal. The hot loops have AVX2 versions (`lanes::simd_fn!`) and the
//! medians AVX-512/AVX2 kernels, chosen at run time; every version computes the same bits.
//!
//! What needs the whole clip comes after the pass: the chroma (its filter bank depends on the
//! tuning estimated from all frames) from the magnitude tiles kept for clips up to
//! [`KEEP_TILES_MAX_FRAMES`] frames, or from a second STFT pass for longer signals; the dB
//! scaling of the mel spectrogram (its floor is the global maximum − 80 dB); the MFCCs, the onset
//! envelope and the tempo; the zero-crossing rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex;

use super::chroma::{self, Peak, PitchTracker};
use super::hpss::reflect;
use super::lanes::simd_fn;
use super::lanes::{self, Isa, Step, Window, LANES};
use super::summary::pairwise_sum_f32;
use super::{mel, mfcc, spectral, stft, tempo};
use crate::config::{
    HOP_LENGTH, HPSS_KERNEL, N_CHROMA, N_FFT, N_MELS, N_MFCC, ROLL_PERCENT, SAMPLE_RATE,
};

/// Bins of a frame.
const N_BINS: usize = N_FFT / 2 + 1;
/// Row length of the frame-major buffers: the bins rounded up to whole lane groups.
const ROW: usize = N_BINS.div_ceil(LANES) * LANES;
/// Lane groups of a frame (sixteen bins each).
const GROUPS: usize = ROW / LANES;
/// Frames per block.
pub const BLOCK: usize = 32;
/// Frames kept in the ring: a block and the 31 frames before it that the harmonic median of the
/// oldest pending frame still reads.
const RING: usize = 2 * BLOCK;
/// Half the median width.
const HALF: usize = HPSS_KERNEL / 2;
/// Signals up to this many frames (≈ 6.3 min, most songs; 67 MB of tiles at most) keep their
/// magnitude tiles for the chroma; longer signals recompute their STFT after the pass instead.
pub const KEEP_TILES_MAX_FRAMES: usize = 16_384;
/// Overlapping frames per sample in the interior of the inverse STFT.
const OVERLAP: usize = N_FFT / HOP_LENGTH;

const _: () = assert!(HPSS_KERNEL == lanes::WIDTH, "the lane kernel has width 31");
const _: () = assert!(
    N_FFT.is_multiple_of(HOP_LENGTH),
    "whole number of overlapping frames"
);
const _: () = assert!(BLOCK.is_multiple_of(LANES) && RING > BLOCK + 2 * HALF);

/// Everything [`super::compute`] summarises, for one signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// STFT frames (`1 + len / HOP_LENGTH`).
    pub n_frames: usize,
    /// Tuning estimated by `chroma_stft` (fractions of a chroma bin).
    pub tuning: f64,
    /// Chromagram `(N_CHROMA, n_frames)`, row-major.
    pub chroma: Vec<f32>,
    /// RMS per frame.
    pub rms: Vec<f32>,
    /// Spectral centroid per frame (Hz).
    pub centroid: Vec<f64>,
    /// Spectral bandwidth per frame (Hz).
    pub bandwidth: Vec<f64>,
    /// Spectral rolloff per frame (Hz).
    pub rolloff: Vec<f64>,
    /// Zero-crossing rate per frame.
    pub zcr: Vec<f64>,
    /// Harmonic part of the signal (same length).
    pub harmonic: Vec<f32>,
    /// Percussive part of the signal (same length).
    pub percussive: Vec<f32>,
    /// Mel spectrogram in dB, frame by frame: `(n_frames, N_MELS)` row-major.
    pub mel_db: Vec<f32>,
    /// MFCCs `(N_MFCC, n_frames)`, row-major.
    pub mfcc: Vec<f32>,
    /// Onset strength envelope.
    pub onset_env: Vec<f32>,
    /// Global tempo (BPM).
    pub tempo: f64,
}

/// Wall time spent in each stage of one [`analyse_timed`] call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageTimes {
    /// Framing, window, forward FFT, complex64 and magnitude (and each frame's RMS, computed
    /// from the same framed samples).
    pub stft: Duration,
    /// Centroid, bandwidth, rolloff, zero-crossing rate.
    pub spectral: Duration,
    /// Pitch tracking, tuning, chroma filter bank and chromagram (with the second STFT pass of
    /// long signals).
    pub chroma: Duration,
    /// Mel filter bank and dB scaling.
    pub mel: Duration,
    /// Medians, masks, inverse FFTs and overlap-add.
    pub hpss: Duration,
    /// DCT of the mel dB frames.
    pub mfcc: Duration,
    /// Onset envelope and tempo.
    pub onset_tempo: Duration,
    /// Means and variances (set by [`super::summary::compute_timed`]).
    pub summary: Duration,
}

impl StageTimes {
    /// The sum of all stages.
    pub fn total(&self) -> Duration {
        self.stft
            + self.spectral
            + self.chroma
            + self.mel
            + self.hpss
            + self.mfcc
            + self.onset_tempo
            + self.summary
    }
}

/// Attributes elapsed time to stages (no clock reads when off).
struct Laps<'a> {
    times: Option<&'a mut StageTimes>,
    last: Instant,
}

impl Laps<'_> {
    #[inline]
    fn lap(&mut self, slot: fn(&mut StageTimes) -> &mut Duration) {
        if let Some(t) = self.times.as_deref_mut() {
            let now = Instant::now();
            *slot(t) += now - self.last;
            self.last = now;
        }
    }
}

/// Runs every stage on `y` (mono, [`SAMPLE_RATE`]). An empty signal is analysed as one frame of
/// zeros, as [`stft::stft`] does.
pub fn analyse(y: &[f32]) -> Analysis {
    analyse_with(y, None)
}

/// [`analyse`], also returning the time spent in each stage.
pub fn analyse_timed(y: &[f32]) -> (Analysis, StageTimes) {
    let mut times = StageTimes::default();
    let a = analyse_with(y, Some(&mut times));
    (a, times)
}

/// Runs [`analyse`] (timing the stages into `times` when given) and hands the analysis to `f`;
/// its large buffers then go back to this thread's pool for the next signal (page faults on
/// fresh memory cost more than the arithmetic of several stages).
pub fn analyse_then<R>(
    y: &[f32],
    times: Option<&mut StageTimes>,
    f: impl FnOnce(&Analysis) -> R,
) -> R {
    let a = analyse_with(y, times);
    let r = f(&a);
    POOL.with(|p| p.borrow_mut().recycle_analysis(a));
    r
}

fn analyse_with(y: &[f32], times: Option<&mut StageTimes>) -> Analysis {
    analyse_keeping(y, times, KEEP_TILES_MAX_FRAMES)
}

/// [`analyse_with`], keeping the magnitude tiles for signals of up to `keep_max_frames` frames
/// (tests lower it to reach the second STFT pass with short signals).
fn analyse_keeping(y: &[f32], times: Option<&mut StageTimes>, keep_max_frames: usize) -> Analysis {
    let mut laps = Laps {
        times,
        last: Instant::now(),
    };
    let n_frames = 1 + y.len() / HOP_LENGTH;
    let mut buffers = POOL.with(|p| std::mem::take(&mut *p.borrow_mut()));
    let mut e = Engine::new(y, n_frames, n_frames <= keep_max_frames, &mut buffers);
    laps.lap(|t| &mut t.stft);
    let mut b0 = 0;
    while b0 < n_frames {
        let b1 = (b0 + BLOCK).min(n_frames);
        e.block(b0, b1, &mut laps);
        b0 = b1;
    }
    e.finish_hpss();
    laps.lap(|t| &mut t.hpss);
    let zcr = spectral::zero_crossing_rate(y, N_FFT, HOP_LENGTH);
    laps.lap(|t| &mut t.spectral);
    let (tuning, chroma) = e.chroma();
    laps.lap(|t| &mut t.chroma);
    let mut mel_db = std::mem::take(&mut e.mel);
    power_to_db_inplace(&mut mel_db);
    laps.lap(|t| &mut t.mel);
    let mfcc = mfcc_frames(&mel_db, n_frames);
    laps.lap(|t| &mut t.mfcc);
    let onset_env = tempo::onset_strength_frames(&mel_db, N_MELS, n_frames);
    let bpm = tempo::tempo(&onset_env);
    laps.lap(|t| &mut t.onset_tempo);
    let a = Analysis {
        n_frames,
        tuning,
        chroma,
        rms: std::mem::take(&mut e.rms),
        centroid: std::mem::take(&mut e.centroid),
        bandwidth: std::mem::take(&mut e.bandwidth),
        rolloff: std::mem::take(&mut e.rolloff),
        zcr,
        harmonic: std::mem::take(&mut e.harmonic),
        percussive: std::mem::take(&mut e.percussive),
        mel_db,
        mfcc,
        onset_env,
        tempo: bpm,
    };
    e.give_back(&mut buffers);
    POOL.with(|p| p.borrow_mut().keep(buffers));
    a
}

/// Constants of every analysis (FFT plans, windows, filter banks, median steps), built once.
struct Consts {
    fft: Arc<dyn RealToComplex<f64>>,
    ifft: Arc<dyn ComplexToReal<f64>>,
    scratch_len: usize,
    window: Vec<f64>,
    wss_interior: Vec<f32>,
    freqs: Vec<f64>,
    mel_bank: Vec<f64>,
    mel_spans: Vec<(usize, usize)>,
    perc_steps: Vec<Step>,
    tracker: PitchTracker,
    /// The MFCC's DCT basis transposed: `[mel band][coefficient]`.
    mfcc_basis_t: Vec<f64>,
}

fn consts() -> &'static Consts {
    static CONSTS: std::sync::OnceLock<Consts> = std::sync::OnceLock::new();
    CONSTS.get_or_init(|| {
        let sr = f64::from(SAMPLE_RATE);
        let mut planner = RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(N_FFT);
        let ifft = planner.plan_fft_inverse(N_FFT);
        let scratch_len = fft.get_scratch_len().max(ifft.get_scratch_len());
        let window = stft::hann_window(N_FFT);
        let mel_fb = mel::mel_filters(sr, N_FFT, N_MELS);
        Consts {
            fft,
            ifft,
            scratch_len,
            wss_interior: wss_interior(&window),
            window,
            freqs: spectral::fft_frequencies(sr, N_FFT),
            mel_bank: mel_fb.iter().map(|&w| f64::from(w)).collect(),
            mel_spans: mel::filter_spans(mel_fb.view()),
            perc_steps: percussive_steps(),
            tracker: PitchTracker::new(N_BINS, sr, N_FFT),
            mfcc_basis_t: {
                let basis = mfcc::dct2_ortho_basis(N_MELS, N_MFCC);
                let mut t = vec![0.0f64; N_MELS * N_MFCC];
                for ((k, j), &b) in basis.indexed_iter() {
                    t[j * N_MFCC + k] = b;
                }
                t
            },
        }
    })
}

/// The large buffers of an analysis, kept per thread between signals.
#[derive(Default)]
struct Buffers {
    ring_spec: Vec<Complex<f32>>,
    ring_mag: Vec<f32>,
    ring_perc: Vec<f32>,
    mag_t: Vec<f32>,
    perc_t: Vec<f32>,
    pow_t: Vec<f64>,
    harm_rows: Vec<f32>,
    kept_tiles: Vec<f32>,
    harmonic: Vec<f32>,
    percussive: Vec<f32>,
    mel: Vec<f32>,
}

/// Pooled buffers above this size (bytes) are freed rather than kept: a long file must not pin
/// its memory in a worker thread.
const POOL_MAX_BYTES: usize = 64 << 20;

thread_local! {
    static POOL: std::cell::RefCell<Buffers> = std::cell::RefCell::new(Buffers::default());
}

/// `v` emptied and refilled with `n` copies of `x` (its capacity reused).
fn refill<T: Clone>(v: &mut Vec<T>, n: usize, x: T) -> Vec<T> {
    let mut v = std::mem::take(v);
    v.clear();
    v.resize(n, x);
    v
}

impl Buffers {
    fn bytes(&self) -> usize {
        let f32s = [
            &self.ring_mag,
            &self.ring_perc,
            &self.mag_t,
            &self.perc_t,
            &self.harm_rows,
            &self.kept_tiles,
            &self.harmonic,
            &self.percussive,
            &self.mel,
        ];
        4 * f32s.iter().map(|v| v.capacity()).sum::<usize>()
            + 8 * (self.ring_spec.capacity() + self.pow_t.capacity())
    }

    /// Stores `b` as this thread's pool unless it is too large.
    fn keep(&mut self, b: Buffers) {
        *self = if b.bytes() <= POOL_MAX_BYTES {
            b
        } else {
            Buffers::default()
        };
    }

    /// Takes back the large outputs of an analysis that is no longer needed.
    fn recycle_analysis(&mut self, a: Analysis) {
        let mut b = std::mem::take(self);
        b.harmonic = a.harmonic;
        b.percussive = a.percussive;
        b.mel = a.mel_db;
        self.keep(b);
    }
}

/// Buffers and state of one analysis.
struct Engine<'y> {
    y: &'y [f32],
    n_frames: usize,
    isa: Isa,
    c: &'static Consts,
    // Forward STFT.
    frame: Vec<f32>,
    squares: Vec<f32>,
    fft_in: Vec<f64>,
    fft_out: Vec<Complex<f64>>,
    fft_scratch: Vec<Complex<f64>>,
    // Ring of the last RING frames: complex bins, magnitudes (plus a row of +∞ after the ring),
    // percussive medians.
    ring_spec: Vec<Complex<f32>>,
    ring_mag: Vec<f32>,
    ring_perc: Vec<f32>,
    // The block's tiles, bin-major (row k holds bin k of the BLOCK frames): magnitudes (plus a
    // row of +∞), percussive medians (plus a discard row), power in f64.
    mag_t: Vec<f32>,
    perc_t: Vec<f32>,
    pow_t: Vec<f64>,
    // Harmonic medians: one sorted window per lane group, the next frame to filter, the
    // filtered frames (plus a discard row), the steps of the current run.
    harm_windows: Vec<Window>,
    harm_next: usize,
    harm_rows: Vec<f32>,
    harm_steps: Vec<Step>,
    // Inverse STFT.
    ispec_h: Vec<Complex<f64>>,
    ispec_p: Vec<Complex<f64>>,
    iframe: Vec<f64>,
    iscratch: Vec<Complex<f64>>,
    /// Samples of the inverse STFT before trimming to the signal length.
    out_len: usize,
    /// Samples already divided by the window envelope.
    out_done: usize,
    harmonic: Vec<f32>,
    percussive: Vec<f32>,
    // Frame-wise features.
    frame_scratch: spectral::FrameScratch,
    power_row: Vec<f32>,
    tracker: PitchTracker,
    peaks: Vec<Peak>,
    rms: Vec<f32>,
    centroid: Vec<f64>,
    bandwidth: Vec<f64>,
    rolloff: Vec<f64>,
    mel: Vec<f32>,
    /// Magnitude tiles of every block, kept for the chroma (short signals only).
    kept_tiles: Option<Vec<f32>>,
}

impl<'y> Engine<'y> {
    fn new(y: &'y [f32], n_frames: usize, keep: bool, b: &mut Buffers) -> Self {
        let c = consts();
        let zero = Complex::new(0.0, 0.0);
        let mut ring_mag = refill(&mut b.ring_mag, (RING + 1) * ROW, 0.0f32);
        ring_mag[RING * ROW..].fill(f32::INFINITY);
        let mut mag_t = refill(&mut b.mag_t, (ROW + 1) * BLOCK, 0.0f32);
        mag_t[ROW * BLOCK..].fill(f32::INFINITY);
        let n_tiles = if keep { n_frames.div_ceil(BLOCK) } else { 0 };
        Engine {
            y,
            n_frames,
            isa: lanes::active_isa(),
            c,
            frame: vec![0.0; N_FFT],
            squares: vec![0.0; N_FFT],
            fft_in: vec![0.0; N_FFT],
            fft_out: vec![zero; N_BINS],
            fft_scratch: vec![zero; c.scratch_len],
            ring_spec: refill(&mut b.ring_spec, RING * N_BINS, Complex::new(0.0f32, 0.0)),
            ring_mag,
            ring_perc: refill(&mut b.ring_perc, RING * ROW, 0.0),
            mag_t,
            perc_t: refill(&mut b.perc_t, (ROW + 1) * BLOCK, 0.0),
            pow_t: refill(&mut b.pow_t, N_BINS * BLOCK, 0.0),
            harm_windows: vec![Window::default(); GROUPS],
            harm_next: 0,
            harm_rows: refill(&mut b.harm_rows, (BLOCK + 1) * ROW, 0.0),
            harm_steps: Vec::with_capacity(BLOCK + HPSS_KERNEL),
            ispec_h: vec![zero; N_BINS],
            ispec_p: vec![zero; N_BINS],
            iframe: vec![0.0; N_FFT],
            iscratch: vec![zero; c.scratch_len],
            out_len: HOP_LENGTH * (n_frames - 1),
            out_done: 0,
            harmonic: refill(&mut b.harmonic, y.len(), 0.0),
            percussive: refill(&mut b.percussive, y.len(), 0.0),
            frame_scratch: spectral::FrameScratch::default(),
            power_row: vec![0.0; N_BINS],
            tracker: c.tracker.clone(),
            peaks: Vec::new(),
            rms: Vec::with_capacity(n_frames),
            centroid: Vec::with_capacity(n_frames),
            bandwidth: Vec::with_capacity(n_frames),
            rolloff: Vec::with_capacity(n_frames),
            mel: refill(&mut b.mel, n_frames * N_MELS, 0.0),
            kept_tiles: keep.then(|| refill(&mut b.kept_tiles, n_tiles * N_BINS * BLOCK, 0.0)),
        }
    }

    /// Returns the large buffers (those not moved into the analysis) to `b`.
    fn give_back(self, b: &mut Buffers) {
        b.ring_spec = self.ring_spec;
        b.ring_mag = self.ring_mag;
        b.ring_perc = self.ring_perc;
        b.mag_t = self.mag_t;
        b.perc_t = self.perc_t;
        b.pow_t = self.pow_t;
        b.harm_rows = self.harm_rows;
        if let Some(t) = self.kept_tiles {
            b.kept_tiles = t;
        }
    }

    /// STFT of frame `t` into ring slot `slot` (complex bins and magnitudes); returns the frame's
    /// RMS when `want_rms`.
    fn stft_frame(&mut self, t: usize, slot: usize, want_rms: bool) -> f32 {
        let y = self.y;
        let n = y.len();
        let start = (t * HOP_LENGTH) as isize - (N_FFT / 2) as isize;
        if start >= 0 && start as usize + N_FFT <= n {
            self.frame
                .copy_from_slice(&y[start as usize..start as usize + N_FFT]);
        } else if n == 0 {
            self.frame.fill(0.0);
        } else {
            for (i, s) in self.frame.iter_mut().enumerate() {
                *s = y[stft::reflect_index(start + i as isize, n)];
            }
        }
        let rms = if want_rms {
            squares(&self.frame, &mut self.squares);
            (pairwise_sum_f32(&self.squares) / N_FFT as f32).sqrt()
        } else {
            0.0
        };
        windowed(&self.frame, &self.c.window, &mut self.fft_in);
        self.c
            .fft
            .process_with_scratch(&mut self.fft_in, &mut self.fft_out, &mut self.fft_scratch)
            .expect("buffer lengths come from the plan");
        spectrum_and_magnitude(
            &self.fft_out,
            &mut self.ring_spec[slot * N_BINS..(slot + 1) * N_BINS],
            &mut self.ring_mag[slot * ROW..slot * ROW + N_BINS],
        );
        rms
    }

    /// Transposes the magnitudes of the block at ring slot `slot0` into `mag_t`.
    fn transpose_tile(&mut self, slot0: usize) {
        lanes::transpose(
            &self.ring_mag[slot0 * ROW..(slot0 + BLOCK) * ROW],
            ROW,
            BLOCK,
            ROW,
            &mut self.mag_t,
            BLOCK,
        );
    }

    /// Frames `b0..b1` (one block, `b0` a multiple of [`BLOCK`]).
    fn block(&mut self, b0: usize, b1: usize, laps: &mut Laps) {
        let slot0 = b0 % RING;
        let len = b1 - b0;
        let mut rms = [0.0f32; BLOCK];
        for (f, r) in rms.iter_mut().enumerate().take(len) {
            *r = self.stft_frame(b0 + f, slot0 + f, true);
        }
        laps.lap(|t| &mut t.stft);

        self.rms.extend_from_slice(&rms[..len]);
        for f in 0..len {
            let row = &self.ring_mag[(slot0 + f) * ROW..(slot0 + f) * ROW + N_BINS];
            let (c, bw) = spectral::centroid_bandwidth(row, &self.c.freqs, &mut self.frame_scratch);
            self.centroid.push(c);
            self.bandwidth.push(bw);
        }
        laps.lap(|t| &mut t.spectral);
        // The bin-major tile serves the rolloff, the mel and chroma banks and the percussive
        // median; its transposition is counted with HPSS, its f64 power with the mel bank.
        self.transpose_tile(slot0);
        laps.lap(|t| &mut t.hpss);
        self.rolloff_block(len);
        laps.lap(|t| &mut t.spectral);

        for f in 0..len {
            let row = &self.ring_mag[(slot0 + f) * ROW..(slot0 + f) * ROW + N_BINS];
            for (p, &m) in self.power_row.iter_mut().zip(row) {
                *p = m * m;
            }
            self.tracker.frame(&self.power_row, &mut self.peaks);
        }
        if let Some(kept) = self.kept_tiles.as_mut() {
            let b = b0 / BLOCK;
            kept[b * N_BINS * BLOCK..(b + 1) * N_BINS * BLOCK]
                .copy_from_slice(&self.mag_t[..N_BINS * BLOCK]);
        }
        laps.lap(|t| &mut t.chroma);

        power_f64(&self.mag_t[..N_BINS * BLOCK], &mut self.pow_t);
        self.mel_block(b0, len);
        laps.lap(|t| &mut t.mel);

        // Percussive medians along frequency, sixteen frames per lane group.
        for g in 0..BLOCK / LANES {
            let mut w = Window::default();
            lanes::median_run(
                self.isa,
                &mut w,
                &self.mag_t,
                &mut self.perc_t,
                &self.c.perc_steps,
                g * LANES,
            );
        }
        lanes::transpose(
            &self.perc_t,
            BLOCK,
            ROW,
            BLOCK,
            &mut self.ring_perc[slot0 * ROW..(slot0 + BLOCK) * ROW],
            ROW,
        );
        let ready = if b1 == self.n_frames {
            self.n_frames
        } else {
            b1.saturating_sub(HALF)
        };
        self.harmonic_until(ready);
        laps.lap(|t| &mut t.hpss);
    }

    /// Spectral rolloff of the block's frames from the magnitude tile.
    fn rolloff_block(&mut self, len: usize) {
        let mut found = [0u32; BLOCK];
        rolloff_tile(
            &self.mag_t[..N_BINS * BLOCK],
            ROLL_PERCENT as f32,
            &mut found,
        );
        for &k in &found[..len] {
            let k = if k == u32::MAX { 0 } else { k as usize };
            self.rolloff.push(self.c.freqs[k]);
        }
    }

    /// Mel spectrogram of the block's frames.
    fn mel_block(&mut self, b0: usize, len: usize) {
        let mut rows = [[0.0f32; BLOCK]; N_MELS];
        filter_tile(&self.c.mel_bank, &self.c.mel_spans, &self.pow_t, &mut rows);
        for f in 0..len {
            let frame = &mut self.mel[(b0 + f) * N_MELS..(b0 + f + 1) * N_MELS];
            for (m, r) in frame.iter_mut().zip(&rows) {
                *m = r[f];
            }
        }
    }

    /// Harmonic medians, masks and inverse STFT of the frames up to `ready` (exclusive).
    fn harmonic_until(&mut self, ready: usize) {
        let n = self.n_frames;
        let slot = |f: usize| ((f % RING) * ROW) as u32;
        let frame_at = |i: isize| reflect(i, n);
        while self.harm_next < ready {
            let ta = self.harm_next;
            let tb = ready.min(ta + BLOCK);
            let discard = (BLOCK * ROW) as u32;
            let inf = (RING * ROW) as u32;
            self.harm_steps.clear();
            for t in ta..tb {
                let out = ((t - ta) * ROW) as u32;
                if t == 0 {
                    // Fill the empty windows with the first 31 values of the extended line.
                    for j in 0..HPSS_KERNEL {
                        self.harm_steps.push(Step {
                            old: inf,
                            new: slot(frame_at(j as isize - HALF as isize)),
                            out: if j + 1 == HPSS_KERNEL { out } else { discard },
                        });
                    }
                } else {
                    self.harm_steps.push(Step {
                        old: slot(frame_at(t as isize - HALF as isize - 1)),
                        new: slot(frame_at((t + HALF) as isize)),
                        out,
                    });
                }
            }
            for (g, w) in self.harm_windows.iter_mut().enumerate() {
                lanes::median_run(
                    self.isa,
                    w,
                    &self.ring_mag,
                    &mut self.harm_rows,
                    &self.harm_steps,
                    g * LANES,
                );
            }
            for t in ta..tb {
                self.mask_and_invert(t, t - ta);
            }
            self.harm_next = tb;
        }
    }

    /// Soft masks of frame `t` (harmonic medians in row `row` of `harm_rows`), the two masked
    /// spectra inverted and overlap-added; then the samples no later frame touches are divided
    /// by the window envelope.
    fn mask_and_invert(&mut self, t: usize, row: usize) {
        let slot = t % RING;
        let spec = &self.ring_spec[slot * N_BINS..(slot + 1) * N_BINS];
        let perc = &self.ring_perc[slot * ROW..slot * ROW + N_BINS];
        let harm = &self.harm_rows[row * ROW..row * ROW + N_BINS];
        masked_spectra(spec, harm, perc, &mut self.ispec_h, &mut self.ispec_p);
        // numpy's irfft of a real signal's spectrum ignores these imaginary parts.
        for s in [&mut self.ispec_h, &mut self.ispec_p] {
            s[0].im = 0.0;
            s[N_BINS - 1].im = 0.0;
        }
        let start = t * HOP_LENGTH;
        let trim = N_FFT / 2;
        let lo = trim.saturating_sub(start);
        let hi = (self.out_len + trim).saturating_sub(start).min(N_FFT);
        // numpy's irfft scales by 1/n (a power of two here, so exact).
        let scale = 1.0 / N_FFT as f64;
        for (spec, out) in [
            (&mut self.ispec_h, &mut self.harmonic),
            (&mut self.ispec_p, &mut self.percussive),
        ] {
            self.c
                .ifft
                .process_with_scratch(spec, &mut self.iframe, &mut self.iscratch)
                .expect("buffer lengths come from the plan");
            if lo < hi {
                overlap_add(
                    &mut out[start + lo - trim..start + hi - trim],
                    &self.iframe[lo..hi],
                    &self.c.window[lo..hi],
                    scale,
                );
            }
        }
        let complete = ((t + 1) * HOP_LENGTH)
            .saturating_sub(trim)
            .min(self.out_len);
        self.normalize_until(complete);
    }

    /// Divides the samples up to `upto` by the window sum-square where it exceeds the smallest
    /// normal f32 (as `istft`).
    fn normalize_until(&mut self, upto: usize) {
        let trim = N_FFT / 2;
        let mut o = self.out_done;
        while o < upto {
            // One hop of samples at a time: inside the signal's interior the envelope repeats
            // with the hop.
            let q = o + trim;
            let k = q / HOP_LENGTH;
            let end = ((k + 1) * HOP_LENGTH - trim).min(upto);
            if k >= OVERLAP - 1 && k < self.n_frames {
                let p = q % HOP_LENGTH;
                divide_where_positive(
                    &mut self.harmonic[o..end],
                    &mut self.percussive[o..end],
                    &self.c.wss_interior[p..p + (end - o)],
                );
            } else {
                for i in o..end {
                    let d = self.wss(i + trim);
                    if d > f32::MIN_POSITIVE {
                        self.harmonic[i] /= d;
                        self.percussive[i] /= d;
                    }
                }
            }
            o = end;
        }
        self.out_done = self.out_done.max(upto);
    }

    /// Window sum-square at padded sample `q`: the squared windows of the frames covering it,
    /// accumulated in f32 in frame order (as `istft`'s envelope).
    #[inline]
    fn wss(&self, q: usize) -> f32 {
        let k = q / HOP_LENGTH;
        if k >= OVERLAP - 1 && k < self.n_frames {
            return self.c.wss_interior[q % HOP_LENGTH];
        }
        let first = (q + 1).saturating_sub(N_FFT).div_ceil(HOP_LENGTH);
        let last = k.min(self.n_frames - 1);
        let mut acc = 0.0f32;
        for t in first..=last {
            let w = self.c.window[q - t * HOP_LENGTH];
            acc = (f64::from(acc) + w * w) as f32;
        }
        acc
    }

    /// Harmonic medians and inverse STFT of the frames still pending, then the last samples'
    /// division by the window envelope.
    fn finish_hpss(&mut self) {
        self.harmonic_until(self.n_frames);
        self.normalize_until(self.out_len);
    }

    /// Tuning from all peaks, then the chromagram block by block from the kept tiles (or a
    /// second STFT pass): returns `(tuning, chroma (N_CHROMA, n_frames) row-major)`.
    fn chroma(&mut self) -> (f64, Vec<f32>) {
        let sr = f64::from(SAMPLE_RATE);
        let tuning = chroma::tuning_from_peaks(&self.peaks, N_CHROMA);
        let fb = chroma::chroma_filters(sr, N_FFT, N_CHROMA, tuning);
        let spans = mel::filter_spans(fb.view());
        let bank: Vec<f64> = fb.iter().map(|&w| f64::from(w)).collect();
        let n = self.n_frames;
        let mut out = vec![0.0f32; N_CHROMA * n];
        let kept = self.kept_tiles.take();
        let mut b0 = 0;
        while b0 < n {
            let b1 = (b0 + BLOCK).min(n);
            let len = b1 - b0;
            match &kept {
                Some(tiles) => {
                    let b = b0 / BLOCK;
                    let tile = &tiles[b * N_BINS * BLOCK..(b + 1) * N_BINS * BLOCK];
                    power_f64(tile, &mut self.pow_t);
                }
                None => {
                    // The ring is free after the pass: recompute the block's magnitudes.
                    for f in 0..len {
                        self.stft_frame(b0 + f, f, false);
                    }
                    self.transpose_tile(0);
                    power_f64(&self.mag_t[..N_BINS * BLOCK], &mut self.pow_t);
                }
            }
            let mut raw = [[0.0f32; BLOCK]; N_CHROMA];
            filter_tile(&bank, &spans, &self.pow_t, &mut raw);
            // util.normalize(norm=inf) of each frame.
            for f in 0..len {
                let length = raw.iter().fold(0.0f32, |m, r| m.max(r[f].abs()));
                for (c, r) in raw.iter().enumerate() {
                    out[c * n + b0 + f] = if length < f32::MIN_POSITIVE {
                        r[f]
                    } else {
                        r[f] / length
                    };
                }
            }
            b0 = b1;
        }
        self.kept_tiles = kept;
        (tuning, out)
    }
}

/// The steps of the percussive median of one tile: the 31 values of the reflected start fill
/// an empty window, then one step per bin.
fn percussive_steps() -> Vec<Step> {
    let row = |k: isize| (reflect(k, N_BINS) * BLOCK) as u32;
    let inf = (ROW * BLOCK) as u32;
    let discard = (ROW * BLOCK) as u32;
    let mut steps = Vec::with_capacity(N_BINS + HPSS_KERNEL);
    for j in 0..HPSS_KERNEL {
        steps.push(Step {
            old: inf,
            new: row(j as isize - HALF as isize),
            out: if j + 1 == HPSS_KERNEL { 0 } else { discard },
        });
    }
    for k in 1..N_BINS {
        steps.push(Step {
            old: row(k as isize - HALF as isize - 1),
            new: row((k + HALF) as isize),
            out: (k * BLOCK) as u32,
        });
    }
    steps
}

/// Window sum-square of a sample covered by all [`OVERLAP`] frames, by its offset in the hop
/// (the frames added in order, earliest frame first).
fn wss_interior(window: &[f64]) -> Vec<f32> {
    (0..HOP_LENGTH)
        .map(|p| {
            let mut acc = 0.0f32;
            for m in (0..OVERLAP).rev() {
                let w = window[p + m * HOP_LENGTH];
                acc = (f64::from(acc) + w * w) as f32;
            }
            acc
        })
        .collect()
}

/// `util.softmask` with power 2 and `split_zeros` for both parts (see [`super::hpss`]), without
/// branches.
#[inline(always)]
fn soft_masks(h: f32, p: f32) -> (f32, f32) {
    let z = if h > p { h } else { p };
    let a = h / z;
    let a = a * a;
    let b = p / z;
    let b = b * b;
    let (mh, mp) = (a / (a + b), b / (b + a));
    if z < f32::MIN_POSITIVE {
        (0.5, 0.5)
    } else {
        (mh, mp)
    }
}

simd_fn! {
    /// `x²` of each sample, in f32 (the RMS's squares).
    fn squares(x: &[f32], out: &mut [f32]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v * v;
        }
    }
}

simd_fn! {
    /// The windowed frame in f64 (float64 window times float32 samples, as numpy).
    fn windowed(frame: &[f32], window: &[f64], out: &mut [f64]) {
        for ((o, &w), &s) in out.iter_mut().zip(window).zip(frame) {
            *o = w * f64::from(s);
        }
    }
}

simd_fn! {
    /// The f64 spectrum stored as complex64, and `np.abs` of that (hypotf: the f64 root of the
    /// exact f64 sum of squares, rounded to f32).
    fn spectrum_and_magnitude(
        spec64: &[Complex<f64>],
        spec: &mut [Complex<f32>],
        mag: &mut [f32],
    ) {
        for ((s, m), c) in spec.iter_mut().zip(mag.iter_mut()).zip(spec64) {
            let (re, im) = (c.re as f32, c.im as f32);
            *s = Complex::new(re, im);
            let (r, i) = (f64::from(re), f64::from(im));
            *m = (r * r + i * i).sqrt() as f32;
        }
    }
}

simd_fn! {
    /// `f64(m · m)` of each magnitude (the f32 power, widened for the filter banks).
    fn power_f64(mag: &[f32], out: &mut [f64]) {
        for (p, &m) in out.iter_mut().zip(mag) {
            *p = f64::from(m * m);
        }
    }
}

simd_fn! {
    /// Rolloff bin of each frame (lane) of a magnitude tile (`N_BINS` rows of [`BLOCK`]): the
    /// first bin where the running f32 sum reaches `pct` times the frame's total (`u32::MAX`
    /// when none does).
    fn rolloff_tile(mag_t: &[f32], pct: f32, found: &mut [u32; BLOCK]) {
        let mut total = [0.0f32; BLOCK];
        for row in mag_t.chunks_exact(BLOCK) {
            for (a, &x) in total.iter_mut().zip(row) {
                *a += x;
            }
        }
        let mut threshold = [0.0f32; BLOCK];
        for (th, &a) in threshold.iter_mut().zip(&total) {
            *th = pct * a;
        }
        let mut cum = [0.0f32; BLOCK];
        *found = [u32::MAX; BLOCK];
        for (k, row) in mag_t.chunks_exact(BLOCK).enumerate() {
            for f in 0..BLOCK {
                cum[f] += row[f];
                let hit = found[f] == u32::MAX && cum[f] >= threshold[f];
                found[f] = if hit { k as u32 } else { found[f] };
            }
        }
    }
}

simd_fn! {
    /// A filter bank (`rows.len()` rows of `N_BINS` f64 weights, non-zero on `spans`) applied
    /// to a power tile (`N_BINS` rows of [`BLOCK`] frames): per filter and frame, the f64 dot
    /// product over the span in bin order, rounded to f32.
    fn filter_tile(
        bank: &[f64],
        spans: &[(usize, usize)],
        pow_t: &[f64],
        rows: &mut [[f32; BLOCK]],
    ) {
        let filters = rows.iter_mut().zip(spans).zip(bank.chunks_exact(N_BINS));
        for ((row, &(a, b)), weights) in filters {
            let mut acc = [0.0f64; BLOCK];
            let tile = pow_t[a * BLOCK..b * BLOCK].chunks_exact(BLOCK);
            for (&w, p) in weights[a..b].iter().zip(tile) {
                for (s, &x) in acc.iter_mut().zip(p) {
                    *s += w * x;
                }
            }
            for (r, &s) in row.iter_mut().zip(&acc) {
                *r = s as f32;
            }
        }
    }
}

simd_fn! {
    /// The harmonic and percussive spectra of one frame: the complex64 bins scaled by their
    /// soft masks in f32, widened to f64 for the inverse FFT.
    fn masked_spectra(
        spec: &[Complex<f32>],
        harm: &[f32],
        perc: &[f32],
        out_h: &mut [Complex<f64>],
        out_p: &mut [Complex<f64>],
    ) {
        for ((((sh, sp), &d), &h), &p) in out_h
            .iter_mut()
            .zip(out_p.iter_mut())
            .zip(spec)
            .zip(harm)
            .zip(perc)
        {
            let (mh, mp) = soft_masks(h, p);
            *sh = Complex::new(f64::from(d.re * mh), f64::from(d.im * mh));
            *sp = Complex::new(f64::from(d.re * mp), f64::from(d.im * mp));
        }
    }
}

simd_fn! {
    /// Overlap-add of one inverse-FFT frame: each addition in f64, rounded to f32 (as librosa's
    /// float32 `istft` buffer).
    fn overlap_add(out: &mut [f32], frame: &[f64], window: &[f64], scale: f64) {
        for ((o, &x), &w) in out.iter_mut().zip(frame).zip(window) {
            *o = (f64::from(*o) + w * (x * scale)) as f32;
        }
    }
}

simd_fn! {
    /// Divides both signals by the envelope `d` where it exceeds the smallest normal f32.
    fn divide_where_positive(h: &mut [f32], p: &mut [f32], d: &[f32]) {
        for ((h, p), &d) in h.iter_mut().zip(p.iter_mut()).zip(d) {
            let keep = d > f32::MIN_POSITIVE;
            let (qh, qp) = (*h / d, *p / d);
            *h = if keep { qh } else { *h };
            *p = if keep { qp } else { *p };
        }
    }
}

/// [`mel::power_to_db_inplace`] on a flat buffer.
fn power_to_db_inplace(s: &mut [f32]) {
    let amin = 1e-10f32;
    let mut max = f32::NEG_INFINITY;
    for x in s.iter_mut() {
        *x = 10.0 * x.max(amin).log10();
        max = max.max(*x);
    }
    if max.is_finite() {
        let floor = (f64::from(max) - 80.0) as f32;
        for x in s.iter_mut() {
            *x = x.max(floor);
        }
    }
}

/// [`mfcc::mfcc`] of a frame-major dB mel spectrogram: `(N_MFCC, n_frames)` row-major. The
/// coefficients of a frame are accumulated side by side, each in the order of `mfcc`'s sum.
fn mfcc_frames(mel_db: &[f32], n_frames: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; N_MFCC * n_frames];
    mfcc_kernel(mel_db, &consts().mfcc_basis_t, n_frames, &mut out);
    out
}

simd_fn! {
    /// The DCT of each frame of `mel_db` with the transposed basis, into `out`
    /// (`(N_MFCC, n_frames)` row-major).
    fn mfcc_kernel(mel_db: &[f32], basis_t: &[f64], n_frames: usize, out: &mut [f32]) {
        for (t, frame) in mel_db.chunks_exact(N_MELS).enumerate() {
            // Iterator::sum of f64 starts from -0.0.
            let mut acc = [-0.0f64; N_MFCC];
            for (&x, b) in frame.iter().zip(basis_t.chunks_exact(N_MFCC)) {
                let x = f64::from(x);
                for (a, &w) in acc.iter_mut().zip(b) {
                    *a += w * x;
                }
            }
            for (k, &a) in acc.iter().enumerate() {
                out[k * n_frames + t] = a as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::hpss;
    use ndarray::Array1;
    use ndarray_npy::read_npy;
    use std::path::{Path, PathBuf};

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/librosa-0.8.1")
    }

    fn wav(path: &Path) -> Vec<f32> {
        let mut r = hound::WavReader::open(path).unwrap();
        match r.spec().sample_format {
            hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
            hound::SampleFormat::Int => r
                .samples::<i16>()
                .map(|s| f32::from(s.unwrap()) / 32768.0)
                .collect(),
        }
    }

    /// Every intermediate of the stage functions (the whole-matrix reference path).
    fn reference(y: &[f32]) -> Analysis {
        let sr = f64::from(SAMPLE_RATE);
        let spec = stft::stft(y, N_FFT, HOP_LENGTH);
        let mag = stft::magnitude(&spec);
        let power = stft::power_from_magnitude(&mag);
        let freqs = spectral::fft_frequencies(sr, N_FFT);
        let (chroma, tuning) = chroma::chroma_stft(power.view(), sr, N_CHROMA);
        let centroid = spectral::spectral_centroid(mag.view(), &freqs);
        let bandwidth = spectral::spectral_bandwidth(mag.view(), &freqs, &centroid);
        let (harmonic, percussive) = hpss::hpss(&spec, y.len());
        let mut db = mel::melspectrogram(power.view(), sr, N_MELS);
        mel::power_to_db_inplace(&mut db);
        let m = mfcc::mfcc(db.view(), N_MFCC);
        let onset_env = tempo::onset_strength(&db);
        Analysis {
            n_frames: spec.ncols(),
            tuning,
            chroma: chroma.iter().copied().collect(),
            rms: spectral::rms(y, N_FFT, HOP_LENGTH),
            centroid,
            bandwidth,
            rolloff: spectral::spectral_rolloff(mag.view(), &freqs, ROLL_PERCENT),
            zcr: old_zcr(y, N_FFT, HOP_LENGTH),
            harmonic,
            percussive,
            mel_db: db.t().iter().copied().collect(),
            mfcc: m.iter().copied().collect(),
            tempo: tempo::tempo(&onset_env),
            onset_env,
        }
    }

    /// The zero-crossing rate counted frame by frame (the definition).
    fn old_zcr(y: &[f32], frame: usize, hop: usize) -> Vec<f64> {
        let padded = stft::pad_edge(y, frame / 2);
        let neg: Vec<bool> = padded
            .iter()
            .map(|&x| x.abs() > 1e-10 && x.is_sign_negative())
            .collect();
        let frames = stft::n_frames(padded.len(), frame, hop);
        (0..frames)
            .map(|t| {
                let f = &neg[t * hop..t * hop + frame];
                f.windows(2).filter(|w| w[0] != w[1]).count() as f64 / frame as f64
            })
            .collect()
    }

    /// Bit patterns, so that NaN and signed zeros compare too.
    fn bits32(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn bits64(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn assert_same(name: &str, ours: &Analysis, want: &Analysis) {
        assert_eq!(ours.n_frames, want.n_frames, "{name}: frames");
        assert_eq!(
            ours.tuning.to_bits(),
            want.tuning.to_bits(),
            "{name}: tuning"
        );
        for (what, a, b) in [
            ("chroma", &ours.chroma, &want.chroma),
            ("rms", &ours.rms, &want.rms),
            ("harmonic", &ours.harmonic, &want.harmonic),
            ("percussive", &ours.percussive, &want.percussive),
            ("mel_db", &ours.mel_db, &want.mel_db),
            ("mfcc", &ours.mfcc, &want.mfcc),
            ("onset_env", &ours.onset_env, &want.onset_env),
        ] {
            assert_eq!(a.len(), b.len(), "{name}: {what} length");
            if let Some(i) = (0..a.len()).find(|&i| a[i].to_bits() != b[i].to_bits()) {
                panic!("{name}: {what}[{i}] = {} vs {}", a[i], b[i]);
            }
            assert_eq!(bits32(a), bits32(b));
        }
        for (what, a, b) in [
            ("centroid", &ours.centroid, &want.centroid),
            ("bandwidth", &ours.bandwidth, &want.bandwidth),
            ("rolloff", &ours.rolloff, &want.rolloff),
            ("zcr", &ours.zcr, &want.zcr),
        ] {
            assert_eq!(bits64(a), bits64(b), "{name}: {what}");
        }
        assert_eq!(ours.tempo, want.tempo, "{name}: tempo");
    }

    #[test]
    fn streaming_equals_stage_functions_on_fixtures() {
        for name in [
            "chirp",
            "clicks120",
            "chord",
            "noise",
            "silence",
            "dc",
            "short",
        ] {
            let y = wav(&fixtures().join(format!("synthetic/{name}.wav")));
            assert_same(name, &analyse(&y), &reference(&y));
        }
        for name in ["tiny1", "tiny2", "tiny100", "tiny500"] {
            let y: Array1<f32> = read_npy(fixtures().join(format!("tiny/{name}.npy"))).unwrap();
            let y = y.to_vec();
            assert_same(name, &analyse(&y), &reference(&y));
        }
    }

    #[test]
    fn streaming_equals_stage_functions_on_a_real_clip() {
        let y = wav(&Path::new(env!("CARGO_MANIFEST_DIR")).join("audio/blues.00000.wav"));
        assert_same("blues.00000", &analyse(&y), &reference(&y));
    }

    #[test]
    fn block_boundaries_and_second_stft_pass() {
        // Lengths around block and ring boundaries, and one long enough to take the second
        // STFT pass for the chroma instead of kept tiles.
        let mut state = 88_172_645_463_325_252u64;
        let mut noise = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let s = (i as f32 * 0.031).sin() * 0.3;
                    s + ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
                })
                .collect()
        };
        for frames in [15usize, 16, 17, 31, 32, 33, 47, 63, 64, 65, 97] {
            let y = noise((frames - 1) * HOP_LENGTH + 7);
            assert_same(&format!("{frames} frames"), &analyse(&y), &reference(&y));
        }
        // Longer than the tiles kept: the chroma from a second STFT pass.
        let y = noise(1000 * HOP_LENGTH + 100);
        let a = analyse_keeping(&y, None, 999);
        assert_same("second pass", &a, &reference(&y));
        assert_same("second pass = kept tiles", &a, &analyse(&y));
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let y = wav(&fixtures().join("synthetic/chord.wav"));
        let fast = analyse(&y);
        lanes::tests::PORTABLE_ONLY.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(lanes::active_isa(), Isa::Portable);
        let portable = analyse(&y);
        lanes::tests::PORTABLE_ONLY.store(false, std::sync::atomic::Ordering::Relaxed);
        assert_same("chord, portable kernels", &portable, &fast);
    }

    #[test]
    fn empty_signal_is_one_frame_of_zeros() {
        let a = analyse(&[]);
        assert_eq!(a.n_frames, 1);
        assert!(a.harmonic.is_empty() && a.percussive.is_empty());
        assert!(a.chroma.iter().chain(&a.rms).all(|&x| x == 0.0));
        assert_eq!(a.tempo, 0.0);
    }

    #[test]
    fn timed_analysis_is_the_same_analysis() {
        let y: Vec<f32> = (0..30_000).map(|i| (i as f32 * 0.05).sin()).collect();
        let (a, t) = analyse_timed(&y);
        assert_eq!(a, analyse(&y));
        assert!(t.total() > Duration::ZERO);
    }
}
