//! SigV4-signed calls to the API listener, for Rust tests that drive the AWS API without an
//! SDK (the Python suites use boto3): requests signed as the AWS SDKs sign them, sent as raw
//! HTTP/1.1 with `Connection: close`.

// The server verifies signatures against the real clock, so tests sign with it.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::WAIT;

/// The access key pair every test config accepts (`crate::test_config`).
pub const TEST_ACCESS_KEY_ID: &str = "AKIAFERRITETESTKEY01";
pub const TEST_SECRET_ACCESS_KEY: &str = "ferrite/test/secret/key/0000000000000000";

/// The status and body of an API response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// A call to `service` (`iot`, `iotdata`, ...) at `addr`, signed with the test key pair, as
/// raw HTTP/1.1.
pub fn signed_request(
    addr: SocketAddr,
    service: &str,
    method: &str,
    path_and_query: &str,
    body: &str,
) -> String {
    let host = addr.to_string();
    let identity = Credentials::new(
        TEST_ACCESS_KEY_ID,
        TEST_SECRET_ACCESS_KEY,
        None,
        None,
        "test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let url = format!("http://{host}{path_and_query}");
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
    .expect("signable request");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut request = format!("{method} {path_and_query} HTTP/1.1\r\n");
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
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the api listener");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("response timed out")
        .expect("read response");
    String::from_utf8(response).expect("utf-8 response")
}

/// A signed call; its status and body.
pub async fn signed_call(
    addr: SocketAddr,
    service: &str,
    method: &str,
    path_and_query: &str,
    body: &str,
) -> Reply {
    let response = send(
        addr,
        signed_request(addr, service, method, path_and_query, body),
    )
    .await;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Reply { status, body }
}

/// A signed `iot` call to `srv`'s API with a JSON body (`Value::Null`: none): the status and
/// the JSON answered (`Null` when the body is not JSON).
pub async fn iot_call(
    srv: &crate::TestServer,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let reply = signed_call(srv.api_addr(), "iot", method, path, &text).await;
    let value = serde_json::from_str(&reply.body).unwrap_or(serde_json::Value::Null);
    (reply.status, value)
}

/// [`iot_call`] that must succeed: the JSON answered.
pub async fn iot_ok(
    srv: &crate::TestServer,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let (status, value) = iot_call(srv, method, path, body).await;
    assert_eq!(status, 200, "{method} {path}: {value}");
    value
}
