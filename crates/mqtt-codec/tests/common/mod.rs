//! Helpers shared by the integration tests.
#![allow(dead_code, unused_imports)]

use bytes::BytesMut;
use ferrite_mqtt_codec::{DecodeError, Packet, PacketId, ProtocolVersion, decode, encode};

pub use ProtocolVersion::{V5, V311};

/// Parses space-separated hex bytes, e.g. `"10 0c 00 04"`.
pub fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("test hex"))
        .collect()
}

pub fn pid(v: u16) -> PacketId {
    PacketId::new(v).expect("non-zero test packet id")
}

/// Decodes exactly one packet that fills `bytes`.
pub fn decode_one(bytes: &[u8], protocol: ProtocolVersion) -> Result<Packet, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let packet = decode(&mut buf, protocol, usize::MAX)?.expect("complete packet");
    assert!(buf.is_empty(), "decode left {} bytes", buf.len());
    Ok(packet)
}

pub fn decode_err(bytes: &[u8], protocol: ProtocolVersion) -> DecodeError {
    let mut buf = BytesMut::from(bytes);
    match decode(&mut buf, protocol, usize::MAX) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

pub fn encode_vec(packet: &Packet, protocol: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let n = encode(packet, protocol, &mut buf).expect("encode");
    assert_eq!(n, buf.len());
    buf.to_vec()
}

/// Asserts that `bytes` decodes to `packet` and that `packet` encodes back to `bytes`.
pub fn assert_wire(bytes: &str, protocol: ProtocolVersion, packet: Packet) {
    let bytes = hex(bytes);
    assert_eq!(decode_one(&bytes, protocol).expect("decode"), packet);
    assert_eq!(encode_vec(&packet, protocol), bytes);
}

/// A packet from its first byte and body, with a one-byte remaining length.
pub fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let len = u8::try_from(body.len()).ok().filter(|&l| l < 128);
    let mut out = vec![first, len.expect("test body under 128 bytes")];
    out.extend_from_slice(body);
    out
}

/// A CONNECT body: protocol name "MQTT", `level`, `flags`, keep alive 60, then `rest`.
pub fn connect_frame(level: u8, flags: u8, rest: &str) -> Vec<u8> {
    let mut body = hex("00 04 4d 51 54 54");
    body.push(level);
    body.push(flags);
    body.extend(hex("00 3c"));
    body.extend(hex(rest));
    frame(0x10, &body)
}
