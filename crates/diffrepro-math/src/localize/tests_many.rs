//! Oracle tests for measures with many components: Gaussian mixtures of 100–300
//! components with unequal widths (node placement beyond the all-pairs limit), and
//! empirical measures with hundreds of atoms (random and clustered).
//!
//! The oracle is written here, independently of the exact engine's nodes, grid and
//! quadrature: L_r(y) from the posterior weights in log space (two passes), the local
//! extrema of L_r from a uniform scan far finer than any transition width of the
//! measure (refined by golden section), the crossings of L_r = u by bisection between
//! consecutive scan points (extrema included, so every cell is monotone), and
//! s_r(u) = Σ over the intervals {L_r > u} of P(a < Y_r < b), from the Gaussian-mixture
//! distribution function of Y_r (no quadrature).

use rayon::prelude::*;

use super::*;
use crate::measure::sample::Stream;
use crate::measure::special::norm_interval;
use crate::measure::Component;

/// One component of Y_r: weight p, centre r m, sd v = √(r²s² + 1), and the
/// within-component posterior variance c = r²s²/v².
#[derive(Clone, Copy)]
struct Comp {
    ln_w: f64,
    centre: f64,
    v: f64,
    c: f64,
}

fn comps(m: &Measure, r: f64) -> Vec<Comp> {
    let one = |p: f64, mean: f64, var: f64| {
        let v2 = r * r * var + 1.0;
        Comp {
            ln_w: p.ln() - 0.5 * v2.ln(),
            centre: r * mean,
            v: v2.sqrt(),
            c: r * r * var / v2,
        }
    };
    match m {
        Measure::Mixture(cs) => cs.iter().map(|c| one(c.weight, c.mean, c.var)).collect(),
        Measure::Empirical { points, bandwidth } => points
            .iter()
            .map(|&x| one(1.0 / points.len() as f64, x, bandwidth * bandwidth))
            .collect(),
        _ => unreachable!(),
    }
}

struct Oracle {
    cs: Vec<Comp>,
    /// Scan points with the refined extrema merged in, and L_r there.
    ys: Vec<f64>,
    ls: Vec<f64>,
    /// (y, L_r(y), is a maximum) of every local extremum found.
    extrema: Vec<(f64, f64, bool)>,
}

impl Oracle {
    /// L_r(y): posterior weights normalised by their largest log, the mean first and
    /// then the spread about it.
    fn l(cs: &[Comp], y: f64) -> f64 {
        let lw = |k: &Comp| {
            let z = (y - k.centre) / k.v;
            k.ln_w - 0.5 * z * z
        };
        let top = cs.iter().map(lw).fold(f64::NEG_INFINITY, f64::max);
        let (mut s0, mut s1) = (0.0, 0.0);
        for k in cs {
            let w = (lw(k) - top).exp();
            let a = k.centre + k.c * (y - k.centre);
            s0 += w;
            s1 += w * a;
        }
        let mean = s1 / s0;
        let mut s2 = 0.0;
        for k in cs {
            let w = (lw(k) - top).exp();
            let a = k.centre + k.c * (y - k.centre) - mean;
            s2 += w * (k.c + a * a);
        }
        s2 / s0
    }

    /// Scan [min(centre - 12v), max(centre + 12v)] (beyond it Y_r has mass < 1e-32)
    /// with `step`, and refine every local extremum whose neighbourhood of ±20 steps
    /// is not flat to rounding.
    fn new(m: &Measure, r: f64, step: f64) -> Self {
        let cs = comps(m, r);
        let lo = cs
            .iter()
            .map(|k| k.centre - 12.0 * k.v)
            .fold(f64::INFINITY, f64::min);
        let hi = cs
            .iter()
            .map(|k| k.centre + 12.0 * k.v)
            .fold(f64::NEG_INFINITY, f64::max);
        let n = ((hi - lo) / step).ceil() as usize;
        let grid: Vec<f64> = (0..=n)
            .map(|k| lo + (hi - lo) * k as f64 / n as f64)
            .collect();
        let vals: Vec<f64> = grid.par_iter().map(|&y| Self::l(&cs, y)).collect();
        let extrema: Vec<(f64, f64, bool)> = (1..n)
            .into_par_iter()
            .filter_map(|k| {
                let (a, b, c) = (vals[k - 1], vals[k], vals[k + 1]);
                let max = b >= a && b > c;
                let min = b <= a && b < c;
                if !(max || min) {
                    return None;
                }
                let w = &vals[k.saturating_sub(20)..(k + 21).min(n + 1)];
                let spread = w.iter().fold(f64::NEG_INFINITY, |x, &y| x.max(y))
                    - w.iter().fold(f64::INFINITY, |x, &y| x.min(y));
                if spread < 1e-9 * (1.0 + b.abs()) {
                    return None;
                }
                let sign = if max { 1.0 } else { -1.0 };
                let f = |y: f64| sign * Self::l(&cs, y);
                let (mut p, mut q) = (grid[k - 1], grid[k + 1]);
                const G: f64 = 0.381_966_011_250_105_1;
                let (mut x1, mut x2) = (p + G * (q - p), q - G * (q - p));
                let (mut f1, mut f2) = (f(x1), f(x2));
                for _ in 0..100 {
                    if f1 < f2 {
                        p = x1;
                        x1 = x2;
                        f1 = f2;
                        x2 = q - G * (q - p);
                        f2 = f(x2);
                    } else {
                        q = x2;
                        x2 = x1;
                        f2 = f1;
                        x1 = p + G * (q - p);
                        f1 = f(x1);
                    }
                }
                let y = if f1 >= f2 { x1 } else { x2 };
                Some((y, Self::l(&cs, y), max))
            })
            .collect();
        let mut pts: Vec<(f64, f64)> = grid.into_iter().zip(vals).collect();
        pts.extend(extrema.iter().map(|&(y, l, _)| (y, l)));
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        pts.dedup_by(|a, b| a.0 == b.0);
        let (ys, ls) = pts.into_iter().unzip();
        Oracle {
            cs,
            ys,
            ls,
            extrema,
        }
    }

    /// The largest L_r seen (grid and refined maxima).
    fn sup(&self) -> f64 {
        self.ls.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }

    /// s_r(u): crossings by bisection between scan points, the intervals above u
    /// measured by the distribution function of Y_r.
    fn survival(&self, u: f64) -> f64 {
        let cs = &self.cs;
        let g = |y: f64| Self::l(cs, y) - u;
        let prob = |a: f64, b: f64| -> f64 {
            cs.iter()
                .map(|k| {
                    k.ln_w.exp() * k.v * norm_interval((a - k.centre) / k.v, (b - k.centre) / k.v)
                })
                .sum()
        };
        let mut s = 0.0;
        let mut start = (self.ls[0] > u).then_some(f64::NEG_INFINITY);
        for k in 0..self.ys.len() - 1 {
            let (above_a, above_b) = (self.ls[k] > u, self.ls[k + 1] > u);
            if above_a == above_b {
                continue;
            }
            let (mut a, mut b) = (self.ys[k], self.ys[k + 1]);
            while b - a > 1e-14 * (1.0 + a.abs()) {
                let mid = 0.5 * (a + b);
                if mid <= a || mid >= b {
                    break;
                }
                if (g(mid) > 0.0) == above_a {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            let y = 0.5 * (a + b);
            match start.take() {
                Some(x) => s += prob(x, y),
                None => start = Some(y),
            }
        }
        if let Some(x) = start {
            s += prob(x, f64::INFINITY);
        }
        s
    }
}

/// sup L_r, and s_r(u) at u = L* - 1e-5 beside every local maximum L* and u = L* + 1e-5
/// beside every local minimum (where the level set gains or loses a thin interval),
/// plus a few levels in between, against the oracle to `tol`.
fn check_against_oracle(name: &str, m: &Measure, r: f64, step: f64, tol: f64) {
    let oracle = Oracle::new(m, r, step);
    let ex = ExactLocalization::new(m, r);
    let (sup, want) = (ex.sup_localization(), oracle.sup());
    assert!(
        (sup - want).abs() <= tol * want.max(1.0),
        "{name}, r = {r}: sup L_r {sup}, oracle {want}"
    );
    assert!(!oracle.extrema.is_empty(), "{name}, r = {r}: no extrema");
    let mut us: Vec<(f64, f64)> = oracle
        .extrema
        .iter()
        .map(|&(y, l, max)| (y, if max { l - 1e-5 } else { l + 1e-5 }))
        .collect();
    us.extend([0.1, 0.5, 0.9, 1.0].map(|f| (f64::NAN, f * want)));
    let bad: Vec<String> = us
        .par_iter()
        .filter_map(|&(y, u)| {
            let (got, expected) = (ex.survival(u), oracle.survival(u));
            ((got - expected).abs() > tol)
                .then(|| format!("u = {u} (extremum at y = {y}): {got} vs oracle {expected}"))
        })
        .collect();
    assert!(
        ex.converged(),
        "{name}, r = {r}: quadrature did not converge"
    );
    assert!(
        bad.is_empty(),
        "{name}, r = {r}: {} of {} levels off by more than {tol}:\n{}",
        bad.len(),
        us.len(),
        bad[..bad.len().min(10)].join("\n")
    );
}

/// 150 components: 30 wide (s from 1 to 10) spread over [-5, 5], and 120 narrow
/// (s from 0.01 to 0.1) placed between and on top of the wide ones, random weights;
/// at r = 8 the widths v of Y_r's components run from 1 to 80.
fn unequal_mixture(seed: u64) -> Measure {
    let s = Stream::new(seed, 1);
    let mut cs = Vec::new();
    for i in 0..150u64 {
        let wide = i < 30;
        let mean = if wide || i % 4 != 0 {
            10.0 * s.uniform(4 * i) - 5.0
        } else {
            // Every fourth narrow component sits on a wide one's centre.
            cs.iter()
                .map(|c: &Component| c.mean)
                .nth((i % 30) as usize)
                .expect("wide components come first")
        };
        let sd = if wide {
            10f64.powf(s.uniform(4 * i + 1))
        } else {
            0.1 * 10f64.powf(-s.uniform(4 * i + 1))
        };
        cs.push(Component {
            weight: 0.2 + s.uniform(4 * i + 2),
            mean,
            var: sd * sd,
        });
    }
    let total: f64 = cs.iter().map(|c| c.weight).sum();
    for c in &mut cs {
        c.weight /= total;
    }
    Measure::Mixture(cs)
}

#[test]
fn mixture_of_unequal_widths_beyond_all_pairs_matches_the_oracle() {
    let m = unequal_mixture(2024);
    for r in [0.5, 2.0, 8.0] {
        check_against_oracle("150-component mixture", &m, r, 2e-3, 1e-8);
    }
}

/// `n` atoms: seeded standard normal draws, or `clusters` tight groups (sd 0.02)
/// around seeded centres in [-3, 3].
fn atoms(n: u64, clusters: u64, seed: u64) -> Vec<f64> {
    let s = Stream::new(seed, 2);
    (0..n)
        .map(|i| {
            if clusters == 0 {
                s.normal(i)
            } else {
                let c = 6.0 * s.uniform(1_000_000 + i % clusters) - 3.0;
                c + 0.02 * s.normal(i)
            }
        })
        .collect()
}

#[test]
fn empirical_measure_with_hundreds_of_atoms_matches_the_oracle() {
    let random = Measure::Empirical {
        points: atoms(300, 0, 7),
        bandwidth: 0.0,
    };
    for r in [0.25, 1.0, 2.5, 5.0] {
        check_against_oracle("300 random atoms", &random, r, 2e-3, 1e-8);
    }
}

#[test]
fn clustered_empirical_measure_matches_the_oracle() {
    let clustered = Measure::Empirical {
        points: atoms(400, 6, 11),
        bandwidth: 0.0,
    };
    for r in [0.25, 1.0, 2.5, 5.0] {
        check_against_oracle("400 clustered atoms", &clustered, r, 2e-3, 1e-8);
    }
}

#[test]
fn smoothed_empirical_measure_matches_the_oracle() {
    let smooth = Measure::Empirical {
        points: atoms(250, 0, 5),
        bandwidth: 0.3,
    };
    for r in [0.25, 1.0, 2.5, 5.0] {
        check_against_oracle("250 atoms, kernel 0.3", &smooth, r, 2e-3, 1e-8);
    }
}

#[test]
fn every_envelope_breakpoint_has_a_structure_node_within_its_transition_width() {
    // Where the leading component changes, L_r changes within a transition width
    // 1/|f_a' - f_b'|; the node set must resolve it (a node within a tenth of that
    // width, the thinning's spacing), whichever components meet there.
    use super::envelope::{log_weight, Envelope};
    use crate::measure::{Kind, Localizer};
    let m = unequal_mixture(2024);
    for r in [0.5, 2.0, 8.0] {
        let loc = Localizer::new(&m, r);
        let Kind::Mixture { comps: ps, .. } = loc.kind() else {
            unreachable!()
        };
        let nodes = super::exact::structure_nodes(loc.kind());
        let (lo, hi) = (nodes[0], nodes[nodes.len() - 1]);
        let env = Envelope::new(ps, lo, hi);
        assert!(
            env.breaks.len() > 20,
            "r = {r}: {} breakpoints",
            env.breaks.len()
        );
        let mut missed = Vec::new();
        for (k, &t) in env.breaks.iter().enumerate() {
            let (a, b) = (&ps[env.leaders[k]], &ps[env.leaders[k + 1]]);
            let slope = |p: &crate::measure::Prep| -(t - p.center) * p.inv_v2;
            let width = 1.0 / (slope(a) - slope(b)).abs();
            let i = nodes.partition_point(|&y| y < t);
            let near = [i.checked_sub(1), Some(i)]
                .into_iter()
                .flatten()
                .filter_map(|j| nodes.get(j))
                .map(|&y| (y - t).abs())
                .fold(f64::INFINITY, f64::min);
            assert!((log_weight(a, t) - log_weight(b, t)).abs() < 1e-6);
            if near > 0.1 * width * (1.0 + 1e-9) {
                missed.push(format!("y = {t}: nearest node {near} away, width {width}"));
            }
        }
        assert!(
            missed.is_empty(),
            "r = {r}: {} of {} breakpoints unresolved:\n{}",
            missed.len(),
            env.breaks.len(),
            missed[..missed.len().min(8)].join("\n")
        );
    }
}
