//! Particles in R^d: clouds of μ_0 and ν_0 diffused forward by the exact OU transition
//! and transported back by b^{μ,η}_t(x) = x + η(x + ∇log p_{μ_t}(x)), the score of the
//! true μ_t, with W₂ between the clouds along the way: the d-dimensional counterpart of
//! `particles::run_particles`.
//!
//! A cloud is n points in R^d, row-major (`points[i·d + k]`). The score of μ_t for a
//! Gaussian mixture μ_0 comes from [`SpaceLocalizer`] at r = r(t):
//! ∇log p_{μ_t}(x) = (E[rX | Y_r = x/σ_t] - x/σ_t)/σ_t, weights in log space.
//!
//! W₂ between two clouds of equal size, three ways ([`W2Method`]):
//! - `Exact`: the optimal assignment (a shortest-augmenting-path Hungarian method in
//!   f64, O(n³); [`assignment`]), W₂² = mean |a_i - b_σ(i)|²;
//! - `Sliced`: sliced W₂, √(mean over L directions θ of W₂²(⟨a, θ⟩, ⟨b, θ⟩)), the
//!   1-D sorted formula on projections; never above the exact value;
//! - `Bures`: the closed form between the Gaussians with the clouds' empirical means
//!   and covariances, |m_1 - m_2|² + tr(S_1 + S_2 - 2(S_2^{1/2} S_1 S_2^{1/2})^{1/2}).
//!
//! Randomness is counter-based as in one dimension (the streams are named in
//! [`crate::rng`]): replicate r draws μ_0/ν_0 from the streams 4r/4r + 1 of the seed
//! (chunk c of the cloud from word c·2⁴⁰) and the forward noise of μ/ν from
//! 4r + 2/4r + 3 (normal draw k·2³² + i·d + j for coordinate j of particle i at step
//! k); the slicing directions come from their own stream. Results are bit-identical on
//! any number of threads.
//!
//! When μ_0 is one Gaussian and ν_0 a Gaussian or a point, every map is affine and the
//! laws stay Gaussian: [`gaussian_trajectory`] follows the exact laws and gives the
//! Bures W₂ between them, the n → ∞ limit of the clouds' values.

// Matrix code indexes rows and columns by number; iterators would hide the algebra.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

use super::linalg::{inverse_and_log_det, mat_mul, sym_sqrt};
use super::measure::SpaceMeasure;
use crate::localize::{ou_noise_var, snr};
use crate::measure::sample::Stream;
use crate::particles::{sort_sample, w2_sorted, Phase};
use crate::rng::Purpose;

/// Particles per chunk of work.
const CHUNK: usize = 1024;
/// Stream words reserved per chunk for the initial draws.
const INIT_WORDS_SHIFT: u32 = 40;
/// Normal draws reserved per forward step.
const STEP_SHIFT: u32 = 32;
/// The stream of the slicing directions (far from the replicates' 4r, …, 4r + 3).
/// The largest cloud the exact assignment accepts (O(n³) time, O(n) memory).
pub const MAX_EXACT: usize = 2000;

/// How W₂ between two clouds is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum W2Method {
    Exact,
    Sliced,
    Bures,
}

impl W2Method {
    pub const NAMES: [&'static str; 3] = ["exact", "sliced", "bures"];

    pub fn name(self) -> &'static str {
        match self {
            W2Method::Exact => "exact",
            W2Method::Sliced => "sliced",
            W2Method::Bures => "bures",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "exact" => Some(W2Method::Exact),
            "sliced" => Some(W2Method::Sliced),
            "bures" => Some(W2Method::Bures),
            _ => None,
        }
    }
}

/// Optimal assignment for the n×n cost `cost(i, j)` (minimum total cost): returns
/// `col[i]`, the column given to row i. The shortest-augmenting-path Hungarian method
/// with dual potentials, O(n³) time and O(n) memory beyond the costs it asks for.
/// Costs must be finite (a NaN cost gives an arbitrary permutation).
pub fn assignment(n: usize, cost: impl Fn(usize, usize) -> f64) -> Vec<usize> {
    // 1-based rows and columns; column 0 is the virtual start of each augmenting path.
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; n + 1];
    let mut row_of = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    let mut minv = vec![0.0f64; n + 1];
    // The columns not yet on the current path, and those on it: the scans below run
    // over lists rather than testing a flag per column.
    let mut free: Vec<usize> = Vec::with_capacity(n);
    let mut on_path: Vec<usize> = Vec::with_capacity(n + 1);
    for i in 1..=n {
        row_of[0] = i;
        let mut j0 = 0;
        free.clear();
        free.extend(1..=n);
        on_path.clear();
        on_path.push(0);
        minv.fill(f64::INFINITY);
        loop {
            let i0 = row_of[j0];
            let ui = u[i0];
            let mut delta = f64::INFINITY;
            let mut best = 0;
            for (pos, &j) in free.iter().enumerate() {
                let cur = cost(i0 - 1, j - 1) - ui - v[j];
                if cur < minv[j] {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if minv[j] < delta {
                    delta = minv[j];
                    best = pos;
                }
            }
            let j1 = free.swap_remove(best);
            for &j in &on_path {
                u[row_of[j]] += delta;
                v[j] -= delta;
            }
            for &j in &free {
                minv[j] -= delta;
            }
            on_path.push(j1);
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut col = vec![0usize; n];
    for j in 1..=n {
        col[row_of[j] - 1] = j - 1;
    }
    col
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Exact W₂ between two clouds of n points in R^d (the optimal assignment). NaN if
/// the sizes differ, are zero, or a coordinate is not finite.
pub fn w2_exact(a: &[f64], b: &[f64], d: usize) -> f64 {
    if a.len() != b.len() || a.is_empty() || d == 0 || !a.len().is_multiple_of(d) {
        return f64::NAN;
    }
    if !a.iter().chain(b).all(|x| x.is_finite()) {
        return f64::NAN;
    }
    let n = a.len() / d;
    // The cost matrix once (8n² bytes, 32 MB at n = MAX_EXACT): the solver reads rows
    // many times.
    let costs: Vec<f64> = a
        .par_chunks(d)
        .flat_map_iter(|p| b.chunks(d).map(move |q| dist2(p, q)))
        .collect();
    let col = assignment(n, |i, j| costs[i * n + j]);
    let ss: f64 = (0..n).map(|i| costs[i * n + col[i]]).sum();
    (ss / n as f64).sqrt()
}

/// L unit directions in R^d (row-major L×d), normalised Gaussian vectors from stream
/// `stream` of `seed`: uniform on the sphere.
pub fn directions(d: usize, count: usize, seed: u64, stream: u64) -> Vec<f64> {
    let s = Stream::new(seed, stream);
    let mut out = vec![0.0; d * count];
    for l in 0..count {
        let row = &mut out[l * d..(l + 1) * d];
        s.normals((l * d) as u64, row);
        let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| *x /= norm);
        } else {
            row[0] = 1.0;
        }
    }
    out
}

/// Sliced W₂ between two clouds: √(mean over the directions θ of W₂²(⟨a, θ⟩, ⟨b, θ⟩)).
/// `dirs` is row-major (L×d, unit rows). Each projection is 1-Lipschitz, so the value
/// is at most [`w2_exact`]; in d = 1 (θ = ±1) the two are equal.
pub fn w2_sliced(a: &[f64], b: &[f64], d: usize, dirs: &[f64]) -> f64 {
    if a.len() != b.len() || a.is_empty() || d == 0 || dirs.is_empty() {
        return f64::NAN;
    }
    let n = a.len() / d;
    let count = dirs.len() / d;
    let total: f64 = (0..count)
        .into_par_iter()
        .map(|l| {
            let th = &dirs[l * d..(l + 1) * d];
            let proj = |c: &[f64]| -> Vec<f64> {
                let mut p: Vec<f64> = (0..n)
                    .map(|i| {
                        c[i * d..(i + 1) * d]
                            .iter()
                            .zip(th)
                            .map(|(x, t)| x * t)
                            .sum()
                    })
                    .collect();
                sort_sample(&mut p);
                p
            };
            let w = w2_sorted(&proj(a), &proj(b));
            w * w
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum();
    (total / count as f64).sqrt()
}

/// Mean and covariance (divided by n) of a cloud.
pub fn cloud_moments(c: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = c.len() / d;
    let mut mean = vec![0.0; d];
    for p in c.chunks(d) {
        for k in 0..d {
            mean[k] += p[k];
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0.0; d * d];
    for p in c.chunks(d) {
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] += (p[i] - mean[i]) * (p[j] - mean[j]);
            }
        }
    }
    cov.iter_mut().for_each(|v| *v /= n as f64);
    (mean, cov)
}

/// W₂ between N(m1, S1) and N(m2, S2) (the Bures closed form).
pub fn bures(m1: &[f64], s1: &[f64], m2: &[f64], s2: &[f64], d: usize) -> f64 {
    let r2 = sym_sqrt(s2, d);
    let mid = mat_mul(&mat_mul(&r2, s1, d), &r2, d);
    // Symmetrise against rounding before the square root.
    let mut sym = mid.clone();
    for i in 0..d {
        for j in 0..d {
            sym[i * d + j] = 0.5 * (mid[i * d + j] + mid[j * d + i]);
        }
    }
    let root = sym_sqrt(&sym, d);
    let tr = |m: &[f64]| (0..d).map(|i| m[i * d + i]).sum::<f64>();
    let w2 = dist2(m1, m2) + tr(s1) + tr(s2) - 2.0 * tr(&root);
    w2.max(0.0).sqrt()
}

/// Bures W₂ between the Gaussians with the clouds' empirical moments.
pub fn w2_bures(a: &[f64], b: &[f64], d: usize) -> f64 {
    if a.len() != b.len() || a.is_empty() || d == 0 {
        return f64::NAN;
    }
    let (m1, s1) = cloud_moments(a, d);
    let (m2, s2) = cloud_moments(b, d);
    bures(&m1, &s1, &m2, &s2, d)
}

/// The score of μ_t (t > 0) for a Gaussian mixture μ_0 in R^d.
pub struct SpaceScore {
    loc: super::measure::SpaceLocalizer,
    sigma: f64,
}

impl SpaceScore {
    pub fn new(mu0: &SpaceMeasure, t: f64) -> Self {
        SpaceScore {
            loc: mu0.localizer(snr(t)),
            sigma: ou_noise_var(t).sqrt(),
        }
    }

    /// ∇log p_{μ_t}(x) into `out`; `y` is scratch of length d.
    pub fn score(&self, x: &[f64], y: &mut [f64], out: &mut [f64]) {
        for (yk, xk) in y.iter_mut().zip(x) {
            *yk = xk / self.sigma;
        }
        self.loc.score(y, out);
        out.iter_mut().for_each(|s| *s /= self.sigma);
    }

    /// b^{μ,η}_t on every point of a cloud, in parallel over chunks.
    pub fn backward_cloud(&self, cloud: &mut [f64], d: usize, eta: f64) {
        cloud.par_chunks_mut(CHUNK * d).for_each(|chunk| {
            let (mut y, mut s) = (vec![0.0; d], vec![0.0; d]);
            for x in chunk.chunks_mut(d) {
                self.score(x, &mut y, &mut s);
                for k in 0..d {
                    x[k] += eta * (x[k] + s[k]);
                }
            }
        });
    }
}

/// n draws of μ (row-major n×d); chunk c of stream `stream` starts at word c·2⁴⁰.
pub fn initial_cloud(m: &SpaceMeasure, n: usize, seed: u64, stream: u64) -> Vec<f64> {
    let d = m.dim;
    let base = Stream::new(seed, stream);
    let sampler = m.sampler();
    let mut out = vec![0.0; n * d];
    out.par_chunks_mut(CHUNK * d)
        .enumerate()
        .for_each(|(c, chunk)| {
            let mut rng = base.rng_at((c as u64) << INIT_WORDS_SHIFT);
            let mut z = vec![0.0; d];
            for x in chunk.chunks_mut(d) {
                sampler.sample_x(&mut rng, x, &mut z);
            }
        });
    out
}

/// One exact OU step x ← e^{-η}x + √(1 - e^{-2η}) Z of a cloud (step number `step`).
pub fn diffuse_cloud(cloud: &mut [f64], d: usize, eta: f64, noise: &Stream, step: usize) {
    let decay = (-eta).exp();
    let sd = ou_noise_var(eta).sqrt();
    cloud
        .par_chunks_mut(CHUNK * d)
        .enumerate()
        .for_each(|(c, chunk)| {
            let mut z = vec![0.0; chunk.len()];
            noise.normals(
                ((step as u64) << STEP_SHIFT) + (c * CHUNK * d) as u64,
                &mut z,
            );
            for (x, z) in chunk.iter_mut().zip(&z) {
                *x = decay * *x + sd * z;
            }
        });
}

/// What to run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SpaceParticleConfig {
    /// Particles per cloud.
    pub n: usize,
    pub eta: f64,
    pub steps: usize,
    pub seed: u64,
    /// W₂ is recorded at steps 0, every, 2·every, … and at the last step of each phase.
    pub every: usize,
    /// The W₂ methods recorded, in this order.
    pub methods: Vec<W2Method>,
    /// Directions of the sliced W₂.
    pub slices: usize,
    /// Steps at which to keep both clouds, in each phase.
    pub snapshot_steps: Vec<usize>,
}

/// W₂ between the clouds at one recorded step (one value per method, in order).
#[derive(Clone, Debug, PartialEq)]
pub struct SpaceRecord {
    pub phase: Phase,
    /// k, with t = kη.
    pub step: usize,
    pub t: f64,
    pub w2: Vec<f64>,
}

/// Both clouds at one step of one phase.
#[derive(Clone, Debug, PartialEq)]
pub struct SpaceSnapshot {
    pub phase: Phase,
    pub step: usize,
    pub t: f64,
    pub mu: Vec<f64>,
    pub nu: Vec<f64>,
}

/// The outcome of [`run_space_particles`] (per-method values in `cfg.methods` order).
#[derive(Clone, Debug, PartialEq)]
pub struct SpaceRun {
    /// Forward records (t = 0 first), then backward ones (t = T first).
    pub records: Vec<SpaceRecord>,
    pub snapshots: Vec<SpaceSnapshot>,
    /// W₂(μ_0, ν_0) between the initial clouds.
    pub w2_initial: Vec<f64>,
    /// W₂(μ_0, ν̄_0): the initial μ-cloud against the denoised ν-cloud.
    pub w2_denoised: Vec<f64>,
    /// W₂(μ_0, μ̄_0): the initial μ-cloud against its own round trip.
    pub w2_round_trip: Vec<f64>,
}

/// W₂ by each method.
fn measure_all(a: &[f64], b: &[f64], d: usize, methods: &[W2Method], dirs: &[f64]) -> Vec<f64> {
    methods
        .iter()
        .map(|m| match m {
            W2Method::Exact => w2_exact(a, b, d),
            W2Method::Sliced => w2_sliced(a, b, d, dirs),
            W2Method::Bures => w2_bures(a, b, d),
        })
        .collect()
}

/// Run μ_0 and ν_0 (in the same R^d) forward to T = Kη by the exact OU transition and
/// back by b^{μ,η} on the random streams of replicate `replicate` (see the module
/// header). The caller checks the sizes (`n ≥ 1`, n ≤ [`MAX_EXACT`] for the exact
/// method, `every ≥ 1`, η > 0).
pub fn run_space_particles(
    mu0: &SpaceMeasure,
    nu0: &SpaceMeasure,
    cfg: &SpaceParticleConfig,
    replicate: u64,
) -> SpaceRun {
    let d = mu0.dim;
    assert_eq!(d, nu0.dim, "μ_0 and ν_0 live in the same space");
    let stream = |draw: u8| Purpose::Particles { replicate, draw }.number();
    let eta = cfg.eta;
    let time = |k: usize| k as f64 * eta;
    let dirs = directions(
        d,
        cfg.slices.max(1),
        cfg.seed,
        Purpose::SlicingDirections.number(),
    );
    let every = cfg.every.max(1);
    let recorded = |k: usize| k.is_multiple_of(every) || k == cfg.steps;
    let measure = |a: &[f64], b: &[f64]| measure_all(a, b, d, &cfg.methods, &dirs);

    let mu_start = initial_cloud(mu0, cfg.n, cfg.seed, stream(0));
    let nu_start = initial_cloud(nu0, cfg.n, cfg.seed, stream(1));
    let (mut mu, mut nu) = (mu_start.clone(), nu_start.clone());
    let noise_mu = Stream::new(cfg.seed, stream(2));
    let noise_nu = Stream::new(cfg.seed, stream(3));
    let mut records = Vec::new();
    let mut snapshots = Vec::new();
    let mut keep = |phase: Phase, k: usize, mu: &[f64], nu: &[f64], records: &mut Vec<_>| {
        if recorded(k) {
            records.push(SpaceRecord {
                phase,
                step: k,
                t: time(k),
                w2: measure(mu, nu),
            });
        }
        if cfg.snapshot_steps.contains(&k) {
            snapshots.push(SpaceSnapshot {
                phase,
                step: k,
                t: time(k),
                mu: mu.to_vec(),
                nu: nu.to_vec(),
            });
        }
    };
    keep(Phase::Forward, 0, &mu, &nu, &mut records);
    for k in 0..cfg.steps {
        rayon::join(
            || diffuse_cloud(&mut mu, d, eta, &noise_mu, k),
            || diffuse_cloud(&mut nu, d, eta, &noise_nu, k),
        );
        keep(Phase::Forward, k + 1, &mu, &nu, &mut records);
    }
    keep(Phase::Backward, cfg.steps, &mu, &nu, &mut records);
    for k in (1..=cfg.steps).rev() {
        let score = SpaceScore::new(mu0, time(k));
        rayon::join(
            || score.backward_cloud(&mut mu, d, eta),
            || score.backward_cloud(&mut nu, d, eta),
        );
        keep(Phase::Backward, k - 1, &mu, &nu, &mut records);
    }
    SpaceRun {
        records,
        snapshots,
        w2_initial: measure(&mu_start, &nu_start),
        w2_denoised: measure(&mu_start, &nu),
        w2_round_trip: measure(&mu_start, &mu),
    }
}

/// A Gaussian law N(mean, cov) in R^d (cov may be singular: a point mass).
#[derive(Clone, Debug, PartialEq)]
pub struct GaussLaw {
    pub mean: Vec<f64>,
    pub cov: Vec<f64>,
}

impl GaussLaw {
    /// The law of a single-component mixture (None for more components).
    pub fn of(m: &SpaceMeasure) -> Option<Self> {
        (m.comps.len() == 1).then(|| GaussLaw {
            mean: m.comps[0].mean.clone(),
            cov: m.comps[0].cov.clone(),
        })
    }

    fn w2(&self, other: &GaussLaw) -> f64 {
        bures(
            &self.mean,
            &self.cov,
            &other.mean,
            &other.cov,
            self.mean.len(),
        )
    }

    /// The law after OU time s.
    fn diffuse(&self, s: f64) -> GaussLaw {
        let d = self.mean.len();
        let (a, v) = ((-s).exp(), ou_noise_var(s));
        let mut cov: Vec<f64> = self.cov.iter().map(|c| a * a * c).collect();
        for k in 0..d {
            cov[k * d + k] += v;
        }
        GaussLaw {
            mean: self.mean.iter().map(|m| a * m).collect(),
            cov,
        }
    }

    /// The law after x ↦ A x + c (A symmetric).
    fn affine(&self, a: &[f64], c: &[f64]) -> GaussLaw {
        let d = self.mean.len();
        let mean = (0..d)
            .map(|i| c[i] + (0..d).map(|j| a[i * d + j] * self.mean[j]).sum::<f64>())
            .collect();
        GaussLaw {
            mean,
            cov: mat_mul(&mat_mul(a, &self.cov, d), a, d),
        }
    }
}

/// The exact W₂ trajectory when μ_0 is Gaussian (and ν_0 Gaussian or a point): the
/// Bures W₂ between the exact laws of the two clouds at every recorded step of
/// [`run_space_particles`] (same order as its `records`), then the exact
/// (initial, denoised, round trip) values. Backward, b^{μ,η}_t(x) = A_t x + c_t with
/// A_t = (1 + η)I - ηΣ_t⁻¹, c_t = ηΣ_t⁻¹m_t for μ_t = N(m_t, Σ_t), so the laws stay
/// Gaussian. None unless both laws are single Gaussians.
pub fn gaussian_trajectory(
    mu0: &SpaceMeasure,
    nu0: &SpaceMeasure,
    eta: f64,
    steps: usize,
    every: usize,
) -> Option<(Vec<f64>, [f64; 3])> {
    let d = mu0.dim;
    let (m0, n0) = (GaussLaw::of(mu0)?, GaussLaw::of(nu0)?);
    let every = every.max(1);
    let recorded = |k: usize| k.is_multiple_of(every) || k == steps;
    let mut out = Vec::new();
    let (mut mu, mut nu) = (m0.clone(), n0.clone());
    if recorded(0) {
        out.push(mu.w2(&nu));
    }
    for k in 1..=steps {
        mu = mu.diffuse(eta);
        nu = nu.diffuse(eta);
        if recorded(k) {
            out.push(mu.w2(&nu));
        }
    }
    if recorded(steps) {
        out.push(mu.w2(&nu));
    }
    for k in (1..=steps).rev() {
        let mt = m0.diffuse(k as f64 * eta);
        let (inv, _) = inverse_and_log_det(&mt.cov, d)?;
        let mut a: Vec<f64> = inv.iter().map(|v| -eta * v).collect();
        for i in 0..d {
            a[i * d + i] += 1.0 + eta;
        }
        let c: Vec<f64> = (0..d)
            .map(|i| eta * (0..d).map(|j| inv[i * d + j] * mt.mean[j]).sum::<f64>())
            .collect();
        mu = mu.affine(&a, &c);
        nu = nu.affine(&a, &c);
        if recorded(k - 1) {
            out.push(mu.w2(&nu));
        }
    }
    Some((out, [m0.w2(&n0), m0.w2(&nu), m0.w2(&mu)]))
}

#[cfg(test)]
mod tests;
