//! A trained model ready to classify and embed songs, in plain Rust (no tch): `model.json` and
//! the weights of a model directory, run by the networks of [`super::native`].

use super::dataset::Scaler;
use super::native::{self, NativeNet, Weights};
use super::{Arch, Layer, ModelError, ModelInfo, FORMAT_VERSION};
use crate::features::{FeatureVector, FEATURE_COLUMNS, N_FEATURES};
use std::path::Path;

/// A trained CNN (or strong ensemble) with its scaler, ready to classify and embed songs
/// (eval mode). Loading and running it never touches libtorch.
pub struct Classifier {
    net: NativeNet,
    scaler: Scaler,
    info: ModelInfo,
    /// The tensors the network was built from, for [`Classifier::save`].
    weights: Weights,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("net", &self.net.arch())
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

/// Checks what `model.json` says against this build: format, architecture, feature columns,
/// genres, scaler and weights file name.
fn parse_info(text: &str, json_path: &Path) -> Result<ModelInfo, ModelError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| incompatible(json_path, format!("not valid JSON: {e}")))?;
    match value.get("format_version").and_then(|v| v.as_u64()) {
        Some(v) if v == FORMAT_VERSION as u64 => {}
        Some(v) => {
            return Err(incompatible(
                json_path,
                format!(
                    "format_version {v}, this tuneprint reads version {FORMAT_VERSION} \
                     (retrain with `tuneprint train`)"
                ),
            ))
        }
        None => return Err(incompatible(json_path, "no `format_version`")),
    }
    match value.get("arch").and_then(|v| v.as_str()) {
        Some(a) if native::ARCHS.contains(&a) => {}
        other => {
            let known: Vec<String> = native::ARCHS.iter().map(|a| format!("`{a}`")).collect();
            return Err(incompatible(
                json_path,
                format!(
                    "architecture {}, this tuneprint knows {}",
                    other.map_or("missing".to_string(), |a| format!("`{a}`")),
                    known.join(" and ")
                ),
            ));
        }
    }
    let info: ModelInfo = serde_json::from_value(value)
        .map_err(|e| incompatible(json_path, format!("unexpected content: {e}")))?;
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
            json_path,
            format!("feature columns differ from this tuneprint's: {detail}"),
        ));
    }
    // Any label set (GTZAN's 10 genres, or a library's own tags): at least two distinct,
    // non-empty names; the weights must have one output per name (checked when they load).
    let distinct: std::collections::HashSet<&str> =
        info.genres.iter().map(String::as_str).collect();
    if info.genres.len() < 2
        || distinct.len() != info.genres.len()
        || info.genres.iter().any(|g| g.trim().is_empty())
    {
        return Err(incompatible(
            json_path,
            format!(
                "genres [{}]: expected at least 2 distinct non-empty names",
                info.genres.join(", ")
            ),
        ));
    }
    if info.scaler_mean.len() != N_FEATURES
        || info.scaler_std.len() != N_FEATURES
        || info.scaler_mean.iter().any(|v| !v.is_finite())
        || info.scaler_std.iter().any(|v| !(v.is_finite() && *v > 0.0))
    {
        return Err(incompatible(
            json_path,
            format!("scaler_mean/scaler_std must be {N_FEATURES} finite numbers (std > 0)"),
        ));
    }
    if info.weights.is_empty()
        || info.weights.contains(['/', '\\'])
        || !info.weights.ends_with(".safetensors")
    {
        return Err(incompatible(
            json_path,
            format!(
                "weights `{}`: expected a .safetensors file name next to model.json",
                info.weights
            ),
        ));
    }
    Ok(info)
}

impl Classifier {
    /// A classifier from `model.json`'s contents and the network's tensors (named as in
    /// `model.safetensors`); refuses tensors missing, extra or of the wrong shape.
    pub fn from_weights(info: ModelInfo, weights: Weights) -> Result<Classifier, ModelError> {
        let mut taken = weights.clone();
        let net = NativeNet::load(&info, &mut taken)?;
        let scaler = Scaler {
            mean: info.scaler_mean.clone(),
            std: info.scaler_std.clone(),
        };
        Ok(Classifier {
            net,
            scaler,
            info,
            weights,
        })
    }

    /// Loads a model directory, refusing one whose format version, architecture, feature
    /// columns, genres, scaler or weights do not match this build.
    pub fn load(dir: &Path) -> Result<Classifier, ModelError> {
        let json_path = dir.join("model.json");
        let text = crate::config::read_text(&json_path).map_err(|e| ModelError::Read {
            path: json_path.clone(),
            reason: if e.kind() == std::io::ErrorKind::NotFound {
                "not found (train a model with `tuneprint train`)".into()
            } else {
                e.to_string()
            },
        })?;
        let info = parse_info(&text, &json_path)?;
        let weights = Weights::read(&dir.join(&info.weights))?;
        Classifier::from_weights(info, weights)
    }

    /// Writes the weights and `model.json` into `dir` (created when missing), each atomically.
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::Write {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        let weights_path = dir.join(&self.info.weights);
        let bytes = Weights {
            path: weights_path.clone(),
            tensors: self.weights.tensors.clone(),
        }
        .to_bytes()?;
        crate::table::write_atomic(&weights_path, &bytes)?;
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

    /// The scaler applied to raw features.
    pub fn scaler(&self) -> &Scaler {
        &self.scaler
    }

    /// The architecture of the network.
    pub fn arch(&self) -> Arch {
        self.net.arch()
    }

    /// The tensors of the network (what `model.safetensors` holds).
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The embedding this model recommends with: `embedding` of `model.json`, else the
    /// network's own default (the paper CNN: [`Layer::Flatten`]; the strong ensemble:
    /// [`Layer::Combined`]).
    pub fn default_layer(&self) -> Layer {
        self.info
            .embedding
            .unwrap_or_else(|| self.net.forward().default_layer())
    }

    /// The activations `layer` of raw feature rows (eval mode), one `Vec` per row.
    pub fn embed_layer(&self, rows: &[FeatureVector], layer: Layer) -> Vec<Vec<f32>> {
        native::run(self.net.forward(), &self.scaler, rows, layer)
    }

    /// Class probabilities (softmax, 10 per row, [`Classifier::genres`] order) of raw feature
    /// rows (the strong ensemble: the mean of its members').
    pub fn predict_proba(&self, rows: &[FeatureVector]) -> Vec<Vec<f32>> {
        self.embed_layer(rows, Layer::Probabilities)
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
        self.embed_layer(rows, Layer::Flatten)
    }

    /// Dense(128) activations after ReLU of raw feature rows, in eval mode (the strong
    /// ensemble: its members' last hidden layers after ReLU, side by side).
    pub fn embed_dense(&self, rows: &[FeatureVector]) -> Vec<Vec<f32>> {
        self.embed_layer(rows, Layer::Dense)
    }
}
