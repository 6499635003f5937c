//! Batch extraction: files and folders → decoded audio → features → table rows, in parallel.
//!
//! One bad file never stops a batch: every file yields its own `Result`, in input order.

use crate::config::{AUDIO_EXTENSIONS, GENRES, SAMPLE_RATE};
use crate::features;
use crate::table::Record;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Errors of batch extraction; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    #[error("{path}: {source}")]
    Feature {
        path: PathBuf,
        source: crate::features::FeatureError,
    },
    #[error("{path}: cannot read: {reason}")]
    Walk { path: PathBuf, reason: String },
    #[error("cannot start {jobs} worker threads: {reason}")]
    Threads { jobs: usize, reason: String },
}

/// Whether a path has one of the audio extensions that folder walks pick up.
pub fn is_audio_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

/// Expands files and folders (recursively, audio extensions only) into a sorted, de-duplicated
/// list of files. Paths named explicitly are kept whatever their extension (they fail later if
/// they are not audio); a path that does not exist or a folder that cannot be read is an error.
pub fn collect_inputs(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<ExtractError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files, &mut errors);
        } else {
            // Missing paths and non-files fail in decoding with the right message.
            files.push(p.clone());
        }
    }
    files.sort();
    files.dedup();
    (files, errors)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<ExtractError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(ExtractError::Walk {
                path: dir.to_path_buf(),
                reason: e.to_string(),
            });
            return;
        }
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, files, errors);
        } else if is_audio_path(&p) {
            files.push(p);
        }
    }
}

/// The genre label of a file: its parent folder's name when that is a GTZAN genre, else the
/// file name's prefix before the first `.` when that is a genre, else empty.
pub fn label_for(path: &Path) -> String {
    let is_genre = |s: &str| GENRES.contains(&s);
    if let Some(parent) = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
    {
        if is_genre(parent) {
            return parent.to_string();
        }
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let prefix = name.split('.').next().unwrap_or("");
    if is_genre(prefix) {
        prefix.to_string()
    } else {
        String::new()
    }
}

/// Splits `n` samples into analysis windows of `window` samples: a signal no longer than one
/// window is used whole; otherwise consecutive full windows, plus the shorter tail when it holds
/// at least `min_tail` samples.
pub fn windows(n: usize, window: usize, min_tail: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    if window == 0 || n <= window {
        out.push(0..n);
        return out;
    }
    let mut start = 0;
    while start + window <= n {
        out.push(start..start + window);
        start += window;
    }
    if n - start >= min_tail && n > start {
        out.push(start..n);
    }
    out
}

/// Seconds of the shortest tail that still counts as its own window.
pub const MIN_TAIL_SECONDS: f64 = 10.0;

/// How to cut songs into rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Window length in seconds; `None` = one row per song.
    pub window_seconds: Option<f64>,
}

/// Rows of one file: one per song, or one per window (`<stem>.<k>.<ext>`), the windows computed
/// in parallel on the current rayon pool. The file is decoded once.
pub fn extract_file(path: &Path, opts: &Options) -> Result<Vec<Record>, ExtractError> {
    let decoded = crate::audio::load(path)?;
    let y = decoded.samples;
    let filename = file_name(path);
    let label = label_for(path);
    match opts.window_seconds {
        None => Ok(vec![song_record(path, &filename, &label, &y)?]),
        Some(sec) => Ok(window_records(path, &filename, &label, &y, sec, None)?
            .into_iter()
            .map(|(_, r)| r)
            .collect()),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn feature_error(path: &Path) -> impl Fn(crate::features::FeatureError) -> ExtractError + '_ {
    move |source| ExtractError::Feature {
        path: path.to_path_buf(),
        source,
    }
}

/// The one row of a whole file, as `extract` writes it.
fn song_record(
    path: &Path,
    filename: &str,
    label: &str,
    y: &[f32],
) -> Result<Record, ExtractError> {
    Ok(Record {
        filename: filename.to_string(),
        length: y.len() as u64,
        features: features::compute(y).map_err(feature_error(path))?,
        label: label.to_string(),
    })
}

/// The window rows of a file with each window's first sample, as `extract --window SEC` writes
/// them. `whole` is the whole-file row when already computed: a file no longer than one window
/// is one window over every sample, whose features are the whole file's.
fn window_records(
    path: &Path,
    filename: &str,
    label: &str,
    y: &[f32],
    sec: f64,
    whole: Option<&Record>,
) -> Result<Vec<(usize, Record)>, ExtractError> {
    let sr = SAMPLE_RATE as f64;
    let w = (sec * sr).round() as usize;
    let min_tail = (MIN_TAIL_SECONDS.min(sec) * sr).round() as usize;
    let (stem, ext) = match filename.rfind('.') {
        Some(i) if i > 0 => (&filename[..i], &filename[i..]),
        _ => (filename, ""),
    };
    let ranges = windows(y.len(), w, min_tail);
    // Windows are independent: they share the worker threads with the other files
    // (one long song cut into windows keeps every thread busy).
    ranges
        .into_par_iter()
        .enumerate()
        .map(|(k, r)| {
            let features = match whole {
                Some(s) if r.start == 0 && r.end == y.len() => s.features,
                _ => features::compute(&y[r.clone()]).map_err(feature_error(path))?,
            };
            Ok((
                r.start,
                Record {
                    filename: format!("{stem}.{k}{ext}"),
                    length: r.len() as u64,
                    features,
                    label: label.to_string(),
                },
            ))
        })
        .collect()
}

/// Everything the library keeps of one file, from one decode.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Container/codec name, e.g. `"wav"`, `"mp3"`.
    pub format: String,
    /// Sample rate of the file (Hz).
    pub source_rate: u32,
    /// Channels of the file.
    pub channels: usize,
    /// The row `extract` writes for the file (the recipe over the whole file).
    pub song: Record,
    /// The rows `extract --window SEC` writes for it, each with its window's first sample (at
    /// [`SAMPLE_RATE`]).
    pub windows: Vec<(usize, Record)>,
}

/// Decodes a file once and computes both its whole-file row and its window rows, exactly as
/// `extract` and `extract --window window_seconds` compute them (the two in parallel on the
/// current rayon pool).
pub fn analyse_file(path: &Path, window_seconds: f64) -> Result<Analysis, ExtractError> {
    let decoded = crate::audio::load(path)?;
    let y = &decoded.samples;
    let filename = file_name(path);
    let label = label_for(path);
    let sr = SAMPLE_RATE as f64;
    let single = y.len() <= (window_seconds * sr).round() as usize;
    let (song, windows) = if single {
        let song = song_record(path, &filename, &label, y)?;
        let windows = window_records(path, &filename, &label, y, window_seconds, Some(&song))?;
        (song, windows)
    } else {
        let (song, windows) = rayon::join(
            || song_record(path, &filename, &label, y),
            || window_records(path, &filename, &label, y, window_seconds, None),
        );
        (song?, windows?)
    };
    Ok(Analysis {
        format: decoded.format,
        source_rate: decoded.source_rate,
        channels: decoded.channels,
        song,
        windows,
    })
}

/// A progress bar on stderr (drawn only when stderr is a terminal).
pub fn progress_bar(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} ({{per_sec}}, eta {{eta}}) {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

/// Runs `f` over `items` on `jobs` threads (0 = all cores), ticking `pb`; results in input order.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    pb: &ProgressBar,
    f: impl Fn(&T) -> R + Sync + Send,
) -> Result<Vec<R>, ExtractError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| ExtractError::Threads {
            jobs,
            reason: e.to_string(),
        })?;
    Ok(pool.install(|| {
        items
            .par_iter()
            .map(|it| {
                let r = f(it);
                pb.inc(1);
                r
            })
            .collect()
    }))
}

/// Extracts every file on `jobs` threads; per-file results in the order of `files`.
pub fn extract_all(
    files: &[PathBuf],
    opts: &Options,
    jobs: usize,
    pb: &ProgressBar,
) -> Result<Vec<Result<Vec<Record>, ExtractError>>, ExtractError> {
    par_map(files, jobs, pb, |p| extract_file(p, opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: usize = SAMPLE_RATE as usize;

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // one window is a real expected value here
    fn window_boundaries() {
        let w = 30 * SR;
        let tail = 10 * SR;
        // 29 s: used whole.
        assert_eq!(windows(29 * SR, w, tail), [0..29 * SR]);
        // 30 s: exactly one window.
        assert_eq!(windows(30 * SR, w, tail), [0..30 * SR]);
        // 45 s: one window plus a 15 s tail.
        assert_eq!(windows(45 * SR, w, tail), vec![0..w, w..45 * SR]);
        // 70 s: two windows plus a 10 s tail (exactly the minimum counts).
        assert_eq!(
            windows(70 * SR, w, tail),
            vec![0..w, w..2 * w, 2 * w..70 * SR]
        );
        // 69 s: the 9 s tail is dropped.
        assert_eq!(windows(69 * SR, w, tail), vec![0..w, w..2 * w]);
        assert_eq!(windows(0, w, tail), [0..0]);
    }

    #[test]
    fn labels() {
        assert_eq!(label_for(Path::new("x/rock/song.mp3")), "rock");
        assert_eq!(label_for(Path::new("audio/jazz.00000.wav")), "jazz");
        assert_eq!(label_for(Path::new("music/blues/jazz.1.wav")), "blues");
        assert_eq!(label_for(Path::new("music/mysong.wav")), "");
        assert_eq!(label_for(Path::new("Rock/x.wav")), "");
    }

    #[test]
    fn audio_paths() {
        assert!(is_audio_path(Path::new("a/b.WAV")));
        assert!(is_audio_path(Path::new("a.au")));
        assert!(!is_audio_path(Path::new("a.txt")));
        assert!(!is_audio_path(Path::new("noext")));
    }
}
