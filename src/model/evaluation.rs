//! The evaluation summary a model directory records (no tch: read by `Classifier::load` and the
//! report as well as written by training).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One epoch of a training: a line of `history.csv`, as `train` writes it and the report reads
/// it (empty cells are NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// Counted from 1.
    pub epoch: usize,
    /// Mean cross-entropy over the epoch's mini-batches (training mode, dropout on).
    pub train_loss: f64,
    /// Fraction of training songs classified right during the epoch (training mode).
    pub train_accuracy: f64,
    /// Cross-entropy on the validation set (eval mode).
    pub val_loss: f64,
    /// Accuracy on the validation set (eval mode).
    pub val_accuracy: f64,
}

/// Precision, recall and F1 of one genre.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GenreScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// The evaluation summary: `train --json`, `evaluation.json` and `metrics` of `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The fields marked `default` may be missing from files written by hand or by older
    /// versions (the report reads whatever is there).
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub arch: String,
    /// Present under the paper protocol: why its figures are optimistic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default)]
    pub seeds: Vec<u64>,
    /// Test accuracy of each seed (fractions).
    pub accuracies: Vec<f64>,
    pub mean_accuracy: f64,
    /// Population standard deviation (ddof 0) of the accuracies.
    pub std_accuracy: f64,
    /// Epochs run in each seed's training.
    #[serde(default)]
    pub epochs: Vec<usize>,
    /// Epoch whose weights were kept in each seed's training.
    #[serde(default)]
    pub best_epochs: Vec<usize>,
    /// Test songs per seed.
    #[serde(default)]
    pub test_size: usize,
    /// Scores over all seeds' test predictions together.
    #[serde(default)]
    pub per_genre: BTreeMap<String, GenreScores>,
    /// Validation accuracy of each seed's selected model (`strong` only: what its settings
    /// were chosen by).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub val_accuracies: Vec<f64>,
    /// `blend` only: artist-filtered and holdout figures (test accuracy of the train-only fit
    /// and of its refit, calibration error, validation accuracy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blend: Option<BlendFigures>,
}

/// Mean and population standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, var.sqrt())
}

/// The tempered train-only fit on the validation songs: accuracy, log-loss and ECE (15 bins).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValidationFigures {
    pub val_accuracy: f64,
    #[serde(default)]
    pub val_log_loss: f64,
    #[serde(default)]
    pub val_ece: f64,
}

/// Figures of one evaluation run (one seed of one protocol).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibratedRun {
    pub seed: u64,
    /// Train-only fit: the validation figures, then test accuracy and test ECE (tempered and
    /// not).
    #[serde(flatten)]
    pub validation: ValidationFigures,
    pub test_accuracy: f64,
    pub ece: f64,
    pub ece_uncalibrated: f64,
    pub temperature: f64,
    /// The same model refit on training + validation songs (temperature kept): test accuracy
    /// and ECE (what the saved model is).
    pub refit_test_accuracy: f64,
    pub refit_ece: f64,
}

/// Means over the runs of one protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolFigures {
    pub protocol: String,
    pub seeds: Vec<u64>,
    pub test_size: usize,
    #[serde(flatten)]
    pub validation: ValidationFigures,
    pub test_accuracy: f64,
    pub test_accuracy_std: f64,
    /// Expected calibration error (15 bins) on the test songs, tempered / untempered.
    pub ece: f64,
    pub ece_uncalibrated: f64,
    pub temperature: f64,
    pub refit_test_accuracy: f64,
    pub refit_test_accuracy_std: f64,
    pub refit_ece: f64,
    pub runs: Vec<CalibratedRun>,
}

/// What `train --json` adds for the blend: both protocols' figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlendFigures {
    /// The artist-filtered split (train on train, temperature on valid, test once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtered: Option<ProtocolFigures>,
    /// The stratified holdout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<ProtocolFigures>,
    /// Why a protocol is missing, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Summarises runs of the protocol named `protocol`.
pub fn summarise_runs(protocol: &str, runs: &[CalibratedRun], test_size: usize) -> ProtocolFigures {
    let m = |f: &dyn Fn(&CalibratedRun) -> f64| mean_std(&runs.iter().map(f).collect::<Vec<_>>());
    ProtocolFigures {
        protocol: protocol.into(),
        seeds: runs.iter().map(|r| r.seed).collect(),
        test_size,
        validation: ValidationFigures {
            val_accuracy: m(&|r| r.validation.val_accuracy).0,
            val_log_loss: m(&|r| r.validation.val_log_loss).0,
            val_ece: m(&|r| r.validation.val_ece).0,
        },
        test_accuracy: m(&|r| r.test_accuracy).0,
        test_accuracy_std: m(&|r| r.test_accuracy).1,
        ece: m(&|r| r.ece).0,
        ece_uncalibrated: m(&|r| r.ece_uncalibrated).0,
        temperature: m(&|r| r.temperature).0,
        refit_test_accuracy: m(&|r| r.refit_test_accuracy).0,
        refit_test_accuracy_std: m(&|r| r.refit_test_accuracy).1,
        refit_ece: m(&|r| r.refit_ece).0,
        runs: runs.to_vec(),
    }
}
