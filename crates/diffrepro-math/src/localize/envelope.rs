//! The upper envelope of a Gaussian mixture's posterior log-weights, and the pairs of
//! components that can share the posterior.
//!
//! Component i of Y_r has log-weight f_i(y) = ln(p_i/v_i) - ½(y - r m_i)²/v_i², a
//! concave parabola in y (a line plus a common term when all widths are equal). The
//! posterior sits on the components near the envelope E(y) = max_i f_i(y): a
//! component whose f_i lies more than [`SHARE_MARGIN`] below it carries a weight below
//! e^{-40} relative to the leader there. L_r changes on a short scale only where the
//! posterior moves from one component to another, i.e. around the points where two
//! log-weights are equal *and* near the envelope. With equal widths and weights those
//! are the midpoints of neighbouring centres; with unequal widths a wide component
//! can share the posterior with components far from it in centre (and a narrow one
//! sitting under a wide one never leads at all), so neighbours are not enough.
//!
//! [`Envelope::new`] computes E exactly on an interval by a sweep: from the leader at
//! the left end, the next breakpoint is the nearest point to the right where another
//! parabola overtakes the current leader (a root of f_i - f_k with positive slope),
//! O(K) per breakpoint; two concave parabolas cross at most twice, so the envelope
//! has at most 2K - 1 pieces and the sweep costs O(K²) (for K components). Its value
//! at any y is then a binary search away, and [`sharing_pairs`] keeps, of all the
//! pairs' equal-weight points, those within [`SHARE_MARGIN`] of the envelope.

use crate::measure::Prep;

/// Log-weight gap below the envelope beyond which a pair's equal-weight point is
/// invisible in the posterior (both weights below e^{-40} of the leader's; the same
/// reach as the 40 transition widths of the nodes placed around such a point).
pub(crate) const SHARE_MARGIN: f64 = 40.0;

/// f_i(y) = ln coef_i - ½ inv_v2_i (y - centre_i)².
#[inline]
pub(crate) fn log_weight(p: &Prep, y: f64) -> f64 {
    let d = y - p.center;
    p.coef.ln() - 0.5 * p.inv_v2 * d * d
}

/// Coefficients (A, B, C) of f_i(y) - f_j(y) = A y² + B y + C.
#[inline]
pub(crate) fn difference(pi: &Prep, pj: &Prep) -> (f64, f64, f64) {
    let a = -0.5 * (pi.inv_v2 - pj.inv_v2);
    let b = pi.inv_v2 * pi.center - pj.inv_v2 * pj.center;
    let c = (pi.coef / pj.coef).ln() - 0.5 * pi.inv_v2 * pi.center * pi.center
        + 0.5 * pj.inv_v2 * pj.center * pj.center;
    (a, b, c)
}

/// The real roots of A y² + B y + C (none, one or two; a numerically stable pair),
/// treating A as zero when it is negligible against `scale`.
pub(crate) fn roots(a: f64, b: f64, c: f64, scale: f64) -> ([f64; 2], usize) {
    if a.abs() <= 1e-14 * scale {
        if b != 0.0 {
            return ([-c / b, 0.0], 1);
        }
        return ([0.0; 2], 0);
    }
    let disc = b * b - 4.0 * a * c;
    if disc < 0.0 {
        return ([0.0; 2], 0);
    }
    let q = -0.5 * (b + b.signum() * disc.sqrt());
    if q == 0.0 {
        return ([0.0, 0.0], 1);
    }
    let (x, y) = (q / a, c / q);
    ([x.min(y), x.max(y)], 2)
}

/// The upper envelope of the log-weights on [lo, hi]: `leaders[k]` leads on
/// [breaks[k-1], breaks[k]] (with breaks[-1] = lo, breaks[len] = hi).
#[derive(Clone, Debug)]
pub(crate) struct Envelope {
    pub breaks: Vec<f64>,
    pub leaders: Vec<usize>,
}

impl Envelope {
    /// The envelope of `ps` (non-empty) on [lo, hi], by the sweep of the module header.
    pub(crate) fn new(ps: &[Prep], lo: f64, hi: f64) -> Self {
        let lead_at = |y: f64| {
            (0..ps.len())
                .max_by(|&i, &j| log_weight(&ps[i], y).total_cmp(&log_weight(&ps[j], y)))
                .expect("at least one component")
        };
        let mut leader = lead_at(lo);
        let mut y = lo;
        let mut breaks = Vec::new();
        let mut leaders = vec![leader];
        // A parabola can take the lead at most twice from any other, so 2K pieces
        // bound an exact sweep; the cap only guards against rounding cycles.
        for _ in 0..4 * ps.len() + 8 {
            let pk = &ps[leader];
            let mut next: Option<(f64, f64, usize)> = None;
            for (i, pi) in ps.iter().enumerate() {
                if i == leader {
                    continue;
                }
                let (a, b, c) = difference(pi, pk);
                let (rs, n) = roots(a, b, c, pi.inv_v2.max(pk.inv_v2));
                for &t in &rs[..n] {
                    let slope = 2.0 * a * t + b;
                    if t > y && t <= hi && slope > 0.0 {
                        let better = match next {
                            None => true,
                            Some((t0, s0, _)) => t < t0 || (t == t0 && slope > s0),
                        };
                        if better {
                            next = Some((t, slope, i));
                        }
                    }
                }
            }
            match next {
                Some((t, _, i)) => {
                    breaks.push(t);
                    leaders.push(i);
                    leader = i;
                    y = t;
                }
                None => break,
            }
        }
        Envelope { breaks, leaders }
    }

    /// The component leading at y.
    pub(crate) fn leader(&self, y: f64) -> usize {
        self.leaders[self.breaks.partition_point(|&b| b <= y)]
    }

    /// E(y) = max_i f_i(y).
    pub(crate) fn value(&self, ps: &[Prep], y: f64) -> f64 {
        log_weight(&ps[self.leader(y)], y)
    }
}

/// Every equal-weight point y of a pair (i, j) in (lo, hi) at which the two
/// log-weights lie within [`SHARE_MARGIN`] of the envelope, as (y, transition width
/// 1/|f_i'(y) - f_j'(y)|). This is the all-pairs set of transition points less those
/// where both components are invisible in the posterior; it contains every
/// breakpoint of the envelope. O(K²) root computations, each checked in O(log K).
pub(crate) fn sharing_pairs(ps: &[Prep], lo: f64, hi: f64) -> Vec<(f64, f64)> {
    let env = Envelope::new(ps, lo, hi);
    let mut out = Vec::new();
    for i in 0..ps.len() {
        for j in i + 1..ps.len() {
            let (pi, pj) = (&ps[i], &ps[j]);
            let (a, b, c) = difference(pi, pj);
            let (rs, n) = roots(a, b, c, pi.inv_v2.max(pj.inv_v2));
            for &y in &rs[..n] {
                if !(y > lo && y < hi) {
                    continue;
                }
                let slope = (2.0 * a * y + b).abs();
                if slope > 0.0 && log_weight(pi, y) >= env.value(ps, y) - SHARE_MARGIN {
                    out.push((y, 1.0 / slope));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::sample::Stream;

    fn preps(seed: u64, k: usize) -> Vec<Prep> {
        let s = Stream::new(seed, 0);
        (0..k as u64)
            .map(|i| {
                let m = 20.0 * s.uniform(3 * i) - 10.0;
                let sd = 10f64.powf(-2.0 + 2.0 * s.uniform(3 * i + 1));
                let w = 0.1 + s.uniform(3 * i + 2);
                Prep::new(3.0, w, m, sd * sd)
            })
            .collect()
    }

    #[test]
    fn envelope_is_the_pointwise_maximum() {
        // Against max_i f_i on a dense scan, for unequal widths and weights.
        for seed in 0..4 {
            let ps = preps(seed, 120);
            let (lo, hi) = (-60.0, 60.0);
            let env = Envelope::new(&ps, lo, hi);
            assert!(env.leaders.len() <= 2 * ps.len());
            for k in 0..=24_000 {
                let y = lo + (hi - lo) * k as f64 / 24_000.0;
                let brute = ps
                    .iter()
                    .map(|p| log_weight(p, y))
                    .fold(f64::NEG_INFINITY, f64::max);
                let e = env.value(&ps, y);
                assert!(
                    (e - brute).abs() <= 1e-9 * (1.0 + brute.abs()),
                    "seed {seed}, y = {y}: envelope {e}, max {brute}"
                );
            }
            // Breakpoints increase and each is an equal-weight point of its two leaders.
            for (k, &t) in env.breaks.iter().enumerate() {
                assert!(k == 0 || t > env.breaks[k - 1]);
                let (a, b) = (&ps[env.leaders[k]], &ps[env.leaders[k + 1]]);
                let gap = log_weight(a, t) - log_weight(b, t);
                assert!(gap.abs() < 1e-8 * (1.0 + log_weight(a, t).abs()), "{gap}");
            }
        }
    }

    #[test]
    fn equal_widths_and_weights_share_only_between_neighbours() {
        // Equal widths and weights, centres at least 20 apart in y (some repeated): the
        // envelope's breakpoints are the midpoints of neighbouring distinct centres,
        // and no other pair comes within the margin (between a pair two apart the one
        // in the middle leads by at least 200).
        let ps: Vec<Prep> = (0..80)
            .map(|i| Prep::new(20.0, 1.0 / 80.0, (i * i % 97) as f64, 0.0))
            .collect();
        let mut centres: Vec<f64> = ps.iter().map(|p| p.center).collect();
        centres.sort_by(f64::total_cmp);
        centres.dedup();
        let env = Envelope::new(&ps, -100.0, 2100.0);
        let mids: Vec<f64> = centres.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect();
        assert_eq!(env.breaks.len(), mids.len());
        for (b, m) in env.breaks.iter().zip(&mids) {
            assert!((b - m).abs() < 1e-9, "{b} vs {m}");
        }
        // Repeated centres give the same point once per pair of copies.
        let mut pairs: Vec<f64> = sharing_pairs(&ps, -100.0, 2100.0)
            .into_iter()
            .map(|(y, _)| y)
            .collect();
        pairs.sort_by(f64::total_cmp);
        pairs.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        assert_eq!(pairs.len(), mids.len());
        for (p, m) in pairs.iter().zip(&mids) {
            assert!((p - m).abs() < 1e-9, "{p} vs {m}");
        }
    }

    #[test]
    fn a_narrow_component_under_a_wide_one_shares_but_never_leads() {
        // A wide component (v = 10) over a narrow one at its centre with a lower peak:
        // the narrow one never leads, yet they share the posterior at two points.
        let wide = Prep::new(1.0, 0.9, 0.0, 99.0);
        let narrow = Prep::new(1.0, 0.1, 0.0, 0.0);
        let ps = [wide, narrow];
        let env = Envelope::new(&ps, -50.0, 50.0);
        assert!(env.breaks.len() == 2 && env.leaders == vec![0, 1, 0]);
        let pairs = sharing_pairs(&ps, -50.0, 50.0);
        assert_eq!(pairs.len(), 2);
        // Lower the narrow one's weight until its peak is 20 below the wide one's: it
        // never leads and the two log-weights never meet.
        let ps = [wide, Prep::new(1.0, 0.09 * (-20f64).exp(), 0.0, 0.0)];
        let env = Envelope::new(&ps, -50.0, 50.0);
        assert!(env.breaks.is_empty() && env.leaders == vec![0]);
        let gap = log_weight(&ps[1], 0.0) - env.value(&ps, 0.0);
        assert!((gap + 20.0).abs() < 1e-12, "{gap}");
        assert!(sharing_pairs(&ps, -50.0, 50.0).is_empty());
    }
}
