//! `tuneprint library`: scan folders into the song library and look at what it holds.

use super::CliError;
use crate::library::{self, Library, ListQuery, Model, ScanOptions, ShardSpec, Sort};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `tuneprint library`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

/// The `--db` option every library command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArg {
    /// Library database (default: $TUNEPRINT_DB, else tuneprint.db in the current folder).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

impl DbArg {
    /// The database path: `--db`, else the default.
    pub fn path(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(library::default_db_path)
    }

    /// Opens the library; for reading commands the database must exist already.
    pub fn open(&self, must_exist: bool) -> Result<Library, CliError> {
        let p = self.path();
        if must_exist && !p.is_file() {
            return Err(CliError::Failed(format!(
                "{}: no library here (create one with `tuneprint library scan DIR --db {}`)",
                p.display(),
                p.display()
            )));
        }
        Ok(Library::open(&p)?)
    }
}

/// The library's subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Analyse new and changed songs of folders into the library (unchanged ones are skipped).
    Scan(ScanArgs),
    /// Counts, models and the files that failed.
    Status(StatusArgs),
    /// List songs, optionally of one genre or matching words.
    List(ListArgs),
    /// Everything the library knows about one song.
    Show(ShowArgs),
    /// Write the library's features in the reference CSV layout.
    Export(ExportArgs),
    /// Merge shard databases (`scan --shard I/N`) into one.
    Merge(MergeArgs),
    /// A consistent copy of the library in one file (safe while it is in use; copying
    /// `tuneprint.db` alone can miss what its `-wal` file holds).
    Backup(BackupArgs),
    /// SQLite's integrity check and tuneprint's own invariants (every analysed song has its
    /// features and windows, every prediction a known model); exit 1 when anything is wrong.
    Check(CheckArgs),
}

/// Arguments of `library backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The copy to write (replaced atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub db: DbArg,
}

/// Arguments of `library check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `library scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Folders (walked recursively for audio files) and files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub db: DbArg,
    /// Worker threads (0 = one per core).
    #[arg(short, long, default_value_t = 0)]
    pub jobs: usize,
    /// Analyse only shard I of N (0-based) of the files, chosen by a hash of each file's path
    /// relative to the scanned folder; combine the shard databases with `library merge`.
    /// `auto` takes I and N from a Slurm job array (SLURM_ARRAY_TASK_ID, _COUNT, _MIN) or a
    /// Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with N in TUNEPRINT_SHARDS); `{shard}` in
    /// --db becomes I.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<ShardSpec>,
    /// Model that predicts genres and embeds songs [default: the model `tuneprint train` saved
    /// in $TUNEPRINT_HOME/models/default, else the built-in model, builtin:default: the
    /// default blend trained on the reference table]. Songs predicted by another model are
    /// re-classified from their stored features.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `library status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `library list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Only songs of this genre (predicted, or the genre tag).
    #[arg(long)]
    pub genre: Option<String>,
    /// Only songs whose title, artist, album or path contain every word.
    #[arg(long)]
    pub search: Option<String>,
    #[arg(long, value_enum, default_value_t = Sort::Path)]
    pub sort: Sort,
    /// At most this many songs.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Skip this many songs first.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Include the files that failed to analyse.
    #[arg(long)]
    pub failed: bool,
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `library show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The song: its path, file name or stem.
    pub song: String,
    #[command(flatten)]
    pub db: DbArg,
    /// Also print the 57 features of the whole file and of every window.
    #[arg(long)]
    pub features: bool,
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `library export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Output CSV (written atomically).
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// One row per 30 s window (`<stem>.<k>.<ext>`) instead of one per song.
    #[arg(long)]
    pub windows: bool,
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `library merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Shard databases.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The merged database (replaced atomically).
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long)]
    pub json: bool,
}

/// Runs `tuneprint library`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    match &args.command {
        Sub::Scan(a) => scan(a),
        Sub::Status(a) => status(a),
        Sub::List(a) => list(a),
        Sub::Show(a) => show(a),
        Sub::Export(a) => export(a),
        Sub::Merge(a) => merge(a),
        Sub::Backup(a) => backup(a),
        Sub::Check(a) => check(a),
    }
}

fn scan(a: &ScanArgs) -> Result<ExitCode, CliError> {
    let env = |name: &str| std::env::var(name).ok();
    let shard = a.shard.map(|s| s.resolve(&env)).transpose()?;
    let mut lib = Library::open(&library::shard_db_path(&a.db.path(), shard)?)?;
    let model_dir = a.model.clone().unwrap_or_else(crate::config::default_model);
    let model = Model::load(&model_dir)?;
    let opts = ScanOptions {
        jobs: a.jobs,
        shard,
        progress: Some(std::sync::Arc::new(super::Bars::default())),
        cancel: None,
    };
    let rep = lib.scan(&a.paths, &opts, Some(&model))?;
    for e in &rep.walk_errors {
        eprintln!("error: {e}");
    }
    for f in &rep.failures {
        eprintln!("error: {}: {}", f.path.display(), f.error);
    }
    if a.json {
        println!("{}", serde_json::to_string(&rep).map_err(to_failed)?);
    } else {
        let mut parts = vec![format!("{} files", rep.files)];
        for (n, what) in [
            (rep.analysed, "analysed"),
            (rep.reanalysed, "re-analysed"),
            (rep.unchanged, "unchanged"),
            (rep.moved, "moved"),
            (rep.copied, "copies"),
            (rep.touched, "touched"),
            (rep.removed, "removed"),
            (rep.failed, "failed"),
            (rep.still_failing, "still failing"),
            (rep.reclassified, "re-classified"),
            (rep.not_stored, "not stored"),
        ] {
            if n > 0 || what == "analysed" {
                parts.push(format!("{n} {what}"));
            }
        }
        println!(
            "{}: {} in {:.2} s",
            lib.path().display(),
            parts.join(", "),
            rep.seconds
        );
    }
    let bad = rep.failed + rep.not_stored + rep.walk_errors.len();
    Ok(super::batch_status(bad))
}

fn status(a: &StatusArgs) -> Result<ExitCode, CliError> {
    let lib = a.db.open(true)?;
    let st = lib.status()?;
    if a.json {
        println!("{}", serde_json::to_string(&st).map_err(to_failed)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "library: {} (schema {})",
        st.db.display(),
        st.schema_version
    );
    println!(
        "songs:   {} analysed ({}), {} windows of 30 s",
        st.songs,
        hours(st.duration_seconds),
        st.windows
    );
    if st.models.is_empty() {
        println!("models:  none (scan with --model DIR for genres and similar songs)");
    }
    for m in &st.models {
        println!(
            "model:   {} ({}, {} embedding) predicted {} songs: {}",
            m.model_id, m.arch, m.embedding, m.songs, m.dir
        );
    }
    println!("failed:  {}", st.failed);
    for f in &st.failures {
        println!("  {}: {}", f.path.display(), f.error);
    }
    Ok(ExitCode::SUCCESS)
}

fn hours(s: f64) -> String {
    let s = s.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn list(a: &ListArgs) -> Result<ExitCode, CliError> {
    let lib = a.db.open(true)?;
    let page = lib.list(&ListQuery {
        search: a.search.clone(),
        genre: a.genre.clone(),
        sort: a.sort,
        offset: a.offset,
        limit: a.limit,
        include_failed: a.failed,
    })?;
    if a.json {
        println!("{}", serde_json::to_string(&page).map_err(to_failed)?);
        return Ok(ExitCode::SUCCESS);
    }
    for s in &page.items {
        let genre = s.predicted.as_deref().or(s.genre.as_deref()).unwrap_or("-");
        let dur = s.duration.map_or("-".to_string(), |d| {
            let d = d.round() as u64;
            format!("{}:{:02}", d / 60, d % 60)
        });
        match &s.error {
            None => println!(
                "{:>6}  {:<32}  {:<10}  {:>6}  {}",
                s.id,
                s.display_name(),
                genre,
                dur,
                s.path.display()
            ),
            Some(e) => println!("{:>6}  FAILED: {e}  {}", s.id, s.path.display()),
        }
    }
    println!("{} of {} songs", page.items.len(), page.total);
    Ok(ExitCode::SUCCESS)
}

fn show(a: &ShowArgs) -> Result<ExitCode, CliError> {
    let lib = a.db.open(true)?;
    let id = lib.find(&a.song)?;
    let d = lib.song(id)?;
    if a.json {
        let mut v = serde_json::to_value(&d).map_err(to_failed)?;
        if !a.features {
            if let Some(o) = v.as_object_mut() {
                o.remove("features");
                if let Some(ws) = o.get_mut("windows").and_then(|w| w.as_array_mut()) {
                    for w in ws {
                        if let Some(w) = w.as_object_mut() {
                            w.remove("features");
                        }
                    }
                }
            }
        }
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    let s = &d.summary;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("id:       {}", s.id);
    println!("path:     {}", s.path.display());
    if let Some(e) = &s.error {
        println!("failed:   {e}");
    }
    println!("title:    {}", opt(&s.title));
    println!("artist:   {}", opt(&s.artist));
    println!("album:    {}", opt(&s.album));
    println!("genre:    {} (tag)", opt(&s.genre));
    println!("year:     {}", s.year.map_or("-".into(), |y| y.to_string()));
    println!(
        "audio:    {} {} Hz, {} channel(s), {:.2} s, {} bytes",
        opt(&d.encoding.format),
        d.encoding.sample_rate.map_or("-".into(), |r| r.to_string()),
        d.encoding.channels.map_or("-".into(), |c| c.to_string()),
        s.duration.unwrap_or(0.0),
        d.size
    );
    println!("hash:     {}", d.hash);
    println!("windows:  {} of 30 s", d.windows.len());
    match &d.prediction {
        Some(p) => {
            let mut probs = p.probabilities.clone();
            probs.sort_by(|a, b| b.1.total_cmp(&a.1));
            let top: Vec<String> = probs
                .iter()
                .take(3)
                .map(|(g, v)| format!("{g} {v:.3}"))
                .collect();
            println!(
                "predicted: {} ({}) by model {}, embedding {} values",
                p.genre,
                top.join(", "),
                p.model_id,
                p.embedding_dim
            );
        }
        None => println!("predicted: - (no model has seen it)"),
    }
    if a.features {
        let cols = crate::features::FEATURE_COLUMNS;
        if let Some(f) = &d.features {
            println!("features (whole file):");
            for (c, v) in cols.iter().zip(f) {
                println!("  {c} = {v:?}");
            }
        }
        for w in &d.windows {
            println!(
                "window {} (from {:.1} s):",
                w.index,
                w.start as f64 / crate::config::SAMPLE_RATE as f64
            );
            for (c, v) in cols.iter().zip(&w.features) {
                println!("  {c} = {v:?}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn export(a: &ExportArgs) -> Result<ExitCode, CliError> {
    let lib = a.db.open(true)?;
    let rows = lib.records(a.windows)?;
    if rows.is_empty() {
        return Err(CliError::Failed(format!(
            "{}: no analysed songs to export",
            lib.path().display()
        )));
    }
    crate::table::write_csv(&a.csv, &rows)?;
    if a.json {
        println!(
            "{}",
            json!({"output": a.csv.display().to_string(), "rows": rows.len(), "windows": a.windows})
        );
    } else {
        println!("{} rows → {}", rows.len(), a.csv.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn merge(a: &MergeArgs) -> Result<ExitCode, CliError> {
    let rep = library::merge(&a.inputs, &a.output)?;
    for d in &rep.duplicate_paths {
        eprintln!(
            "warning: {} is in {} and in {}: kept the first, left out the second",
            d.path.display(),
            d.kept_from.display(),
            d.left_out_of.display()
        );
    }
    if a.json {
        println!("{}", serde_json::to_string(&rep).map_err(to_failed)?);
    } else {
        println!(
            "{} databases → {}: {} songs ({} duplicate paths left out)",
            rep.inputs,
            rep.output.display(),
            rep.songs,
            rep.duplicates
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn backup(a: &BackupArgs) -> Result<ExitCode, CliError> {
    let lib = a.db.open(true)?;
    let bytes = lib.backup(&a.output)?;
    println!(
        "{} → {} ({bytes} bytes)",
        lib.path().display(),
        a.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn check(a: &CheckArgs) -> Result<ExitCode, CliError> {
    let lib = a.db.open(true)?;
    let rep = lib.check()?;
    if a.json {
        println!("{}", serde_json::to_string(&rep).map_err(to_failed)?);
    } else {
        for p in &rep.problems {
            println!("{p}");
        }
        let verdict = match rep.problems.len() {
            0 => "ok".to_string(),
            1 => "1 problem".to_string(),
            n => format!("{n} problems"),
        };
        println!(
            "{}: {verdict} ({} songs, {} failed, {} windows, {} predictions)",
            rep.db.display(),
            rep.songs,
            rep.failed,
            rep.windows,
            rep.predictions
        );
    }
    Ok(super::batch_status(rep.problems.len()))
}

fn to_failed(e: serde_json::Error) -> CliError {
    CliError::Failed(format!("cannot encode JSON: {e}"))
}
