//! The one place that knows which YAML library we use.
//!
//! `serde_yaml` is archived upstream; everything else in diffrepro goes through
//! [`from_str`] and [`locate`], so swapping the parser is a change to this file only.
//!
//! Errors come back as [`YamlError`]: a message, the field path where serde stopped
//! (e.g. `measure.mixture[1].weight`, via `serde_path_to_error`) and a 1-based
//! line/column *inside the snippet*; callers add the snippet's offset in its file.
//! [`locate`] maps a field path to its line/column for errors found after parsing
//! (a weight that is negative, a grid out of range), which serde cannot know about.

use serde::de::DeserializeOwned;

/// A YAML value, for the few places that need to look before they deserialize.
pub type Value = serde_yaml::Value;

#[derive(Clone, Debug, PartialEq)]
pub struct YamlError {
    pub message: String,
    /// Dotted field path where the error happened; empty at the top level.
    pub path: String,
    /// 1-based line and column inside the parsed text (0 when unknown).
    pub line: usize,
    pub column: usize,
}

/// Parse `src` into `T`. Nesting deeper than [`MAX_DEPTH`] or a document larger than
/// [`MAX_BYTES`] is refused before parsing, so hostile input cannot exhaust the stack.
pub fn from_str<T: DeserializeOwned>(src: &str) -> Result<T, YamlError> {
    guard(src)?;
    let de = serde_yaml::Deserializer::from_str(src);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = clean_path(&e.path().to_string());
        let inner = e.into_inner();
        let text = inner.to_string();
        // libyaml says "PROBLEM at line A column B, while CONTEXT at line C column D":
        // the context (where the offending scalar or block starts) is the useful place.
        let (line, column) = last_location(&text).unwrap_or_else(|| {
            inner
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0))
        });
        // Errors raised after a value was read (a custom `try_from`, a bad value) come
        // back at the start of the document; the field path locates them better.
        let (line, column) = if (line <= 1 && column <= 1) && !path.is_empty() {
            locate(src, &path).unwrap_or((line, column))
        } else {
            (line, column)
        };
        YamlError {
            message: strip_location(&text),
            path,
            line,
            column,
        }
    })
}

/// Write a value back as YAML (used to apply `quick:` overrides).
pub fn to_string(v: &Value) -> Result<String, String> {
    serde_yaml::to_string(v).map_err(|e| e.to_string())
}

/// Largest YAML snippet we accept (a spec block is a few hundred bytes).
pub const MAX_BYTES: usize = 1 << 20;
/// Deepest nesting of `[`/`{`/indentation levels we accept.
pub const MAX_DEPTH: usize = 32;

fn guard(src: &str) -> Result<(), YamlError> {
    let refuse = |message: String| {
        Err(YamlError {
            message,
            path: String::new(),
            line: 1,
            column: 1,
        })
    };
    if src.len() > MAX_BYTES {
        return refuse(format!(
            "YAML block of {} bytes is larger than the limit of {MAX_BYTES} bytes",
            src.len()
        ));
    }
    let mut depth: usize = 0;
    for (n, line) in src.lines().enumerate() {
        let indent_depth = (line.len() - line.trim_start().len()) / 2;
        for (col, c) in line.chars().enumerate() {
            match c {
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(YamlError {
                            message: format!(
                                "YAML nested deeper than {MAX_DEPTH} levels is refused"
                            ),
                            path: String::new(),
                            line: n + 1,
                            column: col + 1,
                        });
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if indent_depth > MAX_DEPTH {
            return Err(YamlError {
                message: format!("YAML indented deeper than {MAX_DEPTH} levels is refused"),
                path: String::new(),
                line: n + 1,
                column: 1,
            });
        }
    }
    if src.contains('&') && src.contains('*') && src.matches('*').count() > 64 {
        // Alias expansion ("billion laughs") is the one way a small YAML text becomes huge.
        return refuse("YAML with many aliases (`*name`) is refused".to_string());
    }
    Ok(())
}

/// serde_path_to_error writes `?` for the root and `measure.mixture[1]` for nesting.
fn clean_path(p: &str) -> String {
    if p == "?" || p == "." {
        String::new()
    } else {
        p.trim_start_matches("?.").to_string()
    }
}

/// Every " at line L column C" in a message, as (line, column, byte range).
fn locations(msg: &str) -> Vec<(usize, usize, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = msg[from..].find(" at line ") {
        let start = from + i;
        let rest = &msg[start + 9..];
        let num = |s: &str| -> (Option<usize>, usize) {
            let n: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
            (n.parse().ok(), n.len())
        };
        let (line, l1) = num(rest);
        let after = &rest[l1..];
        let (col, l2) = match after.strip_prefix(" column ") {
            Some(a) => {
                let (c, l) = num(a);
                (c, l + 8)
            }
            None => (Some(0), 0),
        };
        let end = start + 9 + l1 + l2;
        if let (Some(l), Some(c)) = (line, col) {
            out.push((l, c, start..end));
        }
        from = end.max(start + 1);
    }
    out
}

fn last_location(msg: &str) -> Option<(usize, usize)> {
    locations(msg).last().map(|(l, c, _)| (*l, *c))
}

/// serde_yaml writes " at line L column C" into messages; we show locations ourselves.
fn strip_location(msg: &str) -> String {
    let mut out = msg.to_string();
    for (_, _, range) in locations(msg).into_iter().rev() {
        out.replace_range(range, "");
    }
    out
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            steps.push(Step::Key(key.to_string()));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                steps.push(Step::Index(i));
            }
        }
    }
    steps
}

/// Find the 1-based (line, column) of the value at `path` (dotted, with `[i]` for
/// sequence items) in block- or flow-style YAML. Best effort: returns the deepest
/// step it could find, or `None` when not even the first key is present.
pub fn locate(src: &str, path: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = src.lines().collect();
    let steps = parse_path(path);
    // Cursor: (line index, byte column) where the current node starts, and the
    // indentation its children must exceed.
    let mut line = 0usize;
    let mut col = 0usize;
    let mut parent_indent: isize = -1;
    let mut found: Option<(usize, usize)> = None;
    for step in &steps {
        match step {
            Step::Key(key) => {
                let pos = find_key(&lines, line, col, parent_indent, key)?;
                line = pos.0;
                col = pos.1 + key.len() + 1;
                parent_indent = pos.1 as isize;
                found = Some((pos.0 + 1, pos.1 + 1));
            }
            Step::Index(i) => match find_item(&lines, line, col, parent_indent, *i) {
                Some(pos) => {
                    line = pos.0;
                    col = pos.1;
                    parent_indent = pos.1 as isize;
                    found = Some((pos.0 + 1, pos.1 + 1));
                }
                None => return found,
            },
        }
    }
    found
}

fn indent_of(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

/// A `key:` at or after (line, col) that belongs to the node being walked.
fn find_key(
    lines: &[&str],
    line: usize,
    col: usize,
    parent_indent: isize,
    key: &str,
) -> Option<(usize, usize)> {
    let pat = format!("{key}:");
    // Flow style on the current line first: `{weight: 0.5, mean: -1}`.
    if let Some(l) = lines.get(line) {
        if col <= l.len() {
            if let Some(i) = find_word(&l[col..], &pat) {
                return Some((line, col + i));
            }
        }
    }
    for (n, l) in lines.iter().enumerate().skip(line + 1) {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let ind = indent_of(l) as isize;
        if ind <= parent_indent && !(parent_indent >= 0 && l.trim_start().starts_with("- ")) {
            return None;
        }
        if let Some(i) = find_word(l, &pat) {
            return Some((n, i));
        }
    }
    // Top level: the key may be on the very first line.
    if parent_indent < 0 {
        if let Some(l) = lines.first() {
            if let Some(i) = find_word(l, &pat) {
                return Some((0, i));
            }
        }
    }
    None
}

/// Position of `pat` in `s` where it starts a word (not the tail of a longer key).
fn find_word(s: &str, pat: &str) -> Option<usize> {
    let mut start = 0;
    while let Some(i) = s[start..].find(pat) {
        let at = start + i;
        let before = s[..at].chars().last();
        if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-')) {
            return Some(at);
        }
        start = at + pat.len();
    }
    None
}

/// The `i`-th item of the sequence starting at (line, col): either flow `[a, b]`
/// on one line or block `- item` lines.
fn find_item(
    lines: &[&str],
    line: usize,
    col: usize,
    parent_indent: isize,
    i: usize,
) -> Option<(usize, usize)> {
    let l = lines.get(line)?;
    let rest = l.get(col..).unwrap_or("");
    if let Some(open) = rest.find('[') {
        // Flow sequence: count top-level commas.
        let base = col + open + 1;
        let mut depth = 0;
        let mut count = 0;
        let mut item_start = base;
        for (k, c) in l[base..].char_indices() {
            match c {
                '[' | '{' => depth += 1,
                ']' | '}' if depth > 0 => depth -= 1,
                ']' => break,
                ',' if depth == 0 => {
                    if count == i {
                        break;
                    }
                    count += 1;
                    item_start = base + k + 1;
                }
                _ => {}
            }
        }
        if count == i {
            let skip = l[item_start..].len() - l[item_start..].trim_start().len();
            return Some((line, item_start + skip));
        }
        return None;
    }
    let mut count = 0;
    for (n, l) in lines.iter().enumerate().skip(line + 1) {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let ind = indent_of(l) as isize;
        if ind < parent_indent.max(0) || (ind <= parent_indent && !l.trim_start().starts_with("- "))
        {
            return None;
        }
        if l.trim_start().starts_with("- ") || l.trim() == "-" {
            if count == i {
                return Some((n, indent_of(l) + 2));
            }
            count += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct S {
        id: String,
        n: u32,
    }

    #[test]
    fn reports_unknown_field_with_location() {
        let e = from_str::<S>("id: a\nnn: 3\n").unwrap_err();
        assert!(e.message.contains("unknown field `nn`"), "{e:?}");
        assert_eq!(e.line, 2);
    }

    #[test]
    fn reports_type_error_with_path() {
        let e = from_str::<S>("id: a\nn: minus\n").unwrap_err();
        assert_eq!(e.path, "n");
        assert_eq!(e.line, 2);
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = "[".repeat(100) + &"]".repeat(100);
        let e = from_str::<serde_yaml::Value>(&deep).unwrap_err();
        assert!(e.message.contains("deeper"), "{e:?}");
    }

    #[test]
    fn locates_block_and_flow_paths() {
        let src = "id: x\nmeasure:\n  mixture:\n    - {weight: 0.5, mean: -1, var: 0}\n    - {weight: 0.7, mean: 1, var: 0}\nr: [0.5, 1.5, 3]\n";
        assert_eq!(locate(src, "id"), Some((1, 1)));
        assert_eq!(locate(src, "measure.mixture[1].weight"), Some((5, 8)));
        assert_eq!(locate(src, "measure.mixture[0].mean"), Some((4, 21)));
        assert_eq!(locate(src, "r[2]"), Some((6, 15)));
        let block = "tables:\n  summary: a\n  survival: b\n";
        assert_eq!(locate(block, "tables.survival"), Some((3, 3)));
    }
}
