//! Cron schedules (`cron_schedule` on a start, a child or continue-as-new):
//! standard five-field expressions, the `@hourly`-style macros and
//! `@every <duration>`, all in UTC, as Temporal reads them. A cron workflow
//! is a chain of runs; each waits (first workflow task backoff) until the
//! schedule's next time after the previous run closed.

use crate::time;
use chrono::{DateTime, TimeZone, Utc};
use prost_types::{Duration, Timestamp};

/// Longest `@every` accepted: keeps the arithmetic far from overflow.
const MAX_EVERY_NANOS: i128 = 100 * 366 * 24 * 3600 * 1_000_000_000;

enum Schedule {
    Cron(Box<croner::Cron>),
    /// `@every d`: times start + k·d.
    Every(i128),
}

fn parse(spec: &str) -> Result<Schedule, String> {
    let spec = spec.trim();
    if spec.starts_with("CRON_TZ=") || spec.starts_with("TZ=") {
        return Err("Invalid CronSchedule: time zones are not supported by Chronicle yet (schedules are UTC).".into());
    }
    if let Some(every) = spec.strip_prefix("@every") {
        let nanos = go_duration(every.trim()).ok_or_else(|| format!("Invalid CronSchedule {spec:?}."))?;
        if nanos <= 0 || nanos > MAX_EVERY_NANOS {
            return Err(format!("Invalid CronSchedule {spec:?}: the interval must be positive and at most 100 years."));
        }
        return Ok(Schedule::Every(nanos));
    }
    croner::Cron::new(spec)
        .parse()
        .map(|c| Schedule::Cron(Box::new(c)))
        .map_err(|e| format!("Invalid CronSchedule {spec:?}: {e}."))
}

/// A Go duration, in nanoseconds (none if it overflows).
fn go_duration(s: &str) -> Option<i128> {
    time::parse_go_duration(s, false).filter(|n| n.is_finite()).map(|n| n as i128)
}

pub fn validate(spec: &str) -> Result<(), String> {
    parse(spec).map(|_| ())
}

fn to_chrono(t: &Timestamp) -> DateTime<Utc> {
    Utc.timestamp_opt(t.seconds, t.nanos.max(0) as u32).single().unwrap_or_default()
}

/// The wait from `close` until the schedule's first time after both the
/// chain's `start` and `close`, rounded up to whole seconds (Temporal's
/// rule); None if the schedule is invalid or has no further time.
pub fn backoff(spec: &str, start: &Timestamp, close: &Timestamp) -> Option<Duration> {
    let close_nanos = time::ts_nanos(close);
    let next_nanos = match parse(spec).ok()? {
        Schedule::Every(every) => {
            let start_nanos = time::ts_nanos(start);
            let k = ((close_nanos - start_nanos).max(0) / every) + 1;
            start_nanos.checked_add(k.checked_mul(every)?)?
        }
        Schedule::Cron(cron) => {
            let from = if close_nanos > time::ts_nanos(start) { close } else { start };
            let next = cron.find_next_occurrence(&to_chrono(from), false).ok()?;
            next.timestamp() as i128 * 1_000_000_000 + next.timestamp_subsec_nanos() as i128
        }
    };
    let wait = (next_nanos - close_nanos).max(0);
    let seconds = (wait + 999_999_999) / 1_000_000_000;
    Some(time::dur_from_nanos(seconds * 1_000_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp { seconds: s, nanos: 0 }
    }

    #[test]
    fn five_fields_macros_and_every() {
        // 2023-11-14T22:15:23Z
        let now = ts(1_700_000_123);
        assert_eq!(backoff("*/5 * * * *", &now, &now), Some(time::dur_secs(277)));
        assert_eq!(backoff("@hourly", &now, &now), Some(time::dur_secs(2677)));
        assert_eq!(backoff("@every 10s", &now, &now), Some(time::dur_secs(10)));
        // Measured from the chain's start: the next multiple after the close.
        assert_eq!(backoff("@every 10s", &ts(100), &ts(125)), Some(time::dur_secs(5)));
        assert_eq!(backoff("@every 1m30s", &ts(0), &ts(0)), Some(time::dur_secs(90)));
    }

    #[test]
    fn invalid_schedules_are_refused() {
        let huge = format!("@every {}h", "9".repeat(41));
        for bad in
            ["", "61 * * * *", "@every", "@every -1s", "@every 5x", "CRON_TZ=Europe/Paris 0 * * * *", "nope", &huge]
        {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
        assert!(validate("0 12 * * MON-FRI").is_ok());
    }
}
