//! Training the CNN: Adam, mini-batches, cross-entropy, early stopping on validation accuracy
//! with best-weight restore; evaluation runs over several seeds; the saved model and every
//! file of the model directory.

use crate::cnn::{input_tensor, Cnn, ARCH};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tuneprint::config::{BATCH_SIZE, LEARNING_RATE, MAX_EPOCHS, PATIENCE};
use tuneprint::model::dataset::{final_split, split, Dataset, Protocol, Scaler};
pub use tuneprint::model::evaluation::{mean_std, Evaluation, GenreScores};
use tuneprint::model::native::{Tensor32, Weights};
use tuneprint::model::{Classifier, Layer, ModelError, ModelInfo};
use tuneprint::table::write_atomic;

/// Hyper-parameters of one training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    pub learning_rate: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    pub patience: usize,
    pub device: Device,
}

impl Default for TrainConfig {
    /// The paper's settings, on CUDA when available.
    fn default() -> Self {
        TrainConfig {
            learning_rate: LEARNING_RATE,
            batch_size: BATCH_SIZE,
            max_epochs: MAX_EPOCHS,
            patience: PATIENCE,
            device: crate::device(),
        }
    }
}

/// One line of `history.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// Counted from 1.
    pub epoch: usize,
    /// Mean cross-entropy over the epoch's mini-batches (training mode, dropout on).
    pub train_loss: f64,
    /// Fraction of training songs classified right during the epoch (training mode).
    pub train_accuracy: f64,
    /// Cross-entropy on the validation set (eval mode).
    pub val_loss: f64,
    /// Accuracy on the validation set (eval mode).
    pub val_accuracy: f64,
}

/// A trained network with its scaler.
pub struct Fitted {
    pub vs: nn::VarStore,
    pub cnn: Cnn,
    pub scaler: Scaler,
    /// Every epoch run.
    pub history: Vec<EpochStats>,
    /// Epoch whose weights were kept (best validation accuracy, first one on ties).
    pub best_epoch: usize,
}

/// Seed of the weight-init / shuffle / dropout stream of a run (distinct from the split's).
fn train_rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15)
}

fn labels_tensor(data: &Dataset, idx: &[usize], device: Device) -> Tensor {
    let y: Vec<i64> = idx.iter().map(|&i| data.labels[i] as i64).collect();
    Tensor::from_slice(&y).to_device(device)
}

fn inputs(data: &Dataset, idx: &[usize], scaler: &Scaler, device: Device) -> Tensor {
    let rows: Vec<_> = idx.iter().map(|&i| data.features[i]).collect();
    input_tensor(&scaler.transform_f32(&rows), device)
}

/// Logits of `x` in eval mode (no gradients), in chunks.
pub(crate) fn eval_logits(cnn: &Cnn, x: &Tensor) -> Tensor {
    tch::no_grad(|| {
        let n = x.size()[0];
        let chunks: Vec<Tensor> = (0..n)
            .step_by(1024)
            .map(|s| {
                let len = (n - s).min(1024);
                cnn.forward(&x.narrow(0, s, len), false, None).logits
            })
            .collect();
        if chunks.is_empty() {
            Tensor::zeros([0, crate::cnn::N_CLASSES], (Kind::Float, x.device()))
        } else {
            Tensor::cat(&chunks, 0)
        }
    })
}

fn snapshot(vs: &nn::VarStore) -> BTreeMap<String, Tensor> {
    tch::no_grad(|| {
        vs.variables()
            .into_iter()
            .map(|(k, v)| (k, v.detach().copy()))
            .collect()
    })
}

fn restore(vs: &nn::VarStore, saved: &BTreeMap<String, Tensor>) {
    tch::no_grad(|| {
        for (k, mut v) in vs.variables() {
            if let Some(s) = saved.get(&k) {
                v.copy_(s);
            }
        }
    })
}

/// One optimiser step on the cross-entropy of a mini-batch: its loss and how many of its songs
/// the scores (taken before the step) classify right.
pub(crate) fn optimizer_step(opt: &mut nn::Optimizer, logits: &Tensor, y: &Tensor) -> (f64, i64) {
    let loss = logits.cross_entropy_for_logits(y);
    opt.backward_step(&loss);
    let right = tch::no_grad(|| {
        logits
            .argmax(-1, false)
            .eq_tensor(y)
            .sum(Kind::Int64)
            .int64_value(&[])
    });
    (loss.double_value(&[]), right)
}

/// Cross-entropy and accuracy of class scores `logits` against the labels `y`.
pub(crate) fn loss_and_accuracy(logits: &Tensor, y: &Tensor) -> (f64, f64) {
    let loss = logits.cross_entropy_for_logits(y).double_value(&[]);
    let acc = logits
        .argmax(-1, false)
        .eq_tensor(y)
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[]);
    (loss, acc)
}

/// Trains a fresh network on the songs `train_idx`, stopping early on the accuracy of
/// `val_idx`, and restores the best epoch's weights. The scaler is fitted on `train_idx` only.
/// Everything random (init, batch order, dropout) comes from `seed`. `on_epoch` sees each
/// epoch's statistics.
pub fn fit(
    data: &Dataset,
    train_idx: &[usize],
    val_idx: &[usize],
    seed: u64,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Fitted, ModelError> {
    if train_idx.is_empty() || val_idx.is_empty() {
        return Err(ModelError::Data(format!(
            "too few songs to train: {} for training, {} for validation",
            train_idx.len(),
            val_idx.len()
        )));
    }
    let device = cfg.device;
    let scaler = Scaler::fit_rows(data, train_idx);
    let x_train = inputs(data, train_idx, &scaler, device);
    let y_train = labels_tensor(data, train_idx, device);
    let x_val = inputs(data, val_idx, &scaler, device);
    let y_val = labels_tensor(data, val_idx, device);

    let mut rng = train_rng(seed);
    let vs = nn::VarStore::new(device);
    let cnn = Cnn::with_classes(&vs.root(), data.genres.len() as i64);
    cnn.init(&mut rng);
    let mut opt = nn::Adam::default()
        .build(&vs, cfg.learning_rate)
        .map_err(|e| ModelError::Torch {
            context: "creating the Adam optimiser".into(),
            reason: e.to_string(),
        })?;

    let n = train_idx.len();
    let bs = cfg.batch_size.max(1);
    let mut order: Vec<i64> = (0..n as i64).collect();
    let mut history = Vec::new();
    let mut best = (f64::NEG_INFINITY, 0usize);
    let mut best_weights = snapshot(&vs);
    let mut since_best = 0usize;
    for epoch in 1..=cfg.max_epochs.max(1) {
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        let mut correct = 0i64;
        let mut batches = 0usize;
        for chunk in order.chunks(bs) {
            let idx = Tensor::from_slice(chunk).to_device(device);
            let xb = x_train.index_select(0, &idx);
            let yb = y_train.index_select(0, &idx);
            let logits = cnn.forward(&xb, true, Some(&mut rng)).logits;
            let (loss, right) = optimizer_step(&mut opt, &logits, &yb);
            loss_sum += loss;
            correct += right;
            batches += 1;
        }
        let (val_loss, val_accuracy) =
            tch::no_grad(|| loss_and_accuracy(&eval_logits(&cnn, &x_val), &y_val));
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / batches as f64,
            train_accuracy: correct as f64 / n as f64,
            val_loss,
            val_accuracy,
        };
        on_epoch(&stats);
        history.push(stats);
        if val_accuracy > best.0 {
            best = (val_accuracy, epoch);
            best_weights = snapshot(&vs);
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= cfg.patience {
                break;
            }
        }
    }
    restore(&vs, &best_weights);
    Ok(Fitted {
        vs,
        cnn,
        scaler,
        history,
        best_epoch: best.1,
    })
}

/// Predicted class of every song of `idx` with a fitted network.
pub fn predict_indices(fitted: &Fitted, data: &Dataset, idx: &[usize]) -> Vec<usize> {
    if idx.is_empty() {
        return Vec::new();
    }
    let x = inputs(data, idx, &fitted.scaler, fitted.vs.device());
    let pred = eval_logits(&fitted.cnn, &x)
        .argmax(-1, false)
        .to_device(Device::Cpu);
    let v: Vec<i64> = Vec::try_from(&pred).unwrap_or_default();
    v.into_iter().map(|p| p as usize).collect()
}

/// Counts of (true genre, predicted genre) over a label set; rows = true, columns = predicted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Confusion {
    /// The label set, in class index order.
    pub genres: Vec<String>,
    /// `counts[true][predicted]`.
    pub counts: Vec<Vec<u64>>,
}

impl Confusion {
    /// Counts the pairs (class indices into `genres`).
    pub fn from_pairs(genres: &[String], truth: &[usize], pred: &[usize]) -> Confusion {
        let n = genres.len();
        let mut m = vec![vec![0u64; n]; n];
        for (&t, &p) in truth.iter().zip(pred) {
            if t < n && p < n {
                m[t][p] += 1;
            }
        }
        Confusion {
            genres: genres.to_vec(),
            counts: m,
        }
    }

    /// Adds another matrix of the same label set (an empty one takes the other's).
    pub fn add(&mut self, o: &Confusion) {
        if self.genres.is_empty() {
            *self = o.clone();
            return;
        }
        for (r, ro) in self.counts.iter_mut().zip(&o.counts) {
            for (c, co) in r.iter_mut().zip(ro) {
                *c += co;
            }
        }
    }

    /// Fraction on the diagonal (0 when empty).
    pub fn accuracy(&self) -> f64 {
        let total: u64 = self.counts.iter().flatten().sum();
        let right: u64 = (0..self.counts.len()).map(|i| self.counts[i][i]).sum();
        if total == 0 {
            0.0
        } else {
            right as f64 / total as f64
        }
    }

    /// Precision, recall and F1 of each genre (0 where undefined).
    pub fn per_genre(&self) -> BTreeMap<String, GenreScores> {
        let mut out = BTreeMap::new();
        for (g, name) in self.genres.iter().enumerate() {
            let tp = self.counts[g][g] as f64;
            let predicted: u64 = self.counts.iter().map(|row| row[g]).sum();
            let actual: u64 = self.counts[g].iter().sum();
            let precision = if predicted > 0 {
                tp / predicted as f64
            } else {
                0.0
            };
            let recall = if actual > 0 { tp / actual as f64 } else { 0.0 };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            out.insert(
                name.to_string(),
                GenreScores {
                    precision,
                    recall,
                    f1,
                },
            );
        }
        out
    }

    /// The CSV form: header `true,blues,...,rock`, then one row per true genre.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("true");
        for g in &self.genres {
            s.push(',');
            s.push_str(g);
        }
        s.push('\n');
        for (g, row) in self.genres.iter().zip(&self.counts) {
            s.push_str(g);
            for c in row {
                s.push_str(&format!(",{c}"));
            }
            s.push('\n');
        }
        s
    }
}

/// The CSV form of a training history.
pub fn history_csv(history: &[EpochStats]) -> String {
    let mut s = String::from("epoch,train_loss,train_accuracy,val_loss,val_accuracy\n");
    for e in history {
        s.push_str(&format!(
            "{},{:?},{:?},{:?},{:?}\n",
            e.epoch, e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy
        ));
    }
    s
}

/// The result of one evaluation run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub seed: u64,
    pub accuracy: f64,
    pub history: Vec<EpochStats>,
    pub best_epoch: usize,
    pub confusion: Confusion,
    pub test_size: usize,
}

/// One evaluation run: split with `seed` under `protocol`, train, measure on the test set.
pub fn evaluate_seed(
    data: &Dataset,
    protocol: Protocol,
    seed: u64,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<RunResult, ModelError> {
    let s = split(data, protocol, seed);
    if s.test.is_empty() {
        return Err(ModelError::Data("too few songs for a test set".into()));
    }
    let fitted = fit(data, &s.train, &s.val, seed, cfg, on_epoch)?;
    let pred = predict_indices(&fitted, data, &s.test);
    let truth: Vec<usize> = s.test.iter().map(|&i| data.labels[i]).collect();
    let confusion = Confusion::from_pairs(&data.genres, &truth, &pred);
    Ok(RunResult {
        seed,
        accuracy: confusion.accuracy(),
        history: fitted.history,
        best_epoch: fitted.best_epoch,
        confusion,
        test_size: s.test.len(),
    })
}

/// Summarises evaluation runs.
pub fn summarise(protocol: Protocol, runs: &[RunResult]) -> Evaluation {
    let accuracies: Vec<f64> = runs.iter().map(|r| r.accuracy).collect();
    let (mean, std) = mean_std(&accuracies);
    let mut total = Confusion::default();
    runs.iter().for_each(|r| total.add(&r.confusion));
    Evaluation {
        protocol: protocol.name().into(),
        arch: ARCH.into(),
        note: protocol.caveat().map(str::to_string),
        seeds: runs.iter().map(|r| r.seed).collect(),
        accuracies,
        mean_accuracy: mean,
        std_accuracy: std,
        epochs: runs.iter().map(|r| r.history.len()).collect(),
        best_epochs: runs.iter().map(|r| r.best_epoch).collect(),
        test_size: runs.first().map_or(0, |r| r.test_size),
        per_genre: total.per_genre(),
        val_accuracies: Vec::new(),
        blend: None,
    }
}

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
    let mut runs = Vec::new();
    for (index, &seed) in seeds.iter().enumerate() {
        progress(Progress::RunStart {
            index,
            total: seeds.len(),
            seed,
        });
        let r = evaluate_seed(&data, opts.protocol, seed, &opts.config, &mut |e| {
            progress(Progress::Epoch(*e))
        })
        .map_err(|e| e.in_table(&opts.features))?;
        progress(Progress::RunDone {
            seed,
            accuracy: r.accuracy,
        });
        runs.push(r);
    }
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
    use crate::strong::{self, DevData};
    let spec = opts.strong.clone().unwrap_or_default();
    let mut runs = Vec::new();
    let mut vals = Vec::new();
    for (index, &seed) in seeds.iter().enumerate() {
        progress(Progress::RunStart {
            index,
            total: seeds.len(),
            seed,
        });
        let (r, val) = strong::evaluate_seed(
            data,
            opts.protocol,
            seed,
            &spec,
            &opts.config,
            &mut |e| progress(Progress::Epoch(*e)),
            &mut |_| {},
        )
        .map_err(|e| e.in_table(&opts.features))?;
        progress(Progress::RunDone {
            seed,
            accuracy: r.accuracy,
        });
        runs.push(r);
        vals.push(val);
    }
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
    use crate::blend_train;
    use crate::strong::DevData;
    use tuneprint::model::blend::BlendFigures;
    let spec = opts.blend.clone().unwrap_or_default();
    let protocol_runs = |data: &Dataset,
                         protocol: Protocol,
                         progress: &mut dyn FnMut(Progress)|
     -> Result<
        (Vec<RunResult>, Vec<tuneprint::model::blend::CalibratedRun>),
        ModelError,
    > {
        let (mut runs, mut cal) = (Vec::new(), Vec::new());
        for (index, &seed) in seeds.iter().enumerate() {
            progress(Progress::RunStart {
                index,
                total: seeds.len(),
                seed,
            });
            let (r, c) = blend_train::evaluate_seed(
                data,
                protocol,
                seed,
                &spec,
                &opts.config,
                &mut |e| progress(Progress::Epoch(*e)),
                &mut |_| {},
            )
            .map_err(|e| e.in_table(&opts.features))?;
            progress(Progress::RunDone {
                seed,
                accuracy: r.accuracy,
            });
            runs.push(r);
            cal.push(c);
        }
        Ok((runs, cal))
    };
    let (runs, cal) = protocol_runs(data, opts.protocol, progress)?;
    let mut evaluation = summarise(opts.protocol, &runs);
    evaluation.arch = tuneprint::model::blend::ARCH.into();
    evaluation.val_accuracies = cal.iter().map(|c| c.val_accuracy).collect();
    let test_size = runs.first().map_or(0, |r| r.test_size);
    let main = tuneprint::model::blend::summarise_runs(opts.protocol.name(), &cal, test_size);
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
                let f = tuneprint::model::blend::summarise_runs(other.name(), &c, size);
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

impl Fitted {
    /// `model.json` of a fitted paper-arch network, without the facts of its training run
    /// (songs, exclusions, metrics), which the caller adds; `protocol` and `seed` are recorded.
    fn paper_info(&self, protocol: Protocol, seed: u64) -> ModelInfo {
        ModelInfo {
            scaler_mean: self.scaler.mean.clone(),
            scaler_std: self.scaler.std.clone(),
            epochs_trained: self.history.len(),
            best_epoch: self.best_epoch,
            embedding: Some(Layer::Flatten),
            ..ModelInfo::new(ARCH, protocol, seed)
        }
    }

    /// A usable (native) classifier from a fitted network (for evaluations that train their
    /// own model, such as `recommend --evaluate`); `protocol` and `seed` are recorded in its
    /// info.
    pub fn into_classifier(
        self,
        protocol: Protocol,
        seed: u64,
        n_val: usize,
    ) -> Result<Classifier, ModelError> {
        let info = ModelInfo {
            n_val,
            ..self.paper_info(protocol, seed)
        };
        Classifier::from_weights(info, weights_of(&self.vs))
    }
}

/// The variables of a store as native [`Weights`] (f32, copied to the CPU), under the names
/// `model.safetensors` gives them.
pub fn weights_of(vs: &nn::VarStore) -> Weights {
    let tensors = vs
        .variables()
        .into_iter()
        .map(|(name, v)| {
            let t = v
                .detach()
                .to_device(Device::Cpu)
                .to_kind(Kind::Float)
                .contiguous();
            let shape = t.size().iter().map(|&d| d as usize).collect();
            let data: Vec<f32> = Vec::try_from(&t.flatten(0, -1)).unwrap_or_default();
            (name, Tensor32 { shape, data })
        })
        .collect();
    Weights {
        path: PathBuf::from(tuneprint::model::WEIGHTS_FILE),
        tensors,
    }
}
