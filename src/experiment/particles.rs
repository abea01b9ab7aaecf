//! Kind `particles`: clouds of particles of μ_0 and ν_0 diffused forward and denoised
//! back with the score of μ (the paper's Figures 7, 9 and 11, and the particle side of
//! Thm. 1 and Cor. 1).
//!
//! The particle engine (`particles::run_particles`) moves n particles of each law
//! forward by the exact OU transition (or by the map f^{μ,η}) for K steps of size η,
//! then back by b^{μ,η}_t(x) = x + η(x + ∇log p_{μ_t}(x)), the score of the *true* μ_t,
//! applied to both clouds. This runner turns its output into tables and adds the exact
//! values the clouds estimate:
//!
//! - forward (OU diffusion), W₂(μ_t, ν_t) of the exact OU laws (`ou_law::w2`, quadrature
//!   over quantiles) and the standard error of the particle estimate: the clouds are
//!   independent i.i.d. samples of μ_t and ν_t, and the delta method on
//!   W₂² = ∫₀¹ (F⁻¹ - G⁻¹)² gives Var(Ŵ₂²) ≈ 4(Var Ψ_μ(X) + Var Ψ_ν(Y))/n with
//!   Ψ_μ(x) = ∫_x^∞ (F⁻¹ - G⁻¹)(F(s)) ds (and the same for ν), evaluated on the exact
//!   laws; se(Ŵ₂) = se(Ŵ₂²)/(2W₂). Where ν_t is a point mass this is the plain
//!   standard error of a sample mean of (X - c)².
//! - backward, when μ_0 and ν_0 are both Gaussian (or point masses): the Gaussian
//!   engine's exact trajectory; each backward step then moves both clouds by one affine
//!   map, so the particle ratio W(t_{k-1})/W(t_k) must equal the exact slope
//!   1 + η(1 - ζ_{t_k}) to rounding, whatever the clouds (Cor. 1).
//!
//! ```yaml
//! id: two-point-particles
//! kind: particles
//! measure: {mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}
//! reference: {point: 0}            # ν_0 (default δ_0)
//! n: 20000
//! eta: 0.01
//! steps: 150                        # T = Kη = 1.5
//! forward: diffusion                # or map (needs a smooth μ_0)
//! seed: 7
//! snapshots: [0.01, 0.145, 0.296, 0.597, 0.898, 1.5]
//! bins: 80
//! range: [-4, 4]                    # optional; default: pooled 0.1%–99.9% quantiles
//! replicates: 4                     # optional: independent repeat runs for standard errors
//! mode_bandwidth: [0.1, 0.5]        # optional: kernel widths for the `stats` modes (default 0.1)
//! tables: {snapshots: tp-ridges, distances: tp-w2, steps: tp-steps, summary: tp-denoise,
//!          stats: tp-stats, replicates: tp-reps}
//! ```
//!
//! Each snapshot time is taken at the nearest step, k = round(t/η).
//!
//! Tables (every one optional):
//! - `snapshots`: phase (forward/backward), slot (1, 2, … in the order of `snapshots`),
//!   t (the step's time), measure (μ or ν), lower, upper, center (of each bin), density
//!   (fraction of the cloud in the bin over the bin width).
//! - `distances`: phase, step (k, t = kη), t, w2 (between the clouds), w2_se, w2_exact
//!   (NaN where no exact value exists: forward by the map f, a uniform μ_0, or the
//!   backward phase of non-Gaussian laws; w2_se is NaN outside the forward diffusion).
//! - `steps`: phase, step (1..K in the order taken), t_from, t_to, ratio
//!   (W(t_to)/W(t_from) between the clouds), ratio_exact (the same for the exact laws,
//!   NaN where w2_exact is).
//! - `summary`, one row: n, eta, steps, T, w2_initial (W(μ_0, ν_0) between the initial
//!   clouds), w2_initial_se, w2_initial_exact, w2_denoised (W(μ_0, ν̄_0): the initial
//!   μ-cloud against the denoised ν-cloud), w2_round_trip (W(μ_0, μ̄_0)); with
//!   `replicates: R`, also replicates (R), w2_denoised_se and w2_round_trip_se (the
//!   standard deviation of the value over the R + 1 independent runs of the same size:
//!   the standard error of one run's value) and w2_denoised_mean (their mean).
//! - `stats`: one row per snapshot cloud and kernel width: phase, slot, t, measure,
//!   bandwidth, mean, sd, p_pos (fraction > 0), p_center (fraction with |x| < 0.25),
//!   q05, q95, mode (where a Gaussian kernel density estimate of the cloud with that
//!   width is highest), mode_upper / mode_lower (its highest local maximum at x > 0 /
//!   x < 0; NaN if none): the features one reads off a ridge plot.
//! - `replicates`: replicate (0 = the main run), w2_initial, w2_denoised,
//!   w2_round_trip. Replicate r draws from the counter-based
//!   streams `rng::Purpose::Particles` of replicate r (numbers 4r…4r+3) of the seed.

use rayon::prelude::*;
use serde::Deserialize;

use super::transport_map::ou_law::{self, OuLaw};
use super::{Common, KindSpec, Validated};
use crate::localize::{ou_noise_var, snr};
use crate::measure::special::norm_pdf;
use crate::measure::Measure;
use crate::particles::{
    run_gaussian, run_particles, run_particles_replicate, Forward, Gaussian, ParticleConfig,
    ParticleRun, Phase, Snapshot,
};
use crate::spec::measure::RawMeasure;
use crate::spec::{BlockCtx, Grid, Num};
use crate::table::{ColumnDecl, Rows, Table, TableBuilder, TableSchema};

pub const ROLES: &[&str] = &[
    "snapshots",
    "distances",
    "steps",
    "summary",
    "stats",
    "replicates",
    "one_step",
    "one_step_fit",
];

/// Ceilings of what the report shows, checked before anything is allocated: snapshot
/// times, histogram bins (memory is 32·n bytes per snapshot time) and bandwidths. The
/// work (particles, steps, replicates) is bounded by `crate::limits`, which
/// `--raise-limits` scales.
const MAX_SNAPSHOTS: usize = 50;
const MAX_BINS: usize = 1_000;
const MAX_BANDWIDTHS: usize = 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    reference: Option<RawMeasure>,
    n: usize,
    eta: Num,
    steps: usize,
    #[serde(default)]
    forward: Option<String>,
    #[serde(default)]
    snapshots: Option<Grid>,
    #[serde(default)]
    bins: Option<usize>,
    #[serde(default)]
    range: Option<[Num; 2]>,
    #[serde(default)]
    replicates: Option<usize>,
    #[serde(default)]
    mode_bandwidth: Option<Grid>,
    #[serde(default)]
    one_step: Option<RawOneStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOneStep {
    t: Grid,
    eta: Grid,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Spec {
    /// [("μ", μ_0), ("ν", ν_0)].
    pub measures: Vec<(String, Measure)>,
    pub config: ParticleConfig,
    /// Snapshot steps k in the order the chapter listed the times.
    pub snapshot_steps: Vec<usize>,
    pub bins: usize,
    pub range: Option<(f64, f64)>,
    /// Independent repeat runs (beyond the main one) for standard errors.
    pub replicates: usize,
    /// Kernel widths of the density estimates behind the `stats` modes.
    pub mode_bandwidths: Vec<f64>,
    /// Times and steps of the exact one-step diffuse-then-denoise ratios.
    pub one_step: Option<(Vec<f64>, Vec<f64>)>,
    /// Role → table name, in the order of `Experiment::outputs`.
    pub tables: Vec<(String, String)>,
}

/// The leading columns of a table of particle snapshots (this experiment's and the
/// plane's): phase, slot, time and which cloud.
pub(super) fn snapshot_key_columns() -> Vec<ColumnDecl> {
    let (n, t) = (ColumnDecl::number, ColumnDecl::text);
    vec![
        t("phase", "forward or backward"),
        n(
            "slot",
            "position of the snapshot time in the list (1, 2, …)",
        ),
        n("t", "time of the snapshot (the nearest step)"),
        t("measure", "μ or ν"),
    ]
}

/// The leading columns of a table of particle distances, one row a step: phase, step
/// and time.
pub(super) fn step_key_columns() -> Vec<ColumnDecl> {
    let (n, t) = (ColumnDecl::number, ColumnDecl::text);
    vec![
        t("phase", "forward or backward"),
        n("step", "k, with t = kη"),
        n("t", "time"),
    ]
}

/// The columns of the table of `role`.
fn columns(role: &str) -> Vec<ColumnDecl> {
    let (n, t) = (ColumnDecl::number, ColumnDecl::text);
    match role {
        "snapshots" => [
            snapshot_key_columns(),
            vec![
            n("lower", "lower edge of the bin"),
            n("upper", "upper edge of the bin"),
            n("center", "centre of the bin"),
                n("density", "fraction of the cloud in the bin / bin width"),
            ],
        ]
        .concat(),
        "distances" => [
            step_key_columns(),
            vec![
            n("w2", "W₂ between the μ- and ν-clouds"),
            n("w2_se", "standard error of w2 (forward diffusion only)"),
            n("w2_exact", "W₂ between the exact laws (NaN where none)"),
            ],
        ]
        .concat(),
        "steps" => vec![
            t("phase", "forward or backward"),
            n("step", "1..K in the order the steps are taken"),
            n("t_from", "time before the step"),
            n("t_to", "time after the step"),
            n("ratio", "W(t_to)/W(t_from) between the clouds"),
            n(
                "ratio_exact",
                "the same ratio for the exact laws (NaN where none)",
            ),
        ],
        "summary" => vec![
            n("n", "particles per cloud"),
            n("eta", "step η"),
            n("steps", "number of steps K"),
            n("T", "final time Kη"),
            n("w2_initial", "W(μ_0, ν_0) between the initial clouds"),
            n("w2_initial_se", "its standard error"),
            n(
                "w2_initial_exact",
                "W(μ_0, ν_0) exactly (NaN where no closed form)",
            ),
            n(
                "w2_denoised",
                "W(μ_0, ν̄_0): initial μ-cloud vs the denoised ν-cloud",
            ),
            n(
                "w2_round_trip",
                "W(μ_0, μ̄_0): initial μ-cloud vs its own round trip",
            ),
            n("replicates", "independent repeat runs R (0: none)"),
            n(
                "w2_denoised_se",
                "standard error of w2_denoised (sd over the R + 1 runs; NaN if R = 0)",
            ),
            n(
                "w2_round_trip_se",
                "standard error of w2_round_trip (sd over the R + 1 runs; NaN if R = 0)",
            ),
            n(
                "w2_denoised_mean",
                "mean of w2_denoised over the R + 1 runs",
            ),
            n(
                "w2_denoised_limit",
                "W(μ_0, b_[K]#ν_T) between the exact laws: the n → ∞ limit of w2_denoised (NaN unless forward: diffusion)",
            ),
            n(
                "w2_round_trip_limit",
                "W(μ_0, b_[K]#μ_T) between the exact laws: the n → ∞ limit of w2_round_trip",
            ),
            n(
                "zeta_sum",
                "η Σ_{k=1..K} ζ_{kη}, ζ_t = (1 - sup_y L_{r(t)}(y))/σ_t² the curvature bound of μ_t",
            ),
            n(
                "cor2_ratio",
                "(w2_denoised_limit / w2_initial_exact)²: Cor. 2's squared ratio between exact laws",
            ),
            n(
                "cor2_bound",
                "exp(-2 zeta_sum): Cor. 2's bound without its O(η²) term",
            ),
        ],
        "stats" => vec![
            t("phase", "forward or backward"),
            n("slot", "position of the snapshot time in the list (1, 2, …)"),
            n("t", "time of the snapshot (the nearest step)"),
            t("measure", "μ or ν"),
            n("bandwidth", "kernel width of the density estimate behind the modes"),
            n("mean", "mean of the cloud"),
            n("sd", "standard deviation of the cloud"),
            n("p_pos", "fraction of the cloud above 0"),
            n("p_center", "fraction of the cloud with |x| < 0.25"),
            n("q05", "5% quantile"),
            n("q95", "95% quantile"),
            n("mode", "location of the highest point of the density estimate"),
            n("mode_upper", "highest local maximum at x > 0 (NaN if none)"),
            n("mode_lower", "highest local maximum at x < 0 (NaN if none)"),
        ],
        "one_step" => vec![
            n("t", "time t of μ_t and ν_t"),
            n("eta", "step η"),
            n("w_before", "W(μ_t, ν_t), exact"),
            n(
                "w_after",
                "W(μ_t, b#ν_{t+η}): ν_t diffused one OU step, denoised by b^{μ,η}_{t+η}",
            ),
            n("ratio", "w_after / w_before"),
            n("sup_l", "sup_y L_r(y) at r = r(t)"),
            n(
                "zeta",
                "curvature bound of μ_t: ζ_t = -sup (log p_{μ_t})'' = (1 - sup_l)/σ_t²",
            ),
            n("bound", "1 - ηζ_t (the one-step bound without its O(η²) term)"),
            n("excess", "ratio - bound"),
            n("rate", "(1 - ratio)/η, the measured contraction rate"),
            n("fisher", "Fisher information E_{μ_t}[(log p_{μ_t})'²]"),
        ],
        "one_step_fit" => vec![
            n("t", "time t"),
            n("zeta", "ζ_t"),
            n("fisher", "Fisher information of μ_t"),
            n(
                "rate0",
                "first-order contraction rate: the rate extrapolated to η = 0 (least squares, linear in η)",
            ),
            n("rate_slope", "slope of the rate in η (the O(η²) term of the ratio)"),
            n("max_excess", "largest ratio - (1 - ηζ_t) over the η grid"),
            n("ratio_max", "largest ratio over the η grid"),
        ],
        "replicates" => vec![
            n("replicate", "0 = the main run, 1..R independent repeats"),
            n("w2_initial", "W(μ_0, ν_0) between the initial clouds"),
            n("w2_denoised", "W(μ_0, ν̄_0)"),
            n("w2_round_trip", "W(μ_0, μ̄_0)"),
        ],
        _ => unreachable!("roles are checked by common_tables"),
    }
}

pub fn validate(ctx: &mut BlockCtx, common: &Common) -> Option<Validated> {
    let raw: Raw = common.fields(ctx)?;
    let tables = common.tables.clone();
    let mu0 = common
        .measures
        .as_ref()
        .and_then(|m| m.first())
        .map(|(_, m)| m.clone());
    let nu0 = match &raw.reference {
        Some(r) => ctx.spec(|c| crate::spec::measure::validate(c, r, "reference")),
        None => Some(Measure::Point { at: 0.0 }),
    };
    let eta = ctx.num_where(&raw.eta, "eta", "in (0, 1)", |v| v > 0.0 && v < 1.0);
    let replicates = raw.replicates.unwrap_or(0);
    let mut ok = super::particle_run_size(ctx, raw.n, raw.steps, replicates);
    let mode_bandwidths = match &raw.mode_bandwidth {
        Some(g) => ctx.grid(g, "mode_bandwidth", "a width > 0", |v| {
            v > 0.0 && v.is_finite()
        }),
        None => Some(vec![0.1]),
    };
    if let Some(bw) = &mode_bandwidths {
        if bw.is_empty() || bw.len() > MAX_BANDWIDTHS {
            ctx.error(
                "mode_bandwidth",
                format!("give between 1 and {MAX_BANDWIDTHS} kernel widths"),
            );
            ok = false;
        }
    }
    let one_step = match &raw.one_step {
        None if tables.contains_key("one_step") || tables.contains_key("one_step_fit") => {
            ctx.error_hint(
                "one_step",
                "the `one_step` tables need the times and steps",
                "add e.g. `one_step: {t: [0.1, 0.5, 1], eta: [0.001, 0.002, 0.004]}`",
            );
            None
        }
        None => Some(None),
        Some(o) => {
            let ts = ctx.grid(&o.t, "one_step.t", "a time ≥ 0.05", |v| {
                v >= 0.05 && v.is_finite()
            });
            let es = ctx.grid(&o.eta, "one_step.eta", "a step in (0, 0.05]", |v| {
                v > 0.0 && v <= 0.05
            });
            match (ts, es) {
                (Some(ts), Some(es)) if es.len() >= 2 && ts.len() <= 200 && es.len() <= 50 => {
                    Some(Some((ts, es)))
                }
                (Some(_), Some(_)) => {
                    ctx.error(
                        "one_step",
                        "give at most 200 times and between 2 and 50 steps",
                    );
                    None
                }
                _ => None,
            }
        }
    };
    let bins = raw.bins.unwrap_or(60);
    if bins == 0 || bins > MAX_BINS {
        ctx.error("bins", format!("`bins` must be between 1 and {MAX_BINS}"));
        ok = false;
    }
    let forward = match raw.forward.as_deref() {
        None | Some("diffusion") => Some(Forward::Diffusion),
        Some("map") => Some(Forward::Map),
        Some(other) => {
            ctx.error_hint(
                "forward",
                format!("unknown forward mode `{other}`"),
                crate::diagnostic::suggest(other, &["diffusion", "map"]),
            );
            None
        }
    };
    let range = match &raw.range {
        None => Some(None),
        Some([a, b]) => {
            let lo = ctx.num_where(a, "range[0]", "a finite number", |_| true);
            let hi = ctx.num_where(b, "range[1]", "a finite number", |_| true);
            match (lo, hi) {
                (Some(lo), Some(hi)) if lo < hi => Some(Some((lo, hi))),
                (Some(lo), Some(hi)) => {
                    ctx.error(
                        "range",
                        format!("`range` must go from low to high, got [{lo}, {hi}]"),
                    );
                    None
                }
                _ => None,
            }
        }
    };
    let times = super::optional_grid(
        ctx,
        &raw.snapshots,
        "snapshots",
        "a time ≥ 0",
        |v| v >= 0.0,
        (tables.contains_key("snapshots") || tables.contains_key("stats")).then_some((
            "the `snapshots` and `stats` tables need the times to snapshot",
            "add e.g. `snapshots: [0.01, 0.145, 0.296, 0.597, 0.898, 1.5]`",
        )),
    );
    let one_step = one_step?;
    let (mu0, nu0, eta, forward, range, times, mode_bandwidths) =
        (mu0?, nu0?, eta?, forward?, range?, times?, mode_bandwidths?);
    if !ok {
        return None;
    }
    let snapshot_steps = super::snapshot_steps(ctx, &times, eta, raw.steps, MAX_SNAPSHOTS)?;
    if forward == Forward::Map {
        if let Err(e) = crate::particles::OuScore::new(&mu0, 0.0) {
            ctx.error_hint(
                "forward",
                e.to_string(),
                "use `forward: diffusion` for measures with atoms",
            );
            return None;
        }
    }
    let ordered = common.ordered_tables();
    let outputs = common.schemas(columns);
    let seed = common.seed;
    Some((
        outputs,
        KindSpec::Particles(Spec {
            measures: vec![("μ".into(), mu0), ("ν".into(), nu0)],
            config: ParticleConfig {
                n: raw.n,
                eta,
                steps: raw.steps,
                forward,
                seed,
                snapshot_times: snapshot_steps.iter().map(|&k| k as f64 * eta).collect(),
            },
            snapshot_steps,
            bins,
            range,
            replicates,
            mode_bandwidths,
            one_step,
            tables: ordered,
        }),
    ))
}

/// A Gaussian (or point mass) as the Gaussian engine's type.
fn as_gaussian(m: &Measure) -> Option<Gaussian> {
    match m {
        Measure::Point { at } => Some(Gaussian { mean: *at, sd: 0.0 }),
        Measure::Normal { mean, var } => Some(Gaussian::from_var(*mean, *var)),
        Measure::Mixture(cs) if cs.len() == 1 => Some(Gaussian::from_var(cs[0].mean, cs[0].var)),
        _ => None,
    }
}

/// Half-width in z and number of points (spacing 0.02) of the grid on which the
/// standard error is evaluated: it needs a few per cent accuracy, not quadrature
/// precision.
const SE_Z_MAX: f64 = 8.0;
const SE_POINTS: usize = 801;

/// Var Ψ(X) for the delta method (see the module header), X ~ `a` paired with `b`:
/// Ψ(F_a⁻¹(u)) = ∫_u^1 d(v) dF_a⁻¹(v), d = F_a⁻¹ - F_b⁻¹, on a grid in z (u = Φ(z)).
fn influence_variance(qa: &[f64], d: &[f64], weights: &[f64]) -> f64 {
    let n = qa.len();
    let mut psi = vec![0.0; n];
    for i in (0..n - 1).rev() {
        psi[i] = psi[i + 1] + 0.5 * (d[i] + d[i + 1]) * (qa[i + 1] - qa[i]);
    }
    let mean: f64 = psi.iter().zip(weights).map(|(p, w)| p * w).sum();
    psi.iter()
        .zip(weights)
        .map(|(p, w)| w * (p - mean) * (p - mean))
        .sum()
}

/// se(Ŵ₂) for two independent samples of size n from `a` and `b` whose exact
/// distance is `w` (None when it cannot be evaluated or w = 0).
fn w2_standard_error(a: &OuLaw, b: &OuLaw, w: f64, n: usize) -> Option<f64> {
    // Also rejects NaN.
    if w.is_nan() || w <= 0.0 {
        return None;
    }
    let n = n as f64;
    // Var((X - c)²) = E(X - c)⁴ - (E(X - c)²)² against a point mass c.
    let point_var = |law: &OuLaw, c: f64| -> f64 {
        let m2 = law.mean_square_about(c);
        law.fourth_moment_about(c) - m2 * m2
    };
    let var_w2sq = if let Some(c) = b.as_point() {
        point_var(a, c) / n
    } else if let Some(c) = a.as_point() {
        point_var(b, c) / n
    } else if a.is_smooth() && b.is_smooth() {
        let step = 2.0 * SE_Z_MAX / (SE_POINTS - 1) as f64;
        let zs: Vec<f64> = (0..SE_POINTS)
            .map(|i| -SE_Z_MAX + step * i as f64)
            .collect();
        let qa: Vec<f64> = zs.iter().map(|&z| a.quantile_at_z(z)).collect();
        let qb: Vec<f64> = zs.iter().map(|&z| b.quantile_at_z(z)).collect();
        let d: Vec<f64> = qa.iter().zip(&qb).map(|(x, y)| x - y).collect();
        let total: f64 = zs.iter().map(|&z| norm_pdf(z)).sum();
        let weights: Vec<f64> = zs.iter().map(|&z| norm_pdf(z) / total).collect();
        let va = influence_variance(&qa, &d, &weights);
        let vb = influence_variance(&qb, &d, &weights);
        4.0 * (va + vb) / n
    } else {
        return None;
    };
    Some(var_w2sq.max(0.0).sqrt() / (2.0 * w))
}

/// Exact W₂ and its particle standard error at every forward step (diffusion only).
fn forward_exact(s: &Spec) -> Vec<(f64, f64)> {
    let (mu0, nu0) = (&s.measures[0].1, &s.measures[1].1);
    let nan = (f64::NAN, f64::NAN);
    let eta = s.config.eta;
    (0..=s.config.steps)
        .into_par_iter()
        .map(|k| {
            let t = k as f64 * eta;
            let (Ok(a), Ok(b)) = (OuLaw::new(mu0, t), OuLaw::new(nu0, t)) else {
                return nan;
            };
            match ou_law::w2(&a, &b) {
                Some(w) => (
                    w,
                    w2_standard_error(&a, &b, w, s.config.n).unwrap_or(f64::NAN),
                ),
                None => nan,
            }
        })
        .collect()
}

/// Common bin edges for every snapshot: the given range, or the pooled 0.1% and 99.9%
/// quantiles of all snapshot clouds widened by 5% (so a few far particles do not
/// flatten every histogram).
fn bin_edges(s: &Spec, clouds: &[&[f64]]) -> Vec<f64> {
    let (lo, hi) = s.range.unwrap_or_else(|| {
        let q = |c: &[f64], p: f64| c[((c.len() - 1) as f64 * p).round() as usize];
        let lo = clouds
            .iter()
            .map(|c| q(c, 0.001))
            .fold(f64::INFINITY, f64::min);
        let hi = clouds
            .iter()
            .map(|c| q(c, 0.999))
            .fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, hi + 0.5)
        };
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    });
    crate::spec::linspace(lo, hi, s.bins + 1, false)
}

/// Fraction of a sorted cloud in each bin, over the bin width.
fn histogram(sorted: &[f64], edges: &[f64]) -> Vec<f64> {
    let n = sorted.len() as f64;
    let below = |x: f64| sorted.partition_point(|&v| v < x);
    edges
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            // The last bin is closed on the right.
            let upper = if i + 2 == edges.len() {
                sorted.partition_point(|&v| v <= w[1])
            } else {
                below(w[1])
            };
            (upper - below(w[0])) as f64 / (n * (w[1] - w[0]))
        })
        .collect()
}

/// What one reads off a cloud's ridge: moments, quantiles and the modes of a Gaussian
/// kernel density estimate of width `h`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct CloudStats {
    mean: f64,
    sd: f64,
    p_pos: f64,
    p_center: f64,
    q05: f64,
    q95: f64,
    mode: f64,
    mode_upper: f64,
    mode_lower: f64,
}

/// Half-width of |x| < P_CENTER for the `p_center` column.
const P_CENTER: f64 = 0.25;
/// Grid points per kernel width, and kernel half-width in widths.
const KDE_POINTS_PER_H: f64 = 8.0;
const KDE_CUTOFF: f64 = 4.0;

/// Statistics of a sorted, non-empty cloud (see [`CloudStats`]).
fn cloud_stats(sorted: &[f64], h: f64) -> CloudStats {
    let n = sorted.len() as f64;
    let mean = sorted.iter().sum::<f64>() / n;
    let var = sorted.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    let frac = |pred: &dyn Fn(f64) -> bool| sorted.iter().filter(|&&x| pred(x)).count() as f64 / n;
    let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    let (mode, mode_upper, mode_lower) = kde_modes(sorted, h);
    CloudStats {
        mean,
        sd: var.sqrt(),
        p_pos: frac(&|x| x > 0.0),
        p_center: frac(&|x| x.abs() < P_CENTER),
        q05: q(0.05),
        q95: q(0.95),
        mode,
        mode_upper,
        mode_lower,
    }
}

/// Gaussian kernel density estimate of width `h` of a sorted cloud on a grid of
/// spacing h/8 (particles binned to the nearest grid point, then convolved with the
/// kernel cut at 4h): (grid points, density up to a constant factor).
fn kde_grid(sorted: &[f64], h: f64) -> (Vec<f64>, Vec<f64>) {
    let dx = h / KDE_POINTS_PER_H;
    let pad = KDE_CUTOFF * h;
    let (lo, hi) = (sorted[0] - pad, sorted[sorted.len() - 1] + pad);
    let m = ((hi - lo) / dx).ceil() as usize + 1;
    let mut counts = vec![0.0; m];
    for &x in sorted {
        let i = (((x - lo) / dx).round() as usize).min(m - 1);
        counts[i] += 1.0;
    }
    let half = (KDE_CUTOFF * KDE_POINTS_PER_H) as isize;
    let kernel: Vec<f64> = (-half..=half)
        .map(|j| {
            let z = j as f64 / KDE_POINTS_PER_H;
            (-0.5 * z * z).exp()
        })
        .collect();
    let mut dens = vec![0.0; m];
    for (i, &c) in counts.iter().enumerate() {
        if c == 0.0 {
            continue;
        }
        for (k, w) in kernel.iter().enumerate() {
            let j = i as isize + k as isize - half;
            if j >= 0 && (j as usize) < m {
                dens[j as usize] += c * w;
            }
        }
    }
    let xs = (0..m).map(|i| lo + i as f64 * dx).collect();
    (xs, dens)
}

/// Local maxima lower than this fraction of the highest one are noise in the tails,
/// not modes a reader would see.
const MODE_MIN_HEIGHT: f64 = 0.1;

/// (global mode, highest local maximum at x > 0, highest local maximum at x < 0) of
/// the kernel density estimate of width `h`, counting only local maxima at least 10%
/// as high as the global one; NaN where there is no such maximum.
fn kde_modes(sorted: &[f64], h: f64) -> (f64, f64, f64) {
    let (xs, d) = kde_grid(sorted, h);
    let top = d.iter().cloned().fold(0.0, f64::max);
    let mut best = (f64::NAN, f64::NEG_INFINITY);
    let mut upper = (f64::NAN, f64::NEG_INFINITY);
    let mut lower = (f64::NAN, f64::NEG_INFINITY);
    for i in 1..d.len().saturating_sub(1) {
        // A plateau counts once, at its first point.
        if !(d[i] > d[i - 1] && d[i] >= d[i + 1]) || d[i] < MODE_MIN_HEIGHT * top {
            continue;
        }
        let (x, v) = (xs[i], d[i]);
        if v > best.1 {
            best = (x, v);
        }
        if x > 0.0 && v > upper.1 {
            upper = (x, v);
        }
        if x < 0.0 && v > lower.1 {
            lower = (x, v);
        }
    }
    (best.0, upper.0, lower.0)
}

/// The snapshot of both clouds taken at time `t` of phase `p`.
fn snapshot_at(run: &ParticleRun, p: Phase, t: f64) -> Result<&Snapshot, String> {
    run.snapshots
        .iter()
        .find(|sn| sn.phase == p && sn.t == t)
        .ok_or_else(|| format!("internal error: no {} snapshot at t = {t}", phase_name(p)))
}

/// One particle cloud of one snapshot, as the snapshot tables key and place it.
struct SnapshotCloud<'a> {
    /// The phase and the cloud's name (μ or ν).
    keys: [&'static str; 2],
    /// The 1-based number of the snapshot, and its time.
    slot: f64,
    t: f64,
    cloud: &'a [f64],
}

/// The snapshot clouds in the order of the snapshot tables' rows: by phase, then
/// snapshot, then μ before ν.
fn snapshot_clouds<'a>(
    run: &'a ParticleRun,
    s: &Spec,
    eta: f64,
) -> Result<Vec<SnapshotCloud<'a>>, String> {
    let mut out = Vec::new();
    for p in [Phase::Forward, Phase::Backward] {
        for (slot, &k) in s.snapshot_steps.iter().enumerate() {
            let t = k as f64 * eta;
            let snap = snapshot_at(run, p, t)?;
            for (name, cloud) in [("μ", &snap.mu), ("ν", &snap.nu)] {
                out.push(SnapshotCloud {
                    keys: [phase_name(p), name],
                    slot: (slot + 1) as f64,
                    t,
                    cloud,
                });
            }
        }
    }
    Ok(out)
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Forward => "forward",
        Phase::Backward => "backward",
    }
}

/// Gauss–Hermite-free quadrature in z for the one-step distances: trapezoid on
/// [-9, 9] with spacing 0.01 against φ(z) (the integrands are smooth in z).
const ONE_STEP_Z_MAX: f64 = 9.0;
const ONE_STEP_POINTS: usize = 1801;

/// One row of the `one_step` table: see its schema.
#[derive(Clone, Copy, Debug, PartialEq)]
struct OneStep {
    t: f64,
    eta: f64,
    w_before: f64,
    w_after: f64,
    sup_l: f64,
    zeta: f64,
    fisher: f64,
}

/// W(μ_t, ν_t) and W(μ_t, b^{μ,η}_{t+η} # ν_{t+η}) by the quantile coupling (b is
/// increasing for t ≥ η), the curvature bound ζ_t and the Fisher information of μ_t.
/// ν_{t+η} is ν_t after one exact OU step of size η (the OU semigroup).
fn one_step(mu0: &Measure, nu0: &Measure, t: f64, eta: f64) -> Result<OneStep, String> {
    let mu_t = OuLaw::new(mu0, t)?;
    let nu_t = OuLaw::new(nu0, t)?;
    let nu_next = OuLaw::new(nu0, t + eta)?;
    let score_t = crate::particles::OuScore::new(mu0, t).map_err(|e| e.to_string())?;
    let b = crate::particles::OuScore::new(mu0, t + eta).map_err(|e| e.to_string())?;
    let dz = 2.0 * ONE_STEP_Z_MAX / (ONE_STEP_POINTS - 1) as f64;
    let (mut before, mut after, mut fisher, mut total) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..ONE_STEP_POINTS {
        let z = -ONE_STEP_Z_MAX + dz * i as f64;
        let end = if i == 0 || i + 1 == ONE_STEP_POINTS {
            0.5
        } else {
            1.0
        };
        let w = end * norm_pdf(z);
        let q = mu_t.quantile_at_z(z);
        let d0 = q - nu_t.quantile_at_z(z);
        let d1 = q - b.backward(nu_next.quantile_at_z(z), eta);
        let sc = score_t.score(q);
        before += w * d0 * d0;
        after += w * d1 * d1;
        fisher += w * sc * sc;
        total += w;
    }
    let sup_l = crate::localize::sup_localization(mu0, snr(t));
    let zeta = (1.0 - sup_l) / ou_noise_var(t);
    Ok(OneStep {
        t,
        eta,
        w_before: (before / total).sqrt(),
        w_after: (after / total).sqrt(),
        sup_l,
        zeta,
        fisher: fisher / total,
    })
}

/// Least-squares line y = a + b·x: (a, b).
fn line_fit(xs: &[f64], ys: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    let b = sxy / sxx;
    (my - b * mx, b)
}

/// The `one_step` and `one_step_fit` tables (no particles involved).
fn one_step_tables(s: &Spec, role: &str, schema: &TableSchema) -> Result<Table, String> {
    let (mu0, nu0) = (&s.measures[0].1, &s.measures[1].1);
    let (ts, etas) = s
        .one_step
        .as_ref()
        .ok_or("internal error: one_step tables without times")?;
    let pairs: Vec<(f64, f64)> = ts
        .iter()
        .flat_map(|&t| etas.iter().map(move |&e| (t, e)))
        .collect();
    let rows: Vec<OneStep> = pairs
        .par_iter()
        .map(|&(t, e)| one_step(mu0, nu0, t, e))
        .collect::<Result<_, _>>()?;
    let ratio = |r: &OneStep| r.w_after / r.w_before;
    let bound = |r: &OneStep| 1.0 - r.eta * r.zeta;
    if role == "one_step" {
        let cols: Vec<(&str, Vec<f64>)> = vec![
            ("t", rows.iter().map(|r| r.t).collect()),
            ("eta", rows.iter().map(|r| r.eta).collect()),
            ("w_before", rows.iter().map(|r| r.w_before).collect()),
            ("w_after", rows.iter().map(|r| r.w_after).collect()),
            ("ratio", rows.iter().map(ratio).collect()),
            ("sup_l", rows.iter().map(|r| r.sup_l).collect()),
            ("zeta", rows.iter().map(|r| r.zeta).collect()),
            ("bound", rows.iter().map(bound).collect()),
            ("excess", rows.iter().map(|r| ratio(r) - bound(r)).collect()),
            (
                "rate",
                rows.iter().map(|r| (1.0 - ratio(r)) / r.eta).collect(),
            ),
            ("fisher", rows.iter().map(|r| r.fisher).collect()),
        ];
        let mut b = TableBuilder::new();
        for (name, col) in cols {
            b = b.number(name, col);
        }
        return b.build(&schema.name);
    }
    let mut table = Rows::new(schema);
    for chunk in rows.chunks(etas.len()) {
        let rates: Vec<f64> = chunk.iter().map(|r| (1.0 - ratio(r)) / r.eta).collect();
        let (a, slope) = line_fit(etas, &rates);
        let max_excess = chunk
            .iter()
            .map(|r| ratio(r) - bound(r))
            .fold(f64::NEG_INFINITY, f64::max);
        let ratio_max = chunk.iter().map(ratio).fold(f64::NEG_INFINITY, f64::max);
        let row = [
            chunk[0].t,
            chunk[0].zeta,
            chunk[0].fisher,
            a,
            slope,
            max_excess,
            ratio_max,
        ];
        table.push(&[], &row);
    }
    table.build()
}

/// η Σ_{k=1..K} ζ_{kη}, with ζ_t = -sup (log p_{μ_t})'' = (1 - sup_y L_{r(t)}(y))/σ_t²
/// the curvature bound of μ_t (Cor. 2's exponent is -2 times this).
fn curvature_sum(mu0: &Measure, eta: f64, steps: usize) -> f64 {
    (1..=steps)
        .into_par_iter()
        .map(|k| {
            let t = k as f64 * eta;
            (1.0 - crate::localize::sup_localization(mu0, snr(t))) / ou_noise_var(t)
        })
        .sum::<f64>()
        * eta
}

/// Midpoint rule in z on [-9, 9] (z = 0 a cell boundary, where the quantile function
/// of a symmetric pair of atoms jumps).
const LIMIT_Z_MAX: f64 = 9.0;
const LIMIT_CELLS: usize = 36_000;

/// The n → ∞ limits of the denoising summary, between exact laws: b_[K] = b_η ∘ … ∘ b_{Kη}
/// is increasing, so the quantile function of b_[K]#ρ_T is b_[K] ∘ F_{ρ_T}⁻¹ and
/// W(μ_0, b_[K]#ρ_T)² = ∫ (F_{μ_0}⁻¹(Φ(z)) - b_[K](F_{ρ_T}⁻¹(Φ(z))))² φ(z) dz, for
/// ρ = ν (denoised) and ρ = μ (round trip). NaN for the deterministic forward map
/// (its ν_T is not an OU law).
fn denoising_limits(s: &Spec) -> (f64, f64) {
    let nan = (f64::NAN, f64::NAN);
    if s.config.forward != Forward::Diffusion {
        return nan;
    }
    let (mu0, nu0) = (&s.measures[0].1, &s.measures[1].1);
    let (eta, k_max) = (s.config.eta, s.config.steps);
    let t_end = k_max as f64 * eta;
    let (Ok(m0), Ok(mt), Ok(nt)) = (
        OuLaw::new(mu0, 0.0),
        OuLaw::new(mu0, t_end),
        OuLaw::new(nu0, t_end),
    ) else {
        return nan;
    };
    let h = 2.0 * LIMIT_Z_MAX / LIMIT_CELLS as f64;
    let zs: Vec<f64> = (0..LIMIT_CELLS)
        .map(|i| -LIMIT_Z_MAX + (i as f64 + 0.5) * h)
        .collect();
    let target: Vec<f64> = zs.par_iter().map(|&z| m0.quantile_at_z(z)).collect();
    let mut nu: Vec<f64> = zs.par_iter().map(|&z| nt.quantile_at_z(z)).collect();
    let mut mu: Vec<f64> = zs.par_iter().map(|&z| mt.quantile_at_z(z)).collect();
    for k in (1..=k_max).rev() {
        let Ok(score) = crate::particles::OuScore::new(mu0, k as f64 * eta) else {
            return nan;
        };
        nu.par_chunks_mut(1024)
            .for_each(|c| score.backward_slice(c, eta));
        mu.par_chunks_mut(1024)
            .for_each(|c| score.backward_slice(c, eta));
    }
    let w = |xs: &[f64]| -> f64 {
        let (mut acc, mut total) = (0.0, 0.0);
        for ((z, a), b) in zs.iter().zip(&target).zip(xs) {
            let wt = norm_pdf(*z);
            acc += wt * (a - b) * (a - b);
            total += wt;
        }
        (acc / total).sqrt()
    };
    (w(&nu), w(&mu))
}

pub fn run(s: &Spec, outputs: &[TableSchema]) -> Result<Vec<Table>, String> {
    let (mu0, nu0) = (&s.measures[0].1, &s.measures[1].1);
    let is_one_step = |role: &str| role == "one_step" || role == "one_step_fit";
    if s.tables.iter().all(|(role, _)| is_one_step(role)) {
        // Exact one-step ratios only: no particles to move.
        return s
            .tables
            .iter()
            .zip(outputs)
            .map(|((role, _), schema)| one_step_tables(s, role, schema))
            .collect();
    }
    let run = run_particles(mu0, nu0, &s.config).map_err(|e| e.to_string())?;
    let cfg = &s.config;
    // Independent repeats of the whole run (summary values only) for standard errors.
    let wants_replicates = s
        .tables
        .iter()
        .any(|(role, _)| role == "summary" || role == "replicates");
    let mut reps: Vec<[f64; 3]> = vec![[run.w2_initial, run.w2_denoised, run.w2_round_trip]];
    if wants_replicates && s.replicates > 0 {
        let quiet = ParticleConfig {
            snapshot_times: Vec::new(),
            ..cfg.clone()
        };
        for r in 1..=s.replicates {
            let rr =
                run_particles_replicate(mu0, nu0, &quiet, r as u64).map_err(|e| e.to_string())?;
            reps.push([rr.w2_initial, rr.w2_denoised, rr.w2_round_trip]);
        }
    }
    let rep_sd = |col: usize| -> f64 {
        if reps.len() < 2 {
            return f64::NAN;
        }
        let k = reps.len() as f64;
        let m = reps.iter().map(|r| r[col]).sum::<f64>() / k;
        (reps
            .iter()
            .map(|r| (r[col] - m) * (r[col] - m))
            .sum::<f64>()
            / (k - 1.0))
            .sqrt()
    };
    let eta = cfg.eta;

    // Exact values: forward by the OU laws (diffusion) or the Gaussian engine (map);
    // backward by the Gaussian engine when both laws are Gaussian.
    let gaussian = match (as_gaussian(mu0), as_gaussian(nu0)) {
        (Some(m), Some(v)) => Some(run_gaussian(m, v, eta, cfg.steps, cfg.forward)),
        _ => None,
    };
    // Every forward step costs two quadratures and a quantile grid: only when a
    // per-step table asks for it.
    let per_step = s
        .tables
        .iter()
        .any(|(role, _)| role == "distances" || role == "steps");
    let forward_exact: Vec<(f64, f64)> = match (cfg.forward, &gaussian) {
        (Forward::Diffusion, _) if per_step => forward_exact(s),
        (Forward::Diffusion, _) => vec![forward_exact_at_zero(s)],
        (Forward::Map, Some(g)) => g.forward.iter().map(|st| (st.w2, f64::NAN)).collect(),
        (Forward::Map, None) => vec![(f64::NAN, f64::NAN); cfg.steps + 1],
    };
    let backward_exact: Vec<f64> = match &gaussian {
        Some(g) => g.backward.iter().map(|st| st.w2).collect(),
        None => vec![f64::NAN; cfg.steps + 1],
    };

    let mut out = Vec::new();
    for ((role, _), schema) in s.tables.iter().zip(outputs) {
        let table = match role.as_str() {
            "snapshots" => {
                let clouds: Vec<&[f64]> = run
                    .snapshots
                    .iter()
                    .flat_map(|sn| [sn.mu.as_slice(), sn.nu.as_slice()])
                    .collect();
                if clouds.is_empty() {
                    return Err("no snapshot was taken".into());
                }
                let edges = bin_edges(s, &clouds);
                let mut table = Rows::new(schema);
                for c in snapshot_clouds(&run, s, eta)? {
                    for (i, d) in histogram(c.cloud, &edges).into_iter().enumerate() {
                        let (lo, hi) = (edges[i], edges[i + 1]);
                        table.push(&c.keys, &[c.slot, c.t, lo, hi, 0.5 * (lo + hi), d]);
                    }
                }
                table.build()?
            }
            "distances" => {
                let mut table = Rows::new(schema);
                for (k, rec) in run.forward.iter().enumerate() {
                    let (w, se) = forward_exact[k];
                    table.push(&["forward"], &[k as f64, rec.t, rec.w2, se, w]);
                }
                for (i, rec) in run.backward.iter().enumerate() {
                    let k = cfg.steps - i;
                    let row = [k as f64, rec.t, rec.w2, f64::NAN, backward_exact[i]];
                    table.push(&["backward"], &row);
                }
                table.build()?
            }
            "steps" => {
                let mut table = Rows::new(schema);
                let fwd_exact: Vec<f64> = forward_exact.iter().map(|p| p.0).collect();
                for (name, recs, exact) in [
                    ("forward", &run.forward, &fwd_exact),
                    ("backward", &run.backward, &backward_exact),
                ] {
                    for i in 1..recs.len() {
                        let row = [
                            i as f64,
                            recs[i - 1].t,
                            recs[i].t,
                            recs[i].w2 / recs[i - 1].w2,
                            exact[i] / exact[i - 1],
                        ];
                        table.push(&[name], &row);
                    }
                }
                table.build()?
            }
            "summary" => {
                let limits = denoising_limits(s);
                let (exact, se) = match cfg.forward {
                    Forward::Diffusion => forward_exact[0],
                    // The initial clouds are i.i.d. whatever the forward mode.
                    Forward::Map => forward_exact_at_zero(s),
                };
                let zeta_sum = curvature_sum(mu0, eta, cfg.steps);
                let values = [
                    cfg.n as f64,
                    eta,
                    cfg.steps as f64,
                    cfg.steps as f64 * eta,
                    run.w2_initial,
                    se,
                    exact,
                    run.w2_denoised,
                    run.w2_round_trip,
                    s.replicates as f64,
                    rep_sd(1),
                    rep_sd(2),
                    reps.iter().map(|r| r[1]).sum::<f64>() / reps.len() as f64,
                    limits.0,
                    limits.1,
                    zeta_sum,
                    (limits.0 / exact).powi(2),
                    (-2.0 * zeta_sum).exp(),
                ];
                let mut b = TableBuilder::new();
                for (decl, v) in schema.columns.iter().zip(values) {
                    b = b.number(&decl.name, vec![v]);
                }
                b.build(&schema.name)?
            }
            "stats" => {
                let mut table = Rows::new(schema);
                for c in snapshot_clouds(&run, s, eta)? {
                    for &h in &s.mode_bandwidths {
                        let st = cloud_stats(c.cloud, h);
                        let row = [
                            c.slot,
                            c.t,
                            h,
                            st.mean,
                            st.sd,
                            st.p_pos,
                            st.p_center,
                            st.q05,
                            st.q95,
                            st.mode,
                            st.mode_upper,
                            st.mode_lower,
                        ];
                        table.push(&c.keys, &row);
                    }
                }
                table.build()?
            }
            "one_step" | "one_step_fit" => one_step_tables(s, role, schema)?,
            "replicates" => {
                let mut b = TableBuilder::new()
                    .number("replicate", (0..reps.len()).map(|r| r as f64).collect());
                for (j, name) in ["w2_initial", "w2_denoised", "w2_round_trip"]
                    .iter()
                    .enumerate()
                {
                    b = b.number(name, reps.iter().map(|r| r[j]).collect());
                }
                b.build(&schema.name)?
            }
            other => return Err(format!("internal error: unknown role `{other}`")),
        };
        out.push(table);
    }
    Ok(out)
}

/// Exact W(μ_0, ν_0) and the standard error of the initial clouds' estimate.
fn forward_exact_at_zero(s: &Spec) -> (f64, f64) {
    let (mu0, nu0) = (&s.measures[0].1, &s.measures[1].1);
    let (Ok(a), Ok(b)) = (OuLaw::new(mu0, 0.0), OuLaw::new(nu0, 0.0)) else {
        return (f64::NAN, f64::NAN);
    };
    match ou_law::w2(&a, &b) {
        Some(w) => (
            w,
            w2_standard_error(&a, &b, w, s.config.n).unwrap_or(f64::NAN),
        ),
        None => (f64::NAN, f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_integrates_to_the_mass_inside() {
        let cloud: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
        let edges = crate::spec::linspace(0.0, 0.5, 6, false);
        let h = histogram(&cloud, &edges);
        let mass: f64 = h.iter().map(|d| d * 0.1).sum();
        // 0.000..0.500 inclusive: 501 of 1000 points.
        assert!((mass - 0.501).abs() < 1e-12, "{mass}");
    }

    fn spec(mu0: Measure, nu0: Measure, eta: f64, steps: usize) -> Spec {
        Spec {
            measures: vec![("μ".into(), mu0), ("ν".into(), nu0)],
            config: ParticleConfig {
                n: 10,
                eta,
                steps,
                forward: Forward::Diffusion,
                seed: 1,
                snapshot_times: vec![],
            },
            snapshot_steps: vec![],
            bins: 10,
            range: None,
            replicates: 0,
            mode_bandwidths: vec![0.1],
            one_step: None,
            tables: vec![],
        }
    }

    #[test]
    fn one_step_on_gaussians_matches_the_gaussian_engine() {
        // μ_0 = N(1, s²), ν_0 = N(1 + c, s²) (a shift): the quantile computation of
        // W(μ_t, b#ν_{t+η}) / W(μ_t, ν_t) equals the closed form of the Gaussian engine,
        // ζ_t = 1/v_t and the Fisher information 1/v_t.
        for (s2, t, eta) in [(0.1, 0.3, 0.01), (3.0, 1.0, 0.002)] {
            let mu0 = Measure::Normal { mean: 1.0, var: s2 };
            let nu0 = Measure::Normal { mean: 1.3, var: s2 };
            let r = one_step(&mu0, &nu0, t, eta).unwrap();
            let g = Gaussian::from_var(1.0, s2);
            let nu_t = Gaussian::from_var(1.3, s2).at(t);
            let want = crate::particles::diffuse_denoise_ratio(g, nu_t, t, eta);
            let got = r.w_after / r.w_before;
            assert!((got - want).abs() < 1e-10, "{got} vs {want}");
            let v = g.at(t).var();
            assert!(
                (r.zeta - 1.0 / v).abs() < 1e-7 / v,
                "{} vs {}",
                r.zeta,
                1.0 / v
            );
            assert!(
                (r.fisher - 1.0 / v).abs() < 1e-9 / v,
                "{} vs {}",
                r.fisher,
                1.0 / v
            );
        }
    }

    #[test]
    fn denoising_limit_on_gaussians_matches_the_chained_maps() {
        // Gaussian μ_0 and a point mass ν_0: b_[K] is affine, so W(μ_0, b_[K]#ν_T) is
        // the Gaussian engine's chained ratio times W(μ_0, ν_0).
        let (eta, steps) = (0.01, 150);
        let s = spec(
            Measure::Normal {
                mean: 1.0,
                var: 0.3,
            },
            Measure::Point { at: 0.0 },
            eta,
            steps,
        );
        let (denoised, round_trip) = denoising_limits(&s);
        let g = Gaussian::from_var(1.0, 0.3);
        let p = Gaussian { mean: 0.0, sd: 0.0 };
        let c = crate::particles::chained_ratio(g, p, eta, steps);
        let want = (c.ratio * g.w2(&p).powi(2)).sqrt();
        assert!((denoised - want).abs() < 1e-8, "{denoised} vs {want}");
        let mut map = crate::particles::Affine {
            slope: 1.0,
            intercept: 0.0,
        };
        for k in (1..=steps).rev() {
            map = g.backward_map(k as f64 * eta, eta).after(&map);
        }
        let want = g.w2(&g.at(steps as f64 * eta).push(&map));
        assert!((round_trip - want).abs() < 1e-8, "{round_trip} vs {want}");
    }

    #[test]
    fn curvature_sum_of_a_gaussian_is_the_sum_of_its_curvatures() {
        // μ_0 = N(1, 0.3): ζ_t = 1/v_t exactly (L_r is constant), so the sum is the
        // Gaussian engine's Σ curvature(kη) times η.
        let g = Gaussian::from_var(1.0, 0.3);
        let (eta, steps) = (0.01, 150);
        let want: f64 = (1..=steps)
            .map(|k| g.curvature(k as f64 * eta))
            .sum::<f64>()
            * eta;
        let got = curvature_sum(
            &Measure::Normal {
                mean: 1.0,
                var: 0.3,
            },
            eta,
            steps,
        );
        assert!((got - want).abs() < 1e-7 * want, "{got} vs {want}");
    }

    #[test]
    fn curvature_sum_of_two_atoms_matches_the_closed_form() {
        // ½δ_{-1} + ½δ_{+1}: sup L_r = r², so ζ_t = (1 - r(t)²)/σ_t² with
        // r² = 1/(e^{2t} - 1), σ_t² = 1 - e^{-2t}.
        let m = Measure::paper_example(4).unwrap();
        let (eta, steps) = (0.01, 150);
        let want: f64 = (1..=steps)
            .map(|k| {
                let t = k as f64 * eta;
                let r2 = 1.0 / (2.0 * t).exp_m1();
                (1.0 - r2) / -(-2.0 * t).exp_m1()
            })
            .sum::<f64>()
            * eta;
        let got = curvature_sum(&m, eta, steps);
        assert!((got - want).abs() < 1e-6 * want.abs(), "{got} vs {want}");
    }

    #[test]
    fn kde_modes_find_both_atoms_of_a_two_point_cloud() {
        // ½δ_{-1} + ½δ_{+1} blurred by a kernel of width 0.1: the estimate is
        // ½N(-1, 0.01) + ½N(1, 0.01), modes at ±1 to within the grid spacing h/8.
        let mut cloud = vec![-1.0; 500];
        cloud.extend(vec![1.0; 500]);
        let (mode, up, low) = kde_modes(&cloud, 0.1);
        assert!((up - 1.0).abs() <= 0.0125 + 1e-12, "{up}");
        assert!((low + 1.0).abs() <= 0.0125 + 1e-12, "{low}");
        assert!((mode.abs() - 1.0).abs() <= 0.0125 + 1e-12, "{mode}");
    }

    #[test]
    fn kde_modes_merge_close_atoms_under_a_wide_kernel() {
        // 0.4δ_2 + 0.3δ_4 (with 0.3δ_{-2}): a kernel of width 0.3 keeps two upper
        // modes apart, width 2 merges them into one between 2 and 4, and the lower
        // maximum at -2 drifts towards the mass on the right.
        let mut cloud = vec![-2.0; 300];
        cloud.extend(vec![2.0; 400]);
        cloud.extend(vec![4.0; 300]);
        let (_, up_narrow, _) = kde_modes(&cloud, 0.3);
        assert!((up_narrow - 2.0).abs() < 0.05, "{up_narrow}");
        let (_, up_wide, _) = kde_modes(&cloud, 1.2);
        assert!(up_wide > 2.2 && up_wide < 3.5, "{up_wide}");
    }

    #[test]
    fn kde_of_a_unimodal_cloud_has_no_lower_mode_when_the_mode_is_positive() {
        // Quantiles of a logistic law centred at 0.5: one mode near 0.5, no local
        // maximum at x < 0.
        let cloud: Vec<f64> = (1..2000)
            .map(|i| {
                let u = i as f64 / 2000.0;
                0.5 + (u / (1.0 - u)).ln()
            })
            .collect();
        let (mode, up, low) = kde_modes(&cloud, 0.2);
        assert!((mode - 0.5).abs() < 0.1, "{mode}");
        assert_eq!(mode, up);
        assert!(low.is_nan(), "{low}");
    }

    #[test]
    fn cloud_stats_moments_and_fractions() {
        let cloud = [-2.0, -0.1, 0.1, 0.2, 3.0];
        let st = cloud_stats(&cloud, 0.1);
        assert!((st.mean - 0.24).abs() < 1e-12);
        let var = (2.24f64.powi(2)
            + 0.34f64.powi(2)
            + 0.14f64.powi(2)
            + 0.04f64.powi(2)
            + 2.76f64.powi(2))
            / 5.0;
        assert!((st.sd - var.sqrt()).abs() < 1e-12);
        assert_eq!(st.p_pos, 0.6);
        assert_eq!(st.p_center, 0.6);
        assert_eq!(st.q05, -2.0);
        assert_eq!(st.q95, 3.0);
    }

    /// The law of N(mean, 1) itself (at t = 0).
    fn unit_normal_at_time_zero(mean: f64) -> OuLaw {
        OuLaw::new(&Measure::Normal { mean, var: 1.0 }, 0.0).unwrap()
    }

    #[test]
    fn standard_error_of_a_shift_is_the_mean_difference_one() {
        // N(0, 1) against N(m, 1): Ŵ₂² ≈ m² + 2m(ȳ - x̄ - m), so
        // se(Ŵ₂) = se(Ŵ₂²)/(2m) = √(2/n), whatever m.
        let a = unit_normal_at_time_zero(0.0);
        let b = unit_normal_at_time_zero(0.7);
        let n = 10_000;
        let se = w2_standard_error(&a, &b, 0.7, n).unwrap();
        let want = (2.0 / n as f64).sqrt();
        assert!((se / want - 1.0).abs() < 0.01, "{se} vs {want}");
    }

    #[test]
    fn standard_error_against_a_point_is_that_of_a_sample_mean() {
        // X ~ N(0, 1) against δ_0: Ŵ₂² = mean X², Var X² = 2, W = 1.
        let a = unit_normal_at_time_zero(0.0);
        let p = OuLaw::new(&Measure::Point { at: 0.0 }, 0.0).unwrap();
        let se = w2_standard_error(&a, &p, 1.0, 100).unwrap();
        assert!((se - 2f64.sqrt() / 10.0 / 2.0).abs() < 1e-12, "{se}");
    }
}
