//! The default blend's network in eval mode (see [`crate::model::blend`] for what it is and
//! how its tensors are named): an LDA and MLP members on the standardised row, probabilities
//! averaged and tempered. What `classify`, `embed` and `recommend` run.

use super::{Forward, Tensor32, Weights};
use crate::features::{FeatureVector, N_FEATURES};
use crate::model::blend::{log_transform, BlendInfo, BlendSpec, Dense, N_CLASSES};
use crate::model::dataset::Scaler;
use crate::model::{Layer, ModelError, ModelInfo};
use ndarray::{Array2, ArrayView2};

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
            path: std::path::PathBuf::from(crate::model::WEIGHTS_FILE),
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
                    Layer::Combined => crate::model::layer::unit_concat(&a.hidden, &a.proba),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::blend::Selection;

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
