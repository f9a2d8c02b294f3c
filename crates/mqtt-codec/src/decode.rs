//! Incremental decoding: takes one complete packet off the front of a buffer, validating every
//! rule of the 3.1.1 and 5.0 specs that concerns a single packet.

use bytes::{Buf, BytesMut};

use crate::error::DecodeError;
use crate::packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, ProtocolVersion, PubAck, Publish, QoS, ReasonCode,
    RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};
use crate::properties::Properties;
use crate::properties_codec::{PropertyContext, decode_properties};
use crate::reason::{ReasonContext, allowed_in};
use crate::wire::{Reader, VarInt, parse_varint};

pub(crate) const CONNECT: u8 = 1;
pub(crate) const CONNACK: u8 = 2;
pub(crate) const PUBLISH: u8 = 3;
pub(crate) const PUBACK: u8 = 4;
pub(crate) const PUBREC: u8 = 5;
pub(crate) const PUBREL: u8 = 6;
pub(crate) const PUBCOMP: u8 = 7;
pub(crate) const SUBSCRIBE: u8 = 8;
pub(crate) const SUBACK: u8 = 9;
pub(crate) const UNSUBSCRIBE: u8 = 10;
pub(crate) const UNSUBACK: u8 = 11;
pub(crate) const PINGREQ: u8 = 12;
pub(crate) const PINGRESP: u8 = 13;
pub(crate) const DISCONNECT: u8 = 14;
pub(crate) const AUTH: u8 = 15;

/// Decodes one packet from the front of `buf`.
///
/// Returns `Ok(None)`, leaving `buf` untouched, while the packet is incomplete. Once the fixed
/// header is readable its total size is checked against `max_packet_size`, so an oversized
/// packet is refused before its body is buffered. A complete packet is split off `buf`; binary
/// fields and the PUBLISH payload are slices of that split, not copies.
///
/// CONNECT carries its own protocol level, so `protocol` applies to every other packet type.
/// After an error the connection must be closed: `buf` may or may not still hold the packet.
pub fn decode(
    buf: &mut BytesMut,
    protocol: ProtocolVersion,
    max_packet_size: usize,
) -> Result<Option<Packet>, DecodeError> {
    let Some((&first, rest)) = buf.split_first() else {
        return Ok(None);
    };
    let packet_type = first >> 4;
    let flags = first & 0x0F;
    check_fixed_header(packet_type, flags, protocol)?;
    let (remaining, header_len) = match parse_varint(rest) {
        VarInt::Complete { value, len } => (value as usize, 1 + len),
        VarInt::Incomplete => return Ok(None),
        VarInt::Malformed => return Err(DecodeError::MalformedRemainingLength),
    };
    let size = header_len + remaining;
    if size > max_packet_size {
        return Err(DecodeError::PacketTooLarge {
            size,
            max: max_packet_size,
        });
    }
    if buf.len() < size {
        return Ok(None);
    }
    let mut body = buf.split_to(size).freeze();
    body.advance(header_len);
    decode_body(packet_type, flags, Reader::new(body), protocol).map(Some)
}

fn check_fixed_header(
    packet_type: u8,
    flags: u8,
    protocol: ProtocolVersion,
) -> Result<(), DecodeError> {
    let expected = match packet_type {
        PUBLISH => {
            let qos = (flags >> 1) & 0b11;
            if qos == 3 {
                return Err(DecodeError::InvalidQoS);
            }
            if qos == 0 && flags & 0b1000 != 0 {
                return Err(DecodeError::DupWithQoS0);
            }
            return Ok(());
        }
        PUBREL | SUBSCRIBE | UNSUBSCRIBE => 0b0010,
        AUTH if protocol == ProtocolVersion::V311 => {
            return Err(DecodeError::InvalidPacketType(packet_type));
        }
        CONNECT..=AUTH => 0,
        _ => return Err(DecodeError::InvalidPacketType(packet_type)),
    };
    if flags != expected {
        return Err(DecodeError::InvalidFixedHeaderFlags { packet_type, flags });
    }
    Ok(())
}

fn decode_body(
    packet_type: u8,
    flags: u8,
    mut r: Reader,
    protocol: ProtocolVersion,
) -> Result<Packet, DecodeError> {
    let r = &mut r;
    let v5 = protocol == ProtocolVersion::V5;
    let packet = match packet_type {
        CONNECT => Packet::Connect(connect(r)?),
        CONNACK => Packet::ConnAck(connack(r, v5)?),
        PUBLISH => Packet::Publish(publish(r, flags, v5)?),
        PUBACK => Packet::PubAck(pub_response(r, v5, ReasonContext::PubAckOrRec)?),
        PUBREC => Packet::PubRec(pub_response(r, v5, ReasonContext::PubAckOrRec)?),
        PUBREL => Packet::PubRel(pub_response(r, v5, ReasonContext::PubRelOrComp)?),
        PUBCOMP => Packet::PubComp(pub_response(r, v5, ReasonContext::PubRelOrComp)?),
        SUBSCRIBE => Packet::Subscribe(subscribe(r, v5)?),
        SUBACK => Packet::SubAck(suback(r, v5)?),
        UNSUBSCRIBE => Packet::Unsubscribe(unsubscribe(r, v5)?),
        UNSUBACK => Packet::UnsubAck(unsuback(r, v5)?),
        PINGREQ => Packet::PingReq,
        PINGRESP => Packet::PingResp,
        DISCONNECT => {
            let (reason, properties) = optional_reason(
                r,
                v5,
                ReasonContext::Disconnect,
                PropertyContext::Disconnect,
            )?;
            Packet::Disconnect(Disconnect { reason, properties })
        }
        AUTH => {
            let (reason, properties) =
                optional_reason(r, v5, ReasonContext::Auth, PropertyContext::Auth)?;
            Packet::Auth(Auth { reason, properties })
        }
        _ => return Err(DecodeError::InvalidPacketType(packet_type)),
    };
    r.finish()?;
    Ok(packet)
}

fn properties_if_v5(
    r: &mut Reader,
    v5: bool,
    ctx: PropertyContext,
) -> Result<Properties, DecodeError> {
    if v5 {
        decode_properties(r, ctx)
    } else {
        Ok(Properties::default())
    }
}

fn reason(r: &mut Reader, ctx: ReasonContext) -> Result<ReasonCode, DecodeError> {
    let byte = r.u8()?;
    ReasonCode::from_u8(byte)
        .filter(|&code| allowed_in(ctx, code))
        .ok_or(DecodeError::InvalidReasonCode(byte))
}

/// A topic name in PUBLISH or a will: never a wildcard [MQTT-3.3.2-2]. Emptiness is checked by
/// the caller because a PUBLISH with a topic alias may leave it empty.
fn topic_name(r: &mut Reader) -> Result<String, DecodeError> {
    let topic = r.string()?;
    if topic.contains(['+', '#']) {
        return Err(DecodeError::WildcardInTopicName);
    }
    Ok(topic)
}

fn connect(r: &mut Reader) -> Result<Connect, DecodeError> {
    // Read as raw bytes: a name that is not UTF-8 is still just the wrong protocol name.
    let name = r.binary()?;
    let level = r.u8()?;
    let protocol = match (&name[..], level) {
        (b"MQTT", 4) => ProtocolVersion::V311,
        (b"MQTT", 5) => ProtocolVersion::V5,
        (b"MQTT" | b"MQIsdp", level) => return Err(DecodeError::UnsupportedProtocolVersion(level)),
        _ => return Err(DecodeError::InvalidProtocolName),
    };
    let v5 = protocol == ProtocolVersion::V5;

    let flags = r.u8()?;
    if flags & 0x01 != 0 {
        return Err(DecodeError::ReservedFlagSet);
    }
    let clean_start = flags & 0x02 != 0;
    let will_flag = flags & 0x04 != 0;
    let will_qos = QoS::from_u8((flags >> 3) & 0b11).ok_or(DecodeError::InvalidQoS)?;
    let will_retain = flags & 0x20 != 0;
    let has_password = flags & 0x40 != 0;
    let has_username = flags & 0x80 != 0;
    if !will_flag && (will_qos != QoS::AtMostOnce || will_retain) {
        return Err(DecodeError::InvalidWillFlags);
    }
    if !v5 && has_password && !has_username {
        return Err(DecodeError::PasswordWithoutUsername);
    }

    let keep_alive = r.u16()?;
    let connect_properties = properties_if_v5(r, v5, PropertyContext::Connect)?;
    let client_id = r.string()?;
    let will = if will_flag {
        let properties = properties_if_v5(r, v5, PropertyContext::Will)?;
        let topic = topic_name(r)?;
        if topic.is_empty() {
            return Err(DecodeError::MissingTopicName);
        }
        let payload = r.binary()?;
        Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
            properties,
        })
    } else {
        None
    };
    let username = if has_username {
        Some(r.string()?)
    } else {
        None
    };
    let password = if has_password {
        Some(r.binary()?)
    } else {
        None
    };
    Ok(Connect {
        protocol,
        clean_start,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties: connect_properties,
    })
}

fn connack(r: &mut Reader, v5: bool) -> Result<ConnAck, DecodeError> {
    let ack_flags = r.u8()?;
    if ack_flags & 0xFE != 0 {
        return Err(DecodeError::ReservedFlagSet);
    }
    let session_present = ack_flags & 0x01 != 0;
    let reason = if v5 {
        reason(r, ReasonContext::ConnAck)?
    } else {
        let code = r.u8()?;
        ReasonCode::from_v311_connack(code).ok_or(DecodeError::InvalidReasonCode(code))?
    };
    // [MQTT-3.2.2-4] (3.1.1) and [MQTT-3.2.2-6] (5.0).
    if session_present && reason != ReasonCode::Success {
        return Err(DecodeError::InvalidSessionPresent);
    }
    let properties = properties_if_v5(r, v5, PropertyContext::ConnAck)?;
    Ok(ConnAck {
        session_present,
        reason,
        properties,
    })
}

fn publish(r: &mut Reader, flags: u8, v5: bool) -> Result<Publish, DecodeError> {
    let dup = flags & 0b1000 != 0;
    let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?;
    let retain = flags & 0b0001 != 0;
    let topic = topic_name(r)?;
    let packet_id = match qos {
        QoS::AtMostOnce => None,
        QoS::AtLeastOnce | QoS::ExactlyOnce => Some(r.packet_id()?),
    };
    let properties = properties_if_v5(r, v5, PropertyContext::Publish)?;
    if topic.is_empty() && properties.topic_alias.is_none() {
        return Err(DecodeError::MissingTopicName);
    }
    Ok(Publish {
        dup,
        qos,
        retain,
        topic,
        packet_id,
        payload: r.rest(),
        properties,
    })
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP. In MQTT 5 the reason code and the property block may each
/// be left off the end, meaning Success and no properties (spec 3.4.2.1).
fn pub_response(r: &mut Reader, v5: bool, ctx: ReasonContext) -> Result<PubAck, DecodeError> {
    let packet_id = r.packet_id()?;
    let (reason, properties) = optional_reason(r, v5, ctx, PropertyContext::PubResponse)?;
    Ok(PubAck {
        packet_id,
        reason,
        properties,
    })
}

/// A trailing reason code and property block, each optional in MQTT 5 and absent in 3.1.1.
fn optional_reason(
    r: &mut Reader,
    v5: bool,
    reason_ctx: ReasonContext,
    property_ctx: PropertyContext,
) -> Result<(ReasonCode, Properties), DecodeError> {
    if !v5 || r.is_empty() {
        return Ok((ReasonCode::Success, Properties::default()));
    }
    let code = reason(r, reason_ctx)?;
    let properties = if r.is_empty() {
        Properties::default()
    } else {
        decode_properties(r, property_ctx)?
    };
    Ok((code, properties))
}

fn subscribe(r: &mut Reader, v5: bool) -> Result<Subscribe, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = properties_if_v5(r, v5, PropertyContext::Subscribe)?;
    let mut filters = Vec::new();
    while !r.is_empty() {
        let filter = r.string()?;
        let options = subscription_options(r.u8()?, v5)?;
        if options.no_local && filter.starts_with("$share/") {
            return Err(DecodeError::NoLocalOnSharedSubscription);
        }
        filters.push((filter, options));
    }
    if filters.is_empty() {
        return Err(DecodeError::EmptySubscribe);
    }
    Ok(Subscribe {
        packet_id,
        filters,
        properties,
    })
}

fn subscription_options(byte: u8, v5: bool) -> Result<SubscriptionOptions, DecodeError> {
    let reserved = if v5 { 0b1100_0000 } else { 0b1111_1100 };
    if byte & reserved != 0 {
        return Err(DecodeError::ReservedFlagSet);
    }
    let qos = QoS::from_u8(byte & 0b11).ok_or(DecodeError::InvalidQoS)?;
    let retain_handling = match (byte >> 4) & 0b11 {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendAtSubscribeIfNew,
        2 => RetainHandling::DoNotSend,
        _ => return Err(DecodeError::InvalidRetainHandling),
    };
    Ok(SubscriptionOptions {
        qos,
        no_local: byte & 0b0100 != 0,
        retain_as_published: byte & 0b1000 != 0,
        retain_handling,
    })
}

fn suback(r: &mut Reader, v5: bool) -> Result<SubAck, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = properties_if_v5(r, v5, PropertyContext::SubAck)?;
    let mut reasons = Vec::with_capacity(r.remaining());
    while !r.is_empty() {
        let code = if v5 {
            reason(r, ReasonContext::SubAck)?
        } else {
            let byte = r.u8()?;
            ReasonCode::from_v311_suback(byte).ok_or(DecodeError::InvalidReasonCode(byte))?
        };
        reasons.push(code);
    }
    Ok(SubAck {
        packet_id,
        reasons,
        properties,
    })
}

fn unsubscribe(r: &mut Reader, v5: bool) -> Result<Unsubscribe, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = properties_if_v5(r, v5, PropertyContext::Unsubscribe)?;
    let mut filters = Vec::new();
    while !r.is_empty() {
        filters.push(r.string()?);
    }
    if filters.is_empty() {
        return Err(DecodeError::EmptyUnsubscribe);
    }
    Ok(Unsubscribe {
        packet_id,
        filters,
        properties,
    })
}

fn unsuback(r: &mut Reader, v5: bool) -> Result<UnsubAck, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = properties_if_v5(r, v5, PropertyContext::UnsubAck)?;
    let mut reasons = Vec::new();
    // 3.1.1 UNSUBACK has no payload, so `decode_body`'s trailing check rejects any bytes here.
    while v5 && !r.is_empty() {
        reasons.push(reason(r, ReasonContext::UnsubAck)?);
    }
    Ok(UnsubAck {
        packet_id,
        reasons,
        properties,
    })
}
