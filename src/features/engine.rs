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
//! A long signal is cut at block boundaries into parts that run side by side on the current
//! rayon pool (one per thread, at least [`MIN_PART_FRAMES`] frames each), each in its own engine
//! (a [`Span`]): a part also computes the STFT of the block either side of its cuts, for the
//! medians that read across them, and inverts the three frames before its first own frame that
//! overlap-add into its first samples, so that every sample gets the same additions in the same
//! order as in one pass. The pitch peaks of all parts give the tuning; then each part computes
//! its chroma while the mel, MFCC and tempo stages run on the whole signal.
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

use std::time::{Duration, Instant};

use rayon::prelude::*;
use rustfft::num_complex::Complex;

use super::chroma::{self, Peak, PitchTracker};
use super::hpss::reflect;
use super::lanes::simd_fn;
use super::lanes::{self, Isa, Step, Window, LANES};
use super::numpy::{mean_var, mean_var_f32, pairwise_sum_f32};
use super::rfft::{Irfft, Rfft};
use super::summary::{FeatureVector, FEATURE_COLUMNS, N_FEATURES};
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
    /// Means and variances (set by [`compute_timed`]).
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
pub(super) struct Laps<'a> {
    times: Option<&'a mut StageTimes>,
    last: Instant,
}

impl Laps<'_> {
    /// Laps that time nothing.
    pub(super) fn off() -> Self {
        Laps {
            times: None,
            last: Instant::now(),
        }
    }

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
/// (tests lower it to reach the second STFT pass with short signals). Long signals are cut into
/// parts analysed side by side on the current rayon pool (see [`parts_for`]); timed analyses
/// run in one part, so that the stage times add up.
fn analyse_keeping(y: &[f32], times: Option<&mut StageTimes>, keep_max_frames: usize) -> Analysis {
    let n_frames = 1 + y.len() / HOP_LENGTH;
    let parts = if times.is_some() {
        1
    } else {
        parts_for(n_frames, rayon::current_num_threads())
    };
    analyse_in_parts(y, times, keep_max_frames, parts)
}

/// How many parts a signal of `n_frames` frames is analysed in with `threads` threads: one per
/// thread, each of at least [`MIN_PART_FRAMES`] frames.
fn parts_for(n_frames: usize, threads: usize) -> usize {
    (n_frames / MIN_PART_FRAMES).clamp(1, threads.max(1))
}

/// [`analyse_keeping`] in `parts` parts (the same bits for any number of parts).
fn analyse_in_parts(
    y: &[f32],
    times: Option<&mut StageTimes>,
    keep_max_frames: usize,
    parts: usize,
) -> Analysis {
    let mut laps = Laps {
        times,
        last: Instant::now(),
    };
    let n_frames = 1 + y.len() / HOP_LENGTH;
    let keep = n_frames <= keep_max_frames;
    let spans = Span::split(n_frames, y.len(), parts);
    let (mut harmonic, mut percussive, mel_first) = POOL.with(|p| {
        let mut p = p.borrow_mut();
        (
            refill(&mut p.harmonic, y.len(), 0.0),
            refill(&mut p.percussive, y.len(), 0.0),
            refill(&mut p.mel, spans[0].own.len() * N_MELS, 0.0),
        )
    });
    let mut mel_first = Some(mel_first);
    let outs: Vec<_> = split_outputs(&spans, &mut harmonic, &mut percussive)
        .into_iter()
        .map(|(span, h, p)| {
            let m = mel_first
                .take()
                .unwrap_or_else(|| vec![0.0; span.own.len() * N_MELS]);
            (span, h, p, m)
        })
        .collect();
    let mut engines: Vec<Engine> = if spans.len() == 1 {
        let (span, h, p, m) = outs.into_iter().next().expect("one part");
        let mut e = Engine::new(Signal::whole(y), n_frames, span, keep, h, p, m);
        laps.lap(|t| &mut t.stft);
        e.pass(&mut laps);
        vec![e]
    } else {
        outs.into_par_iter()
            .map(|(span, h, p, m)| {
                let mut e = Engine::new(Signal::whole(y), n_frames, span, keep, h, p, m);
                e.pass(&mut Laps::off());
                e
            })
            .collect()
    };
    let (first, others) = engines.split_first_mut().expect("at least one part");
    let mut mel = std::mem::take(&mut first.mel);
    let mut peaks = std::mem::take(&mut first.peaks);
    for e in others {
        mel.extend_from_slice(&e.mel);
        peaks.append(&mut e.peaks);
    }
    let tuning = chroma::tuning_from_peaks(&peaks, N_CHROMA);
    let rest = |laps: &mut Laps, mel: &mut Vec<f32>| {
        let zcr = spectral::zero_crossing_rate(y, N_FFT, HOP_LENGTH);
        laps.lap(|t| &mut t.spectral);
        power_to_db_inplace(mel);
        laps.lap(|t| &mut t.mel);
        let mfcc = mfcc_frames(mel, n_frames);
        laps.lap(|t| &mut t.mfcc);
        let onset_env = tempo::onset_strength_frames(mel, N_MELS, n_frames);
        let bpm = tempo::tempo(&onset_env);
        laps.lap(|t| &mut t.onset_tempo);
        (zcr, mfcc, onset_env, bpm)
    };
    let (mut parts, (zcr, mfcc, onset_env, bpm)) = if engines.len() == 1 {
        let part = engines.pop().expect("one part").finish(tuning);
        laps.lap(|t| &mut t.chroma);
        (vec![part], rest(&mut laps, &mut mel))
    } else {
        rayon::join(
            || engines.into_par_iter().map(|e| e.finish(tuning)).collect(),
            || rest(&mut Laps::off(), &mut mel),
        )
    };
    let mut a = Analysis {
        n_frames,
        tuning,
        chroma: Vec::new(),
        rms: Vec::with_capacity(n_frames),
        centroid: Vec::with_capacity(n_frames),
        bandwidth: Vec::with_capacity(n_frames),
        rolloff: Vec::with_capacity(n_frames),
        zcr,
        harmonic,
        percussive,
        mel_db: mel,
        mfcc,
        onset_env,
        tempo: bpm,
    };
    for p in &parts {
        a.rms.extend_from_slice(&p.rms);
        a.centroid.extend_from_slice(&p.centroid);
        a.bandwidth.extend_from_slice(&p.bandwidth);
        a.rolloff.extend_from_slice(&p.rolloff);
    }
    a.chroma = if parts.len() == 1 {
        parts.pop().expect("one part").chroma
    } else {
        // Each part's rows side by side in the whole signal's rows.
        let mut chroma = vec![0.0f32; N_CHROMA * n_frames];
        let mut t0 = 0;
        for p in &parts {
            let len = p.rms.len();
            for c in 0..N_CHROMA {
                chroma[c * n_frames + t0..c * n_frames + t0 + len]
                    .copy_from_slice(&p.chroma[c * len..(c + 1) * len]);
            }
            t0 += len;
        }
        chroma
    };
    a
}

/// Frames per part below which a signal is not cut (two extra blocks of STFT per cut).
const MIN_PART_FRAMES: usize = 2048;

/// The frames and samples one engine of a (possibly cut) analysis computes and owns.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Span {
    /// Frames whose STFT it computes: its own frames and a block either side at a cut.
    pub(super) compute: std::ops::Range<usize>,
    /// Frames whose frame-wise features it records (whole blocks).
    pub(super) own: std::ops::Range<usize>,
    /// Frames it masks, inverts and overlap-adds: its own frames and, at a cut, the
    /// `OVERLAP - 1` before them that also reach its first samples.
    invert: std::ops::Range<usize>,
    /// Samples of the harmonic and percussive signals it writes.
    pub(super) samples: std::ops::Range<usize>,
}

impl Span {
    /// `parts` spans of a signal of `len` samples (`n_frames` frames), cut at block
    /// boundaries; one span of everything when the signal is too short to cut.
    pub(super) fn split(n_frames: usize, len: usize, parts: usize) -> Vec<Span> {
        let trim = N_FFT / 2;
        let mut cuts = vec![0];
        for j in 1..parts {
            let m = (j * n_frames / parts) / BLOCK * BLOCK;
            // A cut needs more than a block on either side (so a part's first inverted frame
            // and its first sample lie after the signal's start).
            if m > *cuts.last().expect("first cut") + BLOCK && m + BLOCK < n_frames {
                cuts.push(m);
            }
        }
        cuts.push(n_frames);
        cuts.windows(2)
            .map(|w| {
                let (a, b) = (w[0], w[1]);
                let first = a == 0;
                let last = b == n_frames;
                Span {
                    compute: if first { 0 } else { a - BLOCK }..if last { b } else { b + BLOCK },
                    own: a..b,
                    invert: if first { 0 } else { a - (OVERLAP - 1) }..b,
                    samples: if first { 0 } else { a * HOP_LENGTH - trim }..if last {
                        len
                    } else {
                        b * HOP_LENGTH - trim
                    },
                }
            })
            .collect()
    }
}

/// The harmonic and percussive signals cut along `spans`: each span's samples of both.
fn split_outputs<'a>(
    spans: &[Span],
    mut harmonic: &'a mut [f32],
    mut percussive: &'a mut [f32],
) -> Vec<(Span, &'a mut [f32], &'a mut [f32])> {
    spans
        .iter()
        .map(|s| {
            let (h, h_rest) = std::mem::take(&mut harmonic).split_at_mut(s.samples.len());
            let (p, p_rest) = std::mem::take(&mut percussive).split_at_mut(s.samples.len());
            (harmonic, percussive) = (h_rest, p_rest);
            (s.clone(), h, p)
        })
        .collect()
}

/// What a part gives the analysis after its pass and its chroma.
pub(super) struct Part {
    pub(super) rms: Vec<f32>,
    pub(super) centroid: Vec<f64>,
    pub(super) bandwidth: Vec<f64>,
    pub(super) rolloff: Vec<f64>,
    /// `(N_CHROMA, own frames)` row-major.
    pub(super) chroma: Vec<f32>,
}

/// Constants of every analysis (FFT plans, windows, filter banks, median steps), built once.
struct Consts {
    fft: Rfft,
    ifft: Irfft,
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
        let fft = Rfft::new(N_FFT);
        let ifft = Irfft::new(N_FFT);
        let scratch_len = fft.scratch_len().max(ifft.scratch_len());
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

/// The large scratch buffers of an engine. Ring of the last RING frames: complex bins,
/// magnitudes (plus a row of +∞ after the ring), percussive medians. The block's tiles,
/// bin-major (row k holds bin k of the BLOCK frames): magnitudes (plus a row of +∞), percussive
/// medians (plus a discard row), power in f64. The harmonic medians of the filtered frames
/// (plus a discard row).
#[derive(Default)]
struct Scratch {
    ring_spec: Vec<Complex<f32>>,
    ring_mag: Vec<f32>,
    ring_perc: Vec<f32>,
    mag_t: Vec<f32>,
    perc_t: Vec<f32>,
    pow_t: Vec<f64>,
    harm_rows: Vec<f32>,
}

impl Scratch {
    /// The buffers of `pool`, resized and initialised for a new engine.
    fn from_pool(pool: &mut Scratch) -> Scratch {
        let mut ring_mag = refill(&mut pool.ring_mag, (RING + 1) * ROW, 0.0f32);
        ring_mag[RING * ROW..].fill(f32::INFINITY);
        let mut mag_t = refill(&mut pool.mag_t, (ROW + 1) * BLOCK, 0.0f32);
        mag_t[ROW * BLOCK..].fill(f32::INFINITY);
        Scratch {
            ring_spec: refill(
                &mut pool.ring_spec,
                RING * N_BINS,
                Complex::new(0.0f32, 0.0),
            ),
            ring_mag,
            ring_perc: refill(&mut pool.ring_perc, RING * ROW, 0.0),
            mag_t,
            perc_t: refill(&mut pool.perc_t, (ROW + 1) * BLOCK, 0.0),
            pow_t: refill(&mut pool.pow_t, N_BINS * BLOCK, 0.0),
            harm_rows: refill(&mut pool.harm_rows, (BLOCK + 1) * ROW, 0.0),
        }
    }

    fn bytes(&self) -> usize {
        4 * [
            &self.ring_mag,
            &self.ring_perc,
            &self.mag_t,
            &self.perc_t,
            &self.harm_rows,
        ]
        .iter()
        .map(|v| v.capacity())
        .sum::<usize>()
            + 8 * (self.ring_spec.capacity() + self.pow_t.capacity())
    }
}

/// The large buffers of an analysis, kept per thread between signals.
#[derive(Default)]
struct Buffers {
    scratch: Scratch,
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
            &self.kept_tiles,
            &self.harmonic,
            &self.percussive,
            &self.mel,
        ];
        self.scratch.bytes() + 4 * f32s.iter().map(|v| v.capacity()).sum::<usize>()
    }

    /// Empties the pool when it has grown too large.
    fn trim(&mut self) {
        if self.bytes() > POOL_MAX_BYTES {
            *self = Buffers::default();
        }
    }

    /// Takes back the large outputs of an analysis that is no longer needed.
    fn recycle_analysis(&mut self, a: Analysis) {
        self.harmonic = a.harmonic;
        self.percussive = a.percussive;
        self.mel = a.mel_db;
        self.trim();
    }
}

/// The signal an engine reads: `len` samples, of which `data` holds those from `offset` on (the
/// whole signal, or the window around a part that a streamed analysis keeps).
#[derive(Clone, Copy)]
pub(super) struct Signal<'y> {
    pub(super) data: &'y [f32],
    pub(super) offset: usize,
    pub(super) len: usize,
}

impl<'y> Signal<'y> {
    fn whole(y: &'y [f32]) -> Self {
        Signal {
            data: y,
            offset: 0,
            len: y.len(),
        }
    }
}

/// Buffers and state of one analysis, or of one part of it.
pub(super) struct Engine<'y> {
    y: Signal<'y>,
    n_frames: usize,
    span: Span,
    isa: Isa,
    c: &'static Consts,
    // Forward STFT.
    frame: Vec<f32>,
    squares: Vec<f32>,
    fft_in: Vec<f64>,
    fft_out: Vec<Complex<f64>>,
    fft_scratch: Vec<Complex<f64>>,
    /// The ring of recent frames, the block's tiles and the filtered harmonic medians.
    s: Scratch,
    // Harmonic medians: one sorted window per lane group, the next frame to filter, the steps
    // of the current run.
    harm_windows: Vec<Window>,
    harm_next: usize,
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
    /// The samples `span.samples` of both signals.
    harmonic: &'y mut [f32],
    percussive: &'y mut [f32],
    // Frame-wise features.
    frame_scratch: spectral::FrameScratch,
    power_row: Vec<f32>,
    tracker: PitchTracker,
    pub(super) peaks: Vec<Peak>,
    rms: Vec<f32>,
    centroid: Vec<f64>,
    bandwidth: Vec<f64>,
    rolloff: Vec<f64>,
    /// The mel spectrogram of the frames `span.own`, frame-major.
    pub(super) mel: Vec<f32>,
    /// Magnitude tiles of every own block, kept for the chroma (short signals only).
    kept_tiles: Option<Vec<f32>>,
}

impl<'y> Engine<'y> {
    /// An engine for the frames of `span` of a signal of `n_frames` frames, writing into
    /// `harmonic` and `percussive` (the span's samples) and `mel` (its own frames, zeros); its
    /// scratch buffers come from this thread's pool.
    pub(super) fn new(
        y: Signal<'y>,
        n_frames: usize,
        span: Span,
        keep: bool,
        harmonic: &'y mut [f32],
        percussive: &'y mut [f32],
        mel: Vec<f32>,
    ) -> Self {
        let c = consts();
        let zero = Complex::new(0.0, 0.0);
        let own = span.own.len();
        POOL.with(|pool| {
            let b = &mut *pool.borrow_mut();
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
                s: Scratch::from_pool(&mut b.scratch),
                harm_windows: vec![Window::default(); GROUPS],
                harm_next: span.invert.start,
                harm_steps: Vec::with_capacity(BLOCK + HPSS_KERNEL),
                ispec_h: vec![zero; N_BINS],
                ispec_p: vec![zero; N_BINS],
                iframe: vec![0.0; N_FFT],
                iscratch: vec![zero; c.scratch_len],
                out_len: HOP_LENGTH * (n_frames - 1),
                out_done: span.samples.start,
                harmonic,
                percussive,
                frame_scratch: spectral::FrameScratch::default(),
                power_row: vec![0.0; N_BINS],
                tracker: c.tracker.clone(),
                peaks: Vec::new(),
                rms: Vec::with_capacity(own),
                centroid: Vec::with_capacity(own),
                bandwidth: Vec::with_capacity(own),
                rolloff: Vec::with_capacity(own),
                mel,
                // Filled block by block (every tile is written before it is read).
                kept_tiles: keep.then(|| {
                    let mut t = std::mem::take(&mut b.kept_tiles);
                    t.clear();
                    t.reserve(own.div_ceil(BLOCK) * N_BINS * BLOCK);
                    t
                }),
                span,
            }
        })
    }

    /// Returns the scratch buffers to this thread's pool.
    pub(super) fn give_back(self) {
        POOL.with(|pool| {
            let b = &mut *pool.borrow_mut();
            b.scratch = self.s;
            if let Some(t) = self.kept_tiles {
                b.kept_tiles = t;
            }
            b.trim();
        });
    }

    /// The pass over the blocks of `span.compute`: frame-wise features of the own frames, and
    /// the harmonic and percussive samples of the span.
    pub(super) fn pass(&mut self, laps: &mut Laps) {
        let mut b0 = self.span.compute.start;
        while b0 < self.span.compute.end {
            let b1 = (b0 + BLOCK).min(self.span.compute.end);
            self.block(b0, b1, laps);
            b0 = b1;
        }
        self.finish_hpss();
        laps.lap(|t| &mut t.hpss);
    }

    /// The chroma of the own frames with the tuning of the whole signal, and the frame-wise
    /// features; the scratch buffers go back to this thread's pool.
    pub(super) fn finish(mut self, tuning: f64) -> Part {
        let chroma = self.chroma(tuning);
        Part {
            chroma,
            ..self.finish_without_chroma()
        }
    }

    /// The frame-wise features (no chroma); the scratch buffers go back to this thread's pool.
    pub(super) fn finish_without_chroma(mut self) -> Part {
        let part = Part {
            rms: std::mem::take(&mut self.rms),
            centroid: std::mem::take(&mut self.centroid),
            bandwidth: std::mem::take(&mut self.bandwidth),
            rolloff: std::mem::take(&mut self.rolloff),
            chroma: Vec::new(),
        };
        self.give_back();
        part
    }

    /// STFT of frame `t` into ring slot `slot` (complex bins and magnitudes); returns the frame's
    /// RMS when `want_rms`.
    fn stft_frame(&mut self, t: usize, slot: usize, want_rms: bool) -> f32 {
        let y = self.y;
        let n = y.len;
        let start = (t * HOP_LENGTH) as isize - (N_FFT / 2) as isize;
        if start >= 0 && start as usize + N_FFT <= n {
            let a = start as usize - y.offset;
            self.frame.copy_from_slice(&y.data[a..a + N_FFT]);
        } else if n == 0 {
            self.frame.fill(0.0);
        } else {
            for (i, s) in self.frame.iter_mut().enumerate() {
                *s = y.data[stft::reflect_index(start + i as isize, n) - y.offset];
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
            .process(&mut self.fft_in, &mut self.fft_out, &mut self.fft_scratch);
        spectrum_and_magnitude(
            &self.fft_out,
            &mut self.s.ring_spec[slot * N_BINS..(slot + 1) * N_BINS],
            &mut self.s.ring_mag[slot * ROW..slot * ROW + N_BINS],
        );
        rms
    }

    /// Transposes the magnitudes of the block at ring slot `slot0` into `mag_t`.
    fn transpose_tile(&mut self, slot0: usize) {
        lanes::transpose(
            &self.s.ring_mag[slot0 * ROW..(slot0 + BLOCK) * ROW],
            ROW,
            BLOCK,
            ROW,
            &mut self.s.mag_t,
            BLOCK,
        );
    }

    /// Frames `b0..b1` (one block, `b0` a multiple of [`BLOCK`]). The frame-wise features of
    /// a block outside the own frames (a neighbour's, computed for the medians at a cut) are
    /// not recorded.
    fn block(&mut self, b0: usize, b1: usize, laps: &mut Laps) {
        let slot0 = b0 % RING;
        let len = b1 - b0;
        let own = self.span.own.contains(&b0);
        let mut rms = [0.0f32; BLOCK];
        for (f, r) in rms.iter_mut().enumerate().take(len) {
            *r = self.stft_frame(b0 + f, slot0 + f, own);
        }
        laps.lap(|t| &mut t.stft);
        if own {
            self.block_features(b0, len, &rms, laps);
        } else {
            self.transpose_tile(slot0);
            laps.lap(|t| &mut t.hpss);
        }
        self.percussive_block(b0, b1, laps);
    }

    /// The frame-wise features of an own block (its magnitudes in the ring, its RMS in `rms`),
    /// leaving its transposed tile in `mag_t`.
    fn block_features(&mut self, b0: usize, len: usize, rms: &[f32; BLOCK], laps: &mut Laps) {
        let slot0 = b0 % RING;
        self.rms.extend_from_slice(&rms[..len]);
        for f in 0..len {
            let row = &self.s.ring_mag[(slot0 + f) * ROW..(slot0 + f) * ROW + N_BINS];
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
            let row = &self.s.ring_mag[(slot0 + f) * ROW..(slot0 + f) * ROW + N_BINS];
            for (p, &m) in self.power_row.iter_mut().zip(row) {
                *p = m * m;
            }
            self.tracker.frame(&self.power_row, &mut self.peaks);
        }
        if let Some(kept) = self.kept_tiles.as_mut() {
            kept.extend_from_slice(&self.s.mag_t[..N_BINS * BLOCK]);
        }
        laps.lap(|t| &mut t.chroma);

        power_f64(&self.s.mag_t[..N_BINS * BLOCK], &mut self.s.pow_t);
        self.mel_block(b0 - self.span.own.start, len);
        laps.lap(|t| &mut t.mel);
    }

    /// The percussive medians of the block in `mag_t`, then the harmonic medians and inverse
    /// STFT of the frames whose neighbours are all in the ring.
    fn percussive_block(&mut self, b0: usize, b1: usize, laps: &mut Laps) {
        let slot0 = b0 % RING;
        // Percussive medians along frequency, sixteen frames per lane group.
        for g in 0..BLOCK / LANES {
            let mut w = Window::default();
            lanes::median_run(
                self.isa,
                &mut w,
                &self.s.mag_t,
                &mut self.s.perc_t,
                &self.c.perc_steps,
                g * LANES,
            );
        }
        lanes::transpose(
            &self.s.perc_t,
            BLOCK,
            ROW,
            BLOCK,
            &mut self.s.ring_perc[slot0 * ROW..(slot0 + BLOCK) * ROW],
            ROW,
        );
        let ready = if b1 == self.n_frames {
            self.n_frames
        } else {
            b1.saturating_sub(HALF)
        };
        self.harmonic_until(ready.min(self.span.invert.end));
        laps.lap(|t| &mut t.hpss);
    }

    /// Spectral rolloff of the block's frames from the magnitude tile.
    fn rolloff_block(&mut self, len: usize) {
        let mut found = [0u32; BLOCK];
        rolloff_tile(
            &self.s.mag_t[..N_BINS * BLOCK],
            ROLL_PERCENT as f32,
            &mut found,
        );
        for &k in &found[..len] {
            let k = if k == u32::MAX { 0 } else { k as usize };
            self.rolloff.push(self.c.freqs[k]);
        }
    }

    /// Mel spectrogram of the block's frames, the first at own frame `f0`.
    fn mel_block(&mut self, f0: usize, len: usize) {
        let mut rows = [[0.0f32; BLOCK]; N_MELS];
        filter_tile(
            &self.c.mel_bank,
            &self.c.mel_spans,
            &self.s.pow_t,
            &mut rows,
        );
        for f in 0..len {
            let frame = &mut self.mel[(f0 + f) * N_MELS..(f0 + f + 1) * N_MELS];
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
                if t == self.span.invert.start {
                    // Fill the empty windows with the 31 values around the first frame (of the
                    // line extended by reflection at its start).
                    for j in 0..HPSS_KERNEL {
                        self.harm_steps.push(Step {
                            old: inf,
                            new: slot(frame_at((t + j) as isize - HALF as isize)),
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
                    &self.s.ring_mag,
                    &mut self.s.harm_rows,
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
        let spec = &self.s.ring_spec[slot * N_BINS..(slot + 1) * N_BINS];
        let perc = &self.s.ring_perc[slot * ROW..slot * ROW + N_BINS];
        let harm = &self.s.harm_rows[row * ROW..row * ROW + N_BINS];
        masked_spectra(spec, harm, perc, &mut self.ispec_h, &mut self.ispec_p);
        let start = t * HOP_LENGTH;
        let trim = N_FFT / 2;
        // The frame's samples within this span's (padded coordinates, relative to the frame).
        let (s0, s1) = (
            self.span.samples.start,
            self.span.samples.end.min(self.out_len),
        );
        let lo = (s0 + trim).saturating_sub(start).min(N_FFT);
        let hi = (s1 + trim).saturating_sub(start).min(N_FFT);
        // numpy's irfft scales by 1/n (a power of two here, so exact).
        let scale = 1.0 / N_FFT as f64;
        for (spec, out) in [
            (&mut self.ispec_h, &mut self.harmonic),
            (&mut self.ispec_p, &mut self.percussive),
        ] {
            self.c
                .ifft
                .process(spec, &mut self.iframe, &mut self.iscratch);
            if lo < hi {
                overlap_add(
                    &mut out[start + lo - trim - s0..start + hi - trim - s0],
                    &self.iframe[lo..hi],
                    &self.c.window[lo..hi],
                    scale,
                );
            }
        }
        let complete = ((t + 1) * HOP_LENGTH).saturating_sub(trim).min(s1);
        self.normalize_until(complete);
    }

    /// Divides the samples up to `upto` by the window sum-square where it exceeds the smallest
    /// normal f32 (as `istft`).
    fn normalize_until(&mut self, upto: usize) {
        let trim = N_FFT / 2;
        let s0 = self.span.samples.start;
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
                    &mut self.harmonic[o - s0..end - s0],
                    &mut self.percussive[o - s0..end - s0],
                    &self.c.wss_interior[p..p + (end - o)],
                );
            } else {
                for i in o..end {
                    let d = self.wss(i + trim);
                    if d > f32::MIN_POSITIVE {
                        self.harmonic[i - s0] /= d;
                        self.percussive[i - s0] /= d;
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
        self.harmonic_until(self.span.invert.end);
        self.normalize_until(self.span.samples.end.min(self.out_len));
    }

    /// The chromagram of the own frames with `tuning` (from the peaks of all frames), block by
    /// block from the kept tiles (or a second STFT pass): `(N_CHROMA, own frames)` row-major.
    fn chroma(&mut self, tuning: f64) -> Vec<f32> {
        let sr = f64::from(SAMPLE_RATE);
        let fb = chroma::chroma_filters(sr, N_FFT, N_CHROMA, tuning);
        let spans = mel::filter_spans(fb.view());
        let bank: Vec<f64> = fb.iter().map(|&w| f64::from(w)).collect();
        let (first, end) = (self.span.own.start, self.span.own.end);
        let n = end - first;
        let mut out = vec![0.0f32; N_CHROMA * n];
        let kept = self.kept_tiles.take();
        let mut b0 = first;
        while b0 < end {
            let b1 = (b0 + BLOCK).min(end);
            let len = b1 - b0;
            match &kept {
                Some(tiles) => {
                    let b = (b0 - first) / BLOCK;
                    let tile = &tiles[b * N_BINS * BLOCK..(b + 1) * N_BINS * BLOCK];
                    power_f64(tile, &mut self.s.pow_t);
                }
                None => {
                    // The ring is free after the pass: recompute the block's magnitudes.
                    for f in 0..len {
                        self.stft_frame(b0 + f, f, false);
                    }
                    self.transpose_tile(0);
                    power_f64(&self.s.mag_t[..N_BINS * BLOCK], &mut self.s.pow_t);
                }
            }
            let mut raw = [[0.0f32; BLOCK]; N_CHROMA];
            filter_tile(&bank, &spans, &self.s.pow_t, &mut raw);
            // util.normalize(norm=inf) of each frame.
            for f in 0..len {
                let length = raw.iter().fold(0.0f32, |m, r| m.max(r[f].abs()));
                for (c, r) in raw.iter().enumerate() {
                    out[c * n + b0 - first + f] = if length < f32::MIN_POSITIVE {
                        r[f]
                    } else {
                        r[f] / length
                    };
                }
            }
            b0 = b1;
        }
        self.kept_tiles = kept;
        out
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
    let mut max = f32::NEG_INFINITY;
    for x in s.iter_mut() {
        *x = power_db(*x);
        max = max.max(*x);
    }
    if let Some(floor) = db_floor(max) {
        for x in s.iter_mut() {
            *x = x.max(floor);
        }
    }
}

/// `10·log10(max(x, amin))` of one power value, as `power_to_db` (amin 1e-10, ref 1).
#[inline]
pub(super) fn power_db(x: f32) -> f32 {
    10.0 * x.max(1e-10f32).log10()
}

/// The floor `power_to_db` clips to (top_db 80) given the largest dB value, if finite.
pub(super) fn db_floor(max: f32) -> Option<f32> {
    max.is_finite().then(|| (f64::from(max) - 80.0) as f32)
}

/// [`mfcc::mfcc`] of a frame-major dB mel spectrogram: `(N_MFCC, n_frames)` row-major. The
/// coefficients of a frame are accumulated side by side, each in the order of `mfcc`'s sum.
fn mfcc_frames(mel_db: &[f32], n_frames: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; N_MFCC * n_frames];
    mfcc_into(mel_db, n_frames, &mut out);
    out
}

/// [`mfcc_frames`] of the frames of `mel_db` into `out`, whose element `k·n_frames + t` is
/// coefficient `k` of the chunk's frame `t` (a slice of the whole `(N_MFCC, n_frames)` array
/// starting at the chunk's first frame).
pub(super) fn mfcc_into(mel_db: &[f32], n_frames: usize, out: &mut [f32]) {
    mfcc_kernel(mel_db, &consts().mfcc_basis_t, n_frames, out);
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

/// Errors of the feature layer.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// The signal has no samples at all.
    #[error("signal is empty (0 samples)")]
    Empty,
    /// The signal holds NaN or infinite samples.
    #[error("signal holds non-finite samples")]
    NonFinite,
    /// The storage of a streamed analysis failed (see [`super::stream::Tape`]).
    #[error("scratch storage: {0}")]
    Tape(String),
}

/// Computes the 57 features of a mono signal at [`crate::config::SAMPLE_RATE`], as the reference
/// recipe (`librosa_features.py`) does with librosa 0.8.1.
///
/// The STFT is computed once, streamed block by block through every stage by
/// [`analyse`] (results identical to the stage functions of the sibling modules):
/// its magnitude feeds the centroid, bandwidth and rolloff, its power the chroma (with its own
/// tuning estimate) and the mel spectrogram in dB, which is shared by the MFCCs and the onset
/// envelope behind the tempo; the complex STFT feeds the harmonic/percussive separation. RMS and
/// zero-crossing rate frame the signal themselves. Means and variances are numpy's: float32
/// arrays (chroma over all bins and frames, RMS, harmonic, percussive, each MFCC over its frames)
/// in f32 via [`mean_var_f32`], float64 ones (centroid, bandwidth, rolloff, ZCR) via
/// [`mean_var`].
///
/// Short signals (even one sample) work as in librosa: a single frame or more, from the
/// reflect-padded signal. Silence gives zeros everywhere except the MFCCs of the -100 dB floor
/// (`mfcc1_mean` = -100·√128), as librosa. Errors: an empty signal, or one with NaN/∞ samples.
pub fn compute(y: &[f32]) -> Result<FeatureVector, FeatureError> {
    check_signal(y)?;
    Ok(analyse_then(y, None, summarise))
}

/// [`compute`], also returning the time spent in each stage (the summary statistics counted in
/// [`StageTimes::summary`]).
pub fn compute_timed(y: &[f32]) -> Result<(FeatureVector, StageTimes), FeatureError> {
    check_signal(y)?;
    let mut times = StageTimes::default();
    let f = analyse_then(y, Some(&mut times), |a| {
        let start = std::time::Instant::now();
        let f = summarise(a);
        (f, start.elapsed())
    });
    times.summary = f.1;
    Ok((f.0, times))
}

fn check_signal(y: &[f32]) -> Result<(), FeatureError> {
    if y.is_empty() {
        return Err(FeatureError::Empty);
    }
    if y.iter().any(|x| !x.is_finite()) {
        return Err(FeatureError::NonFinite);
    }
    Ok(())
}

/// The 57 means, variances and the tempo of an analysis.
pub fn summarise(a: &Analysis) -> FeatureVector {
    summarise_with(a, mean_var_f32(&a.harmonic), mean_var_f32(&a.percussive))
}

/// [`summarise`] with the mean and variance of the harmonic and percussive signals given (a
/// streamed analysis keeps those signals outside `a`).
pub(super) fn summarise_with(
    a: &Analysis,
    harmony: (f64, f64),
    perceptr: (f64, f64),
) -> FeatureVector {
    let mut out = [0.0f64; N_FEATURES];
    let mut put = |name: &str, (mean, var): (f64, f64)| {
        let i = FEATURE_COLUMNS
            .iter()
            .position(|c| *c == format!("{name}_mean"))
            .expect("known column");
        out[i] = mean;
        out[i + 1] = var;
    };
    put("chroma_stft", mean_var_f32(&a.chroma));
    put("rms", mean_var_f32(&a.rms));
    put("spectral_centroid", mean_var(a.centroid.iter().copied()));
    put("spectral_bandwidth", mean_var(a.bandwidth.iter().copied()));
    put("rolloff", mean_var(a.rolloff.iter().copied()));
    put("zero_crossing_rate", mean_var(a.zcr.iter().copied()));
    put("harmony", harmony);
    put("perceptr", perceptr);
    for (k, row) in a.mfcc.chunks_exact(a.n_frames).enumerate() {
        put(&format!("mfcc{}", k + 1), mean_var_f32(row));
    }
    let tempo_idx = FEATURE_COLUMNS
        .iter()
        .position(|c| *c == "tempo")
        .expect("known column");
    out[tempo_idx] = a.tempo;
    out
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
    fn parts_give_the_same_bits_as_one_pass() {
        let blues = wav(&Path::new(env!("CARGO_MANIFEST_DIR")).join("audio/blues.00000.wav"));
        let whole = analyse_in_parts(&blues, None, KEEP_TILES_MAX_FRAMES, 1);
        for parts in [2, 3, 7] {
            let a = analyse_in_parts(&blues, None, KEEP_TILES_MAX_FRAMES, parts);
            assert_same(&format!("blues in {parts} parts"), &a, &whole);
        }
        // Cuts next to the ends and the second STFT pass, on a signal whose last block is
        // partial.
        let y: Vec<f32> = (0..230 * HOP_LENGTH + 300)
            .map(|i| (i as f32 * 0.013).sin() * (1.0 + (i as f32 * 0.0007).cos()) * 0.4)
            .collect();
        let want = reference(&y);
        for parts in [2, 4, 6] {
            for keep in [KEEP_TILES_MAX_FRAMES, 100] {
                let a = analyse_in_parts(&y, None, keep, parts);
                assert_same(&format!("{parts} parts, keep {keep}"), &a, &want);
            }
        }
    }

    #[test]
    fn spans_cover_every_frame_and_sample_once() {
        for (n_frames, len, parts, cuts) in [
            (1293, 661_794, 2, 2),
            (1293, 661_794, 3, 3),
            (231, 230 * HOP_LENGTH + 300, 6, 4),
            (100, 99 * HOP_LENGTH, 4, 2),
            (64, 63 * HOP_LENGTH, 2, 1),
            (1, 100, 2, 1),
        ] {
            let spans = Span::split(n_frames, len, parts);
            assert_eq!(spans.len(), cuts, "{n_frames} frames in {parts}");
            assert_eq!(spans[0].own.start, 0);
            assert_eq!(spans[0].samples.start, 0);
            assert_eq!(spans[cuts - 1].own.end, n_frames);
            assert_eq!(spans[cuts - 1].samples.end, len);
            for w in spans.windows(2) {
                let (a, b) = (&w[0], &w[1]);
                assert_eq!(a.own.end, b.own.start);
                assert_eq!(a.samples.end, b.samples.start);
                assert_eq!(b.own.start % BLOCK, 0);
                // Each side computes the block across the cut, the right one inverts the frames
                // that reach its first sample.
                assert_eq!(a.compute.end, b.own.start + BLOCK);
                assert_eq!(b.compute.start, b.own.start - BLOCK);
                assert_eq!(b.invert.start, b.own.start - 3);
                assert_eq!(b.samples.start, b.own.start * HOP_LENGTH - N_FFT / 2);
            }
        }
        assert_eq!(parts_for(1293, 2), 1);
        assert_eq!(parts_for(10_336, 1), 1);
        assert_eq!(parts_for(10_336, 2), 2);
        assert_eq!(parts_for(10_336, 16), 5);
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let y = wav(&fixtures().join("synthetic/chord.wav"));
        let portable = lanes::with_isa(Isa::Portable, || {
            assert_eq!(lanes::active_isa(), Isa::Portable);
            analyse(&y)
        });
        let mut ran = vec![];
        for isa in lanes::available_isas() {
            let a = lanes::with_isa(isa, || {
                assert_eq!(lanes::active_isa(), isa);
                analyse(&y)
            });
            assert_same(&format!("chord, {} kernels", isa.name()), &a, &portable);
            ran.push(isa.name());
        }
        eprintln!("instruction sets compared: {}", ran.join(", "));
        assert_eq!(analyse(&y), portable);
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

    #[test]
    fn compute_rejects_bad_input() {
        assert!(matches!(compute(&[]), Err(FeatureError::Empty)));
        assert!(matches!(
            compute(&[0.0, f32::NAN]),
            Err(FeatureError::NonFinite)
        ));
        assert!(matches!(
            compute(&[f32::INFINITY]),
            Err(FeatureError::NonFinite)
        ));
    }
}
