//! Training curves: reading `history.csv` and drawing accuracy and loss per epoch.

use super::colors::SERIES;
use super::heatmap::font;
use super::text::text_width;
use super::{render_png, ReportError};
use crate::model::evaluation::EpochStats;
use plotters::prelude::*;
use std::path::Path;

/// Size (width, height) of `accuracy.png` and `loss.png` in pixels.
pub const CURVE_SIZE: (u32, u32) = (1000, 600);

/// The columns of a `history.csv`, in order.
pub const HISTORY_COLUMNS: [&str; 5] = [
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
];

/// Reads a training history (`epoch,train_loss,train_accuracy,val_loss,val_accuracy`; columns
/// found by name). Empty cells or NaN are read as NaN and left out of the curves.
pub fn read_history(path: &Path) -> Result<Vec<EpochStats>, ReportError> {
    let invalid = |reason: String| ReportError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let text = crate::config::read_text(path).map_err(|e| ReportError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| invalid(e.to_string()))?.clone();
    let mut idx = [0usize; 5];
    for (k, name) in HISTORY_COLUMNS.iter().enumerate() {
        idx[k] = headers
            .iter()
            .position(|h| h == *name)
            .ok_or_else(|| invalid(format!("missing column `{name}`")))?;
    }
    let mut out = Vec::new();
    for (r, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| invalid(e.to_string()))?;
        let cell = |k: usize| rec.get(idx[k]).unwrap_or("");
        let num = |k: usize| -> Result<f64, ReportError> {
            let s = cell(k);
            if s.is_empty() {
                return Ok(f64::NAN);
            }
            s.parse::<f64>().map_err(|_| {
                invalid(format!(
                    "row {}, column `{}`: `{s}` is not a number",
                    r + 1,
                    HISTORY_COLUMNS[k]
                ))
            })
        };
        let epoch: usize = cell(0).parse().map_err(|_| {
            invalid(format!(
                "row {}, column `epoch`: `{}` is not a whole number",
                r + 1,
                cell(0)
            ))
        })?;
        out.push(EpochStats {
            epoch,
            train_loss: num(1)?,
            train_accuracy: num(2)?,
            val_loss: num(3)?,
            val_accuracy: num(4)?,
        });
    }
    if out.is_empty() {
        return Err(invalid("no epochs (header only)".into()));
    }
    Ok(out)
}

/// One line of a curve figure.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend entry; `None` keeps the line out of the legend.
    pub label: Option<String>,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    /// Opacity in [0, 1].
    pub alpha: f64,
    pub width: u32,
}

/// Which quantity of a history a figure shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    Accuracy,
    Loss,
}

/// The lines of the accuracy or loss figure: training and validation of the saved model, bold;
/// the validation curve of every evaluation run (seed), thin and faint behind them.
pub fn history_series(
    main: &[EpochStats],
    runs: &[(u64, Vec<EpochStats>)],
    q: Quantity,
) -> Vec<Series> {
    let pick = |e: &EpochStats, train: bool| match (q, train) {
        (Quantity::Accuracy, true) => e.train_accuracy,
        (Quantity::Accuracy, false) => e.val_accuracy,
        (Quantity::Loss, true) => e.train_loss,
        (Quantity::Loss, false) => e.val_loss,
    };
    let points = |h: &[EpochStats], train: bool| -> Vec<(f64, f64)> {
        h.iter()
            .map(|e| (e.epoch as f64, pick(e, train)))
            .filter(|(_, y)| y.is_finite())
            .collect()
    };
    let mut out = Vec::new();
    for (i, (_, h)) in runs.iter().enumerate() {
        out.push(Series {
            label: (i == 0).then(|| "validation, each seed's evaluation run".to_string()),
            points: points(h, false),
            color: SERIES[1],
            alpha: 0.3,
            width: 1,
        });
    }
    out.push(Series {
        label: Some("training (saved model)".into()),
        points: points(main, true),
        color: SERIES[0],
        alpha: 1.0,
        width: 3,
    });
    out.push(Series {
        label: Some("validation (saved model)".into()),
        points: points(main, false),
        color: SERIES[1],
        alpha: 1.0,
        width: 3,
    });
    out
}

const LEGEND_PX: f64 = 17.0;
const LEGEND_MARGIN: u32 = 12;
const LEGEND_LINE_AREA: u32 = 40;
/// Approximate plotting area of a [`CURVE_SIZE`] figure with the layout below (pixels).
const PLOT_W: f64 = 855.0;
const PLOT_H: f64 = 455.0;

/// Does any line of `series` pass through the data-space box `x0..x1` × `y0..y1`?
/// Segments are sampled, so a steep line between two far points is caught too.
fn hits_box(series: &[Series], (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> bool {
    let inside = |(x, y): (f64, f64)| x >= x0 && x <= x1 && y >= y0 && y <= y1;
    series.iter().any(|s| {
        s.points.iter().any(|&p| inside(p))
            || s.points.windows(2).any(|w| {
                (1..8).any(|k| {
                    let t = k as f64 / 8.0;
                    inside((
                        w[0].0 + (w[1].0 - w[0].0) * t,
                        w[0].1 + (w[1].1 - w[0].1) * t,
                    ))
                })
            })
    })
}

/// Where the legend goes: the first corner (in `order`) whose legend box no line crosses, or
/// `None` when every corner is taken. `frac` is the legend box as a fraction of the plot.
fn free_corner(
    series: &[Series],
    (x_lo, x_hi): (f64, f64),
    (y_lo, y_hi): (f64, f64),
    (wf, hf): (f64, f64),
    order: &[SeriesLabelPosition],
) -> Option<SeriesLabelPosition> {
    let (xs, ys) = (x_hi - x_lo, y_hi - y_lo);
    order
        .iter()
        .find(|pos| {
            let right = matches!(
                pos,
                SeriesLabelPosition::UpperRight | SeriesLabelPosition::LowerRight
            );
            let upper = matches!(
                pos,
                SeriesLabelPosition::UpperRight | SeriesLabelPosition::UpperLeft
            );
            let xb = if right {
                (x_hi - wf * xs, x_hi)
            } else {
                (x_lo, x_lo + wf * xs)
            };
            let yb = if upper {
                (y_hi - hf * ys, y_hi)
            } else {
                (y_lo, y_lo + hf * ys)
            };
            !hits_box(series, xb, yb)
        })
        .cloned()
}

/// Draws curves over epochs to a PNG of [`CURVE_SIZE`]. `y_range` fixes the vertical axis
/// (otherwise it spans the data with a margin). The legend goes to the first free corner of
/// `legend_order`; when no corner is free, the vertical axis grows upwards until the upper right
/// one is.
pub fn draw_curves(
    path: &Path,
    title: &str,
    y_label: &str,
    series: &[Series],
    y_range: Option<(f64, f64)>,
    legend_order: &[SeriesLabelPosition],
) -> Result<(), ReportError> {
    let all = || series.iter().flat_map(|s| s.points.iter());
    if all().next().is_none() {
        return Err(ReportError::Draw {
            path: path.to_path_buf(),
            reason: "no finite points to draw".into(),
        });
    }
    let x_max = all().map(|p| p.0).fold(1.0f64, f64::max);
    let x_min = all().map(|p| p.0).fold(x_max, f64::min).min(1.0);
    let (y_lo, y_hi) = y_range.unwrap_or_else(|| {
        let lo = all().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = all().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.05).max(1e-3);
        (lo - pad, hi + pad)
    });
    let x_hi = if x_max > x_min { x_max } else { x_min + 1.0 };
    let labels: Vec<&String> = series.iter().filter_map(|s| s.label.as_ref()).collect();
    let text_w = labels
        .iter()
        .map(|l| text_width(l, LEGEND_PX))
        .fold(0.0, f64::max);
    let legend_w = f64::from(LEGEND_LINE_AREA + 2 * LEGEND_MARGIN) + text_w + 20.0;
    let legend_h = labels.len() as f64 * (LEGEND_PX * 1.4) + 20.0 + f64::from(LEGEND_MARGIN);
    let frac = (legend_w / PLOT_W + 0.02, legend_h / PLOT_H + 0.03);
    let (corner, y_hi) = match free_corner(series, (x_min, x_hi), (y_lo, y_hi), frac, legend_order)
    {
        Some(c) => (c, y_hi),
        None => {
            // Raise the top so every line stays under an upper-right legend.
            let top = all().map(|p| p.1).fold(y_lo, f64::max);
            let hi = y_lo + (top - y_lo) / (1.0 - frac.1).max(0.2) * 1.02;
            (SeriesLabelPosition::UpperRight, hi.max(y_hi))
        }
    };
    let span = y_hi - y_lo;
    let y_decimals = if span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else {
        2
    };
    render_png(path, CURVE_SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, font(26.0))
            .margin(20)
            .margin_right(40)
            .x_label_area_size(60)
            .y_label_area_size(85)
            .build_cartesian_2d(x_min..x_hi, y_lo..y_hi)?;
        chart
            .configure_mesh()
            .x_desc("Epoch")
            .y_desc(y_label)
            .axis_desc_style(font(20.0))
            .label_style(font(16.0))
            .y_label_formatter(&|v| format!("{v:.*}", y_decimals))
            .x_label_formatter(&|v| {
                if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v}")
                }
            })
            .bold_line_style(RGBColor(220, 220, 220))
            .light_line_style(RGBColor(244, 244, 244))
            .max_light_lines(2)
            .draw()?;
        for s in series {
            let style = s.color.mix(s.alpha).stroke_width(s.width);
            let drawn = chart.draw_series(LineSeries::new(s.points.iter().copied(), style))?;
            if let Some(label) = &s.label {
                let legend = s.color.mix(s.alpha.max(0.5)).stroke_width(s.width.max(2));
                drawn
                    .label(label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 28, y)], legend));
            }
        }
        chart
            .configure_series_labels()
            .position(corner)
            .margin(LEGEND_MARGIN)
            .legend_area_size(LEGEND_LINE_AREA)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .label_font(font(LEGEND_PX))
            .draw()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(points: &[(f64, f64)]) -> Series {
        Series {
            label: None,
            points: points.to_vec(),
            color: SERIES[0],
            alpha: 1.0,
            width: 1,
        }
    }

    #[test]
    fn legend_avoids_the_lines() {
        use SeriesLabelPosition::*;
        let order = [UpperRight, LowerRight, UpperLeft, LowerLeft];
        let frac = (0.4, 0.25);
        // A rising line: upper right and lower left are taken.
        let rising = [line(&[(0.0, 0.0), (10.0, 10.0)])];
        let c = free_corner(&rising, (0.0, 10.0), (0.0, 10.0), frac, &order);
        assert_eq!(c, Some(LowerRight));
        // Two far points whose segment crosses the lower-right box are caught too.
        let falling = [line(&[(0.0, 10.0), (10.0, 0.0)])];
        let c = free_corner(&falling, (0.0, 10.0), (0.0, 10.0), frac, &order);
        assert_eq!(c, Some(UpperRight));
        let both = [rising[0].clone(), falling[0].clone()];
        assert_eq!(
            free_corner(&both, (0.0, 10.0), (0.0, 10.0), frac, &order),
            None
        );
    }

    #[test]
    fn history_columns_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.csv");
        std::fs::write(
            &p,
            "val_accuracy,epoch,train_loss,train_accuracy,val_loss\n0.5,1,2.0,0.4,\n",
        )
        .unwrap();
        let h = read_history(&p).unwrap();
        assert_eq!(
            (h[0].epoch, h[0].val_accuracy, h[0].train_accuracy),
            (1, 0.5, 0.4)
        );
        assert!(h[0].val_loss.is_nan());
        std::fs::write(
            &p,
            "epoch,train_loss,train_accuracy,val_loss,val_accuracy\n",
        )
        .unwrap();
        let e = read_history(&p).unwrap_err().to_string();
        assert!(e.contains("no epochs"), "{e}");
    }
}
