//! MP3 decoding against soundfile (libsndfile 1.2.2 with mpg123), the reader librosa 0.8.1 uses,
//! on the fixtures of `scripts/make_mp3_fixtures.sh` (lame at 44.1 and 48 kHz, CBR and VBR, with
//! and without the LAME/Xing header frame).
//!
//! * With a header frame, and for CBR without one, symphonia's output has soundfile's length
//!   (encoder delay and padding trimmed alike) and differs by at most 2e-6 (float rounding inside
//!   the two MP3 decoders).
//! * VBR without a header frame: soundfile stops at a length libsndfile guesses from the first
//!   frame's bitrate; we decode the whole stream. The samples agree over soundfile's length.
//! * `audio::load` (decode, channel mean, resampling) agrees with `librosa.load` within the same
//!   2e-6: the resampler is bit-exact, so only the decoder residual remains.

use ndarray::Array1;
use ndarray_npy::read_npy;
use std::path::PathBuf;
use tuneprint::audio::{self, decode};

/// Largest difference between MP3 decoders allowed (measured: 1.3e-6).
const TOL: f32 = 2e-6;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mp3")
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

#[test]
fn mp3_decodes_as_soundfile_reads_it() {
    let text = std::fs::read_to_string(dir().join("soundfile.csv")).unwrap();
    let mut n = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (name, rate, frames): (&str, u32, usize) =
            (f[0], f[1].parse().unwrap(), f[2].parse().unwrap());
        let d = decode::load_native(&dir().join(name)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (d.format.as_str(), d.source_rate, d.channels),
            ("mp3", rate, 2)
        );
        let want: Array1<f32> = read_npy(dir().join(format!("{name}.sf.npy"))).unwrap();
        assert_eq!(want.len(), frames);
        if name.starts_with("vbr_nohdr") {
            // The whole stream: whole MPEG frames of 1152 samples, more than soundfile returns.
            assert_eq!(d.samples.len() % 1152, 0, "{name}");
            assert!(
                d.samples.len() > frames + 1152,
                "{name}: {}",
                d.samples.len()
            );
        } else {
            assert_eq!(d.samples.len(), frames, "{name}: length as soundfile");
        }
        let worst = max_diff(&d.samples[..frames], want.as_slice().unwrap());
        assert!(worst <= TOL, "{name}: max |Δ| {worst:e}");
        n += 1;
    }
    assert_eq!(n, 8);
}

#[test]
fn mp3_loads_as_librosa_within_the_decoder_residual() {
    for name in ["cbr_44100.mp3", "vbr_48000.mp3"] {
        let d = audio::load(&dir().join(name)).unwrap();
        let want: Array1<f32> = read_npy(dir().join(format!("{name}.librosa.npy"))).unwrap();
        assert_eq!(d.samples.len(), want.len(), "{name}");
        let worst = max_diff(&d.samples, want.as_slice().unwrap());
        assert!(worst <= TOL, "{name}: max |Δ| {worst:e}");
    }
}
