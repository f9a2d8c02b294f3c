//! The lifecycle seam on one broker: what a `LifecycleObserver` hears, in order, for the
//! reasons only the broker can produce (protocol errors, shutdown) and for client ids that
//! must have no events.

use std::sync::Arc;
use std::time::Duration;

use ferrite_broker::{DisconnectReason, LifecycleEvent, LifecycleObserver, Seams};
use ferrite_config::MqttConfig;
use ferrite_mqtt_codec::{Packet, Properties, QoS};
use ferrite_test_support::BrokerHarness;
use parking_lot::Mutex;

#[derive(Default)]
struct Recorder(Mutex<Vec<LifecycleEvent>>);

impl LifecycleObserver for Recorder {
    fn observe(&self, event: LifecycleEvent) {
        self.0.lock().push(event);
    }
}

impl Recorder {
    fn names(&self) -> Vec<String> {
        self.0
            .lock()
            .iter()
            .map(|e| match e {
                LifecycleEvent::Connected { conn, .. } => format!("connected {}", conn.client_id),
                LifecycleEvent::Disconnected { conn, reason, .. } => {
                    format!("disconnected {} {}", conn.client_id, reason.aws_name())
                }
                LifecycleEvent::Subscribed { conn, topics, .. } => {
                    format!("subscribed {} {topics:?}", conn.client_id)
                }
                LifecycleEvent::Unsubscribed { conn, topics, .. } => {
                    format!("unsubscribed {} {topics:?}", conn.client_id)
                }
            })
            .collect()
    }
}

async fn harness(recorder: &Arc<Recorder>) -> BrokerHarness {
    let seams = Seams {
        lifecycle: recorder.clone(),
        ..Seams::default()
    };
    BrokerHarness::start_with(MqttConfig::default(), seams).await
}

#[tokio::test(start_paused = true)]
async fn a_protocol_violation_is_a_client_error() {
    let rec = Arc::new(Recorder::default());
    let h = harness(&rec).await;
    let (mut c, _) = h.connect_v5("bad", true, Properties::default()).await;
    c.subscribe("a/b", QoS::AtLeastOnce).await;
    // A second CONNECT on one connection breaks the protocol.
    c.send(&Packet::Connect(ferrite_test_support::connect_packet(
        ferrite_mqtt_codec::ProtocolVersion::V5,
        "bad",
        true,
    )))
    .await;
    c.expect_closed().await;
    h.broker.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        rec.names(),
        [
            "connected bad",
            "subscribed bad [\"a/b\"]",
            "disconnected bad CLIENT_ERROR"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_is_server_initiated_and_versions_pair_up() {
    let rec = Arc::new(Recorder::default());
    let h = harness(&rec).await;
    let (mut c, _) = h.connect_v311("stays", true).await;
    h.broker.shutdown(Duration::from_secs(5)).await;
    c.expect_closed().await;
    let events = rec.0.lock().clone();
    let [
        LifecycleEvent::Connected { conn: a, .. },
        LifecycleEvent::Disconnected {
            conn: b, reason, ..
        },
    ] = &events[..]
    else {
        panic!("{events:?}");
    };
    assert_eq!(*reason, DisconnectReason::ServerInitiated);
    assert_eq!(a.version, b.version);
    assert_eq!(a.session, b.session);
}

#[tokio::test(start_paused = true)]
async fn wildcard_client_ids_are_not_observed() {
    let rec = Arc::new(Recorder::default());
    let h = harness(&rec).await;
    let (mut c, _) = h.connect_v311("a+b", true).await;
    c.subscribe("x", QoS::AtMostOnce).await;
    c.disconnect().await;
    let (c, _) = h.connect_v311("plain", true).await;
    c.disconnect().await;
    assert_eq!(
        rec.names(),
        [
            "connected plain",
            "disconnected plain CLIENT_INITIATED_DISCONNECT"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn publishes_are_not_observed() {
    // Lifecycle events are per connection and per SUBSCRIBE/UNSUBSCRIBE: the PUBLISH path
    // must not reach the observer at all.
    let rec = Arc::new(Recorder::default());
    let h = harness(&rec).await;
    let (mut sub, _) = h.connect_v311("sub", true).await;
    sub.subscribe("t/#", QoS::AtMostOnce).await;
    let (mut publisher, _) = h.connect_v311("pub", true).await;
    let before = rec.names();
    for _ in 0..100 {
        publisher
            .publish_with(ferrite_test_support::publish(
                "t/x",
                b"x",
                QoS::AtMostOnce,
                false,
            ))
            .await;
    }
    for _ in 0..100 {
        sub.recv_publish().await;
    }
    assert_eq!(rec.names(), before);
    assert_eq!(before.len(), 3, "{before:?}");
}

/// Lets everyone in and keeps each connection's revoker, as the identity service does.
#[derive(Default)]
struct KeepRevokers(Mutex<Vec<ferrite_broker::Revoker>>);

impl ferrite_broker::Authorizer for KeepRevokers {
    fn connect<'a>(
        &'a self,
        ctx: ferrite_broker::ConnectContext<'a>,
    ) -> ferrite_broker::ConnectFuture<'a> {
        self.0.lock().push(ctx.revoker.clone());
        Box::pin(async { Ok(ferrite_broker::allow_all()) })
    }
}

#[tokio::test(start_paused = true)]
async fn expired_credentials_and_revocation_have_their_own_reasons() {
    let rec = Arc::new(Recorder::default());
    let auth = Arc::new(KeepRevokers::default());
    let seams = Seams {
        lifecycle: rec.clone(),
        ..Seams::default()
    };
    let h = BrokerHarness::start_with_auth(MqttConfig::default(), seams, auth.clone()).await;
    let (mut ttl, _) = h.connect_v5("ttl", true, Properties::default()).await;
    let (mut revoked, _) = h.connect_v5("revoked", true, Properties::default()).await;
    let revokers = auth.0.lock().clone();
    let [a, b] = &revokers[..] else {
        panic!("two connections")
    };
    // A custom authorizer's disconnectAfterInSeconds ran out; a certificate was revoked.
    a.expire();
    b.revoke();
    for c in [&mut ttl, &mut revoked] {
        match c.recv().await {
            Packet::Disconnect(d) => {
                assert_eq!(d.reason, ferrite_mqtt_codec::ReasonCode::NotAuthorized)
            }
            other => panic!("expected DISCONNECT, got {other:?}"),
        }
    }
    h.broker.shutdown(Duration::from_secs(5)).await;
    let mut names = rec.names();
    names.sort();
    assert_eq!(
        names,
        [
            "connected revoked",
            "connected ttl",
            "disconnected revoked AUTH_ERROR",
            "disconnected ttl CUSTOMAUTH_TTL_EXPIRATION",
        ]
    );
}
