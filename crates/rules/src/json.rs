//! Values to and from JSON: the payload is parsed once, straight into [`Value`] (no
//! intermediate tree), and results are written the way AWS writes them.
//!
//! Output rules (AWS "Data types"): an `Undefined` object member is left out
//! (`{"foo": null, "bar": Undefined}` is `{"foo":null}`) and a bare `Undefined` is an empty
//! payload. Two cases AWS does not document, pinned here: an `Undefined` array element is left
//! out too, and raw bytes nested inside a JSON result are written as a base64 string (at the
//! top level they are the payload itself).

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use ferrite_rules_sql::SqlVersion;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserializer, Serialize, Serializer};

use crate::value::{Object, Value};

/// Parses a JSON document. Numbers are typed as `version` types them: with 2016-03-23 and later
/// `10.0` is the Int `10`.
pub fn from_json_slice(json: &[u8], version: SqlVersion) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = ValueSeed { version }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// The value a message payload is to the SQL: its JSON, or its raw bytes when it is not JSON
/// (what `*` yields for a binary payload; its fields are all `Undefined`).
pub fn from_payload(payload: &Bytes, version: SqlVersion) -> Value {
    from_json_slice(payload, version).unwrap_or_else(|_| Value::bytes(payload.clone()))
}

/// A `serde_json` tree as a value (for configuration, tests and service lookups).
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
    } else {
        Value::decimal(n.as_f64().unwrap_or(f64::NAN), version)
    }
}

/// A value as a `serde_json` tree; `None` for `Undefined`.
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

/// Appends the compact JSON text of a value (nothing for `Undefined`).
pub fn write_json(value: &Value, out: &mut Vec<u8>) {
    if value.is_undefined() {
        return;
    }
    // Writing into a Vec cannot fail, and every Value serialises.
    let _ = serde_json::to_writer(out, value);
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

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            // Only reachable at the top of a serialisation: containers skip their Undefined
            // members. Unit keeps serde happy; `write_json` writes nothing for it first.
            Value::Undefined | Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Decimal(d) => s.serialize_f64(*d),
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

#[derive(Clone, Copy)]
struct ValueSeed {
    version: SqlVersion,
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u)
            .map(Value::Int)
            .unwrap_or(Value::Decimal(u as f64)))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::decimal(f, self.version))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(Arc::new(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Object::default();
        while let Some(key) = map.next_key::<KeyString>()? {
            let value = map.next_value_seed(self)?;
            object.insert(key.0, value);
        }
        Ok(Value::Object(Arc::new(object)))
    }
}

/// An object key read without an intermediate `String` when the input has no escapes.
struct KeyString(Arc<str>);

impl<'de> serde::Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyString, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<KeyString, E> {
                Ok(KeyString(s.into()))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: SqlVersion = SqlVersion::V2015_10_08;
    const V2: SqlVersion = SqlVersion::V2016_03_23;

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
        assert_eq!(from_json_slice(b"10.0", V1).unwrap(), Value::Decimal(10.0));
        assert_eq!(to_json_string(&Value::Decimal(10.0)), "10.0");
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
            Value::Decimal(18446744073709551615.0)
        );
        assert_eq!(
            from_json_slice(b"123456789012345678901234567890", V1).unwrap(),
            Value::Decimal(1.2345678901234568e29)
        );
    }

    #[test]
    fn non_json_payloads_are_bytes() {
        let raw = Bytes::from_static(b"\x00\x01not json");
        assert_eq!(from_payload(&raw, V2), Value::bytes(raw.clone()));
        assert_eq!(to_payload(&from_payload(&raw, V2)), raw);
        let nested = Value::object([("b", Value::bytes(Bytes::from_static(b"hi")))]);
        assert_eq!(to_json_string(&nested), r#"{"b":"aGk="}"#);
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

/// [`from_payload`] reading only `fields` of a top-level object (other members are skipped
/// without being built); any other payload is read whole.
pub fn from_payload_fields(payload: &Bytes, version: SqlVersion, fields: &Fields) -> Value {
    let Fields::Only(wanted) = fields else {
        return from_payload(payload, version);
    };
    let mut de = serde_json::Deserializer::from_slice(payload);
    let seed = TopSeed {
        version,
        wanted: wanted.as_slice(),
    };
    match seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v)) {
        Ok(v) => v,
        Err(_) => Value::bytes(payload.clone()),
    }
}

/// The top of a payload: an object keeps only the wanted members.
struct TopSeed<'w> {
    version: SqlVersion,
    wanted: &'w [Arc<str>],
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        ValueSeed {
            version: self.version,
        }
        .visit_i64(i)
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        ValueSeed {
            version: self.version,
        }
        .visit_u64(u)
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::decimal(f, self.version))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        ValueSeed {
            version: self.version,
        }
        .visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Object::default();
        let values = ValueSeed {
            version: self.version,
        };
        while let Some(key) = map.next_key_seed(WantedKey(self.wanted))? {
            match key {
                Some(name) => {
                    let value = map.next_value_seed(values)?;
                    object.insert(name, value);
                }
                None => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(Arc::new(object)))
    }
}

/// Reads a key and answers the wanted field's shared name, or `None` for a key to skip,
/// without allocating for either.
struct WantedKey<'w>(&'w [Arc<str>]);

impl<'de> DeserializeSeed<'de> for WantedKey<'_> {
    type Value = Option<Arc<str>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for WantedKey<'_> {
    type Value = Option<Arc<str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().find(|w| &***w == s).cloned())
    }
}
