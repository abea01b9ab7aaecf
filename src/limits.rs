//! Ceilings on what a chapter may ask for, checked before anything is allocated.
//!
//! Chapters are untrusted input: a typo like `samples: 1e12` must be refused with a
//! message, not exhaust memory. The ceilings are generous for the paper's workload;
//! `--raise-limits FACTOR` multiplies all of them for a deliberate large run.

use std::sync::atomic::{AtomicUsize, Ordering};

static FACTOR: AtomicUsize = AtomicUsize::new(1);

/// Points in one grid.
pub const GRID: usize = 100_000;
/// Rows one experiment may produce.
pub const ROWS: usize = 1_000_000;
/// Monte Carlo samples per grid point.
pub const SAMPLES: usize = 20_000_000;
/// Particles per chain.
pub const PARTICLES: usize = 2_000_000;
/// Steps of a particle chain (each step moves every particle).
pub const PARTICLE_STEPS: usize = 10_000;
/// Independent replicate runs of a particle experiment (each a whole run).
pub const REPLICATES: usize = 100;

/// What to tell a user who hit a ceiling.
pub const HINT: &str = "if you really need more, raise every ceiling with `--raise-limits FACTOR`";

/// Multiply every ceiling by `factor` (≥ 1) for this process.
pub fn raise(factor: usize) {
    FACTOR.store(factor.max(1), Ordering::Relaxed);
}

fn scaled(base: usize) -> usize {
    base.saturating_mul(FACTOR.load(Ordering::Relaxed))
}

pub fn grid() -> usize {
    scaled(GRID)
}
pub fn rows() -> usize {
    scaled(ROWS)
}
pub fn samples() -> usize {
    scaled(SAMPLES)
}
pub fn particles() -> usize {
    scaled(PARTICLES)
}
pub fn particle_steps() -> usize {
    scaled(PARTICLE_STEPS)
}
pub fn replicates() -> usize {
    scaled(REPLICATES)
}
