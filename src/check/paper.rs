//! What the paper says, kept once: numbers it prints and features read off its figures.
//!
//! Two kinds of entry, in two places, so that a reviewer can audit each in one look:
//!
//! * `data/paper.yaml`: numbers the paper **prints**, with the decimals printed (which
//!   set the `printed` tolerance: half a unit in the last digit) and where:
//!
//!   ```yaml
//!   fig1.h0.r150: {value: 0.13, digits: 2, location: "Figure 1, r = 1.50: h(0, r)"}
//!   ```
//!
//! * `data/read-off/*.yaml` (one file per figure of the paper): features **read off** a
//!   panel, with the uncertainty of the reading (which is the `read_off` tolerance) and,
//!   where the feature is a point on a curve, its coordinates, drawn on our figure:
//!
//!   ```yaml
//!   fig6c.m_star.peak_t:
//!     value: 0.22
//!     uncertainty: 0.02
//!     panel: "6(c)"
//!     read: t at which m* peaks
//!     point: [0.22, 0.43]
//!     point_error: [0.02, 0.01]
//!   ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::yaml;

pub const PAPER_FILE: &str = "data/paper.yaml";
pub const READ_OFF_DIR: &str = "data/read-off";

/// A number as the paper prints it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrinted {
    value: f64,
    digits: u32,
    location: String,
    #[serde(default)]
    note: Option<String>,
}

/// A feature read off a panel of one of the paper's figures.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReadOff {
    value: f64,
    uncertainty: f64,
    panel: String,
    read: String,
    #[serde(default)]
    point: Option<[f64; 2]>,
    #[serde(default)]
    point_error: Option<[f64; 2]>,
}

/// Where a paper value comes from, and so how precise it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Provenance {
    /// Printed in the paper with `digits` decimals.
    Printed { digits: u32 },
    /// Read off the paper's figure panel `panel` ("6(c)") within `uncertainty`.
    ReadOff {
        uncertainty: f64,
        panel: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        point: Option<[f64; 2]>,
        #[serde(skip_serializing_if = "Option::is_none")]
        point_error: Option<[f64; 2]>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PaperValue {
    pub value: f64,
    /// Where it is printed, or what was read off which panel.
    pub location: String,
    pub provenance: Provenance,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The file that holds it, relative to the project.
    #[serde(skip)]
    pub file: PathBuf,
}

impl PaperValue {
    /// The paper's own precision: half a printed unit, or the reading uncertainty.
    pub fn precision(&self) -> f64 {
        match &self.provenance {
            Provenance::Printed { digits } => 0.5 * 10f64.powi(-(*digits as i32)),
            Provenance::ReadOff { uncertainty, .. } => *uncertainty,
        }
    }

    pub fn is_read_off(&self) -> bool {
        matches!(self.provenance, Provenance::ReadOff { .. })
    }

    /// The panel ("6(c)") a read-off feature belongs to.
    pub fn panel(&self) -> Option<&str> {
        match &self.provenance {
            Provenance::ReadOff { panel, .. } => Some(panel),
            Provenance::Printed { .. } => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PaperValues {
    pub values: BTreeMap<String, PaperValue>,
}

impl PaperValues {
    pub fn get(&self, key: &str) -> Option<&PaperValue> {
        self.values.get(key)
    }

    /// A printed value (tests and scaffolding).
    pub fn insert(&mut self, key: &str, value: f64, digits: u32, location: &str) {
        self.values.insert(
            key.to_string(),
            PaperValue {
                value,
                location: location.to_string(),
                provenance: Provenance::Printed { digits },
                note: None,
                file: PathBuf::from(PAPER_FILE),
            },
        );
    }

    /// Read-off features of one panel ("6(c)") that sit at a point, in key order.
    pub fn points_of_panel<'a>(
        &'a self,
        panel: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a PaperValue)> + 'a {
        self.values
            .iter()
            .filter(move |(_, v)| v.panel() == Some(panel))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Load `data/paper.yaml` and every `data/read-off/*.yaml` under `root`; a project
    /// without them has no quoted values.
    pub fn load(root: &Path) -> Result<PaperValues, Diagnostics> {
        let mut out = PaperValues::default();
        let mut diags = Diagnostics::default();
        let read = |rel: &Path| {
            std::fs::read_to_string(root.join(rel))
                .map_err(|e| Box::new(Diagnostic::new(rel, format!("cannot read: {e}"))))
        };
        if root.join(PAPER_FILE).exists() {
            match read(Path::new(PAPER_FILE)) {
                Ok(text) => diags.extend(out.add_printed(&text).err().unwrap_or_default()),
                Err(d) => diags.push(*d),
            }
        }
        let dir = root.join(READ_OFF_DIR);
        if dir.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| Diagnostic::new(READ_OFF_DIR, format!("cannot list: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            files.sort();
            for f in files {
                let rel = Path::new(READ_OFF_DIR).join(f.file_name().unwrap_or_default());
                match read(&rel) {
                    Ok(text) => {
                        diags.extend(out.add_read_off(&rel, &text).err().unwrap_or_default())
                    }
                    Err(d) => diags.push(*d),
                }
            }
        }
        diags.finish(out)
    }

    /// Printed values only (the contents of `data/paper.yaml`).
    pub fn parse(text: &str) -> Result<PaperValues, Diagnostics> {
        let mut out = PaperValues::default();
        out.add_printed(text)?;
        Ok(out)
    }

    fn add_printed(&mut self, text: &str) -> Result<(), Diagnostics> {
        let file = Path::new(PAPER_FILE);
        let raw: BTreeMap<String, RawPrinted> = parse_file(file, text)?;
        let mut diags = Diagnostics::default();
        for (k, v) in raw {
            if !v.value.is_finite() || v.digits > 15 {
                diags.push(at_key(
                    file,
                    text,
                    &k,
                    format!("entry `{k}` needs a finite value and at most 15 digits"),
                ));
                continue;
            }
            let entry = PaperValue {
                value: v.value,
                location: v.location,
                provenance: Provenance::Printed { digits: v.digits },
                note: v.note,
                file: file.to_path_buf(),
            };
            self.insert_new(file, text, k, entry, &mut diags);
        }
        diags.finish(())
    }

    fn add_read_off(&mut self, file: &Path, text: &str) -> Result<(), Diagnostics> {
        let raw: BTreeMap<String, RawReadOff> = parse_file(file, text)?;
        let mut diags = Diagnostics::default();
        for (k, v) in raw {
            let finite = |p: Option<[f64; 2]>| p.is_none_or(|p| p.iter().all(|x| x.is_finite()));
            let problem = if !v.value.is_finite() {
                Some("needs a finite `value`")
            } else if !(v.uncertainty.is_finite() && v.uncertainty > 0.0) {
                Some("needs a positive `uncertainty` (the precision of the reading)")
            } else if !finite(v.point) || !finite(v.point_error) {
                Some("`point` and `point_error` need finite coordinates")
            } else if v.point_error.is_some_and(|e| e.iter().any(|x| *x < 0.0)) {
                Some("`point_error` half-widths cannot be negative")
            } else if !valid_panel(&v.panel) {
                Some("`panel` names a figure and panel as the paper labels them, e.g. \"6(c)\" or \"3\"")
            } else {
                None
            };
            if let Some(p) = problem {
                diags.push(at_key(file, text, &k, format!("entry `{k}` {p}")));
                continue;
            }
            let entry = PaperValue {
                value: v.value,
                location: format!("Figure {}, read off: {}", v.panel, v.read),
                provenance: Provenance::ReadOff {
                    uncertainty: v.uncertainty,
                    panel: v.panel,
                    point: v.point,
                    point_error: v.point_error,
                },
                note: None,
                file: file.to_path_buf(),
            };
            self.insert_new(file, text, k, entry, &mut diags);
        }
        diags.finish(())
    }

    fn insert_new(
        &mut self,
        file: &Path,
        text: &str,
        key: String,
        entry: PaperValue,
        diags: &mut Diagnostics,
    ) {
        if let Some(old) = self.values.get(&key) {
            diags.push(
                at_key(
                    file,
                    text,
                    &key,
                    format!("entry `{key}` is also in {}", old.file.display()),
                )
                .hint("each quoted value has one key across data/paper.yaml and data/read-off/"),
            );
            return;
        }
        self.values.insert(key, entry);
    }
}

/// "6(c)", "10(d)" or "3": a figure number with an optional panel letter.
fn valid_panel(p: &str) -> bool {
    let (num, rest) = p.split_at(p.find('(').unwrap_or(p.len()));
    let num_ok = !num.is_empty() && num.chars().all(|c| c.is_ascii_digit());
    let rest_ok = rest.is_empty()
        || (rest.len() == 3
            && rest.starts_with('(')
            && rest.ends_with(')')
            && rest.as_bytes()[1].is_ascii_lowercase());
    num_ok && rest_ok
}

fn parse_file<T: serde::de::DeserializeOwned>(file: &Path, text: &str) -> Result<T, Diagnostics> {
    yaml::from_str(text).map_err(|e| {
        Diagnostic::new(file, format!("bad paper values: {}", e.message))
            .at(text, e.line, e.column)
            .field(e.path)
            .into()
    })
}

/// A diagnostic at the top-level entry `key` (keys hold dots: `fig1.r150.h0`).
fn at_key(file: &Path, text: &str, key: &str, message: String) -> Diagnostic {
    let (l, c) = yaml::parse(text)
        .ok()
        .and_then(|t| t.entry(key).map(|(k, _)| (k.pos.line, k.pos.column)))
        .unwrap_or((0, 0));
    Diagnostic::new(file, message).at(text, l, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let p =
            PaperValues::parse("a.b:\n  value: 0.13\n  digits: 2\n  location: Figure 1\n").unwrap();
        assert_eq!(p.get("a.b").unwrap().precision(), 0.005);
        let e = PaperValues::parse("a:\n  value: 1\n  digits: 2\n  locaton: x\n").unwrap_err();
        assert_eq!(e.0[0].line, 4, "{e}");
    }

    #[test]
    fn read_off_entries_carry_their_uncertainty_and_panel() {
        let mut p = PaperValues::default();
        let f = Path::new("data/read-off/figure-06.yaml");
        let text = "k:\n  value: 0.22\n  uncertainty: 0.02\n  panel: \"6(c)\"\n  read: peak\n  point: [0.22, 0.43]\n";
        p.add_read_off(f, text).unwrap();
        let v = p.get("k").unwrap();
        assert!(v.is_read_off());
        assert_eq!(v.precision(), 0.02);
        assert_eq!(p.points_of_panel("6(c)").count(), 1);
        assert_eq!(p.points_of_panel("6(d)").count(), 0);
        // A zero uncertainty, a bad panel and a duplicate key are each refused, located.
        let bad = "z:\n  value: 1\n  uncertainty: 0\n  panel: \"6(c)\"\n  read: x\n";
        let e = p.add_read_off(f, bad).unwrap_err();
        assert!(e.to_string().contains("positive `uncertainty`"), "{e}");
        assert_eq!(e.0[0].line, 1);
        let bad = "y:\n  value: 1\n  uncertainty: 0.1\n  panel: \"Figure 6c\"\n  read: x\n";
        assert!(p.add_read_off(f, bad).is_err());
        let e = p.add_read_off(f, text).unwrap_err();
        assert!(e.to_string().contains("also in"), "{e}");
        // Printed values refuse read-off fields.
        assert!(PaperValues::parse(
            "a:\n  value: 1\n  digits: 2\n  location: x\n  uncertainty: 1\n"
        )
        .is_err());
    }

    #[test]
    fn panels() {
        for ok in ["6(c)", "10(d)", "3"] {
            assert!(valid_panel(ok), "{ok}");
        }
        for bad in ["", "6c", "6(C)", "(c)", "6(cd)", "Figure 6"] {
            assert!(!valid_panel(bad), "{bad}");
        }
    }
}
