//! `cargo bench`: the kernels under the paper workload, one line each, timed with
//! `diffrepro::bench::ns_per_call` (best of several passes; no external harness).
//! The end-to-end workload and its targets are `diffrepro bench`.
//!
//! `cargo bench --bench kernels -- GROUP` runs the groups whose name contains GROUP
//! (posterior, uniform, quadrature, monte_carlo, w2); the whole parts of the paper
//! workload run single-handed only when named exactly: sweep_mc, sweep_exact,
//! particles (with RAYON_NUM_THREADS=1 they give the CPU cost of each part).

use std::hint::black_box;
use std::time::Instant;

use diffrepro::bench::{
    localization_cost, ns_per_call, particle_chains, sweep_exact, sweep_monte_carlo, Workload,
};
use diffrepro::localize::{self, ExactLocalization};
use diffrepro::measure::Measure;
use diffrepro::particles::{self, OuScore};
use diffrepro::spec::linspace;
use rand::SeedableRng;

/// Best wall time of `reps` runs of `f`, in milliseconds.
fn best_ms<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let start = Instant::now();
        black_box(f());
        best = best.min(start.elapsed().as_secs_f64() * 1e3);
    }
    best
}

fn line(what: &str, value: f64, unit: &str) {
    println!("{what:<62} {value:>10.3} {unit}");
}

fn main() {
    // `cargo bench -- FILTER` passes a filter; `cargo test --benches` passes --bench.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let on = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    // The whole parts of the paper workload take seconds: only when named exactly.
    let named = |name: &str| filter.as_deref() == Some(name);
    let ex = |k| Measure::paper_example(k).expect("examples 1-6 exist");
    let n = 100_000;

    if on("posterior") {
        let cost = localization_cost(40);
        line(
            "posterior: L_r(y), Example 6 (4 components)",
            cost.ns_localization,
            "ns",
        );
        line(
            "posterior: 4 exp() on the same inputs",
            cost.ns_four_exp,
            "ns",
        );
        line("posterior: ratio (target ≤ 6)", cost.ratio(), "x");
        for k in [2, 3, 4, 5, 6] {
            let loc = ex(k).localizer(1.5);
            let ys = linspace(-8.0, 8.0, 4096, false);
            let (ns, _) = ns_per_call(&ys, 4, 40, |&y| loc.localization(y));
            line(&format!("posterior: L_r(y), Example {k}"), ns, "ns");
            let mut buf = ys.clone();
            let blocks = [0usize; 4];
            let (ns, _) = ns_per_call(&blocks, 1, 40, |_| {
                buf.copy_from_slice(&ys);
                loc.localization_batch(&mut buf);
                buf[17]
            });
            line(
                &format!("posterior: L_r(y) in batches, Example {k}"),
                ns / 4096.0,
                "ns",
            );
        }
    }
    if on("uniform") {
        // L_r at draws of Y_r (where Monte Carlo evaluates it), across the t grid's r.
        let m = ex(3);
        for r in [0.2, 0.5, 1.0, 2.0, 4.0, 7.0] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            let ys: Vec<f64> = (0..4096).map(|_| m.sample_y(r, &mut rng)).collect();
            let loc = m.localizer(r);
            let (ns, _) = ns_per_call(&ys, 2, 40, |&y| loc.localization(y));
            line(&format!("uniform: L_r(Y_r) at r = {r}"), ns, "ns");
        }
    }
    if on("quadrature") {
        for (k, r) in [(4, 1.5), (5, 1.5), (6, 1.5), (3, 1.5)] {
            let m = ex(k);
            let setup = best_ms(5, || ExactLocalization::new(&m, r));
            line(
                &format!("quadrature: set-up of (μ, r), Example {k}, r = {r}"),
                setup * 1e3,
                "µs",
            );
            let first = best_ms(3, || ExactLocalization::new(&m, r).survival(0.5)) - setup;
            line(
                &format!("quadrature: first s_r(u), with the cell table, Example {k}"),
                first * 1e3,
                "µs",
            );
            let loc = ExactLocalization::new(&m, r);
            let us = linspace(0.0, 1.0, 64, false);
            let per = best_ms(3, || us.iter().map(|&u| loc.survival(u)).sum::<f64>()) / 64.0;
            line(
                &format!("quadrature: each further s_r(u), Example {k}"),
                per * 1e3,
                "µs",
            );
            let c = best_ms(3, || loc.complexity());
            line(&format!("quadrature: m*, δ*, Example {k}"), c * 1e3, "µs");
        }
    }
    if on("monte_carlo") {
        for k in [1, 2, 3, 4, 5, 6] {
            let m = ex(k);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
            let idx: Vec<usize> = (0..16384).collect();
            let (ns, _) = ns_per_call(&idx, 1, 40, |_| m.sample_y(1.5, &mut rng));
            line(
                &format!("monte_carlo: one draw of Y_r (no L_r), Example {k}"),
                ns,
                "ns",
            );
        }
        for k in [2, 3, 4, 6] {
            let m = ex(k);
            let ms = best_ms(5, || localize::sample_localization(&m, 1.5, n, 1, 0));
            line(
                &format!("monte_carlo: {n} draws of L_r(Y_r), Example {k}"),
                ms,
                "ms",
            );
        }
        let samples = localize::sample_localization(&ex(6), 1.5, n, 1, 0);
        let deltas = linspace(0.0, 1.0, 501, false);
        let ms = best_ms(5, || localize::tail_mc(&samples, &deltas));
        line(
            &format!("monte_carlo: h on a 501-point δ grid, {n} draws"),
            ms,
            "ms",
        );
        let us = linspace(0.0, 3.0, 301, false);
        let ms = best_ms(5, || localize::survival_mc(&samples, &us));
        line(
            &format!("monte_carlo: s_r on a 301-point u grid, {n} draws"),
            ms,
            "ms",
        );
    }
    // Each part of the paper workload: its name, its line, and how to run it once.
    type Run = fn(&Workload);
    let parts: [(&str, &str, Run); 3] = [
        (
            "particles",
            "particles: part (b) of the paper workload",
            |w| drop(black_box(particle_chains(w))),
        ),
        (
            "sweep_mc",
            "sweep: part (a) of the paper workload, Monte Carlo",
            |w| drop(black_box(sweep_monte_carlo(w))),
        ),
        (
            "sweep_exact",
            "sweep_exact: part (a) of the paper workload, exact",
            |w| drop(black_box(sweep_exact(w))),
        ),
    ];
    for (name, what, run) in parts {
        if named(name) {
            let w = Workload::paper();
            line(what, best_ms(1, || run(&w)), "ms");
        }
    }
    if on("w2") {
        let a = particles::sample_ou(&ex(6), 0.5, n, 1, 0);
        let b = particles::sample_ou(&ex(4), 0.5, n, 1, 1);
        let ms = best_ms(20, || particles::w2_sorted(&a, &b));
        line(
            &format!("w2: W₂ between sorted clouds of {n}"),
            ms * 1e3,
            "µs",
        );
        let ms = best_ms(5, || particles::w2_samples(&a, &b));
        line(&format!("w2: W₂ with sorting, {n}"), ms, "ms");
        // A cloud one noisy OU step (η = 0.01) after a sorted one, as the engine sorts it.
        for k in [4, 5, 6] {
            let base = particles::sample_ou(&ex(k), 0.01, n, 1, 0);
            let noise = particles::sample_ou(&Measure::Point { at: 0.0 }, 0.01, n, 2, 0);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
            let mut shuffled = noise.clone();
            for i in (1..n).rev() {
                let j = diffrepro::measure::sample::uniform_index(&mut rng, i + 1);
                shuffled.swap(i, j);
            }
            let step: Vec<f64> = base
                .iter()
                .zip(&shuffled)
                .map(|(x, z)| (-0.01f64).exp() * x + z)
                .collect();
            let mut sorter = particles::SampleSorter::default();
            let ms = best_ms(10, || {
                let mut v = step.clone();
                sorter.sort(&mut v);
                v
            });
            line(
                &format!("w2: bucket sort of a cloud after one step, Example {k}"),
                ms,
                "ms",
            );
            let ms = best_ms(10, || {
                let mut v = step.clone();
                v.sort_unstable_by(f64::total_cmp);
                v
            });
            line(
                &format!("w2: comparison sort of the same cloud, Example {k}"),
                ms,
                "ms",
            );
        }
        let m = ex(6);
        let score = OuScore::new(&m, 0.5).expect("t > 0");
        let ms = best_ms(5, || {
            let mut c = a.clone();
            score.backward_slice(&mut c, 0.01);
            c
        });
        line(
            &format!("w2: one backward step b(x), Example 6, {n} particles (batch)"),
            ms,
            "ms",
        );
        let ms = best_ms(5, || {
            a.iter().map(|&x| score.backward(x, 0.01)).sum::<f64>()
        });
        line("w2: the same, one particle at a time", ms, "ms");
    }
}
