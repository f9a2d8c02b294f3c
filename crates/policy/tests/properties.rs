//! Property tests: resource matching agrees with a naive reference glob matcher, variables
//! never widen a match, deny always wins, order does not matter, and the broker's fast path
//! decides exactly as the full evaluation.

use std::collections::HashMap;

use ferrite_policy::{ContextValue, Decision, Policy, Request, evaluate, is_allowed};
use proptest::prelude::*;
use serde_json::json;

const PREFIX: &str = "arn:aws:iot:us-east-1:123456789012:topic/";

/// A token of the reference matcher's pattern language.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Lit(char),
    Star,
    Any,
}

/// Reference glob: dynamic programming over (pattern tokens, input chars). `*` matches any
/// sequence (including `/`), `?` exactly one character, everything else itself.
fn reference(pattern: &[Tok], input: &str) -> bool {
    let input: Vec<char> = input.chars().collect();
    // m[i][j]: pattern[..i] matches input[..j].
    let mut m = vec![vec![false; input.len() + 1]; pattern.len() + 1];
    m[0][0] = true;
    for i in 1..=pattern.len() {
        for j in 0..=input.len() {
            m[i][j] = match pattern[i - 1] {
                Tok::Star => m[i - 1][j] || (j > 0 && m[i][j - 1]),
                Tok::Any => j > 0 && m[i - 1][j - 1],
                Tok::Lit(c) => j > 0 && input[j - 1] == c && m[i - 1][j - 1],
            };
        }
    }
    m[pattern.len()][input.len()]
}

fn tokens(pattern: &str) -> Vec<Tok> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::Any,
            c => Tok::Lit(c),
        })
        .collect()
}

fn allow(action: &str, resources: &[String]) -> Policy {
    statements(&[json!({"Effect": "Allow", "Action": action, "Resource": resources})])
}

fn statements(statements: &[serde_json::Value]) -> Policy {
    let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    Policy::parse(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"))
}

fn publish_allowed(policy: &Policy, topic: &str, ctx: &HashMap<String, ContextValue>) -> bool {
    let resource = format!("{PREFIX}{topic}");
    is_allowed(
        [policy],
        &Request {
            action: "iot:Publish",
            resource: &resource,
        },
        ctx,
    )
}

fn no_ctx() -> HashMap<String, ContextValue> {
    HashMap::new()
}

/// Small alphabets make matches likely; MQTT wildcards are included to show they are literal.
fn pattern_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec!['a', 'b', '/', '*', '?', '+', '#']),
        0..12,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn topic_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec!['a', 'b', '/', '+', '#', 'é']),
        0..16,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

/// Values a client could choose for its client id, wildcard characters included.
fn hostile_value() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec!['a', 'b', '/', '*', '?', '+', '#', '$', '{', '}']),
        0..8,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

/// A pattern and a topic built from it (wildcards filled in from a tiny alphabet), then maybe
/// nudged by one character: near misses are where glob matchers go wrong.
fn pattern_and_near_topic() -> impl Strategy<Value = (String, String)> {
    let fill = proptest::collection::vec(
        prop::sample::select(vec!["", "a", "b", "ab", "ba", "/"]),
        12,
    );
    let nudge = (0usize..4, 0usize..16, prop::sample::select(vec!['a', 'b']));
    (pattern_text(), fill, nudge).prop_map(|(pattern, fill, (kind, at, c))| {
        let mut topic: Vec<char> = Vec::new();
        for (i, p) in pattern.chars().enumerate() {
            match p {
                '*' => topic.extend(fill[i].chars()),
                '?' => topic.push(if fill[i].is_empty() { 'a' } else { 'b' }),
                c => topic.push(c),
            }
        }
        let at = at.min(topic.len());
        match kind {
            1 => topic.insert(at, c),
            2 if at < topic.len() => drop(topic.remove(at)),
            3 if at < topic.len() => topic[at] = c,
            _ => {}
        }
        (pattern, topic.into_iter().collect())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn wildcard_matching_agrees_with_reference(pattern in pattern_text(), topic in topic_text()) {
        let policy = allow("iot:Publish", &[format!("{PREFIX}{pattern}")]);
        prop_assert_eq!(
            publish_allowed(&policy, &topic, &no_ctx()),
            reference(&tokens(&pattern), &topic),
            "pattern {:?} topic {:?}", pattern, topic
        );
    }

    #[test]
    fn wildcard_matching_agrees_with_reference_on_near_misses((pattern, topic) in pattern_and_near_topic()) {
        let policy = allow("iot:Publish", &[format!("{PREFIX}{pattern}")]);
        prop_assert_eq!(
            publish_allowed(&policy, &topic, &no_ctx()),
            reference(&tokens(&pattern), &topic),
            "pattern {:?} topic {:?}", pattern, topic
        );
    }
}

proptest! {
    #[test]
    fn star_matches_every_string(topic in any::<String>()) {
        let everything = allow("*", &["*".to_owned()]);
        prop_assert!(publish_allowed(&everything, &topic, &no_ctx()));
        let all_topics = allow("iot:*", &[format!("{PREFIX}*")]);
        prop_assert!(publish_allowed(&all_topics, &topic, &no_ctx()));
    }

    #[test]
    fn pattern_without_wildcards_matches_only_itself(
        pattern in "[^*?$]{1,20}",
        topic in "[^*?$]{0,20}",
    ) {
        let policy = allow("iot:Publish", &[format!("{PREFIX}{pattern}")]);
        prop_assert!(publish_allowed(&policy, &pattern, &no_ctx()));
        prop_assert_eq!(publish_allowed(&policy, &topic, &no_ctx()), topic == pattern);
    }

    #[test]
    fn variable_values_are_always_literal(
        before in pattern_text(),
        after in pattern_text(),
        client_id in hostile_value(),
        topic in topic_text(),
    ) {
        let policy = allow("iot:Publish", &[format!("{PREFIX}{before}${{iot:ClientId}}{after}")]);
        let ctx: HashMap<String, ContextValue> =
            [("iot:ClientId".to_owned(), ContextValue::One(client_id.clone()))].into();
        let mut expected = tokens(&before);
        expected.extend(client_id.chars().map(Tok::Lit));
        expected.extend(tokens(&after));
        // Also try the topic that spells the value out, so literal matches are exercised.
        let spelled = format!("{}{client_id}{}", before.replace(['*', '?'], "a"), after.replace(['*', '?'], "b"));
        for topic in [topic, spelled] {
            prop_assert_eq!(
                publish_allowed(&policy, &topic, &ctx),
                reference(&expected, &topic),
                "value {:?} topic {:?}", client_id, topic
            );
        }
    }

    #[test]
    fn substitution_never_widens_a_match(client_id in hostile_value(), topic in topic_text()) {
        // Whatever the client id, `topic/${iot:ClientId}` lets the client publish to exactly
        // one topic: the id itself.
        let policy = allow("iot:Publish", &[format!("{PREFIX}${{iot:ClientId}}")]);
        let ctx: HashMap<String, ContextValue> =
            [("iot:ClientId".to_owned(), ContextValue::One(client_id.clone()))].into();
        prop_assert!(publish_allowed(&policy, &client_id, &ctx));
        prop_assert_eq!(publish_allowed(&policy, &topic, &ctx), topic == client_id);
    }

    #[test]
    fn a_matching_deny_always_wins(
        policies in proptest::collection::vec(random_policy(), 0..4),
        topic in topic_text(),
        client_id in prop::sample::select(vec!["c1", "c2"]),
    ) {
        let deny = statements(&[json!({"Effect": "Deny", "Action": "iot:Publish", "Resource": format!("{PREFIX}{topic}")})]);
        let ctx = client_ctx(client_id);
        let resource = format!("{PREFIX}{topic}");
        let request = Request { action: "iot:Publish", resource: &resource };
        let mut named: Vec<(&str, &Policy)> = policies.iter().map(|p| ("random", p)).collect();
        named.push(("deny", &deny));
        let e = evaluate(named.iter().copied(), &request, &ctx);
        prop_assert_eq!(e.decision, Decision::ExplicitDeny);
        prop_assert!(e.denied_by.contains(&"deny".to_owned()));
        prop_assert!(!is_allowed(named.iter().map(|(_, p)| *p), &request, &ctx));
    }

    #[test]
    fn evaluation_is_independent_of_policy_order(
        (policies, shuffled) in proptest::collection::vec(random_policy(), 0..5)
            .prop_flat_map(|ps| {
                let order: Vec<usize> = (0..ps.len()).collect();
                (Just(ps), Just(order).prop_shuffle())
            }),
        action in action_name(),
        topic in topic_text(),
        client_id in prop::sample::select(vec!["c1", "c2", ""]),
    ) {
        let ctx = client_ctx(client_id);
        let resource = format!("{PREFIX}{topic}");
        let request = Request { action, resource: &resource };
        let names: Vec<String> = (0..policies.len()).map(|i| format!("p{i}")).collect();
        let forward = evaluate(names.iter().map(String::as_str).zip(&policies), &request, &ctx);
        let reordered = evaluate(shuffled.iter().map(|&i| (names[i].as_str(), &policies[i])), &request, &ctx);
        prop_assert_eq!(forward.decision, reordered.decision);
        let sorted = |mut v: Vec<String>| { v.sort(); v };
        prop_assert_eq!(sorted(forward.allowed_by), sorted(reordered.allowed_by));
        prop_assert_eq!(sorted(forward.denied_by), sorted(reordered.denied_by));
        prop_assert_eq!(sorted(forward.missing_context), sorted(reordered.missing_context));
        prop_assert_eq!(
            is_allowed(policies.iter(), &request, &ctx),
            is_allowed(shuffled.iter().map(|&i| &policies[i]), &request, &ctx)
        );
    }

    #[test]
    fn fast_path_agrees_with_full_evaluation(
        policies in proptest::collection::vec(random_policy(), 0..5),
        action in action_name(),
        topic in topic_text(),
        client_id in prop::sample::select(vec!["c1", "c2", ""]),
    ) {
        let ctx = client_ctx(client_id);
        let resource = format!("{PREFIX}{topic}");
        let request = Request { action, resource: &resource };
        let e = evaluate(policies.iter().map(|p| ("p", p)), &request, &ctx);
        prop_assert_eq!(is_allowed(policies.iter(), &request, &ctx), e.decision == Decision::Allowed);
        // The decision follows from the names collected.
        let expected = if !e.denied_by.is_empty() {
            Decision::ExplicitDeny
        } else if !e.allowed_by.is_empty() {
            Decision::Allowed
        } else {
            Decision::ImplicitDeny
        };
        prop_assert_eq!(e.decision, expected);
    }
}

/// `""` stands for "no client id in the context".
fn client_ctx(client_id: &str) -> HashMap<String, ContextValue> {
    let mut ctx = HashMap::new();
    if !client_id.is_empty() {
        ctx.insert(
            "iot:ClientId".to_owned(),
            ContextValue::One(client_id.to_owned()),
        );
    }
    ctx
}

fn action_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "iot:Publish",
        "iot:Subscribe",
        "iot:Receive",
        "iot:Connect",
    ])
}

/// A policy of 1–3 statements mixing effects, action wildcards, NotAction/NotResource,
/// variables and conditions.
fn random_policy() -> impl Strategy<Value = Policy> {
    let statement = (
        prop::sample::select(vec!["Allow", "Deny"]),
        prop::sample::select(vec![
            "iot:*",
            "iot:Publish",
            "iot:P*",
            "*",
            "iot:Subscribe",
            "iot:Rec?ive",
        ]),
        any::<bool>(),
        proptest::collection::vec(pattern_text(), 1..3),
        any::<bool>(),
        prop::sample::select(vec![0usize, 1, 2, 3]),
    )
        .prop_map(
            |(effect, action, not_action, patterns, not_resource, condition)| {
                let resources: Vec<String> = patterns
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        if i == 1 {
                            format!("{PREFIX}${{iot:ClientId}}{p}")
                        } else {
                            format!("{PREFIX}{p}")
                        }
                    })
                    .collect();
                let mut s = json!({"Effect": effect});
                s[if not_action { "NotAction" } else { "Action" }] = json!(action);
                s[if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                }] = json!(resources);
                match condition {
                    1 => s["Condition"] = json!({"StringEquals": {"iot:ClientId": "c1"}}),
                    2 => {
                        s["Condition"] =
                            json!({"StringNotEqualsIfExists": {"iot:ClientId": ["c2"]}})
                    }
                    3 => s["Condition"] = json!({"Null": {"iot:ClientId": "false"}}),
                    _ => {}
                }
                s
            },
        );
    proptest::collection::vec(statement, 1..4).prop_map(|s| statements(&s))
}

/// Fragments of policy JSON, shuffled into mostly-invalid documents.
fn json_soup() -> impl Strategy<Value = String> {
    let fragments = vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"Version\"",
        "\"2012-10-17\"",
        "\"Statement\"",
        "\"Effect\"",
        "\"Allow\"",
        "\"Deny\"",
        "\"Action\"",
        "\"iot:*\"",
        "\"Resource\"",
        "\"*\"",
        "\"Condition\"",
        "\"StringLike\"",
        "\"DateLessThan\"",
        "\"IpAddress\"",
        "\"arn:aws:iot:r:1:topic/${x}\"",
        "\"${\"",
        "1",
        "true",
        "null",
        "\"\\u0000\"",
        "\"é\"",
    ];
    proptest::collection::vec(prop::sample::select(fragments), 0..40).prop_map(|f| f.concat())
}

proptest! {
    #[test]
    fn parse_never_panics(doc in json_soup(), raw in any::<String>()) {
        for doc in [doc, raw] {
            match Policy::parse(&doc) {
                Ok(policy) => {
                    let request = Request { action: "iot:Publish", resource: "arn:aws:iot:r:1:topic/x" };
                    let e = evaluate([("p", &policy)], &request, &no_ctx());
                    prop_assert_eq!(is_allowed([&policy], &request, &no_ctx()), e.decision == Decision::Allowed);
                }
                Err(e) => prop_assert!(e.message.starts_with("Policy document is Malformed")),
            }
        }
    }
}

#[test]
fn reference_matcher_sanity() {
    assert!(reference(&tokens("a*b"), "a//b"));
    assert!(reference(&tokens("?"), "é"));
    assert!(!reference(&tokens("a?"), "a"));
    assert!(reference(&tokens(""), ""));
    assert!(reference(&tokens("**"), ""));
}
