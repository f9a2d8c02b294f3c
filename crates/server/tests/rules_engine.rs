//! The rules engine end to end in a real server: rules created through the signed API act on
//! messages from MQTT clients — republish with templates, WHERE filtering, Basic Ingest that
//! no subscriber sees, changes applied live, and the error action.

use std::time::Duration;

use ferrite_mqtt_codec::QoS;
use ferrite_test_support::aws::signed_call;
use ferrite_test_support::rules::{create_rule, json_of, publish_until_received, republish};
use ferrite_test_support::{TestServer, connect_v311};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);

async fn call(srv: &TestServer, method: &str, path: &str, body: Value) {
    let reply = signed_call(srv.api_addr(), "iot", method, path, &body.to_string()).await;
    assert_eq!(reply.status, 200, "{method} {path}: {}", reply.body);
}

/// The value of an unlabelled series in a Prometheus text page.
fn metric(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_rule_filters_transforms_and_republishes_with_templates() {
    let srv = TestServer::start().await;
    create_rule(
        &srv,
        "hot",
        json!({
            "sql": "SELECT temp, topic(2) AS id FROM 'sensors/+/data' WHERE temp > 30",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [republish("alerts/${topic(2)}/${upper(room)}")],
        }),
    )
    .await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "watcher", true).await;
    sub.subscribe("alerts/#", QoS::AtLeastOnce).await;
    let (mut dev2, _) = connect_v311(srv.mqtt_addr(), "dev2", true).await;
    // A new rule applies to the live message flow within moments, not before CreateTopicRule
    // returns: wait for it.
    wait_until_rule_state(&srv, &mut dev2, &mut sub, true).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev1", true).await;
    dev.publish(
        "sensors/dev1/data",
        br#"{"temp": 25, "room": "lab"}"#,
        QoS::AtLeastOnce,
        false,
    )
    .await;
    dev.publish(
        "sensors/dev1/data",
        br#"{"temp": 35, "room": "lab"}"#,
        QoS::AtLeastOnce,
        false,
    )
    .await;
    let got = sub.recv_publish().await;
    assert_eq!(got.topic, "alerts/dev1/LAB");
    assert_eq!(json_of(&got.payload), json!({"temp": 35, "id": "dev1"}));
    sub.expect_silence(QUIET).await;

    // Disabled: nothing; enabled again: it acts again, within the next message.
    call(&srv, "POST", "/rules/hot/disable", json!({})).await;
    wait_until_rule_state(&srv, &mut dev2, &mut sub, false).await;
    call(&srv, "POST", "/rules/hot/enable", json!({})).await;
    wait_until_rule_state(&srv, &mut dev2, &mut sub, true).await;

    // Replaced: the new SQL applies.
    call(
        &srv,
        "PATCH",
        "/rules/hot",
        json!({"sql": "SELECT VALUE 'replaced' FROM 'sensors/+/data'", "actions": [republish("alerts/new")]}),
    )
    .await;
    loop {
        dev2.publish(
            "sensors/dev2/data",
            br#"{"temp": 99, "room": "x"}"#,
            QoS::AtLeastOnce,
            false,
        )
        .await;
        let got = sub.recv_publish().await;
        if got.topic == "alerts/new" {
            assert_eq!(json_of(&got.payload), json!("replaced"));
            break;
        }
    }
}

/// Publishes until the rule's state shows (changes apply asynchronously, within moments).
async fn wait_until_rule_state(
    _srv: &TestServer,
    dev: &mut ferrite_test_support::TestClient,
    sub: &mut ferrite_test_support::TestClient,
    enabled: bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "rule change not applied within 5 s"
        );
        dev.publish(
            "sensors/dev2/data",
            br#"{"temp": 40, "room": "x"}"#,
            QoS::AtLeastOnce,
            false,
        )
        .await;
        let arrived = matches!(sub.recv_within(QUIET).await, Ok(Some(_)));
        if arrived == enabled {
            // Drain anything still on its way from before the change.
            while let Ok(Some(_)) = sub.recv_within(Duration::from_millis(100)).await {}
            return;
        }
    }
}

#[tokio::test]
async fn basic_ingest_reaches_its_rule_and_no_subscriber() {
    let srv = TestServer::start().await;
    create_rule(
        &srv,
        "ingest",
        json!({
            "sql": "SELECT *, topic() AS t FROM 'ignored/by/ingest' WHERE n > 0",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [republish("ingested")],
        }),
    )
    .await;
    let (mut spy, _) = connect_v311(srv.mqtt_addr(), "spy", true).await;
    spy.subscribe("#", QoS::AtLeastOnce).await;
    // A subscription to the ingest topic itself: refused or not, it must never receive.
    let (mut direct, _) = connect_v311(srv.mqtt_addr(), "direct", true).await;
    direct
        .send(&ferrite_mqtt_codec::Packet::Subscribe(
            ferrite_mqtt_codec::Subscribe {
                packet_id: ferrite_test_support::pid(1),
                filters: vec![(
                    "$aws/rules/ingest/#".into(),
                    ferrite_mqtt_codec::SubscriptionOptions {
                        qos: QoS::AtLeastOnce,
                        ..Default::default()
                    },
                )],
                properties: ferrite_mqtt_codec::Properties::default(),
            },
        ))
        .await;
    assert!(matches!(
        direct.recv().await,
        ferrite_mqtt_codec::Packet::SubAck(_)
    ));
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev", true).await;
    // Until the engine has the new rule, ingest messages are dropped: send until one arrives.
    let got = loop {
        dev.publish(
            "$aws/rules/ingest/plant/7",
            br#"{"n": 1}"#,
            QoS::AtLeastOnce,
            false,
        )
        .await;
        if let Ok(Some(ferrite_mqtt_codec::Packet::Publish(p))) = spy.recv_within(QUIET).await {
            spy.ack(&p).await;
            break p;
        }
    };
    assert_eq!(got.topic, "ingested", "only the rule's output is seen");
    assert_eq!(json_of(&got.payload), json!({"n": 1, "t": "plant/7"}));
    // WHERE still applies; an unknown rule's messages vanish.
    dev.publish(
        "$aws/rules/ingest/plant/7",
        br#"{"n": 0}"#,
        QoS::AtLeastOnce,
        false,
    )
    .await;
    dev.publish(
        "$aws/rules/nosuch/x",
        br#"{"n": 1}"#,
        QoS::AtLeastOnce,
        false,
    )
    .await;
    spy.expect_silence(QUIET).await;
    direct.expect_silence(QUIET).await;
    let not_found = || async {
        let metrics = ferrite_test_support::http_get(srv.api_addr(), "/metrics").await;
        metric(&metrics, "ferrite_rules_basic_ingest_rule_not_found_total")
    };
    let before = not_found().await;
    dev.publish(
        "$aws/rules/nosuch/y",
        br#"{"n": 1}"#,
        QoS::AtLeastOnce,
        false,
    )
    .await;
    spy.expect_silence(QUIET).await;
    assert_eq!(not_found().await, before + 1.0);
    let metrics = ferrite_test_support::http_get(srv.api_addr(), "/metrics").await;
    assert!(
        metrics.contains("ferrite_rules_messages_selected_total{rule=\"ingest\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_failing_action_sends_aws_error_message_to_the_error_action() {
    let srv = TestServer::start().await;
    create_rule(
        &srv,
        "fragile",
        json!({
            "sql": "SELECT * FROM 'in/#'",
            "awsIotSqlVersion": "2016-03-23",
            // A topic level from the payload that makes an invalid topic.
            "actions": [republish("out/${target}")],
            "errorAction": republish("errors/fragile"),
        }),
    )
    .await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "ops", true).await;
    sub.subscribe("errors/#", QoS::AtLeastOnce).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev9", true).await;
    let got = loop {
        dev.publish("in/x", br#"{"target": "+"}"#, QoS::AtLeastOnce, false)
            .await;
        if let Ok(Some(ferrite_mqtt_codec::Packet::Publish(p))) = sub.recv_within(QUIET).await {
            sub.ack(&p).await;
            break p;
        }
    };
    assert_eq!(got.topic, "errors/fragile");
    let error = json_of(&got.payload);
    assert_eq!(error["ruleName"], "fragile");
    assert_eq!(error["topic"], "in/x");
    assert_eq!(error["clientId"], "dev9");
    assert_eq!(error["base64OriginalPayload"], "eyJ0YXJnZXQiOiAiKyJ9");
    assert_eq!(error["failures"][0]["failedAction"], "RepublishAction");
    assert_eq!(error["failures"][0]["failedResource"], "out/${target}");
    assert!(
        error["failures"][0]["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("out/+")),
        "{error}"
    );
}

/// A rule whose actions all run on the engine's task and which has no error action runs them
/// without making a job: its counters must still tell what happened.
#[tokio::test]
async fn a_rule_of_republish_actions_alone_counts_what_its_actions_did() {
    let srv = TestServer::start().await;
    create_rule(
        &srv,
        "inline",
        json!({
            "sql": "SELECT * FROM 'in/#' WHERE target <> 'skip'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [republish("out/${target}")],
        }),
    )
    .await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "ops", true).await;
    sub.subscribe("out/#", QoS::AtLeastOnce).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev9", true).await;
    publish_until_received(&mut dev, &mut sub, "in/x", br#"{"target": "ok"}"#).await;
    // Copies published while the rule was being applied may still be on their way.
    while let Ok(Some(ferrite_mqtt_codec::Packet::Publish(p))) = sub.recv_within(QUIET).await {
        sub.ack(&p).await;
    }
    let series = |name: &str, action: bool| {
        let labels = if action {
            r#"{rule="inline",action="RepublishAction"}"#
        } else {
            r#"{rule="inline"}"#
        };
        format!("ferrite_rules_{name}_total{labels}")
    };
    let read = || async {
        let page = ferrite_test_support::http_get(srv.api_addr(), "/metrics").await;
        [
            metric(&page, &series("messages_matched", false)),
            metric(&page, &series("messages_selected", false)),
            metric(&page, &series("actions_succeeded", true)),
            metric(&page, &series("actions_failed", true)),
        ]
    };
    let before = read().await;
    assert!(before[2] >= 1.0, "{before:?}");
    // Filtered out; selected but its topic is invalid (the action fails); delivered.
    for payload in [
        &br#"{"target": "skip"}"#[..],
        br#"{"target": "+"}"#,
        br#"{"target": "ok"}"#,
    ] {
        dev.publish("in/x", payload, QoS::AtLeastOnce, false).await;
    }
    let got = sub.recv_publish().await;
    assert_eq!(got.topic, "out/ok");
    sub.expect_silence(QUIET).await;
    let expected = [
        before[0] + 3.0,
        before[1] + 2.0,
        before[2] + 1.0,
        before[3] + 1.0,
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = read().await;
        if now == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "counters {now:?}, expected {expected:?}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn the_rule_test_endpoint_and_cli_evaluate_without_creating_a_rule() {
    let srv = TestServer::start().await;
    let body = json!({
        "sql": "SELECT temp, clientid() AS c FROM 'sensors/+/data' WHERE temp > 30",
        "awsIotSqlVersion": "2016-03-23",
        "topic": "sensors/d1/data",
        "payload": "{\"temp\": 31}",
        "clientId": "dev-7",
        "templates": ["alerts/${topic(2)}"],
    });
    let reply = signed_call(
        srv.api_addr(),
        "iot",
        "POST",
        "/_ferrite/rules/test",
        &body.to_string(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let out: Value = serde_json::from_str(&reply.body).expect("json");
    assert_eq!(out["topicMatches"], true);
    assert_eq!(out["whereMatches"], true);
    assert_eq!(out["output"], json!({"temp": 31, "c": "dev-7"}));
    assert_eq!(out["templates"][0]["value"], "alerts/d1");
    // Bad SQL: AWS's exception, with the place.
    let reply = signed_call(
        srv.api_addr(),
        "iot",
        "POST",
        "/_ferrite/rules/test",
        &json!({"sql": "SELECT FROM", "topic": "t"}).to_string(),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("line 1:7"), "{}", reply.body);

    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args([
            "rules",
            "test",
            "--sql",
            "SELECT VALUE upper(name) FROM 'a/+'",
            "--sql-version",
            "2016-03-23",
            "--topic",
            "a/b",
            "--payload",
            r#"{"name": "lamp"}"#,
        ])
        .output()
        .expect("ferrite runs");
    assert!(cli.status.success(), "{cli:?}");
    let out: Value = serde_json::from_slice(&cli.stdout).expect("json");
    assert_eq!(out["output"], "LAMP");
}

#[tokio::test]
async fn the_reset_hook_stops_the_rules_it_removed() {
    let srv = TestServer::start_with(|c| c.aws.test_hooks = true).await;
    create_rule(
        &srv,
        "hot",
        json!({"sql": "SELECT * FROM 'sensors/+/data'", "actions": [republish("alerts/x")]}),
    )
    .await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "watcher", true).await;
    sub.subscribe("alerts/#", QoS::AtLeastOnce).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev2", true).await;
    wait_until_rule_state(&srv, &mut dev, &mut sub, true).await;
    let reply = signed_call(srv.api_addr(), "iot", "POST", "/_ferrite/reset", "").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    wait_until_rule_state(&srv, &mut dev, &mut sub, false).await;
}
