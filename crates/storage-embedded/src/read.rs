//! Loading the snapshot, or one client's session, decoding every column defensively.
//!
//! The file may have been edited, truncated by a bad disk or written by a buggy build, so no
//! value is trusted: every column is checked for type and range and a bad one becomes
//! `StorageError::Corrupt` naming the table, column and key, never a panic.

use bytes::Bytes;
use ferrite_storage::{
    BrokerSnapshot, QueueState, QueuedMessage, SessionSnapshot, StorageError, StoredMessage,
    StoredSession, StoredSubscription,
};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Params, Row};

use crate::error::SqlContext;

const SESSION_COLUMNS: &str = "client_id, expiry_interval_secs, disconnected_at_ms, data";
const SUBSCRIPTION_COLUMNS: &str = "client_id, filter, options";
const QUEUE_COLUMNS: &str = "client_id, seq, state,
     topic, payload, qos, retain, properties, received_at_ms, expires_at_ms";

/// Reads everything inside one read transaction, so the four tables form a consistent
/// snapshot even while the writer keeps committing.
pub(crate) fn load_snapshot(conn: &mut Connection) -> Result<BrokerSnapshot, StorageError> {
    let tx = conn.transaction().ctx("load: begin")?;
    let snapshot = BrokerSnapshot {
        retained: rows(
            &tx,
            "retained",
            "SELECT topic, payload, qos, retain, properties, received_at_ms, expires_at_ms
             FROM retained ORDER BY topic",
            [],
            |cols| cols.message(0),
        )?,
        sessions: rows(
            &tx,
            "sessions",
            &format!("SELECT {SESSION_COLUMNS} FROM sessions ORDER BY client_id"),
            [],
            |c| c.session(),
        )?,
        subscriptions: rows(
            &tx,
            "subscriptions",
            &format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions ORDER BY client_id, filter"),
            [],
            |c| c.subscription(),
        )?,
        queued: rows(
            &tx,
            "queue",
            &format!("SELECT {QUEUE_COLUMNS} FROM queue ORDER BY client_id, seq"),
            [],
            |c| c.queued(),
        )?,
    };
    tx.finish().ctx("load: end")?;
    Ok(snapshot)
}

/// One client's session, subscriptions and queue, inside one read transaction.
pub(crate) fn load_session(
    conn: &mut Connection,
    client_id: &str,
) -> Result<Option<SessionSnapshot>, StorageError> {
    let tx = conn.transaction().ctx("load session: begin")?;
    let session = rows(
        &tx,
        "sessions",
        &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE client_id = ?1"),
        [client_id],
        |c| c.session(),
    )?
    .pop();
    let snapshot = match session {
        None => None,
        Some(session) => Some(SessionSnapshot {
            session,
            subscriptions: rows(
                &tx,
                "subscriptions",
                &format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE client_id = ?1"),
                [client_id],
                |c| c.subscription(),
            )?,
            queued: rows(
                &tx,
                "queue",
                &format!("SELECT {QUEUE_COLUMNS} FROM queue WHERE client_id = ?1 ORDER BY seq"),
                [client_id],
                |c| c.queued(),
            )?,
        }),
    };
    tx.finish().ctx("load session: end")?;
    Ok(snapshot)
}

/// Every row `sql` selects from `table`, decoded by `decode`.
fn rows<T, P: Params>(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    params: P,
    decode: impl Fn(&Cols<'_, '_>) -> Result<T, StorageError>,
) -> Result<Vec<T>, StorageError> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(|e| crate::error::sql_error(&format!("load: prepare {table}"), e))?;
    let mut rows = stmt
        .query(params)
        .map_err(|e| crate::error::sql_error(&format!("load: query {table}"), e))?;
    let mut out = Vec::new();
    while let Some(row) = rows
        .next()
        .map_err(|e| crate::error::sql_error(&format!("load: read {table}"), e))?
    {
        out.push(decode(&Cols::new(row, table))?);
    }
    Ok(out)
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

    /// A `sessions` row of [`SESSION_COLUMNS`].
    fn session(&self) -> Result<StoredSession, StorageError> {
        let expiry = self.integer(1, "expiry_interval_secs")?;
        Ok(StoredSession {
            client_id: self.text(0, "client_id")?,
            expiry_interval_secs: u32::try_from(expiry)
                .map_err(|_| self.corrupt("expiry_interval_secs", "out of range"))?,
            disconnected_at_ms: self.opt_integer(2, "disconnected_at_ms")?,
            data: self.blob(3, "data")?,
        })
    }

    /// A `subscriptions` row of [`SUBSCRIPTION_COLUMNS`].
    fn subscription(&self) -> Result<StoredSubscription, StorageError> {
        Ok(StoredSubscription {
            client_id: self.text(0, "client_id")?,
            filter: self.text(1, "filter")?,
            options: self.blob(2, "options")?,
        })
    }

    /// A `queue` row of [`QUEUE_COLUMNS`].
    fn queued(&self) -> Result<QueuedMessage, StorageError> {
        let seq = self.integer(1, "seq")?;
        let state = match self.integer(2, "state")? {
            0 => QueueState::Pending,
            1 => QueueState::Released,
            _ => return Err(self.corrupt("state", "unknown queue state")),
        };
        Ok(QueuedMessage {
            client_id: self.text(0, "client_id")?,
            seq: u64::try_from(seq).map_err(|_| self.corrupt("seq", "negative"))?,
            state,
            message: self.message(3)?,
        })
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
