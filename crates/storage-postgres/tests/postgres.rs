//! PostgreSQL-specific behaviour beyond the conformance suite: start-up errors, migrations,
//! statement failures inside a merged group, ordering, and defensive loading. Tests that
//! need a server skip loudly without `FERRITE_TEST_POSTGRES_URL`.

// Tests spawn helper servers and sign with real time: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::sync::Arc;
use std::time::Duration;

use ferrite_storage::conformance::{run_case, sample_queued, sample_retained, sample_session};
use ferrite_storage::{
    BrokerOp, BrokerStore, Expect, RegistryStore, StorageError, Write, WriteOutcome,
};
use ferrite_storage_postgres::testing::ScratchLocation;
use ferrite_storage_postgres::{PgStoreOptions, PostgresStore, latest_version};
use sqlx::{Connection, Executor, PgConnection, Row};

async fn location(test: &str) -> Option<ScratchLocation> {
    ScratchLocation::from_env(&format!("the PostgreSQL backend test {test}")).await
}

async fn admin(location: &ScratchLocation) -> PgConnection {
    PgConnection::connect(&location.schema.url())
        .await
        .expect("connect to the scratch schema")
}

#[tokio::test]
async fn connect_failure_is_one_line_naming_the_url_without_password() {
    // Port 1 on loopback: nothing listens, so the refusal is immediate.
    let err = PostgresStore::open(
        "postgres://ferrite:hunter2@127.0.0.1:1/broker",
        PgStoreOptions::default(),
    )
    .await
    .expect_err("nothing listens on port 1");
    let message = err.to_string();
    assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
    assert!(
        message.contains("postgres://ferrite@127.0.0.1:1/broker"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[tokio::test]
async fn invalid_url_is_refused_without_showing_the_password() {
    let err = PostgresStore::open(
        "postgres://ferrite:hunter2@127.0.0.1:notaport/db",
        PgStoreOptions::default(),
    )
    .await
    .expect_err("bad port");
    let message = err.to_string();
    assert!(message.contains("invalid PostgreSQL url"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_recorded_once() {
    let Some(location) = location("migrations_are_recorded_once").await else {
        return;
    };
    run_case(location, |location| async move {
        for _ in 0..2 {
            let store = location.open_store().await.expect("open");
            store.close().await.expect("close");
        }
        let mut conn = admin(&location).await;
        let versions: Vec<i64> =
            sqlx::query("SELECT version FROM ferrite_schema_migrations ORDER BY version")
                .fetch_all(&mut conn)
                .await
                .expect("read migrations")
                .iter()
                .map(|r| r.get(0))
                .collect();
        // Each once, in order, up to the latest (numbers may skip one a parallel branch took).
        assert_eq!(versions.first(), Some(&1), "{versions:?}");
        assert_eq!(versions.last(), Some(&latest_version()), "{versions:?}");
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_schema_is_refused() {
    let Some(location) = location("newer_schema_is_refused").await else {
        return;
    };
    run_case(location, |location| async move {
        location
            .open_store()
            .await
            .expect("open")
            .close()
            .await
            .expect("close");
        let mut conn = admin(&location).await;
        conn.execute(
            "INSERT INTO ferrite_schema_migrations (version, name) VALUES (999, 'future')",
        )
        .await
        .expect("stamp a future version");
        let err = location.open_store().await.expect_err("newer schema");
        assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
        assert!(err.to_string().contains("999"), "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_schema_is_a_clear_error() {
    let Some(location) = location("missing_schema_is_a_clear_error").await else {
        return;
    };
    run_case(location, |location| async move {
        location.schema.drop_schema().await.expect("drop");
        let err = location.open_store().await.expect_err("no schema");
        assert!(err.to_string().contains("no existing schema"), "{err}");
    })
    .await;
}

/// A topic PostgreSQL refuses only when writing (too large for a btree index entry, and
/// incompressible) fails its own commit, not the commits merged into the same group.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn statement_failure_in_a_group_fails_only_its_request() {
    let Some(location) = location("statement_failure_in_a_group_fails_only_its_request").await
    else {
        return;
    };
    run_case(location, |location| async move {
        let store = Arc::new(location.open_store().await.expect("open"));
        // Keeps the writer busy so that the commits below queue up and merge into one group.
        let busy = store.commit(
            (0..5_000)
                .map(|seq| BrokerOp::Enqueue(sample_queued("busy", seq)))
                .collect(),
        );
        let mut x = 0x2545_f491u32;
        let huge_topic: String = (0..12_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect();
        let commits: Vec<_> = (0..20)
            .map(|i| {
                let topic = if i == 7 {
                    huge_topic.clone()
                } else {
                    format!("group/{i}")
                };
                store.commit(vec![
                    BrokerOp::PutRetained(sample_retained(&topic, b"r")),
                    BrokerOp::PutSession(sample_session(&format!("client{i:02}"))),
                ])
            })
            .collect();
        busy.await.expect("busy commit");
        for (i, commit) in commits.into_iter().enumerate() {
            let result = commit.await;
            assert_eq!(result.is_ok(), i != 7, "commit {i}: {result:?}");
        }
        let snapshot = store.load().await.expect("load");
        assert_eq!(snapshot.retained.len(), 19);
        assert_eq!(snapshot.sessions.len(), 19);
        assert!(!snapshot.sessions.iter().any(|s| s.client_id == "client07"));
        store.close().await.expect("close");
    })
    .await;
}

/// Ops are submitted when `commit` is called, so awaiting in another order changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_order_follows_calls_not_awaits() {
    let Some(location) = location("commit_order_follows_calls_not_awaits").await else {
        return;
    };
    run_case(location, |location| async move {
        let store = location.open_store().await.expect("open");
        let first = store.commit(vec![BrokerOp::PutRetained(sample_retained("t", b"1"))]);
        let second = store.commit(vec![BrokerOp::PutRetained(sample_retained("t", b"2"))]);
        second.await.expect("second");
        first.await.expect("first");
        let snapshot = store.load().await.expect("load");
        assert_eq!(snapshot.retained, vec![sample_retained("t", b"2")]);
        store.close().await.expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relaxed_durability_commits_and_loads() {
    let Some(mut location) = location("relaxed_durability_commits_and_loads").await else {
        return;
    };
    location.options.synchronous_commit = false;
    run_case(location, |location| async move {
        let store = location.open_store().await.expect("open");
        store
            .commit(vec![BrokerOp::Enqueue(sample_queued("a", 1))])
            .await
            .expect("commit");
        store.close().await.expect("close");
        let store = location.open_store().await.expect("reopen");
        assert_eq!(
            store.load().await.expect("load").queued,
            vec![sample_queued("a", 1)]
        );
        store.close().await.expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_rows_are_reported_not_panicked_on() {
    let Some(location) = location("corrupt_rows_are_reported_not_panicked_on").await else {
        return;
    };
    run_case(location, |location| async move {
        let store = location.open_store().await.expect("open");
        store
            .commit(vec![BrokerOp::PutSession(sample_session("alpha"))])
            .await
            .expect("commit");
        // What a hand edit or a buggy build might leave: a value outside the model's range.
        let mut conn = admin(&location).await;
        conn.execute(
            "ALTER TABLE broker_sessions DROP CONSTRAINT broker_sessions_expiry_interval_secs_check;
             UPDATE broker_sessions SET expiry_interval_secs = -5",
        )
        .await
        .expect("corrupt a row");
        let err = store.load().await.expect_err("corrupt row");
        assert!(matches!(err, StorageError::Corrupt(_)), "{err:?}");
        assert!(err.to_string().contains("expiry_interval_secs"), "{err}");
        store.close().await.expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_and_commit_after_close_are_closed() {
    let Some(location) = location("load_and_commit_after_close_are_closed").await else {
        return;
    };
    run_case(location, |location| async move {
        let store = location.open_store().await.expect("open");
        store.close().await.expect("close");
        assert!(matches!(store.load().await, Err(StorageError::Closed)));
        assert!(matches!(
            store.commit(vec![]).await,
            Err(StorageError::Closed)
        ));
    })
    .await;
}

/// When the server drops the writer's connection (restart, failover, idle kill), the commit
/// that finds it dead fails and the next one runs on a fresh connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_reconnects_after_its_connection_is_killed() {
    let Some(location) = location("writer_reconnects_after_its_connection_is_killed").await else {
        return;
    };
    run_case(location, |location| async move {
        // A name only this test's connections carry, so it kills nobody else's.
        let app = location.schema.name().to_owned();
        let url = format!("{}&application_name={app}", location.schema.url());
        let store = PostgresStore::open(&url, PgStoreOptions::default())
            .await
            .expect("open");
        store
            .commit(vec![BrokerOp::PutRetained(sample_retained("before", b"b"))])
            .await
            .expect("first commit");

        let mut conn = admin(&location).await;
        let killed: i64 = sqlx::query(
            // In the select list, so it runs only on the filtered rows (the planner may
            // evaluate WHERE conditions in any order).
            "SELECT count(*) FROM (
                 SELECT pg_terminate_backend(pid, 5000) AS killed FROM pg_stat_activity
                 WHERE application_name = $1
             ) AS k WHERE killed",
        )
        .bind(&app)
        .fetch_one(&mut conn)
        .await
        .expect("terminate the store's connections")
        .get(0);
        assert!(killed >= 1, "the writer's connection was found and killed");

        let on_dead = store
            .commit(vec![BrokerOp::PutRetained(sample_retained("lost", b"l"))])
            .await;
        assert!(
            matches!(on_dead, Err(StorageError::Unavailable(_))),
            "{on_dead:?}"
        );
        store
            .commit(vec![BrokerOp::PutRetained(sample_retained("after", b"a"))])
            .await
            .expect("the commit after reconnecting");
        let topics: Vec<String> = store
            .load()
            .await
            .expect("load")
            .retained
            .into_iter()
            .map(|m| m.topic)
            .collect();
        assert_eq!(topics, ["after", "before"]);
        store.close().await.expect("close");
    })
    .await;
}

/// Polls the server's own view of lock waits until some connection waits for `pid`: the
/// test then knows the batch is blocked, without a sleep deciding the interleaving.
async fn wait_until_blocked_by(watcher: &mut PgConnection, pid: i32) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let blocked: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)))",
            )
            .bind(pid)
            .fetch_one(&mut *watcher)
            .await
            .expect("poll lock waits");
            if blocked {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the batch never waited for the other transaction");
}

/// A registry batch waits for another transaction holding one of its records (another
/// node's batch, or any other writer of the table), then decides on what that transaction
/// left behind: the row locks and the placeholder for absent records, driven step by step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_batches_wait_for_other_writers_and_see_their_outcome() {
    let Some(location) =
        location("registry_batches_wait_for_other_writers_and_see_their_outcome").await
    else {
        return;
    };
    run_case(location, |location| async move {
        let store = Arc::new(location.open_store().await.expect("open"));
        for key in ["updated", "deleted", "delete-undone"] {
            let put = Write::put("thing", key, Expect::Absent, "v1".into());
            assert_eq!(
                store.write(vec![put]).await.expect("seed"),
                WriteOutcome::Applied
            );
        }
        let mut other = admin(&location).await;
        let mut watcher = admin(&location).await;
        let other_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut other)
            .await
            .expect("pid");

        let conflict = WriteOutcome::Conflict { index: 0 };
        let applied = WriteOutcome::Applied;
        // (the other transaction's change, how it ends, our batch's put, outcome, record after)
        let scenarios = [
            (
                "INSERT INTO registry VALUES ('thing', 'raced', 1, 'theirs')",
                "COMMIT",
                ("raced", Expect::Absent),
                conflict,
                (1, "theirs"),
            ),
            (
                "INSERT INTO registry VALUES ('thing', 'raced-undone', 1, 'theirs')",
                "ROLLBACK",
                ("raced-undone", Expect::Absent),
                applied,
                (1, "ours"),
            ),
            (
                "INSERT INTO registry VALUES ('thing', 'raced-any', 1, 'theirs')",
                "COMMIT",
                ("raced-any", Expect::Any),
                applied,
                (2, "ours"),
            ),
            (
                "UPDATE registry SET version = 2, doc = 'theirs' WHERE key = 'updated'",
                "COMMIT",
                ("updated", Expect::Version(1)),
                conflict,
                (2, "theirs"),
            ),
            (
                "DELETE FROM registry WHERE key = 'deleted'",
                "COMMIT",
                ("deleted", Expect::Absent),
                applied,
                (1, "ours"),
            ),
            (
                "DELETE FROM registry WHERE key = 'delete-undone'",
                "ROLLBACK",
                ("delete-undone", Expect::Version(1)),
                applied,
                (2, "ours"),
            ),
        ];
        for (change, end, (key, expect), outcome, (version, doc)) in scenarios {
            other.execute("BEGIN").await.expect("begin");
            other.execute(change).await.expect(change);
            let batch = vec![Write::put("thing", key, expect, "ours".into())];
            let writer = tokio::spawn({
                let store = Arc::clone(&store);
                async move { store.write(batch).await }
            });
            wait_until_blocked_by(&mut watcher, other_pid).await;
            other.execute(end).await.expect(end);
            let got = writer.await.expect("writer task").expect("write");
            assert_eq!(got, outcome, "{change}; {end}");
            let record = store.get("thing", key).await.expect("get").expect("record");
            assert_eq!(
                (record.version, record.doc.as_str()),
                (version, doc),
                "{change}; {end}"
            );
        }
        store.close().await.expect("close");
    })
    .await;
}

/// The placeholder rows that lock absent records never outlive their batch, whether it
/// applies or conflicts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_placeholders_never_remain() {
    let Some(location) = location("registry_placeholders_never_remain").await else {
        return;
    };
    run_case(location, |location| async move {
        let store = location.open_store().await.expect("open");
        let write = |batch| store.write(batch);
        let put = |key: &str, expect| Write::put("thing", key, expect, "d".into());
        let check = |key: &str, expect| Write::check("thing", key, expect);
        let cases = [
            (vec![put("a", Expect::Absent)], WriteOutcome::Applied),
            (
                vec![check("x", Expect::Absent), check("y", Expect::Any)],
                WriteOutcome::Applied,
            ),
            (
                vec![check("x", Expect::Absent), check("a", Expect::Absent)],
                WriteOutcome::Conflict { index: 1 },
            ),
            (
                vec![put("b", Expect::Absent), check("a", Expect::Version(9))],
                WriteOutcome::Conflict { index: 1 },
            ),
            (
                vec![
                    put("c", Expect::Absent),
                    Write::delete("thing", "c", Expect::Any),
                ],
                WriteOutcome::Applied,
            ),
            (
                vec![Write::delete("thing", "never", Expect::Any)],
                WriteOutcome::Applied,
            ),
        ];
        for (batch, expected) in cases {
            let shown = format!("{batch:?}");
            assert_eq!(write(batch).await.expect("write"), expected, "{shown}");
        }
        let mut conn = admin(&location).await;
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT key, version FROM registry ORDER BY key")
                .fetch_all(&mut conn)
                .await
                .expect("read registry");
        assert_eq!(rows, [("a".to_owned(), 1)]);
        store.close().await.expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_calls_after_close_are_closed() {
    let Some(location) = location("registry_calls_after_close_are_closed").await else {
        return;
    };
    run_case(location, |location| async move {
        let store = location.open_store().await.expect("open");
        store.close().await.expect("close");
        let put = Write::put("thing", "late", Expect::Any, "d".into());
        assert!(matches!(
            store.get("thing", "k").await,
            Err(StorageError::Closed)
        ));
        assert!(matches!(
            store.list("thing", "", None, 1).await,
            Err(StorageError::Closed)
        ));
        assert!(matches!(
            store.write(vec![put]).await,
            Err(StorageError::Closed)
        ));
        assert!(matches!(store.clear().await, Err(StorageError::Closed)));
    })
    .await;
}
