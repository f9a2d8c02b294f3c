//! Session lifecycle: claim on CONNECT (in a cluster: from another node, loading it from
//! the store), attach (take-over, resume or fresh start), detach on close (will scheduling,
//! expiry timers), removal, hand-over to another node, and rebuilding sessions from the
//! store.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferrite_mqtt_codec::ProtocolVersion;
use ferrite_storage::{BrokerOp, BrokerSnapshot, QueueState, QueuedMessage, StoredSession};

use crate::BrokerInner;
use crate::message::Message;
use crate::persist::Writes;
use crate::records;
use crate::seams::{ClaimError, Claimed};
use crate::session::{
    KickReason, LiveConn, Outgoing, SessionCell, Subscription, message_from_stored,
};

/// How long a new connection waits for the one it takes over to let go of the session.
const TAKEOVER_WAIT: Duration = Duration::from_secs(5);

pub struct Attached {
    pub session: Arc<SessionCell>,
    pub present: bool,
}

/// Claims the session of `client_id` for this node through the session directory, before
/// [`attach`]. In a cluster (sessions loaded per client) a session this node does not hold
/// is then loaded from the store, after the node that held it has let go of it; a copy
/// held here while another node had the client is stale and dropped first.
pub async fn claim(inner: &Arc<BrokerInner>, client_id: &Arc<str>) -> Result<u64, ClaimError> {
    let claim = inner.seams.sessions.claim(client_id).await?;
    if inner.seams.sessions.load_all_at_start() {
        // One node: memory holds every session.
        return Ok(claim.epoch);
    }
    if claim.was == Claimed::Elsewhere && inner.sessions.lock().contains_key(client_id) {
        // A copy held here since before another node's claim is stale, connected or not (this
        // node may have missed that node's take-over request): it goes as a take-over would
        // make it go, and its writes still queued are refused by the store (their claim is
        // older than the other node's) before the session is read back.
        let_go(inner, client_id, None).await;
        inner.persister.wait(inner.persister.last_ticket()).await;
    }
    // The connection binds the session next and stamps its claim's epoch on it.
    load_stored(inner, client_id, claim.epoch).await?;
    Ok(claim.epoch)
}

/// Loads the stored session of `client_id` into this node's memory and trie unless it is held
/// here already: for a claim, and for a session this node adopts from one that is gone.
/// `epoch` is the claim this node holds it by. Returns whether it loaded one.
pub async fn load_stored(
    inner: &Arc<BrokerInner>,
    client_id: &Arc<str>,
    epoch: u64,
) -> Result<bool, ClaimError> {
    if inner.sessions.lock().contains_key(client_id) {
        return Ok(false);
    }
    let Some(snap) = inner
        .store
        .load_session(client_id)
        .await
        .map_err(|e| ClaimError(e.to_string()))?
    else {
        return Ok(false);
    };
    let now = inner.now_ms();
    let cell = stored_cell(inner, snap.session, now);
    cell.state.lock().owner_epoch = epoch;
    let mut filters = Vec::new();
    for sub in snap.subscriptions {
        if let Some(s) = restore_subscription(&cell, &sub.filter, sub.options) {
            filters.push((sub.filter, s));
        }
    }
    for q in snap.queued {
        restore_queued(&cell, q);
    }
    let expired = remaining(&cell, now).is_zero();
    {
        let mut sessions = inner.sessions.lock();
        if sessions.contains_key(client_id) {
            // Another connection of this client loaded it first.
            return Ok(false);
        }
        sessions.insert(client_id.clone(), cell.clone());
        inner.metrics.sessions.set(sessions.len() as i64);
    }
    for (filter, s) in &filters {
        inner
            .router
            .subscribe(&cell, filter, s.options, s.id, &inner.metrics);
        inner
            .seams
            .interest
            .durable(client_id, filter, s.options.qos);
    }
    if expired {
        // Expired while nobody held it (its node died): it ends now, rows and all.
        remove_session(inner, &cell);
    } else {
        inner.seams.interest.durable_loaded(client_id);
    }
    tracing::debug!(client_id = %client_id, subscriptions = filters.len(), "session loaded from the store");
    Ok(true)
}

/// Lets go of the session of `client_id` for another node that claimed it: a connection
/// here is closed as a take-over closes it (MQTT 5 DISCONNECT 0x8E, the will per the MQTT
/// rules), the session leaves this node's memory and trie without being deleted from the
/// store, and everything written for it is durable when this returns. Returns whether this
/// node held the session.
pub async fn hand_over(inner: &Arc<BrokerInner>, client_id: &str) -> bool {
    let held = let_go(inner, client_id, None).await;
    // The new holder loads the session from the store next: it must find all of it there.
    inner.persister.wait(inner.persister.last_ticket()).await;
    if held {
        inner.seams.interest.durable_moved(client_id);
    }
    held
}

/// Closes the connection of the session of `client_id` as a take-over does and drops the
/// session from memory and trie without writing anything: another node holds it. With
/// `only_epoch`, only a session held here by that very claim (one that a later claim here
/// replaced stays, and so does one claimed after the owner row was released, whose epochs
/// start again from 1). Returns whether a session went.
async fn let_go(inner: &Arc<BrokerInner>, client_id: &str, only_epoch: Option<u64>) -> bool {
    let deadline = tokio::time::Instant::now() + TAKEOVER_WAIT;
    let mut held = false;
    loop {
        let Some(cell) = inner.sessions.lock().get(client_id).cloned() else {
            break;
        };
        if only_epoch.is_some_and(|e| cell.owner_epoch() != e) {
            break;
        }
        held = true;
        let detached = cell.detached.notified();
        tokio::pin!(detached);
        detached.as_mut().enable();
        {
            let st = cell.state.lock();
            match &st.conn {
                Some(conn) => {
                    *conn.kick_reason.lock() = Some(KickReason::TakenOver);
                    conn.kick.cancel();
                }
                None => {
                    drop(st);
                    discard(inner, &cell, Discard::HandOver);
                    break;
                }
            }
        }
        if tokio::time::timeout_at(deadline, detached).await.is_err() {
            tracing::warn!(
                client_id,
                "connection did not let go of its session for another node in time"
            );
            break;
        }
    }
    held
}

/// Lets go of the sessions whose writes the store refused (`persist`'s fenced reports),
/// until the broker stops: another node claimed or adopted each since this node's claim, so
/// this node's copy is stale. Its connection is closed as a take-over closes it (MQTT 5
/// DISCONNECT 0x8E) and the session leaves memory without being written; the session
/// directory is told (the cluster counts and logs it).
pub async fn let_go_fenced(inner: Arc<BrokerInner>, mut fenced: crate::persist::FencedReceiver) {
    loop {
        let fences = tokio::select! {
            () = inner.cancel.cancelled() => return,
            f = fenced.recv() => match f { Some(f) => f, None => return },
        };
        for fence in fences {
            // A session goes once; later refused writes of its copy (the closing connection's
            // own) find it gone.
            if let_go(&inner, &fence.client_id, Some(fence.epoch)).await {
                inner.seams.interest.durable_moved(&fence.client_id);
                inner.seams.sessions.fenced(&fence.client_id, fence.epoch);
            }
        }
    }
}

/// Binds a connection to the session of `client_id`, kicking any current owner.
pub async fn attach(
    inner: &Arc<BrokerInner>,
    client_id: &Arc<str>,
    clean_start: bool,
    expiry_secs: u32,
    protocol: ProtocolVersion,
    conn: LiveConn,
    epoch: u64,
) -> Option<Attached> {
    let deadline = tokio::time::Instant::now() + TAKEOVER_WAIT;
    loop {
        let existing = inner.sessions.lock().get(client_id).cloned();
        let Some(cell) = existing else {
            let cell = Arc::new(SessionCell::new(
                inner.uid(),
                client_id.clone(),
                protocol,
                expiry_secs,
            ));
            let mut sessions = inner.sessions.lock();
            if sessions.contains_key(client_id) {
                continue;
            }
            sessions.insert(client_id.clone(), cell.clone());
            inner.metrics.sessions.set(sessions.len() as i64);
            drop(sessions);
            bind(inner, &cell, conn, expiry_secs, protocol, epoch);
            return Some(Attached {
                session: cell,
                present: false,
            });
        };
        {
            let st = cell.state.lock();
            if st.conn.is_none() {
                let removed = st.removed;
                drop(st);
                if removed {
                    continue;
                }
                if clean_start {
                    remove_session(inner, &cell);
                    continue;
                }
                bind(inner, &cell, conn, expiry_secs, protocol, epoch);
                return Some(Attached {
                    session: cell,
                    present: true,
                });
            }
        }
        let waiting = cell.clone();
        let detached = waiting.detached.notified();
        tokio::pin!(detached);
        detached.as_mut().enable();
        {
            let st = waiting.state.lock();
            match &st.conn {
                Some(owner) => {
                    *owner.kick_reason.lock() = Some(KickReason::TakenOver);
                    owner.kick.cancel();
                }
                // Detached between the two looks: go round again at once.
                None => continue,
            }
        }
        if tokio::time::timeout_at(deadline, detached).await.is_err() {
            return None;
        }
    }
}

fn bind(
    inner: &Arc<BrokerInner>,
    cell: &Arc<SessionCell>,
    conn: LiveConn,
    expiry_secs: u32,
    protocol: ProtocolVersion,
    epoch: u64,
) {
    let mut st = cell.state.lock();
    st.conn = Some(conn);
    st.owner_epoch = epoch;
    st.generation += 1;
    st.expiry_secs = expiry_secs;
    st.protocol = protocol;
    st.disconnected_at_ms = None;
    for f in st.inflight.iter_mut() {
        f.resend = true;
    }
    cell.online.store(true, Ordering::Relaxed);
    let mut ops = Vec::new();
    if expiry_secs > 0 {
        st.stored = true;
        ops.push(BrokerOp::PutSession(cell.session_record(&st)));
    }
    drop(st);
    inner
        .persister
        .submit(Writes::of_session(&cell.client_id, epoch, ops));
}

/// Closes the connection of `client_id` on this node as AWS's DeleteConnection does, through
/// the same kick a take-over or a revocation uses. Returns `false` when no connection of that
/// client id is here; otherwise returns once the connection has let go of its session (and,
/// with `discard_session`, the session is gone), or after the take-over wait.
pub async fn delete_connection(
    inner: &Arc<BrokerInner>,
    client_id: &str,
    discard_session: bool,
    publish_will: bool,
) -> bool {
    let Some(cell) = inner.sessions.lock().get(client_id).cloned() else {
        return false;
    };
    let conn_id = {
        let st = cell.state.lock();
        let Some(conn) = &st.conn else {
            return false;
        };
        // A connection already on its way out keeps the reason it was closed for.
        conn.kick_reason.lock().get_or_insert(KickReason::Api {
            discard_session,
            publish_will,
        });
        conn.kick.cancel();
        conn.id
    };
    let deadline = tokio::time::Instant::now() + TAKEOVER_WAIT;
    loop {
        let released = cell.detached.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        {
            let st = cell.state.lock();
            let gone = st.conn.as_ref().map(|c| c.id) != Some(conn_id);
            // A new connection may have resumed the session first; then it stays.
            if gone && (!discard_session || st.removed || st.conn.is_some()) {
                return true;
            }
        }
        if tokio::time::timeout_at(deadline, released).await.is_err() {
            return true;
        }
    }
}

/// A will waiting to be published when its connection ends abnormally.
pub struct PendingWill {
    pub msg: Message,
    pub delay_secs: u32,
}

/// Releases the session after its connection `conn_id` ended. `will` is published now or
/// after its delay unless the session is resumed first.
pub fn detach(
    inner: &Arc<BrokerInner>,
    cell: &Arc<SessionCell>,
    conn_id: u64,
    will: Option<PendingWill>,
) {
    let mut st = cell.state.lock();
    if st.conn.as_ref().map(|c| c.id) != Some(conn_id) {
        return;
    }
    st.conn = None;
    st.generation += 1;
    let generation = st.generation;
    let expiry = st.expiry_secs;
    cell.online.store(false, Ordering::Relaxed);
    // A clean session forgets its undelivered messages right away.
    let mut ops = Vec::new();
    if expiry > 0 {
        st.disconnected_at_ms = Some(inner.now_ms());
        st.stored = true;
        ops.push(BrokerOp::PutSession(cell.session_record(&st)));
    }
    let epoch = st.owner_epoch;
    drop(st);
    inner
        .persister
        .submit(Writes::of_session(&cell.client_id, epoch, ops));
    cell.detached.notify_waiters();
    cell.space.notify_waiters();

    if let Some(will) = will {
        let delay = will.delay_secs.min(expiry);
        if delay == 0 {
            publish_will(inner, will.msg);
        } else {
            let inner2 = inner.clone();
            let cell2 = cell.clone();
            inner.tasks.spawn(async move {
                tokio::select! {
                    _ = inner2.cancel.cancelled() => {}
                    _ = tokio::time::sleep(Duration::from_secs(u64::from(delay))) => {
                        let st = cell2.state.lock();
                        // A session handed to another node was resumed there.
                        let still_away =
                            (st.generation == generation || st.removed) && !st.moved;
                        drop(st);
                        if still_away {
                            publish_will(&inner2, will.msg);
                        }
                    }
                }
            });
        }
    }
    schedule_expiry(
        inner,
        cell,
        generation,
        Duration::from_secs(u64::from(expiry)),
    );
}

/// Publishes a will through the one publish path. Its expiry interval starts now, when it is
/// published, not when the client connected.
fn publish_will(inner: &Arc<BrokerInner>, mut msg: Message) {
    if inner.is_stopping() {
        return;
    }
    let now = inner.now_ms();
    if let Some(at) = msg.expires_at_ms {
        msg.expires_at_ms = Some(now + (at - msg.received_at_ms));
    }
    msg.received_at_ms = now;
    let inner2 = inner.clone();
    inner.tasks.spawn(async move {
        crate::dispatch::dispatch(&inner2, Arc::new(msg)).await;
    });
}

/// Removes the session once it has been disconnected for `after`, unless resumed.
fn schedule_expiry(
    inner: &Arc<BrokerInner>,
    cell: &Arc<SessionCell>,
    generation: u64,
    after: Duration,
) {
    if after.is_zero() {
        remove_session(inner, cell);
        return;
    }
    let inner2 = inner.clone();
    let cell2 = cell.clone();
    inner.tasks.spawn(async move {
        tokio::select! {
            _ = inner2.cancel.cancelled() => {}
            _ = tokio::time::sleep(after) => {
                let current = cell2.state.lock().generation == generation;
                if current {
                    remove_session(&inner2, &cell2);
                }
            }
        }
    });
}

/// Discards a session: its subscriptions leave the trie, its record leaves the store.
pub fn remove_session(inner: &Arc<BrokerInner>, cell: &Arc<SessionCell>) {
    discard(inner, cell, Discard::Delete);
}

/// How a session leaves this node.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Discard {
    /// It ends: its stored record goes too.
    Delete,
    /// Another node holds it now: it leaves memory only, and its timers do nothing.
    HandOver,
}

fn discard(inner: &Arc<BrokerInner>, cell: &Arc<SessionCell>, how: Discard) {
    let mut st = cell.state.lock();
    if st.removed {
        return;
    }
    st.removed = true;
    if how == Discard::HandOver {
        st.moved = true;
        st.generation += 1;
    }
    let filters: Vec<String> = st.subscriptions.drain().map(|(f, _)| f).collect();
    let persistent = st.stored && how == Discard::Delete;
    let epoch = st.owner_epoch;
    st.queue.clear();
    st.inflight.clear();
    drop(st);
    inner
        .router
        .unsubscribe(cell.uid, filters.iter().map(String::as_str), &inner.metrics);
    {
        let mut sessions = inner.sessions.lock();
        if sessions
            .get(&cell.client_id)
            .is_some_and(|c| c.uid == cell.uid)
        {
            sessions.remove(&cell.client_id);
        }
        inner.metrics.sessions.set(sessions.len() as i64);
    }
    let deleted = if persistent {
        inner.seams.interest.durable_ended(&cell.client_id);
        inner.persister.submit(Writes::of_session(
            &cell.client_id,
            epoch,
            vec![BrokerOp::DeleteSession {
                client_id: cell.client_id.to_string(),
            }],
        ))
    } else {
        0
    };
    if how == Discard::Delete && epoch > 0 {
        // Its owner row goes once the deletion is durable: the deletion is fenced by that
        // row, and would be refused if the row went first.
        let inner2 = inner.clone();
        let client_id = cell.client_id.clone();
        inner.tasks.spawn(async move {
            tokio::select! {
                // At shutdown the row may stay: the next claim of the client id replaces it.
                () = inner2.cancel.cancelled() => {}
                () = inner2.persister.wait(deleted) => {
                    inner2.seams.sessions.released(&client_id, epoch);
                }
            }
        });
    }
    cell.space.notify_waiters();
    cell.detached.notify_waiters();
}

/// Rebuilds retained messages and, unless `sessions_at_start` is off (a cluster), offline
/// sessions from the store at start-up.
pub fn restore(inner: &Arc<BrokerInner>, snap: BrokerSnapshot, sessions_at_start: bool) {
    let now = inner.now_ms();
    {
        let mut tree = inner.router.retained.write();
        let mut tombstones = inner.router.tombstones.lock();
        for stored in snap.retained {
            match message_from_stored(stored) {
                // A cluster's delete, kept for a while so that older puts stay deleted.
                Ok(m) if m.payload.is_empty() => {
                    tombstones.record(&m.topic, m.received_at_ms, m.origin.node.clone());
                }
                Ok(m) if !m.is_expired(now) => {
                    let topic = m.topic.clone();
                    tree.insert(&topic, Arc::new(m));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "skipping corrupt retained message"),
            }
        }
        inner.metrics.retained_messages.set(tree.len() as i64);
    }
    if !sessions_at_start {
        // A cluster node loads each session when its client connects (`claim`).
        return;
    }
    let mut cells: HashMap<String, Arc<SessionCell>> = HashMap::new();
    for s in snap.sessions {
        let cell = stored_cell(inner, s, now);
        cells.insert(cell.client_id.to_string(), cell);
    }
    for sub in snap.subscriptions {
        let Some(cell) = cells.get(&sub.client_id) else {
            continue;
        };
        if let Some(s) = restore_subscription(cell, &sub.filter, sub.options) {
            inner
                .router
                .subscribe(cell, &sub.filter, s.options, s.id, &inner.metrics);
        }
    }
    for q in snap.queued {
        let Some(cell) = cells.get(&q.client_id) else {
            continue;
        };
        restore_queued(cell, q);
    }
    let mut sessions = inner.sessions.lock();
    for (_, cell) in cells {
        let generation = cell.state.lock().generation;
        let remaining = remaining(&cell, now);
        sessions.insert(cell.client_id.clone(), cell.clone());
        schedule_expiry(
            inner,
            &cell,
            generation,
            remaining.max(Duration::from_millis(1)),
        );
    }
    inner.metrics.sessions.set(sessions.len() as i64);
}

/// A stored session as a cell, disconnected (one that was connected when its node died
/// counts as disconnected since `now`), with no subscriptions or queue yet.
fn stored_cell(inner: &Arc<BrokerInner>, s: StoredSession, now: i64) -> Arc<SessionCell> {
    let client_id: Arc<str> = Arc::from(s.client_id.as_str());
    let protocol = records::decode_session_data(&s.data);
    let cell = Arc::new(SessionCell::new(
        inner.uid(),
        client_id,
        protocol,
        s.expiry_interval_secs,
    ));
    {
        let mut st = cell.state.lock();
        st.disconnected_at_ms = Some(s.disconnected_at_ms.unwrap_or(now));
        st.stored = true;
    }
    cell
}

/// Adds a stored subscription to the session's own table; the caller puts it in the trie.
fn restore_subscription(
    cell: &SessionCell,
    filter: &str,
    options: bytes::Bytes,
) -> Option<Subscription> {
    match records::decode_subscription(options) {
        Ok((options, id)) => {
            let s = Subscription { options, id };
            cell.state.lock().subscriptions.insert(filter.to_owned(), s);
            Some(s)
        }
        Err(e) => {
            tracing::warn!(error = %e, "skipping corrupt subscription");
            None
        }
    }
}

/// Adds a stored queue entry to the session, in the in-flight window when QoS 2 had
/// reached PUBREL.
fn restore_queued(cell: &SessionCell, q: QueuedMessage) {
    let qos = ferrite_mqtt_codec::QoS::from_u8(q.message.qos)
        .unwrap_or(ferrite_mqtt_codec::QoS::AtLeastOnce);
    let retain = q.message.retain;
    let Ok(msg) = message_from_stored(q.message) else {
        tracing::warn!("skipping corrupt queued message");
        return;
    };
    let mut st = cell.state.lock();
    st.next_seq = st.next_seq.max(q.seq + 1);
    let out = Outgoing {
        msg: Arc::new(msg),
        qos,
        retain,
        sub_ids: Vec::new(),
        seq: Some(q.seq),
    };
    if q.state == QueueState::Released {
        let packet_id = st.alloc_packet_id();
        st.inflight.push_back(crate::session::Inflight {
            packet_id,
            out,
            released: true,
            resend: true,
        });
    } else {
        st.queue.push_back(out);
    }
}

/// How long a disconnected session has left before it expires, as of `now`.
fn remaining(cell: &SessionCell, now: i64) -> Duration {
    let st = cell.state.lock();
    let gone_ms = now - st.disconnected_at_ms.unwrap_or(now);
    let left = i64::from(st.expiry_secs) * 1000 - gone_ms.max(0);
    Duration::from_millis(left.max(0) as u64)
}
