//! The evaluation summary a model directory records (no tch: read by `Classifier::load` and the
//! report as well as written by training).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    pub protocol: String,
    pub arch: String,
    /// Present under the paper protocol: why its figures are optimistic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub seeds: Vec<u64>,
    /// Test accuracy of each seed (fractions).
    pub accuracies: Vec<f64>,
    pub mean_accuracy: f64,
    /// Population standard deviation (ddof 0) of the accuracies.
    pub std_accuracy: f64,
    /// Epochs run in each seed's training.
    pub epochs: Vec<usize>,
    /// Epoch whose weights were kept in each seed's training.
    pub best_epochs: Vec<usize>,
    /// Test songs per seed.
    pub test_size: usize,
    /// Scores over all seeds' test predictions together.
    pub per_genre: BTreeMap<String, GenreScores>,
    /// Validation accuracy of each seed's selected model (`strong` only: what its settings
    /// were chosen by).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub val_accuracies: Vec<f64>,
    /// `blend` only: artist-filtered and holdout figures (test accuracy of the train-only fit
    /// and of its refit, calibration error, validation accuracy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blend: Option<super::blend::BlendFigures>,
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
