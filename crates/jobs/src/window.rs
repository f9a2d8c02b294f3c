//! Maintenance windows: `cron(minutes hours day-of-month month day-of-week year)` (AWS's
//! EventBridge form, UTC; day-of-week 1 = SUN … 7 = SAT; one of the day fields `?`) and a
//! duration. A job's rollout runs only while one of its windows is open; [`window_at`] says
//! whether one is and, if not, when the next opens.
//!
//! Supported: `*`, `?`, numbers, names (JAN–DEC, SUN–SAT), lists, ranges and `/` steps. AWS's
//! `L`, `W` and `#` are refused at validation.

use time::OffsetDateTime;

use crate::JobError;
use crate::config::MaintenanceWindow;

const MINUTE_MS: i64 = 60_000;
/// How far ahead the next opening is looked for (windows recur within a year or never).
const SEARCH_MINUTES: i64 = 366 * 24 * 60;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One field: the values it allows (`None`: any, for `*` and `?`).
type Field = Option<Vec<bool>>;

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minute: Field,
    hour: Field,
    day_of_month: Field,
    month: Field,
    day_of_week: Field,
    year: Field,
}

fn invalid(cron: &str, why: &str) -> JobError {
    JobError::invalid(format!(
        "The maintenance window startTime {cron} is not a supported cron expression: {why}."
    ))
}

fn value(text: &str, min: u32, names: &[&str], cron: &str) -> Result<u32, JobError> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(min + i as u32);
    }
    text.parse()
        .map_err(|_| invalid(cron, &format!("{text} is not a number")))
}

fn field(text: &str, min: u32, max: u32, names: &[&str], cron: &str) -> Result<Field, JobError> {
    if text == "*" || text == "?" {
        return Ok(None);
    }
    if text.contains(['L', 'W', '#']) && !names.iter().any(|n| text.contains(n)) {
        return Err(invalid(cron, "L, W and # are not supported"));
    }
    let mut allowed = vec![false; max as usize + 1];
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| invalid(cron, &format!("bad step in {part}")))?,
            ),
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a, min, names, cron)?, value(b, min, names, cron)?),
                None => {
                    let v = value(r, min, names, cron)?;
                    (v, if step > 1 { max } else { v })
                }
            },
        };
        if from < min || to > max || from > to {
            return Err(invalid(cron, &format!("{part} is outside {min}-{max}")));
        }
        for v in (from..=to).step_by(step as usize) {
            allowed[v as usize] = true;
        }
    }
    Ok(Some(allowed))
}

fn allows(f: &Field, v: u32) -> bool {
    f.as_ref()
        .is_none_or(|a| a.get(v as usize).copied().unwrap_or(false))
}

impl Cron {
    /// `cron(m h dom mon dow year)`.
    pub fn parse(text: &str) -> Result<Cron, JobError> {
        let inner = text
            .trim()
            .strip_prefix("cron(")
            .and_then(|c| c.strip_suffix(')'))
            .ok_or_else(|| invalid(text, "expected cron(...)"))?;
        let f: Vec<&str> = inner.split_whitespace().collect();
        let [m, h, dom, mon, dow, year] = f[..] else {
            return Err(invalid(
                text,
                "expected 6 fields: minutes hours day-of-month month day-of-week year",
            ));
        };
        Ok(Cron {
            minute: field(m, 0, 59, &[], text)?,
            hour: field(h, 0, 23, &[], text)?,
            day_of_month: field(dom, 1, 31, &[], text)?,
            month: field(mon, 1, 12, &MONTHS, text)?,
            day_of_week: field(dow, 1, 7, &DAYS, text)?,
            year: field(year, 1970, 2199, &[], text)?,
        })
    }

    /// Whether the minute starting at `ms` (UTC) matches.
    pub fn matches(&self, ms: i64) -> bool {
        let Ok(t) = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) else {
            return false;
        };
        allows(&self.minute, u32::from(t.minute()))
            && allows(&self.hour, u32::from(t.hour()))
            && allows(&self.day_of_month, u32::from(t.day()))
            && allows(&self.month, u32::from(u8::from(t.month())))
            && allows(
                &self.day_of_week,
                u32::from(t.weekday().number_from_sunday()),
            )
            && t.year() >= 1970
            && allows(&self.year, t.year() as u32)
    }
}

/// Whether a rollout may run at `now_ms` under `windows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// A window is open (or the job has none).
    Open,
    /// Closed; the next window opens at this time.
    OpensAt(i64),
    /// Closed, and none opens within a year.
    Closed,
}

/// The state of `windows` at `now_ms`; a window whose cron does not parse never opens.
pub fn window_at(windows: &[MaintenanceWindow], now_ms: i64) -> Window {
    if windows.is_empty() {
        return Window::Open;
    }
    let minute = now_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
    let mut next: Option<i64> = None;
    for w in windows {
        let Ok(cron) = Cron::parse(&w.start_time) else {
            continue;
        };
        let duration = i64::from(w.duration_in_minutes);
        // Open if it started within the last `duration` minutes.
        if (0..duration).any(|back| cron.matches(minute - back * MINUTE_MS)) {
            return Window::Open;
        }
        let limit = next.map_or(SEARCH_MINUTES, |n| (n - minute) / MINUTE_MS);
        if let Some(ahead) = (1..=limit).find(|ahead| cron.matches(minute + ahead * MINUTE_MS)) {
            next = Some(minute + ahead * MINUTE_MS);
        }
    }
    next.map_or(Window::Closed, Window::OpensAt)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-06T00:00 UTC, a Sunday.
    const SUN: i64 = 1_796_515_200_000;
    const HOUR: i64 = 3_600_000;

    fn w(cron: &str, minutes: u32) -> MaintenanceWindow {
        MaintenanceWindow {
            start_time: cron.into(),
            duration_in_minutes: minutes,
        }
    }

    #[test]
    fn fields_take_numbers_names_lists_ranges_and_steps() {
        let c = Cron::parse("cron(0/15 22 ? * MON-FRI *)").unwrap();
        // Monday 22:30.
        assert!(c.matches(SUN + 24 * HOUR + 22 * HOUR + 30 * MINUTE_MS));
        assert!(!c.matches(SUN + 24 * HOUR + 22 * HOUR + 31 * MINUTE_MS));
        // Sunday 22:00 is not a weekday.
        assert!(!c.matches(SUN + 22 * HOUR));
        let c = Cron::parse("cron(0 0 1,15 JAN,DEC ? 2026)").unwrap();
        assert!(!c.matches(SUN));
        assert!(c.matches(SUN + 9 * 24 * HOUR)); // 2026-12-15
        for bad in [
            "cron(0 0 L * ? *)",
            "cron(0 0 ? * 2#1 *)",
            "cron(60 0 * * ? *)",
            "cron(0 0 * * *)",
            "0 0 * * ? *",
            "cron(x 0 * * ? *)",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_window_is_open_for_its_duration_and_says_when_it_opens_next() {
        let nightly = [w("cron(0 22 * * ? *)", 60)];
        assert_eq!(window_at(&nightly, SUN), Window::OpensAt(SUN + 22 * HOUR));
        assert_eq!(window_at(&nightly, SUN + 22 * HOUR), Window::Open);
        assert_eq!(
            window_at(&nightly, SUN + 22 * HOUR + 59 * MINUTE_MS + 59_000),
            Window::Open
        );
        assert_eq!(
            window_at(&nightly, SUN + 23 * HOUR),
            Window::OpensAt(SUN + 46 * HOUR)
        );
        assert_eq!(window_at(&[], SUN), Window::Open);
        // The earliest of several.
        let two = [w("cron(0 22 * * ? *)", 60), w("cron(30 3 * * ? *)", 10)];
        assert_eq!(
            window_at(&two, SUN),
            Window::OpensAt(SUN + 3 * HOUR + 30 * MINUTE_MS)
        );
        assert_eq!(
            window_at(&[w("cron(0 0 * * ? 2020)", 10)], SUN),
            Window::Closed
        );
    }
}
