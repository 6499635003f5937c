//! Golden tests of the onset envelope, the tempo and HPSS against librosa 0.8.1 fixtures
//! (`tests/fixtures/librosa-0.8.1`, made by `scripts/make_fixtures.py`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
use ndarray_npy::read_npy;
use tuneprint::features::tempo;

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
    for name in SYNTHETIC {
        let mel = npy2(&synthetic(name, "melspec_db"));
        let expected = npy1(&synthetic(name, "onset_env"));
        let ours = tempo::onset_strength(&mel);
        // Subtraction, rectification and a median of f32 values: bit-exact.
        assert_eq!(ours, expected, "{name}: onset envelope differs");
    }
}

#[test]
fn onset_strength_matches_librosa_real_clip() {
    let mel = npy2(&real("melspec_db"));
    let expected = npy1(&real("onset_env"));
    let ours = tempo::onset_strength(&mel);
    let (d, i) = max_abs_diff(&ours, &expected);
    assert_eq!(
        d, 0.0,
        "blues.00000: onset envelope differs at frame {i} by {d}"
    );
}

#[test]
fn tempo_matches_librosa_synthetic() {
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
}

#[test]
fn tempo_matches_reference_csv_real_clip() {
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
}
