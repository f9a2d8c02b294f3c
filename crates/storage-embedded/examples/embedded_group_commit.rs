//! Measures the group-commit effect: commits per second with 1 and with 64 concurrent
//! committers, each commit carrying one `Enqueue` op, with `synchronous = Full` (one fsync per
//! transaction). With one committer every commit pays its own fsync; with 64 the writer thread
//! merges whatever is waiting into one transaction, so many commits share an fsync.
//!
//! ```text
//! cargo run --release -p ferrite-storage-embedded --example embedded_group_commit [DIR] [SECONDS]
//! ```
//!
//! DIR (default: the system temp dir) should be on the disk you care about: on tmpfs the
//! fsync is free and the numbers say nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferrite_storage::BrokerStore;
use ferrite_storage::commit_bench::group_commit_bench;
use ferrite_storage_embedded::{SqliteOptions, SqliteStore, Synchronous};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map_or_else(std::env::temp_dir, PathBuf::from);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    println!(
        "group commit benchmark: synchronous=FULL, 1 Enqueue op per commit, {seconds}s per run, dir {}",
        dir.display()
    );
    let bench_dir = tempfile::tempdir_in(&dir).expect("create bench dir");
    let mut run = 0;
    let open = || {
        run += 1;
        let path = bench_dir.path().join(format!("bench-{run}.db"));
        async move {
            let opts = SqliteOptions {
                synchronous: Synchronous::Full,
                ..SqliteOptions::default()
            };
            Arc::new(SqliteStore::open(&path, opts).expect("open store")) as Arc<dyn BrokerStore>
        }
    };
    group_commit_bench(open, Duration::from_secs(seconds), false).await;
}
