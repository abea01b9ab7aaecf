//! The hand-over between the two halves of the PDF stage: `render::pdf::markup` writes a
//! [`PdfSource`], `typeset` compiles it. Plain data with no dependencies, so both
//! halves (and a test crate holding only the typesetter) can share this one file.

/// A Typst document: the main source and the files it reads, by path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PdfSource {
    /// The Typst source of the whole report (served as `/main.typ`).
    pub main: String,
    /// Files the source refers to by absolute path from the document root
    /// (`/figures/<chapter>/<id>.svg`), with their bytes.
    pub files: Vec<(String, Vec<u8>)>,
}
