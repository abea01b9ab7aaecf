//! Monte Carlo draws of L_r(Y_r) in R^d, reproducible across thread counts.
//!
//! The stream is named as in 1-D (`rng::Purpose::Localization`, stream number
//! `stream` of `seed`), but the generator is ChaCha8 (`rng::chacha8`: seeded with
//! `seed_from_u64(seed)` on ChaCha stream `stream`); sample i belongs to chunk
//! i / `MC_CHUNK`, and chunk k starts at word position k·2³⁶ (a chunk of 4096 draws
//! uses at most a few hundred thousand words even in d = 16). The draws are then
//! summarised by the 1-D code (`localize::survival_mc`, `tail_mc`, …), which only
//! sees a sample of L_r.

use rayon::prelude::*;

use super::measure::SpaceMeasure;
use crate::localize::MC_CHUNK;

const WORDS_PER_CHUNK: u128 = 1 << 36;

/// n draws of L_r(Y_r), Y_r = rX + Z in R^d.
pub fn sample_localization(m: &SpaceMeasure, r: f64, n: usize, seed: u64, stream: u64) -> Vec<f64> {
    let loc = m.localizer(r);
    if let Some(c) = loc.constant_localization() {
        return vec![c; n];
    }
    let sampler = m.sampler();
    let d = m.dim;
    let base = crate::rng::chacha8(seed, stream);
    let mut out = vec![0.0; n];
    out.par_chunks_mut(MC_CHUNK)
        .enumerate()
        .for_each(|(k, chunk)| {
            let mut rng = base.clone();
            rng.set_word_pos(k as u128 * WORDS_PER_CHUNK);
            let mut y = vec![0.0; d];
            let mut z = vec![0.0; d];
            for v in chunk.iter_mut() {
                sampler.sample_y(r, &mut rng, &mut y, &mut z);
                *v = if d == 2 {
                    loc.localization2([y[0], y[1]]).0
                } else {
                    loc.localization(&y)
                };
            }
        });
    out
}
