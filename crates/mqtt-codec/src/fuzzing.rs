//! The body of the `decode` fuzz target, shared with the stable-toolchain corpus test so both
//! exercise exactly the same checks.

use bytes::BytesMut;

use crate::{Packet, ProtocolVersion, decode, encode};

/// Packet size limit for fuzzing: small enough that the size check is exercised often.
pub const FUZZ_MAX_PACKET_SIZE: usize = 512;

/// Decodes `data` as a stream of packets for both protocol versions and checks that every
/// decoded packet survives an encode/decode round trip unchanged. Returns how many packets
/// decoded, so corpus runs can tell whether their inputs get past the fixed header.
///
/// # Panics
/// On any violated invariant; that is the point of a fuzz body.
pub fn check_decode_roundtrip(data: &[u8]) -> usize {
    let mut decoded = 0;
    for protocol in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut buf = BytesMut::from(data);
        loop {
            let before = buf.len();
            match decode(&mut buf, protocol, FUZZ_MAX_PACKET_SIZE) {
                Ok(Some(packet)) => {
                    assert!(buf.len() < before, "decode consumed nothing");
                    check_roundtrip(&packet, protocol);
                    decoded += 1;
                }
                Ok(None) => {
                    assert_eq!(buf.len(), before, "incomplete decode touched the buffer");
                    break;
                }
                Err(_) => break,
            }
        }
    }
    decoded
}

fn check_roundtrip(packet: &Packet, protocol: ProtocolVersion) {
    let protocol = match packet {
        Packet::Connect(c) => c.protocol,
        _ => protocol,
    };
    let mut out = BytesMut::new();
    let size = match encode(packet, protocol, &mut out) {
        Ok(size) => size,
        Err(e) => panic!("decoded packet {packet:?} failed to encode: {e}"),
    };
    assert_eq!(size, out.len(), "encode reported a wrong size");
    match decode(&mut out, protocol, usize::MAX) {
        Ok(Some(again)) => assert_eq!(&again, packet, "round trip changed the packet"),
        other => panic!("re-encoded {packet:?} did not decode: {other:?}"),
    }
    assert!(out.is_empty(), "re-encoded packet left bytes behind");
}
