use std::sync::Arc;

use anyhow::Context;
use ferrite_broker::{Broker, Seams};
use ferrite_cluster::{Bus, Link, NatsBus};
use ferrite_config::Config;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// This node's place in a cluster (`cluster.enabled`): its NATS connection and the link
/// between its broker and the bus.
pub(crate) struct ClusterNode {
    bus: NatsBus,
    link: Link,
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
        tracing::info!(node, urls = ?cfg.cluster.nats_urls, prefix = %cfg.cluster.subject_prefix, "joined the cluster's bus");
        Ok(Some(ClusterNode {
            bus,
            link,
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }))
    }

    /// `base` with the link as the broker's forwarder and interest hook, and the node id.
    pub(crate) fn seams(&self, base: Seams) -> Seams {
        self.link.seams(base)
    }

    pub(crate) fn health(&self) -> ClusterHealth {
        ClusterHealth {
            bus: self.bus.clone(),
            link: self.link.clone(),
        }
    }

    /// Starts routing between `broker` (built with [`ClusterNode::seams`]) and the bus.
    pub(crate) fn run(&self, broker: Broker) {
        self.link.run(broker, &self.tasks, self.cancel.clone());
    }

    /// Stops after the broker: what it forwarded last is published, then flushed to NATS.
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
