//! The embedded storage backend: SQLite with one writer thread and group commit.
//!
//! # Design
//!
//! * One dedicated OS thread (`ferrite-sqlite-writer`) owns the write connection. `commit()`
//!   hands its ops to that thread over a channel and awaits a oneshot answer, so async tasks
//!   never block on SQLite and writes never contend for the database lock.
//! * Group commit: the thread takes the first waiting request plus every request already
//!   queued behind it (up to [`SqliteOptions::max_batch_ops`] ops) and applies them in one
//!   transaction with one WAL sync. Under load many commits share one fsync.
//! * Failure isolation: each request runs in its own SAVEPOINT inside the group transaction.
//!   A request whose ops fail (for example a queue `seq` above [`QueuedMessage::MAX_SEQ`])
//!   is rolled back alone and only its caller gets the error; the rest of the group commits.
//!   If the group's COMMIT itself fails, every caller in the group gets that error.
//! * `load()` runs on a separate read connection inside one read transaction (WAL readers do
//!   not block the writer), on tokio's blocking pool.
//! * Ops are submitted when `commit()` is called, not when its future is first polled, so
//!   two commits issued one after the other from the same task apply in that order even if
//!   their futures are awaited together. Dropping the future does not cancel the commit.
//!
//! [`QueuedMessage::MAX_SEQ`]: ferrite_storage::QueuedMessage::MAX_SEQ

mod error;
mod read;
mod registry;
mod schema;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use ferrite_storage::{
    BrokerOp, BrokerSnapshot, BrokerStore, Page, Record, RegistryStore, SessionSnapshot,
    StorageError, StoreFuture, Write, WriteOutcome,
};
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use crate::error::SqlContext;
use crate::writer::Request;

/// How hard SQLite syncs the WAL on commit (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync on every commit: a commit that returned survives power loss.
    #[default]
    Full,
    /// No fsync per commit in WAL mode: survives a process crash, may lose the last commits
    /// on power loss or OS crash.
    Normal,
    /// Never fsync. For tests and throwaway data only.
    Off,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
            Synchronous::Off => "OFF",
        }
    }
}

/// Options for [`SqliteStore::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
    /// Upper bound on the ops merged into one group transaction. A single commit larger than
    /// this still runs whole (batches are never split); it just is not merged with others.
    pub max_batch_ops: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            max_batch_ops: 10_000,
        }
    }
}

/// How long a connection waits for a lock held by another connection (another process
/// opening the same file, or a checkpoint) before reporting the database busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A `BrokerStore` in one SQLite file (plus its `-wal` and `-shm` files while open).
pub struct SqliteStore {
    /// `None` only once dropped. std's `Sender` is `Sync`, so commits never take a lock.
    tx: Option<mpsc::Sender<Request>>,
    /// Set by `close()` so later commits fail fast with `Closed`.
    closed: AtomicBool,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// `None` after close; `Arc` so a load can run on the blocking pool.
    reader: Arc<Mutex<Option<Connection>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed, along with its parent directory) the database at `path`,
    /// applies pending migrations and starts the writer thread.
    pub fn open(path: &Path, opts: SqliteOptions) -> Result<SqliteStore, StorageError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StorageError::Unavailable(format!(
                    "create storage directory {}: {e}",
                    parent.display()
                ))
            })?;
        }

        let mut write_conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ctx("open database")?;
        write_conn
            .busy_timeout(BUSY_TIMEOUT)
            .ctx("set busy timeout")?;
        // WAL: readers never block the writer, and a commit is one sequential append + sync.
        let mode: String = write_conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .ctx("enable wal")?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StorageError::Unavailable(format!(
                "sqlite refused wal journal mode (got {mode})"
            )));
        }
        write_conn
            .execute_batch(&format!(
                "PRAGMA synchronous = {};",
                opts.synchronous.pragma()
            ))
            .ctx("set synchronous")?;
        // Room for every statement the writer uses (about a dozen), so none is re-prepared.
        write_conn.set_prepared_statement_cache_capacity(32);
        schema::migrate(&mut write_conn)?;

        let read_conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ctx("open read connection")?;
        read_conn
            .busy_timeout(BUSY_TIMEOUT)
            .ctx("set busy timeout")?;
        // Belt and braces: this connection must never write behind the writer's back.
        read_conn
            .execute_batch("PRAGMA query_only = ON;")
            .ctx("set query_only")?;

        let (tx, rx) = mpsc::channel();
        let max_batch_ops = opts.max_batch_ops.max(1);
        let writer = std::thread::Builder::new()
            .name("ferrite-sqlite-writer".to_owned())
            .spawn(move || writer::run(write_conn, rx, max_batch_ops))
            .map_err(|e| StorageError::Unavailable(format!("spawn sqlite writer thread: {e}")))?;

        Ok(SqliteStore {
            tx: Some(tx),
            closed: AtomicBool::new(false),
            writer: Mutex::new(Some(writer)),
            reader: Arc::new(Mutex::new(Some(read_conn))),
        })
    }

    /// Queues a request for the writer; the returned receiver resolves when it is done.
    fn submit(
        &self,
        make: impl FnOnce(writer::Reply) -> Request,
    ) -> Result<oneshot::Receiver<Result<(), StorageError>>, StorageError> {
        let (reply, rx) = oneshot::channel();
        let sender = self.tx.as_ref().ok_or(StorageError::Closed)?;
        sender.send(make(reply)).map_err(|_| StorageError::Closed)?;
        Ok(rx)
    }

    /// Joins the writer thread if it is still running. Called once it has answered `Close`
    /// (or its channel is gone), so the join returns at once.
    fn join_writer(&self) {
        let handle = self.writer.lock().take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("sqlite writer thread panicked");
        }
    }
}

impl BrokerStore for SqliteStore {
    fn commit(&self, ops: Vec<BrokerOp>) -> StoreFuture<'_, ()> {
        // Submitted now, before the future is polled: see the module docs on ordering.
        let submitted = if self.closed.load(Ordering::Acquire) {
            Err(StorageError::Closed)
        } else {
            self.submit(|reply| Request::Commit { ops, reply })
        };
        Box::pin(async move {
            // A dropped reply sender means the writer exited before reaching this request.
            submitted?.await.unwrap_or(Err(StorageError::Closed))
        })
    }

    fn load(&self) -> StoreFuture<'_, BrokerSnapshot> {
        self.read(read::load_snapshot)
    }

    fn load_session<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<SessionSnapshot>> {
        let client_id = client_id.to_owned();
        self.read(move |conn| read::load_session(conn, &client_id))
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if self.closed.swap(true, Ordering::AcqRel) {
                // Already closed (or closing): closing is idempotent. Wait for the thread
                // in case the first close is still in flight.
                self.join_writer();
                return Ok(());
            }
            // Drop the read connection first so the checkpoint is not held back by it.
            let reader = self.reader.lock().take();
            drop(reader);
            let result = match self.submit(|reply| Request::Close { reply }) {
                Ok(rx) => rx.await.unwrap_or(Err(StorageError::Closed)),
                // The writer is already gone; nothing left to flush.
                Err(_) => Ok(()),
            };
            self.join_writer();
            result
        })
    }
}

impl SqliteStore {
    /// Runs `work` on the read connection, off the async threads when a runtime is there.
    fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let reader = Arc::clone(&self.reader);
        let work = move || {
            let mut guard = reader.lock();
            let conn = guard.as_mut().ok_or(StorageError::Closed)?;
            work(conn)
        };
        Box::pin(async move {
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => handle
                    .spawn_blocking(work)
                    .await
                    .map_err(|e| StorageError::Backend(format!("sqlite read task failed: {e}")))?,
                Err(_) => work(),
            }
        })
    }
}

impl RegistryStore for SqliteStore {
    fn get<'a>(&'a self, kind: &'a str, key: &'a str) -> StoreFuture<'a, Option<Record>> {
        let (kind, key) = (kind.to_owned(), key.to_owned());
        self.read(move |conn| registry::get(conn, &kind, &key))
    }

    fn list<'a>(
        &'a self,
        kind: &'a str,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page> {
        let (kind, prefix, after) = (kind.to_owned(), prefix.to_owned(), after.map(str::to_owned));
        self.read(move |conn| registry::list(conn, &kind, &prefix, after.as_deref(), limit))
    }

    fn write(&self, batch: Vec<Write>) -> StoreFuture<'_, WriteOutcome> {
        let submitted = if self.closed.load(Ordering::Acquire) {
            None
        } else {
            let (reply, rx) = oneshot::channel();
            self.tx
                .as_ref()
                .and_then(|tx| tx.send(Request::RegistryWrite { batch, reply }).ok())
                .map(|()| rx)
        };
        Box::pin(async move {
            let rx = submitted.ok_or(StorageError::Closed)?;
            rx.await.unwrap_or(Err(StorageError::Closed))
        })
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        let submitted = if self.closed.load(Ordering::Acquire) {
            Err(StorageError::Closed)
        } else {
            self.submit(|reply| Request::RegistryClear { reply })
        };
        Box::pin(async move { submitted?.await.unwrap_or(Err(StorageError::Closed)) })
    }

    fn next_sequence(&self) -> StoreFuture<'_, u64> {
        let submitted = if self.closed.load(Ordering::Acquire) {
            None
        } else {
            let (reply, rx) = oneshot::channel();
            self.tx
                .as_ref()
                .and_then(|tx| tx.send(Request::RegistrySequence { reply }).ok())
                .map(|()| rx)
        };
        Box::pin(async move {
            let rx = submitted.ok_or(StorageError::Closed)?;
            rx.await.unwrap_or(Err(StorageError::Closed))
        })
    }
}

impl Drop for SqliteStore {
    /// Without `close()`: disconnect the channel so the writer applies what is queued, closes
    /// its connection and exits, then join it so no thread outlives the store. This blocks
    /// the dropping thread for at most one group commit.
    fn drop(&mut self) {
        drop(self.tx.take());
        self.join_writer();
    }
}
