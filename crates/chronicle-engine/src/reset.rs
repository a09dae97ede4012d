//! Resetting a workflow: a new run whose history is the base run's up to a
//! workflow task, that task failed with RESET_WORKFLOW, the signals and
//! updates that came after it applied again, and a fresh workflow task
//! (Temporal's workflow resetter). The run being replaced is terminated by
//! the caller with `Input::Terminate`.

use crate::api::{
    enums::v1::{ResetReapplyExcludeType, UpdateAdmittedEventOrigin, WorkflowTaskFailedCause},
    failure::v1::{Failure, ResetWorkflowFailureInfo, failure::FailureInfo},
    history::v1::{
        HistoryEvent, WorkflowExecutionUpdateAdmittedEventAttributes, WorkflowTaskFailedEventAttributes,
        WorkflowTaskStartedEventAttributes, history_event::Attributes as A,
    },
};
use crate::events::Ctx;
use crate::rebuild::{RebuildArgs, rebuild};
use crate::state::MutableState;
use crate::time;
use crate::transition::Transition;
use prost_types::Timestamp;

/// Who writes the reset's own events, as on Temporal.
pub const RESET_IDENTITY: &str = "history-service";
/// Who terminates the run a reset replaces, as on Temporal.
pub const RESETTER_IDENTITY: &str = "history-resetter";

/// A validated reset request and the histories it works from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResetArgs {
    pub namespace: String,
    pub namespace_id: String,
    pub workflow_id: String,
    pub base_run_id: String,
    pub new_run_id: String,
    /// The base run's events 1 ..= `workflow_task_finish_event_id - 1`.
    pub base_events: Vec<HistoryEvent>,
    pub workflow_task_finish_event_id: i64,
    /// Events after the reset point: the base run's rest, then the runs
    /// that continued it, in order. Signals, updates and the outcomes of
    /// children still pending at the point are applied again.
    pub later_events: Vec<HistoryEvent>,
    pub exclude: Vec<ResetReapplyExcludeType>,
    pub reason: String,
    /// The new run's create request id (a repeated reset finds it).
    pub request_id: String,
}

/// Where a reset to the first (or last) workflow task goes, as the
/// `temporal` CLI finds it: that WorkflowTaskCompleted, else just after
/// that WorkflowTaskScheduled (no task completed yet).
pub fn workflow_task_point(events: &[HistoryEvent], last: bool) -> Option<i64> {
    use crate::api::enums::v1::EventType;
    let pick = |t: EventType| {
        let mut of = events.iter().filter(move |e| e.event_type == t as i32);
        if last { of.next_back() } else { of.next() }.map(|e| e.event_id)
    };
    pick(EventType::WorkflowTaskCompleted).or_else(|| pick(EventType::WorkflowTaskScheduled).map(|id| id + 1))
}

/// The new run, as one transition whose events are its whole history.
/// Err is a message for InvalidArgument.
pub fn reset(args: ResetArgs, now: Timestamp) -> Result<Transition, String> {
    let finish = args.workflow_task_finish_event_id;
    let rebuilt = rebuild(
        &args.base_events,
        &RebuildArgs {
            namespace: args.namespace.clone(),
            namespace_id: args.namespace_id.clone(),
            workflow_id: args.workflow_id.clone(),
            run_id: args.new_run_id.clone(),
            start_request_id: args.request_id.clone(),
            now,
        },
    )?;
    let Some(wt) = rebuilt.workflow_task.clone().filter(|_| rebuilt.is_running()) else {
        return Err(format!(
            "Can only reset workflow to event ID in range [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: {finish}"
        ));
    };
    let mut state = restart(rebuilt, &now);
    let pending_children: Vec<i64> = state.children.keys().copied().collect();
    let mut ctx = Ctx::new(state.clone(), now);
    let started_event_id = if wt.is_started() {
        wt.started_event_id
    } else {
        ctx.add(WorkflowTaskStartedEventAttributes {
            scheduled_event_id: wt.scheduled_event_id,
            identity: RESET_IDENTITY.into(),
            request_id: "emptyUuid".into(),
            history_size_bytes: ctx.state.history_size_bytes,
            ..Default::default()
        })
    };
    ctx.add(WorkflowTaskFailedEventAttributes {
        scheduled_event_id: wt.scheduled_event_id,
        started_event_id,
        cause: WorkflowTaskFailedCause::ResetWorkflow as i32,
        failure: Some(Failure {
            message: args.reason.clone(),
            failure_info: Some(FailureInfo::ResetWorkflowFailureInfo(ResetWorkflowFailureInfo::default())),
            ..Default::default()
        }),
        identity: RESET_IDENTITY.into(),
        base_run_id: args.base_run_id.clone(),
        new_run_id: args.new_run_id.clone(),
        ..Default::default()
    });
    ctx.state.workflow_task = None;
    let everything = [
        ResetReapplyExcludeType::Signal,
        ResetReapplyExcludeType::Update,
        ResetReapplyExcludeType::Nexus,
        ResetReapplyExcludeType::CancelRequest,
    ];
    if !everything.iter().all(|t| args.exclude.contains(t)) {
        let signals = !args.exclude.contains(&ResetReapplyExcludeType::Signal);
        let updates = !args.exclude.contains(&ResetReapplyExcludeType::Update);
        reapply(&mut ctx, &args.later_events, signals, updates, &pending_children);
    }
    ctx.schedule_workflow_task(1);
    let mut t = ctx.finish();
    state = t.state;
    state.db_version = 1;
    t.tasks = state.pending_tasks();
    t.state = state;
    let mut events = args.base_events;
    events.append(&mut t.events);
    t.events = events;
    Ok(t)
}

/// The rebuilt state as a new run: started now, its timeouts counted
/// from now, no worker's sticky queue, pending activities scheduled anew.
fn restart(mut state: MutableState, now: &Timestamp) -> MutableState {
    state.original_start_time = state.start_time;
    state.start_time = Some(*now);
    state.sticky_task_queue = None;
    state.sticky_schedule_to_start_timeout = None;
    state.db_version = 0;
    let started = state.started.clone().unwrap_or_default();
    state.execution_expiration_time =
        started.workflow_execution_timeout.filter(|d| time::is_set(Some(d))).map(|d| time::add(now, &d));
    state.run_expiration_time = started.workflow_run_timeout.filter(|d| time::is_set(Some(d))).map(|d| {
        let deadline = time::add(now, &d);
        match state.execution_expiration_time {
            Some(e) if time::ts_nanos(&e) < time::ts_nanos(&deadline) => e,
            _ => deadline,
        }
    });
    for info in state.activities.values_mut() {
        info.scheduled_time = Some(*now);
        info.current_attempt_scheduled_time = Some(*now);
    }
    state
}

/// Signals, updates and pending children's outcomes from after the reset
/// point, written again in their order (Temporal's reapply on reset). A
/// cancel request or a termination is never applied again.
fn reapply(ctx: &mut Ctx, later: &[HistoryEvent], signals: bool, updates: bool, pending_children: &[i64]) {
    let mut admitted = std::collections::HashSet::new();
    for event in later {
        let Some(attrs) = event.attributes.as_ref() else { continue };
        match attrs {
            A::WorkflowExecutionSignaledEventAttributes(a) if signals => {
                ctx.state.signal_count += 1;
                if !a.request_id.is_empty() {
                    ctx.state.signal_request_ids.push(a.request_id.clone());
                }
                ctx.add(a.clone());
            }
            A::WorkflowExecutionUpdateAdmittedEventAttributes(a) if updates => {
                if let Some(id) = a.request.as_ref().and_then(|r| r.meta.as_ref()).map(|m| m.update_id.clone()) {
                    admitted.insert(id);
                }
                readmit(ctx, a.clone());
            }
            A::WorkflowExecutionUpdateAcceptedEventAttributes(a) if updates => {
                let Some(request) = a.accepted_request.clone() else { continue };
                if !admitted.insert(a.protocol_instance_id.clone()) {
                    continue;
                }
                readmit(
                    ctx,
                    WorkflowExecutionUpdateAdmittedEventAttributes {
                        request: Some(request),
                        origin: UpdateAdmittedEventOrigin::Reapply as i32,
                    },
                );
            }
            other => {
                if let Some(initiated) = child_event(other)
                    && pending_children.contains(&initiated)
                {
                    reapply_child(ctx, initiated, other.clone());
                }
            }
        }
    }
}

/// An update admitted again: the worker's next task delivers it.
fn readmit(ctx: &mut Ctx, a: WorkflowExecutionUpdateAdmittedEventAttributes) {
    let Some(request) = a.request.clone() else { return };
    let update_id = request.meta.as_ref().map(|m| m.update_id.clone()).unwrap_or_default();
    let admitted_event_id = ctx.add(a);
    ctx.state.update_count += 1;
    ctx.state.updates.insert(
        update_id.clone(),
        crate::state::UpdateInfo {
            update_id,
            request: Some(request),
            stage: crate::api::enums::v1::UpdateWorkflowExecutionLifecycleStage::Admitted as i32,
            admitted_event_id,
            ..Default::default()
        },
    );
}

/// The child an event tells about, for the child events a reset carries over.
fn child_event(attrs: &A) -> Option<i64> {
    match attrs {
        A::ChildWorkflowExecutionStartedEventAttributes(a) => Some(a.initiated_event_id),
        A::StartChildWorkflowExecutionFailedEventAttributes(a) => Some(a.initiated_event_id),
        A::ChildWorkflowExecutionCompletedEventAttributes(a) => Some(a.initiated_event_id),
        A::ChildWorkflowExecutionFailedEventAttributes(a) => Some(a.initiated_event_id),
        A::ChildWorkflowExecutionCanceledEventAttributes(a) => Some(a.initiated_event_id),
        A::ChildWorkflowExecutionTimedOutEventAttributes(a) => Some(a.initiated_event_id),
        A::ChildWorkflowExecutionTerminatedEventAttributes(a) => Some(a.initiated_event_id),
        _ => None,
    }
}

/// A pending child's start or close, recorded again in the new run and
/// pointing at its events there.
fn reapply_child(ctx: &mut Ctx, initiated: i64, mut attrs: A) {
    let Some(child) = ctx.state.children.get(&initiated).cloned() else { return };
    let started_id = child.started_event_id;
    match &mut attrs {
        A::ChildWorkflowExecutionStartedEventAttributes(a) => {
            if started_id != 0 {
                return;
            }
            let run_id = a.workflow_execution.as_ref().map(|e| e.run_id.clone()).unwrap_or_default();
            let id = ctx.add(attrs);
            let child = ctx.state.children.get_mut(&initiated).expect("checked above");
            child.started_event_id = id;
            child.run_id = run_id;
            child.command = None;
            return;
        }
        A::StartChildWorkflowExecutionFailedEventAttributes(_) => {}
        A::ChildWorkflowExecutionCompletedEventAttributes(a) => a.started_event_id = started_id,
        A::ChildWorkflowExecutionFailedEventAttributes(a) => a.started_event_id = started_id,
        A::ChildWorkflowExecutionCanceledEventAttributes(a) => a.started_event_id = started_id,
        A::ChildWorkflowExecutionTimedOutEventAttributes(a) => a.started_event_id = started_id,
        A::ChildWorkflowExecutionTerminatedEventAttributes(a) => a.started_event_id = started_id,
        _ => return,
    }
    ctx.state.children.remove(&initiated);
    ctx.add(attrs);
}
