//! Publish/subscribe at every QoS, retained messages, wildcards and `$` topics, over real
//! sockets against an in-process server, for both protocol versions.

use std::time::Duration;

use ferrite_mqtt_codec::{Packet, Properties, ProtocolVersion, QoS, ReasonCode};
use ferrite_test_support::{TestServer, connect_v5, connect_v311};

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn qos_0_1_2_round_trip_in_both_versions() {
    let srv = TestServer::start().await;
    for (qos, v5) in [
        (QoS::AtMostOnce, false),
        (QoS::AtLeastOnce, false),
        (QoS::ExactlyOnce, false),
        (QoS::AtMostOnce, true),
        (QoS::AtLeastOnce, true),
        (QoS::ExactlyOnce, true),
    ] {
        let (mut sub, mut publ) = if v5 {
            (
                connect_v5(srv.mqtt_addr(), "sub", true, Properties::default())
                    .await
                    .0,
                connect_v5(srv.mqtt_addr(), "pub", true, Properties::default())
                    .await
                    .0,
            )
        } else {
            (
                connect_v311(srv.mqtt_addr(), "sub", true).await.0,
                connect_v311(srv.mqtt_addr(), "pub", true).await.0,
            )
        };
        let granted = sub.subscribe("t/+/x", QoS::ExactlyOnce).await;
        assert_eq!(granted.reasons, vec![ReasonCode::GrantedQoS2]);
        let ack = publ.publish("t/a/x", b"hello", qos, false).await;
        if qos != QoS::AtMostOnce {
            assert_eq!(
                ack.expect("ack").reason,
                ReasonCode::Success,
                "qos {qos:?} v5={v5}"
            );
        }
        let got = sub.recv_publish().await;
        assert_eq!(
            (got.topic.as_str(), &got.payload[..], got.qos, got.retain),
            ("t/a/x", &b"hello"[..], qos, false)
        );
        sub.disconnect().await;
        publ.disconnect().await;
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn delivered_qos_is_the_minimum_of_publish_and_subscription() {
    let srv = TestServer::start().await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "s", true).await;
    sub.subscribe("q", QoS::AtLeastOnce).await;
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "p", true).await;
    p.publish("q", b"2", QoS::ExactlyOnce, false).await;
    assert_eq!(sub.recv_publish().await.qos, QoS::AtLeastOnce);
    p.publish("q", b"0", QoS::AtMostOnce, false).await;
    assert_eq!(sub.recv_publish().await.qos, QoS::AtMostOnce);
}

#[tokio::test]
async fn retained_message_is_stored_replaced_and_deleted() {
    let srv = TestServer::start().await;
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "p", true).await;
    p.publish("r/1", b"old", QoS::AtLeastOnce, true).await;
    p.publish("r/1", b"new", QoS::AtLeastOnce, true).await;

    let (mut s, _) = connect_v311(srv.mqtt_addr(), "s", true).await;
    s.subscribe("r/1", QoS::AtLeastOnce).await;
    let got = s.recv_publish().await;
    assert_eq!((&got.payload[..], got.retain), (&b"new"[..], true));

    // A live publish reaches existing subscribers with RETAIN=0.
    p.publish("r/1", b"live", QoS::AtLeastOnce, true).await;
    let live = s.recv_publish().await;
    assert_eq!((&live.payload[..], live.retain), (&b"live"[..], false));

    // A zero-byte retained publish deletes it (and is still forwarded).
    p.publish("r/1", b"", QoS::AtLeastOnce, true).await;
    assert!(s.recv_publish().await.payload.is_empty());
    let (mut s2, _) = connect_v311(srv.mqtt_addr(), "s2", true).await;
    s2.subscribe("r/1", QoS::AtLeastOnce).await;
    s2.expect_silence(QUIET).await;
}

#[tokio::test]
async fn wildcard_subscription_gets_retained_by_default_and_not_in_aws_mode() {
    let srv = TestServer::start().await;
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "p", true).await;
    p.publish("w/a", b"1", QoS::AtLeastOnce, true).await;
    let (mut s, _) = connect_v311(srv.mqtt_addr(), "s", true).await;
    s.subscribe("w/#", QoS::AtLeastOnce).await;
    assert_eq!(&s.recv_publish().await.payload[..], b"1");

    let aws = TestServer::start_with(|c| {
        c.mqtt.retained_for_wildcard_subscriptions = false;
        c.mqtt.multilevel_wildcard_matches_parent = false;
    })
    .await;
    let (mut p, _) = connect_v311(aws.mqtt_addr(), "p", true).await;
    p.publish("w/a", b"1", QoS::AtLeastOnce, true).await;
    p.publish("w", b"parent", QoS::AtLeastOnce, true).await;
    let (mut s, _) = connect_v311(aws.mqtt_addr(), "s", true).await;
    s.subscribe("w/#", QoS::AtLeastOnce).await;
    s.expect_silence(QUIET).await;
    // AWS: "w/#" does not match the parent "w".
    p.publish("w", b"x", QoS::AtLeastOnce, false).await;
    s.expect_silence(QUIET).await;
    // Exact subscriptions still get the retained message.
    s.subscribe("w/a", QoS::AtLeastOnce).await;
    assert_eq!(&s.recv_publish().await.payload[..], b"1");
}

#[tokio::test]
async fn multilevel_wildcard_matches_parent_in_standard_mode() {
    let srv = TestServer::start().await;
    let (mut s, _) = connect_v311(srv.mqtt_addr(), "s", true).await;
    s.subscribe("w/#", QoS::AtMostOnce).await;
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "p", true).await;
    p.publish("w", b"parent", QoS::AtLeastOnce, false).await;
    assert_eq!(&s.recv_publish().await.payload[..], b"parent");
}

#[tokio::test]
async fn dollar_topics_are_not_matched_by_leading_wildcards_and_reserved_publish_is_refused() {
    let srv = TestServer::start().await;
    let (mut all, _) = connect_v5(srv.mqtt_addr(), "all", true, Properties::default()).await;
    all.subscribe("#", QoS::AtLeastOnce).await;
    all.subscribe("+/things/#", QoS::AtLeastOnce).await;
    let (mut p, _) = connect_v5(srv.mqtt_addr(), "p", true, Properties::default()).await;
    // A device may publish a shadow request; '#' must not see it.
    let ack = p
        .publish(
            "$aws/things/t1/shadow/update",
            b"{}",
            QoS::AtLeastOnce,
            false,
        )
        .await
        .unwrap();
    assert!(!ack.reason.is_error());
    all.expect_silence(QUIET).await;
    // Publishing to an AWS response/event topic is not allowed: MQTT 5 gets "not authorized".
    let ack = p
        .publish(
            "$aws/events/presence/connected/x",
            b"{}",
            QoS::AtLeastOnce,
            false,
        )
        .await
        .unwrap();
    assert_eq!(ack.reason, ReasonCode::NotAuthorized);

    // MQTT 3.1.1 has no negative PUBACK: the connection is closed, as AWS IoT does.
    let (mut old, _) = connect_v311(srv.mqtt_addr(), "old", true).await;
    old.send(&Packet::Publish(ferrite_test_support::publish(
        "$aws/events/x",
        b"{}",
        QoS::AtMostOnce,
        false,
    )))
    .await;
    old.expect_closed().await;
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let srv = TestServer::start().await;
    let (mut s, _) = connect_v5(srv.mqtt_addr(), "s", true, Properties::default()).await;
    s.subscribe("u/1", QoS::AtLeastOnce).await;
    let id = s.next_packet_id();
    s.send(&Packet::Unsubscribe(ferrite_mqtt_codec::Unsubscribe {
        packet_id: id,
        filters: vec!["u/1".into(), "never".into()],
        properties: Properties::default(),
    }))
    .await;
    match s.recv().await {
        Packet::UnsubAck(a) => assert_eq!(
            a.reasons,
            vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
        ),
        other => panic!("{other:?}"),
    }
    let (mut p, _) = connect_v5(srv.mqtt_addr(), "p", true, Properties::default()).await;
    let ack = p
        .publish("u/1", b"x", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert_eq!(ack.reason, ReasonCode::NoMatchingSubscribers);
    s.expect_silence(QUIET).await;
}

#[tokio::test]
async fn ping_is_answered_and_v311_assigns_ids_to_empty_clean_clients() {
    let srv = TestServer::start().await;
    let (mut c, _) = connect_v311(srv.mqtt_addr(), "", true).await;
    c.send(&Packet::PingReq).await;
    assert_eq!(c.recv().await, Packet::PingResp);

    // An empty id with a persistent session is refused (return code 2).
    let mut c =
        ferrite_test_support::TestClient::open(srv.mqtt_addr(), ProtocolVersion::V311).await;
    let ack = c
        .connect_with(ferrite_test_support::connect_packet(
            ProtocolVersion::V311,
            "",
            false,
        ))
        .await;
    assert_eq!(ack.reason, ReasonCode::ClientIdentifierNotValid);
}
