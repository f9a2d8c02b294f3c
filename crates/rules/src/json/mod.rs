//! Values to and from JSON: the payload is parsed once, straight into [`Value`] (no
//! intermediate tree), and results are written the way AWS writes them.
//!
//! Output rules (AWS "Data types"): an `Undefined` object member is left out
//! (`{"foo": null, "bar": Undefined}` is `{"foo":null}`) and a bare `Undefined` is an empty
//! payload. Two cases AWS does not document, pinned here: an `Undefined` array element is left
//! out too, and raw bytes nested inside a JSON result are written as a base64 string (at the
//! top level they are the payload itself).

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use ferrite_rules_sql::SqlVersion;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::decimal::Decimal;
use crate::value::Value;

mod read;

/// Why a document is not JSON the engine reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("invalid JSON at byte {0}")]
    Syntax(usize),
    #[error("JSON nested more than 127 levels deep")]
    Depth,
    #[error("a number beyond 9.999E999 at byte {0}")]
    Number(usize),
}

/// Parses a JSON document. Numbers keep their digits (34 significant, rounded half-even) and
/// are typed as `version` types them: with 2016-03-23 and later `10.0` is the Int `10`.
pub fn from_json_slice(json: &[u8], version: SqlVersion) -> Result<Value, JsonError> {
    read::Reader::new(json, version)?.document(None)
}

/// The value a message payload is to the SQL: its JSON, or its raw bytes when it is not JSON
/// (what `*` yields for a binary payload; its fields are all `Undefined`).
pub fn from_payload(payload: &Bytes, version: SqlVersion) -> Value {
    from_json_slice(payload, version).unwrap_or_else(|_| Value::bytes(payload.clone()))
}

/// A `serde_json` tree as a value (for configuration, tests and service lookups). Its
/// fractional numbers are doubles, read as Java's `BigDecimal.valueOf` reads them.
pub fn from_serde(json: &serde_json::Value, version: SqlVersion) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => number(n, version),
        serde_json::Value::String(s) => Value::string(s.as_str()),
        serde_json::Value::Array(items) => {
            Value::array(items.iter().map(|v| from_serde(v, version)).collect())
        }
        serde_json::Value::Object(members) => Value::object(
            members
                .iter()
                .map(|(k, v)| (k.as_str(), from_serde(v, version))),
        ),
    }
}

fn number(n: &serde_json::Number, version: SqlVersion) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else if let Some(u) = n.as_u64() {
        Value::decimal(Decimal::from_i128(i128::from(u)), version)
    } else {
        Value::double(n.as_f64().unwrap_or(f64::NAN), version)
    }
}

/// A value as a `serde_json` tree; `None` for `Undefined`. Decimals become doubles.
pub fn to_serde(value: &Value) -> Option<serde_json::Value> {
    match value {
        Value::Undefined => None,
        _ => serde_json::to_value(value).ok(),
    }
}

/// Compact JSON text of a value; the empty string for `Undefined`. This is also AWS's string
/// conversion of arrays and objects.
pub fn to_json_string(value: &Value) -> String {
    let mut out = Vec::new();
    write_json(value, &mut out);
    // Only valid UTF-8 is ever written: JSON text of UTF-8 strings.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the compact JSON text of a value (nothing for `Undefined`). Decimals are written as
/// Java's `BigDecimal.toString` writes them (`0.3`, `21.30`, `1E+41`), every digit kept.
pub fn write_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Undefined => {}
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => write_int(*i, out),
        Value::Decimal(d) => d.write_to(out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            let mut first = true;
            for item in items.iter().filter(|v| !v.is_undefined()) {
                if !first {
                    out.push(b',');
                }
                first = false;
                write_json(item, out);
            }
            out.push(b']');
        }
        Value::Object(members) => {
            out.push(b'{');
            let mut first = true;
            for (k, v) in members.iter().filter(|(_, v)| !v.is_undefined()) {
                if !first {
                    out.push(b',');
                }
                first = false;
                write_string(k, out);
                out.push(b':');
                write_json(v, out);
            }
            out.push(b'}');
        }
        Value::Bytes(b) => write_string(
            &base64::engine::general_purpose::STANDARD.encode(b.as_ref()),
            out,
        ),
    }
}

fn write_int(i: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut k = buf.len();
    let mut n = i.unsigned_abs();
    loop {
        k -= 1;
        buf[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[k..]);
}

/// A JSON string as serde_json writes one: quotes, backslashes and control characters
/// escaped, everything else (non-ASCII included) as is.
fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let escape: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[run..i]);
                let hex = |n: u8| HEX[usize::from(n)];
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hex(c >> 4), hex(c & 0xf)]);
                run = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        out.extend_from_slice(escape);
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// The outgoing payload for a result: raw bytes unchanged, nothing for `Undefined`, JSON text
/// otherwise (a bare string is a JSON string, quoted).
pub fn to_payload(value: &Value) -> Bytes {
    match value {
        Value::Bytes(b) => Bytes::clone(b),
        Value::Undefined => Bytes::new(),
        other => {
            let mut out = Vec::with_capacity(64);
            write_json(other, &mut out);
            Bytes::from(out)
        }
    }
}

/// For `serde_json` trees ([`to_serde`]) and other serde formats: Decimals are doubles there.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            // Only reachable at the top of a serialisation: containers skip their Undefined
            // members.
            Value::Undefined | Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Decimal(d) => s.serialize_f64(d.to_f64()),
            Value::String(v) => s.serialize_str(v),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(None)?;
                for item in items.iter().filter(|v| !v.is_undefined()) {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(members) => {
                let mut map = s.serialize_map(None)?;
                for (k, v) in members.iter().filter(|(_, v)| !v.is_undefined()) {
                    map.serialize_entry(k.as_ref(), v)?;
                }
                map.end()
            }
            Value::Bytes(b) => {
                s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_values::{V1, V2, dv};

    #[test]
    fn undefined_members_are_left_out() {
        let v = Value::object([("foo", Value::Null), ("bar", Value::Undefined)]);
        assert_eq!(to_json_string(&v), r#"{"foo":null}"#);
        assert_eq!(to_json_string(&Value::Undefined), "");
        assert_eq!(to_payload(&Value::Undefined), Bytes::new());
        let a = Value::array(vec![Value::Int(1), Value::Undefined, Value::Int(2)]);
        assert_eq!(to_json_string(&a), "[1,2]");
    }

    #[test]
    fn member_order_is_kept_both_ways() {
        let text = r#"{"z":1,"a":{"y":true,"b":[1,"x",null]},"m":2.5}"#;
        let v = from_json_slice(text.as_bytes(), V2).unwrap();
        assert_eq!(to_json_string(&v), text);
    }

    #[test]
    fn whole_decimals_follow_the_version() {
        assert_eq!(from_json_slice(b"10.0", V2).unwrap(), Value::Int(10));
        assert_eq!(from_json_slice(b"10.0", V1).unwrap(), dv("10.0"));
        assert_eq!(to_json_string(&dv("10.0")), "10.0");
        assert_eq!(from_json_slice(b"1e2", V2).unwrap(), Value::Int(100));
    }

    #[test]
    fn numbers_beyond_i64_become_decimals() {
        assert_eq!(
            from_json_slice(b"9223372036854775807", V1).unwrap(),
            Value::Int(i64::MAX)
        );
        assert_eq!(
            from_json_slice(b"18446744073709551615", V1).unwrap(),
            dv("18446744073709551615.0")
        );
        assert_eq!(
            from_json_slice(b"123456789012345678901234567890", V1).unwrap(),
            dv("123456789012345678901234567890")
        );
    }

    #[test]
    fn non_json_payloads_are_bytes() {
        let raw = Bytes::from_static(b"\x00\x01not json");
        assert_eq!(from_payload(&raw, V2), Value::bytes(raw.clone()));
        assert_eq!(to_payload(&from_payload(&raw, V2)), raw);
        let nested = Value::object([("b", Value::bytes(Bytes::from_static(b"hi")))]);
        assert_eq!(to_json_string(&nested), r#"{"b":"aGk="}"#);
        // Refused by their first byte (before any UTF-8 check) or by the parser, the same way.
        for text in [
            &b"  \xff\xfe"[..],
            b" x{}",
            b"\t\n",
            b"",
            b"{\"a\":\xff}",
            b"1 2",
        ] {
            let raw = Bytes::copy_from_slice(text);
            assert_eq!(
                from_payload(&raw, V2),
                Value::bytes(raw.clone()),
                "{text:?}"
            );
            let only = Fields::Only(vec!["a".into()]);
            assert_eq!(
                from_payload_fields(&raw, V2, &only),
                Value::bytes(raw.clone())
            );
        }
        let spaced = Bytes::from_static(b" \r\n {\"a\": 1} ");
        assert_eq!(
            from_payload(&spaced, V2),
            Value::object([("a", Value::Int(1))])
        );
    }

    #[test]
    fn a_bare_string_result_is_a_json_string() {
        assert_eq!(
            to_payload(&Value::from("a\"b")),
            Bytes::from_static(br#""a\"b""#)
        );
    }

    #[test]
    fn serde_trees_convert_both_ways() {
        let tree = serde_json::json!({"a": [1, 2.5, "s", null, true], "b": {}});
        let v = from_serde(&tree, V1);
        assert_eq!(to_serde(&v), Some(tree));
        assert_eq!(to_serde(&Value::Undefined), None);
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        let v = from_json_slice(br#"{"a":1,"b":2,"a":3}"#, V1).unwrap();
        assert_eq!(to_json_string(&v), r#"{"a":3,"b":2}"#);
    }
}

/// The top-level fields of a payload a rule reads (and its actions' templates): parsing can skip
/// the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fields {
    /// The whole payload (`*`, or a field chosen at run time).
    All,
    /// Only these members of a top-level object (sorted, each once).
    Only(Vec<Arc<str>>),
}

impl Default for Fields {
    fn default() -> Self {
        Fields::Only(Vec::new())
    }
}

impl Fields {
    pub fn one(name: &Arc<str>) -> Fields {
        Fields::Only(vec![name.clone()])
    }

    /// Everything either needs.
    pub fn union(self, other: Fields) -> Fields {
        match (self, other) {
            (Fields::All, _) | (_, Fields::All) => Fields::All,
            (Fields::Only(mut a), Fields::Only(b)) => {
                a.extend(b);
                a.sort();
                a.dedup();
                Fields::Only(a)
            }
        }
    }
}

/// [`from_payload`] reading only `fields` of a top-level object (other members are checked
/// without being built); any other payload is read whole.
pub fn from_payload_fields(payload: &Bytes, version: SqlVersion, fields: &Fields) -> Value {
    let wanted = match fields {
        Fields::All => None,
        Fields::Only(wanted) => Some(wanted.as_slice()),
    };
    read::Reader::new(payload, version)
        .and_then(|r| r.document(wanted))
        .unwrap_or_else(|_| Value::bytes(payload.clone()))
}
