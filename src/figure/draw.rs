//! Stage: draw. Turns a resolved [`Plot`] (from the figure builder) into a
//! standalone SVG document for the HTML report and PNG bytes for slides.
//!
//! The look follows a typeset paper: white background, a thin dark frame with
//! outward ticks, a very light grid at labelled ticks, Libertinus Serif text (see
//! `draw/font.rs`), panel titles above the axes, a legend on a semi-opaque white box.
//!
//! Axes, ticks and legends are laid out here rather than with plotters'
//! `ChartBuilder`: the linear and log coordinate types of plotters are different
//! types, tick labels need the paper's typography (10⁻², true minus), and all
//! geometry is clipped and dashed in CSS pixels (`draw/geom.rs`) before it reaches a
//! backend, so SVG and PNG come out of one code path (`draw/canvas.rs`). Output is a
//! pure function of the `Plot`: no clocks, no hash-map order, fonts from
//! `typst-assets`, registered once for all threads.

use super::plot::*;
use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};

// Submodules are named by path so that the module resolves the same whether this
// file is reached through `figure/mod.rs` or through a `#[path]` attribute.
#[path = "draw/axis.rs"]
mod axis;
#[path = "draw/canvas.rs"]
mod canvas;
#[path = "draw/font.rs"]
mod font;
#[path = "draw/geom.rs"]
mod geom;
#[path = "draw/png.rs"]
mod png;

use axis::{Axis, Tick};
use canvas::{Align, Canvas, Target, TextSpec};
use geom::{Pt, Rect};

/// Why a figure could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum DrawError {
    /// The figure as a whole is unusable (no panels, zero size, zero columns).
    #[error("invalid figure: {0}")]
    Figure(String),
    /// One panel holds inconsistent data (0-based `panel`, shown 1-based).
    #[error("panel {}{}: {message}", .panel + 1, title_suffix(.title))]
    Panel {
        panel: usize,
        title: Option<String>,
        message: String,
    },
    /// `render_png` was given a scale that is not positive and finite, or that
    /// makes the image unreasonably large.
    #[error(
        "invalid PNG scale {0} (must be positive and give at most {MAX_PNG_SIDE} pixels a side)"
    )]
    Scale(f64),
    /// The embedded font could not be loaded.
    #[error("font: {0}")]
    Font(String),
    /// plotters reported an error while drawing.
    #[error("drawing {}: {message}", match .panel { Some(p) => format!("panel {}", p + 1), None => "figure".to_string() })]
    Backend {
        panel: Option<usize>,
        message: String,
    },
}

fn title_suffix(title: &Option<String>) -> String {
    title
        .as_ref()
        .map(|t| format!(" (\u{201c}{t}\u{201d})"))
        .unwrap_or_default()
}

/// Largest PNG side accepted by `render_png`, in output pixels.
pub const MAX_PNG_SIDE: u32 = 16_384;

/// The SVG backend works at this multiple of CSS pixels (quarter-pixel precision);
/// the root element maps it back with `viewBox`.
const SVG_UNITS_PER_PX: u32 = 4;
/// The bitmap is drawn at this multiple of the output size and averaged down.
const SUPERSAMPLE: u32 = 3;

/// Standalone SVG document of the whole figure: `columns * panel_width` by
/// `rows * panel_height` CSS pixels.
pub fn render_svg(plot: &Plot) -> Result<String, DrawError> {
    let fig = prepare(plot)?;
    let (w, h) = fig.size;
    let k = SVG_UNITS_PER_PX;
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (w * k, h * k)).into_drawing_area();
        let canvas = Canvas::new(area, f64::from(k), Target::Svg);
        draw_figure(&canvas, &fig)?;
        canvas.finish().map_err(backend(None))?;
    }
    let scaled = format!("<svg width=\"{}\" height=\"{}\"", w * k, h * k);
    let css = format!("<svg width=\"{w}\" height=\"{h}\"");
    if !svg.contains(&scaled) {
        return Err(DrawError::Backend {
            panel: None,
            message: "unexpected SVG header from plotters".to_string(),
        });
    }
    Ok(svg.replacen(&scaled, &css, 1))
}

/// PNG bytes of the figure at `scale` times the SVG pixel size (rounded).
pub fn render_png(plot: &Plot, scale: f64) -> Result<Vec<u8>, DrawError> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(DrawError::Scale(scale));
    }
    let fig = prepare(plot)?;
    let (w, h) = fig.size;
    let out_w = (f64::from(w) * scale).round().max(1.0);
    let out_h = (f64::from(h) * scale).round().max(1.0);
    if out_w > f64::from(MAX_PNG_SIDE) || out_h > f64::from(MAX_PNG_SIDE) {
        return Err(DrawError::Scale(scale));
    }
    let (out_w, out_h) = (out_w as u32, out_h as u32);
    let (bw, bh) = (out_w * SUPERSAMPLE, out_h * SUPERSAMPLE);
    let mut buf = vec![255u8; bw as usize * bh as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut buf, (bw, bh)).into_drawing_area();
        let k = f64::from(bw) / f64::from(w);
        let canvas = Canvas::new(area, k, Target::Bitmap);
        draw_figure(&canvas, &fig)?;
        canvas.finish().map_err(backend(None))?;
    }
    let small = downsample(&buf, bw as usize, bh as usize, SUPERSAMPLE as usize);
    Ok(png::encode_rgb(out_w, out_h, &small))
}

fn backend(panel: Option<usize>) -> impl Fn(String) -> DrawError {
    move |message| DrawError::Backend { panel, message }
}

/// Box-filters an RGB image by `f` in both directions.
fn downsample(src: &[u8], w: usize, h: usize, f: usize) -> Vec<u8> {
    let (ow, oh) = (w / f, h / f);
    let n = (f * f) as u32;
    let mut out = vec![0u8; ow * oh * 3];
    let mut acc = vec![0u32; ow * 3];
    for oy in 0..oh {
        acc.iter_mut().for_each(|a| *a = 0);
        for sy in oy * f..(oy + 1) * f {
            let row = &src[sy * w * 3..(sy + 1) * w * 3];
            for (x, px) in row.chunks_exact(3).enumerate().take(ow * f) {
                let o = (x / f) * 3;
                acc[o] += u32::from(px[0]);
                acc[o + 1] += u32::from(px[1]);
                acc[o + 2] += u32::from(px[2]);
            }
        }
        for (o, a) in out[oy * ow * 3..(oy + 1) * ow * 3].iter_mut().zip(&acc) {
            *o = ((a + n / 2) / n) as u8;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Style constants (CSS pixels).

const WHITE: Rgb = Rgb(255, 255, 255);
const INK: Rgb = Rgb(20, 20, 20);
const TICK_INK: Rgb = Rgb(40, 40, 40);
const GRID: Rgb = Rgb(232, 232, 232);
const LEGEND_BORDER: Rgb = Rgb(190, 190, 190);

const TITLE_EM: f64 = 15.0;
const LABEL_EM: f64 = 14.0;
const TICK_EM: f64 = 12.0;
const LEGEND_EM: f64 = 12.5;
const ANNOTATION_EM: f64 = 12.0;
const REFLINE_LABEL_EM: f64 = 11.5;

const FRAME_WIDTH: f64 = 0.8;
const GRID_WIDTH: f64 = 0.6;
const TICK_LEN: f64 = 4.0;
const MINOR_TICK_LEN: f64 = 2.5;
const PAD: f64 = 8.0;

// ---------------------------------------------------------------------------
// Validation and layout.

/// A validated figure with every panel laid out.
struct Figure<'p> {
    size: (u32, u32),
    panels: Vec<PanelLayout<'p>>,
}

struct PanelLayout<'p> {
    index: usize,
    panel: &'p Panel,
    /// The panel's box in the figure.
    cell: Rect,
    /// The axes' box (plot area).
    frame: Rect,
    x: Axis,
    y: Axis,
    x_ticks: Vec<Tick>,
    y_ticks: Vec<Tick>,
}

fn prepare(plot: &Plot) -> Result<Figure<'_>, DrawError> {
    font::ensure_registered().map_err(DrawError::Font)?;
    if plot.panels.is_empty() {
        return Err(DrawError::Figure("no panels".into()));
    }
    if plot.columns == 0 {
        return Err(DrawError::Figure("zero columns".into()));
    }
    if plot.panel_width < 40 || plot.panel_height < 40 {
        return Err(DrawError::Figure(format!(
            "panel size {}x{} is below the minimum of 40x40 pixels",
            plot.panel_width, plot.panel_height
        )));
    }
    let columns = plot.columns.min(plot.panels.len());
    let rows = plot.panels.len().div_ceil(columns);
    let width = columns as u64 * u64::from(plot.panel_width);
    let height = rows as u64 * u64::from(plot.panel_height);
    if width > u64::from(MAX_PNG_SIDE) || height > u64::from(MAX_PNG_SIDE) {
        return Err(DrawError::Figure(format!(
            "figure of {width}x{height} pixels is too large"
        )));
    }
    let mut panels = Vec::with_capacity(plot.panels.len());
    for (index, panel) in plot.panels.iter().enumerate() {
        let err = |message: String| DrawError::Panel {
            panel: index,
            title: panel.title.clone(),
            message,
        };
        validate(panel).map_err(err)?;
        let x_range =
            fix_range(panel.x_range, panel.x_scale).map_err(|m| err(format!("x range: {m}")))?;
        let y_range =
            fix_range(panel.y_range, panel.y_scale).map_err(|m| err(format!("y range: {m}")))?;
        let (col, row) = (index % columns, index / columns);
        let cell = Rect {
            x0: (col as u32 * plot.panel_width) as f64,
            y0: (row as u32 * plot.panel_height) as f64,
            x1: ((col as u32 + 1) * plot.panel_width) as f64,
            y1: ((row as u32 + 1) * plot.panel_height) as f64,
        };
        panels.push(layout_panel(index, panel, cell, x_range, y_range));
    }
    Ok(Figure {
        size: (width as u32, height as u32),
        panels,
    })
}

/// Checks the invariants the builder promises; a violation is its bug, reported
/// rather than drawn around.
fn validate(p: &Panel) -> Result<(), String> {
    let finite = |v: f64, what: &str| {
        if v.is_finite() {
            Ok(())
        } else {
            Err(format!("{what} is {v}"))
        }
    };
    let unit = |v: f64, what: &str| {
        if (0.0..=1.0).contains(&v) {
            Ok(())
        } else {
            Err(format!("{what} is {v}, outside [0, 1]"))
        }
    };
    for (i, l) in p.lines.iter().enumerate() {
        if l.xs.len() != l.ys.len() {
            return Err(format!(
                "line {i}: {} x values but {} y values",
                l.xs.len(),
                l.ys.len()
            ));
        }
        if !(l.width.is_finite() && l.width >= 0.0) {
            return Err(format!("line {i}: width is {}", l.width));
        }
    }
    for (i, b) in p.bands.iter().enumerate() {
        if b.xs.len() != b.lower.len() || b.xs.len() != b.upper.len() {
            return Err(format!(
                "band {i}: {} x values, {} lower, {} upper",
                b.xs.len(),
                b.lower.len(),
                b.upper.len()
            ));
        }
        unit(b.opacity, &format!("band {i}: opacity"))?;
    }
    for (i, r) in p.ridges.iter().enumerate() {
        if r.edges.len() != r.widths.len() + 1 && !(r.edges.is_empty() && r.widths.is_empty()) {
            return Err(format!(
                "ridge {i}: {} bin edges for {} widths (need one more edge than widths)",
                r.edges.len(),
                r.widths.len()
            ));
        }
        finite(r.baseline, &format!("ridge {i}: baseline"))?;
        for e in &r.edges {
            finite(*e, &format!("ridge {i}: a bin edge"))?;
        }
        unit(r.opacity, &format!("ridge {i}: opacity"))?;
    }
    for (i, r) in p.vlines.iter().chain(&p.hlines).enumerate() {
        finite(r.at, &format!("reference line {i}: position"))?;
    }
    for (i, a) in p.annotations.iter().enumerate() {
        finite(a.x, &format!("annotation {i}: x"))?;
        finite(a.y, &format!("annotation {i}: y"))?;
    }
    Ok(())
}

/// Orders a range and gives an empty one some width.
fn fix_range((a, b): (f64, f64), scale: Scale) -> Result<(f64, f64), String> {
    if !(a.is_finite() && b.is_finite()) {
        return Err(format!("({a}, {b}) is not finite"));
    }
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    match scale {
        Scale::Linear => {
            if hi - lo > 1e-12 * lo.abs().max(hi.abs()) && hi - lo > f64::MIN_POSITIVE {
                Ok((lo, hi))
            } else {
                let pad = (0.05 * lo.abs()).max(0.5);
                Ok((lo - pad, hi + pad))
            }
        }
        Scale::Log10 => {
            if lo <= 0.0 {
                return Err(format!("({a}, {b}) is not positive, as a log scale needs"));
            }
            if hi / lo > 1.0 + 1e-12 {
                Ok((lo, hi))
            } else {
                Ok((lo / 10f64.sqrt(), hi * 10f64.sqrt()))
            }
        }
    }
}

fn layout_panel<'p>(
    index: usize,
    panel: &'p Panel,
    cell: Rect,
    (x_lo, x_hi): (f64, f64),
    (y_lo, y_hi): (f64, f64),
) -> PanelLayout<'p> {
    let has_title = panel.title.as_deref().is_some_and(|t| !t.is_empty());
    let top = cell.y0 + PAD + if has_title { TITLE_EM * 1.5 } else { 4.0 };
    // Bottom: ticks, tick labels (cap height + descent), axis label.
    let mut bottom_margin = PAD + TICK_LEN + 3.0 + TICK_EM * 1.0;
    if !panel.x_label.is_empty() {
        bottom_margin += 4.0 + LABEL_EM * 1.15;
    }
    let bottom = (cell.y1 - bottom_margin).max(top + 10.0);

    let y_target = ((bottom - top) / 50.0).round().clamp(3.0, 8.0) as usize;
    let y_ticks = axis::ticks(panel.y_scale, y_lo, y_hi, y_target);
    let y_label_w = y_ticks
        .iter()
        .filter_map(|t| t.label.as_deref())
        .map(|l| font::text_width(l, TICK_EM))
        .fold(0.0, f64::max);
    let mut left = cell.x0 + PAD + y_label_w + 3.0 + TICK_LEN;
    if !panel.y_label.is_empty() {
        left += LABEL_EM * 1.2 + 4.0;
    }
    let mut right = cell.x1 - PAD - 6.0;

    let mut x_ticks = Vec::new();
    // Twice: the last tick label may stick out and push the right edge in.
    for _ in 0..2 {
        let width = (right - left).max(10.0);
        x_ticks = x_ticks_that_fit(panel.x_scale, x_lo, x_hi, width);
        let x_axis = Axis {
            scale: panel.x_scale,
            lo: x_lo,
            hi: x_hi,
            px_lo: left,
            px_hi: left + width,
        };
        let overhang = x_ticks
            .iter()
            .filter_map(|t| Some((x_axis.px(t.value)?, t.label.as_deref()?)))
            .map(|(px, l)| px + font::text_width(l, TICK_EM) / 2.0 - (cell.x1 - 2.0))
            .fold(0.0, f64::max);
        if overhang <= 0.0 {
            break;
        }
        right -= overhang;
    }
    right = right.max(left + 10.0);
    let frame = Rect {
        x0: left,
        y0: top,
        x1: right,
        y1: bottom,
    };
    PanelLayout {
        index,
        panel,
        cell,
        frame,
        x: Axis {
            scale: panel.x_scale,
            lo: x_lo,
            hi: x_hi,
            px_lo: frame.x0,
            px_hi: frame.x1,
        },
        y: Axis {
            scale: panel.y_scale,
            lo: y_lo,
            hi: y_hi,
            px_lo: frame.y1,
            px_hi: frame.y0,
        },
        x_ticks,
        y_ticks,
    }
}

/// The densest x ticks whose labels do not run into each other.
fn x_ticks_that_fit(scale: Scale, lo: f64, hi: f64, width: f64) -> Vec<Tick> {
    let axis = Axis {
        scale,
        lo,
        hi,
        px_lo: 0.0,
        px_hi: width,
    };
    let start = (width / 80.0).round().clamp(2.0, 8.0) as usize;
    let mut best = Vec::new();
    for target in (1..=start).rev() {
        let ticks = axis::ticks(scale, lo, hi, target);
        let mut prev_end = f64::NEG_INFINITY;
        let fits = ticks.iter().all(|t| match (axis.px(t.value), &t.label) {
            (Some(px), Some(l)) => {
                let half = font::text_width(l, TICK_EM) / 2.0;
                let ok = px - half >= prev_end + 0.6 * TICK_EM;
                prev_end = px + half;
                ok
            }
            _ => true,
        });
        best = ticks;
        if fits {
            break;
        }
    }
    best
}

// ---------------------------------------------------------------------------
// Drawing.

fn draw_figure<DB: plotters::prelude::DrawingBackend>(
    canvas: &Canvas<DB>,
    fig: &Figure<'_>,
) -> Result<(), DrawError> {
    canvas.clear(WHITE).map_err(backend(None))?;
    for p in &fig.panels {
        draw_panel(canvas, p).map_err(backend(Some(p.index)))?;
    }
    Ok(())
}

type Res = Result<(), String>;

fn draw_panel<DB: plotters::prelude::DrawingBackend>(c: &Canvas<DB>, l: &PanelLayout<'_>) -> Res {
    let f = l.frame;
    let p = l.panel;

    // Grid at labelled ticks.
    for t in l.x_ticks.iter().filter(|t| t.label.is_some()) {
        if let Some(x) = l.x.px(t.value) {
            c.stroke(&[(x, f.y0), (x, f.y1)], GRID, 1.0, GRID_WIDTH)?;
        }
    }
    for t in l.y_ticks.iter().filter(|t| t.label.is_some()) {
        if let Some(y) = l.y.px(t.value) {
            c.stroke(&[(f.x0, y), (f.x1, y)], GRID, 1.0, GRID_WIDTH)?;
        }
    }

    for b in &p.bands {
        for poly in band_polygons(b, &l.x, &l.y) {
            c.fill(&geom::clip_polygon(&poly, &f), b.color, b.opacity)?;
        }
    }
    for r in &p.ridges {
        if let Some(poly) = ridge_polygon(r, &l.x, &l.y) {
            c.fill(&geom::clip_polygon(&poly, &f), r.color, r.opacity)?;
            let mut outline = poly.clone();
            outline.push(poly[0]);
            for piece in geom::clip_polyline(&outline, &f) {
                c.stroke(&piece, r.color, 1.0, 0.8)?;
            }
        }
    }
    for line in &p.lines {
        draw_line(c, line, &l.x, &l.y, &f)?;
    }
    for r in &p.vlines {
        if let Some(x) = l.x.px(r.at).filter(|x| *x >= f.x0 && *x <= f.x1) {
            stroke_dashed(c, &[(x, f.y1), (x, f.y0)], &f, r.color, 1.0, r.dash)?;
            if let Some(text) = r.label.as_deref() {
                c.text(&TextSpec {
                    text,
                    at: (x + 3.0, f.y0 + 3.0 + REFLINE_LABEL_EM * 0.75),
                    em: REFLINE_LABEL_EM,
                    align: Align::Left,
                    vertical: false,
                    color: r.color,
                })?;
            }
        }
    }
    for r in &p.hlines {
        if let Some(y) = l.y.px(r.at).filter(|y| *y >= f.y0 && *y <= f.y1) {
            stroke_dashed(c, &[(f.x0, y), (f.x1, y)], &f, r.color, 1.0, r.dash)?;
            if let Some(text) = r.label.as_deref() {
                c.text(&TextSpec {
                    text,
                    at: (f.x1 - 4.0, y - 3.0),
                    em: REFLINE_LABEL_EM,
                    align: Align::Right,
                    vertical: false,
                    color: r.color,
                })?;
            }
        }
    }
    for a in &p.annotations {
        if let (Some(x), Some(y)) = (l.x.px(a.x), l.y.px(a.y)) {
            if l.cell.contains((x, y)) {
                c.text(&TextSpec {
                    text: &a.text,
                    at: (x, y + 0.3 * ANNOTATION_EM),
                    em: ANNOTATION_EM,
                    align: Align::Center,
                    vertical: false,
                    color: INK,
                })?;
            }
        }
    }

    draw_axes(c, l)?;
    if let Some(pos) = p.legend {
        draw_legend(c, p, &f, pos)?;
    }
    Ok(())
}

fn draw_axes<DB: plotters::prelude::DrawingBackend>(c: &Canvas<DB>, l: &PanelLayout<'_>) -> Res {
    let f = l.frame;
    let p = l.panel;
    c.stroke(
        &[
            (f.x0, f.y0),
            (f.x1, f.y0),
            (f.x1, f.y1),
            (f.x0, f.y1),
            (f.x0, f.y0),
        ],
        TICK_INK,
        1.0,
        FRAME_WIDTH,
    )?;
    for t in &l.x_ticks {
        let Some(x) = l.x.px(t.value) else { continue };
        if x < f.x0 - 0.5 || x > f.x1 + 0.5 {
            continue;
        }
        let len = if t.label.is_some() {
            TICK_LEN
        } else {
            MINOR_TICK_LEN
        };
        c.stroke(&[(x, f.y1), (x, f.y1 + len)], TICK_INK, 1.0, FRAME_WIDTH)?;
        if let Some(text) = t.label.as_deref() {
            c.text(&TextSpec {
                text,
                at: (x, f.y1 + TICK_LEN + 3.0 + 0.72 * TICK_EM),
                em: TICK_EM,
                align: Align::Center,
                vertical: false,
                color: INK,
            })?;
        }
    }
    for t in &l.y_ticks {
        let Some(y) = l.y.px(t.value) else { continue };
        if y < f.y0 - 0.5 || y > f.y1 + 0.5 {
            continue;
        }
        let len = if t.label.is_some() {
            TICK_LEN
        } else {
            MINOR_TICK_LEN
        };
        c.stroke(&[(f.x0 - len, y), (f.x0, y)], TICK_INK, 1.0, FRAME_WIDTH)?;
        if let Some(text) = t.label.as_deref() {
            c.text(&TextSpec {
                text,
                at: (f.x0 - TICK_LEN - 3.0, y + 0.33 * TICK_EM),
                em: TICK_EM,
                align: Align::Right,
                vertical: false,
                color: INK,
            })?;
        }
    }
    let mid_x = (f.x0 + f.x1) / 2.0;
    if !p.x_label.is_empty() {
        c.text(&TextSpec {
            text: &p.x_label,
            at: (mid_x, l.cell.y1 - PAD - 0.25 * LABEL_EM),
            em: LABEL_EM,
            align: Align::Center,
            vertical: false,
            color: INK,
        })?;
    }
    if !p.y_label.is_empty() {
        c.text(&TextSpec {
            text: &p.y_label,
            at: (l.cell.x0 + PAD + 0.8 * LABEL_EM, (f.y0 + f.y1) / 2.0),
            em: LABEL_EM,
            align: Align::Center,
            vertical: true,
            color: INK,
        })?;
    }
    if let Some(title) = p.title.as_deref() {
        c.text(&TextSpec {
            text: title,
            at: (mid_x, l.cell.y0 + PAD + 0.8 * TITLE_EM),
            em: TITLE_EM,
            align: Align::Center,
            vertical: false,
            color: INK,
        })?;
    }
    Ok(())
}

fn dash_pattern(dash: Dash, width: f64) -> Vec<f64> {
    let w = width.max(0.75);
    match dash {
        Dash::Solid => Vec::new(),
        Dash::Dashed => vec![4.5 * w + 1.5, 2.5 * w + 1.5],
        Dash::Dotted => vec![w, 1.6 * w + 0.8],
    }
}

/// Clips `points` to `frame` and strokes them with the dash pattern.
fn stroke_dashed<DB: plotters::prelude::DrawingBackend>(
    c: &Canvas<DB>,
    points: &[Pt],
    frame: &Rect,
    color: Rgb,
    width: f64,
    dash: Dash,
) -> Res {
    let pattern = dash_pattern(dash, width);
    for piece in geom::clip_polyline(points, frame) {
        for d in geom::dashes(&piece, &pattern) {
            c.stroke(&d, color, 1.0, width)?;
        }
    }
    Ok(())
}

fn draw_line<DB: plotters::prelude::DrawingBackend>(
    c: &Canvas<DB>,
    line: &Line,
    x: &Axis,
    y: &Axis,
    frame: &Rect,
) -> Res {
    let mapped: Vec<Option<Pt>> = line
        .xs
        .iter()
        .zip(&line.ys)
        .map(|(&a, &b)| Some((x.px(a)?, y.px(b)?)))
        .collect();
    for run in line_runs(line, x, &mapped) {
        stroke_dashed(c, &run, frame, line.color, line.width, line.dash)?;
    }
    if line.markers {
        let r = 1.2 + line.width;
        for p in mapped.iter().flatten() {
            if frame.contains(*p) {
                c.disc(*p, r, line.color)?;
            }
        }
    }
    Ok(())
}

/// The continuous pieces of a line in pixels. A step line holds y[i] on
/// [x[i], x[i+1]) and rises at x[i+1]; the hold is drawn whenever x[i+1] has a
/// position, even if y[i+1] is missing.
fn line_runs(line: &Line, x: &Axis, mapped: &[Option<Pt>]) -> Vec<Vec<Pt>> {
    let mut runs = Vec::new();
    let mut cur: Vec<Pt> = Vec::new();
    let flush = |cur: &mut Vec<Pt>, runs: &mut Vec<Vec<Pt>>| {
        if cur.len() >= 2 {
            runs.push(std::mem::take(cur));
        }
        cur.clear();
    };
    for (i, m) in mapped.iter().enumerate() {
        let Some(p) = *m else {
            flush(&mut cur, &mut runs);
            continue;
        };
        cur.push(p);
        if line.step {
            match line.xs.get(i + 1).and_then(|&nx| x.px(nx)) {
                Some(nx) => {
                    cur.push((nx, p.1));
                    if mapped[i + 1].is_none() {
                        flush(&mut cur, &mut runs);
                    }
                }
                None => flush(&mut cur, &mut runs),
            }
        }
    }
    flush(&mut cur, &mut runs);
    runs
}

/// Polygons of a band, one per run of points where x, lower and upper all have
/// positions.
fn band_polygons(b: &Band, x: &Axis, y: &Axis) -> Vec<Vec<Pt>> {
    let mut polys = Vec::new();
    let mut upper: Vec<Pt> = Vec::new();
    let mut lower: Vec<Pt> = Vec::new();
    let mut flush = |upper: &mut Vec<Pt>, lower: &mut Vec<Pt>| {
        if upper.len() >= 2 {
            let mut poly = std::mem::take(upper);
            poly.extend(lower.iter().rev());
            polys.push(poly);
        }
        upper.clear();
        lower.clear();
    };
    for i in 0..b.xs.len() {
        let pts = (|| {
            let px = x.px(b.xs[i])?;
            if !(b.lower[i].is_finite() && b.upper[i].is_finite()) {
                return None;
            }
            Some((
                (px, y.px_clamped(b.upper[i])?),
                (px, y.px_clamped(b.lower[i])?),
            ))
        })();
        match pts {
            Some((u, lo)) => {
                upper.push(u);
                lower.push(lo);
            }
            None => flush(&mut upper, &mut lower),
        }
    }
    flush(&mut upper, &mut lower);
    polys
}

/// Outline of a half-histogram as one staircase polygon (one fill, so the bins do
/// not darken where they touch).
fn ridge_polygon(r: &Ridge, x: &Axis, y: &Axis) -> Option<Vec<Pt>> {
    if r.widths.is_empty() {
        return None;
    }
    let sign = match r.side {
        Side::Right => 1.0,
        Side::Left => -1.0,
    };
    let base = x.px_clamped(r.baseline)?;
    let mut poly = vec![(base, y.px_clamped(r.edges[0])?)];
    for (i, w) in r.widths.iter().enumerate() {
        let w = if w.is_finite() { w.abs() } else { 0.0 };
        let px = x.px_clamped(r.baseline + sign * w)?;
        poly.push((px, y.px_clamped(r.edges[i])?));
        poly.push((px, y.px_clamped(r.edges[i + 1])?));
    }
    poly.push((base, y.px_clamped(r.edges[r.widths.len()])?));
    Some(poly)
}

// ---------------------------------------------------------------------------
// Legend.

enum Swatch {
    Fill {
        color: Rgb,
        opacity: f64,
        outline: bool,
    },
    Stroke {
        color: Rgb,
        width: f64,
        dash: Dash,
        markers: bool,
    },
}

/// Legend entries: labelled bands, ridges, then lines, each label once.
fn legend_entries(p: &Panel) -> Vec<(&str, Swatch)> {
    let mut entries: Vec<(&str, Swatch)> = Vec::new();
    fn add<'a>(entries: &mut Vec<(&'a str, Swatch)>, label: &'a Option<String>, s: Swatch) {
        if let Some(l) = label.as_deref() {
            if !l.is_empty() && !entries.iter().any(|(e, _)| *e == l) {
                entries.push((l, s));
            }
        }
    }
    let mut push = |label, s| add(&mut entries, label, s);
    for b in &p.bands {
        push(
            &b.label,
            Swatch::Fill {
                color: b.color,
                opacity: b.opacity,
                outline: false,
            },
        );
    }
    for r in &p.ridges {
        push(
            &r.label,
            Swatch::Fill {
                color: r.color,
                opacity: r.opacity,
                outline: true,
            },
        );
    }
    for l in &p.lines {
        push(
            &l.label,
            Swatch::Stroke {
                color: l.color,
                width: l.width,
                dash: l.dash,
                markers: l.markers,
            },
        );
    }
    entries
}

fn draw_legend<DB: plotters::prelude::DrawingBackend>(
    c: &Canvas<DB>,
    p: &Panel,
    f: &Rect,
    pos: LegendPosition,
) -> Res {
    let entries = legend_entries(p);
    if entries.is_empty() {
        return Ok(());
    }
    const INSET: f64 = 8.0;
    const INNER: f64 = 6.0;
    const SAMPLE: f64 = 24.0;
    const GAP: f64 = 6.0;
    const COL_GAP: f64 = 12.0;
    let row_h = LEGEND_EM * 1.4;
    let avail_h = (f.height() - 2.0 * INSET - 2.0 * INNER).max(row_h);
    let rows_fit = ((avail_h / row_h).floor() as usize).max(1);
    let cols = entries.len().div_ceil(rows_fit);
    let rows = entries.len().div_ceil(cols);
    let col_w: Vec<f64> = (0..cols)
        .map(|col| {
            entries
                .iter()
                .skip(col * rows)
                .take(rows)
                .map(|(l, _)| font::text_width(l, LEGEND_EM))
                .fold(0.0, f64::max)
                + SAMPLE
                + GAP
        })
        .collect();
    let box_w = 2.0 * INNER + col_w.iter().sum::<f64>() + COL_GAP * (cols - 1) as f64;
    let box_h = 2.0 * INNER + rows as f64 * row_h - (row_h - LEGEND_EM * 1.05);
    let x0 = match pos {
        LegendPosition::UpperLeft | LegendPosition::LowerLeft => f.x0 + INSET,
        LegendPosition::UpperRight | LegendPosition::LowerRight => f.x1 - INSET - box_w,
    };
    let y0 = match pos {
        LegendPosition::UpperLeft | LegendPosition::UpperRight => f.y0 + INSET,
        LegendPosition::LowerLeft | LegendPosition::LowerRight => f.y1 - INSET - box_h,
    };
    let outline = [
        (x0, y0),
        (x0 + box_w, y0),
        (x0 + box_w, y0 + box_h),
        (x0, y0 + box_h),
    ];
    c.fill(&outline, WHITE, 0.85)?;
    let mut closed = outline.to_vec();
    closed.push(outline[0]);
    c.stroke(&closed, LEGEND_BORDER, 1.0, 0.7)?;

    let mut col_x = x0 + INNER;
    for (col, w) in col_w.iter().enumerate() {
        for (row, (label, swatch)) in entries.iter().skip(col * rows).take(rows).enumerate() {
            let mid_y = y0 + INNER + row as f64 * row_h + LEGEND_EM * 0.5;
            let (sx0, sx1) = (col_x, col_x + SAMPLE);
            match *swatch {
                Swatch::Fill {
                    color,
                    opacity,
                    outline,
                } => {
                    let (ya, yb) = (mid_y - 0.32 * LEGEND_EM, mid_y + 0.32 * LEGEND_EM);
                    let rect = [(sx0, ya), (sx1, ya), (sx1, yb), (sx0, yb)];
                    c.fill(&rect, color, opacity)?;
                    if outline {
                        let mut r = rect.to_vec();
                        r.push(rect[0]);
                        c.stroke(&r, color, 1.0, 0.8)?;
                    }
                }
                Swatch::Stroke {
                    color,
                    width,
                    dash,
                    markers,
                } => {
                    let seg = [(sx0, mid_y), (sx1, mid_y)];
                    for d in geom::dashes(&seg, &dash_pattern(dash, width)) {
                        c.stroke(&d, color, 1.0, width)?;
                    }
                    if markers {
                        c.disc(((sx0 + sx1) / 2.0, mid_y), 1.2 + width, color)?;
                    }
                }
            }
            c.text(&TextSpec {
                text: label,
                at: (sx1 + GAP, mid_y + 0.33 * LEGEND_EM),
                em: LEGEND_EM,
                align: Align::Left,
                vertical: false,
                color: INK,
            })?;
        }
        col_x += w + COL_GAP;
    }
    Ok(())
}
