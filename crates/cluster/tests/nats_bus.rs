//! `NatsBus` against the real NATS at `FERRITE_TEST_NATS_URL` (default nats://127.0.0.1:4222);
//! skipped loudly when no server answers there.

use std::time::Duration;

use bytes::Bytes;
use ferrite_cluster::envelope::{self, Sequence};
use ferrite_cluster::subject::{filter_subjects, queue_group, topic_subject};
use ferrite_cluster::{Bus, BusError, Headers, NatsBus, Subscription};
use ferrite_config::ClusterConfig;
use ferrite_mqtt_codec::{Properties, QoS};
use ferrite_types::{Message, Origin};

const WAIT: Duration = Duration::from_secs(5);

async fn connect(test: &str) -> Option<NatsBus> {
    let url = std::env::var("FERRITE_TEST_NATS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
    let cfg = ClusterConfig {
        nats_urls: vec![url.clone()],
        ..ClusterConfig::default()
    };
    match NatsBus::connect(&cfg, test).await {
        Ok(bus) => Some(bus),
        Err(e) => {
            eprintln!(
                "!! no NATS at {url} ({e}): {test} is SKIPPED. Start nats-server or set \
                 FERRITE_TEST_NATS_URL."
            );
            None
        }
    }
}

/// A prefix no other test or run uses, so tests share the server safely.
fn prefix() -> String {
    format!("ferrite-test-{}", uuid::Uuid::new_v4().simple())
}

async fn next(sub: &mut Subscription) -> ferrite_cluster::BusMessage {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("a message in time")
        .expect("subscription open")
}

#[tokio::test]
async fn a_routed_message_crosses_nats_with_its_envelope() {
    let (Some(a), Some(b)) = (
        connect("a_routed_message_crosses_nats_with_its_envelope").await,
        connect("a_routed_message_crosses_nats_with_its_envelope").await,
    ) else {
        return;
    };
    let prefix = prefix();
    let mut subs = Vec::new();
    for s in filter_subjects(&prefix, "dev ices/+/#", true) {
        subs.push(b.subscribe(s, None).await.unwrap());
    }
    b.flush().await.unwrap();

    let msg = Message {
        topic: "dev ices/x.y/é/".into(),
        payload: Bytes::from_static(b"\x00hello"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Properties {
            content_type: Some("text/plain".into()),
            user_properties: vec![("k".into(), "v\r\n".into())],
            correlation_data: Some(Bytes::from_static(b"\n")),
            ..Properties::default()
        },
        received_at_ms: 12,
        expires_at_ms: Some(34),
        origin: std::sync::Arc::new(Origin {
            client_id: Some("client 1".into()),
            principal: None,
            source_ip: Some("10.0.0.1".parse().unwrap()),
            protocol: ferrite_types::Protocol::Service("shadow"),
            node: "node-a".into(),
        }),
    };
    let seq = Sequence {
        incarnation: 7,
        seq: 1,
    };
    // Two messages in one batch: one bus message, both arrive in order.
    let second = Message {
        payload: Bytes::from_static(b"second"),
        ..msg.clone()
    };
    let e = envelope::encode(&prefix, "node-a", seq, &[&msg, &second]);
    assert_eq!(e.subject, topic_subject(&prefix, &msg.topic));
    a.publish(e.subject, Headers::new(), e.payload)
        .await
        .unwrap();
    a.flush().await.unwrap();

    let got = next(&mut subs[0]).await;
    let batch = envelope::decode(&prefix, &got.subject, got.payload).unwrap();
    assert_eq!((&*batch.node, batch.seq), ("node-a", seq));
    let [back, back_second] = &batch.messages[..] else {
        panic!("two messages, got {}", batch.messages.len());
    };
    assert_eq!(back.topic, msg.topic);
    assert_eq!(back.payload, msg.payload);
    assert_eq!((back.qos, back.retain), (msg.qos, msg.retain));
    assert_eq!(back.properties, msg.properties);
    assert_eq!(back.expires_at_ms, msg.expires_at_ms);
    assert_eq!(back.origin, msg.origin);
    assert_eq!(back_second.payload, second.payload);
}

#[tokio::test]
async fn a_queue_group_shares_and_unsubscribing_stops_delivery() {
    let test = "a_queue_group_shares_and_unsubscribing_stops_delivery";
    let (Some(a), Some(b), Some(c)) = (
        connect(test).await,
        connect(test).await,
        connect(test).await,
    ) else {
        return;
    };
    let prefix = prefix();
    let filter = "$share/g/t/+";
    let subject = &filter_subjects(&prefix, filter, true)[0];
    let group = queue_group(filter);
    let mut in_b = b.subscribe(subject.clone(), group.clone()).await.unwrap();
    let mut in_c = c.subscribe(subject.clone(), group.clone()).await.unwrap();
    let plain = a.subscribe(subject.clone(), None).await.unwrap();
    b.flush().await.unwrap();
    c.flush().await.unwrap();
    for n in 0..20u8 {
        a.publish(
            topic_subject(&prefix, "t/x"),
            Headers::new(),
            Bytes::from(vec![n]),
        )
        .await
        .unwrap();
    }
    a.flush().await.unwrap();
    // Every message reaches exactly one member of the group; the plain subscriber gets all.
    let mut plain = plain;
    for _ in 0..20 {
        next(&mut plain).await;
    }
    let mut seen = Vec::new();
    while seen.len() < 20 {
        tokio::select! {
            m = in_b.next() => seen.push(m.unwrap().payload[0]),
            m = in_c.next() => seen.push(m.unwrap().payload[0]),
            _ = tokio::time::sleep(WAIT) => panic!("only {} of 20 arrived", seen.len()),
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<u8>>());

    plain.unsubscribe();
    in_c.unsubscribe();
    in_b.unsubscribe();
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    c.flush().await.unwrap();
    // Nobody listens any more: a request finds no responders.
    let err = a
        .request(
            topic_subject(&prefix, "t/x"),
            Headers::new(),
            Bytes::new(),
            WAIT,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::NoResponders(_)), "{err}");
}

#[tokio::test]
async fn requests_are_answered_through_the_reply_subject() {
    let test = "requests_are_answered_through_the_reply_subject";
    let (Some(a), Some(b)) = (connect(test).await, connect(test).await) else {
        return;
    };
    let subject = format!("{}.node.b.takeover", prefix());
    let mut server = b.subscribe(subject.clone(), None).await.unwrap();
    b.flush().await.unwrap();
    let answering = async {
        let req = next(&mut server).await;
        assert_eq!(req.headers.get("Ferrite-Client"), Some("c1"));
        b.publish(
            req.reply.unwrap(),
            Headers::new(),
            Bytes::from_static(b"done"),
        )
        .await
        .unwrap();
    };
    let mut h = Headers::new();
    h.push("Ferrite-Client", "c1");
    let (answer, ()) = tokio::join!(a.request(subject.clone(), h, Bytes::new(), WAIT), answering);
    assert_eq!(answer.unwrap().payload, "done");
    let mut bad = Headers::new();
    bad.push("X", "line\nbreak");
    assert!(matches!(
        a.publish(subject, bad, Bytes::new()).await,
        Err(BusError::InvalidHeader { .. })
    ));
}
