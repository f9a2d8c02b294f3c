//! The body of the `rules_payload` fuzz target: the JSON reader every message payload goes
//! through (ours, so that numbers keep 34 digits), fed hostile bytes.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_rules_sql::SqlVersion;

use crate::decimal::Decimal;
use crate::json::{Fields, from_json_slice, from_payload_fields, to_json_string};
use crate::value::Value;

const VERSIONS: [SqlVersion; 2] = [SqlVersion::V2015_10_08, SqlVersion::V2016_03_23];

/// Reads `data` as a payload under each SQL version and checks:
/// - whatever serde_json accepts, the reader accepts (it refuses no JSON a device may send);
/// - what it accepts, it writes as JSON that reads back to the same value (a whole Decimal
///   such as `4E+0` is written `4`, as Java writes it, and reads back as the Int) and prints
///   the same again;
/// - reading only some top-level members gives exactly those members of the whole read, and a
///   payload refused whole is refused (read as bytes) when read in part.
///
/// Returns how many versions accepted `data`.
///
/// # Panics
/// On any violated invariant; that is the point of a fuzz body.
pub fn check_payload(data: &[u8]) -> usize {
    let serde_accepts = serde_json::from_slice::<serde_json::Value>(data).is_ok();
    let mut accepted = 0;
    for version in VERSIONS {
        let whole = match from_json_slice(data, version) {
            Ok(v) => v,
            Err(e) => {
                assert!(
                    !serde_accepts,
                    "refused JSON serde_json reads: {e}: {data:?}"
                );
                let part = from_payload_fields(&Bytes::copy_from_slice(data), version, &some());
                assert!(matches!(part, Value::Bytes(_)), "{data:?} read in part");
                continue;
            }
        };
        accepted += 1;
        let text = to_json_string(&whole);
        let again = from_json_slice(text.as_bytes(), version)
            .unwrap_or_else(|e| panic!("written JSON does not read back: {e}: {text}"));
        assert!(
            same(&again, &whole),
            "{text} reads back as {again:?} from {:?}",
            String::from_utf8_lossy(data)
        );
        assert_eq!(to_json_string(&again), text);
        let part = from_payload_fields(&Bytes::copy_from_slice(data), version, &some());
        match (&whole, &part) {
            (Value::Object(all), Value::Object(only)) => {
                for (k, v) in only.iter() {
                    assert_eq!(all.get(k), Some(v), "member {k} of {text}");
                }
                for k in ["a", "b"] {
                    assert_eq!(all.contains_key(k), only.contains_key(k), "{k} in {text}");
                }
            }
            _ => assert_eq!(part, whole, "{text}"),
        }
    }
    accepted
}

/// Equal, taking an Int and a Decimal of the same value as the same.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(i), Value::Decimal(d)) | (Value::Decimal(d), Value::Int(i)) => {
            Decimal::from_i64(*i) == *d
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy))
        }
        _ => a == b,
    }
}

fn some() -> Fields {
    Fields::Only(vec![Arc::from("a"), Arc::from("b")])
}
