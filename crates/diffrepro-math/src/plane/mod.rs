//! Measures in R^d and their localization: the paper's Def. 4 with the operator norm,
//! L_r(y) = ‖Cov[rX | Y_r = y]‖_op, beyond the one-dimensional examples.
//!
//! Kept apart from the 1-D `measure` and `localize` modules (which it reuses for
//! everything defined on the law of L_r alone: m*, δ*, ζ*_M, Monte Carlo summaries):
//! - `linalg`: small symmetric matrices (Cholesky, Jacobi eigenvalues, square roots);
//! - `measure`: Gaussian mixtures in R^d, the posterior of rX given Y_r, the score;
//! - `exact`: nested quadrature in the plane, constants for Gaussians;
//! - `monte_carlo`: draws of L_r(Y_r) on named ChaCha8 streams (`rng`);
//! - `particles`: OU forward steps and backward steps by the score in R^d, and W₂
//!   between clouds (exact assignment for n ≤ 2000 in any d, Bures of the clouds'
//!   moments, sliced), and the exact Gaussian trajectories.
//!
//! It hands numbers to `localize::kernel` (the `complexity` command and experiment)
//! and to the `plane` experiment kind.

pub mod exact;
pub mod linalg;
pub mod measure;
pub mod monte_carlo;
pub mod particles;

pub use exact::ExactSpace;
pub use measure::{SpaceComponent, SpaceLocalizer, SpaceMeasure};

/// The largest dimension diffrepro accepts for a measure.
pub const MAX_DIM: usize = 16;
/// The most components a d-dimensional mixture (or a product of 1-D mixtures) may have.
pub const MAX_COMPONENTS: usize = 100_000;

/// A law of X: on the real line (every 1-D family) or in R^d (Gaussian mixtures).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum Law {
    Line(crate::measure::Measure),
    Space(SpaceMeasure),
}

impl Law {
    pub fn dim(&self) -> usize {
        match self {
            Law::Line(_) => 1,
            Law::Space(m) => m.dim,
        }
    }
}

#[cfg(test)]
mod tests;
