//! Activities: the ScheduleActivityTask and RequestCancelActivityTask
//! commands, then the lifecycle: started by a poll; completed, failed,
//! canceled or timed out, with server-side retries that write no events
//! until the final outcome (then ActivityTaskStarted is written with that
//! attempt).

use crate::api::{
    command::v1::{RequestCancelActivityTaskCommandAttributes, ScheduleActivityTaskCommandAttributes},
    common::v1::Payloads,
    enums::v1::{RetryState, TaskQueueKind, TimeoutType, WorkflowTaskFailedCause as Cause},
    failure::v1::{Failure, TimeoutFailureInfo, failure::FailureInfo},
    history::v1::*,
    taskqueue::v1::TaskQueue,
};
use crate::events::Ctx;
use crate::limits::ID_BYTES_MAX;
use crate::payload::too_big;
use crate::rejection::{Rejection, reject};
use crate::retry::{next_retry_delay, normalize_retry_policy};
use crate::shared::Shared;
use crate::state::{ActivityInfo, MutableState};
use crate::time;
use crate::transition::{ActivityTaskDispatch, EngineError, Outcome, Task, TimerKind};
use prost_types::Duration;

/// ScheduleActivityTask on its own (duplicate ids are the dispatcher's).
pub(crate) fn validate_schedule(
    state: &MutableState,
    a: &ScheduleActivityTaskCommandAttributes,
) -> Result<(), Rejection> {
    let bad = |m: String| reject(Cause::BadScheduleActivityAttributes, m);
    if a.activity_id.is_empty() {
        return bad("ActivityId is not set on ScheduleActivityTaskCommand.".into());
    }
    if a.activity_type.as_ref().is_none_or(|t| t.name.is_empty()) {
        return bad("ActivityType is not set on ScheduleActivityTaskCommand.".into());
    }
    if a.activity_id.len() > ID_BYTES_MAX || a.activity_type.as_ref().is_some_and(|t| t.name.len() > ID_BYTES_MAX) {
        return bad(format!("ActivityId or ActivityType exceeds length limit of {ID_BYTES_MAX}."));
    }
    for (name, d) in [
        ("ScheduleToCloseTimeout", &a.schedule_to_close_timeout),
        ("ScheduleToStartTimeout", &a.schedule_to_start_timeout),
        ("StartToCloseTimeout", &a.start_to_close_timeout),
        ("HeartbeatTimeout", &a.heartbeat_timeout),
    ] {
        if let Some(cause) = d.as_ref().and_then(time::dur_invalid) {
            return bad(format!("Invalid {name}: {cause}."));
        }
    }
    if timeouts(state, a).is_none() {
        return bad("A valid StartToClose or ScheduleToCloseTimeout is not set on ScheduleActivityTaskCommand.".into());
    }
    if let Err(m) = normalize_retry_policy(a.retry_policy.clone()) {
        return bad(m);
    }
    if too_big(&a.input) {
        return bad("ScheduleActivityTaskCommand input exceeds the 2 MiB size limit.".into());
    }
    Ok(())
}

/// Temporal's deduction of missing activity timeouts:
/// (schedule_to_close, schedule_to_start, start_to_close, heartbeat).
pub(crate) fn timeouts(
    state: &MutableState,
    a: &ScheduleActivityTaskCommandAttributes,
) -> Option<(Duration, Duration, Duration, Duration)> {
    let n = |d: &Option<Duration>| d.as_ref().map(time::dur_nanos).unwrap_or(0).max(0);
    let run = state.started.as_ref().map(|s| n(&s.workflow_run_timeout)).unwrap_or(0);
    let (mut s2close, mut s2start, mut s2c) =
        (n(&a.schedule_to_close_timeout), n(&a.schedule_to_start_timeout), n(&a.start_to_close_timeout));
    let min_nonzero = |x: i128, cap: i128| if cap > 0 && (x == 0 || x > cap) { cap } else { x };
    if s2close > 0 {
        s2close = min_nonzero(s2close, run);
        s2start = if s2start == 0 { s2close } else { s2start.min(s2close) };
        s2c = if s2c == 0 { s2close } else { s2c.min(s2close) };
    } else if s2c > 0 {
        s2close = run;
        s2start = if s2start == 0 { s2close } else { min_nonzero(s2start, s2close) };
    } else {
        return None;
    }
    let heartbeat = n(&a.heartbeat_timeout).min(s2c);
    Some((
        time::dur_from_nanos(s2close),
        time::dur_from_nanos(s2start),
        time::dur_from_nanos(s2c),
        time::dur_from_nanos(heartbeat),
    ))
}

pub(crate) fn validate_request_cancel(
    state: &MutableState,
    a: &RequestCancelActivityTaskCommandAttributes,
) -> Result<(), Rejection> {
    if !state.activities.contains_key(&a.scheduled_event_id) {
        return reject(
            Cause::BadRequestCancelActivityAttributes,
            format!("RequestCancelActivityTask: no pending activity scheduled at event {}.", a.scheduled_event_id),
        );
    }
    Ok(())
}

/// ActivityTaskScheduled, and the first attempt waiting for a worker.
pub(crate) fn schedule(ctx: &mut Ctx, a: ScheduleActivityTaskCommandAttributes, completed_id: i64) {
    let (s2close, s2start, s2c, heartbeat) = timeouts(&ctx.state, &a).expect("validated before apply");
    let retry_policy = normalize_retry_policy(a.retry_policy.clone()).expect("validated before apply");
    let task_queue = match a.task_queue.as_ref().filter(|t| !t.name.is_empty()) {
        Some(t) => TaskQueue { name: t.name.clone(), kind: TaskQueueKind::Normal as i32, normal_name: String::new() },
        None => TaskQueue {
            name: ctx.state.task_queue_name().to_string(),
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        },
    };
    let id = ctx.add(ActivityTaskScheduledEventAttributes {
        activity_id: a.activity_id.clone(),
        activity_type: a.activity_type.clone(),
        task_queue: Some(task_queue.clone()),
        header: a.header.clone(),
        input: a.input.clone(),
        schedule_to_close_timeout: Some(s2close),
        schedule_to_start_timeout: Some(s2start),
        start_to_close_timeout: Some(s2c),
        heartbeat_timeout: Some(heartbeat),
        workflow_task_completed_event_id: completed_id,
        retry_policy: Some(retry_policy.clone()),
        use_workflow_build_id: a.use_workflow_build_id,
        priority: a.priority.clone(),
    });
    let info = ActivityInfo {
        scheduled_event_id: id,
        activity_id: a.activity_id,
        activity_type: a.activity_type,
        task_queue: Some(task_queue),
        header: a.header,
        input: a.input,
        schedule_to_close_timeout: Some(s2close),
        schedule_to_start_timeout: Some(s2start),
        start_to_close_timeout: Some(s2c),
        heartbeat_timeout: Some(heartbeat),
        retry_policy: Some(retry_policy),
        attempt: 1,
        scheduled_time: Some(ctx.now),
        current_attempt_scheduled_time: Some(ctx.now),
        workflow_task_completed_event_id: completed_id,
        priority: a.priority,
        ..Default::default()
    };
    match ctx.eager.as_mut().filter(|_| a.request_eager_execution) {
        // Started once every command is in (`start_eagerly`): no task for
        // a queue, no schedule-to-start timer; the schedule-to-close one
        // stands.
        Some(eager) => {
            eager.scheduled_event_ids.push(id);
            ctx.tasks.extend(dispatch_tasks(&info).into_iter().filter(is_schedule_to_close));
        }
        None => ctx.tasks.extend(dispatch_tasks(&info)),
    }
    ctx.state.activities.insert(id, info.into());
}

/// Whether `task` is a dispatch or timer of the activity scheduled at `id`.
pub(crate) fn is_task_of(task: &Task, id: i64) -> bool {
    match task {
        Task::ActivityTask(d) => d.scheduled_event_id == id,
        Task::Timer(t) => {
            matches!(t.kind, TimerKind::ActivityTimeout { scheduled_event_id, .. } if scheduled_event_id == id)
        }
        _ => false,
    }
}

fn is_schedule_to_close(task: &Task) -> bool {
    matches!(task, Task::Timer(t) if matches!(t.kind, TimerKind::ActivityTimeout { timeout_type: TimeoutType::ScheduleToClose, .. }))
}

/// After a workflow task's commands: starts the activities it scheduled
/// with `request_eager_execution`, for the worker that completed it, as
/// Temporal does: not those a later command of the task canceled, none if
/// the workflow closed in the task. Returns them, to hand to the worker.
pub(crate) fn start_eagerly(ctx: &mut Ctx) -> Vec<ActivityInfo> {
    let Some(eager) = ctx.eager.take() else { return Vec::new() };
    if !ctx.state.is_running() {
        return Vec::new();
    }
    let mut started = Vec::new();
    for id in eager.scheduled_event_ids {
        let Some(mut info) = ctx.state.activities.get(&id).cloned() else { continue };
        if !matches!(ctx.outcome, Outcome::None) {
            // The answer has no room for it: to its task queue after all.
            ctx.tasks.extend(dispatch_tasks(&info).into_iter().filter(|t| !is_schedule_to_close(t)));
            continue;
        }
        mark_started(ctx, &mut info, eager.identity.clone(), eager.request_id.clone(), eager.worker_version.clone());
        ctx.state.activities.insert(id, info.clone());
        started.push(info.into_inner());
    }
    started
}

/// The tasks of an activity attempt waiting for a worker: dispatch at its
/// scheduled time, and its schedule-to-start / schedule-to-close timers.
pub(crate) fn dispatch_tasks(info: &ActivityInfo) -> Vec<Task> {
    use crate::api::enums::v1::TimeoutType;
    let visible_at = info.current_attempt_scheduled_time.unwrap_or_default();
    let mut tasks = Vec::new();
    // A paused attempt waits for its unpause; only the activity's deadline runs.
    if !info.paused {
        tasks.push(Task::ActivityTask(ActivityTaskDispatch {
            task_queue: info.task_queue.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
            scheduled_event_id: info.scheduled_event_id,
            attempt: info.attempt,
            visible_at,
            pinned: String::new(), // stamped when the transition ends
        }));
    }
    let timer = |fire_at, timeout_type| {
        Task::Timer(crate::transition::TimerTask {
            fire_at,
            kind: TimerKind::ActivityTimeout {
                scheduled_event_id: info.scheduled_event_id,
                attempt: info.attempt,
                timeout_type,
            },
        })
    };
    if let Some(d) = info.schedule_to_start_timeout.filter(|d| time::is_set(Some(d)) && !info.paused) {
        tasks.push(timer(time::add(&visible_at, &d), TimeoutType::ScheduleToStart));
    }
    if let (Some(d), Some(scheduled)) =
        (info.schedule_to_close_timeout.filter(|d| time::is_set(Some(d))), info.scheduled_time)
    {
        tasks.push(timer(time::add(&scheduled, &d), TimeoutType::ScheduleToClose));
    }
    tasks
}

/// Every task a pending activity implies: a running attempt's timeouts, or
/// a waiting attempt's dispatch and timeouts.
pub(crate) fn pending_tasks(info: &ActivityInfo) -> Vec<Task> {
    if !info.is_started() {
        return dispatch_tasks(info);
    }
    let started = info.started_time.unwrap_or_default();
    let timer = |d: &Duration, from: &prost_types::Timestamp, t| {
        Task::Timer(crate::transition::TimerTask {
            fire_at: time::add(from, d),
            kind: TimerKind::ActivityTimeout {
                scheduled_event_id: info.scheduled_event_id,
                attempt: info.attempt,
                timeout_type: t,
            },
        })
    };
    let mut tasks = Vec::new();
    if let Some(d) = info.start_to_close_timeout.filter(|d| time::is_set(Some(d))) {
        tasks.push(timer(&d, &started, TimeoutType::StartToClose));
    }
    if let Some(d) = info.heartbeat_timeout.filter(|d| time::is_set(Some(d))) {
        tasks.push(timer(&d, &info.last_heartbeat_time.unwrap_or(started), TimeoutType::Heartbeat));
    }
    if let (Some(d), Some(s)) = (info.schedule_to_close_timeout.filter(|d| time::is_set(Some(d))), info.scheduled_time)
    {
        tasks.push(timer(&d, &s, TimeoutType::ScheduleToClose));
    }
    tasks
}

fn current(ctx: &Ctx, scheduled_event_id: i64, attempt: i32) -> Result<Shared<ActivityInfo>, EngineError> {
    ctx.state
        .activities
        .get(&scheduled_event_id)
        .filter(|a| a.attempt == attempt)
        .cloned()
        .ok_or(EngineError::ActivityTaskNotFound)
}

fn started_current(ctx: &Ctx, scheduled_event_id: i64, attempt: i32) -> Result<Shared<ActivityInfo>, EngineError> {
    current(ctx, scheduled_event_id, attempt)
        .and_then(|a| if a.is_started() { Ok(a) } else { Err(EngineError::ActivityTaskNotFound) })
}

pub(crate) fn started(
    ctx: &mut Ctx,
    scheduled_event_id: i64,
    attempt: i32,
    identity: String,
    request_id: String,
    worker_version: Option<crate::api::common::v1::WorkerVersionStamp>,
) -> Result<(), EngineError> {
    let mut info = current(ctx, scheduled_event_id, attempt)?;
    if info.is_started() || info.paused {
        return Err(EngineError::ActivityTaskNotFound);
    }
    mark_started(ctx, &mut info, identity, request_id, worker_version);
    ctx.outcome = Outcome::ActivityTaskStarted(Box::new(ActivityInfo::clone(&info)));
    ctx.state.activities.insert(scheduled_event_id, info);
    Ok(())
}

/// An attempt handed to a worker: who took it, and its start-to-close and
/// heartbeat timers from now. (Its ActivityTaskStarted is written with
/// the attempt's outcome.)
fn mark_started(
    ctx: &mut Ctx,
    info: &mut ActivityInfo,
    identity: String,
    request_id: String,
    worker_version: Option<crate::api::common::v1::WorkerVersionStamp>,
) {
    info.started_worker_version = worker_version;
    info.started_time = Some(ctx.now);
    info.started_identity = identity;
    info.started_request_id = request_id;
    info.last_heartbeat_time = None;
    let (scheduled_event_id, attempt) = (info.scheduled_event_id, info.attempt);
    let timer = |t| TimerKind::ActivityTimeout { scheduled_event_id, attempt, timeout_type: t };
    if let Some(d) = info.start_to_close_timeout.filter(|d| time::is_set(Some(d))) {
        ctx.timer(time::add(&ctx.now, &d), timer(TimeoutType::StartToClose));
    }
    if let Some(d) = info.heartbeat_timeout.filter(|d| time::is_set(Some(d))) {
        ctx.timer(time::add(&ctx.now, &d), timer(TimeoutType::Heartbeat));
    }
}

/// Writes ActivityTaskStarted for the final attempt; returns its id.
fn write_started(ctx: &mut Ctx, info: &ActivityInfo) -> Option<i64> {
    let started_time = info.started_time?;
    let attrs = ActivityTaskStartedEventAttributes {
        scheduled_event_id: info.scheduled_event_id,
        identity: info.started_identity.clone(),
        request_id: info.started_request_id.clone(),
        attempt: info.attempt,
        last_failure: info.last_failure.clone(),
        worker_version: info.started_worker_version.clone(),
        ..Default::default()
    };
    // Written late, stamped with when the attempt really started.
    let now = std::mem::replace(&mut ctx.now, started_time);
    let id = ctx.add_or_buffer(attrs);
    ctx.now = now;
    id
}

/// Started id to reference from the outcome event: known if written now,
/// otherwise fixed up when the buffer is flushed.
fn outcome_started_id(written: Option<i64>) -> i64 {
    written.unwrap_or(crate::events::BUFFERED_EVENT_ID)
}

/// The activity's outcome: the workflow wakes to it, or a standalone
/// activity's run closes with it.
fn finish(ctx: &mut Ctx, scheduled_event_id: i64, attrs: impl Into<history_event::Attributes>) {
    let info = ctx.state.activities.remove(&scheduled_event_id);
    match info.filter(|_| ctx.state.standalone.is_some()) {
        Some(info) => crate::standalone_outcome::ended(ctx, info.into_inner(), attrs.into()),
        None => ctx.add_for_workflow(attrs),
    }
}

pub(crate) fn completed(
    ctx: &mut Ctx,
    scheduled_event_id: i64,
    attempt: i32,
    result: Option<Payloads>,
    identity: String,
) -> Result<(), EngineError> {
    let info = started_current(ctx, scheduled_event_id, attempt)?;
    let written = write_started(ctx, &info);
    let started_event_id = outcome_started_id(written);
    finish(
        ctx,
        scheduled_event_id,
        ActivityTaskCompletedEventAttributes {
            result,
            scheduled_event_id,
            started_event_id,
            identity,
            ..Default::default()
        },
    );
    Ok(())
}

pub(crate) fn failed(
    ctx: &mut Ctx,
    scheduled_event_id: i64,
    attempt: i32,
    failure: Option<Failure>,
    last_heartbeat_details: Option<Payloads>,
    identity: String,
) -> Result<(), EngineError> {
    let mut info = started_current(ctx, scheduled_event_id, attempt)?;
    if last_heartbeat_details.is_some() {
        info.last_heartbeat_details = last_heartbeat_details;
    }
    let failure = failure.unwrap_or_else(|| Failure { message: "activity failed".into(), ..Default::default() });
    let retry_state = match retry(ctx, &mut info, &failure, &identity) {
        Ok(()) => return Ok(()),
        Err(state) => state,
    };
    let written = write_started(ctx, &info);
    let started_event_id = outcome_started_id(written);
    finish(
        ctx,
        scheduled_event_id,
        ActivityTaskFailedEventAttributes {
            failure: Some(failure),
            scheduled_event_id,
            started_event_id,
            identity,
            retry_state: retry_state as i32,
            ..Default::default()
        },
    );
    Ok(())
}

pub(crate) fn canceled(
    ctx: &mut Ctx,
    scheduled_event_id: i64,
    attempt: i32,
    details: Option<Payloads>,
    identity: String,
) -> Result<(), EngineError> {
    let info = started_current(ctx, scheduled_event_id, attempt)?;
    if !info.cancel_requested && ctx.state.standalone.is_some() {
        // As newer Temporal servers and the Python SDK's own tests have it
        // (1.32 still gave the workflow activity's answer below).
        return Err(EngineError::FailedPrecondition("invalid transition from Started".into()));
    }
    if !info.cancel_requested {
        return Err(EngineError::InvalidArgument(
            "unable to mark activity as canceled without activity being request canceled first".into(),
        ));
    }
    let written = write_started(ctx, &info);
    let started_event_id = outcome_started_id(written);
    finish(
        ctx,
        scheduled_event_id,
        ActivityTaskCanceledEventAttributes {
            details,
            latest_cancel_requested_event_id: info.cancel_requested_event_id,
            scheduled_event_id,
            started_event_id,
            identity,
            ..Default::default()
        },
    );
    Ok(())
}

pub(crate) fn heartbeat(
    ctx: &mut Ctx,
    scheduled_event_id: i64,
    attempt: i32,
    details: Option<Payloads>,
) -> Result<(), EngineError> {
    let mut info = started_current(ctx, scheduled_event_id, attempt)?;
    if details.is_some() {
        info.last_heartbeat_details = details;
    }
    info.last_heartbeat_time = Some(ctx.now);
    crate::standalone_outcome::on_heartbeat(ctx);
    if let Some(d) = info.heartbeat_timeout.filter(|d| time::is_set(Some(d))) {
        ctx.timer(
            time::add(&ctx.now, &d),
            TimerKind::ActivityTimeout { scheduled_event_id, attempt, timeout_type: TimeoutType::Heartbeat },
        );
    }
    ctx.outcome =
        Outcome::Heartbeat { cancel_requested: info.cancel_requested, paused: info.paused, reset: info.activity_reset };
    ctx.state.activities.insert(scheduled_event_id, info);
    Ok(())
}

/// Schedules the next attempt if the policy allows it; no events.
fn retry(ctx: &mut Ctx, info: &mut ActivityInfo, failure: &Failure, identity: &str) -> Result<(), RetryState> {
    // The workflow asked for the activity to end: no further attempt.
    if info.cancel_requested {
        return Err(RetryState::CancelRequested);
    }
    let policy = info.retry_policy.clone().unwrap_or_default();
    let deadline = info
        .schedule_to_close_timeout
        .filter(|d| time::is_set(Some(d)))
        .zip(info.scheduled_time)
        .map(|(d, s)| time::add(&s, &d));
    let delay = next_retry_delay(&policy, info.attempt, failure, &ctx.now, deadline.as_ref())?;
    if info.is_started() {
        crate::standalone_outcome::on_attempt_ended(ctx);
    }
    if info.activity_reset {
        // ResetActivity while this attempt ran: the next one is attempt 1.
        info.attempt = 0;
        info.activity_reset = false;
        if std::mem::take(&mut info.reset_heartbeats) {
            info.last_heartbeat_details = None;
            info.last_heartbeat_time = None;
        }
    }
    info.attempt += 1;
    info.current_attempt_scheduled_time = Some(time::add(&ctx.now, &delay));
    info.started_time = None;
    info.started_identity.clear();
    info.started_request_id.clear();
    info.last_failure = Some(failure.clone());
    info.last_worker_identity = identity.to_string();
    for task in dispatch_tasks(info) {
        // The schedule-to-close timer of attempt 1 still stands.
        if !matches!(&task, crate::transition::Task::Timer(t) if matches!(t.kind, TimerKind::ActivityTimeout { timeout_type: TimeoutType::ScheduleToClose, .. }))
        {
            ctx.tasks.push(task);
        }
    }
    ctx.state.activities.insert(info.scheduled_event_id, info.clone().into());
    Ok(())
}

pub(crate) fn timed_out(
    ctx: &mut Ctx,
    scheduled_event_id: i64,
    attempt: i32,
    timeout_type: TimeoutType,
) -> Result<(), EngineError> {
    let Some(mut info) = ctx.state.activities.get(&scheduled_event_id).cloned() else {
        return Err(EngineError::StaleTimer);
    };
    let now = ctx.now;
    // A deadline moved later (UpdateActivityOptions) leaves its old timer stale.
    let due = |from: Option<prost_types::Timestamp>, d: Option<Duration>| {
        from.zip(d.filter(|d| time::is_set(Some(d))))
            .is_none_or(|(from, d)| time::ts_nanos(&time::add(&from, &d)) <= time::ts_nanos(&now))
    };
    let applies = match timeout_type {
        TimeoutType::ScheduleToClose => due(info.scheduled_time, info.schedule_to_close_timeout),
        TimeoutType::ScheduleToStart => {
            info.attempt == attempt
                && !info.is_started()
                && due(info.current_attempt_scheduled_time, info.schedule_to_start_timeout)
        }
        TimeoutType::StartToClose => {
            info.attempt == attempt && info.is_started() && due(info.started_time, info.start_to_close_timeout)
        }
        TimeoutType::Heartbeat => {
            // Only if no heartbeat arrived since this timer was set.
            let last = info.last_heartbeat_time.or(info.started_time);
            let due = last.zip(info.heartbeat_timeout).map(|(l, d)| time::add(&l, &d));
            info.attempt == attempt
                && info.is_started()
                && due.is_some_and(|due| time::ts_nanos(&due) <= time::ts_nanos(&now))
        }
        TimeoutType::Unspecified => false,
    };
    if !applies {
        return Err(EngineError::StaleTimer);
    }
    let mut failure = Failure {
        message: format!("activity {} timeout", timeout_name(timeout_type)),
        source: "Server".into(),
        failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
            timeout_type: timeout_type as i32,
            last_heartbeat_details: info.last_heartbeat_details.clone(),
        })),
        ..Default::default()
    };
    // Only attempt-level timeouts are retried; schedule-to-start and
    // schedule-to-close end the activity with retry state TIMEOUT.
    let attempt_level = matches!(timeout_type, TimeoutType::StartToClose | TimeoutType::Heartbeat);
    let retry_state = if attempt_level && info.is_started() {
        match retry(ctx, &mut info, &failure, "") {
            Ok(()) => return Ok(()),
            Err(state) => state,
        }
    } else {
        RetryState::Timeout
    };
    if let Some(last) = info.last_failure.clone() {
        failure.cause = Some(Box::new(last));
    }
    let written = write_started(ctx, &info);
    let started_event_id = if info.is_started() { outcome_started_id(written) } else { 0 };
    finish(
        ctx,
        scheduled_event_id,
        ActivityTaskTimedOutEventAttributes {
            failure: Some(failure),
            scheduled_event_id,
            started_event_id,
            retry_state: retry_state as i32,
        },
    );
    Ok(())
}

fn timeout_name(t: TimeoutType) -> &'static str {
    match t {
        TimeoutType::StartToClose => "StartToClose",
        TimeoutType::ScheduleToStart => "ScheduleToStart",
        TimeoutType::ScheduleToClose => "ScheduleToClose",
        TimeoutType::Heartbeat => "Heartbeat",
        TimeoutType::Unspecified => "Unspecified",
    }
}

/// RequestCancelActivityTask: ActivityTaskCancelRequested; an activity no
/// worker holds (not started, or waiting out a retry) is canceled at once,
/// and the workflow gets a task to see it, as on Temporal. A running one is
/// told through its next heartbeat and reports RespondActivityTaskCanceled.
pub(crate) fn request_cancel(ctx: &mut Ctx, scheduled_event_id: i64, completed_id: i64, identity: &str) {
    let Some(mut info) = ctx.state.activities.get(&scheduled_event_id).cloned() else { return };
    let requested_id = ctx.add(ActivityTaskCancelRequestedEventAttributes {
        scheduled_event_id,
        workflow_task_completed_event_id: completed_id,
    });
    if info.is_started() {
        info.cancel_requested = true;
        info.cancel_requested_event_id = requested_id;
        ctx.state.activities.insert(scheduled_event_id, info);
        return;
    }
    let canceled = ActivityTaskCanceledEventAttributes {
        latest_cancel_requested_event_id: requested_id,
        scheduled_event_id,
        started_event_id: 0,
        identity: identity.to_string(),
        ..Default::default()
    };
    ctx.state.activities.remove(&scheduled_event_id);
    if ctx.state.standalone.is_some() {
        crate::standalone_outcome::ended(ctx, info.into_inner(), canceled.into());
        return;
    }
    ctx.add(canceled);
    ctx.wake_workflow = true;
}
