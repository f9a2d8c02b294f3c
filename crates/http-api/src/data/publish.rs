//! iot-data Publish: devices need `iot:Publish` (and `iot:RetainPublish` to retain) on the
//! topic; the message enters the broker like a client's PUBLISH, stamped with the caller as its
//! origin.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use ferrite_api_model::Operation;
use ferrite_broker::Message;
use ferrite_mqtt_codec::{Properties, QoS};
use ferrite_types::message::local_node;
use ferrite_types::{Origin, Protocol};
use serde::Deserialize;
use serde_json::{Value, json};

use super::decode_payload;
use crate::ApiError;
use crate::call::{Call, Caller, input};
use crate::error::RequestError;

/// iot-data Publish's input as the model decodes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublishInput {
    topic: String,
    qos: Option<u8>,
    retain: Option<bool>,
    /// The body, base64.
    payload: Option<String>,
    /// `[{"name": "value"}, ...]` (a `jsonvalue` header).
    user_properties: Option<Value>,
    payload_format_indicator: Option<String>,
    content_type: Option<String>,
    response_topic: Option<String>,
    /// Base64, as the client sends it.
    correlation_data: Option<String>,
    message_expiry: Option<i64>,
}

pub(super) async fn publish(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    let data = cx.data(Operation::Publish)?;
    let input: PublishInput = input(v)?;
    let retain = input.retain.unwrap_or(false);
    let qos = match input.qos.unwrap_or(0) {
        0 => QoS::AtMostOnce,
        _ => QoS::AtLeastOnce,
    };
    if !ferrite_topic::client_may_publish(&input.topic) {
        return Err(RequestError::Unauthorized(format!(
            "Publishing to the reserved topic {} is not allowed.",
            input.topic
        ))
        .into());
    }
    if let Caller::Device { permissions, .. } = &cx.caller
        && !permissions.publish(&input.topic, retain)
    {
        return Err(RequestError::Unauthorized(
            "The certificate's policies do not allow this publish.".into(),
        )
        .into());
    }
    let payload = decode_payload(input.payload)?;
    let properties = Properties {
        user_properties: user_properties(input.user_properties)?,
        payload_format_indicator: match input.payload_format_indicator.as_deref() {
            Some("UTF8_DATA") => Some(1),
            Some(_) => Some(0),
            None => None,
        },
        content_type: input.content_type,
        response_topic: input.response_topic,
        correlation_data: match input.correlation_data {
            Some(b64) => Some(Bytes::from(STANDARD.decode(b64).map_err(|_| {
                RequestError::Invalid("correlationData must be base64-encoded.".into())
            })?)),
            None => None,
        },
        message_expiry_interval: match input.message_expiry {
            Some(s) if s < 0 => {
                return Err(
                    RequestError::Invalid("messageExpiry must not be negative.".into()).into(),
                );
            }
            Some(s) => Some(u32::try_from(s).unwrap_or(u32::MAX)),
            None => None,
        },
        ..Properties::default()
    };
    let origin = Origin {
        client_id: None,
        principal: Some(Arc::from(cx.principal())),
        source_ip: cx.peer.map(|p| p.ip()),
        protocol: Protocol::Http,
        node: local_node(),
    };
    let msg = Message::new(
        Arc::from(input.topic.as_str()),
        Bytes::from(payload),
        qos,
        retain,
        &properties,
        Arc::new(origin),
        ferrite_types::clock::system_now_ms(),
    );
    match data.broker.publish(msg).await {
        Ok(_) => Ok(json!({})),
        Err(e) => Err(e.into()),
    }
}

/// `[{"k": "v"}, {"k2": "v2"}]` → MQTT 5 user properties, in order.
fn user_properties(v: Option<Value>) -> Result<Vec<(String, String)>, RequestError> {
    let invalid = || {
        RequestError::Invalid(
            "userProperties must be a JSON array of objects with string values.".into(),
        )
    };
    let v = match v {
        None => return Ok(Vec::new()),
        // The header's (base64-decoded) text: the JSON document itself.
        Some(Value::String(text)) => serde_json::from_str(&text).map_err(|_| invalid())?,
        Some(v) => v,
    };
    let Value::Array(items) = v else {
        return Err(invalid());
    };
    let mut out = Vec::new();
    for item in items {
        let Value::Object(map) = item else {
            return Err(invalid());
        };
        for (k, v) in map {
            let Value::String(v) = v else {
                return Err(invalid());
            };
            out.push((k, v));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_types::AwsException;

    #[test]
    fn user_properties_keep_order_from_a_document_or_its_text() {
        let expected = vec![
            ("site".to_owned(), "lab".to_owned()),
            ("rack".to_owned(), "7".to_owned()),
        ];
        let doc = json!([{"site": "lab"}, {"rack": "7"}]);
        assert_eq!(user_properties(Some(doc.clone())).unwrap(), expected);
        assert_eq!(
            user_properties(Some(Value::String(doc.to_string()))).unwrap(),
            expected
        );
        assert!(user_properties(None).unwrap().is_empty());
    }

    #[test]
    fn malformed_user_properties_are_invalid_requests() {
        for bad in [
            json!({"site": "lab"}),
            json!([{"count": 7}]),
            json!(["lab"]),
            Value::String("not json".into()),
        ] {
            let e = user_properties(Some(bad)).unwrap_err();
            assert_eq!(e.exception_name(), "InvalidRequestException");
        }
    }
}
