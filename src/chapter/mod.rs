//! Stage 1, *read*: a chapter file becomes a [`Chapter`]: front matter plus an
//! ordered list of segments, prose and fenced spec blocks, each with its position.
//!
//! Reading ([`Chapter::from_file`]) is kept apart from parsing ([`Chapter::parse`]) so
//! every parser test works on strings. Nothing here knows what a spec *means*; the
//! `spec` and `experiment` stages turn the blocks into typed specs.

use std::path::{Path, PathBuf};

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use serde::Deserialize;

use crate::diagnostic::{suggest, Diagnostic, Diagnostics};
use crate::yaml;

/// Largest chapter file we read.
pub const MAX_CHAPTER_BYTES: u64 = 4 << 20;

/// The fenced-block info strings diffrepro interprets; every other code block is prose.
pub const BLOCK_KINDS: &[&str] = &[
    "experiment",
    "figure",
    "table",
    "check",
    "exercise",
    "solution",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Chapter {
    /// The path as shown in messages (relative to the project).
    pub path: PathBuf,
    /// The whole file, for showing offending lines.
    pub source: String,
    pub front: FrontMatter,
    pub segments: Vec<Segment>,
}

/// The YAML header of a chapter.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    /// Stable identifier: used in output paths, anchors and `--chapters`.
    pub id: String,
    pub title: String,
    /// The paper's results this chapter covers, e.g. `["Example 4", "Figure 1"]`.
    #[serde(default)]
    pub paper_refs: Vec<String>,
    /// Position in the report (ties broken by file name).
    #[serde(default)]
    pub order: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    Experiment,
    Figure,
    Table,
    Check,
    /// Markdown (not YAML): a question for students (see `crate::spec::handout`).
    Exercise,
    /// Markdown (not YAML): the answer to the exercise before it, left out of the
    /// student handout.
    Solution,
}

impl BlockKind {
    pub fn name(self) -> &'static str {
        match self {
            BlockKind::Experiment => "experiment",
            BlockKind::Figure => "figure",
            BlockKind::Table => "table",
            BlockKind::Check => "check",
            BlockKind::Exercise => "exercise",
            BlockKind::Solution => "solution",
        }
    }
    fn from_info(info: &str) -> Option<BlockKind> {
        match info {
            "experiment" => Some(BlockKind::Experiment),
            "figure" => Some(BlockKind::Figure),
            "table" => Some(BlockKind::Table),
            "check" => Some(BlockKind::Check),
            "exercise" => Some(BlockKind::Exercise),
            "solution" => Some(BlockKind::Solution),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Segment {
    /// Markdown prose (may contain `{{ expression }}` and `$math$`).
    Prose(Prose),
    Block(Block),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prose {
    pub text: String,
    /// 1-based line of the first character of `text` in the file.
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub kind: BlockKind,
    /// The text inside the fences (YAML, or Markdown for exercises and solutions).
    pub body: String,
    /// 1-based line of the first body line in the file.
    pub body_line: usize,
    /// 1-based line of the opening fence.
    pub fence_line: usize,
    /// The body's YAML tree, with positions: a block is parsed here, once, and every
    /// later stage reads this tree (a syntax error is reported when the block is
    /// validated). Markdown blocks hold an empty tree.
    pub tree: Result<yaml::Node, yaml::YamlError>,
}

impl Block {
    /// A block read from `body`, its YAML parsed (unless it holds Markdown).
    pub fn new(kind: BlockKind, body: String, body_line: usize, fence_line: usize) -> Block {
        let tree = match kind {
            BlockKind::Exercise | BlockKind::Solution => {
                Ok(yaml::Node::new(yaml::Value::Null, yaml::Pos::default()))
            }
            _ => yaml::parse(&body),
        };
        Block {
            kind,
            body,
            body_line,
            fence_line,
            tree,
        }
    }

    /// Where `path` (dotted, `[i]` for list items) is written in the block, as a
    /// 1-based (line, column) of the body; `None` when it is not there.
    pub fn locate(&self, path: &str) -> Option<(usize, usize)> {
        self.tree.as_ref().ok()?.locate(path)
    }

    /// A diagnostic at `line:column` *of the body* (both 1-based), in file coordinates.
    pub fn diagnostic(
        &self,
        chapter: &Chapter,
        line: usize,
        column: usize,
        msg: impl Into<String>,
    ) -> Diagnostic {
        let (l, c) = if line == 0 {
            (self.fence_line, 1)
        } else {
            (self.body_line + line - 1, column.max(1))
        };
        Diagnostic::new(&chapter.path, msg).at(&chapter.source, l, c)
    }

    /// A diagnostic at the field `path` (dotted) of the body, found in the block's
    /// tree; falls back to the opening fence.
    pub fn field_diagnostic(
        &self,
        chapter: &Chapter,
        path: &str,
        msg: impl Into<String>,
    ) -> Diagnostic {
        let (line, col) = self.locate(path).unwrap_or((0, 0));
        self.diagnostic(chapter, line, col, msg).field(path)
    }
}

impl Chapter {
    /// Read and parse one chapter file. `display` is the path shown in messages.
    pub fn from_file(path: &Path, display: &Path) -> Result<Chapter, Diagnostics> {
        let meta = std::fs::metadata(path)
            .map_err(|e| Diagnostic::new(display, format!("cannot read chapter: {e}")))?;
        if meta.len() > MAX_CHAPTER_BYTES {
            return Err(Diagnostic::new(
                display,
                format!(
                    "chapter is {} bytes, larger than the limit of {MAX_CHAPTER_BYTES} bytes",
                    meta.len()
                ),
            )
            .into());
        }
        let bytes = std::fs::read(path)
            .map_err(|e| Diagnostic::new(display, format!("cannot read chapter: {e}")))?;
        let source = String::from_utf8(bytes).map_err(|e| {
            let upto = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..upto].iter().filter(|b| **b == b'\n').count() + 1;
            let mut d = Diagnostic::new(display, "chapter is not valid UTF-8 text")
                .hint("save the file as UTF-8");
            d.line = line;
            d
        })?;
        Chapter::parse(display, source)
    }

    /// Parse a chapter's text. Errors name the line of the problem.
    pub fn parse(path: impl Into<PathBuf>, source: String) -> Result<Chapter, Diagnostics> {
        let path = path.into();
        let (front, body_start) = parse_front_matter(&path, &source)?;
        let segments = split_segments(&source, body_start);
        unclosed_display_math(&path, &source, body_start)?;
        Ok(Chapter {
            path,
            source,
            front,
            segments,
        })
    }

    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Block(b) => Some(b),
            Segment::Prose(_) => None,
        })
    }
}

/// An error for every `$$` that Markdown leaves as text: display math that a
/// paragraph break, or a line starting a list inside the formula, cut in two.
fn unclosed_display_math(path: &Path, source: &str, body_start: usize) -> Result<(), Diagnostics> {
    let body = &source[body_start..];
    let mut diags = Diagnostics::default();
    let mut in_code = false;
    // Markdown splits text at `$`, so adjacent text events are joined first: a run
    // (start, end) of the body, and whether it was reported.
    let mut run: Option<(usize, usize, bool)> = None;
    for (event, range) in Parser::new_ext(body, Options::ENABLE_MATH).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Text(_) if !in_code => {
                let (start, reported) = match run {
                    Some((s, e, rep)) if e == range.start => (s, rep),
                    _ => (range.start, false),
                };
                run = Some((start, range.end, reported));
                let Some(at) = body[start..range.end].find("$$") else {
                    continue;
                };
                if reported {
                    continue;
                }
                run = Some((start, range.end, true));
                let offset = body_start + start + at;
                let line = line_of(source, offset);
                let column = offset - source[..offset].rfind('\n').map_or(0, |n| n + 1) + 1;
                diags.push(
                    Diagnostic::new(path, "display math `$$` is not closed in its paragraph")
                        .at(source, line, column)
                        .hint(
                            "keep a formula in one paragraph, without blank lines; a line inside it \
                             that starts with `+ `, `- ` or `* ` begins a list, so move the sign to \
                             the end of the line before",
                        ),
                );
            }
            _ => run = None,
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(diags)
    }
}

/// 1-based line number of byte `offset`.
pub fn line_of(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn parse_front_matter(path: &Path, source: &str) -> Result<(FrontMatter, usize), Diagnostics> {
    let missing = || {
        Diagnostics::from(
            Diagnostic::new(path, "chapter has no front matter")
                .at(source, 1, 1)
                .hint("start the file with a `---` line, then `id:`, `title:`, `paper_refs:` and `order:`, then `---`"),
        )
    };
    let first = source.lines().next().ok_or_else(missing)?;
    if first.trim_end() != "---" {
        return Err(missing());
    }
    let start = first.len() + 1;
    let mut offset = start;
    let mut end = None;
    for line in source[start.min(source.len())..].split_inclusive('\n') {
        if line.trim_end() == "---" {
            end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let (yaml_end, body_start) = end.ok_or_else(|| {
        Diagnostics::from(
            Diagnostic::new(path, "front matter is not closed")
                .at(source, 1, 1)
                .hint("end the front matter with a line `---`"),
        )
    })?;
    let text = &source[start..yaml_end];
    let tree = yaml::parse(text);
    let front: Result<FrontMatter, _> = tree
        .as_ref()
        .map_err(Clone::clone)
        .and_then(yaml::from_node);
    let locate = |field: &str| {
        tree.as_ref()
            .ok()
            .and_then(|t| t.locate(field))
            .unwrap_or((0, 0))
    };
    let front: FrontMatter = front.map_err(|e| {
        let line = if e.line == 0 { 1 } else { e.line + 1 };
        let mut d = Diagnostic::new(path, format!("bad front matter: {}", e.message))
            .at(source, line, e.column.max(1))
            .field(e.path.clone());
        if let Some(field) = e.message.strip_prefix("unknown field `") {
            let field = field.split('`').next().unwrap_or("");
            d = d.hint(suggest(field, &["id", "title", "paper_refs", "order"]));
        } else if let Some(h) = crate::spec::hint_from_serde(&e.message) {
            d = d.hint(h);
        }
        Diagnostics::from(d)
    })?;
    let mut diags = Diagnostics::default();
    if !valid_id(&front.id) {
        let (l, c) = locate("id");
        diags.push(
            Diagnostic::new(path, format!("chapter id `{}` is not a valid id", front.id))
                .at(source, l + 1, c)
                .field("id")
                .hint(ID_HINT),
        );
    }
    if front.title.trim().is_empty() {
        let (l, c) = locate("title");
        diags.push(
            Diagnostic::new(path, "chapter title is empty")
                .at(source, l + 1, c)
                .field("title"),
        );
    }
    diags.finish((front, body_start))
}

pub const ID_HINT: &str =
    "ids use lowercase letters, digits, `-` and `_`, start with a letter, and are at most 64 characters";

/// Ids name files and anchors, so they are kept to a safe alphabet.
pub fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && id.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Cut the body into prose and our fenced blocks, using pulldown-cmark's offsets so
/// that fences inside lists, quotes or longer fences are recognised as Markdown does.
fn split_segments(source: &str, body_start: usize) -> Vec<Segment> {
    let body = &source[body_start..];
    let mut segments = Vec::new();
    let mut cursor = 0; // in body
    let mut current: Option<(BlockKind, usize, String)> = None;
    for (event, range) in Parser::new_ext(body, Options::empty()).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let word = info.split_whitespace().next().unwrap_or("");
                if let Some(kind) = BlockKind::from_info(word) {
                    current = Some((kind, range.start, String::new()));
                    if range.start > cursor {
                        push_prose(
                            &mut segments,
                            source,
                            body_start + cursor,
                            &body[cursor..range.start],
                        );
                    }
                }
            }
            Event::Text(t) => {
                if let Some((_, _, text)) = current.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((kind, start, text)) = current.take() {
                    let fence_line = line_of(source, body_start + start);
                    segments.push(Segment::Block(Block::new(
                        kind,
                        text,
                        fence_line + 1,
                        fence_line,
                    )));
                    cursor = range.end;
                }
            }
            _ => {}
        }
    }
    if cursor < body.len() {
        push_prose(&mut segments, source, body_start + cursor, &body[cursor..]);
    }
    segments
}

fn push_prose(segments: &mut Vec<Segment>, source: &str, offset: usize, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    segments.push(Segment::Prose(Prose {
        text: text.to_string(),
        line: line_of(source, offset),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    const CH: &str = "---\nid: two-point\ntitle: Two point masses\npaper_refs: [\"Example 4\"]\norder: 2\n---\n# Intro\n\nSome $x$ prose.\n\n```experiment\nid: e\nkind: density\n```\n\nMore.\n\n```rust\nfn not_ours() {}\n```\n";

    #[test]
    fn parses_front_matter_and_blocks() {
        let ch = Chapter::parse("c.md", CH.to_string()).unwrap();
        assert_eq!(ch.front.id, "two-point");
        assert_eq!(ch.front.paper_refs, vec!["Example 4"]);
        assert_eq!(ch.front.order, 2);
        let blocks: Vec<_> = ch.blocks().collect();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].kind, BlockKind::Experiment);
        assert_eq!(blocks[0].body, "id: e\nkind: density\n");
        assert_eq!(blocks[0].fence_line, 11);
        assert_eq!(blocks[0].body_line, 12);
        // Prose before and after (the rust block stays prose).
        assert_eq!(ch.segments.len(), 3);
        match &ch.segments[0] {
            Segment::Prose(p) => assert_eq!(p.line, 7),
            _ => panic!("expected prose"),
        }
        match &ch.segments[2] {
            Segment::Prose(p) => assert!(p.text.contains("fn not_ours")),
            _ => panic!("expected prose"),
        }
    }

    #[test]
    fn front_matter_errors_name_the_line() {
        let src = "---\nid: a\ntitel: x\n---\n".to_string();
        let e = Chapter::parse("c.md", src).unwrap_err();
        let d = &e.0[0];
        assert_eq!(d.line, 3);
        assert!(d.hint.as_deref().unwrap().contains("title"), "{d}");
        let e = Chapter::parse("c.md", "no front".to_string()).unwrap_err();
        assert!(e.0[0].message.contains("no front matter"));
        let e = Chapter::parse("c.md", "---\nid: Bad Id\ntitle: t\n---\n".to_string()).unwrap_err();
        assert_eq!(e.0[0].field.as_deref(), Some("id"));
        assert_eq!(e.0[0].line, 2);
    }

    #[test]
    fn display_math_cut_by_a_list_is_an_error_naming_the_line() {
        let head = "---\nid: a\ntitle: A\n---\n";
        let cut = format!("{head}Text\n\n$$a = b\n+ c$$\n");
        let e = Chapter::parse("c.md", cut).unwrap_err().to_string();
        assert!(e.contains("`$$` is not closed"), "{e}");
        assert!(e.contains("c.md:7"), "{e}");
        let whole = format!("{head}Text\n\n$$a = b +\nc$$ and `$$` in code\n\n```\n$$\n```\n");
        assert!(Chapter::parse("c.md", whole).is_ok());
    }

    #[test]
    fn ids_are_restricted() {
        assert!(valid_id("two-point_2"));
        assert!(!valid_id("../x"));
        assert!(!valid_id("A"));
        assert!(!valid_id(""));
    }
}
