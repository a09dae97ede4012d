//! Closing a run. Kept out of `Ctx` (events.rs) so that building a
//! transition does not depend on the feature modules whose close work
//! runs here (updates, children).

use crate::api::enums::v1::WorkflowExecutionStatus;
use crate::events::Ctx;
use crate::transition::Task;

/// Closes the run (its close event already written): pending work is
/// dropped; the parent is to be told (unless a new run continues the
/// chain) and the children's parent close policies are to be applied.
pub(crate) fn close(ctx: &mut Ctx, status: WorkflowExecutionStatus) {
    ctx.state.status = status as i32;
    ctx.state.close_time = Some(ctx.now);
    ctx.state.close_event_id = ctx.state.next_event_id - 1;
    ctx.state.workflow_task = None;
    ctx.state.activities.clear();
    ctx.state.timers.clear();
    ctx.state.external_requests.clear();
    ctx.state.buffered_events.clear();
    ctx.state.backoff_until = None;
    crate::update::on_close(&mut ctx.state);
    let has_parent = ctx.state.started.as_ref().is_some_and(|s| s.parent_workflow_execution.is_some());
    if has_parent && ctx.state.new_execution_run_id.is_empty() {
        ctx.state.parent_notification_pending = true;
        ctx.tasks.push(Task::NotifyParent);
    }
    crate::child::on_parent_close(ctx);
}
