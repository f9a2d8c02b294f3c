//! Property tests: the trie and the retained tree must agree with `matches()` on every input.

use std::collections::{BTreeMap, BTreeSet};

use ferrite_topic::{
    Match, MatchOptions, RetainedTree, SubscriptionTrie, TopicLimits, classify, client_may_publish,
    client_may_subscribe, matches, parse_shared, validate_topic_filter, validate_topic_name,
};
use proptest::prelude::*;

/// Topic levels from a tiny alphabet so random filters and topics actually collide.
fn topic_level() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("a"), Just("b"), Just(""), Just("$x")]
}

fn topic() -> impl Strategy<Value = String> {
    prop::collection::vec(topic_level(), 1..5).prop_map(|levels| levels.join("/"))
}

/// Valid filters: `+` anywhere, `#` only last, optionally shared.
fn filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![Just("a"), Just("b"), Just(""), Just("$x"), Just("+")];
    (
        prop::collection::vec(level, 0..4),
        any::<bool>(),
        prop_oneof![3 => Just(None), 1 => Just(Some("g1")), 1 => Just(Some("g2"))],
    )
        .prop_map(|(mut levels, hash, group)| {
            if hash || levels.is_empty() {
                levels.push("#");
            }
            let mut inner = levels.join("/");
            if inner.is_empty() {
                // A lone empty level would be the (invalid) empty filter.
                inner.push('+');
            }
            match group {
                Some(g) => format!("$share/{g}/{inner}"),
                None => inner,
            }
        })
}

fn opts() -> impl Strategy<Value = MatchOptions> {
    prop_oneof![Just(MatchOptions::MQTT), Just(MatchOptions::AWS_IOT)]
}

fn trie_matches(trie: &SubscriptionTrie<u8, u32>, topic: &str) -> BTreeSet<(String, u8, u32)> {
    let mut out = BTreeSet::new();
    trie.for_each_match(topic, |m| match m {
        Match::Single { filter, key, value } => {
            assert!(out.insert((filter.to_owned(), *key, *value)), "duplicate");
        }
        Match::Shared {
            group,
            filter,
            members,
            start,
        } => {
            assert!(!members.is_empty());
            assert!(start < members.len());
            for (key, value) in members {
                let full = format!("$share/{group}/{filter}");
                assert!(out.insert((full, *key, *value)), "duplicate");
            }
        }
    });
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn trie_agrees_with_matches(
        opts in opts(),
        subs in prop::collection::vec((filter(), 0u8..4, any::<u32>(), any::<bool>()), 0..24),
        topics in prop::collection::vec(topic(), 1..12),
    ) {
        let mut trie = SubscriptionTrie::new(opts);
        let mut model: BTreeMap<(String, u8), u32> = BTreeMap::new();
        for (filter, key, value, _) in &subs {
            prop_assert_eq!(validate_topic_filter(filter, &TopicLimits::default()), Ok(()));
            let previous = trie.insert(filter, *key, *value);
            prop_assert_eq!(previous, model.insert((filter.clone(), *key), *value));
        }
        for (filter, key, _, drop) in &subs {
            if *drop {
                let removed = trie.remove(filter, key);
                prop_assert_eq!(removed, model.remove(&(filter.clone(), *key)));
            }
        }
        prop_assert_eq!(trie.len(), model.len());
        for topic in &topics {
            let want: BTreeSet<(String, u8, u32)> = model
                .iter()
                .filter(|((f, _), _)| matches(f, topic, opts))
                .map(|((f, k), v)| (f.clone(), *k, *v))
                .collect();
            prop_assert_eq!(trie_matches(&trie, topic), want, "topic {:?}", topic);
        }
        for (filter, key) in model.keys() {
            prop_assert!(trie.remove(filter, key).is_some());
        }
        prop_assert!(trie.is_empty());
        for topic in &topics {
            prop_assert!(trie_matches(&trie, topic).is_empty());
        }
    }

    #[test]
    fn retained_agrees_with_matches(
        opts in opts(),
        stored in prop::collection::vec((topic(), any::<u32>(), any::<bool>()), 0..24),
        filters in prop::collection::vec(filter(), 1..12),
    ) {
        let mut tree = RetainedTree::new(opts);
        let mut model: BTreeMap<String, u32> = BTreeMap::new();
        for (topic, value, _) in &stored {
            prop_assert_eq!(tree.insert(topic, *value), model.insert(topic.clone(), *value));
        }
        for (topic, _, drop) in &stored {
            if *drop {
                prop_assert_eq!(tree.remove(topic), model.remove(topic));
            }
        }
        prop_assert_eq!(tree.len(), model.len());
        let all: BTreeMap<String, u32> = tree.iter().map(|(t, v)| (t.to_owned(), *v)).collect();
        prop_assert_eq!(&all, &model);
        for (topic, value) in &model {
            prop_assert_eq!(tree.get(topic), Some(value));
        }
        for filter in &filters {
            let want: BTreeSet<(String, u32)> = model
                .iter()
                .filter(|(t, _)| matches(filter, t, opts))
                .map(|(t, v)| (t.clone(), *v))
                .collect();
            let mut got = BTreeSet::new();
            tree.for_each_matching(filter, |t, v| {
                got.insert((t.to_owned(), *v));
            });
            prop_assert_eq!(got, want, "filter {:?}", filter);
        }
    }

    #[test]
    fn shared_filters_match_like_their_inner_filter(
        opts in opts(),
        inner in filter().prop_filter("not shared", |f| !f.starts_with("$share/")),
        topic in topic(),
    ) {
        let shared = format!("$share/grp/{inner}");
        prop_assert_eq!(parse_shared(&shared).map(|s| s.filter), Some(inner.as_str()));
        prop_assert_eq!(matches(&shared, &topic, opts), matches(&inner, &topic, opts));
    }

    #[test]
    fn arbitrary_input_never_panics(
        s in "[ab/+#$\\x00é]{0,24}",
        t in "\\PC{0,40}",
        opts in opts(),
    ) {
        let limits = TopicLimits::default();
        let _ = validate_topic_name(&s, &limits);
        let _ = validate_topic_filter(&s, &limits);
        let _ = validate_topic_name(&t, &limits);
        let _ = validate_topic_filter(&t, &limits);
        let _ = matches(&s, &t, opts);
        let _ = matches(&t, &s, opts);
        let _ = (classify(&s), client_may_publish(&s), client_may_subscribe(&s));
        let _ = (classify(&t), client_may_publish(&t), client_may_subscribe(&t));

        let mut trie = SubscriptionTrie::new(opts);
        trie.insert(&s, 1u8, ());
        trie.insert(&t, 2u8, ());
        trie.for_each_match(&s, |_| {});
        trie.for_each_match(&t, |_| {});
        prop_assert_eq!(trie.remove(&s, &1), Some(()));
        prop_assert_eq!(trie.remove(&t, &2), Some(()));
        prop_assert!(trie.is_empty());

        let mut tree = RetainedTree::new(opts);
        tree.insert(&s, 1u8);
        tree.for_each_matching(&t, |_, _| {});
        tree.for_each_matching(&s, |_, _| {});
        prop_assert_eq!(tree.remove(&s), Some(1));
    }

    #[test]
    fn valid_names_are_valid_filters(t in "[ab/$é]{1,30}") {
        let limits = TopicLimits::default();
        if validate_topic_name(&t, &limits).is_ok() && !t.starts_with("$share/") {
            prop_assert_eq!(validate_topic_filter(&t, &limits), Ok(()));
            prop_assert!(matches(&t, &t, MatchOptions::AWS_IOT));
        }
    }
}
