//! Parsing with Java 11 `DateTimeFormatter` patterns (English), for `time_to_epoch`.
//!
//! Supported letters: `G u y D M L d Q q E a h K k H m s S n V z O X x Z`, literals and `[…]`
//! optional sections. Week-based fields (`Y w W e c F`) and day-period fields are refused
//! (`None`), as are texts that leave input unread. A date is required (year with month and day,
//! or with day-of-year); a missing time is midnight and a missing zone UTC, which is how AWS
//! reads `time_to_epoch("18 December 2015", "dd MMMM yyyy")`.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};

use super::pattern::{MONTHS, Token, WEEKDAYS};
use super::zones::{abbreviation_zone, parse_offset, zone_by_id};

#[derive(Clone, Default)]
struct Fields {
    year: Option<i64>,
    year_of_era: Option<i64>,
    bc: bool,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    hour: Option<i64>,
    hour_of_ampm: Option<i64>,
    pm: Option<bool>,
    minute: Option<i64>,
    second: Option<i64>,
    nanos: Option<i64>,
    zone: Option<TimeZone>,
    offset: Option<i32>,
}

/// Milliseconds since the epoch for `text` read with `tokens`; `None` when it does not parse.
pub fn parse(text: &str, tokens: &[Token]) -> Option<i64> {
    let mut fields = Fields::default();
    let mut pos = 0;
    if !sequence(text, &mut pos, tokens, &mut fields) || pos != text.len() {
        return None;
    }
    resolve(&fields)
}

fn sequence(text: &str, pos: &mut usize, tokens: &[Token], f: &mut Fields) -> bool {
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::OptionalStart => {
                let end = matching_end(tokens, i);
                let (mut p, mut g) = (*pos, f.clone());
                if sequence(text, &mut p, &tokens[i + 1..end], &mut g) {
                    *pos = p;
                    *f = g;
                }
                i = end + 1;
                continue;
            }
            Token::OptionalEnd => {}
            Token::Literal(lit) => {
                if !text[*pos..].starts_with(lit.as_str()) {
                    return false;
                }
                *pos += lit.len();
            }
            Token::Field(letter, count) => {
                if field(text, pos, *letter, *count, f).is_none() {
                    return false;
                }
            }
        }
        i += 1;
    }
    true
}

fn matching_end(tokens: &[Token], start: usize) -> usize {
    let mut depth = 0;
    for (i, t) in tokens.iter().enumerate().skip(start) {
        match t {
            Token::OptionalStart => depth += 1,
            Token::OptionalEnd => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// Reads `min..=max` ASCII digits (with a sign when `signed`).
fn digits(text: &str, pos: &mut usize, min: usize, max: usize, signed: bool) -> Option<i64> {
    let bytes = text.as_bytes();
    let mut i = *pos;
    let negative = signed && matches!(bytes.get(i), Some(b'-'));
    if signed && matches!(bytes.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let start = i;
    while i < bytes.len() && i - start < max && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i - start < min {
        return None;
    }
    let value: i64 = text[start..i].parse().ok()?;
    *pos = i;
    Some(if negative { -value } else { value })
}

/// Matches one of `names` (case-insensitively), longest first; returns its index.
fn name(text: &str, pos: &mut usize, names: &[&str]) -> Option<usize> {
    let rest = &text[*pos..];
    let (index, len) = names
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            rest.get(..n.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(n))
        })
        .map(|(i, n)| (i, n.len()))
        .max_by_key(|(_, len)| *len)?;
    *pos += len;
    Some(index)
}

/// A number field: two or more letters are a fixed width, one letter takes up to `max1`
/// digits.
fn num(text: &str, pos: &mut usize, count: usize, max1: usize) -> Option<i64> {
    if count == 1 {
        digits(text, pos, 1, max1, false)
    } else {
        digits(text, pos, count, count, false)
    }
}

fn field(text: &str, pos: &mut usize, letter: char, count: usize, f: &mut Fields) -> Option<()> {
    let short_months: Vec<&str> = MONTHS.iter().map(|m| &m[..3]).collect();
    let short_days: Vec<&str> = WEEKDAYS.iter().map(|d| &d[..3]).collect();
    match letter {
        'u' | 'y' => {
            let value = if count == 2 {
                2000 + digits(text, pos, 2, 2, false)?
            } else {
                digits(text, pos, count.min(4), 19, count >= 4)?
            };
            if letter == 'u' {
                f.year = Some(value);
            } else {
                f.year_of_era = Some(value);
            }
        }
        'G' => {
            let names = if count == 4 {
                ["Before Christ", "Anno Domini"]
            } else {
                ["BC", "AD"]
            };
            f.bc = name(text, pos, &names)? == 0;
        }
        'M' | 'L' => {
            f.month = Some(match count {
                1 | 2 => num(text, pos, count, 2)?,
                3 => name(text, pos, &short_months)? as i64 + 1,
                4 => name(text, pos, &MONTHS)? as i64 + 1,
                _ => return None,
            })
        }
        'Q' | 'q' if count <= 2 => {
            num(text, pos, count, 1)?;
        }
        'd' if count <= 2 => f.day = Some(num(text, pos, count, 2)?),
        'D' if count <= 3 => f.day_of_year = Some(num(text, pos, count, 3)?),
        'E' => {
            match count {
                1..=3 => name(text, pos, &short_days)?,
                4 => name(text, pos, &WEEKDAYS)?,
                _ => return None,
            };
        }
        'a' if count == 1 => f.pm = Some(name(text, pos, &["AM", "PM"])? == 1),
        'H' if count <= 2 => f.hour = Some(num(text, pos, count, 2)?).filter(|h| *h < 24),
        'k' if count <= 2 => {
            f.hour = Some(num(text, pos, count, 2)?)
                .filter(|h| (1..=24).contains(h))
                .map(|h| h % 24)
        }
        'K' if count <= 2 => f.hour_of_ampm = Some(num(text, pos, count, 2)?).filter(|h| *h < 12),
        'h' if count <= 2 => {
            f.hour_of_ampm = Some(num(text, pos, count, 2)?)
                .filter(|h| (1..=12).contains(h))
                .map(|h| h % 12)
        }
        'm' if count <= 2 => f.minute = Some(num(text, pos, count, 2)?).filter(|m| *m < 60),
        's' if count <= 2 => f.second = Some(num(text, pos, count, 2)?).filter(|s| *s < 60),
        'S' if count <= 9 => {
            let start = *pos;
            let fraction = digits(text, pos, count, count, false)?;
            let read = *pos - start;
            f.nanos = Some(fraction * 10i64.pow(9 - read as u32));
        }
        'n' => f.nanos = Some(digits(text, pos, count, 9, false)?),
        'V' if count == 2 => f.zone = Some(zone_id_at(text, pos)?),
        'z' if count <= 4 => {
            let zone = abbreviation_at(text, pos).or_else(|| zone_id_at(text, pos))?;
            f.zone = Some(zone);
        }
        'O' | 'X' | 'x' | 'Z' => f.offset = Some(offset_at(text, pos, letter, count)?),
        _ => return None,
    }
    Some(())
}

/// The longest run at `pos` that names a zone id.
fn zone_id_at(text: &str, pos: &mut usize) -> Option<TimeZone> {
    let rest = &text[*pos..];
    let run = rest
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || "/_+-:.~".contains(*c)))
        .map_or(rest.len(), |(i, _)| i);
    (1..=run).rev().find_map(|len| {
        let zone = zone_by_id(&rest[..len])?;
        *pos += len;
        Some(zone)
    })
}

fn abbreviation_at(text: &str, pos: &mut usize) -> Option<TimeZone> {
    let rest = &text[*pos..];
    let run = rest
        .char_indices()
        .find(|(_, c)| !c.is_ascii_alphabetic())
        .map_or(rest.len(), |(i, _)| i);
    let zone = abbreviation_zone(&rest[..run])?;
    *pos += run;
    Some(zone)
}

/// An offset: `Z` (for `X` and `ZZZZZ`), an optional `GMT`/`UTC` prefix (required for `O` and
/// `ZZZZ`, where a bare prefix is zero), then `±H[H][[:]MM[[:]SS]]`.
fn offset_at(text: &str, pos: &mut usize, letter: char, count: usize) -> Option<i32> {
    let rest = &text[*pos..];
    let zulu_allowed = letter == 'X' || (letter == 'Z' && count == 5);
    if zulu_allowed && rest.starts_with('Z') {
        *pos += 1;
        return Some(0);
    }
    let localized = letter == 'O' || (letter == 'Z' && count == 4);
    let prefix = ["GMT", "UTC"]
        .iter()
        .find(|p| rest.starts_with(**p))
        .map_or(0, |p| p.len());
    if localized && prefix == 0 {
        return None;
    }
    let body = &rest[prefix..];
    let len = body
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || *c == ':' || (*i == 0 && (*c == '+' || *c == '-'))))
        .map_or(body.len(), |(i, _)| i);
    if len == 0 && localized {
        *pos += prefix;
        return Some(0);
    }
    let seconds = parse_offset(&body[..len])?;
    *pos += prefix + len;
    Some(seconds)
}

fn resolve(f: &Fields) -> Option<i64> {
    let year = match (f.year, f.year_of_era) {
        (Some(y), _) => y,
        (None, Some(y)) if f.bc => 1 - y,
        (None, Some(y)) => y,
        (None, None) => return None,
    };
    let year = i16::try_from(year).ok()?;
    let date = match (f.month, f.day, f.day_of_year) {
        (Some(m), Some(d), _) => {
            Date::new(year, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()?
        }
        (None, None, Some(doy)) => Date::new(year, 1, 1)
            .ok()?
            .with()
            .day_of_year(i16::try_from(doy).ok()?)
            .build()
            .ok()?,
        _ => return None,
    };
    let hour = match (f.hour, f.hour_of_ampm) {
        (Some(h), _) => h,
        (None, Some(h)) => h + if f.pm == Some(true) { 12 } else { 0 },
        (None, None) => 0,
    };
    let time = Time::new(
        i8::try_from(hour).ok()?,
        i8::try_from(f.minute.unwrap_or(0)).ok()?,
        i8::try_from(f.second.unwrap_or(0)).ok()?,
        i32::try_from(f.nanos.unwrap_or(0)).ok()?,
    )
    .ok()?;
    let tz = match (&f.offset, &f.zone) {
        (Some(seconds), _) => Offset::from_seconds(*seconds).ok()?.to_time_zone(),
        (None, Some(zone)) => zone.clone(),
        (None, None) => TimeZone::UTC,
    };
    let zoned = DateTime::from_parts(date, time)
        .to_zoned_datetime(tz)
        .ok()?;
    Some(zoned.timestamp().as_millisecond())
}
