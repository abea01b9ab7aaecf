//! Globally adaptive Gauss–Kronrod quadrature (G7–K15), QUADPACK's QAG strategy.
//!
//! The exact survival functions and integrated tails are integrals over y against
//! p_{Y_r} whose integrands are smooth between known breakpoints (component centres,
//! weight transitions, level-set crossings of L_r). Callers pass those breakpoints;
//! this module keeps a heap of subintervals and bisects the one with the largest
//! error estimate until the summed estimate meets the absolute tolerance. A global
//! budget (rather than halving the tolerance at each level) lets a narrow spike be
//! refined deeply without forcing the flat regions to roundoff. Integrands are
//! vector-valued (`[f64; N]`) so quantities sharing a density (s_r and h) cost one pass.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Kronrod abscissae on [-1, 1] (non-negative half; index 7 is the centre).
const XGK: [f64; 8] = [
    0.991_455_371_120_812_6,
    0.949_107_912_342_758_5,
    0.864_864_423_359_769_1,
    0.741_531_185_599_394_4,
    0.586_087_235_467_691_1,
    0.405_845_151_377_397_2,
    0.207_784_955_007_898_5,
    0.0,
];
/// Kronrod weights matching `XGK`.
const WGK: [f64; 8] = [
    0.022_935_322_010_529_22,
    0.063_092_092_629_978_55,
    0.104_790_010_322_250_2,
    0.140_653_259_715_525_9,
    0.169_004_726_639_267_9,
    0.190_350_578_064_785_4,
    0.204_432_940_075_298_9,
    0.209_482_141_084_727_8,
];
/// Gauss weights for the abscissae XGK[1], XGK[3], XGK[5], XGK[7].
const WG: [f64; 4] = [
    0.129_484_966_168_869_7,
    0.279_705_391_489_276_7,
    0.381_830_050_505_118_9,
    0.417_959_183_673_469_4,
];

/// Result of an adaptive integration.
#[derive(Clone, Copy, Debug)]
pub struct Quadrature<const N: usize> {
    pub value: [f64; N],
    /// Summed |K15 - G7| estimate (max over the N components).
    pub error: f64,
    /// Whether `error` met the requested tolerance before the interval budget ran out.
    pub converged: bool,
}

/// The 15 Kronrod nodes on [a, b]: the centre, then c - dx, c + dx for each abscissa.
fn gk15_nodes(a: f64, b: f64) -> [f64; 15] {
    let c = 0.5 * (a + b);
    let h = 0.5 * (b - a);
    let mut x = [c; 15];
    for i in 0..7 {
        let dx = h * XGK[i];
        x[1 + 2 * i] = c - dx;
        x[2 + 2 * i] = c + dx;
    }
    x
}

/// K15 and G7 from the values at [`gk15_nodes`]: (Kronrod value, error estimate).
fn gk15_combine<const N: usize>(fx: &[[f64; N]], a: f64, b: f64) -> ([f64; N], f64) {
    let h = 0.5 * (b - a);
    let mut k = [0.0; N];
    let mut g = [0.0; N];
    let fc = fx[0];
    for j in 0..N {
        k[j] = WGK[7] * fc[j];
        g[j] = WG[3] * fc[j];
    }
    for i in 0..7 {
        let (f1, f2) = (fx[1 + 2 * i], fx[2 + 2 * i]);
        for j in 0..N {
            let s = f1[j] + f2[j];
            k[j] += WGK[i] * s;
            if i % 2 == 1 {
                g[j] += WG[i / 2] * s;
            }
        }
    }
    let mut err: f64 = 0.0;
    for j in 0..N {
        k[j] *= h;
        g[j] *= h;
        err = err.max((k[j] - g[j]).abs());
    }
    (k, err)
}

/// One K15 / G7 pair on [a, b]: (Kronrod value, error estimate).
fn gk15<const N: usize, F: FnMut(f64) -> [f64; N]>(f: &mut F, a: f64, b: f64) -> ([f64; N], f64) {
    let fx = gk15_nodes(a, b).map(&mut *f);
    gk15_combine(&fx, a, b)
}

/// K15 / G7 on each interval, the nodes of all of them evaluated in parallel; the
/// same numbers as [`gk15`] one interval after another, whatever the thread count.
fn gk15_batch_par<const N: usize, F>(f: &F, intervals: &[(f64, f64)]) -> Vec<([f64; N], f64)>
where
    F: Fn(f64) -> [f64; N] + Sync,
{
    use rayon::prelude::*;
    let nodes: Vec<f64> = intervals
        .iter()
        .flat_map(|&(a, b)| gk15_nodes(a, b))
        .collect();
    let values: Vec<[f64; N]> = nodes.par_iter().map(|&x| f(x)).collect();
    intervals
        .iter()
        .zip(values.chunks(15))
        .map(|(&(a, b), fx)| gk15_combine(fx, a, b))
        .collect()
}

struct Piece<const N: usize> {
    a: f64,
    b: f64,
    value: [f64; N],
    error: f64,
    /// Index of the initial piece this one was split from.
    origin: usize,
}

impl<const N: usize> PartialEq for Piece<N> {
    fn eq(&self, other: &Self) -> bool {
        self.error.total_cmp(&other.error) == Ordering::Equal
    }
}
impl<const N: usize> Eq for Piece<N> {}
impl<const N: usize> PartialOrd for Piece<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<const N: usize> Ord for Piece<N> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.error.total_cmp(&other.error)
    }
}

/// ∫ f over [points[0], points[last]], with `points` (sorted, ascending) as initial
/// breakpoints. Stops when the summed error estimate is below `abs_tol` or when the
/// number of subintervals reaches `max_pieces`.
pub fn integrate<const N: usize, F>(
    f: F,
    points: &[f64],
    abs_tol: f64,
    max_pieces: usize,
) -> Quadrature<N>
where
    F: FnMut(f64) -> [f64; N],
{
    integrate_pieces(
        f,
        points.windows(2).map(|w| (w[0], w[1])),
        abs_tol,
        max_pieces,
    )
}

/// ∫ f over a union of disjoint intervals (a, b), each an initial piece; otherwise as
/// [`integrate`]. Used to integrate over {y : L_r(y) > u} only.
pub fn integrate_pieces<const N: usize, F, I>(
    mut f: F,
    pieces: I,
    abs_tol: f64,
    max_pieces: usize,
) -> Quadrature<N>
where
    F: FnMut(f64) -> [f64; N],
    I: IntoIterator<Item = (f64, f64)>,
{
    let heap = refine(&mut sequential(&mut f), pieces, abs_tol, max_pieces);
    sum_in_order(heap)
}

/// As [`integrate`], with the integrand evaluated at the 15 nodes of each new
/// subinterval (30 when one is bisected) in parallel: for integrands that are costly
/// (an integral of their own). The subintervals, their order and every sum are those
/// of [`integrate`], so the result is the same to the last bit for any thread count.
pub fn integrate_par<const N: usize, F>(
    f: F,
    points: &[f64],
    abs_tol: f64,
    max_pieces: usize,
) -> Quadrature<N>
where
    F: Fn(f64) -> [f64; N] + Sync,
{
    let mut rule = |iv: &[(f64, f64)]| gk15_batch_par(&f, iv);
    let heap = refine(
        &mut rule,
        points.windows(2).map(|w| (w[0], w[1])),
        abs_tol,
        max_pieces,
    );
    sum_in_order(heap)
}

/// K15 / G7 on one interval: (Kronrod value, error estimate).
type Rule<const N: usize> = ([f64; N], f64);

/// K15 / G7 on one interval after another.
fn sequential<const N: usize, F: FnMut(f64) -> [f64; N]>(
    f: &mut F,
) -> impl FnMut(&[(f64, f64)]) -> Vec<Rule<N>> + '_ {
    move |iv: &[(f64, f64)]| iv.iter().map(|&(a, b)| gk15(f, a, b)).collect()
}

/// The refined pieces summed in order of position.
fn sum_in_order<const N: usize>(heap: Refined<N>) -> Quadrature<N> {
    let converged = heap.converged;
    // Sum in order of position so the total does not depend on the heap's history.
    let mut pieces = heap.pieces.into_vec();
    pieces.sort_by(|p, q| p.a.total_cmp(&q.a));
    let mut value = [0.0; N];
    let mut error = 0.0;
    for p in &pieces {
        for (v, pv) in value.iter_mut().zip(p.value) {
            *v += pv;
        }
        error += p.error;
    }
    Quadrature {
        value,
        error,
        converged,
    }
}

/// ∫ f over each of the given intervals separately, with one error budget for all of
/// them (the worst subinterval anywhere is split next): the integrals of a table of
/// cells. Returns one value per input interval, in input order (empty intervals
/// give zero), each summed in order of position, and whether the error budget was met
/// within `max_pieces` subintervals. The one-at-a-time reference of
/// [`integrate_each_batched`], which the exact code uses.
#[cfg(test)]
pub fn integrate_each<const N: usize, F, I>(
    mut f: F,
    pieces: I,
    abs_tol: f64,
    max_pieces: usize,
) -> (Vec<[f64; N]>, bool)
where
    F: FnMut(f64) -> [f64; N],
    I: IntoIterator<Item = (f64, f64)>,
{
    let pieces: Vec<(f64, f64)> = pieces.into_iter().collect();
    let heap = refine(
        &mut sequential(&mut f),
        pieces.iter().copied(),
        abs_tol,
        max_pieces,
    );
    per_origin(heap, pieces.len())
}

/// K15 / G7 on each interval, the integrand evaluated at the nodes of all of them in
/// one call `f(xs, values)` (values\[i\] = f(xs\[i\])): for integrands with a vectorised
/// batch kernel. Given the same values, the same numbers as [`gk15`] one interval
/// after another.
fn batched<const N: usize, F: FnMut(&[f64], &mut [[f64; N]])>(
    f: &mut F,
) -> impl FnMut(&[(f64, f64)]) -> Vec<Rule<N>> + '_ {
    move |iv: &[(f64, f64)]| {
        let nodes: Vec<f64> = iv.iter().flat_map(|&(a, b)| gk15_nodes(a, b)).collect();
        let mut values = vec![[0.0; N]; nodes.len()];
        f(&nodes, &mut values);
        iv.iter()
            .zip(values.chunks(15))
            .map(|(&(a, b), fx)| gk15_combine(fx, a, b))
            .collect()
    }
}

/// The final subintervals of an adaptive integration, in order of position, each
/// with its K15 value: the integrals between every pair of their ends are sums of
/// these, which lets a caller tabulate running integrals once and read off many.
#[derive(Clone, Debug)]
pub struct Subdivision<const N: usize> {
    /// (a, b, ∫_a^b f), sorted by a.
    pub pieces: Vec<(f64, f64, [f64; N])>,
    /// Whether the error budget was met within the subinterval budget.
    pub converged: bool,
}

/// ∫ f over [points\[0\], points\[last\]] as [`integrate`], with the integrand
/// evaluated in batches (see [`batched`]: all initial pieces in one call, then the two
/// halves of each bisection), returning the final subintervals rather than their sum.
pub fn subdivide_batched<const N: usize, F>(
    mut f: F,
    points: &[f64],
    abs_tol: f64,
    max_pieces: usize,
) -> Subdivision<N>
where
    F: FnMut(&[f64], &mut [[f64; N]]),
{
    let heap = refine(
        &mut batched(&mut f),
        points.windows(2).map(|w| (w[0], w[1])),
        abs_tol,
        max_pieces,
    );
    let converged = heap.converged;
    let mut parts = heap.pieces.into_vec();
    parts.sort_by(|p, q| p.a.total_cmp(&q.a));
    Subdivision {
        pieces: parts.into_iter().map(|p| (p.a, p.b, p.value)).collect(),
        converged,
    }
}

/// [`integrate_each`] with the integrand evaluated in batches (see [`batched`]).
pub fn integrate_each_batched<const N: usize, F>(
    mut f: F,
    pieces: &[(f64, f64)],
    abs_tol: f64,
    max_pieces: usize,
) -> (Vec<[f64; N]>, bool)
where
    F: FnMut(&[f64], &mut [[f64; N]]),
{
    let heap = refine(
        &mut batched(&mut f),
        pieces.iter().copied(),
        abs_tol,
        max_pieces,
    );
    per_origin(heap, pieces.len())
}

/// The refined pieces summed per initial piece (in order of position within each).
fn per_origin<const N: usize>(heap: Refined<N>, count: usize) -> (Vec<[f64; N]>, bool) {
    let converged = heap.converged;
    let mut parts = heap.pieces.into_vec();
    parts.sort_by(|p, q| p.origin.cmp(&q.origin).then(p.a.total_cmp(&q.a)));
    let mut out = vec![[0.0; N]; count];
    for p in &parts {
        for (v, pv) in out[p.origin].iter_mut().zip(p.value) {
            *v += pv;
        }
    }
    (out, converged)
}

struct Refined<const N: usize> {
    pieces: BinaryHeap<Piece<N>>,
    converged: bool,
}

/// The adaptive loop shared by [`integrate_pieces`] and [`integrate_each`].
/// `rule` gives K15 / G7 (value, error) on each of a batch of intervals.
fn refine<const N: usize, R, I>(
    rule: &mut R,
    pieces: I,
    abs_tol: f64,
    max_pieces: usize,
) -> Refined<N>
where
    R: FnMut(&[(f64, f64)]) -> Vec<([f64; N], f64)>,
    I: IntoIterator<Item = (f64, f64)>,
{
    let mut heap: BinaryHeap<Piece<N>> = BinaryHeap::new();
    let mut total_err = 0.0;
    let initial: Vec<(usize, (f64, f64))> = pieces
        .into_iter()
        .enumerate()
        .filter(|(_, (a, b))| b > a)
        .collect();
    let bounds: Vec<(f64, f64)> = initial.iter().map(|p| p.1).collect();
    for ((origin, (a, b)), (value, error)) in initial.into_iter().zip(rule(&bounds)) {
        total_err += error;
        heap.push(Piece {
            a,
            b,
            value,
            error,
            origin,
        });
    }
    let mut converged = true;
    while total_err > abs_tol {
        if heap.len() >= max_pieces {
            converged = false;
            break;
        }
        let Some(worst) = heap.pop() else { break };
        if worst.error == 0.0 {
            // The largest estimate is zero, so `total_err` is only accumulated drift.
            heap.push(worst);
            break;
        }
        let m = 0.5 * (worst.a + worst.b);
        if !(m > worst.a && m < worst.b) {
            // The interval cannot be split in floating point: its error is roundoff.
            heap.push(Piece {
                error: 0.0,
                ..worst
            });
            total_err -= worst.error;
            continue;
        }
        let halves = rule(&[(worst.a, m), (m, worst.b)]);
        let ((v1, e1), (v2, e2)) = (halves[0], halves[1]);
        total_err += e1 + e2 - worst.error;
        heap.push(Piece {
            a: worst.a,
            b: m,
            value: v1,
            error: e1,
            origin: worst.origin,
        });
        heap.push(Piece {
            a: m,
            b: worst.b,
            value: v2,
            error: e2,
            origin: worst.origin,
        });
    }
    Refined {
        pieces: heap,
        converged,
    }
}

/// Scalar convenience wrapper around [`integrate`].
pub fn integrate_scalar<F: FnMut(f64) -> f64>(mut f: F, a: f64, b: f64, abs_tol: f64) -> f64 {
    integrate(|x| [f(x)], &[a, b], abs_tol, 4000).value[0]
}

/// Where f changes sign between a and b, f(a) = fa and f(b) = fb on opposite sides
/// of 0 ("above" is f > 0), by the Illinois variant of regula falsi: the secant point,
/// or the midpoint when the secant is unusable or the bracket is within a few ulps,
/// and the other end's value halved when the same end moves twice (which keeps the
/// convergence superlinear). A dozen evaluations where bisection needs fifty, down
/// to neighbouring doubles. Used for the level sets of L_r on a line (1-D) and along
/// y₂ (the plane).
pub fn illinois_crossing(f: impl Fn(f64) -> f64, a: (f64, f64), b: (f64, f64)) -> f64 {
    let mut br = IllinoisBracket::new(a, b);
    let above_a = br.fa > 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (br.a + br.b);
        if mid <= br.a || mid >= br.b {
            break;
        }
        let x = br.secant();
        let x = if x > br.a && x < br.b && (br.b - br.a) > 1e-13 * (br.a.abs() + br.b.abs()) {
            x
        } else {
            mid
        };
        let fx = f(x);
        br.move_end((fx > 0.0) == above_a, x, fx);
    }
    0.5 * (br.a + br.b)
}

/// The bracket of the Illinois variant of regula falsi: ends `a` and `b` whose values
/// `fa` and `fb` lie on opposite sides of 0, and which end moved last. The caller
/// picks each new point (the [`secant`](Self::secant) point or a fallback) and its
/// stopping rule; [`move_end`](Self::move_end) is the Illinois update.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IllinoisBracket {
    pub a: f64,
    pub fa: f64,
    pub b: f64,
    pub fb: f64,
    /// -1 when `a` moved last, 1 when `b` did, 0 before either.
    last: i8,
}

impl IllinoisBracket {
    pub fn new((a, fa): (f64, f64), (b, fb): (f64, f64)) -> Self {
        IllinoisBracket {
            a,
            fa,
            b,
            fb,
            last: 0,
        }
    }

    /// Where the secant through both ends meets 0: not finite, or outside the
    /// bracket, when the end values do not allow it.
    pub fn secant(&self) -> f64 {
        self.a + (self.b - self.a) * (self.fa / (self.fa - self.fb))
    }

    /// Move end `a` (when `to_a`) or else `b` to x, where f is fx. When the same end
    /// moves twice in a row, the other end's value is halved: this keeps the
    /// convergence superlinear where plain regula falsi would stall.
    pub fn move_end(&mut self, to_a: bool, x: f64, fx: f64) {
        if to_a {
            self.a = x;
            self.fa = fx;
            if self.last == -1 {
                self.fb *= 0.5;
            }
            self.last = -1;
        } else {
            self.b = x;
            self.fb = fx;
            if self.last == 1 {
                self.fa *= 0.5;
            }
            self.last = 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn illinois_closes_on_the_root_from_either_side() {
        // Rising: x³ - 2 on [0, 2]; falling: 2 - x³. The root is 2^(1/3) either way,
        // and the bracket closes to neighbouring doubles (tolerance: a few ulps).
        let root = 2f64.cbrt();
        let up = illinois_crossing(|x| x * x * x - 2.0, (0.0, -2.0), (2.0, 6.0));
        let down = illinois_crossing(|x| 2.0 - x * x * x, (0.0, 2.0), (2.0, -6.0));
        assert!((up - root).abs() < 4.0 * f64::EPSILON, "{up} vs {root}");
        assert!((down - root).abs() < 4.0 * f64::EPSILON, "{down} vs {root}");
        // A kink the secant cannot use: |x - 0.3| - 0.1 has its root at 0.4 in [0.3, 1].
        let kink = illinois_crossing(|x| (x - 0.3f64).abs() - 0.1, (0.3, -0.1), (1.0, 0.6));
        assert!((kink - 0.4).abs() < 1e-14, "{kink}");
    }

    #[test]
    fn the_parallel_rule_gives_the_sequential_numbers_on_any_thread_count() {
        // A spike and a kink, so the adaptive loop bisects many times.
        let f = |x: f64| [(-(x - 0.3).powi(2) / 1e-4).exp() + (x - 0.7).abs(), x.cos()];
        let pts = [0.0, 0.5, 1.0];
        let seq = integrate(f, &pts, 1e-12, 5000);
        for threads in [1, 2, 5] {
            let par = crate::on_threads(threads, || integrate_par(f, &pts, 1e-12, 5000));
            assert_eq!(par.value.map(f64::to_bits), seq.value.map(f64::to_bits));
            assert_eq!(par.error.to_bits(), seq.error.to_bits());
            assert_eq!(par.converged, seq.converged);
        }
        let exact =
            0.01 * std::f64::consts::PI.sqrt() + 0.7f64.powi(2) / 2.0 + 0.3f64.powi(2) / 2.0;
        assert!((seq.value[0] - exact).abs() < 1e-10, "{}", seq.value[0]);
        assert!((seq.value[1] - 1f64.sin()).abs() < 1e-12);
    }

    #[test]
    fn batched_rules_give_the_one_at_a_time_numbers() {
        // The same spike and kink: the batched integrand sees every node the scalar
        // one does, so the subdivision, its pieces and every sum are the same.
        let f = |x: f64| [(-(x - 0.3).powi(2) / 1e-4).exp() + (x - 0.7).abs(), x.cos()];
        let fb = |xs: &[f64], out: &mut [[f64; 2]]| {
            for (o, &x) in out.iter_mut().zip(xs) {
                *o = f(x);
            }
        };
        let pts = [0.0, 0.5, 1.0];
        let whole = integrate(f, &pts, 1e-12, 5000);
        let sub = subdivide_batched(fb, &pts, 1e-12, 5000);
        assert!(sub.converged && sub.pieces.len() > 10);
        let mut sum = [0.0; 2];
        for (k, &(a, b, v)) in sub.pieces.iter().enumerate() {
            assert!(b > a && (k == 0 || sub.pieces[k - 1].1 == a));
            sum[0] += v[0];
            sum[1] += v[1];
        }
        assert_eq!(sum.map(f64::to_bits), whole.value.map(f64::to_bits));
        let cells = [(0.0, 0.25), (0.25, 0.25), (0.3, 0.9), (0.9, 1.0)];
        let (each, ok) = integrate_each(f, cells, 1e-12, 5000);
        let (each_b, ok_b) = integrate_each_batched(fb, &cells, 1e-12, 5000);
        assert_eq!(ok, ok_b);
        for (x, y) in each.iter().zip(&each_b) {
            assert_eq!(x.map(f64::to_bits), y.map(f64::to_bits));
        }
    }

    #[test]
    fn polynomials_and_smooth_functions() {
        // K15 is exact for degree ≤ 22; one interval suffices.
        let v = integrate_scalar(|x| x.powi(10), 0.0, 1.0, 1e-14);
        assert!((v - 1.0 / 11.0).abs() < 1e-15);
        let v = integrate_scalar(f64::exp, 0.0, 3.0, 1e-13);
        assert!((v - (3.0f64.exp() - 1.0)).abs() < 1e-12);
    }

    #[test]
    fn narrow_spike_and_kink() {
        // A Gaussian spike of width 1e-4 inside [-50, 50], with breakpoints at a few
        // multiples of its width (as the exact code always provides; no sampling rule
        // can find a spike that falls between its nodes): integral √(2π)·1e-4.
        let s = 1e-4;
        let pts = [-50.0, -10.0 * s, -s, 0.0, s, 10.0 * s, 50.0];
        let q = integrate(
            |x: f64| [(-0.5 * (x / s) * (x / s)).exp()],
            &pts,
            1e-14,
            4000,
        );
        let want = (2.0 * std::f64::consts::PI).sqrt() * s;
        assert!(q.converged);
        assert!(
            (q.value[0] - want).abs() < 1e-13,
            "{} vs {want}",
            q.value[0]
        );
        // |x| has a kink at 0.3 that is not a breakpoint: adaptivity must find it.
        let v = integrate_scalar(|x: f64| (x - 0.3).abs(), 0.0, 1.0, 1e-12);
        assert!((v - (0.045 + 0.245)).abs() < 1e-11);
    }
}
