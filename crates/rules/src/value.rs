//! The values an AWS IoT SQL expression computes with.
//!
//! AWS's engine works on JSON plus two values JSON cannot spell: `Undefined` (a missing member,
//! a function given bad arguments) and, for a payload that is not JSON, its raw bytes. Numbers
//! are AWS's `Int` and `Decimal`; we hold them as `i64` and a 34-digit [`Decimal`] (see
//! [`Value::Int`] for where that departs from AWS's 34-digit Ints).
//!
//! Every variant is cheap to clone: scalars are copied, strings, arrays, objects and bytes are
//! reference-counted, so passing a payload's sub-tree through an expression never copies it.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use ferrite_rules_sql::SqlVersion;
use indexmap::IndexMap;

use crate::decimal::{Decimal, Rounding};

/// An object's members in insertion order: the order of the payload for a parsed object, the
/// order of the SELECT list for a built one. AWS's output keeps that order too, so output
/// serialisation walks it as is.
pub type Object = IndexMap<Arc<str>, Value, foldhash::fast::RandomState>;

/// An AWS IoT SQL value.
#[derive(Clone, Default)]
pub enum Value {
    /// Not a value: a missing member, a failed conversion, a function given bad arguments.
    /// Omitted from output objects; alone it serialises to an empty payload.
    #[default]
    Undefined,
    /// JSON `null`, or the SQL literal `NULL`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// AWS `Int`. AWS keeps 34 digits; we keep `i64`. A whole number beyond `i64` (a JSON
    /// integer, Int arithmetic that would overflow) is a whole `Decimal` instead, exact to 34
    /// digits and written the same; under 2016-03-23, where whole numbers are Ints, `/` on two
    /// whole numbers still truncates.
    Int(i64),
    /// AWS `Decimal`: 34 significant digits rounded half-even, exponent kept as Java's
    /// `BigDecimal` keeps its scale (`1.50` stays `1.50`). The math functions AWS computes in
    /// double precision convert to `f64` and back. Never NaN, infinite or beyond 9.999…E999: a
    /// computation that would produce one yields `Undefined` (AWS: "imaginary results are
    /// returned as Undefined").
    Decimal(Decimal),
    /// A UTF-8 string.
    String(Arc<str>),
    /// A JSON array.
    Array(Arc<Vec<Value>>),
    /// A JSON object, members in insertion order.
    Object(Arc<Object>),
    /// A payload that is not JSON, as `*` yields it: forwarded unchanged, base64 under
    /// `encode(*, 'base64')`. Boxed in an `Arc` to keep `Value` at 24 bytes.
    Bytes(Arc<Bytes>),
}

/// The type names AWS's documentation uses, for messages and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    Undefined,
    Null,
    Boolean,
    Int,
    Decimal,
    String,
    Array,
    Object,
    Bytes,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Undefined => "Undefined",
            ValueType::Null => "Null",
            ValueType::Boolean => "Boolean",
            ValueType::Int => "Int",
            ValueType::Decimal => "Decimal",
            ValueType::String => "String",
            ValueType::Array => "Array",
            ValueType::Object => "Object",
            ValueType::Bytes => "Bytes",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    /// An array value.
    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Arc::new(items))
    }

    /// An object value from members in order; a repeated key keeps its first position and its
    /// last value, as a JSON parser does.
    pub fn object<K: Into<Arc<str>>>(members: impl IntoIterator<Item = (K, Value)>) -> Value {
        let mut object = Object::default();
        for (k, v) in members {
            object.insert(k.into(), v);
        }
        Value::Object(Arc::new(object))
    }

    /// Raw bytes of a payload that is not JSON.
    pub fn bytes(b: Bytes) -> Value {
        Value::Bytes(Arc::new(b))
    }

    /// A Decimal typed the way `version` types numbers: with 2016-03-23 and later a whole value
    /// that fits an `i64` is an `Int` (AWS: "numeric values that are whole numbers, such as
    /// 10.0, are processed as an Int").
    pub fn decimal(value: Decimal, version: SqlVersion) -> Value {
        if version.at_least_2016()
            && value.is_integer()
            && let Some(i) = value.to_i64(Rounding::Down)
        {
            return Value::Int(i);
        }
        Value::Decimal(value)
    }

    /// [`Value::decimal`] of a result computed in double precision, read as Java's
    /// `BigDecimal.valueOf` reads it; NaN and infinities are `Undefined`.
    pub fn double(value: f64, version: SqlVersion) -> Value {
        Decimal::from_f64(value).map_or(Value::Undefined, |d| Value::decimal(d, version))
    }

    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Undefined => ValueType::Undefined,
            Value::Null => ValueType::Null,
            Value::Bool(_) => ValueType::Boolean,
            Value::Int(_) => ValueType::Int,
            Value::Decimal(_) => ValueType::Decimal,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::Object(_) => ValueType::Object,
            Value::Bytes(_) => ValueType::Bytes,
        }
    }

    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// `value.name`: the member of an object, `Undefined` for a missing member or a value that
    /// is not an object.
    pub fn field(&self, name: &str) -> Value {
        match self {
            Value::Object(o) => o.get(name).cloned().unwrap_or_default(),
            _ => Value::Undefined,
        }
    }

    /// The element at a 0-based index of an array; `Undefined` out of range or on a non-array.
    pub fn index(&self, index: i64) -> Value {
        match self {
            Value::Array(a) => usize::try_from(index)
                .ok()
                .and_then(|i| a.get(i))
                .cloned()
                .unwrap_or_default(),
            _ => Value::Undefined,
        }
    }
}

/// Structural equality for tests and goldens: types must match exactly (`Int(1)` is not
/// `Decimal(1.0)`), Decimals compare by value (`2.0` is `2.00`), objects compare members
/// regardless of order. SQL's `=` is
/// [`crate::ops::eq`], which has AWS's coercions.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Undefined, Value::Undefined) | (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Decimal(a), Value::Decimal(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k) == Some(v))
            }
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Undefined => f.write_str("Undefined"),
            Value::Bytes(b) => write!(f, "Bytes({:?})", b.as_ref()),
            Value::Decimal(d) => write!(f, "Decimal({d})"),
            Value::Int(i) => write!(f, "Int({i})"),
            other => f.write_str(&crate::json::to_json_string(other)),
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<Decimal> for Value {
    fn from(d: Decimal) -> Value {
        Value::Decimal(d)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into())
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::array(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_three_words() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn whole_decimals_are_ints_from_2016_on() {
        let v2 = SqlVersion::V2016_03_23;
        assert_eq!(Value::decimal(d("10.0"), v2), Value::Int(10));
        assert_eq!(Value::decimal(d("1E+2"), v2), Value::Int(100));
        assert_eq!(Value::decimal(d("10.0"), SqlVersion::Beta), Value::Int(10));
        assert_eq!(
            Value::decimal(d("10.0"), SqlVersion::V2015_10_08),
            Value::Decimal(d("10.0"))
        );
        assert_eq!(Value::decimal(d("10.5"), v2), Value::Decimal(d("10.5")));
        assert_eq!(Value::decimal(d("1E+300"), v2), Value::Decimal(d("1E+300")));
        assert_eq!(Value::double(10.0, v2), Value::Int(10));
        assert_eq!(
            Value::double(f64::NAN, SqlVersion::V2015_10_08),
            Value::Undefined
        );
        assert_eq!(
            Value::double(f64::INFINITY, SqlVersion::V2015_10_08),
            Value::Undefined
        );
    }

    #[test]
    fn field_and_index_are_undefined_off_their_shape() {
        let v = Value::object([("a", Value::Int(1))]);
        assert_eq!(v.field("a"), Value::Int(1));
        assert_eq!(v.field("b"), Value::Undefined);
        assert_eq!(Value::Int(1).field("a"), Value::Undefined);
        let a = Value::array(vec![Value::Int(1)]);
        assert_eq!(a.index(0), Value::Int(1));
        assert_eq!(a.index(1), Value::Undefined);
        assert_eq!(a.index(-1), Value::Undefined);
    }

    #[test]
    fn objects_compare_regardless_of_order() {
        let a = Value::object([("a", Value::Int(1)), ("b", Value::Null)]);
        let b = Value::object([("b", Value::Null), ("a", Value::Int(1))]);
        assert_eq!(a, b);
        assert_ne!(Value::Int(1), Value::Decimal(d("1.0")));
    }
}
