//! Model comparison: mean test accuracy over seeds as bars, one standard deviation as error bars,
//! every seed's accuracy as a dot.

use super::colors::SERIES;
use super::heatmap::font;
use super::{render_png, ReportError};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Size (width, height) of `baselines.png` in pixels.
pub const BARS_SIZE: (u32, u32) = (1000, 600);

/// One bar: a model's accuracies over seeds (fractions in [0, 1]).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub name: String,
    pub mean: f64,
    pub std: f64,
    pub values: Vec<f64>,
    /// Drawn in colour (the model the report is about); the others in grey.
    pub highlight: bool,
}

/// Draws the comparison of `bars` (accuracies as fractions, shown in percent) to a PNG of
/// [`BARS_SIZE`].
pub fn draw_accuracy_bars(path: &Path, title: &str, bars: &[Bar]) -> Result<(), ReportError> {
    if bars.is_empty() {
        return Err(ReportError::Draw {
            path: path.to_path_buf(),
            reason: "no models to compare".into(),
        });
    }
    let n = bars.len() as f64;
    let top = bars
        .iter()
        .flat_map(|b| b.values.iter().copied().chain([b.mean + b.std]))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let y_hi = ((top * 100.0 / 10.0).ceil() * 10.0 + 5.0).clamp(10.0, 105.0);
    render_png(path, BARS_SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, font(26.0))
            .margin(20)
            .margin_right(30)
            .x_label_area_size(50)
            .y_label_area_size(85)
            .build_cartesian_2d(0.0..n, 0.0..y_hi)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("Test accuracy (%)")
            .axis_desc_style(font(20.0))
            .label_style(font(16.0))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .bold_line_style(RGBColor(220, 220, 220))
            .light_line_style(RGBColor(244, 244, 244))
            .max_light_lines(2)
            .draw()?;
        let (right, top) = chart.backend_coord(&(n, y_hi));
        root.draw(&Text::new(
            "bars: mean over seeds, whiskers: ± 1 std, dots: each seed",
            (right - 10, top + 10),
            font(15.0)
                .color(&RGBColor(90, 90, 90))
                .pos(Pos::new(HPos::Right, VPos::Top)),
        ))?;
        for (i, b) in bars.iter().enumerate() {
            let x = i as f64;
            let color = if b.highlight {
                SERIES[0]
            } else {
                RGBColor(150, 150, 150)
            };
            let (mean, std) = (b.mean * 100.0, b.std * 100.0);
            chart.draw_series([Rectangle::new(
                [(x + 0.2, 0.0), (x + 0.8, mean)],
                color.mix(0.85).filled(),
            )])?;
            let whisker = |y: f64| {
                PathElement::new(vec![(x + 0.42, y), (x + 0.58, y)], BLACK.stroke_width(2))
            };
            chart.draw_series([
                PathElement::new(
                    vec![(x + 0.5, mean - std), (x + 0.5, mean + std)],
                    BLACK.stroke_width(2),
                ),
                whisker(mean - std),
                whisker(mean + std),
            ])?;
            let k = b.values.len().max(1) as f64;
            chart.draw_series(b.values.iter().enumerate().map(|(j, v)| {
                let dx = 0.3 + 0.4 * (j as f64 + 0.5) / k;
                Circle::new((x + dx, v * 100.0), 4, BLACK.mix(0.6).filled())
            }))?;
            let (px, py) = chart.backend_coord(&(x + 0.5, 0.0));
            root.draw(&Text::new(
                format!("{mean:.1} %"),
                (px, py - 10),
                font(17.0)
                    .color(&WHITE)
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            ))?;
            root.draw(&Text::new(
                b.name.clone(),
                (px, py + 14),
                font(17.0).pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
        Ok(())
    })
}
