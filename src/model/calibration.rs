//! Probabilities a user can trust: temperature scaling (fitted on validation songs) and the
//! expected calibration error that measures it. Plain Rust, no tch.

/// Equal-width confidence bins of [`expected_calibration_error`] (the 15).
pub const ECE_BINS: usize = 15;

/// Bounds of the temperature search.
const T_MIN: f64 = 0.05;
const T_MAX: f64 = 20.0;

/// `p` sharpened (`t < 1`) or softened (`t > 1`): the softmax of `ln p / t`.
pub fn temper(p: &[f32], t: f64) -> Vec<f32> {
    let logs: Vec<f64> = p.iter().map(|&v| (v as f64).max(1e-12).ln() / t).collect();
    let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logs.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| (v / sum) as f32).collect()
}

/// Mean negative log-likelihood of the labels under the probabilities.
pub fn log_loss(probs: &[Vec<f32>], labels: &[usize]) -> f64 {
    if probs.is_empty() {
        return f64::NAN;
    }
    let total: f64 = probs
        .iter()
        .zip(labels)
        .map(|(p, &y)| -(p.get(y).copied().unwrap_or(0.0) as f64).max(1e-12).ln())
        .sum();
    total / probs.len() as f64
}

/// The temperature that minimises the log-loss of `probs` (validation songs) once tempered:
/// golden-section search of `ln t` over [0.05, 20] (the log-loss is unimodal in it).
/// 1 when there are no songs.
pub fn fit_temperature(probs: &[Vec<f32>], labels: &[usize]) -> f64 {
    if probs.is_empty() {
        return 1.0;
    }
    let loss = |lt: f64| {
        let t = lt.exp();
        let tempered: Vec<Vec<f32>> = probs.iter().map(|p| temper(p, t)).collect();
        log_loss(&tempered, labels)
    };
    let (mut a, mut b) = (T_MIN.ln(), T_MAX.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (loss(c), loss(d));
    for _ in 0..80 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = loss(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = loss(d);
        }
    }
    ((a + b) / 2.0).exp()
}

/// Expected calibration error with `bins` equal-width bins of the top probability: the
/// song-weighted mean gap between each bin's accuracy and its mean confidence (bins are
/// `(lo, hi]`). 0 when there are no songs.
pub fn expected_calibration_error(probs: &[Vec<f32>], labels: &[usize], bins: usize) -> f64 {
    if probs.is_empty() || bins == 0 {
        return 0.0;
    }
    let mut conf_sum = vec![0.0f64; bins];
    let mut hits = vec![0.0f64; bins];
    let mut count = vec![0usize; bins];
    for (p, &y) in probs.iter().zip(labels) {
        let (best, conf) =
            p.iter().enumerate().fold(
                (0, f32::NEG_INFINITY),
                |b, (i, &v)| if v > b.1 { (i, v) } else { b },
            );
        let c = conf as f64;
        // (lo, hi] bins; a confidence of 0 (impossible for a distribution) goes to the first.
        let k = ((c * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        conf_sum[k] += c;
        hits[k] += (best == y) as u8 as f64;
        count[k] += 1;
    }
    let n = probs.len() as f64;
    (0..bins)
        .filter(|&k| count[k] > 0)
        .map(|k| (hits[k] - conf_sum[k]).abs() / n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ece_of_a_hand_worked_case() {
        // Two songs at confidence 0.9 (one right) and one at 0.5 (right):
        // bin (0.8667, 0.9333]: |1 - 1.8| / 3; bin (0.4667, 0.5333]: |1 - 0.5| / 3.
        let p = vec![vec![0.9, 0.1], vec![0.9, 0.1], vec![0.5, 0.5 - 1e-6]];
        let e = expected_calibration_error(&p, &[0, 1, 0], 15);
        assert!((e - (0.8 + 0.5) / 3.0).abs() < 1e-6, "{e}");
        assert_eq!(expected_calibration_error(&[], &[], 15), 0.0);
    }

    #[test]
    fn temperature_undoes_a_sharpening() {
        // Calibrated probabilities sharpened with t = 0.25: the fitted temperature is near 4
        // and tempering with it restores them.
        let labels: Vec<usize> = (0..400).map(|i| usize::from(i % 10 < 7)).collect();
        let calibrated = [0.3f32, 0.7];
        let sharp = temper(&calibrated, 0.25);
        let probs = vec![sharp.clone(); 400];
        let t = fit_temperature(&probs, &labels);
        assert!((t - 4.0).abs() < 1e-3, "{t}");
        let back = temper(&sharp, t);
        assert!((back[1] - 0.7).abs() < 1e-4, "{back:?}");
        assert_eq!(temper(&[0.2, 0.8], 1.0), vec![0.2, 0.8]);
    }
}
