//! The `table` block: show (part of) a computed table in the report.
//!
//! ```yaml
//! id: tab-tail
//! table: two-point-tail            # a table produced by some experiment
//! caption: Integrated tail h(δ, r).
//! columns: [r, delta, h]           # optional, default all
//! where: {measure: μ}              # optional row filter
//! pivot: {rows: r, columns: delta, values: h}   # optional wide layout
//! digits: 4                        # optional decimals (default: 6 significant)
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{BlockCtx, Num};
use crate::table::Cell;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTableBlock {
    pub id: String,
    pub table: String,
    pub caption: String,
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    #[serde(default, rename = "where")]
    pub filter: Option<BTreeMap<String, CellValue>>,
    #[serde(default)]
    pub pivot: Option<Pivot>,
    #[serde(default)]
    pub digits: Option<usize>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pivot {
    pub rows: String,
    pub columns: String,
    pub values: String,
}

/// A value to match in a `where` filter: a number, an expression or a text.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum CellValue {
    Number(f64),
    Text(String),
}

/// Turn a `where` map into conditions: strings that evaluate as expressions become
/// numbers (`"1/sqrt(2)"`), other strings match text columns.
pub fn conditions(
    ctx: &mut BlockCtx,
    filter: &Option<BTreeMap<String, CellValue>>,
) -> Vec<(String, Cell)> {
    let mut out = Vec::new();
    for (k, v) in filter.iter().flatten() {
        let cell = match v {
            CellValue::Number(x) => Cell::Number(*x),
            CellValue::Text(s) => match Num::Expr(s.clone()).value() {
                Ok(x) if s.chars().any(|c| c.is_ascii_digit()) => Cell::Number(x),
                _ => Cell::Text(s.clone()),
            },
        };
        if k.is_empty() {
            ctx.error("where", "empty column name in `where`");
        }
        out.push((k.clone(), cell));
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
pub struct TableBlock {
    pub id: String,
    pub table: String,
    pub caption: String,
    pub columns: Option<Vec<String>>,
    pub filter: Vec<(String, Cell)>,
    pub pivot: Option<Pivot>,
    pub digits: Option<usize>,
    pub labels: BTreeMap<String, String>,
    /// 1-based line of the block in its chapter.
    pub line: usize,
}

pub fn validate(ctx: &mut BlockCtx) -> Option<TableBlock> {
    let raw: RawTableBlock = ctx.parse_or_report()?;
    let id = ctx.id(&raw.id, "id");
    if raw.digits.is_some_and(|d| d > 15) {
        ctx.error("digits", "`digits` must be at most 15");
    }
    if raw.pivot.is_some() && raw.columns.is_some() {
        ctx.error("columns", "give either `columns` or `pivot`, not both");
    }
    let filter = conditions(ctx, &raw.filter);
    Some(TableBlock {
        id,
        table: raw.table,
        caption: raw.caption,
        columns: raw.columns,
        filter,
        pivot: raw.pivot,
        digits: raw.digits,
        labels: raw.labels,
        line: ctx.block.fence_line,
    })
}
