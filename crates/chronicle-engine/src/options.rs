//! UpdateWorkflowExecutionOptions on a run: its versioning override
//! (versioning.rs says what an override means).

use crate::api::history::v1::WorkflowExecutionOptionsUpdatedEventAttributes;
use crate::api::workflow::v1::VersioningOverride;
use crate::events::Ctx;
use crate::versioning::normalize_override;

/// UpdateWorkflowExecutionOptions: one WorkflowExecutionOptionsUpdated
/// event when the override changes, none when it stays as it is (as
/// Temporal). The run's next tasks are stamped with its new pin.
pub(crate) fn update(ctx: &mut Ctx, o: Option<VersioningOverride>, identity: String) {
    let o = o.map(normalize_override);
    if !crate::versioning::set_override(&mut ctx.state, o.clone()) {
        return;
    }
    let event = WorkflowExecutionOptionsUpdatedEventAttributes {
        unset_versioning_override: o.is_none(),
        versioning_override: o,
        identity,
        // Temporal writes the (unchanged) priority option too.
        priority: Some(Default::default()),
        ..Default::default()
    };
    // No workflow task for it (the workflow's code never sees it), but a
    // retried task not yet started is replaced by a fresh one after it.
    if ctx.state.workflow_task.as_ref().is_some_and(|wt| wt.transient && !wt.is_started()) {
        ctx.add_for_workflow(event);
    } else {
        ctx.add_or_buffer(event);
    }
    // The run's sticky worker may be on another version than the one it is
    // routed to now: its next task goes to the normal queue.
    ctx.state.sticky_task_queue = None;
    ctx.state.sticky_schedule_to_start_timeout = None;
}
