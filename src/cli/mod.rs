//! The subcommands. Each lives in its own file with a clap `Args` struct and a
//! `run(args) -> ExitCode`; `main.rs` only lists them. Adding a command is one file
//! here plus one variant and one match arm in `main.rs`.
//!
//! Exit codes, for every command: 0 success; 1 a run, a write or (for `check`) a
//! claim failed; 2 bad input (chapters, specs, templates, data or flags).

pub mod bench;
pub mod build;
pub mod check;
pub mod clean;
pub mod complexity;
pub mod list;
pub mod new;
pub mod run_args;
pub mod serve;

use std::process::ExitCode;

/// Exit code for bad input.
pub const EXIT_INPUT: u8 = 2;
/// Exit code for a failed run or write.
pub const EXIT_FAILED: u8 = 1;

/// Cap rayon's global pool; results never depend on it.
pub fn set_jobs(jobs: Option<usize>) -> Result<(), ExitCode> {
    if let Some(n) = jobs {
        if n == 0 {
            eprintln!("error: --jobs must be at least 1");
            return Err(ExitCode::from(EXIT_INPUT));
        }
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
        {
            eprintln!("error: cannot set up {n} worker threads: {e}");
            return Err(ExitCode::from(EXIT_FAILED));
        }
    }
    Ok(())
}
