//! Every `DecodeError` variant, each provoked by the rule it names.

mod common;

use bytes::BytesMut;
use common::*;
use ferrite_mqtt_codec::*;

fn err(first: u8, body: &str, protocol: ProtocolVersion) -> DecodeError {
    decode_err(&frame(first, &hex(body)), protocol)
}

#[test]
fn packet_too_large() {
    let mut buf = BytesMut::from(&hex("30 05 00 01 74 68 69")[..]);
    assert_eq!(
        decode(&mut buf, V311, 6),
        Err(DecodeError::PacketTooLarge { size: 7, max: 6 })
    );
    assert!(matches!(decode(&mut buf, V311, 7), Ok(Some(_))));
}

#[test]
fn malformed_remaining_length() {
    // Five length bytes.
    assert_eq!(
        decode_err(&hex("30 ff ff ff ff 01"), V311),
        DecodeError::MalformedRemainingLength
    );
    // Zero encoded in two bytes is not the minimal encoding [MQTT-1.5.5-1].
    assert_eq!(
        decode_err(&hex("c0 80 00"), V311),
        DecodeError::MalformedRemainingLength
    );
}

#[test]
fn malformed_variable_byte_integer() {
    assert_eq!(
        err(0x40, "00 01 00 ff ff ff ff 01", V5),
        DecodeError::MalformedVariableByteInteger
    );
    // Subscription identifier 1 encoded non-minimally.
    assert_eq!(
        err(0x30, "00 01 74 03 0b 81 00", V5),
        DecodeError::MalformedVariableByteInteger
    );
}

#[test]
fn truncated() {
    assert_eq!(err(0x10, "00 04 4d 51", V311), DecodeError::Truncated);
    assert_eq!(err(0x40, "00", V311), DecodeError::Truncated);
    // Property length 5 with one byte of properties present.
    assert_eq!(err(0x40, "00 01 00 05 1f", V5), DecodeError::Truncated);
    // String length runs past the property block into the next field.
    assert_eq!(
        err(0x30, "00 01 74 02 03 00 01 61", V5),
        DecodeError::Truncated
    );
}

#[test]
fn trailing_bytes() {
    assert_eq!(err(0xC0, "00", V311), DecodeError::TrailingBytes);
    assert_eq!(err(0x40, "00 01 00", V311), DecodeError::TrailingBytes);
    assert_eq!(err(0xB0, "00 01 00", V311), DecodeError::TrailingBytes);
    assert_eq!(err(0xE0, "00", V311), DecodeError::TrailingBytes);
    assert_eq!(err(0x20, "00 00 00", V311), DecodeError::TrailingBytes);
    assert_eq!(
        decode_err(&connect_frame(4, 0x02, "00 00 00"), V311),
        DecodeError::TrailingBytes
    );
}

#[test]
fn invalid_packet_type() {
    assert_eq!(err(0x00, "", V5), DecodeError::InvalidPacketType(0));
    // AUTH does not exist in 3.1.1.
    assert_eq!(err(0xF0, "", V311), DecodeError::InvalidPacketType(15));
}

#[test]
fn invalid_fixed_header_flags() {
    let flags = |packet_type, flags| DecodeError::InvalidFixedHeaderFlags { packet_type, flags };
    assert_eq!(err(0x60, "00 01", V311), flags(6, 0));
    assert_eq!(err(0x80, "00 01 00 01 74 00", V311), flags(8, 0));
    assert_eq!(err(0xA0, "00 01 00 01 74", V311), flags(10, 0));
    assert_eq!(err(0xC1, "", V311), flags(12, 1));
    assert_eq!(err(0x42, "00 01", V5), flags(4, 2));
    // Checked from the first byte alone, before the rest arrives.
    let mut buf = BytesMut::from(&[0x11u8][..]);
    assert_eq!(decode(&mut buf, V5, 10), Err(flags(1, 1)));
}

#[test]
fn unsupported_protocol_version() {
    // MQTT 3.1 ("MQIsdp", level 3) as sent by old clients.
    let mqtt31 = frame(0x10, &hex("00 06 4d 51 49 73 64 70 03 02 00 3c 00 00"));
    let e = decode_err(&mqtt31, V311);
    assert_eq!(e, DecodeError::UnsupportedProtocolVersion(3));
    assert_eq!(e.reason_code(), ReasonCode::UnsupportedProtocolVersion);
    assert_eq!(
        decode_err(&connect_frame(6, 0x02, "00 00"), V311),
        DecodeError::UnsupportedProtocolVersion(6)
    );
}

#[test]
fn invalid_protocol_name() {
    assert_eq!(
        err(0x10, "00 04 4d 51 54 58 04 02 00 3c 00 00", V311),
        DecodeError::InvalidProtocolName
    );
    assert_eq!(
        err(0x10, "00 02 ff fe 04 02 00 3c 00 00", V311),
        DecodeError::InvalidProtocolName
    );
}

#[test]
fn invalid_utf8() {
    assert_eq!(err(0x30, "00 01 ff", V311), DecodeError::InvalidUtf8);
    // An encoded UTF-16 surrogate (U+D800) [MQTT-1.5.4-1].
    assert_eq!(err(0x30, "00 03 ed a0 80", V311), DecodeError::InvalidUtf8);
    assert_eq!(
        decode_err(&connect_frame(4, 0x02, "00 01 c0"), V311),
        DecodeError::InvalidUtf8
    );
}

#[test]
fn null_character() {
    assert_eq!(err(0x30, "00 01 00", V311), DecodeError::NullCharacter);
    assert_eq!(
        err(0xA2, "00 01 00 03 61 00 62", V311),
        DecodeError::NullCharacter
    );
}

#[test]
fn zero_packet_id() {
    assert_eq!(err(0x40, "00 00", V311), DecodeError::ZeroPacketId);
    assert_eq!(err(0x32, "00 01 74 00 00", V311), DecodeError::ZeroPacketId);
    assert_eq!(
        err(0x82, "00 00 00 01 74 00", V311),
        DecodeError::ZeroPacketId
    );
}

#[test]
fn invalid_qos() {
    assert_eq!(err(0x36, "00 01 74 00 01", V311), DecodeError::InvalidQoS);
    // Will QoS 3.
    assert_eq!(
        decode_err(&connect_frame(4, 0x1E, "00 00 00 01 74 00 00"), V311),
        DecodeError::InvalidQoS
    );
    // Subscription option QoS 3.
    assert_eq!(
        err(0x82, "00 01 00 01 74 03", V311),
        DecodeError::InvalidQoS
    );
}

#[test]
fn dup_with_qos0() {
    assert_eq!(err(0x38, "00 01 74", V311), DecodeError::DupWithQoS0);
}

#[test]
fn reserved_flag_set() {
    // CONNECT reserved bit [MQTT-3.1.2-3].
    assert_eq!(
        decode_err(&connect_frame(4, 0x03, "00 00"), V311),
        DecodeError::ReservedFlagSet
    );
    // CONNACK acknowledge flags bits 7-1.
    assert_eq!(err(0x20, "02 00", V311), DecodeError::ReservedFlagSet);
    // 3.1.1 subscription options above the QoS bits.
    assert_eq!(
        err(0x82, "00 01 00 01 74 04", V311),
        DecodeError::ReservedFlagSet
    );
    // MQTT 5 subscription options bits 7-6.
    assert_eq!(
        err(0x82, "00 01 00 00 01 74 40", V5),
        DecodeError::ReservedFlagSet
    );
}

#[test]
fn invalid_will_flags() {
    // Will retain without the will flag.
    assert_eq!(
        decode_err(&connect_frame(4, 0x22, "00 00"), V311),
        DecodeError::InvalidWillFlags
    );
    // Will QoS 1 without the will flag.
    assert_eq!(
        decode_err(&connect_frame(5, 0x0A, "00 00 00"), V5),
        DecodeError::InvalidWillFlags
    );
}

#[test]
fn password_without_username() {
    assert_eq!(
        decode_err(&connect_frame(4, 0x42, "00 00 00 01 70"), V311),
        DecodeError::PasswordWithoutUsername
    );
    // Allowed in MQTT 5.
    assert!(decode_one(&connect_frame(5, 0x42, "00 00 00 00 01 70"), V5).is_ok());
}

#[test]
fn empty_subscribe() {
    assert_eq!(err(0x82, "00 01", V311), DecodeError::EmptySubscribe);
    assert_eq!(err(0x82, "00 01 00", V5), DecodeError::EmptySubscribe);
}

#[test]
fn empty_unsubscribe() {
    assert_eq!(err(0xA2, "00 01", V311), DecodeError::EmptyUnsubscribe);
    assert_eq!(err(0xA2, "00 01 00", V5), DecodeError::EmptyUnsubscribe);
}

#[test]
fn invalid_retain_handling() {
    assert_eq!(
        err(0x82, "00 01 00 00 01 74 30", V5),
        DecodeError::InvalidRetainHandling
    );
}

#[test]
fn no_local_on_shared_subscription() {
    // "$share/g/t" with No Local set [MQTT-3.8.3-4].
    assert_eq!(
        err(0x82, "00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 74 04", V5),
        DecodeError::NoLocalOnSharedSubscription
    );
}

#[test]
fn missing_topic_name() {
    assert_eq!(err(0x30, "00 00", V311), DecodeError::MissingTopicName);
    // MQTT 5 allows an empty topic only together with a topic alias.
    assert_eq!(err(0x30, "00 00 00", V5), DecodeError::MissingTopicName);
    assert_eq!(
        decode_err(&connect_frame(4, 0x06, "00 00 00 00 00 00"), V311),
        DecodeError::MissingTopicName
    );
}

#[test]
fn wildcard_in_topic_name() {
    let e = err(0x30, "00 03 61 2f 23", V311);
    assert_eq!(e, DecodeError::WildcardInTopicName);
    assert_eq!(e.reason_code(), ReasonCode::TopicNameInvalid);
    assert_eq!(
        decode_err(&connect_frame(4, 0x06, "00 00 00 01 2b 00 00"), V311),
        DecodeError::WildcardInTopicName
    );
}

#[test]
fn invalid_session_present() {
    assert_eq!(err(0x20, "01 05", V311), DecodeError::InvalidSessionPresent);
    assert_eq!(
        err(0x20, "01 87 00", V5),
        DecodeError::InvalidSessionPresent
    );
}

#[test]
fn invalid_reason_code() {
    assert_eq!(err(0x20, "00 06", V311), DecodeError::InvalidReasonCode(6));
    assert_eq!(
        err(0x90, "00 01 03", V311),
        DecodeError::InvalidReasonCode(3)
    );
    // 0x03 is no MQTT 5 reason code at all.
    assert_eq!(err(0x40, "00 01 03", V5), DecodeError::InvalidReasonCode(3));
    // 0x10 exists but is not allowed in PUBREL.
    assert_eq!(
        err(0x62, "00 01 10", V5),
        DecodeError::InvalidReasonCode(0x10)
    );
    assert_eq!(err(0xF0, "87", V5), DecodeError::InvalidReasonCode(0x87));
    assert_eq!(err(0x20, "00 04 00", V5), DecodeError::InvalidReasonCode(4));
}

#[test]
fn duplicate_property() {
    assert_eq!(
        err(0x40, "00 01 80 08 1f 00 01 61 1f 00 01 62", V5),
        DecodeError::DuplicateProperty(0x1F)
    );
    // SUBSCRIBE carries at most one subscription identifier.
    assert_eq!(
        err(0x82, "00 01 04 0b 01 0b 02 00 01 74 00", V5),
        DecodeError::DuplicateProperty(0x0B)
    );
    // User properties may repeat.
    assert!(
        decode_one(
            &frame(
                0x40,
                &hex("00 01 00 0c 26 00 01 61 00 00 26 00 01 61 00 00")
            ),
            V5
        )
        .is_ok()
    );
}

#[test]
fn unknown_property() {
    assert_eq!(
        err(0x40, "00 01 00 02 05 00", V5),
        DecodeError::UnknownProperty(5)
    );
    assert_eq!(
        err(0x40, "00 01 00 02 80 00", V5),
        DecodeError::UnknownProperty(0x80)
    );
}

#[test]
fn property_not_allowed() {
    assert_eq!(
        err(0x40, "00 01 00 03 23 00 01", V5),
        DecodeError::PropertyNotAllowed {
            id: 0x23,
            packet: "publish acknowledgement"
        }
    );
    // Will delay belongs to the will properties, not to CONNECT's own.
    assert_eq!(
        decode_err(&connect_frame(5, 0x02, "05 18 00 00 00 01 00 00"), V5),
        DecodeError::PropertyNotAllowed {
            id: 0x18,
            packet: "connect"
        }
    );
}

#[test]
fn invalid_property_value() {
    let invalid = DecodeError::InvalidPropertyValue;
    // Topic alias 0.
    assert_eq!(err(0x30, "00 01 74 03 23 00 00", V5), invalid(0x23));
    // Subscription identifier 0.
    assert_eq!(err(0x30, "00 01 74 02 0b 00", V5), invalid(0x0B));
    // Payload format indicator 2.
    assert_eq!(err(0x30, "00 01 74 02 01 02", V5), invalid(0x01));
    // Response topic with a wildcard.
    assert_eq!(err(0x30, "00 01 74 04 08 00 01 23", V5), invalid(0x08));
    // Receive maximum 0 and maximum packet size 0.
    assert_eq!(err(0x20, "00 00 03 21 00 00", V5), invalid(0x21));
    assert_eq!(err(0x20, "00 00 05 27 00 00 00 00", V5), invalid(0x27));
    // Maximum QoS 2.
    assert_eq!(err(0x20, "00 00 02 24 02", V5), invalid(0x24));
}

#[test]
fn auth_data_without_method() {
    assert_eq!(
        err(0xF0, "18 04 16 00 01 01", V5),
        DecodeError::AuthDataWithoutMethod
    );
}

#[test]
fn reason_codes_follow_spec_classes() {
    let too_large = DecodeError::PacketTooLarge { size: 2, max: 1 };
    assert_eq!(too_large.reason_code(), ReasonCode::PacketTooLarge);
    assert_eq!(
        DecodeError::DuplicateProperty(1).reason_code(),
        ReasonCode::ProtocolError
    );
    assert_eq!(
        DecodeError::InvalidPropertyValue(0x23).reason_code(),
        ReasonCode::ProtocolError
    );
    assert_eq!(
        DecodeError::Truncated.reason_code(),
        ReasonCode::MalformedPacket
    );
    assert_eq!(
        DecodeError::UnknownProperty(5).reason_code(),
        ReasonCode::MalformedPacket
    );
}

#[test]
fn messages_are_lowercase_without_trailing_punctuation() {
    let errors = [
        DecodeError::PacketTooLarge { size: 2, max: 1 },
        DecodeError::InvalidFixedHeaderFlags {
            packet_type: 6,
            flags: 0,
        },
        DecodeError::Truncated,
        DecodeError::PropertyNotAllowed {
            id: 0x23,
            packet: "connect",
        },
    ];
    for e in errors {
        let msg = e.to_string();
        assert!(msg.starts_with(|c: char| c.is_lowercase()), "{msg}");
        assert!(!msg.ends_with('.'), "{msg}");
    }
}
