//! Retained messages on every node (ARCHITECTURE.md, "Where each piece of state lives"): the
//! node that accepts a retained change (a RETAIN publish; an empty payload deletes) stores it
//! in PostgreSQL through its group commit and broadcasts it below `{prefix}.retained`; every
//! other node applies it to its retained store with `Broker::apply_retained`, which keeps the
//! newest by stamp (receipt time, node), so all stores converge on the same message whatever
//! order changes arrive in.
//!
//! Broadcast, not routed by interest: a subscriber may arrive on any node later and must find
//! the message there at once. The observer only queues (it runs under the retained store's
//! lock); one task publishes in order and one applies what the other nodes sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrite_broker::{Broker, Message, RetainedObserver, Seams};
use ferrite_storage::BrokerStore;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::{Bus, BusError, Subscription};
use crate::envelope;
use crate::outbox::Outbox;

/// The subject token below the prefix that retained changes travel under.
const RETAINED: &str = "retained";

struct Inner {
    bus: Arc<dyn Bus>,
    node: Arc<str>,
    /// Publishes below `{prefix}.retained`: changes travel on
    /// `{prefix}.retained.m.{topic levels}`.
    outbox: Outbox,
    /// The subscription, until `run` takes it.
    pending: Mutex<Pending>,
    /// Changes from other nodes heard, and of those applied to this node's store (older
    /// ones are dropped).
    heard: watch::Sender<u64>,
    applied: AtomicU64,
    /// Re-reads of the store after bus gaps.
    resyncs: watch::Sender<u64>,
}

#[derive(Default)]
struct Pending {
    started: bool,
    sub: Option<Subscription>,
    /// Watched from before subscribing, so no gap goes unnoticed.
    gaps: Option<watch::Receiver<u64>>,
}

/// Keeps this node's retained store in step with the other nodes'. Cheap to clone.
#[derive(Clone)]
pub struct RetainedSync {
    inner: Arc<Inner>,
}

impl RetainedSync {
    pub fn new(bus: Arc<dyn Bus>, node: Arc<str>, prefix: &str) -> RetainedSync {
        RetainedSync {
            inner: Arc::new(Inner {
                outbox: Outbox::new(
                    bus.clone(),
                    format!("{prefix}.{RETAINED}"),
                    node.clone(),
                    "broadcast a retained message",
                ),
                bus,
                node,
                pending: Mutex::new(Pending::default()),
                heard: watch::Sender::new(0),
                resyncs: watch::Sender::new(0),
                applied: AtomicU64::new(0),
            }),
        }
    }

    /// Subscribes to the other nodes' changes. Call before the broker loads its retained
    /// messages from the store: a change made between the load and the subscription would
    /// otherwise be missed; one heard before the load is applied after it, and the stamps
    /// keep whichever is newer.
    pub async fn subscribe(&self) -> Result<(), BusError> {
        let gaps = self.inner.bus.gaps();
        let sub = self
            .inner
            .bus
            .subscribe(format!("{}.>", self.inner.outbox.prefix()), None)
            .await?;
        let mut pending = self.inner.pending.lock();
        pending.sub = Some(sub);
        pending.gaps = Some(gaps);
        Ok(())
    }

    /// `base` with this as the broker's retained-store observer.
    pub fn seams(&self, base: Seams) -> Seams {
        Seams {
            retained: Arc::new(self.clone()),
            ..base
        }
    }

    /// Starts publishing this node's changes and applying the others' to `broker` (started
    /// with [`RetainedSync::seams`]), until `cancel`; what is queued then still goes out.
    /// When the bus reports a gap (this node may have missed broadcasts), the retained
    /// messages are read again from `store`, the shared one, if given.
    pub fn run(
        &self,
        broker: Broker,
        store: Option<Arc<dyn BrokerStore>>,
        tasks: &TaskTracker,
        cancel: CancellationToken,
    ) {
        let (started, sub, gaps) = {
            let mut p = self.inner.pending.lock();
            (
                std::mem::replace(&mut p.started, true),
                p.sub.take(),
                p.gaps.take(),
            )
        };
        if started {
            tracing::warn!("retained sync started twice");
            return;
        }
        // A failed broadcast leaves the others with the older message until the topic's next
        // change or their restart (PostgreSQL has this one).
        let inner = self.inner.clone();
        let until = cancel.clone();
        tasks.spawn(async move { inner.outbox.run(until).await });
        match sub {
            Some(sub) => {
                let gaps = gaps.filter(|_| store.is_some());
                tasks.spawn(apply_task(
                    self.inner.clone(),
                    broker,
                    sub,
                    Resync { gaps, store },
                    cancel,
                ));
            }
            None => tracing::warn!("retained sync runs without subscribing: call subscribe first"),
        }
    }

    /// Changes from other nodes applied here.
    pub fn applied(&self) -> u64 {
        self.inner.applied.load(Ordering::Relaxed)
    }

    /// Waits until at least `n` changes from other nodes have been heard (and applied, or
    /// dropped as older than what this node holds).
    pub async fn heard(&self, n: u64) {
        let mut heard = self.inner.heard.subscribe();
        let _ = heard.wait_for(|h| *h >= n).await;
    }

    /// Waits until the retained messages were re-read from the store `n` times after gaps.
    pub async fn resynced(&self, n: u64) {
        let mut resyncs = self.inner.resyncs.subscribe();
        let _ = resyncs.wait_for(|r| *r >= n).await;
    }

    /// Changes this node published.
    pub fn published(&self) -> u64 {
        self.inner.outbox.sent()
    }
}

impl RetainedObserver for RetainedSync {
    fn retained(&self, msg: &Arc<Message>) {
        // Never dropped, never waited on: every node must hear each change.
        self.inner.outbox.push(msg, None);
    }

    fn shared(&self) -> bool {
        true
    }
}

/// What catches a node up after a gap: the bus's gap counter and the shared store.
struct Resync {
    gaps: Option<watch::Receiver<u64>>,
    store: Option<Arc<dyn BrokerStore>>,
}

impl Resync {
    /// Returns when the bus reports a gap; never without a store to read from.
    async fn gap(&mut self) {
        if let Some(g) = &mut self.gaps {
            if g.changed().await.is_ok() {
                return;
            }
            self.gaps = None;
        }
        std::future::pending().await
    }

    async fn reload(&self, broker: &Broker) {
        let Some(store) = &self.store else { return };
        match store.load().await {
            Ok(snapshot) => {
                let changed = broker.refresh_retained(snapshot.retained);
                tracing::info!(changed, "re-read the retained messages after a bus gap");
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot re-read the retained messages after a bus gap");
            }
        }
    }
}

async fn apply_task(
    inner: Arc<Inner>,
    broker: Broker,
    mut sub: Subscription,
    mut resync: Resync,
    cancel: CancellationToken,
) {
    loop {
        let m = tokio::select! {
            () = cancel.cancelled() => break,
            () = resync.gap() => {
                resync.reload(&broker).await;
                inner.resyncs.send_modify(|n| *n += 1);
                continue;
            }
            m = sub.next() => match m { Some(m) => m, None => break },
        };
        let batch = match envelope::decode(inner.outbox.prefix(), &m.subject, m.payload) {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(subject = %m.subject, error = %e, "dropping a malformed retained change");
                continue;
            }
        };
        // This node applied its own changes when it accepted them.
        if batch.node == inner.node {
            continue;
        }
        let heard = batch.messages.len() as u64;
        for msg in batch.messages {
            if broker.apply_retained(Arc::new(msg)) {
                inner.applied.fetch_add(1, Ordering::Relaxed);
            }
        }
        inner.heard.send_modify(|h| *h += heard);
    }
}
