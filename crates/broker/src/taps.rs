//! Taps: how Ferrite's own services (shadows, and later rules, jobs, provisioning) see the
//! messages published on the topics they serve. A tap is a topic filter with a bounded
//! channel, kept in a subscription trie of its own so a publish finds its taps by the same
//! walk as its subscribers, whatever the topic.
//!
//! Each tap's owner chooses what happens when the channel is full: [`Overflow::Hold`] holds the
//! publisher until there is room (a service that must not lose a request),
//! [`Overflow::DropAndCount`] drops the message for that tap and counts it (a service whose
//! slowness must never slow devices), and [`Overflow::HoldThenDrop`] treats the tap as the
//! broker treats a QoS 0 subscriber: a full tap holds the publisher for at most the QoS 0
//! back-pressure time (`mqtt.qos0_backpressure_ms`), and a tap that stayed full that long is
//! congested: it drops at once, holding no one, until it is half empty again (services' own
//! messages are never held: the tap's owner may be their publisher). That lets TCP
//! pace publishers when the tap's owner is merely busy (instead of the broker reading messages
//! only to drop them) while a stuck owner costs publishers one bounded wait. An *exclusive* tap takes the messages it matches away from
//! everyone else: no subscriber, other tap, retained store or other node sees them (Basic
//! Ingest).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ferrite_topic::{Match, MatchOptions, SubscriptionTrie};
use parking_lot::RwLock;
use tokio::sync::mpsc;

use crate::few::Few;
use crate::message::Message;
use crate::metrics::Metrics;

/// What a tap does with a message when its channel is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for room: the publisher is held, nothing is lost.
    Hold,
    /// Drop the message for this tap and count it in
    /// `ferrite_mqtt_tap_messages_dropped_total{tap}`; the publisher never waits.
    DropAndCount,
    /// Hold the publisher up to the QoS 0 back-pressure time, then drop and count; once that
    /// happened, drop at once until the tap is half empty.
    HoldThenDrop,
}

/// How a tap is set up by its owner.
#[derive(Debug, Clone, Copy)]
pub struct TapOptions {
    /// The `tap` label of its drop counter; a fixed name per service keeps labels bounded.
    pub name: &'static str,
    /// Messages the channel holds.
    pub capacity: usize,
    pub overflow: Overflow,
    /// Whether matching messages go to this tap only.
    pub exclusive: bool,
}

impl TapOptions {
    /// A tap that holds publishers when full and shares messages with subscribers.
    pub fn hold(name: &'static str, capacity: usize) -> TapOptions {
        TapOptions {
            name,
            capacity,
            overflow: Overflow::Hold,
            exclusive: false,
        }
    }

    /// A tap that drops (and counts) what it has no room for.
    pub fn drop_and_count(name: &'static str, capacity: usize) -> TapOptions {
        TapOptions {
            overflow: Overflow::DropAndCount,
            ..TapOptions::hold(name, capacity)
        }
    }

    /// A tap that holds publishers briefly, then drops (see [`Overflow::HoldThenDrop`]).
    pub fn hold_then_drop(name: &'static str, capacity: usize) -> TapOptions {
        TapOptions {
            overflow: Overflow::HoldThenDrop,
            ..TapOptions::hold(name, capacity)
        }
    }

    /// The same tap, taking its messages away from subscribers.
    pub fn exclusive(self) -> TapOptions {
        TapOptions {
            exclusive: true,
            ..self
        }
    }
}

/// A tap on a set of filters its owner can change ([`crate::Broker::tap_filters`]).
pub struct TapHandle {
    entry: Arc<TapEntry>,
}

pub(crate) struct TapEntry {
    name: &'static str,
    overflow: Overflow,
    exclusive: bool,
    tx: mpsc::Sender<Arc<Message>>,
    /// [`Overflow::HoldThenDrop`]: stayed full past the hold; drop without holding.
    congested: AtomicBool,
}

/// The taps whose filters match one message, chosen under the lock and fed after it.
#[derive(Default)]
pub(crate) struct Matched {
    /// A message usually matches one tap (a service's, the rules engine's) or none.
    taps: Few<Arc<TapEntry>>,
    /// An exclusive tap matched: the message goes to the exclusive taps only.
    pub exclusive: bool,
}

impl Matched {
    pub fn is_empty(&self) -> bool {
        self.taps.is_empty()
    }

    /// Hands the message to the matched taps, each by its overflow policy; `hold` is the
    /// longest a [`Overflow::HoldThenDrop`] tap holds the publisher.
    pub async fn feed(self, msg: &Arc<Message>, metrics: &Metrics, hold: Duration) {
        for tap in self.taps {
            match tap.overflow {
                // A closed tap (its service stopped) is skipped; it is swept at the next `add`.
                Overflow::Hold => {
                    let _ = tap.tx.send(msg.clone()).await;
                }
                Overflow::DropAndCount => {
                    if let Err(mpsc::error::TrySendError::Full(_)) = tap.tx.try_send(msg.clone()) {
                        metrics.tap_dropped(tap.name);
                    }
                }
                Overflow::HoldThenDrop => tap.hold_then_drop(msg, metrics, hold).await,
            }
        }
    }
}

impl TapEntry {
    async fn hold_then_drop(&self, msg: &Arc<Message>, metrics: &Metrics, hold: Duration) {
        if self.congested.load(Ordering::Relaxed) {
            if self.tx.capacity() * 2 < self.tx.max_capacity() {
                if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(msg.clone()) {
                    metrics.tap_dropped(self.name);
                }
                return;
            }
            self.congested.store(false, Ordering::Relaxed);
        }
        let msg = match self.tx.try_send(msg.clone()) {
            Err(mpsc::error::TrySendError::Full(msg)) => msg,
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
        };
        // A service's own messages are never held: the tap's owner may be the publisher (a
        // rule's republish lands in the rules tap), and would wait for itself.
        if matches!(msg.origin.protocol, ferrite_types::Protocol::Service(_)) {
            metrics.tap_dropped(self.name);
            return;
        }
        if tokio::time::timeout(hold, self.tx.send(msg)).await.is_err() {
            self.congested.store(true, Ordering::Relaxed);
            metrics.tap_dropped(self.name);
        }
    }
}

pub(crate) struct Taps {
    trie: RwLock<SubscriptionTrie<u64, Arc<TapEntry>>>,
    /// Every tap's filter and key, to sweep the closed ones without walking the trie.
    index: parking_lot::Mutex<Vec<(String, u64, Arc<TapEntry>)>>,
    next: AtomicU64,
}

impl Taps {
    pub fn new(opts: MatchOptions) -> Taps {
        Taps {
            trie: RwLock::new(SubscriptionTrie::new(opts)),
            index: parking_lot::Mutex::new(Vec::new()),
            next: AtomicU64::new(1),
        }
    }

    /// Adds a tap on an already validated `filter`; it ends when the receiver is dropped.
    pub fn add(&self, filter: &str, opts: TapOptions) -> mpsc::Receiver<Arc<Message>> {
        let (handle, rx) = self.add_set(&[filter], opts);
        drop(handle);
        rx
    }

    /// Adds one tap on every one of the already validated `filters`: a message matching
    /// several of them reaches it once.
    pub fn add_set(
        &self,
        filters: &[&str],
        opts: TapOptions,
    ) -> (TapHandle, mpsc::Receiver<Arc<Message>>) {
        let (tx, rx) = mpsc::channel(opts.capacity.max(1));
        let entry = Arc::new(TapEntry {
            name: opts.name,
            overflow: opts.overflow,
            exclusive: opts.exclusive,
            tx,
            congested: AtomicBool::new(false),
        });
        self.set_filters(&entry, filters);
        (TapHandle { entry }, rx)
    }

    /// Replaces the filters of `handle`'s tap at once: no message matching a filter kept is
    /// missed or seen twice meanwhile.
    pub fn retap(&self, handle: &TapHandle, filters: &[&str]) {
        self.set_filters(&handle.entry, filters);
    }

    fn set_filters(&self, entry: &Arc<TapEntry>, filters: &[&str]) {
        let mut index = self.index.lock();
        let mut trie = self.trie.write();
        index.retain(|(filter, key, tap)| {
            let keep = !tap.tx.is_closed() && !Arc::ptr_eq(tap, entry);
            if !keep {
                trie.remove(filter, key);
            }
            keep
        });
        for filter in filters {
            let key = self.next.fetch_add(1, Ordering::Relaxed);
            trie.insert(filter, key, entry.clone());
            index.push(((*filter).to_owned(), key, entry.clone()));
        }
    }

    /// The open taps matching `topic`.
    pub fn matching(&self, topic: &str) -> Matched {
        let mut matched = Matched::default();
        let trie = self.trie.read();
        if trie.is_empty() {
            return matched;
        }
        trie.for_each_match(topic, |m| {
            if let Match::Single { value, .. } = m
                && !value.tx.is_closed()
            {
                if value.exclusive && !matched.exclusive {
                    matched.exclusive = true;
                    matched.taps.clear();
                }
                if (value.exclusive || !matched.exclusive)
                    && !matched.taps.iter().any(|t| Arc::ptr_eq(t, value))
                {
                    matched.taps.push(value.clone());
                }
            }
        });
        matched
    }

    pub fn any_matching(&self, topic: &str) -> bool {
        let mut found = false;
        self.trie.read().for_each_match(topic, |m| {
            if let Match::Single { value, .. } = m {
                found |= !value.tx.is_closed();
            }
        });
        found
    }
}
