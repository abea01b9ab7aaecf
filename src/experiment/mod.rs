//! Stage 3, *run*: the registry of experiment kinds.
//!
//! An `experiment` block names a `kind`; [`KINDS`] maps each name to the module that
//! validates its spec and runs it. The set of kinds is closed and small, so a kind
//! is an enum variant ([`KindSpec`]) rather than a trait object (ripgrep's
//! `Printer` does the same): adding a kind is one new module plus one line in
//! [`KINDS`] and one arm in [`KindSpec::run`].
//!
//! A runner takes a validated spec and returns [`Table`]s whose columns were declared
//! up front ([`Experiment::outputs`]), so figures and checks are validated against
//! them before anything runs.

pub mod complexity;
pub mod curvature;
pub mod density;
pub mod gaussian_steps;
pub mod particles;
pub mod perturbation;
pub mod plane;
pub mod transport_map;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::diagnostic::suggest;
use crate::measure::Measure;
use crate::spec::measure::{RawLabelled, RawMeasure};
use crate::spec::BlockCtx;
use crate::table::{Table, TableSchema};

/// One registered kind.
pub struct Kind {
    pub name: &'static str,
    pub doc: &'static str,
    pub validate: fn(&mut BlockCtx) -> Option<Experiment>,
}

/// Every kind an `experiment` block may name.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "complexity",
        doc:
            "sup L_r, s_r(u), h(δ, r), m*, δ*, ζ*_M over a grid of r or t, exact and/or Monte Carlo",
        validate: complexity::validate,
    },
    Kind {
        name: "density",
        doc: "the density of Y_r with L_r(y), E[rX | Y_r = y] and the score on a y grid",
        validate: density::validate,
    },
    Kind {
        name: "particles",
        doc: "particle clouds of μ_0 and ν_0 diffused forward and denoised back with μ's score: W₂ per step, ridge snapshots, W(μ_0, ν̄_0)",
        validate: particles::validate,
    },
    Kind {
        name: "gaussian_steps",
        doc: "exact one-step and chained W₂ ratios for Gaussian laws: Thm. 1-3, Cor. 1-2 and the introduction's example",
        validate: gaussian_steps::validate,
    },
    Kind {
        name: "transport_map",
        doc: "the 1-D optimal map between μ_{t+η} and μ_t against i + η(x + score), and Tweedie's score",
        validate: transport_map::validate,
    },
    Kind {
        name: "curvature",
        doc: "L_r(y) against 1 + (log p_{Y_r})''(y), and E[(log p)''] + E[(log p)'²] = 0",
        validate: curvature::validate,
    },
    Kind {
        name: "perturbation",
        doc: "Thm. 4 and Thm. 2 on explicit perturbations ν = (id + ξ)#μ_t: exact expansion rates against 2 - 2ζ*_M, the CVaR worst case, ζ*_1 and Fisher information, m* at large r",
        validate: perturbation::validate,
    },
    Kind {
        name: "plane",
        doc: "measures in R^d: sup L_r, s_r(u), h(δ, r), m*, δ*, ζ*_M exact (plane, Gaussians) and/or Monte Carlo (d ≤ 16), with exact oracles, and maps of L_r over the plane",
        validate: plane::validate,
    },
];

pub fn kind_names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
}

/// A validated experiment, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    pub id: String,
    pub kind: &'static str,
    /// The YAML the user wrote (shown in the report beside the results).
    pub source: String,
    pub seed: u64,
    /// Tables it will produce, with their columns.
    pub outputs: Vec<TableSchema>,
    pub spec: KindSpec,
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum KindSpec {
    Complexity(complexity::Spec),
    Density(density::Spec),
    Particles(particles::Spec),
    GaussianSteps(gaussian_steps::Spec),
    TransportMap(transport_map::Spec),
    Curvature(curvature::Spec),
    Perturbation(perturbation::Spec),
    Plane(plane::Spec),
}

impl Experiment {
    /// Run the experiment. Errors are numerical failures (a runner bug or a
    /// numerically impossible request), reported with the experiment's id.
    pub fn run(&self) -> Result<Vec<Table>, String> {
        let tables = match &self.spec {
            KindSpec::Complexity(s) => complexity::run(s, self.seed, &self.outputs),
            KindSpec::Density(s) => density::run(s, &self.outputs),
            KindSpec::Particles(s) => particles::run(s, &self.outputs),
            KindSpec::GaussianSteps(s) => gaussian_steps::run(s, &self.outputs),
            KindSpec::TransportMap(s) => transport_map::run(s, &self.outputs),
            KindSpec::Curvature(s) => curvature::run(s, &self.outputs),
            KindSpec::Perturbation(s) => perturbation::run(s, self.seed, &self.outputs),
            KindSpec::Plane(s) => plane::run(s, self.seed, &self.outputs),
        }?;
        // The declared schema is a promise to figures and checks: hold runners to it.
        for (t, s) in tables.iter().zip(&self.outputs) {
            let got = t.column_names();
            let want: Vec<String> = s.columns.iter().map(|c| c.name.clone()).collect();
            if got != want || t.name != s.name {
                return Err(format!(
                    "internal error: experiment `{}` produced table `{}` with columns {got:?}, declared {want:?}",
                    self.id, t.name
                ));
            }
        }
        Ok(tables)
    }
}

/// Validate an `experiment` block. A top-level `quick:` mapping holds overrides for
/// `--fidelity quick`; the spec is always validated as written (so errors point at
/// the right lines), and with the overrides applied when the quick tier is asked for.
pub fn validate(ctx: &mut BlockCtx) -> Option<Experiment> {
    let original = ctx.block.clone();
    let (paper_body, quick) = split_quick(&original.body);
    let paper_block = crate::chapter::Block {
        body: paper_body.clone(),
        ..original.clone()
    };
    let mut paper_ctx = BlockCtx::new(ctx.chapter, &paper_block, ctx.project_root);
    let paper = validate_kind(&mut paper_ctx);
    ctx.diags.extend(paper_ctx.diags);
    let mut exp = paper?;
    if let (crate::spec::Fidelity::Quick, Some((quick_line, quick_text))) = (ctx.fidelity, quick) {
        let merged = match merge_quick(&paper_body, &quick_text) {
            Ok(m) => m,
            Err(msg) => {
                let d = original
                    .diagnostic(
                        ctx.chapter,
                        quick_line,
                        1,
                        format!("bad `quick` overrides: {msg}"),
                    )
                    .field("quick");
                ctx.diags.push(d);
                return None;
            }
        };
        // Errors in the merged spec can only come from the overrides: point at them.
        let quick_block = crate::chapter::Block {
            body: merged,
            body_line: original.body_line + quick_line - 1,
            ..original.clone()
        };
        let mut quick_ctx = BlockCtx::new(ctx.chapter, &quick_block, ctx.project_root);
        let q = validate_kind(&mut quick_ctx);
        for mut d in quick_ctx.diags.0 {
            d = d.at(&ctx.chapter.source, original.body_line + quick_line - 1, 1);
            d.message = format!("with the `quick` overrides: {}", d.message);
            ctx.diags.push(d);
        }
        exp = q?;
    }
    exp.source = original.body.clone();
    exp.line = original.fence_line;
    Some(exp)
}

/// Cut a top-level `quick:` entry out of a spec: returns the spec with those lines
/// blanked (line numbers unchanged) and, if present, the 1-based line of `quick:`
/// in the body with the YAML text of its value.
pub fn split_quick(body: &str) -> (String, Option<(usize, String)>) {
    let lines: Vec<&str> = body.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("quick:")) else {
        return (body.to_string(), None);
    };
    let mut end = start + 1;
    while end < lines.len() {
        let l = lines[end];
        if !l.trim().is_empty() && !l.starts_with(' ') && !l.starts_with('\t') {
            break;
        }
        end += 1;
    }
    let inline = lines[start]["quick:".len()..].trim();
    let value = if inline.is_empty() {
        lines[start + 1..end].join("\n")
    } else {
        inline.to_string()
    };
    let kept: Vec<&str> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| if (start..end).contains(&i) { "" } else { *l })
        .collect();
    (kept.join("\n") + "\n", Some((start + 1, value)))
}

/// Overlay the `quick` mapping on the spec's top-level mapping.
fn merge_quick(paper: &str, quick: &str) -> Result<String, String> {
    use crate::yaml::Value;
    let base: Value = crate::yaml::from_str(paper).map_err(|e| e.message)?;
    let over: Value = crate::yaml::from_str(quick).map_err(|e| e.message)?;
    let (Value::Mapping(mut base), Value::Mapping(over)) = (base, over) else {
        return Err(
            "`quick` must be a mapping of fields to override, e.g. `quick: {samples: 10000}`"
                .into(),
        );
    };
    for (k, v) in over {
        if matches!(k.as_str(), Some("id" | "kind" | "tables")) {
            return Err(format!(
                "`quick` cannot change `{}`; it overrides parameters only",
                k.as_str().unwrap_or("")
            ));
        }
        base.insert(k, v);
    }
    crate::yaml::to_string(&Value::Mapping(base))
}

/// Find the block's kind, then hand it to that kind.
fn validate_kind(ctx: &mut BlockCtx) -> Option<Experiment> {
    #[derive(Deserialize)]
    struct KindOnly {
        kind: Option<String>,
    }
    let head: KindOnly = ctx.parse_or_report()?;
    let Some(kind) = head.kind else {
        ctx.diags.push(
            ctx.block
                .diagnostic(ctx.chapter, 0, 0, "experiment has no `kind`")
                .field("kind")
                .hint(format!(
                    "add `kind:` with one of: {}",
                    kind_names().join(", ")
                )),
        );
        return None;
    };
    match KINDS.iter().find(|k| k.name == kind) {
        Some(k) => (k.validate)(ctx),
        None => {
            ctx.error_hint(
                "kind",
                format!("unknown experiment kind `{kind}`"),
                suggest(&kind, &kind_names()),
            );
            None
        }
    }
}

/// The fields every kind shares (each kind's raw struct flattens nothing: it lists
/// them again so that `deny_unknown_fields` keeps working).
pub fn common_tables(
    ctx: &mut BlockCtx,
    tables: &BTreeMap<String, String>,
    roles: &[&str],
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if tables.is_empty() {
        ctx.error_hint(
            "tables",
            "the experiment produces no tables",
            format!(
                "name at least one output under `tables:`, roles: {}",
                roles.join(", ")
            ),
        );
    }
    for (role, name) in tables {
        if !roles.contains(&role.as_str()) {
            ctx.error_hint(
                &format!("tables.{role}"),
                format!("this kind has no table role `{role}`"),
                suggest(role, roles),
            );
            continue;
        }
        if !crate::chapter::valid_id(name) {
            ctx.error_hint(
                &format!("tables.{role}"),
                format!("`{name}` is not a valid table name"),
                crate::chapter::ID_HINT,
            );
            continue;
        }
        out.insert(role.clone(), name.clone());
    }
    out
}

/// `measure:` or `measures:` (a list of `{label, measure}`), exactly one of them.
pub fn measures(
    ctx: &mut BlockCtx,
    single: &Option<RawMeasure>,
    many: &Option<Vec<RawLabelled>>,
) -> Option<Vec<(String, Measure)>> {
    match (single, many) {
        (Some(m), None) => {
            let m = crate::spec::measure::validate(ctx, m, "measure")?;
            Some(vec![("μ".to_string(), m)])
        }
        (None, Some(list)) => {
            if list.is_empty() {
                ctx.error("measures", "`measures` is empty");
                return None;
            }
            let mut out = Vec::new();
            for (i, l) in list.iter().enumerate() {
                if out.iter().any(|(label, _)| label == &l.label) {
                    ctx.error(
                        &format!("measures[{i}].label"),
                        format!("measure label `{}` is used twice", l.label),
                    );
                }
                if let Some(m) = crate::spec::measure::validate(
                    ctx,
                    &l.measure,
                    &format!("measures[{i}].measure"),
                ) {
                    out.push((l.label.clone(), m));
                }
            }
            (out.len() == list.len()).then_some(out)
        }
        (Some(_), Some(_)) => {
            ctx.error("measures", "give `measure` or `measures`, not both");
            None
        }
        (None, None) => {
            ctx.diags.push(
                ctx.block
                    .diagnostic(ctx.chapter, 0, 0, "the experiment names no measure")
                    .field("measure")
                    .hint("add e.g. `measure: {normal: {mean: 0, var: 1}}`"),
            );
            None
        }
    }
}

/// Default ceiling on Monte Carlo samples per grid point (see `crate::limits`).
pub const MAX_SAMPLES: usize = crate::limits::SAMPLES;

impl KindSpec {
    /// How the experiment computes (for provenance): method and Monte Carlo samples.
    pub fn method(&self) -> (String, Option<usize>) {
        match self {
            KindSpec::Complexity(s) => match (&s.monte_carlo, s.exact) {
                (Some(mc), true) => ("exact and Monte Carlo".into(), Some(mc.samples)),
                (Some(mc), false) => ("Monte Carlo".into(), Some(mc.samples)),
                (None, _) => ("exact".into(), None),
            },
            KindSpec::Particles(s) => ("Monte Carlo (particles)".into(), Some(s.config.n)),
            KindSpec::Plane(s) => s.method(),
            _ => ("exact".into(), None),
        }
    }

    /// The labelled measures the experiment runs on.
    pub fn measures(&self) -> &[(String, Measure)] {
        match self {
            KindSpec::Complexity(s) => &s.measures,
            KindSpec::Density(s) => &s.measures,
            KindSpec::Particles(s) => &s.measures,
            KindSpec::GaussianSteps(_) => &[],
            KindSpec::TransportMap(s) => &s.measures,
            KindSpec::Curvature(s) => &s.measures,
            KindSpec::Perturbation(s) => &s.measures,
            KindSpec::Plane(_) => &[],
        }
    }
}
