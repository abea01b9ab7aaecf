//! Stage 2, *validate*: the YAML schema shared by every block, in two phases.
//!
//! Phase one deserializes a block into a `Raw*` struct (`deny_unknown_fields`, so a
//! typo is an error, never a silently ignored field). Phase two checks ranges and
//! cross-field rules and produces typed specs with plain `f64`s and `Measure`s.
//! Every failure is a [`Diagnostic`] located at the field's line in the chapter.
//!
//! This module holds the pieces common to all blocks (numbers, grids, measures, the
//! [`SpecCtx`] that turns field paths into positions of a named [`Source`], and the
//! [`BlockCtx`] that adds a chapter block to it); the figure, table and check
//! schemas live in submodules, and each experiment kind's schema lives with its
//! runner in `experiment/`.

pub mod check;
pub mod expr;
pub mod figure;
pub mod handout;
pub mod measure;
pub mod space;
pub mod table;

use std::path::Path;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;

use crate::chapter::{Block, Chapter};
use crate::diagnostic::{closest, quoted_list, Diagnostic, Diagnostics, Source};
use crate::yaml;

/// Default ceiling on the number of points of any grid (see `crate::limits`).
pub const MAX_GRID: usize = crate::limits::GRID;

/// Everything phase two needs to report a problem inside one YAML tree: the tree, the
/// named source its positions refer to (a chapter, or a flag's text), and the
/// diagnostics found so far. Schemas that need no chapter (measures) take this.
pub struct SpecCtx<'a> {
    pub source: Source<'a>,
    /// 1-based line of the source where the tree's line 1 is (a block's first body line).
    pub first_line: usize,
    /// Where a problem with no position of its own is shown (a block's opening fence);
    /// 0 for the source as a whole.
    pub fallback_line: usize,
    /// What the tree is, for "bad … : <parse error>" messages ("experiment block", "measure").
    pub what: String,
    /// The tree being validated: a block's own, or an edit of it (the `quick:` tier,
    /// `--set` overrides), whose nodes keep the positions they were written at.
    pub tree: Result<&'a yaml::Node, &'a yaml::YamlError>,
    /// The folder data files named in the tree are read from (and confined to).
    pub project_root: &'a Path,
    pub diags: Diagnostics,
}

/// A chapter block being validated: the block's [`SpecCtx`] (see [`BlockCtx::spec`]),
/// with the chapter, the block and the tier to use.
pub struct BlockCtx<'a> {
    pub chapter: &'a Chapter,
    pub block: &'a Block,
    /// Which tier of an experiment's parameters to use (`quick:` overrides).
    pub fidelity: Fidelity,
    /// The block as a [`SpecCtx`]: positions in the chapter file, problems with no
    /// position of their own at the opening fence. Its methods are the block's.
    view: SpecCtx<'a>,
}

impl<'a> std::ops::Deref for BlockCtx<'a> {
    type Target = SpecCtx<'a>;
    fn deref(&self) -> &SpecCtx<'a> {
        &self.view
    }
}

impl std::ops::DerefMut for BlockCtx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.view
    }
}

/// `--fidelity`: `paper` runs the specs as written; `quick` applies each experiment's
/// `quick:` overrides (smaller samples and grids) so a reviewer sees every chapter fast.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Fidelity {
    Quick,
    #[default]
    Paper,
}

impl Fidelity {
    pub fn name(self) -> &'static str {
        match self {
            Fidelity::Quick => "quick",
            Fidelity::Paper => "paper",
        }
    }
}

impl<'a> BlockCtx<'a> {
    pub fn new(chapter: &'a Chapter, block: &'a Block, project_root: &'a Path) -> Self {
        Self::on_tree(
            chapter,
            block,
            block.tree.as_ref(),
            project_root,
            Fidelity::Paper,
        )
    }

    /// A context validating `tree`, an edit of the block's own tree.
    pub fn with_tree(&self, tree: &'a yaml::Node) -> BlockCtx<'a> {
        Self::on_tree(
            self.chapter,
            self.block,
            Ok(tree),
            self.project_root,
            self.fidelity,
        )
    }

    /// The block of `chapter` validated on `tree` (the block's own, or an edit of it
    /// whose nodes keep the positions they were written at), holding no diagnostics yet.
    fn on_tree(
        chapter: &'a Chapter,
        block: &'a Block,
        tree: Result<&'a yaml::Node, &'a yaml::YamlError>,
        project_root: &'a Path,
        fidelity: Fidelity,
    ) -> Self {
        let source = Source::new(&chapter.path, &chapter.source);
        let what = format!("{} block", block.kind.name());
        let view = SpecCtx {
            fallback_line: block.fence_line,
            ..SpecCtx::new(source, block.body_line, what, tree, project_root)
        };
        BlockCtx {
            chapter,
            block,
            fidelity,
            view,
        }
    }

    /// Run `f` on the block as a [`SpecCtx`] (what the schemas that need no chapter,
    /// such as measures, take); what it reports is kept in `self.diags`.
    pub fn spec<T>(&mut self, f: impl FnOnce(&mut SpecCtx<'a>) -> T) -> T {
        f(&mut self.view)
    }

    pub fn finish<T>(self, value: T) -> Result<T, Diagnostics> {
        self.into_diags().finish(value)
    }

    /// What was reported, ending the context.
    pub fn into_diags(self) -> Diagnostics {
        self.view.diags
    }
}

impl<'a> SpecCtx<'a> {
    /// A context on `tree`, whose line 1 is line `first_line` of `source`; data files
    /// are read below `project_root`.
    pub fn new(
        source: Source<'a>,
        first_line: usize,
        what: impl Into<String>,
        tree: Result<&'a yaml::Node, &'a yaml::YamlError>,
        project_root: &'a Path,
    ) -> Self {
        SpecCtx {
            source,
            first_line,
            fallback_line: 0,
            what: what.into(),
            tree,
            project_root,
            diags: Diagnostics::default(),
        }
    }

    /// A diagnostic at `line:column` of the tree (both 1-based), in source
    /// coordinates; line 0 is the fallback line.
    pub fn diagnostic(&self, line: usize, column: usize, msg: impl Into<String>) -> Diagnostic {
        let (l, c) = match (line, self.fallback_line) {
            (0, 0) => (0, 0),
            (0, fence) => (fence, 1),
            _ => (self.first_line + line - 1, column.max(1)),
        };
        self.source.diagnostic(l, c, msg)
    }

    /// A diagnostic at the field `path` (dotted, `[i]` for list items) of the tree;
    /// at the fallback line when the field is not written.
    pub fn at(&self, path: &str, msg: impl Into<String>) -> Diagnostic {
        let (line, col) = self
            .tree
            .ok()
            .and_then(|t| t.locate(path))
            .unwrap_or((0, 0));
        self.diagnostic(line, col, msg).field(path)
    }

    /// Report `msg` at the field `path` (dotted, `[i]` for list items).
    pub fn error(&mut self, path: &str, msg: impl Into<String>) {
        let d = self.at(path, msg);
        self.diags.push(d);
    }

    pub fn error_hint(&mut self, path: &str, msg: impl Into<String>, hint: impl Into<String>) {
        let d = self.at(path, msg).hint(hint);
        self.diags.push(d);
    }

    /// Phase one: decode the tree into `T`.
    // A Diagnostic is large, but it is the rare path and is reported once.
    #[allow(clippy::result_large_err)]
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Diagnostic> {
        self.decode(self.tree)
    }

    /// Decode `tree` (the whole block, or a part of it) into `T`, mapping the error to
    /// its position in the chapter with a "did you mean" hint for unknown names.
    #[allow(clippy::result_large_err)]
    pub fn decode<T: DeserializeOwned>(
        &self,
        tree: Result<&yaml::Node, &yaml::YamlError>,
    ) -> Result<T, Diagnostic> {
        let e = match tree.map(yaml::from_node) {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e,
            Err(e) => e.clone(),
        };
        let mut d = self
            .diagnostic(
                e.line,
                e.column,
                format!("bad {}: {}", self.what, e.message),
            )
            .field(e.path.clone());
        if let Some(h) = hint_from_serde(&e.message) {
            d = d.hint(h);
        }
        Err(d)
    }

    /// Phase one, reporting: deserialize the block, or record the error and give `None`.
    pub fn parse_or_report<T: DeserializeOwned>(&mut self) -> Option<T> {
        match self.parse() {
            Ok(v) => Some(v),
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    /// Evaluate a number, reporting at `path` on failure.
    pub fn num(&mut self, n: &Num, path: &str) -> Option<f64> {
        match n.value() {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(path, e);
                None
            }
        }
    }

    /// A number that must be finite and satisfy `ok`, described by `what` in the message.
    pub fn num_where(
        &mut self,
        n: &Num,
        path: &str,
        what: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Option<f64> {
        let v = self.num(n, path)?;
        if !v.is_finite() || !ok(v) {
            self.error(path, format!("`{path}` must be {what}, got {v}"));
            return None;
        }
        Some(v)
    }

    /// Expand a grid, requiring every point to satisfy `ok` (described by `what`).
    pub fn grid(
        &mut self,
        g: &Grid,
        path: &str,
        what: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Option<Vec<f64>> {
        let values = match g.expand() {
            Ok(v) => v,
            Err((sub, msg)) => {
                let p = if sub.is_empty() || sub.starts_with('[') {
                    format!("{path}{sub}")
                } else {
                    format!("{path}.{sub}")
                };
                self.error(&p, msg);
                return None;
            }
        };
        if values.is_empty() {
            self.error(path, format!("`{path}` is empty; give at least one value"));
            return None;
        }
        if let Some((i, v)) = values
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite() || !ok(**v))
        {
            let p = match g {
                Grid::List(_) => format!("{path}[{i}]"),
                Grid::Linspace { .. } => path.to_string(),
            };
            self.error(
                &p,
                format!("every value of `{path}` must be {what}; got {v}"),
            );
            return None;
        }
        Some(values)
    }

    /// Whether `count` table rows (or values) stay under the ceiling; reports at
    /// `path` when they do not.
    pub fn within_rows(&mut self, count: usize, path: &str, what: &str) -> bool {
        let max = crate::limits::rows();
        if count > max {
            self.error(
                path,
                format!(
                    "the experiment asks for {count} {what}; the ceiling is {max}; {}",
                    crate::limits::HINT
                ),
            );
        }
        count <= max
    }

    /// The id of the block, checked for the safe alphabet.
    pub fn id(&mut self, id: &str, path: &str) -> String {
        if !crate::chapter::valid_id(id) {
            self.error_hint(
                path,
                format!("`{id}` is not a valid id"),
                crate::chapter::ID_HINT,
            );
        }
        id.to_string()
    }

    pub fn finish<T>(self, value: T) -> Result<T, Diagnostics> {
        self.diags.finish(value)
    }
}

/// serde says "unknown field `kidn`, expected one of `id`, `kind`"; turn that into
/// "did you mean `kind`?".
pub fn hint_from_serde(msg: &str) -> Option<String> {
    if msg.contains("appears twice in this mapping") {
        return Some(
            "keep one of the two: a key is given once (YAML would not say which one wins)".into(),
        );
    }
    if msg.contains("quoted scalar") {
        return Some(
            "a quoted value ends with the same quote it starts with: is a closing quote missing?"
                .into(),
        );
    }
    if msg.contains("mapping values are not allowed") {
        return Some(
            "a `: ` inside a value starts a new mapping: quote the value (\"…\") or write it as a block with `>-`"
                .into(),
        );
    }
    if msg.contains("found character that cannot start any token") && msg.contains('`') {
        return Some("quote values that start with `@`, `` ` `` or `%`".into());
    }
    let at = msg
        .find("unknown field")
        .or_else(|| msg.find("unknown variant"))?;
    let words: Vec<&str> = msg[at..].split('`').skip(1).step_by(2).collect();
    let (word, candidates) = words.split_first()?;
    match closest(word, candidates.iter().copied()) {
        Some(c) => Some(format!("did you mean `{c}`?")),
        None if !candidates.is_empty() => {
            Some(format!("valid names here: {}", quoted_list(candidates)))
        }
        None => None,
    }
}

/// A number in a spec: a YAML number, or a string holding an expression such as
/// `"1/sqrt(2)"` (see [`expr`]). `.inf` and `"inf"` are accepted where infinity makes
/// sense (the M of ζ*_∞); range checks reject them elsewhere.
#[derive(Clone, Debug, PartialEq)]
pub enum Num {
    Value(f64),
    Expr(String),
}

impl Num {
    pub fn value(&self) -> Result<f64, String> {
        match self {
            Num::Value(v) if v.is_nan() => Err("NaN is not a number we can use".to_string()),
            Num::Value(v) => Ok(*v),
            Num::Expr(s) => match s.trim() {
                "inf" | "infinity" | "+inf" => Ok(f64::INFINITY),
                t => expr::eval(t).map_err(|e| format!("cannot evaluate `{s}`: {e}")),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Num, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or an expression such as \"1/sqrt(2)\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num::Value(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num::Value(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num::Value(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                Ok(Num::Expr(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A grid of values: an explicit list, or `{from, to, n}` (evenly spaced, both ends
/// included, as numpy's linspace), optionally `log: true` for geometric spacing.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged, expecting = "a list of numbers, or {from: A, to: B, n: N}")]
pub enum Grid {
    List(Vec<Num>),
    Linspace {
        from: Num,
        to: Num,
        n: usize,
        #[serde(default)]
        log: bool,
    },
}

impl Grid {
    /// The values, or (sub-field, message) on failure.
    pub fn expand(&self) -> Result<Vec<f64>, (String, String)> {
        match self {
            Grid::List(items) => {
                let max = crate::limits::grid();
                if items.len() > max {
                    return Err((
                        String::new(),
                        format!(
                            "{} values exceed the ceiling of {max}; {}",
                            items.len(),
                            crate::limits::HINT
                        ),
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| n.value().map_err(|e| (format!("[{i}]"), e)))
                    .collect()
            }
            Grid::Linspace { from, to, n, log } => {
                let a = from.value().map_err(|e| ("from".to_string(), e))?;
                let b = to.value().map_err(|e| ("to".to_string(), e))?;
                if *n == 0 {
                    return Err(("n".into(), "a grid needs n ≥ 1 points".into()));
                }
                let max = crate::limits::grid();
                if *n > max {
                    return Err((
                        "n".into(),
                        format!(
                            "n = {n} exceeds the ceiling of {max} grid points; {}",
                            crate::limits::HINT
                        ),
                    ));
                }
                if !a.is_finite() || !b.is_finite() {
                    return Err(("from".into(), "grid ends must be finite".into()));
                }
                if *log && (a <= 0.0 || b <= 0.0) {
                    return Err(("from".into(), "a log grid needs positive ends".to_string()));
                }
                Ok(linspace(a, b, *n, *log))
            }
        }
    }
}

/// `n` points from `a` to `b` inclusive; geometric when `log`. The end points are
/// exact, and interior points are computed from the index, not by accumulation.
pub fn linspace(a: f64, b: f64, n: usize, log: bool) -> Vec<f64> {
    if n == 1 {
        return vec![a];
    }
    let (a0, b0) = if log { (a.ln(), b.ln()) } else { (a, b) };
    (0..n)
        .map(|i| {
            if i == n - 1 {
                return b;
            }
            let x = a0 + (b0 - a0) * (i as f64) / ((n - 1) as f64);
            if log {
                x.exp()
            } else {
                x
            }
        })
        .map(|x| if x == 0.0 { 0.0 } else { x })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_ctx_places_problems_in_its_named_source() {
        // A flag's text: positions are the text's own; no fallback line.
        let text = "{normal: {mean: 0,\n var: x}}";
        let tree = yaml::parse(text).unwrap();
        let root = Path::new(".");
        let mut ctx = SpecCtx::new(
            Source::new(Path::new("--measure"), text),
            1,
            "measure",
            Ok(&tree),
            root,
        );
        assert_eq!(ctx.at("normal.var", "m").location(), "--measure:2:2");
        assert_eq!(
            ctx.at("normal.var", "m").source_line.as_deref(),
            Some(" var: x}}")
        );
        assert_eq!(ctx.at("nowhere", "m").location(), "--measure");
        // A block whose body starts on line 3 of a file, fence on line 2.
        let file = "# title\n```experiment\nid: a\nkind: b\n```\n";
        let body = yaml::parse("id: a\nkind: b\n").unwrap();
        let mut block = SpecCtx::new(
            Source::new(Path::new("ch.md"), file),
            3,
            "experiment block",
            Ok(&body),
            root,
        );
        block.fallback_line = 2;
        assert_eq!(block.at("kind", "m").location(), "ch.md:4:1");
        assert_eq!(block.at("tables", "m").location(), "ch.md:2:1");
        block.error("kind", "bad kind");
        ctx.error("normal.var", "bad var");
        assert_eq!(block.diags.0[0].source_line.as_deref(), Some("kind: b"));
        assert_eq!(ctx.diags.0[0].field.as_deref(), Some("normal.var"));
        // A parse error is "bad <what>" at its position.
        let bad = yaml::parse("{a: 1").unwrap_err();
        let ctx = SpecCtx::new(
            Source::new(Path::new("--measure"), "{a: 1"),
            1,
            "measure",
            Err(&bad),
            root,
        );
        let d = ctx.parse::<serde::de::IgnoredAny>().unwrap_err();
        assert!(d.message.starts_with("bad measure: "), "{}", d.message);
        assert_eq!(d.location(), "--measure:1:6");
    }

    #[test]
    fn linspace_matches_numpy_ends_and_steps() {
        let g = linspace(0.1, 10.0, 10, false);
        assert_eq!(g.len(), 10);
        assert_eq!(g[0], 0.1);
        assert_eq!(g[9], 10.0);
        assert!((g[1] - 1.2).abs() < 1e-12);
        let l = linspace(1e-3, 1e3, 7, true);
        assert!((l[3] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn grids_deserialize_both_ways() {
        let g: Grid = yaml::from_str("[1, \"1/sqrt(2)\", 3.5]").unwrap();
        assert_eq!(g.expand().unwrap()[1], 1.0 / 2f64.sqrt());
        let g: Grid = yaml::from_str("{from: 0, to: 1, n: 5}").unwrap();
        assert_eq!(g.expand().unwrap(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let g: Grid = yaml::from_str("[1, \"sqr(2)\"]").unwrap();
        let (sub, msg) = g.expand().unwrap_err();
        assert_eq!(sub, "[1]");
        assert!(msg.contains("sqrt"), "{msg}");
    }

    #[test]
    fn serde_hints() {
        let h = hint_from_serde("unknown field `kidn`, expected one of `id`, `kind`").unwrap();
        assert_eq!(h, "did you mean `kind`?");
    }
}
