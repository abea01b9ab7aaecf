//! A thin layer over a plotters drawing area that takes CSS-pixel coordinates (f64)
//! and hides the differences between the SVG and bitmap backends.
//!
//! plotters backends work in whole pixels, so each backend is created `k` times
//! larger than the CSS size: the SVG gets a 4× viewBox (quarter-pixel precision,
//! shown at CSS size), the bitmap is drawn supersampled and averaged down. Thick
//! bitmap strokes are drawn as one quad per segment plus round joins, because
//! plotters' own outline of a thick polyline is filled even-odd and can leave holes
//! where the line turns sharply.

use super::super::plot::Rgb;
use super::font::{BITMAP_SIZE_PER_EM, FAMILY, SVG_SIZE_PER_EM};
use super::geom::Pt;
use plotters::coord::Shift;
use plotters::element::{Circle, PathElement, Polygon};
use plotters::prelude::{DrawingArea, DrawingBackend};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{
    Color, FontDesc, FontFamily, FontStyle, FontTransform, RGBAColor, RGBColor, ShapeStyle,
    TextStyle,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Svg,
    Bitmap,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

/// A piece of text anchored at a point on its baseline.
pub(crate) struct TextSpec<'t> {
    pub text: &'t str,
    /// Anchor on the baseline (for vertical text, reading bottom to top, the
    /// baseline is the vertical line x = `x`).
    pub at: Pt,
    pub em: f64,
    pub align: Align,
    pub vertical: bool,
    pub color: Rgb,
}

pub(crate) struct Canvas<DB: DrawingBackend> {
    area: DrawingArea<DB, Shift>,
    k: f64,
    target: Target,
}

type Result<T = ()> = std::result::Result<T, String>;

fn rgba(c: Rgb, alpha: f64) -> RGBAColor {
    RGBColor(c.0, c.1, c.2).mix(alpha.clamp(0.0, 1.0))
}

impl<DB: DrawingBackend> Canvas<DB> {
    pub fn new(area: DrawingArea<DB, Shift>, k: f64, target: Target) -> Self {
        Self { area, k, target }
    }

    fn bp(&self, p: Pt) -> (i32, i32) {
        ((p.0 * self.k).round() as i32, (p.1 * self.k).round() as i32)
    }

    /// Backend points without consecutive duplicates.
    fn bps(&self, pts: &[Pt]) -> Vec<(i32, i32)> {
        let mut out: Vec<(i32, i32)> = Vec::with_capacity(pts.len());
        for &p in pts {
            let q = self.bp(p);
            if out.last() != Some(&q) {
                out.push(q);
            }
        }
        out
    }

    pub fn clear(&self, c: Rgb) -> Result {
        self.area
            .fill(&RGBColor(c.0, c.1, c.2))
            .map_err(|e| e.to_string())
    }

    /// Strokes an open polyline `width` CSS pixels wide. Bitmap strokes with
    /// `alpha < 1` darken where segments overlap; callers stroke opaque lines only.
    pub fn stroke(&self, pts: &[Pt], color: Rgb, alpha: f64, width: f64) -> Result {
        if pts.len() < 2 || width <= 0.0 {
            return Ok(());
        }
        let col = rgba(color, alpha);
        let w = width * self.k;
        if self.target == Target::Svg || w <= 1.5 {
            let points = self.bps(pts);
            if points.len() < 2 {
                return Ok(());
            }
            let style = ShapeStyle {
                color: col,
                filled: false,
                stroke_width: (w.round() as u32).max(1),
            };
            return self
                .area
                .draw(&PathElement::new(points, style))
                .map_err(|e| e.to_string());
        }
        let r = w / 2.0;
        let fill = ShapeStyle {
            color: col,
            filled: true,
            stroke_width: 0,
        };
        let scaled: Vec<Pt> = pts.iter().map(|p| (p.0 * self.k, p.1 * self.k)).collect();
        for (i, s) in scaled.windows(2).enumerate() {
            let (a, b) = (s[0], s[1]);
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len = (dx * dx + dy * dy).sqrt();
            if len > 1e-9 {
                let (nx, ny) = (-dy / len * r, dx / len * r);
                let quad = [
                    (a.0 + nx, a.1 + ny),
                    (b.0 + nx, b.1 + ny),
                    (b.0 - nx, b.1 - ny),
                    (a.0 - nx, a.1 - ny),
                ]
                .map(|p| (p.0.round() as i32, p.1.round() as i32));
                self.area
                    .draw(&Polygon::new(quad.to_vec(), fill))
                    .map_err(|e| e.to_string())?;
            }
            if i > 0 && w >= 3.0 {
                let c = (a.0.round() as i32, a.1.round() as i32);
                self.area
                    .draw(&Circle::new(c, (r - 0.25).round() as i32, fill))
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Fills a polygon (closed implicitly).
    pub fn fill(&self, pts: &[Pt], color: Rgb, alpha: f64) -> Result {
        let points = self.bps(pts);
        if points.len() < 3 || alpha <= 0.0 {
            return Ok(());
        }
        let style = ShapeStyle {
            color: rgba(color, alpha),
            filled: true,
            stroke_width: 0,
        };
        self.area
            .draw(&Polygon::new(points, style))
            .map_err(|e| e.to_string())
    }

    pub fn disc(&self, c: Pt, radius: f64, color: Rgb) -> Result {
        let style = ShapeStyle {
            color: rgba(color, 1.0),
            filled: true,
            stroke_width: 0,
        };
        let r = (radius * self.k).round().max(1.0) as i32;
        self.area
            .draw(&Circle::new(self.bp(c), r, style))
            .map_err(|e| e.to_string())
    }

    pub fn text(&self, t: &TextSpec<'_>) -> Result {
        if t.text.is_empty() {
            return Ok(());
        }
        // Both backends anchor text at the top of its layout box; find the top from
        // the wanted baseline. SVG puts the baseline 0.76 em below (dy="0.76em"),
        // the ab_glyph rasteriser half its `size` below.
        let (size_per_em, baseline_below_top) = match self.target {
            Target::Svg => (SVG_SIZE_PER_EM, 0.76),
            Target::Bitmap => (BITMAP_SIZE_PER_EM, BITMAP_SIZE_PER_EM / 2.0),
        };
        let off = baseline_below_top * t.em;
        let top = if t.vertical {
            (t.at.0 - off, t.at.1)
        } else {
            (t.at.0, t.at.1 - off)
        };
        let h = match t.align {
            Align::Left => HPos::Left,
            Align::Center => HPos::Center,
            Align::Right => HPos::Right,
        };
        let font = FontDesc::new(
            FontFamily::Name(FAMILY),
            t.em * self.k * size_per_em,
            FontStyle::Normal,
        );
        let color = RGBColor(t.color.0, t.color.1, t.color.2);
        let mut style = TextStyle::from(font)
            .color(&color)
            .pos(Pos::new(h, VPos::Top));
        if t.vertical {
            style = style.transform(FontTransform::Rotate270);
        }
        self.area
            .draw_text(t.text, &style, self.bp(top))
            .map_err(|e| e.to_string())
    }

    pub fn finish(self) -> Result {
        self.area.present().map_err(|e| e.to_string())
    }
}
