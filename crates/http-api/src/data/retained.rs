//! Retained messages: GetRetainedMessage (devices need `iot:GetRetainedMessage` on
//! `topic/{topic}`) and ListRetainedMessages (`iot:ListRetainedMessages`), read from the
//! broker's retained store.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferrite_api_model::Operation;
use serde::Deserialize;
use serde_json::{Value, json};

use super::decode_token;
use crate::ApiError;
use crate::call::{Call, input};
use crate::error::RequestError;

#[derive(Deserialize)]
struct TopicInput {
    topic: String,
}

pub(super) fn get_retained_message(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    let data = cx.data(Operation::GetRetainedMessage)?;
    let input: TopicInput = input(v)?;
    if !cx.allows("iot:GetRetainedMessage", "topic", &input.topic) {
        return Err(RequestError::Forbidden(
            "The certificate's policies do not allow reading this retained message.",
        )
        .into());
    }
    let Some(msg) = data.broker.retained(&input.topic) else {
        return Err(RequestError::NoRetainedMessage { topic: input.topic }.into());
    };
    let mut out = json!({
        "topic": &*msg.topic,
        "payload": STANDARD.encode(&msg.payload),
        "qos": msg.qos as u8,
        "lastModifiedTime": msg.received_at_ms,
    });
    if !msg.properties.user_properties.is_empty() {
        let props: Vec<Value> = msg
            .properties
            .user_properties
            .iter()
            .map(|(k, v)| json!({ k: v }))
            .collect();
        out["userProperties"] = json!(STANDARD.encode(Value::Array(props).to_string()));
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListRetainedInput {
    next_token: Option<String>,
    max_results: Option<usize>,
}

pub(super) fn list_retained_messages(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    let data = cx.data(Operation::ListRetainedMessages)?;
    let input: ListRetainedInput = input(v)?;
    if !cx.allows("iot:ListRetainedMessages", "topic", "*") {
        return Err(RequestError::Forbidden(
            "The certificate's policies do not allow listing retained messages.",
        )
        .into());
    }
    let after = decode_token(input.next_token.as_deref())?;
    let limit = input.max_results.unwrap_or(50).clamp(1, 200);
    let (messages, more) = data.broker.retained_page(after.as_deref(), limit);
    let items: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "topic": &*m.topic,
                "payloadSize": m.payload.len(),
                "qos": m.qos as u8,
                "lastModifiedTime": m.received_at_ms,
            })
        })
        .collect();
    let mut out = json!({ "retainedTopics": items });
    if more && let Some(last) = messages.last() {
        out["nextToken"] = json!(STANDARD.encode(&*last.topic));
    }
    Ok(out)
}
