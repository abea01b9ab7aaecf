//! The result cache: an experiment whose inputs have not changed is not run again.
//!
//! An entry lives in `output/.cache/<key>/`, where the key is a SHA-256 over
//! everything the result depends on: the experiment's spec as written (after the
//! fidelity tier is applied), the bytes of every data file it reads, its seed, the
//! fidelity tier, the diffrepro and rustc versions, and a digest of the source code
//! the binary was built from, so new code never reuses old results. (Caches
//! that hash only the code cell and forget data files or the toolchain are the usual
//! source of stale results; this key has all of them.)
//!
//! An entry holds each table as Parquet (exact f64 round trip) and a manifest with
//! the SHA-256 of every file; an entry whose files do not match their checksums is
//! reported and recomputed, never trusted.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::table::Table;

pub const CACHE_DIR: &str = ".cache";

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The canonical bytes of a value, for a cache key: CBOR (RFC 8949) of its serde form.
/// Fields come in declaration order and maps sorted (the specs use `BTreeMap`), floats
/// are encoded exactly (∞, -∞ and NaN distinct), so equal values give equal bytes and
/// any change of a parameter, a measure or a data value read from a file gives
/// different ones. (Hashing `Debug` output instead, as a first version did, ties the
/// key to formatting that is neither specified nor exact.)
pub fn canonical<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("plain data encodes as CBOR");
    out
}

/// The cache key of an experiment: its validated spec (every parameter, measure and
/// data value it will use) in canonical form, kind, seed, declared outputs, the
/// fidelity tier, the versions of diffrepro and rustc, and `code`, a digest of the code
/// that computes it.
pub fn experiment_key(e: &crate::experiment::Experiment, fidelity: &str, code: &str) -> String {
    KeyBuilder::new()
        .part("spec", &canonical(&e.spec))
        .part("kind", e.kind.as_bytes())
        .part("seed", &e.seed.to_le_bytes())
        .part("outputs", &canonical(&e.outputs))
        .part("fidelity", fidelity.as_bytes())
        .part("diffrepro", env!("CARGO_PKG_VERSION").as_bytes())
        .part("rustc", crate::provenance::rustc_version().as_bytes())
        .part("code", code.as_bytes())
        .finish()
}

/// Builds a cache key from labelled parts (the labels keep parts from running together).
#[derive(Default)]
pub struct KeyBuilder {
    h: Sha256,
}

impl KeyBuilder {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn part(mut self, label: &str, bytes: &[u8]) -> Self {
        self.h.update((label.len() as u64).to_le_bytes());
        self.h.update(label.as_bytes());
        self.h.update((bytes.len() as u64).to_le_bytes());
        self.h.update(bytes);
        self
    }
    pub fn finish(self) -> String {
        self.h
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    experiment: String,
    tables: Vec<ManifestTable>,
}

#[derive(Serialize, Deserialize)]
struct ManifestTable {
    name: String,
    file: String,
    sha256: String,
}

/// Why a cached result could not be used.
#[derive(Debug, Clone, PartialEq)]
pub enum Miss {
    /// No entry for this key (first run, or some input changed).
    Absent,
    /// The entry exists but is damaged; the message says how.
    Corrupt(String),
}

pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache inside an output folder.
    pub fn in_output(out: &Path) -> Cache {
        Cache {
            dir: out.join(CACHE_DIR),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The tables stored under `key`, verified against their checksums.
    pub fn load(&self, key: &str) -> Result<Vec<Table>, Miss> {
        let entry = self.dir.join(key);
        let manifest_path = entry.join("manifest.json");
        if !manifest_path.exists() {
            return Err(Miss::Absent);
        }
        let corrupt = |m: String| Miss::Corrupt(m);
        let text = std::fs::read(&manifest_path)
            .map_err(|e| corrupt(format!("cannot read manifest: {e}")))?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|e| corrupt(format!("manifest is not valid: {e}")))?;
        let mut tables = Vec::new();
        for t in &manifest.tables {
            if t.file.contains('/') || t.file.contains("..") {
                return Err(corrupt(format!(
                    "manifest names a file outside the entry: {}",
                    t.file
                )));
            }
            let path = entry.join(&t.file);
            let bytes = std::fs::read(&path)
                .map_err(|e| corrupt(format!("cannot read {}: {e}", t.file)))?;
            if sha256_hex(&bytes) != t.sha256 {
                return Err(corrupt(format!("{} does not match its checksum", t.file)));
            }
            let df = ParquetReader::new(std::io::Cursor::new(bytes))
                .finish()
                .map_err(|e| corrupt(format!("{} is not readable Parquet: {e}", t.file)))?;
            tables.push(Table {
                name: t.name.clone(),
                df,
            });
        }
        Ok(tables)
    }

    /// Store `tables` under `key` (written to a temporary folder, then renamed, so a
    /// crash never leaves a half-written entry that looks complete).
    pub fn store(&self, key: &str, experiment: &str, tables: &[Table]) -> Result<(), String> {
        let entry = self.dir.join(key);
        let tmp = self.dir.join(format!(".{key}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        let mut manifest = Manifest {
            experiment: experiment.to_string(),
            tables: Vec::new(),
        };
        for (i, t) in tables.iter().enumerate() {
            let file = format!("{i}.parquet");
            let path = tmp.join(&file);
            let mut df = t.df.clone();
            ParquetWriter::new(
                File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?,
            )
            .finish(&mut df)
            .map_err(|e| format!("{}: {e}", path.display()))?;
            let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
            manifest.tables.push(ManifestTable {
                name: t.name.clone(),
                file,
                sha256: sha256_hex(&bytes),
            });
        }
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
        std::fs::write(tmp.join("manifest.json"), json).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_dir_all(&entry);
        std::fs::rename(&tmp, &entry).map_err(|e| format!("{}: {e}", entry.display()))
    }

    /// Remove entries not in `keep` and stored files not in `keep_files` (so the
    /// cache does not grow without bound).
    pub fn prune(&self, keep: &[String], keep_files: &[String]) {
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name != FILES_DIR && !keep.contains(&name) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let keep_files: std::collections::HashSet<&str> =
            keep_files.iter().map(String::as_str).collect();
        if let Ok(rd) = std::fs::read_dir(self.dir.join(FILES_DIR)) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let key = name.split('.').next().unwrap_or_default();
                if !keep_files.contains(key) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    /// Where the file stored under `key` lives (for linking into the output).
    pub fn file_path(&self, key: &str) -> PathBuf {
        self.dir.join(FILES_DIR).join(format!("{key}.bin"))
    }

    /// The bytes stored under `key` by [`Cache::store_file`], if present and intact.
    pub fn load_file(&self, key: &str) -> Option<Vec<u8>> {
        let dir = self.dir.join(FILES_DIR);
        let bytes = std::fs::read(dir.join(format!("{key}.bin"))).ok()?;
        let sum = std::fs::read_to_string(dir.join(format!("{key}.sha256"))).ok()?;
        (sha256_hex(&bytes) == sum.trim()).then_some(bytes)
    }

    /// Store a derived file (a rasterised figure, say) under `key`, a hash of
    /// everything it was made from; written to a temporary name and renamed, with its
    /// checksum beside it, so a damaged file is recomputed rather than served.
    pub fn store_file(&self, key: &str, bytes: &[u8]) -> Result<(), String> {
        let dir = self.dir.join(FILES_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp = dir.join(format!(".{key}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::write(dir.join(format!("{key}.sha256")), sha256_hex(bytes))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::rename(&tmp, dir.join(format!("{key}.bin")))
            .map_err(|e| format!("{}: {e}", dir.display()))
    }

    /// The path of an intact file for `key`, made and stored first when there is none
    /// (`None` when it could not be stored: the caller then writes `make`'s bytes).
    pub fn ensure_file(
        &self,
        key: &str,
        make: impl FnOnce() -> Result<Vec<u8>, String>,
    ) -> Result<Result<PathBuf, Vec<u8>>, String> {
        if self.load_file(key).is_some() {
            return Ok(Ok(self.file_path(key)));
        }
        let bytes = make()?;
        Ok(match self.store_file(key, &bytes) {
            Ok(()) => Ok(self.file_path(key)),
            Err(_) => Err(bytes),
        })
    }

    /// `make()`'s bytes for `key`, from the cache when an intact copy is there;
    /// otherwise made and stored (a cache that cannot be written costs time only).
    pub fn file_or_make(
        &self,
        key: &str,
        make: impl FnOnce() -> Result<Vec<u8>, String>,
    ) -> Result<Vec<u8>, String> {
        if let Some(bytes) = self.load_file(key) {
            return Ok(bytes);
        }
        let bytes = make()?;
        let _ = self.store_file(key, &bytes);
        Ok(bytes)
    }
}

/// Where derived files (rasterised figures) live inside the cache.
pub const FILES_DIR: &str = "files";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::TableBuilder;

    #[test]
    fn round_trips_and_detects_corruption() {
        let dir = std::env::temp_dir().join(format!("diffrepro-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = Cache::in_output(&dir);
        let t = TableBuilder::new()
            .text("measure", vec!["μ".into(), "ν".into()])
            .number("x", vec![0.1 + 0.2, f64::NAN])
            .build("t")
            .unwrap();
        let key = KeyBuilder::new().part("spec", b"a").finish();
        assert_eq!(cache.load(&key).unwrap_err(), Miss::Absent);
        cache.store(&key, "e", std::slice::from_ref(&t)).unwrap();
        let back = cache.load(&key).unwrap();
        assert_eq!(back[0].name, "t");
        let x = back[0].numbers("x").unwrap();
        assert_eq!(x[0].to_bits(), (0.1f64 + 0.2).to_bits(), "exact round trip");
        assert!(x[1].is_nan());
        // Truncate the table file: detected, not trusted.
        let f = dir.join(CACHE_DIR).join(&key).join("0.parquet");
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(cache.load(&key), Err(Miss::Corrupt(_))));
        assert_ne!(key, KeyBuilder::new().part("spec", b"b").finish());
        assert_ne!(
            KeyBuilder::new().part("ab", b"c").finish(),
            KeyBuilder::new().part("a", b"bc").finish()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn canonical_bytes_tell_apart_what_debug_output_can_blur() {
        use crate::measure::{Component, Measure};
        let mix = |mean: f64| {
            Measure::Mixture(vec![Component {
                weight: 1.0,
                mean,
                var: 0.0,
            }])
        };
        // Equal values: equal bytes, every time.
        assert_eq!(canonical(&mix(0.5)), canonical(&mix(0.5)));
        // The next double, and the two infinities, are different inputs.
        assert_ne!(
            canonical(&mix(0.1)),
            canonical(&mix(f64::from_bits(0.1f64.to_bits() + 1)))
        );
        assert_ne!(canonical(&f64::INFINITY), canonical(&f64::NEG_INFINITY));
        assert_ne!(canonical(&f64::INFINITY), canonical(&f64::NAN));
        // Field names are part of the encoding: two fields cannot trade values unseen.
        assert_ne!(
            canonical(&Component {
                weight: 1.0,
                mean: 2.0,
                var: 3.0
            }),
            canonical(&Component {
                weight: 1.0,
                mean: 3.0,
                var: 2.0
            })
        );
    }

    #[test]
    fn derived_files_are_made_once_verified_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::in_output(dir.path());
        let made = std::cell::Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            Ok(b"png bytes".to_vec())
        };
        assert_eq!(cache.file_or_make("k1", make).unwrap(), b"png bytes");
        assert_eq!(cache.file_or_make("k1", make).unwrap(), b"png bytes");
        assert_eq!(made.get(), 1, "the second call is served from the cache");
        // A damaged copy is not served.
        let bin = dir.path().join(CACHE_DIR).join(FILES_DIR).join("k1.bin");
        std::fs::write(&bin, b"png byt").unwrap();
        assert_eq!(cache.load_file("k1"), None);
        assert_eq!(cache.file_or_make("k1", make).unwrap(), b"png bytes");
        assert_eq!(made.get(), 2);
        cache.store_file("k2", b"other").unwrap();
        cache.prune(&[], &["k2".to_string()]);
        assert_eq!(cache.load_file("k1"), None, "not live: pruned");
        assert_eq!(cache.load_file("k2").as_deref(), Some(&b"other"[..]));
    }
}
