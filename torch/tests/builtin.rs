//! The built-in model of `tuneprint` (`src/model/builtin/`, `builtin:default`) is what
//! `scripts/make_builtin_model.sh` trains: the same training command, run here without the
//! evaluation seeds (they do not touch the saved model, whose seed is `--seed`), writes the same
//! weights and history bit for bit, and the same `model.json` but for the evaluation figures.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tuneprint-torch");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `model.json`'s fields, less those of the evaluation runs (`metrics`, `seeds`).
fn model_fields(bytes: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let mut m = v.as_object().unwrap().clone();
    m.remove("metrics");
    m.remove("seeds");
    m
}

#[test]
fn the_builtin_model_is_what_the_committed_command_trains() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("m");
    let exclude = root().join("features/demo_holdout.txt");
    let o = Command::new(BIN)
        .args(["train", "--exclude"])
        .arg(&exclude)
        .args(["--seed", "0", "--seeds", "0", "--threads", "1", "-o"])
        .arg(&out)
        .env("TUNEPRINT_HOME", t.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "train failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let builtin = root().join("src/model/builtin");
    let read = |dir: &Path, f: &str| std::fs::read(dir.join(f)).unwrap();
    for f in ["model.safetensors", "history.csv"] {
        assert!(
            read(&out, f) == read(&builtin, f),
            "{f} differs from the built-in model's: run scripts/make_builtin_model.sh"
        );
    }
    let (trained, shipped) = (
        model_fields(&read(&out, "model.json")),
        model_fields(&read(&builtin, "model.json")),
    );
    let differ: Vec<&String> = trained
        .keys()
        .chain(shipped.keys())
        .filter(|k| trained.get(*k) != shipped.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "model.json fields {differ:?} differ from the built-in model's: run scripts/make_builtin_model.sh"
    );
    assert_eq!(trained.len(), 19, "{:?}", trained.keys());
    // The binary's copy is the committed one.
    let clf = tuneprint::model::Classifier::load(Path::new("builtin:default")).unwrap();
    let committed = tuneprint::model::Classifier::load(&builtin).unwrap();
    assert_eq!(
        clf.weights().tensors.len(),
        committed.weights().tensors.len()
    );
    for (name, t) in &clf.weights().tensors {
        let c = &committed.weights().tensors[name];
        assert_eq!(t.shape, c.shape, "{name}");
        assert!(
            t.data
                .iter()
                .zip(&c.data)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name}"
        );
    }
}
