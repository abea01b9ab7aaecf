//! Kind `transport_map`: the score is the backward optimal transport map (Prop. 1),
//! and it is a posterior mean (Tweedie, Prop. 2).
//!
//! For each measure μ_0, OU time t and step η, the optimal map from μ_{t+η} back to
//! μ_t is, in one dimension, the quantile coupling T = F_t⁻¹ ∘ F_{t+η}. Prop. 1 says
//! T = i + η(x + ∇log p_{μ_{t+η}}) + O(η²): the backward map b^{μ,η} of the paper is
//! the first-order part of T. We evaluate both at the points x = F_{t+η}⁻¹(u) of a grid
//! of levels u, with exact quantiles of the OU laws (`ou_law`), and the score by
//! Tweedie's formula from the posterior mean of the clean signal:
//! ∇log p_{μ_s}(x) = -(x - e^{-s} E[X_0 | X_s = x])/σ_s².
//!
//! ```yaml
//! id: score-map
//! kind: transport_map
//! measures: [{label: "Example 4", measure: {mixture: [...]}}]
//! t: [0.1, 0.5, 1]                               # OU times (> 0)
//! eta: {from: 0.001, to: 0.05, n: 8, log: true}  # steps
//! u: {from: 0.01, to: 0.99, n: 99}               # quantile levels in (0, 1)
//! tables: {map: score-map, gaps: score-map-gaps, fit: score-map-fit}
//! ```
//!
//! Table `map`: measure, t, eta, u, x (= F_{t+η}⁻¹(u)), ot_map (= F_t⁻¹(u), the optimal
//! map at x), score_map (x + η(x + score)), gap (ot_map - score_map), posterior_mean
//! (E[X_0 | X_{t+η} = x]), score (Tweedie), ot_score ((ot_map - x)/η - x, the score read
//! off the optimal map). Table `gaps`, one row per measure, t and η: max_gap (the largest
//! |gap| over u) and max_score_error (the largest |ot_score - score|, = max_gap/η).
//! Table `fit`, one row per measure and t: eta_min, max_gap (the
//! largest |gap| over u at the smallest η), slope (least-squares slope of ln max|gap|
//! against ln η over the η grid; 2 when the gap is O(η²)), max_score_error (the largest
//! |ot_score - score| at the smallest η).

pub mod ou_law;

use rayon::prelude::*;
use serde::Deserialize;

use super::gaussian_steps::loglog_slope;
use super::{Common, KindSpec, Validated};
use crate::localize::{ou_noise_var, snr};
use crate::measure::Measure;
use crate::spec::{BlockCtx, Grid};
use crate::table::{ColumnDecl, Table, TableBuilder, TableSchema};
use ou_law::OuLaw;

pub const ROLES: &[&str] = &["map", "gaps", "fit"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    t: Grid,
    eta: Grid,
    u: Grid,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Spec {
    pub measures: Vec<(String, Measure)>,
    pub ts: Vec<f64>,
    pub etas: Vec<f64>,
    pub us: Vec<f64>,
    pub map: Option<String>,
    pub gaps: Option<String>,
    pub fit: Option<String>,
}

/// The columns of the table of `role`.
fn columns(role: &str) -> Vec<ColumnDecl> {
    let (n, t) = (ColumnDecl::number, ColumnDecl::text);
    match role {
        "map" => vec![
            t("measure", "label of μ_0"),
            n("t", "OU time t of the target μ_t"),
            n("eta", "step η (the map goes from μ_{t+η} to μ_t)"),
            n("u", "quantile level"),
            n("x", "F_{t+η}⁻¹(u), a point of μ_{t+η}"),
            n("ot_map", "F_t⁻¹(u): the optimal map at x"),
            n("score_map", "x + η(x + ∇log p_{μ_{t+η}}(x))"),
            n("gap", "ot_map - score_map"),
            n("posterior_mean", "E[X_0 | X_{t+η} = x]"),
            n(
                "score",
                "Tweedie: -(x - e^{-(t+η)} E[X_0 | X_{t+η} = x])/σ²_{t+η}",
            ),
            n("ot_score", "(ot_map - x)/η - x, the score read off the map"),
        ],
        "gaps" => vec![
            t("measure", "label of μ_0"),
            n("t", "OU time t"),
            n("eta", "step η"),
            n("max_gap", "max over u of |gap|"),
            n("max_score_error", "max over u of |ot_score - score|"),
        ],
        "fit" => vec![
            t("measure", "label of μ_0"),
            n("t", "OU time t"),
            n("eta_min", "the smallest η of the grid"),
            n("max_gap", "max over u of |gap| at the smallest η"),
            n("slope", "least-squares slope of ln max|gap| on ln η"),
            n(
                "max_score_error",
                "max over u of |ot_score - score| at the smallest η",
            ),
        ],
        _ => unreachable!("roles are checked by common_tables"),
    }
}

pub fn validate(ctx: &mut BlockCtx, common: &Common) -> Option<Validated> {
    let raw: Raw = common.fields(ctx)?;
    let tables = common.tables.clone();
    let ms = common.measures.clone();
    let ts = ctx.grid(
        &raw.t,
        "t",
        "positive (the map starts at μ_t, t > 0)",
        |v| v > 0.0 && v <= 50.0,
    );
    let etas = ctx.grid(&raw.eta, "eta", "in (0, 1]", |v| v > 0.0 && v <= 1.0);
    let us = ctx.grid(&raw.u, "u", "strictly between 0 and 1", |v| {
        v > 0.0 && v < 1.0
    });
    // The exact OU laws exist for mixture-form measures only: refuse the others here,
    // at the field, rather than when the experiment runs.
    if let Some(ms) = &ms {
        for (i, (label, m)) in ms.iter().enumerate() {
            if let Err(e) = OuLaw::new(m, 1.0) {
                ctx.error(&common.measure_path(i), format!("measure `{label}`: {e}"));
            }
        }
    }
    let (measures, ts, etas, us) = (ms?, ts?, etas?, us?);
    let rows = measures.len() * ts.len() * etas.len() * us.len();
    if !ctx.within_rows(rows, "u", "rows") {
        return None;
    }
    if etas.len() < 2 && tables.contains_key("fit") {
        ctx.error(
            "eta",
            "the `fit` table needs at least two values of `eta` to fit a slope",
        );
        return None;
    }
    let map = tables.get("map").cloned();
    let gaps = tables.get("gaps").cloned();
    let fit = tables.get("fit").cloned();
    let outputs = common.schemas(columns);
    Some((
        outputs,
        KindSpec::TransportMap(Spec {
            measures,
            ts,
            etas,
            us,
            map,
            gaps,
            fit,
        }),
    ))
}

/// One row of the `map` table (numbers after `measure`).
#[derive(Clone, Copy)]
struct Row {
    x: f64,
    ot_map: f64,
    score_map: f64,
    posterior_mean: f64,
    score: f64,
}

/// The rows of one (measure, t, η) block, one per u.
fn block(m: &Measure, t: f64, eta: f64, us: &[f64]) -> Result<Vec<Row>, String> {
    let s = t + eta;
    let from = OuLaw::new(m, s)?;
    let to = OuLaw::new(m, t)?;
    let sigma2 = ou_noise_var(s);
    let sigma = sigma2.sqrt();
    let r = snr(s);
    let decay = (-s).exp();
    let loc = m.localizer(r);
    Ok(us
        .iter()
        .map(|&u| {
            let x = from.quantile(u);
            // X_s = σ_s Y_r with r = r(s): E[X_0 | X_s = x] = E[rX | Y_r = x/σ_s]/r.
            let posterior_mean = loc.posterior(x / sigma).mean / r;
            let score = -(x - decay * posterior_mean) / sigma2;
            Row {
                x,
                ot_map: to.quantile(u),
                score_map: x + eta * (x + score),
                posterior_mean,
                score,
            }
        })
        .collect())
}

pub fn run(s: &Spec, outputs: &[TableSchema]) -> Result<Vec<Table>, String> {
    let keys: Vec<(usize, f64, f64)> = (0..s.measures.len())
        .flat_map(|mi| {
            s.ts.iter()
                .flat_map(move |&t| s.etas.iter().map(move |&eta| (mi, t, eta)))
        })
        .collect();
    let blocks: Vec<Vec<Row>> = keys
        .par_iter()
        .map(|&(mi, t, eta)| block(&s.measures[mi].1, t, eta, &s.us))
        .collect::<Result<_, _>>()?;

    let mut tables = Vec::new();
    let mut schemas = outputs.iter();
    if let Some(name) = &s.map {
        let schema = schemas
            .next()
            .ok_or("internal error: no schema for `map`")?;
        let n = keys.len() * s.us.len();
        let mut labels = Vec::with_capacity(n);
        let mut cols: [Vec<f64>; 10] = Default::default();
        for (&(mi, t, eta), rows) in keys.iter().zip(&blocks) {
            for (&u, row) in s.us.iter().zip(rows) {
                labels.push(s.measures[mi].0.clone());
                let values = [
                    t,
                    eta,
                    u,
                    row.x,
                    row.ot_map,
                    row.score_map,
                    row.ot_map - row.score_map,
                    row.posterior_mean,
                    row.score,
                    (row.ot_map - row.x) / eta - row.x,
                ];
                for (c, v) in cols.iter_mut().zip(values) {
                    c.push(v);
                }
            }
        }
        let mut b = TableBuilder::new().text("measure", labels);
        for (decl, values) in schema.columns.iter().skip(1).zip(cols) {
            b = b.number(&decl.name, values);
        }
        debug_assert_eq!(&schema.name, name);
        tables.push(b.build(&schema.name)?);
    }
    // max over u of |gap| and of |ot_score - score| for each block.
    let worst = |rows: &[Row], eta: f64| -> (f64, f64) {
        rows.iter().fold((0.0, 0.0), |(g, e): (f64, f64), r| {
            (
                g.max((r.ot_map - r.score_map).abs()),
                e.max(((r.ot_map - r.x) / eta - r.x - r.score).abs()),
            )
        })
    };
    if s.gaps.is_some() {
        let schema = schemas
            .next()
            .ok_or("internal error: no schema for `gaps`")?;
        let mut labels = Vec::new();
        let mut cols: [Vec<f64>; 4] = Default::default();
        for (&(mi, t, eta), rows) in keys.iter().zip(&blocks) {
            labels.push(s.measures[mi].0.clone());
            let (g, e) = worst(rows, eta);
            for (c, v) in cols.iter_mut().zip([t, eta, g, e]) {
                c.push(v);
            }
        }
        let mut b = TableBuilder::new().text("measure", labels);
        for (decl, values) in schema.columns.iter().skip(1).zip(cols) {
            b = b.number(&decl.name, values);
        }
        tables.push(b.build(&schema.name)?);
    }
    if s.fit.is_some() {
        let schema = schemas
            .next()
            .ok_or("internal error: no schema for `fit`")?;
        let (i_min, eta_min) = s
            .etas
            .iter()
            .copied()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .ok_or("internal error: empty eta grid")?;
        let mut labels = Vec::new();
        let mut cols: [Vec<f64>; 5] = Default::default();
        let per_t = s.etas.len();
        for (mi, (label, _)) in s.measures.iter().enumerate() {
            for (ti, &t) in s.ts.iter().enumerate() {
                let first = (mi * s.ts.len() + ti) * per_t;
                let group = &blocks[first..first + per_t];
                let max_gap: Vec<f64> = group
                    .iter()
                    .zip(&s.etas)
                    .map(|(rows, &eta)| worst(rows, eta).0)
                    .collect();
                let score_error = worst(&group[i_min], eta_min).1;
                labels.push(label.clone());
                let values = [
                    t,
                    eta_min,
                    max_gap[i_min],
                    loglog_slope(&s.etas, &max_gap),
                    score_error,
                ];
                for (c, v) in cols.iter_mut().zip(values) {
                    c.push(v);
                }
            }
        }
        let mut b = TableBuilder::new().text("measure", labels);
        for (decl, values) in schema.columns.iter().skip(1).zip(cols) {
            b = b.number(&decl.name, values);
        }
        tables.push(b.build(&schema.name)?);
    }
    Ok(tables)
}
