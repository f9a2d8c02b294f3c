//! One ordered stream of this node's messages onto the bus: the link's forwarded messages and
//! the retained sync's broadcasts. The task sending them takes everything queued at once and
//! sends it as one batch per topic ([`crate::envelope`]), so a busy node pays the bus's
//! per-message cost once per batch while a quiet one sends each message the moment it comes.
//! Grouping by topic keeps each topic's order, which is the order MQTT promises.
//!
//! The queue is bounded where a publisher can be held back: past `limit` queued messages a
//! QoS 0 message is dropped (and counted), as the broker drops QoS 0 for a slow subscriber,
//! and a QoS 1/2 message is queued with a receipt its publisher's acknowledgement waits on
//! until the batch holding it is on the bus — so publishers slow down to what the bus takes
//! instead of the queue growing without end.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ferrite_broker::{Message, RemoteReceipt};
use ferrite_mqtt_codec::QoS;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::bus::Bus;
use crate::durable::Owners;
use crate::envelope::{self, Sequence};
use crate::receipts::{Receipts, Wanted};

/// Most messages taken from the queue for one round of batches.
const MAX_ROUND: usize = 4096;
/// A batch is closed once it holds this many bytes (NATS refuses bodies above its
/// `max_payload`, 1 MiB by default; a single larger message still goes alone).
const MAX_BATCH_BYTES: usize = 256 * 1024;

struct Outgoing {
    msg: Arc<Message>,
    /// Confirmed once the message is on the bus (or could not be sent).
    sent: Option<RemoteReceipt>,
    /// Other nodes must confirm storing it: its batch asks them to ([`crate::receipts`]).
    wanted: Option<(Owners, RemoteReceipt)>,
}

pub(crate) struct Outbox {
    bus: Arc<dyn Bus>,
    prefix: String,
    node: Arc<str>,
    /// Random per start, so a restarted node's sequence numbers are not taken for old ones.
    incarnation: u64,
    seq: AtomicU64,
    tx: mpsc::UnboundedSender<Outgoing>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Outgoing>>>,
    /// Messages in the queue, for the bound.
    queued: AtomicUsize,
    sent: AtomicU64,
    batches: AtomicU64,
    dropped: AtomicU64,
    /// What a failed publish is logged as.
    what: &'static str,
    /// Where batches asking for confirmations wait for them (the link's outbox only).
    receipts: Option<Arc<Receipts>>,
}

impl Outbox {
    /// Publishes below subject `prefix` as `node`; `what` names the messages in warnings.
    pub(crate) fn new(
        bus: Arc<dyn Bus>,
        prefix: String,
        node: Arc<str>,
        what: &'static str,
    ) -> Outbox {
        let (tx, rx) = mpsc::unbounded_channel();
        Outbox {
            bus,
            prefix,
            node,
            incarnation: uuid::Uuid::new_v4().as_u64_pair().0,
            seq: AtomicU64::new(0),
            tx,
            rx: Mutex::new(Some(rx)),
            queued: AtomicUsize::new(0),
            sent: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            what,
            receipts: None,
        }
    }

    /// This outbox's batches may ask for confirmations, awaited in `receipts`.
    pub(crate) fn with_receipts(mut self, receipts: Arc<Receipts>) -> Outbox {
        self.receipts = Some(receipts);
        self
    }

    pub(crate) fn incarnation(&self) -> u64 {
        self.incarnation
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Messages published so far.
    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Bus messages (batches) published so far.
    pub(crate) fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// QoS 0 messages dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Queues `msg`. With a `limit` and at least that many messages queued, a QoS 0 message
    /// is dropped and any other is queued with the receipt returned, confirmed once it is
    /// sent. Never blocks: the broker calls this on its publish path.
    pub(crate) fn push(&self, msg: &Arc<Message>, limit: Option<usize>) -> Option<RemoteReceipt> {
        let full = limit.is_some_and(|l| self.queued.load(Ordering::Relaxed) >= l);
        let sent = if !full {
            None
        } else if msg.qos == QoS::AtMostOnce {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        } else {
            Some(RemoteReceipt::pending())
        };
        self.queue(Outgoing {
            msg: msg.clone(),
            sent: sent.clone(),
            wanted: None,
        });
        sent
    }

    /// Queues `msg`, which persistent sessions on the `owners` nodes subscribe to: the
    /// receipt returned is confirmed once those nodes answered that it is durable there (or,
    /// failing that, this node stored it for their sessions). Needs [`Outbox::with_receipts`].
    /// Never blocks.
    pub(crate) fn push_wanted(&self, msg: &Arc<Message>, owners: Owners) -> RemoteReceipt {
        let receipt = RemoteReceipt::pending();
        self.queue(Outgoing {
            msg: msg.clone(),
            sent: None,
            wanted: Some((owners, receipt.clone())),
        });
        receipt
    }

    fn queue(&self, out: Outgoing) {
        self.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::error::SendError(out)) = self.tx.send(out) {
            // The node is stopping: nothing will send it, and its publisher must not hang.
            self.queued.fetch_sub(1, Ordering::Relaxed);
            if let Some(r) = out.sent {
                r.confirm();
            }
            if let Some((_, r)) = out.wanted {
                r.confirm();
            }
        }
    }

    /// Publishes what is queued, in order, until `cancel`. What is queued then still goes
    /// out: the node stops after its broker, and what the broker published last (wills, say)
    /// is in the queue. Call once.
    pub(crate) async fn run(&self, cancel: CancellationToken) {
        let Some(mut queue) = self.rx.lock().take() else {
            tracing::warn!("outbox started twice");
            return;
        };
        let mut round = Vec::new();
        loop {
            let first = tokio::select! {
                () = cancel.cancelled() => break,
                m = queue.recv() => match m { Some(m) => m, None => return },
            };
            round.push(first);
            while round.len() < MAX_ROUND {
                match queue.try_recv() {
                    Ok(m) => round.push(m),
                    Err(_) => break,
                }
            }
            self.send_round(&mut round).await;
        }
        queue.close();
        while let Ok(m) = queue.try_recv() {
            round.push(m);
            if round.len() == MAX_ROUND {
                self.send_round(&mut round).await;
            }
        }
        self.send_round(&mut round).await;
    }

    /// Sends `round` as one batch per topic (more where a topic's messages are large),
    /// emptying it.
    async fn send_round(&self, round: &mut Vec<Outgoing>) {
        if round.is_empty() {
            return;
        }
        self.queued.fetch_sub(round.len(), Ordering::Relaxed);
        // Topics in order of first appearance, each with its messages in order.
        let mut topics: Vec<Vec<usize>> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, out) in round.iter().enumerate() {
            let t = *index.entry(&out.msg.topic).or_insert_with(|| {
                topics.push(Vec::new());
                topics.len() - 1
            });
            topics[t].push(i);
        }
        for members in &topics {
            let mut start = 0;
            while start < members.len() {
                let mut end = start;
                let mut bytes = 0;
                while end < members.len() && (end == start || bytes < MAX_BATCH_BYTES) {
                    bytes += envelope::record_size(&round[members[end]].msg);
                    end += 1;
                }
                let batch: Vec<&Message> = members[start..end]
                    .iter()
                    .map(|&i| &*round[i].msg)
                    .collect();
                let wanted: Vec<Wanted> = members[start..end]
                    .iter()
                    .filter_map(|&i| {
                        let out = &round[i];
                        out.wanted.as_ref().map(|(owners, receipt)| Wanted {
                            msg: out.msg.clone(),
                            owners: owners.clone(),
                            receipt: receipt.clone(),
                        })
                    })
                    .collect();
                self.send_batch(&batch, wanted).await;
                start = end;
            }
        }
        for out in round.drain(..) {
            if let Some(r) = out.sent {
                r.confirm();
            }
        }
    }

    async fn send_batch(&self, batch: &[&Message], wanted: Vec<Wanted>) {
        let seq = Sequence {
            incarnation: self.incarnation,
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
        };
        let receipts = match (&self.receipts, wanted.is_empty()) {
            (Some(receipts), false) => {
                receipts.expect(seq, wanted);
                Some(receipts)
            }
            (None, false) => {
                for w in wanted {
                    w.receipt.confirm();
                }
                None
            }
            _ => None,
        };
        let e = envelope::encode_with(&self.prefix, &self.node, seq, receipts.is_some(), batch);
        match self
            .bus
            .publish(e.subject, Default::default(), e.payload)
            .await
        {
            Ok(()) => {
                self.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
                self.batches.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                tracing::warn!(
                    topic = %batch[0].topic,
                    messages = batch.len(),
                    error = %err,
                    "cannot {} on the bus",
                    self.what
                );
                if let Some(receipts) = receipts {
                    receipts.unsent(seq).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InProcessBus;
    use bytes::Bytes;
    use ferrite_types::Origin;

    fn msg(topic: &str, payload: &'static str, qos: QoS) -> Arc<Message> {
        Arc::new(Message {
            topic: topic.into(),
            payload: Bytes::from_static(payload.as_bytes()),
            qos,
            retain: false,
            properties: Default::default(),
            received_at_ms: 1,
            expires_at_ms: None,
            origin: Arc::new(Origin {
                client_id: None,
                principal: None,
                source_ip: None,
                protocol: ferrite_types::Protocol::Http,
                node: "n".into(),
            }),
        })
    }

    #[tokio::test]
    async fn a_full_queue_drops_qos0_holds_qos1_back_and_a_round_goes_out_one_batch_per_topic() {
        let bus = Arc::new(InProcessBus::new());
        let mut sub = bus.subscribe("p.>".into(), None).await.unwrap();
        let outbox = Outbox::new(bus, "p".into(), "n".into(), "test");
        assert!(
            outbox
                .push(&msg("t/a", "a1", QoS::AtMostOnce), Some(2))
                .is_none()
        );
        assert!(
            outbox
                .push(&msg("t/b", "b1", QoS::AtLeastOnce), Some(2))
                .is_none()
        );
        assert!(
            outbox
                .push(&msg("t/a", "a2", QoS::AtMostOnce), Some(2))
                .is_none()
        );
        assert_eq!(outbox.dropped(), 1, "QoS 0 past the limit is dropped");
        let receipt = outbox
            .push(&msg("t/a", "a3", QoS::AtLeastOnce), Some(2))
            .expect("QoS 1 past the limit waits to be sent");
        assert!(!receipt.is_confirmed());

        let cancel = CancellationToken::new();
        let check = async {
            receipt.confirmed().await;
            let mut got = Vec::new();
            for _ in 0..2 {
                let m = sub.next().await.unwrap();
                let batch = envelope::decode("p", &m.subject, m.payload).unwrap();
                let payloads: Vec<_> = batch.messages.iter().map(|m| m.payload.clone()).collect();
                got.push((m.subject, payloads));
            }
            assert_eq!(
                got,
                [
                    (
                        "p.m.t.a".to_owned(),
                        vec![Bytes::from("a1"), Bytes::from("a3")]
                    ),
                    ("p.m.t.b".to_owned(), vec![Bytes::from("b1")]),
                ]
            );
            assert_eq!((outbox.sent(), outbox.batches()), (3, 2));
            // Below the limit again: nothing is held back.
            assert!(
                outbox
                    .push(&msg("t/a", "a4", QoS::AtLeastOnce), Some(2))
                    .is_none()
            );
            cancel.cancel();
        };
        tokio::join!(outbox.run(cancel.clone()), check);
        assert_eq!(
            outbox.sent(),
            4,
            "what was queued at the stop still went out"
        );
    }
}
