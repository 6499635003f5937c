//! Training the default classifier ([`tuneprint::model::blend`]): the LDA in closed form (plain Rust), the
//! MLP with tch (Adam on mini-batches, L2 penalty, stopped when the training loss stops
//! improving), the temperature on the validation songs; evaluation runs that never let
//! selection read a test row (a [`DevData`] copy of the training and validation songs is all
//! fitting and calibration see), and the figures `train` reports for both protocols.

use super::common::{Confusion, DevData, EpochStats, RunResult, TrainConfig};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use rand::SeedableRng;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tuneprint::features::{FeatureVector, N_FEATURES};
use tuneprint::model::blend::{self, BlendInfo, BlendSpec, Calibration, Dense, MlpInit, Selection};
use tuneprint::model::calibration::{
    expected_calibration_error, fit_temperature, log_loss, ECE_BINS,
};
use tuneprint::model::dataset::{Dataset, Protocol, Scaler};
use tuneprint::model::evaluation::{CalibratedRun, ValidationFigures};
use tuneprint::model::native::blend::{standardised, BlendNet};
use tuneprint::model::ModelError;

/// A fitted blend with its scaler (fitted on the transformed training rows).
#[derive(Debug, Clone)]
pub struct FittedBlend {
    pub net: BlendNet,
    pub scaler: Scaler,
    /// Epochs the MLP ran.
    pub epochs: usize,
    /// Accuracy of the tempered model on the validation songs (argmax is unchanged by `T`).
    pub val_accuracy: f64,
    /// Log-loss on the validation songs before and after tempering.
    pub val_log_loss: f64,
    pub val_log_loss_tempered: f64,
    /// Expected calibration error (15 bins) of the tempered model on the validation songs.
    pub val_ece: f64,
}

impl FittedBlend {
    /// Tempered class probabilities of raw feature rows (plain Rust).
    pub fn proba(&self, rows: &[FeatureVector]) -> Vec<Vec<f32>> {
        rows.iter()
            .map(|r| {
                self.net
                    .forward(&standardised(&self.net, &self.scaler, r))
                    .proba
            })
            .collect()
    }

    /// Untempered averaged probabilities of raw feature rows.
    pub fn proba_untempered(&self, rows: &[FeatureVector]) -> Vec<Vec<f32>> {
        rows.iter()
            .map(|r| {
                let (p, _) = self
                    .net
                    .forward_raw(&standardised(&self.net, &self.scaler, r));
                p.into_iter().map(|v| v as f32).collect()
            })
            .collect()
    }

    /// The MLP's last hidden layer of raw feature rows.
    pub fn hidden(&self, rows: &[FeatureVector]) -> Vec<Vec<f32>> {
        rows.iter()
            .map(|r| {
                self.net
                    .forward(&standardised(&self.net, &self.scaler, r))
                    .hidden
            })
            .collect()
    }
}

/// Most probable class of each row of probabilities.
pub fn argmax(p: &[Vec<f32>]) -> Vec<usize> {
    p.iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                )
                .0
        })
        .collect()
}

fn accuracy(pred: &[usize], truth: &[usize]) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    pred.iter().zip(truth).filter(|(p, t)| p == t).count() as f64 / truth.len() as f64
}

/// Fits the LDA and the `spec.members` MLPs on the songs `idx` of `data` (untempered: `T = 1`).
fn fit_members(
    data: &Dataset,
    idx: &[usize],
    seed: u64,
    spec: &BlendSpec,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<(BlendNet, Scaler, usize), ModelError> {
    let rows: Vec<FeatureVector> = idx
        .iter()
        .map(|&i| blend::log_transform(&spec.log_columns, &data.features[i]))
        .collect();
    let labels: Vec<usize> = idx.iter().map(|&i| data.labels[i]).collect();
    let scaler = Scaler::fit(&rows);
    let x: Vec<[f64; N_FEATURES]> = rows.iter().map(|r| scaler.transform(r)).collect();
    let lda = blend::fit_lda(&x, &labels).map_err(ModelError::Data)?;
    let mut mlp = Vec::with_capacity(spec.members);
    let mut epochs = 0;
    for member in 0..spec.members.max(1) {
        let (layers, e) = fit_mlp(&x, &labels, member_seed(seed, member), spec, cfg, on_epoch)?;
        mlp.push(layers);
        epochs = epochs.max(e);
    }
    let net = BlendNet {
        log_columns: spec.log_columns.clone(),
        lda,
        mlp,
        temperature: 1.0,
    };
    Ok((net, scaler, epochs))
}

/// The RNG seed of MLP member `member` of run `seed` (member 0: the seed of a single MLP).
fn member_seed(seed: u64, member: usize) -> u64 {
    seed.wrapping_mul(1000)
        .wrapping_add(0xb1e4d)
        .wrapping_add((member as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Fits the blend on `dev.train` and its temperature on `dev.val`; with `spec.refit`, then
/// refits both members on `dev.train` + `dev.val` with that temperature (`refit` = true only
/// for the saved model: evaluation runs measure the train-only fit as well, see
/// [`evaluate_seed`]).
pub fn fit(
    dev: &DevData,
    seed: u64,
    spec: &BlendSpec,
    cfg: &TrainConfig,
    refit: bool,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<FittedBlend, ModelError> {
    if dev.train.is_empty() || dev.val.is_empty() {
        return Err(ModelError::Data(format!(
            "too few songs to train: {} for training, {} for validation",
            dev.train.len(),
            dev.val.len()
        )));
    }
    let d = &dev.data;
    let (net, scaler, epochs) = fit_members(d, &dev.train, seed, spec, cfg, on_epoch)?;
    let mut fitted = FittedBlend {
        net,
        scaler,
        epochs,
        val_accuracy: 0.0,
        val_log_loss: 0.0,
        val_log_loss_tempered: 0.0,
        val_ece: 0.0,
    };
    let val_rows: Vec<FeatureVector> = dev.val.iter().map(|&i| d.features[i]).collect();
    let val_labels: Vec<usize> = dev.val.iter().map(|&i| d.labels[i]).collect();
    let raw = fitted.proba_untempered(&val_rows);
    let t = match spec.calibration {
        Calibration::Valid => fit_temperature(&raw, &val_labels),
        Calibration::CrossFit => {
            // A fit on the validation songs alone scores the training songs: out-of-fold
            // probabilities of every song the model (and its refit) is fitted on.
            let (net, scaler, _) = fit_members(d, &dev.val, seed, spec, cfg, &mut |_| {})?;
            let swapped = FittedBlend {
                net,
                scaler,
                ..fitted.clone()
            };
            let train_rows: Vec<FeatureVector> = dev.train.iter().map(|&i| d.features[i]).collect();
            let mut probs = swapped.proba_untempered(&train_rows);
            let mut labels: Vec<usize> = dev.train.iter().map(|&i| d.labels[i]).collect();
            probs.extend(raw.iter().cloned());
            labels.extend(&val_labels);
            fit_temperature(&probs, &labels)
        }
    };
    fitted.net.temperature = t;
    let tempered = fitted.proba(&val_rows);
    fitted.val_accuracy = accuracy(&argmax(&tempered), &val_labels);
    fitted.val_log_loss = log_loss(&raw, &val_labels);
    fitted.val_log_loss_tempered = log_loss(&tempered, &val_labels);
    fitted.val_ece = expected_calibration_error(&tempered, &val_labels, ECE_BINS);
    if refit {
        let all: Vec<usize> = dev.train.iter().chain(&dev.val).copied().collect();
        let (net, scaler, epochs) = fit_members(d, &all, seed, spec, cfg, on_epoch)?;
        fitted.net = BlendNet {
            temperature: t,
            ..net
        };
        fitted.scaler = scaler;
        fitted.epochs = epochs;
    }
    Ok(fitted)
}

/// The weights and biases of an MLP of `widths`, drawn from `rng` layer by layer (weights,
/// then biases) as `init` says.
fn init_layers(
    root: &nn::Path,
    widths: &[usize],
    init: MlpInit,
    rng: &mut StdRng,
    device: Device,
) -> Vec<(Tensor, Tensor)> {
    widths
        .windows(2)
        .enumerate()
        .map(|(k, w)| {
            let (fan_in, fan_out) = (w[0], w[1]);
            let bound = match init {
                MlpInit::Glorot => (6.0 / (fan_in + fan_out) as f64).sqrt(),
                MlpInit::Torch => 1.0 / (fan_in as f64).sqrt(),
            };
            let mut draw = |len: usize, shape: &[i64]| {
                let v: Vec<f64> = (0..len).map(|_| rng.gen_range(-bound..bound)).collect();
                Tensor::from_slice(&v).view(shape).to_device(device)
            };
            let wt = draw(fan_out * fan_in, &[fan_out as i64, fan_in as i64]);
            let bt = draw(fan_out, &[fan_out as i64]);
            (
                root.var_copy(&format!("w{k}"), &wt),
                root.var_copy(&format!("b{k}"), &bt),
            )
        })
        .collect()
}

/// The layers as plain [`Dense`] layers (f32, on the CPU).
fn dense_of(layers: &[(Tensor, Tensor)]) -> Vec<Dense> {
    let to_vec = |t: &Tensor| -> Vec<f32> {
        Vec::try_from(
            &t.detach()
                .to_device(Device::Cpu)
                .to_kind(Kind::Float)
                .flatten(0, -1),
        )
        .unwrap_or_default()
    };
    layers
        .iter()
        .map(|(w, b)| {
            let size = w.size();
            Dense {
                out: size[0] as usize,
                inp: size[1] as usize,
                weight: to_vec(w),
                bias: to_vec(b),
            }
        })
        .collect()
}

/// One MLP member: `57 → hidden… → 10`, ReLU, in f64, scikit-learn's `MLPClassifier` recipe:
/// `spec.init` of weights and biases (Glorot-uniform `U(±√(6 / (fan_in + fan_out)))` as
/// scikit-learn, or PyTorch's `U(±1/√fan_in)`; from a seeded Rust RNG), Adam on shuffled mini-batches of cross-entropy + `α/2 · Σ w² / batch` (weights
/// only), stopped once the epoch's mean training loss has not improved by `tol` for
/// `n_iter_no_change` epochs (no validation song involved). Returns its layers and the epochs
/// run.
fn fit_mlp(
    x: &[[f64; N_FEATURES]],
    y: &[usize],
    seed: u64,
    spec: &BlendSpec,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<(Vec<Dense>, usize), ModelError> {
    let device = cfg.device;
    let n = x.len();
    let flat: Vec<f64> = x.iter().flatten().copied().collect();
    let xt = Tensor::from_slice(&flat)
        .view([n as i64, N_FEATURES as i64])
        .to_device(device);
    let yv: Vec<i64> = y.iter().map(|&c| c as i64).collect();
    let yt = Tensor::from_slice(&yv).to_device(device);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut vs = nn::VarStore::new(device);
    vs.set_kind(Kind::Double);
    let mut widths = vec![N_FEATURES];
    widths.extend(&spec.hidden);
    widths.push(blend::N_CLASSES);
    let layers = init_layers(&vs.root(), &widths, spec.init, &mut rng, device);
    let forward = |xb: &Tensor| -> Tensor {
        let mut h = xb.shallow_clone();
        for (k, (w, b)) in layers.iter().enumerate() {
            h = h.linear(w, Some(b));
            if k + 1 < layers.len() {
                h = h.relu();
            }
        }
        h
    };
    let mut opt = nn::Adam::default()
        .build(&vs, spec.learning_rate)
        .map_err(|e| ModelError::Torch {
            context: "creating the Adam optimiser".into(),
            reason: e.to_string(),
        })?;
    let bs = spec.batch_size.clamp(1, n.max(1));
    let mut order: Vec<i64> = (0..n as i64).collect();
    let mut best = f64::INFINITY;
    let mut no_change = 0usize;
    let mut epochs = 0usize;
    let max_epochs = spec.max_epochs.min(cfg.max_epochs).max(1);
    for epoch in 1..=max_epochs {
        epochs = epoch;
        order.shuffle(&mut rng);
        let (mut loss_sum, mut correct) = (0.0, 0i64);
        for chunk in order.chunks(bs) {
            let idx = Tensor::from_slice(chunk).to_device(device);
            let xb = xt.index_select(0, &idx);
            let yb = yt.index_select(0, &idx);
            let logits = forward(&xb);
            let l2 = layers
                .iter()
                .map(|(w, _)| w.square().sum(Kind::Double))
                .fold(Tensor::zeros([], (Kind::Double, device)), |a, b| a + b);
            let loss =
                logits.cross_entropy_for_logits(&yb) + l2 * (0.5 * spec.alpha / chunk.len() as f64);
            opt.backward_step(&loss);
            loss_sum += loss.double_value(&[]) * chunk.len() as f64;
            correct += tch::no_grad(|| {
                logits
                    .argmax(-1, false)
                    .eq_tensor(&yb)
                    .sum(Kind::Int64)
                    .int64_value(&[])
            });
        }
        let loss = loss_sum / n as f64;
        on_epoch(&EpochStats {
            epoch,
            train_loss: loss,
            train_accuracy: correct as f64 / n as f64,
            val_loss: f64::NAN,
            val_accuracy: f64::NAN,
        });
        if loss > best - spec.tol {
            no_change += 1;
        } else {
            no_change = 0;
        }
        if loss < best {
            best = loss;
        }
        if no_change > spec.n_iter_no_change {
            break;
        }
    }
    let dense = dense_of(&layers);
    Ok((dense, epochs))
}

/// The training history of the blend's MLP, as `history.csv` holds it: the epochs of the last
/// member fitted (each member's epochs start again at 1; the LDA has none). Its validation
/// columns are empty: the MLP stops on its training loss, without validation songs.
#[derive(Debug, Default)]
pub struct MlpHistory {
    pub epochs: Vec<EpochStats>,
}

impl MlpHistory {
    pub fn push(&mut self, e: &EpochStats) {
        if e.epoch == 1 {
            self.epochs.clear();
        }
        self.epochs.push(*e);
    }
}

/// One evaluation run: split with `seed` under `protocol`; the blend fitted on the training
/// songs and its temperature on the validation songs, seeing only a [`DevData`] copy of them
/// (`on_selected` sees the fitted model before any test row is read); then the test rows, once,
/// for the train-only fit and for its refit on training + validation songs.
pub fn evaluate_seed(
    data: &Dataset,
    protocol: Protocol,
    seed: u64,
    spec: &BlendSpec,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
    on_selected: &mut dyn FnMut(&FittedBlend),
) -> Result<(RunResult, CalibratedRun), ModelError> {
    let (s, dev) = DevData::of_split(data, protocol, seed, "the blend is calibrated")?;
    let mut history = MlpHistory::default();
    let fitted = fit(&dev, seed, spec, cfg, false, &mut |e| {
        history.push(e);
        on_epoch(e)
    })?;
    on_selected(&fitted);
    let refit = {
        let all: Vec<usize> = dev.train.iter().chain(&dev.val).copied().collect();
        let (net, scaler, _) = fit_members(&dev.data, &all, seed, spec, cfg, &mut |_| {})?;
        FittedBlend {
            net: BlendNet {
                temperature: fitted.net.temperature,
                ..net
            },
            scaler,
            ..fitted.clone()
        }
    };
    // The test rows, only now.
    let test_rows: Vec<FeatureVector> = s.test.iter().map(|&i| data.features[i]).collect();
    let truth: Vec<usize> = s.test.iter().map(|&i| data.labels[i]).collect();
    let p = fitted.proba(&test_rows);
    let pred = argmax(&p);
    let confusion = Confusion::from_pairs(&data.genres, &truth, &pred);
    let p_refit = refit.proba(&test_rows);
    let run = CalibratedRun {
        seed,
        validation: ValidationFigures {
            val_accuracy: fitted.val_accuracy,
            val_log_loss: fitted.val_log_loss_tempered,
            val_ece: fitted.val_ece,
        },
        test_accuracy: confusion.accuracy(),
        ece: expected_calibration_error(&p, &truth, ECE_BINS),
        ece_uncalibrated: expected_calibration_error(
            &fitted.proba_untempered(&test_rows),
            &truth,
            ECE_BINS,
        ),
        temperature: fitted.net.temperature,
        refit_test_accuracy: accuracy(&argmax(&p_refit), &truth),
        refit_ece: expected_calibration_error(&p_refit, &truth, ECE_BINS),
    };
    Ok((
        RunResult {
            seed,
            accuracy: run.test_accuracy,
            history: history.epochs,
            best_epoch: fitted.epochs,
            confusion,
            test_size: s.test.len(),
        },
        run,
    ))
}

/// `model.json`'s `blend` record of a fitted saved model.
pub fn info_of(
    fitted: &FittedBlend,
    spec: &BlendSpec,
    refit: bool,
    n_train: usize,
    n_val: usize,
) -> BlendInfo {
    BlendInfo {
        spec: spec.clone(),
        temperature: fitted.net.temperature,
        val_accuracy: fitted.val_accuracy,
        fitted_on: if refit {
            format!(
                "refit on the {n_train} training and {n_val} validation songs together, once the \
                 temperature was fitted on the validation songs with a fit on the training songs \
                 alone"
            )
        } else {
            format!(
                "the {n_train} training songs; temperature fitted on the {n_val} validation songs"
            )
        },
        selection: Selection::default(),
    }
}
