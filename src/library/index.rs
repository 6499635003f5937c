//! The embedding matrix: every song's embedding at unit length in one contiguous `f32` array,
//! searched by brute force (cosine similarity = dot product), and the greedy playlist path.

use super::{blob_f32, LibraryError, SongSummary};
use rusqlite::Connection;
use serde::Serialize;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// A song near another, with the cosine similarity of their embeddings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Neighbour {
    #[serde(flatten)]
    pub song: SongSummary,
    pub similarity: f32,
}

/// The songs' embeddings made by one model, unit length, row by row.
#[derive(Debug, Clone)]
pub struct EmbeddingIndex {
    model_id: String,
    dim: usize,
    ids: Vec<i64>,
    rows: HashMap<i64, usize>,
    data: Vec<f32>,
    /// Title + artist key of each row (0: the tags lack one of them).
    dedup: Vec<u64>,
    /// Content hash prefix of each row.
    content: Vec<u64>,
}

/// Dot product in eight lanes (vectorised by the compiler).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

fn unit(v: &mut [f32]) {
    let n = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    if n > 0.0 {
        let s = (1.0 / n) as f32;
        v.iter_mut().for_each(|x| *x *= s);
    }
}

/// The key that makes two songs "the same song" in a playlist: title and artist, both present,
/// compared without case and surrounding blanks.
pub fn dedup_key(title: Option<&str>, artist: Option<&str>) -> u64 {
    match (title, artist) {
        (Some(t), Some(a)) if !t.trim().is_empty() && !a.trim().is_empty() => {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            t.trim().to_lowercase().hash(&mut h);
            a.trim().to_lowercase().hash(&mut h);
            h.finish().max(1)
        }
        _ => 0,
    }
}

fn content_key(hash: &str) -> u64 {
    u64::from_str_radix(hash.get(..16).unwrap_or(hash), 16).unwrap_or_else(|_| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        hash.hash(&mut h);
        h.finish()
    })
}

impl EmbeddingIndex {
    /// Loads the embeddings of the model that made most of the library's predictions.
    pub fn load(conn: &Connection) -> Result<EmbeddingIndex, LibraryError> {
        let model: Option<(String, i64)> = conn
            .query_row(
                "SELECT model_id, dim FROM predictions GROUP BY model_id, dim
                 ORDER BY COUNT(*) DESC, model_id LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        let Some((model_id, dim)) = model else {
            return Err(LibraryError::NoEmbeddings);
        };
        let dim = dim as usize;
        let mut idx = EmbeddingIndex::new(model_id.clone(), dim);
        let mut st = conn.prepare(
            "SELECT s.id, s.hash, s.title, s.artist, p.embedding FROM predictions p
             JOIN songs s ON s.id = p.song_id
             WHERE p.model_id = ? AND p.dim = ? AND s.error IS NULL ORDER BY s.id",
        )?;
        let mut rows = st.query(rusqlite::params![model_id, dim as i64])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let hash: String = r.get(1)?;
            let title: Option<String> = r.get(2)?;
            let artist: Option<String> = r.get(3)?;
            let blob: Vec<u8> = r.get(4)?;
            let v = blob_f32(id, "embedding", &blob, dim)?;
            idx.push(
                id,
                &v,
                dedup_key(title.as_deref(), artist.as_deref()),
                &hash,
            );
        }
        if idx.is_empty() {
            return Err(LibraryError::NoEmbeddings);
        }
        Ok(idx)
    }

    /// An empty index for embeddings of `dim` values made by `model_id`.
    pub fn new(model_id: String, dim: usize) -> EmbeddingIndex {
        EmbeddingIndex {
            model_id,
            dim,
            ids: Vec::new(),
            rows: HashMap::new(),
            data: Vec::new(),
            dedup: Vec::new(),
            content: Vec::new(),
        }
    }

    /// Adds a song (its embedding is scaled to unit length; `hash` is its content hash).
    pub fn push(&mut self, id: i64, embedding: &[f32], dedup: u64, hash: &str) {
        debug_assert_eq!(embedding.len(), self.dim);
        let start = self.data.len();
        self.data.extend_from_slice(embedding);
        unit(&mut self.data[start..]);
        self.rows.insert(id, self.ids.len());
        self.ids.push(id);
        self.dedup.push(dedup);
        self.content.push(content_key(hash));
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The row of a song id.
    pub fn row_of(&self, id: i64) -> Option<usize> {
        self.rows.get(&id).copied()
    }

    /// The song id of a row.
    pub fn id(&self, row: usize) -> i64 {
        self.ids[row]
    }

    /// The unit embedding of a row.
    pub fn vector(&self, row: usize) -> &[f32] {
        &self.data[row * self.dim..(row + 1) * self.dim]
    }

    /// Whether two rows hold the same file content.
    pub fn same_content(&self, a: usize, b: usize) -> bool {
        self.content[a] == self.content[b]
    }

    /// A query embedding checked against the index's size and scaled to unit length.
    pub fn normalise_query(&self, v: &[f32]) -> Result<Vec<f32>, LibraryError> {
        if v.len() != self.dim {
            return Err(LibraryError::Dimension {
                library: self.dim,
                query: v.len(),
            });
        }
        let mut q = v.to_vec();
        unit(&mut q);
        Ok(q)
    }

    /// The `k` rows most similar to the unit vector `q` among those `keep` accepts, best first
    /// (ties by song id), as (song id, cosine similarity).
    pub fn nearest(&self, q: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<(i64, f32)> {
        let mut cand: Vec<(f32, usize)> = Vec::with_capacity(self.len());
        for (r, v) in self.data.chunks_exact(self.dim.max(1)).enumerate() {
            if keep(r) {
                cand.push((dot(q, v), r));
            }
        }
        let ids = &self.ids;
        let cmp = |a: &(f32, usize), b: &(f32, usize)| {
            b.0.total_cmp(&a.0).then_with(|| ids[a.1].cmp(&ids[b.1]))
        };
        if cand.len() > k {
            if k == 0 {
                return Vec::new();
            }
            cand.select_nth_unstable_by(k - 1, cmp);
            cand.truncate(k);
        }
        cand.sort_by(cmp);
        cand.into_iter().map(|(s, r)| (self.ids[r], s)).collect()
    }

    /// Rows of a playlist of (at most) `n` songs from `seed`: each next row is the nearest unused
    /// one to the row before. Rows with a chosen row's title + artist or content, or an
    /// embedding almost identical to a chosen row's (the same recording in another file), are
    /// skipped before they are counted. `allowed` restricts the candidates.
    pub fn greedy_path(&self, seed: usize, n: usize, allowed: Option<&[bool]>) -> Vec<usize> {
        let mut out = Vec::with_capacity(n);
        if n == 0 {
            return out;
        }
        let mut used = vec![false; self.len()];
        // Taking a row uses up every row with its title + artist or its content.
        let take = |r: usize, out: &mut Vec<usize>, used: &mut [bool]| {
            out.push(r);
            let (key, content) = (self.dedup[r], self.content[r]);
            for (i, u) in used.iter_mut().enumerate() {
                if self.content[i] == content || (key != 0 && self.dedup[i] == key) {
                    *u = true;
                }
            }
        };
        take(seed, &mut out, &mut used);
        let mut cur = seed;
        while out.len() < n {
            let q = self.vector(cur);
            let mut best: Option<(f32, usize)> = None;
            for (r, v) in self.data.chunks_exact(self.dim.max(1)).enumerate() {
                if used[r] || allowed.is_some_and(|a| !a[r]) {
                    continue;
                }
                let s = dot(q, v);
                let better = match best {
                    None => true,
                    Some((bs, br)) => s > bs || (s == bs && self.ids[r] < self.ids[br]),
                };
                if better {
                    best = Some((s, r));
                }
            }
            let Some((_, r)) = best else { break };
            let v = self.vector(r);
            if out
                .iter()
                .any(|&o| dot(self.vector(o), v) >= crate::config::NEAR_DUPLICATE_SIMILARITY)
            {
                // Removed before counting: the list still gets its n songs.
                used[r] = true;
                continue;
            }
            take(r, &mut out, &mut used);
            cur = r;
        }
        out
    }

    /// The allowed row nearest the mean of the allowed rows (the most typical song of a set).
    pub fn most_typical(&self, allowed: &[bool]) -> usize {
        let mut mean = vec![0.0f32; self.dim];
        for (r, v) in self.data.chunks_exact(self.dim.max(1)).enumerate() {
            if allowed[r] {
                mean.iter_mut().zip(v).for_each(|(m, x)| *m += x);
            }
        }
        unit(&mut mean);
        self.nearest(&mean, 1, |r| allowed[r])
            .first()
            .and_then(|(id, _)| self.row_of(*id))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (embedding, title and artist, content hash) of each test song.
    type Song<'a> = (&'a [f32], Option<(&'a str, &'a str)>, &'a str);

    fn index(vectors: &[Song]) -> EmbeddingIndex {
        let mut idx = EmbeddingIndex::new("m".into(), vectors[0].0.len());
        for (i, (v, tags, hash)) in vectors.iter().enumerate() {
            let key = tags.map_or(0, |(t, a)| dedup_key(Some(t), Some(a)));
            idx.push(i as i64 + 1, v, key, hash);
        }
        idx
    }

    #[test]
    fn nearest_is_cosine_best_first() {
        let idx = index(&[
            (&[1.0, 0.0], None, "aa"),
            (&[2.0, 0.1], None, "bb"),
            (&[0.0, 3.0], None, "cc"),
            (&[1.0, 1.0], None, "dd"),
        ]);
        let q = idx.normalise_query(&[1.0, 0.0]).unwrap();
        let hits = idx.nearest(&q, 3, |r| r != 0);
        let ids: Vec<i64> = hits.iter().map(|h| h.0).collect();
        assert_eq!(ids, [2, 4, 3]);
        assert!((hits[1].1 - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert!(matches!(
            idx.normalise_query(&[1.0]),
            Err(LibraryError::Dimension {
                library: 2,
                query: 1
            })
        ));
        assert!(idx.nearest(&q, 0, |_| true).is_empty());
    }

    #[test]
    fn greedy_path_skips_duplicates_before_counting() {
        // Row 1 has the seed's title and artist (another edition), row 2 the seed's content:
        // both are skipped, and the list still has 3 songs.
        let idx = index(&[
            (&[1.0, 0.0, 0.0], Some(("Song", "Band")), "aa"),
            (&[0.99, 0.1, 0.0], Some((" song ", "BAND")), "bb"),
            (&[0.98, 0.0, 0.1], None, "aa"),
            (&[0.5, 0.5, 0.0], None, "cc"),
            (&[0.0, 1.0, 0.0], None, "dd"),
            (&[0.0, 0.0, 1.0], None, "ee"),
            // The seed's recording in another file: an all but identical embedding.
            (&[1.0, 0.000_01, 0.0], None, "ff"),
        ]);
        let path = idx.greedy_path(0, 3, None);
        assert_eq!(path, [0, 3, 4]);
        // Restricted to allowed rows, and shorter when the candidates run out.
        let allowed = [true, false, false, false, true, true, false];
        assert_eq!(idx.greedy_path(0, 10, Some(&allowed)), [0, 4, 5]);
        assert_eq!(
            idx.most_typical(&[true, false, false, true, true, false, false]),
            3
        );
        // Without the near-duplicate row, the path goes on as before.
        assert_eq!(idx.greedy_path(0, 4, None), [0, 3, 4, 5]);
    }
}
