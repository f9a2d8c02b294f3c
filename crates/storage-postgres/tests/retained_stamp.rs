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
