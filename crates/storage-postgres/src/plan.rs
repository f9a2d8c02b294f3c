//! Reduction of an ordered list of `BrokerOp`s to its net effect, so that a whole group of
//! commits costs a handful of set-based statements instead of one round trip per op.
//!
//! The four tables share no constraints, so ops on different tables commute, and
//! `DeleteSession` is three independent ops (the session row, the client's subscriptions,
//! the client's queue). Within one table every op either replaces a whole row, deletes one,
//! updates one column of an existing row, or (for the session cascade) deletes every row of a
//! client. Folding the ops in order per key therefore leaves, per key, one final action, plus
//! the set of clients whose rows were cleared before those actions. Applying clears first,
//! then the per-key actions (which touch distinct keys, so their order is free) gives exactly
//! the state that applying the ops one by one would.
//!
//! Keys are kept sorted so that every transaction touches rows in the same order, which
//! keeps concurrent writers (other nodes) from deadlocking on each other.

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use ferrite_storage::{
    BrokerOp, QueueState, QueuedMessage, StoredMessage, StoredSession, StoredSubscription,
};

use crate::error::PgStoreError;

/// The net effect of the ops added so far. Borrows the ops: it lives only while a group is
/// being written.
#[derive(Debug, Default)]
pub(crate) struct Plan<'a> {
    /// `None`: delete the row.
    pub retained: BTreeMap<&'a str, Option<&'a StoredMessage>>,
    pub sessions: BTreeMap<&'a str, Option<&'a StoredSession>>,
    pub subscriptions: BTreeMap<&'a str, ClientRows<&'a str, Option<&'a Bytes>>>,
    pub queue: BTreeMap<&'a str, ClientRows<i64, QueueAction<'a>>>,
}

/// One client's pending actions on a table keyed by (client_id, K).
#[derive(Debug)]
pub(crate) struct ClientRows<K, A> {
    /// Every stored row of the client is deleted before `rows` apply.
    pub cleared: bool,
    pub rows: BTreeMap<K, A>,
}

impl<K, A> Default for ClientRows<K, A> {
    fn default() -> Self {
        Self {
            cleared: false,
            rows: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueAction<'a> {
    /// Insert or replace the whole row.
    Put {
        state: QueueState,
        message: &'a StoredMessage,
    },
    /// Update the state of the row if it exists.
    SetState(QueueState),
    Delete,
}

/// The queue `seq` as stored: PostgreSQL `BIGINT` is signed, and a wrapped value would reorder
/// delivery.
pub(crate) fn seq_to_sql(seq: u64) -> Result<i64, PgStoreError> {
    if seq > QueuedMessage::MAX_SEQ {
        return Err(PgStoreError::SeqOutOfRange(seq));
    }
    i64::try_from(seq).map_err(|_| PgStoreError::SeqOutOfRange(seq))
}

pub(crate) fn state_to_sql(state: QueueState) -> i16 {
    match state {
        QueueState::Pending => 0,
        QueueState::Released => 1,
    }
}

fn text(field: &'static str, value: &str) -> Result<(), PgStoreError> {
    if value.contains('\0') {
        return Err(PgStoreError::NulInText { field });
    }
    Ok(())
}

/// Checks what PostgreSQL would reject in a way we can predict, before the ops join a group:
/// a request that fails here fails alone and costs the group nothing.
pub(crate) fn validate(ops: &[BrokerOp]) -> Result<(), PgStoreError> {
    for op in ops {
        match op {
            BrokerOp::PutRetained(m) => text("retained topic", &m.topic)?,
            BrokerOp::DeleteRetained { topic } => text("retained topic", topic)?,
            BrokerOp::PutSession(StoredSession { client_id, .. })
            | BrokerOp::DeleteSession { client_id } => text("client id", client_id)?,
            BrokerOp::PutSubscription(StoredSubscription {
                client_id, filter, ..
            })
            | BrokerOp::DeleteSubscription { client_id, filter } => {
                text("client id", client_id)?;
                text("subscription filter", filter)?;
            }
            BrokerOp::Enqueue(q) => {
                seq_to_sql(q.seq)?;
                text("client id", &q.client_id)?;
                text("queued topic", &q.message.topic)?;
            }
            BrokerOp::SetQueueState { client_id, seq, .. }
            | BrokerOp::Dequeue { client_id, seq } => {
                seq_to_sql(*seq)?;
                text("client id", client_id)?;
            }
        }
    }
    Ok(())
}

/// The client id whose session `op` writes; `None` for retained messages.
pub(crate) fn session_of(op: &BrokerOp) -> Option<&str> {
    match op {
        BrokerOp::PutRetained(_) | BrokerOp::DeleteRetained { .. } => None,
        BrokerOp::PutSession(StoredSession { client_id, .. })
        | BrokerOp::DeleteSession { client_id }
        | BrokerOp::PutSubscription(StoredSubscription { client_id, .. })
        | BrokerOp::DeleteSubscription { client_id, .. }
        | BrokerOp::Enqueue(QueuedMessage { client_id, .. })
        | BrokerOp::SetQueueState { client_id, .. }
        | BrokerOp::Dequeue { client_id, .. } => Some(client_id),
    }
}

impl<'a> Plan<'a> {
    /// Folds `ops` (already [`validate`]d) into the plan, after everything added before.
    pub fn add(&mut self, ops: &'a [BrokerOp]) -> Result<(), PgStoreError> {
        self.add_except(ops, &HashSet::new())
    }

    /// [`Plan::add`] without the ops of the sessions of `skip` (their writes were fenced).
    pub fn add_except(
        &mut self,
        ops: &'a [BrokerOp],
        skip: &HashSet<&str>,
    ) -> Result<(), PgStoreError> {
        for op in ops {
            if !skip.is_empty() && session_of(op).is_some_and(|c| skip.contains(c)) {
                continue;
            }
            match op {
                BrokerOp::PutRetained(m) => {
                    self.retained.insert(&m.topic, Some(m));
                }
                BrokerOp::DeleteRetained { topic } => {
                    self.retained.insert(topic, None);
                }
                BrokerOp::PutSession(s) => {
                    self.sessions.insert(&s.client_id, Some(s));
                }
                BrokerOp::DeleteSession { client_id } => {
                    self.sessions.insert(client_id, None);
                    let subs = self.subscriptions.entry(client_id).or_default();
                    subs.cleared = true;
                    subs.rows.clear();
                    let queue = self.queue.entry(client_id).or_default();
                    queue.cleared = true;
                    queue.rows.clear();
                }
                BrokerOp::PutSubscription(s) => {
                    self.subscriptions
                        .entry(&s.client_id)
                        .or_default()
                        .rows
                        .insert(&s.filter, Some(&s.options));
                }
                BrokerOp::DeleteSubscription { client_id, filter } => {
                    self.subscriptions
                        .entry(client_id)
                        .or_default()
                        .rows
                        .insert(filter, None);
                }
                BrokerOp::Enqueue(q) => {
                    self.queue.entry(&q.client_id).or_default().rows.insert(
                        seq_to_sql(q.seq)?,
                        QueueAction::Put {
                            state: q.state,
                            message: &q.message,
                        },
                    );
                }
                BrokerOp::SetQueueState {
                    client_id,
                    seq,
                    state,
                } => {
                    let client = self.queue.entry(client_id).or_default();
                    let seq = seq_to_sql(*seq)?;
                    match client.rows.get_mut(&seq) {
                        Some(QueueAction::Put { state: s, .. } | QueueAction::SetState(s)) => {
                            *s = *state;
                        }
                        Some(QueueAction::Delete) => {}
                        // Cleared earlier in this plan: the row is known to be gone.
                        None if client.cleared => {}
                        None => {
                            client.rows.insert(seq, QueueAction::SetState(*state));
                        }
                    }
                }
                BrokerOp::Dequeue { client_id, seq } => {
                    self.queue
                        .entry(client_id)
                        .or_default()
                        .rows
                        .insert(seq_to_sql(*seq)?, QueueAction::Delete);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The reduction is checked against the definition: a model that applies ops one by one
    //! must end in the same state as the model that applies the plan.

    use std::collections::BTreeMap;

    use ferrite_storage::conformance::{
        sample_queued, sample_retained, sample_session, sample_subscription,
    };
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Default, PartialEq)]
    struct Model {
        retained: BTreeMap<String, StoredMessage>,
        sessions: BTreeMap<String, StoredSession>,
        subscriptions: BTreeMap<(String, String), Bytes>,
        queue: BTreeMap<(String, i64), (QueueState, StoredMessage)>,
    }

    impl Model {
        fn apply_op(&mut self, op: &BrokerOp) {
            match op {
                BrokerOp::PutRetained(m) => {
                    self.retained.insert(m.topic.clone(), m.clone());
                }
                BrokerOp::DeleteRetained { topic } => {
                    self.retained.remove(topic);
                }
                BrokerOp::PutSession(s) => {
                    self.sessions.insert(s.client_id.clone(), s.clone());
                }
                BrokerOp::DeleteSession { client_id } => {
                    self.sessions.remove(client_id);
                    self.subscriptions.retain(|(c, _), _| c != client_id);
                    self.queue.retain(|(c, _), _| c != client_id);
                }
                BrokerOp::PutSubscription(s) => {
                    self.subscriptions
                        .insert((s.client_id.clone(), s.filter.clone()), s.options.clone());
                }
                BrokerOp::DeleteSubscription { client_id, filter } => {
                    self.subscriptions
                        .remove(&(client_id.clone(), filter.clone()));
                }
                BrokerOp::Enqueue(q) => {
                    self.queue.insert(
                        (q.client_id.clone(), q.seq as i64),
                        (q.state, q.message.clone()),
                    );
                }
                BrokerOp::SetQueueState {
                    client_id,
                    seq,
                    state,
                } => {
                    if let Some(row) = self.queue.get_mut(&(client_id.clone(), *seq as i64)) {
                        row.0 = *state;
                    }
                }
                BrokerOp::Dequeue { client_id, seq } => {
                    self.queue.remove(&(client_id.clone(), *seq as i64));
                }
            }
        }

        /// In the order the writer runs the statements.
        fn apply_plan(&mut self, plan: &Plan<'_>) {
            for (topic, action) in &plan.retained {
                match action {
                    Some(m) => self.retained.insert(topic.to_string(), (*m).clone()),
                    None => self.retained.remove(*topic),
                };
            }
            for (client, action) in &plan.sessions {
                match action {
                    Some(s) => self.sessions.insert(client.to_string(), (*s).clone()),
                    None => self.sessions.remove(*client),
                };
            }
            for (client, subs) in &plan.subscriptions {
                if subs.cleared {
                    self.subscriptions.retain(|(c, _), _| c != client);
                }
                for (filter, action) in &subs.rows {
                    let key = (client.to_string(), filter.to_string());
                    match action {
                        Some(options) => self.subscriptions.insert(key, (*options).clone()),
                        None => self.subscriptions.remove(&key),
                    };
                }
            }
            for (client, queue) in &plan.queue {
                if queue.cleared {
                    self.queue.retain(|(c, _), _| c != client);
                }
                for (seq, action) in &queue.rows {
                    let key = (client.to_string(), *seq);
                    match action {
                        QueueAction::Put { state, message } => {
                            self.queue.insert(key, (*state, (*message).clone()));
                        }
                        QueueAction::SetState(state) => {
                            if let Some(row) = self.queue.get_mut(&key) {
                                row.0 = *state;
                            }
                        }
                        QueueAction::Delete => {
                            self.queue.remove(&key);
                        }
                    }
                }
            }
        }
    }

    /// Few keys, so that ops collide on them often.
    fn op() -> impl Strategy<Value = BrokerOp> {
        let client = prop::sample::select(vec!["alpha", "bravo"]);
        let key = prop::sample::select(vec!["a", "b", "c"]);
        let seq = 0u64..4;
        let state = prop::bool::ANY.prop_map(|r| {
            if r {
                QueueState::Released
            } else {
                QueueState::Pending
            }
        });
        let payload = prop::sample::select(vec![&b"1"[..], b"2", b"3"]);
        prop_oneof![
            (key.clone(), payload.clone())
                .prop_map(|(k, p)| BrokerOp::PutRetained(sample_retained(k, p))),
            key.clone()
                .prop_map(|k| BrokerOp::DeleteRetained { topic: k.into() }),
            (client.clone(), payload.clone()).prop_map(|(c, p)| BrokerOp::PutSession(
                StoredSession {
                    data: Bytes::copy_from_slice(p),
                    ..sample_session(c)
                }
            )),
            client.clone().prop_map(|c| BrokerOp::DeleteSession {
                client_id: c.into()
            }),
            (client.clone(), key.clone(), payload.clone())
                .prop_map(|(c, k, p)| BrokerOp::PutSubscription(sample_subscription(c, k, p))),
            (client.clone(), key).prop_map(|(c, k)| BrokerOp::DeleteSubscription {
                client_id: c.into(),
                filter: k.into(),
            }),
            (client.clone(), seq.clone(), state.clone(), payload).prop_map(|(c, s, st, p)| {
                let mut q = sample_queued(c, s);
                q.state = st;
                q.message.payload = Bytes::copy_from_slice(p);
                BrokerOp::Enqueue(q)
            }),
            (client.clone(), seq.clone(), state).prop_map(|(c, s, st)| {
                BrokerOp::SetQueueState {
                    client_id: c.into(),
                    seq: s,
                    state: st,
                }
            }),
            (client, seq).prop_map(|(c, s)| BrokerOp::Dequeue {
                client_id: c.into(),
                seq: s
            }),
        ]
    }

    fn start_state() -> impl Strategy<Value = Vec<BrokerOp>> {
        prop::collection::vec(op(), 0..30)
    }

    proptest! {
        #[test]
        fn plan_has_the_effect_of_the_ops_in_order(
            start in start_state(),
            groups in prop::collection::vec(prop::collection::vec(op(), 0..12), 1..5),
        ) {
            let mut sequential = Model::default();
            for op in &start {
                sequential.apply_op(op);
            }
            let mut planned = Model::default();
            for op in &start {
                planned.apply_op(op);
            }

            let mut plan = Plan::default();
            for ops in &groups {
                for op in ops {
                    sequential.apply_op(op);
                }
                plan.add(ops).unwrap();
            }
            planned.apply_plan(&plan);
            prop_assert_eq!(sequential, planned);
        }
    }

    #[test]
    fn validation_rejects_what_postgres_cannot_store() {
        let too_big = QueuedMessage::MAX_SEQ + 1;
        assert!(matches!(
            validate(&[BrokerOp::Dequeue {
                client_id: "a".into(),
                seq: too_big
            }]),
            Err(PgStoreError::SeqOutOfRange(s)) if s == too_big
        ));
        assert!(matches!(
            validate(&[BrokerOp::PutRetained(sample_retained("a\0b", b""))]),
            Err(PgStoreError::NulInText { .. })
        ));
        assert!(
            validate(&[BrokerOp::Enqueue(sample_queued(
                "a",
                QueuedMessage::MAX_SEQ
            ))])
            .is_ok()
        );
    }
}
