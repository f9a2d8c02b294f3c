//! The AWS IoT rules engine's evaluation core: the SQL value model ([`Value`]), AWS's implicit
//! conversions and `cast` ([`convert`]), the operators ([`ops`]) and the whole function
//! library with its registry ([`functions`]), plus reading payloads and writing results as
//! AWS does ([`json`]).
//!
//! Everything here is pure and synchronous. The SQL text itself (lexer, parser, AST) is
//! `ferrite-rules-sql`; binding that AST to these values and functions, and running actions,
//! builds on top of this.

mod compile;
pub mod convert;
mod decimal;
mod eval;
pub mod functions;
pub mod fuzzing;
pub mod json;
pub mod ops;
mod plan;
mod rule;
mod value;

pub use convert::{CastType, cast};
pub use decimal::{Decimal, Rounding};
pub use ferrite_rules_sql::ParseError;
pub use ferrite_rules_sql::SqlVersion;
pub use functions::{
    FnContext, FnError, FunctionDef, FunctionRef, MessageContext, resolve, topic_level,
};
pub use rule::{CompiledSql, Evaluation, Selected, Template, compile};
pub use value::{Object, Value, ValueType};

/// Shorthands the crate's unit tests share.
#[cfg(test)]
mod test_values {
    use crate::{Decimal, SqlVersion, Value};

    pub const V1: SqlVersion = SqlVersion::V2015_10_08;
    pub const V2: SqlVersion = SqlVersion::V2016_03_23;

    /// The Decimal written `s`.
    pub fn dv(s: &str) -> Value {
        Value::Decimal(Decimal::parse(s).unwrap())
    }
}
