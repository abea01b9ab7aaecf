//! The plane against its oracles: product laws (L_r is the larger of the factors'
//! localizations, so s_r = 1 - Π(1 - s_k)), collinear point masses (L_r is the 1-D
//! localization of the projected law), rotated Gaussians (L_r constant), and Monte
//! Carlo against exact within 4 standard errors.

use super::*;
use crate::localize::{self, quadrature::integrate_scalar, ExactLocalization};
use crate::measure::{Component, Measure};

fn comp(weight: f64, mean: f64, var: f64) -> Component {
    Component { weight, mean, var }
}

/// s and h of max(L¹, L²) for independent L¹, L² from the 1-D exact code.
fn product_oracle(f: &[ExactLocalization], u: f64) -> (f64, f64) {
    let s = |v: f64| 1.0 - f.iter().map(|e| 1.0 - e.survival(v)).product::<f64>();
    let top = f.iter().map(|e| e.sup_localization()).fold(0.0, f64::max);
    let h = if u >= top {
        0.0
    } else {
        integrate_scalar(s, u, top, 1e-12)
    };
    (s(u), h)
}

#[test]
fn exact_plane_matches_a_product_of_one_dimensional_laws() {
    let f1 = Measure::two_point(1.0);
    let f2 = Measure::Mixture(vec![comp(0.3, -1.0, 0.2), comp(0.7, 1.5, 0.1)]);
    let m = SpaceMeasure::product(&[f1.clone(), f2.clone()], 100).unwrap();
    for r in [0.8, 1.5] {
        let ex = ExactSpace::new(&m, r).unwrap();
        let one = [
            ExactLocalization::new(&f1, r),
            ExactLocalization::new(&f2, r),
        ];
        let sup = one[0].sup_localization().max(one[1].sup_localization());
        assert!((ex.sup_localization() - sup).abs() < 1e-9, "r={r}");
        for u in [0.2, 0.6, 1.0, 1.3] {
            let ls = ex.level_set(u);
            let (s, h) = product_oracle(&one, u);
            // The target accuracy is 1e-6; the nested quadrature's budget is 1e-9.
            assert!(
                (ls.survival - s).abs() < 1e-7,
                "r={r} u={u}: {} vs {s}",
                ls.survival
            );
            assert!(
                (ls.tail - h).abs() < 1e-7,
                "r={r} u={u}: {} vs {h}",
                ls.tail
            );
        }
        ex.check_converged("product").unwrap();
    }
}

#[test]
fn exact_plane_matches_collinear_point_masses() {
    // ¼δ at (1, 1), (-1, -1), (2, 2), (-0.5, -0.5): on the diagonal, so L_r is the 1-D
    // localization of the law of ⟨X, e⟩, e = (1, 1)/√2, at ⟨y, e⟩.
    let ts = [1.0, -1.0, 2.0, -0.5];
    let s2 = std::f64::consts::SQRT_2;
    let m = SpaceMeasure::mixture(
        2,
        ts.iter()
            .map(|&t| SpaceComponent {
                weight: 0.25,
                mean: vec![t, t],
                cov: vec![0.0; 4],
            })
            .collect(),
    );
    let one = Measure::Mixture(ts.iter().map(|&t| comp(0.25, t * s2, 0.0)).collect());
    for r in [0.5, 1.2] {
        let ex = ExactSpace::new(&m, r).unwrap();
        let e1 = ExactLocalization::new(&one, r);
        assert!((ex.sup_localization() - e1.sup_localization()).abs() < 1e-9);
        for u in [0.1, 0.5, 1.0] {
            let a = ex.level_set(u);
            let b = e1.level_set(u);
            assert!((a.survival - b.survival).abs() < 1e-7, "r={r} u={u}");
            assert!((a.tail - b.tail).abs() < 1e-7, "r={r} u={u}");
        }
        let (c2, c1) = (ex.complexity(), e1.complexity());
        assert!((c2.m_star - c1.m_star).abs() < 1e-6, "{c2:?} {c1:?}");
        assert!(
            (c2.delta_star - c1.delta_star).abs() < 1e-6,
            "{c2:?} {c1:?}"
        );
        let (g2, g1) = (ex.best_gap(2.0).1, e1.best_gap(2.0).1);
        assert!((g2 - g1).abs() < 1e-6);
    }
}

#[test]
fn rotated_gaussian_is_exact_in_every_dimension() {
    for d in [2usize, 3, 8] {
        // Σ = Q diag(λ) Qᵀ with a Householder Q.
        let lambda: Vec<f64> = (0..d).map(|k| 0.5 + k as f64).collect();
        let v: Vec<f64> = (0..d).map(|k| 1.0 + k as f64).collect();
        let vv: f64 = v.iter().map(|x| x * x).sum();
        let q = |i: usize, j: usize| (if i == j { 1.0 } else { 0.0 }) - 2.0 * v[i] * v[j] / vv;
        let mut cov = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] = (0..d).map(|k| q(i, k) * lambda[k] * q(j, k)).sum();
            }
        }
        let m = SpaceMeasure::mixture(
            d,
            vec![SpaceComponent {
                weight: 1.0,
                mean: vec![0.3; d],
                cov,
            }],
        );
        let lmax = lambda[d - 1];
        for r in [0.2, 1.0, 3.0] {
            let want = r * r * lmax / (r * r * lmax + 1.0);
            let ex = ExactSpace::new(&m, r).unwrap();
            assert!((ex.sup_localization() - want).abs() < 1e-12, "d={d} r={r}");
            let c = ex.complexity();
            assert_eq!(c.m_star, 0.0);
            assert!((c.delta_star - 1.0 / (r * r * lmax + 1.0)).abs() < 1e-12);
            let s = monte_carlo::sample_localization(&m, r, 100, 1, 0);
            assert!(s.iter().all(|&l| (l - want).abs() < 1e-12));
        }
    }
}

#[test]
fn monte_carlo_agrees_with_exact_within_four_standard_errors() {
    // d = 2: eight Gaussians on a circle against the nested quadrature.
    let ring = SpaceMeasure::mixture(
        2,
        (0..8)
            .map(|k| {
                let a = k as f64 * std::f64::consts::PI / 4.0;
                SpaceComponent {
                    weight: 0.125,
                    mean: vec![2.0 * a.cos(), 2.0 * a.sin()],
                    cov: vec![0.05, 0.0, 0.0, 0.05],
                }
            })
            .collect(),
    );
    let r = 1.5;
    let ex = ExactSpace::new(&ring, r).unwrap();
    let samples = monte_carlo::sample_localization(&ring, r, 40_000, 3, 0);
    let us = [0.5, 1.0];
    let mc = localize::survival_mc(&samples, &us);
    for (u, e) in us.iter().zip(&mc) {
        let s = ex.survival(*u);
        assert!(
            (e.value - s).abs() < 4.0 * e.se,
            "u={u}: {} ± {} vs {s}",
            e.value,
            e.se
        );
    }
    let h = localize::tail_mc(&samples, &[0.5])[0];
    let want = ex.integrated_tail(0.5);
    assert!(
        (h.value - want).abs() < 4.0 * h.se,
        "{} ± {} vs {want}",
        h.value,
        h.se
    );
    // d = 3 and 8: products of 1-D laws against the product oracle.
    let f = [
        Measure::two_point(1.0),
        Measure::Mixture(vec![comp(0.5, -1.0, 0.3), comp(0.5, 1.0, 0.3)]),
        Measure::Normal {
            mean: 0.0,
            var: 2.0,
        },
    ];
    for d in [3usize, 8] {
        let factors: Vec<Measure> = (0..d).map(|k| f[k % 3].clone()).collect();
        let m = SpaceMeasure::product(&factors, MAX_COMPONENTS).unwrap();
        let one: Vec<ExactLocalization> = factors
            .iter()
            .map(|x| ExactLocalization::new(x, r))
            .collect();
        let samples = monte_carlo::sample_localization(&m, r, 20_000, 5, d as u64);
        for u in [0.9, 1.0, 1.2] {
            let (s, h) = product_oracle(&one, u);
            let e = localize::survival_mc(&samples, &[u])[0];
            assert!(
                (e.value - s).abs() <= 4.0 * e.se + 1e-12,
                "d={d} u={u}: {} ± {} vs {s}",
                e.value,
                e.se
            );
            let t = localize::tail_mc(&samples, &[1.0 - u])[0];
            assert!(
                (t.value - h).abs() <= 4.0 * t.se + 1e-12,
                "d={d} u={u}: {} ± {} vs {h}",
                t.value,
                t.se
            );
        }
    }
}

#[test]
fn monte_carlo_is_the_same_on_one_and_four_threads() {
    let m = SpaceMeasure::product(&[Measure::two_point(1.0), Measure::two_point(0.7)], 10).unwrap();
    let run = |threads: usize| {
        crate::on_threads(threads, || {
            monte_carlo::sample_localization(&m, 1.1, 3 * localize::MC_CHUNK + 9, 4, 2)
        })
    };
    let (a, b) = (run(1), run(4));
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    let c = monte_carlo::sample_localization(&m, 1.1, 64, 4, 3);
    assert!(a[..64] != c[..]);
}

#[test]
fn exact_is_the_same_on_one_and_three_threads_and_asked_twice() {
    let m = SpaceMeasure::product(&[Measure::two_point(1.0), Measure::two_point(0.7)], 10).unwrap();
    let run = |threads: usize| {
        crate::on_threads(threads, || {
            let ex = ExactSpace::new(&m, 1.2).unwrap();
            let first = ex.level_set(0.6);
            let slices = ex.slices();
            // Asked again, the level set is remembered, not integrated again.
            assert_eq!(ex.level_set(0.6), first);
            assert_eq!(ex.slices(), slices);
            first
        })
    };
    let (a, b) = (run(1), run(3));
    assert_eq!(a.survival.to_bits(), b.survival.to_bits());
    assert_eq!(a.tail.to_bits(), b.tail.to_bits());
}

#[test]
fn exact_refuses_mixtures_beyond_the_plane() {
    let m = SpaceMeasure::product(&vec![Measure::two_point(1.0); 3], 10).unwrap();
    let e = ExactSpace::new(&m, 1.0).unwrap_err();
    assert!(e.contains("Monte Carlo"), "{e}");
}
