//! The catalog over the real library (SQLite) and model: the only code of the serve layer that
//! calls `crate::library` and the model. A small pool of library connections serves requests in
//! parallel (a [`Library`] is one connection: `Send`, not `Sync`); each keeps its embedding
//! matrix loaded between requests.

use super::catalog::Catalog;
use super::dto::{
    Classified, GenreCount, GenreProbability, ListQuery, Order, PlaylistEntry, SimilarSong,
    SongDetail, SongPage, SongSummary, SortKey,
};
use super::error::ServeError;
use crate::library::{self, Library, LibraryError, Model, Sort};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long the genre counts of the filter are reused before they are counted again.
const GENRE_COUNTS_TTL: Duration = Duration::from_secs(30);

/// The library database and the model that classifies uploads.
pub struct LibraryCatalog {
    pool: Vec<Mutex<Library>>,
    next: AtomicUsize,
    model: Mutex<Model>,
    genres: Mutex<Option<(Instant, Vec<GenreCount>)>>,
}

fn lib_err(e: LibraryError) -> ServeError {
    ServeError::Library(e.to_string())
}

impl LibraryCatalog {
    /// Opens the library at `db` (default: `$TUNEPRINT_DB`, else `./tuneprint.db`), which must
    /// exist, with one connection per core (2 to 8). The model classifying uploads is `model`,
    /// else the one that made the library's embeddings, else the default model; without any,
    /// everything but `POST /api/classify` works.
    pub fn open(db: Option<&Path>, model: Option<&Path>) -> Result<LibraryCatalog, ServeError> {
        let path = db
            .map(Path::to_path_buf)
            .unwrap_or_else(library::default_db_path);
        if !path.is_file() {
            return Err(ServeError::Library(format!(
                "{}: no library database here; make one with `tuneprint library scan DIR --db {}`",
                path.display(),
                path.display()
            )));
        }
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8);
        let pool = (0..n)
            .map(|_| Library::open(&path).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(lib_err)?;
        let dir = match model {
            Some(dir) => dir.to_path_buf(),
            None => library_model_dir(&pool[0].lock().unwrap_or_else(|e| e.into_inner())),
        };
        let model =
            Model::load(&dir).map_err(|e| ServeError::Model(format!("{}: {e}", dir.display())))?;
        Ok(LibraryCatalog {
            pool,
            next: AtomicUsize::new(0),
            model: Mutex::new(model),
            genres: Mutex::new(None),
        })
    }

    /// A free connection, or (when all are busy) the next one in turn.
    fn lib(&self) -> MutexGuard<'_, Library> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.pool.len() {
            if let Ok(g) = self.pool[(start + i) % self.pool.len()].try_lock() {
                return g;
            }
        }
        self.pool[start % self.pool.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// The folder of the model that made most of the library's predictions, when it still exists;
/// else [`crate::config::default_model`] (the one `train` saved, else the built-in one).
fn library_model_dir(lib: &Library) -> PathBuf {
    let from_library = lib.status().ok().and_then(|s| {
        s.models
            .iter()
            .max_by_key(|m| m.songs)
            .map(|m| PathBuf::from(&m.dir))
            .filter(|d| crate::config::is_file(&d.join("model.json")))
    });
    from_library.unwrap_or_else(crate::config::default_model)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn summary(s: library::SongSummary) -> SongSummary {
    let file_name = file_name(&s.path);
    let title = s
        .title
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| crate::table::stem(&file_name).to_string());
    SongSummary {
        id: s.id,
        title,
        artist: s.artist,
        album: s.album,
        duration: s.duration,
        genre: s.predicted,
        file_name,
    }
}

fn probabilities(pairs: &[(String, f32)]) -> Vec<GenreProbability> {
    let mut p: Vec<GenreProbability> = pairs
        .iter()
        .map(|(g, v)| GenreProbability {
            genre: g.clone(),
            probability: *v as f64,
        })
        .collect();
    p.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    p
}

fn neighbours(found: Vec<library::Neighbour>) -> Vec<SimilarSong> {
    found
        .into_iter()
        .map(|n| SimilarSong {
            song: summary(n.song),
            similarity: n.similarity as f64,
            copies: n.copies.iter().map(|p| file_name(p)).collect(),
        })
        .collect()
}

/// The reply to a `similar` request from the library's answer.
fn similar_reply(
    lib: &Library,
    id: i64,
    found: Result<Vec<library::Neighbour>, LibraryError>,
) -> Result<Option<Vec<SimilarSong>>, ServeError> {
    match found {
        Ok(found) => Ok(Some(neighbours(found))),
        // A song the model has not seen yet (or a library without embeddings): no neighbours.
        Err(LibraryError::NoSuchSong(_)) | Err(LibraryError::NoEmbeddings) => {
            match missing_ok(lib.summary(id))? {
                Some(s) if s.error.is_none() => Ok(Some(Vec::new())),
                _ => Ok(None),
            }
        }
        Err(e) => Err(lib_err(e)),
    }
}

fn sort(key: SortKey) -> Sort {
    match key {
        SortKey::Title => Sort::Title,
        SortKey::Artist => Sort::Artist,
        SortKey::Album => Sort::Album,
        SortKey::Year => Sort::Year,
        SortKey::Duration => Sort::Duration,
        SortKey::Genre => Sort::Genre,
        SortKey::Path => Sort::Path,
        SortKey::Added => Sort::Added,
    }
}

/// `None` for "no such song", the error otherwise.
fn missing_ok<T>(r: Result<T, LibraryError>) -> Result<Option<T>, ServeError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(LibraryError::NoSuchSong(_)) => Ok(None),
        Err(e) => Err(lib_err(e)),
    }
}

impl Catalog for LibraryCatalog {
    fn workers(&self) -> usize {
        self.pool.len()
    }

    fn list(&self, q: &ListQuery) -> Result<SongPage, ServeError> {
        let lib = self.lib();
        let mut lq = library::ListQuery {
            search: q.search.clone(),
            genre: q.genre.clone(),
            sort: sort(q.sort),
            offset: q.offset as usize,
            limit: Some(q.limit as usize),
            include_failed: false,
        };
        let mut songs = if q.order == Order::Desc {
            // The library sorts ascending: a descending page is the mirrored ascending page.
            let total = lib
                .list(&library::ListQuery {
                    limit: Some(0),
                    offset: 0,
                    ..lq.clone()
                })
                .map_err(lib_err)?
                .total as u64;
            let end = total.saturating_sub(q.offset);
            let start = end.saturating_sub(q.limit);
            lq.offset = start as usize;
            lq.limit = Some((end - start) as usize);
            let mut page = lib.list(&lq).map_err(lib_err)?;
            page.items.reverse();
            page.total = total as usize;
            page
        } else {
            lib.list(&lq).map_err(lib_err)?
        };
        Ok(SongPage {
            songs: songs.items.drain(..).map(summary).collect(),
            total: songs.total as u64,
            offset: q.offset,
            limit: q.limit,
        })
    }

    fn genres(&self) -> Result<Vec<GenreCount>, ServeError> {
        {
            let cached = self.genres.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, g)) = cached.as_ref() {
                if at.elapsed() < GENRE_COUNTS_TTL {
                    return Ok(g.clone());
                }
            }
        }
        let lib = self.lib();
        // The model's genres, from any predicted song.
        let names: Vec<String> = {
            let first = lib
                .list(&library::ListQuery {
                    sort: Sort::Added,
                    limit: Some(1),
                    ..Default::default()
                })
                .map_err(lib_err)?;
            match first.items.first() {
                Some(s) => lib
                    .song(s.id)
                    .map_err(lib_err)?
                    .prediction
                    .map(|p| p.probabilities.into_iter().map(|(g, _)| g).collect())
                    .unwrap_or_default(),
                None => Vec::new(),
            }
        };
        let mut counts = Vec::new();
        for genre in names {
            let total = lib
                .list(&library::ListQuery {
                    genre: Some(genre.clone()),
                    limit: Some(0),
                    ..Default::default()
                })
                .map_err(lib_err)?
                .total as u64;
            counts.push(GenreCount {
                genre,
                songs: total,
            });
        }
        *self.genres.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), counts.clone()));
        Ok(counts)
    }

    fn counts(&self) -> Result<(u64, u64), ServeError> {
        let s = self.lib().status().map_err(lib_err)?;
        Ok((s.songs as u64, s.failed as u64))
    }

    fn song(&self, id: i64) -> Result<Option<SongDetail>, ServeError> {
        let Some(d) = missing_ok(self.lib().song(id))? else {
            return Ok(None);
        };
        if d.summary.error.is_some() {
            return Ok(None);
        }
        let path = d.summary.path.display().to_string();
        let year = d.summary.year;
        let tag_genre = d.summary.genre.clone();
        Ok(Some(SongDetail {
            summary: summary(d.summary),
            path,
            encoding: d.encoding,
            year,
            tag_genre,
            probabilities: d
                .prediction
                .as_ref()
                .map(|p| probabilities(&p.probabilities))
                .unwrap_or_default(),
            model: d.prediction.map(|p| p.model_id),
            audio_url: format!("/api/songs/{id}/audio"),
            spectrogram_url: format!("/api/songs/{id}/spectrogram.png"),
            playlist_url: format!(
                "/api/songs/{id}/playlist?n={}",
                crate::config::SERVE_PLAYLIST
            ),
        }))
    }

    fn similar(&self, id: i64, k: usize) -> Result<Option<Vec<SimilarSong>>, ServeError> {
        let lib = self.lib();
        similar_reply(&lib, id, lib.nearest_to_song(id, k))
    }

    fn similar_many(
        &self,
        queries: &[(i64, usize)],
    ) -> Vec<Result<Option<Vec<SimilarSong>>, ServeError>> {
        let lib = self.lib();
        let found = lib.nearest_to_songs(queries);
        queries
            .iter()
            .zip(found)
            .map(|(&(id, _), f)| similar_reply(&lib, id, f))
            .collect()
    }

    fn audio_path(&self, id: i64) -> Result<Option<PathBuf>, ServeError> {
        let lib = self.lib();
        match missing_ok(lib.summary(id))? {
            Some(s) if s.error.is_none() => Ok(Some(s.path)),
            _ => Ok(None),
        }
    }

    fn playlist(&self, id: i64, n: usize) -> Result<Option<Vec<PlaylistEntry>>, ServeError> {
        let lib = self.lib();
        let songs = match lib.playlist(id, n) {
            Ok(s) => s,
            Err(LibraryError::NoSuchSong(_)) | Err(LibraryError::NoEmbeddings) => {
                // Without an embedding the playlist is the song alone.
                match missing_ok(lib.summary(id))? {
                    Some(s) if s.error.is_none() => vec![s],
                    _ => return Ok(None),
                }
            }
            Err(e) => return Err(lib_err(e)),
        };
        Ok(Some(
            songs
                .into_iter()
                .map(|s| PlaylistEntry {
                    path: s.path.clone(),
                    song: summary(s),
                })
                .collect(),
        ))
    }

    fn can_classify(&self) -> bool {
        true
    }

    fn classify(&self, path: &Path, file_name: &str, k: usize) -> Result<Classified, ServeError> {
        let model = &self.model;
        let analysis = crate::extract::analyse_file(path, crate::config::LIBRARY_WINDOW_SECONDS)
            .map_err(|e| {
                // The message names the temporary file; the user knows the upload's name.
                let reason = e.to_string();
                let reason = reason
                    .strip_prefix(&format!("{}: ", path.display()))
                    .unwrap_or(&reason)
                    .to_string();
                ServeError::NotAudio(format!("{file_name}: {reason}"))
            })?;
        let windows: Vec<_> = analysis.windows.iter().map(|(_, w)| w.features).collect();
        let (outputs, genres, model_id) = {
            let m = model.lock().unwrap_or_else(|e| e.into_inner());
            (
                m.outputs(std::slice::from_ref(&windows)),
                m.genres().to_vec(),
                m.id().to_string(),
            )
        };
        let Some(out) = outputs
            .into_iter()
            .next()
            .filter(|o| !o.probabilities.is_empty())
        else {
            return Err(ServeError::NotAudio(format!(
                "{file_name}: too short to analyse"
            )));
        };
        let pairs: Vec<(String, f32)> = genres
            .iter()
            .cloned()
            .zip(out.probabilities.iter().copied())
            .collect();
        let lib = self.lib();
        // Embeddings of another model are not comparable: no neighbours then.
        let similar = match lib.embeddings() {
            Ok(idx) if idx.model_id() == model_id => lib
                .nearest_to_vector(&out.embedding, k)
                .map(neighbours)
                .map_err(lib_err)?,
            Ok(_) | Err(LibraryError::NoEmbeddings) => Vec::new(),
            Err(e) => return Err(lib_err(e)),
        };
        Ok(Classified {
            file_name: file_name.to_string(),
            genre: genres.get(out.best()).cloned().unwrap_or_default(),
            probabilities: probabilities(&pairs),
            duration: analysis.song.length as f64 / crate::config::SAMPLE_RATE as f64,
            windows: windows.len(),
            similar,
        })
    }
}
