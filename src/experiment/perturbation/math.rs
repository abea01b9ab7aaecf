//! The mathematics of the `perturbation` experiment: the squared-W expansion rate of
//! one backward step b(x) = x + η(x + s_t(x)) over a perturbation ν = (id + ξ)#μ_t of
//! the OU law μ_t (1-D, β = 1), the class constant M(ξ) of Def. 6, and the worst case
//! of Thm. 4 in closed form through the CVaR of L_r.
//!
//! Everything is an integral against μ_t, the law of σ_t Y_r (r = r(t)): ∫ g dμ_t =
//! ∫ g(σ_t y) p_{Y_r}(y) dy, computed by [`ExactLocalization::expectation`] (adaptive
//! Gauss–Kronrod over the structure nodes of L_r). The score of μ_t is
//! s_t(x) = score_Y(x/σ_t)/σ_t and its slope s_t'(x) = (L_r(x/σ_t) - 1)/σ_t² (Prop. 3).
//!
//! With x ↦ x + ξ(x) non-decreasing, the monotone coupling is optimal in 1-D, so
//! W²(μ_t, ν) = ∫ ξ² dμ_t and, b being increasing for small η,
//! W²(b#μ_t, b#ν) = ∫ (b(x + ξ(x)) - b(x))² dμ_t(x). Expanding in η,
//!   rate = lim_{η→0} (W²(b#μ,b#ν)/W²(μ,ν) - 1)/η = 2 + 2 ∫ ξ (s_t(x+ξ) - s_t(x)) dμ_t / ∫ ξ² dμ_t,
//! and as ξ → 0 with ξ²/∫ξ² fixed, rate → 2 - 2 ∫ ξ²(1 - L_r)/σ_t² dμ_t / ∫ ξ² dμ_t.
//!
//! Worst case (Rockafellar–Uryasev): over weights 0 ≤ w ≤ M with E w = 1,
//! sup E_w[L] = CVaR_{1/M}(L) = ∫_0^∞ min(M s_r(u), 1) du, and
//! sup_{δ∈[0,1]} (δ - M h(δ)) = 1 - min_{c∈[0,1]} (c + M E(L - c)₊) equals 1 - CVaR_{1/M}
//! exactly when the (1 - 1/M)-quantile of L_r lies in [0, 1].

use crate::localize::quadrature::integrate;
use crate::localize::{ou_noise_var, snr, ExactLocalization};
use crate::measure::Measure;

/// Points of the grid on which sup |φ| and sup |φ'| are taken.
const GRID: usize = 20_001;
/// Uniform quadrature nodes over the bulk for [`OuMarginal::expect_with`].
const NODES: usize = 400;

/// The y range (y = x/σ_t) outside which p_{Y_r} is below e^{-50} of its bulk.
fn y_extent(m: &Measure, r: f64) -> (f64, f64) {
    const K: f64 = 10.0;
    let comps: Vec<(f64, f64)> = match m {
        Measure::Point { at } => vec![(*at, 0.0)],
        Measure::Normal { mean, var } => vec![(*mean, *var)],
        Measure::Uniform { low, high } => return (r * low - K, r * high + K),
        Measure::Mixture(cs) => cs.iter().map(|c| (c.mean, c.var)).collect(),
        Measure::Empirical { points, bandwidth } => {
            points.iter().map(|&p| (p, bandwidth * bandwidth)).collect()
        }
    };
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (mean, var) in comps {
        let sd = (r * r * var + 1.0).sqrt();
        lo = lo.min(r * mean - K * sd);
        hi = hi.max(r * mean + K * sd);
    }
    (lo, hi)
}

/// The OU marginal μ_t of a measure, prepared for integrals, its score and L_r.
pub struct OuMarginal {
    pub measure: Measure,
    pub t: f64,
    pub r: f64,
    pub sigma: f64,
    pub sigma2: f64,
    pub exact: ExactLocalization,
    /// Mean and standard deviation of μ_t (exact).
    pub mean: f64,
    pub sd: f64,
    /// A y grid holding essentially all the mass of Y_r.
    pub grid_y: Vec<f64>,
}

impl OuMarginal {
    pub fn new(m: &Measure, t: f64) -> Self {
        let r = snr(t);
        let sigma2 = ou_noise_var(t);
        let (m0, v0) = m.mean_and_variance();
        let decay = (-t).exp();
        let (lo, hi) = y_extent(m, r);
        let grid_y = crate::spec::linspace(lo, hi, GRID, false);
        OuMarginal {
            measure: m.clone(),
            t,
            r,
            sigma: sigma2.sqrt(),
            sigma2,
            exact: ExactLocalization::new(m, r),
            mean: decay * m0,
            sd: (decay * decay * v0 + sigma2).sqrt(),
            grid_y,
        }
    }

    /// s_t(x) = ∇ log p_{μ_t}(x).
    #[inline]
    pub fn score(&self, x: f64) -> f64 {
        self.exact.localizer().score(x / self.sigma) / self.sigma
    }

    /// L_r at x/σ_t.
    #[inline]
    pub fn localization(&self, x: f64) -> f64 {
        self.exact.localizer().localization(x / self.sigma)
    }

    /// s_t'(x) = (L_r(x/σ_t) - 1)/σ_t².
    #[inline]
    pub fn score_slope(&self, x: f64) -> f64 {
        (self.localization(x) - 1.0) / self.sigma2
    }

    /// ∫ f dμ_t, componentwise.
    pub fn expect<const N: usize, F: FnMut(f64) -> [f64; N]>(&self, mut f: F) -> [f64; N] {
        let s = self.sigma;
        self.exact.expectation(|y| f(s * y))
    }

    /// ∫ f dμ_t with extra breakpoints (in y = x/σ_t) on top of a uniform grid of
    /// [`NODES`] nodes over the bulk: for integrands with features of their own
    /// (the edges of a level-set profile, the centre of a narrow bump) that the
    /// structure nodes of L_r know nothing about.
    pub fn expect_with<const N: usize, F: FnMut(f64) -> [f64; N]>(
        &self,
        extra: &[f64],
        tol: f64,
        mut f: F,
    ) -> [f64; N] {
        let step = (self.grid_y.len() - 1) / NODES;
        let mut nodes: Vec<f64> = self.grid_y.iter().step_by(step.max(1)).copied().collect();
        nodes.push(self.grid_y[self.grid_y.len() - 1]);
        let (lo, hi) = (nodes[0], nodes[nodes.len() - 1]);
        nodes.extend(extra.iter().copied().filter(|y| *y > lo && *y < hi));
        nodes.sort_by(f64::total_cmp);
        nodes.dedup();
        let loc = self.exact.localizer();
        let s = self.sigma;
        integrate(
            |y| {
                let p = loc.density(y);
                let mut v = f(s * y);
                for x in v.iter_mut() {
                    *x *= p;
                }
                v
            },
            &nodes,
            tol,
            100_000,
        )
        .value
    }

    /// The backward map b(x) = x + η(x + s_t(x)).
    #[inline]
    pub fn backward(&self, eta: f64, x: f64) -> f64 {
        x + eta * (x + self.score(x))
    }

    /// ζ*_M(t) from the exact complexity kernel.
    pub fn zeta_star(&self, big_m: f64) -> f64 {
        self.exact.best_gap(big_m).1 / self.sigma2
    }

    /// The curvature bound of Thm. 2: ∇² log p_{μ_t} ⪯ -ζ with ζ = (1 - sup L_r)/σ_t².
    pub fn zeta_curvature(&self) -> f64 {
        (1.0 - self.exact.sup_localization()) / self.sigma2
    }

    /// Fisher information ∫ s_t² dμ_t, by quadrature of the score.
    pub fn fisher(&self) -> f64 {
        self.expect(|x| {
            let s = self.score(x);
            [s * s]
        })[0]
    }

    /// The (1 - 1/M)-quantile of L_r: inf{u ≥ 0 : s_r(u) ≤ 1/M}, by bisection on the
    /// exact survival function (M ≥ 1).
    pub fn quantile(&self, big_m: f64) -> f64 {
        if let Some(c) = self.exact.localizer().constant_localization() {
            return c;
        }
        let level = 1.0 / big_m;
        let (mut lo, mut hi) = (0.0, self.exact.sup_localization());
        if self.exact.survival(lo) <= level {
            return 0.0;
        }
        while hi - lo > 1e-13 * (1.0 + hi) {
            let mid = 0.5 * (lo + hi);
            if self.exact.survival(mid) <= level {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }

    /// CVaR_{1/M}(L_r) = sup{E_w L : 0 ≤ w ≤ M, E w = 1} = ∫_0^{sup L} min(M s_r(u), 1) du,
    /// integrated over u (breakpoint at the quantile q), independently of the δ search
    /// of the complexity kernel.
    pub fn cvar(&self, big_m: f64, q: f64) -> f64 {
        if let Some(c) = self.exact.localizer().constant_localization() {
            return c;
        }
        let sup = self.exact.sup_localization();
        // s_r has a square-root corner at every critical value of L_r (a level set
        // gains or loses a piece there): those values, found on the grid, and q are
        // the breakpoints.
        let loc = self.exact.localizer();
        let l: Vec<f64> = self.grid_y.iter().map(|&y| loc.localization(y)).collect();
        let mut pts = vec![0.0, sup];
        for k in 1..l.len() - 1 {
            let extreme = (l[k] - l[k - 1]) * (l[k + 1] - l[k]) <= 0.0;
            if extreme && l[k] > 0.0 && l[k] < sup {
                pts.push(l[k]);
            }
        }
        if q > 0.0 && q < sup {
            pts.push(q);
        }
        pts.sort_by(f64::total_cmp);
        pts.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
        integrate(
            |u| [(big_m * self.exact.survival(u)).min(1.0)],
            &pts,
            1e-11,
            20_000,
        )
        .value[0]
    }

    /// CVaR through the quantile: q + M E(L - q)₊ (Rockafellar–Uryasev at c = q).
    pub fn cvar_from_quantile(&self, big_m: f64, q: f64) -> f64 {
        if let Some(c) = self.exact.localizer().constant_localization() {
            return c;
        }
        q + big_m * self.exact.level_set(q).tail
    }
}

/// The shape of a displacement, before normalisation.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum Shape {
    /// ξ constant (M = 1).
    Shift,
    /// offset + Σ w_k exp(-(x - c_k)²/(2 s_k²)), entries (c_k, s_k, w_k) in x units.
    Bumps {
        bumps: Vec<(f64, f64, f64)>,
        offset: f64,
    },
    /// A smoothed indicator of {L_r > q}: S((L_r(x/σ_t) - q)/τ), S the cubic smoothstep
    /// from 0 at -½ to 1 at +½.
    Level { q: f64, tau: f64 },
}

fn smoothstep(z: f64) -> f64 {
    let u = (z + 0.5).clamp(0.0, 1.0);
    u * u * (3.0 - 2.0 * u)
}

/// A normalised displacement profile φ (sup |φ| = 1 on the grid) with the largest
/// slope seen on the grid.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Profile {
    pub shape: Shape,
    scale: f64,
    /// sup |φ'| over the grid (finite differences), in 1/x units.
    pub slope_max: f64,
}

impl Profile {
    fn raw(&self, law: &OuMarginal, x: f64) -> f64 {
        match &self.shape {
            Shape::Shift => 1.0,
            Shape::Bumps { bumps, offset } => {
                offset
                    + bumps
                        .iter()
                        .map(|&(c, s, w)| w * (-0.5 * ((x - c) / s).powi(2)).exp())
                        .sum::<f64>()
            }
            Shape::Level { q, tau } => smoothstep((law.localization(x) - q) / tau),
        }
    }

    /// Normalise `shape` on the law's grid.
    pub fn new(law: &OuMarginal, shape: Shape) -> Self {
        let mut p = Profile {
            shape,
            scale: 1.0,
            slope_max: 0.0,
        };
        let xs: Vec<f64> = law.grid_y.iter().map(|&y| law.sigma * y).collect();
        let vals: Vec<f64> = xs.iter().map(|&x| p.raw(law, x)).collect();
        let sup = vals.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        p.scale = if sup > 0.0 { 1.0 / sup } else { 1.0 };
        let mut slope: f64 = 0.0;
        for k in 1..xs.len() {
            slope = slope.max((vals[k] - vals[k - 1]).abs() / (xs[k] - xs[k - 1]));
        }
        p.slope_max = slope * p.scale;
        p
    }

    /// Where the profile has features of its own, in y = x/σ_t: the edges and middle
    /// of a level-set profile, the centre and a few widths around each bump.
    pub fn breakpoints(&self, law: &OuMarginal) -> Vec<f64> {
        match &self.shape {
            Shape::Shift => Vec::new(),
            Shape::Bumps { bumps, .. } => bumps
                .iter()
                .flat_map(|&(c, w, _)| {
                    [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0]
                        .into_iter()
                        .flat_map(move |k| [(c - k * w) / law.sigma, (c + k * w) / law.sigma])
                })
                .collect(),
            Shape::Level { q, tau } => [q - 0.5 * tau, *q, q + 0.5 * tau]
                .into_iter()
                .flat_map(|u| law.exact.crossings(u))
                .collect(),
        }
    }

    #[inline]
    pub fn value(&self, law: &OuMarginal, x: f64) -> f64 {
        self.scale * self.raw(law, x)
    }

    /// The largest admissible displacement: x + εφ stays increasing for ε below it;
    /// capped at two standard deviations of μ_t.
    pub fn max_amplitude(&self, law: &OuMarginal) -> f64 {
        let cap = 2.0 * law.sd;
        if self.slope_max > 0.0 {
            cap.min(1.0 / self.slope_max)
        } else {
            cap
        }
    }
}

/// The W ratio of Thm. 2 is evaluated at this fraction of the step η used for the
/// Richardson rate, so that its o(η) term is negligible.
pub const RATIO_STEP: f64 = 1e-2;

/// What one perturbation ξ = εφ does under one backward step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    /// M(ξ) = sup ξ² / ∫ ξ² dμ_t = 1/∫ φ² dμ_t.
    pub m: f64,
    /// The exact η → 0 rate at amplitude ε.
    pub rate: f64,
    /// The ε → 0 rate for the same profile.
    pub rate_limit: f64,
    /// (W²(b#μ,b#ν)/W²(μ,ν) - 1)/η from the W² of the images at η and 2η,
    /// extrapolated to η → 0 (Richardson).
    pub rate_eta: f64,
    /// W(b#μ, b#ν)/W(μ, ν) at step [`RATIO_STEP`]·η.
    pub ratio: f64,
}

pub fn rates(law: &OuMarginal, phi: &Profile, eps: f64, eta: f64) -> Rates {
    let breaks = phi.breakpoints(law);
    // The ε → 0 integrals are smooth: a tight tolerance.
    let v = law.expect_with(&breaks, 1e-12, |x| {
        let p = phi.value(law, x);
        [p * p, p * p * law.score_slope(x)]
    });
    // The finite-ε integrands carry the rounding of (s(x + εφ) - s(x))/ε, about
    // 1e-16 |s|/ε: a tolerance below that noise would refine forever.
    let w = law.expect_with(&breaks, FINITE_TOL, |x| {
        let p = phi.value(law, x);
        let ds = (law.score(x + eps * p) - law.score(x)) / eps;
        // b(x + ξ) - b(x) = ξ + η(ξ + s(x + ξ) - s(x)), divided by ε (the two map
        // values differ by O(ε), so they are not subtracted directly).
        let image = |h: f64| p * (1.0 + h) + h * ds;
        let (d1, d2, d3) = (image(eta), image(2.0 * eta), image(RATIO_STEP * eta));
        [p * ds, d1 * d1, d2 * d2, d3 * d3]
    });
    let i2 = v[0];
    let q1 = (w[1] / i2 - 1.0) / eta;
    let q2 = (w[2] / i2 - 1.0) / (2.0 * eta);
    Rates {
        m: 1.0 / i2,
        rate: 2.0 + 2.0 * w[0] / i2,
        rate_limit: 2.0 + 2.0 * v[1] / i2,
        rate_eta: 2.0 * q1 - q2,
        ratio: (w[3] / i2).sqrt(),
    }
}

/// Absolute tolerance of the finite-amplitude integrals in [`rates`].
const FINITE_TOL: f64 = 1e-10;

/// Monte Carlo of the same rate: X ~ μ_t sampled as e^{-t}X_0 + σ_t Z; returns
/// (rate, standard error) by the ratio estimator and the delta method.
pub fn rate_monte_carlo<R: rand::Rng + ?Sized>(
    law: &OuMarginal,
    phi: &Profile,
    eps: f64,
    n: usize,
    rng: &mut R,
) -> (f64, f64) {
    use crate::measure::sample::standard_normal;
    let decay = (-law.t).exp();
    let mut a = Vec::with_capacity(n);
    let mut b = Vec::with_capacity(n);
    for _ in 0..n {
        let x = decay * law.measure.sample_x(rng) + law.sigma * standard_normal(rng);
        let p = phi.value(law, x);
        a.push(p * (law.score(x + eps * p) - law.score(x)) / eps);
        b.push(p * p);
    }
    let nf = n as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / nf, b.iter().sum::<f64>() / nf);
    let ratio = ma / mb;
    let var = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - ratio * y).powi(2))
        .sum::<f64>()
        / (nf - 1.0);
    (2.0 + 2.0 * ratio, 2.0 * var.sqrt() / (mb * nf.sqrt()))
}

/// Local maxima of L_r on the law's grid, largest first, as x positions, among the
/// points where p_{Y_r} is at least 10⁻⁴ of its largest value (a maximum of L_r far in
/// a tail, where μ_t has no mass, is useless as a perturbation site). When L_r has no
/// interior maximum there (it rises towards a tail), the point of that region where
/// L_r is largest stands in.
pub fn localization_peaks(law: &OuMarginal, how_many: usize) -> Vec<f64> {
    let loc = law.exact.localizer();
    let pts: Vec<(f64, f64, f64)> = law
        .grid_y
        .iter()
        .map(|&y| {
            let (l, lp) = loc.localization_and_log_density(y);
            (y, l, lp)
        })
        .collect();
    let lp_max = pts.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max);
    let inside: Vec<&(f64, f64, f64)> = pts
        .iter()
        .filter(|p| p.2 >= lp_max - 4.0 * std::f64::consts::LN_10)
        .collect();
    let n = inside.len();
    let mut peaks: Vec<usize> = (1..n.saturating_sub(1))
        .filter(|&k| {
            inside[k].1 > inside[k - 1].1 + 1e-12 && inside[k].1 >= inside[k + 1].1 + 1e-12
        })
        .collect();
    if peaks.is_empty() && n > 0 {
        peaks.push(
            (0..n)
                .max_by(|&a, &b| inside[a].1.total_cmp(&inside[b].1))
                .unwrap_or(0),
        );
    }
    peaks.sort_by(|&a, &b| inside[b].1.total_cmp(&inside[a].1));
    peaks
        .into_iter()
        .take(how_many)
        .map(|k| law.sigma * inside[k].0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Measure;

    fn ex(n: u32) -> Measure {
        Measure::paper_example(n).unwrap()
    }

    #[test]
    fn moments_of_the_ou_law_by_quadrature() {
        for n in [3, 4, 5, 6] {
            let law = OuMarginal::new(&ex(n), 0.4);
            let v = law.expect(|x| [1.0, x, x * x]);
            assert!((v[0] - 1.0).abs() < 1e-9, "ex {n}: mass {}", v[0]);
            assert!((v[1] - law.mean).abs() < 1e-9, "ex {n}");
            let var = v[2] - v[1] * v[1];
            assert!((var - law.sd * law.sd).abs() < 1e-8, "ex {n}: {var}");
        }
    }

    #[test]
    fn gaussian_rate_is_two_minus_two_over_variance_for_every_perturbation() {
        // μ_t = N(e^{-t} m, e^{-2t} s² + σ²): s_t is linear with slope -1/v, so every
        // ξ gives rate 2 - 2/v, and ζ*_M = 1/v for every M (Cor. 1: Thm. 4 is sharp).
        let m = Measure::Normal {
            mean: 0.5,
            var: 2.0,
        };
        let t = 0.3;
        let law = OuMarginal::new(&m, t);
        let v = (-2.0 * t).exp() * 2.0 + law.sigma2;
        let want = 2.0 - 2.0 / v;
        let shapes = [
            Shape::Shift,
            Shape::Bumps {
                bumps: vec![(0.3, 0.4, 1.0)],
                offset: 0.0,
            },
            Shape::Bumps {
                bumps: vec![(-1.0, 0.7, 1.0), (1.0, 0.3, -0.6)],
                offset: 0.2,
            },
        ];
        for s in shapes {
            let p = Profile::new(&law, s);
            let e = 0.5 * p.max_amplitude(&law);
            let r = rates(&law, &p, e, 1e-3);
            assert!((r.rate - want).abs() < 1e-9, "{} vs {want}", r.rate);
            assert!((r.rate_limit - want).abs() < 1e-9);
            assert!((r.rate_eta - want).abs() < 1e-6, "{}", r.rate_eta);
            let zeta = law.zeta_star(r.m);
            assert!((2.0 - 2.0 * zeta - want).abs() < 1e-9);
        }
    }

    #[test]
    fn shift_limit_is_fisher_information() {
        // ξ ≡ c: rate_limit = 2 + 2 E[s'] = 2 - 2 I(μ_t) (Prop. 4), and ζ*_1 = I(μ_t).
        for n in [3, 4, 5, 6] {
            let law = OuMarginal::new(&ex(n), 0.3);
            let p = Profile::new(&law, Shape::Shift);
            let r = rates(&law, &p, 1e-3, 1e-3);
            let fisher = law.fisher();
            assert!((r.m - 1.0).abs() < 1e-9);
            assert!((r.rate_limit - (2.0 - 2.0 * fisher)).abs() < 1e-7, "ex {n}");
            assert!((law.zeta_star(1.0) - fisher).abs() < 1e-7, "ex {n}");
        }
    }

    #[test]
    fn finite_shift_of_a_point_mass_pair_matches_the_closed_form() {
        // For a shift c, ∫ (s(x+c) - s(x)) dμ = ∫ s(x+c) dμ(x), and for Ex. 1 (δ_0)
        // μ_t = N(0, σ²) gives s(x+c) = -(x+c)/σ²: rate = 2 - 2/σ² exactly.
        let law = OuMarginal::new(&ex(1), 0.5);
        let p = Profile::new(&law, Shape::Shift);
        let r = rates(&law, &p, 0.7, 1e-3);
        assert!((r.rate - (2.0 - 2.0 / law.sigma2)).abs() < 1e-9);
    }

    #[test]
    fn cvar_two_ways_and_the_kernel() {
        for n in [4, 5, 6] {
            let law = OuMarginal::new(&ex(n), 0.2);
            for big_m in [1.5, 3.0, 10.0] {
                let q = law.quantile(big_m);
                let a = law.cvar(big_m, q);
                let b = law.cvar_from_quantile(big_m, q);
                assert!((a - b).abs() < 1e-7, "ex {n} M {big_m}: {a} vs {b}");
                if q <= 1.0 {
                    let z = law.zeta_star(big_m);
                    assert!(
                        (z - (1.0 - a) / law.sigma2).abs() < 1e-6,
                        "ex {n} M {big_m}"
                    );
                } else {
                    assert!(law.zeta_star(big_m) < (1.0 - a) / law.sigma2);
                }
            }
        }
    }

    #[test]
    fn theorem_4_holds_for_small_bumps_at_the_localization_peak() {
        let law = OuMarginal::new(&ex(4), 0.2);
        let peak = localization_peaks(&law, 1)[0];
        assert!(peak.abs() < 1e-2);
        let p = Profile::new(
            &law,
            Shape::Bumps {
                bumps: vec![(peak, 0.3 * law.sigma, 1.0)],
                offset: 0.0,
            },
        );
        let r = rates(&law, &p, 1e-4 * p.max_amplitude(&law), 1e-3);
        let bound = 2.0 - 2.0 * law.zeta_star(r.m);
        assert!(r.rate_limit <= bound + 1e-9, "{} > {bound}", r.rate_limit);
        assert!((r.rate - r.rate_limit).abs() < 1e-3);
    }

    #[test]
    fn monte_carlo_agrees_with_quadrature() {
        use rand::SeedableRng;
        let law = OuMarginal::new(&ex(6), 0.3);
        let p = Profile::new(
            &law,
            Shape::Bumps {
                bumps: vec![(1.0, 0.5, 1.0)],
                offset: 0.3,
            },
        );
        let e = 0.5 * p.max_amplitude(&law);
        let r = rates(&law, &p, e, 1e-3);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (mc, se) = rate_monte_carlo(&law, &p, e, 200_000, &mut rng);
        assert!((mc - r.rate).abs() < 4.0 * se, "{mc} ± {se} vs {}", r.rate);
    }

    #[test]
    fn theorem_2_on_the_uniform_for_a_bump_that_is_not_a_shift() {
        // Uniform(-1, 1) is log-concave: s_t' ≤ -ζ with ζ = (1 - sup L_r)/σ², so every
        // monotone ξ has rate ≤ 2 - 2ζ; a narrow bump at the centre (where L_r peaks)
        // comes close.
        let law = OuMarginal::new(&ex(3), 0.3);
        let zeta = law.zeta_curvature();
        assert!(zeta > 0.0);
        let p = Profile::new(
            &law,
            Shape::Bumps {
                bumps: vec![(0.0, 0.1 * law.sigma, 1.0)],
                offset: 0.0,
            },
        );
        for a in [1e-4, 0.5, 0.9] {
            let r = rates(&law, &p, a * p.max_amplitude(&law), 1e-3);
            assert!(
                r.rate <= 2.0 - 2.0 * zeta + 1e-9,
                "{} vs {}",
                r.rate,
                2.0 - 2.0 * zeta
            );
            assert!(r.ratio <= 1.0 + RATIO_STEP * 1e-3 * (1.0 - zeta));
        }
        let r = rates(&law, &p, 1e-4 * p.max_amplitude(&law), 1e-3);
        assert!(2.0 - 2.0 * zeta - r.rate < 0.05, "{}", r.rate);
    }

    #[test]
    fn sharp_level_profiles_are_integrated_to_their_edges() {
        // A level-set profile with τ = 0.001 is nearly a step; its integrals must match
        // a fine midpoint sum (the structure nodes of L_r alone miss its edges).
        let law = OuMarginal::new(&ex(5), 0.2);
        let q = law.quantile(2.0);
        let p = Profile::new(&law, Shape::Level { q, tau: 0.001 });
        let v = law.expect_with(&p.breakpoints(&law), 1e-12, |x| {
            let f = p.value(&law, x);
            [f * f, f * f * law.score_slope(x)]
        });
        let (lo, hi) = (law.grid_y[0], law.grid_y[law.grid_y.len() - 1]);
        let n = 2_000_000;
        let h = (hi - lo) / n as f64;
        let (mut a, mut b) = (0.0, 0.0);
        for k in 0..n {
            let y = lo + (k as f64 + 0.5) * h;
            let x = law.sigma * y;
            let w = law.exact.localizer().density(y) * h;
            let f = p.value(&law, x);
            a += f * f * w;
            b += f * f * law.score_slope(x) * w;
        }
        assert!((v[0] - a).abs() < 1e-7, "{} vs {a}", v[0]);
        assert!((v[1] - b).abs() < 1e-6, "{} vs {b}", v[1]);
        // And with exact integrals the bound holds at this profile's own M.
        let r = rates(&law, &p, 1e-4 * p.max_amplitude(&law), 1e-3);
        assert!(r.rate_limit <= 2.0 - 2.0 * law.zeta_star(r.m) + 1e-9);
    }
}
