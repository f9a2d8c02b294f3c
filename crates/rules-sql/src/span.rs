//! Source positions: byte spans into the SQL text and the line/column AWS's messages use.

use std::fmt;

/// A half-open byte range `start..end` into the SQL text a node was parsed from.
///
/// Spans locate errors that later stages (binder, evaluator) find; they never take part in what
/// a statement means, so compare ASTs with [`crate::Statement::strip_spans`] when positions do not
/// matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// The bytes `start..end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The span from the start of `self` to the end of `other`.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start, other.end.max(self.start))
    }

    /// The text this span covers in `source`, or `""` if it does not fall on character
    /// boundaries of `source` (a span from another text).
    pub fn text(self, source: &str) -> &str {
        source.get(self.start..self.end).unwrap_or("")
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// The line (1-based) and column (0-based, in characters) of byte `offset` in `source`, the way
/// ANTLR-style parsers (and AWS's `SqlParseException` messages) count them. Offsets past the end
/// or inside a character are clamped to the nearest preceding character boundary.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count();
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_lines_from_one_and_characters_from_zero() {
        let sql = "SELECT a\nFROM 'é/b'\n  WHERE";
        assert_eq!(line_column(sql, 0), (1, 0));
        assert_eq!(line_column(sql, 7), (1, 7));
        assert_eq!(line_column(sql, 9), (2, 0));
        // 'é' is two bytes but one column.
        let where_at = sql.find("WHERE").unwrap();
        assert_eq!(line_column(sql, where_at), (3, 2));
        let slash = sql.find('/').unwrap();
        assert_eq!(line_column(sql, slash), (2, 7));
        // Inside the two bytes of 'é': clamped back to its start.
        let e = sql.find('é').unwrap();
        assert_eq!(line_column(sql, e + 1), (2, 6));
        assert_eq!(line_column(sql, 10_000), (3, 7));
    }

    #[test]
    fn span_text_and_join() {
        let s = Span::new(2, 4).to(Span::new(6, 9));
        assert_eq!(s, Span::new(2, 9));
        assert_eq!(s.text("0123456789"), "2345678");
        assert_eq!(Span::new(1, 2).text("é"), "");
    }
}
