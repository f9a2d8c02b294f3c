//! The `iot-data` plane: shadows, publish, retained messages and DeleteConnection, on the
//! broker and the shadow service. IAM callers may do anything; devices calling with their
//! client certificate on the device port are held to their IoT policies, action by action, as
//! on MQTT.

mod connections;
mod publish;
mod retained;
mod shadows;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferrite_api_model::Operation;
use serde_json::Value;

use crate::ApiError;
use crate::call::Call;
use crate::error::RequestError;

pub(crate) async fn dispatch(cx: &Call<'_>, op: Operation, v: Value) -> Result<Value, ApiError> {
    match op {
        Operation::GetThingShadow => shadows::get_thing_shadow(cx, v).await,
        Operation::UpdateThingShadow => shadows::update_thing_shadow(cx, v).await,
        Operation::DeleteThingShadow => shadows::delete_thing_shadow(cx, v).await,
        Operation::ListNamedShadowsForThing => shadows::list_named_shadows_for_thing(cx, v).await,
        Operation::Publish => publish::publish(cx, v).await,
        Operation::GetRetainedMessage => retained::get_retained_message(cx, v),
        Operation::ListRetainedMessages => retained::list_retained_messages(cx, v),
        Operation::DeleteConnection => connections::delete_connection(cx, v).await,
        other => Err(RequestError::not_implemented(other).into()),
    }
}

/// The position a `nextToken` stands for (the last name or topic returned).
fn decode_token(token: Option<&str>) -> Result<Option<String>, ApiError> {
    match token {
        Some(t) => STANDARD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| RequestError::Invalid("The nextToken is invalid.".into()).into()),
        None => Ok(None),
    }
}

/// A base64 `payload` member (blob payloads are decoded that way); none is empty.
fn decode_payload(payload: Option<String>) -> Result<Vec<u8>, ApiError> {
    match payload {
        Some(b64) => STANDARD
            .decode(b64)
            .map_err(|_| RequestError::Invalid("The payload is not valid.".into()).into()),
        None => Ok(Vec::new()),
    }
}
