//! Part of the report model (`crate::report`): prose with its `{{ expression }}`s filled
//! from the results, references resolved to numbered links. It hands on Markdown with
//! `$…$` math, the same for every backend (the HTML and the Typst converters read it).
//!
//! Expressions are Tera expressions with these functions and filters (the prose
//! author's API):
//!
//! - `value(table="T", column="C", where="r=1.5, delta=0", reduce="max")`: a number
//!   from a computed table (`where` and `reduce` optional; without `reduce` the
//!   selection must be exactly one row); `at_max="C"` / `at_min="C"` instead of
//!   `reduce` give `column` in the selected row where column C is largest / smallest
//!   (e.g. the SNR r at which m* peaks);
//! - `ref(id="fig-…")`: a link "Figure 3" / "Table 2" / "Check 4" to a numbered item;
//! - `check(id="…", field="computed")`: a field of a check's outcome (`status`,
//!   `computed`, `expected`, `difference`, `tolerance`);
//! - `rows(table="T")`: the number of rows of a table;
//! - filter `fixed(digits=2)`: a number with exactly that many decimals;
//! - for a findings chapter: `count(status=…)`, `findings(status=…)`, `by_basis()`
//!   and `scoreboard()` summarise every check of the report (see [`ProseEnv::enable_findings`]).
//!
//! Only expressions are supported (no `{% %}` statements), each rendered on its own,
//! so an error points at the exact expression. Raw HTML in prose is shown as text,
//! never passed through: chapters are untrusted input.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tera::{Context, Tera, Value};

use crate::chapter::{Chapter, Prose};
use crate::check::CheckOutcome;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::table::{format_number, Cell, Results};

/// What a cross-reference leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    Chapter,
    Figure,
    /// A panel of a multi-panel figure: its number is the figure's.
    Panel(char),
    Table,
    Check,
    /// Experiments are not numbered; a reference names them.
    Experiment,
}

/// A referable item of the report: the cross-reference table maps ids to these.
#[derive(Clone, Debug, PartialEq)]
pub struct RefTarget {
    pub kind: RefKind,
    /// The item's number in report order (none for experiments).
    pub number: Option<usize>,
    /// "Figure 3", "Figure 3(b)", "Table 1", "Check 12", "Chapter 2", "experiment x".
    pub label: String,
    pub anchor: String,
}

pub struct ProseEnv {
    tera: Tera,
}

/// What a findings chapter needs to know of every chapter.
#[derive(Clone, Debug)]
pub struct ChapterInfo {
    pub id: String,
    pub title: String,
    pub anchor: String,
    pub paper_refs: Vec<String>,
}

fn arg_str<'a>(args: &'a HashMap<String, Value>, name: &str, f: &str) -> tera::Result<&'a str> {
    args.get(name)
        .and_then(|v| v.as_str())
        .ok_or_else(|| tera::Error::msg(format!("{f}() needs a text argument `{name}=\"…\"`")))
}

/// Parse `"r=1.5, delta=0"` into conditions (numbers may be expressions).
fn parse_where(s: &str) -> tera::Result<Vec<(String, Cell)>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').ok_or_else(|| {
                tera::Error::msg(format!(
                    "`where` part `{p}` is not of the form column=value"
                ))
            })?;
            let v = v.trim();
            let cell = match crate::spec::expr::eval(v) {
                Ok(x) => Cell::Number(x),
                Err(_) => Cell::Text(v.to_string()),
            };
            Ok((k.trim().to_string(), cell))
        })
        .collect()
}

fn value_fn(results: &Results, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let table = arg_str(args, "table", "value")?;
    let column = arg_str(args, "column", "value")?;
    let t = results.table(table).map_err(tera::Error::msg)?;
    let filter = match args.get("where").and_then(|v| v.as_str()) {
        Some(w) => parse_where(w)?,
        None => Vec::new(),
    };
    let rows = t.select(&filter).map_err(tera::Error::msg)?;
    let col = t.numbers(column).map_err(tera::Error::msg)?;
    let vals: Vec<f64> = rows.iter().map(|&i| col[i]).collect();
    if vals.is_empty() {
        return Err(tera::Error::msg(format!(
            "no row of `{table}` matches where=\"{}\"",
            args.get("where").and_then(|v| v.as_str()).unwrap_or("")
        )));
    }
    for (arg, sign) in [("at_max", 1.0), ("at_min", -1.0)] {
        if let Some(by) = args.get(arg).and_then(|v| v.as_str()) {
            let key = t.numbers(by).map_err(tera::Error::msg)?;
            // The first row where `by` is extreme (ties keep report order).
            let mut best: Option<usize> = None;
            for &i in rows.iter().filter(|&&i| !key[i].is_nan()) {
                if best.is_none_or(|b| sign * key[i] > sign * key[b]) {
                    best = Some(i);
                }
            }
            let i = best.ok_or_else(|| {
                tera::Error::msg(format!(
                    "{arg}: column `{by}` has no number in the selected rows"
                ))
            })?;
            return Ok(number_value(col[i]));
        }
    }
    let v = match args.get("reduce").and_then(|v| v.as_str()) {
        None if vals.len() == 1 => vals[0],
        None => {
            return Err(tera::Error::msg(format!(
                "value() selects {} rows of `{table}`; narrow it with where=\"…\" or add reduce=\"max\"",
                vals.len()
            )))
        }
        Some("max") => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Some("min") => vals.iter().copied().fold(f64::INFINITY, f64::min),
        Some("mean") => vals.iter().sum::<f64>() / vals.len() as f64,
        Some("first") => vals[0],
        Some("last") => vals[vals.len() - 1],
        Some(other) => {
            return Err(tera::Error::msg(format!(
                "unknown reduce=\"{other}\"; use max, min, mean, first or last"
            )))
        }
    };
    Ok(number_value(v))
}

/// Tera values are JSON: infinities and NaN become strings so they still print.
fn number_value(v: f64) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(format_number(v, None)))
}

impl ProseEnv {
    pub fn new(
        results: Arc<Results>,
        refs: Arc<BTreeMap<String, RefTarget>>,
        checks: Arc<BTreeMap<String, CheckOutcome>>,
    ) -> ProseEnv {
        let mut tera = Tera::default();
        tera.autoescape_on(vec![]);
        let r = results.clone();
        tera.register_function("value", move |args: &HashMap<String, Value>| {
            value_fn(&r, args)
        });
        let r = results;
        tera.register_function("rows", move |args: &HashMap<String, Value>| {
            let table = arg_str(args, "table", "rows")?;
            let t = r.table(table).map_err(tera::Error::msg)?;
            Ok(Value::from(t.height()))
        });
        let refs2 = refs.clone();
        tera.register_function("ref", move |args: &HashMap<String, Value>| {
            let id = arg_str(args, "id", "ref")?;
            let target = refs2.get(id).ok_or_else(|| {
                let names: Vec<&str> = refs2.keys().map(|k| k.as_str()).collect();
                tera::Error::msg(format!(
                    "ref(): no figure, table, check or chapter has id `{id}`; {}",
                    crate::diagnostic::suggest(id, &names)
                ))
            })?;
            Ok(Value::String(format!(
                "[{}](#{})",
                target.label, target.anchor
            )))
        });
        tera.register_function("check", move |args: &HashMap<String, Value>| {
            let id = arg_str(args, "id", "check")?;
            let field = args.get("field").and_then(|v| v.as_str()).unwrap_or("status");
            let c = checks
                .get(id)
                .ok_or_else(|| tera::Error::msg(format!("check(): no check has id `{id}`")))?;
            let num = |v: Option<f64>| v.map(number_value).unwrap_or(Value::Null);
            Ok(match field {
                "status" => Value::String(c.status.word().into()),
                "computed" => num(c.computed),
                "expected" => num(c.expected),
                "difference" => num(c.difference),
                "tolerance" => num(c.tolerance),
                other => {
                    return Err(tera::Error::msg(format!(
                        "check(): unknown field `{other}`; use status, computed, expected, difference or tolerance"
                    )))
                }
            })
        });
        tera.register_filter(
            "fixed",
            |v: &Value, args: &HashMap<String, Value>| -> tera::Result<Value> {
                let digits = args.get("digits").and_then(|d| d.as_u64()).unwrap_or(2) as usize;
                let x = v
                    .as_f64()
                    .ok_or_else(|| tera::Error::msg(format!("fixed: `{v}` is not a number")))?;
                Ok(Value::String(format_number(x, Some(digits.min(15)))))
            },
        );
        let _ = refs;
        ProseEnv { tera }
    }

    /// Register the functions of a findings chapter, which summarise every check of the
    /// report: `count(status=…)`, `findings(status=…)` (a Markdown list of the checks
    /// with that status, with their numbers and explanations) and `scoreboard()` (a
    /// Markdown table per chapter). Statuses: reproduced, discrepancy, failed, all.
    pub fn enable_findings(
        &mut self,
        outcomes: Arc<BTreeMap<String, CheckOutcome>>,
        refs: Arc<BTreeMap<String, RefTarget>>,
        chapters: Arc<Vec<ChapterInfo>>,
    ) {
        fn status_arg(args: &HashMap<String, Value>) -> tera::Result<String> {
            let s = args.get("status").and_then(|v| v.as_str()).unwrap_or("all");
            if ["reproduced", "discrepancy", "failed", "all"].contains(&s) {
                Ok(s.to_string())
            } else {
                Err(tera::Error::msg(format!(
                    "unknown status `{s}`; use reproduced, discrepancy, failed or all"
                )))
            }
        }
        // Checks in report order (their numbers), with their number.
        let ordered = move |outcomes: &BTreeMap<String, CheckOutcome>,
                            refs: &BTreeMap<String, RefTarget>| {
            let mut v: Vec<(usize, CheckOutcome)> = outcomes
                .values()
                .map(|o| {
                    let n = refs.get(&o.id).and_then(|r| r.number).unwrap_or(usize::MAX);
                    (n, o.clone())
                })
                .collect();
            v.sort_by_key(|(n, _)| *n);
            v
        };
        let o = outcomes.clone();
        self.tera
            .register_function("count", move |args: &HashMap<String, Value>| {
                let st = status_arg(args)?;
                Ok(Value::from(
                    o.values()
                        .filter(|c| st == "all" || c.status.word() == st)
                        .count(),
                ))
            });
        let (o, r, ch) = (outcomes.clone(), refs.clone(), chapters.clone());
        self.tera.register_function("findings", move |args: &HashMap<String, Value>| {
            let st = status_arg(args)?;
            let title = |id: &str| {
                ch.iter()
                    .find(|c| c.id == id)
                    .map(|c| format!("[{}](#{})", c.title, c.anchor))
                    .unwrap_or_else(|| id.to_string())
            };
            let num = |v: Option<f64>| v.map(|v| format_number(v, None)).unwrap_or("—".into());
            let mut md = String::new();
            for (n, c) in ordered(&o, &r) {
                if st != "all" && c.status.word() != st {
                    continue;
                }
                md.push_str(&format!(
                    "- [Check {n}](#check-{}) ({}, {}; {}, {}): {} — expected {} ({}), computed {}, difference {} against a tolerance of {}.",
                    c.id,
                    title(&c.chapter),
                    c.paper_ref,
                    c.basis.plural().trim_end_matches('s'),
                    c.status.word(),
                    c.claim.trim(),
                    num(c.expected),
                    c.source,
                    num(c.computed),
                    num(c.difference),
                    num(c.tolerance)
                ));
                if let Some(d) = &c.discrepancy {
                    md.push_str(&format!(" *Explanation:* {}", d.trim()));
                }
                if let Some(m) = &c.message {
                    md.push_str(&format!(" *Note:* {}", m.trim()));
                }
                md.push('\n');
            }
            if md.is_empty() {
                md = format!("*(no check has status {st})*");
            }
            Ok(Value::String(format!("\n{md}\n")))
        });
        let o = outcomes.clone();
        self.tera
            .register_function("by_basis", move |_: &HashMap<String, Value>| {
                let mut md = String::from(
                    "\n| What the checks rest on | Checks | Reproduced | Discrepancies | Failed |\n|---|---:|---:|---:|---:|\n",
                );
                for t in crate::check::tally_by_basis(o.values()) {
                    md.push_str(&format!(
                        "| **{}**: {} | {} | {} | {} | {} |\n",
                        t.name, t.meaning, t.total, t.reproduced, t.discrepancy, t.failed
                    ));
                }
                let cand = crate::check::CandidateTally::of(o.values());
                if cand.tried > 0 {
                    md.push_str(&format!(
                        "\nBesides these, {} checks try candidate explanations of disagreements (a variant computation against the paper's value); {} of them reproduce the paper's value.\n",
                        cand.tried, cand.matching
                    ));
                }
                Ok(Value::String(md + "\n"))
            });
        let (o, ch) = (outcomes, chapters);
        self.tera.register_function("scoreboard", move |_: &HashMap<String, Value>| {
            let mut md = String::from(
                "\n| Chapter | In the paper | Reproduced | Discrepancies | Failed |\n|---|---|---:|---:|---:|\n",
            );
            for c in ch.iter() {
                let mine: Vec<&CheckOutcome> = o.values().filter(|x| x.chapter == c.id).collect();
                if mine.is_empty() {
                    continue;
                }
                let n = |w: &str| mine.iter().filter(|x| x.status.word() == w).count();
                md.push_str(&format!(
                    "| [{}](#{}) | {} | {} | {} | {} |\n",
                    c.title,
                    c.anchor,
                    c.paper_refs.join(", "),
                    n("reproduced"),
                    n("discrepancy"),
                    n("failed")
                ));
            }
            Ok(Value::String(md + "\n"))
        });
    }

    /// Replace every `{{ … }}` in `prose` by its value; errors point at the expression.
    pub fn expand(&mut self, chapter: &Chapter, prose: &Prose) -> Result<String, Diagnostics> {
        let text = &prose.text;
        let mut out = String::with_capacity(text.len());
        let mut diags = Diagnostics::default();
        let mut rest = 0;
        while let Some(i) = text[rest..].find("{{") {
            let start = rest + i;
            out.push_str(&text[rest..start]);
            let (line, col) = position(text, start, prose.line);
            let Some(j) = text[start..].find("}}") else {
                diags.push(
                    Diagnostic::new(&chapter.path, "`{{` is never closed by `}}`")
                        .at(&chapter.source, line, col)
                        .hint("close the expression with `}}`, or write `{{ \"{{\" }}` for literal braces"),
                );
                return Err(diags);
            };
            let end = start + j + 2;
            let expr = &text[start..end];
            match self.tera.render_str(expr, &Context::new()) {
                Ok(v) => out.push_str(&v),
                Err(e) => diags.push(
                    Diagnostic::new(
                        &chapter.path,
                        format!("expression `{}` failed: {}", expr.trim(), error_chain(&e)),
                    )
                    .at(&chapter.source, line, col),
                ),
            }
            rest = end;
        }
        out.push_str(&text[rest..]);
        diags.finish(out)
    }
}

/// The innermost useful messages of a Tera error (its top level only says "failed to render").
fn error_chain(e: &tera::Error) -> String {
    let mut msgs = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let m = err.to_string();
        if !m.starts_with("Failed to render") && !m.is_empty() {
            msgs.push(m);
        }
        cur = err.source();
    }
    if msgs.is_empty() {
        e.to_string()
    } else {
        msgs.join(": ")
    }
}

/// 1-based (line, column) in the file of byte `offset` of a prose segment.
pub fn position(text: &str, offset: usize, first_line: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = first_line + before.matches('\n').count();
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::TableBuilder;

    fn chapter() -> Chapter {
        Chapter::parse("c.md", "---\nid: c\ntitle: C\n---\nx\n".to_string()).unwrap()
    }

    fn env() -> ProseEnv {
        let mut r = Results::default();
        r.tables.insert(
            "tail".into(),
            TableBuilder::new()
                .number("r", vec![0.5, 1.5])
                .number("h", vec![0.0, 0.13456])
                .build("tail")
                .unwrap(),
        );
        let mut refs = BTreeMap::new();
        refs.insert(
            "fig-a".to_string(),
            RefTarget {
                kind: RefKind::Figure,
                number: Some(2),
                label: "Figure 2".into(),
                anchor: "fig-a".into(),
            },
        );
        ProseEnv::new(Arc::new(r), Arc::new(refs), Arc::new(BTreeMap::new()))
    }

    /// `text`, as prose starting at `line` of a chapter, expanded in `e`.
    fn expand(e: &mut ProseEnv, text: &str, line: usize) -> Result<String, Diagnostics> {
        let prose = Prose {
            text: text.into(),
            line,
        };
        e.expand(&chapter(), &prose)
    }

    #[test]
    fn expands_values_and_refs() {
        let mut e = env();
        let text = "h is {{ value(table=\"tail\", column=\"h\", where=\"r=1.5\") | fixed(digits=2) }}; see {{ ref(id=\"fig-a\") }}.";
        let s = expand(&mut e, text, 5).unwrap();
        assert_eq!(s, "h is 0.13; see [Figure 2](#fig-a).");
        let text = "peak at r = {{ value(table=\"tail\", column=\"r\", at_max=\"h\") }}, low at {{ value(table=\"tail\", column=\"r\", at_min=\"h\") }}";
        assert_eq!(
            expand(&mut e, text, 1).unwrap(),
            "peak at r = 1.5, low at 0.5"
        );
    }

    #[test]
    fn expression_errors_point_at_the_expression() {
        let mut e = env();
        let text = "ok\n  {{ value(table=\"tial\", column=\"h\") }}";
        let d = expand(&mut e, text, 10).unwrap_err();
        assert_eq!(d.0[0].line, 11);
        assert_eq!(d.0[0].column, 3);
        assert!(
            d.0[0].message.contains("no table named `tial`"),
            "{}",
            d.0[0]
        );
        let text = "{{ value(table=\"tail\", column=\"h\") }}";
        let d = expand(&mut e, text, 1).unwrap_err();
        assert!(d.0[0].message.contains("selects 2 rows"), "{}", d.0[0]);
    }
}
