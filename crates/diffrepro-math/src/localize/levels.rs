//! m*, δ* and the numerator of ζ*_M from any exact description of the law of L_r:
//! a supremum and level sets (s_r(u), E[(L_r - u)₊]). The 1-D quadrature
//! (`ExactLocalization`) and the plane's nested quadrature (`plane::exact`) both hand
//! their level sets here, so the definitions of Def. 5, Prop. 5 and Thm. 4 are coded
//! once, whatever the dimension.
//!
//! m* and δ* use Prop. 5 and the first-order condition: with
//! g(δ) = δ s_r(1-δ) - h(δ), m'(δ) = g(δ)/δ² and g is non-decreasing, so
//! δ* = sup{δ : g(δ) ≤ 0} is found by bisection. ζ*_M maximises the concave
//! δ - M h(δ), whose derivative 1 - M s_r(1-δ) is non-increasing; again a bisection.

use super::exact::{LevelSet, LOG_CONCAVE_SLACK};
use super::quadrature::IllinoisBracket;
use super::Complexity;

/// How the monotone searches for δ* and the ζ*_M maximiser close in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Search {
    /// Plain bisection down to this bracket width (each step one level set).
    Bisect(f64),
    /// The Illinois variant of regula falsi on the continuous monotone function
    /// behind the search, down to this bracket width or until that function is
    /// within 1e-10 of 0 (where the quadrature cannot tell its sign anyway; the
    /// optimum is flat there, so m* and ζ*_M move at second order): a dozen level
    /// sets where bisection needs thirty, for level sets that are expensive (the plane).
    Illinois(f64),
    /// Newton steps on the density of L_r (the search function's derivative), each
    /// kept strictly inside the bracket and replaced by a halving when it would leave
    /// it, down to this bracket width: the bisection's guarantee (the root lies in the
    /// final bracket) in a handful of level sets instead of forty. Without a density
    /// ([`LevelSets::level_set_and_density`] gives NaN) it is plain bisection.
    Newton(f64),
}

/// Close in on where a non-decreasing f turns positive, from f(lo) ≤ 0 < f(hi); f
/// returns (f(x), f'(x) or NaN, a value to keep). Returns the final bracket (lo', hi')
/// with f(lo') ≤ 0 < f(hi') and hi' - lo' within the search's width, plus the value
/// kept at lo' (NaN if lo' was never evaluated).
fn last_nonpositive(
    mut f: impl FnMut(f64) -> (f64, f64, f64),
    (mut lo, f_lo): (f64, f64),
    (mut hi, f_hi): (f64, f64),
    search: Search,
) -> (f64, f64, f64) {
    let mut aux_lo = f64::NAN;
    match search {
        Search::Bisect(tol) => {
            while hi - lo > tol {
                let mid = 0.5 * (lo + hi);
                let (fm, _, am) = f(mid);
                if fm <= 0.0 {
                    lo = mid;
                    aux_lo = am;
                } else {
                    hi = mid;
                }
            }
        }
        Search::Illinois(tol) => {
            let mut br = IllinoisBracket::new((lo, f_lo), (hi, f_hi));
            for _ in 0..200 {
                if br.b - br.a <= tol {
                    break;
                }
                let secant = br.secant();
                // Fall back to the midpoint when the secant hugs an end of the bracket.
                let x = if secant.is_finite() && secant > br.a && secant < br.b {
                    secant
                } else {
                    0.5 * (br.a + br.b)
                };
                let (fx, _, ax) = f(x);
                if fx.abs() <= 1e-10 {
                    return (x, x, ax);
                }
                if fx <= 0.0 {
                    aux_lo = ax;
                }
                br.move_end(fx <= 0.0, x, fx);
            }
            (lo, hi) = (br.a, br.b);
        }
        Search::Newton(tol) => {
            let mut x = 0.5 * (lo + hi);
            // 200 steps: more than the 64 halvings a bracket of doubles can take.
            for _ in 0..200 {
                if hi - lo <= tol {
                    break;
                }
                if !(x > lo && x < hi) {
                    x = 0.5 * (lo + hi);
                }
                let (v, d, ax) = f(x);
                let below = v <= 0.0;
                if below {
                    lo = x;
                    aux_lo = ax;
                } else {
                    hi = x;
                }
                let newton = x - v / d;
                let mut next = if d > 0.0 && d.is_finite() && newton > lo && newton < hi {
                    newton
                } else {
                    0.5 * (lo + hi)
                };
                if (next - x).abs() < 0.5 * tol {
                    // Newton has converged onto x: probe just across the root, so the
                    // bracket closes.
                    next = if below { x + 0.5 * tol } else { x - 0.5 * tol };
                }
                x = next;
            }
        }
    }
    (lo, hi, aux_lo)
}

/// An exact description of the law of L_r at one r.
pub trait LevelSets {
    /// ess sup_y L_r(y).
    fn sup(&self) -> f64;
    /// L_r when it does not depend on y.
    fn constant(&self) -> Option<f64>;
    /// s_r(u) and E[(L_r - u)₊].
    fn level_set(&self, u: f64) -> LevelSet;
    /// The level set and the density of L_r at u (NaN where it is not known, which
    /// turns a Newton search into bisection).
    fn level_set_and_density(&self, u: f64) -> (LevelSet, f64) {
        (self.level_set(u), f64::NAN)
    }

    /// Whether s_r(1) = 0 (sup L_r ≤ 1 up to [`LOG_CONCAVE_SLACK`]).
    fn is_log_concave_like(&self) -> bool {
        self.sup() <= 1.0 + LOG_CONCAVE_SLACK
    }
}

/// m*(r) and δ*(r), δ* the largest minimiser of m(δ) = h(δ)/δ over (0, 1], with the
/// search on δ stopped at width `tol`.
pub fn complexity<L: LevelSets + ?Sized>(l: &L, search: Search) -> Complexity {
    let sup = l.sup();
    if l.is_log_concave_like() {
        // Prop. 5: h = 0 exactly on [0, 1 - sup L], m = 0 there and > 0 after.
        return Complexity {
            m_star: 0.0,
            delta_star: (1.0 - sup).clamp(0.0, 1.0),
        };
    }
    // g(δ) = δ s(1 - δ) - h(δ), non-decreasing, g'(δ) = δ f_L(1 - δ).
    let g = |delta: f64| {
        let (ls, density) = match search {
            Search::Newton(_) => l.level_set_and_density(1.0 - delta),
            _ => (l.level_set(1.0 - delta), f64::NAN),
        };
        (delta * ls.survival - ls.tail, delta * density, ls.tail)
    };
    let (g1, _, h1) = g(1.0);
    if g1 <= 0.0 {
        // m non-increasing on (0, 1]: the minimum is at δ = 1.
        return Complexity {
            m_star: h1,
            delta_star: 1.0,
        };
    }
    // g(0) = -h(0) < 0 < g(1), g non-decreasing.
    let g0 = match search {
        Search::Bisect(_) | Search::Newton(_) => -1.0,
        Search::Illinois(_) => g(0.0).0,
    };
    let (lo, hi, h_lo) = last_nonpositive(g, (0.0, g0), (1.0, g1), search);
    if lo == 0.0 {
        // Only reachable if g > 0 arbitrarily close to 0, i.e. numerically degenerate.
        let h = l.level_set(1.0 - hi).tail;
        return Complexity {
            m_star: h / hi,
            delta_star: hi,
        };
    }
    Complexity {
        m_star: h_lo / lo,
        delta_star: lo,
    }
}

/// sup_{δ∈[0,1]} (δ - M h(δ, r)) and the maximiser δ (the numerator of ζ*_M), with
/// the search stopped at width `tol`. M = ∞ gives 1 - sup L_r when sup L_r ≤ 1 and
/// -∞ otherwise; M < 0 or NaN gives NaN. Returns (δ, value).
pub fn best_gap<L: LevelSets + ?Sized>(l: &L, big_m: f64, search: Search) -> (f64, f64) {
    if big_m.is_nan() || big_m < 0.0 {
        return (f64::NAN, f64::NAN);
    }
    if big_m == 0.0 {
        return (1.0, 1.0);
    }
    if big_m == f64::INFINITY {
        return if l.is_log_concave_like() {
            let d = (1.0 - l.sup()).clamp(0.0, 1.0);
            (d, d)
        } else {
            (0.0, f64::NEG_INFINITY)
        };
    }
    if let Some(c) = l.constant() {
        // δ - M (c - 1 + δ)₊ is piecewise linear: its maximum is at a kink or an end.
        let f = |d: f64| d - big_m * (c - 1.0 + d).max(0.0);
        return [0.0, (1.0 - c).clamp(0.0, 1.0), 1.0]
            .into_iter()
            .map(|d| (d, f(d)))
            .fold((f64::NAN, f64::NEG_INFINITY), |acc, x| {
                if x.1 > acc.1 {
                    x
                } else {
                    acc
                }
            });
    }
    // F'(δ) = 1 - M s(1 - δ) is non-increasing; F is maximal where it changes sign.
    // The search runs on f(δ) = M s(1 - δ) - 1 (non-decreasing; "rising" is f ≤ 0).
    // Its derivative is M f_L(1 - δ).
    let f = |delta: f64| {
        let (ls, density) = match search {
            Search::Newton(_) => l.level_set_and_density(1.0 - delta),
            _ => (l.level_set(1.0 - delta), f64::NAN),
        };
        (big_m * ls.survival - 1.0, big_m * density, ls.tail)
    };
    let value = |delta: f64, tail: f64| delta - big_m * tail;
    let (f0, _, t0) = f(0.0);
    if f0 > 0.0 {
        return (0.0, value(0.0, t0));
    }
    let (f1, _, t1) = f(1.0);
    if f1 <= 0.0 {
        return (1.0, value(1.0, t1));
    }
    let (lo, _, t_lo) = last_nonpositive(f, (0.0, f0), (1.0, f1), search);
    let t_lo = if t_lo.is_nan() { t0 } else { t_lo };
    (lo, value(lo, t_lo))
}
