//! `tuneprint classify`: genres of songs from raw audio, with the model `train` saved or the built-in one.

use super::CliError;
use crate::extract;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

pub use crate::model::predict::{average, Prediction, WINDOW_SECONDS};

/// Arguments of `tuneprint classify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio files and folders (folders are walked recursively for audio files); with `--db`,
    /// songs of the library (path, file name or stem) or audio files, none for every song.
    #[arg(required_unless_present = "db")]
    pub paths: Vec<PathBuf>,
    /// Classify songs of a library database (`tuneprint library scan`) from their stored
    /// window features, nothing decoded again; files not in it are analysed.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Model folder [default: the model `tuneprint train` saved in
    /// $TUNEPRINT_HOME/models/default, else the built-in model, builtin:default: the default
    /// blend trained on the reference table].
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

/// `classify --db`: predictions from the library's stored window features (a library song) or
/// from a new analysis (a file not in the library), with the chosen model.
fn predict_db(args: &Args, db: &std::path::Path) -> Result<(Vec<Prediction>, usize), CliError> {
    use crate::library::{Library, LibraryError, Query};
    let lib = Library::open_existing(Some(db))?;
    let dir = super::model_dir(args.model.as_deref());
    super::load_model(Some(&dir))?; // a clear message when there is no model
    let model = crate::library::Model::load(&dir)?;
    let genres = model.genres().to_vec();
    let queries: Vec<(String, Result<Query, LibraryError>)> = if args.paths.is_empty() {
        lib.list(&crate::library::ListQuery::default())?
            .items
            .into_iter()
            .map(|s| (s.path.display().to_string(), Ok(Query::Song(s.id))))
            .collect()
    } else {
        args.paths
            .iter()
            .map(|p| {
                let name = p.display().to_string();
                let q = lib.resolve(&name);
                (name, q)
            })
            .collect()
    };
    let mut predictions = Vec::new();
    let mut failed = 0;
    for (name, q) in queries {
        let r = q.and_then(|q| {
            let file = match &q {
                Query::Song(id) => lib.audio_path(*id)?.display().to_string(),
                Query::File(_) => name.clone(),
            };
            let windows = lib.query_windows(&q)?;
            // The library's model averages the windows' probabilities.
            let out = model.outputs(std::slice::from_ref(&windows));
            let probs = out.into_iter().next().map(|o| o.probabilities);
            let probs: Vec<f64> = probs
                .unwrap_or_default()
                .into_iter()
                .map(f64::from)
                .collect();
            Ok(if probs.is_empty() {
                average(file, &genres, &[], windows.len())
            } else {
                Prediction::new(file, &genres, probs, windows.len())
            })
        });
        match r {
            Ok(p) => predictions.push(p),
            Err(e) => {
                eprintln!("error: {name}: {e}");
                failed += 1;
            }
        }
    }
    Ok((predictions, failed))
}

/// Runs `tuneprint classify`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    if let Some(db) = &args.db {
        let (predictions, failed) = predict_db(args, db)?;
        return print(args, &predictions, failed);
    }
    let clf = super::load_model(args.model.as_deref())?;
    let (files, walk_errors) = extract::collect_inputs(&args.paths);
    for e in &walk_errors {
        eprintln!("error: {e}");
    }
    if files.is_empty() {
        return Err(CliError::Failed("no audio files to classify".into()));
    }
    let bars = super::Bars::default();
    let ctl = extract::Control {
        progress: Some(&bars),
        stage: "classifying",
        cancel: None,
    };
    let results = crate::model::predict::classify_files(&clf, &files, args.jobs, ctl)?;

    let mut predictions = Vec::new();
    let mut failed = walk_errors.len();
    for r in results {
        match r {
            Ok(p) => predictions.push(p),
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }
    print(args, &predictions, failed)
}

/// Prints the predictions (text or JSON); the exit status counts the failures.
fn print(args: &Args, predictions: &[Prediction], failed: usize) -> Result<ExitCode, CliError> {
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&predictions)
                .map_err(|e| CliError::Failed(e.to_string()))?
        );
    } else {
        let width = predictions.iter().map(|p| p.file.len()).max().unwrap_or(4);
        for p in predictions {
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
        for p in predictions {
            *counts.entry(p.genre.as_str()).or_default() += 1;
        }
        // Every genre of the model (each prediction has them all), alphabetically.
        let genres: Vec<&String> = predictions
            .first()
            .map(|p| p.probabilities.keys().collect())
            .unwrap_or_default();
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
