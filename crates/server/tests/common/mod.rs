//! Signed AWS calls over raw HTTP/1.1 for the server's tests, and a config with known keys.

// Tests spawn helper servers and sign with real time: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use ferrite_config::{AccessKey, Config};
use ferrite_test_support::{WAIT, test_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const AKID: &str = "AKIAFERRITESERVER001";
pub const SECRET: &str = "server/test/secret/000000000000000000000";

/// The test config (free ports, `dir` as data directory) accepting [`AKID`].
pub fn config(dir: &std::path::Path) -> Config {
    let mut cfg = test_config(dir);
    cfg.aws.credentials = vec![AccessKey {
        access_key_id: AKID.into(),
        secret_access_key: SECRET.into(),
    }];
    cfg
}

/// A call to `service` (`iot`, `iotdata`) signed as the AWS SDKs sign it, as raw HTTP/1.1
/// with `Connection: close`.
pub fn signed(addr: SocketAddr, service: &str, method: &str, path: &str, body: &str) -> String {
    let host = addr.to_string();
    let identity = Credentials::new(AKID, SECRET, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("params")
        .into();
    let url = format!("http://{host}{path}");
    let headers = [
        ("host", host.as_str()),
        ("content-type", "application/json"),
    ];
    let signable = SignableRequest::new(
        method,
        url.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers.iter().copied().chain(instructions.headers()) {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    request
}

/// Sends `request` on a new connection and returns the whole response.
pub async fn send(addr: SocketAddr, request: String) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("read");
    String::from_utf8(response).expect("utf-8")
}

/// An `iot` call on the API port that must answer 200; its JSON body (`null` when empty).
pub async fn iot_ok(api: SocketAddr, method: &str, path: &str, body: &str) -> serde_json::Value {
    let response = send(api, signed(api, "iot", method, path, body)).await;
    assert!(
        response.starts_with("HTTP/1.1 200 "),
        "{method} {path}: {response}"
    );
    let (_, body) = response.split_once("\r\n\r\n").expect("a head");
    if body.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_str(body).expect("json body")
}
