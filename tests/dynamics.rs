//! Integration tests for the dynamics kinds (`gaussian_steps`, `particles`,
//! `transport_map`, `curvature`) and the `ridge` figure: run the real binary on small
//! chapters in temporary folders and compare the tables it writes with closed forms
//! written out here, independently of the library.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{stderr, Csv};

/// A temporary project folder, removed when dropped.
struct Project {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Project {
    fn new(name: &str) -> Project {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("diffrepro-dyn-{name}-"))
            .tempdir()
            .expect("a temporary folder");
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("chapters")).unwrap();
        Project { dir, _tmp: tmp }
    }

    fn chapter(&self, body: &str) -> &Self {
        let text = format!(
            "---\nid: dyn\ntitle: Dynamics\npaper_refs: [\"Theorem 1\"]\norder: 1\n---\nProse.\n\n{body}"
        );
        std::fs::write(self.dir.join("chapters/dyn.md"), text).unwrap();
        self
    }

    fn build(&self) -> Output {
        Command::new(env!("CARGO_BIN_EXE_diffrepro"))
            .args(["build", "--quiet"])
            .current_dir(&self.dir)
            .output()
            .expect("the binary runs")
    }

    fn built(&self) {
        let out = self.build();
        assert!(out.status.success(), "{}", stderr(&out));
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn table(&self, name: &str) -> Csv {
        Csv::parse(&self.read(&format!("output/data/dyn/{name}.csv")))
    }
}

/// The introduction's backward slope, 1 + η(s² - 1)/(e^{2kη} + s² - 1).
fn intro_slope(s2: f64, k: f64, eta: f64) -> f64 {
    1.0 + eta * (s2 - 1.0) / ((2.0 * k * eta).exp() + s2 - 1.0)
}

#[test]
fn gaussian_steps_reproduce_corollary_1_and_the_fast_contraction_horizon() {
    let p = Project::new("gs");
    p.chapter(
        "```experiment
id: gs
kind: gaussian_steps
mean: 1
s2: [0.1, 0.6, 2]
eta: 0.01
steps: 60
tables: {backward: gs-b, regimes: gs-r, forward: gs-f}
```

```check
id: gs-cor1
claim: the backward ratio is the slope
basis: consistency
paper_ref: Corollary 1
computed: {table: gs-b, column: ratio}
expected: {table: gs-b, column: closed_form}
tolerance: {abs: 1e-12}
```
",
    )
    .built();
    let b = p.table("gs-b");
    assert_eq!(b.len(), 3 * 60);
    for i in 0..b.len() {
        let (s2, k) = (b.num(i, "s2"), b.num(i, "k"));
        let want = intro_slope(s2, k, 0.01);
        assert!((b.num(i, "ratio") - want).abs() < 1e-12, "s²={s2} k={k}");
        // Cor. 1: 1 + η(1 - 1/v_t), v_t = e^{-2t}s² + 1 - e^{-2t}.
        let t = k * 0.01;
        let v = (-2.0 * t).exp() * s2 + 1.0 - (-2.0 * t).exp();
        assert!((b.num(i, "bound") - (1.0 + 0.01 * (1.0 - 1.0 / v))).abs() < 1e-12);
    }
    // The last k with a step faster than 1 - η is the last integer below
    // ln(2(1 - s²))/(2η) = 29.39 for s² = 0.1; none for s² ≥ 1/2; s² = 2 expands.
    let r = p.table("gs-r");
    assert_eq!(r.num(0, "last_fast_k"), 29.0);
    assert_eq!(r.num(1, "last_fast_k"), 0.0);
    assert!(r.num(2, "min_ratio") > 1.0);
    // Forward: never above e^{-η} (Thm. 1).
    let f = p.table("gs-f");
    for i in 0..f.len() {
        assert!(f.num(i, "ratio") <= (-0.01f64).exp() + 1e-15);
    }
    assert!(p.read("output/report.html").contains("reproduced"));
}

#[test]
fn gaussian_steps_defect_is_second_order_and_shift_chain_is_sharp() {
    let p = Project::new("gs2");
    p.chapter(
        "```experiment
id: gd
kind: gaussian_steps
s2: [1]
nu0: {shift: -1}
eta_grid: [0.001, 0.002, 0.004, 0.005]
times: [0.5]
horizon: 1
tables: {defect: gd-d, defect_fit: gd-df, chained: gd-c, chained_fit: gd-cf}
```
",
    )
    .built();
    let d = p.table("gd-d");
    // Halving η divides the defect by 4 (to the O(η³) term).
    let ratio = d.num(0, "defect") / d.num(1, "defect");
    assert!((ratio - 0.25).abs() < 0.01, "{ratio}");
    let df = p.table("gd-df");
    assert!((df.num(0, "defect_slope") - 2.0).abs() < 0.02);
    let cf = p.table("gd-cf");
    assert!((cf.num(0, "gap_slope") - 1.0).abs() < 0.05);
    let c = p.table("gd-c");
    assert_eq!(c.num(0, "steps"), 1000.0);
}

#[test]
fn particles_backward_ratio_is_the_slope_and_the_ridge_figure_is_drawn() {
    let p = Project::new("part");
    p.chapter(
        "```experiment
id: pa
kind: particles
measure: {normal: {mean: 1, var: 0.1}}
n: 3000
eta: 0.02
steps: 40
seed: 3
snapshots: [0.02, 0.4, 0.8]
bins: 30
tables: {snapshots: pa-s, distances: pa-d, steps: pa-st, summary: pa-sum}
```

```figure
id: fig-ridge
type: ridge
table: pa-s
x: slot
y: density
bins: [lower, upper]
series: measure
facet: phase
ridge_label: t
series_digits: 2
caption: Ridges.
```
",
    )
    .built();
    // Each backward step from t_k moves both clouds by one increasing affine map, so
    // W scales by its slope 1 + η(s² - 1)/(e^{2kη} + s² - 1), whatever the clouds.
    let st = p.table("pa-st");
    let mut seen = 0;
    for i in 0..st.len() {
        if st.text(i, "phase") == "backward" {
            let k = (st.num(i, "t_from") / 0.02).round();
            let want = intro_slope(0.1, k, 0.02);
            assert!((st.num(i, "ratio") - want).abs() < 1e-10, "k={k}");
            seen += 1;
        }
    }
    assert_eq!(seen, 40);
    // W(μ_0, δ_0)² = E X² = 1 + 0.1 exactly; the particles within 5 standard errors.
    let s = p.table("pa-sum");
    assert!((s.num(0, "w2_initial_exact") - 1.1f64.sqrt()).abs() < 1e-12);
    let z = (s.num(0, "w2_initial") - s.num(0, "w2_initial_exact")) / s.num(0, "w2_initial_se");
    assert!(z.abs() < 5.0, "z = {z}");
    assert!(s.num(0, "w2_denoised") < s.num(0, "w2_initial"));
    // Snapshots: both phases, both clouds, three times, 30 bins; each histogram has
    // unit mass inside the pooled range up to the few particles outside it.
    let h = p.table("pa-s");
    assert_eq!(h.len(), 2 * 3 * 2 * 30);
    let mass: f64 = (0..30)
        .map(|i| h.num(i, "density") * (h.num(i, "upper") - h.num(i, "lower")))
        .sum();
    assert!(mass > 0.99 && mass <= 1.0 + 1e-12, "{mass}");
    let svg = p.read("output/figures/dyn/fig-ridge.svg");
    assert!(
        svg.contains("<svg")
            && (svg.contains("aria-label=\"$t = 0.40$\"") || svg.contains("aria-label=\"$0.40$\"")),
        "ridge labels drawn"
    );
    assert!(p.dir.join("output/figures/dyn/fig-ridge.png").exists());
}

#[test]
fn transport_map_of_a_gaussian_is_the_affine_optimal_map() {
    // μ_0 = N(1, 0.5): μ_s = N(e^{-s}, v_s) with v_s = 0.5e^{-2s} + 1 - e^{-2s}, and the
    // optimal map from μ_{t+η} to μ_t is x ↦ m_t + √(v_t/v_{t+η}) (x - m_{t+η}).
    let p = Project::new("tm");
    p.chapter(
        "```experiment
id: tm
kind: transport_map
measure: {normal: {mean: 1, var: 0.5}}
t: [0.3]
eta: [0.002, 0.004, 0.008]
u: [0.05, 0.5, 0.9]
tables: {map: tm-map, fit: tm-fit}
```
",
    )
    .built();
    let law = |s: f64| ((-s).exp(), 0.5 * (-2.0 * s).exp() + 1.0 - (-2.0 * s).exp());
    let m = p.table("tm-map");
    assert_eq!(m.len(), 9);
    for i in 0..m.len() {
        let (t, eta, x) = (m.num(i, "t"), m.num(i, "eta"), m.num(i, "x"));
        let (m0, v0) = law(t);
        let (m1, v1) = law(t + eta);
        let want = m0 + (v0 / v1).sqrt() * (x - m1);
        assert!((m.num(i, "ot_map") - want).abs() < 1e-12, "row {i}");
        // Tweedie: the score of N(m1, v1) is -(x - m1)/v1.
        assert!((m.num(i, "score") + (x - m1) / v1).abs() < 1e-10, "row {i}");
    }
    let f = p.table("tm-fit");
    assert!(
        (f.num(0, "slope") - 2.0).abs() < 0.05,
        "{}",
        f.num(0, "slope")
    );
}

#[test]
fn curvature_matches_the_two_point_closed_form_and_proposition_4() {
    let p = Project::new("cv");
    p.chapter(
        "```experiment
id: cv
kind: curvature
measure: {mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}
r: [1.5]
y: {from: -4, to: 4, n: 17}
tables: {pointwise: cv-p, average: cv-a}
```
",
    )
    .built();
    let c = p.table("cv-p");
    for i in 0..c.len() {
        // L_r(y) = (rμ)² sech²(rμy), μ = 1.
        let y = c.num(i, "y");
        let want = 2.25 / (1.5 * y).cosh().powi(2);
        assert!((c.num(i, "localization") - want).abs() < 1e-12, "y={y}");
        assert!((c.num(i, "curvature_fd") - want).abs() < 1e-6, "y={y}");
        // Tweedie: (log p)'(y) = E[rX | y] - y = rμ tanh(rμy) - y.
        let score = 1.5 * (1.5 * y).tanh() - y;
        assert!((c.num(i, "score") - score).abs() < 1e-12);
        assert!((c.num(i, "score_fd") - score).abs() < 1e-7);
    }
    let a = p.table("cv-a");
    assert!(a.num(0, "sum").abs() < 1e-8);
    assert!(a.num(0, "mean_localization") < 1.0);
}

#[test]
fn bad_dynamics_specs_name_the_line_and_field() {
    // (block, the line the error must point at, if the field is written, and the message)
    let cases: [(&str, Option<&str>, &str); 4] = [
        (
            "```experiment\nid: x\nkind: particles\nmeasure: {point: 1}\nn: 10\neta: 0.1\nsteps: 5\nforward: sideways\ntables: {summary: x-s}\n```\n",
            Some("forward: sideways"),
            "unknown forward mode `sideways`",
        ),
        (
            "```experiment\nid: x\nkind: particles\nmeasure: {point: 1}\nn: 10\neta: 0.1\nsteps: 5\nsnapshots: [0.2, 0.9]\ntables: {snapshots: x-s}\n```\n",
            Some("snapshots:"),
            "beyond the final time",
        ),
        (
            "```experiment\nid: x\nkind: gaussian_steps\ns2: [1]\ntables: {defect: x-d}\n```\n",
            None,
            "need a grid of steps",
        ),
        (
            "```experiment\nid: x\nkind: transport_map\nmeasure: {uniform: {low: 0, high: 1}}\nt: [1]\neta: [0.1]\nu: [0.5]\ntables: {map: x-m}\n```\n",
            Some("measure:"),
            "uniform",
        ),
    ];
    for (i, (body, marker, needle)) in cases.iter().enumerate() {
        let p = Project::new(&format!("bad{i}"));
        p.chapter(body);
        let out = p.build();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "case {i}: {err}");
        assert!(err.contains(needle), "case {i}: `{needle}` not in {err}");
        let at = match marker {
            Some(m) => {
                let text = p.read("chapters/dyn.md");
                let line = text.lines().position(|l| l.contains(m)).unwrap() + 1;
                format!("chapters/dyn.md:{line}")
            }
            // A missing field is reported at the block.
            None => "chapters/dyn.md:".to_string(),
        };
        assert!(err.contains(&at), "case {i}: `{at}` not in {err}");
    }
}

#[test]
fn ridge_figure_needs_bins_and_at_most_two_series() {
    let p = Project::new("ridge-bad");
    p.chapter(
        "```experiment
id: pr
kind: particles
measure: {point: 1}
n: 100
eta: 0.1
steps: 2
snapshots: [0.1]
bins: 5
tables: {snapshots: pr-s}
```

```figure
id: fig-r
type: ridge
table: pr-s
x: slot
y: density
caption: Ridges.
```
",
    );
    let out = p.build();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("needs the columns of the bin edges"),
        "{}",
        stderr(&out)
    );
}
