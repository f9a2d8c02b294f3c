//! The records the broker persists. Payloads are opaque `Bytes`; MQTT 5 properties that must
//! survive a restart travel as the encoded `properties` blob the broker chooses (opaque here).

use bytes::Bytes;

/// A message as stored: retained, or queued for a persistent session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    /// Opaque encoding of the MQTT 5 publish properties (may be empty).
    pub properties: Bytes,
    /// Unix time in milliseconds when the broker received the message.
    pub received_at_ms: i64,
    /// Unix time in milliseconds after which the message must not be delivered; `None` = never.
    pub expires_at_ms: Option<i64>,
}

/// A persistent session's own record (its subscriptions and queue are separate rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub client_id: String,
    /// Session expiry interval in seconds, as negotiated.
    pub expiry_interval_secs: u32,
    /// Unix time in milliseconds of the last disconnect; `None` while connected.
    pub disconnected_at_ms: Option<i64>,
    /// Opaque broker data (protocol version, etc.).
    pub data: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubscription {
    pub client_id: String,
    pub filter: String,
    /// Opaque encoding of the subscription options and identifier.
    pub options: Bytes,
}

/// Delivery state of a queued message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    /// Not yet sent, or sent and awaiting PUBACK / PUBREC.
    Pending,
    /// QoS 2: PUBREC received, PUBREL sent, awaiting PUBCOMP.
    Released,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub client_id: String,
    /// Strictly increasing per client id; delivery order.
    pub seq: u64,
    pub state: QueueState,
    pub message: StoredMessage,
}

impl QueuedMessage {
    /// The largest `seq` a backend must accept. Backends store sequence numbers in signed
    /// 64-bit columns (SQLite `INTEGER`, PostgreSQL `BIGINT`), so a commit carrying a larger
    /// `seq` fails as a whole instead of wrapping around and breaking delivery order.
    pub const MAX_SEQ: u64 = i64::MAX as u64;
}

/// How long a cluster keeps a retained delete's tombstone (a `PutRetained` with an empty
/// payload, stamped like a put), in ms of stamp time behind the newest: longer than any put
/// can plausibly lag behind a newer delete of its topic (a bus round, a group commit retried
/// through a short database outage), so that such a put stays deleted. The shared store
/// purges older tombstones. [VERIFY: ten minutes.]
pub const RETAINED_TOMBSTONE_HORIZON_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerOp {
    /// Inserts or replaces the retained message of its topic. In a cluster an empty payload
    /// is a delete's tombstone (see [`RETAINED_TOMBSTONE_HORIZON_MS`]): loaded back like a
    /// message, for the broker to tell it apart.
    PutRetained(StoredMessage),
    DeleteRetained {
        topic: String,
    },
    /// Inserts or replaces the session record.
    PutSession(StoredSession),
    /// Deletes the session with its subscriptions and queue.
    DeleteSession {
        client_id: String,
    },
    PutSubscription(StoredSubscription),
    DeleteSubscription {
        client_id: String,
        filter: String,
    },
    /// Inserts or replaces the queue entry (`client_id`, `seq`).
    Enqueue(QueuedMessage),
    SetQueueState {
        client_id: String,
        seq: u64,
        state: QueueState,
    },
    Dequeue {
        client_id: String,
        seq: u64,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerSnapshot {
    pub retained: Vec<StoredMessage>,
    pub sessions: Vec<StoredSession>,
    pub subscriptions: Vec<StoredSubscription>,
    /// Ordered by (client_id, seq).
    pub queued: Vec<QueuedMessage>,
}

/// One client's durable session, as [`BrokerStore::load_session`](crate::BrokerStore::load_session)
/// returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    pub session: StoredSession,
    /// The client's subscriptions, in no particular order.
    pub subscriptions: Vec<StoredSubscription>,
    /// The client's queued messages, ordered by `seq`.
    pub queued: Vec<QueuedMessage>,
}
