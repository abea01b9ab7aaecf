//! Integration tests of the `plane_particles` kind through the real binary: a small
//! chapter in a temporary folder, its tables compared with closed forms written out
//! here (the Bures W₂ between diagonal Gaussians, the exact W₂ to a point mass), the
//! orderings sliced ≤ exact and Bures ≤ exact, and the same bytes on 1 and 2 threads.

mod common;

use common::{stderr, Csv, Project};

const CHAPTER_HEAD: &str =
    "---\nid: pp\ntitle: Particles in the plane\npaper_refs: [\"Theorem 1\"]\norder: 1\n---\nProse.\n\n";

/// μ_0 = N((1, 0), diag(1, 0.25)) and ν_0 = N((0, 0), diag(0.25, 1)); a two-cluster
/// law against δ_0.
const BODY: &str = r#"```experiment
id: gauss
kind: plane_particles
measure: {normal: {mean: [1, 0], cov: [[1, 0], [0, 0.25]]}}
reference: {normal: {mean: [0, 0], cov: [[0.25, 0], [0, 1]]}}
n: 80
eta: 0.1
steps: 10
every: 5
w2: [exact, sliced, bures]
replicates: 1
seed: 3
tables: {distances: g-w2, summary: g-sum}
```

```experiment
id: pair
kind: plane_particles
measure: {mixture: [{weight: 0.5, mean: [1, 1], var: 0.05}, {weight: 0.5, mean: [-1, 0], var: 0.05}]}
n: 60
eta: 0.1
steps: 6
every: 3
w2: [exact, sliced, bures]
snapshots: [0, 0.3]
seed: 4
tables: {snapshots: p-snap, distances: p-w2, summary: p-sum}
```
"#;

fn project() -> Project {
    let p = Project::new("plane-particles");
    p.write("chapters/pp.md", &format!("{CHAPTER_HEAD}{BODY}"));
    p
}

fn table(p: &Project, out: &str, name: &str) -> Csv {
    Csv::parse(&p.read(&format!("{out}/data/pp/{name}.csv")))
}

/// W₂ between N(e^{-t}m, e^{-2t}diag(a) + σ²I) and N(0, e^{-2t}diag(b) + σ²I).
fn diagonal_bures(t: f64) -> f64 {
    let (e, s2) = ((-t).exp(), 1.0 - (-2.0 * t).exp());
    let (a, b) = ([1.0, 0.25], [0.25, 1.0]);
    let mean = e * e * 1.0;
    let cov: f64 = (0..2)
        .map(|k| ((e * e * a[k] + s2).sqrt() - (e * e * b[k] + s2).sqrt()).powi(2))
        .sum();
    (mean + cov).sqrt()
}

#[test]
fn plane_particles_tables_match_closed_forms() {
    let p = project();
    let out = p.run(&["build", "--quiet", "--format", "html"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // The Gaussian pair: the exact laws' W₂ is the diagonal Bures formula forward.
    let g = table(&p, "output", "g-w2");
    let mut forward = 0;
    for i in 0..g.rows.len() {
        if g.text(i, "phase") == "forward" {
            let want = diagonal_bures(g.num(i, "t"));
            assert!((g.num(i, "w2_true") - want).abs() < 1e-12, "row {i}");
            let c = (-g.num(i, "t")).exp() * diagonal_bures(0.0);
            assert!(want <= c + 1e-12, "the exact laws contract");
            forward += 1;
        } else {
            assert!(g.num(i, "contraction").is_nan());
        }
        assert!(g.num(i, "w2_se") >= 0.0, "two runs give a spread");
    }
    assert_eq!(forward, 3 * 3, "steps 0, 5, 10 × three methods");
    let s = table(&p, "output", "g-sum");
    assert!((s.num(0, "w2_initial_true") - 1.5f64.sqrt()).abs() < 1e-12);

    // Sliced ≤ exact and Bures ≤ exact at every recorded step (rows come in method
    // order exact, sliced, bures).
    for t in [&g, &table(&p, "output", "p-w2")] {
        for i in (0..t.rows.len()).step_by(3) {
            assert_eq!(t.text(i, "method"), "exact");
            let exact = t.num(i, "w2");
            assert!(t.num(i + 1, "w2") <= exact + 1e-12);
            assert!(t.num(i + 2, "w2") <= exact + 1e-12);
        }
    }

    // Against δ_0 every coupling costs the same: exact W₂ at t = 0 is the root mean
    // square norm of the μ-cloud, read off the snapshot.
    let snap = table(&p, "output", "p-snap");
    let (mut ss, mut n) = (0.0, 0);
    for i in 0..snap.rows.len() {
        if snap.text(i, "phase") == "forward"
            && snap.num(i, "t") == 0.0
            && snap.text(i, "measure") == "μ"
        {
            ss += snap.num(i, "x1").powi(2) + snap.num(i, "x2").powi(2);
            n += 1;
        } else if snap.text(i, "measure") == "ν"
            && snap.num(i, "t") == 0.0
            && snap.text(i, "phase") == "forward"
        {
            assert_eq!((snap.num(i, "x1"), snap.num(i, "x2")), (0.0, 0.0));
        }
    }
    assert_eq!(n, 60);
    let pw = table(&p, "output", "p-w2");
    assert_eq!(pw.text(0, "method"), "exact");
    assert!((pw.num(0, "w2") - (ss / n as f64).sqrt()).abs() < 1e-9);
    assert!(pw.num(0, "w2_true").is_nan(), "no exact law for a mixture");
}

#[test]
fn plane_particles_do_not_depend_on_the_thread_count() {
    let p = project();
    for (jobs, out) in [("1", "out1"), ("2", "out2")] {
        let o = p.run(&[
            "build", "--quiet", "--format", "html", "--jobs", jobs, "--out", out,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for name in ["g-w2", "g-sum", "p-snap", "p-w2", "p-sum"] {
        let rel = |out: &str| format!("{out}/data/pp/{name}.csv");
        assert_eq!(p.read(&rel("out1")), p.read(&rel("out2")), "{name}");
    }
}
