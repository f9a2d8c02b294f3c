//! A session: subscriptions, the queue of messages awaiting delivery, and the outbound
//! in-flight window. Shared between its connection (which drains it) and publishers (which
//! fill it) behind a short non-async mutex that is never held across `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferrite_mqtt_codec::{ProtocolVersion, QoS, SubscriptionOptions};
use ferrite_storage::{BrokerOp, QueueState, QueuedMessage, StoredMessage, StoredSession};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::message::Message;
use crate::persist::Writes;
use crate::records;

/// A subscription as the session remembers it (the trie holds the routing copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    pub options: SubscriptionOptions,
    pub id: Option<u32>,
}

/// One message bound for this session's client.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub msg: Arc<Message>,
    pub qos: QoS,
    pub retain: bool,
    pub sub_ids: Vec<u32>,
    /// Queue sequence number when the entry is persisted (persistent session, QoS > 0).
    pub seq: Option<u64>,
}

#[derive(Debug)]
pub struct Inflight {
    pub packet_id: u16,
    pub out: Outgoing,
    /// QoS 2: PUBREC received, waiting for PUBCOMP.
    pub released: bool,
    /// Must be sent again (after a reconnect) before anything new.
    pub resend: bool,
}

/// Why a connection is being closed from outside its own task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KickReason {
    TakenOver,
    /// The client's credentials or permissions were withdrawn (certificate revoked,
    /// policy no longer allows connecting).
    NotAuthorized,
    /// A custom authorizer's `disconnectAfterInSeconds` ran out.
    CredentialsExpired,
    /// A SigV4 WebSocket connection reached its maximum lifetime.
    WebSocketTtl,
    /// The iot-data DeleteConnection API.
    Api {
        /// Discard the session with the connection, persistent or not.
        discard_session: bool,
        publish_will: bool,
    },
}

pub struct LiveConn {
    pub id: u64,
    pub kick: CancellationToken,
    pub kick_reason: Arc<Mutex<Option<KickReason>>>,
}

pub struct SessionState {
    pub protocol: ProtocolVersion,
    pub expiry_secs: u32,
    pub conn: Option<LiveConn>,
    /// Bumped on every attach and detach so timers started for an older state do nothing.
    pub generation: u64,
    pub subscriptions: HashMap<String, Subscription>,
    pub queue: VecDeque<Outgoing>,
    pub inflight: VecDeque<Inflight>,
    pub next_packet_id: u16,
    pub next_seq: u64,
    /// Inbound QoS 2 packet ids received but not yet released by PUBREL.
    pub incoming_qos2: std::collections::HashSet<u16>,
    /// Set once the session is discarded; late publishers then drop their messages.
    pub removed: bool,
    /// Set with `removed` when the session was handed to another node of a cluster (it lives
    /// on there): a delayed will is then not published, as for a session resumed here.
    pub moved: bool,
    pub disconnected_at_ms: Option<i64>,
    /// A session record was written to the store, so discarding the session must delete it
    /// (its expiry may have become 0 since: MQTT 5 DISCONNECT, a resume, DeleteConnection).
    pub stored: bool,
    /// The session directory's number for the claim this node holds the session by (0 on
    /// one node), handed back when the session ends here.
    pub owner_epoch: u64,
}

pub struct SessionCell {
    pub uid: u64,
    pub client_id: Arc<str>,
    pub state: Mutex<SessionState>,
    /// Wakes the connection task: new messages queued.
    pub wake: Notify,
    /// Wakes publishers held back by a full queue.
    pub space: Notify,
    /// Wakes a connection waiting for the previous owner to detach.
    pub detached: Notify,
    /// Lock-free hint for shared-subscription member choice.
    pub online: AtomicBool,
    /// Its queue stayed full longer than QoS 0 publishers are held: QoS 0 messages for it are
    /// dropped at once until the queue is half empty, so one slow reader cannot slow everyone.
    pub congested: AtomicBool,
}

pub enum Enqueued {
    Queued,
    Full,
    Dropped(&'static str),
}

impl SessionCell {
    pub fn new(uid: u64, client_id: Arc<str>, protocol: ProtocolVersion, expiry: u32) -> Self {
        SessionCell {
            uid,
            client_id,
            state: Mutex::new(SessionState {
                protocol,
                expiry_secs: expiry,
                conn: None,
                generation: 0,
                subscriptions: HashMap::new(),
                queue: VecDeque::new(),
                inflight: VecDeque::new(),
                next_packet_id: 0,
                next_seq: 1,
                incoming_qos2: Default::default(),
                removed: false,
                moved: false,
                disconnected_at_ms: None,
                stored: false,
                owner_epoch: 0,
            }),
            wake: Notify::new(),
            space: Notify::new(),
            detached: Notify::new(),
            online: AtomicBool::new(false),
            congested: AtomicBool::new(false),
        }
    }

    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    /// Adds a message to the queue. Persistent sessions record QoS 1/2 entries in `ops`.
    pub fn enqueue(&self, out: Outgoing, max_queued: usize, ops: &mut Writes) -> Enqueued {
        let mut st = self.state.lock();
        if st.removed {
            return Enqueued::Dropped("session_ended");
        }
        let persistent = st.expiry_secs > 0;
        if st.conn.is_none() && (out.qos == QoS::AtMostOnce || !persistent) {
            // Offline sessions keep QoS 1/2 only, as AWS IoT does.
            return Enqueued::Dropped("offline_qos0");
        }
        if st.queue.len() >= max_queued {
            let drop_now = st.conn.is_none()
                || (out.qos == QoS::AtMostOnce && self.congested.load(Ordering::Relaxed));
            return if drop_now {
                Enqueued::Dropped("queue_full")
            } else {
                Enqueued::Full
            };
        }
        let mut out = out;
        if st.conn.is_none() {
            // Held until the client returns, possibly for hours: see `Message::detached`.
            out.msg = Arc::new(out.msg.detached());
        }
        if persistent && out.qos != QoS::AtMostOnce {
            let seq = st.next_seq;
            st.next_seq += 1;
            out.seq = Some(seq);
            ops.fence(&self.client_id, st.owner_epoch);
            ops.push(BrokerOp::Enqueue(queued_record(
                &self.client_id,
                seq,
                &out,
                false,
            )));
        }
        st.queue.push_back(out);
        drop(st);
        self.wake.notify_one();
        Enqueued::Queued
    }

    /// The claim this node holds the session by (0 on one node): what its writes are fenced
    /// with.
    pub fn owner_epoch(&self) -> u64 {
        self.state.lock().owner_epoch
    }

    pub fn session_record(&self, st: &SessionState) -> StoredSession {
        StoredSession {
            client_id: self.client_id.to_string(),
            expiry_interval_secs: st.expiry_secs,
            disconnected_at_ms: st.disconnected_at_ms,
            data: records::encode_session_data(st.protocol),
        }
    }
}

impl SessionState {
    /// The next free packet id (1..=65535) not used by an in-flight message.
    pub fn alloc_packet_id(&mut self) -> u16 {
        loop {
            self.next_packet_id = self.next_packet_id.wrapping_add(1);
            if self.next_packet_id == 0 {
                self.next_packet_id = 1;
            }
            let id = self.next_packet_id;
            if !self.inflight.iter().any(|i| i.packet_id == id) {
                return id;
            }
        }
    }
}

pub fn stored_message(m: &Message) -> StoredMessage {
    StoredMessage {
        topic: m.topic.to_string(),
        payload: m.payload.clone(),
        qos: m.qos as u8,
        retain: m.retain,
        properties: records::encode_message_properties(&m.properties),
        received_at_ms: m.received_at_ms,
        expires_at_ms: m.expires_at_ms,
    }
}

pub fn message_from_stored(s: StoredMessage) -> Result<Message, records::RecordError> {
    Ok(Message {
        topic: Arc::from(s.topic.as_str()),
        payload: s.payload,
        qos: QoS::from_u8(s.qos).unwrap_or(QoS::AtLeastOnce),
        retain: s.retain,
        properties: records::decode_message_properties(s.properties)?,
        received_at_ms: s.received_at_ms,
        expires_at_ms: s.expires_at_ms,
        origin: ferrite_types::message::unknown_origin(),
    })
}

/// The queue record keeps the delivery QoS and retain flag in the message fields.
pub fn queued_record(client_id: &str, seq: u64, out: &Outgoing, released: bool) -> QueuedMessage {
    let mut message = stored_message(&out.msg);
    message.qos = out.qos as u8;
    message.retain = out.retain;
    QueuedMessage {
        client_id: client_id.to_string(),
        seq,
        state: if released {
            QueueState::Released
        } else {
            QueueState::Pending
        },
        message,
    }
}
