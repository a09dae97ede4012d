//! Workflow task commands: validated as a whole first (a bad command fails
//! the workflow task and writes nothing else), then turned into events.
//! Only the dispatch is here, with the checks that span commands (ids in
//! use, pending counts, a close command coming last); each command's own
//! checks and events live in its feature module.

use crate::api::{
    command::v1::{Command, command::Attributes as C},
    enums::v1::{CommandType, WorkflowTaskFailedCause as Cause},
};
use crate::events::Ctx;
use crate::rejection::{Rejection, reject};
use crate::state::MutableState;

pub(crate) fn validate(
    state: &MutableState,
    commands: &[Command],
    messages: &[crate::api::protocol::v1::Message],
    limits: &crate::limits::Limits,
) -> Result<(), Rejection> {
    let mut pending_children = crate::child::pending(state);
    // Admitted updates do not hold a close back, as on Temporal (they are
    // not durable there): the close drops them and their callers retry on
    // the next run or learn the workflow completed.
    let unseen = !state.buffered_events.is_empty();
    let mut pending_signals = crate::external::pending_signals(state);
    crate::update::validate_messages(state, messages)?;
    let mut activity_ids: Vec<&str> = state.activities.values().map(|a| a.activity_id.as_str()).collect();
    // Timer ids pending after the commands so far, to check starts and cancels in order.
    let mut timer_ids: Vec<&str> = state.timers.keys().map(String::as_str).collect();
    for (i, command) in commands.iter().enumerate() {
        let is_last = i + 1 == commands.len();
        match &command.attributes {
            Some(C::SignalExternalWorkflowExecutionCommandAttributes(a)) => {
                crate::external::validate_signal(state, a, pending_signals)?;
                pending_signals += 1;
            }
            Some(C::RequestCancelExternalWorkflowExecutionCommandAttributes(a)) => {
                crate::external::validate_cancel(state, a)?;
            }
            Some(C::StartChildWorkflowExecutionCommandAttributes(a)) => {
                crate::child::validate(state, a, pending_children, limits.pending_children_max)?;
                pending_children += 1;
            }
            Some(C::ContinueAsNewWorkflowExecutionCommandAttributes(a)) => {
                close_command_checks(
                    unseen,
                    is_last,
                    Cause::BadContinueAsNewAttributes,
                    "ContinueAsNewWorkflowExecution",
                )?;
                crate::continuation::validate(a)?;
            }
            Some(C::RecordMarkerCommandAttributes(a)) => crate::marker::validate(a)?,
            Some(C::UpsertWorkflowSearchAttributesCommandAttributes(a)) => {
                crate::properties::validate_upsert_search_attributes(a)?;
            }
            Some(C::ModifyWorkflowPropertiesCommandAttributes(a)) => crate::properties::validate_modify(a)?,
            Some(C::ProtocolMessageCommandAttributes(a)) => {
                crate::update::validate_message_command(a, messages)?;
            }
            Some(C::ScheduleActivityTaskCommandAttributes(a)) => {
                crate::activity::validate_schedule(state, a)?;
                if activity_ids.contains(&a.activity_id.as_str()) {
                    return reject(
                        Cause::BadScheduleActivityAttributes,
                        format!("Activity ID '{}' is already in use by a pending activity.", a.activity_id),
                    );
                }
                activity_ids.push(&a.activity_id);
            }
            Some(C::StartTimerCommandAttributes(a)) => {
                crate::timer::validate_start(a)?;
                if timer_ids.contains(&a.timer_id.as_str()) {
                    return reject(
                        Cause::BadStartTimerAttributes,
                        format!("Timer ID '{}' is already in use by a pending timer.", a.timer_id),
                    );
                }
                timer_ids.push(&a.timer_id);
            }
            Some(C::CancelTimerCommandAttributes(a)) => {
                crate::timer::validate_cancel(state, a, timer_ids.contains(&a.timer_id.as_str()))?;
                timer_ids.retain(|t| *t != a.timer_id);
            }
            Some(C::CancelWorkflowExecutionCommandAttributes(a)) => {
                close_command_checks(
                    unseen,
                    is_last,
                    Cause::BadCancelWorkflowExecutionAttributes,
                    "CancelWorkflowExecution",
                )?;
                crate::close_commands::validate_cancel(a)?;
            }
            Some(C::RequestCancelActivityTaskCommandAttributes(a)) => {
                crate::activity::validate_request_cancel(state, a)?;
            }
            Some(C::CompleteWorkflowExecutionCommandAttributes(a)) => {
                close_command_checks(
                    unseen,
                    is_last,
                    Cause::BadCompleteWorkflowExecutionAttributes,
                    "CompleteWorkflowExecution",
                )?;
                crate::close_commands::validate_complete(a)?;
            }
            Some(C::FailWorkflowExecutionCommandAttributes(a)) => {
                close_command_checks(
                    unseen,
                    is_last,
                    Cause::BadFailWorkflowExecutionAttributes,
                    "FailWorkflowExecution",
                )?;
                crate::close_commands::validate_fail(a)?;
            }
            Some(other) => {
                let (cause, name) = unsupported(other);
                return reject(cause, format!("{name} command is not supported by Chronicle yet."));
            }
            None => {
                let name = CommandType::try_from(command.command_type)
                    .map(|t| t.as_str_name().to_string())
                    .unwrap_or_else(|_| command.command_type.to_string());
                return reject(Cause::Unspecified, format!("Command {name} has no attributes."));
            }
        }
    }
    Ok(())
}

/// `unseen`: events buffered that the worker has not seen; closing now
/// would lose them.
fn close_command_checks(unseen: bool, is_last: bool, cause: Cause, name: &str) -> Result<(), Rejection> {
    if unseen {
        // New events arrived while the worker decided to close: it must see
        // them first. Core SDKs recognise this exact message.
        return reject(Cause::UnhandledCommand, "UnhandledCommand");
    }
    if !is_last {
        return reject(cause, format!("invalid command sequence: {name} must be the last command."));
    }
    Ok(())
}

fn unsupported(attrs: &C) -> (Cause, &'static str) {
    match attrs {
        C::ScheduleNexusOperationCommandAttributes(_) => {
            (Cause::BadScheduleNexusOperationAttributes, "ScheduleNexusOperation")
        }
        C::RequestCancelNexusOperationCommandAttributes(_) => {
            (Cause::BadRequestCancelNexusOperationAttributes, "RequestCancelNexusOperation")
        }
        _ => (Cause::Unspecified, "this"),
    }
}

/// Writes the events of one validated command. The command's user
/// metadata (summary, details) goes on the first event it writes, as on
/// Temporal (protocol messages excepted).
pub(crate) fn record_command(
    ctx: &mut Ctx,
    command: Command,
    completed_id: i64,
    identity: &str,
    messages: &[crate::api::protocol::v1::Message],
) {
    let Command { attributes, user_metadata, .. } = command;
    let first_event = ctx.events.len();
    let protocol = matches!(attributes, Some(C::ProtocolMessageCommandAttributes(_)));
    record_attributes(ctx, attributes, user_metadata.clone(), completed_id, identity, messages);
    if !protocol && let Some(metadata) = user_metadata {
        ctx.set_user_metadata(first_event, metadata);
    }
}

fn record_attributes(
    ctx: &mut Ctx,
    attributes: Option<C>,
    user_metadata: Option<crate::api::sdk::v1::UserMetadata>,
    completed_id: i64,
    identity: &str,
    messages: &[crate::api::protocol::v1::Message],
) {
    match attributes {
        Some(C::ProtocolMessageCommandAttributes(a)) => {
            if let Some(m) = messages.iter().find(|m| m.id == a.message_id) {
                crate::update::apply_message(ctx, m);
            }
        }
        Some(C::SignalExternalWorkflowExecutionCommandAttributes(a)) => crate::external::signal(ctx, a, completed_id),
        Some(C::RequestCancelExternalWorkflowExecutionCommandAttributes(a)) => {
            crate::external::cancel(ctx, a, completed_id);
        }
        Some(C::StartTimerCommandAttributes(a)) => crate::timer::start(ctx, a, completed_id),
        Some(C::CancelTimerCommandAttributes(a)) => crate::timer::cancel(ctx, a, completed_id, identity),
        Some(C::ScheduleActivityTaskCommandAttributes(a)) => crate::activity::schedule(ctx, a, completed_id),
        Some(C::CancelWorkflowExecutionCommandAttributes(a)) => crate::close_commands::cancel(ctx, a, completed_id),
        Some(C::RequestCancelActivityTaskCommandAttributes(a)) => {
            crate::activity::request_cancel(ctx, a.scheduled_event_id, completed_id, identity);
        }
        Some(C::CompleteWorkflowExecutionCommandAttributes(a)) => crate::close_commands::complete(ctx, a, completed_id),
        Some(C::FailWorkflowExecutionCommandAttributes(a)) => crate::close_commands::fail(ctx, a, completed_id),
        Some(C::ContinueAsNewWorkflowExecutionCommandAttributes(a)) => {
            crate::continuation::continue_as_new(ctx, a, completed_id);
        }
        Some(C::StartChildWorkflowExecutionCommandAttributes(a)) => {
            crate::child::initiate(ctx, a, completed_id, user_metadata);
        }
        Some(C::RecordMarkerCommandAttributes(a)) => crate::marker::record(ctx, a, completed_id),
        Some(C::UpsertWorkflowSearchAttributesCommandAttributes(a)) => {
            crate::properties::upsert_search_attributes(ctx, a, completed_id);
        }
        Some(C::ModifyWorkflowPropertiesCommandAttributes(a)) => crate::properties::modify(ctx, a, completed_id),
        _ => unreachable!("validate() admits only supported commands"),
    }
}
