//! Incremental input: incomplete packets wait without touching the buffer, and oversized ones
//! are refused from their fixed header alone.

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use ferrite_mqtt_codec::*;

/// Valid packets for each version, including one whose remaining length takes two bytes.
fn samples() -> Vec<(ProtocolVersion, Vec<u8>)> {
    let mut out: Vec<(ProtocolVersion, Vec<u8>)> = [
        (
            V311,
            "10 10 00 04 4d 51 54 54 04 02 00 3c 00 04 74 65 73 74",
        ),
        (V311, "20 02 00 00"),
        (V311, "30 0a 00 03 61 2f 62 68 65 6c 6c 6f"),
        (V311, "62 02 00 0c"),
        (V311, "82 0c 00 01 00 03 61 2f 23 01 00 01 62 02"),
        (V311, "90 06 00 01 00 01 02 80"),
        (V311, "a2 07 00 02 00 03 61 2f 23"),
        (V311, "c0 00"),
        (
            V5,
            "10 1f 00 04 4d 51 54 54 05 02 00 3c 0f 11 00 00 0e 10 21 00 14 26 00 01 6b 00 01 76 \
             00 03 63 69 64",
        ),
        (V5, "20 0d 01 00 0a 12 00 02 69 64 22 00 0a 24 01"),
        (
            V5,
            "32 12 00 03 61 2f 62 00 07 08 0b 01 0b 80 01 23 00 05 68 69",
        ),
        (V5, "40 0a 00 01 80 06 1f 00 03 62 61 64"),
        (V5, "82 0b 00 01 02 0b 07 00 03 61 2f 2b 2d"),
        (V5, "b0 05 00 01 00 11 00"),
        (V5, "e0 07 8b 05 11 00 00 00 00"),
        (V5, "f0 0f 18 0d 15 00 05 53 43 52 41 4d 16 00 02 01 02"),
    ]
    .into_iter()
    .map(|(v, s)| (v, hex(s)))
    .collect();
    let big = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: "big".into(),
        packet_id: Some(pid(1)),
        payload: Bytes::from(vec![7u8; 300]),
        properties: Properties::default(),
    });
    out.push((V5, encode_vec(&big, V5)));
    out
}

#[test]
fn every_prefix_waits_and_leaves_the_buffer_untouched() {
    for (protocol, bytes) in samples() {
        for n in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..n]);
            assert_eq!(
                decode(&mut buf, protocol, 1 << 20),
                Ok(None),
                "prefix {n} of {bytes:02x?}"
            );
            assert_eq!(&buf[..], &bytes[..n]);
        }
        let mut buf = BytesMut::from(&bytes[..]);
        assert!(matches!(decode(&mut buf, protocol, 1 << 20), Ok(Some(_))));
        assert!(buf.is_empty());
    }
}

#[test]
fn byte_at_a_time_feeding_yields_the_same_packets() {
    for (protocol, bytes) in samples() {
        let expected = decode_one(&bytes, protocol).unwrap();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in &bytes {
            assert!(got.is_none(), "decoded before the last byte");
            buf.extend_from_slice(&[b]);
            got = decode(&mut buf, protocol, 1 << 20).unwrap();
        }
        assert_eq!(got, Some(expected));
    }
}

#[test]
fn oversized_packet_is_refused_from_its_header() {
    // PUBLISH announcing 1 MiB of remaining length: 0x80 0x80 0x40 = 64 * 128^2.
    let mut buf = BytesMut::from(&hex("30 80 80 40")[..]);
    assert_eq!(
        decode(&mut buf, V311, 1000),
        Err(DecodeError::PacketTooLarge {
            size: 4 + 1_048_576,
            max: 1000
        })
    );
    assert_eq!(buf.len(), 4, "nothing beyond the header was needed");

    // A five-byte header announcing the largest remaining length.
    let mut buf = BytesMut::from(&hex("30 ff ff ff 7f")[..]);
    assert_eq!(
        decode(&mut buf, V5, 1000),
        Err(DecodeError::PacketTooLarge {
            size: 5 + MAX_REMAINING_LENGTH,
            max: 1000
        })
    );
}

#[test]
fn size_limit_counts_the_fixed_header() {
    let bytes = hex("40 02 00 01");
    let mut buf = BytesMut::from(&bytes[..]);
    assert!(matches!(
        decode(&mut buf, V311, 3),
        Err(DecodeError::PacketTooLarge { size: 4, max: 3 })
    ));
    let mut buf = BytesMut::from(&bytes[..]);
    assert!(matches!(decode(&mut buf, V311, 4), Ok(Some(_))));
}

#[test]
fn empty_buffer_waits() {
    let mut buf = BytesMut::new();
    assert_eq!(decode(&mut buf, V5, 10), Ok(None));
}
