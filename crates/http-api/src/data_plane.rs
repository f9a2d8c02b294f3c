//! The device data plane behind the API: requests on the device port authenticated by a
//! client certificate instead of SigV4, and iot-data Publish. The broker and the device
//! authorizer live above this crate, so the server wires them in through [`DataPlane`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use ferrite_broker::{Message, Permissions};
use ferrite_mqtt_codec::{Properties, QoS};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiError;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a certificate does not authenticate an HTTPS request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateRefused {
    /// Unknown, not ACTIVE, or issued by a CA that is not ACTIVE.
    Denied,
    /// The registry could not be asked.
    Unavailable,
}

/// What a failed publish tells the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishRefused {
    /// Topic or payload breaks a limit; the text says which.
    Invalid(String),
    Unavailable,
}

pub trait DataPlane: Send + Sync + 'static {
    /// The permissions of the holder of this client certificate (DER).
    fn certificate_permissions<'a>(
        &'a self,
        der: &'a [u8],
        peer: SocketAddr,
    ) -> BoxFuture<'a, Result<Arc<dyn Permissions>, CertificateRefused>>;

    /// Routes a message to subscribers (and stores it when retained).
    fn publish(&self, msg: Message) -> BoxFuture<'_, Result<(), PublishRefused>>;

    /// The region in ARNs for certificate-authenticated callers (they sign nothing).
    fn region(&self) -> &str;

    /// The retained message on `topic` (GetRetainedMessage).
    fn retained(&self, topic: &str) -> Option<Arc<Message>>;

    /// Retained messages in topic order after `after`, at most `limit`, and whether more
    /// follow (ListRetainedMessages).
    fn retained_page(&self, after: Option<&str>, limit: usize) -> (Vec<Arc<Message>>, bool);

    /// GetThingShadow / UpdateThingShadow / DeleteThingShadow: the response body.
    fn shadow<'a>(
        &'a self,
        op: ShadowOp,
        thing: &'a str,
        shadow: Option<&'a str>,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, ShadowFailure>>;

    /// ListNamedShadowsForThing: names after `after` (at most `limit`) and whether more follow.
    fn list_named_shadows<'a>(
        &'a self,
        thing: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<(Vec<String>, bool), ShadowFailure>>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadowOp {
    Get,
    Update,
    Delete,
}

/// A shadow call's failure as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowFailure {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl From<ShadowFailure> for ApiError {
    fn from(f: ShadowFailure) -> ApiError {
        ApiError::new(
            f.code,
            StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            f.message,
        )
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShadowInput {
    thing_name: String,
    shadow_name: Option<String>,
    /// The body, base64 (blob payloads are decoded that way).
    payload: Option<String>,
}

/// The three shadow calls: the caller's policy decides for devices
/// (`iot:{Get,Update,Delete}ThingShadow` on `thing/{thing}[/{shadow}]`).
pub(crate) async fn shadow(
    plane: &dyn DataPlane,
    caller: &Caller,
    op: ShadowOp,
    input: Value,
) -> Result<Value, ApiError> {
    let input: ShadowInput =
        serde_json::from_value(input).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if let Caller::Device(perms) = caller {
        let action = match op {
            ShadowOp::Get => "iot:GetThingShadow",
            ShadowOp::Update => "iot:UpdateThingShadow",
            ShadowOp::Delete => "iot:DeleteThingShadow",
        };
        let resource = match &input.shadow_name {
            Some(s) => format!("{}/{s}", input.thing_name),
            None => input.thing_name.clone(),
        };
        if !perms.allows(action, "thing", &resource) {
            return Err(ApiError::new(
                "ForbiddenException",
                StatusCode::FORBIDDEN,
                "The certificate's policies do not allow this shadow call.",
            ));
        }
    }
    let payload = match input.payload {
        Some(b64) => STANDARD
            .decode(b64)
            .map_err(|_| ApiError::invalid_request("The payload is not valid."))?,
        None => Vec::new(),
    };
    let body = plane
        .shadow(
            op,
            &input.thing_name,
            input.shadow_name.as_deref(),
            &payload,
        )
        .await?;
    Ok(json!({ "payload": STANDARD.encode(body) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListNamedInput {
    thing_name: String,
    next_token: Option<String>,
    page_size: Option<usize>,
}

/// ListNamedShadowsForThing (devices need `iot:ListNamedShadowsForThing` on `thing/{thing}`).
pub(crate) async fn list_named_shadows(
    plane: &dyn DataPlane,
    caller: &Caller,
    input: Value,
) -> Result<Value, ApiError> {
    let input: ListNamedInput =
        serde_json::from_value(input).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if let Caller::Device(perms) = caller
        && !perms.allows("iot:ListNamedShadowsForThing", "thing", &input.thing_name)
    {
        return Err(ApiError::new(
            "ForbiddenException",
            StatusCode::FORBIDDEN,
            "The certificate's policies do not allow listing these shadows.",
        ));
    }
    let after = decode_token(input.next_token.as_deref())?;
    let limit = input.page_size.unwrap_or(25).clamp(1, 100);
    let (names, more) = plane
        .list_named_shadows(&input.thing_name, after.as_deref(), limit)
        .await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut out = json!({ "results": names, "timestamp": now });
    if more && let Some(last) = names.last() {
        out["nextToken"] = json!(STANDARD.encode(last));
    }
    Ok(out)
}

/// Who is calling.
pub enum Caller {
    /// A SigV4 signature by a configured access key: the account's administrator.
    Iam,
    /// A device's client certificate, with its IoT policies.
    Device(Arc<dyn Permissions>),
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new("UnauthorizedException", StatusCode::UNAUTHORIZED, message)
}

/// iot-data Publish's input as the model decodes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublishInput {
    topic: String,
    qos: Option<u8>,
    retain: Option<bool>,
    /// The body, base64 (blob payloads are decoded that way).
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

/// iot-data Publish: checks `iot:Publish` (and `iot:RetainPublish`) for devices, then hands
/// the message to the broker.
pub(crate) async fn publish(
    plane: &dyn DataPlane,
    caller: &Caller,
    input: Value,
) -> Result<Value, ApiError> {
    let input: PublishInput =
        serde_json::from_value(input).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let retain = input.retain.unwrap_or(false);
    let qos = match input.qos.unwrap_or(0) {
        0 => QoS::AtMostOnce,
        _ => QoS::AtLeastOnce,
    };
    if !ferrite_topic::client_may_publish(&input.topic) {
        return Err(unauthorized(&format!(
            "Publishing to the reserved topic {} is not allowed.",
            input.topic
        )));
    }
    if let Caller::Device(perms) = caller
        && !perms.publish(&input.topic, retain)
    {
        return Err(unauthorized(
            "The certificate's policies do not allow this publish.",
        ));
    }
    let payload = match input.payload {
        Some(b64) => STANDARD
            .decode(b64)
            .map_err(|_| ApiError::invalid_request("The payload is not valid."))?,
        None => Vec::new(),
    };
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
                ApiError::invalid_request("correlationData must be base64-encoded.")
            })?)),
            None => None,
        },
        message_expiry_interval: match input.message_expiry {
            Some(s) if s < 0 => {
                return Err(ApiError::invalid_request(
                    "messageExpiry must not be negative.",
                ));
            }
            Some(s) => Some(u32::try_from(s).unwrap_or(u32::MAX)),
            None => None,
        },
        ..Properties::default()
    };
    let msg = Message::new(
        Arc::from(input.topic.as_str()),
        Bytes::from(payload),
        qos,
        retain,
        &properties,
        Arc::new(ferrite_types::Origin {
            client_id: None,
            principal: None,
            source_ip: None,
            protocol: ferrite_types::Protocol::Http,
            node: ferrite_types::message::local_node(),
        }),
        ferrite_types::clock::system_now_ms(),
    );
    match plane.publish(msg).await {
        Ok(()) => Ok(json!({})),
        Err(PublishRefused::Invalid(m)) => Err(ApiError::invalid_request(m)),
        Err(PublishRefused::Unavailable) => Err(ApiError::new(
            "InternalFailureException",
            StatusCode::INTERNAL_SERVER_ERROR,
            "An internal error occurred.",
        )),
    }
}

#[derive(Deserialize)]
struct TopicInput {
    topic: String,
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new("ForbiddenException", StatusCode::FORBIDDEN, message)
}

/// GetRetainedMessage (devices need `iot:GetRetainedMessage` on `topic/{topic}`).
pub(crate) fn get_retained(
    plane: &dyn DataPlane,
    caller: &Caller,
    input: Value,
) -> Result<Value, ApiError> {
    let input: TopicInput =
        serde_json::from_value(input).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if let Caller::Device(perms) = caller
        && !perms.allows("iot:GetRetainedMessage", "topic", &input.topic)
    {
        return Err(forbidden(
            "The certificate's policies do not allow reading this retained message.",
        ));
    }
    let Some(msg) = plane.retained(&input.topic) else {
        return Err(ApiError::new(
            "ResourceNotFoundException",
            StatusCode::NOT_FOUND,
            format!("No retained message exists for topic {}.", input.topic),
        ));
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

/// ListRetainedMessages (devices need `iot:ListRetainedMessages`).
pub(crate) fn list_retained(
    plane: &dyn DataPlane,
    caller: &Caller,
    input: Value,
) -> Result<Value, ApiError> {
    let input: ListRetainedInput =
        serde_json::from_value(input).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if let Caller::Device(perms) = caller
        && !perms.allows("iot:ListRetainedMessages", "topic", "*")
    {
        return Err(forbidden(
            "The certificate's policies do not allow listing retained messages.",
        ));
    }
    let after = decode_token(input.next_token.as_deref())?;
    let limit = input.max_results.unwrap_or(50).clamp(1, 200);
    let (messages, more) = plane.retained_page(after.as_deref(), limit);
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

/// The position a `nextToken` stands for (the last name or topic returned).
fn decode_token(token: Option<&str>) -> Result<Option<String>, ApiError> {
    match token {
        Some(t) => STANDARD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| ApiError::invalid_request("The nextToken is invalid.")),
        None => Ok(None),
    }
}

/// `[{"k": "v"}, {"k2": "v2"}]` → MQTT 5 user properties, in order.
fn user_properties(v: Option<Value>) -> Result<Vec<(String, String)>, ApiError> {
    let invalid = || {
        ApiError::invalid_request(
            "userProperties must be a JSON array of objects with string values.",
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

/// Device callers are confined to the data plane.
pub(crate) fn forbidden_outside_data_plane() -> ApiError {
    ApiError::new(
        "ForbiddenException",
        StatusCode::FORBIDDEN,
        "Requests authenticated by a client certificate may only call the data plane.",
    )
}

pub(crate) fn refused(e: CertificateRefused) -> ApiError {
    match e {
        CertificateRefused::Denied => {
            unauthorized("The client certificate is not registered and active.")
        }
        CertificateRefused::Unavailable => ApiError::new(
            "ServiceUnavailableException",
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is temporarily unavailable.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(e.code, "InvalidRequestException");
        }
    }
}
