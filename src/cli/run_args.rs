//! The flags every command that runs the chapters shares (`build`, `check`, `serve`):
//! which project and chapters, where the output goes, at what fidelity, with which
//! overrides and how many threads. One definition, flattened into each command, so
//! the three cannot drift apart.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::pipeline::BuildOptions;
use crate::spec::Fidelity;

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Project folder holding chapters/, templates/ and data/.
    #[arg(default_value = ".")]
    pub project: PathBuf,
    /// Output folder (default: PROJECT/output), holding the cache. Replaced only when
    /// the build succeeds.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// `paper` runs the specs as written; `quick` applies each experiment's `quick:`
    /// overrides (smaller samples and grids) for a fast preview.
    #[arg(long, value_enum, default_value_t = Fidelity::Paper)]
    pub fidelity: Fidelity,
    /// Only these chapters (by id); numbering stays that of the whole report.
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub chapters: Vec<String>,
    /// Override a field of an experiment's spec: PATH is the experiment id, then the
    /// field path (list items by number), VALUE is YAML, validated like the chapter.
    /// Repeatable. The report and provenance.json say which numbers were changed.
    /// Example: --set two-point-survival-low.measure.mixture.1.mean=2
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = crate::overrides::parse)]
    pub set: Vec<crate::overrides::Override>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Multiply every ceiling (grid points, rows, samples, particles) by FACTOR, for a
    /// deliberately large run.
    #[arg(long, value_name = "FACTOR", default_value_t = 1)]
    pub raise_limits: usize,
}

impl RunArgs {
    /// Set up the worker pool and the ceilings, then the build options these flags
    /// describe, reporting on the terminal (`quiet`: only warnings and errors).
    pub fn options(&self, quiet: bool) -> Result<BuildOptions, ExitCode> {
        super::set_jobs(self.jobs)?;
        crate::limits::raise(self.raise_limits);
        let mut opts = BuildOptions::new(self.project.clone());
        opts.out = self.out.clone();
        opts.verbose = !quiet;
        opts.fidelity = self.fidelity;
        opts.chapters = self.chapters.clone();
        opts.overrides = crate::overrides::Overrides::new(self.set.clone());
        opts.reporter = Arc::new(crate::reporter::Terminal::new(quiet));
        Ok(opts)
    }
}
