//! Routing: the subscription trie (every insertion and removal, reported to the interest
//! hook), the retained-message tree, the taps, and fan-out of a message into the queues of
//! every matching local session.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferrite_mqtt_codec::{QoS, RetainHandling, SubscriptionOptions};
use ferrite_storage::BrokerOp;
use ferrite_topic::{Match, MatchOptions, RetainedTree, SubscriptionTrie};
use parking_lot::RwLock;

use crate::BrokerInner;
use crate::few::Few;
use crate::message::Message;
use crate::metrics::Metrics;
use crate::persist::Writes;
use crate::seams::{Interest, RetainedObserver};
use crate::session::{Enqueued, Outgoing, SessionCell, stored_message};
use crate::taps::Taps;
use crate::tombstones::Tombstones;

/// How long a publisher may be held by a full subscriber queue, per delivery QoS.
#[derive(Clone, Copy, Debug)]
pub struct Backpressure {
    pub qos0: Duration,
    pub qos12: Duration,
}

#[derive(Clone)]
pub struct SubEntry {
    pub session: Arc<SessionCell>,
    pub options: SubscriptionOptions,
    pub id: Option<u32>,
}

/// A subscription just made, for retained-message delivery.
pub struct NewSubscription {
    pub filter: String,
    pub options: SubscriptionOptions,
    pub id: Option<u32>,
    /// False when it replaced an existing subscription (Retain Handling 1).
    pub is_new: bool,
}

/// What orders two versions of a retained message: receipt time, then the receiving node.
fn retained_stamp(m: &Message) -> (i64, &str) {
    (m.received_at_ms, &m.origin.node)
}

pub struct Router {
    subs: RwLock<SubscriptionTrie<u64, SubEntry>>,
    pub retained: RwLock<RetainedTree<Arc<Message>>>,
    pub retained_for_wildcards: bool,
    /// Recent retained deletes (a cluster only). Locked after `retained`, never before.
    pub tombstones: parking_lot::Mutex<Tombstones>,
    /// Services' views of the messages on the topics they serve.
    pub taps: Taps,
    /// Told of each filter's first and last local subscriber.
    interest: Arc<dyn Interest>,
}

/// Where one publish goes, one entry per session after merging overlapping subscriptions.
struct Target {
    session: Arc<SessionCell>,
    qos: QoS,
    retain: bool,
    sub_ids: Vec<u32>,
}

impl Router {
    pub fn new(
        match_options: MatchOptions,
        retained_for_wildcards: bool,
        interest: Arc<dyn Interest>,
        shared_retained: bool,
    ) -> Router {
        Router {
            subs: RwLock::new(SubscriptionTrie::new(match_options)),
            retained: RwLock::new(RetainedTree::new(match_options)),
            retained_for_wildcards,
            tombstones: parking_lot::Mutex::new(Tombstones::new(shared_retained)),
            taps: Taps::new(match_options),
            interest,
        }
    }

    /// Adds or replaces `session`'s subscription to `filter`. Every insertion into the
    /// subscription trie goes through here, so the interest hook sees every first subscriber.
    pub fn subscribe(
        &self,
        session: &Arc<SessionCell>,
        filter: &str,
        options: SubscriptionOptions,
        id: Option<u32>,
        metrics: &Metrics,
    ) {
        let mut trie = self.subs.write();
        let entry = SubEntry {
            session: session.clone(),
            options,
            id,
        };
        if trie.insert(filter, session.uid, entry).is_none() && trie.filter_len(filter) == 1 {
            self.interest.first(filter);
        }
        metrics.subscriptions.set(trie.len() as i64);
    }

    /// Removes the subscriptions of the session `uid` to `filters`. Every removal from the
    /// subscription trie goes through here, so the interest hook sees every last subscriber.
    pub fn unsubscribe<'f>(
        &self,
        uid: u64,
        filters: impl IntoIterator<Item = &'f str>,
        metrics: &Metrics,
    ) {
        let mut trie = self.subs.write();
        for filter in filters {
            if trie.remove(filter, &uid).is_some() && trie.filter_len(filter) == 0 {
                self.interest.last(filter);
            }
        }
        metrics.subscriptions.set(trie.len() as i64);
    }

    /// Updates the retained store for a RETAIN publish; a zero-byte payload deletes. False
    /// when the message was refused because the quota of retained messages is reached.
    ///
    /// Every change is stamped (receipt time, node) above the entry it replaces — the time
    /// is moved one past the old entry's when the clock says otherwise — so that nodes
    /// applying each other's changes ([`Router::apply_retained`]) keep the same, latest one.
    pub fn retain(
        &self,
        msg: &Arc<Message>,
        max: usize,
        metrics: &Metrics,
        observer: &dyn RetainedObserver,
        ops: &mut Writes,
    ) -> bool {
        let mut tree = self.retained.write();
        let mut tombstones = self.tombstones.lock();
        let held = tree.get(&msg.topic).map(|old| old.received_at_ms + 1);
        let deleted = tombstones.stamp(&msg.topic).map(|(ms, _)| ms + 1);
        let floor = held.max(deleted);
        if msg.payload.is_empty() {
            let removed = tree.remove(&msg.topic).is_some();
            metrics.retained_messages.set(tree.len() as i64);
            let mut stamped = Message::clone(msg);
            stamped.received_at_ms = stamped.received_at_ms.max(floor.unwrap_or(i64::MIN));
            if tombstones.enabled() {
                // Stamped and stored like a put (an empty payload), even when nothing was
                // held here: an older put of another node may still be on its way.
                ops.push(BrokerOp::PutRetained(stored_message(&stamped)));
                tombstones.record(
                    &msg.topic,
                    stamped.received_at_ms,
                    stamped.origin.node.clone(),
                );
            } else if removed {
                ops.push(BrokerOp::DeleteRetained {
                    topic: msg.topic.to_string(),
                });
            }
            observer.retained(&Arc::new(stamped));
            return true;
        }
        if held.is_none() && tree.len() >= max {
            return false;
        }
        let mut stamped = msg.detached();
        stamped.received_at_ms = stamped.received_at_ms.max(floor.unwrap_or(i64::MIN));
        ops.push(BrokerOp::PutRetained(stored_message(&stamped)));
        tombstones.clear(&msg.topic);
        let stamped = Arc::new(stamped);
        tree.insert(&msg.topic, stamped.clone());
        metrics.retained_messages.set(tree.len() as i64);
        observer.retained(&stamped);
        true
    }

    /// Applies a retained-store change another node accepted, unless the entry here is
    /// newer by stamp (receipt time, then node id). True when the store changed.
    pub fn apply_retained(&self, msg: Arc<Message>, metrics: &Metrics) -> bool {
        let mut tree = self.retained.write();
        let mut tombstones = self.tombstones.lock();
        if let Some(old) = tree.get(&msg.topic)
            && retained_stamp(&msg) <= retained_stamp(old)
        {
            return false;
        }
        // A put older than a delete this node knows of stays deleted.
        if tombstones
            .stamp(&msg.topic)
            .is_some_and(|deleted| retained_stamp(&msg) <= deleted)
        {
            return false;
        }
        apply_to_tree(&mut tree, &mut tombstones, msg, metrics)
    }

    /// Inserts `msg` unless the entry here is as new or newer by receipt time alone: `msg`
    /// was read back from the store, which keeps no origin to break a tie with. True when
    /// the store changed.
    /// A stored tombstone (an empty payload, a cluster's delete) deletes the entry here.
    pub fn refresh_retained(&self, msg: Arc<Message>, metrics: &Metrics) -> bool {
        let mut tree = self.retained.write();
        let mut tombstones = self.tombstones.lock();
        let here = tree
            .get(&msg.topic)
            .map(|old| old.received_at_ms)
            .max(tombstones.stamp(&msg.topic).map(|(ms, _)| ms));
        if here.is_some_and(|ms| ms >= msg.received_at_ms) {
            return false;
        }
        apply_to_tree(&mut tree, &mut tombstones, msg, metrics)
    }

    /// Whether any subscription or tap matches `topic`.
    pub fn has_receivers(&self, topic: &str) -> bool {
        let mut found = false;
        self.subs.read().for_each_match(topic, |_| found = true);
        found || self.taps.any_matching(topic)
    }

    /// The sessions `msg` goes to; with `only`, just the session of that client id.
    fn targets(&self, msg: &Message, only: Option<&str>) -> Few<Target> {
        let mut targets: Few<Target> = Few::default();
        let subs = self.subs.read();
        let mut add = |entry: &SubEntry, shared: bool| {
            if only.is_some_and(|c| *entry.session.client_id != *c) {
                return;
            }
            if !shared && entry.options.no_local && msg.origin.is_client(&entry.session.client_id) {
                return;
            }
            let qos = msg.qos.min(entry.options.qos);
            // Shared subscriptions never see the retain flag: retained delivery is per-member.
            let retain = !shared && entry.options.retain_as_published && msg.retain;
            if let Some(t) = targets
                .iter_mut()
                .find(|t| t.session.uid == entry.session.uid)
            {
                t.qos = t.qos.max(qos);
                t.retain |= retain;
                t.sub_ids.extend(entry.id);
            } else {
                targets.push(Target {
                    session: entry.session.clone(),
                    qos,
                    retain,
                    sub_ids: entry.id.into_iter().collect(),
                });
            }
        };
        subs.for_each_match(&msg.topic, |m| match m {
            Match::Single { value, .. } => add(value, false),
            Match::Shared { members, start, .. } => {
                let n = members.len();
                if n == 0 {
                    return;
                }
                let pick = match only {
                    // A targeted delivery reaches its client through any group it is in.
                    Some(c) => match members.iter().find(|m| *m.1.session.client_id == *c) {
                        Some(m) => &m.1,
                        None => return,
                    },
                    None => (0..n)
                        .map(|i| &members[(start + i) % n].1)
                        .find(|e| e.session.is_online())
                        .unwrap_or(&members[start % n].1),
                };
                add(pick, true);
            }
        });
        targets
    }

    /// Queues `msg` for every matching local session. Persistence records go to `ops`; the
    /// caller submits them before acknowledging the publish. Returns the number of deliveries
    /// queued.
    pub async fn fan_out(
        &self,
        inner: &BrokerInner,
        msg: &Arc<Message>,
        ops: &mut Writes,
    ) -> usize {
        self.fan_out_to(inner, msg, None, ops).await
    }

    /// [`Router::fan_out`] restricted, with `only`, to the session of that client id.
    pub async fn fan_out_to(
        &self,
        inner: &BrokerInner,
        msg: &Arc<Message>,
        only: Option<&str>,
        ops: &mut Writes,
    ) -> usize {
        let max_queued = inner.cfg.max_queued_messages;
        let backpressure = inner.backpressure();
        let metrics = &inner.metrics;
        let mut delivered = 0;
        for t in self.targets(msg, only) {
            let out = Outgoing {
                msg: msg.clone(),
                qos: t.qos,
                retain: t.retain,
                sub_ids: t.sub_ids,
                seq: None,
            };
            let mut result = t.session.enqueue(out.clone(), max_queued, ops);
            let hold = if t.qos == QoS::AtMostOnce {
                backpressure.qos0
            } else {
                backpressure.qos12
            };
            if matches!(result, Enqueued::Full) && hold.is_zero() {
                result = Enqueued::Dropped("queue_full");
            }
            if matches!(result, Enqueued::Full) {
                // Back-pressure: hold this publisher until the subscriber drains, bounded so one
                // stuck subscriber cannot stall a publisher forever. Holding QoS 0 publishers
                // too lets TCP slow them down instead of the broker reading what it must drop.
                let deadline = tokio::time::Instant::now() + hold;
                while matches!(result, Enqueued::Full) {
                    let space = t.session.space.notified();
                    tokio::pin!(space);
                    space.as_mut().enable();
                    result = t.session.enqueue(out.clone(), max_queued, ops);
                    if !matches!(result, Enqueued::Full) {
                        break;
                    }
                    if tokio::time::timeout_at(deadline, space).await.is_err() {
                        if t.qos == QoS::AtMostOnce {
                            t.session.congested.store(true, Ordering::Relaxed);
                        }
                        result = Enqueued::Dropped("queue_full");
                    }
                }
            }
            match result {
                Enqueued::Queued => delivered += 1,
                Enqueued::Dropped(reason) => metrics.dropped(reason),
                Enqueued::Full => metrics.dropped("queue_full"),
            }
        }
        delivered
    }

    /// Queues the retained messages a new subscription should receive.
    pub fn deliver_retained(
        &self,
        session: &Arc<SessionCell>,
        sub: &NewSubscription,
        max_queued: usize,
        now: i64,
        metrics: &Metrics,
        ops: &mut Writes,
    ) {
        let NewSubscription {
            filter,
            options,
            id: sub_id,
            is_new,
        } = sub;
        let (filter, options, sub_id, is_new) = (filter.as_str(), *options, *sub_id, *is_new);
        match options.retain_handling {
            RetainHandling::DoNotSend => return,
            RetainHandling::SendAtSubscribeIfNew if !is_new => return,
            _ => {}
        }
        let wildcard = filter.contains(['+', '#']);
        if wildcard && !self.retained_for_wildcards {
            return;
        }
        let mut found: Vec<Arc<Message>> = Vec::new();
        self.retained.read().for_each_matching(filter, |_, m| {
            if !m.is_expired(now) {
                found.push(m.clone());
            }
        });
        for msg in found {
            let out = Outgoing {
                qos: msg.qos.min(options.qos),
                msg,
                // Messages sent because of a new subscription always carry RETAIN=1.
                retain: true,
                sub_ids: sub_id.into_iter().collect(),
                seq: None,
            };
            match session.enqueue(out, max_queued, ops) {
                Enqueued::Queued => {}
                Enqueued::Full => metrics.dropped("queue_full"),
                Enqueued::Dropped(reason) => metrics.dropped(reason),
            }
        }
    }
}

/// Puts `msg` in the retained tree, or deletes its topic with a tombstone when its payload is
/// empty (a cluster's delete), once the caller decided it is newer than what is here. True
/// when the tree changed.
fn apply_to_tree(
    tree: &mut RetainedTree<Arc<Message>>,
    tombstones: &mut Tombstones,
    msg: Arc<Message>,
    metrics: &Metrics,
) -> bool {
    let changed = if msg.payload.is_empty() {
        tombstones.record(&msg.topic, msg.received_at_ms, msg.origin.node.clone());
        tree.remove(&msg.topic).is_some()
    } else {
        tombstones.clear(&msg.topic);
        let topic = msg.topic.clone();
        tree.insert(&topic, msg);
        true
    };
    metrics.retained_messages.set(tree.len() as i64);
    changed
}
