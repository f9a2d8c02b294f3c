//! `Broker::delete_connection` (iot-data DeleteConnection): the lifecycle reason and MQTT 5
//! DISCONNECT it closes with, the will it publishes or withholds, and the session it keeps or
//! discards, on Tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use ferrite_broker::{BrokerError, LifecycleEvent, LifecycleObserver, Seams};
use ferrite_config::MqttConfig;
use ferrite_mqtt_codec::{Packet, Properties, ProtocolVersion, QoS, ReasonCode};
use ferrite_test_support::{BrokerHarness, connect_packet, publish, with_will};
use parking_lot::Mutex;
use tokio::time::Instant;

#[derive(Default)]
struct Reasons(Mutex<Vec<String>>);

impl LifecycleObserver for Reasons {
    fn observe(&self, event: LifecycleEvent) {
        if let LifecycleEvent::Disconnected { conn, reason, .. } = event {
            self.0
                .lock()
                .push(format!("{} {}", conn.client_id, reason.aws_name()));
        }
    }
}

fn persistent(secs: u32) -> Properties {
    Properties {
        session_expiry_interval: Some(secs),
        ..Properties::default()
    }
}

#[tokio::test(start_paused = true)]
async fn the_client_is_told_administrative_action_and_the_event_says_api_initiated() {
    let reasons = Arc::new(Reasons::default());
    let seams = Seams {
        lifecycle: reasons.clone(),
        ..Seams::default()
    };
    let h = BrokerHarness::start_with(MqttConfig::default(), seams).await;
    let (mut v5, _) = h.connect_v5("kicked-5", true, Properties::default()).await;
    let (mut v3, _) = h.connect_v311("kicked-3", true).await;

    h.broker
        .delete_connection("kicked-5", false, false)
        .await
        .unwrap();
    // [VERIFY] AWS's DISCONNECT reason for DeleteConnection; 0x98 is MQTT 5's "Administrative
    // action".
    match v5.expect_closed().await {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason, ReasonCode::AdministrativeAction);
            assert_eq!(
                d.properties.reason_string.as_deref(),
                Some("api disconnect")
            );
        }
        other => panic!("expected DISCONNECT 0x98, got {other:?}"),
    }
    h.broker
        .delete_connection("kicked-3", false, false)
        .await
        .unwrap();
    // MQTT 3.1.1 has no server DISCONNECT: the socket just closes.
    assert_eq!(v3.expect_closed().await, None);

    assert_eq!(
        *reasons.0.lock(),
        [
            "kicked-5 API_INITIATED_DISCONNECT",
            "kicked-3 API_INITIATED_DISCONNECT"
        ]
    );
    // The call returns once the session is released: the client id is free to connect again.
    let (_back, ack) = h.connect_v5("kicked-5", true, Properties::default()).await;
    assert_eq!(ack.reason, ReasonCode::Success);
}

#[tokio::test(start_paused = true)]
async fn only_connected_clients_are_found() {
    let h = BrokerHarness::start(MqttConfig::default()).await;
    let missing = h.broker.delete_connection("nobody", false, false).await;
    assert!(
        matches!(&missing, Err(BrokerError::NotConnected { client_id }) if client_id == "nobody"),
        "{missing:?}"
    );
    // An offline persistent session is no connection.
    let (c, _) = h.connect_v311("parked", false).await;
    c.disconnect().await;
    assert!(matches!(
        h.broker.delete_connection("parked", true, false).await,
        Err(BrokerError::NotConnected { .. })
    ));
    // ...and is left alone.
    let (_c, ack) = h.connect_v311("parked", false).await;
    assert!(ack.session_present);
}

#[tokio::test(start_paused = true)]
async fn the_will_is_published_unless_prevented() {
    let h = BrokerHarness::start(MqttConfig::default()).await;
    let (mut watcher, _) = h.connect_v5("watcher", true, Properties::default()).await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;

    for (id, prevent) in [("told", false), ("hushed", true)] {
        let mut dev = h.open_client(ProtocolVersion::V5);
        dev.connect_with(with_will(
            connect_packet(ProtocolVersion::V5, id, true),
            &format!("wills/{id}"),
            None,
        ))
        .await;
        h.broker
            .delete_connection(id, false, prevent)
            .await
            .unwrap();
        dev.expect_closed().await;
    }
    let will = watcher.recv_publish().await;
    assert_eq!(will.topic, "wills/told");
    assert_eq!(&will.payload[..], b"gone");
    watcher.expect_silence(Duration::from_secs(5)).await;

    // A delayed will waits its delay when the session stays, and goes at once when
    // cleanSession ends the session with the connection (MQTT: whichever comes first).
    for (id, clean) in [("later", false), ("now", true)] {
        let mut c = with_will(
            connect_packet(ProtocolVersion::V5, id, true),
            &format!("wills/{id}"),
            Some(5),
        );
        c.properties.session_expiry_interval = Some(600);
        let mut dev = h.open_client(ProtocolVersion::V5);
        dev.connect_with(c).await;
        let kicked_at = Instant::now();
        h.broker.delete_connection(id, clean, false).await.unwrap();
        dev.expect_closed().await;
        let will = watcher.recv_publish().await;
        assert_eq!(will.topic, format!("wills/{id}"));
        let waited = if clean { 0 } else { 5 };
        assert_eq!(kicked_at.elapsed().as_secs(), waited, "{id}");
    }
}

#[tokio::test(start_paused = true)]
async fn clean_session_discards_the_persistent_session_and_its_record() {
    let h = BrokerHarness::start(MqttConfig::default()).await;
    let mut devices = Vec::new();
    for id in ["kept", "dropped"] {
        let (mut c, _) = h.connect_v311(id, false).await;
        c.subscribe(&format!("to/{id}"), QoS::AtLeastOnce).await;
        devices.push(c);
    }

    h.broker
        .delete_connection("kept", false, false)
        .await
        .unwrap();
    h.broker
        .delete_connection("dropped", true, false)
        .await
        .unwrap();
    assert_eq!(h.broker.session_count(), 1);
    for mut c in devices {
        c.expect_closed().await;
    }

    // The kept session queues what arrives while it is away; the dropped one is gone.
    let (mut sender, _) = h.connect_v311("sender", true).await;
    sender
        .publish_with(publish("to/kept", b"queued", QoS::AtLeastOnce, false))
        .await;

    // A restart rebuilds sessions from the store: the dropped one's record went with it.
    let h = h.restart().await;
    let (mut kept, ack) = h.connect_v311("kept", false).await;
    assert!(ack.session_present);
    assert_eq!(&kept.recv_publish().await.payload[..], b"queued");
    let (_dropped, ack) = h.connect_v311("dropped", false).await;
    assert!(!ack.session_present);
}

#[tokio::test(start_paused = true)]
async fn a_session_whose_expiry_became_zero_leaves_the_store() {
    // Connected persistent, then MQTT 5 DISCONNECT with expiry 0: the session ends, and its
    // stored record must not come back after a restart.
    let h = BrokerHarness::start(MqttConfig::default()).await;
    let (mut c, _) = h.connect_v5("brief", true, persistent(600)).await;
    c.subscribe("x", QoS::AtLeastOnce).await;
    c.send(&Packet::Disconnect(ferrite_mqtt_codec::Disconnect {
        reason: ReasonCode::Success,
        properties: persistent(0),
    }))
    .await;
    c.expect_closed().await;
    let h = h.restart().await;
    let (_c, ack) = h.connect_v5("brief", false, persistent(600)).await;
    assert!(!ack.session_present);
}
