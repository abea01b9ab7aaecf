//! The measure schema, the same in chapters and on the command line:
//!
//! ```yaml
//! point: 0
//! normal: {mean: 0, var: 1}
//! uniform: {low: -1, high: 1}
//! mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]
//! empirical: {path: data/faithful.csv, column: eruptions, bandwidth: 0}
//! ```
//!
//! `var: 0` in a mixture is a point mass; weights must be positive and sum to 1
//! within 1e-9. Validation hands a checked [`Measure`] to the runners.
//!
//! The same keys describe measures in R^d (`space.rs` validates them into a
//! `plane::SpaceMeasure`): vectors where the line has numbers, `cov` where it has
//! `var` (or `var: s` for s times the identity), `columns` for an empirical cloud, and
//! `product` for a product of 1-D laws:
//!
//! ```yaml
//! point: [0, 1]
//! normal: {mean: [0, 0], cov: [[2, 0.5], [0.5, 1]]}
//! mixture: [{weight: 0.5, mean: [1, 1], var: 0}, {weight: 0.5, mean: [-1, -1], cov: [[1, 0], [0, 2]]}]
//! empirical: {path: data/points.csv, columns: [x, y], bandwidth: 0.1}
//! product: [{mixture: [...]}, {normal: {mean: 0, var: 1}}]
//! ```

use std::path::{Component as PathComponent, Path, PathBuf};

use serde::Deserialize;

use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::{Num, SpecCtx};
use crate::measure::{Component, Measure};

/// Tolerance on the sum of mixture weights.
pub const WEIGHT_SUM_TOL: f64 = 1e-9;
/// Largest data file an empirical measure may read.
pub const MAX_DATA_BYTES: u64 = 64 << 20;
/// Most points an empirical measure may hold.
pub const MAX_POINTS: usize = 1_000_000;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "MeasureFields")]
pub enum RawMeasure {
    Point(Coords),
    Normal(RawNormal),
    Uniform(RawUniform),
    Mixture(Vec<RawComponent>),
    Empirical(RawEmpirical),
    /// A product of 1-D laws, one per coordinate (R^d only).
    Product(Vec<RawMeasure>),
}

/// A location: a number on the line, or a vector `[x1, ..., xd]` in R^d.
#[derive(Clone, Debug, PartialEq)]
pub enum Coords {
    Scalar(Num),
    Vector(Vec<Num>),
}

impl<'de> Deserialize<'de> for Coords {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Coords, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Coords;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, an expression such as \"1/sqrt(2)\", or a list of them")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Coords, E> {
                Ok(Coords::Scalar(Num::Value(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Coords, E> {
                Ok(Coords::Scalar(Num::Value(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Coords, E> {
                Ok(Coords::Scalar(Num::Value(v as f64)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Coords, E> {
                Ok(Coords::Scalar(Num::Expr(v.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Coords, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = seq.next_element::<Num>()? {
                    out.push(n);
                }
                Ok(Coords::Vector(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A measure is a map with exactly one key naming its family (serde_yaml 0.9 reads
/// enums from YAML tags, so the one-key map is spelled out here).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeasureFields {
    point: Option<Coords>,
    normal: Option<RawNormal>,
    uniform: Option<RawUniform>,
    mixture: Option<Vec<RawComponent>>,
    empirical: Option<RawEmpirical>,
    product: Option<Vec<RawMeasure>>,
}

impl TryFrom<MeasureFields> for RawMeasure {
    type Error = String;
    fn try_from(f: MeasureFields) -> Result<Self, String> {
        let mut found = Vec::new();
        if let Some(v) = f.point {
            found.push(RawMeasure::Point(v));
        }
        if let Some(v) = f.normal {
            found.push(RawMeasure::Normal(v));
        }
        if let Some(v) = f.uniform {
            found.push(RawMeasure::Uniform(v));
        }
        if let Some(v) = f.mixture {
            found.push(RawMeasure::Mixture(v));
        }
        if let Some(v) = f.empirical {
            found.push(RawMeasure::Empirical(v));
        }
        if let Some(v) = f.product {
            found.push(RawMeasure::Product(v));
        }
        match found.len() {
            1 => Ok(found.pop().expect("one element")),
            0 => Err(
                "a measure needs one of `point`, `normal`, `uniform`, `mixture`, `empirical`"
                    .into(),
            ),
            _ => Err(
                "a measure has exactly one of `point`, `normal`, `uniform`, `mixture`, `empirical`"
                    .into(),
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNormal {
    pub mean: Coords,
    pub var: Option<Num>,
    pub cov: Option<Vec<Vec<Num>>>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUniform {
    pub low: Num,
    pub high: Num,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawComponent {
    pub weight: Num,
    pub mean: Coords,
    pub var: Option<Num>,
    pub cov: Option<Vec<Vec<Num>>>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmpirical {
    pub path: String,
    pub column: Option<String>,
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub bandwidth: Option<Num>,
}

/// A measure with the label it carries in tables and legends.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLabelled {
    pub label: String,
    pub measure: RawMeasure,
}

/// Validate a measure found at field `path` of the block in `ctx`. Data files named by
/// empirical measures are read here (and must stay inside the project).
pub fn validate(ctx: &mut SpecCtx, raw: &RawMeasure, path: &str) -> Option<Measure> {
    let positive = |v: f64| v > 0.0;
    let nonneg = |v: f64| v >= 0.0;
    let any = |_: f64| true;
    match raw {
        RawMeasure::Point(at) => {
            let at = scalar(ctx, at, &format!("{path}.point"))?;
            let at = ctx.num_where(at, &format!("{path}.point"), "a finite number", any)?;
            Some(Measure::Point { at })
        }
        RawMeasure::Normal(n) => {
            let p = format!("{path}.normal");
            let mean = scalar(ctx, &n.mean, &format!("{p}.mean"))
                .and_then(|m| ctx.num_where(m, &format!("{p}.mean"), "a finite number", any));
            let var = variance(ctx, &n.var, &n.cov, &p)
                .and_then(|v| ctx.num_where(v, &format!("{p}.var"), "a positive number", positive));
            Some(Measure::Normal {
                mean: mean?,
                var: var?,
            })
        }
        RawMeasure::Uniform(u) => {
            let p = format!("{path}.uniform");
            let low = ctx.num_where(&u.low, &format!("{p}.low"), "a finite number", any)?;
            let high = ctx.num_where(&u.high, &format!("{p}.high"), "a finite number", any)?;
            if high <= low {
                ctx.error(
                    &format!("{p}.high"),
                    format!("`high` ({high}) must be greater than `low` ({low})"),
                );
                return None;
            }
            Some(Measure::Uniform { low, high })
        }
        RawMeasure::Mixture(items) => {
            let p = format!("{path}.mixture");
            let comps = mixture_components(ctx, items, &p, |ctx, c, q| {
                let m = scalar(ctx, &c.mean, &format!("{q}.mean"))
                    .and_then(|m| ctx.num_where(m, &format!("{q}.mean"), "a finite number", any));
                let v = variance(ctx, &c.var, &c.cov, q).and_then(|v| {
                    ctx.num_where(
                        v,
                        &format!("{q}.var"),
                        "zero (a point mass) or positive",
                        nonneg,
                    )
                });
                m.zip(v)
            })?;
            let comps = comps
                .into_iter()
                .map(|(weight, (mean, var))| Component { weight, mean, var })
                .collect();
            Some(Measure::Mixture(comps))
        }
        RawMeasure::Product(_) => {
            ctx.error_hint(
                &format!("{path}.product"),
                "a product of laws lives in R^d; this experiment works on the real line",
                LINE_ONLY_HINT,
            );
            None
        }
        RawMeasure::Empirical(e) => {
            let p = format!("{path}.empirical");
            let column = match (&e.column, &e.columns) {
                (Some(c), None) => c,
                (_, Some(_)) => {
                    ctx.error_hint(
                        &format!("{p}.columns"),
                        "`columns` makes a cloud in R^d; this experiment works on the real line: name one `column`",
                        LINE_ONLY_HINT,
                    );
                    return None;
                }
                (None, None) => {
                    ctx.error(
                        &p,
                        "an empirical measure needs `column` (the name of a CSV column)",
                    );
                    return None;
                }
            };
            let (bandwidth, file) = empirical_source(ctx, e, &p)?;
            let points = empirical_column(ctx, &file, e, &p, column, "column")?;
            Some(Measure::Empirical { points, bandwidth })
        }
    }
}

/// Where d-dimensional measures are accepted, for the hint of a line-only field.
pub const LINE_ONLY_HINT: &str =
    "d-dimensional measures are accepted by `kind: plane` experiments and by `diffrepro complexity`";

/// The number of a location that must be on the line.
/// The components of the mixture at `p` (the i-th at `p[i]`): the weight read here, the
/// rest by `rest`; every component is checked before giving up, then the weights must
/// sum to 1. Shared by mixtures on the line and in R^d.
pub(super) fn mixture_components<C>(
    ctx: &mut SpecCtx,
    items: &[RawComponent],
    p: &str,
    mut rest: impl FnMut(&mut SpecCtx, &RawComponent, &str) -> Option<C>,
) -> Option<Vec<(f64, C)>> {
    if items.is_empty() {
        ctx.error(p, "a mixture needs at least one component");
        return None;
    }
    let mut comps = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, c) in items.iter().enumerate() {
        let q = format!("{p}[{i}]");
        let w = ctx.num_where(&c.weight, &format!("{q}.weight"), "positive", |v| v > 0.0);
        match (w, rest(ctx, c, &q)) {
            (Some(weight), Some(x)) => comps.push((weight, x)),
            _ => ok = false,
        }
    }
    if !ok {
        return None;
    }
    let sum: f64 = comps.iter().map(|c| c.0).sum();
    if (sum - 1.0).abs() > WEIGHT_SUM_TOL {
        ctx.error_hint(
            &format!("{p}[0].weight"),
            format!("mixture weights sum to {sum}, not 1 (tolerance {WEIGHT_SUM_TOL:e})"),
            "make the weights add up to exactly 1",
        );
        return None;
    }
    Some(comps)
}

/// The bandwidth (0 when not given) and the data file, confined to the project, of
/// the empirical measure at `p`.
pub(super) fn empirical_source(
    ctx: &mut SpecCtx,
    e: &RawEmpirical,
    p: &str,
) -> Option<(f64, PathBuf)> {
    let bandwidth = match &e.bandwidth {
        Some(b) => ctx.num_where(b, &format!("{p}.bandwidth"), "zero or positive", |v| {
            v >= 0.0
        })?,
        None => 0.0,
    };
    match confined_path(ctx.project_root, &e.path) {
        Ok(file) => Some((bandwidth, file)),
        Err(msg) => {
            ctx.error(&format!("{p}.path"), msg);
            None
        }
    }
}

/// Column `column` of the empirical measure's data file; a problem is reported at
/// `p.field` when it concerns the column, else at `p.path`.
pub(super) fn empirical_column(
    ctx: &mut SpecCtx,
    file: &Path,
    e: &RawEmpirical,
    p: &str,
    column: &str,
    field: &str,
) -> Option<Vec<f64>> {
    read_column(file, &e.path, column)
        .map_err(|msg| {
            let at = if msg.contains("column") {
                field
            } else {
                "path"
            };
            ctx.error(&format!("{p}.{at}"), msg);
        })
        .ok()
}

fn scalar<'a>(ctx: &mut SpecCtx, c: &'a Coords, path: &str) -> Option<&'a Num> {
    match c {
        Coords::Scalar(n) => Some(n),
        Coords::Vector(v) => {
            ctx.error_hint(
                path,
                format!(
                    "`{path}` is a vector of {} numbers; this experiment works on the real line",
                    v.len()
                ),
                LINE_ONLY_HINT,
            );
            None
        }
    }
}

/// The `var` of a law on the line (`cov` belongs to R^d).
fn variance<'a>(
    ctx: &mut SpecCtx,
    var: &'a Option<Num>,
    cov: &Option<Vec<Vec<Num>>>,
    path: &str,
) -> Option<&'a Num> {
    if cov.is_some() {
        ctx.error_hint(
            &format!("{path}.cov"),
            "`cov` is a covariance matrix in R^d; on the real line give `var`",
            LINE_ONLY_HINT,
        );
        return None;
    }
    match var {
        Some(v) => Some(v),
        None => {
            ctx.error(path, format!("`{path}` needs `var` (the variance)"));
            None
        }
    }
}

/// Resolve a relative data path inside the project, refusing absolute paths, `..`,
/// and symlinks that lead outside.
pub fn confined_path(root: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if p.is_absolute() || rel.starts_with('~') {
        return Err(format!(
            "data path `{rel}` is absolute; give a path relative to the project, such as data/file.csv"
        ));
    }
    if p.components()
        .any(|c| matches!(c, PathComponent::ParentDir))
    {
        return Err(format!(
            "data path `{rel}` uses `..`; data files must stay inside the project"
        ));
    }
    let full = root.join(p);
    let canon_root = root
        .canonicalize()
        .map_err(|e| format!("cannot resolve the project folder: {e}"))?;
    let canon = full
        .canonicalize()
        .map_err(|_| format!("data file `{rel}` does not exist"))?;
    if !canon.starts_with(&canon_root) {
        return Err(format!(
            "data path `{rel}` leads outside the project (through a symlink); copy the file into the project"
        ));
    }
    Ok(canon)
}

/// Read one numeric column of a CSV file with a header row.
pub fn read_column(file: &Path, shown: &str, column: &str) -> Result<Vec<f64>, String> {
    let meta = std::fs::metadata(file).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if meta.len() > MAX_DATA_BYTES {
        return Err(format!(
            "data file `{shown}` is {} bytes, over the limit of {MAX_DATA_BYTES}",
            meta.len()
        ));
    }
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("data file `{shown}` is not UTF-8 text (expected CSV)"))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| format!("data file `{shown}` is empty"))?;
    let names: Vec<&str> = header
        .split(',')
        .map(|h| h.trim().trim_matches('"'))
        .collect();
    let idx = names.iter().position(|n| *n == column).ok_or_else(|| {
        format!(
            "data file `{shown}` has no column `{column}`; {}",
            crate::diagnostic::suggest(column, &names)
        )
    })?;
    let mut out = Vec::new();
    for (n, line) in lines {
        let cell = line.split(',').nth(idx).map(|c| c.trim().trim_matches('"'));
        let v: f64 = cell.and_then(|c| c.parse().ok()).ok_or_else(|| {
            format!(
                "`{shown}` line {}: column `{column}` holds `{}`, not a number",
                n + 1,
                cell.unwrap_or("")
            )
        })?;
        if !v.is_finite() {
            return Err(format!("`{shown}` line {}: value {v} is not finite", n + 1));
        }
        out.push(v);
        if out.len() > MAX_POINTS {
            return Err(format!("`{shown}` has more than {MAX_POINTS} rows"));
        }
    }
    if out.is_empty() {
        return Err(format!("data file `{shown}` has a header but no rows"));
    }
    Ok(out)
}
