//! [`compute`](super::compute) of a signal of any length in bounded memory: the signal and the
//! arrays as long as it (the harmonic and percussive signals, the mel spectrogram) live on
//! [`Tape`]s that the caller provides (in memory, or in scratch files), and only per-frame
//! values and a window of a few parts are held at once. The same bits as `compute` of the whole
//! signal: the parts are the engine's own parts (cut at block boundaries, each with its own
//! engine), analysed a few at a time in order instead of all at once, and every reduction runs
//! in numpy's order over the tapes.

use rayon::prelude::*;

use super::chroma;
use super::engine::{
    db_floor, mfcc_into, power_db, summarise_with, Analysis, Engine, FeatureError, Laps, Signal,
    Span,
};
use super::numpy::{mean_var_f32_blocks, BLOCK_ELEMENTS};
use super::spectral::zero_crossing_rate_frames;
use super::summary::FeatureVector;
use super::tempo;
use crate::config::{HOP_LENGTH, N_CHROMA, N_FFT, N_MELS, N_MFCC};

/// Frames per part of a streamed analysis (about 95 s of signal; a part and its window of
/// signal, harmonic and percussive samples take about 25 MB).
pub const STREAM_PART_FRAMES: usize = 4096;
/// Frames of the mel spectrogram read back at a time.
const MEL_CHUNK_FRAMES: usize = 4096;

/// An array of `f32` written once, in order, and read back: where a streamed analysis keeps what
/// is as long as the signal. Errors are one line, for [`FeatureError::Tape`].
pub trait Tape: Send {
    /// Appends `x`.
    fn push(&mut self, x: &[f32]) -> Result<(), String>;
    /// Fills `out` with the elements from `start` on.
    fn read(&mut self, start: usize, out: &mut [f32]) -> Result<(), String>;
    /// Elements written so far.
    fn len(&self) -> usize;
    /// Whether nothing was written.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Tape for Vec<f32> {
    fn push(&mut self, x: &[f32]) -> Result<(), String> {
        self.extend_from_slice(x);
        Ok(())
    }
    fn read(&mut self, start: usize, out: &mut [f32]) -> Result<(), String> {
        let src = self
            .get(start..start + out.len())
            .ok_or_else(|| format!("read past the end ({} elements)", Vec::len(self)))?;
        out.copy_from_slice(src);
        Ok(())
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

/// Makes the empty tapes an analysis writes.
pub type NewTape<'a> = &'a (dyn Fn() -> Result<Box<dyn Tape>, String> + Sync);

/// [`compute`](super::compute) of the signal on `y`, in parts of `part_frames` frames (a
/// few at a time, one per thread), keeping the harmonic and percussive signals and the mel
/// spectrogram on tapes from `new_tape`.
pub fn compute_stream(
    y: &mut dyn Tape,
    new_tape: NewTape,
    part_frames: usize,
) -> Result<FeatureVector, FeatureError> {
    let n = y.len();
    if n == 0 {
        return Err(FeatureError::Empty);
    }
    let n_frames = 1 + n / HOP_LENGTH;
    let spans = Span::split(n_frames, n, (n_frames / part_frames.max(1)).max(1));
    let threads = rayon::current_num_threads().max(1);
    let tape = |r: Result<(), String>| r.map_err(FeatureError::Tape);
    let mut harmonic = new_tape().map_err(FeatureError::Tape)?;
    let mut percussive = new_tape().map_err(FeatureError::Tape)?;
    let mut mel = new_tape().map_err(FeatureError::Tape)?;
    let mut a = Analysis {
        n_frames,
        tuning: 0.0,
        chroma: vec![0.0; N_CHROMA * n_frames],
        rms: Vec::with_capacity(n_frames),
        centroid: Vec::with_capacity(n_frames),
        bandwidth: Vec::with_capacity(n_frames),
        rolloff: Vec::with_capacity(n_frames),
        zcr: Vec::with_capacity(n_frames),
        harmonic: Vec::new(),
        percussive: Vec::new(),
        mel_db: Vec::new(),
        mfcc: Vec::new(),
        onset_env: Vec::new(),
        tempo: 0.0,
    };
    let mut peaks = Vec::new();
    // First pass: everything but the chroma, whose filters need the tuning of all frames.
    for group in spans.chunks(threads) {
        let windows = windows_of(y, group, n)?;
        let outs: Vec<PassOut> = group
            .par_iter()
            .zip(&windows)
            .map(|(span, w)| first_pass(span, w, n, n_frames))
            .collect();
        for o in outs {
            tape(harmonic.push(&o.harmonic))?;
            tape(percussive.push(&o.percussive))?;
            tape(mel.push(&o.mel))?;
            a.rms.extend_from_slice(&o.rms);
            a.centroid.extend_from_slice(&o.centroid);
            a.bandwidth.extend_from_slice(&o.bandwidth);
            a.rolloff.extend_from_slice(&o.rolloff);
            a.zcr.extend_from_slice(&o.zcr);
            peaks.extend(o.peaks);
        }
    }
    a.tuning = chroma::tuning_from_peaks(&peaks, N_CHROMA);
    drop(peaks);
    // Second pass: the chroma, part by part (a second STFT, as for any long signal).
    for group in spans.chunks(threads) {
        let windows = windows_of(y, group, n)?;
        let parts: Vec<(usize, Vec<f32>)> = group
            .par_iter()
            .zip(&windows)
            .map(|(span, w)| {
                let sig = signal(w, n);
                let e = Engine::new(
                    sig,
                    n_frames,
                    span.clone(),
                    false,
                    &mut [],
                    &mut [],
                    Vec::new(),
                );
                (span.own.start, e.finish(a.tuning).chroma)
            })
            .collect();
        for (t0, rows) in parts {
            let len = rows.len() / N_CHROMA;
            for c in 0..N_CHROMA {
                a.chroma[c * n_frames + t0..c * n_frames + t0 + len]
                    .copy_from_slice(&rows[c * len..(c + 1) * len]);
            }
        }
    }
    mel_stages(mel.as_mut(), &mut a)?;
    let harmony = tape_mean_var(harmonic.as_mut())?;
    let perceptr = tape_mean_var(percussive.as_mut())?;
    Ok(summarise_with(&a, harmony, perceptr))
}

/// The samples each span of `group` reads, with the index of the first: every frame's window
/// from its first computed frame to its last (the whole signal when it is that short).
fn windows_of(
    y: &mut dyn Tape,
    group: &[Span],
    n: usize,
) -> Result<Vec<(usize, Vec<f32>)>, FeatureError> {
    group
        .iter()
        .map(|span| {
            let half = N_FFT / 2;
            let a = (span.compute.start * HOP_LENGTH).saturating_sub(half);
            let b = (span.compute.end * HOP_LENGTH + half).min(n);
            let mut w = vec![0.0f32; b - a];
            y.read(a, &mut w).map_err(FeatureError::Tape)?;
            if w.iter().any(|x| !x.is_finite()) {
                return Err(FeatureError::NonFinite);
            }
            Ok((a, w))
        })
        .collect()
}

/// The signal of `n` samples as an engine reads it through the window `w` of [`windows_of`].
fn signal(w: &(usize, Vec<f32>), n: usize) -> Signal<'_> {
    Signal {
        data: &w.1,
        offset: w.0,
        len: n,
    }
}

/// What the first pass over one part gives.
struct PassOut {
    harmonic: Vec<f32>,
    percussive: Vec<f32>,
    mel: Vec<f32>,
    rms: Vec<f32>,
    centroid: Vec<f64>,
    bandwidth: Vec<f64>,
    rolloff: Vec<f64>,
    zcr: Vec<f64>,
    peaks: Vec<chroma::Peak>,
}

/// The engine's pass over one part (its window `w` of a signal of `n` samples).
fn first_pass(span: &Span, w: &(usize, Vec<f32>), n: usize, n_frames: usize) -> PassOut {
    let sig = signal(w, n);
    let mut harmonic = vec![0.0f32; span.samples.len()];
    let mut percussive = vec![0.0f32; span.samples.len()];
    let mel = vec![0.0f32; span.own.len() * N_MELS];
    let mut e = Engine::new(
        sig,
        n_frames,
        span.clone(),
        false,
        &mut harmonic,
        &mut percussive,
        mel,
    );
    e.pass(&mut Laps::off());
    let mel = std::mem::take(&mut e.mel);
    let peaks = std::mem::take(&mut e.peaks);
    let part = e.finish_without_chroma();
    let zcr = zero_crossing_rate_frames(&w.1, w.0, n, N_FFT, HOP_LENGTH, span.own.clone());
    PassOut {
        harmonic,
        percussive,
        mel,
        rms: part.rms,
        centroid: part.centroid,
        bandwidth: part.bandwidth,
        rolloff: part.rolloff,
        zcr,
        peaks,
    }
}

/// The mel spectrogram in dB (its floor from the largest value of all frames), then the MFCCs
/// and the onset envelope frame chunk by frame chunk, and the tempo.
fn mel_stages(mel: &mut dyn Tape, a: &mut Analysis) -> Result<(), FeatureError> {
    let n_frames = a.n_frames;
    let mut chunk = vec![0.0f32; MEL_CHUNK_FRAMES * N_MELS];
    let mut max = f32::NEG_INFINITY;
    for t0 in (0..n_frames).step_by(MEL_CHUNK_FRAMES) {
        let len = MEL_CHUNK_FRAMES.min(n_frames - t0);
        let c = &mut chunk[..len * N_MELS];
        mel.read(t0 * N_MELS, c).map_err(FeatureError::Tape)?;
        max = c.iter().fold(max, |m, &x| m.max(power_db(x)));
    }
    let floor = db_floor(max);
    a.mfcc = vec![0.0f32; N_MFCC * n_frames];
    a.onset_env = vec![0.0f32; n_frames];
    let mut prev = vec![0.0f32; N_MELS];
    for t0 in (0..n_frames).step_by(MEL_CHUNK_FRAMES) {
        let len = MEL_CHUNK_FRAMES.min(n_frames - t0);
        let c = &mut chunk[..len * N_MELS];
        mel.read(t0 * N_MELS, c).map_err(FeatureError::Tape)?;
        for x in c.iter_mut() {
            let db = power_db(*x);
            *x = floor.map_or(db, |f| db.max(f));
        }
        mfcc_into(c, n_frames, &mut a.mfcc[t0..]);
        let before = (t0 > 0).then_some(&prev[..]);
        tempo::onset_strength_into(c, before, t0, N_MELS, &mut a.onset_env);
        prev.copy_from_slice(&c[(len - 1) * N_MELS..]);
    }
    a.tempo = tempo::tempo(&a.onset_env);
    Ok(())
}

/// numpy's float32 mean and variance of the array on `t`.
fn tape_mean_var(t: &mut dyn Tape) -> Result<(f64, f64), FeatureError> {
    let mut buf = vec![0.0f32; BLOCK_ELEMENTS.min(t.len())];
    let n = t.len();
    mean_var_f32_blocks(n, &mut |start, len, f| {
        let b = &mut buf[..len];
        t.read(start, b)?;
        f(b);
        Ok(())
    })
    .map_err(FeatureError::Tape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Committed clips back to back: `seconds` of real music at 22 050 Hz.
    fn music(seconds: usize) -> Vec<f32> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio");
        let mut y = Vec::new();
        for name in ["blues", "classical", "metal", "pop", "jazz", "rock"]
            .iter()
            .cycle()
        {
            if y.len() >= seconds * 22_050 {
                break;
            }
            let mut r = hound::WavReader::open(dir.join(format!("{name}.00000.wav"))).unwrap();
            y.extend(r.samples::<i16>().map(|s| f32::from(s.unwrap()) / 32768.0));
        }
        y.truncate(seconds * 22_050 + 123);
        y
    }

    fn vec_tape() -> Result<Box<dyn Tape>, String> {
        Ok(Box::new(Vec::<f32>::new()))
    }

    fn bits(f: &FeatureVector) -> Vec<u64> {
        f.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn streamed_parts_give_the_bits_of_compute() {
        // 130 s: 5 600 frames (more than a chunk of the mel stages), 2.9 M harmonic samples (six
        // blocks of the mean and variance); parts of 300 frames (19 parts, cut where the engine
        // cuts, several groups) and of 1 frame (cuts as close as the engine allows).
        let y = music(130);
        let whole = bits(&super::super::compute(&y).unwrap());
        for part_frames in [300, 1, 100_000] {
            let mut tape = y.clone();
            let got = compute_stream(&mut tape, &vec_tape, part_frames).unwrap();
            assert_eq!(bits(&got), whole, "parts of {part_frames} frames");
        }
    }

    #[test]
    fn short_signals_stream_as_they_compute() {
        for n in [1, 511, 2048, 5000, 70_000] {
            let y: Vec<f32> = (0..n)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
                .collect();
            let whole = bits(&super::super::compute(&y).unwrap());
            let mut tape = y.clone();
            let got = compute_stream(&mut tape, &vec_tape, 16).unwrap();
            assert_eq!(bits(&got), whole, "{n} samples");
        }
    }

    #[test]
    fn streamed_errors() {
        let mut empty: Vec<f32> = Vec::new();
        assert!(matches!(
            compute_stream(&mut empty, &vec_tape, 300),
            Err(FeatureError::Empty)
        ));
        let mut y = music(20);
        y[300_000] = f32::NAN;
        assert!(matches!(
            compute_stream(&mut y, &vec_tape, 100),
            Err(FeatureError::NonFinite)
        ));
        let broken = || -> Result<Box<dyn Tape>, String> { Err("no room".into()) };
        let mut y = music(5);
        let e = compute_stream(&mut y, &broken, 100).unwrap_err();
        assert_eq!(e.to_string(), "scratch storage: no room");
    }
}
