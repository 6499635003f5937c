//! Which activations of a network serve as a song's embedding (no tch).

use serde::{Deserialize, Serialize};

/// Which activations of the network serve as a song's embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The flatten layer (128 channels × 26 positions = 3328 values): the paper's embedding.
    /// (The strong ensemble has none: its members' last hidden layers, as `dense`.)
    Flatten,
    /// The 128-unit dense layer after it (the strong ensemble: its members' last hidden
    /// layers side by side).
    Dense,
    /// The 10 class probabilities: songs the model hears the same way, genre by genre.
    Probabilities,
    /// The dense layer and the class probabilities side by side, each scaled to unit length:
    /// timbre and genre in equal parts (the best embedding of `recommend --evaluate` on
    /// validation queries, with a strong model).
    Combined,
}

impl Layer {
    /// The name used on the command line and in `model.json`.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Flatten => "flatten",
            Layer::Dense => "dense",
            Layer::Probabilities => "probabilities",
            Layer::Combined => "combined",
        }
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `a` and `b` side by side, each scaled to unit length (a zero part stays zero), so that each
/// weighs the same in a cosine similarity.
pub fn unit_concat(a: &[f32], b: &[f32]) -> Vec<f32> {
    fn unit(v: &[f32]) -> impl Iterator<Item = f32> + '_ {
        let n = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
        let scale = if n > 0.0 { 1.0 / n } else { 0.0 };
        v.iter().map(move |&x| (x as f64 * scale) as f32)
    }
    unit(a).chain(unit(b)).collect()
}

/// Row by row [`unit_concat`] of two embeddings of the same songs.
pub fn combined(a: Vec<Vec<f32>>, b: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    a.iter().zip(&b).map(|(x, y)| unit_concat(x, y)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_json() {
        for l in [
            Layer::Flatten,
            Layer::Dense,
            Layer::Probabilities,
            Layer::Combined,
        ] {
            let j = serde_json::to_string(&l).unwrap();
            assert_eq!(j, format!("\"{}\"", l.name()));
            assert_eq!(serde_json::from_str::<Layer>(&j).unwrap(), l);
        }
    }
}
