//! The subcommands: argument definitions (clap) and what each one does.
//!
//! Each subcommand lives in its own module with an `Args` struct and a `run` function.
//! Results go to stdout (`--json` for machines); progress and per-file errors go to stderr.

pub mod baselines;
pub mod check;
pub mod classify;
pub mod decode;
pub mod embed;
pub mod extract;
pub mod library;
pub mod playlist;
pub mod recommend;
pub mod report;
pub mod serve;
pub mod spectrogram;
pub mod train_args;
pub mod values;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;

/// tuneprint: songs to GTZAN features, genre predictions and "more like this".
#[derive(Debug, Parser)]
#[command(name = "tuneprint", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode audio files as librosa.load does and summarise them.
    Decode(decode::Args),
    /// Extract the 57 GTZAN features of songs into a CSV.
    Extract(extract::Args),
    /// Compare a features CSV with the reference, column by column.
    Check(check::Args),
    /// Train a genre classifier (the default blend; `--arch paper`: the paper's CNN) and save
    /// it (needs tuneprint-torch).
    Train(train_args::Args),
    /// Classic baselines (linfa) on the same splits as `train`.
    Baselines(baselines::Args),
    /// Predict the genre of songs from raw audio.
    Classify(classify::Args),
    /// Save the embedding of every song of a features CSV (the model's own layer: `combined`
    /// for the default blend).
    Embed(embed::Args),
    /// Songs most like a query song, by cosine similarity of embeddings.
    Recommend(recommend::Args),
    /// Draw the mel spectrogram of one song.
    Spectrogram(spectrogram::Args),
    /// Write the figures and the report page.
    Report(report::Args),
    /// Browse, play and explore the library in a web browser (HTTP server on this machine).
    Serve(serve::Args),
    /// The song library (SQLite): scan folders, status, list, show, export, merge.
    Library(library::Args),
    /// A playlist from the library: each song the nearest unused one to the song before.
    Playlist(playlist::Args),
}

/// Errors of the command layer: any lower layer's error, or a command-level failure.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    #[error(transparent)]
    Feature(#[from] crate::features::FeatureError),
    #[error(transparent)]
    Table(#[from] crate::table::TableError),
    #[error(transparent)]
    Extract(#[from] crate::extract::ExtractError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Recommend(#[from] crate::recommend::RecommendError),
    #[error(transparent)]
    Library(#[from] crate::library::LibraryError),
    /// A failure the command itself reports.
    #[error("{0}")]
    Failed(String),
    /// Writing results to stdout failed.
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
}

pub use crate::model::predict::{load_model, model_dir};

/// The folder `train` and `baselines` write: `-o DIR` when given, else
/// [`crate::config::default_model_dir`].
pub fn output_dir(explicit: Option<&std::path::Path>) -> std::path::PathBuf {
    explicit
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(crate::config::default_model_dir)
}

/// The one-line message of an error: its own text, then each cause in turn that the line does
/// not already hold (an error that prints its cause and also names it as its source, as a
/// wrapped SQLite error does, is shown once).
pub fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

/// Exit status of a batch: success when nothing failed, 1 otherwise.
pub fn batch_status(failed: usize) -> ExitCode {
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Name of the executable that runs the commands needing libtorch (training), installed beside
/// `tuneprint`.
pub const TORCH_EXE: &str = "tuneprint-torch";

/// Whether a command trains a network and so needs libtorch: `train` and `recommend
/// --evaluate`. `tuneprint` hands these to [`TORCH_EXE`]; everything else runs without libtorch.
pub fn needs_torch(command: &Command) -> bool {
    match command {
        Command::Train(_) => true,
        Command::Recommend(a) => a.evaluate,
        _ => false,
    }
}

/// Runs a subcommand that needs no libtorch (what `tuneprint` does itself). Code reachable from
/// here never calls into tch, and `tuneprint` is built without the `torch` feature, so it does
/// not link libtorch at all.
pub fn run_native(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Decode(a) => decode::run(&a),
        Command::Extract(a) => extract::run(&a),
        Command::Check(a) => check::run(&a),
        Command::Baselines(a) => baselines::run(&a),
        Command::Classify(a) => classify::run(&a),
        Command::Embed(a) => embed::run(&a),
        Command::Recommend(a) if !a.evaluate => recommend::run(&a),
        Command::Spectrogram(a) => spectrogram::run(&a),
        Command::Report(a) => report::run(&a),
        Command::Serve(a) => serve::run(&a),
        Command::Library(a) => library::run(&a),
        Command::Playlist(a) => playlist::run(&a),
        Command::Train(_) | Command::Recommend(_) => Err(CliError::Failed(format!(
            "this command trains a network: run it through `{TORCH_EXE}` (`tuneprint` starts it)"
        ))),
    }
}

/// The path of [`TORCH_EXE`]: beside the running executable.
pub fn torch_exe() -> Result<std::path::PathBuf, CliError> {
    let me = std::env::current_exe()
        .map_err(|e| CliError::Failed(format!("cannot locate the running executable: {e}")))?;
    Ok(me.with_file_name(TORCH_EXE))
}

/// Starts [`TORCH_EXE`] with this process's arguments (replacing this process on Unix, so the
/// standard streams, signals and exit status are its own); returns only on failure, with a
/// one-line error naming the missing file.
pub fn delegate_to_torch() -> Result<ExitCode, CliError> {
    let exe = torch_exe()?;
    let missing = |e: std::io::Error| {
        CliError::Failed(format!(
            "{}: cannot start it ({e}); this command trains a network and needs {TORCH_EXE} \
             beside tuneprint (scripts/setup.sh builds it; or install it with `cargo install \
             --path torch`)",
            exe.display()
        ))
    };
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(std::env::args_os().skip(1));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        Err(missing(cmd.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status().map_err(missing)?;
        Ok(ExitCode::from(
            status.code().unwrap_or(2).clamp(0, 255) as u8
        ))
    }
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

/// The command line's [`crate::extract::Progress`]: one progress bar per stage on stderr
/// (drawn only when stderr is a terminal); notes printed above it.
#[derive(Default)]
pub struct Bars {
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn bar(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl crate::extract::Progress for Bars {
    fn begin(&self, what: &str, total: usize) {
        if let Some(old) = self.bar().replace(progress_bar(total, what)) {
            old.finish_and_clear();
        }
    }
    fn advance(&self, n: usize) {
        if let Some(b) = self.bar().as_ref() {
            b.inc(n as u64);
        }
    }
    fn end(&self) {
        if let Some(b) = self.bar().take() {
            b.finish_and_clear();
        }
    }
    fn note(&self, line: &str) {
        match self.bar().as_ref() {
            Some(b) => b.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}
