//! Provenance: with exactly what software, seeds and inputs a report was made.
//!
//! Written to `output/provenance.json` and shown in the report's appendix. Everything
//! that varies from run to run (the date, wall times, the machine) is kept here and
//! only here, so that tables, figures and checks are byte-identical across builds.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

mod build_info {
    include!(concat!(env!("OUT_DIR"), "/build_info.rs"));
}

#[derive(Serialize, Clone)]
pub struct Provenance {
    pub diffrepro_version: String,
    pub git: GitState,
    pub rustc: String,
    pub os: String,
    pub arch: String,
    pub cpu: String,
    pub threads: usize,
    /// UTC time of the build, RFC 3339.
    pub date: String,
    pub fidelity: String,
    /// `--set` overrides of the chapters' specs (empty for the chapters as written).
    pub overrides: Vec<crate::overrides::OverrideRecord>,
    pub dependencies: Vec<Dependency>,
    pub experiments: Vec<ExperimentRecord>,
}

#[derive(Serialize, Clone)]
pub struct GitState {
    pub commit: String,
    pub dirty: bool,
}

#[derive(Serialize, Clone)]
pub struct Dependency {
    pub name: String,
    pub version: String,
}

#[derive(Serialize, Clone)]
pub struct ExperimentRecord {
    pub id: String,
    pub chapter: String,
    pub kind: String,
    /// SHA-256 of the spec as written.
    pub spec_sha256: String,
    /// The cache key (covers the spec, data, seed, fidelity and toolchain).
    pub cache_key: String,
    pub seed: u64,
    pub method: String,
    pub samples: Option<usize>,
    pub wall_seconds: f64,
    /// "ran" or "cached".
    pub status: String,
}

/// A digest of the source code this binary was built from (see `build.rs`).
pub fn source_digest() -> &'static str {
    build_info::SOURCE_DIGEST
}

pub fn rustc_version() -> &'static str {
    build_info::RUSTC_VERSION
}

pub fn dependencies() -> Vec<Dependency> {
    build_info::DEPENDENCIES
        .iter()
        .map(|(n, v)| Dependency {
            name: n.to_string(),
            version: v.to_string(),
        })
        .collect()
}

/// The project's git commit and whether its work tree has uncommitted changes.
pub fn git_state(project: &Path) -> GitState {
    let run = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(project)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(commit) => GitState {
            commit,
            dirty: run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty()),
        },
        None => GitState {
            commit: "unknown (not a git work tree)".into(),
            dirty: false,
        },
    }
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Current UTC time as RFC 3339, without a date crate.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_info_is_recorded() {
        assert!(rustc_version().starts_with("rustc "), "{}", rustc_version());
        assert!(dependencies().iter().any(|d| d.name == "polars"));
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20"));
    }
}
