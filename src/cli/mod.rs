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
pub mod recommend_eval;
pub mod report;
pub mod serve;
pub mod spectrogram;
pub mod train;

use clap::{Parser, Subcommand};
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
    /// Train the paper's CNN on a features CSV and save the model.
    Train(train::Args),
    /// Classic baselines (linfa) on the same splits as `train`.
    Baselines(baselines::Args),
    /// Predict the genre of songs from raw audio.
    Classify(classify::Args),
    /// Save the CNN embedding of every song of a features CSV.
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

/// Exit status of a batch: success when nothing failed, 1 otherwise.
pub fn batch_status(failed: usize) -> ExitCode {
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs one subcommand; the exit code says whether everything succeeded.
pub fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Decode(a) => decode::run(&a),
        Command::Extract(a) => extract::run(&a),
        Command::Check(a) => check::run(&a),
        Command::Train(a) => train::run(&a),
        Command::Baselines(a) => baselines::run(&a),
        Command::Classify(a) => classify::run(&a),
        Command::Embed(a) => embed::run(&a),
        Command::Recommend(a) => recommend::run(&a),
        Command::Spectrogram(a) => spectrogram::run(&a),
        Command::Report(a) => report::run(&a),
        Command::Serve(a) => serve::run(&a),
        Command::Library(a) => library::run(&a),
        Command::Playlist(a) => playlist::run(&a),
    }
}
