//! `SessionOwners` on PostgreSQL (migration 0004): a claim names the node that held the
//! client id just before it, also when claims race, and epochs order the claims. Skipped
//! loudly without `FERRITE_TEST_POSTGRES_URL`.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_storage::conformance::run_case;
use ferrite_storage::{BrokerOp, BrokerStore, SessionClaim, SessionOwners, StoredSession};
use ferrite_storage_postgres::testing::ScratchLocation;

#[tokio::test]
async fn each_claim_names_the_previous_owner_and_bumps_the_epoch() {
    let Some(location) = ScratchLocation::from_env("session owner claims").await else {
        return;
    };
    run_case(location, |location| async move {
        let store = location.open_store().await.unwrap();
        assert_eq!(store.session_owner("dev").await.unwrap(), None);
        let claim = |node: &'static str| {
            let store = &store;
            async move { store.claim_session("dev", node, 1).await.unwrap() }
        };
        assert_eq!(
            claim("a").await,
            SessionClaim {
                previous: None,
                epoch: 1
            }
        );
        assert_eq!(
            claim("b").await,
            SessionClaim {
                previous: Some("a".into()),
                epoch: 2
            }
        );
        assert_eq!(
            claim("b").await,
            SessionClaim {
                previous: Some("b".into()),
                epoch: 3
            }
        );
        assert_eq!(
            store.session_owner("dev").await.unwrap(),
            Some(("b".into(), 3))
        );
        // Another client id has an owner of its own.
        assert_eq!(store.claim_session("other", "a", 1).await.unwrap().epoch, 1);
        store.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_claims_form_one_chain() {
    let Some(location) = ScratchLocation::from_env("racing session owner claims").await else {
        return;
    };
    run_case(location, |location| async move {
        let store = Arc::new(location.open_store().await.unwrap());
        let nodes: Vec<String> = (0..16).map(|i| format!("n{i}")).collect();
        let mut racers = tokio::task::JoinSet::new();
        for node in nodes.clone() {
            let store = store.clone();
            racers.spawn(async move {
                let claim = store.claim_session("dev", &node, 1).await.unwrap();
                (claim.epoch, node, claim.previous)
            });
        }
        let mut claims = racers.join_all().await;
        claims.sort();
        // Epochs 1..=16, each claim's previous owner being the claimant of the epoch before:
        // no two claims both believed they came first.
        assert_eq!(
            claims.iter().map(|c| c.0).collect::<Vec<_>>(),
            (1..=16).collect::<Vec<_>>()
        );
        assert_eq!(claims[0].2, None);
        for pair in claims.windows(2) {
            assert_eq!(pair[1].2.as_deref(), Some(pair[0].1.as_str()), "{claims:?}");
        }
        store.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_nodes_sessions_are_adopted_once_whoever_races_for_them() {
    let Some(location) = ScratchLocation::from_env("adopting a gone node's sessions").await else {
        return;
    };
    run_case(location, |location| async move {
        let store = Arc::new(location.open_store().await.unwrap());
        let stored = |client: &str| {
            BrokerOp::PutSession(StoredSession {
                client_id: client.into(),
                expiry_interval_secs: 3600,
                disconnected_at_ms: Some(1),
                data: Bytes::new(),
            })
        };
        let mut sessions = vec![stored("elsewhere")];
        for i in 0..40 {
            let client = format!("d{i}");
            store.claim_session(&client, "gone", 1).await.unwrap();
            sessions.push(stored(&client));
        }
        // A clean client of the gone node: nothing stored, nothing to adopt.
        store.claim_session("clean", "gone", 1).await.unwrap();
        store.claim_session("elsewhere", "c", 1).await.unwrap();
        store.commit(sessions).await.unwrap();
        // Its client came back on node c before anyone adopted it: it stays c's.
        store.claim_session("d0", "c", 2).await.unwrap();

        let mut owners = store.session_owner_nodes().await.unwrap();
        owners.sort();
        assert_eq!(owners, ["c", "gone"], "nodes that own stored sessions");
        let mut adopters = tokio::task::JoinSet::new();
        for node in ["a", "b", "a2", "b2"] {
            let store = store.clone();
            adopters.spawn(async move {
                let got = store.adopt_sessions("gone", node, 5).await.unwrap();
                (node, got)
            });
        }
        let mut all = Vec::new();
        for (node, got) in adopters.join_all().await {
            for (client, epoch) in got {
                assert_eq!(epoch, 2, "one more than the gone node's claim");
                assert_eq!(
                    store.session_owner(&client).await.unwrap(),
                    Some((node.to_owned(), 2))
                );
                all.push(client);
            }
        }
        all.sort();
        let mut expected: Vec<String> = (1..40).map(|i| format!("d{i}")).collect();
        expected.sort();
        assert_eq!(all, expected, "every session of the gone node, each once");
        assert_eq!(
            store.session_owner("d0").await.unwrap(),
            Some(("c".into(), 2))
        );
        assert_eq!(
            store.session_owner("clean").await.unwrap(),
            Some(("gone".into(), 1)),
            "a client without a stored session is not adopted"
        );
        assert!(
            store
                .adopt_sessions("gone", "a", 6)
                .await
                .unwrap()
                .is_empty()
        );

        // A restarted node takes its own back: the epoch moves past what it had.
        assert_eq!(
            store.adopt_sessions("c", "c", 7).await.unwrap().len(),
            2,
            "d0 and elsewhere"
        );
        assert_eq!(
            store.session_owner("d0").await.unwrap(),
            Some(("c".into(), 3))
        );
        Arc::into_inner(store).unwrap().close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_release_deletes_only_the_claim_it_names() {
    let Some(location) = ScratchLocation::from_env("releasing a session owner").await else {
        return;
    };
    run_case(location, |location| async move {
        let store = location.open_store().await.unwrap();
        store.claim_session("dev", "a", 1).await.unwrap();
        store.claim_session("dev", "a", 2).await.unwrap();
        assert!(
            !store.release_session("dev", "a", 1).await.unwrap(),
            "a later claim keeps its row"
        );
        assert!(!store.release_session("dev", "b", 2).await.unwrap());
        assert_eq!(
            store.session_owner("dev").await.unwrap(),
            Some(("a".into(), 2))
        );
        assert!(store.release_session("dev", "a", 2).await.unwrap());
        assert_eq!(store.session_owner("dev").await.unwrap(), None);
        // The next claim starts the client id afresh.
        let claim = store.claim_session("dev", "b", 3).await.unwrap();
        assert_eq!((claim.previous, claim.epoch), (None, 1));
        store.close().await.unwrap();
    })
    .await;
}
