//! Random variates built directly on the raw 64-bit output of a generator.
//!
//! Every variate consumes a fixed number of 64-bit words (uniform: 1, normal: 2), so a
//! stream positioned at a known word offset always yields the same draws. That is
//! what lets the Monte Carlo code split work into chunks without depending on the
//! thread count. No rand_distr: Box-Muller is short and its cost is predictable.

use rand::Rng;

/// 2⁻⁵³.
const TWO_POW_M53: f64 = 1.0 / 9_007_199_254_740_992.0;

/// Uniform on the open interval (0, 1): 53 random bits, shifted by half a unit so
/// that neither 0 (ln 0 in Box-Muller) nor 1 can occur.
#[inline]
pub fn uniform_open01<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * TWO_POW_M53
}

/// Standard normal by the Box-Muller transform (cosine branch only, so exactly two
/// 64-bit words per draw and no hidden state).
#[inline]
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1 = uniform_open01(rng);
    let u2 = uniform_open01(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Uniform index in 0..n (n ≥ 1) by a 128-bit multiply; the bias is at most n/2⁶⁴.
#[inline]
pub fn uniform_index<R: Rng + ?Sized>(rng: &mut R, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn normal_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 200_000;
        let (mut s1, mut s2, mut s4) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let z = standard_normal(&mut rng);
            s1 += z;
            s2 += z * z;
            s4 += z * z * z * z;
        }
        let n = n as f64;
        // Standard errors: mean 1/√n ≈ 0.0022, E z² √2/√n ≈ 0.0032, E z⁴ √96/√n ≈ 0.022;
        // allow 5 of them.
        assert!((s1 / n).abs() < 0.011);
        assert!((s2 / n - 1.0).abs() < 0.016);
        assert!((s4 / n - 3.0).abs() < 0.11);
    }

    #[test]
    fn index_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut counts = [0usize; 3];
        for _ in 0..30_000 {
            counts[uniform_index(&mut rng, 3)] += 1;
        }
        // Each count ~ Bin(30000, 1/3): sd ≈ 82; allow 5 sd.
        for c in counts {
            assert!((c as f64 - 10_000.0).abs() < 410.0, "{counts:?}");
        }
    }
}
