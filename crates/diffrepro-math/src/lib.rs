//! The mathematics of diffrepro, on its own: the measures of the paper (point masses,
//! Gaussians, uniforms, Gaussian mixtures, empirical laws, and Gaussian mixtures in
//! R^d), the localization L_r and its level sets (exact by quadrature, and Monte Carlo
//! on seeded random streams, every one named in `rng`), the complexity quantities s_r,
//! h, m*, δ*, ζ*_M, particle clouds diffused and denoised, and the special functions
//! they need.
//!
//! It knows nothing of chapters, tables, figures or reports, and depends on neither
//! Polars nor Typst, so `cargo test -p diffrepro-math` builds and runs in about a
//! minute. The report crate (`diffrepro`) re-exports its modules under the same names.

pub mod localize;
pub mod measure;
pub mod particles;
pub mod phases;
pub mod plane;
pub mod rng;
pub mod simd;

/// Runs `f` on a rayon pool of `threads` threads: the thread-count identity tests
/// compare its results for different counts.
#[cfg(test)]
pub(crate) fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(f)
}
