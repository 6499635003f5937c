//! The music library: every analysed song in one SQLite database, scanned incrementally, and
//! queried by the commands and the server.
//!
//! * [`Library::open`] creates or opens a database: WAL journal, `synchronous=NORMAL`, a busy
//!   timeout and foreign keys on every connection; the schema is migrated to this build's version
//!   (see [`schema`]) and a newer database is refused.
//! * [`Library::scan`] walks folders and analyses new and changed files in parallel through
//!   [`crate::extract::analyse_file`]; one writer commits one transaction per song, so killing a
//!   scan loses nothing finished. Unchanged files (path, size, mtime) are only stat'ed; a moved or
//!   copied file is recognised by its content hash (blake3) and not decoded again.
//! * Songs are identified by their absolute path (and by integer ids inside the database),
//!   never by their file name alone.
//! * Queries: [`Library::list`], [`Library::song`], [`Library::find`], [`Library::audio_path`],
//!   [`Library::nearest_to_song`], [`Library::nearest_to_vector`], [`Library::playlist`],
//!   [`Library::genre_playlist`], [`Library::records`] (the reference CSV layout).
//!
//! A [`Library`] holds one connection: it is `Send` but not `Sync`; a server opens one per
//! worker (any number of readers work alongside one writer) or keeps one behind a mutex. The
//! embedding matrix ([`EmbeddingIndex`]) is loaded once and shared (`Arc`) until the database
//! changes.

pub mod check;
pub mod index;
pub mod merge;
pub mod model;
pub mod query;
pub mod scan;
pub mod schema;

pub use check::CheckReport;
pub use index::{EmbeddingIndex, Neighbour};
pub use merge::{merge, MergeReport};
pub use model::Model;
pub use query::Query;
pub use scan::{shard_db_path, ScanOptions, ScanReport, Shard, ShardSpec};

use crate::features::{FeatureVector, N_FEATURES};
use crate::table::Record;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl From<rusqlite::Error> for LibraryError {
    fn from(e: rusqlite::Error) -> LibraryError {
        LibraryError::Sqlite(e)
    }
}

/// An SQLite error said once: SQLite's own message when there is one (rusqlite's text adds the
/// code's generic description, which repeats it).
pub(crate) fn sqlite_reason(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
        e => e.to_string(),
    }
}

/// Whether an SQLite error means another connection holds a lock (worth trying again).
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// Test hook: with `TUNEPRINT_TEST_ABORT_AFTER_WRITES=N` in the environment the process
/// aborts right after its N-th committed write to a library (as a kill would): a migration
/// step, the application id, a model registered, a song stored, moved, copied or touched,
/// removals, a batch of re-classifications, one input of a merge. Tests interrupt scans,
/// migrations and merges at every such point, under a scheduler too. Without it, nothing
/// happens.
pub(crate) fn after_write() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LIMIT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let limit = LIMIT.get_or_init(|| {
        std::env::var(crate::config::TEST_ABORT_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if let Some(n) = *limit {
        if WRITES.fetch_add(1, Ordering::SeqCst) + 1 >= n {
            eprintln!(
                "{}={n}: aborting after write {n}",
                crate::config::TEST_ABORT_ENV
            );
            std::process::abort();
        }
    }
}

/// Errors of the library layer.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// A scan stopped from outside ([`scan::ScanOptions::cancel`]); the songs it finished are
    /// stored.
    #[error("the scan was cancelled; the songs it finished are stored")]
    Cancelled,
    #[error("{path}: cannot open the library: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("{path}: the library's schema version {found} is newer than this tuneprint supports ({supported}); use a newer tuneprint or another --db")]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("{path}: cannot migrate the library to schema version {version}: {reason}")]
    Migrate {
        path: PathBuf,
        version: i64,
        reason: String,
    },
    /// SQLite's message is the whole cause: the error is not chained to rusqlite's, whose
    /// own source repeats it as "Error code N: …".
    #[error("library database: {}", sqlite_reason(.0))]
    Sqlite(rusqlite::Error),
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("no song with id {0} in the library")]
    NoSuchSong(i64),
    #[error("`{0}` is not a song of the library (give its path, file name or stem)")]
    UnknownSong(String),
    #[error("`{name}` names {count} songs of the library; give more of the path: {candidates}")]
    Ambiguous {
        name: String,
        count: usize,
        candidates: String,
    },
    #[error("no song of the library has an embedding: scan it with a model (`library scan --model DIR`)")]
    NoEmbeddings,
    #[error("no song of the library has genre `{0}`")]
    NoSuchGenre(String),
    #[error("embedding sizes differ: library {library}, query {query}")]
    Dimension { library: usize, query: usize },
    #[error("song {id}: stored {column} is damaged: {reason}")]
    Corrupt {
        id: i64,
        column: &'static str,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: cannot merge it: {reason}")]
    Merge { path: PathBuf, reason: String },
    #[error(transparent)]
    Extract(#[from] crate::extract::ExtractError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Table(#[from] crate::table::TableError),
}

/// The database path used when `--db` is not given: `$TUNEPRINT_DB`, else `tuneprint.db` in the
/// current folder ([`crate::config::default_db_path`]).
pub fn default_db_path() -> PathBuf {
    crate::config::default_db_path()
}

/// A song as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SongSummary {
    pub id: i64,
    /// Absolute path of the file.
    pub path: PathBuf,
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    /// The genre tag of the file.
    pub genre: Option<String>,
    pub year: Option<i32>,
    /// Seconds (none for a failed file).
    pub duration: Option<f64>,
    /// The genre the model predicts (none before a model has seen the song).
    pub predicted: Option<String>,
    /// Why the file could not be analysed (none for an analysed song).
    pub error: Option<String>,
}

impl SongSummary {
    /// "Artist - Title" when the tags have both, else the title, else the file stem.
    pub fn display_name(&self) -> String {
        match (&self.artist, &self.title) {
            (Some(a), Some(t)) => format!("{a} - {t}"),
            (None, Some(t)) => t.clone(),
            _ => {
                let name = self
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                crate::table::stem(&name).to_string()
            }
        }
    }
}

/// One 30 s window of a song.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub index: usize,
    /// First sample (22 050 Hz).
    pub start: u64,
    pub samples: u64,
    #[serde(serialize_with = "serialize_features")]
    pub features: FeatureVector,
}

fn serialize_features<S: serde::Serializer>(f: &FeatureVector, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(f.iter())
}

fn serialize_opt_features<S: serde::Serializer>(
    f: &Option<FeatureVector>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match f {
        Some(f) => s.collect_seq(f.iter()),
        None => s.serialize_none(),
    }
}

/// What a model made of a song.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub model_id: String,
    pub genre: String,
    /// Every genre of the model with its probability (the model's genre order).
    pub probabilities: Vec<(String, f32)>,
    /// Length of the stored embedding.
    pub embedding_dim: usize,
}

/// How a song's file is encoded, as its decoder read it (`None` for a file that failed).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Encoding {
    /// Container/codec name, e.g. `"wav"`, `"mp3"`.
    pub format: Option<String>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u32>,
}

/// Everything the library knows about one song.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SongDetail {
    #[serde(flatten)]
    pub summary: SongSummary,
    #[serde(flatten)]
    pub encoding: Encoding,
    /// Decoded samples at 22 050 Hz (the CSV's `length`).
    pub samples: Option<u64>,
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// blake3 of the content (hex).
    pub hash: String,
    /// The CSV label `extract` gives the file (GTZAN genre folder or name prefix, else empty).
    pub label: String,
    /// The 57 features of the whole file, as `extract` computes them.
    #[serde(serialize_with = "serialize_opt_features")]
    pub features: Option<FeatureVector>,
    pub windows: Vec<Window>,
    pub prediction: Option<Prediction>,
}

/// Order of [`Library::list`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    #[default]
    Path,
    Title,
    Artist,
    Album,
    Year,
    Duration,
    Genre,
    /// Most recently scanned first.
    Added,
}

impl Sort {
    fn sql(self) -> &'static str {
        match self {
            Sort::Path => "s.path",
            Sort::Title => "s.title IS NULL, s.title COLLATE NOCASE, s.path",
            Sort::Artist => "s.artist IS NULL, s.artist COLLATE NOCASE, s.album COLLATE NOCASE, s.path",
            Sort::Album => "s.album IS NULL, s.album COLLATE NOCASE, s.path",
            Sort::Year => "s.year IS NULL, s.year, s.path",
            Sort::Duration => "s.duration IS NULL, s.duration, s.path",
            Sort::Genre => "COALESCE(p.genre, s.genre) IS NULL, COALESCE(p.genre, s.genre) COLLATE NOCASE, s.path",
            Sort::Added => "s.scanned_at DESC, s.id DESC",
        }
    }
}

/// A [`Library::list`] request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Words that must each appear in the title, artist, album or path (case-insensitive).
    pub search: Option<String>,
    /// Songs whose predicted genre or genre tag is this (case-insensitive).
    pub genre: Option<String>,
    pub sort: Sort,
    pub offset: usize,
    /// At most this many songs (`None`: all).
    pub limit: Option<usize>,
    /// Include files that failed to analyse.
    pub include_failed: bool,
}

/// One page of a list, with the number of songs matching over all pages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub total: usize,
    pub offset: usize,
    pub items: Vec<T>,
}

/// A file that could not be analysed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub id: i64,
    pub path: PathBuf,
    pub error: String,
}

/// Counts of the library.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub db: PathBuf,
    pub schema_version: i64,
    /// Analysed songs.
    pub songs: usize,
    /// Files that failed to analyse.
    pub failed: usize,
    pub windows: usize,
    /// Total duration of the analysed songs (seconds).
    pub duration_seconds: f64,
    /// Songs with a genre prediction and embedding, per model.
    pub models: Vec<ModelCount>,
    pub failures: Vec<Failure>,
}

/// Songs predicted by one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCount {
    pub model_id: String,
    pub dir: String,
    pub arch: String,
    pub embedding: String,
    pub songs: usize,
}

/// The song store. See the module documentation.
pub struct Library {
    conn: Connection,
    path: PathBuf,
    /// The loaded embedding matrix and the database state it was loaded at.
    index: RefCell<Option<(i64, Arc<EmbeddingIndex>)>>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("path", &self.path).finish()
    }
}

/// Path ↔ database bytes (raw OS bytes on Unix, so any file name round-trips).
pub(crate) fn path_bytes(p: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        p.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        p.to_string_lossy().into_owned().into_bytes()
    }
}

pub(crate) fn bytes_path(b: Vec<u8>) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        PathBuf::from(std::ffi::OsString::from_vec(b))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(&b).into_owned())
    }
}

/// 57 features as little-endian f64 bytes.
pub(crate) fn features_blob(f: &FeatureVector) -> Vec<u8> {
    f.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub(crate) fn blob_features(id: i64, b: &[u8]) -> Result<FeatureVector, LibraryError> {
    if b.len() != N_FEATURES * 8 {
        return Err(LibraryError::Corrupt {
            id,
            column: "features",
            reason: format!("{} bytes, expected {}", b.len(), N_FEATURES * 8),
        });
    }
    let mut f = [0.0f64; N_FEATURES];
    for (v, c) in f.iter_mut().zip(b.chunks_exact(8)) {
        *v = f64::from_le_bytes(c.try_into().expect("8 bytes"));
    }
    Ok(f)
}

/// f32 values as little-endian bytes.
pub(crate) fn f32_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn blob_f32(
    id: i64,
    column: &'static str,
    b: &[u8],
    dim: usize,
) -> Result<Vec<f32>, LibraryError> {
    if b.len() != dim * 4 {
        return Err(LibraryError::Corrupt {
            id,
            column,
            reason: format!("{} bytes, expected {dim} values", b.len()),
        });
    }
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect())
}

/// Columns of [`SongSummary`], from `songs s LEFT JOIN predictions p`.
const SUMMARY_COLUMNS: &str =
    "s.id, s.path, s.title, s.artist, s.album, s.genre, s.year, s.duration, p.genre, s.error";

fn summary_from_row(r: &Row) -> rusqlite::Result<SongSummary> {
    Ok(SongSummary {
        id: r.get(0)?,
        path: bytes_path(r.get(1)?),
        title: r.get(2)?,
        artist: r.get(3)?,
        album: r.get(4)?,
        genre: r.get(5)?,
        year: r.get(6)?,
        duration: r.get(7)?,
        predicted: r.get(8)?,
        error: r.get(9)?,
    })
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(word: &str) -> String {
    let mut s = String::new();
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// An empty temporary file in `dest`'s folder (removed unless persisted), to be renamed onto
/// `dest` once complete.
fn temp_beside(dest: &Path, prefix: &str) -> Result<tempfile::TempPath, LibraryError> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".db")
        .tempfile_in(&dir)
        .map_err(|e| LibraryError::Io {
            path: dest.to_path_buf(),
            reason: e.to_string(),
        })?
        .into_temp_path())
}

/// A `LIKE` pattern matching text that contains `word`.
fn like_pattern(word: &str) -> String {
    format!("%{}%", like_escape(word))
}

impl Library {
    /// Opens (creating when missing) a library database and migrates it to this build's schema.
    pub fn open(path: &Path) -> Result<Library, LibraryError> {
        let open_err = |e: &dyn std::fmt::Display| LibraryError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(open_err(&format!(
                    "folder {} does not exist",
                    dir.display()
                )));
            }
        }
        let sql_err = |e: rusqlite::Error| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                open_err(&"not a tuneprint library (not an SQLite database)")
            }
            e => open_err(&sqlite_reason(&e)),
        };
        let mut conn = Connection::open(path).map_err(|e| open_err(&sqlite_reason(&e)))?;
        let timeout = std::time::Duration::from_millis(crate::config::LIBRARY_BUSY_TIMEOUT_MS);
        conn.busy_timeout(timeout).map_err(sql_err)?;
        // SQLite answers "database is locked" at once, without waiting, when two processes
        // create or migrate one database at the same moment: those steps are tried again.
        let deadline = std::time::Instant::now() + timeout;
        let mut pause = std::time::Duration::from_millis(5);
        loop {
            match Self::prepare(&mut conn, path) {
                Err(LibraryError::Sqlite(e))
                    if is_busy(&e) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(200));
                }
                Err(LibraryError::Sqlite(e)) => return Err(sql_err(e)),
                Err(e) => return Err(e),
                Ok(()) => break,
            }
        }
        Ok(Library {
            conn,
            path: path.to_path_buf(),
            index: RefCell::new(None),
        })
    }

    /// Refuses another program's database (before anything is written into it), then sets
    /// the connection up and migrates.
    fn prepare(conn: &mut Connection, path: &Path) -> Result<(), LibraryError> {
        if let Some(tables) = schema::foreign_tables(conn)? {
            let shown = tables.len().min(5);
            let more = if tables.len() > shown { ", …" } else { "" };
            return Err(LibraryError::Open {
                path: path.to_path_buf(),
                reason: format!(
                    "another program's SQLite database (tables: {}{more}), not a tuneprint \
                     library; give another --db",
                    tables[..shown].join(", ")
                ),
            });
        }
        schema::configure(conn)?;
        schema::migrate(conn, path)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a consistent copy of the library, in one file, to `dest` (replaced atomically):
    /// everything committed when the copy starts, including what still sits in the `-wal`
    /// file, while other processes keep reading and writing. Returns the copy's size in bytes.
    pub fn backup(&self, dest: &Path) -> Result<u64, LibraryError> {
        let io = |e: &dyn std::fmt::Display| LibraryError::Io {
            path: dest.to_path_buf(),
            reason: e.to_string(),
        };
        if let (Ok(a), Ok(b)) = (
            std::fs::canonicalize(&self.path),
            std::fs::canonicalize(dest),
        ) {
            if a == b {
                return Err(io(&"is the library itself: give another file"));
            }
        }
        // VACUUM INTO wants a missing or empty file: the temporary one is empty.
        let tmp = temp_beside(dest, ".backup-")?;
        let name = tmp
            .to_str()
            .ok_or_else(|| io(&"the folder's name is not UTF-8"))?;
        self.conn.execute("VACUUM INTO ?1", params![name])?;
        let size = std::fs::metadata(&tmp).map_err(|e| io(&e))?.len();
        tmp.persist(dest).map_err(|e| io(&e.error))?;
        Ok(size)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, LibraryError> {
        Ok(schema::version(&self.conn)?)
    }

    /// Counts, models and failures.
    pub fn status(&self) -> Result<Status, LibraryError> {
        let (songs, failed, duration): (i64, i64, f64) = self.conn.query_row(
            "SELECT COALESCE(SUM(error IS NULL), 0), COALESCE(SUM(error IS NOT NULL), 0),
                    COALESCE(SUM(duration), 0.0) FROM songs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let windows: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM windows", [], |r| r.get(0))?;
        let mut st = self.conn.prepare(
            "SELECT m.id, m.dir, m.arch, m.embedding, COUNT(p.song_id) FROM models m
             JOIN predictions p ON p.model_id = m.id GROUP BY m.id ORDER BY COUNT(p.song_id) DESC",
        )?;
        let models = st
            .query_map([], |r| {
                Ok(ModelCount {
                    model_id: r.get(0)?,
                    dir: r.get(1)?,
                    arch: r.get(2)?,
                    embedding: r.get(3)?,
                    songs: r.get::<_, i64>(4)? as usize,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Status {
            db: self.path.clone(),
            schema_version: self.schema_version()?,
            songs: songs as usize,
            failed: failed as usize,
            windows: windows as usize,
            duration_seconds: duration,
            models,
            failures: self.failures()?,
        })
    }

    /// Files that could not be analysed, by path.
    pub fn failures(&self) -> Result<Vec<Failure>, LibraryError> {
        let mut st = self
            .conn
            .prepare("SELECT id, path, error FROM songs WHERE error IS NOT NULL ORDER BY path")?;
        let rows = st
            .query_map([], |r| {
                Ok(Failure {
                    id: r.get(0)?,
                    path: bytes_path(r.get(1)?),
                    error: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Songs matching a query, one page of them, with the total count.
    pub fn list(&self, q: &ListQuery) -> Result<Page<SongSummary>, LibraryError> {
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if !q.include_failed {
            conds.push("s.error IS NULL".into());
        }
        if let Some(g) = q.genre.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
            conds.push("(p.genre = ? COLLATE NOCASE OR s.genre = ? COLLATE NOCASE)".into());
            args.push(g.to_string().into());
            args.push(g.to_string().into());
        }
        if let Some(text) = &q.search {
            for word in text.split_whitespace() {
                conds.push(
                    "(s.title LIKE ?1 ESCAPE '\\' OR s.artist LIKE ?1 ESCAPE '\\'
                      OR s.album LIKE ?1 ESCAPE '\\' OR CAST(s.path AS TEXT) LIKE ?1 ESCAPE '\\')"
                        .replace("?1", "?"),
                );
                for _ in 0..4 {
                    args.push(like_pattern(word).into());
                }
            }
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let from = "FROM songs s LEFT JOIN predictions p ON p.song_id = s.id";
        let total: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) {from} {filter}"),
            rusqlite::params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        let limit = q.limit.map_or(-1, |l| l as i64);
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} {from} {filter} ORDER BY {} LIMIT {limit} OFFSET {}",
            q.sort.sql(),
            q.offset
        );
        let mut st = self.conn.prepare(&sql)?;
        let items = st
            .query_map(rusqlite::params_from_iter(args.iter()), summary_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            total: total as usize,
            offset: q.offset,
            items,
        })
    }

    /// The summary of one song.
    pub fn summary(&self, id: i64) -> Result<SongSummary, LibraryError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM songs s LEFT JOIN predictions p ON p.song_id = s.id
                 WHERE s.id = ?"
            ))?
            .query_row([id], summary_from_row)
            .optional()?
            .ok_or(LibraryError::NoSuchSong(id))
    }

    /// Everything about one song.
    pub fn song(&self, id: i64) -> Result<SongDetail, LibraryError> {
        let summary = self.summary(id)?;
        type Extra = (
            Option<String>,
            Option<u32>,
            Option<u32>,
            Option<i64>,
            i64,
            i64,
            String,
            String,
            Option<Vec<u8>>,
        );
        let extra: Extra = self.conn.query_row(
            "SELECT format, sample_rate, channels, samples, size, mtime_ns, hash, label, features
             FROM songs WHERE id = ?",
            [id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            },
        )?;
        let features = extra
            .8
            .as_deref()
            .map(|b| blob_features(id, b))
            .transpose()?;
        let windows = self.windows(id)?;
        let prediction = self.prediction(id)?;
        Ok(SongDetail {
            summary,
            encoding: Encoding {
                format: extra.0,
                sample_rate: extra.1,
                channels: extra.2,
            },
            samples: extra.3.map(|s| s as u64),
            size: extra.4 as u64,
            mtime_ns: extra.5,
            hash: extra.6,
            label: extra.7,
            features,
            windows,
            prediction,
        })
    }

    /// The 30 s windows of a song, in order.
    pub fn windows(&self, id: i64) -> Result<Vec<Window>, LibraryError> {
        let mut st = self.conn.prepare_cached(
            "SELECT idx, start, samples, features FROM windows WHERE song_id = ? ORDER BY idx",
        )?;
        let rows = st
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(i, start, n, b)| {
                Ok(Window {
                    index: i as usize,
                    start: start as u64,
                    samples: n as u64,
                    features: blob_features(id, &b)?,
                })
            })
            .collect()
    }

    fn prediction(&self, id: i64) -> Result<Option<Prediction>, LibraryError> {
        let row: Option<(String, String, Vec<u8>, i64, String)> = self
            .conn
            .query_row(
                "SELECT p.model_id, p.genre, p.probabilities, p.dim, m.genres
                 FROM predictions p JOIN models m ON m.id = p.model_id WHERE p.song_id = ?",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((model_id, genre, probs, dim, genres)) = row else {
            return Ok(None);
        };
        let genres: Vec<String> =
            serde_json::from_str(&genres).map_err(|e| LibraryError::Corrupt {
                id,
                column: "models.genres",
                reason: e.to_string(),
            })?;
        let p = blob_f32(id, "probabilities", &probs, genres.len())?;
        Ok(Some(Prediction {
            model_id,
            genre,
            probabilities: genres.into_iter().zip(p).collect(),
            embedding_dim: dim as usize,
        }))
    }

    /// The audio file of a song (what a server streams; never a path taken from a request).
    pub fn audio_path(&self, id: i64) -> Result<PathBuf, LibraryError> {
        self.conn
            .prepare_cached("SELECT path FROM songs WHERE id = ?")?
            .query_row([id], |r| r.get::<_, Vec<u8>>(0))
            .optional()?
            .map(bytes_path)
            .ok_or(LibraryError::NoSuchSong(id))
    }

    /// The id of a song named by its path (absolute, or relative to the current folder), its
    /// file name or its stem. A name that fits several songs is an error listing them.
    pub fn find(&self, name: &str) -> Result<i64, LibraryError> {
        // A path: exact match on the absolute path.
        let as_path = Path::new(name);
        let abs = if as_path.is_absolute() {
            Some(as_path.to_path_buf())
        } else {
            std::env::current_dir().ok().map(|d| d.join(as_path))
        };
        if let Some(abs) = abs {
            let canon = std::fs::canonicalize(&abs).unwrap_or(abs);
            if let Some(id) = self
                .conn
                .query_row(
                    "SELECT id FROM songs WHERE path = ?",
                    [path_bytes(&canon)],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
            {
                return Ok(id);
            }
        }
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let mut candidates: Vec<(i64, PathBuf)> = Vec::new();
        let mut st = self
            .conn
            .prepare_cached("SELECT id, path FROM songs WHERE name = ? ORDER BY path")?;
        for r in st.query_map([base], |r| Ok((r.get(0)?, bytes_path(r.get(1)?))))? {
            candidates.push(r?);
        }
        if candidates.is_empty() {
            // A stem: the file name without its extension.
            let mut st = self.conn.prepare_cached(
                "SELECT id, path, name FROM songs WHERE name LIKE ? ESCAPE '\\' ORDER BY path",
            )?;
            let pattern = format!("{}.%", like_escape(base));
            for r in st.query_map([pattern], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    bytes_path(r.get(1)?),
                    r.get::<_, String>(2)?,
                ))
            })? {
                let (id, p, n) = r?;
                if crate::table::stem(&n) == base {
                    candidates.push((id, p));
                }
            }
        }
        // A partial path (`album/01 Intro.mp3`) narrows file-name matches down.
        if candidates.len() > 1 && base.len() < name.len() {
            let tail: PathBuf = PathBuf::from(name);
            candidates.retain(|(_, p)| {
                p.ends_with(&tail) || {
                    let ps = p.to_string_lossy();
                    ps.ends_with(name) || crate::table::stem(&ps) == name.trim_end_matches('/')
                }
            });
        }
        match candidates.len() {
            0 => Err(LibraryError::UnknownSong(name.to_string())),
            1 => Ok(candidates[0].0),
            n => Err(LibraryError::Ambiguous {
                name: name.to_string(),
                count: n,
                candidates: candidates
                    .iter()
                    .take(10)
                    .map(|(_, p)| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
                    + if n > 10 { ", …" } else { "" },
            }),
        }
    }

    /// The table rows of the analysed songs, by path, in the reference CSV layout: one per song
    /// exactly as `extract` computes it, or (`windows`) one per 30 s window as
    /// `extract --window 30` computes it. `filename` is the file name where it is unique among
    /// the songs and the path relative to their common folder where it is not.
    pub fn records(&self, windows: bool) -> Result<Vec<Record>, LibraryError> {
        let mut st = self.conn.prepare(
            "SELECT id, path, name, samples, features, label FROM songs
             WHERE error IS NULL ORDER BY path",
        )?;
        type SongRow = (i64, PathBuf, String, i64, Vec<u8>, String);
        let songs: Vec<SongRow> = st
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    bytes_path(r.get(1)?),
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let paths: Vec<&Path> = songs.iter().map(|s| s.1.as_path()).collect();
        let names = unique_names(&paths);
        let mut out = Vec::new();
        for ((id, _, _, samples, features, label), filename) in songs.iter().zip(names) {
            if windows {
                let (stem, ext) = match filename.rfind('.') {
                    Some(i) if i > 0 && !filename[i..].contains('/') => {
                        (&filename[..i], &filename[i..])
                    }
                    _ => (filename.as_str(), ""),
                };
                for w in self.windows(*id)? {
                    out.push(Record {
                        filename: format!("{stem}.{}{ext}", w.index),
                        length: w.samples,
                        features: w.features,
                        label: label.clone(),
                    });
                }
            } else {
                out.push(Record {
                    filename,
                    length: *samples as u64,
                    features: blob_features(*id, features)?,
                    label: label.clone(),
                });
            }
        }
        Ok(out)
    }

    /// A state number that changes whenever this or another connection commits a change.
    fn state(&self) -> Result<i64, LibraryError> {
        let dv: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?;
        Ok(dv
            .wrapping_mul(1 << 32)
            .wrapping_add(self.conn.total_changes() as i64))
    }

    /// The embedding matrix of the songs (loaded once, reloaded after the database changes).
    pub fn embeddings(&self) -> Result<Arc<EmbeddingIndex>, LibraryError> {
        let state = self.state()?;
        if let Some((s, idx)) = &*self.index.borrow() {
            if *s == state {
                return Ok(idx.clone());
            }
        }
        let idx = Arc::new(EmbeddingIndex::load(&self.conn)?);
        *self.index.borrow_mut() = Some((state, idx.clone()));
        Ok(idx)
    }

    /// The library's answer for a search's rows: at most `k` recordings, best first, each under
    /// its first file found, with the paths of its other copies.
    fn hits(
        &self,
        idx: &EmbeddingIndex,
        found: Vec<(i64, f32)>,
        k: usize,
    ) -> Result<Vec<Neighbour>, LibraryError> {
        let mut out: Vec<Neighbour> = Vec::with_capacity(k);
        let mut taken: Vec<usize> = Vec::with_capacity(k);
        for (id, similarity) in found {
            if out.len() == k {
                break;
            }
            let Some(row) = idx.row_of(id) else { continue };
            if taken.iter().any(|&t| idx.same_content(t, row)) {
                continue;
            }
            taken.push(row);
            let copies = idx
                .copies_of(row)
                .map(|r| self.audio_path(idx.id(r)))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Neighbour {
                song: self.summary(id)?,
                similarity,
                copies,
            });
        }
        Ok(out)
    }

    /// The `k` songs most like a library song (cosine similarity of embeddings), best first;
    /// never the song itself nor a copy of it (the same recording in another file), and each
    /// other recording once, with its copies' paths.
    pub fn nearest_to_song(&self, id: i64, k: usize) -> Result<Vec<Neighbour>, LibraryError> {
        let idx = self.embeddings()?;
        let row = idx.row_of(id).ok_or(LibraryError::NoSuchSong(id))?;
        let found = idx.nearest(idx.vector(row), k + idx.extra_copies(), |r| {
            !idx.same_content(r, row)
        });
        self.hits(&idx, found, k)
    }

    /// [`Self::nearest_to_song`] of several `(id, k)` at once, in one pass over the embedding
    /// matrix; each answer is what `nearest_to_song` gives.
    pub fn nearest_to_songs(
        &self,
        queries: &[(i64, usize)],
    ) -> Vec<Result<Vec<Neighbour>, LibraryError>> {
        let idx = match self.embeddings() {
            Ok(idx) => idx,
            Err(e) => {
                let msg = e.to_string();
                return queries
                    .iter()
                    .map(|_| match &e {
                        LibraryError::NoEmbeddings => Err(LibraryError::NoEmbeddings),
                        _ => Err(LibraryError::Invalid(msg.clone())),
                    })
                    .collect();
            }
        };
        let rows: Vec<Option<usize>> = queries.iter().map(|&(id, _)| idx.row_of(id)).collect();
        let keeps: Vec<Box<dyn Fn(usize) -> bool + '_>> = rows
            .iter()
            .map(|row| -> Box<dyn Fn(usize) -> bool + '_> {
                let row = row.unwrap_or(0);
                let idx = &idx;
                Box::new(move |r| !idx.same_content(r, row))
            })
            .collect();
        let found = idx.nearest_many(
            &rows
                .iter()
                .zip(queries)
                .zip(&keeps)
                .filter_map(|((row, &(_, k)), keep)| {
                    row.map(|row| (idx.vector(row), k + idx.extra_copies(), keep.as_ref()))
                })
                .collect::<Vec<_>>(),
        );
        let mut found = found.into_iter();
        rows.iter()
            .zip(queries)
            .map(|(row, &(id, k))| match row {
                Some(_) => self.hits(&idx, found.next().unwrap_or_default(), k),
                None => Err(LibraryError::NoSuchSong(id)),
            })
            .collect()
    }

    /// The `k` songs most like an embedding (made by the library's model), best first.
    pub fn nearest_to_vector(&self, v: &[f32], k: usize) -> Result<Vec<Neighbour>, LibraryError> {
        let idx = self.embeddings()?;
        let q = idx.normalise_query(v)?;
        let found = idx.nearest(&q, k + idx.extra_copies(), |_| true);
        self.hits(&idx, found, k)
    }

    /// A playlist of `n` songs starting at `seed`: each next song is the nearest unused one to
    /// the song before; a song with the same title and artist as one already in the list (or the
    /// same content) is skipped before counting.
    pub fn playlist(&self, seed: i64, n: usize) -> Result<Vec<SongSummary>, LibraryError> {
        let idx = self.embeddings()?;
        let row = idx.row_of(seed).ok_or(LibraryError::NoSuchSong(seed))?;
        let rows = idx.greedy_path(row, n, None);
        rows.into_iter().map(|r| self.summary(idx.id(r))).collect()
    }

    /// A playlist of `n` songs of one genre (predicted, or tagged when there is no prediction),
    /// starting from the most typical one (nearest the genre's mean embedding), then greedy.
    pub fn genre_playlist(&self, genre: &str, n: usize) -> Result<Vec<SongSummary>, LibraryError> {
        let idx = self.embeddings()?;
        let mut st = self.conn.prepare(
            "SELECT s.id FROM songs s LEFT JOIN predictions p ON p.song_id = s.id
             WHERE s.error IS NULL
               AND (p.genre = ?1 COLLATE NOCASE OR (p.genre IS NULL AND s.genre = ?1 COLLATE NOCASE))",
        )?;
        let ids = st
            .query_map(params![genre.trim()], |r| r.get::<_, i64>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut allowed = vec![false; idx.len()];
        let mut any = false;
        for id in ids {
            if let Some(r) = idx.row_of(id) {
                allowed[r] = true;
                any = true;
            }
        }
        if !any {
            return Err(LibraryError::NoSuchGenre(genre.to_string()));
        }
        let seed = idx.most_typical(&allowed);
        let rows = idx.greedy_path(seed, n, Some(&allowed));
        rows.into_iter().map(|r| self.summary(idx.id(r))).collect()
    }
}

/// File names where unique, else paths relative to the songs' common folder.
fn unique_names(paths: &[&Path]) -> Vec<String> {
    use std::collections::HashMap;
    let base = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string())
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for p in paths {
        *counts.entry(base(p)).or_default() += 1;
    }
    let common = common_dir(paths);
    paths
        .iter()
        .map(|p| {
            let b = base(p);
            if counts[&b] == 1 {
                b
            } else {
                p.strip_prefix(&common)
                    .map(|r| r.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| p.display().to_string())
            }
        })
        .collect()
}

/// The deepest folder holding every path.
fn common_dir(paths: &[&Path]) -> PathBuf {
    let mut it = paths.iter();
    let Some(first) = it.next() else {
        return PathBuf::new();
    };
    let mut common: PathBuf = first.parent().map(Path::to_path_buf).unwrap_or_default();
    for p in it {
        while !p.starts_with(&common) {
            if !common.pop() {
                return PathBuf::new();
            }
        }
    }
    common
}

/// `target` relative to the folder `base` (both absolute): `../b/c.mp3`.
pub fn relative_path(target: &Path, base: &Path) -> PathBuf {
    use std::path::Component;
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let same = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if same == 0 {
        return target.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in same..b.len() {
        out.push("..");
    }
    for c in &t[same..] {
        out.push(c.as_os_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        let r = |t: &str, b: &str| relative_path(Path::new(t), Path::new(b));
        assert_eq!(r("/m/a/x.mp3", "/m/a"), PathBuf::from("x.mp3"));
        assert_eq!(r("/m/a/x.mp3", "/m/b"), PathBuf::from("../a/x.mp3"));
        assert_eq!(r("/m/a/x.mp3", "/p/q"), PathBuf::from("../../m/a/x.mp3"));
        assert_eq!(r("/m/a/b/x.mp3", "/m"), PathBuf::from("a/b/x.mp3"));
    }

    #[test]
    fn export_names_unique_else_relative() {
        let p = [
            Path::new("/m/a/01 Intro.mp3"),
            Path::new("/m/b/01 Intro.mp3"),
            Path::new("/m/b/blues.00000.wav"),
        ];
        assert_eq!(
            unique_names(&p),
            ["a/01 Intro.mp3", "b/01 Intro.mp3", "blues.00000.wav"]
        );
    }

    #[test]
    fn like_escapes() {
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
