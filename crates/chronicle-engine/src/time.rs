//! Timestamp and duration arithmetic over the protobuf well-known types.

use prost_types::{Duration, Timestamp};

const NANOS_PER_SEC: i128 = 1_000_000_000;

pub fn ts_nanos(ts: &Timestamp) -> i128 {
    ts.seconds as i128 * NANOS_PER_SEC + ts.nanos as i128
}

/// The range protobuf timestamps cover: 0001-01-01 to 9999-12-31 (UTC).
const MIN_TS_SECS: i128 = -62_135_596_800;
const MAX_TS_SECS: i128 = 253_402_300_799;

/// Saturates at the ends of the protobuf timestamp range, so a huge user
/// duration means "far future", never a wrapped-around past.
pub fn ts_from_nanos(n: i128) -> Timestamp {
    let seconds = n.div_euclid(NANOS_PER_SEC);
    if seconds > MAX_TS_SECS {
        return Timestamp { seconds: MAX_TS_SECS as i64, nanos: 999_999_999 };
    }
    if seconds < MIN_TS_SECS {
        return Timestamp { seconds: MIN_TS_SECS as i64, nanos: 0 };
    }
    Timestamp { seconds: seconds as i64, nanos: n.rem_euclid(NANOS_PER_SEC) as i32 }
}

/// Why `d` is not a duration a request may carry, in the words of
/// Temporal's "cause: ...": a negative one, or seconds and nanos of
/// different signs. Durations past protobuf's range (10,000 years, or
/// nanos past a second) are accepted as Temporal accepts them: they mean
/// the far future, as every deadline computed from them saturates.
pub fn dur_invalid(d: &Duration) -> Option<&'static str> {
    if (d.seconds < 0 && d.nanos > 0) || (d.seconds > 0 && d.nanos < 0) {
        return Some("duration has seconds and nanos with different signs");
    }
    if d.seconds < 0 || d.nanos < 0 {
        return Some("negative duration");
    }
    None
}

pub fn dur_nanos(d: &Duration) -> i128 {
    d.seconds as i128 * NANOS_PER_SEC + d.nanos as i128
}

pub fn dur_from_nanos(n: i128) -> Duration {
    let n = n.clamp(0, i64::MAX as i128 * NANOS_PER_SEC);
    Duration { seconds: (n / NANOS_PER_SEC) as i64, nanos: (n % NANOS_PER_SEC) as i32 }
}

pub fn dur_secs(s: i64) -> Duration {
    Duration { seconds: s, nanos: 0 }
}

/// `None` and zero both mean "not set" in Temporal's APIs.
pub fn is_set(d: Option<&Duration>) -> bool {
    d.is_some_and(|d| dur_nanos(d) > 0)
}

pub fn add(ts: &Timestamp, d: &Duration) -> Timestamp {
    ts_from_nanos(ts_nanos(ts) + dur_nanos(d))
}

pub fn since(later: &Timestamp, earlier: &Timestamp) -> Duration {
    dur_from_nanos(ts_nanos(later) - ts_nanos(earlier))
}

pub fn from_system(t: std::time::SystemTime) -> Timestamp {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp { seconds: d.as_secs() as i64, nanos: d.subsec_nanos() as i32 }
}

/// Saturates (a huge duration is a very long one, never a wrapped short one).
pub fn to_std(d: &Duration) -> std::time::Duration {
    std::time::Duration::from_nanos(dur_nanos(d).clamp(0, u64::MAX as i128) as u64)
}

/// Nanoseconds in a Go duration string ("90s", "1h30m", "500ms"), as `@every`
/// takes it in cron and schedule specs; `days` also accepts "d" (schedules
/// do, Go itself does not). A float: the caller decides about overflow.
pub fn parse_go_duration(s: &str, days: bool) -> Option<f64> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        total += value
            * match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                "d" if days => 86400e9,
                _ => return None,
            };
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_saturate() {
        let now = Timestamp { seconds: 1_700_000_000, nanos: 0 };
        let far = add(&now, &Duration { seconds: i64::MAX, nanos: 999_999_999 });
        assert!(ts_nanos(&far) > ts_nanos(&now), "never wraps into the past");
        assert_eq!(far.seconds, MAX_TS_SECS as i64);
        assert_eq!(to_std(&Duration { seconds: i64::MAX, nanos: 0 }), std::time::Duration::from_nanos(u64::MAX));
        assert_eq!(since(&far, &now).seconds, (MAX_TS_SECS - 1_700_000_000) as i64);
    }
}

#[cfg(test)]
mod duration_tests {
    use super::*;

    #[test]
    fn durations_are_checked_as_temporal_checks_them() {
        let d = |seconds, nanos| Duration { seconds, nanos };
        assert_eq!(dur_invalid(&d(0, 0)), None);
        assert_eq!(dur_invalid(&d(i64::MAX, 999_999_999)), None, "far future");
        assert_eq!(dur_invalid(&d(1, 2_000_000_000)), None, "past a second of nanos: still positive");
        assert_eq!(dur_invalid(&d(1, -5)), Some("duration has seconds and nanos with different signs"));
        assert_eq!(dur_invalid(&d(-5, 0)), Some("negative duration"));
        assert_eq!(dur_invalid(&d(0, -1)), Some("negative duration"));
    }
}
