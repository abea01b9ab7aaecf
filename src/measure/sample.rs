//! Random variates built directly on the raw 64-bit output of a generator.
//!
//! Uniforms consume exactly one 64-bit word; normals come from a 256-layer ziggurat
//! (Marsaglia and Tsang, 2000), which takes one word 99% of the time and a few more
//! in its rare wedge and tail cases. Reproducibility therefore rests on where a
//! stream *starts*, not on how many words each draw takes: the Monte Carlo and
//! particle code position every chunk of draws at a fixed word offset far beyond
//! what the chunk can use, so a chunk's draws are a fixed function of (seed, stream,
//! chunk) whatever the thread count. The ziggurat replaced Box-Muller because the
//! cosine and logarithm per draw dominated the paper workload.
//! No rand_distr: the ziggurat is short and its tables are computed once here.

use rand::Rng;

/// 2⁻⁵³.
const TWO_POW_M53: f64 = 1.0 / 9_007_199_254_740_992.0;

/// Uniform on the open interval (0, 1): 53 random bits, shifted by half a unit so
/// that neither 0 (ln 0 in Box-Muller) nor 1 can occur.
#[inline]
pub fn uniform_open01<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * TWO_POW_M53
}

/// Layers of the ziggurat.
const ZIG_LAYERS: usize = 256;
/// Right end R of the base layer and the common area V of every layer, for 256
/// layers of exp(-x²/2) (Marsaglia and Tsang 2000; the values rand_distr uses).
const ZIG_R: f64 = 3.654_152_885_361_009;
const ZIG_V: f64 = 0.004_928_673_233_99;

/// Layer edges x_i (x_0 = V/f(R) is the base layer's pseudo-width, x_1 = R, x_256 = 0)
/// and f_i = exp(-x_i²/2).
struct Ziggurat {
    x: [f64; ZIG_LAYERS + 1],
    f: [f64; ZIG_LAYERS + 1],
}

fn ziggurat() -> &'static Ziggurat {
    static TABLES: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let pdf = |x: f64| (-0.5 * x * x).exp();
        let mut x = [0.0; ZIG_LAYERS + 1];
        x[0] = ZIG_V / pdf(ZIG_R);
        x[1] = ZIG_R;
        // Each layer has area V: x_{i-1}(f(x_i) - f(x_{i-1})) = V.
        for i in 2..ZIG_LAYERS {
            let fx = (ZIG_V / x[i - 1] + pdf(x[i - 1])).min(1.0);
            x[i] = (-2.0 * fx.ln()).sqrt();
        }
        x[ZIG_LAYERS] = 0.0;
        let mut f = [0.0; ZIG_LAYERS + 1];
        for (fi, xi) in f.iter_mut().zip(x) {
            *fi = pdf(xi);
        }
        Ziggurat { x, f }
    })
}

/// Standard normal by the ziggurat: the low 8 bits of one word pick a layer, the top
/// 52 bits a signed position in it; inside the layer's inner rectangle (99% of
/// draws) that is the answer, else the wedge is tested against the density, and the
/// base layer's overhang samples the tail beyond R by Marsaglia's exponential method.
#[inline(always)]
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let z = ziggurat();
    let bits = rng.next_u64();
    let i = (bits & 0xff) as usize;
    // 52 bits as a double in [2, 4), shifted to [-1, 1).
    let u = f64::from_bits((bits >> 12) | 0x4000_0000_0000_0000) - 3.0;
    let x = u * z.x[i];
    if x.abs() < z.x[i + 1] {
        return x;
    }
    normal_outside(rng, z, i, u, x)
}

/// The 1% of ziggurat draws that miss the layer's inner rectangle: the wedge test,
/// the tail, or a fresh draw.
#[cold]
#[inline(never)]
fn normal_outside<R: Rng + ?Sized>(rng: &mut R, z: &Ziggurat, i: usize, u: f64, x: f64) -> f64 {
    let (mut i, mut u, mut x) = (i, u, x);
    loop {
        if i == 0 {
            return normal_tail(rng, u < 0.0);
        }
        if z.f[i + 1] + (z.f[i] - z.f[i + 1]) * uniform_open01(rng) < (-0.5 * x * x).exp() {
            return x;
        }
        let bits = rng.next_u64();
        i = (bits & 0xff) as usize;
        u = f64::from_bits((bits >> 12) | 0x4000_0000_0000_0000) - 3.0;
        x = u * z.x[i];
        if x.abs() < z.x[i + 1] {
            return x;
        }
    }
}

/// A draw of |Z| conditioned on |Z| > R, with the given sign.
#[cold]
fn normal_tail<R: Rng + ?Sized>(rng: &mut R, negative: bool) -> f64 {
    loop {
        let x = -uniform_open01(rng).ln() / ZIG_R;
        let y = -uniform_open01(rng).ln();
        if 2.0 * y >= x * x {
            return if negative { -(ZIG_R + x) } else { ZIG_R + x };
        }
    }
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
    fn ziggurat_layers_have_equal_area() {
        let z = ziggurat();
        let pdf = |x: f64| (-0.5 * x * x).exp();
        // Base layer: the rectangle [0, R] × [0, f(R)] plus the tail beyond R.
        let tail =
            (std::f64::consts::PI / 2.0).sqrt() * super::super::special::erfc(ZIG_R / 2f64.sqrt());
        assert!((ZIG_R * pdf(ZIG_R) + tail - ZIG_V).abs() < 1e-13);
        for i in 1..ZIG_LAYERS {
            assert!(z.x[i] > z.x[i + 1], "layer {i}");
            let area = z.x[i] * (z.f[i + 1] - z.f[i]);
            // The published (R, V) close the top layer to 1e-9 relative, as in rand_distr.
            assert!((area - ZIG_V).abs() < 1e-11, "layer {i}: {area}");
        }
        assert_eq!(z.x[ZIG_LAYERS], 0.0);
    }

    #[test]
    fn normal_tails_and_quantiles() {
        // P(Z > q) at q = 1, 2, 3, and beyond the ziggurat's R = 3.654 (tail sampler).
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let n = 4_000_000;
        let qs = [0.5, 1.0, 2.0, 3.0, 3.8];
        let mut above = [0usize; 5];
        let mut below = [0usize; 5];
        for _ in 0..n {
            let z = standard_normal(&mut rng);
            for (k, q) in qs.iter().enumerate() {
                above[k] += usize::from(z > *q);
                below[k] += usize::from(z < -*q);
            }
        }
        for (k, q) in qs.iter().enumerate() {
            let p = 0.5 * super::super::special::erfc(q / 2f64.sqrt());
            // Binomial standard error √(p(1-p)/n); allow 5 of them.
            let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
            for (side, c) in [("above", above[k]), ("below", below[k])] {
                let got = c as f64 / n as f64;
                assert!(
                    (got - p).abs() < tol,
                    "P(Z {side} ±{q}) = {got}, want {p} ± {tol}"
                );
            }
        }
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
