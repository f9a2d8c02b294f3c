//! Measures the group-commit effect: commits per second with 1 and with 64 concurrent
//! committers, each commit carrying one `Enqueue` op, with `synchronous_commit = on` (each
//! transaction waits for PostgreSQL's WAL flush). With one committer every commit pays its
//! own round trip and flush; with 64 the writer merges whatever is waiting into one
//! transaction of a few set-based statements.
//!
//! ```text
//! FERRITE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/ferrite_test \
//!   cargo run --release -p ferrite-storage-postgres --example group_commit [SECONDS]
//! ```
//!
//! Each run works in a scratch schema that is dropped afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrite_storage::conformance::sample_queued;
use ferrite_storage::{BrokerOp, BrokerStore};
use ferrite_storage_postgres::testing::{ScratchLocation, test_url};

struct RunResult {
    commits: u64,
    elapsed: Duration,
    /// Sum of per-commit latencies, for the mean.
    latency_total: Duration,
}

async fn run(location: &ScratchLocation, committers: u64, duration: Duration) -> RunResult {
    let store = Arc::new(location.open_store().await.expect("open store"));
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
            let client = format!("bench{committers}_{c}");
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
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let duration = Duration::from_secs(seconds);
    if test_url("the group commit benchmark").is_none() {
        std::process::exit(2);
    }
    let location = ScratchLocation::from_env("the group commit benchmark")
        .await
        .expect("FERRITE_TEST_POSTGRES_URL is set");

    println!(
        "group commit benchmark: PostgreSQL, synchronous_commit=on, 1 Enqueue op per commit, {seconds}s per run"
    );
    let mut baseline = None;
    for committers in [1u64, 64] {
        let r = run(&location, committers, duration).await;
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
    if let Err(err) = location.schema.drop_schema().await {
        eprintln!(
            "could not drop scratch schema {}: {err}",
            location.schema.name()
        );
    }
}
