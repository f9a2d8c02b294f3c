//! The three timestamp encodings of rest-json: epoch seconds (JSON bodies), ISO-8601 (query
//! strings and URI labels) and RFC 822 / IMF-fixdate (headers).
//!
//! Decoded inputs carry every timestamp as epoch seconds, an integer when whole and a float
//! otherwise, whatever encoding it arrived in, so handlers read one form.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, Weekday};

use crate::shape::TimestampFormat;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses `text` in `format`, also accepting the other text encodings: clients differ, and the
/// three are unambiguous.
pub(crate) fn parse_text(text: &str, format: TimestampFormat) -> Option<OffsetDateTime> {
    let text = text.trim();
    let preferred = match format {
        TimestampFormat::Iso8601 => parse_iso8601(text),
        TimestampFormat::Rfc822 => parse_http_date(text),
        TimestampFormat::UnixTimestamp => parse_epoch_text(text),
    };
    preferred
        .or_else(|| parse_iso8601(text))
        .or_else(|| parse_http_date(text))
        .or_else(|| parse_epoch_text(text))
}

fn parse_iso8601(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn parse_epoch_text(text: &str) -> Option<OffsetDateTime> {
    from_epoch_f64(text.parse::<f64>().ok()?)
}

fn from_epoch_f64(seconds: f64) -> Option<OffsetDateTime> {
    if !seconds.is_finite() {
        return None;
    }
    let nanos = (seconds * 1e9).round() as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (the weekday is not checked against the date).
fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    let mut parts = text.split_ascii_whitespace();
    let _weekday = parts.next()?.strip_suffix(',')?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month_name))?;
    let year: i32 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u8>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    let zone = parts.next()?;
    if !["GMT", "UTC", "UT", "Z", "+0000", "-0000"].contains(&zone) || parts.next().is_some() {
        return None;
    }
    let month = Month::try_from(u8::try_from(month + 1).ok()?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(h, m, s).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

pub(crate) fn format_http_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let weekday = match t.weekday() {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    };
    format!(
        "{weekday}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub(crate) fn format_rfc3339(t: OffsetDateTime) -> Option<String> {
    t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok()
}

/// Epoch seconds as JSON: an integer when whole, else a float.
pub(crate) fn to_epoch_value(t: OffsetDateTime) -> Value {
    let seconds = t.unix_timestamp();
    match t.nanosecond() {
        0 => Value::from(seconds),
        nanos => Value::from(seconds as f64 + f64::from(nanos) / 1e9),
    }
}

/// Reads a timestamp given as epoch seconds (number) or as text in any of the encodings.
pub(crate) fn from_value(value: &Value) -> Option<OffsetDateTime> {
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(whole) => OffsetDateTime::from_unix_timestamp(whole).ok(),
            None => from_epoch_f64(n.as_f64()?),
        },
        Value::String(s) => parse_text(s, TimestampFormat::Iso8601),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAY_FIRST: i64 = 1_714_564_800; // 2024-05-01T12:00:00Z

    #[test]
    fn parses_each_encoding() {
        let iso = parse_text("2024-05-01T12:00:00Z", TimestampFormat::Iso8601).unwrap();
        assert_eq!(iso.unix_timestamp(), MAY_FIRST);
        let frac = parse_text("2024-05-01T12:00:00.250000Z", TimestampFormat::Iso8601).unwrap();
        assert_eq!(to_epoch_value(frac), Value::from(MAY_FIRST as f64 + 0.25));
        let http = parse_text("Wed, 01 May 2024 12:00:00 GMT", TimestampFormat::Rfc822).unwrap();
        assert_eq!(http.unix_timestamp(), MAY_FIRST);
        let epoch = parse_text("1714564800", TimestampFormat::Iso8601).unwrap();
        assert_eq!(to_epoch_value(epoch), Value::from(MAY_FIRST));
        assert!(parse_text("yesterday", TimestampFormat::Iso8601).is_none());
        assert!(parse_text("Wed, 01 May 2024 12:00:00 CEST", TimestampFormat::Rfc822).is_none());
    }

    #[test]
    fn formats_http_dates() {
        let t = OffsetDateTime::from_unix_timestamp(MAY_FIRST).unwrap();
        assert_eq!(format_http_date(t), "Wed, 01 May 2024 12:00:00 GMT");
        assert_eq!(format_rfc3339(t).unwrap(), "2024-05-01T12:00:00Z");
    }

    #[test]
    fn reads_numbers_and_strings() {
        assert_eq!(
            from_value(&Value::from(MAY_FIRST))
                .unwrap()
                .unix_timestamp(),
            MAY_FIRST
        );
        let half = from_value(&Value::from(1.5)).unwrap();
        assert_eq!(half.unix_timestamp_nanos(), 1_500_000_000);
        let text = from_value(&Value::from("2024-05-01T12:00:00Z")).unwrap();
        assert_eq!(text.unix_timestamp(), MAY_FIRST);
        assert!(from_value(&Value::Bool(true)).is_none());
    }
}
