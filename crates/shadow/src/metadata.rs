//! Metadata: the per-leaf `{"timestamp": t}` tree that mirrors a state section.

use serde_json::{Map, Value};

use crate::document::Object;

/// `{"timestamp": t}`
pub(crate) fn stamp(t: u64) -> Value {
    let mut m = Map::with_capacity(1);
    m.insert("timestamp".into(), Value::from(t));
    Value::Object(m)
}

/// The metadata of a value written at `t`: objects mirror their keys, arrays get one entry per
/// element, everything else (including `null`, as echoed in `/update/accepted`) a stamp.
pub(crate) fn of_value(value: &Value, t: u64) -> Value {
    match value {
        Value::Object(map) => Value::Object(of_object(map, t)),
        Value::Array(items) => Value::Array(items.iter().map(|v| of_value(v, t)).collect()),
        _ => stamp(t),
    }
}

/// The metadata of every key of `map`, written at `t`.
pub(crate) fn of_object(map: &Object, t: u64) -> Object {
    map.iter()
        .map(|(k, v)| (k.clone(), of_value(v, t)))
        .collect()
}
