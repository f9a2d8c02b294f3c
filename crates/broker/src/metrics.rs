//! Prometheus metrics of the broker, named `ferrite_mqtt_*`. Hot counters are plain atomics;
//! labelled families are only touched on rare events (drops, disconnects).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TapLabel {
    pub tap: &'static str,
}

#[derive(Default)]
pub struct Metrics {
    pub connections: Gauge,
    pub connections_total: Counter,
    pub connections_refused: Family<ReasonLabel, Counter>,
    pub messages_received: Counter,
    pub messages_sent: Counter,
    pub bytes_received: Counter,
    pub bytes_sent: Counter,
    pub messages_dropped: Family<ReasonLabel, Counter>,
    pub disconnects: Family<ReasonLabel, Counter>,
    pub sessions: Gauge,
    pub subscriptions: Gauge,
    pub retained_messages: Gauge,
    pub tap_dropped: Family<TapLabel, Counter>,
}

impl Metrics {
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("ferrite_mqtt");
        r.register(
            "connections",
            "Open MQTT connections",
            self.connections.clone(),
        );
        r.register(
            "connections",
            "Accepted MQTT connections",
            self.connections_total.clone(),
        );
        r.register(
            "connections_refused",
            "Connections refused, by reason",
            self.connections_refused.clone(),
        );
        r.register(
            "messages_received",
            "PUBLISH packets received",
            self.messages_received.clone(),
        );
        r.register(
            "messages_sent",
            "PUBLISH packets sent",
            self.messages_sent.clone(),
        );
        r.register(
            "received_bytes",
            "Bytes read from clients",
            self.bytes_received.clone(),
        );
        r.register(
            "sent_bytes",
            "Bytes written to clients",
            self.bytes_sent.clone(),
        );
        r.register(
            "messages_dropped",
            "Messages not delivered to a subscriber, by reason",
            self.messages_dropped.clone(),
        );
        r.register(
            "disconnects",
            "Closed connections, by reason",
            self.disconnects.clone(),
        );
        r.register(
            "sessions",
            "Sessions held (connected and persistent)",
            self.sessions.clone(),
        );
        r.register(
            "subscriptions",
            "Subscriptions held",
            self.subscriptions.clone(),
        );
        r.register(
            "retained_messages",
            "Retained messages held",
            self.retained_messages.clone(),
        );
        r.register(
            "tap_messages_dropped",
            "Messages a drop-policy tap had no room for, by tap",
            self.tap_dropped.clone(),
        );
    }

    pub fn dropped(&self, reason: &'static str) {
        self.messages_dropped
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    pub fn tap_dropped(&self, tap: &'static str) {
        self.tap_dropped.get_or_create(&TapLabel { tap }).inc();
    }

    pub fn disconnected(&self, reason: &'static str) {
        self.disconnects
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    pub fn refused(&self, reason: &'static str) {
        self.connections_refused
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }
}
