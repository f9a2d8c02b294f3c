//! A message's context as the SQL functions see it (`topic()`, `clientid()`, `principal()`,
//! MQTT 5 properties, ...), built from the message's `Origin`.

use ferrite_broker::Message;
use ferrite_rules::SqlVersion;
use ferrite_rules::functions::MessageContext;
use ferrite_types::Protocol;

/// The context of `msg` for a rule of `version`; `topic` is the topic the rule sees (a Basic
/// Ingest message's without its `$aws/rules/{rule}/` prefix).
pub(crate) fn message_context(
    msg: &Message,
    topic: &str,
    version: SqlVersion,
    account_id: &str,
    now_ms: i64,
) -> MessageContext {
    let mqtt = matches!(msg.origin.protocol, Protocol::Mqtt(_));
    let p = &msg.properties;
    MessageContext {
        sql_version: version,
        topic: topic.to_owned(),
        client_id: msg.origin.client_id.as_deref().map(str::to_owned),
        principal: msg.origin.principal.as_deref().map(str::to_owned),
        source_ip: msg.origin.source_ip,
        account_id: account_id.to_owned(),
        // A trace id per message, as AWS gives MQTT messages; other messages have none.
        trace_id: mqtt.then(trace_id),
        timestamp_ms: now_ms,
        payload_format_indicator: p.payload_format_indicator,
        content_type: p.content_type.clone(),
        response_topic: p.response_topic.clone(),
        correlation_data: p.correlation_data.clone(),
        user_properties: p.user_properties.clone(),
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

#[cfg(test)]
mod tests {
    #[test]
    fn trace_ids_are_distinct_version_4_uuids() {
        let (a, b) = (super::trace_id(), super::trace_id());
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(a.len(), 36);
    }
}
