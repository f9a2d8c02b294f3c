//! Storage seams: the traits every backend implements (`BrokerStore` for the MQTT broker,
//! `RegistryStore` for the control plane), the shared error type, and the conformance suites
//! (`conformance`, `registry_conformance`) that every backend must pass.
//!
//! The suites, with the group-commit measurement built on their sample data
//! (`commit_bench`), are test code: they compile only with the `conformance` feature, which
//! the backends enable for their own tests and examples, so production builds leave them out.
//!
//! The MQTT hot path never queries storage: the broker keeps retained messages and session
//! queues in memory and streams their changes here as `BrokerOp`s. A backend applies each
//! `commit` batch atomically and durably (fsync) before its future resolves, and is free to
//! merge concurrent commits into one transaction (group commit).

#[cfg(feature = "conformance")]
pub mod commit_bench;
#[cfg(feature = "conformance")]
pub mod conformance;
mod inbox;
mod model;
mod owners;
mod registry;
#[cfg(feature = "conformance")]
pub mod registry_conformance;

pub use inbox::*;
pub use model::*;
pub use owners::*;
pub use registry::*;

use std::future::Future;
use std::pin::Pin;

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StorageError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("storage is shut down")]
    Closed,
}

/// Durable state of the MQTT broker: retained messages and persistent sessions.
pub trait BrokerStore: Send + Sync + 'static {
    /// Applies `ops` in order, atomically, and returns once they are durable.
    fn commit(&self, ops: Vec<BrokerOp>) -> StoreFuture<'_, ()>;

    /// [`commit`](Self::commit), except that the ops of each client id named in `fences`
    /// apply only while the committing node still holds that client's session by the fence's
    /// claim (a store shared by a cluster's nodes: ARCHITECTURE.md, "Sessions and take-over").
    /// Returns the fences that failed: their clients' ops were skipped, every other op of the
    /// commit applied. The ops of client ids without a fence always apply. Submitted, like
    /// `commit`, when called. A store of one node has no owners to check: the default applies
    /// everything and fences nothing.
    fn commit_fenced(
        &self,
        ops: Vec<BrokerOp>,
        fences: Vec<SessionFence>,
    ) -> StoreFuture<'_, Vec<SessionFence>> {
        drop(fences);
        let commit = self.commit(ops);
        Box::pin(async move { commit.await.map(|()| Vec::new()) })
    }

    /// Everything stored, for the broker to rebuild its memory at start-up.
    fn load(&self) -> StoreFuture<'_, BrokerSnapshot>;

    /// The retained messages alone (the snapshot's other parts empty): what a cluster node
    /// loads at start-up, where sessions are loaded per client. A store shared by many
    /// nodes' sessions should read just its retained table; the default reads everything.
    fn load_retained(&self) -> StoreFuture<'_, BrokerSnapshot> {
        Box::pin(async move {
            let all = self.load().await?;
            Ok(BrokerSnapshot {
                retained: all.retained,
                ..BrokerSnapshot::default()
            })
        })
    }

    /// One client's durable session: its record, subscriptions and queued messages, read
    /// consistently (as of one point between commits); `None` when no session record exists
    /// for `client_id`. For a node that loads sessions per client at CONNECT rather than all
    /// at start.
    fn load_session<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<SessionSnapshot>>;

    /// Flushes and stops accepting commits; later commits fail with `Closed`.
    fn close(&self) -> StoreFuture<'_, ()>;
}
