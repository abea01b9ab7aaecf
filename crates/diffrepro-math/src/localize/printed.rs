//! The paper's formula for L_r of a Gaussian mixture, eq. (5.3), exactly as printed.
//!
//! For X ~ Σ p_i N(μ_i, σ_i²) the paper defines v_i = √(r²σ_i² + 1),
//! t_i = (y - rμ_i)/v_i and prints
//!
//! L_r(y) = 1 + Σ p_i v_i⁻³ (t_i² - 1) φ(t_i) / Σ p_i v_i φ(t_i)
//!            - (-Σ p_i v_i⁻² t_i φ(t_i) / Σ p_i v_i φ(t_i))².
//!
//! The density of Y_r is Σ p_i v_i⁻¹ φ(t_i), and its first and second derivatives are
//! the two numerators, so L_r = 1 + (log p_{Y_r})'' needs v_i⁻¹ in both denominators:
//! with [`Denominator::Density`] this module computes the true localization (the tests
//! compare it with `Localizer`), with [`Denominator::AsPrinted`] the printed one, which
//! is not the localization of any measure. The report runs it on the paper's draws of
//! Y_r, by Monte Carlo, to see whether the paper's figures were computed with it.
//!
//! Evaluated in log space: every term carries φ(t_i), so the weights p_i φ(t_i) are
//! scaled by the largest of them before the sums (ratios of the sums are unchanged).

use crate::measure::Measure;

/// The denominator of both fractions of eq. (5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denominator {
    /// Σ p_i v_i φ(t_i), as the paper prints it.
    AsPrinted,
    /// Σ p_i v_i⁻¹ φ(t_i), the density of Y_r (times √(2π)): the true L_r.
    Density,
}

/// Eq. (5.3) at a fixed r for a Gaussian mixture (point masses and normals included).
#[derive(Clone, Debug)]
pub struct PrintedFormula {
    denominator: Denominator,
    /// Per component: ln p_i, rμ_i, v_i.
    comps: Vec<(f64, f64, f64)>,
}

impl PrintedFormula {
    /// The formula for `measure` at SNR r, or None for a law that is not a Gaussian
    /// mixture (the uniform).
    pub fn new(measure: &Measure, r: f64, denominator: Denominator) -> Option<Self> {
        let comps = measure
            .gaussian_components()?
            .into_iter()
            .filter(|c| c.weight > 0.0)
            .map(|c| (c.weight.ln(), r * c.mean, (r * r * c.var + 1.0).sqrt()))
            .collect();
        Some(PrintedFormula { denominator, comps })
    }

    /// The formula's value at y.
    pub fn eval(&self, y: f64) -> f64 {
        let log_weight = |&(ln_p, centre, v): &(f64, f64, f64)| {
            let t = (y - centre) / v;
            ln_p - 0.5 * t * t
        };
        let top = self
            .comps
            .iter()
            .map(log_weight)
            .fold(f64::NEG_INFINITY, f64::max);
        let (mut den, mut first, mut second) = (0.0, 0.0, 0.0);
        for c in &self.comps {
            let (_, centre, v) = *c;
            let t = (y - centre) / v;
            let w = (log_weight(c) - top).exp();
            den += w * match self.denominator {
                Denominator::AsPrinted => v,
                Denominator::Density => 1.0 / v,
            };
            first -= w * t / (v * v);
            second += w * (t * t - 1.0) / (v * v * v);
        }
        let slope = first / den;
        1.0 + second / den - slope * slope
    }

    /// Replace every y of `values` by the formula's value there.
    pub fn eval_batch(&self, values: &mut [f64]) {
        for v in values.iter_mut() {
            *v = self.eval(*v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Component;

    fn laws() -> Vec<Measure> {
        let mut v: Vec<Measure> = [1, 2, 4, 5, 6]
            .iter()
            .map(|&k| Measure::paper_example(k).unwrap())
            .collect();
        v.push(Measure::Mixture(vec![
            Component {
                weight: 0.3,
                mean: -2.0,
                var: 0.5,
            },
            Component {
                weight: 0.7,
                mean: 1.0,
                var: 3.0,
            },
        ]));
        v.push(Measure::Empirical {
            points: vec![-1.3, 0.2, 0.25, 2.0],
            bandwidth: 0.4,
        });
        v
    }

    #[test]
    fn with_the_density_in_the_denominators_it_is_the_localization() {
        // The same code with v_i⁻¹ in the denominators is 1 + (log p)'' of the density
        // of Y_r, the posterior variance computed by the measure's own kernel.
        for m in laws() {
            for r in [0.1, 0.7, 1.5, 4.0] {
                let f = PrintedFormula::new(&m, r, Denominator::Density).unwrap();
                let loc = m.localizer(r);
                for i in -40..=40 {
                    let y = i as f64 * 0.25 * (1.0 + r);
                    let (got, want) = (f.eval(y), loc.localization(y));
                    // 1 + (log p)'' cancels: absolute error about ε·v_max⁻²·t².
                    let tol = 1e-11 * (1.0 + y * y);
                    assert!(
                        (got - want).abs() < tol,
                        "{m:?} r={r} y={y}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn as_printed_on_one_normal_it_is_its_closed_form() {
        // One component N(μ, σ²): both fractions have the single term, so the printed
        // form is 1 + v⁻⁴(t² - 1) - v⁻⁶t², which depends on y; the true L_r is 1 - v⁻².
        let (mean, var) = (0.7, 2.0);
        let m = Measure::Normal { mean, var };
        for r in [0.2, 1.0, 3.0] {
            let f = PrintedFormula::new(&m, r, Denominator::AsPrinted).unwrap();
            let v = (r * r * var + 1.0).sqrt();
            for y in [-5.0, -1.0, 0.0, 0.7, 2.5, 9.0] {
                let t = (y - r * mean) / v;
                let want = 1.0 + (t * t - 1.0) / v.powi(4) - t * t / v.powi(6);
                assert!((f.eval(y) - want).abs() < 1e-13, "r={r} y={y}");
            }
        }
        // A point mass has v = 1 for every r: there the printed form is the true one.
        let point = PrintedFormula::new(&Measure::Point { at: 1.0 }, 2.0, Denominator::AsPrinted);
        assert!(point.unwrap().eval(3.0).abs() < 1e-15);
        assert!(PrintedFormula::new(
            &Measure::Uniform {
                low: 0.0,
                high: 1.0
            },
            1.0,
            Denominator::AsPrinted
        )
        .is_none());
    }
}
