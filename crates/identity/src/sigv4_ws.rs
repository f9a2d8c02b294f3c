//! MQTT over WebSocket signed with SigV4: the Device SDK presigns `GET /mqtt` with query
//! parameters for the service `iotdevicegateway` (and appends its session token after
//! signing, which the verifier knows). A valid signature by a configured access key is an
//! IAM identity with full access to the account, as the configured keys are.

use std::collections::HashMap;

use ferrite_auth::sigv4::{Payload, SecretKey, SigV4Error, SignedRequest, Verifier};
use ferrite_broker::{HttpRequestHead, Revoker};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Service names a device-gateway signature may carry: the SDKs sign `iotdevicegateway`;
/// `iotdata` is what boto3 signs data-plane calls with.
const SERVICES: [&str; 2] = ["iotdevicegateway", "iotdata"];

/// Whether the upgrade request carries a presigned SigV4 query at all.
pub fn is_presigned(head: &HttpRequestHead) -> bool {
    head.query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("X-Amz-Algorithm=")))
}

/// Why a presigned upgrade was refused (logged; the client just sees the refusal).
#[derive(Debug)]
pub enum WsAuthError {
    Signature(SigV4Error),
    WrongService(String),
}

impl std::fmt::Display for WsAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsAuthError::Signature(e) => write!(f, "{}", e.aws_error().message),
            WsAuthError::WrongService(s) => {
                write!(f, "signed for service {s}, not iotdevicegateway")
            }
        }
    }
}

/// Verifies the upgrade request's presigned query; returns the signing access key id.
pub fn verify(
    verifier: &Verifier<HashMap<String, SecretKey>>,
    head: &HttpRequestHead,
) -> Result<String, WsAuthError> {
    let mut headers = HeaderMap::new();
    for (name, value) in &head.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    let request = SignedRequest {
        method: &head.method,
        path: &head.path,
        query: head.query.as_deref().unwrap_or(""),
        headers: &headers,
        payload: Payload::Bytes(b""),
    };
    let verified = verifier
        .verify(&request, ferrite_types::Clock::system().now_system_time())
        .map_err(WsAuthError::Signature)?;
    if !SERVICES.contains(&verified.service.as_str()) {
        return Err(WsAuthError::WrongService(verified.service));
    }
    Ok(verified.access_key_id)
}

/// Closes a SigV4 WebSocket connection once it is `lifetime` old (AWS:
/// `WEBSOCKET_TTL_EXPIRATION` after 24 hours), unless it ends first.
pub(crate) async fn close_at_ttl(
    revoker: Revoker,
    lifetime: std::time::Duration,
    client_id: String,
) {
    tokio::select! {
        _ = revoker.closed() => {}
        _ = tokio::time::sleep(lifetime) => {
            tracing::info!(client_id, "SigV4 WebSocket connection reached its maximum lifetime");
            revoker.websocket_ttl_expired();
        }
    }
}
