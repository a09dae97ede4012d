//! Long-poll deadlines: answer before the caller's `grpc-timeout` expires,
//! with an empty response meaning "nothing yet".

use std::time::Duration;
use tokio::time::Instant;

/// Longest we hold a poll, whatever the caller allows.
const MAX_POLL: Duration = Duration::from_secs(60);
/// How early we answer before the caller's deadline.
const MARGIN: Duration = Duration::from_secs(1);

/// Longest an update call waits for the stage asked for before answering
/// with the stage reached (the SDK asks again), as Temporal's history
/// service (`history.longPollExpirationInterval`, 20 s).
pub const UPDATE_WAIT_MAX: Duration = Duration::from_secs(20);
/// Longest a query waits for a worker's answer.
pub const QUERY_WAIT_MAX: Duration = Duration::from_secs(60);

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
        Some(t) if t > MARGIN * 2 => t - MARGIN,
        Some(t) => t.mul_f32(0.8),
        None => MAX_POLL,
    };
    Instant::now() + wait.min(MAX_POLL)
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
