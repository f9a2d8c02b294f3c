//! Typed condition values: numbers, dates (ISO 8601 or epoch seconds) and IP ranges (CIDR),
//! parsed the same way from policy documents and from request context values.

use std::net::IpAddr;

/// A `Numeric*` operand. Non-finite spellings (`inf`, `NaN`) are not numbers in a policy.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let n: f64 = s.trim().parse().ok()?;
    n.is_finite().then_some(n)
}

/// A `Date*` operand as nanoseconds since the Unix epoch: epoch seconds (`1700000000`,
/// `1700000000.5`) or ISO 8601 (`2024-01-31`, `2024-01-31T12:00Z`, `2024-01-31T12:00:00.250+02:00`).
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && !s.contains("--")
        && let Some(nanos) = parse_epoch(s)
    {
        return Some(nanos);
    }
    parse_iso8601(s)
}

const NANOS: i128 = 1_000_000_000;

fn parse_epoch(s: &str) -> Option<i128> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 18 {
        return None;
    }
    let mut nanos = whole.parse::<i128>().ok()? * NANOS;
    nanos += fraction_nanos(frac)?;
    Some(if negative { -nanos } else { nanos })
}

/// `.250` → 250_000_000; digits past nanoseconds are ignored.
fn fraction_nanos(frac: &str) -> Option<i128> {
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0i128;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += i128::from(b - b'0') * 10i128.pow(8 - i as u32);
    }
    Some(nanos)
}

fn parse_iso8601(s: &str) -> Option<i128> {
    let bytes = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut rest = &s[10..];
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0i128);
    if let Some(time) = rest.strip_prefix('T').or_else(|| rest.strip_prefix('t')) {
        let t = time.as_bytes();
        let two = |at: usize| -> Option<i64> {
            let part = time.get(at..at + 2)?;
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        hour = two(0)?;
        if t.get(2) != Some(&b':') {
            return None;
        }
        minute = two(3)?;
        let mut used = 5;
        if t.get(5) == Some(&b':') {
            second = two(6)?;
            used = 8;
            if t.get(8) == Some(&b'.') {
                let digits = time[9..].bytes().take_while(u8::is_ascii_digit).count();
                if digits == 0 {
                    return None;
                }
                nanos = fraction_nanos(&time[9..9 + digits])?;
                used = 9 + digits;
            }
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        rest = &time[used..];
    }
    let offset_secs = parse_offset(rest)?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_secs;
    Some(i128::from(secs) * NANOS + nanos)
}

/// `""`/`Z` → 0; `+02:00`, `+0200`, `+02` → seconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    if s.is_empty() || s == "Z" || s == "z" {
        return Some(0);
    }
    let sign = match s.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = s[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(digits.len() == 2 || digits.len() == 4) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3_600 + minutes * 60))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch (the `aws:CurrentTime` format).
pub(crate) fn format_iso8601(epoch_secs: i64) -> String {
    let (days, secs) = (epoch_secs.div_euclid(86_400), epoch_secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An `IpAddress` operand: an address range in CIDR notation (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (prefix <= max).then_some(Cidr { network, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        // A v4 client seen on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// A request's IP address, tolerating a trailing `:port` on IPv4 and `[v6]:port`.
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> Option<i128> {
        parse_date(s).map(|n| n / NANOS)
    }

    #[test]
    fn dates_in_iso8601_and_epoch_forms() {
        assert_eq!(secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(secs("2024-02-29T12:30:15Z"), Some(1_709_209_815));
        assert_eq!(secs("2024-02-29T14:30:15+02:00"), Some(1_709_209_815));
        assert_eq!(secs("2024-02-29T14:30:15+0200"), Some(1_709_209_815));
        assert_eq!(secs("2024-02-29T12:30Z"), Some(1_709_209_800));
        assert_eq!(secs("2024-02-29"), Some(1_709_164_800));
        assert_eq!(secs("1709209815"), Some(1_709_209_815));
        assert_eq!(
            parse_date("1709209815.25"),
            Some(1_709_209_815 * NANOS + 250_000_000)
        );
        assert_eq!(
            parse_date("2024-02-29T12:30:15.5Z"),
            Some(1_709_209_815 * NANOS + 500_000_000)
        );
        assert_eq!(secs("1969-12-31T23:59:59Z"), Some(-1));
    }

    #[test]
    fn formatting_round_trips() {
        for secs in [0, 1_709_209_815, 951_782_400, -86_401, 4_102_444_799] {
            let text = format_iso8601(secs);
            assert_eq!(parse_date(&text), Some(i128::from(secs) * NANOS), "{text}");
        }
        assert_eq!(format_iso8601(1_709_209_815), "2024-02-29T12:30:15Z");
    }

    #[test]
    fn invalid_dates_are_rejected() {
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-01-01T24:00:00Z",
            "yesterday",
            "",
            "2024-01-01T12",
            "2024-01-01T12:00:00.Z",
            "2024-01-01T12:00:00+2",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidr_ranges_v4_v6_and_mapped() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let any = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(any.contains("203.0.113.7".parse().unwrap()));
        assert!(!any.contains("2001:db8::1".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        let host = Cidr::parse("192.0.2.1").unwrap();
        assert!(host.contains("192.0.2.1".parse().unwrap()));
        assert!(!host.contains("192.0.2.2".parse().unwrap()));
        for bad in ["10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "::/129", "x"] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
        assert_eq!(parse_ip("192.0.2.1:8883"), "192.0.2.1".parse().ok());
        assert_eq!(parse_ip("[2001:db8::1]:443"), "2001:db8::1".parse().ok());
    }

    #[test]
    fn numbers_must_be_finite() {
        assert_eq!(parse_number("42"), Some(42.0));
        assert_eq!(parse_number("-1.5"), Some(-1.5));
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("ten"), None);
    }
}
