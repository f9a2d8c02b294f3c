//! The broker's write-behind link to storage. Mutations are submitted synchronously in the
//! order they happen and get a ticket; one task batches everything waiting into a single
//! `commit` (group commit), so an fsync is shared by every publish that arrived meanwhile.
//! A QoS 1/2 acknowledgement waits until its ticket is durable.

use std::sync::Arc;
use std::time::Duration;

use ferrite_storage::{BrokerOp, BrokerStore};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

/// Largest number of operations merged into one commit.
const MAX_BATCH_OPS: usize = 8192;

pub struct Persister {
    inner: Mutex<Submitter>,
    durable: watch::Receiver<u64>,
}

struct Submitter {
    next_ticket: u64,
    tx: Option<mpsc::UnboundedSender<(u64, Vec<BrokerOp>)>>,
}

impl Persister {
    /// Starts the commit task; it ends once `close` was called and everything was written.
    pub fn start(
        store: Arc<dyn BrokerStore>,
        tracker: &tokio_util::task::TaskTracker,
    ) -> Arc<Persister> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (durable_tx, durable) = watch::channel(0);
        tracker.spawn(commit_loop(store, rx, durable_tx));
        Arc::new(Persister {
            inner: Mutex::new(Submitter {
                next_ticket: 0,
                tx: Some(tx),
            }),
            durable,
        })
    }

    /// Queues `ops` behind everything submitted before; returns the ticket to wait on.
    /// An empty batch needs no wait (ticket 0): a connection's acknowledgement queue already
    /// keeps its acknowledgements in order, so nothing depends on unrelated commits.
    pub fn submit(&self, ops: Vec<BrokerOp>) -> u64 {
        if ops.is_empty() {
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
    mut rx: mpsc::UnboundedReceiver<(u64, Vec<BrokerOp>)>,
    durable: watch::Sender<u64>,
) {
    let mut batch: Vec<BrokerOp> = Vec::new();
    while let Some((mut last, mut ops)) = rx.recv().await {
        batch.append(&mut ops);
        while batch.len() < MAX_BATCH_OPS {
            match rx.try_recv() {
                Ok((t, mut more)) => {
                    last = t;
                    batch.append(&mut more);
                }
                Err(_) => break,
            }
        }
        let ops = std::mem::take(&mut batch);
        let mut backoff = Duration::from_millis(10);
        loop {
            match store.commit(ops.clone()).await {
                Ok(()) => break,
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
