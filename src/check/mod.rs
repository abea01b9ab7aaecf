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

use crate::spec::check::{Basis, CheckSpec, Expected, Reduce, Relation, Selector, Tolerance};
use crate::table::{format_number, Results, Table};
pub use paper::PaperValues;

/// The verdict on one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every compared value agrees within its tolerance.
    Reproduced,
    /// A disagreement the chapter declares (`discrepancy:`), and which still holds.
    Discrepancy,
    /// Any other disagreement, a declared discrepancy that no longer disagrees, or an
    /// error (see the outcome's `message`).
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
    /// The check block's `id:`.
    pub id: String,
    /// The id of the chapter the check is in.
    pub chapter: String,
    /// The claim as written in the block (its `{{ … }}` expressions not filled in).
    pub claim: String,
    /// What the check rests on: a printed number, a figure feature, a closed form, a
    /// theorem of the paper, or two computations of ours.
    pub basis: Basis,
    /// The paper's item the check is about ("Figure 10(c)", "Theorem 4").
    pub paper_ref: String,
    /// The candidate explanation this check tries, if it is one (not part of the verdict).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    /// Where the expected value comes from ("Figure 1", "closed form delta_star", …).
    pub source: String,
    /// The verdict.
    pub status: Status,
    /// Number of values compared.
    pub compared: usize,
    /// The computed and expected values at the worst row: the failing row farthest
    /// beyond its tolerance, or else the row that uses the largest share of its tolerance.
    pub computed: Option<f64>,
    pub expected: Option<f64>,
    /// |computed − expected| at the worst row, and the largest over all rows.
    pub difference: Option<f64>,
    pub max_difference: Option<f64>,
    /// The tolerance at the worst row, and how it was set.
    pub tolerance: Option<f64>,
    pub tolerance_rule: String,
    /// How computed must compare with expected: `=`, `≤` or `≥` (the block's `relation`).
    pub relation: &'static str,
    /// The worst row described by its key columns, e.g. "r = 1.5, δ = 0".
    pub at: Option<String>,
    /// The chapter's explanation of a declared disagreement (`discrepancy:`).
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

/// The verdict for one basis: how many of its checks reproduced, and how many did not.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BasisTally {
    pub basis: Basis,
    /// "printed values", "figure features", …
    pub name: &'static str,
    /// What agreement means for this basis.
    pub meaning: &'static str,
    /// Checks that rest on this basis (candidate explanations are counted apart).
    pub total: usize,
    /// How many of them are `reproduced`.
    pub reproduced: usize,
    /// How many are declared discrepancies that still hold.
    pub discrepancy: usize,
    /// How many `failed`.
    pub failed: usize,
}

impl BasisTally {
    /// "figure features: 52 of 61 reproduced, 9 declared discrepancies".
    pub fn sentence(&self) -> String {
        let mut s = format!(
            "{}: {} of {} reproduced",
            self.name, self.reproduced, self.total
        );
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        if self.discrepancy > 0 {
            s += &format!(
                ", {}",
                plural(
                    self.discrepancy,
                    "declared discrepancy",
                    "declared discrepancies"
                )
            );
        }
        if self.failed > 0 {
            s += &format!(", {} failed", self.failed);
        }
        s
    }
}

/// Candidate explanations tried: how many, and how many reproduce the paper's value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CandidateTally {
    /// Checks that try a candidate explanation (`candidate:`).
    pub tried: usize,
    /// How many of them reproduce the paper's value.
    pub matching: usize,
    /// How many failed.
    pub failed: usize,
}

impl CandidateTally {
    pub fn of<'a>(outcomes: impl IntoIterator<Item = &'a CheckOutcome>) -> CandidateTally {
        let c: Vec<&CheckOutcome> = outcomes
            .into_iter()
            .filter(|o| o.candidate.is_some())
            .collect();
        CandidateTally {
            tried: c.len(),
            matching: c.iter().filter(|o| o.status == Status::Reproduced).count(),
            failed: c.iter().filter(|o| o.status == Status::Failed).count(),
        }
    }

    /// "candidate explanations of disagreements: 35 tried, 22 reproduce the paper's value".
    pub fn sentence(&self) -> String {
        let mut s = format!(
            "candidate explanations of disagreements (variant computations, not part of the verdict): {} tried, {} reproduce the paper's value",
            self.tried, self.matching
        );
        if self.failed > 0 {
            s += &format!(", {} failed", self.failed);
        }
        s
    }
}

/// The verdict grouped by basis, in the order of [`Basis::ALL`]; bases without checks
/// are left out, and so are candidate explanations (see [`CandidateTally`]).
pub fn tally_by_basis<'a>(outcomes: impl IntoIterator<Item = &'a CheckOutcome>) -> Vec<BasisTally> {
    let outcomes: Vec<&CheckOutcome> = outcomes
        .into_iter()
        .filter(|o| o.candidate.is_none())
        .collect();
    Basis::ALL
        .iter()
        .map(|&b| {
            let mine: Vec<&&CheckOutcome> = outcomes.iter().filter(|o| o.basis == b).collect();
            let n = |s: Status| mine.iter().filter(|o| o.status == s).count();
            BasisTally {
                basis: b,
                name: b.plural(),
                meaning: b.meaning(),
                total: mine.len(),
                reproduced: n(Status::Reproduced),
                discrepancy: n(Status::Discrepancy),
                failed: n(Status::Failed),
            }
        })
        .filter(|t| t.total > 0)
        .collect()
}

/// What the checks say about one panel of the paper's figures ("6(c)"), for the line
/// under our figure's caption.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PanelVerdict {
    /// `reproduced` (every check passed and at least one compares a feature read off
    /// the panel), `discrepancy`, `failed`, or `unchecked` (nothing read off it).
    pub status: &'static str,
    /// The sentence shown under the figure's caption.
    pub text: String,
    /// The checks that did not reproduce, for links.
    pub exceptions: Vec<(String, Status)>,
}

/// Does `paper_ref` ("Figure 6(c)") name `panel` ("6(c)")? A panel without a letter
/// ("7") takes every panel of that figure.
pub fn refers_to_panel(paper_ref: &str, panel: &str) -> bool {
    let Some(r) = paper_ref.trim().strip_prefix("Figure ") else {
        return false;
    };
    r == panel
        || (!panel.contains('(')
            && r.strip_prefix(panel)
                .is_some_and(|rest| rest.starts_with('(')))
}

pub fn panel_verdict<'a>(
    outcomes: impl IntoIterator<Item = &'a CheckOutcome>,
    panel: &str,
) -> PanelVerdict {
    let all: Vec<&CheckOutcome> = outcomes
        .into_iter()
        .filter(|o| refers_to_panel(&o.paper_ref, panel))
        .collect();
    let candidates = CandidateTally::of(all.iter().copied());
    // Links under the figure: every direct check that did not reproduce, and any
    // candidate check that failed outright.
    let exceptions: Vec<(String, Status)> = all
        .iter()
        .filter(|o| match o.candidate {
            None => o.status != Status::Reproduced,
            Some(_) => o.status == Status::Failed,
        })
        .map(|o| (o.id.clone(), o.status))
        .collect();
    let mine: Vec<&CheckOutcome> = all.into_iter().filter(|o| o.candidate.is_none()).collect();
    let read_off = mine
        .iter()
        .filter(|o| o.basis == Basis::PaperFigure)
        .count();
    let n = |s: Status| mine.iter().filter(|o| o.status == s).count();
    let (rep, dis, fail) = (
        n(Status::Reproduced),
        n(Status::Discrepancy),
        n(Status::Failed),
    );
    let status = if fail > 0 || candidates.failed > 0 {
        "failed"
    } else if dis > 0 {
        "discrepancy"
    } else if read_off == 0 {
        "unchecked"
    } else {
        "reproduced"
    };
    let text = if mine.is_empty() {
        format!("Nothing on the paper's Figure {panel} is checked: this figure is drawn for comparison, not verified.")
    } else {
        let mut t = format!(
            "Compared with the paper's Figure {panel}: {rep} of {} checks reproduced ({read_off} on features read off the paper's panel)",
            mine.len()
        );
        if dis > 0 {
            t += &format!(
                ", {dis} declared discrepanc{}",
                if dis == 1 { "y" } else { "ies" }
            );
        }
        if fail > 0 {
            t += &format!(", {fail} failed");
        }
        if read_off == 0 {
            t += "; nothing read off the panel itself is compared";
        }
        if candidates.tried > 0 {
            t += &format!(
                "; {} candidate explanation check{} tried, {} reproduce{} the paper",
                candidates.tried,
                if candidates.tried == 1 { "" } else { "s" },
                candidates.matching,
                if candidates.matching == 1 { "s" } else { "" }
            );
        }
        t + "."
    };
    PanelVerdict {
        status,
        text,
        exceptions,
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

/// Reduce the selected values `v` (of table rows `rows`) to one: the index into `v` of
/// the row that stands for the result, and the value.
fn reduce(r: &Reduce, table: &Table, rows: &[usize], v: &[f64]) -> Result<(usize, f64), String> {
    let largest = |w: &[f64]| {
        (0..w.len())
            .filter(|&i| !w[i].is_nan())
            .max_by(|&a, &b| w[a].total_cmp(&w[b]))
            .unwrap_or(0)
    };
    let negated = |w: &[f64]| w.iter().map(|x| -x).collect::<Vec<f64>>();
    let other = |c: &str| -> Result<Vec<f64>, String> {
        let col = table.numbers(c)?;
        Ok(rows.iter().map(|&i| col[i]).collect())
    };
    Ok(match r {
        Reduce::First => (0, v[0]),
        Reduce::Last => (v.len() - 1, v[v.len() - 1]),
        Reduce::Mean => (0, v.iter().sum::<f64>() / v.len() as f64),
        Reduce::Max => {
            let i = largest(v);
            (i, v[i])
        }
        Reduce::Min => {
            let i = largest(&negated(v));
            (i, v[i])
        }
        Reduce::ArgMax(c) => {
            let i = largest(&other(c)?);
            (i, v[i])
        }
        Reduce::ArgMin(c) => {
            let i = largest(&negated(&other(c)?));
            (i, v[i])
        }
        Reduce::Crossing { of, level, last } => {
            let g: Vec<f64> = other(of)?.iter().map(|x| x - level).collect();
            crossing(&g, v, *last).ok_or_else(|| {
                format!(
                    "column `{of}` does not cross {} in the selected rows (from {} to {})",
                    format_number(*level, None),
                    format_number(g[0] + level, None),
                    format_number(g[g.len() - 1] + level, None)
                )
            })?
        }
    })
}

/// Where `g` (in row order) first (or last) reaches 0: the index of the row before the
/// crossing and `x` interpolated linearly between that row and the next.
fn crossing(g: &[f64], x: &[f64], last: bool) -> Option<(usize, f64)> {
    let at = |i: usize| -> Option<(usize, f64)> {
        let (a, b) = (g[i], *g.get(i + 1)?);
        if a.is_nan() || b.is_nan() {
            return None;
        }
        if a == 0.0 {
            return Some((i, x[i]));
        }
        if (a < 0.0) != (b < 0.0) || b == 0.0 {
            return Some((i, x[i] + (x[i + 1] - x[i]) * a / (a - b)));
        }
        None
    };
    let n = g.len();
    if n == 1 {
        return (g[0] == 0.0).then_some((0, x[0]));
    }
    if last {
        (0..n - 1).rev().find_map(at)
    } else {
        (0..n - 1).find_map(at)
    }
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
        basis: spec.basis,
        paper_ref: spec.paper_ref.clone(),
        candidate: spec.candidate.clone(),
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
        Tolerance::Printed | Tolerance::ReadOff => {
            let entry = match &spec.expected {
                Expected::Paper(key) => paper.get(key),
                _ => None,
            };
            match entry.map(|e| &e.provenance) {
                Some(paper::Provenance::Printed { digits }) => {
                    format!("half a unit in the printed {digits}th decimal")
                }
                Some(paper::Provenance::ReadOff { uncertainty, .. }) => {
                    format!("reading uncertainty {}", format_number(*uncertainty, None))
                }
                None => "the paper's precision".into(),
            }
        }
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
                .ok_or_else(|| format!("the paper values have no entry `{key}`"))?;
            // The project validator already refuses this; a spec built by hand may not
            // have been through it. (The spec validator ties `read_off` to
            // `paper_figure`, so the basis decides the tolerance too.)
            if (spec.basis == Basis::PaperFigure) != e.is_read_off() {
                return Err(format!(
                    "`{key}` is {} ({}), which does not fit `basis: {}`",
                    if e.is_read_off() {
                        "read off a figure"
                    } else {
                        "a printed number"
                    },
                    e.file.display(),
                    spec.basis.name()
                ));
            }
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
    if let Some(r) = &spec.computed.reduce {
        let (idx, value) = reduce(r, table, &rows, &computed)?;
        let (_, e) = if let Expected::Column(sel) = &spec.expected {
            match &sel.reduce {
                Some(er) => {
                    let (erows, _) = select(results, sel)?;
                    reduce(er, results.table(&sel.table)?, &erows, &expected)?
                }
                None => (idx, expected[idx.min(expected.len() - 1)]),
            }
        } else if *r == Reduce::Mean {
            reduce(&Reduce::Mean, table, &rows, &expected)?
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
        Tolerance::Printed | Tolerance::ReadOff => {
            let Expected::Paper(key) = &spec.expected else {
                return Err("`tolerance: printed` and `read_off` need a paper value".into());
            };
            let p = paper.get(key).map(|e| e.precision()).unwrap_or(0.0);
            vec![p; computed.len()]
        }
    };
    // Per row: the excess over the tolerance (≤ 0 agrees; NaN never agrees). The row
    // shown is the worst: a failing row by its excess, else the agreeing row that uses
    // the largest share of its tolerance (rows of a check can differ in scale, and a
    // row that matches exactly under a zero tolerance uses none of it); ties, such as
    // the margins of an inequality with no tolerance, go to the smallest margin.
    let mut worst = 0;
    let mut worst_key = (false, f64::NEG_INFINITY, f64::NEG_INFINITY);
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
        let key = if !agree {
            let excess = if excess.is_nan() {
                f64::INFINITY
            } else {
                excess
            };
            (true, excess, excess)
        } else {
            (false, share_of_tolerance(excess + t, t), excess)
        };
        if !agree {
            all_agree = false;
        }
        max_diff = if diff.is_nan() {
            f64::NAN
        } else {
            max_diff.max(diff)
        };
        if key.partial_cmp(&worst_key) == Some(std::cmp::Ordering::Greater) {
            worst_key = key;
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

/// How much of tolerance `t` an agreeing deviation `dev` (toward failing) uses: dev/t,
/// with an exact match under a zero tolerance using none and a deviation away from
/// failing under a zero tolerance using less than any other.
fn share_of_tolerance(dev: f64, t: f64) -> f64 {
    if t > 0.0 {
        dev / t
    } else if dev == 0.0 {
        0.0
    } else {
        f64::NEG_INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_shown_uses_the_largest_share_of_its_tolerance() {
        // Row 0 matches exactly under a zero tolerance (a share of 0); row 1 is 0.5 off
        // under a tolerance of 1, row 2 is 0.9 off under 10: row 1 is nearest to failing.
        assert_eq!(share_of_tolerance(0.0, 0.0), 0.0);
        assert_eq!(share_of_tolerance(0.5, 1.0), 0.5);
        assert!(share_of_tolerance(0.9, 10.0) < share_of_tolerance(0.5, 1.0));
        assert_eq!(share_of_tolerance(-1.0, 0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn crossings_interpolate_and_respect_direction() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0];
        let g = [1.0, 0.5, -0.5, -1.0, 1.0];
        assert_eq!(crossing(&g, &x, false), Some((1, 1.5)));
        assert_eq!(crossing(&g, &x, true), Some((3, 3.5)));
        assert_eq!(crossing(&[1.0, 2.0, 0.0], &x[..3], false), Some((1, 2.0)));
        assert_eq!(crossing(&[1.0, 2.0, 3.0], &x[..3], false), None);
        assert_eq!(
            crossing(&[f64::NAN, 2.0, -2.0], &x[..3], false),
            Some((1, 1.5))
        );
    }

    #[test]
    fn argmax_and_crossing_read_features_off_a_table() {
        let t = TableBuilder::new()
            .number("t", vec![0.1, 0.2, 0.3, 0.4])
            .number("m", vec![0.1, 0.4, 0.2, -0.2])
            .build("flow")
            .unwrap();
        let rows = [0, 1, 2, 3];
        let ts = t.numbers("t").unwrap();
        let (i, v) = reduce(&Reduce::ArgMax("m".into()), &t, &rows, &ts).unwrap();
        assert_eq!((i, v), (1, 0.2));
        let (_, v) = reduce(&Reduce::ArgMin("m".into()), &t, &rows, &ts).unwrap();
        assert_eq!(v, 0.4);
        let c = Reduce::Crossing {
            of: "m".into(),
            level: 0.0,
            last: false,
        };
        let (_, v) = reduce(&c, &t, &rows, &ts).unwrap();
        assert!((v - 0.35).abs() < 1e-12, "{v}");
        let never = Reduce::Crossing {
            of: "m".into(),
            level: 5.0,
            last: false,
        };
        assert!(reduce(&never, &t, &rows, &ts)
            .unwrap_err()
            .contains("does not cross"));
        assert!(reduce(&Reduce::ArgMax("nope".into()), &t, &rows, &ts).is_err());
    }

    #[test]
    fn tallies_and_panel_verdicts() {
        let mk = |id: &str, basis: Basis, r: &str, status: Status| {
            let mut o = evaluate(
                &spec(
                    Expected::Value {
                        value: 0.1312,
                        source: "x".into(),
                    },
                    Tolerance::Abs(0.0),
                    None,
                ),
                "ch",
                &results(),
                &PaperValues::default(),
            );
            o.id = id.into();
            o.basis = basis;
            o.paper_ref = r.into();
            o.status = status;
            o
        };
        let os = [
            mk("a", Basis::PaperFigure, "Figure 6(c)", Status::Reproduced),
            mk("b", Basis::PaperFigure, "Figure 6(c)", Status::Discrepancy),
            mk("c", Basis::Theorem, "Figure 6(d)", Status::Reproduced),
            mk("d", Basis::PaperValue, "Figure 1", Status::Reproduced),
        ];
        let t = tally_by_basis(&os);
        assert_eq!(t.len(), 3);
        assert_eq!(
            t[1].sentence(),
            "figure features: 1 of 2 reproduced, 1 declared discrepancy"
        );
        let v = panel_verdict(&os, "6(c)");
        assert_eq!(v.status, "discrepancy");
        assert_eq!(v.exceptions, vec![("b".to_string(), Status::Discrepancy)]);
        assert_eq!(panel_verdict(&os, "6(d)").status, "unchecked");
        assert_eq!(panel_verdict(&os, "6").status, "discrepancy");
        assert_eq!(panel_verdict(&os, "5(a)").status, "unchecked");
        assert!(refers_to_panel("Figure 10(c)", "10"));
        assert!(!refers_to_panel("Figure 10(c)", "1"));
    }
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
            basis: match expected {
                Expected::Paper(_) => Basis::PaperValue,
                Expected::Column(_) => Basis::Consistency,
                _ => Basis::ClosedForm,
            },
            paper_ref: "Figure 1".into(),
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
            candidate: None,
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
