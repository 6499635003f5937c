//! "More like this": cosine similarity of song embeddings, and the embedding file format. The
//! songs are ranked by the library's engine ([`EmbeddingIndex`]), the one search behind every
//! "more like this" of tuneprint; the similarities shown are the exact `f64` cosines.
//!
//! Embedding files: `NAME.npy` holds an `N × D` little-endian `float32` matrix (NumPy format 1.0,
//! C order; `numpy.load` reads it), and `NAME.csv` beside it holds the `filename,label` of each
//! row in the same order.

pub mod npy;

use crate::features::{FeatureVector, N_FEATURES};
use crate::library::index::EmbeddingIndex;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// Candidates beyond `k` that a search ranks again by the exact similarity.
const RERANK_EXTRA: usize = 8;

/// Errors of the recommendation layer.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error("{path}: cannot read embeddings: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: cannot write embeddings: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("`{0}` is not a song of the library (give a filename or stem from it, or a path to an audio file)")]
    UnknownSong(String),
    #[error("`{name}` names several songs of the library ({}): give its path", candidates.join(", "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
    #[error("embedding sizes differ: library {library}, query {query}")]
    Dimension { library: usize, query: usize },
    #[error("the library is empty")]
    Empty,
}

/// The embeddings of a table's songs (an embedding file and its index), row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
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

impl Embeddings {
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

    /// The one row a name given by a user stands for: an exact filename (`a/01 Intro.wav`), else
    /// the only row with that file name or stem; a name several rows share is an error listing
    /// them.
    pub fn find_unique(&self, name: &str) -> Result<usize, RecommendError> {
        if let Some(i) = self.filenames.iter().position(|f| f == name) {
            return Ok(i);
        }
        let base = |f: &str| f.rsplit(['/', '\\']).next().unwrap_or(f).to_string();
        let stem = crate::table::stem(name);
        let by = |pred: &dyn Fn(&str) -> bool| -> Vec<usize> {
            (0..self.len())
                .filter(|&i| pred(&self.filenames[i]))
                .collect()
        };
        for rows in [
            by(&|f| base(f) == name),
            by(&|f| crate::table::stem(f) == name),
            by(&|f| crate::table::stem(f) == stem),
        ] {
            match rows.len() {
                0 => continue,
                1 => return Ok(rows[0]),
                _ => {
                    return Err(RecommendError::Ambiguous {
                        name: name.to_string(),
                        candidates: rows.iter().map(|&i| self.filenames[i].clone()).collect(),
                    })
                }
            }
        }
        Err(RecommendError::UnknownSong(name.to_string()))
    }

    /// The `k` songs most similar to `query`, best first; ties broken by filename (ascending).
    /// Rows whose stem equals `exclude_stem` are never returned (see [`Embeddings::nearest_except`]
    /// to exclude songs by identity rather than by name).
    pub fn nearest(
        &self,
        query: &[f32],
        k: usize,
        exclude_stem: Option<&str>,
    ) -> Result<Vec<Hit>, RecommendError> {
        self.nearest_except(query, k, &|i| {
            exclude_stem == Some(crate::table::stem(&self.filenames[i]))
        })
    }

    /// The `k` songs most similar to `query`, best first; ties broken by filename (ascending).
    /// Rows `i` with `exclude(i)` (the query itself) are never returned.
    pub fn nearest_except(
        &self,
        query: &[f32],
        k: usize,
        exclude: &dyn Fn(usize) -> bool,
    ) -> Result<Vec<Hit>, RecommendError> {
        self.nearest_in(&self.index()?, query, k, exclude)
    }

    /// The library's search engine over these rows ([`EmbeddingIndex`]: unit vectors, a first
    /// pass over `i8` codes, exact `f32` scores of the candidates), with row `i`'s id its
    /// filename's rank, so that ties go by filename.
    fn index(&self) -> Result<EmbeddingIndex, RecommendError> {
        let first = self.vectors.first().ok_or(RecommendError::Empty)?;
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by(|&a, &b| self.filenames[a].cmp(&self.filenames[b]).then(a.cmp(&b)));
        let mut rank = vec![0i64; self.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r as i64;
        }
        let mut idx = EmbeddingIndex::new(String::new(), first.len());
        for (i, v) in self.vectors.iter().enumerate() {
            idx.push(rank[i], v, 0, &self.filenames[i]);
        }
        Ok(idx)
    }

    /// [`Embeddings::nearest_except`] with the engine of these rows given: the `k` best rows by
    /// the engine's ranking, each with its cosine similarity to `query` in `f64` ([`cosine`]).
    fn nearest_in(
        &self,
        idx: &EmbeddingIndex,
        query: &[f32],
        k: usize,
        exclude: &dyn Fn(usize) -> bool,
    ) -> Result<Vec<Hit>, RecommendError> {
        if self.is_empty() {
            return Err(RecommendError::Empty);
        }
        if idx.dim() != query.len() {
            return Err(RecommendError::Dimension {
                library: idx.dim(),
                query: query.len(),
            });
        }
        let q = idx
            .normalise_query(query)
            .map_err(|_| RecommendError::Dimension {
                library: idx.dim(),
                query: query.len(),
            })?;
        // A few candidates more than asked, ranked again by the exact similarity: rows whose
        // f32 scores differ from their f64 ones in the last bits keep the f64 order.
        let mut hits: Vec<Hit> = idx
            .nearest(&q, k.saturating_add(RERANK_EXTRA), |r| !exclude(r))
            .into_iter()
            .map(|(id, _)| {
                let i = idx.row_of(id).expect("a row of the index");
                Hit {
                    filename: self.filenames[i].clone(),
                    label: self.labels[i].clone(),
                    similarity: cosine(query, &self.vectors[i]),
                }
            })
            .collect();
        hits.sort_by(best_first);
        hits.truncate(k);
        Ok(hits)
    }

    /// Recommendations for a song of the library (named as [`Embeddings::find_unique`] reads it):
    /// every other row, whatever its name.
    pub fn recommend_for(&self, name: &str, k: usize) -> Result<Vec<Hit>, RecommendError> {
        let i = self.find_unique(name)?;
        self.nearest_except(&self.vectors[i], k, &|j| j == i)
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

    /// Reads what [`Embeddings::save`] wrote.
    pub fn load(path: &Path) -> Result<Embeddings, RecommendError> {
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
        Ok(Embeddings {
            filenames,
            labels,
            vectors,
        })
    }

    /// Genre precision@k: for each query row, the share of its `k` recommendations (drawn from
    /// `self`, the query itself excluded) whose label equals the query's label; averaged.
    pub fn precision_at_k(&self, queries: &Embeddings, k: usize) -> Result<f64, RecommendError> {
        if queries.is_empty() {
            return Err(RecommendError::Empty);
        }
        let idx = self.index()?;
        let mut total = 0.0;
        for i in 0..queries.len() {
            let name = &queries.filenames[i];
            let hits = self.nearest_in(&idx, &queries.vectors[i], k, &|j| {
                &self.filenames[j] == name
            })?;
            let good = hits.iter().filter(|h| h.label == queries.labels[i]).count();
            total += good as f64 / k as f64;
        }
        Ok(total / queries.len() as f64)
    }
}

/// The order of recommendations: most similar first, ties by filename (ascending).
fn best_first(a: &Hit, b: &Hit) -> Ordering {
    b.similarity
        .partial_cmp(&a.similarity)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.filename.cmp(&b.filename))
}

/// Whether a table row's `filename` (a path relative to the folder it was scanned from, `/`
/// between parts, see [`crate::extract::table_names`]) names the file at `canonical` (an
/// absolute path): the row's parts are the last parts of that path.
pub fn names_file(filename: &str, canonical: &Path) -> bool {
    let row: Vec<&str> = filename
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let path: Vec<String> = canonical
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    !row.is_empty()
        && row.len() <= path.len()
        && path[path.len() - row.len()..]
            .iter()
            .zip(&row)
            .all(|(a, b)| a == b)
}

/// Population standard deviation of each feature over `rows` (1 where it is 0), the scale of
/// [`same_content`].
pub fn feature_scale(rows: &[FeatureVector]) -> Vec<f64> {
    let n = rows.len().max(1) as f64;
    (0..N_FEATURES)
        .map(|k| {
            let mean = rows.iter().map(|r| r[k]).sum::<f64>() / n;
            let var = rows.iter().map(|r| (r[k] - mean).powi(2)).sum::<f64>() / n;
            if var > 0.0 && var.is_finite() {
                var.sqrt()
            } else {
                1.0
            }
        })
        .collect()
}

/// Relative part of the tolerance of [`same_content`] (10 times `check`'s).
pub const SAME_REL_TOL: f64 = 1e-3;
/// Part of the tolerance of [`same_content`] proportional to the feature's spread (10 times
/// `check`'s).
pub const SAME_SIGMA_TOL: f64 = 1e-2;

/// Whether two rows of features are analyses of the same audio (the same file, or a copy of it
/// in another container, as `rock.00000.wav` of `rock.00000.au`): every feature within
/// `SAME_REL_TOL`·|b| + `SAME_SIGMA_TOL`·scale, ten times the tolerance of `tuneprint check`.
/// `scale` comes from [`feature_scale`].
pub fn same_content(a: &FeatureVector, b: &FeatureVector, scale: &[f64]) -> bool {
    a.iter()
        .zip(b)
        .zip(scale)
        .all(|((x, y), s)| (x - y).abs() <= SAME_REL_TOL * y.abs() + SAME_SIGMA_TOL * s)
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

    fn lib() -> Embeddings {
        Embeddings {
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

    /// The ranking before the library's engine served it: every row's f64 cosine, sorted.
    fn reference(e: &Embeddings, q: &[f32], k: usize, skip: usize) -> Vec<Hit> {
        let mut hits: Vec<Hit> = (0..e.len())
            .filter(|&i| i != skip)
            .map(|i| Hit {
                filename: e.filenames[i].clone(),
                label: e.labels[i].clone(),
                similarity: cosine(q, &e.vectors[i]),
            })
            .collect();
        hits.sort_by(best_first);
        hits.truncate(k);
        hits
    }

    #[test]
    fn the_engine_ranks_as_the_exact_cosine() {
        // 600 rows of 40 values (some repeated exactly, some near copies), names not in row
        // order: every query's best 1, 5 and 50 are the f64 ranking's, ties by filename.
        let mut x = 12345u64;
        let mut rnd = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        let mut vectors: Vec<Vec<f32>> =
            (0..600).map(|_| (0..40).map(|_| rnd()).collect()).collect();
        for i in 0..40 {
            vectors[500 + i] = vectors[i].clone();
            vectors[540 + i] = vectors[i].iter().map(|v| v * 1.000_001).collect();
        }
        let e = Embeddings {
            filenames: (0..600)
                .map(|i| format!("s{:03}.wav", (i * 7) % 600))
                .collect(),
            labels: (0..600).map(|i| format!("g{}", i % 10)).collect(),
            vectors,
        };
        for q in (0..600).step_by(7) {
            for k in [1, 5, 50] {
                let got = e.nearest_except(&e.vectors[q], k, &|j| j == q).unwrap();
                assert_eq!(got, reference(&e, &e.vectors[q], k, q), "query {q}, k {k}");
            }
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
    fn same_file_name_in_two_folders_is_two_songs() {
        let l = Embeddings {
            filenames: ["a/01 Intro.wav", "b/01 Intro.wav", "c.wav"]
                .map(String::from)
                .to_vec(),
            labels: vec![String::new(); 3],
            vectors: vec![vec![1.0, 0.0], vec![1.0, 0.1], vec![0.0, 1.0]],
        };
        let hits = l.recommend_for("a/01 Intro.wav", 1).unwrap();
        assert_eq!(hits[0].filename, "b/01 Intro.wav");
        let hits = l.recommend_for("b/01 Intro.wav", 1).unwrap();
        assert_eq!(hits[0].filename, "a/01 Intro.wav");
        let e = l.recommend_for("01 Intro", 1).unwrap_err().to_string();
        assert_eq!(
            e,
            "`01 Intro` names several songs of the library (a/01 Intro.wav, b/01 Intro.wav): give its path"
        );
        assert_eq!(l.find_unique("c").unwrap(), 2);
    }

    #[test]
    fn identity_by_path_suffix_and_by_content() {
        let p = Path::new("/music/top/a/01 Intro.wav");
        assert!(names_file("a/01 Intro.wav", p));
        assert!(names_file("01 Intro.wav", p));
        assert!(names_file("/music/top/a/01 Intro.wav", p));
        assert!(!names_file("b/01 Intro.wav", p));
        assert!(!names_file("Intro.wav", p));
        assert!(!names_file("", p));

        let mut a = [1.0; N_FEATURES];
        a[0] = 100.0;
        let scale = vec![2.0; N_FEATURES];
        let mut b = a;
        b[0] = 100.0 + 0.1 + 0.02 - 1e-9; // 1e-3·100 + 1e-2·2 = 0.12
        assert!(same_content(&b, &a, &scale));
        b[0] = 100.13;
        assert!(!same_content(&b, &a, &scale));
        let rows = [[1.0; N_FEATURES], [3.0; N_FEATURES]];
        assert_eq!(feature_scale(&rows), vec![1.0; N_FEATURES]);
        let rows = [[1.0; N_FEATURES], [1.0; N_FEATURES]];
        assert_eq!(feature_scale(&rows), vec![1.0; N_FEATURES]);
        let rows = [[0.0; N_FEATURES], [4.0; N_FEATURES]];
        assert_eq!(feature_scale(&rows), vec![2.0; N_FEATURES]);
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
        let queries = Embeddings {
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
        assert_eq!(Embeddings::load(&p).unwrap(), l);
        std::fs::write(&p, b"garbage").unwrap();
        assert!(Embeddings::load(&p)
            .unwrap_err()
            .to_string()
            .contains("emb.npy"));
    }
}
