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
//!
//! Fencing (a cluster's session writes, ARCHITECTURE.md "Sessions and take-over"): when
//! requests of a group carry [`SessionFence`]s, the group's transaction first reads and
//! share-locks the owner rows of all their client ids in one statement (in key order, so
//! writers cannot deadlock on each other). A fence holds when the row names this node as the
//! owner and the fence's epoch lies in the node's current run of claims (`owner_since_epoch
//! ..= owner_epoch`). The ops of a request's sessions whose fence fails are left out of the
//! plan and the request is told which fences failed; everything else commits. The share lock
//! keeps a claim or an adoption by another node (which updates the row) waiting until the
//! group has committed: a claim is ordered either before the group (whose writes it then
//! refuses) or after it (and the new owner reads what the group wrote).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ferrite_storage::{BrokerOp, SessionFence, StorageError};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row};
use tokio::sync::{mpsc, oneshot};

use crate::error::PgStoreError;
use crate::plan::{self, Plan};
use crate::statements::{Statement, statements};

/// A commit's answer: the fences that failed (their sessions' ops were not written).
pub(crate) type Reply = oneshot::Sender<Result<Vec<SessionFence>, StorageError>>;

pub(crate) enum Request {
    Commit {
        ops: Vec<BrokerOp>,
        fences: Vec<SessionFence>,
        reply: Reply,
    },
    /// Everything queued before this is written first (the channel is FIFO); then the task
    /// releases its connection and answers.
    Close {
        reply: oneshot::Sender<Result<(), StorageError>>,
    },
}

/// One commit waiting in a group.
pub(crate) struct Pending {
    ops: Vec<BrokerOp>,
    fences: Vec<SessionFence>,
    reply: Reply,
}

type Outcome = Result<Vec<SessionFence>, StorageError>;

/// The owner rows of the fenced client ids, share-locked until the group's transaction ends.
const LOCK_OWNERS: &str = "\
SELECT client_id, owner_node, owner_since_epoch, owner_epoch,
       handover_node, handover_since_epoch, handover_until_epoch
FROM broker_session_owners
WHERE client_id = ANY($1::text[]) ORDER BY client_id FOR SHARE";

/// A node and the run of epochs its writes of a session are accepted for.
type Run = (String, i64, i64);

/// Per client id: the owner's run, and the run of the node handing the session over, while
/// its claimant has not sealed the claim.
type Owners = HashMap<String, (Run, Option<Run>)>;

/// Retained tombstones (a cluster's deletes: empty payloads) older than `$1`.
const PURGE_TOMBSTONES: &str =
    "DELETE FROM broker_retained WHERE octet_length(payload) = 0 AND received_at_ms < $1";

/// How far (in stamp time) the newest tombstone written moves between two purges.
const PURGE_EVERY_MS: i64 = 60_000;

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
    /// The newest stamp of a retained tombstone this writer wrote, and that newest when it
    /// last purged: purges follow the stamps, not a clock of their own.
    newest_tombstone_ms: i64,
    purged_at_ms: i64,
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
            newest_tombstone_ms: i64::MIN,
            purged_at_ms: i64::MIN,
        }
    }

    /// The task body. Returns when asked to close or when every sender is gone (the store
    /// was dropped); either way requests already queued are written first.
    pub(crate) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        let mut batch: Vec<Pending> = Vec::new();
        let mut close_reply: Option<oneshot::Sender<Result<(), StorageError>>> = None;
        while close_reply.is_none() {
            let Some(first) = rx.recv().await else {
                break;
            };
            let mut batch_ops = 0usize;
            match first {
                Request::Commit { ops, fences, reply } => {
                    batch_ops += ops.len();
                    batch.push(Pending { ops, fences, reply });
                }
                Request::Close { reply } => close_reply = Some(reply),
            }
            // Take what is already waiting, never wait for more: a lone committer pays one
            // transaction's latency, and under load the next group grows while this one is
            // being written.
            while close_reply.is_none() && batch_ops < self.max_batch_ops {
                match rx.try_recv() {
                    Ok(Request::Commit { ops, fences, reply }) => {
                        batch_ops += ops.len();
                        batch.push(Pending { ops, fences, reply });
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
    async fn commit_group(&mut self, batch: &mut Vec<Pending>) {
        let mut valid = Vec::with_capacity(batch.len());
        for pending in batch.drain(..) {
            match plan::validate(&pending.ops) {
                Ok(()) => valid.push(pending),
                Err(err) => {
                    let _ = pending.reply.send(Err(err.into()));
                }
            }
        }
        let total_ops: usize = valid.iter().map(|p| p.ops.len()).sum();
        let outcomes = if total_ops == 0 {
            // Only empty commits (barriers): everything before them is already durable.
            valid.iter().map(|_| Ok(Vec::new())).collect()
        } else {
            self.write(&valid).await
        };
        tracing::trace!(requests = valid.len(), ops = total_ops, "group commit");
        for pending in &valid {
            for op in &pending.ops {
                if let BrokerOp::PutRetained(m) = op
                    && m.payload.is_empty()
                {
                    self.newest_tombstone_ms = self.newest_tombstone_ms.max(m.received_at_ms);
                }
            }
        }
        for (pending, outcome) in valid.into_iter().zip(outcomes) {
            let _ = pending.reply.send(outcome);
        }
        self.purge_tombstones().await;
    }

    /// Deletes the retained tombstones older than the horizon behind the newest this writer
    /// wrote, at most once per [`PURGE_EVERY_MS`] of stamp time; after the group's waiters
    /// were answered, so that it delays none of them. Only a cluster writes tombstones.
    async fn purge_tombstones(&mut self) {
        if self.newest_tombstone_ms == i64::MIN
            || self.newest_tombstone_ms.saturating_sub(self.purged_at_ms) < PURGE_EVERY_MS
        {
            return;
        }
        self.purged_at_ms = self.newest_tombstone_ms;
        let before = self
            .newest_tombstone_ms
            .saturating_sub(ferrite_storage::RETAINED_TOMBSTONE_HORIZON_MS);
        let purged = match self.connection().await {
            Ok(conn) => sqlx::query(PURGE_TOMBSTONES)
                .bind(before)
                .execute(&mut **conn)
                .await
                .map_err(PgStoreError::sql("purge retained tombstones")),
            Err(e) => Err(e),
        };
        match purged {
            Ok(done) => {
                tracing::debug!(purged = done.rows_affected(), "purged retained tombstones");
            }
            // The next purge takes them.
            Err(e) => {
                tracing::debug!(error = %e, "cannot purge retained tombstones");
                if e.breaks_connection() {
                    self.discard_connection();
                }
            }
        }
    }

    /// One outcome per request, in order.
    async fn write(&mut self, requests: &[Pending]) -> Vec<Outcome> {
        let mut conflicts = 0;
        let failure = loop {
            match self.write_merged(requests).await {
                Ok(refused) => return refused.into_iter().map(Ok).collect(),
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

    /// The whole group as one plan, in one transaction. Returns the fences that failed, per
    /// request.
    async fn write_merged(
        &mut self,
        requests: &[Pending],
    ) -> Result<Vec<Vec<SessionFence>>, Failure> {
        let node = self.node.clone();
        let none = || requests.iter().map(|_| Vec::new()).collect();
        let fenced = requests.iter().any(|p| !p.fences.is_empty());
        if !fenced {
            let mut plan = Plan::default();
            for p in requests {
                plan.add(&p.ops).map_err(Failure::Statement)?;
            }
            let mut statements = statements(&plan, &node);
            if statements.is_empty() {
                return Ok(none());
            }
            let conn = self.connection().await.map_err(Failure::Transaction)?;
            if statements.len() == 1 {
                // One statement is atomic by itself: BEGIN and COMMIT would only add round
                // trips.
                let (context, query) = statements.remove(0);
                return match query.execute(&mut **conn).await {
                    Ok(_) => Ok(none()),
                    Err(err) => Err(Failure::Statement(PgStoreError::sql(context)(err))),
                };
            }
        }
        let conn = self.connection().await.map_err(Failure::Transaction)?;
        let mut tx = conn
            .begin()
            .await
            .map_err(|e| Failure::Transaction(PgStoreError::sql("commit: begin")(e)))?;
        let written = async {
            let owners = lock_owners(&mut tx, requests).await?;
            let refused: Vec<Vec<SessionFence>> = requests
                .iter()
                .map(|p| refused_fences(&p.fences, &owners, &node))
                .collect();
            let mut plan = Plan::default();
            for (p, refused) in requests.iter().zip(&refused) {
                plan.add_except(&p.ops, &skipped(refused))?;
            }
            execute_all(&mut tx, statements(&plan, &node)).await?;
            Ok::<_, PgStoreError>(refused)
        }
        .await;
        match written {
            Ok(refused) => {
                tx.commit()
                    .await
                    .map_err(|e| Failure::Transaction(PgStoreError::sql("commit")(e)))?;
                Ok(refused)
            }
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
    async fn write_isolated(&mut self, requests: &[Pending]) -> Vec<Outcome> {
        let node = self.node.clone();
        let result = async {
            let conn = self.connection().await?;
            let mut tx = conn
                .begin()
                .await
                .map_err(PgStoreError::sql("commit: begin"))?;
            let owners = lock_owners(&mut tx, requests).await?;
            let mut outcomes = Vec::with_capacity(requests.len());
            for p in requests {
                let refused = refused_fences(&p.fences, &owners, &node);
                let mut plan = Plan::default();
                if let Err(err) = plan.add_except(&p.ops, &skipped(&refused)) {
                    outcomes.push(Err(err.into()));
                    continue;
                }
                let statements = statements(&plan, &node);
                if statements.is_empty() {
                    outcomes.push(Ok(refused));
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
                        outcomes.push(Ok(refused));
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
    fn fail_all(&mut self, n: usize, err: PgStoreError) -> Vec<Outcome> {
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

/// Reads and share-locks the owner rows of every client id the requests fence; nothing (and
/// no round trip) when none does.
async fn lock_owners(
    conn: &mut PgConnection,
    requests: &[Pending],
) -> Result<Owners, PgStoreError> {
    let mut clients: Vec<&str> = requests
        .iter()
        .flat_map(|p| p.fences.iter().map(|f| f.client_id.as_str()))
        .collect();
    if clients.is_empty() {
        return Ok(Owners::new());
    }
    clients.sort_unstable();
    clients.dedup();
    let rows = sqlx::query(LOCK_OWNERS)
        .bind(&clients)
        .fetch_all(&mut *conn)
        .await
        .map_err(PgStoreError::sql("commit: lock session owners"))?;
    let mut owners = Owners::with_capacity(rows.len());
    for row in rows {
        let read = || PgStoreError::sql("commit: read session owners");
        let client: String = row.try_get(0).map_err(read())?;
        let node: String = row.try_get(1).map_err(read())?;
        let since: i64 = row.try_get(2).map_err(read())?;
        let epoch: i64 = row.try_get(3).map_err(read())?;
        let handover: Option<String> = row.try_get(4).map_err(read())?;
        let handover_since: Option<i64> = row.try_get(5).map_err(read())?;
        let handover_until: Option<i64> = row.try_get(6).map_err(read())?;
        let handover = handover
            .zip(handover_since)
            .zip(handover_until)
            .map(|((n, s), u)| (n, s, u));
        owners.insert(client, ((node, since, epoch), handover));
    }
    Ok(owners)
}

/// The fences of `fences` that `owners` does not bear out: the client id has no owner row, or
/// the fence's epoch lies neither in `node`'s run as the owner (another node owns it, or held
/// it in between) nor in its run as the node handing the session over (no hand-over open, or
/// the claimant sealed it).
fn refused_fences(fences: &[SessionFence], owners: &Owners, node: &str) -> Vec<SessionFence> {
    let holds = |run: &Run, epoch: i64| run.0 == node && (run.1..=run.2).contains(&epoch);
    fences
        .iter()
        .filter(|f| {
            let epoch = i64::try_from(f.epoch).unwrap_or(i64::MAX);
            !owners.get(&f.client_id).is_some_and(|(owner, handover)| {
                holds(owner, epoch) || handover.as_ref().is_some_and(|h| holds(h, epoch))
            })
        })
        .cloned()
        .collect()
}

fn skipped(refused: &[SessionFence]) -> HashSet<&str> {
    refused.iter().map(|f| f.client_id.as_str()).collect()
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
