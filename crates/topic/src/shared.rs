//! `$share/{group}/{filter}` shared-subscription filters (MQTT 5 §4.8.2, also accepted over 3.1.1).

/// A parsed shared-subscription filter, borrowing from the original string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedFilter<'a> {
    /// The share name: non-empty, without `/`, `+` or `#`.
    pub group: &'a str,
    /// The inner topic filter that messages are matched against (non-empty, not yet validated).
    pub filter: &'a str,
}

const PREFIX: &str = "$share/";

/// Parses `$share/{group}/{filter}`.
///
/// Returns `None` both for ordinary filters and for malformed shared filters (empty or wildcard
/// share name, missing or empty inner filter); use [`crate::validate_topic_filter`] to tell them
/// apart.
pub fn parse_shared(filter: &str) -> Option<SharedFilter<'_>> {
    let rest = filter.strip_prefix(PREFIX)?;
    let (group, inner) = rest.split_once('/')?;
    if group.is_empty() || group.contains(['+', '#']) || inner.is_empty() {
        return None;
    }
    Some(SharedFilter {
        group,
        filter: inner,
    })
}

/// True when `filter` claims to be a shared subscription, well-formed or not.
pub(crate) fn looks_shared(filter: &str) -> bool {
    filter.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_cases() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("$share/g/a/b", Some(("g", "a/b"))),
            ("$share/g/#", Some(("g", "#"))),
            ("$share/g/+/x", Some(("g", "+/x"))),
            ("$share/g/$share/h/x", Some(("g", "$share/h/x"))),
            ("$share/g/", None),
            ("$share/g", None),
            ("$share//a", None),
            ("$share/+/a", None),
            ("$share/g#/a", None),
            ("$share", None),
            ("$SHARE/g/a", None),
            ("a/b", None),
            ("", None),
        ];
        for (input, want) in cases {
            let got = parse_shared(input).map(|s| (s.group, s.filter));
            assert_eq!(got, *want, "{input}");
        }
    }
}
