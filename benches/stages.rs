//! Per-stage timings of feature extraction on one 30 s clip (`audio/blues.00000.wav`), and the
//! plain FFT-bound estimates each stage is compared with.
//!
//! Run with `cargo bench --bench stages` (or `scripts/bench.sh --criterion`); everything runs on
//! one thread, as `tuneprint extract --jobs 1` does per file.
//!
//! * group `stage`: `decode` times `audio::load` (and reading the samples with `hound`, the
//!   floor of any WAV decoder); every other entry is the time one stage takes *inside*
//!   `features::compute` (the stages are fused block by block, so each is measured by the
//!   extractor's own stage clock, `engine::compute_timed`, summed over its blocks); `compute`
//!   is the whole call.
//! * group `bound`: the bare kernels a stage cannot avoid: the real FFTs of its frames (planned
//!   once, no framing or conversion), plain f64 multiply-adds for the filter banks and the DCT,
//!   one pass over the magnitudes for the spectral statistics, and the 16-lane median kernel
//!   alone (the plain kernels compiled for AVX2 where the CPU has it, like the extractor).
//! * group `scaling`: `compute` on 30 s, 5 min and 20 min signals (the committed clips
//!   concatenated).
//!
//! Before the groups, a heap report (a counting global allocator): the peak heap of one
//! `compute` call beyond its input, for each length, and of a batch on two threads.

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, SamplingMode};
use realfft::RealFftPlanner;
use rustfft::num_complex::Complex;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tuneprint::config::{HOP_LENGTH, N_CHROMA, N_FFT, N_MELS, N_MFCC};
use tuneprint::features::engine::StageTimes;
use tuneprint::features::lanes::{self, Step, Window, LANES};
use tuneprint::features::{engine, stft, tempo};

const CLIP: &str = "audio/blues.00000.wav";

/// The system allocator, counting live and peak heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak heap bytes allocated by `f` beyond what was live before it.
fn peak_heap<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed) - before)
}

/// The committed clips (16-bit WAV) concatenated and cut to `seconds`.
fn long_signal(seconds: usize) -> Vec<f32> {
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("audio"))
            .expect("audio/")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "wav"))
            .collect();
    paths.sort();
    let need = seconds * tuneprint::config::SAMPLE_RATE as usize;
    let mut y = Vec::with_capacity(need);
    for p in paths.iter().cycle() {
        if y.len() >= need {
            break;
        }
        let mut r = hound::WavReader::open(p).expect("committed clip");
        y.extend(
            r.samples::<i16>()
                .map(|s| f32::from(s.expect("PCM")) / 32768.0),
        );
    }
    y.truncate(need);
    y
}

/// Prints the heap report: one compute() per length, then 64 clips on two threads.
fn heap_report() {
    let mb = |b: usize| b as f64 / (1 << 20) as f64;
    println!("heap beyond the input signal (counting allocator), peak over one compute():");
    for (name, secs) in [("30 s", 30), ("5 min", 300), ("20 min", 1200)] {
        let y = long_signal(secs);
        let input = mb(y.len() * 4);
        // A fresh thread: no buffers pooled from earlier calls.
        let peak = std::thread::scope(|s| {
            s.spawn(|| peak_heap(|| tuneprint::features::compute(&y).expect("features")).1)
                .join()
                .expect("thread")
        });
        println!("  {name:>6}: {:8.1} MB (input {input:.1} MB)", mb(peak));
    }
    let y = read_clip();
    for clips in [16usize, 64] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("two threads");
        let (_, peak) = peak_heap(|| {
            pool.install(|| {
                use rayon::prelude::*;
                (0..clips)
                    .into_par_iter()
                    .map(|_| tuneprint::features::compute(&y).expect("features")[0])
                    .sum::<f64>()
            })
        });
        println!("  {clips} clips of 30 s on 2 threads: {:8.1} MB", mb(peak));
    }
}

fn clip_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(CLIP)
}

/// The clip as librosa.load gives it (16-bit PCM / 32768), read with `hound`.
fn read_clip() -> Vec<f32> {
    let mut reader = hound::WavReader::open(clip_path()).expect("committed clip");
    reader
        .samples::<i16>()
        .map(|s| f32::from(s.expect("valid PCM")) / 32768.0)
        .collect()
}

/// Reads one stage's time.
type StageField = fn(&StageTimes) -> Duration;

/// Stage entries: name and the field of [`StageTimes`] they report.
const STAGES: [(&str, StageField); 8] = [
    ("stft (+ rms)", |t| t.stft),
    ("spectral stats (centroid, bandwidth, rolloff, zcr)", |t| {
        t.spectral
    }),
    ("chroma (with tuning)", |t| t.chroma),
    ("mel + dB", |t| t.mel),
    ("hpss", |t| t.hpss),
    ("mfcc", |t| t.mfcc),
    ("onset + tempo", |t| t.onset_tempo),
    ("mean/var summary", |t| t.summary),
];

fn stages(c: &mut Criterion) {
    let y = read_clip();
    let mut g = c.benchmark_group("stage");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("decode (hound, i16 WAV)", |b| b.iter(read_clip));
    let path = clip_path();
    match tuneprint::audio::load(&path) {
        Ok(d) if d.samples == y => {
            g.bench_function("decode (audio::load)", |b| {
                b.iter(|| tuneprint::audio::load(black_box(&path)).expect("decodes"))
            });
        }
        Ok(_) => eprintln!("stages: audio::load decodes {CLIP} differently from hound; not timed"),
        Err(e) => eprintln!("stages: audio::load cannot decode {CLIP} yet ({e}); not timed"),
    }
    // Each stage is timed by the extractor's own clock inside full compute() calls; criterion
    // gets the stage's share of each call.
    for (name, field) in STAGES {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (_, t) = engine::compute_timed(black_box(&y)).expect("features");
                    total += field(&t);
                }
                total
            })
        });
    }
    g.bench_function("compute (all 57)", |b| {
        b.iter(|| tuneprint::features::compute(black_box(&y)).expect("features"))
    });
    g.finish();
    bounds(c, &y);
    scaling(c);
}

/// `compute` on signals of 30 s, 5 min and 20 min.
fn scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("scaling");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (name, secs) in [("30 s", 30), ("5 min", 300), ("20 min", 1200)] {
        let y = long_signal(secs);
        g.bench_function(BenchmarkId::new("compute", name), |b| {
            b.iter(|| tuneprint::features::compute(black_box(&y)).expect("features"))
        });
    }
    g.finish();
}

/// `n` f64 multiply-adds (products of two arrays, eight independent sums): the arithmetic of a
/// dense filter bank or DCT of that size, at full SIMD speed.
fn macs(a: &[f64], b: &[f64], n: usize) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { macs_avx2(a, b, n) };
    }
    macs_impl(a, b, n)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn macs_avx2(a: &[f64], b: &[f64], n: usize) -> f64 {
    macs_impl(a, b, n)
}

#[inline(always)]
fn macs_impl(a: &[f64], b: &[f64], n: usize) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut done = 0;
    while done < n {
        let m = (n - done).min(a.len());
        for (ca, cb) in a[..m].chunks_exact(8).zip(b[..m].chunks_exact(8)) {
            for ((s, &x), &y) in acc.iter_mut().zip(ca).zip(cb) {
                *s += x * y;
            }
        }
        done += m;
    }
    acc.iter().sum()
}

/// Per frame of `mag`: each bin divided by a norm in f64, then the frequency-weighted and the
/// squared-frequency-weighted sums (four partial sums each): the arithmetic of the centroid and
/// bandwidth without their exact summation order.
fn one_pass(mag: &[f32], freqs: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { one_pass_avx2(mag, freqs) };
    }
    one_pass_impl(mag, freqs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn one_pass_avx2(mag: &[f32], freqs: &[f64]) -> f64 {
    one_pass_impl(mag, freqs)
}

#[inline(always)]
fn one_pass_impl(mag: &[f32], freqs: &[f64]) -> f64 {
    let mut out = 0.0;
    for (t, col) in mag.chunks_exact(freqs.len()).enumerate() {
        let norm = 1.0 + t as f64;
        let (mut s, mut fs) = ([0.0f64; 4], [0.0f64; 4]);
        for (c, f) in col.chunks_exact(4).zip(freqs.chunks_exact(4)) {
            for (((s, fs), &c), &f) in s.iter_mut().zip(fs.iter_mut()).zip(c).zip(f) {
                let x = f64::from(c) / norm;
                *s += x * f;
                *fs += x * (f * f);
            }
        }
        out += fs.iter().sum::<f64>() / s.iter().sum::<f64>();
    }
    out
}

/// Per frame, the bins where an f32 running sum is below a threshold (eight frames side by side,
/// as the rolloff searches its running sums).
fn running_sums(mag: &[f32], n_bins: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { running_sums_avx2(mag, n_bins) };
    }
    running_sums_impl(mag, n_bins)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn running_sums_avx2(mag: &[f32], n_bins: usize) -> usize {
    running_sums_impl(mag, n_bins)
}

#[inline(always)]
fn running_sums_impl(mag: &[f32], n_bins: usize) -> usize {
    // `mag` read as bin-major tiles of eight frames (row k: bin k of the eight frames).
    let mut out = 0;
    for tile in mag.chunks_exact(8 * n_bins) {
        let mut acc = [0.0f32; 8];
        let mut hit = [0u32; 8];
        for row in tile.chunks_exact(8) {
            for ((a, h), &x) in acc.iter_mut().zip(hit.iter_mut()).zip(row) {
                *a += x;
                *h += u32::from(*a < 100.0);
            }
        }
        out += hit.iter().sum::<u32>() as usize;
    }
    out
}

/// Sign changes between neighbouring samples (values below -1e-10 count as negative).
fn sign_pass(y: &[f32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { sign_pass_avx2(y) };
    }
    sign_pass_impl(y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sign_pass_avx2(y: &[f32]) -> usize {
    sign_pass_impl(y)
}

#[inline(always)]
fn sign_pass_impl(y: &[f32]) -> usize {
    let mut c = 0u32;
    for (&a, &b) in y.iter().zip(&y[1..]) {
        c += u32::from((a < -1e-10) != (b < -1e-10));
    }
    c as usize
}

/// The plain kernels behind each stage.
fn bounds(c: &mut Criterion, y: &[f32]) {
    let frames = 1 + y.len() / HOP_LENGTH;
    let n_bins = N_FFT / 2 + 1;
    let mut g = c.benchmark_group("bound");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(N_FFT);
    let inv = planner.plan_fft_inverse(N_FFT);
    let mut input = fwd.make_input_vec();
    let mut out = fwd.make_output_vec();
    let mut scratch =
        vec![Complex::new(0.0f64, 0.0); fwd.get_scratch_len().max(inv.get_scratch_len())];
    for (x, &s) in input.iter_mut().zip(&y[100_000..]) {
        *x = f64::from(s);
    }
    g.bench_function(BenchmarkId::new("rfft f64 2048", frames), |b| {
        b.iter(|| {
            for _ in 0..frames {
                fwd.process_with_scratch(&mut input, &mut out, &mut scratch)
                    .expect("plan lengths");
            }
        })
    });
    let mut spec_in = inv.make_input_vec();
    let mut time_out = inv.make_output_vec();
    g.bench_function(BenchmarkId::new("2 x irfft f64 2048", frames), |b| {
        b.iter(|| {
            for _ in 0..2 * frames {
                spec_in.copy_from_slice(&out);
                spec_in[0].im = 0.0;
                spec_in[N_FFT / 2].im = 0.0;
                inv.process_with_scratch(&mut spec_in, &mut time_out, &mut scratch)
                    .expect("plan lengths");
            }
        })
    });
    // The tempogram's autocorrelations: a forward and an inverse real FFT per frame.
    let nfft_ac = (2 * tempo::ac_window_frames() - 1).next_power_of_two();
    let fwd_ac = planner.plan_fft_forward(nfft_ac);
    let inv_ac = planner.plan_fft_inverse(nfft_ac);
    let mut ac_in = fwd_ac.make_input_vec();
    let mut ac_spec = fwd_ac.make_output_vec();
    let mut ac_scratch =
        vec![Complex::new(0.0f64, 0.0); fwd_ac.get_scratch_len().max(inv_ac.get_scratch_len())];
    g.bench_function(
        BenchmarkId::new(format!("rfft + irfft f64 {nfft_ac}"), frames),
        |b| {
            b.iter(|| {
                for _ in 0..frames {
                    fwd_ac
                        .process_with_scratch(&mut ac_in, &mut ac_spec, &mut ac_scratch)
                        .expect("plan lengths");
                    ac_spec[0].im = 0.0;
                    ac_spec[nfft_ac / 2].im = 0.0;
                    inv_ac
                        .process_with_scratch(&mut ac_spec, &mut ac_in, &mut ac_scratch)
                        .expect("plan lengths");
                }
            })
        },
    );

    // One pass over |S| with f64 arithmetic per bin (sum and frequency-weighted sum): the
    // floor of the spectral statistics.
    let mag: Vec<f32> = stft::magnitude(&stft::stft(y, N_FFT, HOP_LENGTH))
        .t()
        .iter()
        .copied()
        .collect();
    let freqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * 10.766).collect();
    g.bench_function(
        BenchmarkId::new("one f64 pass over |S| (divide, 2 mul-adds per bin)", frames),
        |b| b.iter(|| one_pass(black_box(&mag), &freqs)),
    );
    // The rolloff's running sums (one f32 pass over |S|) and the zero-crossing rate's sign
    // comparisons (one pass over the signal).
    g.bench_function(BenchmarkId::new("f32 running sum over |S|", frames), |b| {
        b.iter(|| running_sums(black_box(&mag), n_bins))
    });
    g.bench_function(
        BenchmarkId::new("sign pass over the signal", y.len()),
        |b| b.iter(|| sign_pass(black_box(y))),
    );
    // The dB scaling's transcendental: one libm log10f per mel value.
    let mel_values: Vec<f32> = mag
        .iter()
        .step_by(8)
        .take(N_MELS * frames)
        .copied()
        .collect();
    g.bench_function(BenchmarkId::new("log10f x 128", frames), |b| {
        b.iter(|| {
            black_box(&mel_values)
                .iter()
                .map(|&x| x.max(1e-10).log10())
                .fold(f32::NEG_INFINITY, f32::max)
        })
    });

    let a: Vec<f64> = (0..4096).map(|i| (i as f64).sin()).collect();
    let bb: Vec<f64> = (0..4096).map(|i| (i as f64).cos()).collect();
    for (name, per_frame) in [
        ("chroma bank f64 MACs (12 x 1025)", N_CHROMA * n_bins),
        ("mel bank f64 MACs (2 x 1025)", 2 * n_bins),
        ("mfcc DCT f64 MACs (20 x 128)", N_MFCC * N_MELS),
    ] {
        g.bench_function(BenchmarkId::new(name, frames), |b| {
            b.iter(|| macs(black_box(&a), black_box(&bb), per_frame * frames))
        });
    }

    // The HPSS median kernel alone: the steps of the harmonic (65 lane groups x frames) and
    // percussive (frames / 16 lane groups x 1055) medians of the clip.
    let rows = 1056;
    let src: Vec<f32> = mag[..rows * LANES].to_vec();
    let mut dst = vec![0.0f32; rows * LANES];
    let steps: Vec<Step> = (0..rows - 31)
        .map(|t| Step {
            old: (t * LANES) as u32,
            new: ((t + 31) * LANES) as u32,
            out: (t * LANES) as u32,
        })
        .collect();
    let groups_steps = 65 * frames + frames.div_ceil(LANES) * (n_bins + 30);
    g.bench_function(
        BenchmarkId::new("16-lane median steps", groups_steps),
        |b| {
            b.iter(|| {
                let mut w = Window::default();
                let mut done = 0;
                while done < groups_steps {
                    let n = (groups_steps - done).min(steps.len());
                    lanes::median_run(lanes::best_isa(), &mut w, &src, &mut dst, &steps[..n], 0);
                    done += n;
                }
            })
        },
    );
    g.finish();
}

criterion_group!(benches, stages);

fn main() {
    // One worker thread for anything rayon does inside compute() (as `--jobs 1`).
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global();
    heap_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
