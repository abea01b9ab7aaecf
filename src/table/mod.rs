//! Stage 4, *tables*: every result is a Polars `DataFrame` with a declared schema.
//!
//! Runners build tables column by column with [`TableBuilder`]; the pipeline writes
//! each one as CSV and Parquet; figures, checks and prose read columns back through
//! the small accessors here, so none of them touch Polars directly.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ColumnKind {
    Number,
    Text,
}

/// A column a runner promises to produce: lets figures and checks be validated
/// against table schemas before anything runs.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ColumnDecl {
    pub name: String,
    pub kind: ColumnKind,
    pub doc: String,
}

impl ColumnDecl {
    pub fn number(name: &str, doc: &str) -> Self {
        ColumnDecl {
            name: name.into(),
            kind: ColumnKind::Number,
            doc: doc.into(),
        }
    }
    pub fn text(name: &str, doc: &str) -> Self {
        ColumnDecl {
            name: name.into(),
            kind: ColumnKind::Text,
            doc: doc.into(),
        }
    }
}

/// The declared shape of one output table.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<ColumnDecl>,
}

impl TableSchema {
    pub fn has(&self, col: &str) -> bool {
        self.columns.iter().any(|c| c.name == col)
    }
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }
}

/// The rows of a declared table, collected one at a time and built in the schema's
/// column order: a row's text cells fill the text columns and its numbers the number
/// columns, each in the order the schema declares them.
pub struct Rows<'a> {
    schema: &'a TableSchema,
    texts: Vec<Vec<String>>,
    numbers: Vec<Vec<f64>>,
}

impl<'a> Rows<'a> {
    pub fn new(schema: &'a TableSchema) -> Self {
        let count = |kind| schema.columns.iter().filter(|c| c.kind == kind).count();
        Rows {
            schema,
            texts: vec![Vec::new(); count(ColumnKind::Text)],
            numbers: vec![Vec::new(); count(ColumnKind::Number)],
        }
    }
    pub fn push(&mut self, texts: &[&str], numbers: &[f64]) {
        for (c, v) in self.texts.iter_mut().zip(texts) {
            c.push(v.to_string());
        }
        for (c, v) in self.numbers.iter_mut().zip(numbers) {
            c.push(*v);
        }
    }
    pub fn build(self) -> Result<Table, String> {
        let (mut texts, mut numbers) = (self.texts.into_iter(), self.numbers.into_iter());
        let mut b = TableBuilder::new();
        for decl in &self.schema.columns {
            b = match decl.kind {
                ColumnKind::Text => b.text(&decl.name, texts.next().unwrap_or_default()),
                ColumnKind::Number => b.number(&decl.name, numbers.next().unwrap_or_default()),
            };
        }
        b.build(&self.schema.name)
    }
}

/// One computed table.
#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    pub df: DataFrame,
}

/// Builds a table in a declared column order.
#[derive(Default)]
pub struct TableBuilder {
    columns: Vec<Column>,
}

impl TableBuilder {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn number(mut self, name: &str, values: Vec<f64>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }
    pub fn text(mut self, name: &str, values: Vec<String>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }
    /// Finish; all columns must have the same length (a runner bug otherwise).
    pub fn build(self, name: &str) -> Result<Table, String> {
        let df = DataFrame::new_infer_height(self.columns)
            .map_err(|e| format!("table `{name}`: {e}"))?;
        Ok(Table {
            name: name.to_string(),
            df,
        })
    }
}

impl Table {
    pub fn height(&self) -> usize {
        self.df.height()
    }

    pub fn column_names(&self) -> Vec<String> {
        self.df
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    pub fn has_column(&self, col: &str) -> bool {
        self.df.column(col).is_ok()
    }

    pub fn is_text(&self, col: &str) -> bool {
        matches!(
            self.df.column(col).map(|c| c.dtype().clone()),
            Ok(DataType::String)
        )
    }

    /// The column `col`, read as `kind` ("numeric", "text") by `read`.
    fn column<T>(
        &self,
        col: &str,
        kind: &str,
        read: impl FnOnce(&Column) -> PolarsResult<T>,
    ) -> Result<T, String> {
        let c = self
            .df
            .column(col)
            .map_err(|_| format!("table `{}` has no column `{col}`", self.name))?;
        read(c).map_err(|_| format!("column `{col}` of table `{}` is not {kind}", self.name))
    }

    /// A numeric column as f64 (nulls as NaN).
    pub fn numbers(&self, col: &str) -> Result<Vec<f64>, String> {
        self.column(col, "numeric", |c| {
            Ok(c.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        })
    }

    /// A text column (nulls as empty strings).
    pub fn texts(&self, col: &str) -> Result<Vec<String>, String> {
        self.column(col, "text", |c| {
            Ok(c.str()?
                .iter()
                .map(|v| v.unwrap_or("").to_string())
                .collect())
        })
    }

    /// Any column rendered as display strings (numbers in shortest round-trip form).
    pub fn cells(&self, col: &str) -> Result<Vec<Cell>, String> {
        if self.is_text(col) {
            Ok(self.texts(col)?.into_iter().map(Cell::Text).collect())
        } else {
            Ok(self.numbers(col)?.into_iter().map(Cell::Number).collect())
        }
    }

    /// Row indices where every `(column, value)` condition holds. Numbers match
    /// within a relative 1e-9 (so `r: 1/sqrt(2)` finds the row computed from it).
    pub fn select(&self, conditions: &[(String, Cell)]) -> Result<Vec<usize>, String> {
        let mut keep: Vec<bool> = vec![true; self.height()];
        for (col, want) in conditions {
            let cells = self.cells(col)?;
            for (k, cell) in keep.iter_mut().zip(cells) {
                *k &= cell.matches(want);
            }
        }
        Ok(keep
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.then_some(i))
            .collect())
    }

    /// SHA-256 of the table's content (column names, kinds and every value, floats
    /// bit for bit), independent of how it is encoded on disk.
    pub fn digest(&self) -> String {
        let mut key = crate::cache::KeyBuilder::new().part("name", self.name.as_bytes());
        for col in self.column_names() {
            key = if self.is_text(&col) {
                let mut bytes = Vec::new();
                for s in self.texts(&col).unwrap_or_default() {
                    bytes.extend((s.len() as u64).to_le_bytes());
                    bytes.extend(s.as_bytes());
                }
                key.part("text", col.as_bytes()).part("values", &bytes)
            } else {
                let bytes: Vec<u8> = self
                    .numbers(&col)
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|v| v.to_bits().to_le_bytes())
                    .collect();
                key.part("number", col.as_bytes()).part("values", &bytes)
            };
        }
        key.finish()
    }

    /// The table as CSV with a header line.
    pub fn csv_bytes(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut df = self.df.clone();
        CsvWriter::new(&mut out)
            .include_header(true)
            .finish(&mut df)
            .map_err(|e| format!("table `{}` as CSV: {e}", self.name))?;
        Ok(out)
    }

    /// The table as Parquet.
    pub fn parquet_bytes(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut df = self.df.clone();
        ParquetWriter::new(&mut out)
            .finish(&mut df)
            .map_err(|e| format!("table `{}` as Parquet: {e}", self.name))?;
        Ok(out)
    }

    pub fn write_csv(&self, path: &Path) -> Result<(), String> {
        let mut f = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut df = self.df.clone();
        CsvWriter::new(&mut f)
            .include_header(true)
            .finish(&mut df)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn write_parquet(&self, path: &Path) -> Result<(), String> {
        let f = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut df = self.df.clone();
        ParquetWriter::new(f)
            .finish(&mut df)
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// A single table value.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Number(f64),
    Text(String),
}

impl Cell {
    pub fn matches(&self, want: &Cell) -> bool {
        match (self, want) {
            // Relative closeness only between finite numbers: ∞ matches only ∞.
            (Cell::Number(a), Cell::Number(b)) => {
                a == b
                    || (a.is_finite()
                        && b.is_finite()
                        && (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300))
            }
            (Cell::Text(a), Cell::Text(b)) => a == b,
            (Cell::Number(a), Cell::Text(b)) => b.parse::<f64>().is_ok_and(|b| *a == b),
            (Cell::Text(_), Cell::Number(_)) => false,
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Number(v) => write!(f, "{}", format_number(*v, None)),
            Cell::Text(s) => f.write_str(s),
        }
    }
}

/// Numbers for people: `digits` decimals when given, else up to 6 significant digits
/// (scientific outside [1e-4, 1e6)); infinities as ∞.
pub fn format_number(v: f64, digits: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    if let Some(d) = digits {
        let s = format!("{v:.d$}");
        // "-0.00" reads as a sign error; print 0.00.
        return if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
            s[1..].to_string()
        } else {
            s
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-4..1e6).contains(&a) {
        let s = format!("{v:.4e}");
        return s.replace("e-", "e−");
    }
    let s = format!("{:.*}", (5 - a.log10().floor() as i64).max(0) as usize, v);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        TableBuilder::new()
            .text("measure", vec!["a".into(), "a".into(), "b".into()])
            .number("r", vec![1.0 / 2f64.sqrt(), 1.5, 1.5])
            .number("h", vec![0.0, 0.13, 0.2])
            .build("t")
            .unwrap()
    }

    #[test]
    fn selects_rows_by_value() {
        let t = sample();
        let rows = t
            .select(&[
                ("r".into(), Cell::Number(std::f64::consts::FRAC_1_SQRT_2)),
                ("measure".into(), Cell::Text("a".into())),
            ])
            .unwrap();
        assert_eq!(rows, vec![0]);
        assert_eq!(
            t.select(&[("r".into(), Cell::Number(1.5))]).unwrap(),
            vec![1, 2]
        );
        assert!(t.numbers("nope").is_err());
        assert!(t.numbers("measure").is_err());
    }

    #[test]
    fn writes_csv_and_parquet() {
        let dir = std::env::temp_dir().join(format!("diffrepro-table-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let t = sample();
        t.write_csv(&dir.join("t.csv")).unwrap();
        t.write_parquet(&dir.join("t.parquet")).unwrap();
        let csv = std::fs::read_to_string(dir.join("t.csv")).unwrap();
        assert!(csv.starts_with("measure,r,h\n"), "{csv}");
        assert!(csv.contains("b,1.5,0.2"), "{csv}");
        let pq = std::fs::read(dir.join("t.parquet")).unwrap();
        assert_eq!(&pq[..4], b"PAR1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn formats_numbers_for_people() {
        assert_eq!(format_number(0.1251, Some(2)), "0.13");
        assert_eq!(format_number(-0.001, Some(2)), "0.00");
        assert_eq!(format_number(0.5041, None), "0.5041");
        assert_eq!(format_number(1.0 / 3.0, None), "0.333333");
        assert_eq!(format_number(2.5e-9, None), "2.5000e−9");
        assert_eq!(format_number(f64::INFINITY, None), "∞");
    }
}

/// Every computed table of a build, by name, with the labelled measures of the
/// experiment that produced it (closed-form checks need them).
#[derive(Clone, Debug, Default)]
pub struct Results {
    pub tables: std::collections::BTreeMap<String, Table>,
    pub measures: std::collections::BTreeMap<String, Vec<(String, crate::measure::Measure)>>,
}

impl Results {
    pub fn table(&self, name: &str) -> Result<&Table, String> {
        self.tables
            .get(name)
            .ok_or_else(|| format!("no table named `{name}`"))
    }
}
