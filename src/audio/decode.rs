//! TODO
use super::{AudioError, Decoded};
use std::path::Path;

pub fn load(path: &Path) -> Result<Decoded, AudioError> {
    Err(AudioError::Unsupported { path: path.to_path_buf(), reason: "not implemented".into() })
}
