//! Exact (quadrature) values of ess sup L_r, s_r(u), h(δ, r), m*, δ* and ζ*_M.
//!
//! [`ExactLocalization`] freezes (μ, r). On construction it lays out *structure
//! nodes*: every place where L_r(y) can change on a short scale — each component's
//! centre r·m_i at multiples of its width v_i, and, for each pair of components that
//! can share the posterior, the points where their posterior log-weights are equal, at
//! multiples of the transition width 1/|e_i - e_j| (e_i = d/dy of component i's
//! log-weight; beyond 64 components the pairs near the upper envelope of the
//! log-weights, see `envelope`); for the uniform, its
//! two edges in y. It evaluates L_r on a grid of 8 cells between consecutive nodes;
//! that grid gives ess sup L_r (refined by golden section at the best local maxima)
//! and brackets the level-set crossings {L_r = u} (refined to a few ulps by Newton
//! steps on the exact slope dL_r/dy for mixtures, by Illinois regula falsi to
//! neighbouring doubles for the uniform). A level u that some grid value ties to
//! within rounding (u at the tail limit of L_r, where the rounded L_r - u is noise
//! over a long stretch) takes its signs from `Localizer::localization_excess`, which
//! forms L_r - u without the cancellation. Then
//!   s_r(u) = ∫_{L_r > u} p_{Y_r},   h = ∫_{L_r > u} (L_r - u) p_{Y_r},   u = 1 - δ,
//! over the runs between crossings where L_r > u. On the first level set the
//! integrals of p_{Y_r} and L_r p_{Y_r} are computed once by one adaptive
//! Gauss–Kronrod pass over the intervals between nodes (error budget 1e-11), and kept
//! as running sums over the pass's final subintervals; a level set then reads whole
//! subintervals off that table and integrates only the few its crossings cut (one
//! pass for all of them, usually one panel each), so a grid of 501 levels costs
//! little more than the table. The integrands of a whole batch of panels go through
//! the vectorised kernel `Localizer::localization_and_density_batch`. Nodes reach 40
//! standard deviations beyond the outermost components, where p_{Y_r} < e^{-800}.
//!
//! m* and δ* use Prop. 5 and the first-order condition (DIGEST §2): with
//! g(δ) = δ s_r(1-δ) - h(δ), m'(δ) = g(δ)/δ² and g' = -δ s_r'(1-δ) ≥ 0, so m is
//! unimodal; δ* = sup{δ : g(δ) ≤ 0} is found by safeguarded Newton on g (g' is known
//! through the density of L_r, f_L(u) = Σ p_{Y_r}(y)/|L_r'(y)| over the crossings),
//! kept inside a bisection bracket, so it is as robust as bisection and needs a few
//! level sets instead of 43. ζ*_M maximises the concave δ - M h(δ), whose derivative
//! 1 - M s_r(1-δ) is non-increasing; the same Newton on its sign change. The level-set
//! crossings binary-search the monotone runs of the grid instead of scanning every
//! cell (the same cells in the same order). Point masses and
//! normals have constant L_r and are answered exactly. Hands its numbers to the
//! public functions in `localize` and to the tests that check Monte Carlo against them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use super::quadrature::{integrate, integrate_each_batched, subdivide_batched};
use super::Complexity;
use crate::measure::{Kind, Localizer, Measure, Prep};

/// How far beyond the outermost components (in their standard deviations) the grid
/// and the integrals reach.
const SPAN: f64 = 40.0;
/// Absolute tolerance of each integral; the target accuracy of s and h is 1e-9.
const QUAD_TOL: f64 = 1e-11;
/// Level sets of smaller probability are integrated again to a relative accuracy
/// (see `ExactLocalization::small_level_set`).
const SMALL_MASS: f64 = 1e-6;
/// Subinterval budget per integral.
const MAX_PIECES: usize = 50_000;
/// Grid cells between consecutive structure nodes.
const CELLS: usize = 8;
/// sup L_r ≤ 1 + this counts as "s_r(1) = 0": rounding in the posterior variance can
/// lift a log-concave measure's L_r a few ulps above 1 as r → ∞.
pub const LOG_CONCAVE_SLACK: f64 = 1e-12;

/// Offsets (in component standard deviations) of the nodes around a centre.
const CENTRE_OFFSETS: [f64; 18] = [
    0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 13.0, 16.0, 20.0, 25.0, 30.0, 40.0,
];
/// Sparser offsets for measures with many components (empirical data).
const CENTRE_OFFSETS_FEW: [f64; 9] = [0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 40.0];
/// Offsets (in transition widths) around an equal-weight point of two components;
/// 40 widths is where the lesser weight has fallen to e^{-40}.
const TRANSITION_OFFSETS: [f64; 17] = [
    0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 13.0, 16.0, 20.0, 25.0, 30.0, 40.0,
];
/// Up to this many components every pair gets transition nodes. Beyond it, for equal
/// widths and weights (empirical measures) the neighbouring pairs by centre, the
/// breakpoints of the log-weights' envelope; otherwise the pairs whose equal-weight
/// points lie near that envelope (`envelope::sharing_pairs`), which is right for any
/// widths.
const ALL_PAIRS_MAX: usize = 64;
/// Local maxima of the grid refined by golden section.
const SUP_REFINE: usize = 8;

/// The measure at a fixed r, with its structure nodes and a grid of L_r.
#[derive(Clone, Debug)]
pub struct ExactLocalization {
    loc: Localizer,
    /// L_r when it does not depend on y (point mass, normal).
    constant: Option<f64>,
    nodes: Vec<f64>,
    grid_y: Vec<f64>,
    grid_l: Vec<f64>,
    /// The grid split into maximal monotone runs of the computed `grid_l` (see
    /// [`monotone_runs`]); None when some grid value is NaN.
    runs: Option<Vec<Run>>,
    sup: f64,
    /// Integrals over the quadrature's subintervals, built on the first level set.
    table: OnceLock<PieceTable>,
    /// Whether the level-set crossings use Newton steps on the exact slope (mixtures
    /// that are not windowed) rather than Illinois.
    newton_crossings: bool,
    /// The grid values in increasing order, to find the levels u that some grid value
    /// ties to within rounding (see [`ExactLocalization::node_excess`]); empty where
    /// the localizer has no accurate L_r - u (the uniform, windowed mixtures).
    sorted_l: Vec<f64>,
    /// Set when an integral ran out of subintervals before meeting its error budget.
    unconverged: Flag,
}

/// A flag that any thread may raise (and a clone keeps).
#[derive(Debug, Default)]
struct Flag(AtomicBool);

impl Clone for Flag {
    fn clone(&self) -> Self {
        Flag(AtomicBool::new(self.0.load(Ordering::Relaxed)))
    }
}

impl Flag {
    fn raise_unless(&self, ok: bool) {
        if !ok {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Running integrals over the final subintervals of one adaptive quadrature over the
/// whole line: `cum[k]` = (∫ p, ∫ L_r p) from `ends[0]` to `ends[k]`. A level set then
/// needs quadrature only on the subintervals its crossings cut (small, so one
/// Gauss–Kronrod panel each as a rule); everything else is read off the table.
#[derive(Clone, Debug)]
struct PieceTable {
    ends: Vec<f64>,
    cum: Vec<[f64; 2]>,
}

/// Level-set summary at threshold u: s = P(L_r > u) and tail = E[(L_r - u)₊].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LevelSet {
    pub survival: f64,
    pub tail: f64,
}

impl ExactLocalization {
    /// Prepare μ at SNR r ≥ 0.
    pub fn new(measure: &Measure, r: f64) -> Self {
        let loc = Localizer::new(measure, r);
        let constant = match loc.kind() {
            Kind::Single(p) => Some(p.c),
            Kind::Mixture { comps, .. } if comps.len() == 1 => Some(comps[0].c),
            _ => None,
        };
        if let Some(c) = constant {
            return ExactLocalization {
                loc,
                constant,
                nodes: Vec::new(),
                grid_y: Vec::new(),
                grid_l: Vec::new(),
                runs: None,
                sup: c,
                table: OnceLock::new(),
                newton_crossings: false,
                sorted_l: Vec::new(),
                unconverged: Flag::default(),
            };
        }
        let nodes = structure_nodes(loc.kind());
        let mut grid_y = Vec::with_capacity(nodes.len() * CELLS + 1);
        for w in nodes.windows(2) {
            let step = (w[1] - w[0]) / CELLS as f64;
            for k in 0..CELLS {
                grid_y.push(w[0] + step * k as f64);
            }
        }
        grid_y.push(*nodes.last().expect("structure nodes are never empty"));
        // Put every place where L_r turns on the grid, so that each grid cell is a
        // monotone piece of L_r: a level u near a local extremum that falls between
        // grid points would otherwise show no sign change and be missed.
        let turns = turning_points(&loc, &grid_y);
        if !turns.is_empty() {
            grid_y.extend(turns);
            grid_y.sort_by(f64::total_cmp);
            grid_y.dedup();
        }
        // The batch kernel gives the one-at-a-time values, bit for bit.
        let mut grid_l = grid_y.clone();
        loc.localization_batch(&mut grid_l);
        let runs = monotone_runs(&grid_l);
        // Both the slope and the accurate difference exist exactly for Gaussian
        // mixtures that are not windowed.
        let newton_crossings = loc.localization_and_slope(0.0).is_some();
        let sorted_l = if newton_crossings {
            let mut v = grid_l.clone();
            v.sort_by(f64::total_cmp);
            v
        } else {
            Vec::new()
        };
        let mut out = ExactLocalization {
            loc,
            constant,
            nodes,
            grid_y,
            grid_l,
            runs,
            sup: 0.0,
            table: OnceLock::new(),
            newton_crossings,
            sorted_l,
            unconverged: Flag::default(),
        };
        out.sup = out.refine_sup();
        out
    }

    /// The prepared measure.
    pub fn localizer(&self) -> &Localizer {
        &self.loc
    }

    /// r.
    pub fn r(&self) -> f64 {
        self.loc.r()
    }

    /// Whether every integral so far met its error budget. A value computed after this
    /// turns false may be off by more than the stated accuracy: callers report it.
    pub fn converged(&self) -> bool {
        !self.unconverged.0.load(Ordering::Relaxed)
    }

    /// An error naming the measure and r when an integral did not converge.
    pub fn check_converged(&self, measure: &str) -> Result<(), String> {
        if self.converged() {
            Ok(())
        } else {
            Err(format!(
                "the quadrature for measure `{measure}` at r = {} did not reach its accuracy ({QUAD_TOL:e}) within {MAX_PIECES} subintervals; its values would be unreliable (a measure with very many atoms or extreme r?)",
                self.r()
            ))
        }
    }

    /// ess sup_y L_r(y) (= sup, since Y_r has a positive density on the whole line).
    pub fn sup_localization(&self) -> f64 {
        self.sup
    }

    /// Whether s_r(1) = 0 (sup L_r ≤ 1 up to [`LOG_CONCAVE_SLACK`]).
    pub fn is_log_concave_like(&self) -> bool {
        self.sup <= 1.0 + LOG_CONCAVE_SLACK
    }

    fn refine_sup(&self) -> f64 {
        let n = self.grid_l.len();
        let mut best = self
            .grid_l
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let mut peaks: Vec<usize> = (0..n)
            .filter(|&k| {
                let left = k == 0 || self.grid_l[k] >= self.grid_l[k - 1];
                let right = k + 1 == n || self.grid_l[k] >= self.grid_l[k + 1];
                left && right
            })
            .collect();
        peaks.sort_by(|&a, &b| self.grid_l[b].total_cmp(&self.grid_l[a]));
        for &k in peaks.iter().take(SUP_REFINE) {
            let a = self.grid_y[k.saturating_sub(1)];
            let b = self.grid_y[(k + 1).min(n - 1)];
            best = best.max(golden_max(|y| self.loc.localization(y), a, b));
        }
        best
    }

    /// The points where L_r crosses the level u, in increasing order: every grid cell
    /// whose ends lie on opposite sides of u, refined by [`newton_crossing`] for
    /// mixtures (three or four evaluations of L_r and its slope) or by the Illinois
    /// variant of regula falsi (a dozen evaluations where bisection needs fifty) down
    /// to neighbouring doubles.
    pub fn crossings(&self, u: f64) -> Vec<f64> {
        if self.has_ties(u) {
            return self.crossings_with_ties(u);
        }
        let mut out = Vec::new();
        let mut push = |k: usize| {
            let ends = (
                (self.grid_y[k], self.grid_l[k] - u),
                (self.grid_y[k + 1], self.grid_l[k + 1] - u),
            );
            out.push(if self.newton_crossings {
                newton_crossing(
                    |y| {
                        let (l, slope) = self
                            .loc
                            .localization_and_slope(y)
                            .expect("set only where the slope kernel applies");
                        (l - u, slope)
                    },
                    ends.0,
                    ends.1,
                )
            } else {
                super::quadrature::illinois_crossing(
                    |y| self.loc.localization(y) - u,
                    ends.0,
                    ends.1,
                )
            });
        };
        match &self.runs {
            // On a monotone run "L_r > u" switches at most once, at the cell a binary
            // search finds: the same cells, in the same order, as the scan below.
            Some(runs) => {
                for run in runs {
                    let (s, e) = (run.start as usize, run.end as usize);
                    let vals = &self.grid_l[s..=e];
                    let j = if run.rising {
                        vals.partition_point(|&l| l <= u)
                    } else {
                        vals.partition_point(|&l| l > u)
                    };
                    if j > 0 && j < vals.len() {
                        push(s + j - 1);
                    }
                }
            }
            None => {
                for k in 0..self.grid_y.len().saturating_sub(1) {
                    let above_a = self.grid_l[k] > u;
                    if above_a != (self.grid_l[k + 1] > u) {
                        push(k);
                    }
                }
            }
        }
        out
    }

    /// Whether some grid value of L_r lies within rounding of u ([`tie_band`]).
    fn has_ties(&self, u: f64) -> bool {
        let t = tie_band(u);
        let k = self.sorted_l.partition_point(|&l| l < u - t);
        self.sorted_l.get(k).is_some_and(|&l| l <= u + t)
    }

    /// L_r - u at grid point k: the grid value minus u, or, where that lies within
    /// rounding of 0, [`Localizer::localization_excess`], whose sign is right. Such
    /// ties are not rare: at a level u equal to the tail limit of L_r (the within-
    /// component variance c_i of the widest component, e.g. u = 0.9 for
    /// ½δ_0 + ½N(0, 1) at r = 3), L_r stays within 1e-16 of u over a stretch that
    /// carries 1e-3 of the probability, and the rounded grid values would scatter
    /// spurious crossings over it.
    fn node_excess(&self, k: usize, u: f64) -> f64 {
        let d = self.grid_l[k] - u;
        self.resolve_tie(self.grid_y[k], d, u)
    }

    /// L_r(y) - u, resolved like [`ExactLocalization::node_excess`].
    fn excess_at(&self, y: f64, u: f64) -> f64 {
        self.resolve_tie(y, self.loc.localization(y) - u, u)
    }

    /// `d` = L_r(y) - u as rounded, replaced by the accurate difference when it lies
    /// within rounding of 0 and the localizer has one.
    fn resolve_tie(&self, y: f64, d: f64, u: f64) -> f64 {
        if d.abs() <= tie_band(u) {
            if let Some(exact) = self.loc.localization_excess(y, u) {
                return exact;
            }
        }
        d
    }

    /// [`ExactLocalization::crossings`] at a level that some grid value ties: every
    /// cell is scanned with the signs of [`ExactLocalization::node_excess`] (the
    /// monotone runs come from rounded values, which need not be monotone across a
    /// tie), and crossings are refined by Illinois on the accurate difference.
    fn crossings_with_ties(&self, u: f64) -> Vec<f64> {
        let mut out = Vec::new();
        let mut prev = (self.grid_y[0], self.node_excess(0, u));
        for k in 1..self.grid_y.len() {
            let here = (self.grid_y[k], self.node_excess(k, u));
            if (prev.1 > 0.0) != (here.1 > 0.0) {
                out.push(super::quadrature::illinois_crossing(
                    |y| self.excess_at(y, u),
                    prev,
                    here,
                ));
            }
            prev = here;
        }
        out
    }

    /// The integrand (p_{Y_r}, L_r p_{Y_r}) at every y of `ys`, by the batch kernel.
    fn integrand(&self, ys: &[f64], out: &mut [[f64; 2]]) {
        const CHUNK: usize = crate::measure::BATCH;
        let (mut l, mut p) = ([0.0; CHUNK], [0.0; CHUNK]);
        for (ys, out) in ys.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            let n = ys.len();
            self.loc
                .localization_and_density_batch(ys, &mut l[..n], &mut p[..n]);
            for ((o, &l), &p) in out.iter_mut().zip(&l[..n]).zip(&p[..n]) {
                *o = [p, l * p];
            }
        }
    }

    /// The table, built on first use by one adaptive quadrature over the intervals
    /// between structure nodes (they already sit wherever L_r or p_{Y_r} change on a
    /// short scale; the subdivision refines the rest).
    fn piece_table(&self) -> &PieceTable {
        self.table.get_or_init(|| {
            let sub = subdivide_batched(
                |ys: &[f64], out: &mut [[f64; 2]]| self.integrand(ys, out),
                &self.nodes,
                QUAD_TOL,
                MAX_PIECES,
            );
            self.unconverged.raise_unless(sub.converged);
            let mut ends = Vec::with_capacity(sub.pieces.len() + 1);
            let mut cum = Vec::with_capacity(sub.pieces.len() + 1);
            let mut acc = [0.0; 2];
            ends.push(sub.pieces.first().map_or(self.nodes[0], |p| p.0));
            cum.push(acc);
            for (_, b, v) in sub.pieces {
                acc[0] += v[0];
                acc[1] += v[1];
                ends.push(b);
                cum.push(acc);
            }
            PieceTable { ends, cum }
        })
    }

    /// Add (∫ p, ∫ L_r p) over [a, b] ⊆ the grid to `whole` where the table has it
    /// (whole pieces), and push the two cut pieces at the ends, [a, next end] and
    /// [last end, b], onto `cut` for quadrature.
    fn split_integral(&self, a: f64, b: f64, whole: &mut [f64; 2], cut: &mut Vec<(f64, f64)>) {
        let table = self.piece_table();
        let (g, cum) = (&table.ends, &table.cum);
        // Pieces are [g[k], g[k+1]); ka, kb are the pieces holding a and b.
        let piece = |y: f64| {
            g.partition_point(|&x| x <= y)
                .saturating_sub(1)
                .min(g.len() - 2)
        };
        let (ka, kb) = (piece(a), piece(b));
        let mut add = |v: [f64; 2]| {
            whole[0] += v[0];
            whole[1] += v[1];
        };
        if ka == kb {
            if a == g[ka] && b == g[ka + 1] {
                add(sub(cum[ka + 1], cum[ka]));
            } else if b > a {
                cut.push((a, b));
            }
            return;
        }
        // [a, g[ka+1]] + whole pieces ka+1..kb + [g[kb], b].
        if a == g[ka] {
            add(sub(cum[ka + 1], cum[ka]));
        } else {
            cut.push((a, g[ka + 1]));
        }
        add(sub(cum[kb], cum[ka + 1]));
        if b == g[kb + 1] {
            add(sub(cum[kb + 1], cum[kb]));
        } else if b > g[kb] {
            cut.push((g[kb], b));
        }
    }

    /// s_r(u) and E[(L_r - u)₊] together (they share the crossings and the density).
    pub fn level_set(&self, u: f64) -> LevelSet {
        self.level_set_and_density(u, false).0
    }

    /// [`ExactLocalization::level_set`] and, if `density`, the density of L_r(Y_r) at
    /// u, f_L(u) = -s_r'(u) = Σ p_{Y_r}(y)/|L_r'(y)| over the crossings y of L_r = u
    /// (the derivative the Newton steps of `complexity` and `best_gap` use; +∞ at a
    /// crossing where L_r turns, 0 when there is none).
    fn level_set_and_density(&self, u: f64, density: bool) -> (LevelSet, f64) {
        if let Some(c) = self.constant {
            let ls = LevelSet {
                survival: if c > u { 1.0 } else { 0.0 },
                tail: (c - u).max(0.0),
            };
            return (ls, 0.0);
        }
        if u >= self.sup {
            let ls = LevelSet {
                survival: 0.0,
                tail: 0.0,
            };
            return (ls, 0.0);
        }
        // Between consecutive crossings L_r - u keeps its sign; the runs above u are
        // integrated from the table, and the pieces their ends cut by one adaptive
        // quadrature (one error budget for all of them).
        let (lo, hi) = (self.grid_y[0], self.grid_y[self.grid_y.len() - 1]);
        let crossings = self.crossings(u);
        let f_l = if density {
            crossings
                .iter()
                .map(|&y| self.loc.density(y) / self.loc.localization_slope(y).abs())
                .sum()
        } else {
            0.0
        };
        let mut bounds = vec![lo];
        bounds.extend(crossings);
        bounds.push(hi);
        let mut q = [0.0; 2];
        let mut cut = Vec::new();
        for w in bounds.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b > a && self.run_is_above(a, b, u) {
                self.split_integral(a, b, &mut q, &mut cut);
            }
        }
        if !cut.is_empty() {
            let (parts, converged) = integrate_each_batched(
                |ys: &[f64], out: &mut [[f64; 2]]| self.integrand(ys, out),
                &cut,
                QUAD_TOL,
                MAX_PIECES,
            );
            self.unconverged.raise_unless(converged);
            for v in parts {
                q[0] += v[0];
                q[1] += v[1];
            }
        }
        let mut ls = LevelSet {
            // L_r ≥ 0, so below 0 every y counts; say so exactly rather than 1 - 1e-16.
            survival: if u < 0.0 { 1.0 } else { q[0].clamp(0.0, 1.0) },
            tail: (q[1] - u * q[0]).max(0.0),
        };
        if q[0] > 0.0 && q[0] < SMALL_MASS {
            if let Some(small) = self.small_level_set(&bounds, u, q[0]) {
                ls = small;
            }
        }
        (ls, f_l)
    }

    /// A level set of small probability `mass` (below [`SMALL_MASS`]) integrated to a
    /// relative accuracy: the table's running sums and its error budget are absolute
    /// (QUAD_TOL), which leaves s_r(u) and h with few correct digits when they are
    /// 1e-15 or less (two point masses at r ≳ 8, δ near 1), and the minimiser δ* of
    /// m = h/δ, where both terms of the first-order condition are that small, off in
    /// the third decimal. Each run above u between consecutive `bounds` (the ends of
    /// the grid and the crossings) is integrated directly, split at the structure
    /// nodes inside it, as (p_{Y_r}, (L_r - u) p_{Y_r}), to a budget of 1e-10 of the
    /// mass. None when that budget is not met (the table's values, which met the
    /// absolute one, then stand).
    fn small_level_set(&self, bounds: &[f64], u: f64, mass: f64) -> Option<LevelSet> {
        let mut pieces = Vec::new();
        let runs = bounds
            .windows(2)
            .map(|w| (w[0], w[1]))
            .filter(|&(a, b)| b > a && self.run_is_above(a, b, u));
        for (a, b) in runs {
            let mut start = a;
            let inside = self.nodes.partition_point(|&y| y <= a);
            for &y in self.nodes[inside..].iter().take_while(|&&y| y < b) {
                pieces.push((start, y));
                start = y;
            }
            pieces.push((start, b));
        }
        let (parts, converged) = integrate_each_batched(
            |ys: &[f64], out: &mut [[f64; 2]]| {
                self.integrand(ys, out);
                for o in out.iter_mut() {
                    o[1] -= u * o[0];
                }
            },
            &pieces,
            (mass * 1e-10).max(f64::MIN_POSITIVE),
            MAX_PIECES,
        );
        if !converged {
            return None;
        }
        let total = parts
            .iter()
            .fold([0.0; 2], |acc, v| [acc[0] + v[0], acc[1] + v[1]]);
        Some(LevelSet {
            survival: total[0].clamp(0.0, 1.0),
            tail: total[1].max(0.0),
        })
    }

    /// Whether L_r > u on a run (a, b) between consecutive crossings: the sign there
    /// does not change, so one point decides (a grid point inside when there is one).
    fn run_is_above(&self, a: f64, b: f64, u: f64) -> bool {
        let k = self.grid_y.partition_point(|&y| y <= a);
        match self.grid_y.get(k) {
            Some(&y) if y < b => self.node_excess(k, u) > 0.0,
            _ => self.excess_at(0.5 * (a + b), u) > 0.0,
        }
    }

    /// s_r(u) = P(L_r(Y_r) > u).
    pub fn survival(&self, u: f64) -> f64 {
        self.level_set(u).survival
    }

    /// h(δ, r) = E[(L_r - (1 - δ))₊].
    pub fn integrated_tail(&self, delta: f64) -> f64 {
        self.level_set(1.0 - delta).tail
    }

    /// ∫ f(y) p_{Y_r}(y) dy over the structure nodes (for expectations of smooth
    /// functions of y, e.g. E[L_r - 1] and E[score²] in Prop. 4).
    pub fn expectation<const N: usize, F: FnMut(f64) -> [f64; N]>(&self, mut f: F) -> [f64; N] {
        let nodes = if self.constant.is_some() {
            constant_nodes(&self.loc)
        } else {
            self.nodes.clone()
        };
        let loc = &self.loc;
        let q = integrate(
            |y| {
                let p = loc.density(y);
                let mut v = f(y);
                for x in v.iter_mut() {
                    *x *= p;
                }
                v
            },
            &nodes,
            QUAD_TOL,
            MAX_PIECES,
        );
        self.unconverged.raise_unless(q.converged);
        q.value
    }

    /// m*(r) and δ*(r), δ* the largest minimiser of m(δ) = h(δ)/δ over (0, 1]
    /// (`levels::complexity`, Newton on the density of L_r inside a bisection bracket,
    /// to 1e-13).
    pub fn complexity(&self) -> Complexity {
        super::levels::complexity(self, super::levels::Search::Newton(1e-13))
    }

    /// sup_{δ∈[0,1]} (δ - M h(δ, r)) and the maximiser δ (the numerator of ζ*_M),
    /// `levels::best_gap` with Newton inside a bisection bracket, to 1e-12.
    /// M = ∞ gives 1 - sup L_r when sup L_r ≤ 1 and -∞ otherwise; M < 0 or NaN gives NaN.
    pub fn best_gap(&self, big_m: f64) -> (f64, f64) {
        super::levels::best_gap(self, big_m, super::levels::Search::Newton(1e-12))
    }
}

impl super::levels::LevelSets for ExactLocalization {
    fn sup(&self) -> f64 {
        self.sup
    }
    fn constant(&self) -> Option<f64> {
        self.constant
    }
    fn level_set(&self, u: f64) -> LevelSet {
        ExactLocalization::level_set(self, u)
    }
    fn level_set_and_density(&self, u: f64) -> (LevelSet, f64) {
        ExactLocalization::level_set_and_density(self, u, true)
    }
}

/// A maximal run grid_l[start..=end] of the computed grid values that is
/// non-decreasing (`rising`) or non-increasing; consecutive runs share an end point,
/// so every grid cell lies in exactly one run.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: u32,
    end: u32,
    rising: bool,
}

/// Split the grid values into maximal monotone runs (greedily, left to right), or
/// None if a value is NaN (the crossings then scan every cell).
fn monotone_runs(l: &[f64]) -> Option<Vec<Run>> {
    if l.iter().any(|v| v.is_nan()) || l.len() < 2 || l.len() > u32::MAX as usize {
        return None;
    }
    let mut runs = Vec::new();
    let mut start = 0;
    while start + 1 < l.len() {
        // The direction is set by the first strict step; a flat start is both.
        let mut end = start + 1;
        let mut dir = 0i8;
        while end < l.len() {
            let step = l[end].partial_cmp(&l[end - 1]).expect("no NaN");
            let d = match step {
                std::cmp::Ordering::Greater => 1,
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
            };
            if dir == 0 {
                dir = d;
            } else if d != 0 && d != dir {
                break;
            }
            end += 1;
        }
        let end = end - 1;
        runs.push(Run {
            start: start as u32,
            end: end as u32,
            rising: dir >= 0,
        });
        start = end;
    }
    Some(runs)
}

/// The local extrema of L_r between the points of `grid`: every cell where dL_r/dy
/// changes sign, refined by bisection on the slope to neighbouring doubles.
fn turning_points(loc: &Localizer, grid: &[f64]) -> Vec<f64> {
    let mut slope = grid.to_vec();
    loc.localization_slope_batch(&mut slope);
    let mut out = Vec::new();
    for k in 0..grid.len().saturating_sub(1) {
        let (sa, sb) = (slope[k], slope[k + 1]);
        if sa == 0.0 || sb == 0.0 || (sa > 0.0) == (sb > 0.0) || sa.is_nan() || sb.is_nan() {
            continue;
        }
        let (mut a, mut b) = (grid[k], grid[k + 1]);
        let rising_a = sa > 0.0;
        for _ in 0..200 {
            let mid = 0.5 * (a + b);
            if mid <= a || mid >= b {
                break;
            }
            let s = loc.localization_slope(mid);
            if s == 0.0 {
                a = mid;
                b = mid;
                break;
            }
            if (s > 0.0) == rising_a {
                a = mid;
            } else {
                b = mid;
            }
        }
        // The extremum itself, at whichever end of the final bracket is higher (for a
        // maximum) or lower (for a minimum).
        let (la, lb) = (loc.localization(a), loc.localization(b));
        let pick = if rising_a == (la >= lb) { a } else { b };
        if pick > grid[k] && pick < grid[k + 1] {
            out.push(pick);
        }
    }
    out
}

/// Nodes for integrating against a single Gaussian component.
fn constant_nodes(loc: &Localizer) -> Vec<f64> {
    match loc.kind() {
        Kind::Single(p) => centre_nodes(p, &CENTRE_OFFSETS),
        Kind::Mixture { comps, .. } => centre_nodes(&comps[0], &CENTRE_OFFSETS),
        Kind::Uniform(_) => unreachable!("a uniform never has constant localization"),
    }
}

fn centre_nodes(p: &Prep, offsets: &[f64]) -> Vec<f64> {
    let sd = p.sd();
    let mut v: Vec<f64> = offsets
        .iter()
        .flat_map(|&k| [p.center - k * sd, p.center + k * sd])
        .collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// Points where components i and j have equal posterior log-weight
/// ln(p/v) - ½(y - r m)²/v², with the transition width 1/|e_i - e_j| at each.
fn equal_weight_points(pi: &Prep, pj: &Prep, out: &mut Vec<(f64, f64)>) {
    // D(y) = A y² + B y + C.
    let a = -0.5 * (pi.inv_v2 - pj.inv_v2);
    let b = pi.inv_v2 * pi.center - pj.inv_v2 * pj.center;
    let c = (pi.coef / pj.coef).ln() - 0.5 * pi.inv_v2 * pi.center * pi.center
        + 0.5 * pj.inv_v2 * pj.center * pj.center;
    let mut push = |y: f64| {
        if y.is_finite() {
            let ei = -(y - pi.center) * pi.inv_v2;
            let ej = -(y - pj.center) * pj.inv_v2;
            let slope = (ei - ej).abs();
            if slope > 0.0 {
                out.push((y, 1.0 / slope));
            }
        }
    };
    let scale = pi.inv_v2.max(pj.inv_v2);
    if a.abs() <= 1e-14 * scale {
        if b != 0.0 {
            push(-c / b);
        }
    } else {
        let disc = b * b - 4.0 * a * c;
        if disc >= 0.0 {
            // Numerically stable pair of roots.
            let q = -0.5 * (b + b.signum() * disc.sqrt());
            if q != 0.0 {
                push(q / a);
                push(c / q);
            } else {
                push(0.0);
            }
        }
    }
}

/// Sorted structure nodes (see the module header), clipped to the covered range.
pub(super) fn structure_nodes(kind: &Kind) -> Vec<f64> {
    let mut nodes = Vec::new();
    let (lo, hi) = match kind {
        Kind::Single(p) => {
            nodes.extend(centre_nodes(p, &CENTRE_OFFSETS));
            (p.center - SPAN * p.sd(), p.center + SPAN * p.sd())
        }
        Kind::Mixture {
            comps: ps,
            windowed,
        } => {
            let many = ps.len() > 16;
            let offsets: &[f64] = if many {
                &CENTRE_OFFSETS_FEW
            } else {
                &CENTRE_OFFSETS
            };
            let mut lo = f64::INFINITY;
            let mut hi = f64::NEG_INFINITY;
            // (node, the length scale of the feature that placed it)
            let mut scaled: Vec<(f64, f64)> = Vec::new();
            for p in ps {
                scaled.extend(centre_nodes(p, offsets).into_iter().map(|y| (y, p.sd())));
                lo = lo.min(p.center - SPAN * p.sd());
                hi = hi.max(p.center + SPAN * p.sd());
            }
            let mut transitions = Vec::new();
            if ps.len() <= ALL_PAIRS_MAX {
                for i in 0..ps.len() {
                    for j in i + 1..ps.len() {
                        equal_weight_points(&ps[i], &ps[j], &mut transitions);
                    }
                }
            } else if *windowed {
                // Equal widths and weights: the log-weights differ by lines, the
                // envelope's breakpoints are the midpoints of neighbouring centres.
                let mut sorted = ps.clone();
                sorted.sort_by(|a, b| a.center.total_cmp(&b.center));
                for w in sorted.windows(2) {
                    equal_weight_points(&w[0], &w[1], &mut transitions);
                }
            } else {
                transitions = super::envelope::sharing_pairs(ps, lo, hi);
            }
            for (y0, width) in transitions {
                if y0 > lo && y0 < hi {
                    scaled.extend(
                        TRANSITION_OFFSETS
                            .iter()
                            .flat_map(|&k| [(y0 - k * width, width), (y0 + k * width, width)]),
                    );
                }
            }
            if many {
                nodes.extend(thin(scaled));
            } else {
                nodes.extend(scaled.into_iter().map(|(y, _)| y));
            }
            (lo, hi)
        }
        Kind::Uniform(u) => {
            let (lo, hi) = (u.lo, u.hi);
            // Truncation edges act on the unit scale of Z; inside a long interval L_r
            // is flat, so inward nodes grow geometrically.
            let half = 0.5 * (hi - lo);
            for &k in &CENTRE_OFFSETS {
                nodes.extend([lo - k, hi + k]);
                if k < half {
                    nodes.extend([lo + k, hi - k]);
                }
            }
            let mut k = 40.0;
            while k < half {
                nodes.extend([lo + k, hi - k]);
                k *= 1.5;
            }
            nodes.push(0.5 * (lo + hi));
            (lo - SPAN, hi + SPAN)
        }
    };
    nodes.push(lo);
    nodes.push(hi);
    nodes.retain(|&y| y >= lo && y <= hi);
    nodes.sort_by(f64::total_cmp);
    nodes.dedup();
    nodes
}

/// Drop nodes that lie within a tenth of their own feature's scale of the last kept
/// node: with many overlapping components (empirical data) most nodes are redundant,
/// and every dropped node has a kept one closer than 0.1 of its scale, so each
/// feature stays resolved.
fn thin(mut scaled: Vec<(f64, f64)>) -> Vec<f64> {
    scaled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<f64> = Vec::with_capacity(scaled.len());
    let mut last = (f64::NEG_INFINITY, f64::INFINITY);
    for (y, scale) in scaled {
        if y - last.0 >= 0.1 * scale.min(last.1) {
            out.push(y);
            last = (y, scale);
        } else {
            last.1 = last.1.min(scale);
        }
    }
    out
}

/// Where f changes sign between a and b, f(a) = fa and f(b) = fb on opposite sides
/// of 0 ("above" is f > 0), with f returning (value, derivative): Newton steps from
/// the secant point, each kept strictly inside the shrinking bracket (its midpoint
/// when a step would leave it), until a step moves x by at most a few ulps or the
/// bracket closes to neighbouring doubles. Three or four evaluations where Illinois
/// needs a dozen; the bracket keeps bisection's guarantee.
fn newton_crossing(
    f: impl Fn(f64) -> (f64, f64),
    (mut a, fa): (f64, f64),
    (mut b, fb): (f64, f64),
) -> f64 {
    let above_a = fa > 0.0;
    let secant = a + (b - a) * (fa / (fa - fb));
    let mut x = if secant > a && secant < b {
        secant
    } else {
        0.5 * (a + b)
    };
    for _ in 0..200 {
        let (v, d) = f(x);
        if v == 0.0 {
            return x;
        }
        if (v > 0.0) == above_a {
            a = x;
        } else {
            b = x;
        }
        let mid = 0.5 * (a + b);
        if mid <= a || mid >= b {
            break;
        }
        let step = v / d;
        if step.abs() <= 4.0 * f64::EPSILON * x.abs() {
            return x;
        }
        let next = x - step;
        x = if next > a && next < b { next } else { mid };
    }
    0.5 * (a + b)
}

/// Grid values of L_r within this band of a level u are ties: rounding could put them
/// on either side (64 ulps of u, or of 1 for small u; L_r is formed with a few
/// roundings of terms no larger than it).
fn tie_band(u: f64) -> f64 {
    64.0 * f64::EPSILON * u.abs().max(1.0)
}

fn sub(a: [f64; 2], b: [f64; 2]) -> [f64; 2] {
    [a[0] - b[0], a[1] - b[1]]
}

/// Golden-section maximisation of a unimodal-on-[a, b] function; returns the best
/// value seen (including the ends).
fn golden_max<F: Fn(f64) -> f64>(f: F, a: f64, b: f64) -> f64 {
    let best = f(a).max(f(b));
    let [(_, g1), (_, g2)] = super::golden_section(|y| -f(y), a, b, 80, 1e-15);
    best.max(-g1).max(-g2)
}

#[cfg(test)]
mod tests {
    use super::newton_crossing;

    #[test]
    fn newton_closes_on_the_root_from_either_side() {
        // x³ - 2 rising and falling on [0, 2]: the root 2^(1/3) to a few ulps. A slope
        // that is zero at the start and a kink the Newton step overshoots fall back to
        // halving and still end at the root.
        let root = 2f64.cbrt();
        let up = newton_crossing(|x| (x * x * x - 2.0, 3.0 * x * x), (0.0, -2.0), (2.0, 6.0));
        let down = newton_crossing(|x| (2.0 - x * x * x, -3.0 * x * x), (0.0, 2.0), (2.0, -6.0));
        assert!((up - root).abs() < 4.0 * f64::EPSILON, "{up} vs {root}");
        assert!((down - root).abs() < 4.0 * f64::EPSILON, "{down} vs {root}");
        let flat = newton_crossing(|x| (x * x * x - 1.0, 3.0 * x * x), (-1.0, -2.0), (1.0, 0.0));
        assert!((flat - 1.0).abs() < 4.0 * f64::EPSILON, "{flat}");
        let kink = newton_crossing(
            |x| ((x - 0.3f64).abs() - 0.1, (x - 0.3).signum()),
            (0.3, -0.1),
            (1.0, 0.6),
        );
        assert!((kink - 0.4).abs() < 1e-14, "{kink}");
    }
}
