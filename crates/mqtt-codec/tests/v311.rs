//! MQTT 3.1.1 packets as hand-written bytes, both directions.

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use ferrite_mqtt_codec::*;

fn empty_props() -> Properties {
    Properties::default()
}

#[test]
fn connect_minimal_as_sent_by_mosquitto_pub() {
    // mosquitto_pub -V mqttv311 -i test: clean session, keep alive 60, no will, no credentials.
    assert_wire(
        "10 10 00 04 4d 51 54 54 04 02 00 3c 00 04 74 65 73 74",
        V5, // CONNECT ignores the caller's version and uses its own protocol level.
        Packet::Connect(Connect {
            protocol: ProtocolVersion::V311,
            clean_start: true,
            keep_alive: 60,
            client_id: "test".into(),
            will: None,
            username: None,
            password: None,
            properties: empty_props(),
        }),
    );
}

#[test]
fn connect_with_will_and_credentials() {
    assert_wire(
        "10 1c 00 04 4d 51 54 54 04 ee 00 0a 00 02 63 31 00 01 77 00 03 62 79 65 \
         00 01 75 00 01 70",
        V311,
        Packet::Connect(Connect {
            protocol: ProtocolVersion::V311,
            clean_start: true,
            keep_alive: 10,
            client_id: "c1".into(),
            will: Some(Will {
                topic: "w".into(),
                payload: Bytes::from_static(b"bye"),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: empty_props(),
            }),
            username: Some("u".into()),
            password: Some(Bytes::from_static(b"p")),
            properties: empty_props(),
        }),
    );
}

#[test]
fn connack_return_codes() {
    let ack = |session_present, reason| {
        Packet::ConnAck(ConnAck {
            session_present,
            reason,
            properties: empty_props(),
        })
    };
    assert_wire("20 02 00 00", V311, ack(false, ReasonCode::Success));
    assert_wire("20 02 01 00", V311, ack(true, ReasonCode::Success));
    assert_wire(
        "20 02 00 01",
        V311,
        ack(false, ReasonCode::UnsupportedProtocolVersion),
    );
    assert_wire(
        "20 02 00 02",
        V311,
        ack(false, ReasonCode::ClientIdentifierNotValid),
    );
    assert_wire(
        "20 02 00 03",
        V311,
        ack(false, ReasonCode::ServerUnavailable),
    );
    assert_wire(
        "20 02 00 04",
        V311,
        ack(false, ReasonCode::BadUserNameOrPassword),
    );
    assert_wire("20 02 00 05", V311, ack(false, ReasonCode::NotAuthorized));
}

#[test]
fn connack_maps_v5_only_reasons() {
    let ack = |reason| {
        Packet::ConnAck(ConnAck {
            session_present: true,
            reason,
            properties: Properties {
                reason_string: Some("dropped".into()),
                ..Properties::default()
            },
        })
    };
    // Session present is cleared on refusal; properties are dropped.
    assert_eq!(
        encode_vec(&ack(ReasonCode::Banned), V311),
        hex("20 02 00 05")
    );
    assert_eq!(
        encode_vec(&ack(ReasonCode::QuotaExceeded), V311),
        hex("20 02 00 03")
    );
    assert_eq!(
        encode_vec(&ack(ReasonCode::BadAuthenticationMethod), V311),
        hex("20 02 00 04")
    );
    assert_eq!(
        encode_vec(&ack(ReasonCode::Success), V311),
        hex("20 02 01 00")
    );
}

#[test]
fn publish_qos0() {
    assert_wire(
        "30 0a 00 03 61 2f 62 68 65 6c 6c 6f",
        V311,
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "a/b".into(),
            packet_id: None,
            payload: Bytes::from_static(b"hello"),
            properties: empty_props(),
        }),
    );
}

#[test]
fn publish_qos1_dup_retain() {
    assert_wire(
        "3b 06 00 01 74 00 0a 78",
        V311,
        Packet::Publish(Publish {
            dup: true,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "t".into(),
            packet_id: Some(pid(10)),
            payload: Bytes::from_static(b"x"),
            properties: empty_props(),
        }),
    );
}

#[test]
fn publish_qos2_empty_payload() {
    assert_wire(
        "34 05 00 01 74 ff ff",
        V311,
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::ExactlyOnce,
            retain: false,
            topic: "t".into(),
            packet_id: Some(pid(0xFFFF)),
            payload: Bytes::new(),
            properties: empty_props(),
        }),
    );
}

#[test]
fn publish_payload_is_zero_copy() {
    let mut buf = BytesMut::from(&hex("30 0a 00 03 61 2f 62 68 65 6c 6c 6f")[..]);
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    let Some(Packet::Publish(p)) = decode(&mut buf, V311, 1024).unwrap() else {
        panic!("expected publish");
    };
    assert!(range.contains(&(p.payload.as_ptr() as usize)));
}

#[test]
fn publish_acknowledgements() {
    let ack = |id| PubAck {
        packet_id: pid(id),
        reason: ReasonCode::Success,
        properties: empty_props(),
    };
    assert_wire("40 02 00 0a", V311, Packet::PubAck(ack(10)));
    assert_wire("50 02 00 0b", V311, Packet::PubRec(ack(11)));
    assert_wire("62 02 00 0c", V311, Packet::PubRel(ack(12)));
    assert_wire("70 02 01 00", V311, Packet::PubComp(ack(256)));
}

#[test]
fn publish_acknowledgement_drops_reason_and_properties() {
    let ack = PubAck {
        packet_id: pid(1),
        reason: ReasonCode::NoMatchingSubscribers,
        properties: Properties {
            reason_string: Some("none".into()),
            ..Properties::default()
        },
    };
    assert_eq!(encode_vec(&Packet::PubAck(ack), V311), hex("40 02 00 01"));
}

#[test]
fn subscribe_two_filters() {
    let opts = |qos| SubscriptionOptions {
        qos,
        ..SubscriptionOptions::default()
    };
    assert_wire(
        "82 0c 00 01 00 03 61 2f 23 01 00 01 62 02",
        V311,
        Packet::Subscribe(Subscribe {
            packet_id: pid(1),
            filters: vec![
                ("a/#".into(), opts(QoS::AtLeastOnce)),
                ("b".into(), opts(QoS::ExactlyOnce)),
            ],
            properties: empty_props(),
        }),
    );
}

#[test]
fn suback_with_failure() {
    assert_wire(
        "90 06 00 01 00 01 02 80",
        V311,
        Packet::SubAck(SubAck {
            packet_id: pid(1),
            reasons: vec![
                ReasonCode::Success,
                ReasonCode::GrantedQoS1,
                ReasonCode::GrantedQoS2,
                ReasonCode::UnspecifiedError,
            ],
            properties: empty_props(),
        }),
    );
}

#[test]
fn suback_maps_every_v5_failure_to_0x80() {
    let packet = Packet::SubAck(SubAck {
        packet_id: pid(1),
        reasons: vec![ReasonCode::TopicFilterInvalid, ReasonCode::QuotaExceeded],
        properties: empty_props(),
    });
    assert_eq!(encode_vec(&packet, V311), hex("90 04 00 01 80 80"));
}

#[test]
fn unsubscribe_and_unsuback() {
    assert_wire(
        "a2 07 00 02 00 03 61 2f 23",
        V311,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(2),
            filters: vec!["a/#".into()],
            properties: empty_props(),
        }),
    );
    assert_wire(
        "b0 02 00 02",
        V311,
        Packet::UnsubAck(UnsubAck {
            packet_id: pid(2),
            reasons: vec![],
            properties: empty_props(),
        }),
    );
    // 3.1.1 has no UNSUBACK reason codes; they are dropped.
    let with_reasons = Packet::UnsubAck(UnsubAck {
        packet_id: pid(2),
        reasons: vec![ReasonCode::NoSubscriptionExisted],
        properties: empty_props(),
    });
    assert_eq!(encode_vec(&with_reasons, V311), hex("b0 02 00 02"));
}

#[test]
fn ping_and_disconnect() {
    assert_wire("c0 00", V311, Packet::PingReq);
    assert_wire("d0 00", V311, Packet::PingResp);
    assert_wire(
        "e0 00",
        V311,
        Packet::Disconnect(Disconnect {
            reason: ReasonCode::Success,
            properties: empty_props(),
        }),
    );
    let with_reason = Packet::Disconnect(Disconnect {
        reason: ReasonCode::ServerShuttingDown,
        properties: Properties {
            reason_string: Some("bye".into()),
            ..Properties::default()
        },
    });
    assert_eq!(encode_vec(&with_reason, V311), hex("e0 00"));
}

#[test]
fn connect_drops_properties_for_v311() {
    let packet = Packet::Connect(Connect {
        protocol: ProtocolVersion::V311,
        clean_start: false,
        keep_alive: 0,
        client_id: String::new(),
        will: Some(Will {
            topic: "t".into(),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties {
                will_delay_interval: Some(5),
                ..Properties::default()
            },
        }),
        username: None,
        password: None,
        properties: Properties {
            session_expiry_interval: Some(5),
            ..Properties::default()
        },
    });
    assert_eq!(
        encode_vec(&packet, V311),
        hex("10 11 00 04 4d 51 54 54 04 04 00 00 00 00 00 01 74 00 00")
    );
}

#[test]
fn several_packets_in_one_buffer() {
    let mut buf = BytesMut::from(&hex("c0 00 40 02 00 01 d0 00 30")[..]);
    assert_eq!(decode(&mut buf, V311, 100).unwrap(), Some(Packet::PingReq));
    assert!(matches!(
        decode(&mut buf, V311, 100).unwrap(),
        Some(Packet::PubAck(_))
    ));
    assert_eq!(decode(&mut buf, V311, 100).unwrap(), Some(Packet::PingResp));
    assert_eq!(decode(&mut buf, V311, 100).unwrap(), None);
    assert_eq!(&buf[..], &[0x30]);
}
