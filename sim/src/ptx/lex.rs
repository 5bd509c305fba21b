//! PTX tokens: identifiers (which include directives such as `.reg`, dotted opcodes such as
//! `ld.global.nc.v4.f32`, special registers such as `%tid.x` and `::` sub-qualifiers such as
//! `.shared::cta`), numbers, strings and punctuation, each with its 1-based line.

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Identifier, directive, opcode, register or label name.
    Ident(String),
    /// A numeric literal as written (parsed by [`parse_number`]).
    Num(String),
    /// A string literal without its quotes.
    Str(String),
    /// One punctuation character.
    Punct(char),
}

/// A token and the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub line: u32,
}

/// A lexical error: the line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub line: u32,
    pub msg: String,
}

fn ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || matches!(c, b'_' | b'$' | b'%' | b'.')
}

fn ident_cont(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'.')
}

/// Splits PTX text into tokens, dropping comments.
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, LexError> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(text.len() / 4);
    let mut i = 0usize;
    let mut line = 1u32;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => i += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = line;
                i += 2;
                loop {
                    if i + 1 >= b.len() {
                        return Err(LexError {
                            line: start,
                            msg: "unterminated comment".into(),
                        });
                    }
                    if b[i] == b'*' && b[i + 1] == b'/' {
                        i += 2;
                        break;
                    }
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\n' {
                        return Err(LexError {
                            line,
                            msg: "unterminated string".into(),
                        });
                    }
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= b.len() {
                    return Err(LexError {
                        line,
                        msg: "unterminated string".into(),
                    });
                }
                out.push(Token {
                    tok: Tok::Str(text[start..i].to_string()),
                    line,
                });
                i += 1;
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                // A decimal exponent with a sign: 1.5e-3.
                let s = &text[start..i];
                let lower = s.to_ascii_lowercase();
                if (lower.ends_with('e'))
                    && !lower.starts_with("0x")
                    && !lower.starts_with("0f")
                    && !lower.starts_with("0d")
                    && matches!(b.get(i), Some(b'+') | Some(b'-'))
                    && b.get(i + 1).is_some_and(|c| c.is_ascii_digit())
                {
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                out.push(Token {
                    tok: Tok::Num(text[start..i].to_string()),
                    line,
                });
            }
            c if ident_start(c) => {
                let start = i;
                i += 1;
                loop {
                    if i < b.len() && ident_cont(b[i]) {
                        i += 1;
                    } else if i + 2 < b.len()
                        && b[i] == b':'
                        && b[i + 1] == b':'
                        && ident_cont(b[i + 2])
                    {
                        i += 2;
                    } else {
                        break;
                    }
                }
                out.push(Token {
                    tok: Tok::Ident(text[start..i].to_string()),
                    line,
                });
            }
            b'{' | b'}' | b'(' | b')' | b'[' | b']' | b',' | b';' | b':' | b'@' | b'!' | b'+'
            | b'-' | b'|' | b'<' | b'>' | b'=' | b'*' => {
                out.push(Token {
                    tok: Tok::Punct(c as char),
                    line,
                });
                i += 1;
            }
            _ => {
                return Err(LexError {
                    line,
                    msg: format!("unexpected character '{}'", c as char),
                })
            }
        }
    }
    Ok(out)
}

/// A numeric literal's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// An integer literal (two's complement bits; `negative` when written with a minus).
    Int(u64),
    /// `0fXXXXXXXX`: the bits of an f32.
    F32Bits(u32),
    /// `0dXXXXXXXXXXXXXXXX`: the bits of an f64.
    F64Bits(u64),
    /// A decimal floating-point literal (an f64 value).
    Float(f64),
}

/// Parses a numeric literal as PTX writes it (`neg`: a minus sign preceded it).
pub(crate) fn parse_number(s: &str, neg: bool) -> Option<Number> {
    let lower = s.to_ascii_lowercase();
    let hexdigits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_hexdigit());
    if lower.len() == 10 && lower.starts_with("0f") && hexdigits(&lower[2..]) {
        let bits = u32::from_str_radix(&lower[2..], 16).ok()?;
        return Some(Number::F32Bits(if neg { bits ^ 0x8000_0000 } else { bits }));
    }
    if lower.len() == 18 && lower.starts_with("0d") && hexdigits(&lower[2..]) {
        let bits = u64::from_str_radix(&lower[2..], 16).ok()?;
        return Some(Number::F64Bits(if neg {
            bits ^ 0x8000_0000_0000_0000
        } else {
            bits
        }));
    }
    let body = lower.strip_suffix('u').unwrap_or(&lower);
    let int = if let Some(h) = body.strip_prefix("0x") {
        if !hexdigits(h) {
            return None;
        }
        u64::from_str_radix(h, 16).ok()
    } else if let Some(bin) = body.strip_prefix("0b") {
        u64::from_str_radix(bin, 2).ok()
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|c| c.is_ascii_digit()) {
        u64::from_str_radix(&body[1..], 8).ok()
    } else if !body.is_empty() && body.bytes().all(|c| c.is_ascii_digit()) {
        body.parse::<u64>().ok()
    } else {
        None
    };
    if let Some(v) = int {
        return Some(Number::Int(if neg { v.wrapping_neg() } else { v }));
    }
    // Decimal floating point: digits, optional fraction, optional exponent.
    if lower.contains('.') || lower.contains('e') {
        let v: f64 = lower.parse().ok()?;
        return Some(Number::Float(if neg { -v } else { v }));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_lines() {
        let t = lex("ld.global.nc.v4.f32 {%f1, %f2}, [%rd1+-16]; // c\n$L__BB0_6:\n cp.async.ca.shared::cta.global").unwrap();
        assert_eq!(t[0].tok, Tok::Ident("ld.global.nc.v4.f32".into()));
        assert!(t
            .iter()
            .any(|x| x.tok == Tok::Ident("$L__BB0_6".into()) && x.line == 2));
        assert_eq!(
            t.last().unwrap().tok,
            Tok::Ident("cp.async.ca.shared::cta.global".into())
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            parse_number("0f3F800000", false),
            Some(Number::F32Bits(0x3f80_0000))
        );
        assert_eq!(
            parse_number("0d3FF0000000000000", true),
            Some(Number::F64Bits(0xbff0_0000_0000_0000))
        );
        assert_eq!(
            parse_number("4294967296", true),
            Some(Number::Int((-4294967296i64) as u64))
        );
        assert_eq!(parse_number("0x1F", false), Some(Number::Int(31)));
        assert_eq!(parse_number("17U", false), Some(Number::Int(17)));
        assert_eq!(parse_number("010", false), Some(Number::Int(8)));
        assert_eq!(parse_number("0.5", false), Some(Number::Float(0.5)));
    }
}
