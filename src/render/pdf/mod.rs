//! Stage 7, *render*, the PDF edition: the same chapters, numbers, figures and checks
//! as `report.html`, typeset in-process by Typst (no LaTeX, no browser).
//!
//! Two halves with plain data between them:
//! - [`markup`] turns the report model (`report::Report`) into Typst source plus the
//!   figure SVGs as virtual files (a [`PdfSource`]); chapter Markdown and LaTeX math
//!   ([`latex`]) are converted here, and a construct that cannot be converted is
//!   shown as source and reported as a warning naming the chapter and construct;
//! - `typeset` (the Typst `World`, compile, `typst_pdf`; the module
//!   `crate::typesetter`, shared with the figure labels) turns a [`PdfSource`] into
//!   PDF bytes. It is the only part that depends on Typst.

pub mod markup;
// The typesetter is shared with the figure labels, so it lives outside `render`.
pub use crate::typesetter::{self as typeset, latex, source, source::PdfSource};
