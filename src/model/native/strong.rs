//! The strong ensemble in eval mode (see `model::strong` for its training): each member an MLP
//! `57 → hidden… → 10` with ReLU after each hidden layer, on standardised features whose
//! variance columns are log-transformed; the ensemble averages the members' softmax
//! probabilities, and its embedding is the members' last hidden layers side by side.

use super::{combine, linear, relu, softmax, Forward, Weights};
use crate::features::{FeatureVector, N_FEATURES};
use crate::model::dataset::variance_columns;
use crate::model::{Layer, ModelError, ModelInfo};
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// Architecture name written in `model.json`.
pub const ARCH: &str = "strong";
/// Number of classes.
pub const N_CLASSES: usize = 10;

/// Hyper-parameters of the strong ensemble, saved in `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrongSpec {
    /// MLPs in the ensemble (seeds `seed·1000 + k`).
    pub members: usize,
    /// Widths of the hidden layers (ReLU, dropout after each).
    pub hidden: Vec<usize>,
    pub dropout: f64,
    /// Standard deviation of the Gaussian noise added to the standardised inputs in training.
    pub input_noise: f64,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f64,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Epochs without a lower validation loss before a member stops.
    pub patience: usize,
    /// Columns (0-based, [`FEATURE_COLUMNS`] order) replaced by `ln(v + 1e-12)` before
    /// standardisation: every `*_var` column.
    pub log_columns: Vec<usize>,
}

impl Default for StrongSpec {
    fn default() -> Self {
        StrongSpec {
            members: 5,
            hidden: vec![512, 256],
            dropout: 0.5,
            input_noise: 0.4,
            weight_decay: 1e-2,
            learning_rate: 1e-3,
            batch_size: 64,
            max_epochs: 300,
            patience: 30,
            log_columns: variance_columns(),
        }
    }
}

/// The feature transform applied before standardisation.
pub fn transform(spec: &StrongSpec, row: &FeatureVector) -> FeatureVector {
    let mut out = *row;
    for &c in &spec.log_columns {
        if c < N_FEATURES {
            out[c] = (out[c].max(0.0) + 1e-12).ln();
        }
    }
    out
}

/// Transformed rows.
pub fn transform_rows(spec: &StrongSpec, rows: &[FeatureVector]) -> Vec<FeatureVector> {
    rows.iter().map(|r| transform(spec, r)).collect()
}

/// One member: its hidden layers and its output layer, each `(weight [out, in], bias)`.
#[derive(Debug)]
struct Mlp {
    hidden: Vec<(Array2<f32>, Vec<f32>)>,
    out: (Array2<f32>, Vec<f32>),
}

impl Mlp {
    /// `(last hidden layer after ReLU, logits)`.
    fn pass(&self, x: ArrayView2<'_, f32>) -> (Array2<f32>, Array2<f32>) {
        let mut h = x.to_owned();
        for (w, b) in &self.hidden {
            h = linear(h.view(), w, b);
            relu(&mut h);
        }
        let logits = linear(h.view(), &self.out.0, &self.out.1);
        (h, logits)
    }
}

/// The trained ensemble.
#[derive(Debug)]
pub struct StrongNet {
    spec: StrongSpec,
    members: Vec<Mlp>,
}

impl StrongNet {
    /// The ensemble `info.strong` describes, its tensors (`m0.fc0.weight`, ..., `m0.out.bias`)
    /// taken from `weights`.
    pub fn load(info: &ModelInfo, weights: &mut Weights) -> Result<StrongNet, ModelError> {
        let spec = info.strong.clone().ok_or_else(|| {
            weights
                .incompatible("architecture `strong` without its `strong` settings in model.json")
        })?;
        if spec.members == 0
            || spec.members > 64
            || spec.hidden.is_empty()
            || spec.hidden.iter().any(|&h| h == 0 || h > 65536)
        {
            return Err(
                weights.incompatible("`strong`: 1 to 64 members with hidden widths of 1 to 65536")
            );
        }
        let classes = info.genres.len();
        let mut members = Vec::with_capacity(spec.members);
        for k in 0..spec.members {
            let mut hidden = Vec::new();
            let mut width = N_FEATURES;
            for (j, &h) in spec.hidden.iter().enumerate() {
                hidden.push((
                    weights.take_matrix(&format!("m{k}.fc{j}.weight"), &[h, width])?,
                    weights.take(&format!("m{k}.fc{j}.bias"), &[h])?,
                ));
                width = h;
            }
            let out = (
                weights.take_matrix(&format!("m{k}.out.weight"), &[classes, width])?,
                weights.take(&format!("m{k}.out.bias"), &[classes])?,
            );
            members.push(Mlp { hidden, out });
        }
        Ok(StrongNet { spec, members })
    }

    /// The members' last hidden layers side by side, and the mean of their probabilities.
    fn pass(
        &self,
        x: ArrayView2<'_, f32>,
        want_hidden: bool,
        want_proba: bool,
    ) -> (Array2<f32>, Array2<f32>) {
        let mut hidden = Vec::new();
        let classes = self.members.first().map_or(0, |m| m.out.1.len());
        let mut sum = Array2::<f32>::zeros((x.nrows(), classes));
        for m in &self.members {
            let (h, logits) = m.pass(x);
            if want_proba {
                sum += &softmax(&logits);
            }
            if want_hidden {
                hidden.push(h);
            }
        }
        let proba = sum / self.members.len() as f32;
        let views: Vec<_> = hidden.iter().map(|h| h.view()).collect();
        let hidden = if views.is_empty() {
            Array2::zeros((x.nrows(), 0))
        } else {
            ndarray::concatenate(Axis(1), &views).expect("rows of equal count")
        };
        (hidden, proba)
    }
}

impl Forward for StrongNet {
    fn prepare(&self, row: &FeatureVector) -> FeatureVector {
        transform(&self.spec, row)
    }

    fn activations(&self, x: ArrayView2<'_, f32>, layer: Layer) -> Array2<f32> {
        match layer {
            Layer::Flatten | Layer::Dense => self.pass(x, true, false).0,
            Layer::Probabilities => self.pass(x, false, true).1,
            Layer::Combined => {
                let (h, p) = self.pass(x, true, true);
                combine(&h, &p)
            }
        }
    }

    fn default_layer(&self) -> Layer {
        Layer::Combined
    }
}
