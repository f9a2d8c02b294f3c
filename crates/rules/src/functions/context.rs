//! The triggering message and the rule: `topic`, `clientid`, `principal`, `sourceip`,
//! `traceid`, `accountid`, `newuuid`, `sql_version` and the MQTT 5 properties.

use base64::Engine;

use super::{FnContext, FnError, arg};
use crate::convert::to_int_nearest;
use crate::value::Value;

type Out = Result<Value, FnError>;

fn opt(s: Option<&str>) -> Value {
    s.map_or(Value::Undefined, Value::from)
}

pub fn accountid(_args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(Value::from(ctx.account_id()))
}

/// `clientid()`: `"n/a"` when the message did not come over MQTT.
pub fn clientid(_args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(Value::from(ctx.client_id().unwrap_or("n/a")))
}

pub fn principal(_args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(opt(ctx.principal()))
}

/// `sourceip()`: the publisher's address as text (IPv4 dotted, IPv6 compressed).
pub fn sourceip(_args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(ctx
        .source_ip()
        .map_or(Value::Undefined, |ip| Value::from(ip.to_string())))
}

/// `traceid()`: `Undefined` when the message did not come over MQTT.
pub fn traceid(_args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(opt(ctx.trace_id()))
}

pub fn newuuid(_args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(Value::from(uuid::Uuid::new_v4().to_string()))
}

pub fn sql_version(_args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(Value::from(ctx.sql_version().as_str()))
}

/// `topic()` / `topic(n)`: the whole topic or its `n`th level counted from 1 (`n` converted to
/// the nearest Int). Pinned: `n` outside the levels is `Undefined`.
pub fn topic(args: &[Value], ctx: &dyn FnContext) -> Out {
    let topic = ctx.topic();
    if args.is_empty() {
        return Ok(Value::from(topic));
    }
    Ok(topic_index(arg(args, 0)).map_or(Value::Undefined, |i| ctx.topic_level(i)))
}

/// The level (from 0) `topic(n)` reads: `n` converted to the nearest Int, less one; `None`
/// (the result is Undefined) for what names no level.
pub(crate) fn topic_index(n: &Value) -> Option<usize> {
    to_int_nearest(n)
        .and_then(|n| usize::try_from(n).ok())
        .and_then(|n| n.checked_sub(1))
}

/// `topic(n)`'s value for level `i` (from 0): `Undefined` beyond the last level.
pub fn topic_level(topic: &str, i: usize) -> Value {
    level(topic, i).map_or(Value::Undefined, Value::from)
}

/// The `i`th level (from 0) of `topic`, as `topic.split('/').nth(i)`, by a plain byte scan:
/// `topic(n)` runs for every message many rules see, and topic levels are a few bytes, shorter
/// than the standard splitter's searcher is quick to set up for.
fn level(topic: &str, i: usize) -> Option<&str> {
    let mut start = 0;
    let mut seen = 0;
    for (at, b) in topic.bytes().enumerate() {
        if b == b'/' {
            if seen == i {
                // `/` is ASCII: both ends are character boundaries.
                return topic.get(start..at);
            }
            seen += 1;
            start = at + 1;
        }
    }
    (seen == i).then(|| topic.get(start..)).flatten()
}

/// `get_mqtt_property(name)`: one of the MQTT 5 properties by AWS's names —
/// `format_indicator` (`"UNSPECIFIED_BYTES"` / `"UTF8_DATA"`), `content_type`,
/// `response_topic`, `correlation_data` (base64). Absent or unknown → `Undefined`.
pub fn get_mqtt_property(args: &[Value], ctx: &dyn FnContext) -> Out {
    let Some(name) = arg(args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    Ok(match name.to_ascii_lowercase().as_str() {
        "format_indicator" => ctx
            .payload_format_indicator()
            .map_or(Value::Undefined, |f| {
                Value::from(if f == 1 {
                    "UTF8_DATA"
                } else {
                    "UNSPECIFIED_BYTES"
                })
            }),
        "content_type" => opt(ctx.content_type()),
        "response_topic" => opt(ctx.response_topic()),
        "correlation_data" => ctx.correlation_data().map_or(Value::Undefined, |d| {
            Value::from(base64::engine::general_purpose::STANDARD.encode(d))
        }),
        _ => Value::Undefined,
    })
}

/// `get_user_properties(key)`: the values of every MQTT 5 user property named `key`, in the
/// order sent. Pinned: no such property → `Undefined`.
pub fn get_user_properties(args: &[Value], ctx: &dyn FnContext) -> Out {
    let Some(key) = arg(args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    let values: Vec<Value> = ctx
        .user_properties()
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| Value::from(v.as_str()))
        .collect();
    Ok(if values.is_empty() {
        Value::Undefined
    } else {
        Value::array(values)
    })
}

#[cfg(test)]
mod tests {
    use super::level;

    #[test]
    fn a_level_is_what_splitting_on_slash_gives() {
        for topic in [
            "",
            "/",
            "a",
            "a/",
            "/a",
            "a/b/c",
            "a//b",
            "caf\u{e9}/\u{1f600}/x",
        ] {
            for i in 0..5 {
                assert_eq!(level(topic, i), topic.split('/').nth(i), "{topic:?} {i}");
            }
        }
    }
}
