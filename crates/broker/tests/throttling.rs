//! Per-connection publish limits (`mqtt.max_publishes_per_sec`, `mqtt.max_bytes_per_sec`):
//! publishes over them are not routed and say so where MQTT can, and a connection that stays
//! over them past the grace is disconnected as THROTTLED.

use std::sync::Arc;
use std::time::Duration;

use ferrite_broker::{LifecycleEvent, LifecycleObserver, Seams};
use ferrite_config::MqttConfig;
use ferrite_mqtt_codec::{Packet, Properties, QoS, ReasonCode};
use ferrite_test_support::{BrokerHarness, publish};
use parking_lot::Mutex;

#[derive(Default)]
struct Reasons(Mutex<Vec<(String, &'static str)>>);

impl LifecycleObserver for Reasons {
    fn observe(&self, event: LifecycleEvent) {
        if let LifecycleEvent::Disconnected { conn, reason, .. } = event {
            self.0
                .lock()
                .push((conn.client_id.to_string(), reason.aws_name()));
        }
    }
}

fn limited(publishes: u32, bytes: u64) -> MqttConfig {
    MqttConfig {
        max_publishes_per_sec: publishes,
        max_bytes_per_sec: bytes,
        throttle_grace_secs: 2,
        ..MqttConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn publishes_over_the_rate_are_refused_and_not_delivered() {
    let h = BrokerHarness::start(limited(5, 0)).await;
    let (mut sub, _) = h.connect_v311("sub", true).await;
    sub.subscribe("t/#", QoS::AtLeastOnce).await;
    let (mut v5, _) = h.connect_v5("v5", true, Properties::default()).await;
    let mut reasons = Vec::new();
    for _ in 0..6 {
        let ack = v5.publish("t/5", b"x", QoS::AtLeastOnce, false).await;
        reasons.push(ack.expect("PUBACK").reason);
    }
    assert_eq!(reasons[..5], [ReasonCode::Success; 5]);
    assert_eq!(reasons[5], ReasonCode::QuotaExceeded);
    // QoS 0 over the limit is dropped; MQTT 3.1.1 QoS 1 is acknowledged and dropped.
    v5.publish("t/5", b"x", QoS::AtMostOnce, false).await;
    let (mut v311, _) = h.connect_v311("v311", true).await;
    for _ in 0..6 {
        let ack = v311.publish("t/3", b"x", QoS::AtLeastOnce, false).await;
        assert_eq!(ack.expect("PUBACK").reason, ReasonCode::Success);
    }
    let mut topics = Vec::new();
    for _ in 0..10 {
        topics.push(sub.recv_publish().await.topic);
    }
    sub.expect_silence(Duration::from_millis(100)).await;
    assert_eq!(topics.iter().filter(|t| *t == "t/5").count(), 5);
    assert_eq!(topics.iter().filter(|t| *t == "t/3").count(), 5);
    // The rate refills: a fifth of a second later, one more passes.
    tokio::time::advance(Duration::from_millis(200)).await;
    let ack = v5.publish("t/5", b"x", QoS::AtLeastOnce, false).await;
    assert_eq!(ack.expect("PUBACK").reason, ReasonCode::Success);
    assert_eq!(sub.recv_publish().await.topic, "t/5");
}

#[tokio::test(start_paused = true)]
async fn bytes_over_the_throughput_are_refused() {
    let h = BrokerHarness::start(limited(0, 100)).await;
    let (mut c, _) = h.connect_v5("bytes", true, Properties::default()).await;
    // 3 + 60 bytes: the first fits the second's 100 bytes, the second does not.
    let payload: &'static [u8] = &[b'x'; 60];
    let first = c.publish("t/b", payload, QoS::AtLeastOnce, false).await;
    let second = c.publish("t/b", payload, QoS::AtLeastOnce, false).await;
    assert_eq!(
        [
            first.expect("PUBACK").reason,
            second.expect("PUBACK").reason
        ],
        [ReasonCode::NoMatchingSubscribers, ReasonCode::QuotaExceeded]
    );
}

#[tokio::test(start_paused = true)]
async fn a_connection_still_over_after_the_grace_is_throttled() {
    let rec = Arc::new(Reasons::default());
    let seams = Seams {
        lifecycle: rec.clone(),
        ..Seams::default()
    };
    let h = BrokerHarness::start_with(limited(5, 0), seams).await;
    let (mut calm, _) = h.connect_v5("calm", true, Properties::default()).await;
    let (mut flood, _) = h.connect_v5("flood", true, Properties::default()).await;
    let started = tokio::time::Instant::now();
    // Four times the rate (the calm one: two thirds of it), at QoS 0, until the broker
    // closes the flooding connection.
    let mut round = 0;
    let closed = loop {
        for _ in 0..2 {
            flood
                .send(&Packet::Publish(publish(
                    "t/f",
                    b"x",
                    QoS::AtMostOnce,
                    false,
                )))
                .await;
        }
        if round % 3 == 0 {
            calm.publish("t/c", b"x", QoS::AtMostOnce, false).await;
        }
        round += 1;
        match flood.recv_within(Duration::from_millis(100)).await {
            Err(_) => {}
            Ok(packet) => break packet,
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never throttled"
        );
    };
    match closed {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::MessageRateTooHigh),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    // Over the limit once the second's burst is spent (after about 0.3 s), disconnected 2 s
    // later.
    let elapsed = started.elapsed();
    assert!(
        (Duration::from_millis(2200)..Duration::from_millis(2600)).contains(&elapsed),
        "{elapsed:?}"
    );
    // The connection under its limit is unaffected.
    calm.publish("t/c", b"x", QoS::AtLeastOnce, false).await;
    calm.disconnect().await;
    h.broker.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        rec.0.lock()[..],
        [
            ("flood".to_string(), "THROTTLED"),
            ("calm".to_string(), "CLIENT_INITIATED_DISCONNECT")
        ]
    );
}
