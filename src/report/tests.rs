//! The model builder on a small project of two chapters, computed for real (exact
//! localization of two point masses: milliseconds).

use std::path::Path;

use super::*;
use crate::pipeline::{compute, draw_figures, provenance, BuildOptions};

const FIRST: &str = r#"---
id: first
title: First
paper_refs: ["Example 4"]
order: 1
---
Two point masses.

```experiment
id: tp
kind: complexity
measure: {mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}
r: [0.5, 1.5]
u: {from: 0, to: 2, n: 5}
tables: {summary: tp-summary, survival: tp-survival}
```

```figure
id: fig-single
type: line
table: tp-survival
x: u
y: survival
series: r
caption: A single figure.
```

```figure
panel_of: fig-pair
id: fig-left
type: line
table: tp-survival
x: u
y: survival
series: r
caption: The left panel.
```

```table
id: tab-summary
table: tp-summary
caption: The summary, see {{ ref(id="fig-right") }}.
```

```figure
panel_of: fig-pair
id: fig-right
type: line
table: tp-survival
x: u
y: survival
series: r
caption: The right panel, beside {{ ref(id="fig-left") }}.
```

```check
id: k-sup
claim: $\sup_y L_r(y) = r^2$
basis: closed_form
paper_ref: Definition 4
computed: {table: tp-summary, column: sup_l}
expected: {closed_form: sup_localization}
tolerance: {abs: 1e-8}
```

```exercise
Where is $L_r$ largest?
```

```solution
At $y = 0$.
```
"#;

const SECOND: &str = r#"---
id: second
title: Second
order: 2
---
Back to {{ ref(id="fig-pair") }}, {{ ref(id="tab-summary") }}, {{ ref(id="k-sup") }} and {{ ref(id="first") }}.

```figure
id: fig-late
type: line
table: tp-survival
x: u
y: survival
series: r
caption: A later figure.
```

```check
id: k-sup-again
claim: the same, checked again
basis: closed_form
paper_ref: Definition 4
computed: {table: tp-summary, column: sup_l}
expected: {closed_form: sup_localization}
tolerance: {abs: 1e-8}
```

```exercise
Why?
```
"#;

/// The project in `dir` with `second` as given, computed and drawn, and the model of
/// the `chosen` chapters (by id) built for `edition`.
fn model_of<T>(
    dir: &Path,
    second: &str,
    chosen: &[&str],
    edition: Edition,
    then: impl FnOnce(Result<Report, Diagnostics>) -> T,
) -> T {
    std::fs::create_dir_all(dir.join("chapters")).unwrap();
    std::fs::write(dir.join("chapters/first.md"), FIRST).unwrap();
    std::fs::write(dir.join("chapters/second.md"), second).unwrap();
    let mut opts = BuildOptions::new(dir.to_path_buf());
    opts.out = Some(dir.join("out"));
    let project = Project::load(dir).unwrap_or_else(|d| panic!("{d}"));
    let selected: Vec<usize> = chosen
        .iter()
        .map(|id| project.chapters.iter().position(|c| c.id() == *id).unwrap())
        .collect();
    let computed = compute(&project, &selected, &opts).unwrap_or_else(|e| panic!("{e}"));
    let cache = crate::cache::Cache::in_output(&opts.out_dir());
    let figures = draw_figures(&project, &selected, &computed.results, &cache)
        .unwrap_or_else(|e| panic!("{e}"));
    let prov = provenance(&project, &opts, computed.records.clone());
    let inputs = computed.inputs(&project, &selected, &figures, &prov, edition);
    then(build(&inputs))
}

fn blocks<'r>(report: &'r Report) -> impl Iterator<Item = &'r Content> {
    report
        .chapters
        .iter()
        .flat_map(|c| c.blocks.iter().map(|b| &b.content))
}

fn prose(report: &Report, chapter: usize) -> String {
    report.chapters[chapter]
        .blocks
        .iter()
        .filter_map(|b| match &b.content {
            Content::Prose(p) => Some(p.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn numbers_follow_report_order_and_a_figure_is_numbered_by_its_position() {
    let dir = tempfile::tempdir().unwrap();
    model_of(
        dir.path(),
        SECOND,
        &["first", "second"],
        Edition::Report,
        |r| {
            let r = r.unwrap_or_else(|d| panic!("{d}"));
            let numbers: Vec<usize> = r.chapters.iter().map(|c| c.number).collect();
            assert_eq!(numbers, [1, 2]);
            // Figures: the single one, the two-panel one where its first panel
            // stands (its second panel adds no block), then the second chapter's.
            let figures: Vec<(usize, &str, usize)> = blocks(&r)
                .filter_map(|b| match b {
                    Content::Figure(f) => Some((f.number, f.id.as_str(), f.panels.len())),
                    _ => None,
                })
                .collect();
            assert_eq!(
                figures,
                [(1, "fig-single", 1), (2, "fig-pair", 2), (3, "fig-late", 1)]
            );
            for (position, (number, _, _)) in figures.iter().enumerate() {
                assert_eq!(*number, position + 1);
            }
            let checks: Vec<usize> = r.checks().map(|k| k.number).collect();
            assert_eq!(checks, [1, 2]);
            assert_eq!(r.checks().next().unwrap().chapter_number, 1);
            // The cross-reference table agrees with the blocks.
            assert_eq!(r.refs["fig-right"].kind, RefKind::Panel('b'));
            assert_eq!(r.refs["fig-right"].number, Some(2));
            assert_eq!(r.refs["fig-right"].label, "Figure 2(b)");
            assert_eq!(r.refs["tab-summary"].number, Some(1));
            assert_eq!(r.refs["k-sup-again"].label, "Check 2");
            assert_eq!(r.refs["tp"].number, None);
            // Exercises are numbered across chapters; a solution takes its exercise's.
            let exercises: Vec<(&str, usize)> = blocks(&r)
                .filter_map(|b| match b {
                    Content::Exercise(x) => Some((x.role, x.number)),
                    _ => None,
                })
                .collect();
            assert_eq!(
                exercises,
                [("exercise", 1), ("solution", 1), ("exercise", 2)]
            );
            assert_eq!((r.scorecard.total, r.scorecard.chapters.len()), (2, 2));
        },
    );
}

#[test]
fn references_resolve_to_anchors_of_the_report() {
    let dir = tempfile::tempdir().unwrap();
    model_of(
        dir.path(),
        SECOND,
        &["first", "second"],
        Edition::Report,
        |r| {
            let r = r.unwrap_or_else(|d| panic!("{d}"));
            assert_eq!(
                prose(&r, 1).trim(),
                "Back to [Figure 2](#figure-fig-pair), [Table 1](#table-tab-summary), \
                 [Check 1](#check-k-sup) and [Chapter 1](#chapter-first)."
            );
            let Some(Content::Table(t)) = blocks(&r).find(|b| matches!(b, Content::Table(_)))
            else {
                panic!("no table block")
            };
            assert_eq!(
                t.caption.trim(),
                "The summary, see [Figure 2(b)](#figure-fig-right)."
            );
            // Every link the prose and captions make leads to an anchor of the report.
            let anchors = r.anchors();
            let mut texts = vec![prose(&r, 0), prose(&r, 1), t.caption.clone()];
            for b in blocks(&r) {
                if let Content::Figure(f) = b {
                    texts.extend(f.panels.iter().map(|p| p.caption.clone()));
                }
            }
            let mut links = 0;
            for text in &texts {
                for part in text.split("](#").skip(1) {
                    let anchor = &part[..part.find(')').unwrap()];
                    assert!(anchors.contains(anchor), "{anchor} is not in the report");
                    links += 1;
                }
            }
            assert_eq!(links, 6);
        },
    );
}

#[test]
fn a_partial_report_keeps_the_numbers_of_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    model_of(dir.path(), SECOND, &["second"], Edition::Report, |r| {
        let r = r.unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(r.chapters.len(), 1);
        assert_eq!(r.chapters[0].number, 2);
        let first = blocks(&r).find_map(|b| match b {
            Content::Figure(f) => Some(f.number),
            _ => None,
        });
        assert_eq!(first, Some(3));
        assert_eq!(r.checks().map(|k| k.number).collect::<Vec<_>>(), [2]);
        // The references into the chapter left out still carry its numbers.
        assert!(prose(&r, 0).contains("[Figure 2](#figure-fig-pair)"));
        assert!(!r.anchors().contains("figure-fig-pair"));
    });
}

#[test]
fn the_student_edition_leaves_out_checks_and_solutions() {
    let dir = tempfile::tempdir().unwrap();
    model_of(
        dir.path(),
        SECOND,
        &["first", "second"],
        Edition::Student,
        |r| {
            let r = r.unwrap_or_else(|d| panic!("{d}"));
            assert_eq!(r.checks().count(), 0);
            assert!(r.scorecard.chapters.is_empty());
            assert!(blocks(&r).all(|b| !matches!(b, Content::Exercise(x) if x.role == "solution")));
            assert_eq!(
                blocks(&r)
                    .filter(|b| matches!(b, Content::Exercise(_)))
                    .count(),
                2
            );
        },
    );
}

#[test]
fn an_unknown_reference_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let second = SECOND.replace(r#"{{ ref(id="k-sup") }}"#, r#"{{ ref(id="k-sop") }}"#);
    model_of(
        dir.path(),
        &second,
        &["first", "second"],
        Edition::Report,
        |r| {
            let Err(d) = r else {
                panic!("an unknown reference must stop the build")
            };
            assert_eq!(d.0.len(), 1, "{d}");
            let d = &d.0[0];
            assert!(d.file.ends_with("second.md"), "{}", d.file.display());
            assert_eq!(d.line, 6);
            assert!(d
                .message
                .contains("no figure, table, check or chapter has id `k-sop`"));
            assert!(d.message.contains("k-sup"), "a suggestion: {}", d.message);
        },
    );
}

#[test]
fn editions_hide_what_students_must_not_see() {
    assert!(!Edition::Student.shows_solutions());
    assert!(!Edition::Student.shows_checks());
    assert!(Edition::Teacher.shows_solutions() && Edition::Teacher.shows_checks());
    assert!(Edition::Report.shows_solutions() && Edition::Report.shows_checks());
    assert_eq!(Edition::Student.file_name(), "handout-student.html");
    assert!(Edition::Teacher.title("T").starts_with("T — teacher"));
}
