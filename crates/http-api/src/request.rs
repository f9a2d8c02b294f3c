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

    let route = resolve(
        parts.method.as_str(),
        path,
        query,
        Service::from_signing_name(&verified.service),
    )
    .map_err(|e| ApiError::from_route(&e))?;
    let op = route.op;
    let service = op.service();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()));
    let input = decode_request(op, &route.labels, query, headers, &body)
        .map_err(|e| ApiError::from_validation(service, &e))?;
    let scope = Scope {
        region: verified.region,
        account: state.account_id.clone(),
    };
    tracing::debug!(operation = op.name(), region = %scope.region, "api call");
    let output = dispatch::dispatch(state, &scope, op, input).await?;
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
