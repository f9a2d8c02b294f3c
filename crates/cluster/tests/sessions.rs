//! Sessions across nodes (ARCHITECTURE.md, "Sessions and take-over"): brokers sharing one
//! in-process bus and one PostgreSQL schema (`FERRITE_TEST_POSTGRES_URL`; skipped loudly
//! without it). A client id connecting on another node takes its session over from the node
//! that held it, and a persistent session resumes from the store on another node after the
//! node that held it is gone. Real clock: PostgreSQL answers in real time.

use std::sync::Arc;
use std::time::Duration;

use ferrite_broker::Seams;
use ferrite_cluster::{ClusterSessions, InProcessBus, Link};
use ferrite_config::MqttConfig;
use ferrite_mqtt_codec::{Packet, Properties, ProtocolVersion, QoS, ReasonCode};
use ferrite_storage::conformance::run_case;
use ferrite_storage::{BrokerStore, SessionOwners, SessionSnapshot};
use ferrite_storage_postgres::PostgresStore;
use ferrite_storage_postgres::testing::ScratchLocation;
use ferrite_test_support::{BrokerHarness, WAIT, connect_packet, with_will};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const PREFIX: &str = "ferrite";
const QUIET: Duration = Duration::from_millis(500);
/// Short, because these tests run on the real clock (PostgreSQL answers in real time).
const WILL_DELAY_SECS: u32 = 2;

struct Node {
    harness: BrokerHarness,
    link: Link,
    sessions: ClusterSessions,
    store: Arc<PostgresStore>,
    /// Ends this node's bus side: it neither routes nor answers take-over requests any more.
    cancel: CancellationToken,
}

impl Node {
    /// What another node sees of a node killed with `kill -9`: it is gone from the bus, and
    /// it wrote nothing on the way out.
    fn kill(&self) {
        self.cancel.cancel();
    }
}

struct Cluster {
    location: Arc<ScratchLocation>,
    bus: InProcessBus,
    tasks: TaskTracker,
    cancel: CancellationToken,
    nodes: Vec<Arc<PostgresStore>>,
}

impl Cluster {
    fn new(location: Arc<ScratchLocation>) -> Cluster {
        Cluster {
            location,
            bus: InProcessBus::new(),
            tasks: TaskTracker::new(),
            cancel: CancellationToken::new(),
            nodes: Vec::new(),
        }
    }

    /// A node as `ferrite serve` wires one: link and session directory on the bus, broker on
    /// its own store (own writer) over the shared schema.
    async fn node(&mut self, name: &str) -> Node {
        let store = Arc::new(
            self.location
                .open_store_as(name)
                .await
                .expect("open the store"),
        );
        let bus: Arc<InProcessBus> = Arc::new(self.bus.clone());
        let link = Link::new(bus.clone(), name.into(), PREFIX, true);
        link.store_inboxes_in(store.clone());
        let sessions = ClusterSessions::new(bus, store.clone(), name.into(), PREFIX);
        let harness = BrokerHarness::start_on_store(
            MqttConfig::default(),
            sessions.clone().seams(link.seams(Seams::default())),
            store.clone(),
        )
        .await;
        let cancel = self.cancel.child_token();
        link.run(harness.broker.clone(), &self.tasks, cancel.clone());
        sessions
            .serve(harness.broker.clone(), &self.tasks, cancel.clone())
            .await
            .expect("serve take-over requests");
        self.nodes.push(store.clone());
        Node {
            harness,
            link,
            sessions,
            store,
            cancel,
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        for store in self.nodes {
            let _ = store.close().await;
        }
    }
}

fn persistent(expiry: u32) -> Properties {
    Properties {
        session_expiry_interval: Some(expiry),
        ..Properties::default()
    }
}

/// Parks client `dev`'s persistent session, subscribed to `q/dev` at QoS 1, on `node`: it
/// connects, subscribes and goes away, and the node's bus interest is in place.
async fn park_dev(node: &Node) {
    let (mut dev, _) = node
        .harness
        .connect_v5("dev", false, persistent(3600))
        .await;
    dev.subscribe("q/dev", QoS::AtLeastOnce).await;
    dev.disconnect().await;
    node.link.settled().await;
}

/// Waits until `node` knows that the persistent sessions subscribed to `topic` are held by
/// `nodes` (the durable-interest view), so that its QoS 1 publishes wait for exactly them.
async fn view_reaches(node: &Node, topic: &str, nodes: &[&str]) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = node.link.durable_nodes(topic);
        if now == nodes {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {} sees {now:?} for {topic}, not {nodes:?}",
            node.link.node()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the stored session of `client_id` has `n` queued messages.
async fn stored_queue_reaches(store: &PostgresStore, client_id: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let queued = store
            .load_session(client_id)
            .await
            .expect("load the session")
            .map_or(0, |s| s.queued.len());
        if queued >= n {
            assert_eq!(queued, n);
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the store holds {queued} of {n} queued messages"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_on_another_node_takes_the_session_over() {
    let Some(location) =
        ScratchLocation::from_env("connecting_on_another_node_takes_the_session_over").await
    else {
        return;
    };
    run_case(location, |location| async move {
        let mut cluster = Cluster::new(location);
        let a = cluster.node("a").await;
        let b = cluster.node("b").await;

        let (mut watcher, _) = b
            .harness
            .connect_v5("watcher", true, Properties::default())
            .await;
        watcher.subscribe("will/dev", QoS::AtLeastOnce).await;
        b.link.settled().await;

        // On node a: a persistent session with a will and a subscription.
        let mut old = a.harness.open_client(ProtocolVersion::V5);
        let mut connect = connect_packet(ProtocolVersion::V5, "dev", true);
        connect.keep_alive = 0;
        connect.properties = persistent(300);
        let ack = old.connect_with(with_will(connect, "will/dev", None)).await;
        assert_eq!(ack.reason, ReasonCode::Success);
        old.subscribe("cmd/dev", QoS::AtLeastOnce).await;

        // The same client id on node b resumes that session...
        let (mut new, ack) = b.harness.connect_v5("dev", false, persistent(300)).await;
        assert!(ack.session_present, "the session came over from node a");
        // ...after node a closed the old connection as a take-over does, will included.
        match old.expect_closed().await {
            Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::SessionTakenOver),
            other => panic!("expected DISCONNECT 0x8E on node a, got {other:?}"),
        }
        let will = watcher.recv_publish().await;
        assert_eq!(
            (&*will.topic, &will.payload[..]),
            ("will/dev", &b"gone"[..])
        );
        assert_eq!(a.harness.broker.session_count(), 0, "node a let go of it");
        assert_eq!(
            b.store.session_owner("dev").await.unwrap(),
            Some(("b".to_owned(), 2))
        );

        // Its subscription now lives on node b: a message from node a reaches it there once.
        b.link.settled().await;
        let (mut publisher, _) = a
            .harness
            .connect_v5("publisher", true, Properties::default())
            .await;
        publisher
            .publish("cmd/dev", b"after", QoS::AtLeastOnce, false)
            .await;
        let got = new.recv_publish().await;
        assert_eq!((&*got.topic, &got.payload[..]), ("cmd/dev", &b"after"[..]));
        new.expect_silence(QUIET).await;
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_session_resumes_on_another_node_after_its_node_dies() {
    let Some(location) = ScratchLocation::from_env(
        "a_persistent_session_resumes_on_another_node_after_its_node_dies",
    )
    .await
    else {
        return;
    };
    run_case(location, |location| async move {
        let mut cluster = Cluster::new(location);
        let a = cluster.node("a").await;
        let b = cluster.node("b").await;

        park_dev(&a).await;

        // Published on node b while the client is away: node a queues and stores them.
        let (mut publisher, _) = b
            .harness
            .connect_v5("publisher", true, Properties::default())
            .await;
        let payloads: [&'static [u8]; 3] = [b"one", b"two", b"three"];
        for p in payloads {
            publisher.publish("q/dev", p, QoS::AtLeastOnce, false).await;
        }
        stored_queue_reaches(&a.store, "dev", payloads.len()).await;

        a.kill();
        let (mut dev, ack) = b.harness.connect_v5("dev", false, persistent(3600)).await;
        assert!(
            ack.session_present,
            "node b loaded the session from the store"
        );
        for p in payloads {
            let got = dev.recv_publish().await;
            assert_eq!((&*got.topic, &got.payload[..]), ("q/dev", p));
        }
        dev.expect_silence(QUIET).await;

        // And it goes on there: its subscription is node b's now.
        publisher
            .publish("q/dev", b"four", QoS::AtLeastOnce, false)
            .await;
        assert_eq!(&dev.recv_publish().await.payload[..], b"four");

        // A node that starts does not take every stored session for its own.
        let c = cluster.node("c").await;
        assert_eq!(c.harness.broker.session_count(), 0);
        assert_eq!(
            b.store.session_owner("dev").await.unwrap(),
            Some(("b".to_owned(), 2))
        );
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_connection_on_one_node_closes_the_connection_on_another() {
    let Some(location) =
        ScratchLocation::from_env("delete_connection_on_one_node_closes_the_connection_on_another")
            .await
    else {
        return;
    };
    run_case(location, |location| async move {
        let mut cluster = Cluster::new(location);
        let a = cluster.node("a").await;
        let b = cluster.node("b").await;
        let (mut dev, _) = a
            .harness
            .connect_v5("dev", true, Properties::default())
            .await;

        b.harness
            .broker
            .delete_connection("dev", false, true)
            .await
            .expect("node a had the connection");
        match dev.expect_closed().await {
            Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::AdministrativeAction),
            other => panic!("expected DISCONNECT 0x98 on node a, got {other:?}"),
        }
        // Now nobody has it, and a client id never seen is not found either.
        for client_id in ["dev", "nobody"] {
            let err = b
                .harness
                .broker
                .delete_connection(client_id, false, true)
                .await
                .expect_err("no connection");
            assert!(
                matches!(err, ferrite_broker::BrokerError::NotConnected { .. }),
                "{err:?}"
            );
        }
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_session_parked_on_a_live_node_moves_with_its_queue() {
    let Some(location) =
        ScratchLocation::from_env("an_offline_session_parked_on_a_live_node_moves_with_its_queue")
            .await
    else {
        return;
    };
    run_case(location, |location| async move {
        let mut cluster = Cluster::new(location);
        let a = cluster.node("a").await;
        let b = cluster.node("b").await;

        let mut dev = a.harness.open_client(ProtocolVersion::V5);
        let mut connect = connect_packet(ProtocolVersion::V5, "dev", true);
        connect.keep_alive = 0;
        connect.properties = persistent(600);
        // A delayed will: the session is resumed on node b within the delay, so it never
        // goes out (checked past the delay, below).
        let ack = dev
            .connect_with(with_will(connect, "will/dev", Some(WILL_DELAY_SECS)))
            .await;
        assert_eq!(ack.reason, ReasonCode::Success);
        dev.subscribe("q/dev", QoS::AtLeastOnce).await;
        dev.send(&Packet::Disconnect(ferrite_mqtt_codec::Disconnect {
            reason: ReasonCode::DisconnectWithWill,
            properties: Properties::default(),
        }))
        .await;
        assert_eq!(dev.expect_closed().await, None);
        let (mut watcher, _) = a
            .harness
            .connect_v5("watcher", true, Properties::default())
            .await;
        watcher.subscribe("will/dev", QoS::AtLeastOnce).await;

        // Queued on node a while parked there (published on a: acknowledged once durable).
        let (mut publisher, _) = a
            .harness
            .connect_v5("publisher", true, Properties::default())
            .await;
        publisher
            .publish("q/dev", b"parked", QoS::AtLeastOnce, false)
            .await;

        let (mut dev, ack) = b.harness.connect_v5("dev", false, persistent(600)).await;
        assert!(ack.session_present);
        assert_eq!(&dev.recv_publish().await.payload[..], b"parked");
        assert_eq!(
            a.harness.broker.session_count(),
            2,
            "watcher and publisher only"
        );

        // Node a keeps no copy: a later message reaches the client once, through node b.
        b.link.settled().await;
        publisher
            .publish("q/dev", b"later", QoS::AtLeastOnce, false)
            .await;
        assert_eq!(&dev.recv_publish().await.payload[..], b"later");
        dev.expect_silence(QUIET).await;
        watcher
            .expect_silence(Duration::from_secs(WILL_DELAY_SECS.into()) + QUIET)
            .await;
        cluster.stop().await;
    })
    .await;
}

/// Owners whose database is unreachable.
struct Unreachable;

impl SessionOwners for Unreachable {
    fn claim_session<'a>(
        &'a self,
        _client_id: &'a str,
        _node: &'a str,
        _now_ms: i64,
    ) -> ferrite_storage::StoreFuture<'a, ferrite_storage::SessionClaim> {
        Box::pin(async {
            Err(ferrite_storage::StorageError::Unavailable(
                "connection refused".into(),
            ))
        })
    }

    fn session_owner<'a>(
        &'a self,
        _client_id: &'a str,
    ) -> ferrite_storage::StoreFuture<'a, Option<(String, u64)>> {
        Box::pin(async { Ok(None) })
    }

    fn adopt_sessions<'a>(
        &'a self,
        _from: &'a str,
        _to: &'a str,
        _now_ms: i64,
    ) -> ferrite_storage::StoreFuture<'a, Vec<(String, u64)>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn release_session<'a>(
        &'a self,
        _client_id: &'a str,
        _node: &'a str,
        _epoch: u64,
    ) -> ferrite_storage::StoreFuture<'a, bool> {
        Box::pin(async { Ok(false) })
    }

    fn session_owner_nodes(&self) -> ferrite_storage::StoreFuture<'_, Vec<String>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

#[tokio::test(start_paused = true)]
async fn a_session_that_cannot_be_claimed_is_refused_as_server_unavailable() {
    let bus = Arc::new(InProcessBus::new());
    let sessions = ClusterSessions::new(bus, Arc::new(Unreachable), "a".into(), PREFIX);
    let harness =
        BrokerHarness::start_with(MqttConfig::default(), sessions.seams(Seams::default())).await;
    let mut c = harness.open_client(ProtocolVersion::V5);
    let ack = c
        .connect_with(connect_packet(ProtocolVersion::V5, "dev", true))
        .await;
    assert_eq!(ack.reason, ReasonCode::ServerUnavailable);
    assert_eq!(harness.broker.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_nodes_parked_session_is_adopted_and_queues_again() {
    let Some(location) =
        ScratchLocation::from_env("a_gone_nodes_parked_session_is_adopted_and_queues_again").await
    else {
        return;
    };
    run_case(location, |location| async move {
        let mut cluster = Cluster::new(location);
        let a = cluster.node("a").await;
        let b = cluster.node("b").await;
        let c = cluster.node("c").await;

        park_dev(&a).await;
        let (mut publisher, _) = c
            .harness
            .connect_v5("publisher", true, Properties::default())
            .await;
        publisher
            .publish("q/dev", b"before", QoS::AtLeastOnce, false)
            .await;
        stored_queue_reaches(&a.store, "dev", 1).await;

        // Node a dies with the session parked on it; node b hears it is gone and adopts it.
        a.kill();
        assert_eq!(b.sessions.adopt(&b.harness.broker, "a").await.unwrap(), 1);
        assert_eq!(b.sessions.adopted(), 1);
        assert_eq!(
            b.store.session_owner("dev").await.unwrap(),
            Some(("b".to_owned(), 2))
        );
        // Nothing is left to adopt: a second survivor gets none of it.
        assert_eq!(c.sessions.adopt(&c.harness.broker, "a").await.unwrap(), 0);
        b.link.settled().await;
        // Node c waits for node b's confirmation now, not for the gone node a's (which would
        // run out and store a second copy for the session).
        view_reaches(&c, "q/dev", &["b"]).await;

        // Published while the client is still away: the adopted session queues it (without
        // adoption nobody would hold the subscription, and it would be lost).
        publisher
            .publish("q/dev", b"while away", QoS::AtLeastOnce, false)
            .await;
        stored_queue_reaches(&b.store, "dev", 2).await;

        // The client comes back on node c: everything is there.
        let (mut dev, ack) = c.harness.connect_v5("dev", false, persistent(3600)).await;
        assert!(ack.session_present);
        for p in [&b"before"[..], b"while away"] {
            assert_eq!(&dev.recv_publish().await.payload[..], p);
        }
        dev.expect_silence(QUIET).await;
        assert_eq!(b.harness.broker.session_count(), 0, "node b let it go");
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_takes_its_parked_sessions_back() {
    let Some(location) =
        ScratchLocation::from_env("a_restarted_node_takes_its_parked_sessions_back").await
    else {
        return;
    };
    run_case(location, |location| async move {
        let mut cluster = Cluster::new(location);
        let a = cluster.node("a").await;
        let b = cluster.node("b").await;
        park_dev(&a).await;
        a.kill();

        // The same node id starts again (its id is kept in its data directory).
        let a = cluster.node("a").await;
        assert_eq!(
            a.harness.broker.session_count(),
            0,
            "nothing loaded by itself"
        );
        assert_eq!(a.sessions.adopt(&a.harness.broker, "a").await.unwrap(), 1);
        a.link.settled().await;
        let (mut publisher, _) = b
            .harness
            .connect_v5("publisher", true, Properties::default())
            .await;
        publisher
            .publish("q/dev", b"after the restart", QoS::AtLeastOnce, false)
            .await;
        stored_queue_reaches(&a.store, "dev", 1).await;
        let (mut dev, ack) = a.harness.connect_v5("dev", false, persistent(3600)).await;
        assert!(ack.session_present);
        assert_eq!(&dev.recv_publish().await.payload[..], b"after the restart");
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_ends_forgets_its_owner_row_and_a_reconnect_keeps_its_own() {
    let Some(location) = ScratchLocation::from_env(
        "a_session_that_ends_forgets_its_owner_row_and_a_reconnect_keeps_its_own",
    )
    .await
    else {
        return;
    };
    run_case(location, |location| async move {
        let mut cluster = Cluster::new(location);
        let a = cluster.node("a").await;
        let (_first, _) = a
            .harness
            .connect_v5("dev", true, Properties::default())
            .await;
        // The same client again, clean: its old session ends as the new one starts, and the
        // old one's release must not take the new connection's row.
        let (second, _) = a
            .harness
            .connect_v5("dev", true, Properties::default())
            .await;
        a.sessions.released(1).await;
        assert_eq!(
            a.store.session_owner("dev").await.unwrap(),
            Some(("a".to_owned(), 2))
        );
        second.disconnect().await;
        a.sessions.released(2).await;
        assert_eq!(a.store.session_owner("dev").await.unwrap(), None);

        // A persistent session parked here keeps its row: adoption needs it.
        park_dev(&a).await;
        assert_eq!(
            a.store.session_owner("dev").await.unwrap(),
            Some(("a".to_owned(), 1))
        );
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_of_a_node_nobody_heard_are_adopted_by_the_sweep() {
    let Some(location) =
        ScratchLocation::from_env("the_sessions_of_a_node_nobody_heard_are_adopted_by_the_sweep")
            .await
    else {
        return;
    };
    run_case(location, |location| async move {
        let mut cluster = Cluster::new(location);
        // Node a parks a session and dies without ever having announced itself.
        let a = cluster.node("a").await;
        park_dev(&a).await;
        a.kill();

        let b = cluster.node("b").await;
        let peers = ferrite_cluster::Peers::new(
            Arc::new(cluster.bus.clone()),
            "b".into(),
            0,
            PREFIX,
            Duration::from_millis(50),
        );
        peers
            .run(&cluster.tasks, cluster.cancel.clone())
            .await
            .unwrap();
        b.sessions.adopt_departed(
            b.harness.broker.clone(),
            &peers,
            &cluster.tasks,
            cluster.cancel.clone(),
        );
        let deadline = tokio::time::Instant::now() + WAIT;
        while b.sessions.adopted() == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "node b did not adopt the session of node a"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            b.store.session_owner("dev").await.unwrap(),
            Some(("b".to_owned(), 2))
        );
        assert_eq!(b.harness.broker.session_count(), 1);
        cluster.stop().await;
    })
    .await;
}

/// Waits until the stored session of `dev` is as `done` wants it.
async fn stored_until(store: &PostgresStore, done: impl Fn(&SessionSnapshot) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !store
        .load_session("dev")
        .await
        .expect("load the session")
        .is_some_and(|s| done(&s))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stored session never got there"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `node` has let go of `n` sessions whose writes the store refused.
async fn fenced_reaches(node: &Node, n: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while node.sessions.fenced() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node let go of {} of {n} fenced sessions",
            node.sessions.fenced()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(node.sessions.fenced(), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_a_claim_cannot_write_the_session_and_lets_it_go() {
    let Some(location) = ScratchLocation::from_env(
        "a_node_that_missed_a_claim_cannot_write_the_session_and_lets_it_go",
    )
    .await
    else {
        return;
    };
    run_case(location, |location| async move {
        let mut cluster = Cluster::new(location);
        let a = cluster.node("a").await;
        let b = cluster.node("b").await;
        let (mut dev, _) = a.harness.connect_v5("dev", false, persistent(600)).await;
        dev.subscribe("q/dev", QoS::AtLeastOnce).await;
        stored_until(&a.store, |s| s.subscriptions.len() == 1).await;

        // Node b claims the session, and node a never hears of it (say, the take-over request
        // was lost): a still holds the session, connection and all.
        let claim = b.store.claim_session("dev", "b", 1).await.unwrap();
        assert_eq!(claim.previous.as_deref(), Some("a"));
        // b gave up waiting for a's answer.
        assert!(b.store.seal_claim("dev", "b", claim.epoch).await.unwrap());
        let before = b.store.load_session("dev").await.unwrap();
        assert!(before.is_some());

        // The client subscribes once more through node a: node a's write of it is refused...
        dev.send(&Packet::Subscribe(ferrite_mqtt_codec::Subscribe {
            packet_id: std::num::NonZeroU16::new(7).unwrap(),
            filters: vec![(
                "late/dev".into(),
                ferrite_mqtt_codec::SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    ..Default::default()
                },
            )],
            properties: Properties::default(),
        }))
        .await;
        fenced_reaches(&a, 1).await;
        // ...so node a closes the connection as a take-over does and drops its copy...
        loop {
            match dev.expect_closed().await {
                Some(Packet::SubAck(_)) => continue,
                Some(Packet::Disconnect(d)) => {
                    assert_eq!(d.reason, ReasonCode::SessionTakenOver);
                    break;
                }
                other => panic!("expected DISCONNECT 0x8E from node a, got {other:?}"),
            }
        }
        assert_eq!(a.harness.broker.session_count(), 0, "node a let go of it");
        // ...and the stored session, node b's now, is as node b found it.
        // (The refused commit is over: node a let go after the store answered it.)
        assert_eq!(b.store.load_session("dev").await.unwrap(), before);
        assert_eq!(
            b.store.session_owner("dev").await.unwrap(),
            Some(("b".to_owned(), claim.epoch))
        );
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_taken_for_gone_cannot_write_the_sessions_adopted_from_it() {
    let Some(location) = ScratchLocation::from_env(
        "a_node_taken_for_gone_cannot_write_the_sessions_adopted_from_it",
    )
    .await
    else {
        return;
    };
    run_case(location, |location| async move {
        let mut cluster = Cluster::new(location);
        let a = cluster.node("a").await;
        let b = cluster.node("b").await;
        let c = cluster.node("c").await;
        park_dev(&a).await;
        // Node a's record of the disconnect is in the store (it is not fenced: a owned it).
        stored_until(&a.store, |s| s.session.disconnected_at_ms.is_some()).await;

        // Node b takes node a for gone (a was cut off for a while) and adopts its parked
        // session, while node a is alive and still holds it, subscription and all.
        assert_eq!(b.sessions.adopt(&b.harness.broker, "a").await.unwrap(), 1);
        b.link.settled().await;
        assert_eq!(a.harness.broker.session_count(), 1, "node a heard nothing");

        // A message for the session reaches both nodes: node b queues it in the store, node
        // a's queue write is refused and node a lets its copy go.
        let (mut publisher, _) = c
            .harness
            .connect_v5("publisher", true, Properties::default())
            .await;
        publisher
            .publish("q/dev", b"once", QoS::AtLeastOnce, false)
            .await;
        fenced_reaches(&a, 1).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while a.harness.broker.session_count() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "node a kept its copy"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stored_queue_reaches(&b.store, "dev", 1).await;
        let stored = b.store.load_session("dev").await.unwrap().unwrap();
        assert_eq!(stored.queued.len(), 1, "queued once, by node b");
        assert_eq!(stored.subscriptions.len(), 1);

        // The client gets it once, wherever it reconnects.
        let (mut dev, ack) = c.harness.connect_v5("dev", false, persistent(3600)).await;
        assert!(ack.session_present);
        assert_eq!(&dev.recv_publish().await.payload[..], b"once");
        dev.expect_silence(QUIET).await;
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qos1_publish_for_a_session_parked_elsewhere_waits_for_its_node_or_is_stored_for_it() {
    let Some(location) = ScratchLocation::from_env(
        "a_qos1_publish_for_a_session_parked_elsewhere_waits_for_its_node_or_is_stored_for_it",
    )
    .await
    else {
        return;
    };
    run_case(location, |location| async move {
        let mut cluster = Cluster::new(location);
        let a = cluster.node("a").await;
        let b = cluster.node("b").await;
        let c = cluster.node("c").await;
        c.link.set_receipt_timeout(Duration::from_secs(1));

        park_dev(&a).await;
        view_reaches(&c, "q/dev", &["a"]).await;
        view_reaches(&b, "q/dev", &["a"]).await;
        let (mut publisher, _) = c
            .harness
            .connect_v5("publisher", true, Properties::default())
            .await;

        // Acknowledged on node c once node a confirmed it stored it.
        publisher
            .publish("q/dev", b"one", QoS::AtLeastOnce, false)
            .await;
        assert_eq!(c.link.receipts_confirmed(), 1, "node a confirmed it");
        let stored = a.store.load_session("dev").await.unwrap().unwrap();
        assert_eq!(stored.queued.len(), 1, "stored on node a before the PUBACK");
        // A QoS 0 message, or one nobody durable wants, asks nobody.
        publisher
            .publish("q/dev", b"best effort", QoS::AtMostOnce, false)
            .await;
        publisher
            .publish("q/nobody", b"x", QoS::AtLeastOnce, false)
            .await;
        assert_eq!(c.link.receipts_confirmed(), 1);

        // Node a dies without a word; nobody else subscribes to q/dev. Node c's next QoS 1
        // message on it is acknowledged only after node c stored it for the session itself.
        a.kill();
        publisher
            .publish("q/dev", b"two", QoS::AtLeastOnce, false)
            .await;
        assert_eq!(c.link.receipts_timed_out(), 1);
        assert_eq!(c.link.receipts_fallback_stored(), 1);

        // The client resumes on node b with both.
        let (mut dev, ack) = b.harness.connect_v5("dev", false, persistent(3600)).await;
        assert!(ack.session_present);
        for p in [&b"one"[..], b"two"] {
            let got = dev.recv_publish().await;
            assert_eq!((&*got.topic, &got.payload[..]), ("q/dev", p));
        }
        dev.expect_silence(QUIET).await;
        // The inbox was emptied into the queue: a later load finds it once.
        b.link.settled().await;
        view_reaches(&c, "q/dev", &["b"]).await;
        publisher
            .publish("q/dev", b"three", QoS::AtLeastOnce, false)
            .await;
        assert_eq!(&dev.recv_publish().await.payload[..], b"three");
        assert_eq!(c.link.receipts_confirmed(), 2, "node b confirmed it");
        dev.expect_silence(QUIET).await;
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_routed_while_its_session_moves_is_stored_for_it_by_the_publishing_node() {
    let Some(location) = ScratchLocation::from_env(
        "a_message_routed_while_its_session_moves_is_stored_for_it_by_the_publishing_node",
    )
    .await
    else {
        return;
    };
    run_case(location, |location| async move {
        let mut cluster = Cluster::new(location);
        let a = cluster.node("a").await;
        let b = cluster.node("b").await;
        let c = cluster.node("c").await;

        park_dev(&a).await;
        // Another client on node a keeps node a subscribed to q/dev on the bus.
        let (mut other, _) = a
            .harness
            .connect_v5("other", true, Properties::default())
            .await;
        other.subscribe("q/dev", QoS::AtLeastOnce).await;
        a.link.settled().await;
        view_reaches(&c, "q/dev", &["a"]).await;

        // Node a lets the session go, as for a take-over, and the new node has not announced
        // it yet: node c still waits for node a, which routes the message (to `other`) but no
        // longer holds the session, and says so at once.
        assert!(a.harness.broker.hand_over("dev").await);
        let (mut publisher, _) = c
            .harness
            .connect_v5("publisher", true, Properties::default())
            .await;
        publisher
            .publish("q/dev", b"in the gap", QoS::AtLeastOnce, false)
            .await;
        assert_eq!(&other.recv_publish().await.payload[..], b"in the gap");
        assert_eq!(
            (
                c.link.receipts_confirmed(),
                c.link.receipts_timed_out(),
                c.link.receipts_fallback_stored()
            ),
            (1, 0, 1),
            "confirmed by node a without the session, stored by node c for it"
        );

        // The client resumes on node b: the message is there.
        let (mut dev, ack) = b.harness.connect_v5("dev", false, persistent(3600)).await;
        assert!(ack.session_present);
        let got = dev.recv_publish().await;
        assert_eq!(
            (&*got.topic, &got.payload[..]),
            ("q/dev", &b"in the gap"[..])
        );
        dev.expect_silence(QUIET).await;
        cluster.stop().await;
    })
    .await;
}
