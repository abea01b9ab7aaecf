//! The driver: load → run experiments → draw figures → evaluate checks → render →
//! write. Each stage is a function of the previous stage's plain data; this file only
//! sequences them and owns the output folder.
//!
//! The output is written into a staging folder beside the target and swapped in only
//! when everything succeeded, so a failed or interrupted build leaves the previous
//! report complete and untouched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use crate::check::{self, CheckOutcome, Status};
use crate::diagnostic::Diagnostics;
use crate::figure;
use crate::project::Project;
use crate::render::{self, html::Templates, DrawnFigure, Inputs};
use crate::table::Results;

/// What can stop a build, with its exit code.
#[derive(Debug)]
pub enum Error {
    /// The chapters, specs, templates or data are wrong: the user can fix them.
    Input(Diagnostics),
    /// An experiment or figure failed while running.
    Run(String),
    /// The output could not be written.
    Output(String),
}

impl Error {
    /// 2 for bad input, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => 2,
            Error::Run(_) | Error::Output(_) => 1,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Input(d) => write!(f, "{d}"),
            Error::Run(m) => write!(f, "error: {m}\nnothing was written"),
            Error::Output(m) => write!(f, "error: cannot write the report: {m}"),
        }
    }
}

impl From<Diagnostics> for Error {
    fn from(d: Diagnostics) -> Self {
        Error::Input(d)
    }
}

pub struct BuildOptions {
    /// The folder holding `chapters/`, `templates/` and `data/`.
    pub project: PathBuf,
    /// Where to write; default `PROJECT/output`.
    pub out: Option<PathBuf>,
    /// Print a line per experiment as it finishes.
    pub verbose: bool,
}

/// Everything computed by a build, before rendering.
pub struct Computed {
    pub results: Arc<Results>,
    pub seconds: BTreeMap<String, f64>,
    pub outcomes: BTreeMap<String, CheckOutcome>,
}

pub struct BuildSummary {
    pub out_dir: PathBuf,
    pub chapters: usize,
    pub experiments: usize,
    pub tables: usize,
    pub figures: usize,
    pub outcomes: Vec<CheckOutcome>,
}

impl BuildSummary {
    pub fn count(&self, s: Status) -> usize {
        self.outcomes.iter().filter(|o| o.status == s).count()
    }
}

/// Run every experiment (in parallel; each one is deterministic on its own) and
/// evaluate every check.
pub fn compute(project: &Project, verbose: bool) -> Result<Computed, Error> {
    let experiments: Vec<_> = project.experiments().collect();
    let runs: Vec<Result<(Vec<crate::table::Table>, f64), String>> = experiments
        .par_iter()
        .map(|(ch, e)| {
            let start = Instant::now();
            let tables = e.run().map_err(|m| {
                format!(
                    "experiment `{}` ({}:{}) failed: {m}",
                    e.id,
                    ch.chapter.path.display(),
                    e.line
                )
            })?;
            let secs = start.elapsed().as_secs_f64();
            if verbose {
                eprintln!("  ran {:<32} {:>8.2} s  ({})", e.id, secs, ch.id());
            }
            Ok((tables, secs))
        })
        .collect();
    let mut results = Results::default();
    let mut seconds = BTreeMap::new();
    for ((_, e), run) in experiments.iter().zip(runs) {
        let (tables, secs) = run.map_err(Error::Run)?;
        seconds.insert(e.id.clone(), secs);
        for t in tables {
            results
                .measures
                .insert(t.name.clone(), e.spec.measures().to_vec());
            results.tables.insert(t.name.clone(), t);
        }
    }
    let mut outcomes = BTreeMap::new();
    for ch in &project.chapters {
        for c in ch.checks() {
            outcomes.insert(
                c.id.clone(),
                check::evaluate(c, ch.id(), &results, &project.paper),
            );
        }
    }
    Ok(Computed {
        results: Arc::new(results),
        seconds,
        outcomes,
    })
}

/// Draw every figure (SVG and PNG) in parallel.
pub fn draw_figures(
    project: &Project,
    results: &Results,
) -> Result<BTreeMap<String, DrawnFigure>, Error> {
    let specs: Vec<_> = project
        .chapters
        .iter()
        .flat_map(|c| c.figures().map(move |f| (c, f)))
        .collect();
    let drawn: Vec<Result<(String, DrawnFigure), String>> = specs
        .par_iter()
        .map(|(ch, f)| {
            let ctx = |m: String| {
                format!(
                    "figure `{}` ({}:{}): {m}",
                    f.id,
                    ch.chapter.path.display(),
                    f.line
                )
            };
            let table = results.table(&f.table).map_err(ctx)?;
            let plot = figure::build(f, table).map_err(ctx)?;
            let svg = figure::draw::render_svg(&plot).map_err(|e| ctx(e.to_string()))?;
            let png = figure::draw::render_png(&plot, figure::PNG_SCALE)
                .map_err(|e| ctx(e.to_string()))?;
            Ok((f.id.clone(), DrawnFigure { svg, png }))
        })
        .collect();
    drawn
        .into_iter()
        .collect::<Result<BTreeMap<_, _>, _>>()
        .map_err(Error::Run)
}

/// The whole build.
pub fn build(opts: &BuildOptions) -> Result<BuildSummary, Error> {
    let project = Project::load(&opts.project)?;
    let templates = Templates::load(&opts.project.join("templates"))?;
    let computed = compute(&project, opts.verbose)?;
    let figures = draw_figures(&project, &computed.results)?;
    let html = render::render_report(&Inputs {
        project: &project,
        results: computed.results.clone(),
        figures: &figures,
        outcomes: &computed.outcomes,
        seconds: &computed.seconds,
        templates: &templates,
    })?;
    let out_dir = opts
        .out
        .clone()
        .unwrap_or_else(|| opts.project.join("output"));
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![
        (PathBuf::from("report.html"), html.into_bytes()),
        (
            PathBuf::from("README.md"),
            OUTPUT_README.as_bytes().to_vec(),
        ),
    ];
    for ch in &project.chapters {
        for f in ch.figures() {
            let d = &figures[&f.id];
            files.push((
                render::figure_path(ch.id(), &f.id, "svg").into(),
                d.svg.clone().into_bytes(),
            ));
            files.push((
                render::figure_path(ch.id(), &f.id, "png").into(),
                d.png.clone(),
            ));
        }
    }
    let paths = render::table_paths(&project);
    write_output(&out_dir, &files, |stage| {
        for (name, t) in &computed.results.tables {
            let (csv, pq) = &paths[name];
            let csv = stage.join(csv);
            std::fs::create_dir_all(csv.parent().unwrap_or(stage)).map_err(|e| e.to_string())?;
            t.write_csv(&csv)?;
            t.write_parquet(&stage.join(pq))?;
        }
        Ok(())
    })?;
    Ok(BuildSummary {
        out_dir,
        chapters: project.chapters.len(),
        experiments: project.experiments().count(),
        tables: computed.results.tables.len(),
        figures: figures.len(),
        outcomes: computed.outcomes.into_values().collect(),
    })
}

/// Write `files` (and whatever `extra` writes) into a staging folder next to `out`,
/// then swap it in. On any error the staging folder is removed and `out` is untouched.
pub fn write_output(
    out: &Path,
    files: &[(PathBuf, Vec<u8>)],
    extra: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), Error> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::Output(format!("{}: {e}", parent.display())))?;
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Output(format!("{} is not a folder name", out.display())))?;
    let pid = std::process::id();
    let stage = parent.join(format!(".{name}.staging-{pid}"));
    let old = parent.join(format!(".{name}.old-{pid}"));
    let _ = std::fs::remove_dir_all(&stage);
    let result = (|| -> Result<(), String> {
        std::fs::create_dir_all(&stage).map_err(|e| format!("{}: {e}", stage.display()))?;
        for (rel, bytes) in files {
            let p = stage.join(rel);
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        extra(&stage)?;
        if out.exists() {
            std::fs::rename(out, &old).map_err(|e| format!("{}: {e}", out.display()))?;
            if let Err(e) = std::fs::rename(&stage, out) {
                // Put the previous report back before giving up.
                let _ = std::fs::rename(&old, out);
                return Err(format!("{}: {e}", out.display()));
            }
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&stage, out).map_err(|e| format!("{}: {e}", out.display()))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&stage);
    }
    result.map_err(Error::Output)
}

/// `output/README.md`, written by every build (and committed, so the folder exists in
/// a fresh clone).
pub const OUTPUT_README: &str = "# output/

Everything here is written by `diffrepro build` and ignored by git (except this file).
A build writes into a staging folder and swaps it in only when it succeeded, so this
folder always holds the last complete report.

- `report.html`: the whole report in one file (figures inline as SVG, math as MathML);
  it opens offline.
- `data/<chapter>/<table>.csv` and `.parquet`: every table computed by the chapter's
  experiments, one file per table, with the columns the report describes.
- `figures/<chapter>/<figure>.svg` and `.png`: every figure, as vector graphics and as
  a PNG at twice the SVG size for slides.
";
