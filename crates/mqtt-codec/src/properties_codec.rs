//! Reading and writing MQTT 5 property blocks (spec 2.2.2), checked against the packet type the
//! block appears in.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::properties::Properties;
use crate::wire::{Reader, put_binary, put_string, put_varint};

pub(crate) const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
pub(crate) const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
pub(crate) const CONTENT_TYPE: u8 = 0x03;
pub(crate) const RESPONSE_TOPIC: u8 = 0x08;
pub(crate) const CORRELATION_DATA: u8 = 0x09;
pub(crate) const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
pub(crate) const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
pub(crate) const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
pub(crate) const SERVER_KEEP_ALIVE: u8 = 0x13;
pub(crate) const AUTHENTICATION_METHOD: u8 = 0x15;
pub(crate) const AUTHENTICATION_DATA: u8 = 0x16;
pub(crate) const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
pub(crate) const WILL_DELAY_INTERVAL: u8 = 0x18;
pub(crate) const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
pub(crate) const RESPONSE_INFORMATION: u8 = 0x1A;
pub(crate) const SERVER_REFERENCE: u8 = 0x1C;
pub(crate) const REASON_STRING: u8 = 0x1F;
pub(crate) const RECEIVE_MAXIMUM: u8 = 0x21;
pub(crate) const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
pub(crate) const TOPIC_ALIAS: u8 = 0x23;
pub(crate) const MAXIMUM_QOS: u8 = 0x24;
pub(crate) const RETAIN_AVAILABLE: u8 = 0x25;
pub(crate) const USER_PROPERTY: u8 = 0x26;
pub(crate) const MAXIMUM_PACKET_SIZE: u8 = 0x27;
pub(crate) const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
pub(crate) const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
pub(crate) const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;

const KNOWN: u64 = mask(&[
    PAYLOAD_FORMAT_INDICATOR,
    MESSAGE_EXPIRY_INTERVAL,
    CONTENT_TYPE,
    RESPONSE_TOPIC,
    CORRELATION_DATA,
    SUBSCRIPTION_IDENTIFIER,
    SESSION_EXPIRY_INTERVAL,
    ASSIGNED_CLIENT_IDENTIFIER,
    SERVER_KEEP_ALIVE,
    AUTHENTICATION_METHOD,
    AUTHENTICATION_DATA,
    REQUEST_PROBLEM_INFORMATION,
    WILL_DELAY_INTERVAL,
    REQUEST_RESPONSE_INFORMATION,
    RESPONSE_INFORMATION,
    SERVER_REFERENCE,
    REASON_STRING,
    RECEIVE_MAXIMUM,
    TOPIC_ALIAS_MAXIMUM,
    TOPIC_ALIAS,
    MAXIMUM_QOS,
    RETAIN_AVAILABLE,
    USER_PROPERTY,
    MAXIMUM_PACKET_SIZE,
    WILDCARD_SUBSCRIPTION_AVAILABLE,
    SUBSCRIPTION_IDENTIFIER_AVAILABLE,
    SHARED_SUBSCRIPTION_AVAILABLE,
]);

const fn mask(ids: &[u8]) -> u64 {
    let mut m = 0u64;
    let mut i = 0;
    while i < ids.len() {
        m |= 1 << ids[i];
        i += 1;
    }
    m
}

/// Where a property block sits; each place allows its own set of properties (spec 2.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PropertyContext {
    Connect,
    Will,
    ConnAck,
    Publish,
    /// PUBACK, PUBREC, PUBREL and PUBCOMP.
    PubResponse,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

impl PropertyContext {
    fn name(self) -> &'static str {
        match self {
            PropertyContext::Connect => "connect",
            PropertyContext::Will => "will properties",
            PropertyContext::ConnAck => "connack",
            PropertyContext::Publish => "publish",
            PropertyContext::PubResponse => "publish acknowledgement",
            PropertyContext::Subscribe => "subscribe",
            PropertyContext::SubAck => "suback",
            PropertyContext::Unsubscribe => "unsubscribe",
            PropertyContext::UnsubAck => "unsuback",
            PropertyContext::Disconnect => "disconnect",
            PropertyContext::Auth => "auth",
        }
    }

    fn allowed(self) -> u64 {
        match self {
            PropertyContext::Connect => mask(&[
                SESSION_EXPIRY_INTERVAL,
                AUTHENTICATION_METHOD,
                AUTHENTICATION_DATA,
                REQUEST_PROBLEM_INFORMATION,
                REQUEST_RESPONSE_INFORMATION,
                RECEIVE_MAXIMUM,
                TOPIC_ALIAS_MAXIMUM,
                USER_PROPERTY,
                MAXIMUM_PACKET_SIZE,
            ]),
            PropertyContext::Will => mask(&[
                PAYLOAD_FORMAT_INDICATOR,
                MESSAGE_EXPIRY_INTERVAL,
                CONTENT_TYPE,
                RESPONSE_TOPIC,
                CORRELATION_DATA,
                WILL_DELAY_INTERVAL,
                USER_PROPERTY,
            ]),
            PropertyContext::ConnAck => mask(&[
                SESSION_EXPIRY_INTERVAL,
                ASSIGNED_CLIENT_IDENTIFIER,
                SERVER_KEEP_ALIVE,
                AUTHENTICATION_METHOD,
                AUTHENTICATION_DATA,
                RESPONSE_INFORMATION,
                SERVER_REFERENCE,
                REASON_STRING,
                RECEIVE_MAXIMUM,
                TOPIC_ALIAS_MAXIMUM,
                MAXIMUM_QOS,
                RETAIN_AVAILABLE,
                USER_PROPERTY,
                MAXIMUM_PACKET_SIZE,
                WILDCARD_SUBSCRIPTION_AVAILABLE,
                SUBSCRIPTION_IDENTIFIER_AVAILABLE,
                SHARED_SUBSCRIPTION_AVAILABLE,
            ]),
            PropertyContext::Publish => mask(&[
                PAYLOAD_FORMAT_INDICATOR,
                MESSAGE_EXPIRY_INTERVAL,
                CONTENT_TYPE,
                RESPONSE_TOPIC,
                CORRELATION_DATA,
                SUBSCRIPTION_IDENTIFIER,
                TOPIC_ALIAS,
                USER_PROPERTY,
            ]),
            PropertyContext::PubResponse | PropertyContext::SubAck | PropertyContext::UnsubAck => {
                mask(&[REASON_STRING, USER_PROPERTY])
            }
            PropertyContext::Subscribe => mask(&[SUBSCRIPTION_IDENTIFIER, USER_PROPERTY]),
            PropertyContext::Unsubscribe => mask(&[USER_PROPERTY]),
            PropertyContext::Disconnect => mask(&[
                SESSION_EXPIRY_INTERVAL,
                SERVER_REFERENCE,
                REASON_STRING,
                USER_PROPERTY,
            ]),
            PropertyContext::Auth => mask(&[
                AUTHENTICATION_METHOD,
                AUTHENTICATION_DATA,
                REASON_STRING,
                USER_PROPERTY,
            ]),
        }
    }

    fn allows(self, id: u8) -> bool {
        id < 64 && self.allowed() & (1 << id) != 0
    }

    /// Whether `id` may repeat: user properties anywhere, subscription identifiers only in
    /// PUBLISH (one per matching subscription).
    fn repeatable(self, id: u8) -> bool {
        id == USER_PROPERTY || (id == SUBSCRIPTION_IDENTIFIER && self == PropertyContext::Publish)
    }
}

fn is_known(id: u8) -> bool {
    id < 64 && KNOWN & (1 << id) != 0
}

/// Reads a property block: its variable byte integer length, then the properties.
pub(crate) fn decode_properties(
    r: &mut Reader,
    ctx: PropertyContext,
) -> Result<Properties, DecodeError> {
    let len = r.varint()?;
    let mut r = r.sub(len as usize)?;
    let mut props = Properties::default();
    let mut seen = 0u64;
    while !r.is_empty() {
        // Property identifiers are variable byte integers, but every defined one fits in one
        // byte, so a byte with the continuation bit set can only start an unknown identifier.
        let id = r.u8()?;
        if !is_known(id) {
            return Err(DecodeError::UnknownProperty(id));
        }
        if !ctx.allows(id) {
            return Err(DecodeError::PropertyNotAllowed {
                id,
                packet: ctx.name(),
            });
        }
        let bit = 1u64 << id;
        if seen & bit != 0 && !ctx.repeatable(id) {
            return Err(DecodeError::DuplicateProperty(id));
        }
        seen |= bit;
        read_property(&mut r, id, &mut props)?;
    }
    if props.authentication_data.is_some() && props.authentication_method.is_none() {
        return Err(DecodeError::AuthDataWithoutMethod);
    }
    Ok(props)
}

fn flag(r: &mut Reader, id: u8) -> Result<u8, DecodeError> {
    match r.u8()? {
        v @ (0 | 1) => Ok(v),
        _ => Err(DecodeError::InvalidPropertyValue(id)),
    }
}

fn nonzero_u16(r: &mut Reader, id: u8) -> Result<u16, DecodeError> {
    match r.u16()? {
        0 => Err(DecodeError::InvalidPropertyValue(id)),
        v => Ok(v),
    }
}

fn read_property(r: &mut Reader, id: u8, p: &mut Properties) -> Result<(), DecodeError> {
    match id {
        PAYLOAD_FORMAT_INDICATOR => p.payload_format_indicator = Some(flag(r, id)?),
        MESSAGE_EXPIRY_INTERVAL => p.message_expiry_interval = Some(r.u32()?),
        CONTENT_TYPE => p.content_type = Some(r.string()?),
        RESPONSE_TOPIC => {
            let topic = r.string()?;
            // [MQTT-3.3.2-14]: the response topic is a topic name, so no wildcards.
            if topic.is_empty() || topic.contains(['+', '#']) {
                return Err(DecodeError::InvalidPropertyValue(id));
            }
            p.response_topic = Some(topic);
        }
        CORRELATION_DATA => p.correlation_data = Some(r.binary()?),
        SUBSCRIPTION_IDENTIFIER => match r.varint()? {
            0 => return Err(DecodeError::InvalidPropertyValue(id)),
            v => p.subscription_identifiers.push(v),
        },
        SESSION_EXPIRY_INTERVAL => p.session_expiry_interval = Some(r.u32()?),
        ASSIGNED_CLIENT_IDENTIFIER => p.assigned_client_identifier = Some(r.string()?),
        SERVER_KEEP_ALIVE => p.server_keep_alive = Some(r.u16()?),
        AUTHENTICATION_METHOD => p.authentication_method = Some(r.string()?),
        AUTHENTICATION_DATA => p.authentication_data = Some(r.binary()?),
        REQUEST_PROBLEM_INFORMATION => p.request_problem_information = Some(flag(r, id)?),
        WILL_DELAY_INTERVAL => p.will_delay_interval = Some(r.u32()?),
        REQUEST_RESPONSE_INFORMATION => p.request_response_information = Some(flag(r, id)?),
        RESPONSE_INFORMATION => p.response_information = Some(r.string()?),
        SERVER_REFERENCE => p.server_reference = Some(r.string()?),
        REASON_STRING => p.reason_string = Some(r.string()?),
        RECEIVE_MAXIMUM => p.receive_maximum = Some(nonzero_u16(r, id)?),
        TOPIC_ALIAS_MAXIMUM => p.topic_alias_maximum = Some(r.u16()?),
        TOPIC_ALIAS => p.topic_alias = Some(nonzero_u16(r, id)?),
        MAXIMUM_QOS => p.maximum_qos = Some(flag(r, id)?),
        RETAIN_AVAILABLE => p.retain_available = Some(flag(r, id)?),
        USER_PROPERTY => {
            let key = r.string()?;
            let value = r.string()?;
            p.user_properties.push((key, value));
        }
        MAXIMUM_PACKET_SIZE => match r.u32()? {
            0 => return Err(DecodeError::InvalidPropertyValue(id)),
            v => p.maximum_packet_size = Some(v),
        },
        WILDCARD_SUBSCRIPTION_AVAILABLE => p.wildcard_subscription_available = Some(flag(r, id)?),
        SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
            p.subscription_identifier_available = Some(flag(r, id)?)
        }
        SHARED_SUBSCRIPTION_AVAILABLE => p.shared_subscription_available = Some(flag(r, id)?),
        _ => return Err(DecodeError::UnknownProperty(id)),
    }
    Ok(())
}

/// Encodes every set property that `ctx` allows, without the length prefix. Properties the
/// context does not allow are left out rather than rejected, so one `Properties` value can be
/// reused across packet types.
pub(crate) fn property_block(
    p: &Properties,
    ctx: PropertyContext,
) -> Result<BytesMut, EncodeError> {
    let mut w = PropWriter {
        ctx,
        out: BytesMut::new(),
    };
    w.byte(PAYLOAD_FORMAT_INDICATOR, p.payload_format_indicator);
    w.u32(MESSAGE_EXPIRY_INTERVAL, p.message_expiry_interval);
    w.string(CONTENT_TYPE, p.content_type.as_deref())?;
    w.string(RESPONSE_TOPIC, p.response_topic.as_deref())?;
    w.binary(CORRELATION_DATA, p.correlation_data.as_ref())?;
    if ctx.allows(SUBSCRIPTION_IDENTIFIER) {
        if p.subscription_identifiers.len() > 1 && !ctx.repeatable(SUBSCRIPTION_IDENTIFIER) {
            return Err(EncodeError::MultipleSubscriptionIdentifiers);
        }
        for &id in &p.subscription_identifiers {
            w.out.put_u8(SUBSCRIPTION_IDENTIFIER);
            put_varint(&mut w.out, id)?;
        }
    }
    w.u32(SESSION_EXPIRY_INTERVAL, p.session_expiry_interval);
    w.string(
        ASSIGNED_CLIENT_IDENTIFIER,
        p.assigned_client_identifier.as_deref(),
    )?;
    w.u16(SERVER_KEEP_ALIVE, p.server_keep_alive);
    w.string(AUTHENTICATION_METHOD, p.authentication_method.as_deref())?;
    w.binary(AUTHENTICATION_DATA, p.authentication_data.as_ref())?;
    w.byte(REQUEST_PROBLEM_INFORMATION, p.request_problem_information);
    w.u32(WILL_DELAY_INTERVAL, p.will_delay_interval);
    w.byte(REQUEST_RESPONSE_INFORMATION, p.request_response_information);
    w.string(RESPONSE_INFORMATION, p.response_information.as_deref())?;
    w.string(SERVER_REFERENCE, p.server_reference.as_deref())?;
    w.string(REASON_STRING, p.reason_string.as_deref())?;
    w.u16(RECEIVE_MAXIMUM, p.receive_maximum);
    w.u16(TOPIC_ALIAS_MAXIMUM, p.topic_alias_maximum);
    w.u16(TOPIC_ALIAS, p.topic_alias);
    w.byte(MAXIMUM_QOS, p.maximum_qos);
    w.byte(RETAIN_AVAILABLE, p.retain_available);
    if ctx.allows(USER_PROPERTY) {
        for (k, v) in &p.user_properties {
            w.out.put_u8(USER_PROPERTY);
            put_string(&mut w.out, k)?;
            put_string(&mut w.out, v)?;
        }
    }
    w.u32(MAXIMUM_PACKET_SIZE, p.maximum_packet_size);
    w.byte(
        WILDCARD_SUBSCRIPTION_AVAILABLE,
        p.wildcard_subscription_available,
    );
    w.byte(
        SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        p.subscription_identifier_available,
    );
    w.byte(
        SHARED_SUBSCRIPTION_AVAILABLE,
        p.shared_subscription_available,
    );
    Ok(w.out)
}

/// Writes a property block made by `property_block`, with its length prefix.
pub(crate) fn put_property_block(buf: &mut BytesMut, block: &[u8]) -> Result<(), EncodeError> {
    let len = u32::try_from(block.len()).map_err(|_| EncodeError::PacketTooLarge(block.len()))?;
    put_varint(buf, len).map_err(|_| EncodeError::PacketTooLarge(block.len()))?;
    buf.extend_from_slice(block);
    Ok(())
}

/// Writes the property block for `ctx` with its length prefix.
pub(crate) fn encode_properties(
    p: &Properties,
    ctx: PropertyContext,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    put_property_block(buf, &property_block(p, ctx)?)
}

struct PropWriter {
    ctx: PropertyContext,
    out: BytesMut,
}

impl PropWriter {
    fn tag(&mut self, id: u8) -> bool {
        if self.ctx.allows(id) {
            self.out.put_u8(id);
            true
        } else {
            false
        }
    }

    fn byte(&mut self, id: u8, v: Option<u8>) {
        if let Some(v) = v
            && self.tag(id)
        {
            self.out.put_u8(v);
        }
    }

    fn u16(&mut self, id: u8, v: Option<u16>) {
        if let Some(v) = v
            && self.tag(id)
        {
            self.out.put_u16(v);
        }
    }

    fn u32(&mut self, id: u8, v: Option<u32>) {
        if let Some(v) = v
            && self.tag(id)
        {
            self.out.put_u32(v);
        }
    }

    fn string(&mut self, id: u8, v: Option<&str>) -> Result<(), EncodeError> {
        if let Some(v) = v
            && self.tag(id)
        {
            put_string(&mut self.out, v)?;
        }
        Ok(())
    }

    fn binary(&mut self, id: u8, v: Option<&Bytes>) -> Result<(), EncodeError> {
        if let Some(v) = v
            && self.tag(id)
        {
            put_binary(&mut self.out, v)?;
        }
        Ok(())
    }
}
