//! Handouts, between stage 2 (*validate*) and stage 7 (*render*): the fenced
//! `exercise` and `solution` blocks of a chapter, and the editions of the report
//! built from them.
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
//! the same chapter. Validation hands a [`HandoutBlock`] to the project; rendering
//! ([`render_block`]) turns it into HTML through the `exercise.html` template, whose
//! variable `exercise` is an [`ExerciseView`].
//!
//! An [`Edition`] says who a rendering is for: the report (everything, solutions
//! folded), the student handout (exercises, no solutions, no checks, no scorecard) and
//! the teacher's handout (everything, solutions open). `build --handout` writes both
//! handouts beside `report.html` ([`render_handouts`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::chapter::{BlockKind, Prose};
use crate::diagnostic::Diagnostics;
use crate::project::{ChapterSpec, Item, Project};
use crate::render::prose::{self, ProseEnv};
use crate::render::Inputs;
use crate::spec::BlockCtx;

/// What a handout block is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Exercise,
    Solution,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Exercise => "exercise",
            Role::Solution => "solution",
        }
    }
}

/// A validated `exercise` or `solution` block.
#[derive(Clone, Debug, PartialEq)]
pub struct HandoutBlock {
    pub role: Role,
    /// The Markdown inside the fences, positioned at its first line in the file.
    pub prose: Prose,
    /// 1-based line of the opening fence.
    pub line: usize,
}

/// Validate an `exercise` or `solution` block; `before` holds the chapter's items so
/// far (a solution needs an exercise there that has no solution yet).
pub fn validate(ctx: &mut BlockCtx, before: &[Item]) -> Option<HandoutBlock> {
    let role = match ctx.block.kind {
        BlockKind::Exercise => Role::Exercise,
        BlockKind::Solution => Role::Solution,
        other => {
            // Only the two handout kinds are routed here by the project.
            ctx.error(
                "",
                format!("a {} block is not a handout block", other.name()),
            );
            return None;
        }
    };
    let block = ctx.block;
    if block.body.trim().is_empty() {
        let d = block
            .diagnostic(ctx.chapter, 0, 0, format!("empty {} block", role.name()))
            .hint(match role {
                Role::Exercise => "write the question in Markdown between the fences",
                Role::Solution => "write the answer in Markdown between the fences",
            });
        ctx.diags.push(d);
        return None;
    }
    if role == Role::Solution {
        let previous = before.iter().rev().find_map(|i| match i {
            Item::Handout(h) => Some(h),
            _ => None,
        });
        match previous {
            None => {
                let d = block
                    .diagnostic(ctx.chapter, 0, 0, "this solution has no exercise before it")
                    .hint("put the `solution` block after the `exercise` block it answers, in the same chapter");
                ctx.diags.push(d);
                return None;
            }
            Some(h) if h.role == Role::Solution => {
                let d = block
                    .diagnostic(
                        ctx.chapter,
                        0,
                        0,
                        format!(
                            "the exercise before this solution already has one (the solution at line {})",
                            h.line
                        ),
                    )
                    .hint("put the whole answer in one `solution` block, or add the `exercise` it answers");
                ctx.diags.push(d);
                return None;
            }
            Some(_) => {}
        }
    }
    Some(HandoutBlock {
        role,
        prose: Prose {
            text: block.body.clone(),
            line: block.body_line,
        },
        line: block.fence_line,
    })
}

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

/// The `exercise.html` template's variable `exercise`.
#[derive(Serialize)]
pub struct ExerciseView {
    /// `exercise` or `solution`.
    pub role: &'static str,
    /// The exercise's number in the whole report (a solution carries its exercise's).
    pub number: usize,
    /// `exercise-3`, or `solution-3` for its solution.
    pub anchor: String,
    /// The rendered Markdown (print with `| safe`).
    pub body: String,
    /// `report`, `student` or `teacher`.
    pub edition: &'static str,
    /// Whether a solution is shown unfolded (the teacher's handout).
    pub open: bool,
}

/// Number every exercise in report order; a solution gets the number of the exercise
/// it answers. Keyed by (chapter id, fence line).
pub fn numbering(project: &Project) -> BTreeMap<(String, usize), usize> {
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

/// Render one handout block for `inp.edition` (a solution in the student edition is
/// left out entirely).
pub fn render_block(
    inp: &Inputs,
    ch: &ChapterSpec,
    block: &HandoutBlock,
    env: &mut ProseEnv,
) -> Result<String, Diagnostics> {
    if block.role == Role::Solution && !inp.edition.shows_solutions() {
        return Ok(String::new());
    }
    let chapter = &ch.chapter;
    let expanded = env.expand(chapter, &block.prose)?;
    let body = prose::markdown_to_html(&expanded, chapter, block.prose.line)?;
    let number = numbering(inp.project)
        .get(&(ch.id().to_string(), block.line))
        .copied()
        .unwrap_or(0);
    let view = ExerciseView {
        role: block.role.name(),
        number,
        anchor: format!("{}-{number}", block.role.name()),
        body,
        edition: inp.edition.name(),
        open: inp.edition == Edition::Teacher,
    };
    inp.templates
        .render("exercise.html", "exercise", &view)
        .map_err(|e| crate::diagnostic::Diagnostic::new("templates/exercise.html", e).into())
}

/// How many exercises the selected chapters hold.
pub fn exercise_count(project: &Project, selected: &[usize]) -> usize {
    selected
        .iter()
        .flat_map(|&i| project.chapters[i].items.iter())
        .filter(|i| matches!(i, Item::Handout(h) if h.role == Role::Exercise))
        .count()
}

/// The same inputs, for another edition (the PDF edition takes them as they are:
/// `pdf::markup` honours `edition` too, so a handout PDF is
/// `pipeline::pdf_report(&for_edition(&inputs, edition), …)`).
pub fn for_edition<'a>(inp: &Inputs<'a>, edition: Edition) -> Inputs<'a> {
    Inputs {
        project: inp.project,
        selected: inp.selected,
        results: inp.results.clone(),
        figures: inp.figures,
        outcomes: inp.outcomes,
        provenance: inp.provenance,
        templates: inp.templates,
        edition,
    }
}

/// The student and teacher handouts, as (file in the output folder, bytes).
pub fn render_handouts(inp: &Inputs) -> Result<Vec<(PathBuf, Vec<u8>)>, Diagnostics> {
    Edition::HANDOUTS
        .iter()
        .map(|&edition| {
            let html = crate::render::render_report(&for_edition(inp, edition))?;
            Ok((PathBuf::from(edition.file_name()), html.into_bytes()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapter::{Chapter, Segment};

    fn items(src: &str) -> Result<Vec<Item>, Diagnostics> {
        let ch = Chapter::parse("c.md", src.to_string()).unwrap();
        let root = std::path::Path::new(".");
        let mut items = Vec::new();
        let mut diags = Diagnostics::default();
        for seg in &ch.segments {
            if let Segment::Block(b) = seg {
                let mut ctx = BlockCtx::new(&ch, b, root);
                if let Some(h) = validate(&mut ctx, &items) {
                    items.push(Item::Handout(h));
                }
                diags.extend(ctx.diags);
            }
        }
        diags.finish(items)
    }

    const HEAD: &str = "---\nid: c\ntitle: C\n---\n";

    #[test]
    fn exercises_and_solutions_pair_up() {
        let src = format!(
            "{HEAD}Intro.\n\n```exercise\nCompute $x$.\n```\n\n```solution\nIt is {{{{ 1 + 1 }}}}.\n```\n"
        );
        let got = items(&src).unwrap();
        assert_eq!(got.len(), 2);
        match (&got[0], &got[1]) {
            (Item::Handout(e), Item::Handout(s)) => {
                assert_eq!(e.role, Role::Exercise);
                assert_eq!(e.prose.text, "Compute $x$.\n");
                assert_eq!(e.line, 7);
                assert_eq!(e.prose.line, 8);
                assert_eq!(s.role, Role::Solution);
            }
            _ => panic!("expected two handout blocks"),
        }
    }

    #[test]
    fn a_solution_needs_its_own_exercise() {
        let lone = format!("{HEAD}```solution\nForty-two.\n```\n");
        let d = items(&lone).unwrap_err();
        assert!(d.0[0].message.contains("no exercise before it"), "{d}");
        assert_eq!(d.0[0].line, 5);
        let twice =
            format!("{HEAD}```exercise\nQ\n```\n\n```solution\nA\n```\n\n```solution\nB\n```\n");
        let d = items(&twice).unwrap_err();
        assert!(d.0[0].message.contains("already has one"), "{d}");
        assert_eq!(d.0[0].line, 13);
        let empty = format!("{HEAD}```exercise\n\n```\n");
        let d = items(&empty).unwrap_err();
        assert!(d.0[0].message.contains("empty exercise"), "{d}");
    }

    #[test]
    fn editions_hide_what_students_must_not_see() {
        assert!(!Edition::Student.shows_solutions());
        assert!(!Edition::Student.shows_checks());
        assert!(Edition::Teacher.shows_solutions() && Edition::Teacher.shows_checks());
        assert!(Edition::Report.shows_solutions() && Edition::Report.shows_checks());
        assert_eq!(Edition::Student.file_name(), "handout-student.html");
        assert!(Edition::Teacher.title("T").starts_with("T — teacher"));
    }
}
