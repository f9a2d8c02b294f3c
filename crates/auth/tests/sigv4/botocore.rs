//! Known answers from botocore, the signer boto3 and the AWS CLI use.
//!
//! Every literal below was produced once by `fixtures/generate.py` (botocore 1.43.11 and 1.44.5
//! agree): real boto3 clients for `iot`, `iot-data` and `iot-jobs-data` pointed at
//! `https://ferrite.test:8443`, the clock pinned to 2024-01-01T12:00:00Z, and each request
//! captured at the moment it would have been sent. Headers that are not signed (user agent,
//! invocation id, retry info) are left out; content length is kept where boto3 sends it.

use std::time::Duration;

use ferrite_auth::sigv4::SigV4Error;

use crate::common::{AKID, NOON, TOKEN, WireRequest, at, minutes};

const HOST: (&str, &str) = ("host", "ferrite.test:8443");
const DATE: (&str, &str) = ("X-Amz-Date", "20240101T120000Z");

/// `iot_data.publish(topic="$aws/things/dev-1/shadow/update", qos=1, payload=...)`: botocore
/// encodes `$` and `/` inside the label.
fn publish() -> WireRequest {
    WireRequest::new(
        "POST",
        "/topics/%24aws%2Fthings%2Fdev-1%2Fshadow%2Fupdate?qos=1",
        &[
            HOST,
            DATE,
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/iotdata/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=0111cae9c7a3d6dfe9a2c1bbb11eeea2f37e439d38e55475e73b32cfac048573",
            ),
            ("Content-Length", "34"),
        ],
        br#"{"state":{"reported":{"on":true}}}"#,
    )
}

/// `iot.list_things(maxResults=25, attributeName="colour", attributeValue="dark blue/grey",
/// thingTypeName="lamp")`: a query in non-canonical order with encoded characters.
fn list_things() -> WireRequest {
    WireRequest::new(
        "GET",
        "/things?maxResults=25&attributeName=colour&attributeValue=dark%20blue%2Fgrey&thingTypeName=lamp",
        &[
            HOST,
            DATE,
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/iot/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=4b5ac22b63ab8dba0a51d60fed8bcd1173088cfa6291198b2c1efc562ecf4ad7",
            ),
        ],
        b"",
    )
}

/// `iot.create_thing(...)` with temporary credentials: JSON body, signed content type and
/// session token.
fn create_thing() -> WireRequest {
    WireRequest::new(
        "POST",
        "/things/lamp-1",
        &[
            ("Content-Type", "application/json"),
            HOST,
            DATE,
            (
                "X-Amz-Security-Token",
                "IQoJb3JpZ2luX2VjEXAMPLE+token/with=chars",
            ),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/iot/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, \
                 Signature=741c65fbae77859dba4ad61b65c58666819aa183502e99b09efa3f41e7d653b3",
            ),
            ("Content-Length", "57"),
        ],
        br#"{"attributePayload": {"attributes": {"room": "kitchen"}}}"#,
    )
}

/// `iot_jobs_data.describe_job_execution(jobId="$next", thingName="lamp-1",
/// includeJobDocument=True)`.
fn describe_job_execution() -> WireRequest {
    WireRequest::new(
        "GET",
        "/things/lamp-1/jobs/%24next?includeJobDocument=true",
        &[
            HOST,
            DATE,
            (
                "Authorization",
                "AWS4-HMAC-SHA256 \
                 Credential=AKIDEXAMPLE/20240101/eu-west-1/iot-jobs-data/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=7e7cc5151c63baeebf978df1abe77037054101bcc65b7d731f7b52ceeb1839e7",
            ),
        ],
        b"",
    )
}

/// `iot.delete_topic_rule_destination(arn=...)`: a greedy label, so `/` stays and `:` is
/// encoded.
fn delete_topic_rule_destination() -> WireRequest {
    WireRequest::new(
        "DELETE",
        "/destinations/arn%3Aaws%3Aiot%3Aeu-west-1%3A123456789012%3Aruledestination/http/a1b2",
        &[
            HOST,
            DATE,
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/iot/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=b9e65719c014afc5f8da5d1d07ece51fb06fced2e149454c607725bfe692e95e",
            ),
            ("Content-Length", "0"),
        ],
        b"",
    )
}

#[test]
fn boto3_requests_verify_with_their_scope() {
    for (request, service) in [
        (publish(), "iotdata"),
        (list_things(), "iot"),
        (create_thing(), "iot"),
        (describe_job_execution(), "iot-jobs-data"),
        (delete_topic_rule_destination(), "iot"),
    ] {
        let verified = request
            .verify_at(at(NOON))
            .unwrap_or_else(|error| panic!("{} {}: {error}", request.method, request.path));
        assert_eq!(verified.access_key_id, AKID);
        assert_eq!(verified.region, "eu-west-1");
        assert_eq!(verified.service, service);
        assert_eq!(verified.date, at(NOON));
    }
    assert_eq!(
        create_thing()
            .verify_at(at(NOON))
            .unwrap()
            .session_token
            .as_deref(),
        Some(TOKEN)
    );
}

#[test]
fn boto3_requests_fail_when_anything_signed_changes() {
    let mut body = publish();
    body.body = br#"{"state":{"reported":{"on":false}}}"#.to_vec();

    let mut path = publish();
    path.path = "/topics/%24aws%2Fthings%2Fdev-2%2Fshadow%2Fupdate".to_owned();

    let mut decoded_label = publish();
    decoded_label.path = "/topics/$aws/things/dev-1/shadow/update".to_owned();

    let mut query = list_things();
    query.query = query.query.replace("maxResults=25", "maxResults=250");

    let mut added_param = list_things();
    added_param.query.push_str("&nextToken=x");

    let mut token = create_thing();
    token.set_header("x-amz-security-token", "IQoJb3JpZ2luX2VjOTHER");

    let mut content_type = create_thing();
    content_type.set_header("content-type", "application/x-amz-json-1.1");

    let mut method = delete_topic_rule_destination();
    method.method = "GET".to_owned();

    for tampered in [
        body,
        path,
        decoded_label,
        query,
        added_param,
        token,
        content_type,
        method,
    ] {
        assert_eq!(
            tampered.verify_at(at(NOON)),
            Err(SigV4Error::SignatureMismatch),
            "{} {}?{}",
            tampered.method,
            tampered.path,
            tampered.query
        );
    }
}

#[test]
fn unsigned_headers_may_change() {
    let mut request = list_things();
    request.set_header("user-agent", "something else");
    request.set_header("amz-sdk-request", "attempt=2; max=3");
    assert!(request.verify_at(at(NOON)).is_ok());
}

#[test]
fn date_header_instead_of_x_amz_date() {
    // botocore's canonical request and signature for this exact request (see generate.py):
    // "GET\n/things/lamp-1\n\ndate:Mon, 01 Jan 2024 12:00:00 GMT\nhost:ferrite.test:8443\n\n
    // date;host\ne3b0…b855"
    let request = WireRequest::new(
        "GET",
        "/things/lamp-1",
        &[
            HOST,
            ("Date", "Mon, 01 Jan 2024 12:00:00 GMT"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/iot/aws4_request, \
                 SignedHeaders=date;host, \
                 Signature=a66b662ee1c653216ac03a1fa7ca41c5c0c2e6601d891d8a8fe1309e338951f9",
            ),
        ],
        b"",
    );
    let verified = request
        .verify_at(at(NOON) + Duration::from_secs(30))
        .unwrap();
    assert_eq!(verified.date, at(NOON));

    let mut later = request.clone();
    later.set_header("date", "Mon, 01 Jan 2024 12:00:01 GMT");
    assert_eq!(
        later.verify_at(at(NOON)),
        Err(SigV4Error::SignatureMismatch)
    );
}

/// `SigV4QueryAuth(credentials, "iotdevicegateway", "us-east-1", expires=3600)` presigning
/// `GET https://ferrite.test/mqtt` with a session token: botocore signs the token.
fn botocore_presigned() -> WireRequest {
    WireRequest::new(
        "GET",
        "/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIDEXAMPLE%2F20240101%2Fus-east-1%2Fiotdevicegateway%2Faws4_request\
         &X-Amz-Date=20240101T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host\
         &X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2Btoken%2Fwith%3Dchars\
         &X-Amz-Signature=912601102f85513826425089439b2fb4af22a3fe5bccc74e6e1374b538597a6f",
        &[("host", "ferrite.test")],
        b"",
    )
}

#[test]
fn botocore_presigned_url_with_a_signed_token() {
    let request = botocore_presigned();
    let verified = request.verify_at(at(NOON) + minutes(59)).unwrap();
    assert_eq!(verified.service, "iotdevicegateway");
    assert_eq!(verified.session_token.as_deref(), Some(TOKEN));

    // The token is signed here, so swapping it breaks the signature.
    let mut swapped = request.clone();
    swapped.query = swapped.query.replace(
        "IQoJb3JpZ2luX2VjEXAMPLE%2Btoken",
        "IQoJb3JpZ2luX2VjOTHER%2Btoken",
    );
    assert_eq!(
        swapped.verify_at(at(NOON)),
        Err(SigV4Error::SignatureMismatch)
    );

    assert!(matches!(
        request.verify_at(at(NOON) + minutes(61)),
        Err(SigV4Error::PresignedUrlExpired { expires: 3600, .. })
    ));
}
