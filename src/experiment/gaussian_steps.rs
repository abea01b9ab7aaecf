//! Kind `gaussian_steps`: the paper's one-step statements (Sections 3–4) computed
//! exactly for Gaussian laws with the Gaussian engine (`particles::Gaussian`).
//!
//! μ_0 = N(mean, s²) for each s² of a list (the introduction's example has mean 1),
//! and a second law ν_0 (a fixed N(m, v), a point mass when v = 0, or μ_0 moved by a
//! shift). Under the OU flow (β = 1) both stay Gaussian and every map of the paper is
//! affine, so each quantity below is a W₂ between Gaussians, exact up to rounding:
//!
//! - `backward` (Thm. 2, Cor. 1, intro example): for k = 1..steps and t = kη, the ratio
//!   W(b#μ_t, b#ν_t)/W(μ_t, ν_t) with b = b^{μ,η}_t, beside the intro example's closed
//!   form 1 + η(s² - 1)/(e^{2kη} + s² - 1), Thm. 2's bound 1 + η(κ - ζ_t) (κ = 1,
//!   ζ_t = 1/Var μ_t, attained by Cor. 1) and the forward rate 1 - η.
//! - `regimes`, one row per s²: the smallest and largest backward ratio, the last k at
//!   which the backward step contracts faster than 1 - η, and the closed-form horizon
//!   ln(2(1 - s²))/(2η) (NaN when s² ≥ ½: there is no such k).
//! - `forward` (Thm. 1): for k = 0..steps-1, W(μ_{t+η}, ν_{t+η})/W(μ_t, ν_t) under the
//!   exact OU transition, against e^{-η} and 1 - η; `own_backward` is the ratio after
//!   each law is moved back from t + η by the backward map of its own score, and
//!   `round_trip` the product of the two.
//! - `defect` (Thm. 3) at the given times and over `eta_grid`: W(b∘f#μ_t, μ_t), and one
//!   diffuse-then-denoise step for the pure shift ν_t = μ_t - 1, against 1 - ηζ_t.
//!   `defect_fit` gives their log-log slopes in η (2 for an O(η²) error).
//! - `chained` (Cor. 2) over `eta_grid` with K = round(horizon/η) steps:
//!   W²(μ_0, b_[K] f_[K] # ν_0)/W²(μ_0, ν_0) against exp(-2η Σ_k ζ_{kη}), and
//!   `chained_fit` the log-log slope of |ln bound - ln ratio| in η (the corollary's
//!   O(η²) per step sums to O(η) over K = horizon/η steps, so the log-gap over η stays
//!   bounded and the slope is 1 when the bound is sharp).
//!
//! ```yaml
//! id: intro-gaussian
//! kind: gaussian_steps
//! mean: 1                        # μ_0 = N(mean, s²)
//! s2: [0.1, 0.3, 0.6, 2, 4]
//! nu0: {mean: 0, var: 0}         # or {shift: -1}; default δ_0
//! eta: 0.01                     # for backward, regimes, forward
//! steps: 150
//! eta_grid: {from: 0.001, to: 0.05, n: 10, log: true}   # for defect and chained
//! times: [0.1, 0.5, 1.5]                                # for defect
//! horizon: 1                                            # Kη for chained
//! tables: {backward: ig-backward, regimes: ig-regimes, forward: ig-forward}
//! ```
//!
//! Column lists are in [`validate`] (each documented); every table is optional, but
//! `defect`/`defect_fit` need `eta_grid` and `times`, and `chained`/`chained_fit` need
//! `eta_grid` and `horizon`.

use serde::Deserialize;

use super::{Common, KindSpec, Validated};
use crate::localize::closed_form::{gaussian_backward_slope, gaussian_fast_contraction_horizon};
use crate::particles::{
    chained_ratio, denoise_defect, diffuse_denoise_ratio, forward_contraction_ratio, Gaussian,
};
use crate::spec::{BlockCtx, Grid, Num};
use crate::table::{ColumnDecl, Rows, Table, TableSchema};

pub const ROLES: &[&str] = &[
    "backward",
    "regimes",
    "forward",
    "defect",
    "defect_fit",
    "chained",
    "chained_fit",
];

/// Ceiling on `steps` and on K = horizon/η (each step is a few flops; the ceiling
/// keeps table sizes sane).
const MAX_STEPS: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    mean: Option<Num>,
    s2: Grid,
    #[serde(default)]
    nu0: Option<RawNu>,
    #[serde(default)]
    eta: Option<Num>,
    #[serde(default)]
    steps: Option<usize>,
    #[serde(default)]
    eta_grid: Option<Grid>,
    #[serde(default)]
    times: Option<Grid>,
    #[serde(default)]
    horizon: Option<Num>,
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "{mean: M, var: V} or {shift: S}")]
enum RawNu {
    Law(RawLaw),
    Shift(RawShift),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLaw {
    mean: Num,
    var: Num,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShift {
    shift: Num,
}

/// The second law ν_0.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum Nu {
    /// A fixed N(mean, var) (var = 0: a point mass).
    Law(Gaussian),
    /// μ_0 moved by `shift` (same variance: the sharp case of Cor. 1 and Cor. 2).
    Shift(f64),
}

impl Nu {
    fn for_mu(&self, mu0: Gaussian) -> Gaussian {
        match *self {
            Nu::Law(g) => g,
            Nu::Shift(s) => Gaussian {
                mean: mu0.mean + s,
                sd: mu0.sd,
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Spec {
    pub mean: f64,
    pub s2: Vec<f64>,
    pub nu0: Nu,
    /// Step and step count of the per-step tables (NaN and 0 when none is asked for).
    pub eta: f64,
    pub steps: usize,
    pub eta_grid: Vec<f64>,
    pub times: Vec<f64>,
    pub horizon: Option<f64>,
    /// Role → table name, in the order of `Experiment::outputs`.
    pub tables: Vec<(String, String)>,
}

/// The columns of the table of `role`.
fn columns(role: &str) -> Vec<ColumnDecl> {
    let n = ColumnDecl::number;
    let s2 = || n("s2", "variance s² of μ_0 = N(mean, s²)");
    match role {
        "backward" => vec![
            s2(),
            n("k", "step index k"),
            n("t", "time t = kη at which the backward step starts"),
            n("zeta", "curvature ζ_t = 1/Var μ_t"),
            n("ratio", "W(b#μ_t, b#ν_t)/W(μ_t, ν_t), b = b^{μ,η}_t"),
            n("closed_form", "1 + η(s² - 1)/(e^{2kη} + s² - 1) (intro example)"),
            n("bound", "1 + η(κ - ζ_t), κ = 1 (Thm. 2; equality by Cor. 1)"),
            n("forward", "the forward rate 1 - η"),
        ],
        "regimes" => vec![
            s2(),
            n("min_ratio", "smallest backward ratio over k"),
            n("max_ratio", "largest backward ratio over k"),
            n("last_fast_k", "last k with ratio < 1 - η (0 if none)"),
            n("horizon", "ln(2(1 - s²))/(2η); NaN when s² ≥ 1/2"),
            n(
                "predicted_last_fast_k",
                "the last integer below the horizon, capped at `steps` (0 when s² ≥ 1/2)",
            ),
        ],
        "forward" => vec![
            s2(),
            n("k", "step index k"),
            n("t", "time t = kη at which the forward step starts"),
            n("ratio", "W(μ_{t+η}, ν_{t+η})/W(μ_t, ν_t), exact OU transition"),
            n("exp_bound", "e^{-η}"),
            n("first_order", "1 - η"),
            n(
                "own_backward",
                "W after each law takes one backward step with its own score, over W(μ_{t+η}, ν_{t+η})",
            ),
            n("round_trip", "ratio × own_backward"),
        ],
        "defect" => vec![
            s2(),
            n("t", "time t"),
            n("eta", "step η"),
            n("defect", "W(b∘f#μ_t, μ_t) (Thm. 3)"),
            n("defect_scaled", "defect/η²"),
            n(
                "dd_ratio",
                "W(μ_t, b#OU_η ν_t)/W(μ_t, ν_t) for ν_t = μ_t - 1",
            ),
            n("dd_first_order", "1 - ηζ_t"),
            n("dd_error", "|dd_ratio - dd_first_order|"),
        ],
        "defect_fit" => vec![
            s2(),
            n("t", "time t"),
            n("defect_slope", "least-squares slope of ln defect on ln η"),
            n("dd_slope", "least-squares slope of ln dd_error on ln η"),
        ],
        "chained" => vec![
            s2(),
            n("eta", "step η"),
            n("steps", "K = round(horizon/η)"),
            n("ratio", "W²(μ_0, b_[K] f_[K] # ν_0)/W²(μ_0, ν_0)"),
            n("bound", "exp(-2η Σ_{k=1..K} ζ_{kη}) (Cor. 2 without its O(η²))"),
            n("log_gap", "ln bound - ln ratio"),
            n(
                "log_gap_per_eta",
                "log_gap/η: bounded when the neglected terms are O(η²) per step",
            ),
        ],
        "chained_fit" => vec![
            s2(),
            n("gap_slope", "least-squares slope of ln |log_gap| on ln η"),
        ],
        _ => unreachable!("roles are checked by common_tables"),
    }
}

pub fn validate(ctx: &mut BlockCtx, common: &Common) -> Option<Validated> {
    let raw: Raw = common.fields(ctx)?;
    let tables = common.tables.clone();
    let mean = match &raw.mean {
        Some(m) => ctx.num_where(m, "mean", "a finite number", |_| true),
        None => Some(1.0),
    };
    let s2 = ctx.grid(&raw.s2, "s2", "a variance ≥ 0", |v| v >= 0.0);
    let nu0 = match &raw.nu0 {
        None => Some(Nu::Law(Gaussian { mean: 0.0, sd: 0.0 })),
        Some(RawNu::Law(l)) => {
            let m = ctx.num_where(&l.mean, "nu0.mean", "a finite number", |_| true);
            let v = ctx.num_where(&l.var, "nu0.var", "a variance ≥ 0", |v| v >= 0.0);
            Some(Nu::Law(Gaussian::from_var(m?, v?)))
        }
        Some(RawNu::Shift(s)) => ctx
            .num_where(&s.shift, "nu0.shift", "a non-zero finite number", |v| {
                v != 0.0
            })
            .map(Nu::Shift),
    };
    let needs = |roles: &[&str]| roles.iter().any(|r| tables.contains_key(*r));
    let per_step = needs(&["backward", "regimes", "forward"]);
    let eta = match &raw.eta {
        Some(e) => ctx.num_where(e, "eta", "in (0, 1)", |v| v > 0.0 && v < 1.0),
        None if per_step => {
            ctx.error_hint(
                "eta",
                "the `backward`, `regimes` and `forward` tables need the step η",
                "add e.g. `eta: 0.01`",
            );
            None
        }
        None => Some(f64::NAN),
    };
    let steps = match raw.steps {
        Some(k) if k == 0 || k > MAX_STEPS => {
            ctx.error(
                "steps",
                format!("`steps` must be between 1 and {MAX_STEPS}"),
            );
            None
        }
        Some(k) => Some(k),
        None if per_step => {
            ctx.error_hint(
                "steps",
                "the `backward`, `regimes` and `forward` tables need the number of steps",
                "add e.g. `steps: 150`",
            );
            None
        }
        None => Some(0),
    };
    let eta_grid = super::optional_grid(
        ctx,
        &raw.eta_grid,
        "eta_grid",
        "in (0, 1)",
        |v| v > 0.0 && v < 1.0,
        needs(&["defect", "defect_fit", "chained", "chained_fit"]).then_some((
            "the `defect` and `chained` tables need a grid of steps",
            "add e.g. `eta_grid: {from: 0.001, to: 0.05, n: 10, log: true}`",
        )),
    );
    let times = super::optional_grid(
        ctx,
        &raw.times,
        "times",
        "positive",
        |v| v > 0.0 && v <= 50.0,
        needs(&["defect", "defect_fit"]).then_some((
            "the `defect` tables need the times t at which to take the step",
            "add e.g. `times: [0.1, 0.5, 1.5]`",
        )),
    );
    let horizon = match &raw.horizon {
        Some(h) => ctx
            .num_where(h, "horizon", "positive", |v| v > 0.0 && v <= 50.0)
            .map(Some),
        None if needs(&["chained", "chained_fit"]) => {
            ctx.error_hint(
                "horizon",
                "the `chained` tables need the total time Kη",
                "add e.g. `horizon: 1`",
            );
            None
        }
        None => Some(None),
    };
    let (mean, s2, nu0, eta, steps, eta_grid, times, horizon) =
        (mean?, s2?, nu0?, eta?, steps?, eta_grid?, times?, horizon?);
    if let Some(h) = horizon {
        if let Some(e) = eta_grid
            .iter()
            .find(|&&e| (h / e).round() > MAX_STEPS as f64)
        {
            ctx.error(
                "eta_grid",
                format!("η = {e} needs more than {MAX_STEPS} steps to reach the horizon {h}"),
            );
            return None;
        }
    }
    if needs(&["defect_fit", "chained_fit"]) && eta_grid.len() < 2 {
        ctx.error(
            "eta_grid",
            "fitting a slope needs at least two values in `eta_grid`",
        );
        return None;
    }
    // A ratio of distances needs ν_0 ≠ μ_0.
    if let Some(&v) = s2
        .iter()
        .find(|&&v| nu0.for_mu(Gaussian::from_var(mean, v)) == Gaussian::from_var(mean, v))
    {
        ctx.error(
            "nu0",
            format!("ν_0 equals μ_0 = N({mean}, {v}); the ratios need two different laws"),
        );
        return None;
    }
    let ordered = common.ordered_tables();
    let outputs = common.schemas(columns);
    Some((
        outputs,
        KindSpec::GaussianSteps(Spec {
            mean,
            s2,
            nu0,
            eta,
            steps,
            eta_grid,
            times,
            horizon,
            tables: ordered,
        }),
    ))
}

/// Least-squares slope of ln y against ln x over the pairs where both are positive and
/// finite; NaN with fewer than two such pairs.
pub(crate) fn loglog_slope(xs: &[f64], ys: &[f64]) -> f64 {
    let pts: Vec<(f64, f64)> = xs
        .iter()
        .zip(ys)
        .filter(|(x, y)| **x > 0.0 && **y > 0.0 && x.is_finite() && y.is_finite())
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    if pts.len() < 2 {
        return f64::NAN;
    }
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    sxy / sxx
}

/// The backward ratio at step k for μ_0 (ν_t = ν_0 diffused to t = kη).
fn backward_ratio(mu0: Gaussian, nu0: Gaussian, t: f64, eta: f64) -> f64 {
    let b = mu0.backward_map(t, eta);
    let (mu_t, nu_t) = (mu0.at(t), nu0.at(t));
    mu_t.push(&b).w2(&nu_t.push(&b)) / mu_t.w2(&nu_t)
}

pub fn run(s: &Spec, outputs: &[TableSchema]) -> Result<Vec<Table>, String> {
    let eta = s.eta;
    let laws: Vec<(f64, Gaussian, Gaussian)> =
        s.s2.iter()
            .map(|&v| {
                let mu0 = Gaussian::from_var(s.mean, v);
                (v, mu0, s.nu0.for_mu(mu0))
            })
            .collect();
    let mut out = Vec::new();
    for ((role, _), schema) in s.tables.iter().zip(outputs) {
        let mut cols = Rows::new(schema);
        match role.as_str() {
            "backward" => {
                for &(v, mu0, nu0) in &laws {
                    for k in 1..=s.steps {
                        let t = k as f64 * eta;
                        let zeta = mu0.curvature(t);
                        cols.push(
                            &[],
                            &[
                                v,
                                k as f64,
                                t,
                                zeta,
                                backward_ratio(mu0, nu0, t, eta),
                                gaussian_backward_slope(v, k as f64, eta),
                                1.0 + eta * (1.0 - zeta),
                                1.0 - eta,
                            ],
                        );
                    }
                }
            }
            "regimes" => {
                for &(v, mu0, nu0) in &laws {
                    let ratios: Vec<f64> = (1..=s.steps)
                        .map(|k| backward_ratio(mu0, nu0, k as f64 * eta, eta))
                        .collect();
                    let last_fast = ratios
                        .iter()
                        .rposition(|&r| r < 1.0 - eta)
                        .map_or(0, |i| i + 1);
                    let horizon = gaussian_fast_contraction_horizon(v, eta);
                    // k < H for integers k ≥ 1: the last is ⌈H⌉ - 1.
                    let predicted = if horizon.is_nan() {
                        0.0
                    } else {
                        (horizon.ceil() - 1.0).clamp(0.0, s.steps as f64)
                    };
                    cols.push(
                        &[],
                        &[
                            v,
                            ratios.iter().copied().fold(f64::INFINITY, f64::min),
                            ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                            last_fast as f64,
                            horizon,
                            predicted,
                        ],
                    );
                }
            }
            "forward" => {
                for &(v, mu0, nu0) in &laws {
                    for k in 0..s.steps {
                        let t = k as f64 * eta;
                        let (mu_t, nu_t) = (mu0.at(t), nu0.at(t));
                        let ratio = forward_contraction_ratio(mu_t, nu_t, eta);
                        let (mu_n, nu_n) = (mu0.at(t + eta), nu0.at(t + eta));
                        let own = mu_n
                            .push(&mu0.backward_map(t + eta, eta))
                            .w2(&nu_n.push(&nu0.backward_map(t + eta, eta)))
                            / mu_n.w2(&nu_n);
                        cols.push(
                            &[],
                            &[
                                v,
                                k as f64,
                                t,
                                ratio,
                                (-eta).exp(),
                                1.0 - eta,
                                own,
                                ratio * own,
                            ],
                        );
                    }
                }
            }
            "defect" | "defect_fit" => {
                for &(v, mu0, _) in &laws {
                    for &t in &s.times {
                        let mu_t = mu0.at(t);
                        let shifted = Gaussian {
                            mean: mu_t.mean - 1.0,
                            sd: mu_t.sd,
                        };
                        let zeta = mu0.curvature(t);
                        let rows: Vec<[f64; 4]> = s
                            .eta_grid
                            .iter()
                            .map(|&e| {
                                let dd = diffuse_denoise_ratio(mu0, shifted, t, e);
                                [e, denoise_defect(mu0, t, e), dd, 1.0 - e * zeta]
                            })
                            .collect();
                        if role == "defect" {
                            for [e, d, dd, first] in rows {
                                cols.push(
                                    &[],
                                    &[v, t, e, d, d / (e * e), dd, first, (dd - first).abs()],
                                );
                            }
                        } else {
                            let defects: Vec<f64> = rows.iter().map(|r| r[1]).collect();
                            let errors: Vec<f64> =
                                rows.iter().map(|r| (r[2] - r[3]).abs()).collect();
                            cols.push(
                                &[],
                                &[
                                    v,
                                    t,
                                    loglog_slope(&s.eta_grid, &defects),
                                    loglog_slope(&s.eta_grid, &errors),
                                ],
                            );
                        }
                    }
                }
            }
            "chained" | "chained_fit" => {
                let horizon = s.horizon.ok_or("internal error: no horizon")?;
                for &(v, mu0, nu0) in &laws {
                    let rows: Vec<[f64; 5]> = s
                        .eta_grid
                        .iter()
                        .map(|&e| {
                            let k = ((horizon / e).round() as usize).max(1);
                            let c = chained_ratio(mu0, nu0, e, k);
                            [e, k as f64, c.ratio, c.bound, c.bound.ln() - c.ratio.ln()]
                        })
                        .collect();
                    if role == "chained" {
                        for [e, k, ratio, bound, gap] in rows {
                            cols.push(&[], &[v, e, k, ratio, bound, gap, gap / e]);
                        }
                    } else {
                        let gaps: Vec<f64> = rows.iter().map(|r| r[4].abs()).collect();
                        cols.push(&[], &[v, loglog_slope(&s.eta_grid, &gaps)]);
                    }
                }
            }
            other => return Err(format!("internal error: unknown role `{other}`")),
        }
        out.push(cols.build()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loglog_slope_recovers_a_power() {
        let xs = [0.001, 0.01, 0.1];
        let ys: Vec<f64> = xs.iter().map(|x| 3.0 * x * x).collect();
        assert!((loglog_slope(&xs, &ys) - 2.0).abs() < 1e-12);
        assert!(loglog_slope(&xs, &[0.0, 0.0, 1.0]).is_nan());
    }

    #[test]
    fn dirac_pair_contracts_and_expands_by_the_same_rate() {
        // δ_1 against δ_0: forward ratio e^{-η}; each law denoised by its own score
        // moves its mean by 1 + η, so W grows by 1 + η (= e^{η} to first order).
        let spec = Spec {
            mean: 1.0,
            s2: vec![0.0],
            nu0: Nu::Law(Gaussian { mean: 0.0, sd: 0.0 }),
            eta: 0.01,
            steps: 5,
            eta_grid: vec![],
            times: vec![],
            horizon: None,
            tables: vec![("forward".into(), "f".into())],
        };
        let schema = TableSchema {
            name: "f".into(),
            columns: columns("forward"),
        };
        let t = run(&spec, &[schema]).unwrap();
        let ratio = t[0].numbers("ratio").unwrap();
        let own = t[0].numbers("own_backward").unwrap();
        for (r, o) in ratio.iter().zip(&own) {
            assert!((r - (-0.01f64).exp()).abs() < 1e-14, "{r}");
            assert!((o - 1.01).abs() < 1e-13, "{o}");
        }
    }
}
