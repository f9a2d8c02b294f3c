//! Event messages end to end: lifecycle events (connect, clean and unclean disconnect,
//! take-over, keep-alive timeout, subscribe, unsubscribe) reach a subscriber of
//! `$aws/events/#` with AWS's fields, rules see them, and registry and job events follow
//! UpdateEventConfigurations.

use std::time::Duration;

use ferrite_mqtt_codec::{Packet, Properties, ProtocolVersion, QoS, ReasonCode, Unsubscribe};
use ferrite_test_support::aws::iot_ok as call;
use ferrite_test_support::aws::signed_call;
use ferrite_test_support::rules::{create_rule, json_of, republish};
use ferrite_test_support::{
    TestClient, TestServer, WAIT, connect_packet, connect_v5, connect_v311, publish,
};
use serde_json::{Value, json};

/// A client subscribed to every event topic.
async fn watcher(srv: &TestServer, filter: &str) -> TestClient {
    let (mut w, _) = connect_v311(srv.mqtt_addr(), "watcher", true).await;
    let ack = w.subscribe(filter, QoS::AtLeastOnce).await;
    assert_eq!(ack.reasons, vec![ReasonCode::GrantedQoS1]);
    w
}

/// The next event on a topic starting with `prefix`, skipping others (the watcher's own).
async fn next_event(w: &mut TestClient, prefix: &str) -> (String, Value) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match w.recv_within(left).await {
            Ok(Some(Packet::Publish(p))) => {
                w.ack(&p).await;
                if p.topic.starts_with(prefix) {
                    return (p.topic.clone(), json_of(&p.payload));
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("watcher disconnected"),
            Err(e) => panic!("no event on {prefix}: {e}"),
        }
    }
}

fn is_session_id(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test]
async fn connect_and_clean_disconnect() {
    let srv = TestServer::start().await;
    let mut w = watcher(&srv, "$aws/events/#").await;
    let (dev, _) = connect_v311(srv.mqtt_addr(), "dev-1", true).await;
    let (topic, c) = next_event(&mut w, "$aws/events/presence/connected/dev-1").await;
    assert_eq!(topic, "$aws/events/presence/connected/dev-1");
    assert_eq!(c["clientId"], "dev-1");
    assert_eq!(c["eventType"], "connected");
    assert_eq!(c["ipAddress"], "127.0.0.1");
    assert!(is_session_id(&c["sessionIdentifier"]), "{c}");
    assert!(c["timestamp"].as_i64().unwrap() > 1_600_000_000_000, "{c}");
    assert!(c["versionNumber"].is_i64(), "{c}");
    // Anonymous loopback clients have no principal.
    assert!(c.get("principalIdentifier").is_some(), "{c}");
    assert!(c.get("disconnectReason").is_none());

    dev.disconnect().await;
    let (topic, d) = next_event(&mut w, "$aws/events/presence/disconnected/").await;
    assert_eq!(topic, "$aws/events/presence/disconnected/dev-1");
    assert_eq!(d["eventType"], "disconnected");
    assert_eq!(d["disconnectReason"], "CLIENT_INITIATED_DISCONNECT");
    assert_eq!(d["clientInitiatedDisconnect"], true);
    assert_eq!(d["sessionIdentifier"], c["sessionIdentifier"]);
    assert_eq!(d["versionNumber"], c["versionNumber"]);
    assert!(d.get("ipAddress").is_none());
    srv.shutdown().await;
}

#[tokio::test]
async fn dropping_the_socket_is_connection_lost() {
    let srv = TestServer::start().await;
    let mut w = watcher(&srv, "$aws/events/presence/+/+").await;
    let (dev, _) = connect_v5(srv.mqtt_addr(), "dev-2", true, Properties::default()).await;
    let (_, c) = next_event(&mut w, "$aws/events/presence/connected/dev-2").await;
    drop(dev);
    let (_, d) = next_event(&mut w, "$aws/events/presence/disconnected/dev-2").await;
    assert_eq!(d["disconnectReason"], "CONNECTION_LOST");
    assert_eq!(d["clientInitiatedDisconnect"], false);
    assert_eq!(d["versionNumber"], c["versionNumber"]);
    srv.shutdown().await;
}

#[tokio::test]
async fn a_take_over_is_duplicate_clientid_and_versions_increase() {
    let srv = TestServer::start().await;
    let mut w = watcher(&srv, "$aws/events/presence/#").await;
    let (mut first, _) = connect_v5(srv.mqtt_addr(), "dev-3", true, Properties::default()).await;
    let (_, c1) = next_event(&mut w, "$aws/events/presence/connected/dev-3").await;
    let (_second, _) = connect_v5(srv.mqtt_addr(), "dev-3", true, Properties::default()).await;
    match first.expect_closed().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::SessionTakenOver),
        other => panic!("expected DISCONNECT 0x8E, got {other:?}"),
    }
    let (_, d1) = next_event(&mut w, "$aws/events/presence/disconnected/dev-3").await;
    assert_eq!(d1["disconnectReason"], "DUPLICATE_CLIENTID");
    assert_eq!(d1["clientInitiatedDisconnect"], false);
    assert_eq!(d1["sessionIdentifier"], c1["sessionIdentifier"]);
    assert_eq!(d1["versionNumber"], c1["versionNumber"]);
    let (_, c2) = next_event(&mut w, "$aws/events/presence/connected/dev-3").await;
    assert_ne!(c2["sessionIdentifier"], c1["sessionIdentifier"]);
    assert!(
        c2["versionNumber"].as_i64() > c1["versionNumber"].as_i64(),
        "{c1} then {c2}"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn silence_past_the_keep_alive_is_a_keep_alive_timeout() {
    let srv = TestServer::start().await;
    let mut w = watcher(&srv, "$aws/events/presence/disconnected/+").await;
    let mut dev = TestClient::open(srv.mqtt_addr(), ProtocolVersion::V311).await;
    let mut connect = connect_packet(ProtocolVersion::V311, "dev-4", true);
    // The test config allows keep-alive down to 1 s: the broker closes after 1.5 s.
    connect.keep_alive = 1;
    assert_eq!(dev.connect_with(connect).await.reason, ReasonCode::Success);
    let (_, d) = next_event(&mut w, "$aws/events/presence/disconnected/dev-4").await;
    assert_eq!(d["disconnectReason"], "MQTT_KEEP_ALIVE_TIMEOUT");
    assert_eq!(d["clientInitiatedDisconnect"], false);
    srv.shutdown().await;
}

#[tokio::test]
async fn subscribe_and_unsubscribe_events_list_the_topics() {
    let srv = TestServer::start().await;
    let mut w = watcher(&srv, "$aws/events/subscriptions/#").await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev-5", true).await;
    dev.subscribe("foo/bar", QoS::AtLeastOnce).await;
    let (topic, s) = next_event(&mut w, "$aws/events/subscriptions/subscribed/dev-5").await;
    assert_eq!(topic, "$aws/events/subscriptions/subscribed/dev-5");
    assert_eq!(s["eventType"], "subscribed");
    assert_eq!(s["topics"], json!(["foo/bar"]));
    assert!(is_session_id(&s["sessionIdentifier"]), "{s}");
    let id = dev.next_packet_id();
    dev.send(&Packet::Unsubscribe(Unsubscribe {
        packet_id: id,
        filters: vec!["foo/bar".into()],
        properties: Properties::default(),
    }))
    .await;
    assert!(matches!(dev.recv().await, Packet::UnsubAck(_)));
    let (_, u) = next_event(&mut w, "$aws/events/subscriptions/unsubscribed/dev-5").await;
    assert_eq!(u["eventType"], "unsubscribed");
    assert_eq!(u["topics"], json!(["foo/bar"]));
    assert_eq!(u["sessionIdentifier"], s["sessionIdentifier"]);
    srv.shutdown().await;
}

#[tokio::test]
async fn client_ids_with_wildcards_have_no_events() {
    let srv = TestServer::start().await;
    let mut w = watcher(&srv, "$aws/events/presence/connected/#").await;
    let (odd, _) = connect_v311(srv.mqtt_addr(), "odd+id#", true).await;
    odd.disconnect().await;
    // Events are published in order, so the next one seen is the plain client's.
    let (_plain, _) = connect_v311(srv.mqtt_addr(), "plain", true).await;
    let (topic, _) = next_event(&mut w, "$aws/events/presence/connected/").await;
    assert_eq!(topic, "$aws/events/presence/connected/plain");
    srv.shutdown().await;
}

#[tokio::test]
async fn clients_cannot_publish_events() {
    let srv = TestServer::start().await;
    let (mut dev, _) = connect_v5(srv.mqtt_addr(), "forger", true, Properties::default()).await;
    let mut p = publish(
        "$aws/events/presence/connected/x",
        b"{}",
        QoS::AtLeastOnce,
        false,
    );
    p.packet_id = Some(dev.next_packet_id());
    let ack = dev.publish_with(p).await.expect("PUBACK");
    assert_eq!(ack.reason, ReasonCode::NotAuthorized);
    srv.shutdown().await;
}

#[tokio::test]
async fn a_rule_on_presence_topics_sees_lifecycle_events() {
    let srv = TestServer::start().await;
    create_rule(
        &srv,
        "presence",
        json!({"sql": "SELECT clientId, eventType, disconnectReason FROM '$aws/events/presence/+/+'",
               "actions": [republish("seen/${topic(4)}")]}),
    )
    .await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "rule-sub", true).await;
    sub.subscribe("seen/#", QoS::AtLeastOnce).await;
    // A new rule applies within moments of CreateTopicRule: connect until it acts.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rule never acted"
        );
        let (dev, _) = connect_v311(srv.mqtt_addr(), "ruled", true).await;
        dev.disconnect().await;
        if let Ok(Some(Packet::Publish(p))) = sub.recv_within(Duration::from_millis(300)).await {
            sub.ack(&p).await;
            let body = json_of(&p.payload);
            assert_eq!(body["clientId"], "ruled");
            assert!(p.topic.starts_with("seen/"), "{}", p.topic);
            break;
        }
    }
    srv.shutdown().await;
}

async fn configure_events(srv: &TestServer, body: Value) {
    let reply = signed_call(
        srv.api_addr(),
        "iot",
        "PATCH",
        "/event-configurations",
        &body.to_string(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn registry_events_follow_the_event_configuration() {
    let srv = TestServer::start().await;
    let mut w = watcher(&srv, "$aws/events/thing/#").await;
    // Off by default: a thing created now publishes nothing.
    call(&srv, "POST", "/things/quiet", json!({})).await;
    configure_events(
        &srv,
        json!({"eventConfigurations": {"THING": {"Enabled": true}}}),
    )
    .await;
    let created = call(
        &srv,
        "POST",
        "/things/lamp",
        json!({"attributePayload": {"attributes": {"color": "red"}}}),
    )
    .await;
    let (topic, e) = next_event(&mut w, "$aws/events/thing/").await;
    assert_eq!(topic, "$aws/events/thing/lamp/created");
    assert_eq!(e["eventType"], "THING_EVENT");
    assert_eq!(e["operation"], "CREATED");
    assert_eq!(e["thingName"], "lamp");
    assert_eq!(e["thingId"], created["thingId"]);
    assert_eq!(e["accountId"], srv.config.aws.account_id.as_str());
    assert_eq!(e["versionNumber"], 1);
    assert_eq!(e["attributes"], json!({"color": "red"}));
    assert!(e["thingTypeName"].is_null());
    assert!(e["eventId"].is_string() && e["timestamp"].is_i64(), "{e}");

    call(
        &srv,
        "PATCH",
        "/things/lamp",
        json!({"attributePayload": {"attributes": {"color": "blue"}}}),
    )
    .await;
    let (topic, e) = next_event(&mut w, "$aws/events/thing/").await;
    assert_eq!(topic, "$aws/events/thing/lamp/updated");
    assert_eq!(e["operation"], "UPDATED");
    assert_eq!(e["versionNumber"], 2);
    assert_eq!(e["attributes"], json!({"color": "blue"}));

    call(&srv, "DELETE", "/things/lamp", json!({})).await;
    let (topic, e) = next_event(&mut w, "$aws/events/thing/").await;
    assert_eq!(topic, "$aws/events/thing/lamp/deleted");
    assert_eq!(e["operation"], "DELETED");
    assert_eq!(e["thingId"], created["thingId"]);
    assert_eq!(e["attributes"], json!({"color": "blue"}));

    // Off again: nothing more, and the next event is about a type of thing still enabled.
    configure_events(
        &srv,
        json!({"eventConfigurations": {"THING": {"Enabled": false}}}),
    )
    .await;
    call(&srv, "POST", "/things/silent", json!({})).await;
    w.expect_silence(Duration::from_millis(500)).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn thing_group_membership_and_hierarchy_events() {
    let srv = TestServer::start().await;
    configure_events(
        &srv,
        json!({"eventConfigurations": {
            "THING_GROUP": {"Enabled": true},
            "THING_GROUP_MEMBERSHIP": {"Enabled": true},
            "THING_GROUP_HIERARCHY": {"Enabled": true},
            "THING_TYPE": {"Enabled": true},
            "THING_TYPE_ASSOCIATION": {"Enabled": true}}}),
    )
    .await;
    let mut w = watcher(&srv, "$aws/events/#").await;
    let parent = call(&srv, "POST", "/thing-groups/fleet", json!({})).await;
    let (topic, e) = next_event(&mut w, "$aws/events/thingGroup/").await;
    assert_eq!(topic, "$aws/events/thingGroup/fleet/created");
    assert_eq!(e["eventType"], "THING_GROUP_EVENT");
    assert_eq!(e["thingGroupId"], parent["thingGroupId"]);
    assert_eq!(e["versionNumber"], 1);

    let child = call(
        &srv,
        "POST",
        "/thing-groups/lamps",
        json!({"parentGroupName": "fleet", "thingGroupProperties": {"thingGroupDescription": "all lamps"}}),
    )
    .await;
    let (topic, e) = next_event(&mut w, "$aws/events/thingGroup/").await;
    assert_eq!(topic, "$aws/events/thingGroup/lamps/created");
    assert_eq!(e["parentGroupName"], "fleet");
    assert_eq!(e["parentGroupId"], parent["thingGroupId"]);
    assert_eq!(e["description"], "all lamps");
    assert_eq!(
        e["rootToParentThingGroups"][0]["groupId"],
        parent["thingGroupId"]
    );
    let (topic, e) = next_event(&mut w, "$aws/events/thingGroupHierarchy/").await;
    assert_eq!(
        topic,
        "$aws/events/thingGroupHierarchy/thingGroup/fleet/childThingGroup/lamps/added"
    );
    assert_eq!(e["eventType"], "THING_GROUP_HIERARCHY_EVENT");
    assert_eq!(e["operation"], "ADDED");
    assert_eq!(e["childGroupId"], child["thingGroupId"]);

    call(&srv, "POST", "/thing-types/bulb", json!({})).await;
    let (topic, e) = next_event(&mut w, "$aws/events/thingType/").await;
    assert_eq!(topic, "$aws/events/thingType/bulb/created");
    assert_eq!(e["eventType"], "THING_TYPE_EVENT");
    assert_eq!(e["isDeprecated"], false);

    let thing = call(
        &srv,
        "POST",
        "/things/lamp",
        json!({"thingTypeName": "bulb"}),
    )
    .await;
    let (topic, e) = next_event(&mut w, "$aws/events/thingTypeAssociation/").await;
    assert_eq!(topic, "$aws/events/thingTypeAssociation/thing/lamp/bulb");
    assert_eq!(e["operation"], "ADDED");
    assert_eq!(e["thingId"], thing["thingId"]);

    call(
        &srv,
        "PUT",
        "/thing-groups/addThingToThingGroup",
        json!({"thingGroupName": "lamps", "thingName": "lamp"}),
    )
    .await;
    let (topic, e) = next_event(&mut w, "$aws/events/thingGroupMembership/").await;
    assert_eq!(
        topic,
        "$aws/events/thingGroupMembership/thingGroup/lamps/thing/lamp/added"
    );
    assert_eq!(e["eventType"], "THING_GROUP_MEMBERSHIP_EVENT");
    assert_eq!(e["groupId"], child["thingGroupId"]);
    assert_eq!(e["thingId"], thing["thingId"]);
    assert!(
        e["groupArn"]
            .as_str()
            .unwrap()
            .ends_with(":thinggroup/lamps"),
        "{e}"
    );
    assert!(
        e["thingArn"].as_str().unwrap().ends_with(":thing/lamp"),
        "{e}"
    );
    let membership_id = e["membershipId"].clone();

    // And back: each removal and deletion says what it removed.
    call(
        &srv,
        "PUT",
        "/thing-groups/removeThingFromThingGroup",
        json!({"thingGroupName": "lamps", "thingName": "lamp"}),
    )
    .await;
    let (topic, e) = next_event(&mut w, "$aws/events/thingGroupMembership/").await;
    assert!(topic.ends_with("/thing/lamp/removed"), "{topic}");
    assert_eq!(e["operation"], "REMOVED");
    assert_eq!(e["membershipId"], membership_id);

    call(
        &srv,
        "PATCH",
        "/things/lamp",
        json!({"removeThingType": true}),
    )
    .await;
    let (topic, e) = next_event(&mut w, "$aws/events/thingTypeAssociation/").await;
    assert_eq!(topic, "$aws/events/thingTypeAssociation/thing/lamp/bulb");
    assert_eq!(e["operation"], "REMOVED");
    assert_eq!(e["thingId"], thing["thingId"]);

    call(&srv, "POST", "/thing-types/bulb/deprecate", json!({})).await;
    let (topic, e) = next_event(&mut w, "$aws/events/thingType/").await;
    assert_eq!(topic, "$aws/events/thingType/bulb/updated");
    assert_eq!(e["isDeprecated"], true);
    assert!(e["deprecationDate"].is_i64(), "{e}");
    call(&srv, "DELETE", "/thing-types/bulb", json!({})).await;
    let (topic, e) = next_event(&mut w, "$aws/events/thingType/").await;
    assert_eq!(topic, "$aws/events/thingType/bulb/deleted");
    assert_eq!(e["operation"], "DELETED");

    call(
        &srv,
        "PATCH",
        "/thing-groups/lamps",
        json!({"thingGroupProperties": {"thingGroupDescription": "every lamp"}}),
    )
    .await;
    let (topic, e) = next_event(&mut w, "$aws/events/thingGroup/").await;
    assert_eq!(topic, "$aws/events/thingGroup/lamps/updated");
    assert_eq!(e["description"], "every lamp");
    assert_eq!(e["versionNumber"], 2);

    call(&srv, "DELETE", "/thing-groups/lamps", json!({})).await;
    let (topic, e) = next_event(&mut w, "$aws/events/thingGroup/").await;
    assert_eq!(topic, "$aws/events/thingGroup/lamps/deleted");
    assert_eq!(e["thingGroupId"], child["thingGroupId"]);
    assert_eq!(e["parentGroupName"], "fleet");
    let (topic, e) = next_event(&mut w, "$aws/events/thingGroupHierarchy/").await;
    assert!(topic.ends_with("/childThingGroup/lamps/removed"), "{topic}");
    assert_eq!(e["operation"], "REMOVED");
    assert_eq!(e["childGroupId"], child["thingGroupId"]);
    srv.shutdown().await;
}

/// Publishes a jobs request as the device and waits for its answer on `{topic}/accepted`.
async fn job_request(dev: &mut TestClient, topic: &str, payload: Value) -> Value {
    let mut p = publish(topic, b"", QoS::AtMostOnce, false);
    p.payload = payload.to_string().into();
    dev.publish_with(p).await;
    next_event(dev, &format!("{topic}/accepted")).await.1
}

#[tokio::test]
async fn job_and_execution_events_follow_the_event_configuration() {
    let srv = TestServer::start().await;
    let mut w = watcher(&srv, "$aws/events/#").await;
    for thing in ["lamp", "desk"] {
        call(&srv, "POST", &format!("/things/{thing}"), json!({})).await;
    }
    let arn = |thing: &str| {
        format!(
            "arn:aws:iot:{}:{}:thing/{thing}",
            srv.config.aws.region, srv.config.aws.account_id
        )
    };
    // Off by default: a job that is canceled publishes nothing.
    call(
        &srv,
        "PUT",
        "/jobs/quiet",
        json!({"targets": [arn("desk")], "document": "{}"}),
    )
    .await;
    call(&srv, "PUT", "/jobs/quiet/cancel", json!({})).await;
    configure_events(
        &srv,
        json!({"eventConfigurations": {"JOB": {"Enabled": true}, "JOB_EXECUTION": {"Enabled": true}}}),
    )
    .await;

    call(
        &srv,
        "PUT",
        "/jobs/fw-1",
        json!({"targets": [arn("lamp"), arn("desk")], "document": "{\"v\":2}",
               "description": "firmware 2"}),
    )
    .await;
    call(&srv, "PUT", "/things/desk/jobs/fw-1/cancel", json!({})).await;
    let (topic, e) = next_event(&mut w, "$aws/events/job").await;
    assert_eq!(topic, "$aws/events/jobExecution/fw-1/canceled");
    assert_eq!(e["eventType"], "JOB_EXECUTION");
    assert_eq!(e["operation"], "canceled");
    assert_eq!(e["status"], "CANCELED");
    assert_eq!(e["jobId"], "fw-1");
    assert_eq!(e["thingArn"], arn("desk"));
    // AWS: job event timestamps are in seconds.
    let ts = e["timestamp"].as_i64().unwrap();
    assert!((1_600_000_000..4_000_000_000).contains(&ts), "{e}");

    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "lamp", true).await;
    dev.subscribe("$aws/things/lamp/jobs/#", QoS::AtLeastOnce)
        .await;
    let base = "$aws/things/lamp/jobs";
    job_request(&mut dev, &format!("{base}/start-next"), json!({})).await;
    job_request(
        &mut dev,
        &format!("{base}/fw-1/update"),
        json!({"status": "SUCCEEDED", "statusDetails": {"version": "2"}}),
    )
    .await;
    let (topic, e) = next_event(&mut w, "$aws/events/job").await;
    assert_eq!(topic, "$aws/events/jobExecution/fw-1/succeeded");
    assert_eq!(e["status"], "SUCCEEDED");
    assert_eq!(e["thingArn"], arn("lamp"));
    assert_eq!(e["statusDetails"], json!({"version": "2"}));
    let (topic, e) = next_event(&mut w, "$aws/events/job").await;
    assert_eq!(topic, "$aws/events/job/fw-1/completed");
    assert_eq!(e["eventType"], "JOB");
    assert_eq!(e["status"], "COMPLETED");
    assert_eq!(e["targetSelection"], "SNAPSHOT");
    assert_eq!(e["targets"], json!([arn("lamp"), arn("desk")]));
    assert_eq!(e["description"], "firmware 2");
    assert_eq!(e["jobProcessDetails"]["numberOfSucceededThings"], 1);
    assert_eq!(e["jobProcessDetails"]["numberOfCanceledThings"], 1);
    assert!(
        e["completedAt"].as_i64().unwrap() > 1_600_000_000_000,
        "{e}"
    );

    // A completed job changed again does not complete again.
    call(
        &srv,
        "PATCH",
        "/jobs/fw-1",
        json!({"description": "firmware 2 (done)"}),
    )
    .await;
    call(&srv, "DELETE", "/jobs/fw-1?force=true", json!({})).await;
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|t: &String| t.starts_with("$aws/events/job/"))
    {
        seen.push(next_event(&mut w, "$aws/events/job").await.0);
    }
    assert!(
        seen.contains(&"$aws/events/job/fw-1/deleted".to_owned())
            || seen.contains(&"$aws/events/job/fw-1/deletion_in_progress".to_owned()),
        "{seen:?}"
    );
    assert!(!seen.contains(&"$aws/events/job/fw-1/completed".to_owned()));

    // Off again: nothing more.
    configure_events(
        &srv,
        json!({"eventConfigurations": {"JOB": {"Enabled": false}, "JOB_EXECUTION": {"Enabled": false}}}),
    )
    .await;
    call(
        &srv,
        "PUT",
        "/jobs/silent",
        json!({"targets": [arn("desk")], "document": "{}"}),
    )
    .await;
    call(&srv, "PUT", "/jobs/silent/cancel", json!({})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(Some(p)) = w
        .recv_within(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        if let Packet::Publish(p) = p {
            assert!(!p.topic.contains("/silent/"), "{}", p.topic);
        }
    }
    srv.shutdown().await;
}
