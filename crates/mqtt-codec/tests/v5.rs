//! MQTT 5.0 packets as hand-written bytes, both directions.

mod common;

use bytes::Bytes;
use common::*;
use ferrite_mqtt_codec::*;

fn no_props() -> Properties {
    Properties::default()
}

#[test]
fn connect_with_properties() {
    // Session expiry 3600, receive maximum 20, user property k=v.
    assert_wire(
        "10 1f 00 04 4d 51 54 54 05 02 00 3c \
         0f 11 00 00 0e 10 21 00 14 26 00 01 6b 00 01 76 \
         00 03 63 69 64",
        V311, // ignored for CONNECT
        Packet::Connect(Connect {
            protocol: ProtocolVersion::V5,
            clean_start: true,
            keep_alive: 60,
            client_id: "cid".into(),
            will: None,
            username: None,
            password: None,
            properties: Properties {
                session_expiry_interval: Some(3600),
                receive_maximum: Some(20),
                user_properties: vec![("k".into(), "v".into())],
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn connect_with_will_properties_and_password_only() {
    // MQTT 5 allows a password without a username (spec 3.1.2.9).
    assert_wire(
        "10 22 00 04 4d 51 54 54 05 56 00 00 00 00 00 \
         07 01 01 18 00 00 00 05 00 03 77 2f 74 00 02 68 69 00 02 70 77",
        V5,
        Packet::Connect(Connect {
            protocol: ProtocolVersion::V5,
            clean_start: true,
            keep_alive: 0,
            client_id: String::new(),
            will: Some(Will {
                topic: "w/t".into(),
                payload: Bytes::from_static(b"hi"),
                qos: QoS::ExactlyOnce,
                retain: false,
                properties: Properties {
                    payload_format_indicator: Some(1),
                    will_delay_interval: Some(5),
                    ..Properties::default()
                },
            }),
            username: None,
            password: Some(Bytes::from_static(b"pw")),
            properties: no_props(),
        }),
    );
}

#[test]
fn connack_with_properties() {
    assert_wire(
        "20 0d 01 00 0a 12 00 02 69 64 22 00 0a 24 01",
        V5,
        Packet::ConnAck(ConnAck {
            session_present: true,
            reason: ReasonCode::Success,
            properties: Properties {
                assigned_client_identifier: Some("id".into()),
                topic_alias_maximum: Some(10),
                maximum_qos: Some(1),
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn connack_refusal() {
    assert_wire(
        "20 03 00 87 00",
        V5,
        Packet::ConnAck(ConnAck {
            session_present: false,
            reason: ReasonCode::NotAuthorized,
            properties: no_props(),
        }),
    );
}

#[test]
fn publish_with_alias_and_subscription_identifiers() {
    assert_wire(
        "32 12 00 03 61 2f 62 00 07 08 0b 01 0b 80 01 23 00 05 68 69",
        V5,
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "a/b".into(),
            packet_id: Some(pid(7)),
            payload: Bytes::from_static(b"hi"),
            properties: Properties {
                subscription_identifiers: vec![1, 128],
                topic_alias: Some(5),
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn publish_with_empty_topic_and_alias() {
    assert_wire(
        "30 07 00 00 03 23 00 05 78",
        V5,
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: String::new(),
            packet_id: None,
            payload: Bytes::from_static(b"x"),
            properties: Properties {
                topic_alias: Some(5),
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn publish_with_request_response_properties() {
    assert_wire(
        "31 1a 00 01 74 14 01 01 02 00 00 00 3c 03 00 01 63 08 00 01 72 09 00 02 01 02 7b 7d",
        V5,
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: true,
            topic: "t".into(),
            packet_id: None,
            payload: Bytes::from_static(b"{}"),
            properties: Properties {
                payload_format_indicator: Some(1),
                message_expiry_interval: Some(60),
                content_type: Some("c".into()),
                response_topic: Some("r".into()),
                correlation_data: Some(Bytes::from_static(&[1, 2])),
                ..Properties::default()
            },
        }),
    );
}

fn ack(id: u16, reason: ReasonCode, properties: Properties) -> PubAck {
    PubAck {
        packet_id: pid(id),
        reason,
        properties,
    }
}

#[test]
fn puback_short_forms() {
    assert_wire(
        "40 02 00 01",
        V5,
        Packet::PubAck(ack(1, ReasonCode::Success, no_props())),
    );
    assert_wire(
        "40 03 00 01 10",
        V5,
        Packet::PubAck(ack(1, ReasonCode::NoMatchingSubscribers, no_props())),
    );
    assert_wire(
        "40 0a 00 01 80 06 1f 00 03 62 61 64",
        V5,
        Packet::PubAck(ack(
            1,
            ReasonCode::UnspecifiedError,
            Properties {
                reason_string: Some("bad".into()),
                ..Properties::default()
            },
        )),
    );
    // An explicit Success with an empty property block means the same as the short form.
    let long = decode_one(&hex("40 04 00 01 00 00"), V5).unwrap();
    assert_eq!(
        long,
        Packet::PubAck(ack(1, ReasonCode::Success, no_props()))
    );
    assert_eq!(encode_vec(&long, V5), hex("40 02 00 01"));
}

#[test]
fn pubrec_pubrel_pubcomp() {
    assert_wire(
        "50 03 00 01 10",
        V5,
        Packet::PubRec(ack(1, ReasonCode::NoMatchingSubscribers, no_props())),
    );
    assert_wire(
        "62 03 00 01 92",
        V5,
        Packet::PubRel(ack(1, ReasonCode::PacketIdentifierNotFound, no_props())),
    );
    assert_wire(
        "70 02 00 01",
        V5,
        Packet::PubComp(ack(1, ReasonCode::Success, no_props())),
    );
}

#[test]
fn subscribe_with_options_and_identifier() {
    assert_wire(
        "82 0b 00 01 02 0b 07 00 03 61 2f 2b 2d",
        V5,
        Packet::Subscribe(Subscribe {
            packet_id: pid(1),
            filters: vec![(
                "a/+".into(),
                SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::DoNotSend,
                },
            )],
            properties: Properties {
                subscription_identifiers: vec![7],
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn suback_with_v5_failures() {
    assert_wire(
        "90 06 00 01 00 01 8f a2",
        V5,
        Packet::SubAck(SubAck {
            packet_id: pid(1),
            reasons: vec![
                ReasonCode::GrantedQoS1,
                ReasonCode::TopicFilterInvalid,
                ReasonCode::WildcardSubscriptionsNotSupported,
            ],
            properties: no_props(),
        }),
    );
}

#[test]
fn unsubscribe_and_unsuback() {
    assert_wire(
        "a2 06 00 01 00 00 01 78",
        V5,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(1),
            filters: vec!["x".into()],
            properties: no_props(),
        }),
    );
    assert_wire(
        "b0 05 00 01 00 11 00",
        V5,
        Packet::UnsubAck(UnsubAck {
            packet_id: pid(1),
            reasons: vec![ReasonCode::NoSubscriptionExisted, ReasonCode::Success],
            properties: no_props(),
        }),
    );
}

#[test]
fn disconnect_forms() {
    let disconnect = |reason, properties| Packet::Disconnect(Disconnect { reason, properties });
    assert_wire("e0 00", V5, disconnect(ReasonCode::Success, no_props()));
    assert_wire(
        "e0 01 04",
        V5,
        disconnect(ReasonCode::DisconnectWithWill, no_props()),
    );
    assert_wire(
        "e0 07 8b 05 11 00 00 00 00",
        V5,
        disconnect(
            ReasonCode::ServerShuttingDown,
            Properties {
                session_expiry_interval: Some(0),
                ..Properties::default()
            },
        ),
    );
}

#[test]
fn auth_forms() {
    assert_wire(
        "f0 00",
        V5,
        Packet::Auth(Auth {
            reason: ReasonCode::Success,
            properties: no_props(),
        }),
    );
    assert_wire(
        "f0 0f 18 0d 15 00 05 53 43 52 41 4d 16 00 02 01 02",
        V5,
        Packet::Auth(Auth {
            reason: ReasonCode::ContinueAuthentication,
            properties: Properties {
                authentication_method: Some("SCRAM".into()),
                authentication_data: Some(Bytes::from_static(&[1, 2])),
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn auth_cannot_be_sent_to_v311() {
    let mut buf = bytes::BytesMut::new();
    let auth = Packet::Auth(Auth {
        reason: ReasonCode::Success,
        properties: no_props(),
    });
    assert_eq!(
        encode(&auth, V311, &mut buf),
        Err(EncodeError::NotInV311("auth"))
    );
    assert!(buf.is_empty());
}

#[test]
fn ping() {
    assert_wire("c0 00", V5, Packet::PingReq);
    assert_wire("d0 00", V5, Packet::PingResp);
}

#[test]
fn properties_not_allowed_in_a_packet_are_not_written() {
    // Topic alias belongs to PUBLISH only; a PUBACK must not carry it.
    let packet = Packet::PubAck(ack(
        1,
        ReasonCode::Success,
        Properties {
            topic_alias: Some(3),
            ..Properties::default()
        },
    ));
    assert_eq!(encode_vec(&packet, V5), hex("40 02 00 01"));
}

#[test]
fn every_connack_property_round_trips() {
    let packet = Packet::ConnAck(ConnAck {
        session_present: false,
        reason: ReasonCode::Success,
        properties: Properties {
            session_expiry_interval: Some(1),
            assigned_client_identifier: Some("a".into()),
            server_keep_alive: Some(2),
            authentication_method: Some("m".into()),
            authentication_data: Some(Bytes::from_static(b"d")),
            response_information: Some("ri".into()),
            server_reference: Some("sr".into()),
            reason_string: Some("rs".into()),
            receive_maximum: Some(3),
            topic_alias_maximum: Some(4),
            maximum_qos: Some(0),
            retain_available: Some(1),
            user_properties: vec![("a".into(), "b".into()), ("a".into(), "c".into())],
            maximum_packet_size: Some(5),
            wildcard_subscription_available: Some(0),
            subscription_identifier_available: Some(1),
            shared_subscription_available: Some(0),
            ..Properties::default()
        },
    });
    let bytes = encode_vec(&packet, V5);
    assert_eq!(decode_one(&bytes, V5).unwrap(), packet);
}

#[test]
fn connect_request_properties_round_trip() {
    let packet = Packet::Connect(Connect {
        protocol: ProtocolVersion::V5,
        clean_start: false,
        keep_alive: 30,
        client_id: "c".into(),
        will: None,
        username: Some("u".into()),
        password: Some(Bytes::from_static(b"p")),
        properties: Properties {
            request_problem_information: Some(0),
            request_response_information: Some(1),
            maximum_packet_size: Some(65536),
            topic_alias_maximum: Some(0),
            authentication_method: Some("m".into()),
            ..Properties::default()
        },
    });
    let bytes = encode_vec(&packet, V5);
    assert_eq!(decode_one(&bytes, V311).unwrap(), packet);
}
