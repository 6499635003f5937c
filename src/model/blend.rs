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

use crate::features::{FeatureVector, N_FEATURES};
use crate::model::dataset::variance_columns;
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
}
