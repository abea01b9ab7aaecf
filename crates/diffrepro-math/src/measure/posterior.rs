//! The posterior of rX given Y_r = rX + Z = y, for every measure kind, in log space.
//!
//! Two kernels do all the work:
//! - a Gaussian-mixture kernel (point masses, normals, mixtures and empirical
//!   measures are all mixtures of N(m_i, s_i²) with s_i ≥ 0), DIGEST §3: weights
//!   w_i(y) ∝ p_i φ((y - r m_i)/v_i)/v_i, v_i² = r²s_i² + 1, and given component i,
//!   rX | y ~ N(a_i, c_i), c_i = r²s_i²/v_i², a_i = r m_i + c_i (y - r m_i);
//! - a truncated-normal kernel for Uniform(a, b): rX | y ~ N(y, 1) truncated to
//!   [ra, rb].
//!
//! Both return the posterior shift E[rX|y] - y (the score of Y_r, by Tweedie), the
//! posterior variance L_r(y), and what is needed for ln p_{Y_r}(y). [`Localizer`]
//! freezes (measure, r) so hot loops (quadrature, Monte Carlo) pay no per-call set-up;
//! `Measure`'s own methods run the same kernels on the fly without allocating.
//!
//! For many y at once (Monte Carlo draws, particle clouds), [`Localizer::localization_batch`]
//! and [`Localizer::score_batch`] run the mixture kernel over blocks of [`BATCH`] values
//! with the component loop outside, so the per-value arithmetic, including the
//! branch-free `special::exp`, vectorises; every value is computed by exactly the
//! operations of the one-at-a-time kernel, so the results are bit-identical to it.
//! The exact quadrature has its own batches in the same style (at the end of this
//! file): L_r with the density p_{Y_r}, and dL_r/dy.

use super::special::{exp, log_norm_sf, mills_inverse, norm_interval, norm_pdf, LN_SQRT_2PI};
use super::table::Table;
use super::{Measure, Posterior};

/// How many standard deviations of each component [`Localizer::y_range`] covers.
pub const Y_RANGE_SDS: f64 = 8.5;
/// Accuracy of the tables of L_r and of the score, relative to max(1, largest value).
pub const TABLE_TOL: f64 = 1e-12;
/// The most pieces a table of L_r or of the score may have (at 96 bytes a piece).
pub const TABLE_PIECES: usize = 2048;

/// One mixture component at a fixed r, with every per-r constant precomputed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Prep {
    /// p_i / v_i: the weight's y-independent factor.
    pub coef: f64,
    /// r m_i: the component's centre in y.
    pub center: f64,
    /// 1 / v_i².
    pub inv_v2: f64,
    /// c_i = r² s_i² / v_i²: the within-component posterior variance of rX.
    pub c: f64,
}

impl Prep {
    #[inline]
    pub(crate) fn new(r: f64, weight: f64, mean: f64, var: f64) -> Self {
        let rs2 = r * r * var;
        let inv_v2 = 1.0 / (rs2 + 1.0);
        Prep {
            coef: weight * inv_v2.sqrt(),
            center: r * mean,
            inv_v2,
            c: rs2 * inv_v2,
        }
    }

    /// Standard deviation v_i of this component of Y_r.
    #[inline]
    pub(crate) fn sd(&self) -> f64 {
        (1.0 / self.inv_v2).sqrt()
    }
}

/// Posterior summary at one y: shift = E[rX|y] - y, var = L_r(y), and
/// ln p_{Y_r}(y) = ln_scale + ln(sum) - ln √(2π) (sum kept apart so callers that do not
/// need the density skip the logarithm).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Moments {
    pub shift: f64,
    pub var: f64,
    pub ln_scale: f64,
    pub sum: f64,
}

impl Moments {
    #[inline]
    pub(crate) fn log_density(&self) -> f64 {
        self.ln_scale + self.sum.ln() - LN_SQRT_2PI
    }
}

/// The largest exponent q_i = -½(y - r m_i)²/v_i² over the components, and the
/// posterior mean shift -d/v² of the component that attains it (the reference the
/// kernels centre their moments on).
#[inline]
fn leading<I: Iterator<Item = Prep>>(y: f64, comps: I) -> (f64, f64) {
    let mut q_max = f64::NEG_INFINITY;
    let mut e_ref = 0.0;
    for p in comps {
        let d = y - p.center;
        let q = -0.5 * d * d * p.inv_v2;
        if q > q_max {
            q_max = q;
            e_ref = -d * p.inv_v2;
        }
    }
    (q_max, e_ref)
}

/// The second pass of the mixture kernels: with weights w_i = exp(q_i - q_max)·p_i/v_i
/// and posterior mean shifts e_i about the leading component's, the sums Σw, Σw e,
/// Σw ((c - level) + e²) and, when `THIRD`, Σw e (e² + 3c) (else 0); with q_max and
/// the reference shift. At level 0 the third sum is Σw (c + e²) exactly (c - 0 = c).
#[inline]
fn weighted_sums<I, const THIRD: bool>(y: f64, comps: I, level: f64) -> (f64, f64, [f64; 4])
where
    I: Iterator<Item = Prep> + Clone,
{
    let (q_max, e_ref) = leading(y, comps.clone());
    let (mut s0, mut s1, mut s2, mut s3) = (0.0, 0.0, 0.0, 0.0);
    for p in comps {
        let d = y - p.center;
        let q = -0.5 * d * d * p.inv_v2;
        let w = p.coef * exp(q - q_max);
        let e = -d * p.inv_v2 - e_ref;
        s0 += w;
        s1 += w * e;
        s2 += w * ((p.c - level) + e * e);
        if THIRD {
            s3 += w * e * (e * e + 3.0 * p.c);
        }
    }
    (q_max, e_ref, [s0, s1, s2, s3])
}

/// Mixture kernel. Two passes over the components: the first finds the largest
/// exponent q_i = -½(y - r m_i)²/v_i² (so every weight is exp(q_i - q_max)·p_i/v_i
/// with no overflow and a sum bounded below by the leading term, no logarithm needed),
/// the second accumulates. Posterior means are centred at the leading component's
/// a_i, which removes the cancellation in Σw a² - (Σw a)² when the a_i are large
/// (r ~ 10³) and the posterior sits on one component.
#[inline]
pub(crate) fn mixture_moments<I>(y: f64, comps: I) -> Moments
where
    I: Iterator<Item = Prep> + Clone,
{
    let (q_max, e_ref, [s0, s1, s2, _]) = weighted_sums::<_, false>(y, comps, 0.0);
    let m1 = s1 / s0;
    Moments {
        shift: e_ref + m1,
        var: (s2 / s0 - m1 * m1).max(0.0),
        ln_scale: q_max,
        sum: s0,
    }
}

/// dL_r/dy for a Gaussian mixture: rX | Y_r = y is an exponential family with natural
/// parameter y (its density is ∝ p_{rX}(x) e^{xy - x²/2}), so the derivative of its
/// variance is its third central moment. Component i contributes N(a_i, c_i), whose
/// raw moments about the leading component's mean are e, c + e² and e³ + 3ce.
pub(crate) fn mixture_slope<I>(y: f64, comps: I) -> f64
where
    I: Iterator<Item = Prep> + Clone,
{
    let (_, _, [s0, s1, s2, s3]) = weighted_sums::<_, true>(y, comps, 0.0);
    let (m1, m2, m3) = (s1 / s0, s2 / s0, s3 / s0);
    m3 - 3.0 * m1 * m2 + 2.0 * m1 * m1 * m1
}

/// L_r(y) - u for a Gaussian mixture, formed without first rounding L_r: with
/// Σπ_i = 1, L_r - u = Σπ_i (c_i - u) + Σπ_i e_i² - (Σπ_i e_i)², the shifts e_i centred
/// on the leading component's. Where L_r sits within rounding of u over a long stretch
/// (a level u equal to the tail limit c_i of the widest component, which L_r approaches
/// as π_i → 1), L_r - u is a difference of nearly equal doubles and its sign is noise;
/// this form keeps its relative accuracy, since there c_i - u is exact and the rest is
/// a sum of small products.
pub(crate) fn mixture_excess<I>(y: f64, u: f64, comps: I) -> f64
where
    I: Iterator<Item = Prep> + Clone,
{
    let (_, _, [s0, s1, s2, _]) = weighted_sums::<_, false>(y, comps, u);
    let m1 = s1 / s0;
    s2 / s0 - m1 * m1
}

/// Moments of the standard normal truncated to [alpha, beta]: (mean, variance,
/// ln(Φ(beta) - Φ(alpha))). Far tails are handled through inverse Mills ratios and
/// ratios of erfcx, so nothing underflows however far y is from the interval.
#[cfg(test)]
pub(crate) fn truncated_normal(alpha: f64, beta: f64) -> (f64, f64, f64) {
    let t = truncated_normal_with(alpha, beta, CentralRule::new(beta - alpha).as_ref());
    (t.mean, t.var, t.ln_part + t.mass_part.ln())
}

/// Moments of a truncated standard normal; ln Z = `ln_part` + ln(`mass_part`), kept
/// apart so that callers needing only the mean and variance skip the logarithm.
struct Truncated {
    mean: f64,
    var: f64,
    ln_part: f64,
    mass_part: f64,
}

impl Truncated {
    #[inline]
    fn logged(mean: f64, var: f64, ln_mass: f64) -> Self {
        Truncated {
            mean,
            var,
            ln_part: ln_mass,
            mass_part: 1.0,
        }
    }
}

/// [`truncated_normal`] with the central rule prepared for the interval's width (the
/// uniform kernel prepares it once per r).
fn truncated_normal_with(alpha: f64, beta: f64, rule: Option<&CentralRule>) -> Truncated {
    let w = beta - alpha;
    let mid = 0.5 * (alpha + beta);
    if w * mid.abs().max(1.0) < 1e-4 {
        // Very narrow interval (r(b-a) tiny): a uniform on [alpha, beta] tilted by
        // e^{-mid·s}. The neglected terms are O(w²) relative to var ≤ w²/12 < 1e-9,
        // so the absolute error is below 1e-17, where the exact formula would lose
        // everything to cancellation.
        let w2 = w * w;
        let mean = mid - mid * w2 / 12.0;
        let var = w2 / 12.0 * (1.0 - mid * mid * w2 / 20.0);
        let ln_mass =
            w.ln() - 0.5 * mid * mid - LN_SQRT_2PI + ((mid * mid - 1.0) * w2 / 24.0).ln_1p();
        return Truncated::logged(mean, var.max(0.0), ln_mass);
    }
    if let Some(rule) = rule {
        if alpha >= -CENTRAL && beta <= CENTRAL {
            return central_truncated_wide(rule, alpha, beta);
        }
    }
    if alpha >= 0.0 {
        let (m, v, l) = upper_tail_truncated(alpha, beta);
        Truncated::logged(m, v, l)
    } else if beta <= 0.0 {
        let (m, v, l) = upper_tail_truncated(-beta, -alpha);
        Truncated::logged(-m, v, l)
    } else {
        // The interval contains 0, so the mass is at least min(Φ(β)-½, ½-Φ(α)) and
        // the direct formulas are safe.
        let z = norm_interval(alpha, beta);
        let pa = norm_pdf(alpha) / z;
        let pb = norm_pdf(beta) / z;
        let mean = pa - pb;
        let var = 1.0 + alpha * pa - beta * pb - mean * mean;
        Truncated::logged(mean, var.max(0.0), z.ln())
    }
}

/// Intervals inside [-CENTRAL, CENTRAL] and at most CENTRAL_WIDTH wide are
/// integrated by [`central_truncated`]; they hold most draws of the uniform's Y_r at
/// the SNRs of the paper's figures (r ≤ 2).
const CENTRAL: f64 = 5.0;
const CENTRAL_WIDTH: f64 = 4.0;

/// Gauss–Legendre rule for truncations to intervals of one width w = 2h, the y-free
/// part of the integrand folded in: the positive nodes ξ_k of an n-point rule and
/// g_k = λ_k e^{-h²ξ_k²/2}. n grows with w: 8 up to w = 0.5, 10 up to 1, 12 up to 2,
/// 16 up to 4, the smallest rules whose error is below rounding there (checked
/// against mpmath at 60 digits over [-5, 5]: mean and ln Z to 4e-15, the variance to
/// 6e-14 relative).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CentralRule {
    half: f64,
    pairs: usize,
    xi: [f64; 8],
    g: [f64; 8],
}

impl CentralRule {
    /// The rule for width `w`, or None beyond [`CENTRAL_WIDTH`].
    pub(crate) fn new(w: f64) -> Option<Self> {
        if w.is_nan() || w > CENTRAL_WIDTH {
            return None;
        }
        let n = match w {
            w if w <= 0.5 => 8,
            w if w <= 1.0 => 10,
            w if w <= 2.0 => 12,
            _ => 16,
        };
        let (_, nodes) = super::special::gauss_legendre_halves()
            .iter()
            .find(|(m, _)| *m == n)
            .expect("rules of 8, 10, 12 and 16 points exist");
        let half = 0.5 * w;
        let mut rule = CentralRule {
            half,
            pairs: n / 2,
            xi: [0.0; 8],
            g: [0.0; 8],
        };
        for (k, &(xi, lambda)) in nodes.iter().take(n / 2).enumerate() {
            let s = half * xi;
            rule.xi[k] = xi;
            rule.g[k] = lambda * exp(-0.5 * s * s);
        }
        Some(rule)
    }
}

/// Truncation to [α, β] ⊂ [-5, 5] of width w ≤ 4 by Gauss–Legendre on e^{-t²/2}
/// (see [`CentralRule`]), with moments about the midpoint m: at t = m ± hξ,
/// e^{-t²/2} = e^{-m²/2} e^{∓mhξ} g/λ, so each pair of nodes costs one exp. No
/// cancellation in the variance, unlike 1 + αφ(α)/Z - βφ(β)/Z - mean², which loses
/// ~1e-16/var for narrow intervals; and several times cheaper than the erf-based
/// closed form.
#[inline(always)]
fn central_truncated(rule: &CentralRule, alpha: f64, beta: f64) -> Truncated {
    let mid = 0.5 * (alpha + beta);
    let c = mid * rule.half;
    // All eight slots, so the loop vectorises; unused slots have g = 0 and add
    // exact zeros.
    let mut up = [0.0; 8];
    for (u, &xi) in up.iter_mut().zip(&rule.xi) {
        *u = exp(c * xi);
    }
    let (mut m0, mut m1, mut m2) = (0.0, 0.0, 0.0);
    for ((&u, &xi), &g) in up.iter().zip(&rule.xi).zip(&rule.g) {
        // Node m + s carries e^{-cξ} = 1/u, node m - s carries u.
        let down = 1.0 / u;
        let s = rule.half * xi;
        m0 += g * (down + u);
        m1 += g * s * (down - u);
        m2 += g * s * s * (down + u);
    }
    let es = m1 / m0;
    Truncated {
        mean: mid + es,
        var: (m2 / m0 - es * es).max(0.0),
        ln_part: -0.5 * mid * mid - LN_SQRT_2PI,
        mass_part: rule.half * m0,
    }
}

crate::simd::vectorised! {
    /// [`central_truncated`] at the widest vectors of this CPU (the eight exps side by side).
    fn central_truncated_wide(rule: &CentralRule, alpha: f64, beta: f64) -> Truncated = central_truncated;
}

/// 0 ≤ alpha < beta: Z = Q(α)(1 - ρ) with ρ = Q(β)/Q(α) computed in log space.
fn upper_tail_truncated(alpha: f64, beta: f64) -> (f64, f64, f64) {
    let w = beta - alpha;
    if alpha > 1.0 && alpha * w < 20.0 {
        return short_tail_truncated(alpha, w);
    }
    let la = mills_inverse(alpha);
    let (ln_rho, lb) = if beta.is_finite() {
        let ln_rho = log_norm_sf(beta) - log_norm_sf(alpha);
        (ln_rho, mills_inverse(beta))
    } else {
        (f64::NEG_INFINITY, 0.0)
    };
    let rho = ln_rho.exp();
    let one_minus_rho = -ln_rho.exp_m1();
    let pa = la / one_minus_rho; // φ(α)/Z
    let pb = if rho > 0.0 {
        lb * rho / one_minus_rho
    } else {
        0.0
    }; // φ(β)/Z
    let mean = pa - pb;
    let tail_b = if pb > 0.0 { beta * pb } else { 0.0 };
    let var = 1.0 + alpha * pa - tail_b - mean * mean;
    (mean, var.max(0.0), log_norm_sf(alpha) + one_minus_rho.ln())
}

/// Truncation to [α, α + w] with α > 1 and αw < 20: the closed form cancels terms of
/// size α/w down to a variance of size w², so integrate the density of s = x - α - w/2,
/// ∝ exp(-α s' - s'²/2) with s' = s + w/2, by 32-point Gauss–Legendre instead. The
/// integrand is entire with |d/ds log| ≤ α + w, so the rule is exact to ~1e-15 for
/// αw < 20 (the error behaves like (αw/4)⁶⁴/64!).
fn short_tail_truncated(alpha: f64, w: f64) -> (f64, f64, f64) {
    let (x, wt) = super::special::gauss_legendre_32();
    let half = 0.5 * w;
    let (mut m0, mut m1, mut m2) = (0.0, 0.0, 0.0);
    for (&xi, &wi) in x.iter().zip(wt) {
        let s = half * xi;
        let t = s + half;
        let f = wi * exp(-alpha * t - 0.5 * t * t);
        m0 += f;
        m1 += f * s;
        m2 += f * s * s;
    }
    let es = m1 / m0;
    let var = (m2 / m0 - es * es).max(0.0);
    let ln_mass = -0.5 * alpha * alpha - LN_SQRT_2PI + (half * m0).ln();
    (alpha + half + es, var, ln_mass)
}

/// Uniform(a, b) at fixed r: lo = ra, hi = rb, and what depends on them alone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct UniformPrep {
    pub lo: f64,
    pub hi: f64,
    ln_width: f64,
    rule: Option<CentralRule>,
}

impl UniformPrep {
    #[inline]
    pub(crate) fn new(lo: f64, hi: f64) -> Self {
        UniformPrep {
            lo,
            hi,
            ln_width: (hi - lo).ln(),
            rule: CentralRule::new(hi - lo),
        }
    }
}

/// Uniform(a, b) kernel at fixed r.
#[inline]
pub(crate) fn uniform_moments(u: &UniformPrep, y: f64) -> Moments {
    let t = truncated_normal_with(u.lo - y, u.hi - y, u.rule.as_ref());
    // p_{Y_r}(y) = (Φ(rb - y) - Φ(ra - y)) / (r(b - a)); ln √(2π) is added back
    // because `Moments::log_density` subtracts it.
    Moments {
        shift: t.mean,
        var: t.var,
        ln_scale: t.ln_part - u.ln_width + LN_SQRT_2PI,
        sum: t.mass_part,
    }
}

/// Mixtures with more components than this, all of equal weight and width, are
/// evaluated on a window around y.
const WINDOW_MIN_COMPONENTS: usize = 32;
/// Components whose log-weight is more than this below the largest are skipped:
/// e^{-60} ≈ 9e-27, so even 10⁶ skipped components move L_r by < 1e-12 at r·spread ≤ 10⁴.
const WINDOW_LOG_RATIO: f64 = 60.0;

fn mixture_kind(mut comps: Vec<Prep>) -> Kind {
    let uniform = comps.len() > WINDOW_MIN_COMPONENTS
        && comps
            .iter()
            .all(|p| p.inv_v2 == comps[0].inv_v2 && p.coef == comps[0].coef);
    if uniform {
        comps.sort_by(|a, b| a.center.total_cmp(&b.center));
    }
    Kind::Mixture {
        comps,
        windowed: uniform,
    }
}

/// Mixture kernel over the components that matter at y, for equal weights and widths
/// sorted by centre: weights then fall off with |y - r m_i| on both sides of the
/// nearest centre, so a binary search and two short scans find every component within
/// [`WINDOW_LOG_RATIO`] of the largest log-weight. O(log n + window) instead of O(n).
#[inline]
pub(crate) fn windowed_moments(y: f64, comps: &[Prep]) -> Moments {
    let n = comps.len();
    let i = comps.partition_point(|p| p.center < y);
    let dist2 = |k: usize| {
        let d = y - comps[k].center;
        d * d
    };
    let nearest = match (i > 0, i < n) {
        (true, true) => dist2(i - 1).min(dist2(i)),
        (true, false) => dist2(i - 1),
        _ => dist2(i),
    };
    let bound = nearest + 2.0 * WINDOW_LOG_RATIO / comps[0].inv_v2;
    let mut lo = i;
    while lo > 0 && dist2(lo - 1) <= bound {
        lo -= 1;
    }
    let mut hi = i;
    while hi < n && dist2(hi) <= bound {
        hi += 1;
    }
    mixture_moments(y, comps[lo..hi].iter().copied())
}

/// Values per block of the batch kernels (the scratch arrays stay in L1).
pub const BATCH: usize = 64;

/// The first pass of the block kernels ([`leading`] for a block): the largest
/// exponent q_max of each value and the shift of the component attaining it (the first
/// one on ties), which ends in `shifts[k]` for the returned k. The shifts go back and
/// forth between the two buffers, one component to the next: written in place,
/// `e = if better { new } else { e }` compiles to a masked store, which costs tens of
/// cycles on some x86 cores; read from one buffer and written whole to the other, it
/// is a blend and a plain store.
#[inline(always)]
fn block_leading(
    comps: &[Prep],
    ys: &[f64],
    q_max: &mut [f64; BATCH],
    shifts: &mut [[f64; BATCH]; 2],
) -> usize {
    for (i, p) in comps.iter().enumerate() {
        let [a, b] = &mut *shifts;
        let (from, to) = if i % 2 == 0 { (&*a, b) } else { (&*b, a) };
        for (((&y, qm), &er), er_to) in ys.iter().zip(q_max.iter_mut()).zip(from).zip(to) {
            let d = y - p.center;
            let q = -0.5 * d * d * p.inv_v2;
            let better = q > *qm;
            // A select written as bit operations: LLVM otherwise loads `er` under
            // a mask, another slow instruction.
            let keep = u64::from(better).wrapping_sub(1);
            let new = (-d * p.inv_v2).to_bits();
            *er_to = f64::from_bits((new & !keep) | (er.to_bits() & keep));
            *qm = if better { q } else { *qm };
        }
    }
    comps.len() % 2
}

/// [`mixture_moments`] at every y of a block (≤ [`BATCH`] values), replacing each y by
/// L_r(y) (`VAR`) or by the shift E[rX|y] - y. Same operations per value, in the same
/// order, as the one-at-a-time kernel.
#[inline(always)]
fn mixture_block<const VAR: bool>(comps: &[Prep], values: &mut [f64]) {
    let n = values.len().min(BATCH);
    let values = &mut values[..n];
    let mut ys = [0.0; BATCH];
    ys[..n].copy_from_slice(values);
    let ys = &ys[..n];
    let mut q_max = [f64::NEG_INFINITY; BATCH];
    let mut shifts = [[0.0f64; BATCH]; 2];
    let e_ref = &shifts[block_leading(comps, ys, &mut q_max, &mut shifts)];
    let mut s0 = [0.0; BATCH];
    let mut s1 = [0.0; BATCH];
    let mut s2 = [0.0; BATCH];
    if let [p0, p1] = comps {
        // Two components: one exp per value. At each y one of t_i = q_i - q_max is
        // exactly 0 (the leading component's q is q_max itself) and e^0 = 1 exactly,
        // so only the other needs the exp; where both are 0 the exp is of 0, and
        // where neither is (no finite q: t_i NaN) it is of NaN, NaN either way.
        // The same weights as the general loop, summed in the same order.
        let mut x = [0.0; BATCH];
        for j in 0..n {
            let d0 = ys[j] - p0.center;
            let t0 = -0.5 * d0 * d0 * p0.inv_v2 - q_max[j];
            let d1 = ys[j] - p1.center;
            let t1 = -0.5 * d1 * d1 * p1.inv_v2 - q_max[j];
            x[j] = if t0 == 0.0 { t1 } else { t0 };
        }
        for v in x[..n].iter_mut() {
            *v = exp(*v);
        }
        for j in 0..n {
            let (y, qm, er) = (ys[j], q_max[j], e_ref[j]);
            let (d0, d1) = (y - p0.center, y - p1.center);
            let t0 = -0.5 * d0 * d0 * p0.inv_v2 - qm;
            let t1 = -0.5 * d1 * d1 * p1.inv_v2 - qm;
            let w0 = p0.coef * if t0 == 0.0 { 1.0 } else { x[j] };
            let w1 = p1.coef * if t1 == 0.0 { 1.0 } else { x[j] };
            let e0 = -d0 * p0.inv_v2 - er;
            let e1 = -d1 * p1.inv_v2 - er;
            let (mut a0, mut a1, mut a2) = (0.0, 0.0, 0.0);
            a0 += w0;
            a1 += w0 * e0;
            if VAR {
                a2 += w0 * (p0.c + e0 * e0);
            }
            a0 += w1;
            a1 += w1 * e1;
            if VAR {
                a2 += w1 * (p1.c + e1 * e1);
            }
            s0[j] = a0;
            s1[j] = a1;
            s2[j] = a2;
        }
    } else {
        mixture_sums::<VAR>(comps, ys, &q_max, e_ref, &mut s0, &mut s1, &mut s2);
    }
    for (j, v) in values.iter_mut().enumerate() {
        let m1 = s1[j] / s0[j];
        *v = if VAR {
            (s2[j] / s0[j] - m1 * m1).max(0.0)
        } else {
            e_ref[j] + m1
        };
    }
}

/// The weighted sums of [`mixture_block`], one component at a time.
#[inline(always)]
fn mixture_sums<const VAR: bool>(
    comps: &[Prep],
    ys: &[f64],
    q_max: &[f64; BATCH],
    e_ref: &[f64; BATCH],
    s0: &mut [f64; BATCH],
    s1: &mut [f64; BATCH],
    s2: &mut [f64; BATCH],
) {
    let n = ys.len();
    for p in comps {
        for j in 0..n {
            let d = ys[j] - p.center;
            let q = -0.5 * d * d * p.inv_v2;
            let w = p.coef * exp(q - q_max[j]);
            let e = -d * p.inv_v2 - e_ref[j];
            s0[j] += w;
            s1[j] += w * e;
            if VAR {
                s2[j] += w * (p.c + e * e);
            }
        }
    }
}

/// [`uniform_moments`] at every y of a block, replacing each y by L_r(y) (`VAR`) or by
/// the shift. Values whose interval lies in the central region run the
/// Gauss–Legendre rule of [`central_truncated`] vectorised across y (the same
/// operations per value, in the same order); the others go one at a time.
#[inline(always)]
fn uniform_block<const VAR: bool>(u: &UniformPrep, values: &mut [f64]) {
    let Some(rule) = &u.rule else {
        for v in values.iter_mut() {
            let m = uniform_moments(u, *v);
            *v = if VAR { m.var } else { m.shift };
        }
        return;
    };
    let n = values.len().min(BATCH);
    let values = &mut values[..n];
    let mut mid = [0.0; BATCH];
    let mut c = [0.0; BATCH];
    let mut central = [false; BATCH];
    for (j, &y) in values.iter().enumerate() {
        let (alpha, beta) = (u.lo - y, u.hi - y);
        let m = 0.5 * (alpha + beta);
        mid[j] = m;
        c[j] = m * rule.half;
        // The conditions of `truncated_normal_with`: not the narrow-interval series,
        // and inside [-CENTRAL, CENTRAL].
        let narrow = (beta - alpha) * m.abs().max(1.0) < 1e-4;
        central[j] = !narrow && alpha >= -CENTRAL && beta <= CENTRAL;
    }
    let (mut m0, mut m1, mut m2) = ([0.0; BATCH], [0.0; BATCH], [0.0; BATCH]);
    // Only the rule's pairs: the unused slots (g = 0) would add exact zeros.
    for k in 0..rule.pairs {
        let (xi, g) = (rule.xi[k], rule.g[k]);
        let s = rule.half * xi;
        for j in 0..n {
            let up = exp(c[j] * xi);
            let down = 1.0 / up;
            m0[j] += g * (down + up);
            m1[j] += g * s * (down - up);
            m2[j] += g * s * s * (down + up);
        }
    }
    for (j, v) in values.iter_mut().enumerate() {
        if central[j] {
            let es = m1[j] / m0[j];
            *v = if VAR {
                (m2[j] / m0[j] - es * es).max(0.0)
            } else {
                mid[j] + es
            };
        } else {
            let m = uniform_moments(u, *v);
            *v = if VAR { m.var } else { m.shift };
        }
    }
}

crate::simd::vectorised! {
    /// [`mixture_block`] at the widest vectors of this CPU (`crate::simd`).
    fn mixture_dispatch<const VAR: bool>(comps: &[Prep], block: &mut [f64]) = mixture_block;
}

crate::simd::vectorised! {
    /// [`uniform_block`] at the widest vectors of this CPU.
    fn uniform_dispatch<const VAR: bool>(u: &UniformPrep, block: &mut [f64]) = uniform_block;
}

/// The measure at a fixed r, prepared for many evaluations of the posterior of rX
/// given Y_r = y (L_r, the score and the density of Y_r).
#[derive(Clone, Debug)]
pub struct Localizer {
    r: f64,
    kind: Kind,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// Point masses and normals (and their mixtures) all go through the mixture kernel;
    /// a single component is common enough to avoid the Vec.
    Single(Prep),
    /// `windowed`: many components of equal weight and width (empirical measures),
    /// sorted by centre, so only those near y need visiting (see [`windowed_moments`]).
    Mixture { comps: Vec<Prep>, windowed: bool },
    /// lo = ra, hi = rb, with their prepared constants.
    Uniform(UniformPrep),
}

impl Localizer {
    /// Prepare `measure` at signal-to-noise ratio `r`.
    pub fn new(measure: &Measure, r: f64) -> Self {
        let kind = match measure {
            Measure::Point { at } => Kind::Single(Prep::new(r, 1.0, *at, 0.0)),
            Measure::Normal { mean, var } => Kind::Single(Prep::new(r, 1.0, *mean, *var)),
            Measure::Uniform { low, high } => {
                let (lo, hi) = if r >= 0.0 {
                    (r * low, r * high)
                } else {
                    (r * high, r * low)
                };
                Kind::Uniform(UniformPrep::new(lo, hi))
            }
            Measure::Mixture(cs) => mixture_kind(
                cs.iter()
                    .map(|c| Prep::new(r, c.weight, c.mean, c.var))
                    .collect(),
            ),
            Measure::Empirical { points, bandwidth } => {
                let w = 1.0 / points.len() as f64;
                let v = bandwidth * bandwidth;
                mixture_kind(points.iter().map(|&x| Prep::new(r, w, x, v)).collect())
            }
        };
        Localizer { r, kind }
    }

    /// The signal-to-noise ratio r this localizer was prepared at.
    pub fn r(&self) -> f64 {
        self.r
    }

    #[inline]
    pub(crate) fn moments(&self, y: f64) -> Moments {
        match &self.kind {
            Kind::Single(p) => mixture_moments(y, std::iter::once(*p)),
            Kind::Mixture {
                comps,
                windowed: false,
            } => mixture_moments(y, comps.iter().copied()),
            Kind::Mixture {
                comps,
                windowed: true,
            } => windowed_moments(y, comps),
            Kind::Uniform(u) => uniform_moments(u, y),
        }
    }

    pub(crate) fn kind(&self) -> &Kind {
        &self.kind
    }

    /// E[rX | Y_r = y] and L_r(y) = Var[rX | Y_r = y].
    #[inline]
    pub fn posterior(&self, y: f64) -> Posterior {
        let m = self.moments(y);
        Posterior {
            mean: y + m.shift,
            var: m.var,
        }
    }

    /// L_r(y) = Var[rX | Y_r = y].
    #[inline]
    pub fn localization(&self, y: f64) -> f64 {
        self.moments(y).var
    }

    /// dL_r/dy: the third central moment of rX given Y_r = y for mixtures (exact), a
    /// central difference for the uniform. Used to find where L_r turns.
    pub fn localization_slope(&self, y: f64) -> f64 {
        match &self.kind {
            Kind::Single(_) => 0.0,
            Kind::Mixture { comps, .. } => mixture_slope(y, comps.iter().copied()),
            Kind::Uniform(_) => {
                let h = 1e-5 * (1.0 + y.abs());
                (self.localization(y + h) - self.localization(y - h)) / (2.0 * h)
            }
        }
    }

    /// (log p_{Y_r})'(y) = E[rX | Y_r = y] - y (Tweedie).
    #[inline]
    pub fn score(&self, y: f64) -> f64 {
        self.moments(y).shift
    }

    /// ln p_{Y_r}(y).
    #[inline]
    pub fn log_density(&self, y: f64) -> f64 {
        self.moments(y).log_density()
    }

    /// p_{Y_r}(y).
    #[inline]
    pub fn density(&self, y: f64) -> f64 {
        self.log_density(y).exp()
    }

    /// An interval holding all of Y_r's mass but a negligible part: each component's
    /// centre ± [`Y_RANGE_SDS`] of its standard deviations (for the uniform, [ra, rb]
    /// ± that many noise deviations). Outside it P(Y_r ∉ [lo, hi]) < 10⁻¹⁶.
    pub fn y_range(&self) -> (f64, f64) {
        let k = Y_RANGE_SDS;
        let span = |p: &Prep| (p.center - k * p.sd(), p.center + k * p.sd());
        let (lo, hi) = match &self.kind {
            Kind::Single(p) => span(p),
            Kind::Mixture { comps, .. } => comps
                .iter()
                .map(span)
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (a, b)| {
                    (lo.min(a), hi.max(b))
                }),
            Kind::Uniform(u) => (u.lo - k, u.hi + k),
        };
        (lo, hi)
    }

    /// The narrowest feature L_r or the score can have, for [`Table::build`]. For the
    /// uniform the noise's unit width. For a mixture, 1 (no component of Y_r is
    /// narrower), or less where neighbouring centres are far apart for their widths:
    /// their weights trade places over about v²/|Δcentre| (the log-ratio of two
    /// weights has slope |Δcentre|/v² between equal-width components).
    fn feature_width(&self) -> f64 {
        match &self.kind {
            Kind::Single(_) | Kind::Uniform(_) => 1.0,
            Kind::Mixture { comps, .. } => {
                let mut by_centre: Vec<&Prep> = comps.iter().collect();
                by_centre.sort_by(|a, b| a.center.total_cmp(&b.center));
                by_centre.windows(2).fold(1.0f64, |w, pair| {
                    let gap = pair[1].center - pair[0].center;
                    let v2 = 1.0 / pair[0].inv_v2.max(pair[1].inv_v2);
                    if gap > 0.0 {
                        w.min(v2 / gap)
                    } else {
                        w
                    }
                })
            }
        }
    }

    /// L_r tabulated on [lo, hi] (see [`Table`]), to [`TABLE_TOL`] of max(1, sup L_r);
    /// `None` where the table would need more than [`TABLE_PIECES`] pieces (or the
    /// measure is an empirical one, whose many atoms the windowed kernel serves).
    pub fn localization_table(&self, lo: f64, hi: f64) -> Option<Table> {
        self.table::<true>(1.0, lo, hi)
    }

    /// x ↦ score(x/σ)/σ tabulated on [lo, hi] (σ > 0), the score being
    /// E[rX | Y_r = y] - y: the score of σ·Y_r, which is the score of the OU law μ_t at
    /// x when r = snr(t) and σ = σ_t (σ = 1: the score of Y_r itself). As
    /// [`Localizer::localization_table`], to [`TABLE_TOL`] of max(1, its largest |value|).
    pub fn scaled_score_table(&self, sigma: f64, lo: f64, hi: f64) -> Option<Table> {
        self.table::<false>(sigma, lo, hi)
    }

    /// x ↦ f(x/σ)/σ on [lo, hi] for f = L_r (VAR, called with σ = 1) or the score;
    /// dividing by σ = 1 is exact, so σ = 1 tabulates f itself.
    fn table<const VAR: bool>(&self, sigma: f64, lo: f64, hi: f64) -> Option<Table> {
        if sigma.is_nan()
            || sigma <= 0.0
            || matches!(self.kind, Kind::Mixture { windowed: true, .. })
        {
            return None;
        }
        Table::build(
            lo,
            hi,
            self.feature_width() * sigma,
            TABLE_TOL,
            TABLE_PIECES,
            |v: &mut [f64]| {
                // Dividing a finite value by 1 leaves it as it is: L_r's tables skip it.
                if sigma != 1.0 {
                    v.iter_mut().for_each(|x| *x /= sigma);
                }
                self.batch::<VAR>(v);
                if sigma != 1.0 {
                    v.iter_mut().for_each(|f| *f /= sigma);
                }
            },
        )
    }

    /// L_r(y) when it does not depend on y (a point mass or a normal, alone or as a
    /// one-component mixture): the value the kernel returns at every finite y, bit for
    /// bit (there the leading weight is e^0 = 1 and the centred mean is exactly 0).
    pub fn constant_localization(&self) -> Option<f64> {
        let p = match &self.kind {
            Kind::Single(p) => p,
            Kind::Mixture { comps, .. } if comps.len() == 1 => &comps[0],
            _ => return None,
        };
        let (s0, s2) = (p.coef, p.coef * (p.c + 0.0));
        Some((s2 / s0 - 0.0).max(0.0))
    }

    /// Replace every y in `values` by L_r(y): bit-identical to [`Localizer::localization`]
    /// one value at a time, faster for mixtures and uniforms (see the module header).
    pub fn localization_batch(&self, values: &mut [f64]) {
        self.batch::<true>(values);
    }

    /// Replace every y in `values` by the score E[rX | Y_r = y] - y, bit-identical to
    /// [`Localizer::score`].
    pub fn score_batch(&self, values: &mut [f64]) {
        self.batch::<false>(values);
    }

    fn batch<const VAR: bool>(&self, values: &mut [f64]) {
        match &self.kind {
            Kind::Single(p) => self.blocks(values, |b| {
                mixture_dispatch::<VAR>(std::slice::from_ref(p), b)
            }),
            Kind::Mixture {
                comps,
                windowed: false,
            } => self.blocks(values, |b| mixture_dispatch::<VAR>(comps, b)),
            Kind::Uniform(u) => self.blocks(values, |b| uniform_dispatch::<VAR>(u, b)),
            Kind::Mixture { windowed: true, .. } => {
                for v in values.iter_mut() {
                    let m = self.moments(*v);
                    *v = if VAR { m.var } else { m.shift };
                }
            }
        }
    }

    #[inline(always)]
    fn blocks(&self, values: &mut [f64], mut f: impl FnMut(&mut [f64])) {
        for block in values.chunks_mut(BATCH) {
            f(block);
        }
    }

    /// (L_r(y), ln p_{Y_r}(y)) from one evaluation of the kernel.
    #[inline]
    pub fn localization_and_log_density(&self, y: f64) -> (f64, f64) {
        let m = self.moments(y);
        (m.var, m.log_density())
    }
}

/// L_r(y) and p_{Y_r}(y) at every y of a block (≤ [`BATCH`] values) of a Gaussian
/// mixture, for the quadrature of the exact code: the sums of [`weighted_sums`] with
/// the component loop outside, so the per-value arithmetic vectorises. L_r is computed
/// by the operations of [`mixture_moments`] (bit-identical); the density as
/// Σw · e^{q_max} / √(2π), one exp instead of [`Moments::log_density`]'s log and the
/// caller's exp (equal to rounding; below e^{-745} it underflows to 0).
#[inline(always)]
fn mixture_density_block(comps: &[Prep], ys: &[f64], l: &mut [f64], p: &mut [f64]) {
    let n = ys.len().min(BATCH);
    let (ys, l, p) = (&ys[..n], &mut l[..n], &mut p[..n]);
    let mut q_max = [f64::NEG_INFINITY; BATCH];
    let mut shifts = [[0.0f64; BATCH]; 2];
    let e_ref = &shifts[block_leading(comps, ys, &mut q_max, &mut shifts)];
    let (mut s0, mut s1, mut s2) = ([0.0; BATCH], [0.0; BATCH], [0.0; BATCH]);
    mixture_sums::<true>(comps, ys, &q_max, e_ref, &mut s0, &mut s1, &mut s2);
    for j in 0..n {
        let m1 = s1[j] / s0[j];
        l[j] = (s2[j] / s0[j] - m1 * m1).max(0.0);
        p[j] = s0[j] * exp(q_max[j] - LN_SQRT_2PI);
    }
}

crate::simd::vectorised! {
    /// [`mixture_density_block`] at the widest vectors of this CPU.
    fn mixture_density_wide(comps: &[Prep], ys: &[f64], l: &mut [f64], p: &mut [f64]) = mixture_density_block;
}

/// dL_r/dy at every y of a block (≤ [`BATCH`] values) of a Gaussian mixture, replacing
/// each y: [`mixture_slope`] with the component loop outside (the same operations per
/// value, so bit-identical to it).
#[inline(always)]
fn mixture_slope_block(comps: &[Prep], values: &mut [f64]) {
    let n = values.len().min(BATCH);
    let values = &mut values[..n];
    let mut q_max = [f64::NEG_INFINITY; BATCH];
    let mut shifts = [[0.0f64; BATCH]; 2];
    let e_ref = &shifts[block_leading(comps, values, &mut q_max, &mut shifts)];
    let mut s = [[0.0; BATCH]; 4];
    for c in comps {
        for (j, &y) in values.iter().enumerate() {
            let d = y - c.center;
            let q = -0.5 * d * d * c.inv_v2;
            let w = c.coef * exp(q - q_max[j]);
            let e = -d * c.inv_v2 - e_ref[j];
            s[0][j] += w;
            s[1][j] += w * e;
            s[2][j] += w * (c.c + e * e);
            s[3][j] += w * e * (e * e + 3.0 * c.c);
        }
    }
    for (j, v) in values.iter_mut().enumerate() {
        let (m1, m2, m3) = (s[1][j] / s[0][j], s[2][j] / s[0][j], s[3][j] / s[0][j]);
        *v = m3 - 3.0 * m1 * m2 + 2.0 * m1 * m1 * m1;
    }
}

crate::simd::vectorised! {
    /// [`mixture_slope_block`] at the widest vectors of this CPU.
    fn mixture_slope_wide(comps: &[Prep], values: &mut [f64]) = mixture_slope_block;
}

impl Localizer {
    /// L_r(y) and p_{Y_r}(y) at every y of `ys` into `l` and `p` (all of one length):
    /// for mixtures of a few components the vectorised [`mixture_density_block`],
    /// otherwise one value at a time. L_r is bit-identical to
    /// [`Localizer::localization`]; p equals [`Localizer::density`] to rounding.
    pub fn localization_and_density_batch(&self, ys: &[f64], l: &mut [f64], p: &mut [f64]) {
        assert!(ys.len() == l.len() && ys.len() == p.len());
        let comps = match &self.kind {
            Kind::Single(c) => std::slice::from_ref(c),
            Kind::Mixture {
                comps,
                windowed: false,
            } => comps.as_slice(),
            _ => {
                for ((&y, l), p) in ys.iter().zip(l.iter_mut()).zip(p.iter_mut()) {
                    let m = self.moments(y);
                    *l = m.var;
                    *p = m.sum * exp(m.ln_scale - LN_SQRT_2PI);
                }
                return;
            }
        };
        for ((ys, l), p) in ys
            .chunks(BATCH)
            .zip(l.chunks_mut(BATCH))
            .zip(p.chunks_mut(BATCH))
        {
            mixture_density_wide(comps, ys, l, p);
        }
    }

    /// Replace every y in `values` by dL_r/dy, bit-identical to
    /// [`Localizer::localization_slope`] (vectorised for mixtures that are not windowed).
    pub fn localization_slope_batch(&self, values: &mut [f64]) {
        let comps = match &self.kind {
            Kind::Mixture {
                comps,
                windowed: false,
            } => comps.as_slice(),
            _ => {
                for v in values.iter_mut() {
                    *v = self.localization_slope(*v);
                }
                return;
            }
        };
        for block in values.chunks_mut(BATCH) {
            mixture_slope_wide(comps, block);
        }
    }

    /// L_r(y) - u with the accuracy of [`mixture_excess`] (its sign is right even where
    /// L_r is within rounding of u). None for the uniform and for windowed mixtures.
    pub fn localization_excess(&self, y: f64, u: f64) -> Option<f64> {
        match &self.kind {
            Kind::Single(c) => Some(mixture_excess(y, u, std::iter::once(*c))),
            Kind::Mixture {
                comps,
                windowed: false,
            } => Some(mixture_excess(y, u, comps.iter().copied())),
            _ => None,
        }
    }

    /// (L_r(y), dL_r/dy) from one pass of the mixture kernel (the sums of
    /// [`mixture_slope`]; L_r bit-identical to [`Localizer::localization`]), for Newton
    /// steps on the level sets of L_r. None for the uniform and for windowed mixtures,
    /// whose L_r the full sums would not reproduce bit for bit.
    pub fn localization_and_slope(&self, y: f64) -> Option<(f64, f64)> {
        let (_, _, [s0, s1, s2, s3]) = match &self.kind {
            Kind::Single(c) => weighted_sums::<_, true>(y, std::iter::once(*c), 0.0),
            Kind::Mixture {
                comps,
                windowed: false,
            } => weighted_sums::<_, true>(y, comps.iter().copied(), 0.0),
            _ => return None,
        };
        let (m1, m2, m3) = (s1 / s0, s2 / s0, s3 / s0);
        let var = (m2 - m1 * m1).max(0.0);
        Some((var, m3 - 3.0 * m1 * m2 + 2.0 * m1 * m1 * m1))
    }
}
