//! The conformance suite every `BrokerStore` backend must pass.
//!
//! Shaped like quickwit's metastore test suite: each case is a `pub async fn` here, and
//! [`broker_store_conformance!`](crate::broker_store_conformance) expands to one
//! `#[tokio::test]` per case in the backend's own test file:
//!
//! ```ignore
//! // crates/storage-xyz/tests/conformance.rs (needs `tokio` as a dev-dependency)
//! ferrite_storage::broker_store_conformance!(|| async { MyLocation::new_empty().await });
//! ```
//!
//! The factory is called once per test and must return a fresh, empty [`StoreLocation`]:
//! something that can open the backend, and open it again (after a close or drop) onto the
//! same data, for the persistence cases. A backend whose tests need an external server (a
//! database URL from the environment) uses the `optional:` form, whose factory returns
//! `Option<L>`: `None` skips the test (the factory says why, loudly), and the location's
//! [`StoreLocation::teardown`] removes what the test created, even when the case panicked:
//!
//! ```ignore
//! ferrite_storage::broker_store_conformance!(optional: || async { MyLocation::from_env().await });
//! ```
//!
//! Contract points the suite pins down beyond the trait docs:
//! * Deleting or updating a key that does not exist is a no-op, not an error.
//! * `load` returns `queued` ordered by `(client_id, seq)` with `seq` compared numerically,
//!   and `load_session` its `queued` by `seq`; the other lists may come in any order (the
//!   suite sorts them). `load_session` finds nothing without a session record, whatever
//!   subscriptions or queued messages exist under the client id. Client ids in the suite are
//!   plain lowercase ASCII so that database collations cannot disagree with byte order.
//! * A commit fails as a whole: a queue `seq` above [`QueuedMessage::MAX_SEQ`] is the one op
//!   every backend must reject, which is how the suite builds a failing batch.
//! * A failing commit fails only its own caller: a backend that merges concurrent commits
//!   (group commit) must not fail or roll back the commits merged with it.
//! * Commits after `close` fail with [`StorageError::Closed`].
//!
//! The case functions panic (assert) on a violation: they are test code.

// Test-suite code (feature `conformance`): it spawns cases to catch their panics.
#![allow(clippy::disallowed_methods)]

mod sessions;

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use crate::{
    BrokerOp, BrokerSnapshot, BrokerStore, QueueState, QueuedMessage, SessionFence, StorageError,
    StoreFuture, StoredMessage, StoredSession, StoredSubscription,
};

pub use sessions::*;

/// A place a backend keeps its data (a directory, a database schema) that can be opened
/// repeatedly. Each `open` after the previous store was closed or dropped must see the data
/// that store committed.
pub trait StoreLocation: Send + Sync {
    fn open(&self) -> StoreFuture<'_, Arc<dyn BrokerStore>>;

    /// Removes the location's data once the test is over, pass or fail. For locations that
    /// an async call must clean up (a database schema); `Drop` covers the rest (a temp dir).
    fn teardown(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// A closure returning the opening future is a location, for backends that need no state.
impl<F> StoreLocation for F
where
    F: Fn() -> StoreFuture<'static, Arc<dyn BrokerStore>> + Send + Sync,
{
    fn open(&self) -> StoreFuture<'_, Arc<dyn BrokerStore>> {
        self()
    }
}

/// Generates one `#[tokio::test]` per conformance case. `$factory` is an expression callable
/// with no arguments that returns a future of a fresh, empty [`StoreLocation`]; with
/// `optional:` before it, a future of `Option` of one, `None` meaning "skip". The invoking
/// crate needs `tokio` (with `macros` and `rt-multi-thread`) as a dev-dependency.
#[macro_export]
macro_rules! broker_store_conformance {
    (optional: $factory:expr) => {
        $crate::__broker_store_conformance_all! { $factory; new_optional_location }
    };
    ($factory:expr) => {
        $crate::__broker_store_conformance_all! { $factory; new_location }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __broker_store_conformance_all {
    ($factory:expr; $loader:ident) => {
        $crate::__broker_store_conformance_cases! {
            $factory; $loader;
            store: empty_store_loads_empty, empty_commit_is_ok, retained_put_replace_delete,
                session_put_replace_delete_cascades, subscription_put_replace_delete,
                queue_enqueue_set_state_dequeue_and_order, ops_in_one_commit_apply_in_order,
                deletes_of_missing_keys_are_noops, failed_commit_is_atomic,
                binary_payloads_round_trip, optional_fields_round_trip, large_commit_lands,
                load_session_of_unknown_client_is_none, load_session_returns_one_clients_state,
                load_session_follows_commits, load_retained_reads_only_the_retained_messages,
                fenced_commit_skips_only_the_refused_sessions;
            shared: concurrent_commits_all_land, failed_commit_does_not_fail_concurrent_commits;
            location: reopen_persists, commit_after_close_is_closed;
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __broker_store_conformance_cases {
    (
        $factory:expr; $loader:ident;
        store: $($store_case:ident),* ;
        shared: $($shared_case:ident),* ;
        location: $($location_case:ident),* ;
    ) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $store_case() {
                let Some(location) = $crate::conformance::$loader($factory).await else {
                    return;
                };
                $crate::conformance::run_case(location, |location| async move {
                    let store = $crate::conformance::StoreLocation::open(&*location)
                        .await
                        .expect("open store");
                    $crate::conformance::$store_case(&*store).await;
                    $crate::BrokerStore::close(&*store).await.expect("close store");
                })
                .await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $shared_case() {
                let Some(location) = $crate::conformance::$loader($factory).await else {
                    return;
                };
                $crate::conformance::run_case(location, |location| async move {
                    let store = $crate::conformance::StoreLocation::open(&*location)
                        .await
                        .expect("open store");
                    $crate::conformance::$shared_case(::std::sync::Arc::clone(&store)).await;
                    $crate::BrokerStore::close(&*store).await.expect("close store");
                })
                .await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $location_case() {
                let Some(location) = $crate::conformance::$loader($factory).await else {
                    return;
                };
                $crate::conformance::run_case(location, |location| async move {
                    $crate::conformance::$location_case(&*location).await;
                })
                .await;
            }
        )*
    };
}

/// Calls the macro's factory; a function so that a factory of the wrong shape fails with a
/// readable bound error instead of deep inside the expansion.
pub async fn new_location<F, Fut, L>(factory: F) -> Option<L>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = L>,
    L: StoreLocation,
{
    Some(factory().await)
}

/// [`new_location`] for the `optional:` form: the factory decides whether the test runs.
pub async fn new_optional_location<F, Fut, L>(factory: F) -> Option<L>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Option<L>>,
    L: StoreLocation,
{
    factory().await
}

/// Runs one case, then the location's teardown whatever the case's outcome, then fails the
/// test with the case's own panic if it had one.
pub async fn run_case<L, C, Fut>(location: L, case: C)
where
    L: StoreLocation + 'static,
    C: FnOnce(Arc<L>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_case_with(location, case, <L as StoreLocation>::teardown).await;
}

/// The harness of every conformance macro: `case` runs as a separate task so that its panic
/// is caught without `catch_unwind` and `teardown` still gets to run.
pub async fn run_case_with<L, C, Fut>(
    location: L,
    case: C,
    teardown: for<'a> fn(&'a L) -> StoreFuture<'a, ()>,
) where
    L: Send + Sync + 'static,
    C: FnOnce(Arc<L>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let location = Arc::new(location);
    let outcome = tokio::spawn(case(Arc::clone(&location))).await;
    let teardown = teardown(&location).await;
    match outcome {
        Ok(()) => {
            if let Err(err) = teardown {
                panic!("teardown of the store location failed: {err}");
            }
        }
        Err(join) => {
            if let Err(err) = teardown {
                eprintln!("teardown of the store location also failed: {err}");
            }
            match join.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(join) => panic!("conformance case did not finish: {join}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sample data, public so backend-specific tests can build the same records.
// ---------------------------------------------------------------------------------------

/// A QoS 1 message on `topic`, received at a fixed time, never expiring.
pub fn sample_message(topic: &str, payload: &[u8]) -> StoredMessage {
    StoredMessage {
        topic: topic.to_owned(),
        payload: Bytes::copy_from_slice(payload),
        qos: 1,
        retain: false,
        properties: Bytes::new(),
        received_at_ms: 1_700_000_000_000,
        expires_at_ms: None,
    }
}

/// A retained copy of [`sample_message`].
pub fn sample_retained(topic: &str, payload: &[u8]) -> StoredMessage {
    StoredMessage {
        retain: true,
        ..sample_message(topic, payload)
    }
}

/// A pending queue entry whose payload names its key, so mix-ups are visible.
pub fn sample_queued(client_id: &str, seq: u64) -> QueuedMessage {
    QueuedMessage {
        client_id: client_id.to_owned(),
        seq,
        state: QueueState::Pending,
        message: sample_message(
            &format!("queue/{client_id}"),
            format!("{client_id}:{seq}").as_bytes(),
        ),
    }
}

pub fn sample_session(client_id: &str) -> StoredSession {
    StoredSession {
        client_id: client_id.to_owned(),
        expiry_interval_secs: 3600,
        disconnected_at_ms: None,
        data: Bytes::from_static(b"v5"),
    }
}

pub fn sample_subscription(client_id: &str, filter: &str, options: &[u8]) -> StoredSubscription {
    StoredSubscription {
        client_id: client_id.to_owned(),
        filter: filter.to_owned(),
        options: Bytes::copy_from_slice(options),
    }
}

async fn commit_ok(store: &dyn BrokerStore, ops: Vec<BrokerOp>) {
    if let Err(err) = store.commit(ops).await {
        panic!("commit failed: {err}");
    }
}

/// Loads and sorts the lists whose order the contract leaves open. `queued` is left as
/// loaded, and checked against its required order.
async fn load_sorted(store: &dyn BrokerStore) -> BrokerSnapshot {
    let mut snapshot = match store.load().await {
        Ok(snapshot) => snapshot,
        Err(err) => panic!("load failed: {err}"),
    };
    snapshot.retained.sort_by(|a, b| a.topic.cmp(&b.topic));
    snapshot
        .sessions
        .sort_by(|a, b| a.client_id.cmp(&b.client_id));
    snapshot
        .subscriptions
        .sort_by(|a, b| (&a.client_id, &a.filter).cmp(&(&b.client_id, &b.filter)));
    let keys: Vec<(&str, u64)> = snapshot
        .queued
        .iter()
        .map(|q| (q.client_id.as_str(), q.seq))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "load must return queued ordered by (client_id, seq) without duplicates: {keys:?}"
    );
    snapshot
}

fn sorted_by_topic(mut v: Vec<StoredMessage>) -> Vec<StoredMessage> {
    v.sort_by(|a, b| a.topic.cmp(&b.topic));
    v
}

fn sorted_queue(mut v: Vec<QueuedMessage>) -> Vec<QueuedMessage> {
    v.sort_by(|a, b| (&a.client_id, a.seq).cmp(&(&b.client_id, b.seq)));
    v
}

/// Deterministic bytes covering every byte value, NUL included (no RNG dependency).
fn noisy_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 7 == 0 { 0 } else { x.to_le_bytes()[0] }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Cases on one open store.
// ---------------------------------------------------------------------------------------

/// `commit_fenced` on any backend: ops of client ids without a fence and retained messages
/// always apply; a fenced client's ops apply exactly when its fence is not returned. (A
/// store of one node refuses nothing; a shared store whose owners table does not name this
/// store's node as the owner refuses the fence. PostgreSQL's fencing proper is tested in its
/// crate, `tests/session_fence.rs`.)
pub async fn fenced_commit_skips_only_the_refused_sessions(store: &dyn BrokerStore) {
    let fence = SessionFence {
        client_id: "fenced".into(),
        epoch: 1,
    };
    let refused = store
        .commit_fenced(
            vec![
                BrokerOp::PutSession(sample_session("fenced")),
                BrokerOp::PutSubscription(sample_subscription("fenced", "f/#", b"1")),
                BrokerOp::Enqueue(sample_queued("fenced", 1)),
                BrokerOp::PutSession(sample_session("free")),
                BrokerOp::PutRetained(sample_retained("r", b"1")),
            ],
            vec![fence.clone()],
        )
        .await
        .expect("fenced commit");
    assert!(
        refused.is_empty() || refused == [fence.clone()],
        "{refused:?}"
    );
    let snapshot = load_sorted(store).await;
    assert_eq!(snapshot.retained, vec![sample_retained("r", b"1")]);
    let fenced_applied = refused.is_empty();
    let mut sessions = vec![sample_session("free")];
    if fenced_applied {
        sessions.insert(0, sample_session("fenced"));
    }
    assert_eq!(snapshot.sessions, sessions);
    assert_eq!(snapshot.subscriptions.len(), usize::from(fenced_applied));
    assert_eq!(snapshot.queued.len(), usize::from(fenced_applied));
}

pub async fn empty_store_loads_empty(store: &dyn BrokerStore) {
    assert_eq!(load_sorted(store).await, BrokerSnapshot::default());
}

/// An empty commit succeeds (callers may use it as a barrier) and changes nothing.
pub async fn empty_commit_is_ok(store: &dyn BrokerStore) {
    commit_ok(store, vec![]).await;
    commit_ok(
        store,
        vec![BrokerOp::PutRetained(sample_retained("a", b"1"))],
    )
    .await;
    commit_ok(store, vec![]).await;
    assert_eq!(
        load_sorted(store).await.retained,
        vec![sample_retained("a", b"1")]
    );
}

pub async fn retained_put_replace_delete(store: &dyn BrokerStore) {
    let a1 = sample_retained("sensors/a", b"a1");
    let b1 = sample_retained("sensors/b", b"b1");
    commit_ok(
        store,
        vec![
            BrokerOp::PutRetained(b1.clone()),
            BrokerOp::PutRetained(a1.clone()),
        ],
    )
    .await;
    assert_eq!(load_sorted(store).await.retained, vec![a1, b1.clone()]);

    // Same topic: replaced, not duplicated.
    let a2 = StoredMessage {
        qos: 0,
        received_at_ms: 1_700_000_000_500,
        ..sample_retained("sensors/a", b"a2")
    };
    commit_ok(store, vec![BrokerOp::PutRetained(a2.clone())]).await;
    assert_eq!(load_sorted(store).await.retained, vec![a2, b1.clone()]);

    commit_ok(
        store,
        vec![BrokerOp::DeleteRetained {
            topic: "sensors/a".into(),
        }],
    )
    .await;
    let snapshot = load_sorted(store).await;
    assert_eq!(snapshot.retained, vec![b1]);
    assert!(snapshot.sessions.is_empty() && snapshot.queued.is_empty());
}

pub async fn session_put_replace_delete_cascades(store: &dyn BrokerStore) {
    let mut ops = Vec::new();
    for client in ["alpha", "bravo"] {
        ops.push(BrokerOp::PutSession(sample_session(client)));
        ops.push(BrokerOp::PutSubscription(sample_subscription(
            client, "a/+", b"\x01",
        )));
        ops.push(BrokerOp::PutSubscription(sample_subscription(
            client, "b/#", b"\x02",
        )));
        for seq in 1..=3 {
            ops.push(BrokerOp::Enqueue(sample_queued(client, seq)));
        }
    }
    commit_ok(store, ops).await;
    let snapshot = load_sorted(store).await;
    assert_eq!(
        snapshot.sessions,
        vec![sample_session("alpha"), sample_session("bravo")]
    );
    assert_eq!(snapshot.subscriptions.len(), 4);
    assert_eq!(snapshot.queued.len(), 6);

    // Replace: the whole record is the new one.
    let alpha2 = StoredSession {
        client_id: "alpha".into(),
        expiry_interval_secs: 60,
        disconnected_at_ms: Some(1_700_000_123_456),
        data: Bytes::from_static(b"v311"),
    };
    commit_ok(store, vec![BrokerOp::PutSession(alpha2.clone())]).await;
    let snapshot = load_sorted(store).await;
    assert_eq!(snapshot.sessions, vec![alpha2, sample_session("bravo")]);
    assert_eq!(
        snapshot.subscriptions.len(),
        4,
        "replacing a session keeps its subscriptions"
    );
    assert_eq!(
        snapshot.queued.len(),
        6,
        "replacing a session keeps its queue"
    );

    // Delete: cascades to alpha's subscriptions and queue, leaves bravo alone.
    commit_ok(
        store,
        vec![BrokerOp::DeleteSession {
            client_id: "alpha".into(),
        }],
    )
    .await;
    let snapshot = load_sorted(store).await;
    assert_eq!(snapshot.sessions, vec![sample_session("bravo")]);
    assert_eq!(
        snapshot.subscriptions,
        vec![
            sample_subscription("bravo", "a/+", b"\x01"),
            sample_subscription("bravo", "b/#", b"\x02"),
        ]
    );
    assert_eq!(
        snapshot.queued,
        (1..=3)
            .map(|s| sample_queued("bravo", s))
            .collect::<Vec<_>>()
    );
}

pub async fn subscription_put_replace_delete(store: &dyn BrokerStore) {
    commit_ok(
        store,
        vec![
            BrokerOp::PutSubscription(sample_subscription("alpha", "a/+", b"\x01")),
            BrokerOp::PutSubscription(sample_subscription("alpha", "b/#", b"\x02")),
            BrokerOp::PutSubscription(sample_subscription("bravo", "a/+", b"\x03")),
        ],
    )
    .await;
    // Same (client, filter): options replaced.
    commit_ok(
        store,
        vec![BrokerOp::PutSubscription(sample_subscription(
            "alpha",
            "a/+",
            b"\x09\x00",
        ))],
    )
    .await;
    assert_eq!(
        load_sorted(store).await.subscriptions,
        vec![
            sample_subscription("alpha", "a/+", b"\x09\x00"),
            sample_subscription("alpha", "b/#", b"\x02"),
            sample_subscription("bravo", "a/+", b"\x03"),
        ]
    );

    commit_ok(
        store,
        vec![BrokerOp::DeleteSubscription {
            client_id: "alpha".into(),
            filter: "b/#".into(),
        }],
    )
    .await;
    assert_eq!(
        load_sorted(store).await.subscriptions,
        vec![
            sample_subscription("alpha", "a/+", b"\x09\x00"),
            sample_subscription("bravo", "a/+", b"\x03"),
        ]
    );
}

pub async fn queue_enqueue_set_state_dequeue_and_order(store: &dyn BrokerStore) {
    // Scrambled insertion order, across commits; seqs chosen so that numeric and textual
    // order differ (2 < 10 < 1_000_000) and the extremes are covered.
    let keys: [(&str, u64); 8] = [
        ("bravo", 3),
        ("alpha", 10),
        ("alpha", 2),
        ("bravo", 1),
        ("alpha", 1_000_000),
        ("alpha", 0),
        ("charlie", QueuedMessage::MAX_SEQ),
        ("alpha", 9),
    ];
    for chunk in keys.chunks(3) {
        let ops = chunk
            .iter()
            .map(|(c, s)| BrokerOp::Enqueue(sample_queued(c, *s)))
            .collect();
        commit_ok(store, ops).await;
    }
    let mut expected = sorted_queue(keys.iter().map(|(c, s)| sample_queued(c, *s)).collect());
    assert_eq!(load_sorted(store).await.queued, expected);

    // State transitions, both ways.
    commit_ok(
        store,
        vec![
            BrokerOp::SetQueueState {
                client_id: "alpha".into(),
                seq: 2,
                state: QueueState::Released,
            },
            BrokerOp::SetQueueState {
                client_id: "bravo".into(),
                seq: 3,
                state: QueueState::Released,
            },
        ],
    )
    .await;
    commit_ok(
        store,
        vec![BrokerOp::SetQueueState {
            client_id: "bravo".into(),
            seq: 3,
            state: QueueState::Pending,
        }],
    )
    .await;
    for q in &mut expected {
        if q.client_id == "alpha" && q.seq == 2 {
            q.state = QueueState::Released;
        }
    }
    assert_eq!(load_sorted(store).await.queued, expected);

    // Enqueue on an existing key replaces the entry.
    let replaced = QueuedMessage {
        state: QueueState::Released,
        message: StoredMessage {
            qos: 2,
            ..sample_message("queue/replaced", b"new")
        },
        ..sample_queued("alpha", 10)
    };
    commit_ok(store, vec![BrokerOp::Enqueue(replaced.clone())]).await;
    for q in &mut expected {
        if q.client_id == "alpha" && q.seq == 10 {
            *q = replaced.clone();
        }
    }
    assert_eq!(load_sorted(store).await.queued, expected);

    commit_ok(
        store,
        vec![
            BrokerOp::Dequeue {
                client_id: "alpha".into(),
                seq: 10,
            },
            BrokerOp::Dequeue {
                client_id: "charlie".into(),
                seq: QueuedMessage::MAX_SEQ,
            },
        ],
    )
    .await;
    expected.retain(|q| !(q.client_id == "alpha" && q.seq == 10) && q.client_id != "charlie");
    assert_eq!(load_sorted(store).await.queued, expected);
}

/// Ops inside one commit apply in their order, each seeing the effect of the previous ones.
pub async fn ops_in_one_commit_apply_in_order(store: &dyn BrokerStore) {
    commit_ok(
        store,
        vec![
            // put then delete → absent
            BrokerOp::PutRetained(sample_retained("order/x", b"x")),
            BrokerOp::DeleteRetained {
                topic: "order/x".into(),
            },
            // delete then put → present
            BrokerOp::DeleteRetained {
                topic: "order/y".into(),
            },
            BrokerOp::PutRetained(sample_retained("order/y", b"y")),
            // put twice → last wins
            BrokerOp::PutRetained(sample_retained("order/z", b"z1")),
            BrokerOp::PutRetained(sample_retained("order/z", b"z2")),
            // enqueue then dequeue → absent; enqueue then set state → state applied
            BrokerOp::Enqueue(sample_queued("alpha", 1)),
            BrokerOp::Dequeue {
                client_id: "alpha".into(),
                seq: 1,
            },
            BrokerOp::Enqueue(sample_queued("alpha", 2)),
            BrokerOp::SetQueueState {
                client_id: "alpha".into(),
                seq: 2,
                state: QueueState::Released,
            },
            // subscription, then the session is deleted, then recreated → no subscription
            BrokerOp::PutSession(sample_session("bravo")),
            BrokerOp::PutSubscription(sample_subscription("bravo", "t/#", b"")),
            BrokerOp::Enqueue(sample_queued("bravo", 1)),
            BrokerOp::DeleteSession {
                client_id: "bravo".into(),
            },
            BrokerOp::PutSession(sample_session("bravo")),
            // subscription put then deleted → absent
            BrokerOp::PutSubscription(sample_subscription("charlie", "u/+", b"")),
            BrokerOp::DeleteSubscription {
                client_id: "charlie".into(),
                filter: "u/+".into(),
            },
        ],
    )
    .await;
    let snapshot = load_sorted(store).await;
    assert_eq!(
        snapshot.retained,
        vec![
            sample_retained("order/y", b"y"),
            sample_retained("order/z", b"z2")
        ]
    );
    assert_eq!(
        snapshot.queued,
        vec![QueuedMessage {
            state: QueueState::Released,
            ..sample_queued("alpha", 2)
        }]
    );
    assert_eq!(snapshot.sessions, vec![sample_session("bravo")]);
    assert!(
        snapshot.subscriptions.is_empty(),
        "{:?}",
        snapshot.subscriptions
    );
}

/// Removing or updating what is not there succeeds and changes nothing.
pub async fn deletes_of_missing_keys_are_noops(store: &dyn BrokerStore) {
    commit_ok(
        store,
        vec![BrokerOp::PutRetained(sample_retained("keep", b"k"))],
    )
    .await;
    commit_ok(
        store,
        vec![
            BrokerOp::DeleteRetained {
                topic: "missing".into(),
            },
            BrokerOp::DeleteSession {
                client_id: "missing".into(),
            },
            BrokerOp::DeleteSubscription {
                client_id: "missing".into(),
                filter: "#".into(),
            },
            BrokerOp::Dequeue {
                client_id: "missing".into(),
                seq: 7,
            },
            BrokerOp::SetQueueState {
                client_id: "missing".into(),
                seq: 7,
                state: QueueState::Released,
            },
        ],
    )
    .await;
    let snapshot = load_sorted(store).await;
    assert_eq!(snapshot.retained, vec![sample_retained("keep", b"k")]);
    assert!(snapshot.sessions.is_empty() && snapshot.subscriptions.is_empty());
    assert!(snapshot.queued.is_empty());
}

/// The failing op (a `seq` above `MAX_SEQ`) sits in the middle of a batch: nothing before
/// or after it may land, and the store stays usable.
pub async fn failed_commit_is_atomic(store: &dyn BrokerStore) {
    commit_ok(
        store,
        vec![
            BrokerOp::PutRetained(sample_retained("atomic/keep", b"k")),
            BrokerOp::Enqueue(sample_queued("alpha", 1)),
        ],
    )
    .await;
    let before = load_sorted(store).await;

    let result = store
        .commit(vec![
            BrokerOp::PutRetained(sample_retained("atomic/new", b"n")),
            BrokerOp::DeleteRetained {
                topic: "atomic/keep".into(),
            },
            BrokerOp::Dequeue {
                client_id: "alpha".into(),
                seq: 1,
            },
            BrokerOp::Enqueue(sample_queued("alpha", QueuedMessage::MAX_SEQ + 1)),
            BrokerOp::PutSession(sample_session("alpha")),
        ])
        .await;
    match result {
        Err(StorageError::Closed) => panic!("a bad batch must not report the store closed"),
        Err(_) => {}
        Ok(()) => panic!("a queue seq above MAX_SEQ must fail the commit"),
    }
    assert_eq!(
        load_sorted(store).await,
        before,
        "a failed commit must leave no trace"
    );

    commit_ok(
        store,
        vec![BrokerOp::PutRetained(sample_retained("atomic/after", b"a"))],
    )
    .await;
    assert_eq!(load_sorted(store).await.retained.len(), 2);
}

/// Arbitrary bytes, NUL and invalid UTF-8 included, up to 128 KiB, round-trip exactly in
/// every blob field.
pub async fn binary_payloads_round_trip(store: &dyn BrokerStore) {
    let blobs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        b"\0\0nul\0inside\0".to_vec(),
        (0..=255u8).collect(),
        vec![0xff, 0xfe, 0xc3, 0x28, 0x80],
        noisy_bytes(128 * 1024, 1),
        vec![0; 128 * 1024],
    ];
    let mut ops = Vec::new();
    let mut retained = Vec::new();
    let mut queued = Vec::new();
    let mut sessions = Vec::new();
    let mut subscriptions = Vec::new();
    for (i, blob) in blobs.iter().enumerate() {
        let props = noisy_bytes(i * 97, 100 + i as u32);
        let message = StoredMessage {
            properties: Bytes::from(props.clone()),
            ..sample_retained(&format!("bin/{i}"), blob)
        };
        retained.push(message.clone());
        let q = QueuedMessage {
            message: StoredMessage {
                retain: false,
                ..message
            },
            ..sample_queued("alpha", i as u64)
        };
        queued.push(q);
        let client = format!("client{i}");
        sessions.push(StoredSession {
            data: Bytes::from(blob.clone()),
            ..sample_session(&client)
        });
        subscriptions.push(sample_subscription(&client, "bin/#", &props));
    }
    ops.extend(retained.iter().cloned().map(BrokerOp::PutRetained));
    ops.extend(queued.iter().cloned().map(BrokerOp::Enqueue));
    ops.extend(sessions.iter().cloned().map(BrokerOp::PutSession));
    ops.extend(subscriptions.iter().cloned().map(BrokerOp::PutSubscription));
    commit_ok(store, ops).await;

    let snapshot = load_sorted(store).await;
    sessions.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    assert!(
        snapshot.retained == sorted_by_topic(retained),
        "retained blobs differ"
    );
    assert!(snapshot.queued == queued, "queued blobs differ");
    assert!(snapshot.sessions == sessions, "session data differs");
    subscriptions.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    assert!(
        snapshot.subscriptions == subscriptions,
        "subscription options differ"
    );
}

/// `None` and `Some` of every optional field, and the extremes of every integer field.
pub async fn optional_fields_round_trip(store: &dyn BrokerStore) {
    let mut retained = Vec::new();
    let mut queued = Vec::new();
    for (i, (expires, received, qos, retain)) in [
        (None, 0, 0u8, false),
        (Some(0), 1, 1, true),
        (Some(1_700_000_060_000), 1_700_000_000_000, 2, true),
        (Some(i64::MAX), i64::MAX, 2, false),
        (Some(-1), -1, 0, true),
    ]
    .into_iter()
    .enumerate()
    {
        let message = StoredMessage {
            topic: format!("opt/ünïcødé/🚀/{i}"),
            payload: Bytes::from(format!("p{i}")),
            qos,
            retain,
            properties: Bytes::from_static(b"\x23\x00\x07"),
            received_at_ms: received,
            expires_at_ms: expires,
        };
        retained.push(message.clone());
        queued.push(QueuedMessage {
            client_id: "alpha".into(),
            seq: i as u64,
            state: if i % 2 == 0 {
                QueueState::Pending
            } else {
                QueueState::Released
            },
            message,
        });
    }
    let sessions = vec![
        StoredSession {
            client_id: "alpha".into(),
            expiry_interval_secs: 0,
            disconnected_at_ms: None,
            data: Bytes::new(),
        },
        StoredSession {
            client_id: "bravo".into(),
            expiry_interval_secs: u32::MAX,
            disconnected_at_ms: Some(1_700_000_000_001),
            data: Bytes::from_static(b"d"),
        },
        StoredSession {
            client_id: "charlie".into(),
            expiry_interval_secs: 1,
            disconnected_at_ms: Some(0),
            data: Bytes::from_static(b"d"),
        },
    ];
    let mut ops: Vec<BrokerOp> = retained
        .iter()
        .cloned()
        .map(BrokerOp::PutRetained)
        .collect();
    ops.extend(queued.iter().cloned().map(BrokerOp::Enqueue));
    ops.extend(sessions.iter().cloned().map(BrokerOp::PutSession));
    commit_ok(store, ops).await;

    let snapshot = load_sorted(store).await;
    assert_eq!(snapshot.retained, sorted_by_topic(retained));
    assert_eq!(snapshot.queued, queued);
    assert_eq!(snapshot.sessions, sessions);
}

/// One commit larger than any sensible group-commit bound still applies whole.
pub async fn large_commit_lands(store: &dyn BrokerStore) {
    const N: u64 = 20_000;
    let ops = (0..N)
        .map(|seq| BrokerOp::Enqueue(sample_queued("bulk", seq)))
        .collect();
    commit_ok(store, ops).await;
    let snapshot = load_sorted(store).await;
    assert_eq!(snapshot.queued.len() as u64, N);
    assert!(snapshot.queued.iter().map(|q| q.seq).eq(0..N));
}

// ---------------------------------------------------------------------------------------
// Cases that share the store between tasks.
// ---------------------------------------------------------------------------------------

/// 50 tasks commit at once, repeatedly: every commit reports success and every op lands.
/// This is what group commit must get right (merging, answering each waiter).
pub async fn concurrent_commits_all_land(store: Arc<dyn BrokerStore>) {
    const TASKS: u64 = 50;
    const ROUNDS: u64 = 4;
    let start = Arc::new(tokio::sync::Barrier::new(TASKS as usize));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        let start = Arc::clone(&start);
        tasks.spawn(async move {
            start.wait().await;
            for round in 0..ROUNDS {
                let client = format!("task{task:02}");
                store
                    .commit(vec![
                        BrokerOp::Enqueue(sample_queued(&client, round)),
                        BrokerOp::PutRetained(sample_retained(
                            &format!("concurrent/{task}/{round}"),
                            b"r",
                        )),
                    ])
                    .await
                    .map_err(|e| format!("task {task} round {round}: {e}"))?;
            }
            Ok::<(), String>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(err)) => panic!("concurrent commit failed: {err}"),
            Err(err) => panic!("committer task died: {err}"),
        }
    }
    let snapshot = load_sorted(&*store).await;
    assert_eq!(snapshot.retained.len() as u64, TASKS * ROUNDS);
    let expected: Vec<QueuedMessage> = (0..TASKS)
        .flat_map(|t| (0..ROUNDS).map(move |r| sample_queued(&format!("task{t:02}"), r)))
        .collect();
    assert_eq!(snapshot.queued, expected);
}

/// Bad batches committed concurrently with good ones fail alone: a backend that merges
/// commits must not let one caller's bad op fail or undo another caller's commit.
pub async fn failed_commit_does_not_fail_concurrent_commits(store: Arc<dyn BrokerStore>) {
    const TASKS: u64 = 40;
    let start = Arc::new(tokio::sync::Barrier::new(TASKS as usize));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        let start = Arc::clone(&start);
        tasks.spawn(async move {
            start.wait().await;
            let bad = task % 5 == 0;
            let seq = if bad { QueuedMessage::MAX_SEQ + 1 } else { 1 };
            let result = store
                .commit(vec![
                    BrokerOp::PutRetained(sample_retained(&format!("mixed/{task}"), b"m")),
                    BrokerOp::Enqueue(sample_queued(&format!("task{task:02}"), seq)),
                ])
                .await;
            (task, bad, result.is_ok())
        });
    }
    let mut good = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (task, bad, ok) = joined.expect("committer task died");
        assert_eq!(ok, !bad, "task {task}: bad={bad} but commit ok={ok}");
        if !bad {
            good.push(task);
        }
    }
    good.sort_unstable();
    let snapshot = load_sorted(&*store).await;
    let topics: Vec<String> = snapshot.retained.iter().map(|m| m.topic.clone()).collect();
    let mut expected: Vec<String> = good.iter().map(|t| format!("mixed/{t}")).collect();
    expected.sort();
    assert_eq!(topics, expected);
    assert_eq!(snapshot.queued.len(), good.len());
}

// ---------------------------------------------------------------------------------------
// Cases that open the location themselves.
// ---------------------------------------------------------------------------------------

async fn open_ok(location: &dyn StoreLocation) -> Arc<dyn BrokerStore> {
    match location.open().await {
        Ok(store) => store,
        Err(err) => panic!("open failed: {err}"),
    }
}

/// What a closed store committed is there after reopening, and so is what a store that was
/// only dropped committed (a returned commit is durable, close or not).
pub async fn reopen_persists(location: &dyn StoreLocation) {
    let first = vec![
        BrokerOp::PutRetained(sample_retained("persist/a", b"\0a")),
        BrokerOp::PutSession(sample_session("alpha")),
        BrokerOp::PutSubscription(sample_subscription("alpha", "persist/#", b"\x01")),
        BrokerOp::Enqueue(sample_queued("alpha", 1)),
        BrokerOp::Enqueue(sample_queued("alpha", 2)),
    ];
    let store = open_ok(location).await;
    commit_ok(&*store, first).await;
    let expected = load_sorted(&*store).await;
    store.close().await.expect("close");
    drop(store);

    let store = open_ok(location).await;
    assert_eq!(load_sorted(&*store).await, expected);
    commit_ok(
        &*store,
        vec![
            BrokerOp::Dequeue {
                client_id: "alpha".into(),
                seq: 1,
            },
            BrokerOp::PutRetained(sample_retained("persist/b", b"b")),
        ],
    )
    .await;
    let expected = load_sorted(&*store).await;
    drop(store); // no close

    let store = open_ok(location).await;
    assert_eq!(load_sorted(&*store).await, expected);
    assert_eq!(expected.retained.len(), 2);
    assert_eq!(expected.queued, vec![sample_queued("alpha", 2)]);
    let alpha = store.load_session("alpha").await.expect("load_session");
    assert_eq!(
        alpha,
        Some(crate::SessionSnapshot {
            session: sample_session("alpha"),
            subscriptions: vec![sample_subscription("alpha", "persist/#", b"\x01")],
            queued: vec![sample_queued("alpha", 2)],
        })
    );
    store.close().await.expect("close");
}

/// After `close`, commits fail with `Closed` (empty ones too); a second close does not hang
/// or panic.
pub async fn commit_after_close_is_closed(location: &dyn StoreLocation) {
    let store = open_ok(location).await;
    commit_ok(
        &*store,
        vec![BrokerOp::PutRetained(sample_retained("closing", b"c"))],
    )
    .await;
    store.close().await.expect("close");
    for ops in [
        vec![BrokerOp::PutRetained(sample_retained("late", b"l"))],
        vec![],
    ] {
        match store.commit(ops).await {
            Err(StorageError::Closed) => {}
            other => panic!("commit after close must fail with Closed, got {other:?}"),
        }
    }
    let _ = store.close().await;
    drop(store);

    // What was committed before close is there; the late commit is not.
    let store = open_ok(location).await;
    assert_eq!(
        load_sorted(&*store).await.retained,
        vec![sample_retained("closing", b"c")]
    );
    store.close().await.expect("close");
}
