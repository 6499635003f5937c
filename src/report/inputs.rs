//! Reading a model directory (the format agreed with `train` and `baselines`): every file is
//! optional; a missing one becomes a note, a present but broken one is an error.

use super::confusion::Confusion;
use super::curves::read_history;
use super::ReportError;
pub use crate::model::evaluation::{EpochStats, Evaluation, GenreScores};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `model.json`: the fields the report shows (others are ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModelInfo {
    #[serde(default)]
    pub format_version: Option<serde_json::Value>,
    #[serde(default)]
    pub arch: Option<String>,
    #[serde(default)]
    pub genres: Vec<String>,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub epochs_trained: Option<serde_json::Value>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub weights: Option<String>,
    #[serde(default)]
    pub metrics: Option<Evaluation>,
}

/// One model of `baselines.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BaselineModel {
    pub name: String,
    pub accuracies: Vec<f64>,
    pub mean_accuracy: f64,
    pub std_accuracy: f64,
}

/// `baselines.json`: what `baselines --json` prints.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Baselines {
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub seeds: Vec<u64>,
    pub models: Vec<BaselineModel>,
}

/// One evaluation run, `runs/seed-<S>/`.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub seed: u64,
    pub history: Option<Vec<EpochStats>>,
    pub confusion: Option<Confusion>,
}

/// Everything the report uses from a model directory.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelDir {
    pub path: PathBuf,
    pub info: Option<ModelInfo>,
    /// From `evaluation.json`, else the `metrics` of `model.json`.
    pub evaluation: Option<Evaluation>,
    pub baselines: Option<Baselines>,
    pub history: Option<Vec<EpochStats>>,
    pub confusion: Option<Confusion>,
    pub runs: Vec<Run>,
    /// What was missing and what that leaves out.
    pub notes: Vec<String>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ReportError> {
    let text = crate::config::read_text(path).map_err(|e| ReportError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| ReportError::Invalid {
        path: path.to_path_buf(),
        reason: format!("not the expected JSON: {e}"),
    })
}

/// Reads `path` with `read` when it exists; notes `missing` when it does not.
fn optional<T>(
    path: &Path,
    notes: &mut Vec<String>,
    missing: &str,
    read: impl FnOnce(&Path) -> Result<T, ReportError>,
) -> Result<Option<T>, ReportError> {
    if crate::config::is_file(path) {
        read(path).map(Some)
    } else {
        notes.push(format!("{} not found: {missing}", path.display()));
        Ok(None)
    }
}

impl ModelDir {
    /// Reads a model directory. Errors when the folder is missing, holds none of the expected
    /// files, or holds a file that cannot be parsed.
    pub fn load(dir: &Path) -> Result<ModelDir, ReportError> {
        if !crate::config::is_dir(dir) {
            return Err(ReportError::Read {
                path: dir.to_path_buf(),
                reason: "model directory not found (train one with `tuneprint train`)".into(),
            });
        }
        let expected = [
            "model.json",
            "evaluation.json",
            "history.csv",
            "confusion.csv",
            "baselines.json",
        ];
        if !expected
            .iter()
            .any(|f| crate::config::is_file(&dir.join(f)))
        {
            return Err(ReportError::Invalid {
                path: dir.to_path_buf(),
                reason: format!(
                    "not a model directory: holds none of {}",
                    expected.join(", ")
                ),
            });
        }
        let mut notes = Vec::new();
        let info: Option<ModelInfo> = optional(
            &dir.join("model.json"),
            &mut notes,
            "model details left out",
            read_json,
        )?;
        let mut evaluation: Option<Evaluation> = optional(
            &dir.join("evaluation.json"),
            &mut notes,
            "accuracy over seeds and per-genre scores taken from model.json if there",
            read_json,
        )?;
        if evaluation.is_none() {
            evaluation = info.as_ref().and_then(|i| i.metrics.clone());
        }
        let mut baselines = optional(
            &dir.join("baselines.json"),
            &mut notes,
            "baseline comparison left out (run `tuneprint baselines -o DIR`)",
            read_json,
        )?;
        let history = optional(
            &dir.join("history.csv"),
            &mut notes,
            "training curves of the saved model left out",
            read_history,
        )?;
        let confusion = optional(
            &dir.join("confusion.csv"),
            &mut notes,
            "confusion matrix left out",
            Confusion::read,
        )?;
        let mut runs = read_runs(&dir.join("runs"))?;
        // Accuracies are fractions everywhere in the report; a file that writes percent is
        // recognised by values above 1 and scaled.
        for ev in evaluation.iter_mut() {
            if ev
                .accuracies
                .iter()
                .chain([&ev.mean_accuracy])
                .any(|a| *a > 1.0)
            {
                ev.accuracies.iter_mut().for_each(|a| *a /= 100.0);
                ev.mean_accuracy /= 100.0;
                ev.std_accuracy /= 100.0;
            }
        }
        for m in baselines
            .iter_mut()
            .flat_map(|b: &mut Baselines| b.models.iter_mut())
        {
            if m.accuracies
                .iter()
                .chain([&m.mean_accuracy])
                .any(|a| *a > 1.0)
            {
                m.accuracies.iter_mut().for_each(|a| *a /= 100.0);
                m.mean_accuracy /= 100.0;
                m.std_accuracy /= 100.0;
            }
        }
        let mut history = history;
        for h in history
            .iter_mut()
            .chain(runs.iter_mut().filter_map(|r| r.history.as_mut()))
        {
            if h.iter()
                .any(|e| e.train_accuracy > 1.0 || e.val_accuracy > 1.0)
            {
                for e in h.iter_mut() {
                    e.train_accuracy /= 100.0;
                    e.val_accuracy /= 100.0;
                }
            }
        }
        Ok(ModelDir {
            path: dir.to_path_buf(),
            info,
            evaluation,
            baselines,
            history,
            confusion,
            runs,
            notes,
        })
    }
}

/// Reads every `runs/seed-<S>/` folder (history and confusion, each optional), sorted by seed.
fn read_runs(dir: &Path) -> Result<Vec<Run>, ReportError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut runs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(seed) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("seed-"))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if !path.is_dir() {
            continue;
        }
        let h = path.join("history.csv");
        let c = path.join("confusion.csv");
        runs.push(Run {
            seed,
            history: if h.is_file() {
                Some(read_history(&h)?)
            } else {
                None
            },
            confusion: if c.is_file() {
                Some(Confusion::read(&c)?)
            } else {
                None
            },
        });
    }
    runs.sort_by_key(|r| r.seed);
    Ok(runs)
}
