//! `tuneprint classify`: genres of songs from raw audio, with the model trained by `train`.

use super::CliError;
use crate::extract::{self, Options};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Seconds of audio the model saw per song; longer songs are cut into windows of this length.
pub const WINDOW_SECONDS: f64 = 30.0;

/// Arguments of `tuneprint classify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio files and folders (folders are walked recursively for audio files).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Model directory written by `tuneprint train` [default: $TUNEPRINT_HOME/models/default].
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// How many of the most probable genres to print per song.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    /// Worker threads for decoding and extraction (0 = one per core).
    #[arg(short, long, default_value_t = 0)]
    pub jobs: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

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

/// Averages window probabilities into one prediction.
pub fn average(file: String, genres: &[String], window_probs: &[Vec<f32>]) -> Prediction {
    let mut mean = vec![0.0f64; genres.len()];
    for p in window_probs {
        for (m, &v) in mean.iter_mut().zip(p) {
            *m += v as f64;
        }
    }
    let n = window_probs.len().max(1) as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    let best = mean
        .iter()
        .enumerate()
        .fold(0, |b, (i, &v)| if v > mean[b] { i } else { b });
    Prediction {
        file,
        genre: genres[best].clone(),
        probabilities: genres.iter().cloned().zip(mean).collect(),
        windows: window_probs.len(),
    }
}

/// Runs `tuneprint classify`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let clf = super::load_model(args.model.as_deref())?;
    let genres: Vec<String> = clf.genres().to_vec();
    let (files, walk_errors) = extract::collect_inputs(&args.paths);
    for e in &walk_errors {
        eprintln!("error: {e}");
    }
    if files.is_empty() {
        return Err(CliError::Failed("no audio files to classify".into()));
    }
    let opts = Options {
        window_seconds: Some(WINDOW_SECONDS),
    };
    let pb = extract::progress_bar(files.len(), "classifying");
    let results = extract::extract_all(&files, &opts, args.jobs, &pb)?;
    pb.finish_and_clear();

    let mut predictions = Vec::new();
    let mut failed = walk_errors.len();
    for (path, r) in files.iter().zip(results) {
        match r {
            Ok(rows) => {
                let feats: Vec<_> = rows.iter().map(|r| r.features).collect();
                let probs = clf.predict_proba(&feats);
                predictions.push(average(path.display().to_string(), &genres, &probs));
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }

    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&predictions)
                .map_err(|e| CliError::Failed(e.to_string()))?
        );
    } else {
        let width = predictions.iter().map(|p| p.file.len()).max().unwrap_or(4);
        for p in &predictions {
            let mut ranked: Vec<(&String, &f64)> = p.probabilities.iter().collect();
            ranked.sort_by(|a, b| b.1.partial_cmp(a.1).unwrap_or(std::cmp::Ordering::Equal));
            let top: Vec<String> = ranked
                .iter()
                .take(args.top.max(1))
                .map(|(g, v)| format!("{g} {:.2}", v))
                .collect();
            println!(
                "{:<width$}  {:<9}  [{}]  {} window{}",
                p.file,
                p.genre,
                top.join(", "),
                p.windows,
                if p.windows == 1 { "" } else { "s" }
            );
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for p in &predictions {
            *counts.entry(p.genre.as_str()).or_default() += 1;
        }
        let per_genre: Vec<String> = genres
            .iter()
            .filter_map(|g| counts.get(g.as_str()).map(|c| format!("{g} {c}")))
            .collect();
        println!(
            "classified {} songs ({failed} failed): {}",
            predictions.len(),
            if per_genre.is_empty() {
                "-".to_string()
            } else {
                per_genre.join(", ")
            }
        );
    }
    Ok(super::batch_status(failed))
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
        );
        assert_eq!(p.genre, "b");
        assert_eq!(p.windows, 2);
        assert!((p.probabilities["a"] - 0.3).abs() < 1e-7);
        assert!((p.probabilities["b"] - 0.6).abs() < 1e-7);
    }
}
