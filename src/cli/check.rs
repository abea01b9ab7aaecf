//! `diffrepro check`: reviewer mode. Runs the experiments (reusing the cache) and every
//! check, prints a scorecard, writes `output/checks.json`. Exit 0 when nothing failed,
//! 1 when a check failed, 2 on bad input.

use std::collections::BTreeMap;
use std::process::ExitCode;

use crate::check::{CheckOutcome, Status};
use crate::pipeline::{self, BuildOptions, Error};
use crate::project::Project;
use crate::table::format_number;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub run: super::run_args::RunArgs,
    /// Print the JSON of checks.json instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Re-run every experiment instead of reusing cached results.
    #[arg(long)]
    pub no_cache: bool,
}

pub fn run(args: Args) -> ExitCode {
    // The scorecard is the output: no progress bar, no per-chapter lines.
    let mut opts = match args.run.options(true) {
        Ok(o) => o,
        Err(code) => return code,
    };
    opts.use_cache = !args.no_cache;
    if !args.run.set.is_empty() {
        eprintln!(
            "note: checking with {} --set override{}: these are not the chapters' (or the paper's) settings",
            args.run.set.len(),
            if args.run.set.len() == 1 { "" } else { "s" }
        );
    }
    match check(&opts) {
        Ok((json, text, failed)) => {
            if args.json {
                print!("{json}");
            } else {
                print!("{text}");
            }
            if failed {
                ExitCode::from(super::EXIT_FAILED)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// Run and write checks.json; returns (json, scorecard text, anything failed).
fn check(opts: &BuildOptions) -> Result<(String, String, bool), Error> {
    let project = Project::load_overridden(&opts.project, opts.fidelity, &opts.overrides)?;
    let selected = project.chapter_filter(&opts.chapters)?;
    let _lock = crate::output::OutputLock::acquire(&opts.out_dir())?;
    let computed = pipeline::compute(&project, &selected, opts)?;
    let file = pipeline::checks_file(&project, &computed.outcomes, opts.fidelity);
    let mut json = serde_json::to_string_pretty(&file).expect("plain data serializes");
    json.push('\n');
    let out = opts.out_dir();
    std::fs::create_dir_all(&out).map_err(|e| Error::Output(format!("{}: {e}", out.display())))?;
    let tmp = out.join(format!(".checks.json.tmp-{}", std::process::id()));
    std::fs::write(&tmp, &json)
        .and_then(|_| std::fs::rename(&tmp, out.join("checks.json")))
        .map_err(|e| Error::Output(format!("{}: {e}", out.display())))?;
    let text = scorecard(&project, &file.checks, &computed.outcomes);
    Ok((json, text, file.failed > 0))
}

/// One line per check, then a summary per paper result.
fn scorecard(
    project: &Project,
    checks: &[&CheckOutcome],
    _all: &BTreeMap<String, CheckOutcome>,
) -> String {
    let num = |v: Option<f64>| {
        v.map(|v| format_number(v, None))
            .unwrap_or_else(|| "—".into())
    };
    let mut s = format!(
        "{:<12} {:<16} {:<34} {:<13} {:<14} {:<28} {:>12} {:>12} {:>11} {:>11}\n",
        "status",
        "chapter",
        "check",
        "basis",
        "paper",
        "source",
        "expected",
        "computed",
        "|diff|",
        "tolerance"
    );
    for o in checks {
        s.push_str(&format!(
            "{:<12} {:<16} {:<34} {:<13} {:<14} {:<28} {:>12} {:>12} {:>11} {:>11}\n",
            o.status.word(),
            clip(&o.chapter, 16),
            clip(&o.id, 34),
            o.basis.name(),
            clip(&o.paper_ref, 14),
            clip(&o.source, 28),
            num(o.expected),
            num(o.computed),
            num(o.difference),
            num(o.tolerance),
        ));
        if let Some(m) = &o.message {
            s.push_str(&format!("{:<12} ↳ {m}\n", ""));
        }
    }
    // Per paper result: the chapter's references, with its counts.
    s.push_str("\nby paper result:\n");
    for ch in &project.chapters {
        let mine: Vec<&&CheckOutcome> = checks.iter().filter(|o| o.chapter == ch.id()).collect();
        if mine.is_empty() {
            continue;
        }
        let count = |st: Status| mine.iter().filter(|o| o.status == st).count();
        s.push_str(&format!(
            "  {:<40} {:>3} reproduced  {:>3} discrepancy  {:>3} failed   ({})\n",
            clip(&ch.chapter.front.title, 40),
            count(Status::Reproduced),
            count(Status::Discrepancy),
            count(Status::Failed),
            ch.chapter.front.paper_refs.join(", ")
        ));
    }
    // The verdict by what the checks rest on: a printed number is not the same
    // evidence as two computations of ours agreeing.
    s.push_str("\nby basis:\n");
    for t in crate::check::tally_by_basis(checks.iter().copied()) {
        s.push_str(&format!("  {}\n", t.sentence()));
    }
    let cand = crate::check::CandidateTally::of(checks.iter().copied());
    if cand.tried > 0 {
        s.push_str(&format!("  {}\n", cand.sentence()));
    }
    let total = |st: Status| checks.iter().filter(|o| o.status == st).count();
    s.push_str(&format!(
        "\n{} checks: {} reproduced, {} declared discrepancies, {} failed\n",
        checks.len(),
        total(Status::Reproduced),
        total(Status::Discrepancy),
        total(Status::Failed)
    ));
    s
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
