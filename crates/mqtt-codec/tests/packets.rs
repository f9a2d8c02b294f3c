//! Byte-literal decoding of packets as real clients send them, incremental input, size
//! limits before buffering, and property-based encode/decode round trips.

use bytes::{Bytes, BytesMut};
use ferrite_mqtt_codec::*;
use proptest::prelude::*;

fn dec(bytes: &[u8], v: ProtocolVersion) -> Result<Option<Packet>, DecodeError> {
    decode(&mut BytesMut::from(bytes), v, 1 << 20)
}

/// CONNECT as `mosquitto_sub -V mqttv311 -i sub -k 60` sends it.
const V311_CONNECT: &[u8] = &[
    0x10, 0x0f, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x03, b's', b'u',
    b'b',
];

#[test]
fn decodes_a_v311_connect() {
    let Packet::Connect(c) = dec(V311_CONNECT, ProtocolVersion::V311).unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(
        (
            c.protocol,
            c.clean_start,
            c.keep_alive,
            c.client_id.as_str()
        ),
        (ProtocolVersion::V311, true, 60, "sub")
    );
    assert!(c.will.is_none() && c.username.is_none());
}

#[test]
fn decodes_a_v5_connect_with_properties() {
    // Clean start, keep-alive 10, properties: session expiry 120, receive maximum 20.
    let bytes = [
        0x10, 0x16, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x0a, 0x08, 0x11, 0, 0,
        0, 120, 0x21, 0, 20, 0x00, 0x01, b'x',
    ];
    let Packet::Connect(c) = dec(&bytes, ProtocolVersion::V311).unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(c.protocol, ProtocolVersion::V5);
    assert_eq!(c.properties.session_expiry_interval, Some(120));
    assert_eq!(c.properties.receive_maximum, Some(20));
    assert_eq!(c.client_id, "x");
}

#[test]
fn decodes_publish_with_zero_copy_payload_and_short_v5_acks() {
    let bytes = [0x32, 0x08, 0x00, 0x01, b't', 0x00, 0x05, 0x00, b'h', b'i'];
    let Packet::Publish(p) = dec(&bytes, ProtocolVersion::V5).unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(
        (
            p.topic.as_str(),
            p.qos,
            p.packet_id.map(|i| i.get()),
            &p.payload[..]
        ),
        ("t", QoS::AtLeastOnce, Some(5), &b"hi"[..])
    );
    // A v5 PUBACK with only a packet id means Success.
    let Packet::PubAck(a) = dec(&[0x40, 0x02, 0x00, 0x05], ProtocolVersion::V5)
        .unwrap()
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(a.reason, ReasonCode::Success);
    // DISCONNECT with remaining length 0 is a normal disconnection.
    let Packet::Disconnect(d) = dec(&[0xe0, 0x00], ProtocolVersion::V5).unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(d.reason, ReasonCode::Success);
}

#[test]
fn every_prefix_is_incomplete_and_leaves_the_buffer_alone() {
    for n in 0..V311_CONNECT.len() {
        let mut buf = BytesMut::from(&V311_CONNECT[..n]);
        assert!(
            decode(&mut buf, ProtocolVersion::V311, 1 << 20)
                .unwrap()
                .is_none(),
            "prefix {n}"
        );
        assert_eq!(&buf[..], &V311_CONNECT[..n]);
    }
}

#[test]
fn oversize_is_refused_from_the_fixed_header_alone() {
    let mut buf = BytesMut::from(&[0x30, 0x80, 0x80, 0x40][..]); // PUBLISH announcing 1 MiB
    let err = decode(&mut buf, ProtocolVersion::V5, 1000).unwrap_err();
    assert!(matches!(err, DecodeError::PacketTooLarge { .. }), "{err:?}");
    assert_eq!(err.reason_code(), ReasonCode::PacketTooLarge);
}

#[test]
fn malformed_packets_are_errors() {
    let cases: &[(&[u8], &str)] = &[
        (&[0x00, 0x00], "reserved packet type 0"),
        (&[0x62, 0x02, 0x00, 0x00], "PUBREL with packet id 0"),
        (&[0x80, 0x02, 0x00, 0x01], "SUBSCRIBE with wrong flags"),
        (&[0x82, 0x02, 0x00, 0x01], "SUBSCRIBE without filters"),
        (
            &[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01],
            "PUBLISH with QoS 3",
        ),
        (
            &[0x30, 0xff, 0xff, 0xff, 0xff, 0x01],
            "five-byte remaining length",
        ),
        (&[0x30, 0x03, 0x00, 0x01, 0xff], "invalid UTF-8 topic"),
        (
            &[
                0x10, 0x0f, 0x00, 0x04, b'M', b'Q', b'T', b'X', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x03,
                b's', b'u', b'b',
            ],
            "bad protocol name",
        ),
    ];
    for (bytes, what) in cases {
        assert!(
            dec(bytes, ProtocolVersion::V311).is_err(),
            "{what} was accepted"
        );
    }
    let level6 = [
        0x10, 0x0f, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x06, 0x02, 0x00, 0x3c, 0x00, 0x03, b's',
        b'u', b'b',
    ];
    assert!(matches!(
        dec(&level6, ProtocolVersion::V311),
        Err(DecodeError::UnsupportedProtocolVersion(6))
    ));
}

#[test]
fn v311_encoding_maps_reason_codes_to_return_codes() {
    let mut b = BytesMut::new();
    let ack = ConnAck {
        session_present: false,
        reason: ReasonCode::NotAuthorized,
        properties: Properties::default(),
    };
    encode(&Packet::ConnAck(ack), ProtocolVersion::V311, &mut b).unwrap();
    assert_eq!(&b[..], &[0x20, 0x02, 0x00, 0x05]);
    let mut b = BytesMut::new();
    let sub = SubAck {
        packet_id: PacketId::new(1).unwrap(),
        reasons: vec![ReasonCode::GrantedQoS1, ReasonCode::NotAuthorized],
        properties: Properties::default(),
    };
    encode(&Packet::SubAck(sub), ProtocolVersion::V311, &mut b).unwrap();
    assert_eq!(&b[..], &[0x90, 0x04, 0x00, 0x01, 0x01, 0x80]);
}

fn topic() -> impl Strategy<Value = String> {
    "[a-z0-9/]{1,20}"
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn publish_props() -> impl Strategy<Value = Properties> {
    (
        proptest::option::of(0u8..=1),
        proptest::option::of(1u32..),
        proptest::option::of("[a-z/]{0,10}"),
        proptest::collection::vec(("[a-z]{0,5}", "[a-z]{0,5}"), 0..3),
        proptest::option::of(1u16..),
    )
        .prop_map(|(pfi, exp, ct, up, alias)| Properties {
            payload_format_indicator: pfi,
            message_expiry_interval: exp,
            content_type: ct,
            user_properties: up,
            topic_alias: alias,
            ..Default::default()
        })
}

proptest! {
    #[test]
    fn publish_round_trips(t in topic(), q in qos(), retain: bool, dup: bool, id in 1u16.., payload in proptest::collection::vec(any::<u8>(), 0..300), props in publish_props(), v5: bool) {
        let v = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
        let p = Publish {
            dup: dup && q != QoS::AtMostOnce,
            qos: q,
            retain,
            topic: t,
            packet_id: (q != QoS::AtMostOnce).then(|| PacketId::new(id).unwrap()),
            payload: Bytes::from(payload),
            properties: if v5 { props } else { Properties::default() },
        };
        let mut b = BytesMut::new();
        let n = encode(&Packet::Publish(p.clone()), v, &mut b).unwrap();
        prop_assert_eq!(n, b.len());
        prop_assert_eq!(decode(&mut b, v, usize::MAX).unwrap(), Some(Packet::Publish(p)));
        prop_assert!(b.is_empty());
    }

    #[test]
    fn subscribe_round_trips(filters in proptest::collection::vec((topic(), qos(), any::<bool>(), any::<bool>(), 0u8..3), 1..5), id in 1u16.., v5: bool) {
        let v = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
        let filters = filters.into_iter().map(|(f, q, nl, rap, rh)| {
            let o = if v5 {
                SubscriptionOptions { qos: q, no_local: nl, retain_as_published: rap, retain_handling: [RetainHandling::SendAtSubscribe, RetainHandling::SendAtSubscribeIfNew, RetainHandling::DoNotSend][rh as usize] }
            } else {
                SubscriptionOptions { qos: q, ..Default::default() }
            };
            (f, o)
        }).collect();
        let s = Packet::Subscribe(Subscribe { packet_id: PacketId::new(id).unwrap(), filters, properties: Properties::default() });
        let mut b = BytesMut::new();
        encode(&s, v, &mut b).unwrap();
        prop_assert_eq!(decode(&mut b, v, usize::MAX).unwrap(), Some(s));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        ferrite_mqtt_codec::fuzzing::check_decode_roundtrip(&data);
    }
}
