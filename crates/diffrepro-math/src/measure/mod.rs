//! The distributions μ of the paper and their Gaussian channel Y_r = rX + Z.
//!
//! A [`Measure`] is a one-dimensional law X ~ μ (point mass, normal, uniform, Gaussian
//! mixture, empirical measure with an optional Gaussian kernel). For every r it gives
//! the posterior of rX given Y_r = y (mean and variance; the variance is the
//! localization L_r(y) of Def. 4), the density and score of Y_r, the score of the OU
//! law μ_t, and samples of X and Y_r. It hands these to `localize` (survival
//! functions, integrated tails, m*, δ*, ζ*_M) and to `particles` (the backward map uses
//! `ou_score`). For hot loops at a fixed r, [`Localizer`] freezes the per-r constants.
//!
//! Every evaluation works in log space (DIGEST §3): mixture weights are normalised
//! against the largest exponent and the uniform's truncated normal uses inverse Mills
//! ratios, so r ∈ [1e-3, 1e3] and |y| ≤ 60 never produce NaN or infinity.

mod posterior;
pub mod sample;
pub mod special;
pub mod table;

pub(crate) use posterior::{Kind, Prep};
pub use posterior::{Localizer, BATCH, TABLE_PIECES, TABLE_TOL, Y_RANGE_SDS};
pub use table::Table;

use posterior::{mixture_moments, uniform_moments, Moments, UniformPrep};
use rand::Rng;
use sample::{standard_normal, uniform_index, uniform_open01, Stream};

/// Mixtures up to this many components pick their component without branches in
/// [`Measure::sample_y_batch`].
const MAX_BRANCH_FREE: usize = 16;
/// Draws generated together in [`Measure::sample_y_batch`].
const DRAW_BLOCK: usize = 256;

/// A law of X on the real line.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum Measure {
    /// δ_at.
    Point { at: f64 },
    /// N(mean, var); var = 0 is a point mass.
    Normal { mean: f64, var: f64 },
    /// Uniform(low, high).
    Uniform { low: f64, high: f64 },
    /// Gaussian mixture Σ p_i N(m_i, s_i²); var == 0.0 is a point mass. Weights
    /// positive, sum to 1.
    Mixture(Vec<Component>),
    /// Equal-weight mixture of N(x_i, bandwidth²) (bandwidth 0 = point masses).
    /// `Measure`'s own methods visit every point (O(n), no allocation); for many
    /// evaluations prefer [`Localizer`], which sorts the points once and visits only
    /// those near y.
    Empirical { points: Vec<f64>, bandwidth: f64 },
}

/// One component p N(m, s²) of a Gaussian mixture (`var` is s², not s).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Component {
    pub weight: f64,
    pub mean: f64,
    pub var: f64,
}

/// Posterior of rX given Y_r = y: `mean` = E[rX | Y_r = y], `var` = L_r(y) =
/// Var[rX | Y_r = y].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Posterior {
    pub mean: f64,
    pub var: f64,
}

/// Why a measure's parameters are unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeasureError {
    #[error("{what} must be a finite number, got {value}")]
    NotFinite { what: String, value: f64 },
    #[error("{what} must be non-negative (it is a variance or a kernel width), got {value}")]
    Negative { what: String, value: f64 },
    #[error("uniform needs low < high, got low = {low}, high = {high}")]
    EmptyInterval { low: f64, high: f64 },
    #[error("mixture component {index} has weight {weight}; weights must be positive")]
    NonPositiveWeight { index: usize, weight: f64 },
    #[error("mixture weights sum to {sum}, not 1 (tolerance 1e-9)")]
    WeightsDoNotSumToOne { sum: f64 },
    #[error("{what} is empty; it needs at least one {item}")]
    Empty {
        what: &'static str,
        item: &'static str,
    },
}

fn finite(what: impl FnOnce() -> String, value: f64) -> Result<(), MeasureError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(MeasureError::NotFinite {
            what: what(),
            value,
        })
    }
}

fn non_negative(what: impl Fn() -> String, value: f64) -> Result<(), MeasureError> {
    finite(&what, value)?;
    if value >= 0.0 {
        Ok(())
    } else {
        Err(MeasureError::Negative {
            what: what(),
            value,
        })
    }
}

/// y_j = centre_k + sd_k z_j with k the number of partial weight sums in `cum` that
/// are ≤ u_j: a mixture draw, branch-free and vectorised across draws (at the widest
/// vectors of this CPU, see `crate::simd`; the same operations at any width).
fn pick_components(cum: &[f64], centre: &[f64], sd: &[f64], z: &[f64], u: &[f64], y: &mut [f64]) {
    #[inline(always)]
    fn plain(cum: &[f64], centre: &[f64], sd: &[f64], z: &[f64], u: &[f64], y: &mut [f64]) {
        let n = y.len().min(DRAW_BLOCK);
        let mut k = [0u32; DRAW_BLOCK];
        for &c in cum {
            for (k, &u) in k[..n].iter_mut().zip(&u[..n]) {
                *k += u32::from(c <= u);
            }
        }
        for j in 0..n {
            let i = k[j] as usize;
            y[j] = centre[i] + sd[i] * z[j];
        }
    }
    crate::simd::vectorised! {
        fn wide(cum: &[f64], centre: &[f64], sd: &[f64], z: &[f64], u: &[f64], y: &mut [f64]) = plain;
    }
    #[cfg(target_arch = "x86_64")]
    let done = if cum.len() < 4 && crate::simd::width() == crate::simd::Width::Avx2 {
        // SAFETY: `width` reports AVX2 only where this CPU has it.
        unsafe { pick_four_avx2(cum, centre, sd, z, u, y) }
    } else {
        0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    wide(cum, centre, sd, &z[done..], &u[done..], &mut y[done..])
}

/// [`pick_components`] for at most four components, four draws at a time, over the
/// whole groups of four; returns the number of draws made (the rest are the caller's).
/// The component's index k is counted in each lane by comparisons, and its centre and
/// sd are picked from registers holding all four (a permutation of 32-bit halves by
/// the index pair 2k, 2k + 1) instead of loaded draw by draw. The same values and the
/// same multiply and add as the plain code, so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn pick_four_avx2(
    cum: &[f64],
    centre: &[f64],
    sd: &[f64],
    z: &[f64],
    u: &[f64],
    y: &mut [f64],
) -> usize {
    use std::arch::x86_64::*;
    let n = y.len().min(z.len()).min(u.len());
    let four = |v: &[f64]| {
        let mut a = [0.0; 4];
        a[..v.len().min(4)].copy_from_slice(&v[..v.len().min(4)]);
        _mm256_setr_pd(a[0], a[1], a[2], a[3])
    };
    let (centres, sds) = (_mm256_castpd_ps(four(centre)), _mm256_castpd_ps(four(sd)));
    let cums: [__m256d; 3] =
        std::array::from_fn(|i| _mm256_set1_pd(cum.get(i).copied().unwrap_or(f64::INFINITY)));
    let one = _mm256_set1_epi64x(1);
    let quads = n / 4;
    for q in 0..quads {
        let at = 4 * q;
        // SAFETY: at + 4 ≤ n ≤ the length of each slice.
        let (uq, zq) = unsafe {
            (
                _mm256_loadu_pd(u.as_ptr().add(at)),
                _mm256_loadu_pd(z.as_ptr().add(at)),
            )
        };
        // k = Σ [cum_i ≤ u] (a true comparison is -1 in its lane).
        let mut k = _mm256_setzero_si256();
        for &c in &cums {
            k = _mm256_sub_epi64(k, _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_LE_OQ>(c, uq)));
        }
        let lo = _mm256_add_epi64(k, k);
        let idx = _mm256_or_si256(lo, _mm256_slli_epi64::<32>(_mm256_add_epi64(lo, one)));
        let c = _mm256_castps_pd(_mm256_permutevar8x32_ps(centres, idx));
        let s = _mm256_castps_pd(_mm256_permutevar8x32_ps(sds, idx));
        let v = _mm256_add_pd(c, _mm256_mul_pd(s, zq));
        // SAFETY: at + 4 ≤ n ≤ y.len().
        unsafe { _mm256_storeu_pd(y.as_mut_ptr().add(at), v) };
    }
    4 * quads
}

impl Measure {
    /// The law as a Gaussian mixture Σ p_i N(m_i, s_i²): its components (weight, mean,
    /// variance; variance 0 for a point mass, an empirical measure's points with its
    /// kernel width), or None for the uniform, which has no such form.
    pub fn gaussian_components(&self) -> Option<Vec<Component>> {
        let one = |mean: f64, var: f64| Component {
            weight: 1.0,
            mean,
            var,
        };
        Some(match self {
            Measure::Point { at } => vec![one(*at, 0.0)],
            Measure::Normal { mean, var } => vec![one(*mean, *var)],
            Measure::Mixture(cs) => cs.clone(),
            Measure::Empirical { points, bandwidth } => {
                let weight = 1.0 / points.len() as f64;
                let var = bandwidth * bandwidth;
                points
                    .iter()
                    .map(|&mean| Component { weight, mean, var })
                    .collect()
            }
            Measure::Uniform { .. } => return None,
        })
    }

    /// Mean and variance of X ~ μ, exact (an empirical measure's kernel width adds its
    /// variance).
    pub fn mean_and_variance(&self) -> (f64, f64) {
        match self {
            Measure::Point { at } => (*at, 0.0),
            Measure::Normal { mean, var } => (*mean, *var),
            Measure::Uniform { low, high } => (0.5 * (low + high), (high - low).powi(2) / 12.0),
            Measure::Mixture(cs) => {
                let mean: f64 = cs.iter().map(|c| c.weight * c.mean).sum();
                let second: f64 = cs
                    .iter()
                    .map(|c| c.weight * (c.var + c.mean * c.mean))
                    .sum();
                (mean, second - mean * mean)
            }
            Measure::Empirical { points, bandwidth } => {
                let n = points.len() as f64;
                let mean = points.iter().sum::<f64>() / n;
                let var = points.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
                (mean, var + bandwidth * bandwidth)
            }
        }
    }

    /// ½δ_{-μ} + ½δ_{+μ}, the paper's Example 4 for μ = 1.
    pub fn two_point(mu: f64) -> Self {
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

    /// The paper's Examples 1–6 (Section 5), by number: 1 δ_0; 2 N(0, 1);
    /// 3 Uniform(-1, 1); 4 ½δ_{-1} + ½δ_{+1}; 5 ½δ_0 + ½N(0, 1);
    /// 6 0.1N(-4, 1) + 0.2N(-2, 0.5) + 0.4N(2, 0.5) + 0.3N(4, 1) (second parameter the
    /// variance). None for any other number.
    pub fn paper_example(number: u32) -> Option<Self> {
        let c = |weight, mean, var| Component { weight, mean, var };
        Some(match number {
            1 => Measure::Point { at: 0.0 },
            2 => Measure::Normal {
                mean: 0.0,
                var: 1.0,
            },
            3 => Measure::Uniform {
                low: -1.0,
                high: 1.0,
            },
            4 => Measure::two_point(1.0),
            5 => Measure::Mixture(vec![c(0.5, 0.0, 0.0), c(0.5, 0.0, 1.0)]),
            6 => Measure::Mixture(vec![
                c(0.1, -4.0, 1.0),
                c(0.2, -2.0, 0.5),
                c(0.4, 2.0, 0.5),
                c(0.3, 4.0, 1.0),
            ]),
            _ => return None,
        })
    }

    /// Check that every parameter is usable: finite, variances ≥ 0, low < high,
    /// weights > 0 summing to 1 within 1e-9, at least one component or point.
    pub fn validate(&self) -> Result<(), MeasureError> {
        match self {
            Measure::Point { at } => finite(|| "point mass location `at`".into(), *at),
            Measure::Normal { mean, var } => {
                finite(|| "normal `mean`".into(), *mean)?;
                non_negative(|| "normal `var`".into(), *var)
            }
            Measure::Uniform { low, high } => {
                finite(|| "uniform `low`".into(), *low)?;
                finite(|| "uniform `high`".into(), *high)?;
                if low < high {
                    Ok(())
                } else {
                    Err(MeasureError::EmptyInterval {
                        low: *low,
                        high: *high,
                    })
                }
            }
            Measure::Mixture(cs) => {
                if cs.is_empty() {
                    return Err(MeasureError::Empty {
                        what: "mixture",
                        item: "component",
                    });
                }
                let mut sum = 0.0;
                for (i, c) in cs.iter().enumerate() {
                    finite(|| format!("mixture component {i} `weight`"), c.weight)?;
                    if c.weight <= 0.0 {
                        return Err(MeasureError::NonPositiveWeight {
                            index: i,
                            weight: c.weight,
                        });
                    }
                    finite(|| format!("mixture component {i} `mean`"), c.mean)?;
                    non_negative(|| format!("mixture component {i} `var`"), c.var)?;
                    sum += c.weight;
                }
                if (sum - 1.0).abs() > 1e-9 {
                    return Err(MeasureError::WeightsDoNotSumToOne { sum });
                }
                Ok(())
            }
            Measure::Empirical { points, bandwidth } => {
                if points.is_empty() {
                    return Err(MeasureError::Empty {
                        what: "empirical measure",
                        item: "point",
                    });
                }
                for (i, &x) in points.iter().enumerate() {
                    finite(|| format!("empirical point {i}"), x)?;
                }
                non_negative(|| "empirical `bandwidth`".into(), *bandwidth)
            }
        }
    }

    /// Prepare this measure at SNR r for many evaluations (see [`Localizer`]).
    pub fn localizer(&self, r: f64) -> Localizer {
        Localizer::new(self, r)
    }

    /// One draw of X ~ μ.
    pub fn sample_x<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Measure::Point { at } => *at,
            Measure::Normal { mean, var } => mean + var.sqrt() * standard_normal(rng),
            Measure::Uniform { low, high } => low + (high - low) * uniform_open01(rng),
            Measure::Mixture(cs) => {
                let pick = pick_component(cs, uniform_open01(rng));
                if pick.var > 0.0 {
                    pick.mean + pick.var.sqrt() * standard_normal(rng)
                } else {
                    pick.mean
                }
            }
            Measure::Empirical { points, bandwidth } => {
                let x = points[uniform_index(rng, points.len())];
                if *bandwidth > 0.0 {
                    x + bandwidth * standard_normal(rng)
                } else {
                    x
                }
            }
        }
    }

    /// One draw of Y_r = rX + Z, Z ~ N(0, 1) independent of X.
    pub fn sample_y<R: Rng + ?Sized>(&self, r: f64, rng: &mut R) -> f64 {
        let x = self.sample_x(rng);
        r * x + standard_normal(rng)
    }

    /// Draw i of Y_r = rX + Z on the counter-based `stream`: a fixed function of
    /// (stream, i), equal to element j of [`Measure::sample_y_batch`] started at i - j.
    /// A Gaussian component N(m, s²) is drawn in one normal, Y = rm + √(r²s² + 1) Z
    /// (the same law as r(m + sZ') + Z); a mixture picks its component with uniform
    /// draw i, an empirical measure its point with word i of the uniform sub-stream.
    pub fn sample_y_at(&self, r: f64, stream: &Stream, i: u64) -> f64 {
        let mut out = [0.0];
        self.sample_y_batch(r, stream, i, &mut out);
        out[0]
    }

    /// Fill `out` with draws `start`, `start + 1`, … of Y_r from the counter-based
    /// `stream` (see [`Measure::sample_y_at`]): the normals and uniforms of a block
    /// are generated together (vectorised), the kind matched once per call and a
    /// mixture's component picked without branches.
    pub fn sample_y_batch(&self, r: f64, stream: &Stream, start: u64, out: &mut [f64]) {
        sample_y_wide(self, r, stream, start, out)
    }

    /// Posterior summary at y without allocating (same kernels as [`Localizer`]).
    #[inline]
    fn moments(&self, r: f64, y: f64) -> Moments {
        match self {
            Measure::Point { at } => {
                mixture_moments(y, std::iter::once(Prep::new(r, 1.0, *at, 0.0)))
            }
            Measure::Normal { mean, var } => {
                mixture_moments(y, std::iter::once(Prep::new(r, 1.0, *mean, *var)))
            }
            Measure::Uniform { low, high } => {
                let (lo, hi) = if r >= 0.0 {
                    (r * low, r * high)
                } else {
                    (r * high, r * low)
                };
                uniform_moments(&UniformPrep::new(lo, hi), y)
            }
            Measure::Mixture(cs) => {
                mixture_moments(y, cs.iter().map(|c| Prep::new(r, c.weight, c.mean, c.var)))
            }
            Measure::Empirical { points, bandwidth } => {
                let w = 1.0 / points.len() as f64;
                let v = bandwidth * bandwidth;
                mixture_moments(y, points.iter().map(|&x| Prep::new(r, w, x, v)))
            }
        }
    }

    /// ln p_{Y_r}(y).
    pub fn log_density_y(&self, r: f64, y: f64) -> f64 {
        self.moments(r, y).log_density()
    }

    /// p_{Y_r}(y).
    pub fn density_y(&self, r: f64, y: f64) -> f64 {
        self.log_density_y(r, y).exp()
    }

    /// E[rX | Y_r = y] and L_r(y) = Var[rX | Y_r = y], in one pass.
    pub fn posterior(&self, r: f64, y: f64) -> Posterior {
        let m = self.moments(r, y);
        Posterior {
            mean: y + m.shift,
            var: m.var,
        }
    }

    /// L_r(y) = Var[rX | Y_r = y] = 1 + (log p_{Y_r})''(y) (Prop. 3 in 1-D).
    pub fn localization(&self, r: f64, y: f64) -> f64 {
        self.moments(r, y).var
    }

    /// (log p_{Y_r})'(y) = E[rX | Y_r = y] - y (Tweedie, Prop. 2).
    pub fn score_y(&self, r: f64, y: f64) -> f64 {
        self.moments(r, y).shift
    }

    /// Score ∇log p_{μ_t}(x) of the OU law μ_t (β = 1, t > 0): with σ_t² = 1 - e^{-2t}
    /// and r = r(t), X_t = σ_t Y_r, so the score is (E[rX | Y_r = x/σ_t] - x/σ_t)/σ_t.
    pub fn ou_score(&self, t: f64, x: f64) -> f64 {
        let sigma = (-(-2.0 * t).exp_m1()).sqrt();
        let r = (-t).exp() / sigma;
        self.score_y(r, x / sigma) / sigma
    }
}

/// The component a uniform u ∈ (0, 1) picks: the first whose cumulative weight exceeds
/// u. Rounding in the cumulative sum can leave u above the total; the last component
/// then takes it.
#[inline]
fn pick_component(cs: &[Component], u: f64) -> Component {
    let mut acc = 0.0;
    for c in cs {
        acc += c.weight;
        if u < acc {
            return *c;
        }
    }
    cs[cs.len() - 1]
}

crate::simd::vectorised! {
    /// [`sample_y_plain`] compiled for the widest vectors of this CPU (the loops that
    /// combine the draws vectorise; the same arithmetic at every width).
    fn sample_y_wide(m: &Measure, r: f64, stream: &Stream, start: u64, out: &mut [f64]) = sample_y_plain;
}

/// [`Measure::sample_y_batch`].
#[inline(always)]
fn sample_y_plain(m: &Measure, r: f64, stream: &Stream, start: u64, out: &mut [f64]) {
    let mut z = [0.0; DRAW_BLOCK];
    let mut u = [0.0; DRAW_BLOCK];
    for (b, block) in out.chunks_mut(DRAW_BLOCK).enumerate() {
        let first = start.wrapping_add((b * DRAW_BLOCK) as u64);
        let n = block.len();
        let (z, u) = (&mut z[..n], &mut u[..n]);
        stream.normals(first, z);
        match m {
            Measure::Point { at } => {
                let rx = r * at;
                for (y, &z) in block.iter_mut().zip(z.iter()) {
                    *y = rx + z;
                }
            }
            Measure::Normal { mean, var } => {
                let (centre, sd) = (r * mean, (r * r * var + 1.0).sqrt());
                for (y, &z) in block.iter_mut().zip(z.iter()) {
                    *y = centre + sd * z;
                }
            }
            Measure::Uniform { low, high } => {
                stream.uniforms(first, u);
                let width = high - low;
                for ((y, &z), &u) in block.iter_mut().zip(z.iter()).zip(u.iter()) {
                    *y = r * (low + width * u) + z;
                }
            }
            Measure::Mixture(cs) if cs.len() <= MAX_BRANCH_FREE => {
                stream.uniforms(first, u);
                // The component is the first with u < Σ_{j≤i} w_j (the last if
                // rounding leaves u above the total), i.e. the number of partial
                // sums among the first n - 1 that are ≤ u.
                let mut cum = [f64::INFINITY; MAX_BRANCH_FREE];
                let mut centre = [0.0; MAX_BRANCH_FREE];
                let mut sd = [0.0; MAX_BRANCH_FREE];
                let mut acc = 0.0;
                for (k, c) in cs.iter().enumerate() {
                    acc += c.weight;
                    cum[k] = acc;
                    centre[k] = r * c.mean;
                    sd[k] = (r * r * c.var + 1.0).sqrt();
                }
                pick_components(&cum[..cs.len() - 1], &centre, &sd, z, u, block);
            }
            Measure::Mixture(cs) => {
                stream.uniforms(first, u);
                for ((y, &z), &u) in block.iter_mut().zip(z.iter()).zip(u.iter()) {
                    let pick = pick_component(cs, u);
                    *y = r * pick.mean + (r * r * pick.var + 1.0).sqrt() * z;
                }
            }
            Measure::Empirical { points, bandwidth } => {
                let sd = (r * r * bandwidth * bandwidth + 1.0).sqrt();
                for (j, (y, &z)) in block.iter_mut().zip(z.iter()).enumerate() {
                    let k = stream.index(first.wrapping_add(j as u64), points.len());
                    *y = r * points[k] + sd * z;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
