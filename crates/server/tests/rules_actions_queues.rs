//! Rule actions that deliver to queues and object stores, end to end in a real server: `sqs`
//! into RabbitMQ queues (read back with an AMQP consumer; skipped, saying so, without
//! `FERRITE_TEST_AMQP_URL`), `s3` into bucket directories, and the error action when a target
//! is down or a key cannot be stored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferrite_mqtt_codec::QoS;
use ferrite_test_support::aws::signed_call;
use ferrite_test_support::{TestClient, TestServer, WAIT, connect_v311};
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);
const ROLE: &str = "arn:aws:iam::123456789012:role/rules";

async fn create_rule(srv: &TestServer, name: &str, payload: Value) {
    let reply = signed_call(
        srv.api_addr(),
        "iot",
        "POST",
        &format!("/rules/{name}"),
        &payload.to_string(),
    )
    .await;
    assert_eq!(reply.status, 200, "CreateTopicRule {name}: {}", reply.body);
}

fn json_of(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).expect("json payload")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

fn queue_url(queue: &str) -> String {
    format!("https://sqs.us-east-1.amazonaws.com/123456789012/{queue}")
}

/// Publishes to `topic` until the error action's message arrives on `errors` (a new rule
/// applies within moments, and each message's failure is reported after its retries).
async fn first_error(
    dev: &mut TestClient,
    errors: &mut TestClient,
    topic: &str,
    payload: &'static [u8],
) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no error action message within {WAIT:?}"
        );
        dev.publish(topic, payload, QoS::AtLeastOnce, false).await;
        if let Ok(Some(ferrite_mqtt_codec::Packet::Publish(p))) =
            errors.recv_within(Duration::from_secs(3)).await
        {
            return json_of(&p.payload);
        }
    }
}

#[tokio::test]
async fn sqs_actions_deliver_to_rabbitmq_queues() {
    let Ok(url) = std::env::var("FERRITE_TEST_AMQP_URL") else {
        eprintln!(
            "!! SKIPPED sqs_actions_deliver_to_rabbitmq_queues: FERRITE_TEST_AMQP_URL is not set (no RabbitMQ)"
        );
        return;
    };
    let plain = unique("ferrite-plain");
    let encoded = unique("ferrite-b64");
    let mapped = unique("ferrite-mapped");
    let encoded_url = queue_url(&encoded);
    let srv = TestServer::start_with(|c| {
        c.targets.sqs.amqp_url = url.clone();
        c.targets
            .sqs
            .queues
            .insert(encoded_url.clone(), mapped.clone());
    })
    .await;
    // The consumers declare the queues as the action does (durable), so they can listen
    // before the first message.
    let conn = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut consumers = Vec::new();
    for queue in [&plain, &mapped] {
        ch.queue_declare(
            queue.as_str().into(),
            lapin::options::QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        consumers.push(
            ch.basic_consume(
                queue.as_str().into(),
                queue.as_str().into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap(),
        );
    }
    let mut mapped_consumer = consumers.pop().unwrap();
    let mut plain_consumer = consumers.pop().unwrap();

    create_rule(
        &srv,
        "to_sqs",
        json!({
            "sql": "SELECT temp, topic(2) AS id FROM 'sensors/+/q'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [
                {"sqs": {"roleArn": ROLE, "queueUrl": queue_url(&plain)}},
                {"sqs": {"roleArn": ROLE, "queueUrl": encoded_url, "useBase64": true}},
            ],
        }),
    )
    .await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev1", true).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let delivery = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no message in {plain}"
        );
        dev.publish("sensors/d1/q", br#"{"temp": 7}"#, QoS::AtLeastOnce, false)
            .await;
        if let Ok(Some(d)) = tokio::time::timeout(QUIET, plain_consumer.next()).await {
            break d.unwrap();
        }
    };
    assert_eq!(json_of(&delivery.data), json!({"temp": 7, "id": "d1"}));
    assert_eq!(*delivery.properties.delivery_mode(), Some(2), "persistent");

    // useBase64, into the queue [targets.sqs].queues maps the URL to.
    let delivery = tokio::time::timeout(WAIT, mapped_consumer.next())
        .await
        .expect("a message in the mapped queue")
        .unwrap()
        .unwrap();
    let decoded = STANDARD.decode(&delivery.data).expect("base64 body");
    assert_eq!(json_of(&decoded), json!({"temp": 7, "id": "d1"}));

    for queue in [&plain, &mapped] {
        ch.queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_unreachable_rabbitmq_fires_the_error_action() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let srv = TestServer::start_with(|c| {
        c.targets.sqs.amqp_url = format!("amqp://guest:hidden@127.0.0.1:{port}/%2f");
    })
    .await;
    let url = queue_url("orders");
    create_rule(
        &srv,
        "down",
        json!({
            "sql": "SELECT * FROM 'orders/in'",
            "actions": [{"sqs": {"roleArn": ROLE, "queueUrl": url}}],
            "errorAction": {"republish": {"roleArn": ROLE, "topic": "errors/down", "qos": 1}},
        }),
    )
    .await;
    let (mut errors, _) = connect_v311(srv.mqtt_addr(), "errors", true).await;
    errors.subscribe("errors/#", QoS::AtLeastOnce).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev", true).await;
    let error = first_error(&mut dev, &mut errors, "orders/in", br#"{"n": 1}"#).await;
    assert_eq!(error["ruleName"], "down");
    let failure = &error["failures"][0];
    assert_eq!(failure["failedAction"], "SqsAction");
    assert_eq!(failure["failedResource"], url);
    let message = failure["errorMessage"].as_str().unwrap();
    assert!(message.contains("cannot connect to RabbitMQ"), "{message}");
    assert!(!message.contains("hidden"), "no password in {message}");
}

/// Waits until `path` exists (the action writes after the rule applies, asynchronously);
/// files give no event to wait on, so this looks every few milliseconds until `WAIT`.
async fn wait_for_file(
    path: &Path,
    dev: &mut TestClient,
    topic: &str,
    payload: &'static [u8],
) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last_publish = None;
    loop {
        if let Ok(bytes) = tokio::fs::read(path).await {
            return bytes;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} did not appear within {WAIT:?}",
            path.display()
        );
        // Until the rule applies, messages pass it by: publish again now and then.
        if last_publish.is_none_or(|t: tokio::time::Instant| t.elapsed() > QUIET) {
            dev.publish(topic, payload, QoS::AtLeastOnce, false).await;
            last_publish = Some(tokio::time::Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn s3_actions_write_objects_into_bucket_directories() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let archive: PathBuf = elsewhere.path().join("archive");
    let srv = TestServer::start_with(|c| {
        c.targets.s3.root = root.path().to_owned();
        c.targets
            .s3
            .buckets
            .insert("archive-bucket".into(), archive.clone());
    })
    .await;
    create_rule(
        &srv,
        "to_s3",
        json!({
            "sql": "SELECT temp FROM 'plant/+/data'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [
                {"s3": {"roleArn": ROLE, "bucketName": "telemetry",
                        "key": "${topic(2)}/${clientid()}/${seq}.json", "cannedAcl": "private"}},
                {"s3": {"roleArn": ROLE, "bucketName": "archive-bucket", "key": "last.json"}},
            ],
        }),
    )
    .await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev-3", true).await;
    let object = root.path().join("telemetry/p1/dev-3/1.json");
    let bytes = wait_for_file(
        &object,
        &mut dev,
        "plant/p1/data",
        br#"{"temp": 5, "seq": 1}"#,
    )
    .await;
    assert_eq!(json_of(&bytes), json!({"temp": 5}));
    let bytes = wait_for_file(
        &archive.join("last.json"),
        &mut dev,
        "plant/p1/data",
        br#"{"temp": 5, "seq": 1}"#,
    )
    .await;
    assert_eq!(json_of(&bytes), json!({"temp": 5}));
}

#[tokio::test]
async fn s3_keys_that_would_leave_the_bucket_fire_the_error_action() {
    let root = tempfile::tempdir().unwrap();
    let srv = TestServer::start_with(|c| c.targets.s3.root = root.path().join("buckets")).await;
    create_rule(
        &srv,
        "escape",
        json!({
            "sql": "SELECT * FROM 'up/+'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"s3": {"roleArn": ROLE, "bucketName": "b", "key": "${topic(2)}/../../x"}}],
            "errorAction": {"republish": {"roleArn": ROLE, "topic": "errors/escape", "qos": 1}},
        }),
    )
    .await;
    let (mut errors, _) = connect_v311(srv.mqtt_addr(), "errors", true).await;
    errors.subscribe("errors/#", QoS::AtLeastOnce).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev", true).await;
    let error = first_error(&mut dev, &mut errors, "up/a", b"{}").await;
    let failure = &error["failures"][0];
    assert_eq!(failure["failedAction"], "S3Action");
    assert_eq!(failure["failedResource"], "b");
    let message = failure["errorMessage"].as_str().unwrap();
    assert!(message.contains(".."), "{message}");
    assert!(!root.path().join("x").exists());
    assert!(!root.path().join("buckets/x").exists());
}
