//! The one request path every AWS call takes.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrite_api_model::{Service, decode_request, encode_response, resolve};
use ferrite_auth::sigv4::{Payload, SignedRequest};
use ferrite_registry::Scope;

use ferrite_transport::PeerCertificate;

use crate::data_plane::{self, Caller};
use crate::{ApiError, ApiState, MAX_BODY_BYTES, dispatch};

/// Path of the test hook that empties the account (enabled by config only).
const RESET_PATH: &str = "/_ferrite/reset";

pub(crate) async fn handle(State(state): State<Arc<ApiState>>, req: Request) -> Response {
    match serve(&state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn serve(state: &ApiState, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                "RequestEntityTooLargeException",
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body exceeds {MAX_BODY_BYTES} bytes."),
            )
        })?;
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let certificate = parts.extensions.get::<PeerCertificate>();
    if let (Some(cert), false) = (certificate, is_signed(&parts.headers, query)) {
        return serve_device(state, &parts, cert, &body).await;
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
        .verify(&signed, SystemTime::now())
        .map_err(|e| ApiError::from_sigv4(&e))?;

    if state.test_hooks && parts.method == Method::POST && path == RESET_PATH {
        state
            .registry
            .clear()
            .await
            .map_err(|e| ApiError::from_registry(Service::Iot, e))?;
        tracing::info!(access_key_id = %verified.access_key_id, "account reset through the test hook");
        return Ok(StatusCode::NO_CONTENT.into_response());
    }

    let scope = Scope {
        region: verified.region,
        account: state.account_id.clone(),
    };
    let service = Service::from_signing_name(&verified.service);
    call(state, &parts, &body, service, &scope, &Caller::Iam).await
}

/// Whether the request carries a SigV4 signature (header or presigned form).
fn is_signed(headers: &http::HeaderMap, query: &str) -> bool {
    headers.contains_key(http::header::AUTHORIZATION)
        || query.split('&').any(|p| p.starts_with("X-Amz-Signature="))
}

/// A request authenticated by the device port's client certificate.
async fn serve_device(
    state: &ApiState,
    parts: &http::request::Parts,
    cert: &PeerCertificate,
    body: &[u8],
) -> Result<Response, ApiError> {
    let Some(plane) = &state.data_plane else {
        return Err(data_plane::refused(data_plane::CertificateRefused::Denied));
    };
    // The server puts the client's address beside the certificate.
    let peer = parts
        .extensions
        .get::<std::net::SocketAddr>()
        .copied()
        .ok_or_else(|| data_plane::refused(data_plane::CertificateRefused::Unavailable))?;
    let perms = plane
        .certificate_permissions(&cert.der, peer)
        .await
        .map_err(data_plane::refused)?;
    let scope = Scope {
        region: plane.region().to_owned(),
        account: state.account_id.clone(),
    };
    call(
        state,
        parts,
        body,
        Service::from_signing_name("iotdata"),
        &scope,
        &Caller::Device(perms),
    )
    .await
}

/// Routes, decodes, dispatches and encodes one authenticated call.
async fn call(
    state: &ApiState,
    parts: &http::request::Parts,
    body: &[u8],
    service_hint: Option<Service>,
    scope: &Scope,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let route = resolve(parts.method.as_str(), path, query, service_hint)
        .map_err(|e| ApiError::from_route(&e))?;
    let op = route.op;
    let service = op.service();
    if matches!(caller, Caller::Device(_)) && service != Service::IotData {
        return Err(data_plane::forbidden_outside_data_plane());
    }
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()));
    let input = decode_request(op, &route.labels, query, headers, body)
        .map_err(|e| ApiError::from_validation(service, &e))?;
    tracing::debug!(operation = op.name(), region = %scope.region, "api call");
    let output = dispatch::dispatch(state, scope, caller, op, input).await?;
    let encoded = encode_response(op, &output).map_err(|e| {
        tracing::error!(operation = op.name(), error = %e, "cannot encode an output");
        ApiError::new(
            "InternalFailureException",
            StatusCode::INTERNAL_SERVER_ERROR,
            "An internal error occurred.",
        )
    })?;
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
