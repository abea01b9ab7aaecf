//! The exact OU marginal μ_t of a measure, as a law on the line: distribution
//! function, quantile function and the exact W₂ between two such laws.
//!
//! Part of stage 3 (*run*): the `transport_map` runner builds the 1-D optimal map
//! between μ_{t+η} and μ_t from these quantiles (Prop. 1), and the `particles`
//! runner uses [`w2`] as the exact value its particle clouds estimate. It lives here,
//! beside its first user, rather than in `measure/`, because only these runners need
//! distribution functions.
//!
//! With X_t = e^{-t}X_0 + σ_t Z (σ_t² = 1 - e^{-2t}), a Gaussian mixture Σ p_i N(m_i, s_i²)
//! (point masses, normals, mixtures and kernel empirical measures all are) stays one:
//! μ_t = Σ p_i N(e^{-t}m_i, e^{-2t}s_i² + σ_t²). So F_t is a weighted sum of Φ's; the
//! upper tail is summed from Q = 1 - Φ directly so that quantiles far in either tail keep
//! their relative accuracy. The uniform's OU law is a convolution with no such form and
//! is not supported (an error, never a silent approximation).
//!
//! In 1-D the optimal coupling pairs quantiles, so
//! W₂²(μ, ν) = ∫₀¹ (F_μ⁻¹(u) - F_ν⁻¹(u))² du; [`w2`] integrates it in z with u = Φ(z)
//! by adaptive Gauss–Kronrod quadrature.

use crate::localize::ou_noise_var;
use crate::localize::quadrature::integrate;
use crate::measure::special::{norm_cdf, norm_pdf, norm_sf};
use crate::measure::Measure;

/// One component w N(mean, sd²) of the OU law (sd = 0: a point mass).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Component {
    weight: f64,
    mean: f64,
    sd: f64,
}

/// μ_t for a Gaussian-mixture-family μ_0, as a finite Gaussian mixture.
#[derive(Clone, Debug, PartialEq)]
pub struct OuLaw {
    comps: Vec<Component>,
    /// Smallest mean minus, and largest mean plus, the largest sd: a scale for brackets.
    lo: f64,
    hi: f64,
    sd_max: f64,
}

/// Half-width in z of the quadrature for W₂: the neglected mass is 2Q(9) ≈ 2·10⁻¹⁹.
const Z_MAX: f64 = 9.0;
/// Absolute tolerance on W₂² (the integrand is O(1) for the paper's laws).
const W2_TOL: f64 = 1e-13;

impl OuLaw {
    /// μ_t of `m` at time t ≥ 0 (t = 0 is μ_0 itself).
    pub fn new(m: &Measure, t: f64) -> Result<OuLaw, String> {
        if !(t >= 0.0 && t.is_finite()) {
            return Err(format!("the OU time must be finite and ≥ 0, got {t}"));
        }
        let raw = m.gaussian_components().ok_or_else(|| {
            "the exact OU law of a uniform measure has no mixture form; use a point, normal, mixture or empirical measure"
                .to_string()
        })?;
        let decay = (-t).exp();
        let noise = ou_noise_var(t);
        let comps: Vec<Component> = raw
            .into_iter()
            .map(|c| Component {
                weight: c.weight,
                mean: decay * c.mean,
                sd: (decay * decay * c.var + noise).sqrt(),
            })
            .collect();
        let sd_max = comps.iter().map(|c| c.sd).fold(0.0, f64::max);
        let lo = comps.iter().map(|c| c.mean).fold(f64::INFINITY, f64::min);
        let hi = comps
            .iter()
            .map(|c| c.mean)
            .fold(f64::NEG_INFINITY, f64::max);
        Ok(OuLaw {
            comps,
            lo,
            hi,
            sd_max,
        })
    }

    /// Every component has positive variance (the law has a smooth density).
    pub fn is_smooth(&self) -> bool {
        self.comps.iter().all(|c| c.sd > 0.0)
    }

    /// The law is a single point mass: its location.
    pub fn as_point(&self) -> Option<f64> {
        match self.comps.as_slice() {
            [c] if c.sd == 0.0 => Some(c.mean),
            _ => None,
        }
    }

    /// F(x) = P(X ≤ x).
    pub fn cdf(&self, x: f64) -> f64 {
        self.comps
            .iter()
            .map(|c| {
                c.weight
                    * if c.sd > 0.0 {
                        norm_cdf((x - c.mean) / c.sd)
                    } else if x >= c.mean {
                        1.0
                    } else {
                        0.0
                    }
            })
            .sum()
    }

    /// 1 - F(x), summed from the components' upper tails (no cancellation).
    pub fn sf(&self, x: f64) -> f64 {
        self.comps
            .iter()
            .map(|c| {
                c.weight
                    * if c.sd > 0.0 {
                        norm_sf((x - c.mean) / c.sd)
                    } else if x < c.mean {
                        1.0
                    } else {
                        0.0
                    }
            })
            .sum()
    }

    /// The density (the atoms of a law that is not smooth are left out).
    pub fn pdf(&self, x: f64) -> f64 {
        self.comps
            .iter()
            .filter(|c| c.sd > 0.0)
            .map(|c| c.weight * norm_pdf((x - c.mean) / c.sd) / c.sd)
            .sum()
    }

    /// E[(X - a)²].
    pub fn mean_square_about(&self, a: f64) -> f64 {
        self.comps
            .iter()
            .map(|c| c.weight * ((c.mean - a) * (c.mean - a) + c.sd * c.sd))
            .sum()
    }

    /// E[(X - a)⁴] (a normal's fourth central moment is 3s⁴).
    pub fn fourth_moment_about(&self, a: f64) -> f64 {
        self.comps
            .iter()
            .map(|c| {
                let (d2, s2) = ((c.mean - a) * (c.mean - a), c.sd * c.sd);
                c.weight * (d2 * d2 + 6.0 * d2 * s2 + 3.0 * s2 * s2)
            })
            .sum()
    }

    /// F⁻¹(u) for u ∈ (0, 1): the smallest x with F(x) ≥ u. Solved on the lower tail
    /// for u ≤ ½ and on the upper tail (1 - F(x) = 1 - u) above, so both tails keep
    /// their relative accuracy.
    pub fn quantile(&self, u: f64) -> f64 {
        if u <= 0.5 {
            self.solve(Tail::Lower, u)
        } else {
            self.solve(Tail::Upper, 1.0 - u)
        }
    }

    /// F⁻¹(Φ(z)), accurate for |z| up to about 37 (where Φ(-|z|) underflows).
    pub fn quantile_at_z(&self, z: f64) -> f64 {
        if z <= 0.0 {
            self.solve(Tail::Lower, norm_cdf(z))
        } else {
            self.solve(Tail::Upper, norm_sf(z))
        }
    }

    /// Solve F(x) = p (lower tail) or 1 - F(x) = p (upper tail) for x: Newton's method
    /// kept inside a bracket that always contains the root, bisecting whenever a Newton
    /// step leaves it (or the density vanishes, as between atoms).
    fn solve(&self, tail: Tail, p: f64) -> f64 {
        // g is increasing in x with its root at the quantile.
        let g = |x: f64| match tail {
            Tail::Lower => self.cdf(x) - p,
            Tail::Upper => p - self.sf(x),
        };
        let width = self.sd_max.max(1e-3 * (self.hi - self.lo)).max(1e-300);
        let (mut lo, mut hi) = (self.lo - width, self.hi + width);
        let mut step = width;
        while g(lo) > 0.0 {
            step *= 2.0;
            lo = self.lo - step;
        }
        step = width;
        while g(hi) < 0.0 {
            step *= 2.0;
            hi = self.hi + step;
        }
        let mut x = 0.5 * (lo + hi);
        for _ in 0..300 {
            let gx = g(x);
            if gx == 0.0 {
                return x;
            }
            if gx < 0.0 {
                lo = x;
            } else {
                hi = x;
            }
            let d = self.pdf(x);
            let newton = x - gx / d;
            let next = if d > 0.0 && newton > lo && newton < hi {
                newton
            } else {
                0.5 * (lo + hi)
            };
            // Relative accuracy near the root, absolute (to the law's scale) near 0.
            let tol = 2.0 * f64::EPSILON * (next.abs() + width);
            if (next - x).abs() <= tol || hi - lo <= tol {
                return next;
            }
            x = next;
        }
        x
    }
}

#[derive(Clone, Copy)]
enum Tail {
    Lower,
    Upper,
}

/// W₂(a, b), exact: closed form when either law is a point mass
/// (W₂² = E(X - c)²), otherwise ∫ (F_a⁻¹(Φ(z)) - F_b⁻¹(Φ(z)))² φ(z) dz over
/// |z| ≤ 9 by adaptive quadrature. `None` when a law with atoms meets a law that is
/// not a point mass (the quantile functions jump and the quadrature would not be
/// reliable); every OU law at t > 0 is smooth.
pub fn w2(a: &OuLaw, b: &OuLaw) -> Option<f64> {
    if let Some(c) = b.as_point() {
        return Some(a.mean_square_about(c).sqrt());
    }
    if let Some(c) = a.as_point() {
        return Some(b.mean_square_about(c).sqrt());
    }
    if !(a.is_smooth() && b.is_smooth()) {
        return None;
    }
    // Breakpoints every half unit in z: the integrand's structure (the steep parts of
    // a mixture's quantile function) sits inside |z| ≤ 3 for the paper's laws, and
    // the adaptive rule refines wherever its error estimate asks.
    let nodes: Vec<f64> = (0..=36).map(|i| -Z_MAX + 0.5 * i as f64).collect();
    let q = integrate(
        |z| {
            let d = a.quantile_at_z(z) - b.quantile_at_z(z);
            [d * d * norm_pdf(z)]
        },
        &nodes,
        W2_TOL,
        4000,
    );
    Some(q.value[0].max(0.0).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Component as MixComp;

    fn mixture(cs: &[(f64, f64, f64)]) -> Measure {
        Measure::Mixture(
            cs.iter()
                .map(|&(weight, mean, var)| MixComp { weight, mean, var })
                .collect(),
        )
    }

    #[test]
    fn quantile_inverts_the_cdf_in_both_tails() {
        let law = OuLaw::new(&Measure::paper_example(6).unwrap(), 0.3).unwrap();
        for u in [1e-12, 1e-6, 0.01, 0.3, 0.5, 0.7, 0.99] {
            let x = law.quantile(u);
            assert!((law.cdf(x) - u).abs() <= 1e-13 * u.max(1e-3), "u={u}");
        }
        // Upper tail: 1 - F(x) = 1e-12 is met in relative terms.
        let x = law.quantile_at_z(7.0);
        let want = norm_sf(7.0);
        assert!((law.sf(x) / want - 1.0).abs() < 1e-10);
        // Between the atoms of two point masses the quantile is the atom.
        let atoms = OuLaw::new(&Measure::two_point(1.0), 0.0).unwrap();
        assert!((atoms.quantile(0.25) + 1.0).abs() < 1e-12);
        assert!((atoms.quantile(0.75) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ou_law_moments_follow_the_flow() {
        // X_t = e^{-t}X_0 + σ_t Z: mean e^{-t}m, variance e^{-2t}s² + 1 - e^{-2t}.
        let t = 0.7;
        let law = OuLaw::new(
            &Measure::Normal {
                mean: 2.0,
                var: 0.5,
            },
            t,
        )
        .unwrap();
        let e = (-t).exp();
        let var = e * e * 0.5 + 1.0 - e * e;
        assert!((law.mean_square_about(2.0 * e) - var).abs() < 1e-15);
        assert!((law.cdf(2.0 * e) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn w2_matches_the_gaussian_closed_form() {
        // W₂(N(a, s²), N(b, q²))² = (a - b)² + (s - q)².
        let a = OuLaw::new(
            &Measure::Normal {
                mean: 1.0,
                var: 0.2,
            },
            0.4,
        )
        .unwrap();
        let b = OuLaw::new(
            &Measure::Normal {
                mean: -2.0,
                var: 3.0,
            },
            0.4,
        )
        .unwrap();
        let (ma, sa) = (
            (-0.4f64).exp(),
            (0.2 * (-0.8f64).exp() + ou_noise_var(0.4)).sqrt(),
        );
        let (mb, sb) = (
            -2.0 * (-0.4f64).exp(),
            (3.0 * (-0.8f64).exp() + ou_noise_var(0.4)).sqrt(),
        );
        let want = (ma - mb).hypot(sa - sb);
        let got = w2(&a, &b).unwrap();
        assert!((got - want).abs() < 1e-11, "{got} vs {want}");
        // Against a point mass: the root mean square about it.
        let p = OuLaw::new(&Measure::Point { at: 0.0 }, 0.0).unwrap();
        let two = OuLaw::new(&Measure::two_point(1.0), 0.0).unwrap();
        assert_eq!(w2(&two, &p), Some(1.0));
        // Two point masses against a wide normal: atoms and a smooth law do not mix.
        assert_eq!(w2(&two, &b), None);
    }

    #[test]
    fn w2_of_a_shifted_mixture_is_the_shift() {
        // A translate of any law is at W₂ distance |shift| from it, however the
        // quantile function bends (here between two well separated components).
        let m = mixture(&[(0.3, -3.0, 0.1), (0.7, 2.0, 0.4)]);
        let shifted = mixture(&[(0.3, -2.5, 0.1), (0.7, 2.5, 0.4)]);
        let a = OuLaw::new(&m, 0.05).unwrap();
        let b = OuLaw::new(&shifted, 0.05).unwrap();
        let want = 0.5 * (-0.05f64).exp();
        let got = w2(&a, &b).unwrap();
        assert!((got - want).abs() < 1e-10, "{got} vs {want}");
    }

    #[test]
    fn uniform_is_refused() {
        let u = Measure::Uniform {
            low: -1.0,
            high: 1.0,
        };
        assert!(OuLaw::new(&u, 0.5).unwrap_err().contains("uniform"));
    }
}
