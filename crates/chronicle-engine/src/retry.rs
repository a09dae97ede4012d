//! Server-side retry arithmetic (activities now; workflow retries later).

use crate::api::{
    common::v1::RetryPolicy,
    enums::v1::RetryState,
    enums::v1::TimeoutType,
    failure::v1::{Failure, failure::FailureInfo},
};
use crate::time;
use prost_types::{Duration, Timestamp};

pub fn default_activity_retry_policy() -> RetryPolicy {
    RetryPolicy {
        initial_interval: Some(time::dur_secs(1)),
        backoff_coefficient: 2.0,
        maximum_interval: Some(time::dur_secs(100)),
        maximum_attempts: 0,
        non_retryable_error_types: Vec::new(),
    }
}

/// Fills unset fields with Temporal's defaults and rejects invalid values
/// with Temporal's messages.
pub fn normalize_retry_policy(policy: Option<RetryPolicy>) -> Result<RetryPolicy, String> {
    let Some(mut p) = policy else { return Ok(default_activity_retry_policy()) };
    let nanos = |d: &Option<Duration>| d.as_ref().map(time::dur_nanos).unwrap_or(0);
    for (name, d) in [("InitialInterval", &p.initial_interval), ("MaximumInterval", &p.maximum_interval)] {
        if let Some(cause) = d.as_ref().and_then(time::dur_invalid).filter(|c| *c != "negative duration") {
            return Err(format!("{name} is invalid on retry policy: {cause}."));
        }
    }
    // Temporal takes NaN (every comparison with it is false); here it would
    // make every backoff zero, so a failing activity would retry in a loop.
    if !p.backoff_coefficient.is_finite() {
        return Err("BackoffCoefficient must be a finite number on retry policy.".into());
    }
    if nanos(&p.initial_interval) < 0 {
        return Err("InitialInterval cannot be negative on retry policy.".into());
    }
    if nanos(&p.initial_interval) == 0 {
        p.initial_interval = Some(time::dur_secs(1));
    }
    if p.backoff_coefficient == 0.0 {
        p.backoff_coefficient = 2.0;
    } else if p.backoff_coefficient < 1.0 {
        return Err("BackoffCoefficient cannot be less than 1 on retry policy.".into());
    }
    if nanos(&p.maximum_interval) < 0 {
        return Err("MaximumInterval cannot be negative on retry policy.".into());
    }
    if nanos(&p.maximum_interval) == 0 {
        p.maximum_interval = Some(time::dur_from_nanos(100 * nanos(&p.initial_interval)));
    } else if nanos(&p.maximum_interval) < nanos(&p.initial_interval) {
        return Err("MaximumInterval cannot be less than InitialInterval on retry policy.".into());
    }
    if p.maximum_attempts < 0 {
        return Err("MaximumAttempts cannot be negative on retry policy.".into());
    }
    Ok(p)
}

/// Whether `failure` may be retried at all: application failures unless
/// marked non-retryable or of a non-retryable type; start-to-close and
/// heartbeat timeouts; never cancellations or terminations.
fn is_retryable(policy: &RetryPolicy, failure: &Failure) -> bool {
    match &failure.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(info)) => {
            !info.non_retryable && !policy.non_retryable_error_types.iter().any(|t| t == &info.r#type)
        }
        Some(FailureInfo::TimeoutFailureInfo(info)) => {
            let t = TimeoutType::try_from(info.timeout_type).unwrap_or(TimeoutType::Unspecified);
            matches!(t, TimeoutType::StartToClose | TimeoutType::Heartbeat)
                && !policy.non_retryable_error_types.iter().any(|n| n == timeout_error_type(t))
        }
        Some(FailureInfo::CanceledFailureInfo(_)) | Some(FailureInfo::TerminatedFailureInfo(_)) => false,
        Some(FailureInfo::ServerFailureInfo(info)) => !info.non_retryable,
        _ => true,
    }
}

fn timeout_error_type(t: TimeoutType) -> &'static str {
    match t {
        TimeoutType::StartToClose => "TemporalTimeout:StartToClose",
        TimeoutType::Heartbeat => "TemporalTimeout:Heartbeat",
        TimeoutType::ScheduleToStart => "TemporalTimeout:ScheduleToStart",
        TimeoutType::ScheduleToClose => "TemporalTimeout:ScheduleToClose",
        TimeoutType::Unspecified => "TemporalTimeout:Unspecified",
    }
}

/// The delay before attempt `attempt + 1`, or why there is none.
/// `deadline` is the schedule-to-close deadline, if any.
pub fn next_retry_delay(
    policy: &RetryPolicy,
    attempt: i32,
    failure: &Failure,
    now: &Timestamp,
    deadline: Option<&Timestamp>,
) -> Result<Duration, RetryState> {
    if !is_retryable(policy, failure) {
        return Err(RetryState::NonRetryableFailure);
    }
    if policy.maximum_attempts > 0 && attempt >= policy.maximum_attempts {
        return Err(RetryState::MaximumAttemptsReached);
    }
    let initial = policy.initial_interval.as_ref().map(time::dur_nanos).unwrap_or(1_000_000_000) as f64;
    let coefficient = if policy.backoff_coefficient >= 1.0 { policy.backoff_coefficient } else { 2.0 };
    let mut delay = initial * coefficient.powi((attempt - 1).clamp(0, 1000));
    if let Some(max) = policy.maximum_interval.as_ref().map(time::dur_nanos).filter(|m| *m > 0) {
        delay = delay.min(max as f64);
    }
    let delay = if delay.is_finite() { delay as i128 } else { i128::MAX / 4 };
    if let Some(deadline) = deadline
        && time::ts_nanos(now) + delay >= time::ts_nanos(deadline)
    {
        return Err(RetryState::Timeout);
    }
    Ok(time::dur_from_nanos(delay))
}
