//! Handouts, after stage 7 (*render*): the teaching editions of the report, built
//! from a chapter's fenced `exercise` and `solution` blocks.
//!
//! ````markdown
//! ```exercise
//! Show that $\sup_y L_r(y) = (r\mu)^2$. At $r = 1.5$ the table gives
//! {{ value(table="tp-summary", column="sup_l", where="r=1.5") | fixed(digits=3) }}.
//! ```
//!
//! ```solution
//! $L_r(y) = (r\mu)^2\operatorname{sech}^2(r\mu y)$ and $\operatorname{sech} \le 1$ …
//! ```
//! ````
//!
//! Unlike the other blocks these hold Markdown, not YAML: they are rendered like prose
//! (math, `{{ … }}` expressions). A solution answers the nearest exercise before it in
//! the same chapter. Validation (`crate::spec::handout`) hands a [`HandoutBlock`] to
//! the project; the report model (`crate::report`) numbers the exercises and leaves
//! out what an edition must not show; the HTML backend renders an exercise through
//! the `exercise.html` template (its variable `exercise` is a
//! [`crate::render::html::ExerciseView`]).
//!
//! An [`Edition`] says who a rendering is for: the report (everything, solutions
//! folded), the student handout (exercises, no solutions, no checks, no scorecard) and
//! the teacher's handout (everything, solutions open). `build --handout` writes both
//! handouts beside `report.html` ([`render_handouts`]): each edition is a model built
//! for it ([`crate::report::build`]) and rendered by the same backends as the report.
//!
//! Depends on the report model and the renderers; nothing depends on this module but
//! the pipeline and the command line.

use std::path::PathBuf;

use crate::diagnostic::Diagnostics;
use crate::project::{Item, Project};
use crate::render::html::Templates;
pub use crate::report::{Edition, Inputs};
pub use crate::spec::handout::{HandoutBlock, Role};

/// How many exercises the selected chapters hold.
pub fn exercise_count(project: &Project, selected: &[usize]) -> usize {
    selected
        .iter()
        .flat_map(|&i| project.chapters[i].items.iter())
        .filter(|i| matches!(i, Item::Handout(h) if h.role == Role::Exercise))
        .count()
}

/// The same inputs, for another edition (the PDF edition takes them as they are, so a
/// handout PDF is `pipeline::pdf_report(&for_edition(&inputs, edition), …)`).
pub fn for_edition<'a>(inp: &Inputs<'a>, edition: Edition) -> Inputs<'a> {
    inp.for_edition(edition)
}

/// The student and teacher handouts, as (file in the output folder, bytes).
pub fn render_handouts(
    inp: &Inputs,
    templates: &Templates,
) -> Result<Vec<(PathBuf, Vec<u8>)>, Diagnostics> {
    Edition::HANDOUTS
        .iter()
        .map(|&edition| {
            let report = crate::report::build(&inp.for_edition(edition))?;
            let html = crate::render::render_report(&report, templates)?;
            Ok((PathBuf::from(edition.file_name()), html.into_bytes()))
        })
        .collect()
}
