//! The subject mapping against MQTT matching, property-tested (ARCHITECTURE.md, "What is
//! tested how").

use ferrite_cluster::subject::{filter_subjects, subject_matches, subject_topic, topic_subject};
use ferrite_topic::{MatchOptions, matches};
use proptest::prelude::*;

/// Levels drawn from an alphabet rich in what needs escaping, with few enough symbols that
/// random topics and filters often match.
fn level() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec![
            "a", "b", ".", "*", ">", "~", "~7E", " ", "$", "é", "\t", "2E",
        ]),
        0..3,
    )
    .prop_map(|parts| parts.concat())
}

fn topic() -> impl Strategy<Value = String> {
    proptest::collection::vec(level(), 1..5).prop_map(|levels| levels.join("/"))
}

fn filter() -> impl Strategy<Value = String> {
    let filter_level = prop_oneof![3 => level(), 1 => Just("+".to_owned())];
    (proptest::collection::vec(filter_level, 0..4), any::<bool>()).prop_filter_map(
        "a filter has a level",
        |(mut levels, multi)| {
            if multi {
                levels.push("#".to_owned());
            }
            (!levels.is_empty()).then(|| levels.join("/"))
        },
    )
}

fn nats_selects(filter: &str, topic: &str, parent: bool) -> bool {
    let subject = topic_subject("ferrite", topic);
    filter_subjects("ferrite", filter, parent)
        .iter()
        .any(|p| subject_matches(p, &subject))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn the_topic_mapping_is_injective(a in topic(), b in topic()) {
        let (sa, sb) = (topic_subject("ferrite", &a), topic_subject("ferrite", &b));
        prop_assert_eq!(subject_topic("ferrite", &sa), Some(a.clone()));
        prop_assert_eq!(sa == sb, a == b);
    }

    #[test]
    fn topic_subjects_are_valid_literal_nats_subjects(t in topic()) {
        let subject = topic_subject("ferrite", &t);
        for token in subject.split('.') {
            prop_assert!(!token.is_empty(), "{subject}");
            prop_assert!(
                !token.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'*' || b == b'>'),
                "{subject}"
            );
        }
    }

    #[test]
    fn a_subject_is_selected_iff_mqtt_matches_except_dollar_topics(
        f in filter(),
        t in topic(),
        parent in any::<bool>(),
    ) {
        let opts = MatchOptions { multilevel_matches_parent: parent };
        let mqtt = matches(&f, &t, opts);
        let nats = nats_selects(&f, &t, parent);
        if mqtt {
            prop_assert!(nats, "{f:?} matches {t:?} in MQTT but not in NATS");
        } else if nats {
            // The documented over-selection: NATS wildcards also select `$` topics.
            prop_assert!(
                t.starts_with('$') && (f.starts_with('+') || f.starts_with('#')),
                "{f:?} selects {t:?} in NATS but not in MQTT"
            );
        }
    }

    #[test]
    fn a_literal_filter_selects_exactly_its_topic(t in topic(), u in topic()) {
        prop_assert_eq!(nats_selects(&t, &u, true), t == u);
    }
}
