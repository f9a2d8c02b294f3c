//! Everything the broker does on a timer — keep-alive, session expiry, will delay, message
//! expiry — on Tokio's paused clock: the broker runs over the in-memory store with clients on
//! in-memory pipes, and its wall clock follows the paused one, so these tests assert exact
//! times and take no real time.

use std::time::Duration;

use ferrite_config::MqttConfig;
use ferrite_mqtt_codec::{Disconnect, Packet, Properties, ProtocolVersion, QoS, ReasonCode};
use ferrite_test_support::{BrokerHarness, connect_packet, publish, with_will};
use tokio::time::Instant;

fn cfg() -> MqttConfig {
    MqttConfig {
        min_keep_alive_secs: 1,
        ..MqttConfig::default()
    }
}

fn persistent(secs: u32) -> Properties {
    Properties {
        session_expiry_interval: Some(secs),
        ..Properties::default()
    }
}

#[tokio::test(start_paused = true)]
async fn keep_alive_closes_a_silent_client_after_one_and_a_half_intervals() {
    let h = BrokerHarness::start(cfg()).await;
    let mut c = h.open_client(ProtocolVersion::V5);
    let mut p = connect_packet(ProtocolVersion::V5, "ka", true);
    p.keep_alive = 2;
    c.connect_with(p).await;
    let started = Instant::now();
    match c.expect_closed().await {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason, ReasonCode::KeepAliveTimeout);
            assert_eq!(
                d.properties.reason_string.as_deref(),
                Some("keep alive timeout")
            );
        }
        other => panic!("expected DISCONNECT 0x8D, got {other:?}"),
    }
    assert_eq!(started.elapsed(), Duration::from_secs(3));

    // A client that pings in time stays connected.
    let mut c = h.open_client(ProtocolVersion::V5);
    let mut p = connect_packet(ProtocolVersion::V5, "ka2", true);
    p.keep_alive = 2;
    c.connect_with(p).await;
    for _ in 0..5 {
        tokio::time::advance(Duration::from_millis(2900)).await;
        c.send(&Packet::PingReq).await;
        assert_eq!(c.recv().await, Packet::PingResp);
    }

    // 0 and values above the maximum become the maximum, announced to MQTT 5 clients.
    let mut c = h.open_client(ProtocolVersion::V5);
    let mut p = connect_packet(ProtocolVersion::V5, "ka3", true);
    p.keep_alive = 0;
    let ack = c.connect_with(p).await;
    assert_eq!(ack.properties.server_keep_alive, Some(1200));
}

#[tokio::test(start_paused = true)]
async fn a_session_expires_exactly_after_its_interval_unless_resumed() {
    let h = BrokerHarness::start(cfg()).await;
    let (mut c, _) = h.connect_v5("short", true, persistent(60)).await;
    c.subscribe("x", QoS::AtLeastOnce).await;
    c.disconnect().await;
    tokio::time::advance(Duration::from_secs(59)).await;
    let (c, ack) = h.connect_v5("short", false, persistent(60)).await;
    assert!(ack.session_present, "resumed within the interval");
    c.disconnect().await;
    // The resume restarted the interval.
    tokio::time::advance(Duration::from_millis(59_999)).await;
    assert_eq!(h.broker.session_count(), 1);
    tokio::time::advance(Duration::from_millis(2)).await;
    tokio::task::yield_now().await;
    assert_eq!(h.broker.session_count(), 0);
    let (_c, ack) = h.connect_v5("short", false, persistent(60)).await;
    assert!(!ack.session_present);
}

#[tokio::test(start_paused = true)]
async fn a_delayed_will_waits_its_delay_and_a_resume_cancels_it() {
    let h = BrokerHarness::start(cfg()).await;
    let (mut watcher, _) = h.connect_v5("watcher", true, Properties::default()).await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;

    // DISCONNECT 0x04 asks for the will at once.
    let mut dev = h.open_client(ProtocolVersion::V5);
    dev.connect_with(with_will(
        connect_packet(ProtocolVersion::V5, "a", true),
        "wills/a",
        None,
    ))
    .await;
    dev.send(&Packet::Disconnect(Disconnect {
        reason: ReasonCode::DisconnectWithWill,
        properties: Properties::default(),
    }))
    .await;
    assert_eq!(watcher.recv_publish().await.topic, "wills/a");

    // Resumed within the delay: no will.
    let mut c = with_will(
        connect_packet(ProtocolVersion::V5, "b", true),
        "wills/b",
        Some(5),
    );
    c.properties.session_expiry_interval = Some(600);
    let mut dev = h.open_client(ProtocolVersion::V5);
    dev.connect_with(c).await;
    drop(dev);
    tokio::time::advance(Duration::from_secs(4)).await;
    let (_back, ack) = h.connect_v5("b", false, persistent(600)).await;
    assert!(ack.session_present);
    watcher.expect_silence(Duration::from_secs(120)).await;

    // Not resumed: the will comes exactly when the delay ends (the test client's waits last 10 s
    // of the paused clock, so delays stay below that).
    let mut c = with_will(
        connect_packet(ProtocolVersion::V5, "c", true),
        "wills/c",
        Some(5),
    );
    c.properties.session_expiry_interval = Some(600);
    let mut dev = h.open_client(ProtocolVersion::V5);
    dev.connect_with(c).await;
    let dropped_at = Instant::now();
    drop(dev);
    assert_eq!(watcher.recv_publish().await.topic, "wills/c");
    assert_eq!(dropped_at.elapsed(), Duration::from_secs(5));

    // The session ending first publishes the will then (delay capped by the expiry).
    let mut c = with_will(
        connect_packet(ProtocolVersion::V5, "d", true),
        "wills/d",
        Some(300),
    );
    c.properties.session_expiry_interval = Some(3);
    let mut dev = h.open_client(ProtocolVersion::V5);
    dev.connect_with(c).await;
    let dropped_at = Instant::now();
    drop(dev);
    assert_eq!(watcher.recv_publish().await.topic, "wills/d");
    assert_eq!(dropped_at.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn expired_messages_are_not_delivered_and_the_rest_carry_their_remaining_expiry() {
    let h = BrokerHarness::start(cfg()).await;
    let (mut s, _) = h.connect_v5("s", true, persistent(3600)).await;
    s.subscribe("exp/#", QoS::AtLeastOnce).await;
    s.disconnect().await;
    let (mut p, _) = h.connect_v5("p", true, Properties::default()).await;
    let mut short = publish("exp/short", b"short", QoS::AtLeastOnce, false);
    short.properties.message_expiry_interval = Some(10);
    p.publish_with(short).await;
    let mut long = publish("exp/long", b"long", QoS::AtLeastOnce, false);
    long.properties.message_expiry_interval = Some(100);
    p.publish_with(long).await;
    let mut retained = publish("exp/retained", b"r", QoS::AtLeastOnce, true);
    retained.properties.message_expiry_interval = Some(10);
    p.publish_with(retained).await;

    tokio::time::advance(Duration::from_secs(10)).await;
    let (mut s, ack) = h.connect_v5("s", false, persistent(3600)).await;
    assert!(ack.session_present);
    let got = s.recv_publish().await;
    assert_eq!(got.topic, "exp/long");
    assert_eq!(got.properties.message_expiry_interval, Some(90));
    s.expect_silence(Duration::from_secs(1)).await;
    assert!(h.broker.retained("exp/retained").is_none());
}
