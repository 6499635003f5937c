//! The models: training through tch (libtorch) and inference in plain Rust.
//!
//! Using a trained model (what `classify`, `embed` and `recommend` need) loads no libtorch:
//! [`Classifier`] runs the networks of [`native`] on the weights of a model directory.
//!
//! ```no_run
//! use tuneprint::model::{Classifier, Layer};
//! # fn main() -> Result<(), tuneprint::model::ModelError> {
//! let clf = Classifier::load(std::path::Path::new("models/cnn"))?;
//! let rows: Vec<[f64; 57]> = vec![[0.0; 57]]; // raw features, FEATURE_COLUMNS order
//! let proba = clf.predict_proba(&rows); // one Vec of 10 probabilities per row
//! let best = clf.genres()[clf.predict(&rows)[0]].clone();
//! let emb = clf.embed_layer(&rows, clf.default_layer()); // the embedding it recommends with
//! let flat = clf.embed_layer(&rows, Layer::Flatten); // 3328 flatten-layer activations per row
//! # Ok(()) }
//! ```
//!
//! A model directory holds `model.json` ([`ModelInfo`]: columns, scaler, genres, metrics) and the
//! weights (`model.safetensors`); `train` adds `evaluation.json`, `history.csv`, `confusion.csv`
//! and `runs/seed-<S>/`. The scaler is applied inside the classifier: pass raw features.
//!
//! Training uses tch (libtorch) and lives in the workspace member crate `tuneprint-torch`
//! (`torch/`), which depends on this library: `tuneprint` links no libtorch, and building the
//! training code never recompiles this one. Everything training and inference share (specs,
//! `model.json` fields, the evaluation and history types, the native networks) is here.

pub mod baselines;
pub mod blend;
pub mod calibration;
pub mod classifier;
pub mod dataset;
pub mod evaluation;
pub mod layer;
pub mod native;
pub mod predict;

use crate::config::GENRES;
use crate::features::FEATURE_COLUMNS;
use crate::table::TableError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use classifier::Classifier;
pub use dataset::{Dataset, Protocol, Split};
pub use evaluation::{Evaluation, GenreScores};
pub use layer::{unit_concat, Layer};
pub use native::strong::StrongSpec;

/// Version of the model directory format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// File name of the weights inside a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Which classifier: the default [`blend`], the paper's CNN, or the ensemble of [`strong`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arch {
    /// The default: shrunk LDA and an MLP averaged on log-variance features, calibrated;
    /// chosen on artist-disjoint validation songs (issue 13).
    #[default]
    Blend,
    /// The paper's 1-D CNN, exactly as published.
    Paper,
    /// An ensemble of small MLPs on log-variance features, chosen on validation data only.
    Strong,
}

impl Arch {
    /// The name used on the command line and in `model.json`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Blend => blend::ARCH,
            Arch::Paper => native::paper::ARCH,
            Arch::Strong => native::strong::ARCH,
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Errors of the model layer; each names the file (or step) and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("{path}: cannot read: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: cannot write: {reason}")]
    Write { path: PathBuf, reason: String },
    /// The model directory was written by another format, architecture or feature set.
    #[error("{path}: incompatible model: {reason}")]
    Incompatible { path: PathBuf, reason: String },
    #[error("{context}: libtorch error: {reason}")]
    Torch { context: String, reason: String },
    /// The data cannot be used (e.g. too few songs).
    #[error("{0}")]
    Data(String),
    #[error("baseline {model}: {reason}")]
    Baseline { model: String, reason: String },
    /// No model in the folder; `train` is the command that makes one.
    #[error("no model at {}: run `{train}` first", dir.display())]
    Missing { dir: PathBuf, train: String },
}

impl ModelError {
    /// Names the features table in a [`ModelError::Data`] error; other errors already name
    /// their file.
    pub fn in_table(self, path: &Path) -> ModelError {
        match self {
            ModelError::Data(reason) => ModelError::Data(format!("{}: {reason}", path.display())),
            other => other,
        }
    }
}

/// `model.json`: everything needed to use the weights safely.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub format_version: u32,
    /// Architecture name (`"paper"`).
    pub arch: String,
    /// The 57 input columns, in order.
    pub feature_columns: Vec<String>,
    /// Standardisation fitted on the saved model's training songs.
    pub scaler_mean: Vec<f64>,
    pub scaler_std: Vec<f64>,
    /// Class index order (alphabetical).
    pub genres: Vec<String>,
    /// Protocol of the evaluation runs summarised in `metrics`.
    pub protocol: String,
    /// Seeds of the evaluation runs.
    pub seeds: Vec<u64>,
    /// Seed of the saved model's split and training.
    #[serde(default)]
    pub seed: u64,
    /// Epochs the saved model ran.
    pub epochs_trained: usize,
    /// Epoch whose weights were kept.
    #[serde(default)]
    pub best_epoch: usize,
    /// Songs the saved model was fitted on / stopped early with.
    #[serde(default)]
    pub n_train: usize,
    #[serde(default)]
    pub n_val: usize,
    /// The features table it was trained from.
    #[serde(default)]
    pub features_csv: String,
    /// Stems left out of training (`--exclude`) that were in the table.
    #[serde(default)]
    pub excluded: Vec<String>,
    /// Stems the saved model was fitted on or stopped early with (sorted; empty in models
    /// written before this field existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trained_on: Vec<String>,
    /// Hyper-parameters of the `strong` architecture (absent for `paper`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strong: Option<StrongSpec>,
    /// The `blend` architecture: settings, temperature, selection figures, what it was fitted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blend: Option<blend::BlendInfo>,
    /// The embedding this model recommends with ([`Classifier::default_layer`]); absent in
    /// models written before this field existed (the network's default then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Layer>,
    /// `tuneprint <version>`.
    pub created_by: String,
    /// Weights file name, next to `model.json`.
    pub weights: String,
    /// The evaluation summary (absent when trained with `--seeds 0`).
    #[serde(default)]
    pub metrics: Option<Evaluation>,
}

impl ModelInfo {
    /// The fields every model of this build writes (format, columns, genres, weights file, the
    /// `created_by` stamp) for an `arch` network trained under `protocol` with `seed`; the
    /// network and the command fill in the rest (scaler, epochs, songs, metrics).
    pub fn new(arch: &str, protocol: Protocol, seed: u64) -> ModelInfo {
        ModelInfo {
            format_version: FORMAT_VERSION,
            arch: arch.into(),
            feature_columns: FEATURE_COLUMNS.iter().map(|s| s.to_string()).collect(),
            scaler_mean: Vec::new(),
            scaler_std: Vec::new(),
            genres: GENRES.iter().map(|s| s.to_string()).collect(),
            protocol: protocol.name().into(),
            seeds: vec![seed],
            seed,
            epochs_trained: 0,
            best_epoch: 0,
            n_train: 0,
            n_val: 0,
            features_csv: String::new(),
            excluded: Vec::new(),
            trained_on: Vec::new(),
            strong: None,
            blend: None,
            embedding: None,
            created_by: format!("tuneprint {}", env!("CARGO_PKG_VERSION")),
            weights: WEIGHTS_FILE.into(),
            metrics: None,
        }
    }
}
