//! The resampler against resampy 0.4.3 / librosa 0.8.1 (fixtures of
//! `scripts/make_resample_fixtures.py`, versions in `tests/fixtures/resample/VERSIONS.txt`).
//!
//! * The filter tables built natively equal resampy's shipped tables bit for bit (FNV-1a 64 of
//!   every entry's bytes, and sampled entries).
//! * `audio::load` of float32 WAVs at 8–96 kHz, mono and stereo, odd lengths, signals shorter than
//!   the filter, silence and a full-scale square wave equals `librosa.load(path)` bit for bit.
//! * `kaiser_fast` equals `librosa.resample(..., res_type="kaiser_fast")` bit for bit.

use ndarray::Array1;
use ndarray_npy::read_npy;
use std::path::{Path, PathBuf};
use tuneprint::audio::{
    self,
    resample::{resample_with, Filter},
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resample")
}

fn fnv1a64(bytes: impl Iterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[test]
fn native_tables_equal_resampys_files() {
    let text = std::fs::read_to_string(dir().join("table.csv")).unwrap();
    let mut checked = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let filter = match f[0] {
            "kaiser_best" => Filter::KaiserBest,
            "kaiser_fast" => Filter::KaiserFast,
            other => panic!("unknown filter {other}"),
        };
        let w = filter.half_window();
        assert_eq!(w.len(), f[1].parse::<usize>().unwrap(), "{}", f[0]);
        let i: usize = f[3].parse().unwrap();
        let bits = u64::from_str_radix(f[4], 16).unwrap();
        assert_eq!(w[i].to_bits(), bits, "{} entry {i}", f[0]);
        if i == 0 {
            let h = fnv1a64(w.iter().flat_map(|v| v.to_le_bytes()));
            assert_eq!(format!("{h:016x}"), f[2], "{}: table checksum", f[0]);
        }
        checked += 1;
    }
    assert!(checked > 400, "{checked} entries");
}

/// Number of differing samples and the largest |Δ|.
fn compare(got: &[f32], want: &[f32]) -> (usize, f32) {
    let diff = got
        .iter()
        .zip(want)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    (diff, worst)
}

fn inputs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir().join("in"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_str().unwrap().to_string()
}

#[test]
fn load_equals_librosa_at_every_rate_bit_for_bit() {
    let files = inputs();
    assert_eq!(files.len(), 22);
    let mut rates = std::collections::BTreeSet::new();
    for p in &files {
        let name = stem(p);
        let want: Array1<f32> = read_npy(dir().join("out").join(format!("{name}.npy"))).unwrap();
        let d = audio::load(p).unwrap_or_else(|e| panic!("{e}"));
        rates.insert(d.source_rate);
        assert_eq!(d.samples.len(), want.len(), "{name}: length");
        let (diff, worst) = compare(&d.samples, want.as_slice().unwrap());
        assert_eq!(diff, 0, "{name}: {diff} samples differ, max |Δ| {worst:e}");
    }
    assert_eq!(
        rates.into_iter().collect::<Vec<_>>(),
        [8_000, 11_025, 16_000, 32_000, 44_100, 48_000, 88_200, 96_000]
    );
}

/// Mono float32 samples and rate of a WAV written by soundfile.
fn read_wav(p: &Path) -> (Vec<f32>, u32) {
    let mut r = hound::WavReader::open(p).unwrap();
    let spec = r.spec();
    assert_eq!(spec.channels, 1);
    let x = r.samples::<f32>().map(Result::unwrap).collect();
    (x, spec.sample_rate)
}

#[test]
fn kaiser_fast_equals_resampy_bit_for_bit() {
    let mut n = 0;
    for entry in std::fs::read_dir(dir().join("fast")).unwrap() {
        let golden = entry.unwrap().path();
        let name = stem(&golden);
        let want: Array1<f32> = read_npy(&golden).unwrap();
        let (x, rate) = read_wav(&dir().join("in").join(format!("{name}.wav")));
        let got = resample_with(&golden, &x, rate, 22_050, Filter::KaiserFast).unwrap();
        assert_eq!(got.len(), want.len(), "{name}: length");
        let (diff, worst) = compare(&got, want.as_slice().unwrap());
        assert_eq!(diff, 0, "{name}: {diff} samples differ, max |Δ| {worst:e}");
        n += 1;
    }
    assert_eq!(n, 10);
}

/// Outputs per part of the resampler's parallel loop (`lanes::PART`).
const PART: usize = 1 << 18;

/// A long resampled signal is computed in parts of [`PART`] outputs, on several threads: inputs
/// several parts long (up to 2.6 parts, the parts' edges and a short last part included) give
/// the plain one-output-at-a-time reference loop's bits, downsampling, upsampling and both
/// filters. A part that starts one output early or late changes every output after the first
/// part.
#[test]
fn long_signals_in_parts_equal_the_reference_loop() {
    // Music-like and deterministic: three tones and a linear congruential noise.
    let signal = |n: usize| -> Vec<f32> {
        let mut state = 0x2545_f491_u32;
        (0..n)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1 << 24) as f32 - 0.5;
                let t = i as f32;
                0.4 * (t * 0.013).sin()
                    + 0.2 * (t * 0.171).sin()
                    + 0.1 * (t * 0.0021).cos()
                    + 0.05 * noise
            })
            .collect()
    };
    for (from, to, filter, parts) in [
        (44_100, 22_050, Filter::KaiserBest, 2.6),
        (48_000, 22_050, Filter::KaiserFast, 2.2),
        (16_000, 22_050, Filter::KaiserFast, 2.05),
    ] {
        let outputs = (parts * PART as f64) as usize;
        let n = (outputs as u64 * from as u64 / to as u64) as usize + 1;
        let x = signal(n);
        let path = Path::new("long.wav");
        let ours = resample_with(path, &x, from, to, filter).unwrap();
        let plain =
            tuneprint::audio::resample::resample_reference(path, &x, from, to, filter).unwrap();
        assert!(plain.len() > 2 * PART, "{from}->{to}: {}", plain.len());
        let first_bad = ours[..plain.len()]
            .iter()
            .zip(&plain)
            .position(|(a, b)| a.to_bits() != b.to_bits());
        assert_eq!(
            first_bad, None,
            "{from} -> {to} Hz ({filter:?}): first differing output"
        );
    }
}
