//! Several brokers sharing one in-process bus, on Tokio's paused clock: routing by interest
//! between nodes.

use std::sync::Arc;
use std::time::Duration;

use ferrite_broker::Seams;
use ferrite_cluster::subject::topic_subject;
use ferrite_cluster::{InProcessBus, Link};
use ferrite_config::MqttConfig;
use ferrite_mqtt_codec::{Properties, QoS};
use ferrite_test_support::BrokerHarness;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

struct Node {
    harness: BrokerHarness,
    link: Link,
}

struct Sandbox {
    bus: InProcessBus,
    tasks: TaskTracker,
    cancel: CancellationToken,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            bus: InProcessBus::new(),
            tasks: TaskTracker::new(),
            cancel: CancellationToken::new(),
        }
    }

    async fn node(&self, name: &str) -> Node {
        let link = Link::new(Arc::new(self.bus.clone()), name.into(), "ferrite", true);
        let harness =
            BrokerHarness::start_with(MqttConfig::default(), link.seams(Seams::default())).await;
        link.run(harness.broker.clone(), &self.tasks, self.cancel.clone());
        Node { harness, link }
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

const QUIET: Duration = Duration::from_secs(2);

#[tokio::test(start_paused = true)]
async fn a_subscriber_on_one_node_receives_what_another_node_publishes() {
    let sandbox = Sandbox::new();
    let (a, b) = (sandbox.node("a").await, sandbox.node("b").await);
    let (mut sub, _) = a
        .harness
        .connect_v5("sub", true, Properties::default())
        .await;
    sub.subscribe("t/+", QoS::AtLeastOnce).await;
    a.link.settled().await;
    assert_eq!(sandbox.bus.interest(&topic_subject("ferrite", "t/x")), 1);

    let (mut publisher, _) = b
        .harness
        .connect_v5("pub", true, Properties::default())
        .await;
    publisher
        .publish("t/x", b"zero", QoS::AtMostOnce, false)
        .await;
    let ack = publisher
        .publish("t/x", b"one", QoS::AtLeastOnce, false)
        .await;
    assert!(ack.is_some());

    let got = sub.recv_publish().await;
    assert_eq!(
        (&*got.topic, &got.payload[..], got.qos),
        ("t/x", &b"zero"[..], QoS::AtMostOnce)
    );
    let got = sub.recv_publish().await;
    assert_eq!(
        (&*got.topic, &got.payload[..], got.qos),
        ("t/x", &b"one"[..], QoS::AtLeastOnce)
    );
    sub.expect_silence(QUIET).await;
    sandbox.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_node_without_interest_receives_nothing_and_interest_ends_with_the_subscriber() {
    let sandbox = Sandbox::new();
    let (a, b, c) = (
        sandbox.node("a").await,
        sandbox.node("b").await,
        sandbox.node("c").await,
    );
    let (mut sub, _) = a
        .harness
        .connect_v5("sub", true, Properties::default())
        .await;
    sub.subscribe("t/#", QoS::AtLeastOnce).await;
    let (mut elsewhere, _) = c
        .harness
        .connect_v5("other", true, Properties::default())
        .await;
    elsewhere.subscribe("other/topic", QoS::AtLeastOnce).await;
    a.link.settled().await;
    c.link.settled().await;

    let (mut publisher, _) = b
        .harness
        .connect_v5("pub", true, Properties::default())
        .await;
    publisher
        .publish("t/x", b"1", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"1");
    elsewhere.expect_silence(QUIET).await;
    assert_eq!(c.link.received(), 0, "node c has no interest in t/x");
    assert_eq!(b.link.received(), 0, "node b has no subscribers at all");

    // A clean session ends with its connection, which `disconnect` waits for.
    sub.disconnect().await;
    a.link.settled().await;
    let received = a.link.received();
    publisher
        .publish("t/x", b"2", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(sandbox.bus.interest(&topic_subject("ferrite", "t/x")), 0);
    assert_eq!(a.link.received(), received);
    sandbox.stop().await;
}

#[tokio::test(start_paused = true)]
async fn overlapping_filters_deliver_once_and_local_messages_do_not_come_back() {
    let sandbox = Sandbox::new();
    let (a, b) = (sandbox.node("a").await, sandbox.node("b").await);
    let (mut sub, _) = a
        .harness
        .connect_v5("sub", true, Properties::default())
        .await;
    sub.subscribe("t/+", QoS::AtLeastOnce).await;
    sub.subscribe("t/#", QoS::AtLeastOnce).await;
    a.link.settled().await;

    // From node b: two bus subscriptions on node a match, one delivery.
    let (mut remote, _) = b
        .harness
        .connect_v5("remote", true, Properties::default())
        .await;
    remote
        .publish("t/x", b"remote", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"remote");
    sub.expect_silence(QUIET).await;
    assert_eq!(
        a.link.received(),
        2,
        "one copy per matching bus subscription"
    );

    // From node a itself: delivered locally, and its copies from the bus are dropped.
    let (mut local, _) = a
        .harness
        .connect_v5("local", true, Properties::default())
        .await;
    local
        .publish("t/y", b"local", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"local");
    sub.expect_silence(QUIET).await;
    sandbox.stop().await;
}
