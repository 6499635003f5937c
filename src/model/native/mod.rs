//! Inference in plain Rust (no tch): the trained networks' eval-mode forward passes, from the
//! weights of a model directory. `tuneprint` classifies, embeds and recommends with these and
//! never loads libtorch; training (tch) writes the weights they read.
//!
//! Each architecture is one variant of [`NativeNet`] with its own file implementing
//! [`Forward`]. Adding one: a file with the network (its `ARCH` name, a `load` from
//! [`Weights`], a [`Forward`] impl), then one variant and its arm in each `match` of this file.

pub mod blend;
pub mod paper;
pub mod strong;

use super::dataset::Scaler;
use super::{Arch, Layer, ModelError, ModelInfo};
use crate::features::{FeatureVector, N_FEATURES};
use ndarray::{Array2, ArrayView2};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A network's eval-mode forward pass on standardised inputs.
pub trait Forward: Send + Sync {
    /// The row the scaler standardises, made from raw features (the identity unless the
    /// network transforms its inputs first).
    fn prepare(&self, row: &FeatureVector) -> FeatureVector {
        *row
    }

    /// The activations `layer` of the standardised inputs `x` (`[n, 57]`), one row per input
    /// row. Every network answers every [`Layer`] (one it lacks maps to its nearest).
    fn activations(&self, x: ArrayView2<'_, f32>, layer: Layer) -> Array2<f32>;

    /// The embedding recommended with when `model.json` names none.
    fn default_layer(&self) -> Layer;
}

/// The networks this build runs natively.
#[derive(Debug)]
pub enum NativeNet {
    Paper(Box<paper::PaperNet>),
    Strong(strong::StrongNet),
    Blend(blend::BlendNet),
}

/// Architecture names [`NativeNet::load`] knows, as written in `model.json`.
pub const ARCHS: &[&str] = &[crate::model::blend::ARCH, paper::ARCH, strong::ARCH];

impl NativeNet {
    /// The network `info.arch` with its weights taken from `weights` (every tensor must be used).
    pub fn load(info: &ModelInfo, weights: &mut Weights) -> Result<NativeNet, ModelError> {
        let net = match info.arch.as_str() {
            paper::ARCH => {
                NativeNet::Paper(Box::new(paper::PaperNet::load(weights, info.genres.len())?))
            }
            strong::ARCH => NativeNet::Strong(strong::StrongNet::load(info, weights)?),
            crate::model::blend::ARCH => NativeNet::Blend(blend::BlendNet::load(info, weights)?),
            other => {
                return Err(weights.incompatible(format!("no native network `{other}`")));
            }
        };
        weights.finish()?;
        Ok(net)
    }

    /// The network as its [`Forward`] pass.
    pub fn forward(&self) -> &dyn Forward {
        match self {
            NativeNet::Paper(n) => n.as_ref(),
            NativeNet::Strong(n) => n,
            NativeNet::Blend(n) => n,
        }
    }

    /// Its architecture.
    pub fn arch(&self) -> Arch {
        match self {
            NativeNet::Paper(_) => Arch::Paper,
            NativeNet::Strong(_) => Arch::Strong,
            NativeNet::Blend(_) => Arch::Blend,
        }
    }
}

/// Rows per forward pass (bounds the im2col buffers to a few MB) and per worker.
const CHUNK: usize = 64;

/// The activations `layer` of raw feature rows: prepared, standardised (f64, then f32 as the
/// networks were trained on), run in chunks of [`CHUNK`] rows on rayon's workers.
pub fn run(
    net: &dyn Forward,
    scaler: &Scaler,
    rows: &[FeatureVector],
    layer: Layer,
) -> Vec<Vec<f32>> {
    use rayon::prelude::*;
    let chunk_rows = |chunk: &[FeatureVector]| -> Vec<Vec<f32>> {
        let prepared: Vec<FeatureVector> = chunk.iter().map(|r| net.prepare(r)).collect();
        let flat = scaler.transform_f32(&prepared);
        let x = ArrayView2::from_shape((chunk.len(), N_FEATURES), &flat)
            .expect("transform_f32 gives 57 values per row");
        let a = net.activations(x, layer);
        a.outer_iter().map(|r| r.to_vec()).collect()
    };
    if rows.len() <= CHUNK {
        return if rows.is_empty() {
            Vec::new()
        } else {
            chunk_rows(rows)
        };
    }
    rows.par_chunks(CHUNK)
        .map(chunk_rows)
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect()
}

/// `x · wᵀ + b` for a linear layer whose weight `w` is `[out, in]` (PyTorch's layout).
pub fn linear(x: ArrayView2<'_, f32>, w: &Array2<f32>, b: &[f32]) -> Array2<f32> {
    let mut y = Array2::<f32>::zeros((x.nrows(), w.nrows()));
    ndarray::linalg::general_mat_mul(1.0, &x, &w.t(), 0.0, &mut y);
    for mut row in y.outer_iter_mut() {
        row.iter_mut().zip(b).for_each(|(v, &bias)| *v += bias);
    }
    y
}

/// In place ReLU.
pub fn relu(a: &mut Array2<f32>) {
    a.mapv_inplace(|v| v.max(0.0));
}

/// Row-wise softmax (the maximum subtracted first, as libtorch does).
pub fn softmax(logits: &Array2<f32>) -> Array2<f32> {
    let mut p = logits.clone();
    for mut row in p.outer_iter_mut() {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.mapv_inplace(|v| (v - max).exp());
        let sum: f32 = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    p
}

/// Rows of `a` and `b` side by side, each scaled to unit length ([`Layer::Combined`]).
pub fn combine(a: &Array2<f32>, b: &Array2<f32>) -> Array2<f32> {
    let rows: Vec<Vec<f32>> = a
        .outer_iter()
        .zip(b.outer_iter())
        .map(|(x, y)| {
            super::layer::unit_concat(
                x.as_slice().unwrap_or(&x.to_vec()),
                y.as_slice().unwrap_or(&y.to_vec()),
            )
        })
        .collect();
    let width = a.ncols() + b.ncols();
    Array2::from_shape_vec((rows.len(), width), rows.concat()).expect("rows of equal width")
}

/// One tensor of a weights file, as `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor32 {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// The named tensors of a weights file (`model.safetensors`), read without libtorch. The
/// networks take theirs out by name and shape; whatever is left over is an error.
#[derive(Debug, Clone, Default)]
pub struct Weights {
    /// The file, for error messages.
    pub path: PathBuf,
    pub tensors: BTreeMap<String, Tensor32>,
}

impl Weights {
    /// Reads a safetensors file (F32 tensors; F64, F16 and BF16 are converted).
    pub fn read(path: &Path) -> Result<Weights, ModelError> {
        let bytes = crate::config::read_bytes(path).map_err(|e| ModelError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Weights::from_bytes(&bytes, path)
    }

    /// Parses the bytes of a safetensors file named `path`.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Weights, ModelError> {
        let bad = |reason: String| ModelError::Read {
            path: path.to_path_buf(),
            reason,
        };
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a safetensors file ({e})")))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            let raw = view.data();
            let data: Vec<f32> = match view.dtype() {
                Dtype::F32 => raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                Dtype::F64 => raw
                    .chunks_exact(8)
                    .map(|c| {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(c);
                        f64::from_le_bytes(b) as f32
                    })
                    .collect(),
                Dtype::F16 => raw
                    .chunks_exact(2)
                    .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect(),
                Dtype::BF16 => raw
                    .chunks_exact(2)
                    .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                    .collect(),
                other => {
                    return Err(ModelError::Incompatible {
                        path: path.to_path_buf(),
                        reason: format!("tensor `{name}` has dtype {other:?}, expected floats"),
                    })
                }
            };
            let shape = view.shape().to_vec();
            tensors.insert(name, Tensor32 { shape, data });
        }
        Ok(Weights {
            path: path.to_path_buf(),
            tensors,
        })
    }

    /// The safetensors bytes of these tensors (F32, sorted by name: what tch writes).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let bytes: Vec<(&String, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(k, t)| (k, t.data.iter().flat_map(|v| v.to_le_bytes()).collect()))
            .collect();
        let views = bytes
            .iter()
            .map(|(k, b)| {
                let shape = self.tensors[*k].shape.clone();
                TensorView::new(Dtype::F32, shape, b).map(|v| (k.as_str(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.write_error(format!("{e:?}")))?;
        safetensors::tensor::serialize(views, &None).map_err(|e| self.write_error(format!("{e:?}")))
    }

    fn write_error(&self, reason: String) -> ModelError {
        ModelError::Write {
            path: self.path.clone(),
            reason,
        }
    }

    /// An [`ModelError::Incompatible`] naming this file.
    pub fn incompatible(&self, reason: impl Into<String>) -> ModelError {
        ModelError::Incompatible {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// Takes the tensor `name`, which must have `shape`.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let t = self
            .tensors
            .remove(name)
            .ok_or_else(|| self.incompatible(format!("tensor `{name}` missing")))?;
        if t.shape != shape {
            return Err(self.incompatible(format!(
                "tensor `{name}` has shape {:?}, expected {shape:?}",
                t.shape
            )));
        }
        Ok(t.data)
    }

    /// Takes a 2-D tensor `name` of shape `[rows, cols]` (a higher-rank one is flattened
    /// after its first axis: `shape` gives the full expected shape).
    pub fn take_matrix(&mut self, name: &str, shape: &[usize]) -> Result<Array2<f32>, ModelError> {
        let data = self.take(name, shape)?;
        let rows = shape.first().copied().unwrap_or(1);
        let cols = shape.iter().skip(1).product::<usize>();
        Ok(Array2::from_shape_vec((rows, cols), data).expect("shape checked"))
    }

    /// Fails when a tensor was left untaken.
    pub fn finish(&self) -> Result<(), ModelError> {
        match self.tensors.keys().next() {
            Some(extra) => Err(self.incompatible(format!("unexpected tensor `{extra}`"))),
            None => Ok(()),
        }
    }
}

/// IEEE half to single precision.
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: value f · 2^-24.
            let v = f as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_round_trip_and_checks() {
        let mut w = Weights {
            path: PathBuf::from("w.safetensors"),
            tensors: BTreeMap::new(),
        };
        w.tensors.insert(
            "a.weight".into(),
            Tensor32 {
                shape: vec![2, 3],
                data: vec![1.0, -2.0, 3.5, 0.0, 1e-20, -7.25],
            },
        );
        w.tensors.insert(
            "a.bias".into(),
            Tensor32 {
                shape: vec![2],
                data: vec![0.5, 0.25],
            },
        );
        let bytes = w.to_bytes().unwrap();
        let mut back = Weights::from_bytes(&bytes, Path::new("w.safetensors")).unwrap();
        assert_eq!(back.tensors, w.tensors);
        let e = back.take("a.bias", &[3]).unwrap_err().to_string();
        assert!(e.contains("shape [2], expected [3]"), "{e}");
        let m = back.take_matrix("a.weight", &[2, 3]).unwrap();
        assert_eq!(m[[1, 2]], -7.25);
        back.finish().unwrap();
        let e = back.take("a.weight", &[2, 3]).unwrap_err().to_string();
        assert!(e.contains("tensor `a.weight` missing"), "{e}");
        assert_eq!(
            Weights::from_bytes(b"garbage", Path::new("x"))
                .unwrap_err()
                .to_string(),
            "x: cannot read: not a safetensors file (HeaderTooSmall)"
        );
    }

    #[test]
    fn half_precision_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert!(f16_to_f32(0x7c00).is_infinite());
    }

    #[test]
    fn softmax_and_linear() {
        let x = Array2::from_shape_vec((1, 2), vec![1.0f32, 2.0]).unwrap();
        let w = Array2::from_shape_vec((3, 2), vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        let y = linear(x.view(), &w, &[0.0, 0.5, -1.0]);
        assert_eq!(y.row(0).to_vec(), vec![1.0, 2.5, 2.0]);
        let p = softmax(&y);
        let e = [(-1.5f32).exp(), 1.0, (-0.5f32).exp()];
        let s: f32 = e.iter().sum();
        for (a, b) in p.row(0).iter().zip(e) {
            assert!((a - b / s).abs() < 1e-7);
        }
    }
}
