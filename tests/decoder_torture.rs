//! A standing torture test of the decoders: every format tuneprint reads (WAV 16-bit and float,
//! AIFF, µ-law AU, FLAC, Ogg Vorbis, MP3 at 22.05 and 44.1 kHz), mutated by byte flips,
//! truncation, garbage spliced in and absurd values written over header fields, and decoded
//! from memory as a scan would; what decodes is analysed too. Seeded and reproducible: a few
//! thousand cases by default, `TUNEPRINT_TORTURE_CASES=N` for more and
//! `TUNEPRINT_TORTURE_SEED=S` for another sequence. Every case must end within a bound (no
//! hang), without a panic, and every failure must be one line that names the file. Every fourth
//! case is also streamed from a file (`audio::stream`, how long files are read): the same
//! samples as `audio::load`, or a failure where `load` fails.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Each case may take this long (decoding, resampling and analysing half a second of audio
/// takes milliseconds).
const BOUND: Duration = Duration::from_secs(20);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// splitmix64: small, seeded, the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The originals: (extension, bytes).
fn originals() -> Vec<(&'static str, Vec<u8>)> {
    let read = |p: &str| std::fs::read(root().join(p)).unwrap();
    // A float WAV, made here (what a DAW exports).
    let mut float = std::io::Cursor::new(Vec::new());
    {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::new(&mut float, spec).unwrap();
        for k in 0..12_000 {
            w.write_sample((k as f32 * 0.01).sin() * 0.5).unwrap();
        }
        w.finalize().unwrap();
    }
    vec![
        ("wav", read("tests/fixtures/tags/tagged.wav")),
        ("wav", float.into_inner()),
        ("aiff", read("tests/fixtures/tags/tagged.aiff")),
        ("au", read("tests/fixtures/audio/excerpt_ulaw.au")),
        ("flac", read("tests/fixtures/tags/tagged.flac")),
        ("ogg", read("tests/fixtures/tags/tagged.ogg")),
        ("mp3", read("tests/fixtures/tags/tagged.mp3")),
        ("mp3", read("tests/fixtures/audio/excerpt_44k_stereo.mp3")),
    ]
}

/// One mutation of `b` (which of four kinds, and where, from `rng`).
fn mutate(rng: &mut Rng, mut b: Vec<u8>) -> (Vec<u8>, String) {
    let len = b.len();
    // Half the changes land in the first 512 bytes, where the headers are.
    let place = |rng: &mut Rng| {
        if rng.below(2) == 0 {
            rng.below(len.min(512))
        } else {
            rng.below(len)
        }
    };
    match rng.below(4) {
        0 => {
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let i = place(rng);
                b[i] ^= 1 << rng.below(8);
            }
            (b, format!("{n} bits flipped"))
        }
        1 => {
            let at = rng.below(len);
            b.truncate(at);
            (b, format!("truncated to {at} bytes"))
        }
        2 => {
            let at = place(rng);
            let n = 1 + rng.below(256);
            let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            if rng.below(2) == 0 {
                b.splice(at..at, junk);
                (b, format!("{n} random bytes inserted at {at}"))
            } else {
                let end = (at + n).min(len);
                b.splice(at..end, junk);
                (b, format!("{n} random bytes written over {at}"))
            }
        }
        _ => {
            let at = rng.below(len.min(64).saturating_sub(4).max(1));
            let values = [
                0u32,
                1,
                0x7FFF_FFFF,
                0x8000_0000,
                0xFFFF_FFFF,
                0xFFFF,
                0x1_0000,
            ];
            let v = values[rng.below(values.len())];
            let bytes = if rng.below(2) == 0 {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            for (k, x) in bytes.iter().enumerate() {
                if at + k < b.len() {
                    b[at + k] = *x;
                }
            }
            (b, format!("{v:#x} written at {at}"))
        }
    }
}

/// Decodes (and, when that works, analyses) one file image; the error text when it fails.
fn try_case(name: &Path, bytes: Vec<u8>) -> Result<(), String> {
    match tuneprint::audio::decode::load_bytes(name, bytes) {
        Ok(d) => {
            if d.samples.len() <= 30 * 22_050 {
                let _ = tuneprint::features::engine::analyse(&d.samples);
            }
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Every fourth case is also written to a file and streamed (`audio::stream`, the path of long
/// files): it must hand on the samples `audio::load` gives, or fail as `load` fails, in one line
/// naming the file. `None` when it does; else the problem.
fn stream_disagrees(dir: &Path, name: &Path, bytes: &[u8]) -> Option<String> {
    let path = dir.join(name.file_name().unwrap());
    std::fs::write(&path, bytes).unwrap();
    let whole = tuneprint::audio::load(&path);
    let mut y = Vec::new();
    let streamed = tuneprint::audio::stream(&path, &mut |x| {
        y.extend_from_slice(x);
        Ok(())
    });
    let _ = std::fs::remove_file(&path);
    match (whole, streamed) {
        (Ok(d), Ok(info)) => {
            let same = d.samples.len() == y.len()
                && d.samples
                    .iter()
                    .zip(&y)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
            (!same || info.samples != y.len()).then(|| "streamed other samples".to_string())
        }
        (Err(_), Err(e)) => {
            let e = e.to_string();
            let prefix = format!("{}: ", path.display());
            (!e.starts_with(&prefix) || e.contains('\n')).then(|| format!("unclear: {e:?}"))
        }
        (Ok(_), Err(e)) => Some(format!("load decodes it, stream fails: {e}")),
        (Err(e), Ok(_)) => Some(format!("stream decodes it, load fails: {e}")),
    }
}

#[test]
fn mutated_files_never_panic_hang_or_give_unclear_errors() {
    let cases: usize = std::env::var("TUNEPRINT_TORTURE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let seed: u64 = std::env::var("TUNEPRINT_TORTURE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_203);
    let originals = originals();
    let scratch = tempfile::tempdir().unwrap();
    // The originals decode.
    for (k, (ext, b)) in originals.iter().enumerate() {
        let name = PathBuf::from(format!("original-{k}.{ext}"));
        try_case(&name, b.clone()).unwrap_or_else(|e| panic!("{e}"));
    }
    // Quiet panics: each one is reported below with its case.
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed);
    let mut problems = Vec::new();
    let (mut decoded, mut refused) = (0usize, 0usize);
    for case in 0..cases {
        let (ext, original) = &originals[case % originals.len()];
        // One to three mutations in a row.
        let mut bytes = original.clone();
        let mut how = Vec::new();
        for _ in 0..1 + rng.below(3) {
            if bytes.is_empty() {
                break;
            }
            let (b, h) = mutate(&mut rng, bytes);
            bytes = b;
            how.push(h);
        }
        let name = PathBuf::from(format!("torture/case-{case}.{ext}"));
        let what = format!("case {case} (seed {seed}, {ext}: {})", how.join(", "));
        let (tx, rx) = mpsc::channel();
        let n = name.clone();
        let dir = scratch.path().to_path_buf();
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(|| {
                let streamed = (case % 4 == 0)
                    .then(|| stream_disagrees(&dir, &n, &bytes))
                    .flatten();
                (try_case(&n, bytes), streamed)
            });
            let _ = tx.send(r);
        });
        match rx.recv_timeout(BOUND) {
            Err(_) => {
                problems.push(format!("{what}: still running after {BOUND:?}"));
                break; // a hung thread cannot be stopped; report what we have
            }
            Ok(Err(panic)) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                problems.push(format!("{what}: panicked: {msg}"));
            }
            Ok(Ok((_, Some(problem)))) => problems.push(format!("{what}: {problem}")),
            Ok(Ok((Ok(()), None))) => decoded += 1,
            Ok(Ok((Err(e), None))) => {
                refused += 1;
                let prefix = format!("{}: ", name.display());
                if !e.starts_with(&prefix) || e.contains('\n') || e.len() > 400 {
                    problems.push(format!("{what}: unclear error: {e:?}"));
                }
            }
        }
    }
    let _ = std::panic::take_hook();
    eprintln!("torture: {cases} cases, {decoded} decoded, {refused} refused with one line");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // Both outcomes occur: the mutations reach past the headers and into them.
    assert!(
        decoded > cases / 10 && refused > cases / 10,
        "{decoded} decoded, {refused} refused"
    );
}
