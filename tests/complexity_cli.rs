//! Integration tests of `diffrepro complexity`: the real binary, its JSON against the
//! closed forms of DIGEST §3, its Monte Carlo against them within standard errors, and
//! its refusals of bad input (exit code 2, a message naming the flag).

mod common;

use common::complexity::{json, num, run};
use common::stderr;
use diffrepro::measure::special::norm_cdf;
use serde_json::Value;

const TWO_POINT: &str =
    "{mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}";

/// The value at `level` of a list like `survival: [{u, value, se?}]`.
fn at<'a>(list: &'a Value, key: &str, level: f64) -> &'a Value {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|e| num(&e[key]) == level)
        .unwrap_or_else(|| panic!("no {key} = {level} in {list}"))
}

/// Eq. 5.1: s_r(u) for ½δ₋₁ + ½δ₊₁ (a = rμ = r), u < a².
fn two_point_survival(r: f64, u: f64) -> f64 {
    let a = r;
    if u >= a * a {
        return 0.0;
    }
    let q = (a * a - u).sqrt();
    let c = ((a + q) / (a - q)).ln() / (2.0 * a);
    norm_cdf(c - a) + norm_cdf(c + a) - 1.0
}

#[test]
fn two_point_masses_in_the_log_concave_regime() {
    // r = 0.5 ≤ 1/μ: sup L = (rμ)² = 0.25, m* = 0, δ* = 1 - 0.25, s_r and h vanish at
    // the default levels (u = 0.5, 1 and 1 - δ = 1, 0.5 all exceed 0.25).
    let j = json(&["--measure", TWO_POINT, "--r", "0.5"]);
    assert_eq!(j["method"], "exact");
    assert_eq!(j["dimension"], 1);
    assert_eq!(j["quadrature"], "adaptive quadrature, ~1e-9");
    let p = &j["results"][0];
    assert!((num(&p["r"]) - 0.5).abs() < 1e-15);
    assert!((num(&p["t"]) - 0.5 * 5f64.ln()).abs() < 1e-14);
    assert!((num(&p["sup_l"]) - 0.25).abs() < 1e-9);
    assert!(num(&p["m_star"]).abs() < 1e-12);
    assert!((num(&p["delta_star"]) - 0.75).abs() < 1e-9);
    for u in [0.5, 1.0] {
        assert_eq!(num(&at(&p["survival"], "u", u)["value"]), 0.0);
    }
    for d in [0.0, 0.5] {
        assert_eq!(num(&at(&p["h"], "delta", d)["value"]), 0.0);
    }
    // Five values of M by default; exact values carry no standard error.
    assert_eq!(p["zeta"].as_array().unwrap().len(), 5);
    assert!(p["survival"][0].get("se").is_none());
}

#[test]
fn two_point_survival_matches_eq_5_1_and_expressions_are_numbers() {
    let j = json(&[
        "--measure",
        TWO_POINT,
        "--r",
        "1.5",
        "--r",
        "3",
        "--u",
        "0.25",
        "--u",
        "1",
        "--u",
        "2",
    ]);
    for (k, r) in [1.5, 3.0].into_iter().enumerate() {
        let p = &j["results"][k];
        assert!((num(&p["sup_l"]) - r * r).abs() < 1e-8 * r * r);
        for u in [0.25, 1.0, 2.0] {
            let got = num(&at(&p["survival"], "u", u)["value"]);
            let want = two_point_survival(r, u);
            assert!((got - want).abs() < 1e-8, "r={r} u={u}: {got} vs {want}");
        }
    }
    // r = 1/√2 given as an expression: sup L = 1/2 exactly, δ* = 1/2.
    let j = json(&["--measure", TWO_POINT, "--r", "1/sqrt(2)"]);
    let p = &j["results"][0];
    assert!((num(&p["sup_l"]) - 0.5).abs() < 1e-9);
    assert!((num(&p["delta_star"]) - 0.5).abs() < 1e-9);
}

#[test]
fn normal_closed_forms() {
    // N(0, 2): L_r ≡ 2r²/(2r² + 1), δ* = 1/(2r² + 1), m* = 0, and
    // ζ*_∞(t) = 1/(1 + e^{-2t}(σ² - 1)) = 1/(1 + e^{-2t}).
    let rs = [0.1, 0.5, 1.0, 4.0];
    let mut args = vec![
        "--measure",
        "{normal: {mean: 0, var: 2}}",
        "--m",
        "inf",
        "--m",
        "1",
    ];
    let texts: Vec<String> = rs.iter().map(|r| r.to_string()).collect();
    for t in &texts {
        args.extend(["--r", t.as_str()]);
    }
    let j = json(&args);
    for (k, r) in rs.into_iter().enumerate() {
        let p = &j["results"][k];
        let t = num(&p["t"]);
        assert!((num(&p["sup_l"]) - 2.0 * r * r / (2.0 * r * r + 1.0)).abs() < 1e-12);
        assert!((num(&p["delta_star"]) - 1.0 / (2.0 * r * r + 1.0)).abs() < 1e-12);
        assert_eq!(num(&p["m_star"]), 0.0);
        let inf = p["zeta"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["m"] == "inf")
            .expect("M = inf is written as the string \"inf\"");
        let want = 1.0 / (1.0 + (-2.0 * t).exp());
        assert!((num(&inf["value"]) - want).abs() < 1e-10 * want, "r={r}");
    }
}

#[test]
fn monte_carlo_agrees_with_exact_and_is_reproducible() {
    let args = [
        "--measure",
        TWO_POINT,
        "--r",
        "1.5",
        "--method",
        "mc",
        "--samples",
        "40000",
        "--seed",
        "7",
        "--delta",
        "0",
        "--delta",
        "0.5",
    ];
    let j = json(&args);
    assert_eq!(j["method"], "mc");
    assert_eq!(num(&j["samples"]), 40000.0);
    let p = &j["results"][0];
    for u in [0.5, 1.0] {
        let e = at(&p["survival"], "u", u);
        let (v, se) = (num(&e["value"]), num(&e["se"]));
        let want = two_point_survival(1.5, u);
        // Four standard errors (a false alarm has probability ~6e-5).
        assert!(
            se > 0.0 && (v - want).abs() < 4.0 * se,
            "u={u}: {v} ± {se} vs {want}"
        );
    }
    let exact = json(&["--measure", TWO_POINT, "--r", "1.5"]);
    for d in [0.0, 0.5] {
        let e = at(&p["h"], "delta", d);
        let want = num(&at(&exact["results"][0]["h"], "delta", d)["value"]);
        let (v, se) = (num(&e["value"]), num(&e["se"]));
        assert!(
            (v - want).abs() < 4.0 * se,
            "delta={d}: {v} ± {se} vs {want}"
        );
    }
    assert!(num(&p["dkw"]) > 0.0);
    // Same seed, same numbers; another seed, other numbers.
    assert_eq!(j, json(&args));
    let mut other = args.to_vec();
    other[9] = "8";
    assert_ne!(j, json(&other));
}

#[test]
fn text_output_has_one_table_per_quantity() {
    let out = run(&["--measure", TWO_POINT, "--r", "1.5"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "(in R^1)",
        "method: exact (adaptive quadrature, ~1e-9)",
        "delta_star",
        "survival s_r(u)",
        "u = 0.5",
        "integrated tail h(δ, r)",
        "δ = 0.5",
        "ζ*_M(t)",
        "M = 5",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn bad_input_exits_with_code_2_and_says_why() {
    let above = (diffrepro::experiment::MAX_SAMPLES + 1).to_string();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--measure", "{normal: {mean: 0, var: 2}", "--r", "1"],
            "--measure",
        ),
        (
            &["--measure", "{normall: {mean: 0, var: 2}}", "--r", "1"],
            "normal",
        ),
        (
            &["--measure", "{normal: {mean: 0, var: -2}}", "--r", "1"],
            "measure.normal.var",
        ),
        (
            &[
                "--measure",
                "{mixture: [{weight: 0.5, mean: 0, var: 0}, {weight: 0.2, mean: 1, var: 0}]}",
                "--r",
                "1",
            ],
            "sum to 0.7",
        ),
        (
            &["--measure", TWO_POINT, "--r", "0"],
            "--r must be positive",
        ),
        (
            &["--measure", TWO_POINT, "--r", "-1"],
            "--r must be positive",
        ),
        (&["--measure", TWO_POINT, "--r", "sqr(2)"], "--r"),
        (
            &["--measure", TWO_POINT, "--r", "1", "--delta", "1.5"],
            "--delta must be in [0, 1]",
        ),
        (
            &["--measure", TWO_POINT, "--r", "1", "--delta", "-0.1"],
            "--delta must be in [0, 1]",
        ),
        (
            &["--measure", TWO_POINT, "--r", "1", "--m", "0"],
            "--m must be positive",
        ),
        (
            &[
                "--measure",
                TWO_POINT,
                "--r",
                "1",
                "--method",
                "mc",
                "--samples",
                "0",
            ],
            "--samples must be between",
        ),
        (
            &[
                "--measure",
                TWO_POINT,
                "--r",
                "1",
                "--method",
                "mc",
                "--samples",
                &above,
            ],
            "--samples must be between",
        ),
        (
            &["--measure", TWO_POINT, "--r", "1", "--samples", "100"],
            "--samples needs --method mc",
        ),
        (
            &["--measure", TWO_POINT, "--r", "1", "--method", "nope"],
            "nope",
        ),
    ];
    for (args, needle) in cases {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?} printed a result");
        let err = stderr(&out);
        assert!(err.contains(needle), "{args:?}: {needle:?} not in\n{err}");
    }
}
