//! Between stage 6 (*check*) and stage 7 (*render*), the *report model*: the project,
//! its results, drawn figures and check outcomes become one format-neutral
//! description of the report, built once by [`build`] and handed to the two backends
//! (`render::html`, `render::pdf`).
//!
//! The model holds the chapters in order with their numbers and titles, and per
//! chapter its blocks: prose (Markdown with `$…$` math, every `{{ … }}` expression
//! already filled and every `ref(id=…)` already a numbered link), experiments,
//! figures (number, panels with their captions, files), tables (number, caption,
//! header, shown rows), checks (number, outcome, basis) and exercises. Beside them:
//! the scorecard summary and the cross-reference table (id → kind, number, label,
//! anchor). Numbers are fields assigned here in report order, never re-read from a
//! label. What an [`Edition`] must not show (checks and solutions for students) is
//! left out of the model, so the backends only decide how things look.
//!
//! This module depends on the earlier stages (project, tables, figures, checks) and
//! on nothing that renders.

pub mod prose;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use crate::check::{BasisTally, CandidateTally, CheckOutcome, Status};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::project::{ChapterSpec, Item, Project};
use crate::spec::figure::FigureSpec;
use crate::spec::handout::Role;
use crate::spec::table::TableBlock;
use crate::table::{format_number, Cell, Results, Table as DataTable};
pub use prose::{ChapterInfo, ProseEnv, RefKind, RefTarget};

/// Most rows a table block shows (the data files hold all of them).
pub const MAX_TABLE_ROWS: usize = 200;

/// The report's title (an edition adds who it is for).
pub const TITLE: &str = "Denoising Diffusions with Optimal Transport — an executable companion";

/// Who a rendering of the report is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Edition {
    /// `report.html`: everything, solutions folded under their exercise.
    Report,
    /// `handout-student.html`: exercises without solutions, no checks, no scorecard.
    Student,
    /// `handout-teacher.html`: everything, solutions shown open.
    Teacher,
}

impl Edition {
    /// The two handouts `build --handout` writes.
    pub const HANDOUTS: [Edition; 2] = [Edition::Student, Edition::Teacher];

    pub fn name(self) -> &'static str {
        match self {
            Edition::Report => "report",
            Edition::Student => "student",
            Edition::Teacher => "teacher",
        }
    }

    /// The file this edition is written to, in the output folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Edition::Report => "report.html",
            Edition::Student => "handout-student.html",
            Edition::Teacher => "handout-teacher.html",
        }
    }

    /// The page title, from the report's.
    pub fn title(self, report_title: &str) -> String {
        match self {
            Edition::Report => report_title.to_string(),
            Edition::Student => format!("{report_title} — student handout"),
            Edition::Teacher => format!("{report_title} — teacher’s handout, with solutions"),
        }
    }

    pub fn shows_solutions(self) -> bool {
        self != Edition::Student
    }

    /// Checks (and the scorecard) give the answers away, so students do not get them.
    pub fn shows_checks(self) -> bool {
        self != Edition::Student
    }
}

/// A drawn figure, as the pipeline hands it over.
pub struct DrawnFigure {
    /// The drawing as SVG text.
    pub svg: String,
    /// The PNG bytes rasterised from `svg` at `figure::PNG_SCALE`.
    pub png: Vec<u8>,
    /// Width in CSS pixels (the PDF sizes the figure by it).
    pub width: u32,
    /// The cache key the PNG is stored under.
    pub png_key: String,
}

impl DrawnFigure {
    /// The SVG of `plot` and the PNG rasterised from it. A PNG is a function of its
    /// SVG (and of this code), so it is keyed by the SVG's bytes and reused from
    /// `cache` when they have not changed: rasterising is most of a build whose
    /// experiments are all cached.
    pub fn draw(
        plot: &crate::figure::plot::Plot,
        cache: &crate::cache::Cache,
    ) -> Result<DrawnFigure, String> {
        use crate::figure::{draw, PNG_SCALE};
        let svg = draw::render_svg(plot).map_err(|e| e.to_string())?;
        let png_key = crate::cache::KeyBuilder::new()
            .part("svg", svg.as_bytes())
            .part("png-scale", &PNG_SCALE.to_le_bytes())
            .part("code", crate::provenance::source_digest().as_bytes())
            .finish();
        let png = cache.file_or_make(&png_key, || {
            draw::render_png(&svg, PNG_SCALE).map_err(|e| e.to_string())
        })?;
        let columns = plot.columns.min(plot.panels.len()).max(1) as u32;
        Ok(DrawnFigure {
            svg,
            png,
            width: columns * plot.panel_width,
            png_key,
        })
    }
}

/// Everything the model is built from: the earlier stages' output.
pub struct Inputs<'a> {
    /// The validated chapters, in report order.
    pub project: &'a Project,
    /// Indices of the chapters in the report (numbering is that of the whole project).
    pub selected: &'a [usize],
    /// Every table the experiments computed, by name.
    pub results: Arc<Results>,
    /// Every drawn figure, by figure id (a multi-panel figure by its `panel_of` name).
    pub figures: &'a BTreeMap<String, DrawnFigure>,
    /// Every check's outcome, by check id.
    pub outcomes: &'a BTreeMap<String, CheckOutcome>,
    /// Software, machine, date and per-experiment records (the only run-dependent part).
    pub provenance: &'a crate::provenance::Provenance,
    /// Who the report is for: the report, or a student's or teacher's handout.
    pub edition: Edition,
}

impl<'a> Inputs<'a> {
    /// The same inputs, for another edition.
    pub fn for_edition(&self, edition: Edition) -> Inputs<'a> {
        Inputs {
            results: self.results.clone(),
            edition,
            ..*self
        }
    }
}

/// The paper the report reproduces (`paper` in `layout.html`'s context).
#[derive(Serialize)]
pub struct PaperRef {
    /// The authors as cited, e.g. "Liang, Dharmakeerthi and Koriyama".
    pub authors: String,
    /// The paper's full title.
    pub title: String,
    /// The arXiv identifier, e.g. "2411.01629".
    pub arxiv: String,
    /// The paper's arXiv page.
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

/// The report. Serializes to the top-level fields of `layout.html`'s context.
#[derive(Serialize)]
pub struct Report<'a> {
    /// The page title: the report's, with the audience added for a handout.
    pub title: String,
    /// `report`, or `student` / `teacher` for the handouts.
    pub edition: Edition,
    /// The diffrepro version that built the report (the crate's version).
    pub version: String,
    /// The paper being reproduced.
    pub paper: PaperRef,
    /// `paper` or `quick`.
    pub fidelity: String,
    /// The appendix: software, machine, date, experiments.
    pub provenance: &'a crate::provenance::Provenance,
    /// The verdicts of every check (also in a partial build), per selected chapter.
    #[serde(skip)]
    pub scorecard: Scorecard,
    /// The selected chapters, in order.
    #[serde(skip)]
    pub chapters: Vec<Chapter<'a>>,
    /// Every referable item of the whole project, by id.
    #[serde(skip)]
    pub refs: BTreeMap<String, RefTarget>,
}

/// One chapter. Serializes to the fields `chapter.html` gets besides its body.
#[derive(Serialize)]
pub struct Chapter<'a> {
    /// The chapter's number in the whole project (also in a partial build).
    pub number: usize,
    /// The chapter's `id:` from its front matter.
    pub id: String,
    /// `chapter-<id>`: the HTML id of the chapter's section.
    pub anchor: String,
    /// The chapter's `title:`.
    pub title: String,
    /// The paper's results the chapter covers (`paper_refs:`), e.g. "Example 4".
    pub paper_refs: Vec<String>,
    /// The chapter file (path and text), for the backends' diagnostics.
    #[serde(skip)]
    pub source: &'a crate::chapter::Chapter,
    /// Prose and blocks in the order written; what the edition does not show is left out.
    #[serde(skip)]
    pub blocks: Vec<Block>,
}

/// One block of a chapter, with the line of the chapter it comes from.
pub struct Block {
    /// The 1-based line of the chapter file where the block (or its fence) starts.
    pub line: usize,
    /// What the block shows.
    pub content: Content,
}

/// What a block of a chapter shows.
pub enum Content {
    /// Markdown with `$…$` math, expressions filled (it starts at [`Block::line`]).
    Prose(String),
    /// An experiment block: its spec and the tables it wrote.
    Experiment(Experiment),
    /// A figure, or a multi-panel figure where its first panel stands.
    Figure(Figure),
    /// A table block's rows.
    Table(Table),
    /// Boxed: the largest by far.
    Check(Box<Check>),
    /// An exercise, or its solution.
    Exercise(Exercise),
}

/// An experiment block (`experiment.html`'s variable).
#[derive(Serialize)]
pub struct Experiment {
    /// The experiment's `id:`.
    pub id: String,
    /// `experiment-<id>`: the HTML id of the block (figures link to it).
    pub anchor: String,
    /// Its `kind:` (`complexity`, `particles`, …).
    pub kind: String,
    /// The `seed:` of its random streams; 0 when none is given (and for kinds that
    /// draw no random numbers).
    pub seed: u64,
    /// The block's YAML as written in the chapter.
    pub source: String,
    /// "exact", "Monte Carlo", "exact and Monte Carlo".
    pub method: String,
    /// `field = value` for each `--set` override of this experiment (empty: as written).
    pub overrides: Vec<String>,
    /// The tables it wrote, in the order of its kind's outputs.
    pub tables: Vec<TableLink>,
}

/// A table an experiment wrote, with links to its data files.
#[derive(Serialize)]
pub struct TableLink {
    /// The table's name (from the experiment's `tables:`).
    pub name: String,
    /// How many rows it holds.
    pub rows: usize,
    /// Its column names, in order.
    pub columns: Vec<String>,
    /// The CSV file, relative to the report: `data/<chapter>/<name>.csv`.
    pub csv: String,
    /// The Parquet file, relative to the report: `data/<chapter>/<name>.parquet`.
    pub parquet: String,
}

/// A figure: a single one, or a multi-panel figure where its first panel stands.
#[derive(Serialize)]
pub struct Figure {
    /// The figure's number in the whole report (shared by the panels of a multi-panel figure).
    pub number: usize,
    /// The figure's id: its block's, or for a multi-panel figure the `panel_of` name.
    pub id: String,
    /// `figure-<id>`: the HTML id of the figure.
    pub anchor: String,
    /// The drawing as written to `svg_file` (with its XML declaration).
    #[serde(skip)]
    pub svg: String,
    /// The SVG file, relative to the report: `figures/<chapter>/<id>.svg`.
    pub svg_file: String,
    /// The PNG file, relative to the report: `figures/<chapter>/<id>.png`.
    pub png_file: String,
    /// Natural width of the drawing in CSS pixels.
    pub width: u32,
    /// Whether the figure has lettered panels.
    #[serde(skip)]
    pub grouped: bool,
    /// One per figure block: a single figure has one, without a letter.
    #[serde(skip)]
    pub panels: Vec<Panel>,
}

/// One figure block: a figure, or one panel of a multi-panel figure.
#[derive(Serialize)]
pub struct Panel {
    /// The figure block's `id:`.
    pub id: String,
    /// "a", "b", … in a multi-panel figure.
    pub letter: Option<String>,
    /// `figure-<id>` in a multi-panel figure (where `ref(id=…)` of a panel leads).
    pub anchor: Option<String>,
    /// Markdown, expressions filled.
    #[serde(skip)]
    pub caption: String,
    /// The line of the figure block (where the caption's text is located).
    #[serde(skip)]
    pub line: usize,
    /// The table the panel draws (the block's `table:`).
    pub table: String,
    /// That table's CSV file, relative to the report.
    pub csv: String,
    /// That table's Parquet file, relative to the report.
    pub parquet: String,
    /// `chapters/x.md:41`, where the figure block is.
    pub spec_location: String,
    /// The figure block's YAML as written.
    pub spec: String,
    /// Anchor of the experiment that produced the figure's table.
    pub experiment_anchor: String,
    /// The paper's panel this figure corresponds to ("6(c)"), if the block names one.
    pub paper_panel: Option<String>,
    /// What the checks on that paper panel say; none without `paper_panel`, or in
    /// the student handout (which shows no checks).
    pub verdict: Option<Verdict>,
}

/// The line under a figure's caption: whether the paper's panel reproduces.
#[derive(Serialize, Clone)]
pub struct Verdict {
    /// `reproduced`, `discrepancy`, `failed` or `unchecked`.
    pub status: &'static str,
    /// The sentence under the caption: "Compared with the paper's Figure 6(c): 4 of 4
    /// checks reproduced …", or that nothing on the panel is checked.
    pub text: String,
    /// Checks on the panel that did not reproduce.
    pub exceptions: Vec<CheckLink>,
}

/// A link to a check, from a figure's verdict.
#[derive(Serialize, Clone)]
pub struct CheckLink {
    /// The check's `id:`.
    pub id: String,
    /// `check-<id>`: the HTML id of the check.
    pub anchor: String,
    /// "Check 12": how the check is numbered in the report (its id if it has no number).
    pub label: String,
    /// `discrepancy` or `failed` (links go to the checks that did not reproduce).
    pub status: &'static str,
}

/// A table block: the rows it shows, formatted.
#[derive(Serialize)]
pub struct Table {
    /// The table's number in the whole report.
    pub number: usize,
    /// The table block's `id:`.
    pub id: String,
    /// `table-<id>`: the HTML id of the table.
    pub anchor: String,
    /// Markdown, expressions filled.
    #[serde(skip)]
    pub caption: String,
    /// Column headings: each column's label (the block's `labels`, else its name); for
    /// a pivot, the row column's, then `column = value` per value of the pivoted column.
    pub header: Vec<String>,
    /// The rows shown (at most [`MAX_TABLE_ROWS`]), every cell formatted.
    pub rows: Vec<Vec<String>>,
    /// How many rows the table has in all (the data files hold every one).
    pub total_rows: usize,
    /// Whether `rows` shows fewer than `total_rows`.
    pub truncated: bool,
    /// The CSV file of the table the block shows, relative to the report.
    pub csv: String,
    /// The Parquet file of the table the block shows, relative to the report.
    pub parquet: String,
}

/// A check and its outcome, numbers formatted.
#[derive(Serialize, Clone)]
pub struct Check {
    /// The check's number in the whole report.
    pub number: usize,
    /// `check-<id>`: the HTML id of the check.
    pub anchor: String,
    /// The number of the chapter the check is in.
    pub chapter_number: usize,
    /// `chapter-<id>` of that chapter.
    pub chapter_anchor: String,
    /// The check block's `id:`.
    pub id: String,
    /// `reproduced`, `discrepancy` or `failed`.
    pub status: &'static str,
    /// The claim: Markdown, expressions filled.
    #[serde(skip)]
    pub claim: String,
    /// What the check rests on (`paper_value`, `paper_figure`, `closed_form`,
    /// `theorem`, `consistency`) and the paper's item it is about.
    pub basis: &'static str,
    pub paper_ref: String,
    /// Our figure (or panel) that draws the paper's panel `paper_ref` names, if any.
    pub paper_ref_anchor: Option<String>,
    /// The candidate explanation the check tries, if it is one.
    pub candidate: Option<String>,
    /// Where the expected value comes from ("Figure 1", "closed form delta_star", …).
    pub source: String,
    /// The expected value at the worst row, formatted ("—" when there is none).
    pub expected: String,
    /// The computed value at the worst row, formatted ("—" when there is none).
    pub computed: String,
    /// |computed − expected| at the worst row, formatted ("—" when there is none).
    pub difference: String,
    /// The tolerance at the worst row, formatted ("—" when there is none).
    pub tolerance: String,
    /// How the tolerance was set, e.g. "relative 0.01" or "3 standard errors".
    pub tolerance_rule: String,
    /// How computed must compare with expected: `=`, `≤` or `≥`.
    pub relation: &'static str,
    /// How many values were compared (the worst of them is shown).
    pub compared: usize,
    /// The worst row described by its key columns, e.g. "r = 1.5, δ = 0" (none when
    /// the table has none of them).
    pub at: Option<String>,
    /// The chapter's explanation of a declared discrepancy (`discrepancy:`).
    pub discrepancy: Option<String>,
    /// Why the check failed, when it could not be evaluated or its declared
    /// discrepancy no longer holds.
    pub message: Option<String>,
}

impl Check {
    fn new(o: &CheckOutcome, number: usize, chapter: (usize, &str), claim: String) -> Check {
        let f = |v: Option<f64>| {
            v.map(|v| format_number(v, None))
                .unwrap_or_else(|| "—".into())
        };
        Check {
            number,
            anchor: format!("check-{}", o.id),
            chapter_number: chapter.0,
            chapter_anchor: chapter.1.to_string(),
            id: o.id.clone(),
            status: o.status.word(),
            claim,
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

/// An exercise, or its solution where the edition shows solutions.
#[derive(Serialize)]
pub struct Exercise {
    /// `exercise` or `solution`.
    pub role: &'static str,
    /// The exercise's number in the whole report (a solution carries its exercise's).
    pub number: usize,
    /// `exercise-3`, or `solution-3` for its solution.
    pub anchor: String,
    /// Markdown, expressions filled; it starts at `body_line`.
    #[serde(skip)]
    pub body: String,
    /// The chapter line where `body` starts (for diagnostics).
    #[serde(skip)]
    pub body_line: usize,
    /// `report`, `student` or `teacher`.
    pub edition: &'static str,
    /// Whether a solution is shown unfolded (the teacher's handout).
    pub open: bool,
}

/// The verdicts: over every check of the project, and per selected chapter.
#[derive(Serialize)]
pub struct Scorecard {
    /// How many checks were evaluated (those of the selected chapters), candidate
    /// explanations included.
    pub total: usize,
    /// How many of them are `reproduced`.
    pub reproduced: usize,
    /// How many are declared discrepancies that still hold.
    pub discrepancy: usize,
    /// How many `failed`.
    pub failed: usize,
    /// The verdict by what the checks rest on (printed values, figure features, …).
    pub bases: Vec<BasisTally>,
    /// Candidate explanations of disagreements (variant computations), counted apart.
    pub candidates: CandidateTally,
    /// One line per chapter of the report with checks shown: the summary per paper result.
    pub chapters: Vec<ChapterScore>,
}

/// A chapter's line of the scorecard: its checks by status.
#[derive(Serialize)]
pub struct ChapterScore {
    /// The chapter's number in the whole report.
    pub number: usize,
    /// `chapter-<id>`: where the chapter's row links to.
    pub anchor: String,
    /// The chapter's `title:`.
    pub title: String,
    /// The paper's results the chapter covers.
    pub paper_refs: Vec<String>,
    /// How many of the chapter's checks are `reproduced`.
    pub reproduced: usize,
    /// How many are declared discrepancies that still hold.
    pub discrepancy: usize,
    /// How many `failed`.
    pub failed: usize,
}

impl Chapter<'_> {
    /// The chapter's checks, in order.
    pub fn checks(&self) -> impl Iterator<Item = &Check> {
        self.blocks.iter().filter_map(|b| match &b.content {
            Content::Check(k) => Some(&**k),
            _ => None,
        })
    }
}

impl Report<'_> {
    /// Every check in the report, in order.
    pub fn checks(&self) -> impl Iterator<Item = &Check> {
        self.chapters.iter().flat_map(|c| c.checks())
    }

    /// The anchors of the chapters and blocks the report holds (a link to any other
    /// anchor leads out of it, e.g. to a chapter left out of a partial build).
    pub fn anchors(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for c in &self.chapters {
            out.insert(c.anchor.clone());
            for b in &c.blocks {
                match &b.content {
                    Content::Prose(_) => {}
                    Content::Experiment(e) => {
                        out.insert(e.anchor.clone());
                    }
                    Content::Figure(f) => {
                        out.insert(f.anchor.clone());
                        out.extend(f.panels.iter().filter_map(|p| p.anchor.clone()));
                    }
                    Content::Table(t) => {
                        out.insert(t.anchor.clone());
                    }
                    Content::Check(k) => {
                        out.insert(k.anchor.clone());
                    }
                    Content::Exercise(x) => {
                        out.insert(x.anchor.clone());
                    }
                }
            }
        }
        out
    }
}

/// Which chapter produced each table (for data paths): name → (CSV, Parquet).
pub fn table_paths(project: &Project) -> BTreeMap<String, (String, String)> {
    project
        .table_schemas()
        .into_iter()
        .map(|(name, (chapter, _))| {
            let base = format!("data/{chapter}/{name}");
            (name, (format!("{base}.csv"), format!("{base}.parquet")))
        })
        .collect()
}

pub fn figure_path(chapter: &str, id: &str, ext: &str) -> String {
    format!("figures/{chapter}/{id}.{ext}")
}

/// Number every referable item of the project in report order: the cross-reference
/// table. A multi-panel figure takes the next figure number where its first panel
/// stands; its panels are that number with a letter.
pub fn numbering(project: &Project) -> BTreeMap<String, RefTarget> {
    let mut refs = BTreeMap::new();
    let (mut nf, mut nt, mut nc) = (0, 0, 0);
    // Multi-panel figures: their number and how many panels are numbered so far.
    let mut groups: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let target = |kind, number: Option<usize>, label: String, anchor: String| RefTarget {
        kind,
        number,
        label,
        anchor,
    };
    for (ci, ch) in project.chapters.iter().enumerate() {
        refs.insert(
            ch.id().to_string(),
            target(
                RefKind::Chapter,
                Some(ci + 1),
                format!("Chapter {}", ci + 1),
                format!("chapter-{}", ch.id()),
            ),
        );
        for item in &ch.items {
            let (id, t) = match item {
                Item::Figure(f) => {
                    let anchor = format!("figure-{}", f.id);
                    match &f.panel_of {
                        Some(g) => {
                            let (number, panels) = groups.entry(g.clone()).or_insert_with(|| {
                                nf += 1;
                                refs.insert(
                                    g.clone(),
                                    target(
                                        RefKind::Figure,
                                        Some(nf),
                                        format!("Figure {nf}"),
                                        format!("figure-{g}"),
                                    ),
                                );
                                (nf, 0)
                            });
                            let letter = crate::figure::panel_letter(*panels);
                            *panels += 1;
                            let label = format!("Figure {number}({letter})");
                            (
                                &f.id,
                                target(RefKind::Panel(letter), Some(*number), label, anchor),
                            )
                        }
                        None => {
                            nf += 1;
                            let label = format!("Figure {nf}");
                            (&f.id, target(RefKind::Figure, Some(nf), label, anchor))
                        }
                    }
                }
                Item::Table(t) => {
                    nt += 1;
                    let (label, anchor) = (format!("Table {nt}"), format!("table-{}", t.id));
                    (&t.id, target(RefKind::Table, Some(nt), label, anchor))
                }
                Item::Check(c) => {
                    nc += 1;
                    let (label, anchor) = (format!("Check {nc}"), format!("check-{}", c.id));
                    (&c.id, target(RefKind::Check, Some(nc), label, anchor))
                }
                Item::Experiment(e) => {
                    let label = format!("experiment {}", e.id);
                    let anchor = format!("experiment-{}", e.id);
                    (&e.id, target(RefKind::Experiment, None, label, anchor))
                }
                Item::Prose(_) | Item::Handout(_) => continue,
            };
            refs.insert(id.clone(), t);
        }
    }
    refs
}

/// Number every exercise in report order; a solution gets the number of the exercise
/// it answers. Keyed by (chapter id, fence line).
pub fn exercise_numbers(project: &Project) -> BTreeMap<(String, usize), usize> {
    let mut out = BTreeMap::new();
    let mut n = 0;
    for ch in &project.chapters {
        for item in &ch.items {
            if let Item::Handout(h) = item {
                if h.role == Role::Exercise {
                    n += 1;
                }
                out.insert((ch.id().to_string(), h.line), n);
            }
        }
    }
    out
}

/// Every chapter's id, title, anchor and paper references, for findings.
pub fn chapter_infos(project: &Project) -> Vec<ChapterInfo> {
    project
        .chapters
        .iter()
        .map(|c| ChapterInfo {
            id: c.id().to_string(),
            title: c.chapter.front.title.clone(),
            anchor: format!("chapter-{}", c.id()),
            paper_refs: c.chapter.front.paper_refs.clone(),
        })
        .collect()
}

/// The prose environment (every `{{ … }}` function, findings included) over the
/// cross-reference table `refs`.
pub fn prose_env(inp: &Inputs, refs: &BTreeMap<String, RefTarget>) -> ProseEnv {
    let refs = Arc::new(refs.clone());
    let outcomes = Arc::new(inp.outcomes.clone());
    let mut env = ProseEnv::new(inp.results.clone(), refs.clone(), outcomes.clone());
    env.enable_findings(outcomes, refs, Arc::new(chapter_infos(inp.project)));
    env
}

/// Build the report model: number, resolve and format everything once. Errors (a
/// failing prose expression, an unknown reference, a missing table) name the chapter
/// file and line; every one of them is reported, not only the first.
pub fn build<'a>(inp: &Inputs<'a>) -> Result<Report<'a>, Diagnostics> {
    let refs = numbering(inp.project);
    let mut b = Builder {
        inp,
        env: prose_env(inp, &refs),
        exercises: exercise_numbers(inp.project),
        paths: table_paths(inp.project),
        refs: &refs,
    };
    let mut diags = Diagnostics::default();
    let mut chapters = Vec::new();
    for &ci in inp.selected {
        match b.chapter(ci) {
            Ok(c) => chapters.push(c),
            Err(d) => diags.extend(d),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let scorecard = scorecard(inp.outcomes, &chapters);
    Ok(Report {
        title: inp.edition.title(TITLE),
        edition: inp.edition,
        version: env!("CARGO_PKG_VERSION").into(),
        paper: PaperRef::this_paper(),
        fidelity: inp.provenance.fidelity.clone(),
        provenance: inp.provenance,
        scorecard,
        chapters,
        refs,
    })
}

fn scorecard(outcomes: &BTreeMap<String, CheckOutcome>, chapters: &[Chapter]) -> Scorecard {
    let count = |s: Status| outcomes.values().filter(|o| o.status == s).count();
    let chapters = chapters
        .iter()
        .filter_map(|c| {
            let mine: Vec<&Check> = c.checks().collect();
            let n = |w: &str| mine.iter().filter(|k| k.status == w).count();
            (!mine.is_empty()).then(|| ChapterScore {
                number: c.number,
                anchor: c.anchor.clone(),
                title: c.title.clone(),
                paper_refs: c.paper_refs.clone(),
                reproduced: n("reproduced"),
                discrepancy: n("discrepancy"),
                failed: n("failed"),
            })
        })
        .collect();
    Scorecard {
        total: outcomes.len(),
        reproduced: count(Status::Reproduced),
        discrepancy: count(Status::Discrepancy),
        failed: count(Status::Failed),
        bases: crate::check::tally_by_basis(outcomes.values()),
        candidates: CandidateTally::of(outcomes.values()),
        chapters,
    }
}

/// The state of [`build`] while it walks the chapters.
struct Builder<'i, 'a> {
    inp: &'i Inputs<'a>,
    env: ProseEnv,
    exercises: BTreeMap<(String, usize), usize>,
    paths: BTreeMap<String, (String, String)>,
    refs: &'i BTreeMap<String, RefTarget>,
}

impl<'a> Builder<'_, 'a> {
    fn chapter(&mut self, ci: usize) -> Result<Chapter<'a>, Diagnostics> {
        let project: &'a Project = self.inp.project;
        let ch = &project.chapters[ci];
        let anchor = format!("chapter-{}", ch.id());
        let mut diags = Diagnostics::default();
        let mut blocks = Vec::new();
        for item in &ch.items {
            match self.item(ch, (ci + 1, &anchor), item) {
                Ok(Some(b)) => blocks.push(b),
                Ok(None) => {}
                Err(d) => diags.extend(d),
            }
        }
        diags.finish(Chapter {
            number: ci + 1,
            id: ch.id().to_string(),
            anchor: anchor.clone(),
            title: ch.chapter.front.title.clone(),
            paper_refs: ch.chapter.front.paper_refs.clone(),
            source: &ch.chapter,
            blocks,
        })
    }

    /// Fill the expressions of a caption, claim or block of prose at `line`.
    fn expand(&mut self, ch: &ChapterSpec, text: &str, line: usize) -> Result<String, Diagnostics> {
        let p = crate::chapter::Prose {
            text: text.to_string(),
            line,
        };
        self.env.expand(&ch.chapter, &p)
    }

    fn number(&self, id: &str) -> usize {
        self.refs.get(id).and_then(|r| r.number).unwrap_or(0)
    }

    fn item(
        &mut self,
        ch: &ChapterSpec,
        chapter: (usize, &str),
        item: &Item,
    ) -> Result<Option<Block>, Diagnostics> {
        let inp = self.inp;
        let (line, content) = match item {
            Item::Prose(p) => (p.line, Content::Prose(self.env.expand(&ch.chapter, p)?)),
            Item::Experiment(e) => (e.line, Content::Experiment(self.experiment(e))),
            Item::Figure(f) => match self.figure(ch, f)? {
                Some(fig) => (f.line, Content::Figure(fig)),
                None => return Ok(None),
            },
            Item::Table(t) => (t.line, Content::Table(self.table(ch, t)?)),
            Item::Handout(h) => {
                if h.role == Role::Solution && !inp.edition.shows_solutions() {
                    return Ok(None);
                }
                let body = self.env.expand(&ch.chapter, &h.prose)?;
                let number = self.exercises[&(ch.id().to_string(), h.line)];
                let x = Exercise {
                    role: h.role.name(),
                    number,
                    anchor: format!("{}-{number}", h.role.name()),
                    body,
                    body_line: h.prose.line,
                    edition: inp.edition.name(),
                    open: inp.edition == Edition::Teacher,
                };
                (h.line, Content::Exercise(x))
            }
            Item::Check(_) if !inp.edition.shows_checks() => return Ok(None),
            Item::Check(c) => {
                let claim = self.expand(ch, &c.claim, c.line)?;
                let o = &inp.outcomes[&c.id];
                let mut k = Check::new(o, self.number(&c.id), chapter, claim);
                k.paper_ref_anchor = panel_anchor(inp, &o.paper_ref);
                (c.line, Content::Check(Box::new(k)))
            }
        };
        Ok(Some(Block { line, content }))
    }

    fn experiment(&self, e: &crate::experiment::Experiment) -> Experiment {
        let inp = self.inp;
        Experiment {
            id: e.id.clone(),
            anchor: format!("experiment-{}", e.id),
            kind: e.kind.to_string(),
            seed: e.seed,
            source: e.source.clone(),
            method: e.spec.method().0,
            overrides: inp
                .provenance
                .overrides
                .iter()
                .filter(|o| o.experiment == e.id)
                .map(|o| format!("{} = {}", o.path, o.value))
                .collect(),
            tables: e
                .outputs
                .iter()
                .map(|s| TableLink {
                    name: s.name.clone(),
                    rows: inp.results.table(&s.name).map(|t| t.height()).unwrap_or(0),
                    columns: s.columns.iter().map(|c| c.name.clone()).collect(),
                    csv: self.paths[&s.name].0.clone(),
                    parquet: self.paths[&s.name].1.clone(),
                })
                .collect(),
        }
    }

    fn figure(&mut self, ch: &ChapterSpec, f: &FigureSpec) -> Result<Option<Figure>, Diagnostics> {
        let Some((id, members)) = figure_at(ch, f) else {
            return Ok(None);
        };
        let inp = self.inp;
        let chapter = &ch.chapter;
        let grouped = f.panel_of.is_some();
        let mut panels = Vec::new();
        let mut diags = Diagnostics::default();
        for (k, m) in members.iter().enumerate() {
            let caption = match self.expand(ch, &m.caption, m.line) {
                Ok(c) => c,
                Err(d) => {
                    diags.extend(d);
                    continue;
                }
            };
            panels.push(Panel {
                id: m.id.clone(),
                letter: grouped.then(|| crate::figure::panel_letter(k).to_string()),
                anchor: grouped.then(|| format!("figure-{}", m.id)),
                caption,
                line: m.line,
                table: m.table.clone(),
                csv: self.paths[&m.table].0.clone(),
                parquet: self.paths[&m.table].1.clone(),
                spec_location: format!("{}:{}", chapter.path.display(), m.line),
                spec: figure_source(chapter, m.line),
                experiment_anchor: producer_anchor(inp.project, &m.table),
                paper_panel: m.paper_panel.clone(),
                verdict: inp
                    .edition
                    .shows_checks()
                    .then(|| figure_verdict(inp.outcomes, self.refs, m))
                    .flatten(),
            });
        }
        let drawn = &inp.figures[&id];
        diags.finish(Some(Figure {
            number: self.number(&id),
            anchor: format!("figure-{id}"),
            svg: drawn.svg.clone(),
            svg_file: figure_path(ch.id(), &id, "svg"),
            png_file: figure_path(ch.id(), &id, "png"),
            width: drawn.width,
            grouped,
            panels,
            id,
        }))
    }

    fn table(&mut self, ch: &ChapterSpec, t: &TableBlock) -> Result<Table, Diagnostics> {
        let chapter = &ch.chapter;
        let caption = self.expand(ch, &t.caption, t.line)?;
        let at = |e: String| {
            Diagnostics::from(Diagnostic::new(&chapter.path, e).at(&chapter.source, t.line, 1))
        };
        let data = self.inp.results.table(&t.table).map_err(at)?;
        let (header, rows, total) = table_rows(t, data).map_err(at)?;
        Ok(Table {
            number: self.number(&t.id),
            id: t.id.clone(),
            anchor: format!("table-{}", t.id),
            caption,
            truncated: total > rows.len(),
            header,
            rows,
            total_rows: total,
            csv: self.paths[&t.table].0.clone(),
            parquet: self.paths[&t.table].1.clone(),
        })
    }
}

/// What a figure block shows where it stands: itself (its own id and one panel), a
/// multi-panel figure (the group's id and every member) where the first member
/// stands, or nothing for the later members (they are drawn with the first).
fn figure_at<'a>(ch: &'a ChapterSpec, f: &'a FigureSpec) -> Option<(String, Vec<&'a FigureSpec>)> {
    let Some(g) = &f.panel_of else {
        return Some((f.id.clone(), vec![f]));
    };
    let group = crate::figure::groups(ch.figures())
        .into_iter()
        .find(|x| &x.id == g)?;
    (group.members.first().map(|m| &m.id) == Some(&f.id)).then_some((group.id, group.members))
}

/// The figure block's YAML as written in the chapter (fences excluded).
fn figure_source(chapter: &crate::chapter::Chapter, line: usize) -> String {
    chapter
        .source
        .lines()
        .skip(line)
        .take_while(|l| !l.trim_start().starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the checks on the paper's panel of figure `f` say, with links to the checks
/// that did not reproduce.
fn figure_verdict(
    outcomes: &BTreeMap<String, CheckOutcome>,
    refs: &BTreeMap<String, RefTarget>,
    f: &FigureSpec,
) -> Option<Verdict> {
    let panel = f.paper_panel.as_deref()?;
    let v = crate::check::panel_verdict(outcomes.values(), panel);
    Some(Verdict {
        status: v.status,
        text: v.text,
        exceptions: v
            .exceptions
            .iter()
            .map(|(id, st)| CheckLink {
                id: id.clone(),
                anchor: format!("check-{id}"),
                label: refs
                    .get(id)
                    .map(|r| r.label.clone())
                    .unwrap_or_else(|| id.clone()),
                status: st.word(),
            })
            .collect(),
    })
}

/// The anchor of our figure (or panel of a multi-panel figure) that corresponds to
/// the paper's panel a check is about ("Figure 10(c)"), among the selected chapters.
fn panel_anchor(inp: &Inputs, paper_ref: &str) -> Option<String> {
    let panel = paper_ref.trim().strip_prefix("Figure ")?.trim();
    inp.selected
        .iter()
        .flat_map(|&i| inp.project.chapters[i].figures())
        .find(|f| f.paper_panel.as_deref() == Some(panel))
        .map(|f| format!("figure-{}", f.id))
}

/// Anchor of the experiment block that produces `table`.
pub fn producer_anchor(project: &Project, table: &str) -> String {
    project
        .experiments()
        .find(|(_, e)| e.outputs.iter().any(|s| s.name == table))
        .map(|(_, e)| format!("experiment-{}", e.id))
        .unwrap_or_default()
}

/// A table block's header, formatted rows (at most [`MAX_TABLE_ROWS`]) and total row count.
type TableRows = (Vec<String>, Vec<Vec<String>>, usize);

/// Header and formatted rows of a table block (plain or pivoted), and the total row count.
pub fn table_rows(b: &TableBlock, t: &DataTable) -> Result<TableRows, String> {
    let rows = t.select(&b.filter)?;
    let fmt = |c: &Cell| match c {
        Cell::Number(v) => format_number(*v, b.digits),
        Cell::Text(s) => s.clone(),
    };
    let label = |c: &str| b.labels.get(c).cloned().unwrap_or_else(|| c.to_string());
    if let Some(p) = &b.pivot {
        let rk = t.cells(&p.rows)?;
        let ck = t.cells(&p.columns)?;
        let vals = t.cells(&p.values)?;
        let mut row_keys: Vec<Cell> = Vec::new();
        let mut col_keys: Vec<Cell> = Vec::new();
        for &i in &rows {
            if !row_keys.iter().any(|k| k.matches(&rk[i])) {
                row_keys.push(rk[i].clone());
            }
            if !col_keys.iter().any(|k| k.matches(&ck[i])) {
                col_keys.push(ck[i].clone());
            }
        }
        let mut header = vec![label(&p.rows)];
        header.extend(
            col_keys
                .iter()
                .map(|k| format!("{} = {}", label(&p.columns), k)),
        );
        let body: Vec<Vec<String>> = row_keys
            .iter()
            .map(|rkey| {
                let mut line = vec![fmt(rkey)];
                for ckey in &col_keys {
                    let v = rows
                        .iter()
                        .find(|&&i| rk[i].matches(rkey) && ck[i].matches(ckey))
                        .map(|&i| fmt(&vals[i]))
                        .unwrap_or_default();
                    line.push(v);
                }
                line
            })
            .collect();
        let total = body.len();
        return Ok((
            header,
            body.into_iter().take(MAX_TABLE_ROWS).collect(),
            total,
        ));
    }
    let cols: Vec<String> = b.columns.clone().unwrap_or_else(|| t.column_names());
    let data: Vec<Vec<Cell>> = cols.iter().map(|c| t.cells(c)).collect::<Result<_, _>>()?;
    let header = cols.iter().map(|c| label(c)).collect();
    let body = rows
        .iter()
        .take(MAX_TABLE_ROWS)
        .map(|&i| data.iter().map(|col| fmt(&col[i])).collect())
        .collect();
    Ok((header, body, rows.len()))
}

#[cfg(test)]
mod tests;
