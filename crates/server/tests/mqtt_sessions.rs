//! Sessions: persistent and clean sessions, take-over, wills (with delay), keep-alive, and
//! persistence across a graceful restart.

use std::time::Duration;

use ferrite_mqtt_codec::{Packet, Properties, ProtocolVersion, QoS, ReasonCode};
use ferrite_test_support::{
    TestClient, TestServer, connect_packet, connect_v5, connect_v311, with_will,
};

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn v311_persistent_session_keeps_subscriptions_and_queues_qos1() {
    let srv = TestServer::start().await;
    let (mut s, ack) = connect_v311(srv.mqtt_addr(), "dev", false).await;
    assert!(!ack.session_present);
    s.subscribe("p/#", QoS::AtLeastOnce).await;
    s.disconnect().await;

    let (mut p, _) = connect_v311(srv.mqtt_addr(), "p", true).await;
    p.publish("p/1", b"one", QoS::AtLeastOnce, false).await;
    p.publish("p/0", b"qos0-dropped-offline", QoS::AtMostOnce, false)
        .await;
    p.publish("p/2", b"two", QoS::AtLeastOnce, false).await;

    let (mut s, ack) = connect_v311(srv.mqtt_addr(), "dev", false).await;
    assert!(ack.session_present);
    assert_eq!(&s.recv_publish().await.payload[..], b"one");
    assert_eq!(&s.recv_publish().await.payload[..], b"two");
    s.expect_silence(QUIET).await;

    // Clean session discards everything.
    s.disconnect().await;
    let (mut s, ack) = connect_v311(srv.mqtt_addr(), "dev", true).await;
    assert!(!ack.session_present);
    p.publish("p/3", b"three", QoS::AtLeastOnce, false).await;
    s.expect_silence(QUIET).await;
}

#[tokio::test]
async fn unacknowledged_delivery_is_resent_with_dup_after_reconnect() {
    let srv = TestServer::start().await;
    let (mut s, _) = connect_v311(srv.mqtt_addr(), "dev", false).await;
    s.subscribe("d", QoS::AtLeastOnce).await;
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "p", true).await;
    p.publish("d", b"x", QoS::AtLeastOnce, false).await;
    let first = match s.recv().await {
        Packet::Publish(p) => p,
        other => panic!("{other:?}"),
    };
    assert!(!first.dup);
    drop(s); // no PUBACK
    let (mut s, ack) = connect_v311(srv.mqtt_addr(), "dev", false).await;
    assert!(ack.session_present);
    let again = s.recv_publish().await;
    assert!(again.dup);
    assert_eq!(again.packet_id, first.packet_id);
    assert_eq!(&again.payload[..], b"x");
}

#[tokio::test]
async fn v5_session_expiry_is_capped_and_zero_expiry_ends_the_session() {
    let srv = TestServer::start_with(|c| c.mqtt.max_session_expiry_secs = 100).await;
    let props = Properties {
        session_expiry_interval: Some(u32::MAX),
        ..Default::default()
    };
    let (c, ack) = connect_v5(srv.mqtt_addr(), "e", true, props).await;
    assert_eq!(ack.properties.session_expiry_interval, Some(100));
    c.disconnect().await;
    let (c, ack) = connect_v5(srv.mqtt_addr(), "e", false, Properties::default()).await;
    assert!(
        ack.session_present,
        "the 100 s session survives a disconnect"
    );
    c.disconnect().await;
    // That connection asked for expiry 0: the session ended with it.
    let (_c, ack) = connect_v5(srv.mqtt_addr(), "e", false, Properties::default()).await;
    assert!(!ack.session_present);
}

#[tokio::test]
async fn client_id_take_over_closes_the_older_connection() {
    let srv = TestServer::start().await;
    let (mut old, _) = connect_v5(srv.mqtt_addr(), "same", true, Properties::default()).await;
    let (mut new, _) = connect_v5(srv.mqtt_addr(), "same", true, Properties::default()).await;
    match old.expect_closed().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::SessionTakenOver),
        other => panic!("expected DISCONNECT 0x8E, got {other:?}"),
    }
    new.send(&Packet::PingReq).await;
    assert_eq!(new.recv().await, Packet::PingResp);

    let (mut old3, _) = connect_v311(srv.mqtt_addr(), "same3", true).await;
    let (_new3, _) = connect_v311(srv.mqtt_addr(), "same3", true).await;
    assert_eq!(old3.expect_closed().await, None);
}

#[tokio::test]
async fn will_is_published_on_abnormal_close_only() {
    let srv = TestServer::start().await;
    let (mut watcher, _) = connect_v311(srv.mqtt_addr(), "watcher", true).await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;

    let mut dev = TestClient::open(srv.mqtt_addr(), ProtocolVersion::V311).await;
    dev.connect_with(with_will(
        connect_packet(ProtocolVersion::V311, "dev1", true),
        "wills/dev1",
        None,
    ))
    .await;
    drop(dev); // network failure
    let w = watcher.recv_publish().await;
    assert_eq!(
        (w.topic.as_str(), &w.payload[..]),
        ("wills/dev1", &b"gone"[..])
    );

    let mut dev = TestClient::open(srv.mqtt_addr(), ProtocolVersion::V311).await;
    dev.connect_with(with_will(
        connect_packet(ProtocolVersion::V311, "dev2", true),
        "wills/dev2",
        None,
    ))
    .await;
    dev.disconnect().await;
    watcher.expect_silence(QUIET).await;
}

#[tokio::test]
async fn retained_messages_and_sessions_survive_a_graceful_restart() {
    let srv = TestServer::start().await;
    let (mut s, _) = connect_v311(srv.mqtt_addr(), "dev", false).await;
    s.subscribe("keep/#", QoS::ExactlyOnce).await;
    s.disconnect().await;
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "p", true).await;
    p.publish("keep/r", b"retained", QoS::AtLeastOnce, true)
        .await;
    p.publish("keep/q", b"queued-2", QoS::ExactlyOnce, false)
        .await;
    p.disconnect().await;

    let srv = srv.restart().await;
    let (mut s, ack) = connect_v311(srv.mqtt_addr(), "dev", false).await;
    assert!(ack.session_present);
    let mut got = [s.recv_publish().await, s.recv_publish().await];
    got.sort_by(|a, b| a.topic.cmp(&b.topic));
    assert_eq!(
        (got[0].topic.as_str(), &got[0].payload[..], got[0].qos),
        ("keep/q", &b"queued-2"[..], QoS::ExactlyOnce)
    );
    assert_eq!(&got[1].payload[..], b"retained");
    let (mut fresh, _) = connect_v311(srv.mqtt_addr(), "fresh", true).await;
    fresh.subscribe("keep/r", QoS::AtLeastOnce).await;
    assert_eq!(&fresh.recv_publish().await.payload[..], b"retained");
}
