//! Rebuilds do only the work an edit calls for: after an edit of prose, no experiment
//! runs, no figure is rasterised and no table is encoded again; after an edit of a
//! figure, only that figure is redrawn. Asserted on what the build says (`--explain`)
//! and on the files it leaves (an unchanged PNG or table is the cache's own file,
//! linked, so its inode does not change).

mod common;

use std::os::unix::fs::MetadataExt;

use common::{stderr, Project};

const CHAPTER: &str = "---
id: inc
title: Incremental
paper_refs: [\"Example 4\"]
order: 1
---
Some prose.

```experiment
id: inc-density
kind: density
measure: {mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}
r: [1.5]
y: {from: -5, to: 5, n: 201}
tables: {density: inc-density}
```

```figure
id: fig-a
type: density
table: inc-density
x: y
y: density
caption: First figure.
```

```figure
id: fig-b
type: density
table: inc-density
x: y
y: localization
caption: Second figure.
```
";

fn inode(p: &Project, rel: &str) -> u64 {
    std::fs::metadata(p.path(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .ino()
}

fn build_explained(p: &Project) -> String {
    let out = p.run(&["build", "--explain", "--format", "html"]);
    assert!(out.status.success(), "{}", stderr(&out));
    stderr(&out)
}

#[test]
fn a_prose_edit_reuses_every_result_figure_and_table_file() {
    let p = Project::new("incremental");
    p.write("chapters/inc.md", CHAPTER);
    let first = build_explained(&p);
    assert!(first.contains("ran "), "{first}");
    let png_a = inode(&p, "output/figures/inc/fig-a.png");
    let png_b = inode(&p, "output/figures/inc/fig-b.png");
    let csv = inode(&p, "output/data/inc/inc-density.csv");
    let parquet = inode(&p, "output/data/inc/inc-density.parquet");

    p.write(
        "chapters/inc.md",
        &CHAPTER.replace("Some prose.", "Edited prose."),
    );
    let second = build_explained(&p);
    assert!(second.contains("cached inc-density"), "{second}");
    assert!(!second.contains("ran    inc-density"), "{second}");
    assert!(p.read("output/report.html").contains("Edited prose."));
    assert_eq!(inode(&p, "output/figures/inc/fig-a.png"), png_a);
    assert_eq!(inode(&p, "output/figures/inc/fig-b.png"), png_b);
    assert_eq!(inode(&p, "output/data/inc/inc-density.csv"), csv);
    assert_eq!(inode(&p, "output/data/inc/inc-density.parquet"), parquet);

    // An edit of one figure redraws that figure only.
    let svg_b = p.read("output/figures/inc/fig-b.svg");
    p.write(
        "chapters/inc.md",
        &CHAPTER.replace("y: localization", "y: localization\ny_range: [0, 2]"),
    );
    build_explained(&p);
    assert_eq!(inode(&p, "output/figures/inc/fig-a.png"), png_a);
    assert_ne!(inode(&p, "output/figures/inc/fig-b.png"), png_b);
    assert_ne!(p.read("output/figures/inc/fig-b.svg"), svg_b);
}

#[test]
fn a_damaged_cached_figure_is_redrawn_not_served() {
    let p = Project::new("incremental-damage");
    p.write("chapters/inc.md", CHAPTER);
    build_explained(&p);
    let png = p.path("output/figures/inc/fig-a.png");
    let good = std::fs::read(&png).unwrap();
    // The output file is the cache's file: damaging one damages the other.
    std::fs::write(&png, &good[..good.len() / 2]).unwrap();
    build_explained(&p);
    assert_eq!(std::fs::read(&png).unwrap(), good);
}

#[test]
fn the_rebuild_benchmark_times_cold_and_warm_builds_of_a_copy() {
    let p = Project::new("rebuild-bench");
    p.write("chapters/inc.md", CHAPTER);
    let out = p.run(&["bench", "--rebuild", ".", "--repeat", "1", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let (cold, warm) = (v["cold_s"].as_f64().unwrap(), v["warm_s"].as_f64().unwrap());
    assert!(cold > 0.0 && warm > 0.0, "{v}");
    assert!((v["ratio"].as_f64().unwrap() - cold / warm).abs() < 1e-9);
    assert_eq!(v["edited"], "inc.md");
    // The project itself is left alone: no output folder, the chapter unedited.
    assert!(!p.path("output").exists());
    assert_eq!(p.read("chapters/inc.md"), CHAPTER);
}
