//! UpdateWorkflowExecution and PollWorkflowExecutionUpdate: admit an update
//! (deduplicated by update id), then wait for the stage the caller asked
//! for; before its deadline the caller gets the stage reached so far.

use super::{Frontend, map_err, workflows::check_payloads};
use crate::errors;
use chronicle_engine::limits;
use chronicle_engine::{
    Input, MutableState,
    api::{
        common::v1::WorkflowExecution,
        enums::v1::UpdateWorkflowExecutionLifecycleStage as Stage,
        update::v1::{Outcome, UpdateRef, WaitPolicy},
        workflowservice::v1::*,
    },
};
use tokio::time::Instant;
use tonic::Status;

/// Validates an update request; returns its update id.
pub(super) fn check_update_request(request: &chronicle_engine::api::update::v1::Request) -> Result<String, Status> {
    let update_id = request.meta.as_ref().map(|m| m.update_id.clone()).unwrap_or_default();
    if update_id.is_empty() {
        return Err(errors::invalid("Update id is not set on request."));
    }
    if update_id.len() > limits::ID_BYTES_MAX {
        return Err(errors::invalid("UpdateId length exceeds limit."));
    }
    let input = request.input.as_ref().ok_or_else(|| errors::invalid("Update input is not set on request."))?;
    if input.name.is_empty() {
        return Err(errors::invalid("Update name is not set on request."));
    }
    check_payloads("Update arguments", &input.args)?;
    Ok(update_id)
}

pub(super) fn wanted(policy: &Option<WaitPolicy>) -> Stage {
    match policy.as_ref().and_then(|p| Stage::try_from(p.lifecycle_stage).ok()) {
        Some(Stage::Unspecified) | None => Stage::Admitted,
        Some(stage) => stage,
    }
}

pub(super) fn update_ref(s: &MutableState, update_id: &str) -> Option<UpdateRef> {
    Some(UpdateRef {
        workflow_execution: Some(WorkflowExecution { workflow_id: s.workflow_id.clone(), run_id: s.run_id.clone() }),
        update_id: update_id.to_string(),
    })
}

impl Frontend {
    pub(super) async fn update_workflow(
        &self,
        r: UpdateWorkflowExecutionRequest,
        deadline: Instant,
    ) -> Result<UpdateWorkflowExecutionResponse, Status> {
        let request = r.request.ok_or_else(|| errors::invalid("Request is not set on request."))?;
        let update_id = check_update_request(&request)?;
        let follow_current = r.workflow_execution.as_ref().is_some_and(|e| e.run_id.is_empty());
        let mut attempts = 0;
        let s = loop {
            attempts += 1;
            let s = self.resolve(&r.namespace, &r.workflow_execution).await?;
            super::workflows::check_first_run(&s, &r.first_execution_run_id)?;
            if s.updates.contains_key(&update_id) {
                break s;
            }
            if !s.is_running() {
                return Err(errors::not_found("workflow execution already completed"));
            }
            let input = Input::UpdateAdmit(Box::new(request.clone()));
            match self.history.execute(&s.namespace, &s.workflow_id, &s.run_id, input).await {
                Ok(_) => break s,
                // The run closed meanwhile; the current run may be its successor.
                Err(crate::history::HistoryError::Engine(chronicle_engine::EngineError::WorkflowClosed))
                    if follow_current && attempts < 3 => {}
                Err(e) => return Err(map_err(e)),
            }
        };
        let (stage, outcome) = self.wait_update(&s, &update_id, true, wanted(&r.wait_policy), deadline).await?;
        Ok(UpdateWorkflowExecutionResponse {
            update_ref: update_ref(&s, &update_id),
            outcome,
            stage,
            ..Default::default()
        })
    }

    pub(super) async fn poll_update(
        &self,
        r: PollWorkflowExecutionUpdateRequest,
        deadline: Instant,
    ) -> Result<PollWorkflowExecutionUpdateResponse, Status> {
        let reference = r.update_ref.ok_or_else(|| errors::invalid("UpdateRef is not set on request."))?;
        if reference.update_id.is_empty() {
            return Err(errors::invalid("Update id is not set on request."));
        }
        let s = self.resolve(&r.namespace, &reference.workflow_execution).await?;
        let known = s.updates.contains_key(&reference.update_id);
        let (stage, outcome) =
            self.wait_update(&s, &reference.update_id, known, wanted(&r.wait_policy), deadline).await?;
        Ok(PollWorkflowExecutionUpdateResponse { outcome, stage, update_ref: update_ref(&s, &reference.update_id) })
    }

    /// Waits until the update reaches `wanted` (or completes), the run closes
    /// (the update will not progress), or the deadline passes (the stage so
    /// far). `known`: the update was on the run when the wait began.
    ///
    /// A closed run has completed its accepted updates (with Temporal's
    /// AcceptedUpdateCompletedWorkflow failure) and dropped the admitted
    /// ones: their callers are told to retry when a new run continues the
    /// chain, and that the update was aborted otherwise.
    pub(super) async fn wait_update(
        &self,
        s: &MutableState,
        update_id: &str,
        known: bool,
        wanted: Stage,
        deadline: Instant,
    ) -> Result<(i32, Option<Outcome>), Status> {
        let completed = Stage::Completed as i32;
        let settled = |state: &MutableState| match state.updates.get(update_id) {
            Some(u) => u.stage >= wanted as i32 || u.stage == completed || !state.is_running(),
            None => true,
        };
        let (state, _) = self.wait_for_state(s, deadline, settled).await?;
        let Some(update) = state.updates.get(update_id) else {
            if known && !state.is_running() {
                return Err(closed_before_acceptance(&state));
            }
            return Err(errors::not_found(format!("update {update_id} not found")));
        };
        if update.stage >= wanted as i32 || update.stage == completed {
            let outcome = (update.stage == completed).then(|| update.outcome.clone()).flatten();
            return Ok((update.stage, outcome));
        }
        if !state.is_running() {
            return Err(closed_before_acceptance(&state));
        }
        Ok((update.stage, None))
    }
}

/// What the caller of an update is told when the run closed before the
/// workflow accepted it.
fn closed_before_acceptance(state: &MutableState) -> Status {
    if state.new_execution_run_id.is_empty() {
        errors::not_found("workflow execution already completed")
    } else {
        errors::workflow_closing()
    }
}
