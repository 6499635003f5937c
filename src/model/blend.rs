//! The default classifier (`--arch blend`, issue 13), chosen on validation songs only by
//! `scripts/default_model_search.py`: the average of the class probabilities of
//!
//! - a linear discriminant analysis with Ledoit–Wolf shrinkage of each genre's covariance
//!   (scikit-learn's `LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")`), fitted in
//!   closed form here, and
//! - an MLP `57 → 256 → 128 → 10` (ReLU, L2 penalty α = 0.01, Adam; scikit-learn's
//!   `MLPClassifier((256, 128), alpha=0.01)` recipe), trained in f64 with tch (`blend_train`);
//!   `spec.members` > 1 averages the probabilities of several such MLPs (one seed each),
//!   `spec.init` picks PyTorch's or scikit-learn's (Glorot) initial weights,
//!
//! both on standardised features whose `*_var` columns are replaced by `ln(v + 1e-12)`, then
//! tempered (`softmax(ln p / T)`, `T` fitted on validation songs) so that the probabilities are
//! calibrated. This file is plain Rust (no tch): the spec, the LDA fit and the eval-mode forward
//! pass that `classify`, `embed` and `recommend` run.
//!
//! Tensors of `model.safetensors` (f32, PyTorch's `[out, in]` layout): `lda.weight` `[10, 57]`,
//! `lda.bias` `[10]`, `mlp.fc<k>.weight`/`.bias` per hidden layer, `mlp.out.weight`/`.bias`
//! (one MLP); with several members `mlp<j>.fc<k>…`, `mlp<j>.out…` for member `j`.

use super::dataset::Scaler;
use super::native::{Forward, Tensor32, Weights};
use super::{Layer, ModelError, ModelInfo};
use crate::features::{FeatureVector, FEATURE_COLUMNS, N_FEATURES};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// Architecture name written in `model.json`.
pub const ARCH: &str = "blend";
/// Number of classes.
pub const N_CLASSES: usize = 10;

/// Hyper-parameters of the blend (the candidate the search chose), saved in `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlendSpec {
    /// Widths of the MLP's hidden layers (ReLU after each).
    pub hidden: Vec<usize>,
    /// L2 penalty of the MLP's weights: `α/2 · Σ w² / batch` added to each batch's loss.
    pub alpha: f64,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Training stops once the epoch's training loss has not improved by `tol` for
    /// `n_iter_no_change` epochs (no validation song involved).
    pub tol: f64,
    pub n_iter_no_change: usize,
    /// Columns (0-based, feature order) replaced by `ln(max(v, 0) + 1e-12)` before
    /// standardisation: every `*_var` column.
    pub log_columns: Vec<usize>,
    /// Whether the saved model is refit on training + validation songs once its temperature
    /// is fitted (on the validation songs, with a fit on the training songs alone).
    pub refit: bool,
    /// MLPs trained from different seeds; their probabilities are averaged, then averaged with
    /// the LDA's. 1 in a `model.json` written before members.
    #[serde(default = "one")]
    pub members: usize,
    /// Songs the temperature is fitted on. `valid` in a `model.json` written before it.
    #[serde(default)]
    pub calibration: Calibration,
    /// Initial weights of the MLPs. `torch` in a `model.json` written before it.
    #[serde(default)]
    pub init: MlpInit,
}

/// How the MLPs' weights and biases are drawn before training (from a seeded Rust RNG).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MlpInit {
    /// PyTorch's default: `U(±1/√fan_in)`.
    #[default]
    Torch,
    /// scikit-learn's `MLPClassifier`: Glorot-uniform, `U(±√(6 / (fan_in + fan_out)))`.
    Glorot,
}

/// Songs the temperature is fitted on (minimum log-loss); never a test song.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Calibration {
    /// The validation songs, scored by the fit on the training songs.
    #[default]
    Valid,
    /// Out-of-fold probabilities of every training and validation song: the fit on the
    /// training songs scores the validation songs, a fit on the validation songs alone scores
    /// the training songs (the artist-filtered lists share no artist).
    CrossFit,
}

fn one() -> usize {
    1
}

impl Default for BlendSpec {
    fn default() -> Self {
        BlendSpec {
            hidden: vec![256, 128],
            alpha: 0.01,
            learning_rate: 1e-3,
            batch_size: 200,
            max_epochs: 800,
            tol: 1e-4,
            n_iter_no_change: 10,
            log_columns: variance_columns(),
            refit: true,
            members: DEFAULT_MEMBERS,
            calibration: Calibration::Valid,
            init: MlpInit::Torch,
        }
    }
}

/// What `model.json` records of a blend: its settings, its fitted temperature and how it was
/// chosen and fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlendInfo {
    pub spec: BlendSpec,
    /// `T` of `softmax(ln p / T)`, fitted on validation songs (minimum log-loss).
    pub temperature: f64,
    /// Accuracy of the train-only fit on the validation songs.
    pub val_accuracy: f64,
    /// What the saved model was fitted on, in words.
    pub fitted_on: String,
    /// How the architecture was chosen (the search and its validation figures).
    pub selection: Selection,
}

/// The validation figures the architecture was chosen by (`scripts/default_model_search.py`,
/// scikit-learn stand-ins of both members; no test song involved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    pub rule: String,
    pub candidates: usize,
    pub filtered_valid_accuracy: f64,
    pub filtered_valid_log_loss: f64,
    pub holdout_valid_accuracy: f64,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            rule: "scripts/default_model_search.py: among candidates whose mean holdout \
                   validation accuracy (10 seeds) is at least 0.74, the highest accuracy on the \
                   artist-filtered validation list (ties: lower validation log-loss); test lists \
                   never read"
                .into(),
            candidates: SEARCH_CANDIDATES,
            filtered_valid_accuracy: 0.528,
            filtered_valid_log_loss: 2.118,
            holdout_valid_accuracy: 0.744,
        }
    }
}

/// MLP members of the default blend: 1 (README: 3, 5 and 10 members, Glorot init and a cross-fitted
/// temperature were measured on the validation songs; none passed the search's rule better).
pub const DEFAULT_MEMBERS: usize = 1;

/// Candidates the search scored (README table).
pub const SEARCH_CANDIDATES: usize = 190;

/// Indices of the `*_var` columns.
pub fn variance_columns() -> Vec<usize> {
    FEATURE_COLUMNS
        .iter()
        .enumerate()
        .filter(|(_, c)| c.ends_with("_var"))
        .map(|(i, _)| i)
        .collect()
}

/// `ln(max(v, 0) + 1e-12)` on `columns`.
pub fn log_transform(columns: &[usize], row: &FeatureVector) -> FeatureVector {
    let mut out = *row;
    for &c in columns {
        if c < N_FEATURES {
            out[c] = (out[c].max(0.0) + 1e-12).ln();
        }
    }
    out
}

/// One raw row prepared (variance columns logged) and standardised: the network's input.
pub fn standardised(net: &BlendNet, scaler: &Scaler, row: &FeatureVector) -> Vec<f32> {
    scaler
        .transform(&net.prepare(row))
        .iter()
        .map(|&v| v as f32)
        .collect()
}

/// Looks a tensor up by name: its shape and data (f32), or `None` when absent.
pub type TensorSource<'a> = dyn FnMut(&str) -> Option<(Vec<usize>, Vec<f32>)> + 'a;

/// A dense layer `y = W·x + b`, `W` row-major `[out, in]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub out: usize,
    pub inp: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Dense {
    /// `W·x + b` of one input vector.
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        self.weight
            .chunks_exact(self.inp)
            .zip(&self.bias)
            .map(|(w, b)| b + w.iter().zip(x).map(|(a, v)| a * v).sum::<f32>())
            .collect()
    }
}

/// Row softmax (maximum subtracted first), in f64.
fn softmax(z: &[f32]) -> Vec<f64> {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = z.iter().map(|&v| (v as f64 - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// The fitted blend in eval mode: what inference needs.
#[derive(Debug, Clone, PartialEq)]
pub struct BlendNet {
    pub log_columns: Vec<usize>,
    pub lda: Dense,
    /// Each MLP member: its hidden layers then its output layer.
    pub mlp: Vec<Vec<Dense>>,
    pub temperature: f64,
}

/// The activations of one standardised row.
#[derive(Debug, Clone, PartialEq)]
pub struct BlendActivations {
    /// The MLP members' last hidden layers after ReLU, side by side.
    pub hidden: Vec<f32>,
    /// Averaged, tempered class probabilities.
    pub proba: Vec<f32>,
}

impl BlendNet {
    /// The row the scaler standardises: the variance columns log-transformed.
    pub fn prepare(&self, row: &FeatureVector) -> FeatureVector {
        log_transform(&self.log_columns, row)
    }

    /// Untempered averaged probabilities (the LDA's and the mean of the MLP members') and the
    /// members' last hidden layers, side by side, of one standardised row.
    pub fn forward_raw(&self, x: &[f32]) -> (Vec<f64>, Vec<f32>) {
        let p_lda = softmax(&self.lda.apply(x));
        let mut p_mlp = vec![0.0f64; p_lda.len()];
        let mut hidden_all = Vec::new();
        let m = self.mlp.len().max(1) as f64;
        for member in &self.mlp {
            let mut h = x.to_vec();
            let (out, hidden) = member.split_last().expect("an output layer");
            for l in hidden {
                h = l.apply(&h);
                h.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            for (a, b) in p_mlp.iter_mut().zip(softmax(&out.apply(&h))) {
                *a += b / m;
            }
            hidden_all.extend(h);
        }
        let h = hidden_all;
        let p = p_lda
            .iter()
            .zip(&p_mlp)
            .map(|(a, b)| (a + b) / 2.0)
            .collect();
        (p, h)
    }

    /// Probabilities and hidden layer of one standardised row, the probabilities tempered.
    pub fn forward(&self, x: &[f32]) -> BlendActivations {
        let (p, hidden) = self.forward_raw(x);
        BlendActivations {
            hidden,
            proba: temper64(&p, self.temperature),
        }
    }

    /// Every tensor by name, shape and data (what `model.safetensors` holds).
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let mut out = Vec::new();
        let mut push = |name: String, d: &Dense| {
            out.push((
                format!("{name}.weight"),
                vec![d.out, d.inp],
                d.weight.clone(),
            ));
            out.push((format!("{name}.bias"), vec![d.out], d.bias.clone()));
        };
        push("lda".into(), &self.lda);
        let members = self.mlp.len();
        for (j, member) in self.mlp.iter().enumerate() {
            let n = member.len();
            for (k, d) in member.iter().enumerate() {
                push(layer_name(j, members, k, n), d);
            }
        }
        out
    }

    /// Names and shapes of the tensors of a blend with `spec`, in [`BlendNet::tensors`] order.
    pub fn tensor_shapes(spec: &BlendSpec) -> Vec<(String, Vec<usize>)> {
        let mut widths = vec![N_FEATURES];
        widths.extend(&spec.hidden);
        widths.push(N_CLASSES);
        let mut out = vec![
            ("lda.weight".to_string(), vec![N_CLASSES, N_FEATURES]),
            ("lda.bias".to_string(), vec![N_CLASSES]),
        ];
        let n = widths.len() - 1;
        for j in 0..spec.members {
            for k in 0..n {
                let name = layer_name(j, spec.members, k, n);
                out.push((format!("{name}.weight"), vec![widths[k + 1], widths[k]]));
                out.push((format!("{name}.bias"), vec![widths[k + 1]]));
            }
        }
        out
    }

    /// The network of `info` from its tensors; `get(name)` gives a tensor's shape and data.
    pub fn from_tensors(info: &BlendInfo, get: &mut TensorSource<'_>) -> Result<BlendNet, String> {
        if !(info.temperature.is_finite() && info.temperature > 0.0) {
            return Err(format!(
                "`blend.temperature` must be a positive number, got {}",
                info.temperature
            ));
        }
        if info.spec.hidden.is_empty() || info.spec.hidden.iter().any(|&h| h == 0 || h > 65536) {
            return Err("`blend.spec.hidden`: 1 or more widths of 1 to 65536".into());
        }
        if info.spec.members == 0 || info.spec.members > 256 {
            return Err("`blend.spec.members`: 1 to 256 MLPs".into());
        }
        let mut layers = Vec::new();
        for (name, shape) in BlendNet::tensor_shapes(&info.spec) {
            let (s, d) = get(&name).ok_or_else(|| format!("tensor `{name}` missing"))?;
            if s != shape || d.len() != shape.iter().product::<usize>() {
                return Err(format!(
                    "tensor `{name}` has shape {s:?}, expected {shape:?}"
                ));
            }
            if d.iter().any(|v| !v.is_finite()) {
                return Err(format!("tensor `{name}` holds a value that is not finite"));
            }
            layers.push((shape, d));
        }
        let mut dense = layers.chunks(2).map(|wb| Dense {
            out: wb[0].0[0],
            inp: wb[0].0[1],
            weight: wb[0].1.clone(),
            bias: wb[1].1.clone(),
        });
        let lda = dense.next().ok_or("no lda layer")?;
        let per_member = info.spec.hidden.len() + 1;
        let layers: Vec<Dense> = dense.collect();
        Ok(BlendNet {
            log_columns: info.spec.log_columns.clone(),
            lda,
            mlp: layers.chunks(per_member).map(<[Dense]>::to_vec).collect(),
            temperature: info.temperature,
        })
    }
}

impl BlendNet {
    /// The blend of `info` (its `blend` record) with its tensors taken from `weights`.
    pub fn load(info: &ModelInfo, weights: &mut Weights) -> Result<BlendNet, ModelError> {
        let record = info.blend.as_ref().ok_or_else(|| {
            weights.incompatible("architecture `blend` without its `blend` record in model.json")
        })?;
        let mut taken: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
        for (name, shape) in BlendNet::tensor_shapes(&record.spec) {
            let data = weights.take(&name, &shape)?;
            taken.push((name, shape, data));
        }
        let mut get = |name: &str| {
            taken
                .iter()
                .find(|t| t.0 == name)
                .map(|t| (t.1.clone(), t.2.clone()))
        };
        BlendNet::from_tensors(record, &mut get).map_err(|r| weights.incompatible(r))
    }

    /// Its tensors as native [`Weights`] (what `model.safetensors` holds).
    pub fn weights(&self) -> Weights {
        Weights {
            path: std::path::PathBuf::from(super::WEIGHTS_FILE),
            tensors: self
                .tensors()
                .into_iter()
                .map(|(name, shape, data)| (name, Tensor32 { shape, data }))
                .collect(),
        }
    }
}

impl Forward for BlendNet {
    fn prepare(&self, row: &FeatureVector) -> FeatureVector {
        log_transform(&self.log_columns, row)
    }

    fn activations(&self, x: ArrayView2<'_, f32>, layer: Layer) -> Array2<f32> {
        let rows: Vec<Vec<f32>> = x
            .outer_iter()
            .map(|r| {
                let a = self.forward(&r.to_vec());
                match layer {
                    Layer::Probabilities => a.proba,
                    Layer::Flatten | Layer::Dense => a.hidden,
                    Layer::Combined => super::layer::unit_concat(&a.hidden, &a.proba),
                }
            })
            .collect();
        let width = rows.first().map_or(0, Vec::len);
        Array2::from_shape_vec((rows.len(), width), rows.concat()).expect("rows of equal width")
    }

    /// `combined`: the MLP members' last hidden layers and the probabilities, each at unit
    /// length.
    fn default_layer(&self) -> Layer {
        Layer::Combined
    }
}

/// Figures of one evaluation run (one seed of one protocol).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibratedRun {
    pub seed: u64,
    /// Train-only fit: validation accuracy, test accuracy, test ECE (tempered and not).
    pub val_accuracy: f64,
    /// Log-loss and ECE (15 bins) of the tempered train-only fit on the validation songs.
    #[serde(default)]
    pub val_log_loss: f64,
    #[serde(default)]
    pub val_ece: f64,
    pub test_accuracy: f64,
    pub ece: f64,
    pub ece_uncalibrated: f64,
    pub temperature: f64,
    /// The same model refit on training + validation songs (temperature kept): test accuracy
    /// and ECE (what the saved model is).
    pub refit_test_accuracy: f64,
    pub refit_ece: f64,
}

/// Means over the runs of one protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolFigures {
    pub protocol: String,
    pub seeds: Vec<u64>,
    pub test_size: usize,
    pub val_accuracy: f64,
    #[serde(default)]
    pub val_log_loss: f64,
    #[serde(default)]
    pub val_ece: f64,
    pub test_accuracy: f64,
    pub test_accuracy_std: f64,
    /// Expected calibration error (15 bins) on the test songs, tempered / untempered.
    pub ece: f64,
    pub ece_uncalibrated: f64,
    pub temperature: f64,
    pub refit_test_accuracy: f64,
    pub refit_test_accuracy_std: f64,
    pub refit_ece: f64,
    pub runs: Vec<CalibratedRun>,
}

/// What `train --json` adds for the blend: both protocols' figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlendFigures {
    /// The artist-filtered split (train on train, temperature on valid, test once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtered: Option<ProtocolFigures>,
    /// The stratified holdout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<ProtocolFigures>,
    /// Why a protocol is missing, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Summarises runs of the protocol named `protocol`.
pub fn summarise_runs(protocol: &str, runs: &[CalibratedRun], test_size: usize) -> ProtocolFigures {
    use super::evaluation::mean_std;
    let m = |f: &dyn Fn(&CalibratedRun) -> f64| mean_std(&runs.iter().map(f).collect::<Vec<_>>());
    ProtocolFigures {
        protocol: protocol.into(),
        seeds: runs.iter().map(|r| r.seed).collect(),
        test_size,
        val_accuracy: m(&|r| r.val_accuracy).0,
        val_log_loss: m(&|r| r.val_log_loss).0,
        val_ece: m(&|r| r.val_ece).0,
        test_accuracy: m(&|r| r.test_accuracy).0,
        test_accuracy_std: m(&|r| r.test_accuracy).1,
        ece: m(&|r| r.ece).0,
        ece_uncalibrated: m(&|r| r.ece_uncalibrated).0,
        temperature: m(&|r| r.temperature).0,
        refit_test_accuracy: m(&|r| r.refit_test_accuracy).0,
        refit_test_accuracy_std: m(&|r| r.refit_test_accuracy).1,
        refit_ece: m(&|r| r.refit_ece).0,
        runs: runs.to_vec(),
    }
}

/// Layer `k` of `n_layers` of member `j` of `members`: `mlp.fc<k>` / `mlp.out` for a single
/// MLP (the names of `model.json`s written before members), `mlp<j>.fc<k>` / `mlp<j>.out` for
/// several.
fn layer_name(j: usize, members: usize, k: usize, n_layers: usize) -> String {
    let prefix = if members == 1 {
        "mlp".to_string()
    } else {
        format!("mlp{j}")
    };
    if k + 1 == n_layers {
        format!("{prefix}.out")
    } else {
        format!("{prefix}.fc{k}")
    }
}

/// The softmax of `ln p / t`.
pub fn temper64(p: &[f64], t: f64) -> Vec<f32> {
    let logs: Vec<f64> = p.iter().map(|&v| v.max(1e-12).ln() / t).collect();
    let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logs.iter().map(|l| (l - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| (v / s) as f32).collect()
}

/// Linear discriminant analysis with Ledoit–Wolf shrinkage, as scikit-learn's
/// `LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")`: the covariance is the
/// prior-weighted sum of each class's shrunk covariance (each estimated on standardised columns
/// and scaled back); `coef = Σ⁻¹ μ_k`, `intercept = -½ μ_k·coef_k + ln π_k`; the probabilities
/// are the softmax of `x·coef + intercept`. `x`: standardised rows; every class must occur.
pub fn fit_lda(x: &[[f64; N_FEATURES]], y: &[usize]) -> Result<Dense, String> {
    const D: usize = N_FEATURES;
    let n = x.len();
    let mut cov = vec![0.0f64; D * D];
    let mut means = vec![[0.0f64; D]; N_CLASSES];
    let mut priors = [0.0f64; N_CLASSES];
    for c in 0..N_CLASSES {
        let rows: Vec<&[f64; D]> = x
            .iter()
            .zip(y)
            .filter(|(_, &l)| l == c)
            .map(|(r, _)| r)
            .collect();
        if rows.is_empty() {
            return Err(format!(
                "no training song of genre {}",
                crate::config::GENRES[c]
            ));
        }
        priors[c] = rows.len() as f64 / n as f64;
        let m = rows.len() as f64;
        for r in &rows {
            for k in 0..D {
                means[c][k] += r[k] / m;
            }
        }
        let s = ledoit_wolf_cov(&rows, &means[c]);
        for (a, b) in cov.iter_mut().zip(&s) {
            *a += priors[c] * b;
        }
    }
    let chol = cholesky(&cov, D).ok_or("the pooled covariance is not positive definite")?;
    let mut weight = Vec::with_capacity(N_CLASSES * D);
    let mut bias = Vec::with_capacity(N_CLASSES);
    for c in 0..N_CLASSES {
        let coef = cholesky_solve(&chol, D, &means[c]);
        let quad: f64 = coef.iter().zip(&means[c]).map(|(a, b)| a * b).sum();
        bias.push((-0.5 * quad + priors[c].ln()) as f32);
        weight.extend(coef.iter().map(|&v| v as f32));
    }
    Ok(Dense {
        out: N_CLASSES,
        inp: D,
        weight,
        bias,
    })
}

/// scikit-learn's `_cov(X, shrinkage="auto")`: the columns standardised (population deviation,
/// 1 for a constant column), Ledoit–Wolf's shrunk covariance of them, scaled back.
fn ledoit_wolf_cov(rows: &[&[f64; N_FEATURES]], mean: &[f64; N_FEATURES]) -> Vec<f64> {
    const D: usize = N_FEATURES;
    let n = rows.len() as f64;
    let mut scale = [0.0f64; D];
    for r in rows {
        for k in 0..D {
            scale[k] += (r[k] - mean[k]).powi(2);
        }
    }
    for s in scale.iter_mut() {
        let sd = (*s / n).sqrt();
        *s = if sd > 0.0 && sd.is_finite() { sd } else { 1.0 };
    }
    let z: Vec<[f64; D]> = rows
        .iter()
        .map(|r| {
            let mut o = [0.0; D];
            for k in 0..D {
                o[k] = (r[k] - mean[k]) / scale[k];
            }
            o
        })
        .collect();
    // Empirical covariance (biased) of the centred, standardised rows.
    let mut emp = vec![0.0f64; D * D];
    for r in &z {
        for i in 0..D {
            for j in 0..D {
                emp[i * D + j] += r[i] * r[j] / n;
            }
        }
    }
    let trace: f64 = (0..D).map(|i| emp[i * D + i]).sum();
    let mu = trace / D as f64;
    // Ledoit–Wolf shrinkage (scikit-learn's ledoit_wolf_shrinkage on centred data).
    let mut beta_sum = 0.0;
    for r in &z {
        let sq: f64 = r.iter().map(|v| v * v).sum();
        beta_sum += sq * sq;
    }
    let delta_sum: f64 = emp.iter().map(|v| v * v).sum::<f64>(); // Σ (XᵀX/n)²
    let beta = (beta_sum / n - delta_sum) / (D as f64 * n);
    let delta = (delta_sum - 2.0 * mu * trace + D as f64 * mu * mu) / D as f64;
    let beta = beta.min(delta);
    let shrinkage = if beta == 0.0 { 0.0 } else { beta / delta };
    let mut out = vec![0.0f64; D * D];
    for i in 0..D {
        for j in 0..D {
            let mut v = (1.0 - shrinkage) * emp[i * D + j];
            if i == j {
                v += shrinkage * mu;
            }
            out[i * D + j] = v * scale[i] * scale[j];
        }
    }
    out
}

/// Lower-triangular `L` with `L·Lᵀ = a` (`a` symmetric `[d, d]`), or `None` when `a` is not
/// positive definite.
fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            if i == j {
                let v = a[i * d + i] - s;
                if !(v > 0.0 && v.is_finite()) {
                    return None;
                }
                l[i * d + i] = v.sqrt();
            } else {
                l[i * d + j] = (a[i * d + j] - s) / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// Solves `L·Lᵀ·x = b`.
fn cholesky_solve(l: &[f64], d: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0f64; d];
    for i in 0..d {
        let s: f64 = (0..i).map(|k| l[i * d + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * d + i];
    }
    let mut x = vec![0.0f64; d];
    for i in (0..d).rev() {
        let s: f64 = (i + 1..d).map(|k| l[k * d + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * d + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        // [[4, 2], [2, 3]] x = [2, 1] → x = [0.5, 0].
        let d = 2;
        let l = cholesky(&[4.0, 2.0, 2.0, 3.0], d).unwrap();
        let x = cholesky_solve(&l, d, &[2.0, 1.0]);
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], d).is_none());
    }

    #[test]
    fn a_spec_written_before_members_reads_as_one_torch_initialised_mlp() {
        let mut v = serde_json::to_value(BlendSpec::default()).unwrap();
        let o = v.as_object_mut().unwrap();
        for k in ["members", "calibration", "init"] {
            assert!(o.remove(k).is_some(), "{k}");
        }
        let old: BlendSpec = serde_json::from_value(v).unwrap();
        assert_eq!(old.members, 1);
        assert_eq!(old.calibration, Calibration::Valid);
        assert_eq!(old.init, MlpInit::Torch);
        let json = serde_json::to_string(&BlendSpec {
            calibration: Calibration::CrossFit,
            init: MlpInit::Glorot,
            ..BlendSpec::default()
        })
        .unwrap();
        assert!(
            json.contains(r#""calibration":"cross-fit""#) && json.contains(r#""init":"glorot""#)
        );
    }

    #[test]
    fn tensors_round_trip_and_probabilities_sum_to_one() {
        let spec = BlendSpec {
            hidden: vec![3],
            members: 2,
            ..BlendSpec::default()
        };
        let shapes = BlendNet::tensor_shapes(&spec);
        let names: Vec<&str> = shapes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "lda.weight",
                "lda.bias",
                "mlp0.fc0.weight",
                "mlp0.fc0.bias",
                "mlp0.out.weight",
                "mlp0.out.bias",
                "mlp1.fc0.weight",
                "mlp1.fc0.bias",
                "mlp1.out.weight",
                "mlp1.out.bias"
            ]
        );
        // One member keeps the names of the models written before members.
        let single = BlendSpec {
            members: 1,
            ..spec.clone()
        };
        assert_eq!(BlendNet::tensor_shapes(&single)[2].0, "mlp.fc0.weight");
        let tensors: Vec<(String, Vec<usize>, Vec<f32>)> = shapes
            .iter()
            .map(|(n, s)| {
                let len: usize = s.iter().product();
                (
                    n.clone(),
                    s.clone(),
                    (0..len).map(|i| ((i % 7) as f32 - 3.0) / 10.0).collect(),
                )
            })
            .collect();
        let info = BlendInfo {
            spec,
            temperature: 2.0,
            val_accuracy: 0.5,
            fitted_on: String::new(),
            selection: Selection::default(),
        };
        let mut get = |name: &str| {
            tensors
                .iter()
                .find(|t| t.0 == name)
                .map(|t| (t.1.clone(), t.2.clone()))
        };
        let net = BlendNet::from_tensors(&info, &mut get).unwrap();
        assert_eq!(net.tensors(), tensors);
        let a = net.forward(&[0.5; N_FEATURES]);
        assert_eq!(a.hidden.len(), 6);
        assert!((a.proba.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // A missing tensor or a bad temperature is refused, naming it.
        let mut none = |_: &str| None;
        assert!(BlendNet::from_tensors(&info, &mut none)
            .unwrap_err()
            .contains("lda.weight"));
        let bad = BlendInfo {
            temperature: 0.0,
            ..info
        };
        assert!(BlendNet::from_tensors(&bad, &mut get)
            .unwrap_err()
            .contains("temperature"));
    }
}
