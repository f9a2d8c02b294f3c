//! Who runs a task: a lease in the task's document naming the owning node and process
//! instance, and until when. It follows the jobs timers (`ferrite-jobs-service`'s
//! `timers.rs`): a runner claims a task with one write conditional on the version it read, so
//! of several runners only one claim applies; the owner renews the lease while the task runs
//! and every write it makes checks it still holds it; a lease that lapses (its owner died or
//! hangs) may be claimed by any runner. The timers re-key a record to a due time; a task
//! keeps its key (the task id), so the lease is a field here and the code is not shared.

use serde::{Deserialize, Serialize};

/// How long a lease lasts unless renewed (wall time).
pub const LEASE_MS: i64 = 30_000;
/// How often the owner renews it: well inside the lease, so a slow store call or two do not
/// lose it.
pub const RENEW_MS: i64 = LEASE_MS / 3;
/// How often a runner looks for tasks whose lease lapsed.
pub const POLL_MS: i64 = 5_000;

/// A claim on a running task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    pub node: String,
    /// The owning process: one node restarted is a new instance of the same node.
    pub instance: String,
    pub until_ms: i64,
}

/// A runner: this process on this node.
#[derive(Debug, Clone)]
pub struct Owner {
    pub node: String,
    pub instance: String,
}

impl Owner {
    /// A new instance of `node` (one per process start).
    pub fn of_node(node: String) -> Owner {
        Owner {
            node,
            instance: uuid::Uuid::new_v4().to_string(),
        }
    }

    pub fn lease(&self, now_ms: i64) -> Lease {
        Lease {
            node: self.node.clone(),
            instance: self.instance.clone(),
            until_ms: now_ms + LEASE_MS,
        }
    }

    /// Whether `lease` is this runner's (lapsed or not: nobody else can have claimed it
    /// while it still names us).
    pub fn holds(&self, lease: Option<&Lease>) -> bool {
        lease.is_some_and(|l| l.node == self.node && l.instance == self.instance)
    }

    /// Whether this runner may claim a running task under `lease`: nobody holds it (a task
    /// written before leases existed, or released at shutdown), it lapsed, or it is held by
    /// an earlier instance of this node, which is gone since one node is one process.
    pub fn may_claim(&self, lease: Option<&Lease>, now_ms: i64) -> bool {
        match lease {
            None => true,
            Some(l) => l.until_ms <= now_ms || (l.node == self.node && l.instance != self.instance),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_claimable_when_lapsed_or_left_by_an_earlier_instance_of_this_node() {
        let me = Owner::of_node("n1".into());
        let other = Owner::of_node("n2".into());
        let restarted = Owner::of_node("n1".into());
        let held = other.lease(1_000);
        assert!(!me.may_claim(Some(&held), 1_000));
        assert!(!me.may_claim(Some(&held), 1_000 + LEASE_MS - 1));
        assert!(me.may_claim(Some(&held), 1_000 + LEASE_MS));
        assert!(me.may_claim(None, 0));
        let mine = me.lease(1_000);
        assert!(restarted.may_claim(Some(&mine), 1_000));
        assert!(
            !me.may_claim(Some(&mine), 1_000),
            "a live claim is not claimed again"
        );
        assert!(me.holds(Some(&mine)));
        assert!(!restarted.holds(Some(&mine)));
        assert!(!me.holds(None));
    }
}
