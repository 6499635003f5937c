//! `tuneprint decode`: decode audio files as `librosa.load` does and summarise each one.

use super::CliError;
use crate::audio::{self, Decoded};
use crate::config::SAMPLE_RATE;
use rayon::prelude::*;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `tuneprint decode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio files (WAV, AIFF, FLAC, Ogg/Vorbis, MP3, Sun .au).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print a JSON list of objects instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Summary of one decoded file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The path as given.
    pub path: String,
    /// Container of the file (`wav`, `au`, `mp3`, ...).
    pub format: String,
    /// Sample rate of the file (Hz).
    pub source_rate: u32,
    /// Channels of the file.
    pub channels: usize,
    /// Rate of the output (Hz), always [`SAMPLE_RATE`].
    pub sample_rate: u32,
    /// Output samples.
    pub samples: usize,
    /// Duration of the output (s): `samples / sample_rate`.
    pub duration_s: f64,
    /// Largest absolute output sample.
    pub peak: f64,
    /// Root mean square of the output.
    pub rms: f64,
}

impl Summary {
    /// Summarises a decoded file.
    pub fn of(path: &str, d: &Decoded) -> Self {
        let peak = d.samples.iter().fold(0.0f32, |m, &v| m.max(v.abs())).into();
        let sum_sq: f64 = d.samples.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        let n = d.samples.len();
        Self {
            path: path.to_string(),
            format: d.format.clone(),
            source_rate: d.source_rate,
            channels: d.channels,
            sample_rate: SAMPLE_RATE,
            samples: n,
            duration_s: n as f64 / f64::from(SAMPLE_RATE),
            peak,
            rms: if n == 0 {
                0.0
            } else {
                (sum_sq / n as f64).sqrt()
            },
        }
    }
}

/// The summaries as an aligned text table (text columns left-aligned, numbers right-aligned).
fn table(rows: &[Summary]) -> String {
    let header = [
        "path",
        "format",
        "rate",
        "channels",
        "duration_s",
        "samples",
        "peak",
        "rms",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|s| {
            [
                s.path.clone(),
                s.format.clone(),
                s.source_rate.to_string(),
                s.channels.to_string(),
                format!("{:.3}", s.duration_s),
                s.samples.to_string(),
                format!("{:.4}", s.peak),
                format!("{:.4}", s.rms),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: &[&str]| {
        let mut l = String::new();
        for (i, (c, w)) in cols.iter().zip(width).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let pad = " ".repeat(w - c.chars().count());
            if i < 2 {
                l.push_str(c);
                l.push_str(&pad);
            } else {
                l.push_str(&pad);
                l.push_str(c);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &cells {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

/// Runs `tuneprint decode`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let results: Vec<_> = args
        .files
        .par_iter()
        .map(|p| audio::load(p).map(|d| Summary::of(&p.display().to_string(), &d)))
        .collect();
    let mut rows = Vec::new();
    let mut failed = 0usize;
    for r in results {
        match r {
            Ok(s) => rows.push(s),
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let text = serde_json::to_string_pretty(&rows)
            .map_err(|e| CliError::Failed(format!("cannot serialise the summary: {e}")))?;
        writeln!(stdout, "{text}")?;
    } else if !rows.is_empty() {
        write!(stdout, "{}", table(&rows))?;
    }
    stdout.flush()?;
    Ok(super::batch_status(failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_and_table() {
        let d = Decoded {
            samples: vec![0.5, -1.0, 0.0, 0.5],
            format: "wav".into(),
            source_rate: 44_100,
            channels: 2,
        };
        let s = Summary::of("a.wav", &d);
        assert_eq!(s.samples, 4);
        assert_eq!(s.peak, 1.0);
        assert!((s.rms - (1.5f64 / 4.0).sqrt()).abs() < 1e-12);
        assert!((s.duration_s - 4.0 / 22_050.0).abs() < 1e-15);
        let t = table(&[s]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>().join(" "),
            "path format rate channels duration_s samples peak rms"
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["a.wav", "wav", "44100", "2", "0.000", "4", "1.0000", "0.6124"]
        );
        // Numbers end where their headers end.
        assert_eq!(lines[0].len(), lines[1].len());
        assert_eq!(
            lines[0].find("rate").unwrap() + 4,
            lines[1].find("44100").unwrap() + 5
        );
    }
}
