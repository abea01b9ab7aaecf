//! Closed forms of DIGEST §2–3, for test oracles and figure overlays.
//!
//! Point mass δ_0, normal N(m, σ²) (only σ² = `var` matters), the two-point measure
//! ½δ_{-μ} + ½δ_{+μ} (eq. 5.1 for its survival function), and the paper's intro
//! example (a Gaussian μ_0 = N(1, s²) pushed backward one step). Everything is in
//! terms of r or of the OU time t with β = 1 and σ_t² = 1 - e^{-2t}. Where the paper
//! has no closed form (two points beyond r = 1/μ) the function says so and returns NaN.

use crate::measure::special::{norm_cdf, norm_sf};

/// L_r(y) = (rμ)² sech²(rμ y) for ½δ_{-μ} + ½δ_{+μ}.
pub fn two_point_localization(mu: f64, r: f64, y: f64) -> f64 {
    let a = r * mu;
    let x = (a * y).abs();
    // sech x = 2e^{-x}/(1 + e^{-2x}): no overflow for large x.
    let e = (-x).exp();
    let sech = 2.0 * e / (1.0 + e * e);
    a * a * sech * sech
}

/// ess sup L_r = (rμ)² for the two-point measure.
pub fn two_point_sup_localization(mu: f64, r: f64) -> f64 {
    (r * mu) * (r * mu)
}

/// s_r(u) for ½δ_{-μ} + ½δ_{+μ} (eq. 5.1): for 0 < u < (rμ)²,
/// s_r(u) = Φ(c - rμ) + Φ(c + rμ) - 1 with
/// c = ln((rμ + √((rμ)² - u))/(rμ - √((rμ)² - u)))/(2rμ), the half-width of {L_r > u};
/// 0 for u ≥ (rμ)², 1 for u < 0.
pub fn two_point_survival(mu: f64, r: f64, u: f64) -> f64 {
    let a = (r * mu).abs();
    if u >= a * a {
        return 0.0;
    }
    if u < 0.0 {
        return 1.0;
    }
    if u == 0.0 {
        // L_r > 0 everywhere when a > 0.
        return 1.0;
    }
    let c = two_point_level_half_width(a, u);
    // Φ(c + a) - 1 = -Q(c + a), computed without cancellation.
    norm_cdf(c - a) - norm_sf(c + a)
}

/// Half-width c of {y : L_r(y) > u} for the two-point measure, a = rμ, 0 < u < a²:
/// c = acosh(a/√u)/a, written as ln((a + √(a² - u))/√u)/a (equal to eq. 5.1's form).
pub fn two_point_level_half_width(a: f64, u: f64) -> f64 {
    let s = (a * a - u).sqrt();
    ((a + s).ln() - 0.5 * u.ln()) / a
}

/// δ*(r) = 1 - (rμ)² for r ≤ 1/μ (the log-concave-like regime, m* = 0). Beyond 1/μ
/// the paper has no closed form: NaN.
pub fn two_point_delta_star(mu: f64, r: f64) -> f64 {
    let a2 = (r * mu) * (r * mu);
    if a2 <= 1.0 {
        1.0 - a2
    } else {
        f64::NAN
    }
}

/// r* = max{r : s_r(1) = 0} = 1/μ for the two-point measure.
pub fn two_point_r_star(mu: f64) -> f64 {
    1.0 / mu.abs()
}

/// L_r ≡ σ²r²/(σ²r² + 1) for N(m, σ²) (var = σ²).
pub fn normal_localization(var: f64, r: f64) -> f64 {
    let v = var * r * r;
    v / (v + 1.0)
}

/// δ*(r) = 1/(σ²r² + 1) for N(m, σ²) (m* = 0).
pub fn normal_delta_star(var: f64, r: f64) -> f64 {
    1.0 / (var * r * r + 1.0)
}

/// ζ*_∞(t) = 1/(1 + e^{-2t}(σ² - 1)) for N(m, σ²): the curvature of μ_t.
pub fn normal_zeta_star_inf(var: f64, t: f64) -> f64 {
    1.0 / (1.0 + (-2.0 * t).exp() * (var - 1.0))
}

/// ζ*_∞(t) = 1/(1 - e^{-2t}) for δ_0.
pub fn point_zeta_star_inf(t: f64) -> f64 {
    -1.0 / (-2.0 * t).exp_m1()
}

/// Intro example: slope 1 + η(s² - 1)/(e^{2kη} + s² - 1) of the (affine) backward map
/// at t = kη for μ_0 = N(1, s²), β = 1 (s2 = s²).
pub fn gaussian_backward_slope(s2: f64, k: f64, eta: f64) -> f64 {
    1.0 + eta * (s2 - 1.0) / ((2.0 * k * eta).exp() + s2 - 1.0)
}

/// Intro example: the last k with a backward step contracting faster than the forward
/// 1 - η, namely k < ln(2(1 - s²))/(2η), for s² < 1/2 (NaN otherwise).
pub fn gaussian_fast_contraction_horizon(s2: f64, eta: f64) -> f64 {
    if s2 < 0.5 {
        (2.0 * (1.0 - s2)).ln() / (2.0 * eta)
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_point_survival_is_the_level_set_probability() {
        // Direct check: L_r(y) = u exactly at y = ±c, and s_r(0+) = 1, s_r(a²-) = 0.
        let (mu, r) = (1.0, 1.5);
        let a = r * mu;
        for u in [0.1, 0.5, 1.0, 2.0] {
            let c = two_point_level_half_width(a, u);
            assert!((two_point_localization(mu, r, c) - u).abs() < 1e-12);
            let eq51 = ((a + (a * a - u).sqrt()) / (a - (a * a - u).sqrt())).ln() / (2.0 * a);
            assert!((c - eq51).abs() < 1e-13);
        }
        assert!(two_point_survival(mu, r, 1e-300) > 1.0 - 1e-12);
        assert!(two_point_survival(mu, r, a * a * (1.0 - 1e-15)) < 1e-6);
        assert_eq!(two_point_survival(mu, r, a * a), 0.0);
    }

    #[test]
    fn intro_example_regimes() {
        // Expansion for s² > 1, contraction faster than 1 - η for s² < ½ and small k.
        let eta = 0.01;
        assert!(gaussian_backward_slope(2.0, 10.0, eta) > 1.0);
        let s2 = 0.1;
        let k_max = gaussian_fast_contraction_horizon(s2, eta);
        assert!(gaussian_backward_slope(s2, (k_max - 1.0).floor(), eta) < 1.0 - eta);
        assert!(gaussian_backward_slope(s2, k_max.ceil() + 1.0, eta) > 1.0 - eta);
        // ζ*_∞ of N(0, σ²) at σ² = 0 is the point mass's.
        assert!((normal_zeta_star_inf(0.0, 0.3) - point_zeta_star_inf(0.3)).abs() < 1e-14);
    }
}
