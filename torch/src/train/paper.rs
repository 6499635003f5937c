//! Training the paper's CNN: Adam, mini-batches, cross-entropy, early stopping on validation
//! accuracy with best-weight restore; one evaluation run of a seed.

use super::common::{
    loss_and_accuracy, optimizer_step, restore, snapshot, weights_of, Confusion, EpochStats,
    RunResult, TrainConfig,
};
use crate::cnn::{input_tensor, Cnn, ARCH};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tuneprint::model::dataset::{split, Dataset, Protocol, Scaler};
use tuneprint::model::{Classifier, Layer, ModelError, ModelInfo};

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

impl Fitted {
    /// `model.json` of a fitted paper-arch network, without the facts of its training run
    /// (songs, exclusions, metrics), which the caller adds; `protocol` and `seed` are recorded.
    pub(crate) fn paper_info(&self, protocol: Protocol, seed: u64) -> ModelInfo {
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
