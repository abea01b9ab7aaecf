//! Integration tests: run the real binary on small projects in temporary folders and
//! assert on what it writes and prints.

mod common;

use std::path::Path;
use std::process::Command;

use common::{stderr, Project};

/// Rows of a CSV written by diffrepro, as header → column values.
fn csv_column(text: &str, col: &str) -> Vec<String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header
        .iter()
        .position(|h| *h == col)
        .unwrap_or_else(|| panic!("no column {col} in {header:?}"));
    lines
        .map(|l| l.split(',').nth(i).unwrap().to_string())
        .collect()
}

fn numbers(text: &str, col: &str) -> Vec<f64> {
    csv_column(text, col)
        .iter()
        .map(|s| s.parse().unwrap())
        .collect()
}

const TWO_POINT: &str =
    "{mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}";

fn front(id: &str) -> String {
    format!("---\nid: {id}\ntitle: Chapter {id}\npaper_refs: [\"Example 4\", \"Figure 1\"]\norder: 1\n---\n")
}

/// A small chapter exercising every block kind.
fn good_chapter() -> String {
    format!(
        "{}Prose with math $L_r(y) = (r\\mu)^2$ and a number: h is {{{{ value(table=\"tp-tail\", column=\"h\", where=\"r=1.5, delta=0\") | fixed(digits=3) }}}}; see {{{{ ref(id=\"fig-density\") }}}}.

```experiment
id: tp
kind: complexity
measure: {TWO_POINT}
r: [\"1/sqrt(2)\", 1.5, 3]
u: [0.5, 1]
delta: [0, 0.5]
tables: {{survival: tp-survival, tail: tp-tail, summary: tp-summary}}
```

```experiment
id: tp-density
kind: density
measure: {TWO_POINT}
r: [1.5]
y: {{from: -5, to: 5, n: 101}}
tables: {{density: tp-density}}
```

```figure
id: fig-density
type: density
table: tp-density
x: y
y: density
shade: [{{column: localization, above: 1, label: \"L > 1\"}}]
caption: Density of $Y_r$ with the region $L_r > 1$ shaded.
```

```table
id: tab-tail
table: tp-tail
caption: The integrated tail.
pivot: {{rows: r, columns: delta, values: h}}
digits: 4
```

```check
id: h-r150
claim: $h(0, 1.5)$ as printed
basis: paper_value
paper_ref: Figure 1
computed: {{table: tp-tail, column: h, where: {{r: 1.5, delta: 0}}}}
expected: {{paper: fig1.h0}}
tolerance: printed
```

```check
id: survival-closed-form
claim: survival equals equation (5.1)
basis: closed_form
paper_ref: Example 4
computed: {{table: tp-survival, column: survival}}
expected: {{closed_form: survival}}
tolerance: {{abs: 1e-8}}
```
",
        front("tp")
    )
}

const PAPER: &str =
    "fig1.h0: {value: 0.13, digits: 2, location: \"Figure 1, r = 1.50: h(0, r)\"}\n";

/// Equation (5.1) of the paper, written out independently of the library.
fn two_point_survival(mu: f64, r: f64, u: f64) -> f64 {
    let a = r * mu;
    if u >= a * a {
        return 0.0;
    }
    let s = (a * a - u).sqrt();
    let c = ((a + s) / (a - s)).ln() / (2.0 * a);
    phi(c - a) + phi(c + a) - 1.0
}

/// Standard normal cdf by a 1e-15-accurate series/continued fraction is overkill here;
/// a 200-step Simpson rule on [0, x] is accurate to ~1e-12 for |x| ≤ 8.
fn phi(x: f64) -> f64 {
    let n = 2000;
    let h = x / n as f64;
    let f = |t: f64| (-0.5 * t * t).exp();
    let mut s = f(0.0) + f(x);
    for i in 1..n {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        s += w * f(i as f64 * h);
    }
    0.5 + s * h / 3.0 / (2.0 * std::f64::consts::PI).sqrt()
}

#[test]
fn builds_a_report_with_tables_figures_checks_and_math() {
    let p = Project::new("good");
    p.write("chapters/tp.md", &good_chapter())
        .write("data/paper.yaml", PAPER);
    let out = p.build();
    assert!(out.status.success(), "{}", stderr(&out));

    // Tables as CSV and Parquet, with values matching the closed form.
    let csv = p.read("output/data/tp/tp-survival.csv");
    let (rs, us, s) = (
        numbers(&csv, "r"),
        numbers(&csv, "u"),
        numbers(&csv, "survival"),
    );
    assert_eq!(s.len(), 6);
    for i in 0..s.len() {
        let want = two_point_survival(1.0, rs[i], us[i]);
        assert!(
            (s[i] - want).abs() < 1e-8,
            "r={} u={}: {} vs {want}",
            rs[i],
            us[i],
            s[i]
        );
    }
    let pq = std::fs::read(p.path("output/data/tp/tp-survival.parquet")).unwrap();
    assert_eq!(&pq[..4], b"PAR1");

    // Figures as SVG and PNG.
    let svg = p.read("output/figures/tp/fig-density.svg");
    assert!(svg.contains("<svg"));
    let png = std::fs::read(p.path("output/figures/tp/fig-density.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // The report: inline SVG, MathML, numbered figure, the prose number, checks.
    let html = p.read("output/report.html");
    assert!(html.contains("<svg"), "figure inline");
    assert!(html.contains("<math"), "MathML");
    assert!(!html.contains("<script"), "no JavaScript");
    assert!(html.contains("Figure 1."), "numbered figure");
    assert!(
        html.contains("href=\"#figure-fig-density\">Figure 1</a>"),
        "cross-reference"
    );
    let tail = p.read("output/data/tp/tp-tail.csv");
    let h = numbers(&tail, "h");
    let delta = numbers(&tail, "delta");
    let r = numbers(&tail, "r");
    let i = (0..h.len())
        .find(|&i| r[i] == 1.5 && delta[i] == 0.0)
        .unwrap();
    assert!(
        html.contains(&format!("h is {:.3}", h[i])),
        "prose quotes the computed value"
    );
    assert!(html.contains("reproduced"));
    assert!(html.contains("Table 1."));
    assert!(p.read("output/README.md").contains("report.html"));
}

#[test]
fn normal_measure_matches_closed_forms() {
    let p = Project::new("normal");
    p.write(
        "chapters/n.md",
        &format!(
            "{}```experiment\nid: n\nkind: complexity\nmeasure: {{normal: {{mean: 1, var: 2}}}}\nt: {{from: 0.05, to: 1.5, n: 7}}\nm: [inf]\ntables: {{summary: n-summary, zeta: n-zeta}}\n```\n",
            front("n")
        ),
    );
    let out = p.build();
    assert!(out.status.success(), "{}", stderr(&out));
    let s = p.read("output/data/n/n-summary.csv");
    let (r, d, l) = (
        numbers(&s, "r"),
        numbers(&s, "delta_star"),
        numbers(&s, "sup_l"),
    );
    for i in 0..r.len() {
        let v = 2.0 * r[i] * r[i];
        assert!((d[i] - 1.0 / (v + 1.0)).abs() < 1e-8);
        assert!((l[i] - v / (v + 1.0)).abs() < 1e-8);
    }
    let z = p.read("output/data/n/n-zeta.csv");
    let (t, zeta) = (numbers(&z, "t"), numbers(&z, "zeta"));
    for i in 0..t.len() {
        let want = 1.0 / (1.0 + (-2.0 * t[i]).exp() * (2.0 - 1.0));
        assert!(
            (zeta[i] - want).abs() < 1e-8 * want,
            "{} vs {want}",
            zeta[i]
        );
    }
}

/// Each bad input: (name, chapter text, text of the line the error must point at,
/// text the message must contain).
fn bad_cases() -> Vec<(&'static str, String, &'static str, &'static str)> {
    let f = front("bad");
    vec![
        (
            "malformed-yaml",
            format!("{f}text\n\n```experiment\nid: e\nkind: \"unterminated\nr: [1]\n```\n"),
            "kind: \"unterminated",
            "bad experiment block",
        ),
        (
            "unknown-kind",
            format!("{f}\n```experiment\nid: e\nkind: complexty\n```\n"),
            "kind: complexty",
            "did you mean `complexity`?",
        ),
        (
            "unknown-field",
            format!("{f}\n```experiment\nid: e\nkind: complexity\nmeasure: {{point: 0}}\nr: [1]\nsed: 3\ntables: {{summary: s}}\n```\n"),
            "sed: 3",
            "did you mean `seed`?",
        ),
        (
            "missing-table",
            format!("{f}\n```experiment\nid: e\nkind: complexity\nmeasure: {{point: 0}}\nr: [1]\ntables: {{summary: s}}\n```\n\n```figure\nid: f\ntype: line\ntable: summry\nx: r\ny: m_star\ncaption: c\n```\n"),
            "table: summry",
            "no experiment produces a table named `summry`",
        ),
        (
            "weights",
            format!("{f}\n```experiment\nid: e\nkind: complexity\nmeasure: {{mixture: [{{weight: 0.5, mean: 0, var: 1}}, {{weight: 0.6, mean: 1, var: 1}}]}}\nr: [1]\ntables: {{summary: s}}\n```\n"),
            "weight: 0.6",
            "weights sum to",
        ),
        (
            "negative-r",
            format!("{f}\n```experiment\nid: e\nkind: complexity\nmeasure: {{point: 0}}\nr: [1, -2]\ntables: {{summary: s}}\n```\n"),
            "r: [1, -2]",
            "must be positive",
        ),
        (
            "bad-column",
            format!("{f}\n```experiment\nid: e\nkind: complexity\nmeasure: {{point: 0}}\nr: [1]\ntables: {{summary: s}}\n```\n\n```check\nid: c\nclaim: x\nbasis: closed_form\npaper_ref: Example 2\ncomputed: {{table: s, column: delta_str}}\nexpected: {{value: 1, source: text}}\ntolerance: {{abs: 0}}\n```\n"),
            "column: delta_str",
            "did you mean `delta_star`?",
        ),
        (
            "bad-expression",
            format!("{f}The value {{{{ value(table=\"nope\", column=\"x\") }}}}.\n"),
            "The value",
            "no table named `nope`",
        ),
    ]
}

#[test]
fn bad_input_names_file_line_and_field_and_exits_2() {
    for (name, text, marker, needle) in bad_cases() {
        let line = text
            .lines()
            .position(|l| l.contains(marker))
            .unwrap_or_else(|| panic!("{name}: marker not in text"))
            + 1;
        let p = Project::new(name);
        p.write("chapters/bad.md", &text);
        let out = p.build();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(&format!("chapters/bad.md:{line}")),
            "{name}: expected line {line} in:\n{err}"
        );
        assert!(
            err.contains(needle),
            "{name}: expected `{needle}` in:\n{err}"
        );
        assert!(!p.path("output").exists(), "{name}: nothing is written");
    }
}

#[test]
fn reports_every_bad_block_in_one_run() {
    let p = Project::new("many");
    let f = front("many");
    p.write(
        "chapters/a.md",
        &format!("{f}\n```experiment\nid: e\nkind: nope\n```\n\n```figure\nid: f\ntype: pie\ntable: t\nx: a\ny: b\ncaption: c\n```\n"),
    );
    let out = p.build();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("unknown experiment kind `nope`"), "{err}");
    assert!(err.contains("unknown figure type `pie`"), "{err}");
    assert!(err.contains("2 errors"), "{err}");
}

#[test]
fn failed_build_leaves_the_previous_report_untouched() {
    let p = Project::new("keep");
    p.write("chapters/tp.md", &good_chapter())
        .write("data/paper.yaml", PAPER);
    assert!(p.build().status.success());
    let before = std::fs::read(p.path("output/report.html")).unwrap();
    let csv_before = p.read("output/data/tp/tp-tail.csv");
    p.write(
        "chapters/tp.md",
        &good_chapter().replace("kind: density", "kind: densty"),
    );
    let out = p.build();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(p.path("output/report.html")).unwrap(), before);
    assert_eq!(p.read("output/data/tp/tp-tail.csv"), csv_before);
    // No staging folder is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&p.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("staging"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn list_json_describes_the_chapters() {
    let p = Project::new("list");
    p.write("chapters/tp.md", &good_chapter())
        .write("data/paper.yaml", PAPER);
    let out = p.run(&["list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ch = &v["chapters"][0];
    assert_eq!(ch["id"], "tp");
    assert_eq!(ch["paper_refs"][0], "Example 4");
    assert_eq!(ch["experiments"][0]["id"], "tp");
    assert_eq!(ch["experiments"][0]["kind"], "complexity");
    assert!(ch["tables"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "tp-density"));
    assert_eq!(ch["figures"][0], "fig-density");
    assert_eq!(ch["claims"][1]["id"], "survival-closed-form");
    let text = p.run(&["list"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("experiment tp (complexity)"));
}

#[test]
fn empty_or_missing_chapters_folder_is_an_input_error() {
    let p = Project::new("empty");
    let out = p.build();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no .md files"), "{}", stderr(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_diffrepro"))
        .args(["build", "/nonexistent/project"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no chapters folder"));
}

#[test]
fn shipped_chapters_validate() {
    // The repository's own chapters must always be valid input (building them fully is
    // what `cargo run --release -- build` and CI do).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_diffrepro"))
        .args(["list", "--json"])
        .arg(root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"two-point") && ids.contains(&"gaussian"),
        "{ids:?}"
    );
}
