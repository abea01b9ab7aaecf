//! Stages 1–2 for a whole project: read every chapter, validate every block, then
//! check what spans blocks (unique ids, references to tables and columns, quoted
//! paper values). Either the whole project is valid or every problem is reported.
//!
//! Hands a [`Project`] (chapters in report order, each a list of typed [`Item`]s) to
//! the pipeline, which runs it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::chapter::{BlockKind, Chapter, Prose, Segment};
use crate::check::PaperValues;
use crate::diagnostic::{display_path, suggest, Diagnostic, Diagnostics};
use crate::experiment::Experiment;
use crate::spec::check::{Basis, CheckSpec, Expected, Selector, Tolerance};
use crate::spec::figure::FigureSpec;
use crate::spec::table::TableBlock;
use crate::spec::{BlockCtx, Fidelity};
use crate::table::{ColumnKind, TableSchema};

/// Most chapter files a project may hold.
pub const MAX_CHAPTERS: usize = 500;

#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
    pub chapters: Vec<ChapterSpec>,
    pub paper: PaperValues,
}

#[derive(Debug)]
pub struct ChapterSpec {
    pub chapter: Chapter,
    pub items: Vec<Item>,
}

// A chapter holds tens of items, so the size spread between variants costs nothing
// worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Item {
    Prose(Prose),
    Experiment(Experiment),
    Figure(FigureSpec),
    Table(TableBlock),
    Check(CheckSpec),
    /// An `exercise` or `solution` block (see `crate::spec::handout`).
    Handout(crate::spec::handout::HandoutBlock),
}

impl ChapterSpec {
    pub fn id(&self) -> &str {
        &self.chapter.front.id
    }
    pub fn experiments(&self) -> impl Iterator<Item = &Experiment> {
        self.items.iter().filter_map(|i| match i {
            Item::Experiment(e) => Some(e),
            _ => None,
        })
    }
    pub fn figures(&self) -> impl Iterator<Item = &FigureSpec> {
        self.items.iter().filter_map(|i| match i {
            Item::Figure(f) => Some(f),
            _ => None,
        })
    }
    pub fn tables(&self) -> impl Iterator<Item = &TableBlock> {
        self.items.iter().filter_map(|i| match i {
            Item::Table(t) => Some(t),
            _ => None,
        })
    }
    pub fn checks(&self) -> impl Iterator<Item = &CheckSpec> {
        self.items.iter().filter_map(|i| match i {
            Item::Check(c) => Some(c),
            _ => None,
        })
    }
}

impl Project {
    /// Every experiment with the chapter it belongs to.
    pub fn experiments(&self) -> impl Iterator<Item = (&ChapterSpec, &Experiment)> {
        self.chapters
            .iter()
            .flat_map(|c| c.experiments().map(move |e| (c, e)))
    }

    /// Table name → (chapter id, declared schema).
    pub fn table_schemas(&self) -> BTreeMap<String, (String, TableSchema)> {
        let mut out = BTreeMap::new();
        for (c, e) in self.experiments() {
            for s in &e.outputs {
                out.insert(s.name.clone(), (c.id().to_string(), s.clone()));
            }
        }
        out
    }

    /// Read and validate the project at `root` (the folder holding `chapters/`), with
    /// the specs as written (paper fidelity).
    pub fn load(root: &Path) -> Result<Project, Diagnostics> {
        Self::load_with(root, Fidelity::Paper)
    }

    /// Keep only the chapters in `ids` (report order and numbering stay those of
    /// the whole project). Unknown ids are an input error with a suggestion.
    pub fn chapter_filter(&self, ids: &[String]) -> Result<Vec<usize>, Diagnostics> {
        let known: Vec<&str> = self.chapters.iter().map(|c| c.id()).collect();
        let mut diags = Diagnostics::default();
        for id in ids {
            if !known.contains(&id.as_str()) {
                diags.push(
                    Diagnostic::new("--chapters", format!("no chapter has id `{id}`"))
                        .hint(suggest(id, &known)),
                );
            }
        }
        let keep = (0..self.chapters.len())
            .filter(|&i| ids.is_empty() || ids.iter().any(|id| id == self.chapters[i].id()))
            .collect();
        diags.finish(keep)
    }

    /// As [`Project::load`], choosing the fidelity tier of the experiments.
    pub fn load_with(root: &Path, fidelity: Fidelity) -> Result<Project, Diagnostics> {
        Self::load_overridden(root, fidelity, &crate::overrides::Overrides::default())
    }

    /// As [`Project::load_with`], with `--set` overrides applied to the experiments
    /// they name (see `crate::overrides`); an override naming no experiment is an error.
    pub fn load_overridden(
        root: &Path,
        fidelity: Fidelity,
        overrides: &crate::overrides::Overrides,
    ) -> Result<Project, Diagnostics> {
        let chapters_dir = root.join("chapters");
        let shown = display_path(root, &chapters_dir);
        if !chapters_dir.is_dir() {
            return Err(Diagnostic::new(&shown, "no chapters folder")
                .hint(format!(
                    "run diffrepro in the project folder, or pass it: `diffrepro build PATH`; it must contain chapters/*.md (looked in {})",
                    root.display()
                ))
                .into());
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&chapters_dir)
            .map_err(|e| Diagnostic::new(&shown, format!("cannot list chapters: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "md") && p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Diagnostic::new(&shown, "the chapters folder has no .md files")
                .hint("add a chapter, e.g. with `diffrepro new NAME`, or copy one from the repository's chapters/")
                .into());
        }
        if files.len() > MAX_CHAPTERS {
            return Err(Diagnostic::new(
                &shown,
                format!(
                    "{} chapters exceed the limit of {MAX_CHAPTERS}",
                    files.len()
                ),
            )
            .into());
        }
        let mut diags = Diagnostics::default();
        let paper = match PaperValues::load(root) {
            Ok(p) => p,
            Err(d) => {
                diags.extend(d);
                PaperValues::default()
            }
        };
        let mut chapters = Vec::new();
        let canon_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        for f in &files {
            let display = display_path(root, f);
            if !f.canonicalize().is_ok_and(|c| c.starts_with(&canon_root)) {
                diags.push(
                    Diagnostic::new(
                        &display,
                        "chapter file leads outside the project (a symlink?)",
                    )
                    .hint("copy the chapter into chapters/ instead of linking to it"),
                );
                continue;
            }
            match Chapter::from_file(f, &display) {
                Ok(ch) => match validate_chapter(ch, root, fidelity, overrides) {
                    Ok(c) => chapters.push(c),
                    Err(d) => diags.extend(d),
                },
                Err(d) => diags.extend(d),
            }
        }
        diags.extend(overrides.unmatched());
        chapters.sort_by(|a, b| {
            (a.chapter.front.order, &a.chapter.path).cmp(&(b.chapter.front.order, &b.chapter.path))
        });
        let project = Project {
            root: root.to_path_buf(),
            chapters,
            paper,
        };
        diags.extend(cross_check(&project));
        diags.finish(project)
    }
}

/// Parse and validate one chapter given as text (no other chapters, no cross-chapter
/// checks): the entry point of the parser and spec decoder, used by the property tests.
pub fn validate_text(path: &Path, text: String, root: &Path) -> Result<ChapterSpec, Diagnostics> {
    let chapter = Chapter::parse(path, text)?;
    validate_chapter(
        chapter,
        root,
        Fidelity::Paper,
        &crate::overrides::Overrides::default(),
    )
}

fn validate_chapter(
    chapter: Chapter,
    root: &Path,
    fidelity: Fidelity,
    overrides: &crate::overrides::Overrides,
) -> Result<ChapterSpec, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut items = Vec::new();
    for seg in &chapter.segments {
        match seg {
            Segment::Prose(p) => items.push(Item::Prose(p.clone())),
            Segment::Block(b) => {
                let mut ctx = BlockCtx::new(&chapter, b, root);
                ctx.fidelity = fidelity;
                let item = match b.kind {
                    BlockKind::Experiment => overrides.validate(&mut ctx).map(Item::Experiment),
                    BlockKind::Figure => crate::spec::figure::validate(&mut ctx).map(Item::Figure),
                    BlockKind::Table => crate::spec::table::validate(&mut ctx).map(Item::Table),
                    BlockKind::Check => crate::spec::check::validate(&mut ctx).map(Item::Check),
                    BlockKind::Exercise | BlockKind::Solution => {
                        let previous = items.iter().rev().find_map(|i| match i {
                            Item::Handout(h) => Some(h),
                            _ => None,
                        });
                        crate::spec::handout::validate(&mut ctx, previous).map(Item::Handout)
                    }
                };
                match ctx.finish(item) {
                    Ok(Some(i)) => items.push(i),
                    Ok(None) => {}
                    Err(d) => diags.extend(d),
                }
            }
        }
    }
    diags.finish(ChapterSpec { chapter, items })
}

/// A diagnostic at the field `field` of the block whose fence is on `line`, found in
/// the block's tree (at the fence when the field is not written), for cross-block
/// errors.
fn at_line(ch: &ChapterSpec, line: usize, field: &str, msg: String) -> Diagnostic {
    match ch.chapter.blocks().find(|b| b.fence_line == line) {
        Some(b) => b.field_diagnostic(&ch.chapter, field, msg),
        None => Diagnostic::new(&ch.chapter.path, msg)
            .at(&ch.chapter.source, line, 1)
            .field(field),
    }
}

fn cross_check(p: &Project) -> Diagnostics {
    let mut diags = Diagnostics::default();
    // Unique ids: chapters, and every block id across the project (they share anchors).
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut data_tables: BTreeMap<String, String> = BTreeMap::new();
    // Chapter ids are their own namespace (anchors `chapter-ID`).
    let mut chapter_ids: BTreeMap<&str, String> = BTreeMap::new();
    for ch in &p.chapters {
        let here = format!("{}:2", ch.chapter.path.display());
        if let Some(prev) = chapter_ids.insert(ch.id(), here) {
            diags.push(
                Diagnostic::new(
                    &ch.chapter.path,
                    format!("chapter id `{}` is already used at {prev}", ch.id()),
                )
                .at(&ch.chapter.source, 2, 1)
                .field("id"),
            );
        }
    }
    let mut claim = |diags: &mut Diagnostics,
                     ch: &ChapterSpec,
                     line: usize,
                     field: &str,
                     id: &str,
                     what: &str| {
        let here = format!("{}:{line}", ch.chapter.path.display());
        if let Some(prev) = seen.get(id) {
            diags.push(
                at_line(
                    ch,
                    line,
                    field,
                    format!("{what} id `{id}` is already used at {prev}"),
                )
                .hint("ids must be unique across the whole project"),
            );
        } else {
            seen.insert(id.to_string(), here);
        }
    };
    for ch in &p.chapters {
        for item in &ch.items {
            match item {
                Item::Experiment(e) => {
                    claim(&mut diags, ch, e.line, "id", &e.id, "experiment");
                    for s in &e.outputs {
                        let here = format!("{}:{}", ch.chapter.path.display(), e.line);
                        if let Some(prev) = data_tables.insert(s.name.clone(), here) {
                            diags.push(
                                at_line(
                                    ch,
                                    e.line,
                                    "tables",
                                    format!(
                                        "table name `{}` is already produced at {prev}",
                                        s.name
                                    ),
                                )
                                .hint("table names must be unique across the whole project"),
                            );
                        }
                    }
                }
                Item::Figure(f) => claim(&mut diags, ch, f.line, "id", &f.id, "figure"),
                Item::Table(t) => claim(&mut diags, ch, t.line, "id", &t.id, "table block"),
                Item::Check(c) => claim(&mut diags, ch, c.line, "id", &c.id, "check"),
                Item::Prose(_) | Item::Handout(_) => {}
            }
        }
    }
    // References to tables and columns.
    let schemas = p.table_schemas();
    let names: Vec<&str> = schemas.keys().map(|s| s.as_str()).collect();
    let table_ref = |diags: &mut Diagnostics,
                     ch: &ChapterSpec,
                     line: usize,
                     field: &str,
                     table: &str|
     -> Option<TableSchema> {
        match schemas.get(table) {
            Some((_, s)) => Some(s.clone()),
            None => {
                diags.push(
                    at_line(
                        ch,
                        line,
                        field,
                        format!("no experiment produces a table named `{table}`"),
                    )
                    .hint(suggest(table, &names)),
                );
                None
            }
        }
    };
    let column_ref = |diags: &mut Diagnostics,
                      ch: &ChapterSpec,
                      line: usize,
                      field: &str,
                      s: &TableSchema,
                      col: &str,
                      numeric: bool| {
        match s.columns.iter().find(|c| c.name == col) {
            None => diags.push(
                at_line(
                    ch,
                    line,
                    field,
                    format!("table `{}` has no column `{col}`", s.name),
                )
                .hint(suggest(col, &s.column_names())),
            ),
            Some(c) if numeric && c.kind != ColumnKind::Number => diags.push(at_line(
                ch,
                line,
                field,
                format!(
                    "column `{col}` of table `{}` holds text, not numbers",
                    s.name
                ),
            )),
            Some(_) => {}
        }
    };
    let selector =
        |diags: &mut Diagnostics, ch: &ChapterSpec, line: usize, prefix: &str, sel: &Selector| {
            if let Some(s) = table_ref(diags, ch, line, &format!("{prefix}.table"), &sel.table) {
                column_ref(
                    diags,
                    ch,
                    line,
                    &format!("{prefix}.column"),
                    &s,
                    &sel.column,
                    true,
                );
                for (c, _) in &sel.filter {
                    column_ref(diags, ch, line, &format!("{prefix}.where"), &s, c, false);
                }
                if let Some(c) = sel.reduce.as_ref().and_then(|r| r.reads()) {
                    column_ref(diags, ch, line, &format!("{prefix}.reduce"), &s, c, true);
                }
                Some(s)
            } else {
                None
            }
        };
    for ch in &p.chapters {
        for item in &ch.items {
            match item {
                Item::Figure(f) => {
                    if let Some(s) = table_ref(&mut diags, ch, f.line, "table", &f.table) {
                        for (field, col) in f.columns_used() {
                            let numeric = matches!(field, "x" | "y" | "shade" | "value");
                            column_ref(&mut diags, ch, f.line, field, &s, col, numeric);
                        }
                    }
                    if let Some(pt) = f.heat.as_ref().and_then(|h| h.points.as_ref()) {
                        if let Some(s) =
                            table_ref(&mut diags, ch, f.line, "points.table", &pt.table)
                        {
                            for (field, col) in [("points.x", &pt.x), ("points.y", &pt.y)] {
                                column_ref(&mut diags, ch, f.line, field, &s, col, true);
                            }
                            for (c, _) in &pt.filter {
                                column_ref(&mut diags, ch, f.line, "points.where", &s, c, false);
                            }
                        }
                    }
                }
                Item::Table(t) => {
                    if let Some(s) = table_ref(&mut diags, ch, t.line, "table", &t.table) {
                        for c in t.columns.iter().flatten() {
                            column_ref(&mut diags, ch, t.line, "columns", &s, c, false);
                        }
                        for (c, _) in &t.filter {
                            column_ref(&mut diags, ch, t.line, "where", &s, c, false);
                        }
                        if let Some(pv) = &t.pivot {
                            column_ref(&mut diags, ch, t.line, "pivot.rows", &s, &pv.rows, false);
                            column_ref(
                                &mut diags,
                                ch,
                                t.line,
                                "pivot.columns",
                                &s,
                                &pv.columns,
                                false,
                            );
                            column_ref(
                                &mut diags,
                                ch,
                                t.line,
                                "pivot.values",
                                &s,
                                &pv.values,
                                true,
                            );
                        }
                    }
                }
                Item::Check(c) => {
                    let s = selector(&mut diags, ch, c.line, "computed", &c.computed);
                    match &c.expected {
                        Expected::Paper(key) if p.paper.get(key).is_none() => {
                            let keys: Vec<&str> =
                                p.paper.values.keys().map(|k| k.as_str()).collect();
                            diags.push(
                                at_line(
                                    ch,
                                    c.line,
                                    "expected.paper",
                                    format!("the paper values (data/paper.yaml, data/read-off/) have no entry `{key}`"),
                                )
                                .hint(suggest(key, &keys)),
                            );
                        }
                        Expected::Paper(key) => {
                            let read_off = p.paper.get(key).is_some_and(|v| v.is_read_off());
                            let figure = c.basis == Basis::PaperFigure;
                            if read_off != figure {
                                diags.push(
                                    at_line(
                                        ch,
                                        c.line,
                                        "basis",
                                        format!(
                                            "`{key}` is {}, but the check says `basis: {}`",
                                            if read_off {
                                                "read off a figure (data/read-off/)"
                                            } else {
                                                "a printed number (data/paper.yaml)"
                                            },
                                            c.basis.name()
                                        ),
                                    )
                                    .hint(if read_off {
                                        "use `basis: paper_figure` and `tolerance: read_off`"
                                    } else {
                                        "use `basis: paper_value` and `tolerance: printed`"
                                    }),
                                );
                            }
                        }
                        Expected::Column(sel) => {
                            selector(&mut diags, ch, c.line, "expected", sel);
                        }
                        _ => {}
                    }
                    if let (Tolerance::StandardErrors { column, .. }, Some(s)) = (&c.tolerance, &s)
                    {
                        column_ref(
                            &mut diags,
                            ch,
                            c.line,
                            "tolerance.se_column",
                            s,
                            column,
                            true,
                        );
                    }
                }
                _ => {}
            }
        }
    }
    diags
}
