//! "More like this": cosine similarity of song embeddings, and the embedding file format.
//!
//! Embedding files: `NAME.npy` holds an `N × D` little-endian `float32` matrix (NumPy format 1.0,
//! C order; `numpy.load` reads it), and `NAME.csv` beside it holds the `filename,label` of each
//! row in the same order.

pub mod npy;

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// Errors of the recommendation layer.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error("{path}: cannot read embeddings: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: cannot write embeddings: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("`{0}` is not a song of the library (give a filename or stem from it, or a path to an audio file)")]
    UnknownSong(String),
    #[error("embedding sizes differ: library {library}, query {query}")]
    Dimension { library: usize, query: usize },
    #[error("the library is empty")]
    Empty,
}

/// Embeddings of a song library.
#[derive(Debug, Clone, PartialEq)]
pub struct Library {
    pub filenames: Vec<String>,
    pub labels: Vec<String>,
    /// One row per song, all of the same length.
    pub vectors: Vec<Vec<f32>>,
}

/// One recommended song.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    pub filename: String,
    pub label: String,
    pub similarity: f64,
}

/// Cosine similarity of two vectors, accumulated in f64; 0 when either vector is all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// Two embeddings of one song side by side, each scaled to unit length first (defined with the
/// model's layers, where the `combined` embedding is made).
pub use crate::model::layer::unit_concat;

impl Library {
    /// Number of songs.
    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    /// Whether the library has no songs.
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// Row of a song given by filename (`jazz.00098.au`) or stem (`jazz.00098`).
    pub fn find(&self, name: &str) -> Option<usize> {
        let stem = crate::table::stem(name);
        self.filenames
            .iter()
            .position(|f| f == name)
            .or_else(|| {
                self.filenames
                    .iter()
                    .position(|f| crate::table::stem(f) == name)
            })
            .or_else(|| {
                self.filenames
                    .iter()
                    .position(|f| crate::table::stem(f) == stem)
            })
    }

    /// The `k` songs most similar to `query`, best first; ties broken by filename (ascending).
    /// Rows whose stem equals `exclude_stem` (the query itself) are never returned.
    pub fn nearest(
        &self,
        query: &[f32],
        k: usize,
        exclude_stem: Option<&str>,
    ) -> Result<Vec<Hit>, RecommendError> {
        if self.is_empty() {
            return Err(RecommendError::Empty);
        }
        if self.vectors[0].len() != query.len() {
            return Err(RecommendError::Dimension {
                library: self.vectors[0].len(),
                query: query.len(),
            });
        }
        let mut hits: Vec<Hit> = self
            .vectors
            .iter()
            .enumerate()
            .filter(|(i, _)| exclude_stem != Some(crate::table::stem(&self.filenames[*i])))
            .map(|(i, v)| Hit {
                filename: self.filenames[i].clone(),
                label: self.labels[i].clone(),
                similarity: cosine(query, v),
            })
            .collect();
        hits.sort_by(|a, b| {
            b.similarity
                .partial_cmp(&a.similarity)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.filename.cmp(&b.filename))
        });
        hits.truncate(k);
        Ok(hits)
    }

    /// Recommendations for a song of the library (never itself).
    pub fn recommend_for(&self, name: &str, k: usize) -> Result<Vec<Hit>, RecommendError> {
        let i = self
            .find(name)
            .ok_or_else(|| RecommendError::UnknownSong(name.to_string()))?;
        let stem = crate::table::stem(&self.filenames[i]).to_string();
        self.nearest(&self.vectors[i], k, Some(&stem))
    }

    /// Writes `path` (`.npy`) and the index CSV beside it (same name, `.csv`), atomically.
    pub fn save(&self, path: &Path) -> Result<(), RecommendError> {
        let werr = |reason: String| RecommendError::Write {
            path: path.to_path_buf(),
            reason,
        };
        let dim = self.vectors.first().map_or(0, Vec::len);
        let flat: Vec<f32> = self.vectors.iter().flatten().copied().collect();
        let bytes = npy::to_bytes_f32(&flat, &[self.len(), dim]);
        crate::table::write_atomic(path, &bytes).map_err(|e| werr(e.to_string()))?;
        let mut w = csv::Writer::from_writer(Vec::new());
        let write = |w: &mut csv::Writer<Vec<u8>>, rec: [&str; 2]| {
            w.write_record(rec).map_err(|e| werr(e.to_string()))
        };
        write(&mut w, ["filename", "label"])?;
        for (f, l) in self.filenames.iter().zip(&self.labels) {
            write(&mut w, [f, l])?;
        }
        let text = w.into_inner().map_err(|e| werr(e.to_string()))?;
        crate::table::write_atomic(&index_path(path), &text).map_err(|e| werr(e.to_string()))
    }

    /// Reads what [`Library::save`] wrote.
    pub fn load(path: &Path) -> Result<Library, RecommendError> {
        let rerr = |p: &Path, reason: String| RecommendError::Read {
            path: p.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| rerr(path, e.to_string()))?;
        let (data, shape) = npy::from_bytes_f32(&bytes).map_err(|e| rerr(path, e))?;
        if shape.len() != 2 {
            return Err(rerr(
                path,
                format!("expected a 2-D array, found shape {shape:?}"),
            ));
        }
        let idx = index_path(path);
        let mut rdr = csv::Reader::from_path(&idx).map_err(|e| rerr(&idx, e.to_string()))?;
        let mut filenames = Vec::new();
        let mut labels = Vec::new();
        for r in rdr.records() {
            let r = r.map_err(|e| rerr(&idx, e.to_string()))?;
            filenames.push(r.get(0).unwrap_or("").to_string());
            labels.push(r.get(1).unwrap_or("").to_string());
        }
        if filenames.len() != shape[0] {
            return Err(rerr(
                &idx,
                format!("{} index rows for {} embeddings", filenames.len(), shape[0]),
            ));
        }
        let vectors = if shape[1] == 0 {
            vec![Vec::new(); shape[0]]
        } else {
            data.chunks(shape[1]).map(<[f32]>::to_vec).collect()
        };
        Ok(Library {
            filenames,
            labels,
            vectors,
        })
    }

    /// Genre precision@k: for each query row, the share of its `k` recommendations (drawn from
    /// `self`, the query itself excluded) whose label equals the query's label; averaged.
    pub fn precision_at_k(&self, queries: &Library, k: usize) -> Result<f64, RecommendError> {
        if queries.is_empty() {
            return Err(RecommendError::Empty);
        }
        let mut total = 0.0;
        for i in 0..queries.len() {
            let stem = crate::table::stem(&queries.filenames[i]);
            let hits = self.nearest(&queries.vectors[i], k, Some(stem))?;
            let good = hits.iter().filter(|h| h.label == queries.labels[i]).count();
            total += good as f64 / k as f64;
        }
        Ok(total / queries.len() as f64)
    }
}

/// The index CSV of an embeddings file: same path, extension `.csv`.
pub fn index_path(npy_path: &Path) -> PathBuf {
    npy_path.with_extension("csv")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_concat_scales_each_part() {
        let v = unit_concat(&[3.0, 4.0], &[0.0, 0.0, 2.0]);
        assert_eq!(v, vec![0.6, 0.8, 0.0, 0.0, 1.0]);
        assert_eq!(unit_concat(&[0.0], &[5.0]), vec![0.0, 1.0]);
        // Equal weight: the same cosine for a part scaled by any factor.
        let a = unit_concat(&[1.0, 2.0], &[0.2, 0.8]);
        let b = unit_concat(&[100.0, 200.0], &[0.2, 0.8]);
        assert_eq!(a, b);
    }

    fn lib() -> Library {
        Library {
            filenames: ["b.1.wav", "a.1.wav", "q.1.wav", "c.1.wav", "z.1.wav"]
                .map(String::from)
                .to_vec(),
            labels: ["rock", "rock", "rock", "jazz", "jazz"]
                .map(String::from)
                .to_vec(),
            vectors: vec![
                vec![1.0, 1.0, 0.0],
                vec![2.0, 2.0, 0.0],
                vec![1.0, 0.0, 0.0],
                vec![0.0, 0.0, 1.0],
                vec![-1.0, 0.0, 0.0],
            ],
        }
    }

    #[test]
    fn cosine_hand_computed() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - 1.0 / 2f64.sqrt()).abs() < 1e-12);
        assert!(
            (cosine(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]) - 32.0 / (14f64.sqrt() * 77f64.sqrt()))
                .abs()
                < 1e-12
        );
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 3.0]), 0.0);
        assert_eq!(cosine(&[1.0, 0.0], &[-2.0, 0.0]), -1.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn query_excluded_and_ties_by_filename() {
        let l = lib();
        let hits = l.recommend_for("q.1", 5).unwrap();
        let names: Vec<&str> = hits.iter().map(|h| h.filename.as_str()).collect();
        // a.1 and b.1 tie at 1/sqrt(2): filename order; then c.1 (0), then z.1 (-1); never q.1.
        assert_eq!(names, ["a.1.wav", "b.1.wav", "c.1.wav", "z.1.wav"]);
        assert_eq!(hits[0].similarity, hits[1].similarity);
        assert!((hits[0].similarity - 1.0 / 2f64.sqrt()).abs() < 1e-9);
        assert_eq!(l.recommend_for("q.1.wav", 2).unwrap().len(), 2);
    }

    #[test]
    fn unknown_song_is_a_clear_error() {
        let e = lib().recommend_for("nope.00001", 5).unwrap_err();
        assert!(e
            .to_string()
            .contains("`nope.00001` is not a song of the library"));
    }

    #[test]
    fn precision_at_k() {
        let l = lib();
        // q.1 → a, b (rock, rock) = 1.0; c.1 → neighbours of [0,0,1]: all others 0 → ties by name:
        // a.1, b.1 (rock, rock) = 0.0.
        let queries = Library {
            filenames: vec!["q.1.wav".into(), "c.1.wav".into()],
            labels: vec!["rock".into(), "jazz".into()],
            vectors: vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.0, 1.0]],
        };
        assert!((l.precision_at_k(&queries, 2).unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("emb.npy");
        let l = lib();
        l.save(&p).unwrap();
        assert!(index_path(&p).exists());
        assert_eq!(Library::load(&p).unwrap(), l);
        std::fs::write(&p, b"garbage").unwrap();
        assert!(Library::load(&p)
            .unwrap_err()
            .to_string()
            .contains("emb.npy"));
    }
}
