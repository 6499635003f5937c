//! Matrix figures: the correlation heatmap of the mean features, and the shared drawing code of
//! every labelled matrix (also used by the confusion matrix).

use super::colors::{text_on, ColorMap};
use super::font::FAMILY;
use super::{render_png, Canvas, DrawResult, ReportError};
use crate::features::FEATURE_COLUMNS;
use crate::table::Record;
use ndarray::Array2;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Size (width, height) of `correlation.png` in pixels.
pub const CORRELATION_SIZE: (u32, u32) = (1200, 1100);

/// The columns of the correlation heatmap: every `*_mean` feature plus `tempo`, in table order.
pub fn mean_feature_indices() -> Vec<usize> {
    FEATURE_COLUMNS
        .iter()
        .enumerate()
        .filter(|(_, n)| n.ends_with("_mean") || **n == "tempo")
        .map(|(i, _)| i)
        .collect()
}

/// Short axis label of a feature column: `spectral_centroid_mean` → `spectral_centroid`.
pub fn short_label(column: &str) -> String {
    column.strip_suffix("_mean").unwrap_or(column).to_string()
}

/// The mean features of a table as (labels, songs × columns matrix).
pub fn mean_features(records: &[Record]) -> (Vec<String>, Array2<f64>) {
    let idx = mean_feature_indices();
    let labels = idx
        .iter()
        .map(|&i| short_label(FEATURE_COLUMNS[i]))
        .collect();
    let data = Array2::from_shape_fn((records.len(), idx.len()), |(r, c)| {
        records[r].features[idx[c]]
    });
    (labels, data)
}

/// Pearson correlation between the columns of `data` (rows = observations, columns = variables),
/// computed in f64 like `numpy.corrcoef(data, rowvar=False)`. A column without variance (or with
/// fewer than two rows) has NaN in its row and column, diagonal included; every other diagonal
/// entry is exactly 1.
pub fn correlation_matrix(data: &Array2<f64>) -> Array2<f64> {
    let (n, k) = data.dim();
    let mut centred = data.clone();
    let norm: Vec<f64> = centred
        .columns_mut()
        .into_iter()
        .map(|mut col| {
            let mean = if n > 0 { col.sum() / n as f64 } else { 0.0 };
            col.mapv_inplace(|x| x - mean);
            col.iter().map(|x| x * x).sum::<f64>().sqrt()
        })
        .collect();
    let valid = |c: usize| n >= 2 && norm[c] > 0.0 && norm[c].is_finite();
    let mut r = Array2::from_elem((k, k), f64::NAN);
    for i in 0..k {
        if !valid(i) {
            continue;
        }
        r[[i, i]] = 1.0;
        for j in (i + 1)..k {
            if !valid(j) {
                continue;
            }
            let dot: f64 = centred
                .column(i)
                .iter()
                .zip(centred.column(j).iter())
                .map(|(a, b)| a * b)
                .sum();
            let v = (dot / (norm[i] * norm[j])).clamp(-1.0, 1.0);
            r[[i, j]] = v;
            r[[j, i]] = v;
        }
    }
    r
}

/// Draws the correlation heatmap of `labels` × `labels` correlations to a PNG of
/// [`CORRELATION_SIZE`].
pub fn draw_correlation(
    path: &Path,
    labels: &[String],
    r: &Array2<f64>,
    title: &str,
) -> Result<(), ReportError> {
    if r.nrows() == 0 || r.dim() != (labels.len(), labels.len()) {
        return Err(ReportError::Draw {
            path: path.to_path_buf(),
            reason: format!(
                "correlation matrix is {}x{} for {} labels",
                r.nrows(),
                r.ncols(),
                labels.len()
            ),
        });
    }
    let show_values = labels.len() <= 12;
    let text = show_values.then(|| {
        r.mapv(|v| {
            if v.is_nan() {
                "n/a".to_string()
            } else {
                format!("{v:.2}")
            }
        })
    });
    let fig = MatrixFigure {
        title,
        row_labels: labels,
        col_labels: labels,
        row_axis: "",
        col_axis: "",
        shade: r.mapv(|v| (v + 1.0) / 2.0),
        text,
        cmap: ColorMap::BlueRed,
        bar: ColorBar {
            min: -1.0,
            max: 1.0,
            ticks: vec![-1.0, -0.5, 0.0, 0.5, 1.0],
            label: "Pearson r".into(),
            format: |v| format!("{v:.1}"),
        },
    };
    render_png(path, CORRELATION_SIZE, |root| draw_matrix(root, &fig))
}

/// The colour bar beside a matrix: `min`..`max` mapped onto the colour map's 0..1.
#[derive(Debug, Clone)]
pub struct ColorBar {
    pub min: f64,
    pub max: f64,
    pub ticks: Vec<f64>,
    pub label: String,
    /// Writes a tick label.
    pub format: fn(f64) -> String,
}

/// A labelled matrix figure: one coloured cell per entry, optional text in the cells.
#[derive(Debug, Clone)]
pub struct MatrixFigure<'a> {
    pub title: &'a str,
    pub row_labels: &'a [String],
    pub col_labels: &'a [String],
    /// Title of the vertical axis (rows); empty for none.
    pub row_axis: &'a str,
    /// Title of the horizontal axis (columns); empty for none.
    pub col_axis: &'a str,
    /// Colour position of every cell in [0, 1]; NaN cells are drawn grey.
    pub shade: Array2<f64>,
    /// Text written in every cell, if any.
    pub text: Option<Array2<String>>,
    pub cmap: ColorMap,
    pub bar: ColorBar,
}

const TITLE_PX: f64 = 26.0;
const AXIS_PX: f64 = 19.0;
const GREY: RGBColor = RGBColor(200, 200, 200);

/// Black text of `px` pixels in the bundled font.
pub fn font(px: f64) -> TextStyle<'static> {
    (FAMILY, px).into_font().color(&BLACK)
}

/// `style` turned to read bottom to top, centred on its anchor point.
pub fn rotated(style: TextStyle<'static>) -> TextStyle<'static> {
    style
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Center, VPos::Center))
}

/// Draws a [`MatrixFigure`] filling `root`: title on top, row labels on the left, column labels
/// (rotated) below, colour bar on the right.
pub fn draw_matrix(root: &Canvas<'_>, fig: &MatrixFigure<'_>) -> DrawResult {
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let (nr, nc) = fig.shade.dim();
    let label_px = if nr.max(nc) > 15 { 15.0 } else { 18.0 };
    let label_font = font(label_px);
    let text_w = |s: &str, f: &TextStyle| -> i32 {
        root.estimate_text_size(s, f)
            .map(|(w, _)| w as i32)
            .unwrap_or(0)
    };
    let row_w = fig
        .row_labels
        .iter()
        .map(|s| text_w(s, &label_font))
        .max()
        .unwrap_or(0);
    let col_h = fig
        .col_labels
        .iter()
        .map(|s| text_w(s, &label_font))
        .max()
        .unwrap_or(0);
    let axis_gap = |t: &str| if t.is_empty() { 0 } else { 40 };
    let top = 70;
    let left = 20 + axis_gap(fig.row_axis) + row_w + 10;
    let bottom = 10 + col_h + 10 + axis_gap(fig.col_axis) + 10;
    let bar_block = 30 + 24 + 70 + 40;
    let cell = ((w - left - bar_block - 20) / nc as i32)
        .min((h - top - bottom) / nr as i32)
        .max(4);
    let grid_w = cell * nc as i32;
    let grid_h = cell * nr as i32;
    // Centre the grid and its colour bar horizontally.
    let x0 = left + ((w - left - bar_block - grid_w) / 2).max(0);
    let y0 = top + ((h - top - bottom - grid_h) / 2).max(0);

    root.draw(&Text::new(
        fig.title.to_string(),
        (w / 2, 32),
        font(TITLE_PX).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;

    // Cells, separated by a one-pixel white gap.
    for r in 0..nr {
        for c in 0..nc {
            let v = fig.shade[[r, c]];
            let color = if v.is_nan() { GREY } else { fig.cmap.at(v) };
            let (cx, cy) = (x0 + c as i32 * cell, y0 + r as i32 * cell);
            root.draw(&Rectangle::new(
                [(cx, cy), (cx + cell - 2, cy + cell - 2)],
                color.filled(),
            ))?;
            if let Some(text) = &fig.text {
                let px = (cell as f64 * 0.32).clamp(9.0, 20.0);
                let style = (FAMILY, px)
                    .into_font()
                    .color(&text_on(color))
                    .pos(Pos::new(HPos::Center, VPos::Center));
                root.draw(&Text::new(
                    text[[r, c]].clone(),
                    (cx + cell / 2 - 1, cy + cell / 2 - 1),
                    style,
                ))?;
            }
        }
    }

    // Row labels, right-aligned against the grid.
    for (r, s) in fig.row_labels.iter().enumerate() {
        root.draw(&Text::new(
            s.clone(),
            (x0 - 8, y0 + r as i32 * cell + cell / 2 - 1),
            label_font.clone().pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    // Column labels, reading bottom to top, ending just below the grid.
    for (c, s) in fig.col_labels.iter().enumerate() {
        root.draw(&Text::new(
            s.clone(),
            (x0 + c as i32 * cell + cell / 2 - 1, y0 + grid_h + 6),
            label_font
                .clone()
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    if !fig.col_axis.is_empty() {
        root.draw(&Text::new(
            fig.col_axis.to_string(),
            (x0 + grid_w / 2, y0 + grid_h + 10 + col_h + 24),
            font(AXIS_PX).pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
    }
    if !fig.row_axis.is_empty() {
        root.draw(&Text::new(
            fig.row_axis.to_string(),
            (x0 - row_w - 18 - AXIS_PX as i32 / 2, y0 + grid_h / 2),
            rotated(font(AXIS_PX)),
        ))?;
    }
    draw_color_bar(
        root,
        (x0 + grid_w + 30, y0),
        (24, grid_h),
        fig.cmap,
        &fig.bar,
    )
}

/// Draws a vertical colour bar with its top-left corner at `at`, ticks and a rotated label on its
/// right.
pub fn draw_color_bar(
    root: &Canvas<'_>,
    at: (i32, i32),
    (bw, bh): (i32, i32),
    cmap: ColorMap,
    bar: &ColorBar,
) -> DrawResult {
    let (x, y) = at;
    let span = bar.max - bar.min;
    for py in 0..bh {
        let t = 1.0 - py as f64 / (bh - 1).max(1) as f64;
        root.draw(&Rectangle::new(
            [(x, y + py), (x + bw, y + py + 1)],
            cmap.at(t).filled(),
        ))?;
    }
    root.draw(&Rectangle::new([(x, y), (x + bw, y + bh)], BLACK))?;
    let tick_font = font(16.0).pos(Pos::new(HPos::Left, VPos::Center));
    let mut widest = 0;
    for &v in &bar.ticks {
        if span <= 0.0 || !(bar.min..=bar.max).contains(&v) {
            continue;
        }
        let ty = y + ((bar.max - v) / span * (bh - 1) as f64).round() as i32;
        root.draw(&PathElement::new(
            vec![(x + bw, ty), (x + bw + 5, ty)],
            BLACK,
        ))?;
        let s = (bar.format)(v);
        widest = widest.max(
            root.estimate_text_size(&s, &tick_font)
                .map(|(w, _)| w as i32)
                .unwrap_or(0),
        );
        root.draw(&Text::new(s, (x + bw + 9, ty), tick_font.clone()))?;
    }
    root.draw(&Text::new(
        bar.label.clone(),
        (x + bw + 22 + widest + AXIS_PX as i32 / 2, y + bh / 2),
        rotated(font(AXIS_PX)),
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn correlation_of_known_columns() {
        // b = 2a + 1 (r = 1), c = -a (r = -1), d constant (undefined).
        let data = array![
            [1.0, 3.0, -1.0, 5.0, 0.3],
            [2.0, 5.0, -2.0, 5.0, -1.0],
            [4.0, 9.0, -4.0, 5.0, 2.0],
            [7.0, 15.0, -7.0, 5.0, 0.1]
        ];
        let r = correlation_matrix(&data);
        assert!((r[[0, 1]] - 1.0).abs() < 1e-12);
        assert!((r[[0, 2]] + 1.0).abs() < 1e-12);
        assert!(r[[0, 3]].is_nan() && r[[3, 3]].is_nan());
        assert_eq!(r[[4, 4]], 1.0);
        assert_eq!(r[[0, 4]], r[[4, 0]]);
    }

    #[test]
    fn mean_columns_are_the_28_means_and_tempo() {
        let idx = mean_feature_indices();
        assert_eq!(idx.len(), 29);
        assert_eq!(FEATURE_COLUMNS[idx[0]], "chroma_stft_mean");
        assert!(idx.iter().any(|&i| FEATURE_COLUMNS[i] == "tempo"));
        assert_eq!(short_label("mfcc20_mean"), "mfcc20");
    }
}
