//! The CNN layer: splits, exclusions, scaler, training determinism, the model directory
//! (save/load round trip, refusal of mismatched models), table errors, and the `train` /
//! `baselines` commands on a small table. Trainings here run a few epochs on a subset.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use tch::Device;
use tuneprint::config::GENRES;
use tuneprint::model::dataset::{
    final_split, parse_exclude, split, stratified_split, Dataset, Protocol, Scaler,
};
use tuneprint::model::{Classifier, ModelError, ModelInfo};
use tuneprint::table::{self, Record};
use tuneprint_torch::train::{
    evaluate_seed, fit, history_csv, predict_indices, TrainConfig, TrainOptions,
};

const TABLE: &str = "features/features_30_sec.csv";

/// `tuneprint`, built by the same `cargo test --workspace` run in the folder above this test's
/// executable (`target/<profile>/deps/`).
fn tuneprint_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("tuneprint");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace (cargo test --workspace)",
        bin.display()
    );
    bin
}

fn root() -> PathBuf {
    // The workspace root (this crate is torch/).
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn full() -> Dataset {
    Dataset::load(&root().join(TABLE), &[]).unwrap()
}

/// The first `per_genre` songs of each genre, written to `dir/small.csv`.
fn small_table(dir: &Path, per_genre: usize) -> PathBuf {
    let recs = table::read_csv(&root().join(TABLE)).unwrap();
    let mut count = std::collections::HashMap::new();
    let keep: Vec<Record> = recs
        .into_iter()
        .filter(|r| {
            let c = count.entry(r.label.clone()).or_insert(0usize);
            *c += 1;
            *c <= per_genre
        })
        .collect();
    let p = dir.join("small.csv");
    table::write_csv(&p, &keep).unwrap();
    p
}

/// CPU training with one libtorch thread (tests run in parallel on few cores).
fn cpu(max_epochs: usize) -> TrainConfig {
    tuneprint_torch::set_cpu_threads(1);
    TrainConfig {
        max_epochs,
        device: Device::Cpu,
        ..TrainConfig::default()
    }
}

fn stems(d: &Dataset, idx: &[usize]) -> HashSet<String> {
    idx.iter().map(|&i| d.stems[i].clone()).collect()
}

#[test]
fn splits_are_stratified_disjoint_and_reproducible() {
    let d = full();
    assert_eq!(d.len(), 1000);
    for seed in [0u64, 1, 7] {
        let s = split(&d, Protocol::Holdout, seed);
        let (tr, va, te): (HashSet<_>, HashSet<_>, HashSet<_>) = (
            s.train.iter().copied().collect(),
            s.val.iter().copied().collect(),
            s.test.iter().copied().collect(),
        );
        assert!(tr.is_disjoint(&va) && tr.is_disjoint(&te) && va.is_disjoint(&te));
        assert_eq!(tr.len() + va.len() + te.len(), 1000);
        // Per genre: 30 test songs of 100, then round(70 * 0.15) = 11 validation songs.
        for (g, genre) in GENRES.iter().enumerate() {
            let count = |v: &[usize]| v.iter().filter(|&&i| d.labels[i] == g).count();
            assert_eq!(
                (count(&s.train), count(&s.val), count(&s.test)),
                (59, 11, 30),
                "{genre}"
            );
        }
        assert_eq!(
            split(&d, Protocol::Holdout, seed),
            s,
            "same seed, same split"
        );

        let p = split(&d, Protocol::Paper, seed);
        assert_eq!(p.test, s.test, "both protocols share the 70/30 split");
        assert_eq!(p.val, p.test, "paper: the test set drives early stopping");
        let mut all = p.train.clone();
        all.extend(&p.test);
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(p.fit_set(Protocol::Paper), s.fit_set(Protocol::Holdout));
    }
    assert_ne!(
        split(&d, Protocol::Holdout, 0).test,
        split(&d, Protocol::Holdout, 1).test
    );

    // The split depends on the set of songs, not on the row order.
    let recs = table::read_csv(&root().join(TABLE)).unwrap();
    let mut rev = recs.clone();
    rev.reverse();
    let dr = Dataset::from_records(rev, &[], Path::new("reversed")).unwrap();
    let (a, b) = (
        split(&d, Protocol::Holdout, 3),
        split(&dr, Protocol::Holdout, 3),
    );
    assert_eq!(stems(&d, &a.test), stems(&dr, &b.test));
    assert_eq!(stems(&d, &a.val), stems(&dr, &b.val));

    // Final model: 15% of every genre for early stopping.
    let (tr, va) = final_split(&d, 0);
    assert_eq!((tr.len(), va.len()), (850, 150));
    for g in 0..10 {
        assert_eq!(va.iter().filter(|&&i| d.labels[i] == g).count(), 15);
    }
}

#[test]
fn stratified_split_of_small_classes_keeps_both_parts() {
    let d = full();
    // Two songs of blues, three of jazz: one of each genre is held, at least one kept.
    let idx: Vec<usize> = (0..2).chain(500..503).collect();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let (keep, held) = stratified_split(&d, &idx, 0.3, &mut rng);
    assert_eq!((keep.len(), held.len()), (3, 2));
    assert_eq!(held.iter().filter(|&&i| d.labels[i] == 0).count(), 1);
    assert_eq!(held.iter().filter(|&&i| d.labels[i] == 5).count(), 1);
}

#[test]
fn exclusions_are_removed_before_anything_else() {
    let list = parse_exclude("# demo songs\nrock.00003\n\nblues.00000  # the clip\nnot.a.song\n");
    assert_eq!(list, ["rock.00003", "blues.00000", "not.a.song"]);
    let d = Dataset::load(&root().join(TABLE), &list).unwrap();
    assert_eq!(d.len(), 998);
    assert_eq!(d.excluded, ["blues.00000", "rock.00003"]);
    assert!(!d
        .stems
        .iter()
        .any(|s| s == "rock.00003" || s == "blues.00000"));
    let s = split(&d, Protocol::Holdout, 0);
    assert_eq!(s.train.len() + s.val.len() + s.test.len(), 998);
    // 99 blues songs: round(99 * 0.3) = 30 test songs.
    assert_eq!(s.test.iter().filter(|&&i| d.labels[i] == 0).count(), 30);
}

#[test]
fn scaler_is_fitted_on_training_rows_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::load(&small_table(dir.path(), 12), &[]).unwrap();
    let s = split(&d, Protocol::Holdout, 5);
    let fitted = fit(&d, &s.train, &s.val, 5, &cpu(1), &mut |_| {}).unwrap();
    for k in [0usize, 6, 18, 56] {
        let n = s.train.len() as f64;
        let mean = s.train.iter().map(|&i| d.features[i][k]).sum::<f64>() / n;
        let var = s
            .train
            .iter()
            .map(|&i| (d.features[i][k] - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!((fitted.scaler.mean[k] - mean).abs() <= 1e-12 * mean.abs().max(1.0));
        assert!((fitted.scaler.std[k] - var.sqrt()).abs() <= 1e-12 * var.sqrt().max(1.0));
        let all_mean = d.features.iter().map(|f| f[k]).sum::<f64>() / d.len() as f64;
        assert_ne!(fitted.scaler.mean[k], all_mean, "column {k}");
    }
    // The scaler standardises: training rows get mean 0 and sd 1.
    let z: Vec<f64> = s
        .train
        .iter()
        .map(|&i| fitted.scaler.transform(&d.features[i])[6])
        .collect();
    let m = z.iter().sum::<f64>() / z.len() as f64;
    let sd = (z.iter().map(|v| (v - m).powi(2)).sum::<f64>() / z.len() as f64).sqrt();
    assert!(m.abs() < 1e-12 && (sd - 1.0).abs() < 1e-12, "{m} {sd}");
    // A constant column gets a unit scale instead of a division by zero.
    let sc = Scaler::fit(&[[2.0; 57], [2.0; 57]]);
    assert_eq!((sc.mean[0], sc.std[0]), (2.0, 1.0));
}

#[test]
fn training_is_deterministic_and_learns() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::load(&small_table(dir.path(), 40), &[]).unwrap();
    let a = evaluate_seed(&d, Protocol::Holdout, 11, &cpu(12), &mut |_| {}).unwrap();
    let b = evaluate_seed(&d, Protocol::Holdout, 11, &cpu(12), &mut |_| {}).unwrap();
    assert_eq!(
        a.history, b.history,
        "same seed, same machine: same training"
    );
    assert_eq!(a.accuracy, b.accuracy);
    assert_eq!(a.confusion, b.confusion);
    assert_eq!(a.test_size, 120);
    assert_eq!(a.confusion.counts.iter().flatten().sum::<u64>(), 120);
    // Ten genres, 240 training songs, 12 epochs: far above chance (0.1).
    assert!(a.accuracy > 0.45, "accuracy {}", a.accuracy);
    let best = a
        .history
        .iter()
        .map(|e| e.val_accuracy)
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(a.history[a.best_epoch - 1].val_accuracy, best);
    let c = evaluate_seed(&d, Protocol::Holdout, 12, &cpu(2), &mut |_| {}).unwrap();
    assert_ne!(c.history[0], a.history[0]);
    // History CSV layout.
    let csv = history_csv(&a.history[..2]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "epoch,train_loss,train_accuracy,val_loss,val_accuracy"
    );
    assert!(lines[1].starts_with("1,") && lines[2].starts_with("2,"));
}

#[test]
fn early_stopping_restores_the_best_weights() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::load(&small_table(dir.path(), 15), &[]).unwrap();
    let s = split(&d, Protocol::Holdout, 2);
    let cfg = TrainConfig {
        patience: 3,
        ..cpu(200)
    };
    let f = fit(&d, &s.train, &s.val, 2, &cfg, &mut |_| {}).unwrap();
    assert!(f.history.len() < 200, "stopped early");
    assert_eq!(f.history.len(), f.best_epoch + 3);
    let pred = predict_indices(&f, &d, &s.val);
    let right = pred
        .iter()
        .zip(&s.val)
        .filter(|(p, &i)| **p == d.labels[i])
        .count();
    let acc = right as f64 / s.val.len() as f64;
    assert_eq!(acc, f.history[f.best_epoch - 1].val_accuracy);
}

fn train_small(dir: &Path, per_genre: usize, exclude: Vec<String>) -> Classifier {
    let opts = TrainOptions {
        features: small_table(dir, per_genre),
        own_labels: None,
        protocol: Protocol::Holdout,
        seeds: 1,
        seed: 4,
        exclude,
        splits: None,
        strong: None,
        blend: None,
        arch: tuneprint::model::Arch::Paper,
        out_dir: dir.join("model"),
        config: cpu(3),
    };
    tuneprint_torch::train::run(&opts, &mut |_| {})
        .unwrap()
        .model
}

#[test]
fn saved_model_round_trips_and_honours_exclusions() {
    let dir = tempfile::tempdir().unwrap();
    let exclude = vec!["jazz.00001".to_string(), "rock.00003".to_string()];
    let model = train_small(dir.path(), 10, exclude.clone());
    let mdir = dir.path().join("model");
    let info = model.info();
    assert_eq!(info.excluded, exclude);
    assert_eq!(info.n_train + info.n_val, 98);
    assert_eq!(info.genres, GENRES);
    // Scaler of the saved model: fitted on its own training songs only.
    let d = Dataset::load(&dir.path().join("small.csv"), &exclude).unwrap();
    assert!(!d.stems.iter().any(|s| exclude.contains(s)));
    let (tr, _) = final_split(&d, 4);
    assert_eq!(info.scaler_mean, Scaler::fit_rows(&d, &tr).mean);

    let loaded = Classifier::load(&mdir).unwrap();
    assert_eq!(loaded.info(), model.info());
    let rows = &d.features[..25];
    let p1 = model.predict_proba(rows);
    assert_eq!(p1, loaded.predict_proba(rows), "identical probabilities");
    assert_eq!(model.embed(rows), loaded.embed(rows));
    assert_eq!(model.embed_dense(rows), loaded.embed_dense(rows));
    assert_eq!(model.predict(rows), loaded.predict(rows));
    assert_eq!(p1[0].len(), 10);
    assert!((p1[3].iter().sum::<f32>() - 1.0).abs() < 1e-5);
    let e = loaded.embed(&rows[..2]);
    assert_eq!((e.len(), e[0].len()), (2, 3328));
    assert!(e[0].iter().all(|v| *v >= 0.0), "after ReLU and max-pool");
    assert_eq!(loaded.embed_dense(&rows[..1])[0].len(), 128);
    assert!(loaded.predict_proba(&[]).is_empty());

    // Files of the model directory.
    for f in [
        "model.json",
        "model.safetensors",
        "evaluation.json",
        "history.csv",
        "confusion.csv",
        "runs/seed-4/history.csv",
        "runs/seed-4/confusion.csv",
    ] {
        assert!(mdir.join(f).is_file(), "{f}");
    }
    let conf = std::fs::read_to_string(mdir.join("confusion.csv")).unwrap();
    let lines: Vec<&str> = conf.lines().collect();
    assert_eq!(
        lines[0],
        "true,blues,classical,country,disco,hiphop,jazz,metal,pop,reggae,rock"
    );
    assert_eq!(lines.len(), 11);
    assert!(lines[6].starts_with("jazz,"));
    let total: u64 = lines[1..]
        .iter()
        .flat_map(|l| l.split(',').skip(1))
        .map(|c| c.parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 30, "3 test songs of each genre (10 or 9 songs)");
}

fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string(&v).unwrap()).unwrap();
}

fn copy_model(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["model.json", "model.safetensors"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}

fn load_err(dir: &Path) -> String {
    let e: ModelError = Classifier::load(dir).unwrap_err();
    e.to_string()
}

#[test]
fn mismatched_models_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    train_small(dir.path(), 4, Vec::new());
    let good = dir.path().join("model");
    let bad = dir.path().join("bad");

    let e = load_err(&dir.path().join("nowhere"));
    assert!(
        e.contains("model.json") && e.contains("tuneprint train"),
        "{e}"
    );

    copy_model(&good, &bad);
    edit_json(&bad.join("model.json"), |v| v["format_version"] = 2.into());
    let e = load_err(&bad);
    assert!(
        e.contains("incompatible model") && e.contains("format_version 2"),
        "{e}"
    );

    copy_model(&good, &bad);
    edit_json(&bad.join("model.json"), |v| v["arch"] = "resnet".into());
    let e = load_err(&bad);
    assert!(e.contains("architecture `resnet`"), "{e}");

    copy_model(&good, &bad);
    edit_json(&bad.join("model.json"), |v| {
        v["feature_columns"][16] = "bpm".into()
    });
    let e = load_err(&bad);
    assert!(e.contains("column 17 is `bpm`, expected `tempo`"), "{e}");

    copy_model(&good, &bad);
    edit_json(&bad.join("model.json"), |v| {
        v["feature_columns"].as_array_mut().unwrap().pop();
    });
    let e = load_err(&bad);
    assert!(e.contains("56 feature columns, expected 57"), "{e}");

    // Any label set loads, but its names must be distinct and match the weights' outputs.
    copy_model(&good, &bad);
    edit_json(&bad.join("model.json"), |v| v["genres"][1] = "blues".into());
    let e = load_err(&bad);
    assert!(
        e.contains("genres [blues, blues, country") && e.contains("at least 2 distinct"),
        "{e}"
    );
    copy_model(&good, &bad);
    edit_json(&bad.join("model.json"), |v| {
        v["genres"].as_array_mut().unwrap().pop();
    });
    let e = load_err(&bad);
    assert!(
        e.contains("tensor `fc2.weight` has shape [10, 128], expected [9, 128]"),
        "{e}"
    );

    copy_model(&good, &bad);
    edit_json(&bad.join("model.json"), |v| v["scaler_std"][3] = 0.0.into());
    assert!(load_err(&bad).contains("scaler"));

    // Weights of another shape (a wider first dense layer) are refused by name and shape.
    copy_model(&good, &bad);
    let mut tensors = tch::Tensor::read_safetensors(good.join("model.safetensors")).unwrap();
    for (name, t) in tensors.iter_mut() {
        if name == "fc1.bias" {
            *t = tch::Tensor::zeros([64], (tch::Kind::Float, Device::Cpu));
        }
    }
    tch::Tensor::write_safetensors(&tensors, bad.join("model.safetensors")).unwrap();
    let e = load_err(&bad);
    assert!(
        e.contains("tensor `fc1.bias` has shape [64], expected [128]"),
        "{e}"
    );

    copy_model(&good, &bad);
    std::fs::write(bad.join("model.safetensors"), b"not weights").unwrap();
    let e = load_err(&bad);
    assert!(e.contains("model.safetensors: cannot read"), "{e}");

    copy_model(&good, &bad);
    Classifier::load(&bad).unwrap();
    let info: ModelInfo =
        serde_json::from_str(&std::fs::read_to_string(bad.join("model.json")).unwrap()).unwrap();
    assert_eq!(info.format_version, 1);
    assert_eq!(info.arch, "paper");
    assert_eq!(info.feature_columns.len(), 57);
}

#[test]
fn bad_tables_give_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = small_table(dir.path(), 3);
    let text = std::fs::read_to_string(&p).unwrap();

    let edited = dir.path().join("label.csv");
    std::fs::write(&edited, text.replacen(",blues\n", ",bluez\n", 2)).unwrap();
    let e = Dataset::load(&edited, &[]).unwrap_err().to_string();
    assert!(
        e.contains("label.csv: row 1, column `label`: `bluez` is not a GTZAN genre"),
        "{e}"
    );
    // An excluded row is not checked.
    let d = Dataset::load(&edited, &["blues.00000".into(), "blues.00001".into()]).unwrap();
    assert_eq!(d.len(), 28);

    let lines: Vec<&str> = text.lines().collect();
    let mut cells: Vec<String> = lines[5].split(',').map(str::to_string).collect();
    cells[8] = "n/a".into(); // spectral_bandwidth_mean
    let mut rows: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    rows[5] = cells.join(",");
    let edited = dir.path().join("cell.csv");
    std::fs::write(&edited, rows.join("\n")).unwrap();
    let e = Dataset::load(&edited, &[]).unwrap_err().to_string();
    assert!(
        e.contains("cell.csv: row 5, column `spectral_bandwidth_mean`: `n/a` is not a number"),
        "{e}"
    );

    let edited = dir.path().join("column.csv");
    std::fs::write(&edited, text.replacen("mfcc7_var", "mfcc7_variance", 1)).unwrap();
    let e = Dataset::load(&edited, &[]).unwrap_err().to_string();
    assert!(e.contains("column.csv: missing column `mfcc7_var`"), "{e}");
}

fn tuneprint(args: &[&str]) -> std::process::Output {
    Command::new(tuneprint_bin())
        .args(args)
        .env("CUDA_VISIBLE_DEVICES", "")
        .output()
        .unwrap()
}

#[test]
fn train_and_baselines_commands() {
    let dir = tempfile::tempdir().unwrap();
    let table = small_table(dir.path(), 10);
    let out = dir.path().join("m");
    let excl = dir.path().join("exclude.txt");
    std::fs::write(&excl, "# held out\nrock.00000\n").unwrap();
    let (t, o, x) = (
        table.to_str().unwrap(),
        out.to_str().unwrap(),
        excl.to_str().unwrap(),
    );
    let r = tuneprint(&[
        "train",
        "--arch",
        "paper",
        "--features",
        t,
        "--protocol",
        "paper",
        "--seeds",
        "2",
        "--seed",
        "3",
        "--max-epochs",
        "2",
        "--exclude",
        x,
        "-o",
        o,
        "--json",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8(r.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["protocol"], "paper");
    assert!(v["note"].as_str().unwrap().starts_with("optimistic"));
    assert_eq!(v["seeds"], serde_json::json!([3, 4]));
    assert_eq!(v["epochs"], serde_json::json!([2, 2]));
    let acc: Vec<f64> = v["accuracies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_f64().unwrap())
        .collect();
    let mean = (acc[0] + acc[1]) / 2.0;
    assert!((v["mean_accuracy"].as_f64().unwrap() - mean).abs() < 1e-12);
    assert!((v["std_accuracy"].as_f64().unwrap() - (acc[0] - acc[1]).abs() / 2.0).abs() < 1e-12);
    assert_eq!(v["per_genre"].as_object().unwrap().len(), 10);
    assert_eq!(
        std::fs::read_to_string(out.join("evaluation.json")).unwrap(),
        stdout,
        "evaluation.json is what --json prints"
    );
    let info: ModelInfo =
        serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap()).unwrap();
    assert_eq!(info.excluded, ["rock.00000"]);
    assert_eq!(info.metrics.unwrap().accuracies, acc);
    assert_eq!(info.seeds, [3, 4]);
    assert!(info.created_by.starts_with("tuneprint "));

    // Human output names the protocol and its caveat.
    let r = tuneprint(&[
        "train",
        "--arch",
        "paper",
        "--features",
        t,
        "--protocol",
        "paper",
        "--seeds",
        "1",
        "--max-epochs",
        "1",
        "-o",
        o,
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let text = String::from_utf8(r.stdout).unwrap();
    assert!(
        text.contains("protocol paper") && text.contains("optimistic"),
        "{text}"
    );
    assert!(
        !out.join("runs/seed-4").exists(),
        "stale run folders removed"
    );

    let r = tuneprint(&[
        "baselines",
        "--features",
        t,
        "--seeds",
        "2",
        "-o",
        o,
        "--json",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8(r.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(b["protocol"], "holdout");
    assert_eq!(b["seeds"], serde_json::json!([0, 1]));
    let names: Vec<&str> = b["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["svm_rbf", "logistic", "random_forest"]);
    // The exact accuracies (30 test songs each: multiples of 1/30), fixed by the seeds.
    let accuracies: Vec<Vec<f64>> = b["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["accuracies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| (x.as_f64().unwrap() * 30.0 * 1e6).round() / 1e6)
                .collect()
        })
        .collect();
    // The SVM and the logistic regression are deterministic; linfa-trees breaks exactly tied
    // splits in a random order (see model::baselines), so the forest may be one song off.
    assert_eq!(
        accuracies[..2],
        [[23.0, 27.0], [25.0, 29.0]],
        "songs right of 30 (svm_rbf, logistic; seeds 0 and 1)"
    );
    for (got, want) in accuracies[2].iter().zip([23.0, 25.0]) {
        assert!(
            (got - want).abs() <= 1.0,
            "random_forest: {got} songs right, expected {want} ± 1"
        );
    }
    assert_eq!(
        std::fs::read_to_string(out.join("baselines.json")).unwrap(),
        stdout
    );

    let r = tuneprint(&["train", "--features", "/nonexistent.csv", "-o", o]);
    // (A line before it may say which device trains.)
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(
        (r.status.code(), err.lines().last()),
        (
            Some(2),
            Some("error: /nonexistent.csv: cannot read: No such file or directory (os error 2)")
        )
    );
}

/// Largest |a − b| over rows of equal shape.
fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
}

/// The native networks (what `tuneprint` classifies, embeds and recommends with, without
/// libtorch) give libtorch's eval-mode outputs within 1e-5 on every layer: a paper CNN and a
/// small strong ensemble, each trained a few epochs (BatchNorm statistics and all), against
/// the tch forward passes that trained them, on 100 songs.
#[test]
fn native_inference_matches_libtorch() {
    use tuneprint::model::{Layer, ModelInfo};
    use tuneprint_torch::cnn::to_rows;
    use tuneprint_torch::strong::StrongSpec;
    use tuneprint_torch::train::DevData;
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::load(&small_table(dir.path(), 10), &[]).unwrap();
    let s = split(&d, Protocol::Holdout, 3);
    let rows = &d.features;
    let check = |name: &str, native: Vec<Vec<f32>>, torch: Vec<Vec<f32>>, width: usize| {
        assert_eq!(native[0].len(), width, "{name}");
        let diff = max_diff(&native, &torch);
        let scale = torch.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            diff <= 1e-5,
            "{name}: max |native − libtorch| = {diff:e} (values up to {scale})"
        );
        assert!(scale > 0.0, "{name}: all zero");
    };

    let f = fit(&d, &s.train, &s.val, 3, &cpu(4), &mut |_| {}).unwrap();
    let x = tch::Tensor::from_slice(&f.scaler.transform_f32(rows)).view([rows.len() as i64, 57]);
    let a = tch::no_grad(|| f.cnn.forward(&x, false, None));
    let (flat, dense) = (to_rows(&a.flat), to_rows(&a.dense));
    let proba = to_rows(&a.logits.softmax(-1, tch::Kind::Float));
    let clf = f
        .into_classifier(Protocol::Holdout, 3, s.val.len())
        .unwrap();
    assert_eq!(clf.default_layer(), Layer::Flatten);
    check(
        "paper flatten",
        clf.embed_layer(rows, Layer::Flatten),
        flat,
        3328,
    );
    check(
        "paper dense",
        clf.embed_layer(rows, Layer::Dense),
        dense.clone(),
        128,
    );
    check(
        "paper probabilities",
        clf.predict_proba(rows),
        proba.clone(),
        10,
    );
    let both = tuneprint::model::layer::combined(dense, proba);
    check(
        "paper combined",
        clf.embed_layer(rows, Layer::Combined),
        both,
        138,
    );

    let spec = StrongSpec {
        members: 3,
        hidden: vec![48, 24],
        max_epochs: 3,
        ..StrongSpec::default()
    };
    let fs = tuneprint_torch::strong::fit(
        &DevData::new(&d, &s.train, &s.val),
        3,
        &spec,
        &cpu(3),
        &mut |_| {},
    )
    .unwrap();
    let (hidden, proba) = (fs.embed_rows(rows), fs.proba_rows(rows));
    let clf = fs
        .into_classifier(ModelInfo::new("strong", Protocol::Holdout, 3))
        .unwrap();
    assert_eq!(clf.default_layer(), Layer::Combined);
    check(
        "strong hidden",
        clf.embed_layer(rows, Layer::Dense),
        hidden.clone(),
        72,
    );
    check(
        "strong flatten",
        clf.embed_layer(rows, Layer::Flatten),
        hidden.clone(),
        72,
    );
    check(
        "strong probabilities",
        clf.predict_proba(rows),
        proba.clone(),
        10,
    );
    let both = tuneprint::model::layer::combined(hidden, proba);
    check(
        "strong combined",
        clf.embed_layer(rows, Layer::Combined),
        both,
        82,
    );
}

/// `recommend --evaluate` end to end (one seed, k = 5): every embedding of the paper CNN, the
/// strong ensemble and the blend is scored by validation and test queries; the raw features'
/// precision involves no training, so its hit counts are exact: 912 of the 300 × 5 holdout
/// test neighbours and 577 of the 290 × 5 artist-filtered ones share the query's genre.
#[test]
fn recommend_evaluate_scores_every_embedding() {
    let r = tuneprint(&[
        "recommend",
        "--evaluate",
        "--seeds",
        "1",
        "-k",
        "5",
        "--json",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(
        (v["k"].as_u64(), v["protocol"].as_str()),
        (Some(5), Some("holdout"))
    );
    let names = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["embedding"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names("results"),
        [
            "raw features (standardized)",
            "CNN flatten layer",
            "CNN dense layer",
            "CNN probabilities",
            "CNN combined",
            "strong ensemble hidden layers",
            "strong ensemble probabilities",
            "strong ensemble combined"
        ]
    );
    assert_eq!(
        names("filtered"),
        [
            "raw features (standardized)",
            "blend probabilities",
            "blend MLP hidden layer",
            "blend combined"
        ]
    );
    // Hits among the test queries' neighbours: whole numbers, and the raw features' exact.
    let hits = |e: &serde_json::Value, neighbours: f64| {
        let x = e["mean"].as_f64().unwrap() * neighbours;
        assert!((x - x.round()).abs() < 1e-6, "{e}");
        assert_eq!(e["precision"].as_array().unwrap().len(), 1);
        assert_eq!(e["validation_precision"].as_array().unwrap().len(), 1);
        x.round() as u64
    };
    assert_eq!(hits(&v["results"][0], 300.0 * 5.0), 912);
    assert_eq!(hits(&v["filtered"][0], 290.0 * 5.0), 577);
    // The trained embeddings: far above the 1-in-10 chance of a genre.
    for e in v["results"].as_array().unwrap().iter().skip(1) {
        let n = hits(e, 1500.0);
        assert!((450..=1350).contains(&n), "{e}");
    }
    for e in v["filtered"].as_array().unwrap().iter().skip(1) {
        let n = hits(e, 1450.0);
        assert!((435..=1305).contains(&n), "{e}");
    }
}
