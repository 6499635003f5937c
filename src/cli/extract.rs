//! `tuneprint extract`: the 57 GTZAN features of songs into a CSV.

use super::CliError;
use crate::extract::{self, Options};
use crate::table;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `tuneprint extract`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio files and folders (folders are walked recursively for audio files).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output CSV (written atomically).
    #[arg(short, long, default_value = "features/extracted.csv")]
    pub output: PathBuf,
    /// Worker threads (0 = one per core). Songs run side by side; a song of 95 s or more
    /// also has its features computed in parts of at least 47 s, on threads no other song needs.
    #[arg(short, long, default_value_t = 0)]
    pub jobs: usize,
    /// Cut songs into windows of this many seconds, one row each (`<stem>.<k>.<ext>`); a shorter
    /// tail of at least 10 s counts as a window, a song shorter than one window is used whole.
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub window: Option<f64>,
    /// Print a JSON summary on stdout instead of the text one.
    #[arg(long)]
    pub json: bool,
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 1.0 => Ok(v),
        _ => Err(format!("`{s}` is not a window length of at least 1 second")),
    }
}

/// Runs `tuneprint extract`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let opts = Options {
        window_seconds: args.window,
    };
    let bars = super::Bars::default();
    let started = std::time::Instant::now();
    let ctl = extract::Control {
        progress: Some(&bars),
        stage: "extracting",
        cancel: None,
    };
    // Songs are told apart by path: a file name shared by several files becomes the path
    // relative to the scanned folder.
    let done = extract::extract_paths(&args.paths, &opts, args.jobs, ctl)?;
    let seconds = started.elapsed().as_secs_f64();
    for e in &done.walk_errors {
        eprintln!("error: {e}");
    }
    if done.files.is_empty() {
        return Err(CliError::Failed(format!(
            "no audio files found in {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut failures = Vec::new();
    for (path, e) in &done.failed {
        eprintln!("error: {e}");
        failures.push((path.display().to_string(), e.to_string()));
    }
    let (files, rows, walk_errors) = (done.files, done.rows, done.walk_errors);
    let n_failed = failures.len() + walk_errors.len();
    let ok_files = files.len() - failures.len();
    if !rows.is_empty() {
        table::write_csv(&args.output, &rows)?;
    }
    if args.json {
        let out = json!({
            "output": if rows.is_empty() { None } else { Some(args.output.display().to_string()) },
            "files": files.len(),
            "extracted": ok_files,
            "rows": rows.len(),
            "failed": failures.iter().map(|(f, e)| json!({"file": f, "error": e})).collect::<Vec<_>>(),
            "seconds": seconds,
        });
        println!("{out}");
    } else {
        let target = if rows.is_empty() {
            "nothing written".to_string()
        } else {
            format!("{} rows → {}", rows.len(), args.output.display())
        };
        println!(
            "extracted {ok_files} of {} files in {seconds:.2} s ({n_failed} failed): {target}",
            files.len()
        );
    }
    Ok(super::batch_status(n_failed))
}
