//! Stage 7, *render*: the project, its results, figures and check outcomes become
//! one self-contained HTML page (figures inline as SVG, math as MathML).
//!
//! Numbering (chapters, figures, tables, checks) is assigned here, in report order,
//! and shared with prose through `ref(id=…)`.

pub mod html;
pub mod math;
pub mod pdf;
pub mod prose;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::check::{CheckOutcome, Status};
use crate::diagnostic::Diagnostics;
use crate::project::{ChapterSpec, Item, Project};
use crate::spec::table::TableBlock;
use crate::table::{format_number, Cell, Results, Table};
use html::*;
use prose::{ProseEnv, RefTarget};

/// Most rows a table block shows (the data files hold all of them).
pub const MAX_TABLE_ROWS: usize = 200;

/// A drawn figure, as the pipeline hands it over.
pub struct DrawnFigure {
    pub svg: String,
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

/// Which chapter produced each table (for data paths).
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

/// Number every referable item in report order.
pub fn numbering(project: &Project) -> BTreeMap<String, RefTarget> {
    let mut refs = BTreeMap::new();
    let (mut nf, mut nt, mut nc) = (0, 0, 0);
    // Multi-panel figures: their number and how many panels are numbered so far.
    let mut groups: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (ci, ch) in project.chapters.iter().enumerate() {
        refs.insert(
            ch.id().to_string(),
            RefTarget {
                label: format!("Chapter {}", ci + 1),
                anchor: format!("chapter-{}", ch.id()),
            },
        );
        for item in &ch.items {
            let (label, id, anchor) = match item {
                Item::Figure(f) => match &f.panel_of {
                    Some(g) => {
                        let (number, panels) = groups.entry(g.clone()).or_insert_with(|| {
                            nf += 1;
                            refs.insert(
                                g.clone(),
                                RefTarget {
                                    label: format!("Figure {nf}"),
                                    anchor: format!("figure-{g}"),
                                },
                            );
                            (nf, 0)
                        });
                        let letter = crate::figure::panel_letter(*panels);
                        *panels += 1;
                        (
                            format!("Figure {number}({letter})"),
                            &f.id,
                            format!("figure-{}", f.id),
                        )
                    }
                    None => {
                        nf += 1;
                        (format!("Figure {nf}"), &f.id, format!("figure-{}", f.id))
                    }
                },
                Item::Table(t) => {
                    nt += 1;
                    (format!("Table {nt}"), &t.id, format!("table-{}", t.id))
                }
                Item::Check(c) => {
                    nc += 1;
                    (format!("Check {nc}"), &c.id, format!("check-{}", c.id))
                }
                Item::Experiment(e) => (
                    format!("experiment {}", e.id),
                    &e.id,
                    format!("experiment-{}", e.id),
                ),
                Item::Prose(_) | Item::Handout(_) => continue,
            };
            refs.insert(id.clone(), RefTarget { label, anchor });
        }
    }
    refs
}

pub(crate) fn number_of(refs: &BTreeMap<String, RefTarget>, id: &str) -> usize {
    refs.get(id)
        .and_then(|r| r.label.rsplit(' ').next())
        .and_then(|n| {
            let digits: String = n.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// What a figure block shows where it stands: itself (its own id and one panel), a
/// multi-panel figure (the group's id and every member) where the first member
/// stands, or nothing for the later members (they are drawn with the first).
pub(crate) fn figure_at<'a>(
    ch: &'a ChapterSpec,
    f: &'a crate::spec::figure::FigureSpec,
) -> Option<(String, Vec<&'a crate::spec::figure::FigureSpec>)> {
    let Some(g) = &f.panel_of else {
        return Some((f.id.clone(), vec![f]));
    };
    let group = crate::figure::groups(ch.figures())
        .into_iter()
        .find(|x| &x.id == g)?;
    (group.members.first().map(|m| &m.id) == Some(&f.id)).then_some((group.id, group.members))
}

/// The figure block's YAML as written in the chapter (fences excluded).
pub(crate) fn figure_source(chapter: &crate::chapter::Chapter, line: usize) -> String {
    chapter
        .source
        .lines()
        .skip(line)
        .take_while(|l| !l.trim_start().starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Everything the renderer needs from the earlier stages.
pub struct Inputs<'a> {
    pub project: &'a Project,
    /// Indices of the chapters to render (numbering is that of the whole project).
    pub selected: &'a [usize],
    pub results: Arc<Results>,
    pub figures: &'a BTreeMap<String, DrawnFigure>,
    pub outcomes: &'a BTreeMap<String, CheckOutcome>,
    /// Software, machine, date and per-experiment records (the only run-dependent part).
    pub provenance: &'a crate::provenance::Provenance,
    pub templates: &'a Templates,
    /// Who the page is for: the report, or a student's or teacher's handout.
    pub edition: crate::handout::Edition,
}

/// The numbering and the prose environment (every `{{ … }}` function, findings
/// included) that each edition of the report renders prose with.
pub fn prose_env(inp: &Inputs) -> (Arc<BTreeMap<String, RefTarget>>, ProseEnv) {
    let refs = Arc::new(numbering(inp.project));
    let outcomes = Arc::new(inp.outcomes.clone());
    let mut env = ProseEnv::new(inp.results.clone(), refs.clone(), outcomes.clone());
    env.enable_findings(outcomes, refs.clone(), Arc::new(chapter_infos(inp.project)));
    (refs, env)
}

pub fn render_report(inp: &Inputs) -> Result<String, Diagnostics> {
    let (refs, mut env) = prose_env(inp);
    let paths = table_paths(inp.project);
    let mut diags = Diagnostics::default();
    let mut chapters = Vec::new();
    let mut score_rows = Vec::new();
    for &ci in inp.selected {
        let ch = &inp.project.chapters[ci];
        let number = ci + 1;
        let anchor = format!("chapter-{}", ch.id());
        match render_chapter(
            inp,
            ch,
            number,
            &anchor,
            &mut env,
            &refs,
            &paths,
            &mut score_rows,
        ) {
            Ok(body) => {
                let mut view = ChapterView {
                    number,
                    id: ch.id().to_string(),
                    anchor,
                    title: ch.chapter.front.title.clone(),
                    paper_refs: ch.chapter.front.paper_refs.clone(),
                    body,
                    html: String::new(),
                };
                match inp.templates.render("chapter.html", "chapter", &view) {
                    Ok(h) => view.html = h,
                    Err(e) => diags.push(crate::diagnostic::Diagnostic::new(
                        "templates/chapter.html",
                        e,
                    )),
                }
                chapters.push(view);
            }
            Err(d) => diags.extend(d),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let count = |s: Status| inp.outcomes.values().filter(|o| o.status == s).count();
    let chapter_scores = chapters
        .iter()
        .filter_map(|c| {
            let mine: Vec<&CheckView> = score_rows
                .iter()
                .filter(|r| r.chapter_anchor == c.anchor)
                .collect();
            let n = |w: &str| mine.iter().filter(|r| r.status == w).count();
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
    let report = ReportView {
        title: inp
            .edition
            .title("Denoising Diffusions with Optimal Transport — an executable companion"),
        edition: inp.edition.name().into(),
        version: env!("CARGO_PKG_VERSION").into(),
        paper: PaperRef::this_paper(),
        fidelity: inp.provenance.fidelity.clone(),
        provenance: inp.provenance.clone(),
        checks: ScorecardView {
            total: inp.outcomes.len(),
            reproduced: count(Status::Reproduced),
            discrepancy: count(Status::Discrepancy),
            failed: count(Status::Failed),
            bases: crate::check::tally_by_basis(inp.outcomes.values()),
            candidates: crate::check::CandidateTally::of(inp.outcomes.values()),
            chapters: chapter_scores,
            rows: score_rows,
        },
        chapters,
    };
    inp.templates
        .render("layout.html", "", &report)
        .map_err(|e| crate::diagnostic::Diagnostic::new("templates/layout.html", e).into())
}

#[allow(clippy::too_many_arguments)]
fn render_chapter(
    inp: &Inputs,
    ch: &ChapterSpec,
    number: usize,
    anchor: &str,
    env: &mut ProseEnv,
    refs: &BTreeMap<String, RefTarget>,
    paths: &BTreeMap<String, (String, String)>,
    score_rows: &mut Vec<CheckView>,
) -> Result<String, Diagnostics> {
    let chapter = &ch.chapter;
    let mut diags = Diagnostics::default();
    let mut body = String::new();
    let tpl_err = |e: String| crate::diagnostic::Diagnostic::new("templates", e);
    // Captions and claims may quote numbers and use math, like prose.
    let inline = |env: &mut ProseEnv, text: &str, line: usize| -> Result<String, Diagnostics> {
        let p = crate::chapter::Prose {
            text: text.to_string(),
            line,
        };
        let expanded = env.expand(chapter, &p)?;
        prose::inline_html(&expanded, chapter, line)
    };
    for item in &ch.items {
        let piece: Result<String, Diagnostics> = match item {
            Item::Prose(p) => env
                .expand(chapter, p)
                .and_then(|t| prose::markdown_to_html(&t, chapter, p.line)),
            Item::Experiment(e) => {
                let view = ExperimentView {
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
                            csv: paths[&s.name].0.clone(),
                            parquet: paths[&s.name].1.clone(),
                        })
                        .collect(),
                };
                inp.templates
                    .render("experiment.html", "experiment", &view)
                    .map_err(|e| tpl_err(e).into())
            }
            Item::Figure(f) => match figure_at(ch, f) {
                None => Ok(String::new()),
                Some((id, members)) => {
                    let drawn = &inp.figures[&id];
                    let grouped = f.panel_of.is_some();
                    let panels: Result<Vec<PanelView>, Diagnostics> = members
                        .iter()
                        .enumerate()
                        .map(|(k, m)| {
                            let caption = inline(env, &m.caption, m.line)?;
                            Ok(PanelView {
                                id: m.id.clone(),
                                letter: grouped.then(|| crate::figure::panel_letter(k).to_string()),
                                anchor: grouped.then(|| format!("figure-{}", m.id)),
                                caption,
                                table: m.table.clone(),
                                csv: paths[&m.table].0.clone(),
                                parquet: paths[&m.table].1.clone(),
                                spec_location: format!("{}:{}", chapter.path.display(), m.line),
                                spec: figure_source(chapter, m.line),
                                experiment_anchor: producer_anchor(inp.project, &m.table),
                                paper_panel: m.paper_panel.clone(),
                                verdict: inp
                                    .edition
                                    .shows_checks()
                                    .then(|| figure_verdict(inp, refs, m))
                                    .flatten(),
                            })
                        })
                        .collect();
                    panels.and_then(|panels| {
                        let view = FigureView {
                            number: number_of(refs, &id),
                            anchor: format!("figure-{id}"),
                            id: id.clone(),
                            svg: strip_xml_prolog(&drawn.svg),
                            svg_file: figure_path(ch.id(), &id, "svg"),
                            png_file: figure_path(ch.id(), &id, "png"),
                            width: drawn.width,
                            panels,
                        };
                        inp.templates
                            .render("figure.html", "figure", &view)
                            .map_err(|e| tpl_err(e).into())
                    })
                }
            },
            Item::Table(t) => inline(env, &t.caption, t.line).and_then(|caption| {
                let table = inp.results.table(&t.table).map_err(|e| {
                    Diagnostics::from(crate::diagnostic::Diagnostic::new(&chapter.path, e))
                })?;
                let (header, rows, total) = table_rows(t, table).map_err(|e| {
                    Diagnostics::from(crate::diagnostic::Diagnostic::new(&chapter.path, e).at(
                        &chapter.source,
                        t.line,
                        1,
                    ))
                })?;
                let view = TableView {
                    number: number_of(refs, &t.id),
                    id: t.id.clone(),
                    anchor: format!("table-{}", t.id),
                    caption,
                    truncated: total > rows.len(),
                    header,
                    rows,
                    total_rows: total,
                    csv: paths[&t.table].0.clone(),
                    parquet: paths[&t.table].1.clone(),
                };
                inp.templates
                    .render("table.html", "table", &view)
                    .map_err(|e| tpl_err(e).into())
            }),
            Item::Handout(h) => crate::handout::render_block(inp, ch, h, env),
            Item::Check(_) if !inp.edition.shows_checks() => Ok(String::new()),
            Item::Check(c) => inline(env, &c.claim, c.line).and_then(|claim_html| {
                let o = &inp.outcomes[&c.id];
                let mut view =
                    CheckView::new(o, number_of(refs, &c.id), number, anchor, claim_html);
                view.paper_ref_anchor = panel_anchor(inp, &o.paper_ref);
                score_rows.push(view.clone());
                inp.templates
                    .render("check.html", "check", &view)
                    .map_err(|e| tpl_err(e).into())
            }),
        };
        match piece {
            Ok(h) => {
                body.push_str(&h);
                body.push('\n');
            }
            Err(d) => diags.extend(d),
        }
    }
    diags.finish(body)
}

/// What the checks on the paper's panel of figure `f` say, with links to the checks
/// that did not reproduce.
pub(crate) fn figure_verdict(
    inp: &Inputs,
    refs: &BTreeMap<String, RefTarget>,
    f: &crate::spec::figure::FigureSpec,
) -> Option<VerdictView> {
    let panel = f.paper_panel.as_deref()?;
    let v = crate::check::panel_verdict(inp.outcomes.values(), panel);
    Some(VerdictView {
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
/// the paper's panel a check is about ("Figure 10(c)"), among the rendered chapters.
pub(crate) fn panel_anchor(inp: &Inputs, paper_ref: &str) -> Option<String> {
    let panel = paper_ref.trim().strip_prefix("Figure ")?.trim();
    inp.selected
        .iter()
        .flat_map(|&i| inp.project.chapters[i].figures())
        .find(|f| f.paper_panel.as_deref() == Some(panel))
        .map(|f| format!("figure-{}", f.id))
}

/// Every chapter's id, title, anchor and paper references, for findings.
pub fn chapter_infos(project: &Project) -> Vec<prose::ChapterInfo> {
    project
        .chapters
        .iter()
        .map(|c| prose::ChapterInfo {
            id: c.id().to_string(),
            title: c.chapter.front.title.clone(),
            anchor: format!("chapter-{}", c.id()),
            paper_refs: c.chapter.front.paper_refs.clone(),
        })
        .collect()
}

/// Anchor of the experiment block that produces `table`.
pub(crate) fn producer_anchor(project: &Project, table: &str) -> String {
    project
        .experiments()
        .find(|(_, e)| e.outputs.iter().any(|s| s.name == table))
        .map(|(_, e)| format!("experiment-{}", e.id))
        .unwrap_or_default()
}

/// The SVG's XML declaration is not allowed inside HTML.
fn strip_xml_prolog(svg: &str) -> String {
    match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => svg.to_string(),
    }
}

/// A table block's header, formatted rows (at most [`MAX_TABLE_ROWS`]) and total row count.
type TableRows = (Vec<String>, Vec<Vec<String>>, usize);

/// Header and formatted rows of a table block (plain or pivoted), and the total row count.
pub(crate) fn table_rows(b: &TableBlock, t: &Table) -> Result<TableRows, String> {
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
