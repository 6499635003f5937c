//! End to end through the binary: classify songs from raw audio (windowing, bad files),
//! embed a library, recommend similar songs. One small model (3 epochs, the committed songs
//! held out) is trained once for all tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const BIN: &str = env!("CARGO_BIN_EXE_tuneprint");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tuneprint(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root())
        .output()
        .expect("run tuneprint")
}

fn stdout_json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// A model trained once (3 epochs, without the committed songs), shared by the tests.
fn model() -> &'static str {
    static DIR: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    &DIR.get_or_init(|| {
        // `tuneprint train` runs in tuneprint-torch, the workspace member `torch/`: `cargo test
        // --workspace` (scripts/test.sh) builds it beside tuneprint.
        let torch = Path::new(BIN).with_file_name("tuneprint-torch");
        assert!(
            torch.exists(),
            "{} is missing: run scripts/setup.sh (or `cargo build --release -p tuneprint-torch`) \
             before these tests",
            torch.display()
        );
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("model").display().to_string();
        let o = tuneprint(&[
            "train",
            "--arch",
            "paper",
            "--seeds",
            "0",
            "--max-epochs",
            "3",
            "--exclude",
            "features/demo_holdout.txt",
            "-o",
            &dir,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (t, dir)
    })
    .1
}

fn write_wav(path: &Path, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample((s * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// `seconds` of a committed clip, repeated as needed.
fn clip_seconds(seconds: usize) -> Vec<f32> {
    let mut r = hound::WavReader::open(root().join("audio/jazz.00000.wav")).unwrap();
    let base: Vec<f32> = r
        .samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect();
    base.iter().cycle().take(seconds * 22050).copied().collect()
}

#[test]
fn classify_committed_songs_as_json() {
    let o = tuneprint(&["classify", "audio/", "--model", model(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = stdout_json(&o);
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 9, "8 .wav clips and one .au");
    for p in list {
        let probs = p["probabilities"].as_object().unwrap();
        assert_eq!(probs.len(), 10);
        let sum: f64 = probs.values().map(|x| x.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "probabilities sum to {sum}");
        let best = probs
            .iter()
            .max_by(|a, b| a.1.as_f64().partial_cmp(&b.1.as_f64()).unwrap())
            .unwrap()
            .0;
        assert_eq!(p["genre"].as_str().unwrap(), best);
        assert_eq!(p["windows"], 1);
    }
    // The .au and the .wav of blues.00000 hold the same samples: same verdict, same numbers.
    assert_eq!(list[0]["file"], "audio/blues.00000.au");
    assert_eq!(list[1]["file"], "audio/blues.00000.wav");
    assert_eq!(list[0]["probabilities"], list[1]["probabilities"]);
}

#[test]
fn three_minute_mp3_is_classified_in_six_windows() {
    let o = tuneprint(&[
        "classify",
        "tests/fixtures/long/three_minutes_44k_stereo.mp3",
        "--model",
        model(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = stdout_json(&o);
    // 180.04 s: six 30 s windows; the 0.04 s tail is shorter than 10 s and dropped.
    assert_eq!(v[0]["windows"], 6);
}

#[test]
fn corrupt_file_in_a_folder_is_reported_and_the_rest_classified() {
    let t = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("audio/rock.00000.wav"),
        t.path().join("rock.00000.wav"),
    )
    .unwrap();
    std::fs::copy(
        root().join("audio/pop.00000.wav"),
        t.path().join("pop.00000.wav"),
    )
    .unwrap();
    std::fs::write(
        t.path().join("broken.wav"),
        b"RIFF\x10\x00\x00\x00WAVEjunkjunk",
    )
    .unwrap();
    let dir = t.path().display().to_string();
    let o = tuneprint(&["classify", &dir, "--model", model(), "--json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a failure must show in the exit status"
    );
    let v = stdout_json(&o);
    let files: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 2);
    assert!(files[0].ends_with("pop.00000.wav") && files[1].ends_with("rock.00000.wav"));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("broken.wav")).collect();
    assert_eq!(lines.len(), 1, "one line naming the bad file: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
}

#[test]
fn extract_windows_at_the_boundaries() {
    let t = tempfile::tempdir().unwrap();
    for s in [29, 30, 45, 70] {
        write_wav(&t.path().join(format!("jazz.{s:05}.wav")), &clip_seconds(s));
    }
    let out = t.path().join("w.csv");
    let o = tuneprint(&[
        "extract",
        &t.path().display().to_string(),
        "--window",
        "30",
        "-o",
        &out.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = tuneprint::table::read_csv(&out).unwrap();
    let got: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| (r.filename.as_str(), r.length))
        .collect();
    let w = 30 * 22050;
    assert_eq!(
        got,
        vec![
            ("jazz.00029.0.wav", 29 * 22050),
            ("jazz.00030.0.wav", w),
            ("jazz.00045.0.wav", w),
            ("jazz.00045.1.wav", 15 * 22050),
            ("jazz.00070.0.wav", w),
            ("jazz.00070.1.wav", w),
            ("jazz.00070.2.wav", 10 * 22050),
        ]
    );
    assert!(rows.iter().all(|r| r.label == "jazz"));
    // A window of a song equals the whole of a song with those samples.
    assert_eq!(rows[1].features, rows[4].features);
}

#[test]
fn recommend_a_library_song_and_an_audio_file() {
    for query in ["jazz.00098", "audio/rock.00000.wav"] {
        let o = tuneprint(&["recommend", query, "--model", model(), "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v = stdout_json(&o);
        assert_eq!(v["query"], query);
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), 5);
        let stem = tuneprint::table::stem(query);
        let mut last = f64::INFINITY;
        for r in results {
            let f = r["filename"].as_str().unwrap();
            assert_ne!(
                tuneprint::table::stem(f),
                stem,
                "the query itself is never returned"
            );
            let s = r["similarity"].as_f64().unwrap();
            assert!(s <= last && (-1.0..=1.0 + 1e-9).contains(&s));
            last = s;
            assert_eq!(r["label"].as_str().unwrap(), f.split('.').next().unwrap());
        }
    }
    let o = tuneprint(&["recommend", "jazz.00098", "-k", "3", "--model", model()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with(char::is_numeric))
            .count(),
        3
    );
}

#[test]
fn unknown_library_song_is_a_clear_error() {
    let o = tuneprint(&["recommend", "jazz.00999", "--model", model()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`jazz.00999` is not a song of the library"),
        "{err}"
    );
    let o = tuneprint(&["recommend", "no/such/song.mp3", "--model", model()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no/such/song.mp3: no such audio file"));
}

#[test]
fn missing_model_is_a_clear_error() {
    let o = tuneprint(&[
        "classify",
        "audio/rock.00000.wav",
        "--model",
        "/nonexistent/model",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/model"));
}

#[test]
fn embed_writes_npy_and_index() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("emb.npy");
    let o = tuneprint(&[
        "embed",
        "--model",
        model(),
        "-o",
        &out.display().to_string(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = stdout_json(&o);
    assert_eq!(v["songs"], 1000);
    assert_eq!(v["dimension"], 3328);
    let lib = tuneprint::recommend::Embeddings::load(&out).unwrap();
    assert_eq!(lib.len(), 1000);
    assert_eq!(lib.filenames[0], "blues.00000.au");
    assert_eq!(lib.labels[999], "rock");
    assert!(lib.vectors.iter().all(|v| v.len() == 3328));
}

/// `embed --layer LAYER` of the whole library with the shared model, checked for its width.
fn embed_layer(layer: &str, dimension: usize) -> tuneprint::recommend::Embeddings {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("e.npy");
    let o = tuneprint(&[
        "embed",
        "--model",
        model(),
        "--layer",
        layer,
        "-o",
        &out.display().to_string(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout_json(&o)["dimension"], dimension);
    tuneprint::recommend::Embeddings::load(&out).unwrap()
}

#[test]
fn probability_embedding_is_the_models_class_probabilities() {
    let lib = embed_layer("probabilities", 10);
    assert_eq!(lib.len(), 1000);
    for v in &lib.vectors {
        let sum: f32 = v.iter().sum();
        assert!(
            (sum - 1.0).abs() < 1e-4 && v.iter().all(|&p| p >= 0.0),
            "{v:?}"
        );
    }
    // The same numbers as the classifier's, for a library song.
    let rows = tuneprint::table::read_csv(&root().join("features/features_30_sec.csv")).unwrap();
    let clf = tuneprint::model::Classifier::load(std::path::Path::new(model())).unwrap();
    let p = clf.predict_proba(&[rows[500].features]);
    for (a, b) in p[0].iter().zip(&lib.vectors[500]) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    let o = tuneprint(&[
        "recommend",
        "jazz.00098",
        "--model",
        model(),
        "--layer",
        "probabilities",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout_json(&o)["results"].as_array().unwrap().len(), 5);
}

#[test]
fn combined_embedding_is_dense_and_probabilities_at_unit_length() {
    let lib = embed_layer("combined", 138);
    let rows = tuneprint::table::read_csv(&root().join("features/features_30_sec.csv")).unwrap();
    let clf = tuneprint::model::Classifier::load(std::path::Path::new(model())).unwrap();
    let i = 321;
    let dense = &clf.embed_dense(&[rows[i].features])[0];
    let proba = &clf.predict_proba(&[rows[i].features])[0];
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let (d, p) = lib.vectors[i].split_at(128);
    assert!((norm(p) - 1.0).abs() < 1e-5);
    for (a, b) in p.iter().zip(proba) {
        assert!((a - b / norm(proba)).abs() < 1e-6);
    }
    if norm(dense) > 0.0 {
        assert!((norm(d) - 1.0).abs() < 1e-5);
        for (a, b) in d.iter().zip(dense) {
            assert!((a - b / norm(dense)).abs() < 1e-6);
        }
    }
}
