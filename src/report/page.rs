//! The report: draws every figure whose inputs are there, writes `report.md` and `report.html`
//! embedding them with the numbers, and lists what was skipped and why.

use super::bars::{draw_accuracy_bars, Bar};
use super::confusion::{draw_confusion, Confusion};
use super::curves::{draw_curves, history_series, Quantity};
use super::heatmap::{correlation_matrix, draw_correlation, mean_features};
use super::inputs::{Evaluation, ModelDir};
use super::spectrogram::draw_mel_spectrogram;
use super::ReportError;
use crate::table::Record;
use ndarray::Array2;
use plotters::chart::SeriesLabelPosition::{LowerLeft, LowerRight, UpperLeft, UpperRight};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A feature table and where it came from.
#[derive(Debug, Clone)]
pub struct FeatureTable {
    pub path: PathBuf,
    pub records: Vec<Record>,
}

/// The mel spectrogram of one clip, in dB (mel bands × frames).
#[derive(Debug, Clone)]
pub struct MelInput {
    /// File name shown in the title, e.g. `blues.00000.wav`.
    pub file_name: String,
    /// Stem used in the output name `mel_<stem>.png`.
    pub stem: String,
    pub db: Array2<f32>,
    pub sample_rate: u32,
    pub hop: usize,
}

impl MelInput {
    /// Decodes `path` and computes its mel spectrogram in dB
    /// ([`crate::features::mel::melspectrogram_db`]).
    pub fn of_file(path: &Path) -> Result<MelInput, ReportError> {
        let decoded = crate::audio::load(path)?;
        if decoded.samples.is_empty() {
            return Err(ReportError::Invalid {
                path: path.to_path_buf(),
                reason: "no audio samples to draw".into(),
            });
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(MelInput {
            stem: crate::table::stem(&file_name).to_string(),
            file_name,
            db: crate::features::mel::melspectrogram_db(&decoded.samples),
            sample_rate: crate::config::SAMPLE_RATE,
            hop: crate::config::HOP_LENGTH,
        })
    }

    /// Draws it into the PNG `path`, titled with the file name.
    pub fn draw(&self, path: &Path) -> Result<(), ReportError> {
        draw_mel_spectrogram(
            path,
            self.db.view(),
            self.sample_rate,
            self.hop,
            &format!("Mel spectrogram of {}", self.file_name),
        )
    }
}

/// One recommended song.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommended {
    pub song: String,
    pub genre: String,
    pub similarity: f64,
}

/// The top songs for one query song.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendations {
    pub query: String,
    pub genre: String,
    pub similar: Vec<Recommended>,
}

/// Everything the report can use; `None` or empty pieces are skipped with a note.
#[derive(Debug, Clone, Default)]
pub struct ReportInputs {
    pub out_dir: PathBuf,
    pub features: Option<FeatureTable>,
    pub model: Option<ModelDir>,
    pub mel: Option<MelInput>,
    pub recommendations: Vec<Recommendations>,
    /// Pieces the caller already found missing.
    pub notes: Vec<String>,
}

/// What the report wrote, and what it skipped.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub files: Vec<PathBuf>,
    pub notes: Vec<String>,
}

/// A block of the report page, rendered both as Markdown and HTML.
#[derive(Debug, Clone)]
enum Block {
    Heading(u8, String),
    Para(String),
    Image {
        file: String,
        alt: String,
    },
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    List(Vec<String>),
}

/// An accuracy (a fraction in [0, 1]) in percent with one decimal.
pub fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1} %", x * 100.0)
    } else {
        "n/a".into()
    }
}

/// Writes every figure whose inputs are there, then `report.md` and `report.html`, into
/// `inputs.out_dir`.
pub fn write_report(inputs: &ReportInputs) -> Result<Written, ReportError> {
    let out = &inputs.out_dir;
    std::fs::create_dir_all(out).map_err(|e| ReportError::Write {
        path: out.clone(),
        reason: e.to_string(),
    })?;
    let mut written = Written::default();
    let mut notes = inputs.notes.clone();
    let mut doc = vec![Block::Heading(1, "tuneprint report".into())];
    doc.push(Block::Para(intro(inputs)));

    if let Some(mel) = &inputs.mel {
        mel_section(mel, out, &mut doc, &mut written)?;
    }
    if let Some(table) = &inputs.features {
        correlation_section(table, out, &mut doc, &mut written, &mut notes)?;
    }
    // The model: accuracy, baselines, confusion, per-genre scores, curves.
    if let Some(model) = &inputs.model {
        notes.extend(model.notes.iter().cloned());
        model_sections(model, out, &mut doc, &mut written, &mut notes)?;
    }

    recommendation_section(&inputs.recommendations, &mut doc);
    if !notes.is_empty() {
        doc.push(Block::Heading(2, "Skipped".into()));
        doc.push(Block::List(notes.clone()));
    }

    let md_path = out.join("report.md");
    write_text(&md_path, &to_markdown(&doc))?;
    written.files.push(md_path);
    let html_path = out.join("report.html");
    write_text(&html_path, &to_html(&doc))?;
    written.files.push(html_path);
    written.notes = notes;
    Ok(written)
}

fn intro(inputs: &ReportInputs) -> String {
    let mut s = format!("Written by tuneprint {}.", env!("CARGO_PKG_VERSION"));
    if let Some(m) = &inputs.model {
        let _ = write!(s, " Model: `{}`", m.path.display());
        if let Some(info) = &m.info {
            let mut parts = Vec::new();
            if let Some(a) = &info.arch {
                parts.push(format!("architecture `{a}`"));
            }
            if let Some(p) = &info.protocol {
                parts.push(format!("protocol `{p}`"));
            }
            if let Some(e) = &info.epochs_trained {
                parts.push(format!("{e} epochs"));
            }
            if let Some(c) = &info.created_by {
                parts.push(format!("made by {c}"));
            }
            if !parts.is_empty() {
                let _ = write!(s, " ({})", parts.join(", "));
            }
        }
        s.push('.');
    }
    if let Some(t) = &inputs.features {
        let _ = write!(
            s,
            " Features: `{}` ({} songs).",
            t.path.display(),
            t.records.len()
        );
    }
    s
}

/// The `k` pairs with the largest |r| as a table.
fn strongest_pairs(labels: &[String], r: &Array2<f64>, k: usize) -> Block {
    let mut pairs = Vec::new();
    for i in 0..labels.len() {
        for j in (i + 1)..labels.len() {
            if r[[i, j]].is_finite() {
                pairs.push((i, j, r[[i, j]]));
            }
        }
    }
    pairs.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
    Block::Table {
        header: ["feature", "feature", "r"].map(String::from).to_vec(),
        rows: pairs
            .iter()
            .take(k)
            .map(|&(i, j, v)| vec![labels[i].clone(), labels[j].clone(), format!("{v:+.3}")])
            .collect(),
    }
}

/// The mel spectrogram of one clip.
fn mel_section(
    mel: &MelInput,
    out: &Path,
    doc: &mut Vec<Block>,
    written: &mut Written,
) -> Result<(), ReportError> {
    let file = format!("mel_{}.png", mel.stem);
    let path = out.join(&file);
    mel.draw(&path)?;
    written.files.push(path);
    doc.push(Block::Heading(2, "Mel spectrogram".into()));
    doc.push(Block::Para(format!(
        "{} mel bands (Slaney), {} frames of {} samples hop at {} Hz, in dB relative to the \
         loudest cell, 80 dB range.",
        mel.db.nrows(),
        mel.db.ncols(),
        mel.hop,
        mel.sample_rate
    )));
    doc.push(Block::Image {
        file,
        alt: format!("mel spectrogram of {}", mel.file_name),
    });
    Ok(())
}

/// The correlation of the mean features of a table (two songs at least).
fn correlation_section(
    table: &FeatureTable,
    out: &Path,
    doc: &mut Vec<Block>,
    written: &mut Written,
    notes: &mut Vec<String>,
) -> Result<(), ReportError> {
    if table.records.len() < 2 {
        notes.push(format!(
            "{}: {} song(s): too few for correlations; correlation heatmap left out",
            table.path.display(),
            table.records.len()
        ));
    } else {
        let (labels, data) = mean_features(&table.records);
        let r = correlation_matrix(&data);
        let path = out.join("correlation.png");
        draw_correlation(
            &path,
            &labels,
            &r,
            &format!(
                "Correlation of the mean features ({} songs)",
                table.records.len()
            ),
        )?;
        written.files.push(path);
        doc.push(Block::Heading(2, "Feature correlations".into()));
        doc.push(Block::Para(format!(
            "Pearson correlation between {} columns (every mean feature, and tempo) of `{}` \
             ({} songs). The most strongly correlated pairs:",
            labels.len(),
            table.path.display(),
            table.records.len()
        )));
        doc.push(strongest_pairs(&labels, &r, 8));
        doc.push(Block::Image {
            file: "correlation.png".into(),
            alt: "correlation heatmap of the mean features".into(),
        });
    }
    Ok(())
}

/// The songs recommended for each query.
fn recommendation_section(recommendations: &[Recommendations], doc: &mut Vec<Block>) {
    if recommendations.is_empty() {
        return;
    }
    doc.push(Block::Heading(2, "Recommendations".into()));
    doc.push(Block::Para(
        "Top songs by cosine similarity of the CNN embeddings.".into(),
    ));
    for rec in recommendations {
        doc.push(Block::Heading(
            3,
            format!("More like {} ({})", rec.query, rec.genre),
        ));
        doc.push(Block::Table {
            header: ["rank", "song", "genre", "similarity"]
                .map(String::from)
                .to_vec(),
            rows: rec
                .similar
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    vec![
                        (i + 1).to_string(),
                        s.song.clone(),
                        s.genre.clone(),
                        format!("{:.3}", s.similarity),
                    ]
                })
                .collect(),
        });
    }
}

fn model_sections(
    model: &ModelDir,
    out: &Path,
    doc: &mut Vec<Block>,
    written: &mut Written,
    notes: &mut Vec<String>,
) -> Result<(), ReportError> {
    doc.push(Block::Heading(2, "Genre classification".into()));
    accuracy_section(model, doc, notes)?;
    baselines_section(model, out, doc, written)?;
    confusion_section(model, out, doc, written)?;
    per_genre_table(
        model.evaluation.as_ref(),
        model.confusion.as_ref(),
        doc,
        notes,
        &model.path,
    );

    curves_section(model, out, doc, written)?;
    Ok(())
}

/// The test accuracy of each seed, from the evaluation.
fn accuracy_section(
    model: &ModelDir,
    doc: &mut Vec<Block>,
    notes: &mut Vec<String>,
) -> Result<(), ReportError> {
    let eval = model.evaluation.as_ref();
    let model_seeds: Vec<u64> = model
        .info
        .as_ref()
        .map(|i| i.seeds.clone())
        .unwrap_or_default();
    if let Some(ev) = eval {
        doc.push(Block::Heading(3, "Test accuracy over seeds".into()));
        doc.push(Block::Para(format!(
            "CNN{}: mean test accuracy **{}** ± {} (standard deviation over {} runs).",
            Some(ev.protocol.as_str())
                .filter(|p| !p.is_empty())
                .map(|p| format!(" under protocol `{p}`"))
                .unwrap_or_default(),
            pct(ev.mean_accuracy),
            pct(ev.std_accuracy),
            ev.accuracies.len()
        )));
        if let Some(n) = &ev.note {
            doc.push(Block::Para(format!("Note from `train`: {n}")));
        }
        let seeds = if ev.seeds.len() == ev.accuracies.len() {
            &ev.seeds
        } else {
            &model_seeds
        };
        let whole = |v: Option<&usize>| v.map(|e| e.to_string()).unwrap_or_default();
        let rows = ev
            .accuracies
            .iter()
            .enumerate()
            .map(|(i, a)| {
                vec![
                    seeds
                        .get(i)
                        .filter(|_| seeds.len() == ev.accuracies.len())
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| format!("run {}", i + 1)),
                    pct(*a),
                    whole(ev.epochs.get(i)),
                    whole(ev.best_epochs.get(i)),
                ]
            })
            .collect();
        doc.push(Block::Table {
            header: [
                "seed",
                "test accuracy",
                "epochs run",
                "best epoch (weights kept)",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        });
    } else {
        notes.push(format!(
            "{}: no evaluation.json and no metrics in model.json: accuracy summary left out",
            model.path.display()
        ));
    }
    Ok(())
}

/// The baselines against the network, as bars.
fn baselines_section(
    model: &ModelDir,
    out: &Path,
    doc: &mut Vec<Block>,
    written: &mut Written,
) -> Result<(), ReportError> {
    let eval = model.evaluation.as_ref();
    if let Some(b) = &model.baselines {
        doc.push(Block::Heading(3, "Baselines".into()));
        let cnn_protocol = eval.map(|e| e.protocol.clone()).filter(|p| !p.is_empty());
        if let (Some(a), Some(p)) = (&cnn_protocol, &b.protocol) {
            if a != p {
                doc.push(Block::Para(format!(
                    "Warning: the baselines ran under protocol `{p}`, the CNN under `{a}`: \
                     the numbers are not directly comparable."
                )));
            }
        }
        let mut bars = Vec::new();
        let mut rows = Vec::new();
        if let Some(ev) = eval {
            let mut cnn = bar("CNN", ev.mean_accuracy, ev.std_accuracy, &ev.accuracies);
            cnn.highlight = true;
            bars.push(cnn);
        }
        for m in &b.models {
            bars.push(bar(&m.name, m.mean_accuracy, m.std_accuracy, &m.accuracies));
        }
        for bb in &bars {
            rows.push(vec![
                bb.name.clone(),
                pct(bb.mean),
                pct(bb.std),
                bb.values
                    .iter()
                    .map(|v| pct(*v))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]);
        }
        doc.push(Block::Table {
            header: ["model", "mean accuracy", "std", "per seed"]
                .map(String::from)
                .to_vec(),
            rows,
        });
        let path = out.join("baselines.png");
        draw_accuracy_bars(
            &path,
            &format!(
                "Test accuracy by model{}",
                b.protocol
                    .as_deref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            ),
            &bars,
        )?;
        written.files.push(path);
        doc.push(Block::Image {
            file: "baselines.png".into(),
            alt: "test accuracy of the CNN and the baselines".into(),
        });
    }
    Ok(())
}

/// The test confusion matrix.
fn confusion_section(
    model: &ModelDir,
    out: &Path,
    doc: &mut Vec<Block>,
    written: &mut Written,
) -> Result<(), ReportError> {
    if let Some(c) = &model.confusion {
        doc.push(Block::Heading(3, "Confusion matrix".into()));
        let acc = c.accuracy().map(pct).unwrap_or_else(|| "n/a".into());
        let runs = model.runs.iter().filter(|r| r.confusion.is_some()).count();
        let over = if runs > 1 {
            format!(", {runs} seeds summed")
        } else {
            String::new()
        };
        let path = out.join("confusion.png");
        draw_confusion(
            &path,
            c,
            &format!("Test confusion matrix (CNN{over}): accuracy {acc}"),
        )?;
        written.files.push(path);
        doc.push(Block::Para(format!(
            "{} test predictions{over}; {} correct ({acc}). Rows: true genre, columns: \
             predicted genre; colour: share of the true genre.",
            c.total(),
            c.correct()
        )));
        doc.push(Block::Image {
            file: "confusion.png".into(),
            alt: "test confusion matrix".into(),
        });
    }
    Ok(())
}

/// The training curves (accuracy and loss per epoch).
fn curves_section(
    model: &ModelDir,
    out: &Path,
    doc: &mut Vec<Block>,
    written: &mut Written,
) -> Result<(), ReportError> {
    if let Some(h) = &model.history {
        let runs: Vec<(u64, Vec<_>)> = model
            .runs
            .iter()
            .filter_map(|r| r.history.clone().map(|h| (r.seed, h)))
            .collect();
        doc.push(Block::Heading(3, "Training curves".into()));
        let acc_path = out.join("accuracy.png");
        let mut acc_series = history_series(h, &runs, Quantity::Accuracy);
        let acc_hi = acc_series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max);
        // Fractions are shown in percent, like every other accuracy of the report.
        let (acc_label, acc_top) = if acc_hi <= 1.0 {
            for s in &mut acc_series {
                s.points.iter_mut().for_each(|p| p.1 *= 100.0);
            }
            ("Accuracy (%)", 100.0)
        } else {
            ("Accuracy", acc_hi * 1.05)
        };
        draw_curves(
            &acc_path,
            "Accuracy per epoch (CNN)",
            acc_label,
            &acc_series,
            Some((0.0, acc_top)),
            &[LowerRight, UpperLeft, LowerLeft, UpperRight],
        )?;
        let loss_path = out.join("loss.png");
        let loss_series = history_series(h, &runs, Quantity::Loss);
        let loss_hi = loss_series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max);
        draw_curves(
            &loss_path,
            "Loss per epoch (CNN, cross-entropy)",
            "Loss",
            &loss_series,
            Some((0.0, (loss_hi * 1.05).max(1e-3))),
            &[UpperRight, LowerLeft, UpperLeft, LowerRight],
        )?;
        written.files.push(acc_path);
        written.files.push(loss_path);
        let last = h
            .last()
            .expect("read_history never returns an empty history");
        let best = h
            .iter()
            .filter(|e| e.val_accuracy.is_finite())
            .max_by(|a, b| a.val_accuracy.total_cmp(&b.val_accuracy));
        let mut para = format!(
            "Saved model: {} epochs; last epoch training accuracy {}, validation accuracy {}",
            h.len(),
            pct(last.train_accuracy),
            pct(last.val_accuracy)
        );
        if let Some(b) = best {
            let _ = write!(
                para,
                "; best validation accuracy {} at epoch {}",
                pct(b.val_accuracy),
                b.epoch
            );
        }
        para.push('.');
        if !runs.is_empty() {
            let _ = write!(
                para,
                " Faint lines: validation curves of the {} evaluation runs.",
                runs.len()
            );
        }
        doc.push(Block::Para(para));
        doc.push(Block::Image {
            file: "accuracy.png".into(),
            alt: "training and validation accuracy per epoch".into(),
        });
        doc.push(Block::Image {
            file: "loss.png".into(),
            alt: "training and validation loss per epoch".into(),
        });
    }
    Ok(())
}

fn bar(name: &str, mean: f64, std: f64, values: &[f64]) -> Bar {
    Bar {
        name: name.to_string(),
        mean,
        std,
        values: values.to_vec(),
        highlight: false,
    }
}

/// Per-genre precision, recall and F1: from the evaluation, else computed from the confusion
/// matrix. Support comes from the confusion matrix when there is one.
fn per_genre_table(
    eval: Option<&Evaluation>,
    confusion: Option<&Confusion>,
    doc: &mut Vec<Block>,
    notes: &mut Vec<String>,
    model_dir: &Path,
) {
    let from_cm = confusion.map(|c| c.per_class()).unwrap_or_default();
    let support = |g: &str| {
        from_cm
            .iter()
            .find(|s| s.label == g)
            .map(|s| s.support.to_string())
            .unwrap_or_default()
    };
    let f3 = |x: f64| format!("{x:.3}");
    let (rows, source): (Vec<Vec<String>>, &str) = match eval {
        Some(ev) if !ev.per_genre.is_empty() => (
            ev.per_genre
                .iter()
                .map(|(g, s)| {
                    vec![
                        g.clone(),
                        f3(s.precision),
                        f3(s.recall),
                        f3(s.f1),
                        support(g),
                    ]
                })
                .collect(),
            "evaluation.json",
        ),
        _ if !from_cm.is_empty() => (
            from_cm
                .iter()
                .map(|s| {
                    vec![
                        s.label.clone(),
                        f3(s.precision),
                        f3(s.recall),
                        f3(s.f1),
                        s.support.to_string(),
                    ]
                })
                .collect(),
            "confusion.csv",
        ),
        _ => {
            notes.push(format!(
                "{}: no per-genre scores and no confusion matrix: per-genre table left out",
                model_dir.display()
            ));
            return;
        }
    };
    doc.push(Block::Heading(3, "Per-genre scores".into()));
    doc.push(Block::Para(format!(
        "Precision, recall and F1 of each genre over all seeds' test predictions (from `{source}`); \
         support = test songs of the genre."
    )));
    doc.push(Block::Table {
        header: ["genre", "precision", "recall", "F1", "support"]
            .map(String::from)
            .to_vec(),
        rows,
    });
}

fn write_text(path: &Path, text: &str) -> Result<(), ReportError> {
    crate::table::write_atomic(path, text.as_bytes()).map_err(|e| ReportError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn to_markdown(doc: &[Block]) -> String {
    let mut s = String::new();
    for b in doc {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(s, "{} {t}\n", "#".repeat(*level as usize));
            }
            Block::Para(t) => {
                let _ = writeln!(s, "{t}\n");
            }
            Block::Image { file, alt } => {
                let _ = writeln!(s, "![{alt}]({file})\n");
            }
            Block::Table { header, rows } => {
                let numeric = numeric_columns(header.len(), rows);
                let _ = writeln!(
                    s,
                    "| {} |",
                    header
                        .iter()
                        .map(|h| md_cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let rule: Vec<&str> = numeric
                    .iter()
                    .map(|&n| if n { "---:" } else { "---" })
                    .collect();
                let _ = writeln!(s, "| {} |", rule.join(" | "));
                for r in rows {
                    let _ = writeln!(
                        s,
                        "| {} |",
                        r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                    );
                }
                s.push('\n');
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(s, "- {i}");
                }
                s.push('\n');
            }
        }
    }
    s
}

/// Columns whose every non-empty cell starts like a number (right-aligned).
fn numeric_columns(n: usize, rows: &[Vec<String>]) -> Vec<bool> {
    (0..n)
        .map(|c| {
            let mut cells = rows
                .iter()
                .filter_map(|r| r.get(c))
                .filter(|s| !s.is_empty());
            let mut any = false;
            let all = cells.all(|s| {
                any = true;
                s.trim_start_matches(['+', '-'])
                    .starts_with(|ch: char| ch.is_ascii_digit())
            });
            any && all
        })
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escapes text and turns Markdown's `code` and **bold** into HTML.
fn inline_html(s: &str) -> String {
    let mut out = String::new();
    let (mut code, mut bold) = (false, false);
    let e = esc(s);
    let mut rest = e.as_str();
    while let Some(i) = rest.find(['`', '*']) {
        out.push_str(&rest[..i]);
        if rest[i..].starts_with("**") {
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
            rest = &rest[i + 2..];
        } else if rest[i..].starts_with('`') {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest = &rest[i + 1..];
        } else {
            out.push('*');
            rest = &rest[i + 1..];
        }
    }
    out.push_str(rest);
    if code {
        out.push_str("</code>");
    }
    if bold {
        out.push_str("</strong>");
    }
    out
}

fn to_html(doc: &[Block]) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>tuneprint report</title>\n<style>\n\
         body { font-family: 'DejaVu Sans', sans-serif; max-width: 1240px; margin: 2em auto; \
         padding: 0 1em; color: #222; line-height: 1.45; }\n\
         img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0 1.5em; }\n\
         table { border-collapse: collapse; margin: 0.5em 0 1.5em; }\n\
         th, td { border: 1px solid #ccc; padding: 0.25em 0.7em; }\n\
         th { background: #f0f4f8; }\n\
         th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }\n\
         code { background: #f4f4f4; padding: 0 0.2em; }\n\
         </style>\n</head>\n<body>\n",
    );
    for b in doc {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(s, "<h{level}>{}</h{level}>", inline_html(t));
            }
            Block::Para(t) => {
                let _ = writeln!(s, "<p>{}</p>", inline_html(t));
            }
            Block::Image { file, alt } => {
                let _ = writeln!(s, "<p><img src=\"{}\" alt=\"{}\"></p>", esc(file), esc(alt));
            }
            Block::Table { header, rows } => {
                let numeric = numeric_columns(header.len(), rows);
                s.push_str("<table>\n<tr>");
                for (c, h) in header.iter().enumerate() {
                    let class = if numeric.get(c) == Some(&true) {
                        " class=\"num\""
                    } else {
                        ""
                    };
                    let _ = write!(s, "<th{class}>{}</th>", esc(h));
                }
                s.push_str("</tr>\n");
                for r in rows {
                    s.push_str("<tr>");
                    for (c, cell) in r.iter().enumerate() {
                        let class = if numeric.get(c) == Some(&true) {
                            " class=\"num\""
                        } else {
                            ""
                        };
                        let _ = write!(s, "<td{class}>{}</td>", esc(cell));
                    }
                    s.push_str("</tr>\n");
                }
                s.push_str("</table>\n");
            }
            Block::List(items) => {
                s.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(s, "<li>{}</li>", inline_html(i));
                }
                s.push_str("</ul>\n");
            }
        }
    }
    s.push_str("</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_markup() {
        assert_eq!(
            inline_html("a `b<c` **d** e*f"),
            "a <code>b&lt;c</code> <strong>d</strong> e*f"
        );
    }

    #[test]
    fn numeric_detection() {
        let rows = vec![
            vec!["blues".to_string(), "0.5".to_string(), "-1".to_string()],
            vec!["rock".to_string(), "71.0 %".to_string(), String::new()],
        ];
        assert_eq!(numeric_columns(3, &rows), vec![false, true, true]);
    }
}
