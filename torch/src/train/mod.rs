//! Training: the evaluation runs of each architecture over several seeds (one seed loop,
//! [`common::seed_loop`]), the saved model and every file of the model directory. The
//! architectures: the paper's CNN ([`paper`]), the strong ensemble ([`strong`]) and the default
//! blend ([`blend`]).

pub mod blend;
pub mod common;
pub mod paper;
pub mod strong;

pub use common::{
    history_csv, summarise, weights_of, Confusion, DevData, EpochStats, RunResult, TrainConfig,
};
pub use paper::{evaluate_seed, fit, predict_indices, Fitted};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tuneprint::model::dataset::{final_split, split, Dataset, Protocol};
pub use tuneprint::model::evaluation::{mean_std, Evaluation, GenreScores};
use tuneprint::model::{Arch, Classifier, Layer, ModelError, ModelInfo};
use tuneprint::table::write_atomic;

/// What `train` does, all of it.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The features table; with `own_labels` given, only the name of their source (a library).
    pub features: PathBuf,
    /// Songs to train on instead of reading `features`, with their own label set (any genres:
    /// a library's genre tags; songs without a label left out; see
    /// [`Dataset::from_any_labels`]). `None`: the GTZAN table at `features`.
    pub own_labels: Option<Vec<tuneprint::table::Record>>,
    pub protocol: Protocol,
    /// Number of evaluation runs (seeds `seed`, `seed + 1`, ...); 0 skips evaluation.
    pub seeds: usize,
    /// First seed; also the seed of the saved model.
    pub seed: u64,
    /// Stems removed from the table before anything else.
    pub exclude: Vec<String>,
    /// Folder of the split lists under [`Protocol::Filtered`] (`None`: found by
    /// [`tuneprint::model::dataset::FixedSplit::locate`]).
    pub splits: Option<PathBuf>,
    /// Which classifier to train.
    pub arch: tuneprint::model::Arch,
    /// Settings of `--arch strong` (`None`: [`crate::strong::StrongSpec::default`]).
    pub strong: Option<crate::strong::StrongSpec>,
    /// Settings of the default `blend` arch (`None`: [`tuneprint::model::blend::BlendSpec::default`]).
    pub blend: Option<tuneprint::model::blend::BlendSpec>,
    /// Model directory to write.
    pub out_dir: PathBuf,
    pub config: TrainConfig,
}

/// Progress of [`run`], for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Evaluation run `index` of `total` (seed `seed`) starts.
    RunStart {
        index: usize,
        total: usize,
        seed: u64,
    },
    /// An epoch of the current training ended.
    Epoch(EpochStats),
    /// An evaluation run ended.
    RunDone { seed: u64, accuracy: f64 },
    /// The saved model's training starts.
    FinalStart,
}

/// The outcome of [`run`].
pub struct TrainSummary {
    pub evaluation: Evaluation,
    pub runs: Vec<RunResult>,
    pub model: Classifier,
    pub out_dir: PathBuf,
    /// Songs used after exclusion, and stems excluded.
    pub n_songs: usize,
    pub excluded: Vec<String>,
}

/// Reads the table, runs the evaluation seeds, trains the saved model on every remaining song
/// (15% of them for early stopping) and writes the model directory.
pub fn run(
    opts: &TrainOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<TrainSummary, ModelError> {
    let data = match &opts.own_labels {
        Some(rows) => Dataset::from_any_labels(rows.clone(), &opts.exclude, &opts.features)?,
        None => Dataset::load_for(
            &opts.features,
            &opts.exclude,
            opts.protocol,
            opts.splits.as_deref(),
        )?,
    };
    if data.is_empty() {
        return Err(ModelError::Data(format!(
            "{}: no songs left to train on",
            opts.features.display()
        )));
    }
    let seeds: Vec<u64> = (0..opts.seeds as u64)
        .map(|k| opts.seed.wrapping_add(k))
        .collect();
    if opts.arch == tuneprint::model::Arch::Strong {
        return run_strong(opts, &data, &seeds, progress);
    }
    if opts.arch == tuneprint::model::Arch::Blend {
        return run_blend(opts, &data, &seeds, progress);
    }
    let (runs, _) = seed_loop(
        seeds.as_slice(),
        &opts.features,
        progress,
        |seed, on_epoch| {
            Ok((
                evaluate_seed(&data, opts.protocol, seed, &opts.config, on_epoch)?,
                (),
            ))
        },
    )?;
    let evaluation = summarise(opts.protocol, &runs);

    progress(Progress::FinalStart);
    let (train_idx, val_idx) = saved_model_split(&data, opts.protocol, opts.seed);
    let fitted = fit(
        &data,
        &train_idx,
        &val_idx,
        opts.seed,
        &opts.config,
        &mut |e| progress(Progress::Epoch(*e)),
    )
    .map_err(|e| e.in_table(&opts.features))?;
    let info = SavedRun {
        opts,
        data: &data,
        seeds: &seeds,
        train_idx: &train_idx,
        val_idx: &val_idx,
    }
    .info(
        fitted.paper_info(opts.protocol, opts.seed),
        &evaluation,
        &runs,
    );
    let history = fitted.history.clone();
    let model = Classifier::from_weights(info, weights_of(&fitted.vs))?;
    save(opts, &data, model, &history, evaluation, runs)
}

/// What `train --db` trains on, and how.
pub struct LibraryTraining {
    /// The library's songs (one row each, as `extract` computes it), labelled with their genre
    /// tags (empty for an untagged song, which is left out).
    pub songs: Vec<tuneprint::table::Record>,
    /// The architecture trained.
    pub arch: Arch,
    /// What the person training should know (how many songs are tagged; an architecture
    /// changed).
    pub notes: Vec<String>,
}

/// The songs of the library `db` to train on, and the architecture: the blend's LDA and MLP are
/// built for GTZAN's ten genres, so a library's own label set trains the strong ensemble unless
/// `paper` asks for the CNN. The filtered protocol's split lists name GTZAN songs: refused.
pub fn from_library(
    db: &Path,
    protocol: Protocol,
    arch: Arch,
) -> Result<LibraryTraining, ModelError> {
    if protocol == Protocol::Filtered {
        return Err(ModelError::Data(
            "--db: the filtered protocol's split lists name GTZAN songs; use --protocol \
             holdout or paper"
                .into(),
        ));
    }
    let songs = tuneprint::library::Library::open_existing(Some(db))
        .and_then(|lib| lib.tagged_records())
        .map_err(|e| ModelError::Data(e.to_string()))?;
    let tagged = songs.iter().filter(|r| !r.label.is_empty()).count();
    let mut notes = vec![format!(
        "{tagged} of {} songs have a genre tag",
        songs.len()
    )];
    let arch = if arch == Arch::Blend {
        notes.push("the blend is fixed to GTZAN's genres; training --arch strong".into());
        Arch::Strong
    } else {
        arch
    };
    Ok(LibraryTraining { songs, arch, notes })
}

/// The evaluation runs of an architecture, one per seed: `evaluate` runs one seed (reporting
/// each epoch to the callback it is given) and returns its result and what else the
/// architecture records of it; each run's start and end go to `progress`.
fn seed_loop<X>(
    seeds: &[u64],
    features: &Path,
    progress: &mut dyn FnMut(Progress),
    mut evaluate: impl FnMut(u64, &mut dyn FnMut(&EpochStats)) -> Result<(RunResult, X), ModelError>,
) -> Result<(Vec<RunResult>, Vec<X>), ModelError> {
    let (mut runs, mut extra) = (Vec::new(), Vec::new());
    for (index, &seed) in seeds.iter().enumerate() {
        progress(Progress::RunStart {
            index,
            total: seeds.len(),
            seed,
        });
        let (r, x) = evaluate(seed, &mut |e| progress(Progress::Epoch(*e)))
            .map_err(|e| e.in_table(features))?;
        progress(Progress::RunDone {
            seed,
            accuracy: r.accuracy,
        });
        runs.push(r);
        extra.push(x);
    }
    Ok((runs, extra))
}

/// What a saved model records of the command that trained it.
struct SavedRun<'a> {
    opts: &'a TrainOptions,
    data: &'a Dataset,
    seeds: &'a [u64],
    train_idx: &'a [usize],
    val_idx: &'a [usize],
}

impl SavedRun<'_> {
    /// `base` (the network's own info) completed with the run: seeds, songs, metrics.
    fn info(&self, base: ModelInfo, evaluation: &Evaluation, runs: &[RunResult]) -> ModelInfo {
        ModelInfo {
            seeds: self.seeds.to_vec(),
            n_train: self.train_idx.len(),
            n_val: self.val_idx.len(),
            features_csv: self.opts.features.display().to_string(),
            genres: self.data.genres.clone(),
            excluded: self.data.excluded.clone(),
            trained_on: stems_of(self.data, self.train_idx, self.val_idx),
            metrics: if runs.is_empty() {
                None
            } else {
                Some(evaluation.clone())
            },
            ..base
        }
    }
}

/// Writes the model directory and sums the command up.
fn save(
    opts: &TrainOptions,
    data: &Dataset,
    model: Classifier,
    history: &[EpochStats],
    evaluation: Evaluation,
    runs: Vec<RunResult>,
) -> Result<TrainSummary, ModelError> {
    write_model_dir(&opts.out_dir, &model, history, &evaluation, &runs)?;
    Ok(TrainSummary {
        evaluation,
        runs,
        model,
        out_dir: opts.out_dir.clone(),
        n_songs: data.len(),
        excluded: data.excluded.clone(),
    })
}

/// [`run`] for `--arch strong`.
fn run_strong(
    opts: &TrainOptions,
    data: &Dataset,
    seeds: &[u64],
    progress: &mut dyn FnMut(Progress),
) -> Result<TrainSummary, ModelError> {
    use crate::train::strong;
    let spec = opts.strong.clone().unwrap_or_default();
    let (runs, vals) = seed_loop(seeds, &opts.features, progress, |seed, on_epoch| {
        strong::evaluate_seed(
            data,
            opts.protocol,
            seed,
            &spec,
            &opts.config,
            on_epoch,
            &mut |_| {},
        )
    })?;
    let mut evaluation = summarise(opts.protocol, &runs);
    evaluation.arch = strong::ARCH.into();
    evaluation.val_accuracies = vals;

    progress(Progress::FinalStart);
    let (train_idx, val_idx) = saved_model_split(data, opts.protocol, opts.seed);
    let dev = DevData::new(data, &train_idx, &val_idx);
    let fitted = strong::fit(&dev, opts.seed, &spec, &opts.config, &mut |e| {
        progress(Progress::Epoch(*e))
    })
    .map_err(|e| e.in_table(&opts.features))?;
    let history = fitted.histories.first().cloned().unwrap_or_default();
    let base = ModelInfo {
        epochs_trained: history.len(),
        best_epoch: fitted.best_epochs.first().copied().unwrap_or(0),
        ..ModelInfo::new(strong::ARCH, opts.protocol, opts.seed)
    };
    let info = SavedRun {
        opts,
        data,
        seeds,
        train_idx: &train_idx,
        val_idx: &val_idx,
    }
    .info(base, &evaluation, &runs);
    let model = fitted.into_classifier(info)?;
    save(opts, data, model, &history, evaluation, runs)
}

/// [`run`] for the default `blend` arch: the evaluation seeds of `--protocol`, then the same
/// seeds on the other protocol (holdout ↔ artist-filtered; skipped with a note when the split
/// lists do not cover the table), then the saved model: fitted on the training part, tempered on
/// the validation part, refit on both (`spec.refit`).
fn run_blend(
    opts: &TrainOptions,
    data: &Dataset,
    seeds: &[u64],
    progress: &mut dyn FnMut(Progress),
) -> Result<TrainSummary, ModelError> {
    use crate::train::blend as blend_train;
    use tuneprint::model::evaluation::BlendFigures;
    let spec = opts.blend.clone().unwrap_or_default();
    let protocol_runs = |data: &Dataset,
                         protocol: Protocol,
                         progress: &mut dyn FnMut(Progress)|
     -> Result<
        (
            Vec<RunResult>,
            Vec<tuneprint::model::evaluation::CalibratedRun>,
        ),
        ModelError,
    > {
        seed_loop(seeds, &opts.features, progress, |seed, on_epoch| {
            blend_train::evaluate_seed(
                data,
                protocol,
                seed,
                &spec,
                &opts.config,
                on_epoch,
                &mut |_| {},
            )
        })
    };
    let (runs, cal) = protocol_runs(data, opts.protocol, progress)?;
    let mut evaluation = summarise(opts.protocol, &runs);
    evaluation.arch = tuneprint::model::blend::ARCH.into();
    evaluation.val_accuracies = cal.iter().map(|c| c.validation.val_accuracy).collect();
    let test_size = runs.first().map_or(0, |r| r.test_size);
    let main = tuneprint::model::evaluation::summarise_runs(opts.protocol.name(), &cal, test_size);
    let other = match opts.protocol {
        Protocol::Filtered => Protocol::Holdout,
        _ => Protocol::Filtered,
    };
    let mut figures = BlendFigures {
        filtered: None,
        holdout: None,
        note: None,
    };
    if !seeds.is_empty() {
        let other_data =
            Dataset::load_for(&opts.features, &opts.exclude, other, opts.splits.as_deref())
                .and_then(|d| {
                    if d.len() < 100 {
                        Err(ModelError::Data(format!("only {} songs", d.len())))
                    } else {
                        Ok(d)
                    }
                });
        match other_data {
            Ok(d) => {
                let (r, c) = protocol_runs(&d, other, progress)?;
                let size = r.first().map_or(0, |r| r.test_size);
                let f = tuneprint::model::evaluation::summarise_runs(other.name(), &c, size);
                match other {
                    Protocol::Filtered => figures.filtered = Some(f),
                    _ => figures.holdout = Some(f),
                }
            }
            Err(e) => figures.note = Some(format!("no {} figures: {e}", other.name())),
        }
        match opts.protocol {
            Protocol::Filtered => figures.filtered = Some(main),
            _ => figures.holdout = Some(main),
        }
        evaluation.blend = Some(figures);
    }

    progress(Progress::FinalStart);
    let (train_idx, val_idx) = saved_model_split(data, opts.protocol, opts.seed);
    let dev = DevData::new(data, &train_idx, &val_idx);
    // With a refit, the saved MLP is the refit's, the last one fitted: its epochs are kept.
    let mut history = blend_train::MlpHistory::default();
    let fitted = blend_train::fit(&dev, opts.seed, &spec, &opts.config, spec.refit, &mut |e| {
        history.push(e);
        progress(Progress::Epoch(*e))
    })
    .map_err(|e| e.in_table(&opts.features))?;
    let base = ModelInfo {
        epochs_trained: fitted.epochs,
        best_epoch: fitted.epochs,
        blend: Some(blend_train::info_of(
            &fitted,
            &spec,
            spec.refit,
            train_idx.len(),
            val_idx.len(),
        )),
        embedding: Some(Layer::Combined),
        ..ModelInfo::new(tuneprint::model::blend::ARCH, opts.protocol, opts.seed)
    };
    let info = SavedRun {
        opts,
        data,
        seeds,
        train_idx: &train_idx,
        val_idx: &val_idx,
    }
    .info(base, &evaluation, &runs);
    let info = ModelInfo {
        scaler_mean: fitted.scaler.mean.clone(),
        scaler_std: fitted.scaler.std.clone(),
        ..info
    };
    let model = Classifier::from_weights(info, fitted.net.weights())?;
    save(opts, data, model, &history.epochs, evaluation, runs)
}

/// The songs the saved model is fitted on and stopped early with: under the seeded protocols
/// every song ([`final_split`]); under [`Protocol::Filtered`] the train and valid lists (the test
/// list is never seen).
pub fn saved_model_split(
    data: &Dataset,
    protocol: Protocol,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    if protocol == Protocol::Filtered {
        let s = split(data, protocol, seed);
        (s.train, s.val)
    } else {
        final_split(data, seed)
    }
}

/// The sorted stems of the songs `a` and `b`.
pub fn stems_of(data: &Dataset, a: &[usize], b: &[usize]) -> Vec<String> {
    let mut v: Vec<String> = a.iter().chain(b).map(|&i| data.stems[i].clone()).collect();
    v.sort();
    v
}

fn json_text<T: Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

/// Writes the model (weights + `model.json`), `history.csv`, and, when there were evaluation
/// runs, `evaluation.json`, `confusion.csv` and `runs/seed-<S>/{history,confusion}.csv`.
/// `runs/seed-*` folders of earlier trainings that this one did not produce are removed.
pub fn write_model_dir(
    dir: &Path,
    model: &Classifier,
    history: &[EpochStats],
    evaluation: &Evaluation,
    runs: &[RunResult],
) -> Result<(), ModelError> {
    model.save(dir)?;
    // A model without epochs writes no history; one left by an earlier training is removed, so
    // that the directory describes this model.
    write_history(&dir.join("history.csv"), history)?;
    if runs.is_empty() {
        return Ok(());
    }
    write_atomic(
        &dir.join("evaluation.json"),
        json_text(evaluation).as_bytes(),
    )?;
    let mut total = Confusion::default();
    for r in runs {
        total.add(&r.confusion);
        let rd = dir.join("runs").join(format!("seed-{}", r.seed));
        std::fs::create_dir_all(&rd).map_err(|e| ModelError::Write {
            path: rd.clone(),
            reason: e.to_string(),
        })?;
        write_history(&rd.join("history.csv"), &r.history)?;
        write_atomic(&rd.join("confusion.csv"), r.confusion.to_csv().as_bytes())?;
    }
    write_atomic(&dir.join("confusion.csv"), total.to_csv().as_bytes())?;
    remove_stale_runs(&dir.join("runs"), runs);
    Ok(())
}

/// Writes `history.csv`, or removes it when there are no epochs.
fn write_history(path: &Path, history: &[EpochStats]) -> Result<(), ModelError> {
    if history.is_empty() {
        let _ = std::fs::remove_file(path);
        Ok(())
    } else {
        Ok(write_atomic(path, history_csv(history).as_bytes())?)
    }
}

fn remove_stale_runs(runs_dir: &Path, runs: &[RunResult]) {
    let Ok(entries) = std::fs::read_dir(runs_dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(seed) = name
            .strip_prefix("seed-")
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if runs.iter().any(|r| r.seed == seed) {
            continue;
        }
        let p = e.path();
        for f in ["history.csv", "confusion.csv"] {
            let _ = std::fs::remove_file(p.join(f));
        }
        let _ = std::fs::remove_dir(&p);
    }
}

/// `evaluation.json` text, as `train --json` prints it.
pub fn evaluation_json(e: &Evaluation) -> String {
    json_text(e)
}
