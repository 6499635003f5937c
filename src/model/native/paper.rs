//! The paper's 1-D CNN in eval mode (see `model::cnn` for the network it was trained as):
//!
//! Conv1d(1→64, k=3) → ReLU → BatchNorm · Conv1d(64→128, k=3) → BatchNorm → ReLU ·
//! Conv1d(128→128, k=2) → ReLU → MaxPool(2) · Flatten (128×26) · Dense(128) → ReLU ·
//! Dense(10) → softmax. Dropout is the identity in eval mode; BatchNorm uses its running
//! statistics. The convolutions run as matrix products over unfolded windows (im2col).

use super::{combine, linear, relu, softmax, Forward, Weights};
use crate::features::N_FEATURES;
use crate::model::Layer;
use ndarray::{Array2, ArrayView2};

/// Architecture name written in `model.json`.
pub const ARCH: &str = "paper";
/// Number of classes (GTZAN genres).
pub const N_CLASSES: usize = 10;
/// Channels of the first convolution.
pub const CONV1_CHANNELS: usize = 64;
/// Channels of the second and last convolutions.
pub const CONV_CHANNELS: usize = 128;
/// Length of the sequence after the max-pool: 57 → 55 → 53 → 52 → 26.
pub const POOLED_LEN: usize = (N_FEATURES - 2 - 2 - 1) / 2;
/// Size of the flatten-layer embedding (128 × 26 = 3328).
pub const EMBED_DIM: usize = CONV_CHANNELS * POOLED_LEN;
/// Size of the dense-layer embedding.
pub const DENSE_DIM: usize = 128;
/// BatchNorm's epsilon (PyTorch's default, as trained).
pub const BN_EPS: f32 = 1e-5;

/// A Conv1d layer: weight `[out, in · k]` (PyTorch's `[out, in, k]` flattened), bias `[out]`.
#[derive(Debug)]
struct Conv {
    w: Array2<f32>,
    b: Vec<f32>,
    k: usize,
}

impl Conv {
    fn load(
        weights: &mut Weights,
        name: &str,
        cin: usize,
        cout: usize,
        k: usize,
    ) -> Result<Conv, crate::model::ModelError> {
        Ok(Conv {
            w: weights.take_matrix(&format!("{name}.weight"), &[cout, cin, k])?,
            b: weights.take(&format!("{name}.bias"), &[cout])?,
            k,
        })
    }

    fn cin(&self) -> usize {
        self.w.ncols() / self.k
    }

    /// Convolves `x` (`[n, cin, len]` flattened) into `[cout, n · (len - k + 1)]`, bias added:
    /// column `b · out_len + t` is position `t` of row `b`.
    fn apply(&self, x: &[f32], n: usize, len: usize) -> (Array2<f32>, usize) {
        let (cin, k) = (self.cin(), self.k);
        let out_len = len + 1 - k;
        let mut cols = Array2::<f32>::zeros((cin * k, n * out_len));
        for b in 0..n {
            for c in 0..cin {
                let src = &x[(b * cin + c) * len..(b * cin + c + 1) * len];
                for j in 0..k {
                    let mut row = cols.row_mut(c * k + j);
                    let dst = &mut row.as_slice_mut().expect("standard layout")
                        [b * out_len..(b + 1) * out_len];
                    dst.copy_from_slice(&src[j..j + out_len]);
                }
            }
        }
        let mut y = Array2::<f32>::zeros((self.w.nrows(), n * out_len));
        ndarray::linalg::general_mat_mul(1.0, &self.w, &cols, 0.0, &mut y);
        for (mut row, &bias) in y.outer_iter_mut().zip(&self.b) {
            row.mapv_inplace(|v| v + bias);
        }
        (y, out_len)
    }
}

/// BatchNorm in eval mode, as `x · scale + shift` per channel.
#[derive(Debug)]
struct BatchNorm {
    scale: Vec<f32>,
    shift: Vec<f32>,
}

impl BatchNorm {
    fn load(
        weights: &mut Weights,
        name: &str,
        c: usize,
    ) -> Result<BatchNorm, crate::model::ModelError> {
        let w = weights.take(&format!("{name}.weight"), &[c])?;
        let b = weights.take(&format!("{name}.bias"), &[c])?;
        let mean = weights.take(&format!("{name}.running_mean"), &[c])?;
        let var = weights.take(&format!("{name}.running_var"), &[c])?;
        let scale: Vec<f32> = w
            .iter()
            .zip(&var)
            .map(|(w, v)| w / (v + BN_EPS).sqrt())
            .collect();
        let shift = b
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        Ok(BatchNorm { scale, shift })
    }

    fn apply(&self, c: usize, v: f32) -> f32 {
        v * self.scale[c] + self.shift[c]
    }
}

/// The trained CNN.
#[derive(Debug)]
pub struct PaperNet {
    conv1: Conv,
    bn1: BatchNorm,
    conv2: Conv,
    bn2: BatchNorm,
    conv3: Conv,
    fc1: (Array2<f32>, Vec<f32>),
    fc2: (Array2<f32>, Vec<f32>),
}

/// Activations of one eval-mode pass.
struct Pass {
    flat: Array2<f32>,
    dense: Array2<f32>,
    logits: Array2<f32>,
}

impl PaperNet {
    /// Takes the network's tensors (`conv1.weight`, `bn1.running_mean`, ...) from `weights`;
    /// `classes` outputs (10 for GTZAN, a library's own label set otherwise).
    pub fn load(
        weights: &mut Weights,
        classes: usize,
    ) -> Result<PaperNet, crate::model::ModelError> {
        Ok(PaperNet {
            conv1: Conv::load(weights, "conv1", 1, CONV1_CHANNELS, 3)?,
            bn1: BatchNorm::load(weights, "bn1", CONV1_CHANNELS)?,
            conv2: Conv::load(weights, "conv2", CONV1_CHANNELS, CONV_CHANNELS, 3)?,
            bn2: BatchNorm::load(weights, "bn2", CONV_CHANNELS)?,
            conv3: Conv::load(weights, "conv3", CONV_CHANNELS, CONV_CHANNELS, 2)?,
            fc1: (
                weights.take_matrix("fc1.weight", &[DENSE_DIM, EMBED_DIM])?,
                weights.take("fc1.bias", &[DENSE_DIM])?,
            ),
            fc2: (
                weights.take_matrix("fc2.weight", &[classes, DENSE_DIM])?,
                weights.take("fc2.bias", &[classes])?,
            ),
        })
    }

    fn pass(&self, x: ArrayView2<'_, f32>) -> Pass {
        let n = x.nrows();
        let input: Vec<f32> = x.iter().copied().collect();
        // conv1 → ReLU → BatchNorm, back to [n, 64, 55].
        let (y, len1) = self.conv1.apply(&input, n, N_FEATURES);
        let h1 = to_rows(&y, n, len1, |c, v| self.bn1.apply(c, v.max(0.0)));
        // conv2 → BatchNorm → ReLU, [n, 128, 53].
        let (y, len2) = self.conv2.apply(&h1, n, len1);
        let h2 = to_rows(&y, n, len2, |c, v| self.bn2.apply(c, v).max(0.0));
        // conv3 → ReLU → MaxPool(2) → Flatten (channel-major), [n, 3328].
        let (y, len3) = self.conv3.apply(&h2, n, len2);
        let pooled = len3 / 2;
        let channels = y.nrows();
        let mut flat = Array2::<f32>::zeros((n, channels * pooled));
        for (c, row) in y.outer_iter().enumerate() {
            for b in 0..n {
                let src = &row.as_slice().expect("standard layout")[b * len3..];
                for t in 0..pooled {
                    let (a, z) = (src[2 * t].max(0.0), src[2 * t + 1].max(0.0));
                    flat[[b, c * pooled + t]] = if z > a { z } else { a };
                }
            }
        }
        let mut dense = linear(flat.view(), &self.fc1.0, &self.fc1.1);
        relu(&mut dense);
        let logits = linear(dense.view(), &self.fc2.0, &self.fc2.1);
        Pass {
            flat,
            dense,
            logits,
        }
    }
}

/// `[cout, n · len]` (channel-major matrix product) to `[n, cout, len]` rows, with `f(channel,
/// value)` applied to each value.
fn to_rows(y: &Array2<f32>, n: usize, len: usize, f: impl Fn(usize, f32) -> f32) -> Vec<f32> {
    let channels = y.nrows();
    let mut out = vec![0.0f32; n * channels * len];
    for (c, row) in y.outer_iter().enumerate() {
        let src = row.as_slice().expect("standard layout");
        for b in 0..n {
            let dst = &mut out[(b * channels + c) * len..(b * channels + c + 1) * len];
            for (d, &v) in dst.iter_mut().zip(&src[b * len..(b + 1) * len]) {
                *d = f(c, v);
            }
        }
    }
    out
}

impl Forward for PaperNet {
    fn activations(&self, x: ArrayView2<'_, f32>, layer: Layer) -> Array2<f32> {
        let p = self.pass(x);
        match layer {
            Layer::Flatten => p.flat,
            Layer::Dense => p.dense,
            Layer::Probabilities => softmax(&p.logits),
            Layer::Combined => combine(&p.dense, &softmax(&p.logits)),
        }
    }

    fn default_layer(&self) -> Layer {
        Layer::Flatten
    }
}
