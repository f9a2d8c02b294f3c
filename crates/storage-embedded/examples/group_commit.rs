//! Measures the group-commit effect: commits per second with 1 and with 64 concurrent
//! committers, each commit carrying one `Enqueue` op, with `synchronous = Full` (one fsync per
//! transaction). With one committer every commit pays its own fsync; with 64 the writer thread
//! merges whatever is waiting into one transaction, so many commits share an fsync.
//!
//! ```text
//! cargo run --release -p ferrite-storage-embedded --example group_commit [DIR] [SECONDS]
//! ```
//!
//! DIR (default: the system temp dir) should be on the disk you care about: on tmpfs the
//! fsync is free and the numbers say nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrite_storage::conformance::sample_queued;
use ferrite_storage::{BrokerOp, BrokerStore};
use ferrite_storage_embedded::{SqliteOptions, SqliteStore, Synchronous};

struct RunResult {
    commits: u64,
    elapsed: Duration,
    /// Sum of per-commit latencies, for the mean.
    latency_total: Duration,
}

async fn run(dir: &std::path::Path, committers: u64, duration: Duration) -> RunResult {
    let bench_dir = tempfile::tempdir_in(dir).expect("create bench dir");
    let store = Arc::new(
        SqliteStore::open(
            &bench_dir.path().join("bench.db"),
            SqliteOptions {
                synchronous: Synchronous::Full,
                ..SqliteOptions::default()
            },
        )
        .expect("open store"),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let latency_ns = Arc::new(AtomicU64::new(0));

    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..committers {
        let (store, stop, commits, latency_ns) = (
            Arc::clone(&store),
            Arc::clone(&stop),
            Arc::clone(&commits),
            Arc::clone(&latency_ns),
        );
        tasks.push(tokio::spawn(async move {
            let client = format!("bench{c}");
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                store
                    .commit(vec![BrokerOp::Enqueue(sample_queued(&client, seq))])
                    .await
                    .expect("commit");
                latency_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                commits.fetch_add(1, Ordering::Relaxed);
                seq += 1;
            }
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("committer task");
    }
    let elapsed = start.elapsed();
    store.close().await.expect("close");
    RunResult {
        commits: commits.load(Ordering::Relaxed),
        elapsed,
        latency_total: Duration::from_nanos(latency_ns.load(Ordering::Relaxed)),
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map_or_else(std::env::temp_dir, PathBuf::from);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let duration = Duration::from_secs(seconds);

    println!(
        "group commit benchmark: synchronous=FULL, 1 Enqueue op per commit, {seconds}s per run, dir {}",
        dir.display()
    );
    let mut baseline = None;
    for committers in [1u64, 64] {
        let r = run(&dir, committers, duration).await;
        let rate = r.commits as f64 / r.elapsed.as_secs_f64();
        let mean_latency = r.latency_total.as_secs_f64() * 1e3 / r.commits.max(1) as f64;
        let speedup = baseline.map_or(String::new(), |b: f64| format!("  ({:.1}x)", rate / b));
        baseline.get_or_insert(rate);
        println!(
            "{committers:>3} committer(s): {:>9} commits in {:.2}s = {rate:>10.0} commits/s, mean latency {mean_latency:.3} ms{speedup}",
            r.commits,
            r.elapsed.as_secs_f64()
        );
    }
}
