//! The paper's 1-D CNN on the 57 standardised features (one channel of length 57):
//!
//! Conv1d(1→64, k=3) → ReLU → BatchNorm · Conv1d(64→128, k=3) → BatchNorm → ReLU ·
//! Conv1d(128→128, k=2) → ReLU → MaxPool(2) · Flatten (128×26) · Dense(128) → ReLU ·
//! Dropout(0.6) · Dense(10) (softmax in the loss and in `predict_proba`).
//!
//! Weights are initialised as PyTorch does (uniform ±1/√fan_in for convolutions and dense
//! layers, BatchNorm scale 1 and shift 0), but from a seeded Rust RNG, and dropout masks also come
//! from a Rust RNG: a run depends on its seed only, not on libtorch's global generator.

use rand::rngs::StdRng;
use rand::Rng;
use tch::nn;
use tch::{Device, Kind, Tensor};
use tuneprint::features::N_FEATURES;

/// Architecture name written in `model.json`.
pub const ARCH: &str = tuneprint::model::native::paper::ARCH;
/// Number of classes of a GTZAN model (a model trained on a library's own genre tags has as
/// many as its label set: [`Cnn::with_classes`]).
pub const N_CLASSES: i64 = 10;
/// Channels of the last convolution.
pub const CONV_CHANNELS: i64 = 128;
/// Length of the sequence after the max-pool: 57 → 55 → 53 → 52 → 26.
pub const POOLED_LEN: i64 = (N_FEATURES as i64 - 2 - 2 - 1) / 2;
/// Size of the flatten-layer embedding (128 × 26 = 3328).
pub const EMBED_DIM: usize = (CONV_CHANNELS * POOLED_LEN) as usize;
/// Size of the dense-layer embedding.
pub const DENSE_DIM: usize = 128;

/// The network's layers.
#[derive(Debug)]
pub struct Cnn {
    conv1: nn::Conv1D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv1D,
    bn2: nn::BatchNorm,
    conv3: nn::Conv1D,
    fc1: nn::Linear,
    fc2: nn::Linear,
    dropout: f64,
}

/// Activations of one forward pass.
pub struct Activations {
    /// Flatten layer, `[n, 3328]`.
    pub flat: Tensor,
    /// Dense(128) after ReLU, `[n, 128]`.
    pub dense: Tensor,
    /// Class scores before softmax, `[n, 10]`.
    pub logits: Tensor,
}

fn zeros_conv() -> nn::ConvConfig {
    nn::ConvConfig {
        ws_init: nn::Init::Const(0.),
        bs_init: nn::Init::Const(0.),
        ..Default::default()
    }
}

fn zeros_linear() -> nn::LinearConfig {
    nn::LinearConfig {
        ws_init: nn::Init::Const(0.),
        bs_init: Some(nn::Init::Const(0.)),
        bias: true,
    }
}

fn bn_config() -> nn::BatchNormConfig {
    nn::BatchNormConfig {
        ws_init: nn::Init::Const(1.),
        bs_init: nn::Init::Const(0.),
        ..Default::default()
    }
}

/// Fills `t` with uniform values in ±`bound` drawn from `rng`.
fn fill_uniform(t: &Tensor, bound: f64, rng: &mut StdRng) {
    let n = t.numel();
    let vals: Vec<f32> = (0..n)
        .map(|_| rng.gen_range(-bound..bound) as f32)
        .collect();
    let src = Tensor::from_slice(&vals)
        .reshape(t.size())
        .to_device(t.device());
    tch::no_grad(|| {
        let mut t = t.shallow_clone();
        t.copy_(&src);
    });
}

impl Cnn {
    /// Creates the layers under `p` (weights all zero: call [`Cnn::init`] or load weights).
    pub fn new(p: &nn::Path) -> Cnn {
        Cnn::with_classes(p, N_CLASSES)
    }

    /// [`Cnn::new`] with `n_classes` outputs.
    pub fn with_classes(p: &nn::Path, n_classes: i64) -> Cnn {
        Cnn {
            conv1: nn::conv1d(p / "conv1", 1, 64, 3, zeros_conv()),
            bn1: nn::batch_norm1d(p / "bn1", 64, bn_config()),
            conv2: nn::conv1d(p / "conv2", 64, 128, 3, zeros_conv()),
            bn2: nn::batch_norm1d(p / "bn2", 128, bn_config()),
            conv3: nn::conv1d(p / "conv3", 128, CONV_CHANNELS, 2, zeros_conv()),
            fc1: nn::linear(
                p / "fc1",
                EMBED_DIM as i64,
                DENSE_DIM as i64,
                zeros_linear(),
            ),
            fc2: nn::linear(p / "fc2", DENSE_DIM as i64, n_classes, zeros_linear()),
            dropout: tuneprint::config::DROPOUT,
        }
    }

    /// Initialises the weights as PyTorch's defaults, from `rng`.
    pub fn init(&self, rng: &mut StdRng) {
        for conv in [&self.conv1, &self.conv2, &self.conv3] {
            let s = conv.ws.size();
            let bound = 1.0 / ((s[1] * s[2]) as f64).sqrt();
            fill_uniform(&conv.ws, bound, rng);
            if let Some(b) = &conv.bs {
                fill_uniform(b, bound, rng);
            }
        }
        for fc in [&self.fc1, &self.fc2] {
            let bound = 1.0 / (fc.ws.size()[1] as f64).sqrt();
            fill_uniform(&fc.ws, bound, rng);
            if let Some(b) = &fc.bs {
                fill_uniform(b, bound, rng);
            }
        }
    }

    /// Forward pass over `xs` of shape `[n, 57]` (standardised features). In training mode
    /// BatchNorm uses batch statistics and updates its running ones, and dropout draws its mask
    /// from `rng` (required then).
    pub fn forward(&self, xs: &Tensor, train: bool, rng: Option<&mut StdRng>) -> Activations {
        let n = xs.size()[0];
        let x = xs.view([n, 1, N_FEATURES as i64]);
        let x = x.apply(&self.conv1).relu().apply_t(&self.bn1, train);
        let x = x.apply(&self.conv2).apply_t(&self.bn2, train).relu();
        let x = x
            .apply(&self.conv3)
            .relu()
            .max_pool1d([2], [2], [0], [1], false);
        let flat = x.flatten(1, -1);
        let dense = flat.apply(&self.fc1).relu();
        let dropped = match (train, rng) {
            (true, Some(rng)) if self.dropout > 0.0 => {
                &dense * dropout_mask(&dense, self.dropout, rng)
            }
            _ => dense.shallow_clone(),
        };
        let logits = dropped.apply(&self.fc2);
        Activations {
            flat,
            dense,
            logits,
        }
    }
}

/// An inverted-dropout mask shaped like `t`: each element kept with probability `1 - p` (and
/// scaled by `1 / (1 - p)`), drawn from `rng` in element order so runs are reproducible.
pub(crate) fn dropout_mask(t: &Tensor, p: f64, rng: &mut StdRng) -> Tensor {
    let keep = 1.0 - p;
    let mask: Vec<f32> = (0..t.numel())
        .map(|_| {
            if rng.gen::<f64>() < keep {
                (1.0 / keep) as f32
            } else {
                0.0
            }
        })
        .collect();
    Tensor::from_slice(&mask)
        .reshape(t.size())
        .to_device(t.device())
}

/// Builds a `[n, 57]` float tensor on `device` from a flat row-major buffer.
pub fn input_tensor(flat: &[f32], device: Device) -> Tensor {
    let n = (flat.len() / N_FEATURES) as i64;
    Tensor::from_slice(flat)
        .view([n, N_FEATURES as i64])
        .to_kind(Kind::Float)
        .to_device(device)
}

/// Copies a 2-D float tensor into rows of `f32`.
pub fn to_rows(t: &Tensor) -> Vec<Vec<f32>> {
    let t = t.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
    let d = t.size().get(1).copied().unwrap_or(1).max(1) as usize;
    let flat: Vec<f32> = Vec::try_from(&t.flatten(0, -1)).unwrap_or_default();
    flat.chunks(d).map(<[f32]>::to_vec).collect()
}
