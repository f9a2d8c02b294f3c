//! The writer thread: the only owner of the write connection, and where group commit happens.
//!
//! Every `commit()` is a `Request` on a channel. The thread blocks for the first one, then
//! drains whatever else is already waiting (bounded by `max_batch_ops`) and applies the whole
//! group in ONE SQLite transaction, so N concurrent committers share one WAL fsync instead of
//! paying N. Each request runs inside its own SAVEPOINT: if one request's ops fail, only that
//! savepoint is rolled back and only that waiter gets the error, while the rest of the group
//! still commits. If the final COMMIT itself fails (I/O error, disk full) every waiter in the
//! group gets the error, since none of their ops are durable.

use std::sync::mpsc::{Receiver, TryRecvError};

use ferrite_storage::{
    BrokerOp, QueueState, QueuedMessage, StorageError, StoredMessage, Write, WriteOutcome,
};
use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::error::SqlContext;

pub(crate) type Reply = oneshot::Sender<Result<(), StorageError>>;

pub(crate) enum Request {
    Commit {
        ops: Vec<BrokerOp>,
        reply: Reply,
    },
    /// Everything queued before this is applied first (the channel is FIFO); then the thread
    /// checkpoints, closes the connection and answers.
    Close {
        reply: Reply,
    },
    /// A conditional registry batch: its own transaction, after the broker ops queued before
    /// it (registry writes are rare; they need no group commit).
    RegistryWrite {
        batch: Vec<Write>,
        reply: oneshot::Sender<Result<WriteOutcome, StorageError>>,
    },
    RegistryClear {
        reply: Reply,
    },
    RegistrySequence {
        reply: oneshot::Sender<Result<u64, StorageError>>,
    },
}

/// The thread body. Returns when asked to close or when every sender is gone (the store was
/// dropped); either way requests already queued are applied first.
pub(crate) fn run(mut conn: Connection, rx: Receiver<Request>, max_batch_ops: usize) {
    let mut batch: Vec<(Vec<BrokerOp>, Reply)> = Vec::new();
    let mut close_reply: Option<Reply> = None;
    // A registry request met while draining: it runs after the group queued before it.
    let mut deferred: Option<Request> = None;

    while close_reply.is_none() {
        let Ok(first) = rx.recv() else {
            break; // all senders dropped: the store is gone
        };
        let mut batch_ops = 0usize;
        match first {
            Request::Commit { ops, reply } => {
                batch_ops += ops.len();
                batch.push((ops, reply));
            }
            Request::Close { reply } => close_reply = Some(reply),
            registry => deferred = Some(registry),
        }
        // Group commit: take what is already waiting, never wait for more. Latency for a lone
        // committer stays one fsync; under load the group grows by itself while the previous
        // fsync is in progress.
        while close_reply.is_none() && deferred.is_none() && batch_ops < max_batch_ops {
            match rx.try_recv() {
                Ok(Request::Commit { ops, reply }) => {
                    batch_ops += ops.len();
                    batch.push((ops, reply));
                }
                Ok(Request::Close { reply }) => close_reply = Some(reply),
                Ok(registry) => deferred = Some(registry),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if !batch.is_empty() {
            commit_group(&mut conn, &mut batch);
        }
        if let Some(request) = deferred.take() {
            run_registry(&mut conn, request);
        }
    }

    let result = shutdown(conn);
    if let Some(reply) = close_reply {
        let _ = reply.send(result);
    } else if let Err(err) = result {
        tracing::warn!(error = %err, "sqlite store shutdown after drop failed");
    }
    // Dropping `rx` here fails every request that raced with close: their reply senders are
    // dropped and their futures resolve to `Closed`.
}

fn run_registry(conn: &mut Connection, request: Request) {
    if !conn.is_autocommit()
        && let Err(err) = conn.execute_batch("ROLLBACK")
    {
        tracing::warn!(error = %err, "could not clear a stale sqlite transaction");
    }
    match request {
        Request::RegistryWrite { batch, reply } => {
            let _ = reply.send(crate::registry::write(conn, &batch));
        }
        Request::RegistryClear { reply } => {
            let _ = reply.send(crate::registry::clear(conn));
        }
        Request::RegistrySequence { reply } => {
            let _ = reply.send(crate::registry::next_sequence(conn));
        }
        Request::Commit { .. } | Request::Close { .. } => {
            unreachable!("only registry requests are deferred")
        }
    }
}

/// Applies one group in a single transaction and answers every waiter.
fn commit_group(conn: &mut Connection, batch: &mut Vec<(Vec<BrokerOp>, Reply)>) {
    let total_ops: usize = batch.iter().map(|(ops, _)| ops.len()).sum();
    if total_ops == 0 {
        // Only empty commits (barriers): everything before them is already durable.
        for (_, reply) in batch.drain(..) {
            let _ = reply.send(Ok(()));
        }
        return;
    }

    if !conn.is_autocommit() {
        // A previous rollback failed and left a transaction open; clear it or every later
        // BEGIN would fail with "transaction within a transaction".
        if let Err(err) = conn.execute_batch("ROLLBACK") {
            tracing::warn!(error = %err, "could not clear a stale sqlite transaction");
        }
    }
    let mut outcomes: Vec<Result<(), StorageError>> = Vec::with_capacity(batch.len());
    let committed = (|| -> Result<(), StorageError> {
        let mut tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("commit: begin")?;
        for (ops, _) in batch.iter() {
            if ops.is_empty() {
                outcomes.push(Ok(()));
                continue;
            }
            let sp = tx.savepoint().ctx("commit: savepoint")?;
            match apply_ops(&sp, ops) {
                Ok(()) => {
                    sp.commit().ctx("commit: release savepoint")?;
                    outcomes.push(Ok(()));
                }
                Err(err) => {
                    // Undo just this request's ops. Done explicitly, not by drop, so a failed
                    // rollback fails the group instead of committing half a request.
                    sp.finish().ctx("commit: roll back savepoint")?;
                    outcomes.push(Err(err));
                }
            }
        }
        tx.commit().ctx("commit")
    })();

    tracing::trace!(requests = batch.len(), ops = total_ops, "group commit");
    match committed {
        Ok(()) => {
            for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
        Err(err) => {
            // The transaction rolled back (dropping it does), so nothing in the group is
            // durable; every waiter learns why. The error is rebuilt per waiter because
            // `StorageError` is not `Clone`.
            tracing::error!(error = %err, requests = batch.len(), "group commit failed");
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(clone_error(&err)));
            }
        }
    }
}

fn clone_error(err: &StorageError) -> StorageError {
    match err {
        StorageError::Unavailable(m) => StorageError::Unavailable(m.clone()),
        StorageError::Corrupt(m) => StorageError::Corrupt(m.clone()),
        StorageError::Backend(m) => StorageError::Backend(m.clone()),
        StorageError::Closed => StorageError::Closed,
    }
}

/// Checkpoints the WAL into the main file so a closed store is one self-contained file, then
/// closes the connection.
fn shutdown(conn: Connection) -> Result<(), StorageError> {
    // TRUNCATE also resets the -wal file to zero bytes. A busy result (a reader elsewhere)
    // only means the WAL stays; it is replayed on next open, so that is not an error.
    let (busy, _log, _checkpointed): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .ctx("close: checkpoint")?;
    if busy != 0 {
        tracing::debug!("wal checkpoint on close was blocked by a reader");
    }
    conn.close()
        .map_err(|(_, e)| crate::error::sql_error("close", e))
}

fn apply_ops(conn: &Connection, ops: &[BrokerOp]) -> Result<(), StorageError> {
    for op in ops {
        apply_op(conn, op)?;
    }
    Ok(())
}

/// SQLite integers are signed 64-bit; larger sequence numbers would wrap and reorder.
fn seq_to_sql(seq: u64) -> Result<i64, StorageError> {
    if seq > QueuedMessage::MAX_SEQ {
        return Err(StorageError::Backend(format!(
            "queue seq {seq} exceeds the storable maximum {}",
            QueuedMessage::MAX_SEQ
        )));
    }
    i64::try_from(seq).map_err(|_| StorageError::Backend(format!("queue seq {seq} out of range")))
}

fn state_to_sql(state: QueueState) -> i64 {
    match state {
        QueueState::Pending => 0,
        QueueState::Released => 1,
    }
}

fn apply_op(conn: &Connection, op: &BrokerOp) -> Result<(), StorageError> {
    match op {
        BrokerOp::PutRetained(m) => {
            let mut stmt = conn
                .prepare_cached(
                    "INSERT OR REPLACE INTO retained
                     (topic, payload, qos, retain, properties, received_at_ms, expires_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .ctx("commit: prepare put retained")?;
            stmt.execute(params![
                m.topic,
                m.payload.as_ref(),
                m.qos,
                m.retain,
                m.properties.as_ref(),
                m.received_at_ms,
                m.expires_at_ms
            ])
            .ctx("commit: put retained")?;
        }
        BrokerOp::DeleteRetained { topic } => {
            conn.prepare_cached("DELETE FROM retained WHERE topic = ?1")
                .ctx("commit: prepare delete retained")?
                .execute([topic])
                .ctx("commit: delete retained")?;
        }
        BrokerOp::PutSession(s) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO sessions
                 (client_id, expiry_interval_secs, disconnected_at_ms, data)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .ctx("commit: prepare put session")?
            .execute(params![
                s.client_id,
                s.expiry_interval_secs,
                s.disconnected_at_ms,
                s.data.as_ref()
            ])
            .ctx("commit: put session")?;
        }
        BrokerOp::DeleteSession { client_id } => {
            // The cascade is explicit (no foreign keys): one op removes the whole session.
            for (sql, context) in [
                (
                    "DELETE FROM subscriptions WHERE client_id = ?1",
                    "commit: delete session subscriptions",
                ),
                (
                    "DELETE FROM queue WHERE client_id = ?1",
                    "commit: delete session queue",
                ),
                (
                    "DELETE FROM sessions WHERE client_id = ?1",
                    "commit: delete session",
                ),
            ] {
                conn.prepare_cached(sql)
                    .ctx(context)?
                    .execute([client_id])
                    .ctx(context)?;
            }
        }
        BrokerOp::PutSubscription(s) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO subscriptions (client_id, filter, options)
                 VALUES (?1, ?2, ?3)",
            )
            .ctx("commit: prepare put subscription")?
            .execute(params![s.client_id, s.filter, s.options.as_ref()])
            .ctx("commit: put subscription")?;
        }
        BrokerOp::DeleteSubscription { client_id, filter } => {
            conn.prepare_cached("DELETE FROM subscriptions WHERE client_id = ?1 AND filter = ?2")
                .ctx("commit: prepare delete subscription")?
                .execute([client_id, filter])
                .ctx("commit: delete subscription")?;
        }
        BrokerOp::Enqueue(q) => {
            let seq = seq_to_sql(q.seq)?;
            let m: &StoredMessage = &q.message;
            conn.prepare_cached(
                "INSERT OR REPLACE INTO queue
                 (client_id, seq, state, topic, payload, qos, retain, properties,
                  received_at_ms, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .ctx("commit: prepare enqueue")?
            .execute(params![
                q.client_id,
                seq,
                state_to_sql(q.state),
                m.topic,
                m.payload.as_ref(),
                m.qos,
                m.retain,
                m.properties.as_ref(),
                m.received_at_ms,
                m.expires_at_ms
            ])
            .ctx("commit: enqueue")?;
        }
        BrokerOp::SetQueueState {
            client_id,
            seq,
            state,
        } => {
            let seq = seq_to_sql(*seq)?;
            conn.prepare_cached("UPDATE queue SET state = ?3 WHERE client_id = ?1 AND seq = ?2")
                .ctx("commit: prepare set queue state")?
                .execute(params![client_id, seq, state_to_sql(*state)])
                .ctx("commit: set queue state")?;
        }
        BrokerOp::Dequeue { client_id, seq } => {
            let seq = seq_to_sql(*seq)?;
            conn.prepare_cached("DELETE FROM queue WHERE client_id = ?1 AND seq = ?2")
                .ctx("commit: prepare dequeue")?
                .execute(params![client_id, seq])
                .ctx("commit: dequeue")?;
        }
    }
    Ok(())
}
