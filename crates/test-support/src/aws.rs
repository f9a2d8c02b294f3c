//! SigV4-signed calls to the API listener, for Rust tests that drive the AWS API without an
//! SDK (the Python suites use boto3).

// The server verifies signatures against the real clock, so tests sign with it.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::WAIT;

/// The access key pair a test server is started with (see [`crate::TestServer::signed`]).
pub const TEST_ACCESS_KEY_ID: &str = "AKIAFERRITETESTKEY01";
pub const TEST_SECRET_ACCESS_KEY: &str = "ferrite/test/secret/key/0000000000000000";

/// The status and body of an API response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// Sends `method path` with `body`, signed for `service` (`iot`, `iotdata`, ...) with the
/// test key pair, over plain HTTP to `addr`.
pub async fn signed_call(
    addr: SocketAddr,
    service: &str,
    method: &str,
    path_and_query: &str,
    body: &str,
) -> Reply {
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
    let signable = SignableRequest::new(
        method,
        url.as_str(),
        [("host", host.as_str())].into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .expect("signable request");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut request = format!("{method} {path_and_query} HTTP/1.1\r\nhost: {host}\r\n");
    for (name, value) in instructions.headers() {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "content-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the api listener");
    s.write_all(request.as_bytes()).await.expect("send request");
    let mut out = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut out))
        .await
        .expect("response timed out")
        .expect("read response");
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Reply { status, body }
}
