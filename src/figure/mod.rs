//! Stage 5, *draw*: a validated [`FigureSpec`] plus its table becomes a [`Plot`]
//! (plain data, `plot.rs`), which `draw.rs` renders to SVG (and rasterises to PNG).
//!
//! This module decides *what* is drawn: which rows, how they split into series and
//! panels, colours, ranges, labels. `draw.rs` decides only how it looks. Line, step
//! and density figures become lines (and shaded bands); ridge figures become
//! half-histograms ([`Ridge`]) standing on vertical baselines (`build_ridge`);
//! heat maps become a grid of values ([`Heatmap`], `build_heatmap`) with contour
//! lines from `contour.rs`, on one colour scale across the panels unless asked not.

pub mod contour;
pub mod draw;
pub mod plot;
pub mod text;

use crate::spec::figure::{FigureSpec, FigureType};
use crate::table::{format_number, Cell, Table};
use plot::*;

/// Panel size in CSS pixels; the PNG is drawn at twice this.
pub const PANEL_WIDTH: u32 = 480;
pub const PANEL_HEIGHT: u32 = 360;
pub const PNG_SCALE: f64 = 2.0;

/// Okabe and Ito's colour-blind-safe palette (blue, vermillion, bluish green,
/// reddish purple, orange, sky blue, black), without its yellow, which is too pale on
/// white. Ordered series use viridis instead, also safe for colour-blind readers.
const CATEGORICAL: [Rgb; 7] = [
    Rgb(0, 114, 178),
    Rgb(213, 94, 0),
    Rgb(0, 158, 115),
    Rgb(204, 121, 167),
    Rgb(230, 159, 0),
    Rgb(86, 180, 233),
    Rgb(0, 0, 0),
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
    viridis(x)
}

/// Viridis at `x` in [0, 1] (clamped; NaN gives the dark end), interpolated linearly
/// between its stops.
pub fn viridis(x: f64) -> Rgb {
    let x = if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
    let pos = x * (VIRIDIS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - k as f64;
    let (a, b) = (VIRIDIS[k], VIRIDIS[k + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

pub fn categorical(i: usize) -> Rgb {
    CATEGORICAL[i % CATEGORICAL.len()]
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

/// The groups a figure splits `rows` into by a column: its distinct values in order of
/// appearance, or one group (`None`) when the figure names no such column.
fn split_by(cells: &Option<Vec<Cell>>, rows: &[usize]) -> Vec<Option<Cell>> {
    match cells {
        Some(c) => distinct(&rows.iter().map(|&i| c[i].clone()).collect::<Vec<_>>())
            .into_iter()
            .map(Some)
            .collect(),
        None => vec![None],
    }
}

/// The `rows` in `group` of the column `cells`, in order (all of them when there is no
/// such column).
fn rows_in(rows: &[usize], cells: &Option<Vec<Cell>>, group: &Option<Cell>) -> Vec<usize> {
    let in_group = |i: usize| match (group, cells) {
        (Some(v), Some(c)) => c[i].matches(v),
        _ => true,
    };
    rows.iter().copied().filter(|&i| in_group(i)).collect()
}

fn cell_label(c: &Cell, digits: Option<usize>) -> String {
    match c {
        Cell::Number(v) => format_number(*v, digits),
        Cell::Text(s) => s.clone(),
    }
}

/// The rows of `table` that pass the figure's `where` filter; an error when none does.
fn selected_rows(spec: &FigureSpec, table: &Table) -> Result<Vec<usize>, String> {
    let rows = table.select(&spec.filter)?;
    if rows.is_empty() {
        return Err(format!(
            "figure `{}`: no row of table `{}` matches its `where` filter",
            spec.id, table.name
        ));
    }
    Ok(rows)
}

/// Build the plot for `spec` from `table`.
pub fn build(spec: &FigureSpec, table: &Table) -> Result<Plot, String> {
    if spec.kind == FigureType::Ridge {
        return build_ridge(spec, table);
    }
    if spec.kind == FigureType::Heatmap {
        return build_heatmap(spec, table);
    }
    let rows = selected_rows(spec, table)?;
    let x_all = table.numbers(&spec.x)?;
    let ys_all: Vec<Vec<f64>> = spec
        .ys
        .iter()
        .map(|y| table.numbers(y))
        .collect::<Result<_, _>>()?;
    let facet_cells = spec.facet.as_ref().map(|f| table.cells(f)).transpose()?;
    let series_cells = spec.series.as_ref().map(|s| table.cells(s)).transpose()?;
    // Standard errors per drawn y column (a band of ±2 SE around it).
    let se_cols: Vec<Option<Vec<f64>>> = spec
        .ys
        .iter()
        .map(|y| spec.errors.get(y).map(|c| table.numbers(c)).transpose())
        .collect::<Result<_, _>>()?;
    let shade_cols: Vec<Vec<f64>> = spec
        .shade
        .iter()
        .map(|s| table.numbers(&s.column))
        .collect::<Result<_, _>>()?;

    let facets = split_by(&facet_cells, &rows);
    let series = split_by(&series_cells, &rows);
    let many_series = series.len() > 1;
    let ordered = series_cells
        .as_ref()
        .is_some_and(|c| c.iter().all(|x| matches!(x, Cell::Number(_))));

    let mut panels = Vec::new();
    for (fi, facet) in facets.iter().enumerate() {
        let mut lines = Vec::new();
        let mut bands = Vec::new();
        let in_facet = rows_in(&rows, &facet_cells, facet);
        for (si, s) in series.iter().enumerate() {
            let idx = rows_in(&in_facet, &series_cells, s);
            if idx.is_empty() {
                continue;
            }
            let xs: Vec<f64> = idx.iter().map(|&i| x_all[i]).collect();
            for (yi, y) in ys_all.iter().enumerate() {
                let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
                if !ys.iter().any(|v| v.is_finite()) {
                    // Nothing to draw (e.g. an exact value that exists for one phase
                    // only): no line and no legend entry.
                    continue;
                }
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
                    Cell::Text(t) => plain(t),
                    Cell::Number(_) => equals(&series_name, &cell_label(v, spec.series_digits)),
                };
                let label = match (s, spec.ys.len() > 1) {
                    (Some(v), false) => Some(value_label(v)),
                    (Some(v), true) => Some(format!("{} ({y_name})", value_label(v))),
                    (None, true) => Some(y_name),
                    (None, false) => None,
                };
                if let Some(se) = &se_cols[yi] {
                    let half: Vec<f64> = idx.iter().map(|&i| 2.0 * se[i]).collect();
                    bands.push(Band {
                        label: None,
                        xs: xs.clone(),
                        lower: ys.iter().zip(&half).map(|(y, h)| y - h).collect(),
                        upper: ys.iter().zip(&half).map(|(y, h)| y + h).collect(),
                        color,
                        opacity: 0.22,
                    });
                }
                lines.push(Line {
                    label,
                    xs: xs.clone(),
                    ys: ys.clone(),
                    color,
                    dash: DASHES[yi % DASHES.len()],
                    width: match spec.kind {
                        FigureType::Scatter => 0.0,
                        _ if yi == 0 => 1.8,
                        _ => 1.4,
                    },
                    step: spec.kind == FigureType::Step,
                    markers: spec.kind == FigureType::Scatter,
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
        let x_data = finite(&mut lines.iter().flat_map(|l| l.xs.iter().copied()));
        let x_range = fit(
            spec.x_range,
            pad(x_data, 0.0, spec.x_log),
            x_data,
            spec.x_log,
        );
        let y_data = finite(&mut lines.iter().flat_map(|l| l.ys.iter().copied()));
        let y_range = if spec.kind == FigureType::Density {
            // A density axis starts at zero; pad only above.
            let padded = (0.0, pad((0.0, y_data.1), 0.05, spec.y_log).1);
            fit(spec.y_range, padded, (0.0, y_data.1), spec.y_log)
        } else {
            fit(
                spec.y_range,
                pad(y_data, 0.05, spec.y_log),
                y_data,
                spec.y_log,
            )
        };
        let title = facet_title(spec, facet, fi, facets.len());
        panels.push(Panel {
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
            lines,
            ..base_panel(spec, title, x_range, y_range)
        });
    }
    Ok(plot_of(spec, panels))
}

/// Put the points read off the paper's panel on every panel of our figure, widening
/// an axis where a point (with its error bar) would fall outside it.
pub fn add_paper_marks(plot: &mut Plot, marks: &[PaperMark]) {
    for p in &mut plot.panels {
        p.paper_marks.extend_from_slice(marks);
        for m in marks {
            let widen = |(lo, hi): (f64, f64), v: f64, e: f64, log: bool| {
                let (a, b) = (v - e, v + e);
                if log || !(a.is_finite() && b.is_finite()) || (a >= lo && b <= hi) {
                    return (lo, hi);
                }
                let margin = 0.04 * (hi.max(b) - lo.min(a));
                (
                    if a < lo { a - margin } else { lo },
                    if b > hi { b + margin } else { hi },
                )
            };
            p.x_range = widen(p.x_range, m.x, m.x_error, p.x_scale == Scale::Log10);
            p.y_range = widen(p.y_range, m.y, m.y_error, p.y_scale == Scale::Log10);
        }
    }
}

/// An axis range that fits the data. A bound the spec gives is kept when it lies
/// near the data (within 15% of their span) or cuts into them (a deliberate crop);
/// a bound far beyond the data is replaced by the data's own, with its margin.
fn fit(spec: Option<(f64, f64)>, padded: (f64, f64), data: (f64, f64), log: bool) -> (f64, f64) {
    let Some((lo, hi)) = spec else {
        return padded;
    };
    let (a, b) = data;
    if log || !(a.is_finite() && b.is_finite()) || lo >= hi {
        return (lo, hi);
    }
    let slack = 0.15 * (b - a).max(1e-12);
    (
        if lo >= a - slack { lo } else { padded.0 },
        if hi <= b + slack { hi } else { padded.1 },
    )
}

/// A multi-panel figure: the figures of one chapter that name it in `panel_of`, in
/// the order they appear.
pub struct Group<'a> {
    pub id: String,
    pub members: Vec<&'a FigureSpec>,
}

/// The multi-panel figures among a chapter's figures, in order of first appearance.
pub fn groups<'a>(figures: impl Iterator<Item = &'a FigureSpec>) -> Vec<Group<'a>> {
    let mut out: Vec<Group<'a>> = Vec::new();
    for f in figures {
        let Some(g) = &f.panel_of else { continue };
        match out.iter_mut().find(|x| &x.id == g) {
            Some(x) => x.members.push(f),
            None => out.push(Group {
                id: g.clone(),
                members: vec![f],
            }),
        }
    }
    out
}

/// The letter of the `i`-th panel: a, b, c, …
pub fn panel_letter(i: usize) -> char {
    (b'a' + (i % 26) as u8) as char
}

/// The members' plots drawn as one figure, each member's panels lettered by its
/// place in the group: (a), (b), … Four panels make two rows of two (as in the
/// paper's Figures 6 and 10); up to three stand in one row.
pub fn combine(plots: &[&Plot]) -> Plot {
    let mut panels = Vec::new();
    for (k, plot) in plots.iter().enumerate() {
        for p in &plot.panels {
            let mut p = p.clone();
            let rest = p.title.as_deref().map(strip_letter).unwrap_or_default();
            let letter = panel_letter(k);
            p.title = Some(if rest.is_empty() {
                format!("({letter})")
            } else {
                format!("({letter}) {rest}")
            });
            panels.push(p);
        }
    }
    share_heat_range(&mut panels);
    let n = panels.len();
    Plot {
        columns: if n == 4 { 2 } else { n.clamp(1, 3) },
        panels,
        panel_width: PANEL_WIDTH,
        panel_height: PANEL_HEIGHT,
    }
}

/// A panel title without its leading letter: "(b) r = 1.50" → "r = 1.50".
fn strip_letter(title: &str) -> String {
    let t = title.trim();
    let mut c = t.chars();
    if let (Some('('), Some(l), Some(')')) = (c.next(), c.next(), c.next()) {
        if l.is_ascii_lowercase() {
            return c.as_str().trim().to_string();
        }
    }
    t.to_string()
}

/// A dashed grey reference line.
/// A panel of `spec` on the given ranges: its title, its axis labels (the x column and
/// the first y column unless the spec names them), reference lines and legend, linear
/// axes, and nothing drawn yet.
fn base_panel(
    spec: &FigureSpec,
    title: Option<String>,
    x_range: (f64, f64),
    y_range: (f64, f64),
) -> Panel {
    Panel {
        title,
        x_label: spec.x_label.clone().unwrap_or_else(|| spec.x.clone()),
        y_label: spec.y_label.clone().unwrap_or_else(|| spec.ys[0].clone()),
        x_range,
        y_range,
        x_scale: Scale::Linear,
        y_scale: Scale::Linear,
        bands: Vec::new(),
        ridges: Vec::new(),
        lines: Vec::new(),
        vlines: spec.vlines.iter().map(|&v| refline(v)).collect(),
        hlines: spec.hlines.iter().map(|&v| refline(v)).collect(),
        legend: spec.legend,
        annotations: Vec::new(),
        paper_marks: Vec::new(),
        heatmap: None,
    }
}

/// The figure of `spec` laid out on its columns (at most one per panel).
fn plot_of(spec: &FigureSpec, panels: Vec<Panel>) -> Plot {
    Plot {
        columns: spec.columns.min(panels.len()).max(1),
        panels,
        panel_width: PANEL_WIDTH,
        panel_height: PANEL_HEIGHT,
    }
}

fn refline(at: f64) -> RefLine {
    RefLine {
        at,
        label: None,
        color: Rgb(90, 90, 90),
        dash: Dash::Dashed,
    }
}

/// "(b) r = 1.50" for the second of several facets, "r = 1.50" for a single one.
fn facet_title(spec: &FigureSpec, facet: &Option<Cell>, fi: usize, n: usize) -> Option<String> {
    facet.as_ref().map(|f| {
        let name = spec
            .facet_label
            .clone()
            .or_else(|| spec.facet.clone())
            .unwrap_or_default();
        let letter = (b'a' + (fi % 26) as u8) as char;
        let value = match f {
            Cell::Text(t) => plain(t),
            Cell::Number(_) => equals(&name, &cell_label(f, spec.series_digits)),
        };
        if n > 1 {
            format!("({letter}) {value}")
        } else {
            value
        }
    })
}

/// A data value shown as text in a label: dollar signs are not math there.
fn plain(text: &str) -> String {
    text.replace('$', "\\$")
}

/// "`name` = `value`" as a label: inside the math when the name is a formula
/// (`$r$` gives `$r = 1.50$`), a column name as it is (`r = 1.50`).
fn equals(name: &str, value: &str) -> String {
    let value = value.replace('\u{2212}', "-");
    match name.strip_suffix('$') {
        Some(head) if name.starts_with('$') && !head[1..].contains('$') => {
            format!("{head} = {value}$")
        }
        // A one-letter column name (r, t, M) is a symbol.
        _ if name.len() == 1 && name.chars().all(|c| c.is_ascii_alphabetic()) => {
            format!("${name} = {value}$")
        }
        _ => format!("{} = {value}", plain(name)),
    }
}

/// How far the widest bin of a split violin reaches, as a share of the smallest gap
/// between neighbouring baselines (two halves then never touch their neighbours).
const RIDGE_REACH: f64 = 0.45;
const RIDGE_OPACITY: f64 = 0.55;

/// A ridge figure: per facet, one split violin per distinct `x` (its baseline), the
/// first series to the left and the second to the right. Each half is scaled on its
/// own so that its widest bin reaches the same width: the halves compare by shape, not
/// by height. Histograms at one time can differ in height by an order of magnitude (a
/// diffused point mass next to a wide mixture), and any common scale would reduce the
/// wide one to a sliver.
fn build_ridge(spec: &FigureSpec, table: &Table) -> Result<Plot, String> {
    let fail = |m: String| format!("figure `{}`: {m}", spec.id);
    let (lo_col, hi_col) = spec
        .bins
        .as_ref()
        .ok_or_else(|| fail("a ridge figure needs `bins`".into()))?;
    let rows = selected_rows(spec, table)?;
    let base_all = table.numbers(&spec.x)?;
    let width_all = table.numbers(&spec.ys[0])?;
    let (lo_all, hi_all) = (table.numbers(lo_col)?, table.numbers(hi_col)?);
    let facet_cells = spec.facet.as_ref().map(|f| table.cells(f)).transpose()?;
    let series_cells = spec.series.as_ref().map(|s| table.cells(s)).transpose()?;
    let label_cells = spec
        .ridge_label
        .as_ref()
        .map(|c| table.cells(c))
        .transpose()?;
    let facets = split_by(&facet_cells, &rows);
    let series = split_by(&series_cells, &rows);
    if series.len() > 2 {
        return Err(fail(format!(
            "a ridge figure splits into at most two series (left and right); `{}` has {} values",
            spec.series.as_deref().unwrap_or_default(),
            series.len()
        )));
    }

    let mut panels = Vec::new();
    for (fi, facet) in facets.iter().enumerate() {
        let in_facet = rows_in(&rows, &facet_cells, facet);
        let mut baselines: Vec<f64> = Vec::new();
        for &i in &in_facet {
            if !baselines.contains(&base_all[i]) {
                baselines.push(base_all[i]);
            }
        }
        baselines.sort_by(f64::total_cmp);
        let gap = baselines
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(f64::INFINITY, f64::min);
        let gap = if gap.is_finite() && gap > 0.0 {
            gap
        } else {
            1.0
        };
        let mut ridges = Vec::new();
        let mut annotations = Vec::new();
        for &b in &baselines {
            let at_base: Vec<usize> = in_facet
                .iter()
                .copied()
                .filter(|&i| base_all[i] == b)
                .collect();
            let mut halves = Vec::new();
            for (si, s) in series.iter().enumerate() {
                let mut idx = rows_in(&at_base, &series_cells, s);
                if idx.is_empty() {
                    continue;
                }
                idx.sort_by(|&p, &q| lo_all[p].total_cmp(&lo_all[q]));
                for w in idx.windows(2) {
                    let (end, start) = (hi_all[w[0]], lo_all[w[1]]);
                    if (end - start).abs() > 1e-9 * end.abs().max(start.abs()).max(1.0) {
                        return Err(fail(format!(
                            "the bins at {} = {} are not contiguous: one ends at {end}, the next starts at {start}",
                            spec.x,
                            format_number(b, None)
                        )));
                    }
                }
                let mut edges: Vec<f64> = idx.iter().map(|&i| lo_all[i]).collect();
                edges.push(hi_all[idx[idx.len() - 1]]);
                let widths: Vec<f64> = idx.iter().map(|&i| width_all[i]).collect();
                halves.push((si, s, edges, widths));
            }
            for (si, s, edges, widths) in halves {
                let peak = widths
                    .iter()
                    .copied()
                    .filter(|w| w.is_finite())
                    .fold(0.0, f64::max);
                let scale = if peak > 0.0 {
                    RIDGE_REACH * gap / peak
                } else {
                    0.0
                };
                ridges.push(Ridge {
                    label: s.as_ref().map(|v| cell_label(v, spec.series_digits)),
                    baseline: b,
                    edges,
                    widths: widths.iter().map(|w| w * scale).collect(),
                    side: if series.len() == 2 && si == 0 {
                        Side::Left
                    } else {
                        Side::Right
                    },
                    color: categorical(si),
                    opacity: RIDGE_OPACITY,
                });
            }
            if let (Some(cells), Some(name)) = (&label_cells, &spec.ridge_label) {
                if let Some(&i) = at_base.first() {
                    annotations.push(Annotation {
                        x: b,
                        y: f64::NAN,
                        // "t = 0.01" over the first baseline, the values alone
                        // over the others (they stand in a row, like a table).
                        text: {
                            let value = cell_label(&cells[i], spec.series_digits);
                            if annotations.is_empty() {
                                equals(name, &value)
                            } else {
                                format!("${}$", value.replace('\u{2212}', "-"))
                            }
                        },
                    });
                }
            }
        }
        let x_range = spec.x_range.unwrap_or_else(|| {
            let (a, z) = (baselines[0], baselines[baselines.len() - 1]);
            (a - 0.6 * gap, z + 0.6 * gap)
        });
        let y_range = spec.y_range.unwrap_or_else(|| {
            let (a, z) = ridges
                .iter()
                .flat_map(|r| r.edges.iter().copied())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, z), e| {
                    (a.min(e), z.max(e))
                });
            let (a, z) = pad((a, z), 0.03, false);
            // Headroom for the labels above the violins.
            let top = if annotations.is_empty() { 0.0 } else { 0.1 };
            (a, z + top * (z - a))
        });
        // Labels sit just inside the top of the frame.
        for a in &mut annotations {
            a.y = y_range.1 - 0.05 * (y_range.1 - y_range.0);
        }
        let title = facet_title(spec, facet, fi, facets.len());
        panels.push(Panel {
            y_label: spec.y_label.clone().unwrap_or_default(),
            ridges,
            annotations,
            ..base_panel(spec, title, x_range, y_range)
        });
    }
    Ok(plot_of(spec, panels))
}

/// Heat maps with a shared scale: every such panel gets the union of their ranges.
fn share_heat_range(panels: &mut [Panel]) {
    let union = panels
        .iter()
        .filter_map(|p| p.heatmap.as_ref().filter(|h| h.shared))
        .fold(None, |acc: Option<(f64, f64)>, h| {
            Some(acc.map_or(h.range, |(a, b)| (a.min(h.range.0), b.max(h.range.1))))
        });
    if let Some(range) = union {
        for h in panels.iter_mut().filter_map(|p| p.heatmap.as_mut()) {
            if h.shared {
                h.range = range;
            }
        }
    }
}

/// One panel's grid: (xs, ys, values with values[j * nx + i] at (xs[i], ys[j])).
type Grid = (Vec<f64>, Vec<f64>, Vec<f64>);

/// The rows `idx` as a grid of `x` by `y` values: every pair once, at least 2 × 2,
/// at most [`MAX_GRID_SIDE`] a side. `panel` names the panel in errors.
fn grid_of(
    spec: &FigureSpec,
    table: &Table,
    idx: &[usize],
    (x, y, v): (&[f64], &[f64], &[f64]),
    panel: &str,
) -> Result<Grid, String> {
    use crate::spec::figure::MAX_GRID_SIDE;
    let (xc, yc) = (&spec.x, &spec.ys[0]);
    let fix = format!(
        "a heat map needs one row of `{}` for every pair of an `x` value and a `y` value{panel} (choose the rows with `where` and `facet`)",
        table.name
    );
    let mut axes = [Vec::new(), Vec::new()];
    for (k, (col, vals)) in [(xc, x), (yc, y)].into_iter().enumerate() {
        for &i in idx {
            if !vals[i].is_finite() {
                return Err(format!(
                    "column `{col}` holds {} in row {}{panel}; {fix}",
                    vals[i],
                    i + 1
                ));
            }
            axes[k].push(vals[i]);
        }
        axes[k].sort_by(f64::total_cmp);
        axes[k].dedup();
        let n = axes[k].len();
        if n < 2 {
            return Err(format!(
                "column `{col}` takes {n} value{}{panel}, so the rows are not a grid; {fix}",
                if n == 1 { "" } else { "s" }
            ));
        }
        if n > MAX_GRID_SIDE {
            return Err(format!(
                "column `{col}` takes {n} values{panel}, more than the {MAX_GRID_SIDE} a heat map draws; use a coarser grid"
            ));
        }
    }
    let [xs, ys] = axes;
    let (nx, ny) = (xs.len(), ys.len());
    let mut values = vec![f64::NAN; nx * ny];
    let mut seen = vec![false; nx * ny];
    let show = |a: f64, b: f64| {
        format!(
            "({xc} = {}, {yc} = {})",
            format_number(a, None),
            format_number(b, None)
        )
    };
    for &r in idx {
        let i = xs.partition_point(|&q| q < x[r]);
        let j = ys.partition_point(|&q| q < y[r]);
        let k = j * nx + i;
        if seen[k] {
            return Err(format!(
                "the rows are not a regular grid: the point {} appears more than once{panel}; {fix}",
                show(x[r], y[r])
            ));
        }
        seen[k] = true;
        values[k] = v[r];
    }
    if let Some(k) = seen.iter().position(|s| !s) {
        return Err(format!(
            "the rows are not a regular grid: {} values of `{xc}` and {} of `{yc}` make {} points, but {} rows are given{panel} (the point {} is missing); {fix}",
            nx,
            ny,
            nx * ny,
            idx.len(),
            show(xs[k % nx], ys[k / nx])
        ));
    }
    Ok((xs, ys, values))
}

/// Where a grid's outer cells end: half a spacing beyond the outer centres.
fn cell_extent(c: &[f64]) -> (f64, f64) {
    let n = c.len();
    (
        c[0] - 0.5 * (c[1] - c[0]),
        c[n - 1] + 0.5 * (c[n - 1] - c[n - 2]),
    )
}

fn build_heatmap(spec: &FigureSpec, table: &Table) -> Result<Plot, String> {
    let heat = spec
        .heat
        .as_ref()
        .ok_or_else(|| "a heat map needs `value`".to_string())?;
    let rows = selected_rows(spec, table)?;
    let x_all = table.numbers(&spec.x)?;
    let y_all = table.numbers(&spec.ys[0])?;
    let v_all = table.numbers(&heat.value)?;
    let facet_cells = spec.facet.as_ref().map(|f| table.cells(f)).transpose()?;
    let facets = split_by(&facet_cells, &rows);
    let mut panels = Vec::new();
    for (fi, facet) in facets.iter().enumerate() {
        let idx = rows_in(&rows, &facet_cells, facet);
        let panel = match (facet, &spec.facet) {
            (Some(f), Some(name)) => format!(" in the panel {name} = {}", cell_label(f, None)),
            _ => String::new(),
        };
        let (xs, ys, values) = grid_of(spec, table, &idx, (&x_all, &y_all, &v_all), &panel)?;
        let contours = heat
            .contours
            .iter()
            .map(|c| Contour {
                level: c.level,
                label: c.label.clone(),
                paths: contour::contour(&xs, &ys, &values, c.level),
            })
            .collect();
        let finite = values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let range = heat.range.unwrap_or(if finite.0.is_finite() {
            finite
        } else {
            (0.0, 1.0)
        });
        let x_range = spec.x_range.unwrap_or_else(|| cell_extent(&xs));
        let y_range = spec.y_range.unwrap_or_else(|| cell_extent(&ys));
        let title = facet_title(spec, facet, fi, facets.len());
        panels.push(Panel {
            heatmap: Some(Heatmap {
                xs,
                ys,
                values,
                range,
                shared: heat.shared,
                label: heat.label.clone().unwrap_or_else(|| heat.value.clone()),
                contours,
                points: Vec::new(),
                points_label: None,
            }),
            ..base_panel(spec, title, x_range, y_range)
        });
    }
    share_heat_range(&mut panels);
    Ok(plot_of(spec, panels))
}

/// Marks the points of a heat map's `points` table (its rows that pass the points'
/// `where`) on every panel.
pub fn add_points(plot: &mut Plot, spec: &FigureSpec, table: &Table) -> Result<(), String> {
    let Some(p) = spec.heat.as_ref().and_then(|h| h.points.as_ref()) else {
        return Ok(());
    };
    let rows = table.select(&p.filter)?;
    if rows.is_empty() {
        return Err(format!(
            "no row of table `{}` matches the `where` of `points`",
            table.name
        ));
    }
    let (xs, ys) = (table.numbers(&p.x)?, table.numbers(&p.y)?);
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .map(|&i| (xs[i], ys[i]))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .collect();
    for h in plot.panels.iter_mut().filter_map(|q| q.heatmap.as_mut()) {
        h.points.extend_from_slice(&pts);
        h.points_label = p.label.clone();
    }
    Ok(())
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
            bins: None,
            ridge_label: None,
            paper_panel: None,
            panel_of: None,
            errors: Default::default(),
            heat: None,
            caption: "c".into(),
            line: 1,
        }
    }

    #[test]
    fn ridges_split_and_scale_per_half() {
        // Two slots, μ and ν, two bins each; each half's widest bin reaches 45% of the
        // gap between the slots, the others in proportion.
        let mut phase = Vec::new();
        let mut cols: [Vec<f64>; 4] = Default::default();
        let mut who = Vec::new();
        for (slot, dens) in [
            (1.0, [[0.5, 0.5], [1.0, 0.0]]),
            (2.0, [[0.2, 0.4], [0.8, 0.1]]),
        ] {
            for (m, d) in ["μ", "ν"].iter().zip(dens) {
                for (k, v) in d.iter().enumerate() {
                    phase.push("forward".to_string());
                    who.push(m.to_string());
                    for (c, x) in cols.iter_mut().zip([slot, k as f64, k as f64 + 1.0, *v]) {
                        c.push(x);
                    }
                }
            }
        }
        let [slot, lower, upper, density] = cols;
        let t = TableBuilder::new()
            .text("phase", phase)
            .number("slot", slot)
            .text("measure", who)
            .number("lower", lower)
            .number("upper", upper)
            .number("density", density)
            .build("s")
            .unwrap();
        let mut s = spec();
        s.kind = FigureType::Ridge;
        s.x = "slot".into();
        s.ys = vec!["density".into()];
        s.series = Some("measure".into());
        s.facet = Some("phase".into());
        s.shade = vec![];
        s.bins = Some(("lower".into(), "upper".into()));
        s.ridge_label = Some("slot".into());
        let p = build(&s, &t).unwrap();
        assert_eq!(p.panels.len(), 1);
        let ridges = &p.panels[0].ridges;
        assert_eq!(ridges.len(), 4);
        assert_eq!(ridges[0].side, Side::Left);
        assert_eq!(ridges[1].side, Side::Right);
        assert_eq!(ridges[0].edges, vec![0.0, 1.0, 2.0]);
        assert!((ridges[3].widths[0] - 0.45).abs() < 1e-12);
        assert!((ridges[3].widths[1] - 0.45 * 0.125).abs() < 1e-12);
        assert!((ridges[2].widths[1] - 0.45).abs() < 1e-12);
        assert!((ridges[2].widths[0] - 0.45 * 0.5).abs() < 1e-12);
        assert_eq!(p.panels[0].annotations.len(), 2);
        assert_eq!(p.panels[0].annotations[0].text, "slot = 1.00");
        assert_eq!(p.panels[0].annotations[1].text, "$2.00$");
        // Three series cannot split two ways.
        let mut bad = s.clone();
        bad.series = Some("density".into());
        assert!(build(&bad, &t).unwrap_err().contains("at most two"));
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
        assert_eq!(p.panels[0].title.as_deref(), Some("(a) $r = 1.00$"));
        let band = &p.panels[0].bands[0];
        assert!(band.upper[0].is_nan() && band.upper[1] == 0.4 && band.upper[2].is_nan());
        assert!(p.panels[1].bands[0].upper.iter().all(|v| v.is_nan()));
        assert_eq!(p.panels[0].y_range.0, 0.0);
    }

    /// Two rows of the density columns `spec()` reads, plus whatever `b` already has.
    fn two_points(b: TableBuilder) -> Table {
        b.number("r", vec![1.0, 1.0])
            .number("y", vec![0.0, 1.0])
            .number("density", vec![0.5, 0.7])
            .number("loc", vec![0.0, 0.0])
            .build("d")
            .unwrap()
    }

    /// `spec()` as one panel without shading.
    fn one_panel() -> FigureSpec {
        let mut s = spec();
        s.facet = None;
        s.shade.clear();
        s
    }

    #[test]
    fn scatter_draws_markers_without_a_line() {
        let t = two_points(TableBuilder::new());
        let mut s = one_panel();
        s.kind = FigureType::Scatter;
        let p = build(&s, &t).unwrap();
        let l = &p.panels[0].lines[0];
        assert!(l.markers && l.width == 0.0 && !l.step);
    }

    #[test]
    fn standard_errors_become_a_band_of_two_se() {
        let t = two_points(TableBuilder::new().number("se", vec![0.01, 0.02]));
        let mut s = one_panel();
        s.errors.insert("density".into(), "se".into());
        let p = build(&s, &t).unwrap();
        let band = &p.panels[0].bands[0];
        assert!((band.lower[0] - 0.48).abs() < 1e-12 && (band.upper[1] - 0.74).abs() < 1e-12);
        assert_eq!(band.color, p.panels[0].lines[0].color);
    }

    #[test]
    fn groups_combine_into_lettered_panels() {
        let t = two_points(TableBuilder::new());
        let mut specs = Vec::new();
        for (id, group) in [
            ("a", Some("g")),
            ("b", None),
            ("c", Some("g")),
            ("d", Some("g")),
            ("e", Some("g")),
        ] {
            let mut s = one_panel();
            s.id = id.into();
            s.panel_of = group.map(String::from);
            specs.push(s);
        }
        let gs = groups(specs.iter());
        assert_eq!(gs.len(), 1);
        let ids: Vec<&str> = gs[0].members.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["a", "c", "d", "e"]);
        let plots: Vec<Plot> = gs[0]
            .members
            .iter()
            .map(|f| build(f, &t).unwrap())
            .collect();
        let mut refs: Vec<&Plot> = plots.iter().collect();
        let p = combine(&refs);
        assert_eq!((p.panels.len(), p.columns), (4, 2));
        let titles: Vec<&str> = p
            .panels
            .iter()
            .map(|p| p.title.as_deref().unwrap())
            .collect();
        assert_eq!(titles, ["(a)", "(b)", "(c)", "(d)"]);
        refs.truncate(3);
        assert_eq!(combine(&refs).columns, 3);
        assert_eq!(strip_letter("(b) $r = 1$"), "$r = 1$");
        assert_eq!(strip_letter("(B) x"), "(B) x");
    }

    /// A heat map of `value` = r (x + y) over x ∈ {0, 1, 2}, y ∈ {0, 1}, for r = 1, 2,
    /// with the rows in a scrambled order.
    fn heat_table() -> Table {
        let mut rows = Vec::new();
        for r in [1.0, 2.0] {
            for x in [2.0, 0.0, 1.0] {
                for y in [1.0, 0.0] {
                    rows.push((r, x, y, r * (x + y)));
                }
            }
        }
        rows.swap(1, 7);
        TableBuilder::new()
            .number("r", rows.iter().map(|t| t.0).collect())
            .number("x", rows.iter().map(|t| t.1).collect())
            .number("y", rows.iter().map(|t| t.2).collect())
            .number("v", rows.iter().map(|t| t.3).collect())
            .build("h")
            .unwrap()
    }

    fn heat_spec() -> FigureSpec {
        let mut s = spec();
        s.kind = FigureType::Heatmap;
        s.x = "x".into();
        s.ys = vec!["y".into()];
        s.shade.clear();
        s.heat = Some(crate::spec::figure::HeatSpec {
            value: "v".into(),
            label: Some("$v$".into()),
            range: None,
            shared: true,
            contours: vec![crate::spec::figure::ContourSpec {
                level: 1.5,
                label: Some("$v = 1.5$".into()),
            }],
            points: None,
        });
        s
    }

    #[test]
    fn heat_maps_read_the_grid_in_any_order_on_one_scale() {
        let p = build(&heat_spec(), &heat_table()).unwrap();
        assert_eq!(p.panels.len(), 2);
        for (k, panel) in p.panels.iter().enumerate() {
            let r = (k + 1) as f64;
            let h = panel.heatmap.as_ref().unwrap();
            assert_eq!(
                (h.xs.as_slice(), h.ys.as_slice()),
                (&[0.0, 1.0, 2.0][..], &[0.0, 1.0][..])
            );
            for j in 0..2 {
                for i in 0..3 {
                    assert_eq!(h.values[j * 3 + i], r * (i + j) as f64);
                }
            }
            // Shared: both panels span the values of both.
            assert_eq!(h.range, (0.0, 6.0));
            assert_eq!(panel.x_range, (-0.5, 2.5));
            assert_eq!(panel.y_range, (-0.5, 1.5));
            assert!(!h.contours[0].paths.is_empty());
            assert!(panel.lines.is_empty());
        }
        // Each its own scale.
        let mut own = heat_spec();
        own.heat.as_mut().unwrap().shared = false;
        let p = build(&own, &heat_table()).unwrap();
        let ranges: Vec<_> = p
            .panels
            .iter()
            .map(|q| q.heatmap.as_ref().unwrap().range)
            .collect();
        assert_eq!(ranges, [(0.0, 3.0), (0.0, 6.0)]);
        // Panels of a multi-panel figure share theirs too, unless they opt out.
        let mut one = heat_spec();
        one.facet = None;
        one.filter = vec![("r".into(), Cell::Number(1.0))];
        let a = build(&one, &heat_table()).unwrap();
        one.filter = vec![("r".into(), Cell::Number(2.0))];
        let b = build(&one, &heat_table()).unwrap();
        let c = build(&own, &heat_table()).unwrap();
        let all = combine(&[&a, &b, &c]);
        let ranges: Vec<_> = all
            .panels
            .iter()
            .map(|q| q.heatmap.as_ref().unwrap().range)
            .collect();
        assert_eq!(ranges, [(0.0, 6.0), (0.0, 6.0), (0.0, 3.0), (0.0, 6.0)]);
    }

    #[test]
    fn heat_maps_refuse_rows_that_are_not_a_grid() {
        let t = heat_table();
        // Without the facet every point comes twice.
        let mut s = heat_spec();
        s.facet = None;
        let e = build(&s, &t).unwrap_err();
        assert!(e.contains("appears more than once"), "{e}");
        assert!(e.contains("(x = "), "{e}");
        // A missing point is named.
        let mut s = heat_spec();
        s.filter = vec![("v".into(), Cell::Number(2.0))];
        let t2 = TableBuilder::new()
            .number("r", vec![1.0, 1.0, 1.0])
            .number("x", vec![0.0, 1.0, 0.0])
            .number("y", vec![0.0, 0.0, 1.0])
            .number("v", vec![2.0, 2.0, 2.0])
            .build("h")
            .unwrap();
        let e = build(&s, &t2).unwrap_err();
        assert!(
            e.contains("(the point (x = 1, y = 1) is missing)") && e.contains("in the panel r = 1"),
            "{e}"
        );
        // One column of points is no grid.
        s.filter = vec![("x".into(), Cell::Number(0.0))];
        let e = build(&s, &t2).unwrap_err();
        assert!(e.contains("column `x` takes 1 value"), "{e}");
    }

    #[test]
    fn colours_are_distinct_along_the_map() {
        assert_ne!(sequential(0, 10), sequential(9, 10));
        assert_eq!(sequential(0, 1), Rgb(68, 1, 84));
    }
}
