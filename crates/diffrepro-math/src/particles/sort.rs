//! The sort behind every noisy step of the particle engine: a cloud ascending by
//! `f64::total_cmp`, in O(n) for the smooth, bounded clouds the engine makes.
//!
//! One pass of a counting sort on quantised values: ⌊(x - min)·scale⌋ into n to 2n
//! buckets, or n/2 to n when threads sort at once (monotone in floating point, so
//! bucket order is value order; a bucket holds at most about ten particles of the
//! engine's clouds), then one insertion pass that orders the particles inside each
//! bucket. The engine's input is a sorted cloud
//! plus a little noise (each particle a few thousand places from its rank), so
//! consecutive particles land in nearby buckets: the counters and write positions in
//! use move along with the input and stay in cache. On the engine's clouds this costs
//! about 60% of the three-pass LSD radix sort on (24-bit key, value) pairs it replaced
//! (measured A/B on the clouds of the bench's particle runs). Clouds that crowd a
//! bucket (outliers stretching the range, atoms, ties) sort each bucket by comparison
//! instead, which keeps the worst case O(n log n). The sorted array is unique, so this
//! gives exactly what any correct sort gives.

/// Buffers reused by [`sort_cloud`] across the steps of a run.
#[derive(Default)]
pub(crate) struct Scratch {
    /// The cloud in bucket order.
    buf: Vec<f64>,
    /// Per bucket: its count, then its first slot, then the slot after it.
    counts: Vec<u32>,
    /// The bucket of each particle, computed once for the count, then its slot.
    keys: Vec<u32>,
}

impl Scratch {
    /// Particles the buffers hold room for.
    pub(crate) fn room(&self) -> usize {
        self.buf.capacity()
    }
}

/// At most this many particles in a bucket for the insertion pass (which then moves
/// each particle fewer than this many places); a fuller bucket sends every bucket to
/// the comparison sort. The engine's clouds put at most about ten in a bucket.
const CROWDED: u32 = 32;

/// Sort a cloud ascending by `f64::total_cmp` (the result is the array any correct
/// sort gives). Non-finite values, tiny clouds and all-equal clouds go to the
/// comparison sort.
pub(crate) fn sort_cloud(cloud: &mut [f64], scratch: &mut Scratch) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut nan = false;
    for &x in cloud.iter() {
        lo = if x < lo { x } else { lo };
        hi = if x > hi { x } else { hi };
        nan |= x.is_nan();
    }
    if nan {
        cloud.sort_unstable_by(f64::total_cmp);
        return;
    }
    sort_cloud_within(cloud, scratch, lo, hi);
}

/// [`sort_cloud`] of a NaN-free cloud whose minimum and maximum are `lo` and `hi`.
pub(crate) fn sort_cloud_within(cloud: &mut [f64], scratch: &mut Scratch, lo: f64, hi: f64) {
    let n = cloud.len();
    // n to 2n buckets on one thread, n/2 to n when threads sort at once. The
    // counters are read and written in a wandering order, so their array is best
    // kept within the core's cache. For 1e5 particles on one thread, 2^17 buckets
    // (512 KB of counters) sorted the bench's clouds about 6% faster than 2^18 and
    // 10% faster than 2^16, whose fuller buckets cost the insertion pass more. With
    // two threads sorting clouds side by side (the engine's way), 2^16 took the sort
    // from about 10.3 to 9.0 ns per particle, and 2^15 to 13.0 (the bench's particle
    // runs, the variants alternated, medians of 12). The sorted array is the same.
    let shared = rayon::current_num_threads() > 1;
    let buckets = if shared { n.div_ceil(2) } else { n }
        .next_power_of_two()
        .clamp(1 << 8, 1 << 24);
    bucket_sort_with(cloud, scratch, lo, hi, buckets);
}

/// The counting sort into `buckets` buckets and the insertion pass (see the module
/// header).
fn bucket_sort_with(cloud: &mut [f64], scratch: &mut Scratch, lo: f64, hi: f64, buckets: usize) {
    let n = cloud.len();
    let spread = hi - lo;
    // All-equal clouds (ν_0 = δ_0) need the sort only to put -0.0 before 0.0.
    if n < 64 || n > u32::MAX as usize || !spread.is_finite() || spread == 0.0 {
        cloud.sort_unstable_by(f64::total_cmp);
        return;
    }
    // Shrunk by 1e-15 so that the maximum lands below `buckets`. The clamp to
    // [0, buckets - 1] only guards against rounding and a wrong range, and makes NaN 0
    // (`f64::max` returns the number), so the value is a finite float in [0, 2²⁴) and
    // its conversion to i32 is plain truncation: unchecked, the loop vectorises (about
    // 1.4 → 0.5 ns per particle on the bench's clouds, one thread, alternated).
    let scale = buckets as f64 * (1.0 - 1e-15) / spread;
    let top = (buckets - 1) as f64;
    let Scratch { buf, counts, keys } = scratch;
    // The keys first, in a loop of their own (it vectorises), read by the count loop
    // and then turned into slots: when this was chosen, computing the key in each
    // loop instead cost about 14.5 against 9.7 ns per particle for the whole sort
    // (the bench's clouds, one thread).
    fill_keys(cloud, keys, lo, scale, top);
    counts.clear();
    counts.resize(buckets, 0);
    for &k in keys.iter() {
        counts[k as usize] += 1;
    }
    let (mut acc, mut most) = (0u32, 0u32);
    for slot in counts.iter_mut() {
        let here = *slot;
        most = most.max(here);
        *slot = acc;
        acc += here;
    }
    // Each particle's slot first (the key turns into it), then the particles to their
    // slots: in one loop, each store's address waits on a counter's load, and the two
    // loops took about 1.8 ns per particle against 2.4 (one thread, alternated).
    for k in keys.iter_mut() {
        let slot = &mut counts[*k as usize];
        *k = *slot;
        *slot += 1;
    }
    buf.resize(n, 0.0);
    for (&x, &slot) in cloud.iter().zip(keys.iter()) {
        buf[slot as usize] = x;
    }
    if most <= CROWDED {
        insertion_copy(buf, cloud);
        order_signed_zeros(cloud);
    } else {
        // counts[b] is now the end of bucket b.
        cloud.copy_from_slice(buf);
        let mut start = 0;
        for &end in counts.iter() {
            let bucket = &mut cloud[start..end as usize];
            if bucket.len() > 1 {
                bucket.sort_unstable_by(f64::total_cmp);
            }
            start = end as usize;
        }
    }
}

/// keys = ⌊(x - lo)·scale⌋ clamped to [0, top] for each x of the cloud.
#[inline(always)]
fn fill_keys_plain(cloud: &[f64], keys: &mut Vec<u32>, lo: f64, scale: f64, top: f64) {
    let key = |x: f64| {
        let k = ((x - lo) * scale).max(0.0).min(top);
        // SAFETY: k is not NaN and lies in [0, 2²⁴), so it truncates to an i32.
        unsafe { k.to_int_unchecked::<i32>() as u32 }
    };
    keys.clear();
    keys.extend(cloud.iter().map(|&x| key(x)));
}

crate::simd::vectorised! {
    /// [`fill_keys_plain`] at the widest vectors of this CPU.
    fn fill_keys(cloud: &[f64], keys: &mut Vec<u32>, lo: f64, scale: f64, top: f64) = fill_keys_plain;
}

/// Copy `src` into `dst` by insertion sort on `<`: fast when every element is already
/// near its place (here: within its bucket, and bucket order is value order). `<` does
/// not order -0.0 and 0.0, which [`order_signed_zeros`] does afterwards.
///
/// The last three placed values are kept in registers, and each new value is merged
/// into them without a branch (a sorting network of min and max on four values):
/// the order inside a bucket is random, so a branch there would be mispredicted
/// often. Only a value smaller than all four goes further left, by a loop. On the
/// bench's clouds this took about 1.5 ns per particle, against 2.7 for one value
/// kept (one thread, alternated).
fn insertion_copy(src: &[f64], dst: &mut [f64]) {
    let head = src.len().min(4);
    for (i, &x) in src[..head].iter().enumerate() {
        insert_at(dst, i, x);
    }
    if src.len() <= 4 {
        return;
    }
    // dst[i - 3] ≤ dst[i - 2] ≤ dst[i - 1] before placing src[i].
    let (mut p3, mut p2, mut p1) = (dst[1], dst[2], dst[3]);
    for i in 4..src.len() {
        let x = src[i];
        let (a, top) = sort2(x, p1);
        let (b, third) = sort2(a, p2);
        let (low, second) = sort2(b, p3);
        dst[i - 3] = low;
        dst[i - 2] = second;
        dst[i - 1] = third;
        dst[i] = top;
        (p3, p2, p1) = (second, third, top);
        if low < dst[i - 4] {
            // Moves only dst[..i - 3]: the three kept values stay where they are.
            insert_at(dst, i - 3, low);
        }
    }
}

/// (min, max) of two NaN-free values, written to compile without a branch.
#[inline(always)]
fn sort2(x: f64, y: f64) -> (f64, f64) {
    if x < y {
        (x, y)
    } else {
        (y, x)
    }
}

/// Put x at its place in the sorted dst[..=at] (whose dst[at] is free), moving the
/// larger values right by one.
#[inline(always)]
fn insert_at(dst: &mut [f64], at: usize, x: f64) {
    let mut j = at;
    while j > 0 && dst[j - 1] > x {
        dst[j] = dst[j - 1];
        j -= 1;
    }
    dst[j] = x;
}

/// In a NaN-free array sorted by `<`, put the -0.0s of the run of zeros before the
/// 0.0s, which makes it sorted by `f64::total_cmp`.
fn order_signed_zeros(v: &mut [f64]) {
    let start = v.partition_point(|&x| x < 0.0);
    let end = start + v[start..].partition_point(|&x| x == 0.0);
    let zeros = &mut v[start..end];
    let negative = zeros.iter().filter(|x| x.is_sign_negative()).count();
    zeros[..negative].fill(-0.0);
    zeros[negative..].fill(0.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn normals(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| crate::measure::sample::standard_normal(&mut rng))
            .collect()
    }

    /// `sort_cloud` against the comparison sort, bit for bit, reusing one scratch,
    /// on one thread and on two (which choose different numbers of buckets), at
    /// every vector width.
    fn check(clouds: &[(&str, Vec<f64>)]) {
        for threads in [1, 2] {
            for w in crate::simd::widths_here() {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| crate::simd::with_width_at_most(w, || check_here(clouds)));
            }
        }
    }

    fn check_here(clouds: &[(&str, Vec<f64>)]) {
        let mut scratch = Scratch::default();
        for (what, cloud) in clouds {
            let mut want = cloud.clone();
            want.sort_unstable_by(f64::total_cmp);
            let mut got = cloud.clone();
            sort_cloud(&mut got, &mut scratch);
            assert_eq!(got.len(), want.len(), "{what}");
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{what}: index {i}: {a} vs {b}");
            }
        }
    }

    /// The engine's input: a sorted cloud after one exact OU step (a·x + b·z).
    fn one_step(sorted: &[f64], seed: u64) -> Vec<f64> {
        let (a, b) = ((-0.01f64).exp(), (1.0 - (-0.02f64).exp()).sqrt());
        let z = normals(sorted.len(), seed);
        sorted.iter().zip(&z).map(|(x, z)| a * x + b * z).collect()
    }

    #[test]
    fn sorts_random_and_nearly_sorted_clouds() {
        let random = normals(100_000, 1);
        let mut sorted = normals(100_000, 2);
        sorted.sort_unstable_by(f64::total_cmp);
        let mut two_atoms: Vec<f64> = (0..100_000)
            .map(|i| if i < 50_000 { -1.0 } else { 1.0 })
            .collect();
        let nearly = one_step(&sorted, 3);
        let clusters = one_step(&two_atoms, 4);
        two_atoms.reverse();
        let reversed = {
            let mut v = sorted.clone();
            v.reverse();
            v
        };
        check(&[
            ("random", random),
            ("sorted", sorted.clone()),
            ("reversed", reversed),
            ("one step after a sorted cloud", nearly),
            ("one step after two atoms", clusters),
            ("two atoms, reversed", two_atoms),
            ("one step, small", one_step(&sorted[..100], 5)),
        ]);
    }

    #[test]
    fn sorts_ties_clusters_and_signed_zeros() {
        let rounded: Vec<f64> = normals(20_000, 6)
            .iter()
            .map(|x| (x * 4.0).round())
            .collect();
        // A few signed zeros among spread values stay in the insertion pass; many take
        // the crowded path. Both must end with every -0.0 before every 0.0.
        let mut few_zeros = normals(50_000, 7);
        few_zeros.extend([0.0, -0.0, 0.0, -0.0, -0.0]);
        let mut many_zeros = normals(5_000, 8);
        many_zeros.extend((0..3_000).map(|i| if i % 2 == 0 { 0.0 } else { -0.0 }));
        // Tight clusters far apart: each cluster fills few buckets (crowded path).
        let clusters: Vec<f64> = normals(30_000, 9)
            .iter()
            .enumerate()
            .map(|(i, z)| (i % 5) as f64 * 1e6 + 1e-3 * z)
            .collect();
        // Outliers stretch the range: the bulk shares a handful of buckets.
        let mut outliers = normals(20_000, 10);
        outliers.extend([1e12, -3e11]);
        // About 30 particles a bucket, in reverse order: the insertion pass moves each
        // far.
        let mut stacked: Vec<f64> = (0..8_192)
            .flat_map(|b| (0..30).map(move |j| b as f64 + 0.5 - j as f64 * 1e-9))
            .collect();
        stacked.reverse();
        check(&[
            ("rounded normals", rounded),
            ("a few signed zeros", few_zeros),
            ("many signed zeros", many_zeros),
            ("all zeros", [0.0, -0.0, 0.0, -0.0, -0.0, 0.0].repeat(20)),
            ("all equal", vec![2.5; 1_000]),
            ("clusters", clusters),
            ("outliers", outliers),
            ("stacked buckets", stacked),
            (
                "two values",
                (0..10_000)
                    .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
                    .collect(),
            ),
        ]);
    }

    #[test]
    fn sorts_non_finite_tiny_huge_and_short_clouds() {
        let base = normals(10_000, 11);
        let with = |extra: &[f64]| {
            let mut v = base.clone();
            v.extend_from_slice(extra);
            v
        };
        check(&[
            ("NaN", with(&[f64::NAN, -f64::NAN])),
            ("infinities", with(&[f64::INFINITY, f64::NEG_INFINITY])),
            (
                "everything",
                with(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0]),
            ),
            // Spreads near the bottom and the top of the f64 range; the last overflows
            // to an infinite spread (comparison sort).
            (
                "tiny spread",
                base.iter().map(|x| 1.0 + x * 1e-14).collect(),
            ),
            (
                "subnormal spread",
                base.iter().map(|x| x * 1e-310).collect(),
            ),
            ("huge spread", base.iter().map(|x| x * 1e300).collect()),
            ("overflowing spread", with(&[f64::MAX, -f64::MAX])),
            ("empty", Vec::new()),
            ("one", vec![3.0]),
            ("63", base[..63].to_vec()),
            ("64", base[..64].to_vec()),
        ]);
    }

    #[test]
    fn insertion_copy_sorts_any_order_and_length() {
        // Every length from 0 to 40 (the head of four and the merge after it), with
        // ties, descending runs and values that must travel far left.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
        for len in 0..=40usize {
            for trial in 0..50 {
                let src: Vec<f64> = (0..len)
                    .map(|i| match trial % 3 {
                        0 => (rand::RngExt::random::<u32>(&mut rng) % 7) as f64,
                        1 => (len - i) as f64,
                        _ => crate::measure::sample::standard_normal(&mut rng),
                    })
                    .collect();
                let mut want = src.clone();
                want.sort_unstable_by(f64::total_cmp);
                let mut got = vec![f64::NAN; len];
                insertion_copy(&src, &mut got);
                assert_eq!(got, want, "{src:?}");
            }
        }
    }

    #[test]
    fn sort_cloud_within_uses_the_given_range() {
        // The engine passes the range it found in the noise pass.
        let mut sorted = normals(50_000, 12);
        sorted.sort_unstable_by(f64::total_cmp);
        let mut v = one_step(&sorted, 13);
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut want = v.clone();
        want.sort_unstable_by(f64::total_cmp);
        sort_cloud_within(&mut v, &mut Scratch::default(), lo, hi);
        assert!(v.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
        // A range that leaves particles out still sorts (they crowd the end buckets).
        let mut w = one_step(&sorted, 13);
        sort_cloud_within(&mut w, &mut Scratch::default(), 0.5 * lo, 0.5 * hi);
        assert!(w.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
