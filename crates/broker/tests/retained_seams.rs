//! The broker's seams for a cluster's retained messages and admission: the retained observer
//! hears every accepted change, stamped; a remote change is applied only when newer; and the
//! admission gate refuses CONNECT with Server unavailable (0x88; MQTT 3.1.1 return code 3).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferrite_broker::{Admission, Message, RetainedObserver, Seams};
use ferrite_config::MqttConfig;
use ferrite_mqtt_codec::{ProtocolVersion, QoS, ReasonCode};
use ferrite_test_support::{BrokerHarness, connect_packet};
use parking_lot::Mutex;

#[derive(Default)]
struct Heard(Mutex<Vec<(String, Vec<u8>, i64)>>);

impl RetainedObserver for Heard {
    fn retained(&self, msg: &Arc<Message>) {
        self.0.lock().push((
            msg.topic.to_string(),
            msg.payload.to_vec(),
            msg.received_at_ms,
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn the_retained_observer_hears_each_accepted_change_stamped_in_order() {
    let heard = Arc::new(Heard::default());
    let seams = Seams {
        retained: heard.clone(),
        ..Seams::default()
    };
    let h = BrokerHarness::start_with(MqttConfig::default(), seams).await;
    let (mut c, _) = h.connect_v311("p", true).await;
    c.publish("r/a", b"1", QoS::AtLeastOnce, true).await;
    // Same millisecond (paused clock): the second is stamped one past the first.
    c.publish("r/a", b"2", QoS::AtLeastOnce, true).await;
    c.publish("r/a", b"", QoS::AtLeastOnce, true).await;
    c.publish("not/retained", b"x", QoS::AtLeastOnce, false)
        .await;
    let got = heard.0.lock().clone();
    let t = got[0].2;
    assert_eq!(
        got,
        vec![
            ("r/a".to_owned(), b"1".to_vec(), t),
            ("r/a".to_owned(), b"2".to_vec(), t + 1),
            ("r/a".to_owned(), Vec::new(), t + 2),
        ]
    );
}

struct Gate(AtomicBool);

impl Admission for Gate {
    fn refusal(&self) -> Option<&'static str> {
        (!self.0.load(Ordering::Relaxed)).then_some("cluster_store_unavailable")
    }
}

#[tokio::test(start_paused = true)]
async fn connect_is_refused_as_server_unavailable_while_the_gate_is_closed() {
    let gate = Arc::new(Gate(AtomicBool::new(false)));
    let seams = Seams {
        admission: gate.clone(),
        ..Seams::default()
    };
    let h = BrokerHarness::start_with(MqttConfig::default(), seams).await;
    for protocol in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut c = h.open_client(protocol);
        let ack = c.connect_with(connect_packet(protocol, "dev", true)).await;
        assert_eq!(ack.reason, ReasonCode::ServerUnavailable, "{protocol:?}");
        if protocol == ProtocolVersion::V5 {
            assert_eq!(
                ack.properties.reason_string.as_deref(),
                Some("cluster store unavailable")
            );
        }
        assert!(c.expect_closed().await.is_none());
    }
    gate.0.store(true, Ordering::Relaxed);
    let (_c, ack) = h.connect_v311("dev", true).await;
    assert_eq!(ack.reason, ReasonCode::Success);
}
