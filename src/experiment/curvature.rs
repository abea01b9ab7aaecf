//! Kind `curvature`: curvature is localization (Prop. 3), average curvature is minus
//! the Fisher information (Prop. 4), and the score is a posterior mean (Tweedie,
//! Prop. 2), all on the scale of Y_r = rX + Z.
//!
//! Prop. 3 in one dimension reads (log p_{Y_r})''(y) = L_r(y) - 1 with
//! L_r(y) = Var[rX | Y_r = y]; Tweedie's formula reads (log p_{Y_r})'(y) = E[rX | Y_r = y] - y.
//! The `pointwise` table sets the posterior side (from the posterior moments) beside
//! derivatives of ln p_{Y_r} taken by finite differences of the log-density alone, so
//! the two sides are computed independently. Central differences with step h and h/2
//! are combined by Richardson extrapolation (error O(h⁴)); with h = 2·10⁻³ the
//! truncation error is far below the rounding error ~ε|ln p|/h² ≈ 10⁻⁹ of the second
//! difference (ε the machine epsilon).
//!
//! The `average` table integrates against the density of Y_r by adaptive quadrature
//! (`ExactLocalization::expectation`, ~1e-9): E[(log p)''(Y_r)] = E[L_r - 1] and
//! E[(log p)'(Y_r)²]; Prop. 4 says their sum is 0. (On this scale it is the law of total
//! variance for the noise: E[Var(Z | Y)] + E[E(Z | Y)²] = Var Z = 1.) Hence also
//! E[L_r] ≤ 1 (= d), whatever the measure.
//!
//! ```yaml
//! id: curvature-examples
//! kind: curvature
//! measures: [{label: "Example 4", measure: {...}}, ...]
//! r: [0.5, 1.5, 3]
//! y: {from: -6, to: 6, n: 241}
//! tables: {pointwise: curv-pointwise, average: curv-average}
//! ```
//!
//! Table `pointwise`: measure, r, t, y, log_density, localization (L_r(y)), curvature_fd
//! (1 + (ln p)''(y) by finite differences), score (E[rX | y] - y), score_fd ((ln p)'(y) by
//! finite differences), posterior_mean (E[rX | Y_r = y]). Table `average`: measure, r, t,
//! mean_curvature (E[(ln p)''(Y_r)]), fisher (E[(ln p)'(Y_r)²]), sum (their sum),
//! mean_localization (E[L_r]).

use rayon::prelude::*;
use serde::Deserialize;

use super::{Common, KindSpec, Validated};
use crate::localize::{time_of_snr, ExactLocalization};
use crate::measure::{Localizer, Measure};
use crate::spec::{BlockCtx, Grid};
use crate::table::{ColumnDecl, Rows, Table, TableSchema};

pub const ROLES: &[&str] = &["pointwise", "average"];

/// Finite-difference step (see the module header for the error budget).
const H: f64 = 2e-3;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    r: Grid,
    #[serde(default)]
    y: Option<Grid>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Spec {
    pub measures: Vec<(String, Measure)>,
    pub rs: Vec<f64>,
    pub ys: Vec<f64>,
    /// Role → table name, in the order of `Experiment::outputs`.
    pub tables: Vec<(String, String)>,
}

/// The columns of the table of `role`.
fn columns(role: &str) -> Vec<ColumnDecl> {
    let n = ColumnDecl::number;
    let mut columns = super::complexity::base_columns();
    match role {
        "pointwise" => columns.extend([
            n("y", "point y"),
            n("log_density", "ln p_{Y_r}(y)"),
            n("localization", "L_r(y) = Var[rX | Y_r = y]"),
            n(
                "curvature_fd",
                "1 + (ln p_{Y_r})''(y), by finite differences",
            ),
            n("score", "E[rX | Y_r = y] - y (Tweedie)"),
            n("score_fd", "(ln p_{Y_r})'(y), by finite differences"),
            n("posterior_mean", "E[rX | Y_r = y]"),
        ]),
        "average" => columns.extend([
            n("mean_curvature", "E[(ln p)''(Y_r)] = E[L_r] - 1"),
            n("fisher", "E[(ln p)'(Y_r)²]"),
            n("sum", "mean_curvature + fisher (Prop. 4: 0)"),
            n("mean_localization", "E[L_r] (≤ 1)"),
        ]),
        _ => unreachable!("roles are checked by common_tables"),
    }
    columns
}

pub fn validate(ctx: &mut BlockCtx, common: &Common) -> Option<Validated> {
    let raw: Raw = common.fields(ctx)?;
    let tables = common.tables.clone();
    let ms = common.measures.clone();
    let rs = ctx.grid(&raw.r, "r", "in (0, 1000]", |v| v > 0.0 && v <= 1e3);
    let ys = match &raw.y {
        Some(g) => ctx.grid(g, "y", "finite, |y| ≤ 60", |v| v.abs() <= 60.0),
        None if tables.contains_key("pointwise") => {
            ctx.error_hint(
                "y",
                "the `pointwise` table needs a grid of y",
                "add e.g. `y: {from: -6, to: 6, n: 241}`",
            );
            None
        }
        None => Some(Vec::new()),
    };
    let (measures, rs, ys) = (ms?, rs?, ys?);
    let rows = measures.len() * rs.len() * ys.len();
    if !ctx.within_rows(rows, "y", "rows") {
        return None;
    }
    let ordered = common.ordered_tables();
    let outputs = common.schemas(columns);
    Some((
        outputs,
        KindSpec::Curvature(Spec {
            measures,
            rs,
            ys,
            tables: ordered,
        }),
    ))
}

/// Richardson-extrapolated central differences of f at y: (f'(y), f''(y)).
fn derivatives(f: impl Fn(f64) -> f64, y: f64) -> (f64, f64) {
    let f0 = f(y);
    let d = |h: f64| {
        let (a, b) = (f(y + h), f(y - h));
        ((a - b) / (2.0 * h), (a - 2.0 * f0 + b) / (h * h))
    };
    let (d1, d2) = d(H);
    let (e1, e2) = d(0.5 * H);
    ((4.0 * e1 - d1) / 3.0, (4.0 * e2 - d2) / 3.0)
}

fn pointwise_row(loc: &Localizer, y: f64) -> [f64; 6] {
    let post = loc.posterior(y);
    let (d1, d2) = derivatives(|x| loc.log_density(x), y);
    [
        loc.log_density(y),
        post.var,
        1.0 + d2,
        post.mean - y,
        d1,
        post.mean,
    ]
}

pub fn run(s: &Spec, outputs: &[TableSchema]) -> Result<Vec<Table>, String> {
    let keys: Vec<(usize, f64)> = (0..s.measures.len())
        .flat_map(|mi| s.rs.iter().map(move |&r| (mi, r)))
        .collect();
    let mut out = Vec::new();
    for ((role, _), schema) in s.tables.iter().zip(outputs) {
        let mut rows = Rows::new(schema);
        let mut push = |label: &str, row: &[f64]| rows.push(&[label], row);
        match role.as_str() {
            "pointwise" => {
                let blocks: Vec<Vec<[f64; 6]>> = keys
                    .par_iter()
                    .map(|&(mi, r)| {
                        let loc = s.measures[mi].1.localizer(r);
                        s.ys.iter().map(|&y| pointwise_row(&loc, y)).collect()
                    })
                    .collect();
                for (&(mi, r), block) in keys.iter().zip(&blocks) {
                    for (&y, v) in s.ys.iter().zip(block) {
                        let mut row = vec![r, time_of_snr(r), y];
                        row.extend_from_slice(v);
                        push(&s.measures[mi].0, &row);
                    }
                }
            }
            "average" => {
                let rows: Vec<[f64; 3]> = keys
                    .par_iter()
                    .map(|&(mi, r)| {
                        let exact = ExactLocalization::new(&s.measures[mi].1, r);
                        let loc = exact.localizer().clone();
                        exact.expectation(|y| {
                            let m = loc.posterior(y);
                            let score = m.mean - y;
                            [m.var - 1.0, score * score, m.var]
                        })
                    })
                    .collect();
                for (&(mi, r), [curv, fisher, mean_l]) in keys.iter().zip(rows) {
                    push(
                        &s.measures[mi].0,
                        &[r, time_of_snr(r), curv, fisher, curv + fisher, mean_l],
                    );
                }
            }
            other => return Err(format!("internal error: unknown role `{other}`")),
        }
        out.push(rows.build()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::localize::closed_form::two_point_localization;

    #[test]
    fn finite_differences_of_the_log_density_give_the_localization() {
        // Two points at r = 1.5: L_r(y) = (rμ)² sech²(rμy) in closed form.
        let m = Measure::two_point(1.0);
        let loc = m.localizer(1.5);
        for y in [-3.0, -0.7, 0.0, 0.4, 2.5] {
            let row = pointwise_row(&loc, y);
            let want = two_point_localization(1.0, 1.5, y);
            assert!((row[1] - want).abs() < 1e-12);
            assert!((row[2] - want).abs() < 1e-7, "y={y}: {} vs {want}", row[2]);
            assert!((row[4] - row[3]).abs() < 1e-9);
        }
    }
}
