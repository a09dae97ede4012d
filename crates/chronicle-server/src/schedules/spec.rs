//! Schedule specs, pure: the canonical form Temporal stores and describes
//! (cron strings and calendar strings become structured calendars with
//! every field spelt out) and the action times a spec yields. UTC only;
//! jitter is kept but not applied.

use chronicle_engine::api::schedule::v1::{CalendarSpec, IntervalSpec, Range, ScheduleSpec, StructuredCalendarSpec};
use chronicle_engine::time;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use prost_types::Timestamp;

const NANOS: i128 = 1_000_000_000;

/// A calendar field: its name in messages, bounds, and the value an empty
/// field takes (None: any value).
struct Field {
    name: &'static str,
    min: i32,
    max: i32,
    default: Option<i32>,
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const SECOND: Field = Field { name: "Second", min: 0, max: 59, default: Some(0), names: &[] };
const MINUTE: Field = Field { name: "Minute", min: 0, max: 59, default: Some(0), names: &[] };
const HOUR: Field = Field { name: "Hour", min: 0, max: 23, default: Some(0), names: &[] };
const DAY_OF_MONTH: Field = Field { name: "DayOfMonth", min: 1, max: 31, default: None, names: &[] };
const MONTH: Field = Field { name: "Month", min: 1, max: 12, default: None, names: MONTHS };
// Year is unbounded in practice; empty means every year.
const YEAR: Field = Field { name: "Year", min: 1970, max: 2999, default: None, names: &[] };
// 7 is Sunday too, as in cron.
const DAY_OF_WEEK: Field = Field { name: "DayOfWeek", min: 0, max: 7, default: None, names: DAYS };

fn invalid(m: impl std::fmt::Display) -> String {
    format!("Invalid schedule spec: {m}")
}

/// Checks a spec and returns it in Temporal's canonical form.
pub fn canonicalize(spec: &ScheduleSpec) -> Result<ScheduleSpec, String> {
    if !matches!(spec.timezone_name.as_str(), "" | "UTC" | "Etc/UTC") || !spec.timezone_data.is_empty() {
        return Err(invalid(format!(
            "time zone {:?} is not supported: Chronicle evaluates schedules in UTC only",
            spec.timezone_name
        )));
    }
    // Unset jitter stays unset, as Temporal describes it.
    let mut out = ScheduleSpec {
        start_time: spec.start_time,
        end_time: spec.end_time,
        jitter: spec.jitter,
        timezone_name: spec.timezone_name.clone(),
        ..Default::default()
    };
    // Temporal's order: structured calendars, then string calendars, then
    // cron strings (intervals: given ones, then `@every` crons).
    for c in &spec.structured_calendar {
        out.structured_calendar.push(normalize(c)?);
    }
    for c in &spec.calendar {
        out.structured_calendar.push(from_strings(c)?);
    }
    for c in &spec.exclude_calendar {
        out.exclude_structured_calendar.push(from_strings(c)?);
    }
    for c in &spec.exclude_structured_calendar {
        out.exclude_structured_calendar.push(normalize(c)?);
    }
    for i in &spec.interval {
        let every = i.interval.as_ref().map(time::dur_nanos).unwrap_or(0);
        let phase = i.phase.as_ref().map(time::dur_nanos).unwrap_or(0);
        if every < NANOS {
            return Err(invalid("Interval is too small: it must be at least one second"));
        }
        if phase < 0 {
            return Err(invalid("Phase must not be negative"));
        }
        out.interval.push(*i);
    }
    for cron in &spec.cron_string {
        match parse_cron(cron)? {
            Parsed::Calendar(c) => out.structured_calendar.push(c),
            Parsed::Interval(i) => out.interval.push(i),
        }
    }
    if let (Some(s), Some(e)) = (&out.start_time, &out.end_time)
        && time::ts_nanos(e) < time::ts_nanos(s)
    {
        return Err(invalid("EndTime is before StartTime"));
    }
    Ok(out)
}

enum Parsed {
    Calendar(StructuredCalendarSpec),
    Interval(IntervalSpec),
}

/// Cron strings as Temporal reads them: 5 fields (minute hour day-of-month
/// month day-of-week), 6 (plus year) or 7 (second first, year last), the
/// `@daily`-style macros, `@every <interval>[/<phase>]`, `# comment`.
fn parse_cron(s: &str) -> Result<Parsed, String> {
    let (s, comment) = match s.split_once('#') {
        Some((s, c)) => (s.trim(), c.trim().to_string()),
        None => (s.trim(), String::new()),
    };
    if s.starts_with("CRON_TZ=") || s.starts_with("TZ=") {
        return Err(invalid("time zones in cron strings are not supported: Chronicle evaluates schedules in UTC only"));
    }
    if let Some(every) = s.strip_prefix("@every") {
        let (every, phase) = every.trim().split_once('/').map_or((every.trim(), None), |(e, p)| (e, Some(p)));
        let dur = |d: &str| go_duration(d).ok_or_else(|| invalid(format!("invalid duration {d:?} in {s:?}")));
        return Ok(Parsed::Interval(IntervalSpec {
            interval: Some(time::dur_from_nanos(dur(every)?)),
            phase: phase.map(dur).transpose()?.map(time::dur_from_nanos),
        }));
    }
    let expanded = match s {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        s => s,
    };
    let f: Vec<&str> = expanded.split_whitespace().collect();
    let (second, rest) = match f.len() {
        5 | 6 => ("0", &f[..]),
        7 => (f[0], &f[1..]),
        _ => return Err(invalid(format!("cron string {s:?} must have 5, 6 or 7 fields"))),
    };
    let c = CalendarSpec {
        second: second.into(),
        minute: rest[0].into(),
        hour: rest[1].into(),
        day_of_month: rest[2].into(),
        month: rest[3].into(),
        day_of_week: rest[4].into(),
        year: rest.get(5).map_or("*", |y| y).into(),
        comment,
    };
    from_strings(&c).map(Parsed::Calendar)
}

/// A Go duration (also in days), in nanoseconds.
fn go_duration(s: &str) -> Option<i128> {
    time::parse_go_duration(s, true).map(|n| n as i128)
}

/// A calendar in string form (`"*"`, `"1,5-9/2"`, `"mon-fri"`); an empty
/// field takes its default.
fn from_strings(c: &CalendarSpec) -> Result<StructuredCalendarSpec, String> {
    let parse = |field: &Field, s: &str| -> Result<Vec<Range>, String> {
        if s.trim().is_empty() {
            return Ok(vec![]);
        }
        s.split(',').map(|item| parse_item(field, item.trim())).collect()
    };
    normalize(&StructuredCalendarSpec {
        second: parse(&SECOND, &c.second)?,
        minute: parse(&MINUTE, &c.minute)?,
        hour: parse(&HOUR, &c.hour)?,
        day_of_month: parse(&DAY_OF_MONTH, &c.day_of_month)?,
        month: parse(&MONTH, &c.month)?,
        year: if c.year.trim() == "*" { vec![] } else { parse(&YEAR, &c.year)? },
        day_of_week: parse(&DAY_OF_WEEK, &c.day_of_week)?,
        comment: c.comment.clone(),
    })
}

fn parse_item(field: &Field, item: &str) -> Result<Range, String> {
    let bad = || invalid(format!("{} has an invalid value {item:?}", field.name));
    let value = |v: &str| -> Result<i32, String> {
        let lower = v.to_ascii_lowercase();
        if let Some(i) = field.names.iter().position(|n| lower.starts_with(n)) {
            return Ok(i as i32 + if field.names.len() == 12 { 1 } else { 0 });
        }
        v.parse().map_err(|_| bad())
    };
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, s.parse::<i32>().map_err(|_| bad())?),
        None => (item, 0),
    };
    let (start, end) = if range == "*" {
        // Day of week "*" is 0-6 (7 would repeat Sunday).
        (field.min, if field.max == 7 { 6 } else { field.max })
    } else if let Some((a, b)) = range.split_once('-') {
        (value(a)?, value(b)?)
    } else {
        let v = value(range)?;
        // "5/10" means from 5 to the end in steps of 10.
        (v, if step > 0 { field.max } else { v })
    };
    Ok(Range { start, end, step })
}

/// Fills defaults (end < start means start; step 0 means 1) and checks
/// bounds, as Temporal's canonical form spells them.
fn normalize(c: &StructuredCalendarSpec) -> Result<StructuredCalendarSpec, String> {
    let fix = |field: &Field, ranges: &[Range]| -> Result<Vec<Range>, String> {
        if ranges.is_empty() {
            return Ok(match field.default {
                Some(v) => vec![Range { start: v, end: v, step: 1 }],
                None if field.name == "Year" => vec![],
                None => vec![Range { start: field.min, end: if field.max == 7 { 6 } else { field.max }, step: 1 }],
            });
        }
        ranges
            .iter()
            .map(|r| {
                let end = r.end.max(r.start);
                if r.start < field.min || end > field.max {
                    return Err(invalid(format!("{} is not in range [{}-{}]", field.name, field.min, field.max)));
                }
                if r.step < 0 {
                    return Err(invalid(format!("{} has a negative step", field.name)));
                }
                Ok(Range { start: r.start, end, step: r.step.max(1) })
            })
            .collect()
    };
    Ok(StructuredCalendarSpec {
        second: fix(&SECOND, &c.second)?,
        minute: fix(&MINUTE, &c.minute)?,
        hour: fix(&HOUR, &c.hour)?,
        day_of_month: fix(&DAY_OF_MONTH, &c.day_of_month)?,
        month: fix(&MONTH, &c.month)?,
        year: fix(&YEAR, &c.year)?,
        day_of_week: fix(&DAY_OF_WEEK, &c.day_of_week)?,
        comment: c.comment.clone(),
    })
}

/// A canonical calendar as sets of allowed values.
struct Calendar {
    second: u64,
    minute: u64,
    hour: u64,
    day_of_month: u64,
    month: u64,
    day_of_week: u64,
    /// Empty: every year.
    years: Vec<Range>,
}

fn bits(ranges: &[Range], wrap7: bool) -> u64 {
    let mut b = 0u64;
    for r in ranges {
        let mut v = r.start;
        while v <= r.end.max(r.start) && v < 64 {
            b |= 1 << if wrap7 { v % 7 } else { v };
            v += r.step.max(1);
        }
    }
    b
}

impl Calendar {
    fn new(c: &StructuredCalendarSpec) -> Self {
        Calendar {
            second: bits(&c.second, false),
            minute: bits(&c.minute, false),
            hour: bits(&c.hour, false),
            day_of_month: bits(&c.day_of_month, false),
            month: bits(&c.month, false),
            day_of_week: bits(&c.day_of_week, true),
            years: c.year.clone(),
        }
    }

    fn year_ok(&self, y: i32) -> bool {
        self.years.is_empty()
            || self.years.iter().any(|r| y >= r.start && y <= r.end.max(r.start) && (y - r.start) % r.step.max(1) == 0)
    }

    fn matches(&self, t: &DateTime<Utc>) -> bool {
        let has = |set: u64, v: u32| set & (1 << v) != 0;
        self.year_ok(t.year())
            && has(self.month, t.month())
            && has(self.day_of_month, t.day())
            && has(self.day_of_week, t.weekday().num_days_from_sunday())
            && has(self.hour, t.hour())
            && has(self.minute, t.minute())
            && has(self.second, t.second())
    }

    /// The first matching second at or after `from`, skipping whole
    /// years, months, days, hours and minutes that cannot match.
    fn next_from(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let has = |set: u64, v: u32| set & (1 << v) != 0;
        let mut t = from.with_nanosecond(0)?;
        let limit = from.year() + 400;
        while t.year() <= limit {
            let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN));
            if !self.year_ok(t.year()) {
                t = midnight(NaiveDate::from_ymd_opt(t.year() + 1, 1, 1)?);
            } else if !has(self.month, t.month()) {
                let (y, m) = if t.month() == 12 { (t.year() + 1, 1) } else { (t.year(), t.month() + 1) };
                t = midnight(NaiveDate::from_ymd_opt(y, m, 1)?);
            } else if !has(self.day_of_month, t.day()) || !has(self.day_of_week, t.weekday().num_days_from_sunday()) {
                t = midnight(t.date_naive().succ_opt()?);
            } else if !has(self.hour, t.hour()) {
                t = t.with_minute(0)?.with_second(0)? + Duration::hours(1);
            } else if !has(self.minute, t.minute()) {
                t = t.with_second(0)? + Duration::minutes(1);
            } else if !has(self.second, t.second()) {
                t += Duration::seconds(1);
            } else {
                return Some(t);
            }
        }
        None
    }
}

/// A canonical spec ready to evaluate. Times are Unix nanoseconds.
pub struct Spec {
    calendars: Vec<Calendar>,
    excludes: Vec<Calendar>,
    intervals: Vec<(i128, i128)>,
    start: Option<i128>,
    end: Option<i128>,
}

impl Spec {
    /// `spec` must be canonical (see `canonicalize`).
    pub fn new(spec: &ScheduleSpec) -> Self {
        Spec {
            calendars: spec.structured_calendar.iter().map(Calendar::new).collect(),
            excludes: spec.exclude_structured_calendar.iter().map(Calendar::new).collect(),
            intervals: spec
                .interval
                .iter()
                .map(|i| {
                    let every = i.interval.as_ref().map(time::dur_nanos).unwrap_or(0);
                    (every.max(NANOS), i.phase.as_ref().map(time::dur_nanos).unwrap_or(0))
                })
                .collect(),
            start: spec.start_time.as_ref().map(time::ts_nanos),
            end: spec.end_time.as_ref().map(time::ts_nanos),
        }
    }

    /// The first action time strictly after `after`.
    pub fn next_after(&self, after: i128) -> Option<i128> {
        let mut t = after;
        if let Some(start) = self.start {
            t = t.max(start - 1);
        }
        for _ in 0..10_000 {
            let from_calendar = t.div_euclid(NANOS) + 1;
            let from = Utc.timestamp_opt(from_calendar as i64, 0).single()?;
            let next = self
                .intervals
                .iter()
                .map(|(every, phase)| ((t - phase).div_euclid(*every) + 1) * every + phase)
                .chain(self.calendars.iter().filter_map(|c| c.next_from(from)).map(|d| d.timestamp() as i128 * NANOS))
                .min()?;
            if self.end.is_some_and(|end| next > end) {
                return None;
            }
            let excluded = next % NANOS == 0
                && Utc
                    .timestamp_opt((next / NANOS) as i64, 0)
                    .single()
                    .is_some_and(|d| self.excludes.iter().any(|c| c.matches(&d)));
            if !excluded {
                return Some(next);
            }
            t = next;
        }
        None
    }

    /// Up to `n` action times after `after` (and up to `until`, if given).
    pub fn times(&self, after: i128, until: Option<i128>, n: usize) -> Vec<i128> {
        let mut out = Vec::new();
        let mut t = after;
        while out.len() < n {
            match self.next_after(t) {
                Some(next) if until.is_none_or(|u| next <= u) => {
                    out.push(next);
                    t = next;
                }
                _ => break,
            }
        }
        out
    }
}

pub fn to_nanos(t: &Timestamp) -> i128 {
    time::ts_nanos(t)
}

pub fn from_nanos(n: i128) -> Timestamp {
    Timestamp { seconds: n.div_euclid(NANOS) as i64, nanos: n.rem_euclid(NANOS) as i32 }
}

/// Temporal's suffix for a scheduled workflow id: RFC 3339, UTC, seconds.
pub fn id_suffix(n: i128) -> String {
    Utc.timestamp_opt(n.div_euclid(NANOS) as i64, 0)
        .single()
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i128 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp() as i128 * NANOS
    }

    fn show(ts: Vec<i128>) -> Vec<String> {
        ts.into_iter().map(id_suffix).collect()
    }

    fn spec(f: impl FnOnce(&mut ScheduleSpec)) -> Spec {
        let mut s = ScheduleSpec::default();
        f(&mut s);
        Spec::new(&canonicalize(&s).unwrap())
    }

    fn range(start: i32, end: i32, step: i32) -> Range {
        Range { start, end, step }
    }

    #[test]
    fn interval_with_phase_counts_from_the_epoch() {
        let s = spec(|s| {
            s.interval.push(IntervalSpec { interval: Some(time::dur_secs(10)), phase: Some(time::dur_secs(3)) });
        });
        assert_eq!(
            show(s.times(at("2026-11-26T17:15:47Z"), None, 3)),
            ["2026-11-26T17:15:53Z", "2026-11-26T17:16:03Z", "2026-11-26T17:16:13Z"]
        );
        // Strictly after: a time on the grid is not repeated.
        assert_eq!(show(s.times(at("2026-11-26T17:15:53Z"), None, 1)), ["2026-11-26T17:16:03Z"]);
    }

    #[test]
    fn cron_strings_become_structured_calendars() {
        let c =
            canonicalize(&ScheduleSpec { cron_string: vec!["0 12 * * MON-FRI".into()], ..Default::default() }).unwrap();
        let cal = &c.structured_calendar[0];
        assert_eq!(cal.second, [range(0, 0, 1)]);
        assert_eq!(cal.minute, [range(0, 0, 1)]);
        assert_eq!(cal.hour, [range(12, 12, 1)]);
        assert_eq!(cal.day_of_month, [range(1, 31, 1)]);
        assert_eq!(cal.month, [range(1, 12, 1)]);
        assert_eq!(cal.day_of_week, [range(1, 5, 1)]);
        assert!(cal.year.is_empty());
        // 2026-11-27 is a Friday; the next weekday noon after it is Monday.
        let s = Spec::new(&c);
        assert_eq!(
            show(s.times(at("2026-11-27T12:00:00Z"), None, 2)),
            ["2026-11-30T12:00:00Z", "2026-12-01T12:00:00Z"]
        );
        let s = spec(|s| s.cron_string = vec!["*/15 * * * *".into(), "@every 7m".into()]);
        assert_eq!(
            show(s.times(at("2026-01-01T00:00:00Z"), None, 3)),
            ["2026-01-01T00:07:00Z", "2026-01-01T00:14:00Z", "2026-01-01T00:15:00Z"]
        );
        let s = spec(|s| s.cron_string = vec!["@monthly".into()]);
        assert_eq!(show(s.times(at("2026-01-15T00:00:00Z"), None, 1)), ["2026-02-01T00:00:00Z"]);
    }

    #[test]
    fn structured_calendar_defaults_and_steps() {
        // Empty fields: second 0, minute 0, hour 0, any day: daily at midnight.
        let s = spec(|s| s.structured_calendar.push(StructuredCalendarSpec::default()));
        assert_eq!(
            show(s.times(at("2026-02-28T10:00:00Z"), None, 2)),
            ["2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"]
        );
        // Every 20 minutes from 10 past, hours 9-10, on the 29th of February only.
        let s = spec(|s| {
            s.structured_calendar.push(StructuredCalendarSpec {
                minute: vec![range(10, 59, 20)],
                hour: vec![range(9, 10, 0)],
                day_of_month: vec![range(29, 0, 0)],
                month: vec![range(2, 0, 0)],
                ..Default::default()
            });
        });
        assert_eq!(
            show(s.times(at("2026-01-01T00:00:00Z"), None, 4)),
            ["2028-02-29T09:10:00Z", "2028-02-29T09:30:00Z", "2028-02-29T09:50:00Z", "2028-02-29T10:10:00Z"]
        );
        // Day of month and day of week must both match: Friday the 13th.
        let s = spec(|s| {
            s.calendar.push(CalendarSpec {
                day_of_month: "13".into(),
                day_of_week: "fri".into(),
                ..Default::default()
            });
        });
        assert_eq!(
            show(s.times(at("2026-01-01T00:00:00Z"), None, 2)),
            ["2026-02-13T00:00:00Z", "2026-03-13T00:00:00Z"]
        );
    }

    #[test]
    fn start_end_and_exclusions() {
        let s = spec(|s| {
            s.interval.push(IntervalSpec { interval: Some(time::dur_secs(3600)), phase: None });
            s.start_time = Some(from_nanos(at("2026-01-01T05:30:00Z")));
            s.end_time = Some(from_nanos(at("2026-01-01T09:00:00Z")));
            s.exclude_structured_calendar.push(StructuredCalendarSpec {
                minute: vec![range(0, 0, 0)],
                hour: vec![range(7, 0, 0)],
                ..Default::default()
            });
        });
        assert_eq!(
            show(s.times(at("2020-01-01T00:00:00Z"), None, 10)),
            ["2026-01-01T06:00:00Z", "2026-01-01T08:00:00Z", "2026-01-01T09:00:00Z"]
        );
    }

    #[test]
    fn invalid_specs_are_refused() {
        let bad = |f: fn(&mut ScheduleSpec)| {
            let mut s = ScheduleSpec::default();
            f(&mut s);
            canonicalize(&s).unwrap_err()
        };
        assert_eq!(
            bad(|s| s.cron_string = vec!["0 99 * * *".into()]),
            "Invalid schedule spec: Hour is not in range [0-23]"
        );
        assert!(bad(|s| s.cron_string = vec!["0 12 * *".into()]).contains("5, 6 or 7 fields"));
        assert!(bad(|s| s.cron_string = vec!["CRON_TZ=Europe/Paris 0 12 * * *".into()]).contains("UTC only"));
        assert!(bad(|s| s.timezone_name = "Europe/Paris".into()).contains("\"Europe/Paris\" is not supported"));
        assert!(bad(|s| s.interval.push(IntervalSpec::default())).contains("too small"));
        assert!(canonicalize(&ScheduleSpec { timezone_name: "UTC".into(), ..Default::default() }).is_ok());
    }
}
