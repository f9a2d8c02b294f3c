//! Validation of topic names (PUBLISH) and topic filters (SUBSCRIBE).

use crate::error::TopicError;
use crate::limits::{TopicLimits, counted_part};
use crate::shared::{looks_shared, parse_shared};

/// Validates a topic name used in PUBLISH (or a will, or a rule republish target).
///
/// Rejects the empty string, U+0000, the wildcards `+`/`#`, and topics over `limits`; a Basic
/// Ingest prefix `$aws/rules/{ruleName}/` does not count toward the limits.
pub fn validate_topic_name(topic: &str, limits: &TopicLimits) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    // One pass over the bytes for both checks (every publish takes this path): NUL, `+` and
    // `#` are ASCII, so a byte equal to one of them is that character. NUL is reported first.
    let (mut null, mut wildcard) = (false, false);
    for b in topic.bytes() {
        null |= b == 0;
        wildcard |= b == b'+' || b == b'#';
    }
    if null {
        return Err(TopicError::NullCharacter);
    }
    if wildcard {
        return Err(TopicError::WildcardInTopicName);
    }
    check_limits(topic, limits)
}

/// Validates a topic filter used in SUBSCRIBE / UNSUBSCRIBE.
///
/// Wildcards must fill a whole level and `#` must be last. A `$share/{group}/{filter}` filter needs
/// a non-empty share name without `+`, `#` or `/`, and the limits apply to the inner filter only.
pub fn validate_topic_filter(filter: &str, limits: &TopicLimits) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    if filter.contains('\0') {
        return Err(TopicError::NullCharacter);
    }
    let inner = if looks_shared(filter) {
        parse_shared(filter)
            .ok_or(TopicError::InvalidSharedSubscription)?
            .filter
    } else {
        filter
    };
    let mut levels = inner.split('/').peekable();
    while let Some(level) = levels.next() {
        let is_last = levels.peek().is_none();
        match level {
            "+" => {}
            "#" if is_last => {}
            _ if level.contains(['+', '#']) => return Err(TopicError::InvalidWildcard),
            _ => {}
        }
    }
    check_limits(inner, limits)
}

fn check_limits(topic: &str, limits: &TopicLimits) -> Result<(), TopicError> {
    let Some(counted) = counted_part(topic) else {
        return Ok(());
    };
    if counted.len() > limits.max_bytes {
        return Err(TopicError::TooLong {
            len: counted.len(),
            max: limits.max_bytes,
        });
    }
    let levels = counted.bytes().filter(|&b| b == b'/').count() + 1;
    if levels > limits.max_levels {
        return Err(TopicError::TooManyLevels {
            levels,
            max: limits.max_levels,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(t: &str) -> Result<(), TopicError> {
        validate_topic_name(t, &TopicLimits::default())
    }

    fn filter(f: &str) -> Result<(), TopicError> {
        validate_topic_filter(f, &TopicLimits::default())
    }

    #[test]
    fn topic_names() {
        let eight = "a/b/c/d/e/f/g/h";
        let nine = "a/b/c/d/e/f/g/h/i";
        let max = "x".repeat(256);
        let over = "x".repeat(257);
        let ingest_long = format!("$aws/rules/MyRule/{}", "x".repeat(256));
        let ingest_too_long = format!("$aws/rules/MyRule/{}", "x".repeat(257));
        let cases: Vec<(&str, Result<(), TopicError>)> = vec![
            ("a", Ok(())),
            ("a/b", Ok(())),
            ("/", Ok(())),
            ("a//b", Ok(())),
            ("$aws/things/t/shadow/update", Ok(())),
            ("caf\u{e9}/\u{1f600}", Ok(())),
            ("", Err(TopicError::Empty)),
            ("a/\0", Err(TopicError::NullCharacter)),
            ("a/+", Err(TopicError::WildcardInTopicName)),
            ("a/#", Err(TopicError::WildcardInTopicName)),
            ("a+b", Err(TopicError::WildcardInTopicName)),
            (eight, Ok(())),
            (nine, Err(TopicError::TooManyLevels { levels: 9, max: 8 })),
            ("a/b/c/d/e/f/g/", Ok(())),
            (
                "a/b/c/d/e/f/g/h/",
                Err(TopicError::TooManyLevels { levels: 9, max: 8 }),
            ),
            (&max, Ok(())),
            (&over, Err(TopicError::TooLong { len: 257, max: 256 })),
            ("$aws/rules/MyRule/a/b/c/d/e/f/g/h", Ok(())),
            (
                "$aws/rules/MyRule/a/b/c/d/e/f/g/h/i",
                Err(TopicError::TooManyLevels { levels: 9, max: 8 }),
            ),
            ("$aws/rules/MyRule", Ok(())),
            (&ingest_long, Ok(())),
            (
                &ingest_too_long,
                Err(TopicError::TooLong { len: 257, max: 256 }),
            ),
            // Not a valid rule name, so the prefix counts: 3 + 6 levels.
            (
                "$aws/rules/my-rule/a/b/c/d/e/f",
                Err(TopicError::TooManyLevels { levels: 9, max: 8 }),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(name(input), want, "{input:?}");
        }
    }

    #[test]
    fn topic_filters() {
        let shared_max = format!("$share/group/{}", "x".repeat(256));
        let shared_long = format!("$share/group/{}", "x".repeat(257));
        let cases: Vec<(&str, Result<(), TopicError>)> = vec![
            ("a", Ok(())),
            ("#", Ok(())),
            ("+", Ok(())),
            ("+/+", Ok(())),
            ("a/+/b", Ok(())),
            ("a/#", Ok(())),
            ("+/#", Ok(())),
            ("/#", Ok(())),
            ("a//+", Ok(())),
            ("$aws/things/+/shadow/#", Ok(())),
            ("", Err(TopicError::Empty)),
            ("a\0", Err(TopicError::NullCharacter)),
            ("a/#/b", Err(TopicError::InvalidWildcard)),
            ("#/", Err(TopicError::InvalidWildcard)),
            ("a#", Err(TopicError::InvalidWildcard)),
            ("a/b+", Err(TopicError::InvalidWildcard)),
            ("++", Err(TopicError::InvalidWildcard)),
            ("a/##", Err(TopicError::InvalidWildcard)),
            ("a/b/c/d/e/f/g/#", Ok(())),
            (
                "a/b/c/d/e/f/g/h/#",
                Err(TopicError::TooManyLevels { levels: 9, max: 8 }),
            ),
            ("$share/g/a/+", Ok(())),
            ("$share/g/#", Ok(())),
            ("$share/g/a/b/c/d/e/f/g/h", Ok(())),
            (
                "$share/g/a/b/c/d/e/f/g/h/i",
                Err(TopicError::TooManyLevels { levels: 9, max: 8 }),
            ),
            (&shared_max, Ok(())),
            (
                &shared_long,
                Err(TopicError::TooLong { len: 257, max: 256 }),
            ),
            ("$share/g/a/#/b", Err(TopicError::InvalidWildcard)),
            ("$share/g/", Err(TopicError::InvalidSharedSubscription)),
            ("$share/g", Err(TopicError::InvalidSharedSubscription)),
            ("$share//a", Err(TopicError::InvalidSharedSubscription)),
            ("$share/+/a", Err(TopicError::InvalidSharedSubscription)),
            ("$share/g#/a", Err(TopicError::InvalidSharedSubscription)),
            // Without the trailing slash it is an ordinary (reserved) filter.
            ("$share", Ok(())),
        ];
        for (input, want) in cases {
            assert_eq!(filter(input), want, "{input:?}");
        }
    }

    #[test]
    fn custom_limits() {
        let limits = TopicLimits {
            max_bytes: 5,
            max_levels: 2,
        };
        assert_eq!(validate_topic_name("ab/cd", &limits), Ok(()));
        assert_eq!(
            validate_topic_name("ab/cde", &limits),
            Err(TopicError::TooLong { len: 6, max: 5 })
        );
        assert_eq!(
            validate_topic_filter("a/b/c", &limits),
            Err(TopicError::TooManyLevels { levels: 3, max: 2 })
        );
        assert_eq!(
            validate_topic_filter("$share/long-group/a/b", &limits),
            Ok(())
        );
    }

    #[test]
    fn error_messages_are_lowercase() {
        let errors = [
            TopicError::Empty,
            TopicError::TooLong { len: 1, max: 0 },
            TopicError::TooManyLevels { levels: 1, max: 0 },
            TopicError::WildcardInTopicName,
            TopicError::InvalidWildcard,
            TopicError::NullCharacter,
            TopicError::InvalidSharedSubscription,
        ];
        for e in errors {
            let msg = e.to_string();
            assert!(msg.starts_with(|c: char| c.is_ascii_lowercase()), "{msg}");
        }
    }
}
