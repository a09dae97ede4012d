//! Signals and cancel requests to other workflows
//! (SignalExternalWorkflowExecution, RequestCancelExternalWorkflowExecution).
//! The command writes an Initiated event and keeps the request in the state
//! until the server has delivered it to the target (Task::External), then
//! the outcome event is written here.

use crate::api::{
    command::v1::{
        RequestCancelExternalWorkflowExecutionCommandAttributes, SignalExternalWorkflowExecutionCommandAttributes,
    },
    common::v1::WorkflowExecution,
    enums::v1::{
        CancelExternalWorkflowExecutionFailedCause, SignalExternalWorkflowExecutionFailedCause,
        WorkflowTaskFailedCause as Cause,
    },
    history::v1::*,
};
use crate::events::Ctx;
use crate::payload::too_big;
use crate::rejection::{Rejection, reject};
use crate::state::{ExternalRequest, MutableState};
use crate::transition::{EngineError, Task};

/// SignalExternalWorkflowExecution. `pending`: outgoing signals pending
/// before this one (the run's and the earlier commands').
pub(crate) fn validate_signal(
    state: &MutableState,
    a: &SignalExternalWorkflowExecutionCommandAttributes,
    pending: usize,
) -> Result<(), Rejection> {
    let bad = |m: String| reject(Cause::BadSignalWorkflowExecutionAttributes, m);
    if a.execution.as_ref().is_none_or(|e| e.workflow_id.is_empty()) {
        return bad("WorkflowId is not set on SignalExternalWorkflowExecutionCommand.".into());
    }
    if a.signal_name.is_empty() {
        return bad("SignalName is not set on SignalExternalWorkflowExecutionCommand.".into());
    }
    if !a.namespace.is_empty() && a.namespace != state.namespace {
        return bad("Signaling a workflow in another namespace is not supported by Chronicle yet.".into());
    }
    if too_big(&a.input) {
        return bad("SignalExternalWorkflowExecutionCommand input exceeds the 2 MiB size limit.".into());
    }
    if pending >= crate::limits::PENDING_SIGNALS_MAX {
        return reject(
            Cause::PendingSignalsLimitExceeded,
            format!("Too many pending outgoing signals: at most {}.", crate::limits::PENDING_SIGNALS_MAX),
        );
    }
    Ok(())
}

pub(crate) fn validate_cancel(
    state: &MutableState,
    a: &RequestCancelExternalWorkflowExecutionCommandAttributes,
) -> Result<(), Rejection> {
    let bad = |m: String| reject(Cause::BadRequestCancelExternalWorkflowExecutionAttributes, m);
    if a.workflow_id.is_empty() {
        return bad("WorkflowId is not set on RequestCancelExternalWorkflowExecutionCommand.".into());
    }
    if !a.namespace.is_empty() && a.namespace != state.namespace {
        return bad("Canceling a workflow in another namespace is not supported by Chronicle yet.".into());
    }
    Ok(())
}

pub(crate) fn signal(ctx: &mut Ctx, a: SignalExternalWorkflowExecutionCommandAttributes, completed_id: i64) {
    let execution = a.execution.clone().unwrap_or_default();
    let id = ctx.add(SignalExternalWorkflowExecutionInitiatedEventAttributes {
        workflow_task_completed_event_id: completed_id,
        namespace: ctx.state.namespace.clone(),
        namespace_id: ctx.state.namespace_id.clone(),
        workflow_execution: Some(execution.clone()),
        signal_name: a.signal_name.clone(),
        input: a.input.clone(),
        control: a.control.clone(),
        child_workflow_only: a.child_workflow_only,
        header: a.header.clone(),
    });
    record(
        ctx,
        ExternalRequest {
            initiated_event_id: id,
            workflow_id: execution.workflow_id,
            run_id: execution.run_id,
            signal_name: a.signal_name,
            input: a.input,
            header: a.header,
            control: a.control,
            ..Default::default()
        },
    );
}

pub(crate) fn cancel(ctx: &mut Ctx, a: RequestCancelExternalWorkflowExecutionCommandAttributes, completed_id: i64) {
    let execution = WorkflowExecution { workflow_id: a.workflow_id.clone(), run_id: a.run_id.clone() };
    let id = ctx.add(RequestCancelExternalWorkflowExecutionInitiatedEventAttributes {
        workflow_task_completed_event_id: completed_id,
        namespace: ctx.state.namespace.clone(),
        namespace_id: ctx.state.namespace_id.clone(),
        workflow_execution: Some(execution),
        control: a.control.clone(),
        child_workflow_only: a.child_workflow_only,
        reason: a.reason.clone(),
    });
    record(
        ctx,
        ExternalRequest {
            initiated_event_id: id,
            workflow_id: a.workflow_id,
            run_id: a.run_id,
            control: a.control,
            reason: a.reason,
            is_cancel: true,
            ..Default::default()
        },
    );
}

fn record(ctx: &mut Ctx, request: ExternalRequest) {
    ctx.tasks.push(Task::External { initiated_event_id: request.initiated_event_id });
    ctx.state.external_requests.insert(request.initiated_event_id, request);
}

pub(crate) fn pending_signals(state: &MutableState) -> usize {
    state.external_requests.values().filter(|r| !r.is_cancel).count()
}

pub(crate) fn done(ctx: &mut Ctx, initiated_event_id: i64, delivered: bool) -> Result<(), EngineError> {
    let r = ctx.state.external_requests.remove(&initiated_event_id).ok_or(EngineError::StaleTimer)?;
    let namespace = ctx.state.namespace.clone();
    let namespace_id = ctx.state.namespace_id.clone();
    // As Temporal: the outcome names the target as the command did (an empty
    // run id stays empty), whichever run received it.
    let target = WorkflowExecution { workflow_id: r.workflow_id.clone(), run_id: r.run_id.clone() };
    match (r.is_cancel, delivered) {
        (false, true) => ctx.add_for_workflow(ExternalWorkflowExecutionSignaledEventAttributes {
            initiated_event_id,
            namespace,
            namespace_id,
            workflow_execution: Some(target),
            control: r.control,
        }),
        (false, false) => ctx.add_for_workflow(SignalExternalWorkflowExecutionFailedEventAttributes {
            cause: SignalExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound as i32,
            workflow_task_completed_event_id: 0,
            namespace,
            namespace_id,
            workflow_execution: Some(target),
            initiated_event_id,
            control: r.control,
        }),
        (true, true) => ctx.add_for_workflow(ExternalWorkflowExecutionCancelRequestedEventAttributes {
            initiated_event_id,
            namespace,
            namespace_id,
            workflow_execution: Some(target),
        }),
        (true, false) => ctx.add_for_workflow(RequestCancelExternalWorkflowExecutionFailedEventAttributes {
            cause: CancelExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound as i32,
            workflow_task_completed_event_id: 0,
            namespace,
            namespace_id,
            workflow_execution: Some(target),
            initiated_event_id,
            control: r.control,
        }),
    }
    Ok(())
}
