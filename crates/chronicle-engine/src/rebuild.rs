//! A run's mutable state rebuilt from its history, event by event, as
//! Temporal's state rebuilder does for a reset. What the history does not
//! say (a retried attempt's number before it is recorded, a worker's sticky
//! queue, signals' dedupe ids before 1.32, buffered events) starts afresh.

use crate::api::{
    command::v1::StartChildWorkflowExecutionCommandAttributes,
    enums::v1::{UpdateWorkflowExecutionLifecycleStage as Stage, WorkflowExecutionStatus},
    history::v1::{HistoryEvent, history_event::Attributes as A},
};
use crate::state::{ActivityInfo, ChildInfo, ExternalRequest, MutableState, TimerInfo, UpdateInfo, WorkflowTaskInfo};
use crate::time;
use prost::Message;
use prost_types::Timestamp;

/// Who the rebuilt state belongs to: what no event records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RebuildArgs {
    pub namespace: String,
    pub namespace_id: String,
    pub workflow_id: String,
    /// The run the state is for (a reset's new run).
    pub run_id: String,
    pub start_request_id: String,
    /// Stamped on the auto-reset points the rebuild records.
    pub now: Timestamp,
}

/// The state after `events` (ids 1, 2, ... in order). Err names the first
/// event that does not fit.
pub fn rebuild(events: &[HistoryEvent], args: &RebuildArgs) -> Result<MutableState, String> {
    let mut state = MutableState {
        namespace: args.namespace.clone(),
        namespace_id: args.namespace_id.clone(),
        workflow_id: args.workflow_id.clone(),
        run_id: args.run_id.clone(),
        start_request_id: args.start_request_id.clone(),
        next_event_id: 1,
        ..Default::default()
    };
    for event in events {
        if event.event_id != state.next_event_id {
            return Err(format!("event {} found where event {} belongs", event.event_id, state.next_event_id));
        }
        if state.next_event_id > 1 && !state.is_running() {
            return Err(format!("event {} follows the run's close", event.event_id));
        }
        apply_event(&mut state, event, args).map_err(|e| format!("event {}: {e}", event.event_id))?;
        state.next_event_id += 1;
        state.history_size_bytes += event.encoded_len() as i64;
    }
    Ok(state)
}

fn apply_event(state: &mut MutableState, event: &HistoryEvent, args: &RebuildArgs) -> Result<(), String> {
    let id = event.event_id;
    let at = event.event_time.unwrap_or_default();
    let Some(attrs) = event.attributes.as_ref() else { return Err("no attributes".into()) };
    if id == 1 && !matches!(attrs, A::WorkflowExecutionStartedEventAttributes(_)) {
        return Err("a history begins with WorkflowExecutionStarted".into());
    }
    match attrs {
        A::WorkflowExecutionStartedEventAttributes(a) => {
            if id != 1 {
                return Err("WorkflowExecutionStarted after the first event".into());
            }
            started(state, a, at, event);
            crate::versioning::set_override(state, a.versioning_override.clone());
        }
        A::WorkflowTaskScheduledEventAttributes(a) => {
            state.backoff_until = None;
            state.workflow_task = Some(WorkflowTaskInfo {
                scheduled_event_id: id,
                attempt: a.attempt.max(1),
                scheduled_time: Some(at),
                task_queue: a.task_queue.clone(),
                start_to_close_timeout: a.start_to_close_timeout,
                ..Default::default()
            });
        }
        A::WorkflowTaskStartedEventAttributes(a) => {
            let wt = workflow_task(state, a.scheduled_event_id)?;
            wt.started_event_id = id;
            wt.started_time = Some(at);
            wt.identity = a.identity.clone();
            wt.request_id = a.request_id.clone();
            wt.suggest_continue_as_new = a.suggest_continue_as_new;
            wt.suggest_continue_as_new_reasons = a.suggest_continue_as_new_reasons.clone();
            wt.target_version_changed = a.target_worker_deployment_version_changed;
        }
        A::WorkflowTaskCompletedEventAttributes(a) => {
            workflow_task(state, a.scheduled_event_id)?;
            state.workflow_task = None;
            state.last_completed_wft_started_event_id = a.started_event_id;
            let build_id = a.worker_version.as_ref().map(|v| v.build_id.as_str()).unwrap_or_default();
            crate::reset_points::add(state, build_id, &a.binary_checksum, id, &args.now);
            crate::versioning::apply_completed_event(state, a);
        }
        A::WorkflowExecutionOptionsUpdatedEventAttributes(a) => {
            crate::versioning::set_override(state, a.versioning_override.clone());
        }
        A::WorkflowTaskFailedEventAttributes(a) => {
            workflow_task(state, a.scheduled_event_id)?;
            state.workflow_task = None;
        }
        A::WorkflowTaskTimedOutEventAttributes(a) => {
            workflow_task(state, a.scheduled_event_id)?;
            state.workflow_task = None;
        }
        A::ActivityTaskScheduledEventAttributes(a) => {
            let info = ActivityInfo {
                scheduled_event_id: id,
                activity_id: a.activity_id.clone(),
                activity_type: a.activity_type.clone(),
                task_queue: a.task_queue.clone(),
                header: a.header.clone(),
                input: a.input.clone(),
                schedule_to_close_timeout: a.schedule_to_close_timeout,
                schedule_to_start_timeout: a.schedule_to_start_timeout,
                start_to_close_timeout: a.start_to_close_timeout,
                heartbeat_timeout: a.heartbeat_timeout,
                retry_policy: a.retry_policy.clone(),
                attempt: 1,
                scheduled_time: Some(at),
                current_attempt_scheduled_time: Some(at),
                workflow_task_completed_event_id: a.workflow_task_completed_event_id,
                priority: a.priority.clone(),
                ..Default::default()
            };
            state.activities.insert(id, info.into());
        }
        A::ActivityTaskStartedEventAttributes(a) => {
            let info = activity(state, a.scheduled_event_id)?;
            info.attempt = a.attempt.max(1);
            info.started_time = Some(at);
            info.started_identity = a.identity.clone();
            info.started_request_id = a.request_id.clone();
            info.last_failure = a.last_failure.clone();
            info.started_worker_version = a.worker_version.clone();
        }
        A::ActivityTaskCompletedEventAttributes(a) => remove_activity(state, a.scheduled_event_id)?,
        A::ActivityTaskFailedEventAttributes(a) => remove_activity(state, a.scheduled_event_id)?,
        A::ActivityTaskTimedOutEventAttributes(a) => remove_activity(state, a.scheduled_event_id)?,
        A::ActivityTaskCanceledEventAttributes(a) => remove_activity(state, a.scheduled_event_id)?,
        A::ActivityTaskCancelRequestedEventAttributes(a) => {
            let info = activity(state, a.scheduled_event_id)?;
            info.cancel_requested = true;
            info.cancel_requested_event_id = id;
        }
        A::TimerStartedEventAttributes(a) => {
            let fire_at = time::add(&at, &a.start_to_fire_timeout.unwrap_or_default());
            let timer = TimerInfo { timer_id: a.timer_id.clone(), started_event_id: id, fire_at: Some(fire_at) };
            state.timers.insert(a.timer_id.clone(), timer);
        }
        A::TimerFiredEventAttributes(a) => remove_timer(state, &a.timer_id)?,
        A::TimerCanceledEventAttributes(a) => remove_timer(state, &a.timer_id)?,
        A::WorkflowExecutionSignaledEventAttributes(a) => {
            state.signal_count += 1;
            if !a.request_id.is_empty() {
                state.signal_request_ids.push(a.request_id.clone());
            }
        }
        A::WorkflowExecutionCancelRequestedEventAttributes(_) => state.cancel_requested = true,
        A::MarkerRecordedEventAttributes(_) => {}
        A::UpsertWorkflowSearchAttributesEventAttributes(a) => {
            let upserted = a.search_attributes.clone().unwrap_or_default();
            let current = state.search_attributes.take();
            let mut merged = current
                .or_else(|| state.started.as_ref().and_then(|s| s.search_attributes.clone()))
                .unwrap_or_default();
            crate::properties::merge(&mut merged.indexed_fields, upserted.indexed_fields);
            state.search_attributes = Some(merged);
        }
        A::WorkflowPropertiesModifiedEventAttributes(a) => {
            let upserted = a.upserted_memo.clone().unwrap_or_default();
            let current = state.memo.take();
            let mut merged =
                current.or_else(|| state.started.as_ref().and_then(|s| s.memo.clone())).unwrap_or_default();
            crate::properties::merge(&mut merged.fields, upserted.fields);
            state.memo = Some(merged);
        }
        A::StartChildWorkflowExecutionInitiatedEventAttributes(a) => {
            let command = StartChildWorkflowExecutionCommandAttributes {
                namespace: a.namespace.clone(),
                workflow_id: a.workflow_id.clone(),
                workflow_type: a.workflow_type.clone(),
                task_queue: a.task_queue.clone(),
                input: a.input.clone(),
                workflow_execution_timeout: a.workflow_execution_timeout,
                workflow_run_timeout: a.workflow_run_timeout,
                workflow_task_timeout: a.workflow_task_timeout,
                parent_close_policy: a.parent_close_policy,
                control: a.control.clone(),
                workflow_id_reuse_policy: a.workflow_id_reuse_policy,
                retry_policy: a.retry_policy.clone(),
                cron_schedule: a.cron_schedule.clone(),
                header: a.header.clone(),
                memo: a.memo.clone(),
                search_attributes: a.search_attributes.clone(),
                inherit_build_id: a.inherit_build_id,
                priority: a.priority.clone(),
                ..Default::default()
            };
            let child = ChildInfo {
                initiated_event_id: id,
                workflow_id: a.workflow_id.clone(),
                workflow_type: a.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                parent_close_policy: a.parent_close_policy,
                command: Some(command),
                user_metadata: event.user_metadata.clone(),
                ..Default::default()
            };
            state.children.insert(id, child);
        }
        A::ChildWorkflowExecutionStartedEventAttributes(a) => {
            let child = state.children.get_mut(&a.initiated_event_id).ok_or("no such child")?;
            child.started_event_id = id;
            child.run_id = a.workflow_execution.as_ref().map(|e| e.run_id.clone()).unwrap_or_default();
            child.command = None;
        }
        A::StartChildWorkflowExecutionFailedEventAttributes(a) => remove_child(state, a.initiated_event_id)?,
        A::ChildWorkflowExecutionCompletedEventAttributes(a) => remove_child(state, a.initiated_event_id)?,
        A::ChildWorkflowExecutionFailedEventAttributes(a) => remove_child(state, a.initiated_event_id)?,
        A::ChildWorkflowExecutionCanceledEventAttributes(a) => remove_child(state, a.initiated_event_id)?,
        A::ChildWorkflowExecutionTimedOutEventAttributes(a) => remove_child(state, a.initiated_event_id)?,
        A::ChildWorkflowExecutionTerminatedEventAttributes(a) => remove_child(state, a.initiated_event_id)?,
        A::SignalExternalWorkflowExecutionInitiatedEventAttributes(a) => {
            let target = a.workflow_execution.clone().unwrap_or_default();
            let request = ExternalRequest {
                initiated_event_id: id,
                workflow_id: target.workflow_id,
                run_id: target.run_id,
                signal_name: a.signal_name.clone(),
                input: a.input.clone(),
                header: a.header.clone(),
                control: a.control.clone(),
                ..Default::default()
            };
            state.external_requests.insert(id, request);
        }
        A::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(a) => {
            let target = a.workflow_execution.clone().unwrap_or_default();
            let request = ExternalRequest {
                initiated_event_id: id,
                workflow_id: target.workflow_id,
                run_id: target.run_id,
                control: a.control.clone(),
                reason: a.reason.clone(),
                is_cancel: true,
                ..Default::default()
            };
            state.external_requests.insert(id, request);
        }
        A::ExternalWorkflowExecutionSignaledEventAttributes(a) => remove_external(state, a.initiated_event_id)?,
        A::SignalExternalWorkflowExecutionFailedEventAttributes(a) => remove_external(state, a.initiated_event_id)?,
        A::ExternalWorkflowExecutionCancelRequestedEventAttributes(a) => remove_external(state, a.initiated_event_id)?,
        A::RequestCancelExternalWorkflowExecutionFailedEventAttributes(a) => {
            remove_external(state, a.initiated_event_id)?;
        }
        A::WorkflowExecutionUpdateAdmittedEventAttributes(a) => {
            let Some(request) = a.request.clone() else { return Err("an admitted update without its request".into()) };
            let update_id = request.meta.as_ref().map(|m| m.update_id.clone()).unwrap_or_default();
            state.update_count += 1;
            let info = UpdateInfo {
                update_id: update_id.clone(),
                request: Some(request),
                stage: Stage::Admitted as i32,
                admitted_event_id: id,
                ..Default::default()
            };
            state.updates.insert(update_id, info);
        }
        A::WorkflowExecutionUpdateAcceptedEventAttributes(a) => {
            let known = state.updates.contains_key(&a.protocol_instance_id);
            if !known {
                state.update_count += 1;
            }
            let info = UpdateInfo {
                update_id: a.protocol_instance_id.clone(),
                request: a.accepted_request.clone(),
                stage: Stage::Accepted as i32,
                accepted_event_id: id,
                ..Default::default()
            };
            state.updates.insert(a.protocol_instance_id.clone(), info);
        }
        A::WorkflowExecutionUpdateCompletedEventAttributes(a) => {
            let update_id = a.meta.as_ref().map(|m| m.update_id.clone()).unwrap_or_default();
            let info = state.updates.get_mut(&update_id).ok_or("no such accepted update")?;
            info.stage = Stage::Completed as i32;
            info.outcome = a.outcome.clone();
        }
        A::WorkflowExecutionCompletedEventAttributes(_) => close(state, id, at, WorkflowExecutionStatus::Completed),
        A::WorkflowExecutionFailedEventAttributes(_) => close(state, id, at, WorkflowExecutionStatus::Failed),
        A::WorkflowExecutionTimedOutEventAttributes(_) => close(state, id, at, WorkflowExecutionStatus::TimedOut),
        A::WorkflowExecutionCanceledEventAttributes(_) => close(state, id, at, WorkflowExecutionStatus::Canceled),
        A::WorkflowExecutionTerminatedEventAttributes(_) => close(state, id, at, WorkflowExecutionStatus::Terminated),
        A::WorkflowExecutionContinuedAsNewEventAttributes(a) => {
            close(state, id, at, WorkflowExecutionStatus::ContinuedAsNew);
            state.new_execution_run_id = a.new_execution_run_id.clone();
        }
        other => return Err(format!("{:?} cannot be rebuilt", crate::events::event_type(other))),
    }
    Ok(())
}

fn started(
    state: &mut MutableState,
    a: &crate::api::history::v1::WorkflowExecutionStartedEventAttributes,
    at: Timestamp,
    event: &HistoryEvent,
) {
    state.started = Some(a.clone());
    state.start_time = Some(at);
    state.status = WorkflowExecutionStatus::Running as i32;
    state.execution_expiration_time = a.workflow_execution_expiration_time;
    state.auto_reset_points = crate::reset_points::rolled_over(a.prev_auto_reset_points.clone(), &at);
    state.start_user_metadata = event.user_metadata.clone();
    let backoff = a.first_workflow_task_backoff.filter(|d| time::dur_nanos(d) > 0);
    state.backoff_until = backoff.map(|b| time::add(&at, &b));
    state.run_expiration_time = a.workflow_run_timeout.filter(|d| time::is_set(Some(d))).map(|d| {
        let run_deadline = time::add(&state.backoff_until.unwrap_or(at), &d);
        match state.execution_expiration_time {
            Some(e) if time::ts_nanos(&e) < time::ts_nanos(&run_deadline) => e,
            _ => run_deadline,
        }
    });
}

fn close(state: &mut MutableState, id: i64, at: Timestamp, status: WorkflowExecutionStatus) {
    state.status = status as i32;
    state.close_time = Some(at);
    state.close_event_id = id;
    state.workflow_task = None;
}

fn workflow_task(state: &mut MutableState, scheduled_event_id: i64) -> Result<&mut WorkflowTaskInfo, String> {
    state
        .workflow_task
        .as_mut()
        .filter(|wt| wt.scheduled_event_id == scheduled_event_id)
        .ok_or_else(|| format!("no workflow task scheduled at event {scheduled_event_id}"))
}

fn activity(state: &mut MutableState, scheduled_event_id: i64) -> Result<&mut ActivityInfo, String> {
    state
        .activities
        .get_mut(&scheduled_event_id)
        .map(|info| &mut **info)
        .ok_or_else(|| format!("no activity scheduled at event {scheduled_event_id}"))
}

fn remove_activity(state: &mut MutableState, scheduled_event_id: i64) -> Result<(), String> {
    state
        .activities
        .remove(&scheduled_event_id)
        .map(drop)
        .ok_or_else(|| format!("no activity scheduled at event {scheduled_event_id}"))
}

fn remove_timer(state: &mut MutableState, timer_id: &str) -> Result<(), String> {
    state.timers.remove(timer_id).map(drop).ok_or_else(|| format!("no timer {timer_id:?} started"))
}

fn remove_child(state: &mut MutableState, initiated_event_id: i64) -> Result<(), String> {
    state
        .children
        .remove(&initiated_event_id)
        .map(drop)
        .ok_or_else(|| format!("no child initiated at event {initiated_event_id}"))
}

fn remove_external(state: &mut MutableState, initiated_event_id: i64) -> Result<(), String> {
    state
        .external_requests
        .remove(&initiated_event_id)
        .map(drop)
        .ok_or_else(|| format!("no external request initiated at event {initiated_event_id}"))
}
