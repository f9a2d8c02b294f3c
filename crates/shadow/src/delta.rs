//! The delta (spec §3.6): what `desired` asks for that `reported` does not have, walking
//! `desired`; and the desired metadata of exactly those keys.

use serde_json::{Map, Value};

use crate::document::Object;

/// The delta of `desired` against `reported`; empty when nothing differs.
pub fn delta(desired: &Object, reported: Option<&Object>) -> Object {
    let mut out = Map::new();
    for (key, want) in desired {
        match (want, reported.and_then(|r| r.get(key))) {
            (Value::Object(want), Some(Value::Object(have))) => {
                let sub = delta(want, Some(have));
                if !sub.is_empty() {
                    out.insert(key.clone(), Value::Object(sub));
                }
            }
            (want, Some(have)) if json_eq(want, have) => {}
            (want, _) => {
                out.insert(key.clone(), want.clone());
            }
        }
    }
    out
}

/// The desired metadata of the keys present in `delta`.
pub fn delta_metadata(delta: &Object, desired_meta: Option<&Object>) -> Object {
    let mut out = Map::new();
    let Some(meta) = desired_meta else {
        return out;
    };
    for (key, value) in delta {
        match (value, meta.get(key)) {
            (Value::Object(sub), Some(Value::Object(sub_meta))) => {
                out.insert(
                    key.clone(),
                    Value::Object(delta_metadata(sub, Some(sub_meta))),
                );
            }
            (_, Some(m)) => {
                out.insert(key.clone(), m.clone());
            }
            (_, None) => {}
        }
    }
    out
}

/// JSON equality with numbers compared by value (`1` equals `1.0`), as AWS compares them.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                match (x.as_f64(), y.as_f64()) {
                    (Some(x), Some(y)) => x == y,
                    _ => false,
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}
