//! Figures and the report page, drawn with plotters into PNG files.
//!
//! Every figure is rendered into an in-memory RGB buffer with the bundled font ([`font`]), encoded
//! as PNG and written atomically. The numbers behind each picture are computed by plain functions
//! ([`heatmap::correlation_matrix`], [`confusion::Confusion`], ...) so they can be tested without
//! looking at pixels. [`inputs`] reads a model directory, [`page`] assembles `report.md` and
//! `report.html`.

pub mod bars;
pub mod colors;
pub mod confusion;
pub mod curves;
pub mod font;
pub mod heatmap;
pub mod inputs;
pub mod page;
pub mod spectrogram;
pub mod text;

use plotters::coord::Shift;
use plotters::prelude::{BitMapBackend, DrawingArea, IntoDrawingArea, WHITE};
use std::path::{Path, PathBuf};

/// Errors of the report layer; each names the file and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An input file is missing or unreadable.
    #[error("{path}: cannot read: {reason}")]
    Read { path: PathBuf, reason: String },
    /// An input file is readable but its content is not what it should be.
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    /// A figure cannot be drawn (empty or inconsistent data, drawing failure).
    #[error("{path}: cannot draw: {reason}")]
    Draw { path: PathBuf, reason: String },
    /// An output cannot be written.
    #[error("{path}: cannot write: {reason}")]
    Write { path: PathBuf, reason: String },
    /// Reading a feature table failed.
    #[error(transparent)]
    Table(#[from] crate::table::TableError),
    /// Decoding a song failed.
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
}

/// What a drawing closure returns; plotters' errors are boxed.
pub type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// The root drawing area of a figure.
pub type Canvas<'a> = DrawingArea<text::TextBackend<'a>, Shift>;

/// Draws a `size` (width, height) figure on a white canvas with `draw` and writes it to `path`
/// as PNG, atomically.
pub fn render_png<F>(path: &Path, size: (u32, u32), draw: F) -> Result<(), ReportError>
where
    F: FnOnce(&Canvas<'_>) -> DrawResult,
{
    let draw_err = |reason: String| ReportError::Draw {
        path: path.to_path_buf(),
        reason,
    };
    if size.0 == 0 || size.1 == 0 {
        return Err(draw_err(format!("empty figure size {}x{}", size.0, size.1)));
    }
    font::ensure();
    let mut rgb = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root =
            text::TextBackend::new(BitMapBackend::with_buffer(&mut rgb, size)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_err(e.to_string()))?;
        draw(&root).map_err(|e| draw_err(e.to_string()))?;
        root.present().map_err(|e| draw_err(e.to_string()))?;
    }
    let png = encode_png(&rgb, size).map_err(|reason| ReportError::Write {
        path: path.to_path_buf(),
        reason,
    })?;
    crate::table::write_atomic(path, &png).map_err(|e| ReportError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Encodes 8-bit RGB pixels as a PNG file in memory.
pub fn encode_png(rgb: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Best);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Width and height of a PNG file, read from its header; `None` if the bytes are not a PNG.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    if bytes.len() < 24 || bytes[..8] != SIGNATURE || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&bytes[16..20]), be(&bytes[20..24])))
}
