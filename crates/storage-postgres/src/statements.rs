//! The SQL a [`Plan`] turns into: per table and kind of change, one statement whose rows
//! come in as arrays (`UNNEST`), so its cost in round trips does not grow with the group.
//!
//! Order matters only within a table: the clears of `DeleteSession` run before that table's
//! per-key deletes, updates and upserts (see `plan.rs` for why that is exact).

use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;

use crate::plan::{Plan, QueueAction, state_to_sql};

/// A statement with the context its error is reported under.
pub(crate) type Statement<'q> = (&'static str, Query<'q, Postgres, PgArguments>);

const DELETE_RETAINED: &str = "DELETE FROM broker_retained WHERE topic = ANY($1::text[])";
/// A row is replaced only by a write whose stamp `(received_at_ms, stamp_node)` is not older:
/// in a cluster another node may have stored a newer message on the topic meanwhile, and
/// every node's retained store keeps the newest by the same order (a node's own writes are
/// stamped increasing, so they replace each other in order).
const UPSERT_RETAINED: &str = "\
INSERT INTO broker_retained
    (topic, payload, qos, retain, properties, received_at_ms, expires_at_ms, stamp_node)
SELECT u.*, $8::text FROM UNNEST($1::text[], $2::bytea[], $3::int2[], $4::bool[],
                                 $5::bytea[], $6::int8[], $7::int8[]) AS u
ON CONFLICT (topic) DO UPDATE SET
    payload = EXCLUDED.payload, qos = EXCLUDED.qos, retain = EXCLUDED.retain,
    properties = EXCLUDED.properties, received_at_ms = EXCLUDED.received_at_ms,
    expires_at_ms = EXCLUDED.expires_at_ms, stamp_node = EXCLUDED.stamp_node
WHERE (EXCLUDED.received_at_ms, EXCLUDED.stamp_node)
   >= (broker_retained.received_at_ms, broker_retained.stamp_node)";

const DELETE_SESSIONS: &str = "DELETE FROM broker_sessions WHERE client_id = ANY($1::text[])";
const UPSERT_SESSIONS: &str = "\
INSERT INTO broker_sessions (client_id, expiry_interval_secs, disconnected_at_ms, data)
SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::bytea[])
ON CONFLICT (client_id) DO UPDATE SET
    expiry_interval_secs = EXCLUDED.expiry_interval_secs,
    disconnected_at_ms = EXCLUDED.disconnected_at_ms, data = EXCLUDED.data";

const CLEAR_SUBSCRIPTIONS: &str =
    "DELETE FROM broker_subscriptions WHERE client_id = ANY($1::text[])";
const DELETE_SUBSCRIPTIONS: &str = "\
DELETE FROM broker_subscriptions AS s
USING UNNEST($1::text[], $2::text[]) AS d (client_id, filter)
WHERE s.client_id = d.client_id AND s.filter = d.filter";
const UPSERT_SUBSCRIPTIONS: &str = "\
INSERT INTO broker_subscriptions (client_id, filter, options)
SELECT * FROM UNNEST($1::text[], $2::text[], $3::bytea[])
ON CONFLICT (client_id, filter) DO UPDATE SET options = EXCLUDED.options";

const CLEAR_QUEUE: &str = "DELETE FROM broker_queue WHERE client_id = ANY($1::text[])";
/// A discarded session's inbox goes with its queue (migration 0008): a later session of the
/// same client id must not receive what was meant for this one.
const CLEAR_INBOX: &str = "DELETE FROM broker_inbox WHERE client_id = ANY($1::text[])";
const DELETE_QUEUE: &str = "\
DELETE FROM broker_queue AS q
USING UNNEST($1::text[], $2::int8[]) AS d (client_id, seq)
WHERE q.client_id = d.client_id AND q.seq = d.seq";
const UPDATE_QUEUE_STATE: &str = "\
UPDATE broker_queue AS q SET state = u.state
FROM UNNEST($1::text[], $2::int8[], $3::int2[]) AS u (client_id, seq, state)
WHERE q.client_id = u.client_id AND q.seq = u.seq";
const UPSERT_QUEUE: &str = "\
INSERT INTO broker_queue
    (client_id, seq, state, topic, payload, qos, retain, properties, received_at_ms,
     expires_at_ms)
SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int2[], $4::text[], $5::bytea[],
                     $6::int2[], $7::bool[], $8::bytea[], $9::int8[], $10::int8[])
ON CONFLICT (client_id, seq) DO UPDATE SET
    state = EXCLUDED.state, topic = EXCLUDED.topic, payload = EXCLUDED.payload,
    qos = EXCLUDED.qos, retain = EXCLUDED.retain, properties = EXCLUDED.properties,
    received_at_ms = EXCLUDED.received_at_ms, expires_at_ms = EXCLUDED.expires_at_ms";

/// The statements that apply `plan`, skipping those with no rows; retained messages are
/// stamped with `node` (see [`UPSERT_RETAINED`]).
pub(crate) fn statements<'q>(plan: &Plan<'q>, node: &'q str) -> Vec<Statement<'q>> {
    let mut out = Vec::new();
    retained(plan, node, &mut out);
    sessions(plan, &mut out);
    subscriptions(plan, &mut out);
    queue(plan, &mut out);
    out
}

fn retained<'q>(plan: &Plan<'q>, node: &'q str, out: &mut Vec<Statement<'q>>) {
    let mut deleted: Vec<&'q str> = Vec::new();
    let mut topic: Vec<&'q str> = Vec::new();
    let mut payload: Vec<&'q [u8]> = Vec::new();
    let mut qos: Vec<i16> = Vec::new();
    let mut retain: Vec<bool> = Vec::new();
    let mut properties: Vec<&'q [u8]> = Vec::new();
    let mut received: Vec<i64> = Vec::new();
    let mut expires: Vec<Option<i64>> = Vec::new();
    for (&key, action) in &plan.retained {
        match action {
            None => deleted.push(key),
            Some(m) => {
                topic.push(key);
                payload.push(&m.payload);
                qos.push(i16::from(m.qos));
                retain.push(m.retain);
                properties.push(&m.properties);
                received.push(m.received_at_ms);
                expires.push(m.expires_at_ms);
            }
        }
    }
    if !deleted.is_empty() {
        out.push((
            "commit: delete retained",
            sqlx::query(DELETE_RETAINED).bind(deleted),
        ));
    }
    if !topic.is_empty() {
        out.push((
            "commit: upsert retained",
            sqlx::query(UPSERT_RETAINED)
                .bind(topic)
                .bind(payload)
                .bind(qos)
                .bind(retain)
                .bind(properties)
                .bind(received)
                .bind(expires)
                .bind(node),
        ));
    }
}

fn sessions<'q>(plan: &Plan<'q>, out: &mut Vec<Statement<'q>>) {
    let mut deleted: Vec<&'q str> = Vec::new();
    let mut client: Vec<&'q str> = Vec::new();
    let mut expiry: Vec<i64> = Vec::new();
    let mut disconnected: Vec<Option<i64>> = Vec::new();
    let mut data: Vec<&'q [u8]> = Vec::new();
    for (&key, action) in &plan.sessions {
        match action {
            None => deleted.push(key),
            Some(s) => {
                client.push(key);
                expiry.push(i64::from(s.expiry_interval_secs));
                disconnected.push(s.disconnected_at_ms);
                data.push(&s.data);
            }
        }
    }
    if !deleted.is_empty() {
        out.push((
            "commit: delete sessions",
            sqlx::query(DELETE_SESSIONS).bind(deleted),
        ));
    }
    if !client.is_empty() {
        out.push((
            "commit: upsert sessions",
            sqlx::query(UPSERT_SESSIONS)
                .bind(client)
                .bind(expiry)
                .bind(disconnected)
                .bind(data),
        ));
    }
}

fn subscriptions<'q>(plan: &Plan<'q>, out: &mut Vec<Statement<'q>>) {
    let mut cleared: Vec<&'q str> = Vec::new();
    let (mut del_client, mut del_filter): (Vec<&'q str>, Vec<&'q str>) = Default::default();
    let (mut client, mut filter): (Vec<&'q str>, Vec<&'q str>) = Default::default();
    let mut options: Vec<&'q [u8]> = Vec::new();
    for (&key, rows) in &plan.subscriptions {
        if rows.cleared {
            cleared.push(key);
        }
        for (&f, action) in &rows.rows {
            match action {
                None => {
                    del_client.push(key);
                    del_filter.push(f);
                }
                Some(o) => {
                    client.push(key);
                    filter.push(f);
                    options.push(o);
                }
            }
        }
    }
    if !cleared.is_empty() {
        out.push((
            "commit: delete session subscriptions",
            sqlx::query(CLEAR_SUBSCRIPTIONS).bind(cleared),
        ));
    }
    if !del_client.is_empty() {
        out.push((
            "commit: delete subscriptions",
            sqlx::query(DELETE_SUBSCRIPTIONS)
                .bind(del_client)
                .bind(del_filter),
        ));
    }
    if !client.is_empty() {
        out.push((
            "commit: upsert subscriptions",
            sqlx::query(UPSERT_SUBSCRIPTIONS)
                .bind(client)
                .bind(filter)
                .bind(options),
        ));
    }
}

fn queue<'q>(plan: &Plan<'q>, out: &mut Vec<Statement<'q>>) {
    let mut cleared: Vec<&'q str> = Vec::new();
    let (mut del_client, mut del_seq): (Vec<&'q str>, Vec<i64>) = Default::default();
    let (mut upd_client, mut upd_seq, mut upd_state): (Vec<&'q str>, Vec<i64>, Vec<i16>) =
        Default::default();
    let mut client: Vec<&'q str> = Vec::new();
    let mut seq: Vec<i64> = Vec::new();
    let mut state: Vec<i16> = Vec::new();
    let mut topic: Vec<&'q str> = Vec::new();
    let mut payload: Vec<&'q [u8]> = Vec::new();
    let mut qos: Vec<i16> = Vec::new();
    let mut retain: Vec<bool> = Vec::new();
    let mut properties: Vec<&'q [u8]> = Vec::new();
    let mut received: Vec<i64> = Vec::new();
    let mut expires: Vec<Option<i64>> = Vec::new();
    for (&key, rows) in &plan.queue {
        if rows.cleared {
            cleared.push(key);
        }
        for (&s, action) in &rows.rows {
            match action {
                QueueAction::Delete => {
                    del_client.push(key);
                    del_seq.push(s);
                }
                QueueAction::SetState(st) => {
                    upd_client.push(key);
                    upd_seq.push(s);
                    upd_state.push(state_to_sql(*st));
                }
                QueueAction::Put { state: st, message } => {
                    client.push(key);
                    seq.push(s);
                    state.push(state_to_sql(*st));
                    topic.push(&message.topic);
                    payload.push(&message.payload);
                    qos.push(i16::from(message.qos));
                    retain.push(message.retain);
                    properties.push(&message.properties);
                    received.push(message.received_at_ms);
                    expires.push(message.expires_at_ms);
                }
            }
        }
    }
    if !cleared.is_empty() {
        out.push((
            "commit: delete session queue",
            sqlx::query(CLEAR_QUEUE).bind(cleared.clone()),
        ));
        out.push((
            "commit: delete session inbox",
            sqlx::query(CLEAR_INBOX).bind(cleared),
        ));
    }
    if !del_client.is_empty() {
        out.push((
            "commit: dequeue",
            sqlx::query(DELETE_QUEUE).bind(del_client).bind(del_seq),
        ));
    }
    if !upd_client.is_empty() {
        out.push((
            "commit: set queue state",
            sqlx::query(UPDATE_QUEUE_STATE)
                .bind(upd_client)
                .bind(upd_seq)
                .bind(upd_state),
        ));
    }
    if !client.is_empty() {
        out.push((
            "commit: enqueue",
            sqlx::query(UPSERT_QUEUE)
                .bind(client)
                .bind(seq)
                .bind(state)
                .bind(topic)
                .bind(payload)
                .bind(qos)
                .bind(retain)
                .bind(properties)
                .bind(received)
                .bind(expires),
        ));
    }
}
