//! Long-poll deadlines: answer before the caller's `grpc-timeout` expires,
//! with an empty response meaning "nothing yet".

use chronicle_engine::limits::{LONG_POLL_MARGIN, LONG_POLL_MAX};
use std::time::Duration;
use tokio::time::Instant;

/// How long past the caller's own deadline a wait that must not answer
/// first (see `wait_past_caller`) still holds on.
const PAST_CALLER: Duration = Duration::from_millis(500);

fn caller_timeout<T>(request: &tonic::Request<T>) -> Option<Duration> {
    request.metadata().get("grpc-timeout").and_then(|v| v.to_str().ok()).and_then(parse_grpc_timeout)
}

/// For waits whose empty answer the SDK would only repeat (an update's
/// outcome, a query's answer): hold on until the caller gives up (a little
/// past its deadline, so the caller sees its own timeout, as Temporal's
/// clients do), at most `cap` when it is later or unset.
pub fn wait_past_caller<T>(request: &tonic::Request<T>, cap: Duration) -> Instant {
    let wait = match caller_timeout(request) {
        Some(t) => (t + PAST_CALLER).min(cap),
        None => cap,
    };
    Instant::now() + wait
}

pub fn deadline<T>(request: &tonic::Request<T>) -> Instant {
    let timeout = caller_timeout(request);
    let wait = match timeout {
        Some(t) if t > LONG_POLL_MARGIN * 2 => t - LONG_POLL_MARGIN,
        Some(t) => t.mul_f32(0.8),
        None => LONG_POLL_MAX,
    };
    Instant::now() + wait.min(LONG_POLL_MAX)
}

/// `grpc-timeout` is digits followed by a unit: H, M, S, m, u or n.
pub fn parse_grpc_timeout(v: &str) -> Option<Duration> {
    if v.len() < 2 {
        return None;
    }
    let (digits, unit) = v.split_at(v.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_grpc_timeout("70S"), Some(Duration::from_secs(70)));
        assert_eq!(parse_grpc_timeout("69999m"), Some(Duration::from_millis(69999)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("x"), None);
        assert_eq!(parse_grpc_timeout("10q"), None);
    }
}
