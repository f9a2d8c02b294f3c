//! Encodings of the opaque blobs the broker hands to storage: message properties,
//! subscription options and session data. Small, versioned, and decoded defensively since
//! they come back from disk.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ferrite_mqtt_codec::{Properties, ProtocolVersion, QoS, RetainHandling, SubscriptionOptions};

const VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
#[error("corrupt broker record: {0}")]
pub struct RecordError(&'static str);

fn put_str(b: &mut BytesMut, s: &[u8]) {
    b.put_u32(s.len() as u32);
    b.put_slice(s);
}

fn get_bytes(b: &mut Bytes) -> Result<Bytes, RecordError> {
    if b.remaining() < 4 {
        return Err(RecordError("truncated length"));
    }
    let n = b.get_u32() as usize;
    if b.remaining() < n {
        return Err(RecordError("truncated field"));
    }
    Ok(b.split_to(n))
}

fn get_string(b: &mut Bytes) -> Result<String, RecordError> {
    String::from_utf8(get_bytes(b)?.to_vec()).map_err(|_| RecordError("invalid utf-8"))
}

// Tags of the properties that travel with a stored message.
const T_FORMAT: u8 = 1;
const T_CONTENT_TYPE: u8 = 2;
const T_RESPONSE_TOPIC: u8 = 3;
const T_CORRELATION: u8 = 4;
const T_USER: u8 = 5;

pub fn encode_message_properties(p: &Properties) -> Bytes {
    if p.is_empty() {
        return Bytes::new();
    }
    let mut b = BytesMut::new();
    b.put_u8(VERSION);
    if let Some(f) = p.payload_format_indicator {
        b.put_u8(T_FORMAT);
        b.put_u8(f);
    }
    if let Some(ct) = &p.content_type {
        b.put_u8(T_CONTENT_TYPE);
        put_str(&mut b, ct.as_bytes());
    }
    if let Some(rt) = &p.response_topic {
        b.put_u8(T_RESPONSE_TOPIC);
        put_str(&mut b, rt.as_bytes());
    }
    if let Some(cd) = &p.correlation_data {
        b.put_u8(T_CORRELATION);
        put_str(&mut b, cd);
    }
    for (k, v) in &p.user_properties {
        b.put_u8(T_USER);
        put_str(&mut b, k.as_bytes());
        put_str(&mut b, v.as_bytes());
    }
    b.freeze()
}

pub fn decode_message_properties(mut b: Bytes) -> Result<Properties, RecordError> {
    let mut p = Properties::default();
    if b.is_empty() {
        return Ok(p);
    }
    if b.get_u8() != VERSION {
        return Err(RecordError("unknown properties version"));
    }
    while b.has_remaining() {
        match b.get_u8() {
            T_FORMAT if b.has_remaining() => p.payload_format_indicator = Some(b.get_u8()),
            T_CONTENT_TYPE => p.content_type = Some(get_string(&mut b)?),
            T_RESPONSE_TOPIC => p.response_topic = Some(get_string(&mut b)?),
            T_CORRELATION => p.correlation_data = Some(get_bytes(&mut b)?),
            T_USER => {
                let k = get_string(&mut b)?;
                let v = get_string(&mut b)?;
                p.user_properties.push((k, v));
            }
            _ => return Err(RecordError("unknown property tag")),
        }
    }
    Ok(p)
}

/// Subscription options plus the optional subscription identifier.
pub fn encode_subscription(o: &SubscriptionOptions, sub_id: Option<u32>) -> Bytes {
    let mut b = BytesMut::with_capacity(8);
    b.put_u8(VERSION);
    b.put_u8(o.qos as u8);
    b.put_u8(u8::from(o.no_local) | (u8::from(o.retain_as_published) << 1));
    b.put_u8(o.retain_handling as u8);
    b.put_u32(sub_id.unwrap_or(0));
    b.freeze()
}

pub fn decode_subscription(
    mut b: Bytes,
) -> Result<(SubscriptionOptions, Option<u32>), RecordError> {
    if b.remaining() != 8 || b.get_u8() != VERSION {
        return Err(RecordError("bad subscription record"));
    }
    let qos = QoS::from_u8(b.get_u8()).ok_or(RecordError("bad qos"))?;
    let flags = b.get_u8();
    let retain_handling = match b.get_u8() {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendAtSubscribeIfNew,
        2 => RetainHandling::DoNotSend,
        _ => return Err(RecordError("bad retain handling")),
    };
    let id = b.get_u32();
    Ok((
        SubscriptionOptions {
            qos,
            no_local: flags & 1 != 0,
            retain_as_published: flags & 2 != 0,
            retain_handling,
        },
        (id != 0).then_some(id),
    ))
}

pub fn encode_session_data(protocol: ProtocolVersion) -> Bytes {
    Bytes::from(vec![
        VERSION,
        if protocol == ProtocolVersion::V5 {
            5
        } else {
            4
        },
    ])
}

pub fn decode_session_data(b: &Bytes) -> ProtocolVersion {
    // Unknown data falls back to 3.1.1, the encoding that drops properties safely.
    if b.get(1) == Some(&5) {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V311
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip() {
        let p = Properties {
            payload_format_indicator: Some(1),
            content_type: Some("application/json".into()),
            response_topic: Some("r/t".into()),
            correlation_data: Some(Bytes::from_static(b"\x00\x01")),
            user_properties: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
            ..Properties::default()
        };
        assert_eq!(
            decode_message_properties(encode_message_properties(&p)).unwrap(),
            p
        );
        assert!(encode_message_properties(&Properties::default()).is_empty());
    }

    #[test]
    fn subscription_round_trip() {
        let o = SubscriptionOptions {
            qos: QoS::ExactlyOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::DoNotSend,
        };
        assert_eq!(
            decode_subscription(encode_subscription(&o, Some(7))).unwrap(),
            (o, Some(7))
        );
        assert_eq!(
            decode_subscription(encode_subscription(&o, None))
                .unwrap()
                .1,
            None
        );
    }

    #[test]
    fn corrupt_records_are_errors_not_panics() {
        assert!(decode_message_properties(Bytes::from_static(&[1, 2, 0, 0, 0, 9])).is_err());
        assert!(decode_message_properties(Bytes::from_static(&[1, 99])).is_err());
        assert!(decode_subscription(Bytes::from_static(&[1, 3, 0, 0, 0, 0, 0, 0])).is_err());
        assert!(decode_subscription(Bytes::from_static(&[1])).is_err());
    }
}
