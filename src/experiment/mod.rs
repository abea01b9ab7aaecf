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
pub mod plane_particles;
pub mod transport_map;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::diagnostic::suggest;
use crate::measure::Measure;
use crate::spec::measure::{RawLabelled, RawMeasure};
use crate::spec::{BlockCtx, Grid, SpecCtx};
use crate::table::{ColumnDecl, Table, TableSchema};
use crate::yaml;

/// One registered kind.
pub struct Kind {
    pub name: &'static str,
    pub doc: &'static str,
    /// The table roles it can produce (`tables: {ROLE: NAME}`).
    pub roles: &'static [&'static str],
    /// Whether it draws random numbers, and so takes a `seed`.
    pub random: bool,
    /// Which of `measure:` / `measures:` it takes.
    pub measures: Measures,
    /// Phase two for the kind's own fields (the shared ones are in [`Common`]): the
    /// tables it will produce and its typed spec.
    pub validate: fn(&mut BlockCtx, &Common) -> Option<Validated>,
}

/// What a kind's phase two gives: the tables the experiment will produce (with their
/// columns) and its typed spec.
pub type Validated = (Vec<TableSchema>, KindSpec);

/// What a kind accepts of the shared `measure:` / `measures:` fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measures {
    /// Neither (the kind describes its laws with its own fields).
    None,
    /// Exactly one `measure:`.
    One,
    /// `measure:` or a labelled list `measures:`.
    Many,
    /// `measure:` or `measures:` in R^d: decoded here, validated by the kind (see
    /// [`Common::raw_measure`]).
    Space,
}

/// Every kind an `experiment` block may name.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "complexity",
        doc:
            "sup L_r, s_r(u), h(δ, r), m*, δ*, ζ*_M over a grid of r or t, exact and/or Monte Carlo",
        roles: complexity::ROLES,
        random: true,
        measures: Measures::Many,
        validate: complexity::validate,
    },
    Kind {
        name: "density",
        doc: "the density of Y_r with L_r(y), E[rX | Y_r = y] and the score on a y grid",
        roles: density::ROLES,
        random: false,
        measures: Measures::Many,
        validate: density::validate,
    },
    Kind {
        name: "particles",
        doc: "particle clouds of μ_0 and ν_0 diffused forward and denoised back with μ's score: W₂ per step, ridge snapshots, W(μ_0, ν̄_0)",
        roles: particles::ROLES,
        random: true,
        measures: Measures::One,
        validate: particles::validate,
    },
    Kind {
        name: "gaussian_steps",
        doc: "exact one-step and chained W₂ ratios for Gaussian laws: Thm. 1-3, Cor. 1-2 and the introduction's example",
        roles: gaussian_steps::ROLES,
        random: false,
        measures: Measures::None,
        validate: gaussian_steps::validate,
    },
    Kind {
        name: "transport_map",
        doc: "the 1-D optimal map between μ_{t+η} and μ_t against i + η(x + score), and Tweedie's score",
        roles: transport_map::ROLES,
        random: false,
        measures: Measures::Many,
        validate: transport_map::validate,
    },
    Kind {
        name: "curvature",
        doc: "L_r(y) against 1 + (log p_{Y_r})''(y), and E[(log p)''] + E[(log p)'²] = 0",
        roles: curvature::ROLES,
        random: false,
        measures: Measures::Many,
        validate: curvature::validate,
    },
    Kind {
        name: "perturbation",
        doc: "Thm. 4 and Thm. 2 on explicit perturbations ν = (id + ξ)#μ_t: exact expansion rates against 2 - 2ζ*_M, the CVaR worst case, ζ*_1 and Fisher information, m* at large r",
        roles: perturbation::ROLES,
        random: true,
        measures: Measures::Many,
        validate: perturbation::validate,
    },
    Kind {
        name: "plane",
        doc: "measures in R^d: sup L_r, s_r(u), h(δ, r), m*, δ*, ζ*_M exact (plane, Gaussians) and/or Monte Carlo (d ≤ 16), with exact oracles, and maps of L_r over the plane",
        roles: plane::ROLES,
        random: true,
        measures: Measures::Space,
        validate: plane::validate,
    },
    Kind {
        name: "plane_particles",
        doc: "particle clouds of μ_0 and ν_0 in R^d diffused forward and denoised back with μ's score: W₂ between the clouds (exact assignment, sliced, Bures) per step, snapshots, W(μ_0, ν̄_0)",
        roles: plane_particles::ROLES,
        random: true,
        measures: Measures::Space,
        validate: plane_particles::validate,
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

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum KindSpec {
    Complexity(complexity::Spec),
    Density(density::Spec),
    Particles(particles::Spec),
    GaussianSteps(gaussian_steps::Spec),
    TransportMap(transport_map::Spec),
    Curvature(curvature::Spec),
    Perturbation(perturbation::Spec),
    Plane(plane::Spec),
    PlaneParticles(plane_particles::Spec),
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
            KindSpec::PlaneParticles(s) => plane_particles::run(s, &self.outputs),
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

/// The fields every experiment shares. They are decoded once, here, from the block's
/// tree; each kind then decodes only its own fields ([`Common::fields`]).
pub const HEADER_FIELDS: &[&str] = &[
    "id",
    "kind",
    "description",
    "seed",
    "measure",
    "measures",
    "tables",
    "quick",
];

/// Fields the `quick:` tier (and `--set`) may not change: the experiment's identity and
/// the names other blocks refer to.
pub const FIXED_FIELDS: &[&str] = &["id", "kind", "tables"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    measure: Option<RawMeasure>,
    #[serde(default)]
    measures: Option<Vec<RawLabelled>>,
    #[serde(default)]
    tables: Option<BTreeMap<String, String>>,
}

/// The shared fields, checked, handed to the kind with the rest of the block.
pub struct Common {
    pub kind: &'static Kind,
    pub id: String,
    pub seed: u64,
    /// Role → table name, for the roles the kind knows (unknown ones are reported).
    pub tables: BTreeMap<String, String>,
    /// The labelled measures (`None` when they are invalid: already reported; empty
    /// for a kind that takes none).
    pub measures: Option<Vec<(String, Measure)>>,
    /// Whether they were given as one `measure:` (else as `measures:`).
    pub single_measure: bool,
    /// The measures as written, for a kind that validates its own (`Measures::Space`).
    pub raw_measure: Option<RawMeasure>,
    pub raw_measures: Option<Vec<RawLabelled>>,
    /// The block without the shared fields: what the kind decodes.
    own: yaml::Node,
}

impl Common {
    /// Decode the kind's own fields into `T` (`deny_unknown_fields`). An unknown name
    /// is reported with every field the kind accepts, shared ones included, and the
    /// closest of them.
    pub fn fields<T: DeserializeOwned>(&self, ctx: &mut BlockCtx) -> Option<T> {
        match ctx.decode(Ok(&self.own)) {
            Ok(v) => Some(v),
            Err(mut d) => {
                if let Some(word) = unknown_name(&d.message, "unknown field") {
                    let serde_message = d.message.clone();
                    let mut valid: Vec<&str> = self.accepted_header();
                    valid.extend(expected_names(&serde_message));
                    d.message = format!(
                        "bad experiment block: unknown field `{word}` for kind `{}`",
                        self.kind.name
                    );
                    d.hint = Some(crate::diagnostic::suggest(&word, &valid));
                }
                ctx.diags.push(d);
                None
            }
        }
    }

    /// (role, table name) in the order of the kind's roles: the order of its outputs.
    pub fn ordered_tables(&self) -> Vec<(String, String)> {
        self.kind
            .roles
            .iter()
            .filter_map(|r| self.tables.get(*r).map(|n| (r.to_string(), n.clone())))
            .collect()
    }

    /// The schemas of the named tables, in the order of the kind's roles, each with
    /// the columns `columns` gives for its role.
    pub fn schemas(&self, columns: impl Fn(&str) -> Vec<ColumnDecl>) -> Vec<TableSchema> {
        self.ordered_tables()
            .into_iter()
            .map(|(role, name)| TableSchema {
                columns: columns(&role),
                name,
            })
            .collect()
    }

    /// The measure field of the `i`-th measure, for messages.
    pub fn measure_path(&self, i: usize) -> String {
        if self.single_measure {
            "measure".to_string()
        } else {
            format!("measures[{i}].measure")
        }
    }

    fn accepted_header(&self) -> Vec<&'static str> {
        HEADER_FIELDS
            .iter()
            .copied()
            .filter(|f| match *f {
                "seed" => self.kind.random,
                "measure" => self.kind.measures != Measures::None,
                "measures" => matches!(self.kind.measures, Measures::Many | Measures::Space),
                _ => true,
            })
            .collect()
    }
}

/// `unknown field `kidn`, expected …` → `kidn`.
fn unknown_name(msg: &str, what: &str) -> Option<String> {
    let at = msg.find(what)?;
    msg[at..].split('`').nth(1).map(str::to_string)
}

/// The names serde lists after "expected one of" (or "expected").
fn expected_names(msg: &str) -> Vec<&str> {
    match msg.find("expected") {
        Some(at) => msg[at..].split('`').skip(1).step_by(2).collect(),
        None => Vec::new(),
    }
}

/// Validate an `experiment` block: as written, and with its `quick:` overrides applied
/// when the quick tier is asked for. The block was parsed once into a tree (see
/// `crate::chapter::Block`); the quick tier is an edit of that tree, so an error in
/// an override points at the override itself.
pub fn validate(ctx: &mut BlockCtx) -> Option<Experiment> {
    let tree = match ctx.tree {
        Ok(t) => t,
        Err(_) => {
            let d = ctx.parse::<()>().expect_err("a syntax error");
            ctx.diags.push(d);
            return None;
        }
    };
    if !matches!(tree.value, yaml::Value::Map(_)) {
        ctx.error(
            "",
            format!(
                "bad experiment block: expected a mapping of fields (`id: …`, `kind: …`), found {}",
                tree.kind_name()
            ),
        );
        return None;
    }
    let mut exp = validate_tree(ctx, tree)?;
    if ctx.fidelity == crate::spec::Fidelity::Quick {
        if let Some(quick) = tree.get("quick") {
            let merged = match apply_quick(tree, quick) {
                Ok(m) => m,
                Err((path, msg)) => {
                    let d = ctx.at(&path, format!("bad `quick` overrides: {msg}"));
                    ctx.diags.push(d);
                    return None;
                }
            };
            let mut quick_ctx = ctx.with_tree(&merged);
            let q = validate_tree(&mut quick_ctx, &merged);
            for mut d in quick_ctx.into_diags().0 {
                d.message = format!("with the `quick` overrides: {}", d.message);
                ctx.diags.push(d);
            }
            exp = q?;
        }
    }
    Some(exp)
}

/// The tree with the `quick:` mapping laid over its top-level fields (each override
/// keeps its own position), or (field, message) when `quick` is not a fit.
fn apply_quick(tree: &yaml::Node, quick: &yaml::Node) -> Result<yaml::Node, (String, String)> {
    if !matches!(quick.value, yaml::Value::Map(_)) {
        return Err((
            "quick".into(),
            "`quick` must be a mapping of fields to override, e.g. `quick: {samples: 10000}`"
                .into(),
        ));
    }
    let mut merged = tree.clone();
    merged.remove("quick");
    for (k, v) in quick.entries() {
        let key = k.as_str().unwrap_or(&k.text);
        if FIXED_FIELDS.contains(&key) {
            return Err((
                format!("quick.{key}"),
                format!("`quick` cannot change `{key}`; it overrides parameters only"),
            ));
        }
        merged.insert(key, v.clone(), k.pos);
    }
    Ok(merged)
}

/// Decode the shared fields, check them, and hand the rest to the kind.
fn validate_tree(ctx: &mut BlockCtx, tree: &yaml::Node) -> Option<Experiment> {
    let (mut header, mut own) = (tree.clone(), tree.clone());
    if let (yaml::Value::Map(h), yaml::Value::Map(o)) = (&mut header.value, &mut own.value) {
        let shared = |k: &yaml::Node| k.as_str().is_some_and(|k| HEADER_FIELDS.contains(&k));
        h.retain(|(k, _)| shared(k) && k.as_str() != Some("quick"));
        o.retain(|(k, _)| !shared(k));
    }
    let header: Header = match ctx.decode(Ok(&header)) {
        Ok(h) => h,
        Err(d) => {
            ctx.diags.push(d);
            return None;
        }
    };
    let Some(name) = header.kind else {
        // `kind` is not written, so this is placed at the opening fence.
        let hint = format!("add `kind:` with one of: {}", kind_names().join(", "));
        ctx.error_hint("kind", "experiment has no `kind`", hint);
        return None;
    };
    let Some(kind) = KINDS.iter().find(|k| k.name == name) else {
        ctx.error_hint(
            "kind",
            format!("unknown experiment kind `{name}`"),
            suggest(&name, &kind_names()),
        );
        return None;
    };
    // `id` and `tables` are required; checked after the kind, which says which roles
    // the tables may have.
    let missing = |ctx: &mut BlockCtx, field: &str, hint: String| {
        // A misspelt `tabels:` is the likelier story: say so at it.
        let typo = own.entries().iter().find_map(|(k, _)| {
            let k = k.as_str()?;
            (crate::diagnostic::closest(k, [field]) == Some(field)).then_some(k)
        });
        if let Some(k) = typo {
            let d = ctx
                .at(k, format!("bad experiment block: unknown field `{k}`"))
                .hint(format!("did you mean `{field}`?"));
            ctx.diags.push(d);
            return;
        }
        let d = ctx
            .block
            .diagnostic(
                ctx.chapter,
                tree.pos.line,
                tree.pos.column,
                format!("bad experiment block: missing field `{field}`"),
            )
            .field(field)
            .hint(hint);
        ctx.diags.push(d);
    };
    if header.id.is_none() {
        missing(
            ctx,
            "id",
            "add `id: NAME`, unique across the project".into(),
        );
    }
    if header.tables.is_none() {
        missing(
            ctx,
            "tables",
            format!(
                "name the tables it writes, e.g. `tables: {{{}: NAME}}`; kind `{name}` has the roles {}",
                kind.roles[0],
                kind.roles.join(", ")
            ),
        );
    }
    let (Some(id), Some(header_tables)) = (&header.id, &header.tables) else {
        return None;
    };
    let id = ctx.id(id, "id");
    if header.seed.is_some() && !kind.random {
        let random: Vec<&str> = KINDS.iter().filter(|k| k.random).map(|k| k.name).collect();
        ctx.error_hint(
            "seed",
            format!("kind `{name}` draws no random numbers, so a `seed` would have no effect"),
            format!(
                "remove `seed:`; only the kinds {} take one",
                random.join(", ")
            ),
        );
    }
    let tables = common_tables(ctx, header_tables, kind.roles);
    let measures = match kind.measures {
        Measures::Many => measures(ctx, &header.measure, &header.measures),
        Measures::Space => Some(Vec::new()),
        Measures::One => match (&header.measure, &header.measures) {
            (Some(m), None) => ctx
                .spec(|c| crate::spec::measure::validate(c, m, "measure"))
                .map(|m| vec![("μ".to_string(), m)]),
            (_, Some(_)) => {
                ctx.error_hint(
                    "measures",
                    format!("kind `{name}` takes one `measure`, not a list `measures`"),
                    "write `measure: {…}`",
                );
                None
            }
            (None, None) => {
                let d = ctx
                    .at("", "the experiment names no measure")
                    .field("measure")
                    .hint("add e.g. `measure: {normal: {mean: 0, var: 1}}`");
                ctx.diags.push(d);
                None
            }
        },
        Measures::None => {
            for field in ["measure", "measures"] {
                if tree.get(field).is_some() {
                    ctx.error_hint(
                        field,
                        format!("kind `{name}` takes no `{field}`: its laws are fields of its own"),
                        format!("remove `{field}:`"),
                    );
                }
            }
            Some(Vec::new())
        }
    };
    let common = Common {
        kind,
        id,
        seed: header.seed.unwrap_or(0),
        tables,
        single_measure: header.measure.is_some(),
        measures,
        raw_measure: header.measure.clone(),
        raw_measures: header.measures.clone(),
        own,
    };
    let (outputs, spec) = (kind.validate)(ctx, &common)?;
    Some(Experiment {
        id: common.id,
        kind: kind.name,
        source: ctx.block.body.clone(),
        seed: common.seed,
        outputs,
        spec,
        line: ctx.block.fence_line,
    })
}

/// Check the `tables:` roles against the kind's and the names against the id alphabet.
fn common_tables(
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
fn measures(
    ctx: &mut BlockCtx,
    single: &Option<RawMeasure>,
    many: &Option<Vec<RawLabelled>>,
) -> Option<Vec<(String, Measure)>> {
    let example = "{normal: {mean: 0, var: 1}}";
    labelled(ctx, single, many, crate::spec::measure::validate, example)
}

/// `measure:` or `measures:` (a list of `{label, measure}`), exactly one of them, each
/// checked by `validate`; a single measure is labelled μ. `example` is the measure the
/// hint suggests when there is none.
pub(super) fn labelled<T>(
    ctx: &mut BlockCtx,
    single: &Option<RawMeasure>,
    many: &Option<Vec<RawLabelled>>,
    validate: impl Fn(&mut SpecCtx, &RawMeasure, &str) -> Option<T>,
    example: &str,
) -> Option<Vec<(String, T)>> {
    match (single, many) {
        (Some(m), None) => {
            let m = ctx.spec(|c| validate(c, m, "measure"))?;
            Some(vec![("μ".to_string(), m)])
        }
        (None, Some(list)) => {
            if list.is_empty() {
                ctx.error("measures", "`measures` is empty");
                return None;
            }
            let mut out: Vec<(String, T)> = Vec::new();
            for (i, l) in list.iter().enumerate() {
                if out.iter().any(|(label, _)| label == &l.label) {
                    ctx.error(
                        &format!("measures[{i}].label"),
                        format!("measure label `{}` is used twice", l.label),
                    );
                }
                let path = format!("measures[{i}].measure");
                if let Some(m) = ctx.spec(|c| validate(c, &l.measure, &path)) {
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
            // Neither is written, so this is placed at the opening fence.
            ctx.error_hint(
                "measure",
                "the experiment names no measure",
                format!("add e.g. `measure: {example}`"),
            );
            None
        }
    }
}

/// An optional grid at `path`: when given, expanded with every point `what` (checked by
/// `ok`); when not, empty, unless a table asked for needs it: then `missing` (the
/// message and hint) is reported.
pub(super) fn optional_grid(
    ctx: &mut BlockCtx,
    grid: &Option<Grid>,
    path: &str,
    what: &str,
    ok: impl Fn(f64) -> bool,
    missing: Option<(&str, &str)>,
) -> Option<Vec<f64>> {
    match (grid, missing) {
        (Some(g), _) => ctx.grid(g, path, what, ok),
        (None, Some((msg, hint))) => {
            ctx.error_hint(path, msg, hint);
            None
        }
        (None, None) => Some(Vec::new()),
    }
}

/// Check the size of a particle run against the ceilings of `crate::limits` (which
/// `--raise-limits` scales): `n` particles per cloud, `steps` steps and `replicates`
/// extra runs. False when any is off (reported, with the hint to raise them).
pub(super) fn particle_run_size(
    ctx: &mut BlockCtx,
    n: usize,
    steps: usize,
    replicates: usize,
) -> bool {
    let counts = [
        ("n", n, 1, crate::limits::particles(), " particles"),
        ("steps", steps, 1, crate::limits::particle_steps(), ""),
        ("replicates", replicates, 0, crate::limits::replicates(), ""),
    ];
    let mut ok = true;
    for (field, value, min, max, unit) in counts {
        if value < min || value > max {
            let range = if min == 0 {
                format!("at most {max}")
            } else {
                format!("between {min} and {max}")
            };
            ctx.error_hint(
                field,
                format!("`{field}` must be {range}{unit}"),
                crate::limits::HINT,
            );
            ok = false;
        }
    }
    ok
}

/// The step k = round(t/η) of each snapshot time of `snapshots`, for a particle run of
/// `steps` steps of size `eta`: at most `max` times, none beyond the final time, no two
/// on the same step.
pub(super) fn snapshot_steps(
    ctx: &mut BlockCtx,
    times: &[f64],
    eta: f64,
    steps: usize,
    max: usize,
) -> Option<Vec<usize>> {
    if times.len() > max {
        ctx.error(
            "snapshots",
            format!("at most {max} snapshot times, got {}", times.len()),
        );
        return None;
    }
    let mut snapshot_steps: Vec<usize> = Vec::new();
    for (i, &t) in times.iter().enumerate() {
        let k = (t / eta).round();
        if k > steps as f64 {
            ctx.error(
                &format!("snapshots[{i}]"),
                format!(
                    "snapshot time {t} is beyond the final time T = {}",
                    steps as f64 * eta
                ),
            );
            return None;
        }
        let k = k as usize;
        if snapshot_steps.contains(&k) {
            ctx.error(
                &format!("snapshots[{i}]"),
                format!("snapshot time {t} falls on the same step (k = {k}) as an earlier one"),
            );
            return None;
        }
        snapshot_steps.push(k);
    }
    Some(snapshot_steps)
}

/// Default ceiling on Monte Carlo samples per grid point (see `crate::limits`).
pub const MAX_SAMPLES: usize = crate::limits::SAMPLES;

impl KindSpec {
    /// How the experiment computes (for provenance): method and Monte Carlo samples.
    pub fn method(&self) -> (String, Option<usize>) {
        match self {
            KindSpec::Complexity(s) => s.sweep.method(),
            KindSpec::Particles(s) => ("Monte Carlo (particles)".into(), Some(s.config.n)),
            KindSpec::Plane(s) => s.sweep.method(),
            KindSpec::PlaneParticles(s) => ("Monte Carlo (particles)".into(), Some(s.config.n)),
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
            KindSpec::Plane(_) | KindSpec::PlaneParticles(_) => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapter::{Chapter, Segment};
    use crate::spec::Fidelity;

    /// Validate the one experiment block of a chapter made of `body`; the block's
    /// first body line is line 6 of the file.
    fn check(
        body: &str,
        fidelity: Fidelity,
    ) -> (Option<Experiment>, crate::diagnostic::Diagnostics) {
        let text = format!("---\nid: c\ntitle: C\n---\n```experiment\n{body}```\n");
        let ch = Chapter::parse("c.md", text).unwrap();
        let Some(Segment::Block(b)) = ch.segments.first() else {
            panic!("one block");
        };
        let mut ctx = BlockCtx::new(&ch, b, std::path::Path::new("."));
        ctx.fidelity = fidelity;
        let exp = validate(&mut ctx);
        (exp, ctx.into_diags())
    }

    /// The diagnostic of a paper-fidelity check of `body`, which must give exactly one.
    fn only_error(body: &str) -> crate::diagnostic::Diagnostic {
        let (_, d) = check(body, Fidelity::Paper);
        assert_eq!(d.len(), 1, "{d}");
        d.0[0].clone()
    }

    const DENSITY: &str =
        "id: d\nkind: density\nmeasure: {point: 0}\nr: [1]\ny: [0]\ntables: {density: d-density}\n";

    #[test]
    fn a_kind_without_randomness_rejects_seed() {
        let (exp, d) = check(&format!("{DENSITY}seed: 3\n"), Fidelity::Paper);
        assert!(exp.is_some(), "the rest of the spec is fine");
        assert_eq!(d.len(), 1, "{d}");
        let e = &d.0[0];
        assert_eq!((e.line, e.column), (12, 1), "{e}");
        assert_eq!(e.field.as_deref(), Some("seed"));
        assert!(
            e.message.contains("kind `density` draws no random numbers"),
            "{e}"
        );
        let hint = e.hint.as_deref().unwrap();
        assert!(
            hint.contains("remove `seed:`") && hint.contains("particles"),
            "{hint}"
        );
        // A kind that draws random numbers takes it and hands it on.
        let (exp, d) = check(
            "id: e\nkind: complexity\nmeasure: {point: 0}\nr: [1]\nmethod: monte_carlo\nsamples: 10\nseed: 9\ntables: {summary: e-s}\n",
            Fidelity::Paper,
        );
        assert!(d.is_empty(), "{d}");
        assert_eq!(exp.unwrap().seed, 9);
    }

    #[test]
    fn unknown_fields_suggest_shared_and_own_names() {
        let (_, d) = check(&format!("{DENSITY}sed: 3\n"), Fidelity::Paper);
        let e = &d.0[0];
        assert!(
            e.message.contains("unknown field `sed` for kind `density`"),
            "{e}"
        );
        assert_eq!((e.line, e.column), (12, 1), "{e}");
        // `seed` is no field of this kind: the closest is not offered.
        assert!(!e.hint.as_deref().unwrap_or("").contains("`seed`"), "{e}");
        let (_, d) = check(&DENSITY.replace("y: [0]", "yy: [0]"), Fidelity::Paper);
        assert!(
            d.0.iter()
                .any(|e| e.hint.as_deref() == Some("did you mean `y`?")),
            "{d}"
        );
        let (_, d) = check(&DENSITY.replace("tables", "tabels"), Fidelity::Paper);
        assert!(
            d.0.iter()
                .any(|e| e.hint.as_deref() == Some("did you mean `tables`?")),
            "{d}"
        );
    }

    #[test]
    fn measures_follow_what_the_kind_takes() {
        let e = only_error(
            "id: g\nkind: gaussian_steps\nmeasure: {point: 0}\ns2: [0.5]\neta: 0.1\nsteps: 2\ntables: {backward: g-b}\n",
        );
        assert!(e.message.contains("takes no `measure`"), "{e}");
        assert_eq!(e.line, 8);
        let (_, d) = check(
            "id: p\nkind: particles\nmeasures: [{label: a, measure: {point: 0}}]\nn: 10\neta: 0.1\nsteps: 2\ntables: {summary: p-s}\n",
            Fidelity::Paper,
        );
        assert!(
            d.0.iter()
                .any(|e| e.message.contains("takes one `measure`")),
            "{d}"
        );
    }

    #[test]
    fn missing_tables_name_the_roles() {
        let e = only_error("id: d\nkind: density\nmeasure: {point: 0}\nr: [1]\ny: [0]\n");
        assert!(e.message.contains("missing field `tables`"), "{e}");
        assert!(e.hint.as_deref().unwrap().contains("density: NAME"), "{e}");
    }

    #[test]
    fn the_quick_tier_is_an_edit_of_the_tree() {
        let body = "id: e\nkind: complexity\nmeasure: {point: 0}\nr: [1, 2, 3]\nquick:\n  r: [1]\ntables: {summary: e-s}\n";
        let (exp, d) = check(body, Fidelity::Paper);
        assert!(d.is_empty(), "{d}");
        let KindSpec::Complexity(s) = exp.unwrap().spec else {
            panic!("complexity")
        };
        assert_eq!(s.sweep.points.len(), 3, "the paper tier ignores `quick`");
        let (exp, d) = check(body, Fidelity::Quick);
        assert!(d.is_empty(), "{d}");
        let exp = exp.unwrap();
        assert_eq!(exp.source, body, "the report shows the block as written");
        let KindSpec::Complexity(s) = exp.spec else {
            panic!("complexity")
        };
        assert_eq!(s.sweep.points.len(), 1);
        // A bad override is reported where it is written, not at `quick:`.
        let (_, d) = check(&body.replace("  r: [1]", "  r: [1, -2]"), Fidelity::Quick);
        assert_eq!(d.len(), 1, "{d}");
        let e = &d.0[0];
        assert!(e.message.starts_with("with the `quick` overrides:"), "{e}");
        assert_eq!((e.line, e.column), (11, 10), "{e}");
        let (_, d) = check(&body.replace("  r: [1]", "  id: f"), Fidelity::Quick);
        assert!(d.0[0].message.contains("cannot change `id`"), "{d}");
        assert_eq!(d.0[0].line, 11);
        let (_, d) = check(
            &body.replace("quick:\n  r: [1]", "quick: 3"),
            Fidelity::Quick,
        );
        assert!(d.0[0].message.contains("must be a mapping"), "{d}");
    }
}
