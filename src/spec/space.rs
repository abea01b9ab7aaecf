//! Measures in R^d in the chapters' measure schema (see `measure.rs` for the syntax):
//! validation into a [`Law`], the line when every location is a number, a
//! `plane::SpaceMeasure` otherwise.
//!
//! Errors name the field: a vector whose length disagrees with the others, a `cov`
//! that is not d×d, not symmetric or not positive semi-definite, d above
//! `plane::MAX_DIM`, a product factor that is not a Gaussian mixture.

use super::measure::{
    empirical_column, empirical_source, mixture_components, Coords, RawComponent, RawMeasure,
};
use super::{Num, SpecCtx};
use crate::plane::linalg::check_covariance;
use crate::plane::{Law, SpaceComponent, SpaceMeasure, MAX_COMPONENTS, MAX_DIM};

/// Whether the measure uses any d-dimensional syntax.
pub fn is_multivariate(raw: &RawMeasure) -> bool {
    let vec = |c: &Coords| matches!(c, Coords::Vector(_));
    match raw {
        RawMeasure::Point(c) => vec(c),
        RawMeasure::Normal(n) => vec(&n.mean) || n.cov.is_some(),
        RawMeasure::Uniform(_) => false,
        RawMeasure::Mixture(cs) => cs.iter().any(|c| vec(&c.mean) || c.cov.is_some()),
        RawMeasure::Empirical(e) => e.columns.is_some(),
        RawMeasure::Product(_) => true,
    }
}

/// Validate a measure on the line or in R^d found at field `path`.
pub fn validate_law(ctx: &mut SpecCtx, raw: &RawMeasure, path: &str) -> Option<Law> {
    if !is_multivariate(raw) {
        return super::measure::validate(ctx, raw, path).map(Law::Line);
    }
    let m = validate_space(ctx, raw, path)?;
    if m.dim == 1 {
        // `[x]` on the line: the 1-D code is exact for every mixture.
        let comps = m
            .comps
            .iter()
            .map(|c| crate::measure::Component {
                weight: c.weight,
                mean: c.mean[0],
                var: c.cov[0],
            })
            .collect();
        return Some(Law::Line(crate::measure::Measure::Mixture(comps)));
    }
    Some(Law::Space(m))
}

/// The dimension of a location, checked against the one seen first.
struct Dim {
    d: Option<(usize, String)>,
}

impl Dim {
    fn see(&mut self, ctx: &mut SpecCtx, n: usize, path: &str) -> bool {
        if n == 0 {
            ctx.error(path, format!("`{path}` is an empty vector"));
            return false;
        }
        if n > MAX_DIM {
            ctx.error_hint(
                path,
                format!("`{path}` has {n} coordinates; the ceiling is d = {MAX_DIM}"),
                "Monte Carlo in R^d is supported up to 16 dimensions",
            );
            return false;
        }
        match &self.d {
            None => {
                self.d = Some((n, path.to_string()));
                true
            }
            Some((d, first)) if *d != n => {
                ctx.error(
                    path,
                    format!(
                        "dimensions disagree: `{path}` has {n} coordinates but `{first}` has {d}"
                    ),
                );
                false
            }
            Some(_) => true,
        }
    }
}

fn vector(ctx: &mut SpecCtx, c: &Coords, path: &str, dim: &mut Dim) -> Option<Vec<f64>> {
    let nums: Vec<(Num, String)> = match c {
        Coords::Scalar(n) => vec![(n.clone(), path.to_string())],
        Coords::Vector(v) => v
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), format!("{path}[{i}]")))
            .collect(),
    };
    if !dim.see(ctx, nums.len(), path) {
        return None;
    }
    let mut out = Vec::with_capacity(nums.len());
    for (n, p) in &nums {
        out.push(ctx.num_where(n, p, "a finite number", |_| true)?);
    }
    Some(out)
}

/// Σ from `cov: [[...]]` or `var: s` (s·I); the dimension must already be known.
fn covariance(
    ctx: &mut SpecCtx,
    var: &Option<Num>,
    cov: &Option<Vec<Vec<Num>>>,
    path: &str,
    d: usize,
    positive: bool,
) -> Option<Vec<f64>> {
    match (var, cov) {
        (Some(_), Some(_)) => {
            ctx.error(
                &format!("{path}.cov"),
                "give `var` (a multiple of the identity) or `cov`, not both",
            );
            None
        }
        (None, None) => {
            ctx.error(
                path,
                format!("`{path}` needs `cov` (a d×d matrix) or `var` (s times the identity)"),
            );
            None
        }
        (Some(v), None) => {
            let p = format!("{path}.var");
            let s = if positive {
                ctx.num_where(v, &p, "a positive number", |x| x > 0.0)?
            } else {
                ctx.num_where(v, &p, "zero (a point mass) or positive", |x| x >= 0.0)?
            };
            let mut m = vec![0.0; d * d];
            for k in 0..d {
                m[k * d + k] = s;
            }
            Some(m)
        }
        (None, Some(rows)) => {
            let p = format!("{path}.cov");
            if rows.len() != d || rows.iter().any(|r| r.len() != d) {
                ctx.error(
                    &p,
                    format!(
                        "`{p}` must be a {d}×{d} matrix (the mean has {d} coordinates), got {} row(s) of length {}",
                        rows.len(),
                        rows.iter().map(|r| r.len().to_string()).collect::<Vec<_>>().join("/")
                    ),
                );
                return None;
            }
            let mut m = Vec::with_capacity(d * d);
            for (i, row) in rows.iter().enumerate() {
                for (j, n) in row.iter().enumerate() {
                    m.push(ctx.num_where(
                        n,
                        &format!("{p}[{i}][{j}]"),
                        "a finite number",
                        |_| true,
                    )?);
                }
            }
            match check_covariance(&m, d) {
                Ok(s) => {
                    if positive && crate::plane::linalg::cholesky(&s, d).is_none() {
                        ctx.error(&p, format!("`{p}` of a normal must be positive definite (use a mixture component for a degenerate law)"));
                        return None;
                    }
                    Some(s)
                }
                Err(e) => {
                    ctx.error(&p, e.to_string());
                    None
                }
            }
        }
    }
}

fn validate_space(ctx: &mut SpecCtx, raw: &RawMeasure, path: &str) -> Option<SpaceMeasure> {
    let mut dim = Dim { d: None };
    match raw {
        RawMeasure::Point(c) => {
            let at = vector(ctx, c, &format!("{path}.point"), &mut dim)?;
            let d = at.len();
            Some(SpaceMeasure::mixture(
                d,
                vec![SpaceComponent {
                    weight: 1.0,
                    mean: at,
                    cov: vec![0.0; d * d],
                }],
            ))
        }
        RawMeasure::Normal(n) => {
            let p = format!("{path}.normal");
            let mean = vector(ctx, &n.mean, &format!("{p}.mean"), &mut dim)?;
            let d = mean.len();
            let cov = covariance(ctx, &n.var, &n.cov, &p, d, true)?;
            Some(SpaceMeasure::mixture(
                d,
                vec![SpaceComponent {
                    weight: 1.0,
                    mean,
                    cov,
                }],
            ))
        }
        RawMeasure::Mixture(items) => mixture(ctx, items, &format!("{path}.mixture"), &mut dim),
        RawMeasure::Product(factors) => {
            let p = format!("{path}.product");
            if factors.len() < 2 {
                ctx.error(
                    &p,
                    "a product needs at least two factors (one 1-D law per coordinate)",
                );
                return None;
            }
            if !dim.see(ctx, factors.len(), &p) {
                return None;
            }
            let mut laws = Vec::new();
            for (i, f) in factors.iter().enumerate() {
                let q = format!("{p}[{i}]");
                if is_multivariate(f) {
                    ctx.error(&q, "each factor of a product is a law on the real line");
                    return None;
                }
                laws.push(super::measure::validate(ctx, f, &q)?);
            }
            let m = SpaceMeasure::product(&laws, MAX_COMPONENTS);
            if m.is_none() {
                ctx.error(
                    &p,
                    format!("every factor of a product must be a Gaussian mixture (point, normal, mixture, empirical), and the product at most {MAX_COMPONENTS} components"),
                );
            }
            m
        }
        RawMeasure::Uniform(_) => {
            ctx.error(&format!("{path}.uniform"), "`uniform` is a law on the real line; in R^d use a `product` of 1-D laws or a mixture");
            None
        }
        RawMeasure::Empirical(e) => {
            let p = format!("{path}.empirical");
            let Some(cols) = &e.columns else {
                ctx.error(
                    &format!("{p}.columns"),
                    "an empirical measure in R^d needs `columns: [x, y, ...]`",
                );
                return None;
            };
            if e.column.is_some() {
                ctx.error(
                    &format!("{p}.column"),
                    "give `column` (on the line) or `columns` (in R^d), not both",
                );
                return None;
            }
            if !dim.see(ctx, cols.len(), &format!("{p}.columns")) {
                return None;
            }
            let (bandwidth, file) = empirical_source(ctx, e, &p)?;
            let mut columns = Vec::new();
            for c in cols {
                columns.push(empirical_column(ctx, &file, e, &p, c, "columns")?);
            }
            let n = columns[0].len();
            if n > MAX_COMPONENTS {
                ctx.error(&format!("{p}.path"), format!("an empirical measure in R^d holds at most {MAX_COMPONENTS} points, this one {n}"));
                return None;
            }
            let d = cols.len();
            let mut cov = vec![0.0; d * d];
            for k in 0..d {
                cov[k * d + k] = bandwidth * bandwidth;
            }
            let comps = (0..n)
                .map(|i| SpaceComponent {
                    weight: 1.0 / n as f64,
                    mean: columns.iter().map(|c| c[i]).collect(),
                    cov: cov.clone(),
                })
                .collect();
            Some(SpaceMeasure::mixture(d, comps))
        }
    }
}

fn mixture(
    ctx: &mut SpecCtx,
    items: &[RawComponent],
    p: &str,
    dim: &mut Dim,
) -> Option<SpaceMeasure> {
    if items.len() > MAX_COMPONENTS {
        ctx.error(
            p,
            format!("a mixture in R^d has at most {MAX_COMPONENTS} components"),
        );
        return None;
    }
    let comps: Vec<SpaceComponent> = mixture_components(ctx, items, p, |ctx, c, q| {
        let mean = vector(ctx, &c.mean, &format!("{q}.mean"), dim)?;
        let cov = covariance(ctx, &c.var, &c.cov, q, mean.len(), false)?;
        Some((mean, cov))
    })?
    .into_iter()
    .map(|(weight, (mean, cov))| SpaceComponent { weight, mean, cov })
    .collect();
    let d = comps[0].mean.len();
    Some(SpaceMeasure::mixture(d, comps))
}
