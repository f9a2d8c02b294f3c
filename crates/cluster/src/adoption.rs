//! Sessions nobody holds any more (ARCHITECTURE.md, "Node failure"): a persistent session
//! parked on a node that dies, or that stops, would stop queueing messages until its client
//! came back. So a live node adopts them: when [`crate::Peers`] tells it a peer left or went
//! silent, it claims that node's sessions in the store (one statement; several nodes adopting
//! at once each get a share) and loads them into its broker, where they queue messages again
//! until their clients reconnect, anywhere. A restarted node takes its own parked sessions
//! back the same way at start-up.
//!
//! A session its client claimed while it was being loaded here is let go again at once: the
//! owner row is read after the load, and a later owner wins.

use std::sync::atomic::Ordering;

use ferrite_broker::{Broker, ClaimError};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ClusterSessions;

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
            tracing::info!(from, sessions = kept, "adopted the sessions of a node");
        }
        Ok(kept)
    }

    /// Takes this node's own parked sessions back (a restart), then adopts the sessions of
    /// each peer `departures` announces, until `cancel`.
    pub fn adopt_departed(
        &self,
        broker: Broker,
        mut departures: broadcast::Receiver<String>,
        tasks: &TaskTracker,
        cancel: CancellationToken,
    ) {
        let sessions = self.clone();
        tasks.spawn(async move {
            let own = sessions.inner.node.clone();
            if let Err(e) = sessions.adopt(&broker, &own).await {
                tracing::warn!(error = %e, "cannot take this node's parked sessions back");
            }
            loop {
                let gone = tokio::select! {
                    () = cancel.cancelled() => return,
                    d = departures.recv() => match d {
                        Ok(node) => node,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "missed node departures: their sessions wait for their clients");
                            continue;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                };
                if let Err(e) = sessions.adopt(&broker, &gone).await {
                    tracing::warn!(node = %gone, error = %e, "cannot adopt the sessions of a gone node");
                }
            }
        });
    }

    /// Sessions adopted from gone nodes, or taken back after a restart, and loaded here.
    pub fn adopted(&self) -> u64 {
        self.inner.adopted.load(Ordering::Relaxed)
    }
}
