//! Size limits applied to topic names and filters.

/// Maximum size of a topic name or filter.
///
/// AWS IoT Core counts neither bytes nor levels of a Basic Ingest prefix `$aws/rules/{ruleName}/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicLimits {
    /// Maximum length in UTF-8 bytes.
    pub max_bytes: usize,
    /// Maximum number of levels (one more than the number of `/`).
    pub max_levels: usize,
}

impl Default for TopicLimits {
    /// The AWS IoT Core limits: 256 bytes and 8 levels.
    fn default() -> Self {
        Self {
            max_bytes: 256,
            max_levels: 8,
        }
    }
}

/// AWS rule names are `[a-zA-Z0-9_]+`, at most 128 characters.
const MAX_RULE_NAME: usize = 128;

/// The part of `topic` that counts toward the limits.
///
/// Returns `None` for a bare `$aws/rules/{ruleName}`, which has nothing left to count. Only a
/// syntactically valid rule name qualifies, otherwise a huge "rule name" would escape the limits.
pub(crate) fn counted_part(topic: &str) -> Option<&str> {
    let Some(rest) = topic.strip_prefix("$aws/rules/") else {
        return Some(topic);
    };
    let (rule, tail) = match rest.split_once('/') {
        Some((rule, tail)) => (rule, Some(tail)),
        None => (rest, None),
    };
    let valid_rule = !rule.is_empty()
        && rule.len() <= MAX_RULE_NAME
        && rule.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid_rule { tail } else { Some(topic) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_aws() {
        let l = TopicLimits::default();
        assert_eq!((l.max_bytes, l.max_levels), (256, 8));
    }

    #[test]
    fn basic_ingest_prefix_is_not_counted() {
        assert_eq!(counted_part("a/b"), Some("a/b"));
        assert_eq!(counted_part("$aws/rules/R_1/x/y"), Some("x/y"));
        assert_eq!(counted_part("$aws/rules/R_1/"), Some(""));
        assert_eq!(counted_part("$aws/rules/R_1"), None);
        assert_eq!(counted_part("$aws/rules//x"), Some("$aws/rules//x"));
        assert_eq!(
            counted_part("$aws/rules/bad-name/x"),
            Some("$aws/rules/bad-name/x")
        );
        let long = format!("$aws/rules/{}/x", "r".repeat(129));
        assert_eq!(counted_part(&long), Some(long.as_str()));
    }
}
