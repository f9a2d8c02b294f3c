//! The SQL functions that call other services, end to end in a real server: `get_thing_shadow`
//! reads shadows devices reported over MQTT, `get_registry_data` the registry the API wrote,
//! `aws_lambda` invokes a mapped function endpoint and uses its answer, `get_secret` reads
//! `[secrets]` (inline and from files, by name or ARN) — in the SQL and inside substitution
//! templates — and a lookup that fails runs the error action.

// Test code spawns its function endpoint on the test's runtime.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use ferrite_config::SecretConfig;
use ferrite_mqtt_codec::{Packet, QoS};
use ferrite_test_support::aws::iot_ok as call;
use ferrite_test_support::rules::{RULE_ROLE, json_of, publish_until_received, republish};
use ferrite_test_support::{TestServer, WAIT, connect_v311};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const QUIET: Duration = Duration::from_millis(300);

async fn create_rule(srv: &TestServer, name: &str, sql: &str, actions: Value, error: Value) {
    let mut payload = json!({"sql": sql, "awsIotSqlVersion": "2016-03-23", "actions": actions});
    if !error.is_null() {
        payload["errorAction"] = error;
    }
    call(srv, "POST", &format!("/rules/{name}"), payload).await;
}

/// Reports `state` to the thing's shadow over MQTT and waits until it is accepted.
async fn report(srv: &TestServer, thing: &str, shadow: Option<&str>, state: Value) {
    let base = match shadow {
        Some(name) => format!("$aws/things/{thing}/shadow/name/{name}"),
        None => format!("$aws/things/{thing}/shadow"),
    };
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), &format!("{thing}-reporter"), true).await;
    dev.subscribe(&format!("{base}/update/accepted"), QoS::AtLeastOnce)
        .await;
    let mut update =
        ferrite_test_support::publish(&format!("{base}/update"), b"", QoS::AtMostOnce, false);
    update.payload = json!({"state": {"reported": state}}).to_string().into();
    dev.publish_with(update).await;
    let accepted = dev.recv_publish().await;
    assert_eq!(accepted.topic, format!("{base}/update/accepted"));
}

#[tokio::test]
async fn rules_read_shadows_and_the_registry() {
    let srv = TestServer::start().await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "pump7", true).await;
    report(&srv, "pump7", None, json!({"fw": "1.2", "room": "lab"})).await;
    report(&srv, "pump7", Some("cfg"), json!({"mode": "eco"})).await;
    call(
        &srv,
        "POST",
        "/things/pump7",
        json!({"attributePayload": {"attributes": {"model": "m7"}}}),
    )
    .await;
    call(&srv, "POST", "/thing-groups/pumps", json!({})).await;
    call(
        &srv,
        "PUT",
        "/thing-groups/addThingToThingGroup",
        json!({"thingGroupName": "pumps", "thingName": "pump7"}),
    )
    .await;

    create_rule(
        &srv,
        "enrich",
        &format!(
            "SELECT rpm, \
             get_thing_shadow(topic(2), '{RULE_ROLE}').state.reported.fw AS fw, \
             get_thing_shadow(topic(2), 'cfg', '{RULE_ROLE}').state.reported.mode AS mode, \
             get_thing_shadow(topic(2), 'absent', '{RULE_ROLE}') AS absent, \
             get_registry_data('DescribeThing', topic(2), '{RULE_ROLE}').attributes.model AS model, \
             get_registry_data('ListThingGroupsForThing', topic(2), '{RULE_ROLE}')\
             .thingGroups[0].groupName AS grp \
             FROM 'pumps/+/telemetry'"
        ),
        json!([republish("enriched/${topic(2)}")]),
        Value::Null,
    )
    .await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "ops", true).await;
    sub.subscribe("enriched/#", QoS::AtLeastOnce).await;
    let got = publish_until_received(
        &mut dev,
        &mut sub,
        "pumps/pump7/telemetry",
        br#"{"rpm": 9}"#,
    )
    .await;
    assert_eq!(got.topic, "enriched/pump7");
    // A shadow that does not exist is Undefined, so `absent` is left out.
    assert_eq!(
        json_of(&got.payload),
        json!({"rpm": 9, "fw": "1.2", "mode": "eco", "model": "m7", "grp": "pumps"})
    );

    // A thing the registry does not know, with no shadow: only what the message holds.
    let got = publish_until_received(
        &mut dev,
        &mut sub,
        "pumps/ghost/telemetry",
        br#"{"rpm": 1}"#,
    )
    .await;
    assert_eq!(json_of(&got.payload), json!({"rpm": 1}));

    // A shadow changed after the rule was created is read as it is now.
    report(&srv, "pump7", None, json!({"fw": "2.0"})).await;
    let got = publish_until_received(
        &mut dev,
        &mut sub,
        "pumps/pump7/telemetry",
        br#"{"rpm": 3}"#,
    )
    .await;
    assert_eq!(json_of(&got.payload)["fw"], "2.0");
}

/// A function endpoint: answers each invocation with the event it got under `seen`.
async fn function_endpoint() -> (String, mpsc::UnboundedReceiver<HeaderMap>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(headers);
            let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            json!({"seen": event, "verdict": "ok"}).to_string()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, rx)
}

// Lookups inside substitution templates block their action's task in place, which needs the
// multi-threaded runtime the server runs on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_call_lambda_and_read_secrets_in_sql_and_templates() {
    let (base, mut invocations) = function_endpoint().await;
    let function = "arn:aws:lambda:us-east-1:123456789012:function:score";
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "t0ken").unwrap();
    let key_file = dir.path().join("key.bin");
    std::fs::write(&key_file, [0u8, 159, 146, 150]).unwrap();
    let srv = TestServer::start_with(|c| {
        c.aws
            .functions
            .insert(function.into(), format!("{base}/functions/score"));
        let secret = |string: Option<&str>, string_file, binary_file| SecretConfig {
            string: string.map(str::to_owned),
            string_file,
            binary_file,
        };
        c.secrets.insert(
            "db/creds".into(),
            secret(Some(r#"{"user": "svc", "pass": "p"}"#), None, None),
        );
        c.secrets
            .insert("token".into(), secret(None, Some(token_file.clone()), None));
        c.secrets
            .insert("key".into(), secret(None, None, Some(key_file.clone())));
    })
    .await;

    create_rule(
        &srv,
        "scored",
        &format!(
            "SELECT aws_lambda('{function}', {{\"rpm\": rpm, \"device\": clientid()}}) AS lambda, \
             get_secret('db/creds', 'SecretString', 'user', '{RULE_ROLE}') AS user, \
             get_secret('arn:aws:secretsmanager:us-east-1:123456789012:secret:token-AbC123', \
             'SecretString', '{RULE_ROLE}') AS token, \
             get_secret('key', 'SecretBinary', '{RULE_ROLE}') AS key \
             FROM 'score/in'"
        ),
        json!([republish(&format!(
            "scored/${{get_secret('db/creds', 'SecretString', 'user', 'r')}}/\
             ${{aws_lambda('{function}', 1).verdict}}"
        ))]),
        Value::Null,
    )
    .await;
    create_rule(
        &srv,
        "unknown_secret",
        &format!("SELECT get_secret('nope', 'SecretString', '{RULE_ROLE}') AS s FROM 'score/in'"),
        json!([republish("never")]),
        republish("errors/unknown_secret"),
    )
    .await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "ops", true).await;
    sub.subscribe("scored/#", QoS::AtLeastOnce).await;
    sub.subscribe("errors/#", QoS::AtLeastOnce).await;
    sub.subscribe("never", QoS::AtLeastOnce).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "pump7", true).await;

    let mut scored = None;
    let mut error = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while scored.is_none() || error.is_none() {
        assert!(tokio::time::Instant::now() < deadline, "rules did not act");
        dev.publish("score/in", br#"{"rpm": 1200}"#, QoS::AtLeastOnce, false)
            .await;
        while let Ok(Some(Packet::Publish(p))) = sub.recv_within(QUIET).await {
            sub.ack(&p).await;
            assert_ne!(p.topic, "never", "a rule whose lookup failed acted");
            if p.topic.starts_with("errors/") {
                error.get_or_insert(p);
            } else {
                scored.get_or_insert(p);
            }
        }
    }
    let scored = scored.unwrap();
    assert_eq!(scored.topic, "scored/svc/ok");
    assert_eq!(
        json_of(&scored.payload),
        json!({
            "lambda": {"seen": {"rpm": 1200, "device": "pump7"}, "verdict": "ok"},
            "user": "svc",
            "token": "t0ken",
            "key": "AJ+Slg==",
        })
    );
    let headers = invocations.recv().await.unwrap();
    assert_eq!(headers["x-amz-invocation-type"], "RequestResponse");

    let error = json_of(&error.unwrap().payload);
    assert_eq!(error["failures"][0]["failedAction"], "SqlEvaluation");
    let message = error["failures"][0]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("get_secret") && message.contains("nope"),
        "{message}"
    );

    // A rotated secret file is read at the next lookup.
    std::fs::write(&token_file, "rotated").unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "rotation not seen");
        dev.publish("score/in", br#"{"rpm": 1}"#, QoS::AtLeastOnce, false)
            .await;
        let mut rotated = false;
        while let Ok(Some(Packet::Publish(p))) = sub.recv_within(QUIET).await {
            sub.ack(&p).await;
            rotated |= p.topic.starts_with("scored/") && json_of(&p.payload)["token"] == "rotated";
        }
        if rotated {
            break;
        }
    }
}
