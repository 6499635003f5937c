//! Mel spectrogram images of library songs, drawn with the report's figure code the first time a
//! song's image is asked for and kept in a cache folder for the life of the server.

use super::error::ServeError;
use crate::report::page::MelInput;
use crate::report::ReportError;
use axum::body::Bytes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The cache: one PNG per song id in a private temporary folder, and one lock per song so two
/// requests for the same new image draw it once.
pub struct SpectrogramCache {
    dir: tempfile::TempDir,
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl SpectrogramCache {
    /// An empty cache in a new temporary folder.
    pub fn new() -> Result<SpectrogramCache, ServeError> {
        let dir = tempfile::Builder::new()
            .prefix("tuneprint-serve-")
            .tempdir()
            .map_err(|e| ServeError::Io(format!("cannot create a cache folder: {e}")))?;
        Ok(SpectrogramCache {
            dir,
            locks: Mutex::new(HashMap::new()),
        })
    }

    fn png_path(&self, id: i64) -> PathBuf {
        self.dir.path().join(format!("{id}.png"))
    }

    /// The PNG of song `id` whose file is `audio`, drawn now if it is not cached yet.
    pub async fn get(&self, id: i64, audio: PathBuf) -> Result<Bytes, ServeError> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(locks.entry(id).or_default())
        };
        let _guard = lock.lock().await;
        let png = self.png_path(id);
        if let Ok(bytes) = tokio::fs::read(&png).await {
            return Ok(Bytes::from(bytes));
        }
        let out = png.clone();
        tokio::task::spawn_blocking(move || draw(&audio, &out))
            .await
            .map_err(|e| ServeError::Io(format!("a worker failed: {e}")))??;
        let bytes = tokio::fs::read(&png)
            .await
            .map_err(|e| ServeError::Io(format!("{}: cannot read: {e}", png.display())))?;
        Ok(Bytes::from(bytes))
    }
}

/// Decodes `audio` and draws its mel spectrogram (dB) into `png`.
pub fn draw(audio: &Path, png: &Path) -> Result<(), ServeError> {
    let mel = MelInput::of_file(audio).map_err(|e| match e {
        ReportError::Audio(e) => ServeError::Io(format!("cannot decode: {e}")),
        other => ServeError::Io(other.to_string()),
    })?;
    Ok(mel.draw(png)?)
}
