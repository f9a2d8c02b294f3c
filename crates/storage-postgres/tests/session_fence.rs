//! Fenced session writes on PostgreSQL (migration 0006, `writer.rs`): a node's group commit
//! writes a session's rows only while `broker_session_owners` names that node as the owner
//! and the write's epoch lies in its current run of claims. Two stores opened as different
//! nodes on one schema play two nodes. Skipped loudly without `FERRITE_TEST_POSTGRES_URL`.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_storage::conformance::{
    run_case, sample_queued, sample_retained, sample_session, sample_subscription,
};
use ferrite_storage::{BrokerOp, BrokerStore, SessionFence, SessionOwners, StoredSession};
use ferrite_storage_postgres::PostgresStore;
use ferrite_storage_postgres::testing::ScratchLocation;

fn fence(client_id: &str, epoch: u64) -> SessionFence {
    SessionFence {
        client_id: client_id.into(),
        epoch,
    }
}

/// What node a, holding `dev` by the claim `epoch` as far as it knows, writes of it.
fn stale_writes() -> Vec<BrokerOp> {
    vec![
        BrokerOp::PutSession(StoredSession {
            data: Bytes::from_static(b"stale"),
            ..sample_session("dev")
        }),
        BrokerOp::DeleteSubscription {
            client_id: "dev".into(),
            filter: "b/#".into(),
        },
        BrokerOp::PutSubscription(sample_subscription("dev", "a/late", b"a")),
        BrokerOp::Enqueue(sample_queued("dev", 2)),
        BrokerOp::Dequeue {
            client_id: "dev".into(),
            seq: 1,
        },
    ]
}

async fn open_pair(location: &ScratchLocation) -> (Arc<PostgresStore>, Arc<PostgresStore>) {
    let a = location.open_store_as("a").await.expect("open a");
    let b = location.open_store_as("b").await.expect("open b");
    (Arc::new(a), Arc::new(b))
}

#[tokio::test]
async fn a_write_with_a_stale_epoch_leaves_the_new_owners_rows_alone() {
    let Some(location) = ScratchLocation::from_env("stale session writes are fenced").await else {
        return;
    };
    run_case(location, |location| async move {
        let (a, b) = open_pair(&location).await;
        let first = a.claim_session("dev", "a", 1).await.unwrap();
        let refused = a
            .commit_fenced(
                vec![
                    BrokerOp::PutSession(sample_session("dev")),
                    BrokerOp::Enqueue(sample_queued("dev", 1)),
                ],
                vec![fence("dev", first.epoch)],
            )
            .await
            .unwrap();
        assert!(refused.is_empty(), "the owner writes: {refused:?}");

        // Node b claims the session (and seals the claim once a answered or was given up
        // on), and writes it.
        let second = b.claim_session("dev", "b", 2).await.unwrap();
        assert!(second.epoch > first.epoch);
        assert!(b.seal_claim("dev", "b", second.epoch).await.unwrap());
        let refused = b
            .commit_fenced(
                vec![BrokerOp::PutSubscription(sample_subscription(
                    "dev", "b/#", b"b",
                ))],
                vec![fence("dev", second.epoch)],
            )
            .await
            .unwrap();
        assert!(refused.is_empty());
        let owned = b.load_session("dev").await.unwrap().expect("stored");

        // Node a writes by its old claim, in one commit with writes that are not its to lose.
        let mut ops = stale_writes();
        ops.push(BrokerOp::PutSession(sample_session("other")));
        ops.push(BrokerOp::PutRetained(sample_retained("t", b"1")));
        let other = a.claim_session("other", "a", 3).await.unwrap();
        let refused = a
            .commit_fenced(
                ops,
                vec![fence("dev", first.epoch), fence("other", other.epoch)],
            )
            .await
            .unwrap();
        assert_eq!(refused, vec![fence("dev", first.epoch)]);
        assert_eq!(b.load_session("dev").await.unwrap(), Some(owned));
        assert!(a.load_session("other").await.unwrap().is_some());
        assert_eq!(b.load_retained().await.unwrap().retained.len(), 1);

        // Nor can the old owner delete it.
        let refused = a
            .commit_fenced(
                vec![BrokerOp::DeleteSession {
                    client_id: "dev".into(),
                }],
                vec![fence("dev", first.epoch)],
            )
            .await
            .unwrap();
        assert_eq!(refused.len(), 1);
        assert!(b.load_session("dev").await.unwrap().is_some());
        a.close().await.unwrap();
        b.close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_nodes_own_later_claims_keep_its_earlier_writes_valid_until_another_node_claims() {
    let Some(location) = ScratchLocation::from_env("fencing follows runs of claims").await else {
        return;
    };
    run_case(location, |location| async move {
        let (a, b) = open_pair(&location).await;
        let write = |store: Arc<PostgresStore>, epoch: u64, filter: &'static str| async move {
            store
                .commit_fenced(
                    vec![
                        BrokerOp::PutSession(sample_session("dev")),
                        BrokerOp::PutSubscription(sample_subscription("dev", filter, b"x")),
                    ],
                    vec![fence("dev", epoch)],
                )
                .await
                .unwrap()
        };
        // No owner row at all: refused.
        assert_eq!(write(a.clone(), 1, "none").await.len(), 1);
        assert!(a.load_session("dev").await.unwrap().is_none());

        // Two claims by a (a reconnect to the same node): writes of either apply.
        let e1 = a.claim_session("dev", "a", 1).await.unwrap().epoch;
        let e2 = a.claim_session("dev", "a", 2).await.unwrap().epoch;
        assert!(write(a.clone(), e1, "one").await.is_empty());
        assert!(write(a.clone(), e2, "two").await.is_empty());
        // A claim the store never gave is refused.
        assert_eq!(write(a.clone(), e2 + 1, "future").await.len(), 1);

        // b claims, then a again: a's writes from before b are refused, its new ones apply,
        // and b's are refused.
        let e3 = b.claim_session("dev", "b", 3).await.unwrap().epoch;
        assert!(b.seal_claim("dev", "b", e3).await.unwrap());
        let e4 = a.claim_session("dev", "a", 4).await.unwrap().epoch;
        assert!(a.seal_claim("dev", "a", e4).await.unwrap());
        assert_eq!(write(a.clone(), e2, "stale").await.len(), 1);
        assert_eq!(write(b.clone(), e3, "b").await.len(), 1);
        assert!(write(a.clone(), e4, "four").await.is_empty());
        let mut filters: Vec<String> = a
            .load_session("dev")
            .await
            .unwrap()
            .expect("stored")
            .subscriptions
            .into_iter()
            .map(|s| s.filter)
            .collect();
        filters.sort();
        assert_eq!(filters, ["four", "one", "two"]);

        // Adopted by b from a (taken for gone): a's writes are refused from then on.
        let adopted = b.adopt_sessions("a", "b", 5).await.unwrap();
        assert_eq!(adopted.len(), 1);
        assert_eq!(write(a.clone(), e4, "after adoption").await.len(), 1);
        assert!(write(b.clone(), adopted[0].1, "adopter").await.is_empty());
        a.close().await.unwrap();
        b.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fenced_and_unfenced_commits_in_one_group_each_get_their_own_answer() {
    let Some(location) = ScratchLocation::from_env("fenced commits in one group").await else {
        return;
    };
    run_case(location, |location| async move {
        let (a, b) = open_pair(&location).await;
        let mine = a.claim_session("mine", "a", 1).await.unwrap().epoch;
        a.claim_session("theirs", "a", 1).await.unwrap();
        let theirs = b.claim_session("theirs", "b", 2).await.unwrap().epoch;
        assert!(b.seal_claim("theirs", "b", theirs).await.unwrap());
        // Many commits issued at once, so that the writer groups them.
        let commits: Vec<_> = (0..64u64)
            .map(|i| {
                let (client, epoch) = if i % 2 == 0 {
                    ("mine", mine)
                } else {
                    ("theirs", theirs - 1)
                };
                a.commit_fenced(
                    vec![BrokerOp::Enqueue(sample_queued(client, i + 1))],
                    vec![fence(client, epoch)],
                )
            })
            .collect();
        let plain = a.commit(vec![BrokerOp::PutRetained(sample_retained("t", b"1"))]);
        let answers = futures_util::future::join_all(commits).await;
        plain.await.unwrap();
        for (i, answer) in answers.into_iter().enumerate() {
            let refused = answer.unwrap();
            assert_eq!(refused.is_empty(), i % 2 == 0, "commit {i}: {refused:?}");
        }
        let snapshot = a.load().await.unwrap();
        assert_eq!(snapshot.queued.len(), 32);
        assert!(snapshot.queued.iter().all(|q| q.client_id == "mine"));
        assert_eq!(snapshot.retained.len(), 1);
        a.close().await.unwrap();
        b.close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_previous_owner_writes_until_the_claimant_seals_its_claim() {
    let Some(location) = ScratchLocation::from_env("fencing waits for the hand-over").await else {
        return;
    };
    run_case(location, |location| async move {
        let (a, b) = open_pair(&location).await;
        let held = a.claim_session("dev", "a", 1).await.unwrap().epoch;
        let write = |store: Arc<PostgresStore>, epoch: u64, filter: &'static str| async move {
            store
                .commit_fenced(
                    vec![
                        BrokerOp::PutSession(sample_session("dev")),
                        BrokerOp::PutSubscription(sample_subscription("dev", filter, b"x")),
                    ],
                    vec![fence("dev", epoch)],
                )
                .await
                .unwrap()
        };
        assert!(write(a.clone(), held, "before").await.is_empty());
        // b claims and asks a to let go: what a flushes meanwhile is written, for b to load.
        let claim = b.claim_session("dev", "b", 2).await.unwrap();
        assert!(write(a.clone(), held, "flushed").await.is_empty());
        assert!(write(b.clone(), claim.epoch, "b").await.is_empty());
        // a answered (or b gave up on it): sealed, a's writes are refused.
        assert!(b.seal_claim("dev", "b", claim.epoch).await.unwrap());
        assert!(!b.seal_claim("dev", "b", claim.epoch).await.unwrap());
        assert_eq!(write(a.clone(), held, "late").await.len(), 1);
        assert!(write(b.clone(), claim.epoch, "b again").await.is_empty());
        // A seal of a claim that another node's claim replaced leaves that one's hand-over.
        let c = a.claim_session("dev", "a", 3).await.unwrap();
        assert!(!b.seal_claim("dev", "b", claim.epoch).await.unwrap());
        assert!(write(b.clone(), claim.epoch, "b flushing").await.is_empty());
        assert!(a.seal_claim("dev", "a", c.epoch).await.unwrap());
        let mut filters: Vec<String> = a
            .load_session("dev")
            .await
            .unwrap()
            .expect("stored")
            .subscriptions
            .into_iter()
            .map(|s| s.filter)
            .collect();
        filters.sort();
        assert_eq!(filters, ["b", "b again", "b flushing", "before", "flushed"]);
        a.close().await.unwrap();
        b.close().await.unwrap();
    })
    .await;
}
