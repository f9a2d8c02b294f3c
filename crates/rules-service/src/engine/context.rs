//! What a rule's SQL and its actions' substitution templates see of one message: `topic()`,
//! `clientid()`, `principal()`, MQTT 5 properties, `traceid()`, read straight from the
//! broker's shared `Message` rather than copied out of it, since a context is made for every
//! message every matching rule selects. The lookups the context also serves are in
//! [`super::services`].

use std::sync::{Arc, OnceLock};

use ferrite_broker::Message;
use ferrite_rules::{SqlVersion, Value};
use ferrite_types::Protocol;

use super::services::Services;

/// One message as one rule sees it, with the services its lookups call.
pub(crate) struct RuleContext {
    pub(super) msg: Arc<Message>,
    /// Where the rule's topic starts in the message's: a Basic Ingest rule sees the topic
    /// without its `$aws/rules/{rule}/` prefix.
    topic_start: usize,
    pub(super) version: SqlVersion,
    pub(super) account_id: Arc<str>,
    pub(super) timestamp_ms: i64,
    /// Made on first use: most rules never ask for it.
    trace_id: OnceLock<Option<String>>,
    /// The `topic(n)` level the rule's SQL reads first, made up front (see
    /// [`RuleContext::keeping_level`]): a rule's WHERE and its actions' templates
    /// (`republish` to `.../${topic(3)}`) tend to ask for the same one.
    level: Option<(usize, Value)>,
    pub(super) services: Option<Arc<Services>>,
}

impl RuleContext {
    /// `msg` seen by a rule of `version` as published to `topic`, which must be a suffix of
    /// the message's topic (all of it, or what follows a Basic Ingest prefix).
    pub fn new(
        msg: &Arc<Message>,
        topic: &str,
        version: SqlVersion,
        account_id: &Arc<str>,
        now_ms: i64,
        services: Option<Arc<Services>>,
    ) -> RuleContext {
        debug_assert!(msg.topic.ends_with(topic));
        RuleContext {
            msg: msg.clone(),
            topic_start: msg.topic.len().saturating_sub(topic.len()),
            version,
            account_id: account_id.clone(),
            timestamp_ms: now_ms,
            trace_id: OnceLock::new(),
            level: None,
            services,
        }
    }

    pub fn topic(&self) -> &str {
        &self.msg.topic[self.topic_start..]
    }

    pub fn client_id(&self) -> Option<&str> {
        self.msg.origin.client_id.as_deref()
    }

    pub fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }

    /// The context with topic level `i` (from 0) made once, for every `topic(i + 1)` of the
    /// rule and its actions to share. Made here rather than on first use: a lazily filled
    /// cell that a shared context needs costs more than the level itself.
    pub fn keeping_level(mut self, i: Option<usize>) -> RuleContext {
        self.level = i.map(|i| (i, ferrite_rules::topic_level(self.topic(), i)));
        self
    }

    /// `topic(n)`'s level `i` (from 0): the kept one, or made now.
    pub fn topic_level(&self, i: usize) -> Value {
        match self.kept_topic_level(i) {
            Some(v) => v.clone(),
            None => ferrite_rules::topic_level(self.topic(), i),
        }
    }

    /// Level `i` if it is the kept one.
    pub fn kept_topic_level(&self, i: usize) -> Option<&Value> {
        match &self.level {
            Some((at, v)) if *at == i => Some(v),
            _ => None,
        }
    }

    /// A trace id per message, as AWS gives MQTT messages; other messages have none. Stable
    /// for the context's life, so the SQL and every action's templates see the same one.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id
            .get_or_init(|| matches!(self.msg.origin.protocol, Protocol::Mqtt(_)).then(trace_id))
            .as_deref()
    }
}

/// A random (version 4) UUID from the thread's user-space generator: one per message, so it
/// must not cost a `getrandom` system call as `Uuid::new_v4` does.
fn trace_id() -> String {
    let bytes: [u8; 16] = rand::random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// A context for actions' and lookups' unit tests: `topic` published by MQTT client `dev1`
/// at `now_ms`, SQL version 2016-03-23.
#[cfg(test)]
pub(crate) fn test_context(
    topic: &str,
    now_ms: i64,
    services: Option<Arc<Services>>,
) -> RuleContext {
    test_context_with(topic, bytes::Bytes::new(), now_ms, services)
}

/// [`test_context`] for a message with `payload`.
#[cfg(test)]
pub(crate) fn test_context_with(
    topic: &str,
    payload: bytes::Bytes,
    now_ms: i64,
    services: Option<Arc<Services>>,
) -> RuleContext {
    use ferrite_mqtt_codec::{ProtocolVersion, QoS};
    use ferrite_types::Origin;
    let origin = Origin {
        client_id: Some("dev1".into()),
        principal: None,
        source_ip: None,
        protocol: Protocol::Mqtt(ProtocolVersion::V5),
        node: ferrite_types::message::LOCAL_NODE.into(),
    };
    let msg = Message::new(
        topic.into(),
        payload,
        QoS::AtMostOnce,
        false,
        &Default::default(),
        Arc::new(origin),
        now_ms,
    );
    let msg = Arc::new(msg);
    RuleContext::new(
        &msg,
        topic,
        SqlVersion::V2016_03_23,
        &Arc::from("123456789012"),
        now_ms,
        services,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_are_distinct_version_4_uuids() {
        let (a, b) = (trace_id(), trace_id());
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(a.len(), 36);
    }

    #[test]
    fn topic_levels_are_right_whichever_level_was_asked_first() {
        let ctx = test_context("sensors/kitchen/temp", 1, None).keeping_level(Some(1));
        let level = |i| ctx.topic_level(i).as_str().map(str::to_owned);
        // Level 1 is kept; the others are still computed, not the kept one.
        assert_eq!(level(1).as_deref(), Some("kitchen"));
        assert_eq!(level(2).as_deref(), Some("temp"));
        assert_eq!(level(1).as_deref(), Some("kitchen"));
        assert_eq!(level(0).as_deref(), Some("sensors"));
        assert!(ctx.topic_level(3).is_undefined());
        let sql = ferrite_rules::compile(
            "SELECT topic(2) AS a, topic(3) AS b, topic(2) AS c FROM '#'",
            SqlVersion::V2016_03_23,
        )
        .unwrap();
        // The engine keeps the level the statement reads first.
        assert_eq!(sql.topic_level(), Some(1));
        let unkept = test_context("sensors/kitchen/temp", 1, None);
        for ctx in [&ctx, &unkept] {
            let ferrite_rules::Evaluation::Selected(s) = sql
                .evaluate(&bytes::Bytes::from_static(b"{}"), ctx)
                .unwrap()
            else {
                panic!("selected")
            };
            assert_eq!(
                ferrite_rules::json::to_json_string(&s.output),
                r#"{"a":"kitchen","b":"temp","c":"kitchen"}"#
            );
        }
        let first = |sql: &str| {
            ferrite_rules::compile(sql, SqlVersion::V2016_03_23)
                .unwrap()
                .topic_level()
        };
        assert_eq!(
            first("SET @x = topic(4) SELECT topic(2) AS a FROM '#'"),
            Some(3)
        );
        assert_eq!(
            first("SELECT topic(2) AS a FROM '#' WHERE topic(5) = 'x'"),
            Some(4)
        );
        assert_eq!(first("SELECT topic() AS a, topic(0) AS b FROM '#'"), None);
    }

    #[test]
    fn a_context_keeps_its_trace_id_and_sees_the_rules_topic() {
        let ctx = test_context("$aws/rules/r/a/b", 1, None);
        assert_eq!(ctx.trace_id(), ctx.trace_id());
        assert!(ctx.trace_id().is_some());
        let ingest = RuleContext::new(
            &ctx.msg,
            "a/b",
            SqlVersion::V2016_03_23,
            &ctx.account_id,
            1,
            None,
        );
        assert_eq!(ingest.topic(), "a/b");
    }
}
