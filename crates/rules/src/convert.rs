//! AWS IoT SQL's implicit conversions (AWS "Data types → Conversions"), applied when a function
//! or operator gets a value of the wrong type, and the explicit `cast(value AS type)`.
//!
//! Conversions return `None` where AWS's result is `Undefined`. AWS's tables say `Null`
//! converts to `Null` for numbers, but every function and operator table that takes numbers
//! answers `Undefined` for a `Null` argument, so callers that need the distinction check
//! `Value::Null` themselves.
//!
//! "Rounded down" is how AWS's tables describe Decimal → Int for `cast`, the bitwise functions,
//! `lpad`/`rpad`, `substring`, `chr` and `trunc`'s digits. We read it as Java's
//! `RoundingMode.DOWN`, toward zero (`-1.5` → `-1`), the reading that agrees with every AWS
//! example; `floor` is the function that rounds toward negative infinity.

use std::borrow::Cow;

use ferrite_rules_sql::SqlVersion;

use crate::decimal::{Decimal, Rounding};
use crate::json::to_json_string;
use crate::value::Value;

/// A numeric operand after conversion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i64),
    Dec(Decimal),
}

impl Num {
    /// The number as a Decimal (an Int exactly).
    pub fn to_decimal(self) -> Decimal {
        match self {
            Num::Int(i) => Decimal::from_i64(i),
            Num::Dec(d) => d,
        }
    }

    /// Sign, coefficient and exponent, as [`Decimal::parts`].
    pub fn parts(self) -> (bool, u128, i32) {
        match self {
            Num::Int(i) => (i < 0, u128::from(i.unsigned_abs()), 0),
            Num::Dec(d) => d.parts(),
        }
    }

    /// The nearest double, for the functions AWS computes in double precision.
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Dec(d) => d.to_f64(),
        }
    }

    /// The number as a value, typed as `version` types results.
    pub fn into_value(self, version: SqlVersion) -> Value {
        match self {
            Num::Int(i) => Value::Int(i),
            Num::Dec(d) => Value::decimal(d, version),
        }
    }
}

/// Parses a string the way AWS converts strings to Decimal: only text matching
/// `^-?\d+(\.\d+)?((?i)E-?\d+)?$` is a number (no `+`, no `.5`, no `5.`, no spaces), read to
/// 34 digits; a magnitude beyond 9.999…E999 is not a number either.
pub fn parse_decimal(s: &str) -> Option<Decimal> {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    Decimal::parse(s)
}

/// → Decimal: Int and Decimal as they are, numeric strings parsed; everything else `None`.
pub fn to_decimal(v: &Value) -> Option<Decimal> {
    to_number(v).map(Num::to_decimal)
}

/// → the nearest double, for the functions AWS computes in double precision ("Decimal
/// arguments are rounded to double precision before function application").
pub fn to_double(v: &Value) -> Option<f64> {
    to_number(v).map(Num::as_f64)
}

/// → a number, keeping Int apart from Decimal: strings become Decimals (AWS's function tables
/// give a Decimal result for a numeric string argument).
pub fn to_number(v: &Value) -> Option<Num> {
    match v {
        Value::Int(i) => Some(Num::Int(*i)),
        Value::Decimal(d) => Some(Num::Dec(*d)),
        Value::String(s) => parse_decimal(s).map(Num::Dec),
        _ => None,
    }
}

/// → Int the implicit way: Decimal to the nearest Int (halves away from zero), a numeric
/// string parsed and truncated.
pub fn to_int_nearest(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Decimal(d) => d.to_i64(Rounding::HalfAway),
        Value::String(s) => string_to_int(s),
        _ => None,
    }
}

/// → Int "rounded down" (toward zero) as the function tables and `cast` do.
pub fn to_int_down(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Decimal(d) => d.to_i64(Rounding::Down),
        Value::String(s) => string_to_int(s),
        _ => None,
    }
}

fn string_to_int(s: &str) -> Option<i64> {
    parse_decimal(s).and_then(|d| d.to_i64(Rounding::Down))
}

/// → Boolean: Booleans, and the strings `"true"`/`"false"` in any case. Numbers need `cast`.
pub fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => parse_bool(s),
        _ => None,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// → String: numbers in their text form, Booleans lowercase, arrays and objects as compact
/// JSON, raw bytes when they are UTF-8; `Null` and `Undefined` have no string form.
pub fn to_string(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Int(i) => Some(Cow::Owned(i.to_string())),
        Value::Decimal(d) => Some(Cow::Owned(d.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Array(_) | Value::Object(_) => Some(Cow::Owned(to_json_string(v))),
        Value::Bytes(b) => std::str::from_utf8(b).ok().map(Cow::Borrowed),
        Value::Null | Value::Undefined => None,
    }
}

/// The target of `cast(value AS type)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CastType {
    /// `String`, `Nvarchar`, `Text`, `Ntext`, `varchar`.
    String,
    /// `Int`, `Integer`.
    Int,
    /// `Double`: a Decimal with double precision.
    Double,
    /// `Decimal` (2016-03-23 and later).
    Decimal,
    /// `Bool`, `Boolean` (2016-03-23 and later).
    Bool,
}

impl CastType {
    /// The type a `cast` keyword names in `version` (case-insensitive); `None` if the version
    /// does not have it.
    pub fn parse(keyword: &str, version: SqlVersion) -> Option<CastType> {
        let k = keyword.to_ascii_lowercase();
        let t = match k.as_str() {
            "string" | "nvarchar" | "text" | "ntext" | "varchar" => CastType::String,
            "int" | "integer" => CastType::Int,
            "double" => CastType::Double,
            "decimal" => CastType::Decimal,
            "bool" | "boolean" => CastType::Bool,
            _ => return None,
        };
        let needs_2016 = matches!(t, CastType::Decimal | CastType::Bool);
        (!needs_2016 || version.at_least_2016()).then_some(t)
    }
}

/// `cast(value AS to)`. Unlike the implicit conversions, Booleans cast to numbers (1/0) and
/// numbers to Booleans (0 is false), Decimal → Int rounds toward zero, and `Null` gives
/// `Undefined`. `Decimal` keeps 34 digits; `Double` rounds to double precision.
pub fn cast(v: &Value, to: CastType, version: SqlVersion) -> Value {
    match to {
        CastType::String => match v {
            Value::Null | Value::Undefined => Value::Undefined,
            // AWS's table repeats the Boolean row for String by mistake; a string casts to itself.
            Value::String(_) => v.clone(),
            other => to_string(other).map_or(Value::Undefined, |s| Value::string(s.as_ref())),
        },
        // Beyond an i64, the whole Decimal: Ints that large are held that way.
        CastType::Int => match v {
            Value::Bool(b) => Value::Int(i64::from(*b)),
            other => match to_number(other) {
                Some(Num::Int(i)) => Value::Int(i),
                Some(Num::Dec(d)) => d.to_i64(Rounding::Down).map_or_else(
                    || Value::Decimal(d.round_to_integer(Rounding::Down)),
                    Value::Int,
                ),
                None => Value::Undefined,
            },
        },
        // A double, read back as Java's `BigDecimal.valueOf` does (`cast(3 AS Double)` is 3.0).
        CastType::Double => match v {
            Value::Bool(b) => Value::double(if *b { 1.0 } else { 0.0 }, version),
            other => to_double(other).map_or(Value::Undefined, |d| Value::double(d, version)),
        },
        CastType::Decimal => match v {
            Value::Bool(b) => Value::decimal(Decimal::from_i64(i64::from(*b)), version),
            other => to_decimal(other).map_or(Value::Undefined, |d| Value::decimal(d, version)),
        },
        CastType::Bool => match v {
            Value::Int(i) => Value::Bool(*i != 0),
            Value::Decimal(d) => Value::Bool(!d.is_zero()),
            other => to_bool(other).map_or(Value::Undefined, Value::Bool),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_values::{V1, V2, dv};

    #[test]
    fn decimal_strings_follow_aws_pattern() {
        for (s, want) in [
            ("0", Some(0.0)),
            ("-1.2", Some(-1.2)),
            ("5E-12", Some(5e-12)),
            ("5e3", Some(5000.0)),
            ("+1", None),
            (".5", None),
            ("5.", None),
            (" 1", None),
            ("1e", None),
            ("1.5e+3", None),
            ("abc", None),
            ("", None),
            ("-", None),
        ] {
            assert_eq!(parse_decimal(s).map(Decimal::to_f64), want, "{s:?}");
        }
    }

    #[test]
    fn implicit_int_rounds_decimals_and_truncates_strings() {
        assert_eq!(to_int_nearest(&dv("2.5")), Some(3));
        assert_eq!(to_int_nearest(&dv("-2.5")), Some(-3));
        assert_eq!(to_int_nearest(&Value::from("2.7")), Some(2));
        assert_eq!(to_int_nearest(&Value::from("-2.7")), Some(-2));
        assert_eq!(
            to_int_nearest(&Value::from("9007199254740993")),
            Some(9007199254740993)
        );
        assert_eq!(to_int_nearest(&Value::Bool(true)), None);
        assert_eq!(to_int_nearest(&Value::Null), None);
        assert_eq!(to_int_down(&dv("-1.5")), Some(-1));
        assert_eq!(to_int_down(&dv("1e300")), None);
    }

    #[test]
    fn booleans_come_only_from_booleans_and_their_strings() {
        assert_eq!(to_bool(&Value::from("TrUe")), Some(true));
        assert_eq!(to_bool(&Value::from("FALSE")), Some(false));
        assert_eq!(to_bool(&Value::from("yes")), None);
        assert_eq!(to_bool(&Value::Int(1)), None);
    }

    #[test]
    fn strings_of_every_type() {
        let s = |v: Value| to_string(&v).map(|s| s.into_owned());
        assert_eq!(s(Value::Int(-5)), Some("-5".into()));
        assert_eq!(s(dv("2.5")), Some("2.5".into()));
        assert_eq!(s(dv("1e21")), Some("1E+21".into()));
        assert_eq!(s(dv("21.30")), Some("21.30".into()));
        assert_eq!(s(Value::Bool(false)), Some("false".into()));
        assert_eq!(
            s(Value::array(vec!["a".into(), Value::Int(1), Value::Null])),
            Some(r#"["a",1,null]"#.into())
        );
        assert_eq!(s(Value::Null), None);
        assert_eq!(s(Value::Undefined), None);
    }

    #[test]
    fn cast_keywords_per_version() {
        assert_eq!(CastType::parse("NVARCHAR", V1), Some(CastType::String));
        assert_eq!(CastType::parse("Integer", V1), Some(CastType::Int));
        assert_eq!(CastType::parse("double", V1), Some(CastType::Double));
        assert_eq!(CastType::parse("Decimal", V1), None);
        assert_eq!(CastType::parse("Boolean", V1), None);
        assert_eq!(CastType::parse("Decimal", V2), Some(CastType::Decimal));
        assert_eq!(CastType::parse("bool", V2), Some(CastType::Bool));
        assert_eq!(CastType::parse("float", V2), None);
    }

    #[test]
    fn cast_differs_from_implicit_conversion() {
        assert_eq!(cast(&Value::Bool(true), CastType::Int, V1), Value::Int(1));
        assert_eq!(cast(&Value::Bool(false), CastType::Double, V1), dv("0.0"));
        assert_eq!(cast(&Value::Int(0), CastType::Bool, V2), Value::Bool(false));
        assert_eq!(cast(&dv("0.5"), CastType::Bool, V2), Value::Bool(true));
        assert_eq!(cast(&dv("-2.7"), CastType::Int, V1), Value::Int(-2));
        assert_eq!(cast(&Value::Null, CastType::Int, V1), Value::Undefined);
        assert_eq!(cast(&Value::Null, CastType::String, V1), Value::Undefined);
        assert_eq!(cast(&Value::Int(3), CastType::Decimal, V1), dv("3.0"));
        assert_eq!(cast(&Value::Int(3), CastType::Decimal, V2), Value::Int(3));
        assert_eq!(cast(&dv("10.0"), CastType::Decimal, V2), Value::Int(10));
        assert_eq!(
            cast(&Value::from("5E-12"), CastType::Double, V1),
            dv("5e-12")
        );
        assert_eq!(cast(&Value::from("x"), CastType::Int, V1), Value::Undefined);
        assert_eq!(cast(&Value::Int(7), CastType::String, V1), Value::from("7"));
        assert_eq!(
            cast(&Value::from("yes"), CastType::String, V1),
            Value::from("yes")
        );
        assert_eq!(
            cast(&Value::object([("a", Value::Int(1))]), CastType::String, V1),
            Value::from(r#"{"a":1}"#)
        );
        assert_eq!(
            cast(&Value::array(vec![]), CastType::Int, V1),
            Value::Undefined
        );
    }
}
