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
use crate::serve::DevicePort;
use crate::{ApiError, ApiState, MAX_BODY_BYTES};

/// Path of the test hook that empties the account (enabled by config only).
const RESET_PATH: &str = "/_ferrite/reset";

/// Ferrite's rule test (no AWS operation): evaluates a rule without creating it.
const RULE_TEST_PATH: &str = "/_ferrite/rules/test";

/// ConfirmTopicRuleDestination's path; an unsigned GET of it is a confirmation request's
/// `enableUrl`.
const CONFIRM_DESTINATION: &str = "/confirmdestination/";

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
    let has_signature = is_signed(&parts.headers, query);
    if let (&Method::GET, false, Some(token)) = (
        &parts.method,
        has_signature,
        path.strip_prefix(CONFIRM_DESTINATION),
    ) {
        return enable_destination(state, token).await;
    }
    let api_url = api_url(&parts);
    let certificate = parts.extensions.get::<PeerCertificate>();
    if let (Some(cert), false) = (certificate, has_signature) {
        let cx = device_call(state, cert, peer, api_url)
            .await
            .map_err(early)?;
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

    if parts.method == Method::POST && path == RULE_TEST_PATH {
        return Ok(rule_test(state, &body));
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
        api_url,
    };
    call(
        &cx,
        &parts,
        &body,
        Service::from_signing_name(&verified.service),
    )
    .await
}

/// `POST /_ferrite/rules/test`: the body is a [`ferrite_rules_service::RuleTest`] (camelCase
/// JSON: sql, awsIotSqlVersion, topic, payload or payloadBase64, clientId, templates).
fn rule_test(state: &ApiState, body: &[u8]) -> Response {
    let outcome = serde_json::from_slice::<ferrite_rules_service::RuleTest>(body)
        .map_err(|e| ApiError::from(RequestError::Invalid(e.to_string())))
        .and_then(|test| {
            ferrite_rules_service::test_rule(&test, &state.account_id).map_err(ApiError::from)
        });
    match outcome {
        Ok(out) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            out.to_string(),
        )
            .into_response(),
        Err(e) => e.response(Some(Service::Iot)),
    }
}

/// The `enableUrl` of a topic rule destination's confirmation request, browsed (or fetched by
/// the endpoint that received it): the token alone confirms and enables the destination.
async fn enable_destination(state: &ApiState, token: &str) -> Result<Response, Response> {
    let req = ferrite_rules_service::ConfirmTopicRuleDestination {
        confirmation_token: token.to_owned(),
    };
    state
        .rules
        .confirm_topic_rule_destination(req, true)
        .await
        .map_err(|e| ApiError::from(e).response(Some(Service::Iot)))?;
    let body = r#"{"message":"The topic rule destination is confirmed and enabled."}"#;
    Ok((StatusCode::OK, [("content-type", "application/json")], body).into_response())
}

/// This API's address as the client reached it: the request's `host`, with the scheme of the
/// listener (the device port is TLS). A host with characters no authority has is not echoed.
fn api_url(parts: &http::request::Parts) -> String {
    let scheme = if parts.extensions.get::<DevicePort>().is_some() {
        "https"
    } else {
        "http"
    };
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
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
    api_url: String,
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
        api_url,
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
