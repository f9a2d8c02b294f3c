//! Loading the snapshot, decoding every column defensively.
//!
//! The tables may have been edited by hand or written by a buggy build, so no value is
//! trusted: every column is checked for type and range and a bad one becomes
//! `StorageError::Corrupt` naming the table, column and key, never a panic.

use bytes::Bytes;
use ferrite_storage::{
    BrokerSnapshot, QueueState, QueuedMessage, StoredMessage, StoredSession, StoredSubscription,
};
use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::{Connection, Decode, PgPool, Postgres, Row, Type};

use crate::error::PgStoreError;

/// Reads the four tables in one REPEATABLE READ transaction, so they form a consistent
/// snapshot even while the writer keeps committing. Rows are streamed, not buffered whole.
pub(crate) async fn load_snapshot(pool: &PgPool) -> Result<BrokerSnapshot, PgStoreError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(PgStoreError::sql("load: acquire connection"))?;
    let mut tx = conn
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(PgStoreError::sql("load: begin"))?;
    let mut snapshot = BrokerSnapshot::default();

    {
        let mut rows = sqlx::query(
            "SELECT topic, payload, qos, retain, properties, received_at_ms, expires_at_ms
             FROM broker_retained ORDER BY topic",
        )
        .fetch(&mut *tx);
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(PgStoreError::sql("load: read retained"))?
        {
            snapshot
                .retained
                .push(Cols::new(&row, "broker_retained").message(0)?);
        }
    }
    {
        let mut rows = sqlx::query(
            "SELECT client_id, expiry_interval_secs, disconnected_at_ms, data
             FROM broker_sessions ORDER BY client_id",
        )
        .fetch(&mut *tx);
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(PgStoreError::sql("load: read sessions"))?
        {
            let cols = Cols::new(&row, "broker_sessions");
            let expiry: i64 = cols.get(1, "expiry_interval_secs")?;
            snapshot.sessions.push(StoredSession {
                client_id: cols.get(0, "client_id")?,
                expiry_interval_secs: u32::try_from(expiry)
                    .map_err(|_| cols.corrupt("expiry_interval_secs", "out of range"))?,
                disconnected_at_ms: cols.get(2, "disconnected_at_ms")?,
                data: cols.bytes(3, "data")?,
            });
        }
    }
    {
        let mut rows = sqlx::query(
            "SELECT client_id, filter, options FROM broker_subscriptions
             ORDER BY client_id, filter",
        )
        .fetch(&mut *tx);
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(PgStoreError::sql("load: read subscriptions"))?
        {
            let cols = Cols::new(&row, "broker_subscriptions");
            snapshot.subscriptions.push(StoredSubscription {
                client_id: cols.get(0, "client_id")?,
                filter: cols.get(1, "filter")?,
                options: cols.bytes(2, "options")?,
            });
        }
    }
    {
        let mut rows = sqlx::query(
            "SELECT client_id, seq, state,
                    topic, payload, qos, retain, properties, received_at_ms, expires_at_ms
             FROM broker_queue ORDER BY client_id, seq",
        )
        .fetch(&mut *tx);
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(PgStoreError::sql("load: read queue"))?
        {
            let cols = Cols::new(&row, "broker_queue");
            let seq: i64 = cols.get(1, "seq")?;
            let state = match cols.get::<i16>(2, "state")? {
                0 => QueueState::Pending,
                1 => QueueState::Released,
                _ => return Err(cols.corrupt("state", "unknown queue state")),
            };
            snapshot.queued.push(QueuedMessage {
                client_id: cols.get(0, "client_id")?,
                seq: u64::try_from(seq).map_err(|_| cols.corrupt("seq", "negative"))?,
                state,
                message: cols.message(3)?,
            });
        }
    }

    tx.commit().await.map_err(PgStoreError::sql("load: end"))?;
    Ok(snapshot)
}

/// Typed, checked access to one row; errors name the table and column (never the value,
/// which may be a payload).
struct Cols<'r> {
    row: &'r PgRow,
    table: &'static str,
}

impl<'r> Cols<'r> {
    fn new(row: &'r PgRow, table: &'static str) -> Self {
        Self { row, table }
    }

    fn corrupt(&self, column: &'static str, what: &str) -> PgStoreError {
        PgStoreError::Corrupt {
            table: self.table,
            column,
            what: what.to_owned(),
        }
    }

    fn get<T>(&self, idx: usize, column: &'static str) -> Result<T, PgStoreError>
    where
        T: Decode<'r, Postgres> + Type<Postgres>,
    {
        self.row
            .try_get(idx)
            .map_err(|e| self.corrupt(column, &format!("unreadable ({e})")))
    }

    fn bytes(&self, idx: usize, column: &'static str) -> Result<Bytes, PgStoreError> {
        self.get::<Vec<u8>>(idx, column).map(Bytes::from)
    }

    /// The seven message columns starting at `first`, in the order of `StoredMessage`.
    fn message(&self, first: usize) -> Result<StoredMessage, PgStoreError> {
        let qos: i16 = self.get(first + 2, "qos")?;
        Ok(StoredMessage {
            topic: self.get(first, "topic")?,
            payload: self.bytes(first + 1, "payload")?,
            qos: u8::try_from(qos).map_err(|_| self.corrupt("qos", "out of range"))?,
            retain: self.get(first + 3, "retain")?,
            properties: self.bytes(first + 4, "properties")?,
            received_at_ms: self.get(first + 5, "received_at_ms")?,
            expires_at_ms: self.get(first + 6, "expires_at_ms")?,
        })
    }
}
