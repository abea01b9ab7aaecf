//! Stage 2, *validate*, for the handout blocks: a chapter's fenced `exercise` and
//! `solution` blocks. Unlike the other blocks these hold Markdown, not YAML; they are
//! rendered like prose (math, `{{ … }}` expressions). A solution answers the nearest
//! exercise before it in the same chapter.
//!
//! Hands a [`HandoutBlock`] to the project (`Item::Handout`); the report model numbers
//! the exercises and the editions (`report::Edition`) decide what is shown.

use crate::chapter::{BlockKind, Prose};
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

/// Validate an `exercise` or `solution` block; `previous` is the chapter's last
/// handout block before it, if any (a solution needs an exercise there that has no
/// solution yet).
pub fn validate(ctx: &mut BlockCtx, previous: Option<&HandoutBlock>) -> Option<HandoutBlock> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapter::{Chapter, Segment};
    use crate::diagnostic::Diagnostics;

    fn items(src: &str) -> Result<Vec<HandoutBlock>, Diagnostics> {
        let ch = Chapter::parse("c.md", src.to_string()).unwrap();
        let root = std::path::Path::new(".");
        let mut items = Vec::new();
        let mut diags = Diagnostics::default();
        for seg in &ch.segments {
            if let Segment::Block(b) = seg {
                let mut ctx = BlockCtx::new(&ch, b, root);
                if let Some(h) = validate(&mut ctx, items.last()) {
                    items.push(h);
                }
                diags.extend(ctx.into_diags());
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
        let (e, s) = (&got[0], &got[1]);
        assert_eq!(e.role, Role::Exercise);
        assert_eq!(e.prose.text, "Compute $x$.\n");
        assert_eq!(e.line, 7);
        assert_eq!(e.prose.line, 8);
        assert_eq!(s.role, Role::Solution);
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
}
