//! The `figure` block: a plot declared from a table.
//!
//! ```yaml
//! id: fig-survival
//! type: step                  # line | step | scatter | density | ridge
//! table: two-point-survival
//! x: u
//! y: survival                 # or a list: [survival, survival_mc] (later ones dashed)
//! series: r                   # optional: one curve per distinct value
//! facet: r                    # optional: one panel per distinct value
//! where: {measure: μ}         # optional row filter
//! shade:                      # density only: fill under y where a column exceeds a level
//!   - {column: localization, above: 1.0, label: "δ = 0"}
//! x_range: [0, 3]
//! y_range: [0, 1]
//! x_label: u
//! y_label: "sᵣ(u)"
//! vlines: [1]
//! legend: upper-right         # upper-left | lower-right | lower-left | none
//! columns: 3                  # panels per row
//! palette: sequential          # or categorical (default; numeric series are always sequential)
//! caption: Survival functions of the localization.
//! errors: {survival_mc: survival_se}   # optional: a band of ±2 standard errors
//!                              # (the second column) around a drawn y column
//! paper_panel: "2(a)"          # optional: the paper's panel this figure corresponds to;
//!                              # its read-off points are drawn, its checks summarised
//! panel_of: fig-survival-all   # optional: this figure is one panel of a multi-panel
//!                              # figure; the figures of a chapter naming the same one
//!                              # are drawn together, lettered (a), (b), … in order,
//!                              # where the first of them stands
//! ```
//!
//! A `ridge` figure draws half-histograms ("split violins") standing on vertical
//! baselines: one baseline per distinct `x` value, bins along the vertical axis with
//! edges from the two `bins` columns, each bin extending sideways by its `y` value.
//! `series` (at most two values) puts the first value to the left of the baseline
//! and the second to the right; `facet` makes panels; `ridge_label` names a column
//! whose value is printed above each baseline (e.g. the snapshot time when `x` is a
//! slot number). Each half is scaled so its widest bin reaches 45% of the gap
//! between neighbouring baselines (halves compare by shape, not height).
//!
//! ```yaml
//! id: fig-ridges
//! type: ridge
//! table: two-point-snapshots
//! x: slot
//! y: density
//! bins: [lower, upper]
//! series: measure
//! facet: phase
//! ridge_label: t
//! caption: Forward and backward snapshots of μ_t (left) and ν_t (right).
//! ```
//!
//! A `heatmap` figure draws a `value` column given on a grid of `x` and `y` values
//! (one row for every pair, in any order) as cells coloured along viridis, with a
//! colour bar to the right, contour lines at given levels and marked points from a
//! second table. `facet` (or `panel_of`) makes several maps side by side; they share
//! one colour scale unless `scale: panel`.
//!
//! ```yaml
//! id: fig-map
//! type: heatmap
//! table: plane-maps
//! where: {measure: ring}
//! x: x1
//! y: x2
//! value: localization
//! value_label: '$L_r$'        # the colour bar's label (default: the column)
//! value_range: [0, 2]          # optional: the values at the ends of the colour map
//! scale: shared                # or panel: each panel its own range
//! facet: r
//! contours: [{level: 1, label: '$L_r = 1$'}]
//! points: {table: plane-means, x: m1, y: m2, where: {measure: ring}, label: means}
//! caption: L_r over the plane.
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use super::table::{conditions, CellValue};
use super::{BlockCtx, Num};
use crate::table::Cell;

pub const FIGURE_TYPES: &[&str] = &["line", "step", "scatter", "density", "ridge", "heatmap"];

/// Largest heat map grid: values per axis of one panel.
pub const MAX_GRID_SIDE: usize = 250;

/// A `figure` block as written: one field per YAML key (see the module's example).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFigure {
    /// The figure's id: the target of `ref(id=…)`; a figure that is not a panel of
    /// another also names its SVG and PNG files by it.
    pub id: String,
    /// `type`: `line`, `step`, `scatter`, `density`, `ridge` or `heatmap`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The table drawn, by the name an experiment's `tables:` gives it.
    pub table: String,
    /// The column along the horizontal axis.
    pub x: String,
    /// The column drawn against `x`, or a list of them (the later ones dashed); for a
    /// heat map the vertical grid coordinate, for a ridge the bin heights.
    pub y: OneOrMany,
    /// A column whose distinct values each get their own curve.
    #[serde(default)]
    pub series: Option<String>,
    /// The name in the legend's `{name} = {value}` of a numeric series (default: the
    /// `series` column).
    #[serde(default)]
    pub series_label: Option<String>,
    /// Decimals of numeric series and facet values in labels, at most 15 (default: up
    /// to 6 significant digits).
    #[serde(default)]
    pub series_digits: Option<usize>,
    /// A column whose distinct values each get their own panel.
    #[serde(default)]
    pub facet: Option<String>,
    /// The name in a panel title's `{name} = {value}` of a numeric facet (default: the
    /// `facet` column).
    #[serde(default)]
    pub facet_label: Option<String>,
    /// `where`: the rows drawn are those with these values in these columns.
    #[serde(default, rename = "where")]
    pub filter: Option<BTreeMap<String, CellValue>>,
    /// Density only: regions under the curve filled where a column exceeds a level.
    #[serde(default)]
    pub shade: Vec<RawShade>,
    /// The horizontal axis from low to high (default: fitted to the data); positive on
    /// a log axis.
    #[serde(default)]
    pub x_range: Option<[Num; 2]>,
    /// The vertical axis from low to high (default: fitted to the data); positive on a
    /// log axis.
    #[serde(default)]
    pub y_range: Option<[Num; 2]>,
    /// The horizontal axis's label (default: the `x` column).
    #[serde(default)]
    pub x_label: Option<String>,
    /// The vertical axis's label (default: the first `y` column).
    #[serde(default)]
    pub y_label: Option<String>,
    /// A logarithmic horizontal axis (not for ridges and heat maps).
    #[serde(default)]
    pub x_log: bool,
    /// A logarithmic vertical axis (not for ridges and heat maps).
    #[serde(default)]
    pub y_log: bool,
    /// Where dashed grey vertical reference lines stand, in x units.
    #[serde(default)]
    pub vlines: Vec<Num>,
    /// Where dashed grey horizontal reference lines stand, in y units.
    #[serde(default)]
    pub hlines: Vec<Num>,
    /// `upper-right` (default), `upper-left`, `lower-right`, `lower-left` or `none`.
    #[serde(default)]
    pub legend: Option<String>,
    /// Panels per row, 1 to 6 (default 3).
    #[serde(default)]
    pub columns: Option<usize>,
    /// Legend names of the `y` columns when several are drawn, by column.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `categorical` (default) or `sequential`: series along viridis even when their
    /// values are text (numeric series always are).
    #[serde(default)]
    pub palette: Option<String>,
    /// Ridge only: the columns of each bin's lower and upper edge.
    #[serde(default)]
    pub bins: Option<[String; 2]>,
    /// Ridge only: a column whose value is printed above each baseline.
    #[serde(default)]
    pub ridge_label: Option<String>,
    /// The paper's panel this figure corresponds to, e.g. "6(c)": its read-off points
    /// are drawn, and its checks summarised under the caption.
    #[serde(default)]
    pub paper_panel: Option<String>,
    /// The id of a multi-panel figure this block is one panel of.
    #[serde(default)]
    pub panel_of: Option<String>,
    /// Drawn `y` column → its standard-error column: a band of ±2 standard errors.
    #[serde(default)]
    pub errors: BTreeMap<String, String>,
    /// Heat map only, and required there: the column whose values colour the cells.
    #[serde(default)]
    pub value: Option<String>,
    /// Heat map only: the colour bar's label (default: the `value` column).
    #[serde(default)]
    pub value_label: Option<String>,
    /// Heat map only: the values at the two ends of the colour map (default: the
    /// range of the drawn values).
    #[serde(default)]
    pub value_range: Option<[Num; 2]>,
    /// Heat map only: `shared` (default: one colour scale for all panels) or `panel`.
    #[serde(default)]
    pub scale: Option<String>,
    /// Heat map only: contour lines at given levels of `value`.
    #[serde(default)]
    pub contours: Vec<RawContour>,
    /// Heat map only: points marked over the cells, read from a table.
    #[serde(default)]
    pub points: Option<RawPoints>,
    /// The caption: Markdown with `$…$` math and `{{ … }}` expressions.
    pub caption: String,
}

/// One entry of a heat map's `contours`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContour {
    /// The value of the `value` column the line follows.
    pub level: Num,
    /// The line's legend entry.
    #[serde(default)]
    pub label: Option<String>,
}

/// A heat map's `points`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoints {
    /// The table the points are read from.
    pub table: String,
    /// The column of their horizontal coordinates.
    pub x: String,
    /// The column of their vertical coordinates.
    pub y: String,
    /// `where`: only the rows with these values in these columns are marked.
    #[serde(default, rename = "where")]
    pub filter: Option<BTreeMap<String, CellValue>>,
    /// The points' legend entry.
    #[serde(default)]
    pub label: Option<String>,
}

/// Heat map only: the value column and how it is drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct HeatSpec {
    /// The column whose values colour the cells.
    pub value: String,
    /// The colour bar's label (`value_label`; default: the value column).
    pub label: Option<String>,
    /// The values at the two ends of the colour map (`value_range`), low < high.
    pub range: Option<(f64, f64)>,
    /// One colour scale for all panels (the default) or one per panel.
    pub shared: bool,
    /// Contour lines drawn over the cells.
    pub contours: Vec<ContourSpec>,
    /// Points marked over the cells.
    pub points: Option<PointsSpec>,
}

/// A contour line of a heat map, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ContourSpec {
    /// The value the line follows.
    pub level: f64,
    /// Its legend entry.
    pub label: Option<String>,
}

/// Points marked on a heat map, read from a table.
#[derive(Clone, Debug, PartialEq)]
pub struct PointsSpec {
    /// The table the points are read from.
    pub table: String,
    /// The column of their horizontal coordinates.
    pub x: String,
    /// The column of their vertical coordinates.
    pub y: String,
    /// Only the rows with these values in these columns are marked.
    pub filter: Vec<(String, Cell)>,
    /// The points' legend entry.
    pub label: Option<String>,
}

/// A figure's `y`: one column, or a list of them.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// `y: survival`.
    One(String),
    /// `y: [survival, survival_mc]`.
    Many(Vec<String>),
}

/// One entry of a density figure's `shade`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShade {
    /// The column compared with the level, row by row.
    pub column: String,
    /// The level: the region under the curve is filled where `column` exceeds it.
    pub above: Num,
    /// The filled region's legend entry.
    #[serde(default)]
    pub label: Option<String>,
}

/// A figure's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FigureType {
    /// Points joined by straight lines.
    Line,
    /// A right-continuous step function (the value holds until the next x).
    Step,
    /// One marker per row, no connecting line.
    Scatter,
    /// A density curve, its axis from zero, with optional shaded regions.
    Density,
    /// Split half-histograms on vertical baselines.
    Ridge,
    /// Cells of a grid coloured by a value, with a colour bar.
    Heatmap,
}

/// A shaded region of a density figure, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Shade {
    /// The column compared with the level, row by row.
    pub column: String,
    /// The level: the region under the curve is filled where `column` exceeds it.
    pub above: f64,
    /// The filled region's legend entry.
    pub label: Option<String>,
}

/// A `figure` block, checked: what `crate::figure` draws.
#[derive(Clone, Debug, PartialEq)]
pub struct FigureSpec {
    /// The figure's id: the target of `ref(id=…)`; a figure that is not a panel of
    /// another also names its SVG and PNG files by it.
    pub id: String,
    /// What is drawn: lines, steps, markers, a density, ridges or a heat map.
    pub kind: FigureType,
    /// The table drawn.
    pub table: String,
    /// The column along the horizontal axis.
    pub x: String,
    /// The columns drawn against `x`, at least one (the later ones dashed).
    pub ys: Vec<String>,
    /// A column whose distinct values each get their own curve.
    pub series: Option<String>,
    /// Legend label of a series: `{name} = {value}`; `series_label` replaces the name.
    pub series_label: Option<String>,
    /// Decimals of numeric series and facet values in labels (none: up to 6
    /// significant digits).
    pub series_digits: Option<usize>,
    /// A column whose distinct values each get their own panel.
    pub facet: Option<String>,
    /// Panel title of a facet: `{name} = {value}`; `facet_label` replaces the name.
    pub facet_label: Option<String>,
    /// The rows drawn are those with these values in these columns.
    pub filter: Vec<(String, Cell)>,
    /// Density only: regions under the curve filled where a column exceeds a level.
    pub shade: Vec<Shade>,
    /// The horizontal axis's range, low < high (none: fitted to the data).
    pub x_range: Option<(f64, f64)>,
    /// The vertical axis's range, low < high (none: fitted to the data).
    pub y_range: Option<(f64, f64)>,
    /// The horizontal axis's label (none: the `x` column).
    pub x_label: Option<String>,
    /// The vertical axis's label (none: the first `y` column).
    pub y_label: Option<String>,
    /// A logarithmic horizontal axis.
    pub x_log: bool,
    /// A logarithmic vertical axis.
    pub y_log: bool,
    /// Where vertical reference lines stand, in x units.
    pub vlines: Vec<f64>,
    /// Where horizontal reference lines stand, in y units.
    pub hlines: Vec<f64>,
    /// Where the legend goes; `None` draws none (`legend: none`).
    pub legend: Option<crate::figure::plot::LegendPosition>,
    /// Panels per row, 1 to 6 (default 3).
    pub columns: usize,
    /// Colour series along a sequential map even when they are labelled by text
    /// (e.g. measures ordered by a parameter); numeric series always are.
    pub sequential: bool,
    /// Legend names for y columns when several are drawn.
    pub labels: BTreeMap<String, String>,
    /// Ridge only: the columns holding each bin's lower and upper edge.
    pub bins: Option<(String, String)>,
    /// Ridge only: a column printed above each baseline.
    pub ridge_label: Option<String>,
    /// The paper's figure panel this one corresponds to, e.g. "6(c)".
    pub paper_panel: Option<String>,
    /// y column → its standard-error column: drawn as a band of ±2 standard errors.
    pub errors: BTreeMap<String, String>,
    /// The multi-panel figure this one is a panel of.
    pub panel_of: Option<String>,
    /// Heat map only: the value column, colour scale, contours and points.
    pub heat: Option<HeatSpec>,
    /// The caption: Markdown with `$…$` math and `{{ … }}` expressions.
    pub caption: String,
    /// The chapter line of the block's opening fence.
    pub line: usize,
}

impl FigureSpec {
    /// Every column the figure reads, for validation against the table's schema.
    pub fn columns_used(&self) -> Vec<(&'static str, &str)> {
        let mut v: Vec<(&'static str, &str)> = vec![("x", self.x.as_str())];
        v.extend(self.ys.iter().map(|y| ("y", y.as_str())));
        if let Some(s) = &self.series {
            v.push(("series", s));
        }
        if let Some(f) = &self.facet {
            v.push(("facet", f));
        }
        v.extend(self.shade.iter().map(|s| ("shade", s.column.as_str())));
        v.extend(self.filter.iter().map(|(c, _)| ("where", c.as_str())));
        if let Some((lo, hi)) = &self.bins {
            v.push(("bins", lo));
            v.push(("bins", hi));
        }
        if let Some(l) = &self.ridge_label {
            v.push(("ridge_label", l));
        }
        for (y, se) in &self.errors {
            v.push(("y", y));
            v.push(("y", se));
        }
        if let Some(h) = &self.heat {
            v.push(("value", h.value.as_str()));
        }
        v
    }
}

pub fn validate(ctx: &mut BlockCtx) -> Option<FigureSpec> {
    use crate::figure::plot::LegendPosition;
    let raw: RawFigure = ctx.parse_or_report()?;
    let id = ctx.id(&raw.id, "id");
    let kind = match raw.kind.as_str() {
        "line" => FigureType::Line,
        "step" => FigureType::Step,
        "scatter" => FigureType::Scatter,
        "density" => FigureType::Density,
        "ridge" => FigureType::Ridge,
        "heatmap" => FigureType::Heatmap,
        other => {
            ctx.error_hint(
                "type",
                format!("unknown figure type `{other}`"),
                crate::diagnostic::suggest(other, FIGURE_TYPES),
            );
            return None;
        }
    };
    let ys = match &raw.y {
        OneOrMany::One(s) => vec![s.clone()],
        OneOrMany::Many(v) => v.clone(),
    };
    if ys.is_empty() {
        ctx.error("y", "`y` needs at least one column");
    }
    let range = |ctx: &mut BlockCtx, r: &Option<[Num; 2]>, path: &str, log: bool| {
        let [a, b] = r.as_ref()?;
        let lo = ctx.num_where(a, &format!("{path}[0]"), "a finite number", |_| true)?;
        let hi = ctx.num_where(b, &format!("{path}[1]"), "a finite number", |_| true)?;
        if hi <= lo {
            ctx.error(
                path,
                format!("`{path}` must go from low to high, got [{lo}, {hi}]"),
            );
            return None;
        }
        if log && lo <= 0.0 {
            ctx.error(
                path,
                format!("a log axis needs a positive range, got [{lo}, {hi}]"),
            );
            return None;
        }
        Some((lo, hi))
    };
    let x_range = range(ctx, &raw.x_range, "x_range", raw.x_log);
    let y_range = range(ctx, &raw.y_range, "y_range", raw.y_log);
    let nums = |ctx: &mut BlockCtx, v: &[Num], path: &str| -> Vec<f64> {
        v.iter()
            .enumerate()
            .filter_map(|(i, n)| ctx.num_where(n, &format!("{path}[{i}]"), "finite", |_| true))
            .collect()
    };
    let vlines = nums(ctx, &raw.vlines, "vlines");
    let hlines = nums(ctx, &raw.hlines, "hlines");
    let mut shade = Vec::new();
    for (i, s) in raw.shade.iter().enumerate() {
        if let Some(above) = ctx.num(&s.above, &format!("shade[{i}].above")) {
            shade.push(Shade {
                column: s.column.clone(),
                above,
                label: s.label.clone(),
            });
        }
    }
    if !shade.is_empty() && kind != FigureType::Density {
        ctx.error("shade", "`shade` only applies to figures of type `density`");
    }
    if let Some(g) = &raw.panel_of {
        if !crate::chapter::valid_id(g) {
            ctx.error(
                "panel_of",
                format!("`{g}` is not a valid figure id (lowercase letters, digits, - and _)"),
            );
        }
    }
    let legend = match raw.legend.as_deref() {
        None | Some("upper-right") => Some(LegendPosition::UpperRight),
        Some("upper-left") => Some(LegendPosition::UpperLeft),
        Some("lower-right") => Some(LegendPosition::LowerRight),
        Some("lower-left") => Some(LegendPosition::LowerLeft),
        Some("none") => None,
        Some(other) => {
            let opts = [
                "upper-right",
                "upper-left",
                "lower-right",
                "lower-left",
                "none",
            ];
            ctx.error_hint(
                "legend",
                format!("unknown legend position `{other}`"),
                crate::diagnostic::suggest(other, &opts),
            );
            None
        }
    };
    let columns = raw.columns.unwrap_or(3);
    if columns == 0 || columns > 6 {
        ctx.error("columns", "`columns` must be between 1 and 6");
    }
    if raw.series_digits.is_some_and(|d| d > 15) {
        ctx.error("series_digits", "`series_digits` must be at most 15");
    }
    let sequential = match raw.palette.as_deref() {
        None | Some("categorical") => false,
        Some("sequential") => true,
        Some(other) => {
            ctx.error_hint(
                "palette",
                format!("unknown palette `{other}`"),
                crate::diagnostic::suggest(other, &["categorical", "sequential"]),
            );
            false
        }
    };
    let heat = heat(ctx, &raw, kind, &ys);
    let bins = raw.bins.map(|[lo, hi]| (lo, hi));
    if kind == FigureType::Ridge {
        if bins.is_none() {
            ctx.error_hint(
                "bins",
                "a ridge figure needs the columns of the bin edges",
                "add e.g. `bins: [lower, upper]`",
            );
        }
        if ys.len() > 1 {
            ctx.error(
                "y",
                "a ridge figure draws one column (the bin heights) as widths",
            );
        }
        for (on, field) in [(raw.x_log, "x_log"), (raw.y_log, "y_log")] {
            if on {
                ctx.error(field, "a ridge figure has linear axes");
            }
        }
    } else {
        if bins.is_some() {
            ctx.error("bins", "`bins` only applies to figures of type `ridge`");
        }
        if raw.ridge_label.is_some() {
            ctx.error(
                "ridge_label",
                "`ridge_label` only applies to figures of type `ridge`",
            );
        }
    }
    for y in raw.errors.keys() {
        if !ys.contains(y) {
            ctx.error_hint(
                "errors",
                format!("`errors` names `{y}`, which the figure does not draw"),
                format!("give standard errors for drawn columns: {}", ys.join(", ")),
            );
        }
    }
    let filter = conditions(ctx, &raw.filter);
    Some(FigureSpec {
        id,
        kind,
        table: raw.table,
        x: raw.x,
        ys,
        series: raw.series,
        series_label: raw.series_label,
        series_digits: raw.series_digits,
        facet: raw.facet,
        facet_label: raw.facet_label,
        filter,
        shade,
        x_range,
        y_range,
        x_label: raw.x_label,
        y_label: raw.y_label,
        x_log: raw.x_log,
        y_log: raw.y_log,
        vlines,
        hlines,
        legend,
        columns,
        sequential,
        labels: raw.labels,
        bins,
        ridge_label: raw.ridge_label,
        paper_panel: raw.paper_panel.map(|p| p.trim().to_string()),
        errors: raw.errors,
        panel_of: raw.panel_of,
        heat,
        caption: raw.caption,
        line: ctx.block.fence_line,
    })
}

/// The heat map fields: required and checked for `type: heatmap`, refused elsewhere.
fn heat(ctx: &mut BlockCtx, raw: &RawFigure, kind: FigureType, ys: &[String]) -> Option<HeatSpec> {
    if kind != FigureType::Heatmap {
        let given = [
            ("value", raw.value.is_some()),
            ("value_label", raw.value_label.is_some()),
            ("value_range", raw.value_range.is_some()),
            ("scale", raw.scale.is_some()),
            ("contours", !raw.contours.is_empty()),
            ("points", raw.points.is_some()),
        ];
        for (field, on) in given {
            if on {
                ctx.error(
                    field,
                    format!("`{field}` only applies to figures of type `heatmap`"),
                );
            }
        }
        return None;
    }
    let range = match &raw.value_range {
        Some([a, b]) => {
            let lo = ctx.num_where(a, "value_range[0]", "a finite number", |_| true);
            let hi = ctx.num_where(b, "value_range[1]", "a finite number", |_| true);
            match (lo, hi) {
                (Some(lo), Some(hi)) if hi > lo => Some((lo, hi)),
                (Some(lo), Some(hi)) => {
                    ctx.error(
                        "value_range",
                        format!("`value_range` must go from low to high, got [{lo}, {hi}]"),
                    );
                    None
                }
                _ => None,
            }
        }
        None => None,
    };
    let shared = match raw.scale.as_deref() {
        None | Some("shared") => true,
        Some("panel") => false,
        Some(other) => {
            ctx.error_hint(
                "scale",
                format!("unknown colour scale `{other}`"),
                crate::diagnostic::suggest(other, &["shared", "panel"]),
            );
            true
        }
    };
    let mut contours = Vec::new();
    for (i, c) in raw.contours.iter().enumerate() {
        if let Some(level) = ctx.num_where(
            &c.level,
            &format!("contours[{i}].level"),
            "a finite number",
            |_| true,
        ) {
            contours.push(ContourSpec {
                level,
                label: c.label.clone(),
            });
        }
    }
    let points = raw.points.as_ref().map(|p| PointsSpec {
        table: p.table.clone(),
        x: p.x.clone(),
        y: p.y.clone(),
        filter: conditions(ctx, &p.filter),
        label: p.label.clone(),
    });
    let Some(value) = raw.value.clone() else {
        ctx.error_hint(
            "value",
            "a heat map needs the column whose values colour the cells",
            "add e.g. `value: localization`",
        );
        return None;
    };
    if ys.len() != 1 {
        ctx.error(
            "y",
            "a heat map takes one `y` column: the second coordinate of its grid",
        );
    }
    let refuse = [
        ("series", raw.series.is_some(), "colour comes from `value`"),
        (
            "errors",
            !raw.errors.is_empty(),
            "a heat map has no error bands",
        ),
        ("x_log", raw.x_log, "a heat map has linear axes"),
        ("y_log", raw.y_log, "a heat map has linear axes"),
    ];
    for (field, on, why) in refuse {
        if on {
            ctx.error(
                field,
                format!("`{field}` does not apply to a heat map: {why}"),
            );
        }
    }
    Some(HeatSpec {
        value,
        label: raw.value_label.clone(),
        range,
        shared,
        contours,
        points,
    })
}
