//! The WebSocket upgrade the AWS IoT Device SDK v2 sends, and AWS IoT's session-token quirk.
//!
//! The Device SDK v2 (`awsiot.mqtt_connection_builder.websockets_with_default_aws_signing`, and
//! the same in the Java, C++ and JS SDKs) presigns `GET /mqtt` through the AWS CRT with
//! `HTTP_REQUEST_QUERY_PARAMS`, service `iotdevicegateway`, no expiry, and
//! `omit_session_token=True` ("IoT is weird and does not sign X-Amz-Security-Token"). The
//! token is still sent, but it takes no part in the signature. Requests signed by other means
//! (botocore's presigner, see `botocore.rs`) do sign it; both must verify.
//!
//! The literals come from `fixtures/generate.py` running awscrt 0.38.1 with exactly that
//! configuration, clock pinned to 2024-01-01T12:00:00Z, `Host: ferrite.test:443`.

use ferrite_auth::sigv4::SigV4Error;

use crate::common::{NOON, TOKEN, WireRequest, at, minutes};

const CRT_SIGNATURE: &str = "b02a5d99aaa8744a65c39bb7452987c01346856b707f9c13294bbfb4c3c442fc";

fn crt_upgrade(with_token: bool) -> WireRequest {
    let token = if with_token {
        "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2Btoken%2Fwith%3Dchars"
    } else {
        ""
    };
    WireRequest::new(
        "GET",
        &format!(
            "/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIDEXAMPLE%2F20240101%2Fus-east-1%2Fiotdevicegateway%2Faws4_request\
             &X-Amz-Date=20240101T120000Z&X-Amz-SignedHeaders=host{token}\
             &X-Amz-Signature={CRT_SIGNATURE}"
        ),
        &[
            ("host", "ferrite.test:443"),
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-protocol", "mqtt"),
            ("sec-websocket-version", "13"),
        ],
        b"",
    )
}

#[test]
fn the_crt_signs_the_same_url_with_and_without_a_session_token() {
    // Both fixtures carry the same signature: the CRT left the token out of it.
    let without = crt_upgrade(false).verify_at(at(NOON)).unwrap();
    assert_eq!(without.session_token, None);
    let with = crt_upgrade(true).verify_at(at(NOON)).unwrap();
    assert_eq!(with.session_token.as_deref(), Some(TOKEN));
    assert_eq!(with.service, "iotdevicegateway");
    assert_eq!(with.region, "us-east-1");
}

#[test]
fn a_token_appended_after_signing_may_sit_anywhere_in_the_query() {
    // aws-c-auth has placed the token both before and after X-Amz-Signature over the years;
    // the Go workaround of the day appended it last. Position must not matter.
    let mut last = crt_upgrade(false);
    last.query
        .push_str("&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2Btoken%2Fwith%3Dchars");
    assert_eq!(
        last.verify_at(at(NOON)).unwrap().session_token.as_deref(),
        Some(TOKEN)
    );

    let mut first = crt_upgrade(false);
    first.query = format!("X-Amz-Security-Token=abc&{}", first.query);
    assert_eq!(
        first.verify_at(at(NOON)).unwrap().session_token.as_deref(),
        Some("abc")
    );
}

#[test]
fn everything_but_the_unsigned_token_is_still_covered() {
    let mut credential = crt_upgrade(true);
    credential.query = credential.query.replace("us-east-1", "us-west-2");
    let mut date = crt_upgrade(true);
    date.query = date.query.replace("T120000Z", "T120001Z");
    let mut path = crt_upgrade(true);
    path.path = "/mqtt2".to_owned();
    let mut host = crt_upgrade(true);
    host.set_header("host", "evil.test:443");
    let mut extra = crt_upgrade(true);
    extra.query.push_str("&x-amz-customauthorizer-name=other");
    for tampered in [credential, date, path, host, extra] {
        assert_eq!(
            tampered.verify_at(at(NOON)),
            Err(SigV4Error::SignatureMismatch),
            "{}?{}",
            tampered.path,
            tampered.query
        );
    }
}

#[test]
fn websocket_headers_are_not_signed_and_may_vary() {
    let mut request = crt_upgrade(true);
    request.set_header("sec-websocket-key", "b3RoZXIgbm9uY2UgdmFsdWU=");
    request.set_header("user-agent", "aws-crt");
    assert!(request.verify_at(at(NOON)).is_ok());
}

#[test]
fn without_x_amz_expires_the_usual_fifteen_minutes_apply() {
    assert!(crt_upgrade(true).verify_at(at(NOON) + minutes(14)).is_ok());
    assert!(crt_upgrade(true).verify_at(at(NOON) - minutes(14)).is_ok());
    assert!(matches!(
        crt_upgrade(true).verify_at(at(NOON) + minutes(16)),
        Err(SigV4Error::SignatureExpired { .. })
    ));
    assert!(matches!(
        crt_upgrade(true).verify_at(at(NOON) - minutes(16)),
        Err(SigV4Error::SignatureNotYetCurrent { .. })
    ));
}
