//! The group-commit measurement both backends' `*_group_commit` examples run: commits per
//! second and mean latency with 1 and with 64 concurrent committers, each commit carrying one
//! `Enqueue` op. One committer pays a full durable commit each time; 64 show how much the
//! backend's group commit merges. With `fenced`, each commit carries a [`SessionFence`] for
//! its client (epoch 1), as a cluster node's commits do; the store must hold those claims.

// A benchmark driver (feature `conformance`): committers are spawned and awaited here.
#![allow(clippy::disallowed_methods)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::conformance::sample_queued;
use crate::{BrokerOp, BrokerStore, SessionFence};

/// The client id of committer `c` of a run with `committers`: a fenced run's claims must be
/// made for these before it starts.
pub fn bench_client(committers: u64, c: u64) -> String {
    format!("bench{committers}_{c}")
}

/// The numbers of committers the runs use, in order.
pub const BENCH_COMMITTERS: [u64; 2] = [1, 64];

struct Run {
    commits: u64,
    elapsed: Duration,
    /// Sum of per-commit latencies, for the mean.
    latency_total: Duration,
}

async fn run(
    store: Arc<dyn BrokerStore>,
    committers: u64,
    duration: Duration,
    fenced: bool,
) -> Run {
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
            let client = bench_client(committers, c);
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ops = vec![BrokerOp::Enqueue(sample_queued(&client, seq))];
                if fenced {
                    let fence = SessionFence {
                        client_id: client.clone(),
                        epoch: 1,
                    };
                    let refused = store.commit_fenced(ops, vec![fence]).await.expect("commit");
                    assert!(refused.is_empty(), "the bench's claims are missing");
                } else {
                    store.commit(ops).await.expect("commit");
                }
                latency_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                commits.fetch_add(1, Ordering::Relaxed);
                seq += 1;
            }
        }));
    }
    // A timed measurement window, not synchronisation: the committers run until it ends.
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("committer task");
    }
    let elapsed = start.elapsed();
    store.close().await.expect("close");
    Run {
        commits: commits.load(Ordering::Relaxed),
        elapsed,
        latency_total: Duration::from_nanos(latency_ns.load(Ordering::Relaxed)),
    }
}

/// Runs 1 and then 64 committers for `duration` each, on a fresh store from `open` per run,
/// and prints one line per run.
pub async fn group_commit_bench<F, Fut>(mut open: F, duration: Duration, fenced: bool)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn BrokerStore>>,
{
    let mut baseline = None;
    for committers in BENCH_COMMITTERS {
        let r = run(open().await, committers, duration, fenced).await;
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
