//! Kind `plane`: the multi-scale complexity of measures in R^d over a grid of r or t,
//! exact (in the plane, and for Gaussians) and/or by Monte Carlo (d ≤ 16), with exact
//! oracles beside them, and L_r over a grid of the plane for maps.
//!
//! ```yaml
//! id: ring
//! kind: plane
//! measure: {mixture: [{weight: 0.5, mean: [1, 0], var: 0.05}, {weight: 0.5, mean: [-1, 0], var: 0.05}]}
//! r: [0.5, 1.5]                 # or t: {from: 0.05, to: 1.5, n: 30}
//! u: [0.5, 1]                   # s_r(u)
//! delta: [0, 0.5]               # h(δ, r)
//! m: [1, 2, 5]                  # ζ*_M(t)
//! method: both                  # exact | monte_carlo | both
//! samples: 100000
//! seed: 3
//! oracle: product               # product | line | gaussian: *_oracle columns
//! map: {x: {from: -3, to: 3, n: 61}, y: {from: -3, to: 3, n: 61}}   # for the map table (d = 2)
//! tables: {summary: NAME, survival: NAME, tail: NAME, zeta: NAME, map: NAME, means: NAME}
//! ```
//!
//! Every value comes from `localize::kernel`, the function behind the `complexity`
//! command and experiment. The oracles compute the same quantities another way:
//! - `product` (μ = ⊗ μ_k, declared with `product:`): L_r = max_k L_r^(k) of
//!   independent coordinates, so s_r(u) = 1 - Π(1 - s_k(u)) from the 1-D exact code
//!   and h(δ) = ∫_{1-δ}^∞ s_r(v) dv;
//! - `line` (means on a line, every covariance s²I with one s): in coordinates along
//!   and across the line L_r(y) = max(L¹_r(⟨y, e⟩), r²s²/(r²s² + 1)), L¹ the 1-D
//!   localization of the projected law;
//! - `gaussian` (one component): L_r ≡ r²λ_max/(r²λ_max + 1).
//!
//! Tables: `summary` (measure, r, t, sup_l, m_star, delta_star, + `_mc`, + `_oracle`),
//! `survival`, `tail`, `zeta` as in `complexity` (+ `_oracle` columns), and `map`
//! (measure, r, t, x1, x2, localization, above_one, band) with L_r(y) in the coordinates of
//! Y_r divided by r (so maps at different r share the axes of X), and `means`
//! (measure, component, weight, x1, x2): the components' means in the plane, to mark
//! on the maps.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Deserialize;

use super::complexity::{
    point_row, role_of, sweep_schemas, sweep_table, By, Sweep, SweepRaw, PLANE,
};
use super::{Common, KindSpec, Validated};
use crate::localize::kernel;
use crate::localize::levels::{self, LevelSets, Search};
use crate::localize::quadrature::integrate_scalar;
use crate::localize::{self, ExactLocalization, LevelSet};
use crate::measure::{Component, Measure};
use crate::plane::linalg::sym_eig_max;
use crate::plane::{Law, SpaceMeasure};
use crate::rng::StreamId;
use crate::spec::measure::{RawLabelled, RawMeasure};
use crate::spec::{BlockCtx, Grid, Num};
use crate::table::{ColumnDecl, Table, TableBuilder, TableSchema};

/// The table roles; the last, `means`, is not a sweep table.
pub const ROLES: &[&str] = &["summary", "survival", "tail", "zeta", "map", "means"];
const ORACLES: &[&str] = &["product", "line", "gaussian"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    x: Grid,
    y: Grid,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    r: Option<Grid>,
    #[serde(default)]
    t: Option<Grid>,
    #[serde(default)]
    u: Option<Grid>,
    #[serde(default)]
    delta: Option<Grid>,
    #[serde(default)]
    m: Option<Vec<Num>>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    samples: Option<usize>,
    #[serde(default)]
    delta_grid: Option<usize>,
    #[serde(default)]
    oracle: Option<String>,
    #[serde(default)]
    map: Option<RawMap>,
}

/// Which exact oracle stands beside the computed values.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum Oracle {
    Product,
    Line,
    Gaussian,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Spec {
    pub measures: Vec<(String, Law)>,
    #[serde(flatten)]
    pub sweep: Sweep,
    pub oracle: Option<Oracle>,
    pub map: Option<(Vec<f64>, Vec<f64>)>,
    pub tables: BTreeMap<String, String>,
}

fn laws(
    ctx: &mut BlockCtx,
    single: &Option<RawMeasure>,
    many: &Option<Vec<RawLabelled>>,
) -> Option<Vec<(String, Law)>> {
    let example = "{normal: {mean: [0, 0], cov: [[1, 0], [0, 2]]}}";
    super::labelled(ctx, single, many, crate::spec::space::validate_law, example)
}

pub fn validate(ctx: &mut BlockCtx, common: &Common) -> Option<Validated> {
    let raw: Raw = common.fields(ctx)?;
    let tables = common.tables.clone();
    let measures = laws(ctx, &common.raw_measure, &common.raw_measures);
    let sweep = super::complexity::sweep(
        ctx,
        &SweepRaw {
            r: raw.r.clone(),
            t: raw.t.clone(),
            u: raw.u.clone(),
            delta: raw.delta.clone(),
            m: raw.m.clone(),
            method: raw.method.clone(),
            samples: raw.samples,
            delta_grid: raw.delta_grid,
            formula: None,
        },
        &tables,
    );
    let oracle = match raw.oracle.as_deref() {
        None => None,
        Some("product") => Some(Oracle::Product),
        Some("line") => Some(Oracle::Line),
        Some("gaussian") => Some(Oracle::Gaussian),
        Some(other) => {
            ctx.error_hint(
                "oracle",
                format!("unknown oracle `{other}`"),
                crate::diagnostic::suggest(other, ORACLES),
            );
            None
        }
    };
    let map = match &raw.map {
        Some(m) => {
            let x = ctx.grid(&m.x, "map.x", "finite", |_| true);
            let y = ctx.grid(&m.y, "map.y", "finite", |_| true);
            match (x, y) {
                (Some(x), Some(y)) => Some((x, y)),
                _ => None,
            }
        }
        None => None,
    };
    if tables.contains_key("map") && raw.map.is_none() {
        ctx.error(
            "tables.map",
            "a `map` table needs a `map: {x: GRID, y: GRID}`",
        );
    }
    let (measures, sweep) = (measures?, sweep?);
    for (i, (label, law)) in measures.iter().enumerate() {
        let field = common.measure_path(i);
        if let Some(o) = oracle {
            if let Err(msg) = oracle_applies(o, law) {
                ctx.error(&field, format!("measure `{label}`: {msg}"));
            }
        }
        if sweep.exact {
            if let Law::Space(m) = law {
                if m.dim != 2 && !m.is_gaussian() {
                    ctx.error_hint(&field, format!("measure `{label}` is a mixture in d = {}: exact values exist in the plane and for single Gaussians", m.dim), "use `method: monte_carlo`");
                }
            }
        }
        if tables.contains_key("means") && law.dim() != 2 {
            ctx.error(
                &field,
                format!(
                    "measure `{label}` is in d = {}; a `means` table lists means in the plane",
                    law.dim()
                ),
            );
        }
        if map.is_some() && law.dim() != 2 {
            ctx.error(
                &field,
                format!(
                    "measure `{label}` is in d = {}; a map needs the plane",
                    law.dim()
                ),
            );
        }
    }
    let map_cells = map.as_ref().map_or(0, |(x, y)| x.len() * y.len());
    ctx.within_rows(measures.len() * sweep.cells(map_cells), "r", "values");
    let spec = Spec {
        measures,
        sweep,
        oracle,
        map,
        tables,
    };
    let outputs = schemas(&spec);
    Some((outputs, KindSpec::Plane(spec)))
}

/// The 1-D data of the `line` oracle: the projected law and the constant across.
fn line_reduction(m: &SpaceMeasure) -> Result<(Measure, f64), String> {
    let d = m.dim;
    let s2 = m.comps[0].cov[0];
    for c in &m.comps {
        for i in 0..d {
            for j in 0..d {
                let want = if i == j { s2 } else { 0.0 };
                if (c.cov[i * d + j] - want).abs() > 1e-12 * (1.0 + s2) {
                    return Err("the `line` oracle needs every covariance to be the same multiple of the identity (`var: s`)".into());
                }
            }
        }
    }
    let m0 = &m.comps[0].mean;
    let far = m
        .comps
        .iter()
        .map(|c| {
            c.mean
                .iter()
                .zip(m0)
                .map(|(a, b)| a - b)
                .collect::<Vec<f64>>()
        })
        .max_by(|a, b| norm(a).total_cmp(&norm(b)))
        .expect("a mixture has components");
    let len = norm(&far);
    let e: Vec<f64> = if len > 0.0 {
        far.iter().map(|v| v / len).collect()
    } else {
        vec![0.0; d]
    };
    let mut comps = Vec::new();
    for c in &m.comps {
        let v: Vec<f64> = c.mean.iter().zip(m0).map(|(a, b)| a - b).collect();
        let along: f64 = v.iter().zip(&e).map(|(a, b)| a * b).sum();
        let across: f64 = v
            .iter()
            .zip(&e)
            .map(|(a, b)| (a - along * b).powi(2))
            .sum::<f64>()
            .sqrt();
        if across > 1e-12 * (1.0 + len) {
            return Err("the `line` oracle needs every mean on one line".into());
        }
        comps.push(Component {
            weight: c.weight,
            mean: along,
            var: s2,
        });
    }
    Ok((Measure::Mixture(comps), s2))
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn oracle_applies(o: Oracle, law: &Law) -> Result<(), String> {
    let Law::Space(m) = law else {
        return Err("an oracle needs a measure in R^d".into());
    };
    match o {
        Oracle::Product => m.factors.as_ref().map(|_| ()).ok_or_else(|| {
            "the `product` oracle needs a measure written as `product: [...]`".to_string()
        }),
        Oracle::Line => line_reduction(m).map(|_| ()),
        Oracle::Gaussian => {
            if m.is_gaussian() {
                Ok(())
            } else {
                Err("the `gaussian` oracle needs a single Gaussian".into())
            }
        }
    }
}

/// The law of L_r computed the oracle's way.
enum OracleLaw {
    Product(Vec<ExactLocalization>),
    /// 1-D law and the constant c = r²s²/(r²s² + 1) across the line.
    Line(Box<ExactLocalization>, f64),
    Constant(f64),
}

impl OracleLaw {
    fn new(o: Oracle, m: &SpaceMeasure, r: f64) -> Self {
        match o {
            Oracle::Product => OracleLaw::Product(
                m.factors
                    .as_ref()
                    .expect("checked")
                    .iter()
                    .map(|f| ExactLocalization::new(f, r))
                    .collect(),
            ),
            Oracle::Line => {
                let (one, s2) = line_reduction(m).expect("checked");
                OracleLaw::Line(
                    Box::new(ExactLocalization::new(&one, r)),
                    r * r * s2 / (r * r * s2 + 1.0),
                )
            }
            Oracle::Gaussian => {
                let lmax = sym_eig_max(&m.comps[0].cov, m.dim);
                OracleLaw::Constant(r * r * lmax / (r * r * lmax + 1.0))
            }
        }
    }
}

impl LevelSets for OracleLaw {
    fn sup(&self) -> f64 {
        match self {
            OracleLaw::Product(f) => f.iter().map(|e| e.sup_localization()).fold(0.0, f64::max),
            OracleLaw::Line(e, c) => e.sup_localization().max(*c),
            OracleLaw::Constant(c) => *c,
        }
    }
    fn constant(&self) -> Option<f64> {
        match self {
            OracleLaw::Constant(c) => Some(*c),
            _ => None,
        }
    }
    fn level_set(&self, u: f64) -> LevelSet {
        match self {
            OracleLaw::Constant(c) => LevelSet {
                survival: if *c > u { 1.0 } else { 0.0 },
                tail: (c - u).max(0.0),
            },
            OracleLaw::Line(e, c) => {
                if u >= *c {
                    e.level_set(u)
                } else {
                    // max(L¹, c) > u everywhere; E[max(L¹, c)] - u = (c - u) + E[(L¹ - c)₊].
                    LevelSet {
                        survival: 1.0,
                        tail: (c - u) + e.level_set(*c).tail,
                    }
                }
            }
            OracleLaw::Product(f) => {
                let s = |v: f64| 1.0 - f.iter().map(|e| 1.0 - e.survival(v)).product::<f64>();
                let top = self.sup();
                let tail = if u >= top {
                    0.0
                } else if u >= 0.0 {
                    integrate_scalar(s, u, top, 1e-12)
                } else {
                    -u + integrate_scalar(s, 0.0, top, 1e-12)
                };
                LevelSet {
                    survival: if u < 0.0 { 1.0 } else { s(u) },
                    tail,
                }
            }
        }
    }
}

fn schemas(s: &Spec) -> Vec<TableSchema> {
    let (exact, mc, or) = (
        s.sweep.exact,
        s.sweep.monte_carlo.is_some(),
        s.oracle.is_some(),
    );
    let has = |by: By| match by {
        By::Level => true,
        By::Exact => exact,
        By::Mc => mc,
        By::Oracle => or,
    };
    let mut out = sweep_schemas(&s.tables, &ROLES[..ROLES.len() - 1], PLANE, has);
    if let Some(name) = s.tables.get("means") {
        let n = ColumnDecl::number;
        out.push(TableSchema {
            name: name.clone(),
            columns: vec![
                ColumnDecl::text("measure", "label of the measure"),
                n("component", "index of the mixture component, from 1"),
                n("weight", "weight of the component"),
                n("x1", "first coordinate of the component's mean"),
                n("x2", "second coordinate of the component's mean"),
            ],
        });
    }
    out
}

struct PointResult {
    exact: Option<kernel::ExactValues>,
    mc: Option<kernel::McValues>,
    oracle: Option<kernel::ExactValues>,
    map: Vec<f64>,
}

fn oracle_values(o: Oracle, m: &SpaceMeasure, r: f64, t: f64, s: &Spec) -> kernel::ExactValues {
    let law = OracleLaw::new(o, m, r);
    let at_t = OracleLaw::new(o, m, localize::snr(t));
    let search = Search::Bisect(1e-12);
    let sigma2 = localize::ou_noise_var(t);
    kernel::ExactValues {
        sup_l: law.sup(),
        complexity: levels::complexity(&law, search),
        survival: s
            .sweep
            .us
            .iter()
            .map(|&u| law.level_set(u).survival)
            .collect(),
        tail: s
            .sweep
            .deltas
            .iter()
            .map(|&d| law.level_set(1.0 - d).tail)
            .collect(),
        zeta: s
            .sweep
            .ms
            .iter()
            .map(|&bm| levels::best_gap(&at_t, bm, search).1 / sigma2)
            .collect(),
    }
}

fn compute(s: &Spec, mi: usize, pi: usize, seed: u64) -> Result<PointResult, String> {
    let (label, law) = &s.measures[mi];
    let (r, t) = s.sweep.points[pi];
    let (want, levels_) = s.sweep.kernel_request(&s.tables);
    let exact = if s.sweep.exact && (want.summary || want.survival || want.tail || want.zeta) {
        Some(kernel::exact(law, label, r, t, &levels_, want)?)
    } else {
        None
    };
    let stream = StreamId::new(seed, super::complexity::localization_stream(mi, pi));
    let mc = s.sweep.monte_carlo_at(law, r, t, &levels_, want, stream);
    let oracle = match (s.oracle, law) {
        (Some(o), Law::Space(m)) => Some(oracle_values(o, m, r, t, s)),
        _ => None,
    };
    let map = match (&s.map, law) {
        (Some((xs, ys)), Law::Space(m)) if s.tables.contains_key("map") => {
            let loc = m.localizer(r);
            xs.iter()
                .flat_map(|&x| ys.iter().map(move |&y| (x, y)))
                .map(|(x, y)| loc.localization2([r * x, r * y]).0)
                .collect()
        }
        _ => Vec::new(),
    };
    Ok(PointResult {
        exact,
        mc,
        oracle,
        map,
    })
}

/// A row of the map table: the point x = (x1, x2) and L_r there.
fn map_row((x, y): (f64, f64), l: f64, push: &mut impl FnMut(&'static str, f64)) {
    push("x1", x);
    push("x2", y);
    push("localization", l);
    push("above_one", if l > 1.0 { 1.0 } else { 0.0 });
    push("band", (4.0 * l).floor() / 4.0);
}

// Rows of every role are numbered k; the level vectors and the map share that index.
#[allow(clippy::needless_range_loop)]
pub fn run(s: &Spec, seed: u64, outputs: &[TableSchema]) -> Result<Vec<Table>, String> {
    let jobs: Vec<(usize, usize)> = (0..s.measures.len())
        .flat_map(|mi| (0..s.sweep.points.len()).map(move |pi| (mi, pi)))
        .collect();
    let results: Vec<PointResult> = jobs
        .par_iter()
        .map(|&(mi, pi)| compute(s, mi, pi, seed))
        .collect::<Result<_, _>>()?;
    let mut tables = Vec::new();
    for schema in outputs {
        let role = role_of(&s.tables, &schema.name);
        let map_pairs: Vec<(f64, f64)> = match &s.map {
            Some((xs, ys)) => xs
                .iter()
                .flat_map(|&x| ys.iter().map(move |&y| (x, y)))
                .collect(),
            None => Vec::new(),
        };
        if role == "means" {
            tables.push(means_table(s, &schema.name)?);
            continue;
        }
        let levels: &[f64] = match role {
            "summary" => &[0.0],
            "survival" => &s.sweep.us,
            "tail" => &s.sweep.deltas,
            "zeta" => &s.sweep.ms,
            _ => &[],
        };
        let rows = if role == "map" {
            map_pairs.len()
        } else {
            levels.len()
        };
        let mut cols: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut labels = Vec::new();
        for (&(mi, pi), res) in jobs.iter().zip(&results) {
            for k in 0..rows {
                labels.push(s.measures[mi].0.clone());
                let mut push = |c: &'static str, v: f64| cols.entry(c).or_default().push(v);
                let level = levels.get(k).copied().unwrap_or(f64::NAN);
                let (ex, mc) = (res.exact.as_ref(), res.mc.as_ref());
                point_row(role, s.sweep.points[pi], k, level, ex, mc, &mut push);
                match (role, res.oracle.as_ref()) {
                    ("summary", Some(or)) => {
                        push("sup_l_oracle", or.sup_l);
                        push("m_star_oracle", or.complexity.m_star);
                        push("delta_star_oracle", or.complexity.delta_star);
                    }
                    ("survival", Some(or)) => push("survival_oracle", or.survival[k]),
                    ("tail", Some(or)) => push("h_oracle", or.tail[k]),
                    ("zeta", Some(or)) => push("zeta_oracle", or.zeta[k]),
                    ("map", _) => map_row(map_pairs[k], res.map[k], &mut push),
                    _ => {}
                }
            }
        }
        tables.push(sweep_table(schema, labels, cols)?);
    }
    Ok(tables)
}

/// The components' means of every measure in the plane: one row per component.
fn means_table(s: &Spec, name: &str) -> Result<Table, String> {
    let mut labels = Vec::new();
    let mut cols: [Vec<f64>; 4] = Default::default();
    for (label, law) in &s.measures {
        let Law::Space(m) = law else {
            return Err(format!("measure `{label}` is not a measure in the plane"));
        };
        for (k, c) in m.comps.iter().enumerate() {
            labels.push(label.clone());
            for (col, v) in cols
                .iter_mut()
                .zip([(k + 1) as f64, c.weight, c.mean[0], c.mean[1]])
            {
                col.push(v);
            }
        }
    }
    let [component, weight, x1, x2] = cols;
    TableBuilder::new()
        .text("measure", labels)
        .number("component", component)
        .number("weight", weight)
        .number("x1", x1)
        .number("x2", x2)
        .build(name)
}
