//! Every value asked about one measure at one SNR: the one kernel behind the
//! `complexity` command, the `complexity` experiment and the `plane` experiment.
//!
//! Given a [`Law`] (on the line or in R^d), r and t = t(r) (or r = r(t)), the levels
//! (u for s_r, δ for h, M for ζ*_M) and what to compute, it returns the exact values
//! (`ExactLocalization` on the line, `plane::ExactSpace` in R^d) and/or the Monte
//! Carlo estimates (one named random stream per call) with their standard errors.
//! Front ends only validate their inputs and lay the numbers out.

use rayon::prelude::*;

use super::{Complexity, Estimate, ExactLocalization};
use crate::plane::{ExactSpace, Law};
use crate::rng::StreamId;

/// The levels at which values are wanted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Levels {
    pub us: Vec<f64>,
    pub deltas: Vec<f64>,
    pub ms: Vec<f64>,
}

/// Which groups of values to compute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Want {
    /// sup L_r, m*, δ* (and their Monte Carlo standard errors).
    pub summary: bool,
    pub survival: bool,
    pub tail: bool,
    pub zeta: bool,
}

/// Monte Carlo settings of one call: the stream names the seed and the grid point.
#[derive(Clone, Debug, PartialEq)]
pub struct McSettings {
    /// Draws of Y_r.
    pub samples: usize,
    /// The random stream of the draws.
    pub stream: StreamId,
    /// The δ grid on which m*, δ* and ζ*_M are estimated.
    pub delta_grid: Vec<f64>,
    /// What is evaluated at each draw: L_r, or the paper's eq. (5.3) as printed.
    pub formula: Formula,
}

/// What the Monte Carlo evaluates at its draws of Y_r.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub enum Formula {
    /// The localization L_r(y) = Var[rX | Y_r = y].
    #[default]
    Localization,
    /// The paper's eq. (5.3) as printed (Gaussian mixtures on the line only; see
    /// [`super::printed`]).
    AsPrinted,
}

/// Exact values (NaN or empty where not wanted).
#[derive(Clone, Debug, PartialEq)]
pub struct ExactValues {
    pub sup_l: f64,
    pub complexity: Complexity,
    pub survival: Vec<f64>,
    pub tail: Vec<f64>,
    pub zeta: Vec<f64>,
}

/// Monte Carlo estimates.
#[derive(Clone, Debug, PartialEq)]
pub struct McValues {
    /// The largest sampled L_r.
    pub sup_l: f64,
    pub complexity: Complexity,
    /// Batch-means standard errors of m* and δ*.
    pub complexity_se: Complexity,
    pub zeta_se: Vec<f64>,
    /// 95% upper bound on s_r(1) from the draws (Clopper–Pearson).
    pub s1_upper: f64,
    pub survival: Vec<Estimate>,
    /// Half-width of the 95% DKW band.
    pub dkw: f64,
    pub tail: Vec<Estimate>,
    pub zeta: Vec<f64>,
}

const NAN_COMPLEXITY: Complexity = Complexity {
    m_star: f64::NAN,
    delta_star: f64::NAN,
};

/// An exact engine for either kind of law.
enum Engine {
    Line(Box<ExactLocalization>),
    Space(Box<ExactSpace>),
}

impl Engine {
    fn new(law: &Law, r: f64) -> Result<Self, String> {
        Ok(match law {
            Law::Line(m) => Engine::Line(Box::new(ExactLocalization::new(m, r))),
            Law::Space(m) => Engine::Space(Box::new(ExactSpace::new(m, r)?)),
        })
    }
    fn sup(&self) -> f64 {
        match self {
            Engine::Line(e) => e.sup_localization(),
            Engine::Space(e) => e.sup_localization(),
        }
    }
    fn complexity(&self) -> Complexity {
        match self {
            Engine::Line(e) => e.complexity(),
            Engine::Space(e) => e.complexity(),
        }
    }
    fn survival(&self, u: f64) -> f64 {
        match self {
            Engine::Line(e) => e.survival(u),
            Engine::Space(e) => e.survival(u),
        }
    }
    fn integrated_tail(&self, d: f64) -> f64 {
        match self {
            Engine::Line(e) => e.integrated_tail(d),
            Engine::Space(e) => e.integrated_tail(d),
        }
    }
    fn best_gap(&self, m: f64) -> (f64, f64) {
        match self {
            Engine::Line(e) => e.best_gap(m),
            Engine::Space(e) => e.best_gap(m),
        }
    }
    fn check_converged(&self, label: &str) -> Result<(), String> {
        match self {
            Engine::Line(e) => e.check_converged(label),
            Engine::Space(e) => e.check_converged(label),
        }
    }
}

/// Exact values of `law` at (r, t). ζ*_M(t) lives at r(t); on an r grid that is r up
/// to rounding, and then a second set-up keeps the values identical to those of a t
/// grid. `label` names the measure in errors.
pub fn exact(
    law: &Law,
    label: &str,
    r: f64,
    t: f64,
    levels: &Levels,
    want: Want,
) -> Result<ExactValues, String> {
    let loc = Engine::new(law, r)?;
    let mut res = ExactValues {
        sup_l: f64::NAN,
        complexity: NAN_COMPLEXITY,
        survival: Vec::new(),
        tail: Vec::new(),
        zeta: Vec::new(),
    };
    if want.summary {
        res.sup_l = loc.sup();
        res.complexity = loc.complexity();
    }
    // Each level is its own integral: in parallel (the values do not depend on the
    // order).
    if want.survival {
        res.survival = levels.us.par_iter().map(|&u| loc.survival(u)).collect();
    }
    if want.tail {
        res.tail = levels
            .deltas
            .par_iter()
            .map(|&d| loc.integrated_tail(d))
            .collect();
    }
    if want.zeta {
        let r_t = super::snr(t);
        let other;
        let at_t = if r_t == r {
            &loc
        } else {
            other = Engine::new(law, r_t)?;
            &other
        };
        let sigma2 = super::ou_noise_var(t);
        // Each M is its own search over level sets: in parallel (the values do not
        // depend on the order).
        res.zeta = levels
            .ms
            .par_iter()
            .map(|&bm| {
                if t > 0.0 {
                    at_t.best_gap(bm).1 / sigma2
                } else {
                    f64::NAN
                }
            })
            .collect();
        at_t.check_converged(label)?;
    }
    loc.check_converged(label)?;
    Ok(res)
}

/// n draws of L_r(Y_r) (or of `formula` at Y_r) on the named stream (counter-based on
/// the line, ChaCha8 in R^d). Panics on [`Formula::AsPrinted`] for a law it does not
/// apply to (a uniform, or a law in R^d): the experiment's validation refuses those.
pub fn sample(law: &Law, r: f64, samples: usize, stream: &StreamId, formula: Formula) -> Vec<f64> {
    let (seed, number) = (stream.seed, stream.number());
    match (law, formula) {
        (Law::Line(m), Formula::Localization) => {
            super::sample_localization(m, r, samples, seed, number)
        }
        (Law::Line(m), Formula::AsPrinted) => {
            let f =
                super::printed::PrintedFormula::new(m, r, super::printed::Denominator::AsPrinted)
                    .expect("eq. (5.3) as printed needs a Gaussian mixture");
            super::sample_printed_formula(m, r, samples, seed, number, &f)
        }
        (Law::Space(m), Formula::Localization) => {
            crate::plane::monte_carlo::sample_localization(m, r, samples, seed, number)
        }
        (Law::Space(_), Formula::AsPrinted) => {
            panic!("eq. (5.3) as printed is a formula on the line")
        }
    }
}

/// Monte Carlo estimates of `law` at (r, t), as the paper computed them. ζ*_M and
/// their standard errors are computed whenever M values are given.
pub fn monte_carlo(
    law: &Law,
    r: f64,
    t: f64,
    levels: &Levels,
    want: Want,
    mc: &McSettings,
) -> McValues {
    let samples = sample(law, r, mc.samples, &mc.stream, mc.formula);
    // ĥ on the δ grid once: m*, δ* and every ζ*_M read from it.
    let on_grid =
        (want.summary || !levels.ms.is_empty()).then(|| super::tail_mc(&samples, &mc.delta_grid));
    // Batch means for the standard errors of m*, δ* and every ζ*_M.
    let se = if on_grid.is_some() {
        super::batch_means_se(&samples, |batch| {
            let h = super::tail_mc(batch, &mc.delta_grid);
            let c = super::complexity_from_tail(&mc.delta_grid, &h);
            let mut v = vec![c.m_star, c.delta_star];
            v.extend(
                levels
                    .ms
                    .iter()
                    .map(|&bm| super::zeta_star_from_tail(t, bm, &mc.delta_grid, &h)),
            );
            v
        })
    } else {
        Vec::new()
    };
    let se_at = |k: usize| se.get(k).copied().unwrap_or(f64::NAN);
    let above_one = samples.iter().filter(|&&l| l > 1.0).count();
    McValues {
        s1_upper: super::upper_bound_95(above_one, samples.len()),
        complexity_se: Complexity {
            m_star: se_at(0),
            delta_star: se_at(1),
        },
        zeta_se: (0..levels.ms.len()).map(|j| se_at(2 + j)).collect(),
        sup_l: samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        complexity: match (&on_grid, want.summary) {
            (Some(h), true) => super::complexity_from_tail(&mc.delta_grid, h),
            _ => NAN_COMPLEXITY,
        },
        survival: super::survival_mc(&samples, &levels.us),
        dkw: super::dkw_half_width(samples.len(), 0.05),
        tail: super::tail_mc(&samples, &levels.deltas),
        zeta: levels
            .ms
            .iter()
            .map(|&bm| {
                let h = on_grid.as_ref().expect("computed when M values are given");
                super::zeta_star_from_tail(t, bm, &mc.delta_grid, h)
            })
            .collect(),
    }
}
