//! Workflow task lifecycle: started by a poll, then completed, failed or
//! timed out.

use crate::api::{enums::v1::TaskQueueKind, taskqueue::v1::TaskQueue};
use crate::api::{
    enums::v1::{TimeoutType, WorkflowTaskFailedCause},
    failure::v1::Failure,
    history::v1::*,
};
use crate::commands;
use crate::events::{Ctx, transient_workflow_task_events, wft_timeout_fire_at};
use crate::state::WorkflowTaskInfo;
use crate::transition::{EngineError, Outcome, Task, TimerKind, WorkflowTaskCompletion};
use crate::update;

/// The pending workflow task, if it is the one identified.
fn current(ctx: &Ctx, scheduled_event_id: i64, attempt: i32) -> Result<WorkflowTaskInfo, EngineError> {
    ctx.state
        .workflow_task
        .clone()
        .filter(|wt| wt.scheduled_event_id == scheduled_event_id && wt.attempt == attempt)
        .ok_or(EngineError::WorkflowTaskNotFound)
}

/// Who started a workflow task (`Input::WorkflowTaskStarted`).
pub(crate) struct Poll {
    pub identity: String,
    pub request_id: String,
    pub worker_version: Option<crate::api::common::v1::WorkerVersionStamp>,
    pub target_version_changed: bool,
    pub routing_revision: i64,
}

pub(crate) fn started(ctx: &mut Ctx, scheduled_event_id: i64, attempt: i32, poll: Poll) -> Result<(), EngineError> {
    let Poll { identity, request_id, worker_version, target_version_changed, routing_revision } = poll;
    let mut wt = current(ctx, scheduled_event_id, attempt)?;
    if wt.is_started() {
        // Matching offered the task twice (e.g. recovery raced a poll).
        return Err(EngineError::WorkflowTaskNotFound);
    }
    wt.started_time = Some(ctx.now);
    wt.identity = identity.clone();
    wt.request_id = request_id.clone();
    wt.suggest_continue_as_new_reasons = suggest_continue_as_new(&ctx.state, &ctx.limits);
    wt.suggest_continue_as_new = !wt.suggest_continue_as_new_reasons.is_empty();
    wt.target_version_changed = target_version_changed;
    wt.routing_revision = routing_revision;
    wt.started_event_id = if wt.transient {
        wt.scheduled_event_id + 1
    } else {
        ctx.add(WorkflowTaskStartedEventAttributes {
            scheduled_event_id,
            identity,
            request_id,
            history_size_bytes: ctx.state.history_size_bytes,
            worker_version,
            suggest_continue_as_new: wt.suggest_continue_as_new,
            suggest_continue_as_new_reasons: wt.suggest_continue_as_new_reasons.clone(),
            target_worker_deployment_version_changed: target_version_changed,
            ..Default::default()
        })
    };
    if let Some(fire_at) = wft_timeout_fire_at(&wt) {
        ctx.timer(fire_at, TimerKind::WorkflowTaskTimeout { scheduled_event_id, attempt });
    }
    let transient_events = if wt.transient { transient_workflow_task_events(&ctx.state, &wt) } else { Vec::new() };
    ctx.outcome = Outcome::WorkflowTaskStarted { started_event_id: wt.started_event_id, transient_events };
    ctx.state.workflow_task = Some(wt);
    Ok(())
}

/// Eager workflow start: the run's first workflow task, just scheduled, is
/// started by the caller of the start (Temporal records the start's identity
/// and request id on it) in the start's own batch, so it never enters its
/// queue; its start-to-close timer still runs, and a task the caller does
/// not complete is retried through the queue.
pub(crate) fn start_first_eagerly(ctx: &mut Ctx) {
    let Some(wt) = ctx.state.workflow_task.clone() else { return };
    let identity = ctx.state.started.as_ref().map(|s| s.identity.clone()).unwrap_or_default();
    let request_id = ctx.state.start_request_id.clone();
    ctx.tasks.retain(|t| !matches!(t, Task::WorkflowTask { .. }));
    // Temporal's WorkflowTaskStarted tells the history size stored before
    // it: none yet, in the batch that creates the run.
    let unstored = std::mem::take(&mut ctx.state.history_size_bytes);
    // The task was scheduled just before: starting it cannot miss.
    let poll = Poll { identity, request_id, worker_version: None, target_version_changed: false, routing_revision: 0 };
    let _ = started(ctx, wt.scheduled_event_id, wt.attempt, poll);
    ctx.state.history_size_bytes += unstored;
}

pub(crate) fn completed(ctx: &mut Ctx, done: WorkflowTaskCompletion) -> Result<(), EngineError> {
    let wt = current(ctx, done.scheduled_event_id, done.attempt)?;
    if !wt.is_started() {
        return Err(EngineError::WorkflowTaskNotFound);
    }
    if let Err(rejection) = commands::validate(&ctx.state, &done.commands, &done.messages, &ctx.limits) {
        fail_by_server(ctx, &wt, rejection.cause, rejection.message, &done.identity);
        return Ok(());
    }
    // A task that existed only to deliver updates, all rejected, leaves no
    // trace in the history (as Temporal's speculative workflow task).
    if wt.speculative
        && done.commands.is_empty()
        && !done.force_create_new_workflow_task
        && ctx.state.buffered_events.is_empty()
        && update::only_rejections(&done.messages)
    {
        for m in &done.messages {
            update::apply_message(ctx, m);
        }
        ctx.state.workflow_task = None;
        ctx.outcome =
            Outcome::WorkflowTaskDiscarded { reset_history_event_id: ctx.state.last_completed_wft_started_event_id };
        if update::has_admitted(&ctx.state) {
            ctx.schedule_speculative_workflow_task();
        }
        return Ok(());
    }
    ctx.persist_transient_workflow_task(&done.identity, done.worker_version.as_ref());
    let mut versioned = crate::versioning::completed_by(done.versioning_behavior, done.deployment_options.as_ref());
    versioned.routing_revision = wt.routing_revision;
    let completed_id = ctx.add(WorkflowTaskCompletedEventAttributes {
        versioning_behavior: versioned.behavior,
        worker_deployment_name: versioned.version.as_ref().map(|v| v.deployment_name.clone()).unwrap_or_default(),
        deployment_version: versioned.version.clone(),
        scheduled_event_id: wt.scheduled_event_id,
        started_event_id: wt.started_event_id,
        identity: done.identity.clone(),
        binary_checksum: done.binary_checksum.clone(),
        worker_version: done.worker_version.clone(),
        sdk_metadata: done.sdk_metadata.clone(),
        metering_metadata: done.metering_metadata,
        ..Default::default()
    });
    ctx.state.last_completed_wft_started_event_id = wt.started_event_id;
    ctx.state.workflow_task = None;
    crate::versioning::apply_completed(&mut ctx.state, &versioned);
    let build_id = done.worker_version.as_ref().map(|v| v.build_id.as_str()).unwrap_or_default();
    crate::reset_points::add(&mut ctx.state, build_id, &done.binary_checksum, completed_id, &ctx.now);
    // The worker asks for its next tasks on its own queue, or for none.
    match done.sticky_attributes.as_ref().and_then(|a| a.worker_task_queue.clone()).filter(|q| !q.name.is_empty()) {
        Some(mut queue) => {
            queue.kind = crate::api::enums::v1::TaskQueueKind::Sticky as i32;
            if queue.normal_name.is_empty() {
                queue.normal_name = ctx.state.task_queue_name().to_string();
            }
            ctx.state.sticky_task_queue = Some(queue);
            ctx.state.sticky_schedule_to_start_timeout =
                done.sticky_attributes.as_ref().and_then(|a| a.schedule_to_start_timeout);
        }
        None => clear_sticky(ctx),
    }
    let referenced: Vec<String> = done
        .commands
        .iter()
        .filter_map(|c| match &c.attributes {
            Some(crate::api::command::v1::command::Attributes::ProtocolMessageCommandAttributes(a)) => {
                Some(a.message_id.clone())
            }
            _ => None,
        })
        .collect();
    if ctx.limits.eager_activities {
        ctx.eager = Some(crate::events::EagerStarts {
            identity: done.identity.clone(),
            request_id: done.request_id.clone(),
            worker_version: done.worker_version.clone(),
            ..Default::default()
        });
    }
    for command in done.commands {
        commands::record_command(ctx, command, completed_id, &done.identity, &done.messages);
    }
    // Messages no command placed (rejections) take effect after the commands.
    for m in done.messages.iter().filter(|m| !referenced.contains(&m.id)) {
        update::apply_message(ctx, m);
    }
    if ctx.state.is_running() {
        let flushed = ctx.flush_buffered();
        if flushed || done.force_create_new_workflow_task || ctx.wake_workflow {
            ctx.schedule_workflow_task(1);
        } else if update::has_admitted(&ctx.state) {
            ctx.schedule_speculative_workflow_task();
        }
    }
    let eager = crate::activity::start_eagerly(ctx);
    if !eager.is_empty() {
        ctx.outcome = Outcome::EagerActivitiesStarted(eager);
    }
    Ok(())
}

/// Why the workflow should continue as new, as WorkflowTaskStarted tells it:
/// the history nears its limits, or the run nears its update limit.
fn suggest_continue_as_new(state: &crate::state::MutableState, limits: &crate::limits::Limits) -> Vec<i32> {
    use crate::api::enums::v1::SuggestContinueAsNewReason as Reason;
    let mut reasons = Vec::new();
    if state.history_size_bytes >= limits.history_bytes_suggest_continue_as_new {
        reasons.push(Reason::HistorySizeTooLarge as i32);
    }
    // The Started event about to be written counts, as on Temporal.
    if state.next_event_id >= limits.history_events_suggest_continue_as_new {
        reasons.push(Reason::TooManyHistoryEvents as i32);
    }
    let updates_threshold =
        (crate::limits::UPDATES_PER_RUN_MAX as f64 * crate::limits::UPDATES_SUGGEST_CONTINUE_AS_NEW_RATIO) as i64;
    if state.update_count >= updates_threshold {
        reasons.push(Reason::TooManyUpdates as i32);
    }
    reasons
}

/// The server fails the task (bad command, unhandled events): a
/// WorkflowTaskFailed event, the next attempt, and an error for the worker.
fn fail_by_server(
    ctx: &mut Ctx,
    wt: &WorkflowTaskInfo,
    cause: WorkflowTaskFailedCause,
    message: String,
    identity: &str,
) {
    // A retried (transient) attempt fails without events, as on Temporal.
    if !wt.transient {
        ctx.add(WorkflowTaskFailedEventAttributes {
            scheduled_event_id: wt.scheduled_event_id,
            started_event_id: wt.started_event_id,
            cause: cause as i32,
            failure: Some(server_failure(&message)),
            identity: identity.to_string(),
            ..Default::default()
        });
    }
    let next = next_attempt_after_failure(ctx, wt);
    ctx.after_workflow_task_ended(Some(next));
    ctx.outcome = Outcome::WorkflowTaskRejected { message };
}

/// A non-retryable failure raised by the server itself.
pub fn server_failure(message: &str) -> Failure {
    Failure {
        message: message.to_string(),
        source: String::new(),
        failure_info: Some(crate::api::failure::v1::failure::FailureInfo::ServerFailureInfo(
            crate::api::failure::v1::ServerFailureInfo { non_retryable: true },
        )),
        ..Default::default()
    }
}

pub(crate) fn failed(
    ctx: &mut Ctx,
    scheduled_event_id: i64,
    attempt: i32,
    cause: WorkflowTaskFailedCause,
    failure: Option<Failure>,
    identity: String,
    binary_checksum: String,
) -> Result<(), EngineError> {
    let wt = current(ctx, scheduled_event_id, attempt)?;
    if !wt.is_started() {
        return Err(EngineError::WorkflowTaskNotFound);
    }
    // A retried task fails silently, as on Temporal: its events were never
    // written and the next attempt follows.
    if !wt.transient {
        ctx.add(WorkflowTaskFailedEventAttributes {
            scheduled_event_id,
            started_event_id: wt.started_event_id,
            cause: cause as i32,
            failure,
            identity,
            binary_checksum,
            ..Default::default()
        });
    }
    let next = next_attempt_after_failure(ctx, &wt);
    ctx.after_workflow_task_ended(Some(next));
    Ok(())
}

pub(crate) fn timed_out(ctx: &mut Ctx, scheduled_event_id: i64, attempt: i32) -> Result<(), EngineError> {
    let wt = current(ctx, scheduled_event_id, attempt).map_err(|_| EngineError::StaleTimer)?;
    if !wt.is_started() {
        return Err(EngineError::StaleTimer);
    }
    if !wt.transient {
        ctx.add(WorkflowTaskTimedOutEventAttributes {
            scheduled_event_id,
            started_event_id: wt.started_event_id,
            timeout_type: TimeoutType::StartToClose as i32,
        });
    }
    let next = next_attempt_after_failure(ctx, &wt);
    ctx.after_workflow_task_ended(Some(next));
    Ok(())
}

/// Nobody polled the sticky queue in time: WorkflowTaskTimedOut
/// (SCHEDULE_TO_START), stickiness dropped, the task goes to the normal
/// queue with the same attempt.
pub(crate) fn sticky_timed_out(ctx: &mut Ctx, scheduled_event_id: i64, attempt: i32) -> Result<(), EngineError> {
    let wt = current(ctx, scheduled_event_id, attempt).map_err(|_| EngineError::StaleTimer)?;
    let on_sticky = wt.task_queue.as_ref().is_some_and(|q| q.kind == TaskQueueKind::Sticky as i32);
    if wt.is_started() || !on_sticky {
        return Err(EngineError::StaleTimer);
    }
    // A speculative task's Scheduled event is written first, as Temporal does.
    ctx.persist_transient_workflow_task("", None);
    ctx.add(WorkflowTaskTimedOutEventAttributes {
        scheduled_event_id,
        started_event_id: 0,
        timeout_type: TimeoutType::ScheduleToStart as i32,
    });
    clear_sticky(ctx);
    ctx.after_workflow_task_ended(Some(1));
    Ok(())
}

pub(crate) fn sticky_unavailable(ctx: &mut Ctx, scheduled_event_id: i64, attempt: i32) -> Result<(), EngineError> {
    let mut wt = current(ctx, scheduled_event_id, attempt)?;
    let on_sticky = wt.task_queue.as_ref().is_some_and(|q| q.kind == TaskQueueKind::Sticky as i32);
    if wt.is_started() || !on_sticky {
        return Err(EngineError::WorkflowTaskNotFound);
    }
    clear_sticky(ctx);
    let normal = TaskQueue {
        name: ctx.state.task_queue_name().to_string(),
        kind: TaskQueueKind::Normal as i32,
        normal_name: String::new(),
    };
    ctx.tasks.push(Task::WorkflowTask {
        task_queue: normal.name.clone(),
        sticky: false,
        scheduled_event_id,
        attempt,
        pinned: String::new(), // stamped by `finish`
    });
    wt.task_queue = Some(normal);
    ctx.state.workflow_task = Some(wt);
    Ok(())
}

fn clear_sticky(ctx: &mut Ctx) {
    ctx.state.sticky_task_queue = None;
    ctx.state.sticky_schedule_to_start_timeout = None;
}

/// As Temporal: a task that fails on a sticky queue is retried once on the
/// normal queue as attempt 1 (the worker may just have lost its cache);
/// otherwise the attempt goes up.
fn next_attempt_after_failure(ctx: &mut Ctx, wt: &WorkflowTaskInfo) -> i32 {
    if ctx.state.sticky_task_queue.is_some() {
        clear_sticky(ctx);
        1
    } else {
        wt.attempt + 1
    }
}

/// Before a run is force-closed (terminate, timeout): an in-flight workflow
/// task is failed with FORCE_CLOSE_COMMAND, as Temporal does.
pub(crate) fn fail_for_force_close(ctx: &mut Ctx) {
    let Some(wt) = ctx.state.started_workflow_task().cloned() else {
        ctx.state.workflow_task = None;
        return;
    };
    ctx.persist_transient_workflow_task(&wt.identity, None);
    ctx.add(WorkflowTaskFailedEventAttributes {
        scheduled_event_id: wt.scheduled_event_id,
        started_event_id: wt.started_event_id,
        cause: WorkflowTaskFailedCause::ForceCloseCommand as i32,
        identity: "history-service".to_string(),
        ..Default::default()
    });
    ctx.state.workflow_task = None;
}
