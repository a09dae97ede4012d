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
//! listings); the engine only needs `MutableState::standalone`.

use crate::api::{
    enums::v1::{RetryState, WorkflowExecutionStatus},
    failure::v1::{Failure, TerminatedFailureInfo, failure::FailureInfo},
    history::v1::*,
};
use crate::events::Ctx;
use crate::shared::Shared;
use crate::state::{ActivityInfo, StandaloneActivity};
use crate::time;
use crate::transition::{EngineError, Input, StandaloneRequest};

/// After WorkflowExecutionStarted: the activity scheduled, its first
/// attempt dispatchable after the start delay. (Called by `apply::start`;
/// such a run schedules no workflow task.)
pub(crate) fn schedule(ctx: &mut Ctx, start: crate::start::ActivityStart) {
    let delay = start.start_delay.filter(|d| time::dur_nanos(d) > 0);
    ctx.state.standalone =
        Some(StandaloneActivity { start_delay: delay, original_start_delay: delay, ..Default::default() });
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
    let outcome = crate::standalone_outcome::failed(failure, RetryState::Unspecified);
    crate::standalone_outcome::close(ctx, last, outcome, WorkflowExecutionStatus::Terminated);
}

/// UpdateActivityExecutionOptions' `startDelay` (or its original, on a
/// restore): counted from the activity's schedule time, and taking effect
/// only while its first attempt still waits.
pub(crate) fn update_start_delay(
    ctx: &mut Ctx,
    info: &mut ActivityInfo,
    restore: bool,
    paths: &[String],
    options: &crate::api::activity::v1::ActivityOptions,
) {
    let Some(s) = ctx.state.standalone.as_mut() else { return };
    let delay = match restore {
        true => s.original_start_delay,
        false if paths.iter().any(|p| p == "startDelay") => options.start_delay.filter(|d| time::dur_nanos(d) > 0),
        false => return,
    };
    s.start_delay = delay;
    if info.is_started() || info.attempt != 1 || info.paused {
        return;
    }
    let from = ctx.state.start_time.unwrap_or(ctx.now);
    let at = delay.map_or(from, |d| time::add(&from, &d));
    info.scheduled_time = Some(at);
    info.current_attempt_scheduled_time = Some(at);
    ctx.tasks.extend(crate::activity::dispatch_tasks(info));
}
