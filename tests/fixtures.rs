//! Fixture projects (mdBook's testsuite model): every folder
//! `tests/fixtures/<feature>/<case>/` is a small project (`chapters/`, maybe `data/`)
//! run through the real binary, with what the run must give beside it:
//!
//! - `cmd`: the arguments, on one line (default `build -q`);
//! - `expected.status`: the exit code;
//! - `expected.stderr`: what the run prints on stderr, with the project folder written
//!   `[PROJECT]` (error messages are snapshots: file:line:column, the line with its
//!   caret, the field and the hint, exactly);
//! - `expected/PATH`: files the run must write into `output/`, byte for byte.
//!
//! `DIFFREPRO_BLESS=1 cargo test --release --test fixtures` rewrites the snapshots
//! from the current binary (a new case starts that way); review them with `git diff`.
//!
//! Every case that builds is also built with `--jobs 1` and `--jobs 2`: whatever the
//! thread count, every output file is the same bytes (the provenance, which records
//! times and the machine, and the report's appendix that shows it, aside).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bless() -> bool {
    std::env::var_os("DIFFREPRO_BLESS").is_some_and(|v| v != "0")
}

/// Every `<feature>/<case>` folder, in order.
fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for feature in sorted_dir(&root) {
        for case in sorted_dir(&feature) {
            if case.join("chapters").is_dir() {
                out.push(case);
            }
        }
    }
    out
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn name(case: &Path) -> String {
    let feature = case.parent().and_then(|p| p.file_name()).unwrap();
    format!(
        "{}/{}",
        feature.to_string_lossy(),
        case.file_name().unwrap().to_string_lossy()
    )
}

/// A copy of the case's project in a temporary folder (the snapshots left out).
fn copy_project(case: &Path) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let p = e.path();
            let n = e.file_name();
            let skip = n == "cmd" || n.to_string_lossy().starts_with("expected");
            if skip {
                continue;
            }
            if p.is_dir() {
                copy(&p, &to.join(&n));
            } else {
                std::fs::copy(&p, to.join(&n)).unwrap();
            }
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix("diffrepro-fixture-")
        .tempdir()
        .unwrap();
    copy(case, tmp.path());
    tmp
}

fn args(case: &Path) -> Vec<String> {
    std::fs::read_to_string(case.join("cmd"))
        .unwrap_or_else(|_| "build -q".to_string())
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn run(dir: &Path, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffrepro"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// Stderr with the project folder replaced by `[PROJECT]`.
fn normalized_stderr(out: &Output, dir: &Path) -> String {
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let canon = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    text.replace(&canon.display().to_string(), "[PROJECT]")
        .replace(&dir.display().to_string(), "[PROJECT]")
}

/// Every file under `dir` (relative path → bytes), the cache left out.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out.retain(|k, _| !k.starts_with(".cache"));
    out
}

/// Compare `got` with the snapshot at `path` (or write it when blessing).
fn compare(failures: &mut Vec<String>, case: &str, path: &Path, got: &[u8]) {
    if bless() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, got).unwrap();
        return;
    }
    match std::fs::read(path) {
        Ok(want) if want == got => {}
        Ok(want) => failures.push(format!(
            "{case}: {} differs\n--- expected\n{}\n--- got\n{}",
            path.display(),
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(got)
        )),
        Err(_) => failures.push(format!(
            "{case}: no snapshot {} (run with DIFFREPRO_BLESS=1 to write it)",
            path.display()
        )),
    }
}

#[test]
fn fixtures_give_their_expected_output() {
    let cases = cases();
    assert!(cases.len() >= 10, "only {} fixture cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let n = name(case);
        let tmp = copy_project(case);
        let out = run(tmp.path(), &args(case));
        let status = out.status.code().unwrap_or(-1);
        compare(
            &mut failures,
            &n,
            &case.join("expected.status"),
            format!("{status}\n").as_bytes(),
        );
        compare(
            &mut failures,
            &n,
            &case.join("expected.stderr"),
            normalized_stderr(&out, tmp.path()).as_bytes(),
        );
        if status != 0 {
            // Nothing but the cache of the experiments that ran (a run that fails
            // while drawing keeps them, so the fixed rerun does not repeat them).
            let out_dir = tmp.path().join("output");
            let written: Vec<_> = std::fs::read_dir(&out_dir)
                .map(|d| d.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            assert!(
                written.iter().all(|f| f == ".cache"),
                "{n}: a failed run writes nothing but its cache: {written:?}"
            );
            continue;
        }
        let written = tree(&tmp.path().join("output"));
        let expected = case.join("expected");
        let wanted: Vec<String> = if bless() && !expected.exists() {
            // A new case snapshots its checks and its tables.
            written
                .keys()
                .filter(|k| k.as_str() == "checks.json" || k.ends_with(".csv"))
                .cloned()
                .collect()
        } else {
            tree(&expected).into_keys().collect()
        };
        assert!(
            !wanted.is_empty(),
            "{n}: a case that builds names the files it must write"
        );
        for rel in wanted {
            match written.get(&rel) {
                Some(bytes) => compare(&mut failures, &n, &expected.join(&rel), bytes),
                None => failures.push(format!("{n}: the run wrote no `{rel}`")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixture checks failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// The report without its provenance appendix (the one run-dependent part).
fn without_appendix(html: &[u8]) -> String {
    let s = String::from_utf8_lossy(html);
    let i = s
        .find("id=\"provenance\"")
        .expect("the report has an appendix");
    s[..i].to_string()
}

#[test]
fn built_fixtures_are_identical_whatever_the_thread_count() {
    let mut built = 0;
    for case in cases() {
        let want_ok =
            std::fs::read_to_string(case.join("expected.status")).is_ok_and(|s| s.trim() == "0");
        if !want_ok {
            continue;
        }
        let n = name(&case);
        let tmp = copy_project(&case);
        let outputs: Vec<BTreeMap<String, Vec<u8>>> = ["1", "2"]
            .iter()
            .map(|jobs| {
                let mut a = args(&case);
                if !a.iter().any(|x| x == "--no-cache") {
                    a.push("--no-cache".into());
                }
                a.extend(["--jobs", jobs, "--out"].map(str::to_string));
                a.push(format!("out-{jobs}"));
                let out = run(tmp.path(), &a);
                assert!(
                    out.status.success(),
                    "{n} --jobs {jobs}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                tree(&tmp.path().join(format!("out-{jobs}")))
            })
            .collect();
        let (a, b) = (&outputs[0], &outputs[1]);
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{n}: the same files"
        );
        let mut compared = 0;
        for (file, bytes) in a {
            match file.as_str() {
                "provenance.json" => {}
                "report.html" => assert_eq!(
                    without_appendix(bytes),
                    without_appendix(&b[file]),
                    "{n}: report.html differs between --jobs 1 and --jobs 2"
                ),
                _ => {
                    assert!(
                        *bytes == b[file],
                        "{n}: {file} differs between --jobs 1 and --jobs 2"
                    );
                    compared += 1;
                }
            }
        }
        assert!(
            compared >= 8,
            "{n}: tables (csv, parquet), figures (svg, png), checks.json, report.pdf"
        );
        built += 1;
    }
    assert!(built >= 1, "no fixture builds");
}
