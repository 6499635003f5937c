//! Golden tests of the onset envelope, the tempo, HPSS and the inverse STFT against librosa
//! 0.8.1 fixtures (`tests/fixtures/librosa-0.8.1`, made by `scripts/make_fixtures.py`) and the
//! reference table `features/features_30_sec.csv`.

mod common;
use common::{each_isa, CLIP_GENRES};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
use ndarray_npy::read_npy;
use tuneprint::config::{HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE};
use tuneprint::features::{hpss, mel, stft, tempo};

const SYNTHETIC: [&str; 7] = [
    "chirp",
    "clicks120",
    "chord",
    "noise",
    "silence",
    "dc",
    "short",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/librosa-0.8.1")
}

fn synthetic(name: &str, array: &str) -> PathBuf {
    fixtures()
        .join("synthetic")
        .join(name)
        .join(format!("{array}.npy"))
}

fn real(array: &str) -> PathBuf {
    fixtures()
        .join("real/blues.00000")
        .join(format!("{array}.npy"))
}

fn npy1(path: &Path) -> Vec<f32> {
    let a: Array1<f32> = read_npy(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    a.to_vec()
}

fn npy2(path: &Path) -> Array2<f32> {
    read_npy(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One column of a feature CSV, keyed by file name.
fn csv_column(path: &Path, column: &str) -> HashMap<String, f64> {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let file = headers.iter().position(|h| h == "filename").unwrap();
    let col = headers.iter().position(|h| h == column).unwrap();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            (r[file].to_string(), r[col].parse::<f64>().unwrap())
        })
        .collect()
}

/// Largest |a − b| and the index where it occurs.
fn max_abs_diff(a: &[f32], b: &[f32]) -> (f32, usize) {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .enumerate()
        .map(|(i, (x, y))| ((x - y).abs(), i))
        .fold((0.0, 0), |acc, v| if v.0 > acc.0 { v } else { acc })
}

#[test]
fn onset_strength_matches_librosa_synthetic() {
    each_isa("onset_strength_matches_librosa_synthetic", || {
        for name in SYNTHETIC {
            let mel = npy2(&synthetic(name, "melspec_db"));
            let expected = npy1(&synthetic(name, "onset_env"));
            let ours = tempo::onset_strength(&mel);
            // Subtraction, rectification and a median of f32 values: bit-exact.
            assert_eq!(ours, expected, "{name}: onset envelope differs");
        }
    });
}

#[test]
fn onset_strength_matches_librosa_real_clip() {
    each_isa("onset_strength_matches_librosa_real_clip", || {
        let mel = npy2(&real("melspec_db"));
        let expected = npy1(&real("onset_env"));
        let ours = tempo::onset_strength(&mel);
        let (d, i) = max_abs_diff(&ours, &expected);
        assert_eq!(
            d, 0.0,
            "blues.00000: onset envelope differs at frame {i} by {d}"
        );
    });
}

#[test]
fn tempo_matches_librosa_synthetic() {
    each_isa("tempo_matches_librosa_synthetic", || {
        let reference = csv_column(&fixtures().join("synthetic/features.csv"), "tempo");
        for name in SYNTHETIC {
            let want = reference[&format!("{name}.wav")];
            let from_fixture = tempo::tempo(&npy1(&synthetic(name, "onset_env")));
            assert_eq!(
                from_fixture, want,
                "{name}: tempo from librosa's onset envelope"
            );
            let from_mel = tempo::tempo(&tempo::onset_strength(&npy2(&synthetic(
                name,
                "melspec_db",
            ))));
            assert_eq!(from_mel, want, "{name}: tempo from our onset envelope");
        }
    });
}

#[test]
fn tempo_matches_reference_csv_real_clip() {
    each_isa("tempo_matches_reference_csv_real_clip", || {
        let reference = csv_column(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("features/features_30_sec.csv"),
            "tempo",
        );
        let want = reference["blues.00000.au"];
        assert_eq!(want, 123.046875);
        let env = npy1(&real("onset_env"));
        assert_eq!(tempo::tempo(&env), want);
        let scores = tempo::tempo_scores(&env);
        let mut sorted: Vec<f64> = scores.iter().copied().filter(|s| s.is_finite()).collect();
        sorted.sort_by(|a, b| b.total_cmp(a));
        // The winning lag is not a near-tie: float noise cannot flip it.
        assert!(
            sorted[0] - sorted[1] > 1e-3,
            "margin {}",
            sorted[0] - sorted[1]
        );
    });
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// librosa.load of a 16-bit PCM WAV at 22050 Hz mono: the samples divided by 32768.
fn load_wav(path: &Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, SAMPLE_RATE, 16)
    );
    r.samples::<i16>()
        .map(|x| f32::from(x.unwrap()) / 32768.0)
        .collect()
}

/// Mean and population variance in f64.
fn stats(a: &[f32]) -> (f64, f64) {
    let n = a.len() as f64;
    let m = a.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let v = a.iter().map(|&x| (f64::from(x) - m).powi(2)).sum::<f64>() / n;
    (m, v)
}

/// Population standard deviation of a column of the reference table.
fn column_sigma(column: &str) -> f64 {
    let values: Vec<f64> = csv_column(&root().join("features/features_30_sec.csv"), column)
        .into_values()
        .collect();
    let n = values.len() as f64;
    let m = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt()
}

/// The project's acceptance rule for a summary value: |ours − ref| ≤ 1e-4·|ref| + 1e-3·σ.
fn assert_accept(what: &str, ours: f64, want: f64, sigma: f64) {
    let tol = 1e-4 * want.abs() + 1e-3 * sigma;
    assert!(
        (ours - want).abs() <= tol,
        "{what}: {ours:e} vs {want:e} (diff {:e} > tol {tol:e})",
        (ours - want).abs()
    );
}

/// Sample-level tolerance of the separated signals: a few f32 ulps of full scale (librosa
/// rounds its phase factor through atan2/cos/sin, this port multiplies by the mask directly).
const WAVE_TOL: f32 = 4e-7;

#[test]
fn hpss_matches_librosa_synthetic() {
    each_isa("hpss_matches_librosa_synthetic", || {
        let sigma = [
            ("harmony_mean", column_sigma("harmony_mean")),
            ("harmony_var", column_sigma("harmony_var")),
            ("perceptr_mean", column_sigma("perceptr_mean")),
            ("perceptr_var", column_sigma("perceptr_var")),
        ];
        for name in SYNTHETIC {
            let y = npy1(&synthetic(name, "y"));
            let s = stft::stft(&y, N_FFT, HOP_LENGTH);
            let (h, p) = hpss::hpss(&s, y.len());
            for (k, (ours, array)) in [(&h, "harmonic"), (&p, "percussive")]
                .into_iter()
                .enumerate()
            {
                let want = npy1(&synthetic(name, array));
                assert_eq!(ours.len(), y.len(), "{name} {array}: length");
                let (d, i) = max_abs_diff(ours, &want);
                assert!(d <= WAVE_TOL, "{name} {array}: sample {i} differs by {d:e}");
                let (mo, vo) = stats(ours);
                let (mw, vw) = stats(&want);
                assert_accept(&format!("{name} {array} mean"), mo, mw, sigma[2 * k].1);
                assert_accept(&format!("{name} {array} var"), vo, vw, sigma[2 * k + 1].1);
            }
        }
    });
}

#[test]
fn hpss_matches_librosa_real_clip() {
    each_isa("hpss_matches_librosa_real_clip", || {
        let y = load_wav(&root().join("audio/blues.00000.wav"));
        assert_eq!(y.len(), 661_794);
        let s = stft::stft(&y, N_FFT, HOP_LENGTH);
        let (h, p) = hpss::hpss(&s, y.len());
        for (ours, array, col) in [(&h, "harmonic", "harmony"), (&p, "percussive", "perceptr")] {
            let want = npy1(&real(&format!("{array}_samples_300000_304096")));
            let (d, i) = max_abs_diff(&ours[300_000..304_096], &want);
            assert!(
                d <= WAVE_TOL,
                "{array}: sample {} differs by {d:e}",
                300_000 + i
            );
            // [len, mean, var] of librosa's full signal (numpy's float32 mean and var).
            let st: Array1<f64> = read_npy(real(&format!("{array}_stats"))).unwrap();
            assert_eq!(ours.len() as f64, st[0]);
            let (m, v) = stats(ours);
            assert_accept(
                &format!("{array} mean"),
                m,
                st[1],
                column_sigma(&format!("{col}_mean")),
            );
            assert_accept(
                &format!("{array} var"),
                v,
                st[2],
                column_sigma(&format!("{col}_var")),
            );
        }
    });
}

#[test]
fn hpss_degenerate_inputs_stay_finite() {
    each_isa("hpss_degenerate_inputs_stay_finite", || {
        // One sample, fewer samples than a hop, and an empty spectrogram.
        for y in [vec![0.5f32], vec![0.1f32; 300]] {
            let s = stft::stft(&y, N_FFT, HOP_LENGTH);
            let (h, p) = hpss::hpss(&s, y.len());
            assert_eq!((h.len(), p.len()), (y.len(), y.len()));
            assert!(h.iter().chain(&p).all(|x| x.is_finite()));
        }
        let empty = Array2::zeros((N_FFT / 2 + 1, 0));
        assert_eq!(hpss::hpss(&empty, 5), (vec![0.0; 5], vec![0.0; 5]));
    });
}

#[test]
fn hpss_ignores_memory_layout() {
    each_isa("hpss_ignores_memory_layout", || {
        let y = npy1(&synthetic("chord", "y"));
        let s = stft::stft(&y, N_FFT, HOP_LENGTH);
        let row_major = s.as_standard_layout().into_owned();
        assert!(row_major.is_standard_layout());
        assert_eq!(hpss::hpss(&s, y.len()), hpss::hpss(&row_major, y.len()));
    });
}

#[test]
fn istft_inverts_stft() {
    each_isa("istft_inverts_stft", || {
        let y = npy1(&synthetic("noise", "y"));
        let n = y.len();
        let s = stft::stft(&y, N_FFT, HOP_LENGTH);
        // Without a length: n_fft/2 cut at both ends, hop·(frames − 1) samples.
        let plain = stft::istft(&s, HOP_LENGTH, None);
        assert_eq!(plain.len(), HOP_LENGTH * (s.ncols() - 1));
        let (d, i) = max_abs_diff(&plain, &y[..plain.len()]);
        assert!(d < 1e-6, "round trip differs at {i} by {d:e}");
        // With a length: the tail past the last frame is real signal, then zeros.
        let exact = stft::istft(&s, HOP_LENGTH, Some(n));
        let (d, i) = max_abs_diff(&exact, &y);
        assert!(d < 1e-6, "round trip differs at {i} by {d:e}");
        let long = stft::istft(&s, HOP_LENGTH, Some(n + 3000));
        assert_eq!(long.len(), n + 3000);
        let avail = N_FFT / 2 + HOP_LENGTH * (s.ncols() - 1);
        assert!(long[avail..].iter().all(|&x| x == 0.0));
        assert_eq!(&long[..n], &exact[..]);
    });
}

#[test]
fn tempo_of_short_and_sparse_envelopes() {
    each_isa("tempo_of_short_and_sparse_envelopes", || {
        // librosa.beat.tempo(onset_envelope=e, sr=22050) with librosa 0.8.1 for each envelope.
        let mut impulse = vec![0.0f32; 31];
        impulse[10] = 2.0;
        let mut train = vec![0.0f32; 630];
        for x in train.iter_mut().step_by(21) {
            *x = 1.0;
        }
        let lit: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures().join("literals.json")).unwrap(),
        )
        .unwrap();
        let want = |k: &str| lit["tempo_of_envelopes"][k].as_f64().unwrap();
        let cases: [(&[f32], f64); 5] = [
            (&[1.0], want("one")),
            (&[0.0, 0.0, 0.0, 5.0], want("late")),
            (&[3.0, 1.0], want("two")),
            (&impulse, want("impulse")),
            (&train, want("train")),
        ];
        for (env, want) in cases {
            assert_eq!(tempo::tempo(env), want, "envelope of {} frames", env.len());
        }
    });
}

#[test]
fn tempo_of_all_real_clips_matches_reference_csv() {
    each_isa("tempo_of_all_real_clips_matches_reference_csv", || {
        // The full chain from samples: STFT → power → mel (128) → dB → onset envelope → tempo.
        let reference = csv_column(&root().join("features/features_30_sec.csv"), "tempo");
        for genre in CLIP_GENRES {
            let stem = format!("{genre}.00000");
            let y = load_wav(&root().join(format!("audio/{stem}.wav")));
            let s = stft::stft(&y, N_FFT, HOP_LENGTH);
            let power = stft::power(&s);
            let mel_db = mel::power_to_db(&mel::melspectrogram(
                power.view(),
                f64::from(SAMPLE_RATE),
                N_MELS,
            ));
            let bpm = tempo::tempo(&tempo::onset_strength(&mel_db));
            assert_eq!(bpm, reference[&format!("{stem}.au")], "{stem}");
        }
    });
}
