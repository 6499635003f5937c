//! `library check`: SQLite's own integrity check plus tuneprint's invariants, read-only.
//!
//! The invariants: every analysed song has its whole-file features and its windows (numbered
//! 0, 1, … without gaps, each with its features); a failed file has neither windows nor a
//! prediction; every prediction names a model the library knows, with one probability per
//! genre of that model and an embedding of its stated size.

use super::{bytes_path, Library, LibraryError};
use crate::features::N_FEATURES;
use serde::Serialize;
use std::path::PathBuf;

/// What `library check` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub db: PathBuf,
    /// Analysed songs and failed files.
    pub songs: usize,
    pub failed: usize,
    pub windows: usize,
    pub predictions: usize,
    /// One line each: SQLite's integrity check, then tuneprint's invariants.
    pub problems: Vec<String>,
}

/// Each invariant: a query whose rows are violations (the song's path, then details), and the
/// message made of one row.
type Rule = (&'static str, fn(&str, &[String]) -> String);

const RULES: &[Rule] = &[
    (
        "SELECT path, CASE WHEN features IS NULL THEN 'missing' ELSE length(features) || ' bytes' END
         FROM songs WHERE error IS NULL AND (features IS NULL OR length(features) != ?1)",
        |p, r| format!("{p}: analysed, but its features are {} (expected {} bytes)", r[0], N_FEATURES * 8),
    ),
    (
        "SELECT s.path FROM songs s WHERE s.error IS NULL
         AND NOT EXISTS (SELECT 1 FROM windows w WHERE w.song_id = s.id)",
        |p, _| format!("{p}: analysed, but it has no windows"),
    ),
    (
        "SELECT s.path, COUNT(*), MIN(w.idx), MAX(w.idx) FROM windows w JOIN songs s ON s.id = w.song_id
         GROUP BY w.song_id HAVING MIN(w.idx) != 0 OR MAX(w.idx) != COUNT(*) - 1",
        |p, r| format!("{p}: its {} windows are numbered {} to {}, not from 0 without gaps", r[0], r[1], r[2]),
    ),
    (
        "SELECT s.path, w.idx, length(w.features) FROM windows w JOIN songs s ON s.id = w.song_id
         WHERE length(w.features) != ?1 OR typeof(w.features) != 'blob'",
        |p, r| format!("{p}: window {} has {} bytes of features (expected {})", r[0], r[1], N_FEATURES * 8),
    ),
    (
        "SELECT s.path, s.error FROM songs s WHERE s.error IS NOT NULL
         AND (EXISTS (SELECT 1 FROM windows w WHERE w.song_id = s.id)
              OR EXISTS (SELECT 1 FROM predictions p WHERE p.song_id = s.id))",
        |p, r| format!("{p}: failed ({}), but it has windows or a prediction", r[0]),
    ),
    (
        "SELECT s.path, p.model_id FROM predictions p JOIN songs s ON s.id = p.song_id
         WHERE NOT EXISTS (SELECT 1 FROM models m WHERE m.id = p.model_id)",
        |p, r| format!("{p}: its prediction names model {}, which the library does not know", r[0]),
    ),
    (
        "SELECT s.path, p.model_id, length(p.probabilities) / 4, json_array_length(m.genres)
         FROM predictions p JOIN songs s ON s.id = p.song_id JOIN models m ON m.id = p.model_id
         WHERE length(p.probabilities) != 4 * json_array_length(m.genres)",
        |p, r| format!("{p}: {} probabilities for the {} genres of model {}", r[1], r[2], r[0]),
    ),
    (
        "SELECT s.path, length(p.embedding), p.dim FROM predictions p JOIN songs s ON s.id = p.song_id
         WHERE length(p.embedding) != 4 * p.dim",
        |p, r| format!("{p}: its embedding has {} bytes, not the {} values its row says", r[0], r[1]),
    ),
];

impl Library {
    /// Checks the database (reads only). Problems are listed, not returned as errors.
    pub fn check(&self) -> Result<CheckReport, LibraryError> {
        let mut problems: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter(|m| m != "ok")
            .map(|m| format!("SQLite: {m}"))
            .collect();
        for (sql, message) in RULES {
            let mut st = self.conn.prepare(sql)?;
            let n = st.column_count();
            let mut rows = if st.parameter_count() == 1 {
                st.query([(N_FEATURES * 8) as i64])?
            } else {
                st.query([])?
            };
            while let Some(r) = rows.next()? {
                let path = bytes_path(r.get::<_, Vec<u8>>(0)?);
                let rest = (1..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => "NULL".to_string(),
                            rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                            rusqlite::types::ValueRef::Real(v) => v.to_string(),
                            rusqlite::types::ValueRef::Text(t)
                            | rusqlite::types::ValueRef::Blob(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                        })
                    })
                    .collect::<rusqlite::Result<Vec<String>>>()?;
                problems.push(message(&path.display().to_string(), &rest));
            }
        }
        let count = |sql: &str| -> Result<usize, LibraryError> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as usize)
        };
        Ok(CheckReport {
            db: self.path.clone(),
            songs: count("SELECT COUNT(*) FROM songs WHERE error IS NULL")?,
            failed: count("SELECT COUNT(*) FROM songs WHERE error IS NOT NULL")?,
            windows: count("SELECT COUNT(*) FROM windows")?,
            predictions: count("SELECT COUNT(*) FROM predictions")?,
            problems,
        })
    }
}
