//! LaTeX math to MathML at build time (math-core), so the report needs no
//! JavaScript and no network to show formulas.

use math_core::{LatexToMathML, MathCoreConfig, MathDisplay};

thread_local! {
    static CONVERTER: LatexToMathML = LatexToMathML::new(MathCoreConfig::default())
        .expect("the default math-core configuration has no macros to fail on");
}

/// Convert one formula; the error names the offending part of the LaTeX.
pub fn to_mathml(latex: &str, display: bool) -> Result<String, String> {
    let mode = if display {
        MathDisplay::Block
    } else {
        MathDisplay::Inline
    };
    CONVERTER.with(|c| {
        c.convert_with_local_state(latex, mode)
            .map(|r| r.mathml)
            .map_err(|e| {
                let mut msg = String::new();
                e.to_message(&mut msg, latex);
                let at = latex.get(e.0.clone()).unwrap_or("").trim();
                if at.is_empty() {
                    msg
                } else {
                    format!("{msg} (at `{at}`)")
                }
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_inline_and_block() {
        let m = to_mathml(r"L_r(y) = \operatorname{Var}[rX \mid Y_r = y]", false).unwrap();
        assert!(m.starts_with("<math"), "{m}");
        assert!(m.contains("<msub>"), "{m}");
        let b = to_mathml(r"\frac{1}{\sigma^2 r^2 + 1}", true).unwrap();
        assert!(b.contains("display=\"block\""), "{b}");
        assert!(to_mathml(r"\frac{1}{", false).is_err());
    }
}
