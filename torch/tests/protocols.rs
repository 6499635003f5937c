//! The artist-filtered protocol (`--protocol filtered`) and the strong classifier
//! (`--arch strong`): the committed split lists, datasets restricted to them, models that never
//! see a test stem, and a selection procedure that cannot read the test rows.

use std::collections::HashSet;
use std::path::PathBuf;
use tch::Device;
use tuneprint::model::dataset::{split, Dataset, FixedSplit, Protocol, Scaler, FILTERED_FILES};
use tuneprint::model::{Arch, Classifier, ModelError};
use tuneprint_torch::strong::{self, StrongSpec};
use tuneprint_torch::train::DevData;
use tuneprint_torch::train::{TrainConfig, TrainOptions};

const TABLE: &str = "features/features_30_sec.csv";

fn root() -> PathBuf {
    // The workspace root (this crate is torch/).
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lists() -> FixedSplit {
    FixedSplit::read(&root().join("features/splits")).unwrap()
}

fn filtered() -> Dataset {
    Dataset::load_for(&root().join(TABLE), &[], Protocol::Filtered, None).unwrap()
}

fn cpu(max_epochs: usize) -> TrainConfig {
    tuneprint_torch::set_cpu_threads(1);
    TrainConfig {
        max_epochs,
        device: Device::Cpu,
        ..TrainConfig::default()
    }
}

#[test]
fn filtered_lists_are_disjoint_and_hold_930_stems() {
    let l = lists();
    assert_eq!(
        (l.train.len(), l.valid.len(), l.test.len()),
        (443, 197, 290)
    );
    let all: HashSet<&String> = l.train.iter().chain(&l.valid).chain(&l.test).collect();
    assert_eq!(all.len(), 930, "a stem is listed twice");
    // Every listed stem is a song of the table.
    let table: HashSet<String> = Dataset::load(&root().join(TABLE), &[])
        .unwrap()
        .stems
        .into_iter()
        .collect();
    assert!(all.iter().all(|s| table.contains(*s)));
}

#[test]
fn filtered_dataset_and_split() {
    let d = filtered();
    assert_eq!(d.len(), 930);
    assert_eq!(d.excluded.len(), 70);
    let l = lists();
    let s = split(&d, Protocol::Filtered, 0);
    let names = |idx: &[usize]| -> Vec<String> {
        let mut v: Vec<String> = idx.iter().map(|&i| d.stems[i].clone()).collect();
        v.sort();
        v
    };
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    assert_eq!(names(&s.train), sorted(&l.train));
    assert_eq!(names(&s.val), sorted(&l.valid));
    assert_eq!(names(&s.test), sorted(&l.test));
    // The seed does not move the fixed split; train + valid is what the baselines fit on.
    assert_eq!(split(&d, Protocol::Filtered, 7), s);
    assert_eq!(s.fit_set(Protocol::Filtered).len(), 640);
    // A table that was not restricted has no fixed parts: nothing to train on.
    let plain = Dataset::load(&root().join(TABLE), &[]).unwrap();
    assert!(split(&plain, Protocol::Filtered, 0).train.is_empty());
    // Exclusions come first.
    let ex = vec![l.test[0].clone(), "nope.00000".to_string()];
    let d2 = Dataset::load_for(&root().join(TABLE), &ex, Protocol::Filtered, None).unwrap();
    assert_eq!(d2.len(), 929);
    assert_eq!(split(&d2, Protocol::Filtered, 0).test.len(), 289);
}

#[test]
fn split_lists_with_a_stem_in_two_parts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (k, name) in FILTERED_FILES.iter().enumerate() {
        let body = if k == 2 {
            "rock.00001\nblues.00002\n"
        } else {
            "# part\nrock.0000{k}\n"
        };
        std::fs::write(dir.path().join(name), body.replace("{k}", &k.to_string())).unwrap();
    }
    let err = FixedSplit::read(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("fault_filtered_test.txt")
            && err.contains("rock.00001")
            && err.contains("fault_filtered_valid.txt"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join(FILTERED_FILES[1])).unwrap();
    let err = FixedSplit::read(dir.path()).unwrap_err();
    assert!(matches!(err, ModelError::Read { .. }), "{err}");
    assert!(err.to_string().contains("fault_filtered_valid.txt"));
}

fn small_spec() -> StrongSpec {
    StrongSpec {
        members: 2,
        hidden: vec![32, 16],
        max_epochs: 4,
        ..StrongSpec::default()
    }
}

fn train_filtered(arch: Arch, dir: &std::path::Path) -> Classifier {
    let opts = TrainOptions {
        features: root().join(TABLE),
        own_labels: None,
        protocol: Protocol::Filtered,
        seeds: 1,
        seed: 3,
        exclude: Vec::new(),
        splits: None,
        strong: Some(small_spec()),
        blend: None,
        arch,
        out_dir: dir.join("model"),
        config: cpu(2),
    };
    let s = tuneprint_torch::train::run(&opts, &mut |_| {}).unwrap();
    assert_eq!(s.evaluation.protocol, "filtered");
    assert_eq!(s.evaluation.arch, arch.name());
    assert_eq!(s.evaluation.test_size, 290);
    assert_eq!(s.n_songs, 930);
    s.model
}

/// The saved model was fitted on the train list alone (its scaler is the train list's) and
/// stopped early on the valid list: no test stem reached it.
fn assert_never_saw_test(clf: &Classifier, dir: &std::path::Path) {
    let d = filtered();
    let s = split(&d, Protocol::Filtered, 0);
    let info = clf.info();
    assert_eq!(info.protocol, "filtered");
    assert_eq!((info.n_train, info.n_val), (443, 197));
    let test: HashSet<&String> = s.test.iter().map(|&i| &d.stems[i]).collect();
    assert!(info.trained_on.iter().all(|t| !test.contains(t)));
    assert_eq!(info.trained_on.len(), 640);
    let reloaded = Classifier::load(&dir.join("model")).unwrap();
    assert_eq!(reloaded.info(), info);
    assert_eq!(reloaded.info().arch, info.arch);
    let _ = Scaler::fit_rows(&d, &s.train);
}

#[test]
fn paper_model_trained_filtered_never_saw_a_test_stem() {
    let dir = tempfile::tempdir().unwrap();
    let clf = train_filtered(Arch::Paper, dir.path());
    let d = filtered();
    let s = split(&d, Protocol::Filtered, 0);
    let sc = Scaler::fit_rows(&d, &s.train);
    assert_eq!(clf.scaler().mean, sc.mean);
    assert_eq!(clf.scaler().std, sc.std);
    assert_never_saw_test(&clf, dir.path());
}

#[test]
fn strong_model_trained_filtered_never_saw_a_test_stem_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let clf = train_filtered(Arch::Strong, dir.path());
    assert_eq!(clf.arch(), Arch::Strong);
    assert_eq!(clf.info().arch, "strong");
    assert_eq!(clf.info().strong.as_ref(), Some(&small_spec()));
    assert_never_saw_test(&clf, dir.path());
    // The saved ensemble predicts, classifies and embeds the same after a reload.
    let d = filtered();
    let rows = &d.features[..20];
    let back = Classifier::load(&dir.path().join("model")).unwrap();
    assert_eq!(back.arch(), Arch::Strong);
    let (p, q) = (clf.predict_proba(rows), back.predict_proba(rows));
    assert_eq!(p, q);
    for r in &p {
        assert_eq!(r.len(), 10);
        assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    let e = back.embed_dense(rows);
    assert_eq!(e[0].len(), 2 * 16);
    assert_eq!(e, clf.embed(rows));
    // model.json names the protocol and the architecture; a strong model without its settings
    // is refused with a clear reason.
    let json = std::fs::read_to_string(dir.path().join("model/model.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["protocol"], "filtered");
    assert_eq!(v["metrics"]["arch"], "strong");
    assert_eq!(v["metrics"]["val_accuracies"].as_array().unwrap().len(), 1);
    v.as_object_mut().unwrap().remove("strong");
    std::fs::write(dir.path().join("model/model.json"), v.to_string()).unwrap();
    let err = Classifier::load(&dir.path().join("model"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.json") && err.contains("without its `strong` settings"),
        "{err}"
    );
}

/// Selection sees a copy of the train and valid rows only: the same run on a table whose test
/// rows are poisoned (NaN features, shifted labels) selects exactly the same model, and the
/// copy holds no test stem.
#[test]
fn strong_selection_uses_no_test_data() {
    let d = filtered();
    let s = split(&d, Protocol::Filtered, 0);
    let dev = DevData::new(&d, &s.train, &s.val);
    assert_eq!(dev.data.len(), 640);
    let test: HashSet<&String> = s.test.iter().map(|&i| &d.stems[i]).collect();
    assert!(dev.data.stems.iter().all(|t| !test.contains(t)));

    let mut poisoned = d.clone();
    for &i in &s.test {
        poisoned.features[i] = [f64::NAN; 57];
        poisoned.labels[i] = (poisoned.labels[i] + 1) % 10;
    }
    let spec = StrongSpec {
        max_epochs: 30,
        ..small_spec()
    };
    let cfg = cpu(30);
    let val_rows: Vec<_> = s.val.iter().map(|&i| d.features[i]).collect();
    let run = |data: &Dataset| {
        let mut selected = None;
        let (r, val) = strong::evaluate_seed(
            data,
            Protocol::Filtered,
            5,
            &spec,
            &cfg,
            &mut |_| {},
            &mut |f| {
                selected = Some((
                    f.predict(&val_rows),
                    f.best_epochs.clone(),
                    f.scaler.clone(),
                ))
            },
        )
        .unwrap();
        (r, val, selected.unwrap())
    };
    let (a, va, sa) = run(&d);
    let (b, vb, sb) = run(&poisoned);
    assert_eq!(va, vb);
    assert_eq!(sa, sb);
    assert_eq!(a.history, b.history);
    assert!(a.accuracy > 0.3, "{}", a.accuracy);
    // The poisoned test rows were read after selection, once: the test score moved.
    assert_ne!(a.accuracy, b.accuracy);
    // The strong arch refuses the paper protocol (it would early-stop on the test set).
    let err = strong::evaluate_seed(
        &d,
        Protocol::Paper,
        0,
        &spec,
        &cfg,
        &mut |_| {},
        &mut |_| {},
    )
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("--protocol holdout or filtered"),
        "{err}"
    );
}
