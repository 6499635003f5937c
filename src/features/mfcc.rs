//! MFCCs as `librosa.feature.mfcc(y, sr, n_mfcc=20)` (librosa 0.8.1): the orthonormal DCT-II
//! (`scipy.fftpack.dct(type=2, norm='ortho')`) of each frame of the mel spectrogram in dB.
//!
//! scipy transforms float32 input in single precision; here each coefficient is a dot product
//! with a cosine basis in f64, rounded once to f32 (the exact value up to that rounding), so the
//! two agree to within scipy's own float32 rounding.
//!
//! Known deviation at that level: for a constant frame (silence at the -100 dB floor) scipy's
//! FFT-based DCT gives exact zeros for coefficients 1.., this dot product about 1e-13.

use ndarray::{Array2, ArrayView2};

/// The first `n_out` rows of the orthonormal DCT-II matrix of size `n`, in f64:
/// `basis[k][j] = s_k cos(π k (2j + 1) / (2n))` with `s_0 = √(1/n)`, `s_k = √(2/n)`.
pub fn dct2_ortho_basis(n: usize, n_out: usize) -> Array2<f64> {
    let s0 = (1.0 / n as f64).sqrt();
    let sk = (2.0 / n as f64).sqrt();
    Array2::from_shape_fn((n_out, n), |(k, j)| {
        let scale = if k == 0 { s0 } else { sk };
        scale * (std::f64::consts::PI * k as f64 * (2 * j + 1) as f64 / (2 * n) as f64).cos()
    })
}

/// `librosa.feature.mfcc(S=mel_db, n_mfcc)`: shape `(n_mfcc, n_frames)` from a mel spectrogram
/// in dB of shape `(n_mels, n_frames)`.
pub fn mfcc(mel_db: ArrayView2<f32>, n_mfcc: usize) -> Array2<f32> {
    let (n_mels, n_frames) = mel_db.dim();
    let basis = dct2_ortho_basis(n_mels, n_mfcc);
    let mut out = Array2::<f32>::zeros((n_mfcc, n_frames));
    let mut col = vec![0.0f64; n_mels];
    for (t, frame) in mel_db.columns().into_iter().enumerate() {
        for (c, &x) in col.iter_mut().zip(frame.iter()) {
            *c = f64::from(x);
        }
        for (k, b) in basis.rows().into_iter().enumerate() {
            let acc: f64 = b.iter().zip(&col).map(|(w, x)| w * x).sum();
            out[[k, t]] = acc as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_basis_is_orthonormal() {
        let b = dct2_ortho_basis(16, 16);
        let g = b.dot(&b.t());
        for ((i, j), &v) in g.indexed_iter() {
            let expect = if i == j { 1.0 } else { 0.0 };
            assert!((v - expect).abs() < 1e-12, "({i},{j}) = {v}");
        }
    }

    #[test]
    fn constant_frame_has_only_a_dc_coefficient() {
        let s = Array2::<f32>::from_elem((128, 2), -10.0);
        let m = mfcc(s.view(), 20);
        // DC: -10 · 128 / √128 = -10 √128.
        assert!((m[[0, 1]] + 10.0 * 128f32.sqrt()).abs() < 1e-4);
        assert!(m
            .rows()
            .into_iter()
            .skip(1)
            .all(|r| r.iter().all(|x| x.abs() < 1e-4)));
    }
}
