//! Batch extraction: files and folders → decoded audio → features → table rows, in parallel.
//!
//! One bad file never stops a batch: every file yields its own `Result`, in input order.

use crate::config::{
    AUDIO_EXTENSIONS, GENRES, SAMPLE_RATE, STREAM_MIN_BYTES_UNKNOWN_LENGTH, STREAM_MIN_SECONDS,
    STREAM_MIN_SECONDS_ENV,
};
use crate::features::{self, Tape, STREAM_PART_FRAMES};
use crate::table::Record;
use rayon::prelude::*;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

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
    #[error("{path}: {reason}")]
    Scratch { path: PathBuf, reason: String },
    #[error("cannot start {jobs} worker threads: {reason}")]
    Threads { jobs: usize, reason: String },
    /// The batch was stopped from outside ([`Control::cancel`]).
    #[error("cancelled")]
    Cancelled,
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
    if streams(path) {
        let s = analyse_streamed(path, opts.window_seconds.is_none(), opts.window_seconds)?;
        return Ok(s
            .song
            .into_iter()
            .chain(s.windows.into_iter().map(|(_, r)| r))
            .collect());
    }
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
    let ranges = window_ranges(y.len(), sec);
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
            Ok((r.start, window_record(filename, label, k, &r, features)))
        })
        .collect()
}

/// The windows of `sec` seconds of a signal of `n` samples, as `extract --window` cuts it.
fn window_ranges(n: usize, sec: f64) -> Vec<Range<usize>> {
    let sr = SAMPLE_RATE as f64;
    let w = (sec * sr).round() as usize;
    let min_tail = (MIN_TAIL_SECONDS.min(sec) * sr).round() as usize;
    windows(n, w, min_tail)
}

/// The row of window `k` (samples `r`) of the file `filename`: named `<stem>.<k>.<ext>`.
fn window_record(
    filename: &str,
    label: &str,
    k: usize,
    r: &Range<usize>,
    features: features::FeatureVector,
) -> Record {
    let (stem, ext) = match filename.rfind('.') {
        Some(i) if i > 0 => (&filename[..i], &filename[i..]),
        _ => (filename, ""),
    };
    Record {
        filename: format!("{stem}.{k}{ext}"),
        length: r.len() as u64,
        features,
        label: label.to_string(),
    }
}

/// Whether `path` is long enough to be decoded and analysed as a stream (see
/// [`STREAM_MIN_SECONDS`]; [`STREAM_MIN_SECONDS_ENV`] overrides it), or, when its headers do not
/// tell its length, large enough ([`STREAM_MIN_BYTES_UNKNOWN_LENGTH`]).
fn streams(path: &Path) -> bool {
    let min = std::env::var(STREAM_MIN_SECONDS_ENV)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(STREAM_MIN_SECONDS);
    match crate::audio::duration_hint(path) {
        Some(seconds) => seconds >= min,
        None => {
            min <= 0.0
                || std::fs::metadata(path)
                    .is_ok_and(|m| m.is_file() && m.len() >= STREAM_MIN_BYTES_UNKNOWN_LENGTH)
        }
    }
}

/// A [`Tape`] in an unnamed scratch file of the temporary folder (gone with it).
struct ScratchTape {
    file: std::fs::File,
    len: usize,
    bytes: Vec<u8>,
}

impl ScratchTape {
    fn new() -> Result<Self, String> {
        let file = tempfile::tempfile().map_err(|e| {
            format!(
                "cannot make a scratch file in {}: {e}",
                std::env::temp_dir().display()
            )
        })?;
        Ok(ScratchTape {
            file,
            len: 0,
            bytes: Vec::new(),
        })
    }

    fn io_error(e: std::io::Error) -> String {
        format!("scratch file in {}: {e}", std::env::temp_dir().display())
    }
}

impl Tape for ScratchTape {
    fn push(&mut self, x: &[f32]) -> Result<(), String> {
        self.bytes.clear();
        self.bytes.extend(x.iter().flat_map(|v| v.to_le_bytes()));
        self.file
            .seek(SeekFrom::End(0))
            .and_then(|_| self.file.write_all(&self.bytes))
            .map_err(Self::io_error)?;
        self.len += x.len();
        Ok(())
    }

    fn read(&mut self, start: usize, out: &mut [f32]) -> Result<(), String> {
        self.bytes.resize(4 * out.len(), 0);
        self.file
            .seek(SeekFrom::Start(4 * start as u64))
            .and_then(|_| self.file.read_exact(&mut self.bytes))
            .map_err(Self::io_error)?;
        for (o, b) in out.iter_mut().zip(self.bytes.chunks_exact(4)) {
            *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// Samples `start..start + len` of another tape, read-only: a window of a long signal analysed
/// as a stream of its own.
struct TapeWindow<'a> {
    tape: &'a mut dyn Tape,
    start: usize,
    len: usize,
}

impl Tape for TapeWindow<'_> {
    fn push(&mut self, _: &[f32]) -> Result<(), String> {
        Err("a window of a tape is read-only".into())
    }
    fn read(&mut self, start: usize, out: &mut [f32]) -> Result<(), String> {
        self.tape.read(self.start + start, out)
    }
    fn len(&self) -> usize {
        self.len
    }
}

/// What [`analyse_streamed`] gives.
struct StreamedRows {
    info: crate::audio::Streamed,
    song: Option<Record>,
    windows: Vec<(usize, Record)>,
}

/// A long file decoded and analysed as a stream, in bounded memory (the signal and the long
/// arrays of its analysis in scratch files): its whole-file row when `song`, and its window
/// rows of `window` seconds when given: the rows [`extract_file`] and [`analyse_file`] compute
/// for shorter files, bit for bit.
fn analyse_streamed(
    path: &Path,
    song: bool,
    window: Option<f64>,
) -> Result<StreamedRows, ExtractError> {
    let scratch = |reason: String| ExtractError::Scratch {
        path: path.to_path_buf(),
        reason,
    };
    let mut y = ScratchTape::new().map_err(scratch)?;
    let info = crate::audio::stream(path, &mut |x| y.push(x))?;
    let new_tape = &|| -> Result<Box<dyn Tape>, String> { Ok(Box::new(ScratchTape::new()?)) };
    let filename = file_name(path);
    let label = label_for(path);
    let whole = if song {
        let features = features::compute_stream(&mut y, new_tape, STREAM_PART_FRAMES)
            .map_err(feature_error(path))?;
        Some(Record {
            filename: filename.clone(),
            length: y.len() as u64,
            features,
            label: label.clone(),
        })
    } else {
        None
    };
    let mut rows = Vec::new();
    if let Some(sec) = window {
        let n = y.len();
        let ranges: Vec<(usize, Range<usize>)> =
            window_ranges(n, sec).into_iter().enumerate().collect();
        // Windows up to the streaming length are read and analysed a few at a time, side by
        // side; longer ones as streams of their own.
        let long = (STREAM_MIN_SECONDS * SAMPLE_RATE as f64) as usize;
        let batch = 2 * rayon::current_num_threads().max(1);
        for group in ranges.chunks(batch) {
            let mut read = Vec::new();
            for (k, r) in group {
                // Features known without the window's samples in memory: the whole file's, or
                // a long window's, streamed.
                let known = match &whole {
                    Some(s) if r.start == 0 && r.end == n => Some(s.features),
                    _ if r.len() > long => {
                        let mut w = TapeWindow {
                            tape: &mut y,
                            start: r.start,
                            len: r.len(),
                        };
                        Some(
                            features::compute_stream(&mut w, new_tape, STREAM_PART_FRAMES)
                                .map_err(feature_error(path))?,
                        )
                    }
                    _ => None,
                };
                let mut x = Vec::new();
                if known.is_none() {
                    x = vec![0.0f32; r.len()];
                    y.read(r.start, &mut x)
                        .map_err(|e| feature_error(path)(features::FeatureError::Tape(e)))?;
                }
                read.push((*k, r.clone(), known, x));
            }
            let done: Vec<(usize, Record)> = read
                .into_par_iter()
                .map(|(k, r, f, x)| {
                    let f = match f {
                        Some(f) => f,
                        None => features::compute(&x).map_err(feature_error(path))?,
                    };
                    Ok((r.start, window_record(&filename, &label, k, &r, f)))
                })
                .collect::<Result<_, ExtractError>>()?;
            rows.extend(done);
        }
    }
    Ok(StreamedRows {
        info,
        song: whole,
        windows: rows,
    })
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
    if streams(path) {
        let s = analyse_streamed(path, true, Some(window_seconds))?;
        return Ok(Analysis {
            format: s.info.format,
            source_rate: s.info.source_rate,
            channels: s.info.channels,
            song: s.song.expect("the whole-file row was asked for"),
            windows: s.windows,
        });
    }
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

/// What long work reports as it goes: the command line draws it on stderr (the lower layers
/// never print). Every method does nothing unless implemented.
pub trait Progress: Sync {
    /// A stage of `total` items begins, e.g. `("analysing", 120)`.
    fn begin(&self, _what: &str, _total: usize) {}
    /// `n` more items of the stage are done.
    fn advance(&self, _n: usize) {}
    /// The stage is over.
    fn end(&self) {}
    /// A line for the person waiting (e.g. that another scan holds the library).
    fn note(&self, _line: &str) {}
}

/// How a batch reports its progress and is stopped from outside (the Python package stops on
/// Ctrl-C with `cancel`).
#[derive(Clone, Copy, Default)]
pub struct Control<'a> {
    /// Where the batch reports, under the name `stage`.
    pub progress: Option<&'a dyn Progress>,
    /// The name of the batch's stage, e.g. `"extracting"`.
    pub stage: &'a str,
    /// Checked before each item: once set, the items not yet started are left out and the batch
    /// ends with [`ExtractError::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
}

impl Control<'_> {
    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// Runs `f` over `items` on `jobs` threads (0 = all cores); results in input order.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    ctl: Control<'_>,
    f: impl Fn(&T) -> R + Sync + Send,
) -> Result<Vec<R>, ExtractError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| ExtractError::Threads {
            jobs,
            reason: e.to_string(),
        })?;
    if let Some(p) = ctl.progress {
        p.begin(ctl.stage, items.len());
    }
    let out: Vec<Option<R>> = pool.install(|| {
        items
            .par_iter()
            .map(|it| {
                if ctl.cancelled() {
                    return None;
                }
                let r = f(it);
                if let Some(p) = ctl.progress {
                    p.advance(1);
                }
                Some(r)
            })
            .collect()
    });
    if let Some(p) = ctl.progress {
        p.end();
    }
    if ctl.cancelled() {
        return Err(ExtractError::Cancelled);
    }
    Ok(out.into_iter().flatten().collect())
}

/// Extracts every file on `jobs` threads; per-file results in the order of `files`.
pub fn extract_all(
    files: &[PathBuf],
    opts: &Options,
    jobs: usize,
    ctl: Control<'_>,
) -> Result<Vec<Result<Vec<Record>, ExtractError>>, ExtractError> {
    par_map(files, jobs, ctl, |p| extract_file(p, opts))
}

/// What [`extract_paths`] and [`extract_named`] made of their inputs.
#[derive(Debug, Default)]
pub struct Extracted {
    /// The files found (sorted), each once.
    pub files: Vec<PathBuf>,
    /// The rows of every file that worked, in file order, named as in the table.
    pub rows: Vec<Record>,
    /// The files that failed, each with its error.
    pub failed: Vec<(PathBuf, ExtractError)>,
    /// Paths that could not be walked.
    pub walk_errors: Vec<ExtractError>,
}

/// The rows of a table of `paths` (files and folders), as `tuneprint extract` writes them:
/// [`collect_inputs`], names by [`table_names`], then [`extract_named`].
pub fn extract_paths(
    paths: &[PathBuf],
    opts: &Options,
    jobs: usize,
    ctl: Control<'_>,
) -> Result<Extracted, ExtractError> {
    let (files, walk_errors) = collect_inputs(paths);
    let names = table_names(paths, &files);
    let mut out = extract_named(&files, &names, opts, jobs, ctl)?;
    out.walk_errors = walk_errors;
    Ok(out)
}

/// The rows of `files`, the rows of each named `names[i]` (see [`rename_rows`]), extracted on
/// `jobs` threads; a file that fails is listed with its error and the others carry on.
pub fn extract_named(
    files: &[PathBuf],
    names: &[String],
    opts: &Options,
    jobs: usize,
    ctl: Control<'_>,
) -> Result<Extracted, ExtractError> {
    let results = extract_all(files, opts, jobs, ctl)?;
    let mut out = Extracted {
        files: files.to_vec(),
        ..Extracted::default()
    };
    for ((path, name), r) in files.iter().zip(names).zip(results) {
        match r {
            Ok(mut recs) => {
                rename_rows(&mut recs, name);
                out.rows.append(&mut recs);
            }
            Err(e) => out.failed.push((path.clone(), e)),
        }
    }
    Ok(out)
}

/// The row `extract` writes for a whole file named `name` whose samples (mono, at
/// [`SAMPLE_RATE`]) are `y`; its label comes from the name as [`label_for`] reads it.
pub fn record_of(name: &str, y: &[f32]) -> Result<Record, ExtractError> {
    let path = Path::new(name);
    song_record(path, &file_name(path), &label_for(path), y)
}

/// A path with `/` between its parts, whatever the platform.
fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The `filename` of each of `files` (as [`collect_inputs`] found them from `inputs`) in a
/// table: the file name where it is unique among the files, else the path relative to the
/// scanned folder it was found in (`a/01 Intro.wav`), else (the same relative path under two
/// scanned folders, or files named one by one) the path as found (`top/a/01 Intro.wav`).
/// Parts are joined with `/`. Songs are thus told apart by path, and [`crate::table::stem`]
/// (the file name without extension) still matches GTZAN stems.
pub fn table_names(inputs: &[PathBuf], files: &[PathBuf]) -> Vec<String> {
    use std::collections::HashMap;
    fn counts(names: &[String]) -> HashMap<&str, usize> {
        let mut c: HashMap<&str, usize> = HashMap::new();
        for n in names {
            *c.entry(n.as_str()).or_default() += 1;
        }
        c
    }
    let bases: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| slash_path(f))
        })
        .collect();
    let relative: Vec<String> = files
        .iter()
        .map(|f| {
            // The deepest scanned folder that holds the file.
            let root = inputs
                .iter()
                .filter(|d| f.starts_with(d) && d.is_dir())
                .max_by_key(|d| d.components().count());
            match root.and_then(|d| f.strip_prefix(d).ok()) {
                Some(rel) => slash_path(rel),
                None => slash_path(f),
            }
        })
        .collect();
    let (base_n, rel_n) = (counts(&bases), counts(&relative));
    (0..files.len())
        .map(|i| {
            if base_n[bases[i].as_str()] == 1 {
                bases[i].clone()
            } else if rel_n[relative[i].as_str()] == 1 {
                relative[i].clone()
            } else {
                slash_path(&files[i])
            }
        })
        .collect()
}

/// Renames the rows [`extract_file`] made of one file (named by its file name) to `name`, a
/// path ending in that file name (see [`table_names`]): `x.wav` becomes `a/x.wav`, a window
/// row `x.0.wav` becomes `a/x.0.wav`.
pub fn rename_rows(rows: &mut [Record], name: &str) {
    let folder = match name.rfind('/') {
        Some(i) => &name[..=i],
        None => return,
    };
    for r in rows {
        r.filename = format!("{folder}{}", r.filename);
    }
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
    fn names_unique_by_file_name_else_by_relative_path() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("top");
        for d in ["a", "b", "c"] {
            std::fs::create_dir_all(top.join(d)).unwrap();
        }
        let p = |s: &str| top.join(s);
        let files = vec![
            p("a/01 Intro.wav"),
            p("a/x.wav"),
            p("b/01 Intro.wav"),
            p("c/y.wav"),
        ];
        assert_eq!(
            table_names(std::slice::from_ref(&top), &files),
            ["a/01 Intro.wav", "x.wav", "b/01 Intro.wav", "y.wav"]
        );
        // Two scanned folders with the same relative path: the path as found.
        let files = vec![p("a/01 Intro.wav"), p("b/01 Intro.wav")];
        let names = table_names(&[p("a"), p("b")], &files);
        assert_eq!(names[0], slash_path(&files[0]));
        assert!(names[0].ends_with("top/a/01 Intro.wav"), "{names:?}");
        assert!(names[1].ends_with("top/b/01 Intro.wav"), "{names:?}");

        let row = |f: &str| Record {
            filename: f.into(),
            length: 1,
            features: [0.0; crate::features::N_FEATURES],
            label: String::new(),
        };
        let mut rows = vec![row("01 Intro.0.wav"), row("01 Intro.1.wav")];
        rename_rows(&mut rows, "a/b/01 Intro.wav");
        assert_eq!(rows[0].filename, "a/b/01 Intro.0.wav");
        assert_eq!(rows[1].filename, "a/b/01 Intro.1.wav");
        let mut rows = vec![row("x.wav")];
        rename_rows(&mut rows, "x.wav");
        assert_eq!(rows[0].filename, "x.wav");
    }

    #[test]
    fn audio_paths() {
        assert!(is_audio_path(Path::new("a/b.WAV")));
        assert!(is_audio_path(Path::new("a.au")));
        assert!(!is_audio_path(Path::new("a.txt")));
        assert!(!is_audio_path(Path::new("noext")));
    }
}
