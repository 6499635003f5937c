//! `tuneprint recommend`: songs most like a query song, by cosine similarity of CNN embeddings.

use super::embed::embed_records;
use super::CliError;
use crate::extract::{self, Options};
use crate::model::{Classifier, Layer};
use crate::recommend::Hit;
use crate::table;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `tuneprint recommend`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A song of the library (filename or stem, e.g. `jazz.00098`) or a path to an audio file.
    #[arg(required_unless_present = "evaluate")]
    pub query: Option<String>,
    /// How many songs to return.
    #[arg(short, default_value_t = 5)]
    pub k: usize,
    /// Model directory written by `tuneprint train`.
    #[arg(long, default_value = "models/cnn")]
    pub model: PathBuf,
    /// The song library: a features CSV.
    #[arg(long, default_value = "features/features_30_sec.csv")]
    pub library: PathBuf,
    /// Which layer's activations embed the songs (default: the model's own, `embedding` of
    /// its model.json: `flatten` for the paper CNN, `combined` for the strong ensemble).
    #[arg(long, value_enum)]
    pub layer: Option<Layer>,
    /// Instead of recommending: genre precision@k for test-split songs with models trained
    /// without them (the paper CNN and the strong ensemble), for every layer of each and for
    /// the standardized raw features.
    #[arg(long)]
    pub evaluate: bool,
    /// Seeds of the evaluation (holdout splits 0..N).
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Output<'a> {
    query: &'a str,
    results: &'a [Hit],
}

/// Runs `tuneprint recommend`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    if args.evaluate {
        // Trains networks: `cli::run` sends it to `recommend_eval` (in `tuneprint-torch`).
        return Err(CliError::Failed(
            "recommend --evaluate trains networks: run it through tuneprint-torch".into(),
        ));
    }
    let query = args.query.as_deref().unwrap_or_default();
    if args.k == 0 {
        return Err(CliError::Failed("-k must be at least 1".into()));
    }
    let clf = Classifier::load(&args.model)?;
    let layer = args.layer.unwrap_or_else(|| clf.default_layer());
    let rows = table::read_csv(&args.library)?;
    let lib = embed_records(&clf, layer, &rows);
    let path = Path::new(query);
    let hits = if path.is_file() {
        // An audio file: extract it (30 s windows for long songs), embed, average the windows.
        let recs = extract::extract_file(
            path,
            &Options {
                window_seconds: Some(super::classify::WINDOW_SECONDS),
            },
        )?;
        let q = embed_records(&clf, layer, &recs);
        let dim = q.vectors.first().map_or(0, Vec::len);
        let mut mean = vec![0.0f32; dim];
        for v in &q.vectors {
            for (m, x) in mean.iter_mut().zip(v) {
                *m += x / q.len() as f32;
            }
        }
        let stem = table::stem(query);
        lib.nearest(&mean, args.k, Some(stem))?
    } else if lib.find(query).is_none() && looks_like_path(query) {
        return Err(CliError::Failed(format!(
            "{query}: no such audio file (and not a song of the library {})",
            args.library.display()
        )));
    } else {
        lib.recommend_for(query, args.k)?
    };
    if args.json {
        let out = Output {
            query,
            results: &hits,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| CliError::Failed(e.to_string()))?
        );
    } else {
        println!("songs like {query}:");
        println!(
            "{:>4}  {:<24} {:<10} {:>10}",
            "rank", "filename", "genre", "similarity"
        );
        for (i, h) in hits.iter().enumerate() {
            println!(
                "{:>4}  {:<24} {:<10} {:>10.4}",
                i + 1,
                h.filename,
                h.label,
                h.similarity
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether a query names a file rather than a library song (a folder part or an audio extension).
fn looks_like_path(q: &str) -> bool {
    q.contains('/') || q.contains('\\') || extract::is_audio_path(Path::new(q))
}
