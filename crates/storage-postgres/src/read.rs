//! Loading the snapshot, or one client's session, decoding every column defensively.
//!
//! The tables may have been edited by hand or written by a buggy build, so no value is
//! trusted: every column is checked for type and range and a bad one becomes
//! `StorageError::Corrupt` naming the table, column and key, never a panic.

use bytes::Bytes;
use ferrite_storage::{
    BrokerSnapshot, QueueState, QueuedMessage, SessionSnapshot, StoredMessage, StoredSession,
    StoredSubscription,
};
use futures_util::TryStreamExt;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Connection, Decode, PgConnection, PgPool, Postgres, Row, Type};

use crate::error::PgStoreError;

const SESSION_COLUMNS: &str = "client_id, expiry_interval_secs, disconnected_at_ms, data";
const SUBSCRIPTION_COLUMNS: &str = "client_id, filter, options";
const QUEUE_COLUMNS: &str = "client_id, seq, state,
     topic, payload, qos, retain, properties, received_at_ms, expires_at_ms";

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
    let retained = fetch_retained(&mut tx).await?;
    let sessions = fetch(
        &mut tx,
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM broker_sessions ORDER BY client_id"
        )),
        ("broker_sessions", "load: read sessions"),
        |c| c.session(),
    )
    .await?;
    let subscriptions = fetch(
        &mut tx,
        sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM broker_subscriptions ORDER BY client_id, filter"
        )),
        ("broker_subscriptions", "load: read subscriptions"),
        |c| c.subscription(),
    )
    .await?;
    let queued = fetch(
        &mut tx,
        sqlx::query(&format!(
            "SELECT {QUEUE_COLUMNS} FROM broker_queue ORDER BY client_id, seq"
        )),
        ("broker_queue", "load: read queue"),
        |c| c.queued(),
    )
    .await?;

    tx.commit().await.map_err(PgStoreError::sql("load: end"))?;
    Ok(BrokerSnapshot {
        retained,
        sessions,
        subscriptions,
        queued,
    })
}

async fn fetch_retained(conn: &mut PgConnection) -> Result<Vec<StoredMessage>, PgStoreError> {
    fetch(
        conn,
        sqlx::query(
            "SELECT topic, payload, qos, retain, properties, received_at_ms, expires_at_ms
             FROM broker_retained ORDER BY topic",
        ),
        ("broker_retained", "load: read retained"),
        |c| c.message(0),
    )
    .await
}

/// The retained table alone: a cluster node's start-up, which must not read every node's
/// sessions and queues.
pub(crate) async fn load_retained(pool: &PgPool) -> Result<BrokerSnapshot, PgStoreError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(PgStoreError::sql("load: acquire connection"))?;
    Ok(BrokerSnapshot {
        retained: fetch_retained(&mut conn).await?,
        ..BrokerSnapshot::default()
    })
}

/// One client's session, subscriptions and queue, in one REPEATABLE READ transaction.
pub(crate) async fn load_session(
    pool: &PgPool,
    client_id: &str,
) -> Result<Option<SessionSnapshot>, PgStoreError> {
    // PostgreSQL refuses NUL in text, so no stored session can have it: nothing to find.
    if client_id.contains('\0') {
        return Ok(None);
    }
    let mut conn = pool
        .acquire()
        .await
        .map_err(PgStoreError::sql("load session: acquire connection"))?;
    let mut tx = conn
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(PgStoreError::sql("load session: begin"))?;
    let session = fetch(
        &mut tx,
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM broker_sessions WHERE client_id = $1"
        ))
        .bind(client_id),
        ("broker_sessions", "load session: read session"),
        |c| c.session(),
    )
    .await?
    .pop();
    let snapshot = match session {
        None => None,
        Some(session) => Some(SessionSnapshot {
            session,
            subscriptions: fetch(
                &mut tx,
                sqlx::query(&format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM broker_subscriptions WHERE client_id = $1"
                ))
                .bind(client_id),
                ("broker_subscriptions", "load session: read subscriptions"),
                |c| c.subscription(),
            )
            .await?,
            queued: fetch(
                &mut tx,
                sqlx::query(&format!(
                    "SELECT {QUEUE_COLUMNS} FROM broker_queue WHERE client_id = $1 ORDER BY seq"
                ))
                .bind(client_id),
                ("broker_queue", "load session: read queue"),
                |c| c.queued(),
            )
            .await?,
        }),
    };
    tx.commit()
        .await
        .map_err(PgStoreError::sql("load session: end"))?;
    Ok(snapshot)
}

/// Every row `query` returns from `table`, streamed and decoded by `decode`; `context` names
/// the read in errors.
async fn fetch<'q, T>(
    conn: &mut PgConnection,
    query: Query<'q, Postgres, PgArguments>,
    (table, context): (&'static str, &'static str),
    decode: impl Fn(&Cols<'_>) -> Result<T, PgStoreError>,
) -> Result<Vec<T>, PgStoreError> {
    let mut rows = query.fetch(conn);
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await.map_err(PgStoreError::sql(context))? {
        out.push(decode(&Cols::new(&row, table))?);
    }
    Ok(out)
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

    /// A `broker_sessions` row of [`SESSION_COLUMNS`].
    fn session(&self) -> Result<StoredSession, PgStoreError> {
        let expiry: i64 = self.get(1, "expiry_interval_secs")?;
        Ok(StoredSession {
            client_id: self.get(0, "client_id")?,
            expiry_interval_secs: u32::try_from(expiry)
                .map_err(|_| self.corrupt("expiry_interval_secs", "out of range"))?,
            disconnected_at_ms: self.get(2, "disconnected_at_ms")?,
            data: self.bytes(3, "data")?,
        })
    }

    /// A `broker_subscriptions` row of [`SUBSCRIPTION_COLUMNS`].
    fn subscription(&self) -> Result<StoredSubscription, PgStoreError> {
        Ok(StoredSubscription {
            client_id: self.get(0, "client_id")?,
            filter: self.get(1, "filter")?,
            options: self.bytes(2, "options")?,
        })
    }

    /// A `broker_queue` row of [`QUEUE_COLUMNS`].
    fn queued(&self) -> Result<QueuedMessage, PgStoreError> {
        let seq: i64 = self.get(1, "seq")?;
        let state = match self.get::<i16>(2, "state")? {
            0 => QueueState::Pending,
            1 => QueueState::Released,
            _ => return Err(self.corrupt("state", "unknown queue state")),
        };
        Ok(QueuedMessage {
            client_id: self.get(0, "client_id")?,
            seq: u64::try_from(seq).map_err(|_| self.corrupt("seq", "negative"))?,
            state,
            message: self.message(3)?,
        })
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
