//! Decode and encode errors. Each decode error names the rule the input broke, so the broker can
//! choose the MQTT 5 reason code to disconnect with (`DecodeError::reason_code`).

use thiserror::Error;

use crate::packet::ReasonCode;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("packet of {size} bytes exceeds the maximum of {max}")]
    PacketTooLarge { size: usize, max: usize },
    #[error("malformed remaining length")]
    MalformedRemainingLength,
    #[error("malformed variable byte integer")]
    MalformedVariableByteInteger,
    #[error("packet content is shorter than its declared length")]
    Truncated,
    #[error("packet has bytes after its last field")]
    TrailingBytes,
    #[error("invalid packet type {0}")]
    InvalidPacketType(u8),
    #[error("invalid fixed header flags {flags:#06b} for packet type {packet_type}")]
    InvalidFixedHeaderFlags { packet_type: u8, flags: u8 },
    #[error("unsupported protocol version {0}")]
    UnsupportedProtocolVersion(u8),
    #[error("invalid protocol name")]
    InvalidProtocolName,
    #[error("string is not valid utf-8")]
    InvalidUtf8,
    #[error("string contains the null character")]
    NullCharacter,
    #[error("packet identifier is zero")]
    ZeroPacketId,
    #[error("invalid qos")]
    InvalidQoS,
    #[error("dup flag set on a qos 0 publish")]
    DupWithQoS0,
    #[error("reserved flag set")]
    ReservedFlagSet,
    #[error("will qos or will retain set without the will flag")]
    InvalidWillFlags,
    #[error("password flag set without the username flag")]
    PasswordWithoutUsername,
    #[error("subscribe has no topic filters")]
    EmptySubscribe,
    #[error("unsubscribe has no topic filters")]
    EmptyUnsubscribe,
    #[error("retain handling value 3 is reserved")]
    InvalidRetainHandling,
    #[error("no local set on a shared subscription")]
    NoLocalOnSharedSubscription,
    #[error("empty topic name")]
    MissingTopicName,
    #[error("topic name contains a wildcard")]
    WildcardInTopicName,
    #[error("session present set on a refused connection")]
    InvalidSessionPresent,
    #[error("reason code {0:#04x} is not valid for this packet")]
    InvalidReasonCode(u8),
    #[error("property {0:#04x} appears more than once")]
    DuplicateProperty(u8),
    #[error("unknown property {0:#04x}")]
    UnknownProperty(u8),
    #[error("property {id:#04x} is not allowed in {packet}")]
    PropertyNotAllowed { id: u8, packet: &'static str },
    #[error("invalid value for property {0:#04x}")]
    InvalidPropertyValue(u8),
    #[error("authentication data without an authentication method")]
    AuthDataWithoutMethod,
}

impl DecodeError {
    /// The MQTT 5 reason code to close the connection with (in DISCONNECT or CONNACK).
    ///
    /// Follows spec 4.13: input that cannot be parsed is a Malformed Packet, input that parses
    /// but breaks a rule about its content is a Protocol Error.
    pub fn reason_code(&self) -> ReasonCode {
        use DecodeError::*;
        match self {
            PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            UnsupportedProtocolVersion(_) => ReasonCode::UnsupportedProtocolVersion,
            WildcardInTopicName => ReasonCode::TopicNameInvalid,
            DupWithQoS0
            | PasswordWithoutUsername
            | EmptySubscribe
            | EmptyUnsubscribe
            | InvalidRetainHandling
            | NoLocalOnSharedSubscription
            | MissingTopicName
            | InvalidSessionPresent
            | DuplicateProperty(_)
            | InvalidPropertyValue(_)
            | AuthDataWithoutMethod => ReasonCode::ProtocolError,
            MalformedRemainingLength
            | MalformedVariableByteInteger
            | Truncated
            | TrailingBytes
            | InvalidPacketType(_)
            | InvalidFixedHeaderFlags { .. }
            | InvalidProtocolName
            | InvalidUtf8
            | NullCharacter
            | ZeroPacketId
            | InvalidQoS
            | ReservedFlagSet
            | InvalidWillFlags
            | InvalidReasonCode(_)
            | UnknownProperty(_)
            | PropertyNotAllowed { .. } => ReasonCode::MalformedPacket,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("string of {0} bytes exceeds 65535")]
    StringTooLong(usize),
    #[error("binary data of {0} bytes exceeds 65535")]
    BinaryTooLong(usize),
    #[error("remaining length {0} exceeds 268435455")]
    PacketTooLarge(usize),
    #[error("value {0} does not fit a variable byte integer")]
    VariableByteIntegerTooLarge(u32),
    #[error("publish packet id must be present exactly when qos is above 0")]
    PacketIdMismatch,
    #[error("subscribe has no topic filters")]
    EmptySubscribe,
    #[error("unsubscribe has no topic filters")]
    EmptyUnsubscribe,
    #[error("more than one subscription identifier outside publish")]
    MultipleSubscriptionIdentifiers,
    #[error("password without username is not allowed in mqtt 3.1.1")]
    PasswordWithoutUsername,
    #[error("{0} does not exist in mqtt 3.1.1")]
    NotInV311(&'static str),
}
