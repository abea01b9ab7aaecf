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

use crate::cache::{Cache, KeyBuilder, Miss};
use crate::check::{self, CheckOutcome, Status};
use crate::diagnostic::Diagnostics;
use crate::experiment::Experiment;
use crate::figure;
use crate::project::{ChapterSpec, Project};
use crate::provenance::{self, ExperimentRecord, Provenance};
use crate::render::{self, html::Templates, DrawnFigure, Inputs};
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

/// The cache key of an experiment: its validated spec (every parameter, measure and
/// data value it will use), seed, declared outputs, the fidelity tier, and the
/// versions of diffrepro and rustc.
pub fn cache_key(e: &Experiment, fidelity: Fidelity) -> String {
    KeyBuilder::new()
        .part("spec", format!("{:?}", e.spec).as_bytes())
        .part("kind", e.kind.as_bytes())
        .part("seed", &e.seed.to_le_bytes())
        .part("outputs", format!("{:?}", e.outputs).as_bytes())
        .part("fidelity", fidelity.name().as_bytes())
        .part("diffrepro", env!("CARGO_PKG_VERSION").as_bytes())
        .part("rustc", provenance::rustc_version().as_bytes())
        .part("binary", binary_digest().as_bytes())
        .finish()
}

/// SHA-256 of the running executable: a changed runner (same version number, new
/// code) must not reuse results computed by the old one.
fn binary_digest() -> &'static str {
    static DIGEST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DIGEST.get_or_init(|| {
        std::env::current_exe()
            .and_then(std::fs::read)
            .map(|b| crate::cache::sha256_hex(&b))
            .unwrap_or_else(|_| "unknown".into())
    })
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
    let progress = Progress::new(experiments.len(), opts.verbose);
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
                eprintln!("warning: cannot cache experiment `{}`: {err}", e.id);
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
            eprintln!("  {status:<6} {:<34} {:>7.2} s  {reason}", e.id, secs);
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
            eprintln!("  chapter {ch:<28} {ran} ran, {cached} cached, {secs:.2} s");
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

/// A one-line progress bar on a terminal; silent when stderr is not one (logs and
/// CI get the per-chapter lines instead).
struct Progress {
    total: usize,
    done: std::sync::atomic::AtomicUsize,
    live: bool,
}

struct Tick<'a>(&'a Progress);

impl Drop for Tick<'_> {
    fn drop(&mut self) {
        let p = self.0;
        let n = p.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if p.live {
            let width = 30;
            let filled = width * n / p.total.max(1);
            eprint!(
                "\r  experiments [{}{}] {n}/{}",
                "#".repeat(filled),
                " ".repeat(width - filled),
                p.total
            );
        }
    }
}

impl Progress {
    fn new(total: usize, verbose: bool) -> Progress {
        use std::io::IsTerminal;
        Progress {
            total,
            done: std::sync::atomic::AtomicUsize::new(0),
            live: verbose && total > 0 && std::io::stderr().is_terminal(),
        }
    }
    fn tick_on_drop(&self) -> Tick<'_> {
        Tick(self)
    }
    fn finish(&self) {
        if self.live {
            eprintln!();
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
    pub fidelity: &'static str,
    pub reproduced: usize,
    pub discrepancy: usize,
    pub failed: usize,
    /// The verdict by what the checks rest on.
    pub by_basis: Vec<check::BasisTally>,
    /// Candidate explanations of disagreements, counted apart.
    pub candidates: check::CandidateTally,
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
pub fn draw_figures(
    project: &Project,
    selected: &[usize],
    results: &Results,
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
            if let Some(panel) = &f.paper_panel {
                figure::add_paper_marks(&mut plot, &paper_marks(&project.paper, panel));
            }
            let drawn = DrawnFigure::draw(&plot).map_err(ctx)?;
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
            let drawn = DrawnFigure::draw(&figure::combine(members))
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

/// Held while a build or check writes the output folder and its cache, so that two
/// runs started at once do not corrupt each other. The lock file sits beside the
/// output folder and holds the owner's pid; a lock whose process is gone (a build
/// killed with Ctrl-C) is taken over.
pub struct OutputLock {
    path: PathBuf,
}

impl OutputLock {
    pub fn acquire(out: &Path) -> Result<OutputLock, Error> {
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::Output(format!("{}: {e}", parent.display())))?;
        let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("output");
        let path = parent.join(format!(".{name}.lock"));
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    use std::io::Write;
                    let _ = write!(f, "{}", std::process::id());
                    return Ok(OutputLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&path).unwrap_or_default();
                    let alive = owner
                        .trim()
                        .parse::<u32>()
                        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                    if alive {
                        return Err(Error::Output(format!(
                            "another diffrepro run (pid {}) is writing {}; wait for it to finish (or remove {} if it is gone)",
                            owner.trim(),
                            out.display(),
                            path.display()
                        )));
                    }
                    // Stale: its owner died. Take it over.
                    let _ = std::fs::remove_file(&path);
                    clean_leftovers(parent, name);
                }
                Err(e) => return Err(Error::Output(format!("{}: {e}", path.display()))),
            }
        }
        Err(Error::Output(format!(
            "cannot take the lock {}",
            path.display()
        )))
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Remove staging and old folders left by interrupted builds of `name` in `parent`.
pub fn clean_leftovers(parent: &Path, name: &str) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    if let Ok(rd) = std::fs::read_dir(parent) {
        for e in rd.flatten() {
            let f = e.file_name().to_string_lossy().into_owned();
            if f.starts_with(&format!(".{name}.staging-"))
                || f.starts_with(&format!(".{name}.old-"))
            {
                let _ = std::fs::remove_dir_all(e.path());
                removed.push(e.path());
            }
        }
    }
    removed
}

/// The whole build.
pub fn build(opts: &BuildOptions) -> Result<BuildSummary, Error> {
    let project = Project::load_overridden(&opts.project, opts.fidelity, &opts.overrides)?;
    let _lock = OutputLock::acquire(&opts.out_dir())?;
    let selected = project.chapter_filter(&opts.chapters)?;
    let templates = Templates::load(&opts.project.join("templates"))?;
    let computed = compute(&project, &selected, opts)?;
    let figures = draw_figures(&project, &selected, &computed.results)?;
    let prov = provenance(&project, opts, computed.records.clone());
    let inputs = Inputs {
        project: &project,
        selected: &selected,
        results: computed.results.clone(),
        figures: &figures,
        outcomes: &computed.outcomes,
        provenance: &prov,
        templates: &templates,
        edition: crate::handout::Edition::Report,
    };
    let mut reports: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    if opts.format.html() {
        reports.push((
            PathBuf::from("report.html"),
            render::render_report(&inputs)?.into_bytes(),
        ));
    }
    if opts.format.pdf() {
        reports.push((
            PathBuf::from("report.pdf"),
            pdf_report(&inputs, opts.verbose)?,
        ));
    }
    let mut handouts = if opts.handout && opts.format.html() {
        crate::handout::render_handouts(&inputs)?
    } else {
        Vec::new()
    };
    if opts.handout && opts.format.pdf() {
        for edition in crate::handout::Edition::HANDOUTS {
            let pdf = pdf_report(&crate::handout::for_edition(&inputs, edition), false)?;
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
            OUTPUT_README.as_bytes().to_vec(),
        ),
        (
            PathBuf::from("checks.json"),
            json(&checks_file(&project, &computed.outcomes, opts.fidelity)),
        ),
        (PathBuf::from("provenance.json"), json(&prov)),
    ]);
    files.extend(handouts);
    for &i in &selected {
        let ch = &project.chapters[i];
        let ids = ch
            .figures()
            .map(|f| f.id.clone())
            .chain(figure::groups(ch.figures()).into_iter().map(|g| g.id));
        for id in ids {
            let d = &figures[&id];
            files.push((
                render::figure_path(ch.id(), &id, "svg").into(),
                d.svg.clone().into_bytes(),
            ));
            files.push((
                render::figure_path(ch.id(), &id, "png").into(),
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
    // Only a full build of the chapters as written knows every live entry (an
    // overridden build must not evict the paper's results).
    if opts.chapters.is_empty() && opts.overrides.is_empty() {
        // A full build knows every live entry: drop the rest so the cache stays small.
        let keep: Vec<String> = computed
            .records
            .iter()
            .map(|r| r.cache_key.clone())
            .collect();
        Cache::in_output(&out_dir).prune(&keep);
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

/// The PDF edition: Typst source from the same inputs as the HTML, typeset in process.
/// Constructs that could not be converted are printed as warnings (the PDF shows them
/// as source); a Typst error stops the build and names the chapter and construct.
pub fn pdf_report(inputs: &Inputs, verbose: bool) -> Result<Vec<u8>, Error> {
    let markup = render::pdf::markup::document(inputs)?;
    for w in &markup.warnings {
        eprintln!("warning (PDF): {} ({})", w.message, w.location());
    }
    let pdf = render::pdf::typeset::typeset(&markup.source)
        .map_err(|e| Error::Run(format!("the PDF could not be typeset: {e}")))?;
    if verbose {
        for w in &pdf.warnings {
            eprintln!("warning (PDF): {w}");
        }
    }
    Ok(pdf.bytes)
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
        // The result cache survives the swap: move it into the new output.
        let cache = out.join(crate::cache::CACHE_DIR);
        if cache.is_dir() {
            std::fs::rename(&cache, stage.join(crate::cache::CACHE_DIR))
                .map_err(|e| format!("{}: {e}", cache.display()))?;
        }
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
- `checks.json`: every check of the paper's claims with expected and computed values,
  difference, tolerance and status (`reproduced`, `discrepancy`, `failed`).
- `provenance.json`: diffrepro version, git commit, rustc, dependency versions,
  machine, date, and per experiment its spec hash, seed, method, samples and wall time.
- `.cache/`: results keyed by a hash of everything they depend on; an unchanged
  experiment is reused instead of re-run (`--no-cache` ignores it).
";
