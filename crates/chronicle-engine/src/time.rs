//! Timestamp and duration arithmetic over the protobuf well-known types.

use prost_types::{Duration, Timestamp};

const NANOS_PER_SEC: i128 = 1_000_000_000;

pub fn ts_nanos(ts: &Timestamp) -> i128 {
    ts.seconds as i128 * NANOS_PER_SEC + ts.nanos as i128
}

pub fn ts_from_nanos(n: i128) -> Timestamp {
    Timestamp { seconds: n.div_euclid(NANOS_PER_SEC) as i64, nanos: n.rem_euclid(NANOS_PER_SEC) as i32 }
}

pub fn dur_nanos(d: &Duration) -> i128 {
    d.seconds as i128 * NANOS_PER_SEC + d.nanos as i128
}

pub fn dur_from_nanos(n: i128) -> Duration {
    let n = n.max(0);
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

pub fn to_std(d: &Duration) -> std::time::Duration {
    std::time::Duration::from_nanos(dur_nanos(d).max(0) as u64)
}
