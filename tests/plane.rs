//! Integration tests of measures in R^d through the real binary: `diffrepro complexity`
//! on a 2-D product law (exact, against eq. 5.1 per coordinate), in d = 3 by Monte
//! Carlo (against the product formula within 4 standard errors), and its refusals of
//! bad d-dimensional input (exit code 2, a message naming the field).

mod common;

use common::complexity::{json, num, run};
use diffrepro::measure::special::norm_cdf;

/// Eq. 5.1: s_r(u) for ½δ₋₁ + ½δ₊₁, u < r².
fn two_point_survival(r: f64, u: f64) -> f64 {
    if u >= r * r {
        return 0.0;
    }
    let q = (r * r - u).sqrt();
    let c = ((r + q) / (r - q)).ln() / (2.0 * r);
    norm_cdf(c - r) + norm_cdf(c + r) - 1.0
}

/// The four corners (±1, ±1), each with weight ¼: the product of two two-point laws.
const CORNERS: &str = "mixture: [{weight: 0.25, mean: [1, 1], var: 0}, {weight: 0.25, mean: [-1, -1], var: 0}, {weight: 0.25, mean: [1, -1], var: 0}, {weight: 0.25, mean: [-1, 1], var: 0}]";

#[test]
fn exact_in_the_plane_matches_the_product_formula() {
    let r = 1.5;
    let j = json(&[
        "--measure",
        CORNERS,
        "--r",
        "1.5",
        "--u",
        "0.5",
        "--u",
        "1",
        "--delta",
        "0",
        "--m",
        "1",
        "--method",
        "exact",
    ]);
    assert_eq!(j["dimension"], 2);
    assert_eq!(
        j["quadrature"],
        "nested adaptive quadrature in the plane, ~1e-8"
    );
    let p = &j["results"][0];
    // sup L_r = (rμ)² in each coordinate.
    assert!((num(&p["sup_l"]) - r * r).abs() < 1e-8);
    for (k, u) in [0.5, 1.0].into_iter().enumerate() {
        let s1 = two_point_survival(r, u);
        let want = 1.0 - (1.0 - s1) * (1.0 - s1);
        let got = num(&p["survival"][k]["value"]);
        assert!((got - want).abs() < 1e-6, "u={u}: {got} vs {want}");
        assert!(p["survival"][k].get("se").is_none());
    }
    // The same JSON shape as on the line.
    for key in [
        "r",
        "t",
        "sup_l",
        "m_star",
        "delta_star",
        "survival",
        "h",
        "zeta",
    ] {
        assert!(p.get(key).is_some(), "missing {key}");
    }
}

#[test]
fn monte_carlo_in_three_dimensions_is_within_four_standard_errors() {
    let r = 1.2;
    let measure = "{product: [{mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}, {mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}, {mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}]}";
    let args = [
        "--measure",
        measure,
        "--r",
        "1.2",
        "--u",
        "0.8",
        "--u",
        "1",
        "--method",
        "mc",
        "--samples",
        "40000",
        "--seed",
        "3",
    ];
    let j = json(&args);
    assert_eq!(j["dimension"], 3);
    assert!(j.get("quadrature").is_none());
    let p = &j["results"][0];
    for (k, u) in [0.8, 1.0].into_iter().enumerate() {
        let s1 = two_point_survival(r, u);
        let want = 1.0 - (1.0 - s1).powi(3);
        let e = &p["survival"][k];
        let (v, se) = (num(&e["value"]), num(&e["se"]));
        assert!((v - want).abs() < 4.0 * se, "u={u}: {v} ± {se} vs {want}");
    }
    // Reproducible.
    assert_eq!(j, json(&args));
}

#[test]
fn bad_d_dimensional_measures_exit_with_code_2_and_say_why() {
    let seventeen = format!("{{point: [{}]}}", vec!["0"; 17].join(", "));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["{normal: {mean: [0, 0], cov: [[1, 2], [0.5, 1]]}}".into()],
            "not symmetric",
        ),
        (
            vec!["{normal: {mean: [0, 0], cov: [[1, 2], [2, 1]]}}".into()],
            "positive",
        ),
        (
            vec!["{mixture: [{weight: 0.5, mean: [0, 0, 1], var: 1}, {weight: 0.5, mean: [0, 0], var: 1}]}".into()],
            "dimensions disagree",
        ),
        (
            vec!["{normal: {mean: [0, 0], cov: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}}".into()],
            "2×2",
        ),
        (vec![seventeen], "ceiling is d = 16"),
        (
            vec![
                "{mixture: [{weight: 0.5, mean: [0, 0, 1], var: 1}, {weight: 0.5, mean: [0, 0, -1], var: 1}]}".into(),
                "--method".into(),
                "exact".into(),
            ],
            "use --method mc",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec![
            "--measure".to_string(),
            extra[0].clone(),
            "--r".into(),
            "1".into(),
        ];
        args.extend(extra[1..].iter().cloned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&refs);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {needle:?} not in\n{err}");
    }
}
