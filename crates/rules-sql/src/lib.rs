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
//! What the grammar accepts and where it departs from, or guesses at, AWS is documented on the
//! [`parser`](crate::parse) and lexer modules; points marked [VERIFY] await a conformance test
//! against AWS.

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
