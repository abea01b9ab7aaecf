//! Laws of X in R^d (Gaussian mixtures) and their posterior given Y_r = rX + Z,
//! Z ~ N(0, I_d).
//!
//! Every d-dimensional measure diffrepro reads (a point, a normal with a covariance, a
//! mixture, an empirical cloud with a kernel width, a product of 1-D mixtures) is a
//! Gaussian mixture Σ p_i N(m_i, Σ_i) with Σ_i ⪰ 0. At SNR r component i of Y_r is
//! N(r m_i, V_i), V_i = r²Σ_i + I, and given Y_r = y and component i,
//! rX ~ N(a_i, C_i) with C_i = r²Σ_i V_i⁻¹ = I - V_i⁻¹ and a_i = r m_i + C_i(y - r m_i)
//! = y - V_i⁻¹(y - r m_i). With posterior weights w_i(y) ∝ p_i N(y; r m_i, V_i)
//! (log space), Cov[rX | y] = Σ w_i C_i + Σ w_i (a_i - ā)(a_i - ā)ᵀ, ā = Σ w_i a_i, and
//! L_r(y) is its largest eigenvalue (Def. 4). The score of Y_r is ā - y (Tweedie).
//! [`SpaceLocalizer`] freezes (μ, r) for the hot loops; it hands L_r, the score and
//! the density to `plane::monte_carlo`, `plane::exact` and `plane::particles`.

// Matrix code indexes rows and columns by number; iterators would hide the algebra.
#![allow(clippy::needless_range_loop)]

use rand::Rng;

use super::linalg::{cholesky_semi, inverse_and_log_det, sym_eig_max};
use crate::measure::sample::{standard_normal, uniform_open01};
use crate::measure::{Component, Measure};

/// One component p N(m, Σ) (Σ row-major d×d).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SpaceComponent {
    pub weight: f64,
    pub mean: Vec<f64>,
    pub cov: Vec<f64>,
}

/// A Gaussian mixture in R^d, with the 1-D factors it was built from when it is a
/// product measure (the factors give exact oracles).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SpaceMeasure {
    pub dim: usize,
    pub comps: Vec<SpaceComponent>,
    /// Some(factors) when μ = ⊗ factors (each a 1-D Gaussian mixture).
    pub factors: Option<Vec<Measure>>,
}

impl SpaceMeasure {
    /// A mixture; weights positive summing to 1, covariances symmetric PSD of size d
    /// (the spec layer checks this and says where).
    pub fn mixture(dim: usize, comps: Vec<SpaceComponent>) -> Self {
        SpaceMeasure {
            dim,
            comps,
            factors: None,
        }
    }

    /// The product of 1-D Gaussian mixtures (points, normals, mixtures, kernel-smoothed
    /// empirical measures): one component per combination of factor components.
    /// None if a factor is not a Gaussian mixture (uniform) or the product has more
    /// than `max_components` components.
    pub fn product(factors: &[Measure], max_components: usize) -> Option<Self> {
        let lists: Vec<Vec<Component>> = factors
            .iter()
            .map(gaussian_components)
            .collect::<Option<_>>()?;
        let total = lists
            .iter()
            .try_fold(1usize, |acc, l| acc.checked_mul(l.len()))?;
        if total > max_components {
            return None;
        }
        let d = factors.len();
        let mut comps = Vec::with_capacity(total);
        let mut idx = vec![0usize; d];
        for _ in 0..total {
            let mut weight = 1.0;
            let mut mean = Vec::with_capacity(d);
            let mut cov = vec![0.0; d * d];
            for (k, l) in lists.iter().enumerate() {
                let c = l[idx[k]];
                weight *= c.weight;
                mean.push(c.mean);
                cov[k * d + k] = c.var;
            }
            comps.push(SpaceComponent { weight, mean, cov });
            for k in (0..d).rev() {
                idx[k] += 1;
                if idx[k] < lists[k].len() {
                    break;
                }
                idx[k] = 0;
            }
        }
        Some(SpaceMeasure {
            dim: d,
            comps,
            factors: Some(factors.to_vec()),
        })
    }

    /// Whether μ is one Gaussian (then L_r is constant).
    pub fn is_gaussian(&self) -> bool {
        self.comps.len() == 1
    }

    /// Mean vector and covariance matrix of X.
    pub fn mean_and_cov(&self) -> (Vec<f64>, Vec<f64>) {
        let d = self.dim;
        let mut mean = vec![0.0; d];
        for c in &self.comps {
            for k in 0..d {
                mean[k] += c.weight * c.mean[k];
            }
        }
        let mut cov = vec![0.0; d * d];
        for c in &self.comps {
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] += c.weight
                        * (c.cov[i * d + j] + (c.mean[i] - mean[i]) * (c.mean[j] - mean[j]));
                }
            }
        }
        (mean, cov)
    }

    /// Prepare the measure at SNR r for many evaluations.
    pub fn localizer(&self, r: f64) -> SpaceLocalizer {
        SpaceLocalizer::new(self, r)
    }

    /// A sampler of X (Cholesky factors of the covariances, cumulative weights).
    pub fn sampler(&self) -> Sampler {
        let d = self.dim;
        let mut acc = 0.0;
        let cum = self
            .comps
            .iter()
            .map(|c| {
                acc += c.weight;
                acc
            })
            .collect();
        let chol = self
            .comps
            .iter()
            .map(|c| {
                let l = cholesky_semi(&c.cov, d).expect("covariances are checked PSD");
                let zero = l.iter().all(|v| *v == 0.0);
                (!zero).then_some(l)
            })
            .collect();
        Sampler {
            dim: d,
            cum,
            means: self.comps.iter().map(|c| c.mean.clone()).collect(),
            chol,
        }
    }
}

/// The components of a 1-D law that is a Gaussian mixture.
fn gaussian_components(m: &Measure) -> Option<Vec<Component>> {
    Some(match m {
        Measure::Point { at } => vec![Component {
            weight: 1.0,
            mean: *at,
            var: 0.0,
        }],
        Measure::Normal { mean, var } => vec![Component {
            weight: 1.0,
            mean: *mean,
            var: *var,
        }],
        Measure::Mixture(cs) => cs.clone(),
        Measure::Empirical { points, bandwidth } => points
            .iter()
            .map(|&x| Component {
                weight: 1.0 / points.len() as f64,
                mean: x,
                var: bandwidth * bandwidth,
            })
            .collect(),
        Measure::Uniform { .. } => return None,
    })
}

/// Draws of X ~ μ in R^d.
#[derive(Clone, Debug)]
pub struct Sampler {
    dim: usize,
    cum: Vec<f64>,
    means: Vec<Vec<f64>>,
    /// Lower Cholesky factor per component (None for a point mass).
    chol: Vec<Option<Vec<f64>>>,
}

impl Sampler {
    /// One draw of X into `x` (length d); `z` is scratch of length d.
    pub fn sample_x<R: Rng + ?Sized>(&self, rng: &mut R, x: &mut [f64], z: &mut [f64]) {
        let d = self.dim;
        let u = uniform_open01(rng);
        // The first component with u < its cumulative weight (the last if rounding
        // leaves u above the total).
        let i = self
            .cum
            .partition_point(|&c| c <= u)
            .min(self.cum.len() - 1);
        x.copy_from_slice(&self.means[i]);
        if let Some(l) = &self.chol[i] {
            for v in z.iter_mut() {
                *v = standard_normal(rng);
            }
            for a in 0..d {
                for b in 0..=a {
                    x[a] += l[a * d + b] * z[b];
                }
            }
        }
    }

    /// One draw of Y_r = rX + Z into `y`.
    pub fn sample_y<R: Rng + ?Sized>(&self, r: f64, rng: &mut R, y: &mut [f64], z: &mut [f64]) {
        self.sample_x(rng, y, z);
        for v in y.iter_mut() {
            *v = r * *v + standard_normal(rng);
        }
    }
}

/// One component at a fixed r.
#[derive(Clone, Debug)]
struct Prep {
    /// ln p_i - ½ ln det V_i.
    log_coef: f64,
    /// r m_i.
    center: Vec<f64>,
    /// V_i⁻¹.
    v_inv: Vec<f64>,
    /// C_i = I - V_i⁻¹.
    c: Vec<f64>,
}

/// Posterior of rX given Y_r = y: mean, covariance (row-major) and ln p_{Y_r}(y).
#[derive(Clone, Debug, PartialEq)]
pub struct SpacePosterior {
    pub mean: Vec<f64>,
    pub cov: Vec<f64>,
    pub log_density: f64,
}

/// A d-dimensional measure frozen at one r.
#[derive(Clone, Debug)]
pub struct SpaceLocalizer {
    dim: usize,
    r: f64,
    comps: Vec<Prep>,
    /// L_r when it does not depend on y (one Gaussian component).
    constant: Option<f64>,
}

impl SpaceLocalizer {
    pub fn new(m: &SpaceMeasure, r: f64) -> Self {
        let d = m.dim;
        let comps: Vec<Prep> = m
            .comps
            .iter()
            .map(|c| {
                let mut v: Vec<f64> = c.cov.iter().map(|s| r * r * s).collect();
                for k in 0..d {
                    v[k * d + k] += 1.0;
                }
                let (v_inv, log_det) =
                    inverse_and_log_det(&v, d).expect("r²Σ + I is positive definite");
                let mut cm: Vec<f64> = v_inv.iter().map(|x| -x).collect();
                for k in 0..d {
                    cm[k * d + k] += 1.0;
                }
                Prep {
                    log_coef: c.weight.ln() - 0.5 * log_det,
                    center: c.mean.iter().map(|x| r * x).collect(),
                    v_inv,
                    c: cm,
                }
            })
            .collect();
        let constant = (comps.len() == 1).then(|| sym_eig_max(&comps[0].c, d).max(0.0));
        SpaceLocalizer {
            dim: d,
            r,
            comps,
            constant,
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn r(&self) -> f64 {
        self.r
    }

    /// L_r when it is the same at every y (a single Gaussian component).
    pub fn constant_localization(&self) -> Option<f64> {
        self.constant
    }

    /// In the plane: (L_r(y), ln p_{Y_r}(y)) in one pass over the components, without
    /// allocating (streaming log-sum-exp; moments of b_i = a_i - y, which stay small
    /// near the data, so Σ w (C + b bᵀ) - b̄ b̄ᵀ does not cancel).
    pub fn localization2(&self, y: [f64; 2]) -> (f64, f64) {
        debug_assert_eq!(self.dim, 2);
        let mut big = f64::NEG_INFINITY;
        let (mut s0, mut b0, mut b1) = (0.0, 0.0, 0.0);
        let (mut m00, mut m01, mut m11) = (0.0, 0.0, 0.0);
        for p in &self.comps {
            let (d0, d1) = (y[0] - p.center[0], y[1] - p.center[1]);
            let v = &p.v_inv;
            let z0 = v[0] * d0 + v[1] * d1;
            let z1 = v[2] * d0 + v[3] * d1;
            let q = p.log_coef - 0.5 * (d0 * z0 + d1 * z1);
            let w = if q > big && big == f64::NEG_INFINITY {
                // The first term: the sums are still zero, nothing to rescale.
                big = q;
                1.0
            } else if q > big {
                let scale = (big - q).exp();
                s0 *= scale;
                b0 *= scale;
                b1 *= scale;
                m00 *= scale;
                m01 *= scale;
                m11 *= scale;
                big = q;
                1.0
            } else {
                (q - big).exp()
            };
            let c = &p.c;
            s0 += w;
            b0 -= w * z0;
            b1 -= w * z1;
            m00 += w * (c[0] + z0 * z0);
            m01 += w * (c[1] + z0 * z1);
            m11 += w * (c[3] + z1 * z1);
        }
        let (b0, b1) = (b0 / s0, b1 / s0);
        let c00 = m00 / s0 - b0 * b0;
        let c01 = m01 / s0 - b0 * b1;
        let c11 = m11 / s0 - b1 * b1;
        let l = match self.constant {
            Some(c) => c,
            None => (0.5 * (c00 + c11) + (0.5 * (c00 - c11)).hypot(c01)).max(0.0),
        };
        (l, big + s0.ln() - (2.0 * std::f64::consts::PI).ln())
    }

    /// The full posterior at y.
    pub fn posterior(&self, y: &[f64]) -> SpacePosterior {
        let d = self.dim;
        let n = self.comps.len();
        let mut q = Vec::with_capacity(n);
        let mut a = Vec::with_capacity(n * d);
        let mut diff = vec![0.0; d];
        for p in &self.comps {
            for k in 0..d {
                diff[k] = y[k] - p.center[k];
            }
            let mut quad = 0.0;
            for i in 0..d {
                let mut z = 0.0;
                for j in 0..d {
                    z += p.v_inv[i * d + j] * diff[j];
                }
                quad += diff[i] * z;
                a.push(y[i] - z);
            }
            q.push(p.log_coef - 0.5 * quad);
        }
        let qmax = q.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut w: Vec<f64> = q.iter().map(|v| (v - qmax).exp()).collect();
        let sum: f64 = w.iter().sum();
        for v in w.iter_mut() {
            *v /= sum;
        }
        let mut mean = vec![0.0; d];
        for (i, wi) in w.iter().enumerate() {
            for k in 0..d {
                mean[k] += wi * a[i * d + k];
            }
        }
        let mut cov = vec![0.0; d * d];
        for (i, wi) in w.iter().enumerate() {
            if *wi == 0.0 {
                continue;
            }
            let c = &self.comps[i].c;
            for s in 0..d {
                let ds = a[i * d + s] - mean[s];
                for t in 0..d {
                    cov[s * d + t] += wi * (c[s * d + t] + ds * (a[i * d + t] - mean[t]));
                }
            }
        }
        let log_density = qmax + sum.ln() - 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln();
        SpacePosterior {
            mean,
            cov,
            log_density,
        }
    }

    /// L_r(y) = ‖Cov[rX | Y_r = y]‖_op.
    pub fn localization(&self, y: &[f64]) -> f64 {
        if let Some(c) = self.constant {
            return c;
        }
        let p = self.posterior(y);
        sym_eig_max(&p.cov, self.dim).max(0.0)
    }

    /// (L_r(y), ln p_{Y_r}(y)).
    pub fn localization_and_log_density(&self, y: &[f64]) -> (f64, f64) {
        let p = self.posterior(y);
        let l = match self.constant {
            Some(c) => c,
            None => sym_eig_max(&p.cov, self.dim).max(0.0),
        };
        (l, p.log_density)
    }

    /// ∇ log p_{Y_r}(y) = E[rX | Y_r = y] - y, written into `out`.
    pub fn score(&self, y: &[f64], out: &mut [f64]) {
        let p = self.posterior(y);
        for k in 0..self.dim {
            out[k] = p.mean[k] - y[k];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(weight: f64, mean: &[f64], cov: &[f64]) -> SpaceComponent {
        SpaceComponent {
            weight,
            mean: mean.to_vec(),
            cov: cov.to_vec(),
        }
    }

    #[test]
    fn rotated_gaussian_has_the_closed_form_localization() {
        // Σ = R diag(3, 0.5) Rᵀ: L_r ≡ r²·3/(r²·3 + 1) at every y.
        let th = 0.7f64;
        let (c, s) = (th.cos(), th.sin());
        let cov = [
            3.0 * c * c + 0.5 * s * s,
            2.5 * c * s,
            2.5 * c * s,
            3.0 * s * s + 0.5 * c * c,
        ];
        let m = SpaceMeasure::mixture(2, vec![comp(1.0, &[1.0, -2.0], &cov)]);
        for r in [0.3, 1.0, 4.0] {
            let want = 3.0 * r * r / (3.0 * r * r + 1.0);
            let loc = m.localizer(r);
            assert!((loc.localization(&[0.3, 7.0]) - want).abs() < 1e-14);
            // The posterior computed in full agrees with the shortcut.
            let p = loc.posterior(&[0.3, 7.0]);
            assert!((sym_eig_max(&p.cov, 2) - want).abs() < 1e-14);
        }
    }

    #[test]
    fn product_of_two_point_laws_is_the_larger_one_dimensional_localization() {
        let f1 = Measure::two_point(1.0);
        let f2 = Measure::two_point(0.5);
        let m = SpaceMeasure::product(&[f1.clone(), f2.clone()], 100).unwrap();
        assert_eq!(m.comps.len(), 4);
        for r in [0.5, 1.5, 3.0] {
            let loc = m.localizer(r);
            for y in [[0.0, 0.0], [0.4, -1.2], [2.0, 0.1], [-3.0, 3.0]] {
                let want = f1.localization(r, y[0]).max(f2.localization(r, y[1]));
                assert!((loc.localization(&y) - want).abs() < 1e-13, "r={r} y={y:?}");
                // The density factorises and the score is the pair of 1-D scores.
                let lp = loc.localization_and_log_density(&y).1;
                let want_lp = f1.log_density_y(r, y[0]) + f2.log_density_y(r, y[1]);
                assert!((lp - want_lp).abs() < 1e-12);
                let mut s = [0.0; 2];
                loc.score(&y, &mut s);
                assert!((s[0] - f1.score_y(r, y[0])).abs() < 1e-12);
                assert!((s[1] - f2.score_y(r, y[1])).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn means_on_a_line_reduce_to_one_dimension() {
        // Point masses on the line through 0 in direction e = (1, 1)/√2: L_r(y) is the
        // 1-D localization of the projected law at ⟨y, e⟩.
        let e = [std::f64::consts::FRAC_1_SQRT_2; 2];
        let ts = [(-1.5, 0.3), (0.5, 0.5), (2.0, 0.2)];
        let m = SpaceMeasure::mixture(
            2,
            ts.iter()
                .map(|&(t, w)| comp(w, &[t * e[0], t * e[1]], &[0.0; 4]))
                .collect(),
        );
        let one = Measure::Mixture(
            ts.iter()
                .map(|&(t, w)| Component {
                    weight: w,
                    mean: t,
                    var: 0.0,
                })
                .collect(),
        );
        for r in [0.4, 1.2, 2.5] {
            let loc = m.localizer(r);
            for y in [[0.0, 0.0], [1.0, -0.3], [-2.0, 1.0]] {
                let proj = y[0] * e[0] + y[1] * e[1];
                let want = one.localization(r, proj);
                assert!((loc.localization(&y) - want).abs() < 1e-13);
            }
        }
    }
}
