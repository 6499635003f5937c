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

/// The embedding a model recommends with when `--layer` is not given: the paper CNN's flatten
/// layer; the strong ensemble's and the blend's `combined` layer (their best on validation
/// queries, `recommend --evaluate`).
pub fn default_layer(clf: &Classifier) -> Layer {
    match clf.arch() {
        crate::model::Arch::Paper => Layer::Flatten,
        crate::model::Arch::Strong | crate::model::Arch::Blend => Layer::Combined,
    }
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
    /// Model directory written by `tuneprint train`.
    #[arg(long, default_value = "models/cnn")]
    pub model: PathBuf,
    /// Features CSV whose rows are embedded.
    #[arg(long, default_value = "features/features_30_sec.csv")]
    pub features: PathBuf,
    /// Output `.npy` file (an index `.csv` with filename,label is written beside it);
    /// default `<model>/embeddings.npy`.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Which layer's activations to save (default: the model's own: the CNN's flatten layer,
    /// the strong ensemble's and the blend's `combined`).
    #[arg(long, value_enum)]
    pub layer: Option<Layer>,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `tuneprint embed`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let clf = Classifier::load(&args.model)?;
    let rows = table::read_csv(&args.features)?;
    let lib = embed_records(
        &clf,
        args.layer.unwrap_or_else(|| default_layer(&clf)),
        &rows,
    );
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| args.model.join("embeddings.npy"));
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
