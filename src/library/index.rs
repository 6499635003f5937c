//! The embedding matrix: every song's embedding at unit length in one contiguous `f32` array,
//! searched by brute force (cosine similarity = dot product), and the greedy playlist path.
//!
//! A search reads the matrix once as `i8` codes (a quarter of the `f32` bytes: the search is
//! bound by memory bandwidth), with a bound on each code's error, and then computes the `f32`
//! dot product only for the rows whose bound reaches the `k`-th best lower bound: the result is
//! exactly the plain search's (same scores, same order), tested against it.

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
    /// Each row as `i8` codes: `code / scale` approximates the unit vector.
    codes: Vec<i8>,
    /// Per row: half a code step (`0.5 / scale`, the largest error of one component) and the L1
    /// norm of the decoded row.
    code_err: Vec<(f32, f32)>,
}

/// An `f32` ordered by `total_cmp` (for the heap of lower bounds).
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrdF32(f32);

impl Eq for OrdF32 {}

impl PartialOrd for OrdF32 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF32 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Slack for the `f32` rounding of a dot product of two unit vectors (≤ dim · 2⁻²⁴ each way,
/// with room to spare).
const F32_SLACK: f64 = 1e-4;

/// `i8` codes of `v` (largest |component| → 127) and (half a step, L1 norm of the decoded codes).
fn quantise(v: &[f32], out: &mut Vec<i8>) -> (f32, f32) {
    let m = v.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    let scale = if m > 0.0 { 127.0 / m as f64 } else { 1.0 };
    let mut l1 = 0.0f64;
    for &x in v {
        let c = (x as f64 * scale).round().clamp(-127.0, 127.0);
        l1 += c.abs();
        out.push(c as i8);
    }
    ((0.5 / scale) as f32, (l1 / scale) as f32)
}

/// Integer dot product of two code rows (exact in `i32`: at most 127² per component).
#[inline]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| x as i32 * y as i32)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] as i32 * y[i] as i32;
        }
    }
    acc.iter().sum::<i32>() + tail
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
            codes: Vec::new(),
            code_err: Vec::new(),
        }
    }

    /// Adds a song (its embedding is scaled to unit length; `hash` is its content hash).
    pub fn push(&mut self, id: i64, embedding: &[f32], dedup: u64, hash: &str) {
        debug_assert_eq!(embedding.len(), self.dim);
        let start = self.data.len();
        self.data.extend_from_slice(embedding);
        unit(&mut self.data[start..]);
        let err = quantise(&self.data[start..], &mut self.codes);
        self.code_err.push(err);
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
    /// (ties by song id), as (song id, cosine similarity). Exactly [`Self::nearest_plain`]'s
    /// answer, found through the `i8` codes first (see the module's documentation).
    pub fn nearest(&self, q: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<(i64, f32)> {
        let dim = self.dim.max(1);
        if k == 0 || self.len() <= k || q.len() != self.dim {
            return self.nearest_plain(q, k, keep);
        }
        let mut qc = Vec::with_capacity(dim);
        let (q_half, q_l1) = quantise(q, &mut qc);
        let (q_half, q_l1) = (q_half as f64, q_l1 as f64);
        // Pass 1: an interval [lo, hi] around every kept row's score; the k-th largest lo.
        let mut bounds: Vec<(f32, f32, usize)> = Vec::with_capacity(self.len());
        let mut best_lo: std::collections::BinaryHeap<std::cmp::Reverse<OrdF32>> =
            std::collections::BinaryHeap::with_capacity(k + 1);
        for (r, c) in self.codes.chunks_exact(dim).enumerate() {
            if !keep(r) {
                continue;
            }
            let (half, l1) = self.code_err[r];
            let (half, l1) = (half as f64, l1 as f64);
            // score = (c/s)·(d/t) + (c/s)·e_q + e_r·(d/t) + e_r·e_q, |e_q| ≤ q_half, |e_r| ≤ half.
            let approx = dot_i8(c, &qc) as f64 * (2.0 * half) * (2.0 * q_half);
            let err = l1 * q_half + q_l1 * half + dim as f64 * half * q_half + F32_SLACK;
            let (lo, hi) = ((approx - err) as f32, (approx + err) as f32);
            bounds.push((lo, hi, r));
            if best_lo.len() < k {
                best_lo.push(std::cmp::Reverse(OrdF32(lo)));
            } else if best_lo.peek().is_some_and(|m| lo > m.0 .0) {
                best_lo.pop();
                best_lo.push(std::cmp::Reverse(OrdF32(lo)));
            }
        }
        if bounds.len() <= k {
            return self.nearest_plain(q, k, keep);
        }
        let threshold = best_lo.peek().map_or(f32::NEG_INFINITY, |m| m.0 .0);
        // Pass 2: the exact score of every row that can still reach the top k.
        let cand: Vec<(f32, usize)> = bounds
            .into_iter()
            .filter(|&(_, hi, _)| hi >= threshold)
            .map(|(_, _, r)| (dot(q, self.vector(r)), r))
            .collect();
        self.top_k(cand, k)
    }

    /// [`Self::nearest`] by computing every kept row's `f32` score (the reference it is tested
    /// against, and the path for tiny indexes).
    pub fn nearest_plain(
        &self,
        q: &[f32],
        k: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(i64, f32)> {
        let mut cand: Vec<(f32, usize)> = Vec::with_capacity(self.len());
        for (r, v) in self.data.chunks_exact(self.dim.max(1)).enumerate() {
            if keep(r) {
                cand.push((dot(q, v), r));
            }
        }
        self.top_k(cand, k)
    }

    /// The best `k` of (score, row), best first, ties by song id.
    fn top_k(&self, mut cand: Vec<(f32, usize)>, k: usize) -> Vec<(i64, f32)> {
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

    /// A test song: embedding, (title, artist), content hash.
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
    fn quantised_search_equals_the_plain_one() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let dim = 138;
        let mut idx = EmbeddingIndex::new("m".into(), dim);
        let mut pool: Vec<Vec<f32>> = Vec::new();
        for id in 0..3000i64 {
            // Some rows repeat (ties), some are near copies (scores within one code step), some
            // are sparse or clustered: where a loose bound would show.
            let v: Vec<f32> = match id % 5 {
                0 if !pool.is_empty() => pool[rng.gen_range(0..pool.len())].clone(),
                1 if !pool.is_empty() => {
                    let b = &pool[rng.gen_range(0..pool.len())];
                    b.iter()
                        .map(|x| x + rng.gen_range(-1e-3f32..1e-3))
                        .collect()
                }
                2 => (0..dim)
                    .map(|i| {
                        if i % 17 == 0 {
                            rng.gen_range(0.0f32..1.0)
                        } else {
                            0.0
                        }
                    })
                    .collect(),
                _ => (0..dim).map(|_| rng.gen_range(0.0f32..1.0)).collect(),
            };
            pool.push(v.clone());
            idx.push(id + 1, &v, 0, &format!("{id:08x}"));
        }
        for t in 0..60 {
            let raw: Vec<f32> = if t % 3 == 0 {
                pool[rng.gen_range(0..pool.len())].clone()
            } else {
                (0..dim).map(|_| rng.gen_range(-0.2f32..1.0)).collect()
            };
            let q = idx.normalise_query(&raw).unwrap();
            for k in [1, 10, 50] {
                let skip = t % 7;
                let fast = idx.nearest(&q, k, |r| r % 7 != skip);
                let plain = idx.nearest_plain(&q, k, |r| r % 7 != skip);
                assert_eq!(fast, plain, "query {t}, k {k}");
                assert_eq!(fast.len(), k);
            }
        }
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
