//! The PostgreSQL storage backend: `BrokerStore` on sqlx, with one writer and group commit,
//! and `RegistryStore` with conditional batches in SERIALIZABLE transactions.
//!
//! Selected by a `postgres://` or `postgresql://` `storage.url`; it is how nodes of a cluster
//! share durable state. It passes the same conformance suites as the embedded SQLite store.
//!
//! # Schema
//!
//! Numbered migrations in `migrations/` (`0001_broker.sql`, ...), embedded in the binary,
//! are applied at open in one transaction under an advisory lock, and recorded in
//! `ferrite_schema_migrations`. The tables live in the connection's current schema (the first
//! existing one on its `search_path`; the URL may set it with `options[search_path]=NAME`):
//!
//! | table | key | columns |
//! |---|---|---|
//! | `broker_retained` | `topic` | `payload`, `qos`, `retain`, `properties`, `received_at_ms`, `expires_at_ms`, `stamp_node` |
//! | `broker_sessions` | `client_id` | `expiry_interval_secs`, `disconnected_at_ms`, `data` |
//! | `broker_subscriptions` | `(client_id, filter)` | `options` |
//! | `broker_queue` | `(client_id, seq)` | `state` (0 pending, 1 released) and the message columns |
//! | `broker_session_owners` | `client_id` | `owner_node`, `owner_epoch`, `owner_since_epoch`, `previous_node`, `claimed_at_ms`, `handover_node`, `handover_since_epoch`, `handover_until_epoch` (a cluster's [`SessionOwners`]) |
//! | `registry` | `(kind, key)` | `version`, `doc` (see `registry.rs`) |
//!
//! Blobs are `BYTEA`, times Unix ms in `BIGINT`, keys `TEXT COLLATE "C"` (byte order on
//! every server). No foreign keys: `DeleteSession` deletes the client's subscriptions and
//! queue itself.
//!
//! # Group commit
//!
//! * One writer task owns one pooled connection. `commit()` hands its ops to it over a
//!   channel and awaits a oneshot answer. Ops are submitted when `commit()` is called, not
//!   when its future is first polled, so commits issued one after the other apply in that
//!   order. Dropping the future does not cancel the commit.
//! * The writer takes the first waiting request plus every request already queued (up to
//!   [`PgStoreOptions::max_batch_ops`] ops) and folds them, in order, into their net effect
//!   per row (`plan.rs`): the last write of each key wins, a `DeleteSession` clears the
//!   client's rows before later writes. That net effect is written as at most twelve
//!   set-based statements (`INSERT ... SELECT FROM UNNEST($1::text[], ...) ON CONFLICT DO
//!   UPDATE`, `DELETE ... USING UNNEST`, ...) in one transaction: the round trips and the
//!   WAL flush of a group do not grow with the number of commits or ops in it. A group that
//!   reduces to one statement runs without BEGIN/COMMIT.
//! * Fencing: a cluster node's commits (`commit_fenced`) name the claim each session is held
//!   by; a group with such fences reads and share-locks their owner rows first (one more
//!   statement) and leaves out the ops of sessions this node no longer holds by that claim,
//!   answering each commit with its refused fences (`writer.rs`).
//! * Durability: the transaction's COMMIT returns once PostgreSQL has flushed its WAL
//!   (`synchronous_commit = on`); with [`PgStoreOptions::synchronous_commit`] off the commit
//!   survives a crash of Ferrite but not necessarily of the database server.
//! * Failure isolation: ops PostgreSQL would refuse predictably (`seq` above
//!   [`QueuedMessage::MAX_SEQ`], NUL in text) fail their own request before merging. If the
//!   merged write still fails in a statement, the group is written again with each request in
//!   its own SAVEPOINT, so only the bad request fails. Deadlocks and serialization failures
//!   (other nodes writing the same rows) are retried; the plan is idempotent, so a retry is
//!   safe. If BEGIN or COMMIT fails every waiter in the group gets the error.
//! * `load()` reads the four tables on a pooled connection in one REPEATABLE READ, READ ONLY
//!   transaction, streaming rows and checking every value.
//!
//! # Registry
//!
//! `RegistryStore` calls do not go through the writer: each runs on a pooled connection of
//! its own, a write batch as one SERIALIZABLE transaction that locks the batch's rows in key
//! order and is run again after a serialization failure or deadlock (`registry.rs` says why).
//! A write returns once committed, as durable as [`PgStoreOptions::synchronous_commit`] makes
//! commits. The pool therefore serves loads and concurrent registry calls beside the writer:
//! size [`PgStoreOptions::max_connections`] for the control plane's concurrency.
//!
//! [`QueuedMessage::MAX_SEQ`]: ferrite_storage::QueuedMessage::MAX_SEQ

mod error;
mod inbox;
mod owners;
mod plan;
mod read;
mod registry;
mod schema;
mod statements;
#[cfg(feature = "testing")]
pub mod testing;
mod writer;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrite_storage::{
    BrokerOp, BrokerSnapshot, BrokerStore, InboxAppend, InboxEntry, SessionClaim, SessionFence,
    SessionInbox, SessionOwners, SessionSnapshot, StorageError, StoreFuture,
};
use sqlx::postgres::PgPoolOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use error::{PgStoreError, redact_url};
pub use schema::latest_version;
pub use sqlx::postgres::PgConnectOptions;

use crate::writer::{Request, Writer};

/// Options for [`PostgresStore::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgStoreOptions {
    /// `true`: a commit returns once PostgreSQL has flushed it to its WAL, so it survives a
    /// crash of the database server. `false` (`synchronous_commit = off`): it survives a crash
    /// of Ferrite, and PostgreSQL may lose the last fraction of a second of commits if it
    /// crashes itself.
    pub synchronous_commit: bool,
    /// Pool size. The broker's writer holds one connection; loads and registry calls (one
    /// connection each while they run) share the rest.
    pub max_connections: u32,
    /// How long opening (connecting and migrating) and acquiring a pooled connection may take.
    pub connect_timeout: Duration,
    /// Upper bound on the ops merged into one group transaction. A single commit larger than
    /// this still runs whole (batches are never split); it just is not merged with others.
    pub max_batch_ops: usize,
    /// This node's id, stamped on the retained messages it writes: in a cluster a write
    /// replaces a retained row only when its (receipt time, node) stamp is not older.
    pub node: String,
}

impl Default for PgStoreOptions {
    fn default() -> Self {
        Self {
            synchronous_commit: true,
            max_connections: 10,
            connect_timeout: Duration::from_secs(10),
            max_batch_ops: 10_000,
            node: String::new(),
        }
    }
}

/// A `BrokerStore` in PostgreSQL tables.
pub struct PostgresStore {
    tx: mpsc::UnboundedSender<Request>,
    /// Set by `close()` so later commits fail fast with `Closed`.
    closed: AtomicBool,
    /// Held for the whole of `close()`; `true` once closed, so a second close waits for the
    /// first and then returns.
    close_done: tokio::sync::Mutex<bool>,
    writer: parking_lot::Mutex<Option<JoinHandle<()>>>,
    pool: PgPool,
    /// Where this store is, without the password, for logs and errors.
    location: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// `postgres://user@host:port/database`: what a connection goes to, built from the parsed
/// options so that it never holds a password.
fn describe(connect: &PgConnectOptions) -> String {
    format!(
        "postgres://{}@{}:{}/{}",
        connect.get_username(),
        connect.get_host(),
        connect.get_port(),
        connect.get_database().unwrap_or(connect.get_username())
    )
}

impl PostgresStore {
    /// `Err(Closed)` once `close` was called: every operation asks first.
    fn check_open(&self) -> Result<(), StorageError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed);
        }
        Ok(())
    }

    /// Connects to `url`, applies pending migrations and starts the writer. Fails at once,
    /// with a message naming the URL without its password, if the server cannot be reached.
    pub async fn open(url: &str, opts: PgStoreOptions) -> Result<PostgresStore, StorageError> {
        let connect = PgConnectOptions::from_str(url).map_err(|source| PgStoreError::Url {
            url: redact_url(url),
            source,
        })?;
        Self::open_with(connect, opts).await
    }

    /// [`open`](Self::open) with options already parsed (or built in code).
    pub async fn open_with(
        mut connect: PgConnectOptions,
        opts: PgStoreOptions,
    ) -> Result<PostgresStore, StorageError> {
        let location = describe(&connect);
        if connect.get_application_name().is_none() {
            connect = connect.application_name("ferrite");
        }
        if !opts.synchronous_commit {
            connect = connect.options([("synchronous_commit", "off")]);
        }
        // Statements are logged by our own tracing with context; sqlx's per-statement log
        // would repeat them at info level.
        connect = connect.disable_statement_logging();

        // A direct connection first: the pool would retry a refused connection until its
        // timeout, and start-up should fail fast and say why.
        let mut conn =
            tokio::time::timeout(opts.connect_timeout, PgConnection::connect_with(&connect))
                .await
                .map_err(|_| PgStoreError::ConnectTimeout {
                    url: location.clone(),
                    after: opts.connect_timeout,
                })?
                .map_err(|source| PgStoreError::Connect {
                    url: location.clone(),
                    source,
                })?;
        schema::migrate(&mut conn).await?;
        if let Err(err) = conn.close().await {
            tracing::debug!(error = %err, "closing the migration connection failed");
        }

        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(2))
            .acquire_timeout(opts.connect_timeout)
            .connect_lazy_with(connect);
        let (tx, rx) = mpsc::unbounded_channel();
        // Owned by the store: `close` ends its channel and awaits this handle.
        #[allow(clippy::disallowed_methods)]
        let writer =
            tokio::spawn(Writer::new(pool.clone(), opts.max_batch_ops, &opts.node).run(rx));
        tracing::info!(location, "opened postgres store");
        Ok(PostgresStore {
            tx,
            closed: AtomicBool::new(false),
            close_done: tokio::sync::Mutex::new(false),
            writer: parking_lot::Mutex::new(Some(writer)),
            pool,
            location,
        })
    }

    /// Whether the database answers now: one `SELECT 1` on a pooled connection, given up
    /// after `timeout`. Cheap enough for a node's periodic health check.
    pub async fn ping(&self, timeout: Duration) -> Result<(), StorageError> {
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(timeout, query).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(source)) => Err(PgStoreError::sql("ping")(source).into()),
            Err(_) => Err(PgStoreError::ConnectTimeout {
                url: self.location.clone(),
                after: timeout,
            }
            .into()),
        }
    }

    fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StorageError>>) -> Request,
    ) -> Result<oneshot::Receiver<Result<T, StorageError>>, StorageError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .map_err(|_| StorageError::Closed)?;
        Ok(rx)
    }
}

impl BrokerStore for PostgresStore {
    fn commit(&self, ops: Vec<BrokerOp>) -> StoreFuture<'_, ()> {
        let fenced = self.commit_fenced(ops, Vec::new());
        Box::pin(async move { fenced.await.map(drop) })
    }

    fn commit_fenced(
        &self,
        ops: Vec<BrokerOp>,
        fences: Vec<SessionFence>,
    ) -> StoreFuture<'_, Vec<SessionFence>> {
        // Submitted now, before the future is polled: see the crate docs on ordering.
        let submitted = self
            .check_open()
            .and_then(|()| self.submit(|reply| Request::Commit { ops, fences, reply }));
        Box::pin(async move {
            // A dropped reply sender means the writer exited before reaching this request.
            submitted?.await.unwrap_or(Err(StorageError::Closed))
        })
    }

    fn load(&self) -> StoreFuture<'_, BrokerSnapshot> {
        Box::pin(async move {
            self.check_open()?;
            Ok(read::load_snapshot(&self.pool).await?)
        })
    }

    fn load_retained(&self) -> StoreFuture<'_, BrokerSnapshot> {
        Box::pin(async move {
            self.check_open()?;
            Ok(read::load_retained(&self.pool).await?)
        })
    }

    fn load_session<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<SessionSnapshot>> {
        Box::pin(async move {
            self.check_open()?;
            Ok(read::load_session(&self.pool, client_id).await?)
        })
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut done = self.close_done.lock().await;
            if *done {
                return Ok(());
            }
            self.closed.store(true, Ordering::Release);
            let result = match self.submit(|reply| Request::Close { reply }) {
                Ok(rx) => rx.await.unwrap_or(Err(StorageError::Closed)),
                // The writer is already gone; nothing left to flush.
                Err(_) => Ok(()),
            };
            let writer = self.writer.lock().take();
            if let Some(writer) = writer
                && let Err(err) = writer.await
            {
                tracing::error!(error = %err, "postgres writer task failed");
            }
            self.pool.close().await;
            *done = true;
            tracing::info!(location = %self.location, "closed postgres store");
            result
        })
    }
}

impl SessionOwners for PostgresStore {
    fn claim_session<'a>(
        &'a self,
        client_id: &'a str,
        node: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, SessionClaim> {
        Box::pin(async move {
            self.check_open()?;
            Ok(owners::claim(&self.pool, client_id, node, now_ms).await?)
        })
    }

    fn session_owner<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<(String, u64)>> {
        Box::pin(async move {
            self.check_open()?;
            Ok(owners::owner(&self.pool, client_id).await?)
        })
    }

    fn adopt_sessions<'a>(
        &'a self,
        from: &'a str,
        to: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Vec<(String, u64)>> {
        Box::pin(async move {
            self.check_open()?;
            Ok(owners::adopt(&self.pool, from, to, now_ms).await?)
        })
    }

    fn session_owner_nodes(&self) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            self.check_open()?;
            Ok(owners::owner_nodes(&self.pool).await?)
        })
    }

    fn seal_claim<'a>(
        &'a self,
        client_id: &'a str,
        node: &'a str,
        epoch: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.check_open()?;
            Ok(owners::seal(&self.pool, client_id, node, epoch).await?)
        })
    }

    fn release_session<'a>(
        &'a self,
        client_id: &'a str,
        node: &'a str,
        epoch: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.check_open()?;
            Ok(owners::release(&self.pool, client_id, node, epoch).await?)
        })
    }
}

impl SessionInbox for PostgresStore {
    fn append_inbox(&self, entries: Vec<InboxAppend>) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            self.check_open()?;
            Ok(inbox::append(&self.pool, &entries).await?)
        })
    }

    fn inbox<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Vec<InboxEntry>> {
        Box::pin(async move {
            self.check_open()?;
            Ok(inbox::read(&self.pool, client_id).await?)
        })
    }

    fn delete_inbox<'a>(&'a self, client_id: &'a str, ids: &'a [u64]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.check_open()?;
            Ok(inbox::delete(&self.pool, client_id, ids).await?)
        })
    }
}
