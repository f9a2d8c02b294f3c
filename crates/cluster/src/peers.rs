//! Which other nodes this node hears (ARCHITECTURE.md, "Node failure"): every node announces
//! itself on `{prefix}.nodes` every heartbeat interval (its id and start time) and says
//! goodbye when it stops; a peer not heard for three intervals is gone. Nodes join and leave
//! without the others restarting. This is a view for operators (`/health`, `/metrics`) and a
//! prompt, not membership: a departure tells the session directory to adopt the gone node's
//! parked sessions, but who gets each one is decided by PostgreSQL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::{Bus, BusError, Headers, Subscription};

/// The subject token below the prefix that announcements travel on.
const NODES: &str = "nodes";

/// Heartbeats a peer may miss before it counts as gone.
pub const MISSED_BEATS: u32 = 3;

/// One announcement on the bus.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Beat {
    node: String,
    /// Unix ms when the node started.
    started_at_ms: i64,
    /// The node is stopping: forget it at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    leaving: bool,
}

/// A node this node hears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peer {
    pub node: String,
    pub started_at_ms: i64,
    /// Milliseconds since its last announcement reached this node.
    pub last_seen_ms_ago: u64,
}

struct Seen {
    started_at_ms: i64,
    at: Instant,
}

struct Inner {
    bus: Arc<dyn Bus>,
    node: Arc<str>,
    started_at_ms: i64,
    subject: String,
    interval: Duration,
    seen: Mutex<BTreeMap<String, Seen>>,
    /// The number of live peers, for whoever waits on a join or a leave.
    count: watch::Sender<usize>,
    /// Each peer that said goodbye or went silent, once.
    departed: broadcast::Sender<String>,
}

/// This node's view of its peers. Cheap to clone.
#[derive(Clone)]
pub struct Peers {
    inner: Arc<Inner>,
}

impl Peers {
    /// Announces `node` (started at `started_at_ms`, Unix ms) on `{prefix}.nodes` every
    /// `interval` once running.
    pub fn new(
        bus: Arc<dyn Bus>,
        node: Arc<str>,
        started_at_ms: i64,
        prefix: &str,
        interval: Duration,
    ) -> Peers {
        Peers {
            inner: Arc::new(Inner {
                bus,
                node,
                started_at_ms,
                subject: format!("{prefix}.{NODES}"),
                interval: interval.max(Duration::from_millis(1)),
                seen: Mutex::new(BTreeMap::new()),
                count: watch::Sender::new(0),
                departed: broadcast::Sender::new(64),
            }),
        }
    }

    /// Subscribes, announces this node at once and then every interval, until `cancel`;
    /// then says goodbye. The subscription is in place when this returns.
    pub async fn run(
        &self,
        tasks: &TaskTracker,
        cancel: CancellationToken,
    ) -> Result<(), BusError> {
        let sub = self
            .inner
            .bus
            .subscribe(self.inner.subject.clone(), None)
            .await?;
        tasks.spawn(listen_task(self.inner.clone(), sub, cancel.clone()));
        tasks.spawn(announce_task(self.inner.clone(), cancel));
        Ok(())
    }

    /// The peers heard within the last [`MISSED_BEATS`] intervals, by node id.
    pub fn peers(&self) -> Vec<Peer> {
        let now = Instant::now();
        let window = self.window();
        self.inner
            .seen
            .lock()
            .iter()
            .filter(|(_, s)| now.duration_since(s.at) <= window)
            .map(|(node, s)| Peer {
                node: node.clone(),
                started_at_ms: s.started_at_ms,
                last_seen_ms_ago: u64::try_from(now.duration_since(s.at).as_millis())
                    .unwrap_or(u64::MAX),
            })
            .collect()
    }

    /// Hears each peer that leaves (goodbye) or goes silent for [`MISSED_BEATS`] intervals,
    /// from now on.
    pub fn departures(&self) -> broadcast::Receiver<String> {
        self.inner.departed.subscribe()
    }

    /// Waits until exactly `n` peers are live (a test's and an operator script's wait).
    pub async fn wait_for(&self, n: usize) {
        let mut count = self.inner.count.subscribe();
        let _ = count.wait_for(|c| *c == n).await;
    }

    /// How long a peer may stay silent before it counts as gone: [`MISSED_BEATS`] intervals.
    pub fn window(&self) -> Duration {
        self.inner.interval * MISSED_BEATS
    }
}

async fn announce_task(inner: Arc<Inner>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(inner.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        announce(&inner, false).await;
        // Expiry is noticed on the same beat (the listener only hears arrivals).
        refresh_count(&inner);
    }
    announce(&inner, true).await;
}

async fn announce(inner: &Inner, leaving: bool) {
    let beat = Beat {
        node: inner.node.to_string(),
        started_at_ms: inner.started_at_ms,
        leaving,
    };
    let payload = match serde_json::to_vec(&beat) {
        Ok(p) => Bytes::from(p),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a heartbeat");
            return;
        }
    };
    if let Err(e) = inner
        .bus
        .publish(inner.subject.clone(), Headers::new(), payload)
        .await
    {
        tracing::debug!(error = %e, "cannot announce this node on the bus");
    }
}

async fn listen_task(inner: Arc<Inner>, mut sub: Subscription, cancel: CancellationToken) {
    loop {
        let m = tokio::select! {
            () = cancel.cancelled() => break,
            m = sub.next() => match m { Some(m) => m, None => break },
        };
        let beat: Beat = match serde_json::from_slice(&m.payload) {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(error = %e, "ignoring an unreadable heartbeat");
                continue;
            }
        };
        if *beat.node == *inner.node {
            continue;
        }
        {
            let mut seen = inner.seen.lock();
            if beat.leaving {
                if seen.remove(&beat.node).is_some() {
                    tracing::info!(peer = %beat.node, "a cluster node left");
                    let _ = inner.departed.send(beat.node.clone());
                }
            } else if seen
                .insert(
                    beat.node.clone(),
                    Seen {
                        started_at_ms: beat.started_at_ms,
                        at: Instant::now(),
                    },
                )
                .is_none()
            {
                tracing::info!(peer = %beat.node, "a cluster node joined");
            }
        }
        refresh_count(&inner);
    }
}

/// Forgets peers silent for longer than the window and publishes the live count.
fn refresh_count(inner: &Inner) {
    let now = Instant::now();
    let window = inner.interval * MISSED_BEATS;
    let live = {
        let mut seen = inner.seen.lock();
        seen.retain(|node, s| {
            let alive = now.duration_since(s.at) <= window;
            if !alive {
                tracing::warn!(peer = %node, "a cluster node went silent");
                let _ = inner.departed.send(node.clone());
            }
            alive
        });
        seen.len()
    };
    inner.count.send_if_modified(|c| {
        let changed = *c != live;
        *c = live;
        changed
    });
}
