//! Packets that cannot be put on the wire, and the guarantee that a failed encode writes nothing.

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use ferrite_mqtt_codec::*;

fn publish(topic: String, qos: QoS, packet_id: Option<PacketId>, payload: Bytes) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic,
        packet_id,
        payload,
        properties: Properties::default(),
    })
}

fn encode_err(packet: &Packet, protocol: ProtocolVersion) -> EncodeError {
    let mut buf = BytesMut::from(&b"keep"[..]);
    let e = encode(packet, protocol, &mut buf).expect_err("encode should fail");
    assert_eq!(&buf[..], b"keep", "failed encode must not write");
    e
}

fn connect(username: Option<&str>, password: Option<&[u8]>, protocol: ProtocolVersion) -> Packet {
    Packet::Connect(Connect {
        protocol,
        clean_start: true,
        keep_alive: 0,
        client_id: "c".into(),
        will: None,
        username: username.map(Into::into),
        password: password.map(Bytes::copy_from_slice),
        properties: Properties::default(),
    })
}

#[test]
fn string_too_long() {
    let p = publish("a".repeat(65_536), QoS::AtMostOnce, None, Bytes::new());
    assert_eq!(encode_err(&p, V311), EncodeError::StringTooLong(65_536));
    // 65535 bytes is the largest allowed.
    let p = publish("a".repeat(65_535), QoS::AtMostOnce, None, Bytes::new());
    assert!(decode_one(&encode_vec(&p, V311), V311).is_ok());
}

#[test]
fn binary_too_long() {
    let p = connect(Some("u"), Some(&[0; 70_000]), V5);
    assert_eq!(encode_err(&p, V5), EncodeError::BinaryTooLong(70_000));
}

#[test]
fn packet_too_large() {
    let payload = Bytes::from(vec![0u8; MAX_REMAINING_LENGTH]);
    let p = publish("t".into(), QoS::AtMostOnce, None, payload);
    assert_eq!(
        encode_err(&p, V311),
        EncodeError::PacketTooLarge(MAX_REMAINING_LENGTH + 3)
    );
}

#[test]
fn variable_byte_integer_too_large() {
    let p = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "t".into(),
        packet_id: None,
        payload: Bytes::new(),
        properties: Properties {
            subscription_identifiers: vec![1 << 28],
            ..Properties::default()
        },
    });
    assert_eq!(
        encode_err(&p, V5),
        EncodeError::VariableByteIntegerTooLarge(1 << 28)
    );
}

#[test]
fn packet_id_mismatch() {
    let p = publish("t".into(), QoS::AtLeastOnce, None, Bytes::new());
    assert_eq!(encode_err(&p, V311), EncodeError::PacketIdMismatch);
    let p = publish("t".into(), QoS::AtMostOnce, Some(pid(1)), Bytes::new());
    assert_eq!(encode_err(&p, V5), EncodeError::PacketIdMismatch);
}

#[test]
fn empty_subscribe_and_unsubscribe() {
    let s = Packet::Subscribe(Subscribe {
        packet_id: pid(1),
        filters: vec![],
        properties: Properties::default(),
    });
    assert_eq!(encode_err(&s, V5), EncodeError::EmptySubscribe);
    let u = Packet::Unsubscribe(Unsubscribe {
        packet_id: pid(1),
        filters: vec![],
        properties: Properties::default(),
    });
    assert_eq!(encode_err(&u, V311), EncodeError::EmptyUnsubscribe);
}

#[test]
fn multiple_subscription_identifiers_outside_publish() {
    let s = Packet::Subscribe(Subscribe {
        packet_id: pid(1),
        filters: vec![("t".into(), SubscriptionOptions::default())],
        properties: Properties {
            subscription_identifiers: vec![1, 2],
            ..Properties::default()
        },
    });
    assert_eq!(
        encode_err(&s, V5),
        EncodeError::MultipleSubscriptionIdentifiers
    );
}

#[test]
fn password_without_username_in_v311() {
    assert_eq!(
        encode_err(&connect(None, Some(b"p"), ProtocolVersion::V311), V311),
        EncodeError::PasswordWithoutUsername
    );
    let v5 = connect(None, Some(b"p"), ProtocolVersion::V5);
    assert_eq!(decode_one(&encode_vec(&v5, V5), V5).unwrap(), v5);
}

#[test]
fn dup_is_cleared_for_qos0() {
    let p = Packet::Publish(Publish {
        dup: true,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "t".into(),
        packet_id: None,
        payload: Bytes::new(),
        properties: Properties::default(),
    });
    assert_eq!(encode_vec(&p, V311), hex("30 03 00 01 74"));
}

#[test]
fn appends_after_existing_content() {
    let mut buf = BytesMut::from(&b"xy"[..]);
    let n = encode(&Packet::PingReq, V5, &mut buf).unwrap();
    assert_eq!(n, 2);
    assert_eq!(&buf[..], &[b'x', b'y', 0xC0, 0x00]);
}
