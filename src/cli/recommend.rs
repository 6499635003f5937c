//! `tuneprint recommend`: songs most like a query song, by cosine similarity of the model's embeddings.

use super::embed::embed_records;
use super::CliError;
use crate::extract::{self, Options};
use crate::model::Layer;
use crate::recommend::Hit;
use crate::table;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `tuneprint recommend`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A song of the library (filename or stem, e.g. `jazz.00098`; with `--db` also its path) or
    /// a path to an audio file.
    #[arg(required_unless_present = "evaluate")]
    pub query: Option<String>,
    /// How many songs to return.
    #[arg(short, default_value_t = 5)]
    pub k: usize,
    /// Model folder [default: the model `tuneprint train` saved in
    /// $TUNEPRINT_HOME/models/default, else the built-in model, builtin:default: the default
    /// blend trained on the reference table].
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// The song library: a features CSV [default: the built-in reference table].
    #[arg(long, default_value = crate::config::FEATURES_CSV, conflicts_with = "db")]
    pub library: PathBuf,
    /// Recommend from a library database instead (`tuneprint library scan`): its stored
    /// embeddings, nothing analysed again; the query is a song of it or a new audio file.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Which layer's activations embed the songs (default: the model's own, `embedding` of
    /// its model.json: `combined` for the default blend and the strong ensemble, `flatten` for
    /// the paper CNN).
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
    results: &'a [Shown],
}

/// A recommended song as printed: the hit, and its title and artist when its tags have them.
#[derive(Debug, Serialize)]
struct Shown {
    #[serde(flatten)]
    hit: Hit,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    artist: Option<String>,
}

/// Title and artist of an audio file, when its tags have them.
// TAGS CALL SITE (the only one of `recommend` for CSV libraries; `--db` uses the stored tags).
fn title_artist(path: &Path) -> (Option<String>, Option<String>) {
    let t = crate::audio::tags::read(path);
    (t.title, t.artist)
}

/// `recommend --db`: a library song's neighbours from the stored embeddings, or a new file's
/// (analysed and embedded with the model that made the library's embeddings).
fn run_db(args: &Args, db: &Path, query: &str) -> Result<ExitCode, CliError> {
    use crate::library::{Library, Query};
    let lib = Library::open_existing(Some(db))?;
    let hits = match lib.resolve(query)? {
        Query::Song(id) => lib.nearest_to_song(id, args.k)?,
        q @ Query::File(_) => {
            let index = lib.embeddings()?;
            let dir = super::model_dir(args.model.as_deref());
            super::load_model(Some(&dir))?; // a clear message when there is no model
            let model = crate::library::Model::load(&dir)?;
            if model.id() != index.model_id() {
                return Err(CliError::Failed(format!(
                    "the library's embeddings were made by model {}, not by {} ({}): give that                      model with --model DIR (`tuneprint library status` names it), or rescan",
                    index.model_id(),
                    model.id(),
                    dir.display()
                )));
            }
            let windows = lib.query_windows(&q)?;
            let out = model.outputs(&[windows]);
            let emb = out
                .into_iter()
                .next()
                .map(|o| o.embedding)
                .unwrap_or_default();
            lib.nearest_to_vector(&emb, args.k)?
        }
    };
    if args.json {
        let v = serde_json::json!({"query": query, "results": hits});
        println!("{v:#}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("songs like {query}:");
    let names: Vec<String> = hits.iter().map(|h| h.song.display_name()).collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(24);
    println!(
        "{:>4}  {:<width$} {:<10} {:>10}  path",
        "rank", "song", "genre", "similarity"
    );
    for (i, (h, name)) in hits.iter().zip(&names).enumerate() {
        let genre = h.song.predicted.as_deref().or(h.song.genre.as_deref());
        println!(
            "{:>4}  {:<width$} {:<10} {:>10.4}  {}",
            i + 1,
            name,
            genre.unwrap_or("-"),
            h.similarity,
            h.song.path.display()
        );
        for copy in &h.copies {
            println!(
                "{:>4}  {:<width$} {:<10} {:>10}  {}",
                "",
                "",
                "",
                "(same audio)",
                copy.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The audio file a library row names, when it can be found: its filename relative to the
/// library table's folder or to the current folder.
fn row_file(library: &Path, filename: &str) -> Option<PathBuf> {
    if crate::config::is_builtin(library) {
        return None;
    }
    let beside = library.parent().map(|d| d.join(filename));
    beside
        .into_iter()
        .chain(std::iter::once(PathBuf::from(filename)))
        .find(|p| p.is_file())
}

/// Which library rows are the query file itself: the row names that file (its path ends with
/// the row's filename), or holds the same audio (for a song of one window, whose whole-file
/// features are then computed: they match the row's, as `rock.00000.wav` matches the reference
/// row `rock.00000.au`).
fn same_song(
    query: &Path,
    windows: &[table::Record],
    rows: &[table::Record],
) -> Result<Vec<bool>, CliError> {
    let canonical = std::fs::canonicalize(query).ok();
    let whole = if windows.len() == 1 {
        extract::extract_file(query, &Options::default())?
            .into_iter()
            .next()
    } else {
        None
    };
    let feats: Vec<_> = rows.iter().map(|r| r.features).collect();
    let scale = crate::recommend::feature_scale(&feats);
    Ok(rows
        .iter()
        .map(|r| {
            canonical
                .as_deref()
                .is_some_and(|c| crate::recommend::names_file(&r.filename, c))
                || whole.as_ref().is_some_and(|w| {
                    w.length == r.length
                        && crate::recommend::same_content(&w.features, &r.features, &scale)
                })
        })
        .collect())
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
    if let Some(db) = &args.db {
        return run_db(args, db, query);
    }
    let clf = super::load_model(args.model.as_deref())?;
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
        // The query is left out by identity (same file or same audio), not by name: another
        // song with the same file name in another folder is a fine recommendation.
        let itself = same_song(path, &recs, &rows)?;
        lib.nearest_except(&mean, args.k, &|i| itself[i])?
    } else if lib.find(query).is_none() && looks_like_path(query) {
        return Err(CliError::Failed(format!(
            "{query}: no such audio file (and not a song of the library {})",
            args.library.display()
        )));
    } else {
        lib.recommend_for(query, args.k)?
    };
    let index: std::collections::HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.filename.as_str(), i))
        .collect();
    let shown: Vec<Shown> = hits
        .into_iter()
        .map(|hit| {
            let (title, artist) = index
                .get(hit.filename.as_str())
                .and_then(|&i| row_file(&args.library, &rows[i].filename))
                .map(|p| title_artist(&p))
                .unwrap_or_default();
            Shown { hit, title, artist }
        })
        .collect();
    if args.json {
        let out = Output {
            query,
            results: &shown,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| CliError::Failed(e.to_string()))?
        );
    } else {
        println!("songs like {query}:");
        let width = shown
            .iter()
            .map(|s| s.hit.filename.chars().count())
            .max()
            .unwrap_or(0)
            .max(24);
        let tagged = shown
            .iter()
            .any(|s| s.title.is_some() || s.artist.is_some());
        println!(
            "{:>4}  {:<width$} {:<10} {:>10}{}",
            "rank",
            "filename",
            "genre",
            "similarity",
            if tagged { "  title — artist" } else { "" }
        );
        for (i, s) in shown.iter().enumerate() {
            let h = &s.hit;
            let tags = match (&s.title, &s.artist) {
                (Some(t), Some(a)) => format!("  {t} — {a}"),
                (Some(t), None) => format!("  {t}"),
                (None, Some(a)) => format!("  — {a}"),
                (None, None) => String::new(),
            };
            println!(
                "{:>4}  {:<width$} {:<10} {:>10.4}{tags}",
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
