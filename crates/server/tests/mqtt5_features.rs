//! MQTT 5 features: properties end to end, topic aliases both ways, message expiry,
//! subscription identifiers and options, shared subscriptions, flow control and limits.

use std::time::Duration;

use bytes::Bytes;
use ferrite_mqtt_codec::{
    Packet, Properties, Publish, QoS, ReasonCode, RetainHandling, SubscriptionOptions,
};
use ferrite_test_support::{TestServer, connect_v5, connect_v311, publish};

const QUIET: Duration = Duration::from_millis(300);

fn opts(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        ..Default::default()
    }
}

#[tokio::test]
async fn connack_announces_limits_and_assigns_client_ids() {
    let srv = TestServer::start().await;
    let (_c, ack) = connect_v5(srv.mqtt_addr(), "", true, Properties::default()).await;
    let p = ack.properties;
    assert!(
        p.assigned_client_identifier
            .as_deref()
            .is_some_and(|id| id.starts_with("ferrite-"))
    );
    assert_eq!(p.receive_maximum, Some(100));
    assert_eq!(p.maximum_packet_size, Some(149_504));
    assert_eq!(p.topic_alias_maximum, Some(8));
}

#[tokio::test]
async fn request_response_properties_and_user_properties_reach_v5_subscribers_only() {
    let srv = TestServer::start().await;
    let (mut s5, _) = connect_v5(srv.mqtt_addr(), "s5", true, Properties::default()).await;
    s5.subscribe("req", QoS::AtLeastOnce).await;
    let (mut s3, _) = connect_v311(srv.mqtt_addr(), "s3", true).await;
    s3.subscribe("req", QoS::AtLeastOnce).await;
    let (mut p, _) = connect_v5(srv.mqtt_addr(), "p", true, Properties::default()).await;
    let mut msg = publish("req", b"{}", QoS::AtLeastOnce, false);
    msg.properties = Properties {
        payload_format_indicator: Some(1),
        content_type: Some("application/json".into()),
        response_topic: Some("resp/p".into()),
        correlation_data: Some(Bytes::from_static(b"\x01\x02")),
        user_properties: vec![("k".into(), "v1".into()), ("k".into(), "v2".into())],
        ..Default::default()
    };
    p.publish_with(msg).await;
    let got = s5.recv_publish().await.properties;
    assert_eq!(got.payload_format_indicator, Some(1));
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(got.response_topic.as_deref(), Some("resp/p"));
    assert_eq!(got.correlation_data.as_deref(), Some(&b"\x01\x02"[..]));
    assert_eq!(
        got.user_properties,
        vec![("k".into(), "v1".into()), ("k".into(), "v2".into())]
    );
    assert_eq!(&s3.recv_publish().await.payload[..], b"{}");
}

#[tokio::test]
async fn inbound_topic_alias_is_resolved_and_invalid_alias_disconnects() {
    let srv = TestServer::start().await;
    let (mut s, _) = connect_v5(srv.mqtt_addr(), "s", true, Properties::default()).await;
    s.subscribe("alias/topic", QoS::AtLeastOnce).await;
    let (mut p, _) = connect_v5(srv.mqtt_addr(), "p", true, Properties::default()).await;
    let mut first = publish("alias/topic", b"1", QoS::AtLeastOnce, false);
    first.properties.topic_alias = Some(3);
    p.publish_with(first).await;
    let mut second = publish("", b"2", QoS::AtLeastOnce, false);
    second.properties.topic_alias = Some(3);
    p.publish_with(second).await;
    assert_eq!(s.recv_publish().await.topic, "alias/topic");
    assert_eq!(s.recv_publish().await.topic, "alias/topic");

    let mut bad = publish("x", b"", QoS::AtMostOnce, false);
    bad.properties.topic_alias = Some(9);
    p.send(&Packet::Publish(bad)).await;
    match p.expect_closed().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::TopicAliasInvalid),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn outbound_topic_alias_is_used_when_the_client_allows_it() {
    let srv = TestServer::start().await;
    let props = Properties {
        topic_alias_maximum: Some(2),
        ..Default::default()
    };
    let (mut s, _) = connect_v5(srv.mqtt_addr(), "s", true, props).await;
    s.subscribe("a/#", QoS::AtMostOnce).await;
    let (mut p, _) = connect_v5(srv.mqtt_addr(), "p", true, Properties::default()).await;
    p.publish("a/long/topic", b"1", QoS::AtLeastOnce, false)
        .await;
    p.publish("a/long/topic", b"2", QoS::AtLeastOnce, false)
        .await;
    let one = s.recv_publish().await;
    let two = s.recv_publish().await;
    assert_eq!(
        (one.topic.as_str(), one.properties.topic_alias),
        ("a/long/topic", Some(1))
    );
    assert_eq!(
        (two.topic.as_str(), two.properties.topic_alias),
        ("", Some(1))
    );
}

#[tokio::test]
async fn subscription_identifiers_no_local_and_retain_options() {
    let srv = TestServer::start().await;
    let (mut c, _) = connect_v5(srv.mqtt_addr(), "c", true, Properties::default()).await;
    let sid = Properties {
        subscription_identifiers: vec![42],
        ..Default::default()
    };
    c.subscribe_opts("ids/+", opts(QoS::AtLeastOnce), sid).await;
    let (mut p, _) = connect_v5(srv.mqtt_addr(), "p", true, Properties::default()).await;
    p.publish("ids/1", b"x", QoS::AtLeastOnce, true).await;
    assert_eq!(
        c.recv_publish().await.properties.subscription_identifiers,
        vec![42]
    );

    // No Local: a client does not get its own messages.
    let nl = SubscriptionOptions {
        no_local: true,
        ..opts(QoS::AtLeastOnce)
    };
    c.subscribe_opts("own", nl, Properties::default()).await;
    c.publish("own", b"mine", QoS::AtLeastOnce, false).await;
    c.expect_silence(QUIET).await;

    // Retain As Published keeps RETAIN=1 on live delivery; Retain Handling 2 sends no stored message.
    let (mut r, _) = connect_v5(srv.mqtt_addr(), "r", true, Properties::default()).await;
    let rap = SubscriptionOptions {
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
        ..opts(QoS::AtLeastOnce)
    };
    r.subscribe_opts("ids/1", rap, Properties::default()).await;
    r.expect_silence(QUIET).await;
    p.publish("ids/1", b"again", QoS::AtLeastOnce, true).await;
    assert!(r.recv_publish().await.retain);

    // Retain Handling 1 sends stored messages only for a new subscription.
    let (mut n, _) = connect_v5(srv.mqtt_addr(), "n", true, Properties::default()).await;
    let if_new = SubscriptionOptions {
        retain_handling: RetainHandling::SendAtSubscribeIfNew,
        ..opts(QoS::AtLeastOnce)
    };
    n.subscribe_opts("ids/1", if_new, Properties::default())
        .await;
    assert_eq!(&n.recv_publish().await.payload[..], b"again");
    n.subscribe_opts("ids/1", if_new, Properties::default())
        .await;
    n.expect_silence(QUIET).await;
}

#[tokio::test]
async fn shared_subscription_delivers_each_message_to_one_member() {
    let srv = TestServer::start().await;
    let mut members = Vec::new();
    for i in 0..3 {
        let (mut m, _) = connect_v311(srv.mqtt_addr(), &format!("m{i}"), true).await;
        m.subscribe("$share/g/jobs/#", QoS::AtLeastOnce).await;
        members.push(m);
    }
    let (mut p, _) = connect_v311(srv.mqtt_addr(), "p", true).await;
    for _ in 0..30 {
        p.publish("jobs/1", b"work", QoS::AtLeastOnce, false).await;
    }
    let mut counts = Vec::new();
    for m in members.iter_mut() {
        let mut n = 0;
        while let Ok(Some(Packet::Publish(pkt))) = m.recv_within(QUIET).await {
            m.ack(&pkt).await;
            n += 1;
        }
        counts.push(n);
    }
    assert_eq!(counts.iter().sum::<usize>(), 30, "{counts:?}");
    assert!(
        counts.iter().all(|&n| n >= 5),
        "uneven distribution {counts:?}"
    );
}

#[tokio::test]
async fn receive_maximum_limits_unacknowledged_deliveries() {
    let srv = TestServer::start().await;
    let props = Properties {
        receive_maximum: Some(2),
        ..Default::default()
    };
    let (mut s, _) = connect_v5(srv.mqtt_addr(), "slow", true, props).await;
    s.subscribe("flow", QoS::AtLeastOnce).await;
    let (mut p, _) = connect_v5(srv.mqtt_addr(), "p", true, Properties::default()).await;
    for _ in 0..5 {
        p.publish("flow", b"m", QoS::AtLeastOnce, false).await;
    }
    let a = match s.recv().await {
        Packet::Publish(x) => x,
        o => panic!("{o:?}"),
    };
    let _b = match s.recv().await {
        Packet::Publish(x) => x,
        o => panic!("{o:?}"),
    };
    s.expect_silence(QUIET).await;
    s.ack(&a).await;
    assert!(matches!(s.recv().await, Packet::Publish(_)));
    s.expect_silence(QUIET).await;
}

#[tokio::test]
async fn messages_larger_than_the_client_maximum_are_not_sent() {
    let srv = TestServer::start().await;
    let props = Properties {
        maximum_packet_size: Some(64),
        ..Default::default()
    };
    let (mut s, _) = connect_v5(srv.mqtt_addr(), "small", true, props).await;
    s.subscribe("big", QoS::AtLeastOnce).await;
    let (mut p, _) = connect_v5(srv.mqtt_addr(), "p", true, Properties::default()).await;
    p.publish_with(Publish {
        payload: Bytes::from(vec![b'x'; 200]),
        ..publish("big", b"", QoS::AtLeastOnce, false)
    })
    .await;
    p.publish("big", b"small", QoS::AtLeastOnce, false).await;
    assert_eq!(&s.recv_publish().await.payload[..], b"small");
}

#[tokio::test]
async fn qos2_duplicate_publish_is_delivered_once() {
    let srv = TestServer::start().await;
    let (mut s, _) = connect_v5(srv.mqtt_addr(), "s", true, Properties::default()).await;
    s.subscribe("once", QoS::ExactlyOnce).await;
    let (mut p, _) = connect_v5(srv.mqtt_addr(), "p", true, Properties::default()).await;
    let id = p.next_packet_id();
    let msg = Publish {
        packet_id: Some(id),
        ..publish("once", b"1", QoS::ExactlyOnce, false)
    };
    p.send(&Packet::Publish(msg.clone())).await;
    assert!(matches!(p.recv().await, Packet::PubRec(_)));
    p.send(&Packet::Publish(Publish { dup: true, ..msg })).await;
    assert!(matches!(p.recv().await, Packet::PubRec(_)));
    assert_eq!(&s.recv_publish().await.payload[..], b"1");
    s.expect_silence(QUIET).await;
}

#[tokio::test]
async fn exceeding_the_announced_receive_maximum_gets_disconnect_0x93() {
    let srv = TestServer::start_with(|c| c.mqtt.receive_maximum = 5).await;
    let (mut c, ack) = connect_v5(srv.mqtt_addr(), "flood", true, Properties::default()).await;
    assert_eq!(ack.properties.receive_maximum, Some(5));
    // QoS 2 publishes stay unacknowledged until PUBREL/PUBCOMP, which this client never
    // sends; the 6th exceeds the window. More follow in the same write, so the server closes
    // with unread input, which must not destroy the DISCONNECT it sent.
    let mut bytes = bytes::BytesMut::new();
    for i in 1..=200u16 {
        let p = Publish {
            packet_id: Some(std::num::NonZeroU16::new(i).unwrap()),
            ..publish("flow/in", b"payload", QoS::ExactlyOnce, false)
        };
        ferrite_mqtt_codec::encode(
            &Packet::Publish(p),
            ferrite_mqtt_codec::ProtocolVersion::V5,
            &mut bytes,
        )
        .unwrap();
    }
    c.send_raw(&bytes).await;
    match c.expect_closed().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::ReceiveMaximumExceeded),
        other => panic!("expected DISCONNECT 0x93 before the close, got {other:?}"),
    }
}

#[tokio::test]
async fn a_pubrel_for_an_unknown_packet_id_does_not_open_the_receive_window() {
    let srv = TestServer::start_with(|c| c.mqtt.receive_maximum = 3).await;
    let (mut c, _) = connect_v5(srv.mqtt_addr(), "bogus", true, Properties::default()).await;
    let q2 = |id: u16| {
        Packet::Publish(Publish {
            packet_id: Some(ferrite_test_support::pid(id)),
            ..publish("flow/q2", b"m", QoS::ExactlyOnce, false)
        })
    };
    for id in 1..=3 {
        c.send(&q2(id)).await;
        assert!(matches!(c.recv().await, Packet::PubRec(_)));
    }
    c.send(&Packet::PubRel(ferrite_mqtt_codec::PubAck {
        packet_id: ferrite_test_support::pid(77),
        reason: ReasonCode::Success,
        properties: Properties::default(),
    }))
    .await;
    match c.recv().await {
        Packet::PubComp(a) => assert_eq!(a.reason, ReasonCode::PacketIdentifierNotFound),
        other => panic!("{other:?}"),
    }
    // Three publishes are still unreleased: a fourth exceeds the window.
    c.send(&q2(4)).await;
    match c.expect_closed().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::ReceiveMaximumExceeded),
        other => panic!("expected DISCONNECT 0x93, got {other:?}"),
    }
}
