//! Evaluation of realistic AWS IoT policies (the shapes of the AWS developer guide's examples)
//! against the requests the broker makes.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use ferrite_policy::{
    Context, ContextValue, Decision, Policy, Request, WithTime, evaluate, is_allowed,
};

const ARN: &str = "arn:aws:iot:us-east-1:123456789012";

fn policy(statements: &str) -> Policy {
    let doc = format!(
        r#"{{"Version": "2012-10-17", "Statement": {}}}"#,
        statements.replace("ARN", ARN)
    );
    Policy::parse(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"))
}

fn ctx(pairs: &[(&str, &str)]) -> HashMap<String, ContextValue> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), ContextValue::One(v.to_string())))
        .collect()
}

/// Decision of `action` on `{type}/{name}` under the given policies, checked against both
/// entry points.
fn decide(policies: &[&Policy], action: &str, resource: &str, ctx: &dyn Context) -> Decision {
    let resource = format!("{ARN}:{resource}");
    let request = Request {
        action,
        resource: &resource,
    };
    let named: Vec<(&str, &Policy)> = policies
        .iter()
        .enumerate()
        .map(|(i, p)| (NAMES[i], *p))
        .collect();
    let evaluation = evaluate(named, &request, ctx);
    assert_eq!(
        is_allowed(policies.iter().copied(), &request, ctx),
        evaluation.decision == Decision::Allowed,
        "is_allowed disagrees with evaluate for {action} on {resource}"
    );
    evaluation.decision
}

const NAMES: [&str; 4] = ["p0", "p1", "p2", "p3"];

fn allowed(policies: &[&Policy], action: &str, resource: &str, ctx: &dyn Context) -> bool {
    decide(policies, action, resource, ctx) == Decision::Allowed
}

#[test]
fn connect_pinned_to_the_thing_name() {
    let p = policy(
        r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"}"#,
    );
    let thing = ctx(&[
        ("iot:Connection.Thing.ThingName", "sensor-1"),
        ("iot:ClientId", "sensor-1"),
    ]);
    assert!(allowed(&[&p], "iot:Connect", "client/sensor-1", &thing));
    assert_eq!(
        decide(&[&p], "iot:Connect", "client/sensor-2", &thing),
        Decision::ImplicitDeny
    );

    // No thing attached / client id is not a thing name: the variable is unresolved and the
    // statement cannot match, and TestAuthorization learns which value was missing.
    let no_thing = ctx(&[("iot:ClientId", "sensor-1")]);
    let resource = format!("{ARN}:client/sensor-1");
    let e = evaluate(
        [("p", &p)],
        &Request {
            action: "iot:Connect",
            resource: &resource,
        },
        &no_thing,
    );
    assert_eq!(e.decision, Decision::ImplicitDeny);
    assert_eq!(
        e.missing_context,
        vec!["iot:Connection.Thing.ThingName".to_owned()]
    );
    // Not even a client literally named after the variable gets in.
    assert!(!allowed(
        &[&p],
        "iot:Connect",
        "client/${iot:Connection.Thing.ThingName}",
        &no_thing
    ));
}

#[test]
fn client_id_pinned_connect() {
    let p = policy(
        r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": ["ARN:client/basicPubSub", "ARN:client/dev-*"]}"#,
    );
    let none = ctx(&[]);
    assert!(allowed(&[&p], "iot:Connect", "client/basicPubSub", &none));
    assert!(allowed(&[&p], "iot:Connect", "client/dev-42", &none));
    assert!(
        !allowed(&[&p], "iot:Connect", "client/basicpubsub", &none),
        "resources are case-sensitive"
    );
    assert!(!allowed(&[&p], "iot:Connect", "client/other", &none));
    assert!(!allowed(&[&p], "iot:Publish", "client/basicPubSub", &none));
}

#[test]
fn thing_scoped_publish_subscribe_receive() {
    let p = policy(
        r#"[
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "ARN:topic/${iot:Connection.Thing.ThingName}/*"},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "ARN:topicfilter/${iot:Connection.Thing.ThingName}/*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Subscribe", "iot:Receive"],
         "Resource": ["ARN:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
                      "ARN:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"]}
    ]"#,
    );
    let c = ctx(&[("iot:Connection.Thing.ThingName", "t1")]);
    assert!(allowed(&[&p], "iot:Publish", "topic/t1/telemetry", &c));
    assert!(allowed(&[&p], "iot:Publish", "topic/t1/a/b/c", &c));
    assert!(allowed(&[&p], "iot:Receive", "topic/t1/cmd", &c));
    assert!(!allowed(&[&p], "iot:Publish", "topic/t2/telemetry", &c));
    assert!(!allowed(&[&p], "iot:Publish", "topic/t1", &c));
    assert!(allowed(&[&p], "iot:Subscribe", "topicfilter/t1/#", &c));
    assert!(allowed(
        &[&p],
        "iot:Subscribe",
        "topicfilter/t1/+/status",
        &c
    ));
    assert!(!allowed(&[&p], "iot:Subscribe", "topicfilter/+/status", &c));
    assert!(
        !allowed(&[&p], "iot:Subscribe", "topic/t1/x", &c),
        "Subscribe is checked on topicfilter ARNs"
    );
    assert!(allowed(
        &[&p],
        "iot:Publish",
        "topic/$aws/things/t1/shadow/update",
        &c
    ));
    assert!(allowed(
        &[&p],
        "iot:Subscribe",
        "topicfilter/$aws/things/t1/shadow/update/delta",
        &c
    ));
    assert!(!allowed(
        &[&p],
        "iot:Publish",
        "topic/$aws/things/t2/shadow/update",
        &c
    ));
    assert!(
        !allowed(&[&p], "iot:RetainPublish", "topic/t1/x", &c),
        "RetainPublish needs its own grant"
    );
}

#[test]
fn mqtt_wildcards_in_topicfilter_resources_are_literal() {
    let p = policy(
        r#"{"Effect": "Allow", "Action": "iot:Subscribe",
            "Resource": ["ARN:topicfilter/sensors/+/temperature", "ARN:topicfilter/alerts/#"]}"#,
    );
    let c = ctx(&[]);
    assert!(allowed(
        &[&p],
        "iot:Subscribe",
        "topicfilter/sensors/+/temperature",
        &c
    ));
    assert!(!allowed(
        &[&p],
        "iot:Subscribe",
        "topicfilter/sensors/room1/temperature",
        &c
    ));
    assert!(allowed(&[&p], "iot:Subscribe", "topicfilter/alerts/#", &c));
    assert!(!allowed(
        &[&p],
        "iot:Subscribe",
        "topicfilter/alerts/fire",
        &c
    ));
    assert!(!allowed(&[&p], "iot:Subscribe", "topicfilter/alerts/+", &c));

    // A `*` resource covers every filter text, wildcards included.
    let star = policy(
        r#"{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "ARN:topicfilter/sensors/*"}"#,
    );
    assert!(allowed(
        &[&star],
        "iot:Subscribe",
        "topicfilter/sensors/#",
        &c
    ));
    assert!(allowed(
        &[&star],
        "iot:Subscribe",
        "topicfilter/sensors/+/temperature",
        &c
    ));
    assert!(!allowed(&[&star], "iot:Subscribe", "topicfilter/#", &c));
}

#[test]
fn explicit_deny_wins_over_any_allow() {
    let open = policy(r#"{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}"#);
    let deny =
        policy(r#"{"Effect": "Deny", "Action": "iot:Publish", "Resource": "ARN:topic/secret/*"}"#);
    let c = ctx(&[]);
    let resource = format!("{ARN}:topic/secret/plans");
    let request = Request {
        action: "iot:Publish",
        resource: &resource,
    };
    let e = evaluate([("open", &open), ("deny", &deny)], &request, &c);
    assert_eq!(e.decision, Decision::ExplicitDeny);
    assert_eq!(e.allowed_by, vec!["open".to_owned()]);
    assert_eq!(e.denied_by, vec!["deny".to_owned()]);
    assert!(!is_allowed([&open, &deny], &request, &c));
    assert!(!is_allowed([&deny, &open], &request, &c));

    assert_eq!(
        decide(&[&open, &deny], "iot:Publish", "topic/public/x", &c),
        Decision::Allowed
    );
    assert_eq!(
        decide(&[&open, &deny], "iot:Receive", "topic/secret/plans", &c),
        Decision::Allowed
    );
    assert_eq!(
        decide(&[&deny], "iot:Receive", "topic/secret/plans", &c),
        Decision::ImplicitDeny
    );

    // Within one policy too.
    let both = policy(
        r#"[{"Effect": "Allow", "Action": "iot:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iot:Connect", "Resource": "ARN:client/banned"}]"#,
    );
    assert_eq!(
        decide(&[&both], "iot:Connect", "client/banned", &c),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&[&both], "iot:Connect", "client/ok", &c),
        Decision::Allowed
    );
}

#[test]
fn action_wildcards_and_case() {
    let p = policy(
        r#"{"Effect": "Allow", "Action": ["iot:Update*", "iot:Get?hingShadow"], "Resource": "*"}"#,
    );
    let c = ctx(&[]);
    assert!(allowed(&[&p], "iot:UpdateThingShadow", "thing/t1", &c));
    assert!(
        allowed(&[&p], "IOT:UPDATETHINGSHADOW", "thing/t1", &c),
        "actions compare case-insensitively"
    );
    assert!(allowed(&[&p], "iot:GetThingShadow", "thing/t1", &c));
    assert!(!allowed(&[&p], "iot:DeleteThingShadow", "thing/t1", &c));
    assert!(
        allowed(&[&p], "iot:Update", "thing/t1", &c),
        "`*` also matches the empty string"
    );
    let all = policy(r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#);
    assert!(allowed(&[&all], "greengrass:Discover", "thing/t1", &c));
    let iot = policy(r#"{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}"#);
    assert!(!allowed(&[&iot], "greengrass:Discover", "thing/t1", &c));
}

#[test]
fn not_action_and_not_resource() {
    let p = policy(
        r#"[{"Effect": "Allow", "NotAction": "iot:Connect", "Resource": "*"},
            {"Effect": "Deny", "Action": "iot:*", "NotResource": "ARN:topic/open/*"}]"#,
    );
    let c = ctx(&[]);
    assert!(allowed(&[&p], "iot:Publish", "topic/open/x", &c));
    assert_eq!(
        decide(&[&p], "iot:Publish", "topic/closed/x", &c),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&[&p], "iot:Connect", "client/x", &c),
        Decision::ExplicitDeny
    );
    let only = policy(r#"{"Effect": "Allow", "NotAction": "iot:Connect", "Resource": "*"}"#);
    assert_eq!(
        decide(&[&only], "iot:Connect", "client/x", &c),
        Decision::ImplicitDeny
    );
}

#[test]
fn client_ids_with_wildcard_characters_match_literally() {
    let p = policy(
        r#"[{"Effect": "Allow", "Action": "iot:Publish", "Resource": "ARN:topic/${iot:ClientId}/*"},
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "ARN:topicfilter/${iot:ClientId}/*"}]"#,
    );
    let star = ctx(&[("iot:ClientId", "*")]);
    assert!(
        !allowed(&[&p], "iot:Publish", "topic/other/x", &star),
        "a client id `*` is not a wildcard"
    );
    assert!(allowed(&[&p], "iot:Publish", "topic/*/x", &star));
    let question = ctx(&[("iot:ClientId", "?")]);
    assert!(!allowed(&[&p], "iot:Publish", "topic/a/x", &question));
    // `+` is literal in policies: the client may subscribe to the filter `+/x` (AWS's
    // documented danger, which is why connect should pin the client id).
    let plus = ctx(&[("iot:ClientId", "+")]);
    assert!(allowed(&[&p], "iot:Subscribe", "topicfilter/+/x", &plus));
    assert!(!allowed(&[&p], "iot:Subscribe", "topicfilter/a/x", &plus));
}

#[test]
fn certificate_variables_with_wildcard_characters_stay_unresolved() {
    let p = policy(
        r#"{"Effect": "Allow", "Action": "iot:Publish", "Resource": "ARN:topic/${iot:Certificate.Subject.CommonName}/*"}"#,
    );
    let ok = ctx(&[("iot:Certificate.Subject.CommonName", "device-7")]);
    assert!(allowed(&[&p], "iot:Publish", "topic/device-7/x", &ok));
    for cn in ["dev*", "dev+", "dev#", "dev?", "dev$"] {
        let c = ctx(&[("iot:Certificate.Subject.CommonName", cn)]);
        assert!(
            !allowed(&[&p], "iot:Publish", &format!("topic/{cn}/x"), &c),
            "{cn}"
        );
    }
    let long = "a".repeat(1025);
    let c = ctx(&[("iot:Certificate.Subject.CommonName", &long)]);
    assert!(!allowed(
        &[&p],
        "iot:Publish",
        &format!("topic/{long}/x"),
        &c
    ));
}

#[test]
fn escapes_and_legacy_version() {
    let p = policy(
        r#"{"Effect": "Allow", "Action": "iot:Publish", "Resource": "ARN:topic/literal/${*}/${?}/${$}x"}"#,
    );
    let c = ctx(&[("iot:ClientId", "c")]);
    assert!(allowed(&[&p], "iot:Publish", "topic/literal/*/?/$x", &c));
    assert!(!allowed(&[&p], "iot:Publish", "topic/literal/a/b/$x", &c));

    let legacy = Policy::parse(&format!(
        r#"{{"Version": "2008-10-17", "Statement": {{"Effect": "Allow", "Action": "iot:Publish", "Resource": "{ARN}:topic/${{iot:ClientId}}"}}}}"#
    ))
    .unwrap();
    assert!(
        !allowed(&[&legacy], "iot:Publish", "topic/c", &c),
        "no variables before 2012-10-17"
    );
    assert!(allowed(
        &[&legacy],
        "iot:Publish",
        "topic/${iot:ClientId}",
        &c
    ));
}

#[test]
fn connect_conditions_on_attributes_will_topic_and_source_ip() {
    let p = policy(
        r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:ClientId}",
            "Condition": {
              "ForAllValues:StringEquals": {"iot:ConnectAttributes": ["PersistentConnect", "LastWill"]},
              "ArnLikeIfExists": {"iot:LastWillTopic": "ARN:topic/will/${iot:ClientId}"},
              "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}
            }}"#,
    );
    let mut c = ctx(&[("iot:ClientId", "d1"), ("aws:SourceIp", "10.1.2.3")]);
    assert!(allowed(&[&p], "iot:Connect", "client/d1", &c));
    c.insert(
        "iot:ConnectAttributes".into(),
        ContextValue::Many(vec!["LastWill".into()]),
    );
    c.insert(
        "iot:LastWillTopic".into(),
        ContextValue::One(format!("{ARN}:topic/will/d1")),
    );
    assert!(allowed(&[&p], "iot:Connect", "client/d1", &c));
    c.insert(
        "iot:LastWillTopic".into(),
        ContextValue::One(format!("{ARN}:topic/will/d2")),
    );
    assert!(!allowed(&[&p], "iot:Connect", "client/d1", &c));
    c.remove("iot:LastWillTopic");
    c.insert("aws:SourceIp".into(), ContextValue::One("192.0.2.1".into()));
    assert!(!allowed(&[&p], "iot:Connect", "client/d1", &c));
    c.insert(
        "aws:SourceIp".into(),
        ContextValue::One("2001:db8::5".into()),
    );
    assert!(allowed(&[&p], "iot:Connect", "client/d1", &c));

    // Missing condition keys are reported.
    let resource = format!("{ARN}:client/d1");
    let e = evaluate(
        [("p", &p)],
        &Request {
            action: "iot:Connect",
            resource: &resource,
        },
        &ctx(&[("iot:ClientId", "d1")]),
    );
    assert_eq!(e.decision, Decision::ImplicitDeny);
    assert_eq!(e.missing_context, vec!["aws:SourceIp".to_owned()]);
}

#[test]
fn thing_attribute_and_is_attached_variables() {
    let p = policy(
        r#"{"Effect": "Allow", "Action": "iot:Publish",
            "Resource": "ARN:topic/fleet/${iot:Connection.Thing.Attributes[fleet]}/*",
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}}"#,
    );
    let c = ctx(&[
        ("iot:Connection.Thing.Attributes[fleet]", "blue"),
        ("iot:Connection.Thing.IsAttached", "true"),
    ]);
    assert!(allowed(&[&p], "iot:Publish", "topic/fleet/blue/x", &c));
    assert!(!allowed(&[&p], "iot:Publish", "topic/fleet/red/x", &c));
    let detached = ctx(&[
        ("iot:Connection.Thing.Attributes[fleet]", "blue"),
        ("iot:Connection.Thing.IsAttached", "false"),
    ]);
    assert!(!allowed(
        &[&p],
        "iot:Publish",
        "topic/fleet/blue/x",
        &detached
    ));
}

#[test]
fn time_conditions_mark_the_policy_time_dependent() {
    let p = policy(
        r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*",
            "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}}"#,
    );
    assert!(p.is_time_dependent());
    assert!(allowed(
        &[&p],
        "iot:Connect",
        "client/a",
        &ctx(&[("aws:CurrentTime", "2029-12-31T23:59:59Z")])
    ));
    assert!(!allowed(
        &[&p],
        "iot:Connect",
        "client/a",
        &ctx(&[("aws:CurrentTime", "2030-01-01T00:00:00Z")])
    ));
    let epoch = policy(
        r#"{"Effect": "Deny", "Action": "iot:*", "Resource": "*",
            "Condition": {"NumericGreaterThan": {"aws:EpochTime": 1893456000}}}"#,
    );
    assert!(epoch.is_time_dependent());
    let before = UNIX_EPOCH + Duration::from_secs(1_893_455_999);
    let after = UNIX_EPOCH + Duration::from_secs(1_893_456_001);
    let inner = ctx(&[]);
    assert!(allowed(
        &[&p],
        "iot:Connect",
        "client/a",
        &WithTime {
            inner: &inner,
            now: before
        }
    ));
    assert!(!allowed(
        &[&p],
        "iot:Connect",
        "client/a",
        &WithTime {
            inner: &inner,
            now: after
        }
    ));
    assert_eq!(
        decide(
            &[&epoch],
            "iot:Connect",
            "client/a",
            &WithTime {
                inner: &inner,
                now: after
            }
        ),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(
            &[&epoch],
            "iot:Connect",
            "client/a",
            &WithTime {
                inner: &inner,
                now: before
            }
        ),
        Decision::ImplicitDeny
    );
    let plain = policy(
        r#"{"Effect": "Allow", "Action": "iot:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": true}}}"#,
    );
    assert!(!plain.is_time_dependent());
}

#[test]
fn no_policies_means_implicit_deny() {
    let resource = format!("{ARN}:client/a");
    let request = Request {
        action: "iot:Connect",
        resource: &resource,
    };
    let e = evaluate([], &request, &());
    assert_eq!(e.decision, Decision::ImplicitDeny);
    assert!(e.allowed_by.is_empty() && e.denied_by.is_empty() && e.missing_context.is_empty());
    assert!(!is_allowed([], &request, &()));
}

#[test]
fn closures_are_contexts() {
    let p = policy(
        r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:ClientId}"}"#,
    );
    let lookup = |key: &str| (key == "iot:ClientId").then(|| ContextValue::One("c9".into()));
    assert!(allowed(&[&p], "iot:Connect", "client/c9", &lookup));
}
