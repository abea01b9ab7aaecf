//! The `check` block: one claim of the paper, tested against computed numbers.
//!
//! ```yaml
//! id: fig1-h0-r150
//! claim: h(0, r) at r = 1.5 as printed in Figure 1
//! computed: {table: two-point-tail, column: h, where: {r: 1.5, delta: 0}}
//! expected: {paper: fig1.h0.r150}        # a value quoted in data/paper.yaml
//! tolerance: printed                     # half a unit in the paper's last printed digit
//! ```
//!
//! `expected` is one of `{paper: KEY}`, `{value: X, source: "..."}`,
//! `{closed_form: NAME}` (evaluated row by row, see `check::closed_form`) or
//! `{table: T, column: C, where: ...}` (another computed column, e.g. exact vs
//! Monte Carlo). `tolerance` is `{abs: X}`, `{rel: X}`, `{se: K, se_column: C}`
//! (K standard errors, per row) or `printed`. `relation` is `eq` (default), `le`
//! or `ge`. A declared `discrepancy: "why"` marks a disagreement the chapter explains.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::table::{conditions, CellValue};
use super::{BlockCtx, Num};
use crate::table::Cell;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub id: String,
    pub claim: String,
    #[serde(default)]
    pub source: Option<String>,
    pub computed: RawSelector,
    pub expected: RawExpected,
    pub tolerance: RawTolerance,
    #[serde(default)]
    pub relation: Option<String>,
    #[serde(default)]
    pub discrepancy: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSelector {
    pub table: String,
    pub column: String,
    #[serde(default, rename = "where")]
    pub filter: Option<BTreeMap<String, CellValue>>,
    #[serde(default)]
    pub reduce: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(
    untagged,
    expecting = "one of {paper: KEY}, {value: X, source: TEXT}, {closed_form: NAME} or {table: T, column: C}"
)]
pub enum RawExpected {
    Paper { paper: String },
    Value { value: Num, source: String },
    ClosedForm { closed_form: String },
    Column(RawSelector),
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(
    untagged,
    expecting = "one of {abs: X}, {rel: X}, {se: K, se_column: C} or printed"
)]
pub enum RawTolerance {
    Word(String),
    Abs { abs: Num },
    Rel { rel: Num },
    Se { se: Num, se_column: String },
}

/// Which rows of which column, and how to reduce them.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    pub table: String,
    pub column: String,
    pub filter: Vec<(String, Cell)>,
    pub reduce: Option<Reduce>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    Max,
    Min,
    Mean,
    First,
    Last,
}

pub const REDUCERS: &[&str] = &["max", "min", "mean", "first", "last"];

#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    Paper(String),
    Value { value: f64, source: String },
    ClosedForm(String),
    Column(Selector),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Tolerance {
    Abs(f64),
    Rel(f64),
    StandardErrors {
        k: f64,
        column: String,
    },
    /// Half a unit in the last digit the paper printed.
    Printed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Eq,
    Le,
    Ge,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CheckSpec {
    pub id: String,
    pub claim: String,
    pub source: Option<String>,
    pub computed: Selector,
    pub expected: Expected,
    pub tolerance: Tolerance,
    pub relation: Relation,
    pub discrepancy: Option<String>,
    pub line: usize,
}

fn selector(ctx: &mut BlockCtx, raw: &RawSelector, path: &str) -> Selector {
    let reduce = match raw.reduce.as_deref() {
        None => None,
        Some("max") => Some(Reduce::Max),
        Some("min") => Some(Reduce::Min),
        Some("mean") => Some(Reduce::Mean),
        Some("first") => Some(Reduce::First),
        Some("last") => Some(Reduce::Last),
        Some(other) => {
            ctx.error_hint(
                &format!("{path}.reduce"),
                format!("unknown reduction `{other}`"),
                crate::diagnostic::suggest(other, REDUCERS),
            );
            None
        }
    };
    Selector {
        table: raw.table.clone(),
        column: raw.column.clone(),
        filter: conditions(ctx, &raw.filter),
        reduce,
    }
}

pub fn validate(ctx: &mut BlockCtx) -> Option<CheckSpec> {
    let raw: RawCheck = ctx.parse_or_report()?;
    let id = ctx.id(&raw.id, "id");
    let computed = selector(ctx, &raw.computed, "computed");
    let expected = match &raw.expected {
        RawExpected::Paper { paper } => Expected::Paper(paper.clone()),
        RawExpected::Value { value, source } => {
            let v = ctx.num_where(value, "expected.value", "a finite number", |_| true)?;
            Expected::Value {
                value: v,
                source: source.clone(),
            }
        }
        RawExpected::ClosedForm { closed_form } => {
            let names = crate::check::closed_form::NAMES;
            if !names.contains(&closed_form.as_str()) {
                ctx.error_hint(
                    "expected.closed_form",
                    format!("unknown closed form `{closed_form}`"),
                    crate::diagnostic::suggest(closed_form, names),
                );
                return None;
            }
            Expected::ClosedForm(closed_form.clone())
        }
        RawExpected::Column(sel) => Expected::Column(selector(ctx, sel, "expected")),
    };
    let tolerance = match &raw.tolerance {
        RawTolerance::Word(w) if w == "printed" => {
            if !matches!(expected, Expected::Paper(_)) {
                ctx.error(
                    "tolerance",
                    "`tolerance: printed` needs `expected: {paper: KEY}` (it uses the printed precision)",
                );
            }
            Tolerance::Printed
        }
        RawTolerance::Word(w) => {
            ctx.error_hint(
                "tolerance",
                format!("unknown tolerance `{w}`"),
                "use {abs: X}, {rel: X}, {se: K, se_column: C} or printed",
            );
            return None;
        }
        RawTolerance::Abs { abs } => {
            Tolerance::Abs(ctx.num_where(abs, "tolerance.abs", "zero or positive", |v| v >= 0.0)?)
        }
        RawTolerance::Rel { rel } => {
            Tolerance::Rel(ctx.num_where(rel, "tolerance.rel", "zero or positive", |v| v >= 0.0)?)
        }
        RawTolerance::Se { se, se_column } => Tolerance::StandardErrors {
            k: ctx.num_where(se, "tolerance.se", "positive", |v| v > 0.0)?,
            column: se_column.clone(),
        },
    };
    let relation = match raw.relation.as_deref() {
        None | Some("eq") => Relation::Eq,
        Some("le") => Relation::Le,
        Some("ge") => Relation::Ge,
        Some(other) => {
            ctx.error_hint(
                "relation",
                format!("unknown relation `{other}`"),
                crate::diagnostic::suggest(other, &["eq", "le", "ge"]),
            );
            Relation::Eq
        }
    };
    if let Some(d) = &raw.discrepancy {
        if d.trim().is_empty() {
            ctx.error(
                "discrepancy",
                "a declared discrepancy needs an explanation of its likely cause",
            );
        }
    }
    Some(CheckSpec {
        id,
        claim: raw.claim,
        source: raw.source,
        computed,
        expected,
        tolerance,
        relation,
        discrepancy: raw.discrepancy,
        line: ctx.block.fence_line,
    })
}
