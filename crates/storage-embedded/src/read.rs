//! Loading the snapshot, decoding every column defensively.
//!
//! The file may have been edited, truncated by a bad disk or written by a buggy build, so no
//! value is trusted: every column is checked for type and range and a bad one becomes
//! `StorageError::Corrupt` naming the table, column and key, never a panic.

use bytes::Bytes;
use ferrite_storage::{
    BrokerSnapshot, QueueState, QueuedMessage, StorageError, StoredMessage, StoredSession,
    StoredSubscription,
};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row};

use crate::error::SqlContext;

/// Reads everything inside one read transaction, so the four tables form a consistent
/// snapshot even while the writer keeps committing.
pub(crate) fn load_snapshot(conn: &mut Connection) -> Result<BrokerSnapshot, StorageError> {
    let tx = conn.transaction().ctx("load: begin")?;
    let mut snapshot = BrokerSnapshot::default();

    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT topic, payload, qos, retain, properties, received_at_ms, expires_at_ms
                 FROM retained ORDER BY topic",
            )
            .ctx("load: prepare retained")?;
        let mut rows = stmt.query([]).ctx("load: query retained")?;
        while let Some(row) = rows.next().ctx("load: read retained")? {
            let cols = Cols::new(row, "retained");
            snapshot.retained.push(cols.message(0)?);
        }
    }
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT client_id, expiry_interval_secs, disconnected_at_ms, data
                 FROM sessions ORDER BY client_id",
            )
            .ctx("load: prepare sessions")?;
        let mut rows = stmt.query([]).ctx("load: query sessions")?;
        while let Some(row) = rows.next().ctx("load: read sessions")? {
            let cols = Cols::new(row, "sessions");
            let client_id = cols.text(0, "client_id")?;
            let expiry = cols.integer(1, "expiry_interval_secs")?;
            snapshot.sessions.push(StoredSession {
                expiry_interval_secs: u32::try_from(expiry)
                    .map_err(|_| cols.corrupt("expiry_interval_secs", "out of range"))?,
                disconnected_at_ms: cols.opt_integer(2, "disconnected_at_ms")?,
                data: cols.blob(3, "data")?,
                client_id,
            });
        }
    }
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT client_id, filter, options FROM subscriptions ORDER BY client_id, filter",
            )
            .ctx("load: prepare subscriptions")?;
        let mut rows = stmt.query([]).ctx("load: query subscriptions")?;
        while let Some(row) = rows.next().ctx("load: read subscriptions")? {
            let cols = Cols::new(row, "subscriptions");
            snapshot.subscriptions.push(StoredSubscription {
                client_id: cols.text(0, "client_id")?,
                filter: cols.text(1, "filter")?,
                options: cols.blob(2, "options")?,
            });
        }
    }
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT client_id, seq, state,
                        topic, payload, qos, retain, properties, received_at_ms, expires_at_ms
                 FROM queue ORDER BY client_id, seq",
            )
            .ctx("load: prepare queue")?;
        let mut rows = stmt.query([]).ctx("load: query queue")?;
        while let Some(row) = rows.next().ctx("load: read queue")? {
            let cols = Cols::new(row, "queue");
            let seq = cols.integer(1, "seq")?;
            let state = match cols.integer(2, "state")? {
                0 => QueueState::Pending,
                1 => QueueState::Released,
                _ => return Err(cols.corrupt("state", "unknown queue state")),
            };
            snapshot.queued.push(QueuedMessage {
                client_id: cols.text(0, "client_id")?,
                seq: u64::try_from(seq).map_err(|_| cols.corrupt("seq", "negative"))?,
                state,
                message: cols.message(3)?,
            });
        }
    }

    tx.finish().ctx("load: end")?;
    Ok(snapshot)
}

/// Typed, checked access to one row; errors name the table and column (never the value,
/// which may be a payload).
struct Cols<'r, 's> {
    row: &'r Row<'s>,
    table: &'static str,
}

impl<'r, 's> Cols<'r, 's> {
    fn new(row: &'r Row<'s>, table: &'static str) -> Self {
        Self { row, table }
    }

    fn corrupt(&self, column: &str, what: &str) -> StorageError {
        StorageError::Corrupt(format!("{}.{column}: {what}", self.table))
    }

    fn value(&self, idx: usize, column: &str) -> Result<ValueRef<'r>, StorageError> {
        self.row
            .get_ref(idx)
            .map_err(|e| self.corrupt(column, &format!("unreadable ({e})")))
    }

    fn text(&self, idx: usize, column: &str) -> Result<String, StorageError> {
        match self.value(idx, column)? {
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| self.corrupt(column, "invalid utf-8")),
            _ => Err(self.corrupt(column, "expected text")),
        }
    }

    fn blob(&self, idx: usize, column: &str) -> Result<Bytes, StorageError> {
        match self.value(idx, column)? {
            ValueRef::Blob(bytes) => Ok(Bytes::copy_from_slice(bytes)),
            _ => Err(self.corrupt(column, "expected blob")),
        }
    }

    fn integer(&self, idx: usize, column: &str) -> Result<i64, StorageError> {
        match self.value(idx, column)? {
            ValueRef::Integer(v) => Ok(v),
            _ => Err(self.corrupt(column, "expected integer")),
        }
    }

    fn opt_integer(&self, idx: usize, column: &str) -> Result<Option<i64>, StorageError> {
        match self.value(idx, column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v)),
            _ => Err(self.corrupt(column, "expected integer or null")),
        }
    }

    fn bool(&self, idx: usize, column: &str) -> Result<bool, StorageError> {
        match self.integer(idx, column)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.corrupt(column, "expected 0 or 1")),
        }
    }

    /// The seven message columns starting at `first`, in the order of `StoredMessage`.
    fn message(&self, first: usize) -> Result<StoredMessage, StorageError> {
        let qos = self.integer(first + 2, "qos")?;
        Ok(StoredMessage {
            topic: self.text(first, "topic")?,
            payload: self.blob(first + 1, "payload")?,
            qos: u8::try_from(qos).map_err(|_| self.corrupt("qos", "out of range"))?,
            retain: self.bool(first + 3, "retain")?,
            properties: self.blob(first + 4, "properties")?,
            received_at_ms: self.integer(first + 5, "received_at_ms")?,
            expires_at_ms: self.opt_integer(first + 6, "expires_at_ms")?,
        })
    }
}
