//! `diffrepro clean`: remove the output folder (report, data, figures and the cache)
//! and any staging folders an interrupted build left behind.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Project folder.
    #[arg(default_value = ".")]
    pub project: PathBuf,
    /// Output folder to remove (default: PROJECT/output).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    let out = args.out.unwrap_or_else(|| args.project.join("output"));
    // Not while a build writes the folder; taking the lock also removes the staging
    // folders interrupted builds left behind.
    let lock = match crate::output::OutputLock::acquire(&out) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    let mut removed: Vec<String> = lock
        .leftovers
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if out.exists() {
        if let Err(e) = std::fs::remove_dir_all(&out) {
            eprintln!("error: cannot remove {}: {e}", out.display());
            return ExitCode::from(super::EXIT_FAILED);
        }
        removed.push(out.display().to_string());
    }
    if removed.is_empty() {
        eprintln!("nothing to clean");
    } else {
        eprintln!("removed {}", removed.join(", "));
    }
    ExitCode::SUCCESS
}
