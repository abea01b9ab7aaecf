//! Kind `density`: the law of Y_r = rX + Z on a grid of y, with the localization
//! L_r(y), the posterior mean E[rX | Y_r = y] and the score of Y_r (Tweedie).
//!
//! ```yaml
//! id: two-point-density
//! kind: density
//! measure: {mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}
//! r: ["1/sqrt(2)", 1.5, 3]
//! y: {from: -6, to: 6, n: 1201}
//! tables: {density: two-point-density}
//! ```
//!
//! Table `density`: measure, r, t, y, density, localization, posterior_mean, score.

use rayon::prelude::*;
use serde::Deserialize;

use super::{Common, KindSpec, Validated};
use crate::localize;
use crate::measure::Measure;
use crate::spec::{BlockCtx, Grid};
use crate::table::{ColumnDecl, Table, TableBuilder, TableSchema};

pub const ROLES: &[&str] = &["density"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    r: Grid,
    y: Grid,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Spec {
    pub measures: Vec<(String, Measure)>,
    pub rs: Vec<f64>,
    pub ys: Vec<f64>,
    pub table: String,
}

pub fn validate(ctx: &mut BlockCtx, common: &Common) -> Option<Validated> {
    let raw: Raw = common.fields(ctx)?;
    let tables = common.tables.clone();
    let ms = common.measures.clone();
    let rs = ctx.grid(&raw.r, "r", "positive", |v| v > 0.0);
    let ys = ctx.grid(&raw.y, "y", "finite", |v| v.abs() < 1e6);
    let (measures, rs, ys) = (ms?, rs?, ys?);
    let cells = measures.len() * rs.len() * ys.len();
    if !ctx.within_rows(cells, "y", "rows") {
        return None;
    }
    let table = tables.get("density")?.clone();
    let outputs = common.schemas(|_| {
        let n = ColumnDecl::number;
        let mut columns = super::complexity::base_columns();
        columns.extend([
            n("y", "point y"),
            n("density", "density of Y_r at y"),
            n("localization", "L_r(y) = Var[rX | Y_r = y]"),
            n("posterior_mean", "E[rX | Y_r = y]"),
            n("score", "(log p_{Y_r})'(y)"),
        ]);
        columns
    });
    Some((
        outputs,
        KindSpec::Density(Spec {
            measures,
            rs,
            ys,
            table,
        }),
    ))
}

pub fn run(s: &Spec, outputs: &[TableSchema]) -> Result<Vec<Table>, String> {
    let blocks: Vec<(usize, f64)> = (0..s.measures.len())
        .flat_map(|mi| s.rs.iter().map(move |&r| (mi, r)))
        .collect();
    let rows: Vec<Vec<[f64; 4]>> = blocks
        .par_iter()
        .map(|&(mi, r)| {
            let m = &s.measures[mi].1;
            s.ys.iter()
                .map(|&y| {
                    let p = m.posterior(r, y);
                    [m.density_y(r, y), p.var, p.mean, p.mean - y]
                })
                .collect()
        })
        .collect();
    let n = blocks.len() * s.ys.len();
    let mut labels = Vec::with_capacity(n);
    let mut cols: [Vec<f64>; 7] = Default::default();
    for (&(mi, r), block) in blocks.iter().zip(&rows) {
        for (&y, v) in s.ys.iter().zip(block) {
            labels.push(s.measures[mi].0.clone());
            let row = [r, localize::time_of_snr(r), y, v[0], v[1], v[2], v[3]];
            for (c, x) in cols.iter_mut().zip(row) {
                c.push(x);
            }
        }
    }
    let schema = &outputs[0];
    let mut b = TableBuilder::new().text("measure", labels);
    for (decl, values) in schema.columns.iter().skip(1).zip(cols) {
        b = b.number(&decl.name, values);
    }
    Ok(vec![b.build(&schema.name)?])
}
