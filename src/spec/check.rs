//! The `check` block: one claim of the paper, tested against computed numbers.
//!
//! ```yaml
//! id: fig1-h0-r150
//! claim: h(0, r) at r = 1.5 as printed in Figure 1
//! computed: {table: two-point-tail, column: h, where: {r: 1.5, delta: 0}}
//! expected: {paper: fig1.h0.r150}        # a value quoted in data/paper.yaml
//! tolerance: printed                     # half a unit in the paper's last printed digit
//! basis: paper_value                     # what the check rests on (see `Basis`)
//! paper_ref: Figure 1                    # the paper's item it is about
//! ```
//!
//! A check with `candidate: "what it tries"` compares a *variant* computation (another
//! grid, another reading of a parameter) with the paper's value, to test an explanation
//! of a disagreement; such checks are counted apart from the verdict.
//!
//! `expected` is one of `{paper: KEY}`, `{value: X, source: "..."}`,
//! `{closed_form: NAME}` (evaluated row by row, see `check::closed_form`) or
//! `{table: T, column: C, where: ...}` (another computed column, e.g. exact vs
//! Monte Carlo). `tolerance` is `{abs: X}`, `{rel: X}`, `{se: K, se_column: C}`
//! (K standard errors, per row) or `printed`. `relation` is `eq` (default), `le`
//! or `ge`. A declared `discrepancy: "why"` marks a disagreement the chapter explains.
//!
//! `reduce` is `max`, `min`, `mean`, `first`, `last`, `{argmax: COL}` / `{argmin: COL}`
//! (the selected column where COL is largest / smallest) or
//! `{crossing: COL, level: X, which: first|last}` (the selected column, interpolated
//! linearly where COL first / last crosses X in row order): these read a figure's
//! features (where a curve peaks, where it changes sign) off our tables.
//!
//! Every check says what it rests on (`basis`) and which item of the paper it is about
//! (`paper_ref`), so that the verdict can be read by basis: agreeing with a number the
//! paper prints is not the same evidence as two computations of ours agreeing.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::table::{conditions, CellValue};
use super::{BlockCtx, Num};
use crate::table::Cell;

/// A `check` block as written: one field per YAML key (see the module's example).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    /// The check's id: the target of `ref(id=…)`, and its `id` in `checks.json`.
    pub id: String,
    /// The claim tested: Markdown with `$…$` math and `{{ … }}` expressions.
    pub claim: String,
    /// What the check rests on: `paper_value`, `paper_figure`, `closed_form`,
    /// `theorem` or `consistency`.
    pub basis: String,
    /// The paper's item the claim is about, e.g. "Figure 10(c)" or "Theorem 4".
    pub paper_ref: String,
    /// Where the expected value comes from, as shown beside it (default: said by
    /// `expected`, e.g. the paper value's location).
    #[serde(default)]
    pub source: Option<String>,
    /// The computed values: a column of a table, filtered and maybe reduced.
    pub computed: RawSelector,
    /// What they are compared with.
    pub expected: RawExpected,
    /// How far computed may be from expected.
    pub tolerance: RawTolerance,
    /// `eq` (default), `le` or `ge`: computed =, ≤ or ≥ expected, up to the tolerance.
    #[serde(default)]
    pub relation: Option<String>,
    /// Declares a disagreement with the paper, and explains it.
    #[serde(default)]
    pub discrepancy: Option<String>,
    /// What variant computation this check tries, as a candidate explanation of a
    /// disagreement (counted apart from the verdict).
    #[serde(default)]
    pub candidate: Option<String>,
}

/// Values of a column, as written: `{table: T, column: C, where: …, reduce: …}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSelector {
    /// The table read, by the name an experiment's `tables:` gives it.
    pub table: String,
    /// The column whose values are compared.
    pub column: String,
    /// `where`: only the rows with these values in these columns.
    #[serde(default, rename = "where")]
    pub filter: Option<BTreeMap<String, CellValue>>,
    /// How the selected values become one (none: every selected row is compared).
    #[serde(default)]
    pub reduce: Option<RawReduce>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(
    untagged,
    expecting = "one of max, min, mean, first, last, {argmax: COL}, {argmin: COL} or {crossing: COL, level: X}"
)]
pub enum RawReduce {
    Word(String),
    ArgMax {
        argmax: String,
    },
    ArgMin {
        argmin: String,
    },
    Crossing {
        crossing: String,
        level: Num,
        #[serde(default)]
        which: Option<String>,
    },
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

/// What a check rests on. The verdict is reported per basis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// A number the paper prints.
    PaperValue,
    /// A feature read off a panel of the paper's figures.
    PaperFigure,
    /// An exact formula.
    ClosedForm,
    /// An inequality or statement of the paper, tried where it is not trivially true.
    Theorem,
    /// Two computations of ours that must agree.
    Consistency,
}

impl Basis {
    pub const ALL: [Basis; 5] = [
        Basis::PaperValue,
        Basis::PaperFigure,
        Basis::ClosedForm,
        Basis::Theorem,
        Basis::Consistency,
    ];
    pub const NAMES: [&'static str; 5] = [
        "paper_value",
        "paper_figure",
        "closed_form",
        "theorem",
        "consistency",
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn parse(s: &str) -> Option<Basis> {
        Self::NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| Self::ALL[i])
    }

    /// How the verdict names the group, e.g. "printed values: 12 of 12 reproduced".
    pub fn plural(self) -> &'static str {
        match self {
            Basis::PaperValue => "printed values",
            Basis::PaperFigure => "figure features",
            Basis::ClosedForm => "closed forms",
            Basis::Theorem => "theorems",
            Basis::Consistency => "consistency of our computations",
        }
    }

    /// One sentence on what agreement means, for the report.
    pub fn meaning(self) -> &'static str {
        match self {
            Basis::PaperValue => "a number printed in the paper, within half a unit of its last printed digit",
            Basis::PaperFigure => "a feature read off a panel of the paper's figures, within the uncertainty of the reading",
            Basis::ClosedForm => "an exact formula (the paper's or a standard one) evaluated beside our numerics",
            Basis::Theorem => "an inequality or statement of the paper, tried where it is not trivially true",
            Basis::Consistency => "two independent computations of ours that must agree (exact against Monte Carlo, formula against finite differences)",
        }
    }
}

/// Which rows of which column, and how to reduce them.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    /// The table read.
    pub table: String,
    /// The column whose values are compared.
    pub column: String,
    /// Only the rows with these values in these columns.
    pub filter: Vec<(String, Cell)>,
    /// How the selected values become one (none: every selected row is compared).
    pub reduce: Option<Reduce>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Reduce {
    Max,
    Min,
    Mean,
    First,
    Last,
    /// The selected column where this column is largest.
    ArgMax(String),
    /// The selected column where this column is smallest.
    ArgMin(String),
    /// The selected column, interpolated where `of` crosses `level`.
    Crossing {
        of: String,
        level: f64,
        last: bool,
    },
}

impl Reduce {
    /// The other column a reduction reads, if any.
    pub fn reads(&self) -> Option<&str> {
        match self {
            Reduce::ArgMax(c) | Reduce::ArgMin(c) => Some(c),
            Reduce::Crossing { of, .. } => Some(of),
            _ => None,
        }
    }
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
    /// The uncertainty recorded with a feature read off the paper's figure.
    ReadOff,
}

/// How computed must compare with expected (`relation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// |computed − expected| ≤ tolerance (`eq`, the default).
    Eq,
    /// computed ≤ expected + tolerance (`le`).
    Le,
    /// computed ≥ expected − tolerance (`ge`).
    Ge,
}

/// A `check` block, checked: what `crate::check::evaluate` runs.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckSpec {
    /// The check's id: the target of `ref(id=…)`, and its `id` in `checks.json`.
    pub id: String,
    /// The claim tested: Markdown with `$…$` math and `{{ … }}` expressions.
    pub claim: String,
    /// What the check rests on.
    pub basis: Basis,
    /// The paper's item the claim is about, e.g. "Figure 10(c)".
    pub paper_ref: String,
    /// Where the expected value comes from, when the block says it (`source:`).
    pub source: Option<String>,
    /// The computed values.
    pub computed: Selector,
    /// What they are compared with.
    pub expected: Expected,
    /// How far computed may be from expected.
    pub tolerance: Tolerance,
    /// How computed must compare with expected.
    pub relation: Relation,
    /// The chapter's explanation of a declared disagreement with the paper.
    pub discrepancy: Option<String>,
    /// Set when the check tries a candidate explanation of a disagreement (a variant
    /// computation against the paper's value): counted apart from the verdict.
    pub candidate: Option<String>,
    /// The chapter line of the block's opening fence.
    pub line: usize,
}

fn selector(ctx: &mut BlockCtx, raw: &RawSelector, path: &str) -> Selector {
    let field = format!("{path}.reduce");
    let reduce = match &raw.reduce {
        None => None,
        Some(RawReduce::Word(w)) => match w.as_str() {
            "max" => Some(Reduce::Max),
            "min" => Some(Reduce::Min),
            "mean" => Some(Reduce::Mean),
            "first" => Some(Reduce::First),
            "last" => Some(Reduce::Last),
            other => {
                ctx.error_hint(
                    &field,
                    format!("unknown reduction `{other}`"),
                    format!(
                        "{}; or {{argmax: COL}}, {{argmin: COL}}, {{crossing: COL, level: X}}",
                        crate::diagnostic::suggest(other, REDUCERS)
                    ),
                );
                None
            }
        },
        Some(RawReduce::ArgMax { argmax }) => Some(Reduce::ArgMax(argmax.clone())),
        Some(RawReduce::ArgMin { argmin }) => Some(Reduce::ArgMin(argmin.clone())),
        Some(RawReduce::Crossing {
            crossing,
            level,
            which,
        }) => {
            let last = match which.as_deref() {
                None | Some("first") => false,
                Some("last") => true,
                Some(other) => {
                    ctx.error_hint(
                        &format!("{field}.which"),
                        format!("unknown crossing `{other}`"),
                        "use `which: first` or `which: last`",
                    );
                    false
                }
            };
            let level = ctx.num_where(level, &format!("{field}.level"), "a finite number", |_| {
                true
            });
            level.map(|level| Reduce::Crossing {
                of: crossing.clone(),
                level,
                last,
            })
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
    let basis = match Basis::parse(&raw.basis) {
        Some(b) => b,
        None => {
            ctx.error_hint(
                "basis",
                format!("unknown basis `{}`", raw.basis),
                format!(
                    "{}; the basis says what the check rests on: {}",
                    crate::diagnostic::suggest(&raw.basis, &Basis::NAMES),
                    Basis::NAMES.join(", ")
                ),
            );
            return None;
        }
    };
    if raw.paper_ref.trim().is_empty() {
        ctx.error_hint(
            "paper_ref",
            "`paper_ref` is empty",
            "name the paper's item the check is about, e.g. \"Figure 6(c)\" or \"Theorem 4\"",
        );
    }
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
        RawTolerance::Word(w) if w == "printed" || w == "read_off" => {
            // Both read the paper's value: how precisely it was printed or read off.
            let (tolerance, which) = if w == "printed" {
                (Tolerance::Printed, "(it uses the printed precision)")
            } else {
                (Tolerance::ReadOff, "with KEY read off a figure")
            };
            if !matches!(expected, Expected::Paper(_)) {
                ctx.error(
                    "tolerance",
                    format!("`tolerance: {w}` needs `expected: {{paper: KEY}}` {which}"),
                );
            }
            tolerance
        }
        RawTolerance::Word(w) => {
            ctx.error_hint(
                "tolerance",
                format!("unknown tolerance `{w}`"),
                "use {abs: X}, {rel: X}, {se: K, se_column: C}, printed or read_off",
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
    // The basis and the expected value must tell the same story.
    let fits = match basis {
        Basis::PaperValue => {
            matches!(expected, Expected::Paper(_)) && tolerance != Tolerance::ReadOff
        }
        Basis::PaperFigure => {
            matches!(expected, Expected::Paper(_)) && tolerance == Tolerance::ReadOff
        }
        Basis::Consistency => matches!(expected, Expected::Column(_)),
        Basis::ClosedForm | Basis::Theorem => !matches!(expected, Expected::Paper(_)),
    };
    if !fits {
        let how = match basis {
            Basis::PaperValue => "`basis: paper_value` compares with a printed number: `expected: {paper: KEY}` (a key of data/paper.yaml), usually with `tolerance: printed`",
            Basis::PaperFigure => "`basis: paper_figure` compares with a feature read off a figure: `expected: {paper: KEY}` (a key of data/read-off/) with `tolerance: read_off`",
            Basis::Consistency => "`basis: consistency` compares two computations of ours: `expected: {table: T, column: C}`",
            Basis::ClosedForm | Basis::Theorem => "a value quoted from the paper is `basis: paper_value` or `paper_figure`; use `{closed_form: NAME}`, `{value: X, source: ...}` or a column here",
        };
        ctx.error_hint(
            "basis",
            format!("`basis: {}` does not fit `expected`", basis.name()),
            how,
        );
    }
    if let Some(c) = &raw.candidate {
        if c.trim().is_empty() {
            ctx.error(
                "candidate",
                "a candidate check names the explanation it tries, e.g. `candidate: \"noise variance 1/2\"`",
            );
        } else if !matches!(basis, Basis::PaperValue | Basis::PaperFigure) {
            ctx.error_hint(
                "candidate",
                "a candidate explanation is tried against the paper's own value",
                "use it with `basis: paper_value` or `basis: paper_figure`",
            );
        }
    }
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
        basis,
        paper_ref: raw.paper_ref.trim().to_string(),
        source: raw.source,
        computed,
        expected,
        tolerance,
        relation,
        discrepancy: raw.discrepancy,
        candidate: raw.candidate.map(|c| c.trim().to_string()),
        line: ctx.block.fence_line,
    })
}
