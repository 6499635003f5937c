//! The mel spectrogram figure (dB), like `librosa.display.specshow(S_dB, x_axis="time",
//! y_axis="mel")` with a colour bar: time in seconds, frequency in Hz on a mel-scaled axis.

use super::colors::ColorMap;
use super::heatmap::{draw_color_bar, font, ColorBar};
use super::{render_png, ReportError};
use crate::features::mel::hz_to_mel;
use ndarray::ArrayView2;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::prelude::*;
use std::ops::Range;
use std::path::Path;

/// Size (width, height) of a mel spectrogram figure in pixels.
pub const MEL_SIZE: (u32, u32) = (1200, 520);

/// Dynamic range shown below the loudest cell (dB), as `power_to_db(top_db=80)`.
pub const TOP_DB: f64 = 80.0;

/// A frequency axis in Hz that is linear in mel, with ticks at powers of two (like librosa).
#[derive(Debug, Clone)]
struct MelAxis {
    lo: f64,
    hi: f64,
}

impl Ranged for MelAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let (a, b) = (hz_to_mel(self.lo), hz_to_mel(self.hi));
        let t = (hz_to_mel(*value) - a) / (b - a);
        limit.0 + ((limit.1 - limit.0) as f64 * t).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.max_num_points() == 0 {
            return Vec::new();
        }
        std::iter::once(0.0)
            .chain((6..16).map(|k| f64::from(1u32 << k)))
            .filter(|f| *f >= self.lo && *f <= self.hi)
            .filter(|f| *f == 0.0 || *f >= 512.0)
            .collect()
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for MelAxis {
    fn format(value: &f64) -> String {
        format!("{value:.0}")
    }
}

/// Draws a mel spectrogram in dB (`db`: mel bands × frames, band 0 lowest) to a PNG of
/// [`MEL_SIZE`]. Frames are `hop` samples apart at `sample_rate`; bands span 0 Hz to the Nyquist
/// frequency. Colours cover the loudest value down to [`TOP_DB`] below it, and the colour bar
/// reads relative to that peak (0 dB), whatever the reference of `db`.
pub fn draw_mel_spectrogram(
    path: &Path,
    db: ArrayView2<'_, f32>,
    sample_rate: u32,
    hop: usize,
    title: &str,
) -> Result<(), ReportError> {
    let draw_err = |reason: String| ReportError::Draw {
        path: path.to_path_buf(),
        reason,
    };
    let (n_mels, n_frames) = db.dim();
    if n_mels == 0 || n_frames == 0 {
        return Err(draw_err(format!(
            "empty spectrogram ({n_mels} bands x {n_frames} frames)"
        )));
    }
    if sample_rate == 0 || hop == 0 {
        return Err(draw_err("sample rate and hop must be positive".into()));
    }
    let vmax = db
        .iter()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    if !vmax.is_finite() {
        return Err(draw_err("spectrogram holds no finite value".into()));
    }
    let vmin = vmax - TOP_DB;
    let duration = (n_frames * hop) as f64 / sample_rate as f64;
    let nyquist = sample_rate as f64 / 2.0;
    // Levels are shown relative to the loudest cell, as `power_to_db(S, ref=np.max)`.
    let bar = ColorBar {
        min: -TOP_DB,
        max: 0.0,
        ticks: (0..=8).map(|k| -10.0 * k as f64).collect(),
        label: "Level relative to the peak (dB)".into(),
        format: |v| {
            if v == 0.0 {
                "0 dB".into()
            } else {
                format!("{v:+.0} dB")
            }
        },
    };
    render_png(path, MEL_SIZE, |root| {
        let (w, _) = root.dim_in_pixel();
        let (main, side) = root.split_horizontally(w as i32 - 170);
        let mut chart = ChartBuilder::on(&main)
            .caption(title, font(26.0))
            .margin(20)
            .x_label_area_size(55)
            .y_label_area_size(90)
            .build_cartesian_2d(
                0.0..duration,
                MelAxis {
                    lo: 0.0,
                    hi: nyquist,
                },
            )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .x_desc("Time (s)")
            .y_desc("Frequency (Hz)")
            .axis_desc_style(font(20.0))
            .label_style(font(16.0))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        let area = chart.plotting_area().strip_coord_spec();
        let (pw, ph) = area.dim_in_pixel();
        let (pw, ph) = (pw as usize, ph as usize);
        // Average the frames that fall into each pixel column (dB domain), then pick the band
        // of each pixel row.
        let mut columns = vec![0.0f64; pw * n_mels];
        for px in 0..pw {
            let a = px * n_frames / pw;
            let b = ((px + 1) * n_frames / pw).max(a + 1).min(n_frames);
            for m in 0..n_mels {
                let row = db.row(m);
                let s: f64 = (a..b).map(|f| (row[f] as f64).max(vmin)).sum();
                columns[px * n_mels + m] = s / (b - a) as f64;
            }
        }
        for py in 0..ph {
            let t = 1.0 - (py as f64 + 0.5) / ph as f64;
            let m = ((t * n_mels as f64) as usize).min(n_mels - 1);
            for px in 0..pw {
                let v = columns[px * n_mels + m];
                let c = ColorMap::Magma.at((v - vmin) / TOP_DB);
                area.draw_pixel((px as i32, py as i32), &c)?;
            }
        }
        let (_, ys) = chart.plotting_area().get_pixel_range();
        draw_color_bar(
            &side,
            (12, ys.start),
            (24, ys.end - ys.start),
            ColorMap::Magma,
            &bar,
        )
    })
}
