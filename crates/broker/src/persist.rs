//! The broker's write-behind link to storage. Mutations are submitted synchronously in the
//! order they happen and get a ticket; one task batches everything waiting into a single
//! `commit` (group commit), so an fsync is shared by every publish that arrived meanwhile.
//! A QoS 1/2 acknowledgement waits until its ticket is durable.
//!
//! In a cluster a session's writes carry the claim its node holds it by ([`Writes::fence`]):
//! the store skips those of a session another node has claimed since, and the commit task
//! reports them (the broker then lets the session go: `lifecycle::let_go_fenced`).

use std::sync::Arc;
use std::time::Duration;

use ferrite_storage::{BrokerOp, BrokerStore, SessionFence};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

/// Largest number of operations merged into one commit.
const MAX_BATCH_OPS: usize = 8192;

/// What one submission writes: its ops, and for the sessions they belong to the claim each
/// is held by here (none on one node, where claims have no number).
#[derive(Debug, Default)]
pub struct Writes {
    pub ops: Vec<BrokerOp>,
    pub fences: Vec<SessionFence>,
}

impl Writes {
    pub fn push(&mut self, op: BrokerOp) {
        self.ops.push(op);
    }

    /// Ties the ops of `client_id` in this submission to the claim `epoch` (0: none). Only a
    /// repeat of the last fence is skipped here (a fan-out names each session once; the
    /// commit task sorts and dedups a whole batch's fences).
    pub fn fence(&mut self, client_id: &str, epoch: u64) {
        if epoch == 0
            || self
                .fences
                .last()
                .is_some_and(|f| f.epoch == epoch && f.client_id == client_id)
        {
            return;
        }
        self.fences.push(SessionFence {
            client_id: client_id.to_owned(),
            epoch,
        });
    }

    /// `ops` of the session of `client_id`, held here by the claim `epoch`.
    pub fn of_session(client_id: &str, epoch: u64, ops: Vec<BrokerOp>) -> Writes {
        let mut w = Writes {
            ops,
            fences: Vec::new(),
        };
        if !w.ops.is_empty() {
            w.fence(client_id, epoch);
        }
        w
    }
}

impl From<Vec<BrokerOp>> for Writes {
    fn from(ops: Vec<BrokerOp>) -> Writes {
        Writes {
            ops,
            fences: Vec::new(),
        }
    }
}

/// Sessions whose writes the store refused because another node holds them now.
pub type FencedReceiver = mpsc::UnboundedReceiver<Vec<SessionFence>>;

pub struct Persister {
    inner: Mutex<Submitter>,
    durable: watch::Receiver<u64>,
}

struct Submitter {
    next_ticket: u64,
    tx: Option<mpsc::UnboundedSender<(u64, Writes)>>,
}

impl Persister {
    /// Starts the commit task; it ends once `close` was called and everything was written.
    /// The receiver hears the sessions whose writes were fenced.
    pub fn start(
        store: Arc<dyn BrokerStore>,
        tracker: &tokio_util::task::TaskTracker,
    ) -> (Arc<Persister>, FencedReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (durable_tx, durable) = watch::channel(0);
        let (fenced_tx, fenced) = mpsc::unbounded_channel();
        tracker.spawn(commit_loop(store, rx, durable_tx, fenced_tx));
        let persister = Arc::new(Persister {
            inner: Mutex::new(Submitter {
                next_ticket: 0,
                tx: Some(tx),
            }),
            durable,
        });
        (persister, fenced)
    }

    /// Queues `writes` behind everything submitted before; returns the ticket to wait on.
    /// An empty batch needs no wait (ticket 0): a connection's acknowledgement queue already
    /// keeps its acknowledgements in order, so nothing depends on unrelated commits.
    pub fn submit(&self, writes: impl Into<Writes>) -> u64 {
        let ops = writes.into();
        if ops.ops.is_empty() {
            return 0;
        }
        let mut s = self.inner.lock();
        s.next_ticket += 1;
        let ticket = s.next_ticket;
        if let Some(tx) = &s.tx {
            // A closed channel means shutdown: the waiter then never sees the ticket durable,
            // which is right: nothing is acknowledged after shutdown began.
            let _ = tx.send((ticket, ops));
        }
        ticket
    }

    /// The ticket of the last batch submitted: once it is durable, so is everything
    /// submitted before.
    pub fn last_ticket(&self) -> u64 {
        self.inner.lock().next_ticket
    }

    pub fn durable(&self) -> watch::Receiver<u64> {
        self.durable.clone()
    }

    pub fn is_durable(&self, ticket: u64) -> bool {
        *self.durable.borrow() >= ticket
    }

    pub async fn wait(&self, ticket: u64) {
        // Most publishes store nothing (ticket 0) and every republish of a rule waits here.
        if self.is_durable(ticket) {
            return;
        }
        let mut rx = self.durable.clone();
        let _ = rx.wait_for(|d| *d >= ticket).await;
    }

    /// Stops accepting work; the commit task drains what is queued and exits.
    pub fn close(&self) -> u64 {
        let mut s = self.inner.lock();
        s.tx = None;
        s.next_ticket
    }
}

async fn commit_loop(
    store: Arc<dyn BrokerStore>,
    mut rx: mpsc::UnboundedReceiver<(u64, Writes)>,
    durable: watch::Sender<u64>,
    fenced_tx: mpsc::UnboundedSender<Vec<SessionFence>>,
) {
    let mut batch = Writes::default();
    while let Some((mut last, mut writes)) = rx.recv().await {
        batch.ops.append(&mut writes.ops);
        batch.fences.append(&mut writes.fences);
        while batch.ops.len() < MAX_BATCH_OPS {
            match rx.try_recv() {
                Ok((t, mut more)) => {
                    last = t;
                    batch.ops.append(&mut more.ops);
                    batch.fences.append(&mut more.fences);
                }
                Err(_) => break,
            }
        }
        let Writes { ops, mut fences } = std::mem::take(&mut batch);
        // One fence per session and claim: a batch of many publishes to one session names it
        // once.
        fences.sort_unstable_by(|a, b| (&a.client_id, a.epoch).cmp(&(&b.client_id, b.epoch)));
        fences.dedup();
        let mut backoff = Duration::from_millis(10);
        loop {
            match store.commit_fenced(ops.clone(), fences.clone()).await {
                Ok(refused) => {
                    if !refused.is_empty() {
                        let _ = fenced_tx.send(refused);
                    }
                    break;
                }
                Err(ferrite_storage::StorageError::Closed) => {
                    tracing::error!("store closed with {} operations unwritten", ops.len());
                    return;
                }
                // Retrying keeps the promise: acknowledgements stay held back until the
                // store accepts the batch, so no acknowledged message is lost.
                Err(e) => {
                    tracing::error!(error = %e, "store commit failed, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        let _ = durable.send(last);
    }
}
