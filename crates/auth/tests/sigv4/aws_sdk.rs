//! Requests signed by the AWS SDK for Rust's signer (`aws-sigv4`) verify.

use std::time::Duration;

use crate::common::{AKID, NOON, Signing, TOKEN, WireRequest, at, raw_query_param};

fn host() -> (&'static str, &'static str) {
    ("host", "ferrite.test:8443")
}

#[test]
fn get_with_repeated_keys_and_encoded_characters() {
    let request = Signing::iot().sign(&WireRequest::new(
        "GET",
        "/things?b=2&a=z&a=y&name=dark%20blue%2Fgrey&sym=%24%3A%7E%21&utf=%E1%88%B4&flag",
        &[host()],
        b"",
    ));
    assert!(request.headers.contains_key("authorization"));
    let verified = request.verify_at(at(NOON)).unwrap();
    assert_eq!(verified.access_key_id, AKID);
    assert_eq!(verified.region, "eu-west-1");
    assert_eq!(verified.service, "iot");
    assert_eq!(verified.date, at(NOON));
    assert_eq!(verified.session_token, None);
}

#[test]
fn post_with_json_body() {
    let request = Signing::iot().sign(&WireRequest::new(
        "POST",
        "/things/lamp-1",
        &[host(), ("content-type", "application/json")],
        br#"{"attributePayload":{"attributes":{"room":"kitchen"}}}"#,
    ));
    assert!(request.verify_at(at(NOON)).is_ok());
}

#[test]
fn paths_with_encoded_labels() {
    for (service, method, target) in [
        (
            "iotdata",
            "POST",
            "/topics/%24aws%2Fthings%2Flamp-1%2Fshadow%2Fupdate?qos=1",
        ),
        ("iotdata", "GET", "/retainedMessage/a%2Fb%2F%2B%2F%23"),
        ("iot-jobs-data", "GET", "/things/lamp-1/jobs/%24next"),
        (
            "iot",
            "DELETE",
            "/destinations/arn%3Aaws%3Aiot%3Aeu-west-1%3A123456789012%3Aruledestination/http/a1",
        ),
    ] {
        let signing = Signing {
            service,
            ..Signing::iot()
        };
        let request = signing.sign(&WireRequest::new(method, target, &[host()], b"{}"));
        assert_eq!(
            request.target(),
            target,
            "the signer must not re-encode the path"
        );
        let verified = request.verify_at(at(NOON)).unwrap();
        assert_eq!(verified.service, service, "{target}");
    }
}

#[test]
fn header_values_with_extra_spaces_and_repeats() {
    let request = Signing::iot().sign(&WireRequest::new(
        "POST",
        "/topics/t",
        &[
            host(),
            ("x-amz-mqtt5-payload-format-indicator", "   UTF8_DATA   "),
            ("x-custom", "a   b \t  c"),
            ("x-repeated", " one "),
            ("x-repeated", "two  three"),
        ],
        b"payload",
    ));
    let authorization = request.headers["authorization"].to_str().unwrap();
    assert!(authorization.contains("x-custom"), "{authorization}");
    assert!(authorization.contains("x-repeated"), "{authorization}");
    assert!(request.verify_at(at(NOON)).is_ok());
}

#[test]
fn temporary_credentials_in_the_header_form() {
    let signing = Signing {
        session_token: Some(TOKEN),
        ..Signing::iot()
    };
    let request = signing.sign(&WireRequest::new("GET", "/things", &[host()], b""));
    let verified = request.verify_at(at(NOON)).unwrap();
    assert_eq!(verified.session_token.as_deref(), Some(TOKEN));
}

#[test]
fn dot_segments_normalised_by_the_signer() {
    let request = Signing::iot().sign(&WireRequest::new(
        "GET",
        "/things/./lamp-1/../lamp-2",
        &[host()],
        b"",
    ));
    assert_eq!(request.path, "/things/./lamp-1/../lamp-2");
    assert!(request.verify_at(at(NOON)).is_ok());
}

#[test]
fn presigned_query_form() {
    let request = Signing::presigned(Duration::from_secs(300)).sign(&WireRequest::new(
        "GET",
        "/mqtt",
        &[("host", "ferrite.test")],
        b"",
    ));
    assert!(!request.headers.contains_key("authorization"));
    assert_eq!(
        raw_query_param(&request.query, "X-Amz-Expires"),
        Some("300")
    );
    let verified = request.verify_at(at(NOON + 299)).unwrap();
    assert_eq!(verified.service, "iotdevicegateway");
    assert_eq!(verified.region, "us-east-1");
}

#[test]
fn presigned_with_unsigned_payload() {
    let signing = Signing {
        unsigned_payload: true,
        ..Signing::presigned(Duration::from_secs(60))
    };
    let request = signing.sign(&WireRequest::new(
        "GET",
        "/mqtt",
        &[("host", "ferrite.test")],
        b"",
    ));
    assert!(request.verify_at(at(NOON)).is_ok());
}

#[test]
fn presigned_with_signed_session_token() {
    let signing = Signing {
        session_token: Some(TOKEN),
        ..Signing::presigned(Duration::from_secs(60))
    };
    let request = signing.sign(&WireRequest::new(
        "GET",
        "/mqtt",
        &[("host", "ferrite.test")],
        b"",
    ));
    let verified = request.verify_at(at(NOON)).unwrap();
    assert_eq!(verified.session_token.as_deref(), Some(TOKEN));
}

#[test]
fn presigned_with_session_token_left_out_of_the_signature() {
    let signing = Signing {
        session_token: Some(TOKEN),
        exclude_session_token: true,
        ..Signing::presigned(Duration::from_secs(60))
    };
    let request = signing.sign(&WireRequest::new(
        "GET",
        "/mqtt",
        &[("host", "ferrite.test")],
        b"",
    ));
    assert!(raw_query_param(&request.query, "X-Amz-Security-Token").is_some());
    let verified = request.verify_at(at(NOON)).unwrap();
    assert_eq!(verified.session_token.as_deref(), Some(TOKEN));
}

#[test]
fn presigned_with_extra_query_parameters() {
    let request = Signing::presigned(Duration::from_secs(60)).sign(&WireRequest::new(
        "GET",
        "/mqtt?x-amz-customauthorizer-name=none&b=2&a=1",
        &[("host", "ferrite.test")],
        b"",
    ));
    assert!(request.verify_at(at(NOON)).is_ok());
}
