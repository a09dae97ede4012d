//! Child workflows: the StartChildWorkflowExecution command, the events the
//! parent records as its child starts and closes, and the parent close
//! policy applied to children when the parent closes.
//!
//! The server starts the child in its own transaction (Task::StartChild,
//! deduplicated by a request id derived from the parent run and the
//! Initiated event), then records the outcome here; a crash in between
//! re-runs the task without starting a second child.

use crate::api::{
    command::v1::StartChildWorkflowExecutionCommandAttributes as Command,
    common::v1::{WorkflowExecution, WorkflowType},
    enums::v1::{
        ParentClosePolicy, StartChildWorkflowExecutionFailedCause, TaskQueueKind, WorkflowIdReusePolicy,
        WorkflowTaskFailedCause as Cause,
    },
    history::v1::*,
    taskqueue::v1::TaskQueue,
};
use crate::events::Ctx;
use crate::limits::ID_BYTES_MAX;
use crate::payload::too_big;
use crate::rejection::Rejection;
use crate::start::{ParentInfo, StartArgs, normalize_timeouts};
use crate::state::{ChildInfo, MutableState};
use crate::time;
use crate::transition::{ChildClose, EngineError, Task};

pub(crate) fn validate(state: &MutableState, a: &Command, pending: usize, max_pending: usize) -> Result<(), Rejection> {
    let bad = |m: String| Err(Rejection { cause: Cause::BadStartChildExecutionAttributes, message: m });
    if !a.namespace.is_empty() && a.namespace != state.namespace {
        return bad("Starting a child workflow in another namespace is not supported by Chronicle yet.".into());
    }
    if a.workflow_id.is_empty() {
        return bad("Required field WorkflowId is not set on StartChildWorkflowExecutionCommand.".into());
    }
    if a.workflow_type.as_ref().is_none_or(|t| t.name.is_empty()) {
        return bad("Required field WorkflowType is not set on StartChildWorkflowExecutionCommand.".into());
    }
    if a.workflow_id.len() > ID_BYTES_MAX || a.workflow_type.as_ref().is_some_and(|t| t.name.len() > ID_BYTES_MAX) {
        return bad(format!("WorkflowId or WorkflowType exceeds length limit of {ID_BYTES_MAX}."));
    }
    for (name, d) in [
        ("WorkflowExecutionTimeout", &a.workflow_execution_timeout),
        ("WorkflowRunTimeout", &a.workflow_run_timeout),
        ("WorkflowTaskTimeout", &a.workflow_task_timeout),
    ] {
        if let Some(cause) = d.as_ref().and_then(time::dur_invalid) {
            return bad(format!("Invalid {name} on StartChildWorkflowExecutionCommand: {cause}."));
        }
    }
    if let Err(m) = crate::retry::normalize_retry_policy(a.retry_policy.clone()) {
        return bad(m);
    }
    if !a.cron_schedule.is_empty()
        && let Err(m) = crate::cron::validate(&a.cron_schedule)
    {
        return bad(m);
    }
    if too_big(&a.input) {
        return bad("StartChildWorkflowExecutionCommand input exceeds the 2 MiB size limit.".into());
    }
    if pending >= max_pending {
        return Err(Rejection {
            cause: Cause::PendingChildWorkflowsLimitExceeded,
            message: format!("PendingChildWorkflowsLimitExceeded: at most {max_pending} pending child workflows."),
        });
    }
    Ok(())
}

/// Children started by this run and not yet closed.
pub(crate) fn pending(state: &MutableState) -> usize {
    state.children.len()
}

/// The command with Temporal's defaults filled in: the parent's task queue,
/// normalized timeouts, TERMINATE as the close policy.
fn normalize(state: &MutableState, mut a: Command) -> Command {
    if a.task_queue.as_ref().is_none_or(|t| t.name.is_empty()) {
        a.task_queue = Some(TaskQueue { name: state.task_queue_name().to_string(), ..Default::default() });
    }
    if let Some(q) = a.task_queue.as_mut() {
        q.kind = TaskQueueKind::Normal as i32;
    }
    let mut t = StartArgs {
        execution_timeout: a.workflow_execution_timeout,
        run_timeout: a.workflow_run_timeout,
        task_timeout: a.workflow_task_timeout,
        ..Default::default()
    };
    normalize_timeouts(&mut t);
    a.workflow_execution_timeout = t.execution_timeout.filter(|d| time::is_set(Some(d)));
    a.workflow_run_timeout = t.run_timeout.filter(|d| time::is_set(Some(d)));
    a.workflow_task_timeout = t.task_timeout;
    if a.parent_close_policy == ParentClosePolicy::Unspecified as i32 {
        a.parent_close_policy = ParentClosePolicy::Terminate as i32;
    }
    if a.workflow_id_reuse_policy == WorkflowIdReusePolicy::Unspecified as i32 {
        a.workflow_id_reuse_policy = WorkflowIdReusePolicy::AllowDuplicate as i32;
    }
    a.namespace = state.namespace.clone();
    a
}

pub(crate) fn initiate(
    ctx: &mut Ctx,
    a: Command,
    completed_id: i64,
    user_metadata: Option<crate::api::sdk::v1::UserMetadata>,
) -> i64 {
    let a = normalize(&ctx.state, a);
    let id = ctx.add(StartChildWorkflowExecutionInitiatedEventAttributes {
        namespace: ctx.state.namespace.clone(),
        namespace_id: ctx.state.namespace_id.clone(),
        workflow_id: a.workflow_id.clone(),
        workflow_type: a.workflow_type.clone(),
        task_queue: a.task_queue.clone(),
        input: a.input.clone(),
        workflow_execution_timeout: a.workflow_execution_timeout,
        // Temporal writes an unset run timeout as zero here.
        workflow_run_timeout: Some(a.workflow_run_timeout.unwrap_or_default()),
        workflow_task_timeout: a.workflow_task_timeout,
        parent_close_policy: a.parent_close_policy,
        control: a.control.clone(),
        workflow_task_completed_event_id: completed_id,
        workflow_id_reuse_policy: a.workflow_id_reuse_policy,
        retry_policy: a.retry_policy.clone(),
        cron_schedule: a.cron_schedule.clone(),
        header: a.header.clone(),
        // An empty memo is dropped, as Temporal does.
        memo: a.memo.clone().filter(|m| !m.fields.is_empty()),
        search_attributes: a.search_attributes.clone(),
        priority: a.priority.clone(),
        inherit_build_id: a.inherit_build_id,
        ..Default::default()
    });
    ctx.state.children.insert(
        id,
        ChildInfo {
            initiated_event_id: id,
            started_event_id: 0,
            workflow_id: a.workflow_id.clone(),
            run_id: String::new(),
            workflow_type: a.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
            parent_close_policy: a.parent_close_policy,
            command: Some(a),
            close_policy_pending: false,
            user_metadata,
        },
    );
    ctx.tasks.push(Task::StartChild { initiated_event_id: id });
    id
}

/// The start request for the child initiated at `initiated_event_id`, or
/// None if it no longer needs starting.
pub fn start_args(parent: &MutableState, initiated_event_id: i64, run_id: String) -> Option<StartArgs> {
    let child = parent.children.get(&initiated_event_id).filter(|c| c.started_event_id == 0)?;
    let a = child.command.clone()?;
    let me = WorkflowExecution { workflow_id: parent.workflow_id.clone(), run_id: parent.run_id.clone() };
    let root = parent.started.as_ref().and_then(|s| s.root_workflow_execution.clone()).unwrap_or(me.clone());
    Some(StartArgs {
        namespace: parent.namespace.clone(),
        namespace_id: parent.namespace_id.clone(),
        workflow_id: a.workflow_id,
        run_id,
        workflow_type: a.workflow_type.map(|t| t.name).unwrap_or_default(),
        task_queue: a.task_queue.map(|t| t.name).unwrap_or_default(),
        input: a.input,
        execution_timeout: a.workflow_execution_timeout,
        run_timeout: a.workflow_run_timeout,
        task_timeout: a.workflow_task_timeout,
        identity: String::new(),
        request_id: child_request_id(&parent.run_id, initiated_event_id),
        retry_policy: a.retry_policy.map(|p| crate::retry::normalize_retry_policy(Some(p)).unwrap_or_default()),
        memo: a.memo.filter(|m| !m.fields.is_empty()),
        search_attributes: a.search_attributes,
        header: a.header,
        priority: a.priority,
        cron_schedule: a.cron_schedule,
        signal: None,
        parent: Some(ParentInfo {
            namespace: parent.namespace.clone(),
            namespace_id: parent.namespace_id.clone(),
            execution: me,
            initiated_event_id,
        }),
        root_execution: Some(root),
        continued: None,
        update: None,
        user_metadata: child.user_metadata.clone(),
        eager: false,
        activity: None,
        versioning_override: None,
    })
}

/// The id-reuse policy of the child's start command.
pub fn reuse_policy(parent: &MutableState, initiated_event_id: i64) -> WorkflowIdReusePolicy {
    parent
        .children
        .get(&initiated_event_id)
        .and_then(|c| c.command.as_ref())
        .and_then(|a| WorkflowIdReusePolicy::try_from(a.workflow_id_reuse_policy).ok())
        .unwrap_or(WorkflowIdReusePolicy::AllowDuplicate)
}

/// Request id of a child's start: the same on every retry of the start, so
/// a retried start finds the child it already created.
pub fn child_request_id(parent_run_id: &str, initiated_event_id: i64) -> String {
    format!("{parent_run_id}:child:{initiated_event_id}")
}

pub(crate) fn started(ctx: &mut Ctx, initiated_event_id: i64, run_id: String) -> Result<(), EngineError> {
    let child = ctx.state.children.get(&initiated_event_id).filter(|c| c.started_event_id == 0);
    let Some(child) = child.cloned() else { return Err(EngineError::StaleTimer) };
    record_started(ctx, child, run_id);
    Ok(())
}

fn record_started(ctx: &mut Ctx, child: ChildInfo, run_id: String) -> ChildInfo {
    let child = record_started_quietly(ctx, child, run_id);
    if child.started_event_id > 0 {
        ctx.schedule_workflow_task(1);
    }
    child
}

/// Writes (or buffers) ChildWorkflowExecutionStarted without scheduling a
/// workflow task.
fn record_started_quietly(ctx: &mut Ctx, mut child: ChildInfo, run_id: String) -> ChildInfo {
    let header = child.command.as_ref().and_then(|c| c.header.clone());
    let started_event_id = ctx.add_or_buffer(ChildWorkflowExecutionStartedEventAttributes {
        namespace: ctx.state.namespace.clone(),
        namespace_id: ctx.state.namespace_id.clone(),
        initiated_event_id: child.initiated_event_id,
        workflow_execution: Some(WorkflowExecution { workflow_id: child.workflow_id.clone(), run_id: run_id.clone() }),
        workflow_type: Some(WorkflowType { name: child.workflow_type.clone() }),
        header,
    });
    // Buffered (a workflow task is in flight): the id is assigned at flush.
    child.started_event_id = started_event_id.unwrap_or(crate::events::BUFFERED_EVENT_ID);
    child.run_id = run_id;
    child.command = None;
    ctx.state.children.insert(child.initiated_event_id, child.clone());
    child
}

pub(crate) fn start_failed(
    ctx: &mut Ctx,
    initiated_event_id: i64,
    cause: StartChildWorkflowExecutionFailedCause,
) -> Result<(), EngineError> {
    let child = ctx.state.children.get(&initiated_event_id).filter(|c| c.started_event_id == 0);
    let Some(child) = child.cloned() else { return Err(EngineError::StaleTimer) };
    ctx.state.children.remove(&initiated_event_id);
    ctx.add_for_workflow(StartChildWorkflowExecutionFailedEventAttributes {
        namespace: ctx.state.namespace.clone(),
        namespace_id: ctx.state.namespace_id.clone(),
        workflow_id: child.workflow_id,
        workflow_type: Some(WorkflowType { name: child.workflow_type }),
        cause: cause as i32,
        control: child.command.map(|c| c.control).unwrap_or_default(),
        initiated_event_id,
        workflow_task_completed_event_id: 0,
    });
    Ok(())
}

pub(crate) fn closed(
    ctx: &mut Ctx,
    initiated_event_id: i64,
    run_id: String,
    closed: ChildClose,
) -> Result<(), EngineError> {
    let Some(mut child) = ctx.state.children.get(&initiated_event_id).cloned() else {
        return Err(EngineError::StaleTimer); // already recorded
    };
    if child.started_event_id == 0 {
        // The child finished before its start was recorded: both events,
        // then one workflow task (Temporal's order).
        child = record_started_quietly(ctx, child, run_id);
    }
    ctx.state.children.remove(&initiated_event_id);
    let namespace = ctx.state.namespace.clone();
    let namespace_id = ctx.state.namespace_id.clone();
    let workflow_type = Some(WorkflowType { name: child.workflow_type.clone() });
    // BUFFERED_EVENT_ID while the Started event is buffered: fixed at flush.
    let started_event_id = child.started_event_id;
    match closed {
        ChildClose::Completed { execution, result } => {
            ctx.add_for_workflow(ChildWorkflowExecutionCompletedEventAttributes {
                result,
                namespace,
                namespace_id,
                workflow_execution: Some(execution),
                workflow_type,
                initiated_event_id,
                started_event_id,
            });
        }
        ChildClose::Failed { execution, failure, retry_state } => {
            ctx.add_for_workflow(ChildWorkflowExecutionFailedEventAttributes {
                failure: failure.map(|f| *f),
                namespace,
                namespace_id,
                workflow_execution: Some(execution),
                workflow_type,
                initiated_event_id,
                started_event_id,
                retry_state,
            });
        }
        ChildClose::Canceled { execution, details } => {
            ctx.add_for_workflow(ChildWorkflowExecutionCanceledEventAttributes {
                details,
                namespace,
                namespace_id,
                workflow_execution: Some(execution),
                workflow_type,
                initiated_event_id,
                started_event_id,
            });
        }
        ChildClose::Terminated { execution } => ctx.add_for_workflow(ChildWorkflowExecutionTerminatedEventAttributes {
            namespace,
            namespace_id,
            workflow_execution: Some(execution),
            workflow_type,
            initiated_event_id,
            started_event_id,
        }),
        ChildClose::TimedOut { execution, retry_state } => {
            ctx.add_for_workflow(ChildWorkflowExecutionTimedOutEventAttributes {
                namespace,
                namespace_id,
                workflow_execution: Some(execution),
                workflow_type,
                initiated_event_id,
                started_event_id,
                retry_state,
            });
        }
    }
    Ok(())
}

/// The parent closes: children to terminate or cancel are kept (with a task
/// each) until the server has applied the policy; abandoned ones are let go.
pub(crate) fn on_parent_close(ctx: &mut Ctx) {
    ctx.state.children.retain(|_, c| c.parent_close_policy != ParentClosePolicy::Abandon as i32);
    for child in ctx.state.children.values_mut() {
        child.close_policy_pending = true;
        child.command = None;
        ctx.tasks.push(Task::ApplyParentClosePolicy { initiated_event_id: child.initiated_event_id });
    }
}

pub(crate) fn policy_applied(ctx: &mut Ctx, initiated_event_id: i64) -> Result<(), EngineError> {
    ctx.state.children.remove(&initiated_event_id).map(|_| ()).ok_or(EngineError::StaleTimer)
}
