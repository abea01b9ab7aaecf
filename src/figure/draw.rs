//! Stage: draw. Turns a resolved [`Plot`] (from the figure builder) into a
//! standalone SVG document, and rasterises that SVG into PNG bytes with resvg: one
//! drawing path, so the PNG is the SVG.
//!
//! The look follows a typeset paper: white background, a thin dark frame with
//! outward ticks, a very light grid at labelled ticks, text typeset by Typst (New
//! Computer Modern, math as in the captions; `text.rs`) in two sizes, panel titles
//! above the axes. The legend goes in the corner of the axes that no data crosses,
//! and to the right of the axes when every corner holds data.
//!
//! All geometry is clipped in CSS pixels (`draw/geom.rs`) before it is written, so
//! data far outside the axes never makes huge coordinates. Output is a pure function
//! of the `Plot`: no clocks, no hash-map order, no system fonts (text is outlines).

use std::fmt::Write as _;

use super::plot::*;
use super::text::{self, Request, Texts, Typeset};

// Submodules are named by path so that the module resolves the same whether this
// file is reached through `figure/mod.rs` or through a `#[path]` attribute.
#[path = "draw/axis.rs"]
mod axis;
#[path = "draw/geom.rs"]
mod geom;

use axis::{Axis, Tick};
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
    /// A label could not be typeset (bad LaTeX, say).
    #[error("{0}")]
    Text(String),
    /// The SVG could not be rasterised.
    #[error("rasterising the SVG: {0}")]
    Raster(String),
}

fn title_suffix(title: &Option<String>) -> String {
    title
        .as_ref()
        .map(|t| format!(" (\u{201c}{t}\u{201d})"))
        .unwrap_or_default()
}

/// Largest PNG side accepted by `render_png`, in output pixels.
pub const MAX_PNG_SIDE: u32 = 16_384;

/// Standalone SVG document of the whole figure: `columns * panel_width` by
/// `rows * panel_height` CSS pixels.
pub fn render_svg(plot: &Plot) -> Result<String, DrawError> {
    let axes = prepare(plot)?;
    let texts = text::typeset_all(&requests(plot, &axes)).map_err(DrawError::Text)?;
    let fig = layout(plot, &axes, &texts)?;
    let (w, h) = fig.size;
    let mut svg = Svg::default();
    svg.rect_fill(
        Rect {
            x0: 0.0,
            y0: 0.0,
            x1: f64::from(w),
            y1: f64::from(h),
        },
        WHITE,
    );
    for p in &fig.panels {
        draw_panel(&mut svg, p, &texts);
    }
    let label = plot
        .panels
        .iter()
        .map(|p| {
            [&p.title.clone().unwrap_or_default(), &p.y_label, &p.x_label]
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">",
        xml_escape(&label)
    );
    out.push_str(&texts.defs());
    out.push('\n');
    out.push_str(&svg.body);
    out.push_str("</svg>\n");
    Ok(out)
}

/// PNG bytes of an SVG at `scale` times its pixel size (rounded), on white. Our
/// SVGs hold no text elements (labels are outlines); for any other SVG the font
/// database holds only the fonts compiled into the binary, so the result never
/// depends on the machine's fonts.
pub fn render_png(svg: &str, scale: f64) -> Result<Vec<u8>, DrawError> {
    use resvg::{tiny_skia, usvg};
    if !(scale.is_finite() && scale > 0.0) {
        return Err(DrawError::Scale(scale));
    }
    let opt = usvg::Options {
        font_family: "New Computer Modern".into(),
        fontdb: font_db(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| DrawError::Raster(e.to_string()))?;
    let size = tree.size();
    let out_w = (f64::from(size.width()) * scale).round().max(1.0);
    let out_h = (f64::from(size.height()) * scale).round().max(1.0);
    if out_w > f64::from(MAX_PNG_SIDE) || out_h > f64::from(MAX_PNG_SIDE) {
        return Err(DrawError::Scale(scale));
    }
    let mut pixmap = tiny_skia::Pixmap::new(out_w as u32, out_h as u32)
        .ok_or_else(|| DrawError::Raster("empty image".into()))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    let ts =
        tiny_skia::Transform::from_scale(out_w as f32 / size.width(), out_h as f32 / size.height());
    resvg::render(&tree, ts, &mut pixmap.as_mut());
    pixmap
        .encode_png()
        .map_err(|e| DrawError::Raster(e.to_string()))
}

/// The fonts compiled into the binary, loaded once; never the system's.
fn font_db() -> std::sync::Arc<resvg::usvg::fontdb::Database> {
    use resvg::usvg::fontdb;
    static DB: std::sync::OnceLock<std::sync::Arc<fontdb::Database>> = std::sync::OnceLock::new();
    DB.get_or_init(|| {
        let mut db = fontdb::Database::new();
        for font in typst_assets::fonts() {
            db.load_font_source(fontdb::Source::Binary(std::sync::Arc::new(font)));
        }
        std::sync::Arc::new(db)
    })
    .clone()
}

// ---------------------------------------------------------------------------
// Style constants (CSS pixels). One typeface, two sizes: labels and titles, and
// everything smaller (ticks, legends, annotations).

const WHITE: Rgb = Rgb(255, 255, 255);
const INK: Rgb = Rgb(20, 20, 20);
const TICK_INK: Rgb = Rgb(40, 40, 40);
const GRID: Rgb = Rgb(232, 232, 232);
const LEGEND_BORDER: Rgb = Rgb(190, 190, 190);

const LARGE: f64 = 15.0;
const SMALL: f64 = 12.5;

const FRAME_WIDTH: f64 = 0.8;
const GRID_WIDTH: f64 = 0.6;
const TICK_LEN: f64 = 5.0;
const MINOR_TICK_LEN: f64 = 3.0;
const PAD: f64 = 8.0;

// ---------------------------------------------------------------------------
// Validation, text and layout.

/// Per panel: its fixed x and y ranges.
type Ranges = Vec<((f64, f64), (f64, f64))>;

fn prepare(plot: &Plot) -> Result<Ranges, DrawError> {
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
    plot.panels
        .iter()
        .enumerate()
        .map(|(index, panel)| {
            let err = |message: String| DrawError::Panel {
                panel: index,
                title: panel.title.clone(),
                message,
            };
            validate(panel).map_err(err)?;
            let x = fix_range(panel.x_range, panel.x_scale)
                .map_err(|m| err(format!("x range: {m}")))?;
            let y = fix_range(panel.y_range, panel.y_scale)
                .map_err(|m| err(format!("y range: {m}")))?;
            Ok((x, y))
        })
        .collect()
}

/// Tick label (as `axis.rs` writes it: "−0.5", "10⁻²", "2×10³") as Typst math.
fn tick_math(label: &str) -> String {
    let mut out = String::new();
    let mut sup = String::new();
    let flush = |out: &mut String, sup: &mut String| {
        if !sup.is_empty() {
            let _ = write!(out, "^({sup})");
            sup.clear();
        }
    };
    for c in label.chars() {
        let s = match c {
            '⁻' => Some('-'),
            '⁰' => Some('0'),
            '¹' => Some('1'),
            '²' => Some('2'),
            '³' => Some('3'),
            '⁴' => Some('4'),
            '⁵' => Some('5'),
            '⁶' => Some('6'),
            '⁷' => Some('7'),
            '⁸' => Some('8'),
            '⁹' => Some('9'),
            _ => None,
        };
        match s {
            Some(d) => sup.push(d),
            None => {
                flush(&mut out, &mut sup);
                match c {
                    '\u{2212}' | '-' => out.push('-'),
                    '×' => out.push_str(" times "),
                    c => out.push(c),
                }
            }
        }
    }
    flush(&mut out, &mut sup);
    out
}

/// Candidate tick counts tried when laying out an axis.
const TICK_TARGETS: std::ops::RangeInclusive<usize> = 1..=8;

/// Every text the figure may show, at its size. Tick labels for every candidate
/// tick count are included: which ones fit is decided with their typeset widths.
fn requests(plot: &Plot, ranges: &Ranges) -> Vec<Request> {
    let mut r = Vec::new();
    for (p, &((x_lo, x_hi), (y_lo, y_hi))) in plot.panels.iter().zip(ranges) {
        for s in [&p.x_label, &p.y_label]
            .into_iter()
            .chain(p.title.as_ref())
            .filter(|s| !s.is_empty())
        {
            r.push(Request::latex(s, LARGE));
        }
        for (label, _) in legend_entries(p) {
            r.push(Request::latex(label, SMALL));
        }
        for a in &p.annotations {
            r.push(Request::latex(&a.text, SMALL));
        }
        for l in p.vlines.iter().chain(&p.hlines) {
            if let Some(t) = &l.label {
                r.push(Request::latex(t, SMALL));
            }
        }
        let bar = p.heatmap.as_ref().map(|h| bar_range(h.range));
        if let Some(h) = &p.heatmap {
            if !h.label.is_empty() {
                r.push(Request::latex(&h.label, LARGE));
            }
        }
        for target in TICK_TARGETS {
            let bar_ticks = bar
                .map(|(lo, hi)| axis::ticks(Scale::Linear, lo, hi, target))
                .unwrap_or_default();
            for t in axis::ticks(p.x_scale, x_lo, x_hi, target)
                .into_iter()
                .chain(axis::ticks(p.y_scale, y_lo, y_hi, target))
                .chain(bar_ticks)
            {
                if let Some(l) = t.label {
                    r.push(Request::math(&tick_math(&l), SMALL));
                }
            }
        }
    }
    r
}

/// A laid-out figure.
struct Figure<'p> {
    size: (u32, u32),
    panels: Vec<PanelLayout<'p>>,
}

struct PanelLayout<'p> {
    panel: &'p Panel,
    /// The panel's box in the figure.
    cell: Rect,
    /// The axes' box (plot area).
    frame: Rect,
    x: Axis,
    y: Axis,
    x_ticks: Vec<Tick>,
    y_ticks: Vec<Tick>,
    /// Top-left corner of the legend box and the legend's shape.
    legend: Option<(Pt, LegendShape)>,
    /// A heat map's colour bar.
    bar: Option<ColourBar>,
}

/// A heat map's colour bar: a vertical strip right of the axes, as tall as they are.
struct ColourBar {
    rect: Rect,
    axis: Axis,
    ticks: Vec<Tick>,
}

/// Gap between the axes and the colour bar, and the bar's width.
const BAR_GAP: f64 = 12.0;
const BAR_WIDTH: f64 = 12.0;
/// Colour steps of the bar; the cells' colours are quantised to the same steps.
const COLOUR_STEPS: f64 = 128.0;

/// The colour bar's value range, with some width when the values are all equal.
fn bar_range((a, b): (f64, f64)) -> (f64, f64) {
    fix_range((a, b), Scale::Linear).unwrap_or((0.0, 1.0))
}

/// Labelled ticks of a colour bar `height` pixels tall over `range`: as dense as
/// the y axis of the same height, never fewer than two.
fn bar_ticks(range: (f64, f64), height: f64) -> Vec<Tick> {
    let (lo, hi) = bar_range(range);
    let target = (height / 50.0).round().clamp(3.0, 8.0) as usize;
    for t in target..=*TICK_TARGETS.end() {
        let ticks: Vec<Tick> = axis::ticks(Scale::Linear, lo, hi, t)
            .into_iter()
            .filter(|k| k.value >= lo - 1e-9 * (hi - lo) && k.value <= hi + 1e-9 * (hi - lo))
            .collect();
        if ticks.len() >= 2 {
            return ticks;
        }
    }
    // A range narrower than any nice step: its two ends.
    let fmt = |v: f64| format!("{v:.3}").replace('-', "\u{2212}");
    vec![
        Tick {
            value: lo,
            label: Some(fmt(lo)),
        },
        Tick {
            value: hi,
            label: Some(fmt(hi)),
        },
    ]
}

/// Colour of a value on a heat map's scale, quantised to [`COLOUR_STEPS`] steps.
fn heat_colour(v: f64, (lo, hi): (f64, f64)) -> Rgb {
    let t = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
    let step = (t * COLOUR_STEPS).floor().min(COLOUR_STEPS - 1.0);
    crate::figure::viridis((step + 0.5) / COLOUR_STEPS)
}

/// Width the colour bar takes right of the axes: gap, bar, ticks, labels, title.
fn bar_reserve(h: &Heatmap, ticks: &[Tick], texts: &Texts) -> f64 {
    let labels = ticks
        .iter()
        .filter_map(|t| t.label.as_deref())
        .map(|l| tick_extent(texts, l).0)
        .fold(0.0, f64::max);
    let title = if h.label.is_empty() {
        0.0
    } else {
        extent(texts, &h.label, LARGE).1 + 5.0
    };
    BAR_GAP + BAR_WIDTH + TICK_LEN + 3.0 + labels + title + 2.0
}

fn layout<'p>(plot: &'p Plot, ranges: &Ranges, texts: &Texts) -> Result<Figure<'p>, DrawError> {
    let columns = plot.columns.min(plot.panels.len());
    let rows = plot.panels.len().div_ceil(columns);
    let (pw, ph) = (f64::from(plot.panel_width), f64::from(plot.panel_height));
    let mut panels = Vec::with_capacity(plot.panels.len());
    for (index, (panel, &(xr, yr))) in plot.panels.iter().zip(ranges).enumerate() {
        let (col, row) = ((index % columns) as f64, (index / columns) as f64);
        let cell = Rect {
            x0: col * pw,
            y0: row * ph,
            x1: (col + 1.0) * pw,
            y1: (row + 1.0) * ph,
        };
        panels.push(layout_panel(panel, cell, xr, yr, texts));
    }
    Ok(Figure {
        size: (
            (columns as u32) * plot.panel_width,
            (rows as u32) * plot.panel_height,
        ),
        panels,
    })
}

/// Width and height of a typeset text (zero when absent).
fn extent(texts: &Texts, source: &str, size: f64) -> (f64, f64) {
    texts
        .get(source, size)
        .map(|t| (t.width, t.height))
        .unwrap_or((0.0, 0.0))
}

fn tick_extent(texts: &Texts, label: &str) -> (f64, f64) {
    extent(texts, &tick_math(label), SMALL)
}

fn layout_panel<'p>(
    panel: &'p Panel,
    cell: Rect,
    x_range: (f64, f64),
    y_range: (f64, f64),
    texts: &Texts,
) -> PanelLayout<'p> {
    let shape = legend_shape(panel, texts);
    let mut l = layout_axes(panel, cell, x_range, y_range, texts, 0.0);
    if let (Some(shape), Some(pos)) = (shape, panel.legend) {
        let corners = [
            pos,
            LegendPosition::UpperRight,
            LegendPosition::UpperLeft,
            LegendPosition::LowerRight,
            LegendPosition::LowerLeft,
        ];
        let scored: Vec<(usize, Pt)> = corners
            .iter()
            .map(|&c| {
                let shape = shape.fit(l.frame.height(), texts, panel);
                let at = corner(&l.frame, c, &shape);
                (coverage(&l, &legend_rect(at, &shape)), at)
            })
            .collect();
        let best = scored
            .iter()
            .enumerate()
            .min_by_key(|(i, (n, _))| (*n, *i))
            .map(|(i, _)| i)
            .unwrap_or(0);
        if scored[best].0 == 0 {
            let shape = shape.fit(l.frame.height(), texts, panel);
            l.legend = Some((scored[best].1, shape));
        } else {
            // Every corner holds data: the legend goes to the right of the axes.
            let shape = shape.fit(cell.y1 - cell.y0 - 2.0 * PAD - 30.0, texts, panel);
            let reserve = shape.width + 10.0;
            l = layout_axes(panel, cell, x_range, y_range, texts, reserve);
            let at = (l.frame.x1 + 10.0, l.frame.y0);
            l.legend = Some((at, shape));
        }
    }
    l
}

fn layout_axes<'p>(
    panel: &'p Panel,
    cell: Rect,
    (x_lo, x_hi): (f64, f64),
    (y_lo, y_hi): (f64, f64),
    texts: &Texts,
    reserve_right: f64,
) -> PanelLayout<'p> {
    let title_h = panel
        .title
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| extent(texts, t, LARGE).1);
    let top = cell.y0 + PAD + title_h.map_or(4.0, |h| h + 6.0);
    let tick_h = tick_extent(texts, "0").1.max(SMALL);
    let mut bottom_margin = PAD + TICK_LEN + 3.0 + tick_h;
    if !panel.x_label.is_empty() {
        bottom_margin += 3.0 + extent(texts, &panel.x_label, LARGE).1;
    }
    let bottom = (cell.y1 - bottom_margin).max(top + 10.0);

    let y_target = ((bottom - top) / 50.0).round().clamp(3.0, 8.0) as usize;
    let y_ticks = axis::ticks(panel.y_scale, y_lo, y_hi, y_target);
    let y_label_w = y_ticks
        .iter()
        .filter_map(|t| t.label.as_deref())
        .map(|l| tick_extent(texts, l).0)
        .fold(0.0, f64::max);
    let mut left = cell.x0 + PAD + y_label_w + 3.0 + TICK_LEN;
    if !panel.y_label.is_empty() {
        left += extent(texts, &panel.y_label, LARGE).1 + 4.0;
    }
    let bar_ticks_ = panel
        .heatmap
        .as_ref()
        .map(|h| (h, bar_ticks(h.range, bottom - top)));
    let reserve_right = reserve_right
        + bar_ticks_
            .as_ref()
            .map_or(0.0, |(h, t)| bar_reserve(h, t, texts));
    let mut right = cell.x1 - PAD - 6.0 - reserve_right;

    let mut x_ticks = Vec::new();
    // Twice: the last tick label may stick out and push the right edge in.
    for _ in 0..2 {
        let width = (right - left).max(10.0);
        x_ticks = x_ticks_that_fit(panel.x_scale, x_lo, x_hi, width, texts);
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
            .map(|(px, l)| px + tick_extent(texts, l).0 / 2.0 - (cell.x1 - 2.0 - reserve_right))
            .fold(0.0, f64::max);
        if overhang <= 0.0 {
            break;
        }
        right -= overhang;
    }
    right = right.max(left + 10.0);
    let mut frame = Rect {
        x0: left,
        y0: top,
        x1: right,
        y1: bottom,
    };
    let mut y_ticks = y_ticks;
    if panel.heatmap.is_some() {
        // A map keeps the data's aspect ratio (one unit of x as long as one of y)
        // when the ranges are comparable: the narrower side of the box shrinks.
        let (ux, uy) = (
            (frame.x1 - frame.x0) / (x_hi - x_lo),
            (frame.y1 - frame.y0) / (y_hi - y_lo),
        );
        let ratio = ux / uy;
        if (0.25..=4.0).contains(&ratio) {
            if ux > uy {
                let w = uy * (x_hi - x_lo);
                let slack = frame.x1 - frame.x0 - w;
                frame.x0 += slack / 2.0;
                frame.x1 -= slack / 2.0;
                x_ticks = x_ticks_that_fit(panel.x_scale, x_lo, x_hi, w, texts);
            } else if uy > ux {
                frame.y1 = frame.y0 + ux * (y_hi - y_lo);
                let target = ((frame.y1 - frame.y0) / 50.0).round().clamp(3.0, 8.0) as usize;
                y_ticks = axis::ticks(panel.y_scale, y_lo, y_hi, target);
            }
        }
    }
    let bar = bar_ticks_.map(|(h, _)| {
        let rect = Rect {
            x0: frame.x1 + BAR_GAP,
            y0: frame.y0,
            x1: frame.x1 + BAR_GAP + BAR_WIDTH,
            y1: frame.y1,
        };
        let (lo, hi) = bar_range(h.range);
        ColourBar {
            rect,
            axis: Axis {
                scale: Scale::Linear,
                lo,
                hi,
                px_lo: rect.y1,
                px_hi: rect.y0,
            },
            ticks: bar_ticks(h.range, rect.height()),
        }
    });
    PanelLayout {
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
        legend: None,
        bar,
    }
}

/// The densest x ticks whose labels do not run into each other.
fn x_ticks_that_fit(scale: Scale, lo: f64, hi: f64, width: f64, texts: &Texts) -> Vec<Tick> {
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
                let half = tick_extent(texts, l).0 / 2.0;
                let ok = px - half >= prev_end + 0.6 * SMALL;
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
    if let Some(h) = &p.heatmap {
        if h.xs.len() < 2 || h.ys.len() < 2 || h.values.len() != h.xs.len() * h.ys.len() {
            return Err(format!(
                "heat map: {} values for a grid of {} by {} (need at least 2 by 2)",
                h.values.len(),
                h.xs.len(),
                h.ys.len()
            ));
        }
        for (name, c) in [("x", &h.xs), ("y", &h.ys)] {
            if !c.windows(2).all(|w| w[0] < w[1]) || !c.iter().all(|v| v.is_finite()) {
                return Err(format!(
                    "heat map: the {name} values of the grid are not finite and increasing"
                ));
            }
        }
        finite(h.range.0, "heat map: lower end of the colour scale")?;
        finite(h.range.1, "heat map: upper end of the colour scale")?;
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

// ---------------------------------------------------------------------------
// SVG output.

#[derive(Default)]
struct Svg {
    body: String,
}

fn hex(c: Rgb) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// A number with at most two decimals, without trailing zeros.
fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

fn points(pts: &[Pt]) -> String {
    pts.iter()
        .map(|p| format!("{},{}", num(p.0), num(p.1)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn dash_pattern(dash: Dash, width: f64) -> Option<String> {
    let w = width.max(0.75);
    match dash {
        Dash::Solid => None,
        Dash::Dashed => Some(format!("{} {}", num(4.5 * w + 1.5), num(2.5 * w + 1.5))),
        Dash::Dotted => Some(format!("{} {}", num(w), num(1.6 * w + 0.8))),
    }
}

impl Svg {
    /// An open polyline `width` pixels wide.
    fn stroke(&mut self, pts: &[Pt], color: Rgb, width: f64, dash: Dash) {
        if pts.len() < 2 || width <= 0.0 {
            return;
        }
        let dash = dash_pattern(dash, width)
            .map(|d| format!(" stroke-dasharray=\"{d}\""))
            .unwrap_or_default();
        let _ = writeln!(
            self.body,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-linejoin=\"round\" stroke-linecap=\"butt\"{dash}/>",
            points(pts),
            hex(color),
            num(width)
        );
    }

    /// A filled polygon (closed implicitly).
    fn fill(&mut self, pts: &[Pt], color: Rgb, opacity: f64) {
        if pts.len() < 3 || opacity <= 0.0 {
            return;
        }
        let op = if opacity < 1.0 {
            format!(" fill-opacity=\"{}\"", num(opacity))
        } else {
            String::new()
        };
        let _ = writeln!(
            self.body,
            "<polygon points=\"{}\" fill=\"{}\"{op}/>",
            points(pts),
            hex(color)
        );
    }

    fn rect_fill(&mut self, r: Rect, color: Rgb) {
        let _ = writeln!(
            self.body,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>",
            num(r.x0),
            num(r.y0),
            num(r.x1 - r.x0),
            num(r.y1 - r.y0),
            hex(color)
        );
    }

    fn disc(&mut self, c: Pt, radius: f64, color: Rgb) {
        let _ = writeln!(
            self.body,
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"/>",
            num(c.0),
            num(c.1),
            num(radius),
            hex(color)
        );
    }

    /// Places typeset text: `at` is a point on its baseline, aligned left, centred
    /// or right; vertical text reads bottom to top with its baseline at x = `at.0`.
    fn text(&mut self, t: &Typeset, at: Pt, align: Align, vertical: bool) {
        let dx = match align {
            Align::Left => 0.0,
            Align::Center => -t.width / 2.0,
            Align::Right => -t.width,
        };
        let transform = if vertical {
            format!(
                "translate({} {}) rotate(-90) translate({} {})",
                num(at.0),
                num(at.1),
                num(dx),
                num(-t.baseline)
            )
        } else {
            format!("translate({} {})", num(at.0 + dx), num(at.1 - t.baseline))
        };
        let _ = writeln!(
            self.body,
            "<g class=\"text\" transform=\"{transform}\" aria-label=\"{}\">{}</g>",
            xml_escape(&t.source),
            t.body
        );
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Align {
    Left,
    Center,
    Right,
}

// ---------------------------------------------------------------------------
// Drawing.

fn draw_panel(c: &mut Svg, l: &PanelLayout<'_>, texts: &Texts) {
    let f = l.frame;
    let p = l.panel;
    let small = |s: &str| texts.get(s, SMALL);

    if let Some(h) = &p.heatmap {
        draw_cells(c, h, &l.x, &l.y, &f);
    }
    // Grid at labelled ticks (not over a map).
    let grid = p.heatmap.is_none();
    for t in l.x_ticks.iter().filter(|t| grid && t.label.is_some()) {
        if let Some(x) = l.x.px(t.value) {
            c.stroke(&[(x, f.y0), (x, f.y1)], GRID, GRID_WIDTH, Dash::Solid);
        }
    }
    for t in l.y_ticks.iter().filter(|t| grid && t.label.is_some()) {
        if let Some(y) = l.y.px(t.value) {
            c.stroke(&[(f.x0, y), (f.x1, y)], GRID, GRID_WIDTH, Dash::Solid);
        }
    }

    for b in &p.bands {
        for poly in band_polygons(b, &l.x, &l.y) {
            c.fill(&geom::clip_polygon(&poly, &f), b.color, b.opacity);
        }
    }
    for r in &p.ridges {
        if let Some(poly) = ridge_polygon(r, &l.x, &l.y) {
            c.fill(&geom::clip_polygon(&poly, &f), r.color, r.opacity);
            // Outline the staircase only: the baseline side is shared with the
            // other half of a split violin.
            for piece in geom::clip_polyline(&poly, &f) {
                c.stroke(&piece, r.color, 0.8, Dash::Solid);
            }
        }
    }
    for line in &p.lines {
        draw_line(c, line, &l.x, &l.y, &f);
    }
    if let Some(h) = &p.heatmap {
        for k in &h.contours {
            for path in &k.paths {
                let px: Vec<Pt> = path
                    .iter()
                    .filter_map(|&(a, b)| Some((l.x.px(a)?, l.y.px(b)?)))
                    .collect();
                for piece in geom::clip_polyline(&px, &f) {
                    contour_stroke(c, &piece);
                }
            }
        }
        for &(a, b) in &h.points {
            if let (Some(x), Some(y)) = (l.x.px(a), l.y.px(b)) {
                if f.contains((x, y)) {
                    point_mark(c, (x, y));
                }
            }
        }
    }
    for r in &p.vlines {
        if let Some(x) = l.x.px(r.at).filter(|x| *x >= f.x0 && *x <= f.x1) {
            c.stroke(&[(x, f.y1), (x, f.y0)], r.color, 1.0, r.dash);
            if let Some(t) = r.label.as_deref().and_then(small) {
                c.text(t, (x + 3.0, f.y0 + 3.0 + t.baseline), Align::Left, false);
            }
        }
    }
    for r in &p.hlines {
        if let Some(y) = l.y.px(r.at).filter(|y| *y >= f.y0 && *y <= f.y1) {
            c.stroke(&[(f.x0, y), (f.x1, y)], r.color, 1.0, r.dash);
            if let Some(t) = r.label.as_deref().and_then(small) {
                c.text(t, (f.x1 - 4.0, y - 3.0), Align::Right, false);
            }
        }
    }
    for m in &p.paper_marks {
        draw_paper_mark(c, m, &l.x, &l.y, &f);
    }
    for a in &p.annotations {
        if let (Some(x), Some(y), Some(t)) = (l.x.px(a.x), l.y.px(a.y), small(&a.text)) {
            if l.cell.contains((x, y)) {
                c.text(t, (x, y + 0.3 * SMALL), Align::Center, false);
            }
        }
    }

    draw_axes(c, l, texts);
    if let (Some(bar), Some(h)) = (&l.bar, &p.heatmap) {
        draw_bar(c, bar, h, texts);
    }
    if let Some((at, shape)) = &l.legend {
        draw_legend(c, p, *at, shape, texts);
    }
}

/// The outline of `r` in the ink and width of a panel's frame.
fn draw_frame(c: &mut Svg, r: &Rect) {
    ink_stroke(
        c,
        &[
            (r.x0, r.y0),
            (r.x1, r.y0),
            (r.x1, r.y1),
            (r.x0, r.y1),
            (r.x0, r.y0),
        ],
    );
}

/// A line through `points` in the ink and width of a panel's frame.
fn ink_stroke(c: &mut Svg, points: &[(f64, f64)]) {
    c.stroke(points, TICK_INK, FRAME_WIDTH, Dash::Solid);
}

/// How long the mark of tick `t` is: a labelled tick is a major one.
fn tick_len(t: &Tick) -> f64 {
    if t.label.is_some() {
        TICK_LEN
    } else {
        MINOR_TICK_LEN
    }
}

fn draw_axes(c: &mut Svg, l: &PanelLayout<'_>, texts: &Texts) {
    let f = l.frame;
    let p = l.panel;
    draw_frame(c, &f);
    let tick = |l: &str| texts.get(&tick_math(l), SMALL);
    let mut x_label_top = f.y1 + TICK_LEN + 3.0;
    for t in &l.x_ticks {
        let Some(x) = l.x.px(t.value) else { continue };
        if x < f.x0 - 0.5 || x > f.x1 + 0.5 {
            continue;
        }
        let len = tick_len(t);
        ink_stroke(c, &[(x, f.y1), (x, f.y1 + len)]);
        if let Some(ts) = t.label.as_deref().and_then(tick) {
            let top = f.y1 + TICK_LEN + 3.0;
            c.text(ts, (x, top + ts.baseline), Align::Center, false);
            x_label_top = x_label_top.max(top + ts.height);
        }
    }
    let mut y_label_right = f.x0 - TICK_LEN - 3.0;
    for t in &l.y_ticks {
        let Some(y) = l.y.px(t.value) else { continue };
        if y < f.y0 - 0.5 || y > f.y1 + 0.5 {
            continue;
        }
        let len = tick_len(t);
        ink_stroke(c, &[(f.x0 - len, y), (f.x0, y)]);
        if let Some(ts) = t.label.as_deref().and_then(tick) {
            // Centre the figures (not the box) on the tick: half the height of a digit.
            let at = (f.x0 - TICK_LEN - 3.0, y + 0.35 * SMALL);
            c.text(ts, at, Align::Right, false);
            y_label_right = y_label_right.min(at.0 - ts.width);
        }
    }
    let mid_x = (f.x0 + f.x1) / 2.0;
    if let Some(t) = texts
        .get(&p.x_label, LARGE)
        .filter(|_| !p.x_label.is_empty())
    {
        c.text(
            t,
            (mid_x, x_label_top + 3.0 + t.baseline),
            Align::Center,
            false,
        );
    }
    if let Some(t) = texts
        .get(&p.y_label, LARGE)
        .filter(|_| !p.y_label.is_empty())
    {
        // Rotated, the text's descent lies to the right of its baseline.
        let x = y_label_right - 4.0 - (t.height - t.baseline);
        c.text(t, (x, (f.y0 + f.y1) / 2.0), Align::Center, true);
    }
    if let Some(t) = p.title.as_deref().and_then(|s| texts.get(s, LARGE)) {
        c.text(
            t,
            (mid_x, l.cell.y0 + PAD + t.baseline),
            Align::Center,
            false,
        );
    }
}

fn draw_line(c: &mut Svg, line: &Line, x: &Axis, y: &Axis, frame: &Rect) {
    let mapped: Vec<Option<Pt>> = line
        .xs
        .iter()
        .zip(&line.ys)
        .map(|(&a, &b)| Some((x.px(a)?, y.px(b)?)))
        .collect();
    if line.width > 0.0 {
        for run in line_runs(line, x, &mapped) {
            for piece in geom::clip_polyline(&run, frame) {
                c.stroke(&piece, line.color, line.width, line.dash);
            }
        }
    }
    if line.markers {
        let r = marker_radius(line.width);
        for p in mapped.iter().flatten() {
            if frame.contains(*p) {
                c.disc(*p, r, line.color);
            }
        }
    }
}

/// The cells of a heat map, clipped to the frame. Neighbouring cells of one colour
/// in a row are drawn as one rectangle; each rectangle reaches a pixel under its
/// right and upper neighbours (drawn after it, so the overlap is never seen): two
/// antialiased edges meeting in one pixel would let the background show through.
fn draw_cells(c: &mut Svg, h: &Heatmap, x: &Axis, y: &Axis, frame: &Rect) {
    fn edges(centres: &[f64]) -> Vec<f64> {
        let n = centres.len();
        let mut e = Vec::with_capacity(n + 1);
        e.push(centres[0] - 0.5 * (centres[1] - centres[0]));
        e.extend(centres.windows(2).map(|w| 0.5 * (w[0] + w[1])));
        e.push(centres[n - 1] + 0.5 * (centres[n - 1] - centres[n - 2]));
        e
    }
    let range = bar_range(h.range);
    let ex: Vec<Option<f64>> = edges(&h.xs).into_iter().map(|v| x.px(v)).collect();
    let ey: Vec<Option<f64>> = edges(&h.ys).into_iter().map(|v| y.px(v)).collect();
    let nx = h.xs.len();
    const OVERLAP: f64 = 1.0;
    let _ = writeln!(c.body, "<g class=\"cells\">");
    for j in 0..h.ys.len() {
        let (Some(bottom), Some(top)) = (ey[j], ey[j + 1]) else {
            continue;
        };
        let mut i = 0;
        while i < nx {
            let v = h.values[j * nx + i];
            if !v.is_finite() {
                i += 1;
                continue;
            }
            let colour = heat_colour(v, range);
            let mut end = i + 1;
            while end < nx && {
                let w = h.values[j * nx + end];
                w.is_finite() && heat_colour(w, range) == colour
            } {
                end += 1;
            }
            if let (Some(left), Some(right)) = (ex[i], ex[end]) {
                let r = Rect {
                    x0: left.max(frame.x0),
                    x1: (right + OVERLAP).min(frame.x1),
                    y0: (top - OVERLAP).max(frame.y0),
                    y1: bottom.min(frame.y1),
                };
                if r.x1 > r.x0 && r.y1 > r.y0 {
                    c.rect_fill(r, colour);
                }
            }
            i = end;
        }
    }
    let _ = writeln!(c.body, "</g>");
}

/// A contour line: ink on a white halo, readable on dark and light cells alike.
fn contour_stroke(c: &mut Svg, pts: &[Pt]) {
    c.stroke(pts, WHITE, 2.6, Dash::Solid);
    c.stroke(pts, INK, 1.2, Dash::Solid);
}

/// A marked point on a heat map: a white disc ringed in ink.
fn point_mark(c: &mut Svg, (x, y): Pt) {
    let _ = writeln!(
        c.body,
        "<circle cx=\"{}\" cy=\"{}\" r=\"3.2\" fill=\"{}\" stroke=\"{}\" stroke-width=\"1.1\"/>",
        num(x),
        num(y),
        hex(WHITE),
        hex(INK)
    );
}

/// The colour bar: the colour map in steps, a frame, ticks with labels on the right,
/// contour levels as lines across it, the label rotated beyond the tick labels.
fn draw_bar(c: &mut Svg, bar: &ColourBar, h: &Heatmap, texts: &Texts) {
    let r = bar.rect;
    let (lo, hi) = (bar.axis.lo, bar.axis.hi);
    let steps = COLOUR_STEPS as usize;
    let _ = writeln!(c.body, "<g class=\"colour-bar\">");
    for k in 0..steps {
        let v0 = lo + (hi - lo) * k as f64 / COLOUR_STEPS;
        let v1 = lo + (hi - lo) * (k + 1) as f64 / COLOUR_STEPS;
        let (Some(y0), Some(y1)) = (bar.axis.px(v1), bar.axis.px(v0)) else {
            continue;
        };
        let rect = Rect {
            x0: r.x0,
            x1: r.x1,
            y0: (y0 - 1.0).max(r.y0),
            y1,
        };
        c.rect_fill(rect, heat_colour(0.5 * (v0 + v1), (lo, hi)));
    }
    let _ = writeln!(c.body, "</g>");
    // Values beyond the scale take the colour of its end: a triangle on that end
    // of the bar says so.
    let (below, above) = h
        .values
        .iter()
        .filter(|v| v.is_finite())
        .fold((false, false), |(b, a), &v| (b || v < lo, a || v > hi));
    let mid = (r.x0 + r.x1) / 2.0;
    for (beyond, y, tip, colour) in [
        (
            above,
            r.y0,
            r.y0 - 0.8 * BAR_WIDTH,
            heat_colour(hi, (lo, hi)),
        ),
        (
            below,
            r.y1,
            r.y1 + 0.8 * BAR_WIDTH,
            heat_colour(lo, (lo, hi)),
        ),
    ] {
        if beyond {
            let tri = [(r.x0, y), (r.x1, y), (mid, tip)];
            c.fill(&tri, colour, 1.0);
            ink_stroke(c, &[tri[0], tri[2], tri[1]]);
        }
    }
    for k in &h.contours {
        if let Some(y) = bar.axis.px(k.level).filter(|y| *y >= r.y0 && *y <= r.y1) {
            contour_stroke(c, &[(r.x0, y), (r.x1, y)]);
        }
    }
    draw_frame(c, &r);
    let mut right = r.x1 + TICK_LEN + 3.0;
    for t in &bar.ticks {
        let Some(y) = bar.axis.px(t.value) else {
            continue;
        };
        if y < r.y0 - 0.5 || y > r.y1 + 0.5 {
            continue;
        }
        ink_stroke(c, &[(r.x1, y), (r.x1 + TICK_LEN, y)]);
        if let Some(ts) = t
            .label
            .as_deref()
            .and_then(|l| texts.get(&tick_math(l), SMALL))
        {
            let at = (r.x1 + TICK_LEN + 3.0, y + 0.35 * SMALL);
            c.text(ts, at, Align::Left, false);
            right = right.max(at.0 + ts.width);
        }
    }
    if let Some(t) = texts.get(&h.label, LARGE).filter(|_| !h.label.is_empty()) {
        // Rotated to read upwards; its ascent lies left of the baseline.
        c.text(
            t,
            (right + 4.0 + t.baseline, (r.y0 + r.y1) / 2.0),
            Align::Center,
            true,
        );
    }
}

/// A point read off the paper: error bars, then an open diamond, in ink.
fn draw_paper_mark(c: &mut Svg, m: &PaperMark, x: &Axis, y: &Axis, frame: &Rect) {
    let (Some(px), Some(py)) = (x.px(m.x), y.px(m.y)) else {
        return;
    };
    if !frame.contains((px, py)) {
        return;
    }
    let mut bar = |a: Option<f64>, b: Option<f64>, horizontal: bool| {
        let (Some(a), Some(b)) = (a, b) else {
            return;
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
            c.stroke(&piece, INK, 1.1, Dash::Solid);
        }
        for k in cap {
            if k.iter().all(|p| frame.contains(*p)) {
                c.stroke(&k, INK, 1.1, Dash::Solid);
            }
        }
    };
    if m.x_error > 0.0 {
        bar(x.px(m.x - m.x_error), x.px(m.x + m.x_error), true);
    }
    if m.y_error > 0.0 {
        bar(y.px(m.y - m.y_error), y.px(m.y + m.y_error), false);
    }
    paper_diamond(c, (px, py));
}

fn paper_diamond(c: &mut Svg, (px, py): Pt) {
    const R: f64 = 4.5;
    let diamond = [
        (px, py - R),
        (px + R, py),
        (px, py + R),
        (px - R, py),
        (px, py - R),
    ];
    c.fill(&diamond[..4], WHITE, 1.0);
    c.stroke(&diamond, INK, 1.4, Dash::Solid);
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
    /// A heat map's contour line.
    Contour,
    /// A heat map's marked point.
    Point,
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
    if let Some(h) = &p.heatmap {
        for k in &h.contours {
            push(&k.label, Swatch::Contour);
        }
        if !h.points.is_empty() {
            push(&h.points_label, Swatch::Point);
        }
    }
    if !p.paper_marks.is_empty() {
        entries.push((PAPER_MARK_LABEL, Swatch::PaperMark));
    }
    entries
}

const LEGEND_INSET: f64 = 8.0;
const LEGEND_INNER: f64 = 6.0;
const SAMPLE: f64 = 24.0;
const SAMPLE_GAP: f64 = 6.0;
const COL_GAP: f64 = 12.0;

/// The legend's size: entries in columns of `rows` rows.
#[derive(Clone, Copy, Debug)]
struct LegendShape {
    rows: usize,
    row_h: f64,
    width: f64,
    height: f64,
}

fn legend_shape(p: &Panel, texts: &Texts) -> Option<LegendShape> {
    let entries = legend_entries(p);
    if entries.is_empty() {
        return None;
    }
    let row_h = entries
        .iter()
        .map(|(l, _)| extent(texts, l, SMALL).1)
        .fold(SMALL * 1.3, f64::max)
        + 2.0;
    Some(LegendShape {
        rows: entries.len(),
        row_h,
        width: 0.0,
        height: 0.0,
    })
    .map(|s| s.fit(f64::INFINITY, texts, p))
}

impl LegendShape {
    /// The shape with as many rows as fit in `avail_h` pixels.
    fn fit(self, avail_h: f64, texts: &Texts, p: &Panel) -> LegendShape {
        let entries = legend_entries(p);
        let avail = (avail_h - 2.0 * LEGEND_INSET - 2.0 * LEGEND_INNER).max(self.row_h);
        let rows_fit = ((avail / self.row_h).floor() as usize).max(1);
        let cols = entries.len().div_ceil(rows_fit);
        let rows = entries.len().div_ceil(cols);
        let width = 2.0 * LEGEND_INNER
            + (0..cols)
                .map(|col| column_width(&entries, col, rows, texts))
                .sum::<f64>()
            + COL_GAP * (cols - 1) as f64;
        LegendShape {
            rows,
            row_h: self.row_h,
            width,
            height: 2.0 * LEGEND_INNER + rows as f64 * self.row_h,
        }
    }
}

fn column_width(entries: &[(&str, Swatch)], col: usize, rows: usize, texts: &Texts) -> f64 {
    entries
        .iter()
        .skip(col * rows)
        .take(rows)
        .map(|(l, _)| extent(texts, l, SMALL).0)
        .fold(0.0, f64::max)
        + SAMPLE
        + SAMPLE_GAP
}

fn corner(f: &Rect, pos: LegendPosition, s: &LegendShape) -> Pt {
    let x0 = match pos {
        LegendPosition::UpperLeft | LegendPosition::LowerLeft => f.x0 + LEGEND_INSET,
        LegendPosition::UpperRight | LegendPosition::LowerRight => f.x1 - LEGEND_INSET - s.width,
    };
    let y0 = match pos {
        LegendPosition::UpperLeft | LegendPosition::UpperRight => f.y0 + LEGEND_INSET,
        LegendPosition::LowerLeft | LegendPosition::LowerRight => f.y1 - LEGEND_INSET - s.height,
    };
    (x0, y0)
}

fn legend_rect((x0, y0): Pt, s: &LegendShape) -> Rect {
    Rect {
        x0,
        y0,
        x1: x0 + s.width,
        y1: y0 + s.height,
    }
}

/// How much of the panel's data a legend box at `r` would cover: the segments of
/// lines, band and ridge outlines crossing it, markers and read-off points inside it,
/// and filled regions it lies in.
fn coverage(l: &PanelLayout<'_>, r: &Rect) -> usize {
    let p = l.panel;
    let r = Rect {
        x0: r.x0 - 2.0,
        y0: r.y0 - 2.0,
        x1: r.x1 + 2.0,
        y1: r.y1 + 2.0,
    };
    if r.x0 < l.frame.x0 - 0.5
        || r.x1 > l.frame.x1 + 0.5
        || r.y0 < l.frame.y0 - 0.5
        || r.y1 > l.frame.y1 + 0.5
    {
        // Larger than the axes (with the inset): it cannot sit inside.
        if r.x1 - r.x0 > l.frame.x1 - l.frame.x0 || r.y1 - r.y0 > l.frame.y1 - l.frame.y0 {
            return usize::MAX;
        }
    }
    let crossing = |pts: &[Pt]| {
        pts.windows(2)
            .filter(|w| geom::clip_segment(w[0], w[1], &r).is_some())
            .count()
    };
    let centre = ((r.x0 + r.x1) / 2.0, (r.y0 + r.y1) / 2.0);
    let mut n = 0;
    for line in &p.lines {
        let mapped: Vec<Option<Pt>> = line
            .xs
            .iter()
            .zip(&line.ys)
            .map(|(&a, &b)| Some((l.x.px(a)?, l.y.px(b)?)))
            .collect();
        if line.width > 0.0 {
            for run in line_runs(line, &l.x, &mapped) {
                n += crossing(&run);
            }
        }
        if line.markers {
            n += mapped.iter().flatten().filter(|q| r.contains(**q)).count();
        }
    }
    let polys = p
        .bands
        .iter()
        .flat_map(|b| band_polygons(b, &l.x, &l.y))
        .chain(p.ridges.iter().filter_map(|g| ridge_polygon(g, &l.x, &l.y)));
    for mut poly in polys {
        if let Some(&first) = poly.first() {
            poly.push(first);
        }
        n += crossing(&poly);
        if inside(&poly, centre) {
            n += 1;
        }
    }
    if let Some(h) = &p.heatmap {
        for path in h.contours.iter().flat_map(|k| &k.paths) {
            let px: Vec<Pt> = path
                .iter()
                .filter_map(|&(a, b)| Some((l.x.px(a)?, l.y.px(b)?)))
                .collect();
            n += crossing(&px);
        }
        for &(a, b) in &h.points {
            if let (Some(x), Some(y)) = (l.x.px(a), l.y.px(b)) {
                if r.contains((x, y)) {
                    n += 1;
                }
            }
        }
    }
    for m in &p.paper_marks {
        if let (Some(x), Some(y)) = (l.x.px(m.x), l.y.px(m.y)) {
            let grown = Rect {
                x0: r.x0 - 6.0,
                y0: r.y0 - 6.0,
                x1: r.x1 + 6.0,
                y1: r.y1 + 6.0,
            };
            if grown.contains((x, y)) {
                n += 1;
            }
        }
    }
    n
}

/// Even-odd point-in-polygon test.
fn inside(poly: &[Pt], (x, y): Pt) -> bool {
    let mut c = false;
    for w in poly.windows(2) {
        let ((x1, y1), (x2, y2)) = (w[0], w[1]);
        if (y1 > y) != (y2 > y) && x < x1 + (y - y1) / (y2 - y1) * (x2 - x1) {
            c = !c;
        }
    }
    c
}

fn draw_legend(c: &mut Svg, p: &Panel, (x0, y0): Pt, s: &LegendShape, texts: &Texts) {
    let entries = legend_entries(p);
    let outline = [
        (x0, y0),
        (x0 + s.width, y0),
        (x0 + s.width, y0 + s.height),
        (x0, y0 + s.height),
    ];
    c.fill(&outline, WHITE, 0.9);
    let mut closed = outline.to_vec();
    closed.push(outline[0]);
    c.stroke(&closed, LEGEND_BORDER, 0.7, Dash::Solid);

    let cols = entries.len().div_ceil(s.rows);
    let mut col_x = x0 + LEGEND_INNER;
    for col in 0..cols {
        let w = column_width(&entries, col, s.rows, texts);
        for (row, (label, swatch)) in entries.iter().skip(col * s.rows).take(s.rows).enumerate() {
            let mid_y = y0 + LEGEND_INNER + (row as f64 + 0.5) * s.row_h;
            let (sx0, sx1) = (col_x, col_x + SAMPLE);
            match *swatch {
                Swatch::Fill {
                    color,
                    opacity,
                    outline,
                } => {
                    let (ya, yb) = (mid_y - 0.32 * SMALL, mid_y + 0.32 * SMALL);
                    let rect = [(sx0, ya), (sx1, ya), (sx1, yb), (sx0, yb)];
                    c.fill(&rect, color, opacity);
                    if outline {
                        let mut r = rect.to_vec();
                        r.push(rect[0]);
                        c.stroke(&r, color, 0.8, Dash::Solid);
                    }
                }
                Swatch::Stroke {
                    color,
                    width,
                    dash,
                    markers,
                } => {
                    if width > 0.0 {
                        c.stroke(&[(sx0, mid_y), (sx1, mid_y)], color, width, dash);
                    }
                    if markers {
                        c.disc(((sx0 + sx1) / 2.0, mid_y), marker_radius(width), color);
                    }
                }
                Swatch::PaperMark => paper_diamond(c, ((sx0 + sx1) / 2.0, mid_y)),
                Swatch::Contour => contour_stroke(c, &[(sx0, mid_y), (sx1, mid_y)]),
                Swatch::Point => point_mark(c, ((sx0 + sx1) / 2.0, mid_y)),
            }
            if let Some(t) = texts.get(label, SMALL) {
                c.text(
                    t,
                    (sx1 + SAMPLE_GAP, mid_y + 0.35 * SMALL),
                    Align::Left,
                    false,
                );
            }
        }
        col_x += w + COL_GAP;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLUE: Rgb = Rgb(10, 20, 200);
    const RED: Rgb = Rgb(200, 20, 10);

    fn empty_panel() -> Panel {
        Panel {
            title: Some("(a) $r = 1.50$".into()),
            x_label: "$u$".into(),
            y_label: "$s_r(u)$".into(),
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
            heatmap: None,
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

    /// The placed text groups: (accessible name, x, y of the translation).
    fn placed(svg: &str) -> Vec<(String, f64, f64)> {
        svg.lines()
            .filter(|l| l.starts_with("<g class=\"text\""))
            .map(|l| {
                let attr = |name: &str| {
                    let s = l.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                    l[s..s + l[s..].find('"').unwrap()].to_string()
                };
                let tr = attr("transform");
                let nums: Vec<f64> = tr["translate(".len()..tr.find(')').unwrap()]
                    .split(' ')
                    .map(|v| v.parse().unwrap())
                    .collect();
                (attr("aria-label"), nums[0], nums[1])
            })
            .collect()
    }

    /// (width, height) from the IHDR chunk, after checking the signature.
    fn png_size(png: &[u8]) -> (u32, u32) {
        assert_eq!(&png[..8], &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]);
        assert_eq!(&png[12..16], b"IHDR");
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        (w, h)
    }

    #[test]
    fn svg_is_a_document_with_typeset_texts_and_no_text_elements() {
        let mut p = empty_panel();
        p.lines.push(Line {
            label: Some("$r < 2$ & $\\delta = 0.5$".into()),
            ..line(vec![0.0, 1.0, 2.0], vec![1.0, 0.5, 0.2], BLUE)
        });
        p.legend = Some(LegendPosition::UpperRight);
        p.annotations.push(Annotation {
            x: 2.0,
            y: 0.5,
            text: "$\\zeta^*_M$".into(),
        });
        let svg = render_svg(&plot(vec![p.clone(), p])).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains(" width=\"960\" height=\"360\" viewBox=\"0 0 960 360\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("<text"), "text is outlines");
        let names: Vec<String> = placed(&svg).into_iter().map(|t| t.0).collect();
        for t in [
            "(a) $r = 1.50$",
            "$s_r(u)$",
            "$u$",
            "$r &lt; 2$ &amp; $\\delta = 0.5$",
            "$\\zeta^*_M$",
            "0.0",
            "1.0",
            "4",
        ] {
            assert!(names.iter().any(|n| n == t), "missing {t:?} in {names:?}");
        }
        // Each label appears once per panel in the legend.
        assert_eq!(
            names.iter().filter(|n| n.starts_with("$r &lt; 2$")).count(),
            2
        );
        // Every glyph used is defined, once.
        for id in svg.split("href=\"#").skip(1) {
            let id = id.split('"').next().unwrap();
            assert_eq!(svg.matches(&format!("id=\"{id}\"")).count(), 1, "{id}");
        }
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
        let png = render_png(&svg, 1.0).unwrap();
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
        assert!(polys.iter().all(|l| l.contains("fill-opacity=\"0.3\"")));
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
    fn dashed_lines_and_reference_lines_are_dashed() {
        let mut p = empty_panel();
        p.lines.push(Line {
            dash: Dash::Dashed,
            ..line(vec![0.0, 4.0], vec![0.5, 0.5], BLUE)
        });
        p.vlines.push(RefLine {
            at: 1.0,
            label: Some("$\\delta^* = 1$".into()),
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
        let blue: Vec<&str> = svg.lines().filter(|l| l.contains(&hex(BLUE))).collect();
        assert!(blue.len() == 1 && blue[0].contains("stroke-dasharray"));
        let dots = shapes(&svg, "polyline", RED);
        assert_eq!(dots.len(), 1);
        // The reference line spans the whole plot height.
        let span = (dots[0][0].1 - dots[0][1].1).abs();
        assert!(span > 0.7 * 360.0, "span {span}");
        let names: Vec<String> = placed(&svg).into_iter().map(|t| t.0).collect();
        assert!(names.iter().any(|n| n == "$\\delta^* = 1$"));
        assert!(!names.iter().any(|n| n == "off the axes"));
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
        let names: Vec<String> = placed(&svg).into_iter().map(|t| t.0).collect();
        for label in ["10^(-3)", "10^(-2)", "10^(-1)", "1"] {
            assert!(names.iter().any(|n| n == label), "missing {label}");
        }
        let pieces = shapes(&svg, "polyline", BLUE);
        assert_eq!(
            pieces.len(),
            1,
            "the zero breaks the line; (3, 0.001) is alone"
        );
        assert_eq!(pieces[0].len(), 2);
    }

    #[test]
    fn colour_bar_ticks_are_nice_and_inside_the_range() {
        let labels =
            |t: &[Tick]| -> Vec<String> { t.iter().filter_map(|k| k.label.clone()).collect() };
        assert_eq!(
            labels(&bar_ticks((0.0, 3.0), 290.0)),
            ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5", "3.0"]
        );
        for (range, height) in [
            ((0.0, 11.3), 290.0),
            ((0.17, 0.93), 120.0),
            ((-4.2, -3.9), 60.0),
            ((1.0, 1.0 + 1e-7), 290.0),
            ((2.0, 2.0), 290.0),
        ] {
            let (lo, hi) = bar_range(range);
            let t = bar_ticks(range, height);
            assert!(t.len() >= 2, "{range:?}: {t:?}");
            assert!(t.len() <= 9, "{range:?}: {t:?}");
            for k in &t {
                assert!(k.label.is_some());
                assert!(
                    k.value >= lo - 1e-9 && k.value <= hi + 1e-9,
                    "{range:?}: {k:?}"
                );
            }
            assert!(t.windows(2).all(|w| w[0].value < w[1].value));
        }
        // Taller bars get at least as many ticks.
        assert!(bar_ticks((0.0, 11.3), 290.0).len() >= bar_ticks((0.0, 11.3), 120.0).len());
    }

    /// A heat map of the distance from the origin on a 21 × 21 grid over [-2, 2]²,
    /// with the unit circle as its contour and a point at the origin.
    fn heat_panel() -> Panel {
        let c: Vec<f64> = (0..21).map(|k| -2.0 + 0.2 * f64::from(k)).collect();
        let values: Vec<f64> = c
            .iter()
            .flat_map(|&y| c.iter().map(move |&x| (x * x + y * y).sqrt()))
            .collect();
        let paths = super::super::contour::contour(&c, &c, &values, 1.0);
        let mut p = empty_panel();
        p.x_range = (-2.1, 2.1);
        p.y_range = (-2.1, 2.1);
        p.heatmap = Some(Heatmap {
            xs: c.clone(),
            ys: c,
            values,
            range: (0.0, 2.0),
            shared: true,
            label: "$|x|$".into(),
            contours: vec![Contour {
                level: 1.0,
                label: Some("$|x| = 1$".into()),
                paths,
            }],
            points: vec![(0.0, 0.0)],
            points_label: Some("origin".into()),
        });
        p
    }

    #[test]
    fn heat_maps_draw_cells_a_contour_points_and_a_colour_bar() {
        let svg = render_svg(&plot(vec![heat_panel()])).unwrap();
        let group = |class: &str| -> Vec<&str> {
            let start = svg.find(&format!("<g class=\"{class}\">")).expect(class);
            let end = start + svg[start..].find("</g>").unwrap();
            svg[start..end]
                .lines()
                .filter(|l| l.starts_with("<rect"))
                .collect()
        };
        let cells = group("cells");
        // Runs of one colour merge; the map is not one colour.
        assert!(cells.len() > 21 && cells.len() <= 441, "{}", cells.len());
        // The far corner is the top of the scale (the colour map's brightest step),
        // the origin its bottom.
        let top = hex(heat_colour(2.0, (0.0, 2.0)));
        let bottom = hex(heat_colour(0.0, (0.0, 2.0)));
        assert!(cells.iter().any(|l| l.contains(&top)));
        assert!(cells.iter().any(|l| l.contains(&bottom)));
        assert_eq!(group("colour-bar").len(), COLOUR_STEPS as usize);
        // The contour: ink on a white halo, closed, and round.
        let ink: Vec<&str> = svg
            .lines()
            .filter(|l| l.starts_with("<polyline") && l.contains("stroke-width=\"1.2\""))
            .collect();
        let ring = shapes(&ink.join("\n"), "polyline", INK)
            .into_iter()
            .max_by_key(|p| p.len())
            .unwrap();
        assert!(ring.len() > 20);
        assert_eq!(ring.first(), ring.last());
        let (cx, cy) = (
            ring.iter().map(|p| p.0).sum::<f64>() / ring.len() as f64,
            ring.iter().map(|p| p.1).sum::<f64>() / ring.len() as f64,
        );
        let radii: Vec<f64> = ring
            .iter()
            .map(|p| ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt())
            .collect();
        let (rmin, rmax) = radii
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(a, b), &r| (a.min(r), b.max(r)));
        assert!(rmax - rmin < 0.05 * rmax, "round on screen: {rmin}..{rmax}");
        assert!(svg.contains("<circle") && svg.contains("stroke=\"#141414\""));
        // The bar's label and tick labels are typeset; no triangle (nothing beyond).
        let names: Vec<String> = placed(&svg).into_iter().map(|t| t.0).collect();
        for t in ["$|x|$", "2.0", "0.0"] {
            assert!(names.iter().any(|n| n == t), "missing {t:?}");
        }
        // No grid over the map, and the PNG renders.
        assert!(shapes(&svg, "polyline", GRID).is_empty());
        assert!(render_png(&svg, 1.0).is_ok());
        // Values beyond the scale: a triangle on that end of the bar.
        let mut p = heat_panel();
        p.heatmap.as_mut().unwrap().range = (0.0, 1.5);
        let svg = render_svg(&plot(vec![p])).unwrap();
        let tri = svg
            .lines()
            .filter(|l| l.starts_with("<polygon") && l.split(' ').count() == 5)
            .count();
        assert_eq!(tri, 1, "one triangle");
    }

    #[test]
    fn heat_maps_keep_the_aspect_ratio_and_are_checked() {
        let fig = plot(vec![heat_panel()]);
        let axes = prepare(&fig).unwrap();
        let texts = text::typeset_all(&requests(&fig, &axes)).unwrap();
        let l = layout(&fig, &axes, &texts).unwrap();
        let f = l.panels[0].frame;
        assert!(((f.x1 - f.x0) - (f.y1 - f.y0)).abs() < 1e-6, "{f:?}");
        let bar = l.panels[0].bar.as_ref().unwrap();
        assert!(bar.rect.x0 > f.x1 && bar.rect.x1 < l.panels[0].cell.x1);
        assert_eq!((bar.rect.y0, bar.rect.y1), (f.y0, f.y1));
        let mut bad = heat_panel();
        bad.heatmap.as_mut().unwrap().values.pop();
        assert!(render_svg(&plot(vec![bad])).is_err());
        let mut bad = heat_panel();
        bad.heatmap.as_mut().unwrap().xs.swap(0, 1);
        assert!(render_svg(&plot(vec![bad])).is_err());
    }

    #[test]
    fn tick_labels_become_math() {
        assert_eq!(tick_math("\u{2212}0.5"), "-0.5");
        assert_eq!(tick_math("10⁻¹²"), "10^(-12)");
        assert_eq!(tick_math("2.5×10³"), "2.5 times 10^(3)");
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
    fn legend_avoids_data_and_goes_outside_when_every_corner_is_taken() {
        // A line through the upper right: the legend moves to an empty corner.
        let mut p = empty_panel();
        p.lines.push(Line {
            label: Some("$a$".into()),
            ..line(vec![2.0, 4.0], vec![0.6, 1.0], BLUE)
        });
        p.legend = Some(LegendPosition::UpperRight);
        let axes = prepare(&plot(vec![p.clone()])).unwrap();
        let texts = text::typeset_all(&requests(&plot(vec![p.clone()]), &axes)).unwrap();
        let fig = plot(vec![p.clone()]);
        let l = layout(&fig, &axes, &texts).unwrap();
        let pl = &l.panels[0];
        let (at, shape) = pl.legend.unwrap();
        assert_eq!(coverage(pl, &legend_rect(at, &shape)), 0);
        assert!(
            at.0 < (pl.frame.x0 + pl.frame.x1) / 2.0 || at.1 > (pl.frame.y0 + pl.frame.y1) / 2.0
        );
        // Lines through all four corners: the legend sits right of the axes.
        p.lines.push(line(vec![0.0, 4.0], vec![0.0, 1.0], BLUE));
        p.lines.push(line(vec![0.0, 4.0], vec![1.0, 0.0], BLUE));
        let fig = plot(vec![p]);
        let axes = prepare(&fig).unwrap();
        let l = layout(&fig, &axes, &texts).unwrap();
        let pl = &l.panels[0];
        let (at, _) = pl.legend.unwrap();
        assert!(at.0 > pl.frame.x1, "{at:?} {:?}", pl.frame);
    }

    #[test]
    fn png_is_rasterised_from_the_svg_at_the_scale() {
        let mut p = empty_panel();
        p.lines.push(line(vec![0.0, 4.0], vec![0.0, 1.0], BLUE));
        let fig = plot(vec![p.clone(), p.clone(), p]);
        let svg = render_svg(&fig).unwrap();
        let png = render_png(&svg, 2.0).unwrap();
        assert_eq!(png_size(&png), (2880, 720));
        assert_eq!(png_size(&render_png(&svg, 0.5).unwrap()), (720, 180));
        // Decode it back and find the blue line and dark text.
        let img = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        let px = img.pixels();
        let blue = px
            .iter()
            .filter(|c| c.blue() > 150 && c.red() < 80 && c.green() < 80)
            .count();
        assert!(blue > 50, "{blue} blue pixels");
        let dark = px.iter().filter(|c| c.red() < 60 && c.blue() < 60).count();
        assert!(dark > 200, "{dark} dark pixels");
        assert!(matches!(render_png(&svg, 0.0), Err(DrawError::Scale(_))));
        assert!(matches!(render_png(&svg, 1e6), Err(DrawError::Scale(_))));
        assert!(matches!(render_png("<svg", 1.0), Err(DrawError::Raster(_))));
    }

    #[test]
    fn output_is_deterministic_across_threads() {
        let mut p = empty_panel();
        p.lines
            .push(line(vec![0.0, 2.0, 4.0], vec![0.0, 0.9, 0.1], BLUE));
        p.legend = Some(LegendPosition::UpperLeft);
        let fig = plot(vec![p]);
        let svg = render_svg(&fig).unwrap();
        let png = render_png(&svg, 1.0).unwrap();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let s2 = render_svg(&fig).unwrap();
                        let p2 = render_png(&s2, 1.0).unwrap();
                        (s2, p2)
                    })
                })
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
            msg.starts_with("panel 2 (“(a) $r = 1.50$”): line 0:"),
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
        assert!(render_svg(&plot(vec![nan])).is_err());
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
        let mut latex = empty_panel();
        latex.y_label = "$\\frac{1$".into();
        assert!(matches!(
            render_svg(&plot(vec![latex])),
            Err(DrawError::Text(_))
        ));
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
        assert!(render_png(&svg, 1.0).is_ok());
    }
}
