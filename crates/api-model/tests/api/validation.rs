//! Validation messages, in AWS's words.

use ferrite_api_model::{
    ConstraintViolations, Operation, Service, ValidationError, decode_request, resolve,
    validate_input,
};
use serde_json::json;

fn message(method: &str, path: &str, query: &str, body: &[u8]) -> String {
    let route = resolve(method, path, query, Some(Service::Iot)).unwrap();
    let headers: [(&str, &str); 0] = [];
    match decode_request(route.op, &route.labels, query, headers, body) {
        Err(ValidationError::Constraints(v)) => v.to_string(),
        other => panic!("{method} {path}: expected constraint violations, got {other:?}"),
    }
}

#[test]
fn pattern() {
    assert_eq!(
        message("POST", "/things/bad%20name!", "", b""),
        "1 validation error detected: Value 'bad name!' at 'thingName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+"
    );
}

#[test]
fn string_length() {
    let long = "a".repeat(129);
    assert_eq!(
        message("POST", &format!("/things/{long}"), "", b""),
        format!(
            "1 validation error detected: Value '{long}' at 'thingName' failed to satisfy \
             constraint: Member must have length less than or equal to 128"
        )
    );
}

#[test]
fn required_member() {
    assert_eq!(
        message("POST", "/rules/r1", "", b""),
        "1 validation error detected: Value null at 'topicRulePayload' failed to satisfy \
         constraint: Member must not be null"
    );
    assert_eq!(
        message("POST", "/rules/r1", "", br#"{"actions": []}"#),
        "1 validation error detected: Value null at 'topicRulePayload.sql' failed to satisfy \
         constraint: Member must not be null"
    );
}

#[test]
fn enum_values() {
    let headers = [(
        "x-amzn-principal",
        "arn:aws:iot:us-east-1:123456789012:cert/abc",
    )];
    let query = "thingPrincipalType=SOMETIMES";
    let route = resolve("PUT", "/things/t1/principals", query, None).unwrap();
    let err = decode_request(route.op, &route.labels, query, headers, b"").unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 validation error detected: Value 'SOMETIMES' at 'thingPrincipalType' failed to \
         satisfy constraint: Member must satisfy enum value set: [EXCLUSIVE_THING, \
         NON_EXCLUSIVE_THING]"
    );
}

#[test]
fn integer_range_and_several_errors() {
    assert_eq!(
        message("GET", "/things", "maxResults=1000", b""),
        "1 validation error detected: Value '1000' at 'maxResults' failed to satisfy \
         constraint: Member must have value less than or equal to 250"
    );
    assert_eq!(
        message("GET", "/things", "maxResults=0&attributeName=a%20b", b""),
        "2 validation errors detected: Value '0' at 'maxResults' failed to satisfy constraint: \
         Member must have value greater than or equal to 1; Value 'a b' at 'attributeName' \
         failed to satisfy constraint: Member must satisfy regular expression pattern: \
         [a-zA-Z0-9_.,@/:#-]+"
    );
}

#[test]
fn nested_map_values_and_list_elements() {
    let body = br#"{"attributePayload": {"attributes": {"color": "red blue"}}}"#;
    assert_eq!(
        message("POST", "/things/t1", "", body),
        "1 validation error detected: Value 'red blue' at 'attributePayload.attributes.color' \
         failed to satisfy constraint: Member must satisfy regular expression pattern: \
         [a-zA-Z0-9_.,@/:#=\\[\\]-]*"
    );
    let tags = json!({"resourceArn": "arn:x", "tags": [{"Key": "", "Value": "v"}]});
    let err = validate_input(Operation::TagResource, &tags).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 validation error detected: Value '' at 'tags.1.member.Key' failed to satisfy \
         constraint: Member must have length greater than or equal to 1"
    );
}

#[test]
fn jsonvalue_members_are_not_checked_as_strings() {
    let input = json!({"topic": "t", "userProperties": [{"a": "b"}]});
    assert_eq!(validate_input(Operation::Publish, &input), Ok(()));
}

#[test]
fn violations_are_structured() {
    let err = validate_input(Operation::DescribeThing, &json!({})).unwrap_err();
    let ValidationError::Constraints(ConstraintViolations(violations)) = err else {
        panic!("{err:?}");
    };
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].path, "thingName");
    assert_eq!(violations[0].value, "null");
    assert_eq!(violations[0].constraint, "Member must not be null");
}
