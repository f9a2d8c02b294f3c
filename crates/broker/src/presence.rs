//! The lifecycle seam: the moments a connection lives through (connected, subscribed,
//! unsubscribed, disconnected and why) told to a [`LifecycleObserver`], which the `events`
//! crate turns into AWS's `$aws/events/presence/...` and `$aws/events/subscriptions/...`
//! messages. Observed once per connection or per SUBSCRIBE/UNSUBSCRIBE, never per PUBLISH.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Hears the lifecycle of every connection whose client id may have events (AWS gives none
/// to ids containing `#` or `+`). Called on the connection's own task: implementations must
/// not block (queue the event and act on it elsewhere).
pub trait LifecycleObserver: Send + Sync + 'static {
    fn observe(&self, event: LifecycleEvent);
}

/// Nobody listens: the default, and what a broker without an events service runs with.
pub struct Unobserved;

impl LifecycleObserver for Unobserved {
    fn observe(&self, _event: LifecycleEvent) {}
}

/// One connection as its events name it; every event of the connection shares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionFacts {
    pub client_id: Arc<str>,
    /// Random, new for every connection; [`ConnectionFacts::session_identifier`] spells it
    /// as AWS does. Kept as a number: every connection holds these facts.
    pub session: u128,
    /// The authenticated principal (certificate id, custom authorizer principal id, access
    /// key id); `None` for anonymous clients.
    pub principal: Option<Arc<str>>,
    pub ip_address: Option<IpAddr>,
    /// AWS's `versionNumber`: increasing per client id, shared by a connect and its
    /// disconnect.
    pub version: i64,
}

impl ConnectionFacts {
    /// AWS's `sessionIdentifier`: 32 lowercase hex digits.
    pub fn session_identifier(&self) -> String {
        format!("{:032x}", self.session)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleEvent {
    /// CONNACK was sent.
    Connected {
        conn: Arc<ConnectionFacts>,
        at_ms: i64,
    },
    Disconnected {
        conn: Arc<ConnectionFacts>,
        at_ms: i64,
        reason: DisconnectReason,
    },
    /// A SUBSCRIBE granted these filters (refused ones are left out).
    Subscribed {
        conn: Arc<ConnectionFacts>,
        at_ms: i64,
        topics: Vec<String>,
    },
    /// The filters an UNSUBSCRIBE named.
    Unsubscribed {
        conn: Arc<ConnectionFacts>,
        at_ms: i64,
        topics: Vec<String>,
    },
}

/// Why a connection ended, as far as the broker can tell (AWS's `disconnectReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// DISCONNECT packet.
    ClientInitiated,
    /// The socket closed or failed without a DISCONNECT.
    ConnectionLost,
    /// Another connection took over the client id.
    DuplicateClientId,
    /// No packet for 1.5 × keep-alive.
    KeepAliveTimeout,
    /// A protocol violation: malformed or oversize packet, second CONNECT, bad topic alias…
    ClientError,
    /// Permissions withdrawn mid-connection, or a publish the policy refuses (MQTT 3.1.1).
    AuthError,
    /// The server is shutting down.
    ServerInitiated,
    /// A custom authorizer's `disconnectAfterInSeconds` ran out.
    CustomAuthTtlExpiration,
    /// The iot-data DeleteConnection API.
    ApiInitiated,
    /// A SigV4 WebSocket connection reached its maximum lifetime
    /// (`mqtt.websocket_max_lifetime_secs`).
    WebSocketTtlExpiration,
    /// The connection went over its publish rate or throughput limit and stayed over it
    /// (`mqtt.max_publishes_per_sec`, `mqtt.max_bytes_per_sec`).
    Throttled,
    /// Ferrite failed, not the client (a panic while serving the connection).
    ServerError,
}

impl DisconnectReason {
    /// The value AWS's `disconnectReason` field carries.
    pub fn aws_name(self) -> &'static str {
        match self {
            DisconnectReason::ClientInitiated => "CLIENT_INITIATED_DISCONNECT",
            DisconnectReason::ConnectionLost => "CONNECTION_LOST",
            DisconnectReason::DuplicateClientId => "DUPLICATE_CLIENTID",
            DisconnectReason::KeepAliveTimeout => "MQTT_KEEP_ALIVE_TIMEOUT",
            DisconnectReason::ClientError => "CLIENT_ERROR",
            DisconnectReason::AuthError => "AUTH_ERROR",
            DisconnectReason::ServerInitiated => "SERVER_INITIATED_DISCONNECT",
            DisconnectReason::CustomAuthTtlExpiration => "CUSTOMAUTH_TTL_EXPIRATION",
            DisconnectReason::ApiInitiated => "API_INITIATED_DISCONNECT",
            DisconnectReason::WebSocketTtlExpiration => "WEBSOCKET_TTL_EXPIRATION",
            DisconnectReason::Throttled => "THROTTLED",
            DisconnectReason::ServerError => "SERVER_ERROR",
        }
    }

    /// AWS's `clientInitiatedDisconnect`.
    pub fn client_initiated(self) -> bool {
        self == DisconnectReason::ClientInitiated
    }

    /// The reason behind a connection's exit, by the metric label the exit carries (one
    /// vocabulary for metrics, logs and events).
    pub(crate) fn from_exit(metric: &str) -> DisconnectReason {
        match metric {
            "client_disconnect" | "client_disconnect_with_will" => {
                DisconnectReason::ClientInitiated
            }
            "closed_by_client" | "io_error" | "write_timeout" => DisconnectReason::ConnectionLost,
            "taken_over" => DisconnectReason::DuplicateClientId,
            "keep_alive_timeout" => DisconnectReason::KeepAliveTimeout,
            "not_authorized" | "publish_not_authorized" => DisconnectReason::AuthError,
            "shutdown" => DisconnectReason::ServerInitiated,
            "credentials_expired" => DisconnectReason::CustomAuthTtlExpiration,
            "api_disconnect" => DisconnectReason::ApiInitiated,
            "websocket_ttl_expired" => DisconnectReason::WebSocketTtlExpiration,
            "throttled" => DisconnectReason::Throttled,
            "server_error" => DisconnectReason::ServerError,
            _ => DisconnectReason::ClientError,
        }
    }
}

/// Whether a client id may have lifecycle events: AWS gives none to ids with `#` or `+`.
pub(crate) fn has_events(client_id: &str) -> bool {
    !client_id.contains(['#', '+'])
}

/// Hands out version numbers that increase across the node and across restarts: the wall
/// clock's milliseconds, or one more than the last number when the clock has not moved on
/// (AWS's numbers may skip values; consumers only compare them).
#[derive(Debug, Default)]
pub(crate) struct Versions {
    last: AtomicI64,
}

impl Versions {
    pub fn next(&self, now_ms: i64) -> i64 {
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = now_ms.max(prev + 1);
            match self
                .last
                .compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(actual) => prev = actual,
            }
        }
    }
}

/// A fresh session number.
pub(crate) fn new_session() -> u128 {
    uuid::Uuid::new_v4().as_u128()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_even_when_the_clock_stands_still_or_goes_back() {
        let v = Versions::default();
        let a = v.next(1000);
        let b = v.next(1000);
        let c = v.next(900);
        let d = v.next(5000);
        assert!(a < b && b < c && c < d, "{a} {b} {c} {d}");
        assert_eq!(d, 5000);
    }

    #[test]
    fn exits_map_to_aws_reasons() {
        for (metric, aws) in [
            ("client_disconnect", "CLIENT_INITIATED_DISCONNECT"),
            ("closed_by_client", "CONNECTION_LOST"),
            ("taken_over", "DUPLICATE_CLIENTID"),
            ("keep_alive_timeout", "MQTT_KEEP_ALIVE_TIMEOUT"),
            ("malformed_packet", "CLIENT_ERROR"),
            ("protocol_error", "CLIENT_ERROR"),
            ("not_authorized", "AUTH_ERROR"),
            ("shutdown", "SERVER_INITIATED_DISCONNECT"),
            ("credentials_expired", "CUSTOMAUTH_TTL_EXPIRATION"),
            ("api_disconnect", "API_INITIATED_DISCONNECT"),
            ("websocket_ttl_expired", "WEBSOCKET_TTL_EXPIRATION"),
            ("throttled", "THROTTLED"),
            ("server_error", "SERVER_ERROR"),
        ] {
            assert_eq!(DisconnectReason::from_exit(metric).aws_name(), aws);
        }
        assert!(DisconnectReason::ClientInitiated.client_initiated());
        assert!(!DisconnectReason::ConnectionLost.client_initiated());
    }

    #[test]
    fn wildcard_client_ids_have_no_events() {
        assert!(has_events("lamp-1"));
        assert!(!has_events("a#b"));
        assert!(!has_events("a+b"));
    }

    #[test]
    fn session_identifiers_are_32_hex_digits() {
        let facts = |session| ConnectionFacts {
            client_id: Arc::from("c"),
            session,
            principal: None,
            ip_address: None,
            version: 0,
        };
        let id = facts(new_session()).session_identifier();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, facts(new_session()).session_identifier());
        assert_eq!(
            facts(1).session_identifier(),
            format!("{}1", "0".repeat(31))
        );
    }
}
