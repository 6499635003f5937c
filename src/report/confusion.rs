//! The test confusion matrix: reading `confusion.csv` (rows = true genre, columns = predicted
//! genre), the scores it implies and its figure.

use super::colors::ColorMap;
use super::heatmap::{draw_matrix, ColorBar, MatrixFigure};
use super::{render_png, ReportError};
use ndarray::Array2;
use std::path::Path;

/// Size (width, height) of `confusion.png` in pixels.
pub const CONFUSION_SIZE: (u32, u32) = (1000, 900);

/// A confusion matrix: `counts[t][p]` songs of true class `labels[t]` predicted as `labels[p]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confusion {
    pub labels: Vec<String>,
    pub counts: Vec<Vec<u64>>,
}

/// Precision, recall and F1 of one class, with its number of true songs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassScores {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

impl Confusion {
    /// Reads a confusion CSV: header `true,<label>,...`, then one row per true label in the same
    /// order as the header, with whole counts.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let text = crate::config::read_text(path).map_err(|e| ReportError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::parse(&text).map_err(|reason| ReportError::Invalid {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses the text of a confusion CSV; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut rows = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| e.to_string())?;
            rows.push(rec.iter().map(str::to_string).collect::<Vec<_>>());
        }
        let Some((header, body)) = rows.split_first() else {
            return Err("empty confusion matrix file (no header)".into());
        };
        if header.first().map(|s| s.as_str()) != Some("true") || header.len() < 2 {
            return Err(format!(
                "header must be `true,<genre>,...`, found `{}`",
                header.join(",")
            ));
        }
        let labels: Vec<String> = header[1..].to_vec();
        if body.len() != labels.len() {
            return Err(format!(
                "{} rows for {} predicted genres: the matrix must be square",
                body.len(),
                labels.len()
            ));
        }
        let mut counts = Vec::with_capacity(body.len());
        for (i, row) in body.iter().enumerate() {
            if row.first() != Some(&labels[i]) {
                return Err(format!(
                    "row {}: true genre `{}` where the header order expects `{}`",
                    i + 1,
                    row.first().map(String::as_str).unwrap_or(""),
                    labels[i]
                ));
            }
            if row.len() != labels.len() + 1 {
                return Err(format!(
                    "row {} (`{}`): {} counts, expected {}",
                    i + 1,
                    labels[i],
                    row.len() - 1,
                    labels.len()
                ));
            }
            let mut line = Vec::with_capacity(labels.len());
            for (j, cell) in row[1..].iter().enumerate() {
                let v: u64 = cell.parse().map_err(|_| {
                    format!(
                        "row {} (`{}`), column `{}`: `{cell}` is not a whole count",
                        i + 1,
                        labels[i],
                        labels[j]
                    )
                })?;
                line.push(v);
            }
            counts.push(line);
        }
        Ok(Confusion { labels, counts })
    }

    /// Number of songs in the matrix.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Number of songs on the diagonal.
    pub fn correct(&self) -> u64 {
        (0..self.counts.len()).map(|i| self.counts[i][i]).sum()
    }

    /// Share of songs on the diagonal; `None` for an empty matrix.
    pub fn accuracy(&self) -> Option<f64> {
        let t = self.total();
        (t > 0).then(|| self.correct() as f64 / t as f64)
    }

    /// Precision, recall and F1 of every class (0 where undefined, as scikit-learn reports).
    pub fn per_class(&self) -> Vec<ClassScores> {
        let n = self.labels.len();
        (0..n)
            .map(|k| {
                let tp = self.counts[k][k] as f64;
                let support: u64 = self.counts[k].iter().sum();
                let predicted: u64 = (0..n).map(|t| self.counts[t][k]).sum();
                let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
                let precision = ratio(tp, predicted as f64);
                let recall = ratio(tp, support as f64);
                let f1 = ratio(2.0 * precision * recall, precision + recall);
                ClassScores {
                    label: self.labels[k].clone(),
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect()
    }
}

/// Draws the confusion matrix with the counts in the cells, coloured by the share of each true
/// genre, to a PNG of [`CONFUSION_SIZE`].
pub fn draw_confusion(path: &Path, m: &Confusion, title: &str) -> Result<(), ReportError> {
    let n = m.labels.len();
    if n == 0 || m.counts.len() != n || m.counts.iter().any(|r| r.len() != n) {
        return Err(ReportError::Draw {
            path: path.to_path_buf(),
            reason: format!("confusion matrix is not square over {n} labels"),
        });
    }
    let shade = Array2::from_shape_fn((n, n), |(t, p)| {
        let row: u64 = m.counts[t].iter().sum();
        if row == 0 {
            0.0
        } else {
            m.counts[t][p] as f64 / row as f64
        }
    });
    let text = Array2::from_shape_fn((n, n), |(t, p)| m.counts[t][p].to_string());
    let fig = MatrixFigure {
        title,
        row_labels: &m.labels,
        col_labels: &m.labels,
        row_axis: "True genre",
        col_axis: "Predicted genre",
        shade,
        text: Some(text),
        cmap: ColorMap::Blues,
        bar: ColorBar {
            min: 0.0,
            max: 100.0,
            ticks: vec![0.0, 25.0, 50.0, 75.0, 100.0],
            label: "Share of the true genre (%)".into(),
            format: |v| format!("{v:.0}"),
        },
    };
    render_png(path, CONFUSION_SIZE, |root| draw_matrix(root, &fig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_scores() {
        let m = Confusion::parse("true,a,b\na,3,1\nb,0,4\n").unwrap();
        assert_eq!(m.counts, vec![vec![3, 1], vec![0, 4]]);
        assert_eq!(m.total(), 8);
        assert_eq!(m.accuracy(), Some(7.0 / 8.0));
        let s = m.per_class();
        assert_eq!(s[0].precision, 1.0);
        assert_eq!(s[0].recall, 0.75);
        assert!((s[0].f1 - 6.0 / 7.0).abs() < 1e-12);
        assert_eq!(s[1].precision, 0.8);
        assert_eq!(s[1].support, 4);
    }

    #[test]
    fn parse_errors_say_where() {
        let e = Confusion::parse("true,a,b\na,3,x\nb,0,4\n").unwrap_err();
        assert!(e.contains("row 1") && e.contains("`x`"), "{e}");
        let e = Confusion::parse("true,a,b\nb,3,1\na,0,4\n").unwrap_err();
        assert!(e.contains("expects `a`"), "{e}");
        let e = Confusion::parse("true,a,b\na,3,1\n").unwrap_err();
        assert!(e.contains("square"), "{e}");
        let e = Confusion::parse("genre,a\na,1\n").unwrap_err();
        assert!(e.contains("header"), "{e}");
        assert_eq!(
            Confusion::parse("").unwrap_err(),
            "empty confusion matrix file (no header)"
        );
    }
}
