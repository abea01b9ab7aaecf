//! The command line: parse flags and hand each subcommand to `diffrepro::cli`.
//! Exit codes: 0 success; 1 a run, write or claim failed; 2 bad input.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use diffrepro::cli;

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
    Build(cli::build::Args),
    /// List the chapters with their paper references, experiments, tables, figures and checks.
    List(cli::list::Args),
    /// Reviewer mode: run every check, print the scorecard, write output/checks.json (exit 1 if any failed).
    Check(cli::check::Args),
    /// Remove the output folder, its cache and leftovers of interrupted builds.
    Clean(cli::clean::Args),
    /// Localization, survival, integrated tail, m*, δ* and ζ*_M of one measure at given r.
    Complexity(cli::complexity::Args),
    /// Time the paper workload and print the speed targets beside the figures.
    Bench(cli::bench::Args),
    /// Scaffold chapters/NAME.md: a chapter with an experiment, figure, check and exercise that builds as is.
    New(cli::new::Args),
    /// Live preview: serve the report on 127.0.0.1, rebuild and reload the page when chapters, templates or data change.
    Serve(cli::serve::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Build(a) => cli::build::run(a),
        Command::List(a) => cli::list::run(a),
        Command::Check(a) => cli::check::run(a),
        Command::Clean(a) => cli::clean::run(a),
        Command::Complexity(a) => cli::complexity::run(a),
        Command::Bench(a) => cli::bench::run(a),
        Command::New(a) => cli::new::run(a),
        Command::Serve(a) => cli::serve::run(a),
    }
}
