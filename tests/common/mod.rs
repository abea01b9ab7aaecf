//! Shared helpers for the integration tests: a temporary project folder and a way to
//! run the real binary in it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// A temporary project folder (a `tempfile::TempDir`, removed when dropped).
pub struct Project {
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Project {
    pub fn new(name: &str) -> Project {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("diffrepro-test-{name}-"))
            .tempdir()
            .expect("a temporary folder");
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("chapters")).unwrap();
        Project { dir, _tmp: tmp }
    }

    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_diffrepro"))
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("the binary runs")
    }

    pub fn build(&self) -> Output {
        self.run(&["build", "--quiet"])
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `diffrepro complexity` from the command line, with its JSON output.
/// A CSV written by diffrepro (no quoted commas in the tables the tests read).
pub struct Csv {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    pub fn parse(text: &str) -> Csv {
        let mut lines = text.lines();
        let header = lines.next().unwrap().split(',').map(String::from).collect();
        let rows = lines
            .map(|l| l.split(',').map(String::from).collect())
            .collect();
        Csv { header, rows }
    }

    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    /// The number in row `row` of column `name`; an empty cell or `NaN` is NaN.
    pub fn num(&self, row: usize, name: &str) -> f64 {
        let s = &self.rows[row][self.col(name)];
        if s.is_empty() || s == "NaN" {
            f64::NAN
        } else {
            s.parse().unwrap_or_else(|_| panic!("{name}: `{s}`"))
        }
    }

    pub fn text(&self, row: usize, name: &str) -> &str {
        &self.rows[row][self.col(name)]
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }
}

pub mod complexity {
    use std::process::{Command, Output};

    use serde_json::Value;

    /// `diffrepro complexity ARGS`.
    pub fn run(args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_diffrepro"))
            .arg("complexity")
            .args(args)
            .output()
            .expect("the binary runs")
    }

    /// `diffrepro complexity ARGS --json`, which must succeed, parsed.
    pub fn json(args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = run(&all);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("--json prints JSON")
    }

    /// A JSON number that must be finite.
    pub fn num(v: &Value) -> f64 {
        v.as_f64()
            .unwrap_or_else(|| panic!("{v} is not a finite number"))
    }
}
