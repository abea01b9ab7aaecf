//! The plot model: plain data between the figure builder (which reads tables and a
//! validated `FigureSpec`) and the drawing backend (`draw.rs`).
//!
//! Everything here is already resolved: data in data units, colours as RGB, ranges
//! fixed. The drawing code makes no decisions about *what* to draw, only *how*.

/// A whole figure: one or more panels laid out on a grid, read row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct Plot {
    pub panels: Vec<Panel>,
    /// Number of panel columns in the layout (rows follow from the panel count).
    pub columns: usize,
    /// Size of one panel in CSS pixels (the SVG size; the PNG is drawn at `scale` times this).
    pub panel_width: u32,
    pub panel_height: u32,
}

/// One set of axes.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Shown above the panel, e.g. "(a) r = 1.50".
    pub title: Option<String>,
    pub x_label: String,
    pub y_label: String,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub x_scale: Scale,
    pub y_scale: Scale,
    /// Filled regions, drawn first (under the lines).
    pub bands: Vec<Band>,
    /// Half-histograms for ridge plots, drawn after bands.
    pub ridges: Vec<Ridge>,
    pub lines: Vec<Line>,
    /// Vertical reference lines at x = at.
    pub vlines: Vec<RefLine>,
    /// Horizontal reference lines at y = at.
    pub hlines: Vec<RefLine>,
    /// Where to put the legend; `None` draws no legend. Entries come from the labelled
    /// bands, ridges and lines, in that order, each label once.
    pub legend: Option<LegendPosition>,
    /// Text labels placed in data coordinates (used e.g. for ridge row labels).
    pub annotations: Vec<Annotation>,
    /// Points read off the paper's own figure, drawn over everything with error bars.
    pub paper_marks: Vec<PaperMark>,
    /// A raster of coloured cells under everything else, with its colour bar.
    pub heatmap: Option<Heatmap>,
}

/// Values on a rectilinear grid drawn as cells coloured along viridis, with a colour
/// bar to the right of the axes, contour lines and marked points over the cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    /// Cell centres, strictly increasing; a cell reaches halfway to its neighbours
    /// (the outer cells as far out as inward).
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    /// `values[j * xs.len() + i]` at `(xs[i], ys[j])`; non-finite: no cell.
    pub values: Vec<f64>,
    /// The values at the two ends of the colour map (others are clamped to it).
    pub range: (f64, f64),
    /// Whether the range is shared with the other panels of a multi-panel figure.
    pub shared: bool,
    /// Label of the colour bar.
    pub label: String,
    pub contours: Vec<Contour>,
    /// Marked points (data coordinates), drawn as white discs ringed in ink.
    pub points: Vec<(f64, f64)>,
    pub points_label: Option<String>,
}

/// The polylines of one level set of a heat map (closed ones repeat their first point).
#[derive(Clone, Debug, PartialEq)]
pub struct Contour {
    pub level: f64,
    pub label: Option<String>,
    pub paths: Vec<Vec<(f64, f64)>>,
}

/// A feature read off the paper's figure: a point with its reading uncertainty.
#[derive(Clone, Debug, PartialEq)]
pub struct PaperMark {
    pub x: f64,
    pub y: f64,
    /// Half-widths of the error bars in data units (0: no bar).
    pub x_error: f64,
    pub y_error: f64,
}

/// The legend label of [`PaperMark`]s.
pub const PAPER_MARK_LABEL: &str = "read off the paper";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Linear,
    Log10,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegendPosition {
    UpperRight,
    UpperLeft,
    LowerRight,
    LowerLeft,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dash {
    Solid,
    Dashed,
    Dotted,
}

/// A polyline through (xs[i], ys[i]); non-finite points break the line into pieces.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub label: Option<String>,
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    pub color: Rgb,
    pub dash: Dash,
    /// Line width in CSS pixels; 0 draws no line (markers only: a scatter plot).
    pub width: f64,
    /// Draw as a right-continuous step function (the value holds until the next x).
    pub step: bool,
    /// Draw a small marker at every point.
    pub markers: bool,
}

/// The region between `lower` and `upper` over `xs`; where either is non-finite the
/// region has a gap (this is how "shade where L_r(y) > 1 - δ" is expressed).
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub label: Option<String>,
    pub xs: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    pub color: Rgb,
    /// Fill opacity in [0, 1].
    pub opacity: f64,
}

/// A half-histogram standing on the vertical baseline x = `baseline`: bin i spans
/// y in [edges[i], edges[i+1]] and extends horizontally by `widths[i]` (data units of
/// x) to the right (`Side::Right`) or to the left (`Side::Left`) of the baseline.
/// Two ridges with the same baseline and opposite sides make a split violin.
#[derive(Clone, Debug, PartialEq)]
pub struct Ridge {
    pub label: Option<String>,
    pub baseline: f64,
    pub edges: Vec<f64>,
    pub widths: Vec<f64>,
    pub side: Side,
    pub color: Rgb,
    pub opacity: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RefLine {
    pub at: f64,
    pub label: Option<String>,
    pub color: Rgb,
    pub dash: Dash,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    pub x: f64,
    pub y: f64,
    pub text: String,
}
