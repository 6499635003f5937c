//! Training curves: reading `history.csv` and drawing accuracy and loss per epoch.

use super::colors::SERIES;
use super::heatmap::font;
use super::{render_png, ReportError};
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

/// One row of a training history.
#[derive(Debug, Clone, PartialEq)]
pub struct Epoch {
    /// Epoch number, counted from 1.
    pub epoch: u32,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub val_loss: f64,
    pub val_accuracy: f64,
}

/// Reads a training history (`epoch,train_loss,train_accuracy,val_loss,val_accuracy`; columns
/// found by name). Empty cells or NaN are read as NaN and left out of the curves.
pub fn read_history(path: &Path) -> Result<Vec<Epoch>, ReportError> {
    let invalid = |reason: String| ReportError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::Read {
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
        let epoch: u32 = cell(0).parse().map_err(|_| {
            invalid(format!(
                "row {}, column `epoch`: `{}` is not a whole number",
                r + 1,
                cell(0)
            ))
        })?;
        out.push(Epoch {
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
pub fn history_series(main: &[Epoch], runs: &[(u64, Vec<Epoch>)], q: Quantity) -> Vec<Series> {
    let pick = |e: &Epoch, train: bool| match (q, train) {
        (Quantity::Accuracy, true) => e.train_accuracy,
        (Quantity::Accuracy, false) => e.val_accuracy,
        (Quantity::Loss, true) => e.train_loss,
        (Quantity::Loss, false) => e.val_loss,
    };
    let points = |h: &[Epoch], train: bool| -> Vec<(f64, f64)> {
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

/// Draws curves over epochs to a PNG of [`CURVE_SIZE`]. `y_range` fixes the vertical axis
/// (otherwise it spans the data with a margin); the legend goes to the lower right when
/// `legend_low` is set, else to the upper right.
pub fn draw_curves(
    path: &Path,
    title: &str,
    y_label: &str,
    series: &[Series],
    y_range: Option<(f64, f64)>,
    legend_low: bool,
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
            .position(if legend_low {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            })
            .margin(12)
            .legend_area_size(40)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .label_font(font(17.0))
            .draw()?;
        Ok(())
    })
}
