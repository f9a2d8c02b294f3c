//! The cluster's seams on one broker: the interest hook hears each filter's first and last
//! local subscriber from every path that changes subscriptions, the forwarder gets every
//! message once after local fan-out (and its receipt holds the publisher's acknowledgement),
//! and messages from another node reach local subscribers only.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrite_broker::{Forwarder, Interest, Message, RemoteReceipt, Seams, TapOptions};
use ferrite_config::MqttConfig;
use ferrite_mqtt_codec::{Packet, Properties, QoS};
use ferrite_test_support::{BrokerHarness, pid, publish};
use ferrite_types::message::unknown_origin;
use parking_lot::Mutex;

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<String>>,
    /// Forwarded messages get this receipt, when set.
    receipt: Mutex<Option<RemoteReceipt>>,
}

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.events.lock())
    }
}

impl Interest for Recorder {
    fn first(&self, filter: &str) {
        self.events.lock().push(format!("+{filter}"));
    }
    fn last(&self, filter: &str) {
        self.events.lock().push(format!("-{filter}"));
    }
}

impl Forwarder for Recorder {
    fn forward(&self, msg: &Arc<Message>) -> Option<RemoteReceipt> {
        self.events.lock().push(format!(">{}", msg.topic));
        self.receipt.lock().clone()
    }
}

async fn harness(recorder: &Arc<Recorder>) -> BrokerHarness {
    let seams = Seams {
        forwarder: recorder.clone(),
        interest: recorder.clone(),
        ..Seams::default()
    };
    BrokerHarness::start_with(MqttConfig::default(), seams).await
}

fn persistent() -> Properties {
    Properties {
        session_expiry_interval: Some(600),
        ..Properties::default()
    }
}

#[tokio::test(start_paused = true)]
async fn interest_hears_first_and_last_local_subscribers_of_each_filter() {
    let rec = Arc::new(Recorder::default());
    let h = harness(&rec).await;
    let (mut a, _) = h.connect_v5("a", true, Properties::default()).await;
    let (mut b, _) = h.connect_v5("b", true, persistent()).await;
    a.subscribe("t/+", QoS::AtLeastOnce).await;
    b.subscribe("t/+", QoS::AtLeastOnce).await;
    a.subscribe("$share/g/t/x", QoS::AtLeastOnce).await;
    b.subscribe("$share/g/t/x", QoS::AtLeastOnce).await;
    // Subscribing again replaces: no new interest.
    a.subscribe("t/+", QoS::AtMostOnce).await;
    assert_eq!(rec.take(), ["+t/+", "+$share/g/t/x"]);

    // UNSUBSCRIBE by one of two subscribers changes nothing; by the last one it does.
    a.send(&Packet::Unsubscribe(ferrite_mqtt_codec::Unsubscribe {
        packet_id: pid(9),
        filters: vec!["t/+".into()],
        properties: Properties::default(),
    }))
    .await;
    assert!(matches!(a.recv().await, Packet::UnsubAck(_)));
    assert_eq!(rec.take(), Vec::<String>::new());

    // The clean session's end removes its shared membership, not the last one.
    a.disconnect().await;
    assert_eq!(rec.take(), Vec::<String>::new());

    // A persistent session keeps its interest while offline...
    b.disconnect().await;
    assert_eq!(rec.take(), Vec::<String>::new());
    // ...and a restart restores it: the new broker hears of it again.
    let h = h.restart().await;
    assert_eq!(h.broker.session_count(), 1);
    let mut restored = rec.take();
    restored.sort();
    assert_eq!(restored, ["+$share/g/t/x", "+t/+"]);
    // Its expiry removes the last subscribers.
    tokio::time::sleep(Duration::from_secs(601)).await;
    assert_eq!(h.broker.session_count(), 0);
    let mut gone = rec.take();
    gone.sort();
    assert_eq!(gone, ["-$share/g/t/x", "-t/+"]);
}

#[tokio::test(start_paused = true)]
async fn every_published_message_is_forwarded_once_and_a_receipt_holds_the_ack() {
    let rec = Arc::new(Recorder::default());
    let h = harness(&rec).await;
    let (mut s, _) = h.connect_v5("s", true, Properties::default()).await;
    s.subscribe("f/#", QoS::AtLeastOnce).await;
    rec.take();
    let (mut p, _) = h.connect_v5("p", true, Properties::default()).await;
    p.publish("f/1", b"1", QoS::AtLeastOnce, false).await;
    p.publish("nobody/here", b"2", QoS::AtLeastOnce, false)
        .await;
    h.broker
        .publish(Message::from_service(
            "test",
            "f/service",
            Bytes::from_static(b"3"),
            QoS::AtLeastOnce,
        ))
        .await
        .expect("publish");
    assert_eq!(rec.take(), [">f/1", ">nobody/here", ">f/service"]);

    // An exclusive tap's messages stay on this node.
    let _ingest = h
        .broker
        .tap_with("f/ingest", TapOptions::hold("ingest", 4).exclusive())
        .expect("tap");
    p.publish("f/ingest", b"4", QoS::AtLeastOnce, false).await;
    assert_eq!(rec.take(), Vec::<String>::new());

    // While another node has not confirmed, the publisher's PUBACK waits.
    let receipt = RemoteReceipt::pending();
    *rec.receipt.lock() = Some(receipt.clone());
    p.send(&Packet::Publish(ferrite_mqtt_codec::Publish {
        packet_id: Some(pid(77)),
        ..publish("f/held", b"5", QoS::AtLeastOnce, false)
    }))
    .await;
    p.expect_silence(Duration::from_secs(5)).await;
    receipt.confirm();
    match p.recv().await {
        Packet::PubAck(a) => assert_eq!(a.packet_id, pid(77)),
        other => panic!("expected the held PUBACK, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_message_from_another_node_reaches_local_subscribers_only() {
    let rec = Arc::new(Recorder::default());
    let h = harness(&rec).await;
    let mut tap = h.broker.tap("r/#", 4).expect("tap");
    let (mut s, _) = h.connect_v5("s", true, Properties::default()).await;
    s.subscribe("r/#", QoS::AtLeastOnce).await;
    rec.take();
    let msg = Message::new(
        "r/remote".into(),
        Bytes::from_static(b"from B"),
        QoS::AtLeastOnce,
        true,
        &Properties::default(),
        unknown_origin(),
        0,
    );
    let d = h
        .broker
        .deliver_remote(Arc::new(msg))
        .await
        .expect("delivered");
    assert_eq!(d.delivered, 1);
    assert_eq!(&s.recv_publish().await.payload[..], b"from B");
    // Not forwarded back, not tapped here, not retained here (the receiving node did that).
    assert_eq!(rec.take(), Vec::<String>::new());
    assert!(tap.try_recv().is_err());
    assert!(h.broker.retained("r/remote").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_targeted_delivery_reaches_its_client_only() {
    let rec = Arc::new(Recorder::default());
    let h = harness(&rec).await;
    let mut tap = h.broker.tap("k/#", 4).expect("tap");
    let (mut asker, _) = h.connect_v5("asker", true, Properties::default()).await;
    let (mut other, _) = h.connect_v5("other", true, Properties::default()).await;
    asker.subscribe("k/accepted", QoS::AtLeastOnce).await;
    // Through a shared group too: the group's other member must not get it.
    asker.subscribe("$share/g/k/#", QoS::AtLeastOnce).await;
    other.subscribe("k/#", QoS::AtLeastOnce).await;
    other.subscribe("$share/g/k/#", QoS::AtLeastOnce).await;
    rec.take();
    let msg = || Message::from_service("test", "k/accepted", "secret", QoS::AtLeastOnce);
    assert_eq!(h.broker.deliver_to("asker", msg()).await.expect("ok"), 1);
    assert_eq!(&asker.recv_publish().await.payload[..], b"secret");
    other.expect_silence(Duration::from_secs(2)).await;
    // Nobody else: no tap, no other node, nothing retained.
    assert!(tap.try_recv().is_err());
    assert_eq!(rec.take(), Vec::<String>::new());
    // A client that is not subscribed gets nothing, and nobody else does either.
    assert_eq!(h.broker.deliver_to("absent", msg()).await.expect("ok"), 0);
    other.expect_silence(Duration::from_secs(2)).await;
}
