//! Helpers for rules tests against a [`TestServer`]: rules created through the signed API, and
//! publishing until a rule acts (a new rule applies within moments of CreateTopicRule, not
//! before it returns, so a test cannot publish once and expect output).

use std::time::Duration;

use bytes::Bytes;
use ferrite_mqtt_codec::{Packet, Publish, QoS};
use serde_json::{Value, json};

use crate::{TestClient, TestServer, WAIT, publish};

/// The role rules name; Ferrite has no IAM and never checks it.
pub const RULE_ROLE: &str = "arn:aws:iam::123456789012:role/rules";
/// How long one publish is given to show before the next.
const ROUND: Duration = Duration::from_millis(300);

/// CreateTopicRule with the `topicRulePayload` `payload`; panics unless it succeeds.
pub async fn create_rule(srv: &TestServer, name: &str, payload: Value) {
    let reply = crate::aws::signed_call(
        srv.api_addr(),
        "iot",
        "POST",
        &format!("/rules/{name}"),
        &payload.to_string(),
    )
    .await;
    assert_eq!(reply.status, 200, "CreateTopicRule {name}: {}", reply.body);
}

/// A QoS 1 republish action to `topic` (a template).
pub fn republish(topic: &str) -> Value {
    json!({"republish": {"roleArn": RULE_ROLE, "topic": topic, "qos": 1}})
}

pub fn json_of(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).expect("json payload")
}

/// Publishes `payload` to `topic` at QoS 1 until `sub` receives something, at most [`WAIT`];
/// returns what it received (acknowledged).
pub async fn publish_until_received(
    dev: &mut TestClient,
    sub: &mut TestClient,
    topic: &str,
    payload: &[u8],
) -> Publish {
    let payload = Bytes::copy_from_slice(payload);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing arrived within {WAIT:?}"
        );
        let mut p = publish(topic, b"", QoS::AtLeastOnce, false);
        p.payload = payload.clone();
        dev.publish_with(p).await;
        if let Ok(Some(Packet::Publish(p))) = sub.recv_within(ROUND).await {
            sub.ack(&p).await;
            return p;
        }
    }
}
