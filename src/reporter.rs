//! How a build speaks to whoever started it: progress, per-stage notes and warnings.
//!
//! The library never prints. The stages call a [`Reporter`] that the front end hands
//! in with the build options: the command line passes [`Terminal`] (a progress bar on
//! a terminal, lines on stderr), tests and embedders pass [`Collect`] and read what was
//! said afterwards.

use std::sync::Mutex;

/// Receives what a build has to say. Called from worker threads, so it is `Sync`.
pub trait Reporter: Send + Sync {
    /// Something the user should act on or know (a cache that cannot be written, a
    /// construct the PDF shows as source). Always delivered.
    fn warn(&self, message: &str);
    /// A line of detail (per chapter timings, why an experiment ran). Sent only when
    /// the user asked for detail (`verbose` or `explain` in the build options).
    fn note(&self, message: &str);
    /// `done` of `total` experiments finished.
    fn progress(&self, _done: usize, _total: usize) {}
    /// The experiments are all finished.
    fn progress_end(&self) {}
}

/// The command line's reporter: warnings and notes on stderr, and a one-line
/// progress bar when stderr is a terminal and the user did not ask for quiet.
pub struct Terminal {
    live: bool,
}

impl Terminal {
    pub fn new(quiet: bool) -> Terminal {
        use std::io::IsTerminal;
        Terminal {
            live: !quiet && std::io::stderr().is_terminal(),
        }
    }
}

impl Reporter for Terminal {
    fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
    }
    fn note(&self, message: &str) {
        eprintln!("{message}");
    }
    fn progress(&self, done: usize, total: usize) {
        if self.live && total > 0 {
            let width = 30;
            let filled = width * done / total;
            eprint!(
                "\r  experiments [{}{}] {done}/{total}",
                "#".repeat(filled),
                " ".repeat(width - filled),
            );
        }
    }
    fn progress_end(&self) {
        if self.live {
            eprintln!();
        }
    }
}

/// Keeps everything it is told, for tests and for programs that embed the library.
#[derive(Default)]
pub struct Collect {
    pub warnings: Mutex<Vec<String>>,
    pub notes: Mutex<Vec<String>>,
}

impl Reporter for Collect {
    fn warn(&self, message: &str) {
        self.warnings
            .lock()
            .expect("not poisoned")
            .push(message.to_string());
    }
    fn note(&self, message: &str) {
        self.notes
            .lock()
            .expect("not poisoned")
            .push(message.to_string());
    }
}
