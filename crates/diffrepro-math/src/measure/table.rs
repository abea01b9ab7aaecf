//! A smooth function of y, tabulated once for many evaluations: L_r or the score of
//! Y_r at a fixed r, evaluated at 10⁵ Monte Carlo draws or at every particle of a
//! cloud.
//!
//! [`Table`] cuts [lo, hi] into N equal pieces and keeps, on each, the polynomial of
//! degree [`DEGREE`] that interpolates the function at the piece's Chebyshev points;
//! evaluating it is an index, a subtraction and a polynomial (Estrin's scheme), with
//! no exp. The caller says how narrow the function's features can be (a length w: no
//! bump, step or turn narrower than w); the first attempt gives each piece that
//! length, so ten nodes fall in any feature (narrower ones could fall between nodes
//! unseen). N then doubles until every piece passes two tests against the function
//! itself:
//! - the last two Chebyshev coefficients add up to less than the tolerance (the usual
//!   sign that the series has converged: when the function is analytic near the
//!   piece they fall geometrically, and the interpolation error is of the size of
//!   the first coefficient left out);
//! - at a point of each piece between its outermost node and its end, where the
//!   interpolation error is largest, the polynomial (as it will be evaluated, after
//!   the change to monomials) is within the tolerance of the function.
//!
//! The tolerance is absolute: `rel_tol · max(1, the largest |value| at the nodes)`.
//! A function that does not settle within the piece budget (a jump, a kink, a range
//! too wide for its features) gets no table, and callers evaluate it directly. Values
//! of y outside [lo, hi] (and NaN) are evaluated directly too, so a table changes a
//! value by at most the tolerance and never changes which values are computed.

use rayon::prelude::*;

/// Degree of the polynomial on each piece.
pub const DEGREE: usize = 9;
const COEFS: usize = DEGREE + 1;
/// A piece's coefficients padded with zeros to three vectors of four.
const ROW: usize = 12;
/// Nodes per parallel task when building.
const EVAL_CHUNK: usize = 512;
/// The fewest pieces of a first attempt; each failed attempt doubles them.
const FIRST_PIECES: usize = 16;

/// A function tabulated on [lo, hi] (see the module header).
#[derive(Clone, Debug)]
pub struct Table {
    lo: f64,
    /// Pieces per unit of y.
    inv_h: f64,
    /// The number of pieces, as a float for the range test.
    pieces: f64,
    /// Per piece, the monomial coefficients in t ∈ [-1, 1], constant term first
    /// (then zeros).
    coefs: Vec<[f64; ROW]>,
    tol: f64,
}

/// What every piece shares: the Chebyshev points of the first kind on [-1, 1],
/// t_k = cos(π(2k + 1)/(2C)); T_m(t_k); the monomial coefficients of T_m; and where a
/// piece is checked against the function (between its outermost node and its end).
struct Basis {
    nodes: [f64; COEFS],
    /// by_node[k][m] = T_m(t_k) = cos(π m (2k + 1)/(2C)).
    by_node: [[f64; COEFS]; COEFS],
    /// monomials[m][k]: the coefficient of t^k in T_m.
    monomials: [[f64; COEFS]; COEFS],
    edge: f64,
}

impl Basis {
    fn new() -> Self {
        let angle = |m: usize, k: usize| {
            std::f64::consts::PI * (m * (2 * k + 1)) as f64 / (2 * COEFS) as f64
        };
        let nodes: [f64; COEFS] = std::array::from_fn(|k| angle(1, k).cos());
        let mut monomials = [[0.0; COEFS]; COEFS];
        monomials[0][0] = 1.0;
        monomials[1][1] = 1.0;
        for m in 2..COEFS {
            for k in 0..COEFS {
                let up = if k > 0 {
                    2.0 * monomials[m - 1][k - 1]
                } else {
                    0.0
                };
                monomials[m][k] = up - monomials[m - 2][k];
            }
        }
        let at_nodes: [[f64; COEFS]; COEFS] =
            std::array::from_fn(|m| std::array::from_fn(|k| angle(m, k).cos()));
        Basis {
            nodes,
            by_node: std::array::from_fn(|k| std::array::from_fn(|m| at_nodes[m][k])),
            monomials,
            edge: 0.5 * (1.0 + nodes[0]),
        }
    }

    /// The basis, computed once.
    fn shared() -> &'static Basis {
        static BASIS: std::sync::OnceLock<Basis> = std::sync::OnceLock::new();
        BASIS.get_or_init(Basis::new)
    }

    /// The check point of a piece, alternating ends from piece to piece.
    fn check_point(&self, piece: usize) -> f64 {
        if piece.is_multiple_of(2) {
            self.edge
        } else {
            -self.edge
        }
    }

    /// The padded monomial coefficients of the piece interpolating `values` at the
    /// nodes, or `None` if its last two Chebyshev coefficients exceed `tol`.
    fn piece(&self, values: &[f64], tol: f64) -> Option<[f64; ROW]> {
        piece_wide(self, values, tol)
    }
}

crate::simd::vectorised! {
    /// [`piece_plain`] at the widest vectors of this CPU.
    fn piece_wide(basis: &Basis, values: &[f64], tol: f64) -> Option<[f64; ROW]> = piece_plain;
}

/// [`Basis::piece`]. Each coefficient is a sum over nodes (then over Chebyshev
/// coefficients) taken in index order from -0.0, as `Iterator::sum` takes it; the
/// sums are accumulated side by side, so that they vectorise, each in that order.
#[inline(always)]
fn piece_plain(basis: &Basis, values: &[f64], tol: f64) -> Option<[f64; ROW]> {
    let mut sums = [-0.0f64; COEFS];
    for (&f, row) in values[..COEFS].iter().zip(&basis.by_node) {
        for (s, &b) in sums.iter_mut().zip(row) {
            *s += f * b;
        }
    }
    let cheb: [f64; COEFS] = std::array::from_fn(|m| {
        let s = 2.0 * sums[m] / COEFS as f64;
        if m == 0 {
            0.5 * s
        } else {
            s
        }
    });
    if cheb[DEGREE].abs() + cheb[DEGREE - 1].abs() > tol {
        return None;
    }
    let mut out = [-0.0f64; ROW];
    for (&c, row) in cheb.iter().zip(&basis.monomials) {
        for (o, &a) in out[..COEFS].iter_mut().zip(row) {
            *o += c * a;
        }
    }
    out[COEFS..].fill(0.0);
    Some(out)
}

impl Table {
    /// Tabulate the function that `eval` applies in place (each y replaced by f(y)) on
    /// [lo, hi] to `rel_tol`, with at most `max_pieces` pieces; `None` if it cannot.
    /// `feature` is the width of the function's narrowest feature (see the module
    /// header).
    pub fn build(
        lo: f64,
        hi: f64,
        feature: f64,
        rel_tol: f64,
        max_pieces: usize,
        eval: impl Fn(&mut [f64]) + Sync,
    ) -> Option<Table> {
        if !(lo.is_finite() && hi.is_finite() && lo < hi && rel_tol > 0.0 && feature > 0.0) {
            return None;
        }
        let first = ((hi - lo) / feature).ceil();
        if first > max_pieces as f64 {
            return None;
        }
        let t0 = crate::phases::phase_start();
        let mut pieces = (first as usize).next_power_of_two().max(FIRST_PIECES);
        let basis = Basis::shared();
        let mut table = None;
        while pieces <= max_pieces && table.is_none() {
            table = Self::attempt(lo, hi, rel_tol, pieces, basis, &eval);
            pieces *= 2;
        }
        crate::phases::phase_end(crate::phases::Phase::Tables, t0);
        table
    }

    fn attempt(
        lo: f64,
        hi: f64,
        rel_tol: f64,
        pieces: usize,
        basis: &Basis,
        eval: &(impl Fn(&mut [f64]) + Sync),
    ) -> Option<Table> {
        let inv_h = pieces as f64 / (hi - lo);
        let at = |piece: usize, t: f64| lo + (piece as f64 + 0.5 * (t + 1.0)) / inv_h;
        // The function at every node, then at every check point, in parallel (each
        // value on its own, so the split does not change them).
        let mut ys: Vec<f64> = (0..pieces)
            .flat_map(|j| basis.nodes.iter().map(move |&t| at(j, t)))
            .chain((0..pieces).map(|j| at(j, basis.check_point(j))))
            .collect();
        let check_ys = ys[pieces * COEFS..].to_vec();
        ys.par_chunks_mut(EVAL_CHUNK).for_each(eval);
        let (values, checks) = ys.split_at(pieces * COEFS);
        if values.iter().chain(checks).any(|v| !v.is_finite()) {
            return None;
        }
        let scale = values.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let tol = rel_tol * scale;
        let coefs = values
            .par_chunks_exact(COEFS)
            .map(|v| basis.piece(v, tol))
            .collect::<Option<Vec<_>>>()?;
        let table = Table {
            lo,
            inv_h,
            pieces: pieces as f64,
            coefs,
            tol,
        };
        let fits = |(j, (&y, &f)): (usize, (&f64, &f64))| {
            table.locate(y).is_some_and(|(piece, t)| {
                piece == j && (table.polynomial(piece, t) - f).abs() <= tol
            })
        };
        check_ys
            .iter()
            .zip(checks)
            .enumerate()
            .all(fits)
            .then_some(table)
    }

    /// The absolute accuracy the table was built to.
    pub fn tolerance(&self) -> f64 {
        self.tol
    }

    /// The number of pieces.
    pub fn pieces(&self) -> usize {
        self.coefs.len()
    }

    /// The piece holding y and y's place t ∈ [-1, 1] in it; `None` outside [lo, hi)
    /// and for NaN.
    #[inline(always)]
    fn locate(&self, y: f64) -> Option<(usize, f64)> {
        let p = (y - self.lo) * self.inv_h;
        if !(p >= 0.0 && p < self.pieces) {
            return None;
        }
        let j = p as i32;
        Some((j as usize, 2.0 * (p - j as f64) - 1.0))
    }

    #[inline(always)]
    fn polynomial(&self, piece: usize, t: f64) -> f64 {
        estrin(&self.coefs[piece], t)
    }

    /// Replace every y in `values` by f(y): from the table inside it, by `exact`
    /// (the function itself, one value at a time) outside.
    pub fn eval_batch(&self, values: &mut [f64], exact: impl Fn(f64) -> f64) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::width() == crate::simd::Width::Avx2 {
            let (n, at) = (values.len(), values.as_mut_ptr());
            // SAFETY: `width` reports AVX2 only where this CPU has it; source and
            // destination are the same `n` values (each is read before it is written).
            unsafe { eval_avx2::<false>(self, at, at, n, &exact) };
            return;
        }
        for v in values.iter_mut() {
            *v = self.one(*v, &exact);
        }
    }

    /// f of the values in `src` written to `dst` (of the same length): the values of
    /// [`Table::eval_batch`] in any order, faster in ascending order (a sorted cloud,
    /// where neighbours mostly share a piece).
    pub fn eval_ascending_into(&self, src: &[f64], dst: &mut [f64], exact: impl Fn(f64) -> f64) {
        assert_eq!(src.len(), dst.len(), "one value out per value in");
        #[cfg(target_arch = "x86_64")]
        if crate::simd::width() == crate::simd::Width::Avx2 {
            // SAFETY: `width` reports AVX2 only where this CPU has it; `src` and `dst`
            // hold `src.len()` values each.
            unsafe { eval_avx2::<true>(self, src.as_ptr(), dst.as_mut_ptr(), src.len(), &exact) };
            return;
        }
        for (d, &y) in dst.iter_mut().zip(src) {
            *d = self.one(y, &exact);
        }
    }

    /// f(y) from the table, or by `exact` outside it.
    #[inline(always)]
    fn one(&self, y: f64, exact: &impl Fn(f64) -> f64) -> f64 {
        match self.locate(y) {
            Some((j, t)) => self.polynomial(j, t),
            None => exact(y),
        }
    }
}

/// The polynomial with coefficients `c` (constant first) at t, by Estrin's scheme:
/// pairs, then pairs of pairs, so the dependency chain is four multiply-adds deep
/// instead of Horner's nine.
#[inline(always)]
fn estrin(c: &[f64; ROW], t: f64) -> f64 {
    let t2 = t * t;
    let t4 = t2 * t2;
    let t8 = t4 * t4;
    let p01 = c[0] + c[1] * t;
    let p23 = c[2] + c[3] * t;
    let p45 = c[4] + c[5] * t;
    let p67 = c[6] + c[7] * t;
    let p89 = c[8] + c[9] * t;
    let q03 = p01 + p23 * t2;
    let q47 = p45 + p67 * t2;
    (q03 + q47 * t4) + p89 * t8
}

/// [`Table::eval_batch`] four values at a time, with the operations of [`estrin`] in
/// the same order (so the same bits): the four pieces' coefficient rows are loaded
/// and transposed, so that each coefficient is one vector for the four. A group of
/// four with a value outside the table goes one at a time. Without `ASCENDING`, two
/// groups of four inside the table are done together: the chain from a value to its
/// piece's coefficients is long, and interleaving two of them took L_r at the
/// sweep's draws from about 3.6 to 3.1 ns per value (Examples 3 to 6, one thread,
/// medians of 4 alternated). With `ASCENDING`, four values in one piece (tested, so
/// any order is safe) take the piece's coefficients by broadcasts instead, kept for
/// the groups after it while they stay in that piece. Reads `n` values from `src`
/// and writes f of them to `dst`, which may be `src` (each group of four, or eight,
/// is read before it is written).
///
/// # Safety
/// The CPU has AVX2; `src` and `dst` are valid for `n` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn eval_avx2<const ASCENDING: bool>(
    table: &Table,
    src: *const f64,
    dst: *mut f64,
    n: usize,
    exact: &impl Fn(f64) -> f64,
) {
    use std::arch::x86_64::*;
    let quads = n / 4;
    let (lo, inv_h) = (_mm256_set1_pd(table.lo), _mm256_set1_pd(table.inv_h));
    let (zero, top) = (_mm256_setzero_pd(), _mm256_set1_pd(table.pieces));
    let (one, two) = (_mm256_set1_pd(1.0), _mm256_set1_pd(2.0));
    // p = (y - lo)·inv_h, and whether 0 ≤ p < pieces for the four, as
    // `Table::locate` tests it (false for NaN).
    let place = |y: __m256d| {
        let p = _mm256_mul_pd(_mm256_sub_pd(y, lo), inv_h);
        let inside = _mm256_and_pd(
            _mm256_cmp_pd::<_CMP_GE_OQ>(p, zero),
            _mm256_cmp_pd::<_CMP_LT_OQ>(p, top),
        );
        (p, _mm256_movemask_pd(inside) == 0b1111)
    };
    // t = 2(p - ⌊p⌋) - 1, with ⌊p⌋ by truncation as the scalar `as i32`.
    let local = |p: __m256d, k: __m128i| {
        _mm256_sub_pd(
            _mm256_mul_pd(two, _mm256_sub_pd(p, _mm256_cvtepi32_pd(k))),
            one,
        )
    };
    let estrin4 = |c: &[__m256d; 8], c89: &[__m256d; 2], t: __m256d| {
        let (add, mul) = (_mm256_add_pd, _mm256_mul_pd);
        let t2 = mul(t, t);
        let t4 = mul(t2, t2);
        let t8 = mul(t4, t4);
        let p01 = add(c[0], mul(c[1], t));
        let p23 = add(c[2], mul(c[3], t));
        let p45 = add(c[4], mul(c[5], t));
        let p67 = add(c[6], mul(c[7], t));
        let p89 = add(c89[0], mul(c89[1], t));
        let q03 = add(p01, mul(p23, t2));
        let q47 = add(p45, mul(p67, t2));
        add(add(q03, mul(q47, t4)), mul(p89, t8))
    };
    // The coefficients of the four values' pieces (each piece's row loaded and the
    // four transposed), as estrin4 takes them.
    let coefs_of = |idx: &[i32; 4]| -> ([__m256d; 8], [__m256d; 2]) {
        let rows: [*const f64; 4] = std::array::from_fn(|i| table.coefs[idx[i] as usize].as_ptr());
        // SAFETY: each row is a [f64; ROW] of the table (ROW = 12), and the loads
        // below read at most its first 12 values.
        unsafe {
            let load = |off: usize| -> [__m256d; 4] {
                std::array::from_fn(|i| _mm256_loadu_pd(rows[i].add(off)))
            };
            let transpose = |r: [__m256d; 4]| -> [__m256d; 4] {
                let t0 = _mm256_unpacklo_pd(r[0], r[1]);
                let t1 = _mm256_unpackhi_pd(r[0], r[1]);
                let t2 = _mm256_unpacklo_pd(r[2], r[3]);
                let t3 = _mm256_unpackhi_pd(r[2], r[3]);
                [
                    _mm256_permute2f128_pd(t0, t2, 0x20),
                    _mm256_permute2f128_pd(t1, t3, 0x20),
                    _mm256_permute2f128_pd(t0, t2, 0x31),
                    _mm256_permute2f128_pd(t1, t3, 0x31),
                ]
            };
            let a = transpose(load(0));
            let b = transpose(load(4));
            // c8 and c9 of rows 0 and 2, and of rows 1 and 3.
            let even = _mm256_insertf128_pd(
                _mm256_castpd128_pd256(_mm_loadu_pd(rows[0].add(8))),
                _mm_loadu_pd(rows[2].add(8)),
                1,
            );
            let odd = _mm256_insertf128_pd(
                _mm256_castpd128_pd256(_mm_loadu_pd(rows[1].add(8))),
                _mm_loadu_pd(rows[3].add(8)),
                1,
            );
            (
                [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]],
                [_mm256_unpacklo_pd(even, odd), _mm256_unpackhi_pd(even, odd)],
            )
        }
    };
    // The four pieces as integers, each in [0, pieces) when the four are inside.
    let indices = |k: __m128i| {
        let mut idx = [0i32; 4];
        // SAFETY: four i32 into a four-i32 array.
        unsafe { _mm_storeu_si128(idx.as_mut_ptr().cast(), k) };
        idx
    };
    let mut q = 0;
    while q < quads {
        let at = 4 * q;
        // SAFETY: at + 4 ≤ n.
        let y = unsafe { _mm256_loadu_pd(src.add(at)) };
        let (p, inside) = place(y);
        if !inside {
            for i in at..at + 4 {
                // SAFETY: i < n.
                unsafe { *dst.add(i) = table.one(*src.add(i), exact) };
            }
            q += 1;
            continue;
        }
        let k = _mm256_cvttpd_epi32(p);
        let t = local(p, k);
        if !ASCENDING && q + 1 < quads {
            // Two groups of four at once when the next is inside too: their
            // loads and polynomials interleave (the chain from a value to its
            // piece's coefficients is long).
            // SAFETY: at + 8 ≤ n.
            let y2 = unsafe { _mm256_loadu_pd(src.add(at + 4)) };
            let (p2, inside2) = place(y2);
            if inside2 {
                let k2 = _mm256_cvttpd_epi32(p2);
                let t2 = local(p2, k2);
                let (c, c89) = coefs_of(&indices(k));
                let (d, d89) = coefs_of(&indices(k2));
                // SAFETY: at + 8 ≤ n.
                unsafe {
                    _mm256_storeu_pd(dst.add(at), estrin4(&c, &c89, t));
                    _mm256_storeu_pd(dst.add(at + 4), estrin4(&d, &d89, t2));
                }
                q += 2;
                continue;
            }
        }
        let idx = indices(k);
        // In range: 0 ≤ p < pieces, so 0 ≤ idx[i] < pieces.
        let one_piece = idx[0] == idx[1] && idx[1] == idx[2] && idx[2] == idx[3];
        if ASCENDING && one_piece {
            // One piece for the four (the common case for a sorted cloud): each
            // coefficient broadcast, the same values as the transpose would give,
            // and kept while the groups that follow stay in this piece.
            let row = &table.coefs[idx[0] as usize];
            let at = |k: usize| _mm256_set1_pd(row[k]);
            let c = [at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7)];
            let c89 = [at(8), at(9)];
            // In this piece j exactly when 2j ≤ 2p < 2j + 2, and there
            // t = 2(p - j) - 1 = 2p - (2j + 1): p - j is exact, so both are the one
            // rounding of the same number. 2p = (y - lo)·(2·inv_h) exactly (a power
            // of two commutes with rounding), so t comes from y by three operations
            // and no conversion: the loop is bound by the latency from y to the
            // stored value, and this took the ascending evaluation of a sorted
            // array from about 1.9 to 1.0-1.3 ns per value (one thread, alternated).
            let j = f64::from(idx[0]);
            let inv_h2 = _mm256_set1_pd(2.0 * table.inv_h);
            let (from, below) = (_mm256_set1_pd(2.0 * j), _mm256_set1_pd(2.0 * j + 2.0));
            let odd = _mm256_set1_pd(2.0 * j + 1.0);
            let mut t = t;
            loop {
                // SAFETY: 4q + 4 ≤ n.
                unsafe { _mm256_storeu_pd(dst.add(4 * q), estrin4(&c, &c89, t)) };
                q += 1;
                if q == quads {
                    break;
                }
                // SAFETY: 4q + 4 ≤ n.
                let y = unsafe { _mm256_loadu_pd(src.add(4 * q)) };
                let p2 = _mm256_mul_pd(_mm256_sub_pd(y, lo), inv_h2);
                let same = _mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_GE_OQ>(p2, from),
                    _mm256_cmp_pd::<_CMP_LT_OQ>(p2, below),
                );
                if _mm256_movemask_pd(same) != 0b1111 {
                    break;
                }
                t = _mm256_sub_pd(p2, odd);
            }
            continue;
        }
        let (c, c89) = coefs_of(&idx);
        // SAFETY: at + 4 ≤ n.
        unsafe { _mm256_storeu_pd(dst.add(at), estrin4(&c, &c89, t)) };
        q += 1;
    }
    for i in 4 * quads..n {
        // SAFETY: i < n.
        unsafe { *dst.add(i) = table.one(*src.add(i), exact) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_the_one_sum_at_a_time_coefficients_at_every_vector_width() {
        // The coefficients as sums taken one after another (the plain definition).
        let one_at_a_time = |b: &Basis, values: &[f64], tol: f64| -> Option<[f64; ROW]> {
            let cheb: [f64; COEFS] = std::array::from_fn(|m| {
                let s: f64 = (0..COEFS).map(|k| values[k] * b.by_node[k][m]).sum();
                let s = 2.0 * s / COEFS as f64;
                if m == 0 {
                    0.5 * s
                } else {
                    s
                }
            });
            if cheb[DEGREE].abs() + cheb[DEGREE - 1].abs() > tol {
                return None;
            }
            Some(std::array::from_fn(|k| {
                if k < COEFS {
                    (0..COEFS).map(|m| cheb[m] * b.monomials[m][k]).sum()
                } else {
                    0.0
                }
            }))
        };
        let b = Basis::shared();
        let smooth: Vec<f64> = b.nodes.iter().map(|t| (0.7 * t).exp()).collect();
        let rough: Vec<f64> = (0..COEFS)
            .map(|k| if k % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let zeros = vec![-0.0; COEFS];
        let mixed: Vec<f64> = (0..COEFS).map(|k| (k as f64 * 1.3).sin() * 1e-3).collect();
        for values in [&smooth, &rough, &zeros, &mixed] {
            for tol in [1e-15, 1e-6, 10.0] {
                let want = one_at_a_time(b, values, tol);
                for w in crate::simd::widths_here() {
                    let got = crate::simd::with_width_at_most(w, || b.piece(values, tol));
                    assert_eq!(got.is_some(), want.is_some(), "{values:?} {tol} {w:?}");
                    if let (Some(g), Some(h)) = (got, want) {
                        assert!(
                            g.iter().zip(&h).all(|(x, y)| x.to_bits() == y.to_bits()),
                            "{values:?} {tol} {w:?}: {g:?} against {h:?}"
                        );
                    }
                }
            }
        }
    }

    fn batch(f: impl Fn(f64) -> f64) -> impl Fn(&mut [f64]) {
        move |v: &mut [f64]| v.iter_mut().for_each(|y| *y = f(*y))
    }

    /// The largest |table - f| over a dense grid of [lo, hi] and its ends.
    fn worst(table: &Table, lo: f64, hi: f64, f: impl Fn(f64) -> f64) -> f64 {
        let n = 200_003;
        (0..=n)
            .map(|i| lo + (hi - lo) * i as f64 / n as f64)
            .map(|y| {
                let mut v = [y];
                table.eval_batch(&mut v, &f);
                (v[0] - f(y)).abs()
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn a_polynomial_of_the_degree_needs_the_fewest_pieces_and_is_exact() {
        // Degree 7: its Chebyshev coefficients 8 and 9 vanish.
        let p = |y: f64| (0..=7).fold(0.0, |acc, k| acc * y + (k as f64 - 4.5));
        let t = Table::build(-2.0, 3.0, 5.0, 1e-13, 1024, batch(p)).unwrap();
        assert_eq!(t.pieces(), FIRST_PIECES);
        assert!(worst(&t, -2.0, 3.0, p) <= t.tolerance());
        assert!(t.tolerance() <= 1e-13 * p(3.0).abs());
    }

    #[test]
    fn smooth_functions_are_within_the_tolerance_everywhere() {
        // (f, lo, hi, feature width)
        type Case = (fn(f64) -> f64, f64, f64, f64);
        let cases: [Case; 5] = [
            (|y| (-y * y).exp(), -9.0, 9.0, 1.0),
            (|y| (3.0 * y).sin() / (1.0 + y * y), -20.0, 20.0, 1.0),
            (|y| 1.0 / (1.0 + (-5.0 * y).exp()), -12.0, 12.0, 0.2),
            (|y| 40.0 / (1.0 + (7.0 * y).cosh()), -15.0, 15.0, 0.1),
            (|y| (-(y * 100.0) * (y * 100.0)).exp(), -3.0, 3.0, 0.01),
        ];
        for (f, lo, hi, feature) in cases {
            let t = Table::build(lo, hi, feature, 1e-12, 4096, batch(f))
                .unwrap_or_else(|| panic!("no table on [{lo}, {hi}]"));
            let w = worst(&t, lo, hi, f);
            assert!(w <= t.tolerance(), "{w:e} > {:e}", t.tolerance());
            // and not loose: the tolerance is 1e-12 of the scale
            assert!(t.tolerance() <= 1e-12 * 40.0);
        }
    }

    #[test]
    fn outside_the_range_and_nan_go_to_the_function() {
        let f = |y: f64| y.sin();
        let t = Table::build(-1.0, 1.0, 1.0, 1e-12, 64, batch(f)).unwrap();
        let mut v = [-1.5, 1.0, 2.0, f64::NAN, f64::INFINITY, 0.25];
        t.eval_batch(&mut v, f);
        assert_eq!(v[0], f(-1.5));
        assert_eq!(v[1], f(1.0));
        assert_eq!(v[2], f(2.0));
        assert!(v[3].is_nan());
        assert!(v[4].is_nan());
        assert!((v[5] - f(0.25)).abs() <= t.tolerance());
        assert_ne!(v[5].to_bits(), 0.25f64.to_bits());
    }

    #[test]
    fn ascending_runs_and_shuffles_through_piece_edges_are_the_plain_values() {
        // Sorted values in runs inside one piece, on every piece's edges and a float
        // either side of them (where the kept piece must end), past the table's end
        // and NaN: eval_ascending_into gives what one value at a time gives, bit for
        // bit, at every vector width; and so does eval_batch on the same values
        // shuffled (groups of four inside and outside the table side by side).
        use crate::simd::{widths_here, with_width_at_most};
        let f = |y: f64| (3.0 * y).sin() / (1.0 + y * y);
        let (lo, hi) = (-3.0, 4.0);
        let t = Table::build(lo, hi, 0.5, 1e-12, 4096, batch(f)).unwrap();
        let mut ys: Vec<f64> = (0..=t.pieces())
            .flat_map(|j| {
                let edge = lo + j as f64 / t.inv_h;
                [edge.next_down(), edge, edge.next_up()]
            })
            .chain((0..40_000).map(|i| lo - 0.5 + (hi - lo + 1.0) * i as f64 / 40_000.0))
            .collect();
        ys.sort_by(f64::total_cmp);
        ys.push(f64::NAN);
        let want: Vec<f64> = ys.iter().map(|&y| t.one(y, &f)).collect();
        let same = |got: &[f64], want: &[f64], src: &[f64], w| {
            for (k, (a, b)) in got.iter().zip(want).enumerate() {
                assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "{w:?}, y = {}: {a} against {b}",
                    src[k]
                );
            }
        };
        // A fixed shuffle: value i goes to place i·7919 mod len (7919 is prime and
        // does not divide the length).
        let len = ys.len();
        assert_ne!(len % 7919, 0);
        let mut order: Vec<usize> = (0..len).collect();
        order.sort_by_key(|&i| (i * 7919) % len);
        let shuffled: Vec<f64> = order.iter().map(|&i| ys[i]).collect();
        let shuffled_want: Vec<f64> = order.iter().map(|&i| want[i]).collect();
        for w in widths_here() {
            for skip in 0..8 {
                let mut got = shuffled[skip..].to_vec();
                with_width_at_most(w, || t.eval_batch(&mut got, f));
                same(&got, &shuffled_want[skip..], &shuffled[skip..], w);
            }
            for skip in 0..4 {
                let src = &ys[skip..];
                let mut got = vec![0.0; src.len()];
                with_width_at_most(w, || t.eval_ascending_into(src, &mut got, f));
                same(&got, &want[skip..], src, w);
            }
        }
    }

    #[test]
    fn what_does_not_settle_gets_no_table() {
        // A jump, a kink, a pole between nodes.
        let b = |f: fn(f64) -> f64| Table::build(-1.0, 1.3, 0.5, 1e-12, 4096, batch(f));
        assert!(b(|y| y.signum()).is_none());
        assert!(b(|y| y.abs()).is_none());
        assert!(b(|y| 1.0 / y.abs()).is_none());
        // A feature too narrow for the piece budget, and a tolerance the pieces
        // cannot reach within it.
        let narrow = |y: f64| (-(y * 1e4) * (y * 1e4)).exp();
        assert!(Table::build(-30.0, 30.0, 1e-4, 1e-12, 4096, batch(narrow)).is_none());
        let wide = |y: f64| (-(y * 100.0) * (y * 100.0)).exp();
        assert!(Table::build(-3.0, 3.0, 0.01, 1e-12, 512, batch(wide)).is_none());
        // An empty range.
        assert!(Table::build(1.0, 1.0, 1.0, 1e-12, 64, batch(|y: f64| y)).is_none());
    }
}
