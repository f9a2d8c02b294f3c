//! SQLite-specific behaviour beyond the shared conformance suite: migrations, corrupt rows,
//! submission order, shutdown.

use std::path::{Path, PathBuf};

use ferrite_storage::conformance::{sample_queued, sample_retained, sample_session};
use ferrite_storage::{BrokerOp, BrokerStore, Expect, RegistryStore, StorageError, Write};
use ferrite_storage_embedded::{SqliteOptions, SqliteStore, Synchronous};
use rusqlite::Connection;

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broker.db");
    (dir, path)
}

/// Creates the schema with one valid row of each kind, then closes the store so raw SQL
/// can tamper with the file.
async fn seeded(path: &Path) {
    let store = SqliteStore::open(path, SqliteOptions::default()).expect("open");
    store
        .commit(vec![
            BrokerOp::PutRetained(sample_retained("t", b"p")),
            BrokerOp::PutSession(sample_session("alpha")),
            BrokerOp::Enqueue(sample_queued("alpha", 1)),
        ])
        .await
        .expect("commit");
    store.close().await.expect("close");
}

#[tokio::test]
async fn migrations_are_recorded_once() {
    let (_dir, path) = temp_db();
    for _ in 0..2 {
        let store = SqliteStore::open(&path, SqliteOptions::default()).expect("open");
        store.close().await.expect("close");
    }
    let conn = Connection::open(&path).expect("raw open");
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        rows,
        vec![
            (1, "broker".to_owned()),
            (2, "registry".to_owned()),
            (3, "registry_sequence".to_owned())
        ]
    );
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let (_dir, path) = temp_db();
    seeded(&path).await;
    Connection::open(&path)
        .expect("raw open")
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (999, 'x', 0)",
            [],
        )
        .expect("stamp");
    match SqliteStore::open(&path, SqliteOptions::default()) {
        Err(StorageError::Unavailable(msg)) => assert!(msg.contains("999"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn corrupt_rows_are_reported_not_panicked_on() {
    let tamperings = [
        "UPDATE retained SET qos = 300",
        "UPDATE retained SET retain = 2",
        "UPDATE retained SET payload = 'text, not blob'",
        "UPDATE retained SET topic = CAST(X'FF' AS TEXT)",
        "UPDATE retained SET received_at_ms = 'soon'",
        "UPDATE retained SET expires_at_ms = 1.5",
        "UPDATE sessions SET expiry_interval_secs = -1",
        "UPDATE sessions SET client_id = X'00'",
        "UPDATE sessions SET data = 7",
        "UPDATE queue SET state = 7",
        "UPDATE queue SET seq = -1",
        "UPDATE queue SET properties = 42",
    ];
    for sql in tamperings {
        let (_dir, path) = temp_db();
        seeded(&path).await;
        // Column types are not enforced by SQLite, so wrong types and ranges get in, as
        // they would from a buggy writer or a hand edit.
        Connection::open(&path)
            .expect("raw open")
            .execute_batch(sql)
            .unwrap_or_else(|e| panic!("tamper `{sql}`: {e}"));
        let store = SqliteStore::open(&path, SqliteOptions::default()).expect("open");
        match store.load().await {
            Err(StorageError::Corrupt(msg)) => {
                assert!(!msg.is_empty());
            }
            other => panic!("`{sql}`: expected Corrupt, got {other:?}"),
        }
        store.close().await.expect("close");
    }
}

/// Commits are submitted when `commit()` is called, so order follows calls, not awaits.
#[tokio::test]
async fn commit_order_follows_calls_not_awaits() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path, SqliteOptions::default()).expect("open");
    let put = store.commit(vec![BrokerOp::PutRetained(sample_retained("x", b"1"))]);
    let delete = store.commit(vec![BrokerOp::DeleteRetained { topic: "x".into() }]);
    delete.await.expect("delete");
    put.await.expect("put");
    assert!(store.load().await.expect("load").retained.is_empty());
    store.close().await.expect("close");
}

/// Dropping without close applies what was queued and stops the writer thread; the file is
/// then fully checkpointed (the WAL is gone or empty).
#[tokio::test]
async fn drop_without_close_flushes_and_stops() {
    let (dir, path) = temp_db();
    for mode in [Synchronous::Full, Synchronous::Normal, Synchronous::Off] {
        let opts = SqliteOptions {
            synchronous: mode,
            max_batch_ops: 4,
        };
        let store = SqliteStore::open(&path, opts).expect("open");
        // Not awaited before the drop: submitted at call time, applied by the writer.
        let pending = store.commit(vec![BrokerOp::PutRetained(sample_retained(
            &format!("{mode:?}"),
            b"d",
        ))]);
        drop(pending);
        drop(store);
    }
    let wal = dir.path().join("broker.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0,
        "wal left behind after the last store was dropped"
    );
    let store = SqliteStore::open(&path, SqliteOptions::default()).expect("open");
    assert_eq!(store.load().await.expect("load").retained.len(), 3);
    store.close().await.expect("close");
}

/// `open` on a path whose parent cannot be created reports Unavailable, not a panic.
#[test]
fn open_failure_is_an_error() {
    let (dir, _) = temp_db();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").expect("write");
    match SqliteStore::open(&file.join("sub").join("db"), SqliteOptions::default()) {
        Err(StorageError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // A file that is not a database at all.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x5a; 8192]).expect("write");
    assert!(SqliteStore::open(&junk, SqliteOptions::default()).is_err());
}

/// Loading from a closed store reports Closed.
#[tokio::test]
async fn load_after_close_is_closed() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path, SqliteOptions::default()).expect("open");
    store.close().await.expect("close");
    assert!(matches!(store.load().await, Err(StorageError::Closed)));
}

#[tokio::test]
async fn registry_calls_after_close_are_closed() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path, SqliteOptions::default()).expect("open");
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
}
