//! What the server needs from the library and the model, as one trait. The real implementation
//! ([`super::library::LibraryCatalog`]) is the only code of the serve layer that calls the library
//! and the model; tests may stand in a small fake.

use super::dto::{
    Classified, GenreCount, ListQuery, PlaylistEntry, SimilarSong, SongDetail, SongPage,
};
use super::error::ServeError;
use std::path::{Path, PathBuf};

/// The library as the server sees it. Every method may block (database, model); the handlers
/// call them on tokio's blocking pool.
pub trait Catalog: Send + Sync + 'static {
    /// How many calls the catalog serves at once without one waiting for another (the server
    /// queues the rest in arrival order).
    fn workers(&self) -> usize {
        2
    }
    /// A page of songs matching `query`, and how many match in all.
    fn list(&self, query: &ListQuery) -> Result<SongPage, ServeError>;
    /// Every predicted genre with its number of songs (for the filter).
    fn genres(&self) -> Result<Vec<GenreCount>, ServeError>;
    /// Songs analysed and files that failed.
    fn counts(&self) -> Result<(u64, u64), ServeError>;
    /// One song, or `None` when no song has this id.
    fn song(&self, id: i64) -> Result<Option<SongDetail>, ServeError>;
    /// The `k` songs most like song `id` (not itself), most similar first; `None` when no song
    /// has this id.
    fn similar(&self, id: i64, k: usize) -> Result<Option<Vec<SimilarSong>>, ServeError>;
    /// [`Catalog::similar`] of several `(id, k)` at once (the server batches the requests that
    /// wait at the same time); one answer per query, in order.
    fn similar_many(
        &self,
        queries: &[(i64, usize)],
    ) -> Vec<Result<Option<Vec<SimilarSong>>, ServeError>> {
        queries.iter().map(|&(id, k)| self.similar(id, k)).collect()
    }
    /// The file of song `id` as the library recorded it (absolute), or `None` when no analysed
    /// song has this id.
    fn audio_path(&self, id: i64) -> Result<Option<PathBuf>, ServeError>;
    /// A playlist of `n` songs seeded by song `id` (the seed first), or `None` for no such song.
    fn playlist(&self, id: i64, n: usize) -> Result<Option<Vec<PlaylistEntry>>, ServeError>;
    /// Whether [`Catalog::classify`] can work (a model is loaded).
    fn can_classify(&self) -> bool;
    /// Genres of the audio file at `path` (a temporary copy of an upload) and the `k` library
    /// songs most like it. A file that does not decode is [`ServeError::NotAudio`].
    fn classify(&self, path: &Path, file_name: &str, k: usize) -> Result<Classified, ServeError>;
}
