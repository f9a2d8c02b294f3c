//! The body of the `rules_sql` fuzz target, shared with the stable-toolchain corpus test so
//! both exercise exactly the same checks.

use crate::{Expr, ParseError, SqlVersion, Statement, line_column, parse, parse_expression};

const VERSIONS: [SqlVersion; 3] = [
    SqlVersion::V2015_10_08,
    SqlVersion::V2016_03_23,
    SqlVersion::Beta,
];

/// Parses `data` (when it is UTF-8) as a statement and as a template expression under every SQL
/// version and checks the invariants: no panic; an error points inside the input with a
/// consistent line and column; an accepted statement prints as SQL that parses back to the
/// same tree and prints the same again; what 2015-10-08 accepts, later versions accept alike.
/// Returns how many (version, statement-or-expression) parses succeeded.
///
/// # Panics
/// On any violated invariant; that is the point of a fuzz body.
pub fn check_parse_roundtrip(data: &[u8]) -> usize {
    let Ok(sql) = std::str::from_utf8(data) else {
        return 0;
    };
    let mut accepted = 0;
    let mut first_statement: Option<Statement> = None;
    for version in VERSIONS {
        match parse(sql, version) {
            Ok(statement) => {
                check_statement(&statement, version);
                let mut stripped = statement;
                stripped.strip_spans();
                match &first_statement {
                    // Versions only add syntax: the same text means the same tree.
                    Some(earlier) => assert_eq!(earlier, &stripped, "versions disagree on {sql:?}"),
                    None => first_statement = Some(stripped),
                }
                accepted += 1;
            }
            Err(error) => {
                check_error(sql, &error);
                assert!(
                    first_statement.is_none(),
                    "{version} refuses what an earlier version accepts: {sql:?}: {error}"
                );
            }
        }
        match parse_expression(sql, version) {
            Ok(expr) => {
                check_expression(&expr, version);
                accepted += 1;
            }
            Err(error) => check_error(sql, &error),
        }
    }
    accepted
}

fn check_statement(statement: &Statement, version: SqlVersion) {
    let printed = statement.to_string();
    let mut reparsed = parse(&printed, version)
        .unwrap_or_else(|e| panic!("printed statement {printed:?} does not parse: {e}"));
    assert_eq!(
        reparsed.to_string(),
        printed,
        "printing is not stable for {printed:?}"
    );
    let mut original = statement.clone();
    original.strip_spans();
    reparsed.strip_spans();
    assert_eq!(original, reparsed, "{printed:?} parses to another tree");
}

fn check_expression(expr: &Expr, version: SqlVersion) {
    let printed = expr.to_string();
    let mut reparsed = parse_expression(&printed, version)
        .unwrap_or_else(|e| panic!("printed expression {printed:?} does not parse: {e}"));
    assert_eq!(reparsed.to_string(), printed);
    let mut original = expr.clone();
    original.strip_spans();
    reparsed.strip_spans();
    assert_eq!(original, reparsed, "{printed:?} parses to another tree");
}

fn check_error(sql: &str, error: &ParseError) {
    let span = error.span;
    assert!(
        span.start <= span.end && span.end <= sql.len(),
        "error span {span} outside the input: {error}"
    );
    assert!(
        sql.is_char_boundary(span.start) && sql.is_char_boundary(span.end),
        "error span {span} splits a character: {error}"
    );
    assert_eq!(
        (error.line, error.column),
        line_column(sql, span.start),
        "line/column disagree with the span: {error}"
    );
    assert!(!error.message.is_empty());
}
