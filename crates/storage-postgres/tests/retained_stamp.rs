//! Retained rows written by several nodes (stores opened with different `node`s on one
//! schema): a write replaces the row only when its stamp (received_at_ms, node) is not
//! older, so concurrent writers converge whatever order their commits reach PostgreSQL in.
//! Skipped loudly without `FERRITE_TEST_POSTGRES_URL`.

use ferrite_storage::conformance::{run_case, sample_retained};
use ferrite_storage::{BrokerOp, BrokerStore, StoredMessage};
use ferrite_storage_postgres::testing::ScratchLocation;
use ferrite_storage_postgres::{PgStoreOptions, PostgresStore};

fn at(payload: &'static [u8], ms: i64) -> BrokerOp {
    BrokerOp::PutRetained(StoredMessage {
        received_at_ms: ms,
        ..sample_retained("t", payload)
    })
}

async fn stored(store: &PostgresStore) -> Vec<u8> {
    let snapshot = store.load().await.expect("load");
    snapshot.retained[0].payload.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_stamp_wins_whatever_order_writes_arrive_in() {
    let Some(location) = ScratchLocation::from_env("the PostgreSQL retained stamp test").await
    else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let open = |node: &str| {
            let options = PgStoreOptions {
                node: node.to_owned(),
                ..location.options.clone()
            };
            PostgresStore::open(&url, options)
        };
        let a = open("node-a").await.expect("open a");
        let b = open("node-b").await.expect("open b");

        b.commit(vec![at(b"b@100", 100)]).await.expect("b");
        // Same millisecond, smaller node id: older.
        a.commit(vec![at(b"a@100", 100)]).await.expect("a");
        assert_eq!(stored(&a).await, b"b@100");
        // An earlier write arriving late is ignored.
        a.commit(vec![at(b"a@99", 99)]).await.expect("a");
        assert_eq!(stored(&a).await, b"b@100");
        // A later one replaces.
        a.commit(vec![at(b"a@101", 101)]).await.expect("a");
        assert_eq!(stored(&b).await, b"a@101");
        // The same node at the same millisecond replaces its own (its order is the truth).
        a.commit(vec![at(b"a@101 again", 101)]).await.expect("a");
        assert_eq!(stored(&b).await, b"a@101 again");
        a.close().await.expect("close a");
        b.close().await.expect("close b");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tombstone_keeps_older_puts_out_until_it_is_purged_past_the_horizon() {
    let Some(location) = ScratchLocation::from_env("the PostgreSQL retained tombstone test").await
    else {
        return;
    };
    run_case(location, |location| async move {
        let a = location.open_store_as("node-a").await.expect("open a");
        let b = location.open_store_as("node-b").await.expect("open b");
        // A cluster's delete on b (a tombstone: empty payload), then a's older put arrives.
        b.commit(vec![at(b"", 200)]).await.expect("b");
        a.commit(vec![at(b"a@150", 150)]).await.expect("a");
        assert_eq!(stored(&a).await, b"");
        // A newer put replaces the tombstone.
        a.commit(vec![at(b"a@201", 201)]).await.expect("a");
        assert_eq!(stored(&a).await, b"a@201");

        // Tombstones older than the horizon behind the newest one a node writes are purged.
        let old = StoredMessage {
            received_at_ms: 1_000,
            ..sample_retained("old", b"")
        };
        let horizon = ferrite_storage::RETAINED_TOMBSTONE_HORIZON_MS;
        let new = StoredMessage {
            received_at_ms: 1_000 + horizon + 1,
            ..sample_retained("new", b"")
        };
        b.commit(vec![BrokerOp::PutRetained(old)]).await.expect("b");
        b.commit(vec![BrokerOp::PutRetained(new)]).await.expect("b");
        // The purge runs after that group was answered, before the writer takes the next.
        b.commit(vec![]).await.expect("barrier");
        let mut left: Vec<String> = b
            .load()
            .await
            .expect("load")
            .retained
            .into_iter()
            .map(|m| m.topic)
            .collect();
        left.sort();
        assert_eq!(left, ["new", "t"]);
        a.close().await.expect("close a");
        b.close().await.expect("close b");
    })
    .await;
}
