//! What `classify`, `recommend`, `embed` and `train` do with `--db`: songs of the library are
//! taken from what the library stored (features of every 30 s window, song-level features,
//! embeddings, genre tags), never decoded again; a query that is not in the library is analysed
//! like any file.

use super::{path_bytes, scan, Library, LibraryError, ListQuery};
use crate::extract::{self, Options};
use crate::features::FeatureVector;
use crate::table::Record;
use rusqlite::OptionalExtension;
use std::path::{Path, PathBuf};

/// A query of a `--db` command.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// A song of the library (its id).
    Song(i64),
    /// An audio file that is not in the library.
    File(PathBuf),
}

impl Library {
    /// Opens the library at `db` (`None`: [`crate::config::default_db_path`]); it must exist.
    pub fn open_existing(db: Option<&Path>) -> Result<Library, LibraryError> {
        let p = db
            .map(Path::to_path_buf)
            .unwrap_or_else(crate::config::default_db_path);
        if !p.is_file() {
            return Err(LibraryError::Invalid(format!(
                "{}: no library here (create one with `tuneprint library scan DIR --db {}`)",
                p.display(),
                p.display()
            )));
        }
        Library::open(&p)
    }

    /// The library song that is this very file: the same path, else the same content (a copy,
    /// or the file moved since the last scan).
    pub fn song_of_file(&self, path: &Path) -> Result<Option<i64>, LibraryError> {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let by_path = self
            .conn
            .query_row(
                "SELECT id FROM songs WHERE path = ? AND error IS NULL",
                [path_bytes(&canonical)],
                |r| r.get::<_, i64>(0),
            )
            .optional()?;
        if by_path.is_some() {
            return Ok(by_path);
        }
        let Ok(hash) = scan::hash_file(path) else {
            return Ok(None);
        };
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM songs WHERE hash = ? AND error IS NULL ORDER BY id LIMIT 1",
                [hash],
                |r| r.get::<_, i64>(0),
            )
            .optional()?)
    }

    /// Reads a query: an audio file (the library song it is, by path or content, else a new
    /// file), else a library song named by its path, file name or stem.
    pub fn resolve(&self, name: &str) -> Result<Query, LibraryError> {
        let p = Path::new(name);
        if p.is_file() {
            return Ok(match self.song_of_file(p)? {
                Some(id) => Query::Song(id),
                None => Query::File(p.to_path_buf()),
            });
        }
        Ok(Query::Song(self.find(name)?))
    }

    /// The features of every 30 s window of a query: stored for a library song, computed for a
    /// file.
    pub fn query_windows(&self, q: &Query) -> Result<Vec<FeatureVector>, LibraryError> {
        match q {
            Query::Song(id) => Ok(self.windows(*id)?.into_iter().map(|w| w.features).collect()),
            Query::File(p) => Ok(extract::extract_file(
                p,
                &Options {
                    window_seconds: Some(crate::config::LIBRARY_WINDOW_SECONDS),
                },
            )?
            .into_iter()
            .map(|r| r.features)
            .collect()),
        }
    }

    /// The library's songs as table rows (one per song, as `extract` computes it) labelled
    /// with their genre tags (empty for an untagged song), for `train --db`.
    pub fn tagged_records(&self) -> Result<Vec<Record>, LibraryError> {
        let mut rows = self.records(false)?;
        // Both in path order, analysed songs only.
        let songs = self
            .list(&ListQuery {
                limit: None,
                ..Default::default()
            })?
            .items;
        if songs.len() != rows.len() {
            return Err(LibraryError::Invalid(format!(
                "the library changed while it was read ({} songs, {} rows): try again",
                songs.len(),
                rows.len()
            )));
        }
        for (r, s) in rows.iter_mut().zip(&songs) {
            r.label = s.genre.clone().unwrap_or_default().trim().to_string();
        }
        Ok(rows)
    }
}
