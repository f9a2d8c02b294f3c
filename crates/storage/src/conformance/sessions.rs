//! Cases for [`BrokerStore::load_session`]: one client's session, subscriptions and queue,
//! and nothing of any other client's; and for [`BrokerStore::load_retained`], the retained
//! messages alone.

use bytes::Bytes;

use super::{commit_ok, sample_queued, sample_retained, sample_session, sample_subscription};
use crate::{BrokerOp, BrokerStore, QueueState, SessionSnapshot, StoredSession};

async fn load_session(store: &dyn BrokerStore, client_id: &str) -> Option<SessionSnapshot> {
    match store.load_session(client_id).await {
        Ok(mut snapshot) => {
            if let Some(s) = &mut snapshot {
                // Subscriptions may come in any order; the queue's order is the contract.
                s.subscriptions.sort_by(|a, b| a.filter.cmp(&b.filter));
            }
            snapshot
        }
        Err(err) => panic!("load_session({client_id}) failed: {err}"),
    }
}

/// No session record, no session: also for a client with subscriptions or queued messages
/// but no record, and on an empty store.
pub async fn load_session_of_unknown_client_is_none(store: &dyn BrokerStore) {
    assert_eq!(load_session(store, "nobody").await, None);
    commit_ok(
        store,
        vec![
            BrokerOp::PutRetained(sample_retained("nobody", b"r")),
            BrokerOp::PutSubscription(sample_subscription("orphan", "a/#", b"\x01")),
            BrokerOp::Enqueue(sample_queued("orphan", 1)),
        ],
    )
    .await;
    assert_eq!(load_session(store, "nobody").await, None);
    assert_eq!(load_session(store, "orphan").await, None);
}

/// Exactly one client's rows: not those of a client whose id extends it (`alpha` and
/// `alphabet`) or any other; the queue in `seq` order compared numerically, with its states.
pub async fn load_session_returns_one_clients_state(store: &dyn BrokerStore) {
    let mut ops = Vec::new();
    for client in ["alph", "alpha", "alphabet", "bravo"] {
        ops.push(BrokerOp::PutSession(sample_session(client)));
        ops.push(BrokerOp::PutSubscription(sample_subscription(
            client, "b/#", b"\x02",
        )));
        ops.push(BrokerOp::PutSubscription(sample_subscription(
            client, "a/+", b"\x01",
        )));
        // Out of order, and across a digit count: 10 and 100 come after 9.
        for seq in [100, 9, 10] {
            ops.push(BrokerOp::Enqueue(sample_queued(client, seq)));
        }
    }
    ops.push(BrokerOp::SetQueueState {
        client_id: "alpha".into(),
        seq: 10,
        state: QueueState::Released,
    });
    let alpha = StoredSession {
        client_id: "alpha".into(),
        expiry_interval_secs: 120,
        disconnected_at_ms: Some(1_700_000_001_000),
        data: Bytes::from_static(b"\x00alpha\xff"),
    };
    ops.push(BrokerOp::PutSession(alpha.clone()));
    commit_ok(store, ops).await;

    let mut released = sample_queued("alpha", 10);
    released.state = QueueState::Released;
    let expected = SessionSnapshot {
        session: alpha,
        subscriptions: vec![
            sample_subscription("alpha", "a/+", b"\x01"),
            sample_subscription("alpha", "b/#", b"\x02"),
        ],
        queued: vec![
            sample_queued("alpha", 9),
            released,
            sample_queued("alpha", 100),
        ],
    };
    assert_eq!(load_session(store, "alpha").await, Some(expected));
    let bravo = load_session(store, "bravo").await.expect("bravo's session");
    assert_eq!(bravo.session, sample_session("bravo"));
    assert_eq!(bravo.subscriptions.len(), 2);
    assert_eq!(
        bravo.queued.iter().map(|q| q.seq).collect::<Vec<_>>(),
        [9, 10, 100]
    );
}

/// What later commits change, the next load sees: a dequeue, an unsubscribe, and the session's
/// deletion with everything of it.
pub async fn load_session_follows_commits(store: &dyn BrokerStore) {
    commit_ok(
        store,
        vec![
            BrokerOp::PutSession(sample_session("alpha")),
            BrokerOp::PutSubscription(sample_subscription("alpha", "a/+", b"\x01")),
            BrokerOp::PutSubscription(sample_subscription("alpha", "b/#", b"\x02")),
            BrokerOp::Enqueue(sample_queued("alpha", 1)),
            BrokerOp::Enqueue(sample_queued("alpha", 2)),
        ],
    )
    .await;
    commit_ok(
        store,
        vec![
            BrokerOp::Dequeue {
                client_id: "alpha".into(),
                seq: 1,
            },
            BrokerOp::DeleteSubscription {
                client_id: "alpha".into(),
                filter: "a/+".into(),
            },
        ],
    )
    .await;
    assert_eq!(
        load_session(store, "alpha").await,
        Some(SessionSnapshot {
            session: sample_session("alpha"),
            subscriptions: vec![sample_subscription("alpha", "b/#", b"\x02")],
            queued: vec![sample_queued("alpha", 2)],
        })
    );
    commit_ok(
        store,
        vec![BrokerOp::DeleteSession {
            client_id: "alpha".into(),
        }],
    )
    .await;
    assert_eq!(load_session(store, "alpha").await, None);
    // A new session under the same id starts empty.
    commit_ok(store, vec![BrokerOp::PutSession(sample_session("alpha"))]).await;
    assert_eq!(
        load_session(store, "alpha").await,
        Some(SessionSnapshot {
            session: sample_session("alpha"),
            subscriptions: Vec::new(),
            queued: Vec::new(),
        })
    );
}

/// The retained messages `load` would return, and nothing of any session.
pub async fn load_retained_reads_only_the_retained_messages(store: &dyn BrokerStore) {
    commit_ok(
        store,
        vec![
            BrokerOp::PutRetained(sample_retained("r/1", b"one")),
            BrokerOp::PutRetained(sample_retained("r/2", b"two")),
            BrokerOp::PutSession(sample_session("dev")),
            BrokerOp::PutSubscription(sample_subscription("dev", "a/#", b"\x01")),
            BrokerOp::Enqueue(sample_queued("dev", 1)),
        ],
    )
    .await;
    let retained = store.load_retained().await.expect("load_retained");
    let all = store.load().await.expect("load");
    assert_eq!(retained.retained, all.retained);
    assert_eq!(retained.retained.len(), 2);
    assert!(retained.sessions.is_empty() && retained.subscriptions.is_empty());
    assert!(retained.queued.is_empty());
}
