//! Encoding packets for a peer of either protocol version. For a 3.1.1 peer, MQTT 5-only
//! content (properties, most reason codes) is dropped or mapped to the nearest 3.1.1 form.

use bytes::{BufMut, BytesMut};

use crate::MAX_REMAINING_LENGTH;
use crate::decode::{
    AUTH, CONNACK, CONNECT, DISCONNECT, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC,
    PUBREL, SUBACK, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE,
};
use crate::error::EncodeError;
use crate::packet::{
    ConnAck, Connect, Packet, ProtocolVersion, PubAck, Publish, QoS, ReasonCode, SubAck, Subscribe,
    SubscriptionOptions, UnsubAck, Unsubscribe,
};
use crate::properties::Properties;
use crate::properties_codec::{
    PropertyContext, encode_properties, property_block, put_property_block,
};
use crate::wire::{put_binary, put_string, put_varint};

/// Appends `packet`, encoded for a `protocol` peer, to `buf` and returns its size in bytes.
///
/// A CONNECT is encoded for its own `protocol` field, since that is what it announces. On error
/// nothing is appended.
pub fn encode(
    packet: &Packet,
    protocol: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<usize, EncodeError> {
    let v5 = protocol == ProtocolVersion::V5;
    let mut body = BytesMut::new();
    // The PUBLISH payload is copied straight into `buf` rather than through `body`.
    let mut payload: &[u8] = &[];
    let first = match packet {
        Packet::Connect(c) => {
            connect(c, &mut body)?;
            CONNECT << 4
        }
        Packet::ConnAck(c) => {
            connack(c, v5, &mut body)?;
            CONNACK << 4
        }
        Packet::Publish(p) => {
            payload = &p.payload;
            publish(p, v5, &mut body)?
        }
        Packet::PubAck(a) => pub_response(PUBACK << 4, a, v5, &mut body)?,
        Packet::PubRec(a) => pub_response(PUBREC << 4, a, v5, &mut body)?,
        // The 0b0010 flags are mandated by [MQTT-3.6.1-1].
        Packet::PubRel(a) => pub_response(PUBREL << 4 | 0b0010, a, v5, &mut body)?,
        Packet::PubComp(a) => pub_response(PUBCOMP << 4, a, v5, &mut body)?,
        Packet::Subscribe(s) => {
            subscribe(s, v5, &mut body)?;
            SUBSCRIBE << 4 | 0b0010
        }
        Packet::SubAck(s) => {
            suback(s, v5, &mut body)?;
            SUBACK << 4
        }
        Packet::Unsubscribe(u) => {
            unsubscribe(u, v5, &mut body)?;
            UNSUBSCRIBE << 4 | 0b0010
        }
        Packet::UnsubAck(u) => {
            unsuback(u, v5, &mut body)?;
            UNSUBACK << 4
        }
        Packet::PingReq => PINGREQ << 4,
        Packet::PingResp => PINGRESP << 4,
        Packet::Disconnect(d) => {
            if v5 {
                optional_reason(
                    d.reason,
                    &d.properties,
                    PropertyContext::Disconnect,
                    &mut body,
                )?;
            }
            DISCONNECT << 4
        }
        Packet::Auth(a) => {
            if !v5 {
                return Err(EncodeError::NotInV311("auth"));
            }
            optional_reason(a.reason, &a.properties, PropertyContext::Auth, &mut body)?;
            AUTH << 4
        }
    };
    let remaining = body.len() + payload.len();
    if remaining > MAX_REMAINING_LENGTH {
        return Err(EncodeError::PacketTooLarge(remaining));
    }
    let start = buf.len();
    buf.reserve(5 + remaining);
    buf.put_u8(first);
    // Cannot fail: `remaining` was bounded above.
    put_varint(buf, remaining as u32)?;
    buf.extend_from_slice(&body);
    buf.extend_from_slice(payload);
    Ok(buf.len() - start)
}

fn connect(c: &Connect, body: &mut BytesMut) -> Result<(), EncodeError> {
    let v5 = c.protocol == ProtocolVersion::V5;
    if !v5 && c.password.is_some() && c.username.is_none() {
        return Err(EncodeError::PasswordWithoutUsername);
    }
    put_string(body, "MQTT")?;
    body.put_u8(if v5 { 5 } else { 4 });
    let mut flags = 0u8;
    if c.username.is_some() {
        flags |= 0x80;
    }
    if c.password.is_some() {
        flags |= 0x40;
    }
    if let Some(will) = &c.will {
        flags |= 0x04 | (will.qos as u8) << 3;
        if will.retain {
            flags |= 0x20;
        }
    }
    if c.clean_start {
        flags |= 0x02;
    }
    body.put_u8(flags);
    body.put_u16(c.keep_alive);
    if v5 {
        encode_properties(&c.properties, PropertyContext::Connect, body)?;
    }
    put_string(body, &c.client_id)?;
    if let Some(will) = &c.will {
        if v5 {
            encode_properties(&will.properties, PropertyContext::Will, body)?;
        }
        put_string(body, &will.topic)?;
        put_binary(body, &will.payload)?;
    }
    if let Some(username) = &c.username {
        put_string(body, username)?;
    }
    if let Some(password) = &c.password {
        put_binary(body, password)?;
    }
    Ok(())
}

fn connack(c: &ConnAck, v5: bool, body: &mut BytesMut) -> Result<(), EncodeError> {
    // A refused connection never has a session [MQTT-3.2.2-6], whatever the caller set.
    let session_present = c.session_present && c.reason == ReasonCode::Success;
    body.put_u8(u8::from(session_present));
    if v5 {
        body.put_u8(c.reason as u8);
        encode_properties(&c.properties, PropertyContext::ConnAck, body)?;
    } else {
        body.put_u8(c.reason.to_v311_connack());
    }
    Ok(())
}

fn publish(p: &Publish, v5: bool, body: &mut BytesMut) -> Result<u8, EncodeError> {
    let mut first = PUBLISH << 4 | (p.qos as u8) << 1;
    // DUP only means something for a QoS > 0 resend; it must be 0 for QoS 0 [MQTT-3.3.1-2].
    if p.dup && p.qos != QoS::AtMostOnce {
        first |= 0b1000;
    }
    if p.retain {
        first |= 0b0001;
    }
    put_string(body, &p.topic)?;
    match (p.qos, p.packet_id) {
        (QoS::AtMostOnce, None) => {}
        (QoS::AtLeastOnce | QoS::ExactlyOnce, Some(id)) => body.put_u16(id.get()),
        _ => return Err(EncodeError::PacketIdMismatch),
    }
    if v5 {
        encode_properties(&p.properties, PropertyContext::Publish, body)?;
    }
    Ok(first)
}

fn pub_response(first: u8, a: &PubAck, v5: bool, body: &mut BytesMut) -> Result<u8, EncodeError> {
    body.put_u16(a.packet_id.get());
    if v5 {
        optional_reason(a.reason, &a.properties, PropertyContext::PubResponse, body)?;
    }
    Ok(first)
}

/// The reason code and property block that MQTT 5 lets a packet leave off when they are
/// Success and empty; leaving them off saves bytes on the most common acknowledgements.
fn optional_reason(
    reason: ReasonCode,
    properties: &Properties,
    ctx: PropertyContext,
    body: &mut BytesMut,
) -> Result<(), EncodeError> {
    let block = property_block(properties, ctx)?;
    if reason == ReasonCode::Success && block.is_empty() {
        return Ok(());
    }
    body.put_u8(reason as u8);
    if !block.is_empty() {
        put_property_block(body, &block)?;
    }
    Ok(())
}

fn subscribe(s: &Subscribe, v5: bool, body: &mut BytesMut) -> Result<(), EncodeError> {
    if s.filters.is_empty() {
        return Err(EncodeError::EmptySubscribe);
    }
    body.put_u16(s.packet_id.get());
    if v5 {
        encode_properties(&s.properties, PropertyContext::Subscribe, body)?;
    }
    for (filter, options) in &s.filters {
        put_string(body, filter)?;
        body.put_u8(options_byte(options, v5));
    }
    Ok(())
}

fn options_byte(o: &SubscriptionOptions, v5: bool) -> u8 {
    let mut byte = o.qos as u8;
    if v5 {
        byte |= (o.retain_handling as u8) << 4;
        if o.no_local {
            byte |= 0b0100;
        }
        if o.retain_as_published {
            byte |= 0b1000;
        }
    }
    byte
}

fn suback(s: &SubAck, v5: bool, body: &mut BytesMut) -> Result<(), EncodeError> {
    body.put_u16(s.packet_id.get());
    if v5 {
        encode_properties(&s.properties, PropertyContext::SubAck, body)?;
        body.extend(s.reasons.iter().map(|&r| r as u8));
    } else {
        body.extend(s.reasons.iter().map(|r| r.to_v311_suback()));
    }
    Ok(())
}

fn unsubscribe(u: &Unsubscribe, v5: bool, body: &mut BytesMut) -> Result<(), EncodeError> {
    if u.filters.is_empty() {
        return Err(EncodeError::EmptyUnsubscribe);
    }
    body.put_u16(u.packet_id.get());
    if v5 {
        encode_properties(&u.properties, PropertyContext::Unsubscribe, body)?;
    }
    for filter in &u.filters {
        put_string(body, filter)?;
    }
    Ok(())
}

fn unsuback(u: &UnsubAck, v5: bool, body: &mut BytesMut) -> Result<(), EncodeError> {
    body.put_u16(u.packet_id.get());
    if v5 {
        encode_properties(&u.properties, PropertyContext::UnsubAck, body)?;
        body.extend(u.reasons.iter().map(|&r| r as u8));
    }
    Ok(())
}
