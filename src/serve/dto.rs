//! Wire types of the JSON API: what the page and `curl` see. Kept apart from the library's own
//! types so the library can change without changing the API.

use serde::{Deserialize, Serialize};

/// One row of the library table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SongSummary {
    pub id: i64,
    /// Title tag, or the file stem when the file has none.
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    /// Seconds.
    pub duration: Option<f64>,
    /// Predicted genre (the model's most probable class).
    pub genre: Option<String>,
    /// File name (no folders).
    pub file_name: String,
}

/// A page of songs and how many match in all.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SongPage {
    pub songs: Vec<SongSummary>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

/// One genre with its probability.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GenreProbability {
    pub genre: String,
    pub probability: f64,
}

/// Everything about one song.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SongDetail {
    #[serde(flatten)]
    pub summary: SongSummary,
    /// Full path of the file on the server's machine (shown, never taken from a URL).
    pub path: String,
    /// The file's format, rate and channels (the library's own record of them).
    #[serde(flatten)]
    pub encoding: crate::library::Encoding,
    pub year: Option<i32>,
    /// Genre tag of the file, when it has one.
    pub tag_genre: Option<String>,
    /// Every genre's probability, most probable first.
    pub probabilities: Vec<GenreProbability>,
    /// Id of the model that made the prediction and the embedding.
    pub model: Option<String>,
    pub audio_url: String,
    pub spectrogram_url: String,
    pub playlist_url: String,
}

/// A song like the query, with its cosine similarity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimilarSong {
    #[serde(flatten)]
    pub song: SongSummary,
    pub similarity: f64,
    /// File names of the library's other files of the same recording (the same audio).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<String>,
}

/// `GET /api/songs/{id}/similar`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimilarReply {
    pub id: i64,
    pub similar: Vec<SimilarSong>,
}

/// `POST /api/classify`: an uploaded file's genres and the library songs like it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Classified {
    pub file_name: String,
    pub genre: String,
    pub probabilities: Vec<GenreProbability>,
    /// Seconds of audio decoded.
    pub duration: f64,
    /// 30 s windows the prediction averages.
    pub windows: usize,
    pub similar: Vec<SimilarSong>,
}

/// A genre and how many songs are predicted as it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GenreCount {
    pub genre: String,
    pub songs: u64,
}

/// `GET /api/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub songs: u64,
    pub failed: u64,
    pub genres: Vec<GenreCount>,
    /// Whether uploads can be classified (a model is loaded).
    pub can_classify: bool,
    pub version: String,
}

/// A song of a playlist: its summary and where the file is.
#[derive(Debug, Clone)]
pub struct PlaylistEntry {
    pub song: SongSummary,
    pub path: std::path::PathBuf,
}

/// Sort keys of `GET /api/songs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    #[default]
    Title,
    Artist,
    Album,
    Year,
    Duration,
    Genre,
    Path,
    /// Most recently scanned first.
    Added,
}

/// Sort directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// What `GET /api/songs` asks for, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub offset: u64,
    pub limit: u64,
    /// Case-insensitive text matched against title, artist, album and file name.
    pub search: Option<String>,
    /// Predicted genre (exact, case-insensitive).
    pub genre: Option<String>,
    pub sort: SortKey,
    pub order: Order,
}
