//! Index of retained messages: one value per concrete topic, searchable by filter.

use std::str::Split;

use crate::children::{ChildIter, Children};
use crate::matching::MatchOptions;
use crate::shared::parse_shared;

/// One value (typically the retained message) per concrete topic name.
///
/// Wildcard lookups walk only the branches the filter can reach. Topics should have passed
/// [`crate::validate_topic_name`].
#[derive(Debug)]
pub struct RetainedTree<V> {
    root: Node<V>,
    len: usize,
    opts: MatchOptions,
}

#[derive(Debug)]
struct Node<V> {
    children: Children<Node<V>>,
    /// The full topic is stored with the value so lookups can report it without allocating.
    value: Option<(Box<str>, V)>,
}

impl<V> Node<V> {
    fn new() -> Self {
        Self {
            children: Children::default(),
            value: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.value.is_none() && self.children.is_empty()
    }

    fn emit<'a>(&'a self, f: &mut impl FnMut(&'a str, &'a V)) {
        if let Some((topic, value)) = &self.value {
            f(topic, value);
        }
    }

    fn emit_subtree<'a>(&'a self, f: &mut impl FnMut(&'a str, &'a V)) {
        self.emit(f);
        for (_, child) in self.children.iter() {
            child.emit_subtree(f);
        }
    }

    fn walk<'a>(
        &'a self,
        mut levels: Split<'_, char>,
        first: bool,
        opts: MatchOptions,
        f: &mut impl FnMut(&'a str, &'a V),
    ) {
        // Wildcards in the first level must not reach `$` topics.
        let reachable = |name: &str| !(first && name.starts_with('$'));
        match levels.next() {
            None => self.emit(f),
            Some("#") => {
                if opts.multilevel_matches_parent {
                    self.emit(f);
                }
                for (name, child) in self.children.iter() {
                    if reachable(name) {
                        child.emit_subtree(f);
                    }
                }
            }
            Some("+") => {
                for (name, child) in self.children.iter() {
                    if reachable(name) {
                        child.walk(levels.clone(), false, opts, f);
                    }
                }
            }
            Some(level) => {
                if let Some(child) = self.children.get(level) {
                    child.walk(levels, false, opts, f);
                }
            }
        }
    }

    fn remove(&mut self, mut levels: Split<'_, char>) -> Option<V> {
        let Some(level) = levels.next() else {
            return self.value.take().map(|(_, v)| v);
        };
        let child = self.children.get_mut(level)?;
        let removed = child.remove(levels)?;
        if child.is_empty() {
            self.children.remove(level);
        }
        Some(removed)
    }

    #[cfg(test)]
    fn node_count(&self) -> usize {
        1 + self
            .children
            .iter()
            .map(|(_, n)| n.node_count())
            .sum::<usize>()
    }
}

impl<V> RetainedTree<V> {
    /// An empty tree using `opts` for wildcard lookups.
    pub fn new(opts: MatchOptions) -> Self {
        Self {
            root: Node::new(),
            len: 0,
            opts,
        }
    }

    /// Number of stored topics.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value` for `topic`, returning the value it replaces.
    pub fn insert(&mut self, topic: &str, value: V) -> Option<V> {
        let mut node = &mut self.root;
        for level in topic.split('/') {
            node = node.children.get_or_insert_with(level, Node::new);
        }
        match &mut node.value {
            Some((_, slot)) => Some(std::mem::replace(slot, value)),
            empty => {
                *empty = Some((topic.into(), value));
                self.len += 1;
                None
            }
        }
    }

    /// Removes the value for `topic` and prunes nodes left empty.
    pub fn remove(&mut self, topic: &str) -> Option<V> {
        let removed = self.root.remove(topic.split('/'))?;
        self.len -= 1;
        Some(removed)
    }

    /// The value stored for exactly `topic`.
    pub fn get(&self, topic: &str) -> Option<&V> {
        let mut node = &self.root;
        for level in topic.split('/') {
            node = node.children.get(level)?;
        }
        node.value.as_ref().map(|(_, v)| v)
    }

    /// Calls `f(topic, value)` for every stored topic matching `filter`, in unspecified order.
    ///
    /// Follows [`crate::matches()`]: `$` topics are skipped by first-level wildcards and a
    /// `$share/{group}/` prefix is ignored (whether shared subscriptions get retained messages
    /// at all is the caller's policy).
    pub fn for_each_matching<'a>(&'a self, filter: &str, mut f: impl FnMut(&'a str, &'a V)) {
        let filter = parse_shared(filter).map_or(filter, |s| s.filter);
        self.root.walk(filter.split('/'), true, self.opts, &mut f);
    }

    /// All `(topic, value)` pairs, in unspecified order.
    pub fn iter(&self) -> RetainedIter<'_, V> {
        RetainedIter {
            stack: vec![self.root.children.iter()],
            remaining: self.len,
        }
    }
}

impl<V> Default for RetainedTree<V> {
    /// An empty tree with standard MQTT matching.
    fn default() -> Self {
        Self::new(MatchOptions::default())
    }
}

impl<'a, V> IntoIterator for &'a RetainedTree<V> {
    type Item = (&'a str, &'a V);
    type IntoIter = RetainedIter<'a, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the `(topic, value)` pairs of a [`RetainedTree`].
#[derive(Debug)]
pub struct RetainedIter<'a, V> {
    stack: Vec<ChildIter<'a, Node<V>>>,
    remaining: usize,
}

impl<'a, V> Iterator for RetainedIter<'a, V> {
    type Item = (&'a str, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let top = self.stack.last_mut()?;
            let Some((_, node)) = top.next() else {
                self.stack.pop();
                continue;
            };
            self.stack.push(node.children.iter());
            if let Some((topic, value)) = &node.value {
                self.remaining = self.remaining.saturating_sub(1);
                return Some((topic, value));
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<V> ExactSizeIterator for RetainedIter<'_, V> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const TOPICS: &[&str] = &[
        "a", "a/b", "a/", "a//b", "a/x/b", "b", "$SYS/x", "$SYS", "/x", "/", "a/b/c", "sensor",
        "sensor/", "sensor/t",
    ];

    fn collect(tree: &RetainedTree<usize>, filter: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        tree.for_each_matching(filter, |t, v| {
            assert_eq!(TOPICS[*v], t);
            out.insert(t.to_owned());
        });
        out
    }

    fn tree(opts: MatchOptions) -> RetainedTree<usize> {
        let mut tree = RetainedTree::new(opts);
        for (i, t) in TOPICS.iter().enumerate() {
            assert_eq!(tree.insert(t, i), None);
        }
        tree
    }

    #[test]
    fn wildcard_lookups_agree_with_matches() {
        let filters = [
            "#",
            "+",
            "a/#",
            "a/+",
            "+/b",
            "+/+",
            "$SYS/#",
            "$SYS/+",
            "a//b",
            "a/+/b",
            "/#",
            "sensor/#",
            "+/#",
            "a/b",
            "nothing",
            "$share/g/a/#",
        ];
        for opts in [MatchOptions::MQTT, MatchOptions::AWS_IOT] {
            let tree = tree(opts);
            for filter in filters {
                let want: BTreeSet<String> = TOPICS
                    .iter()
                    .filter(|t| crate::matches(filter, t, opts))
                    .map(|t| t.to_string())
                    .collect();
                assert_eq!(collect(&tree, filter), want, "{opts:?} {filter}");
            }
        }
    }

    #[test]
    fn specific_expectations() {
        let aws = tree(MatchOptions::AWS_IOT);
        let mqtt = tree(MatchOptions::MQTT);
        let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(collect(&aws, "sensor/#"), set(&["sensor/", "sensor/t"]));
        assert_eq!(
            collect(&mqtt, "sensor/#"),
            set(&["sensor", "sensor/", "sensor/t"])
        );
        assert!(!collect(&mqtt, "#").contains("$SYS/x"));
        assert!(!collect(&mqtt, "+/x").contains("$SYS/x"));
        assert_eq!(collect(&mqtt, "$SYS/#"), set(&["$SYS", "$SYS/x"]));
        assert_eq!(collect(&mqtt, "a/+"), set(&["a/", "a/b"]));
    }

    #[test]
    fn insert_get_remove_prune() {
        let mut tree = RetainedTree::new(MatchOptions::AWS_IOT);
        assert_eq!(tree.insert("a/b/c", 1), None);
        assert_eq!(tree.insert("a/b/c", 2), Some(1));
        assert_eq!(tree.insert("a/b", 3), None);
        assert_eq!(tree.len(), 2);
        assert_eq!(tree.get("a/b/c"), Some(&2));
        assert_eq!(tree.get("a/b"), Some(&3));
        assert_eq!(tree.get("a"), None);
        assert_eq!(tree.get("a/b/c/d"), None);
        assert_eq!(tree.remove("a"), None);
        assert_eq!(tree.remove("a/b/c/d"), None);
        assert_eq!(tree.remove("a/b"), Some(3));
        assert_eq!(tree.root.node_count(), 4);
        assert_eq!(tree.remove("a/b/c"), Some(2));
        assert_eq!(tree.remove("a/b/c"), None);
        assert!(tree.is_empty());
        assert_eq!(tree.root.node_count(), 1);
    }

    #[test]
    fn iter_yields_everything_once() {
        let tree = tree(MatchOptions::MQTT);
        assert_eq!(tree.iter().len(), TOPICS.len());
        let got: BTreeSet<(String, usize)> = tree.iter().map(|(t, v)| (t.to_owned(), *v)).collect();
        let want: BTreeSet<(String, usize)> = TOPICS
            .iter()
            .enumerate()
            .map(|(i, t)| (t.to_string(), i))
            .collect();
        assert_eq!(got, want);
        assert_eq!((&tree).into_iter().count(), TOPICS.len());
        assert_eq!(RetainedTree::<u8>::default().iter().count(), 0);
    }

    #[test]
    fn matches_borrow_from_the_tree() {
        let tree = tree(MatchOptions::MQTT);
        let mut found: Vec<(&str, &usize)> = Vec::new();
        tree.for_each_matching("a/b/+", |t, v| found.push((t, v)));
        assert_eq!(found, [("a/b/c", &10)]);
    }

    #[test]
    fn wide_levels_switch_representation_transparently() {
        let mut tree = RetainedTree::new(MatchOptions::MQTT);
        for i in 0..100 {
            tree.insert(&format!("dev/{i}/state"), i);
        }
        let mut n = 0;
        tree.for_each_matching("dev/+/state", |_, _| n += 1);
        assert_eq!(n, 100);
        for i in 0..100 {
            assert_eq!(tree.remove(&format!("dev/{i}/state")), Some(i));
        }
        assert_eq!(tree.root.node_count(), 1);
    }
}
