//! This node's place in a cluster (`cluster.enabled`): its NATS connection, the link between
//! its broker and the bus, the registry change feed and the retained messages shared with
//! the other nodes, the peers it hears, and whether it can take new work — what `/health`,
//! `/metrics`, the API and CONNECT consult (ARCHITECTURE.md, "Node failure").

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use ferrite_broker::{Admission, Broker, Seams};
use ferrite_cluster::{Bus, BusFeed, ClusterSessions, Link, NatsBus, Peers, RetainedSync};
use ferrite_config::Config;
use ferrite_storage::{BrokerStore, SessionInbox, SessionOwners};
use ferrite_types::{ChangeFeed, InProcessFeed};
use futures_util::future::BoxFuture;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Asks the shared store whether it answers now (PostgreSQL: `SELECT 1`), within the time
/// given.
pub(crate) type StoreProbe = Arc<dyn Fn(Duration) -> BoxFuture<'static, bool> + Send + Sync>;

/// This node's place in a cluster (see the module header).
pub(crate) struct ClusterNode {
    bus: NatsBus,
    link: Link,
    feed: BusFeed,
    node: Arc<str>,
    prefix: String,
    retained: RetainedSync,
    status: ClusterStatus,
    interval: Duration,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

/// What this node knows of the cluster and of its own connections to the bus and the store:
/// `/health`, `/metrics`, the API's and CONNECT's refusal while either is lost. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ClusterStatus {
    bus: NatsBus,
    link: Link,
    retained: RetainedSync,
    peers: Peers,
    /// The last store check's answer; a node starts with a store it just opened.
    store_ok: Arc<AtomicBool>,
    /// The node's session directory, set once the store is open
    /// ([`ClusterNode::own_sessions_in`]).
    sessions: Option<ClusterSessions>,
}

/// Why this node cannot take new work, if it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Degraded {
    Bus,
    Store,
}

impl Degraded {
    /// The refusal metric's label and MQTT 5 reason string.
    fn label(self) -> &'static str {
        match self {
            Degraded::Bus => "cluster_bus_unavailable",
            Degraded::Store => "cluster_store_unavailable",
        }
    }

    /// What a client is told.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Degraded::Bus => {
                "this node has lost its connection to the cluster's NATS; retry, another node may serve you"
            }
            Degraded::Store => {
                "this node cannot reach the cluster's PostgreSQL; retry, another node may serve you"
            }
        }
    }
}

impl ClusterStatus {
    pub(crate) fn bus_connected(&self) -> bool {
        self.bus.is_connected()
    }

    pub(crate) fn store_connected(&self) -> bool {
        self.store_ok.load(Ordering::Acquire)
    }

    /// `Some` while the bus or the store is lost.
    pub(crate) fn degraded(&self) -> Option<Degraded> {
        if !self.bus_connected() {
            Some(Degraded::Bus)
        } else if !self.store_connected() {
            Some(Degraded::Store)
        } else {
            None
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        let up = |ok: bool| if ok { "connected" } else { "disconnected" };
        serde_json::json!({
            "node": self.link.node(),
            "bus": up(self.bus_connected()),
            "store": up(self.store_connected()),
            "peers": self.peers.peers(),
            "messages_forwarded": self.link.forwarded(),
            "batches_forwarded": self.link.forwarded_batches(),
            "messages_forward_dropped": self.link.forward_dropped(),
            "batches_received": self.link.received(),
            "sessions_adopted": self.sessions.as_ref().map_or(0, ClusterSessions::adopted),
            "sessions_fenced": self.sessions.as_ref().map_or(0, ClusterSessions::fenced),
            "durable_remote_subscriptions": self.link.durable_remote(),
            "receipts_confirmed": self.link.receipts_confirmed(),
            "receipts_timed_out": self.link.receipts_timed_out(),
            "receipts_fallback_stored": self.link.receipts_fallback_stored(),
            "retained_published": self.retained.published(),
            "retained_applied": self.retained.applied(),
        })
    }
}

impl std::fmt::Debug for ClusterStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterStatus")
            .field("node", &self.link.node())
            .finish_non_exhaustive()
    }
}

/// CONNECT is refused (0x88 Server unavailable) while the bus or the store is lost.
impl Admission for ClusterStatus {
    fn refusal(&self) -> Option<&'static str> {
        self.degraded().map(Degraded::label)
    }
}

/// The `ferrite_cluster_*` series, read at each scrape.
impl prometheus_client::collector::Collector for ClusterStatus {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauges: [(&str, &str, i64); 3] = [
            (
                "peers",
                "Other nodes heard within the last three heartbeat intervals",
                i64::try_from(self.peers.peers().len()).unwrap_or(i64::MAX),
            ),
            (
                "bus_connected",
                "1 while this node is connected to NATS",
                i64::from(self.bus_connected()),
            ),
            (
                "store_connected",
                "1 while this node's last PostgreSQL check succeeded",
                i64::from(self.store_connected()),
            ),
        ];
        for (name, help, value) in gauges {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            ConstGauge::new(value).encode(metric)?;
        }
        let counters: [(&str, &str, u64); 11] = [
            (
                "receipts_confirmed",
                "QoS 1/2 messages whose other nodes' persistent sessions confirmed storing them before the publisher was acknowledged",
                self.link.receipts_confirmed(),
            ),
            (
                "receipts_timed_out",
                "QoS 1/2 messages some node holding persistent sessions for them did not confirm in time",
                self.link.receipts_timed_out(),
            ),
            (
                "receipts_fallback_stored",
                "Messages this node stored in the inbox of another node's session that did not confirm them in time",
                self.link.receipts_fallback_stored(),
            ),
            (
                "sessions_adopted",
                "Parked sessions taken over from gone nodes (or back after a restart) and loaded here",
                self.sessions.as_ref().map_or(0, ClusterSessions::adopted),
            ),
            (
                "sessions_fenced",
                "Sessions let go because PostgreSQL refused this node's writes of them: another node had claimed or adopted them",
                self.sessions.as_ref().map_or(0, ClusterSessions::fenced),
            ),
            (
                "messages_forwarded",
                "Messages this node published to the bus for other nodes",
                self.link.forwarded(),
            ),
            (
                "batches_forwarded",
                "Bus messages those went in (one per topic while the bus was busy)",
                self.link.forwarded_batches(),
            ),
            (
                "messages_forward_dropped",
                "QoS 0 messages not forwarded because the bus could not take them fast enough",
                self.link.forward_dropped(),
            ),
            (
                "batches_received",
                "Batches received from the bus (duplicates and this node's own included)",
                self.link.received(),
            ),
            (
                "retained_published",
                "Retained-message changes this node broadcast to the others",
                self.retained.published(),
            ),
            (
                "retained_applied",
                "Retained-message changes from other nodes applied here",
                self.retained.applied(),
            ),
        ];
        for (name, help, value) in counters {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(value).encode(metric)?;
        }
        Ok(())
    }
}

impl ClusterNode {
    /// Connects to NATS when `cluster.enabled`; `None` on a single node (no connection).
    /// Done before anything else starts, so an unreachable NATS stops the start-up at once.
    pub(crate) async fn join(
        cfg: &Config,
        node: &str,
        started_at_ms: i64,
    ) -> anyhow::Result<Option<ClusterNode>> {
        if !cfg.cluster.enabled {
            return Ok(None);
        }
        // The error names the URLs (never the credentials).
        let bus = NatsBus::connect(&cfg.cluster, node)
            .await
            .context("joining the cluster (cluster.nats_urls): is NATS running there?")?;
        let shared: Arc<dyn Bus> = Arc::new(bus.clone());
        let prefix = &cfg.cluster.subject_prefix;
        let link = Link::new(
            shared.clone(),
            Arc::from(node),
            prefix,
            cfg.mqtt.multilevel_wildcard_matches_parent,
        );
        link.set_receipt_timeout(Duration::from_millis(cfg.cluster.receipt_timeout_ms.max(1)));
        let feed = BusFeed::new(
            InProcessFeed::default(),
            shared.clone(),
            Arc::from(node),
            prefix,
        );
        let retained = RetainedSync::new(shared.clone(), Arc::from(node), prefix);
        let interval = Duration::from_millis(cfg.cluster.heartbeat_interval_ms.max(1));
        let peers = Peers::new(shared, Arc::from(node), started_at_ms, prefix, interval);
        let (cancel, tasks) = (CancellationToken::new(), TaskTracker::new());
        // Other nodes' changes are heard before this node serves anyone, and retained
        // changes before the broker loads the retained messages.
        feed.run(&tasks, cancel.clone())
            .await
            .context("subscribing to the cluster's registry changes")?;
        retained
            .subscribe()
            .await
            .context("subscribing to the cluster's retained messages")?;
        peers
            .run(&tasks, cancel.clone())
            .await
            .context("subscribing to the cluster's heartbeats")?;
        tracing::info!(node, urls = ?cfg.cluster.nats_urls, %prefix, "joined the cluster's bus");
        let status = ClusterStatus {
            bus: bus.clone(),
            link: link.clone(),
            retained: retained.clone(),
            peers: peers.clone(),
            store_ok: Arc::new(AtomicBool::new(true)),
            sessions: None,
        };
        Ok(Some(ClusterNode {
            bus,
            link,
            feed,
            node: Arc::from(node),
            prefix: cfg.cluster.subject_prefix.clone(),
            retained,
            status,
            interval,
            cancel,
            tasks,
        }))
    }

    /// The registry change feed: this node's changes go to the other nodes too.
    pub(crate) fn changes(&self) -> Arc<dyn ChangeFeed> {
        Arc::new(self.feed.clone())
    }

    /// Session owners are recorded in `owners` (the shared PostgreSQL store); `None` when
    /// the store cannot do that, which a cluster refuses.
    /// Messages this node stores for another node's sessions that did not confirm them in
    /// time go to `inboxes` (the same store).
    pub(crate) fn own_sessions_in(
        &mut self,
        owners: Option<Arc<dyn SessionOwners>>,
        inboxes: Option<Arc<dyn SessionInbox>>,
    ) -> anyhow::Result<()> {
        let owners = owners.context(
            "a cluster keeps its sessions in PostgreSQL: set storage.url = postgres://...",
        )?;
        if let Some(inboxes) = inboxes {
            self.link.store_inboxes_in(inboxes);
        }
        let sessions = ClusterSessions::new(
            Arc::new(self.bus.clone()),
            owners,
            self.node.clone(),
            &self.prefix,
        );
        self.status.sessions = Some(sessions);
        Ok(())
    }

    /// `base` with the link as the broker's forwarder and interest hook, the retained sync
    /// as its retained observer, the node id, CONNECT refused while degraded, and the
    /// cluster's session directory.
    pub(crate) fn seams(&self, base: Seams) -> Seams {
        let seams = self.retained.seams(self.link.seams(base));
        let seams = Seams {
            admission: Arc::new(self.status.clone()),
            ..seams
        };
        match &self.status.sessions {
            Some(s) => s.seams(seams),
            None => seams,
        }
    }

    pub(crate) fn status(&self) -> ClusterStatus {
        self.status.clone()
    }

    /// Starts routing between `broker` (built with [`ClusterNode::seams`]) and the bus,
    /// keeping its retained messages in step (re-read from `store` after a bus gap),
    /// checking the store with `probe` every heartbeat interval, and answering the other
    /// nodes' take-over requests (in place when this returns); adopts this node's own parked
    /// sessions (a restart) and those of each peer that leaves or goes silent.
    pub(crate) async fn run(
        &self,
        broker: Broker,
        store: Arc<dyn BrokerStore>,
        probe: Option<StoreProbe>,
    ) -> anyhow::Result<()> {
        self.link
            .run(broker.clone(), &self.tasks, self.cancel.clone());
        // After a bus gap the retained messages are re-read from the shared store.
        self.retained.run(
            broker.clone(),
            Some(store),
            &self.tasks,
            self.cancel.clone(),
        );
        if let Some(probe) = probe {
            self.tasks.spawn(check_store(
                probe,
                self.status.store_ok.clone(),
                self.interval,
                self.cancel.clone(),
            ));
        }
        if let Some(s) = &self.status.sessions {
            s.serve(broker.clone(), &self.tasks, self.cancel.clone())
                .await
                .context("subscribing to the cluster's take-over requests")?;
            // This node's own parked sessions after a restart, then each gone peer's.
            s.adopt_departed(broker, &self.status.peers, &self.tasks, self.cancel.clone());
        }
        Ok(())
    }

    /// Stops after the broker: what it forwarded last and the registry changes still queued
    /// are published, then flushed to NATS.
    pub(crate) async fn shutdown(self, timeout: Duration) {
        self.cancel.cancel();
        self.tasks.close();
        if tokio::time::timeout(timeout, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("cluster link tasks did not finish in time");
        }
        match tokio::time::timeout(timeout, self.bus.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "flushing the bus failed"),
            Err(_) => tracing::warn!("flushing the bus timed out"),
        }
    }
}

/// Asks the store every `interval` whether it answers (within the interval), and records it.
async fn check_store(
    probe: StoreProbe,
    ok: Arc<AtomicBool>,
    interval: Duration,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let answered = tokio::select! {
            () = cancel.cancelled() => return,
            a = probe(interval) => a,
        };
        if ok.swap(answered, Ordering::AcqRel) != answered {
            if answered {
                tracing::info!("the cluster's PostgreSQL answers again: taking new work");
            } else {
                tracing::error!(
                    "the cluster's PostgreSQL does not answer: refusing new work until it does"
                );
            }
        }
    }
}
