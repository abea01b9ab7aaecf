//! Particles in R^d against exact counterparts: the assignment against brute force,
//! W₂ in d = 1 against the sorted formula, sliced ≤ exact, Bures against closed forms,
//! the score against the 1-D score of each factor, the Gaussian laws against large
//! clouds, and bit-identical runs on any number of threads.

use super::*;
use crate::measure::{Component, Measure};
use crate::particles::{w2_samples, OuScore};
use crate::plane::SpaceComponent;

fn uniforms(seed: u64, n: usize) -> Vec<f64> {
    let mut v = vec![0.0; n];
    Stream::new(seed, 0).uniforms(0, &mut v);
    v
}

fn normals(seed: u64, n: usize) -> Vec<f64> {
    let mut v = vec![0.0; n];
    Stream::new(seed, 0).normals(0, &mut v);
    v
}

/// The smallest Σ_i cost(i, σ(i)) over every permutation σ (Heap's algorithm).
fn brute_force(n: usize, cost: &dyn Fn(usize, usize) -> f64) -> f64 {
    let mut perm: Vec<usize> = (0..n).collect();
    let total = |p: &[usize]| (0..n).map(|i| cost(i, p[i])).sum::<f64>();
    let mut best = total(&perm);
    let mut c = vec![0usize; n];
    let mut i = 0;
    while i < n {
        if c[i] < i {
            if i % 2 == 0 {
                perm.swap(0, i);
            } else {
                perm.swap(c[i], i);
            }
            best = best.min(total(&perm));
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    best
}

#[test]
fn assignment_is_optimal_against_every_permutation() {
    for n in 1..=7 {
        for seed in 0..20u64 {
            let u = uniforms(seed * 31 + n as u64, n * n);
            let cost = |i: usize, j: usize| u[i * n + j] * 10.0 - 3.0;
            let col = assignment(n, cost);
            let mut seen = col.clone();
            seen.sort();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "a permutation");
            let got: f64 = (0..n).map(|i| cost(i, col[i])).sum();
            let want = brute_force(n, &cost);
            assert!((got - want).abs() < 1e-12, "n={n} seed={seed}");
        }
    }
}

#[test]
fn exact_w2_of_clouds_matches_brute_force_in_the_plane() {
    for n in 1..=7 {
        let a = normals(100 + n as u64, 2 * n);
        let b: Vec<f64> = normals(200 + n as u64, 2 * n)
            .iter()
            .map(|x| 0.5 * x + 1.0)
            .collect();
        let cost = |i: usize, j: usize| dist2(&a[2 * i..2 * i + 2], &b[2 * j..2 * j + 2]);
        let want = (brute_force(n, &cost) / n as f64).sqrt();
        assert!((w2_exact(&a, &b, 2) - want).abs() < 1e-12, "n={n}");
    }
}

#[test]
fn exact_w2_on_a_line_in_the_plane_is_the_sorted_formula() {
    let n = 300;
    let (xa, xb) = (normals(1, n), uniforms(2, n));
    // Both clouds on the line x₂ = 0.3 x₁ (rotated into the plane).
    let embed = |xs: &[f64]| -> Vec<f64> {
        let s = (1.0f64 + 0.09).sqrt();
        xs.iter().flat_map(|&x| [x / s, 0.3 * x / s]).collect()
    };
    let exact = w2_exact(&embed(&xa), &embed(&xb), 2);
    let sorted = w2_samples(&xa, &xb);
    assert!((exact - sorted).abs() < 1e-12, "{exact} vs {sorted}");
    // And in d = 1 directly, where sliced W₂ is also the same number.
    assert!((w2_exact(&xa, &xb, 1) - sorted).abs() < 1e-12);
    let dirs = directions(1, 5, 9, 0);
    assert!((w2_sliced(&xa, &xb, 1, &dirs) - sorted).abs() < 1e-12);
}

#[test]
fn sliced_never_exceeds_exact() {
    for (seed, n) in [(3u64, 5usize), (4, 40), (5, 200)] {
        let a = normals(seed, 2 * n);
        let b: Vec<f64> = normals(seed + 50, 2 * n)
            .chunks(2)
            .flat_map(|p| [2.0 * p[0] + 1.0, 0.3 * p[1] - 0.5])
            .collect();
        let dirs = directions(2, 64, seed, 1);
        let (s, e) = (w2_sliced(&a, &b, 2, &dirs), w2_exact(&a, &b, 2));
        assert!(s <= e + 1e-12, "sliced {s} > exact {e}");
        assert!(s > 0.3 * e, "sliced {s} far below exact {e}");
    }
    // A translation by m: every projection moves by ⟨m, θ⟩, so sliced² = mean ⟨m, θ⟩²,
    // ≈ |m|²/2 in the plane for many directions, while exact = |m|.
    let a = normals(7, 100);
    let b: Vec<f64> = a.chunks(2).flat_map(|p| [p[0] + 3.0, p[1] + 4.0]).collect();
    let dirs = directions(2, 4000, 7, 1);
    assert!((w2_exact(&a, &b, 2) - 5.0).abs() < 1e-12);
    let s = w2_sliced(&a, &b, 2, &dirs);
    assert!((s - 5.0 / 2f64.sqrt()).abs() < 0.1, "{s}");
}

#[test]
fn directions_are_unit_vectors() {
    let dirs = directions(3, 50, 1, 2);
    for r in dirs.chunks(3) {
        assert!((r.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-14);
    }
}

#[test]
fn bures_matches_closed_forms() {
    // d = 1: (m1 - m2)² + (s1 - s2)².
    let w = bures(&[1.0], &[4.0], &[-0.5], &[0.25], 1);
    assert!((w * w - (1.5f64.powi(2) + 1.5f64.powi(2))).abs() < 1e-12);
    // Rotated covariances with common axes: R diag(a, b) Rᵀ and R diag(c, e) Rᵀ give
    // (√a - √c)² + (√b - √e)², plus the means.
    let th = 0.9f64;
    let (c, s) = (th.cos(), th.sin());
    let rot = |p: f64, q: f64| {
        vec![
            p * c * c + q * s * s,
            (p - q) * c * s,
            (p - q) * c * s,
            p * s * s + q * c * c,
        ]
    };
    let (s1, s2) = (rot(3.0, 0.5), rot(1.0, 2.0));
    let want = 1.0 + 4.0 + (3f64.sqrt() - 1.0).powi(2) + (0.5f64.sqrt() - 2f64.sqrt()).powi(2);
    let w = bures(&[0.0, 0.0], &s1, &[1.0, 2.0], &s2, 2);
    assert!((w * w - want).abs() < 1e-12, "{} vs {want}", w * w);
    // Against a point mass: W₂² = |m|² + tr S.
    let w = bures(&[1.0, 1.0], &s1, &[0.0, 0.0], &[0.0; 4], 2);
    assert!((w * w - (2.0 + 3.5)).abs() < 1e-12);
    // Clouds: the Bures value of their moments equals the exact W₂ when one cloud is
    // an affine image x ↦ A x + c (A symmetric positive definite) of the other.
    let a = normals(11, 400);
    let m: [f64; 4] = [1.5, 0.4, 0.4, 0.7];
    let b: Vec<f64> = a
        .chunks(2)
        .flat_map(|p| {
            [
                m[0] * p[0] + m[1] * p[1] + 2.0,
                m[2] * p[0] + m[3] * p[1] - 1.0,
            ]
        })
        .collect();
    let (wb, we) = (w2_bures(&a, &b, 2), w2_exact(&a, &b, 2));
    assert!((wb - we).abs() < 1e-9, "bures {wb} exact {we}");
}

fn ring(k: usize, radius: f64, var: f64) -> SpaceMeasure {
    SpaceMeasure::mixture(
        2,
        (0..k)
            .map(|i| {
                let a = 2.0 * std::f64::consts::PI * i as f64 / k as f64;
                SpaceComponent {
                    weight: 1.0 / k as f64,
                    mean: vec![radius * a.cos(), radius * a.sin()],
                    cov: vec![var, 0.0, 0.0, var],
                }
            })
            .collect(),
    )
}

fn point(d: usize) -> SpaceMeasure {
    SpaceMeasure::mixture(
        d,
        vec![SpaceComponent {
            weight: 1.0,
            mean: vec![0.0; d],
            cov: vec![0.0; d * d],
        }],
    )
}

#[test]
fn the_score_of_a_product_is_the_pair_of_one_dimensional_scores() {
    let f1 = Measure::Mixture(vec![
        Component {
            weight: 0.3,
            mean: -1.0,
            var: 0.1,
        },
        Component {
            weight: 0.7,
            mean: 2.0,
            var: 0.4,
        },
    ]);
    let f2 = Measure::two_point(1.0);
    let m = SpaceMeasure::product(&[f1.clone(), f2.clone()], 100).unwrap();
    for t in [0.05, 0.4, 1.5] {
        let s = SpaceScore::new(&m, t);
        let (o1, o2) = (OuScore::new(&f1, t).unwrap(), OuScore::new(&f2, t).unwrap());
        for x in [[0.0, 0.0], [1.3, -0.4], [-2.0, 3.0]] {
            let (mut y, mut out) = ([0.0; 2], [0.0; 2]);
            s.score(&x, &mut y, &mut out);
            assert!((out[0] - o1.score(x[0])).abs() < 1e-10 * (1.0 + out[0].abs()));
            assert!((out[1] - o2.score(x[1])).abs() < 1e-10 * (1.0 + out[1].abs()));
        }
    }
}

fn config(n: usize, methods: Vec<W2Method>) -> SpaceParticleConfig {
    SpaceParticleConfig {
        n,
        eta: 0.05,
        steps: 20,
        seed: 5,
        every: 5,
        methods,
        slices: 16,
        snapshot_steps: vec![0, 10],
    }
}

#[test]
fn runs_are_identical_on_any_number_of_threads() {
    let (mu, nu) = (ring(8, 2.0, 0.03), point(2));
    // More than one chunk per cloud, so the threads share the work.
    let cfg = config(3 * CHUNK + 17, vec![W2Method::Sliced, W2Method::Bures]);
    let on = |threads: usize| crate::on_threads(threads, || run_space_particles(&mu, &nu, &cfg, 1));
    let one = on(1);
    assert_eq!(one, on(3));
    assert_eq!(one.records.len(), 2 * 5);
    assert_eq!(one.snapshots.len(), 4);
    // Replicates draw other numbers.
    let other = run_space_particles(&mu, &nu, &cfg, 2);
    assert_ne!(one.w2_initial, other.w2_initial);
}

#[test]
fn gaussian_clouds_follow_the_exact_gaussian_laws() {
    let g = |mean: [f64; 2], cov: [f64; 4]| {
        SpaceMeasure::mixture(
            2,
            vec![SpaceComponent {
                weight: 1.0,
                mean: mean.to_vec(),
                cov: cov.to_vec(),
            }],
        )
    };
    let mu = g([1.0, 0.0], [1.0, 0.6, 0.6, 0.8]);
    let nu = g([-1.0, 0.5], [0.3, -0.1, -0.1, 0.5]);
    let cfg = config(40_000, vec![W2Method::Bures]);
    let run = run_space_particles(&mu, &nu, &cfg, 0);
    let (exact, [w0, wd, wr]) =
        gaussian_trajectory(&mu, &nu, cfg.eta, cfg.steps, cfg.every).unwrap();
    assert_eq!(exact.len(), run.records.len());
    for (r, e) in run.records.iter().zip(&exact) {
        assert!((r.w2[0] - e).abs() < 0.03, "{:?} vs {e}", r);
    }
    assert!((run.w2_initial[0] - w0).abs() < 0.03);
    assert!((run.w2_denoised[0] - wd).abs() < 0.03);
    assert!((run.w2_round_trip[0] - wr).abs() < 0.03);
    // Forward, the exact laws contract at least as e^{-t} (synchronous coupling).
    for (r, e) in run.records.iter().zip(&exact).take(5) {
        assert!(*e <= (-r.t).exp() * w0 + 1e-12);
    }
    // Denoising the ν-cloud brings it close to μ_0, as close as μ's own round trip
    // up to the gap e^{-T}·W(μ_0, ν_0) left at T.
    assert!(wd < w0 && wd <= wr + (-1.0f64).exp() * w0);
}

#[test]
fn a_gaussian_score_is_affine() {
    let mu = SpaceMeasure::mixture(
        2,
        vec![SpaceComponent {
            weight: 1.0,
            mean: vec![1.0, -2.0],
            cov: vec![2.0, 0.5, 0.5, 1.0],
        }],
    );
    let t = 0.3;
    let law = GaussLaw::of(&mu).unwrap().diffuse(t);
    let (inv, _) = inverse_and_log_det(&law.cov, 2).unwrap();
    let s = SpaceScore::new(&mu, t);
    for x in [[0.0, 0.0], [2.0, 1.0], [-1.0, 4.0]] {
        let (mut y, mut out) = ([0.0; 2], [0.0; 2]);
        s.score(&x, &mut y, &mut out);
        for i in 0..2 {
            let want: f64 = -(0..2)
                .map(|j| inv[i * 2 + j] * (x[j] - law.mean[j]))
                .sum::<f64>();
            assert!((out[i] - want).abs() < 1e-12, "{out:?}");
        }
    }
}
