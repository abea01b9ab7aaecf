//! The Typst engine (used by stage 5, *draw*, for figure labels and stage 7, *render*,
//! for the PDF): the chapters' LaTeX math, converted to Typst math.
//!
//! Chapters write math once, in LaTeX between dollar signs; the HTML report turns it
//! into MathML (`render::math`), the PDF into Typst math, which `render::pdf::markup`
//! places between `$…$`. [`to_typst`] covers the LaTeX a statistics paper uses:
//! letters, Greek, relations and operators, `\frac`/`\sqrt`/`\binom`, scripts and
//! primes, named operators (`\log`, `\sup`, `\operatorname{Var}`), font commands
//! (`\mathbf`, `\mathbb`, `\text`, …), accents, `\left…\right`, spacing, and the
//! `cases`/`matrix`/`aligned` environments. Anything else is an error naming the
//! construct, and the caller shows that formula as LaTeX source instead, so no
//! formula is ever dropped.
//!
//! Why not `mitex`, the maintained LaTeX→Typst converter: its output calls helper
//! functions (`mitexsqrt`, `tfrac`, `operatorname`, `textmath`, …) that live in its
//! Typst package, which cannot be fetched at build time, and it accepts malformed
//! input (`\frac{1}{` silently becomes `frac(1, zws)`). Here every name the output
//! uses is a Typst built-in, so a converted formula cannot fail to compile for an
//! unknown name, and malformed input is reported.
//!
//! Two rules keep the output faithful to LaTeX: symbols are written as Unicode
//! characters (Typst gives them their math class from Unicode, as TeX does), and
//! every bracket and comma is escaped, so brackets never auto-scale (LaTeX does not
//! scale them either; `\left…\right` becomes `lr(…)`, which does) and a comma inside
//! `frac(…)` never splits its arguments.

/// Convert one formula (the text between the dollar signs) to Typst math.
pub fn to_typst(latex: &str) -> Result<String, String> {
    let toks = lex(latex)?;
    let mut c = Conv { toks, pos: 0 };
    let out = c.seq(Stop::End)?;
    Ok(out.finish())
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// `\name` (letters) or `\x` (one non-letter), without the backslash.
    Cmd(String),
    Open,
    Close,
    Sup,
    Sub,
    Amp,
    /// A run of digits with at most one decimal point.
    Num(String),
    Char(char),
    Space,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let t = match c {
            '\\' => match it.next() {
                Some((_, a)) if a.is_ascii_alphabetic() => {
                    let mut name = a.to_string();
                    while let Some(&(_, b)) = it.peek() {
                        if !b.is_ascii_alphabetic() {
                            break;
                        }
                        name.push(b);
                        it.next();
                    }
                    // `\operatorname*`: the star belongs to the command.
                    if name == "operatorname" && it.peek().map(|p| p.1) == Some('*') {
                        it.next();
                        name.push('*');
                    }
                    Tok::Cmd(name)
                }
                Some((_, a)) => Tok::Cmd(a.to_string()),
                None => return Err("a lone `\\` at the end of the formula".into()),
            },
            '{' => Tok::Open,
            '}' => Tok::Close,
            '^' => Tok::Sup,
            '_' => Tok::Sub,
            '&' => Tok::Amp,
            '%' => return Err("`%` (a LaTeX comment) inside math".into()),
            c if c.is_whitespace() => {
                while it.peek().is_some_and(|p| p.1.is_whitespace()) {
                    it.next();
                }
                Tok::Space
            }
            c if c.is_ascii_digit() => {
                let mut end = i + 1;
                let mut seen_point = false;
                while let Some(&(j, d)) = it.peek() {
                    let next_is_digit = s[j + d.len_utf8()..]
                        .chars()
                        .next()
                        .is_some_and(|n| n.is_ascii_digit());
                    if d.is_ascii_digit() || (d == '.' && !seen_point && next_is_digit) {
                        seen_point |= d == '.';
                        end = j + d.len_utf8();
                        it.next();
                    } else {
                        break;
                    }
                }
                Tok::Num(s[i..end].to_string())
            }
            c => Tok::Char(c),
        };
        toks.push(t);
    }
    Ok(toks)
}

/// Typst math being built: atoms separated by spaces (Typst reads `rX` as one
/// identifier, `r X` as two letters; the spaces do not show).
#[derive(Default)]
struct Out {
    s: String,
    /// Whether the last thing written can carry a script or a prime.
    has_base: bool,
}

impl Out {
    fn atom(&mut self, a: &str) {
        if a.is_empty() {
            return;
        }
        if !self.s.is_empty() && !self.s.ends_with(' ') {
            self.s.push(' ');
        }
        self.s.push_str(a);
        self.has_base = true;
    }
    /// Spacing and alignment: not a base for scripts.
    fn glue(&mut self, a: &str) {
        self.atom(a);
        self.has_base = false;
    }
    /// A script or prime, attached to the last atom (Typst needs no space before it).
    fn attach(&mut self, a: &str) {
        if !self.has_base {
            // `{}^2` or a leading `^2`: Typst needs an explicit (empty) base.
            self.atom("\"\"");
        }
        let trimmed = self.s.trim_end().len();
        self.s.truncate(trimmed);
        self.s.push_str(a);
        self.has_base = true;
    }
    fn finish(self) -> String {
        self.s.trim().to_string()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Stop {
    End,
    /// A `}` closes the group.
    Close,
    /// `\right` closes the `\left`.
    Right,
    /// `\end{…}` closes the environment.
    EndEnv,
}

struct Conv {
    toks: Vec<Tok>,
    pos: usize,
}

/// Delimiter tokens that may follow `\left`, `\right`, `\middle` and `\big…`, as the
/// character they show (`""` for the empty delimiter `.`).
fn delimiter(t: &Tok) -> Option<&'static str> {
    Some(match t {
        Tok::Char('(') => "(",
        Tok::Char(')') => ")",
        Tok::Char('[') => "[",
        Tok::Char(']') => "]",
        Tok::Char('|') => "|",
        Tok::Char('.') => "",
        Tok::Char('/') => "/",
        Tok::Char('<') => "⟨",
        Tok::Char('>') => "⟩",
        Tok::Cmd(c) => match c.as_str() {
            "{" | "lbrace" => "{",
            "}" | "rbrace" => "}",
            "|" | "Vert" | "lVert" | "rVert" => "‖",
            "vert" | "lvert" | "rvert" => "|",
            "langle" => "⟨",
            "rangle" => "⟩",
            "lfloor" => "⌊",
            "rfloor" => "⌋",
            "lceil" => "⌈",
            "rceil" => "⌉",
            "lbrack" => "[",
            "rbrack" => "]",
            "backslash" => "\\",
            _ => return None,
        },
        _ => return None,
    })
}

/// A delimiter inside `lr(…)`, by its Typst name: a literal bracket there would pair
/// with (or close) the brackets of the call itself.
fn named_delim(d: &str) -> &'static str {
    match d {
        "(" => "paren.l",
        ")" => "paren.r",
        "[" => "bracket.l",
        "]" => "bracket.r",
        "{" => "brace.l",
        "}" => "brace.r",
        "|" => "bar.v",
        "‖" => "bar.v.double",
        "⟨" => "chevron.l",
        "⟩" => "chevron.r",
        "⌊" => "floor.l",
        "⌋" => "floor.r",
        "⌈" => "ceil.l",
        "⌉" => "ceil.r",
        "/" => "slash",
        "\\" => "backslash",
        _ => "",
    }
}

/// A delimiter outside `lr(…)`: escaped, so it neither pairs with another bracket
/// (and scales) nor closes a function call.
fn escape_delim(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!("\\{d}")
    }
}

fn is_big(name: &str) -> bool {
    matches!(
        name.trim_end_matches(['l', 'r', 'm']),
        "big" | "Big" | "bigg" | "Bigg"
    )
}

/// Commands that stand for one symbol, written as its Unicode character.
const SYMBOLS: &[(&str, &str)] = &[
    // Greek (TeX's `\epsilon` is the lunate ϵ, `\varepsilon` the ε of text).
    ("alpha", "α"),
    ("beta", "β"),
    ("gamma", "γ"),
    ("delta", "δ"),
    ("epsilon", "ϵ"),
    ("varepsilon", "ε"),
    ("zeta", "ζ"),
    ("eta", "η"),
    ("theta", "θ"),
    ("vartheta", "ϑ"),
    ("iota", "ι"),
    ("kappa", "κ"),
    ("lambda", "λ"),
    ("mu", "μ"),
    ("nu", "ν"),
    ("xi", "ξ"),
    ("pi", "π"),
    ("varpi", "ϖ"),
    ("rho", "ρ"),
    ("varrho", "ϱ"),
    ("sigma", "σ"),
    ("varsigma", "ς"),
    ("tau", "τ"),
    ("upsilon", "υ"),
    ("phi", "ϕ"),
    ("varphi", "φ"),
    ("chi", "χ"),
    ("psi", "ψ"),
    ("omega", "ω"),
    ("Gamma", "Γ"),
    ("Delta", "Δ"),
    ("Theta", "Θ"),
    ("Lambda", "Λ"),
    ("Xi", "Ξ"),
    ("Pi", "Π"),
    ("Sigma", "Σ"),
    ("Upsilon", "Υ"),
    ("Phi", "Φ"),
    ("Psi", "Ψ"),
    ("Omega", "Ω"),
    // Relations.
    ("le", "≤"),
    ("leq", "≤"),
    ("ge", "≥"),
    ("geq", "≥"),
    ("ne", "≠"),
    ("neq", "≠"),
    ("leqslant", "⩽"),
    ("geqslant", "⩾"),
    ("ll", "≪"),
    ("gg", "≫"),
    ("lesssim", "≲"),
    ("gtrsim", "≳"),
    ("approx", "≈"),
    ("sim", "∼"),
    ("simeq", "≃"),
    ("cong", "≅"),
    ("asymp", "≍"),
    ("equiv", "≡"),
    ("propto", "∝"),
    ("in", "∈"),
    ("notin", "∉"),
    ("ni", "∋"),
    ("subset", "⊂"),
    ("subseteq", "⊆"),
    ("supset", "⊃"),
    ("supseteq", "⊇"),
    ("mid", "∣"),
    ("nmid", "∤"),
    ("parallel", "∥"),
    // ⊥ is an ordinary symbol in Unicode (`\bot`); `\perp` is TeX's relation.
    ("perp", "class(\"relation\", ⊥)"),
    ("prec", "≺"),
    ("succ", "≻"),
    ("preceq", "⪯"),
    ("succeq", "⪰"),
    ("coloneqq", "≔"),
    ("to", "→"),
    ("rightarrow", "→"),
    ("gets", "←"),
    ("leftarrow", "←"),
    ("leftrightarrow", "↔"),
    ("Rightarrow", "⇒"),
    ("Leftarrow", "⇐"),
    ("Leftrightarrow", "⇔"),
    ("implies", "⟹"),
    ("Longrightarrow", "⟹"),
    ("impliedby", "⟸"),
    ("Longleftarrow", "⟸"),
    ("iff", "⟺"),
    ("Longleftrightarrow", "⟺"),
    ("longrightarrow", "⟶"),
    ("longleftarrow", "⟵"),
    ("mapsto", "↦"),
    ("longmapsto", "⟼"),
    ("uparrow", "↑"),
    ("downarrow", "↓"),
    ("rightharpoonup", "⇀"),
    ("leadsto", "⇝"),
    ("searrow", "↘"),
    ("nearrow", "↗"),
    // Binary operators.
    ("cdot", "⋅"),
    ("times", "×"),
    ("div", "÷"),
    ("pm", "±"),
    ("mp", "∓"),
    ("ast", "∗"),
    ("star", "⋆"),
    ("circ", "∘"),
    ("bullet", "∙"),
    ("cup", "∪"),
    ("cap", "∩"),
    ("setminus", "∖"),
    ("wedge", "∧"),
    ("land", "∧"),
    ("vee", "∨"),
    ("lor", "∨"),
    ("oplus", "⊕"),
    ("ominus", "⊖"),
    ("otimes", "⊗"),
    ("odot", "⊙"),
    ("dagger", "†"),
    // Large operators (Typst sets limits from their Unicode class, as TeX does).
    ("sum", "∑"),
    ("prod", "∏"),
    ("coprod", "∐"),
    ("int", "∫"),
    ("iint", "∬"),
    ("iiint", "∭"),
    ("oint", "∮"),
    ("bigcup", "⋃"),
    ("bigcap", "⋂"),
    ("bigoplus", "⨁"),
    ("bigotimes", "⨂"),
    ("bigvee", "⋁"),
    ("bigwedge", "⋀"),
    // Other symbols.
    ("infty", "∞"),
    ("partial", "∂"),
    ("nabla", "∇"),
    ("forall", "∀"),
    ("exists", "∃"),
    ("nexists", "∄"),
    ("emptyset", "∅"),
    ("varnothing", "∅"),
    ("neg", "¬"),
    ("lnot", "¬"),
    ("ell", "ℓ"),
    ("hbar", "ℏ"),
    ("Re", "ℜ"),
    ("Im", "ℑ"),
    ("aleph", "ℵ"),
    ("wp", "℘"),
    ("top", "⊤"),
    ("bot", "⊥"),
    ("angle", "∠"),
    ("triangle", "△"),
    ("square", "□"),
    ("Box", "□"),
    ("dots", "…"),
    ("ldots", "…"),
    ("cdots", "⋯"),
    ("vdots", "⋮"),
    ("ddots", "⋱"),
    ("prime", "′"),
    ("S", "§"),
    ("%", "%"),
    ("&", "&"),
    ("$", "$"),
    ("#", "#"),
    ("_", "_"),
];

fn symbol(name: &str) -> Option<&'static str> {
    SYMBOLS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Named operators Typst has under the same name (with limits where TeX has them).
const TYPST_OPS: &[&str] = &[
    "arccos", "arcsin", "arctan", "arg", "cos", "cosh", "cot", "coth", "csc", "csch", "deg", "det",
    "dim", "exp", "gcd", "hom", "inf", "ker", "lg", "lim", "liminf", "limsup", "ln", "log", "max",
    "min", "Pr", "sec", "sech", "sin", "sinh", "sup", "tan", "tanh", "tr",
];

/// Named operators TeX users write that Typst lacks, as (name, shown text, limits).
const OTHER_OPS: &[(&str, &str, bool)] = &[
    ("argmax", "arg max", true),
    ("argmin", "arg min", true),
    ("esssup", "ess sup", true),
    ("essinf", "ess inf", true),
    ("Var", "Var", false),
    ("Cov", "Cov", false),
    ("sgn", "sgn", false),
    ("diag", "diag", false),
    ("bmod", "mod", false),
];

/// Single-argument commands that become a Typst function of that argument, as
/// (command, text before the argument, text after it).
const WRAPPERS: &[(&str, &str, &str)] = &[
    ("mathbf", "bold(upright(", "))"),
    ("boldsymbol", "bold(", ")"),
    ("bm", "bold(", ")"),
    ("mathrm", "upright(", ")"),
    ("mathit", "italic(", ")"),
    ("mathsf", "sans(", ")"),
    ("mathtt", "mono(", ")"),
    ("mathbb", "bb(", ")"),
    ("mathcal", "cal(", ")"),
    ("mathfrak", "frak(", ")"),
    ("mathscr", "scr(", ")"),
    ("hat", "hat(", ")"),
    ("widehat", "hat(", ")"),
    ("tilde", "tilde(", ")"),
    ("widetilde", "tilde(", ")"),
    ("bar", "macron(", ")"),
    ("overline", "overline(", ")"),
    ("underline", "underline(", ")"),
    ("vec", "arrow(", ")"),
    ("dot", "dot(", ")"),
    ("ddot", "dot.double(", ")"),
    ("check", "caron(", ")"),
    ("breve", "breve(", ")"),
    ("acute", "acute(", ")"),
    ("grave", "grave(", ")"),
    ("sqrt", "sqrt(", ")"),
    ("mathop", "op(", ")"),
    ("boxed", "#box(stroke: 0.5pt, inset: 3pt, $", "$)"),
    ("cancel", "cancel(", ")"),
];

fn wrapper(name: &str) -> Option<(&'static str, &'static str)> {
    WRAPPERS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, open, close)| (*open, *close))
}

/// A Typst string literal.
pub(crate) fn typst_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Conv {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn skip_space(&mut self) {
        while self.peek() == Some(&Tok::Space) {
            self.pos += 1;
        }
    }

    /// Convert tokens until `stop`; the stopping token is consumed (except at the end).
    fn seq(&mut self, stop: Stop) -> Result<Out, String> {
        let mut out = Out::default();
        loop {
            let Some(t) = self.next() else {
                return match stop {
                    Stop::End => Ok(out),
                    Stop::Close => Err("a `{` is never closed by `}`".into()),
                    Stop::Right => Err("a `\\left` has no matching `\\right`".into()),
                    Stop::EndEnv => Err("an environment is never closed by `\\end`".into()),
                };
            };
            match t {
                Tok::Close if stop == Stop::Close => return Ok(out),
                Tok::Close => return Err("a `}` closes nothing".into()),
                Tok::Cmd(c) if c == "right" => {
                    if stop == Stop::Right {
                        return Ok(out);
                    }
                    return Err("a `\\right` has no matching `\\left`".into());
                }
                Tok::Cmd(c) if c == "end" => {
                    if stop == Stop::EndEnv {
                        return Ok(out);
                    }
                    return Err("an `\\end` closes no `\\begin`".into());
                }
                Tok::Cmd(c)
                    if matches!(c.as_str(), "displaystyle" | "textstyle" | "scriptstyle") =>
                {
                    // The style applies to the rest of the group.
                    let f = match c.as_str() {
                        "displaystyle" => "display",
                        "textstyle" => "inline",
                        _ => "script",
                    };
                    let rest = self.seq(stop)?;
                    out.atom(&format!("{f}({})", rest.finish()));
                    return Ok(out);
                }
                Tok::Sup | Tok::Sub => {
                    let mut arg = self.arg()?;
                    if arg.is_empty() {
                        arg = "\"\"".into();
                    }
                    let mark = if t == Tok::Sup { '^' } else { '_' };
                    out.attach(&format!("{mark}({arg})"));
                }
                Tok::Char('\'') => out.attach("'"),
                Tok::Amp => out.glue("&"),
                Tok::Space => {}
                other => self.atom(other, &mut out)?,
            }
        }
    }

    /// A command's argument: a `{group}` or a single token (`\frac12`, `\sqrt2`).
    fn arg(&mut self) -> Result<String, String> {
        self.skip_space();
        match self.next() {
            Some(Tok::Open) => Ok(self.seq(Stop::Close)?.finish()),
            Some(Tok::Num(n)) => {
                // TeX takes one digit as the argument: `x^23` is x² followed by 3.
                let mut chars = n.chars();
                let first = chars.next().unwrap_or('0');
                let rest: String = chars.collect();
                if !rest.is_empty() {
                    self.pos -= 1;
                    self.toks[self.pos] = Tok::Num(rest);
                }
                Ok(first.to_string())
            }
            Some(Tok::Cmd(c)) if !matches!(c.as_str(), "right" | "end") => {
                let mut out = Out::default();
                self.atom(Tok::Cmd(c), &mut out)?;
                Ok(out.finish())
            }
            Some(t @ Tok::Char(_)) => {
                let mut out = Out::default();
                self.atom(t, &mut out)?;
                Ok(out.finish())
            }
            _ => Err("a command or script is missing its argument".into()),
        }
    }

    /// A `{group}` of plain text (environment names, `\text{…}`), not converted.
    fn raw_group(&mut self, what: &str) -> Result<String, String> {
        self.skip_space();
        if self.next() != Some(Tok::Open) {
            return Err(format!("{what} needs a `{{…}}` argument"));
        }
        let mut depth = 0;
        let mut text = String::new();
        loop {
            match self.next() {
                None => return Err(format!("the argument of {what} is never closed")),
                Some(Tok::Close) if depth == 0 => return Ok(text),
                Some(Tok::Close) => {
                    depth -= 1;
                    text.push('}');
                }
                Some(Tok::Open) => {
                    depth += 1;
                    text.push('{');
                }
                Some(Tok::Cmd(c)) => match symbol(&c) {
                    Some(s) if c.len() == 1 => text.push_str(s),
                    _ if c == " " || c == "," || c == ";" => text.push(' '),
                    _ => return Err(format!("`\\{c}` inside {what}")),
                },
                Some(Tok::Sup) => text.push('^'),
                Some(Tok::Sub) => text.push('_'),
                Some(Tok::Amp) => text.push('&'),
                Some(Tok::Num(n)) => text.push_str(&n),
                Some(Tok::Char('~')) | Some(Tok::Space) => text.push(' '),
                Some(Tok::Char(c)) => text.push(c),
            }
        }
    }

    /// An optional `[…]` argument (`\sqrt[3]{x}`).
    fn optional(&mut self) -> Result<Option<String>, String> {
        self.skip_space();
        if self.peek() != Some(&Tok::Char('[')) {
            return Ok(None);
        }
        self.pos += 1;
        let mut out = Out::default();
        loop {
            match self.peek() {
                None => return Err("an optional `[…]` argument is never closed".into()),
                Some(Tok::Char(']')) => {
                    self.pos += 1;
                    return Ok(Some(out.finish()));
                }
                Some(Tok::Space) => self.pos += 1,
                Some(_) => {
                    let t = self.next().unwrap_or(Tok::Space);
                    self.atom(t, &mut out)?;
                }
            }
        }
    }

    /// One atom: a letter, number, symbol, group or command with its arguments.
    fn atom(&mut self, t: Tok, out: &mut Out) -> Result<(), String> {
        match t {
            Tok::Char(c) => out.atom(&char_atom(c)?),
            Tok::Num(n) => out.atom(&n),
            Tok::Open => {
                // A TeX group is one atom: keep it one for a following script.
                let inner = self.seq(Stop::Close)?.finish();
                let scripted = matches!(self.peek(), Some(Tok::Sup | Tok::Sub));
                if inner.is_empty() {
                    if scripted {
                        out.atom("\"\"");
                    }
                } else if scripted && inner.contains(' ') {
                    out.atom(&format!("lr({inner})"));
                } else {
                    out.atom(&inner);
                }
            }
            Tok::Cmd(name) => self.command(&name, out)?,
            Tok::Close | Tok::Sup | Tok::Sub | Tok::Amp | Tok::Space => {
                return Err("unexpected token".into())
            }
        }
        Ok(())
    }

    fn command(&mut self, name: &str, out: &mut Out) -> Result<(), String> {
        if let Some(s) = symbol(name) {
            // `\%`, `\&`, `\#`, `\$`, `\_` need escaping in Typst math too.
            let s = if matches!(name, "%" | "&" | "$" | "#" | "_") {
                format!("\\{s}")
            } else {
                s.to_string()
            };
            out.atom(&s);
            return Ok(());
        }
        if let Some(d) = delimiter(&Tok::Cmd(name.to_string())) {
            // `\{`, `\langle`, … outside `\left…\right`: a plain, unscaled bracket.
            out.atom(&escape_delim(d));
            return Ok(());
        }
        if TYPST_OPS.contains(&name) {
            out.atom(name);
            return Ok(());
        }
        if let Some((_, shown, limits)) = OTHER_OPS.iter().find(|(n, _, _)| *n == name) {
            out.atom(&op(shown, *limits));
            return Ok(());
        }
        if let Some((open, close)) = wrapper(name) {
            if name == "sqrt" {
                if let Some(index) = self.optional()? {
                    let body = self.arg()?;
                    out.atom(&format!("root({index}, {body})"));
                    return Ok(());
                }
            }
            let body = self.arg()?;
            out.atom(&format!("{open}{body}{close}"));
            return Ok(());
        }
        match name {
            "frac" | "dfrac" | "tfrac" | "cfrac" => {
                let num = self.arg()?;
                let den = self.arg()?;
                let f = format!("frac({num}, {den})");
                out.atom(&match name {
                    "dfrac" | "cfrac" => format!("display({f})"),
                    "tfrac" => format!("inline({f})"),
                    _ => f,
                });
            }
            "binom" | "dbinom" | "tbinom" => {
                let n = self.arg()?;
                let k = self.arg()?;
                out.atom(&format!("binom({n}, {k})"));
            }
            "operatorname" | "operatorname*" => {
                let text = self.raw_group("\\operatorname")?;
                out.atom(&op(text.trim(), name.ends_with('*')));
            }
            "text" | "textrm" | "textnormal" | "mbox" | "mathnormal" => {
                let text = self.raw_group(&format!("\\{name}"))?;
                out.atom(&typst_string(&text));
            }
            "textbf" | "textit" | "textsf" | "texttt" => {
                let text = self.raw_group(&format!("\\{name}"))?;
                let f = match name {
                    "textbf" => "bold",
                    "textit" => "italic",
                    "textsf" => "sans",
                    _ => "mono",
                };
                out.atom(&format!("{f}({})", typst_string(&text)));
            }
            "overset" | "stackrel" | "underset" => {
                let over = self.arg()?;
                let base = self.arg()?;
                let mark = if name == "underset" { '_' } else { '^' };
                out.atom(&format!("limits({base}){mark}({over})"));
            }
            "overbrace" | "underbrace" => {
                let body = self.arg()?;
                self.skip_space();
                let want = if name == "overbrace" {
                    Tok::Sup
                } else {
                    Tok::Sub
                };
                if self.peek() == Some(&want) {
                    self.pos += 1;
                    let note = self.arg()?;
                    out.atom(&format!("{name}({body}, {note})"));
                } else {
                    out.atom(&format!("{name}({body})"));
                }
            }
            "pmod" => {
                let m = self.arg()?;
                out.atom(&format!("\\(mod {m}\\)"));
            }
            "not" => {
                self.skip_space();
                let negated = match self.next() {
                    Some(Tok::Char('=')) => "≠",
                    Some(Tok::Char('<')) => "≮",
                    Some(Tok::Char('>')) => "≯",
                    Some(Tok::Cmd(c)) => match c.as_str() {
                        "in" => "∉",
                        "subset" => "⊄",
                        "subseteq" => "⊈",
                        "equiv" => "≢",
                        "sim" => "≁",
                        "approx" => "≉",
                        "le" | "leq" => "≰",
                        "ge" | "geq" => "≱",
                        "mid" => "∤",
                        _ => return Err(format!("`\\not\\{c}`")),
                    },
                    _ => return Err("`\\not` before something it cannot negate".into()),
                };
                out.atom(negated);
            }
            "left" => {
                self.skip_space();
                let open = self.next().as_ref().and_then(delimiter).ok_or(
                    "`\\left` must be followed by a delimiter such as `(`, `[`, `\\{` or `.`",
                )?;
                let inner = self.seq(Stop::Right)?.finish();
                self.skip_space();
                let close = self.next().as_ref().and_then(delimiter).ok_or(
                    "`\\right` must be followed by a delimiter such as `)`, `]`, `\\}` or `.`",
                )?;
                out.atom(&format!(
                    "lr({} {inner} {})",
                    named_delim(open),
                    named_delim(close)
                ));
            }
            "middle" => {
                self.skip_space();
                let d = self
                    .next()
                    .as_ref()
                    .and_then(delimiter)
                    .ok_or("`\\middle` must be followed by a delimiter")?;
                if !d.is_empty() {
                    out.atom(&format!("mid({})", named_delim(d)));
                }
            }
            big if is_big(big) => {
                self.skip_space();
                let d = self
                    .next()
                    .as_ref()
                    .and_then(delimiter)
                    .ok_or_else(|| format!("`\\{name}` must be followed by a delimiter"))?;
                // TeX's fixed sizes (`lr` with an absolute size scales a lone delimiter).
                let size = match big.trim_end_matches(['l', 'r', 'm']) {
                    "big" => "1.3em",
                    "Big" => "1.8em",
                    "bigg" => "2.4em",
                    _ => "3em",
                };
                if !d.is_empty() {
                    out.atom(&format!("lr({}, size: #{size})", named_delim(d)));
                }
            }
            "begin" => {
                let env = self.raw_group("\\begin")?;
                let s = self.environment(env.trim())?;
                out.atom(&s);
            }
            "," | ":" | ">" | ";" | " " | "!" | "quad" | "qquad" | "enspace" | "thinspace"
            | "medspace" | "thickspace" => out.glue(match name {
                "," | "thinspace" => "thin",
                ":" | ">" | "medspace" => "med",
                ";" | "thickspace" => "thick",
                " " => "#h(0.3333em)",
                "enspace" => "#h(0.5em)",
                "!" => "#h(-0.1667em)",
                "quad" => "quad",
                _ => "wide",
            }),
            "\\" => out.glue("\\"),
            "limits" | "nolimits" | "nonumber" | "notag" => {}
            _ => return Err(format!("unsupported command `\\{name}`")),
        }
        Ok(())
    }

    /// `\begin{env} … \end{env}`: rows split at `\\`, cells at `&`.
    fn environment(&mut self, env: &str) -> Result<String, String> {
        let delim = match env {
            "matrix" | "array" | "smallmatrix" => Some("#none"),
            "pmatrix" => Some("\"(\""),
            "bmatrix" => Some("\"[\""),
            "Bmatrix" => Some("\"{\""),
            "vmatrix" => Some("\"|\""),
            "Vmatrix" => Some("\"‖\""),
            _ => None,
        };
        let supported = delim.is_some()
            || matches!(
                env,
                "cases"
                    | "aligned"
                    | "align"
                    | "align*"
                    | "gathered"
                    | "gather"
                    | "gather*"
                    | "split"
                    | "equation"
                    | "equation*"
            );
        if !supported {
            return Err(format!("unsupported environment `{env}`"));
        }
        if env == "array" {
            // The column specification (`{cc}`) only sets alignment.
            self.raw_group("the column specification of `array`")?;
        }
        // Convert the body, then split it at the row and cell markers this
        // converter writes for `\\` and `&` (both appear nowhere else unescaped).
        let body = self.seq(Stop::EndEnv)?.finish();
        let closing = self.raw_group("\\end")?;
        if closing.trim() != env {
            return Err(format!(
                "`\\begin{{{env}}}` is closed by `\\end{{{}}}`",
                closing.trim()
            ));
        }
        let rows: Vec<&str> = split_unescaped(&body, '\\')
            .into_iter()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .collect();
        Ok(if let Some(delim) = delim {
            let cells: Vec<String> = rows
                .iter()
                .map(|r| {
                    split_unescaped(r, '&')
                        .into_iter()
                        .map(|c| match c.trim() {
                            "" => "\"\"".to_string(),
                            c => c.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .collect();
            format!("mat(delim: {delim}, {})", cells.join("; "))
        } else if env == "cases" {
            // amsmath separates the value and the condition by a quad.
            let rows: Vec<String> = rows
                .iter()
                .map(|r| {
                    split_unescaped(r, '&')
                        .into_iter()
                        .map(str::trim)
                        .collect::<Vec<_>>()
                        .join(" & quad ")
                })
                .collect();
            format!("cases({})", rows.join(", "))
        } else {
            rows.join(" \\ ")
        })
    }
}

/// `op("name")`, with limits for `\operatorname*` and `arg max`-like operators.
fn op(text: &str, limits: bool) -> String {
    if limits {
        format!("op({}, limits: #true)", typst_string(text))
    } else {
        format!("op({})", typst_string(text))
    }
}

/// Split `s` at every `sep` that is not escaped by a backslash (the converter writes
/// a literal `\` as `\\`, a literal `&` as `\&`).
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            // `\\` followed by a space is the row break written for `\\`.
            if sep == '\\' && c == ' ' {
                parts.push(&s[start..i - 1]);
                start = i;
            }
            continue;
        }
        if c == '\\' {
            escaped = true;
            if sep == '\\' && i + 1 == s.len() {
                parts.push(&s[start..i]);
                start = s.len();
            }
            continue;
        }
        if c == sep {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// One character of LaTeX math.
fn char_atom(c: char) -> Result<String, String> {
    Ok(match c {
        // Brackets do not pair or scale in LaTeX; escaped, they do not in Typst either.
        '(' | ')' | '[' | ']' | '|' => format!("\\{c}"),
        // Typst reads `/` as a fraction, `,`/`;` as argument separators, `"` as text,
        // `#` as code.
        '/' | ',' | ';' | '"' | '#' | '$' | '@' => format!("\\{c}"),
        // Plain in both (atoms are space-separated, so no Typst shorthand such as
        // `<=` or `:=` can form across two of them).
        '+' | '-' | '=' | '<' | '>' | '!' | '.' | ':' | '?' => c.to_string(),
        // TeX's math asterisk is the centred ∗.
        '*' => "∗".into(),
        // TeX's tie: an unbreakable interword space.
        '~' => "#h(0.3333em)".into(),
        '`' => "‘".into(),
        c if c.is_alphanumeric() => c.to_string(),
        // Any other ASCII punctuation is escaped in case Typst gives it a meaning;
        // other symbols typed directly (±, ≤, …) are taken as they are.
        c if c.is_ascii() => format!("\\{c}"),
        c => c.to_string(),
    })
}

/// LaTeX that uses every command, delimiter and environment the converter knows, one
/// formula each: the typesetter's tests compile all of them with Typst, so a Typst
/// name that does not exist (or is deprecated) is caught for every entry.
#[cfg(test)]
pub(crate) fn coverage() -> Vec<String> {
    let mut v: Vec<String> = SYMBOLS.iter().map(|(n, _)| format!(r"x \{n} y")).collect();
    v.extend(
        WRAPPERS
            .iter()
            .map(|(n, _, _)| format!(r"\{n}{{x}} + \{n} y")),
    );
    v.extend(TYPST_OPS.iter().map(|n| format!(r"\{n}_{{x}} f")));
    v.extend(OTHER_OPS.iter().map(|(n, _, _)| format!(r"\{n}_{{x}} f")));
    let delims = [
        "(",
        ")",
        "[",
        "]",
        "|",
        "/",
        "<",
        ">",
        r"\{",
        r"\}",
        r"\lbrace",
        r"\rbrace",
        r"\|",
        r"\Vert",
        r"\lVert",
        r"\rVert",
        r"\vert",
        r"\lvert",
        r"\rvert",
        r"\langle",
        r"\rangle",
        r"\lfloor",
        r"\rfloor",
        r"\lceil",
        r"\rceil",
        r"\lbrack",
        r"\rbrack",
        r"\backslash",
        ".",
    ];
    for d in delims {
        v.push(format!(r"\left{d} \frac{{a}}{{b}} \middle{d} c \right{d}"));
        v.push(format!(
            r"\bigl{d} a \bigr{d} \Big{d} b \Bigg{d} \biggl{d} c \biggr{d}"
        ));
        if d != "." {
            v.push(format!(r"{d} \quad \{{ \; \}}"));
        }
    }
    v.extend(
        [
            r"\frac12 + \dfrac{a}{b} + \tfrac{1}{2} + \cfrac{1}{1 + x}",
            r"\binom{n}{k} \dbinom{n}{k} \tbinom{n}{k} \sqrt[3]{x}",
            r"\operatorname{Var} X + \operatorname*{arg\,max}_x f",
            r#"\text{if "quoted" \& x} \textrm{a} \textnormal{b} \mbox{c} \mathnormal{d}"#,
            r"\textbf{a} \textit{b} \textsf{c} \texttt{d}",
            r"\overset{a}{=} \stackrel{b}{\to} \underset{c}{\max}",
            r"\overbrace{a + b}^{2} \underbrace{c + d}_{3} \overbrace{e}",
            r"a \equiv b \pmod{n}, \quad a \bmod b",
            r"\not= \not< \not> \not\in \not\subset \not\subseteq \not\equiv \not\sim \not\approx \not\le \not\ge \not\mid",
            r"a\,b\:c\>d\;e\ f\!g \quad h \qquad i \enspace j \thinspace k \medspace l \thickspace m ~ n",
            r"\displaystyle \sum_{k=1}^{n} \textstyle \frac{1}{k} {\scriptstyle x}",
            r"\sum\limits_{i} a_i \int\nolimits_0^1 f \nonumber \notag",
            r"{}^2 x + {r\mu}^2 + x^{} + f'(x) + f''",
            r"\begin{cases} 1 & x > 0 \\ 0 & \text{else} \end{cases}",
            r"\begin{aligned} a &= b \\ &= c \end{aligned} \begin{align*} x \end{align*}",
            r"\begin{gathered} a \\ b \end{gathered} \begin{split} a &= b \end{split}",
            r"\begin{equation} e \end{equation} \begin{gather} g \end{gather}",
            r"\begin{matrix} a & b \\ c & d \end{matrix} \begin{pmatrix} a \\ b \end{pmatrix}",
            r"\begin{bmatrix} 1 & \\ & 2 \end{bmatrix} \begin{Bmatrix} a \end{Bmatrix}",
            r"\begin{vmatrix} a \end{vmatrix} \begin{Vmatrix} a \end{Vmatrix} \begin{smallmatrix} a \end{smallmatrix}",
            r"\begin{array}{cc} a & b \\ c & d \end{array}",
            r#"a,b;c:d!e?f*g"h#i@j/k'l`m + 0.5 - 10^{-5}"#,
        ]
        .map(String::from),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_the_converter_knows_converts() {
        for latex in coverage() {
            if let Err(e) = to_typst(&latex) {
                panic!("{latex}: {e}");
            }
        }
    }

    fn t(s: &str) -> String {
        to_typst(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn letters_are_separate_atoms_and_symbols_unicode() {
        assert_eq!(t(r"rX"), "r X");
        assert_eq!(
            t(r"\mu = \tfrac12\delta_{-1}"),
            "μ = inline(frac(1, 2)) δ_(- 1)"
        );
        assert_eq!(t(r"Z \sim N(0, 1)"), r"Z ∼ N \( 0 \, 1 \)");
        assert_eq!(t(r"1/\mu"), r"1 \/ μ");
    }

    #[test]
    fn scripts_primes_and_groups() {
        assert_eq!(t(r"\zeta^*_\infty(t)"), r"ζ^(∗)_(∞) \( t \)");
        assert_eq!(t(r"x^23"), "x^(2) 3");
        assert_eq!(t(r"f'(x)"), r"f' \( x \)");
        assert_eq!(t(r"{}^2 x"), "\"\"^(2) x");
        assert_eq!(t(r"{r\mu}^2"), "lr(r μ)^(2)");
        assert_eq!(t(r"e^{-2t}"), "e^(- 2 t)");
        assert_eq!(t(r"6\cdot10^{-5}"), "6 ⋅ 10^(- 5)");
        assert_eq!(t(r"0.7071 + 1.5"), "0.7071 + 1.5");
    }

    #[test]
    fn operators_fractions_roots_and_fonts() {
        assert_eq!(
            t(r"\operatorname{Var}[rX \mid Y_r = y]"),
            r#"op("Var") \[ r X ∣ Y_(r) = y \]"#
        );
        assert_eq!(t(r"\sup_y L_r(y)"), r"sup_(y) L_(r) \( y \)");
        assert_eq!(t(r"\operatorname{sech}^2"), "op(\"sech\")^(2)");
        assert_eq!(t(r"\frac{1}{\sigma^2 r^2 + 1}"), "frac(1, σ^(2) r^(2) + 1)");
        assert_eq!(t(r"1/\sqrt2"), r"1 \/ sqrt(2)");
        assert_eq!(t(r"\sqrt[3]{x}"), "root(3, x)");
        assert_eq!(
            t(r"\mathbf 1\{u < L_r\}"),
            r"bold(upright(1)) \{ u < L_(r) \}"
        );
        assert_eq!(t(r"\text{if } x"), r#""if " x"#);
        assert_eq!(t(r"\hat{x} \bar x"), "hat(x) macron(x)");
        assert_eq!(
            t(r"\max\{r : s_r(1) = 0\}"),
            r"max \{ r : s_(r) \( 1 \) = 0 \}"
        );
    }

    #[test]
    fn left_right_and_environments() {
        assert_eq!(
            t(r"\left( \frac12 \right)"),
            "lr(paren.l frac(1, 2) paren.r)"
        );
        assert_eq!(t(r"\left. x \right|_0"), "lr( x bar.v)_(0)");
        assert_eq!(
            t(r"\left\{ x \middle| y \right\}"),
            "lr(brace.l x mid(bar.v) y brace.r)"
        );
        // `\big` and friends: a delimiter of TeX's fixed size.
        assert_eq!(
            t(r"E\big[(\log p)'\Bigr]"),
            r"E lr(bracket.l, size: #1.3em) \( log p \)' lr(bracket.r, size: #1.8em)"
        );
        assert_eq!(t(r"\{ \langle"), r"\{ \⟨");
        assert_eq!(
            t(r"\begin{cases} 1 & x > 0 \\ 0 & \text{else} \end{cases}"),
            r#"cases(1 & quad x > 0, 0 & quad "else")"#
        );
        assert_eq!(
            t(r"\begin{pmatrix} a & b \\ c & d \end{pmatrix}"),
            r#"mat(delim: "(", a, b; c, d)"#
        );
        assert_eq!(
            t(r"\begin{aligned} a &= b \\ &= c \end{aligned}"),
            r"a & = b \ & = c"
        );
    }

    #[test]
    fn unsupported_and_malformed_input_is_an_error() {
        assert!(to_typst(r"\foo{x}").unwrap_err().contains(r"`\foo`"));
        assert!(to_typst(r"\frac{1}{").is_err());
        assert!(to_typst(r"x}").is_err());
        assert!(to_typst(r"\left( x").is_err());
        assert!(to_typst(r"\begin{tikzpicture}\end{tikzpicture}")
            .unwrap_err()
            .contains("tikzpicture"));
        assert!(to_typst(r"\begin{cases} a \end{matrix}").is_err());
        assert!(to_typst(r"\frac").is_err());
    }
}
