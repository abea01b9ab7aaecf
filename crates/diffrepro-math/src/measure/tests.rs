//! Tests of the posterior kernels: finiteness over the whole working range, brute-force
//! posteriors by quadrature over x, L_r = 1 + (log p)'' and Tweedie by finite
//! differences, the OU score, sampling moments, validation messages.

use super::special::norm_pdf;
use super::*;
use crate::localize::quadrature::integrate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// One of every kind, including edge cases of each.
fn all_kinds() -> Vec<Measure> {
    let mut v: Vec<Measure> = (1..=6)
        .map(|k| Measure::paper_example(k).unwrap())
        .collect();
    v.push(Measure::Normal {
        mean: 3.0,
        var: 0.2,
    });
    v.push(Measure::Uniform {
        low: 0.5,
        high: 4.0,
    });
    v.push(Measure::Empirical {
        points: vec![-1.3, 0.2, 0.25, 2.0],
        bandwidth: 0.0,
    });
    v.push(Measure::Empirical {
        points: vec![-1.3, 0.2, 0.25, 2.0],
        bandwidth: 0.4,
    });
    v
}

#[test]
fn everything_is_finite_over_the_working_range() {
    // The brief's stability requirement: r ∈ [1e-3, 1e3], |y| ≤ 60, every kind.
    for m in all_kinds() {
        for i in 0..=36 {
            let r = 1e-3 * 10f64.powf(i as f64 / 6.0);
            let loc = m.localizer(r);
            for j in -240..=240 {
                let y = j as f64 * 0.25;
                let p = m.posterior(r, y);
                let lp = m.log_density_y(r, y);
                let s = m.score_y(r, y);
                assert!(
                    p.mean.is_finite() && p.var.is_finite() && p.var >= 0.0,
                    "{m:?} r={r} y={y}: {p:?}"
                );
                assert!(
                    lp.is_finite() && s.is_finite(),
                    "{m:?} r={r} y={y}: {lp} {s}"
                );
                // The prepared and the on-the-fly kernels are the same code.
                assert_eq!(loc.posterior(y), p);
            }
        }
    }
}

/// (weight, lo, hi, density on [lo, hi]) of a continuous part of μ.
type ContinuousPart = (f64, f64, f64, Box<dyn Fn(f64) -> f64>);

/// (p_Y(y), E[rX | y], Var[rX | y]) by direct quadrature over x.
fn brute_posterior(m: &Measure, r: f64, y: f64) -> (f64, f64, f64) {
    let mut atoms: Vec<(f64, f64)> = Vec::new();
    let mut parts: Vec<ContinuousPart> = Vec::new();
    let mut gauss = |w: f64, mean: f64, var: f64, atoms: &mut Vec<(f64, f64)>| {
        if var == 0.0 {
            atoms.push((w, mean));
        } else {
            let s = var.sqrt();
            parts.push((
                w,
                mean - 14.0 * s,
                mean + 14.0 * s,
                Box::new(move |x| norm_pdf((x - mean) / s) / s),
            ));
        }
    };
    match m {
        Measure::Point { at } => atoms.push((1.0, *at)),
        Measure::Normal { mean, var } => gauss(1.0, *mean, *var, &mut atoms),
        Measure::Uniform { low, high } => {
            let d = 1.0 / (high - low);
            parts.push((1.0, *low, *high, Box::new(move |_| d)));
        }
        Measure::Mixture(cs) => {
            for c in cs {
                gauss(c.weight, c.mean, c.var, &mut atoms);
            }
        }
        Measure::Empirical { points, bandwidth } => {
            let w = 1.0 / points.len() as f64;
            for &x in points {
                gauss(w, x, bandwidth * bandwidth, &mut atoms);
            }
        }
    }
    let mut z = [0.0; 3];
    for (w, x) in atoms {
        let k = w * norm_pdf(y - r * x);
        z[0] += k;
        z[1] += k * r * x;
        z[2] += k * r * x * r * x;
    }
    for (w, lo, hi, pdf) in parts {
        let pts: Vec<f64> = (0..=400)
            .map(|i| lo + (hi - lo) * i as f64 / 400.0)
            .collect();
        let q = integrate(
            |x| {
                let k = w * pdf(x) * norm_pdf(y - r * x);
                [k, k * r * x, k * r * x * r * x]
            },
            &pts,
            1e-15,
            20_000,
        );
        for (zj, qj) in z.iter_mut().zip(q.value) {
            *zj += qj;
        }
    }
    let mean = z[1] / z[0];
    (z[0], mean, z[2] / z[0] - mean * mean)
}

#[test]
fn posterior_matches_brute_force_quadrature_over_x() {
    // Quadrature over x is accurate to ~1e-14 on integrals of size ≥ 1e-6, so relative
    // agreement of 1e-8 in the density and 1e-8 (absolute + relative) in L_r leaves a
    // wide margin for the 1e-9 targets of the exact code.
    for m in all_kinds() {
        for r in [0.3, 1.0, 2.5, 6.0] {
            for y in [-4.0, -1.7, -0.3, 0.0, 0.6, 2.2, 5.0] {
                let (p, mean, var) = brute_posterior(&m, r, y);
                if p < 1e-6 {
                    continue;
                }
                let post = m.posterior(r, y);
                let dens = m.density_y(r, y);
                assert!(
                    ((dens - p) / p).abs() < 1e-8,
                    "{m:?} r={r} y={y}: density {dens} vs {p}"
                );
                assert!(
                    (post.mean - mean).abs() < 1e-8 * (1.0 + mean.abs()),
                    "{m:?} r={r} y={y}: mean {} vs {mean}",
                    post.mean
                );
                assert!(
                    (post.var - var).abs() < 1e-8 * (1.0 + var),
                    "{m:?} r={r} y={y}: L {} vs {var}",
                    post.var
                );
            }
        }
    }
}

#[test]
fn localization_is_one_plus_curvature_and_score_is_tweedie() {
    // Prop. 3 in 1-D, L_r = 1 + (log p)'', by the 5-point second difference with
    // h = 0.01: truncation h⁴f⁽⁶⁾/90 ≲ 1e-7 here, roundoff 16ε|log p|/(12h²) ≲ 1e-10;
    // tolerance 1e-6. Tweedie, score = E[rX|y] - y, by the 4-point first difference with
    // h = 1e-3: truncation h⁴f⁽⁵⁾/30 ≲ 1e-10, roundoff ~1e-12; tolerance 1e-8.
    for m in all_kinds() {
        for r in [0.3, 1.0, 2.5] {
            for y in [-3.1, -1.0, -0.2, 0.4, 1.3, 2.7] {
                let f = |x: f64| m.log_density_y(r, x);
                let h = 0.01;
                let d2 = (-f(y + 2.0 * h) + 16.0 * f(y + h) - 30.0 * f(y) + 16.0 * f(y - h)
                    - f(y - 2.0 * h))
                    / (12.0 * h * h);
                let l = m.localization(r, y);
                assert!(
                    (l - (1.0 + d2)).abs() < 1e-6 * (1.0 + l),
                    "{m:?} r={r} y={y}: L={l} 1+d2={}",
                    1.0 + d2
                );
                let h = 1e-3;
                let d1 = (f(y - 2.0 * h) - 8.0 * f(y - h) + 8.0 * f(y + h) - f(y + 2.0 * h))
                    / (12.0 * h);
                let s = m.score_y(r, y);
                assert!(
                    (s - d1).abs() < 1e-8 * (1.0 + s.abs()),
                    "{m:?} r={r} y={y}: score={s} fd={d1}"
                );
                let post = m.posterior(r, y);
                assert!((s - (post.mean - y)).abs() < 1e-12 * (1.0 + y.abs()));
            }
        }
    }
}

#[test]
fn closed_forms_of_the_kernels() {
    // Normal: L ≡ σ²r²/(σ²r²+1); two points: (rμ)² sech²(rμy); point mass: 0.
    let n = Measure::Normal {
        mean: 1.0,
        var: 2.0,
    };
    let tp = Measure::two_point(1.0);
    for r in [0.05, 0.5, 1.0, 3.0, 20.0] {
        for y in [-7.0, -1.0, 0.0, 0.5, 4.0] {
            let want = 2.0 * r * r / (2.0 * r * r + 1.0);
            assert!((n.localization(r, y) - want).abs() < 1e-14);
            let a = r;
            let sech = 1.0 / (a * y).cosh();
            assert!((tp.localization(r, y) - a * a * sech * sech).abs() < 1e-12 * (1.0 + a * a));
            assert_eq!(Measure::Point { at: 2.0 }.localization(r, y), 0.0);
        }
    }
}

#[test]
fn truncated_normal_moments_in_the_tails() {
    // (α, β, mean, variance, ln Z) from mpmath at 60 digits. Relative 1e-9 on the
    // variance: in the far tail it is ~1/α² and the formula 1 + αA - βB - mean²
    // cancels terms of size α², losing ~α⁴ε relative (4e-10 at α = 39).
    let cases = [
        (
            39.0,
            41.0,
            39.02560741993011,
            0.0006548827702932843,
            -765.0831565643775,
        ),
        (
            59.999,
            60.001,
            59.99998000480102,
            3.330934260524553e-07,
            -1807.1329468703593,
        ),
        (
            -0.001,
            0.001,
            0.0,
            3.3333328888889104e-07,
            -7.13354679829352,
        ),
        (
            5.0,
            5.002,
            5.000998333003001,
            3.333316215626718e-07,
            -19.63854312996416,
        ),
        (
            -3.0,
            2.0,
            -0.05078298967487897,
            0.8731486399754057,
            -0.024395187554887347,
        ),
        (
            20.0,
            1e9,
            20.04975306852785,
            0.0024632616150521637,
            -203.91715537109727,
        ),
    ];
    for (a, b, mean, var, ln_z) in cases {
        for (sign, (lo, hi)) in [(1.0, (a, b)), (-1.0, (-b, -a))] {
            let (m, v, l) = posterior::truncated_normal(lo, hi);
            assert!(
                (m - sign * mean).abs() < 1e-12 * (1.0 + mean.abs()),
                "[{lo},{hi}] mean {m} vs {}",
                sign * mean
            );
            assert!(
                ((v - var) / var).abs() < 1e-9,
                "[{lo},{hi}] var {v} vs {var}"
            );
            assert!(
                (l - ln_z).abs() < 1e-12 * (1.0 + ln_z.abs()),
                "[{lo},{hi}] ln Z {l} vs {ln_z}"
            );
        }
    }
}

#[test]
fn truncated_normal_moments_in_the_centre() {
    // The Gauss–Legendre path (intervals inside [-5, 5], width ≤ 4): (α, β, mean,
    // variance, ln Z) from mpmath at 60 digits. The rules are chosen so that their error
    // is below rounding: the tolerances are a few hundred ulps.
    let cases = [
        (-1.0, 1.0, 0.0, 0.2911250947727932, -0.38171514630212605),
        (
            0.5,
            3.5,
            1.1391081785606798,
            0.26349489724257313,
            -1.1766660193159195,
        ),
        (
            -4.9,
            -1.2,
            -1.6875378567457917,
            0.17718298641832883,
            -2.1622216703406685,
        ),
        (
            2.0,
            5.0,
            2.3731800849531375,
            0.11418040202988917,
            -3.783196933757427,
        ),
        (
            -0.3,
            0.2,
            -0.048966998541879796,
            0.020659605384467695,
            -1.62368323886832,
        ),
        (
            4.2,
            4.9,
            4.391545355260451,
            0.026129269688069244,
            -11.260878414286974,
        ),
        (
            -2.5,
            1.4,
            -0.144791116360963,
            0.701456282326725,
            -0.0909825146857237,
        ),
        (
            1.0,
            1.3,
            1.1414177632217881,
            0.007433478187412667,
            -2.7829660716235027,
        ),
        (
            -5.0,
            -1.0,
            -1.525128660943642,
            0.1990737454241554,
            -1.8410234517684079,
        ),
        (
            -0.01,
            0.3,
            0.1438425458869608,
            0.007981907766796949,
            -2.1045478561036206,
        ),
    ];
    for (a, b, mean, var, ln_z) in cases {
        for (sign, (lo, hi)) in [(1.0, (a, b)), (-1.0, (-b, -a))] {
            let (m, v, l) = posterior::truncated_normal(lo, hi);
            assert!(
                (m - sign * mean).abs() < 1e-14 * (1.0 + mean.abs()),
                "[{lo},{hi}] mean {m} vs {}",
                sign * mean
            );
            assert!(
                ((v - var) / var).abs() < 1e-13,
                "[{lo},{hi}] var {v} vs {var}"
            );
            assert!(
                (l - ln_z).abs() < 1e-14 * (1.0 + ln_z.abs()),
                "[{lo},{hi}] ln Z {l} vs {ln_z}"
            );
        }
    }
}

#[test]
fn ou_score_matches_the_gaussian_flow() {
    // μ_0 = N(1, s²) ⇒ μ_t = N(e^{-t}, e^{-2t}s² + 1 - e^{-2t}) (DIGEST §2 intro example).
    let s2 = 0.3;
    let m = Measure::Normal { mean: 1.0, var: s2 };
    for t in [0.01f64, 0.1, 0.5, 2.0] {
        let e = (-t).exp();
        let var_t = e * e * s2 + 1.0 - e * e;
        for x in [-2.0, 0.0, 0.7, 3.0] {
            let want = -(x - e) / var_t;
            assert!((m.ou_score(t, x) - want).abs() < 1e-12 * (1.0 + want.abs()));
        }
    }
}

#[test]
fn sampling_moments() {
    // Mean and variance of X and of Y_r = rX + Z against the exact moments, within
    // 5 standard errors (n = 100 000).
    let n = 100_000;
    for m in all_kinds() {
        let (mean, var) = m.mean_and_variance();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let xs: Vec<f64> = (0..n).map(|_| m.sample_x(&mut rng)).collect();
        let ys: Vec<f64> = (0..n).map(|_| m.sample_y(2.0, &mut rng)).collect();
        for (v, mu, s2) in [(&xs, mean, var), (&ys, 2.0 * mean, 4.0 * var + 1.0)] {
            let mh = v.iter().sum::<f64>() / n as f64;
            let vh = v.iter().map(|x| (x - mh) * (x - mh)).sum::<f64>() / (n - 1) as f64;
            let se = (s2 / n as f64).sqrt();
            assert!(
                (mh - mu).abs() <= 5.0 * se + 1e-12,
                "{m:?}: mean {mh} vs {mu}"
            );
            // se of the variance ≤ √(2·s2²·(1+kurtosis excess)/n); kurtosis ≤ 4 here.
            assert!(
                (vh - s2).abs() <= 5.0 * s2 * (10.0 / n as f64).sqrt() + 1e-12,
                "{m:?}: var {vh} vs {s2}"
            );
        }
    }
}

#[test]
fn validation_names_the_bad_parameter() {
    for m in all_kinds() {
        assert!(m.validate().is_ok(), "{m:?}");
    }
    let bad = [
        (
            Measure::Normal {
                mean: 0.0,
                var: -1.0,
            },
            "normal `var` must be non-negative",
        ),
        (
            Measure::Point { at: f64::NAN },
            "point mass location `at` must be a finite number",
        ),
        (
            Measure::Uniform {
                low: 1.0,
                high: 1.0,
            },
            "uniform needs low < high",
        ),
        (Measure::Mixture(vec![]), "mixture is empty"),
        (
            Measure::Mixture(vec![Component {
                weight: 0.5,
                mean: 0.0,
                var: 1.0,
            }]),
            "mixture weights sum to 0.5",
        ),
        (
            Measure::Mixture(vec![
                Component {
                    weight: 1.5,
                    mean: 0.0,
                    var: 1.0,
                },
                Component {
                    weight: -0.5,
                    mean: 0.0,
                    var: 1.0,
                },
            ]),
            "mixture component 1 has weight -0.5",
        ),
        (
            Measure::Empirical {
                points: vec![0.0, f64::INFINITY],
                bandwidth: 0.0,
            },
            "empirical point 1",
        ),
        (
            Measure::Empirical {
                points: vec![],
                bandwidth: 0.0,
            },
            "empirical measure is empty",
        ),
    ];
    for (m, msg) in bad {
        let e = m.validate().unwrap_err().to_string();
        assert!(e.starts_with(msg), "{e:?} should start with {msg:?}");
    }
}

#[test]
fn windowed_kernel_matches_the_full_sum() {
    // Large empirical measures skip components whose weight is below e^{-60} of the
    // largest; against the full O(n) sum (`Measure`'s own path) the difference is
    // rounding: 1e-12 relative.
    let points: Vec<f64> = (0..300)
        .map(|i| ((i * 7919) % 1000) as f64 / 150.0 - 3.3)
        .collect();
    for bandwidth in [0.0, 0.05, 0.7] {
        let m = Measure::Empirical {
            points: points.clone(),
            bandwidth,
        };
        for r in [0.01, 0.5, 5.0, 100.0] {
            let loc = m.localizer(r);
            for j in -200..=200 {
                let y = j as f64 * 0.05 * (1.0 + r);
                let (a, b) = (loc.posterior(y), m.posterior(r, y));
                assert!(
                    (a.var - b.var).abs() <= 1e-12 * (1.0 + b.var),
                    "h={bandwidth} r={r} y={y}: {a:?} {b:?}"
                );
                assert!((a.mean - b.mean).abs() <= 1e-12 * (1.0 + b.mean.abs()));
                let (la, lb) = (loc.log_density(y), m.log_density_y(r, y));
                assert!((la - lb).abs() <= 1e-12 * (1.0 + lb.abs()));
            }
        }
    }
}

#[test]
fn draws_of_y_have_the_mean_and_variance_of_rx_plus_z() {
    // Y_r = rX + Z has mean r E X and variance r² Var X + 1, whatever the draw uses
    // (one normal per Gaussian component). 4·10⁵ draws: the sample mean's standard
    // error is √(Var Y/n), the sample variance's about Var Y·√(κ - 1)/√n with kurtosis
    // κ ≤ 6 for these laws; allow 5 of each.
    let st = sample::Stream::new(21, 0);
    let n = 400_000;
    for m in all_kinds() {
        for r in [0.3, 1.7] {
            let mut y = vec![0.0; n];
            m.sample_y_batch(r, &st, 0, &mut y);
            let (mx, vx) = m.mean_and_variance();
            let (mean, var) = (r * mx, r * r * vx + 1.0);
            let got_mean = y.iter().sum::<f64>() / n as f64;
            let got_var = y.iter().map(|v| (v - got_mean).powi(2)).sum::<f64>() / n as f64;
            let nf = n as f64;
            assert!(
                (got_mean - mean).abs() < 5.0 * (var / nf).sqrt(),
                "{m:?} r={r}: mean {got_mean} vs {mean}"
            );
            assert!(
                (got_var - var).abs() < 5.0 * var * (5.0 / nf).sqrt(),
                "{m:?} r={r}: variance {got_var} vs {var}"
            );
        }
    }
}

#[test]
fn batch_draws_and_batch_kernels_equal_the_one_at_a_time_ones() {
    let st = sample::Stream::new(9, 4);
    for m in all_kinds() {
        for r in [0.3, 1.7] {
            let one: Vec<f64> = (0..1000).map(|i| m.sample_y_at(r, &st, i)).collect();
            let mut batch = vec![0.0; 1000];
            m.sample_y_batch(r, &st, 0, &mut batch);
            assert!(
                one.iter()
                    .zip(&batch)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{m:?} r={r}"
            );
            // Nor on the vector width.
            for w in crate::simd::widths_here() {
                let mut at_w = vec![0.0; 1000];
                crate::simd::with_width_at_most(w, || m.sample_y_batch(r, &st, 0, &mut at_w));
                let mut base = vec![0.0; 1000];
                crate::simd::with_width_at_most(crate::simd::Width::Baseline, || {
                    m.sample_y_batch(r, &st, 0, &mut base)
                });
                assert!(
                    at_w.iter()
                        .zip(&base)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{m:?} r={r} {w:?}"
                );
            }
            // Draw i does not depend on how the draws are split into batches.
            let mut pieces = vec![0.0; 1000];
            let (a, b) = pieces.split_at_mut(300);
            m.sample_y_batch(r, &st, 0, a);
            m.sample_y_batch(r, &st, 300, b);
            assert!(pieces
                .iter()
                .zip(&batch)
                .all(|(x, y)| x.to_bits() == y.to_bits()));
            // Batch L_r and scores: bit-identical to one at a time, including far out.
            let loc = m.localizer(r);
            let mut ys = batch.clone();
            ys.extend([-60.0, -35.5, 0.0, 41.0, 60.0]);
            let mut l = ys.clone();
            loc.localization_batch(&mut l);
            let mut s = ys.clone();
            loc.score_batch(&mut s);
            for ((&y, &lb), &sb) in ys.iter().zip(&l).zip(&s) {
                assert_eq!(
                    lb.to_bits(),
                    loc.localization(y).to_bits(),
                    "{m:?} r={r} y={y}"
                );
                assert_eq!(sb.to_bits(), loc.score(y).to_bits(), "{m:?} r={r} y={y}");
            }
        }
    }
}

#[test]
fn mixture_draws_in_batches_of_any_length_are_the_formula() {
    // Mixtures of one to five components (four or fewer pick their component four
    // draws at a time from registers, more by loads), in batches whose lengths and
    // starts are not multiples of four: draw i is r·m_k + √(r²v_k + 1)·(normal i), k
    // the number of partial weight sums ≤ (uniform i), bit for bit, at every vector
    // width this CPU has. The second component is light (picked about 1% of the time).
    use crate::simd::{widths_here, with_width_at_most};
    let law = |k: usize| {
        let weights: Vec<f64> = (0..k)
            .map(|i| if i == 1 { 0.05 } else { 1.0 + i as f64 })
            .collect();
        let total: f64 = weights.iter().sum();
        let comps = weights.iter().enumerate().map(|(i, &w)| Component {
            weight: w / total,
            mean: 3.0 * i as f64 - 4.0,
            var: 0.25 * i as f64,
        });
        comps.collect::<Vec<_>>()
    };
    let st = sample::Stream::new(5, 11);
    let r = 0.8;
    for w in widths_here() {
        for k in 1..=5 {
            let comps = law(k);
            let m = Measure::Mixture(comps.clone());
            m.validate().unwrap();
            for (start, len) in [(0u64, 1usize), (3, 7), (1, 258), (17, 1027)] {
                let mut batch = vec![0.0; len];
                with_width_at_most(w, || m.sample_y_batch(r, &st, start, &mut batch));
                for (j, y) in batch.iter().enumerate() {
                    let i = start + j as u64;
                    let u = st.uniform(i);
                    let mut acc = 0.0;
                    let picked = comps[..k - 1]
                        .iter()
                        .filter(|c| {
                            acc += c.weight;
                            acc <= u
                        })
                        .count();
                    let c = &comps[picked];
                    let want = r * c.mean + (r * r * c.var + 1.0).sqrt() * st.normal(i);
                    assert_eq!(
                        y.to_bits(),
                        want.to_bits(),
                        "{w:?}, {k} components: draw {i}"
                    );
                }
            }
        }
    }
}

#[test]
fn two_component_batches_equal_one_at_a_time_at_ties_and_extremes() {
    // The two-component batch kernel takes one exp per value (the leading weight is
    // e^0 = 1 exactly): bit-identical to the general kernel one value at a time, at
    // the midpoint tie of two equal components, where one weight underflows, where
    // both squared distances overflow, at ±∞ and with a weightless component. NaN
    // inputs give NaN scores and L = 0 both ways (payloads aside).
    let comp = |weight: f64, mean: f64, var: f64| Component { weight, mean, var };
    let laws = [
        Measure::paper_example(4).unwrap(),
        Measure::paper_example(5).unwrap(),
        Measure::Mixture(vec![comp(0.3, -2.0, 0.5), comp(0.7, 1.0, 0.0)]),
        Measure::Mixture(vec![comp(0.0, -2.0, 0.5), comp(1.0, 1.0, 0.2)]),
        Measure::Mixture(vec![comp(0.5, 3.0, 1.0), comp(0.5, 3.0, 1.0)]),
    ];
    let mut ys: Vec<f64> = (-400..=400).map(|i| i as f64 * 0.137).collect();
    ys.extend([0.0, -0.0, 1e-300, 1e155, -1e155, 1e300, f64::INFINITY]);
    ys.extend([f64::NEG_INFINITY, f64::NAN, f64::MAX, f64::MIN_POSITIVE]);
    for m in &laws {
        for r in [1e-3, 0.4, 1.0, 7.0, 300.0] {
            let loc = m.localizer(r);
            let mut l = ys.clone();
            loc.localization_batch(&mut l);
            let mut s = ys.clone();
            loc.score_batch(&mut s);
            for ((&y, &lb), &sb) in ys.iter().zip(&l).zip(&s) {
                let (lo, so) = (loc.localization(y), loc.score(y));
                let same =
                    |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
                assert!(same(lb, lo), "{m:?} r={r} y={y}: L {lb} vs {lo}");
                assert!(same(sb, so), "{m:?} r={r} y={y}: score {sb} vs {so}");
            }
        }
    }
}

#[test]
fn the_exact_codes_batch_kernels_equal_the_one_at_a_time_ones() {
    // (L_r, p) and dL_r/dy in batches, and (L_r, dL_r/dy) from one pass: L_r and the
    // slopes bit-identical to the one-at-a-time kernels, p equal to rounding, out to
    // where it underflows (|y| = 60 at r = 1e-3 is e^{-1800}).
    let mut ys: Vec<f64> = (-600..=600).map(|i| i as f64 * 0.1).collect();
    ys.extend([0.0, -0.0, 1e-300, 2.5e-3]);
    for m in all_kinds() {
        for r in [1e-3, 0.3, 1.7, 40.0] {
            let loc = m.localizer(r);
            let (mut l, mut p) = (vec![0.0; ys.len()], vec![0.0; ys.len()]);
            loc.localization_and_density_batch(&ys, &mut l, &mut p);
            let mut slope = ys.clone();
            loc.localization_slope_batch(&mut slope);
            for (k, &y) in ys.iter().enumerate() {
                assert_eq!(
                    l[k].to_bits(),
                    loc.localization(y).to_bits(),
                    "{m:?} r={r} y={y}"
                );
                // density() exponentiates ln p, whose rounding (an ulp of |ln p|) makes
                // its relative error grow with |ln p|.
                let want = loc.density(y);
                let tol = 8.0 * f64::EPSILON * (1.0 + want.ln().abs());
                assert!(
                    (p[k] - want).abs() <= tol * want || (want < 1e-290 && p[k] < 1e-290),
                    "{m:?} r={r} y={y}: p {} vs {want}",
                    p[k]
                );
                let s = loc.localization_slope(y);
                assert_eq!(slope[k].to_bits(), s.to_bits(), "{m:?} r={r} y={y}");
                match (loc.localization_and_slope(y), &m) {
                    (Some((lv, sv)), _) => {
                        assert_eq!(lv.to_bits(), loc.localization(y).to_bits(), "{m:?} {r} {y}");
                        assert_eq!(sv.to_bits(), s.to_bits(), "{m:?} r={r} y={y}");
                    }
                    (None, Measure::Uniform { .. }) => {}
                    (None, _) => panic!("{m:?}: a mixture has the one-pass slope"),
                }
            }
        }
    }
}

#[test]
fn every_vector_width_gives_the_same_bits() {
    // The batch kernels run at the widest vectors of the CPU (crate::simd): at every
    // width this CPU has, draws, L_r, scores, densities and slopes in batches and one
    // at a time are bit for bit what the baseline build gives.
    use crate::simd::{widths_here, with_width_at_most};
    let st = sample::Stream::new(9, 4);
    let mut ys: Vec<f64> = (-600..=600).map(|i| i as f64 * 0.1).collect();
    ys.extend([0.0, -0.0, 1e-300, 2.5e-3, 1e155, f64::INFINITY, f64::NAN]);
    let run = || {
        let mut out: Vec<Vec<f64>> = Vec::new();
        let mut z = vec![0.0; 3000];
        st.normals(5, &mut z);
        out.push(z);
        let mut u = vec![0.0; 3000];
        st.uniforms(5, &mut u);
        out.push(u);
        for m in all_kinds() {
            for r in [1e-3, 0.3, 1.7, 40.0] {
                let mut draws = vec![0.0; 1000];
                m.sample_y_batch(r, &st, 0, &mut draws);
                let loc = m.localizer(r);
                let mut l = ys.clone();
                loc.localization_batch(&mut l);
                let mut s = ys.clone();
                loc.score_batch(&mut s);
                let (mut l2, mut p) = (vec![0.0; ys.len()], vec![0.0; ys.len()]);
                loc.localization_and_density_batch(&ys, &mut l2, &mut p);
                let mut slope = ys.clone();
                loc.localization_slope_batch(&mut slope);
                let one: Vec<f64> = ys.iter().map(|&y| loc.localization(y)).collect();
                out.extend([draws, l, s, l2, p, slope, one]);
                // Tables over part of the points, so that some fall outside.
                if let Some(t) = loc.localization_table(-20.0, 25.0) {
                    let mut v = ys.clone();
                    t.eval_batch(&mut v, |y| loc.localization(y));
                    out.push(v);
                }
                if let Some(t) = loc.scaled_score_table(1.0, -20.0, 25.0) {
                    let mut v = ys.clone();
                    t.eval_batch(&mut v, |y| loc.score(y));
                    out.push(v);
                    let mut v = vec![0.0; ys.len()];
                    t.eval_ascending_into(&ys, &mut v, |y| loc.score(y));
                    out.push(v);
                }
            }
        }
        out
    };
    let widths = widths_here();
    let base = with_width_at_most(widths[0], run);
    for &w in &widths[1..] {
        let got = with_width_at_most(w, run);
        for (k, (a, b)) in base.iter().zip(&got).enumerate() {
            for (j, (x, y)) in a.iter().zip(b).enumerate() {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "{w:?}: output {k}, value {j}: {y} against {x} at the baseline"
                );
            }
        }
    }
}

#[test]
fn tables_of_localization_and_score_are_within_their_tolerance() {
    // Against the kernel one value at a time, on a dense grid over Y_r's range (every
    // piece visited many times) and at draws of Y_r; for every kind at the r of the
    // paper's figures. The paper's examples must get a table up to r = 7.1 (t = 0.01),
    // or the Monte Carlo sweep and the particles would silently lose their speed.
    let st = sample::Stream::new(3, 1);
    for (i, m) in all_kinds().into_iter().enumerate() {
        for r in [0.05, 0.25, 0.71, 1.5, 3.0, 7.1, 12.0] {
            let loc = m.localizer(r);
            let (lo, hi) = loc.y_range();
            let mut ys: Vec<f64> = (0..=40_000)
                .map(|k| lo + (hi - lo) * k as f64 / 40_000.0)
                .collect();
            let mut draws = vec![0.0; 20_000];
            m.sample_y_batch(r, &st, 0, &mut draws);
            ys.extend(draws);
            // The OU score of μ_t at x, r = snr(t), on the particles' scale x = σ_t·y.
            let sigma = 1.0 / (1.0 + r * r).sqrt();
            let xs: Vec<f64> = ys.iter().map(|y| y * sigma).collect();
            let exact_l: Vec<f64> = ys.iter().map(|&y| loc.localization(y)).collect();
            let exact_s: Vec<f64> = ys.iter().map(|&y| loc.score(y)).collect();
            let exact_ou: Vec<f64> = xs.iter().map(|&x| loc.score(x / sigma) / sigma).collect();
            let tables = [
                (loc.localization_table(lo, hi), &exact_l, "L_r"),
                (loc.scaled_score_table(1.0, lo, hi), &exact_s, "score"),
                (
                    loc.scaled_score_table(sigma, lo * sigma, hi * sigma),
                    &exact_ou,
                    "OU score",
                ),
            ];
            for (table, exact, what) in tables {
                let ys = if what == "OU score" { &xs } else { &ys };
                let paper = i < 6 && loc.constant_localization().is_none() && r <= 7.1;
                let Some(t) = table else {
                    assert!(!paper, "{m:?} at r = {r}: no table of {what}");
                    continue;
                };
                let top = exact.iter().fold(1.0f64, |a, v| a.max(v.abs()));
                assert!(
                    t.tolerance() <= 1e-12 * top * 1.000001,
                    "{what}: {}",
                    t.tolerance()
                );
                let f = |y: f64| match what {
                    "L_r" => loc.localization(y),
                    "score" => loc.score(y),
                    _ => loc.score(y / sigma) / sigma,
                };
                let mut v = ys.clone();
                t.eval_batch(&mut v, f);
                // The particles' call, written to another array: the same values (here
                // runs of values in one piece, the grid's end outside the table, then
                // draws in no order).
                let mut into = vec![f64::NAN; ys.len()];
                t.eval_ascending_into(ys, &mut into, f);
                assert!(into.iter().zip(&v).all(|(a, b)| a.to_bits() == b.to_bits()));
                for (k, (a, b)) in v.iter().zip(exact.iter()).enumerate() {
                    assert!(
                        (a - b).abs() <= t.tolerance(),
                        "{m:?} r = {r}, {what} at y = {}: {a} against {b} ({} pieces)",
                        ys[k],
                        t.pieces()
                    );
                }
            }
        }
    }
}
