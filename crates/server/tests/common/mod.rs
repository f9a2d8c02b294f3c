//! The server tests' shared calls: signed `iot` calls that must succeed, and the test config.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code, unused_imports)]

use std::net::SocketAddr;

use ferrite_config::Config;
pub use ferrite_test_support::aws::{TEST_ACCESS_KEY_ID as AKID, send, signed_request as signed};
use ferrite_test_support::test_config;

/// The test config (free ports, `dir` as data directory), accepting [`AKID`].
pub fn config(dir: &std::path::Path) -> Config {
    test_config(dir)
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
