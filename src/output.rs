//! The output folder: who may write it, and how a finished build replaces it.
//!
//! The last stage of a build hands this module the files of the new report; it writes
//! them into a staging folder beside the output and swaps that in only when everything
//! was written, so a failed or interrupted build leaves the previous report complete.
//!
//! Two runs must not write the same folder at once. The guard is an operating-system
//! file lock (`File::try_lock`) on `.NAME.lock` beside the folder: the kernel releases
//! it when its holder exits, however it exits, so there is no stale lock to detect and
//! nothing platform-specific (a pid file checked through `/proc` works only on Linux).

use std::fs::File;
use std::path::{Path, PathBuf};

/// Why the output folder could not be taken or written.
#[derive(Debug)]
pub enum Error {
    /// Another run holds the lock.
    Busy { out: PathBuf, lock: PathBuf },
    /// A file system error, with the path it concerns.
    Io(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Busy { out, lock } => write!(
                f,
                "another diffrepro run is writing {}; wait for it to finish (its lock is {})",
                out.display(),
                lock.display()
            ),
            Error::Io(m) => f.write_str(m),
        }
    }
}

/// The folder that holds `out`, and the name of `out` in it.
fn parent_and_name(out: &Path) -> Result<(PathBuf, String), Error> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Io(format!("{} is not a folder name", out.display())))?
        .to_string();
    Ok((parent, name))
}

/// Held while a run writes the output folder and its cache. Dropping it (or the
/// process ending) releases the lock; the empty lock file stays, which is harmless.
pub struct OutputLock {
    _file: File,
    /// The staging folders of interrupted runs that taking the lock removed.
    pub leftovers: Vec<PathBuf>,
}

impl OutputLock {
    /// Take the lock of `out`, or fail at once if another run holds it. Staging
    /// folders left by interrupted runs are removed: with the lock held, none of them
    /// can belong to a live run.
    pub fn acquire(out: &Path) -> Result<OutputLock, Error> {
        let (parent, name) = parent_and_name(out)?;
        std::fs::create_dir_all(&parent)
            .map_err(|e| Error::Io(format!("{}: {e}", parent.display())))?;
        let path = lock_path(out)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Busy {
                    out: out.to_path_buf(),
                    lock: path,
                })
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::Io(format!("{}: {e}", path.display())))
            }
        }
        let leftovers = clean_leftovers(&parent, &name);
        Ok(OutputLock {
            _file: file,
            leftovers,
        })
    }
}

/// The lock file of an output folder: `.NAME.lock` beside it.
pub fn lock_path(out: &Path) -> Result<PathBuf, Error> {
    let (parent, name) = parent_and_name(out)?;
    Ok(parent.join(format!(".{name}.lock")))
}

/// Remove staging and old folders left by interrupted builds of `name` in `parent`.
pub fn clean_leftovers(parent: &Path, name: &str) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    if let Ok(rd) = std::fs::read_dir(parent) {
        for e in rd.flatten() {
            let f = e.file_name().to_string_lossy().into_owned();
            if f.starts_with(&format!(".{name}.staging-"))
                || f.starts_with(&format!(".{name}.old-"))
            {
                let _ = std::fs::remove_dir_all(e.path());
                removed.push(e.path());
            }
        }
    }
    removed
}

/// Write `files` into a staging folder next to `out`, hard-link `links` (each a
/// path in the output and the file it is a copy of, copied where the file system
/// cannot link), then swap the folder in. On any error the staging folder is removed
/// and `out` is untouched. The result cache (`out/.cache`) moves into the new folder.
///
/// Linking is what keeps a rebuild cheap: tables and rasterised figures that did not
/// change are the cache's files, not new copies of them.
pub fn write(
    out: &Path,
    files: &[(PathBuf, Vec<u8>)],
    links: &[(PathBuf, PathBuf)],
) -> Result<(), Error> {
    let (parent, name) = parent_and_name(out)?;
    std::fs::create_dir_all(&parent)
        .map_err(|e| Error::Io(format!("{}: {e}", parent.display())))?;
    let pid = std::process::id();
    let stage = parent.join(format!(".{name}.staging-{pid}"));
    let old = parent.join(format!(".{name}.old-{pid}"));
    let _ = std::fs::remove_dir_all(&stage);
    let result = (|| -> Result<(), String> {
        std::fs::create_dir_all(&stage).map_err(|e| format!("{}: {e}", stage.display()))?;
        for (rel, bytes) in files {
            let p = stage.join(rel);
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        for (rel, source) in links {
            let p = stage.join(rel);
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            if std::fs::hard_link(source, &p).is_err() {
                std::fs::copy(source, &p).map_err(|e| format!("{}: {e}", source.display()))?;
            }
        }
        // The result cache survives the swap: move it into the new output.
        let cache = out.join(crate::cache::CACHE_DIR);
        if cache.is_dir() {
            std::fs::rename(&cache, stage.join(crate::cache::CACHE_DIR))
                .map_err(|e| format!("{}: {e}", cache.display()))?;
        }
        if out.exists() {
            std::fs::rename(out, &old).map_err(|e| format!("{}: {e}", out.display()))?;
            if let Err(e) = std::fs::rename(&stage, out) {
                // Put the previous report back before giving up.
                let _ = std::fs::rename(&old, out);
                return Err(format!("{}: {e}", out.display()));
            }
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&stage, out).map_err(|e| format!("{}: {e}", out.display()))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&stage);
    }
    result.map_err(Error::Io)
}

/// `output/README.md`, written by every build (and committed, so the folder exists in
/// a fresh clone).
pub const README: &str = "# output/

Everything here is written by `diffrepro build` and ignored by git (except this file).
A build writes into a staging folder and swaps it in only when it succeeded, so this
folder always holds the last complete report.

- `report.html`: the whole report in one file (figures inline as SVG, math as MathML);
  it opens offline.
- `data/<chapter>/<table>.csv` and `.parquet`: every table computed by the chapter's
  experiments, one file per table, with the columns the report describes.
- `figures/<chapter>/<figure>.svg` and `.png`: every figure, as vector graphics and as
  a PNG at twice the SVG size for slides.
- `checks.json`: every check of the paper's claims with expected and computed values,
  difference, tolerance and status (`reproduced`, `discrepancy`, `failed`).
- `provenance.json`: diffrepro version, git commit, rustc, dependency versions,
  machine, date, and per experiment its spec hash, seed, method, samples and wall time.
- `.cache/`: results keyed by a hash of everything they depend on; an unchanged
  experiment is reused instead of re-run (`--no-cache` ignores it).
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_second_holder_and_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("output");
        let first = OutputLock::acquire(&out).unwrap();
        match OutputLock::acquire(&out) {
            Err(Error::Busy { lock, .. }) => assert!(lock.ends_with(".output.lock")),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("a second holder was admitted"),
        }
        drop(first);
        OutputLock::acquire(&out).expect("released on drop");
    }

    #[test]
    fn taking_the_lock_removes_leftover_staging_folders_only() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("output");
        let stale = dir.path().join(".output.staging-123");
        let other = dir.path().join(".elsewhere.staging-123");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        let _lock = OutputLock::acquire(&out).unwrap();
        assert!(!stale.exists());
        assert!(
            other.exists(),
            "another output's staging folder is not ours"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_previous_output_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("output");
        let linked = dir.path().join("table.csv");
        std::fs::write(&linked, "x\n1\n").unwrap();
        let links = [("data/t.csv".into(), linked.clone())];
        write(&out, &[("a.txt".into(), b"first".to_vec())], &links).unwrap();
        assert_eq!(std::fs::read(out.join("data/t.csv")).unwrap(), b"x\n1\n");
        std::fs::remove_file(&linked).unwrap();
        // A source that has gone: the write fails as a whole.
        let err = write(&out, &[("a.txt".into(), b"second".to_vec())], &links);
        assert!(err.is_err());
        assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"first");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no staging folder is left behind");
        assert_eq!(std::fs::read(out.join("data/t.csv")).unwrap(), b"x\n1\n");
    }
}
