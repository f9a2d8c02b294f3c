//! Formatting with Joda-Time `DateTimeFormat` patterns (English), for `parse_time`.
//!
//! Every Joda letter is supported: `G C Y x w e E y D M d a K h H k m s S z Z`. Joda's long
//! zone names (`zzzz`, "Pacific Standard Time") come from Java's locale data, which we do not
//! carry: they print as the zone's IANA id.

use jiff::ZonedDateTime;

use super::pattern::{MONTHS, Token, WEEKDAYS};

/// `z` formatted as Joda does; `None` for a pattern letter Joda does not have.
pub fn format(z: &ZonedDateTime, tokens: &[Token]) -> Option<String> {
    let mut out = String::new();
    for token in tokens {
        match token {
            Token::Literal(s) => out.push_str(s),
            Token::Field(letter, count) => field(z, *letter, *count, &mut out)?,
            Token::OptionalStart | Token::OptionalEnd => return None,
        }
    }
    Some(out)
}

fn number(out: &mut String, value: i64, width: usize) {
    if value < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:0width$}", value.unsigned_abs()));
}

fn text(out: &mut String, full: &str, count: usize) {
    if count >= 4 {
        out.push_str(full);
    } else {
        out.push_str(&full[..3]);
    }
}

/// Years: two letters print the last two digits, any other count pads the full year.
fn year(out: &mut String, value: i64, count: usize) {
    if count == 2 {
        number(out, value.rem_euclid(100), 2);
    } else {
        number(out, value, count);
    }
}

fn field(z: &ZonedDateTime, letter: char, count: usize, out: &mut String) -> Option<()> {
    let year_value = i64::from(z.year());
    let year_of_era = if year_value > 0 {
        year_value
    } else {
        1 - year_value
    };
    let hour = i64::from(z.hour());
    match letter {
        'G' => out.push_str(if year_value > 0 { "AD" } else { "BC" }),
        'C' => number(out, year_of_era / 100, count),
        'Y' => year(out, year_of_era, count),
        'y' => year(out, year_value, count),
        'x' => year(out, i64::from(z.iso_week_date().year()), count),
        'w' => number(out, i64::from(z.iso_week_date().week()), count),
        'e' => number(out, i64::from(z.weekday().to_monday_one_offset()), count),
        'E' => text(
            out,
            WEEKDAYS[z.weekday().to_monday_zero_offset() as usize],
            count,
        ),
        'D' => number(out, i64::from(z.day_of_year()), count),
        'M' if count >= 3 => text(out, MONTHS[z.month() as usize - 1], count),
        'M' => number(out, i64::from(z.month()), count),
        'd' => number(out, i64::from(z.day()), count),
        'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
        'K' => number(out, hour % 12, count),
        'h' => number(out, if hour % 12 == 0 { 12 } else { hour % 12 }, count),
        'H' => number(out, hour, count),
        'k' => number(out, if hour == 0 { 24 } else { hour }, count),
        'm' => number(out, i64::from(z.minute()), count),
        's' => number(out, i64::from(z.second()), count),
        'S' => {
            // A fraction: the first `count` digits of the second's fraction.
            let nanos = format!("{:09}", z.subsec_nanosecond());
            out.push_str(&nanos[..count.min(9)]);
            out.extend(std::iter::repeat_n('0', count.saturating_sub(9)));
        }
        'z' if count >= 4 => out.push_str(&zone_id(z)),
        'z' => out.push_str(&short_zone_name(z)),
        'Z' if count >= 3 => out.push_str(&zone_id(z)),
        'Z' => out.push_str(&offset_text(z.offset().seconds(), count == 2)),
        _ => return None,
    }
    Some(())
}

/// `+HHMM`, or `+HH:MM` with `colon` (seconds only when the offset has them).
pub fn offset_text(seconds: i32, colon: bool) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let sep = if colon { ":" } else { "" };
    if sec == 0 {
        format!("{sign}{h:02}{sep}{m:02}")
    } else {
        format!("{sign}{h:02}{sep}{m:02}{sep}{sec:02}")
    }
}

/// The zone's id as Joda prints it: `UTC`, an IANA name, or `+HH:MM` for a fixed offset.
fn zone_id(z: &ZonedDateTime) -> String {
    match z.time_zone().iana_name() {
        Some(name) => name.to_owned(),
        None if z.offset().seconds() == 0 => "UTC".to_owned(),
        None => offset_text(z.offset().seconds(), true),
    }
}

/// Joda's short name: the zone's abbreviation at that instant (`CST`, `UTC`), or the offset
/// for a fixed-offset zone.
fn short_zone_name(z: &ZonedDateTime) -> String {
    if z.time_zone().iana_name().is_none() {
        return zone_id(z);
    }
    let info = z.time_zone().to_offset_info(z.timestamp());
    let abbreviation = info.abbreviation();
    // The tz database writes "-05" where no abbreviation is in use; Joda prints the offset.
    if abbreviation.starts_with(['+', '-']) {
        offset_text(z.offset().seconds(), true)
    } else {
        abbreviation.to_owned()
    }
}
