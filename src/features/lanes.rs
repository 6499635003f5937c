//! Lane-parallel kernels of the streaming extractor: sixteen independent lines at once, one per
//! SIMD lane, written as plain array loops that the compiler vectorises (AVX-512, AVX2 or the
//! SSE2 baseline, chosen at run time).
//!
//! The width-31 sliding median keeps, for each lane, its window sorted in 31 slots (plus a `+∞`
//! sentinel). One step removes the outgoing value and inserts the incoming one with compares,
//! blends, minima and maxima only, the same operations in every lane, so sixteen lines (sixteen
//! bins along time, or sixteen frames along frequency) advance together. The median is the
//! middle slot: an element of the window, so the result is exact, the same order statistic as a
//! sort gives (the values are non-negative magnitudes; no NaN).

/// Defines a function twice, compiled for AVX2 + FMA and for the target's baseline, and picks
/// one at run time (AVX2 when the CPU has it). rustc never contracts a multiply and an add into
/// an FMA, so both versions compute the same bits; only the vector width differs.
macro_rules! simd_fn {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn imp($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2($($arg: $ty),*) $(-> $ret)? {
                imp($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if $crate::features::lanes::has_avx2() {
                // SAFETY: the CPU reported AVX2 and FMA.
                return unsafe { avx2($($arg),*) };
            }
            imp($($arg),*)
        }
    };
}
pub(crate) use simd_fn;

/// Whether the `simd_fn!` versions for AVX2 and FMA run (the CPU has them).
#[inline]
pub fn has_avx2() -> bool {
    active_isa() != Isa::Portable
}

thread_local! {
    /// The instruction set the kernels on this thread may use at most ([`with_isa`]).
    static CAP: std::cell::Cell<Option<Isa>> = const { std::cell::Cell::new(None) };
}

/// The instruction set the kernels use: [`best_isa`], or less inside [`with_isa`].
#[inline]
pub fn active_isa() -> Isa {
    match CAP.with(|c| c.get()) {
        Some(cap) => clamp(cap),
        None => best_isa(),
    }
}

/// Runs `f` with every kernel it reaches limited to `isa` (or to the best the CPU has, when
/// that is less): on a thread pool made for the call, each of whose threads carries the limit,
/// so that nested parallel work keeps it and nothing else in the process is affected. Tests
/// run one analysis per instruction set this way, side by side with other tests.
pub fn with_isa<R: Send>(isa: Isa, f: impl FnOnce() -> R + Send) -> R {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .start_handler(move |_| CAP.with(|c| c.set(Some(isa))))
        .build()
        .expect("a thread pool for with_isa");
    pool.install(f)
}

/// The instruction sets the kernels can run on this CPU: the portable code first, then each
/// SIMD set up to [`best_isa`].
pub fn available_isas() -> Vec<Isa> {
    let mut v = vec![Isa::Portable];
    for isa in [Isa::Avx2, Isa::Avx512] {
        if clamp(isa) == isa {
            v.push(isa);
        }
    }
    v
}

impl Isa {
    /// Its name in test output: `portable`, `avx2`, `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

/// Lines processed together.
pub const LANES: usize = 16;

/// One value per lane.
pub type Lane = [f32; LANES];

/// Slots of a sorted window: 31 values and the `+∞` sentinel.
const SLOTS: usize = 32;

/// Width of the sliding median.
pub const WIDTH: usize = 31;

/// The sorted windows of sixteen lines.
#[derive(Debug, Clone)]
pub struct Window {
    w: [Lane; SLOTS],
}

impl Default for Window {
    /// An empty window: every slot `+∞` (a step with `old = +∞` then inserts a value).
    fn default() -> Self {
        Window {
            w: [[f32::INFINITY; LANES]; SLOTS],
        }
    }
}

/// `a < b ? a : b` lane by lane (one `minps`).
#[inline(always)]
fn min(a: &Lane, b: &Lane) -> Lane {
    let mut o = [0.0; LANES];
    for l in 0..LANES {
        o[l] = if a[l] < b[l] { a[l] } else { b[l] };
    }
    o
}

/// `a > b ? a : b` lane by lane (one `maxps`).
#[inline(always)]
fn max(a: &Lane, b: &Lane) -> Lane {
    let mut o = [0.0; LANES];
    for l in 0..LANES {
        o[l] = if a[l] > b[l] { a[l] } else { b[l] };
    }
    o
}

/// `a < b ? x : y` lane by lane (a compare and a blend).
#[inline(always)]
fn select_lt(a: &Lane, b: &Lane, x: &Lane, y: &Lane) -> Lane {
    let mut o = [0.0; LANES];
    for l in 0..LANES {
        o[l] = if a[l] < b[l] { x[l] } else { y[l] };
    }
    o
}

/// Replaces one occurrence of `old` (present in each lane's window) by `new`.
///
/// Removal shifts the slots from the first `old` on one place down:
/// `d[k] = w[k] < old ? w[k] : w[k+1]`. Insertion into the sorted `d` is
/// `e[k] = min(d[k], max(d[k−1], new))` (with `d[−1] = −∞`): slots below `new` keep their value,
/// the first slot above takes `new`, the rest shift up.
#[inline(always)]
fn step(w: &mut [Lane; SLOTS], old: &Lane, new: &Lane) {
    let mut prev = [f32::NEG_INFINITY; LANES];
    let mut cur = w[0];
    for k in 0..WIDTH {
        let next = w[k + 1];
        let d = select_lt(&cur, old, &cur, &next);
        w[k] = min(&d, &max(&prev, new));
        prev = d;
        cur = next;
    }
}

#[inline(always)]
fn load(src: &[f32], at: usize) -> Lane {
    src[at..at + LANES].try_into().expect("LANES values")
}

/// One step of a median run: the element offsets (of lane 0) of the outgoing value and the
/// incoming value in `src`, and of the median's destination in `dst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub old: u32,
    pub new: u32,
    pub out: u32,
}

#[inline(always)]
fn median_run_impl(window: &mut Window, src: &[f32], dst: &mut [f32], steps: &[Step], off: usize) {
    let mut w = window.w;
    for s in steps {
        let old = load(src, s.old as usize + off);
        let new = load(src, s.new as usize + off);
        step(&mut w, &old, &new);
        let o = s.out as usize + off;
        dst[o..o + LANES].copy_from_slice(&w[WIDTH / 2]);
    }
    window.w = w;
}

/// The x86-64 kernels: the same step with explicit AVX-512 / AVX2 vectors (the compiler does not
/// keep the windows in registers on its own).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Step, Window, LANES, SLOTS, WIDTH};
    use std::arch::x86_64::*;

    /// [`super::median_run_impl`] with AVX-512: one 16-lane register per slot, all 31 slots
    /// in registers.
    ///
    /// # Safety
    /// The CPU must support AVX-512F; every offset of `steps` plus `off` must leave 16 values
    /// in `src` / `dst` (checked).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn median_run_avx512(
        window: &mut Window,
        src: &[f32],
        dst: &mut [f32],
        steps: &[Step],
        off: usize,
    ) {
        let mut w = [_mm512_setzero_ps(); SLOTS];
        for (r, lane) in w.iter_mut().zip(window.w.iter()) {
            *r = _mm512_loadu_ps(lane.as_ptr());
        }
        let neg_inf = _mm512_set1_ps(f32::NEG_INFINITY);
        for s in steps {
            let (o, n, d) = (
                s.old as usize + off,
                s.new as usize + off,
                s.out as usize + off,
            );
            assert!(o + LANES <= src.len() && n + LANES <= src.len() && d + LANES <= dst.len());
            let old = _mm512_loadu_ps(src.as_ptr().add(o));
            let new = _mm512_loadu_ps(src.as_ptr().add(n));
            let mut prev = neg_inf;
            let mut cur = w[0];
            for k in 0..WIDTH {
                let next = w[k + 1];
                let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(cur, old);
                let dk = _mm512_mask_blend_ps(below, next, cur);
                w[k] = _mm512_min_ps(dk, _mm512_max_ps(prev, new));
                prev = dk;
                cur = next;
            }
            _mm512_storeu_ps(dst.as_mut_ptr().add(d), w[WIDTH / 2]);
        }
        for (r, lane) in w.iter().zip(window.w.iter_mut()) {
            _mm512_storeu_ps(lane.as_mut_ptr(), *r);
        }
    }

    /// [`super::median_run_impl`] with AVX2: each slot is two 8-lane registers.
    ///
    /// # Safety
    /// The CPU must support AVX2; offsets as for [`median_run_avx512`] (checked).
    #[target_feature(enable = "avx2")]
    #[allow(clippy::needless_range_loop)] // `h` picks the half of every slot
    pub(super) unsafe fn median_run_avx2(
        window: &mut Window,
        src: &[f32],
        dst: &mut [f32],
        steps: &[Step],
        off: usize,
    ) {
        let mut w = [[_mm256_setzero_ps(); 2]; SLOTS];
        for (r, lane) in w.iter_mut().zip(window.w.iter()) {
            r[0] = _mm256_loadu_ps(lane.as_ptr());
            r[1] = _mm256_loadu_ps(lane.as_ptr().add(8));
        }
        let neg_inf = _mm256_set1_ps(f32::NEG_INFINITY);
        for s in steps {
            let (o, n, d) = (
                s.old as usize + off,
                s.new as usize + off,
                s.out as usize + off,
            );
            assert!(o + LANES <= src.len() && n + LANES <= src.len() && d + LANES <= dst.len());
            for h in 0..2 {
                let old = _mm256_loadu_ps(src.as_ptr().add(o + 8 * h));
                let new = _mm256_loadu_ps(src.as_ptr().add(n + 8 * h));
                let mut prev = neg_inf;
                let mut cur = w[0][h];
                for k in 0..WIDTH {
                    let next = w[k + 1][h];
                    let below = _mm256_cmp_ps::<_CMP_LT_OQ>(cur, old);
                    let dk = _mm256_blendv_ps(next, cur, below);
                    w[k][h] = _mm256_min_ps(dk, _mm256_max_ps(prev, new));
                    prev = dk;
                    cur = next;
                }
                _mm256_storeu_ps(dst.as_mut_ptr().add(d + 8 * h), w[WIDTH / 2][h]);
            }
        }
        for (r, lane) in w.iter().zip(window.w.iter_mut()) {
            _mm256_storeu_ps(lane.as_mut_ptr(), r[0]);
            _mm256_storeu_ps(lane.as_mut_ptr().add(8), r[1]);
        }
    }
}

/// Instruction sets the kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// The baseline of the target (SSE2 on x86_64).
    Portable,
    /// AVX2 (+FMA, never used for contraction: results are identical on every ISA).
    Avx2,
    /// AVX-512 F/VL.
    Avx512,
}

/// The best instruction set this CPU supports (detected once).
pub fn best_isa() -> Isa {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    })
}

/// Runs `steps` of the sliding median on the lanes at element offset `off` (added to every
/// offset of the steps): for each step, the window drops `src[old..old+16]` and takes
/// `src[new..new+16]`, and its medians go to `dst[out..out+16]`. `isa` must not exceed
/// [`best_isa`] (it is clamped to it).
pub fn median_run(
    isa: Isa,
    window: &mut Window,
    src: &[f32],
    dst: &mut [f32],
    steps: &[Step],
    off: usize,
) {
    let isa = clamp(isa);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `clamp` only keeps an ISA the CPU reported.
        Isa::Avx512 => unsafe { x86::median_run_avx512(window, src, dst, steps, off) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { x86::median_run_avx2(window, src, dst, steps, off) },
        _ => median_run_impl(window, src, dst, steps, off),
    }
}

/// `isa`, or the best one available when the CPU lacks it.
fn clamp(isa: Isa) -> Isa {
    let best = best_isa();
    let rank = |i: Isa| match i {
        Isa::Portable => 0,
        Isa::Avx2 => 1,
        Isa::Avx512 => 2,
    };
    if rank(isa) <= rank(best) {
        isa
    } else {
        best
    }
}

/// Writes the transpose of the `rows × cols` matrix `src` (row stride `src_stride`) into `dst`
/// (row stride `dst_stride`, `cols` rows of `rows` values), in 8 × 8 tiles.
pub fn transpose(
    src: &[f32],
    src_stride: usize,
    rows: usize,
    cols: usize,
    dst: &mut [f32],
    dst_stride: usize,
) {
    match active_isa() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU reported AVX2.
        Isa::Avx2 | Isa::Avx512 => unsafe {
            transpose_avx2(src, src_stride, rows, cols, dst, dst_stride)
        },
        _ => transpose_impl(src, src_stride, rows, cols, dst, dst_stride),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn transpose_avx2(
    src: &[f32],
    src_stride: usize,
    rows: usize,
    cols: usize,
    dst: &mut [f32],
    dst_stride: usize,
) {
    transpose_impl(src, src_stride, rows, cols, dst, dst_stride)
}

#[inline(always)]
#[allow(clippy::needless_range_loop)] // `j` is a column of the tile
fn transpose_impl(
    src: &[f32],
    src_stride: usize,
    rows: usize,
    cols: usize,
    dst: &mut [f32],
    dst_stride: usize,
) {
    const T: usize = 8;
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        src.len() >= (rows - 1) * src_stride + cols,
        "source too short"
    );
    assert!(
        dst.len() >= (cols - 1) * dst_stride + rows,
        "destination too short"
    );
    let (r_full, c_full) = (rows / T * T, cols / T * T);
    for r0 in (0..r_full).step_by(T) {
        for c0 in (0..c_full).step_by(T) {
            let mut tile = [[0.0f32; T]; T];
            for (i, row) in tile.iter_mut().enumerate() {
                let s = (r0 + i) * src_stride + c0;
                row.copy_from_slice(&src[s..s + T]);
            }
            for j in 0..T {
                let d = (c0 + j) * dst_stride + r0;
                let out = &mut dst[d..d + T];
                for (i, o) in out.iter_mut().enumerate() {
                    *o = tile[i][j];
                }
            }
        }
    }
    // Ragged edges.
    for r in 0..rows {
        let cs = if r < r_full { c_full } else { 0 };
        for c in cs..cols {
            dst[c * dst_stride + r] = src[r * src_stride + c];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Median of each width-31 window of the line extended by 15 values on each side (the
    /// caller's extension), by sorting.
    fn naive(ext: &[f32]) -> Vec<f32> {
        ext.windows(WIDTH)
            .map(|w| {
                let mut w = w.to_vec();
                w.sort_by(f32::total_cmp);
                w[WIDTH / 2]
            })
            .collect()
    }

    #[test]
    fn lane_medians_equal_sorting() {
        // Sixteen lines of non-negative values with many ties (zeros, repeated values, +∞),
        // stored lane-interleaved: value j of line l at j * 16 + l.
        let len = 200;
        let mut state = 2_463_534_242u32;
        let mut lines = vec![vec![0.0f32; len]; LANES];
        for line in lines.iter_mut() {
            for x in line.iter_mut() {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                *x = match state % 13 {
                    0 => 0.0,
                    1 => f32::INFINITY,
                    v => (v % 5) as f32 * 0.5 + (state >> 28) as f32 * 1e-3,
                };
            }
        }
        let mut src = vec![0.0f32; (len + 1) * LANES];
        for (l, line) in lines.iter().enumerate() {
            for (j, &x) in line.iter().enumerate() {
                src[j * LANES + l] = x;
            }
        }
        // Row `len` is the +∞ row the first 31 steps remove.
        src[len * LANES..].fill(f32::INFINITY);
        let inf = (len * LANES) as u32;
        let mut steps = Vec::new();
        let discard = (len * LANES) as u32;
        for j in 0..WIDTH {
            let out = if j == WIDTH - 1 { 0 } else { discard };
            steps.push(Step {
                old: inf,
                new: (j * LANES) as u32,
                out,
            });
        }
        for t in 1..len - WIDTH + 1 {
            steps.push(Step {
                old: ((t - 1) * LANES) as u32,
                new: ((t + WIDTH - 1) * LANES) as u32,
                out: (t * LANES) as u32,
            });
        }
        for isa in available_isas() {
            let mut dst = vec![0.0f32; (len + 1) * LANES];
            let mut w = Window::default();
            median_run(isa, &mut w, &src, &mut dst, &steps, 0);
            for (l, line) in lines.iter().enumerate() {
                let want = naive(line);
                let got: Vec<f32> = (0..want.len()).map(|t| dst[t * LANES + l]).collect();
                assert_eq!(got, want, "{isa:?} lane {l}");
            }
        }
    }

    #[test]
    fn transpose_round_trips() {
        for (rows, cols) in [(1, 1), (3, 5), (8, 8), (16, 1025), (19, 33)] {
            let src: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
            let mut t = vec![0.0f32; rows * cols];
            transpose(&src, cols, rows, cols, &mut t, rows);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(t[c * rows + r], src[r * cols + c]);
                }
            }
            let mut back = vec![0.0f32; rows * cols];
            transpose(&t, rows, cols, rows, &mut back, cols);
            assert_eq!(back, src);
        }
    }
}
