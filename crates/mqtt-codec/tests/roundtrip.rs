//! Property tests: every packet valid for a protocol version survives encode then decode.

mod common;

use bytes::{Bytes, BytesMut};
use common::{V5, V311};
use ferrite_mqtt_codec::*;
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;

/// Where a property block sits; mirrors the spec's table of allowed properties (2.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ctx {
    Connect,
    Will,
    ConnAck,
    Publish,
    PubResponse,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

fn text() -> impl Strategy<Value = String> {
    // Any non-control characters, so multi-byte UTF-8 is covered but U+0000 never appears.
    "\\PC{0,8}"
}

fn topic_name() -> impl Strategy<Value = String> {
    "[a-z0-9/ é€$]{1,12}"
}

fn topic_filter() -> impl Strategy<Value = String> {
    "[a-z0-9/+#é]{1,12}"
}

fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..12).prop_map(Bytes::from)
}

fn flag() -> impl Strategy<Value = Option<u8>> {
    of(0u8..=1)
}

fn nonzero_u16() -> impl Strategy<Value = Option<u16>> {
    of(1u16..)
}

fn any_properties(ctx: Ctx) -> impl Strategy<Value = Properties> {
    let sub_ids = match ctx {
        Ctx::Publish => vec(1u32..=268_435_455, 0..3).boxed(),
        Ctx::Subscribe => vec(1u32..=268_435_455, 0..=1).boxed(),
        _ => Just(Vec::new()).boxed(),
    };
    let a = (
        flag(),
        of(any::<u32>()),
        of(text()),
        of(topic_name()),
        of(binary()),
        sub_ids,
        of(any::<u32>()),
        of(text()),
        of(any::<u16>()),
    );
    let b = (
        of(text()),
        of(binary()),
        flag(),
        of(any::<u32>()),
        flag(),
        of(text()),
        of(text()),
        of(text()),
        nonzero_u16(),
    );
    let c = (
        of(any::<u16>()),
        nonzero_u16(),
        flag(),
        flag(),
        vec((text(), text()), 0..3),
        of(1u32..),
        flag(),
        flag(),
        flag(),
    );
    (a, b, c).prop_map(move |(a, b, c)| {
        let p = Properties {
            payload_format_indicator: a.0,
            message_expiry_interval: a.1,
            content_type: a.2,
            response_topic: a.3,
            correlation_data: a.4,
            subscription_identifiers: a.5,
            session_expiry_interval: a.6,
            assigned_client_identifier: a.7,
            server_keep_alive: a.8,
            authentication_method: b.0,
            authentication_data: b.1,
            request_problem_information: b.2,
            will_delay_interval: b.3,
            request_response_information: b.4,
            response_information: b.5,
            server_reference: b.6,
            reason_string: b.7,
            receive_maximum: b.8,
            topic_alias_maximum: c.0,
            topic_alias: c.1,
            maximum_qos: c.2,
            retain_available: c.3,
            user_properties: c.4,
            maximum_packet_size: c.5,
            wildcard_subscription_available: c.6,
            subscription_identifier_available: c.7,
            shared_subscription_available: c.8,
        };
        restrict(p, ctx)
    })
}

/// Clears every property `ctx` does not allow, and fixes the one cross-property rule.
fn restrict(p: Properties, ctx: Ctx) -> Properties {
    use Ctx::*;
    let only = |allowed: &[Ctx]| allowed.contains(&ctx);
    let mut p = Properties {
        payload_format_indicator: p
            .payload_format_indicator
            .filter(|_| only(&[Will, Publish])),
        message_expiry_interval: p.message_expiry_interval.filter(|_| only(&[Will, Publish])),
        content_type: p.content_type.filter(|_| only(&[Will, Publish])),
        response_topic: p.response_topic.filter(|_| only(&[Will, Publish])),
        correlation_data: p.correlation_data.filter(|_| only(&[Will, Publish])),
        subscription_identifiers: p.subscription_identifiers,
        session_expiry_interval: p
            .session_expiry_interval
            .filter(|_| only(&[Connect, ConnAck, Disconnect])),
        assigned_client_identifier: p.assigned_client_identifier.filter(|_| only(&[ConnAck])),
        server_keep_alive: p.server_keep_alive.filter(|_| only(&[ConnAck])),
        authentication_method: p
            .authentication_method
            .filter(|_| only(&[Connect, ConnAck, Auth])),
        authentication_data: p
            .authentication_data
            .filter(|_| only(&[Connect, ConnAck, Auth])),
        request_problem_information: p.request_problem_information.filter(|_| only(&[Connect])),
        will_delay_interval: p.will_delay_interval.filter(|_| only(&[Will])),
        request_response_information: p.request_response_information.filter(|_| only(&[Connect])),
        response_information: p.response_information.filter(|_| only(&[ConnAck])),
        server_reference: p.server_reference.filter(|_| only(&[ConnAck, Disconnect])),
        reason_string: p
            .reason_string
            .filter(|_| only(&[ConnAck, PubResponse, SubAck, UnsubAck, Disconnect, Auth])),
        receive_maximum: p.receive_maximum.filter(|_| only(&[Connect, ConnAck])),
        topic_alias_maximum: p.topic_alias_maximum.filter(|_| only(&[Connect, ConnAck])),
        topic_alias: p.topic_alias.filter(|_| only(&[Publish])),
        maximum_qos: p.maximum_qos.filter(|_| only(&[ConnAck])),
        retain_available: p.retain_available.filter(|_| only(&[ConnAck])),
        user_properties: p.user_properties,
        maximum_packet_size: p.maximum_packet_size.filter(|_| only(&[Connect, ConnAck])),
        wildcard_subscription_available: p
            .wildcard_subscription_available
            .filter(|_| only(&[ConnAck])),
        subscription_identifier_available: p
            .subscription_identifier_available
            .filter(|_| only(&[ConnAck])),
        shared_subscription_available: p.shared_subscription_available.filter(|_| only(&[ConnAck])),
    };
    if p.authentication_data.is_some() && p.authentication_method.is_none() {
        p.authentication_method = Some("method".into());
    }
    p
}

fn props_for(version: ProtocolVersion, ctx: Ctx) -> BoxedStrategy<Properties> {
    match version {
        ProtocolVersion::V5 => any_properties(ctx).boxed(),
        ProtocolVersion::V311 => Just(Properties::default()).boxed(),
    }
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn packet_id() -> impl Strategy<Value = PacketId> {
    (1u16..).prop_map(|v| PacketId::new(v).expect("non-zero"))
}

fn reason(codes: &'static [ReasonCode]) -> impl Strategy<Value = ReasonCode> {
    proptest::sample::select(codes)
}

use ReasonCode as R;

const CONNACK_V5: &[R] = &[
    R::Success,
    R::UnspecifiedError,
    R::MalformedPacket,
    R::ProtocolError,
    R::ImplementationSpecificError,
    R::UnsupportedProtocolVersion,
    R::ClientIdentifierNotValid,
    R::BadUserNameOrPassword,
    R::NotAuthorized,
    R::ServerUnavailable,
    R::ServerBusy,
    R::Banned,
    R::BadAuthenticationMethod,
    R::TopicNameInvalid,
    R::PacketTooLarge,
    R::QuotaExceeded,
    R::PayloadFormatInvalid,
    R::RetainNotSupported,
    R::QoSNotSupported,
    R::UseAnotherServer,
    R::ServerMoved,
    R::ConnectionRateExceeded,
];
const CONNACK_V311: &[R] = &[
    R::Success,
    R::UnsupportedProtocolVersion,
    R::ClientIdentifierNotValid,
    R::ServerUnavailable,
    R::BadUserNameOrPassword,
    R::NotAuthorized,
];
const PUBACK_V5: &[R] = &[
    R::Success,
    R::NoMatchingSubscribers,
    R::UnspecifiedError,
    R::ImplementationSpecificError,
    R::NotAuthorized,
    R::TopicNameInvalid,
    R::PacketIdentifierInUse,
    R::QuotaExceeded,
    R::PayloadFormatInvalid,
];
const PUBREL_V5: &[R] = &[R::Success, R::PacketIdentifierNotFound];
const SUBACK_V5: &[R] = &[
    R::Success,
    R::GrantedQoS1,
    R::GrantedQoS2,
    R::UnspecifiedError,
    R::ImplementationSpecificError,
    R::NotAuthorized,
    R::TopicFilterInvalid,
    R::PacketIdentifierInUse,
    R::QuotaExceeded,
    R::SharedSubscriptionsNotSupported,
    R::SubscriptionIdentifiersNotSupported,
    R::WildcardSubscriptionsNotSupported,
];
const SUBACK_V311: &[R] = &[
    R::Success,
    R::GrantedQoS1,
    R::GrantedQoS2,
    R::UnspecifiedError,
];
const UNSUBACK_V5: &[R] = &[
    R::Success,
    R::NoSubscriptionExisted,
    R::UnspecifiedError,
    R::ImplementationSpecificError,
    R::NotAuthorized,
    R::TopicFilterInvalid,
    R::PacketIdentifierInUse,
];
const DISCONNECT_V5: &[R] = &[
    R::Success,
    R::DisconnectWithWill,
    R::UnspecifiedError,
    R::MalformedPacket,
    R::ProtocolError,
    R::ImplementationSpecificError,
    R::NotAuthorized,
    R::ServerBusy,
    R::ServerShuttingDown,
    R::KeepAliveTimeout,
    R::SessionTakenOver,
    R::TopicFilterInvalid,
    R::TopicNameInvalid,
    R::ReceiveMaximumExceeded,
    R::TopicAliasInvalid,
    R::PacketTooLarge,
    R::MessageRateTooHigh,
    R::QuotaExceeded,
    R::AdministrativeAction,
    R::PayloadFormatInvalid,
    R::RetainNotSupported,
    R::QoSNotSupported,
    R::UseAnotherServer,
    R::ServerMoved,
    R::SharedSubscriptionsNotSupported,
    R::ConnectionRateExceeded,
    R::MaximumConnectTime,
    R::SubscriptionIdentifiersNotSupported,
    R::WildcardSubscriptionsNotSupported,
];
const AUTH_V5: &[R] = &[R::Success, R::ContinueAuthentication, R::ReAuthenticate];
const SUCCESS: &[R] = &[R::Success];

fn will(v: ProtocolVersion) -> impl Strategy<Value = Will> {
    (
        topic_name(),
        binary(),
        qos(),
        any::<bool>(),
        props_for(v, Ctx::Will),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        })
}

fn connect(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        any::<u16>(),
        text(),
        of(will(v)),
        of(text()),
        of(binary()),
        props_for(v, Ctx::Connect),
    )
        .prop_map(
            move |(clean_start, keep_alive, client_id, will, username, password, p)| {
                // 3.1.1 forbids a password without a username [MQTT-3.1.2-22].
                let password = password.filter(|_| v == V5 || username.is_some());
                Packet::Connect(Connect {
                    protocol: v,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties: p,
                })
            },
        )
}

fn connack(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let codes = if v == V5 { CONNACK_V5 } else { CONNACK_V311 };
    (any::<bool>(), reason(codes), props_for(v, Ctx::ConnAck)).prop_map(|(sp, reason, p)| {
        Packet::ConnAck(ConnAck {
            session_present: sp && reason == R::Success,
            reason,
            properties: p,
        })
    })
}

fn publish(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        qos(),
        any::<bool>(),
        topic_name(),
        any::<bool>(),
        packet_id(),
        vec(any::<u8>(), 0..64),
        props_for(v, Ctx::Publish),
    )
        .prop_map(|(dup, qos, retain, topic, drop_topic, id, payload, p)| {
            let qos0 = qos == QoS::AtMostOnce;
            // An MQTT 5 PUBLISH may leave the topic empty when it carries a topic alias.
            let topic = if drop_topic && p.topic_alias.is_some() {
                String::new()
            } else {
                topic
            };
            Packet::Publish(Publish {
                dup: dup && !qos0,
                qos,
                retain,
                topic,
                packet_id: (!qos0).then_some(id),
                payload: Bytes::from(payload),
                properties: p,
            })
        })
}

fn pub_response(v: ProtocolVersion, codes: &'static [R]) -> impl Strategy<Value = PubAck> {
    let codes = if v == V5 { codes } else { SUCCESS };
    (packet_id(), reason(codes), props_for(v, Ctx::PubResponse)).prop_map(|(id, reason, p)| {
        PubAck {
            packet_id: id,
            reason,
            properties: p,
        }
    })
}

fn subscription_options(v: ProtocolVersion) -> impl Strategy<Value = SubscriptionOptions> {
    let handling = prop_oneof![
        Just(RetainHandling::SendAtSubscribe),
        Just(RetainHandling::SendAtSubscribeIfNew),
        Just(RetainHandling::DoNotSend),
    ];
    (qos(), any::<bool>(), any::<bool>(), handling).prop_map(move |(qos, nl, rap, rh)| {
        if v == V5 {
            SubscriptionOptions {
                qos,
                no_local: nl,
                retain_as_published: rap,
                retain_handling: rh,
            }
        } else {
            SubscriptionOptions {
                qos,
                ..SubscriptionOptions::default()
            }
        }
    })
}

fn subscribe(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        vec((topic_filter(), subscription_options(v)), 1..4),
        props_for(v, Ctx::Subscribe),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn suback(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let codes = if v == V5 { SUBACK_V5 } else { SUBACK_V311 };
    (
        packet_id(),
        vec(reason(codes), 0..4),
        props_for(v, Ctx::SubAck),
    )
        .prop_map(|(packet_id, reasons, properties)| {
            Packet::SubAck(SubAck {
                packet_id,
                reasons,
                properties,
            })
        })
}

fn unsubscribe(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        vec(topic_filter(), 1..4),
        props_for(v, Ctx::Unsubscribe),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn unsuback(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let count = if v == V5 { 0..4usize } else { 0..1 };
    (
        packet_id(),
        vec(reason(UNSUBACK_V5), count),
        props_for(v, Ctx::UnsubAck),
    )
        .prop_map(|(packet_id, reasons, properties)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                reasons,
                properties,
            })
        })
}

fn disconnect(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let codes = if v == V5 { DISCONNECT_V5 } else { SUCCESS };
    (reason(codes), props_for(v, Ctx::Disconnect))
        .prop_map(|(reason, properties)| Packet::Disconnect(Disconnect { reason, properties }))
}

fn auth() -> impl Strategy<Value = Packet> {
    (reason(AUTH_V5), any_properties(Ctx::Auth))
        .prop_map(|(reason, properties)| Packet::Auth(Auth { reason, properties }))
}

fn packet(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let common = prop_oneof![
        connect(v),
        connack(v),
        publish(v),
        pub_response(v, PUBACK_V5).prop_map(Packet::PubAck),
        pub_response(v, PUBACK_V5).prop_map(Packet::PubRec),
        pub_response(v, PUBREL_V5).prop_map(Packet::PubRel),
        pub_response(v, PUBREL_V5).prop_map(Packet::PubComp),
        subscribe(v),
        suback(v),
        unsubscribe(v),
        unsuback(v),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        disconnect(v),
    ];
    if v == V5 {
        prop_oneof![13 => common, 1 => auth()].boxed()
    } else {
        common.boxed()
    }
}

fn check(packet: &Packet, v: ProtocolVersion, split: prop::sample::Index) {
    let mut buf = BytesMut::new();
    let size = encode(packet, v, &mut buf).expect("valid packet encodes");
    assert_eq!(size, buf.len());

    let cut = split.index(size);
    let mut prefix = BytesMut::from(&buf[..cut]);
    assert_eq!(decode(&mut prefix, v, size), Ok(None));
    assert_eq!(prefix.len(), cut);

    let mut too_small = buf.clone();
    assert_eq!(
        decode(&mut too_small, v, size - 1),
        Err(DecodeError::PacketTooLarge {
            size,
            max: size - 1
        })
    );

    // The caller's version must not matter for CONNECT.
    let other = if v == V5 { V311 } else { V5 };
    let decode_as = if matches!(packet, Packet::Connect(_)) {
        other
    } else {
        v
    };
    let decoded = decode(&mut buf, decode_as, size)
        .expect("decodes")
        .expect("complete");
    assert_eq!(&decoded, packet);
    assert!(buf.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn v311_round_trip(p in packet(V311), split in any::<prop::sample::Index>()) {
        check(&p, V311, split);
    }

    #[test]
    fn v5_round_trip(p in packet(V5), split in any::<prop::sample::Index>()) {
        check(&p, V5, split);
    }

    /// Several packets back to back decode one by one from a single buffer.
    #[test]
    fn v5_stream(ps in vec(packet(V5), 1..6)) {
        let mut buf = BytesMut::new();
        for p in &ps {
            encode(p, V5, &mut buf).expect("encodes");
        }
        for p in &ps {
            let got = decode(&mut buf, V5, usize::MAX).expect("decodes").expect("complete");
            prop_assert_eq!(&got, p);
        }
        prop_assert!(buf.is_empty());
    }
}
