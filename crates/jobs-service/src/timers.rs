//! Durable timers: what the jobs service must do at a wall-clock time (time out an execution,
//! roll out the next batch, start or end a scheduled job), stored in the registry's store so
//! they survive a restart and are shared by every node of a cluster.
//!
//! A timer is one record of kind `job-timer` keyed `{due:016}/{action id}`, so listing the
//! kind from the start lists timers in due order. Every node may run [`Jobs::run_timers`];
//! a node *claims* a due timer with one conditional batch that deletes the record at the
//! version it read and writes it again at `now + LEASE_MS` (a lease). Only one node's batch
//! applies, so exactly one node acts; it deletes the lease when done. A node that dies while
//! acting leaves the lease, which falls due and is claimed again: actions are written to be
//! repeatable (each re-reads what it changes and writes conditionally), so acting twice
//! changes nothing twice.
//!
//! Writes that create a reason for a timer carry the timer in the same batch (an execution
//! started with a timeout, a job created with a schedule or a rollout), so the two are
//! durable together. Timers no longer needed are left to fire and find nothing to do.

use std::time::Duration;

use ferrite_registry::{decode, encode};
use ferrite_storage::{Expect, Write, WriteOutcome};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::kinds::TIMER;
use crate::{Jobs, JobsError};

/// How long a claim lasts before another node may take the timer over (wall time).
const LEASE_MS: i64 = 30_000;
/// How often a node looks for timers other nodes set (its own wake it at once).
const POLL_MS: i64 = 2_000;
/// Timers read per store call.
const PAGE: usize = 100;
/// Claims after which a timer whose action keeps failing is dropped (about five minutes of
/// leases): a broken timer must not be retried forever.
const MAX_CLAIMS: u32 = 10;

/// What a timer does when it falls due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub(crate) enum Action {
    /// Times out execution `execution_number` of `job` on `thing` if its in-progress or
    /// step timer has run out.
    #[serde(rename_all = "camelCase")]
    Timeout {
        thing: String,
        job: String,
        execution_number: u64,
    },
    /// Creates the next batch of a rate-limited rollout.
    Rollout { job: String },
    /// Starts a scheduled job at its `startTime`.
    Start { job: String },
    /// Applies a job's `endBehavior` at its `endTime`.
    End { job: String },
}

impl Action {
    /// Unique per purpose, so one purpose is one timer however often it is set.
    fn id(&self) -> String {
        match self {
            Action::Timeout {
                thing,
                job,
                execution_number,
            } => format!("timeout/{thing}/{job}/{execution_number}"),
            Action::Rollout { job } => format!("rollout/{job}"),
            Action::Start { job } => format!("start/{job}"),
            Action::End { job } => format!("end/{job}"),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimerDoc {
    #[serde(flatten)]
    action: Action,
    /// How often it was claimed (more than once: a node died or failed acting on it).
    #[serde(default)]
    claims: u32,
}

fn timer_key(due_ms: i64, action: &Action) -> String {
    format!("{:016}/{}", due_ms.max(0), action.id())
}

/// The due time a timer key starts with.
fn due_of(key: &str) -> Option<i64> {
    key.split_once('/')?.0.parse().ok()
}

/// The write that sets `action` for `due_ms` (in the batch that makes it needed).
pub(crate) fn schedule(action: &Action, due_ms: i64) -> Write {
    let doc = TimerDoc {
        action: action.clone(),
        claims: 0,
    };
    Write::put(TIMER, &timer_key(due_ms, action), Expect::Any, encode(&doc))
}

/// The write that drops `action` set for `due_ms`.
pub(crate) fn unschedule(action: &Action, due_ms: i64) -> Write {
    Write::delete(TIMER, &timer_key(due_ms, action), Expect::Any)
}

impl Jobs {
    /// Tells the timer task a timer may now be due sooner than it thought.
    pub(crate) fn wake_timers(&self) {
        self.timer_wake.notify_one();
    }

    /// Runs every timer due now (claiming each first) and returns when the next one is due.
    pub async fn run_due_timers(&self) -> Result<Option<i64>, JobsError> {
        let mut after: Option<String> = None;
        loop {
            let page = self.store().list(TIMER, "", after.as_deref(), PAGE).await?;
            for r in &page.records {
                let now = self.clock.now_ms();
                let due = due_of(&r.key).unwrap_or(0);
                if due > now {
                    return Ok(Some(due));
                }
                let mut doc: TimerDoc = match decode(r) {
                    Ok(doc) => doc,
                    Err(e) => {
                        tracing::error!(error = %e, key = %r.key, "dropping an unreadable jobs timer");
                        let drop = Write::delete(TIMER, &r.key, Expect::Version(r.version));
                        self.store().write(vec![drop]).await?;
                        continue;
                    }
                };
                if doc.claims >= MAX_CLAIMS {
                    tracing::error!(action = ?doc.action, claims = doc.claims, "dropping a jobs timer that keeps failing");
                    let drop = Write::delete(TIMER, &r.key, Expect::Version(r.version));
                    self.store().write(vec![drop]).await?;
                    continue;
                }
                doc.claims += 1;
                let lease = timer_key(now + LEASE_MS, &doc.action);
                let claim = vec![
                    Write::delete(TIMER, &r.key, Expect::Version(r.version)),
                    Write::put(TIMER, &lease, Expect::Absent, encode(&doc)),
                ];
                if !matches!(self.store().write(claim).await?, WriteOutcome::Applied) {
                    // Another node claimed it (or set it again meanwhile): not ours.
                    continue;
                }
                match self.act(&doc.action).await {
                    Ok(()) => {
                        // The lease is at version 1 unless the action set the same timer
                        // for the very same time: then it is the next timer, and stays.
                        self.store()
                            .write(vec![Write::delete(TIMER, &lease, Expect::Version(1))])
                            .await?;
                    }
                    Err(e) => tracing::warn!(
                        error = %e, action = ?doc.action, claims = doc.claims,
                        "a jobs timer failed; it runs again when its lease ends"
                    ),
                }
            }
            match page.next_after {
                Some(k) => after = Some(k),
                None => return Ok(None),
            }
        }
    }

    /// Runs timers as they fall due until `cancel`: the one task of a node that acts on
    /// timers. Timers due while the node was down run at once.
    pub async fn run_timers(self, cancel: CancellationToken) {
        loop {
            let next = match self.run_due_timers().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot run the jobs timers");
                    None
                }
            };
            let now = self.clock.now_ms();
            let wait = next.map_or(POLL_MS, |due| (due - now).clamp(0, POLL_MS));
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.timer_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            }
        }
    }

    async fn act(&self, action: &Action) -> Result<(), JobsError> {
        match action {
            Action::Timeout {
                thing,
                job,
                execution_number,
            } => self.time_out(thing, job, *execution_number).await,
            Action::Rollout { job } => self.rollout_step(job).await,
            Action::Start { job } => self.start_scheduled(job).await,
            Action::End { job } => self.end_scheduled(job).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_claim_of_a_node_that_died_runs_again_when_its_lease_ends() {
        use std::sync::Arc;

        use ferrite_registry::{EndpointConfig, Registry};
        use ferrite_storage::RegistryStore;
        use ferrite_storage_memory::MemoryStore;
        use ferrite_types::Clock;

        const T0: i64 = 1_796_515_200_000;
        let store: Arc<dyn RegistryStore> = Arc::new(MemoryStore::new());
        let registry = Registry::new(store.clone(), EndpointConfig::localhost());
        let jobs = Jobs::new(store.clone(), registry).with_clock(Clock::following_tokio(T0));
        // A start timer for a job that does not exist: acting is a no-op that succeeds.
        let action = Action::Start { job: "gone".into() };
        store.write(vec![schedule(&action, T0)]).await.unwrap();
        // A node claims it and dies before acting: the lease is all that is left.
        let page = store.list(TIMER, "", None, 10).await.unwrap();
        let r = &page.records[0];
        let mut doc: TimerDoc = decode(r).unwrap();
        doc.claims += 1;
        let lease = timer_key(T0 + LEASE_MS, &doc.action);
        store
            .write(vec![
                Write::delete(TIMER, &r.key, Expect::Version(r.version)),
                Write::put(TIMER, &lease, Expect::Absent, encode(&doc)),
            ])
            .await
            .unwrap();
        assert_eq!(jobs.run_due_timers().await.unwrap(), Some(T0 + LEASE_MS));
        tokio::time::advance(std::time::Duration::from_millis(LEASE_MS as u64)).await;
        // Another node takes it over, acts, and it is gone.
        assert_eq!(jobs.run_due_timers().await.unwrap(), None);
        assert!(
            store
                .list(TIMER, "", None, 10)
                .await
                .unwrap()
                .records
                .is_empty()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unreadable_and_hopeless_timers_are_dropped() {
        use std::sync::Arc;

        use ferrite_registry::{EndpointConfig, Registry};
        use ferrite_storage::RegistryStore;
        use ferrite_storage_memory::MemoryStore;

        let store: Arc<dyn RegistryStore> = Arc::new(MemoryStore::new());
        let registry = Registry::new(store.clone(), EndpointConfig::localhost());
        let jobs = Jobs::new(store.clone(), registry);
        let hopeless = TimerDoc {
            action: Action::Rollout { job: "j".into() },
            claims: MAX_CLAIMS,
        };
        store
            .write(vec![
                Write::put(TIMER, "0000000000000001/x", Expect::Any, "not json".into()),
                Write::put(
                    TIMER,
                    &timer_key(2, &hopeless.action),
                    Expect::Any,
                    encode(&hopeless),
                ),
            ])
            .await
            .unwrap();
        assert_eq!(jobs.run_due_timers().await.unwrap(), None);
        assert!(
            store
                .list(TIMER, "", None, 10)
                .await
                .unwrap()
                .records
                .is_empty()
        );
    }

    #[test]
    fn keys_list_in_due_order_and_name_their_purpose() {
        let a = Action::Timeout {
            thing: "t".into(),
            job: "j".into(),
            execution_number: 2,
        };
        assert_eq!(timer_key(1_234, &a), "0000000000001234/timeout/t/j/2");
        assert!(timer_key(99, &a) < timer_key(100, &Action::Start { job: "a".into() }));
        assert_eq!(
            due_of(&timer_key(1_796_515_200_000, &a)),
            Some(1_796_515_200_000)
        );
        let doc = TimerDoc {
            action: Action::Rollout { job: "j".into() },
            claims: 1,
        };
        let json = encode(&doc);
        assert_eq!(json, r#"{"action":"rollout","job":"j","claims":1}"#);
    }
}
