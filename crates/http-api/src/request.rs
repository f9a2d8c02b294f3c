//! The one request path every AWS call takes: body limit → authentication (SigV4, or on the
//! device port a client certificate) → route → decode and validate → dispatch → encode.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrite_api_model::{Service, decode_request, encode_response, resolve};
use ferrite_auth::sigv4::{Payload, SignedRequest};
use ferrite_identity::HttpAuthError;
use ferrite_registry::Scope;
use ferrite_transport::PeerCertificate;

use crate::call::{Call, Caller};
use crate::dispatch::dispatch;
use crate::error::RequestError;
use crate::{ApiError, ApiState, MAX_BODY_BYTES};

/// Path of the test hook that empties the account (enabled by config only).
const RESET_PATH: &str = "/_ferrite/reset";

pub(crate) async fn handle(State(state): State<Arc<ApiState>>, req: Request) -> Response {
    serve(&state, req).await.unwrap_or_else(|error| error)
}

/// Errors found before the operation (and so its service) is known.
fn early(e: impl Into<ApiError>) -> Response {
    e.into().response(None)
}

async fn serve(state: &ApiState, req: Request) -> Result<Response, Response> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            early(RequestError::BodyTooLarge {
                limit: MAX_BODY_BYTES,
            })
        })?;
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let certificate = parts.extensions.get::<PeerCertificate>();
    if let (Some(cert), false) = (certificate, is_signed(&parts.headers, query)) {
        let cx = device_call(state, cert, peer).await.map_err(early)?;
        return call(&cx, &parts, &body, Service::from_signing_name("iotdata")).await;
    }
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path,
        query,
        headers: &parts.headers,
        payload: Payload::Bytes(&body),
    };
    let verified = state
        .verifier
        .verify(&signed, ferrite_types::Clock::system().now_system_time())
        .map_err(early)?;

    if state.test_hooks && parts.method == Method::POST && path == RESET_PATH {
        state
            .registry
            .clear()
            .await
            .map_err(|e| ApiError::from(e).response(Some(Service::Iot)))?;
        tracing::info!(access_key_id = %verified.access_key_id, "account reset through the test hook");
        return Ok(StatusCode::NO_CONTENT.into_response());
    }

    let cx = Call {
        state,
        scope: Scope {
            region: verified.region,
            account: state.account_id.clone(),
        },
        caller: Caller::Iam {
            access_key_id: verified.access_key_id,
        },
        peer,
    };
    call(
        &cx,
        &parts,
        &body,
        Service::from_signing_name(&verified.service),
    )
    .await
}

/// Whether the request carries a SigV4 signature (header or presigned form).
fn is_signed(headers: &http::HeaderMap, query: &str) -> bool {
    headers.contains_key(http::header::AUTHORIZATION)
        || query.split('&').any(|p| p.starts_with("X-Amz-Signature="))
}

/// A request authenticated by the device port's client certificate: the device authorizer
/// decides what the certificate's holder may do.
async fn device_call<'a>(
    state: &'a ApiState,
    cert: &PeerCertificate,
    peer: Option<SocketAddr>,
) -> Result<Call<'a>, ApiError> {
    let Some(data) = &state.data else {
        return Err(HttpAuthError::Denied("no device authorizer").into());
    };
    // The device port puts the client's address beside the certificate.
    let peer_addr = peer.ok_or(HttpAuthError::Unavailable)?;
    let permissions = data
        .devices
        .certificate_permissions(&cert.der, peer_addr)
        .await?;
    Ok(Call {
        state,
        scope: Scope {
            region: data.region.clone(),
            account: state.account_id.clone(),
        },
        caller: Caller::Device {
            certificate_id: cert.certificate_id.clone(),
            permissions,
        },
        peer,
    })
}

/// Routes, decodes, dispatches and encodes one authenticated call.
async fn call(
    cx: &Call<'_>,
    parts: &http::request::Parts,
    body: &[u8],
    service_hint: Option<Service>,
) -> Result<Response, Response> {
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let route = resolve(parts.method.as_str(), path, query, service_hint)
        .map_err(RequestError::from)
        .map_err(early)?;
    let op = route.op;
    let service = op.service();
    let failed = |e: ApiError| e.response(Some(service));
    if matches!(cx.caller, Caller::Device { .. }) && service != Service::IotData {
        return Err(failed(
            RequestError::Forbidden(
                "Requests authenticated by a client certificate may only call the data plane.",
            )
            .into(),
        ));
    }
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()));
    let input = decode_request(op, &route.labels, query, headers, body)
        .map_err(|e| failed(RequestError::from(e).into()))?;
    tracing::debug!(operation = op.name(), region = %cx.scope.region, "api call");
    let output = dispatch(cx, op, input).await.map_err(failed)?;
    let encoded = encode_response(op, &output).map_err(|e| failed(RequestError::from(e).into()))?;
    let mut response = Response::new(Body::from(encoded.body));
    *response.status_mut() = StatusCode::from_u16(encoded.status).unwrap_or(StatusCode::OK);
    for (name, value) in encoded.headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    Ok(response)
}
