//! Stage 6, *check*: each claim of the paper, compared with the computed numbers.
//!
//! A [`CheckSpec`] selects computed values from a table, obtains the expected values
//! (quoted from `data/paper.yaml`, a stated constant, a closed form per row, or
//! another computed column), and compares them under a tolerance. The result is a
//! [`CheckOutcome`] that says plainly what agrees, what does not, and by how much.
//!
//! Statuses: `reproduced` (within tolerance), `discrepancy` (a disagreement the
//! chapter declares and explains, and which still holds), `failed` (any other
//! disagreement, a declared discrepancy that no longer disagrees, or an error).

pub mod closed_form;
pub mod paper;

use serde::Serialize;

use crate::spec::check::{CheckSpec, Expected, Reduce, Relation, Selector, Tolerance};
use crate::table::{format_number, Results, Table};
pub use paper::PaperValues;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Reproduced,
    Discrepancy,
    Failed,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Reproduced => "reproduced",
            Status::Discrepancy => "discrepancy",
            Status::Failed => "failed",
        }
    }
}

/// What a check found, ready for the report and `checks.json`.
#[derive(Clone, Debug, Serialize)]
pub struct CheckOutcome {
    pub id: String,
    pub chapter: String,
    pub claim: String,
    /// Where the expected value comes from ("Figure 1", "closed form delta_star", …).
    pub source: String,
    pub status: Status,
    /// Number of values compared.
    pub compared: usize,
    /// The computed and expected values at the worst row (largest excess over tolerance).
    pub computed: Option<f64>,
    pub expected: Option<f64>,
    /// |computed − expected| at the worst row, and the largest over all rows.
    pub difference: Option<f64>,
    pub max_difference: Option<f64>,
    /// The tolerance at the worst row, and how it was set.
    pub tolerance: Option<f64>,
    pub tolerance_rule: String,
    pub relation: &'static str,
    /// The worst row described by its key columns, e.g. "r = 1.5, δ = 0".
    pub at: Option<String>,
    pub discrepancy: Option<String>,
    /// Why the check failed, when it could not be evaluated or a stale discrepancy.
    pub message: Option<String>,
}

impl CheckOutcome {
    /// One line for terminals and logs.
    pub fn summary_line(&self) -> String {
        let num = |v: Option<f64>| v.map(|v| format_number(v, None)).unwrap_or("—".into());
        format!(
            "{:<11} {:<28} expected {} ({}), computed {}, |diff| {} ≤? {}{}",
            self.status.word(),
            self.id,
            num(self.expected),
            self.source,
            num(self.computed),
            num(self.difference),
            num(self.tolerance),
            self.message
                .as_ref()
                .map(|m| format!(" — {m}"))
                .unwrap_or_default()
        )
    }
}

/// Key columns used to describe a row, in this order, with their display names.
const KEY_COLUMNS: &[(&str, &str)] = &[
    ("measure", "measure"),
    ("r", "r"),
    ("t", "t"),
    ("u", "u"),
    ("delta", "δ"),
    ("M", "M"),
    ("y", "y"),
];

fn describe_row(t: &Table, row: usize) -> String {
    KEY_COLUMNS
        .iter()
        .filter(|(c, _)| t.has_column(c))
        .filter_map(|(c, label)| {
            let cell = t.cells(c).ok()?.into_iter().nth(row)?;
            Some(format!("{label} = {cell}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Selected values of a column, with their row indices.
fn select(results: &Results, s: &Selector) -> Result<(Vec<usize>, Vec<f64>), String> {
    let t = results.table(&s.table)?;
    let rows = t.select(&s.filter)?;
    if rows.is_empty() {
        return Err(format!(
            "no row of table `{}` matches the `where` filter",
            s.table
        ));
    }
    let col = t.numbers(&s.column)?;
    Ok((rows.clone(), rows.iter().map(|&i| col[i]).collect()))
}

fn reduce(r: Reduce, v: &[f64]) -> (usize, f64) {
    let idx = match r {
        Reduce::First | Reduce::Mean => 0,
        Reduce::Last => v.len() - 1,
        Reduce::Max => (0..v.len())
            .max_by(|&a, &b| v[a].total_cmp(&v[b]))
            .unwrap_or(0),
        Reduce::Min => (0..v.len())
            .min_by(|&a, &b| v[a].total_cmp(&v[b]))
            .unwrap_or(0),
    };
    let value = if r == Reduce::Mean {
        v.iter().sum::<f64>() / v.len() as f64
    } else {
        v[idx]
    };
    (idx, value)
}

/// Evaluate one check against the build's results.
pub fn evaluate(
    spec: &CheckSpec,
    chapter: &str,
    results: &Results,
    paper: &PaperValues,
) -> CheckOutcome {
    let mut out = CheckOutcome {
        id: spec.id.clone(),
        chapter: chapter.to_string(),
        claim: spec.claim.clone(),
        source: source_of(spec, paper),
        status: Status::Failed,
        compared: 0,
        computed: None,
        expected: None,
        difference: None,
        max_difference: None,
        tolerance: None,
        tolerance_rule: tolerance_rule(&spec.tolerance, spec, paper),
        relation: match spec.relation {
            Relation::Eq => "=",
            Relation::Le => "≤",
            Relation::Ge => "≥",
        },
        at: None,
        discrepancy: spec.discrepancy.clone(),
        message: None,
    };
    match compare(spec, results, paper, &mut out) {
        Ok(agree) => {
            out.status = match (agree, spec.discrepancy.is_some()) {
                (true, false) => Status::Reproduced,
                (false, true) => Status::Discrepancy,
                (false, false) => Status::Failed,
                (true, true) => {
                    out.message = Some(
                        "declared as a discrepancy, but the numbers now agree: remove `discrepancy` or revisit it"
                            .into(),
                    );
                    Status::Failed
                }
            };
        }
        Err(e) => {
            out.status = Status::Failed;
            out.message = Some(e);
        }
    }
    out
}

fn source_of(spec: &CheckSpec, paper: &PaperValues) -> String {
    if let Some(s) = &spec.source {
        return s.clone();
    }
    match &spec.expected {
        Expected::Paper(key) => paper
            .get(key)
            .map(|e| e.location.clone())
            .unwrap_or_else(|| format!("data/paper.yaml `{key}`")),
        Expected::Value { source, .. } => source.clone(),
        Expected::ClosedForm(name) => format!("closed form `{name}`"),
        Expected::Column(s) => format!("column `{}` of `{}`", s.column, s.table),
    }
}

fn tolerance_rule(t: &Tolerance, spec: &CheckSpec, paper: &PaperValues) -> String {
    match t {
        Tolerance::Abs(a) => format!("absolute {}", format_number(*a, None)),
        Tolerance::Rel(r) => format!("relative {}", format_number(*r, None)),
        Tolerance::StandardErrors { k, .. } => {
            format!("{} standard errors", format_number(*k, None))
        }
        Tolerance::Printed => match &spec.expected {
            Expected::Paper(key) => match paper.get(key) {
                Some(e) => format!("half a unit in the printed {}th decimal", e.digits),
                None => "printed precision".into(),
            },
            _ => "printed precision".into(),
        },
    }
}

/// Fill `out` with the comparison; `Ok(true)` when every compared value agrees.
fn compare(
    spec: &CheckSpec,
    results: &Results,
    paper: &PaperValues,
    out: &mut CheckOutcome,
) -> Result<bool, String> {
    let table = results.table(&spec.computed.table)?;
    let (rows, mut computed) = select(results, &spec.computed)?;
    let mut rows = rows;
    // Expected values, one per computed row (a scalar is broadcast).
    let mut expected: Vec<f64> = match &spec.expected {
        Expected::Paper(key) => {
            let e = paper
                .get(key)
                .ok_or_else(|| format!("data/paper.yaml has no entry `{key}`"))?;
            vec![e.value; computed.len()]
        }
        Expected::Value { value, .. } => vec![*value; computed.len()],
        Expected::ClosedForm(name) => {
            let measures = results
                .measures
                .get(&spec.computed.table)
                .ok_or_else(|| format!("no measures recorded for `{}`", spec.computed.table))?;
            let labels = table.texts("measure").ok();
            let col = |c: &str| table.numbers(c).ok();
            let (rc, tc, uc) = (col("r"), col("t"), col("u"));
            rows.iter()
                .map(|&i| {
                    let label = labels.as_ref().map(|l| l[i].as_str()).unwrap_or("μ");
                    let m = measures
                        .iter()
                        .find(|(l, _)| l == label)
                        .map(|(_, m)| m)
                        .ok_or_else(|| format!("unknown measure `{label}`"))?;
                    let row = closed_form::Row {
                        r: rc.as_ref().map(|c| c[i]),
                        t: tc.as_ref().map(|c| c[i]),
                        u: uc.as_ref().map(|c| c[i]),
                    };
                    closed_form::eval(name, m, row)
                })
                .collect::<Result<_, _>>()?
        }
        Expected::Column(sel) => {
            let (_, v) = select(results, sel)?;
            if v.len() != computed.len() && v.len() != 1 && spec.computed.reduce.is_none() {
                return Err(format!(
                    "computed selects {} rows but expected selects {}",
                    computed.len(),
                    v.len()
                ));
            }
            if v.len() == 1 {
                vec![v[0]; computed.len()]
            } else {
                v
            }
        }
    };
    let mut se: Option<Vec<f64>> = match &spec.tolerance {
        Tolerance::StandardErrors { column, .. } => {
            let col = table.numbers(column)?;
            Some(rows.iter().map(|&i| col[i]).collect())
        }
        _ => None,
    };
    if let Some(r) = spec.computed.reduce {
        let (idx, value) = reduce(r, &computed);
        let (_, e) = if let Expected::Column(sel) = &spec.expected {
            match sel.reduce {
                Some(er) => reduce(er, &expected),
                None => (idx, expected[idx.min(expected.len() - 1)]),
            }
        } else if r == Reduce::Mean {
            reduce(Reduce::Mean, &expected)
        } else {
            (idx, expected[idx])
        };
        computed = vec![value];
        expected = vec![e];
        rows = vec![rows[idx]];
        se = se.map(|s| vec![s[idx]]);
    }
    let tol: Vec<f64> = match &spec.tolerance {
        Tolerance::Abs(a) => vec![*a; computed.len()],
        Tolerance::Rel(r) => expected.iter().map(|e| r * e.abs()).collect(),
        Tolerance::StandardErrors { k, .. } => {
            se.unwrap_or_default().iter().map(|s| k * s).collect()
        }
        Tolerance::Printed => {
            let Expected::Paper(key) = &spec.expected else {
                return Err("`tolerance: printed` needs a paper value".into());
            };
            let d = paper.get(key).map(|e| e.digits).unwrap_or(0);
            vec![0.5 * 10f64.powi(-(d as i32)); computed.len()]
        }
    };
    // Per row: the excess over the tolerance (≤ 0 agrees). NaN never agrees.
    let mut worst = 0;
    let mut worst_excess = f64::NEG_INFINITY;
    let mut all_agree = true;
    let mut max_diff: f64 = 0.0;
    for i in 0..computed.len() {
        let (c, e, t) = (computed[i], expected[i], tol[i]);
        let diff = (c - e).abs();
        let excess = match spec.relation {
            Relation::Eq => diff - t,
            Relation::Le => c - e - t,
            Relation::Ge => e - c - t,
        };
        let agree = excess <= 0.0 || (spec.relation == Relation::Eq && c == e);
        let excess = if excess.is_nan() {
            f64::INFINITY
        } else {
            excess
        };
        if !agree {
            all_agree = false;
        }
        max_diff = if diff.is_nan() {
            f64::NAN
        } else {
            max_diff.max(diff)
        };
        if excess > worst_excess {
            worst_excess = excess;
            worst = i;
        }
    }
    out.compared = computed.len();
    out.computed = Some(computed[worst]);
    out.expected = Some(expected[worst]);
    out.difference = Some((computed[worst] - expected[worst]).abs());
    out.max_difference = Some(max_diff);
    out.tolerance = Some(tol[worst]);
    let at = describe_row(table, rows[worst]);
    out.at = (!at.is_empty()).then_some(at);
    Ok(all_agree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::check::{Expected, Relation, Selector, Tolerance};
    use crate::table::{Cell, TableBuilder};

    fn results() -> Results {
        let t = TableBuilder::new()
            .text("measure", vec!["μ".into(), "μ".into()])
            .number("r", vec![0.5, 1.5])
            .number("h", vec![0.0, 0.1312])
            .number("h_se", vec![0.0, 0.001])
            .build("tail")
            .unwrap();
        let mut r = Results::default();
        r.tables.insert("tail".into(), t);
        r
    }

    fn spec(expected: Expected, tolerance: Tolerance, discrepancy: Option<&str>) -> CheckSpec {
        CheckSpec {
            id: "c".into(),
            claim: "h".into(),
            source: None,
            computed: Selector {
                table: "tail".into(),
                column: "h".into(),
                filter: vec![("r".into(), Cell::Number(1.5))],
                reduce: None,
            },
            expected,
            tolerance,
            relation: Relation::Eq,
            discrepancy: discrepancy.map(String::from),
            line: 1,
        }
    }

    #[test]
    fn statuses_follow_the_rules() {
        let mut paper = PaperValues::default();
        paper.insert("k", 0.13, 2, "Figure 1");
        let res = results();
        let ok = evaluate(
            &spec(Expected::Paper("k".into()), Tolerance::Printed, None),
            "ch",
            &res,
            &paper,
        );
        assert_eq!(ok.status, Status::Reproduced, "{ok:?}");
        assert!((ok.difference.unwrap() - 0.0012).abs() < 1e-12);
        assert_eq!(ok.tolerance, Some(0.005));
        assert_eq!(ok.at.as_deref(), Some("measure = μ, r = 1.5"));
        let bad = Expected::Value {
            value: 0.2,
            source: "text".into(),
        };
        let f = evaluate(
            &spec(bad.clone(), Tolerance::Abs(0.01), None),
            "ch",
            &res,
            &paper,
        );
        assert_eq!(f.status, Status::Failed);
        let d = evaluate(
            &spec(bad, Tolerance::Abs(0.01), Some("rounding")),
            "ch",
            &res,
            &paper,
        );
        assert_eq!(d.status, Status::Discrepancy);
        let stale = evaluate(
            &spec(Expected::Paper("k".into()), Tolerance::Printed, Some("old")),
            "ch",
            &res,
            &paper,
        );
        assert_eq!(stale.status, Status::Failed);
        assert!(stale.message.unwrap().contains("now agree"));
        let se = evaluate(
            &spec(
                Expected::Value {
                    value: 0.135,
                    source: "x".into(),
                },
                Tolerance::StandardErrors {
                    k: 4.0,
                    column: "h_se".into(),
                },
                None,
            ),
            "ch",
            &res,
            &paper,
        );
        assert_eq!(se.status, Status::Reproduced, "0.0038 ≤ 4 × 0.001");
        let missing = evaluate(
            &spec(Expected::Paper("nope".into()), Tolerance::Printed, None),
            "ch",
            &res,
            &paper,
        );
        assert_eq!(missing.status, Status::Failed);
        assert!(missing.message.unwrap().contains("nope"));
    }
}
