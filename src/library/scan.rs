//! `library scan`: walk folders, decide what is new, changed, moved or gone, analyse what needs
//! it in parallel, and store each song in its own transaction as it finishes.
//!
//! Steps: (1) walk the folders (audio extensions, as `extract`), stat'ing each file; (2) a file
//! whose path, size and mtime match its row (and whose analysis is current) is unchanged and
//! costs nothing more; (3) the others are hashed (blake3, in parallel): a changed file with its
//! old content only gets its new mtime; a new path whose content the library already holds is a
//! move (the row follows the file) or a copy (the analysis is copied), never decoded again;
//! (4) rows of files that vanished from the scanned folders are removed (never under a folder
//! that could not be read); (5) the rest is decoded once and analysed on `jobs` threads, and ONE
//! writer stores each song in one transaction as it finishes; (6) with a model, songs whose
//! prediction was made by another model (or none) are re-classified from their stored window
//! features, without decoding.

use super::model::{Model, Outputs};
use super::{bytes_path, f32_blob, features_blob, path_bytes, Library, LibraryError};
use crate::audio::tags::{self, Tags};
use crate::config::{ANALYSIS_VERSION, LIBRARY_WINDOW_SECONDS, RECLASSIFY_BATCH};
use crate::extract::{self, Analysis, Progress};
use crate::features::FeatureVector;
use rayon::prelude::*;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// A fixed part of the files: those whose path (relative to the scanned folder) hashes to
/// `index` modulo `count`. Stable whatever the order of the files and wherever the folder is
/// mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based, below `count`.
    pub index: u64,
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("`{s}` is not a shard I/N with 0 ≤ I < N (e.g. 0/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether a file (its path relative to the scanned folder) belongs to this shard.
    pub fn contains(&self, relative: &Path) -> bool {
        let h = blake3::hash(&path_bytes(relative));
        let v = u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"));
        v % self.count == self.index
    }
}

/// `--shard`: a fixed shard `I/N`, or `auto` (from the scheduler's environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    Fixed(Shard),
    /// Slurm job arrays or Kubernetes Indexed Jobs; see [`ShardSpec::resolve`].
    Auto,
}

impl FromStr for ShardSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<ShardSpec, String> {
        if s.trim() == "auto" {
            return Ok(ShardSpec::Auto);
        }
        s.parse()
            .map(ShardSpec::Fixed)
            .map_err(|e: String| format!("{e}, or auto"))
    }
}

impl ShardSpec {
    /// The shard, with `auto` read from `env` (a lookup of environment variables):
    /// in a Slurm job array, `SLURM_ARRAY_TASK_ID` of `TUNEPRINT_SHARDS` when that is set
    /// (the task ids are the shard numbers, so one task can be resubmitted alone), else
    /// `SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN` (divided by `SLURM_ARRAY_TASK_STEP`
    /// when set) of `SLURM_ARRAY_TASK_COUNT`; in a Kubernetes Indexed Job,
    /// `JOB_COMPLETION_INDEX` of `TUNEPRINT_SHARDS`.
    pub fn resolve(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, LibraryError> {
        let shard = match self {
            ShardSpec::Fixed(s) => return Ok(s),
            ShardSpec::Auto => auto_shard(env),
        };
        shard.map_err(|e| LibraryError::Invalid(format!("--shard auto: {e}")))
    }
}

fn auto_shard(env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, String> {
    let number = |name: &str| -> Result<Option<u64>, String> {
        match env(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("{name}=`{v}` is not a whole number")),
        }
    };
    let need = |name: &str, because: &str| -> Result<u64, String> {
        number(name)?.ok_or_else(|| format!("{because} is set but {name} is not"))
    };
    let (index, count, how) = if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        if let Some(count) = number("TUNEPRINT_SHARDS")? {
            // The array's task ids are the shard numbers: one task can be submitted again
            // alone (`--array=2`).
            (id, count, "TUNEPRINT_SHARDS and the array's task ids")
        } else {
            let count = need("SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_ID")?;
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
            if id < min || (id - min) % step != 0 {
                return Err(format!(
                    "SLURM_ARRAY_TASK_ID={id} is not in the array that starts at \
                     SLURM_ARRAY_TASK_MIN={min} with step {step}"
                ));
            }
            (
                (id - min) / step,
                count,
                "the Slurm array's tasks (submit it as --array=0-N-1)",
            )
        }
    } else if let Some(i) = number("JOB_COMPLETION_INDEX")? {
        let count = need("TUNEPRINT_SHARDS", "JOB_COMPLETION_INDEX")?;
        (
            i,
            count,
            "TUNEPRINT_SHARDS (set it to the Job's completions)",
        )
    } else {
        return Err(
            "no shard index in the environment: run it as a Slurm job array \
                    (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX \
                    with TUNEPRINT_SHARDS), or give --shard I/N"
                .into(),
        );
    };
    if count == 0 || index >= count {
        return Err(format!(
            "shard {index} of {count} is out of range: there must be more shards than the \
             highest index; check {how}"
        ));
    }
    Ok(Shard { index, count })
}

/// The database path of a shard: `{shard}` in `db` becomes the shard's index
/// (`out/shard-{shard}.db` → `out/shard-3.db`); an error when `db` has `{shard}` but there is
/// no shard.
pub fn shard_db_path(db: &Path, shard: Option<Shard>) -> Result<PathBuf, LibraryError> {
    let text = db.to_string_lossy();
    if !text.contains("{shard}") {
        return Ok(db.to_path_buf());
    }
    match shard {
        Some(s) => Ok(PathBuf::from(text.replace("{shard}", &s.index.to_string()))),
        None => Err(LibraryError::Invalid(format!(
            "--db {}: {{shard}} in the path needs --shard",
            db.display()
        ))),
    }
}

/// How to scan.
#[derive(Clone, Default)]
pub struct ScanOptions {
    /// Worker threads (0 = one per core).
    pub jobs: usize,
    /// Analyse only this part of the files.
    pub shard: Option<Shard>,
    /// Where the scan reports its stages (hashing, analysing, classifying) and that it waits
    /// for another scan; none: silent.
    pub progress: Option<std::sync::Arc<dyn Progress + Send>>,
    /// Checked before each file is analysed: once set, the files not yet started are left for
    /// the next scan (the songs finished so far are stored) and the scan ends with
    /// [`LibraryError::Cancelled`].
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// A file that could not be analysed in this scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanFailure {
    pub path: PathBuf,
    pub error: String,
}

/// What a scan did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScanReport {
    /// Audio files found (in this shard).
    pub files: usize,
    /// Files whose path, size and mtime match their row: not read at all.
    pub unchanged: usize,
    /// New files analysed.
    pub analysed: usize,
    /// Changed files analysed again.
    pub reanalysed: usize,
    /// Files recognised by content at a new path whose old path is gone (the row followed).
    pub moved: usize,
    /// Files recognised by content as copies of a song (its analysis copied).
    pub copied: usize,
    /// Files with a new mtime but the same content (only the mtime is updated).
    pub touched: usize,
    /// Files that failed in this scan (recorded with their reason).
    pub failed: usize,
    /// Files that failed before and have not changed (not tried again).
    pub still_failing: usize,
    /// Rows removed because their file vanished.
    pub removed: usize,
    /// Songs re-classified and re-embedded from stored features.
    pub reclassified: usize,
    /// Songs whose results could not be written (the next scan tries them again).
    pub not_stored: usize,
    /// The model that made the predictions of this scan.
    pub model_id: Option<String>,
    pub failures: Vec<ScanFailure>,
    /// Folders that could not be read (nothing under them was removed).
    pub walk_errors: Vec<String>,
    pub seconds: f64,
}

/// A file found by the walk.
#[derive(Debug, Clone)]
struct Found {
    path: PathBuf,
    size: u64,
    mtime_ns: i64,
}

/// Its row, when the library has one.
#[derive(Debug, Clone)]
struct Existing {
    id: i64,
    size: u64,
    mtime_ns: i64,
    hash: String,
    failed: bool,
    version: i64,
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    match meta.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i64,
            Err(e) => -(e.duration().as_nanos() as i64),
        },
        Err(_) => 0,
    }
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Walks one root: audio files (symbolic links to files followed, to folders not), sorted.
fn walk(root: &Path, files: &mut Vec<Found>, errors: &mut Vec<String>, bad: &mut Vec<PathBuf>) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("{}: cannot read: {e}", dir.display()));
                bad.push(dir);
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    errors.push(format!("{}: cannot read: {e}", dir.display()));
                    bad.push(dir.clone());
                    continue;
                }
            };
            let p = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if extract::is_audio_path(&p) {
                // Follows a link to its file; a dangling link is skipped.
                match std::fs::metadata(&p) {
                    Ok(m) if m.is_file() => files.push(Found {
                        size: m.len(),
                        mtime_ns: mtime_ns(&m),
                        path: p,
                    }),
                    Ok(_) => {}
                    Err(e) => errors.push(format!("{}: cannot stat: {e}", p.display())),
                }
            }
        }
    }
}

/// blake3 of a file's content, hex.
pub fn hash_file(path: &Path) -> Result<String, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut h = blake3::Hasher::new();
    h.update_reader(f)
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok(h.finalize().to_hex().to_string())
}

/// One line, without the leading `path: ` that the audio layer's messages carry.
fn one_line(path: &Path, msg: &str) -> String {
    let prefix = format!("{}: ", path.display());
    let m = msg.strip_prefix(&prefix).unwrap_or(msg);
    m.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One stage of a scan as the observer sees it (nothing when there is none, or when the stage
/// is not worth showing).
struct Stage<'a>(Option<&'a dyn Progress>);

impl<'a> Stage<'a> {
    fn begin(p: Option<&'a dyn Progress>, what: &str, total: usize, show: bool) -> Stage<'a> {
        let p = p.filter(|_| show);
        if let Some(p) = p {
            p.begin(what, total);
        }
        Stage(p)
    }
    fn inc(&self, n: u64) {
        if let Some(p) = self.0 {
            p.advance(n as usize);
        }
    }
    fn finish_and_clear(&self) {
        if let Some(p) = self.0 {
            p.end();
        }
    }
}

/// What the walk of a scan found.
struct Walked {
    /// Every file under the roots, sorted, each once, with whether it is in this shard.
    found: Vec<(Found, bool)>,
    /// Their paths.
    present: HashSet<PathBuf>,
    /// The roots, canonical.
    roots: Vec<PathBuf>,
    /// Folders that could not be read (their rows are kept).
    bad: Vec<PathBuf>,
}

/// (1) Walks the roots (folders or files).
fn walk_roots(roots: &[PathBuf], shard: Option<Shard>, report: &mut ScanReport) -> Walked {
    let mut found: Vec<(Found, bool)> = Vec::new(); // (file, in this shard)
    let mut bad: Vec<PathBuf> = Vec::new();
    let mut roots_abs: Vec<PathBuf> = Vec::new();
    for root in roots {
        let abs = match std::fs::canonicalize(root) {
            Ok(a) => a,
            Err(e) => {
                report
                    .walk_errors
                    .push(format!("{}: cannot read: {e}", root.display()));
                continue;
            }
        };
        let mut files = Vec::new();
        if abs.is_dir() {
            walk(&abs, &mut files, &mut report.walk_errors, &mut bad);
        } else {
            match std::fs::metadata(&abs) {
                Ok(m) => files.push(Found {
                    path: abs.clone(),
                    size: m.len(),
                    mtime_ns: mtime_ns(&m),
                }),
                Err(e) => report
                    .walk_errors
                    .push(format!("{}: cannot stat: {e}", abs.display())),
            }
        }
        for f in files {
            let rel = if abs.is_dir() {
                f.path.strip_prefix(&abs).unwrap_or(&f.path).to_path_buf()
            } else {
                PathBuf::from(f.path.file_name().unwrap_or_default())
            };
            let mine = shard.is_none_or(|s| s.contains(&rel));
            found.push((f, mine));
        }
        roots_abs.push(abs);
    }
    found.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    found.dedup_by(|a, b| a.0.path == b.0.path);
    let present: HashSet<PathBuf> = found.iter().map(|(f, _)| f.path.clone()).collect();

    Walked {
        found,
        present,
        roots: roots_abs,
        bad,
    }
}

/// Where a finished file goes.
struct Outcome {
    found: Found,
    hash: String,
    changed: bool,
    result: Result<(Analysis, Tags), String>,
}

fn analyse(path: &Path) -> Result<(Analysis, Tags), String> {
    let run = || -> Result<(Analysis, Tags), String> {
        let a = extract::analyse_file(path, LIBRARY_WINDOW_SECONDS)
            .map_err(|e| one_line(path, &e.to_string()))?;
        Ok((a, tags::read(path)))
    };
    // A panic in the analysis of one file is that file's failure, not the scan's.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Err(format!("internal error while analysing: {msg}"))
    })
}

/// Stores one analysed (or failed) file and its predictions in one transaction.
fn store(
    conn: &mut Connection,
    o: &Outcome,
    outputs: Option<(&Model, &Outputs)>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let label = extract::label_for(&o.found.path);
    let path = path_bytes(&o.found.path);
    let name = file_name(&o.found.path);
    let now = now_seconds();
    // One upsert for both outcomes: a failed file has its reason and NULL for everything the
    // analysis would have given.
    let (analysis, tags, error) = match &o.result {
        Ok((a, t)) => (Some(a), Some(t), None),
        Err(reason) => (None, None, Some(reason.as_str())),
    };
    let id: i64 = tx.query_row(
        "INSERT INTO songs (path, name, size, mtime_ns, hash, error, analysis_version,
             format, sample_rate, channels, samples, duration, title, artist, album, genre,
             year, label, features, scanned_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
             ?17, ?18, ?19, ?20)
         ON CONFLICT(path) DO UPDATE SET name = excluded.name, size = excluded.size,
             mtime_ns = excluded.mtime_ns, hash = excluded.hash, error = excluded.error,
             analysis_version = excluded.analysis_version, format = excluded.format,
             sample_rate = excluded.sample_rate, channels = excluded.channels,
             samples = excluded.samples, duration = excluded.duration,
             title = excluded.title, artist = excluded.artist, album = excluded.album,
             genre = excluded.genre, year = excluded.year, label = excluded.label,
             features = excluded.features, scanned_at = excluded.scanned_at
         RETURNING id",
        params![
            path,
            name,
            o.found.size as i64,
            o.found.mtime_ns,
            o.hash,
            error,
            ANALYSIS_VERSION,
            analysis.map(|a| a.format.as_str()),
            analysis.map(|a| a.source_rate),
            analysis.map(|a| a.channels as i64),
            analysis.map(|a| a.song.length as i64),
            analysis.map(|a| a.song.length as f64 / crate::config::SAMPLE_RATE as f64),
            tags.and_then(|t| t.title.as_deref()),
            tags.and_then(|t| t.artist.as_deref()),
            tags.and_then(|t| t.album.as_deref()),
            tags.and_then(|t| t.genre.as_deref()),
            tags.and_then(|t| t.year),
            label,
            analysis.map(|a| features_blob(&a.song.features)),
            now,
        ],
        |r| r.get(0),
    )?;
    tx.execute("DELETE FROM windows WHERE song_id = ?", [id])?;
    tx.execute("DELETE FROM predictions WHERE song_id = ?", [id])?;
    if let Ok((a, _)) = &o.result {
        let mut st = tx.prepare_cached(
            "INSERT INTO windows (song_id, idx, start, samples, features) VALUES (?, ?, ?, ?, ?)",
        )?;
        for (k, (start, rec)) in a.windows.iter().enumerate() {
            st.execute(params![
                id,
                k as i64,
                *start as i64,
                rec.length as i64,
                features_blob(&rec.features)
            ])?;
        }
        drop(st);
        if let Some((m, out)) = outputs {
            put_prediction(&tx, id, m, out)?;
        }
    }
    tx.commit()
}

fn put_prediction(conn: &Connection, id: i64, m: &Model, out: &Outputs) -> rusqlite::Result<()> {
    if out.probabilities.is_empty() {
        return Ok(());
    }
    let genre = m.genres().get(out.best()).cloned().unwrap_or_default();
    conn.prepare_cached(
        "INSERT OR REPLACE INTO predictions (song_id, model_id, genre, probabilities, embedding, dim)
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        id,
        m.id(),
        genre,
        f32_blob(&out.probabilities),
        f32_blob(&out.embedding),
        out.embedding.len() as i64
    ])?;
    Ok(())
}

/// Records the model in the `models` table.
fn register_model(conn: &Connection, m: &Model) -> rusqlite::Result<()> {
    let genres = serde_json::to_string(m.genres()).unwrap_or_else(|_| "[]".into());
    let added = conn.execute(
        "INSERT OR IGNORE INTO models (id, dir, arch, genres, embedding, added_at)
         VALUES (?, ?, ?, ?, ?, ?)",
        params![
            m.id(),
            m.dir().display().to_string(),
            m.arch(),
            genres,
            m.embedding_name(),
            now_seconds()
        ],
    )?;
    if added > 0 {
        super::after_write();
    }
    Ok(())
}

/// Moves a row to a new path (a file renamed or moved): nothing else changes.
fn move_row(conn: &mut Connection, id: i64, f: &Found) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE songs SET path = ?1, name = ?2, size = ?3, mtime_ns = ?4, label = ?5,
             scanned_at = ?6
         WHERE id = ?7",
        rusqlite::params_from_iter(located(f).into_iter().chain([Value::Integer(id)])),
    )?;
    Ok(())
}

/// What a row says of where its file is, as `?1`…`?6`: path, name, size, mtime, label (from the
/// path) and the time of the scan.
fn located(f: &Found) -> [Value; 6] {
    [
        Value::Blob(path_bytes(&f.path)),
        Value::Text(file_name(&f.path)),
        Value::Integer(f.size as i64),
        Value::Integer(f.mtime_ns),
        Value::Text(extract::label_for(&f.path)),
        Value::Integer(now_seconds()),
    ]
}

/// A new row for a copy of a song: its analysis, windows and prediction copied.
fn copy_row(conn: &mut Connection, from: i64, f: &Found) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let id: i64 = tx.query_row(
        "INSERT INTO songs (path, name, size, mtime_ns, hash, error, analysis_version, format,
             sample_rate, channels, samples, duration, title, artist, album, genre, year, label,
             features, scanned_at)
         SELECT ?1, ?2, ?3, ?4, hash, error, analysis_version, format, sample_rate, channels,
             samples, duration, title, artist, album, genre, year, ?5, features, ?6
         FROM songs WHERE id = ?7
         RETURNING id",
        rusqlite::params_from_iter(located(f).into_iter().chain([Value::Integer(from)])),
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO windows (song_id, idx, start, samples, features)
         SELECT ?1, idx, start, samples, features FROM windows WHERE song_id = ?2",
        params![id, from],
    )?;
    tx.execute(
        "INSERT INTO predictions (song_id, model_id, genre, probabilities, embedding, dim)
         SELECT ?1, model_id, genre, probabilities, embedding, dim FROM predictions
         WHERE song_id = ?2",
        params![id, from],
    )?;
    tx.commit()
}

fn touch_row(conn: &Connection, id: i64, f: &Found) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE songs SET size = ?, mtime_ns = ? WHERE id = ?",
        params![f.size as i64, f.mtime_ns, id],
    )?;
    Ok(())
}

impl Library {
    /// Scans folders (or files) into the library. See the module documentation of
    /// [`crate::library::scan`]. Per-file problems are counted in the report, never fatal.
    pub fn scan(
        &mut self,
        roots: &[PathBuf],
        opts: &ScanOptions,
        model: Option<&Model>,
    ) -> Result<ScanReport, LibraryError> {
        let started = std::time::Instant::now();
        let progress: Option<&dyn Progress> = opts.progress.as_deref().map(|p| p as &dyn Progress);
        let _one_scan_at_a_time = self.scan_lock(progress)?;
        let mut report = ScanReport {
            model_id: model.map(|m| m.id().to_string()),
            ..ScanReport::default()
        };

        let walked = walk_roots(roots, opts.shard, &mut report);
        let candidates = self.compare(walked.found.iter(), &mut report)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(opts.jobs)
            .build()
            .map_err(|e| {
                LibraryError::Invalid(format!("cannot start {} threads: {e}", opts.jobs))
            })?;

        let todo = self.changed_files(candidates, &pool, progress, &walked.present, &mut report)?;
        self.remove_vanished(&walked, &mut report)?;
        self.analyse_files(&todo, &pool, model, opts, progress, &mut report)?;

        // (6) Predictions of another model (or none): from the stored features.
        if let Some(m) = model {
            self.reclassify(m, progress, &mut report)?;
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// (2) The files of this shard whose row may be out of date (none, other size or mtime,
    /// an older analysis), each with its row; the others are counted.
    fn compare<'f>(
        &self,
        found: impl Iterator<Item = &'f (Found, bool)>,
        report: &mut ScanReport,
    ) -> Result<Vec<(Found, Option<Existing>)>, LibraryError> {
        let mut candidates: Vec<(Found, Option<Existing>)> = Vec::new();
        let mut st = self.conn.prepare_cached(
            "SELECT id, size, mtime_ns, hash, error IS NOT NULL, analysis_version
             FROM songs WHERE path = ?",
        )?;
        for (f, mine) in found {
            if !mine {
                continue;
            }
            report.files += 1;
            let ex = st
                .query_row([path_bytes(&f.path)], |r| {
                    Ok(Existing {
                        id: r.get(0)?,
                        size: r.get::<_, i64>(1)? as u64,
                        mtime_ns: r.get(2)?,
                        hash: r.get(3)?,
                        failed: r.get(4)?,
                        version: r.get(5)?,
                    })
                })
                .optional()?;
            match ex {
                Some(e)
                    if e.size == f.size
                        && e.mtime_ns == f.mtime_ns
                        && e.version == ANALYSIS_VERSION =>
                {
                    if e.failed {
                        report.still_failing += 1;
                    } else {
                        report.unchanged += 1;
                    }
                }
                ex => candidates.push((f.clone(), ex)),
            }
        }
        Ok(candidates)
    }

    /// (3) Hashes what may have changed and recognises moves, copies and touched files; the
    /// files left to analyse, each with its hash and whether it had a row.
    fn changed_files(
        &mut self,
        candidates: Vec<(Found, Option<Existing>)>,
        pool: &rayon::ThreadPool,
        progress: Option<&dyn Progress>,
        present: &HashSet<PathBuf>,
        report: &mut ScanReport,
    ) -> Result<Vec<(Found, String, bool)>, LibraryError> {
        let pb = Stage::begin(progress, "hashing", candidates.len(), candidates.len() > 50);
        let hashes: Vec<Result<String, String>> = pool.install(|| {
            candidates
                .par_iter()
                .map(|(f, _)| {
                    let h = hash_file(&f.path);
                    pb.inc(1);
                    h
                })
                .collect()
        });
        pb.finish_and_clear();
        let mut todo: Vec<(Found, String, bool)> = Vec::new();
        let mut claimed: HashSet<i64> = HashSet::new();
        for ((f, ex), h) in candidates.into_iter().zip(hashes) {
            let hash = match h {
                Ok(h) => h,
                Err(reason) => {
                    // Unreadable: recorded as failed (tried again when it changes).
                    let o = Outcome {
                        found: f,
                        hash: String::new(),
                        changed: ex.is_some(),
                        result: Err(reason),
                    };
                    self.finish(&o, None, report);
                    continue;
                }
            };
            let done = match &ex {
                Some(e) if e.hash == hash && e.version == ANALYSIS_VERSION => {
                    touch_row(&self.conn, e.id, &f)?;
                    super::after_write();
                    if e.failed {
                        report.still_failing += 1;
                    } else {
                        report.touched += 1;
                    }
                    true
                }
                Some(_) => false,
                None => self.recognise(&f, &hash, present, &mut claimed, report)?,
            };
            if !done {
                todo.push((f, hash, ex.is_some()));
            }
        }

        Ok(todo)
    }

    /// (4) Removes the rows of vanished files (under the scanned roots, outside unreadable
    /// folders).
    fn remove_vanished(
        &mut self,
        walked: &Walked,
        report: &mut ScanReport,
    ) -> Result<(), LibraryError> {
        let mut gone: Vec<i64> = Vec::new();
        {
            let mut st = self.conn.prepare("SELECT id, path FROM songs")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let p = bytes_path(r.get(1)?);
                if walked.roots.iter().any(|root| p.starts_with(root))
                    && !walked.bad.iter().any(|b| p.starts_with(b))
                    && !walked.present.contains(&p)
                {
                    gone.push(r.get(0)?);
                }
            }
        }
        if !gone.is_empty() {
            let tx = self.conn.transaction()?;
            for id in &gone {
                tx.execute("DELETE FROM songs WHERE id = ?", [id])?;
            }
            tx.commit()?;
            super::after_write();
            report.removed = gone.len();
        }

        Ok(())
    }

    /// (5) Analyses `todo` on the pool; this thread is the one writer (one transaction per
    /// song).
    fn analyse_files(
        &mut self,
        todo: &[(Found, String, bool)],
        pool: &rayon::ThreadPool,
        model: Option<&Model>,
        opts: &ScanOptions,
        progress: Option<&dyn Progress>,
        report: &mut ScanReport,
    ) -> Result<(), LibraryError> {
        if let Some(m) = model {
            register_model(&self.conn, m)?;
        }
        let pb = Stage::begin(progress, "analysing", todo.len(), true);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Outcome>(pool.current_num_threads() * 2);
        let cancelled = || {
            opts.cancel
                .as_ref()
                .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        };
        std::thread::scope(|s| {
            let todo = &todo;
            s.spawn(move || {
                pool.install(|| {
                    todo.par_iter().for_each_with(tx, |tx, (f, hash, changed)| {
                        if cancelled() {
                            return;
                        }
                        let o = Outcome {
                            found: f.clone(),
                            hash: hash.clone(),
                            changed: *changed,
                            result: analyse(&f.path),
                        };
                        // The writer only stops early when this process is going down.
                        let _ = tx.send(o);
                    });
                });
            });
            for o in rx {
                let outputs = match (&o.result, model) {
                    (Ok((a, _)), Some(m)) => {
                        let w: Vec<FeatureVector> =
                            a.windows.iter().map(|(_, r)| r.features).collect();
                        m.outputs(&[w]).pop()
                    }
                    _ => None,
                };
                self.finish(&o, model.zip(outputs.as_ref()), report);
                pb.inc(1);
            }
        });
        pb.finish_and_clear();
        if cancelled() {
            return Err(LibraryError::Cancelled);
        }

        Ok(())
    }

    /// One scan of a database at a time: a lock on `<db>.scan-lock` (released when the
    /// returned file is dropped, or when the process dies), waited for when another process
    /// holds it. The scan that waited then finds the songs the other one stored unchanged, so
    /// every song is analysed once. Readers (`status`, `serve`, …) never take it.
    fn scan_lock(&self, progress: Option<&dyn Progress>) -> Result<std::fs::File, LibraryError> {
        let mut name = self.path.clone().into_os_string();
        name.push(".scan-lock");
        let path = PathBuf::from(name);
        let io = |e: std::io::Error| LibraryError::Io {
            path: path.clone(),
            reason: format!("cannot lock for the scan: {e}"),
        };
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                if let Some(p) = progress {
                    p.note(&format!(
                        "{}: another scan of this library is running; waiting for it to finish",
                        self.path.display()
                    ));
                }
                f.lock().map_err(io)?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        Ok(f)
    }

    /// Stores one outcome and counts it; a write error is counted, reported and not fatal.
    fn finish(&mut self, o: &Outcome, outputs: Option<(&Model, &Outputs)>, rep: &mut ScanReport) {
        let stored = store(&mut self.conn, o, outputs);
        if stored.is_ok() {
            super::after_write();
        }
        match stored {
            Ok(()) => match &o.result {
                Ok(_) if o.changed => rep.reanalysed += 1,
                Ok(_) => rep.analysed += 1,
                Err(e) => {
                    rep.failed += 1;
                    rep.failures.push(ScanFailure {
                        path: o.found.path.clone(),
                        error: e.clone(),
                    });
                }
            },
            Err(e) => {
                rep.not_stored += 1;
                rep.failures.push(ScanFailure {
                    path: o.found.path.clone(),
                    error: format!("not stored (tried again next scan): {e}"),
                });
            }
        }
    }

    /// A new path whose content the library holds: a move when the old file is gone, else a
    /// copy. Returns whether the file was recognised.
    fn recognise(
        &mut self,
        f: &Found,
        hash: &str,
        present: &HashSet<PathBuf>,
        claimed: &mut HashSet<i64>,
        rep: &mut ScanReport,
    ) -> Result<bool, LibraryError> {
        let donors: Vec<(i64, PathBuf)> = {
            let mut st = self.conn.prepare_cached(
                "SELECT id, path FROM songs WHERE hash = ? AND error IS NULL
                 AND analysis_version = ? ORDER BY id",
            )?;
            let rows = st
                .query_map(params![hash, ANALYSIS_VERSION], |r| {
                    Ok((r.get::<_, i64>(0)?, bytes_path(r.get(1)?)))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows
        };
        let Some(first) = donors.first() else {
            return Ok(false);
        };
        let moved = donors
            .iter()
            .find(|(id, p)| !claimed.contains(id) && !present.contains(p) && !p.exists());
        if let Some((id, _)) = moved {
            move_row(&mut self.conn, *id, f)?;
            super::after_write();
            claimed.insert(*id);
            rep.moved += 1;
        } else {
            copy_row(&mut self.conn, first.0, f)?;
            super::after_write();
            rep.copied += 1;
        }
        Ok(true)
    }

    /// Re-classifies and re-embeds, from their stored window features, the songs whose
    /// prediction is not the model's.
    fn reclassify(
        &mut self,
        m: &Model,
        progress: Option<&dyn Progress>,
        rep: &mut ScanReport,
    ) -> Result<(), LibraryError> {
        register_model(&self.conn, m)?;
        let pending = "FROM songs s LEFT JOIN predictions p ON p.song_id = s.id
             WHERE s.error IS NULL AND (p.model_id IS NULL OR p.model_id != ?1)";
        let total: i64 =
            self.conn
                .query_row(&format!("SELECT COUNT(*) {pending}"), [m.id()], |r| {
                    r.get(0)
                })?;
        if total == 0 {
            return Ok(());
        }
        let pb = Stage::begin(progress, "classifying", total as usize, true);
        let mut last = i64::MIN;
        loop {
            let ids: Vec<i64> = self
                .conn
                .prepare_cached(&format!(
                    "SELECT s.id {pending} AND s.id > ?2 ORDER BY s.id LIMIT ?3"
                ))?
                .query_map(params![m.id(), last, RECLASSIFY_BATCH as i64], |r| r.get(0))?
                .collect::<Result<Vec<_>, _>>()?;
            let Some(&max) = ids.last() else { break };
            last = max;
            let mut songs: Vec<Vec<FeatureVector>> = Vec::with_capacity(ids.len());
            for &id in &ids {
                songs.push(self.windows(id)?.into_iter().map(|w| w.features).collect());
            }
            let outs = m.outputs(&songs);
            let tx = self.conn.transaction()?;
            for (id, out) in ids.iter().zip(&outs) {
                put_prediction(&tx, *id, m, out)?;
            }
            tx.commit()?;
            super::after_write();
            rep.reclassified += ids.len();
            pb.inc(ids.len() as u64);
        }
        pb.finish_and_clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition() {
        assert_eq!(
            "1/3".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 3 }
        );
        for bad in ["3/3", "1", "a/3", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        // Every file in exactly one shard, whatever the order.
        let shards: Vec<Shard> = (0..3).map(|i| Shard { index: i, count: 3 }).collect();
        let mut sizes = [0usize; 3];
        for k in 0..300 {
            let p = PathBuf::from(format!("album {}/{k:02} song.mp3", k % 7));
            let owners: Vec<usize> = (0..3).filter(|&i| shards[i].contains(&p)).collect();
            assert_eq!(owners.len(), 1);
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 70), "{sizes:?}");
        // Fixed by the path alone.
        let p = Path::new("a/b.mp3");
        assert_eq!(shards[0].contains(p), shards[0].contains(p));
    }

    /// `--shard auto` with these environment variables.
    fn auto(vars: &[(&str, &str)]) -> Result<Shard, String> {
        let env = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        ShardSpec::Auto.resolve(&env).map_err(|e| e.to_string())
    }

    #[test]
    fn auto_shards_come_from_slurm_or_kubernetes() {
        let s = |index, count| Ok(Shard { index, count });
        // Slurm: the task id less the array's first id.
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(
            auto(&[slurm[0], slurm[1], ("SLURM_ARRAY_TASK_MIN", "5")]),
            s(2, 4)
        );
        assert_eq!(auto(&[("SLURM_ARRAY_TASK_ID", "0"), slurm[1]]), s(0, 4));
        assert_eq!(
            auto(&[
                ("SLURM_ARRAY_TASK_ID", "14"),
                ("SLURM_ARRAY_TASK_MIN", "2"),
                ("SLURM_ARRAY_TASK_STEP", "4"),
                slurm[1]
            ]),
            s(3, 4)
        );
        // With TUNEPRINT_SHARDS the task id is the shard: index 2 resubmitted alone.
        assert_eq!(
            auto(&[
                ("SLURM_ARRAY_TASK_ID", "2"),
                ("SLURM_ARRAY_TASK_MIN", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "1"),
                ("TUNEPRINT_SHARDS", "4")
            ]),
            s(2, 4)
        );
        // Kubernetes Indexed Jobs.
        let k8s = [("JOB_COMPLETION_INDEX", "63"), ("TUNEPRINT_SHARDS", "64")];
        assert_eq!(auto(&k8s), s(63, 64));
        // A fixed shard ignores the environment.
        let fixed = ShardSpec::Fixed(Shard { index: 1, count: 2 });
        assert_eq!(
            fixed.resolve(&|_| Some("9".into())).unwrap(),
            Shard { index: 1, count: 2 }
        );
        assert_eq!("auto".parse::<ShardSpec>(), Ok(ShardSpec::Auto));
        assert_eq!(
            "3/3".parse::<ShardSpec>(),
            Err("`3/3` is not a shard I/N with 0 ≤ I < N (e.g. 0/4), or auto".into())
        );
    }

    #[test]
    fn auto_shard_errors_say_what_is_wrong() {
        let cases: [(&[(&str, &str)], &str); 8] = [
            (
                &[],
                "no shard index in the environment: run it as a Slurm job array \
                 (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX with \
                 TUNEPRINT_SHARDS), or give --shard I/N",
            ),
            (
                &[("SLURM_ARRAY_TASK_ID", "1")],
                "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not",
            ),
            (
                &[
                    ("SLURM_ARRAY_TASK_ID", "x1"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
                "SLURM_ARRAY_TASK_ID=`x1` is not a whole number",
            ),
            (
                &[
                    ("SLURM_ARRAY_TASK_ID", "4"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
                "shard 4 of 4 is out of range: there must be more shards than the highest \
                 index; check the Slurm array's tasks (submit it as --array=0-N-1)",
            ),
            (
                &[
                    ("SLURM_ARRAY_TASK_ID", "1"),
                    ("SLURM_ARRAY_TASK_MIN", "2"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
                "SLURM_ARRAY_TASK_ID=1 is not in the array that starts at \
                 SLURM_ARRAY_TASK_MIN=2 with step 1",
            ),
            (
                &[("SLURM_ARRAY_TASK_ID", "4"), ("TUNEPRINT_SHARDS", "4")],
                "shard 4 of 4 is out of range: there must be more shards than the highest \
                 index; check TUNEPRINT_SHARDS and the array's task ids",
            ),
            (
                &[("JOB_COMPLETION_INDEX", "2")],
                "JOB_COMPLETION_INDEX is set but TUNEPRINT_SHARDS is not",
            ),
            (
                &[("JOB_COMPLETION_INDEX", "0"), ("TUNEPRINT_SHARDS", "0")],
                "shard 0 of 0 is out of range: there must be more shards than the highest \
                 index; check TUNEPRINT_SHARDS (set it to the Job's completions)",
            ),
        ];
        for (vars, want) in cases {
            assert_eq!(auto(vars), Err(format!("--shard auto: {want}")), "{vars:?}");
        }
    }

    #[test]
    fn shard_in_the_database_path() {
        let s = Some(Shard { index: 3, count: 8 });
        assert_eq!(
            shard_db_path(Path::new("out/shard-{shard}.db"), s).unwrap(),
            PathBuf::from("out/shard-3.db")
        );
        assert_eq!(
            shard_db_path(Path::new("one.db"), s).unwrap(),
            PathBuf::from("one.db")
        );
        assert_eq!(
            shard_db_path(Path::new("out/{shard}.db"), None)
                .unwrap_err()
                .to_string(),
            "--db out/{shard}.db: {shard} in the path needs --shard"
        );
    }

    #[test]
    fn reasons_are_one_line_without_the_path() {
        let p = Path::new("/m/x.mp3");
        assert_eq!(
            one_line(p, "/m/x.mp3: corrupt audio: bad\nheader"),
            "corrupt audio: bad header"
        );
    }
}
