//! Kind `perturbation`: Theorem 4 (and Theorem 2) tried on explicit perturbations
//! ν = (id + ξ)#μ_t of the OU law μ_t, with the exact squared-W expansion rate of one
//! backward step, the class constant M(ξ) of Def. 6 and the bound 2 - 2ζ*_{M(ξ)}(t)
//! from the exact complexity kernel; plus the worst case in closed form (CVaR of L_r),
//! ζ*_1 against the Fisher information of μ_t, and m*(r) at large r.
//!
//! ```yaml
//! id: pert-two-point
//! kind: perturbation
//! measures: [{label: "Ex. 4", measure: {mixture: [...]}}]
//! t: [0.1, 0.3, 0.6]
//! amplitudes: [1e-4, 0.5, 0.9]   # fractions of the largest admissible displacement
//! bump_widths: [0.1, 0.3, 1]     # bumps at the peaks of L_r, widths in units of σ_t
//! peaks: 2                       # how many local maxima of L_r get bumps
//! level_m: [2, 5, 10]            # smoothed indicators of {L_r > q_{1-1/M}}
//! tau: [0.1, 0.01]               # their smoothing widths (in units of L)
//! random: 20                     # random smooth ξ (sums of Gaussian bumps) per (measure, t)
//! eta: 1e-3                      # finite step for the W² of the images (ratio at η/100)
//! samples: 20000                 # Monte Carlo of the rate (0: none)
//! m: [1, 2, 5, 10]               # zeta table: ζ*_M by the kernel and by CVaR
//! envelope: {from: 1, to: 100, n: 50, log: true}
//! r_limit: {from: 1, to: 1e5, n: 21, log: true}   # limit table: m*(r) at large r
//! seed: 1
//! tables: {perturbations: A, envelope: B, zeta: C, fisher: D, limit: E}
//! ```
//!
//! Tables:
//! - `perturbations`: one row per (measure, t, profile, amplitude)
//! - `envelope`: per (measure, t, M): the bound 2 - 2ζ*_M, the best rate attainable by
//!   infinitesimal perturbations in the class (2 - 2(1 - CVaR_{1/M})/σ²), and the largest
//!   rates found among the perturbations with M(ξ) ≤ M
//! - `zeta`: per (measure, t, M): ζ*_M by the kernel and by CVaR, the quantile, attained
//! - `fisher`: per (measure, t): ζ*_1, E L_r, the Fisher information of μ_t, 1/Var μ_t, 1/σ²
//! - `limit`: per (measure, r): m*, δ*, 1/2 - m*, local exponents of the gap

pub mod math;

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Deserialize;

use super::{Common, KindSpec, Validated};
use crate::localize::{time_of_snr, ExactLocalization};
use crate::measure::Measure;
use crate::rng::{Purpose, StreamId};
use crate::spec::{BlockCtx, Grid, Num};
use crate::table::{ColumnDecl, Table, TableBuilder, TableSchema};
use math::{localization_peaks, rate_monte_carlo, rates, OuMarginal, Profile, Shape};

pub const ROLES: &[&str] = &["perturbations", "envelope", "zeta", "fisher", "limit"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    t: Option<Grid>,
    #[serde(default)]
    amplitudes: Option<Grid>,
    #[serde(default)]
    bump_widths: Option<Grid>,
    #[serde(default)]
    peaks: Option<usize>,
    #[serde(default)]
    level_m: Option<Grid>,
    #[serde(default)]
    tau: Option<Grid>,
    #[serde(default)]
    random: Option<usize>,
    #[serde(default)]
    eta: Option<Num>,
    #[serde(default)]
    samples: Option<usize>,
    #[serde(default)]
    m: Option<Grid>,
    #[serde(default)]
    envelope: Option<Grid>,
    #[serde(default)]
    r_limit: Option<Grid>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Spec {
    pub measures: Vec<(String, Measure)>,
    pub ts: Vec<f64>,
    pub amplitudes: Vec<f64>,
    pub bump_widths: Vec<f64>,
    pub peaks: usize,
    pub level_m: Vec<f64>,
    pub tau: Vec<f64>,
    pub random: usize,
    pub eta: f64,
    pub samples: usize,
    pub ms: Vec<f64>,
    pub envelope: Vec<f64>,
    pub r_limit: Vec<f64>,
    pub tables: BTreeMap<String, String>,
}

pub fn validate(ctx: &mut BlockCtx, common: &Common) -> Option<Validated> {
    let raw: Raw = common.fields(ctx)?;
    let tables = common.tables.clone();
    let ms_opt = common.measures.clone();
    let want = |r: &str| tables.contains_key(r);
    // A grid and the rule its values obey (described, and as a test).
    type Rule = (&'static str, fn(f64) -> bool);
    const POSITIVE: Rule = ("positive", |v| v > 0.0);
    const AT_LEAST_ONE: Rule = ("≥ 1 and finite", |v| v >= 1.0);
    const FRACTION: Rule = ("in (0, 1)", |v| v > 0.0 && v < 1.0);
    let grid =
        |ctx: &mut BlockCtx, g: &Option<Grid>, path: &str, (what, ok): Rule, need: bool| match g {
            Some(g) => ctx.grid(g, path, what, ok),
            None if need => {
                ctx.error(path, format!("this experiment's tables need `{path}`"));
                None
            }
            None => Some(Vec::new()),
        };
    let per_t = want("perturbations") || want("envelope") || want("zeta") || want("fisher");
    let ts = grid(ctx, &raw.t, "t", POSITIVE, per_t);
    let pert = want("perturbations") || want("envelope");
    let amplitudes = grid(ctx, &raw.amplitudes, "amplitudes", FRACTION, pert);
    let bump_widths = grid(ctx, &raw.bump_widths, "bump_widths", POSITIVE, false);
    let level_m = grid(ctx, &raw.level_m, "level_m", ("≥ 1", |v| v >= 1.0), false);
    let tau = grid(ctx, &raw.tau, "tau", POSITIVE, raw.level_m.is_some());
    let ms = grid(ctx, &raw.m, "m", AT_LEAST_ONE, want("zeta"));
    let envelope = grid(
        ctx,
        &raw.envelope,
        "envelope",
        AT_LEAST_ONE,
        want("envelope"),
    );
    let r_limit = grid(ctx, &raw.r_limit, "r_limit", POSITIVE, want("limit"));
    let eta = match &raw.eta {
        Some(n) => ctx.num(n, "eta"),
        None => Some(1e-3),
    };
    if let Some(e) = eta {
        if !(e > 0.0 && e < 0.01) {
            ctx.error("eta", format!("`eta` must lie in (0, 0.01), got {e}"));
        }
    }
    let samples = raw.samples.unwrap_or(0);
    if samples == 1 || samples > crate::limits::samples() {
        ctx.error(
            "samples",
            format!(
                "`samples` must be 0 or between 2 and {}",
                crate::limits::samples()
            ),
        );
    }
    let spec = Spec {
        measures: ms_opt?,
        ts: ts?,
        amplitudes: amplitudes?,
        bump_widths: bump_widths?,
        peaks: raw.peaks.unwrap_or(1),
        level_m: level_m?,
        tau: tau?,
        random: raw.random.unwrap_or(0),
        eta: eta?,
        samples,
        ms: ms?,
        envelope: envelope?,
        r_limit: r_limit?,
        tables,
    };
    let outputs = schemas(&spec);
    Some((outputs, KindSpec::Perturbation(spec)))
}

fn columns(role: &str, mc: bool) -> Vec<ColumnDecl> {
    let n = ColumnDecl::number;
    let mut c = vec![ColumnDecl::text("measure", "label of the measure")];
    match role {
        "perturbations" => {
            c.extend([n("r", "SNR r(t)"), n("t", "OU time t")]);
            c.push(ColumnDecl::text("family", "shift | bump | level | random"));
            c.extend([
                n("index", "profile number within (measure, t)"),
                n("param", "bump width / σ_t, or the target M of a level-set profile"),
                n("tau", "smoothing width of a level-set profile (else 0)"),
                n("attainable", "level-set profiles: 1 when the (1 - 1/M)-quantile of L_r is ≤ 1, else 0; -1 otherwise"),
                n("amplitude", "ε as a fraction of the largest admissible displacement"),
                n("size", "sup |ξ| / sd(μ_t)"),
                n("monotone", "1 - ε sup φ' (x + ξ increasing when > 0)"),
                n("M", "M(ξ) = sup ξ² / ∫ ξ² dμ_t"),
                n("rate", "exact η → 0 squared-W expansion rate at this ε"),
                n("rate_limit", "the ε → 0 rate of the same profile"),
                n("rate_eta", "rate from the W² of the images at η and 2η"),
                n("bound", "2 - 2ζ*_{M(ξ)}(t) (Thm. 4)"),
                n("excess", "rate - bound (≤ 0 when Thm. 4 holds)"),
                n("excess_limit", "rate_limit - bound"),
                n("bound_thm2", "2 - 2ζ, ζ = (1 - sup L_r)/σ_t² (Thm. 2)"),
                n("excess_thm2", "rate - bound_thm2 (≤ 0 when Thm. 2 holds)"),
                n("ratio", "W(b#μ_t, b#ν)/W(μ_t, ν) at step η/100"),
                n("ratio_bound", "1 + (η/100)(1 - ζ) (Thm. 2 without the o(η))"),
            ]);
            if mc {
                c.push(n("rate_mc", "Monte Carlo of the rate"));
                c.push(n("rate_mc_se", "its standard error"));
            }
        }
        "envelope" => c.extend([
            n("r", "SNR r(t)"),
            n("t", "OU time t"),
            n("M", "class constant M"),
            n("bound", "2 - 2ζ*_M(t)"),
            n(
                "attainable",
                "2 - 2(1 - CVaR_{1/M}(L_r))/σ_t²: sup of ε → 0 rates in the class",
            ),
            n(
                "best_limit",
                "largest ε → 0 rate among the profiles with M(ξ) ≤ M",
            ),
            n(
                "best_finite",
                "largest finite-ε rate among the perturbations with M(ξ) ≤ M",
            ),
        ]),
        "zeta" => c.extend([
            n("r", "SNR r(t)"),
            n("t", "OU time t"),
            n("M", "class constant M"),
            n("zeta", "ζ*_M(t) by the complexity kernel (δ search)"),
            n("quantile", "(1 - 1/M)-quantile of L_r"),
            n("cvar", "CVaR_{1/M}(L_r) = ∫ min(M s_r(u), 1) du"),
            n("cvar_q", "q + M E(L_r - q)₊ at the quantile q"),
            n("zeta_cvar", "(1 - CVaR)/σ_t²"),
            n("attained", "1 when the quantile lies in [0, 1]"),
            n("slack", "ζ_cvar - ζ*_M (0 when attained)"),
            n(
                "zeta_closed",
                "closed form: (1 - CVaR)/σ² when attained, else -M h(0, r)/σ²",
            ),
        ]),
        "fisher" => c.extend([
            n("r", "SNR r(t)"),
            n("t", "OU time t"),
            n("zeta1", "ζ*_1(t) by the complexity kernel"),
            n("mean_l", "E L_r (= h(1, r))"),
            n("fisher", "∫ s_t² dμ_t by quadrature of the score"),
            n("var_t", "Var μ_t (exact)"),
            n("cramer_rao", "1 / Var μ_t"),
            n("noise_bound", "1/σ_t²"),
        ]),
        _ => c.extend([
            n("r", "SNR r"),
            n("t", "OU time t(r)"),
            n("m_star", "m*(r), exact"),
            n("delta_star", "δ*(r), exact"),
            n("gap", "1/2 - m*(r)"),
            n("slope_log", "local d ln|gap| / d ln r"),
            n("slope_loglog", "local d ln|gap| / d ln ln r"),
            n("scaled", "(m*(r) - 1/2) r / ln r"),
        ]),
    }
    c
}

fn schemas(s: &Spec) -> Vec<TableSchema> {
    ROLES
        .iter()
        .filter_map(|role| {
            s.tables.get(*role).map(|name| TableSchema {
                name: name.clone(),
                columns: columns(role, s.samples > 0),
            })
        })
        .collect()
}

/// One profile of one (measure, t).
struct Job {
    law: usize,
    family: &'static str,
    index: usize,
    param: f64,
    tau: f64,
    /// Level-set profiles: 1 when their quantile lies in [0, 1] (Thm. 4 attainable), else 0; -1 for other families.
    attainable: f64,
    shape: Shape,
}

struct Row {
    job: usize,
    amplitude: f64,
    size: f64,
    monotone: f64,
    m: f64,
    rate: f64,
    rate_limit: f64,
    rate_eta: f64,
    bound: f64,
    bound_thm2: f64,
    ratio: f64,
    ratio_bound: f64,
    mc: (f64, f64),
}

fn profiles(s: &Spec, li: usize, law: &OuMarginal, seed: u64) -> Vec<Job> {
    let mut out = Vec::new();
    let mut push = |family, param, tau, shape: Shape| {
        let index = out.len();
        let attainable = match &shape {
            Shape::Level { q, .. } => f64::from(u8::from(*q <= 1.0)),
            _ => -1.0,
        };
        out.push(Job {
            law: li,
            family,
            index,
            param,
            tau,
            attainable,
            shape,
        });
    };
    push("shift", 0.0, 0.0, Shape::Shift);
    let constant = law.exact.localizer().constant_localization().is_some();
    let peaks = if constant {
        vec![law.mean]
    } else {
        localization_peaks(law, s.peaks)
    };
    for &c in &peaks {
        for &w in &s.bump_widths {
            push(
                "bump",
                w,
                0.0,
                Shape::Bumps {
                    bumps: vec![(c, w * law.sigma, 1.0)],
                    offset: 0.0,
                },
            );
        }
    }
    if !constant {
        for &bm in &s.level_m {
            let q = law.quantile(bm);
            for &tau in &s.tau {
                push("level", bm, tau, Shape::Level { q, tau });
            }
        }
    }
    // Each law and each (job, amplitude) draws from its own named stream, so the
    // numbers do not depend on rayon's scheduling.
    let mut rng = StreamId::new(seed, Purpose::PerturbationShapes { law: li as u64 }).chacha8();
    for _ in 0..s.random {
        let k = 1 + (crate::measure::sample::uniform_open01(&mut rng) * 3.0) as usize;
        let decay = (-law.t).exp();
        let bumps = (0..k)
            .map(|_| {
                use crate::measure::sample::standard_normal;
                let c =
                    decay * law.measure.sample_x(&mut rng) + law.sigma * standard_normal(&mut rng);
                let w = law.sd
                    * (0.05f64.ln()
                        + crate::measure::sample::uniform_open01(&mut rng) * (1.0f64 / 0.05).ln())
                    .exp();
                (c, w, standard_normal(&mut rng))
            })
            .collect();
        let offset = 0.3 * crate::measure::sample::standard_normal(&mut rng);
        push("random", 0.0, 0.0, Shape::Bumps { bumps, offset });
    }
    out
}

pub fn run(s: &Spec, seed: u64, outputs: &[TableSchema]) -> Result<Vec<Table>, String> {
    let want = |r: &str| s.tables.contains_key(r);
    let keys: Vec<(usize, usize)> = (0..s.measures.len())
        .flat_map(|mi| (0..s.ts.len()).map(move |ti| (mi, ti)))
        .collect();
    let per_t = want("perturbations") || want("envelope") || want("zeta") || want("fisher");
    let laws: Vec<OuMarginal> = if per_t {
        keys.par_iter()
            .map(|&(mi, ti)| OuMarginal::new(&s.measures[mi].1, s.ts[ti]))
            .collect()
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    // Perturbations (also feed the envelope).
    let (jobs, rows) = if want("perturbations") || want("envelope") {
        let jobs: Vec<Job> = laws
            .par_iter()
            .enumerate()
            .map(|(li, law)| profiles(s, li, law, seed))
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect();
        let rows: Vec<Vec<Row>> = jobs
            .par_iter()
            .enumerate()
            .map(|(ji, job)| {
                let law = &laws[job.law];
                let phi = Profile::new(law, job.shape.clone());
                let dmax = phi.max_amplitude(law);
                let mut zeta_m = None;
                let zc = law.zeta_curvature();
                s.amplitudes
                    .iter()
                    .enumerate()
                    .map(|(ai, &a)| {
                        let eps = a * dmax;
                        let r = rates(law, &phi, eps, s.eta);
                        let z = *zeta_m.get_or_insert_with(|| law.zeta_star(r.m));
                        let mc = if s.samples > 0 {
                            let stream = Purpose::PerturbationRate {
                                job: ji as u32,
                                amplitude: ai as u32,
                            };
                            let mut rng = StreamId::new(seed, stream).chacha8();
                            rate_monte_carlo(law, &phi, eps, s.samples, &mut rng)
                        } else {
                            (f64::NAN, f64::NAN)
                        };
                        Row {
                            job: ji,
                            amplitude: a,
                            size: eps / law.sd,
                            monotone: 1.0 - eps * phi.slope_max,
                            m: r.m,
                            rate: r.rate,
                            rate_limit: r.rate_limit,
                            rate_eta: r.rate_eta,
                            bound: 2.0 - 2.0 * z,
                            bound_thm2: 2.0 - 2.0 * zc,
                            ratio: r.ratio,
                            ratio_bound: 1.0 + math::RATIO_STEP * s.eta * (1.0 - zc),
                            mc,
                        }
                    })
                    .collect()
            })
            .collect();
        (jobs, rows.into_iter().flatten().collect::<Vec<Row>>())
    } else {
        (Vec::new(), Vec::new())
    };
    // ζ*_M on the envelope grid and in the zeta table: (law, M) pairs.
    let env_rows: Vec<[f64; 5]> = if want("envelope") {
        over_pairs(laws.len(), &s.envelope, |li, bm| {
            let law = &laws[li];
            let bound = 2.0 - 2.0 * law.zeta_star(bm);
            let q = law.quantile(bm);
            let attainable = 2.0 - 2.0 * (1.0 - law.cvar_from_quantile(bm, q)) / law.sigma2;
            let best = |f: fn(&Row) -> f64| {
                rows.iter()
                    .filter(|row| jobs[row.job].law == li && row.m <= bm * (1.0 + 1e-12))
                    .map(f)
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            [
                bm,
                bound,
                attainable,
                best(|r| r.rate_limit),
                best(|r| r.rate),
            ]
        })
    } else {
        Vec::new()
    };
    let zeta_rows: Vec<[f64; 9]> = if want("zeta") {
        over_pairs(laws.len(), &s.ms, |li, bm| {
            let law = &laws[li];
            let z = law.zeta_star(bm);
            let q = law.quantile(bm);
            let cvar = law.cvar(bm, q);
            let cvar_q = law.cvar_from_quantile(bm, q);
            let zc = (1.0 - cvar) / law.sigma2;
            let attained = if q <= 1.0 { 1.0 } else { 0.0 };
            let closed = if q <= 1.0 {
                zc
            } else {
                -bm * law.exact.integrated_tail(0.0) / law.sigma2
            };
            [bm, z, q, cvar, cvar_q, zc, attained, zc - z, closed]
        })
    } else {
        Vec::new()
    };
    let fisher_rows: Vec<[f64; 6]> = if want("fisher") {
        laws.par_iter()
            .map(|law| {
                let z1 = law.zeta_star(1.0);
                let mean_l = law.exact.integrated_tail(1.0);
                let var = law.sd * law.sd;
                [z1, mean_l, law.fisher(), var, 1.0 / var, 1.0 / law.sigma2]
            })
            .collect()
    } else {
        Vec::new()
    };
    let limit_rows: Vec<(usize, f64, f64, f64)> = if want("limit") {
        over_pairs(s.measures.len(), &s.r_limit, |mi, r| {
            let c = ExactLocalization::new(&s.measures[mi].1, r).complexity();
            (mi, r, c.m_star, c.delta_star)
        })
    } else {
        Vec::new()
    };

    for schema in outputs {
        let role = super::complexity::role_of(&s.tables, &schema.name);
        let mut labels = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut cols: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut push = |c: &'static str, v: f64| cols.entry(c).or_default().push(v);
        let law_key = |li: usize| {
            let (mi, _) = keys[li];
            (s.measures[mi].0.clone(), laws[li].r, laws[li].t)
        };
        match role {
            "perturbations" => {
                for row in &rows {
                    let job = &jobs[row.job];
                    let (label, r, t) = law_key(job.law);
                    labels.push(label);
                    texts.push(job.family.to_string());
                    push("r", r);
                    push("t", t);
                    push("index", job.index as f64);
                    push("param", job.param);
                    push("tau", job.tau);
                    push("attainable", job.attainable);
                    push("amplitude", row.amplitude);
                    push("size", row.size);
                    push("monotone", row.monotone);
                    push("M", row.m);
                    push("rate", row.rate);
                    push("rate_limit", row.rate_limit);
                    push("rate_eta", row.rate_eta);
                    push("bound", row.bound);
                    push("excess", row.rate - row.bound);
                    push("excess_limit", row.rate_limit - row.bound);
                    push("bound_thm2", row.bound_thm2);
                    push("excess_thm2", row.rate - row.bound_thm2);
                    push("ratio", row.ratio);
                    push("ratio_bound", row.ratio_bound);
                    if s.samples > 0 {
                        push("rate_mc", row.mc.0);
                        push("rate_mc_se", row.mc.1);
                    }
                }
            }
            "envelope" | "zeta" | "fisher" => {
                // One row per law (and level M): the law's label, r and t, then values.
                let (per, names, rows): (usize, &[&'static str], Vec<&[f64]>) = match role {
                    "envelope" => (
                        s.envelope.len(),
                        &["M", "bound", "attainable", "best_limit", "best_finite"],
                        env_rows.iter().map(|v| &v[..]).collect(),
                    ),
                    "zeta" => (
                        s.ms.len(),
                        &[
                            "M",
                            "zeta",
                            "quantile",
                            "cvar",
                            "cvar_q",
                            "zeta_cvar",
                            "attained",
                            "slack",
                            "zeta_closed",
                        ],
                        zeta_rows.iter().map(|v| &v[..]).collect(),
                    ),
                    _ => (
                        1,
                        &[
                            "zeta1",
                            "mean_l",
                            "fisher",
                            "var_t",
                            "cramer_rao",
                            "noise_bound",
                        ],
                        fisher_rows.iter().map(|v| &v[..]).collect(),
                    ),
                };
                for (k, v) in rows.iter().enumerate() {
                    let (label, r, t) = law_key(k / per);
                    labels.push(label);
                    push("r", r);
                    push("t", t);
                    for (c, x) in names.iter().zip(*v) {
                        push(c, *x);
                    }
                }
            }
            _ => {
                for mi in 0..s.measures.len() {
                    let pts: Vec<&(usize, f64, f64, f64)> =
                        limit_rows.iter().filter(|p| p.0 == mi).collect();
                    let gaps: Vec<f64> = pts.iter().map(|p| 0.5 - p.2).collect();
                    let slope = |k: usize, f: fn(f64) -> f64| {
                        let (a, b) = (k.saturating_sub(1), (k + 1).min(pts.len() - 1));
                        if a == b || gaps[a] == 0.0 || gaps[b] == 0.0 {
                            return f64::NAN;
                        }
                        (gaps[b].abs().ln() - gaps[a].abs().ln()) / (f(pts[b].1) - f(pts[a].1))
                    };
                    for (k, p) in pts.iter().enumerate() {
                        labels.push(s.measures[mi].0.clone());
                        push("r", p.1);
                        push("t", time_of_snr(p.1));
                        push("m_star", p.2);
                        push("delta_star", p.3);
                        push("gap", gaps[k]);
                        push("slope_log", slope(k, f64::ln));
                        push("slope_loglog", slope(k, |r: f64| r.ln().ln()));
                        push("scaled", -gaps[k] * p.1 / p.1.ln());
                    }
                }
            }
        }
        let mut b = TableBuilder::new().text("measure", labels);
        for c in schema.columns.iter().skip(1) {
            if c.name == "family" {
                b = b.text("family", std::mem::take(&mut texts));
                continue;
            }
            let values = cols.remove(c.name.as_str()).unwrap_or_default();
            b = b.number(&c.name, values);
        }
        out.push(b.build(&schema.name)?);
    }
    Ok(out)
}

/// `f` at every pair (i, v) of an index i < `n` and a value v of `values`, in that
/// order, computed in parallel.
fn over_pairs<T: Send>(n: usize, values: &[f64], f: impl Fn(usize, f64) -> T + Sync) -> Vec<T> {
    let pairs: Vec<(usize, f64)> = (0..n)
        .flat_map(|i| values.iter().map(move |&v| (i, v)))
        .collect();
    pairs.par_iter().map(|&(i, v)| f(i, v)).collect()
}
