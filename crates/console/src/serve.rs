//! The `/console` routes: files by path, `index.html` for every other path below
//! `/console/` (the page routes on the client, so a reload of `/console/things` must get
//! the page), ETag revalidation, and `settings.json`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Serialize;

use crate::assets::{Asset, asset};

/// What the browser cannot find out by itself, served as `/console/settings.json`. Nothing
/// here is secret: it is what `listeners.json` and the config already say.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConsoleSettings {
    /// The region the sign-in form proposes (`aws.region`).
    pub region: String,
    /// The port of MQTT over WebSocket (`/mqtt`), when that listener is on.
    pub mqtt_ws_port: Option<u16>,
    /// The port of MQTT over secure WebSocket, when that listener is on.
    pub mqtt_wss_port: Option<u16>,
}

/// The console's routes, to merge into the API listener's router. They are plain routes, so
/// the API's fallback (every AWS operation) keeps every other path.
pub fn router(settings: ConsoleSettings) -> Router {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(index))
        .route("/console/settings.json", get(settings_json))
        .route("/console/{*path}", get(file))
        .with_state(std::sync::Arc::new(settings))
}

async fn settings_json(State(settings): State<std::sync::Arc<ConsoleSettings>>) -> Response {
    let body = serde_json::to_string(&*settings).unwrap_or_else(|_| "{}".into());
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn index(headers: HeaderMap) -> Response {
    match asset("index.html") {
        Some(a) => respond(a, &headers),
        None => not_built(),
    }
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    if let Some(a) = asset(&path) {
        return respond(a, &headers);
    }
    // A missing bundle file is a real 404 (a stale page asking for an old build's file must
    // fail visibly, not get HTML as JavaScript); any other path is a page of the console.
    if path.starts_with("assets/") {
        return (StatusCode::NOT_FOUND, "no such console asset").into_response();
    }
    index(headers).await
}

fn respond(a: Asset, request: &HeaderMap) -> Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag || t.trim() == "*"));
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from_static(a.etag));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(a.cache_control()),
    );
    // The page talks only to its own origin and the WebSocket listeners, both named at run
    // time, so the policy only narrows framing and sniffing.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type()),
    );
    (StatusCode::OK, headers, a.body).into_response()
}

fn not_built() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "this build of ferrite has no console: run `npm ci && npm run build` in console/ and rebuild",
    )
        .into_response()
}
