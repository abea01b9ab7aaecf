//! Hostile input: a corpus of malformed chapters, data files and project layouts.
//! Each must stop the build with exit code 2, a message naming the right file and
//! line, and the previous report left exactly as it was.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{stderr, Project};

const BASE: &str = r#"---
id: h
title: Hostile input
paper_refs: ["Example 2"]
order: 1
---
Intro: m* is {{ value(table="h-summary", column="m_star", where="r=0.5") | fixed(digits=2) }}.

```experiment
id: h
kind: complexity
measure: {normal: {mean: 0, var: 1}}
r: [0.5, 1]
u: [0.5]
delta: [0, 0.5]
tables: {summary: h-summary, survival: h-survival, tail: h-tail}
```

```figure
id: fig-h
type: line
table: h-survival
x: r
y: survival
caption: Survival.
```

```check
id: check-h
claim: m* vanishes for a normal
basis: closed_form
paper_ref: Example 2
computed: {table: h-summary, column: m_star}
expected: {closed_form: m_star}
tolerance: {abs: 1e-8}
```
"#;

/// One malformed input.
struct Case {
    name: &'static str,
    /// The chapter text (BASE with a change).
    chapter: String,
    /// Extra files (path, bytes).
    files: Vec<(&'static str, Vec<u8>)>,
    /// The file the message must name.
    file: &'static str,
    /// Text of the line the message must point at (None: the file as a whole).
    marker: Option<&'static str>,
    /// Text the message must contain.
    needle: &'static str,
}

fn edit(
    name: &'static str,
    from: &str,
    to: &str,
    marker: Option<&'static str>,
    needle: &'static str,
) -> Case {
    assert!(BASE.contains(from), "{name}: `{from}` not in BASE");
    Case {
        name,
        chapter: BASE.replacen(from, to, 1),
        files: vec![],
        file: "chapters/h.md",
        marker,
        needle,
    }
}

fn append(
    name: &'static str,
    block: &str,
    marker: Option<&'static str>,
    needle: &'static str,
) -> Case {
    Case {
        name,
        chapter: format!("{BASE}\n{block}\n"),
        files: vec![],
        file: "chapters/h.md",
        marker,
        needle,
    }
}

fn with_data(mut c: Case, path: &'static str, bytes: &[u8]) -> Case {
    c.files.push((path, bytes.to_vec()));
    c
}

const MEASURE: &str = "measure: {normal: {mean: 0, var: 1}}";

fn cases() -> Vec<Case> {
    let empirical =
        |p: &str, col: &str| format!("measure: {{empirical: {{path: {p}, column: {col}}}}}");
    vec![
        // Front matter.
        edit("no-front-matter", "---\nid: h\n", "id: h\n", Some("id: h"), "no front matter"),
        edit("unclosed-front-matter", "order: 1\n---\n", "order: 1\n", Some("---"), "not closed"),
        edit("front-unknown-field", "title: Hostile input", "titel: Hostile input", Some("titel:"), "did you mean `title`?"),
        edit("front-bad-id", "id: h\ntitle", "id: H h\ntitle", Some("id: H h"), "not a valid id"),
        edit("front-empty-title", "title: Hostile input", "title: \"  \"", Some("title:"), "title is empty"),
        edit("front-wrong-type", "order: 1", "order: soon", Some("order: soon"), "invalid type"),
        edit("front-unterminated", "title: Hostile input", "title: \"Hostile input", Some("title: \"Hostile"), "is a closing quote missing?"),
        // Experiment blocks.
        edit("exp-unterminated-string", "kind: complexity", "kind: \"complexity", Some("kind: \"complexity"), "bad experiment block"),
        edit("exp-unknown-kind", "kind: complexity", "kind: complexitee", Some("kind: complexitee"), "did you mean `complexity`?"),
        edit("exp-no-kind", "kind: complexity\n", "", Some("```experiment"), "has no `kind`"),
        edit("exp-unknown-field", "r: [0.5, 1]", "r: [0.5, 1]\nsed: 3", Some("sed: 3"), "did you mean `seed`?"),
        edit("exp-wrong-type", "r: [0.5, 1]", "r: [0.5, 1]\nseed: lots", Some("seed: lots"), "invalid type"),
        edit("exp-no-tables", "tables: {summary: h-summary, survival: h-survival, tail: h-tail}\n", "", Some("id: h\nkind: complexity"), "missing field `tables`"),
        edit("exp-unknown-role", "summary: h-summary,", "summry: h-summary,", Some("tables:"), "did you mean `summary`?"),
        edit("exp-bad-table-name", "tail: h-tail}", "tail: \"H tail\"}", Some("tables:"), "not a valid table name"),
        edit("exp-no-measure", &format!("{MEASURE}\n"), "", Some("```experiment"), "names no measure"),
        edit("exp-measure-and-measures", MEASURE, &format!("{MEASURE}\nmeasures: [{{label: a, measure: {{point: 0}}}}]"), Some("measures:"), "not both"),
        edit("exp-unknown-measure", "{normal: {mean", "{normall: {mean", Some("measure:"), "did you mean `normal`?"),
        edit("exp-negative-variance", "var: 1}}", "var: -1}}", Some("measure:"), "must be a positive number"),
        edit("exp-nan", "mean: 0, var: 1", "mean: .nan, var: 1", Some("measure:"), "NaN"),
        edit("exp-infinite-mean", "mean: 0, var: 1", "mean: .inf, var: 1", Some("measure:"), "must be a finite number"),
        edit("exp-uniform-reversed", MEASURE, "measure: {uniform: {low: 1, high: -1}}", Some("measure:"), "must be greater than `low`"),
        edit("exp-weight-negative", MEASURE, "measure: {mixture: [{weight: -0.5, mean: 0, var: 1}, {weight: 1.5, mean: 1, var: 1}]}", Some("measure:"), "must be positive"),
        edit("exp-weights-sum", MEASURE, "measure: {mixture: [{weight: 0.5, mean: 0, var: 1}, {weight: 0.6, mean: 1, var: 1}]}", Some("measure:"), "weights sum to"),
        edit("exp-empty-mixture", MEASURE, "measure: {mixture: []}", Some("measure:"), "at least one component"),
        edit("exp-two-measure-kinds", MEASURE, "measure: {point: 0, normal: {mean: 0, var: 1}}", Some("measure:"), "exactly one of"),
        edit("exp-r-negative", "r: [0.5, 1]", "r: [0.5, -1]", Some("r: [0.5, -1]"), "must be positive"),
        edit("exp-r-zero", "r: [0.5, 1]", "r: [0, 1]", Some("r: [0, 1]"), "must be positive"),
        edit("exp-t-negative", "r: [0.5, 1]", "t: {from: -1, to: 1, n: 3}", Some("t: {from"), "must be positive"),
        edit("exp-empty-grid", "r: [0.5, 1]", "r: []", Some("r: []"), "is empty"),
        edit("exp-delta-range", "delta: [0, 0.5]", "delta: [0, 1.5]", Some("delta: [0, 1.5]"), "in [0, 1]"),
        edit("exp-linspace-n0", "r: [0.5, 1]", "r: {from: 0.1, to: 1, n: 0}", Some("r: {from"), "n ≥ 1"),
        edit("exp-grid-ceiling", "r: [0.5, 1]", "r: {from: 0.1, to: 1, n: 100000000}", Some("r: {from"), "ceiling"),
        edit("exp-samples-ceiling", "r: [0.5, 1]", "r: [0.5, 1]\nmethod: monte_carlo\nsamples: 1000000000000", Some("samples:"), "must be between"),
        edit("exp-samples-without-mc", "r: [0.5, 1]", "r: [0.5, 1]\nsamples: 10", Some("samples:"), "needs `method"),
        edit("exp-bad-expression", "r: [0.5, 1]", "r: [0.5, \"sqr(2)\"]", Some("r: [0.5"), "did you mean `sqrt`?"),
        edit("exp-r-and-t", "r: [0.5, 1]", "r: [0.5, 1]\nt: [1]", Some("t: [1]"), "not both"),
        edit("exp-unknown-method", "r: [0.5, 1]", "r: [0.5, 1]\nmethod: magic", Some("method: magic"), "unknown method"),
        edit("exp-unknown-formula", "r: [0.5, 1]", "r: [0.5, 1]\nmethod: monte_carlo\nformula: as_printd", Some("formula: as_printd"), "did you mean `as_printed`?"),
        edit("exp-printed-formula-exact", "r: [0.5, 1]", "r: [0.5, 1]\nformula: as_printed", Some("formula: as_printed"), "add `method: monte_carlo`"),
        edit("exp-printed-formula-uniform", MEASURE, "measure: {uniform: {low: 0, high: 1}}\nmethod: monte_carlo\nformula: as_printed", Some("formula: as_printed"), "is a uniform"),
        edit("exp-deep-nesting", "r: [0.5, 1]", &format!("r: {}1{}", "[".repeat(40), "]".repeat(40)), Some("r: [[[["), "deeper than"),
        edit("exp-repeated-key", "r: [0.5, 1]", "r: [0.5, 1]\nr: [2]", Some("r: [2]"), "appears twice"),
        append("exp-seed-without-randomness", "```experiment\nid: h3\nkind: density\nmeasure: {point: 0}\nr: [1]\ny: [0]\nseed: 3\ntables: {density: h3-density}\n```", Some("seed: 3"), "draws no random numbers"),
        append("duplicate-experiment-id", "```experiment\nid: h\nkind: density\nmeasure: {point: 0}\nr: [1]\ny: [0]\ntables: {density: h-density}\n```", Some("id: h\nkind: density"), "already used"),
        append("duplicate-table-name", "```experiment\nid: h2\nkind: density\nmeasure: {point: 0}\nr: [1]\ny: [0]\ntables: {density: h-tail}\n```", Some("tables: {density: h-tail}"), "already produced"),
        // Figures.
        edit("fig-unknown-type", "type: line", "type: pie", Some("type: pie"), "unknown figure type"),
        edit("fig-missing-table", "table: h-survival\nx: r", "table: h-survivl\nx: r", Some("table: h-survivl"), "did you mean `h-survival`?"),
        edit("fig-missing-column", "y: survival", "y: survivl", Some("y: survivl"), "no column `survivl`"),
        edit("fig-text-column", "x: r", "x: measure", Some("x: measure"), "holds text"),
        edit("fig-bad-range", "y: survival", "y: survival\nx_range: [1, 0]", Some("x_range"), "from low to high"),
        edit("fig-bad-legend", "y: survival", "y: survival\nlegend: middle", Some("legend: middle"), "unknown legend position"),
        // Checks.
        edit("check-missing-column", "column: m_star}", "column: m_str}", Some("column: m_str"), "did you mean `m_star`?"),
        edit("check-paper-key", "basis: closed_form\npaper_ref: Example 2\ncomputed: {table: h-summary, column: m_star}\nexpected: {closed_form: m_star}", "basis: paper_value\npaper_ref: Example 2\ncomputed: {table: h-summary, column: m_star}\nexpected: {paper: nowhere}", Some("expected:"), "no entry `nowhere`"),
        edit("check-unknown-basis", "basis: closed_form", "basis: closedform", Some("basis: closedform"), "did you mean `closed_form`?"),
        edit("check-basis-mismatch", "basis: closed_form", "basis: consistency", Some("basis: consistency"), "does not fit"),
        edit("check-no-basis", "basis: closed_form\n", "", Some("id: check-h"), "missing field `basis`"),
        edit("check-bad-crossing", "column: m_star}", "column: m_star, reduce: {crossing: m_star, level: 0, which: middle}}", Some("computed:"), "unknown crossing"),
        edit("check-closed-form", "closed_form: m_star", "closed_form: m_stir", Some("expected:"), "did you mean `m_star`?"),
        edit("check-tolerance-word", "tolerance: {abs: 1e-8}", "tolerance: loose", Some("tolerance: loose"), "unknown tolerance"),
        edit("check-negative-tolerance", "tolerance: {abs: 1e-8}", "tolerance: {abs: -1}", Some("tolerance:"), "zero or positive"),
        edit("check-empty-discrepancy", "tolerance: {abs: 1e-8}", "tolerance: {abs: 1e-8}\ndiscrepancy: \" \"", Some("discrepancy:"), "needs an explanation"),
        // Prose.
        edit("prose-unknown-table", "table=\"h-summary\"", "table=\"h-sumary\"", Some("Intro:"), "no table named `h-sumary`"),
        edit("prose-unknown-function", "value(table", "valu(table", Some("Intro:"), "valu"),
        edit("prose-unclosed", "| fixed(digits=2) }}", "| fixed(digits=2)", Some("Intro:"), "never closed"),
        edit("prose-bad-math", "Intro:", "Intro $\\frac{1}$:", Some("Intro"), "cannot typeset math"),
        // Data files.
        edit("data-missing", MEASURE, &empirical("data/none.csv", "x"), Some("measure:"), "does not exist"),
        with_data(edit("data-empty", MEASURE, &empirical("data/e.csv", "x"), Some("measure:"), "is empty"), "data/e.csv", b""),
        with_data(edit("data-header-only", MEASURE, &empirical("data/e.csv", "x"), Some("measure:"), "no rows"), "data/e.csv", b"x\n"),
        with_data(edit("data-binary", MEASURE, &empirical("data/b.csv", "x"), Some("measure:"), "not UTF-8"), "data/b.csv", &[0xff, 0xfe, 0x00, 0x81]),
        with_data(edit("data-non-numeric", MEASURE, &empirical("data/n.csv", "x"), Some("measure:"), "line 3"), "data/n.csv", b"x\n1.5\nabc\n"),
        with_data(edit("data-wrong-column", MEASURE, &empirical("data/w.csv", "erupt"), Some("measure:"), "no column `erupt`"), "data/w.csv", b"eruptions,waiting\n3.6,79\n"),
        edit("data-absolute", MEASURE, &empirical("/etc/passwd", "x"), Some("measure:"), "is absolute"),
        edit("data-parent", MEASURE, &empirical("../x.csv", "x"), Some("measure:"), "uses `..`"),
        // The chapter file itself.
        Case {
            name: "chapter-not-utf8",
            chapter: String::new(),
            files: vec![("chapters/h.md", {
                let mut b = b"---\nid: h\ntitle: t\n---\nline\n".to_vec();
                b.extend_from_slice(&[0xc3, 0x28]);
                b
            })],
            file: "chapters/h.md",
            marker: None,
            needle: "not valid UTF-8",
        },
        Case {
            name: "chapter-too-large",
            chapter: format!("{BASE}{}", "x".repeat(5 << 20)),
            files: vec![],
            file: "chapters/h.md",
            marker: None,
            needle: "larger than the limit",
        },
        Case {
            name: "paper-yaml-bad",
            chapter: BASE.to_string(),
            files: vec![("data/paper.yaml", b"k: {value: 1, digits: 2, locaton: x}\n".to_vec())],
            file: "data/paper.yaml",
            marker: Some("k: {value"),
            needle: "unknown field `locaton`",
        },
        Case {
            name: "template-syntax",
            chapter: BASE.to_string(),
            files: vec![("templates/chapter.html", b"{% if %}".to_vec())],
            file: "templates",
            marker: None,
            needle: "template error",
        },
    ]
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

#[test]
fn every_malformed_input_is_located_and_leaves_the_report_alone() {
    let cases = cases();
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());
    let p = Project::new("hostile");
    p.write("chapters/h.md", BASE);
    let good = p.build();
    assert!(
        good.status.success(),
        "the base chapter builds: {}",
        stderr(&good)
    );
    let before = snapshot(&p.path("output"));
    let mut failures = Vec::new();
    for c in &cases {
        // Reset, then apply the case.
        let _ = std::fs::remove_dir_all(p.path("data"));
        let _ = std::fs::remove_dir_all(p.path("templates"));
        if !c.chapter.is_empty() {
            p.write("chapters/h.md", &c.chapter);
        }
        for (path, bytes) in &c.files {
            let full = p.path(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, bytes).unwrap();
        }
        let out = p.build();
        let err = stderr(&out);
        // The line of the marker, in the chapter or else in the extra file holding it.
        let line = c.marker.map(|m| {
            let sources = std::iter::once(c.chapter.clone()).chain(
                c.files
                    .iter()
                    .map(|(_, b)| String::from_utf8_lossy(b).into_owned()),
            );
            sources
                .filter_map(|t| {
                    t.split_once(m)
                        .map(|(before, _)| before.matches('\n').count() + 1)
                })
                .next()
                .unwrap_or_else(|| panic!("{}: marker `{m}` not found", c.name))
        });
        let location = match line {
            Some(l) => format!("{}:{l}", c.file),
            None => c.file.to_string(),
        };
        let mut problems = Vec::new();
        if out.status.code() != Some(2) {
            problems.push(format!("exit code {:?}", out.status.code()));
        }
        if !err.contains(&location) {
            problems.push(format!("no `{location}`"));
        }
        if !err.contains(c.needle) {
            problems.push(format!("no `{}`", c.needle));
        }
        if err.contains("panicked") {
            problems.push("panic".into());
        }
        if snapshot(&p.path("output")) != before {
            problems.push("the previous report changed".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}\n{err}", c.name, problems.join(", ")));
        }
        // Restore a chapter file that a case wrote as raw bytes.
        p.write("chapters/h.md", BASE);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn symlinked_data_leaving_the_project_is_refused() {
    let outside = Project::new("outside");
    outside.write("secret.csv", "x\n1\n2\n");
    let p = Project::new("symlink");
    std::fs::create_dir_all(p.path("data")).unwrap();
    std::os::unix::fs::symlink(outside.path("secret.csv"), p.path("data/link.csv")).unwrap();
    p.write(
        "chapters/h.md",
        &BASE.replace(
            MEASURE,
            "measure: {empirical: {path: data/link.csv, column: x}}",
        ),
    );
    let out = p.build();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("leads outside the project"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn chapter_strings_are_escaped_in_the_report() {
    let p = Project::new("escape");
    p.write(
        "chapters/h.md",
        &BASE
            .replace(
                "title: Hostile input",
                "title: \"<script>alert(1)</script>\"",
            )
            .replace(
                "caption: Survival.",
                "caption: \"<img src=x onerror=alert(1)>\"",
            )
            .replace(
                "Intro:",
                "Intro <b onclick=\"x()\">bold</b> [link](javascript:alert(1)):",
            ),
    );
    let out = p.build();
    assert!(out.status.success(), "{}", stderr(&out));
    let html = p.read("output/report.html");
    assert!(!html.contains("<script>alert"), "title escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;"));
    assert!(!html.contains("<img src=x"), "caption escaped");
    assert!(!html.contains("<b onclick"), "raw HTML in prose escaped");
    assert!(!html.contains("javascript:alert"), "script links dropped");
}

#[test]
fn a_second_concurrent_build_is_refused_and_a_dead_runs_leftovers_cleaned() {
    let p = Project::new("lock");
    p.write("chapters/h.md", BASE);
    // Another run holds the lock: this test takes the same operating-system lock.
    let lock = std::fs::File::create(p.path(".output.lock")).unwrap();
    lock.try_lock().unwrap();
    let out = p.build();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("another diffrepro run"),
        "{}",
        stderr(&out)
    );
    assert!(!p.path("output").exists(), "nothing was written");
    drop(lock);
    // A run killed mid-build leaves its lock file and staging folder: neither blocks.
    p.write(".output.staging-4000000000/report.html", "half written");
    let out = p.build();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!p.path(".output.staging-4000000000").exists());
    assert!(p.path("output/report.html").exists());
}

#[test]
fn ceilings_name_the_limit_and_can_be_raised_deliberately() {
    let p = Project::new("ceiling");
    p.write(
        "chapters/h.md",
        &BASE.replace("u: [0.5]", "u: {from: 0, to: 1.5, n: 150000}"),
    );
    let out = p.build();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("ceiling of 100000"), "{err}");
    assert!(err.contains("--raise-limits"), "{err}");
    let out = p.run(&["build", "-q", "--raise-limits", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        p.read("output/data/h/h-survival.csv").lines().count(),
        2 * 150_000 + 1
    );
}

#[test]
fn particle_steps_and_replicates_are_ceilings_that_can_be_raised() {
    let p = Project::new("particle-ceilings");
    let chapter = |steps: usize, replicates: usize| {
        format!(
            "---\nid: pc\ntitle: Particle ceilings\npaper_refs: [\"Example 4\"]\norder: 1\n---\n\
             A short chain.\n\n```experiment\nid: pc\nkind: particles\n\
             measure: {{mixture: [{{weight: 0.5, mean: -1, var: 0}}, {{weight: 0.5, mean: 1, var: 0}}]}}\n\
             n: 8\neta: 0.0001\nsteps: {steps}\nreplicates: {replicates}\nseed: 1\n\
             tables: {{distances: pc-d, summary: pc-sum}}\n```\n"
        )
    };
    p.write("chapters/pc.md", &chapter(15_000, 150));
    let out = p.build();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("`steps` must be between 1 and 10000"), "{err}");
    assert!(err.contains("`replicates` must be at most 100"), "{err}");
    assert_eq!(err.matches("--raise-limits").count(), 2, "{err}");
    // Raised, a chapter over the replicate ceiling runs (a long chain would too, but
    // its exact W₂ at every step takes minutes).
    p.write("chapters/pc.md", &chapter(3, 150));
    assert_eq!(p.build().status.code(), Some(2));
    let out = p.run(&["build", "-q", "--format", "html", "--raise-limits", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Steps 0-3 forward and back; the replicates give each step's standard error.
    let distances = p.read("output/data/pc/pc-d.csv");
    assert_eq!(distances.lines().count(), 1 + 2 * 4, "{distances}");
    let step_one = distances.lines().nth(2).expect("step 1");
    let se: f64 = step_one.split(',').nth(4).unwrap().parse().unwrap();
    assert!(se > 0.0 && se.is_finite(), "{step_one}");
}
