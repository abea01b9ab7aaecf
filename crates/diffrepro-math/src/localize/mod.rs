//! Localization and multi-scale complexity of a measure: the paper's Defs. 4–6 and
//! Prop. 5, exact and by Monte Carlo.
//!
//! Takes a [`Measure`] and an SNR r (or an OU time t, with r = r(t)) and returns
//! numbers: ess sup L_r, the survival function s_r(u) = P(L_r(Y_r) > u), the integrated
//! tail h(δ, r) = E[(L_r - (1 - δ))₊], the complexity m*(r) = min_δ h(δ, r)/δ with its
//! largest minimiser δ*(r), the effective curvature
//! ζ*_M(t) = sup_δ (δ - M h(δ, r(t)))/(1 - e^{-2t}), and r* = max{r : s_r(1) = 0}.
//! The experiment runners turn these into tables and figures.
//!
//! - `exact`: quadrature against p_{Y_r} split at the structure of L_r (accuracy ~1e-9);
//!   [`ExactLocalization`] reuses one (μ, r) set-up across many u or δ.
//! - `monte_carlo`: what the paper did — sample L_r(Y_r), then estimate s_r, h, m*, δ*,
//!   ζ*_M on grids, with standard errors; reproducible across thread counts.
//! - [`closed_form`]: the formulas of DIGEST §3 (point mass, normal, two point masses,
//!   the intro example), used as test oracles and for figure overlays.
//! - `quadrature`: adaptive Gauss–Kronrod, shared by the above.
//! - `envelope`: the upper envelope of a mixture's posterior log-weights, which picks
//!   the pairs of components whose transitions `exact` resolves beyond 64 components.
//! - [`levels`]: m*, δ* and ζ*_M from level sets, shared with the plane (`crate::plane`).
//! - [`printed`]: the paper's eq. (5.3) exactly as printed (not the localization of
//!   any measure), for testing whether its figures were computed with it.
//! - [`kernel`]: every requested value at one r, for the `complexity` command and
//!   experiment alike.

pub mod closed_form;
mod envelope;
mod exact;
pub mod kernel;
pub mod levels;
mod monte_carlo;
pub mod printed;
pub mod quadrature;

pub use exact::{ExactLocalization, LevelSet, LOG_CONCAVE_SLACK};
pub use monte_carlo::{
    batch_means_se, complexity_from_tail, complexity_mc, dkw_half_width, sample_localization,
    sample_printed_formula, survival_mc, survival_mc_sampled, tail_mc, tail_mc_sampled,
    upper_bound_95, zeta_star_from_tail, zeta_star_mc, Estimate, MC_CHUNK,
};

use crate::measure::Measure;

/// The SNR schedule r(t) = e^{-t}/σ_t = 1/√(e^{2t} - 1) (eq. 4.2, β = 1).
pub fn snr(t: f64) -> f64 {
    1.0 / (2.0 * t).exp_m1().sqrt()
}

/// The inverse schedule t(r) = ½ ln(1 + 1/r²).
pub fn time_of_snr(r: f64) -> f64 {
    0.5 * (1.0 / (r * r)).ln_1p()
}

/// σ_t² = 1 - e^{-2t}, the OU noise variance at time t.
pub fn ou_noise_var(t: f64) -> f64 {
    -(-2.0 * t).exp_m1()
}

/// The complexity of μ at one SNR (Def. 5): `m_star` = m*(r) = min_{δ∈(0,1]} h(δ, r)/δ,
/// `delta_star` = δ*(r), the largest minimiser.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Complexity {
    pub m_star: f64,
    pub delta_star: f64,
}

/// ess sup_y L_r(y), exact.
pub fn sup_localization(m: &Measure, r: f64) -> f64 {
    ExactLocalization::new(m, r).sup_localization()
}

/// s_r(u) = P(L_r(Y_r) > u), exact (quadrature, ~1e-9).
pub fn survival(m: &Measure, r: f64, u: f64) -> f64 {
    ExactLocalization::new(m, r).survival(u)
}

/// h(δ, r) = ∫_{1-δ}^∞ s_r(u) du = E[(L_r - (1 - δ))₊], exact (quadrature, ~1e-9).
pub fn integrated_tail(m: &Measure, r: f64, delta: f64) -> f64 {
    ExactLocalization::new(m, r).integrated_tail(delta)
}

/// m*(r) and δ*(r) (Def. 5, Prop. 5), exact. If s_r(1) = 0 then m* = 0 and
/// δ* = 1 - ess sup L_r.
pub fn complexity(m: &Measure, r: f64) -> Complexity {
    ExactLocalization::new(m, r).complexity()
}

/// ζ*_M(t) = sup_{δ∈[0,1]} (δ - M h(δ, r(t)))/(1 - e^{-2t}) (Thm. 4), exact, for t > 0.
/// `big_m` may be `f64::INFINITY`: then only δ with h(δ) = 0 count, and the result is
/// -∞ when h(0) > 0. Returns NaN for t ≤ 0 or M < 0.
pub fn zeta_star(m: &Measure, t: f64, big_m: f64) -> f64 {
    if t.is_nan() || t <= 0.0 {
        return f64::NAN;
    }
    let (_, gap) = ExactLocalization::new(m, snr(t)).best_gap(big_m);
    gap / ou_noise_var(t)
}

/// Bracket searched by [`r_star`]: r ∈ [R_STAR_MIN, R_STAR_MAX].
pub const R_STAR_MIN: f64 = 1e-3;
/// See [`R_STAR_MIN`].
pub const R_STAR_MAX: f64 = 1e3;

/// r* = max{r : s_r(1) = 0}, the root of ess sup L_r = 1. The bracket
/// [`R_STAR_MIN`, `R_STAR_MAX`] is scanned on a log grid (20 points per decade); r* is
/// the upper end of the last run of r with sup L_r ≤ 1 that is followed by sup L_r > 1,
/// refined by bisection to relative 1e-12. None when sup L_r ≤ 1 over the whole bracket
/// (log-concave μ) or > 1 over all of it.
pub fn r_star(m: &Measure) -> Option<f64> {
    let below = |r: f64| sup_localization(m, r) <= 1.0 + LOG_CONCAVE_SLACK;
    let steps = 120;
    let grid: Vec<f64> = (0..=steps)
        .map(|k| R_STAR_MIN * (R_STAR_MAX / R_STAR_MIN).powf(k as f64 / steps as f64))
        .collect();
    let flags: Vec<bool> = grid.iter().map(|&r| below(r)).collect();
    if flags[steps] {
        // sup L_r ≤ 1 at the top of the bracket: the maximum lies beyond it.
        return None;
    }
    let k = (0..steps).rev().find(|&k| flags[k] && !flags[k + 1])?;
    let (mut lo, mut hi) = (grid[k], grid[k + 1]);
    while hi - lo > 1e-12 * hi {
        let mid = 0.5 * (lo + hi);
        if below(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(lo)
}

/// Golden-section search for a minimum of `f` on [a, b]: at most `iters` steps, until
/// the bracket is narrower than `rel_tol`·(1 + |a|). The two inner points of the last
/// bracket, with the values of `f` there.
pub(crate) fn golden_section<F: Fn(f64) -> f64>(
    f: F,
    mut a: f64,
    mut b: f64,
    iters: usize,
    rel_tol: f64,
) -> [(f64, f64); 2] {
    const INV_PHI: f64 = 0.618_033_988_749_894_9;
    let mut x1 = b - INV_PHI * (b - a);
    let mut x2 = a + INV_PHI * (b - a);
    let mut f1 = f(x1);
    let mut f2 = f(x2);
    for _ in 0..iters {
        if f1 <= f2 {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - INV_PHI * (b - a);
            f1 = f(x1);
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + INV_PHI * (b - a);
            f2 = f(x2);
        }
        if b - a <= rel_tol * (1.0 + a.abs()) {
            break;
        }
    }
    [(x1, f1), (x2, f2)]
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_many;
