//! Conversions between reason-code bytes and `ReasonCode`, including the 3.1.1 return codes.

use crate::packet::{QoS, ReasonCode};

impl ReasonCode {
    /// The reason code for a wire byte, or `None` if MQTT 5 defines no code with that value.
    pub fn from_u8(v: u8) -> Option<ReasonCode> {
        use ReasonCode::*;
        Some(match v {
            0x00 => Success,
            0x01 => GrantedQoS1,
            0x02 => GrantedQoS2,
            0x04 => DisconnectWithWill,
            0x10 => NoMatchingSubscribers,
            0x11 => NoSubscriptionExisted,
            0x18 => ContinueAuthentication,
            0x19 => ReAuthenticate,
            0x80 => UnspecifiedError,
            0x81 => MalformedPacket,
            0x82 => ProtocolError,
            0x83 => ImplementationSpecificError,
            0x84 => UnsupportedProtocolVersion,
            0x85 => ClientIdentifierNotValid,
            0x86 => BadUserNameOrPassword,
            0x87 => NotAuthorized,
            0x88 => ServerUnavailable,
            0x89 => ServerBusy,
            0x8A => Banned,
            0x8B => ServerShuttingDown,
            0x8C => BadAuthenticationMethod,
            0x8D => KeepAliveTimeout,
            0x8E => SessionTakenOver,
            0x8F => TopicFilterInvalid,
            0x90 => TopicNameInvalid,
            0x91 => PacketIdentifierInUse,
            0x92 => PacketIdentifierNotFound,
            0x93 => ReceiveMaximumExceeded,
            0x94 => TopicAliasInvalid,
            0x95 => PacketTooLarge,
            0x96 => MessageRateTooHigh,
            0x97 => QuotaExceeded,
            0x98 => AdministrativeAction,
            0x99 => PayloadFormatInvalid,
            0x9A => RetainNotSupported,
            0x9B => QoSNotSupported,
            0x9C => UseAnotherServer,
            0x9D => ServerMoved,
            0x9E => SharedSubscriptionsNotSupported,
            0x9F => ConnectionRateExceeded,
            0xA0 => MaximumConnectTime,
            0xA1 => SubscriptionIdentifiersNotSupported,
            0xA2 => WildcardSubscriptionsNotSupported,
            _ => return None,
        })
    }

    /// The 3.1.1 CONNACK return code closest to this reason.
    ///
    /// 3.1.1 has only five refusal codes, so MQTT 5 refusals are folded onto the one a 3.1.1
    /// client is most likely to handle sensibly; overload and redirection become "server
    /// unavailable" because the client may retry later.
    pub fn to_v311_connack(self) -> u8 {
        use ReasonCode::*;
        match self {
            Success => 0,
            UnsupportedProtocolVersion => 1,
            ClientIdentifierNotValid => 2,
            BadUserNameOrPassword | BadAuthenticationMethod => 4,
            NotAuthorized | Banned => 5,
            _ => 3,
        }
    }

    /// The reason code a 3.1.1 CONNACK return code stands for.
    pub fn from_v311_connack(code: u8) -> Option<ReasonCode> {
        use ReasonCode::*;
        Some(match code {
            0 => Success,
            1 => UnsupportedProtocolVersion,
            2 => ClientIdentifierNotValid,
            3 => ServerUnavailable,
            4 => BadUserNameOrPassword,
            5 => NotAuthorized,
            _ => return None,
        })
    }

    /// The 3.1.1 SUBACK return code: granted QoS, or 0x80 for any refusal.
    pub fn to_v311_suback(self) -> u8 {
        match self {
            ReasonCode::Success => 0,
            ReasonCode::GrantedQoS1 => 1,
            ReasonCode::GrantedQoS2 => 2,
            _ => 0x80,
        }
    }

    /// The reason code a 3.1.1 SUBACK return code stands for.
    pub fn from_v311_suback(code: u8) -> Option<ReasonCode> {
        match code {
            0 => Some(ReasonCode::Success),
            1 => Some(ReasonCode::GrantedQoS1),
            2 => Some(ReasonCode::GrantedQoS2),
            0x80 => Some(ReasonCode::UnspecifiedError),
            _ => None,
        }
    }

    /// The QoS a SUBACK reason grants, or `None` for a refusal.
    pub fn granted_qos(self) -> Option<QoS> {
        match self {
            ReasonCode::Success => Some(QoS::AtMostOnce),
            ReasonCode::GrantedQoS1 => Some(QoS::AtLeastOnce),
            ReasonCode::GrantedQoS2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// Which reason codes MQTT 5 allows in each packet type (spec 3.x.2.1 tables).
pub(crate) fn allowed_in(packet: ReasonContext, code: ReasonCode) -> bool {
    use ReasonCode::*;
    match packet {
        ReasonContext::ConnAck => matches!(
            code,
            Success
                | UnspecifiedError
                | MalformedPacket
                | ProtocolError
                | ImplementationSpecificError
                | UnsupportedProtocolVersion
                | ClientIdentifierNotValid
                | BadUserNameOrPassword
                | NotAuthorized
                | ServerUnavailable
                | ServerBusy
                | Banned
                | BadAuthenticationMethod
                | TopicNameInvalid
                | PacketTooLarge
                | QuotaExceeded
                | PayloadFormatInvalid
                | RetainNotSupported
                | QoSNotSupported
                | UseAnotherServer
                | ServerMoved
                | ConnectionRateExceeded
        ),
        ReasonContext::PubAckOrRec => matches!(
            code,
            Success
                | NoMatchingSubscribers
                | UnspecifiedError
                | ImplementationSpecificError
                | NotAuthorized
                | TopicNameInvalid
                | PacketIdentifierInUse
                | QuotaExceeded
                | PayloadFormatInvalid
        ),
        ReasonContext::PubRelOrComp => matches!(code, Success | PacketIdentifierNotFound),
        ReasonContext::SubAck => matches!(
            code,
            Success
                | GrantedQoS1
                | GrantedQoS2
                | UnspecifiedError
                | ImplementationSpecificError
                | NotAuthorized
                | TopicFilterInvalid
                | PacketIdentifierInUse
                | QuotaExceeded
                | SharedSubscriptionsNotSupported
                | SubscriptionIdentifiersNotSupported
                | WildcardSubscriptionsNotSupported
        ),
        ReasonContext::UnsubAck => matches!(
            code,
            Success
                | NoSubscriptionExisted
                | UnspecifiedError
                | ImplementationSpecificError
                | NotAuthorized
                | TopicFilterInvalid
                | PacketIdentifierInUse
        ),
        ReasonContext::Disconnect => matches!(
            code,
            Success
                | DisconnectWithWill
                | UnspecifiedError
                | MalformedPacket
                | ProtocolError
                | ImplementationSpecificError
                | NotAuthorized
                | ServerBusy
                | ServerShuttingDown
                | KeepAliveTimeout
                | SessionTakenOver
                | TopicFilterInvalid
                | TopicNameInvalid
                | ReceiveMaximumExceeded
                | TopicAliasInvalid
                | PacketTooLarge
                | MessageRateTooHigh
                | QuotaExceeded
                | AdministrativeAction
                | PayloadFormatInvalid
                | RetainNotSupported
                | QoSNotSupported
                | UseAnotherServer
                | ServerMoved
                | SharedSubscriptionsNotSupported
                | ConnectionRateExceeded
                | MaximumConnectTime
                | SubscriptionIdentifiersNotSupported
                | WildcardSubscriptionsNotSupported
        ),
        ReasonContext::Auth => matches!(code, Success | ContinueAuthentication | ReAuthenticate),
    }
}

/// The packet a reason code appears in, for `allowed_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReasonContext {
    ConnAck,
    PubAckOrRec,
    PubRelOrComp,
    SubAck,
    UnsubAck,
    Disconnect,
    Auth,
}
