//! Acknowledgement across nodes (ARCHITECTURE.md, "Acknowledgement across nodes"): a QoS >= 1
//! message that persistent sessions held by other nodes subscribe to (the durable-interest
//! view, [`crate::durable`]) travels in a batch that asks for confirmations, and its
//! publisher's acknowledgement waits on a [`RemoteReceipt`] until each of those nodes has
//! answered on `{prefix}.node.{me}.ack` that the batch is durable there.
//!
//! A node that does not answer within the timeout (it died, it is cut off, it let the session
//! go a moment ago) is not trusted to have stored it: this node appends the message to those
//! sessions' inboxes in the shared store itself ([`SessionInbox`]), tells the nodes on
//! `{prefix}.inbox` which sessions got mail, and only then confirms. The node holding such a
//! session (or loading it later) moves its inbox into the session's queue.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ferrite_broker::{Message, RemoteReceipt};
use ferrite_storage::{InboxAppend, SessionInbox};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::Bus;
use crate::durable::Owners;
use crate::envelope::{self, Sequence};

/// How long a publishing node waits for another node's confirmation before storing the
/// message for that node's sessions itself.
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(3);

/// Attempts to append to the shared store before giving up on a fallback.
const FALLBACK_ATTEMPTS: u32 = 3;

/// The subject on which node `node` hears confirmations of its batches.
pub(crate) fn ack_subject(prefix: &str, node: &str) -> String {
    format!("{prefix}.node.{node}.ack")
}

/// The subject on which every node hears which sessions got mail in their inboxes.
pub(crate) fn inbox_subject(prefix: &str) -> String {
    format!("{prefix}.inbox")
}

/// A confirmation: the batch `(incarnation, seq)` of the node it is sent to is durable on
/// `node`, except for the `missing` sessions, which the sender believed there but which left
/// it a moment ago (their new node has not announced them yet): the sender stores the batch
/// for those itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Ack {
    pub(crate) node: String,
    pub(crate) incarnation: u64,
    pub(crate) seq: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) missing: Vec<String>,
}

/// One message of a batch that asks for confirmations.
pub(crate) struct Wanted {
    pub(crate) msg: Arc<Message>,
    pub(crate) owners: Owners,
    pub(crate) receipt: RemoteReceipt,
}

struct Pending {
    waiting: HashSet<Arc<str>>,
    wanted: Vec<Wanted>,
}

pub(crate) struct Receipts {
    bus: Arc<dyn Bus>,
    prefix: String,
    node: Arc<str>,
    timeout_ms: AtomicU64,
    pending: Mutex<HashMap<Sequence, Pending>>,
    inbox: OnceLock<Arc<dyn SessionInbox>>,
    /// Where the timeouts and fallbacks run, and what ends the waits (the node stops).
    tasks: OnceLock<(TaskTracker, CancellationToken)>,
    confirmed: AtomicU64,
    timed_out: AtomicU64,
    stored: AtomicU64,
}

impl Receipts {
    pub(crate) fn new(bus: Arc<dyn Bus>, prefix: String, node: Arc<str>) -> Receipts {
        Receipts {
            bus,
            prefix,
            node,
            timeout_ms: AtomicU64::new(RECEIPT_TIMEOUT.as_millis() as u64),
            pending: Mutex::new(HashMap::new()),
            inbox: OnceLock::new(),
            tasks: OnceLock::new(),
            confirmed: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            stored: AtomicU64::new(0),
        }
    }

    pub(crate) fn set_timeout(&self, timeout: Duration) {
        self.timeout_ms
            .store(timeout.as_millis() as u64, Ordering::Relaxed);
    }

    /// Runs timeouts and fallbacks on `tasks`; when `cancel` fires (the node stops), what
    /// still waits runs its fallback at once. Call before the first batch goes out.
    pub(crate) fn start(&self, tasks: TaskTracker, cancel: CancellationToken) {
        let _ = self.tasks.set((tasks, cancel));
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        match self.tasks.get() {
            Some((tasks, _)) => {
                tasks.spawn(task);
            }
            None => tracing::error!("receipts used before the link runs"),
        }
    }

    pub(crate) fn set_inbox(&self, inbox: Arc<dyn SessionInbox>) {
        let _ = self.inbox.set(inbox);
    }

    pub(crate) fn inbox(&self) -> Option<&Arc<dyn SessionInbox>> {
        self.inbox.get()
    }

    /// Messages whose receipts the other nodes confirmed.
    pub(crate) fn confirmed(&self) -> u64 {
        self.confirmed.load(Ordering::Relaxed)
    }

    /// Messages some node did not confirm in time.
    pub(crate) fn timed_out(&self) -> u64 {
        self.timed_out.load(Ordering::Relaxed)
    }

    /// Inbox entries this node stored for sessions whose node did not confirm in time.
    pub(crate) fn fallback_stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }

    /// Waits for confirmations of batch `seq` carrying `wanted`: registered before the batch
    /// is published, so that no answer comes before it is expected. The fallback runs after
    /// the timeout for the nodes that did not answer.
    pub(crate) fn expect(self: &Arc<Self>, seq: Sequence, wanted: Vec<Wanted>) {
        tracing::debug!(node = %self.node, seq = seq.seq, messages = wanted.len(), owners = ?wanted.iter().map(|w| &w.owners).collect::<Vec<_>>(), "waiting for confirmations");
        let waiting: HashSet<Arc<str>> = wanted
            .iter()
            .flat_map(|w| w.owners.0.iter().map(|(n, _)| n.clone()))
            .collect();
        self.pending.lock().insert(seq, Pending { waiting, wanted });
        let this = self.clone();
        let timeout = Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed));
        let stop = self.tasks.get().map(|(_, c)| c.clone()).unwrap_or_default();
        self.spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(timeout) => {}
                () = stop.cancelled() => {}
            }
            this.expire(seq).await;
        });
    }

    /// `ack` arrived: confirms the batch once every node it waits for answered (after
    /// storing it here for the sessions the node said it no longer holds).
    pub(crate) fn acked(self: &Arc<Self>, incarnation: u64, ack: Ack) {
        let key = Sequence {
            incarnation,
            seq: ack.seq,
        };
        if ack.incarnation != incarnation {
            return;
        }
        if !ack.missing.is_empty() {
            let entries = {
                let pending = self.pending.lock();
                let Some(p) = pending.get(&key) else {
                    return;
                };
                let mut entries = Vec::new();
                for w in &p.wanted {
                    for (node, clients) in &w.owners.0 {
                        if **node != *ack.node {
                            continue;
                        }
                        for c in clients {
                            if ack.missing.iter().any(|m| **m == **c) {
                                entries.push(InboxAppend {
                                    client_id: c.to_string(),
                                    topic: w.msg.topic.to_string(),
                                    body: envelope::encode(
                                        &self.prefix,
                                        &self.node,
                                        key,
                                        &[&*w.msg],
                                    )
                                    .payload,
                                });
                            }
                        }
                    }
                }
                entries
            };
            let this = self.clone();
            self.spawn(async move {
                this.store(entries).await;
                this.acked(
                    incarnation,
                    Ack {
                        missing: Vec::new(),
                        ..ack
                    },
                );
            });
            return;
        }
        let done = {
            let mut pending = self.pending.lock();
            let Some(p) = pending.get_mut(&key) else {
                return;
            };
            p.waiting.remove(ack.node.as_str());
            if !p.waiting.is_empty() {
                return;
            }
            pending.remove(&key)
        };
        if let Some(p) = done {
            self.confirmed
                .fetch_add(p.wanted.len() as u64, Ordering::Relaxed);
            for w in p.wanted {
                w.receipt.confirm();
            }
        }
    }

    /// The batch `seq` could not be published: nobody will answer for it.
    pub(crate) async fn unsent(&self, seq: Sequence) {
        self.expire(seq).await;
    }

    /// Runs the fallback for the nodes batch `seq` still waits for, then confirms it.
    async fn expire(&self, seq: Sequence) {
        let Some(p) = self.pending.lock().remove(&seq) else {
            return;
        };
        self.timed_out
            .fetch_add(p.wanted.len() as u64, Ordering::Relaxed);
        let mut entries = Vec::new();
        for w in &p.wanted {
            let mut body = None;
            for (node, clients) in &w.owners.0 {
                if !p.waiting.contains(node) {
                    continue;
                }
                let body = body
                    .get_or_insert_with(|| {
                        envelope::encode(&self.prefix, &self.node, seq, &[&*w.msg]).payload
                    })
                    .clone();
                for client in clients {
                    entries.push(InboxAppend {
                        client_id: client.to_string(),
                        topic: w.msg.topic.to_string(),
                        body: body.clone(),
                    });
                }
            }
        }
        let nodes: Vec<&str> = p.waiting.iter().map(|n| &**n).collect();
        tracing::warn!(
            ?nodes,
            messages = p.wanted.len(),
            "nodes did not confirm storing messages in time: storing them for their sessions here"
        );
        self.store(entries).await;
        for w in p.wanted {
            w.receipt.confirm();
        }
    }

    async fn store(&self, entries: Vec<InboxAppend>) {
        if entries.is_empty() {
            return;
        }
        let Some(inbox) = self.inbox.get() else {
            tracing::error!(
                entries = entries.len(),
                "no shared store to keep messages for unanswering nodes' sessions in"
            );
            return;
        };
        let mut attempt = 0;
        let written = loop {
            attempt += 1;
            match inbox.append_inbox(entries.clone()).await {
                Ok(written) => break written,
                Err(e) if attempt < FALLBACK_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "cannot store messages for sessions of an unanswering node; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, entries = entries.len(), "cannot store messages for sessions of an unanswering node: they are lost if it is gone");
                    return;
                }
            }
        };
        tracing::debug!(node = %self.node, ?written, entries = entries.len(), "stored messages in inboxes");
        let stored = entries
            .iter()
            .filter(|e| written.binary_search(&e.client_id).is_ok())
            .count();
        self.stored.fetch_add(stored as u64, Ordering::Relaxed);
        if written.is_empty() {
            return;
        }
        let body = serde_json::to_vec(&written).unwrap_or_default();
        if let Err(e) = self
            .bus
            .publish(inbox_subject(&self.prefix), Default::default(), body.into())
            .await
        {
            // The sessions' next load moves it.
            tracing::warn!(error = %e, "cannot tell the nodes which sessions got mail");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InProcessBus;
    use bytes::Bytes;
    use ferrite_mqtt_codec::QoS;
    use ferrite_storage::{InboxEntry, StoreFuture};
    use ferrite_types::Origin;

    /// An inbox that keeps what is appended, for sessions `stored` alone.
    #[derive(Default)]
    struct Kept {
        appended: Mutex<Vec<InboxAppend>>,
    }

    impl SessionInbox for Kept {
        fn append_inbox(&self, entries: Vec<InboxAppend>) -> StoreFuture<'_, Vec<String>> {
            let mut written: Vec<String> = entries.iter().map(|e| e.client_id.clone()).collect();
            written.sort();
            written.dedup();
            self.appended.lock().extend(entries);
            Box::pin(std::future::ready(Ok(written)))
        }

        fn inbox<'a>(&'a self, _client_id: &'a str) -> StoreFuture<'a, Vec<InboxEntry>> {
            Box::pin(std::future::ready(Ok(Vec::new())))
        }

        fn delete_inbox<'a>(&'a self, _client_id: &'a str, _ids: &'a [u64]) -> StoreFuture<'a, ()> {
            Box::pin(std::future::ready(Ok(())))
        }
    }

    fn msg(payload: &'static str) -> Arc<Message> {
        Arc::new(Message {
            topic: "q/dev".into(),
            payload: Bytes::from_static(payload.as_bytes()),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Default::default(),
            received_at_ms: 1,
            expires_at_ms: None,
            origin: Arc::new(Origin {
                client_id: None,
                principal: None,
                source_ip: None,
                protocol: ferrite_types::Protocol::Http,
                node: "c".into(),
            }),
        })
    }

    fn owners(list: &[(&str, &[&str])]) -> Owners {
        Owners(
            list.iter()
                .map(|(n, cs)| (Arc::from(*n), cs.iter().map(|c| Arc::from(*c)).collect()))
                .collect(),
        )
    }

    fn ack(node: &str, seq: Sequence, missing: &[&str]) -> Ack {
        Ack {
            node: node.into(),
            incarnation: seq.incarnation,
            seq: seq.seq,
            missing: missing.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_receipt_waits_for_every_node_and_stores_for_the_silent_and_the_missing() {
        let receipts = Arc::new(Receipts::new(
            Arc::new(InProcessBus::new()),
            "p".into(),
            "c".into(),
        ));
        let inbox = Arc::new(Kept::default());
        receipts.set_inbox(inbox.clone());
        let (tasks, cancel) = (TaskTracker::new(), CancellationToken::new());
        receipts.start(tasks.clone(), cancel.clone());
        let seq = |seq| Sequence {
            incarnation: 7,
            seq,
        };

        // Batch 1 waits for nodes a and b: confirmed once both answered.
        let r1 = RemoteReceipt::pending();
        receipts.expect(
            seq(1),
            vec![Wanted {
                msg: msg("one"),
                owners: owners(&[("a", &["x"]), ("b", &["y"])]),
                receipt: r1.clone(),
            }],
        );
        receipts.acked(7, ack("a", seq(1), &[]));
        assert!(!r1.is_confirmed(), "node b has not answered");
        receipts.acked(8, ack("b", seq(1), &[]));
        assert!(
            !r1.is_confirmed(),
            "an answer to another incarnation is not one"
        );
        receipts.acked(7, ack("b", seq(1), &[]));
        assert!(r1.is_confirmed());
        assert_eq!(receipts.confirmed(), 1);

        // Batch 2: node a answers that session x left it; node b stays silent.
        let r2 = RemoteReceipt::pending();
        receipts.expect(
            seq(2),
            vec![Wanted {
                msg: msg("two"),
                owners: owners(&[("a", &["x", "w"]), ("b", &["y"])]),
                receipt: r2.clone(),
            }],
        );
        receipts.acked(7, ack("a", seq(2), &["x"]));
        tokio::task::yield_now().await;
        let stored = |inbox: &Kept| -> Vec<(String, Bytes)> {
            inbox
                .appended
                .lock()
                .iter()
                .map(|e| (e.client_id.clone(), e.body.clone()))
                .collect()
        };
        assert_eq!(stored(&inbox).len(), 1, "stored for x, not for w");
        assert_eq!(stored(&inbox)[0].0, "x");
        assert!(!r2.is_confirmed(), "node b has not answered");
        tokio::time::sleep(RECEIPT_TIMEOUT + Duration::from_millis(1)).await;
        assert!(
            r2.is_confirmed(),
            "confirmed after storing it for node b's session"
        );
        let all = stored(&inbox);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].0, "y");
        // The entry is the message in the envelope encoding.
        let batch = envelope::decode("p", "p.m.q.dev", all[1].1.clone()).unwrap();
        assert_eq!(&batch.messages[0].payload[..], b"two");
        assert_eq!(
            (
                receipts.confirmed(),
                receipts.timed_out(),
                receipts.fallback_stored()
            ),
            (1, 1, 2)
        );
        cancel.cancel();
        tasks.close();
        tasks.wait().await;
    }
}
