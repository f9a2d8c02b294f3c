//! Keeping live connections' permissions current. Registry changes arrive on the change
//! feed; the changes already waiting are taken together, the connections they affect are
//! looked up in the live index, deduplicated, and resolved again, a bounded number at a
//! time. New permissions replace the old ones (and re-index the connection); a connection
//! no longer allowed to connect is revoked. A subscriber that fell behind cannot know what
//! it missed, so it resolves every connection again. Custom-authorized connections are also
//! asked again on their own timers.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferrite_types::{ChangeSubscription, Received, RegistryChange};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::authorizer::{Inner, Refusal};
use crate::changes::{Selector, affected};
use crate::live::Tracked;

/// Connections resolved at once: enough to overlap the registry's reads, few enough that a
/// change affecting every device does not flood the store.
const CONCURRENCY: usize = 16;

/// Changes taken together at most; more wait for the next batch.
const MAX_BATCH: usize = 1024;

/// The connections a batch of changes affects.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    everything: bool,
    selectors: HashSet<Selector>,
}

impl Batch {
    pub fn add(&mut self, received: Received) {
        match received {
            Received::Change(change) if matches!(*change, RegistryChange::Cleared) => {
                self.everything = true;
            }
            Received::Change(change) => {
                if let Some(selector) = affected(&change) {
                    self.selectors.insert(selector);
                }
            }
            Received::Missed(n) => {
                tracing::warn!(
                    missed = n,
                    "registry changes were missed; resolving every connection again"
                );
                self.everything = true;
            }
        }
    }
}

impl Inner {
    /// Applies the changes heard on `changes` until `cancel` fires or the feed ends.
    pub(crate) async fn refresh_on_changes(
        self: &Arc<Self>,
        mut changes: ChangeSubscription,
        cancel: CancellationToken,
    ) {
        loop {
            let first = tokio::select! {
                _ = cancel.cancelled() => return,
                received = changes.recv() => match received {
                    Some(r) => r,
                    None => return,
                },
            };
            let mut batch = Batch::default();
            batch.add(first);
            for _ in 1..MAX_BATCH {
                match changes.try_recv() {
                    Some(r) => batch.add(r),
                    None => break,
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                () = self.apply(batch) => {}
            }
        }
    }

    /// Resolves again the connections `batch` affects.
    pub(crate) async fn apply(self: &Arc<Self>, batch: Batch) {
        // Before the lookups: a connection resolved meanwhile and indexed after them sees
        // the count move and resolves itself again.
        self.changes_seen.fetch_add(1, Ordering::SeqCst);
        let conns = if batch.everything {
            self.live.current()
        } else {
            let mut found: HashMap<u64, Tracked> = HashMap::new();
            for selector in &batch.selectors {
                for tracked in self.live.under(&selector.key, |c| selector.keeps(c)) {
                    found.entry(tracked.0).or_insert(tracked);
                }
            }
            found.into_values().collect()
        };
        self.refresh_many(conns).await;
    }

    /// Resolves `conns` again, at most [`CONCURRENCY`] at a time.
    async fn refresh_many(self: &Arc<Self>, conns: Vec<Tracked>) {
        if let [one] = conns.as_slice() {
            return self.refresh_one(one).await;
        }
        let mut running = JoinSet::new();
        for conn in conns {
            if running.len() >= CONCURRENCY {
                running.join_next().await;
            }
            let this = self.clone();
            running.spawn(async move { this.refresh_one(&conn).await });
        }
        while running.join_next().await.is_some() {}
    }

    /// Resolves one connection again: new permissions, or revocation.
    pub(crate) async fn refresh_one(&self, (id, conn): &Tracked) {
        let Some(perms) = conn.perms.upgrade() else {
            self.live.remove(*id);
            return;
        };
        match self.resolve(&conn.basis, &conn.facts).await {
            Ok(resolved) => {
                perms.replace(resolved.snapshot);
                self.live.reindex(*id, resolved.keys);
            }
            Err(Refusal::Denied(why)) => {
                tracing::info!(client_id = %conn.facts.client_id, why, "closing connection: no longer authorized");
                conn.revoker.revoke();
                self.live.remove(*id);
            }
            Err(Refusal::Unavailable(e)) => {
                tracing::warn!(client_id = %conn.facts.client_id, error = %e, "cannot refresh permissions; keeping the current ones");
            }
        }
    }

    /// A custom-authorized connection asks its authorizer again every `refresh` and is
    /// closed after `disconnect` (AWS: `CUSTOMAUTH_TTL_EXPIRATION`).
    pub(crate) fn custom_timers(
        self: &Arc<Self>,
        conn: Tracked,
        ended: CancellationToken,
        refresh: Duration,
        disconnect: Duration,
    ) -> impl Future<Output = ()> + Send + 'static {
        let this = self.clone();
        async move {
            let deadline = tokio::time::Instant::now() + disconnect;
            loop {
                tokio::select! {
                    _ = ended.cancelled() => return,
                    _ = conn.1.revoker.closed() => return,
                    _ = tokio::time::sleep_until(deadline) => {
                        tracing::info!(client_id = %conn.1.facts.client_id, "custom authorizer disconnectAfterInSeconds reached");
                        conn.1.revoker.expire();
                        return;
                    }
                    _ = tokio::time::sleep(refresh) => this.refresh_one(&conn).await,
                }
            }
        }
    }
}
