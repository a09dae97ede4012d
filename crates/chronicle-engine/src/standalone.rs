//! Standalone activities (StartActivityExecution): an activity a client
//! starts without a workflow. It lives as a run of its own whose only work
//! is that activity: WorkflowExecutionStarted (the activity's type, queue
//! and input), ActivityTaskScheduled, and when the activity ends its
//! outcome event and the run's close event. Attempts, retries, timeouts,
//! heartbeats and the activity controls are the workflow activity's code
//! (`activity.rs`, `activity_control.rs`); what differs is what an outcome
//! does (it closes the run instead of waking a workflow), cancellation (a
//! client's request goes to the activity) and what the run accepts (no
//! signals, updates or workflow tasks: it has no workflow to take them).
//! The server keeps these runs apart from workflows (their own id space and
//! visibility division); the engine only needs `MutableState::standalone`.

use crate::api::{
    activity::v1::{ActivityExecutionOutcome, activity_execution_outcome},
    command::v1::ScheduleActivityTaskCommandAttributes,
    enums::v1::{RetryState, WorkflowExecutionStatus},
    failure::v1::{CanceledFailureInfo, Failure, TerminatedFailureInfo, failure::FailureInfo},
    history::v1::{history_event::Attributes, *},
};
use crate::events::Ctx;
use crate::shared::Shared;
use crate::state::{ActivityInfo, StandaloneActivity};
use crate::time;
use crate::transition::{EngineError, Input, StandaloneRequest};
use prost_types::Duration;

/// What a standalone activity's start adds to a run's start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActivityStart {
    /// The activity as a ScheduleActivityTask command would give it (its
    /// timeouts and retry policy already checked by the caller).
    pub attrs: ScheduleActivityTaskCommandAttributes,
    /// The first attempt waits this long (`start_delay`); retries do not.
    pub start_delay: Option<Duration>,
}

/// After WorkflowExecutionStarted: the activity scheduled, its first
/// attempt dispatchable after the start delay. (Called by `start::begin`
/// instead of scheduling a workflow task.)
pub(crate) fn schedule(ctx: &mut Ctx, start: ActivityStart) {
    let delay = start.start_delay.filter(|d| time::dur_nanos(d) > 0);
    ctx.state.standalone = Some(StandaloneActivity { start_delay: delay, ..Default::default() });
    crate::activity::schedule(ctx, start.attrs, 0);
    if let Some(delay) = delay {
        // Re-issue the first attempt's tasks from the delayed time: the
        // dispatch, and the schedule-to-start and -to-close timers (counted
        // from when it may first be dispatched, as Temporal's expiration
        // time is schedule time + start delay + schedule-to-close).
        let Some((&id, info)) = ctx.state.activities.iter().next() else { return };
        let mut info = ActivityInfo::clone(info);
        let at = time::add(&ctx.now, &delay);
        info.current_attempt_scheduled_time = Some(at);
        info.scheduled_time = Some(at);
        ctx.tasks.retain(|t| !crate::activity::is_task_of(t, id));
        ctx.tasks.extend(crate::activity::dispatch_tasks(&info));
        ctx.state.activities.insert(id, Shared::from(info));
    }
}

/// Inputs a standalone activity's run takes as a workflow's run does: its
/// activity's attempts, timers and controls.
pub(crate) fn shared_input(input: &Input) -> bool {
    matches!(
        input,
        Input::ActivityTaskStarted { .. }
            | Input::ActivityTaskCompleted { .. }
            | Input::ActivityTaskFailed { .. }
            | Input::ActivityTaskCanceled { .. }
            | Input::ActivityTaskHeartbeat { .. }
            | Input::TimerFired(crate::transition::TimerKind::ActivityTimeout { .. })
            | Input::ActivityControl(_)
    )
}

/// The other inputs a standalone activity's run takes; anything else names
/// something it does not have (signals, updates, workflow tasks).
pub(crate) fn apply(ctx: &mut Ctx, input: Input) -> Result<(), EngineError> {
    match input {
        Input::Standalone(StandaloneRequest::Cancel { reason, identity, request_id }) => {
            request_cancel(ctx, reason, identity, request_id)
        }
        Input::Standalone(StandaloneRequest::Terminate { reason, identity, request_id }) => {
            terminate(ctx, reason, None, identity, request_id);
            Ok(())
        }
        // The server's own terminations (a delete, a history limit).
        Input::Terminate { reason, details, identity } => {
            terminate(ctx, reason, details, identity, String::new());
            Ok(())
        }
        _ => Err(EngineError::NotFound("workflow execution not found".into())),
    }
}

/// A client asked the activity to cancel: one no worker holds (waiting
/// for its first attempt or a retry) is canceled at once, its outcome's
/// details the reason; a running one is told by its next heartbeat and
/// ends when its worker reports it canceled (or completes, or fails, with
/// no more retries). Temporal's rules for a second request.
fn request_cancel(ctx: &mut Ctx, reason: String, identity: String, request_id: String) -> Result<(), EngineError> {
    let Some(info) = ctx.state.activities.values().next().cloned() else {
        return Err(EngineError::WorkflowClosed);
    };
    let standalone = ctx.state.standalone.get_or_insert_with(Default::default);
    if info.cancel_requested {
        if standalone.cancel_request_id == request_id {
            return Ok(());
        }
        return Err(EngineError::FailedPrecondition(format!(
            "cancellation already requested with request ID {}",
            standalone.cancel_request_id
        )));
    }
    standalone.canceled_reason = reason;
    standalone.cancel_request_id = request_id;
    crate::activity::request_cancel(ctx, info.scheduled_event_id, 0, &identity);
    Ok(())
}

fn terminate(
    ctx: &mut Ctx,
    reason: String,
    details: Option<crate::api::common::v1::Payloads>,
    identity: String,
    request_id: String,
) {
    let last = ctx.state.activities.values().next().map(|a| ActivityInfo::clone(a));
    let failure = Failure {
        message: reason.clone(),
        failure_info: Some(FailureInfo::TerminatedFailureInfo(TerminatedFailureInfo { identity: identity.clone() })),
        ..Default::default()
    };
    if let Some(s) = ctx.state.standalone.as_mut() {
        s.terminate_request_id = request_id;
    }
    ctx.add(WorkflowExecutionTerminatedEventAttributes { reason, details, identity });
    let outcome = failed(failure, RetryState::Unspecified);
    close(ctx, last, outcome, WorkflowExecutionStatus::Terminated);
}

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

fn failed(failure: Failure, retry_state: RetryState) -> ActivityExecutionOutcome {
    ActivityExecutionOutcome {
        value: Some(activity_execution_outcome::Value::Failure(failure)),
        retry_state: retry_state as i32,
    }
}

fn close(
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
