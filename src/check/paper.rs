//! Values quoted from the paper, kept once in `data/paper.yaml`.
//!
//! Each entry records the number, the decimals the paper printed (which sets the
//! `printed` tolerance: half a unit in the last digit) and where it is printed, so a
//! reviewer can audit every quoted number in one file:
//!
//! ```yaml
//! fig1.h0.r150:
//!   value: 0.13
//!   digits: 2
//!   location: Figure 1, table under the panels, h(0, r) at r = 1.50
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::yaml;

pub const PAPER_FILE: &str = "data/paper.yaml";

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PaperValue {
    pub value: f64,
    /// Decimals as printed in the paper.
    pub digits: u32,
    /// Figure / equation / page where the number is printed.
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PaperValues {
    pub values: BTreeMap<String, PaperValue>,
}

impl PaperValues {
    pub fn get(&self, key: &str) -> Option<&PaperValue> {
        self.values.get(key)
    }

    pub fn insert(&mut self, key: &str, value: f64, digits: u32, location: &str) {
        self.values.insert(
            key.to_string(),
            PaperValue {
                value,
                digits,
                location: location.to_string(),
                note: None,
            },
        );
    }

    /// Load `data/paper.yaml` under `root`; a project without one has no quoted values.
    pub fn load(root: &Path) -> Result<PaperValues, Diagnostics> {
        let path = root.join(PAPER_FILE);
        if !path.exists() {
            return Ok(PaperValues::default());
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Diagnostic::new(PAPER_FILE, format!("cannot read: {e}")))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<PaperValues, Diagnostics> {
        let values: BTreeMap<String, PaperValue> = yaml::from_str(text).map_err(|e| {
            Diagnostic::new(PAPER_FILE, format!("bad paper values: {}", e.message))
                .at(text, e.line, e.column)
                .field(e.path)
        })?;
        let mut diags = Diagnostics::default();
        for (k, v) in &values {
            if !v.value.is_finite() || v.digits > 15 {
                let (l, c) = yaml::locate(text, k).unwrap_or((0, 0));
                diags.push(
                    Diagnostic::new(
                        PAPER_FILE,
                        format!("entry `{k}` needs a finite value and at most 15 digits"),
                    )
                    .at(text, l, c),
                );
            }
        }
        diags.finish(PaperValues { values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let p =
            PaperValues::parse("a.b:\n  value: 0.13\n  digits: 2\n  location: Figure 1\n").unwrap();
        assert_eq!(p.get("a.b").unwrap().digits, 2);
        let e = PaperValues::parse("a:\n  value: 1\n  digits: 2\n  locaton: x\n").unwrap_err();
        assert_eq!(e.0[0].line, 4, "{e}");
    }
}
