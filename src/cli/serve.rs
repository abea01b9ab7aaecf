//! `diffrepro serve`: live preview. Builds the report, serves it on 127.0.0.1, and
//! rebuilds and reloads the page when chapters, templates or data change (see
//! `crate::serve`). Runs until stopped; exits 1 only when it cannot listen.

use std::process::ExitCode;

use crate::serve::{self, ServeOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub run: super::run_args::RunArgs,
    /// Port on 127.0.0.1 (0 picks a free one; the address is printed on stdout).
    #[arg(long, default_value_t = 8765)]
    pub port: u16,
    /// Open the page in the default browser once the first build is done.
    #[arg(long)]
    pub open: bool,
    /// Also build the handouts (served at /handout-student.html and /handout-teacher.html).
    #[arg(long)]
    pub handout: bool,
    /// Which report each rebuild writes. The preview shows the HTML, so by default only
    /// it is rebuilt (typesetting the PDF takes seconds); `all` keeps the PDF current too.
    #[arg(long, value_enum, default_value_t = crate::pipeline::Format::Html)]
    pub format: crate::pipeline::Format,
    /// Print only errors (and the address).
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: Args) -> ExitCode {
    let mut build = match args.run.options(args.quiet) {
        Ok(o) => o,
        Err(code) => return code,
    };
    build.handout = args.handout;
    build.format = args.format;
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
