//! Diagnostics: every problem with a user's input, located in a file.
//!
//! Every stage that reads user input (chapters, specs, data files, prose
//! expressions) reports problems as [`Diagnostic`]s; a stage collects all of them
//! before failing, so one run reports every bad block, not just the first. `main.rs`
//! prints them once, in the style of rustc and typst:
//!
//! ```text
//! error: unknown experiment kind `complexty`
//!   --> chapters/two-point.md:41:7
//!    |
//! 41 | kind: complexty
//!    |       ^
//!    = field: kind
//!    = help: did you mean `complexity`?
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

/// A text under the name messages give it: a chapter file, or a command-line flag
/// such as `--measure`. Positions are 1-based lines and columns of the text.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub name: &'a Path,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    pub fn new(name: &'a Path, text: &'a str) -> Self {
        Source { name, text }
    }

    /// A diagnostic at `line:column` of the text (line 0: the whole source), showing
    /// that line. A position past the last line (a parser at the end of the input)
    /// is shown just after the end of the last line.
    pub fn diagnostic(&self, line: usize, column: usize, msg: impl Into<String>) -> Diagnostic {
        let last = self.text.lines().count();
        let (line, column) = match self.text.lines().last() {
            Some(end) if line > last => (last, end.chars().count() + 1),
            _ => (line, column),
        };
        Diagnostic::new(self.name, msg).at(self.text, line, column)
    }
}

/// One problem, with where it is and how to fix it.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// The file as the user would type it (relative to the project when possible).
    pub file: PathBuf,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column; 0 when unknown.
    pub column: usize,
    /// The field path inside the block, e.g. `measure.mixture[1].weight`.
    pub field: Option<String>,
    pub message: String,
    pub hint: Option<String>,
    /// The offending source line, shown with a caret under `column`.
    pub source_line: Option<String>,
}

impl Diagnostic {
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line: 0,
            column: 0,
            field: None,
            message: message.into(),
            hint: None,
            source_line: None,
        }
    }

    /// Place the diagnostic at `line:column` of `source` (the whole file's text), and
    /// remember that line for display.
    pub fn at(mut self, source: &str, line: usize, column: usize) -> Self {
        self.line = line;
        self.column = column;
        self.source_line = source
            .lines()
            .nth(line.saturating_sub(1))
            .filter(|_| line > 0)
            .map(|s| s.to_string());
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        let f = field.into();
        if !f.is_empty() {
            self.field = Some(f);
        }
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn hint_opt(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// `file:line:column`, omitting what is unknown.
    pub fn location(&self) -> String {
        let f = self.file.display();
        match (self.line, self.column) {
            (0, _) => format!("{f}"),
            (l, 0) => format!("{f}:{l}"),
            (l, c) => format!("{f}:{l}:{c}"),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let gutter = " ".repeat(self.line.max(1).to_string().len());
        writeln!(f, "{gutter}--> {}", self.location())?;
        if let Some(src) = &self.source_line {
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{} | {}", self.line, src)?;
            if self.column > 0 {
                // Columns count characters, so the caret lines up under multi-byte text.
                let pad: String = src
                    .chars()
                    .take(self.column - 1)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                writeln!(f, "{gutter} | {pad}^")?;
            }
        }
        if let Some(field) = &self.field {
            writeln!(f, "{gutter} = field: {field}")?;
        }
        if let Some(h) = &self.hint {
            writeln!(f, "{gutter} = help: {h}")?;
        }
        Ok(())
    }
}

/// A non-empty set of diagnostics: the error type of every input-reading stage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// `Err(self)` when anything was reported, so a stage can end with `diags.finish(value)`.
    pub fn finish<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        let n = self.0.len();
        write!(
            f,
            "{n} error{} in the input; nothing was written",
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for Diagnostics {}

/// The closest of `candidates` to `word` (edit distance at most 1/3 of its length, at
/// least 2), for "did you mean" hints.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "did you mean `x`?" when a close candidate exists, else the list of valid names.
pub fn suggest(word: &str, candidates: &[&str]) -> String {
    match closest(word, candidates.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("expected one of: {}", quoted_list(candidates)),
    }
}

/// The names in backticks, joined by commas: "`a`, `b`".
pub fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Edit distance over characters where swapping two neighbours counts as one edit
/// (optimal string alignment), since `kidn` for `kind` is the commonest typo.
pub fn edit_distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

/// A path as the user should read it: relative to `root` when inside it.
pub fn display_path(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        assert_eq!(
            closest("complexty", ["complexity", "density"]),
            Some("complexity")
        );
        assert_eq!(closest("zzz", ["complexity", "density"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("kidn", "kind"), 1);
    }

    #[test]
    fn renders_caret_under_column() {
        let src = "a: 1\nkind: complexty\n";
        let d = Diagnostic::new("ch.md", "unknown kind")
            .at(src, 2, 7)
            .field("kind")
            .hint("did you mean `complexity`?");
        let text = d.to_string();
        assert!(text.contains("--> ch.md:2:7"), "{text}");
        assert!(text.contains("2 | kind: complexty"), "{text}");
        assert!(text.contains("  |       ^"), "{text}");
        assert!(
            text.contains("= help: did you mean `complexity`?"),
            "{text}"
        );
    }
}
