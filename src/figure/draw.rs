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
const TICK_LEN: f64 = 5.0;
const MINOR_TICK_LEN: f64 = 3.0;
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
            // Outline the staircase only: the baseline side is shared with the
            // other half of a split violin.
            for piece in geom::clip_polyline(&poly, &f) {
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
    for m in &p.paper_marks {
        draw_paper_mark(c, m, &l.x, &l.y, &f)?;
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
    if line.width > 0.0 {
        for run in line_runs(line, x, &mapped) {
            stroke_dashed(c, &run, frame, line.color, line.width, line.dash)?;
        }
    }
    if line.markers {
        let r = marker_radius(line.width);
        for p in mapped.iter().flatten() {
            if frame.contains(*p) {
                c.disc(*p, r, line.color)?;
            }
        }
    }
    Ok(())
}

/// A point read off the paper: error bars, then an open diamond, in ink.
fn draw_paper_mark<DB: plotters::prelude::DrawingBackend>(
    c: &Canvas<DB>,
    m: &PaperMark,
    x: &Axis,
    y: &Axis,
    frame: &Rect,
) -> Res {
    let (Some(px), Some(py)) = (x.px(m.x), y.px(m.y)) else {
        return Ok(());
    };
    if !frame.contains((px, py)) {
        return Ok(());
    }
    let bar = |a: Option<f64>, b: Option<f64>, horizontal: bool| -> Res {
        let (Some(a), Some(b)) = (a, b) else {
            return Ok(());
        };
        let (seg, cap) = if horizontal {
            (
                [(a, py), (b, py)],
                [
                    [(a, py - 3.0), (a, py + 3.0)],
                    [(b, py - 3.0), (b, py + 3.0)],
                ],
            )
        } else {
            (
                [(px, a), (px, b)],
                [
                    [(px - 3.0, a), (px + 3.0, a)],
                    [(px - 3.0, b), (px + 3.0, b)],
                ],
            )
        };
        for piece in geom::clip_polyline(&seg, frame) {
            c.stroke(&piece, INK, 1.0, 1.1)?;
        }
        for k in cap {
            if k.iter().all(|p| frame.contains(*p)) {
                c.stroke(&k, INK, 1.0, 1.1)?;
            }
        }
        Ok(())
    };
    if m.x_error > 0.0 {
        bar(x.px(m.x - m.x_error), x.px(m.x + m.x_error), true)?;
    }
    if m.y_error > 0.0 {
        bar(y.px(m.y - m.y_error), y.px(m.y + m.y_error), false)?;
    }
    paper_diamond(c, (px, py))
}

fn paper_diamond<DB: plotters::prelude::DrawingBackend>(c: &Canvas<DB>, (px, py): Pt) -> Res {
    const R: f64 = 4.5;
    let diamond = [
        (px, py - R),
        (px + R, py),
        (px, py + R),
        (px - R, py),
        (px, py - R),
    ];
    c.fill(&diamond[..4], WHITE, 1.0)?;
    c.stroke(&diamond, INK, 1.0, 1.4)
}

/// Markers on a line sit a little wider than it; alone (a scatter plot) they are discs
/// of about 5 pixels.
fn marker_radius(width: f64) -> f64 {
    if width > 0.0 {
        1.2 + width
    } else {
        2.4
    }
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
/// not darken where they touch), without the empty bins at either end. The first
/// and last points lie on the baseline; closing the polygon runs along it.
fn ridge_polygon(r: &Ridge, x: &Axis, y: &Axis) -> Option<Vec<Pt>> {
    let width = |w: f64| if w.is_finite() { w.abs() } else { 0.0 };
    let first = r.widths.iter().position(|&w| width(w) > 0.0)?;
    let last = r.widths.iter().rposition(|&w| width(w) > 0.0)?;
    let sign = match r.side {
        Side::Right => 1.0,
        Side::Left => -1.0,
    };
    let base = x.px_clamped(r.baseline)?;
    let mut poly = vec![(base, y.px_clamped(r.edges[first])?)];
    for i in first..=last {
        let px = x.px_clamped(r.baseline + sign * width(r.widths[i]))?;
        poly.push((px, y.px_clamped(r.edges[i])?));
        poly.push((px, y.px_clamped(r.edges[i + 1])?));
    }
    poly.push((base, y.px_clamped(r.edges[last + 1])?));
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
    PaperMark,
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
    if !p.paper_marks.is_empty() {
        entries.push((PAPER_MARK_LABEL, Swatch::PaperMark));
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
                    if width > 0.0 {
                        for d in geom::dashes(&seg, &dash_pattern(dash, width)) {
                            c.stroke(&d, color, 1.0, width)?;
                        }
                    }
                    if markers {
                        c.disc(((sx0 + sx1) / 2.0, mid_y), marker_radius(width), color)?;
                    }
                }
                Swatch::PaperMark => paper_diamond(c, ((sx0 + sx1) / 2.0, mid_y))?,
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

#[cfg(test)]
mod tests {
    use super::*;

    const BLUE: Rgb = Rgb(10, 20, 200);
    const RED: Rgb = Rgb(200, 20, 10);

    fn empty_panel() -> Panel {
        Panel {
            title: Some("(a) r = 1.50".into()),
            x_label: "u".into(),
            y_label: "sᵣ(u)".into(),
            x_range: (0.0, 4.0),
            y_range: (0.0, 1.0),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            bands: vec![],
            ridges: vec![],
            lines: vec![],
            vlines: vec![],
            hlines: vec![],
            legend: None,
            annotations: vec![],
            paper_marks: vec![],
        }
    }

    fn line(xs: Vec<f64>, ys: Vec<f64>, color: Rgb) -> Line {
        Line {
            label: None,
            xs,
            ys,
            color,
            dash: Dash::Solid,
            width: 1.5,
            step: false,
            markers: false,
        }
    }

    fn plot(panels: Vec<Panel>) -> Plot {
        let columns = panels.len().min(3);
        Plot {
            panels,
            columns,
            panel_width: 480,
            panel_height: 360,
        }
    }

    fn hex(c: Rgb) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    /// `points` attributes of the SVG elements `tag` drawn in colour `c`.
    fn shapes(svg: &str, tag: &str, c: Rgb) -> Vec<Vec<(f64, f64)>> {
        let colour = format!("\"{}\"", hex(c));
        svg.lines()
            .filter(|l| l.starts_with(&format!("<{tag} ")) && l.contains(&colour))
            .map(|l| {
                let start = l.find("points=\"").expect("points") + 8;
                let end = start + l[start..].find('"').expect("end quote");
                l[start..end]
                    .split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').expect("x,y");
                        (x.parse().expect("x"), y.parse().expect("y"))
                    })
                    .collect()
            })
            .collect()
    }

    /// How plotters-svg writes a text element's content.
    fn text(t: &str) -> String {
        format!("\n{t}\n</text>")
    }

    /// (width, height) from the IHDR chunk, after checking the signature.
    fn png_size(png: &[u8]) -> (u32, u32) {
        assert_eq!(&png[..8], &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]);
        assert_eq!(&png[12..16], b"IHDR");
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        (w, h)
    }

    /// Decoded scanlines (filter byte + RGB) of a PNG written by this module.
    fn png_scanlines(png: &[u8]) -> Vec<u8> {
        let mut i = 8;
        let mut idat = Vec::new();
        while i < png.len() {
            let n = u32::from_be_bytes(png[i..i + 4].try_into().unwrap()) as usize;
            if &png[i + 4..i + 8] == b"IDAT" {
                idat.extend_from_slice(&png[i + 8..i + 8 + n]);
            }
            i += 12 + n;
        }
        png::tests::zlib_decompress(&idat)
    }

    #[test]
    fn svg_is_a_document_with_the_texts() {
        let mut p = empty_panel();
        p.lines.push(Line {
            label: Some("r < 2 & δ = 0.5".into()),
            ..line(vec![0.0, 1.0, 2.0], vec![1.0, 0.5, 0.2], BLUE)
        });
        p.legend = Some(LegendPosition::UpperRight);
        p.annotations.push(Annotation {
            x: 2.0,
            y: 0.5,
            text: "ζ*ₘ".into(),
        });
        let svg = render_svg(&plot(vec![p.clone(), p])).unwrap();
        assert!(svg.starts_with("<svg width=\"960\" height=\"360\" viewBox=\"0 0 3840 1440\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        for t in [
            "(a) r = 1.50",
            "sᵣ(u)",
            "u",
            "r &lt; 2 &amp; δ = 0.5",
            "ζ*ₘ",
            "0.0",
            "1.0",
            "4",
        ] {
            assert!(svg.contains(&text(t)), "missing {t:?}");
        }
        assert!(svg.contains("font-family=\"Libertinus Serif, serif\""));
        // Each label appears once per panel in the legend.
        assert_eq!(svg.matches("r &lt; 2").count(), 2);
    }

    #[test]
    fn empty_panel_still_draws_axes() {
        let mut p = empty_panel();
        p.title = None;
        p.x_label = String::new();
        p.y_label = String::new();
        p.legend = Some(LegendPosition::LowerLeft);
        let svg = render_svg(&plot(vec![p.clone()])).unwrap();
        let frame = shapes(&svg, "polyline", TICK_INK);
        assert!(frame.iter().any(|pts| pts.len() == 5), "frame box");
        assert!(frame.len() > 8, "tick marks");
        assert!(svg.contains(&text("0.0")) && svg.contains(&text("1.0")));
        let png = render_png(&plot(vec![p]), 1.0).unwrap();
        assert_eq!(png_size(&png), (480, 360));
    }

    #[test]
    fn band_is_filled_with_its_opacity_and_gaps_split_it() {
        let mut p = empty_panel();
        let xs: Vec<f64> = (0..=40).map(|i| f64::from(i) / 10.0).collect();
        let upper: Vec<f64> = xs
            .iter()
            .map(|&x| {
                if (1.0..2.0).contains(&x) {
                    f64::NAN
                } else {
                    0.8
                }
            })
            .collect();
        p.bands.push(Band {
            label: Some("shade".into()),
            lower: vec![0.0; xs.len()],
            upper,
            xs,
            color: BLUE,
            opacity: 0.3,
        });
        let svg = render_svg(&plot(vec![p])).unwrap();
        let polys: Vec<&str> = svg
            .lines()
            .filter(|l| l.starts_with("<polygon") && l.contains(&hex(BLUE)))
            .collect();
        assert_eq!(polys.len(), 2, "one polygon each side of the gap");
        assert!(polys.iter().all(|l| l.contains("opacity=\"0.3\"")));
    }

    #[test]
    fn non_finite_points_split_lines() {
        let mut p = empty_panel();
        p.lines.push(line(
            vec![0.0, 1.0, 2.0, 3.0, 4.0],
            vec![0.1, 0.2, f64::NAN, 0.4, 0.5],
            BLUE,
        ));
        p.lines.push(line(
            vec![0.0, f64::INFINITY, 2.0, 3.0],
            vec![0.1, 0.2, 0.3, 0.4],
            RED,
        ));
        let svg = render_svg(&plot(vec![p])).unwrap();
        assert_eq!(shapes(&svg, "polyline", BLUE).len(), 2);
        assert_eq!(shapes(&svg, "polyline", RED).len(), 1);
    }

    #[test]
    fn step_lines_are_right_continuous() {
        let mut p = empty_panel();
        p.lines.push(Line {
            step: true,
            ..line(vec![0.0, 1.0, 2.0], vec![1.0, 0.5, 0.25], BLUE)
        });
        let svg = render_svg(&plot(vec![p])).unwrap();
        let pts = &shapes(&svg, "polyline", BLUE)[0];
        // (0,1) → (1,1) → (1,0.5) → (2,0.5) → (2,0.25): flat, then straight down.
        assert_eq!(pts.len(), 5);
        assert_eq!(pts[0].1, pts[1].1);
        assert_eq!(pts[1].0, pts[2].0);
        assert!(pts[2].1 > pts[1].1);
        assert_eq!(pts[2].1, pts[3].1);
        assert_eq!(pts[3].0, pts[4].0);
    }

    #[test]
    fn dashed_lines_and_reference_lines_are_cut_into_dashes() {
        let mut p = empty_panel();
        p.lines.push(Line {
            dash: Dash::Dashed,
            ..line(vec![0.0, 4.0], vec![0.5, 0.5], BLUE)
        });
        p.vlines.push(RefLine {
            at: 1.0,
            label: Some("δ* = 1".into()),
            color: RED,
            dash: Dash::Dotted,
        });
        p.vlines.push(RefLine {
            at: 99.0,
            label: Some("off the axes".into()),
            color: RED,
            dash: Dash::Solid,
        });
        let svg = render_svg(&plot(vec![p])).unwrap();
        assert!(shapes(&svg, "polyline", BLUE).len() > 20);
        let dots = shapes(&svg, "polyline", RED);
        assert!(dots.len() > 50);
        // The reference line spans the whole plot height.
        let ys: Vec<f64> = dots.iter().flatten().map(|p| p.1).collect();
        let span = ys.iter().cloned().fold(f64::MIN, f64::max)
            - ys.iter().cloned().fold(f64::MAX, f64::min);
        assert!(span > 0.7 * 1440.0, "span {span}");
        assert!(svg.contains("δ* = 1"));
        assert!(!svg.contains("off the axes"));
    }

    #[test]
    fn log_scale_has_decade_labels_and_drops_non_positive_points() {
        let mut p = empty_panel();
        p.y_scale = Scale::Log10;
        p.y_range = (1e-3, 1.0);
        p.lines.push(line(
            vec![0.0, 1.0, 2.0, 3.0],
            vec![1.0, 0.1, 0.0, 0.001],
            BLUE,
        ));
        let svg = render_svg(&plot(vec![p])).unwrap();
        for label in ["10⁻³", "10⁻²", "10⁻¹", "1"] {
            assert!(svg.contains(&text(label)), "missing {label}");
        }
        let pieces = shapes(&svg, "polyline", BLUE);
        assert_eq!(
            pieces.len(),
            1,
            "the zero breaks the line; (3, 0.001) is alone"
        );
        // Equal ratios are equal distances.
        let pts = &pieces[0];
        assert_eq!(pts.len(), 2);
    }

    #[test]
    fn ridges_extend_to_their_side_of_the_baseline() {
        let mut p = empty_panel();
        p.x_range = (0.0, 2.0);
        let ridge = |side, color| Ridge {
            label: None,
            baseline: 1.0,
            edges: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            widths: vec![0.0, 0.3, 0.5, 0.2],
            side,
            color,
            opacity: 0.5,
        };
        p.ridges.push(ridge(Side::Left, BLUE));
        p.ridges.push(ridge(Side::Right, RED));
        let svg = render_svg(&plot(vec![p])).unwrap();
        let left = &shapes(&svg, "polygon", BLUE)[0];
        let right = &shapes(&svg, "polygon", RED)[0];
        let base = left[0].0;
        assert_eq!(right[0].0, base);
        assert!(left.iter().all(|p| p.0 <= base) && left.iter().any(|p| p.0 < base));
        assert!(right.iter().all(|p| p.0 >= base) && right.iter().any(|p| p.0 > base));
        // The empty first bin is not drawn: the shape starts at y = 0.25.
        assert_eq!(left.len(), 8);
    }

    #[test]
    fn png_has_the_scaled_size_and_decodes() {
        let mut p = empty_panel();
        p.lines.push(line(vec![0.0, 4.0], vec![0.0, 1.0], BLUE));
        let fig = plot(vec![p.clone(), p.clone(), p]);
        let png = render_png(&fig, 2.0).unwrap();
        assert_eq!(png_size(&png), (2880, 720));
        let rows = png_scanlines(&png);
        assert_eq!(rows.len(), (2880 * 3 + 1) * 720);
        assert!(rows.chunks(2880 * 3 + 1).all(|r| r[0] <= 4));
        let png = render_png(&fig, 0.5).unwrap();
        assert_eq!(png_size(&png), (720, 180));
    }

    #[test]
    fn output_is_deterministic_across_threads() {
        let mut p = empty_panel();
        p.lines
            .push(line(vec![0.0, 2.0, 4.0], vec![0.0, 0.9, 0.1], BLUE));
        p.legend = Some(LegendPosition::UpperLeft);
        let fig = plot(vec![p]);
        let (svg, png) = (render_svg(&fig).unwrap(), render_png(&fig, 1.0).unwrap());
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (render_svg(&fig).unwrap(), render_png(&fig, 1.0).unwrap())))
                .collect();
            for h in handles {
                let (s2, p2) = h.join().unwrap();
                assert_eq!(s2, svg);
                assert_eq!(p2, png);
            }
        });
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut bad = empty_panel();
        bad.lines.push(line(vec![0.0, 1.0], vec![0.0], BLUE));
        let err = render_svg(&plot(vec![empty_panel(), bad])).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("panel 2 (“(a) r = 1.50”): line 0:"),
            "{msg}"
        );

        let mut log = empty_panel();
        log.x_scale = Scale::Log10;
        assert!(matches!(
            render_svg(&plot(vec![log])),
            Err(DrawError::Panel { panel: 0, .. })
        ));
        let mut nan = empty_panel();
        nan.y_range = (f64::NAN, 1.0);
        assert!(render_png(&plot(vec![nan]), 1.0).is_err());
        assert!(matches!(
            render_png(&plot(vec![empty_panel()]), 0.0),
            Err(DrawError::Scale(_))
        ));
        assert!(matches!(
            render_svg(&plot(vec![])),
            Err(DrawError::Figure(_))
        ));
        let mut ridge = empty_panel();
        ridge.ridges.push(Ridge {
            label: None,
            baseline: 1.0,
            edges: vec![0.0, 1.0],
            widths: vec![0.1, 0.2],
            side: Side::Left,
            color: BLUE,
            opacity: 0.5,
        });
        assert!(render_svg(&plot(vec![ridge])).is_err());
    }

    #[test]
    fn degenerate_ranges_are_padded_and_huge_values_clipped() {
        let mut p = empty_panel();
        p.x_range = (2.0, 2.0);
        p.y_range = (1.0, 0.0);
        p.lines
            .push(line(vec![2.0, 2.0], vec![-1e300, 1e300], BLUE));
        p.bands.push(Band {
            label: None,
            xs: vec![1.0, 3.0],
            lower: vec![-1e308, -1e308],
            upper: vec![1e308, 1e308],
            color: RED,
            opacity: 0.2,
        });
        let fig = plot(vec![p]);
        let svg = render_svg(&fig).unwrap();
        let pts = &shapes(&svg, "polyline", BLUE)[0];
        assert!(pts.iter().all(|p| p.0.abs() < 2000.0 && p.1.abs() < 2000.0));
        assert_eq!(shapes(&svg, "polygon", RED).len(), 1);
        assert!(render_png(&fig, 1.0).is_ok());
    }
}
