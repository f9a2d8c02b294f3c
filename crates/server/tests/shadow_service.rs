//! The shadow service end to end inside one server: requests on the reserved topics from
//! many concurrent clients, answered through the broker, with no update lost.

// Tests spawn helper servers and sign with real time: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Duration;

use bytes::Bytes;
use ferrite_mqtt_codec::{Properties, Publish, QoS};
use ferrite_test_support::{TestServer, connect_v311};

const CLIENTS: usize = 8;
const UPDATES: usize = 10;

fn request(topic: &str, payload: String) -> Publish {
    Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: topic.to_owned(),
        packet_id: None,
        payload: Bytes::from(payload),
        properties: Properties::default(),
    }
}

#[tokio::test]
async fn concurrent_updates_are_serialized_without_losing_any() {
    let srv = TestServer::start().await;
    let (mut watcher, _) = connect_v311(srv.mqtt_addr(), "watcher", true).await;
    watcher
        .subscribe("$aws/things/pump/shadow/update/accepted", QoS::AtLeastOnce)
        .await;
    let mut writers = Vec::new();
    for c in 0..CLIENTS {
        let addr = srv.mqtt_addr();
        writers.push(tokio::spawn(async move {
            let (mut client, _) = connect_v311(addr, &format!("writer-{c}"), true).await;
            for u in 0..UPDATES {
                let doc = format!(r#"{{"state":{{"reported":{{"k{c}":{u}}}}}}}"#);
                let ack = client
                    .publish_with(request("$aws/things/pump/shadow/update", doc))
                    .await;
                assert!(ack.is_some(), "QoS 1 request acknowledged");
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    // Every accepted update carries the next version: all of them arrive, numbered 1..=N.
    let mut versions = Vec::new();
    for _ in 0..CLIENTS * UPDATES {
        let p = watcher.recv_publish().await;
        let doc: serde_json::Value = serde_json::from_slice(&p.payload).expect("json");
        versions.push(doc["version"].as_u64().expect("version"));
    }
    versions.sort_unstable();
    let expected: Vec<u64> = (1..=(CLIENTS * UPDATES) as u64).collect();
    assert_eq!(versions, expected);

    // The stored document holds every client's last value.
    let (mut reader, _) = connect_v311(srv.mqtt_addr(), "reader", true).await;
    reader
        .subscribe("$aws/things/pump/shadow/get/accepted", QoS::AtLeastOnce)
        .await;
    reader
        .publish_with(request("$aws/things/pump/shadow/get", String::new()))
        .await;
    let got = reader.recv_publish().await;
    let doc: serde_json::Value = serde_json::from_slice(&got.payload).expect("json");
    assert_eq!(doc["version"], (CLIENTS * UPDATES) as u64);
    for c in 0..CLIENTS {
        assert_eq!(
            doc["state"]["reported"][format!("k{c}")],
            (UPDATES - 1) as u64
        );
    }
    watcher.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn rejections_go_to_the_rejected_topic_with_the_client_token() {
    let srv = TestServer::start().await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev", true).await;
    dev.subscribe(
        "$aws/things/dev/shadow/name/cfg/+/rejected",
        QoS::AtLeastOnce,
    )
    .await;
    dev.publish_with(request(
        "$aws/things/dev/shadow/name/cfg/get",
        r#"{"clientToken":"abc"}"#.into(),
    ))
    .await;
    let p = dev.recv_publish().await;
    assert_eq!(p.topic, "$aws/things/dev/shadow/name/cfg/get/rejected");
    let doc: serde_json::Value = serde_json::from_slice(&p.payload).expect("json");
    assert_eq!(doc["code"], 404);
    assert_eq!(doc["clientToken"], "abc");
    dev.publish_with(request(
        "$aws/things/dev/shadow/name/cfg/update",
        "{not json".into(),
    ))
    .await;
    let p = dev.recv_publish().await;
    assert_eq!(p.topic, "$aws/things/dev/shadow/name/cfg/update/rejected");
    let doc: serde_json::Value = serde_json::from_slice(&p.payload).expect("json");
    assert_eq!(doc["code"], 400);
}
