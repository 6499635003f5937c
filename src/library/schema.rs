//! The database schema and its migrations.
//!
//! The schema version lives in `PRAGMA user_version`. Each migration runs in one transaction
//! together with the version bump, so a kill in the middle of an upgrade leaves the database at
//! the previous version, never half migrated. A database written by a newer tuneprint (a
//! version above [`VERSION`]) is refused, never touched.

use super::LibraryError;
use rusqlite::Connection;
use std::path::Path;

/// Migration `k` (0-based) takes the schema from version `k` to version `k + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: songs (identity, analysis, tags, whole-file features) and their 30 s windows.
    "CREATE TABLE songs (
        id INTEGER PRIMARY KEY,
        path BLOB NOT NULL UNIQUE,      -- the file's absolute path, raw bytes
        name TEXT NOT NULL,             -- its file name (lossy UTF-8), for lookups
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        hash TEXT NOT NULL,             -- blake3 of the content, hex
        error TEXT,                     -- NULL when analysed, else the one-line reason
        analysis_version INTEGER NOT NULL,
        format TEXT,
        sample_rate INTEGER,
        channels INTEGER,
        samples INTEGER,                -- decoded samples at 22 050 Hz (the CSV's length)
        duration REAL,                  -- seconds
        title TEXT,
        artist TEXT,
        album TEXT,
        genre TEXT,
        year INTEGER,
        label TEXT NOT NULL DEFAULT '', -- the CSV label `extract` writes (folder or name prefix)
        features BLOB,                  -- 57 little-endian f64, whole file, as `extract`
        scanned_at INTEGER NOT NULL     -- unix seconds
    );
    CREATE INDEX songs_hash ON songs(hash);
    CREATE INDEX songs_name ON songs(name);
    CREATE TABLE windows (
        song_id INTEGER NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        start INTEGER NOT NULL,         -- first sample at 22 050 Hz
        samples INTEGER NOT NULL,
        features BLOB NOT NULL,         -- 57 little-endian f64, as `extract --window 30`
        PRIMARY KEY (song_id, idx)
    ) WITHOUT ROWID;",
    // 2: models and what they made of each song.
    "CREATE TABLE models (
        id TEXT PRIMARY KEY,            -- blake3 of model.json and the weights (16 hex digits)
        dir TEXT NOT NULL,
        arch TEXT NOT NULL,
        genres TEXT NOT NULL,           -- JSON array, the probabilities' order
        embedding TEXT NOT NULL,        -- which activations the embedding is
        added_at INTEGER NOT NULL
    );
    CREATE TABLE predictions (
        song_id INTEGER PRIMARY KEY REFERENCES songs(id) ON DELETE CASCADE,
        model_id TEXT NOT NULL REFERENCES models(id),
        genre TEXT NOT NULL,
        probabilities BLOB NOT NULL,    -- little-endian f32, models.genres order
        embedding BLOB NOT NULL,        -- little-endian f32
        dim INTEGER NOT NULL
    );
    CREATE INDEX predictions_genre ON predictions(genre);",
];

/// `PRAGMA application_id` of tuneprint's databases ("TPNT"); set on every library this build
/// opens. Another non-zero id marks another program's file, whatever its tables.
pub const APPLICATION_ID: i32 = 0x5450_4e54;

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Sets the journal, sync and foreign-key settings every connection needs (the busy timeout is
/// set first, by `Library::open`, before the database is read at all).
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // journal_mode answers with the mode in force; an in-memory database stays "memory".
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    Ok(())
}

/// Another program's tables, when the database is neither empty nor a tuneprint library (one
/// with our [`APPLICATION_ID`], or, as older tuneprints wrote them, with no application id at
/// schema version 1 or later with its `songs` and `windows` tables); `None` when it is ours to
/// open. Reads only.
pub fn foreign_tables(conn: &Connection) -> rusqlite::Result<Option<Vec<String>>> {
    let id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let tables = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
        )?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    let has = |t: &str| tables.iter().any(|x| x == t);
    let ours = match id {
        APPLICATION_ID => true,
        0 => tables.is_empty() || (version(conn)? >= 1 && has("songs") && has("windows")),
        _ => false,
    };
    if ours {
        Ok(None)
    } else {
        Ok(Some(tables))
    }
}

/// The schema version of a database.
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the database to [`VERSION`], one transaction per migration, and marks it with our
/// [`APPLICATION_ID`]; refuses a newer one, untouched.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), LibraryError> {
    migrate_to(conn, path, VERSION)
}

/// Brings the database to `target` (at most [`VERSION`]); used by tests to build old databases.
pub fn migrate_to(conn: &mut Connection, path: &Path, target: i64) -> Result<(), LibraryError> {
    let found = version(conn)?;
    if found > VERSION {
        return Err(LibraryError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: VERSION,
        });
    }
    let id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if id != APPLICATION_ID {
        // New, or made by a tuneprint from before the id: marked as ours.
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        super::after_write();
    }
    for v in found..target.min(VERSION) {
        let mut step = || -> rusqlite::Result<()> {
            // IMMEDIATE: two processes opening the same old database migrate it once.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if version(&tx)? == v {
                tx.execute_batch(MIGRATIONS[v as usize])?;
                tx.pragma_update(None, "user_version", v + 1)?;
            }
            tx.commit()
        };
        let done = step();
        if done.is_ok() {
            super::after_write();
        }
        done.map_err(|e| {
            if super::is_busy(&e) {
                // Another process holds the database: the caller tries again.
                LibraryError::Sqlite(e)
            } else {
                LibraryError::Migrate {
                    path: path.to_path_buf(),
                    version: v + 1,
                    reason: super::sqlite_reason(&e),
                }
            }
        })?;
    }
    Ok(())
}
