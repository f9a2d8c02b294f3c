//! Response and error encoding.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ferrite_api_model::{
    EncodeError, EncodedResponse, Operation, Service, encode_error, encode_response, error_status,
};
use serde_json::{Value, json};

fn header<'r>(response: &'r EncodedResponse, name: &str) -> Option<&'r str> {
    let found = response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name));
    found.map(|(_, v)| v.as_str())
}

fn body_json(response: &EncodedResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}

#[test]
fn a_blob_payload_given_as_json_is_the_raw_body() {
    let shadow = json!({"state": {"reported": {"temp": 21}}, "version": 3});
    let response = encode_response(Operation::GetThingShadow, &json!({"payload": shadow}));
    let response = response.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(body_json(&response), shadow);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
}

#[test]
fn a_blob_payload_given_as_base64_is_decoded() {
    let raw = br#"{"version":1,"timestamp":1714564800}"#;
    let output = json!({"payload": BASE64.encode(raw)});
    let response = encode_response(Operation::DeleteThingShadow, &output).unwrap();
    assert_eq!(response.body, raw);
    let bad = encode_response(Operation::DeleteThingShadow, &json!({"payload": "%%%"}));
    assert_eq!(
        bad.unwrap_err(),
        EncodeError::InvalidBase64 { member: "payload" }
    );
}

#[test]
fn json_bodies_omit_nulls_and_unknown_members_and_write_epoch_timestamps() {
    let output = json!({
        "certificateDescription": {
            "certificateId": "abc",
            "status": "ACTIVE",
            "creationDate": "2024-05-01T12:00:00Z",
            "lastModifiedDate": 1714564800.5,
            "ownedBy": null,
            "internalOnly": "dropped",
        },
    });
    let response = encode_response(Operation::DescribeCertificate, &output).unwrap();
    let expected = json!({
        "certificateDescription": {
            "certificateId": "abc",
            "status": "ACTIVE",
            "creationDate": 1714564800,
            "lastModifiedDate": 1714564800.5,
        },
    });
    assert_eq!(body_json(&response), expected);
    let bad = json!({"certificateDescription": {"creationDate": "last tuesday"}});
    let err = encode_response(Operation::DescribeCertificate, &bad).unwrap_err();
    let path = "certificateDescription.creationDate".to_owned();
    assert_eq!(err, EncodeError::InvalidTimestamp { path });
}

#[test]
fn a_status_code_member_sets_the_status() {
    let response = encode_response(Operation::DeleteCommand, &json!({"statusCode": 202}));
    let response = response.unwrap();
    assert_eq!(response.status, 202);
    assert_eq!(body_json(&response), json!({}));
    let default = encode_response(Operation::DeleteCommand, &json!({})).unwrap();
    assert_eq!(default.status, 200);
}

#[test]
fn operations_without_output_have_an_empty_body() {
    let response = encode_response(Operation::Publish, &Value::Null).unwrap();
    assert_eq!((response.status, response.body.len()), (200, 0));
    let err = encode_response(Operation::ListThings, &json!([1])).unwrap_err();
    assert_eq!(err, EncodeError::NotAnObject);
}

#[test]
fn error_statuses_come_from_the_model() {
    assert_eq!(error_status(Service::Iot, "ThrottlingException"), Some(400));
    assert_eq!(
        error_status(Service::IotData, "ThrottlingException"),
        Some(429)
    );
    assert_eq!(
        error_status(Service::Iot, "LimitExceededException"),
        Some(410)
    );
    assert_eq!(
        error_status(Service::Iot, "ResourceAlreadyExistsException"),
        Some(409)
    );
    assert_eq!(
        error_status(Service::IotData, "RequestEntityTooLargeException"),
        Some(413)
    );
    assert_eq!(
        error_status(Service::Iot, "ThingName"),
        None,
        "not an error shape"
    );
    assert_eq!(error_status(Service::Iot, "NoSuchException"), None);
}

#[test]
fn errors_carry_the_type_header_and_their_members() {
    let fields = json!({"message": "exists", "resourceId": "t1", "resourceArn": "arn:t1", "x": 1});
    let response = encode_error(Service::Iot, "ResourceAlreadyExistsException", &fields).unwrap();
    assert_eq!(response.status, 409);
    assert_eq!(
        header(&response, "x-amzn-ErrorType"),
        Some("ResourceAlreadyExistsException")
    );
    let expected = json!({"message": "exists", "resourceId": "t1", "resourceArn": "arn:t1"});
    assert_eq!(body_json(&response), expected);
    let err = encode_error(Service::IotData, "SqlParseException", &json!({})).unwrap_err();
    assert!(matches!(err, EncodeError::UnknownErrorShape { .. }));
}
