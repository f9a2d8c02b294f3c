//! Taps, the way Ferrite's services see messages: on any topic filter, fed by every publisher
//! (MQTT clients, wills, iot-data Publish), with the overflow policy the service chose, and
//! exclusive taps that keep their messages from every subscriber.

use std::sync::Arc;
use std::time::Duration;

use ferrite_broker::{Message, TapOptions};
use ferrite_mqtt_codec::{Packet, Properties, ProtocolVersion, QoS};
use ferrite_test_support::aws::signed_call;
use ferrite_test_support::{
    TestClient, TestServer, WAIT, connect_packet, connect_v5, connect_v311, http_get, with_will,
};
use ferrite_types::Protocol;
use tokio::sync::mpsc::Receiver;

const QUIET: Duration = Duration::from_millis(300);

async fn next(rx: &mut Receiver<Arc<Message>>) -> Arc<Message> {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("the tap got nothing in time")
        .expect("tap open")
}

#[tokio::test]
async fn a_tap_on_a_plain_filter_gets_client_will_and_iot_data_publishes() {
    let srv = TestServer::start().await;
    let broker = &srv.server.as_ref().unwrap().broker;
    let mut tap = broker.tap("sensors/#", 16).expect("tap");

    let (mut c, _) = connect_v5(srv.mqtt_addr(), "thermo", true, Properties::default()).await;
    c.publish("sensors/t1", b"21.5", QoS::AtLeastOnce, false)
        .await;
    let m = next(&mut tap).await;
    assert_eq!((&*m.topic, &m.payload[..]), ("sensors/t1", &b"21.5"[..]));
    assert_eq!(m.origin.client_id.as_deref(), Some("thermo"));
    assert_eq!(m.origin.protocol, Protocol::Mqtt(ProtocolVersion::V5));
    assert!(m.origin.source_ip.is_some_and(|ip| ip.is_loopback()));

    // A will: the connection drops without DISCONNECT.
    let mut dev = TestClient::open(srv.mqtt_addr(), ProtocolVersion::V311).await;
    dev.connect_with(with_will(
        connect_packet(ProtocolVersion::V311, "dying", true),
        "sensors/will",
        None,
    ))
    .await;
    drop(dev);
    let m = next(&mut tap).await;
    assert_eq!((&*m.topic, &m.payload[..]), ("sensors/will", &b"gone"[..]));
    assert_eq!(m.origin.client_id.as_deref(), Some("dying"));

    // iot-data Publish.
    let reply = signed_call(
        srv.api_addr(),
        "iotdata",
        "POST",
        "/topics/sensors%2Fhttp?qos=1",
        "{\"v\":1}",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let m = next(&mut tap).await;
    assert_eq!(
        (&*m.topic, &m.payload[..]),
        ("sensors/http", &b"{\"v\":1}"[..])
    );
    assert_eq!(m.origin.protocol, Protocol::Http);

    // Nothing outside the filter.
    c.publish("other/t1", b"x", QoS::AtLeastOnce, false).await;
    assert!(tokio::time::timeout(QUIET, tap.recv()).await.is_err());
}

#[tokio::test]
async fn a_drop_tap_that_stops_reading_never_holds_publishers_and_counts_its_drops() {
    let srv = TestServer::start().await;
    let broker = &srv.server.as_ref().unwrap().broker;
    let _stalled = broker
        .tap_with("load/#", TapOptions::drop_and_count("slow_rules", 4))
        .expect("tap");
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "loader", true).await;
    // Every publish is acknowledged at once although the tap never reads.
    for _ in 0..50 {
        tokio::time::timeout(
            Duration::from_secs(2),
            p.publish("load/x", b"m", QoS::AtLeastOnce, false),
        )
        .await
        .expect("a full drop tap delayed the publisher");
    }
    let metrics = http_get(srv.api_addr(), "/metrics").await;
    assert!(
        metrics.contains("ferrite_mqtt_tap_messages_dropped_total{tap=\"slow_rules\"} 46"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_hold_then_drop_tap_holds_once_then_drops_until_half_empty() {
    // A hold long enough that the test can free room during it, however slow the machine.
    let srv = TestServer::start_with(|c| c.mqtt.qos0_backpressure_ms = 1500).await;
    let broker = &srv.server.as_ref().unwrap().broker;
    let mut tap = broker
        .tap_with("busy/#", TapOptions::hold_then_drop("busy_rules", 4))
        .expect("tap");
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "loader", true).await;
    // Four fill the tap; the fifth is held for the QoS 0 back-pressure time, then dropped and
    // the tap is congested: the rest are dropped without holding anyone.
    for i in 0..50u8 {
        let mut m = ferrite_test_support::publish("busy/x", b"", QoS::AtLeastOnce, false);
        m.payload = vec![i].into();
        m.packet_id = Some(ferrite_test_support::pid(u16::from(i) + 1));
        p.send(&Packet::Publish(m)).await;
        tokio::time::timeout(Duration::from_secs(2), p.recv())
            .await
            .expect("a congested tap kept holding the publisher");
    }
    let metrics = http_get(srv.api_addr(), "/metrics").await;
    assert!(
        metrics.contains("ferrite_mqtt_tap_messages_dropped_total{tap=\"busy_rules\"} 46"),
        "{metrics}"
    );
    // Congested, a tap with room still takes what comes, without holding.
    assert_eq!(&next(&mut tap).await.payload[..], &[0]);
    p.publish("busy/x", &[100], QoS::AtLeastOnce, false).await;
    // Full again and still congested: dropped at once.
    tokio::time::timeout(
        Duration::from_secs(2),
        p.publish("busy/x", &[101], QoS::AtLeastOnce, false),
    )
    .await
    .expect("a congested tap held the publisher");
    // Half empty: no longer congested.
    assert_eq!(&next(&mut tap).await.payload[..], &[1]);
    assert_eq!(&next(&mut tap).await.payload[..], &[2]);
    p.publish("busy/x", &[102], QoS::AtLeastOnce, false).await;
    p.publish("busy/x", &[103], QoS::AtLeastOnce, false).await;
    // Full and not congested: the next publish is held, and lands when room is made.
    let mut held = ferrite_test_support::publish("busy/x", &[104], QoS::AtLeastOnce, false);
    held.packet_id = Some(ferrite_test_support::pid(999));
    p.send(&Packet::Publish(held)).await;
    assert_eq!(&next(&mut tap).await.payload[..], &[3]);
    assert!(matches!(p.recv().await, Packet::PubAck(_)));
    for want in [100, 102, 103, 104] {
        assert_eq!(&next(&mut tap).await.payload[..], &[want]);
    }
    assert!(tokio::time::timeout(QUIET, tap.recv()).await.is_err());
}

#[tokio::test]
async fn a_tap_on_several_filters_sees_each_message_once_and_retap_swaps_them() {
    let srv = TestServer::start().await;
    let broker = &srv.server.as_ref().unwrap().broker;
    let (handle, mut tap) = broker
        .tap_filters(&["a/+", "a/#"], TapOptions::hold("multi", 16))
        .expect("tap");
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "p", true).await;
    // Matched by both filters, seen once; a topic neither selects never arrives.
    p.publish("a/1", b"1", QoS::AtLeastOnce, false).await;
    p.publish("b/1", b"x", QoS::AtLeastOnce, false).await;
    p.publish("a/1/2", b"2", QoS::AtLeastOnce, false).await;
    assert_eq!(&next(&mut tap).await.payload[..], b"1");
    assert_eq!(&next(&mut tap).await.payload[..], b"2");
    assert!(tokio::time::timeout(QUIET, tap.recv()).await.is_err());

    // The same channel, new filters.
    broker.retap(&handle, &["b/#"]).expect("retap");
    p.publish("a/1", b"gone", QoS::AtLeastOnce, false).await;
    p.publish("b/1", b"3", QoS::AtLeastOnce, false).await;
    assert_eq!(&next(&mut tap).await.payload[..], b"3");
    assert!(tokio::time::timeout(QUIET, tap.recv()).await.is_err());

    // Bad filters are refused and leave the tap as it was.
    assert!(broker.retap(&handle, &["b/#/c"]).is_err());
    assert!(broker.retap(&handle, &["$share/g/b"]).is_err());
    p.publish("b/2", b"4", QoS::AtLeastOnce, false).await;
    assert_eq!(&next(&mut tap).await.payload[..], b"4");
    // No filters: nothing.
    broker.retap(&handle, &[]).expect("retap");
    p.publish("b/3", b"x", QoS::AtLeastOnce, false).await;
    assert!(tokio::time::timeout(QUIET, tap.recv()).await.is_err());
}

#[tokio::test]
async fn a_full_hold_tap_holds_the_publisher_until_it_reads() {
    let srv = TestServer::start().await;
    let broker = &srv.server.as_ref().unwrap().broker;
    let mut tap = broker
        .tap_with("jobs/#", TapOptions::hold("jobs", 1))
        .expect("tap");
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "p", true).await;
    p.publish("jobs/1", b"1", QoS::AtLeastOnce, false).await;
    // The channel is full: the second publish is held, unacknowledged.
    p.send(&Packet::Publish(ferrite_mqtt_codec::Publish {
        packet_id: Some(ferrite_test_support::pid(99)),
        ..ferrite_test_support::publish("jobs/2", b"2", QoS::AtLeastOnce, false)
    }))
    .await;
    p.expect_silence(QUIET).await;
    assert_eq!(&next(&mut tap).await.payload[..], b"1");
    assert!(matches!(p.recv().await, Packet::PubAck(_)));
    assert_eq!(&next(&mut tap).await.payload[..], b"2");
}

#[tokio::test]
async fn an_exclusive_tap_keeps_its_messages_from_subscribers_and_the_retained_store() {
    let srv = TestServer::start().await;
    let broker = &srv.server.as_ref().unwrap().broker;
    let mut ingest = broker
        .tap_with(
            "ingest/rule/#",
            TapOptions::drop_and_count("ingest", 16).exclusive(),
        )
        .expect("tap");
    let mut shared = broker.tap("ingest/#", 16).expect("tap");
    let (mut s, _) = connect_v311(srv.mqtt_addr(), "watcher", true).await;
    s.subscribe("ingest/#", QoS::AtLeastOnce).await;
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "p", true).await;

    p.publish("ingest/rule/a", b"secret", QoS::AtLeastOnce, true)
        .await;
    assert_eq!(&next(&mut ingest).await.payload[..], b"secret");
    s.expect_silence(QUIET).await;
    assert!(shared.try_recv().is_err(), "a non-exclusive tap saw it");
    assert!(broker.retained("ingest/rule/a").is_none());

    p.publish("ingest/plain", b"open", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(&s.recv_publish().await.payload[..], b"open");
    assert_eq!(&next(&mut shared).await.payload[..], b"open");
    assert!(ingest.try_recv().is_err());

    // An MQTT 5 publisher is told its message was taken, not that nobody matched.
    let (mut p5, _) = connect_v5(srv.mqtt_addr(), "p5", true, Properties::default()).await;
    let ack = p5
        .publish("ingest/rule/b", b"v5", QoS::AtLeastOnce, false)
        .await
        .expect("puback");
    assert_eq!(ack.reason, ferrite_mqtt_codec::ReasonCode::Success);
    assert_eq!(&next(&mut ingest).await.payload[..], b"v5");
}
