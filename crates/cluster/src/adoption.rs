//! Sessions nobody holds any more (ARCHITECTURE.md, "Node failure"): a persistent session
//! parked on a node that dies, or that stops, would stop queueing messages until its client
//! came back. So a live node adopts them: when [`crate::Peers`] tells it a peer left or went
//! silent, it claims that node's sessions in the store (one statement; several nodes adopting
//! at once each get a share) and loads them into its broker, where they queue messages again
//! until their clients reconnect, anywhere. A restarted node takes its own parked sessions
//! back the same way at start-up.
//!
//! A node nobody heard leave (it died before its first heartbeat reached anyone, or while no
//! other node ran) is found by a periodic sweep: owners of stored sessions that this node does
//! not hear are adopted the same way. A node whose own bus had a gap within the last window
//! (disconnected, reconnected, slow consumer) adopts nothing: silence then says nothing about
//! its peers — a NATS restart must not make every node adopt every other's sessions.
//!
//! A session its client claimed while it was being loaded here is let go again at once: the
//! owner row is read after the load, and a later owner wins.

use std::sync::atomic::Ordering;

use ferrite_broker::{Broker, ClaimError};
use tokio::sync::broadcast;

/// Windows (three heartbeat intervals each) between sweeps for unheard owners.
const SWEEP_WINDOWS: u32 = 5;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{ClusterSessions, Peers};

impl ClusterSessions {
    /// Claims every session `from` owns for this node and loads each stored one into
    /// `broker`. Returns how many were loaded and kept.
    pub async fn adopt(&self, broker: &Broker, from: &str) -> Result<usize, ClaimError> {
        let inner = &self.inner;
        let claimed = inner
            .owners
            .adopt_sessions(from, &inner.node, inner.clock.now_ms())
            .await
            .map_err(|e| ClaimError(e.to_string()))?;
        let mut kept = 0;
        for (client_id, epoch) in claimed {
            if !broker.adopt(&client_id, epoch).await? {
                continue;
            }
            let owner = inner
                .owners
                .session_owner(&client_id)
                .await
                .map_err(|e| ClaimError(e.to_string()))?;
            // A later claim by this node (its client connected here meanwhile) found it
            // loaded; one by another node asked this node to let go, maybe before the load.
            if owner.as_ref().is_some_and(|(n, _)| **n == *inner.node) {
                kept += 1;
            } else {
                broker.hand_over(&client_id).await;
            }
        }
        inner.adopted.fetch_add(kept as u64, Ordering::Relaxed);
        if kept > 0 || from != &*inner.node {
            tracing::info!(node = %inner.node, from, sessions = kept, "adopted the sessions of a node");
        }
        Ok(kept)
    }

    /// Takes this node's own parked sessions back (a restart), then adopts the sessions of
    /// each peer `peers` sees leave, until `cancel`. Every few windows it also adopts those of
    /// nodes that own stored sessions but that it does not hear at all: a node that died
    /// before anyone heard it, or while no other node ran. The first such sweep waits one
    /// window, so that every live node has been heard by then.
    pub fn adopt_departed(
        &self,
        broker: Broker,
        peers: &Peers,
        tasks: &TaskTracker,
        cancel: CancellationToken,
    ) {
        let sessions = self.clone();
        let peers = peers.clone();
        let mut departures = peers.departures();
        tasks.spawn(async move {
            let own = sessions.inner.node.clone();
            if let Err(e) = sessions.adopt(&broker, &own).await {
                tracing::warn!(error = %e, "cannot take this node's parked sessions back");
            }
            let window = peers.window();
            // A node that lost the bus, or just got it back, hears nobody for a while: its
            // peers are not gone. After every gap it decides nothing for a window (a gone node
            // is then found by a later sweep).
            let mut gaps = sessions.inner.bus.gaps();
            let mut heard_since = tokio::time::Instant::now();
            let mut sweep = tokio::time::interval_at(
                tokio::time::Instant::now() + window,
                window * SWEEP_WINDOWS,
            );
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let gone = tokio::select! {
                    () = cancel.cancelled() => return,
                    changed = gaps.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        heard_since = tokio::time::Instant::now();
                        continue;
                    }
                    _ = sweep.tick() => {
                        if heard_since.elapsed() >= window {
                            sessions.adopt_unheard(&broker, &peers).await;
                        }
                        continue;
                    }
                    d = departures.recv() => match d {
                        Ok(node) => node,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "missed node departures: the next sweep adopts their sessions");
                            continue;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                };
                if heard_since.elapsed() < window {
                    tracing::info!(node = %gone, "a node went silent while this node's bus had a gap: not adopting its sessions now");
                    continue;
                }
                if let Err(e) = sessions.adopt(&broker, &gone).await {
                    tracing::warn!(node = %gone, error = %e, "cannot adopt the sessions of a gone node");
                }
            }
        });
    }

    /// Adopts the sessions of every node that owns stored sessions but is neither this node
    /// nor a peer heard within the last window.
    async fn adopt_unheard(&self, broker: &Broker, peers: &Peers) {
        let owners = match self.inner.owners.session_owner_nodes().await {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(error = %e, "cannot list the nodes that own sessions");
                return;
            }
        };
        let live: Vec<String> = peers.peers().into_iter().map(|p| p.node).collect();
        for node in owners {
            if *node == *self.inner.node || live.contains(&node) {
                continue;
            }
            if let Err(e) = self.adopt(broker, &node).await {
                tracing::warn!(%node, error = %e, "cannot adopt the sessions of an unheard node");
            }
        }
    }

    /// Sessions adopted from gone nodes, or taken back after a restart, and loaded here.
    pub fn adopted(&self) -> u64 {
        self.inner.adopted.load(Ordering::Relaxed)
    }
}
