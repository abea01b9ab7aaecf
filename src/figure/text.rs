//! Figure text, typeset by Typst: every label, legend entry, title, annotation and
//! tick label of a figure is set as its own small page in one Typst document per
//! figure, and each page comes back as SVG outlines (`typst-svg`) with its size and
//! baseline. The drawing code (`draw.rs`) lays the figure out with those sizes and
//! places the outlines.
//!
//! Labels are written as captions are: text with LaTeX math between dollar signs
//! (`$\zeta^*_M(t)$`, `$r$ = 1.50`), converted with the PDF's LaTeX converter
//! (`render/pdf/latex.rs`), so a figure's math looks like the caption beside it and
//! the same in the HTML, the PNG and the PDF. The glyphs are outlines, not `<text>`:
//! no font has to be installed anywhere the SVG is shown or rasterised.
//!
//! The fonts are those compiled into the binary (New Computer Modern and its math
//! companion, as in the PDF); the Typst world has no files, no packages and no clock.

use std::collections::BTreeMap;

use typst::diag::{FileError, FileResult, Warned};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::layout::{Frame, FrameItem, Point};
use typst::syntax::{FileId, Source};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, World};

use crate::typesetter::{self as typeset, escape, latex};

/// One typeset piece of text, in CSS pixels (1 pt of Typst = 1 px of the figure).
#[derive(Clone, Debug, PartialEq)]
pub struct Typeset {
    pub width: f64,
    pub height: f64,
    /// Distance from the top of the box down to the baseline.
    pub baseline: f64,
    /// SVG elements (glyph `<use>`s and rules) with the box's top-left at the origin;
    /// the glyph outlines they use are in [`Texts::defs`].
    pub body: String,
    /// The source as written, for the accessible name of the placed group.
    pub source: String,
}

/// The texts of one figure.
#[derive(Debug, Default)]
pub struct Texts {
    map: BTreeMap<(String, u32), Typeset>,
    /// Glyph outlines, each once, keyed by their id (a hash of the outline).
    defs: BTreeMap<String, String>,
}

/// A piece of text to typeset: its source (LaTeX-in-text, or Typst math when
/// `typst_math`) and its size in pixels.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Request {
    pub source: String,
    /// Font size in hundredths of a pixel (so requests can be ordered and deduplicated).
    pub size: u32,
    /// The source is Typst math already (tick labels), not LaTeX-in-text.
    pub typst_math: bool,
}

impl Request {
    pub fn latex(source: &str, size: f64) -> Request {
        Request {
            source: source.to_string(),
            size: (size * 100.0).round() as u32,
            typst_math: false,
        }
    }
    pub fn math(source: &str, size: f64) -> Request {
        Request {
            source: source.to_string(),
            size: (size * 100.0).round() as u32,
            typst_math: true,
        }
    }
}

impl Texts {
    /// The typeset text for `source` at `size` px; it must have been requested.
    pub fn get(&self, source: &str, size: f64) -> Option<&Typeset> {
        self.map
            .get(&(source.to_string(), (size * 100.0).round() as u32))
    }

    /// Every glyph outline used, as one `<defs>` element (empty when none).
    pub fn defs(&self) -> String {
        if self.defs.is_empty() {
            return String::new();
        }
        let mut s = String::from("<defs>");
        for d in self.defs.values() {
            s.push_str(d);
        }
        s.push_str("</defs>");
        s
    }
}

/// Typst markup for a label written as text with LaTeX math between `$` signs
/// (`\$` is a literal dollar sign).
pub fn label_markup(label: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut text = String::new();
    let mut math: Option<String> = None;
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'$') {
            chars.next();
            match &mut math {
                Some(m) => m.push_str("\\$"),
                None => text.push('$'),
            }
            continue;
        }
        if c == '$' {
            match math.take() {
                Some(m) => {
                    let t = latex::to_typst(&m).map_err(|e| format!("in `${m}$`: {e}"))?;
                    out.push('$');
                    out.push_str(&t);
                    out.push('$');
                }
                None => {
                    out.push_str(&escape::escape(&text));
                    text.clear();
                    math = Some(String::new());
                }
            }
            continue;
        }
        match &mut math {
            Some(m) => m.push(c),
            None => text.push(c),
        }
    }
    if math.is_some() {
        return Err(format!("unbalanced `$` in {label:?}"));
    }
    out.push_str(&escape::escape(&text));
    Ok(out)
}

const PRELUDE: &str = r##"#set document(date: none)
#set page(width: auto, height: auto, margin: 0pt, fill: none)
#set text(font: "New Computer Modern", fill: rgb("#141414"), top-edge: "ascender", bottom-edge: "descender", hyphenate: false)
#set par(justify: false)
#show math.equation: set text(font: "New Computer Modern Math")
"##;

/// Typeset every request (duplicates once) in one Typst run.
pub fn typeset_all(requests: &[Request]) -> Result<Texts, String> {
    let mut reqs: Vec<&Request> = requests.iter().collect();
    reqs.sort();
    reqs.dedup();
    let mut texts = Texts::default();
    if reqs.is_empty() {
        return Ok(texts);
    }
    let mut main = String::from(PRELUDE);
    for r in &reqs {
        let body = if r.typst_math {
            format!("${}$", r.source)
        } else {
            label_markup(&r.source).map_err(|e| format!("label {:?}: {e}", r.source))?
        };
        // An empty label still makes a page (of zero width), so pages and requests
        // stay in step.
        main.push_str(&format!(
            "#page(text(size: {}pt)[{}#h(0pt)])\n",
            f64::from(r.size) / 100.0,
            body
        ));
    }
    let world = LabelWorld::new(main)?;
    let Warned { output, .. } = typst::compile::<typst_layout::PagedDocument>(&world);
    let doc = output.map_err(|errors| {
        let msgs: Vec<String> = errors.iter().map(|e| e.message.to_string()).collect();
        format!("typesetting the figure's text failed: {}", msgs.join("; "))
    })?;
    if doc.pages().len() != reqs.len() {
        return Err(format!(
            "typesetting the figure's text gave {} pages for {} labels",
            doc.pages().len(),
            reqs.len()
        ));
    }
    let opts = typst_svg::SvgOptions::default();
    for (r, page) in reqs.iter().zip(doc.pages()) {
        let svg = typst_svg::svg(page, &opts);
        let body = split_svg(&svg, &mut texts.defs)?;
        let size = page.frame.size();
        let baseline = baseline(&page.frame).unwrap_or(size.y.to_pt() * 0.78);
        texts.map.insert(
            (r.source.clone(), r.size),
            Typeset {
                width: size.x.to_pt(),
                height: size.y.to_pt(),
                baseline,
                body,
                source: r.source.clone(),
            },
        );
    }
    Ok(texts)
}

/// The baseline of a one-line frame: that of its first run of text at the largest
/// size (a superscript or subscript is smaller and sits off the baseline).
fn baseline(frame: &Frame) -> Option<f64> {
    fn walk(frame: &Frame, origin: Point, out: &mut Vec<(f64, f64)>) {
        for (pos, item) in frame.items() {
            let p = origin + *pos;
            match item {
                FrameItem::Group(g) => {
                    let t = Point::new(g.transform.tx, g.transform.ty);
                    walk(&g.frame, p + t, out);
                }
                FrameItem::Text(t) => out.push((t.size.to_pt(), p.y.to_pt())),
                _ => {}
            }
        }
    }
    let mut runs = Vec::new();
    walk(frame, Point::zero(), &mut runs);
    let biggest = runs.iter().map(|r| r.0).fold(0.0, f64::max);
    runs.iter()
        .find(|r| (r.0 - biggest).abs() < 1e-6)
        .map(|r| r.1)
}

/// The drawing of one page's SVG, with its `<defs>` children moved into `defs`
/// (their ids are hashes of their content, so equal ids are equal outlines).
fn split_svg(svg: &str, defs: &mut BTreeMap<String, String>) -> Result<String, String> {
    let bad = || "unexpected SVG from the typesetter".to_string();
    let open = svg.find("<svg").ok_or_else(bad)?;
    let start = open + svg[open..].find('>').ok_or_else(bad)? + 1;
    let end = svg.rfind("</svg>").ok_or_else(bad)?;
    let mut inner = &svg[start..end];
    let mut body = String::new();
    while let Some(d) = inner.find("<defs") {
        body.push_str(&inner[..d]);
        let rest = &inner[d..];
        let open_end = rest.find('>').ok_or_else(bad)? + 1;
        let close = rest.find("</defs>").ok_or_else(bad)?;
        let mut children = &rest[open_end..close];
        // Children are elements with an id, one after another.
        while let Some(lt) = children.find('<') {
            children = &children[lt..];
            let name_end = children
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .ok_or_else(bad)?;
            let name = &children[1..name_end];
            let close_tag = format!("</{name}>");
            let elem_end = match children.find(&close_tag) {
                Some(i) => i + close_tag.len(),
                None => children.find("/>").ok_or_else(bad)? + 2,
            };
            let elem = &children[..elem_end];
            let id = elem
                .split("id=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .ok_or_else(bad)?;
            defs.entry(id.to_string())
                .or_insert_with(|| elem.to_string());
            children = &children[elem_end..];
        }
        inner = &rest[close + "</defs>".len()..];
    }
    body.push_str(inner);
    Ok(body)
}

struct LabelWorld {
    main_id: FileId,
    main: Source,
}

impl LabelWorld {
    fn new(text: String) -> Result<LabelWorld, String> {
        let main_id = typeset::file_id("/labels.typ")?;
        Ok(LabelWorld {
            main_id,
            main: Source::new(main_id, text),
        })
    }
}

impl World for LabelWorld {
    fn library(&self) -> &LazyHash<Library> {
        typeset::library()
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &typeset::fonts().0
    }

    fn main(&self) -> FileId {
        self.main_id
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main_id {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, _id: FileId) -> FileResult<Bytes> {
        Err(FileError::AccessDenied)
    }

    fn font(&self, index: usize) -> Option<Font> {
        typeset::fonts().1.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_mix_text_and_math() {
        assert_eq!(label_markup("plain").unwrap(), "plain");
        let m = label_markup(r"$\zeta^*_M(t)$").unwrap();
        assert!(m.starts_with('$') && m.contains("ζ"), "{m}");
        assert!(!m.contains("zeta"), "{m}");
        let m = label_markup("$r$ = 1.50").unwrap();
        assert!(m.ends_with(r" \= 1.50"), "{m}");
        assert!(label_markup("$x").is_err());
        assert_eq!(label_markup(r"costs \$5").unwrap(), r"costs \$5");
    }

    #[test]
    fn math_is_typeset_as_outlines_with_a_baseline() {
        let reqs = [
            Request::latex(r"$\zeta^*_M(t)$", 14.0),
            Request::latex("u", 14.0),
            Request::math("-0.5", 12.0),
            Request::latex("u", 14.0),
        ];
        let t = typeset_all(&reqs).unwrap();
        let z = t.get(r"$\zeta^*_M(t)$", 14.0).unwrap();
        let u = t.get("u", 14.0).unwrap();
        assert!(z.width > 3.0 * u.width, "{} vs {}", z.width, u.width);
        assert!(z.baseline > 0.5 * z.height && z.baseline < z.height);
        assert!(z.body.contains("<use"), "{}", z.body);
        assert!(!z.body.contains("<text"));
        let defs = t.defs();
        assert!(defs.starts_with("<defs>") && defs.contains("<symbol"));
        // Every glyph used is defined once.
        for id in z.body.split("href=\"#").skip(1) {
            let id = id.split('"').next().unwrap();
            assert_eq!(defs.matches(&format!("id=\"{id}\"")).count(), 1, "{id}");
        }
        assert!(t.get("-0.5", 12.0).is_some());
        assert!(typeset_all(&[Request::latex(r"$\frac{1$", 12.0)]).is_err());
    }
}
