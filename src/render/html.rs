//! Tera templates and the view structs that feed them: the template author's API.
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
//! | `exercise.html`   | `exercise`   | [`crate::handout::ExerciseView`] |
//!
//! Fields holding HTML end in `html`, `body`, `svg` or `caption` and must be printed
//! with `| safe`; everything else is plain text, escaped by Tera. Templates cannot
//! read files or the environment (`get_env` is disabled).

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use tera::{Context, Tera, Value};

use crate::check::CheckOutcome;
use crate::diagnostic::{Diagnostic, Diagnostics};

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

/// The whole report (`layout.html`).
#[derive(Serialize)]
pub struct ReportView {
    pub title: String,
    /// `report`, or `student` / `teacher` for the handouts (the student's has no
    /// checks and no scorecard).
    pub edition: String,
    pub version: String,
    /// `paper` or `quick` (stated on the first page).
    pub fidelity: String,
    /// The appendix: software, machine, date, experiments.
    pub provenance: crate::provenance::Provenance,
    pub paper: PaperRef,
    pub checks: ScorecardView,
    pub chapters: Vec<ChapterView>,
}

#[derive(Serialize)]
pub struct PaperRef {
    pub authors: String,
    pub title: String,
    pub arxiv: String,
    pub url: String,
}

impl PaperRef {
    pub fn this_paper() -> PaperRef {
        PaperRef {
            authors: "Liang, Dharmakeerthi and Koriyama".into(),
            title: "Denoising Diffusions with Optimal Transport: Localization, Curvature, and Multi-Scale Complexity".into(),
            arxiv: "2411.01629".into(),
            url: "https://arxiv.org/abs/2411.01629".into(),
        }
    }
}

#[derive(Serialize)]
pub struct ScorecardView {
    pub total: usize,
    pub reproduced: usize,
    pub discrepancy: usize,
    pub failed: usize,
    /// The verdict by what the checks rest on (printed values, figure features, …).
    pub bases: Vec<crate::check::BasisTally>,
    /// Candidate explanations of disagreements (variant computations), counted apart.
    pub candidates: crate::check::CandidateTally,
    /// One line per chapter with checks: the summary per paper result.
    pub chapters: Vec<ChapterScore>,
    pub rows: Vec<CheckView>,
}

#[derive(Serialize)]
pub struct ChapterScore {
    pub number: usize,
    pub anchor: String,
    pub title: String,
    pub paper_refs: Vec<String>,
    pub reproduced: usize,
    pub discrepancy: usize,
    pub failed: usize,
}

#[derive(Serialize, Clone)]
pub struct ChapterView {
    pub number: usize,
    pub id: String,
    pub anchor: String,
    pub title: String,
    pub paper_refs: Vec<String>,
    /// The chapter's rendered content (prose, figures, tables, checks).
    pub body: String,
    /// The chapter rendered through `chapter.html` (used by `layout.html`).
    pub html: String,
}

#[derive(Serialize)]
pub struct FigureView {
    pub number: usize,
    /// The figure's id: its block's, or for a multi-panel figure the `panel_of` name.
    pub id: String,
    pub anchor: String,
    pub svg: String,
    pub svg_file: String,
    pub png_file: String,
    /// Natural width of the drawing in CSS pixels.
    pub width: u32,
    /// One per figure block: a single figure has one, without a letter.
    pub panels: Vec<PanelView>,
}

/// One figure block: a figure, or one panel of a multi-panel figure.
#[derive(Serialize)]
pub struct PanelView {
    pub id: String,
    /// "a", "b", … in a multi-panel figure.
    pub letter: Option<String>,
    /// `figure-<id>` in a multi-panel figure (where `ref(id=…)` of a panel leads).
    pub anchor: Option<String>,
    pub caption: String,
    pub table: String,
    pub csv: String,
    pub parquet: String,
    /// `chapters/x.md:41`, where the figure block is.
    pub spec_location: String,
    /// The figure block's YAML as written.
    pub spec: String,
    /// Anchor of the experiment that produced the figure's table.
    pub experiment_anchor: String,
    /// The paper's panel this figure corresponds to ("6(c)"), and what its checks say.
    pub paper_panel: Option<String>,
    pub verdict: Option<VerdictView>,
}

/// The line under a figure's caption: whether the paper's panel reproduces.
#[derive(Serialize, Clone)]
pub struct VerdictView {
    /// `reproduced`, `discrepancy`, `failed` or `unchecked`.
    pub status: &'static str,
    pub text: String,
    /// Checks on the panel that did not reproduce.
    pub exceptions: Vec<CheckLink>,
}

#[derive(Serialize, Clone)]
pub struct CheckLink {
    pub id: String,
    pub anchor: String,
    pub label: String,
    pub status: &'static str,
}

#[derive(Serialize)]
pub struct TableView {
    pub number: usize,
    pub id: String,
    pub anchor: String,
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub total_rows: usize,
    pub truncated: bool,
    pub csv: String,
    pub parquet: String,
}

#[derive(Serialize, Clone)]
pub struct CheckView {
    pub number: usize,
    pub anchor: String,
    pub chapter_number: usize,
    pub chapter_anchor: String,
    pub id: String,
    pub status: &'static str,
    pub claim_html: String,
    /// What the check rests on (`paper_value`, `paper_figure`, `closed_form`,
    /// `theorem`, `consistency`) and the paper's item it is about.
    pub basis: &'static str,
    pub paper_ref: String,
    /// Our figure (or panel) that draws the paper's panel `paper_ref` names, if any.
    pub paper_ref_anchor: Option<String>,
    /// The candidate explanation the check tries, if it is one.
    pub candidate: Option<String>,
    pub source: String,
    pub expected: String,
    pub computed: String,
    pub difference: String,
    pub tolerance: String,
    pub tolerance_rule: String,
    pub relation: &'static str,
    pub compared: usize,
    pub at: Option<String>,
    pub discrepancy: Option<String>,
    pub message: Option<String>,
}

impl CheckView {
    pub fn new(
        o: &CheckOutcome,
        number: usize,
        chapter_number: usize,
        chapter_anchor: &str,
        claim_html: String,
    ) -> CheckView {
        let f = |v: Option<f64>| {
            v.map(|v| crate::table::format_number(v, None))
                .unwrap_or_else(|| "—".into())
        };
        CheckView {
            number,
            anchor: format!("check-{}", o.id),
            chapter_number,
            chapter_anchor: chapter_anchor.to_string(),
            id: o.id.clone(),
            status: o.status.word(),
            claim_html,
            basis: o.basis.name(),
            paper_ref: o.paper_ref.clone(),
            paper_ref_anchor: None,
            candidate: o.candidate.clone(),
            source: o.source.clone(),
            expected: f(o.expected),
            computed: f(o.computed),
            difference: f(o.difference),
            tolerance: f(o.tolerance),
            tolerance_rule: o.tolerance_rule.clone(),
            relation: o.relation,
            compared: o.compared,
            at: o.at.clone(),
            discrepancy: o.discrepancy.clone(),
            message: o.message.clone(),
        }
    }
}

#[derive(Serialize)]
pub struct ExperimentView {
    pub id: String,
    pub anchor: String,
    pub kind: String,
    pub seed: u64,
    pub source: String,
    /// "exact", "Monte Carlo", "exact and Monte Carlo".
    pub method: String,
    /// `field = value` for each `--set` override of this experiment (empty: as written).
    pub overrides: Vec<String>,
    pub tables: Vec<TableLink>,
}

#[derive(Serialize)]
pub struct TableLink {
    pub name: String,
    pub rows: usize,
    pub columns: Vec<String>,
    pub csv: String,
    pub parquet: String,
}

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
