//! Retained messages on every node of an in-process sandbox (paused clock): what one node
//! retains or deletes is in every node's retained store, and concurrent writers of one topic
//! leave every node with the same message.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrite_broker::{Message, Seams};
use ferrite_cluster::{InProcessBus, Link, RetainedSync};
use ferrite_config::MqttConfig;
use ferrite_mqtt_codec::{Properties, QoS};
use ferrite_storage::{BrokerOp, BrokerStore, StoredMessage};
use ferrite_storage_memory::MemoryStore;
use ferrite_test_support::BrokerHarness;
use ferrite_types::Origin;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const WAIT: Duration = Duration::from_secs(10);

struct Node {
    harness: BrokerHarness,
    retained: RetainedSync,
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
        self.node_on(name, false).await
    }

    /// A node that re-reads its retained messages from its own store's data after a gap,
    /// as a cluster node re-reads the shared PostgreSQL.
    async fn node_on(&self, name: &str, resync: bool) -> Node {
        let bus = Arc::new(self.bus.clone());
        let link = Link::new(bus.clone(), name.into(), "ferrite", true);
        let retained = RetainedSync::new(bus, name.into(), "ferrite");
        retained.subscribe().await.expect("subscribe");
        let seams = retained.seams(link.seams(Seams::default()));
        let harness = BrokerHarness::start_with(MqttConfig::default(), seams).await;
        link.run(harness.broker.clone(), &self.tasks, self.cancel.clone());
        let store: Option<Arc<dyn BrokerStore>> =
            resync.then(|| Arc::new(MemoryStore::open(&harness.data)) as Arc<dyn BrokerStore>);
        retained.run(
            harness.broker.clone(),
            store,
            &self.tasks,
            self.cancel.clone(),
        );
        Node { harness, retained }
    }
}

fn payload(node: &Node, topic: &str) -> Option<Bytes> {
    node.harness
        .broker
        .retained(topic)
        .map(|m| m.payload.clone())
}

async fn heard(node: &Node, n: u64) {
    tokio::time::timeout(WAIT, node.retained.heard(n))
        .await
        .expect("the other node's retained change arrives");
}

#[tokio::test(start_paused = true)]
async fn a_retained_message_published_on_one_node_is_delivered_by_every_node() {
    let sandbox = Sandbox::new();
    let (a, b) = (sandbox.node("a").await, sandbox.node("b").await);
    let (mut publisher, _) = a
        .harness
        .connect_v5("pub", true, Properties::default())
        .await;
    publisher
        .publish("status/lamp", b"on", QoS::AtLeastOnce, true)
        .await;
    heard(&b, 1).await;

    // Nobody on B subscribed when it was published: B's own store has it.
    let (mut late, _) = b
        .harness
        .connect_v5("late", true, Properties::default())
        .await;
    late.subscribe("status/#", QoS::AtLeastOnce).await;
    let got = late.recv_publish().await;
    assert_eq!((&*got.topic, &got.payload[..]), ("status/lamp", &b"on"[..]));
    assert!(got.retain, "delivered as a retained message");

    // A retained delete (empty payload) on B empties A's store.
    let (mut deleter, _) = b
        .harness
        .connect_v5("del", true, Properties::default())
        .await;
    deleter
        .publish("status/lamp", b"", QoS::AtLeastOnce, true)
        .await;
    heard(&a, 1).await;
    assert_eq!(payload(&a, "status/lamp"), None);
    assert_eq!(payload(&b, "status/lamp"), None);
    assert_eq!(a.harness.broker.metrics().retained_messages.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn concurrent_retained_writers_leave_every_node_with_the_same_message() {
    let sandbox = Sandbox::new();
    let (a, b) = (sandbox.node("a").await, sandbox.node("b").await);
    let (mut pa, _) = a
        .harness
        .connect_v5("pa", true, Properties::default())
        .await;
    let (mut pb, _) = b
        .harness
        .connect_v5("pb", true, Properties::default())
        .await;
    // Both accepted before either hears the other: each node first holds its own.
    let (ack_a, ack_b) = tokio::join!(
        pa.publish("race", b"from a", QoS::AtLeastOnce, true),
        pb.publish("race", b"from b", QoS::AtLeastOnce, true),
    );
    assert!(ack_a.is_some() && ack_b.is_some());
    heard(&a, 1).await;
    heard(&b, 1).await;
    let (on_a, on_b) = (payload(&a, "race"), payload(&b, "race"));
    assert!(on_a.is_some());
    assert_eq!(on_a, on_b, "both nodes keep the newest by stamp");
    // Same receipt time (one paused clock): the greater node id breaks the tie.
    assert_eq!(on_a.as_deref(), Some(&b"from b"[..]));
}

#[tokio::test(start_paused = true)]
async fn a_local_write_is_stamped_above_a_newer_remote_one_so_it_wins_everywhere() {
    let sandbox = Sandbox::new();
    let (a, b) = (sandbox.node("a").await, sandbox.node("b").await);
    // A node whose clock runs an hour ahead retained a message that A applied.
    let ahead = Message {
        retain: true,
        received_at_ms: 1_800_000_000_000 + 3_600_000,
        origin: Arc::new(Origin::service("test", Arc::from("z"))),
        ..Message::from_service(
            "test",
            "clock/skew",
            &b"from the future"[..],
            QoS::AtMostOnce,
        )
    };
    assert!(a.harness.broker.apply_retained(Arc::new(ahead.clone())));
    assert!(b.harness.broker.apply_retained(Arc::new(ahead.clone())));
    // An older change from anyone is dropped.
    let older = Message {
        received_at_ms: ahead.received_at_ms - 1,
        payload: Bytes::from_static(b"older"),
        ..ahead.clone()
    };
    assert!(!a.harness.broker.apply_retained(Arc::new(older)));

    let (mut publisher, _) = a
        .harness
        .connect_v5("pub", true, Properties::default())
        .await;
    publisher
        .publish("clock/skew", b"now", QoS::AtLeastOnce, true)
        .await;
    heard(&b, 1).await;
    let on_a = a.harness.broker.retained("clock/skew").expect("on a");
    assert_eq!(&on_a.payload[..], b"now");
    assert_eq!(on_a.received_at_ms, ahead.received_at_ms + 1);
    assert_eq!(payload(&b, "clock/skew").as_deref(), Some(&b"now"[..]));
}

#[tokio::test(start_paused = true)]
async fn after_a_bus_gap_a_node_rereads_the_retained_messages_it_may_have_missed() {
    let sandbox = Sandbox::new();
    let b = sandbox.node_on("b", true).await;
    let (mut publisher, _) = b
        .harness
        .connect_v5("pub", true, Properties::default())
        .await;
    publisher
        .publish("kept", b"newer here", QoS::AtLeastOnce, true)
        .await;
    let here = b.harness.broker.retained("kept").expect("kept");
    // Meanwhile other nodes stored messages whose broadcasts B missed (its bus was down).
    let shared = MemoryStore::open(&b.harness.data);
    let stored = |topic: &str, payload: &'static [u8], ms: i64| {
        BrokerOp::PutRetained(StoredMessage {
            topic: topic.to_owned(),
            payload: Bytes::from_static(payload),
            qos: 1,
            retain: true,
            properties: Bytes::new(),
            received_at_ms: ms,
            expires_at_ms: None,
        })
    };
    shared
        .commit(vec![
            stored("missed", b"from another node", here.received_at_ms),
            stored("kept", b"older in the store", here.received_at_ms - 1),
        ])
        .await
        .expect("commit");
    assert_eq!(payload(&b, "missed"), None);

    sandbox.bus.interrupt();
    tokio::time::timeout(WAIT, b.retained.resynced(1))
        .await
        .expect("B re-reads after the gap");
    assert_eq!(
        payload(&b, "missed").as_deref(),
        Some(&b"from another node"[..])
    );
    assert_eq!(payload(&b, "kept").as_deref(), Some(&b"newer here"[..]));
}

#[tokio::test(start_paused = true)]
async fn a_delete_keeps_an_older_put_arriving_after_it_from_coming_back() {
    let sandbox = Sandbox::new();
    let (a, b) = (sandbox.node("a").await, sandbox.node("b").await);
    // Deleted on B while nothing was retained there yet (A's put has not arrived).
    let (mut deleter, _) = b
        .harness
        .connect_v5("del", true, Properties::default())
        .await;
    deleter
        .publish("status/lamp", b"", QoS::AtLeastOnce, true)
        .await;
    heard(&a, 1).await;
    // The delete is stored as a stamped tombstone (an empty payload), not as a row deletion.
    let stored = MemoryStore::open(&b.harness.data)
        .load()
        .await
        .expect("load")
        .retained;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].payload.is_empty());
    let deleted_at = stored[0].received_at_ms;

    // A's put, stamped before the delete, arrives at both nodes after it: it stays deleted.
    let older = Message {
        retain: true,
        received_at_ms: deleted_at - 1,
        origin: Arc::new(Origin::service("test", Arc::from("a"))),
        ..Message::from_service("test", "status/lamp", &b"on"[..], QoS::AtMostOnce)
    };
    assert!(!b.harness.broker.apply_retained(Arc::new(older.clone())));
    assert!(!a.harness.broker.apply_retained(Arc::new(older.clone())));
    assert_eq!(payload(&a, "status/lamp"), None);
    assert_eq!(payload(&b, "status/lamp"), None);
    // A put stamped after the delete is retained as usual.
    let newer = Message {
        received_at_ms: deleted_at + 1,
        ..older
    };
    assert!(b.harness.broker.apply_retained(Arc::new(newer)));
    assert_eq!(payload(&b, "status/lamp").as_deref(), Some(&b"on"[..]));
}

#[tokio::test(start_paused = true)]
async fn after_a_bus_gap_a_node_catches_up_on_the_deletes_it_missed() {
    let sandbox = Sandbox::new();
    let b = sandbox.node_on("b", true).await;
    let (mut publisher, _) = b
        .harness
        .connect_v5("pub", true, Properties::default())
        .await;
    publisher
        .publish("gone", b"here", QoS::AtLeastOnce, true)
        .await;
    let here = b.harness.broker.retained("gone").expect("retained");
    // Another node deleted it while B's bus was down: the shared store has its tombstone.
    MemoryStore::open(&b.harness.data)
        .commit(vec![BrokerOp::PutRetained(StoredMessage {
            topic: "gone".to_owned(),
            payload: Bytes::new(),
            qos: 1,
            retain: true,
            properties: Bytes::new(),
            received_at_ms: here.received_at_ms + 1,
            expires_at_ms: None,
        })])
        .await
        .expect("commit");
    sandbox.bus.interrupt();
    tokio::time::timeout(WAIT, b.retained.resynced(1))
        .await
        .expect("B re-reads after the gap");
    assert_eq!(payload(&b, "gone"), None);
    assert_eq!(b.harness.broker.metrics().retained_messages.get(), 0);
}
