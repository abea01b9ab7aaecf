//! Kind `complexity`: the multi-scale complexity of one or more measures over a grid
//! of SNRs r (or of OU times t, with r = r(t)).
//!
//! ```yaml
//! id: two-point-fig1
//! kind: complexity
//! measure: {mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}
//! r: ["1/sqrt(2)", 1.5, 3]      # or t: {from: 0.01, to: 1.5, n: 150}
//! u: [0.5, 1]                   # survival s_r(u) at these levels
//! delta: [0, 0.5]               # integrated tail h(δ, r) at these δ
//! m: [1, 2, 3, 4, 5, inf]       # effective curvature ζ*_M(t) for these M
//! method: exact                 # exact | monte_carlo | both
//! samples: 100000               # Monte Carlo samples of Y_r per grid point
//! delta_grid: 501               # δ grid for Monte Carlo m*, δ*, ζ*_M
//! formula: localization         # or as_printed: eq. (5.3) as printed (Monte Carlo only)
//! seed: 1
//! tables: {summary: NAME, survival: NAME, tail: NAME, zeta: NAME}
//! ```
//!
//! Tables (long format, one row per measure × grid point × level):
//! - `summary`: measure, r, t, sup_l, m_star, delta_star (+ `_mc` columns)
//! - `survival`: measure, r, t, u, survival (+ survival_mc, survival_se, dkw)
//! - `tail`: measure, r, t, delta, h, m (+ h_mc, h_se)
//! - `zeta`: measure, r, t, M, zeta (+ zeta_mc)

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Deserialize;

use super::{Common, KindSpec, Validated};
use crate::localize;
use crate::localize::kernel::{self, ExactValues, Formula, Levels, McSettings, McValues, Want};
use crate::measure::Measure;
use crate::plane::Law;
use crate::rng::{Purpose, StreamId};
use crate::spec::{linspace, BlockCtx, Grid, Num};
use crate::table::{ColumnDecl, Table, TableBuilder, TableSchema};

pub const ROLES: &[&str] = &["summary", "survival", "tail", "zeta"];

/// The kind's own fields: a sweep and nothing more.
type Raw = SweepRaw;

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Spec {
    pub measures: Vec<(String, Measure)>,
    #[serde(flatten)]
    pub sweep: Sweep,
    pub tables: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MonteCarlo {
    pub samples: usize,
    pub delta_grid: Vec<f64>,
    /// What is evaluated at the draws (`formula:`); left out of the cache key when it
    /// is the localization, so that keys from before the field existed still hold.
    #[serde(skip_serializing_if = "is_localization")]
    pub formula: Formula,
}

fn is_localization(f: &Formula) -> bool {
    *f == Formula::Localization
}

/// The fields of a sweep over r or t, shared with the `plane` kind: the grid, the
/// levels u, the δ grid, the values of M, the method and the Monte Carlo settings.
/// `Raw` is decoded by each kind (the plane adds its own fields to it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SweepRaw {
    #[serde(default)]
    pub r: Option<Grid>,
    #[serde(default)]
    pub t: Option<Grid>,
    #[serde(default)]
    pub u: Option<Grid>,
    #[serde(default)]
    pub delta: Option<Grid>,
    #[serde(default)]
    pub m: Option<Vec<Num>>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub samples: Option<usize>,
    #[serde(default)]
    pub delta_grid: Option<usize>,
    /// `localization` (the default) or `as_printed`: the Monte Carlo evaluates the
    /// paper's eq. (5.3) as printed at its draws instead of L_r (the line only).
    #[serde(default)]
    pub formula: Option<String>,
}

/// A sweep's fields, checked.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Sweep {
    /// Grid points as (r, t).
    pub points: Vec<(f64, f64)>,
    pub us: Vec<f64>,
    pub deltas: Vec<f64>,
    pub ms: Vec<f64>,
    pub exact: bool,
    pub monte_carlo: Option<MonteCarlo>,
}

impl Sweep {
    /// How the sweep computes (for provenance): method and Monte Carlo samples.
    pub fn method(&self) -> (String, Option<usize>) {
        match (&self.monte_carlo, self.exact) {
            (Some(mc), true) => ("exact and Monte Carlo".into(), Some(mc.samples)),
            (Some(mc), false) if mc.formula == Formula::AsPrinted => (
                "Monte Carlo of eq. (5.3) as printed".into(),
                Some(mc.samples),
            ),
            (Some(mc), false) => ("Monte Carlo".into(), Some(mc.samples)),
            (None, _) => ("exact".into(), None),
        }
    }

    /// What the kernel computes for the tables asked for, and at which levels.
    pub(super) fn kernel_request(&self, tables: &BTreeMap<String, String>) -> (Want, Levels) {
        let want_role = |role: &str| tables.contains_key(role);
        let want = Want {
            summary: want_role("summary"),
            survival: want_role("survival"),
            tail: want_role("tail"),
            zeta: want_role("zeta"),
        };
        let levels = Levels {
            us: self.us.clone(),
            deltas: self.deltas.clone(),
            ms: self.ms.clone(),
        };
        (want, levels)
    }

    /// The kernel's Monte Carlo values at one grid point, drawn from `stream` (`None`
    /// when the sweep has no Monte Carlo).
    pub(super) fn monte_carlo_at(
        &self,
        law: &Law,
        r: f64,
        t: f64,
        levels: &Levels,
        want: Want,
        stream: StreamId,
    ) -> Option<McValues> {
        self.monte_carlo.as_ref().map(|mc| {
            let settings = McSettings {
                samples: mc.samples,
                stream,
                delta_grid: mc.delta_grid.clone(),
                formula: mc.formula,
            };
            kernel::monte_carlo(law, r, t, levels, want, &settings)
        })
    }

    /// Table rows per measure: grid points times the longest level list (or `extra`
    /// rows per point, if more).
    pub(super) fn cells(&self, extra: usize) -> usize {
        let levels = self.us.len().max(self.deltas.len()).max(self.ms.len());
        self.points.len() * levels.max(extra).max(1)
    }
}

/// Validate a sweep's fields (every error reported; `None` if any), and that each
/// requested table has what it needs.
pub(super) fn sweep(
    ctx: &mut BlockCtx,
    raw: &SweepRaw,
    tables: &BTreeMap<String, String>,
) -> Option<Sweep> {
    let points = match (&raw.r, &raw.t) {
        (Some(r), None) => ctx.grid(r, "r", "positive", |v| v > 0.0).map(|rs| {
            rs.into_iter()
                .map(|r| (r, localize::time_of_snr(r)))
                .collect::<Vec<_>>()
        }),
        (None, Some(t)) => ctx.grid(t, "t", "positive", |v| v > 0.0).map(|ts| {
            ts.into_iter()
                .map(|t| (localize::snr(t), t))
                .collect::<Vec<_>>()
        }),
        (Some(_), Some(_)) => {
            ctx.error("t", "give a grid of `r` or of `t`, not both");
            None
        }
        (None, None) => {
            // `r` is not written, so this is placed at the opening fence.
            ctx.error_hint(
                "r",
                "the experiment has no grid",
                "add `r: [0.5, 1, 2]` or `t: {from: 0.01, to: 1.5, n: 150}`",
            );
            None
        }
    };
    let us = match &raw.u {
        Some(g) => ctx.grid(g, "u", "zero or positive", |v| v >= 0.0),
        None => Some(Vec::new()),
    };
    let deltas = match &raw.delta {
        Some(g) => ctx.grid(g, "delta", "in [0, 1]", |v| (0.0..=1.0).contains(&v)),
        None => Some(Vec::new()),
    };
    let mut ms = Vec::new();
    for (i, n) in raw.m.iter().flatten().enumerate() {
        if let Some(v) = ctx.num(n, &format!("m[{i}]")) {
            if v.is_nan() || v <= 0.0 {
                ctx.error(
                    &format!("m[{i}]"),
                    format!("M must be positive (or inf), got {v}"),
                );
            } else {
                ms.push(v);
            }
        }
    }
    let (exact, mc_wanted) = match raw.method.as_deref() {
        None | Some("exact") => (true, false),
        Some("monte_carlo") => (false, true),
        Some("both") => (true, true),
        Some(other) => {
            ctx.error_hint(
                "method",
                format!("unknown method `{other}`"),
                crate::diagnostic::suggest(other, &["exact", "monte_carlo", "both"]),
            );
            (true, false)
        }
    };
    let monte_carlo = if mc_wanted {
        let samples = raw.samples.unwrap_or(100_000);
        let max = crate::limits::samples();
        if !(2..=max).contains(&samples) {
            ctx.error(
                "samples",
                format!(
                    "`samples` must be between 2 and {max}, got {samples}; {}",
                    crate::limits::HINT
                ),
            );
        }
        let n = raw.delta_grid.unwrap_or(501);
        if !(2..=100_001).contains(&n) {
            ctx.error(
                "delta_grid",
                "`delta_grid` must be between 2 and 100001 points",
            );
        }
        Some(MonteCarlo {
            samples,
            delta_grid: linspace(0.0, 1.0, n.max(2), false),
            formula: formula(ctx, raw, exact),
        })
    } else {
        if raw.samples.is_some() {
            ctx.error(
                "samples",
                "`samples` needs `method: monte_carlo` or `method: both`",
            );
        }
        formula(ctx, raw, exact);
        None
    };
    if tables.contains_key("survival") && raw.u.is_none() {
        ctx.error("tables.survival", "a `survival` table needs levels `u`");
    }
    if tables.contains_key("tail") && raw.delta.is_none() {
        ctx.error("tables.tail", "a `tail` table needs a `delta` grid");
    }
    if tables.contains_key("zeta") && raw.m.is_none() {
        ctx.error("tables.zeta", "a `zeta` table needs values of `m`");
    }
    Some(Sweep {
        points: points?,
        us: us?,
        deltas: deltas?,
        ms,
        exact,
        monte_carlo,
    })
}

/// The sweep's `formula`: eq. (5.3) as printed only by Monte Carlo alone (it is not the
/// localization of any measure, so it has no exact value to stand beside).
fn formula(ctx: &mut BlockCtx, raw: &SweepRaw, exact: bool) -> Formula {
    let wanted = match raw.formula.as_deref() {
        None | Some("localization") => Formula::Localization,
        Some("as_printed") => Formula::AsPrinted,
        Some(other) => {
            ctx.error_hint(
                "formula",
                format!("unknown formula `{other}`"),
                crate::diagnostic::suggest(other, &["localization", "as_printed"]),
            );
            return Formula::Localization;
        }
    };
    if wanted == Formula::AsPrinted && (exact || raw.method.as_deref() != Some("monte_carlo")) {
        ctx.error_hint(
            "formula",
            "`formula: as_printed` is evaluated by Monte Carlo only: eq. (5.3) as printed is not the localization of any measure, so it has no exact value",
            "add `method: monte_carlo`",
        );
    }
    wanted
}

pub fn validate(ctx: &mut BlockCtx, common: &Common) -> Option<Validated> {
    let raw: Raw = common.fields(ctx)?;
    let tables = common.tables.clone();
    let ms_opt = common.measures.clone();
    let sweep = sweep(ctx, &raw, &tables);
    let (measures, sweep) = (ms_opt?, sweep?);
    let printed = sweep
        .monte_carlo
        .as_ref()
        .is_some_and(|mc| mc.formula == Formula::AsPrinted);
    if let Some((label, _)) = measures
        .iter()
        .find(|(_, m)| printed && matches!(m, Measure::Uniform { .. }))
    {
        ctx.error(
            "formula",
            format!("eq. (5.3) is a formula for Gaussian mixtures; measure `{label}` is a uniform"),
        );
        return None;
    }
    ctx.within_rows(measures.len() * sweep.cells(0), "r", "values");
    let spec = Spec {
        measures,
        sweep,
        tables,
    };
    let outputs = schemas(&spec);
    Some((outputs, KindSpec::Complexity(spec)))
}

/// The first columns of every sweep table: the measure's label and the grid point.
pub(super) fn base_columns() -> Vec<ColumnDecl> {
    vec![
        ColumnDecl::text("measure", "label of the measure"),
        ColumnDecl::number("r", "signal-to-noise ratio r"),
        ColumnDecl::number("t", "OU time t = ½ log(1 + 1/r²)"),
    ]
}

fn schemas(s: &Spec) -> Vec<TableSchema> {
    let (exact, mc) = (s.sweep.exact, s.sweep.monte_carlo.is_some());
    let has = |by: By| match by {
        By::Level => true,
        By::Exact => exact,
        By::Mc => mc,
        By::Oracle => false,
    };
    sweep_schemas(&s.tables, ROLES, LINE, has)
}

/// What fills a column of a sweep table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum By {
    /// The level of the row (u, δ or M) or the map's point: always there.
    Level,
    Exact,
    Mc,
    /// The plane's oracle.
    Oracle,
}

/// Which kinds have a column: the `complexity` kind (`LINE`), the `plane` kind
/// (`PLANE`), or both.
pub(super) const LINE: u8 = 1;
pub(super) const PLANE: u8 = 2;
const BOTH: u8 = LINE | PLANE;

/// The number columns of the sweep tables after measure, r and t: role, what fills
/// the column, the kinds that have it, name, description.
const SWEEP_COLUMNS: &[(&str, By, u8, &str, &str)] = &[
    ("summary", By::Exact, LINE, "sup_l", "ess sup of L_r"),
    ("summary", By::Exact, PLANE, "sup_l", "ess sup of L_r, exact"),
    ("summary", By::Exact, BOTH, "m_star", "m*(r), exact"),
    ("summary", By::Exact, BOTH, "delta_star", "δ*(r), exact"),
    ("summary", By::Mc, BOTH, "sup_l_mc", "largest sampled L_r"),
    ("summary", By::Mc, BOTH, "m_star_mc", "m*(r), Monte Carlo on the δ grid"),
    ("summary", By::Mc, BOTH, "delta_star_mc", "δ*(r), Monte Carlo on the δ grid"),
    ("summary", By::Mc, BOTH, "m_star_mc_se", "standard error of m_star_mc (batch means)"),
    ("summary", By::Mc, LINE, "s1_mc_upper95", "95% upper bound on s_r(1) from the draws (Clopper–Pearson; ≈ 3/n when no draw has L_r > 1, so m*_mc = 0 is then a bound, not a zero)"),
    ("summary", By::Mc, PLANE, "s1_mc_upper95", "95% upper bound on s_r(1) from the draws (Clopper–Pearson)"),
    ("summary", By::Mc, LINE, "delta_star_mc_from_max", "1 when m*_mc = 0, so that δ*_mc is read off the largest sampled L_r (biased upwards: the sample maximum undershoots sup L_r)"),
    ("summary", By::Mc, LINE, "delta_star_mc_se", "standard error of delta_star_mc (batch means)"),
    ("summary", By::Oracle, PLANE, "sup_l_oracle", "ess sup of L_r, oracle"),
    ("summary", By::Oracle, PLANE, "m_star_oracle", "m*(r), oracle"),
    ("summary", By::Oracle, PLANE, "delta_star_oracle", "δ*(r), oracle"),
    ("survival", By::Level, BOTH, "u", "level u"),
    ("survival", By::Exact, BOTH, "survival", "s_r(u), exact"),
    ("survival", By::Mc, BOTH, "survival_mc", "s_r(u), Monte Carlo"),
    ("survival", By::Mc, BOTH, "survival_se", "standard error of survival_mc"),
    ("survival", By::Mc, LINE, "dkw", "95% DKW band half-width"),
    ("survival", By::Oracle, PLANE, "survival_oracle", "s_r(u), oracle"),
    ("tail", By::Level, BOTH, "delta", "δ"),
    ("tail", By::Exact, BOTH, "h", "h(δ, r), exact"),
    ("tail", By::Exact, LINE, "m", "m(δ, r) = h/δ, exact"),
    ("tail", By::Mc, BOTH, "h_mc", "h(δ, r), Monte Carlo"),
    ("tail", By::Mc, BOTH, "h_se", "standard error of h_mc"),
    ("tail", By::Oracle, PLANE, "h_oracle", "h(δ, r), oracle"),
    ("zeta", By::Level, BOTH, "M", "perturbation class M"),
    ("zeta", By::Exact, BOTH, "zeta", "ζ*_M(t), exact"),
    ("zeta", By::Mc, BOTH, "zeta_mc", "ζ*_M(t), Monte Carlo"),
    ("zeta", By::Mc, BOTH, "zeta_mc_se", "standard error of zeta_mc (batch means)"),
    ("zeta", By::Oracle, PLANE, "zeta_oracle", "ζ*_M(t), oracle"),
    ("map", By::Level, PLANE, "x1", "first coordinate of x = y/r (the point y = r x of Y_r)"),
    ("map", By::Level, PLANE, "x2", "second coordinate of x = y/r"),
    ("map", By::Level, PLANE, "localization", "L_r(r x)"),
    ("map", By::Level, PLANE, "above_one", "1 where L_r(r x) > 1, else 0"),
    ("map", By::Level, PLANE, "band", "L_r(r x) rounded down to a multiple of 0.25 (colour bands of a map)"),
];

/// The schemas of the tables named in `tables`, in the order of `roles`: the base
/// columns, then the columns of [`SWEEP_COLUMNS`] that `kind` has and `has` fills.
pub(super) fn sweep_schemas(
    tables: &BTreeMap<String, String>,
    roles: &[&str],
    kind: u8,
    has: impl Fn(By) -> bool,
) -> Vec<TableSchema> {
    let mut out = Vec::new();
    for role in roles {
        let Some(name) = tables.get(*role) else {
            continue;
        };
        let mut columns = base_columns();
        for &(r, by, kinds, n, d) in SWEEP_COLUMNS {
            if r == *role && kinds & kind != 0 && has(by) {
                columns.push(ColumnDecl::number(n, d));
            }
        }
        out.push(TableSchema {
            name: name.clone(),
            columns,
        });
    }
    out
}

/// The role ("summary", "survival", "tail", "zeta", …) of the output table `name`.
pub(super) fn role_of<'a>(tables: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    tables
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(r, _)| r.as_str())
        .unwrap_or("")
}

/// Row k (at `level`: u, δ or M) of a sweep table of role `role` at grid point (r, t),
/// from the exact values and Monte Carlo estimates there. Columns the table does not
/// declare are dropped by [`sweep_table`].
pub(super) fn point_row(
    role: &str,
    (r, t): (f64, f64),
    k: usize,
    level: f64,
    ex: Option<&ExactValues>,
    mc: Option<&McValues>,
    push: &mut impl FnMut(&'static str, f64),
) {
    push("r", r);
    push("t", t);
    match role {
        "summary" => {
            if let Some(ex) = ex {
                push("sup_l", ex.sup_l);
                push("m_star", ex.complexity.m_star);
                push("delta_star", ex.complexity.delta_star);
            }
            if let Some(mc) = mc {
                push("sup_l_mc", mc.sup_l);
                push("m_star_mc", mc.complexity.m_star);
                push("delta_star_mc", mc.complexity.delta_star);
                push("m_star_mc_se", mc.complexity_se.m_star);
                push("s1_mc_upper95", mc.s1_upper);
                let from_max = if mc.complexity.m_star == 0.0 {
                    1.0
                } else {
                    0.0
                };
                push("delta_star_mc_from_max", from_max);
                push("delta_star_mc_se", mc.complexity_se.delta_star);
            }
        }
        "survival" => {
            push("u", level);
            if let Some(ex) = ex {
                push("survival", ex.survival[k]);
            }
            if let Some(mc) = mc {
                push("survival_mc", mc.survival[k].value);
                push("survival_se", mc.survival[k].se);
                push("dkw", mc.dkw);
            }
        }
        "tail" => {
            push("delta", level);
            if let Some(ex) = ex {
                let h = ex.tail[k];
                push("h", h);
                push("m", if level > 0.0 { h / level } else { f64::NAN });
            }
            if let Some(mc) = mc {
                push("h_mc", mc.tail[k].value);
                push("h_se", mc.tail[k].se);
            }
        }
        "zeta" => {
            push("M", level);
            if let Some(ex) = ex {
                push("zeta", ex.zeta[k]);
            }
            if let Some(mc) = mc {
                push("zeta_mc", mc.zeta[k]);
                push("zeta_mc_se", mc.zeta_se[k]);
            }
        }
        _ => {}
    }
}

/// A sweep table: the measure labels, then the schema's number columns from `cols`.
pub(super) fn sweep_table(
    schema: &TableSchema,
    labels: Vec<String>,
    mut cols: BTreeMap<&str, Vec<f64>>,
) -> Result<Table, String> {
    let mut b = TableBuilder::new().text("measure", labels);
    for c in schema.columns.iter().skip(1) {
        let values = cols.remove(c.name.as_str()).unwrap_or_default();
        b = b.number(&c.name, values);
    }
    b.build(&schema.name)
}

/// Everything computed at one (measure, grid point).
struct PointResult {
    exact: Option<ExactValues>,
    mc: Option<McValues>,
}

/// The shared kernel (`localize::kernel`) at one grid point.
fn compute(
    s: &Spec,
    label: &str,
    law: &Law,
    r: f64,
    t: f64,
    stream: StreamId,
) -> Result<PointResult, String> {
    let (want, levels) = s.sweep.kernel_request(&s.tables);
    let exact = if s.sweep.exact {
        Some(kernel::exact(law, label, r, t, &levels, want)?)
    } else {
        None
    };
    let mc = s.sweep.monte_carlo_at(law, r, t, &levels, want, stream);
    Ok(PointResult { exact, mc })
}

/// The random stream of grid point `point` of measure `measure` (shared by the `plane`
/// kind and `diffrepro complexity`, so the same seed gives the same draws).
pub fn localization_stream(measure: usize, point: usize) -> Purpose {
    Purpose::Localization {
        measure: measure as u32,
        point: point as u32,
    }
}

pub fn run(s: &Spec, seed: u64, outputs: &[TableSchema]) -> Result<Vec<Table>, String> {
    let jobs: Vec<(usize, usize)> = (0..s.measures.len())
        .flat_map(|mi| (0..s.sweep.points.len()).map(move |pi| (mi, pi)))
        .collect();
    // Each (measure, point) gets its own random stream, so the numbers do not depend
    // on how rayon schedules the work.
    let laws: Vec<Law> = s
        .measures
        .iter()
        .map(|(_, m)| Law::Line(m.clone()))
        .collect();
    let results: Vec<PointResult> = jobs
        .par_iter()
        .map(|&(mi, pi)| {
            let (r, t) = s.sweep.points[pi];
            let stream = StreamId::new(seed, localization_stream(mi, pi));
            compute(s, &s.measures[mi].0, &laws[mi], r, t, stream)
        })
        .collect::<Result<_, _>>()?;
    let mut tables = Vec::new();
    for schema in outputs {
        let role = role_of(&s.tables, &schema.name);
        let levels: &[f64] = match role {
            "survival" => &s.sweep.us,
            "tail" => &s.sweep.deltas,
            "zeta" => &s.sweep.ms,
            _ => &[0.0],
        };
        let mut cols: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut labels = Vec::new();
        for (&(mi, pi), res) in jobs.iter().zip(&results) {
            for (k, &level) in levels.iter().enumerate() {
                labels.push(s.measures[mi].0.clone());
                let mut push = |c: &'static str, v: f64| cols.entry(c).or_default().push(v);
                let (ex, mc) = (res.exact.as_ref(), res.mc.as_ref());
                point_row(role, s.sweep.points[pi], k, level, ex, mc, &mut push);
            }
        }
        tables.push(sweep_table(schema, labels, cols)?);
    }
    Ok(tables)
}
