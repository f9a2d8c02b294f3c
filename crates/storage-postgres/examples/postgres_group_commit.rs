//! Measures the group-commit effect: commits per second with 1 and with 64 concurrent
//! committers, each commit carrying one `Enqueue` op, with `synchronous_commit = on` (each
//! transaction waits for PostgreSQL's WAL flush). With one committer every commit pays its
//! own round trip and flush; with 64 the writer merges whatever is waiting into one
//! transaction of a few set-based statements.
//!
//! ```text
//! FERRITE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/ferrite_test \
//!   cargo run --release -p ferrite-storage-postgres --example postgres_group_commit [SECONDS] [fenced]
//! ```
//!
//! `fenced`: every commit carries its client's session fence, as a cluster node's do (each
//! group then also reads and share-locks its clients' owner rows).
//!
//! Each run works in a scratch schema that is dropped afterwards.

use std::sync::Arc;
use std::time::Duration;

use ferrite_storage::commit_bench::{BENCH_COMMITTERS, bench_client, group_commit_bench};
use ferrite_storage::{BrokerStore, SessionOwners};

/// The node the benchmark's store writes as (and, fenced, holds the sessions of).
const NODE: &str = "bench";
use ferrite_storage_postgres::testing::{ScratchLocation, test_url};

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let fenced = std::env::args().nth(2).as_deref() == Some("fenced");
    if test_url("the group commit benchmark").is_none() {
        std::process::exit(2);
    }
    let location = ScratchLocation::from_env("the group commit benchmark")
        .await
        .expect("FERRITE_TEST_POSTGRES_URL is set");
    println!(
        "group commit benchmark: PostgreSQL, synchronous_commit=on, 1 Enqueue op per commit{}, {seconds}s per run",
        if fenced { ", fenced" } else { "" }
    );
    if fenced {
        let owners = location.open_store_as(NODE).await.expect("open store");
        for committers in BENCH_COMMITTERS {
            for c in 0..committers {
                owners
                    .claim_session(&bench_client(committers, c), NODE, 0)
                    .await
                    .expect("claim");
            }
        }
        owners.close().await.expect("close");
    }
    let open = || async {
        Arc::new(location.open_store_as(NODE).await.expect("open store")) as Arc<dyn BrokerStore>
    };
    group_commit_bench(open, Duration::from_secs(seconds), fenced).await;
    if let Err(err) = location.schema.drop_schema().await {
        eprintln!(
            "could not drop scratch schema {}: {err}",
            location.schema.name()
        );
    }
}
