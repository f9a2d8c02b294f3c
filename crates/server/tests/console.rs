//! The web console as `ferrite serve` wires it: on the API listener with the bound WebSocket
//! ports in its settings, not on the device port, and gone when `console.enabled` is off.

// Tests spawn helper servers: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::sync::Arc;

use ferrite_test_support::{TestServer, WAIT, aws::send};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
}

fn is_console_page(response: &str) -> bool {
    response.starts_with("HTTP/1.1 200 ")
        && response.contains("content-type: text/html; charset=utf-8")
        && response.contains("<div id=\"app\"></div>")
}

#[tokio::test]
async fn the_api_listener_serves_the_console_and_its_settings() {
    let srv = TestServer::start().await;
    let api = srv.api_addr();
    for path in ["/console/", "/console/things"] {
        let response = send(api, get(path)).await;
        assert!(is_console_page(&response), "{path}: {response}");
    }
    let response = send(api, get("/console/settings.json")).await;
    let (_, body) = response.split_once("\r\n\r\n").expect("a head");
    let settings: serde_json::Value = serde_json::from_str(body).expect("json");
    let addrs = srv.addrs();
    assert_eq!(settings["region"], srv.config.aws.region.as_str());
    assert_eq!(
        settings["mqtt_ws_port"],
        addrs.ws.expect("ws listener").port()
    );
    assert_eq!(
        settings["mqtt_wss_port"],
        addrs.wss.expect("wss listener").port()
    );
    // The API keeps every other path: unsigned, ListThings is refused as AWS refuses it.
    let response = send(api, get("/things")).await;
    assert!(!response.starts_with("HTTP/1.1 200 "), "{response}");
    srv.shutdown().await;
}

#[tokio::test]
async fn the_device_port_does_not_serve_the_console() {
    let srv = TestServer::start().await;
    let ca = std::fs::read(srv.ca_file()).expect("ca file");
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&ca).expect("ca pem"))
        .expect("root");
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let tcp = TcpStream::connect(srv.addrs().https.expect("https listener"))
        .await
        .expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = tokio::time::timeout(
        WAIT,
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .expect("tls in time")
    .expect("tls handshake");
    tls.write_all(get("/console/").as_bytes())
        .await
        .expect("send");
    let mut response = Vec::new();
    // The server closes after the response; a TLS close without close_notify is fine.
    let _ = tokio::time::timeout(WAIT, tls.read_to_end(&mut response))
        .await
        .expect("response in time");
    let response = String::from_utf8(response).expect("utf-8");
    assert!(response.starts_with("HTTP/1.1 "), "{response}");
    assert!(!is_console_page(&response), "{response}");
    srv.shutdown().await;
}

#[tokio::test]
async fn console_enabled_false_stops_serving_it() {
    let srv = TestServer::start_with(|c| c.console.enabled = false).await;
    let api = srv.api_addr();
    let response = send(api, get("/console/")).await;
    assert!(response.starts_with("HTTP/1.1 "), "{response}");
    assert!(!is_console_page(&response), "{response}");
    // The rest of the listener is untouched.
    let response = send(api, get("/health")).await;
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    srv.shutdown().await;
}
