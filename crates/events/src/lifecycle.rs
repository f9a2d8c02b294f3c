//! Lifecycle events (always on): the broker's [`LifecycleEvent`]s as AWS's topics and
//! payloads, and the observer that queues them off the connection's task.

use std::sync::Arc;

use ferrite_broker::{ConnectionFacts, LifecycleEvent, LifecycleObserver};
use prometheus_client::metrics::counter::Counter;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Queues lifecycle events for the events service. Never blocks: when the queue is full the
/// event is dropped and counted (AWS delivers events at most best-effort too).
pub struct QueueObserver {
    pub(crate) tx: mpsc::Sender<LifecycleEvent>,
    pub(crate) dropped: Counter,
}

impl LifecycleObserver for QueueObserver {
    fn observe(&self, event: LifecycleEvent) {
        if self.tx.try_send(event).is_err() {
            self.dropped.inc();
        }
    }
}

/// The topic and payload of one lifecycle event.
pub fn message(event: &LifecycleEvent) -> (String, Value) {
    match event {
        LifecycleEvent::Connected { conn, at_ms } => {
            let mut body = common(conn, *at_ms, "connected");
            body["ipAddress"] = json!(conn.ip_address.map(|ip| ip.to_string()));
            body["versionNumber"] = json!(conn.version);
            (
                format!("$aws/events/presence/connected/{}", conn.client_id),
                body,
            )
        }
        LifecycleEvent::Disconnected {
            conn,
            at_ms,
            reason,
        } => {
            let mut body = common(conn, *at_ms, "disconnected");
            body["clientInitiatedDisconnect"] = json!(reason.client_initiated());
            body["disconnectReason"] = json!(reason.aws_name());
            body["versionNumber"] = json!(conn.version);
            (
                format!("$aws/events/presence/disconnected/{}", conn.client_id),
                body,
            )
        }
        LifecycleEvent::Subscribed {
            conn,
            at_ms,
            topics,
        } => {
            let mut body = common(conn, *at_ms, "subscribed");
            body["topics"] = json!(topics);
            (
                format!("$aws/events/subscriptions/subscribed/{}", conn.client_id),
                body,
            )
        }
        LifecycleEvent::Unsubscribed {
            conn,
            at_ms,
            topics,
        } => {
            let mut body = common(conn, *at_ms, "unsubscribed");
            body["topics"] = json!(topics);
            (
                format!("$aws/events/subscriptions/unsubscribed/{}", conn.client_id),
                body,
            )
        }
    }
}

/// The fields every lifecycle payload has.
fn common(conn: &Arc<ConnectionFacts>, at_ms: i64, event_type: &str) -> Value {
    json!({
        "clientId": &*conn.client_id,
        "timestamp": at_ms,
        "eventType": event_type,
        "sessionIdentifier": conn.session_identifier(),
        "principalIdentifier": conn.principal.as_deref(),
    })
}

#[cfg(test)]
mod tests {
    use ferrite_broker::DisconnectReason;

    use super::*;

    fn facts() -> Arc<ConnectionFacts> {
        Arc::new(ConnectionFacts {
            client_id: Arc::from("186b5"),
            session: 0xa4666d2a7d844ae4ac5d7b38c9cb7967,
            principal: Some(Arc::from("ab12")),
            ip_address: Some("192.0.2.0".parse().unwrap()),
            version: 7,
        })
    }

    #[test]
    fn connected_has_the_fields_of_aws() {
        let (topic, body) = message(&LifecycleEvent::Connected {
            conn: facts(),
            at_ms: 1573002230757,
        });
        assert_eq!(topic, "$aws/events/presence/connected/186b5");
        assert_eq!(
            body,
            json!({"clientId": "186b5", "timestamp": 1573002230757_i64, "eventType": "connected",
                   "sessionIdentifier": "a4666d2a7d844ae4ac5d7b38c9cb7967",
                   "principalIdentifier": "ab12", "ipAddress": "192.0.2.0", "versionNumber": 7})
        );
    }

    #[test]
    fn disconnected_says_why_and_shares_the_version() {
        let (topic, body) = message(&LifecycleEvent::Disconnected {
            conn: facts(),
            at_ms: 5,
            reason: DisconnectReason::ClientInitiated,
        });
        assert_eq!(topic, "$aws/events/presence/disconnected/186b5");
        assert_eq!(
            body,
            json!({"clientId": "186b5", "timestamp": 5, "eventType": "disconnected",
                   "sessionIdentifier": "a4666d2a7d844ae4ac5d7b38c9cb7967",
                   "principalIdentifier": "ab12", "clientInitiatedDisconnect": true,
                   "disconnectReason": "CLIENT_INITIATED_DISCONNECT", "versionNumber": 7})
        );
    }

    #[test]
    fn subscriptions_list_their_topics() {
        let (topic, body) = message(&LifecycleEvent::Unsubscribed {
            conn: facts(),
            at_ms: 5,
            topics: vec!["foo/bar".into(), "device/data".into()],
        });
        assert_eq!(topic, "$aws/events/subscriptions/unsubscribed/186b5");
        assert_eq!(body["eventType"], "unsubscribed");
        assert_eq!(body["topics"], json!(["foo/bar", "device/data"]));
        assert!(body.get("ipAddress").is_none());
        assert!(body.get("versionNumber").is_none());
    }
}
