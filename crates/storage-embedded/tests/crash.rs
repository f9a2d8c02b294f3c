//! Kill -9 durability proof: a child process commits batches from several tasks and prints
//! "committed T K" after each awaited commit; the parent SIGKILLs it mid-stream, reopens the
//! database and checks that every batch the child reported committed is there.
//!
//! The child is this test binary re-invoked on the ignored `crash_child` test with
//! `FERRITE_CRASH_DB` set. SIGKILL leaves the OS page cache intact, so this proves the
//! commit protocol (WAL append + commit record before answering), not the fsync itself;
//! `synchronous = Full` is what covers power loss.

// Tests spawn helper servers and sign with real time: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferrite_storage::conformance::{sample_queued, sample_retained};
use ferrite_storage::{BrokerOp, BrokerStore};
use ferrite_storage_embedded::{SqliteOptions, SqliteStore};

const DB_ENV: &str = "FERRITE_CRASH_DB";
const CHILD_TASKS: u64 = 8;
/// Bounds the child if the parent never kills it.
const CHILD_MAX_ROUNDS: u64 = 20_000;
/// Reported commits to wait for before the kill.
const KILL_AFTER: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of committed_batches_survive_sigkill; runs only when re-invoked"]
async fn crash_child() {
    let Ok(path) = std::env::var(DB_ENV) else {
        return;
    };
    let store = Arc::new(
        SqliteStore::open(path.as_ref(), SqliteOptions::default()).expect("child: open store"),
    );
    let mut tasks = Vec::new();
    for task in 0..CHILD_TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for round in 0..CHILD_MAX_ROUNDS {
                store
                    .commit(vec![
                        BrokerOp::Enqueue(sample_queued(&format!("crash{task}"), round)),
                        BrokerOp::PutRetained(sample_retained(
                            &format!("crash/{task}/{round}"),
                            &[0u8; 256],
                        )),
                    ])
                    .await
                    .expect("child: commit");
                // Straight to the fd (not `println!`, which the test harness may capture),
                // and only after the commit resolved.
                let mut out = std::io::stdout().lock();
                writeln!(out, "committed {task} {round}").expect("child: write");
                out.flush().expect("child: flush");
            }
        }));
    }
    for task in tasks {
        task.await.expect("child task");
    }
}

#[test]
fn committed_batches_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("crash.db");
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .args(["crash_child", "--exact", "--ignored", "--nocapture"])
        .env(DB_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");

    // Lines arrive on a thread so the parent can time out instead of blocking forever.
    let stdout = child.stdout.take().expect("child stdout");
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut reported: BTreeSet<(u64, u64)> = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while reported.len() < KILL_AFTER {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(remaining) {
            Ok(line) => {
                if let Some(key) = parse_committed(&line) {
                    reported.insert(key);
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "child stopped or stalled after {} commits before the kill",
                    reported.len()
                );
            }
        }
    }
    child.kill().expect("SIGKILL child");
    let status = child.wait().expect("reap child");
    assert!(
        !status.success(),
        "child must die by the signal, got {status}"
    );
    // Lines already in the pipe were printed after their commits resolved: they count too.
    reader.join().expect("reader thread");
    reported.extend(lines_rx.try_iter().filter_map(|l| parse_committed(&l)));

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let snapshot = rt.block_on(async {
        let store = SqliteStore::open(&db, SqliteOptions::default()).expect("reopen after crash");
        let snapshot = store.load().await.expect("load after crash");
        store.close().await.expect("close");
        snapshot
    });
    let queued: BTreeSet<(u64, u64)> = snapshot
        .queued
        .iter()
        .map(|q| {
            let task = q
                .client_id
                .trim_start_matches("crash")
                .parse()
                .expect("task id");
            (task, q.seq)
        })
        .collect();
    let retained: BTreeSet<String> = snapshot.retained.iter().map(|m| m.topic.clone()).collect();
    for &(task, round) in &reported {
        assert!(
            queued.contains(&(task, round)),
            "queue entry of reported commit {task}/{round} lost"
        );
        assert!(
            retained.contains(&format!("crash/{task}/{round}")),
            "retained message of reported commit {task}/{round} lost"
        );
    }
    // Atomicity across the crash: each batch is both of its rows or neither.
    assert_eq!(queued.len(), retained.len(), "a batch landed half");
    eprintln!(
        "sigkill test: {} commits reported, {} found after reopen",
        reported.len(),
        queued.len()
    );
}

fn parse_committed(line: &str) -> Option<(u64, u64)> {
    let mut parts = line.strip_prefix("committed ")?.split(' ');
    let task = parts.next()?.parse().ok()?;
    let round = parts.next()?.parse().ok()?;
    Some((task, round))
}
