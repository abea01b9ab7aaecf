//! The driver: load → run experiments → draw figures → evaluate checks → render →
//! write. Each stage is a function of the previous stage's plain data; this file only
//! sequences them. The output folder (lock, staging, swap) is `crate::output`, the
//! result cache `crate::cache`, and everything said along the way goes to the
//! `crate::reporter::Reporter` the caller hands in.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use crate::cache::{Cache, KeyBuilder, Miss};
use crate::check::{self, CheckOutcome, Status};
use crate::diagnostic::Diagnostics;
use crate::experiment::Experiment;
use crate::figure;
use crate::project::{ChapterSpec, Project};
use crate::provenance::{self, ExperimentRecord, Provenance};
use crate::render::{self, html::Templates};
use crate::report::{self, DrawnFigure, Edition, Inputs, Report};
use crate::reporter::Reporter;
use crate::spec::Fidelity;
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

impl From<crate::output::Error> for Error {
    fn from(e: crate::output::Error) -> Self {
        Error::Output(e.to_string())
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
    /// Print a line per chapter (and with `explain`, per experiment).
    pub verbose: bool,
    pub fidelity: Fidelity,
    /// Reuse cached results whose inputs are unchanged.
    pub use_cache: bool,
    /// Say for each experiment why it ran or was reused.
    pub explain: bool,
    /// Only these chapters (empty: all).
    pub chapters: Vec<String>,
    /// `--set` overrides of experiment specs (see `crate::overrides`).
    pub overrides: crate::overrides::Overrides,
    /// Also write the student and teacher handouts (see `crate::handout`).
    pub handout: bool,
    /// Which editions of the report to write.
    pub format: Format,
    /// Where progress, notes and warnings go.
    pub reporter: Arc<dyn Reporter>,
}

/// `--format`: the HTML report, the PDF report, or both (the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Pdf,
    #[default]
    All,
}

impl Format {
    pub fn html(self) -> bool {
        matches!(self, Format::Html | Format::All)
    }
    pub fn pdf(self) -> bool {
        matches!(self, Format::Pdf | Format::All)
    }
}

impl BuildOptions {
    pub fn new(project: PathBuf) -> Self {
        BuildOptions {
            project,
            out: None,
            verbose: false,
            fidelity: Fidelity::Paper,
            use_cache: true,
            explain: false,
            chapters: Vec::new(),
            overrides: Default::default(),
            handout: false,
            format: Format::All,
            reporter: Arc::new(crate::reporter::Collect::default()),
        }
    }

    pub fn out_dir(&self) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| self.project.join("output"))
    }
}

/// Everything computed by a build, before rendering.
pub struct Computed {
    pub results: Arc<Results>,
    pub seconds: BTreeMap<String, f64>,
    pub outcomes: BTreeMap<String, CheckOutcome>,
    pub records: Vec<ExperimentRecord>,
}

impl Computed {
    /// The inputs of the report model for `edition`: the `selected` chapters of
    /// `project` with what was computed for them, their figures and the provenance.
    pub fn inputs<'a>(
        &'a self,
        project: &'a Project,
        selected: &'a [usize],
        figures: &'a BTreeMap<String, DrawnFigure>,
        provenance: &'a Provenance,
        edition: Edition,
    ) -> Inputs<'a> {
        Inputs {
            project,
            selected,
            results: self.results.clone(),
            figures,
            outcomes: &self.outcomes,
            provenance,
            edition,
        }
    }
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

/// The cache key of an experiment (see [`crate::cache::experiment_key`]).
pub fn cache_key(e: &Experiment, fidelity: Fidelity) -> String {
    crate::cache::experiment_key(e, fidelity.name(), code_digest())
}

/// What identifies the code that computes results: a digest of the sources this
/// binary was built from. A changed runner (same version number, new code) must not
/// reuse results computed by the old one; an unchanged tree rebuilt keeps them.
fn code_digest() -> &'static str {
    provenance::source_digest()
}

/// Indices of the chapters whose experiments must run for `selected` chapters:
/// the selected ones plus any chapter producing a table they refer to.
fn needed_chapters(project: &Project, selected: &[usize]) -> Vec<usize> {
    let producers = project.table_schemas();
    let mut need: Vec<usize> = selected.to_vec();
    for &i in selected {
        let ch = &project.chapters[i];
        let mut tables: Vec<&str> = ch.figures().map(|f| f.table.as_str()).collect();
        tables.extend(ch.tables().map(|t| t.table.as_str()));
        for c in ch.checks() {
            tables.push(&c.computed.table);
            if let crate::spec::check::Expected::Column(s) = &c.expected {
                tables.push(&s.table);
            }
        }
        for t in tables {
            if let Some((cid, _)) = producers.get(t) {
                if let Some(j) = project.chapters.iter().position(|c| c.id() == cid) {
                    if !need.contains(&j) {
                        need.push(j);
                    }
                }
            }
        }
    }
    need.sort();
    need
}

/// Run (or reuse from the cache) the experiments of the `selected` chapters and of
/// the chapters they depend on, then evaluate the selected chapters' checks.
pub fn compute(
    project: &Project,
    selected: &[usize],
    opts: &BuildOptions,
) -> Result<Computed, Error> {
    let cache = Cache::in_output(&opts.out_dir());
    let need = needed_chapters(project, selected);
    let experiments: Vec<(&ChapterSpec, &Experiment)> = need
        .iter()
        .flat_map(|&i| {
            let ch = &project.chapters[i];
            ch.experiments().map(move |e| (ch, e))
        })
        .collect();
    type Run = (Vec<crate::table::Table>, f64, String, String);
    let progress = Progress::new(experiments.len(), opts);
    let runs: Vec<Result<Run, String>> = experiments
        .par_iter()
        .map(|(ch, e)| {
            let _tick = progress.tick_on_drop();
            let start = Instant::now();
            let key = cache_key(e, opts.fidelity);
            let reason = if opts.use_cache {
                match cache.load(&key) {
                    Ok(tables) if tables_match(&tables, e) => {
                        let secs = start.elapsed().as_secs_f64();
                        return Ok((
                            tables,
                            secs,
                            "cached".to_string(),
                            format!("reused cache entry {}", &key[..12]),
                        ));
                    }
                    Ok(_) => {
                        "cache entry does not match the declared tables; recomputed".to_string()
                    }
                    Err(Miss::Absent) => {
                        format!("no cache entry {} (new, or an input changed)", &key[..12])
                    }
                    Err(Miss::Corrupt(why)) => {
                        format!("cache entry {} is damaged ({why}); recomputed", &key[..12])
                    }
                }
            } else {
                "--no-cache".to_string()
            };
            let tables = e.run().map_err(|m| {
                format!(
                    "experiment `{}` ({}:{}) failed: {m}",
                    e.id,
                    ch.chapter.path.display(),
                    e.line
                )
            })?;
            let secs = start.elapsed().as_secs_f64();
            if let Err(err) = cache.store(&key, &e.id, &tables) {
                // A cache that cannot be written costs time, never correctness.
                opts.reporter
                    .warn(&format!("cannot cache experiment `{}`: {err}", e.id));
            }
            Ok((tables, secs, "ran".to_string(), reason))
        })
        .collect();
    progress.finish();
    let mut results = Results::default();
    let mut seconds = BTreeMap::new();
    let mut records = Vec::new();
    let mut per_chapter: BTreeMap<&str, (usize, usize, f64)> = BTreeMap::new();
    for ((ch, e), run) in experiments.iter().zip(runs) {
        let (tables, secs, status, reason) = run.map_err(Error::Run)?;
        if opts.explain {
            opts.reporter.note(&format!(
                "  {status:<6} {:<34} {:>7.2} s  {reason}",
                e.id, secs
            ));
        }
        let entry = per_chapter.entry(ch.id()).or_default();
        if status == "ran" {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        entry.2 += secs;
        seconds.insert(e.id.clone(), secs);
        let (method, samples) = e.spec.method();
        records.push(ExperimentRecord {
            id: e.id.clone(),
            chapter: ch.id().to_string(),
            kind: e.kind.to_string(),
            spec_sha256: crate::cache::sha256_hex(e.source.as_bytes()),
            cache_key: cache_key(e, opts.fidelity),
            seed: e.seed,
            method,
            samples,
            wall_seconds: secs,
            status,
        });
        for t in tables {
            results
                .measures
                .insert(t.name.clone(), e.spec.measures().to_vec());
            results.tables.insert(t.name.clone(), t);
        }
    }
    if opts.verbose {
        for (ch, (ran, cached, secs)) in &per_chapter {
            opts.reporter.note(&format!(
                "  chapter {ch:<28} {ran} ran, {cached} cached, {secs:.2} s"
            ));
        }
    }
    let mut outcomes = BTreeMap::new();
    for &i in selected {
        let ch = &project.chapters[i];
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
        records,
    })
}

/// Counts finished experiments for the reporter's progress bar (shown only when the
/// user asked for detail).
struct Progress<'a> {
    total: usize,
    done: std::sync::atomic::AtomicUsize,
    reporter: Option<&'a dyn Reporter>,
}

struct Tick<'a, 'b>(&'a Progress<'b>);

impl Drop for Tick<'_, '_> {
    fn drop(&mut self) {
        let p = self.0;
        let n = p.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if let Some(r) = p.reporter {
            r.progress(n, p.total);
        }
    }
}

impl<'a> Progress<'a> {
    fn new(total: usize, opts: &'a BuildOptions) -> Progress<'a> {
        Progress {
            total,
            done: std::sync::atomic::AtomicUsize::new(0),
            reporter: opts.verbose.then_some(opts.reporter.as_ref()),
        }
    }
    fn tick_on_drop(&self) -> Tick<'_, 'a> {
        Tick(self)
    }
    fn finish(&self) {
        if let Some(r) = self.reporter {
            r.progress_end();
        }
    }
}

fn tables_match(tables: &[crate::table::Table], e: &Experiment) -> bool {
    tables.len() == e.outputs.len()
        && tables.iter().zip(&e.outputs).all(|(t, s)| {
            t.name == s.name
                && t.column_names() == s.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>()
        })
}

/// The checks in report order, as written to `checks.json` and printed by `check`.
#[derive(serde::Serialize)]
pub struct ChecksFile<'a> {
    /// `paper` or `quick`: the fidelity the experiments ran at.
    pub fidelity: &'static str,
    /// How many of `checks` are `reproduced` (candidate explanations included).
    pub reproduced: usize,
    /// How many are declared discrepancies that still hold.
    pub discrepancy: usize,
    /// How many `failed`.
    pub failed: usize,
    /// The verdict by what the checks rest on.
    pub by_basis: Vec<check::BasisTally>,
    /// Candidate explanations of disagreements, counted apart.
    pub candidates: check::CandidateTally,
    /// Every check of the selected chapters (`--chapters`), in report order.
    pub checks: Vec<&'a CheckOutcome>,
}

pub fn checks_file<'a>(
    project: &Project,
    outcomes: &'a BTreeMap<String, CheckOutcome>,
    fidelity: Fidelity,
) -> ChecksFile<'a> {
    let ordered: Vec<&CheckOutcome> = project
        .chapters
        .iter()
        .flat_map(|c| c.checks())
        .filter_map(|c| outcomes.get(&c.id))
        .collect();
    let count = |s: Status| ordered.iter().filter(|o| o.status == s).count();
    ChecksFile {
        fidelity: fidelity.name(),
        reproduced: count(Status::Reproduced),
        discrepancy: count(Status::Discrepancy),
        failed: count(Status::Failed),
        by_basis: check::tally_by_basis(ordered.iter().copied()),
        candidates: check::CandidateTally::of(ordered.iter().copied()),
        checks: ordered,
    }
}

pub fn provenance(
    project: &Project,
    opts: &BuildOptions,
    records: Vec<ExperimentRecord>,
) -> Provenance {
    Provenance {
        diffrepro_version: env!("CARGO_PKG_VERSION").to_string(),
        git: provenance::git_state(&project.root),
        rustc: provenance::rustc_version().to_string(),
        os: format!("{} ({})", std::env::consts::OS, std::env::consts::FAMILY),
        arch: std::env::consts::ARCH.to_string(),
        cpu: provenance::cpu_model(),
        threads: rayon::current_num_threads(),
        date: provenance::now_rfc3339(),
        fidelity: opts.fidelity.name().to_string(),
        overrides: opts.overrides.records(),
        dependencies: provenance::dependencies(),
        experiments: records,
    }
}

/// Draw every figure (SVG and PNG) in parallel.
///
/// A PNG is a function of its SVG (and of this code), so it is keyed by the SVG's
/// bytes and reused from the cache when they have not changed: rasterising is most of
/// a build whose experiments are all cached. Each figure carries its PNG's cache key.
pub fn draw_figures(
    project: &Project,
    selected: &[usize],
    results: &Results,
    cache: &Cache,
) -> Result<BTreeMap<String, DrawnFigure>, Error> {
    let specs: Vec<_> = selected
        .iter()
        .map(|&i| &project.chapters[i])
        .flat_map(|c| c.figures().map(move |f| (c, f)))
        .collect();
    let drawn: Vec<Result<(String, DrawnFigure, figure::plot::Plot), String>> = specs
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
            let mut plot = figure::build(f, table).map_err(ctx)?;
            if let Some(p) = f.heat.as_ref().and_then(|h| h.points.as_ref()) {
                let points = results.table(&p.table).map_err(ctx)?;
                figure::add_points(&mut plot, f, points)
                    .map_err(|e| ctx(format!("`points`: {e}")))?;
            }
            if let Some(panel) = &f.paper_panel {
                figure::add_paper_marks(&mut plot, &paper_marks(&project.paper, panel));
            }
            let drawn = DrawnFigure::draw(&plot, cache).map_err(ctx)?;
            Ok((f.id.clone(), drawn, plot))
        })
        .collect();
    let mut plots = BTreeMap::new();
    let mut figures = BTreeMap::new();
    for d in drawn {
        let (id, drawn, plot) = d.map_err(Error::Run)?;
        figures.insert(id.clone(), drawn);
        plots.insert(id, plot);
    }
    // Multi-panel figures: the panels' plots drawn together.
    let groups: Vec<(String, Vec<&figure::plot::Plot>)> = selected
        .iter()
        .flat_map(|&i| figure::groups(project.chapters[i].figures()))
        .map(|g| {
            let members = g.members.iter().map(|f| &plots[&f.id]).collect();
            (g.id, members)
        })
        .collect();
    let combined: Vec<Result<(String, DrawnFigure), String>> = groups
        .par_iter()
        .map(|(id, members)| {
            let drawn = DrawnFigure::draw(&figure::combine(members), cache)
                .map_err(|e| format!("figure `{id}`: {e}"))?;
            Ok((id.clone(), drawn))
        })
        .collect();
    for c in combined {
        let (id, drawn) = c.map_err(Error::Run)?;
        if figures.insert(id.clone(), drawn).is_some() {
            return Err(Error::Run(format!(
                "`panel_of: {id}` names a figure that exists on its own; a multi-panel figure needs an id of its own"
            )));
        }
    }
    Ok(figures)
}

/// The points read off the paper's figure panel ("6(c)"), for drawing on ours.
fn paper_marks(paper: &check::PaperValues, panel: &str) -> Vec<figure::plot::PaperMark> {
    paper
        .points_of_panel(panel)
        .filter_map(|(_, v)| match &v.provenance {
            check::paper::Provenance::ReadOff {
                point: Some([x, y]),
                point_error,
                ..
            } => {
                let [ex, ey] = point_error.unwrap_or([0.0, 0.0]);
                Some(figure::plot::PaperMark {
                    x: *x,
                    y: *y,
                    x_error: ex,
                    y_error: ey,
                })
            }
            _ => None,
        })
        .collect()
}

/// The whole build.
pub fn build(opts: &BuildOptions) -> Result<BuildSummary, Error> {
    let mut clock = Stages::new();
    let project = Project::load_overridden(&opts.project, opts.fidelity, &opts.overrides)?;
    let _lock = crate::output::OutputLock::acquire(&opts.out_dir())?;
    let selected = project.chapter_filter(&opts.chapters)?;
    let templates = Templates::load(&opts.project.join("templates"))?;
    clock.lap("read and validate");
    let computed = compute(&project, &selected, opts)?;
    clock.lap("experiments and checks");
    let cache = Cache::in_output(&opts.out_dir());
    let figures = draw_figures(&project, &selected, &computed.results, &cache)?;
    clock.lap("figures");
    let prov = provenance(&project, opts, computed.records.clone());
    let inputs = computed.inputs(&project, &selected, &figures, &prov, Edition::Report);
    // The model, built once; both backends render it.
    let model = report::build(&inputs)?;
    let mut reports: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    if opts.format.html() {
        reports.push((
            PathBuf::from("report.html"),
            render::render_report(&model, &templates)?.into_bytes(),
        ));
    }
    if opts.format.pdf() {
        reports.push((PathBuf::from("report.pdf"), pdf_report(&model, opts)?));
    }
    let mut handouts = if opts.handout && opts.format.html() {
        crate::handout::render_handouts(&inputs, &templates)?
    } else {
        Vec::new()
    };
    if opts.handout && opts.format.pdf() {
        for edition in Edition::HANDOUTS {
            let pdf = pdf_report(&report::build(&inputs.for_edition(edition))?, opts)?;
            handouts.push((
                PathBuf::from(format!("handout-{}.pdf", edition.name())),
                pdf,
            ));
        }
    }
    let out_dir = opts.out_dir();
    let json = |v: &dyn erased::Json| v.to_json();
    let mut files: Vec<(PathBuf, Vec<u8>)> = reports;
    files.extend([
        (
            PathBuf::from("README.md"),
            crate::output::README.as_bytes().to_vec(),
        ),
        (
            PathBuf::from("checks.json"),
            json(&checks_file(&project, &computed.outcomes, opts.fidelity)),
        ),
        (PathBuf::from("provenance.json"), json(&prov)),
    ]);
    files.extend(handouts);
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut file_keys: Vec<String> = figures.values().map(|d| d.png_key.clone()).collect();
    for &i in &selected {
        let ch = &project.chapters[i];
        let ids = ch
            .figures()
            .map(|f| f.id.clone())
            .chain(figure::groups(ch.figures()).into_iter().map(|g| g.id));
        for id in ids {
            let d = &figures[&id];
            files.push((
                report::figure_path(ch.id(), &id, "svg").into(),
                d.svg.clone().into_bytes(),
            ));
            let png = PathBuf::from(report::figure_path(ch.id(), &id, "png"));
            if cache.load_file(&d.png_key).is_some() {
                links.push((png, cache.file_path(&d.png_key)));
            } else {
                files.push((png, d.png.clone()));
            }
        }
    }
    // Table files are keyed by content: an unchanged table is linked, not re-encoded.
    let paths = report::table_paths(&project);
    type Encoded = Vec<(PathBuf, Result<PathBuf, Vec<u8>>, String)>;
    let encoded: Vec<Result<Encoded, String>> = computed
        .results
        .tables
        .par_iter()
        .map(|(name, t)| {
            let (csv, pq) = &paths[name];
            let digest = t.digest();
            let key = |format: &str| {
                KeyBuilder::new()
                    .part("table", digest.as_bytes())
                    .part("format", format.as_bytes())
                    .part("code", code_digest().as_bytes())
                    .finish()
            };
            let (csv_key, pq_key) = (key("csv"), key("parquet"));
            Ok(vec![
                (
                    PathBuf::from(csv),
                    cache.ensure_file(&csv_key, || t.csv_bytes())?,
                    csv_key,
                ),
                (
                    PathBuf::from(pq),
                    cache.ensure_file(&pq_key, || t.parquet_bytes())?,
                    pq_key,
                ),
            ])
        })
        .collect();
    for table in encoded {
        for (rel, file, key) in table.map_err(Error::Run)? {
            match file {
                Ok(path) => links.push((rel, path)),
                Err(bytes) => files.push((rel, bytes)),
            }
            file_keys.push(key);
        }
    }
    clock.lap("render");
    crate::output::write(&out_dir, &files, &links)?;
    // Only a full build of the chapters as written knows every live entry (an
    // overridden build must not evict the paper's results).
    if opts.chapters.is_empty() && opts.overrides.is_empty() {
        // A full build knows every live entry: drop the rest so the cache stays small.
        let keep: Vec<String> = computed
            .records
            .iter()
            .map(|r| r.cache_key.clone())
            .collect();
        cache.prune(&keep, &file_keys);
    }
    clock.lap("write");
    if opts.explain {
        opts.reporter.note(&clock.summary());
    }
    Ok(BuildSummary {
        out_dir,
        chapters: selected.len(),
        experiments: computed.records.len(),
        tables: computed.results.tables.len(),
        figures: figures.len(),
        outcomes: checks_file(&project, &computed.outcomes, opts.fidelity)
            .checks
            .into_iter()
            .cloned()
            .collect(),
    })
}

/// Wall time per stage of a build, for `--explain`.
struct Stages {
    last: Instant,
    laps: Vec<(&'static str, f64)>,
}

impl Stages {
    fn new() -> Stages {
        Stages {
            last: Instant::now(),
            laps: Vec::new(),
        }
    }
    fn lap(&mut self, stage: &'static str) {
        let now = Instant::now();
        self.laps
            .push((stage, now.duration_since(self.last).as_secs_f64()));
        self.last = now;
    }
    fn summary(&self) -> String {
        let parts: Vec<String> = self
            .laps
            .iter()
            .map(|(s, t)| format!("{s} {t:.2} s"))
            .collect();
        format!("  stages: {}", parts.join(", "))
    }
}

/// Serialize a value as pretty JSON with a final newline.
mod erased {
    pub trait Json {
        fn to_json(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> Vec<u8> {
            let mut v = serde_json::to_vec_pretty(self).expect("plain data serializes");
            v.push(b'\n');
            v
        }
    }
}

/// The PDF edition: Typst source from the same model as the HTML, typeset in process.
/// Constructs that could not be converted are printed as warnings (the PDF shows them
/// as source); a Typst error stops the build and names the chapter and construct.
pub fn pdf_report(model: &Report, opts: &BuildOptions) -> Result<Vec<u8>, Error> {
    let markup = render::pdf::markup::document(model);
    for w in &markup.warnings {
        opts.reporter
            .warn(&format!("(PDF) {} ({})", w.message, w.location()));
    }
    let pdf = render::pdf::typeset::typeset(&markup.source)
        .map_err(|e| Error::Run(format!("the PDF could not be typeset: {e}")))?;
    if opts.verbose {
        for w in &pdf.warnings {
            opts.reporter.warn(&format!("(PDF) {w}"));
        }
    }
    Ok(pdf.bytes)
}
