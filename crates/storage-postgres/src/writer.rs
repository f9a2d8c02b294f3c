//! The writer task: the only writer of the broker tables, and where group commit happens.
//!
//! Every `commit()` is a `Request` on a channel. The task waits for the first one, takes
//! every request already queued behind it (bounded by `max_batch_ops`), folds them all into
//! one [`Plan`] (their net effect) and writes that plan as a few set-based statements in ONE
//! transaction. Round trips per group are constant (BEGIN, at most twelve statements,
//! COMMIT; a plan of one statement runs alone, without BEGIN/COMMIT) whatever the number of
//! requests or ops, so N concurrent committers share one WAL flush and one set of round trips.
//!
//! Failure isolation: ops PostgreSQL would reject in a predictable way (a `seq` above
//! `MAX_SEQ`, NUL in text) are refused per request before merging. If the merged write still
//! fails in a statement (say, a topic too long for a btree index entry), the group is written
//! again with each request under its own SAVEPOINT, so only the bad request fails. A plan is
//! idempotent (upserts, deletes and state updates to final values), so writing it again after
//! an unclear failure is safe. If BEGIN or COMMIT fails, every waiter of the group gets the
//! error: none of their ops is known to be durable.

use std::sync::Arc;

use ferrite_storage::{BrokerOp, StorageError};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use tokio::sync::{mpsc, oneshot};

use crate::error::PgStoreError;
use crate::plan::{self, Plan};
use crate::statements::{Statement, statements};

pub(crate) type Reply = oneshot::Sender<Result<(), StorageError>>;

pub(crate) enum Request {
    Commit {
        ops: Vec<BrokerOp>,
        reply: Reply,
    },
    /// Everything queued before this is written first (the channel is FIFO); then the task
    /// releases its connection and answers.
    Close {
        reply: Reply,
    },
}

/// How often a group that hit a deadlock or serialization failure (another node writing the
/// same rows) is written again before its waiters get the error.
const CONFLICT_RETRIES: u32 = 3;

pub(crate) struct Writer {
    pool: PgPool,
    /// Held across groups so that a commit costs no pool round trip; replaced when broken.
    conn: Option<PoolConnection<Postgres>>,
    max_batch_ops: usize,
    /// Stamped on retained rows (see `statements.rs`).
    node: Arc<str>,
}

/// Where a write failed, which decides whether the group is retried request by request.
enum Failure {
    /// A data statement failed and the transaction was rolled back cleanly.
    Statement(PgStoreError),
    /// Acquiring the connection, BEGIN, ROLLBACK or COMMIT failed: the state of the
    /// connection is unknown and nothing is known to be durable.
    Transaction(PgStoreError),
}

impl Failure {
    fn error(&self) -> &PgStoreError {
        match self {
            Failure::Statement(e) | Failure::Transaction(e) => e,
        }
    }
}

impl Writer {
    pub(crate) fn new(pool: PgPool, max_batch_ops: usize, node: &str) -> Writer {
        Writer {
            pool,
            conn: None,
            max_batch_ops: max_batch_ops.max(1),
            node: Arc::from(node),
        }
    }

    /// The task body. Returns when asked to close or when every sender is gone (the store
    /// was dropped); either way requests already queued are written first.
    pub(crate) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        let mut batch: Vec<(Vec<BrokerOp>, Reply)> = Vec::new();
        let mut close_reply: Option<Reply> = None;
        while close_reply.is_none() {
            let Some(first) = rx.recv().await else {
                break;
            };
            let mut batch_ops = 0usize;
            match first {
                Request::Commit { ops, reply } => {
                    batch_ops += ops.len();
                    batch.push((ops, reply));
                }
                Request::Close { reply } => close_reply = Some(reply),
            }
            // Take what is already waiting, never wait for more: a lone committer pays one
            // transaction's latency, and under load the next group grows while this one is
            // being written.
            while close_reply.is_none() && batch_ops < self.max_batch_ops {
                match rx.try_recv() {
                    Ok(Request::Commit { ops, reply }) => {
                        batch_ops += ops.len();
                        batch.push((ops, reply));
                    }
                    Ok(Request::Close { reply }) => close_reply = Some(reply),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.commit_group(&mut batch).await;
                // Let the committers just answered run and resubmit before the next group is
                // taken; otherwise the first one back starts a group of one while the rest
                // queue behind it, and groups alternate small/large (measured: ~20% fewer
                // commits/s with 64 committers).
                tokio::task::yield_now().await;
            }
        }
        // Back to the pool, which `close()` then shuts down.
        drop(self.conn.take());
        if let Some(reply) = close_reply {
            let _ = reply.send(Ok(()));
        }
        // Dropping `rx` fails every request that raced with close: their reply senders are
        // dropped and their futures resolve to `Closed`.
    }

    /// Writes one group and answers every waiter.
    async fn commit_group(&mut self, batch: &mut Vec<(Vec<BrokerOp>, Reply)>) {
        let mut valid = Vec::with_capacity(batch.len());
        for (ops, reply) in batch.drain(..) {
            match plan::validate(&ops) {
                Ok(()) => valid.push((ops, reply)),
                Err(err) => {
                    let _ = reply.send(Err(err.into()));
                }
            }
        }
        let total_ops: usize = valid.iter().map(|(ops, _)| ops.len()).sum();
        let outcomes = if total_ops == 0 {
            // Only empty commits (barriers): everything before them is already durable.
            valid.iter().map(|_| Ok(())).collect()
        } else {
            self.write(&valid).await
        };
        tracing::trace!(requests = valid.len(), ops = total_ops, "group commit");
        for ((_, reply), outcome) in valid.into_iter().zip(outcomes) {
            let _ = reply.send(outcome);
        }
    }

    /// One outcome per request, in order.
    async fn write(
        &mut self,
        requests: &[(Vec<BrokerOp>, Reply)],
    ) -> Vec<Result<(), StorageError>> {
        let mut conflicts = 0;
        let failure = loop {
            match self.write_merged(requests).await {
                Ok(()) => return requests.iter().map(|_| Ok(())).collect(),
                Err(f) if f.error().is_retryable() && conflicts < CONFLICT_RETRIES => {
                    conflicts += 1;
                    tracing::debug!(error = %f.error(), conflicts, "group commit conflicted, retrying");
                }
                Err(f) => break f,
            }
        };
        match failure {
            // The connection is gone, so nothing can be retried on it now.
            Failure::Statement(err) if err.breaks_connection() => {
                self.fail_all(requests.len(), err)
            }
            Failure::Statement(err) if requests.len() > 1 => {
                tracing::debug!(error = %err, requests = requests.len(),
                    "group commit failed; writing its requests one savepoint each");
                self.write_isolated(requests).await
            }
            Failure::Statement(err) => vec![Err(err.into())],
            Failure::Transaction(err) => self.fail_all(requests.len(), err),
        }
    }

    /// The whole group as one plan, in one transaction.
    async fn write_merged(&mut self, requests: &[(Vec<BrokerOp>, Reply)]) -> Result<(), Failure> {
        let mut plan = Plan::default();
        for (ops, _) in requests {
            plan.add(ops).map_err(Failure::Statement)?;
        }
        let node = self.node.clone();
        let mut statements = statements(&plan, &node);
        if statements.is_empty() {
            return Ok(());
        }
        let conn = self.connection().await.map_err(Failure::Transaction)?;
        if statements.len() == 1 {
            // One statement is atomic by itself: BEGIN and COMMIT would only add round trips.
            let (context, query) = statements.remove(0);
            return match query.execute(&mut **conn).await {
                Ok(_) => Ok(()),
                Err(err) => Err(Failure::Statement(PgStoreError::sql(context)(err))),
            };
        }
        let mut tx = conn
            .begin()
            .await
            .map_err(|e| Failure::Transaction(PgStoreError::sql("commit: begin")(e)))?;
        match execute_all(&mut tx, statements).await {
            Ok(()) => tx
                .commit()
                .await
                .map_err(|e| Failure::Transaction(PgStoreError::sql("commit")(e))),
            Err(err) => {
                tx.rollback()
                    .await
                    .map_err(|e| Failure::Transaction(PgStoreError::sql("commit: roll back")(e)))?;
                Err(Failure::Statement(err))
            }
        }
    }

    /// Each request in its own savepoint of one transaction: a failing request is rolled back
    /// alone and only its waiter gets the error.
    async fn write_isolated(
        &mut self,
        requests: &[(Vec<BrokerOp>, Reply)],
    ) -> Vec<Result<(), StorageError>> {
        let node = self.node.clone();
        let result = async {
            let conn = self.connection().await?;
            let mut tx = conn
                .begin()
                .await
                .map_err(PgStoreError::sql("commit: begin"))?;
            let mut outcomes = Vec::with_capacity(requests.len());
            for (ops, _) in requests {
                let mut plan = Plan::default();
                if let Err(err) = plan.add(ops) {
                    outcomes.push(Err(err.into()));
                    continue;
                }
                let statements = statements(&plan, &node);
                if statements.is_empty() {
                    outcomes.push(Ok(()));
                    continue;
                }
                let mut savepoint = tx
                    .begin()
                    .await
                    .map_err(PgStoreError::sql("commit: savepoint"))?;
                match execute_all(&mut savepoint, statements).await {
                    Ok(()) => {
                        savepoint
                            .commit()
                            .await
                            .map_err(PgStoreError::sql("commit: release savepoint"))?;
                        outcomes.push(Ok(()));
                    }
                    Err(err) => {
                        // Explicit, not by drop: a failed rollback must fail the group rather
                        // than commit half a request.
                        savepoint
                            .rollback()
                            .await
                            .map_err(PgStoreError::sql("commit: roll back savepoint"))?;
                        outcomes.push(Err(err.into()));
                    }
                }
            }
            tx.commit().await.map_err(PgStoreError::sql("commit"))?;
            Ok::<_, PgStoreError>(outcomes)
        }
        .await;
        match result {
            Ok(outcomes) => outcomes,
            Err(err) => self.fail_all(requests.len(), err),
        }
    }

    /// Every waiter gets `err`; the connection is dropped, since its state is unknown.
    fn fail_all(&mut self, n: usize, err: PgStoreError) -> Vec<Result<(), StorageError>> {
        tracing::error!(error = %err, requests = n, "group commit failed");
        self.discard_connection();
        let err = StorageError::from(err);
        (0..n).map(|_| Err(clone_error(&err))).collect()
    }

    async fn connection(&mut self) -> Result<&mut PoolConnection<Postgres>, PgStoreError> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self
                .pool
                .acquire()
                .await
                .map_err(PgStoreError::sql("commit: acquire connection"))?,
        };
        Ok(self.conn.insert(conn))
    }

    fn discard_connection(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            // Closed instead of returned, so the pool opens a fresh one next time.
            conn.close_on_drop();
        }
    }
}

/// `StorageError` is not `Clone` (its sources are not); the message is what travels.
fn clone_error(err: &StorageError) -> StorageError {
    match err {
        StorageError::Unavailable(m) => StorageError::Unavailable(m.clone()),
        StorageError::Corrupt(m) => StorageError::Corrupt(m.clone()),
        StorageError::Backend(m) => StorageError::Backend(m.clone()),
        StorageError::Closed => StorageError::Closed,
    }
}

async fn execute_all(
    conn: &mut PgConnection,
    statements: Vec<Statement<'_>>,
) -> Result<(), PgStoreError> {
    for (context, query) in statements {
        query
            .execute(&mut *conn)
            .await
            .map_err(PgStoreError::sql(context))?;
    }
    Ok(())
}
