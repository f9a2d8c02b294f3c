//! The HTTP app both HTTP entry points serve (the API listener and the device port's HTTP
//! connections, both served by `ferrite-http-api`): every AWS API operation, plus the
//! process's own `/health` and Prometheus `/metrics`. Those two stay here because they are
//! about the process rather than any AWS service: `/metrics` encodes the registry of metrics
//! the server assembles from every subsystem, which the API edge has no business holding.
//!
//! A cluster node that lost its bus or its store says so: `/health` answers 503 with the
//! reason, and every API call is refused with AWS's `ServiceUnavailableException` (503) at
//! once rather than left to hang on an unreachable database.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;

use crate::cluster::{ClusterStatus, Degraded};

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    cluster: Option<ClusterStatus>,
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = serde_json::json!({"status": "ok"});
    let mut status = StatusCode::OK;
    if let Some(cluster) = &state.cluster {
        body["cluster"] = cluster.to_json();
        if let Some(degraded) = cluster.degraded() {
            // A load balancer's health check takes the node out until it recovers.
            status = StatusCode::SERVICE_UNAVAILABLE;
            body["status"] = "unavailable".into();
            body["reason"] = degraded.message().into();
        }
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            String::new(),
        ),
    }
}

/// AWS's answer while this node cannot serve: the model declares
/// `ServiceUnavailableException` (503) on every operation; SDKs retry it.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.message())]
struct Unavailable(Degraded);

impl ferrite_types::AwsException for Unavailable {
    fn exception_name(&self) -> &'static str {
        "ServiceUnavailableException"
    }

    fn undeclared_status(&self) -> u16 {
        503
    }
}

async fn refuse_while_degraded(
    State(cluster): State<ClusterStatus>,
    request: Request,
    next: Next,
) -> Response {
    match cluster.degraded() {
        Some(degraded) => ferrite_http_api::error_response(None, &Unavailable(degraded)),
        None => next.run(request).await,
    }
}

/// The app both HTTP entry points serve.
pub fn app(
    registry: Arc<Registry>,
    api: Arc<ferrite_http_api::ApiState>,
    cluster: Option<ClusterStatus>,
) -> Router {
    let mut api = ferrite_http_api::router(api);
    if let Some(cluster) = &cluster {
        api = api.layer(axum::middleware::from_fn_with_state(
            cluster.clone(),
            refuse_while_degraded,
        ));
    }
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(AppState { registry, cluster })
        .merge(api)
}
