//! `diffrepro build`: run every chapter and write the report.

use std::process::ExitCode;

use crate::check::Status;
use crate::pipeline::{self, BuildOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub run: super::run_args::RunArgs,
    /// Re-run every experiment instead of reusing unchanged results from output/.cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Say for each experiment why it ran or was reused from the cache, and how long
    /// each stage of the build took.
    #[arg(long)]
    pub explain: bool,
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
    pub fn options(&self) -> Result<BuildOptions, ExitCode> {
        let mut opts = self.run.options(self.quiet)?;
        opts.use_cache = !self.no_cache;
        opts.explain = self.explain;
        opts.handout = self.handout;
        opts.format = self.format;
        Ok(opts)
    }
}

pub fn run(args: Args) -> ExitCode {
    let opts = match args.options() {
        Ok(o) => o,
        Err(code) => return code,
    };
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
                if !args.run.set.is_empty() {
                    eprintln!(
                        "note: built with {} override{} (--set); the report says so on its first page",
                        args.run.set.len(),
                        if args.run.set.len() == 1 { "" } else { "s" }
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
