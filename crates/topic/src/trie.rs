//! The subscription trie consulted for every PUBLISH.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::children::Children;
use crate::levels::Levels;
use crate::matching::MatchOptions;
use crate::shared::parse_shared;

/// One subscription (or shared group) matching a published topic.
#[derive(Debug)]
pub enum Match<'a, K, V> {
    /// An ordinary subscription.
    Single {
        /// The filter exactly as inserted.
        filter: &'a str,
        /// The subscriber.
        key: &'a K,
        /// The subscription options.
        value: &'a V,
    },
    /// A shared subscription group; deliver to one member, preferring
    /// `members[(start + i) % members.len()]` for increasing `i`.
    Shared {
        /// The share name.
        group: &'a str,
        /// The inner filter (without `$share/{group}/`).
        filter: &'a str,
        /// The group members; never empty.
        members: &'a [(K, V)],
        /// Round-robin cursor, already reduced modulo `members.len()`.
        start: usize,
    },
}

/// Subscriptions indexed by filter level, for matching a topic against all filters at once.
///
/// `K` identifies a subscriber (e.g. a session id), `V` holds the subscription options. A
/// subscription is identified by its full filter string and key: inserting the same pair again
/// replaces the value. `$share/{group}/{filter}` subscriptions are stored as members of `group`
/// at `filter`. Filters should have passed [`crate::validate_topic_filter`]; for invalid ones the
/// matches are unspecified (but nothing panics).
#[derive(Debug)]
pub struct SubscriptionTrie<K, V> {
    root: Node<K, V>,
    len: usize,
    opts: MatchOptions,
}

#[derive(Debug)]
struct Node<K, V> {
    /// The filter prefix leading to this node, which is also the filter of every subscription
    /// stored here; kept so matching can hand out `&str` without allocating.
    path: Box<str>,
    children: Children<Node<K, V>>,
    plus: Option<Box<Node<K, V>>>,
    hash: Option<Box<Node<K, V>>>,
    singles: Members<K, V>,
    groups: Vec<SharedGroup<K, V>>,
}

#[derive(Debug)]
struct SharedGroup<K, V> {
    name: Box<str>,
    members: Members<K, V>,
    /// Advanced on every match so that `&self` matching still rotates deliveries.
    cursor: AtomicUsize,
}

/// Above this many members a key index is kept, so unsubscribing from a popular filter does not
/// scan every subscriber.
const INDEX_ABOVE: usize = 16;

/// Subscribers of one filter (or one shared group): a dense vector so matching iterates a slice.
#[derive(Debug)]
struct Members<K, V> {
    entries: Vec<(K, V)>,
    /// Boxed: most nodes never need it, and every node carries the field (8 bytes instead of
    /// a map's 48, per subscribed topic level).
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<K, usize>>>,
}

impl<K: Eq + Hash + Clone, V> Members<K, V> {
    fn new() -> Self {
        Self {
            entries: Vec::new(),
            index: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &K) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(i) = self.position(&key)
            && let Some((_, slot)) = self.entries.get_mut(i)
        {
            return Some(std::mem::replace(slot, value));
        }
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.entries.len());
        }
        self.entries.push((key, value));
        if self.index.is_none() && self.entries.len() > INDEX_ABOVE {
            let index = self
                .entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.clone(), i))
                .collect();
            self.index = Some(Box::new(index));
        }
        None
    }

    fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.position(key)?;
        if i >= self.entries.len() {
            return None;
        }
        let (_, value) = self.entries.swap_remove(i);
        if let Some(index) = &mut self.index {
            index.remove(key);
            if let Some((moved, _)) = self.entries.get(i)
                && let Some(slot) = index.get_mut(moved)
            {
                *slot = i;
            }
            // Hysteresis so a group hovering around the threshold does not rebuild constantly.
            if self.entries.len() <= INDEX_ABOVE / 2 {
                self.index = None;
            }
        }
        Some(value)
    }
}

impl<K: Eq + Hash + Clone, V> Node<K, V> {
    fn new(path: &str) -> Self {
        Self {
            path: path.into(),
            children: Children::default(),
            plus: None,
            hash: None,
            singles: Members::new(),
            groups: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.singles.is_empty()
            && self.groups.is_empty()
            && self.children.is_empty()
            && self.plus.is_none()
            && self.hash.is_none()
    }

    fn emit<'a>(&'a self, f: &mut impl FnMut(Match<'a, K, V>)) {
        for (key, value) in &self.singles.entries {
            f(Match::Single {
                filter: &self.path,
                key,
                value,
            });
        }
        for group in &self.groups {
            let len = group.members.entries.len();
            if len == 0 {
                continue;
            }
            // fetch_add wraps on overflow; the modulo keeps `start + i` far from overflowing.
            let start = group.cursor.fetch_add(1, Ordering::Relaxed) % len;
            f(Match::Shared {
                group: &group.name,
                filter: &self.path,
                members: &group.members.entries,
                start,
            });
        }
    }

    fn walk<'a>(
        &'a self,
        mut levels: Levels<'_>,
        first: bool,
        dollar: bool,
        opts: MatchOptions,
        f: &mut impl FnMut(Match<'a, K, V>),
    ) {
        match levels.next() {
            None => {
                self.emit(f);
                if opts.multilevel_matches_parent
                    && let Some(hash) = &self.hash
                {
                    hash.emit(f);
                }
            }
            Some(level) => {
                if !(first && dollar) {
                    if let Some(hash) = &self.hash {
                        hash.emit(f);
                    }
                    if let Some(plus) = &self.plus {
                        plus.walk(levels.clone(), false, dollar, opts, f);
                    }
                }
                if let Some(child) = self.children.get(level) {
                    child.walk(levels, false, dollar, opts, f);
                }
            }
        }
    }

    fn remove(&mut self, mut levels: Levels<'_>, group: Option<&str>, key: &K) -> Option<V> {
        let Some(level) = levels.next() else {
            return match group {
                None => self.singles.remove(key),
                Some(name) => {
                    let i = self.groups.iter().position(|g| &*g.name == name)?;
                    let shared = self.groups.get_mut(i)?;
                    let removed = shared.members.remove(key);
                    if shared.members.is_empty() {
                        self.groups.swap_remove(i);
                    }
                    removed
                }
            };
        };
        match level {
            "+" | "#" => {
                let slot = if level == "+" {
                    &mut self.plus
                } else {
                    &mut self.hash
                };
                let child = slot.as_deref_mut()?;
                let removed = child.remove(levels, group, key)?;
                if child.is_empty() {
                    *slot = None;
                }
                Some(removed)
            }
            _ => {
                let child = self.children.get_mut(level)?;
                let removed = child.remove(levels, group, key)?;
                if child.is_empty() {
                    self.children.remove(level);
                }
                Some(removed)
            }
        }
    }

    #[cfg(test)]
    fn node_count(&self) -> usize {
        1 + self.plus.as_ref().map_or(0, |n| n.node_count())
            + self.hash.as_ref().map_or(0, |n| n.node_count())
            + self
                .children
                .iter()
                .map(|(_, n)| n.node_count())
                .sum::<usize>()
    }
}

impl<K: Eq + Hash + Clone, V> SubscriptionTrie<K, V> {
    /// An empty trie using `opts` for matching.
    pub fn new(opts: MatchOptions) -> Self {
        Self {
            root: Node::new(""),
            len: 0,
            opts,
        }
    }

    /// The options this trie matches with.
    pub fn options(&self) -> MatchOptions {
        self.opts
    }

    /// Number of subscriptions, counting each shared-group member.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no subscriptions are stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds the subscription `(filter, key)`, returning the previous value if it existed.
    pub fn insert(&mut self, filter: &str, key: K, value: V) -> Option<V> {
        let (group, path) = split_shared(filter);
        let mut node = &mut self.root;
        let mut end = 0;
        for (i, level) in Levels::new(path).enumerate() {
            end += level.len() + usize::from(i > 0);
            let prefix = path.get(..end).unwrap_or(path);
            let make = || Node::new(prefix);
            node = match level {
                "+" => node.plus.get_or_insert_with(|| Box::new(make())),
                "#" => node.hash.get_or_insert_with(|| Box::new(make())),
                _ => node.children.get_or_insert_with(level, make),
            };
        }
        let previous = match group {
            None => node.singles.insert(key, value),
            Some(name) => {
                let i = match node.groups.iter().position(|g| &*g.name == name) {
                    Some(i) => i,
                    None => {
                        node.groups.push(SharedGroup {
                            name: name.into(),
                            members: Members::new(),
                            cursor: AtomicUsize::new(0),
                        });
                        node.groups.len() - 1
                    }
                };
                node.groups.get_mut(i)?.members.insert(key, value)
            }
        };
        if previous.is_none() {
            self.len += 1;
        }
        previous
    }

    /// Removes the subscription `(filter, key)` and prunes nodes left empty.
    pub fn remove(&mut self, filter: &str, key: &K) -> Option<V> {
        let (group, path) = split_shared(filter);
        let removed = self.root.remove(Levels::new(path), group, key)?;
        self.len -= 1;
        Some(removed)
    }

    /// How many subscribers `filter` itself has (for `$share/{group}/{filter}`: the group's
    /// members). Lets a caller tell a filter's first and last subscriber apart from the rest.
    pub fn filter_len(&self, filter: &str) -> usize {
        let (group, path) = split_shared(filter);
        let mut node = &self.root;
        for level in Levels::new(path) {
            let next = match level {
                "+" => node.plus.as_deref(),
                "#" => node.hash.as_deref(),
                _ => node.children.get(level),
            };
            match next {
                Some(n) => node = n,
                None => return 0,
            }
        }
        match group {
            None => node.singles.entries.len(),
            Some(name) => node
                .groups
                .iter()
                .find(|g| &*g.name == name)
                .map_or(0, |g| g.members.entries.len()),
        }
    }

    /// Calls `f` for every subscription matching `topic`.
    ///
    /// A subscriber with several matching filters is reported once per filter; MQTT lets the
    /// broker deliver once or per subscription, so de-duplication is the caller's choice. Each
    /// shared group is reported once, with its round-robin cursor advanced.
    pub fn for_each_match<'a>(&'a self, topic: &str, mut f: impl FnMut(Match<'a, K, V>)) {
        let dollar = topic.starts_with('$');
        self.root
            .walk(Levels::new(topic), true, dollar, self.opts, &mut f);
    }
}

impl<K: Eq + Hash + Clone, V> Default for SubscriptionTrie<K, V> {
    /// An empty trie with standard MQTT matching.
    fn default() -> Self {
        Self::new(MatchOptions::default())
    }
}

/// `(group, filter to index by)`; malformed `$share/...` filters are indexed literally.
fn split_shared(filter: &str) -> (Option<&str>, &str) {
    match parse_shared(filter) {
        Some(shared) => (Some(shared.group), shared.filter),
        None => (None, filter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn singles<V>(trie: &SubscriptionTrie<u32, V>, topic: &str) -> BTreeSet<(String, u32)> {
        let mut out = BTreeSet::new();
        trie.for_each_match(topic, |m| match m {
            Match::Single { filter, key, .. } => {
                out.insert((filter.to_owned(), *key));
            }
            Match::Shared {
                group,
                filter,
                members,
                ..
            } => {
                for (key, _) in members {
                    out.insert((format!("$share/{group}/{filter}"), *key));
                }
            }
        });
        out
    }

    const FILTERS: &[&str] = &[
        "a", "a/b", "a/+", "a/#", "+/b", "+/+", "#", "+", "a//b", "a/+/b", "$SYS/#", "$SYS/+",
        "+/x", "/#", "a/b/#",
    ];

    #[test]
    fn table_driven_matching_in_both_modes() {
        let topics = [
            "a", "a/b", "a/", "a//b", "a/x/b", "b", "b/b", "$SYS/x", "$SYS", "/x", "/", "a/b/c",
            "q/x",
        ];
        for opts in [MatchOptions::MQTT, MatchOptions::AWS_IOT] {
            let mut trie = SubscriptionTrie::new(opts);
            for (i, f) in FILTERS.iter().enumerate() {
                assert_eq!(trie.insert(f, i as u32, ()), None);
            }
            for topic in topics {
                let want: BTreeSet<(String, u32)> = FILTERS
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| crate::matches(f, topic, opts))
                    .map(|(i, f)| (f.to_string(), i as u32))
                    .collect();
                assert_eq!(singles(&trie, topic), want, "{opts:?} {topic:?}");
            }
        }
    }

    #[test]
    fn filter_len_counts_the_subscribers_of_one_exact_filter() {
        let mut trie = SubscriptionTrie::new(MatchOptions::MQTT);
        assert_eq!(trie.filter_len("a/+"), 0);
        trie.insert("a/+", 1, ());
        trie.insert("a/+", 2, ());
        trie.insert("a/+/b", 3, ());
        trie.insert("$share/g/a/+", 4, ());
        trie.insert("$share/h/a/+", 5, ());
        trie.insert("$share/h/a/+", 6, ());
        assert_eq!(trie.filter_len("a/+"), 2);
        assert_eq!(trie.filter_len("a/+/b"), 1);
        assert_eq!(trie.filter_len("a"), 0);
        assert_eq!(trie.filter_len("a/#"), 0);
        assert_eq!(trie.filter_len("$share/g/a/+"), 1);
        assert_eq!(trie.filter_len("$share/h/a/+"), 2);
        assert_eq!(trie.filter_len("$share/x/a/+"), 0);
        trie.remove("a/+", &1);
        trie.remove("a/+", &2);
        assert_eq!(trie.filter_len("a/+"), 0);
        assert_eq!(trie.filter_len("a/+/b"), 1);
    }

    #[test]
    fn specific_expectations() {
        let cases: &[(&str, &str, bool, bool)] = &[
            ("#", "$SYS/x", false, false),
            ("+/x", "$SYS/x", false, false),
            ("$SYS/#", "$SYS/x", true, true),
            ("+/x", "a/x", true, true),
            ("a/+", "a/", true, true),
            ("a/+", "a", false, false),
            ("a/#", "a", true, false),
            ("a/#", "a/", true, true),
            ("a//b", "a//b", true, true),
            ("a//b", "a/b", false, false),
            ("a/+/b", "a//b", true, true),
        ];
        for &(filter, topic, mqtt, aws) in cases {
            for (opts, want) in [(MatchOptions::MQTT, mqtt), (MatchOptions::AWS_IOT, aws)] {
                let mut trie = SubscriptionTrie::new(opts);
                trie.insert(filter, 1u32, ());
                assert_eq!(
                    !singles(&trie, topic).is_empty(),
                    want,
                    "{opts:?} {filter} {topic}"
                );
            }
        }
    }

    #[test]
    fn insert_replaces_and_remove_prunes() {
        let mut trie = SubscriptionTrie::new(MatchOptions::MQTT);
        assert!(trie.is_empty());
        assert_eq!(trie.insert("a/b/c", 1u32, 10), None);
        assert_eq!(trie.insert("a/b/c", 1, 11), Some(10));
        assert_eq!(trie.insert("a/b/c", 2, 20), None);
        assert_eq!(trie.insert("a/+/#", 1, 30), None);
        assert_eq!(trie.insert("$share/g/a/b/c", 1, 40), None);
        assert_eq!(trie.insert("$share/g/a/b/c", 1, 41), Some(40));
        assert_eq!(trie.insert("$share/h/a/b/c", 1, 50), None);
        assert_eq!(trie.len(), 5);

        let mut values = Vec::new();
        trie.for_each_match("a/b/c", |m| match m {
            Match::Single { value, .. } => values.push(*value),
            Match::Shared { members, .. } => values.extend(members.iter().map(|(_, v)| *v)),
        });
        values.sort_unstable();
        assert_eq!(values, vec![11, 20, 30, 41, 50]);

        assert_eq!(trie.remove("a/b/c", &3), None);
        assert_eq!(trie.remove("a/b", &1), None);
        assert_eq!(trie.remove("a/b/c/d", &1), None);
        assert_eq!(trie.remove("$share/x/a/b/c", &1), None);
        assert_eq!(trie.remove("a/b/c", &1), Some(11));
        assert_eq!(trie.remove("a/b/c", &1), None);
        assert_eq!(trie.remove("$share/g/a/b/c", &1), Some(41));
        assert_eq!(trie.remove("$share/h/a/b/c", &1), Some(50));
        assert_eq!(trie.len(), 2);
        // root, a, a/b, a/b/c, a/+, a/+/#
        assert_eq!(trie.root.node_count(), 6);
        assert_eq!(trie.remove("a/b/c", &2), Some(20));
        // root, a, a/+, a/+/#
        assert_eq!(trie.root.node_count(), 4);
        assert_eq!(trie.remove("a/+/#", &1), Some(30));
        assert_eq!(trie.root.node_count(), 1);
        assert!(trie.is_empty());
        assert!(trie.root.is_empty());
    }

    #[test]
    fn churn_does_not_grow_memory() {
        let mut trie = SubscriptionTrie::new(MatchOptions::AWS_IOT);
        trie.insert("keep/#", 0u32, ());
        for round in 0..50u32 {
            for i in 0..40u32 {
                trie.insert(&format!("dev/{i}/r{round}/+"), i, ());
                trie.insert(&format!("$share/g{round}/dev/{i}"), i, ());
            }
            for i in 0..40u32 {
                assert_eq!(trie.remove(&format!("dev/{i}/r{round}/+"), &i), Some(()));
                assert_eq!(
                    trie.remove(&format!("$share/g{round}/dev/{i}"), &i),
                    Some(())
                );
            }
        }
        assert_eq!(trie.len(), 1);
        assert_eq!(trie.root.node_count(), 3);
    }

    #[test]
    fn many_members_use_the_index_correctly() {
        let mut trie = SubscriptionTrie::new(MatchOptions::MQTT);
        for k in 0..100u32 {
            trie.insert("t", k, k);
        }
        for k in (0..100u32).step_by(3) {
            assert_eq!(trie.remove("t", &k), Some(k));
        }
        for k in 0..100u32 {
            let want = if k % 3 == 0 { None } else { Some(k) };
            assert_eq!(trie.insert("t", k, k + 1000), want);
        }
        for k in 0..100u32 {
            assert_eq!(trie.remove("t", &k), Some(k + 1000));
        }
        assert!(trie.is_empty());
        assert_eq!(trie.root.node_count(), 1);
    }

    #[test]
    fn shared_round_robin_over_three_members() {
        let mut trie = SubscriptionTrie::new(MatchOptions::AWS_IOT);
        for k in 0..3u32 {
            trie.insert("$share/workers/jobs/+", k, ());
        }
        let mut counts = [0usize; 3];
        for _ in 0..300 {
            let mut seen = 0;
            trie.for_each_match("jobs/42", |m| {
                seen += 1;
                match m {
                    Match::Shared {
                        group,
                        filter,
                        members,
                        start,
                    } => {
                        assert_eq!((group, filter, members.len()), ("workers", "jobs/+", 3));
                        let chosen = members[start % members.len()].0;
                        counts[chosen as usize] += 1;
                    }
                    Match::Single { .. } => panic!("unexpected single match"),
                }
            });
            assert_eq!(seen, 1);
        }
        assert_eq!(counts, [100, 100, 100]);
    }

    #[test]
    fn shared_fallback_skips_unavailable_member() {
        let mut trie = SubscriptionTrie::new(MatchOptions::MQTT);
        for k in 0..3u32 {
            trie.insert("$share/g/t", k, ());
        }
        let offline = 1u32;
        let mut counts = [0usize; 3];
        for _ in 0..30 {
            trie.for_each_match("t", |m| {
                if let Match::Shared { members, start, .. } = m {
                    let pick = (0..members.len())
                        .map(|i| members[(start + i) % members.len()].0)
                        .find(|k| *k != offline);
                    if let Some(k) = pick {
                        counts[k as usize] += 1;
                    }
                }
            });
        }
        assert_eq!(counts[1], 0);
        assert_eq!(counts[0] + counts[2], 30);
        assert!(counts[0] >= 10 && counts[2] >= 10, "{counts:?}");
    }

    #[test]
    fn matches_borrow_from_the_trie() {
        let mut trie = SubscriptionTrie::new(MatchOptions::MQTT);
        trie.insert("a/+", "s1".to_string(), 1u8);
        let mut keys: Vec<&String> = Vec::new();
        trie.for_each_match("a/b", |m| {
            if let Match::Single { key, .. } = m {
                keys.push(key);
            }
        });
        assert_eq!(keys, [&"s1".to_string()]);
    }

    #[test]
    fn malformed_input_does_not_panic() {
        let mut trie = SubscriptionTrie::new(MatchOptions::MQTT);
        let inputs = [
            "",
            "/",
            "//",
            "#/a",
            "a/#/b",
            "+#",
            "$share/",
            "$share//",
            "$share/g",
            "$share/g/",
            "\0",
            "\u{1f600}/+",
            "$",
            "$share/+/a",
        ];
        for (i, f) in inputs.iter().enumerate() {
            trie.insert(f, i, ());
        }
        for t in inputs {
            trie.for_each_match(t, |_| {});
        }
        for (i, f) in inputs.iter().enumerate() {
            assert_eq!(trie.remove(f, &i), Some(()), "{f:?}");
        }
        assert!(trie.is_empty());
        assert_eq!(trie.root.node_count(), 1);
    }

    #[test]
    fn deep_filters_work() {
        let deep = vec!["x"; 2000].join("/");
        let mut trie = SubscriptionTrie::new(MatchOptions::MQTT);
        trie.insert(&deep, 1u8, ());
        let mut n = 0;
        trie.for_each_match(&deep, |_| n += 1);
        assert_eq!(n, 1);
        assert_eq!(trie.remove(&deep, &1), Some(()));
        assert_eq!(trie.root.node_count(), 1);
    }
}
