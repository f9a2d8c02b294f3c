//! The in-memory storage backend: [`BrokerStore`] and [`RegistryStore`] over maps in process
//! memory, for tests that want the broker or the registry without a disk or a database.
//!
//! It passes both conformance suites, so code tested over it behaves as over the real
//! backends. "Durable" means: kept in the [`MemoryData`] the store was opened on, which
//! outlives the store, so a test can close or drop a store and open another on the same
//! data, as a restart would. Nothing survives the process.
//!
//! Every operation takes one short lock and completes before its future is returned (the
//! futures are ready), so operations apply in call order and are serializable.

#![forbid(unsafe_code)]

mod broker;
mod registry;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferrite_storage::{
    QueuedMessage, StorageError, StoreFuture, StoredMessage, StoredSession, StoredSubscription,
};
use parking_lot::Mutex;

/// The data of a memory store, shared by every store opened on it (clones share it too).
#[derive(Debug, Clone, Default)]
pub struct MemoryData(Arc<Mutex<State>>);

#[derive(Debug, Default)]
struct State {
    retained: BTreeMap<String, StoredMessage>,
    sessions: BTreeMap<String, StoredSession>,
    /// Keyed by (client id, filter), so one client's entries are one range.
    subscriptions: BTreeMap<(String, String), StoredSubscription>,
    /// Keyed by (client id, seq): one client's queue is one range, in delivery order.
    queue: BTreeMap<(String, u64), QueuedMessage>,
    /// (kind, key) → (version, doc); tuple order is byte order of kind, then of key.
    registry: BTreeMap<(String, String), (u64, String)>,
    /// The last registry sequence number handed out.
    sequence: u64,
}

/// A store over a [`MemoryData`]; see the crate docs.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: MemoryData,
    /// Set by `BrokerStore::close`: every later operation fails with `Closed`.
    closed: AtomicBool,
}

impl MemoryStore {
    /// A store over fresh, empty data.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// A store over `data`, seeing everything earlier stores on it committed.
    pub fn open(data: &MemoryData) -> MemoryStore {
        MemoryStore {
            data: data.clone(),
            closed: AtomicBool::new(false),
        }
    }

    /// The data this store works on, to open another store on later.
    pub fn data(&self) -> MemoryData {
        self.data.clone()
    }

    /// Runs `work` on the state now, unless the store is closed, and returns its result as a
    /// ready future.
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut State) -> Result<T, StorageError>,
    ) -> StoreFuture<'_, T> {
        let result = if self.closed.load(Ordering::Acquire) {
            Err(StorageError::Closed)
        } else {
            work(&mut self.data.0.lock())
        };
        ready(result)
    }
}

fn ready<'a, T: Send + 'a>(result: Result<T, StorageError>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(result))
}
