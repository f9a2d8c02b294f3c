//! MQTT topics and filters as NATS subjects (ARCHITECTURE.md, "Messages between nodes").
//!
//! A topic maps to `{prefix}.m.{level}.{level}…`, one NATS token per MQTT level. The mapping
//! is injective: the bytes NATS forbids in a token (`.`, `*`, `>`, space and control bytes)
//! and the escape character `~` itself become `~XX` (upper-case hex), and an empty level
//! becomes the token `~` (which no escaped level can be, since `~` alone is always escaped).
//! Filters map level by level with `+` → `*` and `#` → `>`. NATS knows nothing of `$` topics,
//! so `#` and `+/…` also select `$` topics: the receiving node's trie drops those.

use std::fmt::Write;

/// Where the topic tokens start below the prefix.
const MESSAGES: &str = "m";

fn must_escape(b: u8) -> bool {
    b <= b' ' || b == 0x7f || matches!(b, b'.' | b'*' | b'>' | b'~')
}

/// Appends one MQTT level as one NATS token.
fn push_token(out: &mut String, level: &str) {
    if level.is_empty() {
        out.push('~');
        return;
    }
    let mut rest = level;
    while let Some(i) = rest.bytes().position(must_escape) {
        out.push_str(&rest[..i]);
        // Escaped bytes are ASCII, so `i + 1` is a char boundary.
        let _ = write!(out, "~{:02X}", rest.as_bytes()[i]);
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

/// The subject a message on `topic` is published to.
pub fn topic_subject(prefix: &str, topic: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 3 + topic.len() + 8);
    out.push_str(prefix);
    out.push('.');
    out.push_str(MESSAGES);
    for level in topic.split('/') {
        out.push('.');
        push_token(&mut out, level);
    }
    out
}

/// The topic a subject made by [`topic_subject`] with `prefix` stands for; `None` for any
/// other subject.
pub fn subject_topic(prefix: &str, subject: &str) -> Option<String> {
    let tokens = subject
        .strip_prefix(prefix)?
        .strip_prefix('.')?
        .strip_prefix(MESSAGES)?
        .strip_prefix('.')?;
    let mut topic = Vec::with_capacity(tokens.len());
    for (n, token) in tokens.split('.').enumerate() {
        if n > 0 {
            topic.push(b'/');
        }
        if token == "~" {
            continue;
        }
        let bytes = token.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'~' {
                let hex = token.get(i + 1..i + 3)?;
                let b = u8::from_str_radix(hex, 16).ok()?;
                // Only what `push_token` escapes, in its spelling, keeps the mapping one-to-one.
                if !must_escape(b) || hex.bytes().any(|h| h.is_ascii_lowercase()) {
                    return None;
                }
                topic.push(b);
                i += 3;
            } else if must_escape(bytes[i]) {
                return None;
            } else {
                topic.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(topic).ok()
}

/// The subjects a node subscribes to for an MQTT topic filter (a `$share/{group}/…` filter
/// maps its inner filter; the group becomes the queue group, see [`queue_group`]). With
/// `multilevel_matches_parent` (standard MQTT) `a/#` also subscribes `a` itself.
pub fn filter_subjects(prefix: &str, filter: &str, multilevel_matches_parent: bool) -> Vec<String> {
    let filter = ferrite_topic::parse_shared(filter).map_or(filter, |s| s.filter);
    let mut out = String::with_capacity(prefix.len() + 3 + filter.len() + 8);
    out.push_str(prefix);
    out.push('.');
    out.push_str(MESSAGES);
    let mut parent = None;
    for level in filter.split('/') {
        match level {
            "+" => out.push_str(".*"),
            "#" => {
                // `#` at the top level has no parent topic: every topic has a first level.
                if multilevel_matches_parent && out.len() > prefix.len() + 1 + MESSAGES.len() {
                    parent = Some(out.clone());
                }
                out.push_str(".>");
                break;
            }
            level => {
                out.push('.');
                push_token(&mut out, level);
            }
        }
    }
    let mut subjects = vec![out];
    subjects.extend(parent);
    subjects
}

/// The NATS queue group of a shared subscription `$share/{group}/…`; `None` for other filters.
/// Escaped like a level, so a share name NATS would refuse (whitespace) still works.
pub fn queue_group(filter: &str) -> Option<String> {
    ferrite_topic::parse_shared(filter).map(|s| {
        let mut group = String::with_capacity(s.group.len());
        push_token(&mut group, s.group);
        group
    })
}

/// Whether `subject` matches the NATS subscription `pattern` (`*` one token, `>` one or more
/// trailing tokens). What the in-process bus routes by, as NATS does.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_become_tokens_and_forbidden_bytes_are_escaped() {
        assert_eq!(topic_subject("ferrite", "a/b/c"), "ferrite.m.a.b.c");
        assert_eq!(topic_subject("f", "a.b/*/>/~"), "f.m.a~2Eb.~2A.~3E.~7E");
        assert_eq!(topic_subject("f", "/x//"), "f.m.~.x.~.~");
        assert_eq!(topic_subject("f", "sp ace\t\u{7f}"), "f.m.sp~20ace~09~7F");
        assert_eq!(topic_subject("f", "$aws/things/é"), "f.m.$aws.things.é");
    }

    #[test]
    fn subjects_decode_back_to_their_topic() {
        for topic in ["a/b", "/", "a.b/*/>/~", "~7E", "é/ /x", "$aws/events/#"] {
            let subject = topic_subject("f", topic);
            assert_eq!(
                subject_topic("f", &subject).as_deref(),
                Some(topic),
                "{subject}"
            );
        }
        for foreign in [
            "g.m.a", "f.x.a", "f.m.a~2", "f.m.a~41", "f.m.a~2e", "f.m.a*", "fm.a",
        ] {
            assert_eq!(subject_topic("f", foreign), None, "{foreign}");
        }
    }

    #[test]
    fn filters_map_wildcards() {
        assert_eq!(filter_subjects("f", "a/+/c", true), ["f.m.a.*.c"]);
        assert_eq!(filter_subjects("f", "a/#", true), ["f.m.a.>", "f.m.a"]);
        assert_eq!(filter_subjects("f", "a/#", false), ["f.m.a.>"]);
        assert_eq!(filter_subjects("f", "#", true), ["f.m.>"]);
        assert_eq!(filter_subjects("f", "+", true), ["f.m.*"]);
        assert_eq!(filter_subjects("f", "$share/g/a/+", true), ["f.m.a.*"]);
        assert_eq!(filter_subjects("f", "a//b", true), ["f.m.a.~.b"]);
        assert_eq!(queue_group("$share/g 1/a"), Some("g~201".to_owned()));
        assert_eq!(queue_group("a/b"), None);
    }

    #[test]
    fn subject_patterns_match_like_nats() {
        assert!(subject_matches("f.m.a.*", "f.m.a.b"));
        assert!(!subject_matches("f.m.a.*", "f.m.a.b.c"));
        assert!(!subject_matches("f.m.a.*", "f.m.a"));
        assert!(subject_matches("f.m.a.>", "f.m.a.b.c"));
        assert!(!subject_matches("f.m.a.>", "f.m.a"));
        assert!(subject_matches("f.m.a", "f.m.a"));
        assert!(!subject_matches("f.m.a", "f.m.ab"));
    }
}
