//! Plain text in Typst markup: escaped so that it can never start markup, code, math,
//! a label or a list. Used by the PDF backend and by the figure labels.

/// Escape text for Typst markup: every character that could start markup, code,
/// math, a label, a reference, a comment or a shorthand is written with a backslash.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    push_text(&mut out, text);
    out
}

/// Append escaped `text`. A digit at the start of a line or content block is escaped
/// too, so `1. ` can never become a numbered list.
pub fn push_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' | '#' | '$' | '*' | '_' | '@' | '<' | '>' | '[' | ']' | '`' | '~' | '/' | '-'
            | '=' | '+' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_digit() && at_block_start(out) => {
                out.push('\\');
                out.push(c);
            }
            // Line breaks in text are spaces (Markdown soft breaks); a bare newline
            // in Typst could start a list or heading on the next line.
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
}

fn at_block_start(out: &str) -> bool {
    match out.trim_end_matches([' ', '\t']).chars().last() {
        None => true,
        Some(c) => c == '\n' || c == '[',
    }
}
