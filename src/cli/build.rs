//! `diffrepro build`: run every chapter and write the report.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::check::Status;
use crate::pipeline::{self, BuildOptions};

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
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: Args) -> ExitCode {
    if let Err(code) = super::set_jobs(args.jobs) {
        return code;
    }
    let opts = BuildOptions {
        project: args.project,
        out: args.out,
        verbose: !args.quiet,
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
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
