//! Bad input never panics, hangs or grows buffers: each case gets the right reason code or a
//! clean close, and the broker keeps serving other clients.

// Tests spawn helper servers and sign with real time: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Duration;

use bytes::Bytes;
use ferrite_mqtt_codec::{
    Packet, Properties, ProtocolVersion, Publish, QoS, ReasonCode, Subscribe, SubscriptionOptions,
    encode,
};
use ferrite_test_support::{
    TestClient, TestServer, connect_packet, connect_v5, connect_v311, publish,
};

async fn still_serving(srv: &TestServer) {
    let (mut c, _) = connect_v311(srv.mqtt_addr(), "healthy", true).await;
    c.send(&Packet::PingReq).await;
    assert_eq!(c.recv().await, Packet::PingResp);
}

#[tokio::test]
async fn connection_without_connect_is_closed_after_the_timeout() {
    let srv = TestServer::start_with(|c| c.server.connect_timeout_secs = 1).await;
    let mut c = TestClient::open(srv.mqtt_addr(), ProtocolVersion::V311).await;
    let t = std::time::Instant::now();
    assert_eq!(c.expect_closed().await, None);
    assert!(t.elapsed() < Duration::from_secs(5));
    still_serving(&srv).await;
}

#[tokio::test]
async fn garbage_and_wrong_first_packet_are_closed() {
    let srv = TestServer::start().await;
    let mut c = TestClient::open(srv.mqtt_addr(), ProtocolVersion::V311).await;
    c.send_raw(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).await;
    c.expect_closed().await;
    let mut c = TestClient::open(srv.mqtt_addr(), ProtocolVersion::V311).await;
    c.send(&Packet::PingReq).await;
    c.expect_closed().await;
    still_serving(&srv).await;
}

#[tokio::test]
async fn unsupported_protocol_level_gets_return_code_1() {
    let srv = TestServer::start().await;
    let mut c = TestClient::open(srv.mqtt_addr(), ProtocolVersion::V311).await;
    // CONNECT with protocol level 6.
    c.send_raw(&[
        0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x06, 0x02, 0x00, 0x3c, 0x00, 0x01, b'x',
    ])
    .await;
    match c.recv().await {
        Packet::ConnAck(a) => assert_eq!(a.reason, ReasonCode::UnsupportedProtocolVersion),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn oversize_packet_is_refused_before_it_is_buffered() {
    let srv = TestServer::start().await;
    let (mut c, _) = connect_v5(srv.mqtt_addr(), "big", true, Properties::default()).await;
    // A PUBLISH header announcing 200 MB; the body never comes.
    c.send_raw(&[0x30, 0x80, 0x80, 0x80, 0x60]).await;
    match c.expect_closed().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::PacketTooLarge),
        other => panic!("{other:?}"),
    }
    still_serving(&srv).await;
}

#[tokio::test]
async fn payload_over_the_limit_disconnects() {
    let srv = TestServer::start_with(|c| c.mqtt.max_payload_size = 1000).await;
    let (mut c, _) = connect_v5(srv.mqtt_addr(), "p", true, Properties::default()).await;
    c.send(&Packet::Publish(Publish {
        payload: Bytes::from(vec![0u8; 1001]),
        ..publish("t", b"", QoS::AtMostOnce, false)
    }))
    .await;
    match c.expect_closed().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::PacketTooLarge),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn topic_limits_are_enforced() {
    let srv = TestServer::start().await;
    let (mut c, _) = connect_v5(srv.mqtt_addr(), "t", true, Properties::default()).await;
    let nine_levels = "a/b/c/d/e/f/g/h/i";
    c.send(&Packet::Publish(publish(
        nine_levels,
        b"x",
        QoS::AtMostOnce,
        false,
    )))
    .await;
    match c.expect_closed().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::TopicNameInvalid),
        other => panic!("{other:?}"),
    }
    let (mut c, _) = connect_v5(srv.mqtt_addr(), "t", true, Properties::default()).await;
    let long = "x".repeat(257);
    let ack = c
        .subscribe_opts(&long, SubscriptionOptions::default(), Properties::default())
        .await;
    assert_eq!(ack.reasons, vec![ReasonCode::TopicFilterInvalid]);
    let ack = c
        .subscribe_opts(
            "a/#/b",
            SubscriptionOptions::default(),
            Properties::default(),
        )
        .await;
    assert_eq!(ack.reasons, vec![ReasonCode::TopicFilterInvalid]);
}

#[tokio::test]
async fn subscribe_limits_per_packet_and_per_session() {
    let srv = TestServer::start_with(|c| c.mqtt.max_subscriptions_per_session = 10).await;
    let (mut c, _) = connect_v5(srv.mqtt_addr(), "s", true, Properties::default()).await;
    let id = c.next_packet_id();
    let filters = (0..9)
        .map(|i| (format!("f/{i}"), SubscriptionOptions::default()))
        .collect();
    c.send(&Packet::Subscribe(Subscribe {
        packet_id: id,
        filters,
        properties: Properties::default(),
    }))
    .await;
    let Packet::SubAck(ack) = c.recv().await else {
        panic!("expected SUBACK")
    };
    assert_eq!(&ack.reasons[..8], &[ReasonCode::Success; 8]);
    assert_eq!(ack.reasons[8], ReasonCode::QuotaExceeded);
    let more: Vec<_> = (0..3).map(|i| format!("g/{i}")).collect();
    let mut results = Vec::new();
    for f in &more {
        results.push(
            c.subscribe_opts(f, SubscriptionOptions::default(), Properties::default())
                .await
                .reasons[0],
        );
    }
    assert_eq!(
        results,
        vec![
            ReasonCode::Success,
            ReasonCode::Success,
            ReasonCode::QuotaExceeded
        ]
    );

    let (mut old, _) = connect_v311(srv.mqtt_addr(), "v3", true).await;
    let ack = old
        .subscribe_opts(
            "$aws/rules/r",
            SubscriptionOptions::default(),
            Properties::default(),
        )
        .await;
    assert_eq!(
        ack.reasons,
        vec![ReasonCode::UnspecifiedError],
        "3.1.1 SUBACK failure is 0x80"
    );
}

#[tokio::test]
async fn client_id_over_the_limit_or_reserved_is_refused() {
    let srv = TestServer::start().await;
    for id in ["x".repeat(129), "$aws".to_string()] {
        let mut c = TestClient::open(srv.mqtt_addr(), ProtocolVersion::V5).await;
        let ack = c
            .connect_with(connect_packet(ProtocolVersion::V5, &id, true))
            .await;
        assert_eq!(ack.reason, ReasonCode::ClientIdentifierNotValid);
    }
}

#[tokio::test]
async fn second_connect_is_a_protocol_error() {
    let srv = TestServer::start().await;
    let (mut c, _) = connect_v5(srv.mqtt_addr(), "twice", true, Properties::default()).await;
    c.send(&Packet::Connect(connect_packet(
        ProtocolVersion::V5,
        "twice",
        true,
    )))
    .await;
    match c.expect_closed().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::ProtocolError),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn qos_above_the_maximum_is_refused() {
    let srv = TestServer::start_with(|c| c.mqtt.max_qos = 1).await;
    let (mut c, ack) = connect_v5(srv.mqtt_addr(), "q", true, Properties::default()).await;
    assert_eq!(ack.properties.maximum_qos, Some(1));
    let granted = c
        .subscribe_opts(
            "t",
            SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                ..Default::default()
            },
            Properties::default(),
        )
        .await;
    assert_eq!(granted.reasons, vec![ReasonCode::GrantedQoS1]);
    let id = c.next_packet_id();
    c.send(&Packet::Publish(Publish {
        packet_id: Some(id),
        ..publish("t", b"x", QoS::ExactlyOnce, false)
    }))
    .await;
    match c.expect_closed().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::QoSNotSupported),
        other => panic!("{other:?}"),
    }
}

/// A full queue holds a QoS 0 publisher briefly instead of dropping at once, so a subscriber
/// that keeps reading receives everything even through a tiny queue.
#[tokio::test]
async fn qos0_publisher_is_held_while_a_reading_subscriber_catches_up() {
    let srv = TestServer::start_with(|c| c.mqtt.max_queued_messages = 2).await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "reader", true).await;
    sub.subscribe("burst", QoS::AtMostOnce).await;
    const N: usize = 5000;
    let reader = tokio::spawn(async move {
        for i in 0..N {
            let p = sub.recv_publish().await;
            assert_eq!(p.payload.len(), 32, "message {i}");
        }
        sub
    });
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "burster", true).await;
    // One write: the broker reads hundreds of publishes at once, far more than the queue holds.
    let mut burst = bytes::BytesMut::new();
    for _ in 0..N {
        let packet = Packet::Publish(publish("burst", &[7u8; 32], QoS::AtMostOnce, false));
        encode(&packet, ProtocolVersion::V311, &mut burst).expect("encode");
    }
    p.send_raw(&burst).await;
    p.send(&Packet::PingReq).await;
    assert_eq!(p.recv().await, Packet::PingResp);
    let mut sub = tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .expect("every QoS 0 message delivered")
        .expect("reader task");
    sub.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn slow_reader_qos0_is_dropped_with_a_metric_and_the_publisher_keeps_going() {
    let srv = TestServer::start_with(|c| c.mqtt.max_queued_messages = 10).await;
    let (mut slow, _) = connect_v311(srv.mqtt_addr(), "slow", true).await;
    slow.subscribe("flood", QoS::AtMostOnce).await;
    // The slow reader never reads again; its socket buffers fill, then its queue.
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "p", true).await;
    let payload: &'static [u8] = Box::leak(vec![b'x'; 16 * 1024].into_boxed_slice());
    for _ in 0..2000 {
        p.publish("flood", payload, QoS::AtMostOnce, false).await;
    }
    // The publisher is still served promptly.
    p.send(&Packet::PingReq).await;
    assert_eq!(p.recv().await, Packet::PingResp);
    let body = ferrite_test_support::http_get(srv.api_addr(), "/metrics").await;
    let dropped = body
        .lines()
        .find(|l| l.starts_with("ferrite_mqtt_messages_dropped_total{reason=\"queue_full\"}"))
        .expect("queue_full drops counted");
    let n: f64 = dropped.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n > 0.0);
    drop(slow);
}
