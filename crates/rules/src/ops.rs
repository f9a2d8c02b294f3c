//! AWS IoT SQL operators with AWS's coercions and `Undefined` rules (AWS "Operators").
//!
//! Every operator is total: a combination AWS's tables do not give a result for is
//! `Undefined`. Pinned where AWS is silent:
//! - Int `/` Int truncates toward zero (`7 / 2` is `3`, `-7 / 2` is `-3`), `%` takes the sign of
//!   the dividend, as Java's integer arithmetic does.
//! - Division or remainder by zero (Int or Decimal) is `Undefined`.
//! - Int arithmetic that overflows `i64` gives the (34-digit) Decimal result instead of
//!   wrapping.
//! - Decimal arithmetic is exact to 34 digits, rounded half-even (Java's
//!   `MathContext.DECIMAL128`): `0.1 + 0.2` is `0.3`. A result beyond 9.999…E999 is
//!   `Undefined`, as is a remainder whose whole quotient has more than 34 digits.
//! - `AND`/`OR` are not three-valued: an operand that is neither a Boolean nor a `"true"`/
//!   `"false"` string makes the result `Undefined` even when the other operand would decide it,
//!   so an evaluator must evaluate both sides.
//! - `IN` and `CONTAINS` compare elements with `=`; a right-hand side of the wrong shape is
//!   `Undefined`.

use std::cmp::Ordering;

use ferrite_rules_sql::SqlVersion;

use crate::convert::{Num, to_bool, to_number, to_string};
use crate::decimal::{Decimal, Rounding, compare_parts};
use crate::value::Value;

/// `a AND b`.
pub fn and(a: &Value, b: &Value) -> Value {
    match (to_bool(a), to_bool(b)) {
        (Some(x), Some(y)) => Value::Bool(x && y),
        _ => Value::Undefined,
    }
}

/// `a OR b`.
pub fn or(a: &Value, b: &Value) -> Value {
    match (to_bool(a), to_bool(b)) {
        (Some(x), Some(y)) => Value::Bool(x || y),
        _ => Value::Undefined,
    }
}

/// `NOT a`.
pub fn not(a: &Value) -> Value {
    to_bool(a).map_or(Value::Undefined, |x| Value::Bool(!x))
}

/// Whether a WHERE result lets the actions run: only a Boolean `true` does.
pub fn is_true(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

/// Exact numeric ordering of two operands converted to numbers; `None` when either side is
/// not numeric.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (to_number(a)?, to_number(b)?) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (x, y) => Some(compare_parts(x.parts(), y.parts())),
    }
}

fn ordered(a: &Value, b: &Value, test: fn(Ordering) -> bool) -> Value {
    compare(a, b).map_or(Value::Undefined, |o| Value::Bool(test(o)))
}

/// `a < b`: both sides converted to numbers.
pub fn lt(a: &Value, b: &Value) -> Value {
    ordered(a, b, Ordering::is_lt)
}

/// `a <= b`.
pub fn le(a: &Value, b: &Value) -> Value {
    ordered(a, b, Ordering::is_le)
}

/// `a > b`.
pub fn gt(a: &Value, b: &Value) -> Value {
    ordered(a, b, Ordering::is_gt)
}

/// `a >= b`.
pub fn ge(a: &Value, b: &Value) -> Value {
    ordered(a, b, Ordering::is_ge)
}

/// `a = b`: no conversion between types (the string `"5"` is not the Int `5`), Int and Decimal
/// compare numerically, arrays item by item in order, objects member by member in any order;
/// `Undefined` on either side is `Undefined`, other mismatched types are `false`.
pub fn eq(a: &Value, b: &Value) -> Value {
    if a.is_undefined() || b.is_undefined() {
        return Value::Undefined;
    }
    Value::Bool(equal(a, b))
}

/// `a <> b`: the negation of `=` (`Null <> Null` is `false`, mismatched types are `true`).
pub fn ne(a: &Value, b: &Value) -> Value {
    match eq(a, b) {
        Value::Bool(x) => Value::Bool(!x),
        other => other,
    }
}

/// The equality `=`, `IN`, `CONTAINS` and `CASE` use, as a plain Boolean.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Int(x), Value::Decimal(y)) | (Value::Decimal(y), Value::Int(x)) => {
            compare_parts(Num::Int(*x).parts(), y.parts()).is_eq()
        }
        (Value::Decimal(x), Value::Decimal(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        _ => false,
    }
}

/// `a + b`: string concatenation when either side is a String (the other converted to a
/// string), otherwise numeric addition of Ints and Decimals; anything else `Undefined`.
pub fn add(a: &Value, b: &Value, version: SqlVersion) -> Value {
    if matches!(a, Value::String(_)) || matches!(b, Value::String(_)) {
        return match (to_string(a), to_string(b)) {
            (Some(x), Some(y)) => {
                let mut s = String::with_capacity(x.len() + y.len());
                s.push_str(&x);
                s.push_str(&y);
                Value::from(s)
            }
            _ => Value::Undefined,
        };
    }
    match (a, b) {
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            int_or_dec(a, b, version, i64::checked_add, Decimal::checked_add)
        }
        _ => Value::Undefined,
    }
}

/// `a - b`: Int − Int is an Int; Decimals and numeric strings give a Decimal.
pub fn sub(a: &Value, b: &Value, version: SqlVersion) -> Value {
    int_or_dec(a, b, version, i64::checked_sub, Decimal::checked_sub)
}

/// `a * b`.
pub fn mul(a: &Value, b: &Value, version: SqlVersion) -> Value {
    int_or_dec(a, b, version, i64::checked_mul, Decimal::checked_mul)
}

/// `a / b`: Int / Int truncates toward zero, and so does a whole Decimal too large for an
/// `i64` under 2016-03-23 (where whole numbers are Ints) with an Int or another such one;
/// otherwise 34 digits. By zero is `Undefined`.
pub fn div(a: &Value, b: &Value, version: SqlVersion) -> Value {
    let (Some(x), Some(y)) = (to_number(a), to_number(b)) else {
        return Value::Undefined;
    };
    let big_int = |v: &Value| {
        matches!(v, Value::Decimal(d) if version.at_least_2016()
            && d.is_integer()
            && d.to_i64(Rounding::Down).is_none())
    };
    let int = |v: &Value| matches!(v, Value::Int(_)) || big_int(v);
    if (big_int(a) || big_int(b)) && int(a) && int(b) {
        return numeric(x, y, version, Decimal::div_integer);
    }
    numbers(x, y, version, i64::checked_div, Decimal::checked_div)
}

/// `a % b` (also `mod` and `remainder`): the sign of the dividend; by zero is `Undefined`.
pub fn rem(a: &Value, b: &Value, version: SqlVersion) -> Value {
    int_or_dec(a, b, version, i64::checked_rem, Decimal::checked_rem)
}

/// Unary `-a`.
pub fn neg(a: &Value, version: SqlVersion) -> Value {
    match to_number(a) {
        Some(Num::Int(i)) => i.checked_neg().map_or_else(
            || Value::decimal(Decimal::from_i64(i).negate(), version),
            Value::Int,
        ),
        Some(Num::Dec(d)) => Value::decimal(d.negate(), version),
        None => Value::Undefined,
    }
}

type DecOp = fn(Decimal, Decimal) -> Option<Decimal>;

fn int_or_dec(
    a: &Value,
    b: &Value,
    version: SqlVersion,
    int: fn(i64, i64) -> Option<i64>,
    dec: DecOp,
) -> Value {
    match (to_number(a), to_number(b)) {
        (Some(x), Some(y)) => numbers(x, y, version, int, dec),
        _ => Value::Undefined,
    }
}

/// Int ∘ Int is an Int unless it overflows (or divides by zero, which the Decimal operation
/// also refuses); anything else is exact decimal arithmetic.
fn numbers(
    x: Num,
    y: Num,
    version: SqlVersion,
    int: fn(i64, i64) -> Option<i64>,
    dec: DecOp,
) -> Value {
    if let (Num::Int(i), Num::Int(j)) = (x, y)
        && let Some(r) = int(i, j)
    {
        return Value::Int(r);
    }
    numeric(x, y, version, dec)
}

fn numeric(x: Num, y: Num, version: SqlVersion, dec: DecOp) -> Value {
    dec(x.to_decimal(), y.to_decimal()).map_or(Value::Undefined, |d| Value::decimal(d, version))
}

/// `needle IN haystack`: whether an element of the array `haystack` equals `needle`.
pub fn in_array(needle: &Value, haystack: &Value) -> Value {
    match haystack {
        Value::Array(items) if !needle.is_undefined() => {
            Value::Bool(items.iter().any(|item| equal(needle, item)))
        }
        _ => Value::Undefined,
    }
}

/// `container CONTAINS item`: an array holding an element equal to `item`, or a string holding
/// `item` (converted to a string) as a substring.
pub fn contains(container: &Value, item: &Value) -> Value {
    match container {
        Value::Array(_) => in_array(item, container),
        Value::String(s) => to_string(item).map_or(Value::Undefined, |sub| {
            Value::Bool(s.contains(sub.as_ref()))
        }),
        _ => Value::Undefined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_values::{V1, V2, dv};
    const U: Value = Value::Undefined;

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    #[test]
    fn logic_accepts_boolean_strings_only() {
        assert_eq!(and(&Value::Bool(true), &s("TRUE")), Value::Bool(true));
        assert_eq!(or(&Value::Bool(false), &s("false")), Value::Bool(false));
        assert_eq!(and(&Value::Bool(false), &U), U);
        assert_eq!(or(&Value::Bool(true), &Value::Int(1)), U);
        assert_eq!(not(&s("False")), Value::Bool(true));
        assert_eq!(not(&Value::Null), U);
    }

    #[test]
    fn comparisons_convert_to_numbers() {
        assert_eq!(gt(&s("10"), &Value::Int(9)), Value::Bool(true));
        assert_eq!(lt(&dv("1.5"), &Value::Int(2)), Value::Bool(true));
        assert_eq!(ge(&Value::Int(2), &dv("2.0")), Value::Bool(true));
        assert_eq!(le(&s("abc"), &Value::Int(1)), U);
        assert_eq!(gt(&s("b"), &s("a")), U);
        assert_eq!(gt(&Value::Null, &Value::Int(1)), U);
        assert_eq!(
            lt(&Value::Int(i64::MAX - 1), &Value::Int(i64::MAX)),
            Value::Bool(true)
        );
    }

    #[test]
    fn equality_does_not_convert() {
        assert_eq!(eq(&Value::Int(5), &dv("5.0")), Value::Bool(true));
        assert_eq!(eq(&s("5"), &Value::Int(5)), Value::Bool(false));
        assert_eq!(eq(&Value::Null, &Value::Null), Value::Bool(true));
        assert_eq!(ne(&Value::Null, &Value::Null), Value::Bool(false));
        assert_eq!(ne(&s("5"), &Value::Int(5)), Value::Bool(true));
        assert_eq!(eq(&U, &U), U);
        assert_eq!(ne(&Value::Int(1), &U), U);
        let a = Value::array(vec![Value::Int(1), s("x")]);
        let b = Value::array(vec![dv("1.0"), s("x")]);
        let c = Value::array(vec![s("x"), Value::Int(1)]);
        assert_eq!(eq(&a, &b), Value::Bool(true));
        assert_eq!(eq(&a, &c), Value::Bool(false));
        let o = Value::object([("a", Value::Int(1)), ("b", s("x"))]);
        let p = Value::object([("b", s("x")), ("a", Value::Int(1))]);
        assert_eq!(eq(&o, &p), Value::Bool(true));
    }

    #[test]
    fn plus_concatenates_strings_and_adds_numbers() {
        assert_eq!(add(&s("a"), &Value::Int(1), V1), s("a1"));
        assert_eq!(add(&dv("1.5"), &s("b"), V1), s("1.5b"));
        assert_eq!(add(&s("a"), &Value::Bool(true), V1), s("atrue"));
        assert_eq!(add(&s("a"), &Value::Null, V1), U);
        assert_eq!(add(&s("a"), &U, V1), U);
        assert_eq!(add(&Value::Int(1), &Value::Int(2), V1), Value::Int(3));
        assert_eq!(add(&Value::Int(1), &dv("0.5"), V1), dv("1.5"));
        assert_eq!(add(&dv("1.5"), &dv("1.5"), V1), dv("3.0"));
        assert_eq!(add(&dv("1.5"), &dv("1.5"), V2), Value::Int(3));
        assert_eq!(add(&Value::Bool(true), &Value::Int(1), V1), U);
        assert_eq!(add(&Value::Null, &Value::Int(1), V1), U);
        assert_eq!(
            add(&Value::Int(i64::MAX), &Value::Int(1), V1),
            dv("9223372036854775808")
        );
    }

    #[test]
    fn arithmetic_on_ints_stays_int() {
        assert_eq!(sub(&Value::Int(5), &Value::Int(7), V1), Value::Int(-2));
        assert_eq!(mul(&Value::Int(6), &Value::Int(7), V1), Value::Int(42));
        assert_eq!(div(&Value::Int(7), &Value::Int(2), V1), Value::Int(3));
        assert_eq!(div(&Value::Int(-7), &Value::Int(2), V1), Value::Int(-3));
        assert_eq!(rem(&Value::Int(-7), &Value::Int(2), V1), Value::Int(-1));
        assert_eq!(rem(&Value::Int(8), &Value::Int(3), V1), Value::Int(2));
        assert_eq!(div(&Value::Int(7), &dv("2.0"), V1), dv("3.5"));
        assert_eq!(sub(&s("10"), &Value::Int(4), V1), dv("6.0"));
        assert_eq!(sub(&s("10"), &Value::Int(4), V2), Value::Int(6));
        assert_eq!(rem(&dv("5.5"), &Value::Int(2), V1), dv("1.5"));
        assert_eq!(mul(&s("x"), &Value::Int(2), V1), U);
        assert_eq!(
            div(&Value::Int(i64::MIN), &Value::Int(-1), V1),
            dv("9223372036854775808")
        );
    }

    #[test]
    fn division_by_zero_is_undefined() {
        assert_eq!(div(&Value::Int(1), &Value::Int(0), V1), U);
        assert_eq!(div(&dv("1.0"), &dv("0.0"), V1), U);
        assert_eq!(div(&Value::Int(0), &dv("0.0"), V1), U);
        assert_eq!(rem(&Value::Int(1), &Value::Int(0), V1), U);
        assert_eq!(rem(&dv("1.0"), &Value::Int(0), V1), U);
        assert_eq!(div(&Value::Int(1), &s("0"), V1), U);
    }

    #[test]
    fn negation() {
        assert_eq!(neg(&Value::Int(3), V1), Value::Int(-3));
        assert_eq!(neg(&dv("2.5"), V1), dv("-2.5"));
        assert_eq!(neg(&s("4"), V1), dv("-4.0"));
        assert_eq!(neg(&Value::Int(i64::MIN), V1), dv("9223372036854775808"));
        assert_eq!(neg(&Value::Bool(true), V1), U);
    }

    #[test]
    fn in_and_contains() {
        let arr = Value::array(vec![
            Value::Int(1),
            s("a"),
            Value::array(vec![Value::Int(2)]),
        ]);
        assert_eq!(in_array(&dv("1.0"), &arr), Value::Bool(true));
        assert_eq!(
            in_array(&Value::array(vec![Value::Int(2)]), &arr),
            Value::Bool(true)
        );
        assert_eq!(in_array(&s("b"), &arr), Value::Bool(false));
        assert_eq!(in_array(&s("a"), &s("abc")), U);
        assert_eq!(in_array(&U, &arr), U);
        assert_eq!(contains(&arr, &s("a")), Value::Bool(true));
        assert_eq!(contains(&s("hello"), &s("ell")), Value::Bool(true));
        assert_eq!(contains(&s("a1b"), &Value::Int(1)), Value::Bool(true));
        assert_eq!(contains(&Value::Int(1), &Value::Int(1)), U);
    }

    #[test]
    fn where_needs_a_real_true() {
        assert!(is_true(&Value::Bool(true)));
        assert!(!is_true(&s("true")));
        assert!(!is_true(&U));
    }
}
