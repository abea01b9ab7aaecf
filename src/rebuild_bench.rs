//! The report rebuild, timed: a yardstick for the driver and its caches (not for the
//! numerics, which `crate::bench` times), used by `diffrepro bench --rebuild`.
//!
//! What an author feels in `serve` is the time from saving a chapter to a fresh page.
//! So the project is copied into a temporary folder and its HTML report built twice
//! over: cold (an empty output folder: every experiment run, every figure rasterised,
//! every table encoded) and warm (the same build again after an edit of one chapter's
//! prose, with everything cached). Both are ordinary `pipeline::build` calls; the
//! warm one must reproduce the cold one's checks exactly, or the timing is refused.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::bench::median;
use crate::pipeline::{self, BuildOptions, Format};

/// Wall times of the cold and warm builds, each the median of its runs.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RebuildTimes {
    pub cold_s: f64,
    pub warm_s: f64,
    pub cold_runs: Vec<f64>,
    pub warm_runs: Vec<f64>,
    /// The chapter whose prose was edited between warm builds.
    pub edited: String,
}

impl RebuildTimes {
    /// How many times faster the warm rebuild is.
    pub fn ratio(&self) -> f64 {
        self.cold_s / self.warm_s
    }
}

/// Copy the folders a build reads (`chapters/`, `templates/`, `data/`) into `to`.
fn copy_project(from: &Path, to: &Path) -> Result<(), String> {
    fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
        std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
        for e in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
            let e = e.map_err(|e| e.to_string())?;
            let target = to.join(e.file_name());
            if e.path().is_dir() {
                copy_dir(&e.path(), &target)?;
            } else {
                std::fs::copy(e.path(), &target)
                    .map_err(|err| format!("{}: {err}", e.path().display()))?;
            }
        }
        Ok(())
    }
    for dir in ["chapters", "templates", "data"] {
        if from.join(dir).is_dir() {
            copy_dir(&from.join(dir), &to.join(dir))?;
        }
    }
    Ok(())
}

/// The first chapter file, in name order: the one whose prose is edited.
fn first_chapter(project: &Path) -> Result<PathBuf, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(project.join("chapters"))
        .map_err(|e| format!("{}/chapters: {e}", project.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    files
        .into_iter()
        .next()
        .ok_or_else(|| format!("{}/chapters holds no chapter", project.display()))
}

/// Time `repeat` cold and `repeat` warm HTML builds of the project at `project`.
pub fn time_rebuilds(project: &Path, repeat: usize) -> Result<RebuildTimes, String> {
    let tmp = tempfile::Builder::new()
        .prefix("diffrepro-rebuild-bench-")
        .tempdir()
        .map_err(|e| format!("a temporary folder: {e}"))?;
    let root = tmp.path().to_path_buf();
    copy_project(project, &root)?;
    let chapter = first_chapter(&root)?;
    let original = std::fs::read_to_string(&chapter).map_err(|e| e.to_string())?;
    let mut opts = BuildOptions::new(root.clone());
    opts.format = Format::Html;
    let build = |opts: &BuildOptions| -> Result<(f64, Vec<String>), String> {
        let start = Instant::now();
        let summary = pipeline::build(opts).map_err(|e| e.to_string())?;
        let secs = start.elapsed().as_secs_f64();
        let checks = summary
            .outcomes
            .iter()
            .map(|o| format!("{} {:?} {:?}", o.id, o.status, o.computed))
            .collect();
        Ok((secs, checks))
    };
    let (mut cold_runs, mut warm_runs) = (Vec::new(), Vec::new());
    for run in 0..repeat.max(1) {
        let _ = std::fs::remove_dir_all(root.join("output"));
        std::fs::write(&chapter, &original).map_err(|e| e.to_string())?;
        let (cold, cold_checks) = build(&opts)?;
        cold_runs.push(cold);
        std::fs::write(
            &chapter,
            format!("{original}\nA sentence added by the rebuild benchmark ({run}).\n"),
        )
        .map_err(|e| e.to_string())?;
        let (warm, warm_checks) = build(&opts)?;
        if warm_checks != cold_checks {
            return Err("the warm rebuild's checks differ from the cold build's".into());
        }
        warm_runs.push(warm);
    }
    Ok(RebuildTimes {
        cold_s: median(&cold_runs),
        warm_s: median(&warm_runs),
        cold_runs,
        warm_runs,
        edited: chapter
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_runs() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
