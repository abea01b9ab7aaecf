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
//! tables: {snapshots: tp-ridges, distances: tp-w2, steps: tp-steps, summary: tp-denoise}
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
//!   μ-cloud against the denoised ν-cloud), w2_round_trip (W(μ_0, μ̄_0)).

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Deserialize;

use super::transport_map::ou_law::{self, OuLaw};
use super::{common_tables, Experiment, KindSpec};
use crate::measure::special::norm_pdf;
use crate::measure::Measure;
use crate::particles::{run_gaussian, run_particles, Forward, Gaussian, ParticleConfig, Phase};
use crate::spec::measure::RawMeasure;
use crate::spec::{BlockCtx, Grid, Num};
use crate::table::{ColumnDecl, Table, TableBuilder, TableSchema};

const ROLES: &[&str] = &["snapshots", "distances", "steps", "summary"];

/// Ceilings checked before anything is allocated: particles per cloud, steps,
/// snapshot times and histogram bins (memory is 32·n bytes per snapshot time).
const MAX_PARTICLES: usize = 2_000_000;
const MAX_STEPS: usize = 10_000;
const MAX_SNAPSHOTS: usize = 50;
const MAX_BINS: usize = 1_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: String,
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    measure: RawMeasure,
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
    tables: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// [("μ", μ_0), ("ν", ν_0)].
    pub measures: Vec<(String, Measure)>,
    pub config: ParticleConfig,
    /// Snapshot steps k in the order the chapter listed the times.
    pub snapshot_steps: Vec<usize>,
    pub bins: usize,
    pub range: Option<(f64, f64)>,
    /// Role → table name, in the order of `Experiment::outputs`.
    pub tables: Vec<(String, String)>,
}

fn schema(role: &str, name: &str) -> TableSchema {
    let (n, t) = (ColumnDecl::number, ColumnDecl::text);
    let columns = match role {
        "snapshots" => vec![
            t("phase", "forward or backward"),
            n(
                "slot",
                "position of the snapshot time in the list (1, 2, …)",
            ),
            n("t", "time of the snapshot (the nearest step)"),
            t("measure", "μ or ν"),
            n("lower", "lower edge of the bin"),
            n("upper", "upper edge of the bin"),
            n("center", "centre of the bin"),
            n("density", "fraction of the cloud in the bin / bin width"),
        ],
        "distances" => vec![
            t("phase", "forward or backward"),
            n("step", "k, with t = kη"),
            n("t", "time"),
            n("w2", "W₂ between the μ- and ν-clouds"),
            n("w2_se", "standard error of w2 (forward diffusion only)"),
            n("w2_exact", "W₂ between the exact laws (NaN where none)"),
        ],
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
        ],
        _ => unreachable!("roles are checked by common_tables"),
    };
    TableSchema {
        name: name.to_string(),
        columns,
    }
}

pub fn validate(ctx: &mut BlockCtx) -> Option<Experiment> {
    let raw: Raw = ctx.parse_or_report()?;
    let id = ctx.id(&raw.id, "id");
    let tables = common_tables(ctx, &raw.tables, ROLES);
    let mu0 = crate::spec::measure::validate(ctx, &raw.measure, "measure");
    let nu0 = match &raw.reference {
        Some(r) => crate::spec::measure::validate(ctx, r, "reference"),
        None => Some(Measure::Point { at: 0.0 }),
    };
    let eta = ctx.num_where(&raw.eta, "eta", "in (0, 1)", |v| v > 0.0 && v < 1.0);
    let mut ok = true;
    if raw.n == 0 || raw.n > MAX_PARTICLES {
        ctx.error(
            "n",
            format!("`n` must be between 1 and {MAX_PARTICLES} particles"),
        );
        ok = false;
    }
    if raw.steps == 0 || raw.steps > MAX_STEPS {
        ctx.error(
            "steps",
            format!("`steps` must be between 1 and {MAX_STEPS}"),
        );
        ok = false;
    }
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
    let times = match &raw.snapshots {
        Some(g) => ctx.grid(g, "snapshots", "a time ≥ 0", |v| v >= 0.0),
        None if tables.contains_key("snapshots") => {
            ctx.error_hint(
                "snapshots",
                "the `snapshots` table needs the times to snapshot",
                "add e.g. `snapshots: [0.01, 0.145, 0.296, 0.597, 0.898, 1.5]`",
            );
            None
        }
        None => Some(Vec::new()),
    };
    let (mu0, nu0, eta, forward, range, times) = (mu0?, nu0?, eta?, forward?, range?, times?);
    if !ok {
        return None;
    }
    if times.len() > MAX_SNAPSHOTS {
        ctx.error(
            "snapshots",
            format!(
                "at most {MAX_SNAPSHOTS} snapshot times, got {}",
                times.len()
            ),
        );
        return None;
    }
    let mut snapshot_steps: Vec<usize> = Vec::new();
    for (i, &t) in times.iter().enumerate() {
        let k = (t / eta).round();
        if k > raw.steps as f64 {
            ctx.error(
                &format!("snapshots[{i}]"),
                format!(
                    "snapshot time {t} is beyond the final time T = {}",
                    raw.steps as f64 * eta
                ),
            );
            return None;
        }
        let k = k as usize;
        if snapshot_steps.contains(&k) {
            ctx.error(
                &format!("snapshots[{i}]"),
                format!("snapshot time {t} falls on the same step (k = {k}) as an earlier one"),
            );
            return None;
        }
        snapshot_steps.push(k);
    }
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
    let ordered: Vec<(String, String)> = ROLES
        .iter()
        .filter_map(|r| tables.get(*r).map(|n| (r.to_string(), n.clone())))
        .collect();
    let outputs = ordered.iter().map(|(r, n)| schema(r, n)).collect();
    let seed = raw.seed.unwrap_or(0);
    Some(Experiment {
        id,
        kind: "particles",
        source: ctx.block.body.clone(),
        seed,
        outputs,
        spec: KindSpec::Particles(Spec {
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
            tables: ordered,
        }),
        line: ctx.block.fence_line,
    })
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

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Forward => "forward",
        Phase::Backward => "backward",
    }
}

pub fn run(s: &Spec, outputs: &[TableSchema]) -> Result<Vec<Table>, String> {
    let (mu0, nu0) = (&s.measures[0].1, &s.measures[1].1);
    let run = run_particles(mu0, nu0, &s.config).map_err(|e| e.to_string())?;
    let cfg = &s.config;
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
                let mut phase = Vec::new();
                let mut label = Vec::new();
                let mut cols: [Vec<f64>; 6] = Default::default();
                for p in [Phase::Forward, Phase::Backward] {
                    for (slot, &k) in s.snapshot_steps.iter().enumerate() {
                        let t = k as f64 * eta;
                        let snap = run
                            .snapshots
                            .iter()
                            .find(|sn| sn.phase == p && sn.t == t)
                            .ok_or_else(|| {
                                format!("internal error: no {} snapshot at t = {t}", phase_name(p))
                            })?;
                        for (name, cloud) in [("μ", &snap.mu), ("ν", &snap.nu)] {
                            for (i, d) in histogram(cloud, &edges).into_iter().enumerate() {
                                phase.push(phase_name(p).to_string());
                                label.push(name.to_string());
                                let (lo, hi) = (edges[i], edges[i + 1]);
                                let row = [(slot + 1) as f64, t, lo, hi, 0.5 * (lo + hi), d];
                                for (c, v) in cols.iter_mut().zip(row) {
                                    c.push(v);
                                }
                            }
                        }
                    }
                }
                let [slot, t, lower, upper, center, density] = cols;
                TableBuilder::new()
                    .text("phase", phase)
                    .number("slot", slot)
                    .number("t", t)
                    .text("measure", label)
                    .number("lower", lower)
                    .number("upper", upper)
                    .number("center", center)
                    .number("density", density)
                    .build(&schema.name)?
            }
            "distances" => {
                let mut phase = Vec::new();
                let mut cols: [Vec<f64>; 5] = Default::default();
                for (k, rec) in run.forward.iter().enumerate() {
                    phase.push("forward".to_string());
                    let (w, se) = forward_exact[k];
                    for (c, v) in cols.iter_mut().zip([k as f64, rec.t, rec.w2, se, w]) {
                        c.push(v);
                    }
                }
                for (i, rec) in run.backward.iter().enumerate() {
                    phase.push("backward".to_string());
                    let k = cfg.steps - i;
                    let row = [k as f64, rec.t, rec.w2, f64::NAN, backward_exact[i]];
                    for (c, v) in cols.iter_mut().zip(row) {
                        c.push(v);
                    }
                }
                let [step, t, w2, se, exact] = cols;
                TableBuilder::new()
                    .text("phase", phase)
                    .number("step", step)
                    .number("t", t)
                    .number("w2", w2)
                    .number("w2_se", se)
                    .number("w2_exact", exact)
                    .build(&schema.name)?
            }
            "steps" => {
                let mut phase = Vec::new();
                let mut cols: [Vec<f64>; 5] = Default::default();
                let fwd_exact: Vec<f64> = forward_exact.iter().map(|p| p.0).collect();
                for (name, recs, exact) in [
                    ("forward", &run.forward, &fwd_exact),
                    ("backward", &run.backward, &backward_exact),
                ] {
                    for i in 1..recs.len() {
                        phase.push(name.to_string());
                        let row = [
                            i as f64,
                            recs[i - 1].t,
                            recs[i].t,
                            recs[i].w2 / recs[i - 1].w2,
                            exact[i] / exact[i - 1],
                        ];
                        for (c, v) in cols.iter_mut().zip(row) {
                            c.push(v);
                        }
                    }
                }
                let [step, from, to, ratio, exact] = cols;
                TableBuilder::new()
                    .text("phase", phase)
                    .number("step", step)
                    .number("t_from", from)
                    .number("t_to", to)
                    .number("ratio", ratio)
                    .number("ratio_exact", exact)
                    .build(&schema.name)?
            }
            "summary" => {
                let (exact, se) = match cfg.forward {
                    Forward::Diffusion => forward_exact[0],
                    // The initial clouds are i.i.d. whatever the forward mode.
                    Forward::Map => forward_exact_at_zero(s),
                };
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
                ];
                let mut b = TableBuilder::new();
                for (decl, v) in schema.columns.iter().zip(values) {
                    b = b.number(&decl.name, vec![v]);
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

    #[test]
    fn standard_error_of_a_shift_is_the_mean_difference_one() {
        // N(0, 1) against N(m, 1): Ŵ₂² ≈ m² + 2m(ȳ - x̄ - m), so
        // se(Ŵ₂) = se(Ŵ₂²)/(2m) = √(2/n), whatever m.
        let a = OuLaw::new(
            &Measure::Normal {
                mean: 0.0,
                var: 1.0,
            },
            0.0,
        )
        .unwrap();
        let b = OuLaw::new(
            &Measure::Normal {
                mean: 0.7,
                var: 1.0,
            },
            0.0,
        )
        .unwrap();
        let n = 10_000;
        let se = w2_standard_error(&a, &b, 0.7, n).unwrap();
        let want = (2.0 / n as f64).sqrt();
        assert!((se / want - 1.0).abs() < 0.01, "{se} vs {want}");
    }

    #[test]
    fn standard_error_against_a_point_is_that_of_a_sample_mean() {
        // X ~ N(0, 1) against δ_0: Ŵ₂² = mean X², Var X² = 2, W = 1.
        let a = OuLaw::new(
            &Measure::Normal {
                mean: 0.0,
                var: 1.0,
            },
            0.0,
        )
        .unwrap();
        let p = OuLaw::new(&Measure::Point { at: 0.0 }, 0.0).unwrap();
        let se = w2_standard_error(&a, &p, 1.0, 100).unwrap();
        assert!((se - 2f64.sqrt() / 10.0 / 2.0).abs() < 1e-12, "{se}");
    }
}
