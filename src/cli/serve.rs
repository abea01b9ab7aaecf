//! `diffrepro serve`: live preview. Builds the report, serves it on 127.0.0.1, and
//! rebuilds and reloads the page when chapters, templates or data change (see
//! `crate::serve`). Runs until stopped; exits 1 only when it cannot listen.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::pipeline::BuildOptions;
use crate::serve::{self, ServeOptions};
use crate::spec::Fidelity;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Project folder holding chapters/, templates/ and data/.
    #[arg(default_value = ".")]
    pub project: PathBuf,
    /// Port on 127.0.0.1 (0 picks a free one; the address is printed on stdout).
    #[arg(long, default_value_t = 8765)]
    pub port: u16,
    /// Open the page in the default browser once the first build is done.
    #[arg(long)]
    pub open: bool,
    /// Output folder (default: PROJECT/output), rebuilt on every change.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// `quick` applies each experiment's `quick:` overrides, for a faster preview.
    #[arg(long, value_enum, default_value_t = Fidelity::Paper)]
    pub fidelity: Fidelity,
    /// Build only these chapters (by id).
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub chapters: Vec<String>,
    /// Override a field of an experiment's spec, as `build --set`. Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = crate::overrides::parse)]
    pub set: Vec<crate::overrides::Override>,
    /// Also build the handouts (served at /handout-student.html and /handout-teacher.html).
    #[arg(long)]
    pub handout: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Print only errors (and the address).
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: Args) -> ExitCode {
    if let Err(code) = super::set_jobs(args.jobs) {
        return code;
    }
    let mut build = BuildOptions::new(args.project.clone());
    build.out = args.out.clone();
    build.verbose = !args.quiet;
    build.fidelity = args.fidelity;
    build.chapters = args.chapters.clone();
    build.overrides = crate::overrides::Overrides::new(args.set.clone());
    build.handout = args.handout;
    build.reporter = std::sync::Arc::new(crate::reporter::Terminal::new(args.quiet));
    match serve::run(ServeOptions {
        build,
        port: args.port,
        open: args.open,
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}
