//! Recent deletes of retained messages, for a broker whose retained store is shared with
//! other nodes (a cluster: ARCHITECTURE.md, "Where each piece of state lives"). A delete there
//! is a change stamped (receipt time, node) like a put, so that a put stamped earlier but
//! arriving later (over the bus, or read back from the store) cannot bring the message back:
//! the stamp of each delete is kept here, beside the retained tree, for a horizon, and written
//! to the store as a tombstone row (a retained message with an empty payload). One node keeps
//! none: its deletes are in order by construction.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

pub use ferrite_storage::RETAINED_TOMBSTONE_HORIZON_MS as TOMBSTONE_HORIZON_MS;

#[derive(Default)]
pub struct Tombstones {
    enabled: bool,
    /// Topic → stamp of its latest delete.
    by_topic: HashMap<String, (i64, Arc<str>)>,
    /// (stamp ms, topic) in the order recorded, to forget them after the horizon.
    order: VecDeque<(i64, String)>,
    newest_ms: i64,
}

impl Tombstones {
    pub fn new(enabled: bool) -> Tombstones {
        Tombstones {
            enabled,
            ..Tombstones::default()
        }
    }

    /// Whether deletes leave tombstones (a shared retained store).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The stamp of the latest delete of `topic` still kept.
    pub fn stamp(&self, topic: &str) -> Option<(i64, &str)> {
        self.by_topic.get(topic).map(|(ms, node)| (*ms, &**node))
    }

    /// Remembers a delete of `topic` stamped (`ms`, `node`), and forgets the ones past the
    /// horizon.
    pub fn record(&mut self, topic: &str, ms: i64, node: Arc<str>) {
        if !self.enabled {
            return;
        }
        self.by_topic.insert(topic.to_owned(), (ms, node));
        self.order.push_back((ms, topic.to_owned()));
        self.newest_ms = self.newest_ms.max(ms);
        let horizon = self.newest_ms.saturating_sub(TOMBSTONE_HORIZON_MS);
        while let Some((at, _)) = self.order.front() {
            if *at >= horizon {
                break;
            }
            if let Some((_, topic)) = self.order.pop_front()
                && self
                    .by_topic
                    .get(&topic)
                    .is_some_and(|(ms, _)| *ms < horizon)
            {
                self.by_topic.remove(&topic);
            }
        }
    }

    /// A put newer than the delete replaced it.
    pub fn clear(&mut self, topic: &str) {
        if self.enabled {
            self.by_topic.remove(topic);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_topic.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletes_are_forgotten_past_the_horizon_of_the_newest() {
        let mut t = Tombstones::new(true);
        t.record("a", 1_000, "n".into());
        t.record("b", 2_000, "n".into());
        assert_eq!(t.stamp("a"), Some((1_000, "n")));
        t.record("c", 1_500 + TOMBSTONE_HORIZON_MS, "n".into());
        assert_eq!(t.stamp("a"), None);
        assert_eq!(t.stamp("b"), Some((2_000, "n")));
        // A newer delete of a topic keeps it past its older entry's horizon.
        t.record("b", 3_000 + TOMBSTONE_HORIZON_MS, "m".into());
        t.record("d", 2_500 + TOMBSTONE_HORIZON_MS * 2, "n".into());
        assert_eq!(t.stamp("b"), Some((3_000 + TOMBSTONE_HORIZON_MS, "m")));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn one_node_keeps_none() {
        let mut t = Tombstones::new(false);
        t.record("a", 1, "n".into());
        assert_eq!(t.stamp("a"), None);
    }
}
