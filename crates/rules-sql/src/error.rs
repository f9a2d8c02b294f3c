//! The parse error: what AWS returns as `SqlParseException`, with the position of the problem.

use crate::span::{Span, line_column};

/// Why a SQL statement (or a substitution-template expression) was refused.
///
/// `Display` gives the text for `SqlParseException`'s `message`: `line {line}:{column} {message}`,
/// ANTLR's layout (line from 1, column in characters from 0), e.g.
/// `line 1:7 expected an expression, found 'FROM'`. \[VERIFY\] AWS's exact wording is not
/// documented; the layout is pinned by tests so a change is deliberate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}:{column} {message}")]
pub struct ParseError {
    /// What is wrong, lowercase, without the position.
    pub message: String,
    /// The bytes of the SQL text the problem is at (empty at the end of the input).
    pub span: Span,
    /// 1-based line of `span.start`.
    pub line: usize,
    /// 0-based column, in characters, of `span.start` within its line.
    pub column: usize,
}

impl ParseError {
    /// An error at `span` of `source`. Public so later stages (the binder) can report problems
    /// they find in a parsed statement in the same form.
    pub fn at(source: &str, span: Span, message: impl Into<String>) -> ParseError {
        let (line, column) = line_column(source, span.start);
        ParseError {
            message: message.into(),
            span,
            line,
            column,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_line_colon_column_then_message() {
        let e = ParseError::at(
            "SELECT\n  FROM 'a'",
            Span::new(9, 13),
            "expected an expression, found 'FROM'",
        );
        assert_eq!((e.line, e.column), (2, 2));
        assert_eq!(
            e.to_string(),
            "line 2:2 expected an expression, found 'FROM'"
        );
    }
}
