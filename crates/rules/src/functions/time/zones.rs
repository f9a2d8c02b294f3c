//! Time zone ids as Joda-Time and `java.time` accept them, over the IANA database bundled
//! into the binary (so results do not depend on the host's tzdata).

use jiff::tz::{Offset, TimeZone};

/// A zone id: `UTC`/`GMT`/`UT`/`Z`, a fixed offset (`+01:00`, `-0800`, `+01`), a prefixed
/// offset (`UTC+01:00`, `GMT-8`), or an IANA name (`America/Los_Angeles`).
pub fn zone_by_id(id: &str) -> Option<TimeZone> {
    if matches!(id, "UTC" | "GMT" | "UT" | "Z") {
        return Some(TimeZone::UTC);
    }
    for prefix in ["UTC", "GMT", "UT"] {
        if let Some(rest) = id.strip_prefix(prefix)
            && rest.starts_with(['+', '-'])
        {
            return fixed(parse_offset(rest)?);
        }
    }
    if id.starts_with(['+', '-']) {
        return fixed(parse_offset(id)?);
    }
    // IANA names are letters, digits and `/_+-`; refuse anything else before a lookup.
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
    {
        return None;
    }
    TimeZone::get(id).ok()
}

fn fixed(seconds: i32) -> Option<TimeZone> {
    Some(Offset::from_seconds(seconds).ok()?.to_time_zone())
}

/// `±H`, `±HH`, `±HHMM`, `±HH:MM`, `±HHMMSS`, `±HH:MM:SS` → seconds east of UTC (at most 18h).
pub fn parse_offset(text: &str) -> Option<i32> {
    let (sign, body) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let parts: Vec<&str> = if body.contains(':') {
        body.split(':').collect()
    } else {
        match body.len() {
            1 | 2 => vec![body],
            4 => vec![&body[..2], &body[2..]],
            6 => vec![&body[..2], &body[2..4], &body[4..]],
            _ => return None,
        }
    };
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty() || p.len() > 2) {
        return None;
    }
    if parts.len() > 1 && parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let mut values = [0i32; 3];
    for (slot, part) in values.iter_mut().zip(&parts) {
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    let [h, m, s] = values;
    if h > 18 || m > 59 || s > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + s))
}

/// The zone an English short zone name stands for when parsing, as `java.time` maps them for
/// the US locale (so `CST` is Chicago and `IST` Kolkata); the zone's own rules then decide the
/// offset for the date.
pub fn abbreviation_zone(name: &str) -> Option<TimeZone> {
    let id = match name {
        "UTC" | "GMT" | "UT" | "Z" => return Some(TimeZone::UTC),
        "EST" | "EDT" => "America/New_York",
        "CST" | "CDT" => "America/Chicago",
        "MST" | "MDT" => "America/Denver",
        "PST" | "PDT" => "America/Los_Angeles",
        "AKST" | "AKDT" => "America/Anchorage",
        "HST" => "Pacific/Honolulu",
        "WET" | "WEST" => "Europe/Lisbon",
        "BST" => "Europe/London",
        "CET" | "CEST" => "Europe/Paris",
        "EET" | "EEST" => "Europe/Athens",
        "MSK" => "Europe/Moscow",
        "IST" => "Asia/Kolkata",
        "SGT" => "Asia/Singapore",
        "HKT" => "Asia/Hong_Kong",
        "JST" => "Asia/Tokyo",
        "KST" => "Asia/Seoul",
        "AWST" => "Australia/Perth",
        "ACST" | "ACDT" => "Australia/Adelaide",
        "AEST" | "AEDT" => "Australia/Sydney",
        "NZST" | "NZDT" => "Pacific/Auckland",
        _ => return None,
    };
    TimeZone::get(id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+01:00"), Some(3600));
        assert_eq!(parse_offset("-0800"), Some(-8 * 3600));
        assert_eq!(parse_offset("+5"), Some(5 * 3600));
        assert_eq!(parse_offset("+05:30:15"), Some(5 * 3600 + 30 * 60 + 15));
        assert_eq!(parse_offset("+19"), None);
        assert_eq!(parse_offset("+1:00"), None);
        assert_eq!(parse_offset("01:00"), None);
        assert_eq!(parse_offset("+0"), Some(0));
    }

    #[test]
    fn zone_ids() {
        assert!(zone_by_id("UTC").is_some());
        assert!(zone_by_id("America/Belize").is_some());
        assert_eq!(
            zone_by_id("UTC+01:00").map(|z| z.to_fixed_offset().ok()),
            Some(Some(Offset::from_seconds(3600).unwrap()))
        );
        assert!(zone_by_id("GMT-8").is_some());
        assert!(zone_by_id("Mars/Olympus").is_none());
        assert!(zone_by_id("../etc/passwd").is_none());
    }
}
