//! `tuneprint report`: every figure and the report page (Markdown and HTML) in one folder.
//!
//! Inputs given explicitly must exist; default inputs that are missing are skipped with a note
//! in the report (and on stderr), so a partial project still gets a report.

use super::CliError;
use crate::recommend::Embeddings;
use crate::report::inputs::ModelDir;
use crate::report::page::{
    write_report, FeatureTable, MelInput, Recommendations, Recommended, ReportInputs,
};
use crate::report::ReportError;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Default feature table for the correlation heatmap (the built-in reference table).
pub const DEFAULT_FEATURES: &str = crate::config::FEATURES_CSV;
/// Default clip for the mel spectrogram.
pub const DEFAULT_CLIP: &str = crate::config::REPORT_CLIP;
/// Default output folder.
pub const DEFAULT_OUT_DIR: &str = crate::config::REPORT_DIR;
/// Recommendations listed per query song.
pub const TOP_K: usize = 5;
/// Genres whose first song is a default query.
const DEFAULT_QUERY_GENRES: [&str; 4] = ["blues", "classical", "hiphop", "metal"];

/// Arguments of `tuneprint report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model folder [default: the model `tuneprint train` saved in
    /// $TUNEPRINT_HOME/models/default, else the built-in model, builtin:default: the default
    /// blend trained on the reference table].
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Feature table for the correlation heatmap [default: the built-in reference table].
    #[arg(long, value_name = "CSV")]
    pub features: Option<PathBuf>,
    /// Clip whose mel spectrogram is drawn [default: audio/blues.00000.wav].
    #[arg(long, value_name = "FILE")]
    pub clip: Option<PathBuf>,
    /// Song embeddings for the recommendation tables [default: DIR/embeddings.npy].
    #[arg(long, value_name = "NPY")]
    pub embeddings: Option<PathBuf>,
    /// Song to list recommendations for (repeatable) [default: the first song of a few genres].
    #[arg(long, value_name = "NAME")]
    pub query: Vec<String>,
    /// Output folder.
    #[arg(short, long, value_name = "DIR", default_value = DEFAULT_OUT_DIR)]
    pub output: PathBuf,
    /// Print what was written and skipped as JSON.
    #[arg(long)]
    pub json: bool,
    /// Fail (exit 1) when any part of the report was left out, e.g. a model without its training
    /// history; the report is still written. The main job (scripts/demo.sh) uses it.
    #[arg(long)]
    pub strict: bool,
}

/// Runs `tuneprint report`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let mut notes = Vec::new();

    let features = match &args.features {
        Some(p) => read_features(p)?,
        None => read_features(Path::new(DEFAULT_FEATURES))?,
    };
    let features = Some(features);

    let model_dir = super::model_dir(args.model.as_deref());
    let model = if args.model.is_some() || crate::config::is_dir(&model_dir) {
        Some(ModelDir::load(&model_dir)?)
    } else {
        notes.push(format!(
            "{} not found: model sections left out (train one with `tuneprint train`, or give --model DIR)",
            model_dir.display()
        ));
        None
    };

    let mel = match &args.clip {
        Some(p) => Some(MelInput::of_file(p)?),
        None => {
            let p = PathBuf::from(DEFAULT_CLIP);
            match MelInput::of_file(&p) {
                Ok(m) => Some(m),
                Err(e) => {
                    notes.push(format!("mel spectrogram left out: {e}"));
                    None
                }
            }
        }
    };

    let emb_path = args
        .embeddings
        .clone()
        .unwrap_or_else(|| crate::config::embeddings_path(&model_dir));
    let recommendations = if args.embeddings.is_some() || emb_path.is_file() {
        recommendations(&emb_path, &args.query)?
    } else {
        notes.push(format!(
            "{} not found: recommendations left out (run `tuneprint embed`, or give --embeddings NPY)",
            emb_path.display()
        ));
        Vec::new()
    };

    let inputs = ReportInputs {
        out_dir: args.output.clone(),
        features,
        model,
        mel,
        recommendations,
        notes,
    };
    let written = write_report(&inputs)?;
    if args.json {
        let v = serde_json::json!({
            "out_dir": args.output.display().to_string(),
            "files": written.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "skipped": written.notes,
        });
        println!("{v}");
    } else {
        for f in &written.files {
            println!("{}", f.display());
        }
        for n in &written.notes {
            eprintln!("skipped: {n}");
        }
    }
    if args.strict && !written.notes.is_empty() {
        eprintln!(
            "error: report: {} part(s) left out (--strict)",
            written.notes.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn read_features(path: &Path) -> Result<FeatureTable, CliError> {
    Ok(FeatureTable {
        path: path.to_path_buf(),
        records: crate::table::read_csv(path)?,
    })
}

/// Top [`TOP_K`] songs for each query (given, or the first song of a few genres).
fn recommendations(path: &Path, queries: &[String]) -> Result<Vec<Recommendations>, CliError> {
    let invalid = |reason: String| ReportError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let lib = Embeddings::load(path).map_err(|e| ReportError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let chosen: Vec<usize> = if queries.is_empty() {
        DEFAULT_QUERY_GENRES
            .iter()
            .filter_map(|g| {
                lib.find(&format!("{g}.00000"))
                    .or_else(|| lib.labels.iter().position(|l| l == g))
            })
            .collect()
    } else {
        queries
            .iter()
            .map(|q| {
                lib.find(q)
                    .ok_or_else(|| invalid(format!("no song `{q}` among the embeddings")))
            })
            .collect::<Result<_, _>>()?
    };
    chosen
        .into_iter()
        .map(|i| {
            let name = lib.filenames[i].clone();
            let hits = lib
                .recommend_for(&name, TOP_K)
                .map_err(|e| invalid(e.to_string()))?;
            Ok(Recommendations {
                query: name,
                genre: lib.labels[i].clone(),
                similar: hits
                    .into_iter()
                    .map(|h| Recommended {
                        song: h.filename,
                        genre: h.label,
                        similarity: h.similarity,
                    })
                    .collect(),
            })
        })
        .collect()
}
