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

/// Connects `client_id` (MQTT 5) with a will on `gone/{client_id}`.
async fn connect_with_will(h: &BrokerHarness, client_id: &str) -> ferrite_test_support::TestClient {
    let mut c = h.open_client(ferrite_mqtt_codec::ProtocolVersion::V5);
    let mut p = ferrite_test_support::connect_packet(
        ferrite_mqtt_codec::ProtocolVersion::V5,
        client_id,
        true,
    );
    p.keep_alive = 0;
    let ack = c
        .connect_with(ferrite_test_support::with_will(
            p,
            &format!("gone/{client_id}"),
            None,
        ))
        .await;
    assert_eq!(ack.reason, ferrite_mqtt_codec::ReasonCode::Success);
    c
}

#[tokio::test(start_paused = true)]
async fn a_websocket_past_its_lifetime_gets_maximum_connect_time_and_its_will_goes_out() {
    let rec = Arc::new(Recorder::default());
    let auth = Arc::new(KeepRevokers::default());
    let seams = Seams {
        lifecycle: rec.clone(),
        ..Seams::default()
    };
    let h = BrokerHarness::start_with_auth(MqttConfig::default(), seams, auth.clone()).await;
    let (mut watcher, _) = h.connect_v311("watcher", true).await;
    watcher.subscribe("gone/#", QoS::AtLeastOnce).await;
    let mut ws = connect_with_will(&h, "ws").await;
    let revoker = auth.0.lock()[1].clone();
    assert!(!revoker.is_closed());
    // What the identity service does when a SigV4 WebSocket connection is 24 hours old.
    revoker.websocket_ttl_expired();
    match ws.expect_closed().await {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason, ferrite_mqtt_codec::ReasonCode::MaximumConnectTime)
        }
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert_eq!(watcher.recv_publish().await.topic, "gone/ws");
    h.broker.shutdown(Duration::from_secs(5)).await;
    assert!(
        rec.names()
            .contains(&"disconnected ws WEBSOCKET_TTL_EXPIRATION".to_string()),
        "{:?}",
        rec.names()
    );
}

#[tokio::test(start_paused = true)]
async fn a_connection_ends_its_revokers_wait() {
    // Timers the authorizer keeps for a connection (custom authorizer refreshes, the SigV4
    // WebSocket lifetime) wait on `Revoker::closed`: it must fire when the connection ends
    // on its own, or each timer would outlive its connection.
    let auth = Arc::new(KeepRevokers::default());
    let h =
        BrokerHarness::start_with_auth(MqttConfig::default(), Seams::default(), auth.clone()).await;
    let (c, _) = h.connect_v311("short", true).await;
    let revoker = auth.0.lock()[0].clone();
    assert!(!revoker.is_closed());
    c.disconnect().await;
    tokio::time::timeout(Duration::from_secs(5), revoker.closed())
        .await
        .expect("the revoker closes with its connection");
}

/// Lets everyone in with permissions that panic on the topic `boom`: a bug on the server's
/// side, met while serving a connection.
struct PanicsOnBoom;

impl ferrite_broker::Permissions for PanicsOnBoom {
    fn publish(&self, topic: &str, _retain: bool) -> bool {
        assert_ne!(topic, "boom", "permissions failed");
        true
    }
    fn subscribe(&self, _filter: &str) -> bool {
        true
    }
    fn receive(&self, _topic: &str) -> bool {
        true
    }
    fn allows(&self, _action: &str, _resource_type: &str, _name: &str) -> bool {
        true
    }
}

impl ferrite_broker::Authorizer for PanicsOnBoom {
    fn connect<'a>(
        &'a self,
        _ctx: ferrite_broker::ConnectContext<'a>,
    ) -> ferrite_broker::ConnectFuture<'a> {
        Box::pin(async { Ok(Arc::new(PanicsOnBoom) as Arc<dyn ferrite_broker::Permissions>) })
    }
}

#[tokio::test(start_paused = true)]
async fn an_internal_failure_is_a_server_error_and_the_client_id_stays_usable() {
    let rec = Arc::new(Recorder::default());
    let seams = Seams {
        lifecycle: rec.clone(),
        ..Seams::default()
    };
    let h =
        BrokerHarness::start_with_auth(MqttConfig::default(), seams, Arc::new(PanicsOnBoom)).await;
    let (mut watcher, _) = h.connect_v311("watcher", true).await;
    watcher.subscribe("gone/#", QoS::AtLeastOnce).await;
    let mut victim = connect_with_will(&h, "victim").await;
    victim
        .send(&Packet::Publish(ferrite_test_support::publish(
            "boom",
            b"x",
            QoS::AtMostOnce,
            false,
        )))
        .await;
    match victim.expect_closed().await {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason, ferrite_mqtt_codec::ReasonCode::UnspecifiedError)
        }
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert_eq!(watcher.recv_publish().await.topic, "gone/victim");
    // The session was let go: the client id connects again at once (no take-over wait).
    let (again, ack) = h.connect_v5("victim", false, Properties::default()).await;
    assert!(!ack.session_present);
    again.disconnect().await;
    h.broker.shutdown(Duration::from_secs(5)).await;
    let names = rec.names();
    assert!(
        names.contains(&"disconnected victim SERVER_ERROR".to_string()),
        "{names:?}"
    );
}
