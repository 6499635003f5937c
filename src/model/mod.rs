//! The CNN of the paper through tch (libtorch): datasets, model, training.

/// Whether libtorch is linked and usable: builds a small tensor and sums it.
pub fn libtorch_smoke() -> f64 {
    let t = tch::Tensor::from_slice(&[1.0f64, 2.0, 3.5]);
    t.sum(tch::Kind::Double).double_value(&[])
}
