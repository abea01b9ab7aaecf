//! Numeric expressions in specs: `1/sqrt(2)`, `ln(2)/2`, `2^-3`, `pi`.
//!
//! Specs are declarative: this is arithmetic on constants, nothing more (no names
//! beyond the constants and functions below, no loops), so running someone's chapter
//! can never run their code. It lets a chapter say `r: ["1/sqrt(2)"]` instead of a
//! typed-out 0.7071067811865476.

/// Longest expression accepted.
const MAX_LEN: usize = 200;

/// Evaluate `src`; the error says what went wrong and at which character.
pub fn eval(src: &str) -> Result<f64, String> {
    if src.len() > MAX_LEN {
        return Err(format!("expression longer than {MAX_LEN} characters"));
    }
    let tokens = lex(src)?;
    let mut p = P {
        t: &tokens,
        i: 0,
        depth: 0,
    };
    let v = p.sum()?;
    if p.i != tokens.len() {
        return Err(format!("unexpected `{}`", tokens[p.i].text()));
    }
    if !v.is_finite() {
        return Err(format!("`{src}` evaluates to {v}, not a finite number"));
    }
    Ok(v)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(char),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Num(v) => v.to_string(),
            Tok::Ident(s) => s.clone(),
            Tok::Op(c) => c.to_string(),
        }
    }
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == '.') {
                i += 1;
            }
            if i < b.len() && (b[i] == 'e' || b[i] == 'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == '+' || b[j] == '-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let s: String = b[start..i].iter().collect();
            out.push(Tok::Num(s.parse().map_err(|_| {
                format!("`{s}` is not a number (at character {})", start + 1)
            })?));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
        } else if "+-*/^()".contains(c) {
            out.push(Tok::Op(c));
            i += 1;
        } else {
            return Err(format!("unexpected character `{c}` at character {}", i + 1));
        }
    }
    Ok(out)
}

struct P<'a> {
    t: &'a [Tok],
    i: usize,
    depth: usize,
}

const FUNCTIONS: &[&str] = &["sqrt", "exp", "ln", "log10", "abs"];
const CONSTANTS: &[&str] = &["pi", "e", "inf"];

impl P<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Op(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn sum(&mut self) -> Result<f64, String> {
        let mut v = self.product()?;
        loop {
            if self.eat('+') {
                v += self.product()?;
            } else if self.eat('-') {
                v -= self.product()?;
            } else {
                return Ok(v);
            }
        }
    }
    fn product(&mut self) -> Result<f64, String> {
        let mut v = self.unary()?;
        loop {
            if self.eat('*') {
                v *= self.unary()?;
            } else if self.eat('/') {
                v /= self.unary()?;
            } else {
                return Ok(v);
            }
        }
    }
    fn unary(&mut self) -> Result<f64, String> {
        if self.eat('-') {
            return Ok(-self.unary()?);
        }
        if self.eat('+') {
            return self.unary();
        }
        self.power()
    }
    fn power(&mut self) -> Result<f64, String> {
        let base = self.atom()?;
        if self.eat('^') {
            // Right-associative, and binds tighter than unary minus on its left only.
            let exp = self.unary()?;
            return Ok(base.powf(exp));
        }
        Ok(base)
    }
    fn atom(&mut self) -> Result<f64, String> {
        self.depth += 1;
        if self.depth > 50 {
            return Err("expression nested too deeply".into());
        }
        let tok = self.peek().cloned().ok_or("expression ends too early")?;
        self.i += 1;
        let v = match tok {
            Tok::Num(v) => v,
            Tok::Op('(') => {
                let v = self.sum()?;
                if !self.eat(')') {
                    return Err("missing `)`".into());
                }
                v
            }
            Tok::Ident(name) => match name.as_str() {
                "pi" => std::f64::consts::PI,
                "e" => std::f64::consts::E,
                "inf" => f64::INFINITY,
                f if FUNCTIONS.contains(&f) => {
                    if !self.eat('(') {
                        return Err(format!("`{f}` needs parentheses, as in `{f}(2)`"));
                    }
                    let a = self.sum()?;
                    if !self.eat(')') {
                        return Err("missing `)`".into());
                    }
                    match f {
                        "sqrt" => a.sqrt(),
                        "exp" => a.exp(),
                        "ln" => a.ln(),
                        "log10" => a.log10(),
                        _ => a.abs(),
                    }
                }
                other => {
                    let names: Vec<&str> = FUNCTIONS.iter().chain(CONSTANTS).copied().collect();
                    return Err(format!(
                        "unknown name `{other}`; {}",
                        crate::diagnostic::suggest(other, &names)
                    ));
                }
            },
            Tok::Op(c) => return Err(format!("unexpected `{c}`")),
        };
        self.depth -= 1;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::eval;

    #[test]
    fn evaluates_constants_and_functions() {
        assert_eq!(eval("1/sqrt(2)").unwrap(), 1.0 / 2f64.sqrt());
        assert_eq!(eval("ln(2)/2").unwrap(), 2f64.ln() / 2.0);
        assert_eq!(eval("2^-3").unwrap(), 0.125);
        assert_eq!(eval("-2^2").unwrap(), -4.0);
        assert_eq!(eval("1e-3 + 2*3").unwrap(), 6.001);
        assert_eq!(eval("(1+2)*pi").unwrap(), 3.0 * std::f64::consts::PI);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(eval("sqr(2)").unwrap_err().contains("sqrt"));
        assert!(eval("1/0").unwrap_err().contains("finite"));
        assert!(eval("(1").unwrap_err().contains(")"));
        assert!(eval("1 2").is_err());
        assert!(eval("").is_err());
        assert!(eval(&"(".repeat(300)).is_err());
    }
}
