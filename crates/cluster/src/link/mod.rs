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
//!
//! The link also keeps the durable-interest view ([`crate::durable`]): it announces this
//! node's persistent sessions' subscriptions, hears the other nodes', asks for confirmations
//! of the QoS >= 1 messages their persistent sessions want ([`crate::receipts`]), confirms the
//! batches other nodes ask it to once they are durable here, and moves into a session's queue
//! what another node stored in its inbox.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use ferrite_broker::{Broker, Forwarder, Interest, Message, RemoteReceipt, Seams};
use ferrite_mqtt_codec::QoS;
use ferrite_storage::SessionInbox;
use ferrite_topic::MatchOptions;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::{Bus, BusMessage};
use crate::dedup::Dedup;
use crate::durable::{Change as Durable, DurableView};
use crate::envelope;
use crate::outbox::Outbox;
use crate::receipts::{Ack, Receipts, ack_subject};
use crate::subject::{filter_subjects, queue_group};

mod announce;
mod inbox;

enum Change {
    First(String),
    Last(String),
}

/// Forwarded messages queued for the bus beyond which QoS 0 ones are dropped and QoS 1/2
/// publishers wait for theirs to be sent.
const FORWARD_LIMIT: usize = 32 * 1024;
/// Received batches queued for the broker beyond which the bus subscriptions are not read.
const RECEIVE_LIMIT: usize = 1024;

/// Most changes in one announcement on the bus.
const MAX_ANNOUNCED: usize = 1024;

struct Queues {
    interest: mpsc::UnboundedReceiver<Change>,
    announce: mpsc::UnboundedReceiver<Durable>,
    drain: mpsc::UnboundedReceiver<String>,
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
    /// Which persistent sessions other nodes hold, and to what they subscribe.
    view: DurableView,
    receipts: Arc<Receipts>,
    /// This node's durable-interest changes, for the bus.
    announce_tx: mpsc::UnboundedSender<Durable>,
    /// Announcements queued, and published (`settled` compares them).
    announce_queued: AtomicU64,
    announced: watch::Sender<u64>,
    /// Sessions whose inboxes to move into their queues.
    drain_tx: mpsc::UnboundedSender<String>,
    /// Inbox drains asked for, and done.
    drains_queued: AtomicU64,
    drained: watch::Sender<u64>,
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
        let (announce_tx, announce) = mpsc::unbounded_channel();
        let (drain_tx, drain) = mpsc::unbounded_channel();
        let receipts = Arc::new(Receipts::new(bus.clone(), prefix.to_owned(), node.clone()));
        Link {
            inner: Arc::new(Inner {
                outbox: Outbox::new(
                    bus.clone(),
                    prefix.to_owned(),
                    node.clone(),
                    "forward a message",
                )
                .with_receipts(receipts.clone()),
                view: DurableView::new(
                    node.clone(),
                    MatchOptions {
                        multilevel_matches_parent,
                    },
                ),
                receipts,
                announce_tx,
                announce_queued: AtomicU64::new(0),
                announced: watch::Sender::new(0),
                drain_tx,
                drains_queued: AtomicU64::new(0),
                drained: watch::Sender::new(0),
                bus,
                node,
                prefix: prefix.to_owned(),
                multilevel_matches_parent,
                interest_tx,
                queued: AtomicU64::new(0),
                applied: watch::Sender::new(0),
                received: AtomicU64::new(0),
                queues: Mutex::new(Some(Queues {
                    interest,
                    announce,
                    drain,
                })),
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
        self.inner.receipts.start(tasks.clone(), cancel.clone());
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
        tasks.spawn(receive_task(
            self.inner.clone(),
            broker.clone(),
            received,
            tasks.clone(),
            cancel.clone(),
        ));
        tasks.spawn(announce::durable_task(
            self.inner.clone(),
            queues.announce,
            tasks.clone(),
            cancel.clone(),
        ));
        tasks.spawn(inbox::drain_task(
            self.inner.clone(),
            broker,
            queues.drain,
            tasks.clone(),
            cancel,
        ));
    }

    /// Waits until every interest change reported so far is applied on the bus, every
    /// durable-interest change is announced, and every inbox drain asked for is done.
    pub async fn settled(&self) {
        let target = self.inner.queued.load(Ordering::Acquire);
        let mut applied = self.inner.applied.subscribe();
        let _ = applied.wait_for(|n| *n >= target).await;
        let target = self.inner.announce_queued.load(Ordering::Acquire);
        let mut announced = self.inner.announced.subscribe();
        let _ = announced.wait_for(|n| *n >= target).await;
        let target = self.inner.drains_queued.load(Ordering::Acquire);
        let mut drained = self.inner.drained.subscribe();
        let _ = drained.wait_for(|n| *n >= target).await;
    }

    /// When another node's sessions do not confirm in time, what this node stores for them
    /// goes to `inbox` (the shared store), and this node's sessions' inboxes are read there.
    pub fn store_inboxes_in(&self, inbox: Arc<dyn SessionInbox>) {
        self.inner.receipts.set_inbox(inbox);
    }

    /// How long to wait for another node's confirmation ([`crate::RECEIPT_TIMEOUT`] unless
    /// set).
    pub fn set_receipt_timeout(&self, timeout: Duration) {
        self.inner.receipts.set_timeout(timeout);
    }

    /// The other nodes whose persistent sessions must store a QoS >= 1 message on `topic`
    /// before it is acknowledged, as this node knows them now.
    pub fn durable_nodes(&self, topic: &str) -> Vec<String> {
        let mut nodes: Vec<String> = self
            .inner
            .view
            .owners(topic)
            .0
            .into_iter()
            .map(|(n, _)| n.to_string())
            .collect();
        nodes.sort();
        nodes
    }

    /// Subscriptions of persistent sessions other nodes hold (QoS >= 1), as this node knows
    /// them.
    pub fn durable_remote(&self) -> usize {
        self.inner.view.remote_len()
    }

    /// Messages whose other nodes confirmed storing them.
    pub fn receipts_confirmed(&self) -> u64 {
        self.inner.receipts.confirmed()
    }

    /// Messages some node did not confirm in time.
    pub fn receipts_timed_out(&self) -> u64 {
        self.inner.receipts.timed_out()
    }

    /// Inbox entries stored here for sessions whose node did not confirm in time.
    pub fn receipts_fallback_stored(&self) -> u64 {
        self.inner.receipts.fallback_stored()
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

    fn durable(&self, client_id: &str, filter: &str, qos: QoS) {
        self.announce(Durable::Add {
            client: client_id.to_owned(),
            filter: filter.to_owned(),
            qos: qos as u8,
        });
    }

    fn durable_removed(&self, client_id: &str, filter: &str) {
        self.announce(Durable::Remove {
            client: client_id.to_owned(),
            filter: filter.to_owned(),
        });
    }

    fn durable_ended(&self, client_id: &str) {
        self.announce(Durable::End {
            client: client_id.to_owned(),
        });
    }

    fn durable_loaded(&self, client_id: &str) {
        self.inner.drains_queued.fetch_add(1, Ordering::AcqRel);
        let _ = self.inner.drain_tx.send(client_id.to_owned());
    }

    fn durable_moved(&self, client_id: &str) {
        self.inner.view.moved(client_id);
    }
}

impl Link {
    fn announce(&self, change: Durable) {
        let change = self.inner.view.local(change);
        self.inner.announce_queued.fetch_add(1, Ordering::AcqRel);
        let _ = self.inner.announce_tx.send(change);
    }
}

impl Forwarder for Link {
    fn forward(&self, msg: &Arc<Message>) -> Option<RemoteReceipt> {
        if msg.qos != QoS::AtMostOnce {
            let owners = self.inner.view.owners(&msg.topic);
            if !owners.is_empty() {
                return Some(self.inner.outbox.push_wanted(msg, owners));
            }
        }
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
    tasks: TaskTracker,
    cancel: CancellationToken,
) {
    let mut dedup = Dedup::default();
    loop {
        let m = tokio::select! {
            // A stopping node routes (and confirms) nothing more.
            biased;
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
        // Sessions the view still places here that are not here before or after the
        // delivery (they left a moment ago, or came back meanwhile): not stored here. One
        // that leaves after its delivery takes the message with it (a hand-over waits until
        // everything written is durable).
        let own: Vec<(Arc<str>, bool)> = match (batch.ack_wanted, batch.messages.first()) {
            (true, Some(first)) => inner
                .view
                .own_clients(&first.topic)
                .into_iter()
                .map(|c| {
                    let held = broker.holds_session(&c);
                    (c, held)
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut tickets = Vec::new();
        for msg in batch.messages {
            match broker.deliver_remote(Arc::new(msg)).await {
                Ok(d) => tickets.push(d.ticket),
                Err(_) => return,
            }
        }
        let missing: Vec<String> = own
            .into_iter()
            .filter(|(c, held)| !held || !broker.holds_session(c))
            .map(|(c, _)| c.to_string())
            .collect();
        if batch.ack_wanted {
            // Confirmed once durable here, off this task: the next batch need not wait.
            let (inner, broker) = (inner.clone(), broker.clone());
            let (sender, seq) = (batch.node, batch.seq);
            tasks.spawn(async move {
                for t in &tickets {
                    broker.wait(t).await;
                }
                let ack = Ack {
                    node: inner.node.to_string(),
                    incarnation: seq.incarnation,
                    seq: seq.seq,
                    missing,
                };
                tracing::debug!(node = %inner.node, to = %sender, seq = seq.seq, missing = ?ack.missing, "confirming a batch");
                let body = serde_json::to_vec(&ack).unwrap_or_default();
                if let Err(e) = inner
                    .bus
                    .publish(
                        ack_subject(&inner.prefix, &sender),
                        Default::default(),
                        body.into(),
                    )
                    .await
                {
                    tracing::warn!(node = %sender, error = %e, "cannot confirm a batch");
                }
            });
        }
    }
}
