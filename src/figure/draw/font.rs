//! The figure typeface: Libertinus Serif Regular from `typst-assets`, registered
//! once with plotters' `ab_glyph` font table, so no system fonts are needed.
//!
//! Libertinus Serif was chosen over New Computer Modern 10 because it covers the
//! Unicode the labels use: Greek (δ μ σ ζ …), sub- and superscript digits and
//! letters (₀–₉, ⁰–⁹, ⁻, ᵣ ᵢ ₘ ₙ ₜ …), ∞ ≤ ≥ ≈ × − ′ ∈ ∑ ∂ ℝ ℙ. It lacks ⱼ, ℒ, 𝔼 and
//! the mathematical italic block (𝑥, 𝛿): write labels with upright letters.

use plotters::style::{register_font, FontDesc, FontFamily, FontStyle};
use std::sync::OnceLock;

/// The name the font is registered under. plotters-svg writes it verbatim into
/// `font-family`, so it doubles as a CSS font stack for browsers.
pub(crate) const FAMILY: &str = "Libertinus Serif, serif";

/// plotters' text `size` is not the em size, and the two backends disagree:
/// plotters-svg writes `font-size = size / 1.24`, while ab_glyph scales glyphs so
/// that ascent − descent = size; for Libertinus that is (894 + 246) / 1000 em.
pub(crate) const SVG_SIZE_PER_EM: f64 = 1.24;
pub(crate) const BITMAP_SIZE_PER_EM: f64 = 1.14;

const POSTSCRIPT_NAME: &str = "LibertinusSerif-Regular";

static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers the font on first use; later calls (from any thread) return the
/// first outcome.
pub(crate) fn ensure_registered() -> Result<(), String> {
    REGISTERED
        .get_or_init(|| {
            let bytes = typst_assets::fonts()
                .find(|b| postscript_name(b).as_deref() == Some(POSTSCRIPT_NAME))
                .ok_or_else(|| format!("typst-assets ships no font named {POSTSCRIPT_NAME}"))?;
            register_font(FAMILY, FontStyle::Normal, bytes)
                .map_err(|_| format!("{POSTSCRIPT_NAME} could not be parsed"))
        })
        .clone()
}

/// Advance width of `text` at `em` CSS pixels, as the bitmap backend lays it out.
pub(crate) fn text_width(text: &str, em: f64) -> f64 {
    // Measure at a large size: ab_glyph's layout box is rounded to whole pixels.
    const REF_EM: f64 = 200.0;
    let font = FontDesc::new(
        FontFamily::Name(FAMILY),
        REF_EM * BITMAP_SIZE_PER_EM,
        FontStyle::Normal,
    );
    match font.layout_box(text) {
        Ok(((x0, _), (x1, _))) => f64::from(x1 - x0) / REF_EM * em,
        // Unreachable once registered; an estimate keeps layout going regardless.
        Err(_) => 0.5 * em * text.chars().count() as f64,
    }
}

/// PostScript name (name ID 6) of an OpenType/TrueType font, read from its `name`
/// table; `None` for anything that is not a well-formed sfnt.
fn postscript_name(font: &[u8]) -> Option<String> {
    let u16_at = |o: usize| -> Option<u16> {
        Some(u16::from_be_bytes(font.get(o..o + 2)?.try_into().ok()?))
    };
    let u32_at = |o: usize| -> Option<u32> {
        Some(u32::from_be_bytes(font.get(o..o + 4)?.try_into().ok()?))
    };
    let num_tables = usize::from(u16_at(4)?);
    let name = (0..num_tables).find_map(|i| {
        let rec = 12 + 16 * i;
        (font.get(rec..rec + 4)? == b"name").then(|| u32_at(rec + 8))?
    })? as usize;
    let count = usize::from(u16_at(name + 2)?);
    let strings = name + usize::from(u16_at(name + 4)?);
    (0..count).find_map(|i| {
        let rec = name + 6 + 12 * i;
        if u16_at(rec + 6)? != 6 {
            return None;
        }
        let platform = u16_at(rec)?;
        let len = usize::from(u16_at(rec + 8)?);
        let off = strings + usize::from(u16_at(rec + 10)?);
        let raw = font.get(off..off + len)?;
        match platform {
            0 | 3 => {
                let units: Vec<u16> = raw
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16(&units).ok()
            }
            _ => Some(raw.iter().map(|&b| char::from(b)).collect()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_libertinus_and_measures_text() {
        assert!(
            typst_assets::fonts().any(|b| postscript_name(b).as_deref() == Some(POSTSCRIPT_NAME))
        );
        ensure_registered().unwrap();
        let w = text_width("δ = 0.5", 14.0);
        assert!(w > 20.0 && w < 70.0, "width {w}");
        assert!(text_width("0.00", 12.0) > text_width("0", 12.0));
    }
}
