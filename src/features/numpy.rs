//! numpy's reductions in numpy's own order (numpy 1.23): pairwise sums, whole-array sums in
//! buffered chunks, and the mean and variance of `float32` and `float64` arrays. The features'
//! means and variances, the spectral sums and the channel mean of the decoder all add up as
//! numpy does, so that they give numpy's bits.

/// Inner-loop length of numpy's buffered reductions: a sum over more elements is done in chunks
/// of this many, each summed pairwise, the chunk sums added in order.
const NUMPY_BUFSIZE: usize = 8192;

/// numpy's pairwise summation (`pairwise_sum` of its add-reduce loop) in the element type:
/// below 8 elements a plain loop, up to 128 eight interleaved partial sums, above that the
/// halves (split at a multiple of 8) recursively.
pub fn pairwise_sum<T>(a: &[T]) -> T
where
    T: Copy + Default + std::ops::Add<Output = T>,
{
    if a.len() <= 128 {
        pairwise_leaf(a)
    } else {
        let (lo, hi) = a.split_at(pairwise_split(a.len()));
        pairwise_sum(lo) + pairwise_sum(hi)
    }
}

/// Where [`pairwise_sum`] splits `n > 128` elements.
#[inline(always)]
fn pairwise_split(n: usize) -> usize {
    let n2 = n / 2;
    n2 - n2 % 8
}

/// [`pairwise_sum`] of at most 128 elements.
#[inline(always)]
fn pairwise_leaf<T>(a: &[T]) -> T
where
    T: Copy + Default + std::ops::Add<Output = T>,
{
    let n = a.len();
    if n < 8 {
        let mut res = T::default();
        for &x in a {
            res = res + x;
        }
        res
    } else {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let full = n - n % 8;
        for chunk in a[8..full].chunks_exact(8) {
            for (rj, &x) in r.iter_mut().zip(chunk) {
                *rj = *rj + x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[full..] {
            res = res + x;
        }
        res
    }
}

super::lanes::simd_fn! {
    /// [`pairwise_sum`] of f64 values (the same sums, vectorised for the CPU).
    pub fn pairwise_sum_f64(a: &[f64]) -> f64 {
        if a.len() <= 128 {
            pairwise_leaf(a)
        } else {
            let (lo, hi) = a.split_at(pairwise_split(a.len()));
            pairwise_sum_f64(lo) + pairwise_sum_f64(hi)
        }
    }
}

super::lanes::simd_fn! {
    /// [`pairwise_sum`] of f32 values (the same sums, vectorised for the CPU).
    pub fn pairwise_sum_f32(a: &[f32]) -> f32 {
        if a.len() <= 128 {
            pairwise_leaf(a)
        } else {
            let (lo, hi) = a.split_at(pairwise_split(a.len()));
            pairwise_sum_f32(lo) + pairwise_sum_f32(hi)
        }
    }
}

/// `np.sum(a)` of a whole array in its own dtype (numpy 1.23): pairwise sums of chunks of 8192
/// elements, accumulated in order.
pub fn numpy_sum<T>(a: &[T]) -> T
where
    T: Copy + Default + std::ops::Add<Output = T>,
{
    let mut acc = T::default();
    for chunk in a.chunks(NUMPY_BUFSIZE) {
        acc = acc + pairwise_sum(chunk);
    }
    acc
}

/// `(np.mean(a), np.var(a))` of a float32 array, computed as numpy 1.23 does it: in f32
/// throughout (the sums as [`numpy_sum`], the deviations `a - mean` squared in f32). `a` is
/// the array's elements in memory (C) order. An empty slice gives (0, 0).
pub fn mean_var_f32(a: &[f32]) -> (f64, f64) {
    let whole: Result<_, std::convert::Infallible> =
        mean_var_f32_blocks(a.len(), &mut |start, len, f| {
            f(&a[start..start + len]);
            Ok(())
        });
    match whole {
        Ok(mv) => mv,
    }
}

/// Elements per block of [`mean_var_f32_blocks`] (whole chunks of numpy's buffer).
pub const BLOCK_ELEMENTS: usize = 64 * NUMPY_BUFSIZE;

/// How [`mean_var_f32_blocks`] reads an array: `read(start, len, f)` calls `f` with elements
/// `start..start + len`.
pub type ReadBlock<'a, E> = dyn FnMut(usize, usize, &mut dyn FnMut(&[f32])) -> Result<(), E> + 'a;

/// [`mean_var_f32`] of an array of `n` elements read a block at a time (blocks of
/// [`BLOCK_ELEMENTS`], in order, twice over the array).
pub fn mean_var_f32_blocks<E>(n: usize, read: &mut ReadBlock<E>) -> Result<(f64, f64), E> {
    if n == 0 {
        return Ok((0.0, 0.0));
    }
    let mut sum = 0.0f32;
    for start in (0..n).step_by(BLOCK_ELEMENTS) {
        read(start, BLOCK_ELEMENTS.min(n - start), &mut |block| {
            for chunk in block.chunks(NUMPY_BUFSIZE) {
                sum += pairwise_sum_f32(chunk);
            }
        })?;
    }
    let count = n as f32;
    let mean = sum / count;
    // The squared deviations chunk by chunk (numpy sums the whole array in these chunks).
    let mut sq = vec![0.0f32; NUMPY_BUFSIZE.min(n)];
    let mut ss = 0.0f32;
    for start in (0..n).step_by(BLOCK_ELEMENTS) {
        read(start, BLOCK_ELEMENTS.min(n - start), &mut |block| {
            for chunk in block.chunks(NUMPY_BUFSIZE) {
                let sq = &mut sq[..chunk.len()];
                squared_deviations_f32(chunk, mean, sq);
                ss += pairwise_sum_f32(sq);
            }
        })?;
    }
    Ok((f64::from(mean), f64::from(ss / count)))
}

super::lanes::simd_fn! {
    /// `(x - mean)²` of each element, in f32.
    fn squared_deviations_f32(a: &[f32], mean: f32, out: &mut [f32]) {
        for (o, &x) in out.iter_mut().zip(a) {
            let d = x - mean;
            *o = d * d;
        }
    }
}

/// Mean and population variance (ddof = 0) of a sequence of f64, as `np.mean` / `np.var` of a
/// float64 array (same summation order, see [`numpy_sum`]). An empty sequence gives (0, 0).
pub fn mean_var<I: IntoIterator<Item = f64>>(values: I) -> (f64, f64) {
    let v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let n = v.len() as f64;
    let mut sum = 0.0f64;
    for chunk in v.chunks(NUMPY_BUFSIZE) {
        sum += pairwise_sum_f64(chunk);
    }
    let mean = sum / n;
    let sq: Vec<f64> = v.iter().map(|x| (x - mean) * (x - mean)).collect();
    let mut ss = 0.0f64;
    for chunk in sq.chunks(NUMPY_BUFSIZE) {
        ss += pairwise_sum_f64(chunk);
    }
    (mean, ss / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_var_is_population_statistics() {
        let (m, v) = mean_var([1.0, 2.0, 3.0, 4.0]);
        assert_eq!((m, v), (2.5, 1.25));
        assert_eq!(mean_var(std::iter::empty()), (0.0, 0.0));
        let (m, v) = mean_var_f32(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!((m, v), (2.5, 1.25));
        assert_eq!(mean_var_f32(&[7.5]), (7.5, 0.0));
    }

    #[test]
    fn numpy_sum_order() {
        // f32 spacing at 2^24 is 2, so the order of adding ones to 2^24 shows. numpy's pairwise
        // sum of [2^24, 1 × 8] adds the first eight as ((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7)) =
        // (2^24 + 2) + 4 (the lone +1 rounds away), then the ninth: 2^24 + 7 rounds to even, 2^24 + 8.
        let mut a = vec![1.0f32; 9];
        a[0] = 16_777_216.0;
        assert_eq!(pairwise_sum(&a), 16_777_224.0);
        let naive: f32 = a.iter().sum();
        assert_eq!(naive, 16_777_216.0);
        // Above 8192 elements numpy sums chunk by chunk.
        let b = vec![0.1f32; 20_000];
        let chunked =
            pairwise_sum(&b[..8192]) + pairwise_sum(&b[8192..16384]) + pairwise_sum(&b[16384..]);
        assert_eq!(numpy_sum(&b), chunked);
    }
}
