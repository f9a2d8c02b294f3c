//! Routing: the subscription trie, the retained-message tree, and fan-out of a publish into
//! the queues of every matching session.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferrite_mqtt_codec::{QoS, RetainHandling, SubscriptionOptions};
use ferrite_storage::BrokerOp;
use ferrite_topic::{Match, MatchOptions, RetainedTree, SubscriptionTrie};
use parking_lot::RwLock;

use crate::message::{Message, now_ms};
use crate::metrics::Metrics;
use crate::session::{Enqueued, Outgoing, SessionCell, stored_message};

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

pub struct Router {
    pub subs: RwLock<SubscriptionTrie<u64, SubEntry>>,
    pub retained: RwLock<RetainedTree<Arc<Message>>>,
    pub retained_for_wildcards: bool,
    /// Server-side services (the shadow service) fed every publish on a reserved `$` topic
    /// their filter matches, besides the normal subscribers.
    pub taps: RwLock<Vec<Tap>>,
    pub match_options: MatchOptions,
}

/// A service's view of the publishes on some reserved topics.
pub struct Tap {
    pub filter: String,
    pub tx: tokio::sync::mpsc::Sender<Arc<Message>>,
}

/// Where one publish goes, one entry per session after merging overlapping subscriptions.
struct Target {
    session: Arc<SessionCell>,
    qos: QoS,
    retain: bool,
    sub_ids: Vec<u32>,
}

pub enum RetainOutcome {
    Stored,
    Deleted,
    QuotaExceeded,
}

impl Router {
    pub fn new(match_options: MatchOptions, retained_for_wildcards: bool) -> Router {
        Router {
            subs: RwLock::new(SubscriptionTrie::new(match_options)),
            retained: RwLock::new(RetainedTree::new(match_options)),
            retained_for_wildcards,
            taps: RwLock::new(Vec::new()),
            match_options,
        }
    }

    /// Updates the retained store for a RETAIN publish; a zero-byte payload deletes.
    pub fn retain(
        &self,
        msg: &Arc<Message>,
        max: usize,
        metrics: &Metrics,
        ops: &mut Vec<BrokerOp>,
    ) -> RetainOutcome {
        let mut tree = self.retained.write();
        if msg.payload.is_empty() {
            if tree.remove(&msg.topic).is_some() {
                ops.push(BrokerOp::DeleteRetained {
                    topic: msg.topic.to_string(),
                });
            }
            metrics.retained_messages.set(tree.len() as i64);
            return RetainOutcome::Deleted;
        }
        if tree.get(&msg.topic).is_none() && tree.len() >= max {
            return RetainOutcome::QuotaExceeded;
        }
        tree.insert(&msg.topic, Arc::new(msg.detached()));
        metrics.retained_messages.set(tree.len() as i64);
        ops.push(BrokerOp::PutRetained(stored_message(msg)));
        RetainOutcome::Stored
    }

    /// Whether any subscription or tap matches `topic`.
    pub fn has_receivers(&self, topic: &str) -> bool {
        let mut found = false;
        self.subs.read().for_each_match(topic, |_| found = true);
        found
            || self
                .taps
                .read()
                .iter()
                .any(|t| ferrite_topic::matches(&t.filter, topic, self.match_options))
    }

    fn targets(&self, msg: &Message) -> Vec<Target> {
        let mut targets: Vec<Target> = Vec::new();
        let subs = self.subs.read();
        let mut add = |entry: &SubEntry, shared: bool| {
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
                let pick = (0..n)
                    .map(|i| &members[(start + i) % n].1)
                    .find(|e| e.session.is_online())
                    .unwrap_or(&members[start % n].1);
                add(pick, true);
            }
        });
        targets
    }

    /// Queues `msg` for every matching session. Persistence records go to `ops`; the caller
    /// submits them before acknowledging the publish. Returns the number of deliveries queued.
    /// Hands `msg` to every tap whose filter matches. A tap that is behind holds the
    /// publisher (as a full subscriber queue does); a tap whose service stopped is skipped.
    async fn feed_taps(&self, msg: &Arc<Message>) {
        let senders: Vec<_> = self
            .taps
            .read()
            .iter()
            .filter(|t| ferrite_topic::matches(&t.filter, &msg.topic, self.match_options))
            .map(|t| t.tx.clone())
            .collect();
        for tx in senders {
            let _ = tx.send(msg.clone()).await;
        }
    }

    pub async fn route(
        &self,
        msg: &Arc<Message>,
        max_queued: usize,
        backpressure: Backpressure,
        metrics: &Metrics,
        ops: &mut Vec<BrokerOp>,
    ) -> usize {
        if msg.topic.starts_with('$') {
            self.feed_taps(msg).await;
        }
        let mut delivered = 0;
        for t in self.targets(msg) {
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
        metrics: &Metrics,
        ops: &mut Vec<BrokerOp>,
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
        let now = now_ms();
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
