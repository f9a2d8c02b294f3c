//! `BrokerStore`: retained messages, sessions, subscriptions and queues in ordered maps.

use std::ops::Bound;
use std::sync::atomic::Ordering;

use ferrite_storage::{
    BrokerOp, BrokerSnapshot, BrokerStore, QueuedMessage, SessionSnapshot, StorageError,
    StoreFuture,
};

use crate::{MemoryStore, State, ready};

impl BrokerStore for MemoryStore {
    fn commit(&self, ops: Vec<BrokerOp>) -> StoreFuture<'_, ()> {
        self.run(|state| {
            // The one op every backend refuses: checked before anything applies, so the
            // commit fails as a whole.
            if let Some(seq) = ops.iter().find_map(too_large_seq) {
                return Err(StorageError::Backend(format!(
                    "queue seq {seq} exceeds the storable maximum {}",
                    QueuedMessage::MAX_SEQ
                )));
            }
            for op in ops {
                state.apply(op);
            }
            Ok(())
        })
    }

    fn load(&self) -> StoreFuture<'_, BrokerSnapshot> {
        self.run(|state| {
            Ok(BrokerSnapshot {
                retained: state.retained.values().cloned().collect(),
                sessions: state.sessions.values().cloned().collect(),
                subscriptions: state.subscriptions.values().cloned().collect(),
                // The map's order is (client id, seq): the order the contract asks for.
                queued: state.queue.values().cloned().collect(),
            })
        })
    }

    fn load_session<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<SessionSnapshot>> {
        self.run(|state| {
            let Some(session) = state.sessions.get(client_id) else {
                return Ok(None);
            };
            Ok(Some(SessionSnapshot {
                session: session.clone(),
                subscriptions: state
                    .subscriptions
                    .range(client_range(client_id))
                    .map(|(_, s)| s.clone())
                    .collect(),
                queued: state
                    .queue
                    .range(client_range(client_id))
                    .map(|(_, q)| q.clone())
                    .collect(),
            }))
        })
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        // Nothing to flush: everything is in the shared data already. Closing twice is fine.
        self.closed.store(true, Ordering::Release);
        ready(Ok(()))
    }
}

fn too_large_seq(op: &BrokerOp) -> Option<u64> {
    let seq = match op {
        BrokerOp::Enqueue(q) => q.seq,
        BrokerOp::SetQueueState { seq, .. } | BrokerOp::Dequeue { seq, .. } => *seq,
        _ => return None,
    };
    (seq > QueuedMessage::MAX_SEQ).then_some(seq)
}

/// The bounds of [`client_range`].
type ClientRange<K> = (Bound<(String, K)>, Bound<(String, K)>);

/// The keys of one client's entries in a map keyed by (client id, K). Tuples compare the
/// client id first, and the least string above `client_id` is `client_id` followed by NUL, so
/// the range stops before any longer id (`alpha` does not reach into `alphabet`).
fn client_range<K: Least>(client_id: &str) -> ClientRange<K> {
    let mut above = client_id.to_owned();
    above.push('\0');
    (
        Bound::Included((client_id.to_owned(), K::least())),
        Bound::Excluded((above, K::least())),
    )
}

/// The least value of a key component.
trait Least {
    fn least() -> Self;
}

impl Least for String {
    fn least() -> Self {
        String::new()
    }
}

impl Least for u64 {
    fn least() -> Self {
        0
    }
}

impl State {
    fn apply(&mut self, op: BrokerOp) {
        match op {
            BrokerOp::PutRetained(m) => {
                self.retained.insert(m.topic.clone(), m);
            }
            BrokerOp::DeleteRetained { topic } => {
                self.retained.remove(&topic);
            }
            BrokerOp::PutSession(s) => {
                self.sessions.insert(s.client_id.clone(), s);
            }
            BrokerOp::DeleteSession { client_id } => {
                self.sessions.remove(&client_id);
                let subscriptions: Vec<_> = self
                    .subscriptions
                    .range(client_range::<String>(&client_id))
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in subscriptions {
                    self.subscriptions.remove(&key);
                }
                let queued: Vec<_> = self
                    .queue
                    .range(client_range::<u64>(&client_id))
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in queued {
                    self.queue.remove(&key);
                }
            }
            BrokerOp::PutSubscription(s) => {
                self.subscriptions
                    .insert((s.client_id.clone(), s.filter.clone()), s);
            }
            BrokerOp::DeleteSubscription { client_id, filter } => {
                self.subscriptions.remove(&(client_id, filter));
            }
            BrokerOp::Enqueue(q) => {
                self.queue.insert((q.client_id.clone(), q.seq), q);
            }
            BrokerOp::SetQueueState {
                client_id,
                seq,
                state,
            } => {
                if let Some(q) = self.queue.get_mut(&(client_id, seq)) {
                    q.state = state;
                }
            }
            BrokerOp::Dequeue { client_id, seq } => {
                self.queue.remove(&(client_id, seq));
            }
        }
    }
}
