//! Random variates: a counter-based generator and the variates built on it.
//!
//! [`Stream`] is a counter-based generator: word i of stream (seed, stream) is a fixed
//! bijective 64-bit mix (the SplitMix64 finaliser) of key + i·γ, where the key is
//! derived from (seed, stream) and γ is the golden-ratio increment. So word i is a pure
//! function of (seed, stream, i): no state to advance, no position to seek, and a
//! block of words is computed by independent lanes that vectorise. Draw i of a normal
//! or uniform sample uses word i of its own sub-stream ([`Stream::normals`],
//! [`Stream::uniforms`]), so every draw is a fixed function of (seed, stream, i) and
//! results are bit-identical whatever the thread count or chunking.
//!
//! Normals come from a 256-layer ziggurat (Marsaglia and Tsang, 2000): one word per
//! draw 99% of the time (the inner rectangle, computed branch-free on a whole block);
//! the rare wedge and tail cases of draw i continue on a sequential generator
//! ([`CounterRng`]) positioned at i·2²⁰ of a fallback sub-stream, far more words than
//! any draw uses. The generic functions below ([`standard_normal`], [`uniform_open01`])
//! take any `rand::Rng`, [`CounterRng`] included.
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

/// The golden-ratio increment of SplitMix64.
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// The SplitMix64 finaliser (Stafford's mix 13): a bijection of u64 with full
/// avalanche.
#[inline(always)]
pub fn mix64(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A counter-based random stream: word i is `mix64(key + i·γ)` (see the module header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stream {
    key: u64,
}

/// Sub-streams of a [`Stream`], one per use, so draws of different kinds never share
/// a word.
const SUB_UNIFORM: u64 = 1;
const SUB_NORMAL: u64 = 2;
const SUB_FALLBACK: u64 = 3;
/// Words of the fallback sub-stream reserved per normal draw.
const FALLBACK_SHIFT: u32 = 20;

impl Stream {
    /// Stream `stream` of master seed `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        Stream {
            key: mix64(
                mix64(seed ^ 0x6a09_e667_f3bc_c908).wrapping_add(stream.wrapping_mul(GAMMA)),
            ),
        }
    }

    /// An independent stream derived from this one (`lane` picks which).
    pub fn sub(&self, lane: u64) -> Stream {
        Stream {
            key: mix64(self.key ^ mix64(lane.wrapping_add(0xbb67_ae85_84ca_a73b))),
        }
    }

    /// Word i.
    #[inline(always)]
    pub fn word(&self, i: u64) -> u64 {
        mix64(self.key.wrapping_add(i.wrapping_mul(GAMMA)))
    }

    /// Uniform index in 0..n (n ≥ 1) from word i of the uniform sub-stream (as
    /// [`uniform_index`]).
    #[inline]
    pub fn index(&self, i: u64, n: usize) -> usize {
        let w = self.sub_key(SUB_UNIFORM).word(i);
        ((u128::from(w) * n as u128) >> 64) as usize
    }

    /// A sequential generator reading words `start`, `start + 1`, … of this stream.
    pub fn rng_at(&self, start: u64) -> CounterRng {
        CounterRng {
            stream: *self,
            counter: start,
        }
    }

    /// Uniform draw i on (0, 1): (2m + 1)·2⁻⁵³ for the top 52 bits m of word i of the
    /// uniform sub-stream, so neither 0 nor 1 can occur.
    #[inline]
    pub fn uniform(&self, i: u64) -> f64 {
        open01_from_bits(self.sub_key(SUB_UNIFORM).word(i))
    }

    /// Normal draw i (the ziggurat of [`standard_normal`], fast path on word i).
    #[inline]
    pub fn normal(&self, i: u64) -> f64 {
        let z = ziggurat();
        let bits = self.sub_key(SUB_NORMAL).word(i);
        let (layer, u, x) = zig_fast(z, bits);
        if x.abs() < z.x[layer + 1] {
            return x;
        }
        self.normal_slow(z, i, layer, u, x)
    }

    #[cold]
    #[inline(never)]
    fn normal_slow(&self, z: &Ziggurat, i: u64, layer: usize, u: f64, x: f64) -> f64 {
        let mut rng = self
            .sub_key(SUB_FALLBACK)
            .rng_at(i.wrapping_shl(FALLBACK_SHIFT));
        normal_outside(&mut rng, z, layer, u, x)
    }

    #[inline(always)]
    fn sub_key(&self, lane: u64) -> Stream {
        // Cheaper than `sub` (called per draw): the key xor a distinct odd constant per lane.
        Stream {
            key: self.key ^ lane.wrapping_mul(0xd1b5_4a32_d192_ed03),
        }
    }

    /// `out[j]` = uniform draw `start + j` (vectorised: see `crate::simd`).
    pub fn uniforms(&self, start: u64, out: &mut [f64]) {
        uniforms_wide(self.sub_key(SUB_UNIFORM), start, out)
    }

    /// `out[j]` = normal draw `start + j`: the ziggurat's fast path on the whole slice
    /// (branch-free, four at a time with AVX2 intrinsics where the CPU has them: see
    /// `normals_fast_avx2`), then the few draws outside the inner rectangles one by
    /// one. Equal to [`Stream::normal`] draw by draw, at every vector width.
    pub fn normals(&self, start: u64, out: &mut [f64]) {
        for (b, block) in out.chunks_mut(NORMAL_BLOCK).enumerate() {
            let first = start.wrapping_add((b * NORMAL_BLOCK) as u64);
            let mut reject = [0u64; NORMAL_BLOCK / 64];
            normals_fast_best(self.sub_key(SUB_NORMAL), first, block, &mut reject);
            // About 1% of draws are rejected: visit the set bits of the masks.
            for (w, &mask) in reject.iter().enumerate() {
                let mut mask = mask;
                while mask != 0 {
                    let j = 64 * w + mask.trailing_zeros() as usize;
                    block[j] = self.normal(first.wrapping_add(j as u64));
                    mask &= mask - 1;
                }
            }
        }
    }
}

/// (2m + 1)·2⁻⁵³ for the top 52 bits m of `w`: 1 + m·2⁻⁵² built from bits, less
/// 1 - 2⁻⁵³ (exact: the operands are within a factor 2). Bit operations and one
/// subtraction, which vectorise (a u64 → f64 conversion does not, on AVX2).
#[inline(always)]
fn open01_from_bits(w: u64) -> f64 {
    f64::from_bits(0x3ff0_0000_0000_0000 | (w >> 12)) - (1.0 - 0.5 * TWO_POW_M52)
}

/// 2⁻⁵².
const TWO_POW_M52: f64 = f64::EPSILON;

/// Word j hashes key + (start + j)·γ: the argument steps by γ from draw to draw (an
/// addition per vector instead of a 64-bit multiply, which AVX2 builds from three).
#[inline(always)]
fn uniforms_plain(s: Stream, start: u64, out: &mut [f64]) {
    let mut arg = s.key.wrapping_add(start.wrapping_mul(GAMMA));
    for v in out.iter_mut() {
        *v = open01_from_bits(mix64(arg));
        arg = arg.wrapping_add(GAMMA);
    }
}

crate::simd::vectorised! {
    /// [`uniforms_plain`] at the widest vectors of this CPU.
    fn uniforms_wide(s: Stream, start: u64, out: &mut [f64]) = uniforms_plain;
}

/// Draws per block of [`Stream::normals`].
const NORMAL_BLOCK: usize = 256;

/// The ziggurat's fast path on one word: (layer, signed position u ∈ [-1, 1), x).
#[inline(always)]
fn zig_fast(z: &Ziggurat, bits: u64) -> (usize, f64, f64) {
    let i = (bits & 0xff) as usize;
    let u = f64::from_bits((bits >> 12) | 0x4000_0000_0000_0000) - 3.0;
    (i, u, u * z.x[i])
}

/// The ziggurat's fast path on draws `first`, … of `s` into `out` (at most
/// [`NORMAL_BLOCK`]), with bit j of `reject[j / 64]` set for each draw j outside its
/// layer's inner rectangle (to be drawn again by [`Stream::normal`]).
#[inline(always)]
fn normals_fast(s: Stream, first: u64, out: &mut [f64], reject: &mut [u64; NORMAL_BLOCK / 64]) {
    let z = ziggurat();
    let mut flags = [false; NORMAL_BLOCK];
    for (j, (v, rej)) in out.iter_mut().zip(flags.iter_mut()).enumerate() {
        let bits = s.word(first.wrapping_add(j as u64));
        let (i, _, x) = zig_fast(z, bits);
        *v = x;
        *rej = x.abs() >= z.x[i + 1];
    }
    for (mask, flags) in reject.iter_mut().zip(flags.chunks_exact(64)) {
        *mask = flags
            .iter()
            .enumerate()
            .fold(0, |m, (j, &r)| m | (u64::from(r) << j));
    }
}

/// [`normals_fast`]: written with AVX2 intrinsics where this CPU has them
/// ([`normals_fast_avx2`]), else the plain code.
#[inline(always)]
fn normals_fast_best(
    s: Stream,
    first: u64,
    out: &mut [f64],
    reject: &mut [u64; NORMAL_BLOCK / 64],
) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::width() == crate::simd::Width::Avx2 {
        // SAFETY: `width` reports AVX2 only where this CPU has it.
        unsafe { normals_fast_avx2(s, first, out, reject) };
        return;
    }
    normals_fast(s, first, out, reject)
}

/// Each layer's x_i and x_{i+1} side by side, so that one load fetches both.
fn ziggurat_pairs() -> &'static [[f64; 2]; ZIG_LAYERS] {
    static PAIRS: std::sync::OnceLock<[[f64; 2]; ZIG_LAYERS]> = std::sync::OnceLock::new();
    PAIRS.get_or_init(|| {
        let z = ziggurat();
        std::array::from_fn(|i| [z.x[i], z.x[i + 1]])
    })
}

/// a·c mod 2⁶⁴ in each 64-bit lane, from 32 × 32 → 64-bit products (AVX2 has no
/// 64-bit multiply): lo(a)·lo(c) + (hi(a)·lo(c) + lo(a)·hi(c))·2³².
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn mul64_avx2(a: std::arch::x86_64::__m256i, c: u64) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    let lo = _mm256_set1_epi64x((c & 0xffff_ffff) as i64);
    let hi = _mm256_set1_epi64x((c >> 32) as i64);
    let cross = _mm256_add_epi64(
        _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), lo),
        _mm256_mul_epu32(a, hi),
    );
    _mm256_add_epi64(_mm256_mul_epu32(a, lo), _mm256_slli_epi64::<32>(cross))
}

/// [`mix64`] in each 64-bit lane.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn mix64_avx2(z: std::arch::x86_64::__m256i) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    let z = mul64_avx2(
        _mm256_xor_si256(z, _mm256_srli_epi64::<30>(z)),
        0xbf58_476d_1ce4_e5b9,
    );
    let z = mul64_avx2(
        _mm256_xor_si256(z, _mm256_srli_epi64::<27>(z)),
        0x94d0_49bb_1331_11eb,
    );
    _mm256_xor_si256(z, _mm256_srli_epi64::<31>(z))
}

/// [`normals_fast`] four draws at a time, with the same integer and floating-point
/// operations (so the same bits): the four words hashed in the lanes of one vector,
/// each layer's (x_i, x_{i+1}) fetched by one load per draw from [`ziggurat_pairs`],
/// and the four rejections set in the mask at once.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn normals_fast_avx2(
    s: Stream,
    first: u64,
    out: &mut [f64],
    reject: &mut [u64; NORMAL_BLOCK / 64],
) {
    use std::arch::x86_64::*;
    let pairs = ziggurat_pairs();
    let len = out.len().min(NORMAL_BLOCK);
    let quads = len / 4;
    // Word j of the stream hashes key + j·γ.
    let counter = |j: u64| {
        s.key
            .wrapping_add(first.wrapping_add(j).wrapping_mul(GAMMA)) as i64
    };
    let mut ctr = _mm256_set_epi64x(counter(3), counter(2), counter(1), counter(0));
    let step = _mm256_set1_epi64x(GAMMA.wrapping_mul(4) as i64);
    let exponent = _mm256_set1_epi64x(0x4000_0000_0000_0000);
    let (three, sign) = (_mm256_set1_pd(3.0), _mm256_set1_pd(-0.0));
    *reject = [0; NORMAL_BLOCK / 64];
    for q in 0..quads {
        let bits = mix64_avx2(ctr);
        ctr = _mm256_add_epi64(ctr, step);
        // u: the top 52 bits as a double in [2, 4), less 3.
        let u = _mm256_sub_pd(
            _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64::<12>(bits), exponent)),
            three,
        );
        let mut words = [0u64; 4];
        // SAFETY: four u64 into a four-u64 array.
        unsafe { _mm256_storeu_si256(words.as_mut_ptr().cast(), bits) };
        let p: [*const f64; 4] =
            std::array::from_fn(|j| pairs[(words[j] & 0xff) as usize].as_ptr());
        // SAFETY: each pointer is a [f64; 2] of the static table.
        let (even, odd) = unsafe {
            let pair = |k: usize| _mm_loadu_pd(p[k]);
            (
                _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(pair(0)), pair(2)),
                _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(pair(1)), pair(3)),
            )
        };
        let (xi, xnext) = (_mm256_unpacklo_pd(even, odd), _mm256_unpackhi_pd(even, odd));
        let x = _mm256_mul_pd(u, xi);
        let outside = _mm256_cmp_pd::<_CMP_GE_OQ>(_mm256_andnot_pd(sign, x), xnext);
        let at = 4 * q;
        reject[at / 64] |= (_mm256_movemask_pd(outside) as u64) << (at % 64);
        // SAFETY: at + 4 ≤ 4·quads ≤ out.len().
        unsafe { _mm256_storeu_pd(out.as_mut_ptr().add(at), x) };
    }
    let z = ziggurat();
    for j in 4 * quads..len {
        let (i, _, x) = zig_fast(z, s.word(first.wrapping_add(j as u64)));
        out[j] = x;
        reject[j / 64] |= u64::from(x.abs() >= z.x[i + 1]) << (j % 64);
    }
}

/// A sequential reader of a [`Stream`]'s words from a counter (a `rand::Rng`).
#[derive(Clone, Debug)]
pub struct CounterRng {
    stream: Stream,
    counter: u64,
}

impl rand::TryRng for CounterRng {
    type Error = std::convert::Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let w = self.stream.word(self.counter);
        self.counter = self.counter.wrapping_add(1);
        Ok(w)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let w = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        Ok(())
    }
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
    fn counter_normals_have_normal_tails_and_batches_equal_single_draws() {
        let st = Stream::new(2411, 5);
        let n = 4_000_000;
        let mut z = vec![0.0; n];
        // An odd start and length: blocks do not line up with anything.
        st.normals(17, &mut z);
        let mut slow = 0;
        for (i, &v) in z.iter().enumerate().take(20_000) {
            assert_eq!(v.to_bits(), st.normal(17 + i as u64).to_bits(), "draw {i}");
            let (layer, _, x) = zig_fast(ziggurat(), st.sub_key(SUB_NORMAL).word(17 + i as u64));
            slow += usize::from(x.abs() >= ziggurat().x[layer + 1]);
        }
        // The slow path (wedges and tail) is taken, about 1.2% of the time.
        assert!((100..600).contains(&slow), "{slow} slow draws in 20000");
        let qs = [0.5, 1.0, 2.0, 3.0, 3.8];
        for q in qs {
            let p = 0.5 * super::super::special::erfc(q / 2f64.sqrt());
            // Binomial standard error √(p(1-p)/n); allow 5 of them.
            let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
            let above = z.iter().filter(|&&v| v > q).count() as f64 / n as f64;
            let below = z.iter().filter(|&&v| v < -q).count() as f64 / n as f64;
            assert!(
                (above - p).abs() < tol,
                "P(Z > {q}) = {above}, want {p} ± {tol}"
            );
            assert!(
                (below - p).abs() < tol,
                "P(Z < -{q}) = {below}, want {p} ± {tol}"
            );
        }
        // Another stream gives other draws.
        assert_ne!(Stream::new(2411, 6).normal(17).to_bits(), z[0].to_bits());
        // Ragged lengths (the four-at-a-time path leaves one to three, and a block
        // may end short), at every vector width.
        for w in crate::simd::widths_here() {
            for len in [1, 2, 3, 4, 5, 7, 63, 65, 255, 257, 1003] {
                let mut v = vec![0.0; len];
                crate::simd::with_width_at_most(w, || st.normals(1_000_003, &mut v));
                for (i, x) in v.iter().enumerate() {
                    let want = st.normal(1_000_003 + i as u64);
                    assert_eq!(x.to_bits(), want.to_bits(), "{w:?}, length {len}, draw {i}");
                }
            }
        }
    }

    #[test]
    fn counter_uniforms_are_uniform() {
        let st = Stream::new(1, 1);
        let n = 1_000_000;
        let mut u = vec![0.0; n];
        st.uniforms(3, &mut u);
        assert_eq!(u[5].to_bits(), st.uniform(8).to_bits());
        let mut counts = [0usize; 10];
        // The extreme words give the extreme values, strictly inside (0, 1).
        assert_eq!(open01_from_bits(0), TWO_POW_M53);
        assert_eq!(open01_from_bits(u64::MAX), 1.0 - TWO_POW_M53);
        for &v in &u {
            assert!(v > 0.0 && v < 1.0);
            counts[(v * 10.0) as usize] += 1;
        }
        // Each count ~ Bin(10⁶, 0.1): sd 300; allow 5 sd.
        for c in counts {
            assert!((c as f64 - 100_000.0).abs() < 1500.0, "{counts:?}");
        }
        // Sequential words of the rand::Rng view are the stream's words.
        use rand::Rng;
        let mut rng = st.rng_at(40);
        assert_eq!(rng.next_u64(), st.word(40));
        assert_eq!(rng.next_u64(), st.word(41));
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
