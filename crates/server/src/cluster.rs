use std::sync::Arc;

use anyhow::Context;
use ferrite_broker::{Broker, Seams};
use ferrite_cluster::{Bus, BusFeed, ClusterSessions, Link, NatsBus};
use ferrite_config::Config;
use ferrite_storage::SessionOwners;
use ferrite_types::{ChangeFeed, InProcessFeed};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// This node's place in a cluster (`cluster.enabled`): its NATS connection, the link
/// between its broker and the bus, the registry change feed shared with the other nodes, and
/// its side of sessions moving between nodes.
pub(crate) struct ClusterNode {
    bus: NatsBus,
    link: Link,
    feed: BusFeed,
    /// Set once the store is open ([`ClusterNode::own_sessions_in`]).
    sessions: Option<ClusterSessions>,
    node: Arc<str>,
    prefix: String,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

/// What `/health` shows of the cluster.
#[derive(Clone)]
pub(crate) struct ClusterHealth {
    bus: NatsBus,
    link: Link,
}

impl ClusterHealth {
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "node": self.link.node(),
            "bus": if self.bus.is_connected() { "connected" } else { "disconnected" },
            "messages_received": self.link.received(),
        })
    }
}

impl ClusterNode {
    /// Connects to NATS when `cluster.enabled`; `None` on a single node (no connection).
    /// Done before anything else starts, so an unreachable NATS stops the start-up at once.
    pub(crate) async fn join(cfg: &Config, node: &str) -> anyhow::Result<Option<ClusterNode>> {
        if !cfg.cluster.enabled {
            return Ok(None);
        }
        // The error names the URLs (never the credentials).
        let bus = NatsBus::connect(&cfg.cluster, node)
            .await
            .context("joining the cluster (cluster.nats_urls): is NATS running there?")?;
        let link = Link::new(
            Arc::new(bus.clone()),
            Arc::from(node),
            &cfg.cluster.subject_prefix,
            cfg.mqtt.multilevel_wildcard_matches_parent,
        );
        let feed = BusFeed::new(
            InProcessFeed::default(),
            Arc::new(bus.clone()),
            Arc::from(node),
            &cfg.cluster.subject_prefix,
        );
        let (cancel, tasks) = (CancellationToken::new(), TaskTracker::new());
        // Other nodes' changes are heard before this node serves anyone.
        feed.run(&tasks, cancel.clone())
            .await
            .context("subscribing to the cluster's registry changes")?;
        tracing::info!(node, urls = ?cfg.cluster.nats_urls, prefix = %cfg.cluster.subject_prefix, "joined the cluster's bus");
        Ok(Some(ClusterNode {
            bus,
            link,
            feed,
            sessions: None,
            node: Arc::from(node),
            prefix: cfg.cluster.subject_prefix.clone(),
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
    pub(crate) fn own_sessions_in(
        &mut self,
        owners: Option<Arc<dyn SessionOwners>>,
    ) -> anyhow::Result<()> {
        let owners = owners.context(
            "a cluster keeps its sessions in PostgreSQL: set storage.url = postgres://...",
        )?;
        self.sessions = Some(ClusterSessions::new(
            Arc::new(self.bus.clone()),
            owners,
            self.node.clone(),
            &self.prefix,
        ));
        Ok(())
    }

    /// `base` with the link as the broker's forwarder and interest hook, the node id, and
    /// the cluster's session directory.
    pub(crate) fn seams(&self, base: Seams) -> Seams {
        let seams = self.link.seams(base);
        match &self.sessions {
            Some(s) => s.seams(seams),
            None => seams,
        }
    }

    pub(crate) fn health(&self) -> ClusterHealth {
        ClusterHealth {
            bus: self.bus.clone(),
            link: self.link.clone(),
        }
    }

    /// Starts routing between `broker` (built with [`ClusterNode::seams`]) and the bus, and
    /// answering the other nodes' take-over requests (in place when this returns).
    pub(crate) async fn run(&self, broker: Broker) -> anyhow::Result<()> {
        self.link
            .run(broker.clone(), &self.tasks, self.cancel.clone());
        if let Some(s) = &self.sessions {
            s.serve(broker, &self.tasks, self.cancel.clone())
                .await
                .context("subscribing to the cluster's take-over requests")?;
        }
        Ok(())
    }

    /// Stops after the broker: what it forwarded last and the registry changes still queued
    /// are published, then flushed to NATS.
    pub(crate) async fn shutdown(self, timeout: std::time::Duration) {
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
