//! Figures and the report page: every file is written and is a PNG of the stated size, the numbers
//! behind the pictures come from the inputs, missing pieces are skipped with a note, missing
//! explicit inputs fail with a clear error.
//!
//! Set `REPORT_TEST_OUT=DIR` to keep the figures of `full_report_writes_every_figure` in DIR.

use ndarray::Array2;
use ndarray_npy::read_npy;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use tuneprint::config::GENRES;
use tuneprint::features::{FEATURE_COLUMNS, N_FEATURES};
use tuneprint::recommend::Embeddings;
use tuneprint::report::bars::BARS_SIZE;
use tuneprint::report::confusion::{draw_confusion, Confusion, CONFUSION_SIZE};
use tuneprint::report::curves::{read_history, CURVE_SIZE};
use tuneprint::report::heatmap::{
    correlation_matrix, draw_correlation, mean_features, CORRELATION_SIZE,
};
use tuneprint::report::inputs::ModelDir;
use tuneprint::report::page::{write_report, FeatureTable, MelInput, ReportInputs};
use tuneprint::report::spectrogram::{draw_mel_spectrogram, MEL_SIZE};
use tuneprint::report::{png_size, ReportError};
use tuneprint::table::{self, Record};

const FIXTURES: &str = "tests/fixtures/librosa-0.8.1";

/// Reads a PNG fully (decoding checks every chunk's CRC and the zlib stream) and returns its size
/// from the header.
fn png_dims(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = png_size(&bytes).unwrap_or_else(|| panic!("{}: not a PNG", path.display()));
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG image data");
    assert_eq!((info.width, info.height), header);
    header
}

/// The agreed confusion CSV of a matrix.
/// Decoded RGB pixels of a PNG.
fn png_rgb(path: &Path) -> Vec<[u8; 3]> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf[..info.buffer_size()]
        .chunks(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect()
}

fn confusion_csv(counts: &[[u64; 10]; 10]) -> String {
    let mut s = format!("true,{}\n", GENRES.join(","));
    for (g, row) in GENRES.iter().zip(counts) {
        let cells: Vec<String> = row.iter().map(u64::to_string).collect();
        let _ = writeln!(s, "{g},{}", cells.join(","));
    }
    s
}

fn synthetic_counts(shift: u64) -> [[u64; 10]; 10] {
    let mut c = [[0u64; 10]; 10];
    for (t, row) in c.iter_mut().enumerate() {
        for (p, v) in row.iter_mut().enumerate() {
            *v = if t == p {
                20 + 3 * t as u64 + shift
            } else {
                ((t * 7 + p * 3) as u64 + shift) % 5
            };
        }
    }
    c
}

fn history_csv(epochs: u32, shift: f64) -> String {
    let mut s = String::from("epoch,train_loss,train_accuracy,val_loss,val_accuracy\n");
    for e in 1..=epochs {
        let x = e as f64;
        let _ = writeln!(
            s,
            "{e},{},{},{},{}",
            2.3 * (-x / 10.0).exp() + 0.05,
            1.0 - 0.9 * (-x / 8.0).exp(),
            2.3 * (-x / 9.0).exp() + 0.6 + 0.004 * x + shift,
            0.72 - 0.6 * (-x / 6.0).exp() - shift,
        );
    }
    s
}

const ACCURACIES: [f64; 3] = [0.712, 0.698, 0.731];

/// Writes a complete model directory in the agreed format (with embeddings).
fn write_model_dir(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let per_genre: serde_json::Map<String, serde_json::Value> = GENRES
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let p = 0.5 + 0.04 * i as f64;
            (
                g.to_string(),
                serde_json::json!({"precision": p, "recall": p - 0.02, "f1": p - 0.01}),
            )
        })
        .collect();
    let evaluation = serde_json::json!({
        "protocol": "fault_filtered",
        "arch": "paper",
        "accuracies": ACCURACIES,
        "mean_accuracy": 0.7136666666666667,
        "std_accuracy": 0.013523,
        "seeds": [11, 12, 13],
        "epochs": [40, 38, 41],
        "best_epochs": [35, 30, 39],
        "test_size": 290,
        "note": "validation songs share artists with test songs",
        "per_genre": per_genre,
    });
    let model = serde_json::json!({
        "format_version": 1,
        "arch": "paper",
        "feature_columns": FEATURE_COLUMNS.to_vec(),
        "scaler_mean": vec![0.0; N_FEATURES],
        "scaler_std": vec![1.0; N_FEATURES],
        "genres": GENRES,
        "protocol": "fault_filtered",
        "seeds": [1, 2, 3],
        "epochs_trained": 40,
        "created_by": "tuneprint 0.1.0",
        "weights": "model.safetensors",
        "metrics": evaluation,
    });
    let baselines = serde_json::json!({
        "protocol": "fault_filtered",
        "seeds": [1, 2, 3],
        "models": [
            {"name": "svm_rbf", "accuracies": [0.66, 0.65, 0.67], "mean_accuracy": 0.66, "std_accuracy": 0.008165},
            {"name": "logistic", "accuracies": [0.60, 0.61, 0.59], "mean_accuracy": 0.60, "std_accuracy": 0.008165},
            {"name": "random_forest", "accuracies": [0.63, 0.64, 0.62], "mean_accuracy": 0.63, "std_accuracy": 0.008165},
        ],
    });
    std::fs::write(dir.join("model.json"), model.to_string()).unwrap();
    std::fs::write(dir.join("evaluation.json"), evaluation.to_string()).unwrap();
    std::fs::write(dir.join("baselines.json"), baselines.to_string()).unwrap();
    std::fs::write(dir.join("history.csv"), history_csv(40, 0.0)).unwrap();
    let mut total = [[0u64; 10]; 10];
    for (k, seed) in [1u64, 2, 3].iter().enumerate() {
        let run = dir.join(format!("runs/seed-{seed}"));
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("history.csv"),
            history_csv(38 + k as u32, 0.01 * k as f64),
        )
        .unwrap();
        let c = synthetic_counts(k as u64);
        for t in 0..10 {
            for p in 0..10 {
                total[t][p] += c[t][p];
            }
        }
        std::fs::write(run.join("confusion.csv"), confusion_csv(&c)).unwrap();
    }
    std::fs::write(dir.join("confusion.csv"), confusion_csv(&total)).unwrap();
    // Embeddings: song i of genre g points mostly along axis g.
    let mut lib = Embeddings {
        filenames: Vec::new(),
        labels: Vec::new(),
        vectors: Vec::new(),
    };
    for (g, genre) in GENRES.iter().enumerate() {
        for i in 0..4 {
            let mut v = vec![0.05f32 * i as f32; 10];
            v[g] = 1.0;
            v[(g + 1) % 10] = 0.1 * i as f32;
            lib.filenames.push(format!("{genre}.{i:05}.au"));
            lib.labels.push(genre.to_string());
            lib.vectors.push(v);
        }
    }
    lib.save(&dir.join("embeddings.npy")).unwrap();
}

/// A small feature table: deterministic pseudo-random features, with `rms_mean` an exact affine
/// function of `chroma_stft_mean` and `tempo` its negative.
fn synthetic_records(n: usize) -> Vec<Record> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let col = |name: &str| FEATURE_COLUMNS.iter().position(|c| *c == name).unwrap();
    (0..n)
        .map(|i| {
            let mut f = [0.0; N_FEATURES];
            for v in f.iter_mut() {
                *v = next() * 100.0;
            }
            f[col("rms_mean")] = 2.0 * f[col("chroma_stft_mean")] + 3.0;
            f[col("tempo")] = -f[col("chroma_stft_mean")];
            Record {
                filename: format!("{}.{:05}.au", GENRES[i % 10], i / 10),
                length: 661_794,
                features: f,
                label: GENRES[i % 10].to_string(),
            }
        })
        .collect()
}

fn fixture_mel() -> MelInput {
    let db: Array2<f32> = read_npy(Path::new(FIXTURES).join("real/blues.00000/melspec_db.npy"))
        .expect("melspec_db fixture");
    MelInput {
        file_name: "blues.00000.wav".into(),
        stem: "blues.00000".into(),
        db,
        sample_rate: 22_050,
        hop: 512,
    }
}

fn out_dir(tmp: &Path) -> PathBuf {
    std::env::var_os("REPORT_TEST_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.join("report"))
}

#[test]
fn full_report_writes_every_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let model_dir = tmp.path().join("models/cnn");
    write_model_dir(&model_dir);
    let csv = Path::new("features/features_30_sec.csv");
    let out = out_dir(tmp.path());
    let model = ModelDir::load(&model_dir).unwrap();
    assert!(model.notes.is_empty(), "{:?}", model.notes);
    assert_eq!(model.runs.len(), 3);
    let lib = Embeddings::load(&model_dir.join("embeddings.npy")).unwrap();
    let hits = lib.recommend_for("blues.00000", 5).unwrap();
    let inputs = ReportInputs {
        out_dir: out.clone(),
        features: Some(FeatureTable {
            path: csv.to_path_buf(),
            records: table::read_csv(csv).unwrap(),
        }),
        model: Some(model),
        mel: Some(fixture_mel()),
        recommendations: vec![tuneprint::report::page::Recommendations {
            query: "blues.00000.au".into(),
            genre: "blues".into(),
            similar: hits
                .iter()
                .map(|h| tuneprint::report::page::Recommended {
                    song: h.filename.clone(),
                    genre: h.label.clone(),
                    similarity: h.similarity,
                })
                .collect(),
        }],
        notes: Vec::new(),
    };
    let written = write_report(&inputs).unwrap();
    assert!(written.notes.is_empty(), "{:?}", written.notes);
    let expected = [
        ("mel_blues.00000.png", MEL_SIZE),
        ("correlation.png", CORRELATION_SIZE),
        ("baselines.png", BARS_SIZE),
        ("confusion.png", CONFUSION_SIZE),
        ("accuracy.png", CURVE_SIZE),
        ("loss.png", CURVE_SIZE),
    ];
    for (name, size) in expected {
        let p = out.join(name);
        assert!(written.files.contains(&p), "{name} not listed");
        assert_eq!(png_dims(&p), size, "{name}");
        // What each figure draws, in pixels: ink (not white), colours, and saturated reddish and
        // bluish pixels. The bounds sit about half-way below the drawn figures' counts
        // (2026-12-03), far above a blank figure or one with a series missing.
        let px = png_rgb(&p);
        let ink = px.iter().filter(|c| **c != [255, 255, 255]).count() as f64 / px.len() as f64;
        let colours = px.iter().collect::<std::collections::HashSet<_>>().len();
        let red = px
            .iter()
            .filter(|[r, _, b]| *r as i32 - *b as i32 > 80)
            .count();
        let blue = px
            .iter()
            .filter(|[r, _, b]| *b as i32 - *r as i32 > 80)
            .count();
        let ok = match name {
            // The spectrogram fills its frame with a warm colour map.
            n if n.starts_with("mel_") => ink > 0.4 && colours >= 300 && red >= 50_000,
            // Positive (red) and negative (blue) correlations both drawn.
            "correlation.png" => red >= 80_000 && blue >= 20_000 && colours >= 300,
            // The cells in shades of blue.
            "confusion.png" => blue >= 25_000 && colours >= 300,
            // Bars: checked below.
            "baselines.png" => ink > 0.2,
            // Two curves (training and validation: one reddish, one bluish), thin lines on white.
            _ => red >= 1_500 && blue >= 1_500 && ink < 0.2,
        };
        assert!(
            ok,
            "{name}: ink {ink:.3}, {colours} colours, {red} red and {blue} blue pixels"
        );
    }
    assert!(written.files.contains(&out.join("report.md")));
    assert!(written.files.contains(&out.join("report.html")));
    assert_eq!(written.files.len(), expected.len() + 2);

    // The CNN's bar is the coloured one (blue), the baselines' are grey: a bar of about
    // 130 x 400 pixels.
    let blue = png_rgb(&out.join("baselines.png"))
        .iter()
        .filter(|[r, _, b]| *b as i32 - *r as i32 > 80)
        .count();
    assert!((30_000..80_000).contains(&blue), "{blue} blue pixels");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for (name, _) in expected {
        assert!(md.contains(&format!("]({name})")), "{name} not embedded");
    }
    // Accuracy over seeds (mean ± std and each seed), baselines, per-genre scores.
    assert!(md.contains("**71.4 %** ± 1.4 %"), "{md}");
    // Seeds from evaluation.json (model.json's [1, 2, 3] is the fallback), epochs run and kept.
    assert!(md.contains("| 11 | 71.2 % | 40 | 35 |"), "{md}");
    assert!(md.contains("| 13 | 73.1 % | 41 | 39 |"), "{md}");
    assert!(md.contains("Note from `train`: validation songs share artists with test songs"));
    assert!(
        md.contains("| svm_rbf | 66.0 % | 0.8 % | 66.0 %, 65.0 %, 67.0 % |"),
        "{md}"
    );
    assert!(md.contains("| blues | 0.500 | 0.480 | 0.490 |"), "{md}");
    assert!(md.contains("| rock | 0.860 | 0.840 | 0.850 |"), "{md}");
    // Confusion totals: diagonal 3 * (20 + 3t) + 0 + 1 + 2 summed over t; see synthetic_counts.
    let c = Confusion::read(&model_dir.join("confusion.csv")).unwrap();
    let diag: u64 = (0..10u64).map(|t| 3 * (20 + 3 * t) + 3).sum();
    assert_eq!(c.correct(), diag);
    assert!(md.contains(&format!(
        "{} test predictions, 3 seeds summed; {diag} correct",
        c.total()
    )));
    // Strongest pair of the real table: spectral_centroid and rolloff, r as numpy computes it
    // (scripts/make_fixtures.py), listed with three decimals.
    let lit: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new("tests/fixtures/librosa-0.8.1/literals.json")).unwrap(),
    )
    .unwrap();
    let r = lit["correlation_spectral_centroid_rolloff"]
        .as_f64()
        .unwrap();
    assert!(
        md.contains(&format!("| spectral_centroid | rolloff | {r:+.3} |")),
        "{md}"
    );
    // Recommendations of blues.00000: its own genre first, never itself.
    assert!(md.contains("More like blues.00000.au (blues)"));
    assert!(md.contains("| 1 | blues.00001.au | blues |"), "{md}");
    assert!(!md.contains("| blues.00000.au |"));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<img src=\"confusion.png\""));
    assert!(html.contains("<td class=\"num\">71.2 %</td>"));
}

#[test]
fn correlation_of_perfectly_correlated_columns_is_one() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("t.csv");
    table::write_csv(&csv, &synthetic_records(50)).unwrap();
    let records = table::read_csv(&csv).unwrap();
    let (labels, data) = mean_features(&records);
    assert_eq!(labels.len(), 29);
    let ix = |n: &str| labels.iter().position(|l| l == n).unwrap();
    let r = correlation_matrix(&data);
    let (chroma, rms, tempo, mfcc1) = (ix("chroma_stft"), ix("rms"), ix("tempo"), ix("mfcc1"));
    assert!(
        (r[[chroma, rms]] - 1.0).abs() < 1e-12,
        "{}",
        r[[chroma, rms]]
    );
    assert!((r[[rms, chroma]] - 1.0).abs() < 1e-12);
    assert!((r[[chroma, tempo]] + 1.0).abs() < 1e-12);
    for i in 0..labels.len() {
        assert_eq!(r[[i, i]], 1.0);
    }
    // Independent columns: far from ±1 (50 samples).
    assert!(r[[chroma, mfcc1]].abs() < 0.5, "{}", r[[chroma, mfcc1]]);
    let png = tmp.path().join("correlation.png");
    draw_correlation(&png, &labels, &r, "test").unwrap();
    assert_eq!(png_dims(&png), CORRELATION_SIZE);
}

#[test]
fn correlation_matches_numpy_on_the_real_table() {
    let records = table::read_csv(Path::new("features/features_30_sec.csv")).unwrap();
    let (labels, data) = mean_features(&records);
    let r = correlation_matrix(&data);
    let ix = |n: &str| labels.iter().position(|l| l == n).unwrap();
    // numpy.corrcoef of the same 29 columns.
    let expect = [
        ("spectral_centroid", "rolloff", 0.9796372839713282),
        ("tempo", "mfcc2", 0.019217825030094126),
        ("spectral_centroid", "mfcc2", -0.940180432582562),
    ];
    for (a, b, v) in expect {
        assert!(
            (r[[ix(a), ix(b)]] - v).abs() < 1e-12,
            "{a}/{b}: {}",
            r[[ix(a), ix(b)]]
        );
    }
}

#[test]
fn confusion_figure_numbers_come_from_the_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("confusion.csv");
    let mut counts = synthetic_counts(0);
    counts[0][1] = 10; // ten blues songs predicted as classical
    std::fs::write(&path, confusion_csv(&counts)).unwrap();
    let c = Confusion::read(&path).unwrap();
    assert_eq!(c.labels, GENRES.map(String::from).to_vec());
    let expected: Vec<Vec<u64>> = counts.iter().map(|r| r.to_vec()).collect();
    assert_eq!(c.counts, expected);
    assert_eq!(c.counts[0][1], 10);
    assert_eq!(c.counts[9][9], 47);
    let scores = c.per_class();
    // blues row: 20 + (10,1,4,2,0,3,1,4,2) = 47 songs, 20 right.
    assert_eq!(scores[0].support, 47);
    assert!((scores[0].recall - 20.0 / 47.0).abs() < 1e-12);
    // classical column: 23 + 10 + (2,4,1,3,0,2,4,1) = 50 predictions, 23 right.
    assert!((scores[1].precision - 23.0 / 50.0).abs() < 1e-12);
    let f1 = 2.0 * (23.0 / 50.0) * scores[1].recall / (23.0 / 50.0 + scores[1].recall);
    assert!((scores[1].f1 - f1).abs() < 1e-12);
    let png = tmp.path().join("confusion.png");
    draw_confusion(&png, &c, "test").unwrap();
    assert_eq!(png_dims(&png), CONFUSION_SIZE);
}

#[test]
fn missing_pieces_are_skipped_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    write_model_dir(&dir);
    for f in [
        "baselines.json",
        "history.csv",
        "evaluation.json",
        "embeddings.npy",
    ] {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    std::fs::remove_dir_all(dir.join("runs")).unwrap();
    let model = ModelDir::load(&dir).unwrap();
    // evaluation.json is missing: model.json's metrics stand in.
    assert_eq!(model.evaluation.as_ref().unwrap().accuracies, ACCURACIES);
    let out = tmp.path().join("out");
    let written = write_report(&ReportInputs {
        out_dir: out.clone(),
        model: Some(model),
        ..Default::default()
    })
    .unwrap();
    let names: Vec<String> = written
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["confusion.png", "report.md", "report.html"]);
    let notes = written.notes.join("\n");
    assert!(notes.contains("baselines.json not found"), "{notes}");
    assert!(notes.contains("history.csv not found"), "{notes}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Skipped"));
    assert!(md.contains("baselines.json not found: baseline comparison left out"));
}

#[test]
fn missing_or_broken_inputs_give_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let e = ModelDir::load(&missing).unwrap_err().to_string();
    assert!(
        e.contains("nope") && e.contains("model directory not found"),
        "{e}"
    );
    let e = Confusion::read(&missing.join("confusion.csv"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("confusion.csv: cannot read"), "{e}");

    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = ModelDir::load(&empty).unwrap_err().to_string();
    assert!(e.contains("not a model directory"), "{e}");

    let dir = tmp.path().join("m");
    write_model_dir(&dir);
    std::fs::write(dir.join("history.csv"), "epoch,train_loss\n1,0.5\n").unwrap();
    let e = ModelDir::load(&dir).unwrap_err().to_string();
    assert!(
        e.contains("history.csv: missing column `train_accuracy`"),
        "{e}"
    );
    std::fs::write(dir.join("history.csv"), history_csv(3, 0.0)).unwrap();
    std::fs::write(dir.join("baselines.json"), "{\"models\": 3}").unwrap();
    let e = ModelDir::load(&dir).unwrap_err();
    assert!(matches!(e, ReportError::Invalid { .. }));
    assert!(
        e.to_string()
            .contains("baselines.json: not the expected JSON"),
        "{e}"
    );
    assert_eq!(read_history(&dir.join("history.csv")).unwrap().len(), 3);

    let e = draw_mel_spectrogram(
        &tmp.path().join("x.png"),
        Array2::<f32>::zeros((0, 0)).view(),
        22_050,
        512,
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("x.png: cannot draw: empty spectrogram"), "{e}");
}

fn tuneprint(dir: &Path, args: &[&str]) -> std::process::Output {
    // The default model folder is $TUNEPRINT_HOME/models/default: a home inside `dir`.
    Command::new(env!("CARGO_BIN_EXE_tuneprint"))
        .current_dir(dir)
        .env("TUNEPRINT_HOME", dir.join("home"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_report_and_its_errors() {
    let tmp = tempfile::tempdir().unwrap();
    write_model_dir(&tmp.path().join("home/models/default"));
    table::write_csv(&tmp.path().join("f.csv"), &synthetic_records(30)).unwrap();

    // Explicit inputs must exist.
    let o = tuneprint(tmp.path(), &["report", "--features", "missing.csv"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("missing.csv: cannot read"), "{err}");
    let o = tuneprint(tmp.path(), &["report", "--model", "no/such/dir"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no/such/dir: cannot read: model directory not found"),
        "{err}"
    );
    let o = tuneprint(tmp.path(), &["spectrogram", "missing.wav"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.wav"));

    // Default model dir (found), explicit features, default clip (missing here: a note).
    let o = tuneprint(
        tmp.path(),
        &["report", "--features", "f.csv", "-o", "out", "--json"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let files: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "out/correlation.png",
            "out/baselines.png",
            "out/confusion.png",
            "out/accuracy.png",
            "out/loss.png",
            "out/report.md",
            "out/report.html"
        ]
    );
    let skipped = v["skipped"].to_string();
    assert!(skipped.contains("mel spectrogram left out"), "{skipped}");
    assert_eq!(png_dims(&tmp.path().join("out/loss.png")), CURVE_SIZE);
    let md = std::fs::read_to_string(tmp.path().join("out/report.md")).unwrap();
    // Default queries: the first song of blues, classical, hiphop and metal.
    for q in [
        "blues.00000.au",
        "classical.00000.au",
        "hiphop.00000.au",
        "metal.00000.au",
    ] {
        assert!(md.contains(&format!("More like {q}")), "{q}");
    }
    assert!(md.contains("| chroma_stft | rms | +1.000 |"), "{md}");

    // --strict: the same report (the clip left out) is written, and the command fails.
    let o = tuneprint(
        tmp.path(),
        &["report", "--features", "f.csv", "-o", "strict", "--strict"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("skipped: mel spectrogram left out"), "{err}");
    assert!(
        err.lines()
            .any(|l| l == "error: report: 1 part(s) left out (--strict)"),
        "{err}"
    );
    assert!(tmp.path().join("strict/report.md").is_file());
}

#[test]
fn spectrogram_pipeline_matches_librosa_melspec_db() {
    // librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=22050)) of the chirp fixture.
    let dir = Path::new(FIXTURES).join("synthetic/chirp");
    let y: ndarray::Array1<f32> = read_npy(dir.join("y.npy")).unwrap();
    let reference: Array2<f32> = read_npy(dir.join("melspec_db.npy")).unwrap();
    let db = tuneprint::features::mel::melspectrogram_db(y.as_slice().unwrap());
    assert_eq!(db.dim(), reference.dim());
    let scale = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = db
        .iter()
        .zip(reference.iter())
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    // Same tolerance as the mel golden test: 1e-6 of the largest |dB| (f32 rounding).
    assert!(
        worst <= 1e-6 * scale,
        "max |dB difference| {worst} (scale {scale})"
    );
    let png = tempfile::tempdir().unwrap();
    let p = png.path().join("chirp_mel.png");
    draw_mel_spectrogram(&p, db.view(), 22_050, 512, "chirp").unwrap();
    assert_eq!(png_dims(&p), MEL_SIZE);
}

#[test]
fn cli_spectrogram_of_a_committed_clip() {
    // Needs audio decoding: writes `<stem>_mel.png` into the current folder by default.
    let tmp = tempfile::tempdir().unwrap();
    let clip = std::fs::canonicalize("audio/blues.00000.wav").unwrap();
    let o = tuneprint(tmp.path(), &["spectrogram", clip.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "blues.00000_mel.png"
    );
    assert_eq!(png_dims(&tmp.path().join("blues.00000_mel.png")), MEL_SIZE);
    let o = tuneprint(
        tmp.path(),
        &["spectrogram", clip.to_str().unwrap(), "-o", "sub/x.png"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(png_dims(&tmp.path().join("sub/x.png")), MEL_SIZE);
}

#[test]
fn percent_accuracies_are_read_as_fractions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    write_model_dir(&dir);
    let ev = serde_json::json!({
        "protocol": "fault_filtered", "arch": "paper",
        "accuracies": [71.2, 69.8, 73.1], "mean_accuracy": 71.36666666666667,
        "std_accuracy": 1.3523, "epochs": [40, 38, 41], "per_genre": {},
    });
    std::fs::write(dir.join("evaluation.json"), ev.to_string()).unwrap();
    std::fs::write(
        dir.join("history.csv"),
        "epoch,train_loss,train_accuracy,val_loss,val_accuracy\n1,2.0,20.5,2.1,18.0\n2,1.5,40.0,1.8,30.25\n",
    )
    .unwrap();
    let m = ModelDir::load(&dir).unwrap();
    let e = m.evaluation.unwrap();
    assert!((e.accuracies[1] - 0.698).abs() < 1e-12);
    assert!((e.mean_accuracy - 0.7136666666666667).abs() < 1e-12);
    assert!((e.std_accuracy - 0.013523).abs() < 1e-12);
    let h = m.history.unwrap();
    assert_eq!((h[0].train_accuracy, h[1].val_accuracy), (0.205, 0.3025));
    assert_eq!(h[1].train_loss, 1.5);
    // Fractions stay as they are.
    assert_eq!(
        m.baselines.unwrap().models[0].accuracies,
        [0.66, 0.65, 0.67]
    );
}
