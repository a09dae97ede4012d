//! The workflow's own close commands: CompleteWorkflowExecution,
//! FailWorkflowExecution, CancelWorkflowExecution. Each writes its close
//! event, then closes the run or, for a cron or retried run, starts the
//! next one (ContinueAsNew is in continuation.rs). That these come last
//! and that no events are unseen is checked by the dispatcher.

use crate::api::{
    command::v1::{
        CancelWorkflowExecutionCommandAttributes, CompleteWorkflowExecutionCommandAttributes,
        FailWorkflowExecutionCommandAttributes,
    },
    enums::v1::{WorkflowExecutionStatus, WorkflowTaskFailedCause as Cause},
    history::v1::*,
};
use crate::continuation::{AfterFailure, cron_backoff, next_cron_run};
use crate::events::Ctx;
use crate::payload::too_big;
use crate::rejection::{Rejection, reject};

pub(crate) fn validate_complete(a: &CompleteWorkflowExecutionCommandAttributes) -> Result<(), Rejection> {
    if too_big(&a.result) {
        return reject(Cause::BadCompleteWorkflowExecutionAttributes, "Workflow result exceeds the 2 MiB size limit.");
    }
    Ok(())
}

pub(crate) fn validate_fail(a: &FailWorkflowExecutionCommandAttributes) -> Result<(), Rejection> {
    if a.failure.is_none() {
        return reject(
            Cause::BadFailWorkflowExecutionAttributes,
            "Failure is not set on FailWorkflowExecution command.",
        );
    }
    Ok(())
}

pub(crate) fn validate_cancel(a: &CancelWorkflowExecutionCommandAttributes) -> Result<(), Rejection> {
    if too_big(&a.details) {
        return reject(
            Cause::BadCancelWorkflowExecutionAttributes,
            "Cancellation details exceed the 2 MiB size limit.",
        );
    }
    Ok(())
}

/// A cron run completes into its next run; any other run just closes.
pub(crate) fn complete(ctx: &mut Ctx, a: CompleteWorkflowExecutionCommandAttributes, completed_id: i64) {
    let cron = cron_backoff(&ctx.state, &ctx.now);
    ctx.add(WorkflowExecutionCompletedEventAttributes {
        result: a.result.clone(),
        workflow_task_completed_event_id: completed_id,
        new_execution_run_id: if cron.is_some() { ctx.new_run_id.clone() } else { String::new() },
    });
    match cron {
        Some(backoff) => next_cron_run(ctx, backoff, a.result, None, WorkflowExecutionStatus::Completed),
        None => crate::close::close(ctx, WorkflowExecutionStatus::Completed),
    }
}

/// The run's retry policy, then its cron schedule, decide what follows.
pub(crate) fn fail(ctx: &mut Ctx, a: FailWorkflowExecutionCommandAttributes, completed_id: i64) {
    let failure = a.failure.unwrap_or_default();
    let next = AfterFailure::decide(&ctx.state, &failure, &ctx.now);
    ctx.add(WorkflowExecutionFailedEventAttributes {
        failure: Some(failure.clone()),
        retry_state: next.retry_state() as i32,
        workflow_task_completed_event_id: completed_id,
        new_execution_run_id: next.new_run_id(&ctx.new_run_id),
    });
    next.carry_out(ctx, failure, WorkflowExecutionStatus::Failed);
}

pub(crate) fn cancel(ctx: &mut Ctx, a: CancelWorkflowExecutionCommandAttributes, completed_id: i64) {
    ctx.add(WorkflowExecutionCanceledEventAttributes {
        workflow_task_completed_event_id: completed_id,
        details: a.details,
    });
    crate::close::close(ctx, WorkflowExecutionStatus::Canceled);
}
