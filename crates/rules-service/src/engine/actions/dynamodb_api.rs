//! The DynamoDB API requests forwarded `dynamoDB` and `dynamoDBv2` actions make (JSON
//! protocol 1.0, `DynamoDB_20120810.*`), and the JSON → `AttributeValue` mapping they share:
//! a string is `S`, a number `N` (its text), a Boolean `BOOL`, null `NULL`, an array `L` and
//! an object `M`, nested as deep as the value goes.
//!
//! `dynamoDB` writes `payloadField` as AWS's action does: a payload that is JSON becomes its
//! attribute value (the SELECT output, an object, is a map), any other payload is binary
//! (`B`, base64 in the request). Its keys are `S` or `N` per `hashKeyType`/`rangeKeyType`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::ActionError;

/// The JSON protocol version and target prefix of DynamoDB's API.
pub(crate) const JSON_VERSION: &str = "1.0";
const TARGET_PREFIX: &str = "DynamoDB_20120810";

/// A JSON value as a DynamoDB `AttributeValue`.
pub(crate) fn attribute(value: &Value) -> Value {
    match value {
        Value::Null => json!({"NULL": true}),
        Value::Bool(b) => json!({"BOOL": b}),
        Value::Number(n) => json!({"N": n.to_string()}),
        Value::String(s) => json!({"S": s}),
        Value::Array(items) => json!({"L": items.iter().map(attribute).collect::<Vec<_>>()}),
        Value::Object(map) => json!({"M": attributes(map)}),
    }
}

/// An object's members as a map of attribute values (an `Item`, a `Key`, an `M`'s content).
pub(crate) fn attributes(map: &Map<String, Value>) -> Value {
    Value::Object(
        map.iter()
            .map(|(name, value)| (name.clone(), attribute(value)))
            .collect(),
    )
}

/// The `dynamoDB` action's payload attribute: the payload's JSON, or else the bytes as binary.
pub(crate) fn payload_attribute(payload: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(payload) {
        Ok(v) => attribute(&v),
        Err(_) => json!({"B": STANDARD.encode(payload)}),
    }
}

/// The request for a `dynamoDB` action's `operation` (INSERT, UPDATE or DELETE): the
/// `X-Amz-Target` and the input. `key` holds the key attributes as JSON strings or numbers.
pub(crate) fn write_request(
    operation: &str,
    table: &str,
    key: &Map<String, Value>,
    payload_field: &str,
    payload: Value,
) -> Result<(String, Value), ActionError> {
    let key = attributes(key);
    let (operation, input) = match operation {
        "INSERT" => {
            let mut item = key;
            item[payload_field] = payload;
            ("PutItem", json!({"TableName": table, "Item": item}))
        }
        // Only the payload attribute changes, as the action's UPDATE does on AWS; UpdateItem
        // creates the item when it is missing.
        "UPDATE" => (
            "UpdateItem",
            json!({
                "TableName": table,
                "Key": key,
                "UpdateExpression": "SET #payload = :payload",
                "ExpressionAttributeNames": {"#payload": payload_field},
                "ExpressionAttributeValues": {":payload": payload},
            }),
        ),
        "DELETE" => ("DeleteItem", json!({"TableName": table, "Key": key})),
        other => {
            return Err(ActionError::permanent(format!(
                "operation {other} is not INSERT, UPDATE or DELETE"
            )));
        }
    };
    Ok((format!("{TARGET_PREFIX}.{operation}"), input))
}

/// The `dynamoDBv2` action's PutItem: every top-level attribute of the payload.
pub(crate) fn put_item_request(table: &str, item: &Map<String, Value>) -> (String, Value) {
    (
        format!("{TARGET_PREFIX}.PutItem"),
        json!({"TableName": table, "Item": attributes(item)}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn json_values_map_to_attribute_values() {
        let v = json!({"s": "x", "n": 21.5, "i": -3, "b": true, "z": null,
                       "l": [1, "a"], "m": {"deep": {"k": false}}});
        assert_eq!(
            attribute(&v),
            json!({"M": {
                "s": {"S": "x"}, "n": {"N": "21.5"}, "i": {"N": "-3"}, "b": {"BOOL": true},
                "z": {"NULL": true}, "l": {"L": [{"N": "1"}, {"S": "a"}]},
                "m": {"M": {"deep": {"M": {"k": {"BOOL": false}}}}},
            }})
        );
    }

    #[test]
    fn payloads_that_are_not_json_are_binary() {
        assert_eq!(
            payload_attribute(br#"{"t": 1}"#),
            json!({"M": {"t": {"N": "1"}}})
        );
        assert_eq!(payload_attribute(b"plain"), json!({"B": "cGxhaW4="}));
        assert_eq!(payload_attribute(&[0xff, 0x00]), json!({"B": "/wA="}));
    }

    #[test]
    fn operations_become_put_update_and_delete() {
        let key = object(json!({"id": "d1", "ts": 17}));
        let payload = json!({"M": {"t": {"N": "1"}}});
        let (target, input) =
            write_request("INSERT", "Readings", &key, "data", payload.clone()).unwrap();
        assert_eq!(target, "DynamoDB_20120810.PutItem");
        assert_eq!(
            input,
            json!({"TableName": "Readings", "Item": {
                "id": {"S": "d1"}, "ts": {"N": "17"}, "data": payload}})
        );
        let (target, input) =
            write_request("UPDATE", "Readings", &key, "data", payload.clone()).unwrap();
        assert_eq!(target, "DynamoDB_20120810.UpdateItem");
        assert_eq!(input["Key"], json!({"id": {"S": "d1"}, "ts": {"N": "17"}}));
        assert_eq!(input["ExpressionAttributeNames"]["#payload"], "data");
        assert_eq!(input["ExpressionAttributeValues"][":payload"], payload);
        let (target, input) = write_request("DELETE", "Readings", &key, "data", payload).unwrap();
        assert_eq!(target, "DynamoDB_20120810.DeleteItem");
        assert_eq!(input.get("Item"), None);
        assert!(write_request("MERGE", "t", &key, "p", Value::Null).is_err());
    }

    #[test]
    fn v2_puts_each_top_level_attribute() {
        let (target, input) = put_item_request("Devices", &object(json!({"id": "d1", "on": true})));
        assert_eq!(target, "DynamoDB_20120810.PutItem");
        assert_eq!(
            input,
            json!({"TableName": "Devices", "Item": {"id": {"S": "d1"}, "on": {"BOOL": true}}})
        );
    }
}
