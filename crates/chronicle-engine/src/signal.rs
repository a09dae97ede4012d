//! Signals from clients (SignalWorkflowExecution, SignalWithStart).

use crate::api::history::v1::WorkflowExecutionSignaledEventAttributes;
use crate::events::Ctx;
use crate::transition::{EngineError, SignalArgs};

/// Temporal's default limit of signals per execution.
use crate::limits::SIGNALS_PER_RUN_MAX;

pub(crate) fn signal(ctx: &mut Ctx, args: SignalArgs) -> Result<(), EngineError> {
    if !args.request_id.is_empty() && ctx.state.signal_request_ids.contains(&args.request_id) {
        return Ok(()); // the same signal again: delivered once
    }
    if ctx.state.signal_count >= SIGNALS_PER_RUN_MAX {
        // InvalidArgument, as Temporal answers this limit.
        return Err(EngineError::InvalidArgument(format!(
            "Signal count limit exceeded: a workflow execution accepts at most {SIGNALS_PER_RUN_MAX} signals."
        )));
    }
    record(ctx, args);
    Ok(())
}

/// Writes WorkflowExecutionSignaled (buffered while a workflow task is in
/// flight) and makes sure a workflow task will deliver it.
pub(crate) fn record(ctx: &mut Ctx, args: SignalArgs) {
    ctx.state.signal_count += 1;
    if !args.request_id.is_empty() {
        ctx.state.signal_request_ids.push(args.request_id.clone());
    }
    ctx.add_for_workflow(WorkflowExecutionSignaledEventAttributes {
        signal_name: args.signal_name,
        input: args.input,
        identity: args.identity,
        header: args.header,
        request_id: args.request_id,
        external_workflow_execution: args.external_workflow_execution,
        ..Default::default()
    });
}
