//! `diffrepro complexity`: ad-hoc questions about one measure, outside any chapter.
//!
//! For each requested SNR r it prints t = t(r), ess sup L_r, s_r(u), h(δ, r), m*(r),
//! δ*(r) and ζ*_M at t(r), exact or by Monte Carlo, through `localize::kernel`, the
//! function the `complexity` and `plane` experiments call (one random stream per r:
//! the k-th `--r` draws on the stream of an experiment's k-th grid point of its first
//! measure, `rng::Purpose::Localization`, so the same seed gives the numbers a chapter
//! would). The measure may live on the line or in R^d
//! (`mean: [1, 1]`, `cov: [[...]]`): exact values exist on the line, in the plane and
//! for single Gaussians; Monte Carlo everywhere up to d = 16. It is a leaf of the pipeline: it
//! reads flags, validates them with the chapters' own rules and messages, and hands
//! a table or JSON to stdout.
//!
//! The measure is the chapters' YAML schema, checked by `spec::space::validate_law`
//! on a `SpecCtx` whose source is the flag's text named `--measure`, so diagnostics
//! give the line and column in that text (`--measure:1:12`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use rayon::prelude::*;
use serde::{Deserialize, Serialize, Serializer};

use super::EXIT_INPUT;
use crate::diagnostic::{Diagnostics, Source};
use crate::experiment::complexity::localization_stream;
use crate::experiment::MAX_SAMPLES;
use crate::localize::kernel::{self, Levels, McSettings, Want};
use crate::localize::{self, Estimate};
use crate::plane::Law;
use crate::rng::{Purpose, StreamId};
use crate::spec::measure::RawMeasure;
use crate::spec::{linspace, Num, SpecCtx, MAX_GRID};

/// Levels used when the flags give none.
const DEFAULT_DELTAS: [f64; 2] = [0.0, 0.5];
const DEFAULT_US: [f64; 2] = [0.5, 1.0];
const DEFAULT_MS: [f64; 5] = [1.0, 2.0, 3.0, 4.0, 5.0];
/// δ grid for Monte Carlo m*, δ* and ζ*_M, as the `complexity` experiment's default.
const DEFAULT_DELTA_GRID: usize = 501;
/// Monte Carlo samples of Y_r per r when `--samples` is not given.
const DEFAULT_SAMPLES: usize = 100_000;
/// The display name of the measure's "file" in diagnostics.
const MEASURE_FILE: &str = "--measure";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Adaptive quadrature, accurate to about 1e-9.
    Exact,
    /// Sample L_r(Y_r), as the paper did; values carry standard errors.
    Mc,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Numbers may be expressions, as in chapters: --r \"1/sqrt(2)\", --m inf.
Non-finite values are written in JSON as the strings \"inf\", \"-inf\" and \"nan\".
Example: diffrepro complexity --measure '{normal: {mean: 0, var: 2}}' --r 0.5 --r 2 --json")]
pub struct Args {
    /// The measure, in the chapters' YAML schema, e.g. '{mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}'.
    #[arg(long, value_name = "YAML")]
    pub measure: String,
    /// Signal-to-noise ratio r > 0; repeat for several.
    #[arg(
        long = "r",
        value_name = "R",
        required = true,
        allow_hyphen_values = true
    )]
    pub r: Vec<String>,
    /// δ ∈ [0, 1] for the integrated tail h(δ, r); repeat for several [default: 0, 0.5].
    #[arg(long = "delta", value_name = "D", allow_hyphen_values = true)]
    pub delta: Vec<String>,
    /// Level u ≥ 0 for the survival function s_r(u); repeat for several [default: 0.5, 1].
    #[arg(long = "u", value_name = "U", allow_hyphen_values = true)]
    pub u: Vec<String>,
    /// Perturbation class M > 0 (or inf) for ζ*_M; repeat for several [default: 1..5].
    #[arg(long = "m", value_name = "M", allow_hyphen_values = true)]
    pub m: Vec<String>,
    /// Exact quadrature, or Monte Carlo as in the paper.
    #[arg(long, value_enum, default_value = "exact")]
    pub method: Method,
    /// Monte Carlo samples of Y_r per r (with --method mc) [default: 100000].
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
    /// Monte Carlo seed (with --method mc) [default: 0, as experiments].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Points of the δ grid for Monte Carlo m*, δ* and ζ*_M (with --method mc) [default: 501].
    #[arg(long, value_name = "N")]
    pub delta_grid: Option<usize>,
    /// Print JSON: {measure, method, samples, seed, delta_grid, results: [{r, t, sup_l, m_star, delta_star, survival, h, zeta}]}.
    #[arg(long)]
    pub json: bool,
}

/// A validated request, ready to compute.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The measure of `--measure`, on the line or in R^d.
    pub measure: Law,
    /// The SNRs r > 0 of `--r`, in the order given.
    pub rs: Vec<f64>,
    /// The δ ∈ [0, 1] of `--delta` at which h(δ, r) is given.
    pub deltas: Vec<f64>,
    /// The levels u ≥ 0 of `--u` at which s_r(u) is given.
    pub us: Vec<f64>,
    /// The classes M > 0 (or ∞) of `--m` at which ζ*_M is given.
    pub ms: Vec<f64>,
    /// None for the exact method.
    pub monte_carlo: Option<McOptions>,
}

/// The Monte Carlo settings of `--method mc`.
#[derive(Clone, Debug, PartialEq)]
pub struct McOptions {
    /// Draws of Y_r per r (`--samples`).
    pub samples: usize,
    /// The seed of the random streams (`--seed`).
    pub seed: u64,
    /// The δ grid on which m*, δ* and ζ*_M are searched (`--delta-grid` points).
    pub delta_grid: Vec<f64>,
}

/// A number for output: JSON has no infinities, so non-finite values become strings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Number(pub f64);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() {
            s.serialize_f64(v)
        } else if v.is_nan() {
            s.serialize_str("nan")
        } else if v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }
}

/// One value, with its Monte Carlo standard error when there is one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Value {
    /// The exact value or the Monte Carlo estimate.
    pub value: Number,
    /// The estimate's standard error (Monte Carlo only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub se: Option<Number>,
}

impl Value {
    fn exact(v: f64) -> Self {
        Value {
            value: Number(v),
            se: None,
        }
    }
    fn estimate(e: Estimate) -> Self {
        Value {
            value: Number(e.value),
            se: Some(Number(e.se)),
        }
    }
}

/// The survival function s_r(u) = P(L_r(Y_r) > u) at one level.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SurvivalAt {
    /// The level u.
    pub u: Number,
    /// s_r(u).
    #[serde(flatten)]
    pub value: Value,
}

/// The integrated tail h(δ, r) at one δ.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TailAt {
    /// δ ∈ [0, 1].
    pub delta: Number,
    /// h(δ, r).
    #[serde(flatten)]
    pub value: Value,
}

/// ζ*_M at one perturbation class M.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZetaAt {
    /// M > 0, or ∞.
    pub m: Number,
    /// ζ*_M at t(r).
    pub value: Number,
}

/// Everything asked about one r.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PointReport {
    /// The SNR r.
    pub r: Number,
    /// The time t(r) = ½ ln(1 + 1/r²) of that SNR.
    pub t: Number,
    /// ess sup L_r (exact) or the largest sampled L_r (Monte Carlo).
    pub sup_l: Number,
    /// The complexity m*(r).
    pub m_star: Number,
    /// δ*(r): the largest δ at which h(δ, r)/δ attains m*(r).
    pub delta_star: Number,
    /// s_r(u) at each requested u, in the order given.
    pub survival: Vec<SurvivalAt>,
    /// h(δ, r) at each requested δ, in the order given.
    pub h: Vec<TailAt>,
    /// ζ*_M at each requested M, in the order given.
    pub zeta: Vec<ZetaAt>,
    /// Half-width of the 95% Dvoretzky–Kiefer–Wolfowitz band of the Monte Carlo s_r.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dkw: Option<Number>,
}

/// The whole answer: what `--json` prints, and what the table is made from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The `--measure` text as given (trimmed).
    pub measure: String,
    /// The dimension d of the measure's space.
    pub dimension: usize,
    /// `exact` or `mc`.
    pub method: &'static str,
    /// How the exact values are computed and to what accuracy (exact method only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quadrature: Option<&'static str>,
    /// Draws of Y_r per r (Monte Carlo only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    /// The seed of the random streams (Monte Carlo only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Points of the δ grid searched for m*, δ* and ζ*_M (Monte Carlo only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta_grid: Option<usize>,
    /// One entry per `--r`, in the order given.
    pub results: Vec<PointReport>,
}

pub fn run(args: Args) -> ExitCode {
    let req = match validate(&args, Path::new(".")) {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    let results = match compute(&req) {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("error: {msg}");
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    let report = Report {
        measure: args.measure.trim().to_string(),
        dimension: req.measure.dim(),
        quadrature: match (args.method, &req.measure) {
            (Method::Mc, _) => None,
            (Method::Exact, Law::Line(_)) => Some("adaptive quadrature, ~1e-9"),
            (Method::Exact, Law::Space(m)) if m.is_gaussian() => {
                Some("closed form (L_r is constant for a Gaussian)")
            }
            (Method::Exact, Law::Space(_)) => {
                Some("nested adaptive quadrature in the plane, ~1e-8")
            }
        },
        method: match args.method {
            Method::Exact => "exact",
            Method::Mc => "mc",
        },
        samples: req.monte_carlo.as_ref().map(|m| m.samples),
        seed: req.monte_carlo.as_ref().map(|m| m.seed),
        delta_grid: req.monte_carlo.as_ref().map(|m| m.delta_grid.len()),
        results,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report is plain data")
        );
    } else {
        print!("{}", text(&report));
    }
    ExitCode::SUCCESS
}

/// Check every flag; the error is the whole message to print.
pub fn validate(args: &Args, project_root: &Path) -> Result<Request, String> {
    let measure = parse_measure(&args.measure, project_root).map_err(|d| {
        // Each diagnostic as rustc shows it, without the build's "nothing was written".
        d.0.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let mut errors = Vec::new();
    if let (Method::Exact, Law::Space(m)) = (args.method, &measure) {
        if m.dim != 2 && !m.is_gaussian() {
            errors.push(format!(
                "error: --method exact covers measures on the line, in the plane (d = 2) and single Gaussians; this mixture is in d = {}: use --method mc",
                m.dim
            ));
        }
    }
    let rs = numbers(
        &args.r,
        "--r",
        &[],
        "positive",
        |v| v > 0.0,
        false,
        &mut errors,
    );
    for &r in &rs {
        if localize::time_of_snr(r) <= 0.0 {
            errors.push(format!(
                "error: --r {r} is too large: t(r) = ½ ln(1 + 1/r²) rounds to 0"
            ));
        }
    }
    let deltas = numbers(
        &args.delta,
        "--delta",
        &DEFAULT_DELTAS,
        "in [0, 1]",
        |v| (0.0..=1.0).contains(&v),
        false,
        &mut errors,
    );
    let us = numbers(
        &args.u,
        "--u",
        &DEFAULT_US,
        "zero or positive",
        |v| v >= 0.0,
        false,
        &mut errors,
    );
    let ms = numbers(
        &args.m,
        "--m",
        &DEFAULT_MS,
        "positive (or inf)",
        |v| v > 0.0,
        true,
        &mut errors,
    );
    let monte_carlo = match args.method {
        Method::Exact => {
            for (flag, given) in [
                ("--samples", args.samples.is_some()),
                ("--seed", args.seed.is_some()),
                ("--delta-grid", args.delta_grid.is_some()),
            ] {
                if given {
                    errors.push(format!(
                        "error: {flag} needs --method mc (the exact method draws no samples)"
                    ));
                }
            }
            None
        }
        Method::Mc => {
            let samples = args.samples.unwrap_or(DEFAULT_SAMPLES);
            if !(2..=MAX_SAMPLES).contains(&samples) {
                errors.push(format!(
                    "error: --samples must be between 2 and {MAX_SAMPLES}, got {samples}"
                ));
            }
            let n = args.delta_grid.unwrap_or(DEFAULT_DELTA_GRID);
            if !(2..=MAX_GRID + 1).contains(&n) {
                errors.push(format!(
                    "error: --delta-grid must be between 2 and {} points, got {n}",
                    MAX_GRID + 1
                ));
            }
            Some(McOptions {
                samples,
                seed: args.seed.unwrap_or(0),
                delta_grid: linspace(0.0, 1.0, n.max(2), false),
            })
        }
    };
    if errors.is_empty() {
        Ok(Request {
            measure,
            rs,
            deltas,
            us,
            ms,
            monte_carlo,
        })
    } else {
        Err(errors.join("\n"))
    }
}

/// Evaluate the values of a repeated flag (expressions allowed), or the defaults
/// when none were given; every value must satisfy `ok` and be finite unless
/// `allow_inf` (M = inf asks for ζ*_∞).
fn numbers(
    given: &[String],
    flag: &str,
    default: &[f64],
    what: &str,
    ok: impl Fn(f64) -> bool,
    allow_inf: bool,
    errors: &mut Vec<String>,
) -> Vec<f64> {
    if given.is_empty() {
        return default.to_vec();
    }
    if given.len() > MAX_GRID {
        errors.push(format!(
            "error: {flag} is given {} times; the ceiling is {MAX_GRID}",
            given.len()
        ));
        return Vec::new();
    }
    let mut out = Vec::with_capacity(given.len());
    for s in given {
        match Num::Expr(s.clone()).value() {
            Ok(v) if (v.is_finite() || (allow_inf && v == f64::INFINITY)) && ok(v) => out.push(v),
            Ok(v) => errors.push(format!("error: {flag} must be {what}, got {v}")),
            Err(e) => errors.push(format!("error: {flag}: {e}")),
        }
    }
    out
}

/// The chapters' measure schema on a flag's text: the text is parsed as YAML on its
/// own (a [`Source`] named `--measure`, so positions are the flag's lines and columns)
/// and placed under a `measure:` key, so `spec::space::validate_law` applies the
/// chapters' rules and messages with the field paths a chapter would show.
pub fn parse_measure(yaml: &str, project_root: &Path) -> Result<Law, Diagnostics> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapper {
        measure: RawMeasure,
    }
    let name = Path::new(MEASURE_FILE);
    let parsed = crate::yaml::parse(yaml);
    // The flag's tree under a `measure:` key that has no position of its own.
    let tree = parsed.as_ref().map(|node| {
        let key = crate::yaml::Node::string("measure", Default::default());
        let map = crate::yaml::Value::Map(vec![(key, node.clone())]);
        crate::yaml::Node::new(map, node.pos)
    });
    let mut ctx = SpecCtx::new(
        Source::new(name, yaml),
        1,
        "measure",
        tree.as_ref().map_err(|e| *e),
        project_root,
    );
    let measure = ctx
        .parse_or_report::<Wrapper>()
        .and_then(|w| crate::spec::space::validate_law(&mut ctx, &w.measure, "measure"));
    match measure {
        Some(m) if ctx.diags.is_empty() => Ok(m),
        _ if ctx.diags.is_empty() => Err(Diagnostics::from(crate::diagnostic::Diagnostic::new(
            name,
            "the measure is not valid",
        ))),
        _ => Err(ctx.diags),
    }
}

/// Compute every requested value, in parallel over r (each r has its own random
/// stream, so the numbers do not depend on the thread count). The exact method can
/// fail (an integral that misses its accuracy); the message names r.
pub fn compute(req: &Request) -> Result<Vec<PointReport>, String> {
    req.rs
        .par_iter()
        .enumerate()
        .map(|(k, &r)| point(req, r, localization_stream(0, k)))
        .collect()
}

fn point(req: &Request, r: f64, stream: Purpose) -> Result<PointReport, String> {
    let t = localize::time_of_snr(r);
    let levels = Levels {
        us: req.us.clone(),
        deltas: req.deltas.clone(),
        ms: req.ms.clone(),
    };
    let want = Want {
        summary: true,
        survival: true,
        tail: true,
        zeta: true,
    };
    let base = |sup_l: f64, m_star: f64, delta_star: f64| PointReport {
        r: Number(r),
        t: Number(t),
        sup_l: Number(sup_l),
        m_star: Number(m_star),
        delta_star: Number(delta_star),
        survival: Vec::new(),
        h: Vec::new(),
        zeta: Vec::new(),
        dkw: None,
    };
    let survival = |vals: Vec<Value>| on_grid(&req.us, vals, |u, value| SurvivalAt { u, value });
    let tail =
        |vals: Vec<Value>| on_grid(&req.deltas, vals, |delta, value| TailAt { delta, value });
    let zeta = |vals: &[f64]| {
        on_grid(&req.ms, vals, |m, &v| ZetaAt {
            m,
            value: Number(v),
        })
    };
    Ok(match &req.monte_carlo {
        None => {
            let ex = kernel::exact(&req.measure, MEASURE_FILE, r, t, &levels, want)?;
            let mut p = base(ex.sup_l, ex.complexity.m_star, ex.complexity.delta_star);
            p.survival = survival(ex.survival.iter().map(|&v| Value::exact(v)).collect());
            p.h = tail(ex.tail.iter().map(|&v| Value::exact(v)).collect());
            p.zeta = zeta(&ex.zeta);
            p
        }
        Some(mc) => {
            let settings = McSettings {
                samples: mc.samples,
                stream: StreamId::new(mc.seed, stream),
                delta_grid: mc.delta_grid.clone(),
                formula: kernel::Formula::Localization,
            };
            let v = kernel::monte_carlo(&req.measure, r, t, &levels, want, &settings);
            let mut p = base(v.sup_l, v.complexity.m_star, v.complexity.delta_star);
            p.survival = survival(v.survival.iter().map(|&e| Value::estimate(e)).collect());
            p.h = tail(v.tail.iter().map(|&e| Value::estimate(e)).collect());
            p.zeta = zeta(&v.zeta);
            p.dkw = Some(Number(v.dkw));
            p
        }
    })
}

/// The points of a grid paired with their values, each pair made into a `T`.
fn on_grid<V, T>(
    grid: &[f64],
    values: impl IntoIterator<Item = V>,
    make: impl Fn(Number, V) -> T,
) -> Vec<T> {
    grid.iter()
        .zip(values)
        .map(|(&x, v)| make(Number(x), v))
        .collect()
}

/// Six significant digits, plain where that reads well, scientific otherwise.
fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let a = v.abs();
    if (1e-4..1e6).contains(&a) {
        let digits = (5 - a.log10().floor() as i32).clamp(0, 10) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{v:.5e}")
    }
}

fn fmt_value(v: &Value) -> String {
    match v.se {
        Some(se) => format!("{} ± {}", fmt_num(v.value.0), fmt_num(se.0)),
        None => fmt_num(v.value.0),
    }
}

/// Rows of cells as right-aligned columns.
fn columns(out: &mut String, rows: &[Vec<String>]) {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|j| {
            rows.iter()
                .filter_map(|r| r.get(j))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        let _ = writeln!(out, "  {}", cells.join("   "));
    }
}

/// The human-readable report: one table per quantity, one row per r.
pub fn text(rep: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "measure: {} (in R^{})", rep.measure, rep.dimension);
    match (rep.samples, rep.seed, rep.delta_grid) {
        (Some(n), Some(seed), Some(g)) => {
            let _ = writeln!(
                out,
                "method: Monte Carlo, {n} samples of Y_r per r, seed {seed}; ± one standard error; \
                 m*, δ*, ζ*_M on a δ grid of {g} points; sup_l is the largest sampled L_r"
            );
        }
        _ => {
            let how = rep.quadrature.unwrap_or("adaptive quadrature");
            let _ = writeln!(out, "method: exact ({how})");
        }
    }
    let lead = |p: &PointReport| vec![fmt_num(p.r.0), fmt_num(p.t.0)];
    out.push('\n');
    let mut head = vec!["r".to_string(), "t".into(), "sup_l".into()];
    head.extend(["m_star".to_string(), "delta_star".into()]);
    if rep.samples.is_some() {
        head.push("dkw".into());
    }
    let mut rows = vec![head];
    for p in &rep.results {
        let mut row = lead(p);
        row.extend([p.sup_l, p.m_star, p.delta_star].map(|v| fmt_num(v.0)));
        if let Some(d) = p.dkw {
            row.push(fmt_num(d.0));
        }
        rows.push(row);
    }
    columns(&mut out, &rows);
    let Some(first) = rep.results.first() else {
        return out;
    };
    let mut section =
        |title: &str, head: Vec<String>, cells: &dyn Fn(&PointReport) -> Vec<String>| {
            if head.is_empty() {
                return;
            }
            let _ = writeln!(out, "\n{title}");
            let mut h = vec!["r".to_string(), "t".into()];
            h.extend(head);
            let mut rows = vec![h];
            for p in &rep.results {
                let mut row = lead(p);
                row.extend(cells(p));
                rows.push(row);
            }
            columns(&mut out, &rows);
        };
    type Cells = fn(&PointReport) -> Vec<String>;
    let sections: [(&str, Cells, Cells); 3] = [
        (
            "survival s_r(u)",
            |p| {
                p.survival
                    .iter()
                    .map(|s| format!("u = {}", fmt_num(s.u.0)))
                    .collect()
            },
            |p| p.survival.iter().map(|s| fmt_value(&s.value)).collect(),
        ),
        (
            "integrated tail h(δ, r)",
            |p| {
                p.h.iter()
                    .map(|s| format!("δ = {}", fmt_num(s.delta.0)))
                    .collect()
            },
            |p| p.h.iter().map(|s| fmt_value(&s.value)).collect(),
        ),
        (
            "effective curvature ζ*_M(t) at t = t(r)",
            |p| {
                p.zeta
                    .iter()
                    .map(|s| format!("M = {}", fmt_num(s.m.0)))
                    .collect()
            },
            |p| p.zeta.iter().map(|s| fmt_num(s.value.0)).collect(),
        ),
    ];
    // The column heads are read off the first point.
    for (title, heads, cells) in sections {
        section(title, heads(first), &cells);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Measure;

    #[test]
    fn measure_errors_point_into_the_flag_text() {
        let e = parse_measure("{normal: {mean: 0, var: -1}}", Path::new(".")).unwrap_err();
        let d = &e.0[0];
        assert_eq!(d.file, std::path::PathBuf::from("--measure"));
        assert_eq!(d.field.as_deref(), Some("measure.normal.var"));
        assert!(d.message.contains("positive"), "{}", d.message);
        assert_eq!(d.line, 1);
        // The caret sits under `var` in the flag's own text.
        assert_eq!(
            d.source_line.as_deref(),
            Some("{normal: {mean: 0, var: -1}}")
        );
        assert_eq!(
            &"{normal: {mean: 0, var: -1}}"[d.column - 1..d.column + 2],
            "var"
        );

        let e = parse_measure(
            "mixture:\n  - {weight: 0.5, mean: 0, var: 0}\n  - {weight: 0.2, mean: 1, var: 0}",
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.0[0].message.contains("sum to 0.7"), "{}", e.0[0].message);

        // A syntax error is placed in the flag's text too (at its end when the parser
        // ran out of input).
        let e = parse_measure("{normal: {mean: 0, var: 2}", Path::new(".")).unwrap_err();
        assert_eq!(e.0[0].location(), "--measure:1:27", "{e}");
        assert!(e.0[0].message.starts_with("bad measure: "), "{e}");
        let e = parse_measure("{normal: {mean: 0,\n var: x}}", Path::new(".")).unwrap_err();
        assert_eq!(e.0[0].location(), "--measure:2:2", "{e}");
        assert_eq!(e.0[0].source_line.as_deref(), Some(" var: x}}"));

        let e = parse_measure("{normall: {mean: 0, var: 1}}", Path::new(".")).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("bad measure"), "{text}");
        assert!(text.contains("--measure"), "{text}");
    }

    #[test]
    fn measures_parse_in_flow_and_block_style() {
        let m = parse_measure("{uniform: {low: -1, high: \"sqrt(4)\"}}", Path::new(".")).unwrap();
        assert_eq!(
            m,
            Law::Line(Measure::Uniform {
                low: -1.0,
                high: 2.0
            })
        );
        let m = parse_measure("normal:\n  mean: 1\n  var: 2", Path::new(".")).unwrap();
        assert_eq!(
            m,
            Law::Line(Measure::Normal {
                mean: 1.0,
                var: 2.0
            })
        );
    }

    #[test]
    fn numbers_format_compactly() {
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1.0 / 3.0), "0.333333");
        assert_eq!(fmt_num(1234.5678), "1234.57");
        assert_eq!(fmt_num(1.5e-7), "1.50000e-7");
        assert_eq!(fmt_num(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn non_finite_numbers_serialize_as_strings() {
        let j =
            serde_json::to_string(&[Number(1.5), Number(f64::INFINITY), Number(f64::NAN)]).unwrap();
        assert_eq!(j, r#"[1.5,"inf","nan"]"#);
    }
}
