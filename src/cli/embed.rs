//! `tuneprint embed`: the model's embedding of every song of a features CSV.

pub use crate::model::layer::combined;

use super::CliError;
use crate::model::{Classifier, Layer};
use crate::recommend::{index_path, Embeddings};
use crate::table::{self, Record};
use std::path::PathBuf;
use std::process::ExitCode;

/// Embeddings of table rows with a trained classifier.
pub fn embed_records(clf: &Classifier, layer: Layer, rows: &[Record]) -> Embeddings {
    let feats: Vec<_> = rows.iter().map(|r| r.features).collect();
    let vectors = clf.embed_layer(&feats, layer);
    Embeddings {
        filenames: rows.iter().map(|r| r.filename.clone()).collect(),
        labels: rows.iter().map(|r| r.label.clone()).collect(),
        vectors,
    }
}

/// Arguments of `tuneprint embed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model folder [default: the model `tuneprint train` saved in
    /// $TUNEPRINT_HOME/models/default, else the built-in model, builtin:default: the default
    /// blend trained on the reference table].
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Features CSV whose rows are embedded [default: the built-in reference table].
    #[arg(long, default_value = crate::config::FEATURES_CSV, conflicts_with = "db")]
    pub features: PathBuf,
    /// Embed the songs of a library database instead (`tuneprint library scan`), from their
    /// stored features (one row per song, as `library export --csv` writes them).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Output `.npy` file (an index `.csv` with filename,label is written beside it)
    /// [default: `embeddings.npy` in the model folder; for the built-in model,
    /// $TUNEPRINT_HOME/models/builtin/embeddings.npy].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Which layer's activations to save (default: the model's own, `embedding` of its
    /// model.json: `combined` for the default blend and the strong ensemble, `flatten` for the
    /// paper CNN).
    #[arg(long, value_enum)]
    pub layer: Option<Layer>,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `tuneprint embed`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let clf = super::load_model(args.model.as_deref())?;
    let rows = match &args.db {
        Some(db) => crate::library::Library::open_existing(Some(db))?.records(false)?,
        None => table::read_csv(&args.features)?,
    };
    let layer = args.layer.unwrap_or_else(|| clf.default_layer());
    let lib = embed_records(&clf, layer, &rows);
    let out = args.output.clone().unwrap_or_else(|| {
        crate::config::embeddings_path(&super::model_dir(args.model.as_deref()))
    });
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
