//! Stage 7, *render*, the PDF edition: the same chapters, numbers, figures and checks
//! as `report.html`, typeset in-process by Typst (no LaTeX, no browser).
//!
//! Two halves with plain data between them:
//! - [`markup`] turns the render [`Inputs`](super::Inputs) into Typst source plus the
//!   figure SVGs as virtual files (a [`PdfSource`]); chapter Markdown and LaTeX math
//!   ([`latex`]) are converted here, and a construct that cannot be converted is
//!   shown as source and reported as a warning naming the chapter and construct;
//! - `typeset` (the Typst `World`, compile, `typst_pdf`) turns a [`PdfSource`] into
//!   PDF bytes. It is the only part that depends on Typst.

pub mod latex;
pub mod markup;
pub mod source;
pub mod typeset;

pub use source::PdfSource;
