//! The Gaussian engine: every map of the paper in closed form for Gaussian laws.
//!
//! With f(x) = x²/2 and β = 1, a Gaussian μ_0 = N(m, s²) has μ_t = N(e^{-t}m,
//! e^{-2t}s² + 1 - e^{-2t}), whose score -(x - m_t)/v_t is affine; so the forward map
//! f^{μ,η}, the backward map b^{μ,η} and the exact OU transition all send Gaussians to
//! Gaussians, and W₂(N(a, s²), N(b, q²))² = (a - b)² + (s - q)². This module evaluates
//! the paper's Gaussian statements exactly: Cor. 1 (the backward one-step ratio equals
//! 1 + η(κ - ζ_t)), Thm. 1 (forward contraction), Thm. 3 (b∘f undoes itself to O(η²)),
//! Cor. 2 (K chained steps against exp(-2η Σ ζ_{kη})) and the intro example's slope.
//! It is also the oracle for the particle engine on Gaussian μ_0.

/// N(mean, sd²); `sd` ≥ 0.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Gaussian {
    pub mean: f64,
    pub sd: f64,
}

/// The affine map x ↦ slope·x + intercept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    pub slope: f64,
    pub intercept: f64,
}

impl Affine {
    /// Apply to a point.
    pub fn apply(&self, x: f64) -> f64 {
        self.slope * x + self.intercept
    }

    /// self ∘ other.
    pub fn after(&self, other: &Affine) -> Affine {
        Affine {
            slope: self.slope * other.slope,
            intercept: self.slope * other.intercept + self.intercept,
        }
    }
}

impl Gaussian {
    /// N(mean, var).
    pub fn from_var(mean: f64, var: f64) -> Self {
        Gaussian {
            mean,
            sd: var.sqrt(),
        }
    }

    /// sd².
    pub fn var(&self) -> f64 {
        self.sd * self.sd
    }

    /// W₂(self, other) = √((a - b)² + (s - q)²).
    pub fn w2(&self, other: &Gaussian) -> f64 {
        (self.mean - other.mean).hypot(self.sd - other.sd)
    }

    /// The push-forward under an affine map.
    pub fn push(&self, map: &Affine) -> Gaussian {
        Gaussian {
            mean: map.apply(self.mean),
            sd: map.slope.abs() * self.sd,
        }
    }

    /// The exact OU transition over time dt: N(e^{-dt}a, e^{-2dt}s² + 1 - e^{-2dt}).
    pub fn ou(&self, dt: f64) -> Gaussian {
        let e = (-dt).exp();
        Gaussian::from_var(e * self.mean, e * e * self.var() - (-2.0 * dt).exp_m1())
    }

    /// μ_t for μ_0 = self (same as [`Gaussian::ou`] with dt = t).
    pub fn at(&self, t: f64) -> Gaussian {
        self.ou(t)
    }

    /// Curvature ζ_t = -(log p_{μ_t})'' = 1/v_t of μ_t, μ_0 = self.
    pub fn curvature(&self, t: f64) -> f64 {
        1.0 / self.at(t).var()
    }

    /// The forward map f^{μ,η} at time t: x ↦ x - η(x + ∇log p_{μ_t}(x)), with
    /// ∇log p_{μ_t}(x) = -(x - m_t)/v_t.
    pub fn forward_map(&self, t: f64, eta: f64) -> Affine {
        let mt = self.at(t);
        let v = mt.var();
        Affine {
            slope: 1.0 - eta + eta / v,
            intercept: -eta * mt.mean / v,
        }
    }

    /// The backward map b^{μ,η} at time t: x ↦ x + η(x + ∇log p_{μ_t}(x)).
    pub fn backward_map(&self, t: f64, eta: f64) -> Affine {
        let mt = self.at(t);
        let v = mt.var();
        Affine {
            slope: 1.0 + eta - eta / v,
            intercept: eta * mt.mean / v,
        }
    }
}

/// Cor. 1: W(b#μ_t, b#ν)/W(μ_t, ν) for any ν ≠ μ_t when μ_0 is Gaussian. Both laws
/// move by the same affine map, so the ratio is |slope| = 1 + η(κ - ζ_t) with κ = 1,
/// exactly (the bound of Thm. 2 is attained).
pub fn backward_one_step_ratio(mu0: Gaussian, t: f64, eta: f64) -> f64 {
    mu0.backward_map(t, eta).slope.abs()
}

/// Thm. 1 for the OU diffusion (λ = 1): W(μ_{t+η}, ν_{t+η})/W(μ_t, ν_t) with both
/// laws Gaussian and moved by the exact OU transition; at most e^{-η} = 1 - η + o(η).
pub fn forward_contraction_ratio(mu_t: Gaussian, nu_t: Gaussian, eta: f64) -> f64 {
    mu_t.ou(eta).w2(&nu_t.ou(eta)) / mu_t.w2(&nu_t)
}

/// Thm. 3: W(b ∘ f # μ_t, μ_t), f = f^{μ,η} at time t and b = b^{μ,η} at time t + η
/// (b undoes the step that f made). O(η²).
pub fn denoise_defect(mu0: Gaussian, t: f64, eta: f64) -> f64 {
    let f = mu0.forward_map(t, eta);
    let b = mu0.backward_map(t + eta, eta);
    let mt = mu0.at(t);
    mt.push(&b.after(&f)).w2(&mt)
}

/// One-step diffuse-then-denoise: W(μ_t, b#(OU_η ν_t))/W(μ_t, ν_t), ν_t diffused by the
/// exact OU transition and denoised by b at time t + η; compare with 1 - ηζ_t + O(η²)
/// (forward contraction 1 - η times backward expansion 1 + η(1 - ζ_t)).
pub fn diffuse_denoise_ratio(mu0: Gaussian, nu_t: Gaussian, t: f64, eta: f64) -> f64 {
    let b = mu0.backward_map(t + eta, eta);
    let mt = mu0.at(t);
    mt.w2(&nu_t.ou(eta).push(&b)) / mt.w2(&nu_t)
}

/// Cor. 2, K chained steps from t = 0: `ratio` = W²(μ_0, b_[K] f_[K] # ν_0)/W²(μ_0, ν_0),
/// with f_[K] = K steps of the exact OU diffusion (ν_0 → ν_{Kη}) and b_[K] = b at times
/// Kη, …, η, against `bound` = exp(-2η Σ_{k=1..K} ζ_{kη}) (the corollary's O(η²) term
/// omitted). For a pure shift (ν_0 with μ_0's variance) the two agree up to O(η);
/// otherwise the ratio is smaller (the diffusion contracts sd differences faster).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChainedRatio {
    pub ratio: f64,
    pub bound: f64,
}

/// See [`ChainedRatio`].
pub fn chained_ratio(mu0: Gaussian, nu0: Gaussian, eta: f64, steps: usize) -> ChainedRatio {
    let mut map = Affine {
        slope: 1.0,
        intercept: 0.0,
    };
    let mut zeta_sum = 0.0;
    for k in (1..=steps).rev() {
        let t = k as f64 * eta;
        map = mu0.backward_map(t, eta).after(&map);
        zeta_sum += mu0.curvature(t);
    }
    let w_after = mu0.w2(&nu0.ou(steps as f64 * eta).push(&map));
    let w_before = mu0.w2(&nu0);
    ChainedRatio {
        ratio: (w_after / w_before).powi(2),
        bound: (-2.0 * eta * zeta_sum).exp(),
    }
}

/// How the forward phase moves the laws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Forward {
    /// The exact OU transition X_{t+η} = e^{-η}X_t + √(1 - e^{-2η}) Z.
    Diffusion,
    /// The deterministic map f^{μ,η} (μ's score at the current time, applied to both).
    Map,
}

/// μ and ν at one time of a Gaussian run, with their distance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianState {
    pub t: f64,
    pub mu: Gaussian,
    pub nu: Gaussian,
    pub w2: f64,
}

/// A forward-then-backward Gaussian run: `forward` at t = 0, η, …, Kη; `backward` at
/// t = Kη, …, 0, starting from the forward phase's end and moved by b^{μ,η}.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianRun {
    pub forward: Vec<GaussianState>,
    pub backward: Vec<GaussianState>,
}

/// Run the Gaussian engine with the particle engine's schedule (the oracle for it).
pub fn run_gaussian(
    mu0: Gaussian,
    nu0: Gaussian,
    eta: f64,
    steps: usize,
    forward: Forward,
) -> GaussianRun {
    let state = |t: f64, mu: Gaussian, nu: Gaussian| GaussianState {
        t,
        mu,
        nu,
        w2: mu.w2(&nu),
    };
    let (mut mu, mut nu) = (mu0, nu0);
    let mut fwd = vec![state(0.0, mu, nu)];
    for k in 0..steps {
        let t = k as f64 * eta;
        match forward {
            Forward::Diffusion => {
                mu = mu.ou(eta);
                nu = nu.ou(eta);
            }
            Forward::Map => {
                let f = mu0.forward_map(t, eta);
                mu = mu.push(&f);
                nu = nu.push(&f);
            }
        }
        fwd.push(state((k + 1) as f64 * eta, mu, nu));
    }
    let mut bwd = vec![state(steps as f64 * eta, mu, nu)];
    for k in (1..=steps).rev() {
        let b = mu0.backward_map(k as f64 * eta, eta);
        mu = mu.push(&b);
        nu = nu.push(&b);
        bwd.push(state((k - 1) as f64 * eta, mu, nu));
    }
    GaussianRun {
        forward: fwd,
        backward: bwd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::localize::closed_form::gaussian_backward_slope;

    #[test]
    fn ou_flow_and_maps_match_the_paper() {
        // Intro example: slope of b at t = kη is 1 + η(s²-1)/(e^{2kη}+s²-1) (rounding only).
        for s2 in [0.1, 0.5, 2.0] {
            let mu0 = Gaussian::from_var(1.0, s2);
            for k in [1.0, 10.0, 100.0] {
                let eta = 0.01;
                let got = mu0.backward_map(k * eta, eta).slope;
                assert!((got - gaussian_backward_slope(s2, k, eta)).abs() < 1e-14);
                // Cor. 1: 1 + η(κ - ζ_t) with κ = 1 and ζ_t the curvature of μ_t.
                let want = 1.0 + eta * (1.0 - mu0.curvature(k * eta));
                assert!((backward_one_step_ratio(mu0, k * eta, eta) - want).abs() < 1e-14);
            }
        }
        // The OU transition is a semigroup.
        let g = Gaussian::from_var(0.3, 2.0);
        let a = g.ou(0.2).ou(0.5);
        let b = g.ou(0.7);
        assert!((a.mean - b.mean).abs() < 1e-15 && (a.sd - b.sd).abs() < 1e-15);
    }

    #[test]
    fn forward_contraction_is_at_most_e_to_minus_eta() {
        // Thm. 1 with λ = 1.
        let (mu, nu) = (Gaussian::from_var(1.0, 0.2), Gaussian::from_var(-2.0, 3.0));
        for eta in [0.1, 0.01] {
            let ratio = forward_contraction_ratio(mu, nu, eta);
            assert!(ratio <= (-eta).exp() + 1e-15, "{ratio}");
        }
    }

    #[test]
    fn denoising_defect_is_second_order() {
        // Thm. 3: W(b∘f#μ_t, μ_t) = O(η²): halving η divides it by ≈ 4 (3.6 to 4.4
        // allows for the O(η³) term at these step sizes).
        let mu0 = Gaussian::from_var(1.0, 0.3);
        for t in [0.1, 0.5, 1.5] {
            let d1 = denoise_defect(mu0, t, 0.02);
            let d2 = denoise_defect(mu0, t, 0.01);
            assert!(
                d1 > 0.0 && (3.6..4.4).contains(&(d1 / d2)),
                "t={t}: {d1} {d2}"
            );
        }
        // One diffuse-then-denoise step contracts like 1 - ηζ_t + O(η²) (a pure shift
        // of μ_t attains it; the O(η²) constant is below 20 here).
        for eta in [0.01, 0.001] {
            let t = 0.4;
            let nu_t = Gaussian {
                mean: mu0.at(t).mean - 1.5,
                sd: mu0.at(t).sd,
            };
            let r = diffuse_denoise_ratio(mu0, nu_t, t, eta);
            let want = 1.0 - eta * mu0.curvature(t);
            assert!(
                (r - want).abs() < 20.0 * eta * eta,
                "η={eta}: {r} vs {want}"
            );
        }
    }

    #[test]
    fn chained_ratio_approaches_the_bound() {
        // Cor. 2 with Kη = 1 fixed. Pure shift: |ln ratio - ln bound| = O(η), so it
        // halves with η (1.6–2.4 allows for O(η²)). Different variances: below the bound.
        let mu0 = Gaussian::from_var(1.0, 0.3);
        let shift = Gaussian::from_var(-0.5, 0.3);
        let gap = |eta: f64| {
            let c = chained_ratio(mu0, shift, eta, (1.0 / eta).round() as usize);
            assert!(c.ratio > 0.0 && c.ratio < 1.0);
            (c.ratio.ln() - c.bound.ln()).abs()
        };
        let (g1, g2) = (gap(0.02), gap(0.01));
        assert!(g2 < g1 && (1.6..2.4).contains(&(g1 / g2)), "{g1} {g2}");
        let c = chained_ratio(mu0, Gaussian::from_var(-0.5, 2.0), 0.01, 100);
        assert!(c.ratio < c.bound, "{c:?}");
    }
}
