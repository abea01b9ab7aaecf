//! The PDF edition, checked for real: it parses, has a plausible page count, and its
//! text holds the chapter titles, a computed number and a figure caption. Text is
//! extracted with poppler's `pdftotext`/`pdfinfo`, which `.ci/run` installs.

mod common;

use std::process::Command;

use common::{stderr, Project};

const CHAPTER: &str = r#"---
id: pdfch
title: Typeset Localization Chapter
paper_refs: ["Example 4"]
order: 1
---
The integrated tail at the middle SNR is {{ value(table="pdf-tail", column="h", where="r=1.5, delta=0") | fixed(digits=4) }},
and $L_r(y) = (r\mu)^2 \operatorname{sech}^2(r\mu y)$.

```experiment
id: pdf-exp
kind: complexity
measure: {mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}
r: [0.5, 1.5, 3]
u: {from: 0, to: 3, n: 61}
delta: [0, 0.5]
tables: {survival: pdf-survival, tail: pdf-tail}
```

```figure
id: fig-pdf
type: line
table: pdf-survival
x: u
y: survival
series: r
caption: Survival curves drawn for the portable document.
```

```table
id: tab-pdf
table: pdf-tail
caption: Integrated tails in a pivot.
pivot: {rows: r, columns: delta, values: h}
digits: 4
```

```check
id: pdf-check
claim: survival equals equation (5.1)
basis: closed_form
paper_ref: Example 4
computed: {table: pdf-survival, column: survival}
expected: {closed_form: survival}
tolerance: {abs: 1e-8}
```
"#;

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("{name} is needed for this test (poppler-utils; .ci/run installs it): {e}")
    });
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn pdf_has_titles_numbers_and_captions() {
    let p = Project::new("pdf");
    p.write("chapters/pdfch.md", CHAPTER);
    let out = p.run(&["build", "-q", "--format", "pdf"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !p.path("output/report.html").exists(),
        "--format pdf writes only the PDF"
    );
    let pdf = p.path("output/report.pdf");
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let path = pdf.to_str().unwrap();
    let info = tool("pdfinfo", &[path]);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo reports pages");
    assert!((2..=20).contains(&pages), "{pages} pages");
    let text = tool("pdftotext", &["-layout", path, "-"]);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Typeset Localization Chapter"),
        "chapter title"
    );
    assert!(
        flat.contains("Survival curves drawn for the portable document"),
        "figure caption"
    );
    assert!(
        flat.contains("Integrated tails in a pivot"),
        "table caption"
    );
    // A computed number: the value the prose quotes, from the table.
    let csv = p.read("output/data/pdfch/pdf-tail.csv");
    let h: f64 = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|c| c[1] == "1.5" && c[3] == "0.0")
        .map(|c| c[4].parse().unwrap())
        .unwrap();
    let quoted = format!("{h:.4}");
    assert!(
        flat.contains(&quoted),
        "the computed value {quoted} is in the PDF text"
    );
    assert!(
        flat.contains("2411.01629"),
        "the paper's reference on the title page"
    );
    // Same inputs, same bytes.
    let again = p.run(&["build", "-q", "--format", "pdf", "--out", "again"]);
    assert!(again.status.success());
    assert_eq!(std::fs::read(p.path("again/report.pdf")).unwrap(), bytes);
}

#[test]
fn pdf_handouts_leave_solutions_out_of_the_student_edition() {
    let p = Project::new("pdf-handout");
    let chapter = format!(
        "{CHAPTER}\n```exercise\nCompute the tail at the smallest SNR by hand.\n```\n\n```solution\nThe unmistakable answer is zero because nothing localizes.\n```\n"
    );
    p.write("chapters/pdfch.md", &chapter);
    let out = p.run(&["build", "-q", "--format", "pdf", "--handout"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = |f: &str| {
        let path = p.path(&format!("output/{f}"));
        tool("pdftotext", &[path.to_str().unwrap(), "-"])
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (student, teacher) = (text("handout-student.pdf"), text("handout-teacher.pdf"));
    assert!(student.contains("Compute the tail at the smallest SNR by hand"));
    assert!(
        !student.contains("unmistakable answer"),
        "no solution in the student PDF"
    );
    assert!(
        teacher.contains("unmistakable answer"),
        "the teacher PDF has the solution"
    );
}
