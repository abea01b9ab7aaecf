//! Kind `plane_particles`: clouds of μ_0 and ν_0 in R^d (d ≥ 2) diffused forward by
//! the exact OU transition and denoised back by b^{μ,η} with the score of the true μ_t
//! (`plane::particles`), with W₂ between the clouds exact (optimal assignment), sliced
//! and/or by the Bures formula of their moments.
//!
//! ```yaml
//! id: ring-particles
//! kind: plane_particles
//! measure: {mixture: [{weight: 0.5, mean: [1, 0], var: 0.05}, {weight: 0.5, mean: [-1, 0], var: 0.05}]}
//! reference: {point: [0, 0]}        # ν_0 (default δ_0 in the dimension of μ_0)
//! n: 300
//! eta: 0.05
//! steps: 60                          # T = Kη = 3
//! every: 10                          # W₂ at steps 0, 10, 20, … (default 1)
//! w2: [exact, sliced]                # exact | sliced | bures (default [sliced])
//! slices: 64                         # directions of the sliced W₂ (default 64)
//! snapshots: [0, 0.5, 3]             # times at which both clouds are kept
//! replicates: 3                      # independent repeat runs for standard errors
//! seed: 4
//! tables: {snapshots: NAME, distances: NAME, summary: NAME}
//! ```
//!
//! Tables (every one optional):
//! - `snapshots`: phase, slot, t, measure (μ or ν), particle, x1, x2 (the first two
//!   coordinates of each particle of the main run).
//! - `distances`: phase, step, t, method, w2 (main run), w2_se (standard deviation over
//!   the R + 1 runs; NaN if R = 0), w2_true (the Bures W₂ between the exact Gaussian
//!   laws of the two clouds when μ_0 is one Gaussian and ν_0 a Gaussian or a point;
//!   NaN otherwise), contraction (forward: e^{-t}·w2 at t = 0, the synchronous-coupling
//!   bound W(μ_t, ν_t) ≤ e^{-t}W(μ_0, ν_0); NaN backward). One row per recorded step
//!   and method, methods in the order of `w2`.
//! - `summary`, one row per method: method, n, eta, steps, T, w2_initial,
//!   w2_denoised (W(μ_0, ν̄_0): the initial μ-cloud against the denoised ν-cloud),
//!   w2_round_trip (W(μ_0, μ̄_0)), each with `_se` and `_true` as above.

use rayon::prelude::*;
use serde::Deserialize;

use super::{Common, KindSpec, Validated};
use crate::particles::Phase;
use crate::plane::particles::{
    gaussian_trajectory, run_space_particles, SpaceParticleConfig, SpaceRun, W2Method, MAX_EXACT,
};
use crate::plane::{Law, SpaceComponent, SpaceMeasure};
use crate::spec::measure::RawMeasure;
use crate::spec::{BlockCtx, Grid, Num};
use crate::table::{ColumnDecl, Table, TableBuilder, TableSchema};

pub const ROLES: &[&str] = &["snapshots", "distances", "summary"];

/// Ceilings checked before anything is allocated (particles, steps and replicates
/// through `crate::limits`).
const MAX_SNAPSHOTS: usize = 20;
const MAX_SLICES: usize = 10_000;
/// Exact assignments per experiment (each O(n³)): recorded steps × runs.
const MAX_EXACT_SOLVES: usize = 2_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    reference: Option<RawMeasure>,
    n: usize,
    eta: Num,
    steps: usize,
    #[serde(default)]
    every: Option<usize>,
    #[serde(default)]
    w2: Option<Vec<String>>,
    #[serde(default)]
    slices: Option<usize>,
    #[serde(default)]
    snapshots: Option<Grid>,
    #[serde(default)]
    replicates: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Spec {
    pub mu0: SpaceMeasure,
    pub nu0: SpaceMeasure,
    pub config: SpaceParticleConfig,
    /// Snapshot steps in the order the chapter listed the times.
    pub snapshot_steps: Vec<usize>,
    pub replicates: usize,
    /// Role → table name, in the order of `Experiment::outputs`.
    pub tables: Vec<(String, String)>,
}

/// The columns of the table of `role`.
fn columns(role: &str) -> Vec<ColumnDecl> {
    let (n, t) = (ColumnDecl::number, ColumnDecl::text);
    match role {
        "snapshots" => [
            super::particles::snapshot_key_columns(),
            vec![
                n("particle", "index of the particle in its cloud"),
                n("x1", "first coordinate"),
                n("x2", "second coordinate"),
            ],
        ]
        .concat(),
        "distances" => [
            super::particles::step_key_columns(),
            vec![
                t(
                    "method",
                    "exact (optimal assignment), sliced, or bures (Gaussian moments)",
                ),
                n("w2", "W₂ between the μ- and ν-clouds by this method"),
                n(
                    "w2_se",
                    "standard deviation of w2 over the R + 1 independent runs (NaN if R = 0)",
                ),
                n(
                    "w2_true",
                    "Bures W₂ between the exact Gaussian laws (NaN unless both are Gaussian)",
                ),
                n("contraction", "forward: e^{-t}·w2 at t = 0 (NaN backward)"),
            ],
        ]
        .concat(),
        "summary" => {
            let mut c = vec![
                t("method", "exact, sliced or bures"),
                n("n", "particles per cloud"),
                n("eta", "step η"),
                n("steps", "number of steps K"),
                n("T", "final time Kη"),
            ];
            for (v, what) in [
                ("w2_initial", "W(μ_0, ν_0) between the initial clouds"),
                (
                    "w2_denoised",
                    "W(μ_0, ν̄_0): initial μ-cloud vs the denoised ν-cloud",
                ),
                (
                    "w2_round_trip",
                    "W(μ_0, μ̄_0): initial μ-cloud vs its own round trip",
                ),
            ] {
                c.push(n(v, what));
                c.push(n(
                    &format!("{v}_se"),
                    "its standard deviation over the R + 1 runs",
                ));
                c.push(n(
                    &format!("{v}_true"),
                    "the same between exact Gaussian laws (NaN unless Gaussian)",
                ));
            }
            c
        }
        _ => unreachable!("roles are checked by common_tables"),
    }
}

/// The law at `field` in R^d (d ≥ 2), or an error saying how to fix it.
fn space_law(ctx: &mut BlockCtx, raw: &RawMeasure, field: &str) -> Option<SpaceMeasure> {
    match ctx.spec(|c| crate::spec::space::validate_law(c, raw, field))? {
        Law::Space(m) => Some(m),
        Law::Line(_) => {
            ctx.error_hint(
                field,
                "this kind moves particles in R^d, d ≥ 2, but the measure is on the line",
                "give vector means (e.g. `mean: [1, 0]`), or use the `particles` kind on the line",
            );
            None
        }
    }
}

pub fn validate(ctx: &mut BlockCtx, common: &Common) -> Option<Validated> {
    let raw: Raw = common.fields(ctx)?;
    let mu0 = match (&common.raw_measure, &common.raw_measures) {
        (Some(m), None) => space_law(ctx, m, "measure"),
        (_, Some(_)) => {
            ctx.error_hint(
                "measures",
                "this kind takes one law μ_0",
                "write `measure: …` for μ_0 and `reference: …` for ν_0",
            );
            None
        }
        (None, None) => {
            ctx.error_hint(
                "id",
                "the experiment names no measure",
                "add e.g. `measure: {normal: {mean: [0, 0], cov: [[1, 0], [0, 2]]}}`",
            );
            None
        }
    };
    let nu0 = match &raw.reference {
        Some(r) => space_law(ctx, r, "reference"),
        None => mu0.as_ref().map(|m| {
            SpaceMeasure::mixture(
                m.dim,
                vec![SpaceComponent {
                    weight: 1.0,
                    mean: vec![0.0; m.dim],
                    cov: vec![0.0; m.dim * m.dim],
                }],
            )
        }),
    };
    let eta = ctx.num_where(&raw.eta, "eta", "in (0, 1)", |v| v > 0.0 && v < 1.0);
    let replicates = raw.replicates.unwrap_or(0);
    let mut ok = super::particle_run_size(ctx, raw.n, raw.steps, replicates);
    let every = raw.every.unwrap_or(1);
    if every == 0 || every > raw.steps.max(1) {
        ctx.error(
            "every",
            format!(
                "`every` must be between 1 and the number of steps ({})",
                raw.steps
            ),
        );
        ok = false;
    }
    let slices = raw.slices.unwrap_or(64);
    if slices == 0 || slices > MAX_SLICES {
        ctx.error(
            "slices",
            format!("`slices` must be between 1 and {MAX_SLICES} directions"),
        );
        ok = false;
    }
    let mut methods = Vec::new();
    for (i, m) in raw
        .w2
        .clone()
        .unwrap_or_else(|| vec!["sliced".into()])
        .iter()
        .enumerate()
    {
        match W2Method::parse(m) {
            Some(w) if methods.contains(&w) => {
                ctx.error(&format!("w2[{i}]"), format!("method `{m}` is listed twice"));
                ok = false;
            }
            Some(w) => methods.push(w),
            None => {
                ctx.error_hint(
                    &format!("w2[{i}]"),
                    format!("unknown W₂ method `{m}`"),
                    crate::diagnostic::suggest(m, &W2Method::NAMES),
                );
                ok = false;
            }
        }
    }
    if raw.w2.as_ref().is_some_and(|w| w.is_empty()) {
        ctx.error("w2", "`w2` lists no method; give e.g. `[exact, sliced]`");
        ok = false;
    }
    if methods.contains(&W2Method::Exact) {
        if raw.n > MAX_EXACT {
            ctx.error_hint(
                "n",
                format!(
                    "the exact W₂ solves an assignment problem in O(n³) time: at most {MAX_EXACT} particles, got {}",
                    raw.n
                ),
                "use `w2: [sliced]` (or `bures`) for larger clouds",
            );
            ok = false;
        }
        let solves = (raw.steps / every.max(1) + 2) * 2 * (replicates + 1);
        if ok && solves > MAX_EXACT_SOLVES {
            ctx.error_hint(
                "every",
                format!(
                    "the exact W₂ would be solved {solves} times (recorded steps × 2 phases × runs); the ceiling is {MAX_EXACT_SOLVES}"
                ),
                "record fewer steps with a larger `every`, or fewer `replicates`",
            );
            ok = false;
        }
    }
    let times = super::optional_grid(
        ctx,
        &raw.snapshots,
        "snapshots",
        "a time ≥ 0",
        |v| v >= 0.0,
        common.tables.contains_key("snapshots").then_some((
            "the `snapshots` table needs the times to snapshot",
            "add e.g. `snapshots: [0, 0.5, 3]`",
        )),
    );
    let (mu0, nu0, eta, times) = (mu0?, nu0?, eta?, times?);
    if nu0.dim != mu0.dim {
        ctx.error_hint(
            "reference",
            format!(
                "ν_0 is in d = {} but μ_0 in d = {}; both clouds must live in the same space",
                nu0.dim, mu0.dim
            ),
            format!("give `reference` vectors of length {}", mu0.dim),
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    let snapshot_steps = super::snapshot_steps(ctx, &times, eta, raw.steps, MAX_SNAPSHOTS)?;
    let rows = (raw.steps / every + 2) * 2 * methods.len() + 2 * 2 * times.len() * raw.n;
    if rows > crate::limits::rows() {
        ctx.error_hint(
            "n",
            format!(
                "the experiment would write {rows} rows; the ceiling is {}",
                crate::limits::rows()
            ),
            "snapshot fewer times or fewer particles",
        );
        return None;
    }
    let ordered = common.ordered_tables();
    let outputs = common.schemas(columns);
    Some((
        outputs,
        KindSpec::PlaneParticles(Spec {
            mu0,
            nu0,
            config: SpaceParticleConfig {
                n: raw.n,
                eta,
                steps: raw.steps,
                seed: common.seed,
                every,
                methods,
                slices,
                snapshot_steps: snapshot_steps.clone(),
            },
            snapshot_steps,
            replicates,
            tables: ordered,
        }),
    ))
}

fn phase_name(p: Phase) -> String {
    match p {
        Phase::Forward => "forward",
        Phase::Backward => "backward",
    }
    .to_string()
}

/// Sample standard deviation of one value over the runs (NaN for one run).
fn spread(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.collect();
    if v.len() < 2 {
        return f64::NAN;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// The summary's distances, in the order of [`summary_value`].
const SUMMARY: [&str; 3] = ["w2_initial", "w2_denoised", "w2_round_trip"];

/// W(μ_0, ν_0), W(μ_0, ν̄_0) or W(μ_0, μ̄_0) of a run, per method.
fn summary_value(r: &SpaceRun, which: usize) -> &[f64] {
    match which {
        0 => &r.w2_initial,
        1 => &r.w2_denoised,
        _ => &r.w2_round_trip,
    }
}

pub fn run(s: &Spec, outputs: &[TableSchema]) -> Result<Vec<Table>, String> {
    let cfg = &s.config;
    let runs: Vec<SpaceRun> = (0..=s.replicates as u64)
        .into_par_iter()
        .map(|r| run_space_particles(&s.mu0, &s.nu0, cfg, r))
        .collect();
    let main = &runs[0];
    let exact = gaussian_trajectory(&s.mu0, &s.nu0, cfg.eta, cfg.steps, cfg.every);
    let methods = &cfg.methods;
    let mut tables = Vec::new();
    for schema in outputs {
        let role = s
            .tables
            .iter()
            .find(|(_, n)| *n == schema.name)
            .map(|(r, _)| r.as_str())
            .unwrap_or("");
        let table = match role {
            "snapshots" => {
                let d = s.mu0.dim;
                let (mut phase, mut measure) = (Vec::new(), Vec::new());
                let (mut slot, mut t, mut idx, mut x1, mut x2) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for snap in &main.snapshots {
                    let k = s
                        .snapshot_steps
                        .iter()
                        .position(|&k| k == snap.step)
                        .expect("snapshots are taken at the listed steps");
                    for (label, cloud) in [("μ", &snap.mu), ("ν", &snap.nu)] {
                        for (i, p) in cloud.chunks(d).enumerate() {
                            phase.push(phase_name(snap.phase));
                            slot.push((k + 1) as f64);
                            t.push(snap.t);
                            measure.push(label.to_string());
                            idx.push(i as f64);
                            x1.push(p[0]);
                            x2.push(p[1]);
                        }
                    }
                }
                TableBuilder::new()
                    .text("phase", phase)
                    .number("slot", slot)
                    .number("t", t)
                    .text("measure", measure)
                    .number("particle", idx)
                    .number("x1", x1)
                    .number("x2", x2)
            }
            "distances" => {
                let (mut phase, mut method) = (Vec::new(), Vec::new());
                let (mut step, mut t, mut w2, mut se, mut tr, mut bound) = (
                    Vec::new(),
                    Vec::new(),
                    Vec::new(),
                    Vec::new(),
                    Vec::new(),
                    Vec::new(),
                );
                for (ri, rec) in main.records.iter().enumerate() {
                    for (mi, m) in methods.iter().enumerate() {
                        phase.push(phase_name(rec.phase));
                        method.push(m.name().to_string());
                        step.push(rec.step as f64);
                        t.push(rec.t);
                        w2.push(rec.w2[mi]);
                        se.push(spread(runs.iter().map(|r| r.records[ri].w2[mi])));
                        tr.push(exact.as_ref().map_or(f64::NAN, |(e, _)| e[ri]));
                        bound.push(match rec.phase {
                            Phase::Forward => (-rec.t).exp() * main.records[0].w2[mi],
                            Phase::Backward => f64::NAN,
                        });
                    }
                }
                TableBuilder::new()
                    .text("phase", phase)
                    .number("step", step)
                    .number("t", t)
                    .text("method", method)
                    .number("w2", w2)
                    .number("w2_se", se)
                    .number("w2_true", tr)
                    .number("contraction", bound)
            }
            _ => {
                let k = methods.len();
                let mut b = TableBuilder::new()
                    .text(
                        "method",
                        methods.iter().map(|m| m.name().to_string()).collect(),
                    )
                    .number("n", vec![cfg.n as f64; k])
                    .number("eta", vec![cfg.eta; k])
                    .number("steps", vec![cfg.steps as f64; k])
                    .number("T", vec![cfg.steps as f64 * cfg.eta; k]);
                for (which, name) in SUMMARY.into_iter().enumerate() {
                    let value = (0..k).map(|mi| summary_value(main, which)[mi]).collect();
                    let se = (0..k)
                        .map(|mi| spread(runs.iter().map(|r| summary_value(r, which)[mi])))
                        .collect();
                    let tr = vec![exact.as_ref().map_or(f64::NAN, |(_, e)| e[which]); k];
                    b = b
                        .number(name, value)
                        .number(&format!("{name}_se"), se)
                        .number(&format!("{name}_true"), tr);
                }
                b
            }
        };
        tables.push(table.build(&schema.name)?);
    }
    Ok(tables)
}
