//! The in-process message: what the broker routes, taps, queues, retains and persists, and
//! what the services above it (shadows, rules, jobs, events) receive and publish.

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use ferrite_mqtt_codec::{Properties, ProtocolVersion, QoS};

use crate::clock::Clock;

/// How a message entered Ferrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A client's PUBLISH or will.
    Mqtt(ProtocolVersion),
    /// iot-data Publish over HTTPS.
    Http,
    /// Published by a Ferrite service itself (shadow responses, job notifications, rule
    /// republishes, lifecycle events); the name says which.
    Service(&'static str),
}

/// Who published a message, as the rules SQL (`clientid()`, `principal()`, `sourceip()`) and
/// the event messages need it. A connection builds its origin once at CONNECT and shares it
/// with every message it publishes, so a publish costs one reference count, not a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The MQTT client id; `None` for HTTP and service messages.
    pub client_id: Option<Arc<str>>,
    /// The authenticated principal: a certificate id, a custom authorizer's principal id,
    /// an access key id; `None` for anonymous clients and services.
    pub principal: Option<Arc<str>>,
    /// The publisher's IP address; `None` for services.
    pub source_ip: Option<IpAddr>,
    pub protocol: Protocol,
    /// The node that received the message (the cluster's node id).
    pub node: Arc<str>,
}

/// The node id of a server that is not part of a cluster.
pub const LOCAL_NODE: &str = "local";

impl Origin {
    /// The origin of messages a service publishes on this node.
    pub fn service(name: &'static str, node: Arc<str>) -> Origin {
        Origin {
            client_id: None,
            principal: None,
            source_ip: None,
            protocol: Protocol::Service(name),
            node,
        }
    }

    /// Whether `client_id` published this (MQTT 5 No Local).
    pub fn is_client(&self, client_id: &str) -> bool {
        self.client_id.as_deref() == Some(client_id)
    }
}

/// A published message. Shared by `Arc` between every queue and tap it is routed to; the
/// payload is never copied per subscriber.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: Arc<str>,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// The MQTT 5 properties that travel end to end (payload format, content type, response
    /// topic, correlation data, user properties). Per-hop ones (topic alias, subscription
    /// ids) are never here.
    pub properties: Properties,
    pub received_at_ms: i64,
    /// Derived from the Message Expiry Interval at receipt; `None` = never expires.
    pub expires_at_ms: Option<i64>,
    pub origin: Arc<Origin>,
}

impl Message {
    /// A message from publish fields (a client's PUBLISH or will, an HTTP publish), keeping
    /// only the properties that travel end to end. `now_ms` starts the expiry interval.
    pub fn new(
        topic: Arc<str>,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        props: &Properties,
        origin: Arc<Origin>,
        now_ms: i64,
    ) -> Message {
        let properties = Properties {
            payload_format_indicator: props.payload_format_indicator,
            content_type: props.content_type.clone(),
            response_topic: props.response_topic.clone(),
            correlation_data: props.correlation_data.clone(),
            user_properties: props.user_properties.clone(),
            ..Properties::default()
        };
        Message {
            topic,
            payload,
            qos,
            retain,
            properties,
            received_at_ms: now_ms,
            expires_at_ms: props
                .message_expiry_interval
                .map(|secs| now_ms + i64::from(secs) * 1000),
            origin,
        }
    }

    /// The one constructor for what a service publishes: not retained, no properties, stamped
    /// with the system clock. `service` names the publisher in the message's origin.
    pub fn from_service(
        service: &'static str,
        topic: impl Into<Arc<str>>,
        payload: impl Into<Bytes>,
        qos: QoS,
    ) -> Message {
        Message {
            topic: topic.into(),
            payload: payload.into(),
            qos,
            retain: false,
            properties: Properties::default(),
            received_at_ms: Clock::system().now_ms(),
            expires_at_ms: None,
            origin: Arc::new(Origin::service(service, local_node())),
        }
    }

    /// A copy whose payload and correlation data own their bytes. Decoded payloads are slices
    /// of the connection's read buffer (up to 64 KiB), so a message kept for long (retained,
    /// queued for an offline session) would otherwise keep that whole buffer alive.
    pub fn detached(&self) -> Message {
        let mut m = self.clone();
        m.payload = Bytes::copy_from_slice(&self.payload);
        m.properties.correlation_data = self
            .properties
            .correlation_data
            .as_ref()
            .map(|c| Bytes::copy_from_slice(c));
        m
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|t| now_ms >= t)
    }

    /// Seconds left for the Message Expiry Interval sent onward (MQTT 5 spec 3.3.2.3.3).
    pub fn remaining_expiry_secs(&self, now_ms: i64) -> Option<u32> {
        self.expires_at_ms
            .map(|t| u32::try_from(((t - now_ms).max(0) as u64).div_ceil(1000)).unwrap_or(u32::MAX))
    }
}

/// The shared node id of a server outside a cluster.
pub fn local_node() -> Arc<str> {
    static LOCAL: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from(LOCAL_NODE));
    LOCAL.clone()
}

/// The origin of messages restored from the store, whose publisher is no longer known.
pub fn unknown_origin() -> Arc<Origin> {
    static UNKNOWN: LazyLock<Arc<Origin>> =
        LazyLock::new(|| Arc::new(Origin::service("restored", local_node())));
    UNKNOWN.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detached_messages_do_not_keep_the_read_buffer_alive() {
        let buffer = Bytes::from(vec![7u8; 64 * 1024]);
        let props = Properties {
            correlation_data: Some(buffer.slice(10..20)),
            ..Properties::default()
        };
        let m = Message::new(
            "t".into(),
            buffer.slice(0..10),
            QoS::AtLeastOnce,
            true,
            &props,
            unknown_origin(),
            0,
        );
        let d = m.detached();
        let inside = |b: &Bytes| {
            let range = buffer.as_ptr() as usize..buffer.as_ptr() as usize + buffer.len();
            range.contains(&(b.as_ptr() as usize))
        };
        assert!(inside(&m.payload));
        assert!(!inside(&d.payload));
        assert!(!inside(d.properties.correlation_data.as_ref().unwrap()));
        assert_eq!(
            (d.payload, d.properties.correlation_data),
            (m.payload, m.properties.correlation_data)
        );
    }

    #[test]
    fn expiry_counts_from_receipt_and_rounds_up() {
        let props = Properties {
            message_expiry_interval: Some(10),
            ..Properties::default()
        };
        let m = Message::new(
            "t".into(),
            Bytes::new(),
            QoS::AtMostOnce,
            false,
            &props,
            unknown_origin(),
            1_000,
        );
        assert_eq!(m.expires_at_ms, Some(11_000));
        assert_eq!(m.remaining_expiry_secs(1_001), Some(10));
        assert!(!m.is_expired(10_999));
        assert!(m.is_expired(11_000));
    }
}
