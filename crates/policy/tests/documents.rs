//! Which documents `Policy::parse` accepts, and the `MalformedPolicyException` messages for the
//! ones it refuses.

use ferrite_policy::{MAX_DOCUMENT_CHARS, Policy, Version};

fn error(document: &str) -> String {
    Policy::parse(document)
        .expect_err("document should be rejected")
        .message
}

/// A one-statement document with the given statement body.
fn with_statement(statement: &str) -> String {
    format!(r#"{{"Version": "2012-10-17", "Statement": {statement}}}"#)
}

const OK_STATEMENT: &str = r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}"#;

#[test]
fn aws_console_default_policy_parses() {
    let doc = r#"{
      "Version": "2012-10-17",
      "Statement": [
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive", "iot:RetainPublish"],
         "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/sdk/test/*"]},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/sdk/test/*"]},
        {"Sid": "connect", "Effect": "Allow", "Action": "iot:Connect",
         "Resource": "arn:aws:iot:us-east-1:123456789012:client/basicPubSub"}
      ]
    }"#;
    let policy = Policy::parse(doc).unwrap();
    assert_eq!(policy.document(), doc);
    assert_eq!(policy.version(), Version::V2012_10_17);
    assert_eq!(policy.statement_count(), 3);
    assert!(!policy.is_time_dependent());
}

#[test]
fn statement_may_be_a_single_object_and_action_resource_single_strings() {
    let policy = Policy::parse(&with_statement(OK_STATEMENT)).unwrap();
    assert_eq!(policy.statement_count(), 1);
}

#[test]
fn version_choices() {
    // 2008-10-17 and a missing Version are IAM's legacy language: accepted, without variables.
    let legacy = Policy::parse(&format!(
        r#"{{"Version": "2008-10-17", "Statement": {OK_STATEMENT}}}"#
    ))
    .unwrap();
    assert_eq!(legacy.version(), Version::V2008_10_17);
    let missing = Policy::parse(&format!(r#"{{"Statement": {OK_STATEMENT}}}"#)).unwrap();
    assert_eq!(missing.version(), Version::V2008_10_17);
    assert_eq!(
        error(&format!(
            r#"{{"Version": "2020-01-01", "Statement": {OK_STATEMENT}}}"#
        )),
        "Policy document is Malformed: The policy must contain a valid version string"
    );
    assert_eq!(
        error(&format!(
            r#"{{"Version": 2012, "Statement": {OK_STATEMENT}}}"#
        )),
        "Policy document is Malformed: The policy must contain a valid version string"
    );
    // An Id is allowed, as in IAM.
    Policy::parse(&format!(
        r#"{{"Version": "2012-10-17", "Id": "x", "Statement": {OK_STATEMENT}}}"#
    ))
    .unwrap();
}

#[test]
fn not_json_or_not_an_object_is_a_syntax_error() {
    for doc in [
        "",
        "not json",
        "{",
        "[]",
        "\"policy\"",
        "null",
        r#"{"Version": "2012-10-17",}"#,
    ] {
        assert_eq!(
            error(doc),
            "Policy document is Malformed: Invalid policy syntax.",
            "{doc:?}"
        );
    }
}

#[test]
fn structural_errors_have_aws_messages() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"Version": "2012-10-17"}"#,
            "Missing required field Statement",
        ),
        (
            r#"{"Version": "2012-10-17", "Statement": []}"#,
            "Policy must contain at least one statement",
        ),
        (
            r#"{"Version": "2012-10-17", "Statement": "x"}"#,
            "Statement must be an object or an array of objects",
        ),
        (
            r#"{"Version": "2012-10-17", "Statement": ["x"]}"#,
            "Statement must be an object or an array of objects",
        ),
        (
            r#"{"Version": "2012-10-17", "Statement": [], "Extra": 1}"#,
            "Unsupported policy element: Extra",
        ),
    ];
    for (doc, detail) in cases {
        assert_eq!(
            error(doc),
            format!("Policy document is Malformed: {detail}"),
            "{doc}"
        );
    }
}

#[test]
fn statement_errors_have_aws_messages() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"Action": "iot:*", "Resource": "*"}"#,
            "Missing required field Effect",
        ),
        (
            r#"{"Effect": "allow", "Action": "iot:*", "Resource": "*"}"#,
            "Invalid effect: allow",
        ),
        (
            r#"{"Effect": true, "Action": "iot:*", "Resource": "*"}"#,
            "Effect must be a string",
        ),
        (
            r#"{"Effect": "Allow", "Resource": "*"}"#,
            "Missing required field Action",
        ),
        (
            r#"{"Effect": "Allow", "Action": "iot:*"}"#,
            "Missing required field Resource",
        ),
        (
            r#"{"Effect": "Allow", "Action": [], "Resource": "*"}"#,
            "Policy statement must contain actions.",
        ),
        (
            r#"{"Effect": "Allow", "Action": "iot:*", "Resource": []}"#,
            "Policy statement must contain resources.",
        ),
        (
            r#"{"Effect": "Allow", "Action": "iot:*", "NotAction": "iot:Connect", "Resource": "*"}"#,
            "Policy statement cannot contain both Action and NotAction",
        ),
        (
            r#"{"Effect": "Allow", "Action": "iot:*", "Resource": "*", "NotResource": "*"}"#,
            "Policy statement cannot contain both Resource and NotResource",
        ),
        (
            r#"{"Effect": "Allow", "Action": 5, "Resource": "*"}"#,
            "Action must be a string or an array of strings",
        ),
        (
            r#"{"Effect": "Allow", "Action": "iot:*", "NotResource": [1]}"#,
            "NotResource must be a string or an array of strings",
        ),
        (
            r#"{"Effect": "Allow", "Action": "Publish", "Resource": "*"}"#,
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            r#"{"Effect": "Allow", "Action": "io t:Publish", "Resource": "*"}"#,
            "Vendor io t is not valid",
        ),
        (
            r#"{"Effect": "Allow", "Action": "iot:", "Resource": "*"}"#,
            "Action iot: is not valid",
        ),
        (
            r#"{"Effect": "Allow", "Action": "iot:*", "Resource": ["*", "topic/a", "\\"]}"#,
            "The following resources are invalid : topic/a, \\",
        ),
        (
            r#"{"Effect": "Allow", "Action": "iot:*", "Resource": "arn:aws:iot:us-east-1:123456789012"}"#,
            "The following resources are invalid : arn:aws:iot:us-east-1:123456789012",
        ),
        (
            r#"{"Effect": "Allow", "Principal": "*", "Action": "iot:*", "Resource": "*"}"#,
            "Policy document should not specify a principal.",
        ),
        (
            r#"{"Effect": "Allow", "action": "iot:*", "Resource": "*"}"#,
            "Unsupported policy element: action",
        ),
        (
            r#"{"Sid": 1, "Effect": "Allow", "Action": "iot:*", "Resource": "*"}"#,
            "Sid must be a string",
        ),
        (
            r#"{"Effect": "Allow", "Action": "iot:*", "Resource": "*", "Condition": {"StringEqual": {"a": "b"}}}"#,
            "Invalid Condition type : StringEqual",
        ),
        (
            r#"{"Effect": "Allow", "Action": "iot:*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "300.0.0.1"}}}"#,
            "Invalid value for condition IpAddress on key aws:SourceIp: 300.0.0.1",
        ),
    ];
    for (statement, detail) in cases {
        assert_eq!(
            error(&with_statement(statement)),
            format!("Policy document is Malformed: {detail}"),
            "{statement}"
        );
    }
}

#[test]
fn non_iot_vendors_and_wildcard_actions_are_accepted() {
    for action in [
        "*",
        "iot:*",
        "iot:Update*",
        "iot:?et*",
        "greengrass:*",
        "iotjobsdata:DescribeJobExecution",
    ] {
        let statement = format!(r#"{{"Effect": "Allow", "Action": "{action}", "Resource": "*"}}"#);
        Policy::parse(&with_statement(&statement)).unwrap_or_else(|e| panic!("{action}: {e}"));
    }
}

/// A valid document of exactly `chars` non-whitespace characters, padded with `pad` spaces.
fn document_of(chars: usize, pad: usize) -> String {
    let head = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/"#;
    let tail = r#""}}"#;
    let name = "a".repeat(chars - head.len() - tail.len());
    format!("{head}{name}{tail}{}", " ".repeat(pad))
}

#[test]
fn size_limit_counts_characters_without_whitespace() {
    let at_limit = document_of(MAX_DOCUMENT_CHARS, 5000);
    assert_eq!(
        at_limit.chars().filter(|c| !c.is_whitespace()).count(),
        2048
    );
    Policy::parse(&at_limit).unwrap();
    assert_eq!(
        error(&document_of(MAX_DOCUMENT_CHARS + 1, 0)),
        "Policy document is Malformed: Policy document size 2049 exceeds the maximum of 2048 characters, excluding whitespace"
    );
}

#[test]
fn deeply_nested_or_hostile_input_is_an_error_not_a_panic() {
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    assert_eq!(
        error(&deep),
        "Policy document is Malformed: Invalid policy syntax."
    );
    let unicode = with_statement(
        r#"{"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:r:1:topic/é/${"}"#,
    );
    Policy::parse(&unicode).unwrap();
}

#[test]
fn policy_is_cheap_to_share_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Policy>();
}
