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
    /// The other files of the library that hold the same recording (the same decoded audio,
    /// e.g. a WAV and an AU of one song): one answer lists them all, under its first file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<std::path::PathBuf>,
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
    /// Content key of each row: the same for two files of one recording (see [`Self::load`]).
    content: Vec<u64>,
    /// The first row of each content key.
    first_of: HashMap<u64, usize>,
    /// The rows of each content key held by more than one row, in row order.
    copies: HashMap<u64, Vec<usize>>,
    /// Each row as `i8` codes (`code / scale` approximates the unit vector), zero-padded to
    /// [`Self::code_stride`] values so that the kernels read whole 32-byte blocks.
    codes: Vec<i8>,
    code_stride: usize,
    /// Per row: a code step (`1 / scale`), half of it (the largest error of one component) and
    /// the L1 norm of the decoded row, each in its own array (read eight rows at a time).
    code_step: Vec<f32>,
    code_half: Vec<f32>,
    code_l1: Vec<f32>,
    /// Whether this CPU runs the AVX2 kernel of the code dot product.
    avx2: bool,
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

/// Values of a code row: a whole number of 32-byte blocks.
const CODE_BLOCK: usize = 32;

/// Integer dot product of two code rows of whole blocks (exact in `i32`: at most 127² per
/// component; vectorised by the compiler).
#[inline]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; CODE_BLOCK];
    for (x, y) in a.chunks_exact(CODE_BLOCK).zip(b.chunks_exact(CODE_BLOCK)) {
        for i in 0..CODE_BLOCK {
            acc[i] += x[i] as i16 as i32 * y[i] as i16 as i32;
        }
    }
    acc.iter().sum()
}

/// The same dot product as [`dot_i8`] (the same integer) in AVX2: `|q| · (row · sign q)` in
/// `u8 × i8` pairs (each pair sum ≤ 2 · 127², no saturation since codes lie in ±127), then
/// widened to `i32`.
///
/// # Safety
/// The CPU must have AVX2; both slices hold whole 32-byte blocks of the same length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    use std::arch::x86_64::*;
    debug_assert!(a.len() == b.len() && a.len().is_multiple_of(CODE_BLOCK));
    let ones = _mm256_set1_epi16(1);
    let mut acc = _mm256_setzero_si256();
    let mut i = 0;
    while i < a.len() {
        let x = _mm256_loadu_si256(a.as_ptr().add(i) as *const __m256i);
        let y = _mm256_loadu_si256(b.as_ptr().add(i) as *const __m256i);
        let pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(y), _mm256_sign_epi8(x, y));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
        i += CODE_BLOCK;
    }
    let s = _mm_add_epi32(
        _mm256_castsi256_si128(acc),
        _mm256_extracti128_si256(acc, 1),
    );
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
    _mm_cvtsi128_si32(s)
}

/// Eight consecutive code rows (`stride` values apart, from `rows`) dotted with `q`, in one
/// vector (row `j` in lane `j`): the integers of [`dot_i8`].
///
/// # Safety
/// The CPU must have AVX2; `rows` points at eight rows of `stride` values, `q` holds `stride`
/// values, and `stride` is a whole number of 32-byte blocks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot8_avx2(rows: *const i8, stride: usize, q: &[i8]) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_si256(); 8];
    let mut i = 0;
    while i < stride {
        let y = _mm256_loadu_si256(q.as_ptr().add(i) as *const __m256i);
        let ya = _mm256_abs_epi8(y);
        for (j, a) in acc.iter_mut().enumerate() {
            let x = _mm256_loadu_si256(rows.add(j * stride + i) as *const __m256i);
            let pairs = _mm256_maddubs_epi16(ya, _mm256_sign_epi8(x, y));
            *a = _mm256_add_epi32(*a, _mm256_madd_epi16(pairs, ones));
        }
        i += CODE_BLOCK;
    }
    // Lane sums: pairwise adds down to one vector whose lane j is row j's total.
    let s01 = _mm256_hadd_epi32(acc[0], acc[1]);
    let s23 = _mm256_hadd_epi32(acc[2], acc[3]);
    let s45 = _mm256_hadd_epi32(acc[4], acc[5]);
    let s67 = _mm256_hadd_epi32(acc[6], acc[7]);
    let s0123 = _mm256_hadd_epi32(s01, s23);
    let s4567 = _mm256_hadd_epi32(s45, s67);
    _mm256_add_epi32(
        _mm256_permute2x128_si256(s0123, s4567, 0x20),
        _mm256_permute2x128_si256(s0123, s4567, 0x31),
    )
}

/// What the interval of a row's score needs of the query.
struct Bound {
    /// The query's code step (`1 / scale`).
    q_step: f32,
    /// Half the query's code step.
    q_half: f32,
    /// `q_l1 + dim · q_half`: the factor of a row's half step in the error bound.
    half_factor: f32,
    slack: f32,
}

impl Bound {
    /// `(lo, hi)` around the score of a row with code dot product `dot`, code step `step`, half
    /// step `half` and decoded L1 norm `l1`.
    #[inline]
    fn interval(&self, dot: i32, step: f32, half: f32, l1: f32) -> (f32, f32) {
        let approx = dot as f32 * step * self.q_step;
        let err = l1 * self.q_half + half * self.half_factor + self.slack;
        (approx - err, approx + err)
    }
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
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

/// A query of [`EmbeddingIndex::nearest_many`]: the unit vector, how many rows, and which rows
/// may be answered.
pub type Query<'a> = (&'a [f32], usize, &'a dyn Fn(usize) -> bool);

/// One query's state during the pass over the codes: an interval `[lo, hi]` around each row's
/// score; `threshold` is the `k`-th largest `lo` of the kept rows so far. It only grows, and a
/// row whose `hi` is below it cannot be among the `k` best, so only the other rows are kept as
/// candidates (and scored exactly afterwards).
struct Search<'a> {
    q: &'a [f32],
    k: usize,
    keep: &'a dyn Fn(usize) -> bool,
    /// The query's codes, one stride long.
    qc: Vec<i8>,
    bound: Bound,
    best_lo: std::collections::BinaryHeap<std::cmp::Reverse<OrdF32>>,
    /// (hi, row) of every row that reached the threshold of its time.
    cand: Vec<(f32, usize)>,
    threshold: f32,
}

impl<'a> Search<'a> {
    fn new(
        idx: &EmbeddingIndex,
        q: &'a [f32],
        k: usize,
        keep: &'a dyn Fn(usize) -> bool,
    ) -> Search<'a> {
        let mut qc = Vec::with_capacity(idx.code_stride);
        let (q_half, q_l1) = quantise(q, &mut qc);
        qc.resize(idx.code_stride, 0);
        // score = (c/s)·(d/t) + (c/s)·e_q + e_r·(d/t) + e_r·e_q with |e_q| ≤ q_half and
        // |e_r| ≤ half, so |score − approx| ≤ l1·q_half + half·(q_l1 + dim·q_half), computed
        // in `f32` (its rounding, ~1e-7, is far inside `F32_SLACK`).
        let bound = Bound {
            q_step: 2.0 * q_half,
            q_half,
            half_factor: q_l1 + idx.dim as f32 * q_half,
            slack: F32_SLACK as f32,
        };
        Search {
            q,
            k,
            keep,
            qc,
            bound,
            best_lo: std::collections::BinaryHeap::with_capacity(k + 1),
            cand: Vec::new(),
            threshold: f32::NEG_INFINITY,
        }
    }

    /// Row `r`, whose score lies in `[lo, hi]`.
    #[inline]
    fn visit(&mut self, r: usize, lo: f32, hi: f32) {
        if hi < self.threshold || !(self.keep)(r) {
            return;
        }
        self.cand.push((hi, r));
        if self.best_lo.len() < self.k {
            self.best_lo.push(std::cmp::Reverse(OrdF32(lo)));
        } else if self.best_lo.peek().is_some_and(|m| lo > m.0 .0) {
            self.best_lo.pop();
            self.best_lo.push(std::cmp::Reverse(OrdF32(lo)));
        }
        if self.best_lo.len() == self.k {
            self.threshold = self.best_lo.peek().map_or(self.threshold, |m| m.0 .0);
        }
    }
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
        // A song's content is its decoded audio, recognised by its whole-file features (57
        // numbers computed from the samples alone): two files of one recording in different
        // containers (WAV and AU, say) have other bytes but the same features, bit for bit.
        // Songs without features fall back to their file's hash.
        let mut st = conn.prepare(
            "SELECT s.id, s.hash, s.title, s.artist, p.embedding, s.features FROM predictions p
             JOIN songs s ON s.id = p.song_id
             WHERE p.model_id = ? AND p.dim = ? AND s.error IS NULL ORDER BY s.id",
        )?;
        let mut rows = st.query(rusqlite::params![model_id, dim as i64])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let features: Option<Vec<u8>> = r.get(5)?;
            let hash: String = match features {
                Some(f) if !f.is_empty() => blake3::hash(&f).to_hex().to_string(),
                _ => r.get(1)?,
            };
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
            first_of: HashMap::new(),
            copies: HashMap::new(),
            codes: Vec::new(),
            code_stride: dim.div_ceil(CODE_BLOCK).max(1) * CODE_BLOCK,
            code_step: Vec::new(),
            code_half: Vec::new(),
            code_l1: Vec::new(),
            avx2: has_avx2(),
        }
    }

    /// Adds a song (its embedding is scaled to unit length; `hash` is its content hash: rows of
    /// one hash are copies of one recording).
    pub fn push(&mut self, id: i64, embedding: &[f32], dedup: u64, hash: &str) {
        debug_assert_eq!(embedding.len(), self.dim);
        let start = self.data.len();
        self.data.extend_from_slice(embedding);
        unit(&mut self.data[start..]);
        let (half, l1) = quantise(&self.data[start..], &mut self.codes);
        self.codes
            .resize(self.ids.len() * self.code_stride + self.code_stride, 0);
        self.code_step.push(2.0 * half);
        self.code_half.push(half);
        self.code_l1.push(l1);
        self.rows.insert(id, self.ids.len());
        self.ids.push(id);
        self.dedup.push(dedup);
        let key = content_key(hash);
        let row = self.content.len();
        self.content.push(key);
        match self.first_of.entry(key) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(row);
            }
            std::collections::hash_map::Entry::Occupied(e) => {
                let first = *e.get();
                self.copies
                    .entry(key)
                    .or_insert_with(|| vec![first])
                    .push(row);
            }
        }
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

    /// Whether two rows hold the same recording.
    pub fn same_content(&self, a: usize, b: usize) -> bool {
        self.content[a] == self.content[b]
    }

    /// The other rows that hold the same recording as `row`, in row order.
    pub fn copies_of(&self, row: usize) -> impl Iterator<Item = usize> + '_ {
        self.copies
            .get(&self.content[row])
            .into_iter()
            .flatten()
            .copied()
            .filter(move |&r| r != row)
    }

    /// How many rows are copies of an earlier row: a search for `k` distinct recordings asks
    /// for `k` plus this many rows.
    pub fn extra_copies(&self) -> usize {
        self.copies.values().map(|rows| rows.len() - 1).sum()
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
        self.nearest_many(&[(q, k, &keep)])
            .pop()
            .unwrap_or_default()
    }

    /// [`Self::nearest`] of several queries `(q, k, keep)` in one pass over the codes (which
    /// is bound by memory bandwidth: a batch costs little more than one query). Each answer is
    /// exactly [`Self::nearest_plain`]'s.
    pub fn nearest_many(&self, queries: &[Query<'_>]) -> Vec<Vec<(i64, f32)>> {
        let mut out: Vec<Option<Vec<(i64, f32)>>> = vec![None; queries.len()];
        let (mut slots, mut states) = (Vec::new(), Vec::new());
        for (i, &(q, k, keep)) in queries.iter().enumerate() {
            if k == 0 || self.len() <= k || q.len() != self.dim {
                out[i] = Some(self.nearest_plain(q, k, keep));
            } else {
                slots.push(i);
                states.push(Search::new(self, q, k, keep));
            }
        }
        if !states.is_empty() {
            #[cfg(target_arch = "x86_64")]
            if self.avx2 {
                // SAFETY: AVX2 was detected; every row and query code is one stride long.
                unsafe { self.first_pass_avx2(&mut states) };
            } else {
                self.first_pass(&mut states);
            }
            #[cfg(not(target_arch = "x86_64"))]
            self.first_pass(&mut states);
            for (i, st) in slots.into_iter().zip(states) {
                out[i] = Some(self.rescore(st.q, st.cand, st.threshold, st.k));
            }
        }
        out.into_iter().map(Option::unwrap_or_default).collect()
    }

    /// The first pass in plain Rust: every row's interval for every search.
    fn first_pass(&self, searches: &mut [Search]) {
        for (r, c) in self.codes.chunks_exact(self.code_stride).enumerate() {
            for s in searches.iter_mut() {
                let (lo, hi) = s.bound.interval(
                    dot_i8(c, &s.qc),
                    self.code_step[r],
                    self.code_half[r],
                    self.code_l1[r],
                );
                s.visit(r, lo, hi);
            }
        }
    }

    /// [`Self::first_pass`] eight rows at a time (read once for all the searches): their dot
    /// products and bounds in AVX2, and [`Search::visit`] only for the rows whose `hi` reaches
    /// the search's threshold (the others would change nothing).
    ///
    /// # Safety
    /// The CPU must have AVX2; every search's code holds [`Self::code_stride`] values.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn first_pass_avx2(&self, searches: &mut [Search]) {
        use std::arch::x86_64::*;
        let n = self.len();
        let stride = self.code_stride;
        let mut r0 = 0;
        while r0 + 8 <= n {
            let step = _mm256_loadu_ps(self.code_step.as_ptr().add(r0));
            let l1 = _mm256_loadu_ps(self.code_l1.as_ptr().add(r0));
            let half = _mm256_loadu_ps(self.code_half.as_ptr().add(r0));
            for s in searches.iter_mut() {
                debug_assert_eq!(s.qc.len(), stride);
                let b = &s.bound;
                let dots = dot8_avx2(self.codes.as_ptr().add(r0 * stride), stride, &s.qc);
                let approx = _mm256_mul_ps(
                    _mm256_mul_ps(_mm256_cvtepi32_ps(dots), step),
                    _mm256_set1_ps(b.q_step),
                );
                let err = _mm256_add_ps(
                    _mm256_add_ps(
                        _mm256_mul_ps(l1, _mm256_set1_ps(b.q_half)),
                        _mm256_mul_ps(half, _mm256_set1_ps(b.half_factor)),
                    ),
                    _mm256_set1_ps(b.slack),
                );
                let hi = _mm256_add_ps(approx, err);
                let mut mask =
                    _mm256_movemask_ps(_mm256_cmp_ps(hi, _mm256_set1_ps(s.threshold), _CMP_GE_OQ))
                        as u32;
                if mask != 0 {
                    let mut his = [0.0f32; 8];
                    let mut los = [0.0f32; 8];
                    _mm256_storeu_ps(his.as_mut_ptr(), hi);
                    _mm256_storeu_ps(los.as_mut_ptr(), _mm256_sub_ps(approx, err));
                    while mask != 0 {
                        let j = mask.trailing_zeros() as usize;
                        mask &= mask - 1;
                        s.visit(r0 + j, los[j], his[j]);
                    }
                }
            }
            r0 += 8;
        }
        for r in r0..n {
            let c = &self.codes[r * stride..(r + 1) * stride];
            for s in searches.iter_mut() {
                let (lo, hi) = s.bound.interval(
                    dot_i8_avx2(c, &s.qc),
                    self.code_step[r],
                    self.code_half[r],
                    self.code_l1[r],
                );
                s.visit(r, lo, hi);
            }
        }
    }

    /// The exact `f32` scores of the candidates whose bound reaches the final threshold, and the
    /// best `k` of them.
    fn rescore(
        &self,
        q: &[f32],
        cand: Vec<(f32, usize)>,
        threshold: f32,
        k: usize,
    ) -> Vec<(i64, f32)> {
        let exact: Vec<(f32, usize)> = cand
            .into_iter()
            .filter(|&(hi, _)| hi >= threshold)
            .map(|(_, r)| (dot(q, self.vector(r)), r))
            .collect();
        self.top_k(exact, k)
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
        let idx_avx2 = idx.avx2;
        let mut pool: Vec<Vec<f32>> = Vec::new();
        // 3003 rows: whole blocks of eight for the AVX2 pass and a tail of three.
        for id in 0..3003i64 {
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
                let plain = idx.nearest_plain(&q, k, |r| r % 7 != skip);
                // Both kernels of the first pass (the portable one on every CPU).
                for avx2 in [false, idx_avx2] {
                    idx.avx2 = avx2;
                    let fast = idx.nearest(&q, k, |r| r % 7 != skip);
                    assert_eq!(fast, plain, "query {t}, k {k}, avx2 {avx2}");
                    assert_eq!(fast.len(), k);
                }
            }
        }
        // A batch in one pass: every answer is its own plain search's, whatever the batch
        // holds (k = 0, k above the rows kept, a wrong size, repeats).
        let raws: Vec<Vec<f32>> = (0..12)
            .map(|t| {
                let raw: Vec<f32> = (0..dim).map(|_| rng.gen_range(-0.2f32..1.0)).collect();
                if t == 5 {
                    raw[..dim - 1].to_vec()
                } else {
                    idx.normalise_query(&raw).unwrap_or(raw)
                }
            })
            .collect();
        let keeps: Vec<Box<dyn Fn(usize) -> bool>> = (0..12)
            .map(|t| -> Box<dyn Fn(usize) -> bool> {
                match t % 3 {
                    0 => Box::new(|_| true),
                    1 => Box::new(move |r| r % 5 != t % 5),
                    _ => Box::new(|r| r < 7),
                }
            })
            .collect();
        let ks = [10, 1, 10, 0, 50, 10, 3000, 10, 10, 1, 10, 20];
        let batch: Vec<Query> = (0..12)
            .map(|t| (raws[t].as_slice(), ks[t], keeps[t].as_ref()))
            .collect();
        for avx2 in [false, idx_avx2] {
            idx.avx2 = avx2;
            let got = idx.nearest_many(&batch);
            assert_eq!(got.len(), 12);
            for (t, g) in got.iter().enumerate() {
                assert_eq!(
                    g,
                    &idx.nearest_plain(raws[t].as_slice(), ks[t], &keeps[t]),
                    "{t}"
                );
            }
        }
        // Fewer kept rows than k: all of them, as the plain search.
        let q = idx.normalise_query(&pool[0]).unwrap();
        let few = idx.nearest(&q, 10, |r| r < 4);
        assert_eq!(few, idx.nearest_plain(&q, 10, |r| r < 4));
        assert_eq!(few.len(), 4);
    }

    #[test]
    fn code_kernels_agree() {
        use rand::{Rng, SeedableRng};
        if !has_avx2() {
            crate::config::skip_test("code_kernels_agree: no AVX2 kernel to compare on this CPU");
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for blocks in 1..6 {
            let n = blocks * CODE_BLOCK;
            for _ in 0..200 {
                let a: Vec<i8> = (0..n).map(|_| rng.gen_range(-127i8..=127)).collect();
                let b: Vec<i8> = (0..n).map(|_| rng.gen_range(-127i8..=127)).collect();
                let want: i32 = a.iter().zip(&b).map(|(&x, &y)| x as i32 * y as i32).sum();
                assert_eq!(dot_i8(&a, &b), want);
                #[cfg(target_arch = "x86_64")]
                if has_avx2() {
                    // SAFETY: AVX2 detected; whole blocks of one length.
                    assert_eq!(unsafe { dot_i8_avx2(&a, &b) }, want);
                }
            }
            // Eight rows at once, as the first pass reads them.
            let rows: Vec<i8> = (0..8 * n).map(|_| rng.gen_range(-127i8..=127)).collect();
            let b: Vec<i8> = (0..n).map(|_| rng.gen_range(-127i8..=127)).collect();
            #[cfg(target_arch = "x86_64")]
            if has_avx2() {
                let mut lanes = [0i32; 8];
                // SAFETY: AVX2 detected; eight rows of `n` values, `n` whole blocks.
                unsafe {
                    let v = dot8_avx2(rows.as_ptr(), n, &b);
                    std::arch::x86_64::_mm256_storeu_si256(lanes.as_mut_ptr().cast(), v);
                }
                for (j, &l) in lanes.iter().enumerate() {
                    assert_eq!(l, dot_i8(&rows[j * n..(j + 1) * n], &b));
                }
            }
            // The extremes: every pair at ±127 (the largest pair sums, no saturation).
            let a = vec![127i8; n];
            let b: Vec<i8> = (0..n)
                .map(|i| if i % 3 == 0 { -127 } else { 127 })
                .collect();
            let want: i32 = a.iter().zip(&b).map(|(&x, &y)| x as i32 * y as i32).sum();
            assert_eq!(dot_i8(&a, &b), want);
            #[cfg(target_arch = "x86_64")]
            if has_avx2() {
                // SAFETY: as above.
                assert_eq!(unsafe { dot_i8_avx2(&a, &b) }, want);
                assert_eq!(unsafe { dot_i8_avx2(&a, &a) }, 127 * 127 * n as i32);
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
