//! Routed messages on the bus. One bus message carries a *batch*: every message one node
//! forwards on one topic while the bus was busy with the previous batch, so that under load the
//! per-message cost of NATS (a protocol line, a server match, a client wake-up) is paid once
//! per batch, and at a trickle a batch is one message with no added wait. The topic is the
//! subject itself ([`crate::subject`] is injective and reversible), so a batch reaches exactly
//! the nodes one of its messages would.
//!
//! The batch is one binary body, no NATS headers (they cost the most to build and parse):
//!
//! ```text
//! batch  = MAGIC VERSION node:str incarnation:u64le seq:varint flags:u8 count:varint record*
//! record = flags:u8 received:zigzag [expires:zigzag] [client:str] [principal:str]
//!          [ip:u8(4|16) bytes] protocol:u8 [service:str] [origin-node:str]
//!          [props:u8 [format:u8] [content-type:str] [response-topic:str]
//!           [correlation:bytes] [n:varint (key:str value:str)*n]] payload:bytes
//! str    = len:varint utf-8 ; bytes = len:varint octets
//! ```
//!
//! `(node, incarnation, seq)` numbers batches for the receiver's duplicate filter. The batch
//! flags (version 2; version 1 had none and is still read) say whether the sender wants every
//! receiving node to confirm once the batch is durable there (`ACK_WANTED`, see
//! [`crate::receipts`]): the answer goes to `{prefix}.node.{node}.ack`. A record's
//! origin node is written only when it is not the sending node. The decoder checks every
//! length against what is left, so a malformed or hostile body is an error, never a panic or
//! a large allocation (`fuzz/fuzz_targets/cluster_envelope.rs`).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, LazyLock};

use bytes::{BufMut, Bytes, BytesMut};
use ferrite_mqtt_codec::{Properties, ProtocolVersion, QoS};
use ferrite_types::{Message, Origin, Protocol};
use parking_lot::Mutex;

use crate::subject::{subject_topic, topic_subject};

/// The header the registry change feed stamps its sender's node id in.
pub const NODE: &str = "Ferrite-Node";

const MAGIC: u8 = 0xFE;
const VERSION: u8 = 2;
/// The first version, without batch flags; still read.
const VERSION_1: u8 = 1;

/// Batch flag: confirm on `{prefix}.node.{node}.ack` once the batch is durable here.
const ACK_WANTED: u8 = 1;

const QOS_MASK: u8 = 0b11;
const RETAIN: u8 = 1 << 2;
const EXPIRES: u8 = 1 << 3;
const CLIENT: u8 = 1 << 4;
const PRINCIPAL: u8 = 1 << 5;
const SOURCE_IP: u8 = 1 << 6;
const PROPERTIES: u8 = 1 << 7;

const P_FORMAT: u8 = 1;
const P_CONTENT_TYPE: u8 = 1 << 1;
const P_RESPONSE_TOPIC: u8 = 1 << 2;
const P_CORRELATION: u8 = 1 << 3;
const P_USER: u8 = 1 << 4;

const PROTO_MQTT3: u8 = 0;
const PROTO_MQTT5: u8 = 1;
const PROTO_HTTP: u8 = 2;
const PROTO_SERVICE: u8 = 3;
/// Set on the protocol byte when the record names its own origin node.
const OTHER_NODE: u8 = 0x80;

/// The smallest record: flags, a one-byte time, protocol, a zero payload length.
const MIN_RECORD: usize = 4;

/// Where a batch stands in its node's stream: the receiving node keeps a small window per
/// `(node, incarnation)` and routes each batch once, however many of its subscriptions
/// matched. The incarnation is new each time a node starts, so a restarted node's sequence
/// numbers are never mistaken for old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sequence {
    pub incarnation: u64,
    pub seq: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("subject {0:?} is not a message subject")]
    Subject(String),
    #[error("not a Ferrite message batch (magic {0:#04x})")]
    Magic(u8),
    #[error("message batch version {0} is not understood (this node reads {VERSION})")]
    Version(u8),
    #[error("message batch truncated in {0}")]
    Truncated(&'static str),
    #[error("message batch has an invalid {0}")]
    Invalid(&'static str),
}

/// A batch ready for the bus.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub subject: String,
    pub payload: Bytes,
}

/// A batch read from the bus.
#[derive(Debug)]
pub struct Batch {
    /// The node that sent it.
    pub node: Arc<str>,
    pub seq: Sequence,
    /// The sender waits for each receiving node to confirm that the batch is durable there.
    pub ack_wanted: bool,
    pub messages: Vec<Message>,
}

fn put_varint(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8(v as u8 | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

fn put_bytes(out: &mut BytesMut, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.put_slice(b);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// An upper bound of the bytes `msg` takes in a batch.
pub fn record_size(msg: &Message) -> usize {
    let o = &msg.origin;
    let p = &msg.properties;
    let text = |s: Option<&str>| s.map_or(0, |s| s.len() + 10);
    40 + msg.payload.len()
        + text(o.client_id.as_deref())
        + text(o.principal.as_deref())
        + o.node.len()
        + match o.protocol {
            Protocol::Service(name) => name.len() + 10,
            _ => 0,
        }
        + text(p.content_type.as_deref())
        + text(p.response_topic.as_deref())
        + p.correlation_data.as_ref().map_or(0, |c| c.len() + 10)
        + p.user_properties
            .iter()
            .map(|(k, v)| k.len() + v.len() + 20)
            .sum::<usize>()
}

/// Encodes `messages`, which must all be on one topic, as one batch from `node` for the
/// subjects below `prefix`.
pub fn encode(prefix: &str, node: &str, seq: Sequence, messages: &[&Message]) -> Encoded {
    encode_with(prefix, node, seq, false, messages)
}

/// [`encode`], asking the receiving nodes to confirm when `ack_wanted`.
pub fn encode_with(
    prefix: &str,
    node: &str,
    seq: Sequence,
    ack_wanted: bool,
    messages: &[&Message],
) -> Encoded {
    let Some(first) = messages.first() else {
        return Encoded {
            subject: String::new(),
            payload: Bytes::new(),
        };
    };
    debug_assert!(messages.iter().all(|m| m.topic == first.topic));
    let size = 32 + node.len() + messages.iter().map(|m| record_size(m)).sum::<usize>();
    let mut out = BytesMut::with_capacity(size);
    out.put_u8(MAGIC);
    out.put_u8(VERSION);
    put_bytes(&mut out, node.as_bytes());
    out.put_u64_le(seq.incarnation);
    put_varint(&mut out, seq.seq);
    out.put_u8(if ack_wanted { ACK_WANTED } else { 0 });
    put_varint(&mut out, messages.len() as u64);
    for msg in messages {
        put_record(&mut out, node, msg);
    }
    Encoded {
        subject: topic_subject(prefix, &first.topic),
        payload: out.freeze(),
    }
}

fn put_record(out: &mut BytesMut, node: &str, msg: &Message) {
    let o = &msg.origin;
    let p = &msg.properties;
    let bit = |on: bool, bit: u8| if on { bit } else { 0 };
    let props = bit(p.payload_format_indicator.is_some(), P_FORMAT)
        | bit(p.content_type.is_some(), P_CONTENT_TYPE)
        | bit(p.response_topic.is_some(), P_RESPONSE_TOPIC)
        | bit(p.correlation_data.is_some(), P_CORRELATION)
        | bit(!p.user_properties.is_empty(), P_USER);
    let flags = (msg.qos as u8 & QOS_MASK)
        | bit(msg.retain, RETAIN)
        | bit(msg.expires_at_ms.is_some(), EXPIRES)
        | bit(o.client_id.is_some(), CLIENT)
        | bit(o.principal.is_some(), PRINCIPAL)
        | bit(o.source_ip.is_some(), SOURCE_IP)
        | bit(props != 0, PROPERTIES);
    out.put_u8(flags);
    put_varint(out, zigzag(msg.received_at_ms));
    if let Some(t) = msg.expires_at_ms {
        put_varint(out, zigzag(t));
    }
    if let Some(c) = &o.client_id {
        put_bytes(out, c.as_bytes());
    }
    if let Some(c) = &o.principal {
        put_bytes(out, c.as_bytes());
    }
    match o.source_ip {
        Some(IpAddr::V4(ip)) => put_bytes(out, &ip.octets()),
        Some(IpAddr::V6(ip)) => put_bytes(out, &ip.octets()),
        None => {}
    }
    let other_node = if *o.node == *node { 0 } else { OTHER_NODE };
    match o.protocol {
        Protocol::Mqtt(ProtocolVersion::V311) => out.put_u8(PROTO_MQTT3 | other_node),
        Protocol::Mqtt(ProtocolVersion::V5) => out.put_u8(PROTO_MQTT5 | other_node),
        Protocol::Http => out.put_u8(PROTO_HTTP | other_node),
        Protocol::Service(name) => {
            out.put_u8(PROTO_SERVICE | other_node);
            put_bytes(out, name.as_bytes());
        }
    }
    if other_node != 0 {
        put_bytes(out, o.node.as_bytes());
    }
    if props != 0 {
        out.put_u8(props);
        if let Some(f) = p.payload_format_indicator {
            out.put_u8(f);
        }
        if let Some(c) = &p.content_type {
            put_bytes(out, c.as_bytes());
        }
        if let Some(r) = &p.response_topic {
            put_bytes(out, r.as_bytes());
        }
        if let Some(c) = &p.correlation_data {
            put_bytes(out, c);
        }
        if !p.user_properties.is_empty() {
            put_varint(out, p.user_properties.len() as u64);
            for (k, v) in &p.user_properties {
                put_bytes(out, k.as_bytes());
                put_bytes(out, v.as_bytes());
            }
        }
    }
    put_bytes(out, &msg.payload);
}

/// Reads a batch body; payloads are slices of it, not copies.
struct Reader {
    body: Bytes,
    at: usize,
}

impl Reader {
    fn left(&self) -> usize {
        self.body.len() - self.at
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, EnvelopeError> {
        let b = *self
            .body
            .get(self.at)
            .ok_or(EnvelopeError::Truncated(what))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self, what: &'static str) -> Result<u64, EnvelopeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8(what)?;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                if shift == 63 && b > 1 {
                    break;
                }
                return Ok(v);
            }
        }
        Err(EnvelopeError::Invalid(what))
    }

    fn bytes(&mut self, what: &'static str) -> Result<Bytes, EnvelopeError> {
        let len = self.varint(what)?;
        if len > self.left() as u64 {
            return Err(EnvelopeError::Truncated(what));
        }
        let start = self.at;
        self.at += len as usize;
        Ok(self.body.slice(start..self.at))
    }

    fn str(&mut self, what: &'static str) -> Result<String, EnvelopeError> {
        let b = self.bytes(what)?;
        std::str::from_utf8(&b)
            .map(str::to_owned)
            .map_err(|_| EnvelopeError::Invalid(what))
    }

    fn time(&mut self, what: &'static str) -> Result<i64, EnvelopeError> {
        self.varint(what).map(unzigzag)
    }
}

/// Decodes a batch received on `subject` below `prefix`.
pub fn decode(prefix: &str, subject: &str, body: Bytes) -> Result<Batch, EnvelopeError> {
    let topic: Arc<str> = subject_topic(prefix, subject)
        .ok_or_else(|| EnvelopeError::Subject(subject.into()))?
        .into();
    let mut r = Reader { body, at: 0 };
    let magic = r.u8("magic")?;
    if magic != MAGIC {
        return Err(EnvelopeError::Magic(magic));
    }
    let version = r.u8("version")?;
    if version != VERSION && version != VERSION_1 {
        return Err(EnvelopeError::Version(version));
    }
    let node: Arc<str> = Arc::from(r.str("node")?);
    if r.left() < 8 {
        return Err(EnvelopeError::Truncated("incarnation"));
    }
    let mut inc = [0u8; 8];
    inc.copy_from_slice(&r.body[r.at..r.at + 8]);
    r.at += 8;
    let seq = Sequence {
        incarnation: u64::from_le_bytes(inc),
        seq: r.varint("sequence")?,
    };
    let flags = if version == VERSION_1 {
        0
    } else {
        r.u8("batch flags")?
    };
    if flags & !ACK_WANTED != 0 {
        return Err(EnvelopeError::Invalid("batch flags"));
    }
    let count = r.varint("count")?;
    if count > (r.left() / MIN_RECORD) as u64 {
        return Err(EnvelopeError::Invalid("count"));
    }
    let mut messages = Vec::with_capacity(count as usize);
    for _ in 0..count {
        messages.push(record(&mut r, &topic, &node)?);
    }
    if r.left() != 0 {
        return Err(EnvelopeError::Invalid(
            "length (bytes after the last record)",
        ));
    }
    Ok(Batch {
        node,
        seq,
        ack_wanted: flags & ACK_WANTED != 0,
        messages,
    })
}

fn record(r: &mut Reader, topic: &Arc<str>, node: &Arc<str>) -> Result<Message, EnvelopeError> {
    let flags = r.u8("flags")?;
    let qos = QoS::from_u8(flags & QOS_MASK).ok_or(EnvelopeError::Invalid("qos"))?;
    let received_at_ms = r.time("receipt time")?;
    let expires_at_ms = if flags & EXPIRES != 0 {
        Some(r.time("expiry time")?)
    } else {
        None
    };
    let client_id = (flags & CLIENT != 0)
        .then(|| r.str("client id"))
        .transpose()?;
    let principal = (flags & PRINCIPAL != 0)
        .then(|| r.str("principal"))
        .transpose()?;
    let source_ip = if flags & SOURCE_IP != 0 {
        let b = r.bytes("source ip")?;
        Some(match b.len() {
            4 => IpAddr::V4(Ipv4Addr::from(
                <[u8; 4]>::try_from(&b[..]).expect("4 bytes"),
            )),
            16 => IpAddr::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(&b[..]).expect("16 bytes"),
            )),
            _ => return Err(EnvelopeError::Invalid("source ip")),
        })
    } else {
        None
    };
    let proto = r.u8("protocol")?;
    let protocol = match proto & !OTHER_NODE {
        PROTO_MQTT3 => Protocol::Mqtt(ProtocolVersion::V311),
        PROTO_MQTT5 => Protocol::Mqtt(ProtocolVersion::V5),
        PROTO_HTTP => Protocol::Http,
        PROTO_SERVICE => Protocol::Service(service_name(&r.str("service name")?)),
        _ => return Err(EnvelopeError::Invalid("protocol")),
    };
    let origin_node = if proto & OTHER_NODE != 0 {
        Arc::from(r.str("origin node")?)
    } else {
        node.clone()
    };
    let mut properties = Properties::default();
    if flags & PROPERTIES != 0 {
        let p = r.u8("properties")?;
        if p & P_FORMAT != 0 {
            properties.payload_format_indicator = Some(r.u8("payload format")?);
        }
        if p & P_CONTENT_TYPE != 0 {
            properties.content_type = Some(r.str("content type")?);
        }
        if p & P_RESPONSE_TOPIC != 0 {
            properties.response_topic = Some(r.str("response topic")?);
        }
        if p & P_CORRELATION != 0 {
            properties.correlation_data = Some(r.bytes("correlation data")?);
        }
        if p & P_USER != 0 {
            let n = r.varint("user properties")?;
            if n > (r.left() / 2) as u64 {
                return Err(EnvelopeError::Invalid("user properties"));
            }
            for _ in 0..n {
                let k = r.str("user property")?;
                let v = r.str("user property")?;
                properties.user_properties.push((k, v));
            }
        }
    }
    let payload = r.bytes("payload")?;
    Ok(Message {
        topic: topic.clone(),
        payload,
        qos,
        retain: flags & RETAIN != 0,
        properties,
        received_at_ms,
        expires_at_ms,
        origin: Arc::new(Origin {
            client_id: client_id.map(Arc::from),
            principal: principal.map(Arc::from),
            source_ip,
            protocol,
            node: origin_node,
        }),
    })
}

/// Most distinct service names kept; a service's name is `&'static str` in `Protocol`.
const MAX_SERVICE_NAMES: usize = 64;

/// The `&'static str` for a service name another node sent. Ferrite has a handful of
/// services, so each distinct name is leaked once; past a small cap (a misbehaving peer)
/// names read as `"remote"`.
fn service_name(name: &str) -> &'static str {
    static NAMES: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Default::default);
    let mut names = NAMES.lock();
    if let Some(known) = names.get(name) {
        return known;
    }
    if names.len() >= MAX_SERVICE_NAMES {
        return "remote";
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// The fuzz target's body (`fuzz/fuzz_targets/cluster_envelope.rs`), also run on stable over a
/// mutated corpus by `tests/fuzz_corpus.rs`: any body decodes or fails cleanly, and what
/// decodes encodes back to a body that decodes to the same messages.
pub mod fuzzing {
    use super::*;

    /// Whether `data` decoded (the corpus test counts how many inputs reach the records).
    pub fn check_decode_roundtrip(data: &[u8]) -> bool {
        let subject = "f.m.t";
        let Ok(batch) = decode("f", subject, Bytes::copy_from_slice(data)) else {
            return false;
        };
        let refs: Vec<&Message> = batch.messages.iter().collect();
        if refs.is_empty() {
            return true;
        }
        let again = encode_with("f", &batch.node, batch.seq, batch.ack_wanted, &refs);
        assert_eq!(again.subject, subject);
        let back = decode("f", subject, again.payload).expect("an encoded batch decodes");
        assert_eq!(
            (back.node, back.seq, back.ack_wanted),
            (batch.node, batch.seq, batch.ack_wanted)
        );
        assert_eq!(back.messages.len(), batch.messages.len());
        for (a, b) in back.messages.iter().zip(&batch.messages) {
            assert_eq!(
                (&a.topic, &a.payload, a.qos, a.retain),
                (&b.topic, &b.payload, b.qos, b.retain)
            );
            assert_eq!(a.properties, b.properties);
            assert_eq!(
                (a.received_at_ms, a.expires_at_ms),
                (b.received_at_ms, b.expires_at_ms)
            );
            // A service name past the cap reads back as "remote" both times.
            assert_eq!(a.origin, b.origin);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(protocol: Protocol, node: &str) -> Arc<Origin> {
        Arc::new(Origin {
            client_id: Some("dev 1\r\n%é".into()),
            principal: Some("cert=1".into()),
            source_ip: Some("::1".parse().unwrap()),
            protocol,
            node: node.into(),
        })
    }

    fn full_message() -> Message {
        Message {
            topic: "a.b/ /~/é".into(),
            payload: Bytes::from_static(b"\x00\xffpayload"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties {
                payload_format_indicator: Some(1),
                content_type: Some("application/json; charset=utf-8".into()),
                response_topic: Some("reply/to me".into()),
                correlation_data: Some(Bytes::from_static(b"\r\n\x00%=")),
                user_properties: vec![
                    ("k=1".into(), "v\n1".into()),
                    ("k=1".into(), "second".into()),
                    ("".into(), "".into()),
                ],
                ..Properties::default()
            },
            received_at_ms: 1_700_000_000_123,
            expires_at_ms: Some(1_700_000_010_123),
            origin: origin(Protocol::Mqtt(ProtocolVersion::V5), "node-a"),
        }
    }

    fn minimal(protocol: Protocol, node: &str) -> Message {
        Message {
            topic: "a.b/ /~/é".into(),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::default(),
            received_at_ms: -5,
            expires_at_ms: None,
            origin: Arc::new(Origin {
                client_id: None,
                principal: None,
                source_ip: Some("10.1.2.3".parse().unwrap()),
                protocol,
                node: node.into(),
            }),
        }
    }

    const SEQ: Sequence = Sequence {
        incarnation: 0xdead_beef_0000_0001,
        seq: 300,
    };

    fn round_trip(messages: &[Message]) -> Batch {
        let refs: Vec<&Message> = messages.iter().collect();
        let e = encode("ferrite", "node-a", SEQ, &refs);
        assert_eq!(e.subject, topic_subject("ferrite", &messages[0].topic));
        assert!(
            e.payload.len() <= 32 + 6 + messages.iter().map(record_size).sum::<usize>(),
            "the size estimate is an upper bound"
        );
        let back = decode("ferrite", &e.subject, e.payload).unwrap();
        assert_eq!((&*back.node, back.seq), ("node-a", SEQ));
        assert_eq!(back.messages.len(), messages.len());
        for (back, msg) in back.messages.iter().zip(messages) {
            assert_eq!(back.topic, msg.topic);
            assert_eq!(back.payload, msg.payload);
            assert_eq!((back.qos, back.retain), (msg.qos, msg.retain));
            assert_eq!(back.properties, msg.properties);
            assert_eq!(back.received_at_ms, msg.received_at_ms);
            assert_eq!(back.expires_at_ms, msg.expires_at_ms);
            assert_eq!(back.origin, msg.origin);
        }
        back
    }

    #[test]
    fn every_field_of_every_message_in_a_batch_survives_the_round_trip() {
        let batch = round_trip(&[
            full_message(),
            minimal(Protocol::Mqtt(ProtocolVersion::V311), "node-a"),
            minimal(Protocol::Http, "node-a"),
            minimal(Protocol::Service("shadow"), "node-a"),
            minimal(Protocol::Service("odd name/é"), "node-a"),
            // Forwarded for another node (its will, say): the origin keeps its node.
            minimal(Protocol::Mqtt(ProtocolVersion::V5), "node-b"),
        ]);
        assert_eq!(&*batch.messages[5].origin.node, "node-b");
    }

    #[test]
    fn payloads_are_slices_of_the_received_body() {
        let msg = Message {
            payload: Bytes::from(vec![7u8; 1000]),
            ..full_message()
        };
        let e = encode("f", "node-a", SEQ, &[&msg]);
        let body = e.payload.clone();
        let back = decode("f", &e.subject, e.payload).unwrap();
        let p = &back.messages[0].payload;
        let range = body.as_ptr() as usize..body.as_ptr() as usize + body.len();
        assert!(range.contains(&(p.as_ptr() as usize)), "no copy");
    }

    #[test]
    fn bad_bodies_are_named_in_the_error() {
        let e = encode("f", "node-a", SEQ, &[&full_message()]);
        let body = e.payload.to_vec();
        let decode_body = |b: Vec<u8>| decode("f", &e.subject, Bytes::from(b)).map(|_| ());
        assert_eq!(
            decode("f", "g.m.t", e.payload.clone()).map(|_| ()),
            Err(EnvelopeError::Subject("g.m.t".into()))
        );
        let mut b = body.clone();
        b[0] = b'{';
        assert_eq!(decode_body(b), Err(EnvelopeError::Magic(b'{')));
        let mut b = body.clone();
        b[1] = 9;
        assert_eq!(decode_body(b), Err(EnvelopeError::Version(9)));
        for cut in 2..body.len() {
            assert!(
                decode_body(body[..cut].to_vec()).is_err(),
                "a body cut at {cut} of {} is refused",
                body.len()
            );
        }
        let mut b = body.clone();
        b.push(0);
        assert!(matches!(decode_body(b), Err(EnvelopeError::Invalid(_))));
        // A count no body could hold allocates nothing.
        let mut b = vec![MAGIC, VERSION, 1, b'n'];
        b.extend_from_slice(&[0; 8]);
        b.push(1);
        b.push(0);
        b.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        assert_eq!(decode_body(b), Err(EnvelopeError::Invalid("count")));
    }

    #[test]
    fn a_qos_of_three_is_refused() {
        let e = encode("f", "n", SEQ, &[&minimal(Protocol::Http, "n")]);
        let mut b = e.payload.to_vec();
        // magic, version, "n" (2), incarnation (8), seq 300 (2), batch flags (1), count (1):
        // the record's flags next.
        b[16] |= QOS_MASK;
        assert_eq!(
            decode("f", &e.subject, Bytes::from(b)).map(|_| ()),
            Err(EnvelopeError::Invalid("qos"))
        );
    }

    #[test]
    fn the_ack_flag_survives_and_a_version_1_batch_still_reads() {
        let msg = minimal(Protocol::Http, "n");
        let e = encode_with("f", "n", SEQ, true, &[&msg]);
        assert!(decode("f", &e.subject, e.payload).unwrap().ack_wanted);
        let e = encode("f", "n", SEQ, &[&msg]);
        assert!(
            !decode("f", &e.subject, e.payload.clone())
                .unwrap()
                .ack_wanted
        );
        // Version 1: the same body without the batch flags byte.
        let mut b = e.payload.to_vec();
        b[1] = VERSION_1;
        b.remove(14);
        let old = decode("f", &e.subject, Bytes::from(b)).unwrap();
        assert!(!old.ack_wanted);
        assert_eq!(old.messages[0].origin, msg.origin);
        // Unknown flags are refused.
        let mut b = e.payload.to_vec();
        b[14] = 0x80;
        assert_eq!(
            decode("f", &e.subject, Bytes::from(b)).map(|_| ()),
            Err(EnvelopeError::Invalid("batch flags"))
        );
    }
}
