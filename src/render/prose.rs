//! Stage 7, *render* (HTML): the model's Markdown (prose, captions, claims, with `$…$`
//! math) to HTML with MathML. Headings move down one level; raw HTML is escaped.

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag};

use crate::chapter::Chapter;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::report::prose::position;

/// Markdown (with `$…$` / `$$…$$` math) to HTML. Headings move down one level, so a
/// chapter's `##` sections sit under the chapter title; raw HTML is escaped.
pub fn markdown_to_html(
    text: &str,
    chapter: &Chapter,
    first_line: usize,
) -> Result<String, Diagnostics> {
    let opts = Options::ENABLE_MATH
        | Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH;
    let mut diags = Diagnostics::default();
    let mut events = Vec::new();
    for (ev, range) in Parser::new_ext(text, opts).into_offset_iter() {
        let ev = match ev {
            Event::InlineMath(m) | Event::DisplayMath(m) => {
                let display = text[range.clone()].starts_with("$$");
                match super::math::to_mathml(&m, display) {
                    Ok(html) => Event::Html(CowStr::from(html)),
                    Err(e) => {
                        let (line, col) = position(text, range.start, first_line);
                        diags.push(
                            Diagnostic::new(&chapter.path, format!("cannot typeset math: {e}"))
                                .at(&chapter.source, line, col)
                                .hint("check the LaTeX between the dollar signs"),
                        );
                        Event::Text(m)
                    }
                }
            }
            Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => Event::Start(Tag::Heading {
                level: demote(level),
                id,
                classes,
                attrs,
            }),
            Event::End(pulldown_cmark::TagEnd::Heading(level)) => {
                Event::End(pulldown_cmark::TagEnd::Heading(demote(level)))
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let lower = dest_url.trim().to_ascii_lowercase();
                let safe = !(lower.starts_with("javascript:")
                    || lower.starts_with("data:")
                    || lower.starts_with("vbscript:"));
                Event::Start(Tag::Link {
                    link_type,
                    dest_url: if safe { dest_url } else { CowStr::from("#") },
                    title,
                    id,
                })
            }
            Event::Start(Tag::Image { .. }) | Event::End(pulldown_cmark::TagEnd::Image) => {
                // Images would fetch from the network or the disk when the report is
                // opened; the report is self-contained, so they are not supported.
                continue;
            }
            other => other,
        };
        events.push(ev);
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    diags.finish(html)
}

fn demote(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H2,
        HeadingLevel::H2 => HeadingLevel::H3,
        HeadingLevel::H3 => HeadingLevel::H4,
        HeadingLevel::H4 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

/// Inline Markdown (captions, claims): one paragraph, without the `<p>` wrapper.
pub fn inline_html(text: &str, chapter: &Chapter, line: usize) -> Result<String, Diagnostics> {
    let html = markdown_to_html(text, chapter, line)?;
    let trimmed = html.trim();
    Ok(trimmed
        .strip_prefix("<p>")
        .and_then(|s| s.strip_suffix("</p>"))
        .unwrap_or(trimmed)
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chapter() -> Chapter {
        Chapter::parse("c.md", "---\nid: c\ntitle: C\n---\nx\n".to_string()).unwrap()
    }

    #[test]
    fn markdown_math_and_escaping() {
        let ch = chapter();
        let h = markdown_to_html("## Sec\n\nLet $x^2$ be <script>alert(1)</script> [a](javascript:x).\n\n$$\\frac{1}{2}$$\n", &ch, 1).unwrap();
        assert!(h.contains("<h3>Sec</h3>"), "{h}");
        assert!(h.contains("<math"), "{h}");
        assert!(h.contains("&lt;script&gt;"), "{h}");
        assert!(!h.contains("javascript:"), "{h}");
        assert!(h.contains("display=\"block\""), "{h}");
        let e = markdown_to_html("bad $\\frac{1}$ here", &ch, 7).unwrap_err();
        assert_eq!(e.0[0].line, 7);
    }
}
