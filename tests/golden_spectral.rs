//! Golden tests of the spectral features against librosa 0.8.1 (tests/fixtures/librosa-0.8.1).
//!
//! Every stage is compared on every synthetic fixture and on the real clip `blues.00000`
//! (decoded here from `audio/blues.00000.wav`, checked against the checksum of librosa.load's
//! output first). Each comparison states its tolerance and why.

mod common;
use common::each_isa;
use ndarray::{Array1, Array2, ArrayD, Ix1, Ix2};
use ndarray_npy::read_npy;
use std::path::{Path, PathBuf};
use tuneprint::features::stft;

const SYNTHETIC: [&str; 7] = [
    "chirp",
    "clicks120",
    "chord",
    "noise",
    "silence",
    "dc",
    "short",
];
const REAL: &str = "blues.00000";

/// The single values scripts/make_fixtures.py computed with librosa 0.8.1 (literals.json).
fn literals() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("literals.json")).unwrap())
        .unwrap()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/librosa-0.8.1")
}

fn npy_dyn_f64(path: &Path) -> ArrayD<f64> {
    if let Ok(a) = read_npy::<_, ArrayD<f32>>(path) {
        return a.mapv(f64::from);
    }
    read_npy::<_, ArrayD<f64>>(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fixture array as f64, 2-D (a 1-D array becomes one row).
fn npy2(dir: &Path, name: &str) -> Array2<f64> {
    let a = npy_dyn_f64(&dir.join(format!("{name}.npy")));
    match a.ndim() {
        1 => {
            let n = a.len();
            a.into_dimensionality::<Ix1>()
                .unwrap()
                .into_shape_with_order((1, n))
                .unwrap()
        }
        _ => a.into_dimensionality::<Ix2>().unwrap(),
    }
}

fn fnv1a64(y: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in y {
        for b in x.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The real clip as librosa.load gives it (16-bit PCM / 32768), verified by checksum.
fn real_signal() -> Vec<f32> {
    let wav = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("audio/{REAL}.wav"));
    let mut reader =
        hound::WavReader::open(&wav).unwrap_or_else(|e| panic!("{}: {e}", wav.display()));
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 22050, 16)
    );
    let y: Vec<f32> = reader
        .samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    let sums = std::fs::read_to_string(fixtures().join("real/checksums.csv")).unwrap();
    let line = sums
        .lines()
        .find(|l| l.starts_with(&format!("{REAL}.wav,")))
        .expect("checksum line");
    let fields: Vec<&str> = line.split(',').collect();
    assert_eq!(y.len(), fields[1].parse::<usize>().unwrap());
    assert_eq!(
        format!("{:016x}", fnv1a64(&y)),
        fields[2],
        "decoded samples differ from librosa.load"
    );
    y
}

/// (name, fixture dir, signal) for every synthetic fixture and the real clip.
fn cases() -> Vec<(String, PathBuf, Vec<f32>)> {
    let mut v: Vec<(String, PathBuf, Vec<f32>)> = SYNTHETIC
        .iter()
        .map(|name| {
            let dir = fixtures().join("synthetic").join(name);
            let y = read_npy::<_, Array1<f32>>(dir.join("y.npy"))
                .unwrap()
                .to_vec();
            (name.to_string(), dir, y)
        })
        .collect();
    v.push((
        REAL.to_string(),
        fixtures().join("real").join(REAL),
        real_signal(),
    ));
    v
}

/// Asserts |ours − ref| ≤ rtol·|ref| + atol_rel·max|ref| element-wise, `why` explaining the
/// tolerance; returns the largest error relative to max|ref| for reporting.
fn assert_close(
    case: &str,
    stage: &str,
    ours: &Array2<f64>,
    reference: &Array2<f64>,
    rtol: f64,
    atol_rel: f64,
    why: &str,
) -> f64 {
    assert_eq!(ours.dim(), reference.dim(), "{case}/{stage}: shape");
    let scale = reference.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let atol = atol_rel * scale;
    let mut worst = 0.0f64;
    for ((idx, &a), &b) in ours.indexed_iter().zip(reference.iter()) {
        let err = (a - b).abs();
        assert!(
            err <= rtol * b.abs() + atol,
            "{case}/{stage}{idx:?}: ours {a} vs librosa {b} (|err| {err:e}); tolerance rtol {rtol:e} + {atol_rel:e}·max|ref| ({scale:e}) because {why}"
        );
        if scale > 0.0 {
            worst = worst.max(err / scale);
        }
    }
    eprintln!("{case}/{stage}: max |err|/max|ref| = {worst:.3e}");
    worst
}

fn to_f64<T: Copy + Into<f64>>(a: &Array2<T>) -> Array2<f64> {
    a.mapv(Into::into)
}

#[test]
fn stft_magnitude_matches_librosa() {
    each_isa("stft_magnitude_matches_librosa", || {
        let why =
            "the FFT runs in f64 like numpy's (only the FFT algorithm differs) and is rounded to f32";
        for (name, dir, y) in cases() {
            let mag = stft::magnitude(&stft::stft(&y, 2048, 512));
            if name == REAL {
                let reference = npy2(&dir, "stft_mag_frames_400_464");
                let ours = to_f64(&mag.slice(ndarray::s![.., 400..464]).to_owned());
                assert_close(&name, "stft_mag", &ours, &reference, 1e-5, 1e-7, why);
                assert_eq!(mag.ncols(), npy2(&dir, "rms").ncols());
            } else {
                let reference = npy2(&dir, "stft_mag");
                assert_close(
                    &name,
                    "stft_mag",
                    &to_f64(&mag),
                    &reference,
                    1e-5,
                    1e-7,
                    why,
                );
            }
        }
    });
}

fn row<T: Copy + Into<f64>>(v: &[T]) -> Array2<f64> {
    Array2::from_shape_vec((1, v.len()), v.iter().map(|&x| x.into()).collect()).unwrap()
}

#[test]
fn frame_features_match_librosa() {
    each_isa("frame_features_match_librosa", || {
        use tuneprint::features::spectral;
        let freqs = spectral::fft_frequencies(22050.0, 2048);
        for (name, dir, y) in cases() {
            let mag = stft::magnitude(&stft::stft(&y, 2048, 512));
            let rms = spectral::rms(&y, 2048, 512);
            assert_close(&name, "rms", &row(&rms), &npy2(&dir, "rms"), 1e-6, 0.0,
                "RMS is computed in f32 with numpy's summation order, so it is bit-exact up to rare last-bit differences");
            let zcr = spectral::zero_crossing_rate(&y, 2048, 512);
            assert_close(
                &name,
                "zcr",
                &row(&zcr),
                &npy2(&dir, "zcr"),
                0.0,
                0.0,
                "zero crossings are counts, exact",
            );
            let centroid = spectral::spectral_centroid(mag.view(), &freqs);
            assert_close(
                &name,
                "centroid",
                &row(&centroid),
                &npy2(&dir, "centroid"),
                1e-5,
                1e-7,
                "the f32 magnitudes may differ by 1 ulp from numpy's FFT, the rest is f64",
            );
            let bandwidth = spectral::spectral_bandwidth(mag.view(), &freqs, &centroid);
            assert_close(
                &name,
                "bandwidth",
                &row(&bandwidth),
                &npy2(&dir, "bandwidth"),
                1e-5,
                1e-7,
                "the f32 magnitudes may differ by 1 ulp from numpy's FFT, the rest is f64",
            );
            let rolloff = spectral::spectral_rolloff(mag.view(), &freqs, 0.85);
            assert_close(
                &name,
                "rolloff",
                &row(&rolloff),
                &npy2(&dir, "rolloff"),
                0.0,
                0.0,
                "the rolloff is a bin frequency picked by an f32 running sum done in numpy's order",
            );
        }
    });
}

#[test]
fn mel_filter_bank_is_librosas_bit_for_bit() {
    each_isa("mel_filter_bank_is_librosas_bit_for_bit", || {
        let bank = tuneprint::features::mel::mel_filters(22050.0, 2048, 128);
        let bytes: Vec<f32> = bank.iter().copied().collect();
        // FNV-1a 64 of librosa.filters.mel(22050, 2048).astype('<f4').tobytes() (librosa 0.8.1).
        assert_eq!(
            format!("{:016x}", fnv1a64(&bytes)),
            literals()["mel_filter_bank_fnv1a64"].as_str().unwrap(),
            "mel filter bank differs from librosa's float32 bank"
        );
    });
}

#[test]
fn melspectrogram_db_matches_librosa() {
    each_isa("melspectrogram_db_matches_librosa", || {
        use tuneprint::features::mel;
        for (name, dir, y) in cases() {
            let power = stft::power(&stft::stft(&y, 2048, 512));
            let mut db = mel::melspectrogram(power.view(), 22050.0, 128);
            mel::power_to_db_inplace(&mut db);
            let reference = npy2(&dir, "melspec_db");
            assert_close(&name, "melspec_db", &to_f64(&db), &reference, 0.0, 1e-6,
                "values are dB (an absolute scale): 1e-6 of the largest |dB| allows the f32 rounding of numpy's sgemm (which sums in f32) and of log10");
        }
    });
}

#[test]
fn mfcc_matches_librosa() {
    each_isa("mfcc_matches_librosa", || {
        use tuneprint::features::{mel, mfcc};
        for (name, dir, y) in cases() {
            let power = stft::power(&stft::stft(&y, 2048, 512));
            let mut db = mel::melspectrogram(power.view(), 22050.0, 128);
            mel::power_to_db_inplace(&mut db);
            let m = mfcc::mfcc(db.view(), 20);
            let reference = npy2(&dir, "mfcc");
            assert_close(&name, "mfcc", &to_f64(&m), &reference, 0.0, 1e-6,
                "scipy's DCT of float32 runs in float32 (ours in f64, rounded once), so errors scale with the largest coefficient of the array");
        }
    });
}

#[test]
fn tuning_matches_librosa() {
    each_isa("tuning_matches_librosa", || {
        use tuneprint::features::chroma;
        for (name, dir, y) in cases() {
            // The recipe's `tuning` is estimate_tuning(y=y): piptrack on the magnitude |S|.
            let mag = stft::magnitude(&stft::stft(&y, 2048, 512));
            let tuning = chroma::estimate_tuning(mag.view(), 22050.0, 2048, 12);
            let reference = npy2(&dir, "tuning")[[0, 0]];
            assert_eq!(
                tuning, reference,
                "{name}: tuning is a histogram bin edge, it must be exact"
            );
        }
    });
}

#[test]
fn chroma_matches_librosa() {
    each_isa("chroma_matches_librosa", || {
        use tuneprint::features::chroma;
        for (name, dir, y) in cases() {
            let power = stft::power(&stft::stft(&y, 2048, 512));
            let (c, tuning) = chroma::chroma_stft(power.view(), 22050.0, 12);
            // chroma_stft estimates the tuning from the power spectrogram it is given, not from |S|
            // as the recipe's `tuning` output: librosa 0.8.1's values of
            // estimate_tuning(S=np.abs(stft(y))**2, sr=22050, bins_per_octave=12).
            let expected = literals()["chroma_tuning"][&name].as_f64().unwrap();
            assert_eq!(
                tuning, expected,
                "{name}: chroma's tuning (a histogram bin edge) must be exact"
            );
            assert_close(&name, "chroma", &to_f64(&c), &npy2(&dir, "chroma"), 1e-5, 1e-6,
                "chroma is in [0, 1]; numpy's sgemm sums in f32 (ours in f64), and each frame is divided by its maximum");
        }
    });
}

/// Population standard deviation of each feature column over the GTZAN table.
fn gtzan_sigma() -> Vec<f64> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("features/features_30_sec.csv");
    let recs =
        tuneprint::table::read_csv(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (0..tuneprint::features::N_FEATURES)
        .map(|j| {
            let n = recs.len() as f64;
            let m = recs.iter().map(|r| r.features[j]).sum::<f64>() / n;
            (recs
                .iter()
                .map(|r| (r.features[j] - m).powi(2))
                .sum::<f64>()
                / n)
                .sqrt()
        })
        .collect()
}

/// Asserts every one of the 57 columns within 1e-5·|ref| + 1e-5·σ_column; prints the worst.
fn assert_row(name: &str, ours: &[f64], reference: &[f64], sigma: &[f64]) {
    use tuneprint::features::FEATURE_COLUMNS;
    let mut worst = (0.0f64, "");
    for (j, col) in FEATURE_COLUMNS.iter().enumerate() {
        let (a, b) = (ours[j], reference[j]);
        let tol = 1e-5 * b.abs() + 1e-5 * sigma[j];
        assert!(
            (a - b).abs() <= tol,
            "{name} {col}: ours {a:e} vs librosa {b:e}, tolerance 1e-5·|ref| + 1e-5·σ_column \
             ({tol:e}; σ over the GTZAN table): ten times tighter than the acceptance rule \
             (1e-4·|ref| + 1e-3·σ), room for the f32 rounding of librosa's sgemm and DCT"
        );
        if (a - b).abs() / sigma[j] > worst.0 {
            worst = ((a - b).abs() / sigma[j], col);
        }
    }
    eprintln!("{name}: worst |err|/σ = {:.2e} ({})", worst.0, worst.1);
}

#[test]
fn compute_matches_the_reference_csv() {
    each_isa("compute_matches_the_reference_csv", || {
        let sigma = gtzan_sigma();
        let reference =
            tuneprint::table::read_csv(&fixtures().join("synthetic/features.csv")).unwrap();
        assert_eq!(reference.len(), SYNTHETIC.len());
        for rec in &reference {
            let name = tuneprint::table::stem(&rec.filename);
            let dir = fixtures().join("synthetic").join(name);
            let y = read_npy::<_, Array1<f32>>(dir.join("y.npy"))
                .unwrap()
                .to_vec();
            assert_eq!(rec.length as usize, y.len());
            let ours = tuneprint::features::compute(&y).unwrap();
            assert_row(name, &ours, &rec.features, &sigma);
        }
    });
}

/// The real clip against its row of the GTZAN table itself (features_30_sec.csv).
#[test]
fn compute_matches_the_gtzan_table_on_a_real_clip() {
    each_isa("compute_matches_the_gtzan_table_on_a_real_clip", || {
        let sigma = gtzan_sigma();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("features/features_30_sec.csv");
        let table = tuneprint::table::read_csv(&path).unwrap();
        let rec = table
            .iter()
            .find(|r| tuneprint::table::stem(&r.filename) == REAL)
            .expect("blues.00000 in the table");
        let y = real_signal();
        assert_eq!(rec.length as usize, y.len());
        let ours = tuneprint::features::compute(&y).unwrap();
        assert_row(REAL, &ours, &rec.features, &sigma);
    });
}

/// Signals far shorter than one frame (1, 2, 100, 500 samples): librosa pads them by repeated
/// reflection and still returns one frame; so must we (tests/fixtures/librosa-0.8.1/tiny).
#[test]
fn compute_matches_librosa_on_signals_shorter_than_half_a_frame() {
    each_isa(
        "compute_matches_librosa_on_signals_shorter_than_half_a_frame",
        || {
            let sigma = gtzan_sigma();
            let dir = fixtures().join("tiny");
            let reference = tuneprint::table::read_csv(&dir.join("features.csv")).unwrap();
            assert_eq!(reference.len(), 4);
            for rec in &reference {
                let name = tuneprint::table::stem(&rec.filename);
                let y = read_npy::<_, Array1<f32>>(dir.join(format!("{name}.npy")))
                    .unwrap()
                    .to_vec();
                assert_eq!(rec.length as usize, y.len());
                let ours = tuneprint::features::compute(&y).unwrap();
                assert!(
                    ours.iter().all(|x| x.is_finite()),
                    "{name}: non-finite feature"
                );
                assert_row(name, &ours, &rec.features, &sigma);
            }
        },
    );
}
