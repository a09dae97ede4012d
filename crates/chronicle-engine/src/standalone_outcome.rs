//! What ends a standalone activity's run (`standalone.rs`): its
//! activity's outcome, kept as the run's, and the run's close event. A
//! leaf beside `activity.rs`, which calls it when a standalone activity
//! ends, as `standalone.rs` calls `activity.rs`.

use crate::api::{
    activity::v1::{ActivityExecutionOutcome, activity_execution_outcome},
    enums::v1::{RetryState, WorkflowExecutionStatus},
    failure::v1::{CanceledFailureInfo, Failure, failure::FailureInfo},
    history::v1::{history_event::Attributes, *},
};
use crate::events::Ctx;
use crate::state::ActivityInfo;

/// The activity ended with `attrs` (its outcome event, not yet written):
/// the event, the run's close event, and the outcome kept for
/// PollActivityExecution.
pub(crate) fn ended(ctx: &mut Ctx, last: ActivityInfo, attrs: Attributes) {
    ctx.add(attrs.clone());
    let (outcome, status) = match attrs {
        Attributes::ActivityTaskCompletedEventAttributes(a) => {
            ctx.add(WorkflowExecutionCompletedEventAttributes { result: a.result.clone(), ..Default::default() });
            let outcome = ActivityExecutionOutcome {
                value: Some(activity_execution_outcome::Value::Result(a.result.unwrap_or_default())),
                retry_state: 0,
            };
            (outcome, WorkflowExecutionStatus::Completed)
        }
        Attributes::ActivityTaskFailedEventAttributes(a) => {
            ctx.add(WorkflowExecutionFailedEventAttributes {
                failure: a.failure.clone(),
                retry_state: a.retry_state,
                ..Default::default()
            });
            let retry_state = a.retry_state();
            (failed(a.failure.unwrap_or_default(), retry_state), WorkflowExecutionStatus::Failed)
        }
        Attributes::ActivityTaskTimedOutEventAttributes(a) => {
            ctx.add(WorkflowExecutionTimedOutEventAttributes { retry_state: a.retry_state, ..Default::default() });
            let retry_state = a.retry_state();
            // The activity's own failure, not one a workflow sees from the server.
            let failure = Failure { source: String::new(), ..a.failure.unwrap_or_default() };
            (failed(failure, retry_state), WorkflowExecutionStatus::TimedOut)
        }
        Attributes::ActivityTaskCanceledEventAttributes(a) => {
            ctx.add(WorkflowExecutionCanceledEventAttributes { details: a.details.clone(), ..Default::default() });
            // Canceled before a worker held it: the details are the
            // request's reason (a JSON string), as Temporal gives them.
            let details = match a.started_event_id {
                0 => {
                    let reason = ctx.state.standalone.as_ref().map(|s| s.canceled_reason.as_str()).unwrap_or_default();
                    Some(crate::api::common::v1::Payloads { payloads: vec![json_string(reason)] })
                }
                _ => a.details,
            };
            let failure = Failure {
                message: "Activity canceled".into(),
                failure_info: Some(FailureInfo::CanceledFailureInfo(CanceledFailureInfo {
                    details,
                    identity: a.identity,
                })),
                ..Default::default()
            };
            (failed(failure, RetryState::Unspecified), WorkflowExecutionStatus::Canceled)
        }
        other => unreachable!("not an activity outcome: {other:?}"),
    };
    close(ctx, Some(last), outcome, status);
}

/// `text` as the SDKs' default converter encodes a string.
fn json_string(text: &str) -> crate::api::common::v1::Payload {
    crate::api::common::v1::Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
        data: serde_json::to_vec(text).unwrap_or_default(),
        ..Default::default()
    }
}

pub(crate) fn failed(failure: Failure, retry_state: RetryState) -> ActivityExecutionOutcome {
    ActivityExecutionOutcome {
        value: Some(activity_execution_outcome::Value::Failure(failure)),
        retry_state: retry_state as i32,
    }
}

pub(crate) fn close(
    ctx: &mut Ctx,
    last: Option<ActivityInfo>,
    outcome: ActivityExecutionOutcome,
    status: WorkflowExecutionStatus,
) {
    let now = ctx.now;
    if let Some(s) = ctx.state.standalone.as_mut() {
        s.outcome = Some(outcome);
        if let Some(mut last) = last {
            // The attempt that ended: what Describe shows of a closed one.
            if last.is_started() {
                s.last_attempt_complete_time = Some(now);
            }
            last.input = None;
            s.last = Some(last);
        }
    }
    crate::close::close(ctx, status);
}

/// Counted for Describe (`total_heartbeat_count`).
pub(crate) fn on_heartbeat(ctx: &mut Ctx) {
    if let Some(s) = ctx.state.standalone.as_mut() {
        s.total_heartbeat_count += 1;
    }
}

/// A failed attempt of a standalone activity: when it ended (Describe's
/// `last_attempt_complete_time`).
pub(crate) fn on_attempt_ended(ctx: &mut Ctx) {
    let now = ctx.now;
    if let Some(s) = ctx.state.standalone.as_mut() {
        s.last_attempt_complete_time = Some(now);
    }
}
