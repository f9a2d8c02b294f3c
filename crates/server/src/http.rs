//! The HTTP app both HTTP entry points serve (the API listener and the device port's HTTP
//! connections, both served by `ferrite-http-api`): every AWS API operation, plus the
//! process's own `/health` and Prometheus `/metrics`. Those two stay here because they are
//! about the process rather than any AWS service: `/metrics` encodes the registry of metrics
//! the server assembles from every subsystem, which the API edge has no business holding.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;

use crate::cluster::ClusterHealth;

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    cluster: Option<ClusterHealth>,
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = serde_json::json!({"status": "ok"});
    if let Some(cluster) = &state.cluster {
        body["cluster"] = cluster.to_json();
    }
    (
        StatusCode::OK,
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

/// The app both HTTP entry points serve.
pub fn app(
    registry: Arc<Registry>,
    api: Arc<ferrite_http_api::ApiState>,
    cluster: Option<ClusterHealth>,
) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(AppState { registry, cluster })
        .merge(ferrite_http_api::router(api))
}
