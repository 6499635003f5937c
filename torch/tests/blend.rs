//! The default classifier (`blend`, issue 13): chosen, fitted and calibrated without reading a
//! test row of the artist-filtered split; trained by `train` without `--arch`; loaded by
//! `classify` on a committed clip.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use tch::Device;
use tuneprint::model::blend::{BlendSpec, Calibration, MlpInit};
use tuneprint::model::dataset::{split, Dataset, Protocol};
use tuneprint::model::{Arch, Classifier};
use tuneprint_torch::blend_train;
use tuneprint_torch::train::DevData;
use tuneprint_torch::train::TrainConfig;

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

fn cpu() -> TrainConfig {
    tuneprint_torch::set_cpu_threads(1);
    TrainConfig {
        device: Device::Cpu,
        ..TrainConfig::default()
    }
}

/// A few epochs: fast, and enough to be far above chance.
fn small_spec() -> BlendSpec {
    BlendSpec {
        hidden: vec![32],
        max_epochs: 30,
        ..BlendSpec::default()
    }
}

/// [`small_spec`] with the options the default leaves off: two Glorot-initialised MLPs and a
/// temperature fitted on cross-fitted train + valid probabilities.
fn options_spec() -> BlendSpec {
    BlendSpec {
        members: 2,
        init: MlpInit::Glorot,
        calibration: Calibration::CrossFit,
        ..small_spec()
    }
}

/// Fitting and calibration see a copy of the train and valid rows only: the same run on a
/// table whose test rows are poisoned (NaN features, shifted labels) fits exactly the same
/// model (weights, scaler, temperature, validation figures), and only the test score moves.
#[test]
fn blend_selection_uses_no_test_data() {
    let d = Dataset::load_for(&root().join(TABLE), &[], Protocol::Filtered, None).unwrap();
    let s = split(&d, Protocol::Filtered, 0);
    let dev = DevData::new(&d, &s.train, &s.val);
    let test: HashSet<&String> = s.test.iter().map(|&i| &d.stems[i]).collect();
    assert!(dev.data.stems.iter().all(|t| !test.contains(t)));
    let mut poisoned = d.clone();
    for &i in &s.test {
        poisoned.features[i] = [f64::NAN; 57];
        poisoned.labels[i] = (poisoned.labels[i] + 1) % 10;
    }
    for spec in [small_spec(), options_spec()] {
        poisoned_run_selects_the_same(&d, &poisoned, &spec);
    }
    // The blend refuses the paper protocol (it would calibrate on the test set).
    let refused = blend_train::evaluate_seed(
        &d,
        Protocol::Paper,
        0,
        &small_spec(),
        &cpu(),
        &mut |_| {},
        &mut |_| {},
    )
    .expect_err("the paper protocol is refused")
    .to_string();
    assert_eq!(
        refused,
        "the blend is calibrated on validation songs only: use --protocol holdout or filtered \
         (the paper protocol early-stops on the test set)"
    );
}

fn poisoned_run_selects_the_same(d: &Dataset, poisoned: &Dataset, spec: &BlendSpec) {
    let cfg = cpu();
    let run = |data: &Dataset| {
        let mut selected = None;
        let (r, c) = blend_train::evaluate_seed(
            data,
            Protocol::Filtered,
            2,
            spec,
            &cfg,
            &mut |_| {},
            &mut |f| selected = Some(f.clone()),
        )
        .unwrap();
        (r, c, selected.unwrap())
    };
    let (a, ca, fa) = run(d);
    let (b, cb, fb) = run(poisoned);
    assert_eq!(fa.net, fb.net);
    assert_eq!(fa.scaler, fb.scaler);
    assert_eq!(fa.net.temperature, fb.net.temperature);
    assert_eq!(
        (ca.validation.val_accuracy, ca.temperature),
        (cb.validation.val_accuracy, cb.temperature)
    );
    assert!(fa.net.temperature > 0.0 && fa.net.temperature.is_finite());
    assert!(a.accuracy > 0.35, "{}", a.accuracy);
    assert!(
        ca.validation.val_accuracy > 0.3,
        "{}",
        ca.validation.val_accuracy
    );
    assert_eq!(a.test_size, 290);
    assert_eq!(
        (ca.validation.val_log_loss, ca.validation.val_ece),
        (cb.validation.val_log_loss, cb.validation.val_ece)
    );
    // The poisoned test rows were read after selection, once: the test score moved.
    assert_ne!(a.accuracy, b.accuracy);
    // Calibrated: the ECE with the temperature fitted on the validation songs is below the
    // untempered one (the cross-fitted one, on these 30-epoch MLPs, need not be).
    assert!(
        ca.ece < ca.ece_uncalibrated || spec.calibration == Calibration::CrossFit,
        "{} vs {}",
        ca.ece,
        ca.ece_uncalibrated
    );
}

/// `train` without `--arch` writes a blend whose `model.json` names its arch, inputs,
/// temperature, selection and refit; it reloads identically and `classify` runs it on a
/// committed clip (here with two MLP members, whose tensors and hidden layers it keeps apart).
#[test]
fn default_train_writes_a_blend_that_classify_loads() {
    let dir = tempfile::tempdir().unwrap();
    let opts = tuneprint_torch::train::TrainOptions {
        features: root().join(TABLE),
        own_labels: None,
        protocol: Protocol::Filtered,
        seeds: 0,
        seed: 1,
        exclude: Vec::new(),
        splits: None,
        arch: Arch::default(),
        strong: None,
        blend: Some(options_spec()),
        out_dir: dir.path().join("model"),
        config: cpu(),
    };
    assert_eq!(opts.arch, Arch::Blend);
    let s = tuneprint_torch::train::run(&opts, &mut |_| {}).unwrap();
    let info = s.model.info();
    assert_eq!(info.arch, "blend");
    let b = info.blend.as_ref().unwrap();
    assert_eq!(b.spec, options_spec());
    assert!(b.spec.refit && b.fitted_on.contains("refit"));
    assert_eq!(b.spec.log_columns.len(), 28);
    assert!(b.selection.rule.contains("validation"));
    // Refit on train + valid of the filtered split: no test stem.
    let d = Dataset::load_for(&root().join(TABLE), &[], Protocol::Filtered, None).unwrap();
    let sp = split(&d, Protocol::Filtered, 0);
    let test: HashSet<&String> = sp.test.iter().map(|&i| &d.stems[i]).collect();
    assert_eq!(info.trained_on.len(), 640);
    assert!(info.trained_on.iter().all(|t| !test.contains(t)));

    let back = Classifier::load(&dir.path().join("model")).unwrap();
    assert_eq!(back.arch(), Arch::Blend);
    assert_eq!(back.info(), info);
    let rows = &d.features[..12];
    assert_eq!(back.predict_proba(rows), s.model.predict_proba(rows));
    assert_eq!(back.embed_dense(rows)[0].len(), 2 * 32);
    for p in back.predict_proba(rows) {
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    let out = Command::new(tuneprint_bin())
        .args(["classify", "audio/pop.00000.wav", "--json", "--model"])
        .arg(dir.path().join("model"))
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let probs = v[0]["probabilities"].as_object().unwrap();
    assert_eq!(probs.len(), 10);
    let total: f64 = probs.values().map(|x| x.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-4, "{total}");
    assert!(v[0]["genre"].is_string());

    // Its training history: the refit's last MLP member, one row per epoch from 1, training loss
    // and accuracy only (the MLP stops on its training loss), as many epochs as model.json says;
    // `report --strict` draws it with nothing left out.
    let history = std::fs::read_to_string(dir.path().join("model/history.csv")).unwrap();
    let rows: Vec<Vec<&str>> = history
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), info.epochs_trained, "{history}");
    for (k, r) in rows.iter().enumerate() {
        assert_eq!(r[0], (k + 1).to_string());
        let (loss, acc): (f64, f64) = (r[1].parse().unwrap(), r[2].parse().unwrap());
        assert!(loss > 0.0 && (0.0..=1.0).contains(&acc), "{r:?}");
        assert_eq!((r[3], r[4]), ("NaN", "NaN"));
    }
    let report = dir.path().join("report");
    let out = Command::new(tuneprint_bin())
        .args(["report", "--json", "--model"])
        .arg(dir.path().join("model"))
        .arg("-o")
        .arg(&report)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // No evaluation runs, embeddings or baselines here (their parts are left out), but the
    // training history is there: the curves are drawn and no note names it.
    let skipped: Vec<&str> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        skipped.iter().all(|n| !n.contains("history")),
        "{skipped:?}"
    );
    assert!(
        skipped
            .iter()
            .any(|n| n.contains("embeddings.npy not found")),
        "{skipped:?}"
    );
    assert!(report.join("accuracy.png").is_file() && report.join("loss.png").is_file());

    // A blend without its `blend` record is refused with a clear reason.
    let path = dir.path().join("model/model.json");
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    j.as_object_mut().unwrap().remove("blend");
    std::fs::write(&path, j.to_string()).unwrap();
    let err = Classifier::load(&dir.path().join("model"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("without its `blend` record"), "{err}");
}

/// The blend's native outputs (what `tuneprint` classifies and embeds with, without libtorch)
/// equal libtorch's forward pass of the same weights within 1e-5: the LDA's and each MLP
/// member's probabilities averaged and tempered, and the members' last hidden layers, on 200
/// songs, for a blend of two members trained a few epochs.
#[test]
fn blend_native_outputs_match_libtorch() {
    use tch::{Kind, Tensor};
    use tuneprint::model::blend::Dense;
    use tuneprint::model::native::blend::standardised;
    let d = Dataset::load_for(&root().join(TABLE), &[], Protocol::Holdout, None).unwrap();
    let s = split(&d, Protocol::Holdout, 0);
    let dev = DevData::new(&d, &s.train, &s.val);
    let fitted = blend_train::fit(&dev, 0, &options_spec(), &cpu(), false, &mut |_| {}).unwrap();
    let net = &fitted.net;
    assert_eq!(net.mlp.len(), 2);
    let rows = &d.features[..200];
    let x: Vec<f32> = rows
        .iter()
        .flat_map(|r| standardised(net, &fitted.scaler, r))
        .collect();
    let x = Tensor::from_slice(&x).view([rows.len() as i64, 57]);
    let linear = |h: &Tensor, l: &Dense| {
        let w = Tensor::from_slice(&l.weight).view([l.out as i64, l.inp as i64]);
        h.linear(&w, Some(&Tensor::from_slice(&l.bias)))
    };
    let p_lda = linear(&x, &net.lda)
        .to_kind(Kind::Double)
        .softmax(-1, Kind::Double);
    let mut p_mlp = Tensor::zeros_like(&p_lda);
    let mut hidden = Vec::new();
    for member in &net.mlp {
        let (out, layers) = member.split_last().unwrap();
        let mut h = x.shallow_clone();
        for l in layers {
            h = linear(&h, l).relu();
        }
        let p = linear(&h, out)
            .to_kind(Kind::Double)
            .softmax(-1, Kind::Double);
        p_mlp += p / net.mlp.len() as f64;
        hidden.push(h);
    }
    let p = (p_lda + p_mlp) / 2.0;
    let tempered = (p.clamp_min(1e-12).log() / net.temperature)
        .softmax(-1, Kind::Double)
        .to_kind(Kind::Float);
    let hidden = Tensor::cat(&hidden, 1);
    let to_rows = |t: &Tensor| -> Vec<Vec<f32>> { Vec::<Vec<f32>>::try_from(t).unwrap() };
    for (name, native, torch) in [
        ("probabilities", fitted.proba(rows), to_rows(&tempered)),
        ("hidden layers", fitted.hidden(rows), to_rows(&hidden)),
    ] {
        assert_eq!(
            (native.len(), native[0].len()),
            (torch.len(), torch[0].len()),
            "{name}"
        );
        let diff = native
            .iter()
            .flatten()
            .zip(torch.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let scale = torch.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(diff <= 1e-5, "{name}: max |native − libtorch| = {diff:e}");
        assert!(scale > 0.0, "{name}: all zero");
    }
    assert_eq!(fitted.hidden(rows)[0].len(), 2 * 32);
}
