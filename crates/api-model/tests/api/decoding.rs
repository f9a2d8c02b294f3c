//! Request decoding over the real model tables.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ferrite_api_model::{Operation, Service, ValidationError, decode_request, resolve};
use serde_json::{Value, json};

const NO_HEADERS: [(&str, &str); 0] = [];

fn decode(
    method: &str,
    path: &str,
    query: &str,
    service: Service,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (Operation, Result<Value, ValidationError>) {
    let route = resolve(method, path, query, Some(service)).unwrap();
    let headers = headers.iter().map(|(k, v)| (*k, v.as_bytes()));
    (
        route.op,
        decode_request(route.op, &route.labels, query, headers, body),
    )
}

#[test]
fn query_values_are_typed() {
    let query = "maxResults=10&usePrefixAttributeValue=TRUE&attributeName=color&nextToken=a%2Bb";
    let (op, input) = decode("GET", "/things", query, Service::Iot, &[], b"");
    assert_eq!(op, Operation::ListThings);
    let expected = json!({
        "maxResults": 10,
        "usePrefixAttributeValue": true,
        "attributeName": "color",
        "nextToken": "a+b",
    });
    assert_eq!(input.unwrap(), expected);
}

#[test]
fn query_timestamps_are_iso8601_and_decode_to_epoch_seconds() {
    let query = "thingName=t1&startTime=2024-05-01T12%3A00%3A00Z&endTime=2024-05-01T12:00:01.5Z";
    let (op, input) = decode("GET", "/violation-events", query, Service::Iot, &[], b"");
    assert_eq!(op, Operation::ListViolationEvents);
    let input = input.unwrap();
    assert_eq!(input["startTime"], json!(1_714_564_800));
    assert_eq!(input["endTime"], json!(1_714_564_801.5));
}

#[test]
fn query_values_of_the_wrong_type_are_named() {
    for (query, path, expected) in [
        ("maxResults=ten", "maxResults", "integer"),
        (
            "usePrefixAttributeValue=yes",
            "usePrefixAttributeValue",
            "boolean",
        ),
    ] {
        let (_, input) = decode("GET", "/things", query, Service::Iot, &[], b"");
        let err = ValidationError::WrongType {
            path: path.to_owned(),
            expected,
        };
        assert_eq!(input.unwrap_err(), err);
    }
    let (_, input) = decode(
        "GET",
        "/violation-events",
        "startTime=monday",
        Service::Iot,
        &[],
        b"",
    );
    let err = ValidationError::WrongType {
        path: "startTime".to_owned(),
        expected: "timestamp",
    };
    assert_eq!(input.unwrap_err(), err);
}

#[test]
fn integer_labels_are_typed() {
    let path = "/provisioning-templates/tpl/versions/3";
    let (op, input) = decode("GET", path, "", Service::Iot, &[], b"");
    assert_eq!(op, Operation::DescribeProvisioningTemplateVersion);
    assert_eq!(
        input.unwrap(),
        json!({"templateName": "tpl", "versionId": 3})
    );
}

#[test]
fn header_members() {
    let principal = "arn:aws:iot:us-east-1:123456789012:cert/abc";
    let headers = [("X-Amzn-Principal", principal)];
    let query = "thingPrincipalType=EXCLUSIVE_THING";
    let (op, input) = decode(
        "PUT",
        "/things/t1/principals",
        query,
        Service::Iot,
        &headers,
        b"",
    );
    assert_eq!(op, Operation::AttachThingPrincipal);
    let expected = json!({
        "thingName": "t1",
        "principal": principal,
        "thingPrincipalType": "EXCLUSIVE_THING",
    });
    assert_eq!(input.unwrap(), expected);
}

#[test]
fn publish_takes_a_raw_payload_and_a_jsonvalue_header() {
    let properties = BASE64.encode(r#"[{"deviceName":"alpha"},{"deviceCnt":"45"}]"#);
    let headers = [
        ("x-amz-mqtt5-user-properties", properties.as_str()),
        ("x-amz-mqtt5-payload-format-indicator", "UNSPECIFIED_BYTES"),
        ("x-amz-mqtt5-correlation-data", "Y29ycg=="),
    ];
    let body = b"\x00\x01raw bytes\xff";
    let query = "qos=1&retain=true&messageExpiry=60&contentType=application%2Foctet-stream";
    let (op, input) = decode(
        "POST",
        "/topics/a%2Fb",
        query,
        Service::IotData,
        &headers,
        body,
    );
    assert_eq!(op, Operation::Publish);
    let expected = json!({
        "topic": "a/b",
        "qos": 1,
        "retain": true,
        "messageExpiry": 60,
        "contentType": "application/octet-stream",
        "payload": BASE64.encode(body),
        "userProperties": [{"deviceName": "alpha"}, {"deviceCnt": "45"}],
        "payloadFormatIndicator": "UNSPECIFIED_BYTES",
        "correlationData": "Y29ycg==",
    });
    assert_eq!(input.unwrap(), expected);
}

#[test]
fn publish_with_an_empty_body_has_no_payload_member() {
    let (_, input) = decode("POST", "/topics/t", "", Service::IotData, &[], b"");
    assert_eq!(input.unwrap(), json!({"topic": "t"}));
}

#[test]
fn a_jsonvalue_header_that_is_not_base64_json_is_rejected() {
    let headers = [("x-amz-mqtt5-user-properties", "not base64!")];
    let (_, input) = decode("POST", "/topics/t", "", Service::IotData, &headers, b"");
    let err = ValidationError::WrongType {
        path: "userProperties".to_owned(),
        expected: "base64-encoded json",
    };
    assert_eq!(input.unwrap_err(), err);
}

#[test]
fn a_structure_payload_is_the_whole_body() {
    let body = br#"{"sql": "SELECT * FROM 'a/b'", "actions": [{"republish": {"topic": "c", "roleArn": "arn:r", "qos": 1}}], "ruleDisabled": false, "unknownMember": 1}"#;
    let headers = [("x-amz-tagging", "team=iot")];
    let (op, input) = decode("POST", "/rules/my_rule", "", Service::Iot, &headers, body);
    assert_eq!(op, Operation::CreateTopicRule);
    let expected = json!({
        "ruleName": "my_rule",
        "tags": "team=iot",
        "topicRulePayload": {
            "sql": "SELECT * FROM 'a/b'",
            "actions": [{"republish": {"topic": "c", "roleArn": "arn:r", "qos": 1}}],
            "ruleDisabled": false,
        },
    });
    assert_eq!(input.unwrap(), expected);
}

#[test]
fn body_members_keep_blobs_as_base64_and_timestamps_as_epoch() {
    let body = br#"{"thingTypeName": "sensor", "attributePayload": {"attributes": {"color": "red"}, "merge": true}, "billingGroupName": null}"#;
    let (op, input) = decode("POST", "/things/t1", "", Service::Iot, &[], body);
    assert_eq!(op, Operation::CreateThing);
    let expected = json!({
        "thingName": "t1",
        "thingTypeName": "sensor",
        "attributePayload": {"attributes": {"color": "red"}, "merge": true},
    });
    assert_eq!(input.unwrap(), expected);

    let body = br#"{"timestamp": 1714564800.25, "mqttContext": {"password": "cGFzcw=="}}"#;
    let route = resolve("POST", "/authorizer/auth1/test", "", None).unwrap();
    let input = decode_request(route.op, &route.labels, "", NO_HEADERS, body);
    let input = input.unwrap();
    assert_eq!(input["mqttContext"]["password"], json!("cGFzcw=="));
}

#[test]
fn wrong_json_types_name_the_member_path() {
    let cases: [(&[u8], &str, &str); 4] = [
        (br#"{"thingTypeName": 5}"#, "thingTypeName", "string"),
        (
            br#"{"attributePayload": {"attributes": {"k": 1}}}"#,
            "attributePayload.attributes.k",
            "string",
        ),
        (
            br#"{"attributePayload": {"merge": "yes"}}"#,
            "attributePayload.merge",
            "boolean",
        ),
        (br#"[1, 2]"#, "(body)", "structure"),
    ];
    for (body, path, expected) in cases {
        let (_, input) = decode("POST", "/things/t1", "", Service::Iot, &[], body);
        let err = ValidationError::WrongType {
            path: path.to_owned(),
            expected,
        };
        assert_eq!(input.unwrap_err(), err, "{}", String::from_utf8_lossy(body));
    }
    let body = br#"{"sql": "SELECT 1", "actions": ["lambda"]}"#;
    let (_, input) = decode("POST", "/rules/r", "", Service::Iot, &[], body);
    let path = "topicRulePayload.actions.1.member".to_owned();
    assert_eq!(
        input.unwrap_err(),
        ValidationError::WrongType {
            path,
            expected: "structure"
        }
    );
    let body = br#"{"sql": "SELECT 1", "actions": [], "errorAction": {"republish": {"topic": "t", "roleArn": "r", "qos": 1.5}}}"#;
    let (_, input) = decode("POST", "/rules/r", "", Service::Iot, &[], body);
    let path = "topicRulePayload.errorAction.republish.qos".to_owned();
    assert_eq!(
        input.unwrap_err(),
        ValidationError::WrongType {
            path,
            expected: "integer"
        }
    );
}

#[test]
fn malformed_json_is_a_typed_error() {
    for body in [&b"{"[..], b"{\"thingTypeName\": }", b"nope"] {
        let (_, input) = decode("POST", "/things/t1", "", Service::Iot, &[], body);
        assert!(
            matches!(input, Err(ValidationError::MalformedJson { .. })),
            "{}: {input:?}",
            String::from_utf8_lossy(body)
        );
    }
    let (_, input) = decode("POST", "/rules/r", "", Service::Iot, &[], b"{\"sql\"");
    assert!(matches!(input, Err(ValidationError::MalformedJson { .. })));
}

#[test]
fn an_empty_body_is_no_members() {
    let (_, input) = decode("POST", "/things/t1", "", Service::Iot, &[], b"");
    assert_eq!(input.unwrap(), json!({"thingName": "t1"}));
    let (_, input) = decode("POST", "/things/t1", "", Service::Iot, &[], b" \n");
    assert_eq!(input.unwrap(), json!({"thingName": "t1"}));
}

#[test]
fn every_operation_decodes_an_empty_request_without_panicking() {
    for op in Operation::ALL {
        let labels: Vec<(&'static str, String)> = op
            .request_uri()
            .split(['{', '}'])
            .skip(1)
            .step_by(2)
            .map(|name| (name.trim_end_matches('+'), "1".to_owned()))
            .collect();
        match decode_request(op, &labels, "", NO_HEADERS, b"") {
            Ok(Value::Object(_)) | Err(ValidationError::Constraints(_)) => {}
            other => panic!("{op:?}: {other:?}"),
        }
    }
}
