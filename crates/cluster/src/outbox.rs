//! One ordered stream of this node's messages onto the bus: the link's forwarded messages and
//! the retained sync's broadcasts. Each is stamped with the node's incarnation and the next
//! sequence number, which the receivers' duplicate filter reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrite_broker::Message;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::bus::Bus;
use crate::envelope::{self, Sequence};

pub(crate) struct Outbox {
    bus: Arc<dyn Bus>,
    prefix: String,
    /// Random per start, so a restarted node's sequence numbers are not taken for old ones.
    incarnation: u64,
    seq: AtomicU64,
    sent: AtomicU64,
    /// What a failed publish is logged as.
    what: &'static str,
}

impl Outbox {
    /// Publishes below subject `prefix`; `what` names the messages in warnings.
    pub(crate) fn new(bus: Arc<dyn Bus>, prefix: String, what: &'static str) -> Outbox {
        Outbox {
            bus,
            prefix,
            incarnation: uuid::Uuid::new_v4().as_u64_pair().0,
            seq: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            what,
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Messages published so far.
    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Publishes what `queue` holds, in order, until `cancel`. What is queued then still goes
    /// out: the node stops after its broker, and what the broker published last (wills, say)
    /// is in the queue.
    pub(crate) async fn run(
        &self,
        mut queue: mpsc::UnboundedReceiver<Arc<Message>>,
        cancel: CancellationToken,
    ) {
        loop {
            let msg = tokio::select! {
                () = cancel.cancelled() => break,
                m = queue.recv() => match m { Some(m) => m, None => return },
            };
            self.send(&msg).await;
        }
        while let Ok(msg) = queue.try_recv() {
            self.send(&msg).await;
        }
    }

    async fn send(&self, msg: &Message) {
        let seq = Sequence {
            incarnation: self.incarnation,
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
        };
        let e = envelope::encode(&self.prefix, msg, seq);
        match self.bus.publish(e.subject, e.headers, e.payload).await {
            Ok(()) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                tracing::warn!(topic = %msg.topic, error = %err, "cannot {} on the bus", self.what);
            }
        }
    }
}
