//! The lexer: SQL text to tokens with byte spans.
//!
//! Words are not classified here: whether `value` or `set` is a keyword depends on where it
//! stands, so the parser decides (case-insensitively). Numbers keep their text; strings are
//! decoded.
//!
//! String literals take single or double quotes (AWS's own examples use both, e.g.
//! `decode(x, "base64")`, `parse_time("yyyy.MM.dd G 'at' HH:mm:ss z", ...)`). Inside either:
//! the JSON escapes `\' \" \\ \/ \b \f \n \r \t \uXXXX` decode, a doubled quote (`''` in
//! single quotes, `""` in double quotes) is one quote as in ANSI SQL, and a backslash before
//! any other character is kept as written, so regular expressions like `'\d+'` mean what
//! their authors expect. \[VERIFY\] AWS documents no escape rules.

use crate::error::ParseError;
use crate::span::Span;

/// Longest variable name AWS allows after `@`.
pub const MAX_VARIABLE_NAME_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An identifier or keyword; its text is the span's.
    Word,
    /// Digits only; its text is the span's.
    Int,
    /// A number with a fraction or an exponent; its text is the span's.
    Decimal,
    /// A decoded string literal and the quote it was written with.
    Str {
        value: String,
        quote: char,
    },
    /// `@name`, without the `@`.
    Var(String),
    Eq,
    /// `<>` or `!=`.
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Dot,
    Comma,
    Colon,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub span: Span,
}

pub(crate) fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

pub(crate) fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits `source` into tokens, ending with one `Eof` token.
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer {
        src: source,
        bytes: source.as_bytes(),
        pos: 0,
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next()?;
        let done = token.kind == Tok::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn peek_at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    fn error(&self, start: usize, end: usize, message: impl Into<String>) -> ParseError {
        let mut end = end.min(self.src.len()).max(start);
        while !self.src.is_char_boundary(end) {
            end -= 1;
        }
        ParseError::at(self.src, Span::new(start, end), message)
    }

    fn next(&mut self) -> Result<Token, ParseError> {
        while let Some(b) = self.peek_at(self.pos) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c') {
                self.pos += 1;
            } else {
                break;
            }
        }
        let start = self.pos;
        let Some(b) = self.peek_at(start) else {
            return Ok(Token {
                kind: Tok::Eof,
                span: Span::new(start, start),
            });
        };
        let next = self.peek_at(start + 1);
        let (kind, len) = match b {
            b'=' => (Tok::Eq, 1),
            b'<' if next == Some(b'>') => (Tok::NotEq, 2),
            b'<' if next == Some(b'=') => (Tok::Le, 2),
            b'<' => (Tok::Lt, 1),
            b'>' if next == Some(b'=') => (Tok::Ge, 2),
            b'>' => (Tok::Gt, 1),
            b'!' if next == Some(b'=') => (Tok::NotEq, 2),
            b'+' => (Tok::Plus, 1),
            b'-' => (Tok::Minus, 1),
            b'*' => (Tok::Star, 1),
            b'/' => (Tok::Slash, 1),
            b'%' => (Tok::Percent, 1),
            b'.' => (Tok::Dot, 1),
            b',' => (Tok::Comma, 1),
            b':' => (Tok::Colon, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b'[' => (Tok::LBracket, 1),
            b']' => (Tok::RBracket, 1),
            b'{' => (Tok::LBrace, 1),
            b'}' => (Tok::RBrace, 1),
            b'\'' | b'"' => return self.string(b as char),
            b'@' => return self.variable(),
            b'0'..=b'9' => return self.number(),
            b if is_ident_start(b) => {
                let mut end = start + 1;
                while self.peek_at(end).is_some_and(is_ident_continue) {
                    end += 1;
                }
                (Tok::Word, end - start)
            }
            _ => {
                let c = self.src[start..].chars().next().unwrap_or('\u{fffd}');
                return Err(self.error(
                    start,
                    start + c.len_utf8(),
                    format!("unexpected character '{}'", c.escape_debug()),
                ));
            }
        };
        self.pos = start + len;
        Ok(Token {
            kind,
            span: Span::new(start, start + len),
        })
    }

    fn number(&mut self) -> Result<Token, ParseError> {
        let start = self.pos;
        let digits = |lexer: &Self, mut i: usize| {
            while lexer.peek_at(i).is_some_and(|b| b.is_ascii_digit()) {
                i += 1;
            }
            i
        };
        let mut end = digits(self, start);
        let mut decimal = false;
        // A fraction needs a digit after the dot: `1.x` is the field `x` of the literal 1.
        if self.peek_at(end) == Some(b'.')
            && self.peek_at(end + 1).is_some_and(|b| b.is_ascii_digit())
        {
            end = digits(self, end + 1);
            decimal = true;
        }
        if matches!(self.peek_at(end), Some(b'e' | b'E')) {
            let mut exp = end + 1;
            if matches!(self.peek_at(exp), Some(b'+' | b'-')) {
                exp += 1;
            }
            let exp_end = digits(self, exp);
            if exp_end == exp {
                return Err(self.error(start, exp, "malformed number: exponent without digits"));
            }
            end = exp_end;
            decimal = true;
        }
        if self.peek_at(end).is_some_and(is_ident_continue) {
            let mut bad = end;
            while self.peek_at(bad).is_some_and(is_ident_continue) {
                bad += 1;
            }
            return Err(self.error(
                start,
                bad,
                format!("malformed number '{}'", &self.src[start..bad]),
            ));
        }
        self.pos = end;
        Ok(Token {
            kind: if decimal { Tok::Decimal } else { Tok::Int },
            span: Span::new(start, end),
        })
    }

    fn variable(&mut self) -> Result<Token, ParseError> {
        let start = self.pos;
        let mut end = start + 1;
        while self.peek_at(end).is_some_and(is_ident_continue) {
            end += 1;
        }
        if end == start + 1 {
            return Err(self.error(start, end, "expected a variable name after '@'"));
        }
        let name = &self.src[start + 1..end];
        if name.len() > MAX_VARIABLE_NAME_LEN {
            return Err(self.error(
                start,
                end,
                format!("variable name is longer than {MAX_VARIABLE_NAME_LEN} characters"),
            ));
        }
        self.pos = end;
        Ok(Token {
            kind: Tok::Var(name.to_owned()),
            span: Span::new(start, end),
        })
    }

    fn string(&mut self, quote: char) -> Result<Token, ParseError> {
        let start = self.pos;
        let mut value = String::new();
        let mut i = start + 1;
        loop {
            let Some(c) = self.src[i..].chars().next() else {
                return Err(self.error(start, self.src.len(), "unterminated string literal"));
            };
            if c == quote {
                if self.src[i + 1..].starts_with(quote) {
                    value.push(quote);
                    i += 2;
                    continue;
                }
                i += 1;
                break;
            }
            if c != '\\' {
                value.push(c);
                i += c.len_utf8();
                continue;
            }
            let Some(escaped) = self.src[i + 1..].chars().next() else {
                return Err(self.error(start, self.src.len(), "unterminated string literal"));
            };
            let decoded = match escaped {
                '\'' | '"' | '\\' | '/' => Some(escaped),
                'b' => Some('\u{8}'),
                'f' => Some('\u{c}'),
                'n' => Some('\n'),
                'r' => Some('\r'),
                't' => Some('\t'),
                'u' => {
                    let (c, len) = self.unicode_escape(i)?;
                    value.push(c);
                    i += len;
                    continue;
                }
                _ => None,
            };
            match decoded {
                Some(d) => value.push(d),
                None => {
                    value.push('\\');
                    value.push(escaped);
                }
            }
            i += 1 + escaped.len_utf8();
        }
        self.pos = i;
        Ok(Token {
            kind: Tok::Str { value, quote },
            span: Span::new(start, i),
        })
    }

    /// Decodes `\uXXXX` (and a following `\uXXXX` low surrogate) at byte `at`; returns the
    /// character and how many bytes it took.
    fn unicode_escape(&self, at: usize) -> Result<(char, usize), ParseError> {
        let unit = |i: usize| -> Option<u32> {
            let hex = self.src.get(i + 2..i + 6)?;
            if self.src.get(i..i + 2)? != "\\u" || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(hex, 16).ok()
        };
        let bad = |len: usize| self.error(at, at + len, "invalid unicode escape");
        let first = unit(at).ok_or_else(|| bad(2))?;
        if let Some(c) = char::from_u32(first) {
            return Ok((c, 6));
        }
        // A high surrogate followed by a low one is one character.
        let low = unit(at + 6).filter(|s| (0xDC00..0xE000).contains(s));
        if let Some(low) = low.filter(|_| (0xD800..0xDC00).contains(&first)) {
            let c = 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00);
            if let Some(c) = char::from_u32(c) {
                return Ok((c, 12));
            }
        }
        Err(bad(6))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<Tok> {
        tokenize(sql).unwrap().into_iter().map(|t| t.kind).collect()
    }

    fn string(sql: &str) -> String {
        match &tokenize(sql).unwrap()[0].kind {
            Tok::Str { value, .. } => value.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn operators_and_punctuation_with_spans() {
        let tokens = tokenize("a<>b != c<=d>=e<f>g").unwrap();
        let spans: Vec<_> = tokens.iter().map(|t| (t.span.start, t.span.end)).collect();
        assert_eq!(
            spans,
            [
                (0, 1),
                (1, 3),
                (3, 4),
                (5, 7),
                (8, 9),
                (9, 11),
                (11, 12),
                (12, 14),
                (14, 15),
                (15, 16),
                (16, 17),
                (17, 18),
                (18, 19),
                (19, 19)
            ]
        );
        assert_eq!(
            kinds("+-*/%.,:()[]{}="),
            [
                Tok::Plus,
                Tok::Minus,
                Tok::Star,
                Tok::Slash,
                Tok::Percent,
                Tok::Dot,
                Tok::Comma,
                Tok::Colon,
                Tok::LParen,
                Tok::RParen,
                Tok::LBracket,
                Tok::RBracket,
                Tok::LBrace,
                Tok::RBrace,
                Tok::Eq,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn numbers_keep_their_text_and_kind() {
        let tokens = tokenize("1 12.50 5E-12 2e+3 7e9 1.x 3.").unwrap();
        let shown: Vec<_> = tokens
            .iter()
            .map(|t| {
                (
                    t.kind.clone(),
                    &"1 12.50 5E-12 2e+3 7e9 1.x 3."[t.span.start..t.span.end],
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                (Tok::Int, "1"),
                (Tok::Decimal, "12.50"),
                (Tok::Decimal, "5E-12"),
                (Tok::Decimal, "2e+3"),
                (Tok::Decimal, "7e9"),
                (Tok::Int, "1"),
                (Tok::Dot, "."),
                (Tok::Word, "x"),
                (Tok::Int, "3"),
                (Tok::Dot, "."),
                (Tok::Eof, "")
            ]
        );
    }

    #[test]
    fn malformed_numbers_are_refused() {
        let e = tokenize("SELECT 12abc").unwrap_err();
        assert_eq!(e.to_string(), "line 1:7 malformed number '12abc'");
        let e = tokenize("SELECT 1e+").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1:7 malformed number: exponent without digits"
        );
    }

    #[test]
    fn strings_in_either_quote_with_escapes() {
        assert_eq!(string("'red'"), "red");
        assert_eq!(string("\"base64\""), "base64");
        assert_eq!(string("\"yyyy G 'at' HH\""), "yyyy G 'at' HH");
        assert_eq!(string("'it''s'"), "it's");
        assert_eq!(string("\"say \"\"hi\"\"\""), "say \"hi\"");
        assert_eq!(
            string(r"'a\'b\\c\/d\n\t\r\b\f'"),
            "a'b\\c/d\n\t\r\u{8}\u{c}"
        );
        assert_eq!(string(r#""q\"q""#), "q\"q");
        assert_eq!(string(r"'\u00e9\u20AC'"), "é€");
        assert_eq!(string(r"'\uD83D\uDE00'"), "😀");
        // Unknown escapes stay as written: regular expressions keep their backslashes.
        assert_eq!(string(r"'^\d+\.\w$'"), r"^\d+\.\w$");
        assert_eq!(string("'multi\nline é'"), "multi\nline é");
        assert_eq!(string("''"), "");
    }

    #[test]
    fn bad_strings_are_refused_at_their_start() {
        let e = tokenize("SELECT 'abc").unwrap_err();
        assert_eq!(e.to_string(), "line 1:7 unterminated string literal");
        let e = tokenize("SELECT 'ab\\").unwrap_err();
        assert_eq!(e.to_string(), "line 1:7 unterminated string literal");
        let e = tokenize(r"SELECT 'a\u12G4'").unwrap_err();
        assert_eq!(e.to_string(), "line 1:9 invalid unicode escape");
        let e = tokenize(r"SELECT 'a\uD800x'").unwrap_err();
        assert_eq!(e.to_string(), "line 1:9 invalid unicode escape");
    }

    #[test]
    fn variables_and_their_limits() {
        assert_eq!(kinds("@temp_1"), [Tok::Var("temp_1".into()), Tok::Eof]);
        let long = format!("@{}", "v".repeat(64));
        assert!(tokenize(&long).is_ok());
        let too_long = format!("SET @{}", "v".repeat(65));
        assert_eq!(
            tokenize(&too_long).unwrap_err().to_string(),
            "line 1:4 variable name is longer than 64 characters"
        );
        assert_eq!(
            tokenize("SET @ = 1").unwrap_err().to_string(),
            "line 1:4 expected a variable name after '@'"
        );
    }

    #[test]
    fn unexpected_characters_are_named() {
        assert_eq!(
            tokenize("SELECT * FROM 'a';").unwrap_err().to_string(),
            "line 1:17 unexpected character ';'"
        );
        assert_eq!(
            tokenize("SELECT (t – 32)").unwrap_err().to_string(),
            "line 1:10 unexpected character '–'"
        );
        assert_eq!(
            tokenize("SELECT `a`").unwrap_err().to_string(),
            "line 1:7 unexpected character '`'"
        );
    }
}
