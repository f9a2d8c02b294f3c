//! A routed message on the bus: the payload is the body, everything else travels in headers
//! (QoS, retain, receipt and expiry times, the end-to-end MQTT 5 properties, the whole
//! `Origin`, and `(node, incarnation, sequence)` for the receiver's duplicate filter). The
//! topic is the subject itself ([`crate::subject`] is injective and reversible).
//!
//! Header values are percent-encoded where they hold arbitrary text or bytes, so that no
//! value carries a line break, leading/trailing space or non-ASCII byte into NATS' wire format.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use ferrite_mqtt_codec::{Properties, ProtocolVersion, QoS};
use ferrite_types::{Message, Origin, Protocol};
use parking_lot::Mutex;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, percent_encode};

use crate::bus::Headers;
use crate::subject::{subject_topic, topic_subject};

pub const SEQ: &str = "Ferrite-Seq";
pub const NODE: &str = "Ferrite-Node";
pub const QOS: &str = "Ferrite-Qos";
pub const RETAIN: &str = "Ferrite-Retain";
pub const RECEIVED: &str = "Ferrite-Received";
pub const EXPIRES: &str = "Ferrite-Expires";
pub const CLIENT: &str = "Ferrite-Client";
pub const PRINCIPAL: &str = "Ferrite-Principal";
pub const SOURCE_IP: &str = "Ferrite-Source-Ip";
pub const PROTOCOL: &str = "Ferrite-Protocol";
pub const PAYLOAD_FORMAT: &str = "Ferrite-Payload-Format";
pub const CONTENT_TYPE: &str = "Ferrite-Content-Type";
pub const RESPONSE_TOPIC: &str = "Ferrite-Response-Topic";
pub const CORRELATION: &str = "Ferrite-Correlation";
pub const USER_PROPERTY: &str = "Ferrite-User-Property";

/// Non-ASCII and control bytes, space, `%` (the escape itself) and `=` (the user property
/// separator).
const ENCODE: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b'=');

/// Where a forwarded message stands in its node's stream: the receiving node keeps a small
/// window per `(node, incarnation)` and routes each message once, however many of its
/// subscriptions matched. The incarnation is new each time a node starts, so a restarted
/// node's sequence numbers are never mistaken for old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sequence {
    pub incarnation: u64,
    pub seq: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("subject {0:?} is not a message subject")]
    Subject(String),
    #[error("header {0} is missing")]
    Missing(&'static str),
    #[error("header {name} has an invalid value {value:?}")]
    Invalid { name: &'static str, value: String },
}

/// A routed message ready for the bus.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub subject: String,
    pub headers: Headers,
    pub payload: Bytes,
}

fn enc(bytes: &[u8]) -> String {
    percent_encode(bytes, ENCODE).to_string()
}

/// Encodes `msg` for the subjects below `prefix`.
pub fn encode(prefix: &str, msg: &Message, seq: Sequence) -> Encoded {
    let mut h = Headers::new();
    h.push(SEQ, format!("{:x}.{}", seq.incarnation, seq.seq));
    let o = &msg.origin;
    h.push(NODE, enc(o.node.as_bytes()));
    h.push(QOS, (msg.qos as u8).to_string());
    if msg.retain {
        h.push(RETAIN, "1");
    }
    h.push(RECEIVED, msg.received_at_ms.to_string());
    if let Some(t) = msg.expires_at_ms {
        h.push(EXPIRES, t.to_string());
    }
    if let Some(c) = &o.client_id {
        h.push(CLIENT, enc(c.as_bytes()));
    }
    if let Some(p) = &o.principal {
        h.push(PRINCIPAL, enc(p.as_bytes()));
    }
    if let Some(ip) = o.source_ip {
        h.push(SOURCE_IP, ip.to_string());
    }
    h.push(
        PROTOCOL,
        match o.protocol {
            Protocol::Mqtt(ProtocolVersion::V311) => "mqtt3".to_owned(),
            Protocol::Mqtt(ProtocolVersion::V5) => "mqtt5".to_owned(),
            Protocol::Http => "http".to_owned(),
            Protocol::Service(name) => format!("service/{}", enc(name.as_bytes())),
        },
    );
    let p = &msg.properties;
    if let Some(f) = p.payload_format_indicator {
        h.push(PAYLOAD_FORMAT, f.to_string());
    }
    if let Some(c) = &p.content_type {
        h.push(CONTENT_TYPE, enc(c.as_bytes()));
    }
    if let Some(r) = &p.response_topic {
        h.push(RESPONSE_TOPIC, enc(r.as_bytes()));
    }
    if let Some(c) = &p.correlation_data {
        h.push(CORRELATION, enc(c));
    }
    for (k, v) in &p.user_properties {
        h.push(
            USER_PROPERTY,
            format!("{}={}", enc(k.as_bytes()), enc(v.as_bytes())),
        );
    }
    Encoded {
        subject: topic_subject(prefix, &msg.topic),
        headers: h,
        payload: msg.payload.clone(),
    }
}

fn required<'a>(h: &'a Headers, name: &'static str) -> Result<&'a str, EnvelopeError> {
    h.get(name).ok_or(EnvelopeError::Missing(name))
}

fn invalid(name: &'static str, value: &str) -> EnvelopeError {
    EnvelopeError::Invalid {
        name,
        value: value.to_owned(),
    }
}

fn parse<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, EnvelopeError> {
    value.parse().map_err(|_| invalid(name, value))
}

fn text(name: &'static str, value: &str) -> Result<String, EnvelopeError> {
    percent_decode_str(value)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| invalid(name, value))
}

fn optional_text(h: &Headers, name: &'static str) -> Result<Option<String>, EnvelopeError> {
    h.get(name).map(|v| text(name, v)).transpose()
}

/// Decodes a message received on `subject` below `prefix`.
pub fn decode(
    prefix: &str,
    subject: &str,
    h: &Headers,
    payload: Bytes,
) -> Result<(Message, Sequence), EnvelopeError> {
    let topic =
        subject_topic(prefix, subject).ok_or_else(|| EnvelopeError::Subject(subject.into()))?;
    let seq_text = required(h, SEQ)?;
    let (incarnation, seq) = seq_text
        .split_once('.')
        .and_then(|(i, s)| Some((u64::from_str_radix(i, 16).ok()?, s.parse().ok()?)))
        .ok_or_else(|| invalid(SEQ, seq_text))?;
    let qos_text = required(h, QOS)?;
    let qos = qos_text
        .parse()
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| invalid(QOS, qos_text))?;
    let retain = match h.get(RETAIN) {
        None => false,
        Some("1") => true,
        Some(other) => return Err(invalid(RETAIN, other)),
    };
    let protocol_text = required(h, PROTOCOL)?;
    let protocol = match protocol_text {
        "mqtt3" => Protocol::Mqtt(ProtocolVersion::V311),
        "mqtt5" => Protocol::Mqtt(ProtocolVersion::V5),
        "http" => Protocol::Http,
        other => match other.strip_prefix("service/") {
            Some(name) => Protocol::Service(service_name(&text(PROTOCOL, name)?)),
            None => return Err(invalid(PROTOCOL, other)),
        },
    };
    let origin = Origin {
        client_id: optional_text(h, CLIENT)?.map(Arc::from),
        principal: optional_text(h, PRINCIPAL)?.map(Arc::from),
        source_ip: h
            .get(SOURCE_IP)
            .map(|v| parse::<IpAddr>(SOURCE_IP, v))
            .transpose()?,
        protocol,
        node: Arc::from(text(NODE, required(h, NODE)?)?),
    };
    let mut properties = Properties {
        payload_format_indicator: h
            .get(PAYLOAD_FORMAT)
            .map(|v| parse(PAYLOAD_FORMAT, v))
            .transpose()?,
        content_type: optional_text(h, CONTENT_TYPE)?,
        response_topic: optional_text(h, RESPONSE_TOPIC)?,
        correlation_data: h
            .get(CORRELATION)
            .map(|v| Bytes::from(percent_decode_str(v).collect::<Vec<u8>>())),
        ..Properties::default()
    };
    for pair in h.get_all(USER_PROPERTY) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| invalid(USER_PROPERTY, pair))?;
        properties
            .user_properties
            .push((text(USER_PROPERTY, k)?, text(USER_PROPERTY, v)?));
    }
    let msg = Message {
        topic: Arc::from(topic),
        payload,
        qos,
        retain,
        properties,
        received_at_ms: parse(RECEIVED, required(h, RECEIVED)?)?,
        expires_at_ms: h.get(EXPIRES).map(|v| parse(EXPIRES, v)).transpose()?,
        origin: Arc::new(origin),
    };
    Ok((msg, Sequence { incarnation, seq }))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(protocol: Protocol) -> Arc<Origin> {
        Arc::new(Origin {
            client_id: Some("dev 1\r\n%é".into()),
            principal: Some("cert=1".into()),
            source_ip: Some("::1".parse().unwrap()),
            protocol,
            node: "node-a".into(),
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
            origin: origin(Protocol::Mqtt(ProtocolVersion::V5)),
        }
    }

    fn assert_round_trip(msg: &Message) {
        let seq = Sequence {
            incarnation: 0xdead_beef,
            seq: 42,
        };
        let e = encode("ferrite", msg, seq);
        for (name, value) in e.headers.iter() {
            assert!(
                value.is_ascii() && !value.contains(['\r', '\n']),
                "{name}: {value:?}"
            );
            assert_eq!(value.trim(), value, "{name}");
        }
        let (back, back_seq) = decode("ferrite", &e.subject, &e.headers, e.payload).unwrap();
        assert_eq!(back_seq, seq);
        assert_eq!(back.topic, msg.topic);
        assert_eq!(back.payload, msg.payload);
        assert_eq!(back.qos, msg.qos);
        assert_eq!(back.retain, msg.retain);
        assert_eq!(back.properties, msg.properties);
        assert_eq!(back.received_at_ms, msg.received_at_ms);
        assert_eq!(back.expires_at_ms, msg.expires_at_ms);
        assert_eq!(back.origin, msg.origin);
    }

    #[test]
    fn every_field_survives_the_round_trip() {
        assert_round_trip(&full_message());
    }

    #[test]
    fn minimal_messages_and_every_protocol_survive_the_round_trip() {
        for protocol in [
            Protocol::Mqtt(ProtocolVersion::V311),
            Protocol::Http,
            Protocol::Service("shadow"),
            Protocol::Service("odd name/é"),
        ] {
            let msg = Message {
                topic: "t".into(),
                payload: Bytes::new(),
                qos: QoS::AtMostOnce,
                retain: false,
                properties: Properties::default(),
                received_at_ms: 0,
                expires_at_ms: None,
                origin: Arc::new(Origin {
                    client_id: None,
                    principal: None,
                    source_ip: None,
                    protocol,
                    node: "n".into(),
                }),
            };
            assert_round_trip(&msg);
        }
    }

    #[test]
    fn bad_headers_are_named_in_the_error() {
        let e = encode(
            "f",
            &full_message(),
            Sequence {
                incarnation: 1,
                seq: 1,
            },
        );
        let without = |name: &str| {
            let mut h = Headers::new();
            for (n, v) in e.headers.iter().filter(|(n, _)| *n != name) {
                h.push(n.to_owned(), v.to_owned());
            }
            h
        };
        let decode_with = |h: &Headers| decode("f", &e.subject, h, Bytes::new()).map(|_| ());
        assert_eq!(decode_with(&without(SEQ)), Err(EnvelopeError::Missing(SEQ)));
        let mut h = without(QOS);
        h.push(QOS, "3");
        assert_eq!(
            decode_with(&h),
            Err(EnvelopeError::Invalid {
                name: QOS,
                value: "3".into()
            })
        );
        let mut h = without(PROTOCOL);
        h.push(PROTOCOL, "smtp");
        assert!(matches!(
            decode_with(&h),
            Err(EnvelopeError::Invalid { name: PROTOCOL, .. })
        ));
        assert_eq!(
            decode("f", "g.m.t", &e.headers, Bytes::new()).map(|_| ()),
            Err(EnvelopeError::Subject("g.m.t".into()))
        );
    }
}
