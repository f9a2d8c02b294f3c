//! AWS IoT SQL as text: the lexer, the parser and the AST (with source spans and a `Display`
//! that prints SQL the parser reads back), bounded in depth and length, for each SQL version AWS
//! offers. Pure and synchronous; binding names to functions and evaluating live in the `rules`
//! crate.
//!
//! ```
//! use ferrite_rules_sql::{parse, ExprKind, Select, SqlVersion};
//!
//! let stmt = parse(
//!     "SELECT temp, topic(2) AS id FROM 'sensors/+/data' WHERE temp > 30",
//!     SqlVersion::V2016_03_23,
//! )
//! .unwrap();
//! assert_eq!(stmt.from.as_ref().unwrap().topic_filter, "sensors/+/data");
//! let Select::Items(items) = &stmt.select else { unreachable!() };
//! assert!(matches!(&items[1].expr.kind, ExprKind::Call { name, .. } if name.name == "topic"));
//! // Display prints SQL that parses back to the same statement.
//! assert_eq!(
//!     stmt.to_string(),
//!     "SELECT temp, topic(2) AS id FROM 'sensors/+/data' WHERE temp > 30"
//! );
//! ```
//!
//! # The grammar
//!
//! ```text
//! statement := [SET @v = expr {, @v = expr}] SELECT select [FROM 'filter'] [WHERE expr]
//! select    := VALUE expr | item {, item}          item := (* | expr) [AS name {. name}]
//! expr      := expr OR expr | expr AND expr | NOT expr
//!            | expr (= | <> | != | < | <= | > | >= | IN) expr
//!            | expr (+ | -) expr | expr (* | / | %) expr | - expr
//!            | primary {. name | [ expr ]}
//! primary   := number | 'string' | "string" | TRUE | FALSE | NULL | name | @v
//!            | name ( [* | expr] {, * | expr} ) | cast ( expr AS type )
//!            | CASE [expr] WHEN expr THEN expr {WHEN ...} [ELSE expr] END
//!            | { 'key' : expr , ... } | [ expr , ... ] | ( expr )
//!            | ( SELECT select FROM expr [WHERE expr] )
//! ```
//!
//! Precedence loosest first: `OR`, `AND`, `NOT`, comparisons and `IN`, `+ -`, `* / %`, unary
//! `-`, then `.name`/`[index]`; binary operators associate to the left. Keywords and function
//! names are case-insensitive, field names case-sensitive. Choices where AWS documents nothing
//! (each marked \[VERIFY\] at its definition, pinned by tests):
//!
//! - Reserved words (`SELECT FROM WHERE AS AND OR NOT IN CASE WHEN THEN ELSE END TRUE FALSE
//!   NULL`) cannot name a field or function but may follow `.` or `AS`. `VALUE` is a keyword
//!   only right after `SELECT` and before an expression; `SET` only first; `cast` only before
//!   `(`. Names are `[A-Za-z_][A-Za-z0-9_]*`; there are no quoted identifiers (AWS says to use
//!   `get(obj, 'my-key')`) and no comments.
//! - Strings take either quote; JSON escapes decode, a doubled quote is one quote, any other
//!   backslash stays as written. The FROM filter must be single-quoted.
//! - Bracket indexing `a[0]` and `IN` are accepted in every version; object/array literals,
//!   nested SELECTs and casts to `Decimal`/`Bool` need 2016-03-23. `CASE WHEN cond` (no
//!   operand) is accepted as an extension.
//! - Limits: [`MAX_SQL_LEN`] bytes, [`MAX_DEPTH`] levels of nesting (counting operator chains,
//!   so the tree itself is never deeper), [`MAX_VARIABLE_NAME_LEN`] characters per variable.
//! - Errors read `line L:C message`, as [`ParseError`] describes.

#![warn(missing_docs)]

mod ast;
mod display;
mod error;
pub mod fuzzing;
mod lexer;
mod parser;
mod span;
mod version;

#[cfg(test)]
mod parser_tests;
#[cfg(test)]
mod roundtrip_tests;

pub use ast::{
    Alias, BinaryOp, CastKind, CastType, Expr, ExprKind, FromClause, Ident, Literal, ObjectField,
    Segment, Select, SelectItem, SetVar, Statement, Subquery, UnaryOp, When,
};
pub use error::ParseError;
pub use lexer::MAX_VARIABLE_NAME_LEN;
pub use parser::{MAX_DEPTH, MAX_SQL_LEN, parse, parse_expression};
pub use span::{Span, line_column};
pub use version::SqlVersion;
