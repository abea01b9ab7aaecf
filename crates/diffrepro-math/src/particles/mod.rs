//! Forward diffusion and backward transport of whole laws: the paper's Section 3–4
//! statements (Thm. 1–3, Cor. 1–2) and its particle figures (Figs. 7, 9, 11).
//!
//! Two engines share one schedule (step η, K steps, forward by the exact OU transition
//! or by the map f^{μ,η}, back by b^{μ,η} with the score of the true μ_t):
//! - [`run_particles`] moves clouds of n particles of μ_0 and ν_0, records W₂ between
//!   them at every step, snapshots for the ridge plots, and the denoising summary
//!   W(μ_0, ν̄_0) against W(μ_0, ν_0); [`round_trip_displacement`] checks Thm. 3 on a
//!   cloud. See `engine` for the reproducibility scheme.
//! - The Gaussian engine ([`Gaussian`], [`run_gaussian`], [`chained_ratio`], …) does
//!   the same in closed form for Gaussian μ_0 and ν_0: the exact values of Cor. 1,
//!   Thm. 1, Thm. 3, Cor. 2 and the intro example, and the oracle for the particles.
//!
//! W₂ in 1-D between equal-size samples pairs order statistics:
//! W₂² = mean((sort a - sort b)²).

mod engine;
mod gaussian;
mod sort;

pub use engine::{
    round_trip_displacement, run_particles, run_particles_many, run_particles_replicate, sample_ou,
    OuScore, ParticleConfig, ParticleError, ParticleRun, Phase, Snapshot, StepRecord,
};
pub use gaussian::{
    backward_one_step_ratio, chained_ratio, denoise_defect, diffuse_denoise_ratio,
    forward_contraction_ratio, run_gaussian, Affine, ChainedRatio, Forward, Gaussian, GaussianRun,
    GaussianState,
};

/// Pairs per block of the W₂ sum (see [`w2_sorted`]).
pub(crate) const W2_BLOCK: usize = 4096;

/// W₂ between two equal-size samples that are already sorted ascending.
/// NaN if the sizes differ or are zero.
///
/// The sum of squares is taken block by block ([`W2_BLOCK`] pairs, each block by
/// [`squared_differences`]) and the blocks' sums are added in order, so that the
/// particle engine can share the blocks of one pair of clouds between threads (or
/// sum a block while the particles' new positions are still in cache) and get the
/// same bits.
pub fn w2_sorted(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return f64::NAN;
    }
    let ss = a
        .chunks(W2_BLOCK)
        .zip(b.chunks(W2_BLOCK))
        .fold(0.0, |ss, (x, y)| ss + squared_differences(x, y));
    w2_of_sum(ss, a.len())
}

/// W₂ from the sum of squared differences of n pairs.
pub(crate) fn w2_of_sum(ss: f64, n: usize) -> f64 {
    (ss / n as f64).sqrt()
}

crate::simd::vectorised! {
    /// [`squared_differences_plain`] at the widest vectors of this CPU (each running
    /// sum adds the same terms in the same order at every width: the same bits).
    pub(crate) fn squared_differences(a: &[f64], b: &[f64]) -> f64 = squared_differences_plain;
}

/// Σ (a_i - b_i)² over equal-length slices, by eight running sums (pairs i mod 8)
/// added pairwise at the end: the loop then vectorises, where one running sum waits
/// on every addition.
#[inline(always)]
fn squared_differences_plain(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for j in 0..8 {
            acc[j] += (x[j] - y[j]) * (x[j] - y[j]);
        }
    }
    for (j, (x, y)) in ar.iter().zip(br).enumerate() {
        acc[j] += (x - y) * (x - y);
    }
    let quads = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (quads[0] + quads[2]) + (quads[1] + quads[3])
}

/// W₂ between two equal-size samples in any order (sorts copies).
pub fn w2_samples(a: &[f64], b: &[f64]) -> f64 {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    sort_sample(&mut a);
    sort_sample(&mut b);
    w2_sorted(&a, &b)
}

/// Sort a 1-D sample ascending (by `f64::total_cmp`) in O(n) for smooth samples: the
/// bucket sort the particle engine uses after every noisy step.
pub fn sort_sample(v: &mut [f64]) {
    SampleSorter::default().sort(v);
}

/// [`sort_sample`] with its buffers kept between calls, as the engine sorts a cloud
/// at every step.
#[derive(Default)]
pub struct SampleSorter(sort::Scratch);

impl SampleSorter {
    pub fn sort(&mut self, v: &mut [f64]) {
        sort::sort_cloud(v, &mut self.0);
    }
}

#[cfg(test)]
mod tests;
