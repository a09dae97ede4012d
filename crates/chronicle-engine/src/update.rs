//! Workflow updates: admitted by UpdateWorkflowExecution, delivered to the
//! worker as protocol messages on a workflow task, then accepted (event),
//! rejected (no event) or completed (event) by the worker's reply.

use crate::api::{
    command::v1::ProtocolMessageCommandAttributes,
    enums::v1::{UpdateWorkflowExecutionLifecycleStage as Stage, WorkflowTaskFailedCause as Cause},
    history::v1::{WorkflowExecutionUpdateAcceptedEventAttributes, WorkflowExecutionUpdateCompletedEventAttributes},
    protocol::v1::Message,
    update::v1::{Acceptance, Outcome, Rejection, Request, Response, outcome},
};
use crate::events::Ctx;
use crate::rejection::reject;
use crate::state::{MutableState, UpdateInfo};
use crate::transition::EngineError;
use prost::Message as _;

/// Temporal's defaults: updates in flight at once, and over a run's life.
use crate::limits::{UPDATES_IN_FLIGHT_MAX, UPDATES_PER_RUN_MAX};

pub(crate) enum Body {
    Acceptance(Acceptance),
    Rejection(Rejection),
    Response(Response),
}

/// Decodes a worker's protocol message body.
pub(crate) fn body(message: &Message) -> Option<Body> {
    let any = message.body.as_ref()?;
    let name = any.type_url.rsplit('/').next().unwrap_or_default();
    match name {
        "temporal.api.update.v1.Acceptance" => Acceptance::decode(any.value.as_slice()).ok().map(Body::Acceptance),
        "temporal.api.update.v1.Rejection" => Rejection::decode(any.value.as_slice()).ok().map(Body::Rejection),
        "temporal.api.update.v1.Response" => Response::decode(any.value.as_slice()).ok().map(Body::Response),
        _ => None,
    }
}

/// Every message a worker sends must answer an update this run knows.
pub(crate) fn validate_messages(state: &MutableState, messages: &[Message]) -> Result<(), crate::rejection::Rejection> {
    for m in messages {
        if body(m).is_none() || !state.updates.contains_key(&m.protocol_instance_id) {
            return reject(
                Cause::BadUpdateWorkflowExecutionMessage,
                format!("Protocol message {} is not a known update's acceptance, rejection or response.", m.id),
            );
        }
    }
    Ok(())
}

/// A ProtocolMessage command places one of the request's messages.
pub(crate) fn validate_message_command(
    a: &ProtocolMessageCommandAttributes,
    messages: &[Message],
) -> Result<(), crate::rejection::Rejection> {
    if !messages.iter().any(|m| m.id == a.message_id) {
        return reject(
            Cause::BadUpdateWorkflowExecutionMessage,
            format!("ProtocolMessage command refers to message {} which is not in the request.", a.message_id),
        );
    }
    Ok(())
}

pub(crate) fn admit(ctx: &mut Ctx, request: Request) -> Result<(), EngineError> {
    let update_id = request.meta.as_ref().map(|m| m.update_id.clone()).unwrap_or_default();
    if ctx.state.updates.contains_key(&update_id) {
        return Ok(()); // the same update again: one update
    }
    let in_flight = ctx.state.updates.values().filter(|u| u.stage != Stage::Completed as i32).count();
    if in_flight >= UPDATES_IN_FLIGHT_MAX {
        return Err(EngineError::LimitExceeded(format!(
            "Too many updates in flight: at most {UPDATES_IN_FLIGHT_MAX} per workflow execution; retry later."
        )));
    }
    if ctx.state.update_count >= UPDATES_PER_RUN_MAX {
        return Err(EngineError::FailedPrecondition(format!(
            "Update limit reached: a workflow run accepts at most {UPDATES_PER_RUN_MAX} updates; continue-as-new to accept more."
        )));
    }
    ctx.state.update_count += 1;
    ctx.state.updates.insert(
        update_id.clone(),
        UpdateInfo { update_id, request: Some(request), stage: Stage::Admitted as i32, ..Default::default() },
    );
    if ctx.state.workflow_task.is_none() {
        ctx.schedule_speculative_workflow_task();
    }
    Ok(())
}

/// The outcome Temporal gives an accepted update whose run closed before
/// the update completed.
pub fn accepted_update_completed_workflow() -> crate::api::failure::v1::Failure {
    use crate::api::failure::v1::{ApplicationFailureInfo, Failure, failure::FailureInfo};
    Failure {
        message: "Workflow Update failed because the Workflow completed before the Update completed.".into(),
        source: "Server".into(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo {
            r#type: "AcceptedUpdateCompletedWorkflow".into(),
            non_retryable: true,
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// The run closed. An accepted update can no longer complete: it completes
/// with Temporal's failure (no event). An admitted one never reached the
/// workflow: it is dropped, and its caller is told so (or to retry on the
/// run that continues this one).
pub(crate) fn on_close(state: &mut MutableState) {
    state.updates.retain(|_, u| u.stage != Stage::Admitted as i32);
    for u in state.updates.values_mut() {
        if u.stage == Stage::Accepted as i32 {
            u.stage = Stage::Completed as i32;
            u.outcome = Some(Outcome { value: Some(outcome::Value::Failure(accepted_update_completed_workflow())) });
            u.completed_by_close = true;
        }
    }
}

/// Updates a worker has not seen an answer for yet.
pub(crate) fn has_admitted(state: &MutableState) -> bool {
    state.updates.values().any(|u| u.stage == Stage::Admitted as i32)
}

/// Whether every message is a rejection (a speculative task that only
/// rejected updates is dropped without events).
pub(crate) fn only_rejections(messages: &[Message]) -> bool {
    messages.iter().all(|m| matches!(body(m), Some(Body::Rejection(_))))
}

/// Applies one worker message: acceptance and response write events;
/// rejection completes the update with its failure and writes none.
pub(crate) fn apply_message(ctx: &mut Ctx, message: &Message) {
    let id = message.protocol_instance_id.clone();
    let Some(mut info) = ctx.state.updates.get(&id).cloned() else { return };
    match body(message) {
        Some(Body::Acceptance(a)) if info.stage == Stage::Admitted as i32 => {
            info.accepted_event_id = ctx.add(WorkflowExecutionUpdateAcceptedEventAttributes {
                protocol_instance_id: id.clone(),
                accepted_request_message_id: a.accepted_request_message_id,
                accepted_request_sequencing_event_id: a.accepted_request_sequencing_event_id,
                accepted_request: a.accepted_request.or_else(|| info.request.clone()),
            });
            info.stage = Stage::Accepted as i32;
        }
        Some(Body::Response(mut r)) if info.stage == Stage::Accepted as i32 => {
            if let Some(outcome::Value::Failure(f)) = r.outcome.as_mut().and_then(|o| o.value.as_mut()) {
                crate::failure::bound_failure(f);
            }
            ctx.add(WorkflowExecutionUpdateCompletedEventAttributes {
                meta: r.meta,
                accepted_event_id: info.accepted_event_id,
                outcome: r.outcome.clone(),
            });
            info.stage = Stage::Completed as i32;
            info.outcome = r.outcome;
        }
        Some(Body::Rejection(mut r)) if info.stage == Stage::Admitted as i32 => {
            if let Some(f) = r.failure.as_mut() {
                crate::failure::bound_failure(f);
            }
            info.stage = Stage::Completed as i32;
            info.outcome = Some(Outcome { value: r.failure.map(outcome::Value::Failure) });
        }
        _ => return,
    }
    ctx.state.updates.insert(id, info);
}
