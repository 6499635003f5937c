//! Decoding (`tuneprint::audio::load`) and `tuneprint decode`.
//!
//! * GTZAN clips (.wav and .au) decode to librosa 0.8.1's `y` bit for bit (sample count and
//!   FNV-1a 64 of the float32 bytes in `tests/fixtures/librosa-0.8.1/real/checksums.csv`).
//! * The float32 synthetic fixtures decode to exactly their `y.npy`.
//! * Integer and float WAV encodings are scaled as soundfile/libsndfile scale them and channels
//!   are averaged in numpy's order (expected values were checked once against
//!   `librosa.load` on the very files these tests write; the formulas are restated here).
//! * A stereo 44.1 kHz tone is resampled to the right length, frequency and phase.
//! * FLAC and AIFF fixtures (lossless) decode to exactly the clip excerpt they were made from;
//!   MP3 and Ogg/Vorbis fixtures correlate with it.
//! * Bad input gives the right typed error naming the path.
//! * The `decode` command prints JSON / a table and sets the exit code.

use ndarray::Array1;
use ndarray_npy::read_npy;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use tuneprint::audio::{self, AudioError};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fnv1a64(y: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in y {
        for b in v.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// file name → (samples, checksum) of librosa.load's output.
fn checksums() -> HashMap<String, (usize, u64)> {
    let text =
        std::fs::read_to_string(root().join("tests/fixtures/librosa-0.8.1/real/checksums.csv"))
            .unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                (
                    f[1].parse().unwrap(),
                    u64::from_str_radix(f[2], 16).unwrap(),
                ),
            )
        })
        .collect()
}

fn assert_librosa_bits(path: &Path, sums: &HashMap<String, (usize, u64)>) {
    let name = path.file_name().unwrap().to_str().unwrap();
    let (n, sum) = sums[name];
    let d = audio::load(path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.samples.len(), n, "{name}: sample count");
    assert_eq!(
        fnv1a64(&d.samples),
        sum,
        "{name}: samples differ from librosa"
    );
    assert_eq!((d.source_rate, d.channels), (22_050, 1), "{name}");
    let ext = path.extension().unwrap().to_str().unwrap();
    assert_eq!(d.format, ext, "{name}");
}

#[test]
fn committed_clips_equal_librosa_bit_for_bit() {
    let sums = checksums();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("audio"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    files.push(root().join("audio/blues.00000.au"));
    assert_eq!(files.len(), 9);
    for f in &files {
        assert_librosa_bits(f, &sums);
    }
}

#[test]
fn shared_clips_equal_librosa_bit_for_bit() {
    let dir = root().join("../shared/data/gtzan/clips");
    if !dir.is_dir() {
        tuneprint::config::skip_test(&format!(
            "shared_clips_equal_librosa_bit_for_bit: {} is not there",
            dir.display()
        ));
        return;
    }
    let sums = checksums();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if sums.contains_key(p.file_name().unwrap().to_str().unwrap()) {
            assert_librosa_bits(&p, &sums);
            n += 1;
        }
    }
    assert_eq!(n, 16);
}

#[test]
fn synthetic_float_wavs_equal_their_y() {
    let dir = root().join("tests/fixtures/librosa-0.8.1/synthetic");
    for name in [
        "chirp",
        "clicks120",
        "chord",
        "noise",
        "silence",
        "dc",
        "short",
    ] {
        let want: Array1<f32> = read_npy(dir.join(name).join("y.npy")).unwrap();
        let d = audio::load(&dir.join(format!("{name}.wav"))).unwrap();
        assert_eq!(d.samples.len(), want.len(), "{name}");
        let same = d
            .samples
            .iter()
            .zip(want.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{name}: samples differ from y.npy");
    }
}

// ---------------------------------------------------------------- encodings

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A deterministic pseudo-random sequence in [0, 1).
fn lcg(seed: u64) -> impl Iterator<Item = f64> {
    let mut s = seed;
    std::iter::repeat_with(move || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    })
}

fn write_int_wav(path: &Path, bits: u16, channels: u16, rate: u32, frames: &[Vec<i32>]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for f in frames {
        for &s in f {
            match bits {
                8 => w.write_sample(s as i8).unwrap(),
                16 => w.write_sample(s as i16).unwrap(),
                _ => w.write_sample(s).unwrap(),
            }
        }
    }
    w.finalize().unwrap();
}

/// numpy's mean over channels of one float32 frame (channel count < 8): sum from 0.0 in
/// order, then divide in float32.
fn np_mean(v: &[f32]) -> f32 {
    let mut s = 0.0f32;
    for &x in v {
        s += x;
    }
    s / v.len() as f32
}

fn random_frames(seed: u64, n: usize, channels: usize, bits: u32) -> Vec<Vec<i32>> {
    let max = ((1i64 << (bits - 1)) - 1) as i32;
    let min = -max - 1;
    let mut r = lcg(seed);
    (0..n)
        .map(|i| {
            (0..channels)
                .map(|_| match i {
                    0 => min,
                    1 => max,
                    2 => 0,
                    3 => 1,
                    _ => ((r.next().unwrap() * 2.0 - 1.0) * f64::from(max)) as i32,
                })
                .collect()
        })
        .collect()
}

#[test]
fn integer_wavs_are_scaled_like_soundfile() {
    let dir = tmp();
    for (bits, scale) in [
        (8u16, 1.0f32 / 128.0),
        (16, 1.0 / 32_768.0),
        (24, 1.0 / 8_388_608.0),
        (32, 1.0 / 2_147_483_648.0),
    ] {
        for channels in [1usize, 2, 3] {
            let frames = random_frames(
                u64::from(bits) * 10 + channels as u64,
                3000,
                channels,
                bits.into(),
            );
            let p = dir.path().join(format!("i{bits}_{channels}.wav"));
            write_int_wav(&p, bits, channels as u16, 22_050, &frames);
            let d = audio::load(&p).unwrap();
            assert_eq!(
                (d.format.as_str(), d.channels, d.source_rate),
                ("wav", channels, 22_050)
            );
            let want: Vec<f32> = frames
                .iter()
                .map(|f| {
                    let v: Vec<f32> = f.iter().map(|&s| s as f32 * scale).collect();
                    if channels == 1 {
                        v[0]
                    } else {
                        np_mean(&v)
                    }
                })
                .collect();
            assert_eq!(d.samples.len(), want.len());
            for (i, (a, b)) in d.samples.iter().zip(&want).enumerate() {
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "{bits}-bit, {channels} ch, frame {i}"
                );
            }
            if channels == 1 {
                assert_eq!(d.samples[0], -1.0, "{bits}-bit full scale");
            }
        }
    }
}

/// A WAVE_FORMAT_IEEE_FLOAT file of `channels` interleaved 64-bit samples.
fn write_f64_wav(path: &Path, channels: u16, rate: u32, samples: &[f64]) {
    let data_len = (samples.len() * 8) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(4 + 26 + 12 + 8 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&18u32.to_le_bytes());
    b.extend_from_slice(&3u16.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 8 * u32::from(channels)).to_le_bytes());
    b.extend_from_slice(&(8 * channels).to_le_bytes());
    b.extend_from_slice(&64u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(b"fact");
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&((samples.len() / channels as usize) as u32).to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn float_wavs_are_taken_as_they_are() {
    let dir = tmp();
    let mut r = lcg(7);
    let x: Vec<f64> = (0..4000).map(|_| r.next().unwrap() * 2.0 - 1.0).collect();
    // 32-bit float, stereo: mean in float32; -0.0 in both channels averages to +0.0.
    let p = dir.path().join("f32.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 22_050,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&p, spec).unwrap();
    w.write_sample(-0.0f32).unwrap();
    w.write_sample(-0.0f32).unwrap();
    for &v in &x {
        w.write_sample(v as f32).unwrap();
    }
    w.finalize().unwrap();
    let d = audio::load(&p).unwrap();
    assert_eq!(d.samples.len(), 2001);
    assert_eq!(d.samples[0].to_bits(), 0.0f32.to_bits());
    for (i, pair) in x.chunks(2).enumerate() {
        let want = np_mean(&[pair[0] as f32, pair[1] as f32]);
        assert_eq!(d.samples[i + 1].to_bits(), want.to_bits(), "frame {i}");
    }
    // 64-bit float, mono: rounded to float32; a mono -0.0 stays -0.0.
    let p = dir.path().join("f64.wav");
    let mut y = vec![-0.0];
    y.extend_from_slice(&x);
    write_f64_wav(&p, 1, 22_050, &y);
    let d = audio::load(&p).unwrap();
    assert_eq!(d.samples.len(), y.len());
    for (a, b) in d.samples.iter().zip(&y) {
        assert_eq!(a.to_bits(), (*b as f32).to_bits());
    }
}

/// Frequency (Hz) of the largest-magnitude bin of the real signal's spectrum (rustfft).
fn peak_frequency(y: &[f32], rate: f64) -> f64 {
    let n = y.len();
    let mut buf: Vec<rustfft::num_complex::Complex<f64>> = y
        .iter()
        .map(|&v| rustfft::num_complex::Complex::new(f64::from(v), 0.0))
        .collect();
    rustfft::FftPlanner::new()
        .plan_fft_forward(n)
        .process(&mut buf);
    let k = (1..n / 2)
        .max_by(|&a, &b| buf[a].norm().total_cmp(&buf[b].norm()))
        .unwrap();
    k as f64 * rate / n as f64
}

#[test]
fn stereo_44k_tone_resamples_to_the_same_tone() {
    let dir = tmp();
    let p = dir.path().join("tone.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let n_in = 110_250; // 2.5 s
    let w0 = 2.0 * std::f64::consts::PI * 1000.0;
    let mut w = hound::WavWriter::create(&p, spec).unwrap();
    for i in 0..n_in {
        let s = (w0 * i as f64 / 44_100.0).sin();
        w.write_sample((s * 16_000.0).round() as i16).unwrap(); // left
        w.write_sample((s * 8_000.0).round() as i16).unwrap(); // right
    }
    w.finalize().unwrap();
    let d = audio::load(&p).unwrap();
    assert_eq!((d.source_rate, d.channels), (44_100, 2));
    // librosa keeps ceil(n · 22050 / 44100) samples.
    assert_eq!(d.samples.len(), 55_125);
    let f = peak_frequency(&d.samples, 22_050.0);
    assert!((f - 1000.0).abs() < 1.0, "peak at {f} Hz");
    // Amplitude and phase: the mean of the channels is 12000/32768 · sin(2π·1000·t), sampled at
    // 22 050 Hz with no delay (checked away from the edges, where the filter sees zeros).
    let amp = 12_000.0 / 32_768.0;
    let mut worst = 0.0f64;
    for (k, &v) in d.samples.iter().enumerate().take(55_125 - 200).skip(200) {
        let want = amp * (w0 * k as f64 / 22_050.0).sin();
        worst = worst.max((f64::from(v) - want).abs());
    }
    assert!(worst < 5e-5, "worst deviation {worst}");
}

// ---------------------------------------------------------------- other containers

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/audio").join(name)
}

/// The excerpt every fixture of scripts/make_audio_fixtures.sh was made from.
fn excerpt() -> Vec<f32> {
    audio::load(&root().join("audio/blues.00000.wav"))
        .unwrap()
        .samples[220_500..264_600]
        .to_vec()
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let ma = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let mb = b.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    sab / (saa * sbb).sqrt()
}

/// file name → (samples, checksum) of librosa.load on the fixtures.
fn fixture_checksums() -> HashMap<String, (usize, u64)> {
    let text = std::fs::read_to_string(fixture("librosa.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let sum = u64::from_str_radix(f[2], 16).unwrap();
            (f[0].to_string(), (f[1].parse().unwrap(), sum))
        })
        .collect()
}

#[test]
fn lossless_fixtures_equal_the_excerpt_and_librosa() {
    let ex = excerpt();
    let sums = fixture_checksums();
    for (name, format) in [("excerpt.flac", "flac"), ("excerpt.aiff", "aiff")] {
        let d = audio::load(&fixture(name)).unwrap();
        assert_eq!(
            (d.format.as_str(), d.source_rate, d.channels),
            (format, 22_050, 1)
        );
        assert_eq!(d.samples, ex, "{name}");
        assert_eq!((d.samples.len(), fnv1a64(&d.samples)), sums[name], "{name}");
    }
    // 8-bit µ-law .au: G.711 expansion / 32768, bit for bit as librosa; close to the excerpt.
    let d = audio::load(&fixture("excerpt_ulaw.au")).unwrap();
    assert_eq!(
        (d.format.as_str(), d.source_rate, d.channels),
        ("au", 22_050, 1)
    );
    assert_eq!(
        (d.samples.len(), fnv1a64(&d.samples)),
        sums["excerpt_ulaw.au"]
    );
    assert!(correlation(&d.samples, &ex) > 0.9998);
}

#[test]
fn lossy_fixtures_match_librosa_and_the_excerpt() {
    let ex = excerpt();
    let sums = fixture_checksums();
    // (file, format, rate, channels, max |ours − librosa| on samples 20000..24096, min correlation
    // with the excerpt). The MP3 is 44.1 kHz stereo, so it is also resampled (bit-exact, as
    // resampy does it): what remains is the MP3 decoders' float rounding (tests/mp3.rs); Vorbis
    // differs only by float rounding.
    for (name, format, rate, channels, tol, min_corr) in [
        ("excerpt.ogg", "ogg", 22_050, 1, 1e-5f32, 0.99),
        ("excerpt_44k_stereo.mp3", "mp3", 44_100, 2, 2e-6, 0.999),
    ] {
        let d = audio::load(&fixture(name)).unwrap();
        assert_eq!(
            (d.format.as_str(), d.source_rate, d.channels),
            (format, rate, channels)
        );
        assert_eq!(d.samples.len(), sums[name].0, "{name}: length as librosa");
        let want: Array1<f32> = read_npy(fixture(&format!("{name}.y_20000.npy"))).unwrap();
        let worst = d.samples[20_000..24_096]
            .iter()
            .zip(want.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < tol, "{name}: differs from librosa by {worst}");
        let c = correlation(&d.samples, &ex);
        assert!(c > min_corr, "{name}: correlation {c}");
    }
}

#[test]
fn truncated_and_streamed_files_are_read_to_their_last_frame() {
    let dir = tmp();
    let full = audio::load(&root().join("audio/blues.00000.wav"))
        .unwrap()
        .samples;
    // A WAV cut mid-sample: the data chunk claims more than is there.
    let wav = std::fs::read(root().join("audio/blues.00000.wav")).unwrap();
    let p = dir.path().join("cut.wav");
    std::fs::write(&p, &wav[..100_001]).unwrap();
    let d = audio::load(&p).unwrap();
    assert_eq!(d.samples, full[..(100_001 - 44) / 2]);
    // An .au with the "unknown" data size.
    let mut au = std::fs::read(root().join("audio/blues.00000.au")).unwrap();
    au[8..12].copy_from_slice(&[0xff; 4]);
    let p = dir.path().join("stream.au");
    std::fs::write(&p, &au).unwrap();
    assert_eq!(audio::load(&p).unwrap().samples, full);
}

// ---------------------------------------------------------------- bad input

fn expect_err(path: &Path) -> AudioError {
    match audio::load(path) {
        Ok(d) => panic!("{}: decoded {} samples", path.display(), d.samples.len()),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&path.display().to_string()),
                "message does not name the path: {msg}"
            );
            assert!(!msg.contains('\n'), "not one line: {msg}");
            e
        }
    }
}

#[test]
fn missing_directory_and_empty_paths() {
    let dir = tmp();
    let missing = dir.path().join("nope.wav");
    let e = expect_err(&missing);
    assert!(matches!(e, AudioError::Open { .. }), "{e}");
    assert!(e.to_string().contains("no such file"), "{e}");

    let e = expect_err(dir.path());
    assert!(matches!(e, AudioError::IsDirectory { .. }), "{e}");

    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let e = expect_err(&empty);
    assert!(matches!(e, AudioError::NoAudio { .. }), "{e}");
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn truncated_headers_are_corrupt() {
    let dir = tmp();
    let wav = std::fs::read(root().join("audio/blues.00000.wav")).unwrap();
    for cut in [4, 12, 30, 43] {
        let p = dir.path().join(format!("head{cut}.wav"));
        std::fs::write(&p, &wav[..cut]).unwrap();
        let e = expect_err(&p);
        assert!(matches!(e, AudioError::Corrupt { .. }), "{cut} bytes: {e}");
    }
    let au = std::fs::read(root().join("audio/blues.00000.au")).unwrap();
    for cut in [4, 12, 23, 30] {
        let p = dir.path().join(format!("head{cut}.au"));
        std::fs::write(&p, &au[..cut]).unwrap();
        let e = expect_err(&p);
        assert!(matches!(e, AudioError::Corrupt { .. }), "{cut} bytes: {e}");
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}

#[test]
fn random_bytes_are_unsupported() {
    let dir = tmp();
    let bytes: Vec<u8> = lcg(42).take(50_000).map(|v| (v * 256.0) as u8).collect();
    for ext in ["wav", "au", "mp3", "flac", "ogg", "aiff"] {
        let p = dir.path().join(format!("noise.{ext}"));
        std::fs::write(&p, &bytes).unwrap();
        let e = expect_err(&p);
        assert!(matches!(e, AudioError::Unsupported { .. }), "{ext}: {e}");
    }
}

#[test]
fn garbage_behind_a_valid_magic_is_an_error_not_a_panic() {
    let dir = tmp();
    let noise: Vec<u8> = lcg(9).take(20_000).map(|v| (v * 256.0) as u8).collect();
    for (name, magic) in [
        ("g.wav", &b"RIFF\x00\x01\x00\x00WAVE"[..]),
        ("g.aiff", &b"FORM\x00\x01\x00\x00AIFF"[..]),
        ("g.flac", &b"fLaC"[..]),
        ("g.ogg", &b"OggS"[..]),
        ("g.mp3", &b"ID3\x04\x00\x00\x00\x00\x00\x00"[..]),
        ("h.mp3", &[0xff, 0xfb, 0x90, 0x64][..]),
        (
            "g.au",
            &b".snd\x00\x00\x00\x18\xff\xff\xff\xff\x00\x00\x00\x63"[..],
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, [magic, &noise[..]].concat()).unwrap();
        let e = expect_err(&p);
        assert!(
            matches!(
                e,
                AudioError::Corrupt { .. }
                    | AudioError::Unsupported { .. }
                    | AudioError::NoAudio { .. }
            ),
            "{name}: {e}"
        );
    }
}

#[test]
fn zero_length_audio_is_no_audio() {
    let dir = tmp();
    let p = dir.path().join("zero.wav");
    write_int_wav(&p, 16, 1, 22_050, &[]);
    let e = expect_err(&p);
    assert!(matches!(e, AudioError::NoAudio { .. }), "{e}");

    let p = dir.path().join("zero.au");
    let mut au = b".snd".to_vec();
    for w in [24u32, 0, 3, 22_050, 1] {
        au.extend_from_slice(&w.to_be_bytes());
    }
    std::fs::write(&p, &au).unwrap();
    let e = expect_err(&p);
    assert!(matches!(e, AudioError::NoAudio { .. }), "{e}");
}

// ---------------------------------------------------------------- the command

fn tuneprint(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tuneprint"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

#[test]
fn decode_command_json() {
    let out = tuneprint(&["decode", "--json", "audio/blues.00000.wav"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 1);
    let o = &list[0];
    assert_eq!(o["path"], "audio/blues.00000.wav");
    assert_eq!(o["format"], "wav");
    assert_eq!(o["source_rate"], 22_050);
    assert_eq!(o["channels"], 1);
    assert_eq!(o["sample_rate"], 22_050);
    assert_eq!(o["samples"], 661_794);
    assert!((o["duration_s"].as_f64().unwrap() - 661_794.0 / 22_050.0).abs() < 1e-9);
    let y = audio::load(&root().join("audio/blues.00000.wav"))
        .unwrap()
        .samples;
    let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let rms = (y.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / y.len() as f64).sqrt();
    assert_eq!(o["peak"].as_f64().unwrap(), f64::from(peak));
    assert!((o["rms"].as_f64().unwrap() - rms).abs() < 1e-12);
    assert!(rms > 0.05 && rms < 0.5, "rms {rms}");
}

#[test]
fn decode_command_reports_failures_and_exits_1() {
    let out = tuneprint(&[
        "decode",
        "audio/blues.00000.wav",
        "no/such/file.wav",
        "audio/blues.00000.au",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("path"), "{stdout}");
    assert!(
        lines[1].starts_with("audio/blues.00000.wav") && lines[1].contains("661794"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("audio/blues.00000.au") && lines[2].contains(" au "),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errs: Vec<&str> = stderr.lines().collect();
    assert_eq!(errs.len(), 1, "{stderr}");
    assert!(
        errs[0].contains("no/such/file.wav") && errs[0].contains("no such file"),
        "{stderr}"
    );

    let out = tuneprint(&[
        "decode",
        "--json",
        "no/such/file.wav",
        "audio/blues.00000.wav",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["path"], "audio/blues.00000.wav");
}
