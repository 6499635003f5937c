//! Genres of audio files: which model, how songs are cut, and window probabilities averaged into
//! one verdict per song (the command line's `classify` and the Python package's `classify`).

use super::{Classifier, ModelError};
use crate::extract::{self, Control, ExtractError, Options};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Seconds of audio the model saw per song; longer songs are cut into windows of this length.
pub const WINDOW_SECONDS: f64 = 30.0;

/// The verdict on one song.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub file: String,
    pub genre: String,
    /// Probability of every genre, averaged over the song's windows.
    pub probabilities: BTreeMap<String, f64>,
    /// Number of 30 s windows the song was cut into (1 for songs of up to 30 s).
    pub windows: usize,
}

/// The mean over a song's windows of each of their values (probabilities, or an embedding),
/// summed in f64 in window order: where window outputs become a song's.
pub fn mean_over_windows(rows: &[Vec<f32>]) -> Vec<f64> {
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    let mut m = vec![0.0f64; first.len()];
    for r in rows {
        m.iter_mut().zip(r).for_each(|(a, &b)| *a += b as f64);
    }
    let n = rows.len() as f64;
    m.into_iter().map(|v| v / n).collect()
}

impl Prediction {
    /// The verdict on a song of `windows` windows whose genre probabilities (in `genres`'
    /// order) are `probabilities`: the most probable genre, the first on ties.
    pub fn new(file: String, genres: &[String], probabilities: Vec<f64>, windows: usize) -> Self {
        let best =
            probabilities
                .iter()
                .enumerate()
                .fold(0, |b, (i, &v)| if v > probabilities[b] { i } else { b });
        Prediction {
            file,
            genre: genres[best].clone(),
            probabilities: genres.iter().cloned().zip(probabilities).collect(),
            windows,
        }
    }
}

/// Averages window probabilities ([`mean_over_windows`]) into one prediction of a song of
/// `windows` windows.
pub fn average(
    file: String,
    genres: &[String],
    window_probs: &[Vec<f32>],
    windows: usize,
) -> Prediction {
    let mut mean = mean_over_windows(window_probs);
    if mean.is_empty() {
        mean = vec![0.0; genres.len()];
    }
    Prediction::new(file, genres, mean, windows)
}

/// The model folder a command uses: `explicit` when given, else
/// [`crate::config::default_model`] (the one `train` saved, else the built-in one).
pub fn model_dir(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .unwrap_or_else(crate::config::default_model)
}

/// Loads the model of [`model_dir`]; a folder without `model.json` is an error that says how
/// to make one.
pub fn load_model(explicit: Option<&Path>) -> Result<Classifier, ModelError> {
    let dir = model_dir(explicit);
    if !crate::config::is_file(&dir.join("model.json")) {
        let train = match explicit {
            Some(d) => format!("tuneprint train -o {}", d.display()),
            None => "tuneprint train".to_string(),
        };
        return Err(ModelError::Missing { dir, train });
    }
    Classifier::load(&dir)
}

/// The genre of each of `files` (cut into [`WINDOW_SECONDS`] windows, their probabilities
/// averaged), decoded on `jobs` threads; each file's own result, in the order of `files`.
pub fn classify_files(
    clf: &Classifier,
    files: &[PathBuf],
    jobs: usize,
    ctl: Control<'_>,
) -> Result<Vec<Result<Prediction, ExtractError>>, ExtractError> {
    let opts = Options {
        window_seconds: Some(WINDOW_SECONDS),
    };
    let genres = clf.genres().to_vec();
    let results = extract::extract_all(files, &opts, jobs, ctl)?;
    Ok(files
        .iter()
        .zip(results)
        .map(|(path, r)| {
            r.map(|rows| {
                let feats: Vec<_> = rows.iter().map(|r| r.features).collect();
                let probs = clf.predict_proba(&feats);
                average(path.display().to_string(), &genres, &probs, probs.len())
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_windows() {
        let genres: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let p = average(
            "x.wav".into(),
            &genres,
            &[vec![0.6, 0.3, 0.1], vec![0.0, 0.9, 0.1]],
            2,
        );
        assert_eq!(p.genre, "b");
        assert_eq!(p.windows, 2);
        assert!((p.probabilities["a"] - 0.3).abs() < 1e-7);
        assert!((p.probabilities["b"] - 0.6).abs() < 1e-7);
    }
}
