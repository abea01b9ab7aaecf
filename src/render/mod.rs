//! Stage 7, *render*: two backends of the report model (`crate::report`). The
//! [`html`] backend writes one self-contained HTML page (figures inline as SVG, math
//! as MathML) through the Tera templates; the [`pdf`] backend writes Typst markup and
//! typesets it. Both read the same numbers, captions, rows and outcomes from the
//! model; neither numbers anything nor fills an expression.
//!
//! Depends on the model and on nothing after it.

pub mod html;
pub mod math;
pub mod pdf;
pub mod prose;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::report::{Block, Chapter, Content, Report};
use html::*;
// Where the model's parts used to live; kept so callers can still name them here.
pub use crate::report::{figure_path, table_paths, DrawnFigure, MAX_TABLE_ROWS};

/// The report (or a handout: the model's edition) as one HTML page.
pub fn render_report(report: &Report, templates: &Templates) -> Result<String, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut chapters = Vec::new();
    let mut rows = Vec::new();
    for ch in &report.chapters {
        match render_chapter(ch, templates, &mut rows) {
            Ok(body) => {
                let mut view = ChapterView {
                    chapter: ch,
                    body,
                    html: String::new(),
                };
                match templates.render("chapter.html", "chapter", &view) {
                    Ok(h) => view.html = h,
                    Err(e) => diags.push(Diagnostic::new("templates/chapter.html", e)),
                }
                chapters.push(view);
            }
            Err(d) => diags.extend(d),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let view = ReportView {
        report,
        checks: ScorecardView {
            scorecard: &report.scorecard,
            rows,
        },
        chapters,
    };
    templates
        .render("layout.html", "", &view)
        .map_err(|e| Diagnostic::new("templates/layout.html", e).into())
}

fn render_chapter<'m>(
    ch: &'m Chapter,
    templates: &Templates,
    rows: &mut Vec<CheckView<'m>>,
) -> Result<String, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut body = String::new();
    for block in &ch.blocks {
        match render_block(ch, block, templates, rows) {
            Ok(h) => {
                body.push_str(&h);
                body.push('\n');
            }
            Err(d) => diags.extend(d),
        }
    }
    diags.finish(body)
}

fn render_block<'m>(
    ch: &'m Chapter,
    block: &'m Block,
    templates: &Templates,
    rows: &mut Vec<CheckView<'m>>,
) -> Result<String, Diagnostics> {
    let source = ch.source;
    let tpl = |name: &str, var: &str, value: &dyn View| template(templates, name, var, value);
    match &block.content {
        Content::Prose(text) => prose::markdown_to_html(text, source, block.line),
        Content::Experiment(e) => tpl("experiment.html", "experiment", e),
        Content::Figure(f) => {
            let panels = f
                .panels
                .iter()
                .map(|p| {
                    let caption = prose::inline_html(&p.caption, source, p.line)?;
                    Ok(PanelView::new(p, "caption", caption))
                })
                .collect::<Result<Vec<_>, Diagnostics>>()?;
            let view = FigureView {
                figure: f,
                svg: strip_xml_prolog(&f.svg),
                panels,
            };
            tpl("figure.html", "figure", &view)
        }
        Content::Table(t) => {
            let caption = prose::inline_html(&t.caption, source, block.line)?;
            let view = TableView::new(t, "caption", caption);
            tpl("table.html", "table", &view)
        }
        Content::Check(k) => {
            let claim = prose::inline_html(&k.claim, source, block.line)?;
            let view = CheckView::new(&**k, "claim_html", claim);
            let html = tpl("check.html", "check", &view);
            rows.push(view);
            html
        }
        Content::Exercise(x) => {
            let body = prose::markdown_to_html(&x.body, source, x.body_line)?;
            let view = ExerciseView::new(x, "body", body);
            tpl("exercise.html", "exercise", &view)
        }
    }
}

/// A view through a template; an error names the template's file.
fn template(
    templates: &Templates,
    name: &str,
    var: &str,
    value: &dyn View,
) -> Result<String, Diagnostics> {
    value
        .render_with(templates, name, var)
        .map_err(|e| Diagnostic::new(format!("templates/{name}"), e).into())
}

/// A view struct of any type, so one closure renders them all.
trait View {
    fn render_with(&self, templates: &Templates, name: &str, var: &str) -> Result<String, String>;
}

impl<T: serde::Serialize> View for T {
    fn render_with(&self, templates: &Templates, name: &str, var: &str) -> Result<String, String> {
        templates.render(name, var, self)
    }
}

/// The SVG's XML declaration is not allowed inside HTML.
fn strip_xml_prolog(svg: &str) -> String {
    match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => svg.to_string(),
    }
}
