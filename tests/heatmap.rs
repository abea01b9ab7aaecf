//! Heat maps through the real binary: a tiny chapter whose plane experiment maps L_r
//! over a grid, drawn as a heat map at two SNRs with the level curve L_r = 1 and the
//! components' means; the SVG holds the cells, the contour, the points and a colour
//! bar, and a table that is not a grid is refused with the figure's file and line.

mod common;

use common::{stderr, Project};

const CHAPTER: &str = r#"---
id: maps
title: Maps
paper_refs: ["Definition 4"]
order: 1
---
Two point masses in the plane.

```experiment
id: e
kind: plane
measure: {mixture: [{weight: 0.5, mean: [-1, 0], var: 0}, {weight: 0.5, mean: [1, 0], var: 0}]}
r: [1.5, 3]
map: {x: {from: -2, to: 2, n: 41}, y: {from: -1, to: 1, n: 21}}
tables: {map: e-map, means: e-means}
```

```figure
id: fig-map
type: heatmap
table: e-map
x: x1
y: x2
value: localization
value_label: '$L_r$'
facet: r
contours: [{level: 1, label: '$L_r = 1$'}]
points: {table: e-means, x: x1, y: x2, label: means}
legend: none
caption: L_r over the plane.
```
"#;

/// The `<rect>`s of the SVG group with this class.
fn rects_in<'a>(svg: &'a str, class: &str) -> Vec<&'a str> {
    let start = svg
        .find(&format!("<g class=\"{class}\">"))
        .unwrap_or_else(|| panic!("no group {class}"));
    let end = start + svg[start..].find("</g>").unwrap();
    svg[start..end]
        .lines()
        .filter(|l| l.starts_with("<rect"))
        .collect()
}

#[test]
fn a_heat_map_has_cells_a_contour_points_and_colour_bars() {
    let p = Project::new("heatmap");
    p.write("chapters/maps.md", CHAPTER);
    let out = p.run(&["build", "--quiet", "--format", "html"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = p.read("output/figures/maps/fig-map.svg");
    // Two panels, each with its cells and its colour bar.
    assert_eq!(svg.matches("<g class=\"cells\">").count(), 2);
    assert_eq!(svg.matches("<g class=\"colour-bar\">").count(), 2);
    let cells = rects_in(&svg, "cells");
    assert!(
        cells.len() > 41 && cells.len() <= 41 * 21,
        "{} cells",
        cells.len()
    );
    // At r = 1.5 the two point masses have L_r = r² > 1 on a band between them: the
    // level curve is drawn (ink, 1.2 px, on a white halo).
    assert!(svg.lines().any(
        |l| l.starts_with("<polyline") && l.contains("stroke=\"#141414\" stroke-width=\"1.2\"")
    ));
    assert!(svg.lines().any(
        |l| l.starts_with("<polyline") && l.contains("stroke=\"#FFFFFF\" stroke-width=\"2.6\"")
    ));
    // The two means, on both panels.
    assert_eq!(svg.matches("<circle").count(), 4);
    // The colour bar's label, typeset.
    assert!(svg.contains("aria-label=\"$L_r$\""));
    // The means table.
    let means = p.read("output/data/maps/e-means.csv");
    assert!(means.lines().count() == 3, "{means}");
    // The HTML shows the figure.
    let html = p.read("output/report.html");
    assert!(html.contains("class=\"cells\""));
    // The same drawing on one thread.
    let out = p.run(&[
        "build",
        "--quiet",
        "--format",
        "html",
        "--jobs",
        "1",
        "--no-cache",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(p.read("output/figures/maps/fig-map.svg"), svg);
}

#[test]
fn a_table_that_is_not_a_grid_is_refused_naming_the_figure() {
    let p = Project::new("heatmap-grid");
    // Without `facet: r`, every point of the grid comes twice.
    p.write("chapters/maps.md", &CHAPTER.replace("facet: r\n", ""));
    let out = p.build();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("figure `fig-map` (chapters/maps.md:")
            && err.contains("not a regular grid")
            && err.contains("appears more than once"),
        "{err}"
    );
}
