//! The in-process message: what the broker routes, queues, retains and persists.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ferrite_mqtt_codec::{Properties, QoS};

/// A published message. Shared by `Arc` between every queue it is routed to; the payload is
/// never copied per subscriber.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: Arc<str>,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// The MQTT 5 properties forwarded to subscribers (format, content type, response topic,
    /// correlation data, user properties). Per-hop ones (alias, subscription ids) are absent.
    pub properties: Properties,
    pub received_at_ms: i64,
    /// Derived from the Message Expiry Interval at receipt; `None` = never expires.
    pub expires_at_ms: Option<i64>,
    /// The publishing client, for No Local; `None` for messages the server publishes.
    pub origin: Option<Arc<str>>,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Message {
    /// Builds a message from publish fields, keeping only properties that travel end to end.
    pub fn new(
        topic: Arc<str>,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        props: &Properties,
        origin: Option<Arc<str>>,
    ) -> Message {
        let received_at_ms = now_ms();
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
            received_at_ms,
            expires_at_ms: props
                .message_expiry_interval
                .map(|secs| received_at_ms + i64::from(secs) * 1000),
            origin,
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

    /// Seconds left for the Message Expiry Interval sent onward (spec 3.3.2.3.3).
    pub fn remaining_expiry_secs(&self, now_ms: i64) -> Option<u32> {
        self.expires_at_ms
            .map(|t| ((t - now_ms).max(0) as u64).div_ceil(1000) as u32)
    }
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
            None,
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
}
