//! Stage 5, *draw*: a validated [`FigureSpec`] plus its table becomes a [`Plot`]
//! (plain data, `plot.rs`), which `draw.rs` renders to SVG and PNG with plotters.
//!
//! This module decides *what* is drawn: which rows, how they split into series and
//! panels, colours, ranges, labels. `draw.rs` decides only how it looks.

pub mod draw;
pub mod plot;

use crate::spec::figure::{FigureSpec, FigureType};
use crate::table::{format_number, Cell, Table};
use plot::*;

/// Panel size in CSS pixels; the PNG is drawn at twice this.
pub const PANEL_WIDTH: u32 = 480;
pub const PANEL_HEIGHT: u32 = 360;
pub const PNG_SCALE: f64 = 2.0;

/// Matplotlib's "tab10", so categorical colours match what readers of the paper know.
const TAB10: [Rgb; 10] = [
    Rgb(31, 119, 180),
    Rgb(255, 127, 14),
    Rgb(44, 160, 44),
    Rgb(214, 39, 40),
    Rgb(148, 103, 189),
    Rgb(140, 86, 75),
    Rgb(227, 119, 194),
    Rgb(127, 127, 127),
    Rgb(188, 189, 34),
    Rgb(23, 190, 207),
];

/// Viridis at 9 evenly spaced stops, for series ordered by a parameter (r, t, σ).
const VIRIDIS: [(f64, f64, f64); 9] = [
    (68.0, 1.0, 84.0),
    (71.0, 44.0, 122.0),
    (59.0, 81.0, 139.0),
    (44.0, 113.0, 142.0),
    (33.0, 144.0, 141.0),
    (39.0, 173.0, 129.0),
    (92.0, 200.0, 99.0),
    (170.0, 220.0, 50.0),
    (253.0, 231.0, 37.0),
];

/// Colour `i` of `n` along viridis (stopping short of the pale yellow end, which is
/// hard to see on white).
pub fn sequential(i: usize, n: usize) -> Rgb {
    let x = if n <= 1 {
        0.0
    } else {
        i as f64 / (n - 1) as f64 * 0.9
    };
    let pos = x * (VIRIDIS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - k as f64;
    let (a, b) = (VIRIDIS[k], VIRIDIS[k + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

pub fn categorical(i: usize) -> Rgb {
    TAB10[i % TAB10.len()]
}

const DASHES: [Dash; 3] = [Dash::Solid, Dash::Dashed, Dash::Dotted];

/// Distinct values of a column in order of first appearance.
fn distinct(cells: &[Cell]) -> Vec<Cell> {
    let mut out: Vec<Cell> = Vec::new();
    for c in cells {
        if !out.iter().any(|o| o.matches(c)) {
            out.push(c.clone());
        }
    }
    out
}

fn cell_label(c: &Cell, digits: Option<usize>) -> String {
    match c {
        Cell::Number(v) => format_number(*v, digits),
        Cell::Text(s) => s.clone(),
    }
}

/// Build the plot for `spec` from `table`.
pub fn build(spec: &FigureSpec, table: &Table) -> Result<Plot, String> {
    let rows = table.select(&spec.filter)?;
    if rows.is_empty() {
        return Err(format!(
            "figure `{}`: no row of table `{}` matches its `where` filter",
            spec.id, table.name
        ));
    }
    let x_all = table.numbers(&spec.x)?;
    let ys_all: Vec<Vec<f64>> = spec
        .ys
        .iter()
        .map(|y| table.numbers(y))
        .collect::<Result<_, _>>()?;
    let facet_cells = spec.facet.as_ref().map(|f| table.cells(f)).transpose()?;
    let series_cells = spec.series.as_ref().map(|s| table.cells(s)).transpose()?;
    let shade_cols: Vec<Vec<f64>> = spec
        .shade
        .iter()
        .map(|s| table.numbers(&s.column))
        .collect::<Result<_, _>>()?;

    let pick = |cells: &Option<Vec<Cell>>| -> Vec<Option<Cell>> {
        match cells {
            Some(c) => distinct(&rows.iter().map(|&i| c[i].clone()).collect::<Vec<_>>())
                .into_iter()
                .map(Some)
                .collect(),
            None => vec![None],
        }
    };
    let facets = pick(&facet_cells);
    let series = pick(&series_cells);
    let many_series = series.len() > 1;
    let ordered = series_cells
        .as_ref()
        .is_some_and(|c| c.iter().all(|x| matches!(x, Cell::Number(_))));

    let mut panels = Vec::new();
    for (fi, facet) in facets.iter().enumerate() {
        let in_facet = |i: usize| match (facet, &facet_cells) {
            (Some(f), Some(c)) => c[i].matches(f),
            _ => true,
        };
        let mut lines = Vec::new();
        let mut bands = Vec::new();
        for (si, s) in series.iter().enumerate() {
            let idx: Vec<usize> = rows
                .iter()
                .copied()
                .filter(|&i| in_facet(i))
                .filter(|&i| match (s, &series_cells) {
                    (Some(v), Some(c)) => c[i].matches(v),
                    _ => true,
                })
                .collect();
            if idx.is_empty() {
                continue;
            }
            let xs: Vec<f64> = idx.iter().map(|&i| x_all[i]).collect();
            for (yi, y) in ys_all.iter().enumerate() {
                let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
                let color = if many_series && (ordered || spec.sequential) {
                    sequential(si, series.len())
                } else if many_series {
                    categorical(si)
                } else if spec.kind == FigureType::Density {
                    Rgb(20, 20, 20)
                } else {
                    categorical(yi)
                };
                let series_name = spec
                    .series_label
                    .clone()
                    .or_else(|| spec.series.clone())
                    .unwrap_or_default();
                let y_name = spec
                    .labels
                    .get(&spec.ys[yi])
                    .cloned()
                    .unwrap_or(spec.ys[yi].clone());
                // Text values (measure labels) name themselves; numbers get "r = 1.50".
                let value_label = |v: &Cell| match v {
                    Cell::Text(t) => t.clone(),
                    Cell::Number(_) => {
                        format!("{series_name} = {}", cell_label(v, spec.series_digits))
                    }
                };
                let label = match (s, spec.ys.len() > 1) {
                    (Some(v), false) => Some(value_label(v)),
                    (Some(v), true) => Some(format!("{} ({y_name})", value_label(v))),
                    (None, true) => Some(y_name),
                    (None, false) => None,
                };
                lines.push(Line {
                    label,
                    xs: xs.clone(),
                    ys: ys.clone(),
                    color,
                    dash: DASHES[yi % DASHES.len()],
                    width: if yi == 0 { 1.8 } else { 1.4 },
                    step: spec.kind == FigureType::Step,
                    markers: false,
                });
                if yi == 0 {
                    for (k, sh) in spec.shade.iter().enumerate() {
                        let col = &shade_cols[k];
                        let upper: Vec<f64> = idx
                            .iter()
                            .zip(&ys)
                            .map(|(&i, &y)| if col[i] > sh.above { y } else { f64::NAN })
                            .collect();
                        bands.push(Band {
                            label: sh.label.clone(),
                            xs: xs.clone(),
                            lower: vec![0.0; xs.len()],
                            upper,
                            color: categorical(k),
                            opacity: 0.35,
                        });
                    }
                }
            }
        }
        let finite = |v: &mut dyn Iterator<Item = f64>| {
            v.filter(|x| x.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                    (a.min(x), b.max(x))
                })
        };
        let x_range = spec.x_range.unwrap_or_else(|| {
            let (a, b) = finite(&mut lines.iter().flat_map(|l| l.xs.iter().copied()));
            pad((a, b), 0.0, spec.x_log)
        });
        let y_range = spec.y_range.unwrap_or_else(|| {
            let (a, b) = finite(&mut lines.iter().flat_map(|l| l.ys.iter().copied()));
            if spec.kind == FigureType::Density {
                // A density axis starts at zero; pad only above.
                (0.0, pad((0.0, b), 0.05, spec.y_log).1)
            } else {
                pad((a, b), 0.05, spec.y_log)
            }
        });
        let title = facet.as_ref().map(|f| {
            let name = spec
                .facet_label
                .clone()
                .or_else(|| spec.facet.clone())
                .unwrap_or_default();
            let letter = (b'a' + (fi % 26) as u8) as char;
            if facets.len() > 1 {
                format!("({letter}) {name} = {}", cell_label(f, spec.series_digits))
            } else {
                format!("{name} = {}", cell_label(f, spec.series_digits))
            }
        });
        let refline = |at: f64| RefLine {
            at,
            label: None,
            color: Rgb(90, 90, 90),
            dash: Dash::Dashed,
        };
        panels.push(Panel {
            title,
            x_label: spec.x_label.clone().unwrap_or_else(|| spec.x.clone()),
            y_label: spec.y_label.clone().unwrap_or_else(|| spec.ys[0].clone()),
            x_range,
            y_range,
            x_scale: if spec.x_log {
                Scale::Log10
            } else {
                Scale::Linear
            },
            y_scale: if spec.y_log {
                Scale::Log10
            } else {
                Scale::Linear
            },
            bands,
            ridges: Vec::new(),
            lines,
            vlines: spec.vlines.iter().map(|&v| refline(v)).collect(),
            hlines: spec.hlines.iter().map(|&v| refline(v)).collect(),
            legend: spec.legend,
            annotations: Vec::new(),
        });
    }
    Ok(Plot {
        columns: spec.columns.min(panels.len()).max(1),
        panels,
        panel_width: PANEL_WIDTH,
        panel_height: PANEL_HEIGHT,
    })
}

/// A data range with `frac` padding; degenerate or empty ranges get a sensible width.
fn pad((a, b): (f64, f64), frac: f64, log: bool) -> (f64, f64) {
    if !a.is_finite() || !b.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        let (a, b) = (a.max(1e-300), b.max(1e-300));
        return if a == b { (a / 10.0, b * 10.0) } else { (a, b) };
    }
    if a == b {
        let w = if a == 0.0 { 1.0 } else { a.abs() * 0.1 };
        return (a - w, b + w);
    }
    let w = (b - a) * frac;
    (a - w, b + w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::figure::Shade;
    use crate::table::TableBuilder;

    fn spec() -> FigureSpec {
        FigureSpec {
            id: "f".into(),
            kind: FigureType::Density,
            table: "d".into(),
            x: "y".into(),
            ys: vec!["density".into()],
            series: None,
            series_label: None,
            series_digits: Some(2),
            facet: Some("r".into()),
            facet_label: None,
            filter: vec![],
            shade: vec![Shade {
                column: "loc".into(),
                above: 0.5,
                label: Some("δ = 0.5".into()),
            }],
            x_range: None,
            y_range: None,
            x_label: None,
            y_label: None,
            x_log: false,
            y_log: false,
            vlines: vec![],
            hlines: vec![],
            legend: None,
            columns: 3,
            sequential: false,
            labels: Default::default(),
            caption: "c".into(),
            line: 1,
        }
    }

    #[test]
    fn facets_and_shades() {
        let t = TableBuilder::new()
            .number("r", vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
            .number("y", vec![-1.0, 0.0, 1.0, -1.0, 0.0, 1.0])
            .number("density", vec![0.1, 0.4, 0.1, 0.2, 0.3, 0.2])
            .number("loc", vec![0.1, 0.9, 0.1, 0.0, 0.0, 0.0])
            .build("d")
            .unwrap();
        let p = build(&spec(), &t).unwrap();
        assert_eq!(p.panels.len(), 2);
        assert_eq!(p.columns, 2);
        assert_eq!(p.panels[0].title.as_deref(), Some("(a) r = 1.00"));
        let band = &p.panels[0].bands[0];
        assert!(band.upper[0].is_nan() && band.upper[1] == 0.4 && band.upper[2].is_nan());
        assert!(p.panels[1].bands[0].upper.iter().all(|v| v.is_nan()));
        assert_eq!(p.panels[0].y_range.0, 0.0);
    }

    #[test]
    fn colours_are_distinct_along_the_map() {
        assert_ne!(sequential(0, 10), sequential(9, 10));
        assert_eq!(sequential(0, 1), Rgb(68, 1, 84));
    }
}
