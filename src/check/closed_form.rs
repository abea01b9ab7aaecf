//! Closed forms a check can compare against, evaluated row by row.
//!
//! Each name maps a measure and a table row (its r, t and, for survival, u) to the
//! exact value the paper derives. A measure without that closed form is an error of
//! the check, not a silent pass. The formulas themselves live in
//! `localize::closed_form` (shared with the numerical tests), except the uniform's,
//! which only the checks use and which are derived here from the paper's formula for
//! its localization (see [`uniform_delta_star`]).
//!
//! Which measures have which closed form:
//! - point mass δ_a: everything (L_r ≡ 0, δ* = 1, m* = 0, ζ*_M = 1/(1 - e^{-2t}) for
//!   every M, since h ≡ 0);
//! - normal: L_r ≡ σ²r²/(σ²r²+1) and what follows from it;
//! - Uniform(a, b): ess sup L_r, δ*, m* = 0, ζ*_∞ (log-concave, Def. 5 and Thm. 4);
//! - ½δ_{-μ} + ½δ_{+μ}: ess sup L_r and s_r(u) at every r, δ*, m*, ζ*_∞ for r ≤ 1/μ.

use crate::localize::closed_form as cf;
use crate::measure::special::{norm_interval, norm_pdf};
use crate::measure::Measure;

pub const NAMES: &[&str] = &[
    "sup_localization",
    "delta_star",
    "m_star",
    "zeta_star_inf",
    "survival",
    "snr",
];

/// The row values a closed form may need.
#[derive(Clone, Copy, Debug, Default)]
pub struct Row {
    pub r: Option<f64>,
    pub t: Option<f64>,
    pub u: Option<f64>,
}

fn need(v: Option<f64>, col: &str, name: &str) -> Result<f64, String> {
    v.ok_or_else(|| format!("closed form `{name}` needs a column `{col}` in the table"))
}

/// ½δ₋μ + ½δ₊μ written as a mixture, if `m` is one: returns μ.
fn symmetric_two_point(m: &Measure) -> Option<f64> {
    match m {
        Measure::Mixture(c) if c.len() == 2 => {
            let (a, b) = (c[0], c[1]);
            let sym = a.var == 0.0
                && b.var == 0.0
                && (a.weight - 0.5).abs() < 1e-12
                && (b.weight - 0.5).abs() < 1e-12
                && (a.mean + b.mean).abs() < 1e-12
                && a.mean != 0.0;
            sym.then_some(a.mean.abs())
        }
        _ => None,
    }
}

/// δ*(r) = 1 - ess sup L_r for Uniform(low, high).
///
/// Given Y_r = y, rX is N(y, 1) truncated to [r·low, r·high] (DIGEST §3), so L_r(y) is
/// a truncated-normal variance. It is largest when the normal is centred on the
/// interval (the truncated variance falls as the centre moves towards an end; the
/// unit test scans y to confirm), where with half-width w = r(high - low)/2 it is the
/// variance of N(0, 1) truncated to [-w, w]: 1 - 2wφ(w)/(2Φ(w) - 1). Written as
/// δ* = 2wφ(w)/(2Φ(w) - 1) it keeps full relative precision when δ* is tiny (large r),
/// where 1 - sup L would cancel.
pub fn uniform_delta_star(low: f64, high: f64, r: f64) -> f64 {
    let w = 0.5 * r * (high - low);
    2.0 * w * norm_pdf(w) / norm_interval(-w, w)
}

/// Evaluate closed form `name` for measure `m` at `row`.
pub fn eval(name: &str, m: &Measure, row: Row) -> Result<f64, String> {
    let none = || {
        format!(
            "the paper gives no closed form `{name}` for this measure ({})",
            describe(m)
        )
    };
    match name {
        "snr" => Ok(crate::localize::snr(need(row.t, "t", name)?)),
        "sup_localization" => {
            let r = need(row.r, "r", name)?;
            match m {
                Measure::Point { .. } => Ok(0.0),
                Measure::Normal { var, .. } => Ok(cf::normal_localization(*var, r)),
                Measure::Uniform { low, high } => Ok(1.0 - uniform_delta_star(*low, *high, r)),
                _ => symmetric_two_point(m)
                    .map(|mu| (r * mu).powi(2))
                    .ok_or_else(none),
            }
        }
        "delta_star" | "m_star" | "zeta_star_inf" => {
            let r = need(row.r, "r", name)?;
            let (delta_star, m_star) = match m {
                Measure::Point { .. } => (1.0, 0.0),
                Measure::Normal { var, .. } => (cf::normal_delta_star(*var, r), 0.0),
                // Log-concave: s_r(1) = 0, so m* = 0 and δ* = 1 - ess sup L_r (Def. 5).
                Measure::Uniform { low, high } => (uniform_delta_star(*low, *high, r), 0.0),
                _ => match symmetric_two_point(m) {
                    Some(mu) if r * mu <= 1.0 => (cf::two_point_delta_star(mu, r), 0.0),
                    Some(mu) => {
                        return Err(format!(
                            "the two-point closed form for `{name}` holds only for r ≤ 1/μ = {}, not r = {r}",
                            1.0 / mu
                        ))
                    }
                    None => return Err(none()),
                },
            };
            match name {
                "delta_star" => Ok(delta_star),
                "m_star" => Ok(m_star),
                _ => {
                    let t = need(row.t, "t", name)?;
                    Ok(match m {
                        Measure::Point { .. } => cf::point_zeta_star_inf(t),
                        Measure::Normal { var, .. } => cf::normal_zeta_star_inf(*var, t),
                        // ζ*_∞(t) = δ*(r(t))/(1 - e^{-2t}) for a log-concave μ_t (Thm. 4).
                        _ => delta_star / crate::localize::ou_noise_var(t),
                    })
                }
            }
        }
        "survival" => {
            let r = need(row.r, "r", name)?;
            let u = need(row.u, "u", name)?;
            match m {
                Measure::Point { .. } => Ok(if 0.0 > u { 1.0 } else { 0.0 }),
                Measure::Normal { var, .. } => Ok(if cf::normal_localization(*var, r) > u {
                    1.0
                } else {
                    0.0
                }),
                _ => symmetric_two_point(m)
                    .map(|mu| cf::two_point_survival(mu, r, u))
                    .ok_or_else(none),
            }
        }
        other => Err(format!("unknown closed form `{other}`")),
    }
}

fn describe(m: &Measure) -> &'static str {
    match m {
        Measure::Point { .. } => "a point mass",
        Measure::Normal { .. } => "a normal",
        Measure::Uniform { .. } => "a uniform",
        Measure::Mixture(_) => "a mixture",
        Measure::Empirical { .. } => "an empirical measure",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_point(mu: f64) -> Measure {
        Measure::two_point(mu)
    }

    #[test]
    fn closed_forms_match_the_digest() {
        let row = Row {
            r: Some(0.5),
            t: Some(crate::localize::time_of_snr(0.5)),
            u: Some(0.1),
        };
        // δ* = 1 - (rμ)² for r ≤ 1/μ.
        assert!((eval("delta_star", &two_point(1.0), row).unwrap() - 0.75).abs() < 1e-15);
        assert!(eval(
            "delta_star",
            &two_point(1.0),
            Row {
                r: Some(1.5),
                ..row
            }
        )
        .is_err());
        let n = Measure::Normal {
            mean: 3.0,
            var: 4.0,
        };
        // L_r ≡ σ²r²/(σ²r²+1) = 1/2 at σ² = 4, r = 1/2.
        assert!((eval("sup_localization", &n, row).unwrap() - 0.5).abs() < 1e-15);
        assert_eq!(eval("survival", &n, row).unwrap(), 1.0);
        assert!(eval(
            "survival",
            &Measure::Uniform {
                low: 0.0,
                high: 1.0
            },
            row
        )
        .is_err());
        assert!(eval("zeta_star_inf", &n, Row { t: None, ..row }).is_err());
    }

    #[test]
    fn uniform_closed_forms_match_the_localization() {
        // An interval not centred at 0, so the midpoint is not y = 0.
        let (low, high) = (-1.0, 3.0);
        let m = Measure::Uniform { low, high };
        for r in [0.05, 0.3, 1.0, 2.3, 5.0, 10.0] {
            let t = crate::localize::time_of_snr(r);
            let row = Row {
                r: Some(r),
                t: Some(t),
                u: None,
            };
            let sup = eval("sup_localization", &m, row).unwrap();
            let loc = crate::measure::Localizer::new(&m, r);
            // The supremum is attained at the midpoint r(low + high)/2 ...
            let mid = 0.5 * r * (low + high);
            assert!((loc.localization(mid) - sup).abs() < 1e-12, "r = {r}");
            // ... and nowhere on a fine scan of y does L_r exceed it (roundoff only).
            let (a, b) = (r * low - 6.0, r * high + 6.0);
            for k in 0..=4000 {
                let y = a + (b - a) * k as f64 / 4000.0;
                assert!(loc.localization(y) <= sup + 1e-12, "r = {r}, y = {y}");
            }
            // The engine's supremum (grid + golden section) agrees to its accuracy.
            let engine = crate::localize::sup_localization(&m, r);
            assert!((engine - sup).abs() < 1e-9, "r = {r}: {engine} vs {sup}");
            let ds = eval("delta_star", &m, row).unwrap();
            assert!((ds - (1.0 - sup)).abs() < 1e-15);
            assert_eq!(eval("m_star", &m, row).unwrap(), 0.0);
            let z = eval("zeta_star_inf", &m, row).unwrap();
            assert!((z - ds / -(-2.0 * t).exp_m1()).abs() < 1e-12 * z.max(1.0));
        }
        // Small r: N(0, 1) truncated to [-w, w] is nearly uniform, variance w²/3 (1 + O(w²)).
        let w: f64 = 1e-3;
        let ds = uniform_delta_star(-1.0, 1.0, w);
        assert!((1.0 - ds - w * w / 3.0).abs() < 1e-12);
        // Large r: δ* = 2wφ(w)/(1 - 2Q(w)) keeps its relative precision where 1 - sup L
        // would be all roundoff (here δ* ≈ 1e-21).
        let w: f64 = 10.0;
        let expect = 2.0 * w * (-0.5 * w * w).exp() / (2.0 * std::f64::consts::PI).sqrt();
        assert!((uniform_delta_star(-1.0, 1.0, w) / expect - 1.0).abs() < 1e-12);
    }

    #[test]
    fn point_mass_closed_forms() {
        let p = Measure::Point { at: 0.0 };
        let t: f64 = 0.25;
        let row = Row {
            r: Some(crate::localize::snr(t)),
            t: Some(t),
            u: Some(0.0),
        };
        assert_eq!(eval("sup_localization", &p, row).unwrap(), 0.0);
        assert_eq!(eval("delta_star", &p, row).unwrap(), 1.0);
        assert_eq!(eval("m_star", &p, row).unwrap(), 0.0);
        // L_r ≡ 0 is never above u = 0.
        assert_eq!(eval("survival", &p, row).unwrap(), 0.0);
        let z = eval("zeta_star_inf", &p, row).unwrap();
        assert!((z - 1.0 / (1.0 - (-0.5f64).exp())).abs() < 1e-12);
    }
}
