//! The stronger classifier (`--arch strong`): an ensemble of small MLPs on standardised
//! features whose variance columns are log-transformed, trained with input noise (augmentation
//! in feature space), dropout and decoupled weight decay, each member stopped early on the
//! validation songs; the ensemble averages the members' probabilities.
//!
//! Selection uses no test data by construction: [`evaluate_seed`] copies the training and
//! validation songs into a [`DevData`] (the test rows are not in it), fits and selects on that
//! alone, and only then reads the test rows for the one final measurement. The
//! hyper-parameters ([`StrongSpec::default`]) were chosen on validation accuracy only (README,
//! "A stronger model").

use super::common::{snapshot, Confusion, DevData, EpochStats, RunResult, TrainConfig};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tuneprint::features::{FeatureVector, N_FEATURES};
use tuneprint::model::dataset::{Dataset, Protocol, Scaler};
use tuneprint::model::ModelError;

pub use tuneprint::model::native::strong::{transform, transform_rows, StrongSpec, ARCH};

/// Number of classes.
const N_CLASSES: i64 = tuneprint::model::native::strong::N_CLASSES as i64;

/// One MLP of the ensemble.
#[derive(Debug)]
pub struct Mlp {
    hidden: Vec<nn::Linear>,
    out: nn::Linear,
    dropout: f64,
}

impl Mlp {
    /// Layers under `p`, all zero (call [`Mlp::init`] or load weights).
    pub fn new(p: &nn::Path, spec: &StrongSpec) -> Mlp {
        Mlp::with_classes(p, spec, N_CLASSES)
    }

    /// [`Mlp::new`] with `n_classes` outputs.
    pub fn with_classes(p: &nn::Path, spec: &StrongSpec, n_classes: i64) -> Mlp {
        let zeros = || nn::LinearConfig {
            ws_init: nn::Init::Const(0.),
            bs_init: Some(nn::Init::Const(0.)),
            bias: true,
        };
        let mut hidden = Vec::new();
        let mut width = N_FEATURES as i64;
        for (k, &h) in spec.hidden.iter().enumerate() {
            hidden.push(nn::linear(p / format!("fc{k}"), width, h as i64, zeros()));
            width = h as i64;
        }
        Mlp {
            hidden,
            out: nn::linear(p / "out", width, n_classes, zeros()),
            dropout: spec.dropout,
        }
    }

    /// PyTorch's default init (uniform ±1/√fan_in), from a seeded Rust RNG: a training
    /// depends on its seed only, not on libtorch's process-wide generator.
    pub fn init(&self, rng: &mut StdRng) {
        for l in self.hidden.iter().chain([&self.out]) {
            let bound = 1.0 / (l.ws.size()[1] as f64).sqrt();
            fill_uniform(&l.ws, bound, rng);
            if let Some(b) = &l.bs {
                fill_uniform(b, bound, rng);
            }
        }
    }

    /// `(last hidden layer after ReLU, logits)` of standardised inputs `[n, 57]`. In training
    /// (`rng` given) dropout masks come from `rng`.
    pub fn forward(&self, x: &Tensor, mut rng: Option<&mut StdRng>) -> (Tensor, Tensor) {
        let mut h = x.shallow_clone();
        for l in &self.hidden {
            h = h.apply(l).relu();
            if let Some(rng) = rng.as_deref_mut() {
                if self.dropout > 0.0 {
                    h = &h * crate::cnn::dropout_mask(&h, self.dropout, rng);
                }
            }
        }
        let logits = h.apply(&self.out);
        (h, logits)
    }
}

/// The ensemble's members, all under one variable store (`m0`, `m1`, ...).
#[derive(Debug)]
pub struct Ensemble {
    pub members: Vec<Mlp>,
}

impl Ensemble {
    /// Layers of `spec.members` MLPs under `p`.
    pub fn new(p: &nn::Path, spec: &StrongSpec) -> Ensemble {
        Ensemble::with_classes(p, spec, N_CLASSES)
    }

    /// [`Ensemble::new`] with `n_classes` outputs.
    pub fn with_classes(p: &nn::Path, spec: &StrongSpec, n_classes: i64) -> Ensemble {
        Ensemble {
            members: (0..spec.members)
                .map(|k| Mlp::with_classes(&(p / format!("m{k}")), spec, n_classes))
                .collect(),
        }
    }

    /// Mean softmax probabilities `[n, 10]`.
    pub fn proba(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let ps: Vec<Tensor> = self
                .members
                .iter()
                .map(|m| m.forward(x, None).1.softmax(-1, Kind::Float))
                .collect();
            Tensor::stack(&ps, 0).mean_dim(0, false, Kind::Float)
        })
    }

    /// The members' last hidden layers side by side `[n, members · width]`.
    pub fn embed(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let hs: Vec<Tensor> = self.members.iter().map(|m| m.forward(x, None).0).collect();
            Tensor::cat(&hs, 1)
        })
    }
}

/// A fitted ensemble with its scaler (fitted on the transformed training rows).
pub struct FittedStrong {
    pub vs: nn::VarStore,
    pub ensemble: Ensemble,
    pub scaler: Scaler,
    pub spec: StrongSpec,
    /// Each member's epochs.
    pub histories: Vec<Vec<EpochStats>>,
    /// Each member's kept epoch (lowest validation loss).
    pub best_epochs: Vec<usize>,
    /// The ensemble's accuracy on the validation songs.
    pub val_accuracy: f64,
}

fn tensor_of(rows: &[FeatureVector], spec: &StrongSpec, scaler: &Scaler, dev: Device) -> Tensor {
    crate::cnn::input_tensor(&scaler.transform_f32(&transform_rows(spec, rows)), dev)
}

fn torch(context: &str, e: impl std::fmt::Display) -> ModelError {
    ModelError::Torch {
        context: context.into(),
        reason: e.to_string(),
    }
}

fn argmax_rows(p: &Tensor) -> Vec<usize> {
    let v: Vec<i64> =
        Vec::try_from(&p.argmax(-1, false).to_device(Device::Cpu)).unwrap_or_default();
    v.into_iter().map(|x| x as usize).collect()
}

/// Fits the ensemble on `dev.train`, each member stopped early on `dev.val`.
pub fn fit(
    dev: &DevData,
    seed: u64,
    spec: &StrongSpec,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<FittedStrong, ModelError> {
    if dev.train.is_empty() || dev.val.is_empty() || spec.members == 0 {
        return Err(ModelError::Data(format!(
            "too few songs to train: {} for training, {} for validation",
            dev.train.len(),
            dev.val.len()
        )));
    }
    let device = cfg.device;
    let d = &dev.data;
    let rows =
        |idx: &[usize]| -> Vec<FeatureVector> { idx.iter().map(|&i| d.features[i]).collect() };
    let labels = |idx: &[usize]| -> Tensor {
        let y: Vec<i64> = idx.iter().map(|&i| d.labels[i] as i64).collect();
        Tensor::from_slice(&y).to_device(device)
    };
    let scaler = Scaler::fit(&transform_rows(spec, &rows(&dev.train)));
    let x_train = tensor_of(&rows(&dev.train), spec, &scaler, device);
    let y_train = labels(&dev.train);
    let x_val = tensor_of(&rows(&dev.val), spec, &scaler, device);
    let y_val = labels(&dev.val);

    let vs = nn::VarStore::new(device);
    let n_classes = d.genres.len() as i64;
    let ensemble = Ensemble::with_classes(&vs.root(), spec, n_classes);
    let mut histories = Vec::new();
    let mut best_epochs = Vec::new();
    let n = dev.train.len() as i64;
    let bs = spec.batch_size.max(1) as i64;
    let max_epochs = spec.max_epochs.min(cfg.max_epochs).max(1);
    for k in 0..spec.members {
        // Each member trains in a store of its own (the optimiser sees only its weights) and is
        // copied into the ensemble's store afterwards.
        let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(1000).wrapping_add(k as u64));
        let mvs = nn::VarStore::new(device);
        let mlp = Mlp::with_classes(&(mvs.root() / "m"), spec, n_classes);
        mlp.init(&mut rng);
        let mut order: Vec<i64> = (0..n).collect();
        let mut opt = nn::AdamW::default()
            .wd(spec.weight_decay)
            .build(&mvs, spec.learning_rate)
            .map_err(|e| torch("creating the AdamW optimiser", e))?;
        let mut best = (f64::INFINITY, 0usize);
        let mut best_w = snapshot(&mvs);
        let mut history = Vec::new();
        for epoch in 1..=max_epochs {
            order.shuffle(&mut rng);
            let (mut loss_sum, mut correct, mut batches) = (0.0, 0i64, 0usize);
            for chunk in order.chunks(bs as usize) {
                let idx = Tensor::from_slice(chunk).to_device(device);
                let mut xb = x_train.index_select(0, &idx);
                if spec.input_noise > 0.0 {
                    let noise = gaussian(xb.numel(), spec.input_noise, &mut rng);
                    xb = &xb
                        + Tensor::from_slice(&noise)
                            .reshape(xb.size())
                            .to_device(device);
                }
                let yb = y_train.index_select(0, &idx);
                let logits = mlp.forward(&xb, Some(&mut rng)).1;
                let (loss, right) = super::common::optimizer_step(&mut opt, &logits, &yb);
                loss_sum += loss;
                correct += right;
                batches += 1;
            }
            let (val_loss, val_accuracy) = tch::no_grad(|| {
                super::common::loss_and_accuracy(&mlp.forward(&x_val, None).1, &y_val)
            });
            let st = EpochStats {
                epoch,
                train_loss: loss_sum / batches as f64,
                train_accuracy: correct as f64 / n as f64,
                val_loss,
                val_accuracy,
            };
            on_epoch(&st);
            history.push(st);
            if val_loss < best.0 {
                best = (val_loss, epoch);
                best_w = snapshot(&mvs);
            } else if epoch - best.1 >= spec.patience {
                break;
            }
        }
        let vars = vs.variables();
        tch::no_grad(|| {
            for (name, t) in &best_w {
                let target = format!("m{k}{}", &name[1..]);
                if let Some(v) = vars.get(&target) {
                    v.shallow_clone().copy_(t);
                }
            }
        });
        histories.push(history);
        best_epochs.push(best.1);
    }
    let pred = argmax_rows(&ensemble.proba(&x_val));
    let right = pred
        .iter()
        .zip(&dev.val)
        .filter(|(p, &i)| **p == d.labels[i])
        .count();
    Ok(FittedStrong {
        vs,
        ensemble,
        scaler,
        spec: spec.clone(),
        histories,
        best_epochs,
        val_accuracy: right as f64 / dev.val.len() as f64,
    })
}

/// Fills `t` with uniform values in ±`bound` drawn from `rng`.
fn fill_uniform(t: &Tensor, bound: f64, rng: &mut StdRng) {
    let vals: Vec<f32> = (0..t.numel())
        .map(|_| rng.gen_range(-bound..bound) as f32)
        .collect();
    let src = Tensor::from_slice(&vals)
        .reshape(t.size())
        .to_device(t.device());
    tch::no_grad(|| t.shallow_clone().copy_(&src));
}

/// `n` normal draws of standard deviation `sd` (Box–Muller).
fn gaussian(n: usize, sd: f64, rng: &mut StdRng) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1: f64 = 1.0 - rng.gen::<f64>();
        let u2: f64 = rng.gen();
        let r = (-2.0 * u1.ln()).sqrt() * sd;
        let a = std::f64::consts::TAU * u2;
        out.push((r * a.cos()) as f32);
        out.push((r * a.sin()) as f32);
    }
    out.truncate(n);
    out
}

impl FittedStrong {
    /// Most probable class of raw feature rows.
    pub fn predict(&self, rows: &[FeatureVector]) -> Vec<usize> {
        if rows.is_empty() {
            return Vec::new();
        }
        let x = tensor_of(rows, &self.spec, &self.scaler, self.vs.device());
        argmax_rows(&self.ensemble.proba(&x))
    }
}

impl FittedStrong {
    /// The fitted ensemble as a (native) classifier whose `model.json` is `info` completed
    /// with the ensemble's architecture, settings, scaler and embedding.
    pub fn into_classifier(
        self,
        info: tuneprint::model::ModelInfo,
    ) -> Result<tuneprint::model::Classifier, ModelError> {
        let info = tuneprint::model::ModelInfo {
            arch: ARCH.into(),
            strong: Some(self.spec.clone()),
            scaler_mean: self.scaler.mean.clone(),
            scaler_std: self.scaler.std.clone(),
            embedding: Some(tuneprint::model::Layer::Combined),
            ..info
        };
        tuneprint::model::Classifier::from_weights(info, super::common::weights_of(&self.vs))
    }

    /// The members' last hidden layers side by side, of raw feature rows.
    pub fn embed_rows(&self, rows: &[FeatureVector]) -> Vec<Vec<f32>> {
        let x = tensor_of(rows, &self.spec, &self.scaler, self.vs.device());
        crate::cnn::to_rows(&self.ensemble.embed(&x))
    }

    /// Mean class probabilities of raw feature rows.
    pub fn proba_rows(&self, rows: &[FeatureVector]) -> Vec<Vec<f32>> {
        let x = tensor_of(rows, &self.spec, &self.scaler, self.vs.device());
        crate::cnn::to_rows(&self.ensemble.proba(&x))
    }
}

/// One evaluation run of the strong ensemble: selection and fitting see a [`DevData`] copy of
/// the split's training and validation songs; the test rows are read afterwards, once.
/// `on_selected` sees the fitted ensemble before any test row is read.
pub fn evaluate_seed(
    data: &Dataset,
    protocol: Protocol,
    seed: u64,
    spec: &StrongSpec,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
    on_selected: &mut dyn FnMut(&FittedStrong),
) -> Result<(RunResult, f64), ModelError> {
    let (s, dev) = DevData::of_split(data, protocol, seed, "--arch strong is selected")?;
    let fitted = fit(&dev, seed, spec, cfg, on_epoch)?;
    on_selected(&fitted);
    // The test rows, only now.
    let test_rows: Vec<FeatureVector> = s.test.iter().map(|&i| data.features[i]).collect();
    let pred = fitted.predict(&test_rows);
    let truth: Vec<usize> = s.test.iter().map(|&i| data.labels[i]).collect();
    let confusion = Confusion::from_pairs(&data.genres, &truth, &pred);
    let val = fitted.val_accuracy;
    Ok((
        RunResult {
            seed,
            accuracy: confusion.accuracy(),
            history: fitted.histories.first().cloned().unwrap_or_default(),
            best_epoch: fitted.best_epochs.first().copied().unwrap_or(0),
            confusion,
            test_size: s.test.len(),
        },
        val,
    ))
}
