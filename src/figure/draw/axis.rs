//! Axes: mapping data values to pixels, choosing ticks, and writing tick labels the
//! way a typeset paper does (true minus sign, powers of ten as 10⁻², no "1e-2").

use super::super::plot::Scale;

/// One axis of a panel after validation: a finite, non-empty range in transformed
/// units (log10 of the data for `Scale::Log10`) and the pixel span it covers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Axis {
    pub scale: Scale,
    /// Data range (positive for log axes), lo < hi.
    pub lo: f64,
    pub hi: f64,
    /// Pixel positions of `lo` and `hi` (for y, `px_lo` is the bottom).
    pub px_lo: f64,
    pub px_hi: f64,
}

impl Axis {
    /// Transformed value; non-positive values on a log axis give -inf.
    pub fn t(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Linear => v,
            Scale::Log10 => {
                if v > 0.0 {
                    v.log10()
                } else if v.is_nan() {
                    f64::NAN
                } else {
                    f64::NEG_INFINITY
                }
            }
        }
    }

    /// Pixel position of a data value; `None` if it has none (non-finite, or
    /// non-positive on a log axis). Values more than a thousand axis lengths out
    /// are pulled in to that distance: the visible part of a segment is then off by
    /// far less than a pixel, and clipping never works with numbers like 1e300,
    /// whose rounding would lose the segment altogether.
    pub fn px(&self, v: f64) -> Option<f64> {
        let t = self.t(v);
        if !t.is_finite() {
            return None;
        }
        Some(self.px_unchecked(self.clamp_t(t)))
    }

    /// Like `px`, but values with no position on a log axis (≤ 0) go far below the
    /// range instead of vanishing: used for filled regions, whose "down to zero"
    /// should reach the bottom edge after clipping.
    pub fn px_clamped(&self, v: f64) -> Option<f64> {
        if v.is_nan() {
            return None;
        }
        Some(self.px_unchecked(self.clamp_t(self.t(v))))
    }

    fn clamp_t(&self, t: f64) -> f64 {
        let (tlo, thi) = (self.t(self.lo), self.t(self.hi));
        let span = thi - tlo;
        t.clamp(tlo - 1e3 * span, thi + 1e3 * span)
    }

    fn px_unchecked(&self, t: f64) -> f64 {
        let (tlo, thi) = (self.t(self.lo), self.t(self.hi));
        self.px_lo + (t - tlo) / (thi - tlo) * (self.px_hi - self.px_lo)
    }
}

/// A tick mark: data value and, for labelled (major) ticks, the label.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tick {
    pub value: f64,
    pub label: Option<String>,
}

/// Ticks for an axis with at most about `target` labelled ticks.
pub(crate) fn ticks(scale: Scale, lo: f64, hi: f64, target: usize) -> Vec<Tick> {
    match scale {
        Scale::Linear => linear_ticks(lo, hi, target),
        Scale::Log10 => log_ticks(lo, hi, target),
    }
}

/// Smallest "nice" step (1, 2 or 5 times a power of ten) giving at most about
/// 1.25 `target` intervals over `span` (2.5 is left out: −5.0, −2.5, 0.0 reads worse
/// than −4, −2, 0).
fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * mag >= 0.8 * raw * (1.0 - 1e-9) {
            return m * mag;
        }
    }
    10.0 * mag
}

fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<Tick> {
    let step = nice_step(hi - lo, target);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let fmt = LinearFormat::new(lo, hi, step);
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            let v = if v.abs() < step * 1e-9 { 0.0 } else { v };
            Tick {
                value: v,
                label: Some(fmt.format(v)),
            }
        })
        .collect()
}

/// How to print the labels of one linear axis: fixed decimals, or a shared power
/// of ten when the numbers are very large or very small.
struct LinearFormat {
    decimals: usize,
    exponent: i32,
}

impl LinearFormat {
    fn new(lo: f64, hi: f64, step: f64) -> Self {
        let big = lo.abs().max(hi.abs());
        let exponent = if big > 0.0 && !(1e-3..1e5).contains(&big) {
            big.log10().floor() as i32
        } else {
            0
        };
        let scaled_step = step / 10f64.powi(exponent);
        Self {
            decimals: decimals_for(scaled_step),
            exponent,
        }
    }

    fn format(&self, v: f64) -> String {
        if self.exponent == 0 {
            return minus(&format!("{:.*}", self.decimals, v));
        }
        if v == 0.0 {
            return "0".to_string();
        }
        let m = v / 10f64.powi(self.exponent);
        format!(
            "{}×10{}",
            minus(&format!("{:.*}", self.decimals, m)),
            superscript(self.exponent)
        )
    }
}

/// Number of decimals needed to write multiples of `step` exactly.
fn decimals_for(step: f64) -> usize {
    (0..10)
        .find(|&d| {
            let s = step * 10f64.powi(d as i32);
            (s - s.round()).abs() < 1e-6 * s.abs().max(1.0)
        })
        .unwrap_or(10)
}

fn log_ticks(lo: f64, hi: f64, target: usize) -> Vec<Tick> {
    let (elo, ehi) = (lo.log10(), hi.log10());
    let first = (elo - 1e-9).ceil() as i32;
    let last = (ehi + 1e-9).floor() as i32;
    let in_range = |v: f64| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9);
    let mut ticks = Vec::new();
    if last - first >= 1 {
        // At least two powers of ten: label decades (every `stride`-th one), minor
        // ticks at 2..9 times each decade if they are not too crowded.
        let count = (last - first + 1) as usize;
        let stride = count.div_ceil(target.max(2)) as i32;
        let minors = ehi - elo <= 8.0;
        for e in (first - 1)..=last {
            let v = 10f64.powi(e);
            if in_range(v) {
                let labelled = (e - first) % stride == 0;
                ticks.push(Tick {
                    value: v,
                    label: labelled.then(|| power_of_ten(e)),
                });
            }
            if minors {
                for m in 2..10 {
                    let v = f64::from(m) * 10f64.powi(e);
                    if in_range(v) {
                        ticks.push(Tick {
                            value: v,
                            label: None,
                        });
                    }
                }
            }
        }
    } else {
        // Less than a decade or so: label 1, 2, 5 times powers of ten (or every
        // integer multiple if that still gives fewer than two labels).
        for mantissas in [&[1, 2, 5][..], &[1, 2, 3, 4, 5, 6, 7, 8, 9][..]] {
            ticks.clear();
            for e in (first - 2)..=(last + 1) {
                for m in 1..10 {
                    let v = f64::from(m) * 10f64.powi(e);
                    if in_range(v) {
                        let labelled = mantissas.contains(&m);
                        ticks.push(Tick {
                            value: v,
                            label: labelled.then(|| general(v)),
                        });
                    }
                }
            }
            if ticks.iter().filter(|t| t.label.is_some()).count() >= 2 {
                break;
            }
        }
        if ticks.iter().filter(|t| t.label.is_some()).count() < 2 {
            // Range narrower than one mantissa step: fall back to linear ticks.
            return linear_ticks(lo, hi, target);
        }
    }
    ticks.sort_by(|a, b| a.value.total_cmp(&b.value));
    ticks
}

/// "10⁻²", with "1" and "10" written out as the paper would.
fn power_of_ten(e: i32) -> String {
    match e {
        0 => "1".to_string(),
        1 => "10".to_string(),
        _ => format!("10{}", superscript(e)),
    }
}

/// A number in the shortest plain form (for log-axis labels like 0.02 or 500).
fn general(v: f64) -> String {
    if v != 0.0 && !(1e-4..1e6).contains(&v.abs()) {
        let e = v.abs().log10().floor() as i32;
        let m = v / 10f64.powi(e);
        let m = trim_zeros(&format!("{m:.3}"));
        return if m == "1" {
            format!("10{}", superscript(e))
        } else {
            format!("{}×10{}", minus(&m), superscript(e))
        };
    }
    minus(&trim_zeros(&format!("{v:.6}")))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Typographic minus sign instead of a hyphen.
fn minus(s: &str) -> String {
    s.replace('-', "\u{2212}")
}

fn superscript(e: i32) -> String {
    e.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(t: &[Tick]) -> Vec<String> {
        t.iter().filter_map(|t| t.label.clone()).collect()
    }

    #[test]
    fn linear_ticks_are_nice() {
        assert_eq!(
            labels(&ticks(Scale::Linear, 0.0, 1.0, 5)),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        assert_eq!(
            labels(&ticks(Scale::Linear, -3.0, 3.0, 6)),
            ["−3", "−2", "−1", "0", "1", "2", "3"]
        );
        assert_eq!(
            labels(&ticks(Scale::Linear, -6.0, 6.0, 3)),
            ["−5", "0", "5"]
        );
        assert_eq!(
            labels(&ticks(Scale::Linear, -6.0, 6.0, 5)),
            ["−6", "−4", "−2", "0", "2", "4", "6"]
        );
        assert_eq!(
            labels(&ticks(Scale::Linear, 0.0, 3e5, 3)),
            ["0", "1×10⁵", "2×10⁵", "3×10⁵"]
        );
    }

    #[test]
    fn log_ticks_label_decades() {
        let t = ticks(Scale::Log10, 1e-3, 10.0, 6);
        assert_eq!(labels(&t), ["10⁻³", "10⁻²", "10⁻¹", "1", "10"]);
        assert!(t.len() > 20, "minor ticks present");
        let t = ticks(Scale::Log10, 0.5, 4.0, 6);
        assert_eq!(labels(&t), ["0.5", "1", "2"]);
        let t = ticks(Scale::Log10, 1e-30, 1e30, 6);
        assert!(labels(&t).len() <= 7);
    }

    #[test]
    fn mapping_handles_log_and_gaps() {
        let a = Axis {
            scale: Scale::Log10,
            lo: 1.0,
            hi: 100.0,
            px_lo: 0.0,
            px_hi: 200.0,
        };
        assert_eq!(a.px(10.0), Some(100.0));
        assert_eq!(a.px(0.0), None);
        assert_eq!(a.px(f64::NAN), None);
        assert!(a.px_clamped(0.0).unwrap() < -1000.0);
    }
}
