//! `diffrepro build`: run every chapter and write the report.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::check::Status;
use crate::pipeline::{self, BuildOptions};
use crate::spec::Fidelity;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Project folder holding chapters/, templates/ and data/.
    #[arg(default_value = ".")]
    pub project: PathBuf,
    /// Output folder (default: PROJECT/output). Replaced only when the build succeeds.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Multiply every ceiling (grid points, rows, samples, particles) by FACTOR, for a
    /// deliberately large run.
    #[arg(long, value_name = "FACTOR", default_value_t = 1)]
    pub raise_limits: usize,
    /// `paper` runs the specs as written; `quick` applies each experiment's `quick:`
    /// overrides (smaller samples and grids) for a fast preview.
    #[arg(long, value_enum, default_value_t = Fidelity::Paper)]
    pub fidelity: Fidelity,
    /// Re-run every experiment instead of reusing unchanged results from output/.cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Say for each experiment why it ran or was reused from the cache.
    #[arg(long)]
    pub explain: bool,
    /// Build only these chapters (by id); numbering stays that of the whole report.
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub chapters: Vec<String>,
    /// Override a field of an experiment's spec: PATH is the experiment id, then the
    /// field path (list items by number), VALUE is YAML, validated like the chapter.
    /// Repeatable. The report and provenance.json say which numbers were changed.
    /// Example: --set two-point-survival-low.measure.mixture.1.mean=2
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = crate::overrides::parse)]
    pub set: Vec<crate::overrides::Override>,
    /// Also write the handouts: output/handout-student.html (exercises without
    /// solutions, no checks, no scorecard) and output/handout-teacher.html (everything).
    #[arg(long)]
    pub handout: bool,
    /// Which report to write: `html`, `pdf` (typeset in process by Typst) or `all`.
    #[arg(long, value_enum, default_value_t = crate::pipeline::Format::All)]
    pub format: crate::pipeline::Format,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

impl Args {
    pub fn options(&self) -> BuildOptions {
        BuildOptions {
            project: self.project.clone(),
            out: self.out.clone(),
            verbose: !self.quiet,
            fidelity: self.fidelity,
            use_cache: !self.no_cache,
            explain: self.explain,
            chapters: self.chapters.clone(),
            overrides: crate::overrides::Overrides::new(self.set.clone()),
            handout: self.handout,
            format: self.format,
            reporter: std::sync::Arc::new(crate::reporter::Terminal::new(self.quiet)),
        }
    }
}

pub fn run(args: Args) -> ExitCode {
    if let Err(code) = super::set_jobs(args.jobs) {
        return code;
    }
    crate::limits::raise(args.raise_limits);
    let opts = args.options();
    match pipeline::build(&opts) {
        Ok(s) => {
            if !args.quiet {
                for o in s.outcomes.iter().filter(|o| o.status == Status::Failed) {
                    eprintln!("  {}", o.summary_line());
                }
                eprintln!(
                    "built {} chapters, {} experiments, {} tables, {} figures → {}",
                    s.chapters,
                    s.experiments,
                    s.tables,
                    s.figures,
                    s.out_dir.join("report.html").display()
                );
                eprintln!(
                    "checks: {} reproduced, {} declared discrepancies, {} failed",
                    s.count(Status::Reproduced),
                    s.count(Status::Discrepancy),
                    s.count(Status::Failed)
                );
                for t in crate::check::tally_by_basis(&s.outcomes) {
                    eprintln!("  {}", t.sentence());
                }
                let cand = crate::check::CandidateTally::of(&s.outcomes);
                if cand.tried > 0 {
                    eprintln!("  {}", cand.sentence());
                }
                if !args.set.is_empty() {
                    eprintln!(
                        "note: built with {} override{} (--set); the report says so on its first page",
                        args.set.len(),
                        if args.set.len() == 1 { "" } else { "s" }
                    );
                }
                if args.handout {
                    for e in crate::handout::Edition::HANDOUTS {
                        eprintln!("handout: {}", s.out_dir.join(e.file_name()).display());
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
