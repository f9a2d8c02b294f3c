//! The registry change feed of a cluster node (ARCHITECTURE.md, "Change feed"): this node's
//! changes go to its own subscribers at once and to the other nodes over the bus; the other
//! nodes' changes arrive from the bus to the same subscribers.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_types::{ChangeFeed, ChangeSubscription, InProcessFeed, RegistryChange};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::{Bus, BusError, BusMessage, Headers, Subscription};
use crate::envelope::NODE;

/// Which run of the publishing node a change comes from, so that a node ignores exactly its
/// own changes (two processes wrongly sharing a node id still hear each other).
pub const INCARNATION: &str = "Ferrite-Incarnation";

/// The subject token below the prefix that changes travel on.
const CHANGES: &str = "changes";

struct Inner {
    local: InProcessFeed,
    bus: Arc<dyn Bus>,
    node: Arc<str>,
    incarnation: String,
    subject: String,
    queue_tx: mpsc::UnboundedSender<RegistryChange>,
    queue: Mutex<Option<mpsc::UnboundedReceiver<RegistryChange>>>,
}

/// A [`ChangeFeed`] that carries changes between the nodes of a cluster over the bus.
#[derive(Clone)]
pub struct BusFeed {
    inner: Arc<Inner>,
}

impl BusFeed {
    /// A feed delivering to `local`'s subscribers, publishing on `{prefix}.changes`.
    pub fn new(local: InProcessFeed, bus: Arc<dyn Bus>, node: Arc<str>, prefix: &str) -> BusFeed {
        let (queue_tx, queue) = mpsc::unbounded_channel();
        BusFeed {
            inner: Arc::new(Inner {
                local,
                bus,
                node,
                incarnation: uuid::Uuid::new_v4().as_u64_pair().0.to_string(),
                subject: format!("{prefix}.{CHANGES}"),
                queue_tx,
                queue: Mutex::new(Some(queue)),
            }),
        }
    }

    /// Subscribes to the other nodes' changes (in place when this returns) and starts
    /// publishing this node's. Until `cancel`, after which what is queued is still published.
    pub async fn run(
        &self,
        tasks: &TaskTracker,
        cancel: CancellationToken,
    ) -> Result<(), BusError> {
        let Some(queue) = self.inner.queue.lock().take() else {
            tracing::warn!("cluster change feed started twice");
            return Ok(());
        };
        // Watched before subscribing, so a gap while subscribing is not overlooked.
        let gaps = self.inner.bus.gaps();
        let sub = self
            .inner
            .bus
            .subscribe(self.inner.subject.clone(), None)
            .await?;
        tasks.spawn(publish_task(self.inner.clone(), queue, cancel.clone()));
        tasks.spawn(receive_task(self.inner.clone(), sub, gaps, cancel));
        Ok(())
    }
}

impl ChangeFeed for BusFeed {
    fn publish(&self, change: RegistryChange) {
        self.inner.local.publish(change.clone());
        // The writer never waits for the bus: one task drains the queue in order.
        let _ = self.inner.queue_tx.send(change);
    }

    fn subscribe(&self) -> ChangeSubscription {
        self.inner.local.subscribe()
    }
}

async fn publish_task(
    inner: Arc<Inner>,
    mut queue: mpsc::UnboundedReceiver<RegistryChange>,
    cancel: CancellationToken,
) {
    loop {
        let change = tokio::select! {
            () = cancel.cancelled() => break,
            c = queue.recv() => match c { Some(c) => c, None => return },
        };
        publish_one(&inner, &change).await;
    }
    while let Ok(change) = queue.try_recv() {
        publish_one(&inner, &change).await;
    }
}

async fn publish_one(inner: &Inner, change: &RegistryChange) {
    let payload = match serde_json::to_vec(change) {
        Ok(p) => Bytes::from(p),
        Err(e) => {
            tracing::error!(error = %e, ?change, "cannot encode a registry change for the bus");
            return;
        }
    };
    let mut headers = Headers::new();
    headers.push(NODE, inner.node.to_string());
    headers.push(INCARNATION, inner.incarnation.clone());
    if let Err(e) = inner
        .bus
        .publish(inner.subject.clone(), headers, payload)
        .await
    {
        // The other nodes miss this change; they re-derive only on their own gap.
        tracing::warn!(error = %e, ?change, "cannot publish a registry change to the bus");
    }
}

async fn receive_task(
    inner: Arc<Inner>,
    mut sub: Subscription,
    gaps: watch::Receiver<u64>,
    cancel: CancellationToken,
) {
    let mut gaps = Some(gaps);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            m = sub.next() => match m {
                Some(m) => receive_one(&inner, &m),
                None => break,
            },
            () = next_gap(&mut gaps) => inner.local.missed(),
        }
    }
}

/// Returns when the bus reports a gap; never once it reports no more.
async fn next_gap(gaps: &mut Option<watch::Receiver<u64>>) {
    if let Some(g) = gaps {
        if g.changed().await.is_ok() {
            return;
        }
        *gaps = None;
    }
    std::future::pending().await
}

fn receive_one(inner: &Inner, m: &BusMessage) {
    if m.headers.get(NODE) == Some(&*inner.node)
        && m.headers.get(INCARNATION) == Some(inner.incarnation.as_str())
    {
        return;
    }
    match serde_json::from_slice::<RegistryChange>(&m.payload) {
        Ok(change) => inner.local.deliver_from_other_node(change),
        Err(e) => {
            // A change this node cannot read (a newer node's variant, say) may concern
            // anything: its subscribers treat everything as changed.
            tracing::warn!(error = %e, from = ?m.headers.get(NODE), "cannot read a registry change from the bus");
            inner.local.missed();
        }
    }
}
