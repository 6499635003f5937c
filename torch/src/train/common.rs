//! What the training of every architecture shares: the settings, an epoch's and a run's
//! figures, the confusion matrix, the optimiser step, the weights' snapshot, the songs selection
//! may see, and the seed loop the evaluation runs of each architecture go through.

use crate::cnn::ARCH;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tch::nn;
use tch::{Device, Kind, Tensor};
use tuneprint::config::{BATCH_SIZE, LEARNING_RATE, MAX_EPOCHS, PATIENCE};
use tuneprint::model::dataset::{split, Dataset, Protocol, Split};
use tuneprint::model::evaluation::{mean_std, Evaluation, GenreScores};
use tuneprint::model::native::{Tensor32, Weights};
use tuneprint::model::ModelError;

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

pub use tuneprint::model::evaluation::EpochStats;

pub(crate) fn snapshot(vs: &nn::VarStore) -> BTreeMap<String, Tensor> {
    tch::no_grad(|| {
        vs.variables()
            .into_iter()
            .map(|(k, v)| (k, v.detach().copy()))
            .collect()
    })
}

pub(crate) fn restore(vs: &nn::VarStore, saved: &BTreeMap<String, Tensor>) {
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

/// The songs selection may look at: copies of the training and validation rows only. The test
/// rows of the split are not in it.
#[derive(Debug, Clone)]
pub struct DevData {
    pub data: Dataset,
    /// Indices into `data`.
    pub train: Vec<usize>,
    pub val: Vec<usize>,
}

impl DevData {
    /// The split of `seed` under `protocol` and a copy of its training and validation songs, for
    /// the architectures that select on validation songs only (`what`, e.g. "--arch strong is
    /// selected", begins the error of the paper protocol, which early-stops on the test songs).
    pub fn of_split(
        data: &Dataset,
        protocol: Protocol,
        seed: u64,
        what: &str,
    ) -> Result<(Split, DevData), ModelError> {
        if protocol == Protocol::Paper {
            return Err(ModelError::Data(format!(
                "{what} on validation songs only: use --protocol holdout or filtered (the \
                 paper protocol early-stops on the test set)"
            )));
        }
        let s = split(data, protocol, seed);
        if s.test.is_empty() {
            return Err(ModelError::Data("too few songs for a test set".into()));
        }
        let dev = DevData::new(data, &s.train, &s.val);
        Ok((s, dev))
    }

    /// Copies the rows `train` and `val` of `data`.
    pub fn new(data: &Dataset, train: &[usize], val: &[usize]) -> DevData {
        let idx: Vec<usize> = train.iter().chain(val).copied().collect();
        DevData {
            data: data.subset(&idx),
            train: (0..train.len()).collect(),
            val: (train.len()..idx.len()).collect(),
        }
    }
}
