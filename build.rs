//! Build script: records what provenance needs and only the build knows — the rustc
//! version and the exact versions of every dependency (from Cargo.lock) — in
//! `$OUT_DIR/build_info.rs`, included by `src/provenance.rs`.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
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
    out.push_str("pub const DEPENDENCIES: &[(&str, &str)] = &[\n");
    for (n, v) in &deps {
        out.push_str(&format!("    ({n:?}, {v:?}),\n"));
    }
    out.push_str("];\n");
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("build_info.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
