//! The CNN of the paper through tch (libtorch): datasets, model, training, classic baselines.
//!
//! Using a trained model (what `classify`, `embed` and `recommend` need):
//!
//! ```no_run
//! use tuneprint::model::Classifier;
//! # fn main() -> Result<(), tuneprint::model::ModelError> {
//! let clf = Classifier::load(std::path::Path::new("models/cnn"))?;
//! let rows: Vec<[f64; 57]> = vec![[0.0; 57]]; // raw features, FEATURE_COLUMNS order
//! let proba = clf.predict_proba(&rows); // one Vec of 10 probabilities per row
//! let best = clf.genres()[clf.predict(&rows)[0]].clone();
//! let flat = clf.embed(&rows); // 3328 flatten-layer activations per row
//! let dense = clf.embed_dense(&rows); // 128 dense-layer activations per row
//! # Ok(()) }
//! ```
//!
//! A model directory holds `model.json` ([`ModelInfo`]: columns, scaler, genres, metrics) and the
//! weights (`model.safetensors`); `train` adds `evaluation.json`, `history.csv`, `confusion.csv`
//! and `runs/seed-<S>/`. The scaler is applied inside the classifier: pass raw features.

pub mod baselines;
pub mod cnn;
pub mod dataset;
pub mod strong;
pub mod train;

use crate::config::GENRES;
use crate::features::{FeatureVector, FEATURE_COLUMNS, N_FEATURES};
use crate::table::TableError;
use cnn::Cnn;
use dataset::Scaler;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{nn, Device, Tensor};

pub use dataset::{Dataset, Protocol, Split};
pub use strong::StrongSpec;
pub use train::{Evaluation, GenreScores};

/// Version of the model directory format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// File name of the weights inside a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Whether libtorch is linked and usable: builds a small tensor and sums it.
pub fn libtorch_smoke() -> f64 {
    let t = tch::Tensor::from_slice(&[1.0f64, 2.0, 3.5]);
    t.sum(tch::Kind::Double).double_value(&[])
}

/// Where models run: CUDA when a GPU and CUDA-enabled libtorch exist, else the CPU.
///
/// The binary does not link libtorch's CUDA library (about 400 MB resident once loaded, which
/// `extract` and `check` never need), so the first call loads it here, from the libtorch folder the
/// build linked against (then the dynamic loader's search path), before asking libtorch for a GPU.
pub fn device() -> Device {
    static DEVICE: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    *DEVICE.get_or_init(|| {
        load_cuda_backend();
        Device::cuda_if_available()
    })
}

/// Loads `libtorch_cuda.so` into the process (global symbols), so that libtorch registers its
/// CUDA backend; returns whether it is loaded. A CPU-only libtorch has no such file: false.
pub fn load_cuda_backend() -> bool {
    const NAME: &str = "libtorch_cuda.so";
    let mut candidates = Vec::new();
    if let Some(dir) = option_env!("TUNEPRINT_LIBTORCH_LIB") {
        candidates.push(format!("{dir}/{NAME}"));
    }
    candidates.push(NAME.to_string());
    candidates.into_iter().any(|path| {
        let Ok(c_path) = std::ffi::CString::new(path) else {
            return false;
        };
        // SAFETY: dlopen with a valid NUL-terminated path; the handle is kept open for the
        // life of the process (never dlclose'd), as libtorch's registrations require.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        !handle.is_null()
    })
}

/// Sets the number of CPU threads libtorch uses in this process (0 leaves its default, one per
/// core). The CNN's mini-batches are small: one thread is about as fast as two on an idle
/// machine and far faster on a busy one, where libtorch's threads wait on each other.
pub fn set_cpu_threads(n: usize) {
    if n > 0 {
        tch::set_num_threads(n.min(i32::MAX as usize) as i32);
    }
}

/// Which classifier: the paper's CNN, or the stronger ensemble of [`strong`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Arch {
    /// The paper's 1-D CNN, exactly as published.
    #[default]
    Paper,
    /// An ensemble of small MLPs on log-variance features, chosen on validation data only.
    Strong,
}

impl Arch {
    /// The name used on the command line and in `model.json`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Paper => cnn::ARCH,
            Arch::Strong => strong::ARCH,
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
            created_by: format!("tuneprint {}", env!("CARGO_PKG_VERSION")),
            weights: WEIGHTS_FILE.into(),
            metrics: None,
        }
    }
}

/// The network of a [`Classifier`].
enum Net {
    Paper(Box<Cnn>),
    Strong(strong::Ensemble, StrongSpec),
}

/// A trained CNN (or strong ensemble) with its scaler, ready to classify and embed songs
/// (eval mode).
pub struct Classifier {
    vs: nn::VarStore,
    net: Net,
    scaler: Scaler,
    info: ModelInfo,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("device", &self.vs.device())
            .field("info", &self.info)
            .finish()
    }
}

fn incompatible(path: &Path, reason: impl Into<String>) -> ModelError {
    ModelError::Incompatible {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl Classifier {
    /// Wraps trained parts.
    pub fn from_parts(vs: nn::VarStore, cnn: Cnn, scaler: Scaler, info: ModelInfo) -> Classifier {
        Classifier {
            vs,
            net: Net::Paper(Box::new(cnn)),
            scaler,
            info,
        }
    }

    /// Wraps a fitted strong ensemble (`info.arch` should be `strong`, `info.strong` its spec).
    pub fn from_strong(fitted: strong::FittedStrong, mut info: ModelInfo) -> Classifier {
        info.arch = strong::ARCH.into();
        info.strong = Some(fitted.spec.clone());
        info.scaler_mean = fitted.scaler.mean.clone();
        info.scaler_std = fitted.scaler.std.clone();
        Classifier {
            vs: fitted.vs,
            net: Net::Strong(fitted.ensemble, fitted.spec),
            scaler: fitted.scaler,
            info,
        }
    }

    /// Loads a model directory (on CUDA when available), refusing one whose format version,
    /// architecture, feature columns, genres, scaler or weights do not match this build.
    pub fn load(dir: &Path) -> Result<Classifier, ModelError> {
        Classifier::load_on(dir, device())
    }

    /// [`Classifier::load`] onto a given device.
    pub fn load_on(dir: &Path, device: Device) -> Result<Classifier, ModelError> {
        let json_path = dir.join("model.json");
        let text = std::fs::read_to_string(&json_path).map_err(|e| ModelError::Read {
            path: json_path.clone(),
            reason: if e.kind() == std::io::ErrorKind::NotFound {
                "not found (train a model with `tuneprint train`)".into()
            } else {
                e.to_string()
            },
        })?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| incompatible(&json_path, format!("not valid JSON: {e}")))?;
        match value.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == FORMAT_VERSION as u64 => {}
            Some(v) => {
                return Err(incompatible(
                    &json_path,
                    format!(
                        "format_version {v}, this tuneprint reads version {FORMAT_VERSION} \
                         (retrain with `tuneprint train`)"
                    ),
                ))
            }
            None => return Err(incompatible(&json_path, "no `format_version`")),
        }
        match value.get("arch").and_then(|v| v.as_str()) {
            Some(cnn::ARCH) | Some(strong::ARCH) => {}
            other => {
                return Err(incompatible(
                    &json_path,
                    format!(
                        "architecture {}, this tuneprint knows `{}` and `{}`",
                        other.map_or("missing".to_string(), |a| format!("`{a}`")),
                        cnn::ARCH,
                        strong::ARCH
                    ),
                ))
            }
        }
        let info: ModelInfo = serde_json::from_value(value)
            .map_err(|e| incompatible(&json_path, format!("unexpected content: {e}")))?;
        if info.feature_columns.len() != N_FEATURES
            || info
                .feature_columns
                .iter()
                .zip(FEATURE_COLUMNS)
                .any(|(a, b)| a != b)
        {
            let detail = info
                .feature_columns
                .iter()
                .zip(FEATURE_COLUMNS)
                .enumerate()
                .find(|(_, (a, b))| a != b)
                .map(|(k, (a, b))| format!("column {} is `{a}`, expected `{b}`", k + 1))
                .unwrap_or_else(|| {
                    format!(
                        "{} feature columns, expected {N_FEATURES}",
                        info.feature_columns.len()
                    )
                });
            return Err(incompatible(
                &json_path,
                format!("feature columns differ from this tuneprint's: {detail}"),
            ));
        }
        // Any label set (GTZAN's 10 genres, or a library's own tags): at least two distinct,
        // non-empty names; the weights must have one output per name.
        let distinct: std::collections::HashSet<&str> =
            info.genres.iter().map(String::as_str).collect();
        if info.genres.len() < 2
            || distinct.len() != info.genres.len()
            || info.genres.iter().any(|g| g.trim().is_empty())
        {
            return Err(incompatible(
                &json_path,
                format!(
                    "genres [{}]: expected at least 2 distinct non-empty names",
                    info.genres.join(", ")
                ),
            ));
        }
        let n_classes = info.genres.len() as i64;
        if info.scaler_mean.len() != N_FEATURES
            || info.scaler_std.len() != N_FEATURES
            || info.scaler_mean.iter().any(|v| !v.is_finite())
            || info.scaler_std.iter().any(|v| !(v.is_finite() && *v > 0.0))
        {
            return Err(incompatible(
                &json_path,
                format!("scaler_mean/scaler_std must be {N_FEATURES} finite numbers (std > 0)"),
            ));
        }
        if info.weights.is_empty()
            || info.weights.contains(['/', '\\'])
            || !info.weights.ends_with(".safetensors")
        {
            return Err(incompatible(
                &json_path,
                format!(
                    "weights `{}`: expected a .safetensors file name next to model.json",
                    info.weights
                ),
            ));
        }
        let weights_path = dir.join(&info.weights);
        let tensors = Tensor::read_safetensors(&weights_path).map_err(|e| ModelError::Read {
            path: weights_path.clone(),
            reason: e.to_string(),
        })?;
        let vs = nn::VarStore::new(device);
        let net = if info.arch == strong::ARCH {
            let spec = info.strong.clone().ok_or_else(|| {
                incompatible(
                    &json_path,
                    "architecture `strong` without its `strong` settings",
                )
            })?;
            if spec.members == 0
                || spec.members > 64
                || spec.hidden.is_empty()
                || spec.hidden.iter().any(|&h| h == 0 || h > 65536)
            {
                return Err(incompatible(
                    &json_path,
                    "`strong`: 1 to 64 members with hidden widths of 1 to 65536",
                ));
            }
            Net::Strong(
                strong::Ensemble::with_classes(&vs.root(), &spec, n_classes),
                spec,
            )
        } else {
            Net::Paper(Box::new(Cnn::with_classes(&vs.root(), n_classes)))
        };
        let vars = vs.variables();
        let loaded: std::collections::HashMap<String, Tensor> = tensors.into_iter().collect();
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in names {
            let var = &vars[name];
            let src = loaded
                .get(name)
                .ok_or_else(|| incompatible(&weights_path, format!("tensor `{name}` missing")))?;
            if src.size() != var.size() {
                return Err(incompatible(
                    &weights_path,
                    format!(
                        "tensor `{name}` has shape {:?}, expected {:?}",
                        src.size(),
                        var.size()
                    ),
                ));
            }
        }
        if let Some(extra) = loaded.keys().find(|k| !vars.contains_key(*k)) {
            return Err(incompatible(
                &weights_path,
                format!("unexpected tensor `{extra}`"),
            ));
        }
        tch::no_grad(|| -> Result<(), ModelError> {
            for (name, mut var) in vars {
                let src = loaded[&name].to_kind(var.kind());
                var.f_copy_(&src).map_err(|e| ModelError::Torch {
                    context: format!("{}: loading `{name}`", weights_path.display()),
                    reason: e.to_string(),
                })?;
            }
            Ok(())
        })?;
        let scaler = Scaler {
            mean: info.scaler_mean.clone(),
            std: info.scaler_std.clone(),
        };
        Ok(Classifier {
            vs,
            net,
            scaler,
            info,
        })
    }

    /// Writes the weights and `model.json` into `dir` (created when missing), each atomically.
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::Write {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        let weights_path = dir.join(&self.info.weights);
        let tmp = dir.join(format!(".{}.{}.tmp", self.info.weights, std::process::id()));
        let mut named: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .map(|(k, v)| (k, v.detach().to_device(Device::Cpu).contiguous()))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        Tensor::write_safetensors(&named, &tmp).map_err(|e| ModelError::Write {
            path: weights_path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::rename(&tmp, &weights_path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            ModelError::Write {
                path: weights_path.clone(),
                reason: e.to_string(),
            }
        })?;
        let mut json = serde_json::to_string_pretty(&self.info).map_err(|e| ModelError::Write {
            path: dir.join("model.json"),
            reason: e.to_string(),
        })?;
        json.push('\n');
        crate::table::write_atomic(&dir.join("model.json"), json.as_bytes())?;
        Ok(())
    }

    /// The contents of `model.json`.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Genre names in class index order.
    pub fn genres(&self) -> &[String] {
        &self.info.genres
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// The scaler applied to raw features.
    pub fn scaler(&self) -> &Scaler {
        &self.scaler
    }

    /// The architecture of the network.
    pub fn arch(&self) -> Arch {
        match self.net {
            Net::Paper(_) => Arch::Paper,
            Net::Strong(..) => Arch::Strong,
        }
    }

    /// `which`: 0 = probabilities, 1 = flatten layer, 2 = dense layer.
    fn activations(&self, rows: &[FeatureVector], which: u8) -> Vec<Vec<f32>> {
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(512) {
            let t = match &self.net {
                Net::Paper(cnn) => {
                    let x = cnn::input_tensor(&self.scaler.transform_f32(chunk), self.device());
                    tch::no_grad(|| {
                        let a = cnn.forward(&x, false, None);
                        match which {
                            0 => a.logits.softmax(-1, tch::Kind::Float),
                            1 => a.flat,
                            _ => a.dense,
                        }
                    })
                }
                Net::Strong(ens, spec) => {
                    let rows = strong::transform_rows(spec, chunk);
                    let x = cnn::input_tensor(&self.scaler.transform_f32(&rows), self.device());
                    match which {
                        0 => ens.proba(&x),
                        _ => ens.embed(&x),
                    }
                }
            };
            out.extend(cnn::to_rows(&t));
        }
        out
    }

    /// Class probabilities (softmax, 10 per row, [`Classifier::genres`] order) of raw feature
    /// rows (the strong ensemble: the mean of its members').
    pub fn predict_proba(&self, rows: &[FeatureVector]) -> Vec<Vec<f32>> {
        self.activations(rows, 0)
    }

    /// Most probable class index of each row.
    pub fn predict(&self, rows: &[FeatureVector]) -> Vec<usize> {
        self.predict_proba(rows)
            .iter()
            .map(|p| {
                p.iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |b, (i, &v)| {
                            if v > b.1 {
                                (i, v)
                            } else {
                                b
                            }
                        },
                    )
                    .0
            })
            .collect()
    }

    /// Flatten-layer activations (128 channels × 26 positions = 3328 values, channel-major) of
    /// raw feature rows, in eval mode. The strong ensemble has no flatten layer: its members'
    /// last hidden layers side by side, as [`Classifier::embed_dense`].
    pub fn embed(&self, rows: &[FeatureVector]) -> Vec<Vec<f32>> {
        self.activations(rows, 1)
    }

    /// Dense(128) activations after ReLU of raw feature rows, in eval mode (the strong
    /// ensemble: its members' last hidden layers after ReLU, side by side).
    pub fn embed_dense(&self, rows: &[FeatureVector]) -> Vec<Vec<f32>> {
        self.activations(rows, 2)
    }
}
