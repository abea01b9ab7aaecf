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
pub mod density;

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
}

impl Experiment {
    /// Run the experiment. Errors are numerical failures (a runner bug or a
    /// numerically impossible request), reported with the experiment's id.
    pub fn run(&self) -> Result<Vec<Table>, String> {
        let tables = match &self.spec {
            KindSpec::Complexity(s) => complexity::run(s, self.seed, &self.outputs),
            KindSpec::Density(s) => density::run(s, &self.outputs),
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

/// Validate an `experiment` block: find its kind, then hand it to that kind.
pub fn validate(ctx: &mut BlockCtx) -> Option<Experiment> {
    #[derive(Deserialize)]
    struct KindOnly {
        kind: Option<String>,
    }
    let head: KindOnly = match ctx.parse() {
        Ok(h) => h,
        Err(d) => {
            ctx.diags.push(d);
            return None;
        }
    };
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

/// Ceiling on Monte Carlo samples per grid point (raise with care: memory is 8 bytes a sample).
pub const MAX_SAMPLES: usize = 20_000_000;

impl KindSpec {
    /// The labelled measures the experiment runs on.
    pub fn measures(&self) -> &[(String, Measure)] {
        match self {
            KindSpec::Complexity(s) => &s.measures,
            KindSpec::Density(s) => &s.measures,
        }
    }
}
