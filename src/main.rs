//! The command line: parse flags, call the library, print errors once.
//!
//! Exit codes: 0 success; 1 a run or write failed; 2 bad input (chapters, specs,
//! templates, data or flags).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use diffrepro::check::Status;
use diffrepro::pipeline::{self, BuildOptions};
use diffrepro::project::Project;

#[derive(Parser)]
#[command(
    name = "diffrepro",
    version,
    about = "Literate reproduction of arXiv:2411.01629: chapters → experiments → tables → figures → checks → report"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every chapter's experiments and write the report, tables and figures.
    Build {
        /// Project folder holding chapters/, templates/ and data/.
        #[arg(default_value = ".")]
        project: PathBuf,
        /// Output folder (default: PROJECT/output). Replaced only when the build succeeds.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// List the chapters with their paper references, experiments, tables, figures and checks.
    List {
        /// Project folder holding chapters/.
        #[arg(default_value = ".")]
        project: PathBuf,
        /// Print JSON: {"chapters": [{id, title, paper_refs, experiments, tables, figures, claims}]}.
        #[arg(long)]
        json: bool,
    },
}

fn set_jobs(jobs: Option<usize>) -> Result<(), String> {
    if let Some(n) = jobs {
        if n == 0 {
            return Err("--jobs must be at least 1".into());
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Build {
            project,
            out,
            jobs,
            quiet,
        } => {
            if let Err(e) = set_jobs(jobs) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            let opts = BuildOptions {
                project,
                out,
                verbose: !quiet,
            };
            match pipeline::build(&opts) {
                Ok(s) => {
                    if !quiet {
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
        Command::List { project, json } => match Project::load(&project) {
            Ok(p) => {
                let l = diffrepro::list::listing(&p);
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&l).expect("a listing is plain data")
                    );
                } else {
                    print!("{}", diffrepro::list::text(&l));
                }
                ExitCode::SUCCESS
            }
            Err(d) => {
                eprintln!("{d}");
                ExitCode::from(2)
            }
        },
    }
}
