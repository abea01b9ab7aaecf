//! Stage 7, *render* (HTML): Tera templates and the view structs that feed them, the
//! template author's API. A view is a part of the report model (`crate::report`),
//! flattened, with its Markdown rendered to HTML beside it.
//!
//! Templates live in the project's `templates/` folder; any of the built-in ones
//! (compiled into the binary from this repository's `templates/`) that a project does
//! not override is used as is. Each template gets one variable:
//!
//! | template          | variable     | type                |
//! |-------------------|--------------|---------------------|
//! | `layout.html`     | (top level)  | [`ReportView`]      |
//! | `chapter.html`    | `chapter`    | [`ChapterView`]     |
//! | `figure.html`     | `figure`     | [`FigureView`]      |
//! | `table.html`      | `table`      | [`TableView`]       |
//! | `check.html`      | `check`      | [`CheckView`]       |
//! | `experiment.html` | `experiment` | [`ExperimentView`]  |
//! | `exercise.html`   | `exercise`   | [`ExerciseView`]    |
//!
//! Fields holding HTML end in `html`, `body`, `svg` or `caption` and must be printed
//! with `| safe`; everything else is plain text, escaped by Tera. Templates cannot
//! read files or the environment (`get_env` is disabled).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;
use tera::{Context, Tera, Value};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::report::{self, Report};

const BUILTIN: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("chapter.html", include_str!("../../templates/chapter.html")),
    ("figure.html", include_str!("../../templates/figure.html")),
    ("table.html", include_str!("../../templates/table.html")),
    ("check.html", include_str!("../../templates/check.html")),
    (
        "experiment.html",
        include_str!("../../templates/experiment.html"),
    ),
    (
        "exercise.html",
        include_str!("../../templates/exercise.html"),
    ),
    ("style.css", include_str!("../../templates/style.css")),
];

/// The whole report (`layout.html`): the model's title, edition (`report`, or
/// `student` / `teacher` for the handouts; the student's has no checks and no
/// scorecard), version, paper, fidelity (`paper` or `quick`) and provenance (the
/// appendix: software, machine, date, experiments), with these beside them.
#[derive(Serialize)]
pub struct ReportView<'a> {
    #[serde(flatten)]
    pub report: &'a Report<'a>,
    pub checks: ScorecardView<'a>,
    pub chapters: Vec<ChapterView<'a>>,
}

/// The scorecard: total, reproduced, discrepancy, failed, bases, candidates and
/// chapters (one line per chapter with checks) of the model, and every check shown.
#[derive(Serialize)]
pub struct ScorecardView<'a> {
    #[serde(flatten)]
    pub scorecard: &'a report::Scorecard,
    pub rows: Vec<CheckView<'a>>,
}

/// A chapter: number, id, anchor, title and paper_refs of the model, and what is
/// rendered of it.
#[derive(Serialize)]
pub struct ChapterView<'a> {
    #[serde(flatten)]
    pub chapter: &'a report::Chapter<'a>,
    /// The chapter's rendered content (prose, figures, tables, checks).
    pub body: String,
    /// The chapter rendered through `chapter.html` (used by `layout.html`).
    pub html: String,
}

/// A figure: number, id, anchor, svg_file, png_file and width (CSS pixels) of the
/// model, with the drawing inline and one panel per figure block.
#[derive(Serialize)]
pub struct FigureView<'a> {
    #[serde(flatten)]
    pub figure: &'a report::Figure,
    pub svg: String,
    pub panels: Vec<PanelView<'a>>,
}

/// A part of the model with its Markdown rendered to HTML: the part's fields, and one
/// HTML field named as its template expects.
#[derive(Serialize)]
pub struct Rendered<'a, T> {
    #[serde(flatten)]
    pub part: &'a T,
    #[serde(flatten)]
    html: BTreeMap<&'static str, String>,
}

impl<'a, T> Rendered<'a, T> {
    pub fn new(part: &'a T, field: &'static str, html: String) -> Self {
        Rendered {
            part,
            html: BTreeMap::from([(field, html)]),
        }
    }
}

/// One figure block (a figure, or a panel of a multi-panel figure): id, letter,
/// anchor, table, csv, parquet, spec_location, spec, experiment_anchor, paper_panel
/// and verdict (status, text, exceptions) of the model, and the `caption`.
pub type PanelView<'a> = Rendered<'a, report::Panel>;

/// A table: number, id, anchor, header, rows, total_rows, truncated, csv and parquet
/// of the model, and the `caption`.
pub type TableView<'a> = Rendered<'a, report::Table>;

/// A check: every field of [`report::Check`] (number, anchor, chapter_number,
/// chapter_anchor, id, status, basis, paper_ref, paper_ref_anchor, candidate, source,
/// expected, computed, difference, tolerance, tolerance_rule, relation, compared, at,
/// discrepancy, message), and the claim as `claim_html`.
pub type CheckView<'a> = Rendered<'a, report::Check>;

/// An exercise or solution: role, number, anchor, edition and open of the model, and
/// the `body`.
pub type ExerciseView<'a> = Rendered<'a, report::Exercise>;

/// An experiment (the model's struct as it is).
pub type ExperimentView = report::Experiment;

pub struct Templates {
    tera: Tera,
}

impl Templates {
    /// The built-in templates, overridden by any of the same name in `dir`.
    pub fn load(dir: &Path) -> Result<Templates, Diagnostics> {
        let mut sources: Vec<(String, String)> = BUILTIN
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
        if dir.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(dir)
                .map_err(|e| Diagnostic::new(dir, format!("cannot read templates: {e}")))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("html" | "css")))
                .collect();
            names.sort();
            for p in names {
                let name = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("")
                    .to_string();
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| Diagnostic::new(&p, format!("cannot read template: {e}")))?;
                match sources.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = text,
                    None => sources.push((name, text)),
                }
            }
        }
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.register_function("get_env", |_: &HashMap<String, Value>| {
            Err(tera::Error::msg(
                "get_env is disabled in diffrepro templates",
            ))
        });
        tera.add_raw_templates(sources).map_err(|e| {
            Diagnostics::from(Diagnostic::new(
                dir,
                format!("template error: {}", chain(&e)),
            ))
        })?;
        Ok(Templates { tera })
    }

    /// Render `template` with `value` bound to `name` (or at the top level when `name` is empty).
    pub fn render<T: Serialize>(
        &self,
        template: &str,
        name: &str,
        value: &T,
    ) -> Result<String, String> {
        let ctx = if name.is_empty() {
            Context::from_serialize(value).map_err(|e| chain(&e))?
        } else {
            let mut c = Context::new();
            c.insert(name, value);
            c
        };
        self.tera
            .render(template, &ctx)
            .map_err(|e| format!("template `{template}`: {}", chain(&e)))
    }
}

fn chain(e: &tera::Error) -> String {
    let mut msgs = vec![e.to_string()];
    let mut cur = std::error::Error::source(e);
    while let Some(s) = cur {
        msgs.push(s.to_string());
        cur = s.source();
    }
    msgs.join(": ")
}
