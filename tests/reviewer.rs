//! Reviewer mode: `check` exit codes and statuses, byte-identical rebuilds whatever
//! the thread count, the result cache, and fidelity tiers.

mod common;

use std::collections::BTreeMap;

use common::{stderr, stdout, Project};

fn chapter(check_value: &str, discrepancy: Option<&str>) -> String {
    let disc = discrepancy
        .map(|d| format!("discrepancy: \"{d}\"\n"))
        .unwrap_or_default();
    format!(
        "---\nid: rv\ntitle: Reviewer\npaper_refs: [\"Example 2\"]\norder: 1\n---\nThe value is {{{{ value(table=\"rv-summary\", column=\"delta_star\", where=\"r=1\") | fixed(digits=4) }}}}.\n
```experiment
id: rv
kind: complexity
measure: {{mixture: [{{weight: 0.5, mean: -1, var: 0}}, {{weight: 0.5, mean: 1, var: 0}}]}}
r: [0.5, 1, 2]
u: [0.5, 1]
method: both
samples: 20000
seed: 3
quick: {{samples: 500}}
tables: {{summary: rv-summary, survival: rv-survival}}
```

```figure
id: fig-rv
type: line
table: rv-survival
x: u
y: [survival, survival_mc]
series: r
caption: Survival, exact and Monte Carlo.
```

```check
id: rv-delta
claim: δ* at r = 1
basis: closed_form
paper_ref: Example 2
computed: {{table: rv-summary, column: delta_star, where: {{r: 1}}}}
expected: {{value: {check_value}, source: \"a stated value\"}}
tolerance: {{abs: 1e-6}}
{disc}```

```check
id: rv-mc
claim: Monte Carlo survival within 4 standard errors
basis: consistency
paper_ref: Definition 4
computed: {{table: rv-survival, column: survival_mc}}
expected: {{table: rv-survival, column: survival}}
tolerance: {{se: 4, se_column: survival_se}}
```
"
    )
}

fn project(name: &str, value: &str, disc: Option<&str>) -> Project {
    let p = Project::new(name);
    p.write("chapters/rv.md", &chapter(value, disc));
    p
}

fn statuses(json: &str) -> BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn check_exit_codes_and_statuses() {
    // δ*(1) = 1 - (rμ)² = 0 for the two-point mixture at r = 1/μ = 1.
    let pass = project("pass", "0", None);
    let out = pass.run(&["check", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = statuses(&stdout(&out));
    assert_eq!(s["rv-delta"], "reproduced");
    assert_eq!(s["rv-mc"], "reproduced");
    assert_eq!(
        pass.read("output/checks.json"),
        stdout(&out),
        "check writes the JSON it prints"
    );
    let table = pass.run(&["check"]);
    assert!(stdout(&table).contains("reproduced"));
    assert!(stdout(&table).contains("by paper result:"));

    let fail = project("fail", "0.5", None);
    let out = fail.run(&["check", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(statuses(&stdout(&out))["rv-delta"], "failed");

    let disc = project("disc", "0.5", Some("the paper's value is rounded"));
    let out = disc.run(&["check", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a declared discrepancy is not a failure"
    );
    assert_eq!(statuses(&stdout(&out))["rv-delta"], "discrepancy");

    // A declared discrepancy that no longer disagrees is stale: it fails.
    let stale = project("stale", "0", Some("was off once"));
    let out = stale.run(&["check", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let c = &v["checks"][0];
    assert_eq!(c["status"], "failed");
    assert!(c["message"].as_str().unwrap().contains("now agree"));

    let bad = Project::new("bad");
    bad.write(
        "chapters/rv.md",
        &chapter("0", None).replace("kind: complexity", "kind: complexitee"),
    );
    let out = bad.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("chapters/rv.md:"));

    let out = pass.run(&["check", "--chapters", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no chapter has id `nope`"));
}

/// (That a rebuild is byte-identical whatever the thread count is tested once, for
/// every fixture project that builds: `tests/fixtures.rs`.)
#[test]
fn provenance_records_seed_samples_and_dependencies() {
    let p = project("det", "0", None);
    let a = p.run(&["build", "-q", "--jobs", "1", "--out", "a"]);
    assert!(a.status.success(), "{}", stderr(&a));
    let prov: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path("a/provenance.json")).unwrap()).unwrap();
    assert_eq!(prov["experiments"][0]["seed"], 3);
    assert_eq!(prov["experiments"][0]["samples"], 20000);
    assert!(prov["rustc"].as_str().unwrap().starts_with("rustc"));
    assert!(prov["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name"] == "polars"));
}

#[test]
fn cache_hits_after_prose_edits_and_misses_after_spec_edits() {
    let p = project("cache", "0", None);
    let first = p.run(&["build", "--explain"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stderr(&first).contains("ran    rv"), "{}", stderr(&first));
    let csv = p.read("output/data/rv/rv-survival.csv");

    // Prose edit: the experiment is reused, and its tables are identical.
    let text = chapter("0", None).replace("The value is", "Now the value is");
    p.write("chapters/rv.md", &text);
    let second = p.run(&["build", "--explain"]);
    assert!(stderr(&second).contains("cached rv"), "{}", stderr(&second));
    assert_eq!(p.read("output/data/rv/rv-survival.csv"), csv);
    assert!(p.read("output/report.html").contains("Now the value is"));

    // Spec edit: re-run.
    p.write("chapters/rv.md", &text.replace("seed: 3", "seed: 4"));
    let third = p.run(&["build", "--explain"]);
    assert!(stderr(&third).contains("ran    rv"), "{}", stderr(&third));
    assert_ne!(p.read("output/data/rv/rv-survival.csv"), csv);

    // A damaged entry is detected and recomputed, never trusted.
    let cache = p.path("output/.cache");
    // An experiment's entry (the cache also holds derived files, under `files/`).
    let entry = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("manifest.json").exists())
        .expect("an experiment entry");
    let file = entry.join("0.parquet");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();
    let fourth = p.run(&["build", "--explain"]);
    assert!(fourth.status.success());
    assert!(
        stderr(&fourth).contains("is damaged"),
        "{}",
        stderr(&fourth)
    );
    assert_eq!(p.read("output/data/rv/rv-summary.csv").lines().count(), 4);

    // --no-cache ignores it; clean removes everything.
    let fifth = p.run(&["build", "--explain", "--no-cache"]);
    assert!(stderr(&fifth).contains("--no-cache"));
    assert!(p.run(&["clean"]).status.success());
    assert!(!p.path("output").exists());
}

#[test]
fn quick_fidelity_applies_overrides_and_says_so() {
    let p = project("quick", "0", None);
    let out = p.run(&["build", "-q", "--fidelity", "quick"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let prov: serde_json::Value = serde_json::from_str(&p.read("output/provenance.json")).unwrap();
    assert_eq!(prov["fidelity"], "quick");
    assert_eq!(prov["experiments"][0]["samples"], 500);
    assert!(p
        .read("output/report.html")
        .contains("<strong>quick</strong> fidelity"));
    let json: serde_json::Value = serde_json::from_str(&p.read("output/checks.json")).unwrap();
    assert_eq!(json["fidelity"], "quick");
    // The paper tier is a different cache entry and uses the full sample size.
    let out = p.run(&["build", "-q"]);
    assert!(out.status.success());
    let prov: serde_json::Value = serde_json::from_str(&p.read("output/provenance.json")).unwrap();
    assert_eq!(prov["experiments"][0]["samples"], 20000);
    // Overrides may not change what an experiment is.
    let bad = Project::new("quick-bad");
    bad.write(
        "chapters/rv.md",
        &chapter("0", None).replace("quick: {samples: 500}", "quick: {kind: density}"),
    );
    let out = bad.run(&["build", "-q", "--fidelity", "quick"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`quick` cannot change `kind`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_printed_formula_is_evaluated_at_the_same_draws_as_the_localization() {
    // Example 5 (½δ₀ + ½N(0, 1)) at r = 1: eq. (5.3) as printed puts every draw above
    // u = 0.3, while L_r does so for about 40% of them (the exact s_1(0.3) is 0.398).
    // Both experiments share a seed, so they read the same draws of Y_r.
    let p = Project::new("printed");
    let block = |id: &str, formula: &str| {
        format!(
            "```experiment\nid: {id}\nkind: complexity\nmeasure: {{mixture: [{{weight: 0.5, mean: 0, var: 0}}, {{weight: 0.5, mean: 0, var: 1}}]}}\nr: [1]\nu: [0.3]\nmethod: monte_carlo\nformula: {formula}\nsamples: 20000\nseed: 5\ntables: {{summary: {id}-summary, survival: {id}-survival}}\n```\n"
        )
    };
    p.write(
        "chapters/pf.md",
        &format!(
            "---\nid: pf\ntitle: Printed\npaper_refs: [\"Example 5\"]\norder: 1\n---\nText.\n\n{}\n{}",
            block("loc", "localization"),
            block("printed", "as_printed")
        ),
    );
    let out = p.run(&["build", "-q", "--format", "html"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let survival = |id: &str| -> f64 {
        let csv = p.read(&format!("output/data/pf/{id}-survival.csv"));
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let col = header.iter().position(|&h| h == "survival_mc").unwrap();
        csv.lines()
            .nth(1)
            .unwrap()
            .split(',')
            .nth(col)
            .unwrap()
            .parse()
            .unwrap()
    };
    let (loc, printed) = (survival("loc"), survival("printed"));
    // Binomial standard error at n = 20000: 0.0035; allow 5 of them.
    assert!((loc - 0.398).abs() < 0.018, "L_r: {loc}");
    assert_eq!(printed, 1.0, "eq. (5.3) as printed");
    let prov: serde_json::Value = serde_json::from_str(&p.read("output/provenance.json")).unwrap();
    let methods: Vec<&str> = prov["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["method"].as_str().unwrap())
        .collect();
    assert!(
        methods.contains(&"Monte Carlo of eq. (5.3) as printed"),
        "{methods:?}"
    );
}
