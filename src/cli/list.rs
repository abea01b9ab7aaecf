//! `diffrepro list`: the chapters with their paper references, experiments, tables,
//! figures and checks.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::project::Project;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Project folder holding chapters/.
    #[arg(default_value = ".")]
    pub project: PathBuf,
    /// Print JSON: {"chapters": [{id, title, paper_refs, experiments, tables, figures, claims}]}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> ExitCode {
    match Project::load(&args.project) {
        Ok(p) => {
            let l = crate::list::listing(&p);
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&l).expect("a listing is plain data")
                );
            } else {
                print!("{}", crate::list::text(&l));
            }
            ExitCode::SUCCESS
        }
        Err(d) => {
            eprintln!("{d}");
            ExitCode::from(super::EXIT_INPUT)
        }
    }
}
