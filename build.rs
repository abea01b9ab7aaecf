//! Build script: records what provenance needs and only the build knows — the rustc
//! version and the exact versions of every dependency (from Cargo.lock) — in
//! `$OUT_DIR/build_info.rs`, included by `src/provenance.rs` — and a digest of the
//! source code the binary is built from, which keys the result cache (new code never
//! reuses old results; an unchanged tree rebuilt keeps them).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every file under `dir`, sorted.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// A 128-bit digest of the sources (two differently seeded SipHash passes over the
/// sorted paths and contents). It keys a cache, so it must change whenever the code
/// does; it need not resist an adversary, and the toolchain version is keyed apart.
fn source_digest() -> String {
    let mut files = Vec::new();
    for dir in ["src", "crates"] {
        files_under(Path::new(dir), &mut files);
    }
    files.extend(["Cargo.toml", "Cargo.lock", "build.rs"].map(PathBuf::from));
    files.sort();
    let mut parts = [0u64; 2];
    for (seed, part) in parts.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut h);
        for f in &files {
            f.to_string_lossy().hash(&mut h);
            std::fs::read(f).unwrap_or_default().hash(&mut h);
        }
        *part = h.finish();
    }
    format!("{:016x}{:016x}", parts[0], parts[1])
}

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=src");
    if Path::new("crates").is_dir() {
        println!("cargo:rerun-if-changed=crates");
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut deps = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let Some(v) = line.strip_prefix("version = ") {
            if let Some(n) = name.take() {
                deps.push((n, v.trim_matches('"').to_string()));
            }
        }
    }
    deps.sort();
    let mut out = String::new();
    out.push_str(&format!("pub const RUSTC_VERSION: &str = {version:?};\n"));
    out.push_str(&format!(
        "pub const SOURCE_DIGEST: &str = {:?};\n",
        source_digest()
    ));
    out.push_str("pub const DEPENDENCIES: &[(&str, &str)] = &[\n");
    for (n, v) in &deps {
        out.push_str(&format!("    ({n:?}, {v:?}),\n"));
    }
    out.push_str("];\n");
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("build_info.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
