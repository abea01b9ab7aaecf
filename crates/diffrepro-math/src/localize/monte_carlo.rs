//! Monte Carlo estimates of s_r, h, m*, δ*, ζ*_M, as the paper computed them: draw
//! Y_r = rX + Z, evaluate L_r(Y_r), and summarise the sample on grids of u or δ.
//!
//! Reproducibility: [`sample_localization`] draws from the counter-based generator
//! `measure::sample::Stream` of (seed, stream): draw i of Y_r is a fixed function of
//! (seed, stream, i) (see `measure::sample`), so the sample is bit-identical on any
//! number of rayon threads, and a shorter run is a prefix of a longer one. The draws
//! go in chunks of [`MC_CHUNK`]: a chunk draws its Y_r, then evaluates L_r on all of
//! them, from the table of L_r at this r (`Localizer::localization_table`: within
//! 10⁻¹² of the kernel relative to max(1, sup L_r), built once per sample and shared
//! by the chunks), or with the batch kernel (`Localizer::localization_batch`) where
//! L_r has no table.
//!
//! The summaries bin each sample once against the sorted thresholds (no sort of the
//! sample; an O(1) bin lookup on even grids), with integer counts and per-chunk float
//! sums combined in chunk order, so they too are independent of scheduling; tails on
//! a grid of k thresholds then take O(k) suffix sums. [`tail_mc_sampled`] and
//! [`survival_mc_sampled`] bin inside the sampling chunk, while its draws are in
//! cache, and give bit for bit what the two-step path gives. Hands `Estimate`s and
//! `Complexity` values to the experiment runners.

use rayon::prelude::*;

use super::printed::PrintedFormula;
use super::{ou_noise_var, Complexity};
use crate::measure::sample::Stream;
use crate::measure::{Localizer, Measure};

/// Samples per chunk, for drawing and for summarising (fixed, so float sums have a
/// fixed order).
pub const MC_CHUNK: usize = 4096;

/// A Monte Carlo estimate and its standard error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub se: f64,
}

/// n draws of L_r(Y_r), Y_r = rX + Z, X ~ μ; deterministic in (seed, stream) whatever
/// the rayon thread count (see the module header).
pub fn sample_localization(m: &Measure, r: f64, n: usize, seed: u64, stream: u64) -> Vec<f64> {
    let loc = m.localizer(r);
    if let Some(c) = loc.constant_localization() {
        // Point masses and normals: L_r(y) is the same number at every y, bit for bit,
        // so the draws cannot change the sample and are skipped.
        return vec![c; n];
    }
    sample_with(m, r, n, seed, stream, localization_eval(&loc))
}

/// L_r over a chunk of draws: from the table of L_r on Y_r's range
/// (`Localizer::localization_table`, within 10⁻¹² of the kernel's value) when L_r has
/// one, else by the batch kernel; draws outside the table by the kernel.
fn localization_eval(loc: &Localizer) -> impl Fn(&mut [f64]) + Sync + '_ {
    let (lo, hi) = loc.y_range();
    let table = loc.localization_table(lo, hi);
    move |chunk: &mut [f64]| match &table {
        Some(t) => t.eval_batch(chunk, |y| loc.localization(y)),
        None => loc.localization_batch(chunk),
    }
}

/// n draws of `formula` at Y_r: the draws of Y_r of [`sample_localization`] (the same
/// (seed, stream) gives the same Y_r), each replaced by the formula's value.
pub fn sample_printed_formula(
    m: &Measure,
    r: f64,
    n: usize,
    seed: u64,
    stream: u64,
    formula: &PrintedFormula,
) -> Vec<f64> {
    sample_with(m, r, n, seed, stream, |chunk| formula.eval_batch(chunk))
}

/// n draws of Y_r in chunks of [`MC_CHUNK`], each chunk then replaced by `eval`.
fn sample_with(
    m: &Measure,
    r: f64,
    n: usize,
    seed: u64,
    stream: u64,
    eval: impl Fn(&mut [f64]) + Sync,
) -> Vec<f64> {
    let st = Stream::new(seed, stream);
    let mut out = vec![0.0; n];
    out.par_chunks_mut(MC_CHUNK)
        .enumerate()
        .for_each(|(k, chunk)| draw_chunk(m, r, &st, k, chunk, &eval));
    out
}

/// Chunk k of the sample: draws k·MC_CHUNK, … of Y_r, replaced by `eval` (L_r).
#[inline]
fn draw_chunk(
    m: &Measure,
    r: f64,
    st: &Stream,
    k: usize,
    chunk: &mut [f64],
    eval: impl Fn(&mut [f64]),
) {
    let t0 = crate::phases::phase_start();
    // Draws first, then L_r over the whole chunk: the batch kernel vectorises.
    m.sample_y_batch(r, st, (k * MC_CHUNK) as u64, chunk);
    let t1 = crate::phases::phase_end(crate::phases::Phase::Sampling, t0);
    eval(chunk);
    crate::phases::phase_end(crate::phases::Phase::Localization, t1);
}

/// Bins of n draws of L_r(Y_r) against `sorted` thresholds, binned inside each
/// sampling chunk (the draws never leave the cache); equal to binning
/// [`sample_localization`]'s sample.
fn sample_bins(m: &Measure, r: f64, n: usize, seed: u64, stream: u64, sorted: &[f64]) -> Bins {
    let k = sorted.len();
    let finder = BinFinder::new(sorted);
    let loc = m.localizer(r);
    if let Some(c) = loc.constant_localization() {
        // Every chunk holds the same value: bin one full chunk and the last one once
        // and merge them as many times, in chunk order, as the chunked path does.
        let full = n / MC_CHUNK;
        let rest = n % MC_CHUNK;
        let mut lanes = Lanes::new(k);
        let mut one = |len: usize| bin_chunk(&finder, &vec![c; len], &mut lanes);
        let (a, b) = (one(MC_CHUNK), one(rest));
        let mut acc = Bins::new(k);
        for _ in 0..full {
            acc.add(&a);
        }
        if rest > 0 {
            acc.add(&b);
        }
        return acc;
    }
    let st = Stream::new(seed, stream);
    let chunks = n.div_ceil(MC_CHUNK);
    let eval = localization_eval(&loc);
    let partial: Vec<ChunkBins> = (0..chunks)
        .into_par_iter()
        .map_init(
            || (Lanes::new(k), vec![0.0; MC_CHUNK]),
            |(lanes, buf), c| {
                let buf = &mut buf[..MC_CHUNK.min(n - c * MC_CHUNK)];
                draw_chunk(m, r, &st, c, buf, &eval);
                bin_chunk(&finder, buf, lanes)
            },
        )
        .collect();
    fold_in_order(k, &partial)
}

/// The chunks' bins added in chunk order (which fixes the order of the float sums).
fn fold_in_order(k: usize, partial: &[ChunkBins]) -> Bins {
    let mut acc = Bins::new(k);
    for p in partial {
        acc.add(p);
    }
    acc
}

/// [`tail_mc`] of n fresh draws of L_r(Y_r) (as [`sample_localization`] draws them),
/// binned while sampling: bit-identical to `tail_mc(&sample_localization(..), deltas)`.
pub fn tail_mc_sampled(
    m: &Measure,
    r: f64,
    n: usize,
    seed: u64,
    stream: u64,
    deltas: &[f64],
) -> Vec<Estimate> {
    let thresholds: Vec<f64> = deltas.iter().map(|d| 1.0 - d).collect();
    let (sorted, order) = sorted_thresholds(&thresholds);
    let bins = sample_bins(m, r, n, seed, stream, &sorted);
    tail_from_bins(n, &sorted, &order, &bins)
}

/// [`survival_mc`] of n fresh draws of L_r(Y_r), binned while sampling:
/// bit-identical to `survival_mc(&sample_localization(..), us)`.
pub fn survival_mc_sampled(
    m: &Measure,
    r: f64,
    n: usize,
    seed: u64,
    stream: u64,
    us: &[f64],
) -> Vec<Estimate> {
    let (sorted, order) = sorted_thresholds(us);
    let bins = sample_bins(m, r, n, seed, stream, &sorted);
    survival_from_bins(n, &sorted, &order, &bins)
}

/// Thresholds sorted ascending, with each one's position in the caller's order.
fn sorted_thresholds(values: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    (order.iter().map(|&i| values[i]).collect(), order)
}

/// Per-bin sufficient statistics. Bin b ≥ 1 holds samples with
/// sorted[b-1] < L ≤ sorted[b] (the last bin is unbounded above); sums are of
/// d = L - sorted[b-1] ≥ 0, so tails above any threshold add non-negative terms
/// and nothing cancels.
#[derive(Clone)]
struct Bins {
    bins: Vec<Bin>,
}

/// One bin's count and sums, together so that a sample touches one cache line.
#[derive(Clone, Copy, Default)]
struct Bin {
    count: u64,
    sum: f64,
    sum_sq: f64,
}

impl Bin {
    /// Add a sample with d = L - (the bin's lower threshold), or 0 in bin 0 (see
    /// [`BinFinder::bins_of`]).
    #[inline(always)]
    fn add(&mut self, d: f64) {
        self.count += 1;
        self.sum += d;
        self.sum_sq += d * d;
    }
}

impl Bins {
    fn new(k: usize) -> Self {
        Bins {
            bins: vec![Bin::default(); k + 1],
        }
    }

    /// Add a chunk's bins, bin by bin.
    fn add(&mut self, chunk: &ChunkBins) {
        let at = &mut self.bins[chunk.first..chunk.first + chunk.bins.len()];
        for (a, b) in at.iter_mut().zip(&chunk.bins) {
            a.count += b.count;
            a.sum += b.sum;
            a.sum_sq += b.sum_sq;
        }
    }
}

/// The bins of one chunk from `first` on; the bins outside hold no sample (adding
/// them would add zeros, which changes no sum: the sums are of d ≥ 0, never -0.0).
struct ChunkBins {
    first: usize,
    bins: Vec<Bin>,
}

/// A thread's working space for [`bin_chunk`]: per bin, one copy for each of the
/// [`LANES`] interleaved accumulators, side by side (the samples of a chunk cluster
/// in few bins, whose copies then share cache lines). All zero between chunks.
struct Lanes {
    bins: Vec<[Bin; LANES]>,
}

impl Lanes {
    fn new(k: usize) -> Self {
        Lanes {
            bins: vec![[Bin::default(); LANES]; k + 1],
        }
    }
}

/// The bin of a sample: the number of thresholds strictly below it (what
/// `partition_point(|u| u < l)` returns). Grids are usually evenly spaced, so the
/// bin is guessed by linear interpolation and read off the comparisons with the four
/// thresholds around the guess, which also confirm it (so the answer is exact
/// whatever the spacing); a sample outside that window falls back to binary search.
struct BinFinder<'a> {
    sorted: &'a [f64],
    /// The thresholds between sentinels: ext[b] = sorted[b - 1], ext[0] = -∞,
    /// ext[k + 1] = ext[k + 2] = +∞ (the second, and a third when k = 0, for the
    /// window of [`BinFinder::bins_of`]).
    ext: Vec<f64>,
    /// The window of each guess g ≥ 1: rows[g] = ext[g - 1..g + 3] (rows[0] unused).
    rows: Vec<[f64; 4]>,
    lo: f64,
    /// (k - 1)/(sorted[k-1] - sorted[0]), or 0 when there is no spread.
    scale: f64,
}

impl<'a> BinFinder<'a> {
    fn new(sorted: &'a [f64]) -> Self {
        let k = sorted.len();
        let (lo, hi) = match (sorted.first(), sorted.last()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0.0, 0.0),
        };
        let scale = if k >= 2 && hi > lo && (hi - lo).is_finite() {
            (k - 1) as f64 / (hi - lo)
        } else {
            0.0
        };
        let mut ext = Vec::with_capacity(k + 3);
        ext.push(f64::NEG_INFINITY);
        ext.extend_from_slice(sorted);
        // +∞ up to ext[last + 2], last = max(k, 1): the window of the last guess.
        ext.resize(k.max(1) + 3, f64::INFINITY);
        let mut rows = vec![[f64::NAN; 4]];
        rows.extend((1..=k.max(1)).map(|g| [ext[g - 1], ext[g], ext[g + 1], ext[g + 2]]));
        BinFinder {
            sorted,
            ext,
            rows,
            lo,
            scale,
        }
    }

    /// The bin b of every sample of `ls` (the number of thresholds strictly below it,
    /// what `partition_point(|u| u < l)` returns) and
    /// d = L - ext[b] (0 in bin 0, which keeps no sums), in loops of their own. From
    /// the guess g, the bin is g - 1, g or g + 1 whenever ext[g - 1] < L ≤ ext[g + 2]:
    /// then it is g - 1 plus the number of ext[g], ext[g + 1] below L. Without AVX2,
    /// a first loop finds these bins without a branch (the four loads depend on g
    /// only, and nothing on the bins' memory, so successive samples overlap), and a
    /// second sends the samples outside their window to a binary search (never on an
    /// even grid but for NaN and ±∞) and computes d. With AVX2, four samples at a
    /// time ([`Self::bins_of_avx2`]), which takes the binning as a whole from about
    /// 6 to about 4.3 ns per draw against one at a time (samples of Examples 3 to 6,
    /// one thread, measured side by side).
    #[inline(always)]
    fn bins_of(&self, ls: &[f64], bs: &mut [u32], ds: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::width() == crate::simd::Width::Avx2 {
            // SAFETY: `width` reports AVX2 only where this CPU has it.
            return unsafe { self.bins_of_avx2(ls, bs, ds) };
        }
        self.bins_of_plain(ls, bs, ds)
    }

    /// The windows of the AVX2 paths and the largest guess index: guesses g lie in
    /// [1, last] (last = max(k, 1)), found as the index g - 1 clamped to
    /// [0, last - 1] as a float (NaN made 0), so that the conversion is exact and
    /// `rows[g]` in range.
    #[cfg(target_arch = "x86_64")]
    fn windows(&self) -> (&[[f64; 4]], f64) {
        let last = self.sorted.len().max(1);
        (&self.rows[..last + 1], (last - 1) as f64)
    }

    /// [`BinFinder::bins_of`] four samples at a time, two such groups per iteration:
    /// the four windows are loaded as rows and transposed, so that each of the
    /// comparisons {ext[g - 1 + i] < L} (i = 0..4) is one instruction for the four
    /// samples. When every sample of the four is inside its window
    /// (ext[g - 1] < L ≤ ext[g + 2]), its bin is g - 1 + [ext[g] < L] + [ext[g + 1] < L]
    /// and d = L - (the highest of the window's thresholds below L), the arithmetic
    /// of [`Self::bins_of_avx2_one`]; otherwise the four go one at a time through it.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn bins_of_avx2(&self, ls: &[f64], bs: &mut [u32], ds: &mut [f64]) {
        use std::arch::x86_64::*;
        // The stores below write whole groups of four unchecked.
        assert!(bs.len() == ls.len() && ds.len() == ls.len());
        let (rows, top) = self.windows();
        let quads = ls.len() / 4;
        let (lo, scale, top_v) = (
            _mm256_set1_pd(self.lo),
            _mm256_set1_pd(self.scale),
            _mm256_set1_pd(top),
        );
        let zero = _mm256_setzero_pd();
        // The bins (packed to 32 bits) and d of the four samples from `at`, and
        // whether all four are inside their windows (when one is not, the bins and d
        // are not its answer).
        let group = |at: usize| -> (bool, __m128i, __m256d) {
            debug_assert!(at + 4 <= ls.len());
            // SAFETY: at + 4 ≤ ls.len() (the loops below).
            let l = unsafe { _mm256_loadu_pd(ls.as_ptr().add(at)) };
            // g - 1 in [0, last - 1] (max_pd returns its second operand, 0, for NaN),
            // exactly as the one-at-a-time path clamps it.
            let g0 = _mm256_min_pd(
                _mm256_max_pd(_mm256_mul_pd(_mm256_sub_pd(l, lo), scale), zero),
                top_v,
            );
            let gi = _mm256_cvttpd_epi32(g0);
            // The four guesses taken out of the register, not through a store and
            // four loads: binning about 7% less (Examples 3 to 6, one thread, 12
            // alternated, relative to the L_r phase of the same runs).
            let (low, high) = (
                _mm_cvtsi128_si64(gi) as u64,
                _mm_extract_epi64::<1>(gi) as u64,
            );
            let g = [
                low as u32,
                (low >> 32) as u32,
                high as u32,
                (high >> 32) as u32,
            ];
            // SAFETY: each g[i] + 1 ≤ last indexes `rows` (see `windows`); a row is 4 f64.
            let [r0, r1, r2, r3] = g
                .map(|gj| unsafe { _mm256_loadu_pd(rows.get_unchecked(gj as usize + 1).as_ptr()) });
            // Transpose: c_i holds threshold i of the four windows.
            let (a0, a1) = (_mm256_unpacklo_pd(r0, r1), _mm256_unpackhi_pd(r0, r1));
            let (a2, a3) = (_mm256_unpacklo_pd(r2, r3), _mm256_unpackhi_pd(r2, r3));
            let c0 = _mm256_permute2f128_pd::<0x20>(a0, a2);
            let c1 = _mm256_permute2f128_pd::<0x20>(a1, a3);
            let c2 = _mm256_permute2f128_pd::<0x31>(a0, a2);
            let c3 = _mm256_permute2f128_pd::<0x31>(a1, a3);
            let m0 = _mm256_cmp_pd::<_CMP_LT_OQ>(c0, l);
            let m1 = _mm256_cmp_pd::<_CMP_LT_OQ>(c1, l);
            let m2 = _mm256_cmp_pd::<_CMP_LT_OQ>(c2, l);
            let m3 = _mm256_cmp_pd::<_CMP_LT_OQ>(c3, l);
            let inside = _mm256_movemask_pd(m0) == 0b1111 && _mm256_movemask_pd(m3) == 0;
            // The bins as 64-bit lanes (a true comparison is -1), then packed to 32.
            let b = _mm256_sub_epi64(
                _mm256_sub_epi64(_mm256_cvtepi32_epi64(gi), _mm256_castpd_si256(m1)),
                _mm256_castpd_si256(m2),
            );
            let below = _mm256_blendv_pd(_mm256_blendv_pd(c0, c1, m1), c2, m2);
            let positive = _mm256_castsi256_pd(_mm256_cmpgt_epi64(b, _mm256_setzero_si256()));
            let d = _mm256_and_pd(_mm256_sub_pd(l, below), positive);
            let packed = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
            (inside, _mm256_castsi256_si128(packed), d)
        };
        // A group's bins and d, or one sample at a time when one is outside its window.
        let mut put = |at: usize, (inside, b, d): (bool, __m128i, __m256d)| {
            if inside {
                // SAFETY: at + 4 ≤ bs.len() = ds.len().
                unsafe {
                    _mm_storeu_si128(bs.as_mut_ptr().add(at).cast(), b);
                    _mm256_storeu_pd(ds.as_mut_ptr().add(at), d);
                }
            } else {
                self.bins_of_avx2_one(&ls[at..at + 4], &mut bs[at..at + 4], &mut ds[at..at + 4]);
            }
        };
        // Two groups at a time: the chain from a sample to its window's thresholds is
        // long, and two of them interleave.
        let mut q = 0;
        while q + 1 < quads {
            let (first, second) = (group(4 * q), group(4 * q + 4));
            put(4 * q, first);
            put(4 * q + 4, second);
            q += 2;
        }
        if q < quads {
            put(4 * q, group(4 * q));
        }
        let rest = 4 * quads;
        self.bins_of_avx2_one(&ls[rest..], &mut bs[rest..], &mut ds[rest..]);
    }

    /// [`BinFinder::bins_of`] one sample at a time, with the window of each compared
    /// in one AVX2 instruction: the mask of {ext[g - 1 + i] < L} (i = 0..4) is 0b0001,
    /// 0b0011 or 0b0111 when L is inside (the thresholds ascend; NaN sets no bit), and
    /// then the bin is g - 2 plus its number of bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn bins_of_avx2_one(&self, ls: &[f64], bs: &mut [u32], ds: &mut [f64]) {
        use std::arch::x86_64::{
            _mm256_cmp_pd, _mm256_loadu_pd, _mm256_movemask_pd, _mm256_set1_pd, _CMP_LT_OQ,
        };
        let (rows, top) = self.windows();
        for ((&l, b_out), d_out) in ls.iter().zip(bs.iter_mut()).zip(ds.iter_mut()) {
            let g0 = ((l - self.lo) * self.scale).max(0.0).min(top);
            // SAFETY: g0 is finite, in [0, last - 1] (see `windows`), so it converts
            // exactly and g0 + 1 indexes `rows` (last + 1 rows).
            let g = unsafe { g0.to_int_unchecked::<u32>() } as usize + 1;
            let row = unsafe { rows.get_unchecked(g) };
            // SAFETY: `row` is 4 consecutive f64.
            let mask = unsafe {
                _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(
                    _mm256_loadu_pd(row.as_ptr()),
                    _mm256_set1_pd(l),
                ))
            } as u32;
            if mask & 0b1001 == 0b0001 {
                // 1, 2 or 3 thresholds of the window below L.
                let below = (u32::BITS - mask.leading_zeros()) as usize;
                let b = g + below - 2;
                *b_out = b as u32;
                *d_out = if b > 0 { l - row[below - 1] } else { 0.0 };
            } else {
                let b = self.sorted.partition_point(|&u| u < l);
                *b_out = b as u32;
                *d_out = if b > 0 { l - self.ext[b] } else { 0.0 };
            }
        }
    }

    #[inline(always)]
    fn bins_of_plain(&self, ls: &[f64], bs: &mut [u32], ds: &mut [f64]) {
        self.guess_bins(ls, bs);
        self.finish_bins(ls, bs, ds);
    }

    /// The first loop of [`BinFinder::bins_of`]: the bin of each sample, or u32::MAX
    /// where the sample is outside its guess's window.
    #[inline(always)]
    fn guess_bins(&self, ls: &[f64], bs: &mut [u32]) {
        let k = self.sorted.len();
        let e = &self.ext[..k.max(1) + 3];
        // Guesses in [1, last] (with no threshold, 1 and the window [-∞, +∞]).
        let last = k.max(1);
        let top = last as f64;
        for (&l, b_out) in ls.iter().zip(bs.iter_mut()) {
            // Clamped before the conversion (f64::max makes NaN -1; the window check
            // sends it, and ±∞ where the window is wrong, the slow way).
            let g = ((l - self.lo) * self.scale).max(-1.0).min(top) as i32;
            let g = ((g + 1).max(1) as usize).min(last);
            let (e0, e1, e2, e3) = (e[g - 1], e[g], e[g + 1], e[g + 2]);
            let b = g - 1 + usize::from(e1 < l) + usize::from(e2 < l);
            let inside = (e0 < l) & (l <= e3);
            *b_out = if inside { b as u32 } else { u32::MAX };
        }
    }

    /// The second loop of [`BinFinder::bins_of`]: the fall-backs, and d.
    #[inline(always)]
    fn finish_bins(&self, ls: &[f64], bs: &mut [u32], ds: &mut [f64]) {
        let e = &self.ext;
        for ((&l, b), d) in ls.iter().zip(bs.iter_mut()).zip(ds.iter_mut()) {
            if *b == u32::MAX {
                *b = self.sorted.partition_point(|&u| u < l) as u32;
            }
            let bb = *b as usize;
            *d = if bb > 0 { l - e[bb] } else { 0.0 };
        }
    }
}

/// Interleaved copies of the bins within a chunk: draws of L_r cluster (on plateaus
/// of L_r), and consecutive updates of one bin would each wait for the previous one.
const LANES: usize = 4;
/// Samples whose bins are found together (a multiple of [`LANES`]).
const BIN_BLOCK: usize = 256;

/// The smallest and largest bin of a block and of `(lo, hi)` so far.
#[inline(always)]
fn bin_range_plain(bs: &[u32], (lo, hi): (u32, u32)) -> (u32, u32) {
    bs.iter()
        .fold((lo, hi), |(lo, hi), &b| (lo.min(b), hi.max(b)))
}

crate::simd::vectorised! {
    /// [`bin_range_plain`] at the widest vectors of this CPU: baseline x86-64 has no
    /// unsigned 32-bit minimum or maximum, and its emulation took about a tenth of
    /// the binning (samples of Examples 3 to 6, one thread).
    fn bin_range(bs: &[u32], so_far: (u32, u32)) -> (u32, u32) = bin_range_plain;
}

/// One chunk's bins: sample j of the chunk goes to copy j mod [`LANES`], and the copies
/// are added in order at the end, so the order of the float sums is fixed by the chunk.
/// Only the range of bins the chunk touched is merged, returned and cleared.
#[inline]
fn bin_chunk(finder: &BinFinder, chunk: &[f64], lanes: &mut Lanes) -> ChunkBins {
    let t0 = crate::phases::phase_start();
    let lanes = &mut lanes.bins;
    // Bins found a block at a time, then added; a block is a whole number of quads,
    // so sample j of the chunk still goes to copy j mod LANES, in order.
    let mut bs = [0u32; BIN_BLOCK];
    let mut ds = [0.0; BIN_BLOCK];
    let (mut lo, mut hi) = (u32::MAX, 0u32);
    for block in chunk.chunks(BIN_BLOCK) {
        let (bs, ds) = (&mut bs[..block.len()], &mut ds[..block.len()]);
        finder.bins_of(block, bs, ds);
        (lo, hi) = bin_range(bs, (lo, hi));
        let mut quads = bs.chunks_exact(LANES).zip(ds.chunks_exact(LANES));
        for (qb, qd) in &mut quads {
            for (lane, (&b, &d)) in qb.iter().zip(qd).enumerate() {
                lanes[b as usize][lane].add(d);
            }
        }
        let rest = block.len() - block.len() % LANES;
        for (lane, (&b, &d)) in bs[rest..].iter().zip(&ds[rest..]).enumerate() {
            lanes[b as usize][lane].add(d);
        }
    }
    // lo > hi when the chunk is empty.
    let touched = if lo > hi {
        0..0
    } else {
        lo as usize..hi as usize + 1
    };
    let first = touched.start;
    let bins = lanes[touched]
        .iter_mut()
        .map(|copies| {
            let [a, b, c, d] = std::mem::take(copies);
            Bin {
                count: a.count + b.count + c.count + d.count,
                sum: a.sum + b.sum + c.sum + d.sum,
                sum_sq: a.sum_sq + b.sum_sq + c.sum_sq + d.sum_sq,
            }
        })
        .collect();
    crate::phases::phase_end(crate::phases::Phase::Binning, t0);
    ChunkBins { first, bins }
}

fn bin_samples(samples: &[f64], sorted: &[f64]) -> Bins {
    let k = sorted.len();
    let finder = BinFinder::new(sorted);
    let partial: Vec<ChunkBins> = samples
        .par_chunks(MC_CHUNK)
        .map_init(
            || Lanes::new(k),
            |lanes, chunk| bin_chunk(&finder, chunk, lanes),
        )
        .collect();
    fold_in_order(k, &partial)
}

/// ŝ_r(u) = #{L > u}/n for each u, with se = √(p(1-p)/n).
pub fn survival_mc(samples: &[f64], us: &[f64]) -> Vec<Estimate> {
    let (sorted, order) = sorted_thresholds(us);
    let bins = bin_samples(samples, &sorted);
    survival_from_bins(samples.len(), &sorted, &order, &bins)
}

fn survival_from_bins(n: usize, sorted: &[f64], order: &[usize], bins: &Bins) -> Vec<Estimate> {
    let n = n as f64;
    let mut out = vec![
        Estimate {
            value: f64::NAN,
            se: f64::NAN
        };
        sorted.len()
    ];
    // Samples above sorted[j] are exactly those in bins j+1..=k.
    let mut above = 0u64;
    for j in (0..sorted.len()).rev() {
        above += bins.bins[j + 1].count;
        let p = above as f64 / n;
        out[order[j]] = Estimate {
            value: p,
            se: (p * (1.0 - p) / n).sqrt(),
        };
    }
    out
}

/// Half-width ε = √(ln(2/α)/(2n)) of the Dvoretzky–Kiefer–Wolfowitz band: with
/// probability ≥ 1 - α the empirical survival function is within ε of s_r everywhere.
pub fn dkw_half_width(n: usize, alpha: f64) -> f64 {
    ((2.0 / alpha).ln() / (2.0 * n as f64)).sqrt()
}

/// ĥ(δ) = mean of (L - (1 - δ))₊ for each δ, with se from the sample variance of
/// (L - (1 - δ))₊.
pub fn tail_mc(samples: &[f64], deltas: &[f64]) -> Vec<Estimate> {
    let thresholds: Vec<f64> = deltas.iter().map(|d| 1.0 - d).collect();
    let (sorted, order) = sorted_thresholds(&thresholds);
    let bins = bin_samples(samples, &sorted);
    tail_from_bins(samples.len(), &sorted, &order, &bins)
}

fn tail_from_bins(n: usize, sorted: &[f64], order: &[usize], bins: &Bins) -> Vec<Estimate> {
    let k = sorted.len();
    let nf = n as f64;
    let mut out = vec![
        Estimate {
            value: f64::NAN,
            se: f64::NAN
        };
        k
    ];
    // Tail sums above sorted[j], from the top down: with Δ = sorted[j+1] - sorted[j]
    // and N = the count above sorted[j+1],
    //   Σ (L - u_j)₊  = S_{j+1} + Σ (L - u_{j+1})₊ + Δ N,
    //   Σ (L - u_j)₊² = Q_{j+1} + Σ (L - u_{j+1})₊² + 2Δ Σ (L - u_{j+1})₊ + Δ² N,
    // where S_b, Q_b are bin b's sums of d and d² (d = L - sorted[b-1]). Every term
    // is non-negative, so nothing cancels, and the cost is O(k), not O(k²).
    let (mut s1, mut s2, mut above) = (0.0f64, 0.0f64, 0u64);
    for j in (0..k).rev() {
        if j + 1 < k {
            let gap = sorted[j + 1] - sorted[j];
            let n_above = above as f64;
            s2 += 2.0 * gap * s1 + gap * gap * n_above;
            s1 += gap * n_above;
        }
        let bin = bins.bins[j + 1];
        s1 += bin.sum;
        s2 += bin.sum_sq;
        above += bin.count;
        let mean = s1 / nf;
        let var = if n > 1 {
            ((s2 / nf - mean * mean) * nf / (nf - 1.0)).max(0.0)
        } else {
            0.0
        };
        out[order[j]] = Estimate {
            value: mean,
            se: (var / nf).sqrt(),
        };
    }
    out
}

/// One-sided 95% upper confidence bound (Clopper–Pearson) for a probability of which
/// `k` of `n` draws showed the event. With k = 0 it is 1 - 0.05^{1/n} ≈ 3/n: what a
/// sample that never saw an event can still say about it (a bound, not a zero).
pub fn upper_bound_95(k: usize, n: usize) -> f64 {
    if n == 0 || k >= n {
        return 1.0;
    }
    statrs::function::beta::inv_beta_reg(k as f64 + 1.0, (n - k) as f64, 0.95)
}

/// Batches for the batch-means standard errors of m*, δ* and ζ*_M.
pub const BATCHES: usize = 20;

/// Standard errors by batch means of statistics that are not averages (m*, δ*, ζ*_M
/// are minima and maximisers over a grid): the sample is cut into [`BATCHES`]
/// contiguous batches (each a fixed function of the random streams, so the result does
/// not depend on threads), each statistic is computed on every batch, and the standard
/// error of the full-sample value is estimated as sd(batch values)/√B. A statistic that
/// is not finite on some batch gets NaN.
pub fn batch_means_se(samples: &[f64], stat: impl Fn(&[f64]) -> Vec<f64>) -> Vec<f64> {
    let n = samples.len();
    if n < 2 * BATCHES {
        return stat(samples).iter().map(|_| f64::NAN).collect();
    }
    let per: Vec<Vec<f64>> = (0..BATCHES)
        .map(|b| stat(&samples[b * n / BATCHES..(b + 1) * n / BATCHES]))
        .collect();
    let k = per[0].len();
    let bf = BATCHES as f64;
    (0..k)
        .map(|j| {
            let v: Vec<f64> = per.iter().map(|p| p[j]).collect();
            if v.iter().any(|x| !x.is_finite()) {
                return f64::NAN;
            }
            let mean = v.iter().sum::<f64>() / bf;
            let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (bf - 1.0);
            (var / bf).sqrt()
        })
        .collect()
}

/// m* and δ* on a δ grid: m = ĥ(δ)/δ at each grid δ > 0, its minimum, and the
/// largest grid δ attaining it (ties are exact: a plateau of ĥ = 0).
pub fn complexity_mc(samples: &[f64], delta_grid: &[f64]) -> Complexity {
    complexity_from_tail(delta_grid, &tail_mc(samples, delta_grid))
}

/// [`complexity_mc`] from ĥ already computed on `delta_grid` (one pass over the
/// sample then serves m*, δ* and every ζ*_M).
pub fn complexity_from_tail(delta_grid: &[f64], h: &[Estimate]) -> Complexity {
    let mut best = Complexity {
        m_star: f64::NAN,
        delta_star: f64::NAN,
    };
    for (d, e) in delta_grid.iter().zip(h) {
        if *d <= 0.0 {
            continue;
        }
        let m = e.value / d;
        if best.m_star.is_nan() || m < best.m_star || (m == best.m_star && *d > best.delta_star) {
            best = Complexity {
                m_star: m,
                delta_star: *d,
            };
        }
    }
    best
}

/// ζ*_M(t) on a δ grid: max over grid δ of (δ - M ĥ(δ, r(t)))/(1 - e^{-2t}); with
/// M = ∞ only grid points with ĥ = 0 count (-∞ if there are none).
pub fn zeta_star_mc(samples: &[f64], t: f64, big_m: f64, delta_grid: &[f64]) -> f64 {
    zeta_star_from_tail(t, big_m, delta_grid, &tail_mc(samples, delta_grid))
}

/// [`zeta_star_mc`] from ĥ already computed on `delta_grid`.
pub fn zeta_star_from_tail(t: f64, big_m: f64, delta_grid: &[f64], h: &[Estimate]) -> f64 {
    let sigma2 = ou_noise_var(t);
    delta_grid
        .iter()
        .zip(h)
        .map(|(d, e)| {
            let penalty = if e.value == 0.0 { 0.0 } else { big_m * e.value };
            (d - penalty) / sigma2
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clopper_pearson_upper_bounds() {
        // Oracles from scipy.stats.beta.ppf(0.95, k + 1, n - k).
        assert!((upper_bound_95(5, 100) - 0.102_253_377_643_274_5).abs() < 1e-9);
        assert!((upper_bound_95(0, 1000) - 0.002_991_249_545_095_3).abs() < 1e-12);
        assert_eq!(upper_bound_95(7, 7), 1.0);
    }

    #[test]
    fn batch_means_se_matches_the_standard_error_of_a_mean() {
        // For the sample mean the batch-means SE estimates σ/√n: with n = 2·10⁵ draws
        // of L_r for a two-point law its ratio to the exact σ/√n stays within the
        // sampling spread of an SE estimated from 20 batches (about ±35% at 4 sd).
        let m = Measure::paper_example(4).unwrap();
        let samples = sample_localization(&m, 1.5, 200_000, 7, 0);
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let sd = (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let se = batch_means_se(&samples, |s| vec![s.iter().sum::<f64>() / s.len() as f64]);
        let ratio = se[0] / (sd / n.sqrt());
        assert!(
            (0.65..1.35).contains(&ratio),
            "batch-means / exact SE = {ratio}"
        );
        // Too few samples for 20 batches: no SE rather than a made-up one.
        assert!(batch_means_se(&samples[..30], |s| vec![s[0]])[0].is_nan());
    }

    #[test]
    fn bins_are_the_binary_search_answer_on_every_grid() {
        // Even, uneven, tiny and empty grids; samples on, between, around and far
        // outside the thresholds, ±0, ±∞ and NaN. Both code paths (AVX2 where the CPU
        // has it, and the plain one) give partition_point's bin and d = L - ext[b].
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let even: Vec<f64> = (0..501).map(|i| 1.0 - i as f64 / 500.0).rev().collect();
        let uneven: Vec<f64> = (0..40).map(|i| (i as f64 / 39.0).powi(3)).collect();
        let grids = [
            even,
            uneven,
            vec![0.5],
            vec![-1.0, 2.0],
            vec![0.0; 3],
            vec![],
        ];
        for sorted in &grids {
            let finder = BinFinder::new(sorted);
            let mut ls: Vec<f64> = (0..5000)
                .map(|_| crate::measure::sample::uniform_open01(&mut rng) * 1.4 - 0.2)
                .collect();
            ls.extend(sorted.iter().copied());
            ls.extend(sorted.iter().map(|&u| u + 1e-17));
            ls.extend([0.0, -0.0, 1e300, -1e300, f64::INFINITY, f64::NEG_INFINITY]);
            ls.push(f64::NAN);
            let want: Vec<usize> = ls
                .iter()
                .map(|&l| sorted.partition_point(|&u| u < l))
                .collect();
            // The same samples shuffled, so that the odd ones share a group of four
            // (found together on AVX2) with ordinary ones.
            let mut shuffled: Vec<usize> = (0..ls.len()).collect();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, crate::measure::sample::uniform_index(&mut rng, i + 1));
            }
            let orders = [(0..ls.len()).collect::<Vec<_>>(), shuffled];
            for order in &orders {
                let ls: Vec<f64> = order.iter().map(|&i| ls[i]).collect();
                let want: Vec<usize> = order.iter().map(|&i| want[i]).collect();
                // Whole and ragged lengths (the last few samples one at a time).
                for n in [ls.len(), ls.len() - 1, ls.len() - 2, ls.len() - 3, 3, 1] {
                    check_bins(&finder, sorted, &ls[..n], &want[..n]);
                }
            }
        }
    }

    #[test]
    fn a_sample_outside_its_window_at_any_place_of_a_pair_of_groups() {
        // The AVX2 path finds two groups of four together and sends a group with a
        // sample outside its window one at a time. On the cubic grid below, the
        // linear guess holds samples in [0.949, 1] inside their windows and puts
        // 0.474 outside (its window's bins are wrong for it). Put 0.474 at every
        // place of the first group, the second, and a third group left over, among
        // samples inside, for lengths that end inside each group.
        let sorted: Vec<f64> = (0..40).map(|i| (i as f64 / 39.0).powi(3)).collect();
        let finder = BinFinder::new(&sorted);
        for at in 0..12 {
            let mut ls: Vec<f64> = (0..12).map(|i| 0.95 + 0.004 * i as f64).collect();
            ls[at] = 0.474;
            let want: Vec<usize> = ls
                .iter()
                .map(|&l| sorted.partition_point(|&u| u < l))
                .collect();
            for n in at + 1..=12 {
                check_bins(&finder, &sorted, &ls[..n], &want[..n]);
            }
        }
    }

    #[test]
    fn the_range_of_bins_is_the_smallest_and_largest_at_every_vector_width() {
        use crate::simd::{widths_here, with_width_at_most};
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for len in [0, 1, 7, 8, 9, 31, 256] {
            let bs: Vec<u32> = (0..len)
                .map(|_| crate::measure::sample::uniform_index(&mut rng, 1 << 20) as u32)
                .collect();
            for so_far in [(u32::MAX, 0), (5, 9), (0, u32::MAX)] {
                let lo = bs.iter().copied().fold(so_far.0, u32::min);
                let hi = bs.iter().copied().fold(so_far.1, u32::max);
                for w in widths_here() {
                    let got = with_width_at_most(w, || bin_range(&bs, so_far));
                    assert_eq!(got, (lo, hi), "{len} bins, {so_far:?}, {w:?}");
                }
            }
        }
    }

    /// Both code paths of [`BinFinder::bins_of`] against partition_point's bins `want`.
    fn check_bins(finder: &BinFinder, sorted: &[f64], ls: &[f64], want: &[usize]) {
        let n = ls.len();
        let (mut bs, mut ds) = (vec![0u32; n], vec![0.0; n]);
        let (mut bp, mut dp) = (vec![0u32; n], vec![0.0; n]);
        finder.bins_of(ls, &mut bs, &mut ds);
        finder.bins_of_plain(ls, &mut bp, &mut dp);
        for j in 0..n {
            let b = want[j];
            let d = if b > 0 { ls[j] - sorted[b - 1] } else { 0.0 };
            assert_eq!(bs[j] as usize, b, "grid of {}: L = {}", sorted.len(), ls[j]);
            assert_eq!(bp[j] as usize, b, "grid of {}: L = {}", sorted.len(), ls[j]);
            assert_eq!(ds[j].to_bits(), d.to_bits(), "L = {}", ls[j]);
            assert_eq!(dp[j].to_bits(), d.to_bits(), "L = {}", ls[j]);
        }
    }

    #[test]
    fn identical_on_one_and_four_threads() {
        let m = Measure::Mixture(vec![
            crate::measure::Component {
                weight: 0.3,
                mean: -2.0,
                var: 0.5,
            },
            crate::measure::Component {
                weight: 0.7,
                mean: 1.0,
                var: 0.0,
            },
        ]);
        let n = 3 * MC_CHUNK + 17;
        let run = |threads: usize| {
            crate::on_threads(threads, || {
                let s = sample_localization(&m, 1.3, n, 42, 7);
                let t = tail_mc(&s, &[0.0, 0.25, 0.5, 1.0]);
                (s, t)
            })
        };
        let (a, ta) = run(1);
        let (b, tb) = run(4);
        assert_eq!(a.len(), n);
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        assert!(ta
            .iter()
            .zip(&tb)
            .all(|(x, y)| x.value.to_bits() == y.value.to_bits()));
        // Another stream or seed gives different draws.
        let c = sample_localization(&m, 1.3, 64, 42, 8);
        let d = sample_localization(&m, 1.3, 64, 43, 7);
        assert!(a[..64] != c[..] && a[..64] != d[..]);
        // A prefix of a longer run is the shorter run (chunks do not depend on n).
        let short = sample_localization(&m, 1.3, MC_CHUNK + 5, 42, 7);
        assert!(short
            .iter()
            .zip(&a)
            .all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn constant_localization_needs_no_draws() {
        // The shortcut for point masses and normals returns what drawing would give.
        for m in [
            Measure::Point { at: 0.3 },
            Measure::Normal {
                mean: -1.0,
                var: 2.5,
            },
            Measure::Mixture(vec![crate::measure::Component {
                weight: 1.0,
                mean: 2.0,
                var: 0.7,
            }]),
        ] {
            for r in [0.05, 1.3, 40.0] {
                let fast = sample_localization(&m, r, 5000, 3, 1);
                let st = Stream::new(3, 1);
                let loc = m.localizer(r);
                for (i, v) in fast.iter().enumerate() {
                    let y = m.sample_y_at(r, &st, i as u64);
                    assert_eq!(v.to_bits(), loc.localization(y).to_bits(), "{m:?} r={r}");
                }
            }
        }
    }

    #[test]
    fn binning_while_sampling_equals_binning_the_sample() {
        // Every kind of law (constant L_r included) and a length that is not a whole
        // number of chunks: the fused summaries are the two-step ones, bit for bit.
        let deltas: Vec<f64> = (0..=50).map(|i| i as f64 / 50.0).collect();
        let us = [2.0, 0.0, 0.37, 1.0, 0.5];
        let n = 2 * MC_CHUNK + 123;
        for k in 1..=6 {
            let m = Measure::paper_example(k).unwrap();
            for r in [0.4, 2.2] {
                let s = sample_localization(&m, r, n, 5, 9);
                let same = |a: &[Estimate], b: &[Estimate]| {
                    a.iter().zip(b).all(|(x, y)| {
                        x.value.to_bits() == y.value.to_bits() && x.se.to_bits() == y.se.to_bits()
                    })
                };
                assert!(same(
                    &tail_mc(&s, &deltas),
                    &tail_mc_sampled(&m, r, n, 5, 9, &deltas)
                ));
                assert!(same(
                    &survival_mc(&s, &us),
                    &survival_mc_sampled(&m, r, n, 5, 9, &us)
                ));
            }
        }
    }

    #[test]
    fn summaries_match_direct_formulas() {
        let samples = [0.1, 0.5, 0.5, 0.9, 1.2, 2.0, 0.0];
        let us = [1.0, 0.5, -1.0, 3.0];
        let s = survival_mc(&samples, &us);
        let want = [2.0 / 7.0, 3.0 / 7.0, 1.0, 0.0];
        for (e, w) in s.iter().zip(want) {
            assert_eq!(e.value, w);
        }
        let deltas = [0.0, 0.5, 1.0, 0.25];
        let h = tail_mc(&samples, &deltas);
        for (e, d) in h.iter().zip(deltas) {
            let x: Vec<f64> = samples.iter().map(|l| (l - (1.0 - d)).max(0.0)).collect();
            let mean = x.iter().sum::<f64>() / 7.0;
            let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 6.0;
            assert!((e.value - mean).abs() < 1e-15);
            assert!((e.se - (var / 7.0).sqrt()).abs() < 1e-15);
        }
        // m(δ) on the grid: δ = 0.25: (0.2+1.0+0.15)/7/0.25, ...; δ=1 gives mean L.
        let c = complexity_mc(&samples, &[0.25, 0.5, 1.0]);
        let m = |d: f64| {
            samples
                .iter()
                .map(|l| (l - (1.0 - d)).max(0.0))
                .sum::<f64>()
                / 7.0
                / d
        };
        let want = [0.25, 0.5, 1.0]
            .into_iter()
            .map(|d| (m(d), d))
            .fold((f64::INFINITY, 0.0), |a, x| if x.0 <= a.0 { x } else { a });
        assert!((c.m_star - want.0).abs() < 1e-15 && c.delta_star == want.1);
        assert!((dkw_half_width(1000, 0.05) - (40.0f64.ln() / 2000.0).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn zeta_star_infinite_m_uses_zero_tail_points() {
        let samples = [0.2, 0.4];
        let t = 0.5;
        let s2 = ou_noise_var(t);
        // δ ≤ 0.6 has ĥ = 0; the best such grid point is 0.6.
        let z = zeta_star_mc(&samples, t, f64::INFINITY, &[0.0, 0.3, 0.6, 0.9]);
        assert!((z - 0.6 / s2).abs() < 1e-15);
        let z = zeta_star_mc(&[1.5], t, f64::INFINITY, &[0.0, 0.5]);
        assert_eq!(z, f64::NEG_INFINITY);
    }
}
