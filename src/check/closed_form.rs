//! Closed forms a check can compare against, evaluated row by row.
//!
//! Each name maps a measure and a table row (its r, t and, for survival, u) to the
//! exact value the paper derives. A measure without that closed form is an error of
//! the check, not a silent pass. The formulas themselves live in
//! `localize::closed_form` (shared with the numerical tests).

use crate::localize::closed_form as cf;
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
                        _ => delta_star / (1.0 - (-2.0 * t).exp()),
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
    use crate::measure::Component;

    fn two_point(mu: f64) -> Measure {
        Measure::Mixture(vec![
            Component {
                weight: 0.5,
                mean: -mu,
                var: 0.0,
            },
            Component {
                weight: 0.5,
                mean: mu,
                var: 0.0,
            },
        ])
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
}
