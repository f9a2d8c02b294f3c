//! The durable-interest view (ARCHITECTURE.md, "Acknowledgement across nodes"): which node
//! holds each persistent session that subscribes with QoS >= 1, and to what. A node publishing
//! a QoS >= 1 message asks it which other nodes must store the message before its publisher
//! gets the acknowledgement, and for which sessions it must store the message itself when one
//! of them does not answer.
//!
//! Every node announces its own persistent sessions' subscriptions on `{prefix}.durable`
//! (the broker's `Interest::durable*` hooks: subscribe, unsubscribe, a session loaded, a
//! session ended), and answers a starting node's request on `{prefix}.durable.sync` with all
//! of them. The view is keyed by client id: a session announced by a new node replaces what
//! its old node announced. A session that moves is never withdrawn by the node it left (that
//! node only stops announcing it), so between the old node letting go and the new one
//! announcing, the view still names the old node, which no longer answers for it: the
//! publisher then stores the message for the session itself (see [`crate::receipts`]).
//! Shared subscriptions are left out (best effort, as a shared group's member choice is).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrite_mqtt_codec::QoS;
use ferrite_topic::{Match, MatchOptions, SubscriptionTrie};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

/// The subject token below the prefix that announcements travel on.
pub(crate) const DURABLE: &str = "durable";

/// One change of one node's durable interest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Change {
    /// `client` subscribes to `filter` with `qos` (QoS 0: no longer durably).
    Add {
        client: String,
        filter: String,
        qos: u8,
    },
    Remove {
        client: String,
        filter: String,
    },
    /// The session of `client` ended.
    End {
        client: String,
    },
}

/// What travels on `{prefix}.durable`: one node's changes, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Announcement {
    pub(crate) node: String,
    pub(crate) changes: Vec<Change>,
}

#[derive(Debug, Clone)]
struct Entry {
    node: Arc<str>,
}

#[derive(Default)]
struct Owned {
    node: Arc<str>,
    filters: HashSet<String>,
}

struct ViewState {
    trie: SubscriptionTrie<Arc<str>, Entry>,
    clients: HashMap<Arc<str>, Owned>,
}

/// The cluster's durable interest as this node knows it, and this node's own part of it.
pub(crate) struct DurableView {
    me: Arc<str>,
    state: RwLock<ViewState>,
    /// Entries held by other nodes: when none, a publish asks nothing (one load).
    remote: AtomicUsize,
    /// This node's persistent sessions' QoS >= 1 subscriptions, for a sync answer.
    local: Mutex<HashMap<String, HashMap<String, u8>>>,
}

/// Which other nodes must confirm a message, and for which of their sessions.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Owners(pub(crate) Vec<(Arc<str>, Vec<Arc<str>>)>);

impl Owners {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl DurableView {
    pub(crate) fn new(me: Arc<str>, opts: MatchOptions) -> DurableView {
        DurableView {
            me,
            state: RwLock::new(ViewState {
                trie: SubscriptionTrie::new(opts),
                clients: HashMap::new(),
            }),
            remote: AtomicUsize::new(0),
            local: Mutex::new(HashMap::new()),
        }
    }

    /// The other nodes holding persistent sessions that subscribe to `topic` with QoS >= 1,
    /// each with those sessions' client ids. Cheap when no other node holds any.
    pub(crate) fn owners(&self, topic: &str) -> Owners {
        if self.remote.load(Ordering::Acquire) == 0 {
            return Owners::default();
        }
        let state = self.state.read();
        let mut by_node: Vec<(Arc<str>, Vec<Arc<str>>)> = Vec::new();
        state.trie.for_each_match(topic, |m| {
            if let Match::Single { key, value, .. } = m
                && value.node != self.me
            {
                match by_node.iter_mut().find(|(n, _)| *n == value.node) {
                    Some((_, clients)) => clients.push(key.clone()),
                    None => by_node.push((value.node.clone(), vec![key.clone()])),
                }
            }
        });
        // A session subscribed through several matching filters is listed once; sorting
        // rather than searching keeps thousands of sessions on one filter linearithmic.
        for (_, clients) in &mut by_node {
            clients.sort_unstable();
            clients.dedup();
        }
        Owners(by_node)
    }

    /// Subscriptions of persistent sessions other nodes hold, as far as this node knows.
    pub(crate) fn remote_len(&self) -> usize {
        self.remote.load(Ordering::Acquire)
    }

    /// The persistent sessions the view says this node holds that subscribe to `topic` with
    /// QoS >= 1: a session among them that is no longer here moved away a moment ago, and
    /// its new node has not announced it yet.
    pub(crate) fn own_clients(&self, topic: &str) -> Vec<Arc<str>> {
        let state = self.state.read();
        let mut out: Vec<Arc<str>> = Vec::new();
        state.trie.for_each_match(topic, |m| {
            if let Match::Single { key, value, .. } = m
                && value.node == self.me
            {
                out.push(key.clone());
            }
        });
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Records a change of this node's own sessions; returns it for the announcement.
    pub(crate) fn local(&self, change: Change) -> Change {
        {
            let mut local = self.local.lock();
            match &change {
                Change::Add {
                    client,
                    filter,
                    qos,
                } => {
                    let subs = local.entry(client.clone()).or_default();
                    if *qos == 0 || filter.starts_with("$share/") {
                        subs.remove(filter);
                    } else {
                        subs.insert(filter.clone(), *qos);
                    }
                }
                Change::Remove { client, filter } => {
                    if let Some(subs) = local.get_mut(client) {
                        subs.remove(filter);
                    }
                }
                Change::End { client } => {
                    local.remove(client);
                }
            }
        }
        self.apply(&self.me.clone(), std::slice::from_ref(&change));
        change
    }

    /// The session of `client` left this node: it is no longer announced from here, but
    /// stays in the view under this node until its new node announces it.
    pub(crate) fn moved(&self, client: &str) {
        self.local.lock().remove(client);
    }

    /// Everything this node's sessions subscribe to durably, as changes a starting node
    /// applies.
    pub(crate) fn snapshot(&self) -> Vec<Change> {
        let local = self.local.lock();
        let mut out = Vec::new();
        for (client, subs) in local.iter() {
            for (filter, qos) in subs {
                out.push(Change::Add {
                    client: client.clone(),
                    filter: filter.clone(),
                    qos: *qos,
                });
            }
        }
        out
    }

    /// Applies another node's announcement (or this node's own change).
    pub(crate) fn apply(&self, node: &str, changes: &[Change]) {
        let node: Arc<str> = Arc::from(node);
        let mut guard = self.state.write();
        let state = &mut *guard;
        let mut remote_delta: isize = 0;
        let is_remote = |n: &Arc<str>| *n != self.me;
        for change in changes {
            match change {
                Change::Add {
                    client,
                    filter,
                    qos,
                } => {
                    if filter.starts_with("$share/") {
                        continue;
                    }
                    let key: Arc<str> = Arc::from(client.as_str());
                    // A session announced by another node than before has moved there.
                    if state.clients.get(&key).is_some_and(|o| o.node != node) {
                        remote_delta -= drop_client(state, &key, &self.me);
                    }
                    if *qos == QoS::AtMostOnce as u8 {
                        remote_delta -= drop_filter(state, &key, filter, &self.me);
                        continue;
                    }
                    let owned = state.clients.entry(key.clone()).or_insert_with(|| Owned {
                        node: node.clone(),
                        filters: HashSet::new(),
                    });
                    if owned.filters.insert(filter.clone()) && is_remote(&node) {
                        remote_delta += 1;
                    }
                    state.trie.insert(filter, key, Entry { node: node.clone() });
                }
                Change::Remove { client, filter } => {
                    let key: Arc<str> = Arc::from(client.as_str());
                    if state.clients.get(&key).is_some_and(|o| o.node == node) {
                        remote_delta -= drop_filter(state, &key, filter, &self.me);
                    }
                }
                Change::End { client } => {
                    let key: Arc<str> = Arc::from(client.as_str());
                    if state.clients.get(&key).is_some_and(|o| o.node == node) {
                        remote_delta -= drop_client(state, &key, &self.me);
                    }
                }
            }
        }
        if remote_delta > 0 {
            self.remote
                .fetch_add(remote_delta.unsigned_abs(), Ordering::AcqRel);
        } else if remote_delta < 0 {
            self.remote
                .fetch_sub(remote_delta.unsigned_abs(), Ordering::AcqRel);
        }
    }
}

/// Removes every entry of `client`; returns how many of them were another node's.
fn drop_client(state: &mut ViewState, client: &Arc<str>, me: &Arc<str>) -> isize {
    let Some(owned) = state.clients.remove(client) else {
        return 0;
    };
    for filter in &owned.filters {
        state.trie.remove(filter, client);
    }
    if owned.node == *me {
        0
    } else {
        owned.filters.len() as isize
    }
}

/// Removes `client`'s entry for `filter`; returns 1 when it was another node's.
fn drop_filter(state: &mut ViewState, client: &Arc<str>, filter: &str, me: &Arc<str>) -> isize {
    let Some(owned) = state.clients.get_mut(client) else {
        return 0;
    };
    if !owned.filters.remove(filter) {
        return 0;
    }
    state.trie.remove(filter, client);
    let remote = isize::from(owned.node != *me);
    if owned.filters.is_empty() {
        state.clients.remove(client);
    }
    remote
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(client: &str, filter: &str, qos: u8) -> Change {
        Change::Add {
            client: client.into(),
            filter: filter.into(),
            qos,
        }
    }

    fn owners(view: &DurableView, topic: &str) -> Vec<(String, Vec<String>)> {
        let mut o: Vec<(String, Vec<String>)> = view
            .owners(topic)
            .0
            .into_iter()
            .map(|(n, mut c)| {
                c.sort();
                (n.to_string(), c.iter().map(|c| c.to_string()).collect())
            })
            .collect();
        o.sort();
        o
    }

    #[test]
    fn a_session_subscribed_through_several_matching_filters_is_listed_once() {
        let view = DurableView::new("c".into(), MatchOptions::default());
        let (mut remote, mut mine) = (Vec::new(), Vec::new());
        for i in (0..2_000).rev() {
            remote.extend([
                add(&format!("r{i:04}"), "t/+", 1),
                add(&format!("r{i:04}"), "t/#", 1),
            ]);
            mine.push(format!("m{i:04}"));
        }
        view.apply("a", &remote);
        for m in &mine {
            view.local(add(m, "t/x", 1));
            view.local(add(m, "#", 2));
        }
        let owners = view.owners("t/x").0;
        assert_eq!(owners.len(), 1);
        let expected: Vec<String> = (0..2_000).map(|i| format!("r{i:04}")).collect();
        let listed: Vec<String> = owners[0].1.iter().map(|c| c.to_string()).collect();
        assert_eq!(listed, expected, "each once, in order");
        let own: Vec<String> = view
            .own_clients("t/x")
            .iter()
            .map(|c| c.to_string())
            .collect();
        mine.sort();
        assert_eq!(own, mine);
    }

    #[test]
    fn a_view_names_the_other_nodes_and_their_sessions_and_follows_a_session_that_moves() {
        let view = DurableView::new("c".into(), MatchOptions::default());
        view.apply("a", &[add("dev", "q/+", 1), add("x", "q/dev", 2)]);
        view.apply("b", &[add("y", "q/#", 0), add("z", "$share/g/q/dev", 1)]);
        view.local(add("mine", "q/dev", 1));
        assert_eq!(
            owners(&view, "q/dev"),
            [("a".into(), vec!["dev".into(), "x".into()])],
            "QoS 0, shared and this node's own subscriptions need no receipt"
        );
        assert!(view.owners("other").is_empty());

        // dev moves to b: b's announcement replaces a's entries, a never withdraws them.
        view.apply("b", &[add("dev", "q/dev", 1)]);
        assert_eq!(
            owners(&view, "q/dev"),
            [
                ("a".into(), vec!["x".into()]),
                ("b".into(), vec!["dev".into()])
            ]
        );
        // A late withdrawal by a no longer applies to dev.
        view.apply(
            "a",
            &[Change::End {
                client: "dev".into(),
            }],
        );
        assert_eq!(owners(&view, "q/dev").len(), 2);
        view.apply(
            "a",
            &[Change::Remove {
                client: "x".into(),
                filter: "q/dev".into(),
            }],
        );
        view.apply(
            "b",
            &[Change::End {
                client: "dev".into(),
            }],
        );
        assert!(view.owners("q/dev").is_empty());
        assert_eq!(view.remote.load(Ordering::Acquire), 0);
    }

    #[test]
    fn a_snapshot_holds_this_nodes_sessions_until_they_move_away() {
        let view = DurableView::new("a".into(), MatchOptions::default());
        view.local(add("dev", "q/dev", 1));
        view.local(add("dev", "q/zero", 0));
        view.local(add("other", "r", 1));
        view.local(Change::End {
            client: "other".into(),
        });
        assert_eq!(view.snapshot(), [add("dev", "q/dev", 1)]);
        view.moved("dev");
        assert!(view.snapshot().is_empty());
    }
}
