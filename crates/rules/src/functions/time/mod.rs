//! Time functions: `timestamp()`, `parse_time` (epoch milliseconds → text, Joda-Time patterns)
//! and `time_to_epoch` (text → epoch milliseconds, Java 11 `DateTimeFormatter` patterns). Both
//! pattern languages are implemented here over `jiff`, with the IANA zone database compiled in.

mod jdk;
mod joda;
mod pattern;
mod zones;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{FnContext, FnError, arg};
use crate::convert::{to_int_down, to_string};
use crate::value::Value;

type Out = Result<Value, FnError>;

/// `timestamp()`: the rules engine's time for the message, epoch milliseconds.
pub fn timestamp(_args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(Value::Int(ctx.timestamp_ms()))
}

/// `parse_time(pattern, epochMillis[, zone])`: the instant formatted with a Joda-Time pattern
/// in `zone` (default UTC). An invalid pattern, instant or zone gives `Undefined`.
pub fn parse_time(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(format_time(args).map_or(Value::Undefined, Value::from))
}

fn format_time(args: &[Value]) -> Option<String> {
    let pattern = to_string(arg(args, 0))?;
    let millis = to_int_down(arg(args, 1))?;
    let zone = match args.get(2) {
        Some(z) => zones::zone_by_id(&to_string(z)?)?,
        None => TimeZone::UTC,
    };
    let tokens = pattern::tokenize(&pattern, false)?;
    let zoned = Timestamp::from_millisecond(millis)
        .ok()?
        .to_zoned_datetime(zone);
    joda::format(&zoned, &tokens)
}

/// `time_to_epoch(text, pattern)`: `text` read with a `DateTimeFormatter` pattern, as epoch
/// milliseconds (UTC when the text names no zone). Text that does not match gives `Undefined`.
pub fn time_to_epoch(args: &[Value], _ctx: &dyn FnContext) -> Out {
    let parsed = (|| {
        let text = to_string(arg(args, 0))?;
        let pattern = to_string(arg(args, 1))?;
        jdk::parse(&text, &pattern::tokenize(&pattern, true)?)
    })();
    Ok(parsed.map_or(Value::Undefined, Value::Int))
}
