//! `library merge`: shard databases (from `library scan --shard I/N`) into one.
//!
//! Every input is checked first, read-only: it must be a tuneprint library of this build's
//! schema version, and every shard's predictions must come from the same model. Then one pass
//! copies each input, in one transaction per input, into a temporary file beside the output,
//! which is renamed into place at the end: a merge that fails or is killed leaves no
//! half-written library and never writes into its inputs. A path found in several inputs is
//! kept from the first input that has it and reported as a duplicate.

use super::{bytes_path, schema, Library, LibraryError};
use rusqlite::{params, Connection, OpenFlags};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeReport {
    pub output: PathBuf,
    pub inputs: usize,
    /// Rows (analysed songs and failed files) in the output.
    pub songs: usize,
    /// Rows left out because an earlier input had the same path (`duplicate_paths.len()`).
    pub duplicates: usize,
    /// Each of them: the path, the input it was kept from and the one it was left out of.
    pub duplicate_paths: Vec<Duplicate>,
}

/// A path found in two inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Duplicate {
    pub path: PathBuf,
    pub kept_from: PathBuf,
    pub left_out_of: PathBuf,
}

const SONG_COLUMNS: &str = "path, name, size, mtime_ns, hash, error, analysis_version, format, \
     sample_rate, channels, samples, duration, title, artist, album, genre, year, label, \
     features, scanned_at";

/// An SQLite URI that opens `path` read-only.
fn read_only_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file:");
    for c in abs.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=ro");
    uri
}

/// The models whose predictions an input holds, read without writing to it.
fn check_input(input: &Path) -> Result<Vec<String>, LibraryError> {
    let refuse = |reason: String| LibraryError::Merge {
        path: input.to_path_buf(),
        reason,
    };
    if !input.is_file() {
        return Err(refuse("no such file".into()));
    }
    let conn = Connection::open_with_flags(input, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| refuse(super::sqlite_reason(&e)))?;
    conn.busy_timeout(std::time::Duration::from_millis(
        crate::config::LIBRARY_BUSY_TIMEOUT_MS,
    ))?;
    let not_ours = |why: &str| refuse(format!("not a tuneprint library ({why})"));
    let foreign = schema::foreign_tables(&conn).map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
            not_ours("not an SQLite database")
        }
        e => refuse(super::sqlite_reason(&e)),
    })?;
    if let Some(tables) = foreign {
        return Err(not_ours(&format!("tables: {}", tables.join(", "))));
    }
    let v = schema::version(&conn)?;
    if v == 0 {
        return Err(not_ours("an empty database"));
    }
    if v != schema::VERSION {
        return Err(refuse(format!(
            "schema version {v}, but this tuneprint merges version {} (open it once with \
             `tuneprint library status --db {}` to migrate it, or scan every shard with one \
             tuneprint)",
            schema::VERSION,
            input.display()
        )));
    }
    let models = conn
        .prepare("SELECT DISTINCT model_id FROM predictions ORDER BY model_id")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(models)
}

/// Checks every input (see [`check_input`]) and that all their songs were predicted by the
/// same model.
fn check_inputs(inputs: &[PathBuf]) -> Result<(), LibraryError> {
    let mut first_models: Option<(&PathBuf, Vec<String>)> = None;
    for input in inputs {
        let models = check_input(input)?;
        if models.is_empty() {
            continue; // nothing predicted (every file failed, or an empty shard)
        }
        match &first_models {
            None => first_models = Some((input, models)),
            Some((first, m)) if *m != models => {
                return Err(LibraryError::Merge {
                    path: input.clone(),
                    reason: format!(
                        "its songs were predicted by model {}, but those of {} by model {}; \
                         scan every shard with the same --model",
                        models.join(", "),
                        first.display(),
                        m.join(", ")
                    ),
                })
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Copies input `k` into `out` in one transaction (read-only ATTACH), noting the paths an
/// earlier input already gave and the highest song id after it.
fn copy_input(
    out: &Library,
    k: usize,
    inputs: &[PathBuf],
    last_ids: &mut Vec<i64>,
    duplicate_paths: &mut Vec<Duplicate>,
) -> Result<(), LibraryError> {
    let input = &inputs[k];
    let alias = format!("in{k}");
    // Read-only: a merge never writes into its inputs.
    out.conn.execute(
        &format!("ATTACH DATABASE ?1 AS {alias}"),
        [read_only_uri(input)],
    )?;
    let tx = out.conn.unchecked_transaction()?;
    let before: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM songs", [], |r| r.get(0))?;
    // Paths an earlier input already gave.
    let mut dups = tx.prepare(&format!(
        "SELECT s.path, m.id FROM {alias}.songs s JOIN songs m ON m.path = s.path
         ORDER BY s.path"
    ))?;
    let found = dups
        .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    drop(dups);
    for (path, id) in found {
        // The input whose ids the kept row is among.
        let source = last_ids.iter().position(|&last| id <= last).unwrap_or(0);
        duplicate_paths.push(Duplicate {
            path: bytes_path(path),
            kept_from: inputs[source].clone(),
            left_out_of: input.clone(),
        });
    }
    tx.execute(
        &format!(
            "INSERT INTO models SELECT * FROM {alias}.models WHERE true
             ON CONFLICT(id) DO NOTHING"
        ),
        [],
    )?;
    tx.execute(
        &format!(
            "INSERT INTO songs ({SONG_COLUMNS}) SELECT {SONG_COLUMNS} FROM {alias}.songs
             WHERE true ORDER BY path ON CONFLICT(path) DO NOTHING"
        ),
        [],
    )?;
    tx.execute(
        &format!(
            "INSERT INTO windows (song_id, idx, start, samples, features)
             SELECT m.id, w.idx, w.start, w.samples, w.features
             FROM {alias}.windows w JOIN {alias}.songs s ON s.id = w.song_id
             JOIN songs m ON m.path = s.path WHERE m.id > ?1"
        ),
        params![before],
    )?;
    tx.execute(
        &format!(
            "INSERT INTO predictions (song_id, model_id, genre, probabilities, embedding, dim)
             SELECT m.id, p.model_id, p.genre, p.probabilities, p.embedding, p.dim
             FROM {alias}.predictions p JOIN {alias}.songs s ON s.id = p.song_id
             JOIN songs m ON m.path = s.path WHERE m.id > ?1"
        ),
        params![before],
    )?;
    last_ids.push(tx.query_row("SELECT COALESCE(MAX(id), 0) FROM songs", [], |r| r.get(0))?);
    tx.commit()?;
    super::after_write();
    out.conn.execute(&format!("DETACH DATABASE {alias}"), [])?;
    Ok(())
}

/// Merges library databases into `output` (replaced atomically when it exists).
pub fn merge(inputs: &[PathBuf], output: &Path) -> Result<MergeReport, LibraryError> {
    if inputs.is_empty() {
        return Err(LibraryError::Invalid(
            "nothing to merge: give shard databases".into(),
        ));
    }
    let io = |e: &dyn std::fmt::Display| LibraryError::Io {
        path: output.to_path_buf(),
        reason: e.to_string(),
    };
    // Check every input before writing anything.
    check_inputs(inputs)?;
    let tmp = super::temp_beside(output, ".merge-")?;
    let mut duplicate_paths = Vec::new();
    // The highest song id in the output after each input.
    let mut last_ids: Vec<i64> = Vec::with_capacity(inputs.len());
    {
        let out = Library::open(&tmp)?;
        for k in 0..inputs.len() {
            copy_input(&out, k, inputs, &mut last_ids, &mut duplicate_paths)?;
        }
        let songs: i64 = out
            .conn
            .query_row("SELECT COUNT(*) FROM songs", [], |r| r.get(0))?;
        let report = MergeReport {
            output: output.to_path_buf(),
            inputs: inputs.len(),
            songs: songs as usize,
            duplicates: duplicate_paths.len(),
            duplicate_paths,
        };
        // Fold the WAL into the file before it is renamed.
        out.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        drop(out);
        for ext in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{ext}", output.display()));
            let _ = std::fs::remove_file(side);
        }
        tmp.persist(output).map_err(|e| io(&e.error))?;
        Ok(report)
    }
}
