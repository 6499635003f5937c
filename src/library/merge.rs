//! `library merge`: shard databases (from `library scan --shard I/N`) into one.
//!
//! The output is built in a temporary file beside it and renamed into place at the end, so a
//! merge that fails or is killed leaves no half-written library. A path found in several inputs
//! is kept from the first input that has it (and counted as a duplicate).

use super::{schema, Library, LibraryError};
use rusqlite::params;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeReport {
    pub output: PathBuf,
    pub inputs: usize,
    /// Rows (analysed songs and failed files) in the output.
    pub songs: usize,
    /// Rows left out because an earlier input had the same path.
    pub duplicates: usize,
}

const SONG_COLUMNS: &str = "path, name, size, mtime_ns, hash, error, analysis_version, format, \
     sample_rate, channels, samples, duration, title, artist, album, genre, year, label, \
     features, scanned_at";

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
    let tmp = super::temp_beside(output, ".merge-")?;
    let mut total_in = 0usize;
    {
        let out = Library::open(&tmp)?;
        for (k, input) in inputs.iter().enumerate() {
            if !input.is_file() {
                return Err(LibraryError::Open {
                    path: input.clone(),
                    reason: "no such file".into(),
                });
            }
            // Each input is brought to this build's schema first (or refused if newer).
            drop(Library::open(input)?);
            let alias = format!("in{k}");
            out.conn.execute(
                &format!("ATTACH DATABASE ?1 AS {alias}"),
                [input.to_string_lossy()],
            )?;
            let v: i64 = out
                .conn
                .query_row(&format!("PRAGMA {alias}.user_version"), [], |r| r.get(0))?;
            if v != schema::VERSION {
                return Err(LibraryError::Open {
                    path: input.clone(),
                    reason: format!("schema version {v}, expected {}", schema::VERSION),
                });
            }
            let n: i64 =
                out.conn
                    .query_row(&format!("SELECT COUNT(*) FROM {alias}.songs"), [], |r| {
                        r.get(0)
                    })?;
            total_in += n as usize;
            let tx = out.conn.unchecked_transaction()?;
            let before: i64 =
                tx.query_row("SELECT COALESCE(MAX(id), 0) FROM songs", [], |r| r.get(0))?;
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
            tx.commit()?;
            out.conn.execute(&format!("DETACH DATABASE {alias}"), [])?;
        }
        let songs: i64 = out
            .conn
            .query_row("SELECT COUNT(*) FROM songs", [], |r| r.get(0))?;
        let report = MergeReport {
            output: output.to_path_buf(),
            inputs: inputs.len(),
            songs: songs as usize,
            duplicates: total_in - songs as usize,
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
