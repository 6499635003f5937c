//! The library's view of a trained model: its id, and the ONE function that calls it.
//!
//! Everything the library asks of the classifier goes through [`Model::outputs`] (and
//! [`Model::load`]), so that changes to `model::Classifier` touch this file only.

use super::LibraryError;
use crate::features::FeatureVector;
use crate::model::Classifier;
use std::path::{Path, PathBuf};

/// A loaded model with the id its outputs are stored under.
pub struct Model {
    clf: Classifier,
    id: String,
    dir: PathBuf,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("dir", &self.dir)
            .finish()
    }
}

/// What the model makes of one song.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    /// Probability of each genre ([`Model::genres`] order), the mean over the song's windows.
    pub probabilities: Vec<f32>,
    /// The song's embedding, the mean over its windows.
    pub embedding: Vec<f32>,
}

impl Outputs {
    /// Index of the most probable genre (the first on ties).
    pub fn best(&self) -> usize {
        self.probabilities.iter().enumerate().fold(
            0,
            |b, (i, &v)| if v > self.probabilities[b] { i } else { b },
        )
    }
}

/// The id of a model directory: blake3 of `model.json` and the weights file, 16 hex digits.
pub fn model_id(dir: &Path) -> Result<String, LibraryError> {
    let mut h = blake3::Hasher::new();
    for name in ["model.json", crate::model::WEIGHTS_FILE] {
        let p = dir.join(name);
        let buf = crate::config::read_bytes(&p).map_err(|e| LibraryError::Io {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        h.update(&(buf.len() as u64).to_le_bytes());
        h.update(&buf);
    }
    Ok(h.finalize().to_hex()[..16].to_string())
}

impl Model {
    /// Loads a model directory written by `tuneprint train`.
    pub fn load(dir: &Path) -> Result<Model, LibraryError> {
        let clf = Classifier::load(dir)?;
        let id = model_id(dir)?;
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        Ok(Model { clf, id, dir })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The genres of the probabilities, in order.
    pub fn genres(&self) -> &[String] {
        self.clf.genres()
    }

    /// The architecture's name (`paper`, `strong`).
    pub fn arch(&self) -> &str {
        &self.clf.info().arch
    }

    /// Name of the embedding the library stores: the model's own (`default_layer`), recorded in
    /// the `models` table.
    pub fn embedding_name(&self) -> &'static str {
        self.clf.default_layer().name()
    }

    /// The model's outputs for songs given by the features of their 30 s windows: the genre
    /// probabilities and the embedding of every window, averaged over each song's windows.
    /// THE one place where the library calls the classifier.
    pub fn outputs(&self, songs: &[Vec<FeatureVector>]) -> Vec<Outputs> {
        let rows: Vec<FeatureVector> = songs.iter().flatten().copied().collect();
        if rows.is_empty() {
            return songs
                .iter()
                .map(|_| Outputs {
                    probabilities: Vec::new(),
                    embedding: Vec::new(),
                })
                .collect();
        }
        let proba = self.clf.predict_proba(&rows);
        let embed = self.clf.embed_layer(&rows, self.clf.default_layer());
        let mut out = Vec::with_capacity(songs.len());
        let mut at = 0;
        for s in songs {
            let r = at..at + s.len();
            at = r.end;
            out.push(Outputs {
                probabilities: mean(&proba[r.clone()]),
                embedding: mean(&embed[r]),
            });
        }
        out
    }
}

/// [`crate::model::predict::mean_over_windows`], stored as `f32`.
fn mean(rows: &[Vec<f32>]) -> Vec<f32> {
    crate::model::predict::mean_over_windows(rows)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}
