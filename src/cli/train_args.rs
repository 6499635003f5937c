//! Arguments of `tuneprint train` (the command runs in `tuneprint-torch`: see `cli::train`).

use crate::config::{FEATURES_CSV, MAX_EPOCHS};
use crate::model::dataset::Protocol;
use std::path::PathBuf;

/// The features table and the split protocol, as `train` and `baselines` take them.
#[derive(Debug, clap::Args)]
pub struct TableArgs {
    /// Features table (the 57 GTZAN columns plus filename and label) [default: the built-in
    /// reference table].
    #[arg(long, default_value = FEATURES_CSV)]
    pub features: PathBuf,
    /// Evaluation protocol: `holdout` (honest: early stopping on 15% of the training part),
    /// `paper` (the test set also drives early stopping: optimistic) or `filtered` (the fixed
    /// artist-filtered split: train, valid for early stopping, test once). `baselines` fits on
    /// the songs `train` fits on (the 70% of `holdout` and `paper`, train + valid of `filtered`).
    #[arg(long, value_enum, default_value_t = Protocol::Holdout)]
    pub protocol: Protocol,
    /// File of filename stems to leave out of everything (one per line, `#` comments).
    #[arg(long, value_name = "FILE")]
    pub exclude: Option<PathBuf>,
    /// Folder of the split lists of `--protocol filtered` (fault_filtered_{train,valid,test}.txt);
    /// default: `splits/` beside the features table, else the crate's `features/splits/`.
    #[arg(long, value_name = "DIR")]
    pub splits: Option<PathBuf>,
}

/// Arguments of `tuneprint train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub table: TableArgs,
    /// Number of evaluation runs (seeds S, S+1, ...); 0 only trains the saved model.
    #[arg(long, default_value_t = 10)]
    pub seeds: usize,
    /// First seed (also the seed of the saved model).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Classifier: `blend` (the default: shrunk LDA and an MLP averaged on log-variance
    /// features, calibrated; chosen on artist-disjoint validation songs), `paper` (the paper's
    /// CNN, unchanged) or `strong` (an ensemble of MLPs on log-variance features).
    #[arg(long, value_enum, default_value_t = crate::model::Arch::default())]
    pub arch: crate::model::Arch,
    /// Settings of `--arch strong` as a JSON object overriding the defaults (e.g.
    /// `{"members": 3, "input_noise": 0.1}`), for selection experiments on validation data.
    #[arg(long, value_name = "JSON")]
    pub strong_spec: Option<String>,
    /// Settings of the default `blend` as a JSON object overriding the defaults (e.g.
    /// `{"members": 1, "calibration": "cross-fit"}`), for selection experiments on validation
    /// data.
    #[arg(long, value_name = "JSON")]
    pub blend_spec: Option<String>,
    /// Train on the songs of a library database (`tuneprint library scan`) with their genre
    /// tags as labels: the user's own genres, any number of them; songs without a genre tag are
    /// left out. `model.json` records the label set. Holdout or paper protocol.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["features", "splits"])]
    pub db: Option<PathBuf>,
    /// Model directory to write.
    /// [default: $TUNEPRINT_HOME/models/default, where the other commands look]
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Upper bound on the epochs of each training (early stopping usually ends sooner).
    #[arg(long, default_value_t = MAX_EPOCHS as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_epochs: u64,
    /// CPU threads for libtorch (0 = one per core). One is fastest for these small batches,
    /// above all on a busy machine.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print the evaluation as JSON on stdout (what `evaluation.json` holds).
    #[arg(long)]
    pub json: bool,
}
