//! The Typst engine, shared by stage 5 (*draw*: the labels of the figures are
//! typeset and written as outlines, `crate::figure::text`) and stage 7 (*render*, the
//! PDF backend's second half): a [`PdfSource`] typeset into PDF bytes, in process,
//! the embedded fonts, LaTeX math converted to Typst math ([`latex`]) and text
//! escaped for Typst markup ([`escape`]). This is the only module that depends on
//! Typst; it depends on nothing else of the crate, so both stages can use it.
//!
//! The Typst `World` here is closed: the fonts are the ones compiled into the binary
//! (`typst_assets::fonts()`: New Computer Modern text and math, Libertinus Serif, which
//! the figures use, and DejaVu Sans Mono), the only files are the main source and the
//! figure SVGs handed over in memory, and there is no package download, no system
//! font and no clock. So the same source gives the same PDF on every machine: the
//! generated source sets `document(date: none)`, [`World::today`] has no date to
//! give, and the PDF's identifier is fixed rather than random.
//!
//! Typst's errors are mapped to messages that name the construct (the offending
//! source text) and, through the `// chapters/…md:LINE` comments the markup writes
//! before every item, the chapter and line it came from.

use std::collections::HashMap;
use std::sync::OnceLock;

use typst::diag::{FileError, FileResult, Severity, SourceDiagnostic, Warned};
use typst::foundations::{Bytes, Datetime, Duration, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_pdf::PdfOptions;

pub mod escape;
pub mod latex;
pub mod source;

use source::PdfSource;

/// A typeset report.
pub struct Pdf {
    pub bytes: Vec<u8>,
    /// Typst's warnings (a glyph missing from every font, …), each naming its
    /// construct like the errors do. The PDF is complete; they are worth reading.
    pub warnings: Vec<String>,
}

/// Typeset `src` into a PDF. An error names the construct and, where known, the
/// chapter and line it came from.
pub fn typeset(src: &PdfSource) -> Result<Pdf, String> {
    let world = ReportWorld::new(src)?;
    let Warned { output, warnings } = typst::compile(&world);
    let warnings: Vec<String> = warnings.iter().map(|w| world.describe(w)).collect();
    // The document type (`typst_layout::PagedDocument`) is inferred from
    // `typst_pdf::pdf`, which saves a direct dependency on typst-layout.
    let document = output.map_err(|errors| world.describe_all(&errors))?;
    let options = PdfOptions {
        // A fixed identifier instead of one derived from the title, so an edition's
        // change of title does not matter and every build gives the same bytes.
        ident: Smart::Custom("diffrepro-report".into()),
        creator: Smart::Custom(Some(format!(
            "diffrepro {} (Typst)",
            env!("CARGO_PKG_VERSION")
        ))),
        ..PdfOptions::default()
    };
    let bytes =
        typst_pdf::pdf(&document, &options).map_err(|errors| world.describe_all(&errors))?;
    Ok(Pdf { bytes, warnings })
}

/// The embedded fonts, parsed once per process (shared with the figure labels).
pub(crate) fn fonts() -> &'static (LazyHash<FontBook>, Vec<Font>) {
    static FONTS: OnceLock<(LazyHash<FontBook>, Vec<Font>)> = OnceLock::new();
    FONTS.get_or_init(|| {
        let fonts: Vec<Font> = typst_assets::fonts()
            .flat_map(|data| Font::iter(Bytes::new(data)))
            .collect();
        (LazyHash::new(FontBook::from_fonts(&fonts)), fonts)
    })
}

pub(crate) fn library() -> &'static LazyHash<Library> {
    static LIBRARY: OnceLock<LazyHash<Library>> = OnceLock::new();
    LIBRARY.get_or_init(|| LazyHash::new(Library::default()))
}

/// A file id in the project root, for an absolute virtual path (`/main.typ`).
pub(crate) fn file_id(path: &str) -> Result<FileId, String> {
    let vpath =
        VirtualPath::new(path).map_err(|e| format!("invalid virtual path `{path}`: {e:?}"))?;
    Ok(RootedPath::new(VirtualRoot::Project, vpath).intern())
}

struct ReportWorld {
    main_id: FileId,
    main: Source,
    files: HashMap<FileId, Bytes>,
}

impl ReportWorld {
    fn new(src: &PdfSource) -> Result<ReportWorld, String> {
        let main_id = file_id("/main.typ")?;
        let mut files = HashMap::new();
        for (path, bytes) in &src.files {
            files.insert(file_id(path)?, Bytes::new(bytes.clone()));
        }
        Ok(ReportWorld {
            main_id,
            main: Source::new(main_id, src.main.clone()),
            files,
        })
    }

    fn describe_all(&self, diags: &[SourceDiagnostic]) -> String {
        let errors: Vec<String> = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| self.describe(d))
            .collect();
        format!(
            "typesetting the PDF failed ({} error{}):\n{}",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            errors.join("\n")
        )
    }

    /// "chapters/x.md:41: <message>, in `<construct>` (hint: …)".
    fn describe(&self, d: &SourceDiagnostic) -> String {
        let mut msg = String::new();
        let range = if d.span.id() == Some(self.main_id) {
            self.range(d.span)
        } else {
            None
        };
        if let Some(range) = range {
            let text = self.main.text();
            let origin = origin(text, range.start);
            msg.push_str(&origin);
            msg.push_str(": ");
            msg.push_str(&d.message);
            let _ = std::fmt::Write::write_fmt(
                &mut msg,
                format_args!(", in `{}`", construct(text, range)),
            );
        } else {
            msg.push_str(&d.message);
        }
        for hint in &d.hints {
            msg.push_str(" (hint: ");
            msg.push_str(&hint.v);
            msg.push(')');
        }
        msg
    }
}

/// The chapter location written before the item holding `offset`, else the line of
/// the generated source (the title page, contents and scorecard have no chapter).
fn origin(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    for line in before.lines().rev() {
        if let Some(loc) = line.strip_prefix("// ") {
            if loc.contains(".md:") && !loc.contains(' ') {
                return loc.to_string();
            }
        }
    }
    format!(
        "the generated front matter (line {} of the Typst source)",
        before.matches('\n').count() + 1
    )
}

/// The offending source text, on one line and at most 100 characters.
fn construct(text: &str, range: std::ops::Range<usize>) -> String {
    let s = text
        .get(range)
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if s.chars().count() > 100 {
        let head: String = s.chars().take(100).collect();
        format!("{head}…")
    } else {
        s
    }
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.get().vpath().get_with_slash().into())
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        library()
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &fonts().0
    }

    fn main(&self) -> FileId {
        self.main_id
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main_id {
            Ok(self.main.clone())
        } else if self.files.contains_key(&id) {
            Err(FileError::NotSource)
        } else {
            Err(not_found(id))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.main_id {
            return Ok(Bytes::from_string(self.main.text().to_string()));
        }
        self.files.get(&id).cloned().ok_or_else(|| not_found(id))
    }

    fn font(&self, index: usize) -> Option<Font> {
        fonts().1.get(index).cloned()
    }

    /// No clock: the report is dated by its provenance record, not by the PDF, so
    /// that two builds of the same chapters give identical bytes.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVG: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<svg width="300" height="120" viewBox="0 0 300 120" xmlns="http://www.w3.org/2000/svg">
<rect x="10" y="10" width="280" height="100" fill="none" stroke="black"/>
<polyline points="10,110 80,60 150,40 290,20" fill="none" stroke="#1f77b4" stroke-width="2"/>
<text x="150" y="100" font-family="Libertinus Serif, serif" font-size="14">s_r(u) δ</text>
</svg>"##;

    fn hand_written() -> PdfSource {
        PdfSource {
            main: r#"#set document(title: "t", date: none)
#set text(font: "New Computer Modern")
= Chapter <chapter-a>
// chapters/a.md:5
Text with $L_(r) \( y \) = frac(1, 2)$ and #link(<figure-f>)[Figure 1];.
#figure(image("/figures/a/f.svg", width: 80%), caption: [A figure.]) <figure-f>
"#
            .into(),
            files: vec![("/figures/a/f.svg".into(), SVG.as_bytes().to_vec())],
        }
    }

    #[test]
    fn typesets_a_source_with_a_figure_the_same_way_twice() {
        let pdf = typeset(&hand_written()).unwrap_or_else(|e| panic!("{e}"));
        assert!(pdf.bytes.starts_with(b"%PDF-"), "not a PDF");
        assert!(pdf.warnings.is_empty(), "{:?}", pdf.warnings);
        // No clock and no random identifier: the same source gives the same bytes.
        assert_eq!(typeset(&hand_written()).unwrap().bytes, pdf.bytes);
    }

    #[test]
    fn errors_name_the_chapter_line_and_construct() {
        let mut src = hand_written();
        src.main
            .push_str("// chapters/b.md:41\nBad #nosuchfunction(1) here.\n");
        let e = typeset(&src).err().expect("an unknown function must fail");
        assert!(e.contains("chapters/b.md:41"), "{e}");
        assert!(e.contains("nosuchfunction"), "{e}");
        let mut src = hand_written();
        src.files.clear();
        let e = typeset(&src).err().expect("a missing figure must fail");
        assert!(
            e.contains("chapters/a.md:5") && e.contains("/figures/a/f.svg"),
            "{e}"
        );
        let src = PdfSource {
            main: "#let x = (".into(),
            files: vec![],
        };
        let e = typeset(&src).err().expect("a syntax error must fail");
        assert!(e.contains("front matter"), "{e}");
    }

    /// Every name the LaTeX converter can write is a Typst built-in that compiles
    /// without a warning (a renamed or deprecated symbol would show here first).
    #[test]
    fn every_converted_construct_compiles_cleanly() {
        let mut main = String::from("#set page(height: auto)\n");
        for (i, latex) in super::latex::coverage().iter().enumerate() {
            let typst = super::latex::to_typst(latex).unwrap_or_else(|e| panic!("{latex}: {e}"));
            main.push_str(&format!(
                "// chapters/coverage.md:{i}\n$ {typst} $ and ${typst}$\n\n"
            ));
        }
        let pdf = typeset(&PdfSource {
            main,
            files: vec![],
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(pdf.warnings.is_empty(), "{:#?}", pdf.warnings);
    }
}
