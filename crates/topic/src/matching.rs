//! Matching a single topic name against a single topic filter.

use crate::shared::parse_shared;

/// Knobs where brokers legitimately differ in how filters match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatchOptions {
    /// Whether `a/#` also matches the parent topic `a`.
    ///
    /// MQTT 3.1.1 §4.7.1.2 and MQTT 5 say yes (the default); AWS IoT Core says no.
    pub multilevel_matches_parent: bool,
}

impl MatchOptions {
    /// Standard MQTT semantics: `a/#` matches `a`.
    pub const MQTT: Self = Self {
        multilevel_matches_parent: true,
    };
    /// AWS IoT Core semantics: `a/#` does not match `a`.
    pub const AWS_IOT: Self = Self {
        multilevel_matches_parent: false,
    };
}

impl Default for MatchOptions {
    /// Standard MQTT semantics ([`MatchOptions::MQTT`]).
    fn default() -> Self {
        Self::MQTT
    }
}

/// Whether `topic` matches `filter`.
///
/// `+` matches exactly one (possibly empty) level, `#` matches the rest of the topic. Topics
/// starting with `$` are never matched by a filter whose first level is a wildcard. A
/// `$share/{group}/{filter}` filter is matched through its inner filter. Neither argument is
/// validated; invalid input simply yields some answer without panicking.
pub fn matches(filter: &str, topic: &str, opts: MatchOptions) -> bool {
    let filter = parse_shared(filter).map_or(filter, |s| s.filter);
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    if topic.starts_with('$') && matches!(filter.split('/').next(), Some("+" | "#")) {
        return false;
    }
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            (Some("#"), Some(_)) => return true,
            (Some("#"), None) => return opts.multilevel_matches_parent,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (filter, topic, matches with MQTT semantics, matches with AWS semantics)
    pub(crate) const CASES: &[(&str, &str, bool, bool)] = &[
        ("a", "a", true, true),
        ("a", "b", false, false),
        ("a/b", "a/b", true, true),
        ("a/b", "a", false, false),
        ("a", "a/b", false, false),
        ("A", "a", false, false),
        ("+", "a", true, true),
        ("+", "a/b", false, false),
        ("+", "", true, true),
        ("+/x", "a/x", true, true),
        ("+/x", "/x", true, true),
        ("+/x", "a/y", false, false),
        ("+/x", "$SYS/x", false, false),
        ("a/+", "a/b", true, true),
        ("a/+", "a/", true, true),
        ("a/+", "a", false, false),
        ("a/+", "a/b/c", false, false),
        ("a/+/c", "a/b/c", true, true),
        ("a/+/c", "a//c", true, true),
        ("+/+", "/", true, true),
        ("#", "a", true, true),
        ("#", "a/b/c", true, true),
        ("#", "/", true, true),
        ("#", "$SYS/x", false, false),
        ("#", "$SYS", false, false),
        ("$SYS/#", "$SYS/x", true, true),
        ("$SYS/+", "$SYS/x", true, true),
        (
            "$aws/things/+/shadow/#",
            "$aws/things/t/shadow/update",
            true,
            true,
        ),
        ("a/#", "a", true, false),
        ("a/#", "a/", true, true),
        ("a/#", "a/b", true, true),
        ("a/#", "a/b/c", true, true),
        ("a/#", "b", false, false),
        ("a/#", "ab", false, false),
        ("a/b/#", "a", false, false),
        ("+/#", "a", true, false),
        ("+/#", "a/b", true, true),
        ("/#", "/", true, true),
        ("/#", "", true, false),
        ("a//b", "a//b", true, true),
        ("a//b", "a/b", false, false),
        ("a/+/b", "a//b", true, true),
        ("a/#", "a//b", true, true),
        ("/", "/", true, true),
        ("", "", true, true),
        ("$share/g/a/+", "a/b", true, true),
        ("$share/g/#", "$SYS/x", false, false),
        ("$share/g/a/#", "a", true, false),
    ];

    #[test]
    fn table() {
        for &(filter, topic, mqtt, aws) in CASES {
            assert_eq!(
                matches(filter, topic, MatchOptions::MQTT),
                mqtt,
                "mqtt {filter:?} {topic:?}"
            );
            assert_eq!(
                matches(filter, topic, MatchOptions::AWS_IOT),
                aws,
                "aws {filter:?} {topic:?}"
            );
        }
    }

    #[test]
    fn default_is_mqtt() {
        assert!(MatchOptions::default().multilevel_matches_parent);
    }
}
