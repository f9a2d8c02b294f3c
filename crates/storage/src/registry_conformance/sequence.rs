//! Cases for [`RegistryStore::next_sequence`]: increasing, unique under concurrency, and
//! never handed out again, neither after `clear` nor after a reopen.

use std::sync::Arc;

use tokio::task::JoinSet;

use super::{RegistryLocation, join_all, open_ok, put};
use crate::{Expect, RegistryStore};

async fn next(store: &dyn RegistryStore) -> u64 {
    match store.next_sequence().await {
        Ok(n) => n,
        Err(err) => panic!("next_sequence failed: {err}"),
    }
}

/// Each number is above the one before (0 is never one), whatever else the store does
/// between calls; `clear` does not start them again.
pub async fn sequence_increases(store: &dyn RegistryStore) {
    let mut last = 0;
    for i in 0..50 {
        if i == 20 {
            let batch = vec![put("s", Expect::Any, "doc")];
            assert!(
                store.write(batch).await.is_ok(),
                "a write between sequence numbers"
            );
        }
        if i == 30 {
            store.clear().await.expect("clear");
        }
        let n = next(store).await;
        assert!(n > last, "sequence went from {last} to {n}");
        last = n;
    }
}

/// Concurrent callers never get the same number.
pub async fn concurrent_sequences_are_unique(store: Arc<dyn RegistryStore>) {
    const TASKS: usize = 8;
    const EACH: usize = 25;
    let mut tasks = JoinSet::new();
    for _ in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let mut got = Vec::with_capacity(EACH);
            for _ in 0..EACH {
                got.push(store.next_sequence().await.map_err(|e| e.to_string())?);
            }
            // Each caller's own numbers increase.
            if got.windows(2).any(|w| w[0] >= w[1]) {
                return Err(format!("one caller's numbers do not increase: {got:?}"));
            }
            Ok(got)
        });
    }
    let mut all: Vec<u64> = join_all(tasks).await.into_iter().flatten().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        all.len(),
        TASKS * EACH,
        "a sequence number was handed out twice"
    );
}

/// A reopened store (closed or only dropped) continues above every number handed out before.
pub async fn sequence_survives_reopen<L: RegistryLocation>(location: &L) {
    let store = open_ok(location).await;
    let mut last = 0;
    for _ in 0..3 {
        last = next(&*store).await;
    }
    location.close(store).await.expect("close");

    let store = open_ok(location).await;
    let after_close = next(&*store).await;
    assert!(
        after_close > last,
        "{after_close} after a reopen, {last} before"
    );
    drop(store); // no close

    let store = open_ok(location).await;
    let after_drop = next(&*store).await;
    assert!(
        after_drop > after_close,
        "{after_drop} after a reopen, {after_close} before"
    );
    location.close(store).await.expect("close");
}
