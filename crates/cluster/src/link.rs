//! A node's link between its broker and the bus (ARCHITECTURE.md, "Messages between nodes"):
//! the broker's interest hook becomes bus subscriptions, the forwarder publishes each local
//! message once, and what other nodes forwarded is routed to local subscribers through
//! `Broker::deliver_remote`.
//!
//! The hooks only queue (the interest hook runs under the subscription table's lock); one
//! task applies interest changes in order, the outbox publishes forwarded messages in order
//! (batched per topic, bounded: see [`crate::outbox`]), and one task routes received batches,
//! dropping this node's own and duplicates. Its queue is bounded too: when the broker cannot
//! keep up, the bus subscriptions stop being read, and what NATS then drops for a slow
//! consumer is counted as a gap.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrite_broker::{Broker, Forwarder, Interest, Message, RemoteReceipt, Seams};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::{Bus, BusMessage};
use crate::dedup::Dedup;
use crate::envelope;
use crate::outbox::Outbox;
use crate::subject::{filter_subjects, queue_group};

enum Change {
    First(String),
    Last(String),
}

/// Forwarded messages queued for the bus beyond which QoS 0 ones are dropped and QoS 1/2
/// publishers wait for theirs to be sent.
const FORWARD_LIMIT: usize = 32 * 1024;
/// Received batches queued for the broker beyond which the bus subscriptions are not read.
const RECEIVE_LIMIT: usize = 1024;

struct Queues {
    interest: mpsc::UnboundedReceiver<Change>,
}

struct Inner {
    bus: Arc<dyn Bus>,
    node: Arc<str>,
    prefix: String,
    multilevel_matches_parent: bool,
    outbox: Outbox,
    interest_tx: mpsc::UnboundedSender<Change>,
    /// Interest changes queued, and applied on the bus (`settled` compares them).
    queued: AtomicU64,
    applied: watch::Sender<u64>,
    /// Batches received from the bus, duplicates and this node's own included.
    received: AtomicU64,
    queues: Mutex<Option<Queues>>,
}

/// One node's link to the bus. Cheap to clone.
#[derive(Clone)]
pub struct Link {
    inner: Arc<Inner>,
}

impl Link {
    /// A link for node `node` publishing below subject `prefix`; `multilevel_matches_parent`
    /// is the broker's `mqtt.multilevel_wildcard_matches_parent`.
    pub fn new(
        bus: Arc<dyn Bus>,
        node: Arc<str>,
        prefix: &str,
        multilevel_matches_parent: bool,
    ) -> Link {
        let (interest_tx, interest) = mpsc::unbounded_channel();
        Link {
            inner: Arc::new(Inner {
                outbox: Outbox::new(
                    bus.clone(),
                    prefix.to_owned(),
                    node.clone(),
                    "forward a message",
                ),
                bus,
                node,
                prefix: prefix.to_owned(),
                multilevel_matches_parent,
                interest_tx,
                queued: AtomicU64::new(0),
                applied: watch::Sender::new(0),
                received: AtomicU64::new(0),
                queues: Mutex::new(Some(Queues { interest })),
            }),
        }
    }

    /// `base` with this link as forwarder and interest hook, and its node id.
    pub fn seams(&self, base: Seams) -> Seams {
        Seams {
            forwarder: Arc::new(self.clone()),
            interest: Arc::new(self.clone()),
            node: self.inner.node.clone(),
            ..base
        }
    }

    /// Starts the link's tasks on `tasks` for `broker` (started with [`Link::seams`]); they
    /// end when `cancel` is cancelled. Call once.
    pub fn run(&self, broker: Broker, tasks: &TaskTracker, cancel: CancellationToken) {
        let Some(queues) = self.inner.queues.lock().take() else {
            tracing::warn!("cluster link started twice");
            return;
        };
        let (received_tx, received) = mpsc::channel(RECEIVE_LIMIT);
        tasks.spawn(interest_task(
            self.inner.clone(),
            queues.interest,
            received_tx,
            tasks.clone(),
            cancel.clone(),
        ));
        let inner = self.inner.clone();
        let until = cancel.clone();
        tasks.spawn(async move { inner.outbox.run(until).await });
        tasks.spawn(receive_task(self.inner.clone(), broker, received, cancel));
    }

    /// Waits until every interest change reported so far is applied on the bus.
    pub async fn settled(&self) {
        let target = self.inner.queued.load(Ordering::Acquire);
        let mut applied = self.inner.applied.subscribe();
        let _ = applied.wait_for(|n| *n >= target).await;
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// Batches this node received from the bus (its own and duplicates included).
    pub fn received(&self) -> u64 {
        self.inner.received.load(Ordering::Relaxed)
    }

    /// Messages this node published to the bus for the other nodes.
    pub fn forwarded(&self) -> u64 {
        self.inner.outbox.sent()
    }

    /// Bus messages (batches of forwarded messages) this node published.
    pub fn forwarded_batches(&self) -> u64 {
        self.inner.outbox.batches()
    }

    /// QoS 0 messages not forwarded because the bus could not take them fast enough.
    pub fn forward_dropped(&self) -> u64 {
        self.inner.outbox.dropped()
    }
}

impl Interest for Link {
    fn first(&self, filter: &str) {
        self.inner.queued.fetch_add(1, Ordering::AcqRel);
        let _ = self
            .inner
            .interest_tx
            .send(Change::First(filter.to_owned()));
    }

    fn last(&self, filter: &str) {
        self.inner.queued.fetch_add(1, Ordering::AcqRel);
        let _ = self.inner.interest_tx.send(Change::Last(filter.to_owned()));
    }
}

impl Forwarder for Link {
    fn forward(&self, msg: &Arc<Message>) -> Option<RemoteReceipt> {
        self.inner.outbox.push(msg, Some(FORWARD_LIMIT))
    }
}

async fn interest_task(
    inner: Arc<Inner>,
    mut changes: mpsc::UnboundedReceiver<Change>,
    received: mpsc::Sender<BusMessage>,
    tasks: TaskTracker,
    cancel: CancellationToken,
) {
    // Each filter's bus subscriptions, ended by cancelling their readers.
    let mut subscribed: HashMap<String, CancellationToken> = HashMap::new();
    loop {
        let change = tokio::select! {
            () = cancel.cancelled() => break,
            c = changes.recv() => match c { Some(c) => c, None => break },
        };
        match change {
            Change::First(filter) => {
                let token = cancel.child_token();
                let group = queue_group(&filter);
                let subjects =
                    filter_subjects(&inner.prefix, &filter, inner.multilevel_matches_parent);
                for subject in subjects {
                    match inner.bus.subscribe(subject.clone(), group.clone()).await {
                        Ok(mut sub) => {
                            let (token, received) = (token.clone(), received.clone());
                            tasks.spawn(async move {
                                loop {
                                    tokio::select! {
                                        () = token.cancelled() => break,
                                        m = sub.next() => match m {
                                            Some(m) => if received.send(m).await.is_err() { break },
                                            None => break,
                                        },
                                    }
                                }
                            });
                        }
                        Err(e) => {
                            tracing::warn!(%filter, %subject, error = %e, "cannot subscribe on the bus");
                        }
                    }
                }
                if let Some(old) = subscribed.insert(filter, token) {
                    old.cancel();
                }
            }
            Change::Last(filter) => {
                if let Some(token) = subscribed.remove(&filter) {
                    token.cancel();
                }
            }
        }
        inner.applied.send_modify(|n| *n += 1);
    }
}

async fn receive_task(
    inner: Arc<Inner>,
    broker: Broker,
    mut messages: mpsc::Receiver<BusMessage>,
    cancel: CancellationToken,
) {
    let mut dedup = Dedup::default();
    loop {
        let m = tokio::select! {
            () = cancel.cancelled() => break,
            m = messages.recv() => match m { Some(m) => m, None => break },
        };
        inner.received.fetch_add(1, Ordering::Relaxed);
        let batch = match envelope::decode(&inner.prefix, &m.subject, m.payload) {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(subject = %m.subject, error = %e, "dropping a malformed bus message");
                continue;
            }
        };
        // This node routed its own messages when they were published.
        if batch.node == inner.node || !dedup.admit(&batch.node, batch.seq) {
            continue;
        }
        for msg in batch.messages {
            if broker.deliver_remote(Arc::new(msg)).await.is_err() {
                return;
            }
        }
    }
}
