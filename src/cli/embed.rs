//! `tuneprint embed`: the CNN embedding of every song of a features CSV.

use super::CliError;
use crate::model::Classifier;
use crate::recommend::{index_path, unit_concat, Library};
use crate::table::{self, Record};
use std::path::PathBuf;
use std::process::ExitCode;

/// Which activations of the network serve as a song's embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layer {
    /// The flatten layer (128 channels × 26 positions = 3328 values): the paper's embedding.
    Flatten,
    /// The 128-unit dense layer after it (the strong ensemble: its members' last hidden
    /// layers side by side).
    Dense,
    /// The 10 class probabilities: songs the model hears the same way, genre by genre.
    Probabilities,
    /// The dense layer and the class probabilities side by side, each scaled to unit length:
    /// timbre and genre in equal parts (the best embedding of `recommend --evaluate` on
    /// validation queries, with a strong model).
    Combined,
}

/// Embeddings of table rows with a trained classifier.
pub fn embed_records(clf: &Classifier, layer: Layer, rows: &[Record]) -> Library {
    let feats: Vec<_> = rows.iter().map(|r| r.features).collect();
    let vectors = match layer {
        Layer::Flatten => clf.embed(&feats),
        Layer::Dense => clf.embed_dense(&feats),
        Layer::Probabilities => clf.predict_proba(&feats),
        Layer::Combined => combined(clf.embed_dense(&feats), clf.predict_proba(&feats)),
    };
    Library {
        filenames: rows.iter().map(|r| r.filename.clone()).collect(),
        labels: rows.iter().map(|r| r.label.clone()).collect(),
        vectors,
    }
}

/// Row by row [`unit_concat`] of two embeddings of the same songs.
pub fn combined(a: Vec<Vec<f32>>, b: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    a.iter().zip(&b).map(|(x, y)| unit_concat(x, y)).collect()
}

/// Arguments of `tuneprint embed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory written by `tuneprint train` [default: $TUNEPRINT_HOME/models/default].
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Features CSV whose rows are embedded [default: the built-in reference table].
    #[arg(long, default_value = crate::config::FEATURES_CSV, conflicts_with = "db")]
    pub features: PathBuf,
    /// Embed the songs of a library database instead (`tuneprint library scan`), from their
    /// stored features (one row per song, as `library export --csv` writes them).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Output `.npy` file (an index `.csv` with filename,label is written beside it);
    /// default `<model>/embeddings.npy`.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Which layer's activations to save.
    #[arg(long, value_enum, default_value_t = Layer::Flatten)]
    pub layer: Layer,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `tuneprint embed`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let clf = super::load_model(args.model.as_deref())?;
    let rows = match &args.db {
        Some(db) => super::from_db::open(Some(db))?.records(false)?,
        None => table::read_csv(&args.features)?,
    };
    let lib = embed_records(&clf, args.layer, &rows);
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| super::model_dir(args.model.as_deref()).join("embeddings.npy"));
    lib.save(&out)?;
    let dim = lib.vectors.first().map_or(0, Vec::len);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "embeddings": out.display().to_string(),
                "index": index_path(&out).display().to_string(),
                "songs": lib.len(),
                "dimension": dim,
            })
        );
    } else {
        println!(
            "{} songs × {dim} values → {} (index {})",
            lib.len(),
            out.display(),
            index_path(&out).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
