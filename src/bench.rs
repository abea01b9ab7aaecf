//! The paper workload, timed: not a pipeline stage but a yardstick for
//! the numerical core (`measure`, `localize`, `particles`), used by `diffrepro bench`
//! (which prints the figures against their targets) and by `cargo bench`.
//!
//! The workload is fixed so other implementations can be compared with it:
//! - (a) the complexity sweep: Examples 1–6 (Ex. 2 with σ = 1), t ∈ linspace(0.01, 1.5,
//!   200) (Ex. 6 to 2.0); at each t, N = 100000 draws of L_r(Y_r) at r = r(t), then
//!   h, m, m*, δ* and ζ*_M (M = 1..5) on a δ grid of 501 points; and s_r(u) on a u grid
//!   of 301 points in [0, 3] for 10 values of r per example, r ∈ linspace(0.1, 3, 10).
//!   The exact variant computes the same quantities by quadrature: ess sup L_r, m*, δ*
//!   and ζ*_M (continuous in δ), h on the 501-point δ grid, s_r on the 301-point u grid.
//! - (b) particles: Examples 4, 5, 6 against ν_0 = δ_0, n = 100000 particles per
//!   cloud, η = 0.01, 150 steps forward (exact OU transition) and 150 back by
//!   b^{μ,η}, W₂ at every step.
//!
//! L_r at the draws and the scores at the particles come from tables built at each r
//! and each step (`measure::Table`: within 10⁻¹² of direct evaluation, relative to
//! max(1, largest value)); a NumPy implementation evaluates them directly, so a
//! comparison of the two differs in that, not in what is computed. The three runs of
//! (b) are made in one call (`particles::run_particles_many`): their δ_0 clouds have
//! the same law and the same random streams, so the forward phase of that cloud is
//! the same in the three and is computed once (four clouds diffuse, not six; each
//! run's results are bit for bit those of the run made alone). A NumPy script that
//! draws fresh noise for each run diffuses six.
//!
//! Every function returns what it computed (summaries, not just times), so the work
//! cannot be skipped and the bench can show that the numbers are the paper's. (For
//! Examples 1 and 2, L_r is constant, and `localize::sample_localization` returns the
//! sample the draws would give without drawing; see there.)

use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::localize::{self, ExactLocalization};
use crate::measure::Measure;
use crate::particles::{self, Forward, ParticleConfig};
use crate::rng::Purpose;
use crate::spec::linspace;
pub use diffrepro_math::phases::{phase_end, phase_start, phase_times, Phase};

/// The sizes of the workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Monte Carlo draws of Y_r per t (and per r of the survival grid).
    pub samples: usize,
    /// Points of the t grid per example.
    pub t_points: usize,
    /// Points of the δ grid.
    pub delta_points: usize,
    /// Points of the u grid in [0, 3].
    pub u_points: usize,
    /// Values of r with a survival function, per example.
    pub r_values: usize,
    /// Particles per cloud.
    pub particles: usize,
    /// Steps forward (and as many back).
    pub steps: usize,
    pub eta: f64,
    pub seed: u64,
}

impl Workload {
    /// The paper workload, as the NumPy reference ran it.
    pub fn paper() -> Self {
        Workload {
            samples: 100_000,
            t_points: 200,
            delta_points: 501,
            u_points: 301,
            r_values: 10,
            particles: 100_000,
            steps: 150,
            eta: 0.01,
            seed: 2411_01629,
        }
    }

    /// A smoke run: the same grids with a tenth of the samples and particles.
    pub fn quick() -> Self {
        Workload {
            samples: 10_000,
            particles: 10_000,
            ..Workload::paper()
        }
    }
}

/// The examples of part (a) with the end of their t grid.
pub fn sweep_examples() -> Vec<(u32, Measure, f64)> {
    (1..=6)
        .map(|k| {
            let m = Measure::paper_example(k).expect("examples 1-6 exist");
            (k, m, if k == 6 { 2.0 } else { 1.5 })
        })
        .collect()
}

/// The values of M for ζ*_M.
pub const BIG_MS: [f64; 5] = [1.0, 2.0, 3.0, 4.0, 5.0];

/// What one t of the sweep produced.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    pub example: u32,
    pub t: f64,
    pub m_star: f64,
    pub delta_star: f64,
    pub zeta: [f64; 5],
    /// h(δ) summed over the δ grid (a checksum of the whole curve).
    pub h_sum: f64,
}

/// What part (a) produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    pub points: Vec<SweepPoint>,
    /// s_r(u) summed over the u grid, per example and r (∫ s_r ≈ E L_r · 100).
    pub survival_sums: Vec<f64>,
}

/// (example, t) and (example, r) jobs in a fixed order, with their random streams.
/// (example index, t or r, random stream).
type Job = (usize, f64, u64);

fn sweep_jobs(w: &Workload) -> (Vec<Job>, Vec<Job>) {
    let examples = sweep_examples();
    let mut t_jobs = Vec::new();
    let mut r_jobs = Vec::new();
    for (e, (_, _, t_max)) in examples.iter().enumerate() {
        for (i, t) in linspace(0.01, *t_max, w.t_points, false)
            .into_iter()
            .enumerate()
        {
            let stream = crate::experiment::complexity::localization_stream(e, i).number();
            t_jobs.push((e, t, stream));
        }
        for (j, r) in linspace(0.1, 3.0, w.r_values, false)
            .into_iter()
            .enumerate()
        {
            let purpose = Purpose::SweepSurvival {
                example: e as u32,
                point: j as u32,
            };
            r_jobs.push((e, r, purpose.number()));
        }
    }
    (t_jobs, r_jobs)
}

/// Part (a) by Monte Carlo, as the paper did it.
pub fn sweep_monte_carlo(w: &Workload) -> Sweep {
    sweep_with(
        w,
        |m, t, stream, deltas| {
            let h =
                localize::tail_mc_sampled(m, localize::snr(t), w.samples, w.seed, stream, deltas);
            let c = localize::complexity_from_tail(deltas, &h);
            let zeta = BIG_MS.map(|bm| localize::zeta_star_from_tail(t, bm, deltas, &h));
            (c, zeta, h.iter().map(|e| e.value).sum())
        },
        |m, r, stream, us| {
            localize::survival_mc_sampled(m, r, w.samples, w.seed, stream, us)
                .iter()
                .map(|e| e.value)
                .sum()
        },
    )
}

/// Part (a) exactly, by quadrature.
pub fn sweep_exact(w: &Workload) -> Sweep {
    sweep_with(
        w,
        |m, t, _, deltas| {
            let loc = ExactLocalization::new(m, localize::snr(t));
            let sigma2 = localize::ou_noise_var(t);
            let zeta = BIG_MS.map(|bm| loc.best_gap(bm).1 / sigma2);
            let h_sum = deltas.iter().map(|&d| loc.integrated_tail(d)).sum();
            (loc.complexity(), zeta, h_sum)
        },
        |m, r, _, us| {
            let loc = ExactLocalization::new(m, r);
            us.iter().map(|&u| loc.survival(u)).sum()
        },
    )
}

/// Part (a) with `point` giving (m*, δ*; ζ*_M for [`BIG_MS`]; h summed over the δ grid)
/// of an example at t, and `survival` the sum of s_r over the u grid at r, each
/// handed its job's random stream; the jobs run in parallel.
fn sweep_with(
    w: &Workload,
    point: impl Fn(&Measure, f64, u64, &[f64]) -> (localize::Complexity, [f64; 5], f64) + Sync,
    survival: impl Fn(&Measure, f64, u64, &[f64]) -> f64 + Sync,
) -> Sweep {
    let examples = sweep_examples();
    let deltas = linspace(0.0, 1.0, w.delta_points, false);
    let us = linspace(0.0, 3.0, w.u_points, false);
    let (t_jobs, r_jobs) = sweep_jobs(w);
    let points = t_jobs
        .par_iter()
        .map(|&(e, t, stream)| {
            let (k, m, _) = &examples[e];
            let (c, zeta, h_sum) = point(m, t, stream, &deltas);
            SweepPoint {
                example: *k,
                t,
                m_star: c.m_star,
                delta_star: c.delta_star,
                zeta,
                h_sum,
            }
        })
        .collect();
    let survival_sums = r_jobs
        .par_iter()
        .map(|&(e, r, stream)| survival(&examples[e].1, r, stream, &us))
        .collect();
    Sweep {
        points,
        survival_sums,
    }
}

/// What one chain of part (b) produced.
#[derive(Clone, Debug, PartialEq)]
pub struct ParticleSummary {
    pub example: u32,
    /// W₂(μ_0, δ_0) between the initial clouds.
    pub w2_initial: f64,
    /// W₂(μ_0, ν̄_0): the initial μ-cloud against the denoised ν-cloud.
    pub w2_denoised: f64,
    /// W₂ at T = Kη, after the forward phase.
    pub w2_at_t_end: f64,
    /// Number of W₂ values recorded (2K + 2).
    pub w2_count: usize,
}

/// The paper examples of part (b), each run against δ_0.
pub const PARTICLE_EXAMPLES: [u32; 3] = [4, 5, 6];

/// Part (b): the particle chains of Examples 4, 5, 6 against δ_0, in one call that
/// diffuses their common δ_0 cloud once.
pub fn particle_chains(w: &Workload) -> Vec<ParticleSummary> {
    let cfg = ParticleConfig {
        n: w.particles,
        eta: w.eta,
        steps: w.steps,
        forward: Forward::Diffusion,
        seed: w.seed,
        snapshot_times: Vec::new(),
    };
    let nu0 = Measure::Point { at: 0.0 };
    let examples = PARTICLE_EXAMPLES;
    let mus: Vec<Measure> = examples
        .iter()
        .map(|&k| Measure::paper_example(k).expect("examples 4-6 exist"))
        .collect();
    let pairs: Vec<(&Measure, &Measure)> = mus.iter().map(|mu0| (mu0, &nu0)).collect();
    // One call for the three: their δ_0 clouds share the forward phase.
    let runs = particles::run_particles_many(&pairs, &cfg, 0)
        .expect("the paper's examples are valid particle runs");
    examples
        .iter()
        .zip(runs)
        .map(|(&k, run)| ParticleSummary {
            example: k,
            w2_initial: run.w2_initial,
            w2_denoised: run.w2_denoised,
            w2_at_t_end: run.forward.last().map_or(f64::NAN, |s| s.w2),
            w2_count: run.forward.len() + run.backward.len(),
        })
        .collect()
}

/// Run `f` on a rayon pool of `threads` workers, returning its result and wall time.
pub fn timed_on<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> (T, Duration) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool of this size can be built");
    pool.install(|| {
        let start = Instant::now();
        let out = f();
        (out, start.elapsed())
    })
}

/// Nanoseconds per call of `f(x)` over `inputs`, repeated `rounds` times per pass: the
/// best of `reps` passes (the minimum is the least disturbed by other processes on a
/// shared machine). Also returns the sum of the results, so nothing is optimised away.
pub fn ns_per_call<T>(
    inputs: &[T],
    rounds: usize,
    reps: usize,
    mut f: impl FnMut(&T) -> f64,
) -> (f64, f64) {
    let mut best = f64::INFINITY;
    let mut sink = 0.0;
    let calls = (inputs.len() * rounds).max(1) as f64;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        for _ in 0..rounds {
            for x in inputs {
                sink += f(std::hint::black_box(x));
            }
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e9 / calls);
    }
    (best, std::hint::black_box(sink))
}

/// The cost of L_r(y) for Example 6 against 4 calls of exp() on the same inputs
/// (the four component exponents -½(y - r m_i)²/v_i² at each y).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalizationCost {
    /// One value at a time (`Localizer::localization`).
    pub ns_localization: f64,
    /// Per value, over batches (`Localizer::localization_batch`, as Monte Carlo runs it).
    pub ns_localization_batch: f64,
    pub ns_four_exp: f64,
}

impl LocalizationCost {
    /// One L_r(y) at a time against 4 exp().
    pub fn ratio(&self) -> f64 {
        self.ns_localization / self.ns_four_exp
    }

    /// A batched L_r(y) against 4 exp().
    pub fn batch_ratio(&self) -> f64 {
        self.ns_localization_batch / self.ns_four_exp
    }
}

/// Fewer draws than this expected in the level set {L_r > 1 - δ*} and the Monte
/// Carlo minimum of m is not resolved (the count's relative error is 1/√draws, 10%
/// here).
pub const MIN_DRAWS_AT_MINIMUM: f64 = 100.0;

/// How far the Monte Carlo sweep is from the exact one, per example: the largest
/// |difference| over the t grid of m*, δ* and ζ*_1, leaving out the times where the
/// exact δ* is below the δ grid's first step (the grid cannot represent it: there
/// the grid's m* is h(step)/step, not m*; chapter `uniform` shows this at small t).
///
/// δ* is compared only where the Monte Carlo can resolve the minimum of m. At an
/// interior minimum the first-order condition gives m* = s_r(1 - δ*), so n·m* is the
/// expected number of the n draws with L_r > 1 - δ*, the draws the estimate of m
/// near its minimum rests on. Where it is below [`MIN_DRAWS_AT_MINIMUM`] (Example 4 at
/// the smallest t, where {L_r > 1 - δ} needs Y_r near 0, a rare event when r is
/// large), the estimated m is a handful of draws and its argmin wanders over most of
/// (0, 1]: such times are counted in `unresolved`, not compared. (m* itself is small
/// there, so its difference is still compared.)
#[derive(Clone, Debug, PartialEq)]
pub struct SweepAgreement {
    pub example: u32,
    pub m_star: f64,
    pub delta_star: f64,
    pub zeta_1: f64,
    /// Times left out.
    pub below_grid: usize,
    /// Times whose δ* was not compared (too few draws at the minimum), in order.
    pub unresolved: Vec<f64>,
    /// The largest |δ*_MC - δ*| at those times (shown beside the count, not hidden).
    pub unresolved_delta_star: f64,
}

/// Compare two sweeps of the same workload point by point; `step` is the δ grid's
/// spacing, `samples` the Monte Carlo draws per t.
pub fn agreement(mc: &Sweep, exact: &Sweep, step: f64, samples: usize) -> Vec<SweepAgreement> {
    let mut out: Vec<SweepAgreement> = Vec::new();
    for (a, b) in mc.points.iter().zip(&exact.points) {
        debug_assert!(a.example == b.example && a.t == b.t);
        if out.last().is_none_or(|s| s.example != a.example) {
            out.push(SweepAgreement {
                example: a.example,
                m_star: 0.0,
                delta_star: 0.0,
                zeta_1: 0.0,
                below_grid: 0,
                unresolved: Vec::new(),
                unresolved_delta_star: 0.0,
            });
        }
        let s = out.last_mut().expect("pushed above");
        if b.delta_star < step {
            s.below_grid += 1;
            continue;
        }
        s.m_star = s.m_star.max((a.m_star - b.m_star).abs());
        s.zeta_1 = s.zeta_1.max((a.zeta[0] - b.zeta[0]).abs());
        let d = (a.delta_star - b.delta_star).abs();
        if b.m_star > 0.0 && b.delta_star < 1.0 && samples as f64 * b.m_star < MIN_DRAWS_AT_MINIMUM
        {
            s.unresolved.push(a.t);
            s.unresolved_delta_star = s.unresolved_delta_star.max(d);
        } else {
            s.delta_star = s.delta_star.max(d);
        }
    }
    out
}

/// Time L_r for Example 6 at r = 1.5 over 4096 values of y ∈ [-12, 12] (where
/// Y_r lives), against exp() of the same four exponents per y.
pub fn localization_cost(reps: usize) -> LocalizationCost {
    let m = Measure::paper_example(6).expect("example 6 exists");
    let r = 1.5;
    let loc = m.localizer(r);
    let ys = linspace(-12.0, 12.0, 4096, false);
    let Measure::Mixture(comps) = &m else {
        unreachable!("example 6 is a mixture")
    };
    let args: Vec<[f64; 4]> = ys
        .iter()
        .map(|&y| {
            let mut a = [0.0; 4];
            for (ai, c) in a.iter_mut().zip(comps) {
                let d = y - r * c.mean;
                *ai = -0.5 * d * d / (r * r * c.var + 1.0);
            }
            a
        })
        .collect();
    let (ns_localization, _) = ns_per_call(&ys, 4, reps, |&y| loc.localization(y));
    let mut buf = ys.clone();
    let (ns_batches, _) = ns_per_call(&[(); 4], 1, reps, |_| {
        buf.copy_from_slice(&ys);
        loc.localization_batch(&mut buf);
        buf[0]
    });
    let (ns_four_exp, _) = ns_per_call(&args, 4, reps, |a| {
        a[0].exp() + a[1].exp() + a[2].exp() + a[3].exp()
    });
    LocalizationCost {
        ns_localization,
        ns_localization_batch: ns_batches / ys.len() as f64,
        ns_four_exp,
    }
}

/// The median of timed runs (the mean of the middle two of an even number).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64, m_star: f64, delta_star: f64) -> SweepPoint {
        SweepPoint {
            example: 4,
            t,
            m_star,
            delta_star,
            zeta: [0.0; 5],
            h_sum: 0.0,
        }
    }

    fn sweep(points: Vec<SweepPoint>) -> Sweep {
        Sweep {
            points,
            survival_sums: Vec::new(),
        }
    }

    #[test]
    fn delta_star_is_compared_only_where_enough_draws_reach_the_minimum() {
        // n = 10⁵: m* = 3e-4 is 30 expected draws (not compared), m* = 2e-3 is 200
        // (compared); m* = 0 (s_r(1) = 0, δ* = 1 - sup L_r) is always compared.
        let exact = sweep(vec![
            point(0.025, 3e-4, 0.987),
            point(0.1, 2e-3, 0.9),
            point(1.0, 0.0, 0.6),
        ]);
        let mc = sweep(vec![
            point(0.025, 7e-5, 0.646),
            point(0.1, 2.1e-3, 0.89),
            point(1.0, 0.0, 0.596),
        ]);
        let a = &agreement(&mc, &exact, 0.002, 100_000)[0];
        assert_eq!(a.unresolved, vec![0.025]);
        assert!((a.unresolved_delta_star - 0.341).abs() < 1e-12);
        assert!((a.delta_star - 0.01).abs() < 1e-12, "{a:?}");
        assert!((a.m_star - 2.3e-4).abs() < 1e-12);
        // With 10⁷ draws the first time has 3000 draws at its minimum: compared.
        let a = &agreement(&mc, &exact, 0.002, 10_000_000)[0];
        assert!(a.unresolved.is_empty() && (a.delta_star - 0.341).abs() < 1e-12);
    }
}
