//! Tests of the particle engine against the Gaussian engine, Thm. 3, reproducibility
//! and the denoising of the paper's Ex. 4 particle figure.

use super::*;
use crate::measure::Measure;

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / n;
    (m, v.sqrt())
}

fn config(
    n: usize,
    eta: f64,
    steps: usize,
    forward: Forward,
    snapshot_times: Vec<f64>,
) -> ParticleConfig {
    ParticleConfig {
        n,
        eta,
        steps,
        forward,
        seed: 99,
        snapshot_times,
    }
}

#[test]
fn w2_of_samples() {
    assert_eq!(w2_samples(&[3.0, 1.0], &[0.0, 2.0]), 1.0);
    assert!(w2_sorted(&[1.0], &[]).is_nan());
    assert!(w2_sorted(&[], &[]).is_nan());
    // Against one running sum, at every remainder of the eight-way split.
    for n in (1..=33).chain([10_000]) {
        let a: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
        let b: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
        let ss: f64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        let want = (ss / n as f64).sqrt();
        let got = w2_sorted(&a, &b);
        assert!(
            (got - want).abs() <= 1e-14 * want,
            "n = {n}: {got} against {want}"
        );
    }
    // One pair off by 2 among eight: √(4/8).
    let mut c = vec![1.0; 8];
    c[5] = 3.0;
    assert_eq!(w2_sorted(&c, &[1.0; 8]), 0.5f64.sqrt());
}

#[test]
fn squared_differences_are_the_same_bits_at_every_vector_width() {
    use crate::simd::{widths_here, with_width_at_most};
    for n in (0..=33).chain([4096, 4099]) {
        let a: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
        let b: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
        let want = with_width_at_most(crate::simd::Width::Baseline, || squared_differences(&a, &b));
        for w in widths_here() {
            let got = with_width_at_most(w, || squared_differences(&a, &b));
            assert_eq!(got.to_bits(), want.to_bits(), "n = {n}, {w:?}");
        }
    }
}

#[test]
fn map_mode_particles_follow_the_gaussian_engine_exactly() {
    // With Gaussian μ_0 every map is affine, so each cloud's mean and (population) sd
    // move exactly as the Gaussian engine moves N(sample mean, sample sd²): agreement
    // to rounding (1e-10), at every snapshot of both phases. W₂ between the clouds
    // scales by |slope| at each step (Cor. 1 on particles).
    let (mu0, nu0) = (
        Measure::Normal {
            mean: 1.0,
            var: 0.3,
        },
        Measure::Normal {
            mean: -0.5,
            var: 2.0,
        },
    );
    let (eta, steps) = (0.01, 50);
    let times: Vec<f64> = (0..=steps).map(|k| k as f64 * eta).collect();
    let run = run_particles(&mu0, &nu0, &config(4000, eta, steps, Forward::Map, times)).unwrap();
    let first = |phase: Phase| {
        run.snapshots
            .iter()
            .find(|s| s.phase == phase && s.t == 0.0)
            .unwrap()
    };
    let start = first(Phase::Forward);
    let (ma, sa) = mean_sd(&start.mu);
    let (mb, sb) = mean_sd(&start.nu);
    let truth = Gaussian::from_var(1.0, 0.3);
    // Gaussian states start from the clouds' sample moments; the maps are μ_0's.
    let mut mu_g = Gaussian { mean: ma, sd: sa };
    let mut nu_g = Gaussian { mean: mb, sd: sb };
    let check = |snap: &Snapshot, mu_g: Gaussian, nu_g: Gaussian| {
        let (m1, s1) = mean_sd(&snap.mu);
        let (m2, s2) = mean_sd(&snap.nu);
        assert!(
            (m1 - mu_g.mean).abs() < 1e-10 && (s1 - mu_g.sd).abs() < 1e-10,
            "t={} {:?}",
            snap.t,
            snap.phase
        );
        assert!(
            (m2 - nu_g.mean).abs() < 1e-10 && (s2 - nu_g.sd).abs() < 1e-10,
            "t={} {:?}",
            snap.t,
            snap.phase
        );
    };
    let snaps = |phase: Phase| run.snapshots.iter().filter(move |s| s.phase == phase);
    for (k, snap) in snaps(Phase::Forward).enumerate() {
        check(snap, mu_g, nu_g);
        if k < steps {
            let f = truth.forward_map(k as f64 * eta, eta);
            mu_g = mu_g.push(&f);
            nu_g = nu_g.push(&f);
            let ratio = run.forward[k + 1].w2 / run.forward[k].w2;
            assert!((ratio - f.slope.abs()).abs() < 1e-12);
        }
    }
    // The backward phase starts where the forward phase ended.
    for (i, snap) in snaps(Phase::Backward).enumerate() {
        check(snap, mu_g, nu_g);
        let k = steps - i;
        if k >= 1 {
            let b = truth.backward_map(k as f64 * eta, eta);
            mu_g = mu_g.push(&b);
            nu_g = nu_g.push(&b);
            let ratio = run.backward[i + 1].w2 / run.backward[i].w2;
            assert!((ratio - backward_one_step_ratio(truth, k as f64 * eta, eta)).abs() < 1e-12);
        }
    }
    assert_eq!(first(Phase::Backward).t, 0.0);
}

#[test]
fn diffusion_mode_particles_match_the_gaussian_engine_in_distribution() {
    // Exact OU noise: the clouds are samples of the Gaussian engine's laws. With
    // n = 20 000, W₂ between two samples deviates from the population W₂ by
    // O(n^{-1/2}) ≈ 0.01; tolerance 0.03 at every step of both phases.
    let (mu0, nu0) = (
        Measure::Normal {
            mean: 1.0,
            var: 0.3,
        },
        Measure::Normal {
            mean: -0.5,
            var: 2.0,
        },
    );
    let (eta, steps) = (0.02, 50);
    let run = run_particles(
        &mu0,
        &nu0,
        &config(20_000, eta, steps, Forward::Diffusion, vec![]),
    )
    .unwrap();
    let g = run_gaussian(
        Gaussian::from_var(1.0, 0.3),
        Gaussian::from_var(-0.5, 2.0),
        eta,
        steps,
        Forward::Diffusion,
    );
    for (p, q) in run
        .forward
        .iter()
        .zip(&g.forward)
        .chain(run.backward.iter().zip(&g.backward))
    {
        assert!((p.t - q.t).abs() < 1e-12);
        assert!(
            (p.w2 - q.w2).abs() < 0.03,
            "t={}: particles {} vs Gaussian {}",
            p.t,
            p.w2,
            q.w2
        );
    }
}

#[test]
fn runs_are_identical_on_one_and_four_threads() {
    let mu0 = Measure::paper_example(4).unwrap();
    let nu0 = Measure::Point { at: 0.0 };
    let cfg = config(3 * 4096 + 11, 0.05, 8, Forward::Diffusion, vec![0.1, 0.2]);
    let run =
        |threads: usize| crate::on_threads(threads, || run_particles(&mu0, &nu0, &cfg).unwrap());
    let (a, b) = (run(1), run(4));
    assert_eq!(a, b);
    assert_eq!(a.snapshots.len(), 4);
}

#[test]
fn example_4_is_denoised() {
    // Fig. 7's set-up: μ_0 = ½δ_{-1} + ½δ_{+1}, ν_0 = δ_0, η = 0.01, K = 150 (T = 1.5).
    // W(μ_0, ν_0) = 1 exactly; backward transport with μ's score must bring ν most of
    // the way to μ_0 and return μ's own cloud close to where it started.
    let mu0 = Measure::paper_example(4).unwrap();
    let nu0 = Measure::Point { at: 0.0 };
    let run = run_particles(
        &mu0,
        &nu0,
        &config(20_000, 0.01, 150, Forward::Diffusion, vec![]),
    )
    .unwrap();
    eprintln!(
        "Ex4 particles: W(μ0,ν0) = {:.4}, W(μ0,ν̄0) = {:.4}, W(μ0,μ̄0) = {:.4}, W at T = {:.4}",
        run.w2_initial,
        run.w2_denoised,
        run.w2_round_trip,
        run.forward.last().unwrap().w2
    );
    assert!((run.w2_initial - 1.0).abs() < 1e-12);
    assert!(run.w2_denoised < 0.5 * run.w2_initial);
    assert!(run.w2_round_trip < 0.2);
}

#[test]
fn round_trip_is_second_order_thm_3() {
    // W(b∘f#μ_t, μ_t) ≤ RMS displacement = O(η²): halving η divides it by ≈ 4.
    // Deterministic given the cloud; 3.5–4.5 allows the O(η³) term.
    for k in [4, 6] {
        let mu0 = Measure::paper_example(k).unwrap();
        let cloud = sample_ou(&mu0, 0.5, 5000, 3, 0);
        let d1 = round_trip_displacement(&mu0, &cloud, 0.5, 0.02).unwrap();
        let d2 = round_trip_displacement(&mu0, &cloud, 0.5, 0.01).unwrap();
        assert!((3.5..4.5).contains(&(d1 / d2)), "Ex{k}: {d1} {d2}");
    }
    // For a Gaussian the displacement of the (increasing, affine) map is the optimal
    // coupling, so on a large cloud it is the exact W₂ of the Gaussian engine
    // (sampling error of the sd ~ 1/√(2n) relative: 2% allowed).
    let mu0 = Measure::Normal {
        mean: 1.0,
        var: 0.3,
    };
    let cloud = sample_ou(&mu0, 0.5, 20_000, 4, 0);
    let d = round_trip_displacement(&mu0, &cloud, 0.5, 0.02).unwrap();
    let exact = denoise_defect(Gaussian::from_var(1.0, 0.3), 0.5, 0.02);
    assert!((d / exact - 1.0).abs() < 0.02, "{d} vs {exact}");
}

#[test]
fn bad_configurations_are_errors() {
    let p = Measure::Point { at: 0.0 };
    let n = Measure::Normal {
        mean: 0.0,
        var: 1.0,
    };
    assert!(matches!(
        run_particles(&p, &n, &config(10, 0.01, 2, Forward::Map, vec![])),
        Err(ParticleError::NoInitialScore(_))
    ));
    assert!(matches!(
        run_particles(&n, &p, &config(0, 0.01, 2, Forward::Map, vec![])),
        Err(ParticleError::NoParticles)
    ));
    assert!(matches!(
        run_particles(&n, &p, &config(10, -1.0, 2, Forward::Diffusion, vec![])),
        Err(ParticleError::BadStep(_))
    ));
    let bad = Measure::Normal {
        mean: 0.0,
        var: -1.0,
    };
    let e = run_particles(&bad, &p, &config(10, 0.01, 2, Forward::Diffusion, vec![])).unwrap_err();
    assert!(e.to_string().starts_with("mu_0: normal `var`"), "{e}");
    // The score at t = 0 of a smooth μ_0 is its own.
    let s = OuScore::new(&n, 0.0).unwrap();
    assert_eq!(s.score(2.0), -2.0);
}

#[test]
fn the_bucket_sort_sorts_every_kind_of_cloud() {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let mut normal = |n: usize| -> Vec<f64> {
        (0..n)
            .map(|_| crate::measure::sample::standard_normal(&mut rng))
            .collect()
    };
    let mut clouds = vec![
        normal(100_000),
        normal(63),
        normal(64),
        Vec::new(),
        vec![0.0; 1000],
        vec![0.0, -0.0, 0.0, -0.0, 1.0, -1.0],
    ];
    // Outliers stretch the range, so the bulk shares a few crowded buckets.
    let mut outliers = normal(20_000);
    outliers.extend([1e12, -3e11]);
    clouds.push(outliers);
    // Ties, signed zeros among many values, and a two-point cloud.
    let mut ties: Vec<f64> = normal(5_000).iter().map(|x| (x * 4.0).round()).collect();
    ties.extend([-0.0; 50]);
    clouds.push(ties);
    clouds.push(
        (0..10_000)
            .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect(),
    );
    // Non-finite values take the comparison sort.
    let mut odd = normal(1_000);
    odd.extend([f64::INFINITY, f64::NAN, f64::NEG_INFINITY]);
    clouds.push(odd);
    for cloud in clouds {
        let mut want = cloud.clone();
        want.sort_unstable_by(f64::total_cmp);
        let mut got = cloud.clone();
        super::sort_sample(&mut got);
        assert!(
            got.iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits())
                && got.len() == want.len(),
            "cloud of {} values",
            cloud.len()
        );
    }
}

#[test]
fn replicates_are_independent_and_replicate_0_is_the_run() {
    // Replicate r draws from streams 4r..4r+3: replicate 0 is `run_particles` bit for
    // bit, replicate 1 differs, and over a few replicates W(μ_0, ν̄_0) scatters by
    // about the size its sampling error should have (neither 0 nor of order 1).
    let mu0 = Measure::paper_example(4).unwrap();
    let nu0 = Measure::Point { at: 0.0 };
    let cfg = config(2000, 0.02, 40, Forward::Diffusion, vec![]);
    let a = run_particles(&mu0, &nu0, &cfg).unwrap();
    let b = run_particles_replicate(&mu0, &nu0, &cfg, 0).unwrap();
    assert_eq!(a, b);
    let vals: Vec<f64> = (1..=6)
        .map(|r| {
            run_particles_replicate(&mu0, &nu0, &cfg, r)
                .unwrap()
                .w2_denoised
        })
        .collect();
    assert!(vals.iter().all(|&v| v != a.w2_denoised));
    let (m, sd) = mean_sd(&vals);
    // With atoms the sampling term is of order n^{-1/4} in W: sd ≈ 0.07 at n = 2000.
    assert!(sd > 1e-4 && sd < 0.5 * m, "mean {m}, sd {sd}");
}

#[test]
fn tabulated_maps_are_within_the_tables_tolerance_of_the_kernel() {
    // The backward map of a sorted cloud of each paper example, with the score from
    // its table (as the engine runs it) and from the kernel one particle at a time:
    // apart by at most η times the table's tolerance (1e-12 of the largest |score|),
    // plus rounding.
    let eta = 0.01;
    for k in [4, 5, 6] {
        let mu0 = Measure::paper_example(k).unwrap();
        for t in [0.01, 0.2, 1.5] {
            let cloud = sample_ou(&mu0, t, 20_000, 7, 3);
            let (lo, hi) = (cloud[0], cloud[cloud.len() - 1]);
            let kernel = OuScore::new(&mu0, t).unwrap();
            let table = OuScore::new(&mu0, t).unwrap().tabulated(lo, hi);
            assert!(table.is_tabulated(), "Example {k} at t = {t}: no table");
            let top = cloud
                .iter()
                .fold(1.0f64, |m, &x| m.max(kernel.score(x).abs()));
            let mut moved = cloud.clone();
            table.backward_slice(&mut moved, eta);
            for (&x, &b) in cloud.iter().zip(&moved) {
                let want = kernel.backward(x, eta);
                let bound = eta * 1e-12 * top + 4.0 * f64::EPSILON * want.abs().max(1.0);
                assert!(
                    (b - want).abs() <= bound,
                    "Example {k}, t = {t}, x = {x}: {b} against {want}"
                );
            }
        }
    }
}

#[test]
fn runs_together_are_the_runs_alone() {
    // Several runs in one call share the clouds they agree on (every run against δ_0
    // diffuses one ν-cloud); each must still be, bit for bit and snapshot for
    // snapshot, the run made alone.
    let e4 = Measure::paper_example(4).unwrap();
    let e6 = Measure::paper_example(6).unwrap();
    let delta = Measure::Point { at: 0.0 };
    let normal = Measure::Normal {
        mean: 0.5,
        var: 0.7,
    };
    let smooth = Measure::Mixture(vec![
        crate::measure::Component {
            weight: 0.3,
            mean: -1.0,
            var: 0.2,
        },
        crate::measure::Component {
            weight: 0.7,
            mean: 1.0,
            var: 0.4,
        },
    ]);
    let cases: [(Forward, Vec<(&Measure, &Measure)>); 2] = [
        (
            Forward::Diffusion,
            vec![
                (&e4, &delta),
                (&e6, &delta),
                (&normal, &delta),
                (&e4, &normal),
            ],
        ),
        (
            Forward::Map,
            // Two runs against δ_0 under different scores: their ν-clouds differ.
            vec![
                (&normal, &smooth),
                (&smooth, &normal),
                (&normal, &delta),
                (&smooth, &delta),
            ],
        ),
    ];
    for (forward, pairs) in cases {
        let cfg = config(3000, 0.02, 25, forward, vec![0.0, 0.2, 0.5]);
        for replicate in [0, 2] {
            let together = run_particles_many(&pairs, &cfg, replicate).unwrap();
            assert_eq!(together.len(), pairs.len());
            for (k, (&(mu0, nu0), got)) in pairs.iter().zip(&together).enumerate() {
                let alone = run_particles_replicate(mu0, nu0, &cfg, replicate).unwrap();
                assert_eq!(got, &alone, "{forward:?}, run {k}, replicate {replicate}");
                assert_eq!(got.snapshots.len(), 6);
            }
        }
    }
    // A bad pair anywhere fails the call, naming the side.
    let bad = Measure::Normal {
        mean: 0.0,
        var: -1.0,
    };
    let cfg = config(10, 0.01, 2, Forward::Diffusion, vec![]);
    let e = run_particles_many(&[(&e4, &delta), (&e4, &bad)], &cfg, 0).unwrap_err();
    assert!(
        matches!(e, ParticleError::Measure { which: "nu_0", .. }),
        "{e}"
    );
}
