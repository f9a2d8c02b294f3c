//! The `/console` routes as the API listener serves them: merged beside a fallback that
//! stands for the AWS API, files with their types and caching, the page for client-side
//! routes, revalidation, and the settings the page reads.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ferrite_console::{ConsoleSettings, files, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn app() -> Router {
    Router::new()
        .fallback(|| async { "aws api" })
        .merge(router(ConsoleSettings {
            region: "eu-west-1".into(),
            mqtt_ws_port: Some(8083),
            mqtt_wss_port: None,
        }))
}

async fn get(path: &str, etag: Option<&str>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::get(path);
    if let Some(e) = etag {
        req = req.header(header::IF_NONE_MATCH, e);
    }
    let res = app()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

fn index_html() -> Vec<u8> {
    ferrite_console::asset("index.html")
        .expect("console/dist is built")
        .body
        .to_vec()
}

#[tokio::test]
async fn the_page_is_served_for_the_root_and_every_client_route() {
    for path in ["/console/", "/console/things", "/console/mqtt/deep/link"] {
        let (status, headers, body) = get(path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(body, index_html(), "{path}");
    }
    let (status, headers, _) = get("/console", None).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(headers[header::LOCATION], "/console/");
}

#[tokio::test]
async fn bundle_files_have_their_type_and_are_cached_for_good() {
    let js = files()
        .find(|a| a.path.starts_with("assets/") && a.path.ends_with(".js"))
        .expect("the build has a script bundle");
    let (status, headers, body) = get(&format!("/console/{}", js.path), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert!(
        headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(body, js.body);
    // index.html loads exactly the embedded bundle, so the two come from one build.
    let index = String::from_utf8(index_html()).unwrap();
    assert!(index.contains(&format!("/console/{}", js.path)), "{index}");
}

#[tokio::test]
async fn a_missing_bundle_file_is_not_found_rather_than_the_page() {
    let (status, _, _) = get("/console/assets/index-gone.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_known_etag_is_answered_not_modified() {
    let (_, headers, _) = get("/console/", None).await;
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    let (status, _, body) = get("/console/", Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    let (status, _, _) = get("/console/", Some("\"other\"")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn settings_name_the_region_and_websocket_ports() {
    let (status, _, body) = get("/console/settings.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"region": "eu-west-1", "mqtt_ws_port": 8083, "mqtt_wss_port": null})
    );
}

#[tokio::test]
async fn other_paths_stay_with_the_api() {
    for path in ["/things", "/consoles", "/"] {
        let (status, _, body) = get(path, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"aws api", "{path}");
    }
}
