//! Exact s_r, h, m*, δ*, ζ*_M in the plane (nested adaptive quadrature) and for
//! Gaussians in any dimension (L_r constant).
//!
//! For a Gaussian μ = N(m, Σ) in R^d, L_r ≡ r²λ_max/(r²λ_max + 1) with λ_max the
//! largest eigenvalue of Σ, so every level set is 0 or 1. For a mixture in R²,
//!   s_r(u) = ∫ dy₁ ∫_{L_r(y₁, ·) > u} p(y₁, y₂) dy₂,
//!   E[(L_r - u)₊] = ∫ dy₁ ∫_{L_r(y₁, ·) > u} (L_r - u) p dy₂.
//! The outer integral over y₁ is adaptive Gauss–Kronrod (error budget [`OUTER_TOL`]);
//! at each y₁ the inner problem is one-dimensional: along the slice, component i of
//! Y_r is N(μ_i(y₁), s_i²) times its marginal weight, so the slice gets structure
//! nodes at each active component's centre (multiples of s_i) and at the points where
//! two components' posterior weights are equal (multiples of the transition width),
//! as the 1-D code does. L_r is evaluated on that grid; local extrema of the grid
//! that come within 10% of the level are refined (so a narrow bump that crosses u
//! between grid points is not missed); crossings are refined by regula falsi to
//! neighbouring doubles. Over each run above u, ∫ p dy₂ is closed form (differences of
//! Φ) and ∫ (L_r - u) p dy₂ is adaptive Gauss–Kronrod. The outer integrand has
//! square-root kinks where level curves turn (vertical tangents); adaptivity refines
//! them. Accuracy ~1e-8 against the oracles of the tests (product laws, collinear
//! means). m*, δ* and ζ*_M come from `localize::levels`, as in 1-D. The slices of
//! each new outer subinterval are computed in parallel (the sums are those of the
//! sequential rule, so the numbers do not depend on the thread count), and each level
//! set is integrated once per level however often it is asked for.

use std::sync::atomic::{AtomicBool, Ordering};

use super::measure::{SpaceLocalizer, SpaceMeasure};
use crate::localize::levels::{self, LevelSets, Search};
use crate::localize::quadrature::{integrate_par, integrate_pieces};
use crate::localize::{Complexity, LevelSet};
use crate::measure::special::norm_interval;

/// Error budget of the outer integral (s and h).
pub const OUTER_TOL: f64 = 1e-9;
/// Error budget of each inner tail integral.
const INNER_TOL: f64 = 1e-11;
/// Subintervals per integral.
const MAX_PIECES: usize = 20_000;
/// Bracket width for δ* and the ζ*_M maximiser (regula falsi).
const DELTA_TOL: f64 = 1e-8;
/// Components whose log-weight along a slice falls this far below the largest are
/// dropped from the slice's structure (their weight is below e^-25).
const ACTIVE: f64 = 25.0;
/// Slices and the outer range reach this many standard deviations.
const REACH: f64 = 11.0;
const CENTRE_OFFSETS: [f64; 9] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.5, 7.0, 9.0, 11.0];
const TRANSITION_OFFSETS: [f64; 10] = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0];
const OUTER_OFFSETS: [f64; 9] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.5, 7.0, 9.0, 11.0];
/// A transition between two components matters only where they are within this many
/// log-units of the heaviest component there.
const RELEVANT: f64 = 20.0;

/// One component of Y_r in the plane: marginal of y₁ and conditional of y₂ given y₁.
#[derive(Clone, Debug)]
struct YComp {
    /// ln p_i - ½ ln(2π V₁₁).
    log_w: f64,
    c1: f64,
    c2: f64,
    v11: f64,
    /// V₁₂/V₁₁.
    slope: f64,
    /// Conditional sd of y₂ given y₁.
    s: f64,
}

/// μ at one r, ready for exact level sets.
#[derive(Debug)]
pub struct ExactSpace {
    loc: SpaceLocalizer,
    constant: Option<f64>,
    comps: Vec<YComp>,
    outer: Vec<f64>,
    sup: f64,
    unconverged: AtomicBool,
    /// Slices evaluated so far (cost diagnostics).
    slices: std::sync::atomic::AtomicUsize,
    /// Level sets computed so far, by the bits of u: a level asked again (s_r(1) and
    /// h(0), the searches for δ* and ζ*_M) is not integrated twice.
    memo: std::sync::Mutex<Vec<(u64, LevelSet)>>,
}

impl ExactSpace {
    /// Prepare μ at r > 0. Exact values exist for a single Gaussian in any dimension
    /// and for mixtures in the plane; anything else is an error naming the way out.
    pub fn new(m: &SpaceMeasure, r: f64) -> Result<Self, String> {
        let loc = m.localizer(r);
        if let Some(c) = loc.constant_localization() {
            return Ok(ExactSpace {
                loc,
                constant: Some(c),
                comps: Vec::new(),
                outer: Vec::new(),
                sup: c,
                unconverged: AtomicBool::new(false),
                slices: Default::default(),
                memo: Default::default(),
            });
        }
        if m.dim != 2 {
            return Err(format!(
                "the exact method covers mixtures in the plane (d = 2) and single Gaussians in any dimension; this mixture is in d = {}: use the Monte Carlo method",
                m.dim
            ));
        }
        let comps: Vec<YComp> = m
            .comps
            .iter()
            .map(|c| {
                let v11 = r * r * c.cov[0] + 1.0;
                let v12 = r * r * c.cov[1];
                let v22 = r * r * c.cov[3] + 1.0;
                YComp {
                    log_w: c.weight.ln() - 0.5 * (2.0 * std::f64::consts::PI * v11).ln(),
                    c1: r * c.mean[0],
                    c2: r * c.mean[1],
                    v11,
                    slope: v12 / v11,
                    s: (v22 - v12 * v12 / v11).sqrt(),
                }
            })
            .collect();
        let mut outer: Vec<f64> = comps
            .iter()
            .flat_map(|c| {
                let sd = c.v11.sqrt();
                OUTER_OFFSETS
                    .iter()
                    .flat_map(move |k| [c.c1 - k * sd, c.c1 + k * sd])
            })
            .collect();
        outer.sort_by(f64::total_cmp);
        let min_sd = comps
            .iter()
            .map(|c| c.v11.sqrt())
            .fold(f64::INFINITY, f64::min);
        let mut thinned: Vec<f64> = Vec::with_capacity(outer.len());
        for y in outer {
            if thinned.last().is_none_or(|&l| y - l > 0.5 * min_sd) {
                thinned.push(y);
            }
        }
        let mut out = ExactSpace {
            loc,
            constant: None,
            comps,
            outer: thinned,
            sup: 0.0,
            unconverged: AtomicBool::new(false),
            slices: Default::default(),
            memo: Default::default(),
        };
        out.sup = out.find_sup();
        Ok(out)
    }

    pub fn r(&self) -> f64 {
        self.loc.r()
    }

    /// Slices evaluated so far.
    pub fn slices(&self) -> usize {
        self.slices.load(Ordering::Relaxed)
    }

    /// ess sup L_r.
    pub fn sup_localization(&self) -> f64 {
        self.sup
    }

    /// An error when some integral missed its error budget.
    pub fn check_converged(&self, measure: &str) -> Result<(), String> {
        if self.unconverged.load(Ordering::Relaxed) {
            Err(format!(
                "the nested quadrature for measure `{measure}` at r = {} did not reach its accuracy ({OUTER_TOL:e}) within {MAX_PIECES} subintervals",
                self.r()
            ))
        } else {
            Ok(())
        }
    }

    fn l(&self, y1: f64, y2: f64) -> f64 {
        self.loc.localization2([y1, y2]).0
    }

    /// The largest L_r: a grid over the components' ±6 sd box, then a pattern search
    /// from the eight best local maxima of the grid.
    fn find_sup(&self) -> f64 {
        let mut lo = [f64::INFINITY; 2];
        let mut hi = [f64::NEG_INFINITY; 2];
        for c in &self.comps {
            let sd1 = c.v11.sqrt();
            let sd2 = (c.s * c.s + c.slope * c.slope * c.v11).sqrt();
            lo[0] = lo[0].min(c.c1 - 6.0 * sd1);
            hi[0] = hi[0].max(c.c1 + 6.0 * sd1);
            lo[1] = lo[1].min(c.c2 - 6.0 * sd2);
            hi[1] = hi[1].max(c.c2 + 6.0 * sd2);
        }
        let n = 241;
        let h = [
            (hi[0] - lo[0]) / (n - 1) as f64,
            (hi[1] - lo[1]) / (n - 1) as f64,
        ];
        let grid: Vec<f64> = (0..n * n)
            .map(|k| self.l(lo[0] + h[0] * (k / n) as f64, lo[1] + h[1] * (k % n) as f64))
            .collect();
        let mut peaks: Vec<usize> = (0..n * n)
            .filter(|&k| {
                let (i, j) = ((k / n) as isize, (k % n) as isize);
                (-1..=1).all(|di| {
                    (-1..=1).all(|dj| {
                        let (a, b) = (i + di, j + dj);
                        a < 0
                            || b < 0
                            || a >= n as isize
                            || b >= n as isize
                            || grid[(a as usize) * n + b as usize] <= grid[k]
                    })
                })
            })
            .collect();
        peaks.sort_by(|&a, &b| grid[b].total_cmp(&grid[a]));
        let mut best = grid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        for &k in peaks.iter().take(8) {
            let mut x = [lo[0] + h[0] * (k / n) as f64, lo[1] + h[1] * (k % n) as f64];
            let mut fx = grid[k];
            let mut step = [h[0], h[1]];
            const DIRS: [(f64, f64); 8] = [
                (1.0, 0.0),
                (-1.0, 0.0),
                (0.0, 1.0),
                (0.0, -1.0),
                (1.0, 1.0),
                (1.0, -1.0),
                (-1.0, 1.0),
                (-1.0, -1.0),
            ];
            for _ in 0..2000 {
                let mut moved = false;
                for (a, b) in DIRS {
                    let y = [x[0] + a * step[0], x[1] + b * step[1]];
                    let fy = self.l(y[0], y[1]);
                    if fy > fx {
                        x = y;
                        fx = fy;
                        moved = true;
                        break;
                    }
                }
                if !moved {
                    step = [0.5 * step[0], 0.5 * step[1]];
                    if step[0] < 1e-11 * (1.0 + x[0].abs()) && step[1] < 1e-11 * (1.0 + x[1].abs())
                    {
                        break;
                    }
                }
            }
            best = best.max(fx);
        }
        best
    }

    /// The slice at y₁: active components as (ln weight, centre, sd) along y₂.
    fn slice_comps(&self, y1: f64) -> Vec<(f64, f64, f64)> {
        let lw: Vec<f64> = self
            .comps
            .iter()
            .map(|c| c.log_w - 0.5 * (y1 - c.c1) * (y1 - c.c1) / c.v11)
            .collect();
        let top = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        self.comps
            .iter()
            .zip(&lw)
            .filter(|(_, &w)| w >= top - ACTIVE)
            .map(|(c, &w)| (w, c.c2 + c.slope * (y1 - c.c1), c.s))
            .collect()
    }

    /// (∫ 1{L>u} p dy₂, ∫ (L - u)₊ p dy₂) along the slice at y₁.
    fn slice(&self, y1: f64, u: f64) -> [f64; 2] {
        self.slices.fetch_add(1, Ordering::Relaxed);
        let act = self.slice_comps(y1);
        if act.is_empty() {
            return [0.0; 2];
        }
        // (node, the length scale of the feature that placed it)
        let mut nodes: Vec<(f64, f64)> = Vec::new();
        // Centres of components and transitions: the breakpoints of the tail integrals.
        let mut centres: Vec<f64> = act.iter().map(|c| c.1).collect();
        let log_weight = |k: usize, y: f64| {
            let (w, m, s) = act[k];
            w - s.ln() - 0.5 * (y - m) * (y - m) / (s * s)
        };
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &(_, m, s) in &act {
            nodes.extend(
                CENTRE_OFFSETS
                    .iter()
                    .flat_map(|k| [(m - k * s, s), (m + k * s, s)]),
            );
            lo = lo.min(m - REACH * s);
            hi = hi.max(m + REACH * s);
        }
        // Equal posterior weight of two components along the slice: the log-weight of
        // i is A_i(y) = w_i - ln s_i - ½(y - m_i)²/s_i².
        for i in 0..act.len() {
            for j in i + 1..act.len() {
                let (wi, mi, si) = act[i];
                let (wj, mj, sj) = act[j];
                let (pi, pj) = (1.0 / (si * si), 1.0 / (sj * sj));
                let a = -0.5 * (pi - pj);
                let b = pi * mi - pj * mj;
                let c = (wi - si.ln()) - (wj - sj.ln()) - 0.5 * pi * mi * mi + 0.5 * pj * mj * mj;
                let mut roots = Vec::new();
                if a.abs() <= 1e-14 * pi.max(pj) {
                    if b != 0.0 {
                        roots.push(-c / b);
                    }
                } else {
                    let disc = b * b - 4.0 * a * c;
                    if disc >= 0.0 {
                        let q = -0.5 * (b + b.signum() * disc.sqrt());
                        if q != 0.0 {
                            roots.push(q / a);
                            roots.push(c / q);
                        }
                    }
                }
                for y0 in roots {
                    let slope = ((y0 - mi) * pi - (y0 - mj) * pj).abs();
                    let relevant = y0.is_finite() && {
                        let here = log_weight(i, y0);
                        (0..act.len()).all(|k| log_weight(k, y0) <= here + RELEVANT)
                    };
                    if relevant && slope > 0.0 && y0 > lo && y0 < hi {
                        let width = 1.0 / slope;
                        centres.push(y0);
                        nodes.extend(
                            TRANSITION_OFFSETS
                                .iter()
                                .flat_map(|k| [(y0 - k * width, width), (y0 + k * width, width)]),
                        );
                    }
                }
            }
        }
        nodes.retain(|&(y, _)| y > lo && y < hi);
        nodes.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Drop nodes within a quarter of their own feature's scale of the last kept one:
        // every feature stays resolved, overlapping components do not multiply nodes.
        let mut kept = vec![lo];
        let mut last_scale = f64::INFINITY;
        for (y, scale) in nodes {
            let prev = *kept.last().expect("starts with lo");
            if y - prev >= 0.1 * scale.min(last_scale) {
                kept.push(y);
                last_scale = scale;
            } else {
                last_scale = last_scale.min(scale);
            }
        }
        kept.push(hi);
        let nodes = kept;
        let mut grid = Vec::with_capacity(2 * nodes.len());
        for w in nodes.windows(2) {
            grid.push(w[0]);
            grid.push(0.5 * (w[0] + w[1]));
        }
        grid.push(hi);
        let mut vals: Vec<f64> = grid.iter().map(|&y| self.l(y1, y)).collect();
        // Refine interior extrema of the grid that come near the level.
        let near = 0.1 * u.abs().max(0.1);
        let mut extra = Vec::new();
        for k in 1..grid.len() - 1 {
            let (a, b, c) = (vals[k - 1], vals[k], vals[k + 1]);
            let is_max = b >= a && b >= c && b <= u && b > u - near;
            let is_min = b <= a && b <= c && b > u && b < u + near;
            if is_max || is_min {
                let sign = if is_max { 1.0 } else { -1.0 };
                let (x, v) = golden(|y| sign * self.l(y1, y), grid[k - 1], grid[k + 1]);
                let v = sign * v;
                if (is_max && v > u) || (is_min && v <= u) {
                    extra.push((x, v));
                }
            }
        }
        if !extra.is_empty() {
            let mut pairs: Vec<(f64, f64)> = grid.iter().copied().zip(vals).collect();
            pairs.extend(extra);
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            pairs.dedup_by(|a, b| a.0 == b.0);
            grid = pairs.iter().map(|p| p.0).collect();
            vals = pairs.iter().map(|p| p.1).collect();
        }
        // Runs of the slice where L > u.
        let mut run_start: Option<f64> = None;
        let mut runs: Vec<(f64, f64)> = Vec::new();
        for k in 0..grid.len() {
            let above = vals[k] > u;
            if k > 0 {
                let was = vals[k - 1] > u;
                let cut = if above != was {
                    Some(crate::localize::quadrature::illinois_crossing(
                        |y2| self.l(y1, y2) - u,
                        (grid[k - 1], vals[k - 1] - u),
                        (grid[k], vals[k] - u),
                    ))
                } else {
                    None
                };
                match (was, above, cut) {
                    (true, false, Some(x)) => {
                        runs.push((run_start.take().expect("a run is open"), x));
                    }
                    (false, true, Some(x)) => run_start = Some(x),
                    _ => {}
                }
            } else if above {
                run_start = Some(grid[0]);
            }
        }
        if let Some(s) = run_start {
            runs.push((s, hi));
        }
        if runs.is_empty() {
            return [0.0; 2];
        }
        let mut mass = 0.0;
        for &(a, b) in &runs {
            for &(w, m, s) in &act {
                mass += w.exp() * norm_interval((a - m) / s, (b - m) / s);
            }
        }
        centres.sort_by(f64::total_cmp);
        let mut split: Vec<(f64, f64)> = Vec::new();
        for &(a, b) in &runs {
            let mut x = a;
            for &c in centres.iter().filter(|&&c| c > a && c < b) {
                split.push((x, c));
                x = c;
            }
            split.push((x, b));
        }
        let q = integrate_pieces(
            |y| {
                let (l, lp) = self.loc.localization2([y1, y]);
                [(l - u).max(0.0) * lp.exp()]
            },
            split.into_iter().filter(|(a, b)| b > a),
            INNER_TOL,
            MAX_PIECES,
        );
        if !q.converged {
            self.unconverged.store(true, Ordering::Relaxed);
        }
        [mass, q.value[0]]
    }

    /// s_r(u) and E[(L_r - u)₊].
    pub fn level_set(&self, u: f64) -> LevelSet {
        if let Some(c) = self.constant {
            return LevelSet {
                survival: if c > u { 1.0 } else { 0.0 },
                tail: (c - u).max(0.0),
            };
        }
        if u >= self.sup {
            return LevelSet {
                survival: 0.0,
                tail: 0.0,
            };
        }
        let key = u.to_bits();
        let known = |m: &[(u64, LevelSet)]| m.iter().find(|e| e.0 == key).map(|e| e.1);
        if let Some(ls) = known(&self.memo.lock().expect("memo")) {
            return ls;
        }
        let ls = self.integrate_level_set(u);
        self.memo.lock().expect("memo").push((key, ls));
        ls
    }

    /// s_r(u) and E[(L_r - u)₊] by the nested quadrature, for 0 ≤ u < sup L_r.
    fn integrate_level_set(&self, u: f64) -> LevelSet {
        let lo = self.outer[0];
        let hi = self.outer[self.outer.len() - 1];
        let min_sd = self
            .comps
            .iter()
            .map(|c| c.v11.sqrt())
            .fold(f64::INFINITY, f64::min);
        let mut pts = self.outer.clone();
        pts.insert(
            0,
            lo - (REACH - OUTER_OFFSETS[OUTER_OFFSETS.len() - 1] + 1.0) * min_sd,
        );
        pts.push(hi + min_sd);
        // The slices of each new subinterval in parallel: the same numbers as one
        // after another, for any thread count.
        let q = integrate_par(|y1| self.slice(y1, u), &pts, OUTER_TOL, MAX_PIECES);
        if !q.converged {
            self.unconverged.store(true, Ordering::Relaxed);
        }
        LevelSet {
            survival: if u < 0.0 {
                1.0
            } else {
                q.value[0].clamp(0.0, 1.0)
            },
            tail: q.value[1].max(0.0),
        }
    }

    pub fn survival(&self, u: f64) -> f64 {
        self.level_set(u).survival
    }

    pub fn integrated_tail(&self, delta: f64) -> f64 {
        self.level_set(1.0 - delta).tail
    }

    pub fn complexity(&self) -> Complexity {
        levels::complexity(self, Search::Illinois(DELTA_TOL))
    }

    /// (δ, sup_δ (δ - M h(δ, r))).
    pub fn best_gap(&self, big_m: f64) -> (f64, f64) {
        levels::best_gap(self, big_m, Search::Illinois(DELTA_TOL))
    }
}

impl LevelSets for ExactSpace {
    fn sup(&self) -> f64 {
        self.sup
    }
    fn constant(&self) -> Option<f64> {
        self.constant
    }
    fn level_set(&self, u: f64) -> LevelSet {
        ExactSpace::level_set(self, u)
    }
}

/// Golden-section minimisation on [a, b]: (argmin, min) over the points visited.
fn golden<F: Fn(f64) -> f64>(f: F, a: f64, b: f64) -> (f64, f64) {
    let [(x1, f1), (x2, f2)] = crate::localize::golden_section(f, a, b, 60, 1e-13);
    if f1 <= f2 {
        (x1, f1)
    } else {
        (x2, f2)
    }
}
